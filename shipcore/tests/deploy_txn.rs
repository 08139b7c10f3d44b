//! The deploy as a transaction, over fake engines and a store that fails on
//! demand: a failure at any step, and a caller that goes away half-way,
//! leave no reservation, no pending name, no record and no container; deploys
//! running at once keep the reservations equal to what runs.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use shipcore::cluster::{Cluster, ClusterOptions};
use shipcore::engine::fake::{FakeConnector, FakeEngine};
use shipcore::engine::{ContainerFilter, EngineBackend};
use shipcore::model::{EngineRecord, EventType, ImageConfig};
use shipcore::store::{FaultyStore, MemoryStore, Store};
use shipcore::Error;

const IMAGE: &str = "app:1";

struct Bed {
    cluster: Cluster,
    store: FaultyStore,
    fakes: Arc<FakeConnector>,
    engines: Vec<FakeEngine>,
}

/// Two fake engines of 4 cpus and 2 GiB holding `app:1`, over a faulty store.
async fn new_bed() -> Bed {
    let store = FaultyStore::new(Arc::new(MemoryStore::new()));
    let fakes = Arc::new(FakeConnector::new(4_000, 2_048, &[IMAGE]));
    let cluster = Cluster::open(
        Arc::new(store.clone()) as Arc<dyn Store>,
        fakes.clone(),
        ClusterOptions::default(),
    )
    .await
    .unwrap();
    for id in ["e1", "e2"] {
        cluster
            .add_engine(EngineRecord::new(id, "unix:///fake.sock"))
            .await
            .unwrap();
    }
    Bed {
        cluster,
        store,
        engines: vec![fakes.engine("e1"), fakes.engine("e2")],
        fakes,
    }
}

fn config(image: &str, memory: u64) -> ImageConfig {
    ImageConfig {
        name: image.into(),
        cpus: 0.01,
        memory,
        ..ImageConfig::default()
    }
}

impl Bed {
    /// Containers on the engines.
    async fn running(&self) -> usize {
        let mut n = 0;
        for e in &self.engines {
            n += e
                .list_containers(&ContainerFilter {
                    all: true,
                    ..ContainerFilter::default()
                })
                .await
                .unwrap()
                .len();
        }
        n
    }

    /// Waits for deploys in flight to end (an abandoned one finishes in the
    /// background), then checks that the records, the reservations and the
    /// engines agree: `expected` containers of `memory` MiB each.
    async fn settled(&self, expected: usize, memory: u64) {
        for _ in 0..200 {
            if self.cluster.stats().await.containers_pending == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let stats = self.cluster.stats().await;
        assert_eq!(stats.containers_pending, 0, "nothing pending");
        let info = self.cluster.info().await;
        assert_eq!(info.containers, expected, "records");
        assert_eq!(
            info.reserved_memory,
            expected as u64 * memory,
            "reservations"
        );
        assert_eq!(info.reserved_cpus, expected as u64 * 10, "cpus");
        assert_eq!(self.running().await, expected, "containers on the engines");
        let stored = self.store.list("cluster/containers/").await.unwrap();
        assert_eq!(stored.len(), expected, "stored records");
    }

    async fn last_event(&self) -> EventType {
        self.cluster.events().list(0, 1).await.unwrap()[0].kind
    }
}

#[tokio::test]
async fn a_failure_at_any_engine_step_leaves_nothing() {
    // (operation, calls let through first, the image: one the engines lack
    // makes them pull it)
    let cases: &[(&str, u32, &str)] = &[
        ("inspect_image", 0, IMAGE),
        ("pull", 0, "other:2"),
        ("create", 0, IMAGE),
        ("create", 1, IMAGE),
        ("start", 0, IMAGE),
        ("start", 2, IMAGE),
    ];
    for (op, ok, image) in cases {
        let bed = new_bed().await;
        for e in &bed.engines {
            e.fail_after(op, *ok, 1);
        }
        let err = bed.cluster.deploy(config(image, 64), 6).await.unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("injected failure of {op}")),
            "{op} after {ok}: {err}"
        );
        bed.settled(0, 64).await;
        assert_eq!(bed.last_event().await, EventType::DeployFailed, "{op}");
        // The capacity is all there again (a fault another engine did not
        // reach is disarmed).
        for e in &bed.engines {
            e.fail(op, 0);
        }
        bed.cluster.deploy(config(IMAGE, 64), 6).await.unwrap();
        bed.settled(6, 64).await;
    }
}

