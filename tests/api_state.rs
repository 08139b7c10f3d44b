//! What outlives a request: state across a restart on the same data, and
//! events followed as server-sent events.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use serde_json::json;
use shipcore::store::{DurableStore, MemoryStore, Store};
use support::http::{admin, api, Cred, DEPLOY};
use support::*;

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
