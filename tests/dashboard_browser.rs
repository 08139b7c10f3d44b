//! The dashboard in a real browser: headless Chromium over WebDriver
//! against a facade whose cluster starts with engine A of the test bed. A
//! person signs in, adds engine B, reads each engine's reason for a deploy
//! no engine takes, deploys for real and sees the container and its event
//! arrive without a reload, follows its logs, scales it, and signs out,
//! after which the session is dead. Every page passes axe-core (no serious
//! or critical violation) and is saved at desktop and phone width in
//! `target/screenshots/`.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use shipcore::sched::Strategy;
use shipcore::store::{MemoryStore, Store};
use shipcore::testing::{Fixture, ADMIN_PASSWORD};
use support::browser::Browser;
use support::http::Cred;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_runs_the_cluster_from_the_dashboard() {
    let Some((a, b)) = support::engines() else {
        return;
    };
    let Some((chromium, driver, axe)) = support::browser::parts() else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let name = support::unique("ui");
    let fixture = Fixture::on(
        store,
        support::docker(),
        support::options(&name, Strategy::Spread),
    )
    .await
    .unwrap();
    fixture
        .cluster
        .add_engine(support::record("a", &a, 1024, &["zone=a"]))
        .await
        .unwrap();
    let api = support::http::start(fixture).await;
    let web = Browser::start(&chromium, &driver, &axe).await;
    let base = api.base.clone();

    // Signing in: the page leads to the form; a wrong password is said so.
    web.goto(&format!("{base}/")).await;
    web.wait("form[action='/ui/login']").await;
    web.accessible("the sign-in page").await;
    web.screenshots("sign-in").await;
    web.fill(&web.wait("#username").await, "admin").await;
    web.fill(&web.wait("#password").await, "wrong").await;
    web.click(&web.wait("button[type=submit]").await).await;
    web.wait_text("#login-error", "Wrong username or password", WAIT)
        .await;
    web.fill(&web.wait("#username").await, "admin").await;
    web.fill(&web.wait("#password").await, ADMIN_PASSWORD).await;
    web.click(&web.wait("button[type=submit]").await).await;
    web.wait_text("#whoami", "admin", WAIT).await;
    let cookie = session_cookie(&web).await;
    assert_eq!(cookie["httpOnly"], json!(true), "{cookie}");
    assert_eq!(cookie["sameSite"], json!("Strict"), "{cookie}");

    // The overview: engine A with its bars.
    web.wait_text("main article h3", "a", WAIT).await;
    web.accessible("the overview").await;
    web.screenshots("overview").await;

    // Engines: add B from the form.
    web.goto(&format!("{base}/ui/engines")).await;
    web.wait_text("table", "zone=a", WAIT).await;
    fill_field(&web, "Engine id", "b").await;
    fill_field(&web, "Address", &b).await;
    fill_field(&web, "Memory the scheduler may reserve (MiB)", "1024").await;
    fill_field(&web, "Labels", "zone=b").await;
    web.click(
        &web.wait_text("form button[type=submit]", "Add engine", WAIT)
            .await,
    )
    .await;
    web.wait_text("table tbody", "zone=b", WAIT).await;
    assert!(api.cluster.engine("b").await.is_ok());
    web.accessible("the engines page").await;
    web.screenshots("engines").await;

    // Deploy: a constraint no engine meets shows each engine's reason,
    // as the user types, and makes nothing.
    web.goto(&format!("{base}/ui/deploy")).await;
    fill_field(&web, "Image", support::IMAGE).await;
    fill_field(&web, "Labels and constraints", "zone==c").await;
    web.wait_text("#refusals", "a: ", WAIT).await;
    let reasons = web.wait_text("#refusals", "b: ", WAIT).await;
    let reasons = web.text(&reasons).await;
    assert!(
        reasons.lines().all(|l| l.contains("zone")),
        "each engine says it lacks the label: {reasons}"
    );
    web.wait_text("#refused", "cannot place", WAIT).await;
    web.accessible("the deploy page with refusals").await;
    web.screenshots("deploy-refused").await;
    assert!(api.cluster.containers().await.is_empty());
    // Now one that fits on B only: the chosen engine, and A's reason.
    fill_field(&web, "Labels and constraints", "zone==b").await;
    web.wait_text("#chosen", "b", WAIT).await;
    web.wait_text("#refusals", "a: ", WAIT).await;
    let deploy_tab = web.tab().await;

    // The overview in another tab follows the cluster live: the deploy's
    // container and its event arrive there without a reload.
    let overview_tab = web.new_tab().await;
    web.switch(&overview_tab).await;
    web.goto(&format!("{base}/ui/")).await;
    web.wait_text("main article h3", "b", WAIT).await;
    web.js("window.__not_reloaded = true; return true;", json!([]))
        .await;
    web.switch(&deploy_tab).await;
    fill_field(
        &web,
        "Command",
        r#"sh -c "echo $GREETING; while true; do echo tick; sleep 1; done""#,
    )
    .await;
    fill_field(&web, "Environment", "GREETING=hello-from-the-dashboard").await;
    web.click(
        &web.wait_text("#deploy-form button[type=submit]", "Deploy", WAIT)
            .await,
    )
    .await;
    web.wait_text("#placed", "on b", WAIT).await;
    assert_eq!(api.cluster.containers().await.len(), 1);
    web.switch(&overview_tab).await;
    web.wait_text("#events", "create b", WAIT).await;
    web.wait_text("main article", "1 containers", WAIT).await;
    assert_eq!(
        web.js("return window.__not_reloaded === true", json!([]))
            .await,
        json!(true),
        "the overview reloaded"
    );
    web.switch(&deploy_tab).await;

    // Containers: the one deployed; its logs followed live; scaled to 2.
    web.goto(&format!("{base}/ui/containers")).await;
    let row = web.wait_text("table tbody tr", support::IMAGE, WAIT).await;
    let _ = row;
    web.accessible("the containers page").await;
    web.screenshots("containers").await;
    web.click(&web.wait_text("table tbody button", "Logs", WAIT).await)
        .await;
    web.wait_text("#logs", "hello-from-the-dashboard", WAIT)
        .await;
    web.wait_text("#logs", "tick", WAIT).await;
    let ticks = |t: String| t.matches("tick").count();
    let first = ticks(web.text(&web.wait("#logs").await).await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = ticks(web.text(&web.wait("#logs").await).await);
    assert!(
        later > first,
        "the log follows: {first} ticks, then {later}"
    );
    web.screenshots("container-logs").await;
    let count = web.wait("table tbody input.count").await;
    web.fill(&count, "2").await;
    web.click(&web.wait_text("table tbody button", "Scale", WAIT).await)
        .await;
    support::wait_for("two containers", WAIT, || async {
        api.cluster.containers().await.len() == 2
    })
    .await;
    web.wait_text("nav.pager", "1–2 of 2", WAIT).await;

    // A filter that matches nothing, then the engine's name.
    fill_field(&web, "Engine", "nowhere").await;
    web.wait_text("nav.pager", "none of 2", WAIT).await;
    fill_field(&web, "Engine", "b").await;
    web.wait_text("nav.pager", "of 2", WAIT).await;

    // Signing out ends the session: the old cookie opens nothing, at once.
    let (user, token) = cookie["value"]
        .as_str()
        .unwrap()
        .split_once(':')
        .map(|(u, t)| (u.to_string(), t.to_string()))
        .unwrap();
    let (status, _) = api
        .call(
            "GET",
            "/api/engines",
            &Cred::Token(user.clone(), token.clone()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    web.click(&web.wait_text("form.account button", "Sign out", WAIT).await)
        .await;
    web.wait("form[action='/ui/login']").await;
    let (status, _) = api
        .call("GET", "/api/engines", &Cred::Token(user, token), None)
        .await;
    assert_eq!(status, 401, "the session outlived its sign-out");
    web.goto(&format!("{base}/ui/containers")).await;
    web.wait("form[action='/ui/login']").await;

    support::clean(&api.cluster).await;
}

/// The session cookie the browser holds.
async fn session_cookie(web: &Browser) -> serde_json::Value {
    web.cookies()
        .await
        .into_iter()
        .find(|c| c["name"] == "shipcore_session")
        .expect("a session cookie")
}

/// Types into the field labelled `label` (its text before any hint).
async fn fill_field(web: &Browser, label: &str, text: &str) {
    let id = web
        .js(
            "for (const l of document.querySelectorAll('label')) {
               if (l.textContent.trim() === arguments[0]) return l.htmlFor;
             }
             return null;",
            json!([label]),
        )
        .await;
    let id = id
        .as_str()
        .unwrap_or_else(|| panic!("no field labelled {label:?}"));
    let e = web.wait(&format!("#{id}")).await;
    web.fill(&e, text).await;
}
