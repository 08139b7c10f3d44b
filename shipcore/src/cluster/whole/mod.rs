//! The cluster as one Docker engine, for the cluster endpoint's Docker
//! Engine API (seed 003 §1.4, as classic Swarm offered it).
//!
//! Containers are created through the scheduler (they are the cluster's
//! own, recorded and shown by the cluster API too); every other operation
//! finds its object on whichever engine holds it. The rules, documented
//! for users in the README:
//! - A container is named by id, id prefix, name, or `ENGINE/NAME`; the
//!   cluster's own are looked up in its records, others on every engine
//!   that answers (several matches are ambiguous).
//! - Volumes are made on every engine that answers, so a container finds
//!   its named volume wherever it is placed, and removed from every engine.
//! - A user-defined network lives on one engine (the scheduler's pick);
//!   a container that joins it is placed on that engine, so containers of
//!   one network (a compose project's) reach each other.
//! - Images are listed merged by id and pulled on the engines that lack
//!   them; events of every engine are merged into one stream.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use super::deploy::{DeployRequest, Join};
use super::docs::{ContainerDoc, LABEL_CLUSTER, LABEL_PROJECTS};
use super::Cluster;
use crate::engine::{
    ContainerDetails, ContainerFilter, ContainerSummary, EngineBackend, EngineEvent, EngineInfo,
    EngineStream, ImageDetails, ImageSummary, LogChunk, LogOptions, NetworkInfo, NetworkSpec,
    Progress, RegistryAuth, VolumeInfo, VolumeSpec,
};
use crate::error::{Error, Result};
use crate::model::admission::{admit, check_labels, network_wants, volume_wants};
use crate::model::{Container, ContainerState, EventType, Health, ImageConfig, Owner};
use crate::sched::Request;

mod images;
mod networks;
mod volumes;

/// How long one engine may take to answer a call made of every engine
/// (a list, an info) before it is left out of the answer.
pub const ENGINE_CALL: Duration = Duration::from_secs(10);

/// Where a container is: its engine, its id there, and whether it is the
/// cluster's own (recorded; changes go through the cluster).
#[derive(Clone)]
pub struct Located {
    pub engine: String,
    pub id: String,
    pub owned: bool,
    /// Not this cluster's at all (another cluster's, or made without
    /// shipcore): never changed through the cluster, read only by those
    /// who reach every cluster's objects (admins).
    pub foreign: bool,
    backend: Arc<dyn EngineBackend>,
}

impl std::fmt::Debug for Located {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Located")
            .field("engine", &self.engine)
            .field("id", &self.id)
            .field("owned", &self.owned)
            .field("foreign", &self.foreign)
            .finish_non_exhaustive()
    }
}

impl Located {
    /// Refuses a foreign container to `who`, unless `who` reaches every
    /// cluster's objects (admins): its environment may hold another's
    /// secrets.
    pub fn readable_by(&self, who: &Owner) -> Result<()> {
        if self.foreign && !who.reaches_all("clusters", false) {
            return Err(foreign("container", &self.id));
        }
        Ok(())
    }

    /// Refuses a foreign container to anyone: the cluster changes only
    /// its own.
    fn changeable(&self) -> Result<()> {
        if self.foreign {
            return Err(foreign("container", &self.id));
        }
        Ok(())
    }

    /// The container as its engine inspects it now.
    pub async fn inspect(&self) -> Result<ContainerDetails> {
        self.backend.inspect_container(&self.id).await
    }

    /// The container's output.
    pub fn logs(&self, options: &LogOptions) -> EngineStream<LogChunk> {
        self.backend.logs(&self.id, options)
    }

    /// Waits until it stops (with `next_exit`, until it has been started
    /// and has exited); its exit code.
    pub async fn wait(&self, next_exit: bool) -> Result<i64> {
        self.backend.wait_container(&self.id, next_exit).await
    }
}

/// What a start did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    Now,
    /// It was running already (Docker's 304).
    Already,
}

/// One engine as the cluster endpoint's `info` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineReport {
    pub id: String,
    pub addr: String,
    pub health: Health,
    pub labels: Vec<String>,
    /// What the engine said of itself; `None` when it did not answer.
    pub info: Option<EngineInfo>,
    /// Reserved by the scheduler: millicpus and MiB.
    pub reserved_cpus: u64,
    pub reserved_memory: u64,
}

