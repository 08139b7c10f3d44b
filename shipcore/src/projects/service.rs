//! [`Projects`]: the compose projects of a cluster — create, list, the
//! lifecycle (start, stop, kill, redeploy, delete), updates (rolling and
//! blue-green, resumed or rolled back after a restart), services (start,
//! stop, kill, scale) and the reconcile round (projects on a lost engine
//! moved, containers no project owns removed).
//!
//! One operation at a time per project: each takes the project's lock,
//! asks the lifecycle whether it may begin ([`Lifecycle::admit`], a 409 that
//! says why when not), stores the lifecycle, acts, and stores the outcome.
//! Operations run in tasks of their own, so a caller that goes away does not
//! cut one short.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::docs::*;
use super::run::{Mode, Remove, Site};
use crate::cluster::Cluster;
use crate::compose::ComposeFile;
use crate::error::{Error, Result};
use crate::model::{validate_name, EventType, HostPort, Owner, ProjectState};
use crate::sched::Request;
use crate::store::{get_json, put_json, Expect, Store};
use crate::update::{Lifecycle, Method, Op, Outcome, Phase, Resume};

/// How the project service behaves.
#[derive(Debug, Clone)]
pub struct ProjectsOptions {
    /// How long a service may take to be ready for its dependents, and a
    /// new version to be running and healthy.
    pub health_deadline: Duration,
    /// How often readiness is looked at.
    pub poll: Duration,
    /// How often the reconcile round runs.
    pub reconcile_interval: Duration,
    /// Containers of a project created, started or removed at once (10:
    /// Docker 20.10 on 2 cores goes no faster with more in flight; see
    /// `benches/compose_up.rs`).
    pub parallelism: usize,
}

impl Default for ProjectsOptions {
    fn default() -> Self {
        ProjectsOptions {
            health_deadline: Duration::from_secs(60),
            poll: Duration::from_millis(250),
            reconcile_interval: Duration::from_secs(5),
            parallelism: 10,
        }
    }
}

/// `POST /projects/`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub template: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
}

/// `POST /projects/{name}/update`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectUpdate {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub template: Option<String>,
    pub version: String,
    #[serde(default)]
    pub environment: Option<BTreeMap<String, String>>,
    /// `rolling` (the default) or `blue-green`.
    #[serde(default)]
    pub update_method: Option<String>,
    #[serde(default)]
    pub latest_image: bool,
}

/// The compose projects of a cluster.
#[derive(Clone)]
pub struct Projects {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for Projects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projects").finish_non_exhaustive()
    }
}

