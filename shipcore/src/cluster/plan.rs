//! The reconcile planner: compares what the store says should exist with
//! what the engines report, and returns the actions that close the gap. Pure:
//! no IO, no clock; the cluster service executes the plan and records events,
//! so a plan can be shown (dry run) and tested as data.

use std::collections::{BTreeMap, BTreeSet};

use super::docs::ContainerDoc;
use crate::model::{Health, ImageConfig, Owner};

/// A container an engine reports, owned by this cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub id: String,
    pub name: String,
    pub running: bool,
    pub exit_code: i64,
    /// The deploy request from its ownership label, when readable.
    pub config: Option<ImageConfig>,
    /// The deploy it belongs to, from its ownership label.
    pub deploy: Option<String>,
    /// Whom it was admitted for, when its labels carry the cluster's seal
    /// (see `seal.rs`); `None`: unsealed, trusted with nothing.
    pub owner: Option<Owner>,
}

impl Observation {
    /// The owner it is adopted for: the sealed one, or one trusted with
    /// nothing.
    pub fn adopted_owner(&self) -> Owner {
        self.owner.clone().unwrap_or_else(Owner::unknown)
    }
}

/// One step of a reconcile.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Start a stopped container that should run.
    Start { container: String },
    /// Place the container anew (its engine is lost, or it vanished), and
    /// remember the old id so it is removed if it shows up again.
    Reschedule { container: String, reason: String },
    /// Drop the record of a container that vanished and is not restarted.
    Forget { container: String },
    /// Remove a container this cluster owns but no longer wants.
    RemoveOrphan { engine: String, id: String },
    /// Take over a container this cluster owns but has no record of.
    Adopt {
        engine: String,
        observation: Box<Observation>,
    },
}

impl Action {
    /// One line for logs: what and which container, nothing of its
    /// configuration (which may hold secrets in its environment).
    pub fn summary(&self) -> String {
        match self {
            Action::Start { container } => format!("start {container}"),
            Action::Reschedule { container, reason } => {
                format!("reschedule {container} ({reason})")
            }
            Action::Forget { container } => format!("forget {container}"),
            Action::RemoveOrphan { engine, id } => format!("remove orphan {id} on {engine}"),
            Action::Adopt {
                engine,
                observation,
            } => {
                format!("adopt {} on {engine}", observation.id)
            }
        }
    }
}

