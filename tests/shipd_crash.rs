//! The crash suite: shipd (the process) on the test bed's engine A, killed
//! with SIGKILL three times while 200 clients on loopback create and delete
//! accounts, service keys, deploys, compose projects, builds, registry
//! blobs, manifests and chunked uploads, each client in a bounded loop.
//! Every client keeps a ledger of what shipd acknowledged. After each
//! restart on the same data folder:
//! - every acknowledged write is there and every acknowledged delete gone;
//! - nothing half-made stays visible once the reconcile rounds have run: no
//!   container record without its container, no container of the cluster
//!   or of a project without its record, every project that exists runs;
//! - reservations equal the footprints of the records;
//! - every blob on disk holds its digest's bytes, and every upload left
//!   open either resumes from what it kept or is cancelled;
//! - every build is in the history of its project, and all of them settle.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use support::http::{client, send, Cred};
use support::shipd::{verified_blobs, Shipd};
use support::*;

const PASSWORD: &str = "crash-suite-pw";

/// Clients per family: 200 in all.
const FAMILIES: [(Family, usize); 8] = [
    (Family::Accounts, 30),
    (Family::Keys, 66),
    (Family::Deploys, 6),
    (Family::Projects, 8),
    (Family::Builds, 2),
    (Family::Blobs, 48),
    (Family::Manifests, 10),
    (Family::Uploads, 30),
];

/// How long the clients run before each kill.
const LOAD: [Duration; 3] = [
    Duration::from_millis(5000),
    Duration::from_millis(3500),
    Duration::from_millis(6500),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Family {
    Accounts,
    Keys,
    Deploys,
    Projects,
    Builds,
    Blobs,
    Manifests,
    Uploads,
}

/// What shipd last acknowledged about one thing: made, deleted, or a
/// request whose answer the kill cut off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Known {
    Present,
    Absent,
    Unknown,
}

struct Upload {
    repo: String,
    location: String,
    data: Vec<u8>,
    /// Bytes shipd acknowledged.
    acked: usize,
}

#[derive(Default)]
struct Ledger {
    accounts: BTreeMap<String, Known>,
    keys: BTreeMap<String, Known>,
    containers: BTreeMap<String, Known>,
    projects: BTreeMap<String, Known>,
    /// Build id → its project.
    builds: BTreeMap<String, String>,
    /// (repository, digest) → state.
    blobs: BTreeMap<(String, String), Known>,
    /// (repository, tag) → the manifest's digest.
    tags: BTreeMap<(String, String), String>,
    uploads: Vec<Upload>,
    /// Acknowledged writes by family.
    acked: BTreeMap<Family, u64>,
    /// Answers that were neither success nor a cut connection.
    refused: BTreeMap<String, u64>,
    /// Calls, total and longest milliseconds by route (with
    /// SHIPCORE_CRASH_TIMES set).
    times: BTreeMap<String, (u64, u64, u64)>,
}

fn admin() -> Cred {
    Cred::Basic("admin".into(), PASSWORD.into())
}

#[derive(Clone)]
struct Ctx {
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<Bytes>,
    >,
    base: String,
    round: usize,
    stop: Arc<AtomicBool>,
    ledger: Arc<Mutex<Ledger>>,
    calls: Arc<AtomicU64>,
}

type Answer = Result<(u16, axum::http::HeaderMap, Bytes), String>;

impl Ctx {
    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }

    async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let began = Instant::now();
        let answer = send(
            &self.client,
            &self.base,
            method,
            path,
            &admin(),
            headers,
            Bytes::from(body),
        )
        .await;
        if std::env::var_os("SHIPCORE_CRASH_TIMES").is_some() {
            let what = format!(
                "{method} {}",
                path.split('/').take(3).collect::<Vec<_>>().join("/")
            );
            let ms = began.elapsed().as_millis() as u64;
            self.with(|l| {
                let e = l.times.entry(what).or_default();
                e.0 += 1;
                e.1 += ms;
                e.2 = e.2.max(ms);
            });
        }
        if let Err(e) = &answer {
            if self.running() {
                let e = format!("{method} cut before the kill: {e}");
                self.with(|l| *l.refused.entry(e).or_default() += 1);
            }
        }
        answer
    }

    async fn json(&self, method: &str, path: &str, body: Value) -> Result<(u16, Value), String> {
        let body = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let (s, _, b) = self
            .raw(method, path, &[("Content-Type", "application/json")], body)
            .await?;
        Ok((s, serde_json::from_slice(&b).unwrap_or(Value::Null)))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Ledger) -> T) -> T {
        f(&mut self.ledger.lock().unwrap())
    }

    fn ack(&self, family: Family) {
        self.with(|l| *l.acked.entry(family).or_default() += 1);
    }

    /// Notes an answer other than the one wanted (overload, a refusal).
    fn refused(&self, what: &str, status: u16) {
        assert!(
            status >= 500 || status == 429,
            "{what} answered {status}: the suite's request is wrong"
        );
        self.with(|l| *l.refused.entry(format!("{what} {status}")).or_default() += 1);
    }
}