pub(super) struct Inner {
    pub store: Arc<dyn Store>,
    pub cluster: Cluster,
    pub opts: ProjectsOptions,
    locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Projects {
    /// Opens the project service over the cluster's store: holds the
    /// reservations of stored projects again and finishes what a restart cut
    /// short (an update resumed or rolled back, a start or stop completed).
    pub async fn open(
        store: Arc<dyn Store>,
        cluster: Cluster,
        opts: ProjectsOptions,
    ) -> Result<Self> {
        let this = Projects {
            inner: Arc::new(Inner {
                store,
                cluster,
                opts,
                locks: std::sync::Mutex::new(HashMap::new()),
            }),
        };
        for doc in this.docs().await? {
            this.rehold(&doc).await;
            let resume = doc.lifecycle.resume();
            if resume != Resume::Nothing || doc.lifecycle.desired == ProjectState::Deleted {
                let this2 = this.clone();
                tokio::spawn(async move {
                    if let Err(e) = this2.resume(&doc.name, resume).await {
                        tracing::warn!(project = %doc.name, error = %e, "resuming after restart failed");
                    }
                });
            }
        }
        Ok(this)
    }

    pub(super) fn opts(&self) -> &ProjectsOptions {
        &self.inner.opts
    }

    pub(super) fn cluster(&self) -> &Cluster {
        &self.inner.cluster
    }

    pub(super) async fn lock(&self, name: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let m = {
            let mut locks = self.inner.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry(name.to_string()).or_default().clone()
        };
        m.lock_owned().await
    }

    pub(super) async fn docs(&self) -> Result<Vec<ProjectDoc>> {
        self.inner
            .store
            .list(PROJECTS)
            .await?
            .iter()
            .map(|v| v.json())
            .collect()
    }

    /// Admits a compose file for `owner`: the capabilities it asks for,
    /// no reserved label, and external volumes that are this cluster's and
    /// the owner's (an admin may name any).
    async fn admit(&self, file: &ComposeFile, owner: &Owner) -> Result<()> {
        file.admit(owner)?;
        if owner.reaches_all("volumes", true) {
            return Ok(());
        }
        for (key, def) in file.volumes.iter().filter(|(_, d)| d.external) {
            let name = if def.name.is_empty() { key } else { &def.name };
            let ours = get_json::<VolumeDoc>(&*self.inner.store, &volume_key(name))
                .await?
                .is_some_and(|(v, _)| owner.may("volumes", &v.created_by, true));
            if !ours {
                return Err(Error::Forbidden {
                    reason: format!(
                        "volumes.{key}: external volume {name:?} is not one of yours on this cluster (make it with POST /volumes/create)"
                    ),
                });
            }
        }
        Ok(())
    }

    /// The project if `who` may see it (or, with `write`, change it); to
    /// anyone else it does not exist.
    pub async fn reach(&self, name: &str, who: &Owner, write: bool) -> Result<ProjectDoc> {
        let doc = self.load(name).await?;
        if doc.reachable_by(who, write) {
            Ok(doc)
        } else {
            Err(Error::missing("project", name))
        }
    }

    /// As [`Projects::reach`], for a service id (`{project}_{service}`).
    pub async fn reach_service(&self, id: &str, who: &Owner, write: bool) -> Result<()> {
        let (project, _) = split_service_id(id)?;
        match self.reach(&project, who, write).await {
            Ok(_) => Ok(()),
            Err(Error::Missing { .. }) => Err(Error::missing("service", id)),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn load(&self, name: &str) -> Result<ProjectDoc> {
        match self.inner.store.get(&project_key(name)).await? {
            Some(v) => v.json(),
            None => Err(Error::missing("project", name)),
        }
    }

    /// The project's stored lifecycle (what was asked, where it stands,
    /// the update under way), read from the store alone: a cheap check of
    /// whether a start or an update has finished, without asking the engine
    /// (which [`Projects::get`] does).
    pub async fn lifecycle(&self, name: &str) -> Result<crate::update::Lifecycle> {
        Ok(self.load(name).await?.lifecycle)
    }

    async fn save(&self, doc: &mut ProjectDoc) -> Result<()> {
        doc.updated = self.now();
        put_json(
            &*self.inner.store,
            &project_key(&doc.name),
            doc,
            Expect::Any,
        )
        .await?;
        Ok(())
    }

    fn now(&self) -> String {
        self.inner.cluster.options().clock.rfc3339()
    }

    async fn event(&self, kind: EventType, message: String) {
        let recorded = self
            .inner
            .cluster
            .events()
            .record(kind, message, &["projects"], None, None)
            .await;
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "a project event was not recorded");
        }
    }

    /// Creates a project and starts it in the background; the answer comes
    /// once it is stored (its state then shows the start).
    /// The project is `by`'s: its file is admitted for `by` (host paths,
    /// volume and network drivers need the role's capabilities; the
    /// cluster's labels are refused), and only `by` and those who reach
    /// every project see and change it.
    pub async fn create(&self, req: NewProject, by: &Owner) -> Result<ProjectDoc> {
        validate_name("name", &req.name)?;
        let version = req
            .version
            .clone()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "1.0".into());
        if version.len() > 64 {
            return Err(Error::invalid("version", "must be at most 64 characters"));
        }
        if req.description.len() > 4096 {
            return Err(Error::invalid(
                "description",
                "must be at most 4096 characters",
            ));
        }
        let current = Definition {
            template: req.template,
            version,
            environment: req.environment,
        };
        let file = current.parse()?;
        self.admit(&file, by).await?;
        let now = self.now();
        let doc = ProjectDoc {
            name: req.name.clone(),
            description: req.description,
            current,
            lifecycle: Lifecycle {
                desired: ProjectState::Running,
                current: ProjectState::Starting,
                rollout: None,
            },
            created: now.clone(),
            updated: now,
            created_by: by.name.clone(),
            admitted_for: Some(by.clone()),
            ..ProjectDoc::default()
        };
        match put_json(
            &*self.inner.store,
            &project_key(&doc.name),
            &doc,
            Expect::Absent,
        )
        .await
        {
            Ok(_) => {}
            Err(Error::Conflict { .. }) => {
                return Err(Error::Exists {
                    kind: "project".into(),
                    id: doc.name,
                })
            }
            Err(e) => return Err(e),
        }
        self.event(
            EventType::Create,
            format!("project={} by={}", doc.name, by.name),
        )
        .await;
        let this = self.clone();
        let name = doc.name.clone();
        tokio::spawn(async move {
            if let Err(e) = this.resume(&name, Resume::Converge).await {
                tracing::warn!(project = %name, error = %e, "first start failed");
            }
        });
        Ok(doc)
    }

