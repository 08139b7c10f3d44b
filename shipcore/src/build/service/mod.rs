//! The build service: build projects and their build records in the state
//! store, and builds run in the background on the cluster's engines.
//!
//! Layout: `build/projects/{name}` (a [`BuildProject`]),
//! `build/records/{project}/{n:010}` (a [`BuildRecord`]), `build/logs/{id}`
//! (a build's log once it ended). A build is queued on a bounded queue,
//! taken by one of a few workers, placed by the scheduler on an engine (one
//! labelled with the project's `Cluster` when any is), run there with at
//! most `per_engine` builds at once per engine, built under a name of its
//! own (`shipcore-build:{id}`), tagged `{registry}/{Cluster}/{name}:{tag}`
//! only right before it is pushed into shipd's registry with the builder's
//! credentials. Projects have owners: the APIs act through
//! [`Builds::acting_as`], which reaches an owner's own projects and pushes
//! only where the owner may write (`model::check_push`). Its log is kept in memory while it runs (and
//! can be followed), then stored. A restart fails the builds that were
//! running, with the reason, and queues again the ones that were waiting.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use tokio::sync::{broadcast, mpsc, Semaphore};

use super::model::{
    build_image_name, check_cluster, check_definition, check_name, check_push, check_tag,
    context_tar, default_cluster, target_repository, BuildProject, BuildRecord, BuildStatus,
    PluginRef, MAX_PLUGINS,
};
use super::plugins::{BuildInput, Plugins, Prepared};
use crate::clock::Clock;
use crate::cluster::Cluster;
use crate::engine::EngineBackend;
use crate::engine::{BuildOptions, BuildOutput, RegistryAuth};
use crate::error::{Error, Result};
use crate::model::{ContainerType, ImageConfig, Owner, Role};
use crate::registry::{Reference, Registry, Repository};
use crate::store::{get_json, put_json, Expect, Store};

mod acting;
mod log;
mod projects;
mod run;

pub use acting::ActingAs;
use log::Live;
pub use log::LogEvent;

/// The permission area of build projects (`all-builds` reaches every
/// account's).
pub const AREA: &str = "builds";

const PROJECTS: &str = "build/projects/";
const RECORDS: &str = "build/records/";
const LOGS: &str = "build/logs/";

/// What the engine says of each layer while it pushes.
const LAYER_PROGRESS: [&str; 6] = [
    "Preparing",
    "Waiting",
    "Pushing",
    "Pushed",
    "Layer already exists",
    "Mounted from",
];

/// Most bytes of a build's log kept (its end, when longer).
pub const MAX_LOG: usize = 256 * 1024;

/// How the build service runs builds.
#[derive(Debug, Clone)]
pub struct BuildsOptions {
    /// The registry host images are pushed to (shipd's own, as engines
    /// reach it: `127.0.0.1:8080`).
    pub registry_host: String,
    /// What engines push with (the builder's account; None: no
    /// credentials, for a registry without auth).
    pub push_auth: Option<RegistryAuth>,
    /// Builds waiting at most; more are refused until some start.
    pub queue: usize,
    /// Builds running at once in all.
    pub workers: usize,
    /// Builds running at once on one engine.
    pub per_engine: usize,
    /// A build's time limit (build and push).
    pub timeout: Duration,
    /// What one build may use, and holds with the scheduler while it
    /// runs: cpus and MiB (every build step's container runs within them).
    pub cpus: f64,
    pub memory: u64,
}

impl Default for BuildsOptions {
    fn default() -> Self {
        BuildsOptions {
            registry_host: "127.0.0.1:8080".into(),
            push_auth: None,
            queue: 64,
            workers: 4,
            per_engine: 2,
            timeout: Duration::from_secs(30 * 60),
            cpus: 1.0,
            memory: 1024,
        }
    }
}

/// What `save` changes in a project (fields left `None` stay as they are).
#[derive(Debug, Clone, Default)]
pub struct ProjectChange {
    pub cluster: Option<String>,
    pub define_dockerfile_type: Option<String>,
    pub dockerfile: Option<String>,
    pub files: Option<BTreeMap<String, String>>,
    pub plugins: Option<Vec<PluginRef>>,
}

/// The build service.
#[derive(Clone)]
pub struct Builds {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Builds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builds").finish_non_exhaustive()
    }
}

pub(super) struct Inner {
    store: Arc<dyn Store>,
    cluster: Cluster,
    registry: Registry,
    clock: Arc<dyn Clock>,
    plugins: Plugins,
    opts: BuildsOptions,
    queue: mpsc::Sender<String>,
    waiting: tokio::sync::Mutex<Option<mpsc::Receiver<String>>>,
    live: Mutex<HashMap<String, Live>>,
    engines: Mutex<HashMap<String, Arc<Semaphore>>>,
    running: Mutex<HashMap<String, tokio::task::AbortHandle>>,
}

pub(super) fn project_key(name: &str) -> String {
    format!("{PROJECTS}{name}")
}

pub(super) fn record_key(project: &str, n: u64) -> String {
    format!("{RECORDS}{project}/{n:010}")
}

