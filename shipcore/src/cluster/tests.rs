//! Failure paths of the cluster service against mockall's engine backend:
//! a failed pull or a create that fails half-way leaks no reservation and
//! leaves no record.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use futures::stream;

use super::*;
use crate::engine::{Connector, EngineBackend, EngineInfo, ImageDetails, MockEngineBackend};
use crate::error::Error;
use crate::model::EngineRecord;
use crate::model::{EventType, ImageConfig};
use crate::store::MemoryStore;
use crate::store::Store;
use crate::Result;

struct One(Arc<MockEngineBackend>);

impl Connector for One {
    fn connect(&self, _: &EngineRecord) -> Result<Arc<dyn EngineBackend>> {
        Ok(self.0.clone())
    }
}

/// A mock engine that answers pings and info, and lists no images.
fn engine() -> MockEngineBackend {
    let mut m = MockEngineBackend::new();
    m.expect_ping().returning(|| Ok(()));
    m.expect_info().returning(|| {
        Ok(EngineInfo {
            cpus: 2000,
            memory: 1024,
            ..EngineInfo::default()
        })
    });
    m.expect_list_images().returning(|| Ok(Vec::new()));
    m
}

async fn cluster(m: MockEngineBackend) -> Cluster {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    // One container at a time, so the mocks see calls in a fixed order.
    let opts = ClusterOptions {
        deploy_parallelism: 1,
        ..ClusterOptions::default()
    };
    let c = Cluster::open(store, Arc::new(One(Arc::new(m))), opts)
        .await
        .unwrap();
    c.add_engine(EngineRecord::new("e1", "unix:///mock.sock"))
        .await
        .unwrap();
    c
}

fn config() -> ImageConfig {
    ImageConfig {
        name: "app:1".into(),
        cpus: 0.5,
        memory: 256,
        ..ImageConfig::default()
    }
}

async fn assert_nothing_left(c: &Cluster) {
    let info = c.info().await;
    assert_eq!(
        (info.reserved_cpus, info.reserved_memory, info.containers),
        (0, 0, 0)
    );
    assert_eq!(c.stats().await.containers_pending, 0);
    let events = c.events().list(0, 10).await.unwrap();
    assert_eq!(events[0].kind, EventType::DeployFailed, "{events:?}");
}

#[tokio::test]
async fn a_failed_pull_leaks_nothing() {
    let mut m = engine();
    m.expect_inspect_image().returning(|r| {
        Err(Error::NotFound {
            engine: "e1".into(),
            kind: "image".into(),
            id: r.into(),
        })
    });
    m.expect_pull_image().returning(|_, _| {
        Box::pin(stream::iter(vec![Err(Error::EngineApi {
            engine: "e1".into(),
            status: 500,
            message: "registry unreachable".into(),
        })]))
    });
    m.expect_create_container().never();
    let c = cluster(m).await;
    let err = c.deploy(config(), 2).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "engine e1 answered 500: registry unreachable"
    );
    assert_nothing_left(&c).await;
}

#[tokio::test]
async fn a_create_failing_half_way_is_rolled_back() {
    let mut m = engine();
    m.expect_inspect_image()
        .returning(|_| Ok(ImageDetails::default()));
    let mut calls = 0;
    m.expect_create_container().times(2).returning(move |_| {
        calls += 1;
        if calls == 1 {
            Ok("c1".into())
        } else {
            Err(Error::EngineApi {
                engine: "e1".into(),
                status: 500,
                message: "no space left".into(),
            })
        }
    });
    m.expect_start_container().times(1).returning(|_| Ok(()));
    m.expect_remove_container()
        .withf(|id, force, _| id == "c1" && *force)
        .times(1)
        .returning(|_, _, _| Ok(()));
    let c = cluster(m).await;
    let err = c.deploy(config(), 3).await.unwrap_err();
    assert!(err.to_string().contains("no space left"), "{err}");
    assert_nothing_left(&c).await;
    // The capacity is all there again: four fit where three were refused.
    let placed = c.plan_deploy(&config(), 4).await.unwrap();
    assert_eq!(placed.assignments.len(), 4);
}

