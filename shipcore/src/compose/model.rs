//! The compose model: what a compose file says, normalised (every short and
//! long syntax to one form, units to the core's), after interpolation.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::admission::{self, Capability, Owner, Want};
use crate::model::{Millicpus, Proto, RestartPolicy};

/// A parsed compose file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ComposeFile {
    /// The file's own project name (`name:`); the API's name for the
    /// project wins.
    pub name: String,
    pub services: BTreeMap<String, ServiceDef>,
    pub volumes: BTreeMap<String, VolumeDef>,
    pub networks: BTreeMap<String, NetworkDef>,
    /// Top-level secrets and configs: what a service's files are made of.
    pub secrets: BTreeMap<String, FileSource>,
    pub configs: BTreeMap<String, FileSource>,
    /// Top-level `x-` fields.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extensions: BTreeMap<String, serde_json::Value>,
    /// The project's files that relative bind sources name, by their
    /// normalised path: written into the containers at the mount's target
    /// (as a checkout's files are bound), not looked for on the host.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bound_files: BTreeMap<String, String>,
}

/// One compose service.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceDef {
    pub image: String,
    /// Replaces the image's command.
    pub command: Option<Vec<String>>,
    /// Replaces the image's entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// `None`: a name without a value that the project's environment does
    /// not define (the container does not get it).
    pub environment: BTreeMap<String, Option<String>>,
    pub ports: Vec<PortDef>,
    pub expose: Vec<ExposeDef>,
    pub volumes: Vec<MountDef>,
    pub labels: BTreeMap<String, String>,
    /// `deploy.labels`: a swarm service's labels. A project has no swarm
    /// service to carry them, so its containers carry them (under
    /// `labels`, which win where both name a key).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deploy_labels: BTreeMap<String, String>,
    /// The containers' NIS domain name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domainname: String,
    /// The platform its image is for (`linux/amd64`): an engine of another
    /// refuses the project.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub platform: String,
    pub depends_on: BTreeMap<String, Condition>,
    /// Dependencies with `required: false`: left out when the file does
    /// not run them.
    pub optional: Vec<String>,
    /// `service` or `service:alias`, as written.
    pub links: Vec<String>,
    /// Services whose containers' volumes it mounts too: `service` or
    /// `service:ro`.
    pub volumes_from: Vec<String>,
    /// Docker's restart policy name (`no`, `always`, `on-failure[:N]`,
    /// `unless-stopped`); empty: not given (`no`).
    pub restart: String,
    pub replicas: u32,
    pub limits: Resources,
    pub reservations: Resources,
    pub healthcheck: Option<Healthcheck>,
    /// Networks the service joins, with its aliases on each; empty: the
    /// project's default network.
    pub networks: BTreeMap<String, Vec<String>>,
    /// Static addresses asked for on its networks (`ipv4_address`,
    /// `ipv6_address`), by network.
    pub addresses: BTreeMap<String, crate::model::Endpoint>,
    /// Networks' `priority`: the order they are joined in (highest first,
    /// then by name); the first is the one the container is created on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub network_priority: BTreeMap<String, i64>,
    /// `bridge` (Docker's default bridge), `host` or `none` instead of the
    /// project's networks; empty: the project's networks.
    pub network_mode: String,
    pub hostname: String,
    /// The container's name on its engine (one replica only); empty: the
    /// project's `{project}_{service}_{version}_{n}`.
    pub container_name: String,
    /// Its MAC address on its first network (one replica only).
    pub mac_address: String,
    pub working_dir: String,
    pub user: String,
    pub init: Option<bool>,
    pub stop_grace_period_ms: Option<u64>,
    pub stop_signal: String,
    /// Privileges, devices and the host's namespaces (admitted by role).
    pub host: crate::model::HostAccess,
    /// Keys that stay within the container: read-only root, limits, tmpfs,
    /// DNS, logging, ...
    pub options: crate::model::ContainerOptions,
    /// `always`, `never` or `missing` (empty: when the engine lacks it).
    pub pull_policy: String,
    /// Profiles it belongs to (empty: it always runs).
    pub profiles: Vec<String>,
    /// Secrets and configs put into its containers before they start.
    pub files: Vec<FileMount>,
    /// The service's `x-` fields.
    pub extensions: BTreeMap<String, serde_json::Value>,
}

/// A published port: `host_ip:published:target/protocol`.
///
/// A port with a published range is not a fixed host port: the scheduler
/// reserves none for it, and versions of a project may run side by side.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PortDef {
    pub target: u16,
    /// `None`: the engine picks a host port.
    pub published: Option<u16>,
    /// With a published range for one target (`"8000-8010:80"`): its last
    /// port; the engine picks a free one of the range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_end: Option<u16>,
    /// Empty: every address.
    pub host_ip: String,
    pub protocol: Proto,
}

