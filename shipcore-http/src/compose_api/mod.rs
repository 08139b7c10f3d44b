//! The container service API of seed 003: compose projects, their services
//! and volumes (`/projects/...`, `/services/...`, `/volumes/...`), in the
//! plain JSON envelope with HTTP status codes, under the `projects`
//! permission area; and the cluster CA's client certificates
//! (`/clusters/{name}/certs`). Each handler checks the area and, for one
//! project, service or volume, that it is the caller's (`Projects::reach`:
//! what is not is missing to the caller), parses, calls one
//! [`shipcore::projects::Projects`] function and renders.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use shipcore::projects::{NewProject, NewVolume, ProjectUpdate, Projects};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{Error, ErrorBody};
use crate::extract::{Body, Path, Query};

const AREA: &str = "projects";

/// Every route of the 003 API.
pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(list_slash, create_slash))
        .routes(routes!(view, delete))
        .routes(routes!(config))
        .routes(routes!(start))
        .routes(routes!(stop))
        .routes(routes!(kill))
        .routes(routes!(redeploy))
        .routes(routes!(update))
        .routes(routes!(confirm))
        .routes(routes!(rollback))
        .routes(routes!(services))
        .routes(routes!(services_slash))
        .routes(routes!(service))
        .routes(routes!(service_start))
        .routes(routes!(service_stop))
        .routes(routes!(service_kill))
        .routes(routes!(service_scale))
        .routes(routes!(volumes))
        .routes(routes!(volume_create))
        .routes(routes!(volume, volume_delete))
        .routes(routes!(certs))
        .routes(routes!(certs_issued))
        .routes(routes!(cert_revoke))
}

fn projects(app: &App) -> Result<&Projects, Error> {
    app.projects
        .as_ref()
        .ok_or_else(|| Error::NoRoute("compose projects are not enabled on this server".into()))
}

fn flag(v: &Option<String>) -> Result<bool, Error> {
    match v.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(Error::bad_request(format!(
            "expected true or false, got {other:?}"
        ))),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only names containing this.
    q: Option<String>,
    /// With each project's services.
    #[param(value_type = Option<bool>)]
    services: Option<String>,
    /// With each service's containers.
    #[param(value_type = Option<bool>)]
    containers: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Even while it runs.
    #[param(value_type = Option<bool>)]
    force: Option<String>,
    /// Its volumes too.
    v: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StopQuery {
    /// Seconds to wait before killing (default 10, at most 600).
    t: Option<u64>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct KillQuery {
    /// The signal's name (default KILL).
    signal: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ForceQuery {
    #[param(value_type = Option<bool>)]
    force: Option<String>,
}

fn timeout(q: &StopQuery) -> Result<Duration, Error> {
    match q.t {
        None => Ok(Duration::from_secs(10)),
        Some(t) if t <= 600 => Ok(Duration::from_secs(t)),
        Some(t) => Err(Error::bad_request(format!(
            "t must be at most 600 seconds, got {t}"
        ))),
    }
}

async fn list_projects(
    app: &App,
    caller: &Caller,
    q: &ListQuery,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, false)?;
    let containers = flag(&q.containers)?;
    let services = flag(&q.services)? || containers;
    let list = projects(app)?
        .list(
            q.q.as_deref().unwrap_or(""),
            services,
            containers,
            &caller.0.owner(),
        )
        .await?;
    Ok(Json(list))
}

async fn create_project(
    app: &App,
    caller: &Caller,
    body: &Body,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, true)?;
    let req: NewProject = body.json()?;
    let owner = caller.0.owner();
    let doc = projects(app)?.create(req, &owner).await?;
    let view = projects(app)?.get(&doc.name, false, false, &owner).await?;
    let location = format!("/projects/{}", doc.name);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    ))
}

#[utoipa::path(get, path = "/projects", tag = "projects", params(ListQuery), responses((status = 200, description = "The projects the caller may see (its own; an admin's: all)")))]
pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<impl IntoResponse, Error> {
    list_projects(&app, &caller, &q).await
}

