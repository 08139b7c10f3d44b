//! The cluster service over a simulated cluster of in-memory engines
//! (`FakeEngine`): engines that fail and come back, a lost store rebuilt from
//! the engines' ownership labels. Fast and deterministic beside the tests on
//! real engines.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use shipcore::cluster::{Action, Cluster, ClusterOptions};
use shipcore::engine::fake::FakeConnector;
use shipcore::engine::EngineBackend;
use shipcore::model::{EngineRecord, ImageConfig, RestartPolicy};
use shipcore::store::{MemoryStore, Store};

type Sim = FakeConnector;

fn sim() -> Arc<Sim> {
    Arc::new(FakeConnector::new(4000, 4096, &["app:1"]))
}

fn record(id: &str) -> EngineRecord {
    EngineRecord::new(id, &format!("unix:///{id}.sock"))
}

fn always() -> ImageConfig {
    ImageConfig {
        name: "app:1".into(),
        cpus: 0.5,
        memory: 256,
        restart_policy: RestartPolicy {
            name: "always".into(),
            maximum_retry: None,
        },
        ..ImageConfig::default()
    }
}

async fn open(store: Arc<dyn Store>, sim: Arc<Sim>) -> Cluster {
    let opts = ClusterOptions {
        identity: Some("sim".into()),
        ..ClusterOptions::default()
    };
    Cluster::open(store, sim, opts).await.unwrap()
}

#[tokio::test]
async fn a_lost_engine_s_containers_move_and_old_copies_go() {
    let sim = sim();
    let c = open(Arc::new(MemoryStore::new()), sim.clone()).await;
    for id in ["a", "b", "c"] {
        c.add_engine(record(id)).await.unwrap();
    }
    c.deploy(always(), 6).await.unwrap();
    let on_b: Vec<String> = c
        .containers()
        .await
        .into_iter()
        .filter(|x| x.engine.id == "b")
        .map(|x| x.id)
        .collect();
    assert_eq!(on_b.len(), 2);

    sim.engine("b").set_up(false);
    c.check_health(true).await;
    let plan = c.plan().await.unwrap();
    assert_eq!(
        plan.iter()
            .filter(|a| matches!(a, Action::Reschedule { .. }))
            .count(),
        2,
        "{plan:?}"
    );
    c.reconcile().await.unwrap();
    let all = c.containers().await;
    assert_eq!(all.len(), 6);
    assert!(all.iter().all(|x| x.engine.id != "b" && x.state.running));
    assert_eq!(c.info().await.reserved_memory, 6 * 256);

    // B comes back with its old copies: they are removed, not adopted.
    sim.engine("b").set_up(true);
    c.check_health(true).await;
    let done = c.reconcile().await.unwrap();
    assert_eq!(
        done.iter()
            .filter(|a| matches!(a, Action::RemoveOrphan { .. }))
            .count(),
        2,
        "{done:?}"
    );
    assert!(sim
        .engine("b")
        .list_containers(&Default::default())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(c.containers().await.len(), 6);
    assert_eq!(c.plan().await.unwrap(), vec![], "settled");
}

#[tokio::test]
async fn a_lost_store_is_rebuilt_from_the_engines() {
    let sim = sim();
    let first = open(Arc::new(MemoryStore::new()), sim.clone()).await;
    for id in ["a", "b"] {
        first.add_engine(record(id)).await.unwrap();
    }
    first.deploy(always(), 4).await.unwrap();
    let mut before: Vec<String> = first.containers().await.into_iter().map(|x| x.id).collect();
    before.sort();
    drop(first);

    // A new, empty store of another identity: a cluster of its own, which
    // takes nothing of the first one's.
    let other = Cluster::open(
        Arc::new(MemoryStore::new()),
        sim.clone(),
        ClusterOptions::default(),
    )
    .await
    .unwrap();
    assert_ne!(other.identity(), "sim");
    for id in ["a", "b"] {
        other.add_engine(record(id)).await.unwrap();
    }
    assert_eq!(other.reconcile().await.unwrap(), vec![]);
    assert!(other.containers().await.is_empty());
    assert_eq!(other.info().await.foreign, 4);

    // A new, empty store opened with the lost one's identity (`shipd
    // --cluster sim`): register the engines again and reconcile.
    let c = open(Arc::new(MemoryStore::new()), sim.clone()).await;
    assert_eq!(c.identity(), "sim");
    for id in ["a", "b"] {
        c.add_engine(record(id)).await.unwrap();
    }
    let done = c.reconcile().await.unwrap();
    assert_eq!(
        done.iter()
            .filter(|a| matches!(a, Action::Adopt { .. }))
            .count(),
        4,
        "{done:?}"
    );
    let mut after: Vec<String> = c.containers().await.into_iter().map(|x| x.id).collect();
    after.sort();
    assert_eq!(before, after);
    assert_eq!(c.info().await.reserved_memory, 4 * 256);
    assert_eq!(c.containers().await[0].image, always());
    assert_eq!(c.info().await.foreign, 0);
}

#[tokio::test]
async fn an_identity_is_made_once_and_kept() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let first = Cluster::open(store.clone(), sim(), ClusterOptions::default())
        .await
        .unwrap();
    let id = first.identity().to_string();
    assert_eq!((id.len(), id.matches('-').count()), (36, 4), "a UUID: {id}");
    let again = Cluster::open(store.clone(), sim(), ClusterOptions::default())
        .await
        .unwrap();
    assert_eq!(again.identity(), id);
    // Given the identity it has: fine. Another: refused, naming both.
    let same = ClusterOptions {
        identity: Some(id.clone()),
        ..ClusterOptions::default()
    };
    Cluster::open(store.clone(), sim(), same).await.unwrap();
    let other = ClusterOptions {
        identity: Some("other".into()),
        ..ClusterOptions::default()
    };
    let err = Cluster::open(store, sim(), other).await.unwrap_err();
    assert!(
        err.to_string().contains(&id) && err.to_string().contains("other"),
        "{err}"
    );
    let bad = ClusterOptions {
        identity: Some("no spaces".into()),
        ..ClusterOptions::default()
    };
    assert!(Cluster::open(Arc::new(MemoryStore::new()), sim(), bad)
        .await
        .is_err());

    // A store an earlier version wrote (records, no identity) keeps the
    // identity its containers carry.
    let earlier: Arc<dyn Store> = Arc::new(MemoryStore::new());
    earlier
        .put(
            "cluster/engines/a",
            serde_json::to_vec(&serde_json::json!({"record": record("a")})).unwrap(),
            shipcore::store::Expect::Absent,
        )
        .await
        .unwrap();
    let c = Cluster::open(earlier, sim(), ClusterOptions::default())
        .await
        .unwrap();
    assert_eq!(c.identity(), "shipcore");
}

