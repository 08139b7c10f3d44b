//! The projects' planners: what a project's containers on its engine are
//! to become, and what a reconcile round is to do, as values. Pure: no IO,
//! no clock; `run.rs` and `reconcile.rs` perform the plans, so a plan can be
//! shown (a dry run) and tested as a table, as the cluster's reconcile
//! planner (`cluster::plan`) is.

use std::collections::BTreeMap;

use super::docs::{
    ProjectDoc, LABEL_NUMBER, LABEL_OVERLAP, LABEL_PROJECT, LABEL_SERVICE, LABEL_VERSION,
};
use crate::engine::ContainerSummary;
use crate::model::{Health, ProjectState};
use crate::update::Phase;

/// One service of a wave as the planner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaveService<'a> {
    pub name: &'a str,
    /// Replicas wanted.
    pub replicas: u32,
    /// Publishes a fixed host port (a container started beside an older
    /// version holds engine-chosen ones instead, and is made again once
    /// alone).
    pub fixed_ports: bool,
}

/// One step of bringing a wave's services to their replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Remove a container: extra, duplicated, misnumbered, or holding
    /// engine-chosen ports it is to give back.
    Remove { id: String },
    /// Start a stopped replica.
    Start {
        service: String,
        number: u32,
        id: String,
    },
    /// Create (and start) a missing replica.
    Create { service: String, number: u32 },
}

impl Step {
    pub fn summary(&self) -> String {
        match self {
            Step::Remove { id } => format!("remove {id}"),
            Step::Start {
                service,
                number,
                id,
            } => format!("start {service}#{number} ({id})"),
            Step::Create { service, number } => format!("create {service}#{number}"),
        }
    }
}

/// The steps that give each service of a wave its replicas of a version,
/// from what the engine holds of that version (`existing`): removals first
/// (their names and ports are then free), then starts and creations in
/// service and number order. `overlap`: the wave starts beside another
/// version, so its containers leave fixed ports to the engine.
pub fn plan_wave(
    services: &[WaveService<'_>],
    existing: &[ContainerSummary],
    overlap: bool,
) -> Vec<Step> {
    let mut removals = Vec::new();
    let mut ups = Vec::new();
    for svc in services {
        let mut have: BTreeMap<u32, &ContainerSummary> = BTreeMap::new();
        for c in existing
            .iter()
            .filter(|c| c.labels.get(LABEL_SERVICE).map(String::as_str) == Some(svc.name))
        {
            let n = c
                .labels
                .get(LABEL_NUMBER)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let handover = !overlap && c.labels.contains_key(LABEL_OVERLAP) && svc.fixed_ports;
            if n == 0 || n > svc.replicas || handover || have.contains_key(&n) {
                removals.push(Step::Remove { id: c.id.clone() });
            } else {
                have.insert(n, c);
            }
        }
        for n in 1..=svc.replicas {
            match have.get(&n) {
                Some(c) if c.state == "running" => {}
                Some(c) => ups.push(Step::Start {
                    service: svc.name.to_string(),
                    number: n,
                    id: c.id.clone(),
                }),
                None => ups.push(Step::Create {
                    service: svc.name.to_string(),
                    number: n,
                }),
            }
        }
    }
    removals.extend(ups);
    removals
}

/// What a service's container came to, as compose users read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Running,
    /// Exited with code 0 and not to be restarted: done, as a one-shot
    /// service (`command: echo hello`, restart `no`) is.
    Completed,
    /// Exited with another code and not to be restarted.
    Failed(i64),
    /// Created, restarting, or exited and about to be restarted.
    Pending,
}

/// The exit code in Docker's status line (`Exited (3) 5 seconds ago`).
pub fn exit_code(status: &str) -> Option<i64> {
    let rest = status.strip_prefix("Exited (")?;
    rest.split_once(')')?.0.trim().parse().ok()
}

/// Whether the engine restarts a container of restart policy `restart`
/// (compose's word) that exited with `code`.
pub fn restarts_on(restart: &str, code: i64) -> bool {
    match restart {
        "always" | "unless-stopped" => true,
        r if r == "on-failure" || r.starts_with("on-failure:") => code != 0,
        _ => false,
    }
}

