//! [`Cluster`]: the service's handle, its options, opening it over a store,
//! the background loops, and the reads that serve listings.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::docs::{self, ContainerDoc, DeployDoc, EngineDoc, StoredContainer};
use super::state::{EngineSlot, State};
use crate::clock::{Clock, SystemClock};
use crate::engine::Connector;
use crate::error::Result;
use crate::events::EventLog;
use crate::model::{Container, Health};
use crate::sched::Strategy;
use crate::store::Store;

/// How the cluster behaves.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The cluster's identity: the value of the ownership label on every
    /// container it makes, and the only one it takes for its own. `None`
    /// takes the identity stored at the first start (made then: a UUID; or
    /// `shipcore` for a store an earlier version wrote). Given for a store
    /// that holds another, opening fails; given for an empty store, it
    /// adopts that identity's containers (recovery after a lost store).
    pub identity: Option<String>,
    pub strategy: Strategy,
    /// How often a healthy engine is checked.
    pub health_interval: Duration,
    /// The longest wait between checks of an engine that keeps failing.
    pub max_backoff: Duration,
    /// How often the reconcile loop runs (it also runs after health changes).
    pub reconcile_interval: Duration,
    /// Per-check timeout of a health check.
    pub health_timeout: Duration,
    /// How many containers of one deploy are created and started at once.
    pub deploy_parallelism: usize,
    /// The longest an image pull may take (deploys, redeploys).
    pub pull_timeout: Duration,
    /// Hosts (of `tcp://`, `http://` and `https://` addresses) that callers
    /// who are not `admin` may register engines on. Only `admin` registers
    /// engines elsewhere, and on unix sockets: an engine is a place the
    /// server connects to and others' containers land on.
    pub engine_hosts: Vec<String>,
    /// Events kept; older ones are dropped by the maintenance round.
    pub event_retention: u64,
    /// Store revisions whose changes stay in its change log (for streams
    /// that resume); older ones are compacted by the maintenance round.
    pub change_retention: u64,
    /// How often the maintenance round runs.
    pub maintenance_interval: Duration,
    /// The clock records and schedules are read from.
    pub clock: Arc<dyn Clock>,
    /// The store is shared with other replicas of this cluster (etcd): the
    /// cluster keeps the revision of each record so that it can follow
    /// their writes ([`Cluster::follow`]), and only the replica that leads
    /// runs the background loops ([`Cluster::start`]).
    pub shared: bool,
    /// Credentials for the registries images are pulled from (shipd's own
    /// registry), by host.
    pub registry_credentials: crate::engine::RegistryCredentials,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            identity: None,
            strategy: Strategy::Spread,
            health_interval: Duration::from_secs(2),
            max_backoff: Duration::from_secs(30),
            reconcile_interval: Duration::from_secs(5),
            health_timeout: Duration::from_secs(3),
            deploy_parallelism: 4,
            pull_timeout: Duration::from_secs(10 * 60),
            engine_hosts: Vec::new(),
            event_retention: 100_000,
            change_retention: 10_000,
            maintenance_interval: Duration::from_secs(10 * 60),
            clock: Arc::new(SystemClock::new()),
            shared: false,
            registry_credentials: Default::default(),
        }
    }
}

/// Capacity and counts, as Shipyard's cluster info shows them (the HTTP
/// facade renders the wire shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Millicpus.
    pub cpus: u64,
    /// MiB.
    pub memory: u64,
    pub reserved_cpus: u64,
    pub reserved_memory: u64,
    pub engines: usize,
    pub containers: usize,
    /// Images on healthy engines as of their last health check.
    pub images: usize,
    /// Containers on healthy engines that are not this cluster's (another
    /// cluster's sharing the engine, or made without shipcore).
    pub foreign: usize,
}

pub(super) struct Inner {
    pub opts: ClusterOptions,
    /// The cluster's identity (see [`ClusterOptions::identity`]).
    pub identity: String,
    /// Seals the labels the cluster writes on its containers.
    pub seal: super::seal::SealKey,
    pub store: Arc<dyn Store>,
    pub connector: Arc<dyn Connector>,
    pub events: EventLog,
    pub state: Mutex<State>,
    /// Wakes the reconcile loop early (an engine went down or came up).
    pub nudge: tokio::sync::Notify,
    /// The same counter as the state's generation, read without the lock.
    pub generation: Arc<AtomicU64>,
    /// Requests the scheduler could not place, since start.
    pub placement_failures: AtomicU64,
    /// One operation at a time per container and per config.
    pub locks: super::locks::Locks,
    /// Reconcile rounds the background loop ran, since start.
    pub reconcile_rounds: AtomicU64,
    /// Names of containers whose deploy failed before the engine said
    /// whether it made them (it stopped answering): if one shows up, it
    /// is removed, not adopted; its caller was told the deploy failed.
    pub failed_deploys: std::sync::Mutex<BTreeSet<String>>,
    /// The store's revision before the cluster read its records: following
    /// other replicas' writes starts there.
    pub opened_at: u64,
}

