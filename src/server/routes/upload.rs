//! `POST /documents` with a file instead of JSON: `multipart/form-data` (a `file` part, optional
//! `doc`, `title` and `metadata` parts) or a raw body by its content type (`text/plain;
//! charset=gbk`, `text/html`, `text/markdown`, the Word and OpenDocument types), `?doc=` and
//! `?title=` naming it. Bodies up to the upload limit (`SEMSEARCH_MAX_UPLOAD_MB`), JSON keeping
//! its own.
//!
//! A web page can send these content types to any server without asking (they are "simple"
//! requests to a browser, unlike JSON), so an upload whose `Origin` names a host this server
//! does not answer to is refused: no page elsewhere can write through a visitor's browser.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, HeaderMap, StatusCode};
use serde::Deserialize;

use crate::ingest::{IngestError, RawDocument};
use crate::server::error::ApiError;
use crate::server::state::AppState;

/// Parts a multipart upload may have.
const MAX_PARTS: usize = 8;

/// Parts a multipart batch may have (its files, within the upload size limit).
const MAX_BATCH_PARTS: usize = 1000;

/// Bytes a multipart part other than `file` may have (an id, a title, a metadata object).
const MAX_FIELD_BYTES: usize = 64 * 1024;

/// Kinds of document an upload may be, by media type.
const MEDIA_TYPES: &[(&str, &str)] = &[
    ("text/plain", "txt"),
    ("text/markdown", "md"),
    ("text/x-markdown", "md"),
    ("text/html", "html"),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
    ),
    ("application/vnd.oasis.opendocument.text", "odt"),
    ("application/msword", "doc"),
    ("application/pdf", "pdf"),
];

/// Extensions a file part's name may have.
const EXTENSIONS: &[&str] = &[
    "txt", "text", "md", "markdown", "html", "htm", "docx", "odt", "doc", "pdf",
];

/// `?doc=` and `?title=` of a raw upload (`?wait=` is taken out before).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UploadParams {
    doc: Option<String>,
    title: Option<String>,
}

/// True when `content_type` is one an upload is read from (not JSON).
pub fn is_upload(content_type: &str) -> bool {
    let media = media_type(content_type);
    media == "multipart/form-data" || MEDIA_TYPES.iter().any(|(m, _)| *m == media)
}

fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Refuses an upload a page of another site sent through a browser.
pub fn same_origin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = origin.to_str().ok().and_then(crate::server::edge::host_of);
    match host {
        Some(h) if state.answers_host(&h) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden_origin",
            "uploads from a page of another site are refused",
        )),
    }
}

/// Reads an upload into the document it holds.
pub async fn read(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
    req: Request,
) -> Result<RawDocument, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if media_type(&content_type) == "multipart/form-data" {
        if query.is_some_and(|q| !q.is_empty()) {
            return Err(ApiError::invalid(
                "a multipart upload names its document in its parts (doc, title), not the query",
            ));
        }
        return multipart(state, req).await;
    }
    let params: UploadParams = query_params(query)?;
    let ext = MEDIA_TYPES
        .iter()
        .find(|(m, _)| *m == media_type(&content_type))
        .map(|(_, e)| *e)
        .unwrap_or("txt");
    let bytes = body(req, state.max_upload_bytes).await?;
    let charset = crate::ingest::decode::charset_of(&content_type).map(str::to_string);
    off_thread(move || {
        one(
            &bytes,
            ext,
            charset.as_deref(),
            params.doc,
            params.title,
            None,
        )
    })
    .await
}

/// Runs `read` (parsing a document, which for a large PDF takes a while) on the blocking pool,
/// not on a thread that serves requests.
async fn off_thread<T: Send + 'static>(
    read: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|e| ApiError::internal(format!("reading the upload failed: {e}")))?
}

/// The query of a raw upload, refused when it holds anything but `doc` and `title`.
fn query_params(query: Option<&str>) -> Result<UploadParams, ApiError> {
    let Some(q) = query.filter(|q| !q.is_empty()) else {
        return Ok(UploadParams::default());
    };
    let uri: axum::http::Uri = format!("/?{q}")
        .parse()
        .map_err(|_| ApiError::invalid("the query is not a valid URI query"))?;
    axum::extract::Query::<UploadParams>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::invalid(crate::api::plain_serde(&e.body_text())))
}

pub(crate) async fn body(req: Request, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| too_large(limit))
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("upload larger than {limit} bytes (SEMSEARCH_MAX_UPLOAD_MB)"),
    )
}

/// A `file` part of a multipart body.
struct FilePart {
    bytes: axum::body::Bytes,
    ext: &'static str,
    charset: Option<String>,
    stem: Option<String>,
}

/// The parts of a multipart body: its files, and the `doc`, `title` and `metadata` parts.
struct Form {
    files: Vec<FilePart>,
    doc: Option<String>,
    title: Option<String>,
    metadata: Option<serde_json::Value>,
}