/// `items` of every engine, with the engine's id; an engine that fails or
/// takes longer than [`ENGINE_CALL`] is left out (and logged).
async fn gather<T, F, Fut>(
    engines: Vec<(String, Arc<dyn EngineBackend>)>,
    call: F,
) -> Vec<(String, T)>
where
    F: Fn(Arc<dyn EngineBackend>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>>>,
{
    let calls = engines.into_iter().map(|(id, b)| {
        let fut = call(b);
        async move {
            match tokio::time::timeout(ENGINE_CALL, fut).await {
                Ok(Ok(items)) => items.into_iter().map(|i| (id.clone(), i)).collect(),
                Ok(Err(e)) => {
                    tracing::warn!(engine = %id, error = %e, "an engine left out of a cluster-wide answer");
                    Vec::new()
                }
                Err(_) => {
                    tracing::warn!(engine = %id, "an engine too slow for a cluster-wide answer");
                    Vec::new()
                }
            }
        }
    });
    futures::future::join_all(calls)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// The container `reference` (an id, prefix or name, as the engine reads
/// it) on each of `engines` that has one, at once; an engine that fails
/// or is slower than [`ENGINE_CALL`] has none.
async fn inspect_on(
    engines: Vec<(String, Arc<dyn EngineBackend>)>,
    reference: &str,
) -> Vec<(String, ContainerDetails, Arc<dyn EngineBackend>)> {
    futures::future::join_all(engines.into_iter().map(|(engine, b)| async move {
        match tokio::time::timeout(ENGINE_CALL, b.inspect_container(reference)).await {
            Ok(Ok(d)) => Some((engine, d, b)),
            _ => None,
        }
    }))
    .await
    .into_iter()
    .flatten()
    .collect()
}

fn no_such_container(reference: &str) -> Error {
    Error::missing("container", reference)
}

/// The refusal of an object that does not carry this cluster's identity.
fn foreign(kind: &str, id: &str) -> Error {
    Error::Forbidden {
        reason: format!(
            "{kind} {id} is not this cluster's (another cluster's, or made without shipcore): the cluster changes only its own"
        ),
    }
}

/// The built-in networks every engine has, which carry no labels.
const BUILT_IN_NETWORKS: [&str; 3] = ["bridge", "host", "none"];

/// An object of one engine as the whole cluster names it: `ENGINE/NAME`.
/// The one place the rule is written; [`split_qualified`] reads it back.
pub fn qualified(engine: &str, name: &str) -> String {
    format!("{engine}/{name}")
}

/// A reference read as `ENGINE/NAME` (the engine named) or a plain name.
pub fn split_qualified(reference: &str) -> (Option<&str>, &str) {
    match reference.split_once('/') {
        Some((engine, name)) => (Some(engine), name),
        None => (None, reference),
    }
}

/// One image as the whole cluster shows it: the engines holding its id,
/// with every tag and digest any of them gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterImage {
    pub image: ImageSummary,
    pub engines: Vec<String>,
}

/// A network of one engine as the whole cluster names it: plainly when its
/// name is on one engine only, else `ENGINE/NAME` (`bridge`, `host` and
/// `none` are on every engine).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterNetwork {
    pub name: String,
    pub engine: String,
    pub info: NetworkInfo,
}

impl Cluster {
    /// The engines that answered their last health check, by id.
    pub async fn live_engines(&self) -> Vec<(String, Arc<dyn EngineBackend>)> {
        let st = self.inner.state.lock().await;
        st.engines
            .iter()
            .filter(|(_, e)| e.doc.health == Health::Healthy)
            .map(|(id, e)| (id.clone(), e.backend.clone()))
            .collect()
    }

