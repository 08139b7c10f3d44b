//! `_ping`, `version`, `info` (the whole cluster: every engine with its
//! state, containers, images, cpus and memory) and `events` (every
//! engine's, merged).

use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt as _;
use serde_json::{json, Value};
use shipcore::engine::ContainerFilter;
use shipcore::model::Health;

use super::{filters, QueryMap, API_VERSION, MIN_API_VERSION};
use crate::app::App;
use crate::auth::Caller;
use crate::error::Error;
use crate::extract::Query;

/// What the endpoint calls itself: Docker 20.10's API, served by shipcore.
fn server_version() -> String {
    format!("20.10.0+shipcore.{}", env!("CARGO_PKG_VERSION"))
}

/// `GET` or `HEAD /_ping`, with the headers version negotiation reads.
pub async fn ping(method: Method, _caller: Caller) -> Response {
    let body = if method == Method::HEAD { "" } else { "OK" };
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    h.insert("api-version", HeaderValue::from_static(API_VERSION));
    h.insert("ostype", HeaderValue::from_static("linux"));
    h.insert("docker-experimental", HeaderValue::from_static("false"));
    h.insert("builder-version", HeaderValue::from_static("1"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// `GET /version`.
pub async fn version(State(app): State<App>, _caller: Caller) -> Response {
    // As the last health check read it: no engine is asked here.
    let kernel = app
        .cluster
        .engines()
        .await
        .into_iter()
        .map(|e| e.docker_version)
        .find(|v| !v.is_empty())
        .unwrap_or_default();
    let version = server_version();
    Json(json!({
        "Platform": {"Name": format!("shipcore cluster {}", app.cluster.identity())},
        "Components": [{
            "Name": "Engine",
            "Version": version,
            "Details": {
                "ApiVersion": API_VERSION,
                "MinAPIVersion": MIN_API_VERSION,
                "Os": "linux",
                "Arch": "amd64",
                "Experimental": "false",
                "EnginesDockerVersion": kernel,
            },
        }],
        "Version": version,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": "amd64",
        "KernelVersion": "",
        "BuildTime": "",
    }))
    .into_response()
}

fn bytes_text(mib: u64) -> String {
    if mib >= 1024 {
        format!("{:.1} GiB", mib as f64 / 1024.0)
    } else {
        format!("{mib} MiB")
    }
}

fn strategy(s: shipcore::sched::Strategy) -> &'static str {
    use shipcore::sched::Strategy::*;
    match s {
        Spread => "spread",
        Binpack => "binpack",
        Random { .. } => "random",
    }
}

/// `GET /info`: the cluster as one engine; every engine's state, address,
/// containers, images, capacity and reservations in `DriverStatus` (as
/// Swarm listed its nodes; `docker info` prints them).
// Over 80 lines: the fields of `docker info`, one by one, as the engine API lists them.
pub async fn info(State(app): State<App>, caller: Caller) -> Result<Response, Error> {
    caller.require("cluster", false)?;
    let reports = app.cluster.engine_reports().await;
    let containers = app
        .cluster
        .engine_containers(&ContainerFilter {
            all: true,
            ..ContainerFilter::default()
        })
        .await;
    let running = containers
        .iter()
        .filter(|(_, c)| c.state == "running")
        .count();
    let paused = containers
        .iter()
        .filter(|(_, c)| c.state == "paused")
        .count();
    let mut status: Vec<[String; 2]> = vec![
        [
            "Strategy".into(),
            strategy(app.cluster.options().strategy).into(),
        ],
        ["Engines".into(), reports.len().to_string()],
    ];
    let (mut ncpu, mut mem, mut images) = (0u64, 0u64, 0u64);
    for r in &reports {
        let health = match r.health {
            Health::Healthy => "Healthy",
            Health::Unhealthy => "Unhealthy",
            Health::Unknown => "Pending",
        };
        status.push([r.id.clone(), r.addr.clone()]);
        status.push(["  └ Status".into(), health.into()]);
        let here = containers.iter().filter(|(e, _)| *e == r.id).count();
        status.push(["  └ Containers".into(), here.to_string()]);
        if let Some(i) = &r.info {
            ncpu += i.cpus.div_ceil(1000);
            mem += i.memory;
            images += i.images;
            status.push([
                "  └ Reserved CPUs".into(),
                format!(
                    "{} / {}",
                    r.reserved_cpus as f64 / 1000.0,
                    i.cpus as f64 / 1000.0
                ),
            ]);
            status.push([
                "  └ Reserved Memory".into(),
                format!(
                    "{} / {}",
                    bytes_text(r.reserved_memory),
                    bytes_text(i.memory)
                ),
            ]);
            status.push(["  └ Images".into(), i.images.to_string()]);
            status.push(["  └ ServerVersion".into(), i.version.clone()]);
        }
        status.push(["  └ Labels".into(), r.labels.join(", ")]);
    }
    let identity = app.cluster.identity().to_string();
    let now = app.cluster.options().clock.unix_secs();
    let mut answer = json!({
        "ID": identity,
        "Containers": containers.len(),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": containers.len() - running - paused,
        "Images": images,
        "Driver": "shipcore",
        "DriverStatus": status,
        "SystemStatus": null,
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Authorization": null, "Log": ["json-file"]},
    });
    let more = json!({
        "MemoryLimit": true,
        "SwapLimit": false,
        "KernelMemory": false,
        "CpuCfsPeriod": true,
        "CpuCfsQuota": true,
        "CPUShares": true,
        "CPUSet": false,
        "PidsLimit": false,
        "IPv4Forwarding": true,
        "BridgeNfIptables": true,
        "BridgeNfIp6tables": true,
        "Debug": false,
        "NFd": 0,
        "OomKillDisable": false,
        "NGoroutines": 0,
        "SystemTime": shipcore::model::rfc3339(now),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": "1",
        "NEventsListener": 0,
        "KernelVersion": "",
        "OperatingSystem": format!("shipcore cluster of {} engines", reports.len()),
        "OSVersion": "",
        "OSType": "linux",
        "Architecture": "x86_64",
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [], "InsecureRegistryCIDRs": [], "IndexConfigs": {}, "Mirrors": []},
    });
    let rest = json!({
        "NCPU": ncpu,
        "MemTotal": mem.saturating_mul(1 << 20),
        "GenericResources": null,
        "DockerRootDir": "",
        "HttpProxy": "",
        "HttpsProxy": "",
        "NoProxy": "",
        "Name": format!("shipcore-{identity}"),
        "Labels": [],
        "ExperimentalBuild": false,
        "ServerVersion": server_version(),
        "Runtimes": {"runc": {"path": "runc"}},
        "DefaultRuntime": "runc",
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "", "RemoteManagers": null},
        "LiveRestoreEnabled": false,
        "Isolation": "",
        "InitBinary": "docker-init",
        "ContainerdCommit": {"ID": "", "Expected": ""},
        "RuncCommit": {"ID": "", "Expected": ""},
        "InitCommit": {"ID": "", "Expected": ""},
        "SecurityOptions": [],
        "Warnings": null,
    });
    for part in [more, rest] {
        if let (Value::Object(to), Value::Object(from)) = (&mut answer, part) {
            to.extend(from);
        }
    }
    Ok(Json(answer).into_response())
}

