//! The auth matrix: every endpoint of the cluster API with no credentials,
//! a user key, an admin key, a custom role's key, a webhook key, and the
//! login tokens of a user and an admin account. A caller
//! the role rules allow makes a call that succeeds (what it acts on is made
//! for it first) and gets the route's documented success status; the others
//! get 401 or 403, and nothing happens.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use serde_json::{json, Value};
use shipcore::store::MemoryStore;
use support::http::{admin, api, Api, Cred};
use support::*;

/// One endpoint of the matrix: method, route template, permission area ("":
/// any valid credentials), whether it writes, and its success status.
struct Endpoint {
    method: &'static str,
    route: &'static str,
    area: &'static str,
    writes: bool,
    ok: u16,
}

const fn ep(
    method: &'static str,
    route: &'static str,
    area: &'static str,
    writes: bool,
    ok: u16,
) -> Endpoint {
    Endpoint {
        method,
        route,
        area,
        writes,
        ok,
    }
}

const ENDPOINTS: &[Endpoint] = &[
    ep("GET", "/api/accounts", "accounts", false, 200),
    ep("POST", "/api/accounts", "accounts", true, 204),
    ep("DELETE", "/api/accounts", "accounts", true, 204),
    ep("PUT", "/api/accounts/{username}", "accounts", true, 204),
    ep("GET", "/api/roles", "roles", false, 200),
    ep("GET", "/api/roles/{name}", "roles", false, 200),
    ep("POST", "/api/roles", "roles", true, 204),
    ep("DELETE", "/api/roles", "roles", true, 204),
    ep("GET", "/api/servicekeys", "servicekeys", false, 200),
    ep("POST", "/api/servicekeys", "servicekeys", true, 200),
    ep("DELETE", "/api/servicekeys", "servicekeys", true, 204),
    ep("GET", "/api/containers", "containers", false, 200),
    ep("POST", "/api/containers", "containers", true, 201),
    ep("GET", "/api/containers/{id}", "containers", false, 200),
    ep("DELETE", "/api/containers/{id}", "containers", true, 204),
    ep("GET", "/api/containers/{id}/stop", "containers", true, 204),
    ep(
        "GET",
        "/api/containers/{id}/restart",
        "containers",
        true,
        204,
    ),
    ep("GET", "/api/containers/{id}/scale", "containers", true, 204),
    ep("GET", "/api/containers/{id}/logs", "containers", false, 200),
    ep("GET", "/api/engines", "engines", false, 200),
    ep("GET", "/api/engines/{id}", "engines", false, 200),
    ep("POST", "/api/engines", "engines", true, 201),
    ep("DELETE", "/api/engines/{id}", "engines", true, 204),
    ep("GET", "/api/webhookkeys", "webhookkeys", false, 200),
    ep("POST", "/api/webhookkeys", "webhookkeys", true, 200),
    ep("DELETE", "/api/webhookkeys/{id}", "webhookkeys", true, 204),
    ep("DELETE", "/api/webhooks/{id}", "webhookkeys", true, 204),
    ep("GET", "/api/events", "events", false, 200),
    ep(
        "GET",
        "/api/registry/notifications",
        "notifications",
        false,
        200,
    ),
    ep(
        "PUT",
        "/api/registry/notifications/{name}",
        "notifications",
        true,
        200,
    ),
    ep(
        "DELETE",
        "/api/registry/notifications/{name}",
        "notifications",
        true,
        204,
    ),
    ep("GET", "/api/cluster/info", "cluster", false, 200),
    ep("GET", "/metrics", "", false, 200),
    ep("GET", "/api/openapi.json", "", false, 200),
];

/// The container service (seed 003), area `projects`: refused without
/// credentials (401) and for a role without the area (403); the built-in
/// roles reach the handler (what it then does is tested over real engines
/// in `compose_engines.rs`).
const COMPOSE: &[(&str, &str)] = &[
    ("GET", "/projects"),
    ("POST", "/projects"),
    ("GET", "/projects/"),
    ("POST", "/projects/"),
    ("GET", "/projects/{name}"),
    ("DELETE", "/projects/{name}"),
    ("GET", "/projects/{name}/config"),
    ("POST", "/projects/{name}/start"),
    ("POST", "/projects/{name}/stop"),
    ("POST", "/projects/{name}/kill"),
    ("POST", "/projects/{name}/redeploy"),
    ("POST", "/projects/{name}/update"),
    ("POST", "/projects/{name}/confirm-update"),
    ("POST", "/projects/{name}/rollback-update"),
    ("GET", "/services"),
    ("GET", "/services/"),
    ("GET", "/services/{id}"),
    ("POST", "/services/{id}/start"),
    ("POST", "/services/{id}/stop"),
    ("POST", "/services/{id}/kill"),
    ("POST", "/services/{id}/scale"),
    ("GET", "/volumes"),
    ("POST", "/volumes/create"),
    ("GET", "/volumes/{name}"),
    ("DELETE", "/volumes/{name}"),
    ("GET", "/clusters/{name}/certs"),
    ("GET", "/clusters/{name}/certs/issued"),
    ("DELETE", "/clusters/{name}/certs/{serial}"),
];

