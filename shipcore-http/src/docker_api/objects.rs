//! Images (listed merged, inspected where held, pulled on the engines that
//! lack them), volumes (made on every engine) and networks (each on one
//! engine) across the cluster.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use futures::StreamExt as _;
use serde::Deserialize;
use serde_json::{json, Value};
use shipcore::engine::{NetworkSpec, RegistryAuth, VolumeSpec};

use super::{flag, wire, QueryMap, AREA};
use crate::app::App;
use crate::auth::Caller;
use crate::error::Error;
use crate::extract::{Body, Path, Query};
use shipcore::cluster::ClusterImage;

/// `GET /images/json`: every engine's images, one entry per image id
/// (its tags and digests merged).
pub async fn images(State(app): State<App>, caller: Caller) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    let list: Vec<Value> = app
        .cluster
        .cluster_images()
        .await
        .into_iter()
        .map(|ClusterImage { image: i, engines }| {
            json!({
                "Id": i.id,
                "ParentId": "",
                "RepoTags": i.tags,
                "RepoDigests": i.digests,
                "Created": i.created,
                "Size": i.size,
                "VirtualSize": i.size,
                "SharedSize": -1,
                "Labels": {},
                "Containers": -1,
                "Engines": engines,
            })
        })
        .collect();
    Ok(Json(list).into_response())
}

/// `GET /images/{name}/json` (names may hold `/`): the image as the first
/// engine holding it inspects it.
pub async fn image(
    State(app): State<App>,
    caller: Caller,
    Path(path): Path<String>,
) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    let Some(name) = path.strip_suffix("/json") else {
        return Ok(super::message(
            StatusCode::NOT_IMPLEMENTED,
            &format!(
                "GET /images/{path} is not supported by the shipcore cluster endpoint (inspect with /images/NAME/json)"
            ),
        ));
    };
    let (engine, d) = match app.cluster.inspect_image_any(name).await {
        Ok(found) => found,
        Err(shipcore::Error::Missing { .. }) => return Ok(super::no_such_image(name)),
        Err(e) => return Err(e.into()),
    };
    Ok(Json(json!({
        "Id": d.id,
        "RepoTags": d.tags,
        "RepoDigests": d.digests,
        "Parent": "",
        "Comment": "",
        "Created": d.created,
        "Container": "",
        "ContainerConfig": {"Labels": d.labels, "Volumes": null},
        "DockerVersion": "",
        "Author": "",
        "Config": {"Labels": d.labels, "Volumes": null, "Env": null, "Cmd": null},
        "Architecture": d.arch,
        "Os": d.os,
        "Size": d.size,
        "VirtualSize": d.size,
        "RootFS": {"Type": "layers", "Layers": d.layers},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        "Node": {"ID": engine, "Name": engine},
    }))
    .into_response())
}

/// Credentials from `X-Registry-Auth` (base64url JSON, as the docker CLI
/// sends them); none when absent or empty.
pub(crate) fn registry_auth(headers: &HeaderMap) -> Result<Option<RegistryAuth>, Error> {
    let Some(raw) = headers.get("x-registry-auth") else {
        return Ok(None);
    };
    let raw = raw
        .to_str()
        .map_err(|_| Error::bad_request("invalid X-Registry-Auth"))?
        .trim();
    if raw.is_empty() || raw == "e30=" || raw == "e30" {
        return Ok(None);
    }
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(raw)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(raw))
        .map_err(|_| Error::bad_request("invalid X-Registry-Auth: not base64"))?;
    #[derive(Deserialize)]
    struct Auth {
        #[serde(default)]
        username: String,
        #[serde(default)]
        password: String,
        #[serde(default)]
        serveraddress: String,
    }
    let a: Auth = serde_json::from_slice(&bytes)
        .map_err(|e| Error::bad_request(format!("invalid X-Registry-Auth: {e}")))?;
    Ok((!a.username.is_empty()).then_some(RegistryAuth {
        username: a.username,
        password: a.password,
        server: a.serveraddress,
    }))
}

