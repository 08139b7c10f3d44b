//! `FakeEngine`: an in-memory engine backend for tests, benches and
//! simulated clusters. Containers and images live in a map; the engine can be
//! taken down and brought back (`set_up`), and it can be slowed down, so the
//! service layer can be exercised without Docker. Builds, image archives and
//! events are not simulated: they answer an engine error.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream;

use super::*;
use crate::error::Error;

#[derive(Debug, Default)]
struct World {
    /// By id.
    containers: BTreeMap<String, FakeContainer>,
    /// Container ids by name.
    names: HashMap<String, String>,
    images: BTreeMap<String, ImageDetails>,
    volumes: BTreeMap<String, VolumeInfo>,
    networks: BTreeMap<String, NetworkSpec>,
}

/// A container of a fake engine: what differs between containers, and
/// what a deploy's replicas share (their spec, without the name), held once
/// so a simulated cluster of a million containers stays small.
#[derive(Debug)]
struct FakeContainer {
    id: String,
    name: String,
    spec: Arc<ContainerSpec>,
    state: RunState,
    ports: Vec<crate::model::Port>,
}

impl FakeContainer {
    fn details(&self) -> ContainerDetails {
        let s = &self.spec;
        ContainerDetails {
            id: self.id.clone(),
            name: self.name.clone(),
            image: s.image.clone(),
            labels: s.labels.clone(),
            env: s.env.clone(),
            cmd: s.cmd.clone(),
            hostname: match s.hostname.is_empty() {
                // Docker names a container's host by its id.
                true => self.id[..12].to_string(),
                false => s.hostname.clone(),
            },
            ports: self.ports.clone(),
            restart_policy: s.restart_policy.clone(),
            cpus: s.cpus,
            memory: s.memory,
            state: self.state.clone(),
            ..Default::default()
        }
    }
}

/// Specs shared between containers (and engines of one connector), by
/// their JSON.
type Specs = Arc<Mutex<HashMap<String, Arc<ContainerSpec>>>>;

/// An engine in memory. Cheap to clone; clones share the world.
#[derive(Debug, Clone)]
pub struct FakeEngine {
    id: String,
    info: EngineInfo,
    world: Arc<Mutex<World>>,
    up: Arc<AtomicBool>,
    delay_ms: Arc<AtomicU64>,
    next: Arc<AtomicU64>,
    /// The first half of every container id: the engine id hashed, so ids
    /// are unique across engines.
    prefix: String,
    faults: Arc<Mutex<BTreeMap<&'static str, Fault>>>,
    specs: Specs,
}

/// Injected behaviour of one operation.
#[derive(Debug, Default)]
struct Fault {
    skip: u32,
    fails: u32,
    delay: Duration,
    calls: u64,
}

/// A [`Connector`] of fake engines: one shared
/// `FakeEngine` per engine id, made on first connect with the capacity and
/// images given here, and reachable by id so tests can look inside or take
/// an engine down.
#[derive(Debug)]
pub struct FakeConnector {
    cpus: u64,
    memory: u64,
    images: Vec<String>,
    engines: Mutex<BTreeMap<String, FakeEngine>>,
    specs: Specs,
}

impl FakeConnector {
    /// Engines of `cpus` millicpus and `memory` MiB, holding `images`.
    pub fn new(cpus: u64, memory: u64, images: &[&str]) -> Self {
        FakeConnector {
            cpus,
            memory,
            images: images.iter().map(|i| i.to_string()).collect(),
            engines: Mutex::default(),
            specs: Specs::default(),
        }
    }

    /// The engine of `id` (made now if no record connected to it yet).
    pub fn engine(&self, id: &str) -> FakeEngine {
        let images: Vec<&str> = self.images.iter().map(String::as_str).collect();
        let mut engines = self.engines.lock().unwrap_or_else(|e| e.into_inner());
        engines
            .entry(id.to_string())
            .or_insert_with(|| {
                let mut e = FakeEngine::new(id, self.cpus, self.memory, &images);
                e.specs = self.specs.clone();
                e
            })
            .clone()
    }
}

