//! Login tokens and password changes, as Shipyard v2's CLI uses them:
//! `POST /auth/login` → `{auth_token}`, then `X-Access-Token:
//! <username>:<token>` on every request; `POST /auth/logout` ends the token
//! sent with it; `POST /account/changepassword` changes the caller's own
//! password and ends all of the account's tokens. An admin sets another
//! account's password with `PUT /api/accounts/{username}`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::auth::{Caller, Credentials};
use crate::error::{Error, ErrorBody};
use crate::extract::{Body, Path, Peer};

/// A login request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Login {
    username: String,
    password: String,
}

/// A new login token: shown once, send it as `X-Access-Token:
/// <username>:<auth_token>`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthToken {
    pub auth_token: String,
    /// The client it was issued to (its `User-Agent`), as Shipyard answered.
    pub user_agent: String,
    /// When it stops being accepted (RFC 3339).
    pub expires: String,
}

fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "accounts",
    request_body = Login,
    security(()),
    responses((status = 200, description = "Logged in", body = AuthToken), (status = 400, description = "A malformed request", body = ErrorBody), (status = 401, description = "Wrong username or password", body = ErrorBody), (status = 429, description = "Too many failed logins from this address or for this username", body = ErrorBody))
)]
pub async fn login(
    State(app): State<App>,
    Peer(from): Peer,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<AuthToken>, Error> {
    let req: Login = body.json()?;
    let agent = user_agent(&headers);
    let token = match app
        .access
        .login(&req.username, &req.password, from, &agent)
        .await
    {
        Ok(Some(t)) => t,
        Ok(None) => return Err(Error::Unauthorized("wrong username or password".into())),
        Err(e @ shipcore::Error::TooMany { .. }) => {
            tokio::time::sleep(crate::auth::TARPIT).await;
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Json(AuthToken {
        auth_token: token.token,
        user_agent: agent,
        expires: shipcore::model::rfc3339(token.expires),
    }))
}

#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "accounts",
    responses((status = 204, description = "The token sent with the request is ended"), (status = 403, description = "The request was not made with a login token", body = ErrorBody), (status = 401, description = "No valid credentials", body = ErrorBody))
)]
pub async fn logout(State(app): State<App>, caller: Caller) -> Result<StatusCode, Error> {
    match &caller.1 {
        Credentials::Token { username, token } => {
            app.access.logout(username, token).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        _ => Err(Error::Forbidden(
            "logout ends a login token: this request was not made with one (X-Access-Token)".into(),
        )),
    }
}

/// A new password.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewPassword {
    #[schema(min_length = 1)]
    password: String,
}

#[utoipa::path(
    post,
    path = "/account/changepassword",
    tag = "accounts",
    request_body = NewPassword,
    responses((status = 200, description = "Changed; every login token of the account is ended (log in again)"), (status = 400, description = "A malformed request or an invalid password", body = ErrorBody), (status = 401, description = "No valid credentials", body = ErrorBody), (status = 403, description = "A service key has no password", body = ErrorBody))
)]
pub async fn change_password(
    State(app): State<App>,
    caller: Caller,
    body: Body,
) -> Result<StatusCode, Error> {
    let username = match &caller.1 {
        Credentials::Token { username, .. } | Credentials::Basic { username, .. } => username,
        Credentials::Key(_) => {
            return Err(Error::Forbidden(
                "a service key has no password to change".into(),
            ))
        }
        Credentials::Certificate(_) => {
            return Err(Error::Forbidden(
                "a client certificate does not change its account's password: sign in with the password"
                    .into(),
            ))
        }
    };
    let req: NewPassword = body.json()?;
    app.access.set_password(username, &req.password).await?;
    Ok(StatusCode::OK)
}

/// Changes to an account.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountChange {
    /// The new password.
    #[schema(min_length = 1)]
    password: String,
}

#[utoipa::path(
    put,
    path = "/api/accounts/{username}",
    tag = "accounts",
    params(("username" = String, Path, description = "The account")),
    request_body = AccountChange,
    responses((status = 204, description = "Changed; every login token of the account is ended"), (status = 400, description = "A malformed request or an invalid password", body = ErrorBody), (status = 404, description = "No such account", body = ErrorBody))
)]
pub async fn set_password(
    State(app): State<App>,
    caller: Caller,
    Path(username): Path<String>,
    body: Body,
) -> Result<StatusCode, Error> {
    caller.require("accounts", true)?;
    let req: AccountChange = body.json()?;
    // Taking over an account is granting its role: only within the caller's own.
    let account = app.access.account(&username).await?;
    app.access
        .check_grant(&caller.0, &account.role.name)
        .await?;
    app.access.set_password(&username, &req.password).await?;
    Ok(StatusCode::NO_CONTENT)
}
