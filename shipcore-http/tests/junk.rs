//! No input makes the facade panic, answer 5xx or leave partial state:
//! generated requests (junk bytes, arbitrary JSON, seed bodies with fields
//! of the wrong type, odd ids, and the ids and id prefixes of containers the
//! cluster runs) to every endpoint of the cluster API (seed 001) and of the
//! container service (seed 003: projects, services, volumes, certs), of
//! the registry (`/v2`, seed 004's `/docker/ext`, `/harbor`) and of build
//! projects (seed 002 part 1: `/api/project`, the plugin call, the
//! configuration page) and of the dashboard (its pages, sign-in and
//! sign-out, assets), sent
//! over loopback to the whole listener (its front and hyper, not the router
//! alone), over in-memory fake engines that hold deployed containers and a
//! running project. Afterwards the cluster's containers are exactly those
//! on its engines that no project owns, its reservations are exactly
//! theirs, every project container belongs to a project that exists, every
//! project settles, every tag's manifest and blobs are intact, every build
//! project is well-formed and every build record's project exists, and the
//! API still answers. Failing cases are kept in
//! `junk.proptest-regressions` and replayed first.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use axum::http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use proptest::prelude::*;
use shipcore::engine::{ContainerFilter, EngineBackend};
use shipcore::model::ImageConfig;
use shipcore::testing::Fixture;

