//! Seed 002 part 1: the packaging (build project) API, in its envelope
//! `{"code": 10000, "errMsg": "ok", "content": …}` with the seed's codes
//! (10001 a bad parameter, naming it; 10002 no clone source; 10003 nothing
//! to delete; 10004 a plugin or its parameters; 10006 a project that exists
//! or a request that cannot be read; 10007 nothing to build; 10008 no such
//! project; 10100 a failure inside), and the HTTP status a client that
//! looks at it expects. Permission area `builds`. The operator recorded is
//! the caller's account; the seed's `operator` field is accepted and not
//! trusted. Every call acts for its caller (`Builds::acting_as`): a
//! project belongs to the account that made it, which alone (with
//! `admin` and roles with `all-builds:ro`/`rw`) lists, reads and changes
//! it; another's project answers as a missing one (404 with the
//! endpoint's code). A build pushes only to a repository its caller may
//! write (the registry's write permission, or the caller's own namespace,
//! `{account}/...`): refused with 403, in the envelope with 10006. Bodies
//! may be JSON or form-encoded (the seed's own examples send
//! `-d 'plugin="aa"'`). Beyond the seed: a build's log as JSON or
//! followed live (`/api/project/build/{id}/log`, server-sent events,
//! resumable with `Last-Event-ID`), and `/api/project/build/cancel`.

use std::collections::BTreeMap;
use std::convert::Infallible;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event as Sse, KeepAlive};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt as _;
use serde::Deserialize;
use serde_json::{json, Value};
use shipcore::build::ProjectChange;
use shipcore::build::{ActingAs, BuildProject, BuildRecord, Builds, LogEvent, PluginRef};

use crate::app::App;
use crate::auth::Caller;
use crate::error::{Envelope, Error, Failure};
use crate::extract::{Body, Path, Query};

/// The permission area of build projects.
pub const AREA: &str = "builds";

pub const OK: u32 = 10000;
pub const PARAM: u32 = 10001;
pub const NO_SOURCE: u32 = 10002;
pub const NO_DELETE: u32 = 10003;
pub const PLUGIN: u32 = 10004;
pub const INVALID: u32 = 10006;
pub const NO_BUILD: u32 = 10007;
pub const NO_PROJECT: u32 = 10008;
pub const INTERNAL: u32 = 10100;

/// The routes of seed 002 part 1.
pub fn router() -> axum::Router<App> {
    use axum::routing::{get, post};
    let family = axum::Router::new()
        .route("/api/project/new", post(new))
        .route("/api/project/delete", post(delete))
        .route("/api/project/clone", post(clone))
        .route("/api/project/info", get(info).post(info))
        .route("/api/project/list", get(list).post(list))
        .route("/api/project/save", post(save))
        .route("/api/project/build", post(build))
        .route("/api/project/build/cancel", post(cancel))
        .route("/api/project/build/{id}/log", get(log))
        .route("/api/project/buildHistory", get(history).post(history))
        .route("/api/plugin/extension/interface", post(extension))
        .route("/view/config/independent", get(config_page))
        // Anything else under the family's prefixes: a 404 in its envelope.
        .route("/api/project/{*rest}", axum::routing::any(no_route))
        .route("/api/plugin/{*rest}", axum::routing::any(no_route))
        .route("/view/{*rest}", axum::routing::any(no_route));
    crate::error::with_envelope::<Pack, App>(family)
}

async fn no_route() -> Error {
    Error::NoRoute("no such endpoint".into())
}

/// The family's envelope for failures outside the handlers (credentials,
/// limits): coded as a handler's are, with the content `-1`.
struct Pack;

impl Envelope for Pack {
    fn render(f: Failure) -> Response {
        Coded::of(f, None).render(Value::from(-1))
    }
}

fn ok(content: Value) -> Response {
    Json(json!({"code": OK, "errMsg": "ok", "content": content})).into_response()
}

/// A failure with its seed code (a handler's: its content is the message).
#[derive(Debug)]
pub struct Coded {
    status: StatusCode,
    code: u32,
    message: String,
    retry_after: Option<u64>,
}

