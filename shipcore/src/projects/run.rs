//! A project's containers, networks and volumes on its engine: bringing a
//! version's services up in dependency order (independent ones at once),
//! waiting for the conditions dependents ask for, stopping, killing and
//! removing. Everything is read back from the engine by label first, so
//! each step can be repeated after a crash and finishes what was begun.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use futures::future::{BoxFuture, FutureExt};
use futures::StreamExt;

use super::docs::*;
use super::plan::{plan_wave, Step, WaveService};
use crate::cluster::docs::LABEL_ACCOUNT;
use crate::compose::{ComposeFile, Condition, MountKind, NetworkDef, ServiceDef};
use crate::engine::{
    ContainerFile, ContainerFilter, ContainerSpec, ContainerSummary, EngineBackend, HealthSpec,
    NetworkSpec, PortBinding, VolumeSpec,
};
use crate::error::{Error, Result};
use crate::model::Endpoint;

/// The first failure among results of operations on containers, one that
/// is already gone counting as done.
fn all_done(results: Vec<Result<()>>) -> Result<()> {
    for r in results {
        match r {
            Ok(()) | Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The definition of `svc` among a wave's services.
fn def_in<'a>(defs: &[(&str, &'a ServiceDef)], svc: &str) -> Result<&'a ServiceDef> {
    defs.iter()
        .find(|(name, _)| *name == svc)
        .map(|(_, d)| *d)
        .ok_or_else(|| Error::missing("service", svc))
}

/// One project on its engine.
#[derive(Clone)]
pub(super) struct Site {
    pub project: String,
    /// The cluster's identity, the value of the ownership label.
    pub owner: String,
    /// Whom the project's definition was admitted for.
    pub admitted: crate::model::Owner,
    pub engine: String,
    pub backend: Arc<dyn EngineBackend>,
    /// How long a service may take to become what its dependents wait for.
    pub deadline: Duration,
    pub poll: Duration,
    /// Containers created, started or removed at once.
    pub parallelism: usize,
    /// Where relative bind sources the project does not carry are made on
    /// the engine's host.
    pub bind_root: String,
    /// Credentials for the registries images are pulled from.
    pub credentials: crate::engine::RegistryCredentials,
}

/// How a version is brought up.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Mode {
    /// Beside another version: fixed host ports are left to the engine.
    pub overlap: bool,
    /// Pull every image first (`latest_image`, redeploy).
    pub pull: bool,
}

impl Site {
    fn filter(&self, extra: &[(&str, &str)]) -> ContainerFilter {
        let mut labels = vec![
            format!("{LABEL_OWNER}={}", self.owner),
            format!("{LABEL_PROJECT}={}", self.project),
        ];
        labels.extend(extra.iter().map(|(k, v)| format!("{k}={v}")));
        ContainerFilter {
            all: true,
            labels,
            name: None,
        }
    }

    /// The project's containers (all versions, running or not).
    pub async fn containers(&self) -> Result<Vec<ContainerSummary>> {
        self.backend.list_containers(&self.filter(&[])).await
    }

    async fn containers_of(&self, service: &str, version: &str) -> Result<Vec<ContainerSummary>> {
        self.backend
            .list_containers(&self.filter(&[(LABEL_SERVICE, service), (LABEL_VERSION, version)]))
            .await
    }

    /// Docker (before API 1.44) makes a second network of a name that
    /// exists when asked twice: a create still in flight when shipd died,
    /// then asked again after the restart, leaves twins, and every
    /// container that names the network is then refused as ambiguous. Of
    /// this project's twins, those no container uses are removed until one
    /// is left.
    async fn drop_twins(&self, listed: &[crate::engine::NetworkInfo]) -> Result<()> {
        let mut by_name: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for n in listed {
            let ours = n.labels.get(LABEL_PROJECT) == Some(&self.project)
                && n.labels.get(LABEL_OWNER) == Some(&self.owner);
            if ours {
                by_name.entry(&n.name).or_default().push(&n.id);
            }
        }
        for (name, ids) in by_name {
            let mut left = ids.len();
            for id in ids {
                if left == 1 {
                    break;
                }
                match self.backend.remove_network(id).await {
                    Ok(()) | Err(Error::NotFound { .. }) => left -= 1,
                    // In use: this one stays.
                    Err(e) => tracing::debug!(network = %name, error = %e, "a twin network stays"),
                }
            }
            if left > 1 {
                return Err(Error::State {
                    what: format!("network {name}"),
                    state: format!("{left} networks of that name"),
                    reason: format!("containers use each of them on engine {}", self.engine),
                });
            }
        }
        Ok(())
    }

