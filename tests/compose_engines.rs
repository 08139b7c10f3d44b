//! Compose projects (seed 003) over the test bed's real engine A: a
//! 3-service app brought up in dependency order (`service_healthy`), web
//! reaching db by name, stop / start / kill / redeploy / delete with and
//! without its volume; blue-green updates confirmed, rolled back, refused
//! for the same version, and failed by a version that exits at once while
//! the old one keeps running.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use shipcore::cluster::Cluster;
use shipcore::engine::{ContainerFilter, ContainerSummary, EngineBackend};
use shipcore::projects::{
    NewProject, ProjectUpdate, Projects, ProjectsOptions, LABEL_PROJECT, LABEL_VERSION,
};
use shipcore::sched::Strategy;
use shipcore::store::{MemoryStore, Store};
use shipcore::Error;
use support::*;

async fn setup(name: &str) -> Option<(Cluster, Projects, shipcore::cluster::Background)> {
    setup_with(name, |_| {}).await
}

async fn setup_with(
    name: &str,
    tune: impl FnOnce(&mut ProjectsOptions),
) -> Option<(Cluster, Projects, shipcore::cluster::Background)> {
    let (a, b) = engines()?;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let cluster = cluster_on(store.clone(), &a, &b, Strategy::Spread, &unique(name)).await;
    let bg = cluster.start();
    wait_for("engines checked", Duration::from_secs(20), || {
        let c = cluster.clone();
        async move { c.health("a").await == Some(shipcore::model::Health::Healthy) }
    })
    .await;
    let mut opts = ProjectsOptions {
        health_deadline: Duration::from_secs(30),
        poll: Duration::from_millis(100),
        ..ProjectsOptions::default()
    };
    tune(&mut opts);
    let projects = Projects::open(store, cluster.clone(), opts).await.unwrap();
    Some((cluster, projects, bg))
}

async fn state(p: &Projects, name: &str) -> String {
    p.get(name, false, false, &shipcore::model::Owner::system())
        .await
        .map(|v| v.current_state)
        .unwrap_or_default()
}

async fn wait_state(p: &Projects, name: &str, want: &str) {
    wait_for(
        &format!("{name} {want}"),
        Duration::from_secs(60),
        || async { state(p, name).await == want },
    )
    .await;
}

/// The project's containers on its engine: (service, version, running).
async fn containers(c: &Cluster, p: &Projects, name: &str) -> Vec<(String, String, bool)> {
    let view = p
        .get(name, false, false, &shipcore::model::Owner::system())
        .await
        .unwrap();
    let backend = c.backend(&view.engine).await.unwrap();
    let mut out: Vec<(String, String, bool)> = listed(&*backend, name)
        .await
        .into_iter()
        .map(|s| {
            (
                s.labels
                    .get("io.shipcore.project.service")
                    .cloned()
                    .unwrap_or_default(),
                s.labels.get(LABEL_VERSION).cloned().unwrap_or_default(),
                s.state == "running",
            )
        })
        .collect();
    out.sort();
    out
}

/// Every container of a project on an engine, running or not.
async fn listed(backend: &dyn EngineBackend, project: &str) -> Vec<ContainerSummary> {
    let filter = ContainerFilter {
        all: true,
        labels: vec![format!("{LABEL_PROJECT}={project}")],
        name: None,
    };
    backend.list_containers(&filter).await.unwrap()
}

/// `docker ARGS` against the test bed's engine `engine` (`a` or `b`): its
/// standard output, trimmed.
fn docker_on(engine: &str, args: &[&str]) -> String {
    let var = if engine == "a" {
        "SHIPCORE_ENGINE_A"
    } else {
        "SHIPCORE_ENGINE_B"
    };
    let out = std::process::Command::new("docker")
        .arg("-H")
        .arg(std::env::var(var).unwrap())
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn app_template(port: u16) -> String {
    format!(
        r#"
x-base: &base
  image: {IMAGE}
  restart: "no"
services:
  db:
    <<: *base
    command: ["sh", "-c", "rm -f /data/greeting; httpd -p 5432 -h /data; sleep 1; echo hello-from-db > /data/greeting; exec sleep 3600"]
    volumes: ["data:/data"]
    healthcheck:
      test: ["CMD", "test", "-f", "/data/greeting"]
      interval: 500ms
      retries: 30
  web:
    <<: *base
    command: ["sh", "-c", "mkdir -p /www; wget -q -O /www/index.html http://${{DB_HOST}}:5432/greeting && httpd -f -p 80 -h /www"]
    depends_on:
      db:
        condition: service_healthy
    ports: ["127.0.0.1:{port}:80"]
  worker:
    <<: *base
    command: ["sleep", "3600"]
    depends_on: [web]
volumes:
  data: {{}}
"#
    )
}

async fn http_get(port: u16) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).await.ok()?;
    Some(out)
}

async fn volume_exists(c: &Cluster, name: &str) -> bool {
    let backend = c.backend("a").await.unwrap();
    let b = c.backend("b").await.unwrap();
    backend.inspect_volume(name).await.is_ok() || b.inspect_volume(name).await.is_ok()
}

