//! The deploy transaction: reserve → pull → create → start → record.
//!
//! A deploy runs as a task of its own. The caller awaits it, and holds a
//! guard whose drop tells the task it was abandoned (an HTTP client that
//! disconnects during a long pull makes hyper drop the handler's future).
//! The task never drops an engine call half-way: a pull is cut short (it
//! leaves nothing to undo), a create or start in flight is let finish, and
//! then everything done so far is undone. Any failure takes the same path.
//! So whatever happens, a deploy ends either recorded in full or with its
//! reservations released, nothing `pending`, and no container it made left
//! on an engine.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::stream::FuturesUnordered;
use futures::{StreamExt, TryStreamExt};
use tokio::sync::watch;

use super::docs::{
    deploy_key, ContainerDoc, DeployDoc, LABEL_CLUSTER, LABEL_CONFIG, LABEL_DEPLOY, LABEL_OWNER,
    LABEL_SEAL,
};
use super::state::Reservation;
use super::Cluster;
use crate::engine::{ContainerDetails, ContainerSpec, EngineBackend, PortBinding};
use crate::error::{Error, Result};
use crate::events::NewEvent;
use crate::model::{Container, ContainerState, EventType, ImageConfig, Owner};
use crate::sched::{Placement, Request, Strategy};
use crate::store::{Expect, Op, MAX_BATCH_OPS};

/// Most containers one deploy (or one scale step) may ask for.
pub const MAX_REPLICAS: u32 = 1000;

/// A deploy request, validated: the one place a deploy's input is checked.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    image: Arc<ImageConfig>,
    count: u32,
    /// Pull the image first even on engines that hold it.
    pull: bool,
    /// Start the containers once made (a Docker API create does not).
    start: bool,
    /// The scheduler's request, labels parsed.
    request: Request,
    /// Whom the containers are admitted for (and recorded under).
    owner: Arc<Owner>,
}

impl DeployRequest {
    /// Checks the image config (fields, image reference, scheduling labels)
    /// and the count (1 to [`MAX_REPLICAS`]); errors name the field.
    pub fn new(cfg: ImageConfig, count: u32) -> Result<Self> {
        Self::shared(Arc::new(cfg), count)
    }

    /// As [`DeployRequest::new`], for a config other containers share.
    pub fn shared(image: Arc<ImageConfig>, count: u32) -> Result<Self> {
        image.validate()?;
        if count == 0 || count > MAX_REPLICAS {
            return Err(Error::invalid(
                "count",
                format!("must be between 1 and {MAX_REPLICAS}, got {count}"),
            ));
        }
        let request = Request::from_image_config(&image, Strategy::Spread, count)?;
        Ok(DeployRequest {
            image,
            count,
            pull: false,
            start: true,
            request,
            owner: Arc::new(Owner::system()),
        })
    }

    /// Admits and records the containers for `owner` (by default the
    /// cluster itself: an embedding program is trusted with everything).
    pub fn owned_by(mut self, owner: Arc<Owner>) -> Self {
        self.owner = owner;
        self
    }

    pub fn image(&self) -> &ImageConfig {
        &self.image
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    /// Pulls the image first on the chosen engines, even where they hold it.
    pub fn pulling(mut self, pull: bool) -> Self {
        self.pull = pull;
        self
    }

    /// Creates the containers without starting them (Docker's `create`):
    /// they are recorded as not meant to run until started.
    pub fn created_only(mut self) -> Self {
        self.start = false;
        self
    }
}

/// A deploy's dry run ([`Cluster::dry_run_as`]).
#[derive(Debug, Clone)]
pub struct DryRun {
    /// Where the containers would go, replica by replica.
    pub placement: Placement,
    /// Every engine that would get none, with the first check it fails.
    pub refused: Vec<crate::sched::Refusal>,
}

/// What a deploy made: its containers as shown.
pub(super) struct Deployed {
    pub containers: Vec<Container>,
}

/// An engine's backend, as handed to a deploy's concurrent steps.
type Backend = Arc<dyn EngineBackend + 'static>;

/// A create-and-start step: the slot, the id made, the error met.
type Started = (usize, Option<String>, Option<Error>);

/// One container of a deploy: where it goes and what it is called.
struct Slot {
    reservation: Reservation,
    backend: Arc<dyn EngineBackend>,
}

impl Slot {
    fn name(&self) -> &str {
        &self.reservation.footprint.name
    }

