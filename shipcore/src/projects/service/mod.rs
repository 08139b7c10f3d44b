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

mod hold;
mod services;
mod update;

use services::check_signal;

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
    /// The folder on each engine's host under which a project's relative
    /// bind sources that it does not carry are made
    /// (`{bind_root}/{project}/data` for `./data`), as docker-compose makes
    /// them beside the compose file.
    pub bind_root: String,
}

impl Default for ProjectsOptions {
    fn default() -> Self {
        ProjectsOptions {
            health_deadline: Duration::from_secs(60),
            poll: Duration::from_millis(250),
            reconcile_interval: Duration::from_secs(5),
            parallelism: 10,
            bind_root: "/var/lib/shipcore/projects".into(),
        }
    }
}

/// `POST /projects/`.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
    )]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub template: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Files beside the template (`.env`, `env_file` targets), contents by
    /// relative path: at most 64, 256 KiB each, 1 MiB together.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// The compose profiles to enable (`*`: all).
    #[serde(default)]
    pub profiles: Vec<String>,
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
    /// The new version's files (unset: the current version's).
    #[serde(default)]
    pub files: Option<BTreeMap<String, String>>,
    /// The new version's profiles (unset: the current version's).
    #[serde(default)]
    pub profiles: Option<Vec<String>>,
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
                    // An engine still busy with what the last run left
                    // half-done gets a few more tries.
                    for attempt in 1..=3 {
                        match this2.resume(&doc.name, resume).await {
                            Ok(()) => return,
                            Err(e) if attempt < 3 && !matches!(e, Error::Invalid { .. }) => {
                                tracing::info!(project = %doc.name, error = %e, attempt, "resuming after restart: trying again");
                                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                            }
                            Err(e) => {
                                tracing::warn!(project = %doc.name, error = %e, "resuming after restart failed");
                                return;
                            }
                        }
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
            files: req.files,
            profiles: req.profiles,
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
                ..Lifecycle::default()
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
