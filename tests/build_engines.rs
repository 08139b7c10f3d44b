//! Build projects over the test bed's real engines: a project built on an
//! engine the scheduler picks, pushed into shipd's registry, pulled onto the
//! other engine and run there, its output showing the built file and its
//! image carrying the label stamper's labels; a Dockerfile the engine
//! refuses and one the linter refuses both end `failed` with the reason in
//! the log. Prints the time from `build` to `succeeded` beside `docker
//! build` + `docker push` of the same context by the CLI.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use serde_json::{json, Value};
use shipcore::engine::{ContainerSpec, LogOptions};
use shipcore::store::MemoryStore;
use support::http::{admin, api, Api};
use support::*;

/// Builds `project` as `tag`; the ended record and the time it took.
async fn build(api: &Api, project: &str, tag: &str) -> (Value, Duration) {
    let started = Instant::now();
    let v = api
        .build_api(
            "/api/project/build",
            json!({"projectName": project, "operator": "root", "tag": tag}),
        )
        .await;
    let id = v["content"]["idStr"].as_str().unwrap().to_string();
    let mut seen = Vec::new();
    for _ in 0..1200 {
        let r = api.build_record(project, &id).await;
        assert!(!r.is_null(), "build {id} is not listed");
        let status = r["status"].as_str().unwrap().to_string();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if ["succeeded", "failed", "cancelled"].contains(&status.as_str()) {
            let elapsed = started.elapsed();
            // A build that succeeded was seen running on the way (it
            // takes the engine half a second at least).
            if status == "succeeded" {
                assert!(seen.contains(&"running".to_string()), "{seen:?}");
            }
            return (r, elapsed);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("build {id} did not end: {seen:?}");
}

async fn log(api: &Api, id: &str) -> String {
    let (_, v) = api
        .call(
            "GET",
            &format!("/api/project/build/{id}/log"),
            &admin(),
            None,
        )
        .await;
    v["content"]["lines"].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_builds_pushes_and_runs_on_another_engine() {
    let Some((a, b)) = engines() else { return };
    let api = api(Arc::new(MemoryStore::new()), &a, &b, &unique("bld")).await;
    let marker = unique("built");
    let project = unique("web").to_lowercase().replace('_', "-");
    api.build_api("/api/project/new", json!({"projectName": project}))
        .await;
    let dockerfile = format!("FROM {IMAGE}\nCOPY note.txt /note.txt\nRUN echo {marker} > /built.txt\nCMD [\"cat\", \"/built.txt\", \"/note.txt\"]\n");
    use base64::Engine as _;
    let note = base64::engine::general_purpose::STANDARD.encode("from the context\n");
    api.build_api(
        "/api/project/save",
        json!({
            "project": project, "Cluster": "default_cluster", "DefineDockerFileType": "define",
            "addOrUpdate": "update", "dockerfile": dockerfile, "files": {"note.txt": note},
            "$$plugin": [{"name": "label-stamp"}],
        }),
    )
    .await;
    let (r, took) = build(&api, &project, "1.0").await;
    assert_eq!(
        r["status"],
        "succeeded",
        "{r}\n{}",
        log(&api, r["idStr"].as_str().unwrap()).await
    );
    let image = r["image"].as_str().unwrap().to_string();
    assert_eq!(
        image,
        format!("{}/default_cluster/{project}:1.0", api.registry_host)
    );
    let built_on = r["engine"].as_str().unwrap().to_string();
    let text = log(&api, r["idStr"].as_str().unwrap()).await;
    assert!(
        text.contains("Step 1/") && text.contains("Successfully built"),
        "{text}"
    );
    assert!(
        !text.contains("\"Pushing\""),
        "per-layer progress stays out: {text}"
    );

    // The registry holds it; the other engine pulls it from there (with
    // the engines' pull credentials) and runs it.
    let docs = api.cluster.engines().await;
    let other = docs
        .iter()
        .find(|e| e.record.engine.id != built_on)
        .unwrap();
    let backend = api.cluster.backend(&other.record.engine.id).await.unwrap();
    let auth = api.cluster.registry_credentials().for_image(&image);
    let mut pull = backend.pull_image(&image, auth);
    while let Some(p) = pull.next().await {
        p.unwrap();
    }
    let details = backend.inspect_image(&image).await.unwrap();
    assert_eq!(details.labels["org.shipcore.build.project"], project);
    assert_eq!(details.labels["org.shipcore.build.tag"], "1.0");
    assert_eq!(details.labels["org.shipcore.build.operator"], "admin");
    assert_eq!(
        details.labels["org.shipcore.build.source-digest"],
        r["sourceDigest"].as_str().unwrap()
    );
    let name = unique("bldrun");
    let id = backend
        .create_container(&ContainerSpec {
            name: Some(name.clone()),
            image: image.clone(),
            ..ContainerSpec::default()
        })
        .await
        .unwrap();
    backend.start_container(&id).await.unwrap();
    let mut out = String::new();
    for _ in 0..50 {
        let mut logs = backend.logs(&id, &LogOptions::default());
        out.clear();
        while let Some(chunk) = logs.next().await {
            out.push_str(&String::from_utf8_lossy(&chunk.unwrap().data));
        }
        if out.contains(&marker) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = backend.remove_container(&id, true, false).await;
    assert!(
        out.contains(&marker) && out.contains("from the context"),
        "{out}"
    );

    // The same context by the CLI: docker build + docker push.
    let context = tempfile::tempdir().unwrap();
    std::fs::write(context.path().join("Dockerfile"), &dockerfile).unwrap();
    std::fs::write(context.path().join("note.txt"), "from the context\n").unwrap();
    let config = tempfile::tempdir().unwrap();
    let cli_image = format!("{}/cli/{project}:1.0", api.registry_host);
    let docker = |args: &[&str]| {
        let out = Command::new("docker")
            .env("DOCKER_HOST", &a)
            .env("DOCKER_CONFIG", config.path())
            .env("DOCKER_BUILDKIT", "0")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let mut login = Command::new("docker")
        .env("DOCKER_HOST", &a)
        .env("DOCKER_CONFIG", config.path())
        .args([
            "login",
            &api.registry_host,
            "-u",
            "admin",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        login
            .stdin
            .take()
            .unwrap()
            .write_all(shipcore::testing::ADMIN_PASSWORD.as_bytes())
            .unwrap();
    }
    assert!(login.wait().unwrap().success());
    let cli_started = Instant::now();
    docker(&[
        "build",
        "--no-cache",
        "-q",
        "-t",
        &cli_image,
        &context.path().to_string_lossy(),
    ]);
    docker(&["push", &cli_image]);
    let cli_took = cli_started.elapsed();
    println!(
        "FIGURE build to succeeded: {:.2} s; docker build + docker push by the CLI: {:.2} s",
        took.as_secs_f64(),
        cli_took.as_secs_f64()
    );
    for img in [&image, &cli_image] {
        let _ = Command::new("docker")
            .env("DOCKER_HOST", &a)
            .args(["rmi", img])
            .output();
        let _ = Command::new("docker")
            .env("DOCKER_HOST", &b)
            .args(["rmi", img])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_error_and_the_linter_fail_builds_with_the_reason() {
    let Some((a, b)) = engines() else { return };
    let api = api(Arc::new(MemoryStore::new()), &a, &b, &unique("bldf")).await;
    api.build_api("/api/project/new", json!({"projectName": "broken"}))
        .await;
    api.build_api(
        "/api/project/save",
        json!({"project": "broken", "dockerfile": format!("FROM {IMAGE}\nRUNN echo nope\n")}),
    )
    .await;
    let (r, _) = build(&api, "broken", "1").await;
    assert_eq!(r["status"], "failed", "{r}");
    let text = log(&api, r["idStr"].as_str().unwrap()).await;
    assert!(
        text.to_lowercase().contains("unknown instruction"),
        "{text}"
    );

    api.build_api("/api/project/new", json!({"projectName": "loose"}))
        .await;
    api.build_api("/api/project/save",
        json!({"project": "loose", "dockerfile": format!("FROM {IMAGE}\n"), "$$plugin": [{"name": "dockerfile-lint"}]}),
    )
    .await;
    let (r, _) = build(&api, "loose", "1").await;
    assert_eq!(r["status"], "failed", "{r}");
    assert!(r["reason"].as_str().unwrap().contains("latest"), "{r}");
    assert!(r["engine"].is_null(), "refused before any engine: {r}");
}
