//! The container calls: list (every engine's), create (through the
//! scheduler), inspect, start, stop, kill, restart, remove, logs
//! (multiplexed as the engine sends them) and wait.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt as _;
use serde_json::json;
use shipcore::cluster::Started;
use shipcore::engine::{ContainerFilter, LogOptions, LogStream};

use super::{filters, flag, number, wire, QueryMap, AREA};
use crate::app::App;
use crate::auth::Caller;
use crate::error::Error;
use crate::extract::{Body, Path, Query};

/// `GET /containers/json`: the containers of every engine (running ones
/// unless `all`), filtered by `label`, `name`, `id` and `status`.
pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<QueryMap>,
) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    let f = filters(&q)?;
    let all = flag(&q, "all");
    let filter = ContainerFilter {
        all: all || f.contains_key("status"),
        labels: f.get("label").cloned().unwrap_or_default(),
        name: None,
    };
    // docker-py sends -1 for "no limit".
    let limit: Option<i64> = number(&q, "limit")?;
    let mut found = app.cluster.engine_containers(&filter).await;
    found.retain(|(engine, c)| {
        let full = shipcore::cluster::qualified(engine, &c.name);
        f.get("name").is_none_or(|names| {
            names.iter().any(|n| {
                c.name.contains(n.trim_start_matches('/'))
                    || full.contains(n.trim_start_matches('/'))
            })
        }) && f
            .get("id")
            .is_none_or(|ids| ids.iter().any(|i| c.id.starts_with(i.as_str())))
            && f.get("status")
                .is_none_or(|states| states.contains(&c.state))
    });
    // Newest first, as the engine lists them.
    found.sort_by(|a, b| b.1.created.cmp(&a.1.created).then(a.1.id.cmp(&b.1.id)));
    if let Some(n) = limit
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n > 0)
    {
        found.truncate(n);
    }
    let list: Vec<serde_json::Value> = found
        .iter()
        .map(|(engine, c)| wire::summary(engine, c))
        .collect();
    Ok(Json(list).into_response())
}

/// `POST /containers/create?name=`: placed by the scheduler and recorded
/// as the cluster's own, not started. 404 when no engine holds the image
/// (the docker CLI then pulls it and asks again).
pub async fn create(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<QueryMap>,
    body: Body,
) -> Result<Response, Error> {
    caller.require(AREA, true)?;
    let name = q.get("name").cloned().unwrap_or_default();
    let (cfg, warnings) = wire::create_request(&name, body.json()?)?;
    cfg.validate()?;
    let owner = std::sync::Arc::new(caller.0.owner());
    match app.cluster.inspect_image_any(&cfg.name).await {
        Ok(_) => {}
        Err(shipcore::Error::Missing { .. }) => return Ok(super::no_such_image(&cfg.name)),
        Err(e) => return Err(e.into()),
    }
    let made = app.cluster.create_container(owner, cfg).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"Id": made.id, "Warnings": warnings})),
    )
        .into_response())
}

/// `GET /containers/{id}/json`.
pub async fn inspect(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    let (engine, d) = app.cluster.inspect_any(&id, &caller.0.owner()).await?;
    Ok(Json(wire::details(&engine, &d)).into_response())
}

/// `POST /containers/{id}/start`: 204, or 304 when it runs already.
pub async fn start(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    caller.require(AREA, true)?;
    Ok(match app.cluster.start_container(&id).await? {
        Started::Now => StatusCode::NO_CONTENT,
        Started::Already => StatusCode::NOT_MODIFIED,
    })
}

fn timeout(q: &QueryMap) -> Result<Option<Duration>, Error> {
    let t: Option<i64> = number(q, "t")?;
    Ok(t.map(|t| Duration::from_secs(u64::try_from(t).unwrap_or(0))))
}

/// `POST /containers/{id}/stop?t=`: 204, or 304 when it was not running.
pub async fn stop(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<QueryMap>,
) -> Result<StatusCode, Error> {
    caller.require(AREA, true)?;
    let t = timeout(&q)?;
    Ok(if app.cluster.stop_any(&id, t).await? {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_MODIFIED
    })
}

/// `POST /containers/{id}/kill?signal=`.
pub async fn kill(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<QueryMap>,
) -> Result<StatusCode, Error> {
    caller.require(AREA, true)?;
    let signal = q
        .get("signal")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "KILL".into());
    if signal.len() > 16
        || !signal
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-')
    {
        return Err(Error::bad_request(format!("invalid signal: {signal:?}")));
    }
    app.cluster.kill_container(&id, &signal).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/restart?t=`.
pub async fn restart(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<QueryMap>,
) -> Result<StatusCode, Error> {
    caller.require(AREA, true)?;
    let t = timeout(&q)?;
    app.cluster.restart_any(&id, t).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /containers/{id}?force=&v=`: a running container only with
