//! The cluster API of seed 001 over HTTP, on a loopback port, over the real
//! engines of the test bed: the seed's requests for every endpoint, the auth
//! matrix, the hub webhook, and a restart over the same data.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use serde_json::{json, Value};
use shipcore::sched::Strategy;
use shipcore::store::{DurableStore, MemoryStore, Store};
use support::http::{start, Api, Cred};
use support::*;

const DEPLOY: &str = r#"{"name":"shipcore/busybox:latest","cpus":0.1,"memory":32,"type":"service",
  "hostname":"","domain":"","labels":["zone==a"],"args":["sleep","600"],"environment":{"FOO":"bar"},
  "restart_policy":{"name":"always"},"bind_ports":[{"proto":"tcp","container_port":8080}],"links":{}}"#;

async fn api(store: Arc<dyn Store>, a: &str, b: &str, name: &str) -> Api {
    let cluster = cluster_on(store.clone(), a, b, Strategy::Spread, name).await;
    start(store, cluster).await
}

fn admin() -> Cred {
    Cred::Basic("admin".into(), "adminpw".into())
}

#[tokio::test]
async fn seed_requests_for_every_endpoint() {
    let Some((a, b)) = engines() else { return };
    let api = api(Arc::new(MemoryStore::new()), &a, &b, &unique("api")).await;
    let adm = admin();

    // Service keys: the key is shown once.
    let (s, key) = api
        .call(
            "POST",
            "/api/servicekeys",
            &adm,
            Some(r#"{"description":"test key"}"#),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(key["description"], "test key");
    let key = key["key"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 36);
    let k = Cred::Key(key.clone());
    let (s, list) = api.call("GET", "/api/servicekeys", &k, None).await;
    assert_eq!(s, 200);
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["key"] != key.as_str()));

    // Cluster info in the seed's shape.
    let (s, info) = api.call("GET", "/api/cluster/info", &k, None).await;
    assert_eq!(s, 200);
    for field in [
        "cpus",
        "memory",
        "reserved_cpus",
        "reserved_memory",
        "engine_count",
        "container_count",
        "image_count",
    ] {
        assert!(info.get(field).is_some(), "{field} in {info}");
    }
    assert_eq!(info["engine_count"], 2);

    // Engines.
    let (s, engines) = api.call("GET", "/api/engines", &k, None).await;
    assert_eq!((s, engines.as_array().unwrap().len()), (200, 2));
    let (s, one) = api.call("GET", "/api/engines/a", &k, None).await;
    assert_eq!((s, one["engine"]["id"].as_str()), (200, Some("a")));
    assert!(one.get("ssl_key").is_none());
    let (s, _) = api.call("GET", "/api/engines/nope", &k, None).await;
    assert_eq!(s, 404);
    let bad = r#"{"id":"x","engine":{"id":"x","addr":"ftp://nowhere"}}"#;
    let (s, err) = api.call("POST", "/api/engines", &k, Some(bad)).await;
    assert_eq!(s, 400, "{err}");

    // Containers: deploy (201), list, inspect by prefix, logs, stop, restart, scale, destroy.
    let (s, placed) = api.call("POST", "/api/containers", &k, Some(DEPLOY)).await;
    assert_eq!(s, 201, "{placed}");
    let c = &placed[0];
    assert_eq!(c["engine"]["id"], "a", "zone==a sends it to a");
    assert_eq!(c["image"]["environment"]["FOO"], "bar");
    assert_eq!(c["state"]["running"], true);
    assert!(c["ports"][0]["port"].as_u64().unwrap() > 0, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    let (s, list) = api.call("GET", "/api/containers", &k, None).await;
    assert_eq!((s, list.as_array().unwrap().len()), (200, 1));
    let (s, one) = api
        .call("GET", &format!("/api/containers/{}", &id[..6]), &k, None)
        .await;
    assert_eq!((s, one["id"].as_str()), (200, Some(id.as_str())));
    let (s, _) = api
        .call("GET", &format!("/api/containers/{id}/logs"), &k, None)
        .await;
    assert_eq!(s, 200);
    for op in ["stop", "restart"] {
        let (s, body) = api
            .call("GET", &format!("/api/containers/{id}/{op}"), &k, None)
            .await;
        assert_eq!(s, 204, "{op}: {body}");
    }
    let (s, _) = api
        .call(
            "GET",
            &format!("/api/containers/{id}/scale?count=3"),
            &k,
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (_, list) = api.call("GET", "/api/containers", &k, None).await;
    assert_eq!(list.as_array().unwrap().len(), 3);
    let (s, _) = api
        .call(
            "GET",
            &format!("/api/containers/{id}/scale?count=1"),
            &k,
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, err) = api
        .call(
            "POST",
            "/api/containers",
            &k,
            Some(r#"{"name":"x","cpus":1,"memory":999999}"#),
        )
        .await;
    assert_eq!(s, 409, "{err}");
    assert!(err["error"]
        .as_str()
        .unwrap()
        .starts_with("cannot place: 0/2 engines: 2 insufficient memory"));
    assert_eq!(err["refusals"].as_array().unwrap().len(), 2);
    let (s, err) = api
        .call(
            "POST",
            "/api/containers",
            &k,
            Some(r#"{"name":"x","cpus":"one","memory":1}"#),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        err["error"].as_str().unwrap().contains("invalid type"),
        "{err}"
    );
    let (s, err) = api
        .call(
            "POST",
            "/api/containers",
            &k,
            Some(r#"{"cpus":1,"memory":1}"#),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("missing field `name`"),
        "{err}"
    );
    let (_, list) = api.call("GET", "/api/containers", &k, None).await;
    for c in list.as_array().unwrap() {
        let (s, _) = api
            .call(
                "DELETE",
                &format!("/api/containers/{}", c["id"].as_str().unwrap()),
                &k,
                None,
            )
            .await;
        assert_eq!(s, 204);
    }
    let (s, _) = api
        .call("DELETE", &format!("/api/containers/{id}"), &k, None)
        .await;
    assert_eq!(s, 404);

    // Accounts and roles.
    let (s, _) = api
        .call(
            "POST",
            "/api/accounts",
            &adm,
            Some(r#"{"username":"foo","password":"bar","role":{"name":"user"}}"#),
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = api
        .call(
            "POST",
            "/api/accounts",
            &adm,
            Some(r#"{"username":"foo","password":"bar","role":{"name":"user"}}"#),
        )
        .await;
    assert_eq!(s, 409);
    let (s, accounts) = api.call("GET", "/api/accounts", &adm, None).await;
    assert_eq!(s, 200);
    let foo = accounts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["username"] == "foo")
        .unwrap()
        .clone();
    assert_eq!(foo["role"]["name"], "user");
    assert!(foo["password"].as_str().unwrap().starts_with("$argon2id$"));
    let (s, _) = api
        .call(
            "DELETE",
            "/api/accounts",
            &adm,
            Some(r#"{"username":"foo"}"#),
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = api
        .call("POST", "/api/roles", &adm, Some(r#"{"name":"test"}"#))
        .await;
    assert_eq!(s, 204);
    let (s, role) = api.call("GET", "/api/roles/test", &adm, None).await;
    assert_eq!((s, role["name"].as_str()), (200, Some("test")));
    let (s, roles) = api.call("GET", "/api/roles", &adm, None).await;
    assert_eq!((s, roles.as_array().unwrap().len()), (200, 3));
    let (s, _) = api
        .call("DELETE", "/api/roles", &adm, Some(r#"{"name":"test"}"#))
        .await;
    assert_eq!(s, 204);

    // Webhook keys, both delete paths.
    let (s, hook) = api
        .call(
            "POST",
            "/api/webhookkeys",
            &adm,
            Some(r#"{"image":"ehazlett/redis"}"#),
        )
        .await;
    assert_eq!((s, hook["image"].as_str()), (200, Some("ehazlett/redis")));
    let (s, _) = api
        .call(
            "DELETE",
            &format!("/api/webhooks/{}", hook["key"].as_str().unwrap()),
            &adm,
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (_, hook) = api
        .call(
            "POST",
            "/api/webhookkeys",
            &adm,
            Some(r#"{"image":"ehazlett/redis"}"#),
        )
        .await;
    let (s, _) = api
        .call(
            "DELETE",
            &format!("/api/webhookkeys/{}", hook["id"].as_str().unwrap()),
            &adm,
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, list) = api.call("GET", "/api/webhookkeys", &adm, None).await;
    assert_eq!((s, list.as_array().unwrap().len()), (200, 0));

    // Events, newest first.
    let (s, events) = api.call("GET", "/api/events?limit=5", &k, None).await;
    assert_eq!(s, 200);
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 5);
    assert!(events[0]["seq"].as_u64() > events[1]["seq"].as_u64());
    assert!(events
        .iter()
        .all(|e| e.get("type").is_some() && e.get("time").is_some()));

    // Metrics: requests by route and status, engines, containers.
    let (s, text) = api.call("GET", "/metrics", &k, None).await;
    assert_eq!(s, 200);
    let text = text.as_str().unwrap();
    assert!(
        text.contains(
            r#"shipcore_http_requests_total{method="GET",route="/api/containers",status="200"}"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"shipcore_engines{state="up"} 2"#), "{text}");
    assert!(
        text.contains("shipcore_placement_failures_total 1"),
        "{text}"
    );
    assert!(
        text.contains("shipcore_http_request_duration_seconds_count"),
        "{text}"
    );

    // Service key deletion.
    let (s, _) = api
        .call(
            "DELETE",
            "/api/servicekeys",
            &adm,
            Some(&json!({ "key": key }).to_string()),
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = api.call("GET", "/api/cluster/info", &k, None).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn auth_matrix() {
    let Some((a, b)) = engines() else { return };
    let api = api(Arc::new(MemoryStore::new()), &a, &b, &unique("auth")).await;
    let user_key = api
        .access
        .create_service_key("u", "user")
        .await
        .unwrap()
        .key;
    let admin_key = api
        .access
        .create_service_key("a", "admin")
        .await
        .unwrap()
        .key;
    let hook = api
        .access
        .create_webhook_key("shipcore/nothing")
        .await
        .unwrap()
        .key;
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
    let watcher_key = api
        .access
        .create_service_key("w", "watcher")
        .await
        .unwrap()
        .key;
    let creds = [
        ("none", Cred::None),
        ("user", Cred::Key(user_key)),
        ("admin", Cred::Key(admin_key)),
        ("watcher", Cred::Key(watcher_key)),
        ("webhook", Cred::Key(hook.clone())),
    ];
    // (method, path, body, area, writes). Requests are chosen to be
    // harmless: they name things that do not exist, so an allowed call
    // answers 4xx from the handler (400/404/409), never 401/403. Area ""
    // needs only valid credentials.
    let endpoints: &[(&str, &str, &str, &str, bool)] = &[
        ("GET", "/api/accounts", "", "accounts", false),
        (
            "POST",
            "/api/accounts",
            r#"{"username":"x","password":"y","role":{"name":"nope"}}"#,
            "accounts",
            true,
        ),
        (
            "DELETE",
            "/api/accounts",
            r#"{"username":"nobody"}"#,
            "accounts",
            true,
        ),
        ("GET", "/api/roles", "", "roles", false),
        ("GET", "/api/roles/admin", "", "roles", false),
        ("POST", "/api/roles", r#"{"name":"-bad"}"#, "roles", true),
        ("DELETE", "/api/roles", r#"{"name":"nope"}"#, "roles", true),
        ("GET", "/api/servicekeys", "", "servicekeys", false),
        (
            "POST",
            "/api/servicekeys",
            r#"{"description":"x","role":"nope"}"#,
            "servicekeys",
            true,
        ),
        (
            "DELETE",
            "/api/servicekeys",
            r#"{"key":"nope"}"#,
            "servicekeys",
            true,
        ),
        ("GET", "/api/containers", "", "containers", false),
        (
            "POST",
            "/api/containers",
            r#"{"name":"x","cpus":1,"memory":99999999}"#,
            "containers",
            true,
        ),
        ("GET", "/api/containers/nope", "", "containers", false),
        ("DELETE", "/api/containers/nope", "", "containers", true),
        ("GET", "/api/containers/nope/stop", "", "containers", true),
        (
            "GET",
            "/api/containers/nope/restart",
            "",
            "containers",
            true,
        ),
        (
            "GET",
            "/api/containers/nope/scale?count=2",
            "",
            "containers",
            true,
        ),
        ("GET", "/api/containers/nope/logs", "", "containers", false),
        ("GET", "/api/engines", "", "engines", false),
        ("GET", "/api/engines/nope", "", "engines", false),
        (
            "POST",
            "/api/engines",
            r#"{"engine":{"id":"x","addr":"bad"}}"#,
            "engines",
            true,
        ),
        ("DELETE", "/api/engines/nope", "", "engines", true),
        ("GET", "/api/webhookkeys", "", "webhookkeys", false),
        (
            "POST",
            "/api/webhookkeys",
            r#"{"image":""}"#,
            "webhookkeys",
            true,
        ),
        ("DELETE", "/api/webhookkeys/nope", "", "webhookkeys", true),
        ("DELETE", "/api/webhooks/nope", "", "webhookkeys", true),
        ("GET", "/api/events", "", "events", false),
        ("GET", "/api/cluster/info", "", "cluster", false),
        ("GET", "/metrics", "", "", false),
        ("GET", "/api/openapi.json", "", "", false),
    ];
    let mut failures = Vec::new();
    for (method, path, body, area, writes) in endpoints {
        for (who, cred) in &creds {
            let (status, answer) = api
                .call(method, path, cred, (!body.is_empty()).then_some(*body))
                .await;
            let admin_area = ["accounts", "roles", "servicekeys"].contains(area);
            let want_ok = match *who {
                "admin" => true,
                "user" => !admin_area,
                "watcher" => {
                    area.is_empty() || *area == "engines" || (*area == "containers" && !writes)
                }
                _ => false,
            };
            let fine = match (*who, want_ok) {
                ("none", _) | ("webhook", _) => status == 401,
                (_, true) => !matches!(status, 401 | 403) && status < 500,
                (_, false) => status == 403,
            };
            if !fine {
                failures.push(format!("{method} {path} as {who}: {status} {answer}"));
            }
        }
    }
    // The matrix covers every operation of the OpenAPI document.
    let (status, doc) = api.call("GET", "/api/openapi.json", &admin(), None).await;
    assert_eq!(status, 200, "{doc}");
    let matches = |template: &str, path: &str| {
        let path = path.split('?').next().unwrap_or(path);
        let (t, p): (Vec<_>, Vec<_>) = (template.split('/').collect(), path.split('/').collect());
        t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t.starts_with('{') || t == p)
    };
    let mut operations = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations += 1;
            let method = method.to_uppercase();
            let covered = template.starts_with("/hub/")
                || endpoints
                    .iter()
                    .any(|(m, p, ..)| *m == method && matches(template, p));
            if !covered {
                failures.push(format!("{method} {template} is not in the auth matrix"));
            }
        }
    }
    assert_eq!(operations, endpoints.len() - 2 + 1, "documented operations");
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
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn hub_webhook_redeploys_with_new_ids_and_the_same_config() {
    let Some((a, b)) = engines() else { return };
    let api = api(Arc::new(MemoryStore::new()), &a, &b, &unique("hub")).await;
    let k = Cred::Key(
        api.access
            .create_service_key("k", "admin")
            .await
            .unwrap()
            .key,
    );
    // No outside registry here: the image lives in the test bed's registry,
    // where "the newest" is pulled from.
    let Ok(registry) = std::env::var("SHIPCORE_REGISTRY") else {
        println!("SKIP: no engine (SHIPCORE_REGISTRY not set)");
        return;
    };
    let repo = format!("{registry}/shipcore/hub-{}", std::process::id());
    let engine_a =
        shipcore_docker::DockerEngine::new(&shipcore_docker::EngineTarget::new("a", a.clone()))
            .unwrap();
    use futures::TryStreamExt;
    use shipcore::engine::EngineBackend;
    engine_a
        .tag_image(IMAGE, &format!("{repo}:latest"))
        .await
        .unwrap();
    let _: Vec<_> = engine_a
        .push_image(&format!("{repo}:latest"), None)
        .try_collect()
        .await
        .unwrap();
    let deploy = DEPLOY
        .replace("shipcore/busybox:latest", &format!("{repo}:latest"))
        .replace(r#"["zone==a"]"#, "[]");
    let (s, placed) = api
        .call("POST", "/api/containers?count=2", &k, Some(&deploy))
        .await;
    assert_eq!(s, 201, "{placed}");
    let before: Vec<Value> = placed.as_array().unwrap().clone();
    let hook = api.access.create_webhook_key(&repo).await.unwrap().key;
    let push = json!({"push_data":{"pushed_at":1385141110,"images":[],"pusher":"u"},
                      "repository":{"repo_name": repo, "name":"hub", "namespace":"shipcore"}})
    .to_string();
    let (s, answer) = api
        .call(
            "POST",
            &format!("/hub/webhook/{hook}"),
            &Cred::None,
            Some(&push),
        )
        .await;
    assert_eq!(s, 200, "{answer}");
    assert_eq!(answer["redeployed"], 2);
    let (_, after) = api.call("GET", "/api/containers", &k, None).await;
    let after = after.as_array().unwrap();
    assert_eq!(after.len(), 2);
    for c in after {
        assert!(before.iter().all(|old| old["id"] != c["id"]), "new ids");
        assert_eq!(c["image"], before[0]["image"], "same config");
        assert_eq!(c["state"]["running"], true);
    }
    let (_, events) = api.call("GET", "/api/events?limit=50", &k, None).await;
    assert!(events
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "redeploy"));
    clean(&api.cluster).await;
}

#[tokio::test]
async fn state_survives_a_restart_on_the_same_data() {
    let Some((a, b)) = engines() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let name = unique("keep");
    let (key, ids) = {
        let store: Arc<dyn Store> = Arc::new(DurableStore::open(&path).unwrap());
        let api = api(store, &a, &b, &name).await;
        let (_, key) = api
            .call(
                "POST",
                "/api/servicekeys",
                &admin(),
                Some(r#"{"description":"keep"}"#),
            )
            .await;
        let key = key["key"].as_str().unwrap().to_string();
        api.call(
            "POST",
            "/api/accounts",
            &admin(),
            Some(r#"{"username":"foo","password":"bar","role":{"name":"user"}}"#),
        )
        .await;
        let (s, placed) = api
            .call(
                "POST",
                "/api/containers",
                &Cred::Key(key.clone()),
                Some(DEPLOY),
            )
            .await;
        assert_eq!(s, 201);
        (key, vec![placed[0]["id"].clone()])
    };
    // The first server lets go of the file once its task is aborted.
    let mut reopened = DurableStore::open(&path);
    for _ in 0..50 {
        if reopened.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        reopened = DurableStore::open(&path);
    }
    let store: Arc<dyn Store> = Arc::new(reopened.unwrap());
    let api = api(store, &a, &b, &name).await;
    let k = Cred::Key(key);
    let (s, list) = api.call("GET", "/api/containers", &k, None).await;
    assert_eq!(s, 200, "the service key still works");
    assert_eq!(
        list.as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].clone())
            .collect::<Vec<_>>(),
        ids
    );
    let (s, _) = api
        .call(
            "GET",
            "/api/containers",
            &Cred::Basic("foo".into(), "bar".into()),
            None,
        )
        .await;
    assert_eq!(s, 200, "the account still works");
    let (_, engines) = api.call("GET", "/api/engines", &k, None).await;
    assert_eq!(engines.as_array().unwrap().len(), 2);
    clean(&api.cluster).await;
}

#[tokio::test]
async fn events_follow_as_server_sent_events_with_access_changes() {
    use http_body_util::BodyExt;
    let Some((a, b)) = engines() else { return };
    let api = api(Arc::new(MemoryStore::new()), &a, &b, &unique("sse")).await;
    let (_, key) = api
        .call(
            "POST",
            "/api/servicekeys",
            &admin(),
            Some(r#"{"description":"demo"}"#),
        )
        .await;
    let k = key["key"].as_str().unwrap().to_string();
    // Shipyard's shape for access changes.
    let (_, events) = api
        .call("GET", "/api/events?limit=1", &Cred::Key(k.clone()), None)
        .await;
    assert_eq!(events[0]["type"], "add-service-key");
    assert_eq!(events[0]["message"], "description=demo");
    assert_eq!(events[0]["tags"], json!(["cluster", "security"]));
    let last = events[0]["seq"].as_u64().unwrap();

    let req = axum::http::Request::builder()
        .uri(format!("{}/api/events?follow=true&since={last}", api.base))
        .header("X-Service-Key", &k)
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let res = api.client.request(req).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut body = res.into_body();
    // Nothing is pending after `since`; a change now arrives live.
    api.call(
        "POST",
        "/api/roles",
        &admin(),
        Some(r#"{"name":"watchers"}"#),
    )
    .await;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains("add-role") {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("an event within 10 s");
        if let Some(Ok(f)) = frame {
            if let Some(data) = f.data_ref() {
                seen.push_str(&String::from_utf8_lossy(data));
            }
        }
    }
    assert!(seen.contains(&format!("id: {}", last + 1)), "{seen}");
    assert!(seen.contains("event: event"), "{seen}");
    assert!(seen.contains("name=watchers"), "{seen}");

    // A reconnecting EventSource sends Last-Event-ID: the stream resumes
    // after it, replaying what it missed.
    let req = axum::http::Request::builder()
        .uri(format!("{}/api/events?follow=true", api.base))
        .header("X-Service-Key", &k)
        .header("Last-Event-ID", last.to_string())
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let mut body = api.client.request(req).await.unwrap().into_body();
    let mut replayed = String::new();
    while !replayed.contains("add-role") {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("the missed event replayed");
        if let Some(Ok(f)) = frame {
            if let Some(data) = f.data_ref() {
                replayed.push_str(&String::from_utf8_lossy(data));
            }
        }
    }
    assert!(
        replayed.contains(&format!("id: {}", last + 1)),
        "{replayed}"
    );
    assert!(!replayed.contains(&format!("id: {last}\n")), "{replayed}");
}
