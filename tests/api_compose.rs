//! Every route of the container service API (seed 003) answered with its
//! documented success status, called as a `user` account over HTTP, over
//! in-memory fake engines: a project's lifecycle, its services (scale,
//! stop, start, kill), blue-green updates confirmed and rolled back,
//! volumes, and the cluster CA's client certificates (one set for the
//! seed's three calls, revocable by its owner or an admin only).

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};
use shipcore::testing::Fixture;
use support::http::{admin, start, Api, Cred};

const TEMPLATE: &str = "services:\n  web:\n    image: app:1\n    scale: 2\n    ports: [\"8080\"]\n    volumes: [\"data:/data\"]\n  worker:\n    image: app:1\n    depends_on:\n      web:\n        condition: service_started\nvolumes:\n  data: {}\n";

struct Run {
    api: Api,
    cred: Cred,
    doc: Value,
    /// (method, route template) of every call that met its documented
    /// success status.
    seen: BTreeSet<(String, String)>,
}

impl Run {
    /// Calls `route` (a template, `{…}` filled from `args` in order) and
    /// checks the answer's status is the one the OpenAPI document gives as
    /// its success.
    async fn ok(&mut self, method: &str, route: &str, args: &[&str], body: Option<Value>) -> Value {
        let mut path = route.to_string();
        for a in args {
            let start = path.find('{').unwrap();
            let end = path[start..].find('}').unwrap() + start;
            path.replace_range(start..=end, a);
        }
        let template = route.split('?').next().unwrap();
        let responses = &self.doc["paths"][template][method.to_lowercase()]["responses"];
        let want: u16 = responses
            .as_object()
            .unwrap_or_else(|| panic!("{method} {template} is not documented"))
            .keys()
            .filter_map(|k| k.parse().ok())
            .find(|s| (200..300).contains(s))
            .unwrap();
        let body = body.map(|b| b.to_string());
        let (status, answer) = self
            .api
            .call(method, &path, &self.cred, body.as_deref())
            .await;
        assert_eq!(status, want, "{method} {path}: {answer}");
        self.seen.insert((method.to_string(), template.to_string()));
        answer
    }

    async fn project(&self, name: &str) -> Value {
        let (s, p) = self
            .api
            .call(
                "GET",
                &format!("/projects/{name}?containers=true"),
                &self.cred,
                None,
            )
            .await;
        assert_eq!(s, 200, "{p}");
        p
    }

