//! `/v1/embeddings`, OpenAI-compatible.

use axum::extract::State;
use axum::Json;

use base64::Engine as _;

use crate::api::{
    EmbeddingInput, EmbeddingItem, EmbeddingsRequest, EmbeddingsResponse, EncodedVector, Usage,
};
use crate::config::{MAX_EMBED_CHARS, MAX_EMBED_INPUTS};
use crate::embed::TextKind;
use crate::server::error::ApiError;
use crate::server::extract::ApiJson;
use crate::server::openapi::ErrorBodySchema;
use crate::server::state::AppState;

/// Vectors of texts, as the OpenAI embeddings API returns them.
#[utoipa::path(post, path = "/v1/embeddings", request_body = EmbeddingsRequest,
    responses((status = 200, body = EmbeddingsResponse), (status = 400, body = ErrorBodySchema)))]
pub async fn embeddings(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<EmbeddingsRequest>,
) -> Result<Json<EmbeddingsResponse>, ApiError> {
    let texts = match req.input {
        EmbeddingInput::One(s) => vec![s],
        EmbeddingInput::Many(v) => v,
    };
    if texts.is_empty() || texts.len() > MAX_EMBED_INPUTS {
        return Err(ApiError::invalid(format!(
            "input must hold 1 to {MAX_EMBED_INPUTS} texts"
        )));
    }
    if texts.iter().any(|t| t.chars().count() > MAX_EMBED_CHARS) {
        return Err(ApiError::invalid(format!(
            "an input is longer than {MAX_EMBED_CHARS} characters"
        )));
    }
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "unknown encoding_format {other:?} (float or base64)"
            )))
        }
    };
    let id = state.engine.embedder().id().clone();
    if let Some(m) = req.model.as_deref().filter(|m| !names_model(m, &id.name)) {
        return Err(ApiError::invalid(format!(
            "unknown model {m:?}: this server embeds with {:?}",
            id.name
        )));
    }
    if let Some(d) = req.dimensions.filter(|d| *d != id.dim) {
        return Err(ApiError::invalid(format!(
            "dimensions {d} is not supported: {} vectors have {} dimensions and cannot be \
             shortened",
            id.name, id.dim
        )));
    }
    let kind = match req.input_type.as_deref() {
        None | Some("passage") | Some("document") => TextKind::Passage,
        Some("query") => TextKind::Query,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "unknown input_type {other:?} (query or passage)"
            )))
        }
    };
    let (vectors, tokens, model) = state
        .blocking(move |e| {
            let embedder = e.embedder();
            // A text that already starts with the model's query or passage prefix (as e5's
            // model card tells its users, and as another semsearch's remote embedder sends
            // them) is embedded as that kind, not prefixed twice.
            let (q, p) = (
                embedder.prefix(TextKind::Query),
                embedder.prefix(TextKind::Passage),
            );
            let own: Vec<(TextKind, &str)> = texts
                .iter()
                .map(|t| match (t.strip_prefix(q), t.strip_prefix(p)) {
                    (Some(rest), _) if !q.is_empty() => (TextKind::Query, rest),
                    (_, Some(rest)) if !p.is_empty() => (TextKind::Passage, rest),
                    _ => (kind, t.as_str()),
                })
                .collect();
            let tokens = own
                .iter()
                .map(|(k, t)| embedder.count_tokens(t, *k))
                .sum::<Result<usize, _>>()?;
            let mut vectors = vec![Vec::new(); own.len()];
            for k in [TextKind::Query, TextKind::Passage] {
                let at: Vec<usize> = (0..own.len()).filter(|&i| own[i].0 == k).collect();
                if at.is_empty() {
                    continue;
                }
                let refs: Vec<&str> = at.iter().map(|&i| own[i].1).collect();
                for (i, v) in at.into_iter().zip(embedder.embed(&refs, k)?) {
                    vectors[i] = v;
                }
            }
            Ok((vectors, tokens, embedder.id().name.clone()))
        })
        .await?;
    Ok(Json(EmbeddingsResponse {
        object: "list",
        data: vectors
            .into_iter()
            .enumerate()
            .map(|(index, embedding)| EmbeddingItem {
                object: "embedding",
                index,
                embedding: if base64 {
                    let bytes: Vec<u8> = embedding.iter().flat_map(|x| x.to_le_bytes()).collect();
                    EncodedVector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
                } else {
                    EncodedVector::Float(embedding)
                },
            })
            .collect(),
        model,
        usage: Usage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    }))
}

/// True when `asked` names the model `name`: itself, or with an owner prefix
/// (`intfloat/multilingual-e5-small`).
fn names_model(asked: &str, name: &str) -> bool {
    asked == name || asked.rsplit_once('/').is_some_and(|(_, n)| n == name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn model_names() {
        let n = "multilingual-e5-small";
        assert!(super::names_model(n, n));
        assert!(super::names_model("intfloat/multilingual-e5-small", n));
        assert!(!super::names_model("text-embedding-3-small", n));
        assert!(!super::names_model("multilingual-e5-small-v2", n));
    }
}