/// The registry's APIs, area `registry` (the built-in `user` role reads,
/// and only reads): method, documented route, the path called, and
/// whether it writes. Their effects are tested in `api_registry.rs`.
const REGISTRY: &[(&str, &str, &str, bool)] = &[
    ("GET", "/v2/", "/v2/", false),
    ("GET", "/v2/_catalog", "/v2/_catalog", false),
    ("GET", "/v2/{name}/tags/list", "/v2/m/app/tags/list", false),
    ("GET", "/v2/{name}/manifests/{reference}", "/v2/m/app/manifests/1", false),
    ("HEAD", "/v2/{name}/manifests/{reference}", "/v2/m/app/manifests/1", false),
    ("PUT", "/v2/{name}/manifests/{reference}", "/v2/m/app/manifests/1", true),
    ("DELETE", "/v2/{name}/manifests/{reference}", "/v2/m/app/manifests/1", true),
    ("GET", "/v2/{name}/referrers/{digest}", "/v2/m/app/referrers/sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", false),
    ("GET", "/v2/{name}/blobs/{digest}", "/v2/m/app/blobs/sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", false),
    ("HEAD", "/v2/{name}/blobs/{digest}", "/v2/m/app/blobs/sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", false),
    ("DELETE", "/v2/{name}/blobs/{digest}", "/v2/m/app/blobs/sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", true),
    ("POST", "/v2/{name}/blobs/uploads/", "/v2/m/app/blobs/uploads/", true),
    ("GET", "/v2/{name}/blobs/uploads/{uuid}", "/v2/m/app/blobs/uploads/00", true),
    ("PATCH", "/v2/{name}/blobs/uploads/{uuid}", "/v2/m/app/blobs/uploads/00", true),
    ("PUT", "/v2/{name}/blobs/uploads/{uuid}", "/v2/m/app/blobs/uploads/00?digest=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", true),
    ("DELETE", "/v2/{name}/blobs/uploads/{uuid}", "/v2/m/app/blobs/uploads/00", true),
    ("GET", "/docker/ext/manifest/{projectId}/{repoName}/{name}/{tag}", "/docker/ext/manifest/m/r/app/1", false),
    ("GET", "/docker/ext/layer/{projectId}/{repoName}/{name}/{Id}", "/docker/ext/layer/m/r/app/sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", false),
    ("GET", "/docker/ext/repo/{projectId}/{repoName}", "/docker/ext/repo/m/r", false),
    ("GET", "/docker/ext/tag/{projectId}/{repoName}/{name}", "/docker/ext/tag/m/r/app", false),
    ("DELETE", "/docker/ext/package/delete/{projectId}/{repoName}", "/docker/ext/package/delete/m/r?packageKey=app", true),
    ("DELETE", "/docker/ext/version/delete/{projectId}/{repoName}", "/docker/ext/version/delete/m/r?packageKey=app&version=1", true),
    ("GET", "/docker/ext/version/detail/{projectId}/{repoName}", "/docker/ext/version/detail/m/r?packageKey=app&version=1", false),
    ("GET", "/docker/ext/addr", "/docker/ext/addr", false),
    ("GET", "/api/registry/rules", "/api/registry/rules?repository=m/app", false),
    ("PUT", "/api/registry/rules", "/api/registry/rules?repository=m/app", true),
    ("POST", "/api/registry/retention", "/api/registry/retention?repository=m/app&dry_run=true", true),
    ("POST", "/api/registry/gc", "/api/registry/gc?dry_run=true", true),
    ("GET", "/harbor/projects", "/harbor/projects", false),
    ("GET", "/harbor/repositories", "/harbor/repositories", false),
    ("DELETE", "/harbor/repositories", "/harbor/repositories", true),
    ("GET", "/harbor/repositories/tags", "/harbor/repositories/tags?repo_name=m/app", false),
    ("POST", "/harbor/repositories/tags", "/harbor/repositories/tags?repo_name=m/app", false),
    ("GET", "/harbor/repositories/manifests", "/harbor/repositories/manifests?repo_name=m/app&tag=1", false),
    ("POST", "/harbor/repositories/manifests", "/harbor/repositories/manifests?repo_name=m/app&tag=1", false),
];

