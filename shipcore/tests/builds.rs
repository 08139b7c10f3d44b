//! The build service over fake engines: projects, builds from queued to
//! their end with the log, plugins, and what a restart leaves.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use shipcore::build::{
    BuildRecord, BuildStatus, Builds, BuildsOptions, LogEvent, PluginRef, Plugins, ProjectChange,
};
use shipcore::clock::SystemClock;
use shipcore::engine::EngineBackend as _;
use shipcore::registry::{BlobStore, Registry};
use shipcore::testing::Fixture;
use shipcore::Error;

async fn service(f: &Fixture, dir: &std::path::Path) -> Builds {
    let clock = Arc::new(SystemClock::new());
    let registry = Registry::new(
        f.store.clone(),
        BlobStore::open(dir).await.unwrap(),
        clock.clone(),
    );
    Builds::new(
        f.store.clone(),
        f.cluster.clone(),
        registry,
        clock,
        Plugins::builtin(),
        BuildsOptions {
            registry_host: "127.0.0.1:5999".into(),
            ..BuildsOptions::default()
        },
    )
}

fn define(dockerfile: &str, plugins: Vec<PluginRef>) -> ProjectChange {
    ProjectChange {
        dockerfile: Some(dockerfile.into()),
        files: Some(BTreeMap::from([(
            "hello.txt".to_string(),
            "aGVsbG8=".to_string(),
        )])),
        plugins: Some(plugins),
        ..ProjectChange::default()
    }
}

fn plugin(name: &str) -> PluginRef {
    PluginRef {
        name: name.into(),
        params: BTreeMap::new(),
    }
}

