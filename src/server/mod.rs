//! The HTTP service: `app(state)` builds the router (tests drive it without a socket), `serve`
//! binds it. Handlers validate input, then run engine work on the blocking pool behind a bounded
//! permit count: past the bound, requests get 503 at once instead of queueing without limit.

pub mod error;
pub mod metrics;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{
    DefaultBodyLimit, FromRequest, FromRequestParts, MatchedPath, Path, Request, State,
};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::embed::TextKind;
use crate::index::{DocumentInfo, Passage};
use crate::ingest::{Format, RawDocument};
use crate::search::answer::Answer;
use crate::search::{Engine, Hit, Ingested, Mode, MAX_QUERY_CHARS};
pub use error::ApiError;
use metrics::Metrics;

/// Largest request body.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Requests doing engine work at once (running or waiting for a core); more get 503.
pub const MAX_IN_FLIGHT: usize = 64;
/// Most inputs in one `/v1/embeddings` call.
pub const MAX_EMBED_INPUTS: usize = 256;

/// Shared by all requests.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub engine: Arc<Engine>,
    /// Metrics.
    pub metrics: Metrics,
    /// When set, writes need `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    permits: Arc<Semaphore>,
    writes: Arc<rayon::ThreadPool>,
}

impl AppState {
    /// State over `engine`.
    pub fn new(engine: Arc<Engine>, metrics: Metrics, api_key: Option<String>) -> Self {
        AppState {
            engine,
            metrics,
            api_key,
            permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            writes: Arc::new(write_pool()),
        }
    }

    /// Runs CPU work off the async threads, or answers 503 when too much is in flight.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> crate::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = self
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::overloaded())?;
        let engine = self.engine.clone();
        let out = tokio::task::spawn_blocking(move || {
            let r = f(&engine);
            drop(permit);
            r
        })
        .await
        .map_err(ApiError::internal)?;
        out.map_err(ApiError::from)
    }

    /// [`AppState::blocking`] for writes: the work (embedding, index rebuild, save) runs on the
    /// low-priority write pool, so a stream of writes slows searches down as little as possible.
    async fn blocking_write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> crate::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let pool = self.writes.clone();
        self.blocking(move |e| pool.install(|| f(e))).await
    }
}

/// Nice value of write threads: the scheduler then gives a search thread that wakes up the core
/// at once (weights 1024 vs 15) and writes still use every idle cycle. Measured with
/// `scripts/bench-serve.sh` at concurrency 1 under write churn: p50 21.7 ms at nice 0, 20.7 at
/// 10, 16.9 at 19; SCHED_IDLE was no faster and halved write throughput.
const WRITE_NICE: i32 = 19;

/// Threads for writes. Everything they start inherits their priority: the encoder forks onto the
/// pool it runs in, and tantivy's indexing threads are spawned by the writing thread.
fn write_pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .thread_name(|i| format!("semsearch-write-{i}"))
        .start_handler(|_| lower_thread_priority(WRITE_NICE))
        .build()
        .expect("the write thread pool starts")
}

/// Lowers the calling thread's CPU priority (Linux keeps a nice value per thread). Failure only
/// costs search latency under write load, so it is logged and ignored.
fn lower_thread_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: setpriority with PRIO_PROCESS and the caller's thread id changes only this
        // thread's nice value.
        let tid = unsafe { libc::gettid() } as libc::id_t;
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, nice) } != 0 {
            tracing::debug!(
                "cannot lower write thread priority: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

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
    let status = r.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError {
            status,
            code: "payload_too_large",
            message: format!("body larger than {MAX_BODY_BYTES} bytes"),
        };
    }
    ApiError {
        status: if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            status
        } else {
            StatusCode::BAD_REQUEST
        },
        code: "invalid_request",
        message: r.body_text(),
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
            Err(r) => Err(ApiError::invalid(QueryRejection::body_text(&r))),
        }
    }
}

/// Body of `POST /search`.
#[derive(Deserialize, ToSchema)]
pub struct SearchRequest {
    /// The question.
    pub query: String,
    /// Passages to return, 1..100 (default 5).
    pub k: Option<usize>,
    /// `hybrid` (default), `dense` or `lexical`.
    pub mode: Option<String>,
    /// Restrict to a document.
    pub filter: Option<Filter>,
}

/// Result filter.
#[derive(Deserialize, ToSchema)]
pub struct Filter {
    /// Document id.
    pub doc: Option<String>,
}