/// One client's bounded loop; it ends at the kill (its connection cut) or
/// when the round stops.
async fn client_loop(cx: Ctx, family: Family, i: usize) {
    let r = cx.round;
    for n in 0..500usize {
        if !cx.running() {
            return;
        }
        let go_on = match family {
            Family::Accounts => account(&cx, &format!("u{r}x{i}x{n}"), n % 2 == 0).await,
            Family::Keys => key(&cx, n % 2 == 0).await,
            Family::Deploys => deploy(&cx, i, n % 4 != 3).await,
            Family::Projects => project(&cx, &format!("crash{r}x{i}x{n}"), n % 4 != 3).await,
            Family::Builds => build(&cx, &format!("crashb{r}x{i}"), n).await,
            Family::Blobs => blob(&cx, &format!("crash/b{i}"), (r, i, n), n % 2 == 0).await,
            Family::Manifests => manifest(&cx, &format!("crash/m{i}"), (r, i, n)).await,
            Family::Uploads => upload(&cx, &format!("crash/u{i}"), (r, i, n)).await,
        };
        if !go_on {
            return;
        }
    }
}

async fn account(cx: &Ctx, name: &str, delete: bool) -> bool {
    cx.with(|l| l.accounts.insert(name.into(), Known::Unknown));
    let body = json!({"username": name, "password": "crash-user-pw", "role": {"name": "user"}});
    match cx.json("POST", "/api/accounts", body).await {
        Ok((204, _)) => {
            cx.with(|l| l.accounts.insert(name.into(), Known::Present));
            cx.ack(Family::Accounts);
        }
        Ok((s, _)) => {
            cx.refused("POST /api/accounts", s);
            return true;
        }
        Err(_) => return false,
    }
    if delete {
        cx.with(|l| l.accounts.insert(name.into(), Known::Unknown));
        match cx
            .json("DELETE", "/api/accounts", json!({"username": name}))
            .await
        {
            Ok((204, _)) => {
                cx.with(|l| l.accounts.insert(name.into(), Known::Absent));
                cx.ack(Family::Accounts);
            }
            Ok((s, _)) => cx.refused("DELETE /api/accounts", s),
            Err(_) => return false,
        }
    }
    true
}

async fn key(cx: &Ctx, delete: bool) -> bool {
    let key = match cx
        .json("POST", "/api/servicekeys", json!({"description": "crash"}))
        .await
    {
        Ok((200, v)) => {
            let key = v["key"].as_str().unwrap().to_string();
            cx.with(|l| l.keys.insert(key.clone(), Known::Present));
            cx.ack(Family::Keys);
            key
        }
        Ok((s, _)) => {
            cx.refused("POST /api/servicekeys", s);
            return true;
        }
        Err(_) => return false,
    };
    if delete {
        cx.with(|l| l.keys.insert(key.clone(), Known::Unknown));
        match cx
            .json("DELETE", "/api/servicekeys", json!({"key": key}))
            .await
        {
            Ok((204, _)) => {
                cx.with(|l| l.keys.insert(key.clone(), Known::Absent));
                cx.ack(Family::Keys);
            }
            Ok((s, _)) => cx.refused("DELETE /api/servicekeys", s),
            Err(_) => return false,
        }
    }
    true
}

