//! The admission policy and owners over HTTP, as `user` accounts try them
//! (the security review's cases, each refused here and accepted before):
//! the host's `/` through a named volume (compose, the 003 volumes API and
//! the cluster API), the cluster's labels set by a compose file and a
//! spoofed container adopted, another cluster's volumes, the host's
//! network, and one user reaching another's projects and volumes. Over
//! in-memory fake engines; the Docker endpoint's side is in
//! `shipcore-http/tests/endpoint.rs`.

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{json, Value};
use shipcore::engine::{ContainerSpec, EngineBackend, VolumeSpec};
use shipcore::testing::Fixture;
use support::http::{admin, start, Api, Cred};

fn alice() -> Cred {
    Cred::Basic("alice".into(), "alicepw1".into())
}

fn bob() -> Cred {
    Cred::Basic("bob".into(), "bobpw123".into())
}

async fn bed() -> (Api, shipcore::engine::fake::FakeEngine) {
    let fixture = Fixture::fake(2, 4_000, 8_192, &["app:1"]).await.unwrap();
    let e0 = fixture.engine("e0").unwrap();
    let api = start(fixture).await;
    for (name, pw) in [("alice", "alicepw1"), ("bob", "bobpw123")] {
        api.access.create_account(name, pw, "user").await.unwrap();
    }
    (api, e0)
}

fn project(name: &str, template: &str) -> String {
    json!({"name": name, "template": template}).to_string()
}

fn message(v: &Value) -> String {
    v["error"].as_str().unwrap_or_default().to_string()
}

/// Case 1: a local volume with `type: none, o: bind, device: /` is the
/// host's root; a `user` may not make one on any path, nor mount a host
/// path; an admin may.
#[tokio::test]
async fn the_hosts_root_through_a_volume_or_a_bind_is_an_admins_alone() {
    let (api, e0) = bed().await;
    let root = "services:\n  web:\n    image: app:1\n    volumes: [\"root:/host\"]\nvolumes:\n  root:\n    driver_opts:\n      type: none\n      o: bind\n      device: /\n";
    let (s, v) = api
        .call("POST", "/projects", &alice(), Some(&project("r", root)))
        .await;
    assert_eq!(s, 403, "{v}");
    assert!(
        message(&v).contains("volumes.root.driver_opts needs the capability volume-options, which role user does not hold"),
        "{v}"
    );
    let bind = "services:\n  web:\n    image: app:1\n    volumes: [\"/:/host\"]\n";
    let (s, v) = api
        .call("POST", "/projects", &alice(), Some(&project("b", bind)))
        .await;
    assert_eq!(s, 403, "{v}");
    assert!(message(&v).contains("host-binds"), "{v}");
    let body = json!({"name": "root", "driverOpts": {"type": "none", "o": "bind", "device": "/"}})
        .to_string();
    let (s, v) = api
        .call("POST", "/volumes/create", &alice(), Some(&body))
        .await;
    assert_eq!(s, 403, "{v}");
    assert!(
        message(&v).contains("driverOpts needs the capability volume-options"),
        "{v}"
    );
    assert!(e0.inspect_volume("root").await.is_err());
    let deploy =
        json!({"name": "app:1", "cpus": 0.1, "memory": 16, "volumes": ["/:/host"]}).to_string();
    let (s, v) = api
        .call("POST", "/api/containers", &alice(), Some(&deploy))
        .await;
    assert_eq!(s, 403, "{v}");
    assert!(
        message(&v).contains("volumes[0] needs the capability host-binds"),
        "{v}"
    );
    let host_net =
        json!({"name": "app:1", "cpus": 0.1, "memory": 16, "network_mode": "host"}).to_string();
    let (s, v) = api
        .call("POST", "/api/containers", &alice(), Some(&host_net))
        .await;
    assert_eq!(s, 403, "{v}");
    assert!(
        message(&v).contains("network_mode needs the capability host-namespaces"),
        "{v}"
    );
    // The Docker endpoint's extras are not the cluster API's to carry.
    let docker = json!({"name": "app:1", "cpus": 0.1, "memory": 16, "docker": {"host": {"privileged": true}}}).to_string();
    let (s, v) = api
        .call("POST", "/api/containers", &admin(), Some(&docker))
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(api.cluster.containers().await.is_empty());

    // An admin holds every capability.
    let (s, v) = api
        .call("POST", "/api/containers", &admin(), Some(&deploy))
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = api
        .call("POST", "/volumes/create", &admin(), Some(&body))
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = api
        .call("POST", "/projects", &admin(), Some(&project("b", bind)))
        .await;
    assert_eq!(s, 201, "{v}");
}