const ENDPOINTS: &[(&str, &str)] = &[
    ("GET", "/api/accounts"),
    ("POST", "/api/accounts"),
    ("DELETE", "/api/accounts"),
    ("PUT", "/api/accounts/{}"),
    ("POST", "/auth/login"),
    ("POST", "/auth/logout"),
    ("POST", "/account/changepassword"),
    ("GET", "/api/roles"),
    ("GET", "/api/roles/{}"),
    ("POST", "/api/roles"),
    ("DELETE", "/api/roles"),
    ("GET", "/api/containers"),
    ("POST", "/api/containers"),
    ("POST", "/api/containers?count={}"),
    ("GET", "/api/containers/{}"),
    ("DELETE", "/api/containers/{}"),
    ("GET", "/api/containers/{}/stop"),
    ("GET", "/api/containers/{}/restart"),
    ("GET", "/api/containers/{}/scale?count={}"),
    ("GET", "/api/containers/{}/logs"),
    ("GET", "/api/containers/{}/logs?follow={}&tail={}"),
    ("POST", "/api/containers?dry_run={}&count={}"),
    ("GET", "/api/engines"),
    ("POST", "/api/engines"),
    ("GET", "/api/engines/{}"),
    ("DELETE", "/api/engines/{}"),
    ("GET", "/api/servicekeys"),
    ("POST", "/api/servicekeys"),
    ("DELETE", "/api/servicekeys"),
    ("GET", "/api/webhookkeys"),
    ("POST", "/api/webhookkeys"),
    ("DELETE", "/api/webhookkeys/{}"),
    ("DELETE", "/api/webhooks/{}"),
    ("GET", "/api/events?skip={}&limit={}"),
    ("GET", "/api/cluster/info"),
    ("POST", "/hub/webhook/{}"),
    ("GET", "/api/openapi.json"),
    ("GET", "/metrics"),
    ("GET", "/projects?q={}&services={}&containers={}"),
    ("POST", "/projects"),
    ("POST", "/projects/"),
    ("GET", "/projects/{}"),
    ("DELETE", "/projects/{}?force={}&v={}"),
    ("POST", "/projects/{}/start"),
    ("POST", "/projects/{}/stop?t={}"),
    ("POST", "/projects/{}/kill?signal={}"),
    ("POST", "/projects/{}/redeploy"),
    ("POST", "/projects/{}/update"),
    ("POST", "/projects/{}/confirm-update?force={}"),
    ("POST", "/projects/{}/rollback-update?force={}"),
    ("GET", "/services?q={}&containers={}"),
    ("GET", "/services/{}"),
    ("POST", "/services/{}/start"),
    ("POST", "/services/{}/stop"),
    ("POST", "/services/{}/kill"),
    ("POST", "/services/{}/scale"),
    ("GET", "/volumes"),
    ("POST", "/volumes/create"),
    ("GET", "/volumes/{}"),
    ("DELETE", "/volumes/{}"),
    ("GET", "/clusters/{}/certs"),
    ("GET", "/clusters/{}/certs/issued"),
    ("DELETE", "/clusters/{}/certs/{}"),
    ("GET", "/v2/"),
    ("GET", "/v2/_catalog?n={}&last={}"),
    ("GET", "/v2/{}/tags/list?n={}&last={}"),
    ("GET", "/v2/{}/manifests/{}"),
    ("HEAD", "/v2/{}/manifests/{}"),
    ("PUT", "/v2/{}/manifests/{}"),
    ("DELETE", "/v2/{}/manifests/{}"),
    ("GET", "/v2/{}/blobs/{}"),
    ("HEAD", "/v2/{}/blobs/{}"),
    ("DELETE", "/v2/{}/blobs/{}"),
    ("GET", "/v2/{}/referrers/{}?artifactType={}"),
    ("PUT", "/v2/{}/manifests/{}?tag={}"),
    ("POST", "/v2/{}/blobs/uploads/?digest={}"),
    ("POST", "/v2/{}/blobs/uploads/?mount={}&from={}"),
    ("GET", "/v2/{}/blobs/uploads/{}"),
    ("PATCH", "/v2/{}/blobs/uploads/{}"),
    ("PUT", "/v2/{}/blobs/uploads/{}?digest={}"),
    ("DELETE", "/v2/{}/blobs/uploads/{}"),
    ("GET", "/docker/ext/manifest/{}/{}/{}/{}"),
    ("GET", "/docker/ext/layer/{}/{}/{}/{}"),
    ("GET", "/docker/ext/repo/{}/{}?pageNumber={}&pageSize={}"),
    ("GET", "/docker/ext/tag/{}/{}/{}?tag={}"),
    ("DELETE", "/docker/ext/package/delete/{}/{}?packageKey={}"),
    (
        "DELETE",
        "/docker/ext/version/delete/{}/{}?packageKey={}&version={}",
    ),
    (
        "GET",
        "/docker/ext/version/detail/{}/{}?packageKey={}&version={}",
    ),
    ("GET", "/docker/ext/addr"),
    (
        "GET",
        "/harbor/projects?page={}&page_size={}&project_name={}",
    ),
    ("GET", "/harbor/repositories?page={}&project_id={}&q={}"),
    ("GET", "/api/registry/rules?repository={}"),
    ("PUT", "/api/registry/rules?repository={}"),
    ("POST", "/api/registry/retention?repository={}&dry_run={}"),
    ("POST", "/api/registry/gc?dry_run={}&grace_seconds={}"),
    ("GET", "/api/registry/notifications"),
    ("PUT", "/api/registry/notifications/{}"),
    ("DELETE", "/api/registry/notifications/{}"),
    ("DELETE", "/harbor/repositories"),
    (
        "GET",
        "/harbor/repositories/tags?project_id={}&repo_name={}",
    ),
    ("POST", "/harbor/repositories/tags?repo_name={}"),
    ("GET", "/harbor/repositories/manifests?repo_name={}&tag={}"),
    ("POST", "/harbor/repositories/manifests?repo_name={}&tag={}"),
    ("POST", "/api/project/new"),
    ("POST", "/api/project/delete"),
    ("POST", "/api/project/clone"),
    ("GET", "/api/project/info?projectName={}&operator={}"),
    ("POST", "/api/project/info?projectName={}"),
    (
        "GET",
        "/api/project/list?page={}&page_size={}&projectName={}",
    ),
    ("POST", "/api/project/save"),
    ("POST", "/api/project/build"),
    ("POST", "/api/project/build/cancel"),
    ("GET", "/api/project/build/{}/log"),
    (
        "GET",
        "/api/project/buildHistory?projectName={}&operator={}",
    ),
    ("POST", "/api/plugin/extension/interface"),
    ("GET", "/view/config/independent?projectName={}"),
    ("GET", "/"),
    ("GET", "/ui/{}"),
    ("GET", "/ui/login?next={}"),
    ("POST", "/ui/login"),
    ("POST", "/ui/logout"),
    ("GET", "/ui/assets/{}"),
];

