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
#[serde(deny_unknown_fields)]
pub struct EmbeddingsRequest {
    /// Text(s) to embed, as passages unless `input_type` says `query`.
    pub input: EmbeddingInput,
    /// The server's model (its folder name, e.g. `multilingual-e5-small`, optionally with an
    /// owner prefix such as `intfloat/`); another name is refused. Absent: the server's model.
    pub model: Option<String>,
    /// `query` or `passage` (default passage); an extension to the OpenAI shape. A text that
    /// starts with the model's own prefix (`query: `, `passage: `) is embedded as that kind,
    /// the prefix not added twice.
    pub input_type: Option<String>,
    /// `float` (default) or `base64` (little-endian f32 bytes, what OpenAI's SDKs ask for).
    pub encoding_format: Option<String>,
    /// Only the model's own dimension is accepted: the vectors cannot be shortened.
    pub dimensions: Option<usize>,
    /// Accepted and ignored (OpenAI's end-user id).
    pub user: Option<String>,
}

/// A vector as `encoding_format` asks.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum EncodedVector {
    /// A list of numbers.
    Float(Vec<f32>),
    /// Base64 of the little-endian f32 bytes.
    Base64(String),
}

/// One vector.
#[derive(Serialize, ToSchema)]
pub struct EmbeddingItem {
    /// Always `embedding`.
    pub object: &'static str,
    /// Position in the input.
    pub index: usize,
    /// L2-normalised vector.
    pub embedding: EncodedVector,
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