async fn read_form(state: &AppState, req: Request, max_parts: usize) -> Result<Form, ApiError> {
    let mut multipart = Multipart::from_request(req, state)
        .await
        .map_err(|e| ApiError::invalid(e.body_text()))?;
    let mut form = Form {
        files: Vec::new(),
        doc: None,
        title: None,
        metadata: None,
    };
    let mut parts = 0;
    while let Some(field) = multipart.next_field().await.map_err(field_error)? {
        parts += 1;
        if parts > max_parts {
            return Err(ApiError::invalid(format!("at most {max_parts} parts")));
        }
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            let ext = kind_of(field.file_name(), field.content_type())?;
            let stem = field
                .file_name()
                .and_then(|n| std::path::Path::new(n).file_stem())
                .map(|s| s.to_string_lossy().into_owned());
            let charset = field
                .content_type()
                .and_then(crate::ingest::decode::charset_of)
                .map(str::to_string);
            let bytes = field.bytes().await.map_err(field_error)?;
            form.files.push(FilePart {
                bytes,
                ext,
                charset,
                stem,
            });
            continue;
        }
        let value = field.bytes().await.map_err(field_error)?;
        if value.len() > MAX_FIELD_BYTES {
            return Err(ApiError::invalid(format!(
                "part {name:?} is longer than {MAX_FIELD_BYTES} bytes"
            )));
        }
        let value = String::from_utf8(value.to_vec())
            .map_err(|_| ApiError::invalid(format!("part {name:?} is not UTF-8")))?;
        match name.as_str() {
            "doc" => form.doc = Some(value),
            "title" => form.title = Some(value),
            "metadata" => {
                form.metadata = Some(serde_json::from_str(&value).map_err(|e| {
                    ApiError::invalid(format!(
                        "part \"metadata\" is not JSON: {}",
                        crate::api::plain_serde(&e.to_string())
                    ))
                })?)
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "unknown part {other:?} (expected file, doc, title, metadata)"
                )))
            }
        }
    }
    Ok(form)
}

async fn multipart(state: &AppState, req: Request) -> Result<RawDocument, ApiError> {
    let mut form = read_form(state, req, MAX_PARTS).await?;
    if form.files.len() > 1 {
        return Err(ApiError::invalid(
            "one file per POST /documents: send several to POST /documents/batch",
        ));
    }
    let f = form
        .files
        .pop()
        .ok_or_else(|| ApiError::invalid("a multipart upload needs a part named \"file\""))?;
    off_thread(move || {
        one(
            &f.bytes,
            f.ext,
            f.charset.as_deref(),
            form.doc.or(f.stem),
            form.title,
            form.metadata,
        )
    })
    .await
}

/// The documents of a multipart batch (`POST /documents/batch`): each `file` part one document
/// named by its file's name (without extension), a `metadata` part given to all of them.
pub async fn multipart_batch(state: &AppState, req: Request) -> Result<Vec<RawDocument>, ApiError> {
    let form = read_form(state, req, MAX_BATCH_PARTS).await?;
    if form.doc.is_some() || form.title.is_some() {
        return Err(ApiError::invalid(
            "a batch names each document by its file's name: no doc or title part",
        ));
    }
    if form.files.is_empty() {
        return Err(ApiError::invalid(
            "a multipart batch needs parts named \"file\"",
        ));
    }
    off_thread(move || {
        form.files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                one(
                    &f.bytes,
                    f.ext,
                    f.charset.as_deref(),
                    f.stem.clone(),
                    None,
                    form.metadata.clone(),
                )
                .map_err(|mut e| {
                    let name = f.stem.as_deref().unwrap_or("(no name)");
                    e.message = format!("file {} ({name}): {}", i + 1, e.message);
                    e
                })
            })
            .collect()
    })
    .await
}

fn field_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            e.body_text(),
        )
    } else {
        ApiError::invalid(e.body_text())
    }
}

/// The kind of a file part: its name's extension, else its content type.
fn kind_of(file_name: Option<&str>, content_type: Option<&str>) -> Result<&'static str, ApiError> {
    let ext = file_name
        .and_then(|n| std::path::Path::new(n).extension())
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    if let Some(e) = ext
        .as_deref()
        .and_then(|e| EXTENSIONS.iter().find(|k| **k == e))
    {
        return Ok(e);
    }
    let media = content_type.map(media_type).unwrap_or_default();
    if let Some((_, e)) = MEDIA_TYPES.iter().find(|(m, _)| *m == media) {
        return Ok(e);
    }
    if ext.is_none() && (media.is_empty() || media == "application/octet-stream") {
        return Ok("txt");
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!(
            "a file of kind {:?} is not read (expected .txt, .md, .html, .docx, .odt or .pdf)",
            ext.unwrap_or(media)
        ),
    ))
}

/// The one document of an upload.
fn one(
    bytes: &[u8],
    ext: &str,
    charset: Option<&str>,
    doc: Option<String>,
    title: Option<String>,
    metadata: Option<serde_json::Value>,
) -> Result<RawDocument, ApiError> {
    let fail = |e: IngestError| ApiError::from(crate::Error::from(e));
    let mut docs = crate::ingest::read_bytes("upload", bytes, ext, charset, "").map_err(fail)?;
    let mut raw = docs
        .pop()
        .ok_or_else(|| ApiError::internal("an upload read into no document"))?;
    raw.doc = doc.filter(|d| !d.is_empty());
    if title.as_deref().is_some_and(|t| !t.trim().is_empty()) {
        raw.title = title;
    }
    if let Some(m) = metadata {
        raw.metadata =
            crate::index::Metadata::from_json(m).map_err(|e| fail(IngestError::Metadata(e)))?;
    }
    Ok(raw)
}