/// What container `c` of a service of restart policy `restart` came to.
pub fn settled(c: &ContainerSummary, restart: &str) -> Settled {
    match c.state.as_str() {
        "running" => Settled::Running,
        "exited" | "dead" => match exit_code(&c.status) {
            Some(code) if restarts_on(restart, code) => Settled::Pending,
            Some(0) => Settled::Completed,
            Some(code) => Settled::Failed(code),
            // No code to read: not done, and not known to have failed.
            None => Settled::Pending,
        },
        _ => Settled::Pending,
    }
}

/// One step of the projects' reconcile round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// Place the project anew: its engine is lost while it is meant to run
    /// (its services that restart by themselves are brought up there).
    Move { project: String, from: String },
    /// Remove a container labelled as this cluster's that no project owns:
    /// its project gone, moved elsewhere, or of a version neither current
    /// nor being rolled out.
    RemoveOrphan {
        engine: String,
        project: String,
        version: String,
        id: String,
        name: String,
    },
    /// Finish the confirm or the rollback an update stopped in (its engine
    /// stopped answering midway): the engine answers again.
    Settle { project: String },
}

impl Task {
    pub fn summary(&self) -> String {
        match self {
            Task::Move { project, from } => format!("move project {project} off {from}"),
            Task::RemoveOrphan { engine, name, .. } => {
                format!("remove orphan {name} on {engine}")
            }
            Task::Settle { project } => format!("finish the update of {project}"),
        }
    }
}

/// The round's tasks from the stored projects, the engines' health and
/// the containers of this cluster's projects each healthy engine shows
/// (engines that did not answer are left out of `observed`).
pub fn plan_round(
    projects: &[ProjectDoc],
    health: &BTreeMap<String, Health>,
    observed: &BTreeMap<String, Vec<ContainerSummary>>,
) -> Vec<Task> {
    let mut tasks = Vec::new();
    for doc in projects {
        let lost = !doc.engine.is_empty()
            && health
                .get(&doc.engine)
                .is_some_and(|h| *h == Health::Unhealthy);
        if lost && doc.lifecycle.desired == ProjectState::Running && doc.lifecycle.rollout.is_none()
        {
            tasks.push(Task::Move {
                project: doc.name.clone(),
                from: doc.engine.clone(),
            });
        }
        let settling = doc
            .lifecycle
            .rollout
            .as_ref()
            .is_some_and(|r| matches!(r.phase, Phase::Confirming | Phase::RollingBack));
        if settling && observed.contains_key(&doc.engine) {
            tasks.push(Task::Settle {
                project: doc.name.clone(),
            });
        }
    }
    let by_name: BTreeMap<&str, &ProjectDoc> =
        projects.iter().map(|d| (d.name.as_str(), d)).collect();
    for (engine, list) in observed {
        for c in list {
            let Some(project) = c.labels.get(LABEL_PROJECT) else {
                continue;
            };
            let version = c
                .labels
                .get(LABEL_VERSION)
                .map(String::as_str)
                .unwrap_or("");
            if !owns(by_name.get(project.as_str()).copied(), engine, version) {
                tasks.push(Task::RemoveOrphan {
                    engine: engine.clone(),
                    project: project.clone(),
                    version: version.to_string(),
                    id: c.id.clone(),
                    name: c.name.clone(),
                });
            }
        }
    }
    tasks
}