impl PortDef {
    /// The one host port it binds, when it names one (not a range).
    pub fn fixed(&self) -> Option<u16> {
        match self.published_end {
            Some(_) => None,
            None => self.published,
        }
    }
}

impl ServiceDef {
    /// The services that must run before it: its dependencies, links, the
    /// services it takes volumes from, and those whose network, pid or ipc
    /// namespace it shares (`service:NAME`).
    pub fn needs(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.depends_on.keys().map(String::as_str).collect();
        out.extend(self.links.iter().map(|l| link_target(l)));
        out.extend(self.volumes_from.iter().map(|v| link_target(v)));
        for mode in [&self.network_mode, &self.host.pid_mode, &self.host.ipc_mode] {
            if let Some(svc) = mode.strip_prefix("service:") {
                out.push(svc);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Its networks in the order they are joined: by `priority`, highest
    /// first, then by name, as compose v2 joins them.
    pub fn networks_in_order(&self) -> Vec<(&String, &Vec<String>)> {
        let mut nets: Vec<(&String, &Vec<String>)> = self.networks.iter().collect();
        nets.sort_by_key(|(name, _)| {
            std::cmp::Reverse(self.network_priority.get(*name).copied().unwrap_or(0))
        });
        nets
    }

    /// Whether its containers hold something only one may hold at once on
    /// an engine (a fixed host port, a chosen name): beside another version
    /// they leave it to the engine, and take it when alone.
    pub fn pinned(&self) -> bool {
        !self.container_name.is_empty() || self.ports.iter().any(|p| p.fixed().is_some())
    }
}

/// A port the service exposes to its networks only.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExposeDef {
    pub port: u16,
    pub protocol: Proto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    #[default]
    Volume,
    Bind,
    Tmpfs,
}

impl MountKind {
    /// Compose's name for it (a long mount's `type`).
    pub fn as_str(&self) -> &'static str {
        match self {
            MountKind::Volume => "volume",
            MountKind::Bind => "bind",
            MountKind::Tmpfs => "tmpfs",
        }
    }
}

/// A mount: a named or anonymous volume, a host path, or a tmpfs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MountDef {
    pub kind: MountKind,
    /// The volume's name in the file, or the host path; empty for an
    /// anonymous volume and a tmpfs.
    pub source: String,
    pub target: String,
    pub read_only: bool,
}

/// When a dependency counts as ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    #[default]
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

impl Condition {
    pub fn as_str(&self) -> &'static str {
        match self {
            Condition::ServiceStarted => "service_started",
            Condition::ServiceHealthy => "service_healthy",
            Condition::ServiceCompletedSuccessfully => "service_completed_successfully",
        }
    }
}

/// Cpus and memory; 0: not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Resources {
    pub millicpus: Millicpus,
    pub memory_mib: u64,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        self.millicpus == 0 && self.memory_mib == 0
    }
}

/// A container health check, Docker's fields (durations in milliseconds,
/// 0: the engine's default).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Healthcheck {
    /// `["CMD", ...]`, `["CMD-SHELL", "..."]`, or `["NONE"]`.
    pub test: Vec<String>,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub retries: u32,
    pub start_period_ms: u64,
    /// Checks during the start period this often (Docker API 1.44 on).
    pub start_interval_ms: u64,
    /// `disable: true`: the image's health check is turned off.
    pub disable: bool,
}

impl Healthcheck {
    /// The longest the engine takes to call a container healthy or
    /// unhealthy with this check (Docker's defaults where it gives none:
    /// interval and timeout 30 s, 3 retries): the start period, a first
    /// interval, and every retry failing at its timeout.
    pub fn verdict_ms(&self) -> u64 {
        let or = |v: u64, d: u64| if v == 0 { d } else { v };
        let interval = or(self.interval_ms, 30_000);
        let timeout = or(self.timeout_ms, 30_000);
        let retries = u64::from(if self.retries == 0 { 3 } else { self.retries });
        self.start_period_ms
            .saturating_add(interval)
            .saturating_add(retries.saturating_mul(interval.saturating_add(timeout)))
    }
}

/// Where a secret's or config's content comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFrom {
    /// A file among the project's, by path.
    File(String),
    /// A variable of the project's environment.
    Environment(String),
    /// Given inline (`content:`, configs).
    Content,
}

/// A top-level secret or config, its content read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSource {
    pub from: FileFrom,
    /// The content, as the container gets it (not serialized: a secret's
    /// value stays out of what is shown).
    #[serde(skip)]
    pub content: String,
}

/// A secret or config of a service: which, where, whose, which mode.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FileMount {
    pub source: String,
    /// Absolute path in the container.
    pub target: String,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    /// A secret (else a config).
    pub secret: bool,
}

