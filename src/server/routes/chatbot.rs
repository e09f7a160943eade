//! The chatbot stacks' own retrieval APIs: Dify's External Knowledge API (`POST /retrieval`) and
//! OpenAI's vector-store search (`POST /v1/vector_stores/{id}/search`). Both answer with
//! relevance as their score, so the thresholds those tools set mean what `min_relevance` means.

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::api::{
    ContextCall, ContextRequest, ContextResponse, DifyError, DifyMetadataCondition, DifyRecord,
    DifyRequest, DifyResponse, PassageMetadata, QueryText, TextContent, VectorSearchPage,
    VectorSearchRequest, VectorSearchResult,
};
use crate::config::{DEFAULT_VECTOR_RESULTS, MAX_K, MAX_VECTOR_RESULTS};
use crate::engine::{self, SearchRequest};
use crate::index::Condition;
use crate::server::auth::{Access, DEFAULT_COLLECTION};
use crate::server::error::ApiError;
use crate::server::extract::ApiJson;
use crate::server::openapi::ErrorBodySchema;
use crate::server::state::AppState;

/// Names that select the whole collection addressed as a knowledge base or vector store.
const WHOLE_INDEX: [&str; 4] = ["", "*", "all", "default"];
/// Names that, at the root, select every collection the key may read.
const EVERY_COLLECTION: [&str; 2] = ["*", "all"];

fn metadata(state: &AppState, h: &engine::Hit) -> PassageMetadata {
    let p = &h.passage;
    PassageMetadata {
        passage_id: p.id.clone(),
        doc: p.doc.clone(),
        title: p.title.clone(),
        section: p.section.clone(),
        clause: p.clause.clone(),
        page: p.page,
        start: p.start,
        end: p.end,
        url: state.passage_url(&p.id),
        relevance: h.relevance,
        collection: state.collection.to_string(),
        fields: PassageMetadata::fields_of(&p.metadata),
    }
}

/// `Some(None)` for the whole index, `Some(Some(doc))` for a document, None when unknown (or
/// outside what `access` may read: the same answer).
async fn scope(
    state: &AppState,
    access: &Access,
    id: &str,
) -> Result<Option<Option<String>>, ApiError> {
    let doc = id.to_string();
    let readable = access.scope();
    // A store may be a database: asked off the async threads, its failure an error.
    let exists = state
        .blocking(move |e| e.has_document(&doc, &readable))
        .await?;
    Ok(if exists {
        Some(Some(id.to_string()))
    } else if WHOLE_INDEX.contains(&id) {
        Some(None)
    } else {
        None
    })
}

/// What a knowledge base or vector store id names.
struct Target {
    /// The collections searched: one, or (`all` at the root) every one the key may read.
    states: Vec<AppState>,
    /// One document of the one collection; None: all of them.
    doc: Option<String>,
}

/// Where a knowledge base or vector store id points: a document of this collection, the whole
/// of it, or at the root `all` (every collection the key may read) or the collection it names
/// (if the key may address it); None otherwise (a collection the key may not address answers
/// as a missing id).
async fn target(state: AppState, access: &Access, id: &str) -> Result<Option<Target>, ApiError> {
    let at_root = &*state.collection == DEFAULT_COLLECTION;
    if let Some(doc) = scope(&state, access, id).await? {
        let mut states = vec![state.clone()];
        if doc.is_none() && at_root && EVERY_COLLECTION.contains(&id) {
            states.extend(
                state
                    .collections
                    .list()
                    .into_iter()
                    .filter(|(name, _)| access.covers(name))
                    .map(|(name, e)| state.for_collection(&name, e)),
            );
        }
        return Ok(Some(Target { states, doc }));
    }
    if !at_root || !access.covers(id) {
        return Ok(None);
    }
    Ok(state.collections.get(id).map(|c| Target {
        states: vec![state.for_collection(id, c.engine.clone())],
        doc: None,
    }))
}

/// Hits of `query` in the documents `filter` names (all of them for None), within `target`
/// (a knowledge base or vector store that is one document can only be narrowed to itself) and
/// what `access` may read, cut at `threshold`: one search per collection, however many
/// documents the filter names.
async fn search(
    target: &Target,
    access: &Access,
    query: String,
    k: usize,
    filter: Condition,
    threshold: f32,
) -> Result<Vec<(AppState, engine::Hit)>, ApiError> {
    let req = SearchRequest::new(query).k(k);
    Ok(search_page(target, access, req, filter, threshold).await?.0)
}

/// [`search`] of one page of `req` (its `k`, `offset` and grouping), each hit with the state of
/// its collection, and whether results above `threshold` go on past it.
async fn search_page(
    target: &Target,
    access: &Access,
    req: SearchRequest,
    filter: Condition,
    threshold: f32,
) -> Result<(Vec<(AppState, engine::Hit)>, bool), ApiError> {
    let within = target
        .doc
        .clone()
        .map_or_else(Condition::all, Condition::doc);
    let req = req.filter(within.and(filter)).within(access.scope());
    req.validate()?;
    let engines: Vec<_> = target.states.iter().map(|s| s.engine.clone()).collect();
    let page = target.states[0]
        .blocking(move |_| {
            let engines: Vec<&engine::Engine> = engines.iter().map(AsRef::as_ref).collect();
            engine::across::search_page(&engines, &req)
        })
        .await?;
    let more = page.next.is_some_and(|(_, n)| n.relevance >= threshold);
    let hits = page
        .hits
        .into_iter()
        .filter(|(_, h)| h.relevance >= threshold)
        .map(|(i, h)| (target.states[i].clone(), h))
        .collect();
    Ok((hits, more))
}