async fn wait_end(b: &Builds, id: &str) -> BuildRecord {
    for _ in 0..200 {
        let r = b.record(id).await.unwrap();
        if r.status.ended() {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("build {id} did not end");
}

#[tokio::test]
async fn a_build_goes_queued_running_succeeded_with_its_log_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::fake(2, 4_000, 8_192, &["app:1"]).await.unwrap();
    let b = service(&f, dir.path()).await;
    b.create("myweb", "alice").await.unwrap();
    assert!(matches!(
        b.create("myweb", "alice").await,
        Err(Error::Exists { .. })
    ));
    b.save(
        "myweb",
        false,
        define(
            "FROM app:1\nCOPY hello.txt /hello.txt\n",
            vec![plugin("dockerfile-lint"), plugin("label-stamp")],
        ),
        "alice",
    )
    .await
    .unwrap();
    // Queued before the workers run.
    let r = b.build("myweb", "1.0", "alice").await.unwrap();
    assert_eq!(r.status, BuildStatus::Queued);
    assert_eq!(r.id, "myweb-1");
    assert_eq!(r.image, "127.0.0.1:5999/default_cluster/myweb:1.0");
    let follow = b.follow(&r.id, 0).await.unwrap();
    let _workers = b.start().await.unwrap();
    let events: Vec<LogEvent> = tokio::time::timeout(Duration::from_secs(10), follow.collect())
        .await
        .unwrap();
    assert_eq!(
        events.last(),
        Some(&LogEvent::End(BuildStatus::Succeeded)),
        "{events:?}"
    );
    let done = wait_end(&b, &r.id).await;
    assert_eq!(done.status, BuildStatus::Succeeded, "{done:?}");
    assert!(done.started.is_some() && done.ended.is_some());
    let engine = done.engine.clone().unwrap();
    assert!(done.digest.as_deref().unwrap().starts_with("sha256:"));
    let log = b.log(&r.id).await.unwrap().join("\n");
    assert!(log.contains("Step 1/3 : FROM app:1"), "{log}");
    assert!(log.contains("dockerfile-lint: no findings"), "{log}");
    // The label stamper's labels are on the image.
    let image = f
        .engine(&engine)
        .unwrap()
        .inspect_image(&r.image)
        .await
        .unwrap();
    assert_eq!(image.labels["org.shipcore.build.project"], "myweb");
    assert_eq!(image.labels["org.shipcore.build.tag"], "1.0");
    assert_eq!(image.labels["org.shipcore.build.operator"], "alice");
    assert_eq!(
        image.labels["org.shipcore.build.source-digest"],
        done.source_digest
    );
    // Following an ended build replays its log and its end.
    let again: Vec<LogEvent> = b.follow(&r.id, 1).await.unwrap().collect().await;
    assert!(
        matches!(again.first(), Some(LogEvent::Line(1, _))),
        "{again:?}"
    );
    assert_eq!(again.last(), Some(&LogEvent::End(BuildStatus::Succeeded)));
    assert_eq!(b.history("myweb").await.unwrap()[0].id, "myweb-1");
}

#[tokio::test]
async fn failures_end_failed_with_the_reason_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::fake(1, 4_000, 8_192, &["app:1"]).await.unwrap();
    let b = service(&f, dir.path()).await;
    let _workers = b.start().await.unwrap();
    // A Dockerfile the engine cannot parse.
    b.save(
        "broken",
        true,
        define("FROM app:1\nRUNN true\n", vec![]),
        "bob",
    )
    .await
    .unwrap();
    let r = b.build("broken", "1", "bob").await.unwrap();
    let done = wait_end(&b, &r.id).await;
    assert_eq!(done.status, BuildStatus::Failed);
    let log = b.log(&r.id).await.unwrap().join("\n");
    assert!(log.contains("unknown instruction: RUNN"), "{log}");
    // The linter fails an untagged base before any engine works.
    b.save(
        "loose",
        true,
        define("FROM app\n", vec![plugin("dockerfile-lint")]),
        "bob",
    )
    .await
    .unwrap();
    let r = b.build("loose", "1", "bob").await.unwrap();
    let done = wait_end(&b, &r.id).await;
    assert_eq!(done.status, BuildStatus::Failed);
    assert!(done.reason.unwrap().contains("no tag"));
    assert!(done.engine.is_none(), "no engine was used");
    // Missing things.
    assert!(matches!(
        b.build("nope", "1", "bob").await,
        Err(Error::Missing { .. })
    ));
    assert!(matches!(
        b.clone_project("nope", "x", "bob").await,
        Err(Error::Missing { .. })
    ));
    assert!(matches!(b.delete("nope").await, Err(Error::Missing { .. })));
    // Bad definitions are refused naming the path; the project is unchanged.
    let before = b.project("loose").await.unwrap();
    let e = b
        .save(
            "loose",
            false,
            ProjectChange {
                files: Some(BTreeMap::from([("../x".to_string(), "eA==".to_string())])),
                ..ProjectChange::default()
            },
            "bob",
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("\"../x\""), "{e}");
    assert_eq!(b.project("loose").await.unwrap(), before);
    let e = b
        .save(
            "loose",
            false,
            ProjectChange {
                plugins: Some(vec![plugin("aa")]),
                ..ProjectChange::default()
            },
            "bob",
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("aa"), "{e}");
    assert!(b
        .call_plugin(
            "dockerfile-lint",
            "lint",
            &json!({"dockerfile": "FROM a:1"})
        )
        .unwrap()["ok"]
        .as_bool()
        .unwrap());
}