/// A top-level volume.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeDef {
    /// `local` when empty.
    pub driver: String,
    pub driver_opts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// Made outside the project (`POST /volumes/create`): used as named,
    /// never created nor removed by the project.
    pub external: bool,
    /// The engine's name for it; empty: `{project}_{key}` (or the key for
    /// an external one).
    pub name: String,
}

/// A top-level network.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkDef {
    /// `bridge` when empty.
    pub driver: String,
    pub driver_opts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// Made outside the project: used as named on the project's engine,
    /// never created nor removed by the project.
    pub external: bool,
    /// The engine's name for it; empty: `{project}_{key}` (or the key for
    /// an external one).
    pub name: String,
    /// No route out of the network.
    pub internal: bool,
    pub attachable: bool,
    pub enable_ipv6: bool,
    /// The IPAM driver (empty: the engine's) and its pools.
    pub ipam_driver: String,
    pub ipam: Vec<crate::model::IpamPool>,
}

impl ComposeFile {
    /// The services in start order, in waves: every service's dependencies
    /// are in earlier waves, and the services of one wave can start at once.
    /// Fails naming the services of a dependency cycle.
    pub fn waves(&self) -> Result<Vec<Vec<String>>> {
        let mut done: BTreeSet<&str> = BTreeSet::new();
        let mut waves = Vec::new();
        while done.len() < self.services.len() {
            let wave: Vec<String> = self
                .services
                .iter()
                .filter(|(name, _)| !done.contains(name.as_str()))
                .filter(|(_, s)| s.needs().iter().all(|d| done.contains(d)))
                .map(|(name, _)| name.clone())
                .collect();
            if wave.is_empty() {
                let left: Vec<&str> = self
                    .services
                    .keys()
                    .map(String::as_str)
                    .filter(|n| !done.contains(n))
                    .collect();
                return Err(Error::invalid(
                    "template",
                    format!(
                        "depends_on (or links) forms a cycle among services {}",
                        left.join(", ")
                    ),
                ));
            }
            for name in &wave {
                if let Some((k, _)) = self.services.get_key_value(name) {
                    done.insert(k.as_str());
                }
            }
            waves.push(wave);
        }
        Ok(waves)
    }

    /// The project's total reservation: each service's reservation times
    /// its replicas.
    pub fn total_reservation(&self) -> Resources {
        let mut total = Resources::default();
        for s in self.services.values() {
            let r = s.reservation();
            total.millicpus += r.millicpus * u64::from(s.replicas);
            total.memory_mib += r.memory_mib * u64::from(s.replicas);
        }
        total
    }
}

impl ServiceDef {
    /// What one container of the service reserves on its engine: its
    /// `deploy.resources.reservations` (`mem_reservation`), as Swarm
    /// schedules. A limit is a ceiling the engine enforces at run time, not
    /// a reservation: docker-compose runs files whose limits add up to more
    /// than the host has, and so does a project.
    pub fn reservation(&self) -> Resources {
        self.reservations
    }

    /// The restart policy as the engine takes it (`on-failure:3` → name
    /// and maximum retries).
    pub fn restart_policy(&self) -> RestartPolicy {
        match self.restart.split_once(':') {
            Some((name, n)) => RestartPolicy {
                name: name.to_string(),
                maximum_retry: n.parse().ok(),
            },
            None => RestartPolicy {
                name: self.restart.clone(),
                maximum_retry: None,
            },
        }
    }

    /// The environment the containers get: names without a value left out.
    pub fn env(&self) -> BTreeMap<String, String> {
        self.environment
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
            .collect()
    }
}

impl ComposeFile {
    /// Whether a service's containers are made again once a version runs
    /// alone: it is pinned (a fixed host port, a chosen name), or it runs
    /// in the namespaces or with the volumes of one that is (a sidecar on
    /// `network_mode: service:web` joins the container web has then).
    pub fn made_again_alone(&self, svc: &str) -> bool {
        let mut seen = std::collections::BTreeSet::new();
        let mut stack = vec![svc];
        while let Some(name) = stack.pop() {
            if !seen.insert(name) {
                continue;
            }
            let Some(s) = self.services.get(name) else {
                continue;
            };
            if s.pinned() {
                return true;
            }
            stack.extend(s.volumes_from.iter().map(|v| link_target(v)));
            for mode in [&s.network_mode, &s.host.pid_mode, &s.host.ipc_mode] {
                if let Some(other) = mode.strip_prefix("service:") {
                    stack.push(other);
                }
            }
        }
        false
    }

    /// Whether `m` binds files the project carries (a relative source
    /// naming some of them): no host path is mounted.
    pub fn carries(&self, m: &MountDef) -> bool {
        m.kind == MountKind::Bind
            && m.source.starts_with('.')
            && !super::files::files_under(&self.bound_files, &m.source).is_empty()
    }

