//! The one place where errors become HTTP answers: a status and
//! `{"error": {"code": ..., "message": ...}}`. Internal details are logged, never returned.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::error::Error;

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

/// Error body, as in the contract.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Code and message.
    pub error: ErrorDetail,
}

/// Code and message of an error.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// `invalid_request`, `not_found`, `unauthorized`, `payload_too_large`, `overloaded`, `internal`.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

impl ApiError {
    /// A 400 `invalid_request`.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            message: message.into(),
        }
    }
    /// A 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
        }
    }
    /// A 503 `overloaded`.
    pub fn overloaded() -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "overloaded",
            message: "too many requests in progress; retry shortly".into(),
        }
    }
    /// A 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "this route needs Authorization: Bearer <SEMSEARCH_API_KEY>".into(),
        }
    }
    /// A 500 `internal`; the detail goes to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {detail}");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error".into(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidInput(m) => ApiError::invalid(m),
            Error::NotFound(m) => ApiError::not_found(m),
            other @ (Error::Model { .. }
            | Error::Index { .. }
            | Error::Candle(_)
            | Error::Tokenizer(_)
            | Error::Io { .. }
            | Error::Lexical(_)
            | Error::Serde(_)) => ApiError::internal(other),
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