    /// Networks and volumes the file needs, made where missing.
    pub async fn prepare(&self, file: &ComposeFile) -> Result<()> {
        let platforms = file.services.values().any(|s| !s.platform.is_empty());
        if !file.engine_needs().is_empty() || platforms {
            let info = self.backend.info().await?;
            if let Some(why) = file.beyond(&info.api_version, &self.engine) {
                return Err(Error::invalid("template", why));
            }
            if let Some(why) = file.foreign_platform(&info.os_type, &info.arch, &self.engine) {
                return Err(Error::invalid("template", why));
            }
        }
        // Each network on the engine, with its labels.
        let listed = self.backend.list_networks().await?;
        self.drop_twins(&listed).await?;
        let existing: BTreeMap<String, BTreeMap<String, String>> =
            listed.into_iter().map(|n| (n.name, n.labels)).collect();
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        for s in file.services.values() {
            if s.networks.is_empty() && s.network_mode.is_empty() {
                wanted.insert("default".into());
            }
            wanted.extend(s.networks.keys().cloned());
        }
        let none = NetworkDef::default();
        for net in wanted {
            let def = file.networks.get(&net).unwrap_or(&none);
            let name = network_name(&self.project, &net, def);
            if def.external {
                let Some(labels) = existing.get(&name) else {
                    return Err(Error::invalid(
                        "template",
                        format!(
                            "external network {name} does not exist on engine {}: create it first",
                            self.engine
                        ),
                    ));
                };
                self.may_use("network", &name, labels)?;
                continue;
            }
            if existing.contains_key(&name) {
                continue;
            }
            let mut labels = def.labels.clone();
            labels.insert(LABEL_OWNER.into(), self.owner.clone());
            labels.insert(LABEL_PROJECT.into(), self.project.clone());
            labels.insert(LABEL_ACCOUNT.into(), self.admitted.name.clone());
            self.backend
                .create_network(&NetworkSpec {
                    name,
                    driver: def.driver.clone(),
                    labels,
                    driver_opts: def.driver_opts.clone(),
                    internal: def.internal,
                    attachable: def.attachable,
                    enable_ipv6: def.enable_ipv6,
                    ipam_driver: def.ipam_driver.clone(),
                    ipam: def.ipam.clone(),
                })
                .await?;
        }
        for (key, def) in &file.volumes {
            let name = volume_name(&self.project, key, def);
            match self.backend.inspect_volume(&name).await {
                Ok(v) if def.external => self.may_use("volume", &name, &v.labels)?,
                Ok(_) => {}
                Err(Error::NotFound { .. }) if def.external => {
                    return Err(Error::invalid(
                        "template",
                        format!("external volume {name} does not exist on engine {}: create it first (POST /volumes/create)", self.engine),
                    ))
                }
                Err(Error::NotFound { .. }) => {
                    let mut labels = def.labels.clone();
                    labels.insert(LABEL_OWNER.into(), self.owner.clone());
                    labels.insert(LABEL_PROJECT.into(), self.project.clone());
                    labels.insert(LABEL_ACCOUNT.into(), self.admitted.name.clone());
                    self.backend
                        .create_volume(&VolumeSpec {
                            name,
                            driver: def.driver.clone(),
                            driver_opts: def.driver_opts.clone(),
                            labels,
                        })
                        .await?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Whether the project may use an external network or volume with
    /// these labels: not when another cluster made it (its projects' or
    /// its Docker endpoint's), nor when it was made for an account whose
    /// objects the project's owner may not change. One made outside any
    /// cluster (by the engine's operator) is the policy's to admit.
    fn may_use(&self, kind: &str, name: &str, labels: &BTreeMap<String, String>) -> Result<()> {
        let cluster = labels
            .get(LABEL_OWNER)
            .or_else(|| labels.get(crate::cluster::docs::LABEL_CLUSTER));
        if cluster.is_some_and(|c| *c != self.owner) {
            return Err(Error::Forbidden {
                reason: format!("external {kind} {name} belongs to another cluster"),
            });
        }
        match labels.get(LABEL_ACCOUNT) {
            Some(account) if !self.admitted.may("projects", account, true) => {
                Err(Error::Forbidden {
                    reason: format!("external {kind} {name} belongs to another account"),
                })
            }
            _ => Ok(()),
        }
    }

    /// Brings `services` of a version up, wave by wave: each service gets
    /// its replicas (missing ones created, stopped ones started, extra ones
    /// removed), then the services of the wave are waited for as their
    /// dependents ask. Services not in `services` are left as they are.
    pub async fn up(
        &self,
        file: &ComposeFile,
        version: &str,
        replicas: &BTreeMap<String, u32>,
        services: &BTreeSet<String>,
        mode: Mode,
    ) -> Result<()> {
        // Whatever made the definition, what its containers may do to the
        // host is judged again here, under whom it was admitted for.
        file.admit(&self.admitted)?;
        self.prepare(file).await?;
        let aliases = link_aliases(file);
        for wave in file.waves()? {
            let wave: Vec<&String> = wave.iter().filter(|s| services.contains(*s)).collect();
            if wave.is_empty() {
                continue;
            }
            self.converge(file, &wave, version, replicas, mode, &aliases)
                .await?;
            let waits = join_all(wave.iter().filter_map(|svc| {
                let cond = strongest_wait(file, svc)?;
                Some(self.wait_for(file, svc, version, cond))
            }))
            .await;
            waits.into_iter().collect::<Result<Vec<()>>>()?;
        }
        Ok(())
    }

    /// Gives each service of a wave its replicas of `version`: what the
    /// engine holds is listed once; extra, duplicate and misnumbered
    /// containers are removed first (their names and ports are then free),
    /// then stopped ones started and missing ones created, every replica of
    /// the wave at once up to `parallelism` (the engine does not go faster
    /// with more in flight).
    async fn converge(
        &self,
        file: &ComposeFile,
        wave: &[&String],
        version: &str,
        replicas: &BTreeMap<String, u32>,
        mode: Mode,
        aliases: &BTreeMap<String, Vec<String>>,
    ) -> Result<()> {
        let mut defs = Vec::with_capacity(wave.len());
        for svc in wave {
            let def = file
                .services
                .get(*svc)
                .ok_or_else(|| Error::missing("service", svc.as_str()))?;
            defs.push((svc.as_str(), def));
        }
        if mode.pull {
            let images: BTreeSet<&str> = defs.iter().map(|(_, d)| d.image.as_str()).collect();
            for image in images {
                // A registry out of reach is no failure while the engine has the image.
                if let Err(e) = self.pull(image).await {
                    if self.backend.inspect_image(image).await.is_err() {
                        return Err(e);
                    }
                }
            }
        }
        let existing = self
            .backend
            .list_containers(&self.filter(&[(LABEL_VERSION, version)]))
            .await?;
        let wave: Vec<WaveService<'_>> = defs
            .iter()
            .map(|(svc, _)| WaveService {
                name: svc,
                replicas: replicas.get(*svc).copied().unwrap_or(1),
                fixed_ports: file.made_again_alone(svc),
            })
            .collect();
        let steps = plan_wave(&wave, &existing, mode.overlap);
        self.perform(file, &defs, &steps, version, mode, aliases)
            .await
    }

    /// Performs a wave's plan: its removals first, then its starts and
    /// creations, up to `parallelism` at once.
    async fn perform(
        &self,
        file: &ComposeFile,
        defs: &[(&str, &ServiceDef)],
        steps: &[Step],
        version: &str,
        mode: Mode,
        aliases: &BTreeMap<String, Vec<String>>,
    ) -> Result<()> {
        use futures::TryStreamExt;
        let parallelism = self.parallelism.max(1);
        // Futures made up front and boxed: a stream of closures' futures
        // that borrow trips the compiler's Send check in spawned callers.
        let removals: Vec<BoxFuture<'_, Result<()>>> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Remove { id } => Some(self.backend.remove_container(id, true, false)),
                _ => None,
            })
            .collect();
        futures::stream::iter(removals)
            .buffer_unordered(parallelism)
            .try_collect::<Vec<()>>()
            .await?;
        // Services with static addresses start first: the engine gives
        // the others the first free address of the subnet, which may be
        // one of theirs.
        let fixed_address = |svc: &str| {
            def_in(defs, svc).is_ok_and(|d| {
                d.addresses
                    .values()
                    .any(|a| !a.ipv4_address.is_empty() || !a.ipv6_address.is_empty())
            })
        };
        let (first, rest): (Vec<&Step>, Vec<&Step>) = steps.iter().partition(|s| match s {
            Step::Start { service, .. } | Step::Create { service, .. } => fixed_address(service),
            Step::Remove { .. } => false,
        });
        for batch in [first, rest] {
            self.start_steps(file, defs, &batch, version, mode, aliases)
                .await?;
        }
        Ok(())
    }

    /// Starts and creates the containers of `steps`, up to `parallelism`
    /// at once.
    async fn start_steps<'a>(
        &'a self,
        file: &'a ComposeFile,
        defs: &'a [(&'a str, &'a ServiceDef)],
        steps: &[&'a Step],
        version: &'a str,
        mode: Mode,
        aliases: &'a BTreeMap<String, Vec<String>>,
    ) -> Result<()> {
        use futures::TryStreamExt;
        let parallelism = self.parallelism.max(1);
        let mut starts: Vec<BoxFuture<'a, Result<()>>> = Vec::new();
        for step in steps.iter().copied() {
            let fut = match step {
                Step::Remove { .. } => continue,
                Step::Start { id, .. } => self.backend.start_container(id),
                Step::Create { service, number } => {
                    let def = def_in(defs, service)?;
                    let (svc, n) = (service.as_str(), *number);
                    async move {
                        let spec = self.spec(file, svc, def, version, n, mode, aliases);
                        let id = self.create(&spec, &def.pull_policy).await?;
                        self.attach(file, def, svc, &id, aliases).await?;
                        self.backend.start_container(&id).await
                    }
                    .boxed()
                }
            };
            starts.push(fut);
        }
        futures::stream::iter(starts)
            .buffer_unordered(parallelism)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Creates a container, pulling its image first if the engine lacks it.
    /// Creates a container, pulling its image as the service's
    /// `pull_policy` says: `always` first, `never` not at all, otherwise
    /// when the engine lacks it.
    async fn create(&self, spec: &ContainerSpec, pull_policy: &str) -> Result<String> {
        if pull_policy == "always" {
            self.pull(&spec.image).await?;
        }
        match self.backend.create_container(spec).await {
            Err(Error::NotFound { kind, .. }) if kind == "image" && pull_policy == "never" => {
                Err(Error::invalid(
                    "template",
                    format!(
                        "image {} is not on engine {}, and its service's pull_policy is never",
                        spec.image, self.engine
                    ),
                ))
            }
            Err(Error::NotFound { kind, .. }) if kind == "image" => {
                self.pull(&spec.image).await?;
                self.backend.create_container(spec).await
            }
            other => other,
        }
    }

    async fn pull(&self, image: &str) -> Result<()> {
        use futures::TryStreamExt;
        self.backend
            .pull_image(image, self.credentials.for_image(image))
            .try_for_each(|_| async { Ok(()) })
            .await
    }

    /// The name of replica `n` of a service on the engine. A chosen name
    /// is taken once the version runs alone; beside another version the
    /// container runs under the project's name, and is made again under
    /// the chosen one when the other is gone.
    fn name_of(&self, def: &ServiceDef, svc: &str, version: &str, n: u32, mode: Mode) -> String {
        if def.container_name.is_empty() || mode.overlap {
            container_name(&self.project, svc, version, n)
        } else {
            def.container_name.clone()
        }
    }

    /// The engine's name of network `key` of the file.
    fn network(&self, file: &ComposeFile, key: &str) -> String {
        match file.networks.get(key) {
            Some(def) => network_name(&self.project, key, def),
            None => network_name(&self.project, key, &NetworkDef::default()),
        }
    }

    /// Joins a new container to the service's other networks.
    async fn attach(
        &self,
        file: &ComposeFile,
        def: &ServiceDef,
        svc: &str,
        id: &str,
        aliases: &BTreeMap<String, Vec<String>>,
    ) -> Result<()> {
        for (net, own) in def.networks_in_order().into_iter().skip(1) {
            let mut names = vec![svc.to_string()];
            names.extend(own.iter().cloned());
            names.extend(aliases.get(svc).into_iter().flatten().cloned());
            let endpoint = Endpoint {
                aliases: names,
                ..def.addresses.get(net).cloned().unwrap_or_default()
            };
            self.backend
                .connect_network(&self.network(file, net), id, &endpoint)
                .await?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    // Over 80 lines: compose keys to the engine's container spec, field by field.
    fn spec(
        &self,
        file: &ComposeFile,
        svc: &str,
        def: &ServiceDef,
        version: &str,
        n: u32,
        mode: Mode,
        aliases: &BTreeMap<String, Vec<String>>,
    ) -> ContainerSpec {
        let mut labels = def.deploy_labels.clone();
        labels.extend(def.labels.clone());
        labels.insert(LABEL_OWNER.into(), self.owner.clone());
        labels.insert(LABEL_PROJECT.into(), self.project.clone());
        labels.insert(LABEL_SERVICE.into(), svc.to_string());
        labels.insert(LABEL_NUMBER.into(), n.to_string());
        labels.insert(LABEL_VERSION.into(), version.to_string());
        let mut ports = Vec::new();
        for p in &def.ports {
            let fixed = p.fixed().is_some();
            if fixed && mode.overlap {
                labels.insert(LABEL_OVERLAP.into(), "true".into());
            }
            // While two versions overlap, a fixed port is the engine's
            // choice; a range stays a range (the engine picks in it).
            let (host_port, host_port_end) = match (p.published, p.published_end) {
                (Some(first), Some(last)) => (first, last),
                (published, _) if !mode.overlap => (published.unwrap_or(0), 0),
                _ => (0, 0),
            };
            ports.push(PortBinding {
                container_port: p.target,
                proto: p.protocol,
                host_ip: p.host_ip.clone(),
                host_port,
                host_port_end,
            });
        }
        let (first_net, first_aliases) = match def.networks_in_order().first() {
            Some((net, own)) => ((*net).clone(), (*own).clone()),
            None => ("default".to_string(), Vec::new()),
        };
        let first_address = def.addresses.get(&first_net).cloned().unwrap_or_default();
        let mut network_aliases = vec![svc.to_string()];
        network_aliases.extend(first_aliases);
        network_aliases.extend(aliases.get(svc).into_iter().flatten().cloned());
        let binds = def
            .volumes
            .iter()
            .filter(|m| m.kind != MountKind::Tmpfs && !file.carries(m))
            .map(|m| {
                let source = match m.kind {
                    // A folder of the project's on the engine's host, as
                    // docker-compose makes one beside the compose file.
                    MountKind::Bind if m.source.starts_with('.') => {
                        match crate::compose::bind_path(&m.source) {
                            Ok(rel) if rel.is_empty() => {
                                format!("{}/{}", self.bind_root, self.project)
                            }
                            Ok(rel) => format!("{}/{}/{rel}", self.bind_root, self.project),
                            // Refused when the file was read.
                            Err(_) => m.source.clone(),
                        }
                    }
                    MountKind::Volume if !m.source.is_empty() => file
                        .volumes
                        .get(&m.source)
                        .map(|v| volume_name(&self.project, &m.source, v))
                        .unwrap_or_else(|| m.source.clone()),
                    _ => m.source.clone(),
                };
                let ro = if m.read_only { ":ro" } else { "" };
                if source.is_empty() {
                    m.target.clone()
                } else {
                    format!("{source}:{}{ro}", m.target)
                }
            })
            .collect();
        let name = self.name_of(def, svc, version, n, mode);
        let mode_ = mode;
        // `service:NAME`: the namespace of that service's first container.
        let shared = |m: &str| match m.strip_prefix("service:") {
            Some(target) => match file.services.get(target) {
                Some(other) => format!(
                    "container:{}",
                    self.name_of(other, target, version, 1, mode_)
                ),
                None => m.to_string(),
            },
            None => m.to_string(),
        };
        // On Docker's default bridge, services reach each other by Docker
        // links to the first container of the linked service.
        let links = if def.network_mode == "bridge" {
            def.links
                .iter()
                .filter_map(|l| {
                    let target = crate::compose::link_target(l);
                    let alias = l.split_once(':').map_or(target, |(_, a)| a);
                    let other = file.services.get(target)?;
                    Some(format!(
                        "{}:{alias}",
                        self.name_of(other, target, version, 1, mode)
                    ))
                })
                .collect()
        } else {
            Vec::new()
        };
        if mode.overlap && file.made_again_alone(svc) {
            labels.insert(LABEL_OVERLAP.into(), "true".into());
        }
        ContainerSpec {
            name: Some(name),
            image: def.image.clone(),
            cmd: def.command.clone().unwrap_or_default(),
            entrypoint: def.entrypoint.clone(),
            env: def.env(),
            hostname: def.hostname.clone(),
            domainname: def.domainname.clone(),
            labels,
            ports,
            cpus: def.limits.millicpus,
            memory: def.limits.memory_mib,
            restart_policy: def.restart_policy(),
            network: Some(if def.network_mode.is_empty() {
                self.network(file, &first_net)
            } else {
                shared(&def.network_mode)
            }),
            volumes_from: def
                .volumes_from
                .iter()
                .filter_map(|v| {
                    let target = crate::compose::link_target(v);
                    let mode = v.split_once(':').map(|(_, m)| m);
                    let other = file.services.get(target)?;
                    let name = self.name_of(other, target, version, 1, mode_);
                    Some(match mode {
                        Some(m) => format!("{name}:{m}"),
                        None => name,
                    })
                })
                .collect(),
            // Docker takes no aliases nor addresses outside user networks.
            links,
            network_aliases: if def.network_mode.is_empty() {
                network_aliases
            } else {
                Vec::new()
            },
            ipv4_address: first_address.ipv4_address,
            ipv6_address: first_address.ipv6_address,
            mac_address: if def.mac_address.is_empty() {
                first_address.mac_address
            } else {
                def.mac_address.clone()
            },
            interface_name: first_address.interface_name,
            gw_priority: first_address.gw_priority,
            binds,
            tmpfs: def
                .volumes
                .iter()
                .filter(|m| m.kind == MountKind::Tmpfs)
                .map(|m| m.target.clone())
                .collect(),
            exposed: def
                .expose
                .iter()
                .map(|e| format!("{}/{}", e.port, e.protocol))
                .collect(),
            healthcheck: def.healthcheck.as_ref().map(|h| HealthSpec {
                test: if h.disable {
                    vec!["NONE".into()]
                } else {
                    h.test.clone()
                },
                interval_ms: h.interval_ms,
                timeout_ms: h.timeout_ms,
                retries: h.retries,
                start_period_ms: h.start_period_ms,
                start_interval_ms: h.start_interval_ms,
            }),
            user: def.user.clone(),
            working_dir: def.working_dir.clone(),
            init: def.init,
            stop_signal: def.stop_signal.clone(),
            stop_timeout: def.stop_grace_period_ms.map(|ms| ms.div_ceil(1000)),
            host: crate::model::HostAccess {
                pid_mode: shared(&def.host.pid_mode),
                ipc_mode: shared(&def.host.ipc_mode),
                ..def.host.clone()
            },
            options: def.options.clone(),
            files: def
                .volumes
                .iter()
                .filter(|m| file.carries(m))
                .flat_map(|m| {
                    crate::compose::files_under(&file.bound_files, &m.source)
                        .into_iter()
                        .map(|(rest, content)| ContainerFile {
                            path: if rest.is_empty() {
                                m.target.clone()
                            } else {
                                format!("{}/{rest}", m.target.trim_end_matches('/'))
                            },
                            content,
                            mode: 0o644,
                            uid: 0,
                            gid: 0,
                        })
                })
                .chain(def.files.iter().filter_map(|m| {
                    let sources = if m.secret {
                        &file.secrets
                    } else {
                        &file.configs
                    };
                    let source = sources.get(&m.source)?;
                    Some(ContainerFile {
                        path: m.target.clone(),
                        content: source.content.clone(),
                        mode: m.mode,
                        uid: m.uid,
                        gid: m.gid,
                    })
                }))
                .collect(),
        }
    }

    /// Waits until every container of a service meets `cond`, or explains
    /// why it does not by the deadline.
    /// A health check is given the time its own settings need for the
    /// engine's verdict (an interval of 90 s cannot pass in 60), and an
    /// `unhealthy` verdict ends the wait at once.
    pub async fn wait_for(
        &self,
        file: &ComposeFile,
        svc: &str,
        version: &str,
        cond: Condition,
    ) -> Result<()> {
        let started = tokio::time::Instant::now();
        let deadline = match file.services.get(svc).and_then(|s| s.healthcheck.as_ref()) {
            Some(h) if cond == Condition::ServiceHealthy && !h.disable => self
                .deadline
                .max(Duration::from_millis(h.verdict_ms()) + self.poll * 4),
            _ => self.deadline,
        };
        loop {
            let (ok, why) = self.check(svc, version, cond).await?;
            if ok {
                return Ok(());
            }
            if let Some(why) = why.as_deref().and_then(|w| w.strip_prefix("fatal:")) {
                return Err(Error::State {
                    what: format!("service {svc}"),
                    state: "failed".into(),
                    reason: why.trim().to_string(),
                });
            }
            if started.elapsed() >= deadline {
                return Err(Error::State {
                    what: format!("service {svc}"),
                    state: "not ready".into(),
                    reason: format!("not {} within {}s", cond.as_str(), deadline.as_secs()),
                });
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Whether a service's containers meet `cond` now; a reason that starts
    /// with `fatal:` cannot get better by waiting.
    async fn check(
        &self,
        svc: &str,
        version: &str,
        cond: Condition,
    ) -> Result<(bool, Option<String>)> {
        let list = self.containers_of(svc, version).await?;
        for c in &list {
            let d = self.backend.inspect_container(&c.id).await?;
            let s = &d.state;
            // A one-shot service that ran and exited 0 (and is not to be
            // restarted) has done what starting it was for, as compose
            // counts it.
            let completed = !s.running
                && s.status == "exited"
                && s.exit_code == 0
                && !d.restart_policy.restarts(0, 0);
            let fine = match cond {
                Condition::ServiceStarted => s.running || completed,
                Condition::ServiceHealthy => {
                    if s.running && s.health.is_empty() {
                        return Ok((
                            false,
                            Some(format!(
                                "fatal: {} has no health check, so it cannot become healthy",
                                d.name
                            )),
                        ));
                    }
                    if s.running && s.health == "unhealthy" {
                        return Ok((false, Some(format!("fatal: {} is unhealthy", d.name))));
                    }
                    s.running && s.health == "healthy"
                }
                Condition::ServiceCompletedSuccessfully => {
                    if !s.running && s.status == "exited" && s.exit_code != 0 {
                        return Ok((
                            false,
                            Some(format!(
                                "fatal: {} exited with code {}",
                                d.name, s.exit_code
                            )),
                        ));
                    }
                    !s.running && s.status == "exited"
                }
            };
            if !fine {
                if cond != Condition::ServiceCompletedSuccessfully
                    && !s.running
                    && s.status == "exited"
                    && !d.restart_policy.restarts(s.exit_code, 0)
                {
                    return Ok((
                        false,
                        Some(format!(
                            "fatal: {} exited with code {}",
                            d.name, s.exit_code
                        )),
                    ));
                }
                return Ok((false, None));
            }
        }
        Ok((true, None))
    }

    /// Checks a version once its services are up: every container running,
    /// and healthy where it has a health check. Waits up to the deadline.
    pub async fn verify(
        &self,
        file: &ComposeFile,
        version: &str,
        services: &BTreeSet<String>,
    ) -> Result<()> {
        let checks = file
            .services
            .keys()
            .filter(|s| services.contains(*s))
            .map(|svc| async move {
                let has_health = file.services[svc]
                    .healthcheck
                    .as_ref()
                    .is_some_and(|h| !h.disable);
                let cond = if has_health {
                    Condition::ServiceHealthy
                } else {
                    Condition::ServiceStarted
                };
                self.wait_for(file, svc, version, cond).await?;
                if !has_health {
                    // A container that exits at once would pass a first look.
                    tokio::time::sleep(self.poll * 4).await;
                    self.wait_for(file, svc, version, Condition::ServiceStarted)
                        .await?;
                }
                Ok::<(), Error>(())
            });
        join_all(checks)
            .await
            .into_iter()
            .collect::<Result<Vec<()>>>()?;
        Ok(())
    }

    /// Stops the project's running containers (of `services`, every one if
    /// `None`), dependents first.
    pub async fn stop(
        &self,
        file: &ComposeFile,
        services: Option<&BTreeSet<String>>,
        timeout: Duration,
    ) -> Result<()> {
        let list = self.containers().await?;
        let waves = file.waves().unwrap_or_default();
        let rank = |svc: &str| {
            waves
                .iter()
                .position(|w| w.iter().any(|s| s == svc))
                .unwrap_or(usize::MAX)
        };
        let mut by_wave: BTreeMap<std::cmp::Reverse<usize>, Vec<&ContainerSummary>> =
            BTreeMap::new();
        for c in list
            .iter()
            .filter(|c| c.state == "running" || c.state == "restarting")
        {
            let svc = c
                .labels
                .get(LABEL_SERVICE)
                .map(String::as_str)
                .unwrap_or_default();
            if services.is_some_and(|s| !s.contains(svc)) {
                continue;
            }
            by_wave
                .entry(std::cmp::Reverse(rank(svc)))
                .or_default()
                .push(c);
        }
        for (_, wave) in by_wave {
            let results = join_all(
                wave.iter()
                    .map(|c| self.backend.stop_container(&c.id, Some(timeout))),
            )
            .await;
            all_done(results)?;
        }
        Ok(())
    }

    /// Sends `signal` to the project's running containers (of `services`).
    pub async fn kill(&self, services: Option<&BTreeSet<String>>, signal: &str) -> Result<()> {
        let list = self.containers().await?;
        let targets = list.iter().filter(|c| c.state == "running").filter(|c| {
            let svc = c
                .labels
                .get(LABEL_SERVICE)
                .map(String::as_str)
                .unwrap_or_default();
            services.is_none_or(|s| s.contains(svc))
        });
        for r in join_all(targets.map(|c| self.backend.kill_container(&c.id, signal))).await {
            match r {
                Ok(()) | Err(Error::NotFound { .. }) | Err(Error::EngineConflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Removes the project's containers: of one version, or all but one
    /// version, or all.
    pub async fn remove(&self, which: Remove<'_>) -> Result<()> {
        let list = self.containers().await?;
        let doomed = list.iter().filter(|c| {
            let v = c
                .labels
                .get(LABEL_VERSION)
                .map(String::as_str)
                .unwrap_or_default();
            match which {
                Remove::All => true,
                Remove::AllBut(keep) => v != keep,
                Remove::Only(drop) => v == drop,
            }
        });
        let doomed: Vec<&ContainerSummary> = doomed.collect();
        // Stopped first (no grace), then removed: a forced removal racing
        // the container's exit is what leaves Docker 20.10 with stale
        // network endpoints.
        let removals: Vec<BoxFuture<'_, Result<()>>> = doomed
            .iter()
            .map(|c| {
                async move {
                    if c.state == "running" || c.state == "restarting" {
                        match self
                            .backend
                            .stop_container(&c.id, Some(Duration::ZERO))
                            .await
                        {
                            Ok(()) | Err(Error::NotFound { .. }) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    self.backend.remove_container(&c.id, true, true).await
                }
                .boxed()
            })
            .collect();
        let results: Vec<Result<()>> = futures::stream::iter(removals)
            .buffer_unordered(self.parallelism.max(1))
            .collect()
            .await;
        all_done(results)?;
        Ok(())
    }

    /// Removes the project's networks, and its volumes with `volumes`.
    /// Docker 20.10 sometimes keeps a removed container's endpoint on a
    /// network ("has active endpoints" with no container attached, until
    /// the daemon restarts): such a network is tried a few times, then left
    /// behind with a warning, so that the project's removal completes.
    pub async fn remove_rest(&self, file: Option<&ComposeFile>, volumes: bool) -> Result<()> {
        for n in self.backend.list_networks().await? {
            let ours = n.labels.get(LABEL_OWNER) == Some(&self.owner)
                && n.labels.get(LABEL_PROJECT) == Some(&self.project);
            if !ours {
                continue;
            }
            let mut tries = 0;
            loop {
                match self.backend.remove_network(&n.id).await {
                    Ok(()) | Err(Error::NotFound { .. }) => break,
                    Err(Error::EngineApi { message, .. })
                        if message.contains("active endpoints") =>
                    {
                        tries += 1;
                        if tries == 4 {
                            tracing::warn!(network = %n.name, engine = %self.engine, "network left behind: the engine reports endpoints of containers that are gone (restarting its daemon clears them)");
                            break;
                        }
                        tokio::time::sleep(self.poll).await;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        if volumes {
            for v in self.backend.list_volumes().await? {
                let ours = v.labels.get(LABEL_OWNER) == Some(&self.owner)
                    && v.labels.get(LABEL_PROJECT) == Some(&self.project);
                let external = file.is_some_and(|f| {
                    f.volumes
                        .iter()
                        .any(|(k, d)| d.external && volume_name(&self.project, k, d) == v.name)
                });
                if ours && !external {
                    match self.backend.remove_volume(&v.name, true).await {
                        Ok(()) | Err(Error::NotFound { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(())
    }
}

/// Which containers [`Site::remove`] removes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Remove<'a> {
    All,
    /// All but this version's.
    AllBut(&'a str),
    /// Only this version's.
    Only(&'a str),
}

/// The strictest condition any service puts on `svc`.
fn strongest_wait(file: &ComposeFile, svc: &str) -> Option<Condition> {
    file.services
        .values()
        .filter_map(|s| s.depends_on.get(svc).copied())
        .max_by_key(|c| match c {
            Condition::ServiceStarted => 0,
            Condition::ServiceHealthy => 1,
            Condition::ServiceCompletedSuccessfully => 2,
        })
}

/// Aliases that links give services (`links: [db:database]` makes
/// `database` a name of `db` on the project's networks).
fn link_aliases(file: &ComposeFile) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in file.services.values() {
        for link in &s.links {
            if let Some((target, alias)) = link.split_once(':') {
                let names = out.entry(target.to_string()).or_default();
                if !names.iter().any(|n| n == alias) {
                    names.push(alias.to_string());
                }
            }
        }
    }
    out
}
