//! The `shipd` example as a process, run as users run it: the first start
//! on an empty data folder (the admin account, the local engine), SIGTERM,
//! and a restart on the same folder that keeps accounts, keys, engines and
//! containers.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::http::Cred;
use support::shipd::{shipd_binary, Shipd};
use support::*;

#[tokio::test]
async fn shipd_keeps_accounts_keys_engines_and_containers_across_a_restart() {
    let Some((a, _)) = engines() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = Cred::Basic("admin".into(), "first-pw".into());

    // First start: the admin account from SHIPD_ADMIN_PASSWORD, and the
    // engine of DOCKER_HOST registered as `local`.
    let mut first = Shipd::start(&data, &tmp.path().join("first.log"), &a, "first-pw", false);
    first.ready(&admin).await;
    let (s, body) = first
        .call(
            "POST",
            "/api/accounts",
            &admin,
            Some(r#"{"username":"ops","password":"ops-pw","role":{"name":"user"}}"#),
        )
        .await;
    assert_eq!(s, 204, "{body}");
    let (s, key) = first
        .call(
            "POST",
            "/api/servicekeys",
            &admin,
            Some(r#"{"description":"ci"}"#),
        )
        .await;
    assert_eq!(s, 200, "{key}");
    let key = Cred::Key(key["key"].as_str().unwrap().to_string());
    let (_, engines) = first.call("GET", "/api/engines", &key, None).await;
    assert_eq!(engines[0]["id"], "local", "{engines}");
    assert_eq!(engines[0]["engine"]["addr"], a.as_str());
    let deploy = r#"{"name":"shipcore/busybox:latest","cpus":0.1,"memory":32,
        "args":["sleep","600"],"restart_policy":{"name":"always"}}"#;
    let (s, placed) = first
        .call("POST", "/api/containers", &key, Some(deploy))
        .await;
    assert_eq!(s, 201, "{placed}");
    let id = placed[0]["id"].as_str().unwrap().to_string();

    // The data folder is its owner's alone; the state file too.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("state.redb")), 0o600);
    }
    // A webhook's key never reaches the log.
    let (_, hook) = first
        .call(
            "POST",
            "/api/webhookkeys",
            &admin,
            Some(r#"{"image":"shipcore/nothing"}"#),
        )
        .await;
    let hook = hook["key"].as_str().unwrap().to_string();
    let push = r#"{"repository":{"repo_name":"shipcore/nothing"}}"#;
    let (s, _) = first
        .call(
            "POST",
            &format!("/hub/webhook/{hook}"),
            &Cred::None,
            Some(push),
        )
        .await;
    assert_eq!(s, 200);

    // The cluster's identity, made at this first start, printed and shown.
    let identity = first
        .log()
        .lines()
        .find_map(|l| l.strip_prefix("cluster ").map(str::to_string))
        .unwrap_or_else(|| panic!("no identity printed: {}", first.log()));
    let (_, info) = first.call("GET", "/api/cluster/info", &key, None).await;
    assert_eq!(info["cluster"], identity.as_str(), "{info}");

    // SIGTERM while a deploy is in flight: the request finishes, then
    // shipd stops.
    let (answer, ()) = tokio::join!(
        first.call("POST", "/api/containers", &key, Some(deploy)),
        async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            first.signal_term();
        }
    );
    assert_eq!(
        answer.0, 201,
        "the request in flight is answered: {}",
        answer.1
    );
    let in_flight = answer.1[0]["id"].as_str().unwrap().to_string();
    let status = first.wait();
    assert!(status.success(), "exit {status}: {}", first.log());
    assert!(
        !first.log().contains(&hook),
        "the webhook key is in the log"
    );
    assert!(
        first.log().contains("/hub/webhook/{key}"),
        "{}",
        first.log()
    );
    assert!(first.log().contains("shipd stopped"), "{}", first.log());

    // Restart on the same folder. The admin password is not reset from the
    // environment: the account exists.
    // This time with JSON logs.
    let mut second = Shipd::start(&data, &tmp.path().join("second.log"), &a, "second-pw", true);
    second.ready(&key).await;
    let (s, _) = second.call("GET", "/api/accounts", &admin, None).await;
    assert_eq!(s, 200, "the admin password is the first one");
    let second_pw = Cred::Basic("admin".into(), "second-pw".into());
    assert_eq!(
        second
            .call("GET", "/api/accounts", &second_pw, None)
            .await
            .0,
        401
    );
    let ops = Cred::Basic("ops".into(), "ops-pw".into());
    let (s, list) = second.call("GET", "/api/containers", &ops, None).await;
    assert_eq!(s, 200, "the account and its role survive: {list}");
    let mut listed: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    listed.sort();
    let mut want = vec![id.as_str(), in_flight.as_str()];
    want.sort();
    assert_eq!(
        listed, want,
        "both deploys, the one in flight at SIGTERM too"
    );
    assert_eq!(second.call("GET", "/api/accounts", &ops, None).await.0, 403);
    let (_, engines) = second.call("GET", "/api/engines", &key, None).await;
    assert_eq!(engines.as_array().unwrap().len(), 1, "{engines}");
    let (s, c) = second
        .call("GET", &format!("/api/containers/{id}"), &key, None)
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["state"]["running"], true, "{c}");
    assert_eq!(c["engine"]["id"], "local");

    assert!(
        second.log().contains(&format!("cluster {identity}")),
        "the same identity after a restart: {}",
        second.log()
    );
    // The engine is checked at once after the restart and takes
    // containers again.
    let (s, again) = second
        .call("POST", "/api/containers", &key, Some(deploy))
        .await;
    assert_eq!(s, 201, "{again}");
    for id in [
        id.as_str(),
        in_flight.as_str(),
        again[0]["id"].as_str().unwrap(),
    ] {
        let (s, _) = second
            .call("DELETE", &format!("/api/containers/{id}"), &key, None)
            .await;
        assert_eq!(s, 204);
    }

    // One log line per request: key=value text, or JSON objects.
    assert!(
        first
            .log()
            .contains("method=POST path=\"/api/containers\" status=201"),
        "{}",
        first.log()
    );
    let deleted = second
        .log()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["method"] == "DELETE")
        .unwrap_or_else(|| panic!("no JSON request line: {}", second.log()));
    assert_eq!(deleted["fields"]["status"], 204, "{deleted}");
    assert!(deleted["fields"]["request_id"].is_u64(), "{deleted}");
    assert!(deleted["fields"]["latency_ms"].is_f64(), "{deleted}");
    assert!(second.terminate().success(), "{}", second.log());
}

#[test]
fn a_made_up_admin_password_goes_to_stderr_and_a_short_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    // No engine is needed: stop at once, through a refused listen address.
    let run = |password: Option<&str>| {
        let mut cmd = Command::new(shipd_binary());
        cmd.args(["--listen", "256.0.0.1:1", "--data"])
            .arg(tmp.path().join("data"))
            .env("DOCKER_HOST", "unix:///nonexistent.sock")
            .env_remove("SHIPD_ADMIN_PASSWORD");
        if let Some(p) = password {
            cmd.env("SHIPD_ADMIN_PASSWORD", p);
        }
        cmd.output().unwrap()
    };
    let short = run(Some("short"));
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("shorter than 8"),
        "{}",
        String::from_utf8_lossy(&short.stderr)
    );
    let made = run(None);
    let (out, err) = (
        String::from_utf8_lossy(&made.stdout),
        String::from_utf8_lossy(&made.stderr),
    );
    assert!(
        err.contains("created account admin with password: "),
        "{err}"
    );
    assert!(!out.contains("password: "), "{out}");
}
