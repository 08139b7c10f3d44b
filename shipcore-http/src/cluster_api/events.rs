//! `/api/events` (newest first, paged; `?follow=true` streams server-sent
//! events from `?since=SEQ`) and Docker Hub's `/hub/webhook/{key}`.

use std::convert::Infallible;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as Sse, KeepAlive};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use futures::StreamExt;
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::{parse, ApiError};
use crate::App;

#[derive(Debug, Deserialize)]
pub struct EventQuery {
    #[serde(default)]
    skip: usize,
    limit: Option<usize>,
    #[serde(default)]
    follow: bool,
    #[serde(default)]
    since: u64,
}

pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<EventQuery>,
) -> Result<Response, ApiError> {
    caller.require("events", false)?;
    if q.follow {
        let stream = app.cluster.events().follow(q.since).await?.map(|item| {
            Ok::<_, Infallible>(match item {
                Ok(e) => Sse::default()
                    .id(e.seq.to_string())
                    .event("event")
                    .json_data(&e)
                    .unwrap_or_else(|_| Sse::default().event("error").data("cannot encode event")),
                Err(e) => Sse::default().event("error").data(e.to_string()),
            })
        });
        return Ok(axum::response::Sse::new(stream)
            .keep_alive(KeepAlive::default())
            .into_response());
    }
    let limit = q.limit.unwrap_or(100).min(10_000);
    Ok(Json(app.cluster.events().list(q.skip, limit).await?).into_response())
}

#[derive(Debug, Deserialize)]
struct Repository {
    repo_name: String,
}

#[derive(Debug, Deserialize)]
struct HubPush {
    repository: Repository,
}

/// Docker Hub's push webhook: pull the newest image and redeploy every
/// container of it. Only the webhook key of that image is accepted.
pub async fn hub(
    State(app): State<App>,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let image = app
        .access
        .webhook(&key)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unknown webhook key"))?;
    let push: HubPush = parse(&body)?;
    let pushed = push.repository.repo_name;
    use shipcore::model::repository;
    if repository(&pushed) != repository(&image) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("this webhook key is for {image}, not {pushed}"),
        ));
    }
    let redeployed = app.cluster.redeploy_image(&image).await?;
    Ok(Json(serde_json::json!({ "image": image, "redeployed": redeployed.len() })).into_response())
}
