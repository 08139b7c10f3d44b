//! `/api/engines` and `/api/cluster/info` (seed 001). TLS keys are never
//! sent back.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::Serialize;
use shipcore::cluster::{EngineDoc, Totals};
use shipcore::model::{Engine, EngineRecord};

use crate::app::App;
use crate::auth::Caller;
use crate::error::{Error, ErrorBody};
use crate::extract::{Body, Path, Query};

const AREA: &str = "engines";
/// The permission area of `/api/cluster/info`.
pub(crate) const INFO_AREA: &str = "cluster";

/// Shipyard's `/api/cluster/info`, with the cluster's identity and the
/// containers on its engines that are not its own.
#[derive(Debug, Clone, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct ClusterInfo {
    /// The cluster's identity: the ownership label of its containers.
    pub cluster: String,
    pub cpus: f64,
    /// MiB.
    pub memory: u64,
    pub reserved_cpus: f64,
    pub reserved_memory: u64,
    pub engine_count: usize,
    pub container_count: usize,
    pub image_count: usize,
    /// Containers on the cluster's engines that another cluster (or no
    /// cluster) made: never listed, never touched.
    pub foreign_container_count: usize,
}

impl ClusterInfo {
    fn new(cluster: &str, t: Totals) -> Self {
        ClusterInfo {
            cluster: cluster.to_string(),
            cpus: t.cpus as f64 / 1000.0,
            memory: t.memory,
            reserved_cpus: t.reserved_cpus as f64 / 1000.0,
            reserved_memory: t.reserved_memory,
            engine_count: t.engines,
            container_count: t.containers,
            image_count: t.images,
            foreign_container_count: t.foreign,
        }
    }
}

/// An engine's last health check, as Shipyard v2 answered it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthView {
    /// `healthy`, `unhealthy`, or `unknown` before the first check.
    pub status: shipcore::model::Health,
    /// How long the check's ping took, in nanoseconds (0 when it failed).
    pub response_time: u64,
}

/// An engine as Shipyard lists it: the seed's `{id, engine}`, and Shipyard
/// v2's outer `health` object and `docker_version` beside them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EngineView {
    pub id: String,
    pub engine: Engine,
    pub health: HealthView,
    /// The engine's Docker version, as the last health check read it.
    pub docker_version: String,
}

fn view(doc: EngineDoc) -> EngineView {
    let mut engine = doc.record.engine;
    engine.health = doc.health;
    EngineView {
        id: doc.record.id,
        engine,
        health: HealthView {
            status: doc.health,
            response_time: doc.response_time_ns,
        },
        docker_version: doc.docker_version,
    }
}

#[utoipa::path(
    get,
    path = "/api/engines",
    tag = "engines",
    responses((status = 200, body = [EngineView]))
)]
pub async fn list(State(app): State<App>, caller: Caller) -> Result<Json<Vec<EngineView>>, Error> {
    caller.require(AREA, false)?;
    Ok(Json(
        app.cluster.engines().await.into_iter().map(view).collect(),
    ))
}

#[utoipa::path(
    get,
    path = "/api/engines/{id}",
    tag = "engines",
    params(("id" = String, Path, description = "Engine id")),
    responses((status = 200, body = EngineView), (status = 404, description = "No such object", body = ErrorBody))
)]
pub async fn inspect(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EngineView>, Error> {
    caller.require(AREA, false)?;
    Ok(Json(view(app.cluster.engine(&id).await?)))
}

#[utoipa::path(
    post,
    path = "/api/engines",
    tag = "engines",
    request_body = EngineRecord,
    responses((status = 201, body = EngineView), (status = 400, description = "A malformed request, an invalid field, or more capacity than the engine has", body = ErrorBody), (status = 409, description = "The id is taken", body = ErrorBody), (status = 502, description = "The engine failed or could not be reached", body = ErrorBody), (status = 504, description = "The engine did not answer in time", body = ErrorBody))
)]
pub async fn add(
    State(app): State<App>,
    caller: Caller,
    body: Body,
) -> Result<(StatusCode, Json<EngineView>), Error> {
    caller.require(AREA, true)?;
    let record: EngineRecord = body.json()?;
    Ok((
        StatusCode::CREATED,
        Json(view(app.cluster.add_engine_by(record, &caller.0).await?)),
    ))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Removal {
    /// Remove an engine that holds containers: they are removed there, and
    /// those that should run (restart policy `always`, `unless-stopped`)
    /// are placed elsewhere.
    #[serde(default)]
    force: bool,
}

#[utoipa::path(
    delete,
    path = "/api/engines/{id}",
    tag = "engines",
    params(("id" = String, Path, description = "The registration's id or engine.id"), Removal),
    responses((status = 204, description = "Removed"), (status = 400, description = "A malformed or invalid request; the message names the field", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 409, description = "The engine holds containers of the cluster and `force` was not given", body = ErrorBody), (status = 502, description = "The engine failed or could not be reached", body = ErrorBody), (status = 504, description = "The engine did not answer in time", body = ErrorBody))
)]
pub async fn remove(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<Removal>,
) -> Result<StatusCode, Error> {
    caller.require(AREA, true)?;
    app.cluster.remove_engine(&id, q.force).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/cluster/info",
    tag = "cluster",
    responses((status = 200, body = ClusterInfo))
)]
/// Served from the last rendering until the cluster changes.
pub async fn info(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, Error> {
    caller.require(INFO_AREA, false)?;
    app.info_json
        .respond(&app.cluster, &headers, || async {
            let (generation, totals) = app.cluster.totals().await;
            (generation, ClusterInfo::new(app.cluster.identity(), totals))
        })
        .await
}
