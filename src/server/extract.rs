//! Request extractors whose failures answer in the API's error format, and the write guard.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::state::AppState;
use crate::config::MAX_BODY_BYTES;

/// JSON body extractor whose failures use the API's error format.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("body larger than {MAX_BODY_BYTES} bytes"),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            r.body_text(),
        ),
        _ => ApiError::invalid(crate::api::plain_serde(&r.body_text())),
    }
}

/// Query-string extractor whose failures use the API's error format.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(r) => Err(ApiError::invalid(crate::api::plain_serde(
                &QueryRejection::body_text(&r),
            ))),
        }
    }
}

/// What a request's `Authorization` header says against the server's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCheck {
    /// No key is set, or the request holds it.
    Passed,
    /// No `Authorization: Bearer ...` header.
    Missing,
    /// A bearer token that is not the key.
    Wrong,
}

/// Checks `Authorization: Bearer <key>` against the server's key, if it has one.
pub fn check_key(state: &AppState, headers: &HeaderMap) -> KeyCheck {
    use subtle::ConstantTimeEq;
    let Some(key) = &state.api_key else {
        return KeyCheck::Passed;
    };
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
    else {
        return KeyCheck::Missing;
    };
    // Constant time in the key's content; lengths differ only for wrong keys.
    if given.len() == key.len() && bool::from(given.as_bytes().ct_eq(key.as_bytes())) {
        KeyCheck::Passed
    } else {
        KeyCheck::Wrong
    }
}

/// The token of an `Authorization` value: the scheme is case-insensitive (RFC 9110), spaces
/// around the token are not part of it.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Checks `Authorization: Bearer <key>` when the server has a key.
pub fn authorized(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    match check_key(state, headers) {
        KeyCheck::Passed => Ok(()),
        KeyCheck::Missing | KeyCheck::Wrong => Err(ApiError::unauthorized()),
    }
}