impl Coded {
    fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Coded {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The family's one mapping of a failure to the seed's code, with the
    /// crate's status: a failure inside is 10100, a bad parameter 10001, a
    /// plugin's refusal 10004, a project or build that is not there
    /// `missing` (the endpoint's code) when given, anything else 10006.
    fn of(f: Failure, missing: Option<u32>) -> Self {
        use shipcore::Error as E;
        let code = match &*f.error {
            _ if f.status.is_server_error() => INTERNAL,
            Error::Core(E::Invalid { .. } | E::RegistryInvalid { .. }) => PARAM,
            Error::Core(
                E::UnknownPlugin { .. } | E::UnknownPluginMethod { .. } | E::PluginParams { .. },
            ) => PLUGIN,
            Error::Core(E::Missing { .. }) => missing.unwrap_or(INVALID),
            _ => INVALID,
        };
        Coded {
            status: f.status,
            code,
            message: f.message,
            retry_after: f.retry_after,
        }
    }

    /// The seed's envelope with `content`.
    fn render(self, content: Value) -> Response {
        let body = json!({"code": self.code, "errMsg": self.message, "content": content});
        let mut res = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, secs.into());
        }
        res
    }
}

impl IntoResponse for Coded {
    fn into_response(self) -> Response {
        let content = Value::String(self.message.clone());
        self.render(content)
    }
}

impl From<Error> for Coded {
    fn from(e: Error) -> Self {
        Coded::of(e.into_failure(), None)
    }
}

impl From<shipcore::Error> for Coded {
    fn from(e: shipcore::Error) -> Self {
        Error::Core(e).into()
    }
}

/// `e`, with a missing thing answered as `missing` (the endpoint's code).
fn or_missing(e: shipcore::Error, missing: u32) -> Coded {
    Coded::of(Error::Core(e).into_failure(), Some(missing))
}

type Answer = Result<Response, Coded>;

/// The app's build service, or a 404 when this server runs none.
fn builds(app: &App) -> Result<&Builds, Coded> {
    app.builds.get().ok_or_else(|| {
        Coded::new(
            StatusCode::NOT_FOUND,
            INVALID,
            "this server runs no build projects",
        )
    })
}

fn require(caller: &Caller, write: bool) -> Result<(), Coded> {
    caller.require(AREA, write).map_err(Coded::from)
}

/// The build service as the caller reaches it: its own projects (or
/// everyone's, with `all-builds`), the repositories it may push to.
fn acting(app: &App, caller: &Caller) -> Result<ActingAs, Coded> {
    Ok(builds(app)?.acting_as(caller.0.owner()))
}

/// A body as JSON, or form-encoded as the seed's examples send it: values
/// may be wrapped in double quotes, and a part that is a JSON object adds
/// its fields.
pub(crate) fn fields(body: &[u8]) -> Result<serde_json::Map<String, Value>, Coded> {
    let bad = |m: String| Coded::new(StatusCode::BAD_REQUEST, INVALID, m);
    let text = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8".into()))?;
    if text.trim().is_empty() {
        return Ok(serde_json::Map::new());
    }
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return match v {
            Value::Object(m) => Ok(m),
            _ => Err(bad("the body must be a JSON object".into())),
        };
    }
    if !text.contains('=') {
        return Err(bad(
            "the body is neither a JSON object nor a form (name=value&...)".into(),
        ));
    }
    let mut out = serde_json::Map::new();
    for (k, v) in form_urlencoded::parse(text.as_bytes()) {
        let key = k.trim();
        if v.is_empty() && key.starts_with('{') {
            if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(key) {
                out.extend(m);
                continue;
            }
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        out.insert(key.to_string(), Value::String(v.to_string()));
    }
    Ok(out)
}

/// A required text field.
fn text<'a>(f: &'a serde_json::Map<String, Value>, name: &str) -> Result<&'a str, Coded> {
    match f.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) | None => Err(Coded::new(
            StatusCode::BAD_REQUEST,
            PARAM,
            format!("{name} is required"),
        )),
        Some(other) => Err(Coded::new(
            StatusCode::BAD_REQUEST,
            PARAM,
            format!("{name} must be a string, not {other}"),
        )),
    }
}

