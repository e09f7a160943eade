//! The error body every route answers with.

use serde::Serialize;
use utoipa::ToSchema;

/// `{"error": {"code": ..., "message": ...}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// Code and message.
    pub error: ErrorDetail,
}

/// Code and message of an error.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `invalid_request`, `not_found`, `unauthorized`, `payload_too_large`, `unsupported_media_type`,
    /// `timeout`, `overloaded`, `internal`.
    pub code: String,
    /// What went wrong.
    pub message: String,
}
