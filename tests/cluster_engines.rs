//! The cluster service over two real engines of the test bed: placement by
//! strategy, labels, `unique`, explanations, host ports, scaling, and a
//! restart over the same store.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use shipcore::model::{BindPort, ContainerType, Proto};
use shipcore::sched::Strategy;
use shipcore::store::{DurableStore, MemoryStore, Store};
use shipcore::Error;
use support::*;

#[tokio::test]
async fn spread_binpack_labels_unique_and_explanations() {
    let Some((a, b)) = engines() else { return };

    let c = cluster(&a, &b, Strategy::Spread).await;
    c.deploy(config(64), 6).await.unwrap();
    assert_eq!(placement(&c).await, ["a", "a", "a", "b", "b", "b"]);
    clean(&c).await;

    let c = cluster(&a, &b, Strategy::Binpack).await;
    let placed = c.deploy(config(128), 6).await.unwrap();
    let first = placed[0].engine.id.clone();
    assert!(
        placed.iter().all(|p| p.engine.id == first),
        "binpack fills one engine first: {:?}",
        placement(&c).await
    );
    clean(&c).await;

    let c = cluster(&a, &b, Strategy::Spread).await;
    let mut cfg = config(64);
    cfg.labels = vec!["zone==b".into()];
    c.deploy(cfg, 4).await.unwrap();
    assert_eq!(placement(&c).await, ["b", "b", "b", "b"]);
    clean(&c).await;

    let mut cfg = config(64);
    cfg.kind = ContainerType::Unique;
    c.deploy(cfg.clone(), 2).await.unwrap();
    assert_eq!(placement(&c).await, ["a", "b"]);
    let err = c.deploy(cfg, 1).await.unwrap_err();
    let Error::Unplaceable(why) = &err else {
        panic!("{err}")
    };
    assert_eq!(why.summary, "0/2 engines: 2 already running the image");
    clean(&c).await;

    let err = c.deploy(config(4096), 1).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot place: 0/2 engines: 2 insufficient memory; a: memory 4096 > free 1024; b: memory 4096 > free 1024"
    );
    assert!(c.containers().await.is_empty());
    assert_eq!(c.info().await.reserved_memory, 0);
}

#[tokio::test]
async fn host_port_conflicts_are_avoided_by_placement() {
    let Some((a, b)) = engines() else { return };
    let c = cluster(&a, &b, Strategy::Binpack).await;
    let port = 20_000 + (std::process::id() % 10_000);
    let web = |ip: &str| {
        let mut cfg = config(64);
        cfg.args = vec![
            "sh".into(),
            "-c".into(),
            "mkdir -p /w && echo ok > /w/index.html && exec httpd -f -p 80 -h /w".into(),
        ];
        cfg.bind_ports = vec![BindPort {
            host_ip: ip.into(),
            proto: Proto::Tcp,
            port,
            container_port: 80,
        }];
        cfg
    };
    // Binpack breaks the tie toward b and would keep stacking there...
    let first = c.deploy(web("127.0.0.1"), 1).await.unwrap().remove(0);
    assert_eq!(first.engine.id, "b");
    // ...but the same host port sends the next one to a. (The test bed's
    // engines share one host's loopback, so this one is only planned.)
    let planned = c.plan_deploy(&web("127.0.0.1"), 1).await.unwrap();
    assert_eq!(planned.assignments[0].engine, "a");
    // Pinned to a on another address, the port is free there too.
    let mut pinned = web("127.0.0.2");
    pinned.kind = ContainerType::Host;
    pinned.labels = vec!["host:a".into()];
    c.deploy(pinned, 1).await.unwrap();
    // Every address of the port is now taken on both engines.
    let err = c.deploy(web(""), 1).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot place: 0/2 engines: 2 port in use; a: host port {port}/tcp in use; b: host port {port}/tcp in use")
    );
    assert_eq!(placement(&c).await, ["a", "b"]);
    for ct in c.containers().await {
        assert!(ct.state.running, "{ct:?}");
        assert_eq!(ct.ports.first().map(|p| p.port), Some(port));
    }
    clean(&c).await;
}

#[tokio::test]
async fn scale_up_and_down_with_matching_reservations() {
    let Some((a, b)) = engines() else { return };
    let c = cluster(&a, &b, Strategy::Spread).await;
    let first = c.deploy(config(32), 1).await.unwrap().remove(0);
    c.scale(&first.id[..12], 5).await.unwrap();
    assert_eq!(c.containers().await.len(), 5);
    c.scale(&first.id, 2).await.unwrap();
    let left = c.containers().await;
    assert_eq!(left.len(), 2);
    let info = c.info().await;
    assert_eq!((info.reserved_memory, info.reserved_cpus), (64, 200));
    assert_eq!(info.memory, 2048);
    assert_eq!(info.containers, 2);
    // Every recorded container runs on its engine; and the scaled-away ones are gone.
    for ct in &left {
        assert!(c.container(&ct.id).await.unwrap().state.running);
    }
    let events = c.events().list(0, 100).await.unwrap();
    assert!(events
        .iter()
        .any(|e| e.kind == shipcore::model::EventType::Scale));
    // Ambiguity and absence are clear errors.
    assert!(matches!(c.container("").await, Err(Error::Invalid { .. })));
    assert!(matches!(
        c.container("zzzz").await,
        Err(Error::Missing { .. })
    ));
    clean(&c).await;
    assert_eq!(c.info().await.reserved_memory, 0);
}