/// Build projects (seed 002 part 1): method, path, whether it writes. The
/// built-in `user` role builds.
const BUILDS: &[(&str, &str, &str, bool)] = &[
    ("POST", "/api/project/new", "/api/project/new", true),
    ("POST", "/api/project/delete", "/api/project/delete", true),
    ("POST", "/api/project/clone", "/api/project/clone", true),
    (
        "GET",
        "/api/project/info",
        "/api/project/info?projectName=nope",
        false,
    ),
    (
        "POST",
        "/api/project/info",
        "/api/project/info?projectName=nope",
        false,
    ),
    ("GET", "/api/project/list", "/api/project/list", false),
    ("POST", "/api/project/list", "/api/project/list", false),
    ("POST", "/api/project/save", "/api/project/save", true),
    ("POST", "/api/project/build", "/api/project/build", true),
    (
        "POST",
        "/api/project/build/cancel",
        "/api/project/build/cancel",
        true,
    ),
    (
        "GET",
        "/api/project/build/{id}/log",
        "/api/project/build/nope-1/log",
        false,
    ),
    (
        "GET",
        "/api/project/buildHistory",
        "/api/project/buildHistory?projectName=nope",
        false,
    ),
    (
        "POST",
        "/api/project/buildHistory",
        "/api/project/buildHistory?projectName=nope",
        false,
    ),
    (
        "POST",
        "/api/plugin/extension/interface",
        "/api/plugin/extension/interface",
        true,
    ),
    (
        "GET",
        "/view/config/independent",
        "/view/config/independent?projectName=nope",
        false,
    ),
];

/// Login and password changes, checked below the matrix: they take no
/// permission area, and act on the caller's own credentials.
const LOGIN: &[(&str, &str)] = &[
    ("POST", "/auth/login"),
    ("POST", "/auth/logout"),
    ("POST", "/account/changepassword"),
];

fn b_tcp() -> String {
    std::env::var("SHIPCORE_ENGINE_B_TCP").unwrap_or_default()
}

const SMALL: &str =
    r#"{"name":"shipcore/busybox:latest","cpus":0.05,"memory":16,"args":["sleep","600"]}"#;

