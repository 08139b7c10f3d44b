//! The cluster endpoint over a real TLS listener and fake engines: the
//! auth matrix of its Docker API (every route with the certificate of an
//! admin, a user, a read-only role and a revoked one; no certificate and
//! one of another CA never get through the handshake), what its calls do
//! (version negotiation, create through the scheduler, start/stop and
//! Docker's 304s, name conflicts, placement failures with the per-engine
//! explanation, networks that pin their containers, volumes on every
//! engine, Docker's error shape), and junk requests to every route, after
//! which the cluster's records, its engines and its reservations agree.
#![allow(clippy::unwrap_used)]

mod tls_client;

use std::collections::BTreeSet;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{json, Value};
use shipcore::engine::{ContainerFilter, EngineBackend};
use shipcore::testing::{Fixture, ADMIN_PASSWORD};
use tls_client::{client, send, TlsClient};

struct Bed {
    base: String,
    fixture: Fixture,
    admin: TlsClient,
    user: TlsClient,
    viewer: TlsClient,
    revoked: TlsClient,
    /// Another cluster's CA and a certificate it signed.
    foreign: TlsClient,
    bare: TlsClient,
}

async fn cert_client(
    fixture: &Fixture,
    ca: &str,
    user: &str,
    password: &str,
) -> (TlsClient, String) {
    let p = fixture
        .access
        .by_password(user, password, None)
        .await
        .unwrap()
        .unwrap();
    let c = fixture
        .access
        .client_certificate(fixture.cluster.identity(), &p)
        .await
        .unwrap();
    (client(ca, Some((&c.cert, &c.key))), c.serial)
}

