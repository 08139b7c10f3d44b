//! Deploys through the scheduler, and the container operations: inspect by
//! id or unique prefix, stop, restart, destroy, logs, scale.
//!
//! A deploy reserves capacity in the scheduler's index first (under the
//! state lock), then talks to the engines without holding it, and either
//! records the containers or gives every reservation back: a failure half-way
//! leaks nothing.

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;

use super::clock::now_rfc3339;
use super::docs::{footprint, ContainerDoc, CONTAINERS, LABEL_CLUSTER, LABEL_CONFIG};
use super::{Cluster, State};
use crate::engine::{ContainerSpec, EngineBackend, LogChunk, LogOptions, PortBinding};
use crate::error::{Error, Result};
use crate::model::{Container, ContainerState, EventType, ImageConfig};
use crate::sched::{Request, Strategy};
use crate::store::{put_json, Expect};

/// Where one new container goes and what it is called.
pub(super) struct Slot {
    pub engine: String,
    pub name: String,
    pub backend: Arc<dyn EngineBackend>,
}

impl Cluster {
    /// Deploys `count` containers of `cfg` (at least one), placed by the
    /// scheduler. Returns the placed containers, or the scheduler's
    /// per-engine explanation as [`Error::Unplaceable`].
    pub async fn deploy(&self, cfg: ImageConfig, count: u32) -> Result<Vec<Container>> {
        self.deploy_replacing(cfg, count.max(1), &[])
            .await
            .map(|(c, _)| c)
    }