#[tokio::test]
async fn a_failed_store_write_removes_what_was_created() {
    for (prefix, ok) in [
        ("cluster/containers/", 0),
        ("cluster/deploys/", 0),
        // 300 containers take three batches: the third fails after two
        // were written, and those two are deleted again.
        ("cluster/containers/", 2),
    ] {
        let bed = new_bed().await;
        bed.store.fail_write_after(prefix, ok);
        let err = bed.cluster.deploy(config(IMAGE, 4), 300).await.unwrap_err();
        assert!(matches!(err, Error::Storage { .. }), "{err}");
        bed.settled(0, 4).await;
        assert!(bed.store.list("cluster/deploys/").await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_deploy_abandoned_by_its_caller_is_undone() {
    // During the pull: the pull is cut short.
    let bed = new_bed().await;
    for e in &bed.engines {
        e.delay("pull", Duration::from_secs(5));
    }
    let abandoned = tokio::time::timeout(
        Duration::from_millis(100),
        bed.cluster.deploy(config("other:2", 64), 4),
    )
    .await;
    assert!(abandoned.is_err(), "the caller gave up");
    let started = std::time::Instant::now();
    bed.settled(0, 64).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "not after the pull"
    );

    // During the creates: those in flight finish, then are removed.
    let bed = new_bed().await;
    for e in &bed.engines {
        e.delay("create", Duration::from_millis(300));
    }
    let abandoned = tokio::time::timeout(
        Duration::from_millis(100),
        bed.cluster.deploy(config(IMAGE, 64), 8),
    )
    .await;
    assert!(abandoned.is_err());
    bed.settled(0, 64).await;
    let creates: u64 = bed.engines.iter().map(|e| e.calls("create")).sum();
    assert!(creates < 8, "nothing new was begun: {creates} creates");
    for e in &bed.engines {
        e.delay("create", Duration::ZERO);
    }
    bed.cluster.deploy(config(IMAGE, 64), 8).await.unwrap();
    bed.settled(8, 64).await;
}

#[tokio::test]
async fn concurrent_deploys_keep_reservations_equal_to_what_runs() {
    let bed = new_bed().await;
    for e in &bed.engines {
        e.set_delay(Duration::from_millis(2));
    }
    // 20 deploys of 5 × 256 MiB ask for 25 GiB of 4 GiB: some are refused,
    // whole, and the rest fit.
    let deploys = (0..20).map(|_| bed.cluster.deploy(config(IMAGE, 256), 5));
    let results = futures::future::join_all(deploys).await;
    let placed: usize = results.iter().flatten().map(Vec::len).sum();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(Error::Unplaceable(_))))
        .count();
    assert_eq!(placed + refused * 5, 100, "{results:?}");
    assert!(placed <= 16 && refused > 0);
    bed.settled(placed, 256).await;
    // And so do concurrent destroys of all of them.
    let all = bed.cluster.containers().await;
    let destroys = all.iter().map(|c| bed.cluster.destroy(&c.id));
    for r in futures::future::join_all(destroys).await {
        r.unwrap();
    }
    bed.settled(0, 256).await;
    assert!(bed.store.list("cluster/deploys/").await.unwrap().is_empty());
}

#[tokio::test]
async fn replicas_share_one_stored_request() {
    let bed = new_bed().await;
    bed.cluster.deploy(config(IMAGE, 4), 300).await.unwrap();
    let deploys = bed.store.list("cluster/deploys/").await.unwrap();
    assert_eq!(deploys.len(), 1);
    let record = &bed.store.list("cluster/containers/").await.unwrap()[0];
    let record: serde_json::Value = serde_json::from_slice(&record.value).unwrap();
    assert!(record.get("image").is_none(), "{record}");
    assert!(deploys[0].key.ends_with(record["deploy"].as_str().unwrap()));
    // Reopened from the store: the same containers, sharing one request.
    let reopened = Cluster::open(
        Arc::new(bed.store.clone()) as Arc<dyn Store>,
        bed.fakes.clone(),
        ClusterOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(reopened.info().await.containers, 300);
    assert_eq!(reopened.info().await.reserved_memory, 1200);
    // Its engines are checked at once, and take placements again.
    reopened.deploy(config(IMAGE, 4), 2).await.unwrap();
    assert_eq!(reopened.info().await.containers, 302);
}

#[tokio::test]
async fn records_of_earlier_versions_are_moved_on_open() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let fakes = Arc::new(FakeConnector::new(4_000, 2_048, &[IMAGE]));
    Cluster::open(store.clone(), fakes.clone(), ClusterOptions::default())
        .await
        .unwrap()
        .add_engine(EngineRecord::new("e1", "unix:///fake.sock"))
        .await
        .unwrap();
    // A record as versions before deploys were stored apart wrote it.
    let old = serde_json::json!({
        "id": "c0ffee", "name": "app-1", "engine": "e1",
        "image": {"name": "app:1", "cpus": 0.5, "memory": 128},
        "created": "2026-11-01T00:00:00Z", "desired_running": true,
        "state": {"running": true}, "ports": [], "replaces": []
    });
    store
        .put(
            "cluster/containers/c0ffee",
            serde_json::to_vec(&old).unwrap(),
            shipcore::store::Expect::Absent,
        )
        .await
        .unwrap();
    let cluster = Cluster::open(store.clone(), fakes.clone(), ClusterOptions::default())
        .await
        .unwrap();
    let c = cluster.container("c0ffee").await.unwrap();
    assert_eq!((c.image.name.as_str(), c.image.memory), ("app:1", 128));
    assert_eq!(cluster.info().await.reserved_memory, 128);
    let keys: Vec<String> = store
        .list("cluster/")
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.key)
        .filter(|k| !k.starts_with("cluster/events/") && !k.starts_with("cluster/engines/"))
        .collect();
    assert_eq!(
        keys,
        [
            "cluster/containers/c0ffee/c0ffee",
            "cluster/deploys/c0ffee",
            "cluster/identity",
            "cluster/seal"
        ]
    );
    // And again: nothing left to move, the same cluster.
    let again = Cluster::open(store, fakes, ClusterOptions::default())
        .await
        .unwrap();
    assert_eq!(again.container("c0ffee").await.unwrap().image, c.image);
}