/// Case 2: the cluster's labels are no one's to set, and a container that
/// carries them without the cluster's seal is not adopted.
#[tokio::test]
async fn the_clusters_labels_are_refused_and_unsealed_ones_not_adopted() {
    let (api, e0) = bed().await;
    let identity = api.cluster.identity().to_string();
    let spoof = format!(
        "services:\n  web:\n    image: app:1\n    restart: always\n    labels:\n      io.shipcore.cluster: {identity}\n      io.shipcore.deploy: d1\n      io.shipcore.config: '{{\"name\":\"app:1\",\"cpus\":0.1,\"memory\":16,\"volumes\":[\"/:/host\"],\"restart_policy\":{{\"name\":\"always\"}}}}'\n"
    );
    for who in [alice(), admin()] {
        let (s, v) = api
            .call("POST", "/projects", &who, Some(&project("spoof", &spoof)))
            .await;
        assert_eq!(s, 403, "{v}");
        assert!(
            message(&v).contains("services.web.labels: label \"io.shipcore."),
            "{v}"
        );
        assert!(message(&v).contains("reserved"), "{v}");
    }
    // Made behind the cluster's back with the labels (no seal): the
    // reconcile loop neither adopts it nor recreates it.
    let config = json!({"name": "app:1", "cpus": 0.1, "memory": 16, "volumes": ["/:/host"], "restart_policy": {"name": "always"}});
    let id = e0
        .create_container(&ContainerSpec {
            name: Some("spoofed".into()),
            image: "app:1".into(),
            labels: [
                ("io.shipcore.cluster".to_string(), identity.clone()),
                ("io.shipcore.deploy".to_string(), "d1".to_string()),
                ("io.shipcore.config".to_string(), config.to_string()),
            ]
            .into(),
            ..ContainerSpec::default()
        })
        .await
        .unwrap();
    e0.start_container(&id).await.unwrap();
    let done = api.cluster.reconcile().await.unwrap();
    assert!(done.is_empty(), "{done:?}");
    assert!(api.cluster.containers().await.is_empty());
    // Nor is it removed: it is not the cluster's to remove either.
    assert!(e0.inspect_container(&id).await.unwrap().state.running);
}

