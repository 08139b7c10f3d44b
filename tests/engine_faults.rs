//! Engine faults: engine B's dockerd frozen (SIGSTOP: it takes requests and
//! answers none) in the middle of a deploy and of a compose project's start.
//! Each fails within the engine timeout with a clear error, leaks no
//! reservation, and once the engine answers again the reconcile loop leaves
//! no container of the cluster behind and the project starts whole.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shipcore::model::{Health, Owner};
use shipcore::projects::{NewProject, Projects, ProjectsOptions};
use shipcore::sched::Strategy;
use shipcore::store::{MemoryStore, Store};
use support::*;

/// One test at a time freezes engine B (both run in this binary at once).
static ENGINE_B: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Engine B's dockerd, frozen until dropped.
struct Frozen(String);

impl Frozen {
    /// Freezes the dockerd that serves `addr` (a unix socket beside its
    /// pidfile, as `scripts/engines` lays engine B out).
    fn freeze(addr: &str) -> Frozen {
        let socket = addr.trim_start_matches("unix://");
        let pidfile = std::path::Path::new(socket)
            .parent()
            .unwrap()
            .join("dockerd.pid");
        let pid = std::fs::read_to_string(&pidfile)
            .unwrap_or_else(|e| panic!("{}: {e}", pidfile.display()))
            .trim()
            .to_string();
        assert!(Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success());
        Frozen(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.0]).status();
    }
}