async fn bed() -> Bed {
    let fixture = Fixture::fake(2, 4_000, 8_192, &["app:1"]).await.unwrap();
    let a = &fixture.access;
    a.create_account("u", "user-pw", "user").await.unwrap();
    a.create_role(
        "viewer",
        vec![shipcore::model::Permission::try_from("containers:ro".to_string()).unwrap()],
    )
    .await
    .unwrap();
    a.create_account("v", "viewer-pw", "viewer").await.unwrap();
    a.create_account("gone", "gone-pw", "user").await.unwrap();
    let identity = fixture.cluster.identity().to_string();
    let server = a
        .server_certificate(&identity, &["127.0.0.1".into()], Duration::from_secs(3600))
        .await
        .unwrap();
    let ca = server.ca.clone();
    let (admin, _) = cert_client(&fixture, &ca, "admin", ADMIN_PASSWORD).await;
    let (user, _) = cert_client(&fixture, &ca, "u", "user-pw").await;
    let (viewer, _) = cert_client(&fixture, &ca, "v", "viewer-pw").await;
    let (revoked, serial) = cert_client(&fixture, &ca, "gone", "gone-pw").await;
    a.revoke_certificate(&serial).await.unwrap();
    let other = Fixture::fake(1, 1_000, 1_000, &[]).await.unwrap();
    let (foreign_client, _) = {
        let p = other
            .access
            .by_password("admin", ADMIN_PASSWORD, None)
            .await
            .unwrap()
            .unwrap();
        let c = other.access.client_certificate("other", &p).await.unwrap();
        (client(&ca, Some((&c.cert, &c.key))), c.serial)
    };
    let projects = shipcore::projects::Projects::open(
        fixture.store.clone(),
        fixture.cluster.clone(),
        shipcore::projects::ProjectsOptions::default(),
    )
    .await
    .unwrap();
    let app = shipcore_http::App::with_projects(
        fixture.cluster.clone(),
        fixture.access.clone(),
        shipcore_http::Limits::default(),
        projects,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let tls = shipcore_http::TlsOptions {
        cert: server.cert,
        key: server.key,
        client_ca: server.ca,
    };
    tokio::spawn(shipcore_http::serve_tls(
        listener,
        app,
        tls,
        std::future::pending(),
    ));
    Bed {
        base,
        bare: client(&ca, None),
        fixture,
        admin,
        user,
        viewer,
        revoked,
        foreign: foreign_client,
    }
}

impl Bed {
    async fn call(
        &self,
        c: &TlsClient,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, Value) {
        let (s, b) = send(c, &self.base, method, path, body).await.unwrap();
        (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
    }
}

/// Every route of the Docker API: method, path, permission area ("": any
/// valid certificate), whether it writes, a body.
const DOCKER: &[(&str, &str, &str, bool, &str)] = &[
    ("GET", "/_ping", "", false, ""),
    ("HEAD", "/_ping", "", false, ""),
    ("GET", "/v1.41/version", "", false, ""),
    ("GET", "/v1.41/info", "cluster", false, ""),
    ("GET", "/v1.41/events?until=1", "events", false, ""),
    (
        "GET",
        "/v1.41/containers/json?all=1",
        "containers",
        false,
        "",
    ),
    (
        "POST",
        "/v1.41/containers/create",
        "containers",
        true,
        r#"{"Image":"app:1"}"#,
    ),
    ("GET", "/v1.41/containers/x/json", "containers", false, ""),
    ("POST", "/v1.41/containers/x/start", "containers", true, ""),
    ("POST", "/v1.41/containers/x/stop", "containers", true, ""),
    ("POST", "/v1.41/containers/x/kill", "containers", true, ""),
    (
        "POST",
        "/v1.41/containers/x/restart",
        "containers",
        true,
        "",
    ),
    (
        "GET",
        "/v1.41/containers/x/logs?stdout=1",
        "containers",
        false,
        "",
    ),
    ("POST", "/v1.41/containers/x/wait", "containers", false, ""),
    (
        "POST",
        "/v1.41/containers/x/attach",
        "containers",
        false,
        "",
    ),
    ("DELETE", "/v1.41/containers/x", "containers", true, ""),
    ("GET", "/v1.41/images/json", "containers", false, ""),
    (
        "POST",
        "/v1.41/images/create?fromImage=app&tag=1",
        "containers",
        true,
        "",
    ),
    ("GET", "/v1.41/images/app:1/json", "containers", false, ""),
    ("GET", "/v1.41/volumes", "containers", false, ""),
    (
        "POST",
        "/v1.41/volumes/create",
        "containers",
        true,
        r#"{"Name":"m1"}"#,
    ),
    ("GET", "/v1.41/volumes/m1", "containers", false, ""),
    ("DELETE", "/v1.41/volumes/m1", "containers", true, ""),
    ("GET", "/v1.41/networks", "containers", false, ""),
    (
        "POST",
        "/v1.41/networks/create",
        "containers",
        true,
        r#"{"Name":"n1"}"#,
    ),
    ("GET", "/v1.41/networks/n1", "containers", false, ""),
    (
        "POST",
        "/v1.41/networks/n1/connect",
        "containers",
        true,
        r#"{"Container":"x"}"#,
    ),
    (
        "POST",
        "/v1.41/networks/n1/disconnect",
        "containers",
        true,
        r#"{"Container":"x"}"#,
    ),
    ("DELETE", "/v1.41/networks/n1", "containers", true, ""),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auth_matrix_of_the_cluster_endpoint() {
    let bed = bed().await;
    for &(method, path, area, writes, body) in DOCKER {
        let body = (!body.is_empty()).then_some(body);
        for (who, c, allowed) in [
            ("admin", &bed.admin, true),
            ("user", &bed.user, true),
            (
                "viewer (containers:ro)",
                &bed.viewer,
                area.is_empty() || (area == "containers" && !writes),
            ),
        ] {
            let (s, v) = bed.call(c, method, path, body).await;
            if allowed {
                assert!(s != 401 && s != 403, "{who} {method} {path}: {s} {v}");
            } else {
                assert_eq!(s, 403, "{who} {method} {path}: {v}");
                assert!(v["message"].as_str().unwrap().contains("may not"), "{v}");
            }
        }
        // A revoked certificate gets through the handshake, and no further.
        let (s, v) = bed.call(&bed.revoked, method, path, body).await;
        assert_eq!(s, 401, "revoked {method} {path}: {v}");
        if method != "HEAD" {
            assert!(v["message"].as_str().unwrap().contains("revoked"), "{v}");
        }
        for (who, c) in [
            ("no certificate", &bed.bare),
            ("another CA's", &bed.foreign),
        ] {
            let r = send(c, &bed.base, method, path, body).await;
            assert!(r.is_err(), "{who} {method} {path}: {r:?}");
        }
    }
    // The 003 API is on the endpoint too, with the same rules.
    let (s, v) = bed.call(&bed.user, "GET", "/projects/", None).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = bed.call(&bed.viewer, "GET", "/projects/", None).await;
    assert_eq!(s, 403, "{v}");
    let (s, _) = bed.call(&bed.revoked, "GET", "/projects/", None).await;
    assert_eq!(s, 401);
    // A certificate does not change its account's password.
    let (s, v) = bed
        .call(
            &bed.user,
            "POST",
            "/account/changepassword",
            Some(r#"{"password":"x"}"#),
        )
        .await;
    assert_eq!(s, 403, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_calls_go_through_the_scheduler_and_answer_as_docker_does() {
    let bed = bed().await;
    let c = &bed.admin;
    // Version negotiation.
    let res = send(c, &bed.base, "GET", "/_ping", None).await.unwrap();
    assert_eq!(res, (200, bytes::Bytes::from("OK")));
    let (s, v) = bed.call(c, "GET", "/v1.99/version", None).await;
    assert_eq!(s, 400);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("is too new. Maximum supported API version is 1.41"),
        "{v}"
    );
    let (s, v) = bed.call(c, "GET", "/v1.5/version", None).await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = bed.call(c, "GET", "/version", None).await;
    assert_eq!((s, v["ApiVersion"].as_str()), (200, Some("1.41")));

    // Create: placed, recorded, not started; start, 304; stop, 304.
    let (s, v) = bed
        .call(
            c,
            "POST",
            "/v1.41/containers/create?name=web",
            Some(r#"{"Image":"app:1","HostConfig":{"Memory":67108864}}"#),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["Id"].as_str().unwrap().to_string();
    let recorded = bed.fixture.cluster.container(&id).await.unwrap();
    assert_eq!((recorded.name.as_str(), recorded.image.memory), ("web", 64));
    assert!(!recorded.state.running);
    let (s, v) = bed.call(c, "GET", "/v1.41/containers/web/json", None).await;
    assert_eq!(
        (s, v["State"]["Running"].as_bool()),
        (200, Some(false)),
        "{v}"
    );
    assert_eq!(v["Name"], "/web");
    let (s, _) = bed
        .call(c, "POST", "/v1.41/containers/web/start", None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = bed
        .call(c, "POST", "/v1.41/containers/web/start", None)
        .await;
    assert_eq!(s, 304);
    assert!(
        bed.fixture
            .cluster
            .container(&id)
            .await
            .unwrap()
            .state
            .running
    );
    let (s, v) = bed.call(c, "GET", "/v1.41/containers/json", None).await;
    assert_eq!(s, 200);
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Names"][0].as_str().unwrap())
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.ends_with("/web") && n.split('/').count() == 3),
        "{names:?}"
    );
    // A running container is removed only with force.
    let (s, v) = bed.call(c, "DELETE", "/v1.41/containers/web", None).await;
    assert_eq!(s, 409, "{v}");
    let (s, _) = bed
        .call(c, "POST", "/v1.41/containers/web/stop?t=1", None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = bed
        .call(c, "POST", "/v1.41/containers/web/stop", None)
        .await;
    assert_eq!(s, 304);
    // The name is the cluster's: taken is a 409.
    let (s, v) = bed
        .call(
            c,
            "POST",
            "/v1.41/containers/create?name=web",
            Some(r#"{"Image":"app:1"}"#),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("already in use"),
        "{v}"
    );
    // Two creates racing for one name: one gets it.
    let body = r#"{"Image":"app:1"}"#;
    let path = "/v1.41/containers/create?name=twin";
    let (x, y) = tokio::join!(
        bed.call(c, "POST", path, Some(body)),
        bed.call(&bed.user, "POST", path, Some(body))
    );
    let mut statuses = [x.0, y.0];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{x:?} {y:?}");
    let (s, _) = bed.call(c, "DELETE", "/v1.41/containers/twin", None).await;
    assert_eq!(s, 204);
    let (s, _) = bed.call(c, "DELETE", "/v1.41/containers/web", None).await;
    assert_eq!(s, 204);
    assert!(bed.fixture.cluster.container(&id).await.is_err());
    let (s, v) = bed.call(c, "GET", "/v1.41/containers/web/json", None).await;
    assert_eq!(s, 404, "{v}");

    // No engine has the image; no engine has the memory.
    let (s, v) = bed
        .call(
            c,
            "POST",
            "/v1.41/containers/create",
            Some(r#"{"Image":"nope:1"}"#),
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(v["message"], "No such image: nope:1");
    let (s, v) = bed
        .call(
            c,
            "POST",
            "/v1.41/containers/create",
            Some(r#"{"Image":"app:1","HostConfig":{"Memory":1072668082176}}"#),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    let m = v["message"].as_str().unwrap();
    assert!(
        m.contains("cannot place: 0/2 engines: 2 insufficient memory"),
        "{m}"
    );
    assert!(m.contains("e0:") && m.contains("e1:"), "{m}");
    assert!(bed.fixture.cluster.containers().await.is_empty());

    // A network lives on one engine; its containers are placed there.
    let (s, v) = bed
        .call(
            c,
            "POST",
            "/v1.41/networks/create",
            Some(r#"{"Name":"app_default","Labels":{"k":"v"}}"#),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = bed
        .call(
            c,
            "POST",
            "/v1.41/networks/create",
            Some(r#"{"Name":"app_default"}"#),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    let (s, net) = bed
        .call(c, "GET", "/v1.41/networks/app_default", None)
        .await;
    assert_eq!((s, net["Labels"]["k"].as_str()), (200, Some("v")), "{net}");
    let home = net["Node"]["Name"].as_str().unwrap().to_string();
    for i in 0..4 {
        let body = json!({"Image": "app:1", "HostConfig": {"NetworkMode": "app_default", "Memory": 33554432},
            "NetworkingConfig": {"EndpointsConfig": {"app_default": {"Aliases": ["svc"]}}}});
        let (s, v) = bed
            .call(
                c,
                "POST",
                &format!("/v1.41/containers/create?name=svc{i}"),
                Some(&body.to_string()),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let made = bed
            .fixture
            .cluster
            .container(v["Id"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(made.engine.id, home);
        let (s, v) = bed
            .call(
                c,
                "POST",
                "/v1.41/networks/app_default/connect",
                Some(&json!({"Container": format!("svc{i}")}).to_string()),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    // Swarm's constraint on the engine, from the environment.
    let other = if home == "e0" { "e1" } else { "e0" };
    let body = json!({"Image": "app:1", "Env": [format!("constraint:node=={other}")]});
    let (s, v) = bed
        .call(
            c,
            "POST",
            "/v1.41/containers/create",
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let made = bed
        .fixture
        .cluster
        .container(v["Id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(made.engine.id, other);

    // Volumes are made on, and removed from, every engine.
    let (s, v) = bed
        .call(
            c,
            "POST",
            "/v1.41/volumes/create",
            Some(r#"{"Name":"shared"}"#),
        )
        .await;
    assert_eq!((s, v["Name"].as_str()), (201, Some("shared")), "{v}");
    for e in ["e0", "e1"] {
        assert!(bed
            .fixture
            .engine(e)
            .unwrap()
            .inspect_volume("shared")
            .await
            .is_ok());
    }
    let (s, v) = bed.call(c, "GET", "/v1.41/volumes", None).await;
    assert_eq!(s, 200);
    assert_eq!(
        v["Volumes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["Name"] == "shared")
            .count(),
        1
    );
    let (s, _) = bed.call(c, "DELETE", "/v1.41/volumes/shared", None).await;
    assert_eq!(s, 204);
    for e in ["e0", "e1"] {
        assert!(bed
            .fixture
            .engine(e)
            .unwrap()
            .inspect_volume("shared")
            .await
            .is_err());
    }

    // Docker's error shape, for what is wrong and what is not served.
    let (s, v) = bed
        .call(c, "POST", "/v1.41/containers/create", Some("{"))
        .await;
    assert_eq!(s, 400);
    assert!(
        v["message"].as_str().unwrap().starts_with("invalid body"),
        "{v}"
    );
    let (s, v) = bed
        .call(
            &bed.user,
            "POST",
            "/v1.41/containers/create",
            Some(r#"{"Image":"app:1","HostConfig":{"Privileged":true}}"#),
        )
        .await;
    assert_eq!(s, 403, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("HostConfig.Privileged needs the capability privileged"),
        "{v}"
    );
    let (s, v) = bed
        .call(c, "POST", "/v1.41/containers/svc0/attach", None)
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("Upgrade: tcp"),
        "{v}"
    );
    let (s, v) = bed
        .call(c, "POST", "/v1.41/containers/svc0/exec", None)
        .await;
    assert_eq!(s, 501);
    assert!(
        v["message"].as_str().unwrap().contains("not supported"),
        "{v}"
    );
    let (s, v) = bed.call(c, "GET", "/v1.41/nothing-here", None).await;
    assert_eq!((s, v["message"].as_str()), (404, Some("page not found")));
    let (s, v) = bed
        .call(c, "GET", "/v1.41/containers/json?filters=%7Bnope", None)
        .await;
    assert_eq!(s, 400, "{v}");
    for q in [
        "until=-9223372036854775808",
        "since=-9223372036854775808&until=1",
        "until=9223372036854775807x",
    ] {
        let r = send(c, &bed.base, "GET", &format!("/v1.41/events?{q}"), None)
            .await
            .unwrap();
        assert!(r.0 == 200 || r.0 == 400, "{q}: {r:?}");
    }
    let (s, v) = bed.call(c, "GET", "/v1.41/info", None).await;
    assert_eq!(s, 200);
    assert_eq!(v["Swarm"]["LocalNodeState"], "inactive");
    assert!(
        v["DriverStatus"].to_string().contains("e0")
            && v["DriverStatus"].to_string().contains("e1"),
        "{v}"
    );
}

/// Junk to every route: no panic, no 5xx, and afterwards every container
/// the cluster records is on its engine, every engine container of the
/// cluster is recorded, and reservations are the records' footprints.
#[test]
fn junk_requests_leave_the_cluster_consistent() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let bed = rt.block_on(bed());
    let segments = prop_oneof![
        Just("x".to_string()),
        Just("app:1".to_string()),
        Just("svc".to_string()),
        Just("e0/svc".to_string()),
        Just("%ff".to_string()),
        Just("..".to_string()),
        "[a-z0-9_.-]{0,10}",
    ];
    let bodies = prop_oneof![
        Just(String::new()),
        Just(r#"{"Image":"app:1","HostConfig":{"Memory":33554432}}"#.to_string()),
        Just(r#"{"Image":"app:1","HostConfig":{"NetworkMode":"jn"}}"#.to_string()),
        Just(r#"{"Name":"jn"}"#.to_string()),
        Just(r#"{"Container":"svc"}"#.to_string()),
        ".{0,40}",
        (any::<i64>(), "[a-zA-Z]{0,8}").prop_map(|(n, s)| format!(r#"{{"Image":"{s}","HostConfig":{{"Memory":{n},"NanoCpus":{n}}},"Env":["constraint:{s}=={n}"]}}"#)),
    ];
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 96,
        failure_persistence: None,
        ..Default::default()
    });
    runner
        .run(
            &(0..DOCKER.len(), segments, bodies, "[a-z=&0-9]{0,12}"),
            |(i, seg, body, query)| {
                let (method, path, ..) = DOCKER[i];
                let path = path.replace("/x", &format!("/{seg}")).replace("n1", &seg);
                let sep = if path.contains('?') { '&' } else { '?' };
                let path = format!("{path}{sep}{query}&name={seg}");
                // A wait on a container that runs, or a followed log, is a
                // long poll: its answer is not awaited past a few seconds.
                let res = rt.block_on(async {
                    tokio::time::timeout(
                        Duration::from_secs(3),
                        send(&bed.admin, &bed.base, method, &path, Some(&body)),
                    )
                    .await
                });
                if let Ok(Ok((status, _))) = res {
                    prop_assert!(
                        status < 500 || status == 501,
                        "{method} {path} {body}: {status}"
                    );
                }
                Ok(())
            },
        )
        .unwrap();
    rt.block_on(async {
        let records: BTreeSet<String> = bed
            .fixture
            .cluster
            .containers()
            .await
            .into_iter()
            .map(|c| c.id)
            .collect();
        let mut on_engines = BTreeSet::new();
        for e in ["e0", "e1"] {
            let all = ContainerFilter {
                all: true,
                ..ContainerFilter::default()
            };
            for c in bed
                .fixture
                .engine(e)
                .unwrap()
                .list_containers(&all)
                .await
                .unwrap()
            {
                on_engines.insert(c.id);
            }
        }
        assert_eq!(records, on_engines, "the records and the engines differ");
        let memory: u64 = bed
            .fixture
            .cluster
            .containers()
            .await
            .iter()
            .map(|c| c.image.memory)
            .sum();
        assert_eq!(bed.fixture.cluster.info().await.reserved_memory, memory);
        let (s, _) = bed.call(&bed.admin, "GET", "/v1.41/info", None).await;
        assert_eq!(s, 200);
    });
}

/// What reaches beyond a container, asked through the endpoint: the role
/// decides (admin holds every capability, `user` none, a custom role what
/// it is granted), and refusals name the field and the capability.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admission_policy_decides_what_reaches_the_host() {
    let bed = bed().await;
    let a = &bed.fixture.access;
    a.create_role(
        "binder",
        shipcore::model::Role::new("binder", &["containers:rw", "host-binds:rw"])
            .unwrap()
            .permissions,
    )
    .await
    .unwrap();
    a.create_account("b", "binder-pw", "binder").await.unwrap();
    let ca = a
        .ca_certificate(bed.fixture.cluster.identity())
        .await
        .unwrap();
    let (binder, _) = cert_client(&bed.fixture, &ca, "b", "binder-pw").await;
    // (body, the capability it needs)
    let cases: &[(&str, &str)] = &[
        (
            r#"{"Image":"app:1","HostConfig":{"Binds":["/:/host"]}}"#,
            "host-binds",
        ),
        (
            r#"{"Image":"app:1","HostConfig":{"Mounts":[{"Type":"bind","Source":"/etc","Target":"/x"}]}}"#,
            "host-binds",
        ),
        (
            r#"{"Image":"app:1","HostConfig":{"Privileged":true}}"#,
            "privileged",
        ),
        (
            r#"{"Image":"app:1","HostConfig":{"CapAdd":["NET_ADMIN"]}}"#,
            "cap-add",
        ),
        (
            r#"{"Image":"app:1","HostConfig":{"Devices":[{"PathOnHost":"/dev/kmsg","PathInContainer":"/dev/kmsg","CgroupPermissions":"r"}]}}"#,
            "devices",
        ),
        (
            r#"{"Image":"app:1","HostConfig":{"NetworkMode":"host"}}"#,
            "host-namespaces",
        ),
        (
            r#"{"Image":"app:1","HostConfig":{"PidMode":"host"}}"#,
            "host-namespaces",
        ),
        (
            r#"{"Image":"app:1","HostConfig":{"IpcMode":"host"}}"#,
            "host-namespaces",
        ),
        (
            r#"{"Image":"app:1","HostConfig":{"UTSMode":"host"}}"#,
            "host-namespaces",
        ),
        (
            r#"{"Image":"app:1","HostConfig":{"UsernsMode":"host"}}"#,
            "host-namespaces",
        ),
        (
            r#"{"Image":"app:1","HostConfig":{"SecurityOpt":["seccomp=unconfined"]}}"#,
            "security-options",
        ),
        (
            r#"{"Image":"app:1","HostConfig":{"Sysctls":{"net.ipv4.ip_forward":"1"}}}"#,
            "security-options",
        ),
        (
            r#"{"Image":"app:1","HostConfig":{"LogConfig":{"Type":"syslog","Config":{}}}}"#,
            "log-drivers",
        ),
        (
            r#"{"Image":"app:1","HostConfig":{"OomScoreAdj":-900}}"#,
            "security-options",
        ),
    ];
    for (body, capability) in cases {
        let (s, v) = bed
            .call(&bed.user, "POST", "/v1.41/containers/create", Some(body))
            .await;
        assert_eq!(s, 403, "user: {body}: {v}");
        let m = v["message"].as_str().unwrap();
        assert!(
            m.contains(&format!(
                "needs the capability {capability}, which role user does not hold"
            )),
            "{body}: {m}"
        );
        let (s, v) = bed
            .call(&binder, "POST", "/v1.41/containers/create", Some(body))
            .await;
        assert_eq!(s == 201, *capability == "host-binds", "binder: {body}: {v}");
        let (s, v) = bed
            .call(&bed.admin, "POST", "/v1.41/containers/create", Some(body))
            .await;
        assert_eq!(s, 201, "admin: {body}: {v}");
    }
    // What the admin asked reaches the engine as asked.
    let (_, v) = bed
        .call(
            &bed.admin,
            "POST",
            "/v1.41/containers/create?name=priv",
            Some(r#"{"Image":"app:1","HostConfig":{"Privileged":true,"CapAdd":["NET_ADMIN"]}}"#),
        )
        .await;
    let id = v["Id"].as_str().unwrap().to_string();
    let engine = bed.fixture.cluster.container(&id).await.unwrap().engine.id;
    let spec = bed.fixture.engine(&engine).unwrap().spec(&id).unwrap();
    assert!(spec.host.privileged);
    assert_eq!(spec.host.cap_add, ["NET_ADMIN"]);

    // The cluster's labels are no one's to set.
    for c in [&bed.user, &bed.admin] {
        let (s, v) = bed
            .call(
                c,
                "POST",
                "/v1.41/containers/create",
                Some(r#"{"Image":"app:1","Labels":{"io.shipcore.cluster":"x","io.shipcore.config":"{}"}}"#),
            )
            .await;
        assert_eq!(s, 403, "{v}");
        assert!(v["message"].as_str().unwrap().contains("reserved"), "{v}");
    }

    // A local volume with bind options is the host's disk: a capability.
    let bind_root = r#"{"Name":"root","DriverOpts":{"type":"none","o":"bind","device":"/"}}"#;
    let (s, v) = bed
        .call(&bed.user, "POST", "/v1.41/volumes/create", Some(bind_root))
        .await;
    assert_eq!(s, 403, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("volume-options"),
        "{v}"
    );
    for e in ["e0", "e1"] {
        assert!(bed
            .fixture
            .engine(e)
            .unwrap()
            .inspect_volume("root")
            .await
            .is_err());
    }
    let (s, v) = bed
        .call(&bed.admin, "POST", "/v1.41/volumes/create", Some(bind_root))
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = bed
        .call(
            &bed.user,
            "POST",
            "/v1.41/networks/create",
            Some(r#"{"Name":"mv","Driver":"macvlan"}"#),
        )
        .await;
    assert_eq!(s, 403, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("network-drivers"),
        "{v}"
    );
}

/// Containers, volumes and networks that are not this cluster's (another
/// cluster's on a shared engine, or made without shipcore) are never
/// changed through the endpoint, and only admins read them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_clusters_objects_are_not_reached() {
    use shipcore::engine::{ContainerSpec, EngineBackend, NetworkSpec, VolumeSpec};
    let bed = bed().await;
    let e0 = bed.fixture.engine("e0").unwrap();
    let theirs = [("io.shipcore.cluster".to_string(), "theirs".to_string())];
    let id = e0
        .create_container(&ContainerSpec {
            name: Some("their-db".into()),
            image: "app:1".into(),
            env: [("DB_PASSWORD".to_string(), "hunter2".to_string())].into(),
            labels: theirs.clone().into(),
            binds: vec!["their-data:/data".into()],
            ..ContainerSpec::default()
        })
        .await
        .unwrap();
    e0.start_container(&id).await.unwrap();
    e0.create_volume(&VolumeSpec {
        name: "their-data".into(),
        labels: theirs.clone().into(),
        ..VolumeSpec::default()
    })
    .await
    .unwrap();
    e0.create_network(&NetworkSpec {
        name: "their-net".into(),
        labels: theirs.clone().into(),
        ..NetworkSpec::default()
    })
    .await
    .unwrap();

    // docker ps lists it, as Docker would; nothing more for a user.
    let (s, v) = bed
        .call(&bed.user, "GET", "/v1.41/containers/json?all=1", None)
        .await;
    assert_eq!(s, 200);
    assert!(v.to_string().contains("their-db"), "{v}");
    assert!(!v.to_string().contains("hunter2"), "{v}");
    for (method, path) in [
        ("GET", "/v1.41/containers/their-db/json"),
        ("GET", "/v1.41/containers/their-db/logs?stdout=1"),
        ("POST", "/v1.41/containers/their-db/wait"),
    ] {
        let (s, v) = bed.call(&bed.user, method, path, None).await;
        assert_eq!(s, 403, "{method} {path}: {v}");
        assert!(!v.to_string().contains("hunter2"));
    }
    // An admin reads it.
    let (s, v) = bed
        .call(&bed.admin, "GET", "/v1.41/containers/their-db/json", None)
        .await;
    assert_eq!(s, 200, "{v}");
    // Nobody changes it.
    for c in [&bed.user, &bed.admin] {
        for (method, path) in [
            ("POST", "/v1.41/containers/their-db/stop"),
            ("POST", "/v1.41/containers/their-db/kill"),
            ("POST", "/v1.41/containers/their-db/restart"),
            ("DELETE", "/v1.41/containers/their-db?force=1"),
            ("DELETE", "/v1.41/volumes/their-data"),
            ("DELETE", "/v1.41/networks/their-net"),
        ] {
            let (s, v) = bed.call(c, method, path, None).await;
            assert_eq!(s, 403, "{method} {path}: {v}");
        }
        // Nor joins its network stack or its network.
        let (s, v) = bed
            .call(
                c,
                "POST",
                "/v1.41/containers/create",
                Some(r#"{"Image":"app:1","HostConfig":{"NetworkMode":"container:their-db"}}"#),
            )
            .await;
        assert_eq!(s, 403, "{v}");
        // Nor takes its volume's name.
        let (s, v) = bed
            .call(
                c,
                "POST",
                "/v1.41/volumes/create",
                Some(r#"{"Name":"their-data"}"#),
            )
            .await;
        assert_eq!(s, 409, "{v}");
    }
    assert!(e0.inspect_container(&id).await.unwrap().state.running);
    assert!(e0.inspect_volume("their-data").await.is_ok());
    assert_eq!(
        e0.inspect_volume("their-data")
            .await
            .unwrap()
            .labels
            .get("io.shipcore.cluster"),
        Some(&"theirs".to_string())
    );

    // A volume of this cluster on one engine and another's of the same
    // name elsewhere: only ours goes.
    let (s, _) = bed
        .call(
            &bed.admin,
            "POST",
            "/v1.41/volumes/create",
            Some(r#"{"Name":"ours"}"#),
        )
        .await;
    assert_eq!(s, 201);
    let (s, v) = bed
        .call(&bed.user, "DELETE", "/v1.41/volumes/ours", None)
        .await;
    assert_eq!(s, 204, "{v}");
}

/// The dashboard over the cluster endpoint: its session cookie is `Secure`
/// there (and, as every cookie of it, `HttpOnly` and `SameSite=Strict`).
#[tokio::test]
async fn the_dashboards_session_cookie_is_secure_over_tls() {
    use http_body_util::{BodyExt as _, Full};
    let bed = bed().await;
    let req = axum::http::Request::builder()
        .method("POST")
        .uri(format!("{}/ui/login", bed.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(bytes::Bytes::from(format!(
            "username=admin&password={ADMIN_PASSWORD}"
        ))))
        .unwrap();
    let res = bed.admin.request(req).await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let _ = res.into_body().collect().await;
}
