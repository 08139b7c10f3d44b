//! The cluster service: engines, deploys through the scheduler, container
//! lifecycle, scaling, events and the reconcile loop (Shipyard's core, seed
//! 001). It reaches engines only through [`EngineBackend`] and keeps state
//! only through [`Store`], so it runs the same over real Docker engines, a
//! simulated cluster or mocks.
//!
//! - [`docs`]: what is stored, and the ownership labels on containers.
//! - [`events`]: the event log.
//! - [`plan`]: the pure reconcile planner.
//! - `engines.rs`: registering engines and checking their health.
//! - `deploy.rs`: deploy, scale and the container operations.
//! - `reconcile.rs`: observing engines and executing a plan.

mod clock;
mod deploy;
pub mod docs;
mod engines;
pub mod events;
pub mod plan;
mod reconcile;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::engine::EngineBackend;
use crate::error::Result;
use crate::model::{Container, EngineRecord, Health};
use crate::sched::{ClusterIndex, EngineSnapshot, Snapshot, Strategy};
use crate::store::Store;
pub use clock::{now_rfc3339, rfc3339};
pub use docs::{ContainerDoc, EngineDoc};
pub use events::EventLog;
pub use plan::{Action, Observation};

/// Makes a backend for an engine record. `shipcore-docker` provides the one
/// for Docker engines; tests provide fakes and mocks.
pub trait Connector: Send + Sync {
    fn connect(&self, record: &EngineRecord) -> Result<Arc<dyn EngineBackend>>;
}

/// How the cluster behaves.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The value of the ownership label on every container this cluster makes.
    pub name: String,
    pub strategy: Strategy,
    /// How often a healthy engine is checked.
    pub health_interval: Duration,
    /// The longest wait between checks of an engine that keeps failing.
    pub max_backoff: Duration,
    /// How often the reconcile loop runs (it also runs after health changes).
    pub reconcile_interval: Duration,
    /// Per-check timeout of a health check.
    pub health_timeout: Duration,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            name: "shipcore".into(),
            strategy: Strategy::Spread,
            health_interval: Duration::from_secs(2),
            max_backoff: Duration::from_secs(30),
            reconcile_interval: Duration::from_secs(5),
            health_timeout: Duration::from_secs(3),
        }
    }
}

/// Shipyard's `/api/cluster/info`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClusterInfo {
    pub cpus: f64,
    pub memory: u64,
    pub reserved_cpus: f64,
    pub reserved_memory: u64,
    pub engine_count: usize,
    pub container_count: usize,
    pub image_count: usize,
}

/// One registered engine at run time.
struct EngineSlot {
    doc: EngineDoc,
    backend: Arc<dyn EngineBackend>,
    failures: u32,
    /// Images on the engine at the last health check.
    images: usize,
    /// When the next health check is due.
    next_check: tokio::time::Instant,
}

/// What the service holds in memory, rebuilt from the store on open.
struct State {
    engines: BTreeMap<String, EngineSlot>,
    containers: BTreeMap<String, ContainerDoc>,
    index: ClusterIndex,
    /// Drives the `random` strategy's seed, so placements differ.
    placements: u64,
    /// Bumped by every change to engines or containers (and image counts),
    /// so readers can cache what they render from them. Shared with
    /// [`Inner`], so it is read without the lock.
    generation: Arc<AtomicU64>,
    /// Names of containers being deployed right now: the reconcile loop
    /// must not take them for orphans before their records are written.
    pending: std::collections::BTreeSet<String>,
}

struct Inner {
    opts: ClusterOptions,
    store: Arc<dyn Store>,
    connector: Arc<dyn Connector>,
    events: EventLog,
    state: Mutex<State>,
    /// Wakes the reconcile loop early (an engine went down or came up).
    nudge: tokio::sync::Notify,
    /// The same counter as `State::generation`.
    generation: Arc<AtomicU64>,
    /// Requests the scheduler could not place, since start.
    placement_failures: std::sync::atomic::AtomicU64,
}

/// Counts for monitoring.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClusterStats {
    pub engines_up: usize,
    pub engines_down: usize,
    pub containers_running: usize,
    pub containers_stopped: usize,
    pub placement_failures: u64,
}