/// Query of `GET /search`.
#[derive(Deserialize, IntoParams)]
pub struct SearchParams {
    /// The question.
    pub q: String,
    /// Passages to return, 1..100 (default 5).
    pub k: Option<usize>,
    /// Retrieval mode.
    pub mode: Option<String>,
    /// Restrict to a document.
    pub doc: Option<String>,
}

/// Answer of the search routes.
#[derive(Serialize, ToSchema)]
pub struct SearchResponse {
    /// Passages, best first.
    pub results: Vec<Hit>,
    /// Server-side time.
    pub took_ms: f64,
}

/// Body of `POST /ask`.
#[derive(Deserialize, ToSchema)]
pub struct AskRequest {
    /// The question.
    pub question: String,
    /// Passages to return (default 5).
    pub k: Option<usize>,
    /// Retrieval mode.
    pub mode: Option<String>,
}

/// Answer of `POST /ask`.
#[derive(Serialize, ToSchema)]
pub struct AskResponse {
    /// The sentence that best answers, if any.
    pub answer: Option<Answer>,
    /// Passages, best first.
    pub passages: Vec<Hit>,
    /// Server-side time.
    pub took_ms: f64,
}

/// `?k=` of the related route.
#[derive(Deserialize, IntoParams)]
pub struct RelatedParams {
    /// Passages to return (default 5).
    pub k: Option<usize>,
    /// Include the passages right before and after (default false).
    pub neighbours: Option<bool>,
}

/// Answer listing passages.
#[derive(Serialize, ToSchema)]
pub struct Results {
    /// Passages, best first.
    pub results: Vec<Hit>,
}

/// Answer of `GET /documents`.
#[derive(Serialize, ToSchema)]
pub struct DocumentList {
    /// Documents.
    pub documents: Vec<DocumentInfo>,
}

/// Body of `POST /documents`.
#[derive(Deserialize, ToSchema)]
pub struct NewDocument {
    /// Id (derived from the title when absent).
    pub doc: Option<String>,
    /// Title (found in the text when absent).
    pub title: Option<String>,
    /// Body.
    pub text: String,
    /// `text` (default), `markdown` or `html`.
    pub format: Option<String>,
}

/// Answer of `DELETE /documents/{doc}`.
#[derive(Serialize, ToSchema)]
pub struct Deleted {
    /// Document id.
    pub doc: String,
    /// Passages removed.
    pub deleted: usize,
}

/// `input` of `/v1/embeddings`: one string or several.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    One(String),
    /// Several texts.
    Many(Vec<String>),
}

/// OpenAI-compatible embeddings request.
#[derive(Deserialize, ToSchema)]
pub struct EmbeddingsRequest {
    /// Text(s) to embed (as passages; prefix a text with `query: ` yourself... or see `input_type`).
    pub input: EmbeddingInput,
    /// Ignored: the server's model answers.
    pub model: Option<String>,
    /// `query` or `passage` (default passage); an extension to the OpenAI shape.
    pub input_type: Option<String>,
}

/// One vector.
#[derive(Serialize, ToSchema)]
pub struct EmbeddingItem {
    /// Always `embedding`.
    pub object: &'static str,
    /// Position in the input.
    pub index: usize,
    /// L2-normalised vector.
    pub embedding: Vec<f32>,
}

/// Token usage.
#[derive(Serialize, ToSchema)]
pub struct Usage {
    /// Tokens read.
    pub prompt_tokens: usize,
    /// Same as prompt_tokens.
    pub total_tokens: usize,
}

/// OpenAI-compatible embeddings answer.
#[derive(Serialize, ToSchema)]
pub struct EmbeddingsResponse {
    /// Always `list`.
    pub object: &'static str,
    /// Vectors in input order.
    pub data: Vec<EmbeddingItem>,
    /// Model name.
    pub model: String,
    /// Token usage.
    pub usage: Usage,
}

/// `GET /healthz` answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "semsearch",
        description = "Semantic search and extractive question answering over long articles."
    ),
    paths(
        healthz,
        search_post,
        search_get,
        ask,
        get_passage,
        related,
        list_documents,
        add_document,
        delete_document,
        embeddings,
        metrics_text
    ),
    components(schemas(ErrorBodySchema))
)]
struct ApiDoc;

/// Alias so the error body appears in the OpenAPI components.
type ErrorBodySchema = error::ErrorBody;

