//! Seed 004: the repository docker ext API (`/docker/ext/...`), in its
//! envelope `{"code":0,"message":null,"data":…,"traceId":""}` (code > 0,
//! the HTTP status, on failure). An image `{name}` of repository
//! `{repoName}` in project `{projectId}` is the registry's repository
//! `{projectId}/{repoName}/{name}`; `{name}` may have several segments.
//! Pages count from 1 (`pageNumber=0` is the first page too); a package key
//! is the image's name, with or without bkrepo's `docker://`.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use shipcore::registry::query::Page;
use shipcore::registry::{Digest, Reference, Repository};

use super::{by, registry, AREA};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{Envelope, Error, Failure};
use crate::extract::{Path, Query};

/// The routes of seed 004. Not in the OpenAPI router (an image's name has
/// any number of segments); `doc` lists them.
pub fn router() -> axum::Router<App> {
    use axum::routing::{delete, get};
    let family = axum::Router::new()
        .route(
            "/docker/ext/manifest/{project}/{repo}/{*rest}",
            get(manifest),
        )
        .route("/docker/ext/layer/{project}/{repo}/{*rest}", get(layer))
        .route("/docker/ext/repo/{project}/{repo}", get(images))
        .route("/docker/ext/tag/{project}/{repo}/{*name}", get(tags))
        .route(
            "/docker/ext/package/delete/{project}/{repo}",
            delete(delete_package),
        )
        .route(
            "/docker/ext/version/delete/{project}/{repo}",
            delete(delete_version),
        )
        .route("/docker/ext/version/detail/{project}/{repo}", get(detail))
        .route("/docker/ext/addr", get(addr))
        // Anything else under the family's prefix: a 404 in its envelope.
        .route(
            "/docker/ext/{*rest}",
            axum::routing::any(|| async { Error::NoRoute("no such endpoint".into()) }),
        );
    crate::error::with_envelope::<Ext, App>(family)
}

/// The family's envelope.
struct Ext;

impl Envelope for Ext {
    fn render(f: Failure) -> Response {
        let body = json!({
            "code": f.status.as_u16(),
            "message": f.message,
            "data": null,
            "traceId": "",
        });
        let mut res = (f.status, Json(body)).into_response();
        if let Some(secs) = f.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, secs.into());
        }
        res
    }
}

fn ok(data: Value) -> Response {
    Json(json!({"code": 0, "message": null, "data": data, "traceId": ""})).into_response()
}

/// The seed's dates: `2020-09-10T14:48:22.846`.
pub(crate) fn seed_date(rfc3339: &str) -> String {
    let t = rfc3339.trim_end_matches('Z');
    match t.split_once('.') {
        Some((whole, frac)) => format!("{whole}.{:0<3.3}", frac),
        None => format!("{t}.000"),
    }
}

/// The repository of image `name` in `project`/`repo`.
fn repository(project: &str, repo: &str, name: &str) -> Result<Repository, Error> {
    let name = name.strip_prefix("docker://").unwrap_or(name);
    part_lengths(&[project, repo, name])?;
    Ok(Repository::parse(&format!("{project}/{repo}/{name}"))?)
}

/// The longest part of a name this API takes: three of them, with their
/// slashes, fit a repository name's 255 characters.
const MAX_PART: usize = 80;

fn part_lengths(parts: &[&str]) -> Result<(), Error> {
    match parts.iter().find(|p| p.len() > MAX_PART) {
        Some(p) => Err(Error::bad_request(format!(
            "each part of the name is at most {MAX_PART} characters, got {}",
            p.len()
        ))),
        None => Ok(()),
    }
}