async fn deploy(cx: &Ctx, i: usize, delete: bool) -> bool {
    // A config of its own: deploys of one config wait for each other. (A
    // container starts as slowly as its CPU limit lets it: on a busy
    // machine, seconds for a tenth of a CPU. A build reserves a whole CPU
    // of engine A's two while it runs.)
    let body = json!({"name": IMAGE, "cpus": 0.2, "memory": 8, "args": ["sleep", "600"],
        "environment": {"CLIENT": format!("{i}")}, "restart_policy": {"name": "always"}});
    let id = match cx.json("POST", "/api/containers", body).await {
        Ok((201, v)) => {
            let id = v[0]["id"].as_str().unwrap().to_string();
            cx.with(|l| l.containers.insert(id.clone(), Known::Present));
            cx.ack(Family::Deploys);
            id
        }
        // The engine's CPUs are all reserved (the scheduler's 409): not a
        // fault.
        Ok((409, v)) => {
            let s = 409;
            assert!(v.to_string().contains("cpu"), "{v}");
            if std::env::var_os("SHIPCORE_CRASH_TIMES").is_some() {
                eprintln!("full: {v}");
            }
            cx.with(|l| {
                *l.refused
                    .entry(format!("POST /api/containers {s} (full)"))
                    .or_default() += 1
            });
            return true;
        }
        Ok((s, _)) => {
            cx.refused("POST /api/containers", s);
            return true;
        }
        Err(_) => return false,
    };
    if delete {
        cx.with(|l| l.containers.insert(id.clone(), Known::Unknown));
        match cx
            .json("DELETE", &format!("/api/containers/{id}"), Value::Null)
            .await
        {
            Ok((204, _)) => {
                cx.with(|l| l.containers.insert(id.clone(), Known::Absent));
                cx.ack(Family::Deploys);
            }
            Ok((s, _)) => cx.refused("DELETE /api/containers/{id}", s),
            Err(_) => return false,
        }
    }
    true
}

fn template() -> String {
    format!(
        "services:\n  web:\n    image: {IMAGE}\n    command: [\"sleep\", \"600\"]\n    mem_limit: 8m\n"
    )
}

async fn project(cx: &Ctx, name: &str, delete: bool) -> bool {
    cx.with(|l| l.projects.insert(name.into(), Known::Unknown));
    match cx
        .json(
            "POST",
            "/projects",
            json!({"name": name, "template": template()}),
        )
        .await
    {
        Ok((201, _)) => {
            cx.with(|l| l.projects.insert(name.into(), Known::Present));
            cx.ack(Family::Projects);
        }
        Ok((s, _)) => {
            cx.refused("POST /projects", s);
            cx.with(|l| l.projects.insert(name.into(), Known::Absent));
            return true;
        }
        Err(_) => return false,
    }
    if delete {
        cx.with(|l| l.projects.insert(name.into(), Known::Unknown));
        let path = format!("/projects/{name}?force=true&v=true");
        match cx.json("DELETE", &path, Value::Null).await {
            Ok((200, _)) => {
                cx.with(|l| l.projects.insert(name.into(), Known::Absent));
                cx.ack(Family::Projects);
            }
            Ok((s, _)) => cx.refused("DELETE /projects/{name}", s),
            Err(_) => return false,
        }
    }
    true
}

