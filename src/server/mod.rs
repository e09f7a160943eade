//! The HTTP service: `app(state)` builds the router (tests drive it without a socket), `serve`
//! binds it. Handlers turn wire types into engine calls and back; the engine validates and
//! orders the work. Engine work runs on the blocking pool behind a bounded permit count: past
//! the bound, requests get 503 at once instead of queueing without limit.

pub mod auth;
pub mod collections;
pub mod edge;
pub mod error;
pub mod extract;
pub mod listen;
pub mod metrics;
pub mod openapi;
pub mod queues;
pub mod routes;
pub mod state;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{any, delete, get, post};
use axum::Router;

use crate::config::{MAX_BODY_BYTES, REQUEST_TIMEOUT_SECS};
pub use auth::Need;
pub use error::ApiError;
use routes::{backups, batch, chatbot, documents, embeddings, meta, passages, search, tasks};
pub use state::AppState;

/// The router of the server: the `default` collection's routes at the root, the service's own
/// (`/healthz`, `/metrics`, `/openapi.json`), collections at `/collections`, each collection's
/// routes under `/collections/{name}/`, and the edge's layers around all of them.
pub fn app(state: AppState) -> Router {
    let gate = |need: Need, collection: Option<&str>| {
        middleware::from_fn_with_state(
            auth::Gate {
                keys: state.keys.clone(),
                need,
                collection: collection.map(Into::into),
            },
            auth::check,
        )
    };
    let default = Some(auth::DEFAULT_COLLECTION);
    let service = Router::new()
        .route("/healthz", get(meta::healthz))
        .route("/openapi.json", get(meta::openapi))
        .route_layer(gate(Need::Open, None))
        .merge(
            Router::new()
                .route("/metrics", get(meta::metrics_text))
                .route_layer(gate(state.metrics_need, default)),
        )
        .merge(
            Router::new()
                .route("/collections", get(routes::collections::list))
                .route_layer(gate(Need::Read, None)),
        )
        .merge(
            Router::new()
                .route("/collections", post(routes::collections::create))
                .route("/collections/{name}", delete(routes::collections::delete))
                .route_layer(gate(Need::Admin, None)),
        )
        .route("/collections/{name}/", any(routes::collections::dispatch))
        .route(
            "/collections/{name}/{*rest}",
            any(routes::collections::dispatch),
        );
    Router::new()
        .merge(routes(&state))
        .merge(service)
        .fallback(meta::not_found)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(REQUEST_TIMEOUT_SECS),
        ))
        .layer(middleware::from_fn(edge::harden))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            edge::check_host,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// The routes of one collection (`state.engine`), without the edge's layers: the root serves
/// the `default` collection's, `/collections/{name}/` hands requests to another's.
pub fn collection_app(state: AppState) -> Router {
    routes(&state)
        .fallback(meta::not_found)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// A collection's routes, each behind the authorisation its group needs ([`auth::Need`]).
fn routes(state: &AppState) -> Router<AppState> {
    let need = |need: Need| {
        middleware::from_fn_with_state(
            auth::Gate {
                keys: state.keys.clone(),
                need,
                collection: Some(state.collection.clone()),
            },
            auth::check,
        )
    };
    let open = Router::new()
        .route("/", get(meta::page))
        .route("/p/{id}", get(meta::passage_page))
        .route_layer(need(Need::Open));
    let reads = Router::new()
        .route("/search", post(search::search_post).get(search::search_get))
        .route("/search/batch", post(search::search_batch))
        .route("/ask", post(search::ask))
        .route("/passages/{id}", get(passages::get_passage))
        .route("/passages/{id}/around", get(passages::around))
        .route("/passages/{id}/related", get(passages::related))
        .route("/documents", get(documents::list_documents))
        .route("/stats", get(documents::stats))
        .route("/v1/embeddings", post(embeddings::embeddings))
        .route("/context", post(chatbot::context))
        .route(
            "/v1/vector_stores/{id}/search",
            post(chatbot::vector_store_search),
        )
        .route_layer(need(Need::Read));
    let retrieval = Router::new()
        .route("/retrieval", post(chatbot::retrieval))
        .route_layer(need(Need::Retrieval));
    let writes = Router::new()
        .route(
            "/documents",
            post(documents::add_document).layer(
                // Uploads have a limit of their own; add_document holds JSON to MAX_BODY_BYTES.
                DefaultBodyLimit::max(state.max_upload_bytes),
            ),
        )
        .route(
            "/documents/batch",
            post(batch::add_batch).layer(DefaultBodyLimit::max(state.max_upload_bytes)),
        )
        .route(
            "/documents/{doc}",
            delete(documents::delete_document).patch(documents::patch_document),
        )
        .route("/tasks", get(tasks::list))
        .route("/tasks/{id}", get(tasks::get).delete(tasks::cancel))
        .route_layer(need(Need::Write));
    let admin = Router::new()
        .route("/backups", post(backups::create_backup))
        .route_layer(need(Need::Admin));
    Router::new()
        .merge(open)
        .merge(reads)
        .merge(retrieval)
        .merge(writes)
        .merge(admin)
        // MCP has its own body limit and the same deadline as every other route; its tools read.
        .nest_service(
            "/mcp",
            tower::ServiceBuilder::new()
                .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(REQUEST_TIMEOUT_SECS),
                ))
                .layer(need(Need::Read))
                .service(mcp_service(state)),
        )
}

/// MCP over streamable HTTP: stateless, JSON responses (no event streams to keep open).
fn mcp_service(
    state: &AppState,
) -> rmcp::transport::streamable_http_server::StreamableHttpService<
    crate::mcp::McpServer,
    rmcp::transport::streamable_http_server::session::local::LocalSessionManager,
> {
    use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;
    let any_collection = state.clone();
    let server = crate::mcp::McpServer::new(state.engine.clone(), &state.public_url)
        .with_permits(state.permits())
        .with_collections(std::sync::Arc::new(move |name: &str| {
            any_collection
                .collection_state(name)
                .map(|s| (s.engine, s.public_url))
        }));
    // The router checks hosts for every route (edge::check_host); rmcp's own check is kept
    // with the same names, unless any host is allowed.
    let hosts: Vec<String> = state.allowed_hosts.iter().cloned().collect();
    let any = hosts.iter().any(|h| h == "*");
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_allowed_hosts(hosts);
    let config = if any {
        config.disable_allowed_hosts()
    } else {
        config
    };
    rmcp::transport::streamable_http_server::StreamableHttpService::new(
        move || Ok(server.clone()),
        Default::default(),
        config,
    )
}

/// Serves `state` on `addr` until SIGTERM or Ctrl-C; in-flight requests (writes included) finish.
pub async fn serve(state: AppState, addr: &str) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!("semsearch listening on http://{local}/");
    eprintln!("semsearch: open http://{local}/ (Ctrl-C to stop)");
    listen::run(listener, app(state), shutdown_signal()).await
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
