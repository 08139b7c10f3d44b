//! `/api/events` (newest first, paged; `?follow=true` streams server-sent
//! events from `?since=SEQ`) and Docker Hub's `/hub/webhook/{key}`.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event as Sse, KeepAlive};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use futures::StreamExt;
use serde::Deserialize;
use shipcore::model::ImageRef;

use crate::auth::Caller;
use crate::error::{Error, ErrorBody};
use crate::extract::{parse, Path, Query};

/// What a hub webhook did.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HubResult {
    /// The image the key is for.
    pub image: String,
    /// How many containers were replaced.
    pub redeployed: usize,
}
use crate::App;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Events to skip, newest first.
    #[serde(default)]
    skip: usize,
    /// At most this many (default 100, at most 10,000).
    limit: Option<usize>,
    /// Stream events as server-sent events, live.
    #[serde(default)]
    follow: bool,
    /// With `follow`: resume after this sequence number (a `Last-Event-ID`
    /// header, as EventSource sends on reconnecting, does the same).
    #[serde(default)]
    since: u64,
}

#[utoipa::path(
    get,
    path = "/api/events",
    tag = "events",
    params(EventQuery),
    responses((status = 200, description = "Events, newest first; with `follow=true` a `text/event-stream` of them, each with its sequence number as SSE id", body = [shipcore::model::Event]))
)]
pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<EventQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Response, Error> {
    caller.require("events", false)?;
    if q.follow {
        // A reconnecting EventSource names the last event it saw.
        let since = headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(q.since)
            .max(q.since);
        let stream = app.cluster.events().follow(since).await?.map(|item| {
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Repository {
    repo_name: String,
}

/// A Docker Hub push notification (only `repository.repo_name` is read).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct HubPush {
    repository: Repository,
}

/// Docker Hub's push webhook: pull the newest image and redeploy every
/// container of it. Only the webhook key of that image is accepted; the key
/// is checked before the body is read.
#[utoipa::path(
    post,
    path = "/hub/webhook/{key}",
    tag = "webhooks",
    params(("key" = String, Path, description = "The webhook key")),
    request_body = HubPush,
    security(()),
    responses((status = 200, description = "Containers of the image redeployed", body = HubResult), (status = 400, body = ErrorBody), (status = 401, description = "Unknown webhook key", body = ErrorBody), (status = 403, description = "The key is for another image", body = ErrorBody))
)]
pub async fn hub(
    State(app): State<App>,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Response, Error> {
    let image = app
        .access
        .webhook(&key)
        .await?
        .ok_or_else(|| Error::Unauthorized("unknown webhook key".into()))?;
    let push: HubPush = parse(&body)?;
    let pushed = ImageRef::parse(&push.repository.repo_name)
        .map_err(|e| Error::bad_request(format!("repository.repo_name: {e}")))?;
    let allowed = ImageRef::parse(&image)?;
    if !pushed.same_repository(&allowed) {
        return Err(Error::Forbidden(format!(
            "this webhook key is for {image}, not {pushed}"
        )));
    }
    let redeployed = app.cluster.redeploy_image(&allowed).await?;
    Ok(Json(HubResult {
        image,
        redeployed: redeployed.len(),
    })
    .into_response())
}

/// `POST /hub/webhook`: the seed's path without its key.
#[utoipa::path(
    post,
    path = "/hub/webhook",
    tag = "webhooks",
    security(()),
    responses((status = 401, description = "Always: the path needs the webhook key, `/hub/webhook/{key}`", body = ErrorBody))
)]
pub async fn hub_without_key() -> Error {
    Error::Unauthorized(
        "a webhook key is required: POST /hub/webhook/{key} with the key made by POST /api/webhookkeys".into(),
    )
}

/// `POST /hub/webhook/`: as [`hub_without_key`].
#[utoipa::path(
    post,
    path = "/hub/webhook/",
    tag = "webhooks",
    security(()),
    responses((status = 401, description = "Always: the path needs the webhook key, `/hub/webhook/{key}`", body = ErrorBody))
)]
pub async fn hub_without_key_slash() -> Error {
    hub_without_key().await
}