/// `name/.../last` split at its last segment.
fn split_last(rest: &str) -> Result<(&str, &str), Error> {
    rest.rsplit_once('/')
        .filter(|(name, last)| !name.is_empty() && !last.is_empty())
        .ok_or_else(|| Error::bad_request("expected {name}/{tag or layer id}"))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageQuery {
    page_number: Option<usize>,
    page_size: Option<usize>,
    name: Option<String>,
    tag: Option<String>,
}

/// Page `number` (from 1; 0 is 1 too) of `size` items (20 by default).
fn page(number: Option<usize>, size: Option<usize>) -> Result<Page, Error> {
    Ok(Page::of(number, size, 20, 1000, "pageSize")?)
}

fn records(total: usize, records: Vec<Value>) -> Value {
    // The seed spells it `toatalRecords`; both are sent.
    json!({"totalRecords": total, "toatalRecords": total, "records": records})
}

/// `GET /docker/ext/manifest/{projectId}/{repoName}/{name}/{tag}`: the
/// manifest as a JSON string.
async fn manifest(
    State(app): State<App>,
    caller: Caller,
    Path((project, repo, rest)): Path<(String, String, String)>,
) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    let (name, tag) = split_last(&rest)?;
    let repo = repository(&project, &repo, name)?;
    let doc = registry(&app)?
        .registry
        .manifest(&repo, &Reference::parse(tag)?, None)
        .await?;
    Ok(ok(Value::String(doc.body)))
}

