//! The project service's reconcile round, planned by `plan::plan_round`
//! and performed here: a running project whose engine
//! went down is placed anew and its services that restart by themselves
//! (`always`, `unless-stopped`) are brought up there (with fresh volumes:
//! volumes stay on their engine); containers labelled as this cluster's
//! that no project owns — its project gone, moved elsewhere, or of a
//! version no longer current nor being rolled out — are removed.

use std::collections::{BTreeMap, BTreeSet};

use super::docs::*;
use super::plan::{owns, plan_round, Task};
use super::run::Mode;
use super::service::{replicas_of, Projects};
use crate::engine::{ContainerFilter, ContainerSummary};
use crate::error::Result;
use crate::model::{EventType, Health, ProjectState};
use crate::update::Phase;

impl Projects {
    /// Runs the reconcile round every `reconcile_interval` until dropped.
    pub fn spawn_reconcile(&self) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(this.opts().reconcile_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = this.reconcile().await {
                    tracing::warn!(error = %e, "project reconcile round failed");
                }
            }
        })
    }

    /// What a reconcile round would do now, without doing it (a dry run):
    /// the engines are observed and the round planned by
    /// [`plan_round`](super::plan::plan_round).
    pub async fn plan(&self) -> Result<Vec<Task>> {
        let docs = self.docs().await?;
        let (health, observed) = self.observe_engines().await;
        Ok(plan_round(&docs, &health, &observed))
    }

    /// One reconcile round: planned, then performed task by task (each on
    /// the project as it is once its lock is held); returns the plan.
    pub async fn reconcile(&self) -> Result<Vec<Task>> {
        let tasks = self.plan().await?;
        for task in &tasks {
            if let Err(e) = self.perform(task).await {
                tracing::warn!(task = %task.summary(), error = %e, "project reconcile task failed");
            }
        }
        Ok(tasks)
    }

    /// Every engine's health, and the containers of this cluster's projects
    /// on each healthy engine that answers.
    async fn observe_engines(
        &self,
    ) -> (
        BTreeMap<String, Health>,
        BTreeMap<String, Vec<ContainerSummary>>,
    ) {
        let filter = ContainerFilter {
            all: true,
            labels: vec![format!("{LABEL_OWNER}={}", self.cluster().identity())],
            name: None,
        };
        let mut health = BTreeMap::new();
        let mut observed = BTreeMap::new();
        for e in self.cluster().engines().await {
            health.insert(e.id().to_string(), e.health);
            if e.health != Health::Healthy {
                continue;
            }
            let Ok(backend) = self.cluster().backend(e.id()).await else {
                continue;
            };
            if let Ok(list) = backend.list_containers(&filter).await {
                observed.insert(e.id().to_string(), list);
            }
        }
        (health, observed)
    }

    async fn perform(&self, task: &Task) -> Result<()> {
        match task {
            Task::Move { project, .. } => self.move_project(project).await,
            Task::Settle { project } => {
                // Under the project's lock, as it is now: an update's own
                // task finishes it when it can.
                let _g = self.lock(project).await;
                let mut doc = self.load(project).await?;
                match doc.lifecycle.rollout.as_ref().map(|r| &r.phase) {
                    Some(Phase::Confirming | Phase::RollingBack) => self.settle(&mut doc).await,
                    _ => Ok(()),
                }
            }
            Task::RemoveOrphan {
                engine,
                project,
                version,
                id,
                name,
            } => {
                // Asked again under the project's lock: an operation on it
                // may have made the container its own since the plan.
                let _g = self.lock(project).await;
                let doc = self.load(project).await.ok();
                if owns(doc.as_ref(), engine, version) {
                    return Ok(());
                }
                tracing::info!(container = %name, %engine, "removing a container no project owns");
                let backend = self.cluster().backend(engine).await?;
                match backend.remove_container(id, true, true).await {
                    Ok(()) | Err(crate::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(e),
                }
            }
        }
    }

    async fn move_project(&self, name: &str) -> Result<()> {
        let _g = self.lock(name).await;
        let mut doc = self.load(name).await?;
        // Asked again under the lock: the plan was made from a snapshot.
        let lost = self
            .cluster()
            .health(&doc.engine)
            .await
            .is_some_and(|h| h == Health::Unhealthy);
        if !lost
            || doc.lifecycle.desired != ProjectState::Running
            || doc.lifecycle.rollout.is_some()
        {
            return Ok(());
        }
        let file = doc.current.parse()?;
        let movers: BTreeSet<String> = file
            .services
            .iter()
            .filter(|(k, s)| s.restart_policy().moves() && doc.wants_running(k))
            .map(|(k, _)| k.clone())
            .collect();
        if movers.is_empty() {
            return Ok(());
        }
        let from = std::mem::take(&mut doc.engine);
        self.cluster()
            .release_reservation(&hold_name(name, false))
            .await;
        let site = match self.place(&mut doc, &file).await {
            Ok(site) => site,
            Err(e) => {
                doc.engine = from;
                return Err(e);
            }
        };
        site.up(
            &file,
            &doc.current.version,
            &replicas_of(&doc, &file),
            &movers,
            Mode::default(),
        )
        .await?;
        self.cluster()
            .events()
            .record(
                EventType::Reschedule,
                format!(
                    "project={name} from={from} to={} services={}",
                    doc.engine,
                    movers.into_iter().collect::<Vec<_>>().join(",")
                ),
                &["projects"],
                None,
                None,
            )
            .await?;
        Ok(())
    }
}
