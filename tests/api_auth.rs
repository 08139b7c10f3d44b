//! The auth matrix: every endpoint of the cluster API with no credentials,
//! a user key, an admin key, a custom role's key and a webhook key.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use shipcore::store::MemoryStore;
use support::http::{admin, api, Cred};
use support::*;

#[tokio::test]
async fn auth_matrix() {
    let Some((a, b)) = engines() else { return };
    let api = api(Arc::new(MemoryStore::new()), &a, &b, &unique("auth")).await;
    let user_key = api
        .access
        .create_service_key("u", "user")
        .await
        .unwrap()
        .key;
    let admin_key = api
        .access
        .create_service_key("a", "admin")
        .await
        .unwrap()
        .key;
    let hook = api
        .access
        .create_webhook_key("shipcore/nothing")
        .await
        .unwrap()
        .key;
    // A custom role, as later Shipyard versions had: named permissions.
    api.access
        .create_role(
            "watcher",
            vec![
                "containers:ro".to_string().try_into().unwrap(),
                "engines:rw".to_string().try_into().unwrap(),
            ],
        )
        .await
        .unwrap();
    let watcher_key = api
        .access
        .create_service_key("w", "watcher")
        .await
        .unwrap()
        .key;
    let creds = [
        ("none", Cred::None),
        ("user", Cred::Key(user_key)),
        ("admin", Cred::Key(admin_key)),
        ("watcher", Cred::Key(watcher_key)),
        ("webhook", Cred::Key(hook.clone())),
    ];
    // (method, path, body, area, writes). Requests are chosen to be
    // harmless: they name things that do not exist, so an allowed call
    // answers 4xx from the handler (400/404/409), never 401/403. Area ""
    // needs only valid credentials.
    let endpoints: &[(&str, &str, &str, &str, bool)] = &[
        ("GET", "/api/accounts", "", "accounts", false),
        (
            "POST",
            "/api/accounts",
            r#"{"username":"x","password":"y","role":{"name":"nope"}}"#,
            "accounts",
            true,
        ),
        (
            "DELETE",
            "/api/accounts",
            r#"{"username":"nobody"}"#,
            "accounts",
            true,
        ),
        ("GET", "/api/roles", "", "roles", false),
        ("GET", "/api/roles/admin", "", "roles", false),
        ("POST", "/api/roles", r#"{"name":"-bad"}"#, "roles", true),
        ("DELETE", "/api/roles", r#"{"name":"nope"}"#, "roles", true),
        ("GET", "/api/servicekeys", "", "servicekeys", false),
        (
            "POST",
            "/api/servicekeys",
            r#"{"description":"x","role":"nope"}"#,
            "servicekeys",
            true,
        ),
        (
            "DELETE",
            "/api/servicekeys",
            r#"{"key":"nope"}"#,
            "servicekeys",
            true,
        ),
        ("GET", "/api/containers", "", "containers", false),
        (
            "POST",
            "/api/containers",
            r#"{"name":"x","cpus":1,"memory":99999999}"#,
            "containers",
            true,
        ),
        ("GET", "/api/containers/nope", "", "containers", false),
        ("DELETE", "/api/containers/nope", "", "containers", true),
        ("GET", "/api/containers/nope/stop", "", "containers", true),
        (
            "GET",
            "/api/containers/nope/restart",
            "",
            "containers",
            true,
        ),
        (
            "GET",
            "/api/containers/nope/scale?count=2",
            "",
            "containers",
            true,
        ),
        ("GET", "/api/containers/nope/logs", "", "containers", false),
        ("GET", "/api/engines", "", "engines", false),
        ("GET", "/api/engines/nope", "", "engines", false),
        (
            "POST",
            "/api/engines",
            r#"{"engine":{"id":"x","addr":"bad"}}"#,
            "engines",
            true,
        ),
        ("DELETE", "/api/engines/nope", "", "engines", true),
        ("GET", "/api/webhookkeys", "", "webhookkeys", false),
        (
            "POST",
            "/api/webhookkeys",
            r#"{"image":""}"#,
            "webhookkeys",
            true,
        ),
        ("DELETE", "/api/webhookkeys/nope", "", "webhookkeys", true),
        ("DELETE", "/api/webhooks/nope", "", "webhookkeys", true),
        ("GET", "/api/events", "", "events", false),
        ("GET", "/api/cluster/info", "", "cluster", false),
        ("GET", "/metrics", "", "", false),
        ("GET", "/api/openapi.json", "", "", false),
    ];
    let mut failures = Vec::new();
    for (method, path, body, area, writes) in endpoints {
        for (who, cred) in &creds {
            let (status, answer) = api
                .call(method, path, cred, (!body.is_empty()).then_some(*body))
                .await;
            let admin_area = ["accounts", "roles", "servicekeys"].contains(area);
            let want_ok = match *who {
                "admin" => true,
                "user" => !admin_area,
                "watcher" => {
                    area.is_empty() || *area == "engines" || (*area == "containers" && !writes)
                }
                _ => false,
            };
            let fine = match (*who, want_ok) {
                ("none", _) | ("webhook", _) => status == 401,
                (_, true) => !matches!(status, 401 | 403) && status < 500,
                (_, false) => status == 403,
            };
            if !fine {
                failures.push(format!("{method} {path} as {who}: {status} {answer}"));
            }
        }
    }
    // The matrix covers every operation of the OpenAPI document.
    let (status, doc) = api.call("GET", "/api/openapi.json", &admin(), None).await;
    assert_eq!(status, 200, "{doc}");
    let matches = |template: &str, path: &str| {
        let path = path.split('?').next().unwrap_or(path);
        let (t, p): (Vec<_>, Vec<_>) = (template.split('/').collect(), path.split('/').collect());
        t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t.starts_with('{') || t == p)
    };
    let mut operations = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations += 1;
            let method = method.to_uppercase();
            let covered = template.starts_with("/hub/")
                || endpoints
                    .iter()
                    .any(|(m, p, ..)| *m == method && matches(template, p));
            if !covered {
                failures.push(format!("{method} {template} is not in the auth matrix"));
            }
        }
    }
    assert_eq!(operations, endpoints.len() - 2 + 1, "documented operations");
    // The hub webhook takes only its own key.
    let push = r#"{"push_data":{"pushed_at":1},"repository":{"repo_name":"shipcore/nothing"}}"#;
    let (s, _) = api
        .call("POST", "/hub/webhook/wrong", &Cred::None, Some(push))
        .await;
    if s != 401 {
        failures.push(format!("hub with a wrong key: {s}"));
    }
    let (s, body) = api
        .call(
            "POST",
            &format!("/hub/webhook/{hook}"),
            &Cred::None,
            Some(push),
        )
        .await;
    if s != 200 {
        failures.push(format!("hub with its key: {s} {body}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