/// Case 5: volumes of another cluster are neither listed, removed nor
/// mounted as `external` by a user.
#[tokio::test]
async fn another_clusters_volumes_are_out_of_reach() {
    let (api, e0) = bed().await;
    e0.create_volume(&VolumeSpec {
        name: "their-data".into(),
        labels: [("io.shipcore.compose".to_string(), "theirs".to_string())].into(),
        ..VolumeSpec::default()
    })
    .await
    .unwrap();
    for who in [alice(), admin()] {
        let (s, v) = api.call("GET", "/volumes", &who, None).await;
        assert_eq!(s, 200);
        assert!(!v.to_string().contains("their-data"), "{v}");
        let (s, v) = api.call("DELETE", "/volumes/their-data", &who, None).await;
        assert_eq!(s, 404, "{v}");
    }
    assert!(e0.inspect_volume("their-data").await.is_ok());
    let external = "services:\n  web:\n    image: app:1\n    volumes: [\"data:/data\"]\nvolumes:\n  data:\n    external: true\n    name: their-data\n";
    let (s, v) = api
        .call(
            "POST",
            "/projects",
            &alice(),
            Some(&project("ext", external)),
        )
        .await;
    assert_eq!(s, 403, "{v}");
    assert!(message(&v).contains("not one of yours"), "{v}");
    // One of her own she may name.
    let (s, v) = api
        .call(
            "POST",
            "/volumes/create",
            &alice(),
            Some(&json!({"name": "her-data", "node": "e0"}).to_string()),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let own = external.replace("their-data", "her-data");
    let (s, v) = api
        .call("POST", "/projects", &alice(), Some(&project("ext", &own)))
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = api
        .call("POST", "/projects", &bob(), Some(&project("ext2", &own)))
        .await;
    assert_eq!(s, 403, "{v}");
}

/// Case 8: a user sees and changes only its own projects and volumes; an
/// admin reaches all; a role granted `all-projects:ro` sees every project
/// but not another's environment values.
#[tokio::test]
async fn users_reach_only_their_own_projects_and_volumes() {
    let (api, _) = bed().await;
    let template = "services:\n  web:\n    image: app:1\n    environment:\n      DB_PASSWORD: ${DB_PASSWORD}\n";
    let body =
        json!({"name": "shop", "template": template, "environment": {"DB_PASSWORD": "hunter2"}})
            .to_string();
    let (s, v) = api.call("POST", "/projects", &alice(), Some(&body)).await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = api
        .call(
            "POST",
            "/volumes/create",
            &alice(),
            Some(&json!({"name": "alices"}).to_string()),
        )
        .await;
    assert_eq!(s, 201, "{v}");

    let (s, v) = api.call("GET", "/projects", &bob(), None).await;
    assert_eq!((s, v.as_array().map(Vec::len)), (200, Some(0)), "{v}");
    let (s, v) = api.call("GET", "/services", &bob(), None).await;
    assert_eq!((s, v.as_array().map(Vec::len)), (200, Some(0)), "{v}");
    let (s, v) = api.call("GET", "/volumes", &bob(), None).await;
    assert_eq!(s, 200);
    assert!(!v.to_string().contains("alices"), "{v}");
    let update = json!({"version": "2", "template": template}).to_string();
    let scale = json!({"type": "scale_to", "value": 3}).to_string();
    for (method, path, body) in [
        ("GET", "/projects/shop", None),
        ("POST", "/projects/shop/stop", None),
        ("POST", "/projects/shop/start", None),
        ("POST", "/projects/shop/kill", None),
        ("POST", "/projects/shop/redeploy", None),
        ("POST", "/projects/shop/update", Some(update.as_str())),
        ("POST", "/projects/shop/confirm-update", None),
        ("POST", "/projects/shop/rollback-update", None),
        ("DELETE", "/projects/shop?force=true", None),
        ("GET", "/services/shop_web", None),
        ("POST", "/services/shop_web/stop", None),
        ("POST", "/services/shop_web/start", None),
        ("POST", "/services/shop_web/kill", None),
        ("POST", "/services/shop_web/scale", Some(scale.as_str())),
        ("GET", "/volumes/alices", None),
        ("DELETE", "/volumes/alices", None),
    ] {
        let (s, v) = api.call(method, path, &bob(), body).await;
        assert_eq!(s, 404, "bob {method} {path}: {v}");
        assert!(!v.to_string().contains("hunter2"));
    }
    // Still there, untouched.
    let (s, v) = api.call("GET", "/projects/shop", &alice(), None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["environment"]["DB_PASSWORD"], "hunter2");
    assert_eq!(v["created_by"], "alice");
    let (s, _) = api.call("GET", "/volumes/alices", &alice(), None).await;
    assert_eq!(s, 200);

    // An admin reaches it, environment and all.
    let (s, v) = api.call("GET", "/projects/shop", &admin(), None).await;
    assert_eq!(
        (s, &v["environment"]["DB_PASSWORD"]),
        (200, &json!("hunter2"))
    );
    // A role that reaches every project sees it, without the secret.
    api.access
        .create_role(
            "auditor",
            shipcore::model::Role::new("auditor", &["projects:ro", "all-projects:ro"])
                .unwrap()
                .permissions,
        )
        .await
        .unwrap();
    api.access
        .create_account("carol", "carolpw1", "auditor")
        .await
        .unwrap();
    let carol = Cred::Basic("carol".into(), "carolpw1".into());
    let (s, v) = api.call("GET", "/projects", &carol, None).await;
    assert_eq!(s, 200);
    assert_eq!(v[0]["name"], "shop");
    assert_eq!(v[0]["environment"]["DB_PASSWORD"], "<hidden>");
    assert!(!v.to_string().contains("hunter2"), "{v}");
    let (s, v) = api.call("POST", "/projects/shop/stop", &carol, None).await;
    assert_eq!(s, 403, "{v}");
    // Its owner deletes it.
    let (s, v) = api
        .call("DELETE", "/projects/shop?force=true", &alice(), None)
        .await;
    assert_eq!(s, 200, "{v}");
}
