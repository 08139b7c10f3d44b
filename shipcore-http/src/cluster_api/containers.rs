//! `/api/containers`: list, deploy, inspect, destroy, stop, restart, scale,
//! logs (seed 001).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use shipcore::engine::LogOptions;
use shipcore::model::{Container, ImageConfig};

use super::released::{self, Wire};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{Error, ErrorBody};
use crate::extract::{Body, Path, Query};

pub(crate) const AREA: &str = "containers";

/// The list is served from the last rendering until the cluster changes:
/// with 10k containers, rendering is what costs. Shipyard's released CLI
/// gets its own rendering (see `released.rs`).
#[utoipa::path(
    get,
    path = "/api/containers",
    tag = "containers",
    responses((status = 200, description = "Every container of the cluster", body = [Container]))
)]
pub async fn list(
    State(app): State<App>,
    caller: Caller,
    wire: Wire,
    headers: HeaderMap,
) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    if wire.released {
        return app
            .containers_cli_json
            .respond(&app.cluster, &headers, || async {
                let (generation, list) = app.cluster.containers_at().await;
                (generation, released::containers(&list, wire))
            })
            .await;
    }
    app.containers_json
        .respond(&app.cluster, &headers, || app.cluster.containers_at())
        .await
}

/// `?count=`: read whole, so that who asks is settled (403) before what
/// is asked (400).
#[derive(Debug, Deserialize)]
pub struct Count {
    count: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeployQuery {
    /// How many containers (1 to 1000).
    #[param(minimum = 1, maximum = 1000)]
    count: Option<u32>,
    /// Pull the image on the chosen engines first, even where they hold it
    /// (Shipyard's CLI sends `pull=true|false`).
    #[serde(default)]
    pull: bool,
    /// Create nothing: answer where the containers would go, and why each
    /// other engine would not take one (the dashboard's deploy form).
    #[serde(default)]
    dry_run: bool,
}

/// A deploy's dry run: the engines chosen, replica by replica, and every
/// other engine with the first check it fails.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DryRunAnswer {
    pub engines: Vec<Chosen>,
    /// `engine: reason` for each engine that would get none.
    pub refusals: Vec<String>,
}

/// An engine a dry run chose.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Chosen {
    pub engine: String,
    /// The engine holds the image already: no pull.
    pub holds_image: bool,
}

/// Fields Shipyard's CLI can send that shipd does not carry out: refused
/// when set, never dropped silently.
const REFUSED: [(&str, &str); 5] = [
    (
        "cpuset",
        "pinning to CPUs is not supported: the scheduler places by cpus",
    ),
    (
        "publish",
        "publishing every exposed port is not supported: list them in bind_ports",
    ),
    ("privileged", "privileged containers are not supported"),
    ("user_data", "user_data is not supported"),
    (
        "entrypoint",
        "entrypoint is not supported: give the command in args",
    ),
];

/// Refuses a deploy body's fields that are set but not carried out, and
/// fields no version of the API knows, naming them.
pub(crate) fn check_fields(body: &serde_json::Value) -> Result<(), Error> {
    const KNOWN: [&str; 15] = [
        "name",
        "cpus",
        "memory",
        "type",
        "hostname",
        "domain",
        "labels",
        "args",
        "environment",
        "restart_policy",
        "bind_ports",
        "links",
        "container_name",
        "network_mode",
        "volumes",
    ];
    let Some(fields) = body.as_object() else {
        return Ok(());
    };
    for (key, value) in fields {
        if let Some((_, why)) = REFUSED.iter().find(|(k, _)| k == key) {
            let unset = match value {
                serde_json::Value::Null => true,
                serde_json::Value::Bool(b) => !b,
                serde_json::Value::String(s) => s.is_empty(),
                serde_json::Value::Array(a) => a.is_empty(),
                serde_json::Value::Object(o) => o.is_empty(),
                serde_json::Value::Number(_) => false,
            };
            if !unset {
                return Err(Error::bad_request(format!("{key}: {why}")));
            }
        } else if !KNOWN.contains(&key.as_str()) {
            return Err(Error::bad_request(format!("unknown field {key:?}")));
        }
    }
    Ok(())
}

