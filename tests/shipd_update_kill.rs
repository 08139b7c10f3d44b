//! SIGKILL in the middle of a blue-green update: `shipd` (the process) on
//! the test bed's engine A runs a compose project, starts a blue-green
//! update whose new containers take seconds to become healthy, and is
//! killed while the update is under way: once as the new version starts,
//! once while it is verified. Restarted on the same data folder, it rolls
//! back an update killed while starting and resumes one killed while
//! verified (ready to confirm); either way the engine holds exactly the containers of the versions
//! the project shows, none half-made, and a confirm (or the rollback) then
//! leaves only one version. Deleting the project leaves nothing behind.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::http::Cred;
use support::shipd::Shipd;
use support::*;

/// Each replica becomes healthy a few seconds after it starts.
fn template() -> String {
    format!(
        r#"
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "sleep 3; touch /tmp/ok; exec sleep 3600"]
    scale: 2
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ok"]
      interval: 500ms
      retries: 40
  cache:
    image: {IMAGE}
    command: ["sleep", "3600"]
"#
    )
}

/// The project's containers on the engine, by version: how many, and
/// how many run.
fn on_engine(engine: &str, project: &str) -> BTreeMap<String, (usize, usize)> {
    let out = Command::new("docker")
        .args([
            "-H",
            engine,
            "ps",
            "-a",
            "--filter",
            &format!("label=io.shipcore.project={project}"),
            "--format",
            "{{.Label \"io.shipcore.project.version\"}} {{.State}}",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut by_version: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (version, state) = line.split_once(' ').unwrap_or((line, ""));
        let e = by_version.entry(version.to_string()).or_default();
        e.0 += 1;
        if state == "running" {
            e.1 += 1;
        }
    }
    by_version
}

/// Removes the project's containers whatever the test's outcome.
struct Cleanup(String, String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let ids = Command::new("docker")
            .args(["-H", &self.0, "ps", "-aq", "--filter"])
            .arg(format!("label=io.shipcore.project={}", self.1))
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for id in ids.split_whitespace() {
            let _ = Command::new("docker")
                .args(["-H", &self.0, "rm", "-f", id])
                .output();
        }
    }
}

async fn view(s: &Shipd, cred: &Cred, name: &str) -> Value {
    let (status, p) = s
        .call(
            "GET",
            &format!("/projects/{name}?containers=true"),
            cred,
            None,
        )
        .await;
    assert_eq!(status, 200, "{p}");
    p
}

async fn until(
    s: &Shipd,
    cred: &Cred,
    name: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let p = view(s, cred, name).await;
        if check(&p) {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never {what}: {p}\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn sigkill_during_a_blue_green_update_leaves_a_consistent_project() {
    let Some((a, _)) = engines() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = Cred::Basic("admin".into(), "kill-test-pw".into());
    let name = unique("kill").replace(['-', '.'], "");
    let _cleanup = Cleanup(a.clone(), name.clone());

    let mut first = Shipd::start(
        &data,
        &tmp.path().join("first.log"),
        &a,
        "kill-test-pw",
        false,
    );
    first.ready(&admin).await;
    let body =
        serde_json::json!({"name": name, "template": template(), "version": "v1"}).to_string();
    let (s, p) = first.call("POST", "/projects", &admin, Some(&body)).await;
    assert_eq!(s, 201, "{p}");
    until(&first, &admin, &name, "running", |p| {
        p["current_state"] == "running"
    })
    .await;
    assert_eq!(on_engine(&a, &name)["v1"], (3, 3));

    // Twice: killed as the new version starts (or is verified), then
    // while it is verified (its containers run but are not healthy yet).
    let mut shipd = first;
    let mut current = "v1".to_string();
    for (round, (version, phases)) in [
        ("v2", &["starting", "verifying"][..]),
        ("v3", &["verifying"][..]),
    ]
    .into_iter()
    .enumerate()
    {
        let update = format!(r#"{{"version":"{version}","update_method":"blue-green"}}"#);
        let path = format!("/projects/{name}/update");
        let (s, e) = shipd.call("POST", &path, &admin, Some(&update)).await;
        assert_eq!(s, 202, "{e}");
        let at = until(&shipd, &admin, &name, "updating", |p| {
            phases.contains(&p["update"]["phase"].as_str().unwrap_or(""))
        })
        .await;
        shipd.child.kill().unwrap();
        shipd.child.wait().unwrap();
        eprintln!("round {round}: killed in phase {}", at["update"]["phase"]);

        let log = tmp.path().join(format!("after-{round}.log"));
        shipd = Shipd::start(&data, &log, &a, "kill-test-pw", false);
        shipd.ready(&admin).await;
        // Resumed (ready to confirm) or rolled back: settled either way.
        let p = until(&shipd, &admin, &name, "settled", |p| {
            p["update"].is_null() || p["update"]["phase"] == "ready"
        })
        .await;
        let engine = on_engine(&a, &name);
        if p["update"].is_null() {
            eprintln!("round {round}: rolled back");
            assert_eq!(p["version"], current.as_str(), "{p}");
            assert_eq!(engine.len(), 1, "only {current} remains: {engine:?}");
            assert_eq!(engine[&current], (3, 3), "{engine:?}");
        } else {
            eprintln!("round {round}: resumed");
            assert_eq!(engine.len(), 2, "both versions: {engine:?}");
            assert_eq!(
                engine[&current],
                (3, 3),
                "the old version serves: {engine:?}"
            );
            assert_eq!(engine[version], (3, 3), "the new one is whole: {engine:?}");
            let (s, e) = shipd
                .call(
                    "POST",
                    &format!("/projects/{name}/confirm-update"),
                    &admin,
                    None,
                )
                .await;
            assert_eq!(s, 202, "{e}");
            until(&shipd, &admin, &name, "confirmed", |p| {
                p["update"].is_null() && p["version"] == version
            })
            .await;
            let engine = on_engine(&a, &name);
            assert_eq!(engine.len(), 1, "only {version} remains: {engine:?}");
            assert_eq!(engine[version], (3, 3), "{engine:?}");
            current = version.to_string();
        }
        assert_eq!(
            view(&shipd, &admin, &name).await["current_state"],
            "running"
        );
    }
    let mut second = shipd;

    let (s, e) = second
        .call(
            "DELETE",
            &format!("/projects/{name}?force=true&v=true"),
            &admin,
            None,
        )
        .await;
    assert_eq!(s, 200, "{e}");
    assert!(on_engine(&a, &name).is_empty(), "nothing left behind");
    assert!(second.terminate().success(), "{}", second.log());
}