/// Who an in-process caller that names only an `operator` acts as: the
/// cluster itself (an admin), under that name.
pub(super) fn trusted(operator: &str) -> Owner {
    Owner {
        name: operator.to_string(),
        role: Role {
            name: "admin".into(),
            ..Role::default()
        },
    }
}

/// The project and number of a build id (`{project}-{n}`).
pub(super) fn split_id(id: &str) -> Result<(&str, u64)> {
    let bad = || Error::missing("build", id);
    let (project, n) = id.rsplit_once('-').ok_or_else(bad)?;
    check_name("projectName", project).map_err(|_| bad())?;
    let n: u64 = n.parse().map_err(|_| bad())?;
    Ok((project, n))
}

impl Builds {
    /// The service over `store`; call [`Builds::start`] to run builds.
    pub fn new(
        store: Arc<dyn Store>,
        cluster: Cluster,
        registry: Registry,
        clock: Arc<dyn Clock>,
        plugins: Plugins,
        opts: BuildsOptions,
    ) -> Self {
        let (tx, rx) = mpsc::channel(opts.queue.max(1));
        Builds {
            inner: Arc::new(Inner {
                store,
                cluster,
                registry,
                clock,
                plugins,
                opts,
                queue: tx,
                waiting: tokio::sync::Mutex::new(Some(rx)),
                live: Mutex::new(HashMap::new()),
                engines: Mutex::new(HashMap::new()),
                running: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn plugins(&self) -> &Plugins {
        &self.inner.plugins
    }

    pub fn options(&self) -> &BuildsOptions {
        &self.inner.opts
    }

    /// Settles what a previous run left (running builds failed, waiting
    /// ones queued again) and starts the workers. Call once.
    pub async fn start(&self) -> Result<Vec<tokio::task::JoinHandle<()>>> {
        let Some(rx) = self.inner.waiting.lock().await.take() else {
            return Err(Error::State {
                what: "build service".into(),
                state: "started".into(),
                reason: "it runs already".into(),
            });
        };
        let mut requeue = Vec::new();
        for v in self.inner.store.list(RECORDS).await? {
            let Ok(mut r) = v.json::<BuildRecord>() else {
                continue;
            };
            match r.status {
                BuildStatus::Running => {
                    r.status = BuildStatus::Failed;
                    r.ended = Some(self.inner.clock.rfc3339());
                    r.reason = Some("shipd stopped while the build ran".into());
                    let _ = put_json(
                        self.inner.store.as_ref(),
                        &v.key,
                        &r,
                        Expect::Revision(v.revision),
                    )
                    .await;
                }
                BuildStatus::Queued => requeue.push(r.id),
                _ => {}
            }
        }
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let mut handles = Vec::new();
        for _ in 0..self.inner.opts.workers.max(1) {
            // Workers do not keep the service alive: once every handle on it
            // is dropped, the queue closes and they end.
            let service = Arc::downgrade(&self.inner);
            let rx = rx.clone();
            handles.push(tokio::spawn(async move {
                loop {
                    let next = rx.lock().await.recv().await;
                    let Some(id) = next else { return };
                    let Some(inner) = service.upgrade() else {
                        return;
                    };
                    Builds { inner }.run_one(id).await;
                }
            }));
        }
        for id in requeue {
            if self.inner.queue.try_send(id.clone()).is_err() {
                let _ = self
                    .end_queued(&id, "the queue was full after a restart")
                    .await;
            }
        }
        Ok(handles)
    }

    // -------------------------------------------------------------- builds

    /// Queues a build of `project` as `tag`; its record (trusted: see
    /// [`ActingAs::build`]).
    pub async fn build(&self, project: &str, tag: &str, operator: &str) -> Result<BuildRecord> {
        self.build_by(&trusted(operator), project, tag).await
    }

    pub(super) async fn build_by(
        &self,
        by: &Owner,
        project: &str,
        tag: &str,
    ) -> Result<BuildRecord> {
        check_name("projectName", project)?;
        check_tag(tag)?;
        let (p, _) = self
            .owned(by, "projectName", "project", project, true)
            .await?;
        if p.dockerfile.trim().is_empty() {
            return Err(Error::invalid(
                "dockerfile",
                format!("project {project} has no Dockerfile yet: save one first"),
            ));
        }
        let files = check_definition(&p.dockerfile, &p.files)?;
        // Pushed with the builder's credentials: only where the one who
        // builds may write (whoever saved the project).
        check_push(by, &target_repository(&p.cluster, &p.name))?;
        let context = context_tar(&p.dockerfile, &files)?;
        let source = format!("sha256:{:x}", Sha256::digest(&context));
        let image = format!(
            "{}/{}:{tag}",
            self.inner.opts.registry_host,
            target_repository(&p.cluster, &p.name)
        );
        let operator = by.name.as_str();
        let prefix = format!("{RECORDS}{project}/");
        let mut n = match self
            .inner
            .store
            .page(crate::store::Page::last(&prefix, 1))
            .await?
            .first()
        {
            Some(v) => v.key[prefix.len()..].parse::<u64>().unwrap_or(0) + 1,
            None => 1,
        };
        let record = loop {
            let r = BuildRecord {
                id: format!("{project}-{n}"),
                project: project.to_string(),
                tag: tag.to_string(),
                image: image.clone(),
                operator: operator.to_string(),
                status: BuildStatus::Queued,
                queued: self.inner.clock.rfc3339(),
                started: None,
                ended: None,
                engine: None,
                digest: None,
                reason: None,
                source_digest: source.clone(),
            };
            match put_json(
                self.inner.store.as_ref(),
                &record_key(project, n),
                &r,
                Expect::Absent,
            )
            .await
            {
                Ok(_) => break r,
                Err(Error::Conflict { .. }) => n += 1,
                Err(e) => return Err(e),
            }
        };
        // A delete of the project between its read and this record: the
        // record goes too (delete removes the records it sees).
        if get_json::<BuildProject>(self.inner.store.as_ref(), &project_key(project))
            .await?
            .is_none()
        {
            let _ = self
                .inner
                .store
                .delete(&record_key(project, n), Expect::Any)
                .await;
            return Err(Error::missing("project", project));
        }
        if self.inner.queue.try_send(record.id.clone()).is_err() {
            let _ = self.end_queued(&record.id, "the build queue is full").await;
            return Err(Error::TooMany {
                reason: format!(
                    "{} builds are waiting already: try again later",
                    self.inner.opts.queue
                ),
                retry_after: 30,
            });
        }
        Ok(record)
    }

    /// A build record.
    pub async fn record(&self, id: &str) -> Result<BuildRecord> {
        let (project, n) = split_id(id)?;
        get_json::<BuildRecord>(self.inner.store.as_ref(), &record_key(project, n))
            .await?
            .map(|(r, _)| r)
            .ok_or_else(|| Error::missing("build", id))
    }

    /// A project's builds, newest first (trusted: see
    /// [`ActingAs::history`]).
    pub async fn history(&self, project: &str) -> Result<Vec<BuildRecord>> {
        self.history_by(&Owner::system(), project).await
    }

    pub(super) async fn history_by(&self, by: &Owner, project: &str) -> Result<Vec<BuildRecord>> {
        self.project_by(by, project).await?;
        let prefix = format!("{RECORDS}{project}/");
        let mut out: Vec<BuildRecord> = self
            .inner
            .store
            .list(&prefix)
            .await?
            .iter()
            .filter_map(|v| v.json().ok())
            .collect();
        out.reverse();
        Ok(out)
    }

    /// Cancels a build: a queued one never starts, a running one stops.
    pub async fn cancel(&self, id: &str) -> Result<BuildRecord> {
        let r = self.record(id).await?;
        if r.status.ended() {
            return Err(Error::State {
                what: format!("build {id}"),
                state: r.status.to_string(),
                reason: "it has ended".into(),
            });
        }
        self.abort(id);
        self.finish(id, BuildStatus::Cancelled, Some("cancelled".into()), None)
            .await
    }

    pub(super) fn abort(&self, id: &str) {
        if let Some(h) = self
            .inner
            .running
            .lock()
            .ok()
            .and_then(|mut r| r.remove(id))
        {
            h.abort();
        }
    }

    pub(super) async fn end_queued(&self, id: &str, reason: &str) -> Result<BuildRecord> {
        self.finish(id, BuildStatus::Failed, Some(reason.into()), None)
            .await
    }

    /// Ends a build: its record, its stored log, and the followers told.
    pub(super) async fn finish(
        &self,
        id: &str,
        status: BuildStatus,
        reason: Option<String>,
        digest: Option<String>,
    ) -> Result<BuildRecord> {
        let (project, n) = split_id(id)?;
        let key = record_key(project, n);
        let live = self.inner.live.lock().ok().and_then(|mut l| l.remove(id));
        if let Some(live) = &live {
            let _ = put_json(
                self.inner.store.as_ref(),
                &format!("{LOGS}{id}"),
                &live.stored(),
                Expect::Any,
            )
            .await;
        }
        let mut out = None;
        for _ in 0..5 {
            let Some((mut r, rev)) =
                get_json::<BuildRecord>(self.inner.store.as_ref(), &key).await?
            else {
                return Err(Error::missing("build", id));
            };
            if r.status.ended() {
                out = Some(r);
                break;
            }
            r.status = status;
            r.ended = Some(self.inner.clock.rfc3339());
            r.reason = reason.clone();
            if digest.is_some() {
                r.digest = digest.clone();
            }
            match put_json(self.inner.store.as_ref(), &key, &r, Expect::Revision(rev)).await {
                Ok(_) => {
                    out = Some(r);
                    break;
                }
                Err(Error::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        if let Some(live) = live {
            let _ = live
                .tx
                .send(LogEvent::End(out.as_ref().map_or(status, |r| r.status)));
        }
        out.ok_or_else(|| Error::Unavailable {
            reason: format!("{key} kept changing"),
            retry_after: 1,
        })
    }
}
