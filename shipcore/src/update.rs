//! The lifecycle and update state machines of compose projects (pure).
//!
//! A project's [`Lifecycle`] holds what was asked (`desired`), what the
//! engines showed last (`current`) and an update under way ([`Rollout`]).
//! [`Lifecycle::admit`] decides whether an operation may begin, giving the
//! next lifecycle or a refusal that says why (the API's 409);
//! [`Lifecycle::on`] applies what an operation's work came to; and
//! [`Lifecycle::resume`] says what a restarted server does with an update it
//! found half-way. The project service stores the lifecycle before it acts,
//! so a crash at any point leaves a value this module knows how to finish.
//!
//! Updates, rolling and blue-green alike, start the new version beside the
//! old (phase `Starting`), wait until its containers run and, where they
//! have a health check, are healthy (`Verifying`); then a rolling update
//! removes the old version by itself (`Confirming`), while a blue-green one
//! waits in `Ready` for `confirm-update` (→ `Confirming`) or
//! `rollback-update` (→ `RollingBack`). A new version that fails its check
//! ends the rolling update in `RollingBack` by itself, and leaves a
//! blue-green one `Failed` beside the still-serving old version.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::ProjectState;

/// How a new version replaces the old.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    #[default]
    Rolling,
    BlueGreen,
}

/// Where an update is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// New containers being created and started.
    Starting,
    /// Waiting for the new containers to run (and be healthy).
    Verifying,
    /// Blue-green: both versions run; waiting for confirm or rollback.
    Ready,
    /// The new version did not become healthy: why.
    Failed(String),
    /// Removing the old version.
    Confirming,
    /// Removing the new version.
    RollingBack,
}

/// An update under way from one version to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    pub method: Method,
    pub from: String,
    pub to: String,
    pub phase: Phase,
}

/// A project's states and its update, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Lifecycle {
    pub desired: ProjectState,
    pub current: ProjectState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
    /// Why the last start or redeploy failed (empty once one succeeds).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// What a caller asks of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Start,
    Stop,
    Kill,
    Redeploy,
    /// A new definition at `version` (`current` is the project's version now).
    Update {
        method: Method,
        version: String,
        current: String,
    },
    Confirm {
        force: bool,
    },
    Rollback {
        force: bool,
    },
    Delete {
        force: bool,
    },
    /// Scaling or starting/stopping one service.
    Service,
}

/// What an operation's work came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every service runs as asked.
    Running,
    /// A start or redeploy did not complete: why.
    StartFailed(String),
    Stopped,
    /// The new version's containers were created and started.
    NewStarted,
    /// The new version runs and is healthy.
    NewHealthy,
    /// The new version did not start or become healthy: why.
    NewFailed(String),
    /// The old version is removed.
    Confirmed,
    /// The new version is removed.
    RolledBack,
}

/// What a restarted server does with a lifecycle it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Nothing is half-done.
    Nothing,
    /// Remove the new version (it may be half-created), keep the old.
    RollBack,
    /// Check the new version again, with a fresh deadline.
    Verify,
    /// Remove the old version.
    Confirm,
    /// Bring the services to the desired state (a start or stop that was
    /// under way).
    Converge,
}

fn refuse(current: ProjectState, reason: impl Into<String>) -> Error {
    Error::State {
        what: "project".into(),
        state: format!("{current:?}"),
        reason: reason.into(),
    }
}

