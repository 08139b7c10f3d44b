//! `/api/accounts`, `/api/roles`, `/api/servicekeys`, `/api/webhookkeys`
//! (seed 001). Secrets are shown only when made.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use shipcore::model::{Account, Permission, Role, RoleRef, ServiceKey, WebhookKey};

use crate::auth::Caller;
use crate::error::{parse, ApiError};
use crate::App;

pub async fn accounts(
    State(app): State<App>,
    caller: Caller,
) -> Result<Json<Vec<Account>>, ApiError> {
    caller.require("accounts", false)?;
    Ok(Json(app.access.accounts().await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    username: String,
    password: String,
    role: RoleRef,
}

pub async fn add_account(
    State(app): State<App>,
    caller: Caller,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    caller.require("accounts", true)?;
    let a: NewAccount = parse(&body)?;
    app.access
        .create_account(&a.username, &a.password, &a.role.name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct Username {
    username: String,
}

pub async fn delete_account(
    State(app): State<App>,
    caller: Caller,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    caller.require("accounts", true)?;
    let u: Username = parse(&body)?;
    app.access.delete_account(&u.username).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn roles(State(app): State<App>, caller: Caller) -> Result<Json<Vec<Role>>, ApiError> {
    caller.require("roles", false)?;
    Ok(Json(app.access.roles().await?))
}

pub async fn role(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Role>, ApiError> {
    caller.require("roles", false)?;
    Ok(Json(app.access.role(&name).await?))
}

#[derive(Debug, Deserialize)]
struct NewRole {
    name: String,
    #[serde(default)]
    permissions: Vec<Permission>,
}

pub async fn add_role(
    State(app): State<App>,
    caller: Caller,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    caller.require("roles", true)?;
    let r: NewRole = parse(&body)?;
    app.access.create_role(&r.name, r.permissions).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct Name {
    name: String,
}

pub async fn delete_role(
    State(app): State<App>,
    caller: Caller,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    caller.require("roles", true)?;
    let n: Name = parse(&body)?;
    app.access.delete_role(&n.name).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn service_keys(
    State(app): State<App>,
    caller: Caller,
) -> Result<Json<Vec<ServiceKey>>, ApiError> {
    caller.require("servicekeys", false)?;
    Ok(Json(app.access.service_keys().await?))
}

#[derive(Debug, Deserialize)]
struct NewKey {
    #[serde(default)]
    description: String,
    /// The role the key acts with; the caller's own by default.
    #[serde(default)]
    role: Option<String>,
}

pub async fn add_service_key(
    State(app): State<App>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<ServiceKey>, ApiError> {
    caller.require("servicekeys", true)?;
    let k: NewKey = parse(&body)?;
    let role = k.role.unwrap_or_else(|| caller.0.role.name.clone());
    Ok(Json(
        app.access.create_service_key(&k.description, &role).await?,
    ))
}

#[derive(Debug, Deserialize)]
struct Key {
    key: String,
}

pub async fn delete_service_key(
    State(app): State<App>,
    caller: Caller,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    caller.require("servicekeys", true)?;
    let k: Key = parse(&body)?;
    app.access.delete_service_key(&k.key).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn webhook_keys(
    State(app): State<App>,
    caller: Caller,
) -> Result<Json<Vec<WebhookKey>>, ApiError> {
    caller.require("webhookkeys", false)?;
    Ok(Json(app.access.webhook_keys().await?))
}

#[derive(Debug, Deserialize)]
struct Image {
    image: String,
}

pub async fn add_webhook_key(
    State(app): State<App>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<WebhookKey>, ApiError> {
    caller.require("webhookkeys", true)?;
    let i: Image = parse(&body)?;
    Ok(Json(app.access.create_webhook_key(&i.image).await?))
}

pub async fn delete_webhook_key(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require("webhookkeys", true)?;
    app.access.delete_webhook_key(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