impl Connector for FakeConnector {
    fn connect(&self, record: &crate::model::EngineRecord) -> Result<Arc<dyn EngineBackend>> {
        Ok(Arc::new(self.engine(&record.engine.id)))
    }
}

impl FakeEngine {
    /// An engine with `cpus` millicpus and `memory` MiB, holding `images`.
    pub fn new(id: &str, cpus: u64, memory: u64, images: &[&str]) -> Self {
        let world = World {
            images: images
                .iter()
                .map(|i| {
                    (
                        i.to_string(),
                        ImageDetails {
                            id: format!("sha256:{i}"),
                            tags: vec![i.to_string()],
                            ..Default::default()
                        },
                    )
                })
                .collect(),
            ..Default::default()
        };
        FakeEngine {
            id: id.into(),
            info: EngineInfo {
                id: id.into(),
                name: id.into(),
                cpus,
                memory,
                version: "fake".into(),
                os_type: "linux".into(),
                arch: "x86_64".into(),
                ..Default::default()
            },
            world: Arc::new(Mutex::new(world)),
            up: Arc::new(AtomicBool::new(true)),
            delay_ms: Arc::new(AtomicU64::new(0)),
            next: Arc::new(AtomicU64::new(1)),
            faults: Arc::default(),
            specs: Specs::default(),
            prefix: {
                use sha2::Digest as _;
                let d: [u8; 32] = sha2::Sha256::digest(id.as_bytes()).into();
                crate::model::Digest::sha256(&d).hex()[..32].to_string()
            },
        }
    }

    /// Takes the engine down (every call fails as unreachable) or back up.
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    /// Makes every call wait this long first.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Makes the next `times` calls of `op` fail with an engine error.
    /// Operations: `ping`, `info`, `create`, `start`, `stop`, `restart`,
    /// `remove`, `inspect`, `list`, `pull`, `images`, `inspect_image`, ...
    pub fn fail(&self, op: &'static str, times: u32) {
        self.fail_after(op, 0, times);
    }

    /// Lets the next `ok` calls of `op` through, then fails `times` of them.
    pub fn fail_after(&self, op: &'static str, ok: u32, times: u32) {
        let mut faults = self.faults();
        let f = faults.entry(op).or_default();
        f.skip = ok;
        f.fails = times;
    }

    /// Makes every call of `op` wait this long (on top of [`Self::set_delay`]).
    pub fn delay(&self, op: &'static str, delay: Duration) {
        self.faults().entry(op).or_default().delay = delay;
    }

    /// Ends a container as if its process exited with `code`, behind the
    /// cluster's back.
    pub fn exit(&self, id: &str, code: i64) -> Result<()> {
        self.with_container(id, |c| {
            c.state.running = false;
            c.state.status = "exited".into();
            c.state.exit_code = code;
        })
    }

    /// The spec a container was created from (what the engine was asked).
    pub fn spec(&self, id: &str) -> Option<ContainerSpec> {
        self.world().containers.get(id).map(|c| {
            let mut spec = (*c.spec).clone();
            spec.name = Some(c.name.clone());
            spec
        })
    }