/// Counts for monitoring.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClusterStats {
    pub engines_up: usize,
    pub engines_down: usize,
    pub containers_running: usize,
    pub containers_stopped: usize,
    pub placement_failures: u64,
    /// Containers reserved by deploys still in flight.
    pub containers_pending: usize,
    /// Reconcile rounds the background loop ran since start.
    pub reconcile_rounds: u64,
}

/// The cluster service. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Cluster {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("identity", &self.inner.identity)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Opens the cluster over a store: engines, deploys and containers are
    /// loaded, backends made, reservations rebuilt, and every engine checked
    /// once.
    // Over 80 lines: assembles the cluster's parts in the one order they depend on each other.
    pub async fn open(
        store: Arc<dyn Store>,
        connector: Arc<dyn Connector>,
        opts: ClusterOptions,
    ) -> Result<Self> {
        let identity = identity(store.as_ref(), opts.identity.as_deref()).await?;
        let seal = super::seal::SealKey::open(store.as_ref()).await?;
        let opened_at = store.revision().await?;
        let events = EventLog::open(store.clone(), opts.clock.clone()).await?;
        let now = opts.clock.elapsed();
        let mut engines = BTreeMap::new();
        let mut unusable = Vec::new();
        let mut unreadable = for_each_page(store.clone(), docs::ENGINES, |key, doc: EngineDoc| {
            let backend = match connector.connect(&doc.record) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(%key, error = %e, "a stored engine cannot be reached; skipped");
                    unusable.push(format!("{key}: {e}"));
                    return Ok(());
                }
            };
            let id = doc.id().to_string();
            engines.insert(
                id,
                EngineSlot {
                    doc,
                    backend,
                    failures: 0,
                    images: 0,
                    containers: 0,
                    next_check: now,
                    images_listed: None,
                },
            );
            Ok(())
        })
        .await?;
        let mut deploys = docs::Deploys::new();
        unreadable.extend(
            for_each_page(store.clone(), docs::DEPLOYS, |_, d: DeployDoc| {
                deploys.insert(d.id.clone(), d.group());
                Ok(())
            })
            .await?,
        );
        let generation = Arc::new(AtomicU64::new(0));
        let mut state = State::new(engines, Vec::new(), generation.clone())?;
        let mut earlier = Vec::new();
        let containers_unreadable = for_each_page(store.clone(), docs::CONTAINERS, |key, stored: StoredContainer| {
            if stored.image.is_some() {
                earlier.push((key, stored));
                return Ok(());
            }
            match ContainerDoc::from_stored(stored, &deploys) {
                Some(doc) => state.put_container(doc),
                // Its deploy's record is gone: the reconcile loop finds the
                // container on its engine and adopts it from its labels.
                None => {
                    tracing::warn!(%key, "container record without its deploy; left to reconcile")
                }
            }
            Ok(())
        })
        .await?;
        unreadable.extend(containers_unreadable);
        unreadable.extend(unusable);
        for doc in migrate(store.as_ref(), earlier, &opts.clock.rfc3339()).await? {
            state.put_container(doc);
        }
        if opts.shared {
            state.track_revisions(opened_at);
        }
        let cluster = Cluster {
            inner: Arc::new(Inner {
                opts,
                identity,
                seal,
                store,
                connector,
                events,
                state: Mutex::new(state),
                nudge: tokio::sync::Notify::new(),
                generation,
                placement_failures: AtomicU64::new(0),
                failed_deploys: Default::default(),
                locks: Default::default(),
                reconcile_rounds: AtomicU64::new(0),
                opened_at,
            }),
        };
        if !unreadable.is_empty() {
            let events = unreadable
                .into_iter()
                .map(|why| {
                    crate::events::NewEvent::new(
                        crate::model::EventType::Error,
                        format!("a stored record was skipped: {why}"),
                        &["cluster", "store"],
                    )
                })
                .collect();
            cluster.inner.events.record_all(events).await?;
        }
        cluster.check_health(true).await;
        Ok(cluster)
    }

    /// The cluster's identity: every container it makes carries it, and it
    /// takes no other for its own.
    pub fn identity(&self) -> &str {
        &self.inner.identity
    }

    /// Credentials for the registries images are pulled from; set on the
    /// returned value, they apply to every later pull.
    pub fn registry_credentials(&self) -> &crate::engine::RegistryCredentials {
        &self.inner.opts.registry_credentials
    }

    pub fn options(&self) -> &ClusterOptions {
        &self.inner.opts
    }

    pub fn events(&self) -> &EventLog {
        &self.inner.events
    }

    /// Runs health checks and the reconcile loop until the returned handle
    /// is dropped; see [`Background`].
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
                    c.inner.reconcile_rounds.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        let maintenance = {
            let c = self.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(c.inner.opts.maintenance_interval).await;
                    if let Err(e) = c.maintain().await {
                        tracing::warn!(error = %e, "maintenance failed");
                    }
                }
            })
        };
        Background {
            tasks: vec![health, reconcile, maintenance],
        }
    }

    /// Reserved and total capacity and counts.
    pub async fn info(&self) -> Totals {
        self.totals().await.1
    }

    /// [`Cluster::info`] with the generation it was read at.
    pub async fn totals(&self) -> (u64, Totals) {
        let st = self.inner.state.lock().await;
        let (reserved_cpus, reserved_memory, cpus, memory) = st.totals();
        let totals = Totals {
            cpus,
            memory,
            reserved_cpus,
            reserved_memory,
            engines: st.engines.len(),
            containers: st.container_count(),
            images: st
                .engines
                .values()
                .filter(|e| e.doc.health == Health::Healthy)
                .map(|e| e.images)
                .sum(),
            foreign: st.foreign(),
        };
        (st.generation(), totals)
    }

    /// Engines by health, containers by state, placement failures.
    pub async fn stats(&self) -> ClusterStats {
        let st = self.inner.state.lock().await;
        let up = st
            .engines
            .values()
            .filter(|e| e.doc.health == Health::Healthy)
            .count();
        let running = st.containers().filter(|c| c.state.running).count();
        ClusterStats {
            engines_up: up,
            engines_down: st.engines.len() - up,
            containers_running: running,
            containers_stopped: st.container_count() - running,
            placement_failures: self.inner.placement_failures.load(Ordering::Relaxed),
            containers_pending: st.pending_count(),
            reconcile_rounds: self.inner.reconcile_rounds.load(Ordering::Relaxed),
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
            st.generation(),
            st.containers().map(|d| st.render(d)).collect(),
        )
    }

    /// Drops events beyond [`ClusterOptions::event_retention`] (oldest
    /// first) and compacts the store's change log to the last
    /// [`ClusterOptions::change_retention`] revisions. Returns how many
    /// events were dropped.
    pub async fn maintain(&self) -> Result<u64> {
        let dropped = self
            .inner
            .events
            .trim(self.inner.opts.event_retention)
            .await?;
        let revision = self.inner.store.revision().await?;
        let keep = self.inner.opts.change_retention;
        if revision > keep {
            self.inner.store.compact(revision - keep).await?;
        }
        Ok(dropped)
    }

    /// Runs a reconcile round as soon as the loop started by
    /// [`Cluster::start`] can (a replica that just took the lead).
    pub fn reconcile_soon(&self) {
        self.inner.nudge.notify_one();
    }

    /// Changes whenever an engine, a container or a reservation changes.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }
}