#[tokio::test]
async fn three_services_in_dependency_order_with_a_volume() {
    let Some((c, p, _bg)) = setup("compose").await else {
        println!("SKIP: no engine");
        return;
    };
    let port = free_port();
    let name = format!("shop{port}");
    let req = NewProject {
        name: name.clone(),
        description: "three services".into(),
        template: app_template(port),
        version: None,
        environment: [("DB_HOST".to_string(), "db".to_string())].into(),
        ..NewProject::default()
    };
    let doc = p
        .create(req.clone(), &shipcore::model::Owner::system())
        .await
        .unwrap();
    assert_eq!(doc.current.version, "1.0");
    assert!(matches!(
        p.create(req.clone(), &shipcore::model::Owner::system())
            .await,
        Err(Error::Exists { .. })
    ));
    wait_state(&p, &name, "running").await;

    // db became healthy before web started; web reached db by name.
    let view = p
        .get(&name, true, true, &shipcore::model::Owner::system())
        .await
        .unwrap();
    let engine = view.engine.clone();
    let backend = c.backend(&engine).await.unwrap();
    let started = |svc: &str| {
        let s = view
            .services
            .as_ref()
            .unwrap()
            .iter()
            .find(|s| s.name == svc)
            .unwrap();
        s.containers
            .as_ref()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone()
    };
    let db = backend.inspect_container(&started("db")).await.unwrap();
    let web = backend.inspect_container(&started("web")).await.unwrap();
    let worker = backend.inspect_container(&started("worker")).await.unwrap();
    assert_eq!(db.state.health, "healthy");
    assert!(
        db.state.started_at < web.state.started_at
            && web.state.started_at <= worker.state.started_at
    );
    let page = http_get(port).await.unwrap_or_default();
    assert!(
        page.contains("hello-from-db"),
        "web serves what it fetched from db: {page}"
    );
    let svc = p
        .service(&format!("{name}_web"), &shipcore::model::Owner::system())
        .await
        .unwrap();
    assert_eq!(
        (svc.current_state.as_str(), svc.project.as_str()),
        ("running", name.as_str())
    );
    let refs = p
        .volume(&format!("{name}_data"), &shipcore::model::Owner::system())
        .await
        .unwrap();
    assert_eq!(refs.refs.len(), 1, "db uses the volume: {refs:?}");

    // Stop, start, kill, redeploy.
    p.stop(&name, Duration::from_secs(1)).await.unwrap();
    assert!(containers(&c, &p, &name)
        .await
        .iter()
        .all(|(_, _, running)| !running));
    assert_eq!(state(&p, &name).await, "stopped");
    p.start(&name).await.unwrap();
    assert!(containers(&c, &p, &name)
        .await
        .iter()
        .all(|(_, _, running)| *running));
    p.kill(&name, "KILL").await.unwrap();
    assert_eq!(state(&p, &name).await, "stopped");
    let before = listed(&*backend, &name).await;
    p.redeploy(&name).await.unwrap();
    let after = listed(&*backend, &name).await;
    let ids = |l: &[ContainerSummary]| l.iter().map(|c| c.id.clone()).collect::<BTreeSet<_>>();
    assert_eq!(after.len(), 3);
    assert!(
        ids(&before).is_disjoint(&ids(&after)),
        "redeploy makes the containers anew"
    );
    assert_eq!(state(&p, &name).await, "running");

    // Delete while running needs force; without v the volume stays.
    let err = p.delete(&name, false, false).await.unwrap_err();
    assert!(err.to_string().contains("force=true"), "{err}");
    p.delete(&name, true, false).await.unwrap();
    assert!(matches!(
        p.get(&name, false, false, &shipcore::model::Owner::system())
            .await,
        Err(Error::Missing { .. })
    ));
    assert!(listed(&*backend, &name).await.is_empty());
    assert!(
        volume_exists(&c, &format!("{name}_data")).await,
        "the volume stays without v"
    );
    // The same project again uses the volume; deleted with v it goes.
    p.create(req, &shipcore::model::Owner::system())
        .await
        .unwrap();
    wait_state(&p, &name, "running").await;
    p.delete(&name, true, true).await.unwrap();
    assert!(
        !volume_exists(&c, &format!("{name}_data")).await,
        "v removes the volume"
    );
}

fn one_service(command: &str) -> String {
    format!("services:\n  app:\n    image: {IMAGE}\n    command: {command}\n    ports: [\"127.0.0.1::80\"]\n")
}

/// Waits until the project's update is in `phase` (`None`: no update).
async fn wait_update(p: &Projects, name: &str, phase: Option<&str>) {
    wait_for(
        &format!("{name} update {phase:?}"),
        Duration::from_secs(60),
        || async {
            p.get(name, false, false, &shipcore::model::Owner::system())
                .await
                .is_ok_and(|v| v.update.map(|u| u.phase).as_deref() == phase)
        },
    )
    .await;
}