    /// Deploys and returns rendered containers and their records; `replaces`
    /// goes into each record (rescheduling).
    pub(super) async fn deploy_replacing(
        &self,
        cfg: ImageConfig,
        count: u32,
        replaces: &[String],
    ) -> Result<(Vec<Container>, Vec<ContainerDoc>)> {
        let slots = self.reserve(&cfg, count).await?;
        let mut created: Vec<(usize, String)> = Vec::new();
        let mut outcome = Ok(());
        for (i, slot) in slots.iter().enumerate() {
            match self.create_on(slot, &cfg).await {
                Ok(id) => created.push((i, id)),
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        if let Err(e) = outcome {
            // Undo: remove what was made, give back every reservation.
            for (i, id) in &created {
                let _ = slots[*i].backend.remove_container(id, true, true).await;
            }
            self.release(&cfg, &slots).await;
            self.settle(&slots).await;
            let message = format!("image={} error={e}", cfg.name);
            let _ = self
                .inner
                .events
                .record(EventType::DeployFailed, message, &["docker"], None, None)
                .await;
            return Err(e);
        }
        let mut docs: Vec<ContainerDoc> = Vec::new();
        for (i, id) in created {
            let slot = &slots[i];
            let details = slot.backend.inspect_container(&id).await.ok();
            let doc = ContainerDoc {
                id: id.clone(),
                name: slot.name.clone(),
                engine: slot.engine.clone(),
                image: cfg.clone(),
                created: now_rfc3339(),
                desired_running: true,
                state: details
                    .as_ref()
                    .map(|d| ContainerState {
                        started_at: d.state.started_at.clone(),
                        pid: d.state.pid,
                        running: d.state.running,
                    })
                    .unwrap_or_default(),
                ports: details.map(|d| d.ports).unwrap_or_default(),
                replaces: replaces.to_vec(),
            };
            if let Err(e) = put_json(
                self.inner.store.as_ref(),
                &format!("{CONTAINERS}{id}"),
                &doc,
                Expect::Any,
            )
            .await
            {
                // Keep what was recorded; the rest is left to the reconcile
                // loop, which adopts it from its ownership labels (and
                // reserves it again then).
                let mut st = self.inner.state.lock().await;
                for d in &docs {
                    st.containers.insert(d.id.clone(), d.clone());
                    st.bump();
                }
                for s in &slots[docs.len()..] {
                    let _ = st
                        .index
                        .remove_container(&s.engine, &footprint(&cfg, &s.name));
                }
                for s in &slots {
                    st.pending.remove(&s.name);
                }
                return Err(e);
            }
            docs.push(doc);
        }
        let mut rendered = Vec::new();
        {
            let mut st = self.inner.state.lock().await;
            for doc in &docs {
                st.containers.insert(doc.id.clone(), doc.clone());
                st.bump();
                rendered.push(st.render(doc));
            }
            for s in &slots {
                st.pending.remove(&s.name);
            }
        }
        for c in &rendered {
            let message = format!("image={} engine={}", c.image.name, c.engine.id);
            self.note_with(EventType::Create, c, message, &["docker"])
                .await;
        }
        Ok((rendered, docs))
    }

    /// Where `count` containers of `cfg` would go now (a dry run): nothing is
    /// reserved or created.
    pub async fn plan_deploy(
        &self,
        cfg: &ImageConfig,
        count: u32,
    ) -> Result<crate::sched::Placement> {
        let mut st = self.inner.state.lock().await;
        let req = Request::from_image_config(cfg, self.inner.opts.strategy, count.max(1))?;
        st.index
            .plan(&req)
            .map_err(|u| Error::Unplaceable(Box::new(u)))
    }

    /// Places `count` containers and reserves their footprints, named.
    async fn reserve(&self, cfg: &ImageConfig, count: u32) -> Result<Vec<Slot>> {
        let mut st = self.inner.state.lock().await;
        st.placements += 1;
        let strategy = match self.inner.opts.strategy {
            Strategy::Random { seed } => Strategy::Random {
                seed: seed ^ st.placements,
            },
            s => s,
        };
        let req = Request::from_image_config(cfg, strategy, count)?;
        let placement = st.index.place(&req).map_err(|u| {
            let failures = &self.inner.placement_failures;
            failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Error::Unplaceable(Box::new(u))
        })?;
        let mut slots = Vec::new();
        for a in placement.assignments {
            let name = container_name(&cfg.name, st.placements, slots.len());
            // The index was given the request's nameless footprint; give it
            // the container's name so name affinities see it.
            st.index.remove_container(&a.engine, &req.footprint)?;
            st.index.add_container(&a.engine, &footprint(cfg, &name))?;
            let backend = st
                .engines
                .get(&a.engine)
                .map(|e| e.backend.clone())
                .ok_or_else(|| Error::missing("engine", &a.engine))?;
            st.pending.insert(name.clone());
            slots.push(Slot {
                engine: a.engine,
                name,
                backend,
            });
        }
        Ok(slots)
    }

    /// The deploy of these slots is over (records written or rolled back).
    async fn settle(&self, slots: &[Slot]) {
        let mut st = self.inner.state.lock().await;
        for s in slots {
            st.pending.remove(&s.name);
        }
    }

    async fn release(&self, cfg: &ImageConfig, slots: &[Slot]) {
        let mut st = self.inner.state.lock().await;
        for s in slots {
            let _ = st
                .index
                .remove_container(&s.engine, &footprint(cfg, &s.name));
        }
    }

    /// Pulls the image if the engine lacks it, creates and starts.
    async fn create_on(&self, slot: &Slot, cfg: &ImageConfig) -> Result<String> {
        let b = &slot.backend;
        match b.inspect_image(&cfg.name).await {
            Ok(_) => {}
            Err(Error::NotFound { .. }) => {
                b.pull_image(&cfg.name, None)
                    .try_for_each(|_| async { Ok(()) })
                    .await?;
            }
            Err(e) => return Err(e),
        }
        let id = b
            .create_container(&spec(&self.inner.opts.name, &slot.name, cfg))
            .await?;
        if let Err(e) = b.start_container(&id).await {
            let _ = b.remove_container(&id, true, true).await;
            return Err(e);
        }
        Ok(id)
    }
}

/// A container name from the image's last path part, unique per placement.
fn container_name(image: &str, placement: u64, n: usize) -> String {
    let base = image.rsplit('/').next().unwrap_or(image);
    let base: String = base
        .split([':', '@'])
        .next()
        .unwrap_or(base)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{base}-{:x}{:04x}-{n}", placement, nanos & 0xffff)
}

/// The engine-level spec of a Shipyard deploy request.
pub(super) fn spec(cluster: &str, name: &str, cfg: &ImageConfig) -> ContainerSpec {
    ContainerSpec {
        name: Some(name.to_string()),
        image: cfg.name.clone(),
        cmd: cfg.args.clone(),
        entrypoint: None,
        env: cfg.environment.clone(),
        hostname: cfg.hostname.clone(),
        domainname: cfg.domain.clone(),
        labels: [
            (LABEL_CLUSTER.to_string(), cluster.to_string()),
            (
                LABEL_CONFIG.to_string(),
                serde_json::to_string(cfg).unwrap_or_default(),
            ),
        ]
        .into(),
        ports: cfg
            .bind_ports
            .iter()
            .map(|b| PortBinding {
                container_port: u16::try_from(b.container_port).unwrap_or(0),
                proto: b.proto,
                host_ip: b.host_ip.clone(),
                host_port: u16::try_from(b.port).unwrap_or(0),
            })
            .collect(),
        cpus: crate::sched::millicpus(cfg.cpus),
        memory: cfg.memory,
        restart_policy: cfg.restart_policy.clone(),
        links: cfg
            .links
            .iter()
            .map(|(name, alias)| format!("{name}:{alias}"))
            .collect(),
        network: None,
        network_aliases: Vec::new(),
        binds: Vec::new(),
    }
}

impl State {
    /// The id of the one container whose id starts with `prefix`.
    fn resolve(&self, prefix: &str) -> Result<String> {
        if prefix.is_empty() {
            return Err(Error::invalid("id", "an id or id prefix is required"));
        }
        if self.containers.contains_key(prefix) {
            return Ok(prefix.to_string());
        }
        let mut matches = self
            .containers
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix));
        match (matches.next(), matches.next()) {
            (Some((id, _)), None) => Ok(id.clone()),
            (None, _) => Err(Error::missing("container", prefix)),
            (Some(_), Some(_)) => Err(Error::Ambiguous {
                kind: "container".into(),
                prefix: prefix.into(),
                count: 2 + matches.count(),
            }),
        }
    }
}

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
            .containers
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::missing("container", &id))?;
        let backend = st.engines.get(&doc.engine).map(|e| e.backend.clone());
        Ok((doc, backend))
    }

    /// As [`Self::find`], for operations that need the engine.
    async fn lookup(&self, id: &str) -> Result<(ContainerDoc, Arc<dyn EngineBackend>)> {
        let (doc, backend) = self.find(id).await?;
        let backend = backend.ok_or_else(|| Error::missing("engine", &doc.engine))?;
        Ok((doc, backend))
    }

    /// One container by id or unique id prefix.
    pub async fn container(&self, id: &str) -> Result<Container> {
        let st = self.inner.state.lock().await;
        let id = st.resolve(id)?;
        let doc = st
            .containers
            .get(&id)
            .ok_or_else(|| Error::missing("container", &id))?;
        Ok(st.render(doc))
    }

    /// Writes a container's record and keeps it in memory.
    pub(super) async fn save(&self, doc: ContainerDoc) -> Result<Container> {
        put_json(
            self.inner.store.as_ref(),
            &format!("{CONTAINERS}{}", doc.id),
            &doc,
            Expect::Any,
        )
        .await?;
        let mut st = self.inner.state.lock().await;
        let c = st.render(&doc);
        st.containers.insert(doc.id.clone(), doc);
        st.bump();
        Ok(c)
    }

    async fn note(&self, kind: EventType, c: &Container) {
        let message = format!("container={} image={}", c.id, c.image.name);
        self.note_with(kind, c, message, &["docker"]).await;
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
        let (engine, container) = (Some(c.engine.clone()), Some(c.clone()));
        if let Err(e) = self
            .inner
            .events
            .record(kind, message, tags, engine, container)
            .await
        {
            tracing::warn!(error = %e, "cannot record an event");
        }
    }

    /// Stops a container; it stays stopped (the reconcile loop leaves it).
    pub async fn stop(&self, id: &str, timeout: Option<Duration>) -> Result<()> {
        let (mut doc, backend) = self.lookup(id).await?;
        backend.stop_container(&doc.id, timeout).await?;
        doc.desired_running = false;
        doc.state.running = false;
        let c = self.save(doc).await?;
        self.note(EventType::Stop, &c).await;
        Ok(())
    }

    pub async fn restart(&self, id: &str, timeout: Option<Duration>) -> Result<()> {
        let (mut doc, backend) = self.lookup(id).await?;
        backend.restart_container(&doc.id, timeout).await?;
        doc.desired_running = true;
        if let Ok(d) = backend.inspect_container(&doc.id).await {
            doc.state = ContainerState {
                started_at: d.state.started_at,
                pid: d.state.pid,
                running: d.state.running,
            };
        }
        let c = self.save(doc).await?;
        self.note(EventType::Restart, &c).await;
        Ok(())
    }

    /// Removes a container from its engine and from the cluster, releasing
    /// its reservation. A container its engine no longer has is forgotten.
    pub async fn destroy(&self, id: &str) -> Result<()> {
        let (doc, backend) = self.find(id).await?;
        let Some(backend) = backend else {
            // Its engine was removed: only the record is left.
            return self.forget(&doc, EventType::Destroy).await;
        };
        match backend.remove_container(&doc.id, true, true).await {
            Ok(()) | Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        self.forget(&doc, EventType::Destroy).await
    }

    /// Drops a container's record and reservation.
    pub(super) async fn forget(&self, doc: &ContainerDoc, kind: EventType) -> Result<()> {
        self.inner
            .store
            .delete(&format!("{CONTAINERS}{}", doc.id), Expect::Any)
            .await?;
        let c = {
            let mut st = self.inner.state.lock().await;
            let _ = st.index.remove_container(&doc.engine, &doc.footprint());
            st.containers.remove(&doc.id);
            st.bump();
            st.render(doc)
        };
        self.note(kind, &c).await;
        Ok(())
    }

    /// The container's output (stdout and stderr).
    pub async fn logs(
        &self,
        id: &str,
        options: &LogOptions,
    ) -> Result<crate::engine::EngineStream<LogChunk>> {
        let (doc, backend) = self.lookup(id).await?;
        Ok(backend.logs(&doc.id, options))
    }

    /// Makes exactly `count` containers of this container's image config
    /// exist: more through the scheduler, fewer by removing the newest.
    pub async fn scale(&self, id: &str, count: u32) -> Result<()> {
        let (doc, _) = self.lookup(id).await?;
        let mut group: Vec<ContainerDoc> = {
            let st = self.inner.state.lock().await;
            st.containers
                .values()
                .filter(|c| c.image == doc.image)
                .cloned()
                .collect()
        };
        let have = group.len();
        let want = count as usize;
        if want > have {
            self.deploy(doc.image.clone(), (want - have) as u32).await?;
        } else if want < have {
            // Newest first: by creation time, then id for a stable order.
            group.sort_by(|a, b| (&b.created, &b.id).cmp(&(&a.created, &a.id)));
            for old in group.into_iter().take(have - want) {
                self.destroy(&old.id).await?;
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

impl Cluster {
    /// Docker Hub's push: pulls the newest `image` on every engine that runs
    /// it, then replaces each of its containers with a new one of the same
    /// config. Returns the new containers.
    pub async fn redeploy_image(&self, image: &str) -> Result<Vec<Container>> {
        let base = |s: &str| {
            s.rsplit_once(':')
                .filter(|(_, t)| !t.contains('/'))
                .map_or(s, |(n, _)| n)
                .to_string()
        };
        let wanted = base(image);
        let (old, backends): (Vec<ContainerDoc>, Vec<Arc<dyn EngineBackend>>) = {
            let st = self.inner.state.lock().await;
            let old: Vec<ContainerDoc> = st
                .containers
                .values()
                .filter(|c| base(&c.image.name) == wanted)
                .cloned()
                .collect();
            let engines: std::collections::BTreeSet<&String> =
                old.iter().map(|c| &c.engine).collect();
            let backends = engines
                .iter()
                .filter_map(|e| st.engines.get(*e))
                .map(|e| e.backend.clone())
                .collect();
            (old, backends)
        };
        let references: std::collections::BTreeSet<String> =
            old.iter().map(|c| c.image.name.clone()).collect();
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
            let holds_ports = c.image.bind_ports.iter().any(|p| p.port != 0);
            if holds_ports {
                self.destroy(&c.id).await?;
            }
            let new = self.deploy(c.image.clone(), 1).await?;
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