/// Unix seconds of Docker's `since` / `until` (`1700000000.000000000`).
fn unix_secs(q: &QueryMap, key: &str) -> Result<Option<i64>, Error> {
    match q.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .split('.')
            .next()
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| Error::bad_request(format!("invalid {key}: {v:?} is not a unix time"))),
    }
}

/// `GET /events?since=&until=&filters=`: every engine's events, merged,
/// each with its engine (`node`), as a stream of JSON objects; it ends at
/// `until`, when the caller's certificate is revoked, or when the caller
/// goes.
pub async fn events(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<QueryMap>,
) -> Result<Response, Error> {
    caller.require("events", false)?;
    let since = unix_secs(&q, "since")?;
    let until = unix_secs(&q, "until")?;
    let f = filters(&q)?;
    let matches = move |kind: &str,
                        action: &str,
                        id: &str,
                        attrs: &std::collections::BTreeMap<String, String>| {
        let any = |key: &str, ok: &dyn Fn(&str) -> bool| {
            f.get(key).is_none_or(|vals| vals.iter().any(|v| ok(v)))
        };
        any("type", &|v| v == kind)
            && any("event", &|v| v == action)
            && any("container", &|v| {
                kind == "container"
                    && (id.starts_with(v) || attrs.get("name").is_some_and(|n| n == v))
            })
            && any("image", &|v| attrs.get("image").is_some_and(|i| i == v))
            && f.get("label")
                .is_none_or(|labels| super::has_labels(attrs, labels))
    };
    let stream = app.cluster.engine_events(since).await;
    let now = i64::try_from(app.cluster.options().clock.unix_secs()).unwrap_or(i64::MAX);
    let end = until
        .map(|u| std::time::Duration::from_secs(u64::try_from(u.saturating_sub(now)).unwrap_or(0)));
    let lines = stream
        .take_while(move |e| {
            let past =
                matches!((e, until), (Ok((_, ev)), Some(u)) if ev.time_nano / 1_000_000_000 > u);
            futures::future::ready(!past)
        })
        .filter_map(move |e| {
            let line = match e {
                Ok((engine, e)) if matches(&e.kind, &e.action, &e.id, &e.attributes) => {
                    let v: Value = json!({
                        "Type": e.kind,
                        "Action": e.action,
                        "Actor": {"ID": e.id, "Attributes": e.attributes},
                        "status": e.action,
                        "id": e.id,
                        "from": e.attributes.get("image").cloned().unwrap_or_default(),
                        "scope": "local",
                        "time": e.time_nano / 1_000_000_000,
                        "timeNano": e.time_nano,
                        "node": {"Name": engine, "ID": engine},
                    });
                    let mut b = serde_json::to_vec(&v).unwrap_or_default();
                    b.push(b'\n');
                    Some(Ok::<_, std::convert::Infallible>(bytes::Bytes::from(b)))
                }
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "an engine's event stream failed");
                    None
                }
            };
            futures::future::ready(line)
        });
    let lines = crate::auth::until_revoked(&app, &caller, ("events", false), lines);
    let body = match end {
        Some(d) => {
            let deadline = tokio::time::sleep(d);
            futures::stream::StreamExt::take_until(lines, deadline).boxed()
        }
        None => lines.boxed(),
    };
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}
