//! Seed 002 part 1 over HTTP, on fake engines (no engine needed): every
//! endpoint of the packaging API in its `{code, errMsg, content}` envelope
//! with the seed's codes and the HTTP status, the seed's own form-encoded
//! extension call, a build followed live over server-sent events, the
//! configuration page with hostile values escaped, and the role rules.
//! Builds on a real engine, pushed into shipd's registry and run on
//! another engine: `build_engines.rs`.
//!
//! Security: a build pushes only to a repository its caller may write (a
//! `user` account into its own namespace, an admin anywhere), a Dockerfile
//! that would fetch from the engine host's network is refused naming the
//! line, and an account reaches only its own build projects (another's
//! answers as a missing one), an admin everyone's.
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
    let done = ended(&api, "myweb", &id).await;
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

fn msg(v: &Value) -> String {
    v["errMsg"].as_str().unwrap_or_default().to_string()
}

async fn api() -> Api {
    start(Fixture::fake(1, 4_000, 8_192, &["app:1"]).await.unwrap()).await
}

/// A `user` account and its credentials.
async fn user(api: &Api, name: &str) -> Cred {
    api.access
        .create_account(name, "password-1", "user")
        .await
        .unwrap();
    Cred::Basic(name.into(), "password-1".into())
}

async fn post_as(api: &Api, cred: &Cred, path: &str, body: Value) -> (u16, Value) {
    api.call("POST", path, cred, Some(&body.to_string())).await
}

async fn get(api: &Api, cred: &Cred, path: &str) -> (u16, Value) {
    api.call("GET", path, cred, None).await
}