/// What the call of `e` acts on, made with admin rights when the call is
/// to succeed (`allowed`): its path and body. `shared` is a container that
/// calls which leave it in place act on.
async fn prepare(
    api: &Api,
    e: &Endpoint,
    n: usize,
    b: &str,
    allowed: bool,
    shared: &str,
) -> (String, Option<String>) {
    let path = |id: &str| {
        e.route
            .replace("{id}", id)
            .replace("{name}", id)
            .replace("{username}", id)
    };
    if !allowed {
        // Refused before anything is looked at: any names do.
        let body = e.writes.then(|| r#"{"name":"nope"}"#.to_string());
        return (path("nope"), body);
    }
    match (e.method, e.route) {
        ("POST", "/api/accounts") => (
            path(""),
            Some(
                json!({"username": format!("u{n}"), "password": "pw", "role": {"name": "user"}})
                    .to_string(),
            ),
        ),
        ("DELETE", "/api/accounts") => {
            api.access
                .create_account(&format!("d{n}"), "pw", "user")
                .await
                .unwrap();
            (
                path(""),
                Some(json!({"username": format!("d{n}")}).to_string()),
            )
        }
        ("PUT", "/api/accounts/{username}") => {
            api.access
                .create_account(&format!("s{n}"), "pw", "user")
                .await
                .unwrap();
            (
                path(&format!("s{n}")),
                Some(json!({"password": "pw2"}).to_string()),
            )
        }
        ("GET", "/api/roles/{name}") => (path("user"), None),
        ("POST", "/api/roles") => (path(""), Some(json!({"name": format!("r{n}")}).to_string())),
        ("DELETE", "/api/roles") => {
            api.access
                .create_role(&format!("x{n}"), Vec::new())
                .await
                .unwrap();
            (path(""), Some(json!({"name": format!("x{n}")}).to_string()))
        }
        ("POST", "/api/servicekeys") => (path(""), Some(r#"{"description":"made"}"#.into())),
        ("DELETE", "/api/servicekeys") => {
            let k = api
                .access
                .create_service_key("gone", "user")
                .await
                .unwrap()
                .key;
            (path(""), Some(json!({ "key": k }).to_string()))
        }
        ("POST", "/api/containers") => (path(""), Some(SMALL.into())),
        ("GET", "/api/containers/{id}/scale") => (format!("{}?count=1", path(shared)), None),
        ("DELETE", "/api/containers/{id}") => {
            let placed = api
                .cluster
                .deploy(serde_json::from_str(SMALL).unwrap(), 1)
                .await
                .unwrap();
            (path(&placed[0].id), None)
        }
        (_, r) if r.starts_with("/api/containers/{id}") => (path(shared), None),
        ("GET", "/api/engines/{id}") => (path("a"), None),
        // On engine B's TCP address: on loopback, which the test's cluster
        // lets others than admin register engines on.
        ("POST", "/api/engines") => (
            path(""),
            Some(
                json!({"engine": {"id": format!("p{n}"), "addr": b_tcp(), "cpus": 0.5, "memory": 64}})
                    .to_string(),
            ),
        ),
        ("DELETE", "/api/engines/{id}") => {
            api.cluster
                .add_engine(record(&format!("q{n}"), b, 64, &[]))
                .await
                .unwrap();
            (path(&format!("q{n}")), None)
        }
        ("POST", "/api/webhookkeys") => (path(""), Some(r#"{"image":"ehazlett/redis"}"#.into())),
        ("DELETE", _) if e.route.contains("webhook") => {
            let w = api
                .access
                .create_webhook_key("ehazlett/redis")
                .await
                .unwrap();
            (path(&w.id), None)
        }
        ("PUT", "/api/registry/notifications/{name}") => (
            path(&format!("n{n}")),
            Some(json!({"url": "http://127.0.0.1:9/hook", "secret": "a-secret-of-some-length"}).to_string()),
        ),
        ("DELETE", "/api/registry/notifications/{name}") => {
            if allowed {
                let (status, answer) = api
                    .call(
                        "PUT",
                        &format!("/api/registry/notifications/d{n}"),
                        &admin(),
                        Some(r#"{"url":"http://127.0.0.1:9/","secret":"a-secret-of-some-length"}"#),
                    )
                    .await;
                assert_eq!(status, 200, "{answer}");
            }
            (path(&format!("d{n}")), None)
        }
        _ => (path(""), None),
    }
}

#[tokio::test]
async fn auth_matrix() {
    let Some((a, b)) = engines() else { return };
    let api = api(Arc::new(MemoryStore::new()), &a, &b, &unique("auth")).await;
    let key = |role: &str| {
        let access = api.access.clone();
        let role = role.to_string();
        async move { access.create_service_key("m", &role).await.unwrap().key }
    };
    // A custom role, as later Shipyard versions had: named permissions.
    api.access
        .create_role(
            "watcher",
            vec![
                "containers:ro".to_string().try_into().unwrap(),
                "engines:rw".to_string().try_into().unwrap(),
            ],
        )
        .await
        .unwrap();
    let hook = api
        .access
        .create_webhook_key("shipcore/nothing")
        .await
        .unwrap()
        .key;
    let token = |role: &str| {
        let access = api.access.clone();
        let (name, role) = (format!("tok-{role}"), role.to_string());
        async move {
            access.create_account(&name, "pw", &role).await.unwrap();
            let t = access
                .login(&name, "pw", None, "test")
                .await
                .unwrap()
                .unwrap();
            Cred::Token(name, t.token)
        }
    };
    let creds = [
        ("none", Cred::None),
        ("user", Cred::Key(key("user").await)),
        ("admin", Cred::Key(key("admin").await)),
        ("watcher", Cred::Key(key("watcher").await)),
        ("webhook", Cred::Key(hook.clone())),
        ("user-token", token("user").await),
        ("admin-token", token("admin").await),
        (
            "forged-token",
            Cred::Token("tok-admin".into(), "guess".into()),
        ),
    ];
    let (status, doc) = api.call("GET", "/api/openapi.json", &admin(), None).await;
    assert_eq!(status, 200, "{doc}");
    // Of a config of its own: scaling others' groups leaves it alone.
    let shared = api
        .cluster
        .deploy(serde_json::from_str(&SMALL.replace("16", "17")).unwrap(), 1)
        .await
        .unwrap()
        .remove(0)
        .id;

    let mut failures = Vec::new();
    let mut n = 0;
    for e in ENDPOINTS {
        // The documented success status is the one the matrix expects.
        let template = e.route;
        let documented = &doc["paths"][template][e.method.to_lowercase()]["responses"];
        if documented.get(e.ok.to_string()).is_none() {
            failures.push(format!(
                "{} {template}: {} is not documented: {documented}",
                e.method, e.ok
            ));
        }
        for (who, cred) in &creds {
            n += 1;
            let admin_area =
                ["accounts", "roles", "servicekeys", "notifications"].contains(&e.area);
            let allowed = match *who {
                "admin" | "admin-token" => true,
                "user" | "user-token" => !admin_area,
                "watcher" => {
                    e.area.is_empty()
                        || e.area == "engines"
                        || (e.area == "containers" && !e.writes)
                }
                _ => false,
            };
            let (path, body) = prepare(&api, e, n, &b, allowed, &shared).await;
            let (status, answer) = api.call(e.method, &path, cred, body.as_deref()).await;
            let want = match (*who, allowed) {
                ("none", _) | ("webhook", _) | ("forged-token", _) => 401,
                (_, true) => e.ok,
                (_, false) => 403,
            };
            if status != want {
                failures.push(format!(
                    "{} {path} as {who}: {status}, want {want}: {answer}",
                    e.method
                ));
            }
        }
    }
    // The matrix covers every operation of the OpenAPI document (the hub
    // webhook's, which take its own key, are tested below).
    let mut operations = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations += 1;
            let method = method.to_uppercase();
            let covered = template.starts_with("/hub/")
                || LOGIN.iter().any(|(m, r)| *m == method && r == template)
                || COMPOSE.iter().any(|(m, r)| *m == method && r == template)
                || REGISTRY
                    .iter()
                    .any(|(m, r, _, _)| *m == method && r == template)
                || BUILDS
                    .iter()
                    .any(|(m, r, _, _)| *m == method && r == template)
                || ENDPOINTS
                    .iter()
                    .any(|e| e.method == method && e.route == template);
            if !covered {
                failures.push(format!("{method} {template} is not in the auth matrix"));
            }
        }
    }
    assert_eq!(
        operations,
        ENDPOINTS.len() + COMPOSE.len() + REGISTRY.len() + BUILDS.len() + LOGIN.len() + 3,
        "documented operations"
    );
    for (method, route) in COMPOSE {
        let path = route
            .replace("{name}", "nope")
            .replace("{id}", "nope_web")
            .replace("{serial}", "0a");
        let body = (*method != "GET").then_some(r#"{"name":"nope"}"#);
        for (who, cred) in &creds {
            let (status, answer) = api.call(method, &path, cred, body).await;
            let fine = match *who {
                "none" | "webhook" | "forged-token" => status == 401,
                "watcher" => status == 403,
                _ => status != 401 && status != 403 && status < 500,
            };
            if !fine {
                failures.push(format!("{method} {path} as {who}: {status}: {answer}"));
            }
        }
    }
    for (method, _, path, writes) in REGISTRY {
        let body = (*method == "DELETE" && path.starts_with("/harbor"))
            .then_some(r#"{"repoName":"1","projectName":"m/app"}"#);
        for (who, cred) in &creds {
            let (status, answer) = api.call(method, path, cred, body).await;
            let fine = match *who {
                "none" | "webhook" | "forged-token" => status == 401,
                "watcher" => status == 403,
                "user" | "user-token" if *writes => status == 403,
                _ => status != 401 && status != 403 && status < 500,
            };
            if !fine {
                failures.push(format!("{method} {path} as {who}: {status}: {answer}"));
            }
        }
    }
    for (method, _, path, _writes) in BUILDS {
        let body =
            (*method == "POST").then_some(r#"{"projectName":"nope","plugin":"x","method":"y"}"#);
        for (who, cred) in &creds {
            let (status, answer) = api.call(method, path, cred, body).await;
            let fine = match *who {
                "none" | "webhook" | "forged-token" => status == 401,
                "watcher" => status == 403,
                _ => status != 401 && status != 403 && status < 500,
            };
            // Every answer is in the family's envelope.
            let enveloped = answer["code"].is_u64() || answer["data"].is_string();
            if !fine || !enveloped {
                failures.push(format!("{method} {path} as {who}: {status}: {answer}"));
            }
        }
    }
    // The admission policy's capabilities: past the area, a request that
    // reaches beyond its container is the admin's (every capability) and
    // never the built-in `user`'s, whatever the family.
    let with_bind = SMALL.replace(r#""args""#, r#""volumes":["/tmp:/host-tmp:ro"],"args""#);
    let capable: [(&str, &str, String, &str); 3] = [
        ("POST", "/api/containers", with_bind, "host-binds"),
        (
            "POST",
            "/volumes/create",
            json!({"name": "capvol", "node": "a", "driverOpts": {"type": "none", "o": "bind", "device": "/tmp"}})
                .to_string(),
            "volume-options",
        ),
        (
            "POST",
            "/projects",
            json!({"name": "capproj", "template": "services:\n  web:\n    image: shipcore/busybox:latest\n    command: [\"sleep\", \"600\"]\n    volumes: [\"/tmp:/host-tmp:ro\"]\n"})
                .to_string(),
            "host-binds",
        ),
    ];
    for (method, path, body, capability) in &capable {
        for (who, cred) in &creds {
            let (status, answer) = api.call(method, path, cred, Some(body)).await;
            let fine = match *who {
                "none" | "webhook" | "forged-token" => status == 401,
                "watcher" => status == 403,
                "user" | "user-token" => {
                    status == 403
                        && answer
                            .to_string()
                            .contains(&format!("needs the capability {capability}"))
                }
                _ => (200..300).contains(&status),
            };
            if !fine {
                failures.push(format!("{method} {path} as {who}: {status}: {answer}"));
            }
            // What an admin made goes again before the next caller.
            if (200..300).contains(&status) {
                let undo = match *path {
                    "/volumes/create" => "/volumes/capvol".to_string(),
                    "/projects" => "/projects/capproj?force=true&v=true".to_string(),
                    _ => String::new(),
                };
                if !undo.is_empty() {
                    let mut gone = false;
                    for _ in 0..100 {
                        let (s, _) = api.call("DELETE", &undo, &admin(), None).await;
                        if s < 300 || s == 404 {
                            gone = true;
                            break;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    if !gone {
                        failures.push(format!("{undo} could not be removed"));
                    }
                }
            }
        }
    }
    // Owners: what one account made is missing to another of the same
    // role, there for an admin and for its owner.
    let user_token = creds[5].1.clone();
    let (s, v) = api
        .call(
            "POST",
            "/volumes/create",
            &user_token,
            Some(r#"{"name":"owned","node":"a"}"#),
        )
        .await;
    if s != 201 {
        failures.push(format!("a user's volume: {s} {v}"));
    }
    for (method, cred, want) in [
        ("GET", &creds[1].1, 404),
        ("DELETE", &creds[1].1, 404),
        ("GET", &creds[2].1, 200),
        ("GET", &user_token, 200),
        ("DELETE", &user_token, 204),
    ] {
        let (s, v) = api.call(method, "/volumes/owned", cred, None).await;
        if s != want {
            failures.push(format!("{method} /volumes/owned: {s}, want {want}: {v}"));
        }
    }
    // The hub webhook takes only its own key.
    let push = r#"{"push_data":{"pushed_at":1},"repository":{"repo_name":"shipcore/nothing"}}"#;
    let (s, _) = api
        .call("POST", "/hub/webhook/wrong", &Cred::None, Some(push))
        .await;
    if s != 401 {
        failures.push(format!("hub with a wrong key: {s}"));
    }
    let (s, body) = api
        .call(
            "POST",
            &format!("/hub/webhook/{hook}"),
            &Cred::None,
            Some(push),
        )
        .await;
    if s != 200 {
        failures.push(format!("hub with its key: {s} {body}"));
    }
    for path in ["/hub/webhook", "/hub/webhook/"] {
        let (s, _) = api.call("POST", path, &Cred::None, Some(push)).await;
        if s != 401 {
            failures.push(format!("{path} without a key: {s}"));
        }
    }
    // Login: no credentials needed; wrong ones 401.
    api.access.create_account("lg", "pw", "user").await.unwrap();
    let login = |password: &str| json!({"username": "lg", "password": password}).to_string();
    let (s, body) = api
        .call("POST", "/auth/login", &Cred::None, Some(&login("pw")))
        .await;
    let t = body["auth_token"].as_str().unwrap_or_default().to_string();
    if s != 200 || t.is_empty() {
        failures.push(format!("login: {s} {body}"));
    }
    let (s, _) = api
        .call("POST", "/auth/login", &Cred::None, Some(&login("no")))
        .await;
    if s != 401 {
        failures.push(format!("login with a wrong password: {s}"));
    }
    // Logout ends the token it is sent with; keys and basic auth have none.
    for (who, cred) in &creds {
        let (s, _) = api.call("POST", "/auth/logout", cred, None).await;
        let want = match *who {
            "none" | "webhook" | "forged-token" => 401,
            "user-token" | "admin-token" => 204,
            _ => 403,
        };
        if s != want {
            failures.push(format!("logout as {who}: {s}, want {want}"));
        }
    }
    let mine = Cred::Token("lg".into(), t);
    // A password change: an account's own (token or basic auth); a service
    // key has no password.
    for (who, cred) in &creds {
        let want = match *who {
            "none" | "webhook" | "forged-token" => 401,
            // Ended by the logout above.
            "user-token" | "admin-token" => 401,
            _ => 403,
        };
        let (s, _) = api
            .call(
                "POST",
                "/account/changepassword",
                cred,
                Some(r#"{"password":"x"}"#),
            )
            .await;
        if s != want {
            failures.push(format!("changepassword as {who}: {s}, want {want}"));
        }
    }
    let (s, _) = api
        .call(
            "POST",
            "/account/changepassword",
            &mine,
            Some(r#"{"password":"pw2"}"#),
        )
        .await;
    if s != 200 {
        failures.push(format!("changepassword with its own token: {s}"));
    }
    let (s, _) = api.call("GET", "/api/engines", &mine, None).await;
    if s != 401 {
        failures.push(format!("a token after its password changed: {s}"));
    }
    let (s, _) = api
        .call(
            "GET",
            "/api/engines",
            &Cred::Basic("lg".into(), "pw2".into()),
            None,
        )
        .await;
    if s != 200 {
        failures.push(format!("the new password: {s}"));
    }
    // Refused calls changed nothing: accounts and roles made only by the
    // allowed callers, the extra engines made and removed.
    let (_, accounts) = api.call("GET", "/api/accounts", &admin(), None).await;
    let made = |v: &Value, field: &str, prefix: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|x| x[field].as_str().is_some_and(|s| s.starts_with(prefix)))
            .count()
    };
    // Made by the admin key and the admin's token.
    if made(&accounts, "username", "u") != 2 {
        failures.push(format!("accounts made by POST: {accounts}"));
    }
    clean(&api.cluster).await;
    for e in api.cluster.engines().await {
        if e.id() != "a" && e.id() != "b" {
            let _ = api.cluster.remove_engine(e.id(), true).await;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn only_admin_registers_engines_on_sockets_or_foreign_hosts() {
    let Some((a, b)) = engines() else { return };
    let api = api(Arc::new(MemoryStore::new()), &a, &b, &unique("where")).await;
    let user = Cred::Key(
        api.access
            .create_service_key("u", "user")
            .await
            .unwrap()
            .key,
    );
    let register = |id: &str, addr: &str, cpus: f64| {
        json!({"engine": {"id": id, "addr": addr, "cpus": cpus}}).to_string()
    };
    // A unix socket: admin only.
    let (s, err) = api
        .call(
            "POST",
            "/api/engines",
            &user,
            Some(&register("s1", &b, 1.0)),
        )
        .await;
    assert_eq!(s, 403, "{err}");
    assert!(
        err["error"].as_str().unwrap().contains("unix socket"),
        "{err}"
    );
    // A host outside the allowed ones: admin only.
    let (s, err) = api
        .call(
            "POST",
            "/api/engines",
            &user,
            Some(&register("s2", "tcp://10.9.9.9:2375", 1.0)),
        )
        .await;
    assert_eq!(s, 403, "{err}");
    // An allowed host: fine for a user.
    let (s, err) = api
        .call(
            "POST",
            "/api/engines",
            &user,
            Some(&register("s3", &b_tcp(), 1.0)),
        )
        .await;
    assert_eq!(s, 201, "{err}");
    // More capacity than the engine has: refused, for anyone.
    let (s, err) = api
        .call(
            "POST",
            "/api/engines",
            &admin(),
            Some(&register("s4", &b, 4096.0)),
        )
        .await;
    assert_eq!(s, 400, "{err}");
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("more than the engine has"),
        "{err}"
    );
    let (s, _) = api
        .call(
            "POST",
            "/api/engines",
            &admin(),
            Some(&register("s5", &b, 1.0)),
        )
        .await;
    assert_eq!(s, 201, "admin registers the socket");
}

/// One raw call: the status, the answer's headers and its body as text.
async fn raw(
    api: &Api,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, axum::http::HeaderMap, String) {
    use http_body_util::BodyExt as _;
    let mut req = axum::http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", api.base));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))
        .unwrap();
    let res = api.client.request(req).await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// Signs in through the dashboard's form: the cookie header to send back,
/// and the session's CSRF token (read off a page, as the page's script
/// reads it).
async fn sign_in(api: &Api, username: &str, password: &str) -> (String, String) {
    let form = format!("username={username}&password={password}");
    let (status, headers, body) = raw(
        api,
        "POST",
        "/ui/login",
        &[("content-type", "application/x-www-form-urlencoded")],
        &form,
    )
    .await;
    assert_eq!(status, 303, "{body}");
    let set = headers["set-cookie"].to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP: no Secure flag: {set}");
    let cookie = set.split(';').next().unwrap().to_string();
    let (status, _, page) = raw(api, "GET", "/ui/", &[("cookie", &cookie)], "").await;
    assert_eq!(status, 200, "{page}");
    let csrf = page
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    (cookie, csrf)
}

/// The dashboard's routes under the auth rules: its pages need a session
/// (API credentials alone lead to the sign-in form) and a role that allows
/// them; a session reaches the API as its account, and a change needs the
/// session's CSRF token too; signing out, a password change and deleting
/// the account end the session at once; every answer carries the strict
/// policy.
#[tokio::test]
async fn dashboard_matrix() {
    let api = support::http::start(
        shipcore::testing::Fixture::fake(2, 4_000, 8_192, &["app:1"])
            .await
            .unwrap(),
    )
    .await;
    api.access
        .create_account("ann", "pw-ann", "user")
        .await
        .unwrap();
    api.access
        .create_role(
            "watcher",
            vec!["containers:ro".to_string().try_into().unwrap()],
        )
        .await
        .unwrap();
    api.access
        .create_account("wat", "pw-wat", "watcher")
        .await
        .unwrap();
    let key = api
        .access
        .create_service_key("k", "admin")
        .await
        .unwrap()
        .key;

    // Without a session: pages lead to the sign-in form (whatever else is
    // sent); the form and the assets are public; unknown ones are 404.
    let pages = ["/ui/", "/ui/engines", "/ui/containers", "/ui/deploy"];
    for path in pages {
        for headers in [
            vec![],
            vec![("x-service-key", key.as_str())],
            vec![("cookie", "shipcore_session=admin:forged")],
        ] {
            let (status, h, _) = raw(&api, "GET", path, &headers, "").await;
            assert_eq!(status, 303, "{path} {headers:?}");
            assert!(h["location"].to_str().unwrap().starts_with("/ui/login"));
        }
    }
    for (path, status) in [
        ("/", 303),
        ("/ui", 303),
        ("/ui/login", 200),
        ("/ui/assets/app.js", 200),
        ("/ui/assets/app.css", 200),
        ("/ui/assets/nope.js", 404),
        ("/ui/nope", 404),
    ] {
        let (got, h, _) = raw(&api, "GET", path, &[], "").await;
        assert_eq!(got, status, "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe"),
            "{csp}"
        );
        assert_eq!(h["x-frame-options"], "DENY");
    }

    // Sessions of three roles: the admin's pages, the user's (no admin
    // areas in the navigation), and a custom role that may read containers
    // only (no deploy page: it needs to change them).
    let (admin_cookie, admin_csrf) =
        sign_in(&api, "admin", shipcore::testing::ADMIN_PASSWORD).await;
    let (ann_cookie, ann_csrf) = sign_in(&api, "ann", "pw-ann").await;
    let (wat_cookie, _) = sign_in(&api, "wat", "pw-wat").await;
    for path in pages {
        for cookie in [&admin_cookie, &ann_cookie] {
            let (status, _, body) = raw(&api, "GET", path, &[("cookie", cookie)], "").await;
            assert_eq!(status, 200, "{path}: {body}");
        }
    }
    let (status, _, body) = raw(&api, "GET", "/ui/deploy", &[("cookie", &wat_cookie)], "").await;
    assert_eq!(status, 403, "{body}");
    let (status, _, body) = raw(
        &api,
        "GET",
        "/ui/containers",
        &[("cookie", &wat_cookie)],
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("href=\"/ui/deploy\""), "{body}");

    // The session reaches the API as its account: reads with the cookie
    // alone, changes only with the CSRF token as well.
    let (status, _, body) = raw(&api, "GET", "/api/engines", &[("cookie", &ann_cookie)], "").await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = raw(&api, "GET", "/api/accounts", &[("cookie", &ann_cookie)], "").await;
    assert_eq!(status, 403, "a user's session is a user: {body}");
    let deploy = r#"{"name":"app:1","cpus":0.1,"memory":32}"#;
    let json = ("content-type", "application/json");
    for headers in [
        vec![("cookie", ann_cookie.as_str()), json],
        vec![
            ("cookie", ann_cookie.as_str()),
            json,
            ("x-csrf-token", "guess"),
        ],
        vec![
            ("cookie", ann_cookie.as_str()),
            json,
            ("x-csrf-token", admin_csrf.as_str()),
        ],
    ] {
        let (status, _, body) = raw(&api, "POST", "/api/containers", &headers, deploy).await;
        assert_eq!(status, 403, "{headers:?}: {body}");
    }
    assert!(api.cluster.containers().await.is_empty());
    let (status, _, body) = raw(
        &api,
        "POST",
        "/api/containers?dry_run=true",
        &[("cookie", &ann_cookie), json, ("x-csrf-token", &ann_csrf)],
        deploy,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"engines\":[{\"engine\":\"e"), "{body}");
    assert!(
        api.cluster.containers().await.is_empty(),
        "a dry run makes nothing"
    );
    // From another site, even with the token: refused.
    let (status, _, body) = raw(
        &api,
        "POST",
        "/api/containers",
        &[
            ("cookie", &ann_cookie),
            json,
            ("x-csrf-token", &ann_csrf),
            ("origin", "https://evil.example"),
        ],
        deploy,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, _, body) = raw(
        &api,
        "POST",
        "/api/containers",
        &[("cookie", &ann_cookie), json, ("x-csrf-token", &ann_csrf)],
        deploy,
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // Signing out needs the form's token; then the session is dead.
    let form = ("content-type", "application/x-www-form-urlencoded");
    let (status, _, _) = raw(
        &api,
        "POST",
        "/ui/logout",
        &[("cookie", &ann_cookie), form],
        "csrf=guess",
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, _) = raw(&api, "GET", "/api/engines", &[("cookie", &ann_cookie)], "").await;
    assert_eq!(status, 200, "a refused sign-out leaves the session");
    let (status, h, _) = raw(
        &api,
        "POST",
        "/ui/logout",
        &[("cookie", &ann_cookie), form],
        &format!("csrf={ann_csrf}"),
    )
    .await;
    assert_eq!(status, 303);
    assert!(h["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let (status, _, _) = raw(&api, "GET", "/api/engines", &[("cookie", &ann_cookie)], "").await;
    assert_eq!(status, 401, "signed out");
    let (status, _, _) = raw(&api, "GET", "/ui/", &[("cookie", &ann_cookie)], "").await;
    assert_eq!(status, 303, "signed out");

    // A password change ends every session of the account.
    let (ann_cookie, ann_csrf) = sign_in(&api, "ann", "pw-ann").await;
    let (status, _, body) = raw(
        &api,
        "POST",
        "/account/changepassword",
        &[("cookie", &ann_cookie), json, ("x-csrf-token", &ann_csrf)],
        r#"{"password":"pw-ann-2"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = raw(&api, "GET", "/api/engines", &[("cookie", &ann_cookie)], "").await;
    assert_eq!(status, 401, "a password change ends the session");

    // Deleting the account ends its sessions.
    let (ann_cookie, _) = sign_in(&api, "ann", "pw-ann-2").await;
    let (status, _, body) = raw(
        &api,
        "DELETE",
        "/api/accounts",
        &[
            ("cookie", &admin_cookie),
            json,
            ("x-csrf-token", &admin_csrf),
        ],
        r#"{"username":"ann"}"#,
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, _, _) = raw(&api, "GET", "/api/engines", &[("cookie", &ann_cookie)], "").await;
    assert_eq!(status, 401, "a deleted account's session ends");

    // Sign-in refusals: a wrong password, a form missing fields, junk.
    for (body, want) in [
        ("username=admin&password=wrong", 401),
        ("username=admin", 400),
        ("\u{0}\u{ff}garbage", 400),
    ] {
        let (status, h, page) = raw(&api, "POST", "/ui/login", &[form], body).await;
        assert_eq!(status, want, "{body:?}: {page}");
        assert!(h.get("set-cookie").is_none());
        assert!(page.contains("<form"), "the form again: {page}");
    }
}
