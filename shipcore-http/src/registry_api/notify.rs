//! The registry's notification endpoints (`/api/registry/notifications`),
//! in the plain JSON envelope: listed with how their deliveries go, set
//! (added or changed) by name, deleted. They take the `notifications`
//! area, an administrator's: an endpoint is told of every repository's
//! pushes, pulls and deletes. A secret is taken, never shown
//! (`shipcore::registry::notify`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use shipcore::registry::notify::{Action, Endpoint, EndpointView};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::registry;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{Error, ErrorBody};
use crate::extract::{Body, Path};

const AREA: &str = "notifications";

/// The routes of the notification endpoints.
pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(set, remove))
}

/// An endpoint as it is set.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointBody {
    /// `http://` or `https://`, without a user or password.
    #[schema(
        pattern = "^https?://[^@/?#\\s:\\x00-\\x1f\\x7f-\\x9f][^@/?#\\s\\x00-\\x1f\\x7f-\\x9f]*([/?#][^\\s\\x00-\\x1f\\x7f-\\x9f]*)?$",
        max_length = 2048
    )]
    url: String,
    /// 16 to 512 bytes: each body is signed with it (HMAC-SHA256, in
    /// `X-Shipcore-Signature: sha256=<hex>`). Never shown again.
    #[schema(min_length = 16, max_length = 512)]
    secret: String,
    /// The actions sent (none: push, pull and delete).
    #[serde(default)]
    actions: Vec<Action>,
    /// The repositories whose events are sent, as patterns (`team/*`;
    /// none: all).
    #[serde(default)]
    #[schema(max_items = 32, min_length = 1, max_length = 128)]
    repositories: Vec<String>,
}

#[utoipa::path(get, path = "/api/registry/notifications", tag = "registry", responses((status = 200, description = "The endpoints, with how their deliveries go (no secret)", body = Vec<EndpointView>), (status = 404, description = "This server keeps no registry", body = ErrorBody)))]
pub async fn list(
    State(app): State<App>,
    caller: Caller,
) -> Result<Json<Vec<EndpointView>>, Error> {
    caller.require(AREA, false)?;
    Ok(Json(registry(&app)?.notifications.endpoints().await?))
}

#[utoipa::path(put, path = "/api/registry/notifications/{name}", tag = "registry", params(("name" = String, Path, description = "The endpoint's name: letters, digits, '-' and '_'")), request_body = EndpointBody, responses((status = 200, description = "Set: a new endpoint is sent what happens from now on; a changed one goes on from where it was", body = EndpointView), (status = 400, description = "An invalid field (named), or a 17th endpoint", body = ErrorBody), (status = 404, description = "This server keeps no registry", body = ErrorBody)))]
pub async fn set(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
    body: Body,
) -> Result<Json<EndpointView>, Error> {
    caller.require(AREA, true)?;
    let b: EndpointBody = body.json()?;
    let endpoint = Endpoint {
        name,
        url: b.url,
        secret: b.secret,
        actions: b.actions,
        repositories: b.repositories,
    };
    Ok(Json(registry(&app)?.notifications.set(endpoint).await?))
}

#[utoipa::path(delete, path = "/api/registry/notifications/{name}", tag = "registry", params(("name" = String, Path, description = "The endpoint's name")), responses((status = 204, description = "Deleted: nothing more is sent to it"), (status = 404, description = "No such endpoint, or this server keeps no registry", body = ErrorBody)))]
pub async fn remove(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, Error> {
    caller.require(AREA, true)?;
    registry(&app)?.notifications.remove(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
