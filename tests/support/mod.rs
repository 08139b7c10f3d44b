//! Shared by the cluster tests: engines of the test bed registered into a
//! fresh cluster, and the skip rule (`SKIP: no engine`, or a failure under
//! `CI=true`).
#![allow(dead_code)]

pub mod browser;
pub mod http;
pub mod shipd;

use std::sync::Arc;
use std::time::Duration;

use shipcore::cluster::{Cluster, ClusterOptions};
use shipcore::model::{EngineRecord, ImageConfig, RestartPolicy};
use shipcore::sched::Strategy;
use shipcore::store::{MemoryStore, Store};
use shipcore_docker::DockerConnector;

pub const IMAGE: &str = "shipcore/busybox:latest";

/// The addresses of engines A and B, or `None` after printing the skip line.
pub fn engines() -> Option<(String, String)> {
    let a = shipcore::testing::testbed("SHIPCORE_ENGINE_A")?;
    let b = shipcore::testing::testbed("SHIPCORE_ENGINE_B")?;
    Some((a, b))
}

/// The test bed's registry (`host:port`).
pub fn registry() -> Option<String> {
    shipcore::testing::testbed("SHIPCORE_REGISTRY")
}

pub fn record(id: &str, addr: &str, memory: u64, labels: &[&str]) -> EngineRecord {
    let mut r = EngineRecord::new(id, addr);
    r.engine.cpus = 2.0;
    r.engine.memory = memory;
    r.engine.labels = labels.iter().map(|s| s.to_string()).collect();
    r
}

/// A unique cluster name, so tests running side by side own different containers.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos:x}", std::process::id())
}

pub fn options(name: &str, strategy: Strategy) -> ClusterOptions {
    ClusterOptions {
        identity: Some(name.into()),
        strategy,
        health_interval: Duration::from_millis(500),
        max_backoff: Duration::from_secs(2),
        reconcile_interval: Duration::from_secs(1),
        health_timeout: Duration::from_secs(2),
        // Engine B's TCP address is on loopback: callers who are not admin
        // may register engines there.
        engine_hosts: vec!["127.0.0.1".into()],
        ..ClusterOptions::default()
    }
}

/// A cluster over a memory store with A and B (1 GiB each to the scheduler;
/// B labelled `zone=b`).
pub async fn cluster(a: &str, b: &str, strategy: Strategy) -> Cluster {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    cluster_on(store, a, b, strategy, &unique("t")).await
}

pub async fn cluster_on(
    store: Arc<dyn Store>,
    a: &str,
    b: &str,
    strategy: Strategy,
    name: &str,
) -> Cluster {
    let c = Cluster::open(store, docker(), options(name, strategy))
        .await
        .expect("cluster opens");
    register(&c, a, b).await;
    c
}

/// The Docker connector of the tests.
pub fn docker() -> Arc<DockerConnector> {
    Arc::new(DockerConnector {
        timeout: Duration::from_secs(10),
    })
}

/// Registers A and B (1 GiB each to the scheduler; labelled `zone=a` and
/// `zone=b`), unless a store held them already.
pub async fn register(c: &Cluster, a: &str, b: &str) {
    if c.engine("a").await.is_err() {
        c.add_engine(record("a", a, 1024, &["zone=a"]))
            .await
            .expect("engine A registers");
        c.add_engine(record("b", b, 1024, &["zone=b"]))
            .await
            .expect("engine B registers");
    }
}

pub fn config(memory: u64) -> ImageConfig {
    ImageConfig {
        name: IMAGE.into(),
        cpus: 0.1,
        memory,
        args: vec!["sleep".into(), "600".into()],
        restart_policy: RestartPolicy {
            name: "always".into(),
            maximum_retry: None,
        },
        ..ImageConfig::default()
    }
}

/// Engine ids of the cluster's containers, sorted.
pub async fn placement(c: &Cluster) -> Vec<String> {
    let mut v: Vec<String> = c
        .containers()
        .await
        .into_iter()
        .map(|c| c.engine.id)
        .collect();
    v.sort();
    v
}

/// Destroys every container of the cluster.
pub async fn clean(c: &Cluster) {
    for ct in c.containers().await {
        let _ = c.destroy(&ct.id).await;
    }
}

/// Waits until `check` holds, failing the test after `limit`; prints and
/// returns how long it took.
pub async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("{what}: after {:.1?}", start.elapsed());
    start.elapsed()
}