/// The project's builds, by id.
async fn history(cx: &Ctx, project: &str) -> Result<BTreeMap<String, Value>, String> {
    let path = format!("/api/project/buildHistory?projectName={project}&page_size=100");
    let (s, v) = cx.json("GET", &path, Value::Null).await?;
    if s != 200 {
        return Err(format!("{path}: {s} {v}"));
    }
    Ok(v["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["idStr"].as_str().unwrap().to_string(), b.clone()))
        .collect())
}

/// The first turn makes the build project; each turn queues a build and
/// waits for it to end.
async fn build(cx: &Ctx, project: &str, n: usize) -> bool {
    if n == 0 {
        for (path, body) in [
            ("/api/project/new", json!({"projectName": project})),
            (
                "/api/project/save",
                json!({"project": project, "dockerfile": format!("FROM {IMAGE}\nRUN echo {project} > /built\n")}),
            ),
        ] {
            match cx.json("POST", path, body).await {
                Ok((200, _)) => cx.ack(Family::Builds),
                Ok((s, _)) => {
                    cx.refused(path, s);
                    return false;
                }
                Err(_) => return false,
            }
        }
    }
    let body = json!({"projectName": project, "tag": format!("t{n}")});
    let id = match cx.json("POST", "/api/project/build", body).await {
        Ok((200, v)) => {
            let id = v["content"]["idStr"].as_str().unwrap().to_string();
            cx.with(|l| l.builds.insert(id.clone(), project.into()));
            cx.ack(Family::Builds);
            id
        }
        Ok((s, _)) => {
            cx.refused("POST /api/project/build", s);
            return false;
        }
        Err(_) => return false,
    };
    while cx.running() {
        match history(cx, project).await {
            Ok(h) if ended(&h[&id]) => return true,
            Ok(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(_) => return false,
        }
    }
    false
}

fn ended(build: &Value) -> bool {
    matches!(build["status"].as_str(), Some("succeeded" | "failed"))
}

fn digest(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

/// Bytes that differ for every (round, client, turn).
fn bytes_for(who: (usize, usize, usize), len: usize) -> Vec<u8> {
    let seed = format!("{who:?}");
    seed.bytes().cycle().take(len).collect()
}

/// Pushes `data` whole; true when shipd acknowledged it.
async fn push(cx: &Ctx, repo: &str, data: Vec<u8>) -> Result<bool, String> {
    let d = digest(&data);
    let len = data.len().to_string();
    let (s, _, _) = cx
        .raw(
            "POST",
            &format!("/v2/{repo}/blobs/uploads/?digest={d}"),
            &[
                ("Content-Type", "application/octet-stream"),
                ("Content-Length", &len),
            ],
            data,
        )
        .await?;
    if s != 201 {
        cx.refused("POST /v2/{name}/blobs/uploads/?digest=", s);
    }
    Ok(s == 201)
}

async fn blob(cx: &Ctx, repo: &str, who: (usize, usize, usize), delete: bool) -> bool {
    let data = bytes_for(who, 1024 + (who.2 % 7) * 2000);
    let d = digest(&data);
    let k = (repo.to_string(), d.clone());
    cx.with(|l| {
        l.blobs.entry(k.clone()).or_insert(Known::Unknown);
    });
    match push(cx, repo, data).await {
        Ok(true) => {
            cx.with(|l| l.blobs.insert(k.clone(), Known::Present));
            cx.ack(Family::Blobs);
        }
        Ok(false) => return true,
        Err(_) => return false,
    }
    if delete {
        cx.with(|l| l.blobs.insert(k.clone(), Known::Unknown));
        match cx
            .raw("DELETE", &format!("/v2/{repo}/blobs/{d}"), &[], Vec::new())
            .await
        {
            Ok((202, _, _)) => {
                cx.with(|l| l.blobs.insert(k, Known::Absent));
                cx.ack(Family::Blobs);
            }
            Ok((s, _, _)) => cx.refused("DELETE /v2/{name}/blobs/{digest}", s),
            Err(_) => return false,
        }
    }
    true
}

/// A layer, a config and an image manifest under a new tag.
async fn manifest(cx: &Ctx, repo: &str, who: (usize, usize, usize)) -> bool {
    let layer = bytes_for(who, 2048);
    let config = json!({"architecture": "amd64", "os": "linux", "created": "2026-12-07T00:00:00Z",
        "config": {"Labels": {"who": format!("{who:?}")}},
        "rootfs": {"type": "layers", "diff_ids": [digest(&layer)]}})
    .to_string()
    .into_bytes();
    let m = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(&layer), "size": layer.len()}]
    })
    .to_string()
    .into_bytes();
    for part in [layer, config] {
        match push(cx, repo, part).await {
            Ok(true) => cx.ack(Family::Manifests),
            Ok(false) => return true,
            Err(_) => return false,
        }
    }
    let tag = format!("r{}n{}", who.0, who.2);
    let d = digest(&m);
    match cx
        .raw(
            "PUT",
            &format!("/v2/{repo}/manifests/{tag}"),
            &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
            m,
        )
        .await
    {
        Ok((201, _, _)) => {
            cx.with(|l| l.tags.insert((repo.into(), tag), d));
            cx.ack(Family::Manifests);
            true
        }
        Ok((s, _, _)) => {
            cx.refused("PUT /v2/{name}/manifests/{reference}", s);
            true
        }
        Err(_) => false,
    }
}

/// The chunk of an upload.
const CHUNK: usize = 16 * 1024;