    /// Waits until `check` holds of the project.
    async fn until(&self, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..300 {
            let p = self.project(name).await;
            if check(&p) {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{name}: never {what}: {}", self.project(name).await);
    }
}

fn containers(p: &Value, service: &str) -> Vec<Value> {
    p["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == service)
        .map(|s| {
            s["containers"]
                .as_object()
                .unwrap()
                .values()
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn every_compose_route_answers_its_documented_status() {
    let fixture = Fixture::fake(2, 4_000, 8_192, &["app:1"]).await.unwrap();
    let api = start(fixture).await;
    api.access
        .create_account("alice", "alicepw1", "user")
        .await
        .unwrap();
    api.access
        .create_account("bob", "bobpw123", "user")
        .await
        .unwrap();
    let (_, doc) = api.call("GET", "/api/openapi.json", &admin(), None).await;
    let cluster = api.cluster.identity().to_string();
    let mut run = Run {
        api,
        cred: Cred::Basic("alice".into(), "alicepw1".into()),
        doc,
        seen: BTreeSet::new(),
    };

    // Create (201 + Location), list, view.
    let made = run
        .ok(
            "POST",
            "/projects",
            &[],
            Some(json!({"name": "shop", "template": TEMPLATE, "version": "1"})),
        )
        .await;
    assert_eq!(made["name"], "shop");
    run.until("shop", "running", |p| p["current_state"] == "running")
        .await;
    run.ok(
        "POST",
        "/projects/",
        &[],
        Some(json!({"name": "other", "template": TEMPLATE, "version": "1"})),
    )
    .await;
    let list = run.ok("GET", "/projects?q={}", &["sho"], None).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let list = run
        .ok("GET", "/projects/?services={}", &["true"], None)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    let p = run
        .ok("GET", "/projects/{name}?containers=true", &["shop"], None)
        .await;
    assert_eq!(containers(&p, "web").len(), 2, "{p}");
    let cfg = run
        .ok(
            "GET",
            "/projects/{name}/config?format={}",
            &["shop", "json"],
            None,
        )
        .await;
    assert_eq!(cfg["name"], "shop");
    assert_eq!(cfg["services"]["web"]["deploy"]["replicas"], 2, "{cfg}");
    assert_eq!(
        cfg["services"]["worker"]["depends_on"]["web"]["condition"],
        "service_started"
    );

    // Services.
    let all = run.ok("GET", "/services", &[], None).await;
    assert!(all.as_array().unwrap().len() >= 4, "{all}");
    run.ok("GET", "/services/?q={}", &["shop"], None).await;
    let web = run.ok("GET", "/services/{id}", &["shop_web"], None).await;
    assert_eq!(web["id"], "shop_web");
    assert_eq!(web["project"], "shop");
    run.ok(
        "POST",
        "/services/{id}/scale",
        &["shop_web"],
        Some(json!({"type": "scale_to", "value": 3})),
    )
    .await;
    let p = run.project("shop").await;
    assert_eq!(containers(&p, "web").len(), 3, "{p}");
    run.ok("POST", "/services/{id}/stop", &["shop_worker"], None)
        .await;
    let p = run.project("shop").await;
    assert!(
        containers(&p, "worker")
            .iter()
            .all(|c| c["running"] == false),
        "{p}"
    );
    run.ok("POST", "/services/{id}/start", &["shop_worker"], None)
        .await;
    let p = run.project("shop").await;
    assert!(
        containers(&p, "worker")
            .iter()
            .all(|c| c["running"] == true),
        "{p}"
    );
    run.ok("POST", "/services/{id}/kill", &["shop_worker"], None)
        .await;

    // The project's lifecycle.
    run.ok("POST", "/projects/{name}/stop?t=1", &["shop"], None)
        .await;
    let p = run.project("shop").await;
    assert_eq!(p["current_state"], "stopped", "{p}");
    run.ok("POST", "/projects/{name}/start", &["shop"], None)
        .await;
    let p = run.project("shop").await;
    assert_eq!(p["current_state"], "running", "{p}");
    run.ok("POST", "/projects/{name}/kill?signal=TERM", &["shop"], None)
        .await;
    run.ok("POST", "/projects/{name}/redeploy", &["shop"], None)
        .await;
    run.until("shop", "running again", |p| p["current_state"] == "running")
        .await;

    // Blue-green: confirmed, then rolled back.
    run.ok(
        "POST",
        "/projects/{name}/update",
        &["shop"],
        Some(json!({"version": "2", "update_method": "blue-green"})),
    )
    .await;
    run.until("shop", "ready to confirm", |p| {
        p["update"]["phase"] == "ready"
    })
    .await;
    run.ok("POST", "/projects/{name}/confirm-update", &["shop"], None)
        .await;
    let p = run
        .until("shop", "on version 2", |p| {
            p["update"].is_null() && p["version"] == "2"
        })
        .await;
    assert!(
        containers(&p, "web").iter().all(|c| c["version"] == "2"),
        "{p}"
    );
    run.ok(
        "POST",
        "/projects/{name}/update",
        &["shop"],
        Some(json!({"version": "3", "update_method": "blue-green"})),
    )
    .await;
    run.until("shop", "ready to roll back", |p| {
        p["update"]["phase"] == "ready"
    })
    .await;
    run.ok("POST", "/projects/{name}/rollback-update", &["shop"], None)
        .await;
    let p = run
        .until("shop", "back on version 2", |p| p["update"].is_null())
        .await;
    assert_eq!(p["version"], "2", "{p}");
    assert!(
        containers(&p, "web").iter().all(|c| c["version"] == "2"),
        "{p}"
    );

    // Volumes.
    let v = run
        .ok(
            "POST",
            "/volumes/create",
            &[],
            Some(json!({"name": "vol1", "driver": "local", "labels": {"a": "b"}})),
        )
        .await;
    assert_eq!(v["Name"], "vol1");
    let v = run.ok("GET", "/volumes/{name}", &["vol1"], None).await;
    assert_eq!(v["Driver"], "local");
    let vs = run.ok("GET", "/volumes", &[], None).await;
    assert!(vs["Volumes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["Name"] == "vol1"));
    run.ok("DELETE", "/volumes/{name}", &["vol1"], None).await;
    // Docker's rule, said before any engine is asked.
    let (s, e) = run
        .api
        .call(
            "POST",
            "/volumes/create",
            &run.cred,
            Some(r#"{"name":"v"}"#),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    assert!(e.to_string().contains("two characters"), "{e}");

    // Certificates: the seed's three calls get one set.
    let first = run
        .ok("GET", "/clusters/{name}/certs", &[&cluster], None)
        .await;
    let second = run
        .ok("GET", "/clusters/{name}/certs", &[&cluster], None)
        .await;
    for field in ["ca", "cert", "key"] {
        assert!(
            first[field].as_str().unwrap().contains("-----BEGIN"),
            "{field}"
        );
        assert_eq!(first[field], second[field], "{field}");
    }
    let serial = first["serial"].as_str().unwrap().to_string();
    let (s, e) = run
        .api
        .call("GET", "/clusters/elsewhere/certs", &run.cred, None)
        .await;
    assert_eq!(s, 404, "{e}");
    let issued = run
        .ok("GET", "/clusters/{name}/certs/issued", &[&cluster], None)
        .await;
    assert_eq!(issued.as_array().unwrap().len(), 1, "{issued}");
    assert!(!issued.to_string().contains("PRIVATE"), "{issued}");
    // Bob sees and revokes only his own.
    let bob = Cred::Basic("bob".into(), "bobpw123".into());
    let path = format!("/clusters/{cluster}/certs/{serial}");
    let (s, e) = run.api.call("DELETE", &path, &bob, None).await;
    assert_eq!(s, 404, "{e}");
    let (s, mine) = run
        .api
        .call(
            "GET",
            &format!("/clusters/{cluster}/certs/issued"),
            &bob,
            None,
        )
        .await;
    assert_eq!((s, mine.as_array().unwrap().len()), (200, 0), "{mine}");
    // A service key is no account: no certificate.
    let key = run
        .api
        .access
        .create_service_key("k", "user")
        .await
        .unwrap();
    let (s, e) = run
        .api
        .call(
            "GET",
            &format!("/clusters/{cluster}/certs"),
            &Cred::Key(key.key),
            None,
        )
        .await;
    assert_eq!(s, 403, "{e}");
    run.ok(
        "DELETE",
        "/clusters/{name}/certs/{serial}",
        &[&cluster, &serial],
        None,
    )
    .await;
    let why = run
        .api
        .access
        .certificate_principal(&serial)
        .await
        .unwrap()
        .unwrap_err();
    assert!(why.contains("revoked"), "{why}");
    let third = run
        .ok("GET", "/clusters/{name}/certs", &[&cluster], None)
        .await;
    assert_ne!(third["serial"], first["serial"]);

    // Delete, with its volume.
    run.ok(
        "DELETE",
        "/projects/{name}?force=true&v=true",
        &["shop"],
        None,
    )
    .await;
    let (s, _) = run.api.call("GET", "/projects/shop", &run.cred, None).await;
    assert_eq!(s, 404);

    // Every documented route of the family was met.
    let mut missing = Vec::new();
    for (template, item) in run.doc["paths"].as_object().unwrap() {
        let ours = ["/projects", "/services", "/volumes", "/clusters"]
            .iter()
            .any(|p| template.starts_with(p));
        for method in item.as_object().unwrap().keys() {
            let key = (method.to_uppercase(), template.clone());
            if ours && !run.seen.contains(&key) {
                missing.push(format!("{} {}", key.0, key.1));
            }
        }
    }
    assert!(missing.is_empty(), "not called: {missing:?}");
}

/// A project may carry the files its compose file names (`.env`,
/// `env_file`) and the profiles to enable; paths that leave the project,
/// too many or too large files, and a missing env_file are 400s naming
/// what is wrong; the view lists the files' names, never their contents.
#[tokio::test]
async fn files_beside_the_template_and_profiles_over_http() {
    let fixture = Fixture::fake(1, 4_000, 8_192, &["app:1", "app:2"])
        .await
        .unwrap();
    let api = start(fixture).await;
    let cred = admin();
    let template = "services:\n  web:\n    image: \"app:${TAG}\"\n    env_file: conf/web.env\n  debug:\n    image: app:1\n    profiles: [debug]\n";
    let files = json!({".env": "TAG=2\n", "conf/web.env": "SECRET_KEY=s3cret\n"});
    let body = |name: &str, files: Value, profiles: Value| {
        json!({"name": name, "template": template, "files": files, "profiles": profiles})
            .to_string()
    };
    let (s, v) = api
        .call(
            "POST",
            "/projects/",
            &cred,
            Some(&body("files", files.clone(), json!([]))),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["files"], json!([".env", "conf/web.env"]), "{v}");
    assert!(
        !v.to_string().contains("s3cret"),
        "contents stay out of the view: {v}"
    );
    let (_, v) = api
        .call("GET", "/projects/files?services=true", &cred, None)
        .await;
    let services: Vec<&str> = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["web"], "debug is off: {v}");
    let (s, v) = api
        .call(
            "POST",
            "/projects/",
            &cred,
            Some(&body("withdebug", files.clone(), json!(["debug"]))),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["profiles"], json!(["debug"]));
    // What shipcore understood, as `docker compose config` prints it: the
    // image filled from .env, the env_file's variable, the debug service.
    let (s, cfg) = api
        .call("GET", "/projects/withdebug/config?format=json", &cred, None)
        .await;
    assert_eq!(s, 200, "{cfg}");
    assert_eq!(cfg["services"]["web"]["image"], "app:2");
    assert_eq!(
        cfg["services"]["web"]["environment"]["SECRET_KEY"],
        "s3cret"
    );
    assert_eq!(cfg["services"]["debug"]["profiles"], json!(["debug"]));
    let (s, _) = api
        .call("GET", "/projects/withdebug/config?format=toml", &cred, None)
        .await;
    assert_eq!(s, 400);
    api.access
        .create_account("eve", "evepw123", "user")
        .await
        .unwrap();
    let eve = Cred::Basic("eve".into(), "evepw123".into());
    let (s, _) = api
        .call("GET", "/projects/withdebug/config", &eve, None)
        .await;
    assert_eq!(s, 404, "another account's project is not there for eve");

    for (files, profiles, part) in [
        (
            json!({"../escape.env": ""}),
            json!([]),
            "leaves the project",
        ),
        (json!({"/etc/passwd": ""}), json!([]), "absolute"),
        (json!({".env": "x".repeat(300 * 1024)}), json!([]), "bytes"),
        (json!({".env": "TAG=2\n"}), json!([]), "conf/web.env"),
        (files.clone(), json!(["bad profile"]), "profile"),
    ] {
        let (s, v) = api
            .call(
                "POST",
                "/projects/",
                &cred,
                Some(&body("refused", files, profiles)),
            )
            .await;
        assert_eq!(s, 400, "{part}: {v}");
        assert!(v.to_string().contains(part), "{part}: {v}");
    }
    let many: serde_json::Map<String, Value> = (0..65)
        .map(|i| (format!("f{i}"), Value::from("")))
        .collect();
    let (s, v) = api
        .call(
            "POST",
            "/projects/",
            &cred,
            Some(&body("many", Value::Object(many), json!([]))),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(v.to_string().contains("files"), "{v}");
}
