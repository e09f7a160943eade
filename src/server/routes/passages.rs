//! `/passages/{id}`, `/passages/{id}/around` and `/passages/{id}/related`.

use axum::extract::{Extension, Path, State};
use axum::Json;

use crate::api::{self, AroundParams, Passage, PassageList, RelatedParams, Results};
use crate::config::{DEFAULT_K, DEFAULT_NEIGHBOURS};
use crate::server::auth::Access;
use crate::server::error::ApiError;
use crate::server::extract::ApiQuery;
use crate::server::openapi::ErrorBodySchema;
use crate::server::state::AppState;

/// One passage.
#[utoipa::path(get, path = "/passages/{id}", params(("id" = String, Path, description = "Passage id")),
    responses((status = 200, body = Passage), (status = 404, body = ErrorBodySchema)))]
pub async fn get_passage(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
) -> Result<Json<Passage>, ApiError> {
    let p = state
        .blocking(move |e| e.passage(&id, &access.scope()))
        .await?;
    Ok(Json(Passage::from(&p)))
}

/// A passage with its neighbours in its document, in document order: neighbours are named by
/// the server, so a client never builds a passage id.
#[utoipa::path(get, path = "/passages/{id}/around", params(("id" = String, Path, description = "Passage id"), AroundParams),
    responses((status = 200, body = PassageList), (status = 400, body = ErrorBodySchema), (status = 404, body = ErrorBodySchema)))]
pub async fn around(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<AroundParams>,
) -> Result<Json<PassageList>, ApiError> {
    let n = p.n.unwrap_or(DEFAULT_NEIGHBOURS);
    let found = state
        .blocking(move |e| e.around(&id, n, &access.scope()))
        .await?;
    Ok(Json(PassageList {
        passages: found.iter().map(Passage::from).collect(),
    }))
}

/// Passages related to one passage (nearest by its stored vector).
#[utoipa::path(get, path = "/passages/{id}/related", params(("id" = String, Path, description = "Passage id"), RelatedParams),
    responses((status = 200, body = Results), (status = 404, body = ErrorBodySchema)))]
pub async fn related(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<RelatedParams>,
) -> Result<Json<Results>, ApiError> {
    let k = p.k.unwrap_or(DEFAULT_K);
    let neighbours = p.neighbours.unwrap_or(false);
    let results = state
        .blocking(move |e| e.related(&id, k, neighbours, &access.scope()))
        .await?;
    Ok(Json(Results {
        results: api::hits(&results),
    }))
}
