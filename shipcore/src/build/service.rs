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

/// One line of a build's log, numbered from 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEvent {
    Line(usize, String),
    /// The build ended so.
    End(BuildStatus),
}

/// A running build's log: its last lines (at most [`MAX_LOG`] bytes), the
/// first of them numbered `first`.
struct Live {
    lines: std::collections::VecDeque<String>,
    first: usize,
    bytes: usize,
    tx: broadcast::Sender<LogEvent>,
}

impl Live {
    /// The lines from number `from` on, numbered.
    fn since(&self, from: usize) -> Vec<LogEvent> {
        let skip = from.saturating_sub(self.first);
        self.lines
            .iter()
            .enumerate()
            .skip(skip)
            .map(|(k, l)| LogEvent::Line(self.first + k, l.clone()))
            .collect()
    }

    /// The log to store: what was left out said first.
    fn stored(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.lines.len() + 1);
        if self.first > 0 {
            out.push(format!("({} earlier lines left out)", self.first));
        }
        out.extend(self.lines.iter().cloned());
        out
    }
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

struct Inner {
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

fn project_key(name: &str) -> String {
    format!("{PROJECTS}{name}")
}

fn record_key(project: &str, n: u64) -> String {
    format!("{RECORDS}{project}/{n:010}")
}

/// Who an in-process caller that names only an `operator` acts as: the
/// cluster itself (an admin), under that name.
fn trusted(operator: &str) -> Owner {
    Owner {
        name: operator.to_string(),
        role: Role {
            name: "admin".into(),
            ..Role::default()
        },
    }
}

/// The project and number of a build id (`{project}-{n}`).
fn split_id(id: &str) -> Result<(&str, u64)> {
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

    // ------------------------------------------------------------ projects
    //
    // Every operation is done for an owner (`by`): an account or key
    // acting through an API ([`Builds::acting_as`]), which reaches its own
    // projects and, with `all-builds`, everyone's; or an in-process caller
    // of the methods below that take an `operator` name, trusted as the
    // cluster itself (an admin acting under that name).

    /// The service as `owner` reaches it: its own projects (or every
    /// account's, for `admin` and roles with `all-builds:ro`/`rw`), the
    /// builds it may push. What is not the owner's answers as missing.
    pub fn acting_as(&self, owner: Owner) -> ActingAs {
        ActingAs {
            builds: self.clone(),
            owner,
        }
    }

    /// Creates a project (trusted: see [`ActingAs::create`]).
    pub async fn create(&self, name: &str, operator: &str) -> Result<BuildProject> {
        self.create_by(&trusted(operator), name).await
    }

    async fn create_by(&self, by: &Owner, name: &str) -> Result<BuildProject> {
        check_name("projectName", name)?;
        let now = self.inner.clock.rfc3339();
        let p = BuildProject {
            name: name.to_string(),
            owner: by.name.clone(),
            creator: by.name.clone(),
            create_time: now.clone(),
            last_modify_time: now,
            last_modify_operator: by.name.clone(),
            cluster: default_cluster(by, name),
            define_dockerfile_type: super::model::DEFINE.to_string(),
            ..BuildProject::default()
        };
        self.put_new(p).await
    }

    /// Stores a new project; `Exists` when one has its name.
    async fn put_new(&self, p: BuildProject) -> Result<BuildProject> {
        match put_json(
            self.inner.store.as_ref(),
            &project_key(&p.name),
            &p,
            Expect::Absent,
        )
        .await
        {
            Ok(_) => Ok(p),
            Err(Error::Conflict { .. }) => Err(Error::Exists {
                kind: "project".into(),
                id: p.name,
            }),
            Err(e) => Err(e),
        }
    }

    /// Project `name` with its revision when `by` may see it (with
    /// `write`, change it); else missing (as `kind`), as one that does not
    /// exist: an owner learns nothing of others' projects.
    async fn owned(
        &self,
        by: &Owner,
        field: &str,
        kind: &str,
        name: &str,
        write: bool,
    ) -> Result<(BuildProject, u64)> {
        check_name(field, name)?;
        match get_json::<BuildProject>(self.inner.store.as_ref(), &project_key(name)).await? {
            Some((p, rev)) if by.may(AREA, &p.owner, write) => Ok((p, rev)),
            _ => Err(Error::missing(kind, name)),
        }
    }

    /// A project (trusted: see [`ActingAs::project`]).
    pub async fn project(&self, name: &str) -> Result<BuildProject> {
        self.project_by(&Owner::system(), name).await
    }

    async fn project_by(&self, by: &Owner, name: &str) -> Result<BuildProject> {
        Ok(self
            .owned(by, "projectName", "project", name, false)
            .await?
            .0)
    }

    /// Every project whose name holds `filter` (all when empty), by name
    /// (trusted: see [`ActingAs::projects`]).
    pub async fn projects(&self, filter: &str) -> Result<Vec<BuildProject>> {
        self.projects_by(&Owner::system(), filter).await
    }

    async fn projects_by(&self, by: &Owner, filter: &str) -> Result<Vec<BuildProject>> {
        let mut out = Vec::new();
        for v in self.inner.store.list(PROJECTS).await? {
            let p: BuildProject = v.json()?;
            if (filter.is_empty() || p.name.contains(filter)) && by.may(AREA, &p.owner, false) {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// Deletes a project, its build records and logs (trusted: see
    /// [`ActingAs::delete`]). A build of it that is running is cancelled
    /// first.
    pub async fn delete(&self, name: &str) -> Result<()> {
        self.delete_by(&Owner::system(), name).await
    }

    async fn delete_by(&self, by: &Owner, name: &str) -> Result<()> {
        let mut deleted = false;
        for _ in 0..5 {
            let (_, rev) = self.owned(by, "projectName", "project", name, true).await?;
            match self
                .inner
                .store
                .delete(&project_key(name), Expect::Revision(rev))
                .await
            {
                Ok(Some(_)) => {
                    deleted = true;
                    break;
                }
                Ok(None) => return Err(Error::missing("project", name)),
                Err(Error::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        if !deleted {
            return Err(Error::Unavailable {
                reason: format!("project {name} kept changing: try again"),
                retry_after: 1,
            });
        }
        let prefix = format!("{RECORDS}{name}/");
        for v in self.inner.store.list(&prefix).await? {
            if let Ok(r) = v.json::<BuildRecord>() {
                self.abort(&r.id);
                let _ = self
                    .inner
                    .store
                    .delete(&format!("{LOGS}{}", r.id), Expect::Any)
                    .await;
            }
            let _ = self.inner.store.delete(&v.key, Expect::Any).await;
        }
        Ok(())
    }

    /// Copies a project's definition and plugins (not its history) to a
    /// new project (trusted: see [`ActingAs::clone_project`]).
    pub async fn clone_project(
        &self,
        src: &str,
        dst: &str,
        operator: &str,
    ) -> Result<BuildProject> {
        self.clone_by(&trusted(operator), src, dst).await
    }

    async fn clone_by(&self, by: &Owner, src: &str, dst: &str) -> Result<BuildProject> {
        check_name("srcProjectName", src)?;
        check_name("dstProjectName", dst)?;
        let (from, _) = self
            .owned(by, "srcProjectName", "source project", src, true)
            .await?;
        check_push(by, &target_repository(&from.cluster, dst))?;
        let now = self.inner.clock.rfc3339();
        let p = BuildProject {
            name: dst.to_string(),
            owner: by.name.clone(),
            creator: by.name.clone(),
            create_time: now.clone(),
            last_modify_time: now,
            last_modify_operator: by.name.clone(),
            ..from
        };
        self.put_new(p).await
    }

    /// Checks plugin references against the known plugins
    /// ([`Error::UnknownPlugin`], [`Error::PluginParams`]).
    pub fn check_plugins(&self, plugins: &[PluginRef]) -> Result<()> {
        if plugins.len() > MAX_PLUGINS {
            return Err(Error::plugin_params(format!(
                "{} plugins, more than the {MAX_PLUGINS} allowed",
                plugins.len()
            )));
        }
        for p in plugins {
            self.inner.plugins.get(&p.name)?.check_params(&p.params)?;
        }
        Ok(())
    }

    /// Saves a project's definition: creates it (`add`) or changes it
    /// (`update`) (trusted: see [`ActingAs::save`]).
    pub async fn save(
        &self,
        name: &str,
        add: bool,
        change: ProjectChange,
        operator: &str,
    ) -> Result<BuildProject> {
        self.save_by(&trusted(operator), name, add, change).await
    }

    async fn save_by(
        &self,
        by: &Owner,
        name: &str,
        add: bool,
        change: ProjectChange,
    ) -> Result<BuildProject> {
        check_name("projectName", name)?;
        if let Some(c) = &change.cluster {
            check_cluster(c)?;
        }
        if let Some(t) = &change.define_dockerfile_type {
            if t != super::model::DEFINE {
                return Err(Error::invalid(
                    "DefineDockerFileType",
                    format!("{t:?}: only \"define\" (the Dockerfile given with the project) is supported"),
                ));
            }
        }
        if let Some(plugins) = &change.plugins {
            self.check_plugins(plugins)
                .map_err(|e| Error::invalid("$$plugin", e.to_string()))?;
        }
        for _ in 0..5 {
            let found =
                get_json::<BuildProject>(self.inner.store.as_ref(), &project_key(name)).await?;
            let (mut p, expect) = match (found, add) {
                (Some(_), true) => {
                    return Err(Error::Exists {
                        kind: "project".into(),
                        id: name.to_string(),
                    })
                }
                (Some((p, rev)), false) if by.may(AREA, &p.owner, true) => {
                    (p, Expect::Revision(rev))
                }
                // Another's project answers as a missing one.
                (_, false) => return Err(Error::missing("project", name)),
                (None, true) => {
                    let now = self.inner.clock.rfc3339();
                    (
                        BuildProject {
                            name: name.to_string(),
                            owner: by.name.clone(),
                            creator: by.name.clone(),
                            create_time: now,
                            cluster: default_cluster(by, name),
                            define_dockerfile_type: super::model::DEFINE.to_string(),
                            ..BuildProject::default()
                        },
                        Expect::Absent,
                    )
                }
            };
            let c = change.clone();
            let names_target = add || c.cluster.is_some();
            if let Some(v) = c.cluster {
                p.cluster = v;
            }
            if let Some(v) = c.define_dockerfile_type {
                p.define_dockerfile_type = v;
            }
            if let Some(v) = c.dockerfile {
                p.dockerfile = v;
            }
            if let Some(v) = c.files {
                p.files = v;
            }
            if let Some(v) = c.plugins {
                p.plugins = v;
            }
            check_definition(&p.dockerfile, &p.files)?;
            // The repository its builds push to, when this save names it
            // (checked again at every build, for who builds).
            if names_target {
                check_push(by, &target_repository(&p.cluster, &p.name))?;
            }
            p.last_modify_time = self.inner.clock.rfc3339();
            p.last_modify_operator = by.name.clone();
            match put_json(self.inner.store.as_ref(), &project_key(name), &p, expect).await {
                Ok(_) => return Ok(p),
                Err(Error::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Unavailable {
            reason: format!("project {name} kept changing: try again"),
            retry_after: 1,
        })
    }

    /// Calls a plugin's method (the extension endpoint). Plugin methods
    /// take what they are given and read no project.
    pub fn call_plugin(&self, plugin: &str, method: &str, args: &Value) -> Result<Value> {
        self.inner.plugins.call(plugin, method, args)
    }

    // -------------------------------------------------------------- builds

    /// Queues a build of `project` as `tag`; its record (trusted: see
    /// [`ActingAs::build`]).
    pub async fn build(&self, project: &str, tag: &str, operator: &str) -> Result<BuildRecord> {
        self.build_by(&trusted(operator), project, tag).await
    }

    async fn build_by(&self, by: &Owner, project: &str, tag: &str) -> Result<BuildRecord> {
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

    async fn history_by(&self, by: &Owner, project: &str) -> Result<Vec<BuildRecord>> {
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

    /// A build's log so far (the stored one once it ended).
    pub async fn log(&self, id: &str) -> Result<Vec<String>> {
        let r = self.record(id).await?;
        if let Some(l) = self
            .inner
            .live
            .lock()
            .ok()
            .and_then(|l| l.get(id).map(Live::stored))
        {
            return Ok(l);
        }
        Ok(self.stored_log(&r.id).await)
    }

    async fn stored_log(&self, id: &str) -> Vec<String> {
        match get_json::<Vec<String>>(self.inner.store.as_ref(), &format!("{LOGS}{id}")).await {
            Ok(Some((l, _))) => l,
            _ => Vec::new(),
        }
    }

    /// Follows a build's log from line `from`: the lines so far, then each
    /// new one as it comes, then the end. A build still queued (or running
    /// on another replica) is polled until it starts here or ends.
    pub async fn follow(
        &self,
        id: &str,
        from: usize,
    ) -> Result<futures::stream::BoxStream<'static, LogEvent>> {
        if let Some(s) = self.follow_now(id, from).await? {
            return Ok(s);
        }
        let me = self.clone();
        let id = id.to_string();
        Ok(futures::stream::unfold(true, move |waiting| {
            let me = me.clone();
            let id = id.clone();
            async move {
                if !waiting {
                    return None;
                }
                loop {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    match me.follow_now(&id, from).await {
                        Ok(Some(s)) => return Some((s, false)),
                        Ok(None) => continue,
                        // The build (or its project) went away.
                        Err(_) => return None,
                    }
                }
            }
        })
        .flatten()
        .boxed())
    }

    /// The log stream when the build runs here or has ended; None while
    /// it waits.
    async fn follow_now(
        &self,
        id: &str,
        from: usize,
    ) -> Result<Option<futures::stream::BoxStream<'static, LogEvent>>> {
        let r = self.record(id).await?;
        // The lines so far and the subscription are taken under one lock:
        // every later line comes through the subscription.
        let live = self
            .inner
            .live
            .lock()
            .ok()
            .and_then(|l| l.get(id).map(|l| (l.since(from), l.tx.subscribe())));
        if let Some((past, rx)) = live {
            let next = broadcast_stream(rx)
                .filter(move |e| {
                    let keep = match e {
                        LogEvent::Line(i, _) => *i >= from,
                        LogEvent::End(_) => true,
                    };
                    futures::future::ready(keep)
                })
                .scan(false, |ended, e| {
                    if *ended {
                        return futures::future::ready(None);
                    }
                    *ended = matches!(e, LogEvent::End(_));
                    futures::future::ready(Some(e))
                });
            return Ok(Some(futures::stream::iter(past).chain(next).boxed()));
        }
        if !r.status.ended() {
            return Ok(None);
        }
        let lines = self.stored_log(id).await;
        let status = r.status;
        Ok(Some(
            futures::stream::iter(
                lines
                    .into_iter()
                    .enumerate()
                    .skip(from)
                    .map(|(i, l)| LogEvent::Line(i, l))
                    .chain(std::iter::once(LogEvent::End(status))),
            )
            .boxed(),
        ))
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

    fn abort(&self, id: &str) {
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

    async fn end_queued(&self, id: &str, reason: &str) -> Result<BuildRecord> {
        self.finish(id, BuildStatus::Failed, Some(reason.into()), None)
            .await
    }

    /// Ends a build: its record, its stored log, and the followers told.
    async fn finish(
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

    /// Appends a line to a running build's log.
    fn say(&self, id: &str, line: impl Into<String>) {
        let line = line.into();
        let Ok(mut live) = self.inner.live.lock() else {
            return;
        };
        let Some(l) = live.get_mut(id) else { return };
        // One line is at most a tenth of the log.
        let mut line = line;
        if line.len() > MAX_LOG / 10 {
            let mut cut = MAX_LOG / 10;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push_str(" …");
        }
        l.bytes += line.len() + 1;
        // Past the limit the oldest lines go (the end of a log says why a
        // build failed).
        while l.bytes > MAX_LOG {
            let Some(gone) = l.lines.pop_front() else {
                break;
            };
            l.bytes -= gone.len() + 1;
            l.first += 1;
        }
        let i = l.first + l.lines.len();
        l.lines.push_back(line.clone());
        let _ = l.tx.send(LogEvent::Line(i, line));
    }

    async fn run_one(&self, id: String) {
        let Ok(record) = self.record(&id).await else {
            return;
        };
        if record.status != BuildStatus::Queued {
            return;
        }
        let (tx, _) = broadcast::channel(1024);
        if let Ok(mut live) = self.inner.live.lock() {
            live.insert(
                id.clone(),
                Live {
                    lines: std::collections::VecDeque::new(),
                    first: 0,
                    bytes: 0,
                    tx,
                },
            );
        }
        let me = self.clone();
        let rid = id.clone();
        let task = tokio::spawn(async move {
            match tokio::time::timeout(me.inner.opts.timeout, me.run(&rid, record)).await {
                Ok(Ok(digest)) => {
                    let _ = me
                        .finish(&rid, BuildStatus::Succeeded, None, Some(digest))
                        .await;
                }
                Ok(Err(e)) => {
                    let reason = e.to_string();
                    me.say(&rid, format!("build failed: {reason}"));
                    let _ = me
                        .finish(&rid, BuildStatus::Failed, Some(reason), None)
                        .await;
                }
                Err(_) => {
                    let reason = format!(
                        "took longer than the {}s allowed",
                        me.inner.opts.timeout.as_secs()
                    );
                    me.say(&rid, format!("build failed: {reason}"));
                    let _ = me
                        .finish(&rid, BuildStatus::Failed, Some(reason), None)
                        .await;
                }
            }
        });
        if let Ok(mut r) = self.inner.running.lock() {
            r.insert(id.clone(), task.abort_handle());
        }
        let outcome = task.await;
        if let Ok(mut r) = self.inner.running.lock() {
            r.remove(&id);
        }
        // A cancelled build was ended by `cancel`; one whose task panicked
        // ends failed here (and its followers are told).
        if outcome.as_ref().is_err_and(|e| e.is_panic()) {
            let _ = self
                .finish(
                    &id,
                    BuildStatus::Failed,
                    Some("the build stopped unexpectedly".into()),
                    None,
                )
                .await;
        }
    }

    /// Runs a build; the pushed manifest's digest, or why it failed (its
    /// message is the reason the record keeps).
    async fn run(&self, id: &str, record: BuildRecord) -> Result<String> {
        let p = self
            .project(&record.project)
            .await
            .map_err(|e| e.at_step("the project is gone"))?;
        let files = check_definition(&p.dockerfile, &p.files)?;
        let context = context_tar(&p.dockerfile, &files)?;
        let source = format!("sha256:{:x}", Sha256::digest(&context));
        let now = self.inner.clock.rfc3339();
        // Plugins first: they may refuse the build before it takes an engine.
        let mut prepared = Prepared::default();
        // What each of the project's plugins sees of the build.
        let inputs: Vec<(&str, BuildInput<'_>)> = p
            .plugins
            .iter()
            .map(|r| {
                let input = BuildInput {
                    project: &p,
                    tag: &record.tag,
                    operator: &record.operator,
                    source_digest: &source,
                    now: &now,
                    params: &r.params,
                };
                (r.name.as_str(), input)
            })
            .collect();
        for (name, input) in &inputs {
            self.inner.plugins.get(name)?.before(input, &mut prepared)?;
        }
        for n in std::mem::take(&mut prepared.notes) {
            self.say(id, n);
        }
        // An engine, as the scheduler places a small container there:
        // one labelled with the project's Cluster when any engine is.
        let labelled = self
            .inner
            .cluster
            .engines()
            .await
            .iter()
            .any(|e| e.record.engine.labels.contains(&p.cluster));
        let request = ImageConfig {
            name: record.image.clone(),
            cpus: self.inner.opts.cpus,
            memory: self.inner.opts.memory,
            kind: ContainerType::Service,
            labels: if labelled {
                vec![p.cluster.clone()]
            } else {
                Vec::new()
            },
            ..ImageConfig::default()
        };
        // The build's room is held with the scheduler while it runs, as a
        // container's would be; given back when this ends, however.
        let mut held =
            crate::sched::Request::from_image_config(&request, crate::sched::Strategy::Spread, 1)
                .map_err(|e| e.at_step("no engine can build"))?;
        held.footprint.name = format!("build:{id}");
        let placed = self
            .inner
            .cluster
            .hold_reservation(&held)
            .await
            .map_err(|e| e.at_step("no engine can build"))?;
        let _held = HeldRoom {
            cluster: self.inner.cluster.clone(),
            name: held.footprint.name.clone(),
        };
        let engine = placed
            .assignments
            .first()
            .map(|a| a.engine.clone())
            .ok_or_else(|| Error::build_failed("no engine can build"))?;
        // The builder's push password goes only to engines an admin
        // registered.
        if !self.inner.cluster.trusted(&engine).await {
            return Err(Error::build_failed(format!(
                "engine {engine} was registered by an account that is not an admin: builds, which push with the builder's credentials, do not run there"
            )));
        }
        let slots = {
            let mut e = self
                .inner
                .engines
                .lock()
                .map_err(|_| Error::build_failed("engine table poisoned"))?;
            e.entry(engine.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(self.inner.opts.per_engine.max(1))))
                .clone()
        };
        self.say(id, format!("waiting for a build slot on engine {engine}"));
        let _slot = slots
            .acquire_owned()
            .await
            .map_err(|_| Error::build_failed("the engine's build slots are closed"))?;
        self.mark_running(id, &engine, &source).await?;
        self.say(id, format!("building {} on engine {engine}", record.image));
        let backend = self.inner.cluster.backend(&engine).await?;
        // The plugins' labels as one LABEL instruction at the end (the
        // engine's `labels` parameter costs a build step per label).
        let context = if prepared.labels.is_empty() {
            context
        } else {
            let quote = |v: &str| {
                let clean: String = v.chars().filter(|c| !c.is_control()).collect();
                format!("\"{}\"", clean.replace('\\', "\\\\").replace('"', "\\\""))
            };
            let pairs: Vec<String> = prepared
                .labels
                .iter()
                .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
                .collect();
            let dockerfile = format!("{}\nLABEL {}\n", p.dockerfile.trim_end(), pairs.join(" "));
            context_tar(&dockerfile, &files)?
        };
        // The image goes by a name of the build's own until its push: a
        // build that fails before it never takes the target's name on the
        // engine (where containers would run it without a pull).
        let mut names = EngineNames {
            backend: backend.clone(),
            own: build_image_name(&record.id),
            target: None,
            done: false,
        };
        let pushed = self
            .build_and_push(id, backend.as_ref(), context, &record, &mut names)
            .await;
        names.clean(pushed.is_err()).await;
        let digest = pushed?;
        for (name, input) in &inputs {
            if let Ok(plugin) = self.inner.plugins.get(name) {
                for l in plugin.after(input) {
                    self.say(id, l);
                }
            }
        }
        self.say(id, format!("pushed {}@{digest}", record.image));
        Ok(digest)
    }

    /// Builds the context on `backend` under the build's own name, tags
    /// it with the target's name, pushes it and checks what the registry
    /// holds; the pushed manifest's digest.
    async fn build_and_push(
        &self,
        id: &str,
        backend: &dyn EngineBackend,
        context: Vec<u8>,
        record: &BuildRecord,
        names: &mut EngineNames,
    ) -> Result<String> {
        let options = BuildOptions {
            tag: names.own.clone(),
            dockerfile: "Dockerfile".into(),
            memory: self.inner.opts.memory,
            cpus: crate::model::millicpus(self.inner.opts.cpus),
            ..BuildOptions::default()
        };
        let mut out = backend.build_image(context, &options);
        let mut image_id = None;
        while let Some(msg) = out.next().await {
            match msg {
                Ok(BuildOutput::Log(line)) => {
                    for l in line.lines() {
                        self.say(id, l.to_string());
                    }
                }
                Ok(BuildOutput::ImageId(i)) => image_id = Some(i),
                Err(e) => return Err(e),
            }
        }
        let image_id =
            image_id.ok_or_else(|| Error::build_failed("the engine reported no image"))?;
        // Named as the target only now, right before its push.
        names.target = Some(record.image.clone());
        backend
            .tag_image(&names.own, &record.image)
            .await
            .map_err(|e| e.at_step(format!("cannot tag {image_id} as {}", record.image)))?;
        self.say(id, format!("built {image_id}; pushing {}", record.image));
        let mut push = backend.push_image(&record.image, self.inner.opts.push_auth.clone());
        // The engine's last message names the pushed manifest:
        // `1.0: digest: sha256:… size: 528`.
        let mut pushed = None;
        while let Some(p) = push.next().await {
            match p {
                // Per-layer progress stays out of the log.
                Ok(p)
                    if p.id.is_none()
                        && !p.status.is_empty()
                        && !LAYER_PROGRESS.iter().any(|s| p.status.starts_with(s)) =>
                {
                    if let Some(d) = p
                        .status
                        .split_once("digest: ")
                        .and_then(|(_, rest)| rest.split_whitespace().next())
                        .and_then(|d| crate::registry::Digest::parse(d).ok())
                    {
                        pushed = Some(d);
                    }
                    self.say(id, p.status);
                }
                Ok(_) => {}
                Err(e) => return Err(e.at_step("push")),
            }
        }
        // shipd's registry holds it now: its digest must be the pushed one.
        // The repository is the one the record names (`{host}/{repo}:{tag}`,
        // checked when the build was queued), whatever the project says now.
        let repo_name = record
            .image
            .strip_suffix(&format!(":{}", record.tag))
            .and_then(|i| i.split_once('/'))
            .map(|(_, repo)| repo)
            .ok_or_else(|| {
                Error::build_failed(format!(
                    "the build's image {} names no repository",
                    record.image
                ))
            })?;
        let repo = Repository::parse(repo_name)?;
        let tag = Reference::parse(&record.tag)?;
        let held = self.inner.registry.resolve(&repo, &tag).await.ok();
        let digest = match (pushed, held) {
            (Some(p), Some(h)) if p != h => {
                return Err(Error::build_failed(format!(
                    "the engine pushed {p}, but the registry holds {h} for {repo}:{}",
                    record.tag
                )))
            }
            (Some(d), _) | (None, Some(d)) => d,
            (None, None) => return Err(Error::build_failed("the push reported no digest")),
        };
        Ok(digest.to_string())
    }

    /// Marks a build running on `engine`, with the digest of the context
    /// it builds (the project may have changed since it was queued).
    async fn mark_running(&self, id: &str, engine: &str, source: &str) -> Result<()> {
        let (project, n) = split_id(id)?;
        let key = record_key(project, n);
        for _ in 0..5 {
            let Some((mut r, rev)) =
                get_json::<BuildRecord>(self.inner.store.as_ref(), &key).await?
            else {
                return Err(Error::build_failed("the build record is gone"));
            };
            if r.status != BuildStatus::Queued {
                return Err(Error::build_failed(format!("the build is {}", r.status)));
            }
            r.status = BuildStatus::Running;
            r.started = Some(self.inner.clock.rfc3339());
            r.engine = Some(engine.to_string());
            r.source_digest = source.to_string();
            match put_json(self.inner.store.as_ref(), &key, &r, Expect::Revision(rev)).await {
                Ok(_) => return Ok(()),
                Err(Error::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::build_failed("the build record kept changing"))
    }
}

/// The build service as one owner reaches it ([`Builds::acting_as`]): what
/// the APIs call for their caller. The owner sees (lists, reads, follows)
/// and changes (saves, builds, cancels, deletes, clones from) its own
/// projects and their builds; `admin` and roles with `all-builds:ro`/`rw`
/// reach everyone's. A project that is not the owner's answers exactly as
/// a missing one. A build pushes only where the owner may write
/// ([`check_push`]): checked when a save names the target and again at
/// every build.
#[derive(Debug, Clone)]
pub struct ActingAs {
    builds: Builds,
    owner: Owner,
}

impl ActingAs {
    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// Creates a project owned by the owner. Its `Cluster` is
    /// `default_cluster` when the owner may push there, else the owner's
    /// namespace (`model::default_cluster`).
    pub async fn create(&self, name: &str) -> Result<BuildProject> {
        self.builds.create_by(&self.owner, name).await
    }

    /// Saves a project: creates it (`add`, owned by the owner) or changes
    /// one the owner may change.
    pub async fn save(&self, name: &str, add: bool, change: ProjectChange) -> Result<BuildProject> {
        self.builds.save_by(&self.owner, name, add, change).await
    }

    /// Copies a project the owner may change into a new one of its own.
    pub async fn clone_project(&self, src: &str, dst: &str) -> Result<BuildProject> {
        self.builds.clone_by(&self.owner, src, dst).await
    }

    /// A project the owner may see.
    pub async fn project(&self, name: &str) -> Result<BuildProject> {
        self.builds.project_by(&self.owner, name).await
    }

    /// The projects the owner may see whose name holds `filter`.
    pub async fn projects(&self, filter: &str) -> Result<Vec<BuildProject>> {
        self.builds.projects_by(&self.owner, filter).await
    }

    /// Deletes a project the owner may change.
    pub async fn delete(&self, name: &str) -> Result<()> {
        self.builds.delete_by(&self.owner, name).await
    }

    /// Queues a build of a project the owner may change, into a
    /// repository the owner may push to.
    pub async fn build(&self, project: &str, tag: &str) -> Result<BuildRecord> {
        self.builds.build_by(&self.owner, project, tag).await
    }

    /// The builds of a project the owner may see.
    pub async fn history(&self, project: &str) -> Result<Vec<BuildRecord>> {
        self.builds.history_by(&self.owner, project).await
    }

    /// A build of a project the owner may see (`write`: change); else
    /// missing, as a build that does not exist.
    async fn owned_record(&self, id: &str, write: bool) -> Result<BuildRecord> {
        let r = self.builds.record(id).await?;
        match get_json::<BuildProject>(self.builds.inner.store.as_ref(), &project_key(&r.project))
            .await?
        {
            Some((p, _)) if self.owner.may(AREA, &p.owner, write) => Ok(r),
            _ => Err(Error::missing("build", id)),
        }
    }

    /// A build's record.
    pub async fn record(&self, id: &str) -> Result<BuildRecord> {
        self.owned_record(id, false).await
    }

    /// A build's log so far.
    pub async fn log(&self, id: &str) -> Result<Vec<String>> {
        self.owned_record(id, false).await?;
        self.builds.log(id).await
    }

    /// Follows a build's log from line `from`.
    pub async fn follow(
        &self,
        id: &str,
        from: usize,
    ) -> Result<futures::stream::BoxStream<'static, LogEvent>> {
        self.owned_record(id, false).await?;
        self.builds.follow(id, from).await
    }

    /// Cancels a build of a project the owner may change.
    pub async fn cancel(&self, id: &str) -> Result<BuildRecord> {
        self.owned_record(id, true).await?;
        self.builds.cancel(id).await
    }
}

/// The names a build gives its image on the engine: its own, and the
/// target's once tagged for the push. After a push the build's own name
/// goes; after a failure both do (the engine keeps no image of the
/// target's name that its registry does not hold). A build that is
/// cancelled or times out mid-way drops these, and they go then.
struct EngineNames {
    backend: Arc<dyn EngineBackend>,
    own: String,
    target: Option<String>,
    done: bool,
}

impl EngineNames {
    fn gone(&mut self, failed: bool) -> Vec<String> {
        self.done = true;
        let mut names = Vec::new();
        if failed {
            names.extend(self.target.take());
        }
        names.push(std::mem::take(&mut self.own));
        names
    }

    async fn clean(&mut self, failed: bool) {
        for name in self.gone(failed) {
            // Untags (the image stays while another name holds it); an
            // image that was never made is no failure.
            let _ = self.backend.remove_image(&name, false).await;
        }
    }
}

impl Drop for EngineNames {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let names = self.gone(true);
        let backend = self.backend.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                for name in names {
                    let _ = backend.remove_image(&name, false).await;
                }
            });
        }
    }
}

/// A broadcast receiver as a stream (lagging followers lose lines, and
/// are told by a gap in the numbers).
fn broadcast_stream(
    rx: broadcast::Receiver<LogEvent>,
) -> impl futures::Stream<Item = LogEvent> + Send + 'static {
    futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(e) => return Some((e, rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

/// A build's room held with the scheduler, given back when dropped (the
/// build ended, failed, was cancelled or its task went away).
struct HeldRoom {
    cluster: crate::cluster::Cluster,
    name: String,
}

impl Drop for HeldRoom {
    fn drop(&mut self) {
        let (cluster, name) = (self.cluster.clone(), std::mem::take(&mut self.name));
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { cluster.release_reservation(&name).await });
        }
    }
}