#[tokio::test]
async fn clones_copy_the_definition_not_the_history_and_a_restart_settles_builds() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::fake(1, 4_000, 8_192, &["app:1"]).await.unwrap();
    let b = service(&f, dir.path()).await;
    b.save(
        "src",
        true,
        define("FROM app:1\n", vec![plugin("label-stamp")]),
        "carol",
    )
    .await
    .unwrap();
    // Two builds queued, then "shipd stops": one was running by then.
    let first = b.build("src", "1", "carol").await.unwrap();
    let second = b.build("src", "2", "carol").await.unwrap();
    let key = format!("build/records/src/{:010}", 1);
    let (mut rec, rev) = shipcore::store::get_json::<BuildRecord>(f.store.as_ref(), &key)
        .await
        .unwrap()
        .unwrap();
    rec.status = BuildStatus::Running;
    shipcore::store::put_json(
        f.store.as_ref(),
        &key,
        &rec,
        shipcore::store::Expect::Revision(rev),
    )
    .await
    .unwrap();
    let after = service(&f, dir.path()).await;
    let _workers = after.start().await.unwrap();
    let r1 = wait_end(&after, &first.id).await;
    assert_eq!(r1.status, BuildStatus::Failed);
    assert!(r1.reason.unwrap().contains("stopped"));
    let r2 = wait_end(&after, &second.id).await;
    assert_eq!(r2.status, BuildStatus::Succeeded, "{r2:?}");
    // The clone has the definition and plugins, no builds.
    let c = after.clone_project("src", "dst", "dave").await.unwrap();
    let src = after.project("src").await.unwrap();
    assert_eq!(
        (c.dockerfile.clone(), c.files.clone(), c.plugins.clone()),
        (src.dockerfile, src.files, src.plugins)
    );
    assert_eq!(c.creator, "dave");
    assert!(after.history("dst").await.unwrap().is_empty());
    let r = after.build("dst", "1", "dave").await.unwrap();
    assert_eq!(wait_end(&after, &r.id).await.status, BuildStatus::Succeeded);
    assert!(matches!(
        after.clone_project("src", "dst", "dave").await,
        Err(Error::Exists { .. })
    ));
    after.delete("src").await.unwrap();
    assert!(matches!(
        after.history("src").await,
        Err(Error::Missing { .. })
    ));
}

#[tokio::test]
async fn a_running_build_is_cancelled_and_its_followers_told() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::fake(1, 4_000, 8_192, &["app:1"]).await.unwrap();
    f.engine("e0")
        .unwrap()
        .delay("build", Duration::from_secs(30));
    let b = service(&f, dir.path()).await;
    let _workers = b.start().await.unwrap();
    b.save("slow", true, define("FROM app:1\n", vec![]), "erin")
        .await
        .unwrap();
    let r = b.build("slow", "1", "erin").await.unwrap();
    for _ in 0..200 {
        if b.record(&r.id).await.unwrap().status == BuildStatus::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(b.record(&r.id).await.unwrap().status, BuildStatus::Running);
    let follow = b.follow(&r.id, 0).await.unwrap();
    let done = b.cancel(&r.id).await.unwrap();
    assert_eq!(done.status, BuildStatus::Cancelled);
    let events: Vec<LogEvent> = tokio::time::timeout(Duration::from_secs(5), follow.collect())
        .await
        .unwrap();
    assert_eq!(events.last(), Some(&LogEvent::End(BuildStatus::Cancelled)));
    // Cancelling what has ended is refused; the record stays cancelled.
    assert!(matches!(b.cancel(&r.id).await, Err(Error::State { .. })));
    assert_eq!(wait_end(&b, &r.id).await.status, BuildStatus::Cancelled);
    // The engine's slot is free again: the next build runs.
    f.engine("e0").unwrap().delay("build", Duration::ZERO);
    let next = b.build("slow", "2", "erin").await.unwrap();
    assert_eq!(wait_end(&b, &next.id).await.status, BuildStatus::Succeeded);
}

fn owner(name: &str, role: &str, perms: &[&str]) -> shipcore::model::Owner {
    shipcore::model::Owner {
        name: name.into(),
        role: shipcore::model::Role::new(role, perms).unwrap(),
    }
}

