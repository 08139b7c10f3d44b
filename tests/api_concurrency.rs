//! Two calls at once through HTTP, over the test bed's real engines: two
//! destroys of one container (one 204, one 404) and two scales (exactly the
//! count asked for, on the engines and in the reservations).
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use shipcore::engine::{ContainerFilter, EngineBackend};
use shipcore::store::MemoryStore;
use support::http::{admin, api, Api, DEPLOY};
use support::*;

/// This cluster's containers on engines A and B.
async fn on_engines(api: &Api, a: &str, b: &str) -> usize {
    let mut n = 0;
    for addr in [a, b] {
        let e = shipcore_docker::DockerEngine::new(&shipcore_docker::EngineTarget::new("x", addr))
            .unwrap();
        let mine = ContainerFilter {
            all: true,
            labels: vec![format!("io.shipcore.cluster={}", api.cluster.identity())],
            name: None,
        };
        n += e.list_containers(&mine).await.unwrap().len();
    }
    n
}

#[tokio::test]
async fn concurrent_destroys_and_scales_over_http() {
    let Some((a, b)) = engines() else { return };
    let api = api(Arc::new(MemoryStore::new()), &a, &b, &unique("race")).await;
    let adm = admin();
    let deploy = DEPLOY.replace(r#"["zone==a"]"#, "[]");
    let (s, placed) = api
        .call("POST", "/api/containers?count=3", &adm, Some(&deploy))
        .await;
    assert_eq!(s, 201, "{placed}");
    let id = placed[0]["id"].as_str().unwrap().to_string();
    let path = format!("/api/containers/{id}");
    let (first, second) = tokio::join!(
        api.call("DELETE", &path, &adm, None),
        api.call("DELETE", &path, &adm, None)
    );
    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(statuses, [204, 404], "{first:?} {second:?}");
    assert_eq!(on_engines(&api, &a, &b).await, 2);
    assert_eq!(api.cluster.info().await.reserved_memory, 2 * 32);

    let other = placed[1]["id"].as_str().unwrap();
    let scale = format!("/api/containers/{other}/scale?count=5");
    let (x, y) = tokio::join!(
        api.call("GET", &scale, &adm, None),
        api.call("GET", &scale, &adm, None)
    );
    assert_eq!((x.0, y.0), (204, 204), "{x:?} {y:?}");
    assert_eq!(on_engines(&api, &a, &b).await, 5);
    let info = api.cluster.info().await;
    assert_eq!((info.containers, info.reserved_memory), (5, 5 * 32));
    clean(&api.cluster).await;
    assert_eq!(on_engines(&api, &a, &b).await, 0);
}