    /// How many calls of `op` were made.
    pub fn calls(&self, op: &str) -> u64 {
        self.faults().get(op).map_or(0, |f| f.calls)
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Fault>> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn gate(&self, op: &'static str) -> Result<()> {
        let ms = self.delay_ms.load(Ordering::SeqCst);
        let delay = {
            let mut faults = self.faults();
            let f = faults.entry(op).or_default();
            f.calls += 1;
            Duration::from_millis(ms) + f.delay
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if !self.up.load(Ordering::SeqCst) {
            return Err(Error::Unreachable {
                engine: self.id.clone(),
                addr: "fake".into(),
                reason: "the engine is down".into(),
            });
        }
        let mut faults = self.faults();
        let f = faults.entry(op).or_default();
        if f.skip > 0 {
            f.skip -= 1;
        } else if f.fails > 0 {
            f.fails -= 1;
            return Err(Error::EngineApi {
                engine: self.id.clone(),
                status: 500,
                message: format!("injected failure of {op}"),
            });
        }
        Ok(())
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        // A poisoned lock only means a test panicked elsewhere; the data is fine.
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn missing(&self, kind: &str, id: &str) -> Error {
        Error::NotFound {
            engine: self.id.clone(),
            kind: kind.into(),
            id: id.into(),
        }
    }

    fn unsupported(&self, what: &str) -> Error {
        Error::EngineApi {
            engine: self.id.clone(),
            status: 501,
            message: format!("the fake engine does not {what}"),
        }
    }

    fn with_container<T>(&self, id: &str, f: impl FnOnce(&mut FakeContainer) -> T) -> Result<T> {
        let mut w = self.world();
        let key = match w.containers.contains_key(id) {
            true => Some(id.to_string()),
            false => w.names.get(id).cloned(),
        };
        match key.and_then(|k| w.containers.get_mut(&k)) {
            Some(c) => Ok(f(c)),
            None => Err(self.missing("container", id)),
        }
    }
}

#[async_trait]
impl EngineBackend for FakeEngine {
    async fn ping(&self) -> Result<()> {
        self.gate("ping").await
    }

    async fn info(&self) -> Result<EngineInfo> {
        self.gate("info").await?;
        let w = self.world();
        Ok(EngineInfo {
            containers: w.containers.len() as u64,
            images: w.images.len() as u64,
            ..self.info.clone()
        })
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        self.gate("create").await?;
        let mut w = self.world();
        if !w.images.contains_key(&spec.image) {
            return Err(self.missing("image", &spec.image));
        }
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        // Unique across engines: the engine's id hashed, then a counter.
        let id = format!("{}{n:032x}", &self.prefix);
        let name = spec.name.clone().unwrap_or_else(|| format!("fake-{n}"));
        if w.names.contains_key(&name) {
            return Err(Error::EngineConflict {
                engine: self.id.clone(),
                message: format!("name {name} in use"),
            });
        }
        let ports = spec
            .ports
            .iter()
            .map(|p| crate::model::Port {
                container_port: u32::from(p.container_port),
                port: u32::from(if p.host_port == 0 {
                    30000 + (n % 30000) as u16
                } else {
                    p.host_port
                }),
                proto: p.proto,
                host_ip: p.host_ip.clone(),
            })
            .collect();
        let shared = {
            let mut shared = spec.clone();
            shared.name = None;
            let key = serde_json::to_string(&shared).unwrap_or_default();
            let mut specs = self.specs.lock().unwrap_or_else(|p| p.into_inner());
            specs.entry(key).or_insert_with(|| Arc::new(shared)).clone()
        };
        w.names.insert(name.clone(), id.clone());
        w.containers.insert(
            id.clone(),
            FakeContainer {
                id: id.clone(),
                name,
                spec: shared,
                state: RunState {
                    status: "created".into(),
                    ..Default::default()
                },
                ports,
            },
        );
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        self.gate("start").await?;
        self.with_container(id, |c| {
            c.state.running = true;
            c.state.status = "running".into();
            c.state.pid = 1;
            // A fake engine keeps its own time, as a real one does.
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            c.state.started_at = crate::model::rfc3339(secs);
        })
    }

    async fn stop_container(&self, id: &str, _timeout: Option<Duration>) -> Result<()> {
        self.gate("stop").await?;
        self.with_container(id, |c| {
            c.state.running = false;
            c.state.status = "exited".into();
        })
    }

    async fn kill_container(&self, id: &str, _signal: &str) -> Result<()> {
        self.stop_container(id, None).await
    }

    async fn restart_container(&self, id: &str, _timeout: Option<Duration>) -> Result<()> {
        self.start_container(id).await
    }

    async fn remove_container(&self, id: &str, force: bool, _volumes: bool) -> Result<()> {
        self.gate("remove").await?;
        let running = self.with_container(id, |c| (c.id.clone(), c.state.running))?;
        if running.1 && !force {
            return Err(Error::EngineConflict {
                engine: self.id.clone(),
                message: "the container is running".into(),
            });
        }
        let mut w = self.world();
        if let Some(c) = w.containers.remove(&running.0) {
            w.names.remove(&c.name);
        }
        Ok(())
    }

    async fn inspect_container(&self, id: &str) -> Result<ContainerDetails> {
        self.gate("inspect").await?;
        let w = self.world();
        let id = w.names.get(id).map_or(id, String::as_str);
        match w.containers.get(id) {
            Some(c) => Ok(c.details()),
            None => Err(self.missing("container", id)),
        }
    }

    async fn wait_container(&self, id: &str, next_exit: bool) -> Result<i64> {
        loop {
            let d = self.inspect_container(id).await?;
            let not_started = next_exit && d.state.status == "created";
            if !d.state.running && !not_started {
                return Ok(d.state.exit_code);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn list_containers(&self, filter: &ContainerFilter) -> Result<Vec<ContainerSummary>> {
        self.gate("list").await?;
        let w = self.world();
        let matches = |c: &FakeContainer| {
            let labels = &c.spec.labels;
            (filter.all || c.state.running)
                && filter.labels.iter().all(|l| match l.split_once('=') {
                    Some((k, v)) => labels.get(k).map(String::as_str) == Some(v),
                    None => labels.contains_key(l),
                })
                && filter
                    .name
                    .as_ref()
                    .is_none_or(|n| c.name.contains(n.as_str()))
        };
        Ok(w.containers
            .values()
            .filter(|c| matches(c))
            .map(|c| ContainerSummary {
                id: c.id.clone(),
                name: c.name.clone(),
                image: c.spec.image.clone(),
                state: c.state.status.clone(),
                status: if c.state.running {
                    "Up".into()
                } else {
                    format!("Exited ({})", c.state.exit_code)
                },
                labels: c.spec.labels.clone(),
                ports: c.ports.clone(),
                created: 0,
                command: c.spec.cmd.join(" "),
                image_id: String::new(),
                volumes: c
                    .spec
                    .binds
                    .iter()
                    .filter_map(|b| b.split_once(':').map(|(v, _)| v))
                    .filter(|v| !v.starts_with('/'))
                    .map(str::to_string)
                    .collect(),
            })
            .collect())
    }

    fn logs(&self, _id: &str, _options: &LogOptions) -> EngineStream<LogChunk> {
        Box::pin(stream::empty())
    }

    fn pull_image(&self, reference: &str, _auth: Option<RegistryAuth>) -> EngineStream<Progress> {
        let engine = self.clone();
        let reference = reference.to_string();
        Box::pin(stream::once(async move {
            engine.gate("pull").await?;
            engine
                .world()
                .images
                .entry(reference.clone())
                .or_insert_with(|| ImageDetails {
                    id: format!("sha256:{reference}"),
                    tags: vec![reference.clone()],
                    ..Default::default()
                });
            Ok(Progress {
                status: format!("Status: Downloaded newer image for {reference}"),
                ..Default::default()
            })
        }))
    }

    /// Pushes nowhere: answers as the engine's last push message does
    /// (`{tag}: digest: sha256:… size: …`) for an image it holds.
    fn push_image(&self, reference: &str, _auth: Option<RegistryAuth>) -> EngineStream<Progress> {
        let engine = self.clone();
        let reference = reference.to_string();
        Box::pin(stream::once(async move {
            engine.gate("push").await?;
            let id = engine
                .world()
                .images
                .get(&reference)
                .map(|i| i.id.clone())
                .ok_or_else(|| engine.missing("image", &reference))?;
            let tag = reference.rsplit_once(':').map_or("latest", |(_, t)| t);
            Ok(Progress {
                status: format!("{tag}: digest: {id} size: 528"),
                ..Default::default()
            })
        }))
    }

    async fn list_images(&self) -> Result<Vec<ImageSummary>> {
        self.gate("images").await?;
        Ok(self
            .world()
            .images
            .values()
            .map(|i| ImageSummary {
                id: i.id.clone(),
                tags: i.tags.clone(),
                ..Default::default()
            })
            .collect())
    }

    async fn inspect_image(&self, reference: &str) -> Result<ImageDetails> {
        self.gate("inspect_image").await?;
        self.world()
            .images
            .get(reference)
            .cloned()
            .ok_or_else(|| self.missing("image", reference))
    }

    async fn remove_image(&self, reference: &str, _force: bool) -> Result<()> {
        self.gate("remove_image").await?;
        self.world()
            .images
            .remove(reference)
            .map(|_| ())
            .ok_or_else(|| self.missing("image", reference))
    }

    async fn tag_image(&self, source: &str, target: &str) -> Result<()> {
        self.gate("tag").await?;
        let mut w = self.world();
        let mut image = w
            .images
            .get(source)
            .cloned()
            .ok_or_else(|| self.missing("image", source))?;
        // The image now goes by its new name too, as Docker lists it.
        if !image.tags.iter().any(|t| t == target) {
            image.tags.push(target.to_string());
        }
        w.images.insert(target.to_string(), image);
        Ok(())
    }

    fn save_images(&self, _references: &[String]) -> EngineStream<Vec<u8>> {
        let err = self.unsupported("save images");
        Box::pin(stream::once(async move { Err(err) }))
    }

    async fn load_images(&self, _archive: Vec<u8>) -> Result<()> {
        Err(self.unsupported("load images"))
    }

    async fn create_volume(&self, spec: &VolumeSpec) -> Result<VolumeInfo> {
        self.gate("volume").await?;
        let v = VolumeInfo {
            name: spec.name.clone(),
            driver: if spec.driver.is_empty() {
                "local".into()
            } else {
                spec.driver.clone()
            },
            mountpoint: format!("/fake/volumes/{}", spec.name),
            labels: spec.labels.clone(),
            scope: "local".into(),
        };
        self.world().volumes.insert(spec.name.clone(), v.clone());
        Ok(v)
    }

    async fn inspect_volume(&self, name: &str) -> Result<VolumeInfo> {
        self.gate("volume").await?;
        self.world()
            .volumes
            .get(name)
            .cloned()
            .ok_or_else(|| self.missing("volume", name))
    }

    async fn list_volumes(&self) -> Result<Vec<VolumeInfo>> {
        self.gate("volume").await?;
        Ok(self.world().volumes.values().cloned().collect())
    }

    async fn remove_volume(&self, name: &str, _force: bool) -> Result<()> {
        self.gate("volume").await?;
        self.world()
            .volumes
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| self.missing("volume", name))
    }

    async fn create_network(&self, spec: &NetworkSpec) -> Result<String> {
        self.gate("network").await?;
        self.world()
            .networks
            .insert(spec.name.clone(), spec.clone());
        Ok(format!("net-{}", spec.name))
    }

    async fn connect_network(
        &self,
        network: &str,
        _container: &str,
        _endpoint: &crate::model::Endpoint,
    ) -> Result<()> {
        self.gate("network").await?;
        // By name, or by the id the fake gives (`net-NAME`), as Docker takes either.
        let network = network.strip_prefix("net-").unwrap_or(network);
        if self.world().networks.contains_key(network) {
            Ok(())
        } else {
            Err(self.missing("network", network))
        }
    }

    async fn disconnect_network(&self, network: &str, container: &str, _force: bool) -> Result<()> {
        self.connect_network(network, container, &crate::model::Endpoint::default())
            .await
    }

    async fn list_networks(&self) -> Result<Vec<NetworkInfo>> {
        self.gate("network").await?;
        Ok(self
            .world()
            .networks
            .values()
            .map(|n| NetworkInfo {
                id: format!("net-{}", n.name),
                name: n.name.clone(),
                driver: if n.driver.is_empty() {
                    "bridge".into()
                } else {
                    n.driver.clone()
                },
                labels: n.labels.clone(),
            })
            .collect())
    }

    async fn remove_network(&self, network: &str) -> Result<()> {
        self.gate("network").await?;
        let network = network.strip_prefix("net-").unwrap_or(network);
        self.world()
            .networks
            .remove(network)
            .map(|_| ())
            .ok_or_else(|| self.missing("network", network))
    }

    /// Builds as far as a fake can: reads the context's Dockerfile, says
    /// each step, refuses an unknown instruction or a `FROM` image it does
    /// not hold (as the engine does), and records the image with the
    /// options' tag and labels.
    // Over 80 lines: a test fake's Dockerfile reader, one arm per instruction.
    fn build_image(&self, context: Vec<u8>, options: &BuildOptions) -> EngineStream<BuildOutput> {
        const KNOWN: [&str; 17] = [
            "FROM",
            "RUN",
            "CMD",
            "LABEL",
            "EXPOSE",
            "ENV",
            "ADD",
            "COPY",
            "ENTRYPOINT",
            "VOLUME",
            "USER",
            "WORKDIR",
            "ARG",
            "ONBUILD",
            "STOPSIGNAL",
            "HEALTHCHECK",
            "SHELL",
        ];
        use futures::StreamExt as _;
        let engine = self.clone();
        let options = options.clone();
        Box::pin(
            stream::once(async move {
                engine.gate("build").await?;
                let fail = |status: u16, message: String| Error::EngineApi {
                    engine: engine.id.clone(),
                    status,
                    message,
                };
                let mut dockerfile = String::new();
                let mut archive = tar::Archive::new(&context[..]);
                let entries = archive
                    .entries()
                    .map_err(|e| fail(400, format!("the context is not a tar archive: {e}")))?;
                for e in entries {
                    let mut e = e.map_err(|e| fail(400, format!("the context: {e}")))?;
                    let is_dockerfile = e.path().is_ok_and(|p| p.as_os_str() == "Dockerfile");
                    if is_dockerfile {
                        std::io::Read::read_to_string(&mut e, &mut dockerfile)
                            .map_err(|e| fail(400, format!("the Dockerfile: {e}")))?;
                    }
                }
                let steps: Vec<(usize, &str)> = dockerfile
                    .lines()
                    .enumerate()
                    .map(|(i, l)| (i + 1, l.trim()))
                    .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
                    .collect();
                let mut out = Vec::new();
                let mut labels = options.labels.clone();
                for (k, (line, text)) in steps.iter().enumerate() {
                    let word = text.split_whitespace().next().unwrap_or("").to_uppercase();
                    if !KNOWN.contains(&word.as_str()) {
                        return Err(fail(
                            400,
                            format!(
                                "dockerfile parse error line {line}: unknown instruction: {word}"
                            ),
                        ));
                    }
                    if word == "FROM" {
                        let image = text.split_whitespace().nth(1).unwrap_or("");
                        if image != "scratch" && !engine.world().images.contains_key(image) {
                            return Err(fail(
                                404,
                                format!(
                                    "pull access denied for {image}, repository does not exist"
                                ),
                            ));
                        }
                    }
                    if word == "LABEL" {
                        labels.extend(label_pairs(text[5..].trim()));
                    }
                    out.push(Ok(BuildOutput::Log(format!(
                        "Step {}/{} : {text}",
                        k + 1,
                        steps.len()
                    ))));
                }
                if steps.is_empty() {
                    return Err(fail(400, "the Dockerfile cannot be empty".into()));
                }
                let id = format!(
                    "sha256:{:064x}",
                    context.len() as u128 * 7919 + steps.len() as u128
                );
                engine.world().images.insert(
                    options.tag.clone(),
                    ImageDetails {
                        id: id.clone(),
                        tags: vec![options.tag.clone()],
                        labels,
                        ..Default::default()
                    },
                );
                out.push(Ok(BuildOutput::Log(format!(
                    "Successfully built {}",
                    &id[7..19]
                ))));
                out.push(Ok(BuildOutput::ImageId(id)));
                Ok::<_, Error>(stream::iter(out))
            })
            .map(|r| match r {
                Ok(s) => s.boxed(),
                Err(e) => stream::once(async move { Err(e) }).boxed(),
            })
            .flatten(),
        )
    }

    fn events(&self, _since: Option<i64>) -> EngineStream<EngineEvent> {
        Box::pin(stream::empty())
    }
}

/// The `key=value` pairs of a LABEL instruction (either side may be
/// double-quoted, with `\\` escapes).
fn label_pairs(text: &str) -> Vec<(String, String)> {
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in text.chars() {
        match c {
            _ if escaped => {
                word.push(c);
                escaped = false;
            }
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
        .into_iter()
        .filter_map(|w| {
            w.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}