    /// What the file asks of the admission policy (see
    /// [`crate::model::admission`]): host paths mounted, volume drivers
    /// and options, network drivers. Fields are named as in the file
    /// (`services.web.volumes[0]`).
    pub fn wants(&self) -> Vec<Want> {
        let mut wants = Vec::new();
        for (name, s) in &self.services {
            wants.extend(s.host.compose_wants(&format!("services.{name}.")));
            wants.extend(s.options.wants(&format!("services.{name}.")));
            for (i, m) in s.volumes.iter().enumerate() {
                if m.kind == MountKind::Bind && !self.carries(m) {
                    wants.push(Want::new(
                        format!("services.{name}.volumes[{i}] (host path {:?})", m.source),
                        Capability::HostBinds,
                    ));
                }
            }
        }
        for (name, v) in &self.volumes {
            wants.extend(admission::volume_wants(
                &format!("volumes.{name}.driver_opts"),
                &v.driver,
                !v.driver_opts.is_empty(),
            ));
        }
        for (name, n) in &self.networks {
            // Options and static subnets can reach the host's own networks
            // (a bridge on the LAN's subnet reroutes the host).
            wants.extend(admission::network_wants(
                &format!("networks.{name}.driver"),
                &n.driver,
                !n.driver_opts.is_empty() || !n.ipam.is_empty() || !n.ipam_driver.is_empty(),
            ));
        }
        for (name, s) in &self.services {
            wants.extend(admission::namespace_wants(
                &format!("services.{name}.network_mode"),
                &s.network_mode,
            ));
        }
        wants
    }

    /// The keys that need a newer engine than some run: each with the
    /// Docker API version (major, minor) it needs.
    pub fn engine_needs(&self) -> Vec<(String, (u32, u32))> {
        let mut needs = Vec::new();
        for (name, s) in &self.services {
            if s.healthcheck
                .as_ref()
                .is_some_and(|h| h.start_interval_ms > 0)
            {
                needs.push((
                    format!("services.{name}.healthcheck.start_interval"),
                    (1, 44),
                ));
            }
            let per_network = s.addresses.values().any(|e| !e.mac_address.is_empty());
            if !s.mac_address.is_empty() || per_network {
                needs.push((format!("services.{name}.mac_address"), (1, 44)));
            }
            if s.addresses.values().any(|e| e.gw_priority != 0) {
                needs.push((format!("services.{name}.networks.gw_priority"), (1, 48)));
            }
            if s.addresses.values().any(|e| !e.interface_name.is_empty()) {
                needs.push((format!("services.{name}.networks.interface_name"), (1, 49)));
            }
            if !s.options.annotations.is_empty() {
                needs.push((format!("services.{name}.annotations"), (1, 46)));
            }
        }
        needs
    }

    /// The first service whose `platform` an engine of `os` and `arch` (as
    /// its info says) does not run, said as a refusal.
    pub fn foreign_platform(&self, os: &str, arch: &str, engine: &str) -> Option<String> {
        self.services.iter().find_map(|(name, s)| {
            let p = crate::model::Platform::parse(&s.platform)?;
            (!p.runs_on(os, arch)).then(|| {
                format!(
                    "services.{name}.platform {} is not engine {engine}'s ({os}/{})",
                    s.platform,
                    crate::model::Platform::oci_arch(arch)
                )
            })
        })
    }

    /// The first key the engine of Docker API `api` (`1.41`) cannot
    /// honour, said as a refusal.
    pub fn beyond(&self, api: &str, engine: &str) -> Option<String> {
        let have = api
            .split_once('.')
            .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))?;
        self.engine_needs()
            .into_iter()
            .find(|(_, need)| *need > have)
            .map(|(field, (a, b))| {
                format!("{field} needs Docker API {a}.{b}; engine {engine} speaks {api}")
            })
    }

    /// Admits the file for `owner`: no `io.shipcore.*` label anywhere in
    /// it, and every capability it asks for held by the owner's role.
    pub fn admit(&self, owner: &Owner) -> Result<()> {
        for (name, s) in &self.services {
            admission::check_labels(&format!("services.{name}.labels"), s.labels.keys())?;
        }
        for (name, v) in &self.volumes {
            admission::check_labels(&format!("volumes.{name}.labels"), v.labels.keys())?;
        }
        for (name, n) in &self.networks {
            admission::check_labels(&format!("networks.{name}.labels"), n.labels.keys())?;
        }
        admission::admit(owner, &self.wants())
    }
}

/// The service a link names (`db` of `db:database`).
pub fn link_target(link: &str) -> &str {
    link.split_once(':').map_or(link, |(s, _)| s)
}