/// A compose template of the fake engines' image, with a named volume.
const TEMPLATE: &str = "services:\n  web:\n    image: app:1\n    scale: 2\n    volumes: [\"data:/data\"]\n  worker:\n    image: app:1\n    depends_on: [web]\nvolumes:\n  data: {}\n";

/// Bodies the seed shows, whose fields the generator swaps for junk.
const SEED_BODIES: &[&str] = &[
    r#"{"name":"app:1","cpus":0.1,"memory":32,"type":"service","labels":[],"environment":{"A":"b"},"restart_policy":{"name":"always"},"bind_ports":[{"proto":"tcp","port":0,"container_port":80}],"links":{}}"#,
    r#"{"id":"e9","engine":{"id":"e9","addr":"unix:///fake.sock","cpus":1,"memory":512,"labels":["x"]}}"#,
    r#"{"username":"u1","password":"p","role":{"name":"user"}}"#,
    r#"{"name":"r1","permissions":["containers:ro"]}"#,
    r#"{"description":"d","role":"user"}"#,
    r#"{"image":"app:1"}"#,
    r#"{"repository":{"repo_name":"app"},"push_data":{"tag":"1"}}"#,
    r#"{"username":"u1"}"#,
    r#"{"username":"admin","password":"adminpw"}"#,
    r#"{"password":"new-pw"}"#,
    r#"{"key":"abc"}"#,
    r#"{"name":"p2","description":"d","template":"@T","version":"1","environment":{"A":"b"}}"#,
    r#"{"template":"@T","version":"2","update_method":"blue-green","latest_image":false}"#,
    r#"{"version":"3"}"#,
    r#"{"type":"scale_to","value":3}"#,
    r#"{"name":"v2","driver":"local","driverOpts":{},"labels":{"a":"b"}}"#,
    r#"{"repoName":"1","projectName":"p/r/img"}"#,
    // What the admission policy judges: a host path, the host's network, a
    // volume that binds the host, the cluster's labels, a non-bridge network.
    r#"{"name":"app:1","cpus":0.1,"memory":32,"volumes":["/:/host"],"network_mode":"host"}"#,
    r#"{"name":"v3","driver":"local","driverOpts":{"type":"none","o":"bind","device":"/"}}"#,
    r#"{"name":"p3","template":"@B","version":"1"}"#,
    r#"{"name":"p4","template":"@L","version":"1"}"#,
    r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#,
];

/// A compose template that mounts the host's root.
const BIND_TEMPLATE: &str = "services:\n  web:\n    image: app:1\n    volumes: [\"/:/host\"]\n";
/// A compose template that sets the cluster's labels.
const LABEL_TEMPLATE: &str = "services:\n  web:\n    image: app:1\n    labels: {io.shipcore.cluster: x}\nnetworks:\n  n:\n    driver: macvlan\n";

