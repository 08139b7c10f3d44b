//! Three `shipd` replicas over the test bed's etcd cluster and real engines
//! (built with `--features etcd`): a deploy through any replica is visible
//! through all, a service key deleted through one is refused by the others
//! at once, and when the leader is killed (kill -9) another takes over
//! within 5 s and still moves the containers of a lost engine, without
//! duplicates.
//!
//! Engine B is reached through a TCP relay this test holds, so "losing" B
//! is closing the relay: the test bed's engines keep running for the others.
#![cfg(feature = "etcd")]
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use shipcore::engine::{ContainerFilter, EngineBackend};
use shipcore_docker::{DockerEngine, EngineTarget};
use support::http::Cred;
use support::shipd::Shipd;
use support::*;

/// A relay from a loopback port to `target`, until `cut` is set (then every
/// connection through it is dropped and new ones are refused).
async fn relay(target: String, cut: Arc<AtomicBool>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            if cut.load(Ordering::SeqCst) {
                return;
            }
            let (target, cut) = (target.clone(), cut.clone());
            tokio::spawn(async move {
                let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                tokio::select! {
                    _ = copy => {}
                    _ = async { while !cut.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    } } => {}
                }
            });
        }
    });
    port
}

fn leaders(replicas: &[Shipd]) -> Vec<usize> {
    replicas
        .iter()
        .enumerate()
        .filter(|(_, r)| r.log().contains("leading the cluster"))
        .map(|(i, _)| i)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_state_and_survive_their_leader() {
    let Some(etcd) = shipcore::testing::testbed("SHIPCORE_ETCD") else {
        return;
    };
    let Some((a, _)) = engines() else { return };
    let Some(b_tcp) = shipcore::testing::testbed("SHIPCORE_ENGINE_B_TCP") else {
        return;
    };
    let b_target = b_tcp.trim_start_matches("tcp://").to_string();
    let cut = Arc::new(AtomicBool::new(false));
    let b_port = relay(b_target, cut.clone()).await;

    let name = unique("replicas");
    let url = format!("{etcd}/{name}");
    let tmp = tempfile::tempdir().unwrap();
    let admin = Cred::Basic("admin".into(), "replica-pw".into());
    let mut replicas: Vec<Shipd> = (0..3)
        .map(|i| {
            Shipd::spawn(
                &["--store", &url, "--lease", "2", "--cluster", &name],
                &[
                    ("SHIPD_ADMIN_PASSWORD", "replica-pw"),
                    // No local engine: the test registers the engines.
                    ("DOCKER_HOST", "unix:///nonexistent.sock"),
                ],
                &tmp.path().join(format!("replica{i}.log")),
            )
        })
        .collect();
    for r in replicas.iter_mut() {
        r.ready(&admin).await;
    }
    wait_for("one replica leads", Duration::from_secs(10), || async {
        leaders(&replicas).len() == 1
    })
    .await;

    // Engines registered through replica 0, seen by all.
    for (id, addr) in [("a", a.clone()), ("b", format!("tcp://127.0.0.1:{b_port}"))] {
        let body = json!({"engine": {"id": id, "addr": addr, "cpus": 2.0, "memory": 1024}});
        let (s, out) = replicas[0]
            .call("POST", "/api/engines", &admin, Some(&body.to_string()))
            .await;
        assert_eq!(s, 201, "{out}");
    }
    for r in &replicas {
        wait_for(
            "both engines healthy everywhere",
            Duration::from_secs(10),
            || async {
                let (_, engines) = r.call("GET", "/api/engines", &admin, None).await;
                engines.as_array().is_some_and(|e| {
                    e.len() == 2 && e.iter().all(|e| e["engine"]["health"] == "healthy")
                })
            },
        )
        .await;
    }

    // A deploy through replica 1 (spread: one container on each engine)
    // is visible through 0 and 2.
    let deploy = json!({
        "name": IMAGE, "cpus": 0.1, "memory": 64, "args": ["sleep", "600"],
        "restart_policy": {"name": "always"}
    });
    let (s, placed) = replicas[1]
        .call(
            "POST",
            "/api/containers?count=2",
            &admin,
            Some(&deploy.to_string()),
        )
        .await;
    assert_eq!(s, 201, "{placed}");
    let ids: Vec<String> = placed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let mut engines_used: Vec<&str> = placed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["engine"]["id"].as_str().unwrap())
        .collect();
    engines_used.sort();
    assert_eq!(engines_used, ["a", "b"]);
    for r in [&replicas[0], &replicas[2]] {
        wait_for("the deploy is visible", Duration::from_secs(5), || async {
            let mut seen = 0;
            for id in &ids {
                let (s, _) = r
                    .call("GET", &format!("/api/containers/{id}"), &admin, None)
                    .await;
                seen += usize::from(s == 200);
            }
            seen == ids.len()
        })
        .await;
    }

    // A key made through 0 works through 2; deleted through 1, it is
    // refused by 0 and 2 at once.
    let (s, made) = replicas[0]
        .call(
            "POST",
            "/api/servicekeys",
            &admin,
            Some(r#"{"description":"replicated"}"#),
        )
        .await;
    assert_eq!(s, 200, "{made}");
    let key = made["key"].as_str().unwrap().to_string();
    let k = Cred::Key(key.clone());
    for r in &replicas {
        let (s, _) = r.call("GET", "/api/cluster/info", &k, None).await;
        assert_eq!(s, 200);
    }
    let (s, _) = replicas[1]
        .call(
            "DELETE",
            "/api/servicekeys",
            &admin,
            Some(&json!({ "key": key }).to_string()),
        )
        .await;
    assert_eq!(s, 204);
    for r in &replicas {
        let (s, _) = r.call("GET", "/api/cluster/info", &k, None).await;
        assert_eq!(s, 401, "a deleted key is refused by every replica at once");
    }

    // Kill the leader, lose engine B: another replica leads within 5 s and
    // moves B's container to A.
    let leader = leaders(&replicas)[0];
    replicas[leader].child.kill().unwrap();
    let killed = Instant::now();
    cut.store(true, Ordering::SeqCst);
    let survivors: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    let took = wait_for("another replica leads", Duration::from_secs(5), || async {
        survivors
            .iter()
            .any(|i| replicas[*i].log().contains("leading the cluster"))
    })
    .await;
    assert!(took < Duration::from_secs(5));
    let r = &replicas[survivors[0]];
    wait_for(
        "B's container runs on A",
        Duration::from_secs(15),
        || async {
            let (_, all) = r.call("GET", "/api/containers", &admin, None).await;
            all.as_array().is_some_and(|all| {
                all.len() == 2
                    && all
                        .iter()
                        .all(|c| c["engine"]["id"] == "a" && c["state"]["running"] == true)
            })
        },
    )
    .await;
    println!("reschedule done {:.1?} after the kill", killed.elapsed());
    // No duplicates, in the API of both survivors or on the engine.
    for i in &survivors {
        wait_for("the survivors agree", Duration::from_secs(5), || async {
            let (_, all) = replicas[*i]
                .call("GET", "/api/containers", &admin, None)
                .await;
            all.as_array().is_some_and(|a| a.len() == 2)
        })
        .await;
    }
    let owned = ContainerFilter {
        all: true,
        labels: vec![format!("io.shipcore.cluster={name}")],
        name: None,
    };
    let engine_a = DockerEngine::new(&EngineTarget::new("a", a.clone())).unwrap();
    let on_a = engine_a.list_containers(&owned).await.unwrap();
    assert_eq!(on_a.len(), 2, "exactly the two on A: {on_a:?}");

    // Clean up: the replicas first, then what they left on the engines.
    drop(replicas);
    let engine_b = DockerEngine::new(&EngineTarget::new("b", b_tcp.clone())).unwrap();
    for engine in [&engine_a, &engine_b] {
        for c in engine.list_containers(&owned).await.unwrap_or_default() {
            let _ = engine.remove_container(&c.id, true, true).await;
        }
    }
}
