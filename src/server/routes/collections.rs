//! `/collections`: list, create, delete; and `/collections/{name}/...`, handed to that
//! collection's own routes.

use axum::extract::{Extension, Path, Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tower::ServiceExt;

use crate::server::auth::{Access, DEFAULT_COLLECTION};
use crate::server::error::ApiError;
use crate::server::extract::ApiJson;
use crate::server::openapi::ErrorBodySchema;
use crate::server::state::AppState;

/// `POST /collections`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCollection {
    /// `[a-z0-9_-]{1,64}`.
    pub name: String,
}

/// A collection and what it holds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CollectionInfo {
    /// Its name.
    pub name: String,
    /// Documents in it.
    pub documents: usize,
    /// Passages in it.
    pub passages: usize,
}

/// `GET /collections`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CollectionList {
    /// `default` first, then by name; only those the key may address.
    pub collections: Vec<CollectionInfo>,
}

/// The collections the caller's key may address, with their sizes.
#[utoipa::path(get, path = "/collections", responses((status = 200, body = CollectionList)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
) -> Result<Json<CollectionList>, ApiError> {
    let mut engines = vec![(DEFAULT_COLLECTION.to_string(), state.engine.clone())];
    engines.extend(state.collections.list());
    engines.retain(|(name, _)| access.covers(name));
    let scope = access.scope();
    let collections = state
        .blocking(move |_| {
            engines
                .into_iter()
                .map(|(name, e)| {
                    let (documents, passages) = if scope == crate::index::Condition::all() {
                        let snap = e.snapshot()?;
                        (snap.documents()?.len(), snap.len())
                    } else {
                        // A filtered key counts what it may read, as `/stats` does.
                        let s = e.stats(&scope)?;
                        (s.documents, s.passages)
                    };
                    Ok(CollectionInfo {
                        name,
                        documents,
                        passages,
                    })
                })
                .collect::<crate::Result<Vec<_>>>()
        })
        .await?;
    Ok(Json(CollectionList { collections }))
}

/// Makes an empty collection (admin).
#[utoipa::path(post, path = "/collections", request_body = NewCollection,
    responses((status = 201, body = CollectionInfo), (status = 400, body = ErrorBodySchema),
        (status = 401, body = ErrorBodySchema), (status = 409, body = ErrorBodySchema)))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<NewCollection>,
) -> Result<(StatusCode, Json<CollectionInfo>), ApiError> {
    let collections = state.collections.clone();
    let name = req.name.clone();
    state
        .blocking_write(move |_| collections.create(&name))
        .await?;
    tracing::info!("collection {} created", req.name);
    Ok((
        StatusCode::CREATED,
        Json(CollectionInfo {
            name: req.name,
            documents: 0,
            passages: 0,
        }),
    ))
}

/// `DELETE /collections/{name}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeletedCollection {
    /// Its name.
    pub name: String,
    /// Always true.
    pub deleted: bool,
}

/// Deletes a collection and everything in it (admin); `default` cannot be deleted.
#[utoipa::path(delete, path = "/collections/{name}", params(("name" = String, Path, description = "Collection")),
    responses((status = 200, body = DeletedCollection), (status = 400, body = ErrorBodySchema),
        (status = 404, body = ErrorBodySchema)))]
pub async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<DeletedCollection>, ApiError> {
    let collections = state.collections.clone();
    let n = name.clone();
    state
        .blocking_write(move |_| collections.delete(&n))
        .await?;
    if let Some(queues) = &state.queues {
        queues.remove(&name);
    }
    tracing::info!("collection {name} deleted");
    Ok(Json(DeletedCollection {
        name,
        deleted: true,
    }))
}

/// Hands `/collections/{name}/{rest}` to collection `name`'s routes as `/{rest}`: a fresh
/// request with the method, headers and body (not this router's extensions, whose path
/// parameters would be the inner routes' too), the path as sent (not decoded).
pub async fn dispatch(
    State(state): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    req: Request,
) -> Response {
    let name = params
        .iter()
        .find(|(k, _)| k == "name")
        .map_or("", |(_, v)| v.as_str());
    let router = if name == DEFAULT_COLLECTION {
        state
            .collections
            .default_router
            .get_or_init(|| crate::server::collection_app(state.clone()))
            .clone()
    } else {
        let Some(c) = state.collections.get(name) else {
            return missing(&state, name, req).await;
        };
        c.router
            .get_or_init(|| {
                crate::server::collection_app(state.for_collection(name, c.engine.clone()))
            })
            .clone()
    };
    let (parts, body) = req.into_parts();
    let prefix = format!("/collections/{name}");
    let rest = parts.uri.path().strip_prefix(&prefix).unwrap_or("/");
    let path = match parts.uri.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    };
    let Ok(uri) = path.parse::<Uri>() else {
        return ApiError::invalid("a path that is not a URI").into_response();
    };
    let mut inner = Request::new(body);
    *inner.method_mut() = parts.method;
    *inner.uri_mut() = uri;
    *inner.version_mut() = parts.version;
    *inner.headers_mut() = parts.headers;
    match router.oneshot(inner).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}

/// A collection that does not exist answers as one the key may not address would: the key is
/// checked for it first (401 without a key where reads need one, 403 for a key bound to other
/// collections), so collection names cannot be probed; only a key that could read it learns
/// it is missing (404).
async fn missing(state: &AppState, name: &str, req: Request) -> Response {
    let gone = format!("no collection {name:?}");
    let router = axum::Router::new()
        .fallback(move || async move { ApiError::not_found(gone).into_response() })
        .layer(axum::middleware::from_fn_with_state(
            crate::server::auth::Gate {
                keys: state.keys.clone(),
                need: crate::server::Need::Read,
                collection: Some(name.into()),
            },
            crate::server::auth::check,
        ));
    match router.oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}
