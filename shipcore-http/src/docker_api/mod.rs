//! The cluster endpoint's Docker Engine API (seed 003 §1.4): the docker
//! CLI and docker-compose pointed at the whole cluster, as classic Swarm
//! offered it. Served on the TLS listener only ([`crate::serve_tls`]),
//! where the client certificate is the credential.
//!
//! - Paths: versioned (`/v1.41/containers/json`) from API 1.12 to 1.41
//!   (Docker 20.10's), and unversioned; a version out of that range gets
//!   Docker's own "too new" / "too old" answer. Unversioned `/volumes…`
//!   are seed 003's (the docker CLI and docker-compose always version
//!   their paths after `_ping`).
//! - Errors in Docker's shape, `{"message": "…"}`, with Docker's statuses;
//!   a placement failure carries the scheduler's per-engine explanation.
//! - Permission areas: `containers` for containers, images, volumes and
//!   networks (reading or changing), `cluster` (read) for `info`, `events`
//!   (read) for the event stream; `_ping` and `version` need only a valid
//!   certificate.
//! - What the cluster cannot do (exec, build, swarm mode, input to an
//!   attached container, …) answers 501 naming the call. Attaching gives a
//!   container's output from its start to its end, so `docker run`
//!   without `-d` works.
//!
//! `system.rs`: `_ping`, `version`, `info`, `events`; `containers.rs`:
//! the container calls; `objects.rs`: images, volumes and networks;
//! `wire.rs`: Docker's request and answer shapes.

mod containers;
pub(crate) mod objects;
mod system;
pub(crate) mod wire;

use std::collections::BTreeMap;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::app::App;
use crate::error::{Envelope, Error, Failure};

/// The newest API version served (Docker 20.10's).
pub const API_VERSION: &str = "1.41";
/// The oldest API version served.
pub const MIN_API_VERSION: &str = "1.12";

/// The area of containers, images, volumes and networks.
pub const AREA: &str = "containers";

/// Where a request to the cluster endpoint goes.
pub enum Dispatch {
    /// To the Docker API, its version prefix taken off.
    Docker(Request),
    /// To the facade's families.
    Facade(Request),
    /// Answered already (a version out of range).
    Answer(Response),
}

/// The unversioned paths that are the Docker API's on the cluster endpoint.
fn docker_path(path: &str) -> bool {
    const PREFIXES: [&str; 10] = [
        "/_ping",
        "/version",
        "/info",
        "/events",
        "/containers/",
        "/images/",
        "/networks",
        "/system/",
        "/exec/",
        "/build",
    ];
    PREFIXES
        .iter()
        .any(|p| path == p.trim_end_matches('/') || path.starts_with(p))
}

/// `(major, minor)` of `1.41`.
fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Sends a request to the Docker API or to the facade.
pub fn dispatch(mut req: Request) -> Dispatch {
    let path = req.uri().path();
    let versioned = path
        .strip_prefix("/v")
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(v, rest)| parse_version(v).map(|n| (v.to_string(), n, format!("/{rest}"))));
    let Some((version, number, rest)) = versioned else {
        return if docker_path(path) {
            Dispatch::Docker(req)
        } else {
            Dispatch::Facade(req)
        };
    };
    let max = parse_version(API_VERSION).unwrap_or((1, 41));
    let min = parse_version(MIN_API_VERSION).unwrap_or((1, 12));
    if number > max {
        return Dispatch::Answer(message(
            StatusCode::BAD_REQUEST,
            &format!(
                "client version {version} is too new. Maximum supported API version is {API_VERSION}"
            ),
        ));
    }
    if number < min {
        return Dispatch::Answer(message(
            StatusCode::BAD_REQUEST,
            &format!(
                "client version {version} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
            ),
        ));
    }
    let uri = match req.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest,
    };
    match uri.parse() {
        Ok(uri) => {
            *req.uri_mut() = uri;
            Dispatch::Docker(req)
        }
        Err(_) => Dispatch::Answer(message(StatusCode::BAD_REQUEST, "invalid request path")),
    }
}

/// Docker's error answer.
pub fn message(status: StatusCode, message: &str) -> Response {
    let mut res = (
        status,
        axum::Json(serde_json::json!({ "message": message })),
    )
        .into_response();
    res.headers_mut()
        .insert("api-version", HeaderValue::from_static(API_VERSION));
    res
}

/// Docker's 404 for an image no engine holds (the docker CLI pulls on it).
pub fn no_such_image(name: &str) -> Response {
    message(StatusCode::NOT_FOUND, &format!("No such image: {name}"))
}

/// Whether `labels` carry every one of `wanted` (`key` or `key=value`), as
/// Docker's `label` filter reads them.
pub fn has_labels(labels: &BTreeMap<String, String>, wanted: &[String]) -> bool {
    wanted.iter().all(|l| match l.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(l),
    })
}

/// Docker's error shape for every failure of the family.
struct Docker;