impl Lifecycle {
    /// Whether `op` may begin now; the lifecycle to store before acting.
    // Over 80 lines: the update machine's transition table, one arm per state and operation.
    pub fn admit(&self, op: &Op) -> Result<Lifecycle> {
        use ProjectState as S;
        let mut next = self.clone();
        let busy = matches!(self.current, S::Starting | S::Stopping | S::Deleted);
        if busy && !matches!(op, Op::Delete { force: true }) {
            return Err(refuse(
                self.current,
                "another operation on it is under way; try again when it ends",
            ));
        }
        if let Some(r) = &self.rollout {
            let under_way = format!("an update from version {} to {} is under way", r.from, r.to);
            match op {
                Op::Confirm { force } => {
                    match (&r.phase, force) {
                        (Phase::Ready, _) | (Phase::Failed(_) | Phase::Verifying, true) => {}
                        (Phase::Failed(why), false) => {
                            return Err(refuse(self.current, format!("the new version {} is not healthy ({why}): roll back, or confirm with force=true", r.to)))
                        }
                        (Phase::Verifying, false) => {
                            return Err(refuse(self.current, format!("the new version {} is still being checked: wait for it, or confirm with force=true", r.to)))
                        }
                        _ => return Err(refuse(self.current, format!("{under_way}: it is {}", phase_name(&r.phase)))),
                    }
                    let mut r = r.clone();
                    r.phase = Phase::Confirming;
                    next.rollout = Some(r);
                    next.current = S::Updating;
                    next.desired = S::Running;
                    return Ok(next);
                }
                Op::Rollback { force } => {
                    match (&r.phase, force) {
                        (Phase::Ready | Phase::Failed(_), _) | (Phase::Verifying | Phase::Starting, true) => {}
                        (Phase::Verifying, false) => {
                            return Err(refuse(self.current, format!("the new version {} is still being checked: wait for it, or roll back with force=true", r.to)))
                        }
                        _ => return Err(refuse(self.current, format!("{under_way}: it is {}", phase_name(&r.phase)))),
                    }
                    let mut r = r.clone();
                    r.phase = Phase::RollingBack;
                    next.rollout = Some(r);
                    next.current = S::Updating;
                    next.desired = S::Running;
                    return Ok(next);
                }
                Op::Delete { force: true } => {
                    next.desired = S::Deleted;
                    return Ok(next);
                }
                _ => {
                    return Err(refuse(
                        self.current,
                        format!("{under_way}: confirm or roll it back first"),
                    ))
                }
            }
        }
        match op {
            Op::Start | Op::Redeploy => {
                next.desired = S::Running;
                next.current = S::Starting;
            }
            Op::Stop | Op::Kill => {
                next.desired = S::Stopped;
                next.current = S::Stopping;
            }
            Op::Update {
                method,
                version,
                current,
            } => {
                if version == current {
                    return Err(refuse(
                        self.current,
                        format!("version {version} is its current version: give the update a new version"),
                    ));
                }
                if self.desired == S::Running {
                    next.current = S::Updating;
                    next.rollout = Some(Rollout {
                        method: *method,
                        from: current.clone(),
                        to: version.clone(),
                        phase: Phase::Starting,
                    });
                }
            }
            Op::Confirm { .. } | Op::Rollback { .. } => {
                return Err(refuse(self.current, "no update is under way"));
            }
            Op::Delete { force } => {
                let running = matches!(self.current, S::Running | S::Updating | S::Failed)
                    || self.desired == S::Running;
                if running && !force {
                    return Err(refuse(
                        self.current,
                        "it is running: stop it first, or delete with force=true",
                    ));
                }
                next.desired = S::Deleted;
            }
            Op::Service => {}
        }
        Ok(next)
    }

    /// The lifecycle after an operation's work came to `outcome`.
    pub fn on(&self, outcome: Outcome) -> Lifecycle {
        use ProjectState as S;
        let mut next = self.clone();
        match (outcome, next.rollout.as_mut()) {
            (Outcome::NewStarted, Some(r)) if r.phase == Phase::Starting => {
                r.phase = Phase::Verifying;
            }
            (Outcome::NewHealthy, Some(r))
                if matches!(r.phase, Phase::Starting | Phase::Verifying) =>
            {
                r.phase = match r.method {
                    Method::BlueGreen => Phase::Ready,
                    Method::Rolling => Phase::Confirming,
                };
            }
            (Outcome::NewFailed(why), Some(r))
                if matches!(r.phase, Phase::Starting | Phase::Verifying) =>
            {
                match r.method {
                    Method::BlueGreen => {
                        r.phase = Phase::Failed(why);
                        next.current = S::Failed;
                    }
                    Method::Rolling => {
                        // Rolled back by itself: the project says why.
                        next.reason = format!("the update to {} failed: {why}", r.to);
                        r.phase = Phase::RollingBack;
                    }
                }
            }
            (Outcome::Confirmed, Some(r)) if r.phase == Phase::Confirming => {
                next.rollout = None;
                next.current = S::Running;
                next.reason.clear();
            }
            (Outcome::RolledBack, Some(r)) if r.phase == Phase::RollingBack => {
                next.rollout = None;
                next.current = S::Running;
            }
            (Outcome::Running, None) => {
                next.current = S::Running;
                next.reason.clear();
            }
            (Outcome::StartFailed(why), None) => {
                next.current = S::Failed;
                next.reason = why;
            }
            (Outcome::Stopped, None) => {
                next.current = S::Stopped;
                next.reason.clear();
            }
            // Anything else does not apply to this lifecycle: it stays.
            _ => {}
        }
        next
    }