/// A chunked upload: started, three chunks, then published by digest.
async fn upload(cx: &Ctx, repo: &str, who: (usize, usize, usize)) -> bool {
    let data = bytes_for(who, 3 * CHUNK);
    let location = match cx
        .raw(
            "POST",
            &format!("/v2/{repo}/blobs/uploads/"),
            &[],
            Vec::new(),
        )
        .await
    {
        Ok((202, head, _)) => head["location"].to_str().unwrap().to_string(),
        Ok((s, _, _)) => {
            cx.refused("POST /v2/{name}/blobs/uploads/", s);
            return true;
        }
        Err(_) => return false,
    };
    cx.ack(Family::Uploads);
    cx.with(|l| {
        l.uploads.push(Upload {
            repo: repo.into(),
            location: location.clone(),
            data: data.clone(),
            acked: 0,
        })
    });
    let forget = |cx: &Ctx| cx.with(|l| l.uploads.retain(|u| u.location != location));
    for start in (0..data.len()).step_by(CHUNK) {
        let chunk = data[start..start + CHUNK].to_vec();
        let range = format!("{start}-{}", start + CHUNK - 1);
        match cx
            .raw(
                "PATCH",
                &location,
                &[
                    ("Content-Range", &range),
                    ("Content-Type", "application/octet-stream"),
                ],
                chunk,
            )
            .await
        {
            Ok((202, _, _)) => {
                cx.with(|l| {
                    if let Some(u) = l.uploads.iter_mut().find(|u| u.location == location) {
                        u.acked = start + CHUNK;
                    }
                });
                cx.ack(Family::Uploads);
            }
            Ok((s, _, _)) => {
                cx.refused("PATCH /v2/{name}/blobs/uploads/{uuid}", s);
                forget(cx);
                return true;
            }
            Err(_) => return false,
        }
    }
    let d = digest(&data);
    let sep = if location.contains('?') { '&' } else { '?' };
    match cx
        .raw(
            "PUT",
            &format!("{location}{sep}digest={d}"),
            &[],
            Vec::new(),
        )
        .await
    {
        Ok((201, _, _)) => {
            forget(cx);
            cx.with(|l| l.blobs.insert((repo.into(), d), Known::Present));
            cx.ack(Family::Uploads);
            true
        }
        Ok((s, _, _)) => {
            cx.refused("PUT /v2/{name}/blobs/uploads/{uuid}", s);
            forget(cx);
            true
        }
        Err(_) => false,
    }
}

/// Ids of the containers on `engine` that carry `label`.
fn labelled(engine: &str, label: &str, format: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["-H", engine, "ps", "-a", "--no-trunc", "--filter"])
        .arg(format!("label={label}"))
        .args(["--format", format])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// Removes what the suite made on the engine, whatever its outcome.
struct Cleanup {
    engine: String,
    identity: Arc<Mutex<String>>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let id = self.identity.lock().map(|i| i.clone()).unwrap_or_default();
        if id.is_empty() {
            return;
        }
        let docker = |args: &[&str]| {
            Command::new("docker")
                .args(["-H", &self.engine])
                .args(args)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        for label in ["io.shipcore.cluster", "io.shipcore.compose"] {
            let filter = format!("label={label}={id}");
            for c in docker(&["ps", "-aq", "--filter", &filter]).split_whitespace() {
                docker(&["rm", "-f", "-v", c]);
            }
            for n in docker(&["network", "ls", "-q", "--filter", &filter]).split_whitespace() {
                docker(&["network", "rm", n]);
            }
            for v in docker(&["volume", "ls", "-q", "--filter", &filter]).split_whitespace() {
                docker(&["volume", "rm", v]);
            }
        }
        for image in docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"]).lines() {
            if image.contains("/default_cluster/crashb") {
                docker(&["rmi", image]);
            }
        }
    }
}

