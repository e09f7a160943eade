//! `/tasks`: the write tasks of a collection (`POST /documents?wait=false`, uploads,
//! `POST /documents/batch`), their status and progress, and cancelling a queued one.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::ingest::RawDocument;
use crate::server::error::ApiError;
use crate::server::extract::ApiQuery;
use crate::server::openapi::ErrorBodySchema;
use crate::server::state::AppState;
use crate::tasks::{Status, Task};

/// Tasks listed at most (and by default) in one answer.
const MAX_LISTED: usize = 1000;

/// Query of `GET /tasks`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TaskParams {
    /// Only tasks in this status: `queued`, `processing`, `succeeded`, `failed`, `canceled`.
    status: Option<String>,
    /// At most this many, newest first (1..=1000, default 100).
    limit: Option<usize>,
}

/// `GET /tasks`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskList {
    /// Newest first.
    pub tasks: Vec<Task>,
}

/// The collection's tasks, newest first.
#[utoipa::path(get, path = "/tasks", params(TaskParams),
    responses((status = 200, body = TaskList), (status = 400, body = ErrorBodySchema)))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<TaskParams>,
) -> Result<Json<TaskList>, ApiError> {
    let status = match p.status.as_deref() {
        None => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            ApiError::invalid(format!(
                "status {s:?}: expected queued, processing, succeeded, failed or canceled"
            ))
        })?),
    };
    let limit = p.limit.unwrap_or(100);
    if !(1..=MAX_LISTED).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_LISTED}"
        )));
    }
    Ok(Json(TaskList {
        tasks: state.tasks()?.list(status, limit),
    }))
}

/// One task: its status, progress, results and errors.
#[utoipa::path(get, path = "/tasks/{id}", params(("id" = String, Path, description = "Task id")),
    responses((status = 200, body = Task), (status = 404, body = ErrorBodySchema)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Task>, ApiError> {
    Ok(Json(state.tasks()?.get(&id)?))
}

/// Cancels a queued task (409 once it has started).
#[utoipa::path(delete, path = "/tasks/{id}", params(("id" = String, Path, description = "Task id")),
    responses((status = 200, body = Task), (status = 404, body = ErrorBodySchema), (status = 409, body = ErrorBodySchema)))]
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Task>, ApiError> {
    let queue = state.tasks()?;
    let task = state.blocking(move |_| queue.cancel(&id)).await?;
    Ok(Json(task))
}

/// Queues `docs` as one task after checking that each can be cleaned and split (so bad input is
/// a 4xx now, not a failed task later): `202` with the task and its `Location`.
pub async fn submit(state: &AppState, docs: Vec<RawDocument>) -> Result<Response, ApiError> {
    let queue = state.tasks()?;
    let collection = state.collection.to_string();
    let task = state
        .blocking(move |e| {
            e.check(&docs)?;
            queue.submit(&collection, docs)
        })
        .await?;
    let location = format!("{}/tasks/{}", state.path_base(), task.task_id);
    let mut resp = (StatusCode::ACCEPTED, Json(task)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}