#[utoipa::path(get, path = "/projects/", tag = "projects", params(ListQuery), responses((status = 200, description = "The projects the caller may see (its own; an admin's: all)")))]
pub async fn list_slash(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<impl IntoResponse, Error> {
    list_projects(&app, &caller, &q).await
}

#[utoipa::path(post, path = "/projects", tag = "projects", request_body = shipcore::projects::NewProject, responses((status = 201, description = "Created and starting; Location names it"), (status = 400, description = "Invalid name, template or environment (the template's errors name service, key and line)", body = ErrorBody), (status = 409, description = "A project of that name exists", body = ErrorBody)))]
pub async fn create(
    State(app): State<App>,
    caller: Caller,
    body: Body,
) -> Result<impl IntoResponse, Error> {
    create_project(&app, &caller, &body).await
}

#[utoipa::path(post, path = "/projects/", tag = "projects", request_body = shipcore::projects::NewProject, responses((status = 201, description = "Created and starting; Location names it"), (status = 400, description = "Invalid name, template or environment", body = ErrorBody), (status = 409, description = "A project of that name exists", body = ErrorBody)))]
pub async fn create_slash(
    State(app): State<App>,
    caller: Caller,
    body: Body,
) -> Result<impl IntoResponse, Error> {
    create_project(&app, &caller, &body).await
}

#[utoipa::path(get, path = "/projects/{name}", tag = "projects", params(("name" = String, Path,), ListQuery), responses((status = 200, description = "The project"), (status = 404, description = "No such project", body = ErrorBody)))]
pub async fn view(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, false)?;
    let containers = flag(&q.containers)?;
    let services = q.services.is_none() || flag(&q.services)? || containers;
    Ok(Json(
        projects(&app)?
            .get(&name, services, containers, &caller.0.owner())
            .await?,
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConfigQuery {
    /// `yaml` (the default) or `json`.
    format: Option<String>,
}

/// `GET /projects/{name}/config`: the compose file as shipcore understood
/// it, as `docker compose config` prints one.
#[utoipa::path(get, path = "/projects/{name}/config", tag = "projects", params(("name" = String, Path,), ConfigQuery), responses((status = 200, description = "The normalised compose file (YAML, or JSON with format=json)"), (status = 400, description = "format is not yaml or json", body = ErrorBody), (status = 404, description = "No such project", body = ErrorBody)))]
pub async fn config(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<ConfigQuery>,
) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    let spec = projects(&app)?.config(&name, &caller.0.owner()).await?;
    match q.format.as_deref().unwrap_or("yaml") {
        "json" => Ok(Json(spec).into_response()),
        "yaml" => Ok((
            [(header::CONTENT_TYPE, "application/yaml")],
            shipcore::compose::to_yaml(&spec),
        )
            .into_response()),
        other => Err(Error::bad_request(format!(
            "format must be yaml or json, not {other:?}"
        ))),
    }
}

#[utoipa::path(delete, path = "/projects/{name}", tag = "projects", params(("name" = String, Path,), DeleteQuery), responses((status = 200, description = "Deleted"), (status = 404, description = "No such project", body = ErrorBody), (status = 409, description = "It runs (use force=true), or an update is under way", body = ErrorBody)))]
pub async fn delete(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, true)?;
    let projects = projects(&app)?;
    projects.reach(&name, &caller.0.owner(), true).await?;
    projects.delete(&name, flag(&q.force)?, flag(&q.v)?).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(post, path = "/projects/{name}/start", tag = "projects", params(("name" = String, Path,)), responses((status = 200, description = "Every service runs, in dependency order"), (status = 409, description = "Not now (the reason says why), or a service did not become ready", body = ErrorBody)))]
pub async fn start(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, true)?;
    let projects = projects(&app)?;
    projects.reach(&name, &caller.0.owner(), true).await?;
    projects.start(&name).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(post, path = "/projects/{name}/stop", tag = "projects", params(("name" = String, Path,), StopQuery), responses((status = 200, description = "Stopped"), (status = 409, description = "Not now", body = ErrorBody)))]
