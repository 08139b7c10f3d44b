//! The reconcile round: observe the owned containers of every healthy
//! engine, plan with [`super::plan::plan`], and execute the plan, recording
//! an event per change.

use std::collections::BTreeMap;

use super::docs::{ContainerDoc, CONTAINERS, LABEL_CLUSTER, LABEL_CONFIG};
use super::plan::{plan, Action, Observation};
use super::Cluster;
use crate::engine::ContainerFilter;
use crate::error::Result;
use crate::model::{ContainerState, EventType, Health, ImageConfig};
use crate::store::{put_json, Expect};

/// Docker's status of an exited container: `Exited (137) 3 seconds ago`.
fn exit_code(status: &str) -> i64 {
    status
        .strip_prefix("Exited (")
        .and_then(|s| s.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl Cluster {
    /// What a reconcile would do now, without doing it (a dry run).
    pub async fn plan(&self) -> Result<Vec<Action>> {
        let (desired, health, observed) = self.observe().await;
        Ok(plan(&desired, &health, &observed))
    }

    /// One reconcile round; returns what it did.
    pub async fn reconcile(&self) -> Result<Vec<Action>> {
        let actions = self.plan().await?;
        for a in &actions {
            if let Err(e) = self.execute(a).await {
                tracing::warn!(error = %e, action = ?a, "reconcile action failed");
            }
        }
        Ok(actions)
    }

    async fn observe(
        &self,
    ) -> (
        Vec<ContainerDoc>,
        BTreeMap<String, Health>,
        BTreeMap<String, Vec<Observation>>,
    ) {
        let (desired, health, backends, pending) = {
            let st = self.inner.state.lock().await;
            let desired: Vec<ContainerDoc> = st.containers.values().cloned().collect();
            let health: BTreeMap<String, Health> = st
                .engines
                .iter()
                .map(|(id, e)| (id.clone(), e.doc.health))
                .collect();
            let backends: Vec<_> = st
                .engines
                .iter()
                .filter(|(_, e)| e.doc.health == Health::Healthy)
                .map(|(id, e)| (id.clone(), e.backend.clone()))
                .collect();
            (desired, health, backends, st.pending.clone())
        };
        let filter = ContainerFilter {
            all: true,
            labels: vec![format!("{LABEL_CLUSTER}={}", self.inner.opts.name)],
            name: None,
        };
        // An engine that hangs (a dockerd shutting down accepts connections
        // and says nothing) must not hold up the round for the others.
        let timeout = self.inner.opts.health_timeout;
        let lists = futures::future::join_all(backends.into_iter().map(|(id, b)| {
            let filter = filter.clone();
            async move {
                match tokio::time::timeout(timeout, b.list_containers(&filter)).await {
                    Ok(list) => (id, list.ok()),
                    Err(_) => (id, None),
                }
            }
        }))
        .await;
        let mut observed = BTreeMap::new();
        for (engine, list) in lists {
            // An engine that did not answer is left out: nothing is planned for it.
            let Some(list) = list else { continue };
            let seen = list
                .into_iter()
                // Being deployed: not an orphan, just not recorded yet.
                .filter(|c| !pending.contains(&c.name))
                .map(|c| Observation {
                    running: c.state == "running",
                    exit_code: exit_code(&c.status),
                    config: c
                        .labels
                        .get(LABEL_CONFIG)
                        .and_then(|j| serde_json::from_str::<ImageConfig>(j).ok()),
                    id: c.id,
                    name: c.name,
                })
                .collect();
            observed.insert(engine, seen);
        }
        (desired, health, observed)
    }

    async fn execute(&self, action: &Action) -> Result<()> {
        match action {
            Action::Start { container } => {
                let (mut doc, backend) = self.find(container).await?;
                let backend =
                    backend.ok_or_else(|| crate::Error::missing("engine", &doc.engine))?;
                backend.start_container(&doc.id).await?;
                doc.state.running = true;
                let message = format!("container={} restarted by policy", doc.id);
                let c = self.save(doc).await?;
                self.note_with(EventType::Start, &c, message, &["docker"])
                    .await;
            }
            Action::Reschedule { container, reason } => {
                let (old, _) = self.find(container).await?;
                let mut replaces = old.replaces.clone();
                replaces.push(old.id.clone());
                // Give back the old reservation first: a vanished container may
                // come back on its own engine.
                self.inner
                    .store
                    .delete(&format!("{CONTAINERS}{}", old.id), Expect::Any)
                    .await?;
                {
                    let mut st = self.inner.state.lock().await;
                    let _ = st.index.remove_container(&old.engine, &old.footprint());
                    st.containers.remove(&old.id);
                    st.bump();
                }
                match self.deploy_replacing(old.image.clone(), 1, &replaces).await {
                    Ok((placed, _)) => {
                        for c in placed {
                            let message = format!(
                                "container={} moved from {} to {} ({reason}), now {}",
                                old.id, old.engine, c.engine.id, c.id
                            );
                            self.note_with(
                                EventType::Reschedule,
                                &c,
                                message,
                                &["cluster", "docker"],
                            )
                            .await;
                        }
                    }
                    Err(e) => {
                        // Keep the record so a later round tries again.
                        put_json(
                            self.inner.store.as_ref(),
                            &format!("{CONTAINERS}{}", old.id),
                            &old,
                            Expect::Any,
                        )
                        .await?;
                        let mut st = self.inner.state.lock().await;
                        let _ = st.index.add_container(&old.engine, &old.footprint());
                        st.containers.insert(old.id.clone(), old.clone());
                        st.bump();
                        return Err(e);
                    }
                }
            }
            Action::Forget { container } => {
                let (doc, _) = self.find(container).await?;
                self.forget(&doc, EventType::Die).await?;
            }
            Action::RemoveOrphan { engine, id } => {
                let backend = {
                    let st = self.inner.state.lock().await;
                    st.engines.get(engine).map(|e| e.backend.clone())
                };
                if let Some(b) = backend {
                    b.remove_container(id, true, true).await?;
                    self.inner
                        .events
                        .record(
                            EventType::Destroy,
                            format!("container={id} engine={engine} orphan removed"),
                            &["cluster", "docker"],
                            None,
                            None,
                        )
                        .await?;
                }
            }
            Action::Adopt {
                engine,
                observation,
            } => {
                let Some(cfg) = observation.config.clone() else {
                    return Ok(());
                };
                let doc = ContainerDoc {
                    id: observation.id.clone(),
                    name: observation.name.clone(),
                    engine: engine.clone(),
                    image: cfg,
                    created: super::clock::now_rfc3339(),
                    desired_running: observation.running,
                    state: ContainerState {
                        running: observation.running,
                        ..Default::default()
                    },
                    ports: Vec::new(),
                    replaces: Vec::new(),
                };
                {
                    // Checked again under the lock: a deploy may have recorded
                    // it since the observation.
                    let mut st = self.inner.state.lock().await;
                    if st.containers.contains_key(&doc.id) || st.pending.contains(&doc.name) {
                        return Ok(());
                    }
                    st.index.add_container(engine, &doc.footprint())?;
                    st.containers.insert(doc.id.clone(), doc.clone());
                    st.bump();
                }
                let message = format!("container={} adopted", doc.id);
                let c = self.save(doc).await?;
                self.note_with(EventType::Create, &c, message, &["cluster", "docker"])
                    .await;
            }
        }
        Ok(())
    }
}