fn optional<'a>(
    f: &'a serde_json::Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, Coded> {
    match f.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => text(f, name).map(Some),
    }
}

/// A project as the seed shows it.
fn project_json(p: &BuildProject) -> Value {
    json!({
        "creator": p.creator,
        "name": p.name,
        "owner": p.owner,
        "createTime": p.create_time,
        "lastModifyTime": p.last_modify_time,
        "lastModifyOperator": p.last_modify_operator,
        "Cluster": p.cluster,
        "DefineDockerFileType": p.define_dockerfile_type,
        "dockerfile": p.dockerfile,
        "files": p.files.keys().collect::<Vec<_>>(),
        "$$plugin": p.plugins.iter().map(|r| json!({"name": r.name, "params": r.params})).collect::<Vec<_>>(),
    })
}

fn record_json(r: &BuildRecord) -> Value {
    json!({
        "idStr": r.id,
        "id": r.id,
        "projectName": r.project,
        "tag": r.tag,
        "image": r.image,
        "operator": r.operator,
        "status": r.status,
        "queueTime": r.queued,
        "startTime": r.started,
        "endTime": r.ended,
        "engine": r.engine,
        "digest": r.digest,
        "reason": r.reason,
        "sourceDigest": r.source_digest,
    })
}

async fn new(State(app): State<App>, caller: Caller, Body(body): Body) -> Answer {
    require(&caller, true)?;
    let f = fields(&body)?;
    let name = text(&f, "projectName")?;
    let p = acting(&app, &caller)?.create(name).await?;
    Ok(ok(project_json(&p)))
}

async fn delete(State(app): State<App>, caller: Caller, Body(body): Body) -> Answer {
    require(&caller, true)?;
    let f = fields(&body)?;
    let name = text(&f, "projectName")?;
    acting(&app, &caller)?
        .delete(name)
        .await
        .map_err(|e| or_missing(e, NO_DELETE))?;
    Ok(ok(Value::String(String::new())))
}

async fn clone(State(app): State<App>, caller: Caller, Body(body): Body) -> Answer {
    require(&caller, true)?;
    let f = fields(&body)?;
    let src = text(&f, "srcProjectName")?;
    let dst = text(&f, "dstProjectName")?;
    let p = acting(&app, &caller)?
        .clone_project(src, dst)
        .await
        .map_err(|e| or_missing(e, NO_SOURCE))?;
    Ok(ok(project_json(&p)))
}

#[derive(Debug, Default, Deserialize)]
struct NameQuery {
    #[serde(rename = "projectName")]
    project_name: Option<String>,
    #[allow(dead_code)]
    operator: Option<String>,
    page: Option<usize>,
    page_size: Option<usize>,
}

/// The project name from the query or, for the seed's POST forms, the body.
fn name_of(q: &NameQuery, body: &[u8]) -> Result<String, Coded> {
    if let Some(n) = q.project_name.as_deref().filter(|n| !n.is_empty()) {
        return Ok(n.to_string());
    }
    let f = fields(body)?;
    text(&f, "projectName").map(str::to_string)
}

/// The page asked for (from 1) and its size (`default`, at most 100).
fn paging(q: &NameQuery, default: usize) -> Result<(usize, usize), Coded> {
    let size = q.page_size.unwrap_or(default);
    if !(1..=100).contains(&size) {
        return Err(Coded::new(
            StatusCode::BAD_REQUEST,
            INVALID,
            "page_size must be from 1 to 100",
        ));
    }
    let page = q.page.unwrap_or(1).max(1);
    if page > shipcore::registry::query::MAX_PAGE {
        return Err(Coded::new(
            StatusCode::BAD_REQUEST,
            INVALID,
            format!(
                "page must be at most {}",
                shipcore::registry::query::MAX_PAGE
            ),
        ));
    }
    Ok((page, size))
}

