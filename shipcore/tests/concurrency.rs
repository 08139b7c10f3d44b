//! Two calls at once against one cluster, over fake engines that answer
//! after a delay (so the calls overlap): the answers a user expects, exact
//! container counts on the engines, and reservations that add up.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use shipcore::cluster::{Cluster, ClusterOptions};
use shipcore::engine::fake::FakeConnector;
use shipcore::engine::{ContainerFilter, EngineBackend};
use shipcore::model::{EngineRecord, ImageConfig, RestartPolicy};
use shipcore::store::MemoryStore;
use shipcore::Error;

const DELAY: Duration = Duration::from_millis(20);

async fn cluster(engines: &[&str]) -> (Cluster, Arc<FakeConnector>) {
    let fakes = Arc::new(FakeConnector::new(4_000, 4_096, &["app:1"]));
    let c = Cluster::open(
        Arc::new(MemoryStore::new()),
        fakes.clone(),
        ClusterOptions::default(),
    )
    .await
    .unwrap();
    for id in engines {
        c.add_engine(EngineRecord::new(id, "unix:///fake.sock"))
            .await
            .unwrap();
        fakes.engine(id).set_delay(DELAY);
    }
    (c, fakes)
}

fn config(policy: &str) -> ImageConfig {
    ImageConfig {
        name: "app:1".into(),
        cpus: 0.25,
        memory: 256,
        restart_policy: RestartPolicy {
            name: policy.into(),
            maximum_retry: None,
        },
        ..ImageConfig::default()
    }
}

/// Containers on the fake engine `id`, running or not.
async fn on(fakes: &FakeConnector, id: &str) -> usize {
    let all = ContainerFilter {
        all: true,
        ..ContainerFilter::default()
    };
    fakes.engine(id).list_containers(&all).await.unwrap().len()
}

/// The cluster holds `n` containers of 256 MiB, and reserves exactly that.
async fn holds(c: &Cluster, n: usize) {
    let info = c.info().await;
    assert_eq!(
        (info.containers, info.reserved_memory, info.reserved_cpus),
        (n, n as u64 * 256, n as u64 * 250),
        "records and reservations"
    );
}

#[tokio::test]
async fn two_destroys_of_one_container_one_succeeds() {
    let (c, fakes) = cluster(&["e1"]).await;
    let placed = c.deploy(config("no"), 3).await.unwrap();
    let id = &placed[0].id;
    let (first, second) = tokio::join!(c.destroy(id), c.destroy(id));
    let outcomes = [first.is_ok(), second.is_ok()];
    assert_eq!(
        outcomes.iter().filter(|ok| **ok).count(),
        1,
        "one destroy succeeds: {first:?} {second:?}"
    );
    let failed = if first.is_ok() { second } else { first };
    assert!(matches!(failed, Err(Error::Missing { .. })), "{failed:?}");
    holds(&c, 2).await;
    assert_eq!(on(&fakes, "e1").await, 2);
}

#[tokio::test]
async fn a_stop_racing_a_destroy_fails_cleanly() {
    let (c, fakes) = cluster(&["e1"]).await;
    let placed = c.deploy(config("no"), 3).await.unwrap();
    let id = &placed[0].id;
    let (stopped, destroyed) = tokio::join!(c.stop(id, None), c.destroy(id));
    destroyed.unwrap();
    if let Err(e) = &stopped {
        assert!(matches!(e, Error::Missing { .. }), "{e}");
    }
    holds(&c, 2).await;
    assert_eq!(on(&fakes, "e1").await, 2);
    assert!(c.container(id).await.is_err(), "no record comes back");
}

#[tokio::test]
async fn concurrent_scales_converge_on_the_count() {
    let (c, fakes) = cluster(&["e1", "e2"]).await;
    let id = c.deploy(config("no"), 1).await.unwrap().remove(0).id;
    let (a, b) = tokio::join!(c.scale(&id, 3), c.scale(&id, 3));
    a.unwrap();
    b.unwrap();
    holds(&c, 3).await;
    assert_eq!(on(&fakes, "e1").await + on(&fakes, "e2").await, 3);
    let (a, b) = tokio::join!(c.scale(&id, 1), c.scale(&id, 1));
    a.unwrap();
    b.unwrap();
    holds(&c, 1).await;
    assert_eq!(on(&fakes, "e1").await + on(&fakes, "e2").await, 1);
}

