//! Seed 002 part 2: the Harbor-style browse API, under `/harbor` (SPEC.md),
//! in the plain JSON envelope. A project is the first segment of repository
//! names (`default_cluster` of `default_cluster/myweb`), numbered in the
//! order it was first pushed to. Pages count from 1 (`page`, `page_size`,
//! 10 by default, at most 100), with Harbor's `X-Total-Count` header. The
//! seed's examples send the tag and manifest reads as POST: both methods
//! are served.

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use shipcore::registry::query::Page;
use shipcore::registry::Reference;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{by, registry, AREA};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{Error, ErrorBody};
use crate::extract::{Body, Query};

const TOTAL: HeaderName = HeaderName::from_static("x-total-count");

/// The routes of seed 002 part 2.
pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(projects))
        .routes(routes!(repositories, delete_tag))
        .routes(routes!(tags, tags_post))
        .routes(routes!(manifests, manifests_post))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProjectsQuery {
    /// Page, from 1.
    page: Option<usize>,
    /// Items per page (10 by default, at most 100).
    page_size: Option<usize>,
    /// Only projects whose name holds this ("" for all).
    project_name: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RepositoriesQuery {
    page: Option<usize>,
    page_size: Option<usize>,
    /// The project's number (`project_id` of `/harbor/projects`).
    project_id: Option<u64>,
    /// Only repositories whose name holds this.
    q: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TagsQuery {
    page: Option<usize>,
    page_size: Option<usize>,
    project_id: Option<u64>,
    /// The repository: `project/name`, or `name` within `project_id`.
    repo_name: String,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ManifestsQuery {
    /// The repository: `project/name`.
    repo_name: String,
    tag: String,
}

/// What to skip and take for `page` of `size`.
fn page(page: Option<usize>, size: Option<usize>) -> Result<Page, Error> {
    Ok(Page::of(page, size, 10, 100, "page_size")?)
}

fn listed(total: usize, items: Vec<Value>) -> Response {
    let mut res = Json(items).into_response();
    res.headers_mut().insert(TOTAL, HeaderValue::from(total));
    res
}

/// `GET /harbor/projects`: projects with their repository counts.
#[utoipa::path(get, path = "/harbor/projects", tag = "harbor", params(ProjectsQuery), responses((status = 200, description = "Projects; X-Total-Count gives how many match"), (status = 404, description = "This server keeps no registry", body = ErrorBody)))]
pub async fn projects(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<ProjectsQuery>,
) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    let page = page(q.page, q.page_size)?;
    let found = registry(&app)?
        .registry
        .project_summaries(q.project_name.as_deref().unwrap_or_default(), page)
        .await?;
    let writer = caller.0.allows(AREA, true);
    let items = found
        .items
        .into_iter()
        .map(|s| {
            let p = s.project;
            json!({
                "project_id": p.id,
                "name": p.name,
                "owner_id": 0,
                "owner_name": p.created_by,
                "public": 0,
                "repo_count": s.repositories,
                "creation_time": p.created,
                "creation_time_str": "",
                "update_time": s.updated,
                "deleted": 0,
                "Togglable": writer,
                // Harbor's roles: 1 project admin, 3 guest.
                "current_user_role_id": if writer { 1 } else { 3 },
            })
        })
        .collect();
    Ok(listed(found.total, items))
}

/// `GET /harbor/repositories`: repositories of a project.
#[utoipa::path(get, path = "/harbor/repositories", tag = "harbor", params(RepositoriesQuery), responses((status = 200, description = "Repositories (`name` is `project/repo`); X-Total-Count gives how many match"), (status = 404, description = "No such project", body = ErrorBody)))]
pub async fn repositories(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<RepositoriesQuery>,
) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    let page = page(q.page, q.page_size)?;
    let registry = &registry(&app)?.registry;
    let prefix = match q.project_id {
        Some(id) => format!("{}/", registry.project_name(id).await?),
        None => String::new(),
    };
    let found = registry
        .repository_summaries(&prefix, q.q.as_deref().unwrap_or_default(), page)
        .await?;
    let items = found
        .items
        .into_iter()
        .map(|s| {
            json!({
                "name": s.repo.name,
                "project_id": s.project_id,
                "description": "",
                "pull_count": s.repo.pulls,
                "star_count": 0,
                "tags_count": s.tags,
                "creation_time": s.repo.created,
                "update_time": s.repo.updated,
            })
        })
        .collect();
    Ok(listed(found.total, items))
}

async fn list_tags(app: &App, caller: &Caller, q: TagsQuery) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    let page = page(q.page, q.page_size)?;
    let registry = &registry(app)?.registry;
    let repo = registry.find_repository(&q.repo_name, q.project_id).await?;
    let found = registry.tag_summaries(&repo, "", page).await?;
    let items = found
        .items
        .into_iter()
        .map(|t| {
            json!({
                "name": t.name,
                "digest": t.tag.digest,
                "size": t.size,
                "author": t.tag.updated_by,
                "created": t.tag.updated,
                "pull_count": t.tag.pulls,
            })
        })
        .collect();
    Ok(listed(found.total, items))
}