/// Whether a container of `version` on `engine` is `doc`'s to keep: the
/// project runs there and the version is its current one or the one being
/// rolled out. The executor asks again once it holds the project's lock.
pub fn owns(doc: Option<&ProjectDoc>, engine: &str, version: &str) -> bool {
    doc.is_some_and(|d| {
        d.engine == engine
            && (d.current.version == version
                || d.next.as_ref().is_some_and(|n| n.version == version))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projects::docs::Definition;
    use crate::update::Lifecycle;

    fn container(id: &str, service: &str, number: &str, running: bool) -> ContainerSummary {
        ContainerSummary {
            id: id.into(),
            name: format!("p_{service}_{number}"),
            state: if running { "running" } else { "exited" }.into(),
            labels: [
                (LABEL_SERVICE.to_string(), service.to_string()),
                (LABEL_NUMBER.to_string(), number.to_string()),
            ]
            .into(),
            ..ContainerSummary::default()
        }
    }

    fn overlapping(mut c: ContainerSummary) -> ContainerSummary {
        c.labels.insert(LABEL_OVERLAP.into(), "true".into());
        c
    }

    /// What, the wave, what the engine holds, overlap, the plan expected.
    type WaveCase<'a> = (
        &'a str,
        Vec<WaveService<'a>>,
        Vec<ContainerSummary>,
        bool,
        &'a str,
    );
    /// What, the projects, the engines' health, what they show, the plan.
    type RoundCase<'a> = (
        &'a str,
        Vec<ProjectDoc>,
        Vec<(&'a str, Health)>,
        Vec<(&'a str, Vec<ContainerSummary>)>,
        &'a str,
    );

    fn render(steps: &[Step]) -> String {
        steps
            .iter()
            .map(Step::summary)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_wave_is_planned_as_a_table() {
        let web = |replicas, fixed_ports| WaveService {
            name: "web",
            replicas,
            fixed_ports,
        };
        let cases: Vec<WaveCase<'_>> = vec![
            (
                "nothing yet: every replica made",
                vec![web(2, false)],
                vec![],
                false,
                "create web#1\ncreate web#2",
            ),
            (
                "running ones left, stopped ones started",
                vec![web(3, false)],
                vec![
                    container("a", "web", "1", true),
                    container("b", "web", "2", false),
                ],
                false,
                "start web#2 (b)\ncreate web#3",
            ),
            (
                "scaled down: the highest numbers go first, before anything starts",
                vec![web(1, false)],
                vec![
                    container("a", "web", "1", false),
                    container("b", "web", "2", true),
                    container("c", "web", "3", true),
                ],
                false,
                "remove b\nremove c\nstart web#1 (a)",
            ),
            (
                "duplicates and unnumbered containers removed",
                vec![web(2, false)],
                vec![
                    container("a", "web", "1", true),
                    container("dup", "web", "1", true),
                    container("x", "web", "", true),
                ],
                false,
                "remove dup\nremove x\ncreate web#2",
            ),
            (
                "alone again: an overlapping container with fixed ports is made anew",
                vec![web(1, true)],
                vec![overlapping(container("o", "web", "1", true))],
                false,
                "remove o\ncreate web#1",
            ),
            (
                "still beside the old version: it stays",
                vec![web(1, true)],
                vec![overlapping(container("o", "web", "1", true))],
                true,
                "",
            ),
            (
                "without fixed ports an overlapping container is as good",
                vec![web(1, false)],
                vec![overlapping(container("o", "web", "1", true))],
                false,
                "",
            ),
            (
                "other services' containers are theirs",
                vec![web(1, false)],
                vec![container("d", "db", "1", false)],
                false,
                "create web#1",
            ),
            (
                "two services: removals of both first",
                vec![
                    web(1, false),
                    WaveService {
                        name: "db",
                        replicas: 0,
                        fixed_ports: false,
                    },
                ],
                vec![
                    container("a", "web", "2", true),
                    container("d", "db", "1", true),
                ],
                false,
                "remove a\nremove d\ncreate web#1",
            ),
        ];
        for (what, services, existing, overlap, want) in cases {
            assert_eq!(
                render(&plan_wave(&services, &existing, overlap)),
                want,
                "{what}"
            );
        }
    }

    fn project(name: &str, engine: &str, version: &str, desired: ProjectState) -> ProjectDoc {
        ProjectDoc {
            name: name.into(),
            engine: engine.into(),
            current: Definition {
                version: version.into(),
                ..Definition::default()
            },
            lifecycle: Lifecycle {
                desired,
                ..Lifecycle::default()
            },
            ..ProjectDoc::default()
        }
    }

    /// A project on `engine` updating from 1 to 2, in `phase`.
    fn stuck(name: &str, engine: &str, phase: Phase) -> ProjectDoc {
        let mut doc = project(name, engine, "1", ProjectState::Running);
        doc.lifecycle.rollout = Some(crate::update::Rollout {
            method: crate::update::Method::Rolling,
            from: "1".into(),
            to: "2".into(),
            phase,
        });
        doc
    }

    fn of(id: &str, project: &str, version: &str) -> ContainerSummary {
        ContainerSummary {
            id: id.into(),
            name: format!("{project}-{id}"),
            labels: [
                (LABEL_PROJECT.to_string(), project.to_string()),
                (LABEL_VERSION.to_string(), version.to_string()),
            ]
            .into(),
            ..ContainerSummary::default()
        }
    }

    #[test]
    fn a_round_is_planned_as_a_table() {
        use Health::{Healthy, Unhealthy};
        let mut updating = project("upd", "a", "1", ProjectState::Running);
        updating.next = Some(Definition {
            version: "2".into(),
            ..Definition::default()
        });
        let cases: Vec<RoundCase<'_>> = vec![
            (
                "a running project on a lost engine moves; a stopped one stays",
                vec![
                    project("shop", "b", "1", ProjectState::Running),
                    project("idle", "b", "1", ProjectState::Stopped),
                    project("fine", "a", "1", ProjectState::Running),
                ],
                vec![("a", Healthy), ("b", Unhealthy)],
                vec![("a", vec![of("f1", "fine", "1")])],
                "move project shop off b",
            ),
            (
                "orphans: project gone, moved elsewhere, old version; current and next kept",
                vec![updating.clone(), project("moved", "b", "1", ProjectState::Running)],
                vec![("a", Healthy), ("b", Healthy)],
                vec![(
                    "a",
                    vec![
                        of("u1", "upd", "1"),
                        of("u2", "upd", "2"),
                        of("u0", "upd", "0"),
                        of("m1", "moved", "1"),
                        of("g1", "gone", "1"),
                    ],
                )],
                "remove orphan upd-u0 on a\nremove orphan moved-m1 on a\nremove orphan gone-g1 on a",
            ),
            (
                "an update stopped in its confirm or rollback is finished once its engine answers",
                vec![
                    stuck("back", "a", Phase::RollingBack),
                    stuck("conf", "a", Phase::Confirming),
                    stuck("ready", "a", Phase::Ready),
                    stuck("away", "b", Phase::RollingBack),
                ],
                vec![("a", Healthy), ("b", Healthy)],
                vec![("a", vec![])],
                "finish the update of back\nfinish the update of conf",
            ),
            (
                "an engine not observed: nothing removed there",
                vec![],
                vec![("a", Healthy)],
                vec![],
                "",
            ),
        ];
        for (what, projects, health, observed, want) in cases {
            let health = health
                .into_iter()
                .map(|(e, h)| (e.to_string(), h))
                .collect();
            let observed: BTreeMap<String, Vec<ContainerSummary>> = observed
                .into_iter()
                .map(|(e, l)| (e.to_string(), l))
                .collect();
            let tasks = plan_round(&projects, &health, &observed);
            let got = tasks
                .iter()
                .map(Task::summary)
                .collect::<Vec<_>>()
                .join("\n");
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn containers_settle_as_compose_reads_them() {
        let c = |state: &str, status: &str| ContainerSummary {
            state: state.into(),
            status: status.into(),
            ..ContainerSummary::default()
        };
        let rows = [
            (c("running", "Up 2 seconds"), "no", Settled::Running),
            (
                c("exited", "Exited (0) 1 second ago"),
                "no",
                Settled::Completed,
            ),
            (
                c("exited", "Exited (0) 1 second ago"),
                "",
                Settled::Completed,
            ),
            (
                c("exited", "Exited (0) 1 second ago"),
                "on-failure",
                Settled::Completed,
            ),
            (
                c("exited", "Exited (0) 1 second ago"),
                "always",
                Settled::Pending,
            ),
            (
                c("exited", "Exited (0) 1 second ago"),
                "unless-stopped",
                Settled::Pending,
            ),
            (
                c("exited", "Exited (3) 1 second ago"),
                "no",
                Settled::Failed(3),
            ),
            (
                c("exited", "Exited (137) 1 second ago"),
                "",
                Settled::Failed(137),
            ),
            (
                c("exited", "Exited (3) 1 second ago"),
                "on-failure:5",
                Settled::Pending,
            ),
            (
                c("restarting", "Restarting (1) 1 second ago"),
                "always",
                Settled::Pending,
            ),
            (c("created", "Created"), "no", Settled::Pending),
            (c("exited", "Exited"), "no", Settled::Pending),
        ];
        for (container, restart, want) in rows {
            assert_eq!(
                settled(&container, restart),
                want,
                "{} {restart}",
                container.status
            );
        }
        assert_eq!(exit_code("Exited (-1) now"), Some(-1));
        assert_eq!(exit_code("Up 3 minutes"), None);
    }
}