#[tokio::test]
async fn removing_an_engine_that_runs_containers_leaves_no_two_copies() {
    let (c, fakes) = cluster(&["e1", "e2"]).await;
    c.deploy(config("always"), 4).await.unwrap();
    assert_eq!((on(&fakes, "e1").await, on(&fakes, "e2").await), (2, 2));
    // Refused while containers run there.
    let refused = c.remove_engine("e1", false).await.unwrap_err();
    assert!(
        matches!(refused, Error::EngineConflict { .. } | Error::Exists { .. }),
        "{refused}"
    );
    assert!(refused.to_string().contains("force"), "{refused}");
    assert_eq!(c.engines().await.len(), 2);
    // Forced: the engine's containers are removed there, then those with
    // `always` placed elsewhere.
    c.remove_engine("e1", true).await.unwrap();
    c.reconcile().await.unwrap();
    assert_eq!((on(&fakes, "e1").await, on(&fakes, "e2").await), (0, 4));
    holds(&c, 4).await;
    assert!(c.containers().await.iter().all(|x| x.engine.id == "e2"));
    // A second reconcile changes nothing.
    assert_eq!(c.reconcile().await.unwrap(), vec![]);
}

#[tokio::test]
async fn on_failure_restarts_at_most_maximum_retry_times() {
    let (c, fakes) = cluster(&["e1"]).await;
    let mut cfg = config("on-failure");
    cfg.restart_policy.maximum_retry = Some(2);
    let id = c.deploy(cfg, 1).await.unwrap().remove(0).id;
    let e1 = fakes.engine("e1");
    for round in 0..4 {
        // The container fails behind the cluster's back.
        e1.exit(&id, 1).unwrap();
        c.reconcile().await.unwrap();
        let running = e1.inspect_container(&id).await.unwrap().state.running;
        assert_eq!(running, round < 2, "round {round}");
    }
    let shown = c.container(&id).await.unwrap();
    assert_eq!(shown.state.restart_count, 2, "{shown:?}");
    // A clean exit is not restarted by on-failure, whatever is left.
    let mut cfg = config("on-failure");
    cfg.restart_policy.maximum_retry = Some(5);
    let clean = c.deploy(cfg, 1).await.unwrap().remove(0).id;
    e1.exit(&clean, 0).unwrap();
    c.reconcile().await.unwrap();
    assert!(!e1.inspect_container(&clean).await.unwrap().state.running);
}

#[tokio::test]
async fn redeploys_of_one_image_run_one_at_a_time_and_roll_back_a_failure() {
    use shipcore::model::{BindPort, ImageRef};
    let (c, fakes) = cluster(&["e1"]).await;
    let mut cfg = config("always");
    cfg.bind_ports = vec![BindPort {
        port: 8080,
        container_port: 80,
        ..BindPort::default()
    }];
    let old = c.deploy(cfg, 1).await.unwrap().remove(0).id;
    c.deploy(config("always"), 1).await.unwrap();
    let image = ImageRef::parse("app:1").unwrap();
    // Two pushes at once: each container replaced once per push, never
    // two replacements side by side.
    let (a, b) = tokio::join!(c.redeploy_image(&image), c.redeploy_image(&image));
    assert_eq!(
        (a.unwrap().containers.len(), b.unwrap().containers.len()),
        (2, 2)
    );
    holds(&c, 2).await;
    assert_eq!(on(&fakes, "e1").await, 2);
    assert!(c.container(&old).await.is_err(), "replaced");

    // The replacement of the container holding a port cannot be made: the
    // old one is kept, running, with its reservation.
    let (with_port, without): (Vec<_>, Vec<_>) = c
        .containers()
        .await
        .into_iter()
        .partition(|x| !x.image.bind_ports.is_empty());
    c.destroy(&without[0].id).await.unwrap();
    let keeper = with_port[0].id.clone();
    fakes.engine("e1").fail("create", 1);
    let done = c.redeploy_image(&image).await.unwrap();
    assert_eq!(done.failed.len(), 1, "{:?}", done.failed);
    assert_eq!(done.failed[0].0, keeper);
    assert!(done.containers.is_empty());
    // Stopped to free its port, then started again.
    assert!(
        fakes
            .engine("e1")
            .inspect_container(&keeper)
            .await
            .unwrap()
            .state
            .running
    );
    assert_eq!(c.container(&keeper).await.unwrap().id, keeper);
    holds(&c, 1).await;
    assert_eq!(on(&fakes, "e1").await, 1);
}

#[tokio::test]
async fn a_stop_made_while_the_reconcile_loop_looks_is_not_undone() {
    let (c, fakes) = cluster(&["e1"]).await;
    let id = c.deploy(config("always"), 1).await.unwrap().remove(0).id;
    let e1 = fakes.engine("e1");
    // It exits behind the cluster's back: its policy would start it again.
    e1.exit(&id, 137).unwrap();
    // The round's listing is slow; meanwhile the user stops it for good.
    e1.delay("list", Duration::from_millis(300));
    let round = {
        let c = c.clone();
        tokio::spawn(async move { c.reconcile().await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.stop(&id, None).await.unwrap();
    let planned = round.await.unwrap().unwrap();
    assert_eq!(
        planned,
        vec![shipcore::cluster::Action::Start {
            container: id.clone()
        }],
        "the round planned on what it saw"
    );
    // ...but acted on the record as it is now.
    assert!(!e1.inspect_container(&id).await.unwrap().state.running);
    assert_eq!(c.container(&id).await.unwrap().state.restart_count, 0);
}
