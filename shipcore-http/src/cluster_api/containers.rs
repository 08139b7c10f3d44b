//! `/api/containers`: list, deploy, inspect, destroy, stop, restart, scale,
//! logs (seed 001).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use bytes::Bytes;
use futures::TryStreamExt;
use serde::Deserialize;
use shipcore::engine::LogOptions;
use shipcore::model::{Container, ImageConfig};

use crate::auth::Caller;
use crate::error::{parse, ApiError};
use crate::App;

const AREA: &str = "containers";

/// The list is served from the last rendering until the cluster changes:
/// with 10k containers, rendering is what costs.
pub async fn list(State(app): State<App>, caller: Caller) -> Result<impl IntoResponse, ApiError> {
    caller.require(AREA, false)?;
    let generation = app.cluster.generation().await;
    let cached = app.containers_json.lock().ok().and_then(|c| c.clone());
    let body = match cached {
        Some((g, body)) if g == generation => body,
        _ => {
            let (g, list) = app.cluster.containers_at().await;
            let body = Bytes::from(serde_json::to_vec(&list).map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("cannot render containers: {e}"),
                )
            })?);
            if let Ok(mut c) = app.containers_json.lock() {
                *c = Some((g, body.clone()));
            }
            body
        }
    };
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    ))
}

#[derive(Debug, Deserialize)]
pub struct Count {
    count: Option<u32>,
}

pub async fn deploy(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<Count>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(AREA, true)?;
    let cfg: ImageConfig = parse(&body)?;
    let count = q.count.unwrap_or(1);
    if count == 0 || count > 1000 {
        return Err(ApiError::bad_request("count must be between 1 and 1000"));
    }
    let placed = app.cluster.deploy(cfg, count).await?;
    Ok((StatusCode::CREATED, Json(placed)))
}

pub async fn inspect(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Container>, ApiError> {
    caller.require(AREA, false)?;
    Ok(Json(app.cluster.container(&id).await?))
}

pub async fn destroy(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(AREA, true)?;
    app.cluster.destroy(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn stop(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(AREA, true)?;
    app.cluster.stop(&id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn restart(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(AREA, true)?;
    app.cluster.restart(&id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn scale(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<Count>,
) -> Result<StatusCode, ApiError> {
    caller.require(AREA, true)?;
    let count = q
        .count
        .ok_or_else(|| ApiError::bad_request("count is required: ?count=N"))?;
    if count > 1000 {
        return Err(ApiError::bad_request("count must be at most 1000"));
    }
    app.cluster.scale(&id, count).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn logs(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(AREA, false)?;
    let chunks: Vec<_> = app
        .cluster
        .logs(&id, &LogOptions::default())
        .await?
        .try_collect()
        .await?;
    let text: Vec<u8> = chunks.into_iter().flat_map(|c| c.data).collect();
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        text,
    ))
}
