//! `/api/accounts`, `/api/roles`, `/api/servicekeys`, `/api/webhookkeys`
//! (seed 001). Secrets are shown only when made.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use shipcore::model::{Account, Permission, Role, RoleRef, ServiceKey, WebhookKey};

use crate::app::App;
use crate::auth::Caller;
use crate::error::{Error, ErrorBody};
use crate::extract::{Body, Path};

#[utoipa::path(
    get,
    path = "/api/accounts",
    tag = "accounts",
    responses((status = 200, description = "Accounts; `password` holds the argon2 hash, never the password, as the seed shows", body = [Account]))
)]
pub async fn accounts(State(app): State<App>, caller: Caller) -> Result<Json<Vec<Account>>, Error> {
    caller.require("accounts", false)?;
    Ok(Json(app.access.accounts().await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// 1 to 128 characters, no whitespace, control characters or `:`
    /// (`shipcore::model::username_char`).
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\s:\\u0000-\\u001f\\u007f-\\u009f\\ufeff]+$"
    )]
    username: String,
    #[schema(min_length = 1)]
    password: String,
    role: RoleRef,
}

#[utoipa::path(
    post,
    path = "/api/accounts",
    tag = "accounts",
    request_body = NewAccount,
    responses((status = 204, description = "Created"), (status = 400, description = "A malformed or invalid request; the message names the field", body = ErrorBody), (status = 404, description = "No such role", body = ErrorBody), (status = 409, description = "The username is taken", body = ErrorBody))
)]
pub async fn add_account(
    State(app): State<App>,
    caller: Caller,
    body: Body,
) -> Result<StatusCode, Error> {
    caller.require("accounts", true)?;
    let a: NewAccount = body.json()?;
    app.access.check_grant(&caller.0, &a.role.name).await?;
    app.access
        .create_account(&a.username, &a.password, &a.role.name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Username {
    username: String,
}

#[utoipa::path(
    delete,
    path = "/api/accounts",
    tag = "accounts",
    request_body = Username,
    responses((status = 204, description = "Removed"), (status = 400, description = "A malformed or invalid request; the message names the field", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody))
)]
pub async fn delete_account(
    State(app): State<App>,
    caller: Caller,
    body: Body,
) -> Result<StatusCode, Error> {
    caller.require("accounts", true)?;
    let u: Username = body.json()?;
    app.access.delete_account(&u.username).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/roles",
    tag = "roles",
    responses((status = 200, body = [Role]))
)]
pub async fn roles(State(app): State<App>, caller: Caller) -> Result<Json<Vec<Role>>, Error> {
    caller.require("roles", false)?;
    Ok(Json(app.access.roles().await?))
}

