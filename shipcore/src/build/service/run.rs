//! Running one build: plugins, an engine held with the scheduler, a slot
//! on it, the build under the build's own name, then tag, push, check.

#[allow(clippy::wildcard_imports)]
use super::*;

/// How often a running build looks at its engine's health.
const ENGINE_WATCH: Duration = Duration::from_secs(1);

impl Builds {
    pub(super) async fn run_one(&self, id: String) {
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
    pub(super) async fn run(&self, id: &str, record: BuildRecord) -> Result<String> {
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
        let (engine, _held) = self.hold_engine(id, &p, &record).await?;
        let slots = self.slots(&engine)?;
        self.say(id, format!("waiting for a build slot on engine {engine}"));
        let _slot = slots
            .acquire_owned()
            .await
            .map_err(|_| Error::build_failed("the engine's build slots are closed"))?;
        self.mark_running(id, &engine, &source).await?;
        self.say(id, format!("building {} on engine {engine}", record.image));
        let backend = self.inner.cluster.backend(&engine).await?;
        let context = if prepared.labels.is_empty() {
            context
        } else {
            labelled(&p.dockerfile, &files, &prepared.labels)?
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
        // A frozen engine answers nothing and ends no stream: the health
        // checks tell, or the build would wait out its whole time limit.
        let (pushed, lost) = tokio::select! {
            pushed = self.build_and_push(id, backend.as_ref(), context, &record, &mut names) => (pushed, false),
            lost = self.engine_lost(&engine) => (Err(lost), true),
        };
        if lost {
            // Not waited for: the build's names on the engine are removed
            // in the background (`EngineNames`' drop), so the failure is
            // told now, not after the engine's timeouts.
            drop(names);
        } else {
            names.clean(pushed.is_err()).await;
        }
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

    /// Resolves once the cluster's health checks find `engine` not
    /// answering (they run while the build does; one that fails marks it).
    async fn engine_lost(&self, engine: &str) -> Error {
        loop {
            tokio::time::sleep(ENGINE_WATCH).await;
            if self.inner.cluster.health(engine).await == Some(crate::model::Health::Unhealthy) {
                return Error::build_failed(format!(
                    "engine {engine} stopped answering during the build (its health check failed)"
                ));
            }
        }
    }

    /// An engine for a build, as the scheduler places a small container
    /// there (one labelled with the project's Cluster when any engine is),
    /// with the build's room held there until the returned guard drops.
    pub(super) async fn hold_engine(
        &self,
        id: &str,
        p: &BuildProject,
        record: &BuildRecord,
    ) -> Result<(String, HeldRoom)> {
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
        let held_room = HeldRoom {
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
        Ok((engine, held_room))
    }

    /// The build slots of `engine` (`per_engine` at once).
    pub(super) fn slots(&self, engine: &str) -> Result<Arc<Semaphore>> {
        let mut e = self
            .inner
            .engines
            .lock()
            .map_err(|_| Error::build_failed("engine table poisoned"))?;
        Ok(e.entry(engine.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.inner.opts.per_engine.max(1))))
            .clone())
    }

    /// Builds the context on `backend` under the build's own name, tags
    /// it with the target's name, pushes it and checks what the registry
    /// holds; the pushed manifest's digest.
    pub(super) async fn build_and_push(
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
    pub(super) async fn mark_running(&self, id: &str, engine: &str, source: &str) -> Result<()> {
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

/// The names a build gives its image on the engine: its own, and the
/// target's once tagged for the push. After a push the build's own name
/// goes; after a failure both do (the engine keeps no image of the
/// target's name that its registry does not hold). A build that is
/// cancelled or times out mid-way drops these, and they go then.
pub(super) struct EngineNames {
    backend: Arc<dyn EngineBackend>,
    own: String,
    target: Option<String>,
    done: bool,
}

impl EngineNames {
    pub(super) fn gone(&mut self, failed: bool) -> Vec<String> {
        self.done = true;
        let mut names = Vec::new();
        if failed {
            names.extend(self.target.take());
        }
        names.push(std::mem::take(&mut self.own));
        names
    }

    pub(super) async fn clean(&mut self, failed: bool) {
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

/// A build's room held with the scheduler, given back when dropped (the
/// build ended, failed, was cancelled or its task went away).
pub(super) struct HeldRoom {
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

/// The context again, with the plugins' labels as one LABEL instruction at
/// the end of its Dockerfile (the engine's `labels` parameter costs a build
/// step per label).
fn labelled(
    dockerfile: &str,
    files: &BTreeMap<String, Vec<u8>>,
    labels: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let quote = |v: &str| {
        let clean: String = v.chars().filter(|c| !c.is_control()).collect();
        format!("\"{}\"", clean.replace('\\', "\\\\").replace('"', "\\\""))
    };
    let pairs: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
        .collect();
    let dockerfile = format!("{}\nLABEL {}\n", dockerfile.trim_end(), pairs.join(" "));
    context_tar(&dockerfile, files)
}