/// Polls `check` (which says what is still wrong) until it holds.
async fn settle<F, Fut>(what: &str, shipd: &Shipd, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match check().await {
            Ok(()) => return,
            Err(e) if Instant::now() > deadline => {
                panic!("{what} never settled: {e}\n{}", shipd.log())
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Counts of what a round's checks found.
#[derive(Default, Debug)]
struct Found {
    checked: u64,
}

async fn verify(
    cx: &Ctx,
    shipd: &Shipd,
    engine: &str,
    identity: &str,
    data: &std::path::Path,
    last: bool,
) -> Found {
    let mut found = Found::default();
    // Accounts.
    let (s, v) = cx.json("GET", "/api/accounts", Value::Null).await.unwrap();
    assert_eq!(s, 200, "{v}");
    let names: BTreeSet<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap().to_string())
        .collect();
    for (name, k) in cx.with(|l| l.accounts.clone()) {
        match k {
            Known::Present => assert!(names.contains(&name), "account {name} was acknowledged"),
            Known::Absent => assert!(!names.contains(&name), "account {name} was deleted"),
            Known::Unknown => continue,
        }
        found.checked += 1;
    }
    // Service keys: those acknowledged open the API, those deleted do not.
    for (key, k) in cx.with(|l| l.keys.clone()) {
        let want = match k {
            Known::Present => 200,
            Known::Absent => 401,
            Known::Unknown => continue,
        };
        let (s, _, _) = send(
            &cx.client,
            &cx.base,
            "GET",
            "/api/cluster/info",
            &Cred::Key(key),
            &[],
            Bytes::new(),
        )
        .await
        .unwrap();
        assert_eq!(s, want, "a service key acknowledged {k:?}");
        found.checked += 1;
    }

    // The registry: blobs on disk hold their digests' bytes; blobs and tags
    // acknowledged are served, blobs deleted are not.
    let on_disk = verified_blobs(&data.join("registry"));
    assert!(on_disk > 0);
    for ((repo, d), k) in cx.with(|l| l.blobs.clone()) {
        let want = match k {
            Known::Present => 200,
            Known::Absent => 404,
            Known::Unknown => continue,
        };
        let (s, _, _) = cx
            .raw("HEAD", &format!("/v2/{repo}/blobs/{d}"), &[], Vec::new())
            .await
            .unwrap();
        assert_eq!(s, want, "blob {d} in {repo} acknowledged {k:?}");
        found.checked += 1;
    }
    for ((repo, tag), d) in cx.with(|l| l.tags.clone()) {
        let (s, head, _) = cx
            .raw(
                "GET",
                &format!("/v2/{repo}/manifests/{tag}"),
                &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
                Vec::new(),
            )
            .await
            .unwrap();
        assert_eq!(s, 200, "{repo}:{tag}");
        assert_eq!(head["docker-content-digest"].to_str().unwrap(), d);
        found.checked += 1;
    }
    // Uploads left open: each resumes from what it kept (at least what was
    // acknowledged) and publishes, or is cancelled; one whose publishing
    // was cut off is published whole.
    let uploads = cx.with(|l| std::mem::take(&mut l.uploads));
    for (n, u) in uploads.into_iter().enumerate() {
        let (s, head, _) = cx.raw("GET", &u.location, &[], Vec::new()).await.unwrap();
        let d = digest(&u.data);
        if s == 404 {
            let (s, _, _) = cx
                .raw(
                    "HEAD",
                    &format!("/v2/{}/blobs/{d}", u.repo),
                    &[],
                    Vec::new(),
                )
                .await
                .unwrap();
            assert_eq!(s, 200, "upload {} is gone, but not published", u.location);
            found.checked += 1;
            continue;
        }
        assert_eq!(s, 204, "upload {}", u.location);
        // `0-0` is an empty upload (as distribution answers it).
        let end = head.get("range").map(|r| {
            r.to_str()
                .unwrap()
                .split('-')
                .nth(1)
                .unwrap()
                .parse::<usize>()
                .unwrap()
        });
        let held = end.map_or(0, |e| if e == 0 { 0 } else { e + 1 });
        assert!(
            held >= u.acked && held <= u.data.len(),
            "upload {} kept {held} bytes, {} acknowledged",
            u.location,
            u.acked
        );
        if n % 2 == 0 {
            let rest = u.data[held..].to_vec();
            if !rest.is_empty() {
                let range = format!("{held}-{}", u.data.len() - 1);
                let (s, _, _) = cx
                    .raw("PATCH", &u.location, &[("Content-Range", &range)], rest)
                    .await
                    .unwrap();
                assert_eq!(s, 202, "resuming {}", u.location);
            }
            let sep = if u.location.contains('?') { '&' } else { '?' };
            let (s, _, _) = cx
                .raw(
                    "PUT",
                    &format!("{}{sep}digest={d}", u.location),
                    &[],
                    Vec::new(),
                )
                .await
                .unwrap();
            assert_eq!(s, 201, "publishing {}", u.location);
            cx.with(|l| l.blobs.insert((u.repo.clone(), d), Known::Present));
        } else {
            let (s, _, _) = cx
                .raw("DELETE", &u.location, &[], Vec::new())
                .await
                .unwrap();
            assert_eq!(s, 204, "cancelling {}", u.location);
            let (s, _, _) = cx.raw("GET", &u.location, &[], Vec::new()).await.unwrap();
            assert_eq!(s, 404, "{} after its cancel", u.location);
        }
        found.checked += 1;
    }
    assert!(verified_blobs(&data.join("registry")) >= on_disk);

    // Deploys: once reconcile has run, the records and the engine's
    // containers of the cluster are the same set, and the reservations are
    // the records' footprints.
    let cluster_label = format!("io.shipcore.cluster={identity}");
    settle("the cluster's containers", shipd, || async {
        let (s, v) = cx.json("GET", "/api/containers", Value::Null).await?;
        if s != 200 {
            return Err(format!("GET /api/containers: {s}"));
        }
        let records = v.as_array().unwrap();
        let ids: BTreeSet<String> = records
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        let on_engine: BTreeSet<String> = labelled(engine, &cluster_label, "{{.ID}}")
            .into_iter()
            .collect();
        if ids != on_engine {
            return Err(format!(
                "records without containers {:?}, containers without records {:?}",
                ids.difference(&on_engine).collect::<Vec<_>>(),
                on_engine.difference(&ids).collect::<Vec<_>>()
            ));
        }
        let memory: u64 = records
            .iter()
            .map(|c| c["image"]["memory"].as_u64().unwrap())
            .sum();
        let cpus: f64 = records
            .iter()
            .map(|c| c["image"]["cpus"].as_f64().unwrap())
            .sum();
        let (_, info) = cx.json("GET", "/api/cluster/info", Value::Null).await?;
        let reserved = (
            info["reserved_memory"].as_u64(),
            info["reserved_cpus"].as_f64(),
        );
        if reserved.0 != Some(memory) || (reserved.1.unwrap_or(-1.0) - cpus).abs() > 1e-6 {
            return Err(format!(
                "reserved {reserved:?}, the records' footprints ({memory}, {cpus})"
            ));
        }
        Ok(())
    })
    .await;
    let (_, v) = cx
        .json("GET", "/api/containers", Value::Null)
        .await
        .unwrap();
    let ids: BTreeSet<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    for (id, k) in cx.with(|l| l.containers.clone()) {
        match k {
            Known::Present => assert!(ids.contains(&id), "container {id} was acknowledged"),
            Known::Absent => assert!(!ids.contains(&id), "container {id} was deleted"),
            Known::Unknown => continue,
        }
        found.checked += 1;
    }

    // Projects: every one that exists runs its container, and every
    // container of a project belongs to one that exists.
    let compose_label = format!("io.shipcore.compose={identity}");
    settle("the projects", shipd, || async {
        let (s, v) = cx.json("GET", "/projects", Value::Null).await?;
        if s != 200 {
            return Err(format!("GET /projects: {s}"));
        }
        let list = v.as_array().unwrap();
        let names: BTreeSet<String> = list
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        let not_running: Vec<String> = list
            .iter()
            .filter(|p| p["current_state"] != "running")
            .map(|p| {
                let mut p = p.clone();
                p["template"] = Value::Null;
                p.to_string()
            })
            .collect();
        if !not_running.is_empty() {
            return Err(format!("not running: {not_running:?}"));
        }
        let owners: BTreeMap<String, usize> = labelled(
            engine,
            &compose_label,
            "{{.Label \"io.shipcore.project\"}} {{.State}}",
        )
        .into_iter()
        .fold(BTreeMap::new(), |mut m, line| {
            let (p, state) = line.split_once(' ').unwrap_or((&line, ""));
            if state == "running" {
                *m.entry(p.to_string()).or_default() += 1;
            } else {
                m.entry(p.to_string()).or_default();
            }
            m
        });
        let orphans: Vec<&String> = owners.keys().filter(|p| !names.contains(*p)).collect();
        if !orphans.is_empty() {
            return Err(format!(
                "containers of projects that do not exist: {orphans:?}"
            ));
        }
        let idle: Vec<&String> = names
            .iter()
            .filter(|p| owners.get(*p).copied().unwrap_or(0) != 1)
            .collect();
        if !idle.is_empty() {
            return Err(format!(
                "projects without their one running container: {idle:?}"
            ));
        }
        Ok(())
    })
    .await;
    let (_, v) = cx.json("GET", "/projects", Value::Null).await.unwrap();
    let names: BTreeSet<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    for (name, k) in cx.with(|l| l.projects.clone()) {
        match k {
            Known::Present => assert!(names.contains(&name), "project {name} was acknowledged"),
            Known::Absent => assert!(!names.contains(&name), "project {name} was deleted"),
            Known::Unknown => continue,
        }
        found.checked += 1;
    }

    // Builds: each acknowledged one is in its project's history; at the
    // end, every one has ended.
    let builds = cx.with(|l| l.builds.clone());
    let projects: BTreeSet<String> = builds.values().cloned().collect();
    for project in &projects {
        let h = history(cx, project).await.unwrap();
        for (id, _) in builds.iter().filter(|(_, p)| *p == project) {
            assert!(h.contains_key(id), "build {id} was acknowledged");
            found.checked += 1;
        }
    }
    if last {
        settle("the builds", shipd, || async {
            for project in &projects {
                let h = history(cx, project).await?;
                if let Some((id, b)) = h.iter().find(|(_, b)| !ended(b)) {
                    return Err(format!("build {id}: {}", b["status"]));
                }
            }
            Ok(())
        })
        .await;
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_three_times_under_load_of_every_family_loses_nothing_acknowledged() {
    let Some((a, _)) = engines() else { return };
    // SHIPCORE_CRASH_KEEP keeps the data folder and every run's log.
    let keep = std::env::var_os("SHIPCORE_CRASH_KEEP").is_some();
    let dir = tempfile::Builder::new()
        .disable_cleanup(keep)
        .tempdir()
        .unwrap();
    if keep {
        eprintln!("kept in {}", dir.path().display());
    }
    let data = dir.path().join("data");
    let identity = Arc::new(Mutex::new(String::new()));
    let _cleanup = Cleanup {
        engine: a.clone(),
        identity: identity.clone(),
    };
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let calls = Arc::new(AtomicU64::new(0));
    let mut checked = 0;
    let mut shipd = Shipd::start(&data, &dir.path().join("start.log"), &a, PASSWORD, false);
    shipd.ready(&admin()).await;
    let started = Instant::now();
    for (round, load) in LOAD.iter().enumerate() {
        let cx = Ctx {
            client: client(),
            base: shipd.base.clone(),
            round,
            stop: Arc::new(AtomicBool::new(false)),
            ledger: ledger.clone(),
            calls: calls.clone(),
        };
        if round == 0 {
            let (_, info) = cx
                .json("GET", "/api/cluster/info", Value::Null)
                .await
                .unwrap();
            *identity.lock().unwrap() = info["cluster"].as_str().unwrap().to_string();
        }
        let mut clients = Vec::new();
        for (family, count) in FAMILIES {
            for i in 0..count {
                clients.push(tokio::spawn(client_loop(cx.clone(), family, i)));
            }
        }
        tokio::time::sleep(*load).await;
        shipd.child.kill().unwrap();
        shipd.child.wait().unwrap();
        cx.stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.await.unwrap();
        }
        let (acked, refused) = cx.with(|l| (l.acked.clone(), l.refused.clone()));
        for (what, (n, total, max)) in cx.with(|l| std::mem::take(&mut l.times)) {
            eprintln!(
                "  {what}: {n} calls, mean {} ms, longest {max} ms",
                total / n.max(1)
            );
        }
        eprintln!("round {round}: killed after {load:?}; acknowledged so far {acked:?}; other answers {refused:?}");
        assert!(
            acked.values().sum::<u64>() > 0,
            "no write was acknowledged: the load did not reach shipd"
        );

        let log = dir.path().join(format!("after-{round}.log"));
        shipd = Shipd::start(&data, &log, &a, PASSWORD, false);
        shipd.ready(&admin()).await;
        let cx = Ctx {
            base: shipd.base.clone(),
            ..cx
        };
        let id = identity.lock().unwrap().clone();
        let found = verify(&cx, &shipd, &a, &id, &data, round + 1 == LOAD.len()).await;
        eprintln!(
            "round {round}: {} acknowledged states checked",
            found.checked
        );
        checked += found.checked;
    }
    let l = ledger.lock().unwrap();
    for (family, _) in FAMILIES {
        assert!(
            l.acked.get(&family).copied().unwrap_or(0) > 0,
            "no {family:?} write was acknowledged: the load did not reach it"
        );
    }
    let acked: u64 = l.acked.values().sum();
    eprintln!(
        "crash suite: 3 kills, {} requests, {acked} writes acknowledged, {checked} acknowledged states found as acknowledged, in {:?}; other answers {:?}",
        calls.load(Ordering::Relaxed),
        started.elapsed(),
        l.refused
    );
    drop(l);
    assert!(shipd.terminate().success(), "{}", shipd.log());
}
