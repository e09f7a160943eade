//! `/documents`: list, add, change metadata, delete; `/stats`: what they add up to.

use axum::body::Body;
use axum::extract::{Extension, FromRequest, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::api::{
    plain_serde, Deleted, Document, DocumentList, DocumentParams, DocumentPatch, Facet, Filter,
    Ingested, NewDocument, Stats,
};
use crate::config::{MAX_BODY_BYTES, WRITE_DEADLINE_SECS};
use crate::engine::facets::FacetFields;
use crate::engine::Deadline;
use crate::ingest::RawDocument;
use crate::server::auth::Access;
use crate::server::error::ApiError;
use crate::server::extract::{ApiJson, ApiQuery};
use crate::server::openapi::ErrorBodySchema;
use crate::server::routes::{tasks, upload};
use crate::server::state::AppState;

/// Documents in the index, optionally only those a filter passes, with the counts of chosen
/// metadata fields' values (facets) over them.
#[utoipa::path(get, path = "/documents", params(DocumentParams),
    responses((status = 200, body = DocumentList), (status = 400, body = ErrorBodySchema)))]
pub async fn list_documents(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    ApiQuery(p): ApiQuery<DocumentParams>,
) -> Result<Json<DocumentList>, ApiError> {
    let filter = match p.filter.as_deref() {
        None => None,
        Some(text) => Some(Filter(serde_json::from_str(text).map_err(|e| {
            ApiError::invalid(format!(
                "filter is not JSON: {}",
                plain_serde(&e.to_string())
            ))
        })?)),
    };
    let filter = access.within(Filter::condition(filter)?);
    let fields = p
        .facets
        .as_deref()
        .map(FacetFields::parse)
        .transpose()
        .map_err(ApiError::invalid)?;
    let asked = fields.is_some();
    let (docs, facets) = state
        .blocking(move |e| e.documents_where(&filter, fields.as_ref()))
        .await?;
    Ok(Json(DocumentList {
        documents: docs.iter().map(Document::from).collect(),
        facets: asked.then(|| facets.into_iter().map(Facet::from).collect()),
    }))
}

/// What the index holds: documents, passages, and the languages of an even sample of passages.
#[utoipa::path(get, path = "/stats", responses((status = 200, body = Stats)))]
pub async fn stats(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
) -> Result<Json<Stats>, ApiError> {
    let scope = access.scope();
    Ok(Json(state.blocking(move |e| e.stats(&scope)).await?.into()))
}

/// Adds a document (replacing one with the same `doc`). A JSON document is acknowledged once
/// saved (`201`), or queued as a task with `?wait=false` (`202`, see `/tasks`); a file is a
/// task unless `?wait=true`. JSON, or a file
/// ([`upload`]): `multipart/form-data` with a `file` part (.txt, .md, .html, .docx, .odt, .pdf; text
/// in any common encoding) and optional `doc`, `title`, `metadata` (JSON) parts, or a raw text
/// (`charset` honoured, else detected), HTML, Markdown, Word, OpenDocument or PDF body named by
/// `?doc=` and `?title=`.
#[utoipa::path(post, path = "/documents",
    request_body(content(
        (NewDocument = "application/json"),
        (String = "multipart/form-data"),
        (String = "text/plain"),
        (String = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (String = "application/pdf"),
    )),
    params(("wait" = Option<bool>, Query, description = "true: answer once written (201); false: answer once queued (202, a task). Default: true for JSON, false for files")),
    responses((status = 201, body = Ingested), (status = 202, body = crate::tasks::Task), (status = 400, body = ErrorBodySchema), (status = 401, body = ErrorBodySchema),
        (status = 413, body = ErrorBodySchema), (status = 415, body = ErrorBodySchema), (status = 422, body = ErrorBodySchema)))]
pub async fn add_document(
    State(state): State<AppState>,
    headers: HeaderMap,
    req: Request,
) -> Result<Response, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let is_upload = upload::is_upload(content_type);
    let (wait, rest) = wait_param(req.uri().query())?;
    let raw = if is_upload {
        upload::same_origin(&state, &headers)?;
        upload::read(&state, &headers, rest.as_deref(), req).await?
    } else {
        if let Some(q) = rest {
            return Err(ApiError::invalid(format!(
                "a JSON document takes no query but ?wait= (got {q:?})"
            )));
        }
        // The route takes uploads up to their own limit; JSON keeps the smaller one.
        let req = req.map(|b| Body::new(http_body_util::Limited::new(b, MAX_BODY_BYTES)));
        let ApiJson(doc) = ApiJson::<NewDocument>::from_request(req, &state).await?;
        if doc.text.trim().is_empty() {
            return Err(ApiError::invalid("text must not be empty"));
        }
        RawDocument::try_from(doc).map_err(crate::Error::from)?
    };
    // Files become tasks unless the client waits; JSON documents stay synchronous unless the
    // client asks for a task.
    if !wait.unwrap_or(!is_upload) {
        return tasks::submit(&state, vec![raw]).await;
    }
    // Counted from arrival: waiting for a permit or the write pool uses the deadline too.
    let deadline = Deadline::after(WRITE_DEADLINE_SECS);
    let done = state
        .blocking_write(move |e| e.ingest_by(std::slice::from_ref(&raw), &|_| {}, deadline))
        .await?;
    let first = done
        .first()
        .ok_or_else(|| ApiError::internal("an ingest of one document wrote none"))?;
    Ok((StatusCode::CREATED, Json(Ingested::from(first))).into_response())
}

/// `?wait=true|false` taken out of a write's query, and what is left of the query.
pub fn wait_param(query: Option<&str>) -> Result<(Option<bool>, Option<String>), ApiError> {
    let Some(q) = query.filter(|q| !q.is_empty()) else {
        return Ok((None, None));
    };
    let mut wait = None;
    let mut rest = Vec::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=').unwrap_or((pair, "")) {
            ("wait", v) => {
                wait = Some(match v {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    other => {
                        return Err(ApiError::invalid(format!(
                            "wait: expected true or false (got {other:?})"
                        )))
                    }
                })
            }
            _ => rest.push(pair),
        }
    }
    Ok((wait, (!rest.is_empty()).then(|| rest.join("&"))))
}

/// Deletes a document.
#[utoipa::path(delete, path = "/documents/{doc}", params(("doc" = String, Path, description = "Document id")),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBodySchema), (status = 401, body = ErrorBodySchema)))]
pub async fn delete_document(
    State(state): State<AppState>,
    Path(doc): Path<String>,
) -> Result<Json<Deleted>, ApiError> {
    let d = doc.clone();
    let deleted = state.blocking_write(move |e| e.delete(&d)).await?;
    Ok(Json(Deleted { doc, deleted }))
}

/// Changes a document's metadata without re-embedding it; answers the document as stored.
#[utoipa::path(patch, path = "/documents/{doc}", params(("doc" = String, Path, description = "Document id")),
    request_body = DocumentPatch,
    responses((status = 200, body = Document), (status = 400, body = ErrorBodySchema), (status = 404, body = ErrorBodySchema), (status = 401, body = ErrorBodySchema)))]
pub async fn patch_document(
    State(state): State<AppState>,
    Path(doc): Path<String>,
    ApiJson(req): ApiJson<DocumentPatch>,
) -> Result<Json<Document>, ApiError> {
    let info = state
        .blocking_write(move |e| e.patch_metadata(&doc, req.metadata))
        .await?;
    Ok(Json(Document::from(&info)))
}
