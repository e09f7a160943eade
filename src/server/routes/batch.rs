//! `POST /documents/batch`: many documents in one body, written as one task (`202`, see
//! `/tasks`), or at once with `?wait=true` (`201`). The body is JSON Lines (one `POST
//! /documents` object per line; `application/x-ndjson` or `application/jsonl`), a JSON array
//! of them (`application/json`), or files (`multipart/form-data`: `file` parts, each a document
//! named by its file's name, and an optional `metadata` part for all), up to the upload limit
//! and [`MAX_BATCH_DOCUMENTS`].

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::api::{plain_serde, Ingested, NewDocument};
use crate::config::{MAX_BATCH_DOCUMENTS, WRITE_DEADLINE_SECS};
use crate::engine::Deadline;
use crate::ingest::RawDocument;
use crate::server::error::ApiError;
use crate::server::openapi::ErrorBodySchema;
use crate::server::routes::documents::wait_param;
use crate::server::routes::{tasks, upload};
use crate::server::state::AppState;

/// Answer of a batch written at once (`?wait=true`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchWritten {
    /// Each document as written, in order.
    pub results: Vec<Ingested>,
}

/// Adds many documents as one task (each replacing one with the same `doc`).
#[utoipa::path(post, path = "/documents/batch",
    request_body(content((String = "application/x-ndjson"), (Vec<NewDocument> = "application/json"), (String = "multipart/form-data"))),
    params(("wait" = Option<bool>, Query, description = "true: answer once all are written (201); default false: once queued (202)")),
    responses((status = 202, body = crate::tasks::Task), (status = 201, body = BatchWritten),
        (status = 400, body = ErrorBodySchema), (status = 413, body = ErrorBodySchema),
        (status = 415, body = ErrorBodySchema), (status = 503, body = ErrorBodySchema)))]
pub async fn add_batch(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let (wait, rest) = wait_param(req.uri().query())?;
    if let Some(q) = rest {
        return Err(ApiError::invalid(format!(
            "a batch takes no query but ?wait= (got {q:?})"
        )));
    }
    let media = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let docs = if media == "multipart/form-data" {
        // A page of another site can send this type without asking, as a single upload.
        upload::same_origin(&state, req.headers())?;
        upload::multipart_batch(&state, req).await?
    } else if [
        "application/x-ndjson",
        "application/jsonl",
        "application/json",
    ]
    .contains(&media.as_str())
    {
        parse(&upload::body(req, state.max_upload_bytes).await?)?
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "a batch is JSON Lines (application/x-ndjson), a JSON array (application/json) or \
             files (multipart/form-data)",
        ));
    };
    too_many(docs.len())?;
    if !wait.unwrap_or(false) {
        return tasks::submit(&state, docs).await;
    }
    let deadline = Deadline::after(WRITE_DEADLINE_SECS);
    let done = state
        .blocking_write(move |e| e.ingest_by(&docs, &|_| {}, deadline))
        .await?;
    let results = done.iter().map(Ingested::from).collect();
    Ok((StatusCode::CREATED, Json(BatchWritten { results })).into_response())
}

/// The documents of a batch body, each checked as `POST /documents` checks one; an error names
/// its line (or array position), 1-based.
fn parse(body: &[u8]) -> Result<Vec<RawDocument>, ApiError> {
    let text =
        std::str::from_utf8(body).map_err(|_| ApiError::invalid("a batch must be UTF-8 JSON"))?;
    let items: Vec<(usize, serde_json::Result<NewDocument>)> = if text.trim_start().starts_with('[')
    {
        let values: Vec<serde_json::Value> = serde_json::from_str(text).map_err(|e| {
            ApiError::invalid(format!(
                "not a JSON array of documents: {}",
                plain_serde(&e.to_string())
            ))
        })?;
        too_many(values.len())?;
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i + 1, serde_json::from_value(v)))
            .collect()
    } else {
        let lines: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i + 1, l))
            .collect();
        too_many(lines.len())?;
        lines
            .into_iter()
            .map(|(n, l)| (n, serde_json::from_str(l)))
            .collect()
    };
    if items.is_empty() {
        return Err(ApiError::invalid("a batch needs at least one document"));
    }
    items
        .into_iter()
        .map(|(n, doc)| {
            let at = |m: String| ApiError::invalid(format!("document {n}: {m}"));
            let doc = doc.map_err(|e| at(plain_serde(&e.to_string())))?;
            if doc.text.trim().is_empty() {
                return Err(at("text must not be empty".into()));
            }
            RawDocument::try_from(doc).map_err(|e| at(e.to_string()))
        })
        .collect()
}

fn too_many(n: usize) -> Result<(), ApiError> {
    if n > MAX_BATCH_DOCUMENTS {
        return Err(ApiError::invalid(format!(
            "a batch holds at most {MAX_BATCH_DOCUMENTS} documents ({n} given)"
        )));
    }
    Ok(())
}