#[tokio::test]
async fn a_pull_that_takes_too_long_fails_the_deploy_and_leaves_nothing() {
    let fakes = Arc::new(FakeConnector::new(4_000, 2_048, &[IMAGE]));
    let opts = ClusterOptions {
        pull_timeout: Duration::from_millis(200),
        ..ClusterOptions::default()
    };
    let cluster = Cluster::open(Arc::new(MemoryStore::new()), fakes.clone(), opts)
        .await
        .unwrap();
    cluster
        .add_engine(EngineRecord::new("e1", "unix:///fake.sock"))
        .await
        .unwrap();
    fakes.engine("e1").delay("pull", Duration::from_secs(5));
    let started = std::time::Instant::now();
    let err = cluster.deploy(config("other:2", 64), 2).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(cluster.info().await.reserved_memory, 0);
    assert_eq!(cluster.stats().await.containers_pending, 0);
}

#[tokio::test]
async fn an_unreadable_record_is_skipped_and_reported() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let fakes = Arc::new(FakeConnector::new(4_000, 2_048, &[IMAGE]));
    let c = Cluster::open(store.clone(), fakes.clone(), ClusterOptions::default())
        .await
        .unwrap();
    c.add_engine(EngineRecord::new("e1", "unix:///fake.sock"))
        .await
        .unwrap();
    c.deploy(config(IMAGE, 64), 2).await.unwrap();
    drop(c);
    store
        .put(
            "cluster/containers/x/broken",
            b"{not json".to_vec(),
            shipcore::store::Expect::Absent,
        )
        .await
        .unwrap();
    let c = Cluster::open(store, fakes, ClusterOptions::default())
        .await
        .unwrap();
    assert_eq!(c.info().await.containers, 2, "the good records are loaded");
    let events = c.events().list(0, 5).await.unwrap();
    assert!(
        events.iter().any(
            |e| e.kind == EventType::Error && e.message.contains("cluster/containers/x/broken")
        ),
        "{events:?}"
    );
}

#[tokio::test]
async fn maintenance_keeps_the_newest_events_and_compacts_the_change_log() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let opts = ClusterOptions {
        event_retention: 10,
        change_retention: 5,
        ..ClusterOptions::default()
    };
    let c = Cluster::open(
        store.clone(),
        Arc::new(FakeConnector::new(4_000, 2_048, &[IMAGE])),
        opts,
    )
    .await
    .unwrap();
    for i in 0..300 {
        c.events()
            .record(EventType::Scale, format!("n={i}"), &[], None, None)
            .await
            .unwrap();
    }
    assert_eq!(c.maintain().await.unwrap(), 290);
    let kept = c.events().list(0, 100).await.unwrap();
    assert_eq!(kept.len(), 10);
    assert_eq!((kept[0].seq, kept[9].seq), (300, 291));
    // The change log keeps the last 5 revisions: a stream from the start
    // is told to relist.
    assert!(matches!(
        store.changes("cluster/", 0).await,
        Err(Error::WatchLost { .. })
    ));
    let rev = store.revision().await.unwrap();
    assert!(store.changes("cluster/", rev - 5).await.is_ok());
    // Nothing more to drop.
    assert_eq!(c.maintain().await.unwrap(), 0);
}