/// One page of `all`, with the paging beside the content as the seed
/// shows it.
fn paged<T>(all: &[T], page: usize, size: usize, show: fn(&T) -> Value) -> Response {
    let items: Vec<Value> = all
        .iter()
        .skip((page - 1).saturating_mul(size))
        .take(size)
        .map(show)
        .collect();
    Json(json!({
        "code": OK, "errMsg": "ok", "content": items,
        "page": page, "page_size": size, "total_count": all.len(),
    }))
    .into_response()
}

async fn info(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<NameQuery>,
    Body(body): Body,
) -> Answer {
    require(&caller, false)?;
    let name = name_of(&q, &body)?;
    let p = acting(&app, &caller)?
        .project(&name)
        .await
        .map_err(|e| or_missing(e, NO_PROJECT))?;
    Ok(ok(project_json(&p)))
}

async fn list(State(app): State<App>, caller: Caller, Query(q): Query<NameQuery>) -> Answer {
    require(&caller, false)?;
    let (page, size) = paging(&q, 10)?;
    let all = acting(&app, &caller)?
        .projects(q.project_name.as_deref().unwrap_or(""))
        .await?;
    Ok(paged(&all, page, size, project_json))
}

async fn save(State(app): State<App>, caller: Caller, Body(body): Body) -> Answer {
    require(&caller, true)?;
    let f = fields(&body)?;
    let name = match optional(&f, "project")? {
        Some(n) => n,
        None => text(&f, "projectName")?,
    };
    let add = match optional(&f, "addOrUpdate")? {
        None | Some("update") => false,
        Some("add") => true,
        Some(other) => {
            return Err(Coded::new(
                StatusCode::BAD_REQUEST,
                PARAM,
                format!("addOrUpdate must be add or update, not {other:?}"),
            ))
        }
    };
    let files = match f.get("files") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            serde_json::from_value::<BTreeMap<String, String>>(v.clone()).map_err(|e| {
                Coded::new(
                    StatusCode::BAD_REQUEST,
                    PARAM,
                    format!("files must map paths to base64 text: {e}"),
                )
            })?,
        ),
    };
    let plugins = match f.get("$$plugin") {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => {
            let mut out = Vec::new();
            for item in list {
                let Value::Object(m) = item else {
                    return Err(shipcore::Error::plugin_params(format!(
                        "$$plugin entries are objects, not {item}"
                    ))
                    .into());
                };
                // The seed's own example sends `[{}]`: an empty entry names
                // no plugin.
                let Some(name) = m.get("name").or_else(|| m.get("plugin")) else {
                    if m.is_empty() {
                        continue;
                    }
                    return Err(
                        shipcore::Error::plugin_params("a $$plugin entry needs name").into(),
                    );
                };
                let name = name.as_str().ok_or_else(|| {
                    shipcore::Error::plugin_params(format!(
                        "$$plugin name must be text, not {name}"
                    ))
                })?;
                let params = match m.get("params") {
                    None | Some(Value::Null) => BTreeMap::new(),
                    Some(p) => serde_json::from_value(p.clone()).map_err(|e| {
                        shipcore::Error::plugin_params(format!("$$plugin params: {e}"))
                    })?,
                };
                out.push(PluginRef {
                    name: name.to_string(),
                    params,
                });
            }
            Some(out)
        }
        Some(other) => {
            return Err(shipcore::Error::plugin_params(format!(
                "$$plugin must be a list, not {other}"
            ))
            .into())
        }
    };
    if let Some(p) = &plugins {
        builds(&app)?.check_plugins(p)?;
    }
    let change = ProjectChange {
        cluster: optional(&f, "Cluster")?.map(str::to_string),
        define_dockerfile_type: optional(&f, "DefineDockerFileType")?.map(str::to_string),
        dockerfile: optional(&f, "dockerfile")?.map(str::to_string),
        files,
        plugins,
    };
    let p = acting(&app, &caller)?
        .save(name, add, change)
        .await
        .map_err(|e| or_missing(e, NO_PROJECT))?;
    Ok(ok(project_json(&p)))
}