/// The cluster service. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("name", &self.inner.opts.name)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Opens the cluster over a store: engines and containers are loaded,
    /// backends made, reservations rebuilt, and every engine checked once.
    pub async fn open(
        store: Arc<dyn Store>,
        connector: Arc<dyn Connector>,
        opts: ClusterOptions,
    ) -> Result<Self> {
        let events = EventLog::open(store.clone()).await?;
        let mut engines = BTreeMap::new();
        for v in store.list(docs::ENGINES).await? {
            let doc: EngineDoc = v.json()?;
            let backend = connector.connect(&doc.record)?;
            let id = doc.record.engine.id.clone();
            engines.insert(
                id,
                EngineSlot {
                    doc,
                    backend,
                    failures: 0,
                    images: 0,
                    next_check: tokio::time::Instant::now(),
                },
            );
        }
        let mut containers = BTreeMap::new();
        for v in store.list(docs::CONTAINERS).await? {
            let doc: ContainerDoc = v.json()?;
            containers.insert(doc.id.clone(), doc);
        }
        let index = build_index(&engines, &containers)?;
        let generation = Arc::new(AtomicU64::new(0));
        let cluster = Cluster {
            inner: Arc::new(Inner {
                opts,
                store,
                connector,
                events,
                state: Mutex::new(State {
                    engines,
                    containers,
                    index,
                    placements: 0,
                    generation: generation.clone(),
                    pending: Default::default(),
                }),
                nudge: tokio::sync::Notify::new(),
                generation,
                placement_failures: Default::default(),
            }),
        };
        cluster.check_health(true).await;
        Ok(cluster)
    }

    pub fn options(&self) -> &ClusterOptions {
        &self.inner.opts
    }

    pub fn events(&self) -> &EventLog {
        &self.inner.events
    }

    /// Runs health checks and the reconcile loop until the returned handle
    /// is aborted (or dropped with `abort`); see [`Background`].
    pub fn start(&self) -> Background {
        let health = {
            let c = self.clone();
            tokio::spawn(async move {
                loop {
                    c.check_health(false).await;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            })
        };
        let reconcile = {
            let c = self.clone();
            tokio::spawn(async move {
                loop {
                    let wait = c.inner.opts.reconcile_interval;
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = c.inner.nudge.notified() => {}
                    }
                    if let Err(e) = c.reconcile().await {
                        tracing::warn!(error = %e, "reconcile failed");
                    }
                }
            })
        };
        Background {
            tasks: vec![health, reconcile],
        }
    }

    /// Reserved and total capacity, counts, and the images of healthy
    /// engines as of their last health check.
    pub async fn info(&self) -> ClusterInfo {
        self.info_at().await.1
    }

    /// [`Cluster::info`] with the generation it was read at.
    pub async fn info_at(&self) -> (u64, ClusterInfo) {
        let st = self.inner.state.lock().await;
        let (rc, rm, c, m) = st.index.totals();
        let info = ClusterInfo {
            cpus: c as f64 / 1000.0,
            memory: m,
            reserved_cpus: rc as f64 / 1000.0,
            reserved_memory: rm,
            engine_count: st.engines.len(),
            container_count: st.containers.len(),
            image_count: st
                .engines
                .values()
                .filter(|e| e.doc.health == Health::Healthy)
                .map(|e| e.images)
                .sum(),
        };
        (st.generation.load(Ordering::Acquire), info)
    }

    /// Engines by health, containers by state, placement failures.
    pub async fn stats(&self) -> ClusterStats {
        let st = self.inner.state.lock().await;
        let up = st
            .engines
            .values()
            .filter(|e| e.doc.health == Health::Healthy)
            .count();
        let running = st.containers.values().filter(|c| c.state.running).count();
        ClusterStats {
            engines_up: up,
            engines_down: st.engines.len() - up,
            containers_running: running,
            containers_stopped: st.containers.len() - running,
            placement_failures: self
                .inner
                .placement_failures
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Every container, as Shipyard lists them.
    pub async fn containers(&self) -> Vec<Container> {
        self.containers_at().await.1
    }

    /// The containers with the generation they were read at.
    pub async fn containers_at(&self) -> (u64, Vec<Container>) {
        let st = self.inner.state.lock().await;
        (
            st.generation.load(Ordering::Acquire),
            st.containers.values().map(|d| st.render(d)).collect(),
        )
    }

    /// Changes whenever an engine or a container changes.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }
}

/// The background tasks of a cluster; aborted when dropped.
#[derive(Debug)]
pub struct Background {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Background {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl State {
    /// Marks a change that renderings cached by generation must see.
    fn bump(&mut self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// A stored container as Shipyard shows it, with its engine.
    fn render(&self, d: &ContainerDoc) -> Container {
        let engine = self
            .engines
            .get(&d.engine)
            .map(|e| {
                let mut eng = e.doc.record.engine.clone();
                eng.health = e.doc.health;
                eng
            })
            .unwrap_or_else(|| crate::model::Engine {
                id: d.engine.clone(),
                ..Default::default()
            });
        Container {
            id: d.id.clone(),
            name: d.name.clone(),
            state: d.state.clone(),
            ports: d.ports.clone(),
            engine,
            image: d.image.clone(),
        }
    }
}

/// The scheduler's index from the stored engines and containers.
fn build_index(
    engines: &BTreeMap<String, EngineSlot>,
    containers: &BTreeMap<String, ContainerDoc>,
) -> Result<ClusterIndex> {
    let mut snapshot = Snapshot::default();
    for (id, slot) in engines {
        let e = &slot.doc.record.engine;
        snapshot.engines.push(EngineSnapshot {
            id: id.clone(),
            labels: e.labels.clone(),
            // Unknown until the first check, so nothing lands on an engine
            // that may be gone.
            health: Health::Unknown,
            cpus: crate::sched::millicpus(e.cpus),
            memory: e.memory,
            containers: containers
                .values()
                .filter(|c| &c.engine == id)
                .map(ContainerDoc::footprint)
                .collect(),
        });
    }
    ClusterIndex::new(&snapshot)
}

#[cfg(test)]
mod tests;
