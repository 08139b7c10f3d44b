//! Retention and immutability of a repository's tags (`/api/registry/...`),
//! in the plain JSON envelope: a repository's rules read and set, and a
//! retention run, dry or real, that says for every tag what it keeps or
//! removes and which rule decided (`shipcore::registry::policy`). The
//! repository is named by the `repository` query parameter (its name has
//! slashes). Reading takes the `registry` area; setting rules and running
//! retention take writing it. A garbage collection on demand (dry or real)
//! takes writing it too.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use shipcore::registry::policy::{Decision, Rules};
use shipcore::registry::Repository;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{by, registry, AREA};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{Error, ErrorBody};
use crate::extract::{Body, Query};

/// The routes of the registry's policies.
pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(rules, set_rules))
        .routes(routes!(retention))
        .routes(routes!(gc))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RepositoryQuery {
    /// The repository (`team/app`).
    repository: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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

#[utoipa::path(get, path = "/api/registry/rules", tag = "registry", params(RepositoryQuery), responses((status = 200, description = "The repository's rules (none set: keep everything, nothing immutable)", body = Rules), (status = 400, description = "Not a repository name", body = ErrorBody), (status = 404, description = "This server keeps no registry", body = ErrorBody)))]
pub async fn rules(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<RepositoryQuery>,
) -> Result<Json<Rules>, Error> {
    caller.require(AREA, false)?;
    let repo = repository(&q.repository)?;
    Ok(Json(registry(&app)?.registry.rules(&repo).await?))
}

#[utoipa::path(put, path = "/api/registry/rules", tag = "registry", params(RepositoryQuery), request_body = Rules, responses((status = 200, description = "Set; they hold from now on", body = Rules), (status = 400, description = "Not a repository name, or an invalid rule (named)", body = ErrorBody), (status = 404, description = "This server keeps no registry", body = ErrorBody)))]
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

#[utoipa::path(post, path = "/api/registry/retention", tag = "registry", params(RetentionQuery), responses((status = 200, description = "What the run keeps and removes, tag by tag, with the rule that decided", body = RetentionRun), (status = 400, description = "Not a repository name", body = ErrorBody), (status = 404, description = "No such repository, or this server keeps no registry", body = ErrorBody)))]
pub async fn retention(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<RetentionQuery>,
) -> Result<Response, Error> {
    caller.require(AREA, true)?;
    let repo = repository(&q.repository)?;
    let (tags, manifests_deleted) = registry(&app)?
        .registry
        .retention(&repo, q.dry_run, by(&caller))
        .await?;
    Ok(Json(RetentionRun {
        repository: repo.to_string(),
        dry_run: q.dry_run,
        tags,
        manifests_deleted,
    })
    .into_response())
}

/// The longest grace a collection takes: ten years.
pub(crate) const MAX_GRACE: u64 = 10 * 365 * 24 * 3600;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GcQuery {
    /// Only say what would go: delete nothing.
    #[serde(default)]
    dry_run: bool,
    /// Blobs younger than this (seconds) are spared: a push sends its
    /// blobs before the manifest that claims them (3600 by default).
    grace_seconds: Option<u64>,
}

/// A garbage collection's outcome.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GcRun {
    pub dry_run: bool,
    /// Each blob removed (or that would be), with its size in bytes.
    pub blobs: Vec<GcBlob>,
    /// The bytes the removed files held: what the disk got back.
    pub bytes: u64,
    /// How long manifest pushes waited on the sweep (byte uploads never
    /// wait), in milliseconds.
    pub gate_held_ms: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GcBlob {
    pub digest: String,
    pub size: u64,
}

#[utoipa::path(post, path = "/api/registry/gc", tag = "registry", params(GcQuery), responses((status = 200, description = "The blobs no manifest references removed (or, dry, listed), and the bytes freed", body = GcRun), (status = 400, description = "A malformed query", body = ErrorBody), (status = 404, description = "This server keeps no registry", body = ErrorBody)))]
pub async fn gc(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<GcQuery>,
) -> Result<Json<GcRun>, Error> {
    caller.require(AREA, true)?;
    let grace = q.grace_seconds.unwrap_or(3600);
    if grace > MAX_GRACE {
        return Err(Error::bad_request(format!(
            "grace_seconds is at most {MAX_GRACE} (ten years), got {grace}"
        )));
    }
    let grace = std::time::Duration::from_secs(grace);
    let c = registry(&app)?.registry.collect(grace, q.dry_run).await?;
    Ok(Json(GcRun {
        dry_run: c.dry_run,
        blobs: c
            .blobs
            .into_iter()
            .map(|(digest, size)| GcBlob { digest, size })
            .collect(),
        bytes: c.bytes,
        gate_held_ms: c.gate_held_ms,
    }))
}
