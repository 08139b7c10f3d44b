//! Docker Hub's push, as Shipyard handled it: pull the newest image on every
//! engine that runs it, then replace each of its containers with a new one
//! of the same config.
//!
//! One redeploy of a repository at a time (two pushes at once would each
//! replace the same containers). Each container is replaced on its own:
//! the new one first, then the old one goes; a container holding fixed host
//! ports is stopped and set aside first (its ports free), and started again
//! if its replacement cannot be made. A failure leaves that container as it
//! was and the redeploy goes on with the others.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::deploy::{pull_within, DeployRequest, Join};
use super::docs::ContainerDoc;
use super::Cluster;
use crate::engine::EngineBackend;
use crate::error::{Error, Result};
use crate::model::{Container, EventType, ImageRef};
use crate::store::Expect;

/// What a redeploy did.
#[derive(Debug, Default)]
pub struct Redeployed {
    /// The new containers.
    pub containers: Vec<Container>,
    /// The containers that could not be replaced (and were kept), and why.
    pub failed: Vec<(String, Error)>,
}

impl Cluster {
    /// Redeploys every container whose image is in the repository of
    /// `image`.
    pub async fn redeploy_image(&self, image: &ImageRef) -> Result<Redeployed> {
        let _one_at_a_time = self
            .inner
            .locks
            .lock(format!("redeploy/{}", image.name()))
            .await;
        type Engines = Vec<(String, Arc<dyn EngineBackend>, bool)>;
        let (old, backends): (Vec<ContainerDoc>, Engines) = {
            let st = self.inner.state.lock().await;
            let old: Vec<ContainerDoc> = st
                .containers()
                .filter(|c| ImageRef::parse(&c.image.name).is_ok_and(|r| r.same_repository(image)))
                .cloned()
                .collect();
            let engines: BTreeSet<&String> = old.iter().map(|c| &c.engine).collect();
            let backends = engines
                .iter()
                .filter_map(|e| {
                    st.engines
                        .get(*e)
                        .map(|s| ((*e).clone(), s.backend.clone(), s.doc.untrusted))
                })
                .collect();
            (old, backends)
        };
        let references: BTreeSet<String> = old.iter().map(|c| c.image.name.clone()).collect();
        let limit = self.inner.opts.pull_timeout;
        for (engine, b, untrusted) in &backends {
            for r in &references {
                pull_within(
                    (!untrusted).then_some(&self.inner.opts.registry_credentials),
                    b.as_ref(),
                    engine,
                    r,
                    limit,
                )
                .await?;
            }
        }
        let mut done = Redeployed::default();
        for c in old {
            let _group = self.lock_group(&c.image).await;
            match self.replace(&c).await {
                Ok(new) => {
                    for n in &new {
                        let message = format!(
                            "image={} container={} replaced by {}",
                            c.image.name, c.id, n.id
                        );
                        self.note_with(EventType::Redeploy, n, message, &["docker", "hub"])
                            .await;
                    }
                    done.containers.extend(new);
                }
                // Gone meanwhile (destroyed by a call of its own): nothing to replace.
                Err(Error::Missing { .. }) => {}
                Err(e) => {
                    let message = format!("image={} container={} kept: {e}", c.image.name, c.id);
                    let _ = self
                        .inner
                        .events
                        .record(
                            EventType::DeployFailed,
                            message,
                            &["docker", "hub"],
                            None,
                            None,
                        )
                        .await;
                    done.failed.push((c.id.clone(), e));
                }
            }
        }
        Ok(done)
    }

    /// Replaces one container (its config's lock held): the new one first,
    /// then the old one goes.
    async fn replace(&self, c: &ContainerDoc) -> Result<Vec<Container>> {
        let (_held, old, backend) = self.hold(&c.id).await?;
        let join = Join {
            deploy: Some(old.deploy.clone()),
            replaces: Vec::new(),
        };
        let req = DeployRequest::shared(old.image.clone(), 1)?.owned_by(old.owner.clone());
        if old.image.host_ports().is_empty() {
            let new = self.deploy_request(req, join).await?.containers;
            if let Some(b) = &backend {
                match b.remove_container(&old.id, true, true).await {
                    Ok(()) | Err(Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            self.forget(&old, EventType::Destroy).await?;
            return Ok(new);
        }
        // Fixed host ports: the old one steps aside (stopped, its record and
        // reservation set apart) so the new one can take the ports.
        let b = backend.ok_or_else(|| Error::missing("engine", &old.engine))?;
        b.stop_container(&old.id, None).await?;
        self.inner.store.delete(&old.key(), Expect::Any).await?;
        self.inner.state.lock().await.drop_container(&old.id);
        match self.deploy_request(req, join).await {
            Ok(new) => {
                match b.remove_container(&old.id, true, true).await {
                    Ok(()) | Err(Error::NotFound { .. }) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, container = %old.id, "cannot remove a replaced container")
                    }
                }
                Ok(new.containers)
            }
            Err(e) => {
                // Back as it was.
                self.save(old.clone()).await?;
                if old.desired_running {
                    b.start_container(&old.id).await?;
                }
                Err(e)
            }
        }
    }
}