#[tokio::test]
async fn blue_green_confirm_rollback_refusals_and_failure() {
    let Some((c, p, _bg)) = setup("bluegreen").await else {
        println!("SKIP: no engine");
        return;
    };
    let name = format!("bg{}", free_port());
    let sleep = one_service(r#"["sleep", "3600"]"#);
    p.create(
        NewProject {
            name: name.clone(),
            template: sleep.clone(),
            ..NewProject::default()
        },
        &shipcore::model::Owner::system(),
    )
    .await
    .unwrap();
    wait_state(&p, &name, "running").await;
    let update = |version: &str, template: &str| ProjectUpdate {
        template: Some(template.to_string()),
        version: version.into(),
        update_method: Some("blue-green".into()),
        ..ProjectUpdate::default()
    };

    // Update → both versions run → confirm → only the new.
    p.update(
        &name,
        update("2.0", &sleep),
        &shipcore::model::Owner::system(),
    )
    .await
    .unwrap();
    wait_update(&p, &name, Some("ready")).await;
    assert_eq!(state(&p, &name).await, "updating");
    assert_eq!(
        containers(&c, &p, &name).await,
        [
            ("app".into(), "1.0".into(), true),
            ("app".into(), "2.0".into(), true)
        ]
    );
    let again = p
        .update(
            &name,
            update("3.0", &sleep),
            &shipcore::model::Owner::system(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(again, Error::State { .. }) && again.to_string().contains("under way"),
        "{again}"
    );
    p.confirm(&name, false).await.unwrap();
    wait_update(&p, &name, None).await;
    assert_eq!(
        containers(&c, &p, &name).await,
        [("app".into(), "2.0".into(), true)]
    );
    assert_eq!(
        p.get(&name, false, false, &shipcore::model::Owner::system())
            .await
            .unwrap()
            .version,
        "2.0"
    );

    // Same version → 409.
    let same = p
        .update(
            &name,
            update("2.0", &sleep),
            &shipcore::model::Owner::system(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(same, Error::State { .. }) && same.to_string().contains("current version"),
        "{same}"
    );

    // Update → rollback → only the old.
    p.update(
        &name,
        update("3.0", &sleep),
        &shipcore::model::Owner::system(),
    )
    .await
    .unwrap();
    wait_update(&p, &name, Some("ready")).await;
    p.rollback(&name, false).await.unwrap();
    wait_update(&p, &name, None).await;
    assert_eq!(
        containers(&c, &p, &name).await,
        [("app".into(), "2.0".into(), true)]
    );
    assert!(p
        .confirm(&name, false)
        .await
        .unwrap_err()
        .to_string()
        .contains("no update"));

    // A version that exits at once: the update ends failed, the old serves.
    p.update(
        &name,
        update("4.0", &one_service(r#"["false"]"#)),
        &shipcore::model::Owner::system(),
    )
    .await
    .unwrap();
    wait_update(&p, &name, Some("failed")).await;
    assert_eq!(state(&p, &name).await, "failed");
    let view = p
        .get(&name, false, false, &shipcore::model::Owner::system())
        .await
        .unwrap();
    assert!(
        view.update.unwrap().reason.contains("exited"),
        "the reason names the exit"
    );
    assert!(containers(&c, &p, &name)
        .await
        .contains(&("app".into(), "2.0".into(), true)));
    let no = p.confirm(&name, false).await.unwrap_err();
    assert!(no.to_string().contains("not healthy"), "{no}");
    p.rollback(&name, false).await.unwrap();
    wait_update(&p, &name, None).await;
    assert_eq!(
        containers(&c, &p, &name).await,
        [("app".into(), "2.0".into(), true)]
    );
    assert_eq!(state(&p, &name).await, "running");
    p.delete(&name, true, true).await.unwrap();
}

/// A service that runs to completion (exit 0, restart `no`) is done, as
/// compose counts it: the project runs, the service is `completed`, and a
/// dependent waiting for `service_completed_successfully` starts after it.
/// A published range for one target gets a free port of the range. A
/// service that exits non-zero fails the project, which says which and why.
#[tokio::test]
async fn one_shot_services_complete_and_a_failure_says_why() {
    let Some((c, p, _bg)) = setup("oneshot").await else {
        println!("SKIP: no engine");
        return;
    };
    let first = free_port();
    let last = first.saturating_add(5);
    let name = format!("once{first}");
    let template = format!(
        r#"
services:
  hello:
    image: {IMAGE}
    command: ["echo", "hello"]
    restart: ""
  web:
    image: {IMAGE}
    command: ["sleep", "3600"]
    depends_on:
      hello:
        condition: service_completed_successfully
    ports: ["127.0.0.1:{first}-{last}:80"]
"#
    );
    let owner = shipcore::model::Owner::system();
    let req = |name: &str, template: String| NewProject {
        name: name.to_string(),
        description: String::new(),
        template,
        version: None,
        environment: Default::default(),
        ..NewProject::default()
    };
    p.create(req(&name, template), &owner).await.unwrap();
    wait_state(&p, &name, "running").await;
    let view = p.get(&name, true, false, &owner).await.unwrap();
    let states: Vec<(String, String)> = view
        .services
        .unwrap()
        .into_iter()
        .map(|s| (s.name, s.current_state))
        .collect();
    assert_eq!(
        states,
        [
            ("hello".to_string(), "completed".to_string()),
            ("web".to_string(), "running".to_string())
        ]
    );
    assert!(view.reason.is_empty(), "{}", view.reason);
    let backend = c.backend(&view.engine).await.unwrap();
    let web = listed(&*backend, &name)
        .await
        .into_iter()
        .find(|s| {
            s.labels
                .get("io.shipcore.project.service")
                .map(String::as_str)
                == Some("web")
        })
        .unwrap();
    let port = web.ports.first().map(|p| p.port).unwrap_or(0);
    assert!(
        (u32::from(first)..=u32::from(last)).contains(&port),
        "{port} not in {first}-{last}: {:?}",
        web.ports
    );
    p.delete(&name, true, true).await.unwrap();

    let bad = format!("bad{first}");
    let template = format!(
        "services:\n  bad:\n    image: {IMAGE}\n    command: [\"sh\", \"-c\", \"sleep 1; exit 3\"]\n    restart: \"no\"\n"
    );
    p.create(req(&bad, template), &owner).await.unwrap();
    wait_state(&p, &bad, "failed").await;
    let view = p.get(&bad, true, false, &owner).await.unwrap();
    assert!(
        view.reason.contains("bad") && view.reason.contains("code 3"),
        "{}",
        view.reason
    );
    let svc = &view.services.unwrap()[0];
    assert!(svc.reason.contains("code 3"), "{}", svc.reason);
    p.delete(&bad, true, true).await.unwrap();
}

/// The keys that set how a container runs reach the engine as written:
/// `docker inspect` shows them on the container compose made.
#[tokio::test]
async fn container_keys_reach_the_engine() {
    let Some((c, p, _bg)) = setup("ckeys").await else {
        println!("SKIP: no engine");
        return;
    };
    let name = unique("ckeys").replace(['-', '_'], "");
    let template = format!(
        r#"
services:
  app:
    image: {IMAGE}
    command: ["sleep", "3600"]
    read_only: true
    cap_drop: [NET_RAW]
    pids_limit: 64
    tmpfs: ["/run:size=65536"]
    ulimits:
      nofile: {{soft: 1024, hard: 2048}}
    extra_hosts: ["db.example:10.1.2.3"]
    shm_size: 8m
    logging:
      driver: json-file
      options: {{max-size: 1m}}
    cpu_period: 100ms
    cpu_quota: 50000
    memswap_limit: -1
    domainname: corp.example
    platform: linux
"#
    );
    let owner = shipcore::model::Owner::system();
    p.create(
        NewProject {
            name: name.clone(),
            description: String::new(),
            template,
            version: None,
            environment: Default::default(),
            ..NewProject::default()
        },
        &owner,
    )
    .await
    .unwrap();
    wait_state(&p, &name, "running").await;
    let view = p.get(&name, false, false, &owner).await.unwrap();
    let backend = c.backend(&view.engine).await.unwrap();
    let app = listed(&*backend, &name).await.remove(0);
    let inspect = |format: &str| docker_on(&view.engine, &["inspect", "--format", format, &app.id]);
    let hc: serde_json::Value = serde_json::from_str(&inspect("{{json .HostConfig}}")).unwrap();
    assert_eq!(hc["ReadonlyRootfs"], true, "{hc}");
    assert_eq!(hc["CapDrop"], serde_json::json!(["NET_RAW"]));
    assert_eq!(hc["PidsLimit"], 64);
    assert_eq!(hc["Tmpfs"]["/run"], "size=65536");
    assert_eq!(hc["Ulimits"][0]["Name"], "nofile");
    assert_eq!(
        (
            hc["Ulimits"][0]["Soft"].as_i64(),
            hc["Ulimits"][0]["Hard"].as_i64()
        ),
        (Some(1024), Some(2048))
    );
    assert_eq!(hc["ExtraHosts"], serde_json::json!(["db.example:10.1.2.3"]));
    assert_eq!(hc["ShmSize"], 8 << 20);
    assert_eq!(hc["LogConfig"]["Type"], "json-file");
    assert_eq!(hc["LogConfig"]["Config"]["max-size"], "1m");
    assert_eq!(
        (hc["CpuPeriod"].as_i64(), hc["CpuQuota"].as_i64()),
        (Some(100_000), Some(50_000))
    );
    assert_eq!(hc["MemorySwap"], -1);
    assert_eq!(inspect("{{.Config.Domainname}}"), "corp.example");
    p.delete(&name, true, true).await.unwrap();
    // An image for another architecture than the engine's is refused.
    let other = format!("{name}x");
    let template = format!("services:\n  app:\n    image: {IMAGE}\n    platform: linux/s390x\n");
    p.create(
        NewProject {
            name: other.clone(),
            template,
            ..NewProject::default()
        },
        &owner,
    )
    .await
    .unwrap();
    wait_state(&p, &other, "failed").await;
    let view = p.get(&other, false, false, &owner).await.unwrap();
    assert!(
        view.reason.contains("platform linux/s390x"),
        "{}",
        view.reason
    );
    p.delete(&other, true, true).await.unwrap();
}

/// A chosen `container_name` is the container's name on its engine; during
/// a blue-green update the new version runs beside the old under the
/// project's own name, and takes the chosen one once confirmed. Scaling it
/// past one is refused.
#[tokio::test]
async fn container_name_is_kept_across_a_blue_green_update() {
    let Some((c, p, _bg)) = setup("cname").await else {
        println!("SKIP: no engine");
        return;
    };
    let name = format!("cn{}", free_port());
    let chosen = format!("{name}-app");
    // A sidecar in app's network namespace follows app when app is made
    // again under its chosen name.
    let template = format!(
        "services:\n  app:\n    image: {IMAGE}\n    container_name: {chosen}\n    command: [\"sleep\", \"3600\"]\n  sidecar:\n    image: {IMAGE}\n    network_mode: service:app\n    command: [\"sleep\", \"3600\"]\n"
    );
    let owner = shipcore::model::Owner::system();
    p.create(
        NewProject {
            name: name.clone(),
            template: template.clone(),
            ..NewProject::default()
        },
        &owner,
    )
    .await
    .unwrap();
    wait_state(&p, &name, "running").await;
    let names = || async {
        let view = p.get(&name, false, false, &owner).await.unwrap();
        let backend = c.backend(&view.engine).await.unwrap();
        let mut n: Vec<(String, String)> = listed(&*backend, &name)
            .await
            .into_iter()
            .filter(|s| {
                s.labels
                    .get("io.shipcore.project.service")
                    .map(String::as_str)
                    == Some("app")
            })
            .map(|s| {
                (
                    s.labels.get(LABEL_VERSION).cloned().unwrap_or_default(),
                    s.name.trim_start_matches('/').to_string(),
                )
            })
            .collect();
        n.sort();
        n
    };
    assert_eq!(names().await, [("1.0".to_string(), chosen.clone())]);
    let scaled = p
        .scale_service(&format!("{name}_app"), 2)
        .await
        .unwrap_err();
    assert!(scaled.to_string().contains("unique name"), "{scaled}");

    p.update(
        &name,
        ProjectUpdate {
            template: Some(template),
            version: "2.0".into(),
            update_method: Some("blue-green".into()),
            ..ProjectUpdate::default()
        },
        &owner,
    )
    .await
    .unwrap();
    wait_update(&p, &name, Some("ready")).await;
    let both = names().await;
    assert_eq!(both.len(), 2, "{both:?}");
    assert_eq!(both[0], ("1.0".to_string(), chosen.clone()));
    assert_ne!(both[1].1, chosen, "the new version waits for the name");
    p.confirm(&name, false).await.unwrap();
    wait_update(&p, &name, None).await;
    wait_for(
        "the chosen name taken over",
        Duration::from_secs(30),
        || async { names().await == [("2.0".to_string(), chosen.clone())] },
    )
    .await;
    // The sidecar is in the namespace of the app that runs now: one MAC.
    let view = p.get(&name, false, false, &owner).await.unwrap();
    let backend = c.backend(&view.engine).await.unwrap();
    let mac = |service: &'static str| {
        let (engine, backend, name) = (view.engine.clone(), backend.clone(), name.clone());
        async move {
            let id = listed(&*backend, &name)
                .await
                .into_iter()
                .find(|s| {
                    s.labels
                        .get("io.shipcore.project.service")
                        .map(String::as_str)
                        == Some(service)
                        && s.state == "running"
                })
                .map(|s| s.id)
                .unwrap_or_default();
            docker_on(
                &engine,
                &["exec", &id, "cat", "/sys/class/net/eth0/address"],
            )
        }
    };
    wait_for(
        "the sidecar in app's namespace",
        Duration::from_secs(30),
        || async {
            let (app, sidecar) = (mac("app").await, mac("sidecar").await);
            !app.is_empty() && app == sidecar
        },
    )
    .await;
    p.delete(&name, true, true).await.unwrap();
}

/// Networks as compose files declare them: a subnet of their own with a
/// service at a static address, a network made outside the project
/// (external, used and left in place), a named one, and a service without
/// a network (`network_mode: none`).
#[tokio::test]
async fn networks_with_subnets_static_addresses_external_and_modes() {
    let Some((c, p, _bg)) = setup("nets").await else {
        println!("SKIP: no engine");
        return;
    };
    let tag = free_port();
    let name = format!("net{tag}");
    let outside = format!("outside{tag}");
    // The external network exists on engine A only: the project is pinned
    // there.
    let a = c.backend("a").await.unwrap();
    a.create_network(&shipcore::engine::NetworkSpec {
        name: outside.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    let octet = 16 + (tag % 200) as u8 / 16;
    let template = format!(
        r#"
x-shipcore-labels: ["host:a"]
services:
  db:
    image: {IMAGE}
    command: ["sleep", "3600"]
    networks:
      back:
        ipv4_address: 10.{octet}.5.10
      shared: {{}}
  lone:
    image: {IMAGE}
    command: ["sleep", "3600"]
    network_mode: none
networks:
  back:
    name: {name}-backnet
    ipam:
      config:
        - subnet: 10.{octet}.0.0/16
  shared:
    external: true
    name: {outside}
"#
    );
    let owner = shipcore::model::Owner::system();
    p.create(
        NewProject {
            name: name.clone(),
            template,
            ..NewProject::default()
        },
        &owner,
    )
    .await
    .unwrap();
    wait_state(&p, &name, "running").await;
    let inspect = |what: &str, format: &str| docker_on("a", &["inspect", "--format", format, what]);
    let list = listed(&*a, &name).await;
    let id_of = |svc: &str| {
        list.iter()
            .find(|s| {
                s.labels
                    .get("io.shipcore.project.service")
                    .map(String::as_str)
                    == Some(svc)
            })
            .unwrap()
            .id
            .clone()
    };
    let db = id_of("db");
    let addr = inspect(
        &db,
        &format!("{{{{(index .NetworkSettings.Networks \"{name}-backnet\").IPAddress}}}}"),
    );
    assert_eq!(addr, format!("10.{octet}.5.10"));
    assert!(inspect(&db, "{{json .NetworkSettings.Networks}}").contains(&outside));
    assert_eq!(
        inspect(&id_of("lone"), "{{.HostConfig.NetworkMode}}"),
        "none"
    );
    assert_eq!(
        inspect(
            &format!("{name}-backnet"),
            "{{(index .IPAM.Config 0).Subnet}}"
        ),
        format!("10.{octet}.0.0/16")
    );
    p.delete(&name, true, true).await.unwrap();
    // The project's own network goes with it; the external one stays.
    let nets: Vec<String> = a
        .list_networks()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert!(
        nets.contains(&outside) && !nets.contains(&format!("{name}-backnet")),
        "{nets:?}"
    );
    a.remove_network(&outside).await.unwrap();
}

/// A version 1 file (services at the top level) runs as docker-compose 1.x
/// ran it: on Docker's default bridge, where a service reaches another by
/// the alias of its link.
#[tokio::test]
async fn a_version_one_file_with_links_on_the_default_bridge() {
    let Some((c, p, _bg)) = setup("vone").await else {
        println!("SKIP: no engine");
        return;
    };
    let name = format!("vone{}", free_port());
    let template = format!(
        r#"
db:
  image: {IMAGE}
  command: ["sh", "-c", "mkdir -p /www && echo hi-from-db > /www/index.html && exec httpd -f -p 80 -h /www"]
web:
  image: {IMAGE}
  links: ["db:database"]
  command: ["sh", "-c", "for i in $$(seq 1 40); do wget -q -O /tmp/got http://database/ && break; sleep 0.25; done; exec sleep 3600"]
"#
    );
    let owner = shipcore::model::Owner::system();
    p.create(
        NewProject {
            name: name.clone(),
            template,
            ..NewProject::default()
        },
        &owner,
    )
    .await
    .unwrap();
    wait_state(&p, &name, "running").await;
    let view = p.get(&name, false, false, &owner).await.unwrap();
    let backend = c.backend(&view.engine).await.unwrap();
    let web = listed(&*backend, &name)
        .await
        .into_iter()
        .find(|s| {
            s.labels
                .get("io.shipcore.project.service")
                .map(String::as_str)
                == Some("web")
        })
        .unwrap();
    let got =
        wait_for(
            "web fetched from db by its link alias",
            Duration::from_secs(20),
            || {
                let (engine, id) = (view.engine.clone(), web.id.clone());
                async move {
                    docker_on(&engine, &["exec", &id, "cat", "/tmp/got"]).contains("hi-from-db")
                }
            },
        )
        .await;
    assert!(got < Duration::from_secs(20));
    let mode = docker_on(
        &view.engine,
        &[
            "inspect",
            "--format",
            "{{.HostConfig.NetworkMode}}",
            &web.id,
        ],
    );
    assert_eq!(mode, "bridge");
    p.delete(&name, true, true).await.unwrap();
}

/// Secrets and configs reach the container as files before it starts: from
/// a file among the project's, from its environment, or inline, with the
/// mode asked for.
#[tokio::test]
async fn secrets_and_configs_are_files_in_the_container() {
    let Some((c, p, _bg)) = setup("secrets").await else {
        println!("SKIP: no engine");
        return;
    };
    let name = format!("sec{}", free_port());
    let template = format!(
        r#"
services:
  app:
    image: {IMAGE}
    command: ["sleep", "3600"]
    secrets:
      - db_password
      - source: token
        target: api-token
        mode: 0400
    configs:
      - source: conf
        target: /etc/app/app.conf
secrets:
  db_password:
    file: ./secrets/db.txt
  token:
    environment: TOKEN
configs:
  conf:
    content: "listen ${{PORT:-8080}}"
"#
    );
    let owner = shipcore::model::Owner::system();
    p.create(
        NewProject {
            name: name.clone(),
            template,
            environment: [("TOKEN".to_string(), "t0ken".to_string())].into(),
            files: [("secrets/db.txt".to_string(), "pa55word".to_string())].into(),
            ..NewProject::default()
        },
        &owner,
    )
    .await
    .unwrap();
    wait_state(&p, &name, "running").await;
    let view = p.get(&name, false, false, &owner).await.unwrap();
    let backend = c.backend(&view.engine).await.unwrap();
    let app = listed(&*backend, &name).await.remove(0);
    let exec = |args: &[&str]| {
        let mut all = vec!["exec", app.id.as_str()];
        all.extend_from_slice(args);
        docker_on(&view.engine, &all)
    };
    assert_eq!(exec(&["cat", "/run/secrets/db_password"]), "pa55word");
    assert_eq!(exec(&["cat", "/run/secrets/api-token"]), "t0ken");
    assert_eq!(exec(&["cat", "/etc/app/app.conf"]), "listen 8080");
    assert_eq!(exec(&["stat", "-c", "%a", "/run/secrets/api-token"]), "400");
    assert_eq!(
        exec(&["stat", "-c", "%a", "/run/secrets/db_password"]),
        "444"
    );
    p.delete(&name, true, true).await.unwrap();
}

/// Relative bind sources as a checkout has them: the project's own files
/// (a file, a folder of them) are in the container at the mount's target;
/// a folder it does not carry is made on the engine's host under the
/// project's folder, as docker-compose makes one beside the compose file.
#[tokio::test]
async fn relative_binds_take_the_projects_files_or_a_host_folder_of_its_own() {
    let root = tempfile::tempdir().unwrap();
    let bind_root = root.path().to_string_lossy().to_string();
    let Some((c, p, _bg)) = setup_with("binds", |o| o.bind_root = bind_root.clone()).await else {
        println!("SKIP: no engine");
        return;
    };
    let name = format!("bind{}", free_port());
    let template = format!(
        r#"
services:
  app:
    image: {IMAGE}
    command: ["sh", "-c", "echo written > /data/out; exec sleep 3600"]
    volumes:
      - ./conf/app.conf:/etc/app/app.conf:ro
      - ./site:/srv/site
      - ./data:/data
"#
    );
    let owner = shipcore::model::Owner::system();
    p.create(
        NewProject {
            name: name.clone(),
            template,
            files: [
                ("conf/app.conf".to_string(), "listen 80".to_string()),
                ("site/index.html".to_string(), "<p>hi</p>".to_string()),
                ("site/css/a.css".to_string(), "p{}".to_string()),
            ]
            .into(),
            ..NewProject::default()
        },
        &owner,
    )
    .await
    .unwrap();
    wait_state(&p, &name, "running").await;
    let view = p.get(&name, false, false, &owner).await.unwrap();
    let backend = c.backend(&view.engine).await.unwrap();
    let app = listed(&*backend, &name).await.remove(0);
    let exec = |args: &[&str]| {
        let mut all = vec!["exec", app.id.as_str()];
        all.extend_from_slice(args);
        docker_on(&view.engine, &all)
    };
    assert_eq!(exec(&["cat", "/etc/app/app.conf"]), "listen 80");
    assert_eq!(exec(&["cat", "/srv/site/index.html"]), "<p>hi</p>");
    assert_eq!(exec(&["cat", "/srv/site/css/a.css"]), "p{}");
    // The engine's host folder for ./data, written by the container.
    let host = root.path().join(&name).join("data").join("out");
    wait_for("the host folder written", Duration::from_secs(10), || {
        let host = host.clone();
        async move { std::fs::read_to_string(&host).is_ok_and(|t| t.trim() == "written") }
    })
    .await;
    p.delete(&name, true, true).await.unwrap();
}

/// A key the engine cannot honour is not dropped: healthcheck
/// `start_interval` needs Docker API 1.44, and on the test bed's engines
/// (older) the project fails saying so.
#[tokio::test]
async fn a_key_the_engine_cannot_honour_fails_the_project_saying_why() {
    let Some((_c, p, _bg)) = setup("tooold").await else {
        println!("SKIP: no engine");
        return;
    };
    let name = format!("old{}", free_port());
    let template = format!(
        "services:\n  app:\n    image: {IMAGE}\n    command: [\"sleep\", \"3600\"]\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      start_interval: 1s\n"
    );
    let owner = shipcore::model::Owner::system();
    p.create(
        NewProject {
            name: name.clone(),
            template,
            ..NewProject::default()
        },
        &owner,
    )
    .await
    .unwrap();
    let engine_api = docker_on("a", &["version", "--format", "{{.Server.APIVersion}}"]);
    let newer = engine_api
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
        .is_some_and(|v| v >= (1, 44));
    if newer {
        wait_state(&p, &name, "running").await;
    } else {
        wait_state(&p, &name, "failed").await;
        let view = p.get(&name, false, false, &owner).await.unwrap();
        assert!(
            view.reason.contains("start_interval needs Docker API 1.44"),
            "{}",
            view.reason
        );
    }
    p.delete(&name, true, true).await.unwrap();
    // A MAC address, taken per network from Docker API 1.44 on.
    let mac = format!("{name}mac");
    p.create(
        NewProject {
            name: mac.clone(),
            template: format!(
                "services:\n  app:\n    image: {IMAGE}\n    command: [\"sleep\", \"3600\"]\n    mac_address: 02:42:ac:11:99:02\n"
            ),
            ..NewProject::default()
        },
        &owner,
    )
    .await
    .unwrap();
    if newer {
        wait_state(&p, &mac, "running").await;
    } else {
        wait_state(&p, &mac, "failed").await;
        let view = p.get(&mac, false, false, &owner).await.unwrap();
        assert!(
            view.reason.contains("mac_address needs Docker API 1.44"),
            "{}",
            view.reason
        );
    }
    p.delete(&mac, true, true).await.unwrap();
}

/// A sidecar shares its service's network (`network_mode: service:web`,
/// reaching it on localhost) and a backup takes its volumes
/// (`volumes_from`), both started after it.
#[tokio::test]
async fn a_sidecar_shares_a_network_and_a_backup_its_volumes() {
    let Some((c, p, _bg)) = setup("sidecar").await else {
        println!("SKIP: no engine");
        return;
    };
    let name = format!("side{}", free_port());
    let template = format!(
        r#"
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "mkdir -p /data && echo from-web > /data/note && echo hi > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"]
    volumes: ["/data"]
  sidecar:
    image: {IMAGE}
    network_mode: "service:web"
    command: ["sh", "-c", "for i in $$(seq 1 40); do wget -q -O /tmp/got http://127.0.0.1:8080/index.html && break; sleep 0.25; done; exec sleep 3600"]
  backup:
    image: {IMAGE}
    volumes_from: ["web:ro"]
    command: ["sleep", "3600"]
"#
    );
    let owner = shipcore::model::Owner::system();
    p.create(
        NewProject {
            name: name.clone(),
            template,
            ..NewProject::default()
        },
        &owner,
    )
    .await
    .unwrap();
    wait_state(&p, &name, "running").await;
    let view = p.get(&name, false, false, &owner).await.unwrap();
    let backend = c.backend(&view.engine).await.unwrap();
    let list = listed(&*backend, &name).await;
    let id_of = |svc: &str| {
        list.iter()
            .find(|s| {
                s.labels
                    .get("io.shipcore.project.service")
                    .map(String::as_str)
                    == Some(svc)
            })
            .unwrap()
            .id
            .clone()
    };
    let exec = |id: String, args: Vec<&'static str>| {
        let engine = view.engine.clone();
        async move {
            let mut all = vec!["exec", id.as_str()];
            all.extend(args);
            docker_on(&engine, &all)
        }
    };
    let sidecar = id_of("sidecar");
    wait_for(
        "the sidecar reached web on localhost",
        Duration::from_secs(20),
        || {
            let got = exec(sidecar.clone(), vec!["cat", "/tmp/got"]);
            async move { got.await == "hi" }
        },
    )
    .await;
    assert_eq!(
        exec(id_of("backup"), vec!["cat", "/data/note"]).await,
        "from-web"
    );
    p.delete(&name, true, true).await.unwrap();
}

/// `pull_policy: never` does not pull: an image the engine lacks fails the
/// project saying so.
#[tokio::test]
async fn pull_policy_never_does_not_pull() {
    let Some((_c, p, _bg)) = setup("nopull").await else {
        println!("SKIP: no engine");
        return;
    };
    let name = format!("nopull{}", free_port());
    let template =
        "services:\n  app:\n    image: shipcore/not-on-any-engine:1\n    pull_policy: never\n"
            .to_string();
    let owner = shipcore::model::Owner::system();
    p.create(
        NewProject {
            name: name.clone(),
            template,
            ..NewProject::default()
        },
        &owner,
    )
    .await
    .unwrap();
    wait_state(&p, &name, "failed").await;
    let view = p.get(&name, false, false, &owner).await.unwrap();
    assert!(
        view.reason.contains("pull_policy is never"),
        "{}",
        view.reason
    );
    p.delete(&name, true, true).await.unwrap();
}

/// An external network or volume that another cluster made, or that was
/// made for another account, is not a project's to use: the project fails
/// saying so. An admin's project may use another account's.
#[tokio::test]
async fn another_accounts_or_clusters_network_is_not_used_as_external() {
    let Some((c, p, _bg)) = setup("theirs").await else {
        println!("SKIP: no engine");
        return;
    };
    let tag = free_port();
    let a = c.backend("a").await.unwrap();
    let other_cluster = format!("othercl{tag}");
    let bobs = format!("bobsnet{tag}");
    let bobs_volume = format!("bobsvol{tag}");
    let labelled = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    a.create_network(&shipcore::engine::NetworkSpec {
        name: other_cluster.clone(),
        labels: labelled(&[("io.shipcore.compose", "someone-else")]),
        ..Default::default()
    })
    .await
    .unwrap();
    let identity = c.identity().to_string();
    let bob = labelled(&[
        ("io.shipcore.compose", &identity),
        ("io.shipcore.account", "bob"),
    ]);
    a.create_network(&shipcore::engine::NetworkSpec {
        name: bobs.clone(),
        labels: bob.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    a.create_volume(&shipcore::engine::VolumeSpec {
        name: bobs_volume.clone(),
        labels: bob,
        ..Default::default()
    })
    .await
    .unwrap();
    let template = |net: &str, volume: bool| {
        let mut t = format!(
            "x-shipcore-labels: [\"host:a\"]\nservices:\n  app:\n    image: {IMAGE}\n    command: [\"sleep\", \"3600\"]\n    networks: [shared]\n"
        );
        if volume {
            t.push_str("    volumes: [\"data:/data\"]\n");
        }
        t.push_str(&format!(
            "networks:\n  shared:\n    external: true\n    name: {net}\n"
        ));
        if volume {
            t.push_str(&format!(
                "volumes:\n  data:\n    external: true\n    name: {bobs_volume}\n"
            ));
        }
        t
    };
    let alice = shipcore::model::Owner {
        name: "alice".into(),
        role: shipcore::model::Role::new("user", &[]).unwrap(),
    };
    let admin = shipcore::model::Owner::system();
    for (i, (net, volume, owner, want)) in [
        (&other_cluster, false, &admin, Some("another cluster")),
        (&bobs, false, &alice, Some("another account")),
        (
            &other_cluster.clone(),
            false,
            &alice,
            Some("another cluster"),
        ),
        (&bobs, true, &admin, None),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("theirs{tag}x{i}");
        p.create(
            NewProject {
                name: name.clone(),
                template: template(net, volume),
                ..NewProject::default()
            },
            owner,
        )
        .await
        .unwrap();
        match want {
            Some(why) => {
                wait_state(&p, &name, "failed").await;
                let view = p.get(&name, false, false, owner).await.unwrap();
                assert!(view.reason.contains(why), "{why}: {}", view.reason);
            }
            None => wait_state(&p, &name, "running").await,
        }
        p.delete(&name, true, true).await.unwrap();
    }
    // Bob's volume is still there: external, never removed by a project.
    assert!(a.inspect_volume(&bobs_volume).await.is_ok());
    a.remove_volume(&bobs_volume, false).await.unwrap();
    a.remove_network(&bobs).await.unwrap();
    a.remove_network(&other_cluster).await.unwrap();
}
