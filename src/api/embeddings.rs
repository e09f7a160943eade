//! The OpenAI-compatible `/v1/embeddings` shapes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `input` of `/v1/embeddings`: one string or several.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    One(String),
    /// Several texts.
    Many(Vec<String>),
}

/// OpenAI-compatible embeddings request.
#[derive(Deserialize, ToSchema)]
pub struct EmbeddingsRequest {
    /// Text(s) to embed, as passages unless `input_type` says `query`.
    pub input: EmbeddingInput,
    /// Ignored: the server's model answers.
    pub model: Option<String>,
    /// `query` or `passage` (default passage); an extension to the OpenAI shape.
    pub input_type: Option<String>,
}

/// One vector.
#[derive(Serialize, ToSchema)]
pub struct EmbeddingItem {
    /// Always `embedding`.
    pub object: &'static str,
    /// Position in the input.
    pub index: usize,
    /// L2-normalised vector.
    pub embedding: Vec<f32>,
}

/// Token usage.
#[derive(Serialize, ToSchema)]
pub struct Usage {
    /// Tokens read.
    pub prompt_tokens: usize,
    /// Same as prompt_tokens.
    pub total_tokens: usize,
}

/// OpenAI-compatible embeddings answer.
#[derive(Serialize, ToSchema)]
pub struct EmbeddingsResponse {
    /// Always `list`.
    pub object: &'static str,
    /// Vectors in input order.
    pub data: Vec<EmbeddingItem>,
    /// Model name.
    pub model: String,
    /// Token usage.
    pub usage: Usage,
}
