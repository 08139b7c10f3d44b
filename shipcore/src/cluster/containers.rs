//! Operations on the cluster's containers: inspect by id or unique prefix,
//! stop, restart, destroy, logs and scale, and the one way their records
//! are written and forgotten.

use std::sync::Arc;
use std::time::Duration;

use super::deploy::{DeployRequest, Join};
use super::docs::{deploy_key, ContainerDoc};
use super::locks::Held;
use super::Cluster;
use crate::engine::{EngineBackend, EngineStream, LogChunk, LogOptions};
use crate::error::{Error, Result};
use crate::events::NewEvent;
use crate::model::{Container, ContainerState, EventType};
use crate::store::{put_json, Expect, Op};

impl Cluster {
    /// A container, by id or unique prefix, and its engine's backend (none
    /// when the engine was removed).
    pub(super) async fn find(
        &self,
        id: &str,
    ) -> Result<(ContainerDoc, Option<Arc<dyn EngineBackend>>)> {
        let st = self.inner.state.lock().await;
        let id = st.resolve(id)?;
        let doc = st
            .container(&id)
            .cloned()
            .ok_or_else(|| Error::missing("container", &id))?;
        let backend = st.engines.get(&doc.engine).map(|e| e.backend.clone());
        Ok((doc, backend))
    }

    /// A container (by id or unique prefix) with its lock held: operations
    /// on one container run one at a time, each on its record as it is once
    /// the lock is held (`Missing` if it went meanwhile).
    pub(super) async fn hold(
        &self,
        id: &str,
    ) -> Result<(Held, ContainerDoc, Option<Arc<dyn EngineBackend>>)> {
        let (doc, _) = self.find(id).await?;
        let held = self.lock_container(&doc.id).await;
        let st = self.inner.state.lock().await;
        let doc = st
            .container(&doc.id)
            .cloned()
            .ok_or_else(|| Error::missing("container", &doc.id))?;
        let backend = st.engines.get(&doc.engine).map(|e| e.backend.clone());
        Ok((held, doc, backend))
    }

    /// As [`Self::hold`], for operations that need the engine.
    pub(super) async fn hold_on_engine(
        &self,
        id: &str,
    ) -> Result<(Held, ContainerDoc, Arc<dyn EngineBackend>)> {
        let (held, doc, backend) = self.hold(id).await?;
        let backend = backend.ok_or_else(|| Error::missing("engine", &doc.engine))?;
        Ok((held, doc, backend))
    }

    /// One container by id or unique id prefix.
    pub async fn container(&self, id: &str) -> Result<Container> {
        let st = self.inner.state.lock().await;
        let id = st.resolve(id)?;
        let doc = st
            .container(&id)
            .ok_or_else(|| Error::missing("container", &id))?;
        Ok(st.render(doc))
    }

    /// Writes the record of a container the cluster holds, and keeps it.
    pub(super) async fn save(&self, doc: ContainerDoc) -> Result<Container> {
        let revision = put_json(
            self.inner.store.as_ref(),
            &doc.key(),
            &doc.stored(),
            Expect::Any,
        )
        .await?;
        let mut st = self.inner.state.lock().await;
        let c = st.render(&doc);
        st.put_container_at(doc, revision);
        Ok(c)
    }

    /// Records an event about a container; a failure to record is logged,
    /// not returned: the change itself has happened.
    pub(super) async fn note_with(
        &self,
        kind: EventType,
        c: &Container,
        message: String,
        tags: &[&str],
    ) {
        let event = NewEvent::new(kind, message, tags).container(c.clone());
        if let Err(e) = self.inner.events.record_all(vec![event]).await {
            tracing::warn!(error = %e, "cannot record an event");
        }
    }

    pub(super) async fn note(&self, kind: EventType, c: &Container) {
        let message = format!("container={} image={}", c.id, c.image.name);
        self.note_with(kind, c, message, &["docker"]).await;
    }

    /// Stops a container; it stays stopped (the reconcile loop leaves it).
    pub async fn stop(&self, id: &str, timeout: Option<Duration>) -> Result<()> {
        let (_held, mut doc, backend) = self.hold_on_engine(id).await?;
        backend.stop_container(&doc.id, timeout).await?;
        doc.desired_running = false;
        doc.state.running = false;
        let c = self.save(doc).await?;
        self.note(EventType::Stop, &c).await;
        Ok(())
    }