#[utoipa::path(
    get,
    path = "/api/roles/{name}",
    tag = "roles",
    params(("name" = String, Path, description = "Role name")),
    responses((status = 200, body = Role), (status = 404, body = ErrorBody))
)]
pub async fn role(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Role>, Error> {
    caller.require("roles", false)?;
    Ok(Json(app.access.role(&name).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewRole {
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")]
    name: String,
    #[serde(default)]
    #[schema(value_type = Vec<String>, example = json!(["containers:ro", "engines:rw"]), pattern = "^([a-z*-]+:(ro|rw)|\\*)$")]
    permissions: Vec<Permission>,
}

#[utoipa::path(
    post,
    path = "/api/roles",
    tag = "roles",
    request_body = NewRole,
    responses((status = 204, description = "Created"), (status = 400, description = "A malformed or invalid request; the message names the field", body = ErrorBody), (status = 409, description = "The name is taken", body = ErrorBody))
)]
pub async fn add_role(
    State(app): State<App>,
    caller: Caller,
    body: Body,
) -> Result<StatusCode, Error> {
    caller.require("roles", true)?;
    let r: NewRole = body.json()?;
    app.access.create_role(&r.name, r.permissions).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Name {
    name: String,
}

#[utoipa::path(
    delete,
    path = "/api/roles",
    tag = "roles",
    request_body = Name,
    responses((status = 204, description = "Removed"), (status = 400, description = "A malformed request, or a built-in role", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 409, description = "An account or a service key still uses it", body = ErrorBody))
)]
pub async fn delete_role(
    State(app): State<App>,
    caller: Caller,
    body: Body,
) -> Result<StatusCode, Error> {
    caller.require("roles", true)?;
    let n: Name = body.json()?;
    app.access.delete_role(&n.name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/servicekeys",
    tag = "servicekeys",
    responses((status = 200, description = "Keys, shown by prefix only", body = [ServiceKey]))
)]
pub async fn service_keys(
    State(app): State<App>,
    caller: Caller,
) -> Result<Json<Vec<ServiceKey>>, Error> {
    caller.require("servicekeys", false)?;
    Ok(Json(app.access.service_keys().await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewKey {
    #[serde(default)]
    description: String,
    /// The role the key acts with; the caller's own by default.
    #[serde(default)]
    role: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/servicekeys",
    tag = "servicekeys",
    request_body = NewKey,
    responses((status = 200, description = "The new key, shown this once", body = ServiceKey), (status = 400, description = "A malformed or invalid request; the message names the field", body = ErrorBody), (status = 404, description = "No such role", body = ErrorBody))
)]
pub async fn add_service_key(
    State(app): State<App>,
    caller: Caller,
    body: Body,
) -> Result<Json<ServiceKey>, Error> {
    caller.require("servicekeys", true)?;
    let k: NewKey = body.json()?;
    let role = k.role.unwrap_or_else(|| caller.0.role.name.clone());
    app.access.check_grant(&caller.0, &role).await?;
    Ok(Json(
        app.access.create_service_key(&k.description, &role).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Key {
    key: String,
}

#[utoipa::path(
    delete,
    path = "/api/servicekeys",
    tag = "servicekeys",
    request_body = Key,
    responses((status = 204, description = "Removed"), (status = 400, description = "A malformed request, or a prefix that matches more than one key", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody))
)]
pub async fn delete_service_key(
    State(app): State<App>,
    caller: Caller,
    body: Body,
) -> Result<StatusCode, Error> {
    caller.require("servicekeys", true)?;
    let k: Key = body.json()?;
    app.access.delete_service_key(&k.key).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/webhookkeys",
    tag = "webhookkeys",
    responses((status = 200, body = [WebhookKey]))
)]
pub async fn webhook_keys(
    State(app): State<App>,
    caller: Caller,
) -> Result<Json<Vec<WebhookKey>>, Error> {
    caller.require("webhookkeys", false)?;
    Ok(Json(app.access.webhook_keys().await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Image {
    /// The image's repository (`ehazlett/redis`, `registry.example.com/team/app`):
    /// a first component with a `.` before a `/` is a registry host.
    #[schema(
        pattern = "^([a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*|([a-z0-9]+((_|__|-+)[a-z0-9]+)*|[a-z0-9]+(-+[a-z0-9]+)*(\\.[a-z0-9]+(-+[a-z0-9]+)*)+)(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)+)$",
        max_length = 255
    )]
    image: String,
}

#[utoipa::path(
    post,
    path = "/api/webhookkeys",
    tag = "webhookkeys",
    request_body = Image,
    responses((status = 200, description = "The new key, shown this once", body = WebhookKey), (status = 400, description = "A malformed or invalid request; the message names the field", body = ErrorBody))
)]
pub async fn add_webhook_key(
    State(app): State<App>,
    caller: Caller,
    body: Body,
) -> Result<Json<WebhookKey>, Error> {
    caller.require("webhookkeys", true)?;
    let i: Image = body.json()?;
    Ok(Json(app.access.create_webhook_key(&i.image).await?))
}

#[utoipa::path(
    delete,
    path = "/api/webhookkeys/{id}",
    tag = "webhookkeys",
    params(("id" = String, Path, description = "Webhook key id (or the key)")),
    responses((status = 204, description = "Removed"), (status = 400, description = "Fewer than 6 characters, or a prefix that matches more than one key", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody))
)]
pub async fn delete_webhook_key(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    caller.require("webhookkeys", true)?;
    app.access.delete_webhook_key(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Seed 001's other path for the same deletion.
#[utoipa::path(
    delete,
    path = "/api/webhooks/{id}",
    tag = "webhookkeys",
    params(("id" = String, Path, description = "Webhook key id (or the key)")),
    responses((status = 204, description = "Removed"), (status = 400, description = "Fewer than 6 characters, or a prefix that matches more than one key", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody))
)]
pub async fn delete_webhook_key_alias(
    state: State<App>,
    caller: Caller,
    id: Path<String>,
) -> Result<StatusCode, Error> {
    delete_webhook_key(state, caller, id).await
}