    fn engine(&self) -> &str {
        &self.reservation.engine
    }
}

impl Cluster {
    /// Deploys `count` containers of `cfg` (1 to [`MAX_REPLICAS`]), placed by
    /// the scheduler. Returns the placed containers, or the scheduler's
    /// per-engine explanation as [`Error::Unplaceable`].
    pub async fn deploy(&self, cfg: ImageConfig, count: u32) -> Result<Vec<Container>> {
        self.deploy_pulling(cfg, count, false).await
    }

    /// As [`Cluster::deploy`]; with `pull`, the image is pulled on the
    /// chosen engines first even where they hold it (a failed pull fails
    /// the deploy).
    pub async fn deploy_pulling(
        &self,
        cfg: ImageConfig,
        count: u32,
        pull: bool,
    ) -> Result<Vec<Container>> {
        self.deploy_as(Arc::new(Owner::system()), cfg, count, pull)
            .await
    }

    /// As [`Cluster::deploy_pulling`], for `owner`: the request is admitted
    /// against the owner's role (host paths, the host's namespaces, ...
    /// need its capabilities) and the deploy records the owner, under whom
    /// what the cluster does later on its own (reschedule, scale,
    /// redeploy) is admitted again.
    pub async fn deploy_as(
        &self,
        owner: Arc<Owner>,
        cfg: ImageConfig,
        count: u32,
        pull: bool,
    ) -> Result<Vec<Container>> {
        let req = DeployRequest::new(cfg, count)?
            .pulling(pull)
            .owned_by(owner);
        Ok(self.deploy_request(req, Join::default()).await?.containers)
    }

    /// Where `count` containers of `cfg` would go now (a dry run): nothing is
    /// reserved or created.
    pub async fn plan_deploy(&self, cfg: &ImageConfig, count: u32) -> Result<Placement> {
        let req = DeployRequest::new(cfg.clone(), count)?;
        let mut request = req.request;
        request.strategy = self.inner.opts.strategy;
        self.inner.state.lock().await.plan(&request)
    }

    /// A dry run of a deploy for `owner`: admitted as the deploy would be,
    /// then where its containers would go now, and why each engine that
    /// gets none would not take one (the scheduler's explanation, engine
    /// by engine). Nothing is reserved or created; a request no engine
    /// takes fails with [`Error::Unplaceable`], as the deploy would.
    pub async fn dry_run_as(&self, owner: &Owner, cfg: &ImageConfig, count: u32) -> Result<DryRun> {
        cfg.admit(owner)?;
        let req = DeployRequest::new(cfg.clone(), count)?;
        let mut request = req.request;
        request.strategy = self.inner.opts.strategy;
        let mut state = self.inner.state.lock().await;
        let placement = state.plan(&request)?;
        let refused = state
            .refusals(&request)
            .into_iter()
            .filter(|r| !placement.assignments.iter().any(|a| a.engine == r.engine))
            .collect();
        Ok(DryRun { placement, refused })
    }