/// The cluster's identity: the stored one, or (at the first start) the
/// given one or a new UUID, stored. A store written before identities keeps
/// the one its containers carry.
async fn identity(store: &dyn Store, given: Option<&str>) -> Result<String> {
    use crate::store::{get_json, put_json, Expect, Page};
    if let Some(g) = given {
        docs::validate_identity(g)?;
    }
    let stored = get_json::<docs::IdentityDoc>(store, docs::IDENTITY).await?;
    let id = match (stored, given) {
        (Some((s, _)), Some(g)) if s.id != g => {
            return Err(crate::Error::invalid(
                "cluster",
                format!("this store belongs to cluster {}, not {g}", s.id),
            ))
        }
        (Some((s, _)), _) => return Ok(s.id),
        (None, Some(g)) => g.to_string(),
        (None, None) => {
            let earlier = !store
                .page(Page::first(docs::CONTAINERS, 1))
                .await?
                .is_empty()
                || !store.page(Page::first(docs::ENGINES, 1)).await?.is_empty();
            if earlier {
                docs::LEGACY_IDENTITY.to_string()
            } else {
                crate::access::new_id()?
            }
        }
    };
    match put_json(
        store,
        docs::IDENTITY,
        &docs::IdentityDoc { id: id.clone() },
        Expect::Absent,
    )
    .await
    {
        Ok(_) => Ok(id),
        // Another replica opening the same store wrote it first: theirs.
        Err(crate::Error::Conflict { .. }) => Box::pin(identity(store, given)).await,
        Err(e) => Err(e),
    }
}