/// A seed body with the template put in.
fn seed_body(i: usize) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(SEED_BODIES[i]).unwrap();
    match v.get("template").and_then(|t| t.as_str()) {
        Some("@B") => v["template"] = BIND_TEMPLATE.into(),
        Some("@L") => v["template"] = LABEL_TEMPLATE.into(),
        Some(_) => v["template"] = TEMPLATE.into(),
        None => {}
    }
    v
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("name".to_string()),
                    Just("cpus".to_string()),
                    Just("memory".to_string()),
                    Just("engine".to_string()),
                    Just("role".to_string()),
                    ".{0,6}".prop_map(|s| s)
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body: nothing, raw bytes, arbitrary JSON, or a seed body with one field
/// replaced by arbitrary JSON.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        prop::collection::vec(any::<u8>(), 0..64),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        (
            0..SEED_BODIES.len(),
            any::<prop::sample::Index>(),
            json_value()
        )
            .prop_map(|(i, field, junk)| {
                let mut v = seed_body(i);
                let obj = v.as_object_mut().unwrap();
                let keys: Vec<String> = obj.keys().cloned().collect();
                obj.insert(keys[field.index(keys.len())].clone(), junk);
                serde_json::to_vec(&v).unwrap()
            }),
        (0..SEED_BODIES.len()).prop_map(|i| serde_json::to_vec(&seed_body(i)).unwrap()),
    ]
}

/// Path segments and query values: the ids of containers the cluster runs
/// (`@N`) and prefixes of them (`@N:LEN`), resolved when sent; other ids,
/// numbers, junk.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        (0..SEEDED).prop_map(|i| format!("@{i}")),
        (0..SEEDED, 1..12usize).prop_map(|(i, len)| format!("@{i}:{len}")),
        Just("e1".to_string()),
        Just("admin".to_string()),
        Just("p1".to_string()),
        Just("p1_web".to_string()),
        Just("p1_data".to_string()),
        Just("@cluster".to_string()),
        Just("@blob".to_string()),
        Just("@config".to_string()),
        Just("@upload".to_string()),
        Just("p/r/img".to_string()),
        Just("p".to_string()),
        Just("r".to_string()),
        Just("img".to_string()),
        Just("1".to_string()),
        Just("sha256:..%2f..%2fetc".to_string()),
        Just("..".to_string()),
        Just("true".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999".to_string()),
        Just("%ff%fe".to_string()),
        "[a-z0-9]{0,8}",
        any::<u32>().prop_map(|n| n.to_string()),
    ]
}

/// An endpoint, its path segments, a body, and whether a `user` account
/// sends it (else the admin).
fn request() -> impl Strategy<Value = (usize, Vec<String>, Vec<u8>, bool)> {
    (
        0..ENDPOINTS.len(),
        prop::collection::vec(segment(), 3),
        body(),
        any::<bool>(),
    )
}

/// Containers deployed before each case's requests.
const SEEDED: usize = 4;

struct Bed {
    rt: tokio::runtime::Runtime,
    base: String,
    client: Client<HttpConnector, Full<bytes::Bytes>>,
    fixture: Fixture,
    /// The ids of the containers deployed before the requests.
    seeded: Vec<String>,
    /// The registry, holding `p/r/img:1` (its config and layer blobs).
    registry: shipcore::registry::Registry,
    layer: String,
    config: String,
    upload: String,
    _content: tempfile::TempDir,
    /// Build projects, holding `web` (a Dockerfile, a file, two plugins).
    builds: shipcore::build::Builds,
    /// A service key of a `user` account.
    user_key: String,
}