/// The containers on `engine` that carry `label`.
fn labelled(engine: &str, label: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["-H", engine, "ps", "-aq", "--filter"])
        .arg(format!("label={label}"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

async fn healthy(c: &shipcore::cluster::Cluster, id: &str) {
    wait_for(
        &format!("engine {id} healthy"),
        Duration::from_secs(30),
        || {
            let c = c.clone();
            let id = id.to_string();
            async move { c.health(&id).await == Some(Health::Healthy) }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_cut_off_by_a_frozen_engine_fails_clearly_and_leaks_nothing() {
    let Some((a, b)) = engines() else { return };
    let _alone = ENGINE_B.lock().await;
    let name = unique("fault");
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let c = cluster_on(store, &a, &b, Strategy::Spread, &name).await;
    let _bg = c.start();
    healthy(&c, "b").await;
    let mut cfg = config(32);
    cfg.labels = vec!["zone==b".into()];
    cfg.args = vec!["sleep".into(), "600".into()];

    // Frozen at once, and a moment into the deploy (the container made,
    // not yet started, or not yet recorded).
    for (round, after) in [0u64, 150, 400].into_iter().enumerate() {
        let deploying = {
            let (c, cfg) = (c.clone(), cfg.clone());
            tokio::spawn(async move { c.deploy(cfg, 1).await })
        };
        tokio::time::sleep(Duration::from_millis(after)).await;
        let frozen = Frozen::freeze(&b);
        let began = Instant::now();
        let outcome = tokio::time::timeout(Duration::from_secs(60), deploying)
            .await
            .expect("the deploy ends while the engine is frozen")
            .unwrap();
        match outcome {
            // Done before the freeze took hold: undone below.
            Ok(placed) => {
                eprintln!("round {round}: placed before the freeze");
                drop(frozen);
                healthy(&c, "b").await;
                c.destroy(&placed[0].id).await.unwrap();
            }
            Err(e) => {
                eprintln!("round {round}: {e} after {:?}", began.elapsed());
                assert!(
                    matches!(
                        e,
                        shipcore::Error::Timeout { .. } | shipcore::Error::Unreachable { .. }
                    ),
                    "{e}"
                );
                assert!(e.to_string().contains("b"), "{e}");
                drop(frozen);
            }
        }
        // No reservation outlives the failure.
        assert_eq!(c.info().await.reserved_memory, 0);
        assert!(c.containers().await.is_empty());
        // Once B answers, reconcile removes what the cut-off deploy left.
        healthy(&c, "b").await;
        let label = format!("io.shipcore.cluster={name}");
        wait_for("no container left on B", Duration::from_secs(60), || {
            let (c, b, label) = (c.clone(), b.clone(), label.clone());
            async move {
                let _ = c.reconcile().await;
                labelled(&b, &label).is_empty()
            }
        })
        .await;
    }
    // And B takes deploys again.
    let placed = c.deploy(cfg, 1).await.unwrap();
    assert_eq!(placed[0].engine.id, "b");
    assert_eq!(c.info().await.reserved_memory, 32);
    clean(&c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_start_cut_off_by_a_frozen_engine_fails_clearly_then_starts_whole() {
    let Some((a, b)) = engines() else { return };
    let _alone = ENGINE_B.lock().await;
    let name = unique("pfault").replace(['-', '.'], "");
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let c = cluster_on(store.clone(), &a, &b, Strategy::Spread, &unique("pf")).await;
    let _bg = c.start();
    healthy(&c, "b").await;
    let opts = ProjectsOptions {
        poll: Duration::from_millis(100),
        ..ProjectsOptions::default()
    };
    let p = Projects::open(store, c.clone(), opts).await.unwrap();
    let template = format!(
        "x-shipcore-labels: [\"zone==b\"]\nservices:\n  web:\n    image: {IMAGE}\n    command: [\"sleep\", \"600\"]\n    scale: 2\n  side:\n    image: {IMAGE}\n    command: [\"sleep\", \"600\"]\n"
    );
    let req = NewProject {
        name: name.clone(),
        template,
        ..NewProject::default()
    };
    p.create(req, &Owner::system()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let frozen = Frozen::freeze(&b);
    let state = |p: Projects, name: String| async move {
        p.get(&name, false, false, &Owner::system())
            .await
            .map(|v| (v.current_state, v.reason))
            .unwrap()
    };
    wait_for("the start failed", Duration::from_secs(90), || {
        let (p, name) = (p.clone(), name.clone());
        async move { state(p, name).await.0 == "failed" }
    })
    .await;
    let (_, reason) = state(p.clone(), name.clone()).await;
    eprintln!("failed: {reason}");
    assert!(reason.contains("engine b"), "{reason}");
    drop(frozen);
    healthy(&c, "b").await;
    // Started again, it comes up whole: each replica once, all running.
    p.start(&name).await.unwrap();
    wait_for("the project runs", Duration::from_secs(90), || {
        let (p, name) = (p.clone(), name.clone());
        async move { state(p, name).await.0 == "running" }
    })
    .await;
    let label = format!("io.shipcore.project={name}");
    let running = Command::new("docker")
        .args(["-H", &b, "ps", "-q", "--filter", &format!("label={label}")])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&running.stdout)
            .split_whitespace()
            .count(),
        3
    );
    assert_eq!(labelled(&b, &label).len(), 3, "nothing half-made is left");
    p.delete(&name, true, true).await.unwrap();
    assert!(labelled(&b, &label).is_empty());
}

/// The project's containers on engine B: (version, running), sorted.
fn versions(b: &str, name: &str) -> Vec<(String, bool)> {
    let out = Command::new("docker")
        .args(["-H", b, "ps", "-a", "--format"])
        .arg("{{.Label \"io.shipcore.project.version\"}} {{.State}}")
        .args(["--filter", &format!("label=io.shipcore.project={name}")])
        .output()
        .unwrap();
    let mut v: Vec<(String, bool)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(v, s)| (v.to_string(), s == "running"))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_cut_off_by_a_frozen_engine_fails_clearly_and_ends_on_the_old_version() {
    let Some((a, b)) = engines() else { return };
    let _alone = ENGINE_B.lock().await;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let c = cluster_on(store.clone(), &a, &b, Strategy::Spread, &unique("uf")).await;
    let _bg = c.start();
    healthy(&c, "b").await;
    let opts = ProjectsOptions {
        poll: Duration::from_millis(100),
        reconcile_interval: Duration::from_secs(1),
        health_deadline: Duration::from_secs(30),
        ..ProjectsOptions::default()
    };
    let p = Projects::open(store, c.clone(), opts).await.unwrap();
    // The projects' reconcile round, as shipd runs it.
    let round = p.spawn_reconcile();
    let template = |secs: u32| {
        format!(
            "x-shipcore-labels: [\"zone==b\"]\nservices:\n  web:\n    image: {IMAGE}\n    command: [\"sleep\", \"{secs}\"]\n    mem_limit: 16m\n    scale: 2\n"
        )
    };
    let view = |p: Projects, name: String| async move {
        p.get(&name, false, false, &Owner::system()).await.unwrap()
    };
    for method in ["rolling", "blue-green"] {
        let name = unique("ufault").replace(['-', '.'], "");
        p.create(
            NewProject {
                name: name.clone(),
                template: template(600),
                version: Some("1.0".into()),
                ..NewProject::default()
            },
            &Owner::system(),
        )
        .await
        .unwrap();
        wait_for("the project runs", Duration::from_secs(90), || {
            let (p, name) = (p.clone(), name.clone());
            async move { view(p, name).await.current_state == "running" }
        })
        .await;
        let reserved = c.info().await.reserved_memory;
        p.update(
            &name,
            shipcore::projects::ProjectUpdate {
                template: Some(template(601)),
                version: "2.0".into(),
                update_method: Some(method.into()),
                ..Default::default()
            },
            &Owner::system(),
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let frozen = Frozen::freeze(&b);
        // The update fails with the engine's name, and does not hang.
        let began = Instant::now();
        wait_for(
            &format!("{method}: the update fails"),
            Duration::from_secs(90),
            || {
                let (p, name) = (p.clone(), name.clone());
                async move {
                    let v = view(p, name).await;
                    v.update
                        .is_some_and(|u| u.phase == "failed" || u.phase == "rolling-back")
                }
            },
        )
        .await;
        let v = view(p.clone(), name.clone()).await;
        let u = v.update.clone().unwrap();
        eprintln!(
            "{method}: {} after {:?}: {} / {}",
            u.phase,
            began.elapsed(),
            u.reason,
            v.reason
        );
        assert!(
            u.reason.contains("engine b") || v.reason.contains("engine b"),
            "{u:?} {}",
            v.reason
        );
        drop(frozen);
        healthy(&c, "b").await;
        // Blue-green waits to be told; rolling rolls back by itself.
        if method == "blue-green" {
            p.rollback(&name, false).await.unwrap();
        }
        wait_for(
            &format!("{method}: back on 1.0"),
            Duration::from_secs(90),
            || {
                let (p, name, b) = (p.clone(), name.clone(), b.clone());
                async move {
                    let v = view(p, name.clone()).await;
                    eprintln!(
                        "{} {:?} {:?}",
                        v.current_state,
                        v.update.as_ref().map(|u| &u.phase),
                        versions(&b, &name)
                    );
                    v.update.is_none()
                        && v.current_state == "running"
                        && versions(&b, &name) == [("1.0".into(), true), ("1.0".into(), true)]
                }
            },
        )
        .await;
        assert_eq!(view(p.clone(), name.clone()).await.version, "1.0");
        assert_eq!(
            c.info().await.reserved_memory,
            reserved,
            "no reservation left"
        );
        p.delete(&name, true, true).await.unwrap();
    }
    round.abort();
}

/// A build's record, once it has ended.
async fn build_ended(api: &support::http::Api, project: &str, id: &str) -> serde_json::Value {
    let began = Instant::now();
    loop {
        let r = api.build_record(project, id).await;
        if ["succeeded", "failed", "cancelled"].contains(&r["status"].as_str().unwrap_or("")) {
            return r;
        }
        assert!(
            began.elapsed() < Duration::from_secs(120),
            "build {id} did not end: {r}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_cut_off_by_a_frozen_engine_fails_clearly_and_leaks_nothing() {
    let Some((_, b)) = engines() else { return };
    let _alone = ENGINE_B.lock().await;
    // Engine B alone: the build goes there.
    let fixture = shipcore::testing::Fixture::on(
        Arc::new(MemoryStore::new()),
        docker(),
        options(&unique("bf"), Strategy::Spread),
    )
    .await
    .unwrap();
    fixture
        .cluster
        .add_engine(record("b", &b, 1024, &["zone=b"]))
        .await
        .unwrap();
    let api = support::http::start(fixture).await;
    let _bg = api.cluster.start();
    healthy(&api.cluster, "b").await;
    let project = unique("bfault").to_lowercase().replace(['_', '.'], "-");
    api.build_api(
        "/api/project/new",
        serde_json::json!({"projectName": project}),
    )
    .await;
    api.build_api(
        "/api/project/save",
        serde_json::json!({
            "project": project, "Cluster": "default_cluster", "DefineDockerFileType": "define",
            "addOrUpdate": "update",
            "dockerfile": format!("FROM {IMAGE}\nRUN sleep 3 && echo slept > /slept\n"),
        }),
    )
    .await;
    let containers = || {
        let out = Command::new("docker")
            .args(["-H", &b, "ps", "-aq"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let before = containers();
    let build = |tag: &'static str| {
        let (api, project) = (&api, project.clone());
        async move {
            let v = api
                .build_api(
                    "/api/project/build",
                    serde_json::json!({"projectName": project, "operator": "root", "tag": tag}),
                )
                .await;
            v["content"]["idStr"].as_str().unwrap().to_string()
        }
    };
    let id = build("1.0").await;
    // Frozen while its RUN step sleeps.
    wait_for("the build runs", Duration::from_secs(60), || async {
        let (_, h) = api
            .call(
                "GET",
                &format!("/api/project/build/{id}/log"),
                &support::http::admin(),
                None,
            )
            .await;
        h["content"]["lines"].to_string().contains("sleep 3")
    })
    .await;
    let frozen = Frozen::freeze(&b);
    let began = Instant::now();
    let r = build_ended(&api, &project, &id).await;
    eprintln!(
        "ended {} after {:?}: {}",
        r["status"],
        began.elapsed(),
        r["reason"]
    );
    assert_eq!(r["status"], "failed", "{r}");
    assert!(r.to_string().contains("engine b"), "{r}");
    // Its room on B is given back at once.
    let info = api.cluster.info().await;
    assert_eq!((info.reserved_cpus, info.reserved_memory), (0, 0));
    drop(frozen);
    healthy(&api.cluster, "b").await;
    // What the cut-off build left on B goes, and B builds again.
    wait_for(
        "no build container left",
        Duration::from_secs(60),
        || async { containers() <= before },
    )
    .await;
    let again = build("2.0").await;
    let r = build_ended(&api, &project, &again).await;
    assert_eq!(r["status"], "succeeded", "{r}");
}
