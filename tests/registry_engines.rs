//! The registry with real clients over the test bed: the docker CLI logs in,
//! pushes, pulls back and runs an image; skopeo copies between shipcore's
//! registry and Debian's docker-registry both ways; the cluster deploys an
//! image that exists only in shipcore's registry (the engine pulls it with
//! the engines' own credentials, the docker CLI logged out).
#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Command, Stdio};
use std::sync::Arc;

use serde_json::json;
use shipcore::store::MemoryStore;
use support::http::{admin, api};
use support::*;

/// Runs a command; its stdout, or a panic with its stderr.
fn run(cmd: &mut Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `docker login` to shipd's registry as the admin (the password on stdin).
fn login(engine: &str, config: &std::path::Path, host: &str) {
    let mut login = docker(engine, config)
        .args(["login", host, "-u", "admin", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut stdin = login.stdin.take().unwrap();
        stdin
            .write_all(shipcore::testing::ADMIN_PASSWORD.as_bytes())
            .unwrap();
    }
    let out = login.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "docker login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `docker` against engine A, with a configuration folder of its own (its
/// logins stay out of the machine's).
fn docker(engine: &str, config: &std::path::Path) -> Command {
    let mut c = Command::new("docker");
    c.env("DOCKER_HOST", engine)
        .env("DOCKER_CONFIG", config)
        .env("DOCKER_BUILDKIT", "0");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_and_skopeo_push_and_pull_and_the_cluster_deploys_from_it() {
    let Some((a, b)) = engines() else { return };
    let Some(reference) = registry() else { return };
    let api = api(Arc::new(MemoryStore::new()), &a, &b, &unique("reg")).await;
    let host = api.registry_host.clone();
    let config = tempfile::tempdir().unwrap();
    let marker = unique("built");
    let image = format!("{host}/e2e/app:1");

    // An image of its own: busybox and a file no other image has.
    let context = tempfile::tempdir().unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        format!("FROM {IMAGE}\nRUN echo {marker} > /marker.txt\n"),
    )
    .unwrap();
    run(docker(&a, config.path())
        .args(["build", "-q", "-t", &image])
        .arg(context.path()));

    // docker login, push, rmi, pull, run.
    login(&a, config.path(), &host);
    run(docker(&a, config.path()).args(["push", &image]));
    run(docker(&a, config.path()).args(["rmi", &image]));
    let pulled = run(docker(&a, config.path()).args(["pull", &image]));
    assert!(pulled.contains("Downloaded newer image"), "{pulled}");
    let shown = run(docker(&a, config.path()).args(["run", "--rm", &image, "cat", "/marker.txt"]));
    assert_eq!(shown.trim(), marker);
    // A wrong password is refused by docker login.
    let out = docker(&a, config.path())
        .args(["login", &host, "-u", "admin", "-p", "wrong-password"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    run(docker(&a, config.path()).args(["logout", &host]));

    // skopeo: shipcore → docker-registry → shipcore (under another name).
    let creds = format!("admin:{}", shipcore::testing::ADMIN_PASSWORD);
    let there = format!("{reference}/e2e-{marker}/app:1");
    run(Command::new("skopeo").args([
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--src-creds",
        &creds,
        &format!("docker://{image}"),
        &format!("docker://{there}"),
    ]));
    let back = format!("{host}/e2e/back:2");
    run(Command::new("skopeo").args([
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds,
        &format!("docker://{there}"),
        &format!("docker://{back}"),
    ]));
    let inspected = run(Command::new("skopeo").args([
        "inspect",
        "--tls-verify=false",
        "--creds",
        &creds,
        &format!("docker://{back}"),
    ]));
    let inspected: serde_json::Value = serde_json::from_str(&inspected).unwrap();
    assert_eq!(inspected["RepoTags"], json!(["2"]));
    let tags = run(Command::new("skopeo").args([
        "list-tags",
        "--tls-verify=false",
        "--creds",
        &creds,
        &format!("docker://{host}/e2e/app"),
    ]));
    assert!(tags.contains("\"1\""), "{tags}");

    // The cluster deploys an image only shipcore's registry holds: neither
    // engine has it, and the docker CLI is logged out.
    let _ = docker(&a, config.path()).args(["rmi", &image]).output();
    let _ = docker(&b, config.path()).args(["rmi", &back]).output();
    let body = json!({
        "name": back, "cpus": 0.05, "memory": 16,
        "args": ["sh", "-c", "cat /marker.txt; exec sleep 600"],
    })
    .to_string();
    let (s, placed) = api
        .call("POST", "/api/containers", &admin(), Some(&body))
        .await;
    assert_eq!(s, 201, "{placed}");
    let id = placed[0]["id"].as_str().unwrap().to_string();
    let engine = placed[0]["engine"]["addr"].as_str().unwrap().to_string();
    let (_, logs) = api
        .call("GET", &format!("/api/containers/{id}/logs"), &admin(), None)
        .await;
    let mut text = logs.to_string();
    for _ in 0..50 {
        if text.contains(&marker) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        text = api
            .call("GET", &format!("/api/containers/{id}/logs"), &admin(), None)
            .await
            .1
            .to_string();
    }
    assert!(text.contains(&marker), "{text}");
    clean(&api.cluster).await;
    let _ = docker(&engine, config.path()).args(["rmi", &back]).output();
    let _ = docker(&a, config.path()).args(["rmi", &back]).output();
}

/// An immutable tag refuses `docker push` of other content under it, with
/// a message the docker CLI shows its user; the same image pushed again
/// goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_push_over_an_immutable_tag_is_refused_with_the_reason() {
    let Some((a, b)) = engines() else { return };
    let api = api(Arc::new(MemoryStore::new()), &a, &b, &unique("imm")).await;
    let host = api.registry_host.clone();
    let config = tempfile::tempdir().unwrap();
    let (status, body) = api
        .call(
            "PUT",
            "/api/registry/rules?repository=e2e/frozen",
            &admin(),
            Some(r#"{"immutable":["1.*"]}"#),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let image = format!("{host}/e2e/frozen:1.0");
    let build = |marker: &str| {
        let context = tempfile::tempdir().unwrap();
        std::fs::write(
            context.path().join("Dockerfile"),
            format!("FROM {IMAGE}\nRUN echo {marker} > /marker.txt\n"),
        )
        .unwrap();
        run(docker(&a, config.path())
            .args(["build", "-q", "-t", &image])
            .arg(context.path()));
    };
    login(&a, config.path(), &host);
    build(&unique("first"));
    run(docker(&a, config.path()).args(["push", &image]));
    // The same image again: no change, fine.
    run(docker(&a, config.path()).args(["push", &image]));
    // Other content under the immutable tag: docker says why it failed.
    build(&unique("second"));
    let out = docker(&a, config.path())
        .args(["push", &image])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the push went through");
    assert!(
        said.contains("denied") && said.contains("tag 1.0 is immutable (rule \"1.*\")"),
        "docker shows: {said}"
    );
    run(docker(&a, config.path()).args(["rmi", &image]));
}