async fn build(State(app): State<App>, caller: Caller, Body(body): Body) -> Answer {
    require(&caller, true)?;
    let f = fields(&body)?;
    let name = text(&f, "projectName")?;
    let tag = text(&f, "tag")?;
    let r = acting(&app, &caller)?
        .build(name, tag)
        .await
        .map_err(|e| or_missing(e, NO_BUILD))?;
    Ok(ok(json!({"idStr": r.id, "status": r.status})))
}

async fn cancel(State(app): State<App>, caller: Caller, Body(body): Body) -> Answer {
    require(&caller, true)?;
    let f = fields(&body)?;
    let id = text(&f, "id")?;
    let r = acting(&app, &caller)?
        .cancel(id)
        .await
        .map_err(|e| or_missing(e, NO_BUILD))?;
    Ok(ok(record_json(&r)))
}

async fn history(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<NameQuery>,
    Body(body): Body,
) -> Answer {
    require(&caller, false)?;
    let name = name_of(&q, &body)?;
    let (page, size) = paging(&q, 20)?;
    let all = acting(&app, &caller)?
        .history(&name)
        .await
        .map_err(|e| or_missing(e, NO_PROJECT))?;
    Ok(paged(&all, page, size, record_json))
}

/// A build's log: JSON lines, or with `Accept: text/event-stream` the
/// lines as they come (each event's id its line number; `Last-Event-ID`
/// resumes after it), ending with an `end` event naming the status.
async fn log(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Answer {
    require(&caller, false)?;
    let service = acting(&app, &caller)?;
    let sse = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if !sse {
        let lines = service
            .log(&id)
            .await
            .map_err(|e| or_missing(e, NO_BUILD))?;
        return Ok(ok(json!({"id": id, "lines": lines})));
    }
    let from = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(0, |n| n + 1);
    let events = service
        .follow(&id, from)
        .await
        .map_err(|e| or_missing(e, NO_BUILD))?;
    let stream = crate::auth::until_revoked(&app, &caller, (AREA, false), events).map(|e| {
        Ok::<_, Infallible>(match e {
            LogEvent::Line(i, line) => Sse::default().id(i.to_string()).event("line").data(line),
            LogEvent::End(status) => Sse::default().event("end").data(status.as_str()),
        })
    });
    Ok(axum::response::Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

async fn extension(State(app): State<App>, caller: Caller, Body(body): Body) -> Answer {
    require(&caller, true)?;
    let f = fields(&body)?;
    let plugin = text(&f, "plugin").map_err(|e| Coded { code: PLUGIN, ..e })?;
    let method = text(&f, "method").map_err(|e| Coded { code: PLUGIN, ..e })?;
    let args = match f.get("args") {
        Some(v @ Value::Object(_)) => v.clone(),
        _ => Value::Object(f.clone()),
    };
    let out = builds(&app)?.call_plugin(plugin, method, &args)?;
    Ok(ok(out))
}

/// The project's configuration as an HTML page, in `{"data": "<html>…"}`.
async fn config_page(State(app): State<App>, caller: Caller, Query(q): Query<NameQuery>) -> Answer {
    require(&caller, false)?;
    let name = q.project_name.unwrap_or_default();
    if name.is_empty() {
        return Err(Coded::new(
            StatusCode::BAD_REQUEST,
            PARAM,
            "projectName is required",
        ));
    }
    let service = acting(&app, &caller)?;
    let p = service
        .project(&name)
        .await
        .map_err(|e| or_missing(e, NO_PROJECT))?;
    let history = service.history(&name).await.unwrap_or_default();
    let html = crate::pages::config_page(&p, &history, builds(&app)?.plugins())?;
    Ok(Json(json!({ "data": html })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_get_the_seeds_codes_in_one_mapping() {
        let coded = |e: shipcore::Error, missing: Option<u32>| {
            let c = Coded::of(Error::Core(e).into_failure(), missing);
            (c.status.as_u16(), c.code)
        };
        assert_eq!(
            coded(shipcore::Error::invalid("projectName", "x"), None),
            (400, PARAM)
        );
        assert_eq!(
            coded(shipcore::Error::plugin_params("prefix must be ..."), None),
            (400, PLUGIN)
        );
        assert_eq!(
            coded(
                shipcore::Error::UnknownPlugin {
                    plugin: "aa".into()
                },
                None
            ),
            (404, PLUGIN)
        );
        assert_eq!(
            coded(shipcore::Error::missing("project", "web"), Some(NO_PROJECT)),
            (404, NO_PROJECT)
        );
        assert_eq!(
            coded(shipcore::Error::missing("project", "web"), None),
            (404, INVALID)
        );
        assert_eq!(
            coded(
                shipcore::Error::Storage {
                    reason: "disk".into()
                },
                Some(NO_PROJECT)
            ),
            (500, INTERNAL)
        );
    }
}

/// The OpenAPI operations of seed 002 part 1. These functions only carry
/// the documentation (the handlers above serve the calls, failures in the
/// family's envelope with its codes).
pub mod doc {
    #![allow(dead_code)]

    /// Seed 002's envelope: `code` 10000 for success, else the seed's code.
    #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
    pub struct PackEnvelope {
        pub code: u32,
        #[serde(rename = "errMsg")]
        pub err_msg: String,
        pub content: serde_json::Value,
    }

    /// A body naming a project (JSON, or a form with the same fields).
    #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
    pub struct NameBody {
        #[serde(rename = "projectName")]
        #[schema(pattern = "^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$")]
        pub project_name: String,
    }

    #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
    pub struct CloneBody {
        #[serde(rename = "srcProjectName")]
        #[schema(pattern = "^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$")]
        pub src: String,
        #[serde(rename = "dstProjectName")]
        #[schema(pattern = "^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$")]
        pub dst: String,
    }

    #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
    pub struct BuildBody {
        #[serde(rename = "projectName")]
        #[schema(pattern = "^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$")]
        pub project_name: String,
        /// The image's tag.
        #[schema(pattern = "^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")]
        pub tag: String,
    }

    #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
    pub struct CancelBody {
        /// The build's id (`idStr`).
        #[schema(min_length = 1)]
        pub id: String,
    }

    /// A project saved: its name (`project` is taken for it too), added or
    /// updated; the seed's other fields (`Cluster`, `DefineDockerFileType`,
    /// `$$plugin`, `dockerfile`, `files`) as its examples show them.
    #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
    pub struct SaveBody {
        #[serde(rename = "projectName")]
        #[schema(pattern = "^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$")]
        pub project_name: String,
        #[serde(rename = "addOrUpdate")]
        #[schema(pattern = "^(add|update)$")]
        pub add_or_update: Option<String>,
    }

    #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
    pub struct ExtensionBody {
        #[schema(min_length = 1)]
        pub plugin: String,
        #[schema(min_length = 1)]
        pub method: String,
        /// The method's arguments (else the body's other fields).
        pub args: Option<serde_json::Map<String, serde_json::Value>>,
    }

    macro_rules! op {
        ($name:ident, $method:ident, $path:literal, $what:literal $(, $param:literal = $about:literal)* $(; body = $body:ty)? $(; query $($q:tt)+)?) => {
            #[utoipa::path($method, path = $path, tag = "packaging",
                params($(($param = String, Path, description = $about)),* $($($q)+)?),
                $(request_body = $body,)?
                responses(
                    (status = 200, description = $what, body = PackEnvelope),
                    (status = 400, description = "10001: a parameter is invalid (named); 10004: plugin parameters; 10006: the request cannot be read", body = PackEnvelope),
                    (status = 401, description = "No valid credentials (10006)", body = PackEnvelope),
                    (status = 403, description = "Not permitted to the caller's role, or a build (save, clone) that would push to a repository the caller may not write (10006)", body = PackEnvelope),
                    (status = 404, description = "10002 no clone source, 10003 nothing to delete, 10004 no such plugin or method, 10007 nothing to build, 10008 no such project; another account's project answers as a missing one", body = PackEnvelope),
                    (status = 409, description = "10006: the project exists already", body = PackEnvelope),
                    (status = 429, description = "10100: the build queue is full; or too many failed logins from this address or for this username (Retry-After)", body = PackEnvelope),
                    (status = 503, description = "The request's deadline passed, or the server is too busy checking passwords (Retry-After)", body = PackEnvelope),
                ))]
            fn $name() {}
        };
    }

    op!(
        new,
        post,
        "/api/project/new",
        "The project made (`projectName`)";
        body = NameBody    );
    op!(
        delete,
        post,
        "/api/project/delete",
        "The project, its builds and logs deleted";
        body = NameBody    );
    op!(
        clone,
        post,
        "/api/project/clone",
        "The copy (`srcProjectName`, `dstProjectName`): definition and plugins, no history";
        body = CloneBody    );
    op!(
        info,
        get,
        "/api/project/info",
        "The project (`projectName`)";
        query ("projectName" = String, Query, description = "The project", pattern = "^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$")    );
    op!(
        info_post,
        post,
        "/api/project/info",
        "The project (`projectName`), as the seed's examples ask";
        body = NameBody    );
    op!(
        list,
        get,
        "/api/project/list",
        "The projects the caller may see whose name holds `projectName`, paged (`page`, `page_size`, `total_count`)";
        query ("projectName" = Option<String>, Query, description = "Only projects whose name holds this"), ("page" = Option<u32>, Query, description = "Page, from 1 (0 is 1 too)", maximum = 1000000), ("page_size" = Option<u32>, Query, description = "Items per page (at most 100)", minimum = 1, maximum = 100)    );
    op!(
        list_post,
        post,
        "/api/project/list",
        "The list, as the seed's examples ask"
    );
    op!(save, post, "/api/project/save", "The project saved (`project`, `Cluster`, `DefineDockerFileType`, `addOrUpdate`, `$$plugin`, `dockerfile`, `files`)"; body = SaveBody);
    op!(
        build,
        post,
        "/api/project/build",
        "The build queued (`projectName`, `tag`): `{idStr, status}`";
        body = BuildBody    );
    op!(
        cancel,
        post,
        "/api/project/build/cancel",
        "The build (`id`) cancelled";
        body = CancelBody    );
    op!(
        log,
        get,
        "/api/project/build/{id}/log",
        "The build's log; with `Accept: text/event-stream` its lines as they come (`Last-Event-ID` resumes), then an `end` event",
        "id" = "The build's id (`idStr` of the build's answer)"
    );
    op!(
        history,
        get,
        "/api/project/buildHistory",
        "The project's builds, newest first, paged";
        query ("projectName" = String, Query, description = "The project", pattern = "^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$"), ("page" = Option<u32>, Query, description = "Page, from 1 (0 is 1 too)", maximum = 1000000), ("page_size" = Option<u32>, Query, description = "Items per page (at most 100)", minimum = 1, maximum = 100)    );
    op!(
        history_post,
        post,
        "/api/project/buildHistory",
        "The builds, as the seed's examples ask";
        body = NameBody    );
    op!(
        extension,
        post,
        "/api/plugin/extension/interface",
        "The plugin method's answer (`plugin`, `method`, its arguments; JSON or form)";
        body = ExtensionBody    );
    op!(
        config,
        get,
        "/view/config/independent",
        "`{\"data\": \"<html>…\"}`: the project's configuration page (`projectName`)";
        query ("projectName" = String, Query, description = "The project", pattern = "^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$")    );

    /// The operations above.
    #[derive(utoipa::OpenApi)]
    #[openapi(
        paths(
            new,
            delete,
            clone,
            info,
            info_post,
            list,
            list_post,
            save,
            build,
            cancel,
            log,
            history,
            history_post,
            extension,
            config
        ),
        components(schemas(
            PackEnvelope,
            NameBody,
            CloneBody,
            BuildBody,
            CancelBody,
            SaveBody,
            ExtensionBody
        ))
    )]
    pub struct Doc;
}
