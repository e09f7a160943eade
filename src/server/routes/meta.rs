//! Routes about the service itself: health, metrics, the OpenAPI document, the web page.

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::Json;
use utoipa::OpenApi;

use crate::api::Health;
use crate::server::error::ApiError;
use crate::server::openapi::ApiDoc;
use crate::server::state::AppState;

/// Liveness, and whether writes work: `degraded` with the last write's failure while no write
/// has succeeded since (always 200: searches still work).
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> Json<Health> {
    let last = state
        .last_write_error
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Json(Health {
        status: if last.is_some() { "degraded" } else { "ok" },
        last_write_error: last,
    })
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    let counts = state
        .blocking(|e| {
            let snap = e.snapshot()?;
            Ok((snap.len(), snap.documents()?.len()))
        })
        .await;
    // Metrics stay up when the store is not: the last counts are kept.
    if let Ok((passages, documents)) = counts {
        state.metrics.passages.set(passages as i64);
        state.metrics.documents.set(documents as i64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// The OpenAPI document of every route.
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The search page.
pub async fn page() -> Html<&'static str> {
    Html(include_str!("../page.html"))
}

/// The page of one passage (`/p/{id}`, the `url` results carry): the search page, which shows
/// the passage named in its path with the passages around it. Served for any id: the page says
/// when the passage does not exist.
pub async fn passage_page() -> Html<&'static str> {
    Html(include_str!("../page.html"))
}

/// A route served, with another method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// Any route not served.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}
