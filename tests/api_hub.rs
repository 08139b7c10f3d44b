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
    let Some(registry) = registry() else {
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
    let engine = |id: &str| {
        let addr = if id == "a" { &a } else { &b };
        shipcore_docker::DockerEngine::new(&shipcore_docker::EngineTarget::new(id, addr.clone()))
            .unwrap()
    };
    let old_image = engine_a
        .inspect_image(&format!("{repo}:latest"))
        .await
        .unwrap()
        .id;

    // A new image is pushed under the same tag: the webhook must bring it.
    let dockerfile = format!("FROM {repo}:latest\nLABEL io.shipcore.test.version=2\n");
    let mut context = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(dockerfile.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    context
        .append_data(&mut h, "Dockerfile", dockerfile.as_bytes())
        .unwrap();
    let opts = shipcore::engine::BuildOptions {
        tag: format!("{repo}:latest"),
        ..Default::default()
    };
    let _: Vec<_> = engine_a
        .build_image(context.into_inner().unwrap(), &opts)
        .try_collect()
        .await
        .unwrap();
    let _: Vec<_> = engine_a
        .push_image(&format!("{repo}:latest"), None)
        .try_collect()
        .await
        .unwrap();
    let new_image = engine_a
        .inspect_image(&format!("{repo}:latest"))
        .await
        .unwrap()
        .id;
    assert_ne!(new_image, old_image);

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
        // Running the new image, on whichever engine it was placed.
        let e = engine(c["engine"]["id"].as_str().unwrap());
        let details = e
            .inspect_container(c["id"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(
            details.image_id, new_image,
            "the engine runs the pushed image"
        );
        assert!(details.state.running);
        assert_eq!(c["state"]["running"], true);
    }
    // The old containers are gone from their engines.
    for old in &before {
        let e = engine(old["engine"]["id"].as_str().unwrap());
        let gone = e.inspect_container(old["id"].as_str().unwrap()).await;
        assert!(
            matches!(gone, Err(shipcore::Error::NotFound { .. })),
            "{gone:?}"
        );
    }
    let (_, events) = api.call("GET", "/api/events?limit=50", &k, None).await;
    assert!(events
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "redeploy"));
    clean(&api.cluster).await;
}