fn dify_error(status: StatusCode, code: u32, msg: impl Into<String>) -> Response {
    (
        status,
        Json(DifyError {
            error_code: code,
            error_msg: msg.into(),
        }),
    )
        .into_response()
}

/// A Dify metadata condition in the filter language (see [`crate::api::dify_filter`]).
fn dify_filter(cond: &DifyMetadataCondition) -> Result<Condition, ApiError> {
    crate::api::dify_filter::condition(cond).map_err(ApiError::invalid)
}

/// Dify External Knowledge API. A POST with no body (Dify's probe when the API is registered)
/// answers an empty list.
#[utoipa::path(post, path = "/retrieval", request_body = DifyRequest,
    responses((status = 200, body = DifyResponse), (status = 403, body = DifyError),
              (status = 404, body = DifyError), (status = 400, body = ErrorBodySchema)))]
pub async fn retrieval(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Json(DifyResponse {
            records: Vec::new(),
        })
        .into_response());
    }
    let req: DifyRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("not a Dify retrieval request: {e}")))?;
    let Some(target) = target(state, &access, &req.knowledge_id).await? else {
        return Ok(dify_error(
            StatusCode::NOT_FOUND,
            2001,
            format!(
                "The knowledge does not exist: {:?} is neither a document, a collection nor \"all\"",
                req.knowledge_id
            ),
        ));
    };
    let s = &req.retrieval_setting;
    if !(0.0..=1.0).contains(&s.score_threshold) {
        return Err(ApiError::invalid("score_threshold must be between 0 and 1"));
    }
    let k = s.top_k.clamp(1, MAX_K);
    let filter = match &req.metadata_condition {
        Some(c) if !c.conditions.is_empty() => dify_filter(c)?,
        _ => Condition::all(),
    };
    let hits = search(&target, &access, req.query, k, filter, s.score_threshold).await?;
    let records = hits
        .iter()
        .map(|(state, h)| DifyRecord {
            content: h.passage.text.clone(),
            score: h.relevance,
            title: h.passage.title.clone(),
            metadata: metadata(state, h),
        })
        .collect();
    Ok(Json(DifyResponse { records }).into_response())
}

/// OpenAI vector-store search: the store id is a document id, a collection, or `all`.
#[utoipa::path(post, path = "/v1/vector_stores/{id}/search", request_body = VectorSearchRequest,
    params(("id" = String, Path, description = "a document id, a collection, `default`, or `all`: at the root every collection the key may read, under `/collections/{name}` the whole of that one")),
    responses((status = 200, body = VectorSearchPage), (status = 400, body = ErrorBodySchema),
              (status = 404, body = ErrorBodySchema)))]
pub async fn vector_store_search(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<VectorSearchRequest>,
) -> Result<Json<VectorSearchPage>, ApiError> {
    let Some(target) = target(state, &access, &id).await? else {
        return Err(ApiError::not_found(format!(
            "no vector store {id:?}: use a document id, a collection or \"all\""
        )));
    };
    let k = req.max_num_results.unwrap_or(DEFAULT_VECTOR_RESULTS);
    if !(1..=MAX_VECTOR_RESULTS).contains(&k) {
        return Err(ApiError::invalid(format!(
            "max_num_results must be between 1 and {MAX_VECTOR_RESULTS}"
        )));
    }
    let threshold = req
        .ranking_options
        .as_ref()
        .and_then(|r| r.score_threshold)
        .unwrap_or(0.0);
    if !(0.0..=1.0).contains(&threshold) {
        return Err(ApiError::invalid("score_threshold must be between 0 and 1"));
    }
    let question = match &req.query {
        QueryText::One(q) => q.clone(),
        QueryText::Many(qs) => qs.join("\n"),
    };
    // OpenAI's comparison and compound filters are the filter language's own shape.
    let filter = match &req.filters {
        Some(f) => Condition::parse(f).map_err(ApiError::invalid)?,
        None => Condition::all(),
    };
    let offset = match req.page.as_deref() {
        None => 0,
        Some(p) => p
            .parse::<usize>()
            .map_err(|_| ApiError::invalid(format!("page {p:?} is not a next_page token")))?,
    };
    let group = crate::api::grouping(req.group_by.as_deref(), req.group_size)?;
    let page = SearchRequest::new(question)
        .k(k)
        .offset(offset)
        .group_size(group);
    let (hits, has_more) = search_page(&target, &access, page, filter, threshold).await?;
    Ok(Json(VectorSearchPage {
        object: "vector_store.search_results.page",
        search_query: req.query,
        data: hits
            .iter()
            .map(|(state, h)| VectorSearchResult {
                file_id: h.passage.doc.clone(),
                filename: h.passage.title.clone(),
                score: h.relevance,
                attributes: metadata(state, h),
                content: vec![TextContent {
                    kind: "text",
                    text: h.passage.text.clone(),
                }],
            })
            .collect(),
        has_more,
        next_page: has_more.then(|| (offset + k).to_string()),
    }))
}

/// A prompt-ready context for a conversation or a question.
#[utoipa::path(post, path = "/context", request_body = ContextRequest,
    responses((status = 200, body = ContextResponse), (status = 400, body = ErrorBodySchema)))]
pub async fn context(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    ApiJson(req): ApiJson<ContextRequest>,
) -> Result<Json<ContextResponse>, ApiError> {
    let t = std::time::Instant::now();
    let mut call = ContextCall::try_from(req)?;
    call.template = call.template.within(access.scope());
    let ctx = state
        .blocking(move |e| {
            e.context(
                &call.messages,
                &call.template,
                call.max_tokens,
                call.neighbours,
            )
        })
        .await?;
    Ok(Json(ContextResponse::new(
        ctx,
        &state.public_url,
        t.elapsed().as_secs_f64() * 1000.0,
    )))
}
