//! `POST /backups`: a consistent copy of the serving index, taken while writes go on, into the
//! server's backup folder. One at a time; the same key as writes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::api::{Backup, NewBackup};
use crate::server::error::ApiError;
use crate::server::extract::ApiJson;
use crate::server::openapi::ErrorBodySchema;
use crate::server::state::AppState;

/// Takes a backup of the index.
#[utoipa::path(post, path = "/backups", request_body = NewBackup,
    responses((status = 201, body = Backup), (status = 400, body = ErrorBodySchema),
        (status = 401, body = ErrorBodySchema), (status = 409, body = ErrorBodySchema)))]
pub async fn create_backup(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<NewBackup>,
) -> Result<(StatusCode, Json<Backup>), ApiError> {
    let folder = state.backup_dir.clone().ok_or_else(|| {
        ApiError::invalid(
            "this server has no backup folder (a local index has one; PostgreSQL: use pg_dump)",
        )
    })?;
    let name = match req.name {
        Some(n) => checked_name(n)?,
        None => format!(
            "backup-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        ),
    };
    let out = folder.join(&name);
    if out.exists() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "backup_exists",
            format!("a backup named {name} exists"),
        ));
    }
    let _only = state.backup_running.clone().try_lock_owned().map_err(|_| {
        ApiError::new(
            StatusCode::CONFLICT,
            "backup_running",
            "a backup is being taken; retry when it is done",
        )
    })?;
    let info = state.blocking_write(move |e| e.backup(&out)).await?;
    Ok((
        StatusCode::CREATED,
        Json(Backup {
            name,
            path: info.path.display().to_string(),
            generation: info.generation,
            documents: info.documents,
            passages: info.passages,
        }),
    ))
}

fn checked_name(n: String) -> Result<String, ApiError> {
    let ok = (1..=64).contains(&n.len())
        && !n.starts_with('.')
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(n)
    } else {
        Err(ApiError::invalid(
            "a backup name is 1-64 of A-Z a-z 0-9 . _ - and does not start with a dot",
        ))
    }
}
