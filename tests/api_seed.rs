//! The cluster API of seed 001 over HTTP, on a loopback port, over the real
//! engines of the test bed: the seed's request for every endpoint, and the
//! flows of a client written against the seed (engines by their outer id,
//! keys deleted by what the list shows, the webhook path without its key).
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use serde_json::{json, Value};
use shipcore::engine::EngineBackend;
use shipcore::store::MemoryStore;
use support::http::{admin, api, Cred, DEPLOY};
use support::*;

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
    assert_eq!(info["cluster"], api.cluster.identity(), "{info}");
    assert!(info["foreign_container_count"].is_u64(), "{info}");

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
    // The container's own output (`env` runs as it starts).
    let mut logs = Value::Null;
    for _ in 0..50 {
        let (s, got) = api
            .call("GET", &format!("/api/containers/{id}/logs"), &k, None)
            .await;
        assert_eq!(s, 200);
        logs = got;
        if logs.as_str().is_some_and(|l| l.contains("FOO=bar")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        logs.as_str().unwrap_or("").contains("FOO=bar"),
        "the output of `env`: {logs}"
    );
    let all_lines = logs.as_str().unwrap().lines().count();
    assert!(all_lines > 2, "{logs}");
    let (s, last) = api
        .call(
            "GET",
            &format!("/api/containers/{id}/logs?tail=1"),
            &k,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(last.as_str().unwrap().lines().count(), 1, "{last}");
    let (s, _) = api
        .call(
            "GET",
            &format!("/api/containers/{id}/logs?tail=x"),
            &k,
            None,
        )
        .await;
    assert_eq!(s, 400);
    // More lines than a number holds (as the document allows): every line.
    let (s, every) = api
        .call(
            "GET",
            &format!("/api/containers/{id}/logs?tail=79052796497197814072"),
            &k,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        every.as_str().unwrap().lines().count(),
        all_lines,
        "{every}"
    );
    // Stop and restart change what the engine runs.
    let engine_a =
        shipcore_docker::DockerEngine::new(&shipcore_docker::EngineTarget::new("a", a.clone()))
            .unwrap();
    for (op, running) in [("stop", false), ("restart", true)] {
        let (s, body) = api
            .call("GET", &format!("/api/containers/{id}/{op}"), &k, None)
            .await;
        assert_eq!(s, 204, "{op}: {body}");
        let on_engine = engine_a.inspect_container(&id).await.unwrap();
        assert_eq!(on_engine.state.running, running, "after {op}");
        let (_, shown) = api
            .call("GET", &format!("/api/containers/{id}"), &k, None)
            .await;
        assert_eq!(shown["state"]["running"], running, "after {op}: {shown}");
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
    // Exactly one left, on the engines as in the records.
    let (_, list) = api.call("GET", "/api/containers", &k, None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let mut on_engines = 0;
    for addr in [&a, &b] {
        let e = shipcore_docker::DockerEngine::new(&shipcore_docker::EngineTarget::new(
            "x",
            addr.clone(),
        ))
        .unwrap();
        let mine = shipcore::engine::ContainerFilter {
            all: true,
            labels: vec![format!("io.shipcore.cluster={}", api.cluster.identity())],
            name: None,
        };
        on_engines += e.list_containers(&mine).await.unwrap().len();
    }
    assert_eq!(on_engines, 1, "scale to 1 leaves one on the engines");
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
async fn a_client_written_against_the_seed_lists_then_acts() {
    let Some((a, b)) = engines() else { return };
    let api = api(Arc::new(MemoryStore::new()), &a, &b, &unique("flows")).await;
    let adm = admin();

    // Engines: the outer id is made by the server when the request has
    // none; GET and DELETE take it or engine.id.
    let body =
        json!({"engine": {"id": "b2", "addr": b, "cpus": 1.0, "memory": 256, "labels": ["extra"]}});
    let (s, added) = api
        .call("POST", "/api/engines", &adm, Some(&body.to_string()))
        .await;
    assert_eq!(s, 201, "{added}");
    let outer = added["id"].as_str().unwrap().to_string();
    assert_eq!(
        (outer.len(), outer.matches('-').count()),
        (36, 4),
        "{outer}"
    );
    assert_eq!(added["engine"]["id"], "b2");
    let (_, list) = api.call("GET", "/api/engines", &adm, None).await;
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["id"] == outer.as_str()));
    for id in [outer.as_str(), "b2"] {
        let (s, one) = api
            .call("GET", &format!("/api/engines/{id}"), &adm, None)
            .await;
        assert_eq!((s, one["id"].as_str()), (200, Some(outer.as_str())), "{id}");
    }
    let (s, _) = api
        .call("DELETE", &format!("/api/engines/{outer}"), &adm, None)
        .await;
    assert_eq!(s, 204, "deleted by the outer id, as the seed does");
    let (s, _) = api.call("GET", "/api/engines/b2", &adm, None).await;
    assert_eq!(s, 404);
    // A given outer id is kept, and deletion by engine.id works too.
    let given = "99095f5f-a9b2-4d4e-a7e0-7a4c0fb86b31";
    let body = json!({"id": given, "engine": {"id": "b3", "addr": b, "cpus": 1.0, "memory": 256}});
    let (s, added) = api
        .call("POST", "/api/engines", &adm, Some(&body.to_string()))
        .await;
    assert_eq!((s, added["id"].as_str()), (201, Some(given)));
    let (s, _) = api.call("DELETE", "/api/engines/b3", &adm, None).await;
    assert_eq!(s, 204);
    let (s, _) = api
        .call("GET", &format!("/api/engines/{given}"), &adm, None)
        .await;
    assert_eq!(s, 404);

    // Service keys: deleted by what the list shows.
    let (_, made) = api
        .call(
            "POST",
            "/api/servicekeys",
            &adm,
            Some(r#"{"description":"listed"}"#),
        )
        .await;
    let key = made["key"].as_str().unwrap().to_string();
    let (_, listed) = api.call("GET", "/api/servicekeys", &adm, None).await;
    let shown = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["description"] == "listed")
        .unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(shown.ends_with('…') && !shown.contains(&key));
    let (s, err) = api
        .call("DELETE", "/api/servicekeys", &adm, Some(r#"{"key":"abc"}"#))
        .await;
    assert_eq!(s, 404, "{err}");
    let (s, _) = api
        .call(
            "DELETE",
            "/api/servicekeys",
            &adm,
            Some(&json!({ "key": shown }).to_string()),
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = api
        .call("GET", "/api/cluster/info", &Cred::Key(key), None)
        .await;
    assert_eq!(s, 401, "the deleted key is refused");

    // Webhook keys: by id, id prefix, or the listed key.
    for _ in 0..2 {
        api.call(
            "POST",
            "/api/webhookkeys",
            &adm,
            Some(r#"{"image":"ehazlett/redis"}"#),
        )
        .await;
    }
    let (_, hooks) = api.call("GET", "/api/webhookkeys", &adm, None).await;
    let hooks = hooks.as_array().unwrap().clone();
    assert_eq!(hooks.len(), 2);
    let (s, _) = api
        .call(
            "DELETE",
            &format!("/api/webhooks/{}", hooks[0]["key"].as_str().unwrap()),
            &adm,
            None,
        )
        .await;
    assert_eq!(s, 204);
    let prefix = &hooks[1]["id"].as_str().unwrap()[..8];
    let (s, _) = api
        .call("DELETE", &format!("/api/webhookkeys/{prefix}"), &adm, None)
        .await;
    assert_eq!(s, 204);
    let (s, err) = api.call("DELETE", "/api/webhookkeys/abc", &adm, None).await;
    assert_eq!(s, 400, "too short to name a key: {err}");

    // The webhook's path without its key says what is expected.
    for path in ["/hub/webhook", "/hub/webhook/"] {
        let (s, err) = api
            .call(
                "POST",
                path,
                &Cred::None,
                Some(r#"{"repository":{"repo_name":"x"}}"#),
            )
            .await;
        assert_eq!(s, 401, "{path}");
        assert!(
            err["error"]
                .as_str()
                .unwrap()
                .contains("/hub/webhook/{key}"),
            "{err}"
        );
    }

    // A container shows what its engine reports: the host port it chose,
    // and its hostname.
    let k = Cred::Key(
        api.access
            .create_service_key("k", "user")
            .await
            .unwrap()
            .key,
    );
    let (s, placed) = api.call("POST", "/api/containers", &k, Some(DEPLOY)).await;
    assert_eq!(s, 201, "{placed}");
    let c = &placed[0];
    let port = c["ports"][0]["port"].as_u64().unwrap();
    assert!(port > 0, "{c}");
    assert_eq!(
        c["image"]["bind_ports"][0]["port"].as_u64(),
        Some(port),
        "{c}"
    );
    let hostname = c["image"]["hostname"].as_str().unwrap();
    assert!(
        !hostname.is_empty() && c["id"].as_str().unwrap().starts_with(hostname),
        "Docker names a container's host by its id: {c}"
    );
    clean(&api.cluster).await;
}

#[tokio::test]
async fn a_tls_engine_registered_with_its_pems_takes_a_deploy() {
    let Some((a, b)) = engines() else { return };
    let Some(addr) = shipcore::testing::testbed("SHIPCORE_ENGINE_TLS") else {
        return;
    };
    let Some(certs) = shipcore::testing::testbed("SHIPCORE_ENGINE_TLS_CERTS") else {
        return;
    };
    let api = api(Arc::new(MemoryStore::new()), &a, &b, &unique("tls")).await;
    let pem = |f: &str| std::fs::read_to_string(format!("{certs}/{f}")).unwrap();
    // Shipyard's form: https:// and the PEM material in the record.
    let https = addr.replace("tcp://", "https://");
    let body = json!({"id": "tls", "engine": {"id": "tls", "addr": https, "labels": ["secure"]},
                      "ssl_cert": pem("cert.pem"), "ssl_key": pem("key.pem"), "ca_cert": pem("ca.pem")});
    let (s, added) = api
        .call("POST", "/api/engines", &admin(), Some(&body.to_string()))
        .await;
    assert_eq!(s, 201, "{added}");
    assert!(
        added.get("ssl_key").is_none(),
        "the key is never sent back: {added}"
    );
    // With a wrong CA, the engine is refused at registration.
    let wrong = json!({"engine": {"id": "tls2", "addr": https},
                       "ssl_cert": pem("wrong-ca/cert.pem"), "ssl_key": pem("wrong-ca/key.pem"), "ca_cert": pem("wrong-ca/ca.pem")});
    let (s, err) = api
        .call("POST", "/api/engines", &admin(), Some(&wrong.to_string()))
        .await;
    assert_eq!(s, 502, "{err}");
    let deploy = DEPLOY.replace(r#"["zone==a"]"#, r#"["secure"]"#);
    let (s, placed) = api
        .call("POST", "/api/containers", &admin(), Some(&deploy))
        .await;
    assert_eq!(s, 201, "{placed}");
    assert_eq!(placed[0]["engine"]["id"], "tls", "{placed}");
    let id = placed[0]["id"].as_str().unwrap();
    // It runs on the TLS engine.
    let material =
        shipcore_docker::TlsMaterial::from_dir("tls", std::path::Path::new(&certs)).unwrap();
    let target = shipcore_docker::EngineTarget::new("tls", addr.clone()).with_tls(material);
    let tls = shipcore_docker::DockerEngine::new(&target).unwrap();
    assert!(tls.inspect_container(id).await.unwrap().state.running);
    let (s, _) = api
        .call("DELETE", &format!("/api/containers/{id}"), &admin(), None)
        .await;
    assert_eq!(s, 204);
    assert!(matches!(
        tls.inspect_container(id).await,
        Err(shipcore::Error::NotFound { .. })
    ));
}