    pub async fn restart(&self, id: &str, timeout: Option<Duration>) -> Result<()> {
        let (_held, mut doc, backend) = self.hold_on_engine(id).await?;
        backend.restart_container(&doc.id, timeout).await?;
        doc.desired_running = true;
        if let Ok(d) = backend.inspect_container(&doc.id).await {
            doc.state = ContainerState {
                started_at: d.state.started_at,
                pid: d.state.pid,
                running: d.state.running,
                ..doc.state
            };
        }
        let c = self.save(doc).await?;
        self.note(EventType::Restart, &c).await;
        Ok(())
    }

    /// Removes a container from its engine and from the cluster, releasing
    /// its reservation. A container its engine no longer has is forgotten.
    pub async fn destroy(&self, id: &str) -> Result<()> {
        let (_held, doc, backend) = self.hold(id).await?;
        if let Some(backend) = backend {
            match backend.remove_container(&doc.id, true, true).await {
                Ok(()) | Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.forget(&doc, EventType::Destroy).await
    }

    /// Drops a container's record (and its deploy's, with the last of its
    /// containers) and its reservation.
    pub(super) async fn forget(&self, doc: &ContainerDoc, kind: EventType) -> Result<()> {
        let last_of_deploy = self.inner.state.lock().await.group_size(&doc.deploy) <= 1;
        let mut ops = vec![Op::Delete {
            key: doc.key(),
            expect: Expect::Any,
        }];
        if last_of_deploy {
            ops.push(Op::Delete {
                key: deploy_key(&doc.deploy),
                expect: Expect::Any,
            });
        }
        let revision = self.inner.store.batch(ops).await?;
        let c = {
            let mut st = self.inner.state.lock().await;
            st.drop_container_at(&doc.id, revision);
            st.render(doc)
        };
        self.note(kind, &c).await;
        Ok(())
    }

    /// The container's output (stdout and stderr).
    pub async fn logs(&self, id: &str, options: &LogOptions) -> Result<EngineStream<LogChunk>> {
        let (doc, backend) = self.find(id).await?;
        let backend = backend.ok_or_else(|| Error::missing("engine", &doc.engine))?;
        Ok(backend.logs(&doc.id, options))
    }

    /// Makes exactly `count` containers of this container's image config
    /// exist: more through the scheduler, fewer by removing the newest. One
    /// scale of a config at a time, so concurrent ones converge.
    pub async fn scale(&self, id: &str, count: u32) -> Result<()> {
        if count > super::MAX_REPLICAS {
            return Err(Error::invalid(
                "count",
                format!("must be at most {}, got {count}", super::MAX_REPLICAS),
            ));
        }
        let (doc, _) = self.find(id).await?;
        let _group = self.lock_group(&doc.image).await;
        let mut group: Vec<ContainerDoc> = {
            let st = self.inner.state.lock().await;
            st.containers()
                .filter(|c| Arc::ptr_eq(&c.image, &doc.image) || c.image == doc.image)
                .cloned()
                .collect()
        };
        let have = group.len();
        let want = count as usize;
        if want > have {
            let req = DeployRequest::shared(doc.image.clone(), (want - have) as u32)?
                .owned_by(doc.owner.clone());
            let join = Join {
                deploy: Some(doc.deploy.clone()),
                replaces: Vec::new(),
            };
            self.deploy_request(req, join).await?;
        } else if want < have {
            // Newest first: by creation time, then id for a stable order.
            group.sort_by(|a, b| (&b.created, &b.id).cmp(&(&a.created, &a.id)));
            for old in group.into_iter().take(have - want) {
                match self.destroy(&old.id).await {
                    // Destroyed meanwhile by a call of its own: as good.
                    Ok(()) | Err(Error::Missing { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let message = format!("image={} from={have} to={want}", doc.image.name);
        let _ = self
            .inner
            .events
            .record(EventType::Scale, message, &["docker"], None, None)
            .await;
        Ok(())
    }
}