    /// What to do with this lifecycle after a restart.
    pub fn resume(&self) -> Resume {
        match &self.rollout {
            Some(r) => match r.phase {
                Phase::Starting | Phase::RollingBack => Resume::RollBack,
                Phase::Verifying => Resume::Verify,
                Phase::Confirming => Resume::Confirm,
                Phase::Ready | Phase::Failed(_) => Resume::Nothing,
            },
            None if matches!(
                self.current,
                ProjectState::Starting | ProjectState::Stopping
            ) =>
            {
                Resume::Converge
            }
            None => Resume::Nothing,
        }
    }
}

fn phase_name(p: &Phase) -> &'static str {
    match p {
        Phase::Starting => "starting the new version",
        Phase::Verifying => "checking the new version",
        Phase::Ready => "waiting for confirm or rollback",
        Phase::Failed(_) => "failed",
        Phase::Confirming => "removing the old version",
        Phase::RollingBack => "removing the new version",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProjectState as S;

    fn at(desired: S, current: S) -> Lifecycle {
        Lifecycle {
            desired,
            current,
            ..Lifecycle::default()
        }
    }

    fn update(method: Method) -> Op {
        Op::Update {
            method,
            version: "2.0".into(),
            current: "1.0".into(),
        }
    }

    fn rolling_out(method: Method, phase: Phase) -> Lifecycle {
        Lifecycle {
            desired: S::Running,
            current: S::Updating,
            rollout: Some(Rollout {
                method,
                from: "1.0".into(),
                to: "2.0".into(),
                phase,
            }),
            reason: String::new(),
        }
    }

    fn refused(l: &Lifecycle, op: Op, says: &str) {
        let e = l.admit(&op).unwrap_err().to_string();
        assert!(e.contains(says), "{op:?} on {l:?}: {e}");
        assert!(matches!(l.admit(&op), Err(Error::State { .. })));
    }

    #[test]
    fn start_stop_cycle() {
        let l = at(S::Stopped, S::Stopped);
        let l = l.admit(&Op::Start).unwrap();
        assert_eq!((l.desired, l.current), (S::Running, S::Starting));
        refused(&l, Op::Stop, "under way");
        let l = l.on(Outcome::Running);
        assert_eq!(l.current, S::Running);
        let l = l.admit(&Op::Kill).unwrap();
        assert_eq!((l.desired, l.current), (S::Stopped, S::Stopping));
        assert_eq!(l.resume(), Resume::Converge);
        let l = l.on(Outcome::Stopped);
        assert_eq!(l.current, S::Stopped);
        assert_eq!(l.resume(), Resume::Nothing);
        let failed = at(S::Stopped, S::Stopped)
            .admit(&Op::Redeploy)
            .unwrap()
            .on(Outcome::StartFailed("x".into()));
        assert_eq!((failed.current, failed.reason.as_str()), (S::Failed, "x"));
        let again = failed.admit(&Op::Start).unwrap();
        assert_eq!(again.current, S::Starting);
        assert_eq!(
            again.on(Outcome::Running).reason,
            "",
            "a success clears why"
        );
    }

    #[test]
    fn delete_needs_force_while_running() {
        refused(
            &at(S::Running, S::Running),
            Op::Delete { force: false },
            "force=true",
        );
        assert_eq!(
            at(S::Running, S::Running)
                .admit(&Op::Delete { force: true })
                .unwrap()
                .desired,
            S::Deleted
        );
        assert_eq!(
            at(S::Stopped, S::Stopped)
                .admit(&Op::Delete { force: false })
                .unwrap()
                .desired,
            S::Deleted
        );
        // A rollout in flight gives way only to force.
        let l = rolling_out(Method::BlueGreen, Phase::Ready);
        refused(&l, Op::Delete { force: false }, "confirm or roll it back");
        assert_eq!(
            l.admit(&Op::Delete { force: true }).unwrap().desired,
            S::Deleted
        );
    }

    #[test]
    fn same_version_and_second_update_refused() {
        let l = at(S::Running, S::Running);
        refused(
            &l,
            Op::Update {
                method: Method::Rolling,
                version: "1.0".into(),
                current: "1.0".into(),
            },
            "version 1.0 is its current version",
        );
        let l = l.admit(&update(Method::BlueGreen)).unwrap();
        assert_eq!(l.current, S::Updating);
        refused(&l, update(Method::Rolling), "under way");
        refused(&l, Op::Start, "under way");
        refused(&l, Op::Service, "under way");
        // A stopped project takes the new definition without a rollout.
        let stopped = at(S::Stopped, S::Stopped)
            .admit(&update(Method::BlueGreen))
            .unwrap();
        assert_eq!(stopped.rollout, None);
        refused(
            &at(S::Running, S::Running),
            Op::Confirm { force: true },
            "no update",
        );
        refused(
            &at(S::Running, S::Running),
            Op::Rollback { force: false },
            "no update",
        );
    }

    #[test]
    fn blue_green_confirm() {
        let l = at(S::Running, S::Running)
            .admit(&update(Method::BlueGreen))
            .unwrap();
        assert_eq!(l.resume(), Resume::RollBack);
        refused(&l, Op::Confirm { force: false }, "starting the new version");
        let l = l.on(Outcome::NewStarted);
        assert_eq!(l.resume(), Resume::Verify);
        refused(&l, Op::Confirm { force: false }, "still being checked");
        refused(&l, Op::Rollback { force: false }, "still being checked");
        let l = l.on(Outcome::NewHealthy);
        assert_eq!(l.rollout.as_ref().unwrap().phase, Phase::Ready);
        assert_eq!(l.resume(), Resume::Nothing);
        let l = l.admit(&Op::Confirm { force: false }).unwrap();
        assert_eq!(l.resume(), Resume::Confirm);
        refused(&l, Op::Rollback { force: true }, "removing the old version");
        // Outcomes that do not apply leave it as is.
        assert_eq!(l.on(Outcome::RolledBack), l);
        let l = l.on(Outcome::Confirmed);
        assert_eq!((l.current, l.rollout), (S::Running, None));
    }

    #[test]
    fn blue_green_rollback_and_failure() {
        let l = rolling_out(Method::BlueGreen, Phase::Ready)
            .admit(&Op::Rollback { force: false })
            .unwrap();
        assert_eq!(l.resume(), Resume::RollBack);
        let l = l.on(Outcome::RolledBack);
        assert_eq!((l.current, l.rollout.is_none()), (S::Running, true));

        let failed = rolling_out(Method::BlueGreen, Phase::Verifying)
            .on(Outcome::NewFailed("web_1 exited (1)".into()));
        assert_eq!(failed.current, S::Failed);
        assert_eq!(failed.resume(), Resume::Nothing);
        refused(&failed, Op::Confirm { force: false }, "web_1 exited");
        assert_eq!(
            failed
                .admit(&Op::Confirm { force: true })
                .unwrap()
                .rollout
                .unwrap()
                .phase,
            Phase::Confirming
        );
        assert_eq!(
            failed
                .admit(&Op::Rollback { force: false })
                .unwrap()
                .rollout
                .unwrap()
                .phase,
            Phase::RollingBack
        );
        // Force rolls back an update still starting (a stuck pull).
        let starting = rolling_out(Method::BlueGreen, Phase::Starting);
        refused(
            &starting,
            Op::Rollback { force: false },
            "starting the new version",
        );
        assert!(starting.admit(&Op::Rollback { force: true }).is_ok());
    }

    #[test]
    fn rolling_confirms_or_rolls_back_by_itself() {
        let l = at(S::Running, S::Running)
            .admit(&update(Method::Rolling))
            .unwrap()
            .on(Outcome::NewStarted);
        let ok = l.on(Outcome::NewHealthy);
        assert_eq!(ok.rollout.as_ref().unwrap().phase, Phase::Confirming);
        assert_eq!(ok.on(Outcome::Confirmed).current, S::Running);
        let bad = l.on(Outcome::NewFailed("unhealthy".into()));
        assert_eq!(bad.rollout.as_ref().unwrap().phase, Phase::RollingBack);
        assert_eq!(bad.resume(), Resume::RollBack);
        assert!(bad.reason.contains("failed: unhealthy"), "{}", bad.reason);
        let back = bad.on(Outcome::RolledBack);
        assert_eq!(back.current, S::Running);
        assert_eq!(back.reason, bad.reason, "it says why it rolled back");
    }

    #[test]
    fn stored_form_round_trips() {
        let l = rolling_out(Method::BlueGreen, Phase::Failed("why".into()));
        let json = serde_json::to_string(&l).unwrap();
        assert!(json.contains("blue-green"), "{json}");
        assert_eq!(serde_json::from_str::<Lifecycle>(&json).unwrap(), l);
    }
}
