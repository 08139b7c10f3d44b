//! Seed 002 part 1 over HTTP, on fake engines (no engine needed): every
//! endpoint of the packaging API in its `{code, errMsg, content}` envelope
//! with the seed's codes and the HTTP status, the seed's own form-encoded
//! extension call, a build followed live over server-sent events, the
//! configuration page with hostile values escaped, and the role rules.
//! Builds on a real engine, pushed into shipd's registry and run on
//! another engine: `build_engines.rs`.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use shipcore::testing::Fixture;
use support::http::{admin, start, Api, Cred};

async fn post(api: &Api, path: &str, body: &str) -> (u16, Value) {
    api.call("POST", path, &admin(), Some(body)).await
}

fn code(v: &Value) -> u64 {
    v["code"].as_u64().unwrap_or_default()
}

async fn wait_status(api: &Api, project: &str, id: &str) -> Value {
    for _ in 0..200 {
        let (_, h) = api
            .call(
                "GET",
                &format!("/api/project/buildHistory?projectName={project}&operator=admin"),
                &admin(),
                None,
            )
            .await;
        if let Some(r) = h["content"]
            .as_array()
            .and_then(|l| l.iter().find(|r| r["idStr"] == id))
        {
            let s = r["status"].as_str().unwrap_or_default();
            if ["succeeded", "failed", "cancelled"].contains(&s) {
                return r.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("build {id} did not end");
}

#[tokio::test]
async fn every_endpoint_answers_in_the_seed_envelope_with_its_codes() {
    let api = start(Fixture::fake(2, 4_000, 8_192, &["app:1"]).await.unwrap()).await;
    // new, and a duplicate.
    let (s, v) = post(
        &api,
        "/api/project/new",
        r#"{"projectName":"myweb","operator":"root"}"#,
    )
    .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    assert_eq!(v["errMsg"], "ok");
    assert_eq!(
        v["content"]["creator"], "admin",
        "the caller, not the body's operator"
    );
    let (s, v) = post(
        &api,
        "/api/project/new",
        r#"{"projectName":"myweb","operator":"root"}"#,
    )
    .await;
    assert_eq!((s, code(&v)), (409, 10006), "{v}");
    // A special character is named.
    let (s, v) = post(&api, "/api/project/new", r#"{"projectName":"my*web"}"#).await;
    assert_eq!((s, code(&v)), (400, 10001), "{v}");
    assert!(
        v["errMsg"].as_str().unwrap().contains("special char: *"),
        "{v}"
    );
    // save: the seed's fields, a Dockerfile and context files.
    let save = json!({
        "project": "myweb",
        "Cluster": "default_cluster",
        "DefineDockerFileType": "define",
        "addOrUpdate": "update",
        "$$plugin": [{}, {"name": "label-stamp"}, {"name": "dockerfile-lint"}],
        "dockerfile": "FROM app:1\nCOPY site/index.html /index.html\n",
        "files": {"site/index.html": "PGgxPmhpPC9oMT4="},
    });
    let (s, v) = post(&api, "/api/project/save", &save.to_string()).await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    assert_eq!(v["content"]["files"], json!(["site/index.html"]));
    // save refusals: a path that leaves the context, an unknown plugin,
    // adding what exists, updating what does not.
    let mut bad = save.clone();
    bad["files"] = json!({"../../etc/passwd": "eA=="});
    let (s, v) = post(&api, "/api/project/save", &bad.to_string()).await;
    assert_eq!((s, code(&v)), (400, 10001), "{v}");
    assert!(
        v["errMsg"].as_str().unwrap().contains("../../etc/passwd"),
        "{v}"
    );
    let mut bad = save.clone();
    bad["$$plugin"] = json!([{"name": "aa"}]);
    let (s, v) = post(&api, "/api/project/save", &bad.to_string()).await;
    assert_eq!((s, code(&v)), (404, 10004), "{v}");
    let mut bad = save.clone();
    bad["addOrUpdate"] = json!("add");
    let (s, v) = post(&api, "/api/project/save", &bad.to_string()).await;
    assert_eq!((s, code(&v)), (409, 10006), "{v}");
    let mut bad = save.clone();
    bad["project"] = json!("ghost");
    let (s, v) = post(&api, "/api/project/save", &bad.to_string()).await;
    assert_eq!((s, code(&v)), (404, 10008), "{v}");
    // info and list.
    let (s, v) = api
        .call(
            "GET",
            "/api/project/info?projectName=myweb&operator=admin",
            &admin(),
            None,
        )
        .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    assert_eq!(v["content"]["Cluster"], "default_cluster");
    assert_eq!(v["content"]["DefineDockerFileType"], "define");
    for k in [
        "creator",
        "name",
        "createTime",
        "lastModifyTime",
        "lastModifyOperator",
    ] {
        assert!(v["content"][k].is_string(), "{k}: {v}");
    }
    let (s, v) = api
        .call("GET", "/api/project/info?projectName=ghost", &admin(), None)
        .await;
    assert_eq!((s, code(&v)), (404, 10008), "{v}");
    post(&api, "/api/project/new", r#"{"projectName":"other"}"#).await;
    let (s, v) = api
        .call(
            "GET",
            "/api/project/list?page=1&page_size=1&projectName=",
            &admin(),
            None,
        )
        .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    assert_eq!(
        (
            v["page"].as_u64(),
            v["page_size"].as_u64(),
            v["total_count"].as_u64()
        ),
        (Some(1), Some(1), Some(2))
    );
    assert_eq!(v["content"][0]["name"], "myweb");
    let (_, v) = api
        .call(
            "POST",
            "/api/project/list?page=1&page_size=10&projectName=oth",
            &admin(),
            None,
        )
        .await;
    assert_eq!(v["total_count"], 1, "{v}");
    let (s, v) = api
        .call("GET", "/api/project/list?page_size=0", &admin(), None)
        .await;
    assert_eq!((s, code(&v)), (400, 10006), "{v}");
    // build, followed live, and its history.
    let (s, v) = post(
        &api,
        "/api/project/build",
        r#"{"projectName":"myweb","operator":"root","tag":"1.0"}"#,
    )
    .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    let id = v["content"]["idStr"].as_str().unwrap().to_string();
    let done = wait_status(&api, "myweb", &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        done["image"],
        format!("{}/default_cluster/myweb:1.0", api.registry_host)
    );
    let (s, v) = api
        .call(
            "GET",
            &format!("/api/project/build/{id}/log"),
            &admin(),
            None,
        )
        .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    let log = v["content"]["lines"].to_string();
    assert!(log.contains("Step 2/3 : COPY site/index.html"), "{log}");
    let (s, v) = post(
        &api,
        "/api/project/build",
        r#"{"projectName":"ghost","tag":"1"}"#,
    )
    .await;
    assert_eq!((s, code(&v)), (404, 10007), "{v}");
    let (s, v) = post(
        &api,
        "/api/project/build",
        r#"{"projectName":"myweb","tag":"bad tag"}"#,
    )
    .await;
    assert_eq!((s, code(&v)), (400, 10001), "{v}");
    let (s, v) = api
        .call(
            "POST",
            "/api/project/buildHistory?projectName=myweb&operator=admin",
            &admin(),
            None,
        )
        .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    assert_eq!(v["content"][0]["idStr"], id.as_str());
    let (s, v) = api
        .call(
            "GET",
            "/api/project/buildHistory?projectName=ghost",
            &admin(),
            None,
        )
        .await;
    assert_eq!((s, code(&v)), (404, 10008), "{v}");
    // clone: copies the definition, not the history; a missing source.
    let (s, v) = post(
        &api,
        "/api/project/clone",
        r#"{"srcProjectName":"myweb","dstProjectName":"copy","operator":"root"}"#,
    )
    .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    assert_eq!(v["content"]["dockerfile"], save["dockerfile"]);
    let (_, v) = api
        .call(
            "GET",
            "/api/project/buildHistory?projectName=copy",
            &admin(),
            None,
        )
        .await;
    assert_eq!(v["content"], json!([]));
    let (s, v) = post(
        &api,
        "/api/project/clone",
        r#"{"srcProjectName":"ghost","dstProjectName":"x"}"#,
    )
    .await;
    assert_eq!((s, code(&v)), (404, 10002), "{v}");
    let (s, v) = post(
        &api,
        "/api/project/clone",
        r#"{"srcProjectName":"myweb","dstProjectName":"copy"}"#,
    )
    .await;
    assert_eq!((s, code(&v)), (409, 10006), "{v}");
    // The extension call, JSON and as the seed's own example sends it.
    let (s, v) = post(
        &api,
        "/api/plugin/extension/interface",
        r#"{"plugin":"dockerfile-lint","method":"lint","dockerfile":"FROM busybox\n"}"#,
    )
    .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    assert_eq!(v["content"]["ok"], false);
    let (s, v) = post(
        &api,
        "/api/plugin/extension/interface",
        "plugin=\"aa\"&method=\"download file\"&{  \n}",
    )
    .await;
    assert_eq!((s, code(&v)), (404, 10004), "{v}");
    assert!(v["errMsg"].as_str().unwrap().contains("\"aa\""), "{v}");
    let (s, v) = post(
        &api,
        "/api/plugin/extension/interface",
        "plugin=\"label-stamp\"&method=\"download file\"",
    )
    .await;
    assert_eq!((s, code(&v)), (404, 10004), "{v}");
    let (s, v) = post(
        &api,
        "/api/plugin/extension/interface",
        "plugin=label-stamp&method=labels&{\"projectName\":\"a\",\"tag\":\"1\"}",
    )
    .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    assert_eq!(v["content"]["labels"]["org.shipcore.build.project"], "a");
    // The configuration page.
    let (s, v) = api
        .call(
            "GET",
            "/view/config/independent?projectName=myweb",
            &admin(),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let html = v["data"].as_str().unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("myweb"),
        "{html}"
    );
    let (s, v) = api
        .call("GET", "/view/config/independent", &admin(), None)
        .await;
    assert_eq!((s, code(&v)), (400, 10001), "{v}");
    // delete, and a missing one.
    let (s, v) = post(
        &api,
        "/api/project/delete",
        r#"{"projectName":"copy","operator":"root"}"#,
    )
    .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    let (s, v) = post(&api, "/api/project/delete", r#"{"projectName":"copy"}"#).await;
    assert_eq!((s, code(&v)), (404, 10003), "{v}");
    // Bodies that cannot be read.
    let (s, v) = post(&api, "/api/project/new", "[1,2]").await;
    assert_eq!((s, code(&v)), (400, 10006), "{v}");
    let (s, v) = post(&api, "/api/project/new", "{}").await;
    assert_eq!((s, code(&v)), (400, 10001), "{v}");
}

#[tokio::test]
async fn hostile_values_are_escaped_on_the_page_and_the_roles_hold() {
    let api = start(Fixture::fake(1, 4_000, 8_192, &["app:1"]).await.unwrap()).await;
    let (s, v) = post(&api, "/api/project/new", r#"{"projectName":"<script>"}"#).await;
    assert_eq!((s, code(&v)), (400, 10001), "{v}");
    post(&api, "/api/project/new", r#"{"projectName":"web"}"#).await;
    let save = json!({
        "project": "web",
        "dockerfile": "FROM app:1\nLABEL note=\"<script>alert(1)</script>\"\n",
        "files": {"<img src=x onerror=alert(1)>.txt": "eA=="},
        "$$plugin": [{"name": "label-stamp", "params": {"prefix": "x.y"}}],
    });
    let (s, v) = post(&api, "/api/project/save", &save.to_string()).await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    let (_, v) = api
        .call(
            "GET",
            "/view/config/independent?projectName=web",
            &admin(),
            None,
        )
        .await;
    let html = v["data"].as_str().unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("<img"),
        "{html}"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;"), "{html}");
    // The built-in user role builds; without credentials nothing.
    api.access
        .create_account("bob", "bob-password", "user")
        .await
        .unwrap();
    let bob = Cred::Basic("bob".into(), "bob-password".into());
    let (s, v) = api
        .call(
            "POST",
            "/api/project/new",
            &bob,
            Some(r#"{"projectName":"bobs"}"#),
        )
        .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    assert_eq!(v["content"]["creator"], "bob");
    let (s, v) = api
        .call(
            "POST",
            "/api/project/new",
            &Cred::None,
            Some(r#"{"projectName":"anon"}"#),
        )
        .await;
    assert_eq!((s, code(&v)), (401, 10006), "{v}");
    // A role that reads builds only: everyone's, with `all-builds:ro`.
    api.access
        .create_role(
            "build-reader",
            vec![
                shipcore::model::Permission {
                    area: "builds".into(),
                    write: false,
                },
                shipcore::model::Permission {
                    area: "all-builds".into(),
                    write: false,
                },
            ],
        )
        .await
        .unwrap();
    api.access
        .create_account("reader", "reader-password", "build-reader")
        .await
        .unwrap();
    let reader = Cred::Basic("reader".into(), "reader-password".into());
    let (s, v) = api
        .call("GET", "/api/project/info?projectName=web", &reader, None)
        .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    let (s, v) = api
        .call(
            "POST",
            "/api/project/new",
            &reader,
            Some(r#"{"projectName":"nope"}"#),
        )
        .await;
    assert_eq!((s, code(&v)), (403, 10006), "{v}");
}

#[tokio::test]
async fn a_build_log_is_followed_live_and_resumed() {
    use futures::StreamExt as _;
    let api = start(Fixture::fake(1, 4_000, 8_192, &["app:1"]).await.unwrap()).await;
    post(&api, "/api/project/new", r#"{"projectName":"live"}"#).await;
    post(
        &api,
        "/api/project/save",
        &json!({"project": "live", "dockerfile": "FROM app:1\nRUN one\nRUN two\n"}).to_string(),
    )
    .await;
    let (_, v) = post(
        &api,
        "/api/project/build",
        r#"{"projectName":"live","tag":"1"}"#,
    )
    .await;
    let id = v["content"]["idStr"].as_str().unwrap().to_string();
    // Followed from its start, then again after line 3.
    for (last, first_id) in [(None, 0usize), (Some("3"), 4)] {
        let mut req = axum::http::Request::builder()
            .uri(format!("{}/api/project/build/{id}/log", api.base))
            .header("Authorization", {
                use base64::Engine as _;
                let Cred::Basic(u, p) = admin() else {
                    unreachable!()
                };
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
                )
            })
            .header("Accept", "text/event-stream");
        if let Some(l) = last {
            req = req.header("Last-Event-ID", l);
        }
        let res = api
            .client
            .request(
                req.body(http_body_util::Full::new(bytes::Bytes::new()))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let mut body = http_body_util::BodyStream::new(res.into_body());
        let mut text = String::new();
        let ended = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(Ok(frame)) = body.next().await {
                if let Ok(data) = frame.into_data() {
                    text.push_str(&String::from_utf8_lossy(&data));
                }
                if text.contains("event: end") {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap_or(false);
        assert!(ended, "{text}");
        // After the end the stream closes (it does not idle on keep-alives).
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(Ok(_)) = body.next().await {}
        })
        .await;
        assert!(closed.is_ok(), "the log stream stayed open after its end");
        assert!(text.contains("data: succeeded"), "{text}");
        let first = text
            .lines()
            .find_map(|l| l.strip_prefix("id: "))
            .and_then(|i| i.trim().parse::<usize>().ok());
        assert_eq!(first, Some(first_id), "{text}");
    }
}
