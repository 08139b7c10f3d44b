//! shipd (the process) killed with SIGKILL while a build runs on engine A:
//! after a restart on the same data folder the build is `failed` with the
//! reason, not running forever, and the project builds again.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::http::Cred;
use support::shipd::Shipd;
use support::*;

const PASSWORD: &str = "build-kill-pw";

fn admin() -> Cred {
    Cred::Basic("admin".into(), PASSWORD.into())
}

async fn record(shipd: &Shipd, id: &str) -> Value {
    let (s, v) = shipd
        .call(
            "GET",
            "/api/project/buildHistory?projectName=slow",
            &admin(),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    v["content"]
        .as_array()
        .and_then(|l| l.iter().find(|r| r["idStr"] == id))
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_running_at_sigkill_ends_failed_after_the_restart() {
    let Some((a, _)) = engines() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("shipd.log");
    let mut shipd = Shipd::start(&data, &log, &a, PASSWORD, false);
    shipd.ready(&admin()).await;
    let (s, v) = shipd
        .call(
            "POST",
            "/api/project/new",
            &admin(),
            Some(r#"{"projectName":"slow"}"#),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let save = json!({"project": "slow", "dockerfile": format!("FROM {IMAGE}\nRUN sleep 4\n")});
    let (s, v) = shipd
        .call(
            "POST",
            "/api/project/save",
            &admin(),
            Some(&save.to_string()),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = shipd
        .call(
            "POST",
            "/api/project/build",
            &admin(),
            Some(r#"{"projectName":"slow","tag":"1"}"#),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let id = v["content"]["idStr"].as_str().unwrap().to_string();
    let mut running = false;
    for _ in 0..100 {
        if record(&shipd, &id).await["status"] == "running" {
            running = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(running, "{}", record(&shipd, &id).await);
    shipd.child.kill().unwrap();
    shipd.child.wait().unwrap();

    let mut again = Shipd::start(&data, &log, &a, PASSWORD, false);
    again.ready(&admin()).await;
    let r = record(&again, &id).await;
    assert_eq!(r["status"], "failed", "{r}");
    assert!(r["reason"].as_str().unwrap().contains("stopped"), "{r}");
    assert!(r["endTime"].is_string(), "{r}");
    // The project builds again after the restart.
    let (s, v) = again
        .call(
            "POST",
            "/api/project/build",
            &admin(),
            Some(r#"{"projectName":"slow","tag":"2"}"#),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let next = v["content"]["idStr"].as_str().unwrap().to_string();
    let mut end = Value::Null;
    for _ in 0..400 {
        end = record(&again, &next).await;
        if end["status"] == "succeeded" || end["status"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(end["status"], "succeeded", "{end}\n{}", again.log());
    assert!(
        end["digest"].as_str().unwrap().starts_with("sha256:"),
        "{end}"
    );
    again.terminate();
}
