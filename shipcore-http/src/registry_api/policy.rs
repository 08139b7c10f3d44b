//! Retention and immutability of a repository's tags (`/api/registry/...`),
//! in the plain JSON envelope: a repository's rules read and set, and a
//! retention run, dry or real, that says for every tag what it keeps or
//! removes and which rule decided (`shipcore::registry::policy`). The
//! repository is named by the `repository` query parameter (its name has
//! slashes). Reading takes the `registry` area; setting rules and running
//! retention take writing it.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use shipcore::registry::policy::{Decision, Rules};
use shipcore::registry::Repository;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{registry, AREA};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{Error, ErrorBody};
use crate::extract::{Body, Query};

/// The routes of the registry's policies.
pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(rules, set_rules))
        .routes(routes!(retention))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RepositoryQuery {
    /// The repository (`team/app`).
    repository: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RetentionQuery {
    /// The repository (`team/app`).
    repository: String,
    /// Only say what would go, and why: delete nothing.
    #[serde(default)]
    dry_run: bool,
}

/// A retention run's outcome.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RetentionRun {
    pub repository: String,
    pub dry_run: bool,
    /// Every tag, what the rules decide and the rule that decided.
    pub tags: Vec<Decision>,
    /// The manifests deleted with their last tags (none in a dry run).
    pub manifests_deleted: Vec<String>,
}

fn repository(name: &str) -> Result<Repository, Error> {
    Ok(Repository::parse(name)?)
}

#[utoipa::path(get, path = "/api/registry/rules", tag = "registry", params(RepositoryQuery), responses((status = 200, description = "The repository's rules (none set: keep everything, nothing immutable)", body = Rules), (status = 400, description = "Not a repository name", body = ErrorBody)))]
pub async fn rules(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<RepositoryQuery>,
) -> Result<Json<Rules>, Error> {
    caller.require(AREA, false)?;
    let repo = repository(&q.repository)?;
    Ok(Json(registry(&app)?.registry.rules(&repo).await?))
}

#[utoipa::path(put, path = "/api/registry/rules", tag = "registry", params(RepositoryQuery), request_body = Rules, responses((status = 200, description = "Set; they hold from now on", body = Rules), (status = 400, description = "Not a repository name, or an invalid rule (named)", body = ErrorBody)))]
pub async fn set_rules(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<RepositoryQuery>,
    body: Body,
) -> Result<Json<Rules>, Error> {
    caller.require(AREA, true)?;
    let repo = repository(&q.repository)?;
    let rules: Rules = body.json()?;
    registry(&app)?.registry.set_rules(&repo, &rules).await?;
    Ok(Json(rules))
}

#[utoipa::path(post, path = "/api/registry/retention", tag = "registry", params(RetentionQuery), responses((status = 200, description = "What the run keeps and removes, tag by tag, with the rule that decided", body = RetentionRun), (status = 400, description = "Not a repository name", body = ErrorBody), (status = 404, description = "No such repository", body = ErrorBody)))]
pub async fn retention(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<RetentionQuery>,
) -> Result<Response, Error> {
    caller.require(AREA, true)?;
    let repo = repository(&q.repository)?;
    let (tags, manifests_deleted) = registry(&app)?.registry.retention(&repo, q.dry_run).await?;
    Ok(Json(RetentionRun {
        repository: repo.to_string(),
        dry_run: q.dry_run,
        tags,
        manifests_deleted,
    })
    .into_response())
}