#[tokio::test]
async fn a_start_failure_removes_the_created_container() {
    let mut m = engine();
    m.expect_inspect_image()
        .returning(|_| Ok(ImageDetails::default()));
    m.expect_create_container()
        .times(1)
        .returning(|_| Ok("c9".into()));
    m.expect_start_container().times(1).returning(|_| {
        Err(Error::EngineApi {
            engine: "e1".into(),
            status: 500,
            message: "port is already allocated".into(),
        })
    });
    m.expect_remove_container()
        .withf(|id, _, _| id == "c9")
        .times(1)
        .returning(|_, _, _| Ok(()));
    let c = cluster(m).await;
    assert!(c.deploy(config(), 1).await.is_err());
    assert_nothing_left(&c).await;
}

#[tokio::test]
async fn an_unplaceable_deploy_explains_and_records_nothing() {
    let c = cluster(engine()).await;
    let mut big = config();
    big.memory = 4096;
    let err = c.deploy(big, 1).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot place: 0/1 engines: 1 insufficient memory; e1: memory 4096 > free 1024"
    );
    assert_eq!(c.info().await.reserved_memory, 0);
}

#[tokio::test]
async fn prefixes_resolve_or_are_ambiguous() {
    let mut m = engine();
    m.expect_inspect_image()
        .returning(|_| Ok(ImageDetails::default()));
    let mut n = 0;
    m.expect_create_container().returning(move |_| {
        n += 1;
        Ok(format!("abc{n}def"))
    });
    m.expect_start_container().returning(|_| Ok(()));
    m.expect_inspect_container().returning(|id| {
        Err(Error::NotFound {
            engine: "e1".into(),
            kind: "container".into(),
            id: id.into(),
        })
    });
    let c = cluster(m).await;
    c.deploy(config(), 2).await.unwrap();
    assert_eq!(c.container("abc2").await.unwrap().id, "abc2def");
    let err = c.container("abc").await.unwrap_err();
    assert_eq!(err.to_string(), "abc is ambiguous: it matches 2 containers");
    assert_eq!(
        c.container("xyz").await.unwrap_err().to_string(),
        "no such container xyz"
    );
}

#[tokio::test]
async fn events_page_and_follow_from_a_sequence() {
    use futures::StreamExt;
    let c = cluster(engine()).await;
    let log = c.events();
    for i in 0..5 {
        log.record(EventType::Scale, format!("n={i}"), &["test"], None, None)
            .await
            .unwrap();
    }
    // add-engine was event 1; the five above are 2..=6. Newest first, paged.
    let page: Vec<u64> = log
        .list(1, 2)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(page, [5, 4]);
    let mut follow = log.follow(4).await.unwrap();
    let log2 = log.clone();
    let writer = tokio::spawn(async move {
        for i in 5..8 {
            log2.record(EventType::Scale, format!("n={i}"), &["test"], None, None)
                .await
                .unwrap();
        }
    });
    let mut seen = Vec::new();
    while seen.len() < 5 {
        seen.push(follow.next().await.unwrap().unwrap().seq);
    }
    writer.await.unwrap();
    assert_eq!(seen, [5, 6, 7, 8, 9]);
}

#[tokio::test]
async fn placement_prefers_an_equally_free_engine_that_holds_the_image() {
    use crate::engine::EngineBackend as _;
    let f = crate::testing::Fixture::fake(2, 4_000, 8_192, &["app:1"])
        .await
        .unwrap();
    let cfg = ImageConfig {
        name: "registry.local:5000/team/app:2".into(),
        cpus: 0.1,
        memory: 64,
        ..ImageConfig::default()
    };
    // Neither holds it: the first engine wins the tie, as before.
    let placed = f.cluster.plan_deploy(&cfg, 1).await.unwrap();
    assert_eq!(placed.assignments[0].engine, "e0");
    assert!(!placed.assignments[0].holds_image);
    // The second gets it; its next health check says so.
    f.engine("e1")
        .unwrap()
        .tag_image("app:1", "registry.local:5000/team/app:2")
        .await
        .unwrap();
    f.cluster.check_health(true).await;
    let placed = f.cluster.plan_deploy(&cfg, 1).await.unwrap();
    assert_eq!(placed.assignments[0].engine, "e1");
    assert!(placed.assignments[0].holds_image);
    assert_eq!(
        placed.assignments[0].to_string(),
        "e1 (holds the image: no pull)"
    );
    // Freer engines still come first: the engine the next deploy takes
    // is busier, and the other wins, holding the image or not.
    let busy = f
        .cluster
        .deploy(
            ImageConfig {
                name: "app:1".into(),
                memory: 1024,
                ..cfg.clone()
            },
            1,
        )
        .await
        .unwrap();
    let placed = f.cluster.plan_deploy(&cfg, 1).await.unwrap();
    assert_ne!(placed.assignments[0].engine, busy[0].engine.id);
}

