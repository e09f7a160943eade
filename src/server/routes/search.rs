//! `/search` (POST and GET) and `/ask`.

use std::time::Instant;

use axum::extract::{Extension, State};
use axum::Json;

use crate::api::{
    self, AskRequest, AskResponse, BatchResult, BatchSearchRequest, BatchSearchResponse,
    SearchParams, SearchRequest, SearchResponse,
};
use crate::engine;
use crate::server::auth::Access;
use crate::server::error::ApiError;
use crate::server::extract::{ApiJson, ApiQuery};
use crate::server::openapi::ErrorBodySchema;
use crate::server::state::AppState;

async fn run_search(
    state: AppState,
    access: Access,
    req: Result<engine::SearchRequest, crate::Error>,
) -> Result<Json<SearchResponse>, ApiError> {
    let req = req?.within(access.scope());
    // Checked here too, so that a bad request costs no permit and no thread hand-off.
    req.validate()?;
    let t = Instant::now();
    let page = state.blocking(move |e| e.search_page(&req)).await?;
    Ok(Json(SearchResponse {
        results: api::hits(&page.hits),
        has_more: page.next.is_some(),
        took_ms: t.elapsed().as_secs_f64() * 1000.0,
    }))
}

/// Top passages for a question.
#[utoipa::path(post, path = "/search", request_body = SearchRequest,
    responses((status = 200, body = SearchResponse), (status = 400, body = ErrorBodySchema), (status = 503, body = ErrorBodySchema)))]
pub async fn search_post(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    ApiJson(req): ApiJson<SearchRequest>,
) -> Result<Json<SearchResponse>, ApiError> {
    run_search(state, access, req.try_into()).await
}

/// Top passages for a question, from the query string.
#[utoipa::path(get, path = "/search", params(SearchParams),
    responses((status = 200, body = SearchResponse), (status = 400, body = ErrorBodySchema)))]
pub async fn search_get(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Result<Json<SearchResponse>, ApiError> {
    run_search(state, access, p.try_into()).await
}

/// Several searches in one call: their questions embedded in shared forward passes, all
/// answered from one state of the index.
#[utoipa::path(post, path = "/search/batch", request_body = BatchSearchRequest,
    responses((status = 200, body = BatchSearchResponse), (status = 400, body = ErrorBodySchema), (status = 503, body = ErrorBodySchema)))]
pub async fn search_batch(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    ApiJson(req): ApiJson<BatchSearchRequest>,
) -> Result<Json<BatchSearchResponse>, ApiError> {
    let max = crate::config::MAX_BATCH_QUERIES;
    if req.queries.is_empty() || req.queries.len() > max {
        return Err(ApiError::invalid(format!(
            "a batch holds 1 to {max} queries ({} given)",
            req.queries.len()
        )));
    }
    let reqs = req
        .queries
        .into_iter()
        .enumerate()
        .map(|(i, q)| {
            engine::SearchRequest::try_from(q)
                .map(|r| r.within(access.scope()))
                .and_then(|r| r.validate().map(|()| r))
                .map_err(|e| crate::Error::invalid(format!("queries[{i}]: {e}")))
        })
        .collect::<Result<Vec<_>, crate::Error>>()?;
    let t = Instant::now();
    let pages = state.blocking(move |e| e.search_batch(&reqs)).await?;
    Ok(Json(BatchSearchResponse {
        results: pages
            .iter()
            .map(|p| BatchResult {
                results: api::hits(&p.hits),
                has_more: p.next.is_some(),
            })
            .collect(),
        took_ms: t.elapsed().as_secs_f64() * 1000.0,
    }))
}

/// Top passages and the sentence that best answers the question.
#[utoipa::path(post, path = "/ask", request_body = AskRequest,
    responses((status = 200, body = AskResponse), (status = 400, body = ErrorBodySchema)))]
pub async fn ask(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    ApiJson(req): ApiJson<AskRequest>,
) -> Result<Json<AskResponse>, ApiError> {
    let req = engine::SearchRequest::try_from(req)?.within(access.scope());
    req.validate()?;
    let t = Instant::now();
    let asked = state.blocking(move |e| e.ask(&req)).await?;
    Ok(Json(AskResponse {
        found: asked.found,
        answer: asked.answer.as_ref().map(api::Answer::from),
        passages: api::hits(&asked.hits),
        took_ms: t.elapsed().as_secs_f64() * 1000.0,
    }))
}