/// Moves records of earlier versions (the request inline, keyed by the
/// container's id) to the current form: each becomes a deploy of its own
/// holding the request, and a record under it.
async fn migrate(
    store: &dyn Store,
    earlier: Vec<(String, StoredContainer)>,
    now: &str,
) -> Result<Vec<ContainerDoc>> {
    use crate::store::{Expect, Op};
    let mut moved = Vec::with_capacity(earlier.len());
    // Three ops per record, within one batch.
    for chunk in earlier.chunks(crate::store::MAX_BATCH_OPS / 3) {
        let mut ops = Vec::with_capacity(chunk.len() * 3);
        let mut docs = Vec::with_capacity(chunk.len());
        for (old_key, stored) in chunk {
            let mut stored = stored.clone();
            let image = stored.image.take().unwrap_or_default();
            stored.deploy = stored.id.clone();
            let deploy = DeployDoc {
                id: stored.deploy.clone(),
                image: image.clone(),
                created: now.to_string(),
                owner: None,
            };
            let deploys = BTreeMap::from([(deploy.id.clone(), deploy.clone().group())]);
            let Some(doc) = ContainerDoc::from_stored(stored, &deploys) else {
                continue;
            };
            ops.push(Op::put_json(
                docs::deploy_key(&deploy.id),
                &deploy,
                Expect::Any,
            )?);
            ops.push(Op::put_json(doc.key(), &doc.stored(), Expect::Any)?);
            ops.push(Op::Delete {
                key: old_key.clone(),
                expect: Expect::Any,
            });
            docs.push(doc);
        }
        store.batch(ops).await?;
        moved.extend(docs);
    }
    if !moved.is_empty() {
        tracing::info!(
            records = moved.len(),
            "container records moved to the current form"
        );
    }
    Ok(moved)
}

/// Reads and decodes every document under `prefix` a page at a time, so
/// opening a large cluster never holds its whole store in memory at once. A
/// task of its own reads and decodes the next pages while `each` takes
/// this one, so a cold start uses both cores. Returns why the records that
/// could not be decoded were skipped.
async fn for_each_page<T: serde::de::DeserializeOwned + Send + 'static>(
    store: Arc<dyn Store>,
    prefix: &str,
    mut each: impl FnMut(String, T) -> Result<()>,
) -> Result<Vec<String>> {
    const PAGE: usize = 4096;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<(String, Result<T>)>>>(2);
    let prefix = prefix.to_string();
    let reader = tokio::spawn(async move {
        let mut after: Option<String> = None;
        loop {
            let page = store
                .page(crate::store::Page {
                    prefix: &prefix,
                    after: after.as_deref(),
                    limit: PAGE,
                    reverse: false,
                })
                .await;
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            let full = page.len() == PAGE;
            after = page.last().map(|v| v.key.clone());
            let decoded = page
                .into_iter()
                .map(|v| {
                    let doc = v.json::<T>();
                    (v.key, doc)
                })
                .collect();
            if tx.send(Ok(decoded)).await.is_err() || !full {
                return;
            }
        }
    });
    let mut unreadable = Vec::new();
    while let Some(page) = rx.recv().await {
        for (key, doc) in page? {
            match doc {
                Ok(doc) => each(key, doc)?,
                // One bad record does not stop the cluster: it is left in
                // the store, named in the log and in an event.
                Err(e) => {
                    tracing::error!(%key, error = %e, "a stored record cannot be read; skipped");
                    unreadable.push(e.to_string());
                }
            }
        }
    }
    let _ = reader.await;
    Ok(unreadable)
}

/// The background tasks of a cluster; aborted when dropped.
#[derive(Debug)]
pub struct Background {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Background {
    pub(super) fn of(tasks: Vec<tokio::task::JoinHandle<()>>) -> Self {
        Background { tasks }
    }

    /// Stops the tasks and waits until they have: after this, none of them
    /// writes anything (a replica that stops leading calls it before it
    /// lets go of its fence).
    pub async fn stop(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