    /// Every registered engine with what it says of itself now, for the
    /// endpoint's `info`.
    pub async fn engine_reports(&self) -> Vec<EngineReport> {
        let engines: Vec<(EngineReport, Arc<dyn EngineBackend>)> = {
            let st = self.inner.state.lock().await;
            let mut reserved: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
            for c in st.containers() {
                let fp = c.footprint();
                let r = reserved.entry(c.engine.as_str()).or_default();
                *r = (r.0 + fp.cpus, r.1 + fp.memory);
            }
            st.engines
                .iter()
                .map(|(id, e)| {
                    let (cpus, memory) = reserved.get(id.as_str()).copied().unwrap_or_default();
                    (
                        EngineReport {
                            id: id.clone(),
                            addr: e.doc.record.engine.addr.clone(),
                            health: e.doc.health,
                            labels: e.doc.record.engine.labels.clone(),
                            info: None,
                            reserved_cpus: cpus,
                            reserved_memory: memory,
                        },
                        e.backend.clone(),
                    )
                })
                .collect()
        };
        futures::future::join_all(engines.into_iter().map(|(mut report, b)| async move {
            if report.health == Health::Healthy {
                report.info = tokio::time::timeout(ENGINE_CALL, b.info())
                    .await
                    .ok()
                    .and_then(|r| r.ok());
            }
            report
        }))
        .await
    }

    /// The containers of every engine that answers (not only the
    /// cluster's), with their engine's id.
    pub async fn engine_containers(
        &self,
        filter: &ContainerFilter,
    ) -> Vec<(String, ContainerSummary)> {
        let filter = filter.clone();
        gather(self.live_engines().await, move |b| {
            let filter = filter.clone();
            async move { b.list_containers(&filter).await }
        })
        .await
    }

    /// Finds a container by id, id prefix, name or `ENGINE/NAME`.
    pub async fn locate(&self, reference: &str) -> Result<Located> {
        if reference.is_empty() {
            return Err(Error::invalid(
                "container",
                "a container id or name is required",
            ));
        }
        let own = {
            let st = self.inner.state.lock().await;
            let by_id = st.resolve(reference).ok();
            let doc = match by_id {
                Some(id) => st.container(&id),
                None => {
                    let (engine, name) = split_qualified(reference);
                    let engine = engine.and_then(|e| st.engine_id(e));
                    st.containers()
                        .find(|c| c.name == name && engine.as_ref().is_none_or(|e| *e == c.engine))
                }
            };
            doc.and_then(|d| {
                st.engines.get(&d.engine).map(|e| Located {
                    engine: d.engine.clone(),
                    id: d.id.clone(),
                    owned: true,
                    foreign: false,
                    backend: e.backend.clone(),
                })
            })
        };
        if let Some(own) = own {
            return Ok(own);
        }
        let (engines, name) = match split_qualified(reference) {
            (Some(engine), name) => {
                let b = self
                    .backend(engine)
                    .await
                    .map_err(|_| no_such_container(reference))?;
                let id = self
                    .inner
                    .state
                    .lock()
                    .await
                    .engine_id(engine)
                    .unwrap_or_else(|| engine.to_string());
                (vec![(id, b)], name)
            }
            (None, _) => (self.live_engines().await, reference),
        };
        let found: Vec<Located> = inspect_on(engines, name)
            .await
            .into_iter()
            .map(|(engine, d, backend)| Located {
                engine,
                foreign: !self.carries_identity(&d.labels),
                id: d.id,
                owned: false,
                backend,
            })
            .collect();
        match found.len() {
            0 => Err(no_such_container(reference)),
            1 => Ok(found
                .into_iter()
                .next()
                .ok_or_else(|| no_such_container(reference))?),
            n => Err(Error::Ambiguous {
                kind: "container".into(),
                prefix: reference.into(),
                count: n,
            }),
        }
    }