/// `GET /docker/ext/layer/{projectId}/{repoName}/{name}/{Id}`: the blob's
/// bytes (`Id` a digest, `sha256:` optional).
async fn layer(
    State(app): State<App>,
    caller: Caller,
    Path((project, repo, rest)): Path<(String, String, String)>,
) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    let (name, id) = split_last(&rest)?;
    let repo = repository(&project, &repo, name)?;
    let d = if id.contains(':') {
        Digest::parse(id)?
    } else {
        Digest::parse(&format!("sha256:{id}"))?
    };
    let r = &registry(&app)?.registry;
    let missing = || shipcore::Error::missing("layer", format!("{repo}@{d}"));
    let (file, size) = r.open_blob(&repo, &d).await?.ok_or_else(missing)?;
    let mut res = Response::new(super::file_body(file, size).await);
    let h = res.headers_mut();
    h.insert(header::CONTENT_LENGTH, size.into());
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = header::HeaderValue::from_str(&format!("attachment; filename=\"{}\"", d.hex())) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// `GET /docker/ext/repo/{projectId}/{repoName}?pageNumber&pageSize&name`:
/// the images of a repository, filtered by a part of their name.
async fn images(
    State(app): State<App>,
    caller: Caller,
    Path((project, repo)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    // The images lie under `project/repo/`: a name, checked as one.
    part_lengths(&[&project, &repo])?;
    Repository::parse(&format!("{project}/{repo}"))?;
    let page = page(q.page_number, q.page_size)?;
    let found = registry(&app)?
        .registry
        .images_under(
            &format!("{project}/{repo}/"),
            q.name.as_deref().unwrap_or_default(),
            page,
        )
        .await?;
    let items = found
        .items
        .into_iter()
        .map(|(name, r)| {
            json!({
                "name": name,
                "lastModifiedBy": r.updated_by,
                "lastModifiedDate": seed_date(&r.updated),
                "downloadCount": r.pulls,
                "logoUrl": "",
                "description": "",
            })
        })
        .collect();
    Ok(ok(records(found.total, items)))
}

/// `GET /docker/ext/tag/{projectId}/{repoName}/{name}?pageNumber&pageSize&tag`.
async fn tags(
    State(app): State<App>,
    caller: Caller,
    Path((project, repo, name)): Path<(String, String, String)>,
    Query(q): Query<PageQuery>,
) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    let page = page(q.page_number, q.page_size)?;
    let repo = repository(&project, &repo, &name)?;
    let opts = registry(&app)?;
    let found = opts
        .registry
        .tag_summaries(&repo, q.tag.as_deref().unwrap_or_default(), page)
        .await?;
    let items = found
        .items
        .into_iter()
        .map(|t| {
            json!({
                "tag": t.name,
                "stageTag": "",
                "size": t.size,
                "lastModifiedBy": t.tag.updated_by,
                "lastModifiedDate": seed_date(&t.tag.updated),
                "downloadCount": t.tag.pulls,
                "registryUrl": format!("{}/{repo}:{}", opts.host, t.name),
            })
        })
        .collect();
    Ok(ok(records(found.total, items)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PackageQuery {
    package_key: String,
    version: Option<String>,
}

impl PackageQuery {
    fn version(&self) -> Result<&str, Error> {
        self.version
            .as_deref()
            .ok_or_else(|| Error::bad_request("version (the tag) is required"))
    }
}

/// `DELETE /docker/ext/package/delete/{projectId}/{repoName}?packageKey`:
/// an image with all its tags.
async fn delete_package(
    State(app): State<App>,
    caller: Caller,
    Path((project, repo)): Path<(String, String)>,
    Query(q): Query<PackageQuery>,
) -> Result<Response, Error> {
    caller.require(AREA, true)?;
    let repo = repository(&project, &repo, &q.package_key)?;
    registry(&app)?.registry.delete_repository(&repo).await?;
    Ok(ok(Value::Bool(true)))
}

/// `DELETE /docker/ext/version/delete/{projectId}/{repoName}?packageKey&version`:
/// a tag.
async fn delete_version(
    State(app): State<App>,
    caller: Caller,
    Path((project, repo)): Path<(String, String)>,
    Query(q): Query<PackageQuery>,
) -> Result<Response, Error> {
    caller.require(AREA, true)?;
    let repo = repository(&project, &repo, &q.package_key)?;
    registry(&app)?
        .registry
        .delete_tag(&repo, q.version()?, by(&caller))
        .await?;
    Ok(ok(Value::Bool(true)))
}

/// `GET /docker/ext/version/detail/{projectId}/{repoName}?packageKey&version`:
/// a tag's image, its history and layers.
async fn detail(
    State(app): State<App>,
    caller: Caller,
    Path((project, repo)): Path<(String, String)>,
    Query(q): Query<PackageQuery>,
) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    let repo = repository(&project, &repo, &q.package_key)?;
    let version = q.version()?;
    let opts = registry(&app)?;
    let (tag, image) = opts.registry.tagged_image(&repo, version).await?;
    let (m, body, config) = (image.manifest, image.body, image.config);
    let digest = Digest::parse(&m.digest)?;
    let history: Vec<Value> = config["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .map(|e| json!({"created": e["created"], "created_by": e["created_by"]}))
                .collect()
        })
        .unwrap_or_default();
    let layers: Vec<Value> = body["layers"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|e| json!({"mediaType": e["mediaType"], "size": e["size"], "digest": e["digest"]}))
                .collect()
        })
        .unwrap_or_default();
    Ok(ok(json!({
        "basic": {
            "domain": opts.host,
            "size": m.content_size,
            "version": version,
            "createdBy": m.created_by,
            "createdDate": seed_date(&m.created),
            "lastModifiedBy": tag.updated_by,
            "lastModifiedDate": seed_date(&tag.updated),
            "downloadCount": tag.pulls,
            "sha256": digest.hex(),
            "os": config["os"].as_str().unwrap_or_default(),
        },
        "history": history,
        "metadata": {
            "docker.manifest": version,
            "sha256": digest.hex(),
            "docker.repoName": repo.as_str(),
            "docker.manifest.digest": m.digest,
            "docker.manifest.type": m.media_type,
        },
        "layers": layers,
    })))
}

/// `GET /docker/ext/addr`: the registry's address, as images are named.
async fn addr(State(app): State<App>, caller: Caller) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    Ok(ok(Value::String(registry(&app)?.host.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_the_seed_writes_them() {
        assert_eq!(seed_date("2020-09-10T14:48:22Z"), "2020-09-10T14:48:22.000");
        assert_eq!(
            seed_date("2020-09-10T14:48:22.84612Z"),
            "2020-09-10T14:48:22.846"
        );
        assert_eq!(
            seed_date("2020-09-10T14:48:22.8Z"),
            "2020-09-10T14:48:22.800"
        );
    }

    #[test]
    fn pages_count_from_one() {
        let at = |n, s| page(n, s).map(|p| (p.skip, p.take)).unwrap();
        assert_eq!(at(None, None), (0, 20));
        assert_eq!(at(Some(0), Some(10)), (0, 10));
        assert_eq!(at(Some(1), Some(10)), (0, 10));
        assert_eq!(at(Some(3), Some(10)), (20, 10));
        assert!(page(Some(1), Some(0)).is_err());
        assert!(page(Some(1), Some(5000)).is_err());
    }
}