#[tokio::test]
async fn a_stopped_container_is_started_again_by_policy() {
    let sim = sim();
    let c = open(Arc::new(MemoryStore::new()), sim.clone()).await;
    c.add_engine(record("a")).await.unwrap();
    let id = c.deploy(always(), 1).await.unwrap().remove(0).id;
    // Stopped behind the cluster's back (not through it).
    sim.engine("a")
        .stop_container(&id, Some(Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(
        c.reconcile().await.unwrap(),
        vec![Action::Start {
            container: id.clone()
        }]
    );
    assert!(
        sim.engine("a")
            .inspect_container(&id)
            .await
            .unwrap()
            .state
            .running
    );
    // Stopped through the cluster: it stays stopped.
    c.stop(&id, None).await.unwrap();
    assert_eq!(c.reconcile().await.unwrap(), vec![]);
}

#[tokio::test]
async fn the_service_reads_one_clock_that_a_test_drives() {
    use shipcore::clock::{Clock, ManualClock};
    let clock = Arc::new(ManualClock::at(1_795_446_245));
    let sim = sim();
    let opts = ClusterOptions {
        identity: Some("clocked".into()),
        health_interval: Duration::from_secs(10),
        max_backoff: Duration::from_secs(60),
        clock: clock.clone(),
        ..ClusterOptions::default()
    };
    let c = Cluster::open(Arc::new(MemoryStore::new()), sim.clone(), opts)
        .await
        .unwrap();
    c.add_engine(record("a")).await.unwrap();
    c.deploy(always(), 1).await.unwrap();
    let events = c.events().list(0, 10).await.unwrap();
    assert!(
        events.iter().all(|e| e.time == "2026-11-23T15:04:05Z"),
        "{events:?}"
    );
    assert_eq!(c.engine("a").await.unwrap().added, "2026-11-23T15:04:05Z");

    // Health checks are due by the clock, not by the wall.
    let a = sim.engine("a");
    a.set_up(false);
    c.check_health(false).await;
    assert_eq!(a.calls("ping"), 0, "not due before the interval");
    clock.advance(Duration::from_secs(10));
    c.check_health(false).await;
    assert_eq!(a.calls("ping"), 1);
    assert_eq!(c.stats().await.engines_down, 1);
    // A failing engine backs off: 10 s after the failure it is not due.
    clock.advance(Duration::from_secs(9));
    c.check_health(false).await;
    assert_eq!(a.calls("ping"), 1);
    a.set_up(true);
    clock.advance(Duration::from_secs(2));
    c.check_health(false).await;
    assert_eq!(a.calls("ping"), 2);
    assert_eq!(c.stats().await.engines_up, 1);
    assert_eq!(clock.rfc3339(), "2026-11-23T15:04:26Z");
}
