//! The reconcile round: observe the owned containers of every healthy
//! engine, plan with [`super::plan::plan`], and execute the plan, recording
//! an event per change.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::deploy::{DeployRequest, Join};
use super::docs::{
    deploy_key, ContainerDoc, DeployDoc, LABEL_CLUSTER, LABEL_CONFIG, LABEL_DEPLOY, LABEL_OWNER,
    LABEL_SEAL,
};
use super::plan::{plan, Action, Observation};
use super::Cluster;
use crate::engine::ContainerFilter;
use crate::error::{Error, Result};
use crate::model::{ContainerState, EventType, Health, ImageConfig, Owner};
use crate::store::{Expect, Op};

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
        // Containers of deploys that failed (their callers told so).
        let failed = self
            .inner
            .failed_deploys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Ok(plan(&desired, &health, &observed, &failed))
    }

    /// One reconcile round; returns what it did.
    pub async fn reconcile(&self) -> Result<Vec<Action>> {
        let actions = self.plan().await?;
        for a in &actions {
            if let Err(e) = self.execute(a).await {
                tracing::warn!(error = %e, action = %a.summary(), "reconcile action failed");
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
        let (desired, health, backends) = {
            let st = self.inner.state.lock().await;
            let desired: Vec<ContainerDoc> = st.containers().cloned().collect();
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
            (desired, health, backends)
        };
        let filter = ContainerFilter {
            all: true,
            labels: vec![format!("{LABEL_CLUSTER}={}", self.inner.identity)],
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
        // Read after the listings: a deploy that recorded its containers
        // meanwhile is no longer pending, and they are then in `desired`'s
        // place of the next round, not orphans of this one.
        let st = self.inner.state.lock().await;
        let known: std::collections::HashSet<&str> =
            desired.iter().map(|d| d.id.as_str()).collect();
        let mut observed = BTreeMap::new();
        for (engine, list) in lists {
            // An engine that did not answer is left out: nothing is planned for it.
            let Some(list) = list else { continue };
            let seen = list
                .into_iter()
                // Being deployed, or recorded since the round began: not
                // an orphan.
                .filter(|c| {
                    !st.is_pending(&c.name)
                        && (known.contains(c.id.as_str()) || st.container(&c.id).is_none())
                })
                .map(|c| Observation {
                    running: c.state == "running",
                    exit_code: exit_code(&c.status),
                    config: c
                        .labels
                        .get(LABEL_CONFIG)
                        .and_then(|j| serde_json::from_str::<ImageConfig>(j).ok()),
                    // Only a container with no record may be adopted: the
                    // seal (an HMAC and a parse) is checked for those alone.
                    owner: if known.contains(c.id.as_str()) {
                        None
                    } else {
                        self.sealed_owner(&c.labels)
                    },
                    deploy: c.labels.get(LABEL_DEPLOY).cloned(),
                    id: c.id,
                    name: c.name,
                })
                .collect();
            observed.insert(engine, seen);
        }
        drop(st);
        (desired, health, observed)
    }

    /// The owner a container's labels name, if the cluster's seal over its
    /// identity, deploy, owner and config verifies.
    fn sealed_owner(&self, labels: &BTreeMap<String, String>) -> Option<Owner> {
        let label = |k: &str| labels.get(k).map(String::as_str);
        let (config, deploy, owner, seal) = (
            label(LABEL_CONFIG)?,
            label(LABEL_DEPLOY)?,
            label(LABEL_OWNER)?,
            label(LABEL_SEAL)?,
        );
        let parts = [self.inner.identity.as_str(), deploy, owner, config];
        if !self.inner.seal.verify(&parts, seal) {
            return None;
        }
        serde_json::from_str(owner).ok()
    }

    /// Performs one action, on the record as it is once its locks are
    /// held: the plan was made from a snapshot, and a user may have
    /// stopped, destroyed or rescheduled the container since.
    async fn execute(&self, action: &Action) -> Result<()> {
        match action {
            Action::Start { container } => {
                let (_held, mut doc, backend) = self.hold(container).await?;
                if !doc.desired_running {
                    return Ok(());
                }
                let backend = backend.ok_or_else(|| Error::missing("engine", &doc.engine))?;
                backend.start_container(&doc.id).await?;
                doc.state.running = true;
                doc.state.restart_count += 1;
                let message = format!(
                    "container={} restarted by policy ({} times)",
                    doc.id, doc.state.restart_count
                );
                let c = self.save(doc).await?;
                self.note_with(EventType::Start, &c, message, &["docker"])
                    .await;
            }
            Action::Reschedule { container, reason } => {
                let (snapshot, _) = self.find(container).await?;
                let _group = self.lock_group(&snapshot.image).await;
                let (_held, old, _) = self.hold(container).await?;
                let engine_up = {
                    let st = self.inner.state.lock().await;
                    st.engines
                        .get(&old.engine)
                        .is_some_and(|e| e.doc.health == Health::Healthy)
                };
                // Stopped meanwhile, or its engine is back: nothing to move.
                let engine_back = engine_up && reason.starts_with("engine");
                if !old.desired_running || engine_back {
                    return Ok(());
                }
                self.reschedule(old, reason).await?;
            }
            Action::Forget { container } => {
                let (_held, doc, _) = self.hold(container).await?;
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
                let _held = self.lock_container(&observation.id).await;
                self.adopt(engine, observation).await?
            }
        }
        Ok(())
    }

    /// Places a container anew (its lock and its config's held): the old
    /// record goes first, its replacement joins the deploy and remembers the
    /// old id; if no engine takes it, the old record is kept for a later
    /// round.
    async fn reschedule(&self, old: ContainerDoc, reason: &str) -> Result<()> {
        let mut replaces = old.replaces.clone();
        replaces.push(old.id.clone());
        self.inner.store.delete(&old.key(), Expect::Any).await?;
        self.inner.state.lock().await.drop_container(&old.id);
        let join = Join {
            deploy: Some(old.deploy.clone()),
            replaces,
        };
        let placed = match DeployRequest::shared(old.image.clone(), 1) {
            Ok(req) => {
                let req = req.owned_by(old.owner.clone());
                self.deploy_request(req, join).await
            }
            Err(e) => Err(e),
        };
        match placed {
            Ok(placed) => {
                for c in placed.containers {
                    let message = format!(
                        "container={} moved from {} to {} ({reason}), now {}",
                        old.id, old.engine, c.engine.id, c.id
                    );
                    self.note_with(EventType::Reschedule, &c, message, &["cluster", "docker"])
                        .await;
                }
                Ok(())
            }
            Err(e) => {
                // Keep the record so a later round tries again.
                self.save(old).await?;
                Err(e)
            }
        }
    }

    /// Takes over a container this cluster owns but has no record of (its
    /// store was lost): its deploy request comes from its labels.
    async fn adopt(&self, engine: &str, o: &Observation) -> Result<()> {
        let Some(cfg) = o.config.clone() else {
            return Ok(());
        };
        let deploy = o
            .deploy
            .clone()
            .unwrap_or_else(|| format!("adopted-{}", o.id));
        // Admitted again (the plan checked it too): for the sealed owner,
        // or one trusted with nothing.
        let adopted = o.adopted_owner();
        cfg.admit(&adopted)?;
        let group = self.inner.state.lock().await.group(&deploy);
        let (image, owner) = match group {
            Some(g) => (g.image, g.owner),
            None => (Arc::new(cfg), Arc::new(adopted)),
        };
        let doc = ContainerDoc {
            id: o.id.clone(),
            name: o.name.clone(),
            engine: engine.to_string(),
            deploy: deploy.clone(),
            image: image.clone(),
            owner: owner.clone(),
            created: self.inner.opts.clock.rfc3339(),
            desired_running: o.running,
            state: ContainerState {
                running: o.running,
                ..Default::default()
            },
            ports: Vec::new(),
            hostname: String::new(),
            replaces: Vec::new(),
        };
        {
            // Checked again under the lock: a deploy may have recorded it
            // since the observation.
            let st = self.inner.state.lock().await;
            if st.container(&doc.id).is_some() || st.is_pending(&doc.name) {
                return Ok(());
            }
        }
        let ops = vec![
            Op::put_json(
                deploy_key(&deploy),
                &DeployDoc {
                    id: deploy.clone(),
                    image: (*image).clone(),
                    created: doc.created.clone(),
                    owner: Some((*owner).clone()),
                },
                Expect::Any,
            )?,
            Op::put_json(doc.key(), &doc.stored(), Expect::Absent)?,
        ];
        let revision = self.inner.store.batch(ops).await?;
        let c = {
            let mut st = self.inner.state.lock().await;
            if st.container(&doc.id).is_some() {
                return Ok(());
            }
            st.put_container_at(doc.clone(), revision);
            st.render(&doc)
        };
        let message = format!("container={} adopted", doc.id);
        self.note_with(EventType::Create, &c, message, &["cluster", "docker"])
            .await;
        Ok(())
    }
}