/// `POST /images/create?fromImage=&tag=`: pulled on every engine that
/// answers and lacks it; progress as Docker streams it, each id prefixed
/// with its engine. A failure comes in the stream (`errorDetail`), as
/// Docker sends it once the answer has begun.
pub async fn pull(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<QueryMap>,
) -> Result<Response, Error> {
    caller.require(AREA, true)?;
    if q.get("fromSrc").is_some_and(|s| !s.is_empty()) {
        return Ok(super::message(
            StatusCode::NOT_IMPLEMENTED,
            "importing an image is not supported by the shipcore cluster endpoint (push it to the cluster's registry)",
        ));
    }
    let from = q.get("fromImage").map(|s| s.trim()).unwrap_or_default();
    if from.is_empty() {
        return Err(Error::bad_request(
            "invalid fromImage: an image is required",
        ));
    }
    let tag = q.get("tag").map(|s| s.trim()).unwrap_or_default();
    let reference = if tag.is_empty() || from.contains('@') {
        from.to_string()
    } else if tag.starts_with("sha256:") {
        format!("{from}@{tag}")
    } else {
        format!("{from}:{tag}")
    };
    shipcore::model::ImageRef::parse(&reference)
        .map_err(|e| Error::bad_request(format!("invalid fromImage: {e}")))?;
    let auth = registry_auth(&headers)?;
    let progress = app.cluster.pull_everywhere(&reference, auth).await;
    let done = reference.clone();
    let lines = progress
        .map(move |p| match p {
            Ok((engine, p)) => {
                let mut v = json!({
                    "status": p.status,
                    "id": match &p.id {
                        Some(id) => format!("{engine}: {id}"),
                        None => engine,
                    },
                });
                if let (Some(current), Some(total)) = (p.current, p.total) {
                    v["progressDetail"] = json!({"current": current, "total": total});
                }
                v
            }
            Err(e) => json!({"errorDetail": {"message": e.to_string()}, "error": e.to_string()}),
        })
        .chain(futures::stream::once(async move {
            json!({"status": format!("Status: {done} is on every engine that answers")})
        }))
        .map(|v| {
            let mut line = serde_json::to_vec(&v).unwrap_or_default();
            line.push(b'\n');
            Ok::<_, std::convert::Infallible>(bytes::Bytes::from(line))
        });
    let body = crate::auth::until_revoked(&app, &caller, (AREA, true), lines);
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

/// `GET /volumes`: every engine's volumes, one entry per name.
pub async fn volumes(State(app): State<App>, caller: Caller) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    let mut merged: BTreeMap<String, Value> = BTreeMap::new();
    for (_, v) in app.cluster.engine_volumes().await {
        merged
            .entry(v.name.clone())
            .or_insert_with(|| wire::volume(&v));
    }
    Ok(
        Json(json!({"Volumes": merged.into_values().collect::<Vec<_>>(), "Warnings": null}))
            .into_response(),
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct VolumeBody {
    name: String,
    driver: String,
    driver_opts: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
}

/// A volume's or network's name as Docker takes it.
pub(crate) fn valid_name(field: &str, name: &str) -> Result<(), Error> {
    if shipcore::model::docker_name(name, 200) {
        Ok(())
    } else {
        Err(Error::bad_request(format!(
            "invalid {field}: {name:?} must be 1 to 200 of [a-zA-Z0-9_.-], starting with a letter or digit"
        )))
    }
}

/// `POST /volumes/create`: made on every engine that answers (a name is
/// made up when none is given).
pub async fn volume_create(
    State(app): State<App>,
    caller: Caller,
    body: Body,
) -> Result<Response, Error> {
    caller.require(AREA, true)?;
    let b: VolumeBody = if body.0.is_empty() {
        VolumeBody::default()
    } else {
        body.json()?
    };
    let name = if b.name.is_empty() {
        // 64 hex digits, as Docker names an anonymous volume.
        shipcore::access::hash_key(&shipcore::access::new_key(32)?)
    } else {
        b.name
    };
    valid_name("Name", &name)?;
    let spec = VolumeSpec {
        name,
        driver: b.driver,
        driver_opts: b.driver_opts.unwrap_or_default(),
        labels: b.labels.unwrap_or_default(),
    };
    let v = app
        .cluster
        .create_volume_everywhere(&spec, &caller.0.owner())
        .await?;
    Ok((StatusCode::CREATED, Json(wire::volume(&v))).into_response())
}

/// `GET /volumes/{name}`.
pub async fn volume(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    let (_, v) = app.cluster.inspect_volume_any(&name).await?;
    Ok(Json(wire::volume(&v)).into_response())
}

/// `DELETE /volumes/{name}?force=`: from every engine that holds it.
pub async fn volume_remove(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<QueryMap>,
) -> Result<StatusCode, Error> {
    caller.require(AREA, true)?;
    app.cluster
        .remove_volume_everywhere(&name, flag(&q, "force"))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /networks`.
pub async fn networks(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<QueryMap>,
) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    let f = super::filters(&q)?;
    let list: Vec<Value> = app
        .cluster
        .cluster_networks()
        .await
        .iter()
        .map(|c| (&c.name, &c.engine, &c.info))
        .filter(|(name, _, n)| {
            f.get("name")
                .is_none_or(|want| want.iter().any(|w| name.contains(w.as_str())))
                && f.get("id")
                    .is_none_or(|want| want.iter().any(|w| n.id.starts_with(w.as_str())))
                && f.get("label")
                    .is_none_or(|want| super::has_labels(&n.labels, want))
        })
        .map(|(name, engine, n)| wire::network(name, engine, n))
        .collect();
    Ok(Json(list).into_response())
}

/// `GET /networks/{id}`: by id, id prefix, name or `ENGINE/NAME`.
pub async fn network(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    let (engine, n) = app.cluster.locate_network(&id).await?;
    Ok(Json(wire::network(&n.name, &engine, &n)).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct NetworkBody {
    name: String,
    driver: String,
    labels: Option<BTreeMap<String, String>>,
    internal: bool,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: bool,
}

/// `POST /networks/create`: on one engine (the scheduler's pick);
/// containers that join it are placed there.
pub async fn network_create(
    State(app): State<App>,
    caller: Caller,
    body: Body,
) -> Result<Response, Error> {
    caller.require(AREA, true)?;
    let b: NetworkBody = body.json()?;
    valid_name("Name", &b.name)?;
    let driver = if b.driver.is_empty() {
        "bridge".to_string()
    } else {
        b.driver
    };
    let warning = String::new();
    let spec = NetworkSpec {
        name: b.name,
        driver,
        labels: b.labels.unwrap_or_default(),
        internal: b.internal,
        enable_ipv6: b.enable_ipv6,
        ..NetworkSpec::default()
    };
    let (_, id) = app
        .cluster
        .create_network_somewhere(&spec, &caller.0.owner())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"Id": id, "Warning": warning})),
    )
        .into_response())
}

/// `DELETE /networks/{id}`.
pub async fn network_remove(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    caller.require(AREA, true)?;
    app.cluster.remove_network_any(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct AttachBody {
    container: String,
    endpoint_config: Option<wire::Endpoint>,
    force: bool,
}

/// `POST /networks/{id}/connect`.
pub async fn network_connect(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    body: Body,
) -> Result<StatusCode, Error> {
    caller.require(AREA, true)?;
    let b: AttachBody = body.json()?;
    let aliases = b
        .endpoint_config
        .and_then(|e| e.aliases)
        .unwrap_or_default();
    app.cluster
        .network_attach(&id, &b.container, true, &aliases, false)
        .await?;
    Ok(StatusCode::OK)
}

/// `POST /networks/{id}/disconnect`.
pub async fn network_disconnect(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    body: Body,
) -> Result<StatusCode, Error> {
    caller.require(AREA, true)?;
    let b: AttachBody = body.json()?;
    app.cluster
        .network_attach(&id, &b.container, false, &[], b.force)
        .await?;
    Ok(StatusCode::OK)
}
