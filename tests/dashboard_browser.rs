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

/// A facade over engine A of the test bed (and B too when `both`), and a
/// browser; `None` after the skip line.
async fn bed(both: bool) -> Option<(support::http::Api, Browser, String)> {
    let (a, b) = support::engines()?;
    let (chromium, driver, axe) = support::browser::parts()?;
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
    if both {
        fixture
            .cluster
            .add_engine(support::record("b", &b, 1024, &["zone=b"]))
            .await
            .unwrap();
    }
    let api = support::http::start(fixture).await;
    let web = Browser::start(&chromium, &driver, &axe).await;
    Some((api, web, b))
}

/// The test bed's TLS engine: its address in Shipyard's form and its
/// certificates' folder, when the test bed has one.
fn tls_engine() -> Option<(String, std::path::PathBuf)> {
    let addr = std::env::var("SHIPCORE_ENGINE_TLS").ok()?;
    let certs = std::env::var("SHIPCORE_ENGINE_TLS_CERTS").ok()?;
    Some((addr.replace("tcp://", "https://"), certs.into()))
}

/// Signs in through the form and waits for the overview.
async fn sign_in(web: &Browser, base: &str, username: &str, password: &str) {
    web.goto(&format!("{base}/ui/login")).await;
    web.fill(&web.wait("#username").await, username).await;
    web.fill(&web.wait("#password").await, password).await;
    web.click_text("button[type=submit]", "").await;
    web.wait_text("#whoami", username, WAIT).await;
}

