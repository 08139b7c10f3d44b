//! Seed 004: the repository docker ext API (`/docker/ext/...`), in its
//! envelope `{"code":0,"message":null,"data":…,"traceId":""}` (code > 0,
//! the HTTP status, on failure). An image `{name}` of repository
//! `{repoName}` in project `{projectId}` is the registry's repository
//! `{projectId}/{repoName}/{name}`; `{name}` may have several segments.
//! Pages count from 1 (`pageNumber=0` is the first page too); a package key
//! is the image's name, with or without bkrepo's `docker://`.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use shipcore::registry::{Digest, Reference, Repository};

use super::{registry, AREA};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{Envelope, Error, Failure};
use crate::extract::{Path, Query};

/// The largest image config read for a version's details.
const MAX_CONFIG: u64 = 4 << 20;

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
    Ok(Repository::parse(&format!("{project}/{repo}/{name}"))?)
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

/// Page `number` (from 1; 0 is 1 too) of `size` items: what to skip and take.
fn page(number: Option<usize>, size: Option<usize>) -> Result<(usize, usize), Error> {
    let size = size.unwrap_or(20);
    if !(1..=1000).contains(&size) {
        return Err(Error::bad_request("pageSize must be from 1 to 1000"));
    }
    let number = number.unwrap_or(1).max(1);
    Ok(((number - 1).saturating_mul(size), size))
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
        .manifest(&repo, &Reference::parse(tag)?, false)
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
    if r.blob(&repo, &d).await?.is_none() {
        return Err(missing().into());
    }
    let (file, size) = r.blob_store().open_blob(&d).await?.ok_or_else(missing)?;
    let mut res = Response::new(Body::from_stream(
        tokio_util::io::ReaderStream::with_capacity(file, 1 << 20),
    ));
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
    let (skip, take) = page(q.page_number, q.page_size)?;
    let prefix = format!("{project}/{repo}/");
    let filter = q.name.unwrap_or_default();
    let found: Vec<_> = registry(&app)?
        .registry
        .repositories()
        .await?
        .into_iter()
        .filter_map(|r| {
            let name = r.name.strip_prefix(&prefix)?.to_string();
            name.contains(&filter).then_some((name, r))
        })
        .collect();
    let total = found.len();
    let page = found
        .into_iter()
        .skip(skip)
        .take(take)
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
    Ok(ok(records(total, page)))
}

/// `GET /docker/ext/tag/{projectId}/{repoName}/{name}?pageNumber&pageSize&tag`.
async fn tags(
    State(app): State<App>,
    caller: Caller,
    Path((project, repo, name)): Path<(String, String, String)>,
    Query(q): Query<PageQuery>,
) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    let (skip, take) = page(q.page_number, q.page_size)?;
    let repo = repository(&project, &repo, &name)?;
    let opts = registry(&app)?;
    opts.registry.repository(&repo).await?;
    let filter = q.tag.unwrap_or_default();
    let found: Vec<_> = opts
        .registry
        .tag_records(&repo)
        .await?
        .into_iter()
        .filter(|(t, _)| t.contains(&filter))
        .collect();
    let total = found.len();
    let mut page = Vec::new();
    for (tag, t) in found.into_iter().skip(skip).take(take) {
        let size = match opts
            .registry
            .manifest(&repo, &Reference::Digest(Digest::parse(&t.digest)?), false)
            .await
        {
            Ok(m) => m.content_size,
            Err(_) => 0,
        };
        page.push(json!({
            "tag": tag,
            "stageTag": "",
            "size": size,
            "lastModifiedBy": t.updated_by,
            "lastModifiedDate": seed_date(&t.updated),
            "downloadCount": t.pulls,
            "registryUrl": format!("{}/{repo}:{tag}", opts.host),
        }));
    }
    Ok(ok(records(total, page)))
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
        .delete_tag(&repo, q.version()?)
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
    let tag = opts
        .registry
        .tag_records(&repo)
        .await?
        .into_iter()
        .find(|(t, _)| t == version)
        .map(|(_, t)| t)
        .ok_or_else(|| shipcore::Error::missing("version", format!("{repo}:{version}")))?;
    let m = opts
        .registry
        .manifest(
            &repo,
            &Reference::Digest(Digest::parse(&tag.digest)?),
            false,
        )
        .await?;
    let body: Value = serde_json::from_str(&m.body).unwrap_or(Value::Null);
    let config = image_config(opts, &repo, &body).await;
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

/// An image manifest's config blob as JSON (`null` for an index, or a config
/// that cannot be read).
pub(crate) async fn image_config(
    opts: &super::RegistryOptions,
    repo: &Repository,
    manifest: &Value,
) -> Value {
    let Some(d) = manifest["config"]["digest"]
        .as_str()
        .and_then(|d| Digest::parse(d).ok())
    else {
        return Value::Null;
    };
    match opts.registry.small_blob(repo, &d, MAX_CONFIG).await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
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
        assert_eq!(page(None, None).unwrap(), (0, 20));
        assert_eq!(page(Some(0), Some(10)).unwrap(), (0, 10));
        assert_eq!(page(Some(1), Some(10)).unwrap(), (0, 10));
        assert_eq!(page(Some(3), Some(10)).unwrap(), (20, 10));
        assert!(page(Some(1), Some(0)).is_err());
        assert!(page(Some(1), Some(5000)).is_err());
    }
}