#[tokio::test]
async fn restart_over_the_same_store_keeps_state() {
    let Some((a, b)) = engines() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let name = unique("restart");
    let (before, info_before) = {
        let store: Arc<dyn Store> = Arc::new(DurableStore::open(&path).unwrap());
        let c = cluster_on(store, &a, &b, Strategy::Spread, &name).await;
        c.deploy(config(100), 3).await.unwrap();
        (c.containers().await, c.info().await)
    };
    let store: Arc<dyn Store> = Arc::new(DurableStore::open(&path).unwrap());
    let c = cluster_on(store, &a, &b, Strategy::Spread, &name).await;
    let mut after = c.containers().await;
    let mut before = before;
    before.sort_by(|x, y| x.id.cmp(&y.id));
    after.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(
        before
            .iter()
            .map(|c| (&c.id, &c.engine.id))
            .collect::<Vec<_>>(),
        after
            .iter()
            .map(|c| (&c.id, &c.engine.id))
            .collect::<Vec<_>>()
    );
    let info = c.info().await;
    assert_eq!(
        (info.reserved_memory, info.reserved_cpus, info.containers),
        (info_before.reserved_memory, info_before.reserved_cpus, 3)
    );
    // Nothing for a reconcile to do: the engines match the store.
    assert_eq!(c.plan().await.unwrap(), vec![]);
    clean(&c).await;
}

#[tokio::test]
async fn a_lost_store_is_rebuilt_from_real_engines_and_policy_restarts_containers() {
    let Some((a, b)) = engines() else { return };
    let name = unique("lost");
    let first = cluster_on(
        Arc::new(MemoryStore::new()),
        &a,
        &b,
        Strategy::Spread,
        &name,
    )
    .await;
    let mut before: Vec<String> = first
        .deploy(config(32), 2)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    before.sort();
    drop(first);

    // The store is lost: a new, empty one with the same identity.
    let c = cluster_on(
        Arc::new(MemoryStore::new()),
        &a,
        &b,
        Strategy::Spread,
        &name,
    )
    .await;
    assert!(c.containers().await.is_empty());
    let done = c.reconcile().await.unwrap();
    let adopted = done
        .iter()
        .filter(|x| matches!(x, shipcore::cluster::Action::Adopt { .. }))
        .count();
    assert_eq!(adopted, 2, "{done:?}");
    let mut after: Vec<String> = c.containers().await.into_iter().map(|c| c.id).collect();
    after.sort();
    assert_eq!(after, before);
    assert_eq!(c.info().await.reserved_memory, 64);

    // One is stopped behind the cluster's back: its policy (`always`)
    // starts it again.
    let victim = c.container(&after[0]).await.unwrap();
    let addr = if victim.engine.id == "a" { &a } else { &b };
    let engine =
        shipcore_docker::DockerEngine::new(&shipcore_docker::EngineTarget::new("x", addr.clone()))
            .unwrap();
    use shipcore::engine::EngineBackend;
    engine
        .stop_container(&victim.id, Some(std::time::Duration::from_secs(1)))
        .await
        .unwrap();
    assert!(
        !engine
            .inspect_container(&victim.id)
            .await
            .unwrap()
            .state
            .running
    );
    let done = c.reconcile().await.unwrap();
    assert_eq!(
        done,
        vec![shipcore::cluster::Action::Start {
            container: victim.id.clone()
        }]
    );
    assert!(
        engine
            .inspect_container(&victim.id)
            .await
            .unwrap()
            .state
            .running
    );
    assert_eq!(
        c.container(&victim.id).await.unwrap().state.restart_count,
        1
    );
    clean(&c).await;
}

/// A volume driver the engine does not have is refused at once (404, as
/// Docker answers), with the drivers it has (Docker itself looks for the plugin for 15 s first).
#[tokio::test]
async fn an_unknown_volume_driver_is_refused_at_once() {
    let Some((a, _)) = engines() else { return };
    use shipcore::engine::{EngineBackend, VolumeSpec};
    let engine =
        shipcore_docker::DockerEngine::new(&shipcore_docker::EngineTarget::new("a", a.clone()))
            .unwrap();
    let name = unique("drv");
    let started = std::time::Instant::now();
    let err = engine
        .create_volume(&VolumeSpec {
            name: name.clone(),
            driver: "no-such-driver".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(
        matches!(&err, shipcore::Error::EngineApi { status: 404, message, .. }
            if message.contains("\"no-such-driver\"") && message.contains("local")),
        "{err}"
    );
    assert!(engine.inspect_volume(&name).await.is_err());
    // `local`, named or not, is made.
    for driver in ["local", ""] {
        let v = engine
            .create_volume(&VolumeSpec {
                name: name.clone(),
                driver: driver.into(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(v.driver, "local");
        engine.remove_volume(&name, false).await.unwrap();
    }
}
