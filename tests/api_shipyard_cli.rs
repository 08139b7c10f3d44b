//! Shipyard v2's released command-line client (2.0.10) against shipd: its
//! requests made as it makes them (`User-Agent: shipyard-cli`, the
//! `X-Access-Token: <username>:<token>` from `login`, no content type, the
//! exact status it expects), and every answer decoded with its types (the
//! Go structs of the client and of citadel, transcribed: a `state` that is
//! not a string, an engine without its `health` object, an event without
//! `container` or `engine` objects, a `time` that is not RFC 3339 all fail
//! to decode, as they made the client fail). The flow is the one its users
//! ran: login → info → add-engine → run with a count → containers →
//! inspect → scale → logs → stop → restart → destroy → events →
//! change-password → the old token refused, the new password works.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use shipcore::testing::Fixture;
use support::http::{start, Api, Cred};

// The client's types (Go's zero values for absent fields; pointers as
// options, which the client dereferences without a nil check).

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CitadelEngine {
    id: String,
    addr: String,
    cpus: f64,
    memory: f64,
    labels: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Health {
    status: String,
    response_time: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Engine {
    id: String,
    ssl_cert: String,
    ssl_key: String,
    ca_cert: String,
    engine: Option<CitadelEngine>,
    health: Option<Health>,
    docker_version: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Port {
    proto: String,
    host_ip: String,
    port: i64,
    container_port: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RestartPolicy {
    name: String,
    maximum_retry: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
#[allow(dead_code)]
struct Image {
    name: String,
    cpus: f64,
    cpuset: String,
    memory: f64,
    entrypoint: Option<Vec<String>>,
    environment: Option<HashMap<String, String>>,
    hostname: String,
    domain: String,
    args: Option<Vec<String>>,
    #[serde(rename = "type")]
    kind: String,
    labels: Option<Vec<String>>,
    bind_ports: Option<Vec<Port>>,
    user_data: Option<HashMap<String, Vec<String>>>,
    volumes: Option<Vec<String>>,
    links: Option<HashMap<String, String>>,
    restart_policy: RestartPolicy,
    publish: bool,
    privileged: bool,
    network_mode: String,
    container_name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Container {
    id: String,
    name: String,
    image: Option<Image>,
    engine: Option<CitadelEngine>,
    /// "running" or "stopped": a string, or the client cannot decode.
    state: String,
    ports: Option<Vec<Port>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    container: Option<Container>,
    engine: Option<CitadelEngine>,
    /// Go's time.Time: RFC 3339 or the decode fails.
    time: String,
    message: String,
    tags: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
#[allow(dead_code)]
struct ClusterInfo {
    cpus: f64,
    memory: f64,
    container_count: i64,
    engine_count: i64,
    image_count: i64,
    reserved_cpus: f64,
    reserved_memory: f64,
    version: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Role {
    id: String,
    name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Account {
    id: String,
    username: String,
    role: Option<Role>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ServiceKey {
    key: String,
    description: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WebhookKey {
    id: String,
    image: String,
    key: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AuthToken {
    auth_token: String,
    user_agent: String,
}

/// The client's configuration and its one way of making requests.
struct Cli<'a> {
    api: &'a Api,
    username: String,
    token: String,
}

impl Cli<'_> {
    /// `doRequest`: the status must be exactly `expected`; the body is
    /// returned as text.
    async fn request(&self, path: &str, method: &str, expected: u16, body: &str) -> String {
        let (status, text) = self.send(path, method, body).await;
        assert_eq!(status, expected, "{method} {path}: {text}");
        text
    }

    async fn send(&self, path: &str, method: &str, body: &str) -> (u16, String) {
        let req = axum::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.api.base))
            .header(
                "X-Access-Token",
                format!("{}:{}", self.username, self.token),
            )
            .header("User-Agent", "shipyard-cli")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let res = self.api.client.request(req).await.unwrap();
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> T {
        let text = self.request(path, "GET", 200, "").await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: {e}: {text}"))
    }
}

fn rfc3339(t: &str) -> bool {
    // Go's layout: date, 'T', time with optional fraction, then Z or ±hh:mm.
    let b = t.as_bytes();
    t.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && (t.ends_with('Z') || t[t.len() - 6..].starts_with(['+', '-']))
}

#[tokio::test]
async fn the_released_cli_flow() {
    let f = Fixture::fake(1, 4_000, 8_192, &["shipcore/busybox:latest"])
        .await
        .unwrap();
    let fakes = f.fakes.clone().unwrap();
    let api = start(f).await;
    api.access
        .create_account("ops", "first-pw", "admin")
        .await
        .unwrap();
    let mut cli = Cli {
        api: &api,
        username: "ops".into(),
        token: String::new(),
    };

    // login: the token field of the config is still empty.
    let text = cli
        .request(
            "/auth/login",
            "POST",
            200,
            r#"{"username":"ops","password":"first-pw"}"#,
        )
        .await;
    let token: AuthToken = serde_json::from_str(&text).unwrap();
    assert!(token.auth_token.len() >= 32, "{text}");
    assert_eq!(token.user_agent, "shipyard-cli");
    cli.token = token.auth_token;

    // info
    let info: ClusterInfo = cli.get("/api/cluster/info").await;
    assert_eq!(info.engine_count, 1);
    assert!(info.cpus > 0.0 && info.memory > 0.0);

    // accounts, add-account (the role read first), delete-account
    let role: Role = cli.get("/api/roles/user").await;
    assert_eq!(role.name, "user");
    assert!(!role.id.is_empty());
    cli.request(
        "/api/accounts",
        "POST",
        204,
        r#"{"username":"dev","password":"dev-pw","role":{"name":"user"}}"#,
    )
    .await;
    let accounts: Vec<Account> = cli.get("/api/accounts").await;
    assert_eq!(accounts.len(), 3);
    for a in &accounts {
        assert!(!a.id.is_empty() && !a.username.is_empty());
        assert!(!a.role.as_ref().expect("a role object").name.is_empty());
    }
    cli.request("/api/accounts", "DELETE", 204, r#"{"username":"dev"}"#)
        .await;
    // service-keys, add-service-key, remove-service-key
    let text = cli
        .request("/api/servicekeys", "POST", 200, r#"{"description":"ci"}"#)
        .await;
    let key: ServiceKey = serde_json::from_str(&text).unwrap();
    assert!(key.key.len() >= 24 && key.description == "ci");
    let keys: Vec<ServiceKey> = cli.get("/api/servicekeys").await;
    assert!(keys.iter().any(|k| k.description == "ci"));
    let body = serde_json::json!({ "key": key.key }).to_string();
    cli.request("/api/servicekeys", "DELETE", 204, &body).await;
    // webhook-keys, add-webhook-key, remove-webhook-key (by its key)
    let text = cli
        .request(
            "/api/webhookkeys",
            "POST",
            200,
            r#"{"image":"ehazlett/redis"}"#,
        )
        .await;
    let hook: WebhookKey = serde_json::from_str(&text).unwrap();
    assert!(!hook.id.is_empty() && hook.image == "ehazlett/redis");
    let hooks: Vec<WebhookKey> = cli.get("/api/webhookkeys").await;
    assert_eq!(hooks.len(), 1);
    cli.request(&format!("/api/webhookkeys/{}", hook.key), "DELETE", 204, "")
        .await;

    // add-engine, then engines and inspect-engine
    let add = r#"{"engine":{"id":"e1","addr":"unix:///fake.sock","cpus":2,"memory":2048,"labels":["cli"]}}"#;
    cli.request("/api/engines", "POST", 201, add).await;
    let engines: Vec<Engine> = cli.get("/api/engines").await;
    assert_eq!(engines.len(), 2);
    for e in &engines {
        let health = e.health.as_ref().expect("an outer health object");
        assert_eq!(health.status, "healthy", "{e:?}");
        assert!(health.response_time > 0, "{e:?}");
        assert_eq!(e.docker_version, "fake");
        let inner = e.engine.as_ref().expect("the engine object");
        assert!(!inner.id.is_empty() && !inner.addr.is_empty());
        assert!(e.ssl_key.is_empty() && e.ssl_cert.is_empty() && e.ca_cert.is_empty());
    }
    let outer = engines
        .iter()
        .find(|e| e.engine.as_ref().unwrap().id == "e1")
        .unwrap();
    assert_eq!(
        outer.engine.as_ref().unwrap().labels.as_deref(),
        Some(&["cli".to_string()][..])
    );
    let one: Engine = cli.get(&format!("/api/engines/{}", outer.id)).await;
    assert_eq!(one.engine.unwrap().cpus, 2.0);

    // run --count 2 --container-name web --network bridge (the CLI's defaults
    // for the rest: type service, restart no).
    let run = r#"{"name":"shipcore/busybox:latest","cpus":0.1,"memory":64,"type":"service",
        "args":["sleep","600"],"labels":[],"restart_policy":{"name":"no"},
        "network_mode":"bridge","container_name":"web","volumes":["webdata:/data"]}"#;
    let text = cli
        .request("/api/containers?count=2&pull=false", "POST", 201, run)
        .await;
    let started: Vec<Container> = serde_json::from_str(&text).unwrap();
    assert_eq!(started.len(), 2);
    let mut names: Vec<&str> = started.iter().map(|c| c.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["/web-0", "/web-1"]);
    for c in &started {
        assert_eq!(c.state, "running");
        assert!(!c.engine.as_ref().unwrap().id.is_empty());
        assert_eq!(
            c.image.as_ref().unwrap().volumes.as_deref().unwrap(),
            ["webdata:/data"]
        );
    }
    // pull=true pulls even where the image is: one more pull.
    let pulls = || {
        (0..2)
            .map(|i| fakes.engine(&format!("e{i}")).calls("pull"))
            .sum::<u64>()
    };
    let before = pulls();
    let single = run.replace("\"web\"", "\"solo\"");
    let text = cli
        .request("/api/containers?count=1&pull=true", "POST", 201, &single)
        .await;
    let solo: Vec<Container> = serde_json::from_str(&text).unwrap();
    assert_eq!(solo[0].name, "/solo", "one container keeps the chosen name");
    assert_eq!(pulls(), before + 1);
    // Fields the client can send that shipd does not carry out: a 400
    // naming them, nothing made.
    for (field, value) in [
        ("cpuset", "\"0-1\""),
        ("publish", "true"),
        ("privileged", "true"),
    ] {
        let body = run.replace("\"type\"", &format!("\"{field}\":{value},\"type\""));
        let (status, text) = cli.send("/api/containers?count=1", "POST", &body).await;
        assert_eq!(status, 400, "{field}: {text}");
        assert!(text.contains(field), "{text}");
    }
    // A host path is the admin's to mount: a `user` is refused with the
    // capability named, nothing made.
    api.access
        .create_account("dev", "dev-pw-1", "user")
        .await
        .unwrap();
    let host_path = run.replace("webdata:/data", "/etc:/host-etc");
    let (status, v) = api
        .call(
            "POST",
            "/api/containers",
            &Cred::Basic("dev".into(), "dev-pw-1".into()),
            Some(&host_path),
        )
        .await;
    assert_eq!(status, 403, "{v}");
    assert!(
        v.to_string()
            .contains("volumes[0] needs the capability host-binds"),
        "{v}"
    );

    // containers
    let list: Vec<Container> = cli.get("/api/containers").await;
    assert_eq!(list.len(), 3);
    assert!(list.iter().all(|c| c.state == "running"));
    for c in &list {
        let p = c.ports.as_ref();
        assert!(p.is_none_or(|p| p.iter().all(|p| p.container_port >= 0)));
    }
    // The seed's object for everyone else.
    let (_, seed) = api
        .call(
            "GET",
            "/api/containers",
            &Cred::Token("ops".into(), cli.token.clone()),
            None,
        )
        .await;
    assert_eq!(seed[0]["state"]["running"], true, "{seed}");

    // inspect
    let id = started[0].id.clone();
    let c: Container = cli.get(&format!("/api/containers/{id}")).await;
    assert_eq!(c.state, "running");
    assert_eq!(c.image.unwrap().restart_policy.name, "no");

    // scale --id ID --count 3: the container is read first, then scaled;
    // the new one is numbered apart from the first ones.
    let body = serde_json::to_string(&serde_json::json!({"id": id})).unwrap();
    cli.request(
        &format!("/api/containers/{id}/scale?count=3"),
        "GET",
        204,
        &body,
    )
    .await;
    let list: Vec<Container> = cli.get("/api/containers").await;
    let web: Vec<&Container> = list
        .iter()
        .filter(|c| c.name.starts_with("/web-"))
        .collect();
    assert_eq!(web.len(), 3, "{list:?}");

    // logs (the client does not check the status; shipd answers 200)
    let (status, _) = cli
        .send(
            &format!("/api/containers/{id}/logs?stderr=1&stdout=1"),
            "GET",
            "",
        )
        .await;
    assert_eq!(status, 200);

    // stop, restart, destroy: by id prefix from the list, with the
    // container's JSON as body, as the client sends them.
    let prefix = &id[..12];
    let target = list.iter().find(|c| c.id.starts_with(prefix)).unwrap();
    let body = serde_json::json!({"id": target.id, "name": target.name, "state": target.state})
        .to_string();
    cli.request(
        &format!("/api/containers/{}/stop", target.id),
        "GET",
        204,
        &body,
    )
    .await;
    let c: Container = cli.get(&format!("/api/containers/{}", target.id)).await;
    assert_eq!(c.state, "stopped");
    cli.request(
        &format!("/api/containers/{}/restart", target.id),
        "GET",
        204,
        &body,
    )
    .await;
    let c: Container = cli.get(&format!("/api/containers/{}", target.id)).await;
    assert_eq!(c.state, "running");
    cli.request(
        &format!("/api/containers/{}", target.id),
        "DELETE",
        204,
        &body,
    )
    .await;
    let list: Vec<Container> = cli.get("/api/containers").await;
    assert_eq!(list.len(), 3);

    // events: every one with its container and engine objects and an RFC
    // 3339 time; those of containers with the string state.
    let events: Vec<Event> = cli.get("/api/events").await;
    assert!(!events.is_empty());
    for e in &events {
        assert!(e.container.is_some() && e.engine.is_some(), "{e:?}");
        assert!(rfc3339(&e.time), "{e:?}");
        assert!(!e.kind.is_empty() && e.tags.is_some());
        if let Some(c) = e.container.as_ref().filter(|c| !c.id.is_empty()) {
            assert!(["running", "stopped"].contains(&c.state.as_str()), "{e:?}");
        }
    }
    assert!(events.iter().any(|e| e.kind == "add-engine"
        && e.engine.as_ref().unwrap().id == "e1"
        && e.message.contains("e1")));
    assert!(events
        .iter()
        .any(|e| e.container.as_ref().is_some_and(|c| !c.id.is_empty())));

    // change-password, under the caller's own token
    cli.request(
        "/account/changepassword",
        "POST",
        200,
        r#"{"password":"second-pw"}"#,
    )
    .await;
    let (status, _) = cli.send("/api/containers", "GET", "").await;
    assert_eq!(status, 401, "the old token is refused");
    let (status, _) = cli
        .send(
            "/auth/login",
            "POST",
            r#"{"username":"ops","password":"first-pw"}"#,
        )
        .await;
    assert_eq!(status, 401, "the old password is refused");
    let text = cli
        .request(
            "/auth/login",
            "POST",
            200,
            r#"{"username":"ops","password":"second-pw"}"#,
        )
        .await;
    cli.token = serde_json::from_str::<AuthToken>(&text).unwrap().auth_token;
    let list: Vec<Container> = cli.get("/api/containers").await;
    assert_eq!(list.len(), 3);

    // logout (shipd's addition): the token ends.
    cli.request("/auth/logout", "POST", 204, "").await;
    let (status, _) = cli.send("/api/containers", "GET", "").await;
    assert_eq!(status, 401);
}
