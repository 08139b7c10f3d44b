//! Two clusters sharing the test bed's real engines, each with a data folder
//! of its own (two shipd): each lists, changes and reconciles only its own
//! containers, and one losing an engine makes the other do nothing.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use shipcore::cluster::{Action, Cluster, ClusterOptions};
use shipcore::engine::{ContainerFilter, ContainerSpec, EngineBackend};
use shipcore::sched::Strategy;
use shipcore::store::{DurableStore, Store};
use support::*;

/// A cluster on a durable store in `dir`, with the identity it makes itself.
async fn cluster_in(dir: &std::path::Path, a: &str, b: &str) -> Cluster {
    let store: Arc<dyn Store> = Arc::new(DurableStore::open(dir.join("state.redb")).unwrap());
    let opts = ClusterOptions {
        identity: None,
        ..options("unused", Strategy::Spread)
    };
    let c = Cluster::open(store, docker(), opts).await.unwrap();
    register(&c, a, b).await;
    c
}

/// Every container on the engine at `addr` carrying `identity`.
async fn on_engine(addr: &str, identity: &str) -> Vec<String> {
    let e =
        shipcore_docker::DockerEngine::new(&shipcore_docker::EngineTarget::new("x", addr)).unwrap();
    let filter = ContainerFilter {
        all: true,
        labels: vec![format!("io.shipcore.cluster={identity}")],
        name: None,
    };
    let mut ids: Vec<String> = e
        .list_containers(&filter)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    ids.sort();
    ids
}

fn ids(mut v: Vec<shipcore::model::Container>) -> Vec<String> {
    v.sort_by(|a, b| a.id.cmp(&b.id));
    v.into_iter().map(|c| c.id).collect()
}

#[tokio::test]
async fn two_clusters_on_one_engine_keep_to_their_own() {
    let Some((a, b)) = engines() else { return };
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let one = cluster_in(d1.path(), &a, &b).await;
    let two = cluster_in(d2.path(), &a, &b).await;
    assert_ne!(one.identity(), two.identity());
    one.deploy(config(32), 4).await.unwrap();
    two.deploy(config(32), 2).await.unwrap();
    let (mine, theirs) = (ids(one.containers().await), ids(two.containers().await));
    assert_eq!((mine.len(), theirs.len()), (4, 2));
    // Each lists only its own; the engines hold both.
    let mut on_engines = on_engine(&a, one.identity()).await;
    on_engines.extend(on_engine(&b, one.identity()).await);
    on_engines.sort();
    assert_eq!(on_engines, mine);
    // Each sees the other's as foreign once its engines were checked.
    one.check_health(true).await;
    assert!(one.info().await.foreign >= 2, "{:?}", one.info().await);

    // The other's containers are no business of this one: not found by id,
    // not adopted, not removed as orphans.
    assert!(one.container(&theirs[0]).await.is_err());
    assert!(one.destroy(&theirs[0]).await.is_err());
    assert_eq!(one.plan().await.unwrap(), vec![]);
    assert_eq!(two.plan().await.unwrap(), vec![]);

    // A scale and a destroy in one leave the other's as they are.
    one.scale(&mine[0], 1).await.unwrap();
    assert_eq!(one.containers().await.len(), 1);
    let left = ids(one.containers().await);
    one.destroy(&left[0]).await.unwrap();
    assert_eq!(ids(two.containers().await), theirs);
    for id in &theirs {
        assert!(two.container(id).await.unwrap().state.running);
    }
    two.reconcile().await.unwrap();
    assert_eq!(ids(two.containers().await), theirs, "nothing to reconcile");

    // One cluster loses engine B: it reschedules its own `always`
    // containers from B, the other does nothing.
    let placed = one.deploy(config(32), 2).await.unwrap();
    let on_b = placed.iter().filter(|c| c.engine.id == "b").count();
    one.remove_engine("b", true).await.unwrap();
    let done = one.reconcile().await.unwrap();
    let moved = done
        .iter()
        .filter(|a| matches!(a, Action::Reschedule { .. }))
        .count();
    assert_eq!(moved, on_b, "{done:?}");
    assert_eq!(two.reconcile().await.unwrap(), vec![]);
    assert_eq!(ids(two.containers().await), theirs);

    // Clean up: each its own, and what `one` left on B when it let go.
    clean(&one).await;
    clean(&two).await;
    let e = shipcore_docker::DockerEngine::new(&shipcore_docker::EngineTarget::new("b", b.clone()))
        .unwrap();
    for id in on_engine(&b, one.identity()).await {
        let _ = e.remove_container(&id, true, true).await;
    }
}

#[tokio::test]
async fn containers_of_earlier_versions_belong_only_to_cluster_shipcore() {
    let Some((a, _)) = engines() else { return };
    // A container as versions before identities labelled every one.
    let e = shipcore_docker::DockerEngine::new(&shipcore_docker::EngineTarget::new("a", a.clone()))
        .unwrap();
    let cfg = config(16);
    let name = unique("earlier");
    let spec = ContainerSpec {
        name: Some(name.clone()),
        image: IMAGE.into(),
        cmd: cfg.args.clone(),
        labels: [
            ("io.shipcore.cluster".to_string(), "shipcore".to_string()),
            (
                "io.shipcore.config".to_string(),
                serde_json::to_string(&cfg).unwrap(),
            ),
        ]
        .into(),
        ..ContainerSpec::default()
    };
    let id = e.create_container(&spec).await.unwrap();
    e.start_container(&id).await.unwrap();

    let fresh = |identity: Option<&str>| {
        let a = a.clone();
        let identity = identity.map(str::to_string);
        async move {
            let store: Arc<dyn Store> = Arc::new(shipcore::store::MemoryStore::new());
            let opts = ClusterOptions {
                identity,
                ..options("unused", Strategy::Spread)
            };
            let c = Cluster::open(store, docker(), opts).await.unwrap();
            c.add_engine(record("a", &a, 1024, &[])).await.unwrap();
            c
        }
    };
    // A cluster of a new identity leaves it alone...
    let new = fresh(None).await;
    new.reconcile().await.unwrap();
    assert!(new.container(&id).await.is_err());
    // ...as does one of another named identity...
    let named = fresh(Some("team-b")).await;
    named.reconcile().await.unwrap();
    assert!(named.container(&id).await.is_err());
    assert!(e.inspect_container(&id).await.unwrap().state.running);
    // ...and `--cluster shipcore` takes it back.
    let legacy = fresh(Some("shipcore")).await;
    legacy.reconcile().await.unwrap();
    assert_eq!(legacy.container(&id).await.unwrap().name, name);
    legacy.destroy(&id).await.unwrap();
}