fn mode_of(m: Option<&str>) -> Result<Mode, ApiError> {
    Ok(Mode::parse(m.unwrap_or("hybrid"))?)
}

fn check_query(q: &str) -> Result<(), ApiError> {
    if q.trim().is_empty() {
        return Err(ApiError::invalid("query must not be empty"));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::invalid(format!(
            "query longer than {MAX_QUERY_CHARS} characters"
        )));
    }
    Ok(())
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

async fn run_search(
    state: AppState,
    query: String,
    k: Option<usize>,
    mode: Option<String>,
    doc: Option<String>,
) -> Result<Json<SearchResponse>, ApiError> {
    check_query(&query)?;
    let mode = mode_of(mode.as_deref())?;
    let k = k.unwrap_or(5);
    let t = Instant::now();
    let results = state
        .blocking(move |e| e.search(&query, k, mode, doc.as_deref()))
        .await?;
    Ok(Json(SearchResponse {
        results,
        took_ms: t.elapsed().as_secs_f64() * 1000.0,
    }))
}

#[utoipa::path(post, path = "/search", request_body = SearchRequest,
    responses((status = 200, body = SearchResponse), (status = 400, body = ErrorBodySchema), (status = 503, body = ErrorBodySchema)))]
async fn search_post(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SearchRequest>,
) -> Result<Json<SearchResponse>, ApiError> {
    run_search(
        state,
        req.query,
        req.k,
        req.mode,
        req.filter.and_then(|f| f.doc),
    )
    .await
}

#[utoipa::path(get, path = "/search", params(SearchParams),
    responses((status = 200, body = SearchResponse), (status = 400, body = ErrorBodySchema)))]
async fn search_get(
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Result<Json<SearchResponse>, ApiError> {
    run_search(state, p.q, p.k, p.mode, p.doc).await
}

#[utoipa::path(post, path = "/ask", request_body = AskRequest,
    responses((status = 200, body = AskResponse), (status = 400, body = ErrorBodySchema)))]
async fn ask(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<AskRequest>,
) -> Result<Json<AskResponse>, ApiError> {
    check_query(&req.question)?;
    let mode = mode_of(req.mode.as_deref())?;
    let k = req.k.unwrap_or(5);
    let t = Instant::now();
    let (answer, passages) = state
        .blocking(move |e| e.ask(&req.question, k, mode))
        .await?;
    Ok(Json(AskResponse {
        answer,
        passages,
        took_ms: t.elapsed().as_secs_f64() * 1000.0,
    }))
}

#[utoipa::path(get, path = "/passages/{id}", params(("id" = String, Path, description = "Passage id")),
    responses((status = 200, body = Passage), (status = 404, body = ErrorBodySchema)))]
async fn get_passage(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Passage>, ApiError> {
    Ok(Json(state.engine.passage(&id)?))
}

#[utoipa::path(get, path = "/passages/{id}/related", params(("id" = String, Path, description = "Passage id"), RelatedParams),
    responses((status = 200, body = Results), (status = 404, body = ErrorBodySchema)))]
async fn related(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<RelatedParams>,
) -> Result<Json<Results>, ApiError> {
    let k = p.k.unwrap_or(5);
    let neighbours = p.neighbours.unwrap_or(false);
    let results = state
        .blocking(move |e| e.related(&id, k, neighbours))
        .await?;
    Ok(Json(Results { results }))
}

#[utoipa::path(get, path = "/documents", responses((status = 200, body = DocumentList)))]
async fn list_documents(State(state): State<AppState>) -> Json<DocumentList> {
    Json(DocumentList {
        documents: state.engine.documents(),
    })
}

fn authorized(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    use subtle::ConstantTimeEq;
    let Some(key) = &state.api_key else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Constant time in the key's content; lengths differ only for wrong keys.
    if given.len() == key.len() && bool::from(given.as_bytes().ct_eq(key.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::unauthorized())
    }
}

fn slug(title: &str) -> String {
    let s: String = title
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    s.chars().take(60).collect()
}

#[utoipa::path(post, path = "/documents", request_body = NewDocument,
    responses((status = 201, body = Ingested), (status = 400, body = ErrorBodySchema), (status = 401, body = ErrorBodySchema)))]