/// `force` (409 otherwise, as Docker answers).
pub async fn remove(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<QueryMap>,
) -> Result<StatusCode, Error> {
    caller.require(AREA, true)?;
    app.cluster
        .remove_any(&id, flag(&q, "force"), flag(&q, "v"))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One frame of Docker's multiplexed stream: stream type, three zero
/// bytes, the length (big-endian u32), the bytes. Output of a container
/// with a TTY is sent as stdout: the endpoint never reports a TTY.
fn frame(stream: LogStream, data: &[u8]) -> Vec<u8> {
    let kind = match stream {
        LogStream::Stderr => 2u8,
        LogStream::Stdout | LogStream::Console => 1u8,
    };
    let mut out = Vec::with_capacity(8 + data.len());
    out.push(kind);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// `GET /containers/{id}/logs`: stdout and stderr multiplexed; followed
/// with `follow` (ended when the caller's certificate is revoked).
pub async fn logs(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<QueryMap>,
) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    let tail = match q.get("tail").map(String::as_str) {
        None | Some("" | "all") => None,
        Some(_) => number::<u64>(&q, "tail")?,
    };
    let (stdout, stderr) = (flag(&q, "stdout"), flag(&q, "stderr"));
    if !stdout && !stderr {
        return Err(Error::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let options = LogOptions {
        stdout,
        stderr,
        follow: flag(&q, "follow"),
        tail,
        timestamps: flag(&q, "timestamps"),
    };
    let chunks = app
        .cluster
        .logs_any(&id, &options, &caller.0.owner())
        .await?;
    let frames = chunks.map(|c| match c {
        Ok(c) => Ok::<_, std::io::Error>(bytes::Bytes::from(frame(c.stream, &c.data))),
        Err(e) => Err(std::io::Error::other(e.to_string())),
    });
    let body = crate::auth::until_revoked(&app, &caller, (AREA, false), frames);
    Ok((
        [(header::CONTENT_TYPE, "application/vnd.docker.raw-stream")],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

/// `POST /containers/{id}/wait?condition=`: the exit code once it stops;
/// with `next-exit` (which the docker CLI asks before it starts a
/// container it attached to), once the coming run has ended.
pub async fn wait(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<QueryMap>,
) -> Result<Response, Error> {
    caller.require(AREA, false)?;
    // `removed` (docker run --rm) waits for the run too: the cluster keeps
    // the container.
    let next_exit = q
        .get("condition")
        .is_some_and(|c| c == "next-exit" || c == "removed");
    // The container must exist now (a 404 otherwise); then the head of the
    // answer goes at once and its body when the container stops, as the
    // engine answers: the docker CLI sends its start only once the head
    // of its wait has come.
    let at = app.cluster.locate(&id).await?;
    at.readable_by(&caller.0.owner())?;
    let body = futures::stream::once(async move {
        let v = match at.wait(next_exit).await {
            Ok(code) => json!({"StatusCode": code, "Error": null}),
            Err(e) => json!({"StatusCode": -1, "Error": {"Message": e.to_string()}}),
        };
        Ok::<_, std::convert::Infallible>(bytes::Bytes::from(v.to_string()))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

/// How long an attached client waits for its container to be started.
const ATTACH_START: Duration = Duration::from_secs(300);

/// `POST /containers/{id}/attach` (Docker's `Upgrade: tcp`): the
/// container's output over the hijacked connection, multiplexed, from its
/// start to its end, so that `docker run` without `-d` prints it and exits
/// with its code. Input is not read (no `-i`), and a TTY is never given.
/// The stream ends when the container stops, or when the caller's
/// certificate is revoked.
pub async fn attach(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<QueryMap>,
    mut req: axum::extract::Request,
) -> Result<Response, Error> {
    use tokio::io::AsyncWriteExt as _;
    caller.require(AREA, false)?;
    let upgrade_asked = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("tcp"));
    if !upgrade_asked {
        return Err(Error::bad_request(
            "attach takes an upgraded connection (Connection: Upgrade, Upgrade: tcp), as the docker CLI asks",
        ));
    }
    let at = app.cluster.locate(&id).await?;
    at.readable_by(&caller.0.owner())?;
    let (stdout, stderr) = match (flag(&q, "stdout"), flag(&q, "stderr")) {
        (false, false) => (true, true),
        both => both,
    };
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut io = hyper_util::rt::TokioIo::new(upgraded);
        // Output is read from the start of the run the client awaits.
        let deadline = tokio::time::Instant::now() + ATTACH_START;
        loop {
            match at.inspect().await {
                Ok(d) if d.state.status != "created" => break,
                Ok(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                _ => {
                    let _ = io.shutdown().await;
                    return;
                }
            }
        }
        let options = LogOptions {
            stdout,
            stderr,
            follow: true,
            tail: None,
            timestamps: false,
        };
        let chunks = at.logs(&options);
        let mut chunks = std::pin::pin!(crate::auth::until_revoked(
            &app,
            &caller,
            (AREA, false),
            chunks
        ));
        while let Some(Ok(c)) = chunks.next().await {
            if io.write_all(&frame(c.stream, &c.data)).await.is_err() {
                return;
            }
        }
        let _ = io.shutdown().await;
    });
    Ok((
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::CONTENT_TYPE, "application/vnd.docker.raw-stream"),
            (header::CONNECTION, "Upgrade"),
            (header::UPGRADE, "tcp"),
        ],
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_dockers() {
        assert_eq!(
            frame(LogStream::Stderr, b"hi"),
            [2, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']
        );
        assert_eq!(frame(LogStream::Console, b"")[0], 1);
    }
}