/// A build's record once it ended, as admin sees it.
async fn ended(api: &Api, project: &str, id: &str) -> Value {
    for _ in 0..200 {
        let (_, h) = get(
            api,
            &admin(),
            &format!("/api/project/buildHistory?projectName={project}"),
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

/// Builds `project` as `tag` for `cred`: the build's id.
async fn build(api: &Api, cred: &Cred, project: &str, tag: &str) -> (u16, Value) {
    post_as(
        api,
        cred,
        "/api/project/build",
        json!({"projectName": project, "tag": tag}),
    )
    .await
}

#[tokio::test]
async fn a_user_may_not_build_into_another_namespace_and_an_admin_may() {
    let api = api().await;
    let bob = user(&api, "bob").await;
    // At save: bob may not aim a project at team/app.
    let (s, v) = post_as(
        &api,
        &bob,
        "/api/project/save",
        json!({"project": "app", "addOrUpdate": "add", "Cluster": "team", "dockerfile": "FROM app:1\n"}),
    )
    .await;
    assert_eq!((s, code(&v)), (403, 10006), "{v}");
    assert!(
        msg(&v).contains("may not push to team/app") && msg(&v).contains("bob's namespace"),
        "{v}"
    );
    let (s, v) = get(&api, &admin(), "/api/project/info?projectName=app").await;
    assert_eq!((s, code(&v)), (404, 10008), "nothing was stored: {v}");
    // An admin may, and builds it.
    let (s, v) = post_as(
        &api,
        &admin(),
        "/api/project/save",
        json!({"project": "app", "addOrUpdate": "add", "Cluster": "team", "dockerfile": "FROM app:1\n"}),
    )
    .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    let (s, v) = build(&api, &admin(), "app", "1.0").await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    let done = ended(&api, "app", v["content"]["idStr"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["image"], format!("{}/team/app:1.0", api.registry_host));
    // bob cannot build admin's project (it is not his: missing to him).
    let (s, v) = build(&api, &bob, "app", "2.0").await;
    assert_eq!((s, code(&v)), (404, 10007), "{v}");
    // At build: bob's own project, aimed at team/ by an admin, is refused
    // for bob (who builds), whoever saved it.
    let (s, v) = post_as(
        &api,
        &bob,
        "/api/project/new",
        json!({"projectName": "mine"}),
    )
    .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    assert_eq!(v["content"]["Cluster"], "bob", "{v}");
    assert_eq!(v["content"]["owner"], "bob", "{v}");
    let (s, v) = post_as(
        &api,
        &bob,
        "/api/project/save",
        json!({"project": "mine", "dockerfile": "FROM app:1\n"}),
    )
    .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    let (s, v) = post_as(
        &api,
        &bob,
        "/api/project/save",
        json!({"project": "mine", "Cluster": "team"}),
    )
    .await;
    assert_eq!((s, code(&v)), (403, 10006), "{v}");
    let (s, v) = post_as(
        &api,
        &admin(),
        "/api/project/save",
        json!({"project": "mine", "Cluster": "team"}),
    )
    .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    let (s, v) = build(&api, &bob, "mine", "1").await;
    assert_eq!((s, code(&v)), (403, 10006), "{v}");
    assert!(msg(&v).contains("team/mine"), "{v}");
    // A clone into another's namespace neither.
    let (s, v) = post_as(
        &api,
        &bob,
        "/api/project/clone",
        json!({"srcProjectName": "mine", "dstProjectName": "other"}),
    )
    .await;
    assert_eq!((s, code(&v)), (403, 10006), "{v}");
    // A service key of the user role has no namespace: it builds nowhere.
    let key = api
        .access
        .create_service_key("ci", "user")
        .await
        .unwrap()
        .key;
    let key = Cred::Key(key);
    let (s, v) = post_as(
        &api,
        &key,
        "/api/project/new",
        json!({"projectName": "keyed"}),
    )
    .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    post_as(
        &api,
        &key,
        "/api/project/save",
        json!({"project": "keyed", "dockerfile": "FROM app:1\n"}),
    )
    .await;
    let (s, v) = build(&api, &key, "keyed", "1").await;
    assert_eq!((s, code(&v)), (403, 10006), "{v}");
    assert!(msg(&v).contains("service keys have no namespace"), "{v}");
}

#[tokio::test]
async fn a_user_builds_into_its_own_namespace() {
    let api = api().await;
    let bob = user(&api, "bob").await;
    // Made without a Cluster: bob's namespace.
    let (s, v) = post_as(
        &api,
        &bob,
        "/api/project/save",
        json!({"project": "app", "addOrUpdate": "add", "dockerfile": "FROM app:1\nCOPY a.txt /a.txt\n", "files": {"a.txt": "YQ=="}}),
    )
    .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    assert_eq!(v["content"]["Cluster"], "bob");
    let (s, v) = build(&api, &bob, "app", "1.0").await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    let id = v["content"]["idStr"].as_str().unwrap().to_string();
    let done = ended(&api, "app", &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["image"], format!("{}/bob/app:1.0", api.registry_host));
    // Named explicitly, in another case (the registry's names are lowercase).
    let dana = user(&api, "Dana").await;
    let (s, v) = post_as(
        &api,
        &dana,
        "/api/project/save",
        json!({"project": "web", "addOrUpdate": "add", "Cluster": "dana", "dockerfile": "FROM app:1\n"}),
    )
    .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    let (s, v) = build(&api, &dana, "web", "1").await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    let done = ended(&api, "web", v["content"]["idStr"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["image"], format!("{}/dana/web:1", api.registry_host));
}

#[tokio::test]
async fn a_dockerfile_that_would_fetch_from_the_engine_host_is_refused_naming_the_line() {
    let api = api().await;
    let bob = user(&api, "bob").await;
    for cred in [admin(), bob] {
        let (s, v) = post_as(
            &api,
            &cred,
            "/api/project/save",
            json!({"project": "fetch", "addOrUpdate": "add",
                   "dockerfile": "FROM app:1\nADD http://127.0.0.1:9/x /x\n"}),
        )
        .await;
        assert_eq!((s, code(&v)), (400, 10001), "{v}");
        assert!(
            msg(&v).contains(
                "line 2: ADD of a remote source (URL) is not allowed: the build would fetch from the engine host's network; put the file in the build context"
            ),
            "{v}"
        );
        let (s, v) = post_as(
            &api,
            &cred,
            "/api/project/save",
            json!({"project": "fetch", "addOrUpdate": "add",
                   "dockerfile": "FROM app:1\nRUN true\nrun --network=host wget http://127.0.0.1:9/\n"}),
        )
        .await;
        assert_eq!((s, code(&v)), (400, 10001), "{v}");
        assert!(msg(&v).contains("line 3: RUN --network=host"), "{v}");
    }
    let (s, v) = get(&api, &admin(), "/api/project/info?projectName=fetch").await;
    assert_eq!((s, code(&v)), (404, 10008), "{v}");
}

#[tokio::test]
async fn another_user_reaches_nothing_of_a_users_projects_and_an_admin_everything() {
    use base64::Engine as _;
    let api = api().await;
    let bob = user(&api, "bob").await;
    let carol = user(&api, "carol").await;
    let dockerfile = "FROM app:1\nRUN one\n";
    let (s, v) = post_as(
        &api,
        &bob,
        "/api/project/save",
        json!({"project": "bobs", "addOrUpdate": "add", "dockerfile": dockerfile}),
    )
    .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    let (_, v) = build(&api, &bob, "bobs", "1").await;
    let id = v["content"]["idStr"].as_str().unwrap().to_string();
    assert_eq!(ended(&api, "bobs", &id).await["status"], "succeeded");
    // carol: every call answers as for a project (or build) that does not
    // exist, the same status, code and message.
    let same = |mine: (u16, Value), ghost: (u16, Value), name: &str, what: &str| {
        assert_eq!(
            (mine.0, code(&mine.1), msg(&mine.1)),
            (
                ghost.0,
                code(&ghost.1),
                msg(&ghost.1).replace("ghost", name)
            ),
            "{what}: {} / {}",
            mine.1,
            ghost.1
        );
        assert_eq!(mine.0, 404, "{what}: {}", mine.1);
    };
    let (s, v) = get(&api, &carol, "/api/project/list").await;
    assert_eq!((s, v["total_count"].as_u64()), (200, Some(0)), "{v}");
    assert_eq!(v["content"], json!([]));
    for (what, path) in [
        ("info", "/api/project/info?projectName={}"),
        ("history", "/api/project/buildHistory?projectName={}"),
        ("page", "/view/config/independent?projectName={}"),
    ] {
        same(
            get(&api, &carol, &path.replace("{}", "bobs")).await,
            get(&api, &carol, &path.replace("{}", "ghost")).await,
            "bobs",
            what,
        );
    }
    for (what, path, body) in [
        (
            "save",
            "/api/project/save",
            json!({"project": "{}", "dockerfile": "FROM app:1\nRUN evil\n"}),
        ),
        (
            "build",
            "/api/project/build",
            json!({"projectName": "{}", "tag": "2"}),
        ),
        (
            "delete",
            "/api/project/delete",
            json!({"projectName": "{}"}),
        ),
        (
            "clone",
            "/api/project/clone",
            json!({"srcProjectName": "{}", "dstProjectName": "carols"}),
        ),
    ] {
        let of = |name: &str| {
            serde_json::from_str::<Value>(&body.to_string().replace("{}", name)).unwrap()
        };
        same(
            post_as(&api, &carol, path, of("bobs")).await,
            post_as(&api, &carol, path, of("ghost")).await,
            "bobs",
            what,
        );
    }
    // A build of bob's: its log (JSON and followed) and its cancel.
    let ghost_id = "ghost-1";
    let log = |id: &str| format!("/api/project/build/{id}/log");
    same(
        get(&api, &carol, &log(&id)).await,
        get(&api, &carol, &log(ghost_id)).await,
        "bobs",
        "log",
    );
    let sse = |id: String| {
        let api = &api;
        async move {
            let req = axum::http::Request::builder()
                .uri(format!("{}/api/project/build/{id}/log", api.base))
                .header(
                    "Authorization",
                    format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode("carol:password-1")
                    ),
                )
                .header("Accept", "text/event-stream")
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .unwrap();
            api.client.request(req).await.unwrap().status().as_u16()
        }
    };
    assert_eq!(sse(id.clone()).await, 404);
    same(
        post_as(&api, &carol, "/api/project/build/cancel", json!({"id": id})).await,
        post_as(
            &api,
            &carol,
            "/api/project/build/cancel",
            json!({"id": ghost_id}),
        )
        .await,
        "bobs",
        "cancel",
    );
    // Nothing of bob's changed; carol made nothing.
    let (s, v) = get(&api, &admin(), "/api/project/info?projectName=bobs").await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    assert_eq!(v["content"]["dockerfile"], dockerfile);
    assert_eq!(v["content"]["owner"], "bob");
    let (_, v) = get(&api, &admin(), "/api/project/info?projectName=carols").await;
    assert_eq!(code(&v), 10008, "{v}");
    // bob reaches his own; an admin reaches everyone's.
    for cred in [&bob, &admin()] {
        let (s, v) = get(&api, cred, "/api/project/list").await;
        assert_eq!((s, v["total_count"].as_u64()), (200, Some(1)), "{v}");
        let (s, v) = get(&api, cred, &log(&id)).await;
        assert_eq!((s, code(&v)), (200, 10000), "{v}");
        assert!(v["content"]["lines"].to_string().contains("RUN one"), "{v}");
        let (s, v) = get(&api, cred, "/view/config/independent?projectName=bobs").await;
        assert_eq!(s, 200, "{v}");
    }
    let (s, v) = post_as(
        &api,
        &admin(),
        "/api/project/save",
        json!({"project": "bobs", "dockerfile": "FROM app:1\nRUN two\n"}),
    )
    .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    let (s, v) = build(&api, &admin(), "bobs", "2").await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
    let (s, v) = post_as(
        &api,
        &admin(),
        "/api/project/delete",
        json!({"projectName": "bobs"}),
    )
    .await;
    assert_eq!((s, code(&v)), (200, 10000), "{v}");
}