pub async fn stop(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<StopQuery>,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, true)?;
    let projects = projects(&app)?;
    projects.reach(&name, &caller.0.owner(), true).await?;
    projects.stop(&name, timeout(&q)?).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(post, path = "/projects/{name}/kill", tag = "projects", params(("name" = String, Path,), KillQuery), responses((status = 200, description = "Signalled"), (status = 409, description = "Not now", body = ErrorBody)))]
pub async fn kill(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<KillQuery>,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, true)?;
    let projects = projects(&app)?;
    projects.reach(&name, &caller.0.owner(), true).await?;
    projects
        .kill(&name, q.signal.as_deref().unwrap_or("KILL"))
        .await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(post, path = "/projects/{name}/redeploy", tag = "projects", params(("name" = String, Path,)), responses((status = 200, description = "Containers made anew (images pulled where a registry has them)"), (status = 409, description = "Not now", body = ErrorBody)))]
pub async fn redeploy(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, true)?;
    let projects = projects(&app)?;
    projects.reach(&name, &caller.0.owner(), true).await?;
    projects.redeploy(&name).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(post, path = "/projects/{name}/update", tag = "projects", params(("name" = String, Path,)), responses((status = 202, description = "The update runs (rolling, or blue-green with update_method)"), (status = 400, description = "Invalid template or fields", body = ErrorBody), (status = 409, description = "Same version, or an update under way", body = ErrorBody)))]
pub async fn update(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
    body: Body,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, true)?;
    let owner = caller.0.owner();
    let projects = projects(&app)?;
    projects.reach(&name, &owner, true).await?;
    let req: ProjectUpdate = body.json()?;
    projects.update(&name, req, &owner).await?;
    Ok(StatusCode::ACCEPTED)
}

#[utoipa::path(post, path = "/projects/{name}/confirm-update", tag = "projects", params(("name" = String, Path,), ForceQuery), responses((status = 202, description = "The old version is being removed"), (status = 409, description = "No update ready to confirm (the reason says why)", body = ErrorBody)))]
pub async fn confirm(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<ForceQuery>,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, true)?;
    let projects = projects(&app)?;
    projects.reach(&name, &caller.0.owner(), true).await?;
    projects.confirm(&name, flag(&q.force)?).await?;
    Ok(StatusCode::ACCEPTED)
}

#[utoipa::path(post, path = "/projects/{name}/rollback-update", tag = "projects", params(("name" = String, Path,), ForceQuery), responses((status = 202, description = "The new version is being removed"), (status = 409, description = "No update to roll back", body = ErrorBody)))]
pub async fn rollback(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<ForceQuery>,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, true)?;
    let projects = projects(&app)?;
    projects.reach(&name, &caller.0.owner(), true).await?;
    projects.rollback(&name, flag(&q.force)?).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ServicesQuery {
    q: Option<String>,
    #[param(value_type = Option<bool>)]
    containers: Option<String>,
}

async fn list_services(
    app: &App,
    caller: &Caller,
    q: &ServicesQuery,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, false)?;
    let containers = q.containers.is_none() || flag(&q.containers)?;
    Ok(Json(
        projects(app)?
            .services(q.q.as_deref().unwrap_or(""), containers, &caller.0.owner())
            .await?,
    ))
}

#[utoipa::path(get, path = "/services", tag = "projects", params(ServicesQuery), responses((status = 200, description = "Services of the projects the caller may see")))]
pub async fn services(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<ServicesQuery>,
) -> Result<impl IntoResponse, Error> {
    list_services(&app, &caller, &q).await
}

#[utoipa::path(get, path = "/services/", tag = "projects", params(ServicesQuery), responses((status = 200, description = "Services of the projects the caller may see")))]
pub async fn services_slash(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<ServicesQuery>,
) -> Result<impl IntoResponse, Error> {
    list_services(&app, &caller, &q).await
}