fn bed() -> Bed {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (fixture, seeded, base, registry) = rt.block_on(async {
        let fixture = Fixture::fake(2, 4_000, 8_192, &["app:1"]).await.unwrap();
        let cfg = ImageConfig {
            name: "app:1".into(),
            cpus: 0.25,
            memory: 128,
            ..ImageConfig::default()
        };
        let seeded: Vec<String> = fixture
            .cluster
            .deploy(cfg, SEEDED as u32)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        // Assembled as shipd assembles its server.
        let content = tempfile::tempdir().unwrap();
        let mut opts = shipcore_http::ServerOptions::new(content.path(), "127.0.0.1:1");
        opts.projects.health_deadline = std::time::Duration::from_secs(2);
        opts.projects.poll = std::time::Duration::from_millis(20);
        opts.max_blob = 1 << 20;
        let server = shipcore_http::Server::assemble(
            fixture.store.clone(),
            fixture.cluster.clone(),
            fixture.access.clone(),
            opts,
        )
        .await
        .unwrap();
        let (projects, registry, builds) = (
            server.projects.clone(),
            server.registry.clone(),
            server.builds.clone(),
        );
        let new: shipcore::projects::NewProject = serde_json::from_value(serde_json::json!({
            "name": "p1", "template": TEMPLATE, "version": "1"
        }))
        .unwrap();
        projects.create(new, &shipcore::model::Owner::system()).await.unwrap();
        let repo = shipcore::registry::Repository::parse("p/r/img").unwrap();
        let mut digests = Vec::new();
        for data in [&b"{}"[..], &b"layer"[..]] {
            use sha2::Digest as _;
            let d = shipcore::registry::Digest::from_bytes(sha2::Sha256::digest(data).into());
            let body = futures::stream::iter([Ok(bytes::Bytes::copy_from_slice(data))]);
            registry.blob_store().put(&d, 1 << 20, body).await.unwrap();
            registry.link_blob(&repo, &d, "admin").await.unwrap();
            digests.push(d.to_string());
        }
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": digests[0], "size": 2},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": digests[1], "size": 5}],
        })
        .to_string();
        registry
            .put_manifest(
                &repo,
                &shipcore::registry::Reference::Tag("1".into()),
                manifest.as_bytes(),
                "application/vnd.docker.distribution.manifest.v2+json",
                "admin",
            )
            .await
            .unwrap();
        let upload = registry.blob_store().start_upload().await.unwrap();
        drop(builds.start().await.unwrap());
        builds
            .save(
                "web",
                true,
                shipcore::build::ProjectChange {
                    dockerfile: Some("FROM app:1\nCOPY a.txt /a.txt\n".into()),
                    files: Some([("a.txt".to_string(), "YQ==".to_string())].into()),
                    plugins: Some(vec![shipcore::build::PluginRef {
                        name: "label-stamp".into(),
                        params: Default::default(),
                    }]),
                    ..Default::default()
                },
                "admin",
            )
            .await
            .unwrap();
        let app = server.app.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(shipcore_http::serve(listener, app, std::future::pending()));
        (fixture, seeded, base, (registry, digests, upload, content, builds))
    });
    let (registry, digests, upload, content, builds) = registry;
    let user_key = rt.block_on(async {
        fixture
            .access
            .create_service_key("junk user", "user")
            .await
            .unwrap()
            .key
    });
    Bed {
        user_key,
        rt,
        base,
        client: Client::builder(TokioExecutor::new()).build_http(),
        fixture,
        seeded,
        registry,
        config: digests[0].clone(),
        layer: digests[1].clone(),
        upload,
        _content: content,
        builds,
    }
}

impl Bed {
    /// A path segment with `@N` and `@N:LEN` put for a seeded container's id
    /// or its prefix.
    fn resolve(&self, segment: &str) -> String {
        let Some(token) = segment.strip_prefix('@') else {
            return segment.to_string();
        };
        match token {
            "cluster" => return self.fixture.cluster.identity().to_string(),
            "blob" => return self.layer.clone(),
            "config" => return self.config.clone(),
            "upload" => return self.upload.clone(),
            _ => {}
        }
        let (i, len) = match token.split_once(':') {
            Some((i, len)) => (i.parse().unwrap_or(0), len.parse().unwrap_or(64)),
            None => (token.parse().unwrap_or(0), 64),
        };
        let id = &self.seeded[i % self.seeded.len()];
        id[..len.min(id.len())].to_string()
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        as_user: bool,
    ) -> (u16, String, Vec<u8>) {
        let key = if as_user {
            &self.user_key
        } else {
            &self.fixture.admin_key
        };
        let req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("x-service-key", key)
            .header("content-type", "application/json")
            .body(Full::new(bytes::Bytes::from(body)));
        let Ok(req) = req else {
            // Not a request hyper would accept (a path that is no URI).
            return (400, String::new(), Vec::new());
        };
        self.rt.block_on(async {
            let res = match self.client.request(req).await {
                Ok(res) => res,
                // A request the client itself refuses to send.
                Err(e) if e.is_connect() => panic!("the listener is gone: {e}"),
                Err(_) => return (400, String::new(), Vec::new()),
            };
            let status = res.status().as_u16();
            let ct = res
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
            (status, ct, body)
        })
    }