    /// Runs a deploy. The deploy is undone in full if this future is
    /// dropped before it ends.
    pub(super) async fn deploy_request(&self, req: DeployRequest, join: Join) -> Result<Deployed> {
        // The one admission point of every container the cluster makes:
        // API deploys, the Docker endpoint's creates, scale, redeploys and
        // reschedules all come through here.
        req.image.admit(&req.owner)?;
        // Dropping `_abandon` (with this future) tells the task.
        let (_abandon, abandoned) = watch::channel(());
        let txn = Txn {
            cluster: self.clone(),
            req,
            join,
            abandoned,
        };
        tokio::spawn(txn.run()).await.map_err(|e| Error::System {
            reason: format!("a deploy task failed: {e}"),
        })?
    }
}

/// How a deploy's containers join the cluster.
#[derive(Debug, Clone, Default)]
pub(super) struct Join {
    /// The deploy they belong to (one with the same request, when scaling
    /// or rescheduling); a new one when `None`.
    pub deploy: Option<String>,
    /// Ids the new containers replace (rescheduling).
    pub replaces: Vec<String>,
}

/// One deploy in progress.
struct Txn {
    cluster: Cluster,
    req: DeployRequest,
    join: Join,
    /// Its sender is dropped when the caller goes away.
    abandoned: watch::Receiver<()>,
}

fn abandoned_error() -> Error {
    Error::System {
        reason: "the deploy was abandoned by its caller".into(),
    }
}

impl Txn {
    fn is_abandoned(&self) -> bool {
        self.abandoned.has_changed().is_err()
    }

    async fn run(mut self) -> Result<Deployed> {
        let (deploy, slots) = self.reserve().await?;
        let mut created: Vec<Option<String>> = vec![None; slots.len()];
        let outcome = self.make(&deploy, &slots, &mut created).await;
        match outcome {
            Ok(done) => Ok(done),
            Err(e) => {
                // What the engine may still make after it stops answering
                // (a create it took, then went quiet), or keep when the
                // undo cannot reach it, is removed when seen.
                {
                    let mut failed = self
                        .cluster
                        .inner
                        .failed_deploys
                        .lock()
                        .unwrap_or_else(|p| p.into_inner());
                    if failed.len() > 10_000 {
                        failed.clear();
                    }
                    // (The undo below may not reach the engine either.)
                    failed.extend(slots.iter().map(|s| s.name().to_string()));
                }
                self.undo(&slots, &created).await;
                let message = format!("image={} error={e}", self.req.image.name);
                let event = NewEvent::new(EventType::DeployFailed, message, &["docker"]);
                let _ = self.cluster.inner.events.record_all(vec![event]).await;
                Err(e)
            }
        }
    }

