//! `/api/engines` and `/api/cluster/info` (seed 001). TLS keys are never
//! sent back.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use bytes::Bytes;
use serde::Serialize;
use shipcore::cluster::{ClusterInfo, EngineDoc};
use shipcore::model::{Engine, EngineRecord};

use crate::auth::Caller;
use crate::error::{parse, ApiError, AuthErrors, ErrorBody, Path};
use crate::App;

const AREA: &str = "engines";
/// The permission area of `/api/cluster/info`.
pub(crate) const INFO_AREA: &str = "cluster";

/// An engine as Shipyard lists it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EngineView {
    pub id: String,
    pub engine: Engine,
}

fn view(doc: EngineDoc) -> EngineView {
    let mut engine = doc.record.engine;
    engine.health = doc.health;
    EngineView {
        id: doc.record.id,
        engine,
    }
}

#[utoipa::path(
    get,
    path = "/api/engines",
    tag = "engines",
    responses((status = 200, body = [EngineView]), AuthErrors)
)]
pub async fn list(
    State(app): State<App>,
    caller: Caller,
) -> Result<Json<Vec<EngineView>>, ApiError> {
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
    responses((status = 200, body = EngineView), (status = 404, body = ErrorBody), AuthErrors)
)]
pub async fn inspect(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EngineView>, ApiError> {
    caller.require(AREA, false)?;
    Ok(Json(view(app.cluster.engine(&id).await?)))
}

#[utoipa::path(
    post,
    path = "/api/engines",
    tag = "engines",
    request_body = EngineRecord,
    responses((status = 201, body = EngineView), (status = 400, body = ErrorBody), (status = 409, description = "The id is taken", body = ErrorBody), (status = 502, description = "The engine did not answer", body = ErrorBody), AuthErrors)
)]
pub async fn add(
    State(app): State<App>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<EngineView>), ApiError> {
    caller.require(AREA, true)?;
    let record: EngineRecord = parse(&body)?;
    Ok((
        StatusCode::CREATED,
        Json(view(app.cluster.add_engine(record).await?)),
    ))
}

#[utoipa::path(
    delete,
    path = "/api/engines/{id}",
    tag = "engines",
    params(("id" = String, Path, description = "Engine id")),
    responses((status = 204, description = "Removed"), (status = 404, body = ErrorBody), AuthErrors)
)]
pub async fn remove(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(AREA, true)?;
    app.cluster.remove_engine(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/cluster/info",
    tag = "cluster",
    responses((status = 200, body = ClusterInfo), AuthErrors)
)]
/// Served from the last rendering until the cluster changes.
pub async fn info(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require(INFO_AREA, false)?;
    app.info_json
        .respond(&app.cluster, &headers, || app.cluster.info_at())
        .await
}
