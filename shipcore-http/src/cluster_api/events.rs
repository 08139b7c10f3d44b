//! `/api/events` (newest first, paged; `?follow=true` streams server-sent
//! events from `?since=SEQ`) and Docker Hub's `/hub/webhook/{key}`.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event as Sse, KeepAlive};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use serde::Deserialize;
use shipcore::model::ImageRef;

use super::released::{self, Wire};
use crate::auth::Caller;
use crate::error::{Error, ErrorBody};
use crate::extract::{Body, Path, Query};

/// What a hub webhook did.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HubResult {
    /// The image the key is for.
    pub image: String,
    /// How many containers were replaced.
    pub redeployed: usize,
    /// The containers that could not be replaced (each kept as it was), and
    /// why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
}
use crate::app::App;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Events to skip, newest first.
    #[serde(default)]
    #[param(maximum = 1000000000)]
    skip: usize,
    /// At most this many (default 100, at most 10,000).
    #[param(minimum = 0, maximum = 10000)]
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
    responses((status = 200, description = "Events, newest first; with `follow=true` a stream of them as server-sent events, each with its sequence number as id", content((Vec<shipcore::model::Event> = "application/json"), (String = "text/event-stream"))), (status = 400, description = "A malformed or invalid request; the message names the field", body = ErrorBody))
)]
pub async fn list(
    State(app): State<App>,
    caller: Caller,
    wire: Wire,
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
        let events = app.cluster.events().follow(since).await?;
        // Once the caller's credentials are revoked, the stream ends.
        let stream =
            crate::auth::until_revoked(&app, &caller, ("events", false), events).map(move |item| {
                Ok::<_, Infallible>(match item {
                    Ok(e) => Sse::default()
                        .id(e.seq.to_string())
                        .event("event")
                        .json_data(released::event(&e, wire))
                        .unwrap_or_else(|_| {
                            Sse::default().event("error").data("cannot encode event")
                        }),
                    Err(e) => Sse::default().event("error").data(e.to_string()),
                })
            });
        return Ok(axum::response::Sse::new(stream)
            .keep_alive(KeepAlive::default())
            .into_response());
    }
    let limit = q.limit.unwrap_or(100);
    if limit > 10_000 || q.skip > 1_000_000_000 {
        return Err(Error::bad_request(
            "limit is at most 10000 and skip at most 1000000000",
        ));
    }
    let events = app.cluster.events().list(q.skip, limit).await?;
    let events: Vec<serde_json::Value> = events.iter().map(|e| released::event(e, wire)).collect();
    Ok(Json(events).into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct HubRepository {
    /// The pushed repository, as a webhook key's image names it (the same
    /// pattern; a tag or a registry port is taken too).
    #[schema(
        pattern = "^([a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*|([a-z0-9]+((_|__|-+)[a-z0-9]+)*|[a-z0-9]+(-+[a-z0-9]+)*(\\.[a-z0-9]+(-+[a-z0-9]+)*)+)(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)+)$",
        max_length = 255
    )]
    repo_name: String,
}

/// A Docker Hub push notification (only `repository.repo_name` is read).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct HubPush {
    repository: HubRepository,
}

/// The image a push notification names.
pub(crate) fn pushed_image(body: &[u8]) -> Result<ImageRef, Error> {
    let push: HubPush = crate::extract::parse(body)?;
    ImageRef::parse(&push.repository.repo_name)
        .map_err(|e| Error::bad_request(format!("repository.repo_name: {e}")))
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
    responses((status = 200, description = "Containers of the image redeployed", body = HubResult), (status = 400, body = ErrorBody), (status = 401, description = "Unknown webhook key", body = ErrorBody), (status = 403, description = "The key is for another image", body = ErrorBody), (status = 404, description = "The registry has no such repository or tag", body = ErrorBody), (status = 502, description = "The engine failed or could not be reached", body = ErrorBody), (status = 504, description = "A pull took too long", body = ErrorBody))
)]
pub async fn hub(
    State(app): State<App>,
    HubImage(image): HubImage,
    body: Body,
) -> Result<Response, Error> {
    let pushed = pushed_image(&body.0)?;
    let allowed = ImageRef::parse(&image)?;
    if !pushed.same_repository(&allowed) {
        return Err(Error::Forbidden(format!(
            "this webhook key is for {image}, not {pushed}"
        )));
    }
    let done = app.cluster.redeploy_image(&allowed).await?;
    Ok(Json(HubResult {
        image,
        redeployed: done.containers.len(),
        failed: done
            .failed
            .iter()
            .map(|(id, e)| format!("{id}: {e}"))
            .collect(),
    })
    .into_response())
}

/// The image the webhook key in the path may redeploy. An extractor of the
/// request's head, so an unknown key is refused before the body is read.
#[derive(Debug)]
pub struct HubImage(String);

impl axum::extract::FromRequestParts<App> for HubImage {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &App,
    ) -> Result<Self, Error> {
        let Path(key) = Path::<String>::from_request_parts(parts, app).await?;
        app.access
            .webhook(&key)
            .await?
            .map(HubImage)
            .ok_or_else(|| Error::Unauthorized("unknown webhook key".into()))
    }
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