#[tokio::test]
async fn owners_reach_their_own_projects_and_builds_push_where_their_caller_may_write() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::fake(1, 4_000, 8_192, &["app:1"]).await.unwrap();
    let b = service(&f, dir.path()).await;
    let _workers = b.start().await.unwrap();
    let bob = b.acting_as(owner("bob", "user", &[]));
    let carol = b.acting_as(owner("carol", "user", &[]));
    let admin = b.acting_as(owner("admin", "admin", &[]));
    let lead = b.acting_as(owner("lead", "lead", &["builds:rw", "all-builds:ro"]));
    // Made by bob, in bob's namespace (bob may not push to default_cluster).
    let made = bob.create("bobs").await.unwrap();
    assert_eq!((made.owner.as_str(), made.cluster.as_str()), ("bob", "bob"));
    bob.save("bobs", false, define("FROM app:1\n", vec![]))
        .await
        .unwrap();
    let r = bob.build("bobs", "1").await.unwrap();
    assert_eq!(r.image, "127.0.0.1:5999/bob/bobs:1");
    assert_eq!(wait_end(&b, &r.id).await.status, BuildStatus::Succeeded);
    // Another user: as if it did not exist, the same answer as a project
    // that does not.
    let missing = |e: Error, kind: &str, name: &str| {
        assert_eq!(e.to_string(), Error::missing(kind, name).to_string());
    };
    missing(carol.project("bobs").await.unwrap_err(), "project", "bobs");
    missing(
        carol.project("ghost").await.unwrap_err(),
        "project",
        "ghost",
    );
    assert!(carol.projects("").await.unwrap().is_empty());
    missing(carol.history("bobs").await.unwrap_err(), "project", "bobs");
    missing(
        carol
            .save("bobs", false, define("FROM app:1\nRUN evil\n", vec![]))
            .await
            .unwrap_err(),
        "project",
        "bobs",
    );
    missing(
        carol.build("bobs", "2").await.unwrap_err(),
        "project",
        "bobs",
    );
    missing(carol.delete("bobs").await.unwrap_err(), "project", "bobs");
    missing(
        carol.clone_project("bobs", "mine").await.unwrap_err(),
        "source project",
        "bobs",
    );
    missing(carol.log(&r.id).await.unwrap_err(), "build", &r.id);
    missing(carol.record(&r.id).await.unwrap_err(), "build", &r.id);
    assert!(matches!(
        carol.follow(&r.id, 0).await,
        Err(Error::Missing { .. })
    ));
    missing(carol.cancel(&r.id).await.unwrap_err(), "build", &r.id);
    assert_eq!(b.project("bobs").await.unwrap().dockerfile, "FROM app:1\n");
    // A role that reads everyone's: sees, changes nothing of others'.
    assert_eq!(lead.projects("").await.unwrap().len(), 1);
    lead.log(&r.id).await.unwrap();
    missing(
        lead.save("bobs", false, ProjectChange::default())
            .await
            .unwrap_err(),
        "project",
        "bobs",
    );
    // bob may not aim his builds at another's repository...
    let e = bob
        .save(
            "bobs",
            false,
            ProjectChange {
                cluster: Some("team".into()),
                ..ProjectChange::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Forbidden { reason } if reason.contains("team/bobs")),
        "{e}"
    );
    assert!(matches!(
        bob.save(
            "app",
            true,
            ProjectChange {
                cluster: Some("team".into()),
                ..define("FROM app:1\n", vec![])
            }
        )
        .await,
        Err(Error::Forbidden { .. })
    ));
    assert!(matches!(b.project("app").await, Err(Error::Missing { .. })));
    // ... and when an admin does, bob's build is refused: it is checked
    // for who builds, not who saved.
    admin
        .save(
            "bobs",
            false,
            ProjectChange {
                cluster: Some("team".into()),
                ..ProjectChange::default()
            },
        )
        .await
        .unwrap();
    let e = bob.build("bobs", "2").await.unwrap_err();
    assert!(
        matches!(&e, Error::Forbidden { reason } if reason.contains("team/bobs")),
        "{e}"
    );
    let r = admin.build("bobs", "2").await.unwrap();
    assert_eq!(r.image, "127.0.0.1:5999/team/bobs:2");
    assert_eq!(wait_end(&b, &r.id).await.status, BuildStatus::Succeeded);
    // A clone is its maker's, and checked for where it would push.
    assert!(matches!(
        bob.clone_project("bobs", "copy").await,
        Err(Error::Forbidden { .. })
    ));
    let c = admin.clone_project("bobs", "copy").await.unwrap();
    assert_eq!(c.owner, "admin");
    missing(bob.project("copy").await.unwrap_err(), "project", "copy");
    // A project of an earlier version has no owner: the admins'.
    let old = json!({
        "name": "old", "creator": "someone", "create_time": "", "last_modify_time": "",
        "last_modify_operator": "", "cluster": "default_cluster",
        "define_dockerfile_type": "define", "dockerfile": "FROM app:1\n",
        "files": {}, "plugins": [],
    });
    shipcore::store::put_json(
        f.store.as_ref(),
        "build/projects/old",
        &old,
        shipcore::store::Expect::Absent,
    )
    .await
    .unwrap();
    missing(bob.project("old").await.unwrap_err(), "project", "old");
    assert_eq!(admin.project("old").await.unwrap().owner, "");
    // bob deletes his own.
    bob.delete("bobs").await.unwrap();
    missing(admin.project("bobs").await.unwrap_err(), "project", "bobs");
}