    /// Places the containers and reserves their footprints under their
    /// names. Returns the deploy's id and where each container goes.
    async fn reserve(&mut self) -> Result<(String, Vec<Slot>)> {
        let inner = &self.cluster.inner;
        // A chosen name is the container's own on a fresh deploy of one;
        // numbered on a deploy of several; and made unique when a deploy
        // grows (scale, reschedule), as its first names are taken.
        let chosen = &self.req.image.container_name;
        let exact = !chosen.is_empty() && self.join.deploy.is_none();
        let names = if exact {
            chosen.clone()
        } else if !chosen.is_empty() {
            format!("{chosen}-{}", random_hex()?)
        } else {
            format!("{}-{}", self.req.image.image()?.base(), random_hex()?)
        };
        let deploy = match &self.join.deploy {
            Some(d) => d.clone(),
            None if exact => format!("{chosen}-{}", random_hex()?),
            None => names.clone(),
        };
        let mut st = inner.state.lock().await;
        // A chosen name is one container's in the whole cluster: checked
        // under the lock, so two deploys racing for it cannot both get it.
        if exact && (st.is_pending(&names) || st.containers().any(|c| c.name == names)) {
            return Err(Error::Exists {
                kind: "container named".into(),
                id: names,
            });
        }
        st.placements += 1;
        let mut request = self.req.request.clone();
        request.strategy = match inner.opts.strategy {
            Strategy::Random { seed } => Strategy::Random {
                seed: seed ^ st.placements,
            },
            s => s,
        };
        request.names = Some(names);
        request.exact_name = exact;
        let (placement, reserved) = st.reserve(&request).inspect_err(|e| {
            if matches!(e, Error::Unplaceable(_)) {
                inner
                    .placement_failures
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        })?;
        if placement.assignments.iter().any(|a| a.holds_image) {
            let placed: Vec<String> = placement
                .assignments
                .iter()
                .map(ToString::to_string)
                .collect();
            tracing::info!(image = %self.req.image.name, placed = %placed.join(", "), "placed where the image is");
        }
        let mut slots = Vec::with_capacity(reserved.len());
        for r in reserved {
            match st.engines.get(&r.engine).map(|e| e.backend.clone()) {
                Some(backend) => slots.push(Slot {
                    reservation: r,
                    backend,
                }),
                None => {
                    // The index and the engines disagree: give everything back.
                    let engine = r.engine.clone();
                    st.release(&r.footprint.name);
                    for s in &slots {
                        st.release(s.name());
                    }
                    return Err(Error::missing("engine", engine));
                }
            }
        }
        Ok((deploy, slots))
    }

    /// Pulls, creates, starts and records. `created` gets each container's
    /// id as soon as the engine made it, so a failure can remove it.
    async fn make(
        &mut self,
        deploy: &str,
        slots: &[Slot],
        created: &mut [Option<String>],
    ) -> Result<Deployed> {
        self.pull(slots).await?;
        let config_json = serde_json::to_string(&*self.req.image)
            .map_err(|e| Error::invalid("image", format!("cannot be encoded: {e}")))?;
        let owner_json = serde_json::to_string(&*self.req.owner)
            .map_err(|e| Error::invalid("owner", format!("cannot be encoded: {e}")))?;
        let labels = Sealed {
            config: &config_json,
            owner: &owner_json,
            seal: &self.cluster.inner.seal.seal(&[
                &self.cluster.inner.identity,
                deploy,
                &owner_json,
                &config_json,
            ]),
        };
        let specs: Vec<ContainerSpec> = slots
            .iter()
            .map(|s| self.spec(s.name(), deploy, &labels))
            .collect();
        let parallel = self.cluster.inner.opts.deploy_parallelism.max(1);
        let jobs: Vec<(usize, Arc<dyn EngineBackend>, ContainerSpec)> = slots
            .iter()
            .zip(specs)
            .enumerate()
            .map(|(i, (slot, spec))| (i, slot.backend.clone(), spec))
            .collect();
        let mut jobs = jobs.into_iter();
        let mut running = FuturesUnordered::new();
        let mut first_error = None;
        loop {
            // Nothing new is begun once the caller left or a container
            // failed; what is in flight finishes.
            while running.len() < parallel && first_error.is_none() && !self.is_abandoned() {
                let Some((i, b, spec)) = jobs.next() else {
                    break;
                };
                running.push(create_and_start(i, b, spec, self.req.start));
            }
            let Some((i, id, failed)) = running.next().await else {
                break;
            };
            created[i] = id;
            if let Some(e) = failed {
                first_error.get_or_insert(e);
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        if self.is_abandoned() {
            return Err(abandoned_error());
        }
        let docs = self.describe(deploy, slots, created).await?;
        let revision = self.record(deploy, &docs).await?;
        Ok(self.commit(docs, revision).await)
    }

    /// Pulls the image on every engine of the deploy that lacks it, at
    /// once; cut short if the caller leaves (a pull leaves nothing to undo).
    async fn pull(&mut self, slots: &[Slot]) -> Result<()> {
        let mut engines: BTreeMap<&str, &Arc<dyn EngineBackend>> = BTreeMap::new();
        for s in slots {
            engines.entry(s.engine()).or_insert(&s.backend);
        }
        let image = self.req.image.name.clone();
        let limit = self.cluster.inner.opts.pull_timeout;
        let always = self.req.pull;
        let untrusted: std::collections::BTreeSet<String> = {
            let st = self.cluster.inner.state.lock().await;
            engines
                .keys()
                .filter(|e| st.engines.get(**e).is_some_and(|s| s.doc.untrusted))
                .map(|e| e.to_string())
                .collect()
        };
        let all = &self.cluster.inner.opts.registry_credentials;
        let untrusted = &untrusted;
        let pulls = futures::future::try_join_all(engines.into_iter().map(|(engine, b)| {
            let image = image.clone();
            let credentials = (!untrusted.contains(engine)).then_some(all);
            async move {
                if always {
                    return pull_within(credentials, b.as_ref(), engine, &image, limit).await;
                }
                match b.inspect_image(&image).await {
                    Ok(_) => Ok(()),
                    Err(Error::NotFound { .. }) => {
                        pull_within(credentials, b.as_ref(), engine, &image, limit).await
                    }
                    Err(e) => Err(e),
                }
            }
        }));
        tokio::select! {
            done = pulls => done.map(|_| ()),
            _ = self.abandoned.changed() => Err(abandoned_error()),
        }
    }

    /// The records of the created containers, with what their engines
    /// report (state, published ports, hostname).
    async fn describe(
        &self,
        deploy: &str,
        slots: &[Slot],
        created: &[Option<String>],
    ) -> Result<Vec<ContainerDoc>> {
        let parallel = self.cluster.inner.opts.deploy_parallelism.max(1);
        let clock = &self.cluster.inner.opts.clock;
        let now = clock.rfc3339();
        let ids: Vec<(&Slot, String)> = slots
            .iter()
            .zip(created)
            .map(|(s, id)| {
                id.clone()
                    .map(|id| (s, id))
                    .ok_or_else(|| Error::missing("container", s.name()))
            })
            .collect::<Result<_>>()?;
        let jobs: Vec<(Arc<dyn EngineBackend>, String)> = ids
            .iter()
            .map(|(s, id)| (s.backend.clone(), id.clone()))
            .collect();
        let mut details = vec![None; jobs.len()];
        let mut jobs = jobs.into_iter().enumerate();
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < parallel {
                let Some((i, (b, id))) = jobs.next() else {
                    break;
                };
                running.push(inspect(i, b, id));
            }
            let Some((i, d)) = running.next().await else {
                break;
            };
            details[i] = d;
        }
        Ok(ids
            .into_iter()
            .zip(details)
            .map(|((slot, id), d)| ContainerDoc {
                id,
                name: slot.name().to_string(),
                engine: slot.engine().to_string(),
                deploy: deploy.to_string(),
                image: self.req.image.clone(),
                owner: self.req.owner.clone(),
                created: now.clone(),
                desired_running: self.req.start,
                state: d
                    .as_ref()
                    .map(|d| ContainerState {
                        started_at: d.state.started_at.clone(),
                        pid: d.state.pid,
                        running: d.state.running,
                        restart_count: 0,
                    })
                    .unwrap_or_default(),
                hostname: d.as_ref().map(|d| d.hostname.clone()).unwrap_or_default(),
                ports: d.map(|d| d.ports).unwrap_or_default(),
                replaces: self.join.replaces.clone(),
            })
            .collect())
    }

    /// Writes the deploy's request and its containers' records, a store
    /// batch at a time; if a batch fails, the ones written are deleted again.
    /// Returns the revision of the last batch.
    async fn record(&self, deploy: &str, docs: &[ContainerDoc]) -> Result<u64> {
        let store = &self.cluster.inner.store;
        // A deploy that others join is written again (the same request), in
        // case its last container went meanwhile and took the record along.
        let expect = match self.join.deploy {
            Some(_) => Expect::Any,
            None => Expect::Absent,
        };
        let mut ops = vec![Op::put_json(
            deploy_key(deploy),
            &DeployDoc {
                id: deploy.to_string(),
                image: (*self.req.image).clone(),
                created: docs.first().map(|d| d.created.clone()).unwrap_or_default(),
                owner: Some((*self.req.owner).clone()),
            },
            expect,
        )?];
        for d in docs {
            ops.push(Op::put_json(d.key(), &d.stored(), Expect::Absent)?);
        }
        let mut written: Vec<String> = Vec::new();
        let mut revision = 0;
        while !ops.is_empty() {
            let rest = ops.split_off(ops.len().min(MAX_BATCH_OPS));
            let batch = std::mem::replace(&mut ops, rest);
            let keys: Vec<String> = batch.iter().map(|o| o.key().to_string()).collect();
            let result = store.batch(batch).await;
            if let Ok(r) = result {
                revision = r;
            }
            if let Err(e) = result {
                for chunk in written.chunks(MAX_BATCH_OPS) {
                    let deletes = chunk
                        .iter()
                        .map(|k| Op::Delete {
                            key: k.clone(),
                            expect: Expect::Any,
                        })
                        .collect();
                    if let Err(e) = store.batch(deletes).await {
                        tracing::warn!(error = %e, "cannot delete the records of a failed deploy");
                    }
                }
                return Err(e);
            }
            written.extend(keys);
        }
        Ok(revision)
    }

    /// The records are written: the containers join the cluster (taking
    /// over their reservations) and their events are recorded.
    async fn commit(&self, docs: Vec<ContainerDoc>, revision: u64) -> Deployed {
        let inner = &self.cluster.inner;
        let (rendered, events): (Vec<Container>, Vec<NewEvent>) = {
            let mut st = inner.state.lock().await;
            docs.iter()
                .map(|d| {
                    st.put_container_at(d.clone(), revision);
                    let c = st.render(d);
                    let message = format!("image={} engine={}", c.image.name, c.engine.id);
                    let event =
                        NewEvent::new(EventType::Create, message, &["docker"]).container(c.clone());
                    (c, event)
                })
                .unzip()
        };
        if let Err(e) = inner.events.record_all(events).await {
            tracing::warn!(error = %e, "cannot record the events of a deploy");
        }
        Deployed {
            containers: rendered,
        }
    }

    /// Removes what was created and gives back every reservation.
    async fn undo(&self, slots: &[Slot], created: &[Option<String>]) {
        let parallel = self.cluster.inner.opts.deploy_parallelism.max(1);
        let jobs: Vec<(Arc<dyn EngineBackend>, String)> = slots
            .iter()
            .zip(created)
            .filter_map(|(s, id)| id.clone().map(|id| (s.backend.clone(), id)))
            .collect();
        let mut jobs = jobs.into_iter();
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < parallel {
                let Some((b, id)) = jobs.next() else { break };
                running.push(remove(b, id));
            }
            if running.next().await.is_none() {
                break;
            }
        }
        let mut st = self.cluster.inner.state.lock().await;
        for s in slots {
            st.release(s.name());
        }
    }

    /// The engine-level spec of one container of this deploy.
    fn spec(&self, name: &str, deploy: &str, sealed: &Sealed<'_>) -> ContainerSpec {
        let cfg = &*self.req.image;
        let mut spec = self.shipyard_spec(name, deploy, sealed);
        if let Some(d) = cfg.docker.as_deref() {
            for (k, v) in &d.labels {
                spec.labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
            spec.entrypoint = d.entrypoint.clone();
            spec.user = d.user.clone();
            spec.working_dir = d.working_dir.clone();
            spec.network_aliases = d.network_aliases.clone();
            spec.exposed = d.exposed.clone();
            spec.tmpfs = d.tmpfs.clone();
            spec.stop_signal = d.stop_signal.clone();
            spec.stop_timeout = d.stop_timeout;
            spec.init = d.init;
            spec.host = d.host.clone();
            spec.options = d.options.clone();
        }
        spec
    }

    /// The spec of Shipyard's request: every container gets the ownership
    /// labels, the request's resources as limits, its ports, links and
    /// volumes.
    fn shipyard_spec(&self, name: &str, deploy: &str, sealed: &Sealed<'_>) -> ContainerSpec {
        let cfg = &*self.req.image;
        ContainerSpec {
            name: Some(name.to_string()),
            image: cfg.name.clone(),
            cmd: cfg.args.clone(),
            entrypoint: None,
            env: cfg.environment.clone(),
            hostname: cfg.hostname.clone(),
            domainname: cfg.domain.clone(),
            labels: [
                (
                    LABEL_CLUSTER.to_string(),
                    self.cluster.inner.identity.clone(),
                ),
                (LABEL_CONFIG.to_string(), sealed.config.to_string()),
                (LABEL_DEPLOY.to_string(), deploy.to_string()),
                (LABEL_OWNER.to_string(), sealed.owner.to_string()),
                (LABEL_SEAL.to_string(), sealed.seal.to_string()),
            ]
            .into(),
            ports: cfg.bind_ports.iter().map(PortBinding::from).collect(),
            cpus: crate::model::millicpus(cfg.cpus),
            memory: cfg.memory,
            restart_policy: cfg.restart_policy.clone(),
            links: cfg
                .links
                .iter()
                .map(|(name, alias)| format!("{name}:{alias}"))
                .collect(),
            network: (!cfg.network_mode.is_empty()).then(|| cfg.network_mode.clone()),
            network_aliases: Vec::new(),
            binds: cfg.volumes.clone(),
            ..ContainerSpec::default()
        }
    }
}

/// The labels from which a lost store is rebuilt, with the cluster's seal
/// over them (see `seal.rs`).
struct Sealed<'a> {
    config: &'a str,
    owner: &'a str,
    seal: &'a str,
}

/// Pulls `image` on an engine, failing with [`Error::Timeout`] past `limit`.
/// `credentials` are `None` for an engine the registry's secrets do not go
/// to (registered by someone other than an admin).
pub(super) async fn pull_within(
    credentials: Option<&crate::engine::RegistryCredentials>,
    b: &dyn EngineBackend,
    engine: &str,
    image: &str,
    limit: std::time::Duration,
) -> Result<()> {
    let pull = b
        .pull_image(image, credentials.and_then(|c| c.for_image(image)))
        .try_for_each(|_| async { Ok(()) });
    tokio::time::timeout(limit, pull)
        .await
        .map_err(|_| Error::Timeout {
            engine: engine.to_string(),
            seconds: limit.as_secs(),
        })?
}

/// Creates and starts one container: its slot, the id made (even when the
/// start failed, so it can be removed), and the error met.
async fn create_and_start(i: usize, b: Backend, spec: ContainerSpec, start: bool) -> Started {
    let id = match b.create_container(&spec).await {
        Ok(id) => id,
        Err(e) => return (i, None, Some(e)),
    };
    if !start {
        return (i, Some(id), None);
    }
    let failed = b.start_container(&id).await.err();
    (i, Some(id), failed)
}

async fn inspect(i: usize, b: Backend, id: String) -> (usize, Option<ContainerDetails>) {
    (i, b.inspect_container(&id).await.ok())
}

/// Removes a container a failed deploy made.
async fn remove(b: Backend, id: String) {
    match b.remove_container(&id, true, true).await {
        Ok(()) | Err(Error::NotFound { .. }) => {}
        Err(e) => {
            tracing::warn!(error = %e, container = %id, "cannot remove a container of a failed deploy")
        }
    }
}

/// Eight random hex digits: deploy ids, and so container names, differ
/// between deploys of one image.
fn random_hex() -> Result<String> {
    let mut b = [0u8; 4];
    getrandom::getrandom(&mut b).map_err(|e| Error::System {
        reason: format!("no randomness from the system: {e}"),
    })?;
    Ok(format!("{:08x}", u32::from_le_bytes(b)))
}
