//! Docker Hub's webhook over HTTP: a push redeploys the image's containers.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use serde_json::{json, Value};
use shipcore::store::MemoryStore;
use support::http::{api, Cred, DEPLOY};
use support::*;

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
    // The request as given: what the engine chose (the hostname, the host
    // port of a binding without one) differs from container to container.
    let request = |c: &Value| {
        let mut image = c["image"].clone();
        image["hostname"] = Value::Null;
        image["bind_ports"][0]["port"] = Value::Null;
        image
    };
    for c in after {
        assert!(before.iter().all(|old| old["id"] != c["id"]), "new ids");
        assert_eq!(request(c), request(&before[0]), "same config");
        assert_ne!(c["image"]["hostname"], "", "the engine's hostname is shown");
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