    /// Creates one container of `cfg` through the scheduler without
    /// starting it (Docker's create). A container that joins a network of
    /// one engine, or another container's network stack, is placed on that
    /// engine. The name, when given, must be free in the whole cluster.
    /// The container is admitted (and recorded) for `owner`.
    pub async fn create_container(
        &self,
        owner: Arc<Owner>,
        mut cfg: ImageConfig,
    ) -> Result<Container> {
        // Refused before anything is looked up; the deploy admits it again.
        cfg.admit(&owner)?;
        if !cfg.container_name.is_empty() {
            if let Some((engine, id)) = self.name_taken(&cfg.container_name).await {
                return Err(Error::State {
                    what: format!("the container name \"/{}\"", cfg.container_name),
                    state: format!("already in use by container {id} on engine {engine}"),
                    reason: "remove (or rename) that container to reuse the name".into(),
                });
            }
        }
        let pinned = match cfg.network_mode.as_str() {
            "" | "default" | "bridge" | "host" | "none" => None,
            m => match m.strip_prefix("container:") {
                Some(other) => {
                    // Another's network stack is not joined.
                    let at = self.locate(other).await?;
                    at.changeable()?;
                    Some(at.engine)
                }
                None => Some(self.locate_network(m).await?.0),
            },
        };
        if let Some(engine) = pinned {
            cfg.labels.push(format!("host:{engine}"));
        }
        if cfg.network_mode == "default" {
            cfg.network_mode.clear();
        }
        let req = DeployRequest::new(cfg, 1)?.created_only().owned_by(owner);
        let mut made = self.deploy_request(req, Join::default()).await?.containers;
        made.pop().ok_or_else(|| Error::System {
            reason: "a create made no container".into(),
        })
    }

    /// The engine and id of a container named `name` (exactly: not an id
    /// prefix), the cluster's own or any engine's.
    async fn name_taken(&self, name: &str) -> Option<(String, String)> {
        let own = {
            let st = self.inner.state.lock().await;
            let found = st
                .containers()
                .find(|c| c.name == name)
                .map(|c| (c.engine.clone(), c.id.clone()));
            found
        };
        if own.is_some() {
            return own;
        }
        inspect_on(self.live_engines().await, name)
            .await
            .into_iter()
            .find(|(_, d, _)| d.name == name)
            .map(|(engine, d, _)| (engine, d.id))
    }

    /// Starts a container; a cluster's own is from then on meant to run.
    pub async fn start_container(&self, reference: &str) -> Result<Started> {
        let at = self.locate(reference).await?;
        at.changeable()?;
        if !at.owned {
            let d = at.inspect().await?;
            if d.state.running {
                return Ok(Started::Already);
            }
            at.backend.start_container(&at.id).await?;
            return Ok(Started::Now);
        }
        let (_held, mut doc, backend) = self.hold_on_engine(&at.id).await?;
        let before = backend.inspect_container(&doc.id).await?;
        let started = if before.state.running {
            Started::Already
        } else {
            backend.start_container(&doc.id).await?;
            Started::Now
        };
        doc.desired_running = true;
        if started == Started::Now {
            // The engine said it started: the record says so at once, and
            // the engine's details (pid, start time, the host ports it
            // chose) follow from an inspect after the answer. An inspect
            // right after a start waits for the exit of a process that
            // ends at once (`true`: ~75 ms on Docker 20.10), which a
            // `docker run -d` on the engine itself does not wait for.
            doc.state.running = true;
            doc.state.pid = 0;
            doc.state.started_at = self.inner.opts.clock.rfc3339();
        } else {
            self.refresh_state(&mut doc, backend.as_ref()).await;
        }
        let c = self.save(doc).await?;
        if started == Started::Now {
            self.note(EventType::Start, &c).await;
            let this = self.clone();
            let id = c.id.clone();
            tokio::spawn(async move { this.refresh_after_start(&id).await });
        }
        Ok(started)
    }

    /// The engine's view of a container just started, into its record
    /// (unless it is gone by then).
    async fn refresh_after_start(&self, id: &str) {
        let Ok((_held, mut doc, backend)) = self.hold_on_engine(id).await else {
            return;
        };
        let before = (doc.state.clone(), doc.ports.clone());
        self.refresh_state(&mut doc, backend.as_ref()).await;
        if (doc.state.clone(), doc.ports.clone()) != before {
            if let Err(e) = self.save(doc).await {
                tracing::warn!(container = id, error = %e, "the state after a start was not recorded");
            }
        }
    }

    /// The container's state as its engine reports it now, into `doc`.
    async fn refresh_state(&self, doc: &mut ContainerDoc, backend: &dyn EngineBackend) {
        if let Ok(d) = backend.inspect_container(&doc.id).await {
            doc.state = ContainerState {
                started_at: d.state.started_at,
                pid: d.state.pid,
                running: d.state.running,
                ..doc.state.clone()
            };
            if !d.ports.is_empty() {
                doc.ports = d.ports;
            }
        }
    }