#[tokio::test]
async fn the_image_takes_its_target_name_only_for_the_push() {
    let dir = tempfile::tempdir().unwrap();
    let target = "127.0.0.1:5999/default_cluster/web:1";
    let f = Fixture::fake(1, 4_000, 8_192, &["app:1", target])
        .await
        .unwrap();
    let engine = f.engine("e0").unwrap();
    let before = engine.inspect_image(target).await.unwrap().id;
    let b = service(&f, dir.path()).await;
    let _workers = b.start().await.unwrap();
    // A build that fails leaves the engine's image of the target's name.
    b.save("web", true, define("FROM app:1\nRUNN x\n", vec![]), "admin")
        .await
        .unwrap();
    let r = b.build("web", "1", "admin").await.unwrap();
    assert_eq!(wait_end(&b, &r.id).await.status, BuildStatus::Failed);
    assert_eq!(engine.inspect_image(target).await.unwrap().id, before);
    // A push that fails takes the target's name off the engine again.
    b.save("web", false, define("FROM app:1\n", vec![]), "admin")
        .await
        .unwrap();
    engine.fail("push", 1);
    let r = b.build("web", "1", "admin").await.unwrap();
    let done = wait_end(&b, &r.id).await;
    assert_eq!(done.status, BuildStatus::Failed);
    assert!(done.reason.unwrap().starts_with("push:"));
    assert!(engine.inspect_image(target).await.is_err());
    // One that is pushed goes by the target's name only.
    let r = b.build("web", "1", "admin").await.unwrap();
    let done = wait_end(&b, &r.id).await;
    assert_eq!(done.status, BuildStatus::Succeeded, "{done:?}");
    let built = engine.inspect_image(target).await.unwrap();
    assert_ne!(built.id, before);
    assert_eq!(done.digest.as_deref(), Some(built.id.as_str()));
    for id in ["web-1", "web-2", "web-3"] {
        let own = shipcore::build::model::build_image_name(id);
        assert!(engine.inspect_image(&own).await.is_err(), "{own}");
    }
    let log = b.log(&r.id).await.unwrap().join("\n");
    assert!(log.contains(&format!("pushing {target}")), "{log}");
}

#[tokio::test]
async fn remote_sources_are_refused_at_save_and_at_build() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::fake(1, 4_000, 8_192, &["app:1"]).await.unwrap();
    let b = service(&f, dir.path()).await;
    let e = b
        .save(
            "web",
            true,
            define("FROM app:1\nADD http://127.0.0.1:9/x /x\n", vec![]),
            "admin",
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 2: ADD of a remote source (URL) is not allowed"),
        "{e}"
    );
    assert!(matches!(b.project("web").await, Err(Error::Missing { .. })));
    // One stored by an earlier version is refused when built.
    b.save("web", true, define("FROM app:1\n", vec![]), "admin")
        .await
        .unwrap();
    let key = "build/projects/web";
    let (mut p, rev) =
        shipcore::store::get_json::<shipcore::build::BuildProject>(f.store.as_ref(), key)
            .await
            .unwrap()
            .unwrap();
    p.dockerfile = "FROM app:1\nRUN --network=host true\n".into();
    shipcore::store::put_json(
        f.store.as_ref(),
        key,
        &p,
        shipcore::store::Expect::Revision(rev),
    )
    .await
    .unwrap();
    let e = b.build("web", "1", "admin").await.unwrap_err().to_string();
    assert!(
        e.contains("line 2: RUN --network=host is not allowed"),
        "{e}"
    );
}