/// `GET /harbor/repositories/tags`: a repository's tags.
#[utoipa::path(get, path = "/harbor/repositories/tags", tag = "harbor", params(TagsQuery), responses((status = 200, description = "Tags (`name`); X-Total-Count gives how many"), (status = 404, description = "No such repository or project", body = ErrorBody)))]
pub async fn tags(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<TagsQuery>,
) -> Result<Response, Error> {
    list_tags(&app, &caller, q).await
}

/// `POST /harbor/repositories/tags`: as GET (the seed's example posts).
#[utoipa::path(post, path = "/harbor/repositories/tags", tag = "harbor", params(TagsQuery), responses((status = 200, description = "Tags (`name`); X-Total-Count gives how many"), (status = 404, description = "No such repository or project", body = ErrorBody)))]
pub async fn tags_post(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<TagsQuery>,
) -> Result<Response, Error> {
    list_tags(&app, &caller, q).await
}

async fn show_manifest(app: &App, caller: &Caller, q: ManifestsQuery) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    let registry = &registry(app)?.registry;
    let repo = registry.find_repository(&q.repo_name, None).await?;
    let image = registry
        .image_detail(&repo, &Reference::parse(&q.tag)?)
        .await?;
    let config = if image.config.is_null() {
        String::new()
    } else {
        image.config.to_string()
    };
    Ok(Json(json!({"manifest": image.body, "config": config})).into_response())
}

/// `GET /harbor/repositories/manifests`: a tag's manifest (an object) and
/// its image config (a JSON string, as Harbor gives it).
#[utoipa::path(get, path = "/harbor/repositories/manifests", tag = "harbor", params(ManifestsQuery), responses((status = 200, description = "`{manifest, config}`"), (status = 404, description = "No such repository or tag", body = ErrorBody)))]
pub async fn manifests(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<ManifestsQuery>,
) -> Result<Response, Error> {
    show_manifest(&app, &caller, q).await
}

/// `POST /harbor/repositories/manifests`: as GET (the seed's example posts).
#[utoipa::path(post, path = "/harbor/repositories/manifests", tag = "harbor", params(ManifestsQuery), responses((status = 200, description = "`{manifest, config}`"), (status = 404, description = "No such repository or tag", body = ErrorBody)))]
pub async fn manifests_post(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<ManifestsQuery>,
) -> Result<Response, Error> {
    show_manifest(&app, &caller, q).await
}

/// The body of `DELETE /harbor/repositories`: the seed names the tag
/// `repoName` and the repository `projectName`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteTag {
    /// The tag.
    repo_name: String,
    /// The repository: `project/name`, or a name that ends one repository's.
    project_name: String,
}

/// Reads the delete's body: JSON, form fields, or the seed's own
/// `method=DELETE&{json}` (two `curl -d`).
fn delete_body(body: &Body) -> Result<DeleteTag, Error> {
    let raw = body.0.as_ref();
    let raw = raw.strip_prefix(b"method=DELETE&").unwrap_or(raw);
    if raw.first() == Some(&b'{') {
        return crate::extract::parse(raw);
    }
    let mut tag = None;
    let mut repo = None;
    let fields: Vec<(String, String)> =
        crate::extract::query_str(&String::from_utf8_lossy(raw)).unwrap_or_default();
    for (k, v) in fields {
        match k.as_str() {
            "repoName" => tag = Some(v),
            "projectName" => repo = Some(v),
            "method" => {}
            other => return Err(Error::bad_request(format!("unknown field {other}"))),
        }
    }
    match (tag, repo) {
        (Some(repo_name), Some(project_name)) => Ok(DeleteTag {
            repo_name,
            project_name,
        }),
        _ => Err(Error::bad_request(
            "repoName (the tag) and projectName (the repository) are required",
        )),
    }
}

/// `DELETE /harbor/repositories {repoName, projectName}`: deletes a tag.
#[utoipa::path(delete, path = "/harbor/repositories", tag = "harbor", request_body = DeleteTag, responses((status = 200, description = "`{code: 0, msg: \"\"}`"), (status = 404, description = "No such repository or tag", body = ErrorBody)))]
pub async fn delete_tag(
    State(app): State<App>,
    caller: Caller,
    body: Body,
) -> Result<Response, Error> {
    caller.require(AREA, true)?;
    let req = delete_body(&body)?;
    let registry = &registry(&app)?.registry;
    let repo = registry.repository_named(&req.project_name).await?;
    registry
        .delete_tag(&repo, &req.repo_name, by(&caller))
        .await?;
    Ok(Json(json!({"code": 0, "msg": ""})).into_response())
}