    /// Runs `op` on a project in a task of its own and waits for it.
    async fn detached<F, T>(&self, work: F) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        tokio::spawn(work).await.map_err(|e| Error::System {
            reason: format!("project operation failed: {e}"),
        })?
    }

    pub async fn start(&self, name: &str) -> Result<()> {
        let (this, name) = (self.clone(), name.to_string());
        self.detached(async move { this.lifecycle_op(&name, Op::Start).await })
            .await
    }

    pub async fn redeploy(&self, name: &str) -> Result<()> {
        let (this, name) = (self.clone(), name.to_string());
        self.detached(async move { this.lifecycle_op(&name, Op::Redeploy).await })
            .await
    }

    /// Stops the project's containers, killing those still running after
    /// `timeout`.
    pub async fn stop(&self, name: &str, timeout: Duration) -> Result<()> {
        let (this, name) = (self.clone(), name.to_string());
        self.detached(async move { this.halt(&name, Op::Stop, timeout, "").await })
            .await
    }

    /// Sends `signal` to the project's containers.
    pub async fn kill(&self, name: &str, signal: &str) -> Result<()> {
        check_signal(signal)?;
        let (this, name, signal) = (self.clone(), name.to_string(), signal.to_string());
        self.detached(async move { this.halt(&name, Op::Kill, Duration::ZERO, &signal).await })
            .await
    }

    async fn lifecycle_op(&self, name: &str, op: Op) -> Result<()> {
        let _g = self.lock(name).await;
        let mut doc = self.load(name).await?;
        doc.lifecycle = doc.lifecycle.admit(&op)?;
        if op == Op::Start {
            doc.stopped.clear();
        }
        self.save(&mut doc).await?;
        let mode = Mode {
            overlap: false,
            pull: op == Op::Redeploy,
        };
        if op == Op::Redeploy {
            if let Ok(site) = self.site(&doc).await {
                site.remove(Remove::All).await?;
            }
        }
        self.converge_up(&mut doc, mode).await
    }

    /// Brings the current version up and records the outcome.
    async fn converge_up(&self, doc: &mut ProjectDoc, mode: Mode) -> Result<()> {
        let result = self.bring_up(doc, mode).await;
        doc.lifecycle = doc.lifecycle.on(match &result {
            Ok(()) => Outcome::Running,
            Err(e) => Outcome::StartFailed(e.to_string()),
        });
        self.save(doc).await?;
        let what = if mode.pull {
            EventType::Redeploy
        } else {
            EventType::Start
        };
        match &result {
            Ok(()) => self.event(what, format!("project={}", doc.name)).await,
            Err(e) => {
                self.event(
                    EventType::DeployFailed,
                    format!("project={}: {e}", doc.name),
                )
                .await
            }
        }
        result
    }

    async fn bring_up(&self, doc: &mut ProjectDoc, mode: Mode) -> Result<()> {
        let file = doc.current.parse()?;
        let site = self.place(doc, &file).await?;
        let services = doc.running_services(&file);
        let replicas = replicas_of(doc, &file);
        site.up(&file, &doc.current.version, &replicas, &services, mode)
            .await
    }

    async fn halt(&self, name: &str, op: Op, timeout: Duration, signal: &str) -> Result<()> {
        let _g = self.lock(name).await;
        let mut doc = self.load(name).await?;
        doc.lifecycle = doc.lifecycle.admit(&op)?;
        self.save(&mut doc).await?;
        let result = self.halt_now(&doc, timeout, signal).await;
        if result.is_ok() {
            doc.lifecycle = doc.lifecycle.on(Outcome::Stopped);
            self.save(&mut doc).await?;
            self.event(EventType::Stop, format!("project={name}")).await;
        }
        result
    }

    async fn halt_now(&self, doc: &ProjectDoc, timeout: Duration, signal: &str) -> Result<()> {
        if doc.engine.is_empty() {
            return Ok(());
        }
        let site = self.site(doc).await?;
        let file = doc.current.parse()?;
        if signal.is_empty() {
            site.stop(&file, None, timeout).await
        } else {
            site.kill(None, signal).await
        }
    }

    /// Deletes a project: its containers, networks, and with `volumes` its
    /// volumes; `force` even while it runs.
    pub async fn delete(&self, name: &str, force: bool, volumes: bool) -> Result<()> {
        let (this, name) = (self.clone(), name.to_string());
        self.detached(async move {
            let _g = this.lock(&name).await;
            let mut doc = this.load(&name).await?;
            doc.lifecycle = doc.lifecycle.admit(&Op::Delete { force })?;
            this.save(&mut doc).await?;
            this.finish_delete(&doc, volumes).await
        })
        .await
    }

    async fn finish_delete(&self, doc: &ProjectDoc, volumes: bool) -> Result<()> {
        if !doc.engine.is_empty() {
            if let Ok(site) = self.site(doc).await {
                site.remove(Remove::All).await?;
                let file = doc.current.parse().ok();
                site.remove_rest(file.as_ref(), volumes).await?;
            }
        }
        for next in [false, true] {
            self.inner
                .cluster
                .release_reservation(&hold_name(&doc.name, next))
                .await;
        }
        self.inner
            .store
            .delete(&project_key(&doc.name), Expect::Any)
            .await?;
        self.event(
            EventType::Destroy,
            format!("project={} volumes={volumes}", doc.name),
        )
        .await;
        Ok(())
    }

    /// Takes a new version: for a running project, an update (rolling by
    /// default, blue-green on request) that runs in the background; for a
    /// stopped one, the definition it starts with next.
    /// The new definition is admitted for `by`, and recorded as admitted
    /// for it.
    pub async fn update(&self, name: &str, req: ProjectUpdate, by: &Owner) -> Result<()> {
        let _g = self.lock(name).await;
        let mut doc = self.load(name).await?;
        let method = match req.update_method.as_deref().unwrap_or("rolling") {
            "rolling" | "" => Method::Rolling,
            "blue-green" | "blue_green" | "bluegreen" => Method::BlueGreen,
            other => {
                return Err(Error::invalid(
                    "update_method",
                    format!("must be rolling or blue-green, got {other:?}"),
                ))
            }
        };
        if req.version.trim().is_empty() || req.version.len() > 64 {
            return Err(Error::invalid("version", "must be 1 to 64 characters"));
        }
        let next = Definition {
            template: req.template.unwrap_or_else(|| doc.current.template.clone()),
            version: req.version.clone(),
            environment: req
                .environment
                .unwrap_or_else(|| doc.current.environment.clone()),
        };
        let file = next.parse()?;
        self.admit(&file, by).await?;
        let lifecycle = doc.lifecycle.admit(&Op::Update {
            method,
            version: next.version.clone(),
            current: doc.current.version.clone(),
        })?;
        if let Some(d) = req.description {
            doc.description = d;
        }
        doc.admitted_for = Some(by.clone());
        let from = doc.current.version.clone();
        if lifecycle.rollout.is_none() {
            doc.current = next;
            doc.scale.clear();
            doc.lifecycle = lifecycle;
            self.save(&mut doc).await?;
            self.event(
                EventType::Update,
                format!("project={name} from={from} to={}", doc.current.version),
            )
            .await;
            return Ok(());
        }
        doc.lifecycle = lifecycle;
        doc.next = Some(next);
        self.save(&mut doc).await?;
        self.event(
            EventType::Update,
            format!(
                "project={name} from={from} to={} method={method:?}",
                req.version
            ),
        )
        .await;
        let this = self.clone();
        let name = name.to_string();
        let pull = req.latest_image;
        tokio::spawn(async move {
            if let Err(e) = this.roll(&name, pull).await {
                tracing::warn!(project = %name, error = %e, "update failed");
            }
        });
        Ok(())
    }

    /// Drives an update from `Starting` or `Verifying` to its next stop:
    /// `Ready` or `Failed` (blue-green), or through confirm or rollback
    /// (rolling).
    async fn roll(&self, name: &str, pull: bool) -> Result<()> {
        let _g = self.lock(name).await;
        let mut doc = self.load(name).await?;
        let (Some(r), Some(next)) = (doc.lifecycle.rollout.clone(), doc.next.clone()) else {
            return Ok(());
        };
        let file = next.parse()?;
        let services: BTreeSet<String> = file.services.keys().cloned().collect();
        if r.phase == Phase::Starting {
            let started = self.start_next(&doc, &file, &next, &services, pull).await;
            doc.lifecycle = doc.lifecycle.on(match started {
                Ok(()) => Outcome::NewStarted,
                Err(e) => Outcome::NewFailed(e.to_string()),
            });
            self.save(&mut doc).await?;
        }
        if doc
            .lifecycle
            .rollout
            .as_ref()
            .is_some_and(|r| r.phase == Phase::Verifying)
        {
            let site = self.site(&doc).await?;
            let verified = site.verify(&file, &next.version, &services).await;
            doc.lifecycle = doc.lifecycle.on(match verified {
                Ok(()) => Outcome::NewHealthy,
                Err(e) => Outcome::NewFailed(e.to_string()),
            });
            self.save(&mut doc).await?;
        }
        self.settle(&mut doc).await
    }

    async fn start_next(
        &self,
        doc: &ProjectDoc,
        file: &ComposeFile,
        next: &Definition,
        services: &BTreeSet<String>,
        pull: bool,
    ) -> Result<()> {
        self.hold_on_engine(doc, file, true).await?;
        let site = self.site(doc).await?;
        let replicas: BTreeMap<String, u32> = file
            .services
            .iter()
            .map(|(k, s)| (k.clone(), s.replicas))
            .collect();
        site.up(
            file,
            &next.version,
            &replicas,
            services,
            Mode {
                overlap: true,
                pull,
            },
        )
        .await
    }

    /// Finishes a confirm or a rollback the lifecycle is in, if any.
    async fn settle(&self, doc: &mut ProjectDoc) -> Result<()> {
        let phase = doc.lifecycle.rollout.as_ref().map(|r| r.phase.clone());
        match phase {
            Some(Phase::Confirming) => self.finish_confirm(doc).await,
            Some(Phase::RollingBack) => self.finish_rollback(doc).await,
            Some(Phase::Failed(why)) => {
                self.event(
                    EventType::DeployFailed,
                    format!("project={}: update failed: {why}", doc.name),
                )
                .await;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    async fn finish_confirm(&self, doc: &mut ProjectDoc) -> Result<()> {
        let (Some(next), Some(r)) = (doc.next.clone(), doc.lifecycle.rollout.clone()) else {
            return Ok(());
        };
        let site = self.site(doc).await?;
        site.remove(Remove::AllBut(&next.version)).await?;
        let file = next.parse()?;
        doc.current = next;
        doc.next = None;
        doc.scale.clear();
        self.inner
            .cluster
            .release_reservation(&hold_name(&doc.name, true))
            .await;
        if self.hold_on_engine(doc, &file, false).await.is_err() {
            // The engine's room changed meanwhile: keep what was there.
            self.rehold(doc).await;
        }
        // The new version takes over the fixed host ports.
        let services = doc.running_services(&file);
        site.up(
            &file,
            &doc.current.version,
            &replicas_of(doc, &file),
            &services,
            Mode::default(),
        )
        .await?;
        doc.lifecycle = doc.lifecycle.on(Outcome::Confirmed);
        self.save(doc).await?;
        self.event(
            EventType::Update,
            format!(
                "project={} confirmed version {} (was {})",
                doc.name, r.to, r.from
            ),
        )
        .await;
        Ok(())
    }

    async fn finish_rollback(&self, doc: &mut ProjectDoc) -> Result<()> {
        let Some(r) = doc.lifecycle.rollout.clone() else {
            return Ok(());
        };
        let site = self.site(doc).await?;
        site.remove(Remove::Only(&r.to)).await?;
        self.inner
            .cluster
            .release_reservation(&hold_name(&doc.name, true))
            .await;
        doc.next = None;
        doc.lifecycle = doc.lifecycle.on(Outcome::RolledBack);
        self.save(doc).await?;
        self.event(
            EventType::Update,
            format!(
                "project={} rolled back to version {} (from {})",
                doc.name, r.from, r.to
            ),
        )
        .await;
        Ok(())
    }

    /// `confirm-update`: the new version stays, the old one goes.
    pub async fn confirm(&self, name: &str, force: bool) -> Result<()> {
        self.decide(name, Op::Confirm { force }).await
    }

    /// `rollback-update`: the old version stays, the new one goes.
    pub async fn rollback(&self, name: &str, force: bool) -> Result<()> {
        self.decide(name, Op::Rollback { force }).await
    }

    async fn decide(&self, name: &str, op: Op) -> Result<()> {
        let _g = self.lock(name).await;
        let mut doc = self.load(name).await?;
        doc.lifecycle = doc.lifecycle.admit(&op)?;
        self.save(&mut doc).await?;
        drop(_g);
        let this = self.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            let _g = this.lock(&name).await;
            let result = match this.load(&name).await {
                Ok(mut doc) => this.settle(&mut doc).await,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                tracing::warn!(project = %name, error = %e, "finishing the update failed");
            }
        });
        Ok(())
    }

    /// Finishes what a restart (or a create) left to do.
    async fn resume(&self, name: &str, what: Resume) -> Result<()> {
        if what == Resume::Verify {
            return self.roll(name, false).await;
        }
        let _g = self.lock(name).await;
        let mut doc = self.load(name).await?;
        if doc.lifecycle.desired == ProjectState::Deleted {
            return self.finish_delete(&doc, false).await;
        }
        match what {
            Resume::RollBack => {
                if let Some(r) = doc.lifecycle.rollout.as_mut() {
                    r.phase = Phase::RollingBack;
                }
                self.save(&mut doc).await?;
                self.finish_rollback(&mut doc).await
            }
            Resume::Confirm => self.finish_confirm(&mut doc).await,
            Resume::Converge if doc.lifecycle.desired == ProjectState::Running => {
                self.converge_up(&mut doc, Mode::default()).await
            }
            Resume::Converge => {
                self.halt_now(&doc, Duration::from_secs(10), "").await?;
                doc.lifecycle = doc.lifecycle.on(Outcome::Stopped);
                self.save(&mut doc).await
            }
            _ => Ok(()),
        }
    }

    /// The scheduler's request for a project's total: its reservation, its
    /// fixed host ports (not for a version that starts beside another), and
    /// the labels of its top-level `x-shipcore-labels`.
    pub(super) fn request(
        &self,
        doc: &ProjectDoc,
        file: &ComposeFile,
        next: bool,
    ) -> Result<Request> {
        let (mut cpus, mut memory) = (0, 0);
        let mut ports = Vec::new();
        for (name, s) in &file.services {
            let n = if next {
                s.replicas
            } else {
                doc.replicas(name, file)
            };
            let r = s.reservation();
            cpus += r.millicpus * u64::from(n);
            memory += r.memory_mib * u64::from(n);
            if !next && n > 0 {
                for p in s.ports.iter().filter_map(|p| p.published.map(|pp| (p, pp))) {
                    ports.push(HostPort::new(&p.0.host_ip, p.0.protocol, p.1));
                }
            }
        }
        let mut req = Request::new(format!("compose:{}", doc.name), cpus, memory);
        req.footprint.name = hold_name(&doc.name, next);
        req.footprint.ports = ports;
        req.strategy = self.inner.cluster.options().strategy;
        if let Some(labels) = file.extensions.get("x-shipcore-labels") {
            let labels = labels.as_array().ok_or_else(|| {
                Error::invalid(
                    "template",
                    "x-shipcore-labels must be a list of scheduler labels",
                )
            })?;
            for l in labels {
                req.add_label(l.as_str().unwrap_or_default())?;
            }
        }
        Ok(req)
    }

    /// Holds the reservation of the project's current (or next) version on
    /// the engine it runs on, moving the hold of that name.
    async fn hold_on_engine(&self, doc: &ProjectDoc, file: &ComposeFile, next: bool) -> Result<()> {
        let mut req = self.request(doc, file, next)?;
        req.host = Some(doc.engine.clone());
        self.inner.cluster.hold_reservation(&req).await.map(|_| ())
    }

    /// Where the project runs: the engine it holds its reservation on, or one
    /// the scheduler picks now (kept in the document).
    pub(super) async fn place(&self, doc: &mut ProjectDoc, file: &ComposeFile) -> Result<Site> {
        let held = self
            .inner
            .cluster
            .held_on(&hold_name(&doc.name, false))
            .await;
        if doc.engine.is_empty() || held.as_deref() != Some(doc.engine.as_str()) {
            let mut req = self.request(doc, file, false)?;
            // Where its volumes are, unless that engine is gone or down.
            let health = self.inner.cluster.health(&doc.engine).await;
            if !doc.engine.is_empty()
                && health.is_some_and(|h| h != crate::model::Health::Unhealthy)
            {
                req.host = Some(doc.engine.clone());
            }
            let placement = self.inner.cluster.hold_reservation(&req).await?;
            let engine = placement
                .assignments
                .first()
                .map(|a| a.engine.clone())
                .ok_or_else(|| Error::missing("engine", "for the project"))?;
            if engine != doc.engine {
                doc.engine = engine;
                self.save(doc).await?;
            }
        }
        self.site(doc).await
    }

    pub(super) async fn site(&self, doc: &ProjectDoc) -> Result<Site> {
        if doc.engine.is_empty() {
            return Err(Error::State {
                what: format!("project {}", doc.name),
                state: "not placed".into(),
                reason: "it has not been started on any engine yet".into(),
            });
        }
        Ok(Site {
            project: doc.name.clone(),
            owner: self.inner.cluster.identity().to_string(),
            admitted: doc.admitted(),
            engine: doc.engine.clone(),
            backend: self.inner.cluster.backend(&doc.engine).await?,
            deadline: self.inner.opts.health_deadline,
            poll: self.inner.opts.poll,
            parallelism: self.inner.opts.parallelism,
            // The registry's secrets only to engines an admin registered.
            credentials: if self.inner.cluster.trusted(&doc.engine).await {
                self.inner.cluster.registry_credentials().clone()
            } else {
                Default::default()
            },
        })
    }

    /// Holds a stored project's reservations again (after a restart).
    async fn rehold(&self, doc: &ProjectDoc) {
        if doc.engine.is_empty() {
            return;
        }
        let mut docs = vec![(doc.current.parse(), false)];
        if let Some(next) = &doc.next {
            docs.push((next.parse(), true));
        }
        for (file, next) in docs {
            if let Ok(req) = file.and_then(|f| self.request(doc, &f, next)) {
                self.inner
                    .cluster
                    .hold_reservation_at(&doc.engine, req.footprint)
                    .await;
            }
        }
    }

    /// Service operations: the project's lock, its lifecycle's leave, then
    /// `work` on the project's site.
    pub(super) async fn service_op<F, Fut>(&self, id: &str, work: F) -> Result<()>
    where
        F: FnOnce(Projects, ProjectDoc, ComposeFile, String) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<()>> + Send + 'static,
    {
        let (project, service) = split_service_id(id)?;
        let this = self.clone();
        self.detached(async move {
            let _g = this.lock(&project).await;
            let doc = this.load(&project).await?;
            let file = doc.current.parse()?;
            if !file.services.contains_key(&service) {
                return Err(Error::missing("service", format!("{project}_{service}")));
            }
            doc.lifecycle.admit(&Op::Service)?;
            work(this.clone(), doc, file, service).await
        })
        .await
    }

    pub async fn start_service(&self, id: &str) -> Result<()> {
        self.service_op(id, |this, mut doc, file, svc| async move {
            doc.stopped.retain(|s| s != &svc);
            if doc.lifecycle.desired != ProjectState::Running {
                doc.stopped = file
                    .services
                    .keys()
                    .filter(|s| **s != svc)
                    .cloned()
                    .collect();
                doc.lifecycle.desired = ProjectState::Running;
            }
            this.save(&mut doc).await?;
            let site = this.place(&mut doc, &file).await?;
            let one = BTreeSet::from([svc.clone()]);
            site.up(
                &file,
                &doc.current.version,
                &replicas_of(&doc, &file),
                &one,
                Mode::default(),
            )
            .await?;
            doc.lifecycle = doc.lifecycle.on(Outcome::Running);
            this.save(&mut doc).await?;
            this.event(EventType::Start, format!("service={}_{svc}", doc.name))
                .await;
            Ok(())
        })
        .await
    }

    pub async fn stop_service(
        &self,
        id: &str,
        timeout: Duration,
        signal: Option<String>,
    ) -> Result<()> {
        if let Some(s) = &signal {
            check_signal(s)?;
        }
        self.service_op(id, move |this, mut doc, file, svc| async move {
            if !doc.stopped.contains(&svc) {
                doc.stopped.push(svc.clone());
            }
            this.save(&mut doc).await?;
            if !doc.engine.is_empty() {
                let site = this.site(&doc).await?;
                let one = BTreeSet::from([svc.clone()]);
                match &signal {
                    Some(sig) => site.kill(Some(&one), sig).await?,
                    None => site.stop(&file, Some(&one), timeout).await?,
                }
            }
            this.event(EventType::Stop, format!("service={}_{svc}", doc.name))
                .await;
            Ok(())
        })
        .await
    }

    /// Sets a service's replicas: the project's reservation grows or shrinks
    /// on its engine (refused with the scheduler's explanation when the
    /// engine lacks the room), then the service is brought to the count.
    pub async fn scale_service(&self, id: &str, count: u32) -> Result<()> {
        if count > 1000 {
            return Err(Error::invalid("value", "must be from 0 to 1000"));
        }
        self.service_op(id, move |this, mut doc, file, svc| async move {
            let before = doc.scale.get(&svc).copied();
            doc.scale.insert(svc.clone(), count);
            if !doc.engine.is_empty() {
                if let Err(e) = this.hold_on_engine(&doc, &file, false).await {
                    match before {
                        Some(b) => doc.scale.insert(svc.clone(), b),
                        None => doc.scale.remove(&svc),
                    };
                    return Err(e);
                }
            }
            this.save(&mut doc).await?;
            if doc.wants_running(&svc) && !doc.engine.is_empty() {
                let site = this.site(&doc).await?;
                let one = BTreeSet::from([svc.clone()]);
                site.up(
                    &file,
                    &doc.current.version,
                    &replicas_of(&doc, &file),
                    &one,
                    Mode::default(),
                )
                .await?;
            }
            this.event(
                EventType::Scale,
                format!("service={}_{svc} count={count}", doc.name),
            )
            .await;
            Ok(())
        })
        .await
    }
}

pub(super) fn replicas_of(doc: &ProjectDoc, file: &ComposeFile) -> BTreeMap<String, u32> {
    file.services
        .keys()
        .map(|k| (k.clone(), doc.replicas(k, file)))
        .collect()
}

/// `{project}_{service}`: the project's name has no `_`, so the first one
/// splits.
pub(super) fn split_service_id(id: &str) -> Result<(String, String)> {
    match id.split_once('_') {
        Some((p, s)) if !p.is_empty() && !s.is_empty() => Ok((p.to_string(), s.to_string())),
        _ => Err(Error::invalid(
            "id",
            format!("{id:?} is not {{project}}_{{service}}"),
        )),
    }
}

fn check_signal(signal: &str) -> Result<()> {
    let ok = !signal.is_empty()
        && signal.len() <= 16
        && signal
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "signal",
            format!("{signal:?} is not a signal name such as KILL or TERM"),
        ))
    }
}
