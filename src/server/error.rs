//! The one place where errors become HTTP answers: a status and
//! `{"error": {"code": ..., "message": ...}}`. Every engine error is mapped by one exhaustive
//! `match`, so a new variant cannot reach a client unmapped; a failure of the service (model,
//! store, a broken invariant) is a 500 whose detail goes to the log only, never a 4xx.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::api::{ErrorBody, ErrorDetail};
use crate::error::{chain, Error, IngestError};
use crate::index::StoreError;

/// An HTTP error answer.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    /// A 400 `invalid_request`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }
    /// A 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// A 503 `overloaded`.
    pub fn overloaded() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "too many requests in progress; retry shortly",
        )
    }
    /// A 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this route needs Authorization: Bearer <SEMSEARCH_API_KEY>",
        )
    }
    /// A 500 `internal`; the detail goes to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {detail}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match &e {
            Error::InvalidInput(m) => ApiError::invalid(m.clone()),
            Error::NotFound(m) => ApiError::not_found(m.clone()),
            Error::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m.clone()),
            Error::Ingest(i) => match i {
                IngestError::Format(_)
                | IngestError::DocId(_)
                | IngestError::Title(_)
                | IngestError::Metadata(_)
                | IngestError::DuplicateId(_)
                | IngestError::NoText(_)
                | IngestError::TooDeep { .. }
                | IngestError::Undecodable {
                    source: crate::ingest::decode::DecodeError::UnknownCharset(_),
                    ..
                }
                | IngestError::Json { .. } => ApiError::invalid(e.to_string()),
                IngestError::Undecodable { .. }
                | IngestError::Unsupported(_)
                | IngestError::Unreadable { .. } => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unreadable_document",
                    e.to_string(),
                ),
                IngestError::TooLarge { .. } => ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "document_too_large",
                    e.to_string(),
                ),
                IngestError::Io { .. } => ApiError::internal(chain(&e)),
            },
            Error::Busy(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "queue_full", e.to_string())
            }
            Error::Deadline(_) => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "deadline",
                format!("{e}: send a smaller document, or ingest it with the command line"),
            ),
            Error::Store(StoreError::Unavailable(m)) => {
                tracing::warn!("store unavailable: {m}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the database is unreachable; retry shortly",
                )
            }
            Error::Store(s) if s.is_disk_full() => {
                tracing::error!("write failed, disk full: {}", chain(&e));
                ApiError::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "disk_full",
                    "the disk holding the index is full: nothing was written; free space and retry",
                )
            }
            Error::Embed(_) | Error::Store(_) => ApiError::internal(chain(&e)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.into(),
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}
