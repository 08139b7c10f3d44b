//! Losing an engine: engine B's dockerd is stopped; its `always` containers
//! must run again on engine A within 10 s, with events; when B comes back,
//! its old copies are removed as orphans and nothing is duplicated.
//!
//! This test stops and restarts engine B of the test bed, so it lives in its
//! own test binary (cargo runs test binaries one after another).
#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use shipcore::engine::{ContainerFilter, EngineBackend};
use shipcore::model::EventType;
use shipcore::sched::Strategy;
use shipcore_docker::{DockerEngine, EngineTarget};
use support::*;

fn testbed() -> PathBuf {
    PathBuf::from(
        std::env::var("SHIPCORE_TESTBED").unwrap_or_else(|_| "/var/lib/shipcore-testbed".into()),
    )
}

/// Whether `check` holds within `limit`.
async fn wait_until<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        if start.elapsed() >= limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_of_a_lost_engine_move_and_come_back_once() {
    let Some((a, b)) = engines() else { return };
    let pidfile = testbed().join("b/dockerd.pid");
    let Ok(pid) = std::fs::read_to_string(&pidfile) else {
        panic!(
            "engine B's pidfile {} is missing: is B the test bed's?",
            pidfile.display()
        );
    };
    let name = unique("failover");
    let c = cluster_on(
        std::sync::Arc::new(shipcore::store::MemoryStore::new()),
        &a,
        &b,
        Strategy::Spread,
        &name,
    )
    .await;
    let _background = c.start();
    c.deploy(config(64), 2).await.unwrap();
    assert_eq!(placement(&c).await, ["a", "b"]);
    let moved = c
        .containers()
        .await
        .into_iter()
        .find(|x| x.engine.id == "b")
        .unwrap();

    // Stop B's dockerd.
    let status = std::process::Command::new("kill")
        .arg(pid.trim())
        .status()
        .unwrap();
    assert!(status.success());
    let lost = Instant::now();
    // What the README states: back within 4 s of the engine's loss (with
    // health checks every 500 ms; about 1 s is usual).
    let moved_in_time = wait_until(Duration::from_secs(4), || async {
        let all = c.containers().await;
        all.len() == 2 && all.iter().all(|x| x.engine.id == "a" && x.state.running)
    })
    .await;
    if !moved_in_time {
        let all = c.containers().await;
        let events = c.events().list(0, 20).await.unwrap();
        panic!(
            "B's container did not run again on A within 4 s\ncontainers: {:?}\nengines: {:?}\nevents: {:?}",
            all.iter().map(|x| (&x.id[..12], &x.engine.id, x.state.running)).collect::<Vec<_>>(),
            c.engines().await.iter().map(|e| (&e.record.engine.id, e.health)).collect::<Vec<_>>(),
            events.iter().map(|e| (e.kind, &e.message)).collect::<Vec<_>>()
        );
    }
    println!(
        "B's container runs again on A: after {:.1?}",
        lost.elapsed()
    );
    assert!(lost.elapsed() < Duration::from_secs(4));
    let events = c.events().list(0, 50).await.unwrap();
    assert!(
        events.iter().any(|e| e.kind == EventType::EngineDown),
        "{events:?}"
    );
    let resched = events
        .iter()
        .find(|e| e.kind == EventType::Reschedule)
        .expect("a reschedule event");
    assert!(resched.message.contains(&moved.id), "{}", resched.message);

    // B's dockerd stops its containers before it exits (10 s for those
    // that ignore SIGTERM); wait for it to be gone before starting it again.
    let proc_dir = PathBuf::from(format!("/proc/{}", pid.trim()));
    wait_for("B's old dockerd exits", Duration::from_secs(30), || async {
        // An exited process the slow init has not reaped yet is a zombie.
        std::fs::read_to_string(proc_dir.join("stat")).map_or(true, |s| s.contains(") Z "))
    })
    .await;

    // Bring B back: dockerd restarts the old copy (restart policy always);
    // the cluster removes it as an orphan.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let up = std::process::Command::new(root.join("scripts/engines"))
        .arg("up")
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let engine_b = DockerEngine::new(&EngineTarget::new("b", b.clone())).unwrap();
    let owned = ContainerFilter {
        all: true,
        labels: vec![format!("io.shipcore.cluster={name}")],
        name: None,
    };
    wait_for(
        "B is up again and clean",
        Duration::from_secs(30),
        || async {
            let up = c
                .events()
                .list(0, 100)
                .await
                .unwrap()
                .iter()
                .any(|e| e.kind == EventType::EngineUp);
            up && engine_b
                .list_containers(&owned)
                .await
                .map(|l| l.is_empty())
                .unwrap_or(false)
        },
    )
    .await;
    let events = c.events().list(0, 100).await.unwrap();
    assert!(
        events.iter().any(|e| e.kind == EventType::Destroy
            && e.message.contains(&moved.id)
            && e.message.contains("orphan")),
        "the old copy on B was removed as an orphan: {events:?}"
    );
    let all = c.containers().await;
    assert_eq!(all.len(), 2, "no duplicates: {all:?}");
    assert!(all.iter().all(|x| x.engine.id == "a"));
    let info = c.info().await;
    assert_eq!((info.reserved_memory, info.containers), (128, 2));
    clean(&c).await;
}