#[tokio::test]
async fn health_checks_list_images_when_the_count_moves_or_a_minute_passed() {
    use crate::engine::fake::FakeConnector;
    use crate::engine::EngineBackend as _;
    let clock = Arc::new(crate::clock::ManualClock::at(1_795_446_245));
    let opts = ClusterOptions {
        clock: clock.clone(),
        ..ClusterOptions::default()
    };
    let fakes = Arc::new(FakeConnector::new(4_000, 8_192, &["app:1"]));
    let f = crate::testing::Fixture::over(fakes.clone(), opts)
        .await
        .unwrap();
    f.cluster
        .add_engine(EngineRecord::new("e0", "unix:///fake.sock"))
        .await
        .unwrap();
    let e = fakes.engine("e0");
    f.cluster.check_health(true).await;
    let listed = e.calls("images");
    assert!(listed >= 1, "the first check lists the images");
    for _ in 0..3 {
        clock.advance(std::time::Duration::from_secs(2));
        f.cluster.check_health(true).await;
    }
    assert_eq!(e.calls("images"), listed, "the count stayed: no listing");
    // A new image: the next check lists again; a failed listing is tried
    // again at the check after.
    e.tag_image("app:1", "app:2").await.unwrap();
    e.fail("images", 1);
    f.cluster.check_health(true).await;
    assert_eq!(e.calls("images"), listed + 1);
    f.cluster.check_health(true).await;
    assert_eq!(e.calls("images"), listed + 2);
    let cfg = ImageConfig {
        name: "app:2".into(),
        cpus: 0.1,
        memory: 64,
        ..ImageConfig::default()
    };
    assert!(f.cluster.plan_deploy(&cfg, 1).await.unwrap().assignments[0].holds_image);
    f.cluster.check_health(true).await;
    assert_eq!(e.calls("images"), listed + 2);
    // A minute on, the list is refreshed even though the count stayed.
    clock.advance(super::state::IMAGE_RELIST);
    f.cluster.check_health(true).await;
    assert_eq!(e.calls("images"), listed + 3);
}

#[tokio::test]
async fn a_dry_run_names_the_chosen_engine_and_why_each_other_one_would_not_do() {
    let f = crate::testing::Fixture::fake(2, 4_000, 8_192, &["app:1"])
        .await
        .unwrap();
    let cfg: ImageConfig = serde_json::from_value(serde_json::json!({
        "name": "app:1", "cpus": 0.1, "memory": 64,
        "bind_ports": [{"proto": "tcp", "port": 8080, "container_port": 80}]
    }))
    .unwrap();
    let owner = crate::model::Owner::system();
    let before = f.cluster.dry_run_as(&owner, &cfg, 1).await.unwrap();
    assert_eq!(before.placement.assignments[0].engine, "e0");
    assert!(before.refused.is_empty(), "{:?}", before.refused);
    let placed = f.cluster.deploy(cfg.clone(), 1).await.unwrap();
    assert_eq!(placed[0].engine.id, "e0");
    // The port is taken on e0 now: the dry run goes to e1 and says why not e0.
    let after = f.cluster.dry_run_as(&owner, &cfg, 1).await.unwrap();
    assert_eq!(after.placement.assignments[0].engine, "e1");
    let reasons: Vec<String> = after.refused.iter().map(ToString::to_string).collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].starts_with("e0: ") && reasons[0].contains("8080"),
        "{reasons:?}"
    );
    // Nothing was reserved by the dry runs: two more containers fit only
    // on e1, and a third finds the port taken everywhere, engine by engine.
    match f.cluster.dry_run_as(&owner, &cfg, 2).await {
        Err(Error::Unplaceable(r)) => assert_eq!(r.refusals.len(), 2, "{r:?}"),
        other => panic!("two more should not fit: {other:?}"),
    }
    // A constraint no engine meets: the deploy's own refusal.
    let zoned = ImageConfig {
        labels: vec!["zone==a".into()],
        ..cfg.clone()
    };
    match f.cluster.dry_run_as(&owner, &zoned, 1).await {
        Err(Error::Unplaceable(r)) => {
            assert!(
                r.refusals.iter().all(|x| x.reason.contains("zone")),
                "{r:?}"
            )
        }
        other => panic!("no engine has zone=a: {other:?}"),
    }
    assert_eq!(f.cluster.containers().await.len(), 1);
}