async fn add_document(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<NewDocument>,
) -> Result<(StatusCode, Json<Ingested>), ApiError> {
    authorized(&state, &headers)?;
    if req.text.trim().is_empty() {
        return Err(ApiError::invalid("text must not be empty"));
    }
    let format = Format::parse(req.format.as_deref().unwrap_or("text"))?;
    let doc = match req.doc.as_deref().map(str::trim) {
        Some(d) if !d.is_empty() => d.to_string(),
        _ => {
            let base = req
                .title
                .as_deref()
                .map(slug)
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "doc".into());
            let mut id = base.clone();
            let mut n = 1;
            while state.engine.snapshot().has_document(&id) {
                n += 1;
                id = format!("{base}-{n}");
            }
            id
        }
    };
    let raw = RawDocument {
        doc,
        title: req.title,
        text: req.text,
        format,
    };
    let done = state
        .blocking_write(move |e| {
            let prepared = e.prepare(&raw, &|_| {})?;
            e.add(vec![prepared])
        })
        .await?;
    let first = done
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("nothing ingested"))?;
    Ok((StatusCode::CREATED, Json(first)))
}

#[utoipa::path(delete, path = "/documents/{doc}", params(("doc" = String, Path, description = "Document id")),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBodySchema), (status = 401, body = ErrorBodySchema)))]
async fn delete_document(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(doc): Path<String>,
) -> Result<Json<Deleted>, ApiError> {
    authorized(&state, &headers)?;
    let d = doc.clone();
    let deleted = state.blocking_write(move |e| e.delete(&d)).await?;
    Ok(Json(Deleted { doc, deleted }))
}

#[utoipa::path(post, path = "/v1/embeddings", request_body = EmbeddingsRequest,
    responses((status = 200, body = EmbeddingsResponse), (status = 400, body = ErrorBodySchema)))]
async fn embeddings(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<EmbeddingsRequest>,
) -> Result<Json<EmbeddingsResponse>, ApiError> {
    let texts = match req.input {
        EmbeddingInput::One(s) => vec![s],
        EmbeddingInput::Many(v) => v,
    };
    if texts.is_empty() || texts.len() > MAX_EMBED_INPUTS {
        return Err(ApiError::invalid(format!(
            "input must hold 1 to {MAX_EMBED_INPUTS} texts"
        )));
    }
    if texts.iter().any(|t| t.chars().count() > 100_000) {
        return Err(ApiError::invalid(
            "an input is longer than 100000 characters",
        ));
    }
    let kind = match req.input_type.as_deref() {
        None | Some("passage") | Some("document") => TextKind::Passage,
        Some("query") => TextKind::Query,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "unknown input_type {other:?} (query or passage)"
            )))
        }
    };
    let (vectors, tokens, model) = state
        .blocking(move |e| {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let tokens = texts
                .iter()
                .map(|t| e.embedder().count_tokens(t, kind))
                .sum::<crate::Result<usize>>()?;
            Ok((
                e.embedder().embed(&refs, kind)?,
                tokens,
                e.embedder().id().name.clone(),
            ))
        })
        .await?;
    Ok(Json(EmbeddingsResponse {
        object: "list",
        data: vectors
            .into_iter()
            .enumerate()
            .map(|(index, embedding)| EmbeddingItem {
                object: "embedding",
                index,
                embedding,
            })
            .collect(),
        model,
        usage: Usage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    }))
}

#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    let index = state.engine.snapshot();
    state.metrics.passages.set(index.len() as i64);
    state.metrics.documents.set(index.documents().len() as i64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn page() -> Html<&'static str> {
    Html(include_str!("page.html"))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let t = Instant::now();
    let resp = next.run(req).await;
    state
        .metrics
        .latency
        .with_label_values(&[&route])
        .observe(t.elapsed().as_secs_f64());
    state
        .metrics
        .requests
        .with_label_values(&[&route, &method, resp.status().as_str()])
        .inc();
    resp
}

/// The router with every route of the contract.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/healthz", get(healthz))
        .route("/search", post(search_post).get(search_get))
        .route("/ask", post(ask))
        .route("/passages/{id}", get(get_passage))
        .route("/passages/{id}/related", get(related))
        .route("/documents", get(list_documents).post(add_document))
        .route("/documents/{doc}", delete(delete_document))
        .route("/v1/embeddings", post(embeddings))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(120),
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves `state` on `addr` until SIGTERM or Ctrl-C; in-flight requests (writes included) finish.
pub async fn serve(state: AppState, addr: &str) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!("semsearch listening on http://{local}/");
    eprintln!("semsearch: open http://{local}/ (Ctrl-C to stop)");
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}