    /// Sends a signal; a cluster's own container killed is no longer meant
    /// to run (the reconcile loop leaves it, as Docker leaves a killed one).
    pub async fn kill_container(&self, reference: &str, signal: &str) -> Result<()> {
        let at = self.locate(reference).await?;
        at.changeable()?;
        if !at.owned {
            return at.backend.kill_container(&at.id, signal).await;
        }
        let (_held, mut doc, backend) = self.hold_on_engine(&at.id).await?;
        backend.kill_container(&doc.id, signal).await?;
        if matches!(
            signal,
            "KILL" | "SIGKILL" | "9" | "TERM" | "SIGTERM" | "15" | "INT" | "SIGINT" | "2"
        ) {
            doc.desired_running = false;
        }
        self.refresh_state(&mut doc, backend.as_ref()).await;
        let c = self.save(doc).await?;
        let message = format!("container={} image={} signal={signal}", c.id, c.image.name);
        self.note_with(EventType::Die, &c, message, &["docker"])
            .await;
        Ok(())
    }

    /// Stops any container (the cluster's own stays stopped); false when
    /// it was not running (Docker's 304).
    pub async fn stop_any(&self, reference: &str, timeout: Option<Duration>) -> Result<bool> {
        let at = self.locate(reference).await?;
        at.changeable()?;
        let running = at.inspect().await?.state.running;
        if at.owned {
            if running {
                self.stop(&at.id, timeout).await?;
            } else {
                let (_held, mut doc, _) = self.hold(&at.id).await?;
                if doc.desired_running || doc.state.running {
                    doc.desired_running = false;
                    doc.state.running = false;
                    self.save(doc).await?;
                }
            }
        } else if running {
            at.backend.stop_container(&at.id, timeout).await?;
        }
        Ok(running)
    }

    /// Restarts any container.
    pub async fn restart_any(&self, reference: &str, timeout: Option<Duration>) -> Result<()> {
        let at = self.locate(reference).await?;
        at.changeable()?;
        if at.owned {
            self.restart(&at.id, timeout).await
        } else {
            at.backend.restart_container(&at.id, timeout).await
        }
    }

    /// Removes any container; a running one only with `force` (Docker's
    /// rule). The cluster's own is forgotten with its reservation.
    pub async fn remove_any(&self, reference: &str, force: bool, volumes: bool) -> Result<()> {
        let at = self.locate(reference).await?;
        at.changeable()?;
        if !force {
            let d = at.inspect().await?;
            if d.state.running {
                return Err(Error::State {
                    what: format!("container {}", at.id),
                    state: "running".into(),
                    reason: "stop the container before removing it, or remove it with force".into(),
                });
            }
        }
        if at.owned {
            self.destroy(&at.id).await
        } else {
            at.backend.remove_container(&at.id, force, volumes).await
        }
    }

    /// Any container `who` may read as its engine inspects it, with the
    /// engine's id.
    pub async fn inspect_any(
        &self,
        reference: &str,
        who: &Owner,
    ) -> Result<(String, ContainerDetails)> {
        let at = self.locate(reference).await?;
        at.readable_by(who)?;
        Ok((at.engine.clone(), at.inspect().await?))
    }

    /// Any container's output, for `who`.
    pub async fn logs_any(
        &self,
        reference: &str,
        options: &LogOptions,
        who: &Owner,
    ) -> Result<EngineStream<LogChunk>> {
        let at = self.locate(reference).await?;
        at.readable_by(who)?;
        Ok(at.logs(options))
    }

    /// Whether an object's labels carry this cluster's identity (made by
    /// its deploys, its compose projects or its endpoint).
    pub fn carries_identity(&self, labels: &BTreeMap<String, String>) -> bool {
        [LABEL_CLUSTER, LABEL_PROJECTS]
            .iter()
            .any(|k| labels.get(*k) == Some(&self.inner.identity))
    }

    /// The events of every engine that answers, merged, each with its
    /// engine's id; from `since` (unix seconds) when given.
    pub async fn engine_events(&self, since: Option<i64>) -> EngineStream<(String, EngineEvent)> {
        let streams = self.live_engines().await.into_iter().map(|(engine, b)| {
            b.events(since)
                .map(move |e| e.map(|e| (engine.clone(), e)))
                .boxed()
        });
        futures::stream::select_all(streams).boxed()
    }
}