/// Visits a page, checks it with axe-core and saves its screenshots.
async fn visit(web: &Browser, base: &str, page: &str, ready: &str) {
    web.goto(&format!("{base}/ui/{page}")).await;
    web.wait(ready).await;
    web.accessible(&format!("the {page} page")).await;
    web.screenshots(if page.is_empty() { "overview" } else { page })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_runs_the_cluster_from_the_dashboard() {
    let Some((api, web, b)) = bed(false).await else {
        return;
    };
    let base = api.base.clone();

    // Signing in: the page leads to the form; a wrong password is said so.
    web.goto(&format!("{base}/")).await;
    web.wait("form[action='/ui/login']").await;
    web.accessible("the sign-in page").await;
    web.screenshots("sign-in").await;
    web.fill(&web.wait("#username").await, "admin").await;
    web.fill(&web.wait("#password").await, "wrong").await;
    web.click_text("button[type=submit]", "").await;
    web.wait_text("#login-error", "Wrong username or password", WAIT)
        .await;
    web.fill(&web.wait("#username").await, "admin").await;
    web.fill(&web.wait("#password").await, ADMIN_PASSWORD).await;
    web.click_text("button[type=submit]", "").await;
    web.wait_text("#whoami", "admin", WAIT).await;
    let cookie = session_cookie(&web).await;
    assert_eq!(cookie["httpOnly"], json!(true), "{cookie}");
    assert_eq!(cookie["sameSite"], json!("Strict"), "{cookie}");

    // The overview: engine A with its bars. The whole first load (the
    // page, its script and its style) stays under 150 KB.
    web.wait_text("main article h3", "a", WAIT).await;
    let loaded = web
        .js(
            "return [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')]
               .filter(e => e.entryType === 'navigation' || ['script', 'link', 'css'].includes(e.initiatorType))
               .reduce((n, e) => n + e.decodedBodySize, 0);",
            json!([]),
        )
        .await;
    let loaded = loaded.as_u64().unwrap();
    assert!(
        (10_000..150_000).contains(&loaded),
        "the first load is {loaded} bytes"
    );
    println!("the dashboard's first load: {loaded} bytes");
    web.accessible("the overview").await;
    web.screenshots("overview").await;

    // Engines: add B from the form.
    web.goto(&format!("{base}/ui/engines")).await;
    web.wait_text("table", "zone=a", WAIT).await;
    fill_field(&web, "Engine id", "b").await;
    fill_field(&web, "Address", &b).await;
    fill_field(&web, "Memory the scheduler may reserve (MiB)", "1024").await;
    // A label that is markup: shown as text, never run.
    fill_field(&web, "Labels", "zone=b, note=<img src=x id=pwn>").await;
    web.click_text("form button[type=submit]", "Add engine")
        .await;
    web.wait_text("table tbody", "zone=b", WAIT).await;
    web.wait_text("table tbody", "note=<img src=x id=pwn>", WAIT)
        .await;
    assert!(web.all("#pwn").await.is_empty(), "a label ran as markup");
    assert!(api.cluster.engine("b").await.is_ok());
    // The TLS engine of the test bed, with its PEM material.
    if let Some((addr, certs)) = tls_engine() {
        fill_field(&web, "Engine id", "c").await;
        fill_field(&web, "Address", &addr).await;
        fill_field(&web, "Memory the scheduler may reserve (MiB)", "256").await;
        fill_field(&web, "Labels", "zone=c").await;
        web.click_text("form summary", "TLS material").await;
        for (label, file) in [
            ("CA certificate", "ca.pem"),
            ("Client certificate", "cert.pem"),
            ("Client key", "key.pem"),
        ] {
            let pem = std::fs::read_to_string(certs.join(file)).unwrap();
            fill_field(&web, label, &pem).await;
        }
        web.click_text("form button[type=submit]", "Add engine")
            .await;
        web.wait_text("table tbody", "zone=c", WAIT).await;
        let doc = api.cluster.engine("c").await.unwrap();
        assert!(!doc.record.ssl_key.is_empty(), "the key came with it");
        support::wait_for("engine c healthy", WAIT, || async {
            api.cluster.health("c").await == Some(shipcore::model::Health::Healthy)
        })
        .await;
        api.cluster.remove_engine("c", true).await.unwrap();
    }
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
    web.click_text("#deploy-form button[type=submit]", "Deploy")
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
    web.click_text("table tbody button", "Inspect").await;
    let id = api.cluster.containers().await[0].id.clone();
    web.wait_text("#detail pre", &id, WAIT).await;
    web.click_text("table tbody button", "Logs").await;
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
    web.click_text("table tbody button", "Scale").await;
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

    // Stop one, then destroy it: the list follows without a reload.
    let first = api.cluster.containers().await[0].clone();
    let name = first.name.clone();
    web.click_text(&format!("button[aria-label='Stop {name}']"), "")
        .await;
    web.wait_text(&format!("tr[data-id='{}']", first.id), "stopped", WAIT)
        .await;
    web.click_text(&format!("button[aria-label='Destroy {name}']"), "")
        .await;
    web.wait_text("nav.pager", "1–1 of 1", WAIT).await;
    assert_eq!(api.cluster.containers().await.len(), 1);

    // Removing an engine that holds containers needs the force rule.
    web.goto(&format!("{base}/ui/engines")).await;
    web.click_text("button[aria-label='Remove engine b']", "")
        .await;
    web.wait_text("#status", "holds 1 containers", WAIT).await;
    assert!(api.cluster.engine("b").await.is_ok());
    web.click_text("#force-b", "").await;
    // The tick holds through the redraws the cluster's events cause.
    let ticked = web
        .js(
            "return document.getElementById('force-b').checked",
            json!([]),
        )
        .await;
    assert_eq!(ticked, json!(true));
    web.click_text("button[aria-label='Remove engine b']", "")
        .await;
    web.wait_text("#status", "Remove b: done", WAIT).await;
    assert!(api.cluster.engine("b").await.is_err());
    assert!(api.cluster.containers().await.is_empty());

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
    web.click_text("form.account button", "Sign out").await;
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

/// Types into the field labelled `label` (its text before any hint). A
/// page that redraws (a project settling) may replace the field between
/// finding and typing: then it is found again.
async fn fill_field(web: &Browser, label: &str, text: &str) {
    let started = std::time::Instant::now();
    loop {
        let found = web
            .js_element(
                "for (const l of document.querySelectorAll('label')) {
                   if (l.textContent.trim() === arguments[0] && l.control) return l.control;
                 }
                 return null;",
                json!([label]),
            )
            .await;
        let outcome = match &found {
            Some(e) => web.try_fill(e, text).await,
            None => Err("no such field yet".into()),
        };
        match outcome {
            Ok(()) => return,
            Err(e) if started.elapsed() > WAIT => panic!("the field labelled {label:?}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// A file with a typo, then fixed: the error points at its line.
const TYPO: &str =
    "services:\n  web:\n    image: shipcore/busybox:latest\n    comand: [\"sleep\", \"600\"]\n";
const SHOP: &str = "services:\n  web:\n    image: shipcore/busybox:latest\n    command: [\"sleep\", \"600\"]\n    volumes: [\"data:/data\"]\nvolumes:\n  data: {}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_registry_builds_and_access_from_the_dashboard() {
    let Some((api, web, _)) = bed(true).await else {
        return;
    };
    let base = api.base.clone();
    // By keyboard alone: the form takes the focus, Tab moves on, Enter
    // signs in.
    web.goto(&format!("{base}/ui/login")).await;
    let first = web.wait("#username").await;
    web.type_keys(
        &first,
        &format!("admin\u{E004}{ADMIN_PASSWORD}{}", support::browser::ENTER),
    )
    .await;
    web.wait_text("#whoami", "admin", WAIT).await;
    // Names of this run's own: a run that failed may have left its things.
    let shop = support::unique("shop").to_lowercase().replace('_', "-");
    let site = support::unique("site").to_lowercase().replace('_', "-");

    // A compose project: the typo is shown at its line, then fixed; the
    // project starts and its services show their containers.
    visit(&web, &base, "projects", "#new-project").await;
    fill_field(&web, "Project name", &shop).await;
    fill_field(&web, "Compose file (YAML)", TYPO).await;
    web.click_text("#new-project button", "Create project")
        .await;
    web.wait_text("#create-error", "comand", WAIT).await;
    web.wait_text("#error-line", "4 |     comand", WAIT).await;
    web.screenshots("projects-error").await;
    assert!(api
        .projects
        .list("", false, false, &admin_owner(&api).await)
        .await
        .unwrap()
        .is_empty());
    fill_field(&web, "Compose file (YAML)", SHOP).await;
    web.click_text("#new-project button", "Create project")
        .await;
    web.wait_text("#h-project", &format!("Project {shop}"), WAIT)
        .await;
    web.click_text("#do-start", "").await;
    web.wait_text("#project-state", "now running", Duration::from_secs(60))
        .await;
    web.wait_text("#project-detail", &format!("{shop}_web"), WAIT)
        .await;
    web.click_text("#config summary", "").await;
    web.wait_text("#config-text", "sleep", WAIT).await;
    web.accessible("a running project").await;
    web.screenshots("project").await;

    // A blue-green update to version 2, confirmed.
    fill_field(&web, "New version", "2").await;
    web.click_text("#update-form button", "blue-green").await;
    web.wait_text("#update-phase", "ready", Duration::from_secs(90))
        .await;
    web.screenshots("project-update").await;
    web.click_text("#do-confirm-update", "").await;
    web.wait_text("#project-state", "Version 2", Duration::from_secs(60))
        .await;
    // Another, rolled back: version 2 stays.
    fill_field(&web, "New version", "3").await;
    web.click_text("#update-form button", "blue-green").await;
    web.wait_text("#update-phase", "ready", Duration::from_secs(90))
        .await;
    web.click_text("#do-roll-back-update", "").await;
    web.wait("#update-form").await;
    web.wait_text("#project-state", "Version 2", Duration::from_secs(60))
        .await;
    web.wait_text("#project-state", "now running", Duration::from_secs(60))
        .await;

    // The registry: an image pushed with docker push, browsed to its layers.
    let image = push_image(&api).await;
    visit(&web, &base, "registry", "main table").await;
    web.click_text("main table button", "Tags").await;
    web.click_text("#repo button", "Layers").await;
    web.wait_text("#pull-command", &format!("docker pull {image}"), WAIT)
        .await;
    let layers = web.all("table.layers tbody tr").await;
    assert!(!layers.is_empty(), "the manifest's layers are listed");
    web.wait_text("table.layers", "sha256:", WAIT).await;
    web.accessible("a manifest").await;
    web.screenshots("registry-manifest").await;
    web.click_text("#repo button", "Delete tag").await;
    web.wait_text("#repo", "No tags.", WAIT).await;

    // A build project: its Dockerfile saved, built, its log followed.
    visit(&web, &base, "builds", "#new-build").await;
    fill_field(&web, "New build project", &site).await;
    web.click_text("#new-build button", "Create").await;
    web.wait_text("#h-build", &site, WAIT).await;
    fill_field(
        &web,
        "Dockerfile",
        &format!("FROM {}\nRUN echo built-in-the-dashboard\n", support::IMAGE),
    )
    .await;
    fill_field(&web, "Tag", "1.0").await;
    web.click_text("#do-build", "").await;
    web.wait_text(
        "#build-log",
        "built-in-the-dashboard",
        Duration::from_secs(120),
    )
    .await;
    web.wait_text("#build-log", "build succeeded", Duration::from_secs(120))
        .await;
    web.wait_text("#build-history", "succeeded", WAIT).await;
    web.accessible("a build").await;
    web.screenshots("build").await;

    // Access: the admin's parts; a user account made from the form.
    visit(&web, &base, "access", "#accounts").await;
    web.wait("#roles").await;
    web.wait("#servicekeys").await;
    fill_field(&web, "Username", "ann").await;
    fill_field(&web, "Password", "pw-ann").await;
    web.click_text("#accounts button", "Add account").await;
    web.wait_text("#accounts table", "ann", WAIT).await;
    fill_field(&web, "Description", "ci").await;
    web.click_text("#servicekeys button", "Make a key").await;
    let shown = web.wait_text("#new-key", "shown this once", WAIT).await;
    let key = web.text(&shown).await;
    let key = key.rsplit(' ').next().unwrap().trim().to_string();
    let (status, _) = api.call("GET", "/api/engines", &Cred::Key(key), None).await;
    assert_eq!(status, 200, "the key shown once works");
    web.click_text("#certs button", "Issue a certificate").await;
    web.wait_text("#new-cert", "key.pem", WAIT).await;
    web.goto(&format!("{base}/ui/access")).await;
    web.wait_text("#certs table", "valid", WAIT).await;

    // The user sees neither the admin's project nor the admin's parts of
    // the Access page.
    web.click_text("form.account button", "Sign out").await;
    sign_in(&web, &base, "ann", "pw-ann").await;
    visit(&web, &base, "projects", "#new-project").await;
    web.wait_text("#project-list", "No projects yet", WAIT)
        .await;
    web.goto(&format!("{base}/ui/projects#{shop}")).await;
    web.wait_text("#project-detail", &format!("Project {shop}:"), WAIT)
        .await;
    visit(&web, &base, "access", "#certs").await;
    assert!(
        web.all("#accounts").await.is_empty(),
        "a user sees no accounts"
    );
    assert!(web.all("#servicekeys").await.is_empty());
    assert!(web.all("#roles").await.is_empty());

    api.projects.delete(&shop, true, true).await.unwrap();
    support::clean(&api.cluster).await;
}

/// The admin as the owner of what it made.
async fn admin_owner(api: &support::http::Api) -> shipcore::model::Owner {
    api.access
        .by_password("admin", ADMIN_PASSWORD, None)
        .await
        .unwrap()
        .unwrap()
        .owner()
}

/// Builds a small image on engine A and pushes it to the facade's registry
/// with the docker CLI (logged in as the admin); its reference.
async fn push_image(api: &support::http::Api) -> String {
    use std::process::{Command, Stdio};
    let (a, _) = support::engines().unwrap();
    let config = tempfile::tempdir().unwrap();
    let context = tempfile::tempdir().unwrap();
    let image = format!("{}/e2e/app:1", api.registry_host);
    std::fs::write(
        context.path().join("Dockerfile"),
        format!(
            "FROM {}\nRUN echo {} > /marker\n",
            support::IMAGE,
            support::unique("m")
        ),
    )
    .unwrap();
    let docker = |args: &[&str], input: Option<&str>| {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", &a)
            .env("DOCKER_CONFIG", config.path())
            .env("DOCKER_BUILDKIT", "0")
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        if let Some(text) = input {
            use std::io::Write as _;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    docker(
        &[
            "build",
            "-q",
            "-t",
            &image,
            context.path().to_str().unwrap(),
        ],
        None,
    );
    docker(
        &[
            "login",
            &api.registry_host,
            "-u",
            "admin",
            "--password-stdin",
        ],
        Some(ADMIN_PASSWORD),
    );
    docker(&["push", &image], None);
    docker(&["rmi", &image], None);
    image
}

/// With 10,000 containers the list stays a page at a time: 50 rows in the
/// page, filters over all of them, and the pages beyond.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_containers_are_listed_a_page_at_a_time() {
    let Some((chromium, driver, axe)) = support::browser::parts() else {
        return;
    };
    let fixture = Fixture::fake(10, 1_000_000, 1 << 30, &["app:1"])
        .await
        .unwrap();
    let cfg: shipcore::model::ImageConfig =
        serde_json::from_value(json!({"name": "app:1", "cpus": 0.001, "memory": 1})).unwrap();
    for _ in 0..10 {
        fixture.cluster.deploy(cfg.clone(), 1000).await.unwrap();
    }
    let api = support::http::start(fixture).await;
    let all = api.cluster.containers().await;
    assert_eq!(all.len(), 10_000);
    let web = Browser::start(&chromium, &driver, &axe).await;
    let base = api.base.clone();
    sign_in(&web, &base, "admin", ADMIN_PASSWORD).await;
    web.goto(&format!("{base}/ui/containers")).await;
    web.wait_text("nav.pager", "1–50 of 10000", Duration::from_secs(60))
        .await;
    assert_eq!(web.all("#list tbody tr").await.len(), 50);
    web.click_text("nav.pager button", "Next").await;
    web.wait_text("nav.pager", "51–100 of 10000", WAIT).await;
    // One container by its name, among all of them.
    let one = all[7_777].name.clone();
    fill_field(&web, "Name", &one).await;
    web.wait_text("nav.pager", "1–1 of 1 (of 10000 in all)", WAIT)
        .await;
    web.wait_text("#list tbody", &one, WAIT).await;
    fill_field(&web, "Name", "").await;
    fill_field(&web, "Engine", "e3").await;
    web.wait_text("nav.pager", "of 1000 (of 10000 in all)", WAIT)
        .await;
    web.screenshots("containers-10k").await;
}