impl Envelope for Docker {
    fn render(f: Failure) -> Response {
        let text = if f.refusals.is_empty() {
            f.message
        } else {
            format!("{} ({})", f.message, f.refusals.join("; "))
        };
        let mut res = message(f.status, &text);
        if let Some(secs) = f.retry_after {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        res
    }
}

/// Every route of the Docker API, unversioned (the version is taken off
/// by [`dispatch`]), with what every request meets: the deadline, the
/// same-site rule, the close of a connection left with an unread body,
/// logs and metrics.
pub fn router(app: App) -> Router {
    use axum::routing::{any, get, post};
    let family = Router::new()
        .route("/_ping", get(system::ping).head(system::ping))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/events", get(system::events))
        .route("/containers/json", get(containers::list))
        .route("/containers/create", post(containers::create))
        .route("/containers/{id}/json", get(containers::inspect))
        .route("/containers/{id}/start", post(containers::start))
        .route("/containers/{id}/stop", post(containers::stop))
        .route("/containers/{id}/kill", post(containers::kill))
        .route("/containers/{id}/restart", post(containers::restart))
        .route("/containers/{id}/logs", get(containers::logs))
        .route("/containers/{id}/wait", post(containers::wait))
        .route("/containers/{id}/attach", post(containers::attach))
        .route(
            "/containers/{id}",
            axum::routing::delete(containers::remove),
        )
        .route("/images/json", get(objects::images))
        .route("/images/create", post(objects::pull))
        .route("/images/{*name}", get(objects::image))
        .route("/volumes", get(objects::volumes))
        .route("/volumes/create", post(objects::volume_create))
        .route(
            "/volumes/{name}",
            get(objects::volume).delete(objects::volume_remove),
        )
        .route("/networks", get(objects::networks))
        .route("/networks/create", post(objects::network_create))
        .route(
            "/networks/{id}",
            get(objects::network).delete(objects::network_remove),
        )
        .route("/networks/{id}/connect", post(objects::network_connect))
        .route(
            "/networks/{id}/disconnect",
            post(objects::network_disconnect),
        )
        .route("/containers/{id}/{*call}", any(unsupported))
        .route("/exec/{*call}", any(unsupported))
        .route("/build", any(unsupported))
        .route("/system/{*call}", any(unsupported))
        .route("/swarm", any(unsupported))
        .route("/swarm/{*call}", any(unsupported))
        .route("/nodes", any(unsupported))
        .route("/services", any(unsupported))
        .route("/services/{*call}", any(unsupported))
        .route("/plugins", any(unsupported))
        .route("/plugins/{*call}", any(unsupported))
        .route("/session", any(unsupported))
        .route("/distribution/{*call}", any(unsupported))
        .route("/auth", any(unsupported))
        .route("/commit", any(unsupported))
        .fallback(|| async { Error::NoRoute("page not found".into()) })
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            Error::NoMethod(format!("this endpoint does not take {method}"))
        });
    crate::error::with_envelope::<Docker, App>(family)
        .layer(axum::middleware::from_fn(crate::guard::same_site))
        .layer(axum::middleware::from_fn(crate::guard::close_unread))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::guard::deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::observe::track,
        ))
        .with_state(app)
}

/// A call the cluster endpoint does not serve: 501 naming it.
async fn unsupported(req: Request) -> Response {
    message(
        StatusCode::NOT_IMPLEMENTED,
        &format!(
            "{} {} is not supported by the shipcore cluster endpoint (no exec, build or swarm mode)",
            req.method(),
            req.uri().path()
        ),
    )
}

/// A query string as Docker clients send it: every value a string.
pub type QueryMap = BTreeMap<String, String>;

/// A boolean query parameter as Docker reads it (`1`, `true`, `True`…;
/// absent, empty, `0` and `false` are false).
pub fn flag(q: &QueryMap, key: &str) -> bool {
    q.get(key)
        .is_some_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "" | "0" | "false" | "no"))
}

/// A number query parameter; a malformed one is a 400 naming it.
pub fn number<T: std::str::FromStr>(q: &QueryMap, key: &str) -> Result<Option<T>, Error> {
    match q.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| Error::bad_request(format!("invalid {key}: {v:?} is not a number"))),
    }
}

/// Docker's `filters` parameter: `{"label":["a=b"]}` or the older
/// `{"label":{"a=b":true}}`.
pub fn filters(q: &QueryMap) -> Result<BTreeMap<String, Vec<String>>, Error> {
    let Some(raw) = q.get("filters").filter(|f| !f.trim().is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let value: serde_json::Value = serde_json::from_str(raw)
        .map_err(|e| Error::bad_request(format!("invalid filters: {e}")))?;
    let serde_json::Value::Object(map) = value else {
        return Err(Error::bad_request("invalid filters: not a JSON object"));
    };
    let mut out = BTreeMap::new();
    for (key, v) in map {
        let values: Vec<String> = match v {
            serde_json::Value::Array(items) => items
                .into_iter()
                .map(|i| match i {
                    serde_json::Value::String(s) => Ok(s),
                    other => Err(Error::bad_request(format!(
                        "invalid filters: {key}: {other} is not a string"
                    ))),
                })
                .collect::<Result<_, _>>()?,
            serde_json::Value::Object(set) => set
                .into_iter()
                .filter(|(_, on)| on.as_bool().unwrap_or(false))
                .map(|(k, _)| k)
                .collect(),
            other => {
                return Err(Error::bad_request(format!(
                    "invalid filters: {key}: {other} is neither a list nor a set"
                )))
            }
        };
        out.insert(key, values);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