#[utoipa::path(get, path = "/services/{id}", tag = "projects", params(("id" = String, Path, description = "{project}_{service}")), responses((status = 200, description = "The service with its containers"), (status = 404, description = "No such service", body = ErrorBody)))]
pub async fn service(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, false)?;
    Ok(Json(projects(&app)?.service(&id, &caller.0.owner()).await?))
}

#[utoipa::path(post, path = "/services/{id}/start", tag = "projects", params(("id" = String, Path,)), responses((status = 200, description = "Started"), (status = 404, description = "No such service", body = ErrorBody), (status = 409, description = "Not now", body = ErrorBody)))]
pub async fn service_start(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, true)?;
    let projects = projects(&app)?;
    projects.reach_service(&id, &caller.0.owner(), true).await?;
    projects.start_service(&id).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(post, path = "/services/{id}/stop", tag = "projects", params(("id" = String, Path,), StopQuery), responses((status = 200, description = "Stopped"), (status = 404, description = "No such service", body = ErrorBody), (status = 409, description = "Not now", body = ErrorBody)))]
pub async fn service_stop(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<StopQuery>,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, true)?;
    let projects = projects(&app)?;
    projects.reach_service(&id, &caller.0.owner(), true).await?;
    projects.stop_service(&id, timeout(&q)?, None).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(post, path = "/services/{id}/kill", tag = "projects", params(("id" = String, Path,), KillQuery), responses((status = 200, description = "Signalled"), (status = 404, description = "No such service", body = ErrorBody), (status = 409, description = "Not now", body = ErrorBody)))]
pub async fn service_kill(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<KillQuery>,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, true)?;
    let signal = q.signal.unwrap_or_else(|| "KILL".into());
    let projects = projects(&app)?;
    projects.reach_service(&id, &caller.0.owner(), true).await?;
    projects
        .stop_service(&id, Duration::ZERO, Some(signal))
        .await?;
    Ok(StatusCode::OK)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    /// `scale_to`.
    #[serde(rename = "type")]
    #[schema(pattern = "^scale_to$")]
    kind: String,
    #[serde(deserialize_with = "shipcore::model::whole_number")]
    value: u32,
}

#[utoipa::path(post, path = "/services/{id}/scale", tag = "projects", params(("id" = String, Path,)), request_body = Scale, responses((status = 200, description = "Scaled"), (status = 400, description = "Not {type: scale_to, value: N}", body = ErrorBody), (status = 409, description = "The engine lacks the room (the explanation says why)", body = ErrorBody)))]
pub async fn service_scale(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    body: Body,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, true)?;
    let req: Scale = body.json()?;
    if req.kind != "scale_to" {
        return Err(Error::bad_request(format!(
            "type must be scale_to, got {:?}",
            req.kind
        )));
    }
    let projects = projects(&app)?;
    projects.reach_service(&id, &caller.0.owner(), true).await?;
    projects.scale_service(&id, req.value).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(get, path = "/volumes", tag = "projects", responses((status = 200, description = "{Volumes: [...]}: this cluster's volumes the caller may see, on every reachable engine")))]
pub async fn volumes(State(app): State<App>, caller: Caller) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, false)?;
    let list = projects(&app)?.volumes(&caller.0.owner()).await?;
    Ok(Json(serde_json::json!({ "Volumes": list })))
}

#[utoipa::path(post, path = "/volumes/create", tag = "projects", request_body = shipcore::projects::NewVolume, responses((status = 201, description = "Created"), (status = 400, description = "Invalid name or options", body = ErrorBody), (status = 404, description = "The engine has no such volume driver (its drivers are named)", body = ErrorBody), (status = 409, description = "A volume of that name exists", body = ErrorBody)))]
pub async fn volume_create(
    State(app): State<App>,
    caller: Caller,
    body: Body,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, true)?;
    let req: NewVolume = body.json()?;
    let v = projects(&app)?
        .create_volume(req, &caller.0.owner())
        .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

