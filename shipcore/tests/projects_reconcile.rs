//! The project service's reconcile round over fake engines: a running
//! project whose engine goes down is placed on another engine, where its
//! `always` services are brought back (a service that does not restart by
//! itself is not); once the lost engine returns, the containers it still
//! holds, which no project owns any more, are removed.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use shipcore::engine::{ContainerFilter, EngineBackend};
use shipcore::model::{EventType, Health, ProjectState};
use shipcore::projects::{NewProject, Projects, ProjectsOptions, LABEL_PROJECT, LABEL_SERVICE};
use shipcore::testing::Fixture;

const TEMPLATE: &str = "
services:
  web:
    image: app:1
    restart: always
    scale: 2
  cache:
    image: app:1
    restart: unless-stopped
  job:
    image: app:1
    restart: \"no\"
";

/// The project's containers on a fake engine: (service, running).
async fn on(fixture: &Fixture, engine: &str) -> Vec<(String, bool)> {
    let fake = fixture.engine(engine).unwrap();
    let filter = ContainerFilter {
        all: true,
        labels: vec![format!("{LABEL_PROJECT}=shop")],
        name: None,
    };
    let mut out: Vec<(String, bool)> = fake
        .list_containers(&filter)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.labels[LABEL_SERVICE].clone(), c.state == "running"))
        .collect();
    out.sort();
    out
}

async fn set_health(fixture: &Fixture, engine: &str, up: bool) {
    fixture.engine(engine).unwrap().set_up(up);
    let want = if up {
        Health::Healthy
    } else {
        Health::Unhealthy
    };
    for _ in 0..50 {
        fixture.cluster.check_health(true).await;
        if fixture.cluster.health(engine).await == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{engine} never became {want:?}");
}

#[tokio::test]
async fn a_project_on_a_lost_engine_is_brought_back_elsewhere() {
    let fixture = Fixture::fake(2, 4_000, 8_192, &["app:1"]).await.unwrap();
    let projects = Projects::open(
        fixture.store.clone(),
        fixture.cluster.clone(),
        ProjectsOptions {
            poll: Duration::from_millis(10),
            ..ProjectsOptions::default()
        },
    )
    .await
    .unwrap();
    projects
        .create(
            NewProject {
                name: "shop".into(),
                template: TEMPLATE.into(),
                ..NewProject::default()
            },
            &shipcore::model::Owner::system(),
        )
        .await
        .unwrap();
    for _ in 0..500 {
        if projects.lifecycle("shop").await.unwrap().current == ProjectState::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let first = projects
        .get("shop", false, false, &shipcore::model::Owner::system())
        .await
        .unwrap();
    assert_eq!(first.current_state, "running");
    let lost = first.engine.clone();
    let other = if lost == "e0" { "e1" } else { "e0" };
    let all_up = vec![
        ("cache".to_string(), true),
        ("job".to_string(), true),
        ("web".to_string(), true),
        ("web".to_string(), true),
    ];
    assert_eq!(on(&fixture, &lost).await, all_up);

    // Nothing moves while the engine is healthy.
    projects.reconcile().await.unwrap();
    assert_eq!(
        projects
            .get("shop", false, false, &shipcore::model::Owner::system())
            .await
            .unwrap()
            .engine,
        lost
    );

    set_health(&fixture, &lost, false).await;
    // The dry run says what the round will do, and does nothing.
    let plan = projects.plan().await.unwrap();
    let said: Vec<String> = plan.iter().map(|t| t.summary()).collect();
    assert_eq!(said, [format!("move project shop off {lost}")]);
    assert_eq!(
        projects
            .get("shop", false, false, &shipcore::model::Owner::system())
            .await
            .unwrap()
            .engine,
        lost,
        "a plan moves nothing"
    );
    let done = projects.reconcile().await.unwrap();
    assert_eq!(done, plan);
    let moved = projects
        .get("shop", true, true, &shipcore::model::Owner::system())
        .await
        .unwrap();
    assert_eq!(moved.engine, other, "placed anew");
    assert_eq!(
        on(&fixture, other).await,
        vec![
            ("cache".to_string(), true),
            ("web".to_string(), true),
            ("web".to_string(), true),
        ],
        "always and unless-stopped come back; restart \"no\" does not"
    );
    let events = fixture.cluster.events().list(0, 50).await.unwrap();
    let moved_event = events
        .iter()
        .find(|e| e.kind == EventType::Reschedule)
        .expect("a reschedule event");
    assert!(
        moved_event
            .message
            .contains(&format!("from={lost} to={other}")),
        "{}",
        moved_event.message
    );
    // A second round leaves it where it is.
    projects.reconcile().await.unwrap();
    assert_eq!(
        projects
            .get("shop", false, false, &shipcore::model::Owner::system())
            .await
            .unwrap()
            .engine,
        other
    );

    // The lost engine returns with the old containers: they go.
    set_health(&fixture, &lost, true).await;
    assert_eq!(on(&fixture, &lost).await.len(), 4);
    projects.reconcile().await.unwrap();
    assert!(on(&fixture, &lost).await.is_empty(), "orphans removed");
    assert_eq!(on(&fixture, other).await.len(), 3, "the project's stay");
}