#[utoipa::path(
    post,
    path = "/api/containers",
    tag = "containers",
    params(DeployQuery),
    request_body = ImageConfig,
    responses((status = 201, description = "The containers placed and started", body = [Container]), (status = 200, description = "With `dry_run=true`: where they would go, and why not elsewhere; nothing is made", body = DryRunAnswer), (status = 400, description = "Malformed body or invalid field, or an engine refused a field", body = ErrorBody), (status = 404, description = "The image is not on the engine and its registry has no such repository or tag", body = ErrorBody), (status = 409, description = "No engine can take it; `refusals` explains each engine", body = ErrorBody), (status = 502, description = "The engine failed or could not be reached", body = ErrorBody), (status = 504, description = "The engine did not answer in time, or a pull took too long", body = ErrorBody))
)]
pub async fn deploy(
    State(app): State<App>,
    caller: Caller,
    wire: Wire,
    Query(q): Query<DeployQuery>,
    body: Body,
) -> Result<Response, Error> {
    caller.require(AREA, true)?;
    let fields: serde_json::Value = body.json()?;
    check_fields(&fields)?;
    let cfg: ImageConfig = crate::extract::from_value(fields)?;
    if q.dry_run {
        let run = app
            .cluster
            .dry_run_as(&caller.0.owner(), &cfg, q.count.unwrap_or(1))
            .await?;
        return Ok(Json(DryRunAnswer {
            engines: run
                .placement
                .assignments
                .into_iter()
                .map(|a| Chosen {
                    engine: a.engine,
                    holds_image: a.holds_image,
                })
                .collect(),
            refusals: run.refused.iter().map(ToString::to_string).collect(),
        })
        .into_response());
    }
    let placed = app
        .cluster
        .deploy_as(
            std::sync::Arc::new(caller.0.owner()),
            cfg,
            q.count.unwrap_or(1),
            q.pull,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(released::containers(&placed, wire)),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/api/containers/{id}",
    tag = "containers",
    params(("id" = String, Path, description = "Container id (or a unique prefix)")),
    responses((status = 200, body = Container), (status = 400, description = "An id prefix that matches more than one", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody))
)]
pub async fn inspect(
    State(app): State<App>,
    caller: Caller,
    wire: Wire,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, Error> {
    caller.require(AREA, false)?;
    let c = app.cluster.container(&id).await?;
    Ok(Json(released::container(&c, wire)))
}

#[utoipa::path(
    delete,
    path = "/api/containers/{id}",
    tag = "containers",
    params(("id" = String, Path, description = "Container id (or a unique prefix)")),
    responses((status = 204, description = "Removed"), (status = 400, description = "An id prefix that matches more than one", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 502, description = "The engine failed or could not be reached", body = ErrorBody), (status = 504, description = "The engine did not answer in time", body = ErrorBody))
)]
pub async fn destroy(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    caller.require(AREA, true)?;
    app.cluster.destroy(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/containers/{id}/stop",
    tag = "containers",
    params(("id" = String, Path, description = "Container id (or a unique prefix)")),
    responses((status = 204, description = "Stopped"), (status = 400, description = "An id prefix that matches more than one", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 502, description = "The engine failed or could not be reached", body = ErrorBody), (status = 504, description = "The engine did not answer in time", body = ErrorBody))
)]
pub async fn stop(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    caller.require(AREA, true)?;
    app.cluster.stop(&id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/containers/{id}/restart",
    tag = "containers",
    params(("id" = String, Path, description = "Container id (or a unique prefix)")),
    responses((status = 204, description = "Restarted"), (status = 400, description = "An id prefix that matches more than one", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 502, description = "The engine failed or could not be reached", body = ErrorBody), (status = 504, description = "The engine did not answer in time", body = ErrorBody))
)]
pub async fn restart(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    caller.require(AREA, true)?;
    app.cluster.restart(&id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/containers/{id}/scale",
    tag = "containers",
    params(("id" = String, Path, description = "Container id (or a unique prefix)"), ("count" = u32, Query, description = "How many containers of the image there should be (0 to 1000; 0 removes them all)", minimum = 0, maximum = 1000)),
    responses((status = 204, description = "Scaled to `count` containers of that image"), (status = 400, description = "A malformed or invalid request; the message names the field", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 409, description = "No engine can take the new containers; `refusals` explains each engine", body = ErrorBody), (status = 502, description = "The engine failed or could not be reached", body = ErrorBody), (status = 504, description = "The engine did not answer in time", body = ErrorBody))
)]
pub async fn scale(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<Count>,
) -> Result<StatusCode, Error> {
    caller.require(AREA, true)?;
    let count = q
        .count
        .ok_or_else(|| Error::bad_request("count is required: ?count=N"))?;
    app.cluster.scale(&id, count).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Logs {
    /// The last lines to send (default 1000), or `all`.
    tail: Option<String>,
    /// Keep the answer open and send new output as the container writes
    /// it (it ends with the container, or once the caller's credentials
    /// are revoked).
    #[serde(default)]
    follow: bool,
    /// Shipyard's CLI sends `stdout=1&stderr=1`; both are sent either way.
    #[allow(dead_code)]
    stdout: Option<String>,
    #[allow(dead_code)]
    stderr: Option<String>,
}

/// Lines of output sent when `tail` is not given.
const TAIL: u64 = 1000;

#[utoipa::path(
    get,
    path = "/api/containers/{id}/logs",
    tag = "containers",
    params(("id" = String, Path, description = "Container id (or a unique prefix)"), Logs),
    responses((status = 200, description = "The container's output (stdout and stderr), streamed as the engine sends it", body = String, content_type = "text/plain"), (status = 400, description = "A malformed or invalid request; the message names the field", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 502, description = "The engine failed or could not be reached", body = ErrorBody), (status = 504, description = "The engine did not answer in time", body = ErrorBody))
)]
pub async fn logs(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<Logs>,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, false)?;
    let tail = match q.tail.as_deref() {
        None => Some(TAIL),
        Some("all") => None,
        // More lines than a number can hold: every line.
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => n.parse().ok(),
        Some(n) => {
            return Err(Error::bad_request(format!(
                "tail must be a number of lines or all, got {n:?}"
            )))
        }
    };
    let options = LogOptions {
        tail,
        follow: q.follow,
        ..LogOptions::default()
    };
    let stream = app
        .cluster
        .logs(&id, &options)
        .await?
        .map_ok(|chunk| bytes::Bytes::from(chunk.data));
    let stream = crate::auth::until_revoked(&app, &caller, (AREA, false), stream);
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        axum::body::Body::from_stream(stream),
    ))
}