#[utoipa::path(get, path = "/volumes/{name}", tag = "projects", params(("name" = String, Path,)), responses((status = 200, description = "The volume with its node and users"), (status = 404, description = "No such volume", body = ErrorBody)))]
pub async fn volume(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, false)?;
    Ok(Json(
        projects(&app)?.volume(&name, &caller.0.owner()).await?,
    ))
}

#[utoipa::path(delete, path = "/volumes/{name}", tag = "projects", params(("name" = String, Path,)), responses((status = 204, description = "Removed"), (status = 404, description = "No such volume", body = ErrorBody), (status = 409, description = "In use (the containers are named)", body = ErrorBody)))]
pub async fn volume_delete(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, true)?;
    projects(&app)?
        .delete_volume(&name, &caller.0.owner())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The cluster named in a path must be this one (its identity, which shipd
/// prints at start and `--cluster` sets).
fn this_cluster(app: &App, name: &str) -> Result<(), Error> {
    if name == app.cluster.identity() {
        Ok(())
    } else {
        Err(shipcore::Error::missing("cluster", name).into())
    }
}

/// A client certificate with its key and the CA that signed it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CertsBody {
    /// The cluster CA's certificate, PEM.
    ca: String,
    /// The caller's client certificate, PEM.
    cert: String,
    /// Its private key, PEM (PKCS#8).
    key: String,
    /// The certificate's serial, hex (revoke it by this).
    serial: String,
}

#[utoipa::path(get, path = "/clusters/{name}/certs", tag = "projects", params(("name" = String, Path, description = "The cluster's identity")), responses((status = 200, description = "The caller's client certificate (the same one until it is revoked or nears its end), its key and the CA", body = CertsBody), (status = 403, description = "Not an account (a certificate stands for an account)", body = ErrorBody), (status = 404, description = "No such cluster", body = ErrorBody)))]
pub async fn certs(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, false)?;
    this_cluster(&app, &name)?;
    let c = app.access.client_certificate(&name, &caller.0).await?;
    Ok((
        // A private key: no cache keeps it.
        [(header::CACHE_CONTROL, "no-store")],
        Json(CertsBody {
            ca: c.ca,
            cert: c.cert,
            key: c.key,
            serial: c.serial,
        }),
    ))
}

#[utoipa::path(get, path = "/clusters/{name}/certs/issued", tag = "projects", params(("name" = String, Path,)), responses((status = 200, description = "Certificates issued (an admin sees every account's, others their own), newest first; no keys")))]
pub async fn certs_issued(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, false)?;
    this_cluster(&app, &name)?;
    let everyone = caller.0.allows("accounts", true);
    let list: Vec<_> = app
        .access
        .certificates()
        .await?
        .into_iter()
        .filter(|c| everyone || c.subject == caller.0.name)
        .collect();
    Ok(Json(list))
}

#[utoipa::path(delete, path = "/clusters/{name}/certs/{serial}", tag = "projects", params(("name" = String, Path,), ("serial" = String, Path,)), responses((status = 204, description = "Revoked: it stands for no one from now on"), (status = 404, description = "No such certificate (or not the caller's)", body = ErrorBody)))]
pub async fn cert_revoke(
    State(app): State<App>,
    caller: Caller,
    Path((name, serial)): Path<(String, String)>,
) -> Result<impl IntoResponse, Error> {
    caller.require(AREA, true)?;
    this_cluster(&app, &name)?;
    let serial = serial.to_ascii_lowercase();
    if serial.is_empty() || serial.len() > 64 || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::bad_request(format!(
            "serial must be hex digits, got {serial:?}"
        )));
    }
    // Only an admin revokes another account's certificate; to others it
    // does not exist.
    if !caller.0.allows("accounts", true) {
        let own = app
            .access
            .certificates()
            .await?
            .iter()
            .any(|c| c.serial == serial && c.subject == caller.0.name);
        if !own {
            return Err(shipcore::Error::missing("certificate", &serial).into());
        }
    }
    app.access.revoke_certificate(&serial).await?;
    Ok(StatusCode::NO_CONTENT)
}
