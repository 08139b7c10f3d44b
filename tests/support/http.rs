//! A small HTTP client for the facade tests, and a facade started on a
//! loopback port.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use shipcore::access::Access;
use shipcore::cluster::Cluster;
use shipcore::sched::Strategy;
use shipcore::store::Store;
use shipcore::testing::{Fixture, ADMIN_PASSWORD};

/// The seed's deploy request, sent to engine A by its label.
pub const DEPLOY: &str = r#"{"name":"shipcore/busybox:latest","cpus":0.1,"memory":32,"type":"service",
  "hostname":"","domain":"","labels":["zone==a"],"args":["sh","-c","env; exec sleep 600"],"environment":{"FOO":"bar"},
  "restart_policy":{"name":"always"},"bind_ports":[{"proto":"tcp","container_port":8080}],"links":{}}"#;

/// The admin account's credentials.
pub fn admin() -> Cred {
    Cred::Basic("admin".into(), ADMIN_PASSWORD.into())
}

/// The facade over a cluster of engines A and B on `store`.
pub async fn api(store: Arc<dyn Store>, a: &str, b: &str, name: &str) -> Api {
    let fixture = Fixture::on(
        store,
        super::docker(),
        super::options(name, Strategy::Spread),
    )
    .await
    .unwrap();
    super::register(&fixture.cluster, a, b).await;
    start(fixture).await
}

/// A running facade on 127.0.0.1 and a client for it.
pub struct Api {
    pub base: String,
    pub client: Client<HttpConnector, Full<Bytes>>,
    pub cluster: Cluster,
    pub access: Access,
    pub projects: shipcore::projects::Projects,
    /// The image registry the facade keeps (its bytes in `content`).
    pub registry: shipcore::registry::Registry,
    /// How the engines name the registry: `127.0.0.1:PORT`.
    pub registry_host: String,
    pub content: tempfile::TempDir,
    /// Build projects, their workers running.
    pub builds: shipcore::build::Builds,
    _server: tokio::task::JoinHandle<()>,
}

/// Credentials of a call.
#[derive(Clone, Debug)]
pub enum Cred {
    None,
    Key(String),
    Basic(String, String),
    /// A login token: `X-Access-Token: <username>:<token>`.
    Token(String, String),
}

/// The facade over the fixture's cluster, on a loopback port, assembled as
/// shipd assembles its own (`shipcore_http::Server`); the build workers
/// run.
pub async fn start(fixture: Fixture) -> Api {
    let Fixture {
        cluster,
        access,
        store,
        ..
    } = fixture;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let registry_host = listener.local_addr().unwrap().to_string();
    let base = format!("http://{registry_host}");
    let content = tempfile::tempdir().unwrap();
    let mut opts = shipcore_http::ServerOptions::new(content.path(), registry_host.clone());
    opts.projects.health_deadline = std::time::Duration::from_secs(20);
    opts.projects.poll = std::time::Duration::from_millis(100);
    let server = shipcore_http::Server::assemble(store, cluster.clone(), access.clone(), opts)
        .await
        .unwrap();
    // The workers live as long as the runtime.
    drop(server.builds.start().await.unwrap());
    server.notifications.start().await.unwrap();
    let app = server.app.clone();
    let handle = tokio::spawn(async move {
        shipcore_http::serve(listener, app, std::future::pending())
            .await
            .unwrap();
    });
    Api {
        base,
        client: Client::builder(TokioExecutor::new()).build_http(),
        cluster,
        access,
        projects: server.projects,
        registry: server.registry,
        registry_host,
        content,
        builds: server.builds,
        _server: handle,
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        self._server.abort();
    }
}

impl Api {
    /// A `POST` to the build API (seed 002) as the admin that must answer
    /// 200 with `code` 10000; its body.
    pub async fn build_api(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let (s, v) = self
            .call("POST", path, &admin(), Some(&body.to_string()))
            .await;
        assert_eq!((s, v["code"].as_u64()), (200, Some(10000)), "{path}: {v}");
        v
    }

    /// Build `id` of `project` as its history lists it (`null` until it
    /// does).
    pub async fn build_record(&self, project: &str, id: &str) -> serde_json::Value {
        let path = format!("/api/project/buildHistory?projectName={project}&operator=admin");
        let (_, h) = self.call("GET", &path, &admin(), None).await;
        h["content"]
            .as_array()
            .and_then(|l| l.iter().find(|r| r["idStr"] == id))
            .cloned()
            .unwrap_or_default()
    }

    /// Makes a call; returns the status and the body (JSON when it parses,
    /// else a JSON string of the text).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        cred: &Cred,
        body: Option<&str>,
    ) -> (u16, serde_json::Value) {
        call(&self.client, &self.base, method, path, cred, body).await
    }
}

/// One call to the server at `base`: the status and the body (JSON when it
/// parses, else a JSON string of the text).
pub async fn call(
    client: &Client<HttpConnector, Full<Bytes>>,
    base: &str,
    method: &str,
    path: &str,
    cred: &Cred,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let (status, _, bytes) = send(
        client,
        base,
        method,
        path,
        cred,
        &[("Content-Type", "application/json")],
        Bytes::from(body.unwrap_or("").to_string()),
    )
    .await
    .unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
    });
    (status, json)
}

/// One raw call that may fail (a server killed mid-request): the status,
/// the headers and the body, or the transport's error.
pub async fn send(
    client: &Client<HttpConnector, Full<Bytes>>,
    base: &str,
    method: &str,
    path: &str,
    cred: &Cred,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<(u16, axum::http::HeaderMap, Bytes), String> {
    let mut req = axum::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    req = match cred {
        Cred::None => req,
        Cred::Key(k) => req.header("X-Service-Key", k),
        Cred::Token(u, t) => req.header("X-Access-Token", format!("{u}:{t}")),
        Cred::Basic(u, p) => {
            use base64::Engine as _;
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            req.header("Authorization", format!("Basic {token}"))
        }
    };
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
    let res = client.request(req).await.map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let head = res.headers().clone();
    let bytes = res
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, head, bytes))
}

/// A client for a server started elsewhere (a `shipd` process).
pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}
