//! The project service's reconcile round: a running project whose engine
//! went down is placed anew and its services that restart by themselves
//! (`always`, `unless-stopped`) are brought up there (with fresh volumes:
//! volumes stay on their engine); containers labelled as this cluster's
//! that no project owns — its project gone, moved elsewhere, or of a
//! version no longer current nor being rolled out — are removed.

use std::collections::BTreeSet;

use super::docs::*;
use super::run::Mode;
use super::service::{replicas_of, Projects};
use crate::engine::ContainerFilter;
use crate::error::Result;
use crate::model::{EventType, Health, ProjectState};

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

    /// One reconcile round.
    pub async fn reconcile(&self) -> Result<()> {
        for doc in self.docs().await? {
            let down = !doc.engine.is_empty()
                && self
                    .cluster()
                    .health(&doc.engine)
                    .await
                    .is_some_and(|h| h == Health::Unhealthy);
            if down
                && doc.lifecycle.desired == ProjectState::Running
                && doc.lifecycle.rollout.is_none()
            {
                if let Err(e) = self.move_project(&doc.name).await {
                    tracing::warn!(project = %doc.name, error = %e, "moving a project off a lost engine failed");
                }
            }
        }
        self.remove_orphans().await
    }

    async fn move_project(&self, name: &str) -> Result<()> {
        let _g = self.lock(name).await;
        let mut doc = self.load(name).await?;
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

    async fn remove_orphans(&self) -> Result<()> {
        let owner = self.cluster().identity().to_string();
        for e in self.cluster().engines().await {
            if e.health != Health::Healthy {
                continue;
            }
            let Ok(backend) = self.cluster().backend(e.id()).await else {
                continue;
            };
            let filter = ContainerFilter {
                all: true,
                labels: vec![format!("{LABEL_OWNER}={owner}")],
                name: None,
            };
            let Ok(list) = backend.list_containers(&filter).await else {
                continue;
            };
            let projects: BTreeSet<&str> = list
                .iter()
                .filter_map(|c| c.labels.get(LABEL_PROJECT).map(String::as_str))
                .collect();
            for project in projects {
                // An operation on the project decides for itself.
                let _g = self.lock(project).await;
                let doc = self.load(project).await.ok();
                for c in list
                    .iter()
                    .filter(|c| c.labels.get(LABEL_PROJECT).map(String::as_str) == Some(project))
                {
                    let version = c.labels.get(LABEL_VERSION).cloned().unwrap_or_default();
                    let owned = doc.as_ref().is_some_and(|d| {
                        d.engine == e.id()
                            && (d.current.version == version
                                || d.next.as_ref().is_some_and(|n| n.version == version))
                    });
                    if !owned {
                        tracing::info!(container = %c.name, engine = %e.id(), "removing a container no project owns");
                        let _ = backend.remove_container(&c.id, true, true).await;
                    }
                }
            }
        }
        Ok(())
    }
}
