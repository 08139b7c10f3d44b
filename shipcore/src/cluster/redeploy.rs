//! Docker Hub's push, as Shipyard handled it: pull the newest image on every
//! engine that runs it, then replace each of its containers with a new one
//! of the same config.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::TryStreamExt;

use super::deploy::{DeployRequest, Join};
use super::docs::ContainerDoc;
use super::Cluster;
use crate::engine::EngineBackend;
use crate::error::Result;
use crate::model::{Container, EventType, ImageRef};

impl Cluster {
    /// Redeploys every container whose image is in the repository of
    /// `image`. Returns the new containers.
    pub async fn redeploy_image(&self, image: &ImageRef) -> Result<Vec<Container>> {
        let (old, backends): (Vec<ContainerDoc>, Vec<Arc<dyn EngineBackend>>) = {
            let st = self.inner.state.lock().await;
            let old: Vec<ContainerDoc> = st
                .containers()
                .filter(|c| ImageRef::parse(&c.image.name).is_ok_and(|r| r.same_repository(image)))
                .cloned()
                .collect();
            let engines: BTreeSet<&String> = old.iter().map(|c| &c.engine).collect();
            let backends = engines
                .iter()
                .filter_map(|e| st.engines.get(*e))
                .map(|e| e.backend.clone())
                .collect();
            (old, backends)
        };
        let references: BTreeSet<String> = old.iter().map(|c| c.image.name.clone()).collect();
        for b in &backends {
            for r in &references {
                b.pull_image(r, None)
                    .try_for_each(|_| async { Ok(()) })
                    .await?;
            }
        }
        let mut placed = Vec::new();
        for c in old {
            // A container holding fixed host ports makes room first.
            let holds_ports = !c.image.host_ports().is_empty();
            if holds_ports {
                self.destroy(&c.id).await?;
            }
            let req = DeployRequest::shared(c.image.clone(), 1)?;
            let join = Join {
                deploy: Some(c.deploy.clone()),
                replaces: Vec::new(),
            };
            let new = self.deploy_request(req, join).await?.containers;
            if !holds_ports {
                self.destroy(&c.id).await?;
            }
            for n in &new {
                let message = format!(
                    "image={} container={} replaced by {}",
                    c.image.name, c.id, n.id
                );
                self.note_with(EventType::Redeploy, n, message, &["docker", "hub"])
                    .await;
            }
            placed.extend(new);
        }
        Ok(placed)
    }
}