/// Plans a reconcile. `health` gives every registered engine's health;
/// `observed` the owned containers of the engines that answered this round
/// (an engine missing there is left alone); `failed` the names of
/// containers whose deploy failed, as its caller was told (an engine cut
/// off in the middle may still make them): removed, never adopted.
pub fn plan(
    desired: &[ContainerDoc],
    health: &BTreeMap<String, Health>,
    observed: &BTreeMap<String, Vec<Observation>>,
    failed: &BTreeSet<String>,
) -> Vec<Action> {
    let mut actions = Vec::new();
    let known: BTreeSet<&str> = desired.iter().map(|d| d.id.as_str()).collect();
    let retired: BTreeSet<&str> = desired
        .iter()
        .flat_map(|d| d.replaces.iter().map(String::as_str))
        .collect();

    for d in desired {
        let policy = &d.image.restart_policy;
        let lost = health
            .get(&d.engine)
            .is_none_or(|h| *h == Health::Unhealthy);
        if lost {
            if d.desired_running && policy.moves() {
                actions.push(Action::Reschedule {
                    container: d.id.clone(),
                    reason: format!("engine {} is down", d.engine),
                });
            }
            continue;
        }
        let Some(seen) = observed.get(&d.engine) else {
            continue;
        };
        match seen.iter().find(|o| o.id == d.id) {
            None if d.desired_running && policy.moves() => actions.push(Action::Reschedule {
                container: d.id.clone(),
                reason: format!("container vanished from engine {}", d.engine),
            }),
            None => actions.push(Action::Forget {
                container: d.id.clone(),
            }),
            Some(o)
                if !o.running
                    && d.desired_running
                    && policy.restarts(o.exit_code, d.state.restart_count) =>
            {
                actions.push(Action::Start {
                    container: d.id.clone(),
                })
            }
            Some(_) => {}
        }
    }

    for (engine, seen) in observed {
        for o in seen.iter().filter(|o| !known.contains(o.id.as_str())) {
            if retired.contains(o.id.as_str()) || o.config.is_none() || failed.contains(&o.name) {
                actions.push(Action::RemoveOrphan {
                    engine: engine.clone(),
                    id: o.id.clone(),
                });
            } else if o
                .config
                .as_ref()
                .is_some_and(|c| c.admit(&o.adopted_owner()).is_err())
            {
                // Its request is not one its (sealed) owner may run, or it
                // is unsealed and asks for more than nothing: not made by
                // this cluster as it claims. Neither adopted nor removed.
            } else {
                actions.push(Action::Adopt {
                    engine: engine.clone(),
                    observation: Box::new(o.clone()),
                });
            }
        }
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RestartPolicy;

    fn doc(id: &str, engine: &str, policy: &str, running: bool) -> ContainerDoc {
        ContainerDoc {
            id: id.into(),
            name: format!("n-{id}"),
            engine: engine.into(),
            deploy: "d".into(),
            image: std::sync::Arc::new(ImageConfig {
                name: "busybox".into(),
                cpus: 0.1,
                memory: 16,
                restart_policy: RestartPolicy {
                    name: policy.into(),
                    maximum_retry: None,
                },
                ..ImageConfig::default()
            }),
            owner: std::sync::Arc::new(crate::model::Owner::system()),
            created: String::new(),
            desired_running: running,
            state: Default::default(),
            ports: Vec::new(),
            hostname: String::new(),
            replaces: Vec::new(),
        }
    }

    #[test]
    fn an_action_logs_no_configuration() {
        let mut secret = ImageConfig::default();
        secret
            .environment
            .insert("DB_PASSWORD".into(), "hunter2".into());
        let adopt = Action::Adopt {
            engine: "e1".into(),
            observation: Box::new(Observation {
                id: "c1".into(),
                name: "n".into(),
                running: true,
                exit_code: 0,
                config: Some(secret),
                deploy: None,
                owner: None,
            }),
        };
        assert_eq!(adopt.summary(), "adopt c1 on e1");
        assert!(!adopt.summary().contains("hunter2"));
    }

    fn obs(id: &str, running: bool, exit: i64, owned: bool) -> Observation {
        Observation {
            id: id.into(),
            name: format!("n-{id}"),
            running,
            exit_code: exit,
            config: owned.then(ImageConfig::default),
            deploy: None,
            owner: None,
        }
    }

    /// An owned container whose config mounts the host's `/`, sealed for
    /// `owner` or unsealed.
    fn host_root(id: &str, owner: Option<&str>) -> Observation {
        Observation {
            config: Some(ImageConfig {
                volumes: vec!["/:/host".into()],
                ..ImageConfig::default()
            }),
            owner: owner.map(|role| Owner {
                name: "someone".into(),
                role: crate::model::Role {
                    name: role.into(),
                    ..Default::default()
                },
            }),
            ..obs(id, true, 0, true)
        }
    }

    fn health(pairs: &[(&str, Health)]) -> BTreeMap<String, Health> {
        pairs.iter().map(|(e, h)| (e.to_string(), *h)).collect()
    }

    /// Renders a plan as short text, one action per line.
    fn render(actions: &[Action]) -> String {
        actions
            .iter()
            .map(|a| match a {
                Action::Start { container } => format!("start {container}"),
                Action::Reschedule { container, reason } => {
                    format!("reschedule {container}: {reason}")
                }
                Action::Forget { container } => format!("forget {container}"),
                Action::RemoveOrphan { engine, id } => format!("remove {id} on {engine}"),
                Action::Adopt {
                    engine,
                    observation,
                } => format!("adopt {} on {engine}", observation.id),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn cases() {
        let up = Health::Healthy;
        let down = Health::Unhealthy;
        let mut moved = doc("c9", "a", "always", true);
        moved.replaces = vec!["old".into()];
        type Case<'a> = (
            &'a str,
            Vec<ContainerDoc>,
            BTreeMap<String, Health>,
            Vec<(&'a str, Vec<Observation>)>,
            &'a str,
        );
        let cases: Vec<Case> = vec![
            (
                "all well",
                vec![doc("c1", "a", "always", true)],
                health(&[("a", up)]),
                vec![("a", vec![obs("c1", true, 0, true)])],
                "",
            ),
            (
                "engine down: always moves, others wait",
                vec![
                    doc("c1", "b", "always", true),
                    doc("c2", "b", "no", true),
                    doc("c3", "b", "always", false),
                ],
                health(&[("a", up), ("b", down)]),
                vec![("a", vec![])],
                "reschedule c1: engine b is down",
            ),
            (
                "stopped containers restart by policy",
                vec![
                    doc("c1", "a", "always", true),
                    doc("c2", "a", "on-failure", true),
                    doc("c3", "a", "on-failure", true),
                    doc("c4", "a", "no", true),
                    doc("c5", "a", "always", false),
                ],
                health(&[("a", up)]),
                vec![(
                    "a",
                    vec![
                        obs("c1", false, 0, true),
                        obs("c2", false, 1, true),
                        obs("c3", false, 0, true),
                        obs("c4", false, 1, true),
                        obs("c5", false, 0, true),
                    ],
                )],
                "start c1\nstart c2",
            ),
            (
                "vanished containers",
                vec![doc("c1", "a", "always", true), doc("c2", "a", "no", true)],
                health(&[("a", up)]),
                vec![("a", vec![])],
                "reschedule c1: container vanished from engine a\nforget c2",
            ),
            (
                "engine not observed this round: nothing",
                vec![doc("c1", "a", "always", true)],
                health(&[("a", up)]),
                vec![],
                "",
            ),
            (
                "orphans: replaced ones removed, unknown owned ones adopted, unreadable removed",
                vec![moved],
                health(&[("a", up), ("b", up)]),
                vec![
                    ("a", vec![obs("c9", true, 0, true)]),
                    (
                        "b",
                        vec![
                            obs("old", true, 0, true),
                            obs("x", true, 0, true),
                            obs("y", true, 0, false),
                        ],
                    ),
                ],
                "remove old on b\nadopt x on b\nremove y on b",
            ),
            (
                "adoption is admission: unsealed or a user's host root left alone, an admin's adopted",
                vec![],
                health(&[("a", up)]),
                vec![(
                    "a",
                    vec![
                        host_root("spoofed", None),
                        host_root("users", Some("user")),
                        host_root("admins", Some("admin")),
                    ],
                )],
                "adopt admins on a",
            ),
            (
                "unknown engine counts as lost",
                vec![doc("c1", "gone", "always", true)],
                health(&[]),
                vec![],
                "reschedule c1: engine gone is down",
            ),
        ];
        for (what, desired, health, observed, want) in cases {
            let observed: BTreeMap<String, Vec<Observation>> = observed
                .into_iter()
                .map(|(e, o)| (e.to_string(), o))
                .collect();
            let none = BTreeSet::new();
            assert_eq!(
                render(&plan(&desired, &health, &observed, &none)),
                want,
                "{what}"
            );
        }
    }

    #[test]
    fn a_container_of_a_failed_deploy_is_removed_not_adopted() {
        let observed = BTreeMap::from([(
            "a".to_string(),
            vec![obs("late", true, 0, true), obs("other", true, 0, true)],
        )]);
        let failed = BTreeSet::from(["n-late".to_string()]);
        let health = health(&[("a", Health::Healthy)]);
        assert_eq!(
            render(&plan(&[], &health, &observed, &failed)),
            "remove late on a\nadopt other on a"
        );
    }
}