    /// Every project settles (no start, stop or update left under way),
    /// within a while.
    fn wait_settled(&self) -> Vec<serde_json::Value> {
        for _ in 0..200 {
            let (status, _, body) = self.send("GET", "/projects", Vec::new(), false);
            assert_eq!(status, 200);
            let list: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
            let busy = list.iter().any(|p| {
                ["starting", "stopping"].contains(&p["current_state"].as_str().unwrap_or(""))
                    || ["starting", "verifying", "confirming", "rolling-back"]
                        .contains(&p["update"]["phase"].as_str().unwrap_or(""))
            });
            if !busy {
                return list;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("projects did not settle");
    }

    /// The containers the cluster lists are exactly those on its engines
    /// that no project owns, and what it reserves is exactly what they
    /// take; every project container belongs to a project that exists.
    fn check_consistent(&self) {
        let projects: BTreeSet<String> = self
            .wait_settled()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        let (status, _, body) = self.send("GET", "/api/containers", Vec::new(), false);
        assert_eq!(status, 200);
        let listed: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
        let memory: u64 = listed
            .iter()
            .map(|c| c["image"]["memory"].as_u64().unwrap())
            .sum();
        let listed: BTreeSet<String> = listed
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        let (running, reserved) = self.rt.block_on(async {
            let mut ids = BTreeSet::new();
            for e in self.fixture.cluster.engines().await {
                let fake = self.fixture.engine(e.id()).unwrap();
                let all = ContainerFilter {
                    all: true,
                    ..ContainerFilter::default()
                };
                for c in fake.list_containers(&all).await.unwrap() {
                    match c.labels.get(shipcore::projects::LABEL_PROJECT) {
                        Some(p) => assert!(
                            projects.contains(p),
                            "container {} of project {p}, which does not exist",
                            c.id
                        ),
                        None => {
                            ids.insert(c.id);
                        }
                    }
                }
            }
            (ids, self.fixture.cluster.info().await.reserved_memory)
        });
        assert_eq!(
            listed, running,
            "the cluster's records and its engines differ"
        );
        assert_eq!(
            reserved, memory,
            "reservations are not those of the records"
        );
    }
}

impl Bed {
    /// Every tag names a stored manifest, whose blobs its repository
    /// serves, each holding the bytes of its digest.
    /// Every stored build project is well-formed, and every build record
    /// belongs to a project that exists.
    fn check_builds(&self) {
        self.rt.block_on(async {
            let projects = self.builds.projects("").await.unwrap();
            for p in &projects {
                shipcore::build::model::check_name("projectName", &p.name).unwrap();
                shipcore::build::model::check_definition(&p.dockerfile, &p.files).unwrap();
                self.builds.history(&p.name).await.unwrap();
            }
            for v in self.fixture.store.list("build/records/").await.unwrap() {
                let r: shipcore::build::BuildRecord = v.json().unwrap();
                assert!(
                    projects.iter().any(|p| p.name == r.project),
                    "{} outlived its project",
                    r.id
                );
            }
        });
    }

    fn check_registry(&self) {
        self.rt.block_on(async {
            use sha2::Digest as _;
            use tokio::io::AsyncReadExt as _;
            for repo in self.registry.repositories().await.unwrap() {
                let repo = shipcore::registry::Repository::parse(&repo.name).unwrap();
                for (tag, _) in self.registry.tag_records(&repo).await.unwrap() {
                    let m = self
                        .registry
                        .manifest(&repo, &shipcore::registry::Reference::Tag(tag), None)
                        .await
                        .unwrap();
                    for b in m.blobs {
                        let d = shipcore::registry::Digest::parse(&b).unwrap();
                        assert!(
                            self.registry.blob(&repo, &d).await.unwrap().is_some(),
                            "{repo} lost {b}"
                        );
                        let (mut f, _) = self
                            .registry
                            .blob_store()
                            .open_blob(&d)
                            .await
                            .unwrap()
                            .unwrap();
                        let mut bytes = Vec::new();
                        f.read_to_end(&mut bytes).await.unwrap();
                        assert_eq!(format!("sha256:{:x}", sha2::Sha256::digest(&bytes)), b);
                    }
                }
            }
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn junk_requests_get_4xx_answers_and_leave_consistent_state(
        requests in prop::collection::vec(request(), 1..12)
    ) {
        let bed = bed();
        for (endpoint, segments, body, as_user) in requests {
            let (method, template) = ENDPOINTS[endpoint];
            let mut path = template.to_string();
            for s in &segments {
                path = path.replacen("{}", &bed.resolve(s), 1);
            }
            let (status, ct, answer) = bed.send(method, &path, body.clone(), as_user);
            if as_user {
                // The owner rules: the admin's project `p1` and its service
                // are not a user's to see or change.
                let theirs = path.starts_with("/services/p1_")
                    || path
                        .strip_prefix("/projects/p1")
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']));
                prop_assert!(
                    !(theirs && (200..300).contains(&status)),
                    "a user reached {method} {path}: {status} {}",
                    String::from_utf8_lossy(&answer)
                );
                // The capabilities: a host path, the host's network or a
                // binding volume is never a user's.
                let text = String::from_utf8_lossy(&body);
                let asks = ["/:/host", "\"bind\"", "\"host\""].iter().any(|k| text.contains(k));
                // Families whose bodies make no container (builds, the
                // registry) may carry such text harmlessly.
                let makes = !["/api/project", "/v2", "/docker/ext"]
                    .iter()
                    .any(|p| path.starts_with(p));
                let admitted = method == "POST" && (200..300).contains(&status);
                prop_assert!(
                    !(asks && makes && admitted),
                    "a user was admitted: {method} {path} with {text}: {status} {}",
                    String::from_utf8_lossy(&answer)
                );
            }
            prop_assert!(
                status < 500,
                "{method} {path} with {:?}: {status} {}",
                String::from_utf8_lossy(&body),
                String::from_utf8_lossy(&answer)
            );
            if path == "/" || path.starts_with("/ui") {
                // The dashboard answers pages, in HTML, under its policy.
                prop_assert!(
                    status == 303 || ct.starts_with("text/"),
                    "{method} {path}: {status} {ct}"
                );
                continue;
            }
            if status >= 400 && method != "HEAD" {
                let err: serde_json::Value = serde_json::from_slice(&answer)
                    .map_err(|e| TestCaseError::fail(format!("{method} {path}: {status} not JSON ({e}): {ct}")))?;
                // Each family's own envelope.
                if path.starts_with("/v2") {
                    prop_assert!(err["errors"][0]["code"].is_string(), "{method} {path}: {err}");
                } else if path.starts_with("/docker/ext") {
                    prop_assert!(err["code"].as_u64().unwrap_or(0) > 0 && err["message"].is_string(), "{method} {path}: {err}");
                } else if path.starts_with("/api/project") || path.starts_with("/api/plugin") || path.starts_with("/view/") {
                    let code = err["code"].as_u64().unwrap_or(0);
                    prop_assert!(code > 10000 && err["errMsg"].is_string(), "{method} {path}: {err}");
                } else {
                    prop_assert!(err["error"].is_string(), "{method} {path}: {err}");
                }
            }
        }
        bed.check_consistent();
        bed.check_registry();
        bed.check_builds();
    }
}
