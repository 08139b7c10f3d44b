//! Containers and the image configuration they are deployed from (Shipyard's
//! `image` object, SPEC.md section 001).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::admission::{admit, check_labels, namespace_wants, Capability, Owner, Want};
use super::engine::Engine;
use super::image::ImageRef;
use super::units::HostPort;
pub use super::units::Proto;
use super::validate::validate_port;
use crate::error::{Error, Result};

/// How the scheduler uses a request's labels (Shipyard's `type`, plus Swarm's
/// global mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ContainerType {
    /// Only engines whose labels include every request label.
    #[default]
    Service,
    /// As `service`, and only engines not already running that image.
    Unique,
    /// Only the engine named by a request label `host:<engine-id>`.
    Host,
    /// One container on every matching engine.
    Global,
}

/// A port to publish: `port` 0 (or absent) lets the engine choose a host port.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BindPort {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host_ip: String,
    #[serde(default)]
    pub proto: Proto,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub port: u32,
    pub container_port: u32,
}

impl BindPort {
    /// The host port the binding holds on its engine, when it names one
    /// (port 0 lets the engine choose, and holds nothing in advance). The
    /// one conversion of a request's ports for the scheduler.
    pub fn host_port(&self) -> Option<HostPort> {
        let port = u16::try_from(self.port).ok().filter(|p| *p != 0)?;
        Some(HostPort::new(&self.host_ip, self.proto, port))
    }
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// Restart policy by Docker's names: `no`, `always`, `on-failure`, `unless-stopped`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RestartPolicy {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_retry: Option<u32>,
}

impl RestartPolicy {
    const NAMES: [&'static str; 5] = ["", "no", "always", "on-failure", "unless-stopped"];

    /// Whether the container is to be brought back after its engine is lost.
    pub fn is_always(&self) -> bool {
        self.name == "always"
    }

    /// Whether a container that should run is placed anew when its engine
    /// is lost or it vanished: `always` and `unless-stopped` (a lost engine
    /// is no failure of the container, so `on-failure` is not).
    pub fn moves(&self) -> bool {
        matches!(self.name.as_str(), "always" | "unless-stopped")
    }

    /// Whether a container that exited with `exit_code`, started again
    /// `restarts` times so far, is started again: Docker's semantics
    /// (`on-failure` only after a non-zero exit, at most `maximum_retry`
    /// times; 0 or none is no limit).
    pub fn restarts(&self, exit_code: i64, restarts: u32) -> bool {
        match self.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                exit_code != 0
                    && self
                        .maximum_retry
                        .is_none_or(|max| max == 0 || restarts < max)
            }
            _ => false,
        }
    }
}

/// The most cpus a request or an engine may name: sums over a cluster of
/// them stay far within the integers they are kept in.
pub const MAX_CPUS: f64 = 1_000_000.0;
/// The most memory (MiB) a request or an engine may name (1 EiB).
pub const MAX_MEMORY: u64 = 1 << 40;

/// What to deploy: Shipyard's container request and the `image` object of a
/// deployed container.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImageConfig {
    /// The image reference, e.g. `ehazlett/go-demo:latest`.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 400))]
    pub name: String,
    #[cfg_attr(
        feature = "openapi",
        schema(exclusive_minimum = 0.0, maximum = 1000000.0)
    )]
    pub cpus: f64,
    /// Memory in MiB.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1099511627776_u64))]
    pub memory: u64,
    #[serde(default, rename = "type")]
    pub kind: ContainerType,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// Scheduling labels; their use depends on `type`. Besides plain labels,
    /// `key==value`, `key!=value`, `host:<engine-id>` and
    /// `affinity:container|image|label==...` are understood.
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bind_ports: Vec<BindPort>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub links: BTreeMap<String, String>,
    /// The container's name (Shipyard v2's `container_name`); with a count
    /// above one, the containers are `{container_name}-0`, `-1`, ...
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub container_name: String,
    /// `bridge` (the default), `host`, `none`, `container:<id>`, or the
    /// name of a network on the engine.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub network_mode: String,
    /// Volumes: `NAME:/path[:ro|:rw]` (a named volume, made on first use),
    /// `/path` (an anonymous one), or `/host/path:/path[:ro|:rw]` where the
    /// server allows host paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^([A-Za-z0-9][A-Za-z0-9_.-]*:|/[^:]*:)?/[^:]*(:(ro|rw))?$")
    )]
    pub volumes: Vec<String>,
    /// What a Docker Engine API create request (the cluster endpoint) gives
    /// beyond Shipyard's request. With it, `cpus` and `memory` may be 0:
    /// no limit and no reservation, as Docker has it.
    /// (Not taken by `POST /api/containers`.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub docker: Option<Box<DockerOptions>>,
}

/// The parts of a Docker Engine API create request that Shipyard's request
/// lacks, carried to the engine as they are.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DockerOptions {
    /// The container's own labels (Shipyard's `labels` are scheduling rules).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    /// Aliases on the network of `network_mode`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_aliases: Vec<String>,
    /// Ports exposed to the container's networks, `80/tcp`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposed: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    /// What asks the admission policy for a capability (see
    /// [`super::admission`]): carried to the engine as given once admitted.
    #[serde(default, skip_serializing_if = "HostAccess::is_empty")]
    pub host: HostAccess,
    /// How it runs within itself (read-only root, limits, logging, ...).
    #[serde(default, skip_serializing_if = "ContainerOptions::is_empty")]
    pub options: ContainerOptions,
}

/// The parts of a container request that reach beyond the container:
/// each needs a capability of the admission policy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HostAccess {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    /// `/dev/host[:/dev/container[:rwm]]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// `host` shares the host's namespace; empty: the engine's default.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pid_mode: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ipc_mode: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uts_mode: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub userns_mode: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
}

impl HostAccess {
    pub fn is_empty(&self) -> bool {
        *self == HostAccess::default()
    }

    /// What these ask of the admission policy, named by compose's keys
    /// (`services.web.cap_add`).
    pub fn compose_wants(&self, prefix: &str) -> Vec<Want> {
        self.wants_named(|docker| {
            let compose = match docker {
                "Privileged" => "privileged",
                "CapAdd" => "cap_add",
                "Devices" => "devices",
                "PidMode" => "pid",
                "IpcMode" => "ipc",
                "UTSMode" => "uts",
                "UsernsMode" => "userns_mode",
                "SecurityOpt" => "security_opt",
                "Sysctls" => "sysctls",
                other => other,
            };
            format!("{prefix}{compose}")
        })
    }

    /// What these ask of the admission policy; `prefix` names where they
    /// were given (`HostConfig.`).
    pub fn wants(&self, prefix: &str) -> Vec<Want> {
        self.wants_named(|docker| format!("{prefix}{docker}"))
    }

    /// What these ask, each field named by `name` from Docker's name of it.
    fn wants_named(&self, name: impl Fn(&str) -> String) -> Vec<Want> {
        let mut wants = Vec::new();
        if self.privileged {
            wants.push(Want::new(name("Privileged"), Capability::Privileged));
        }
        if !self.cap_add.is_empty() {
            wants.push(Want::new(name("CapAdd"), Capability::CapAdd));
        }
        if !self.devices.is_empty() {
            wants.push(Want::new(name("Devices"), Capability::Devices));
        }
        for (field, mode) in [
            ("PidMode", &self.pid_mode),
            ("IpcMode", &self.ipc_mode),
            ("UTSMode", &self.uts_mode),
            ("UsernsMode", &self.userns_mode),
        ] {
            wants.extend(namespace_wants(&name(field), mode));
        }
        if !self.security_opt.is_empty() {
            wants.push(Want::new(name("SecurityOpt"), Capability::SecurityOptions));
        }
        if !self.sysctls.is_empty() {
            wants.push(Want::new(name("Sysctls"), Capability::SecurityOptions));
        }
        wants
    }
}

/// How a container runs that stays within it (no capability needed, but
/// for a logging driver that sends its logs off the host, and a negative
/// OOM score): compose's per-container keys, carried to the engine as
/// given.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerOptions {
    /// A read-only root file system.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// Linux capabilities dropped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
    /// tmpfs mounts: the path in the container and its mount options.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tmpfs: BTreeMap<String, String>,
    /// Limits by name (`nofile`): soft and hard.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, (i64, i64)>,
    /// `host:address` lines for the container's `/etc/hosts`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_opt: Vec<String>,
    /// Bytes of `/dev/shm` (0: the engine's default).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub shm_size: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stdin_open: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tty: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    /// The logging driver (empty: the engine's) and its options.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub log_driver: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub log_options: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i64>,
    /// Relative CPU weight (0: the engine's default).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub cpu_shares: u64,
    /// CPUs the container may run on (`0-3`, `0,1`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cpuset: String,
    /// OCI annotations for the runtime (Docker API 1.46 on).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The kernel's tendency to swap the container's pages (0 to 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_swappiness: Option<i64>,
    /// Memory plus swap, bytes (-1: unlimited swap; 0: the engine's default).
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub memswap_limit: i64,
    /// The kernel's OOM killer spares the container (the host's memory then
    /// runs out instead): a security option.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub oom_kill_disable: bool,
    /// CFS period and quota, microseconds (0: the engine's default).
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub cpu_period: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub cpu_quota: i64,
    /// Real-time scheduling period and runtime, microseconds: runtime can
    /// starve the host, a security option.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub cpu_rt_period: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub cpu_rt_runtime: i64,
    /// Storage driver options (`size: 20G`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub storage_opt: BTreeMap<String, String>,
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

/// Logging drivers that keep a container's logs on its engine: anyone's.
/// Others (syslog, gelf, fluentd, journald, awslogs, ...) send them
/// elsewhere from the host and need [`Capability::LogDrivers`].
pub const LOCAL_LOG_DRIVERS: [&str; 3] = ["json-file", "local", "none"];

impl ContainerOptions {
    pub fn is_empty(&self) -> bool {
        *self == ContainerOptions::default()
    }

    /// What these ask of the admission policy, named by compose's keys
    /// after `prefix` (`services.web.`).
    pub fn wants(&self, prefix: &str) -> Vec<Want> {
        self.wants_named(
            &format!("{prefix}logging.driver"),
            &format!("{prefix}oom_score_adj"),
        )
    }

    /// What these ask of the admission policy, named by Docker's fields
    /// (`HostConfig.LogConfig.Type`).
    pub fn docker_wants(&self) -> Vec<Want> {
        self.wants_named("HostConfig.LogConfig.Type", "HostConfig.OomScoreAdj")
    }

    fn wants_named(&self, log_field: &str, oom_field: &str) -> Vec<Want> {
        let mut wants = Vec::new();
        if !self.log_driver.is_empty() && !LOCAL_LOG_DRIVERS.contains(&self.log_driver.as_str()) {
            wants.push(Want::new(
                format!("{log_field} ({})", self.log_driver),
                Capability::LogDrivers,
            ));
        }
        if self.oom_score_adj.is_some_and(|s| s < 0) {
            wants.push(Want::new(oom_field, Capability::SecurityOptions));
        }
        // Spared by the OOM killer, or scheduled in real time: the host
        // pays for it.
        if self.oom_kill_disable {
            wants.push(Want::new(
                oom_field
                    .replace("oom_score_adj", "oom_kill_disable")
                    .replace("OomScoreAdj", "OomKillDisable"),
                Capability::SecurityOptions,
            ));
        }
        if self.cpu_rt_runtime != 0 {
            wants.push(Want::new(
                oom_field
                    .replace("oom_score_adj", "cpu_rt_runtime")
                    .replace("OomScoreAdj", "CpuRealtimeRuntime"),
                Capability::SecurityOptions,
            ));
        }
        wants
    }
}

impl ImageConfig {
    /// The image reference, parsed (an invalid one is an error naming `name`).
    pub fn image(&self) -> Result<ImageRef> {
        ImageRef::parse(&self.name).map_err(|e| match e {
            Error::Invalid { reason, .. } => Error::invalid("name", reason),
            e => e,
        })
    }

    /// The host ports the request holds on its engine.
    pub fn host_ports(&self) -> Vec<HostPort> {
        self.bind_ports
            .iter()
            .filter_map(BindPort::host_port)
            .collect()
    }

    /// Checks the fields a deploy needs; the error names the field.
    // Over 80 lines: one check per field of a deploy request.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(Error::invalid("name", "an image name is required"));
        }
        self.image()?;
        // A Docker API request may name no limits (0): it reserves nothing.
        let unlimited = self.docker.is_some();
        let cpus_ok = self.cpus > 0.0 || (unlimited && self.cpus == 0.0);
        if !(self.cpus.is_finite() && cpus_ok && self.cpus <= MAX_CPUS) {
            return Err(Error::invalid(
                "cpus",
                format!(
                    "must be greater than 0 and at most {MAX_CPUS}, got {}",
                    self.cpus
                ),
            ));
        }
        if (self.memory == 0 && !unlimited) || self.memory > MAX_MEMORY {
            return Err(Error::invalid(
                "memory",
                format!("must be 1 to {MAX_MEMORY} MiB, got {}", self.memory),
            ));
        }
        if !RestartPolicy::NAMES.contains(&self.restart_policy.name.as_str()) {
            return Err(Error::invalid(
                "restart_policy.name",
                format!(
                    "must be one of no, always, on-failure, unless-stopped; got {:?}",
                    self.restart_policy.name
                ),
            ));
        }
        if let Some(max) = self.restart_policy.maximum_retry {
            if i32::try_from(max).is_err() {
                return Err(Error::invalid(
                    "restart_policy.maximum_retry",
                    format!("must be at most {}, got {max}", i32::MAX),
                ));
            }
        }
        for (i, bp) in self.bind_ports.iter().enumerate() {
            validate_port(
                &format!("bind_ports[{i}].container_port"),
                bp.container_port,
            )?;
            if bp.port != 0 {
                validate_port(&format!("bind_ports[{i}].port"), bp.port)?;
            }
            if !bp.host_ip.is_empty() && bp.host_ip.parse::<std::net::IpAddr>().is_err() {
                return Err(Error::invalid(
                    format!("bind_ports[{i}].host_ip"),
                    format!("not an IP address: {:?}", bp.host_ip),
                ));
            }
        }
        if !self.container_name.is_empty() && !docker_name(&self.container_name, 200) {
            return Err(Error::invalid(
                "container_name",
                format!(
                    "must be 1 to 200 of [a-zA-Z0-9_.-], starting with a letter or digit; got {:?}",
                    self.container_name
                ),
            ));
        }
        match self.network_mode.as_str() {
            "" | "bridge" | "host" | "none" => {}
            m => {
                let name = m.strip_prefix("container:").unwrap_or(m);
                if !docker_name(name, 200) {
                    return Err(Error::invalid(
                        "network_mode",
                        format!("must be bridge, host, none, container:<id> or a network's name; got {m:?}"),
                    ));
                }
            }
        }
        let own_stack = matches!(self.network_mode.as_str(), "host" | "none")
            || self.network_mode.starts_with("container:");
        if own_stack && !self.bind_ports.is_empty() {
            return Err(Error::invalid(
                "bind_ports",
                format!(
                    "ports cannot be published with network_mode {:?}",
                    self.network_mode
                ),
            ));
        }
        if own_stack && !self.links.is_empty() {
            return Err(Error::invalid(
                "links",
                format!(
                    "links need a bridge network, not network_mode {:?}",
                    self.network_mode
                ),
            ));
        }
        for (i, v) in self.volumes.iter().enumerate() {
            Volume::parse(v).map_err(|reason| Error::invalid(format!("volumes[{i}]"), reason))?;
        }
        Ok(())
    }

    /// Whether a volume mounts a path of the engine's host.
    pub fn mounts_host_paths(&self) -> bool {
        self.volumes
            .iter()
            .filter_map(|v| Volume::parse(v).ok())
            .any(|v| v.source.starts_with('/'))
    }

    /// What this request asks of the admission policy: host paths in
    /// `volumes`, the host's network, and a Docker request's host access.
    pub fn wants(&self) -> Vec<Want> {
        let mut wants = Vec::new();
        for (i, v) in self.volumes.iter().enumerate() {
            if Volume::parse(v).is_ok_and(|v| v.source.starts_with('/')) {
                wants.push(Want::new(format!("volumes[{i}]"), Capability::HostBinds));
            }
        }
        wants.extend(namespace_wants("network_mode", &self.network_mode));
        if let Some(d) = &self.docker {
            wants.extend(d.host.wants("HostConfig."));
            wants.extend(d.options.docker_wants());
        }
        wants
    }

    /// Admits this request for `owner` (the one admission point: see
    /// [`super::admission`]): the cluster's labels are refused to anyone,
    /// then every capability the request asks for must be the owner's.
    pub fn admit(&self, owner: &Owner) -> Result<()> {
        if let Some(d) = &self.docker {
            check_labels("Labels", d.labels.keys())?;
        }
        admit(owner, &self.wants())
    }
}

/// A name Docker accepts for a container, a network or a volume:
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most `max` long.
pub fn docker_name(name: &str, max: usize) -> bool {
    let mut chars = name.chars();
    name.len() <= max
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// One entry of [`ImageConfig::volumes`], read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume<'a> {
    /// A volume's name, a host path (starting with `/`), or empty for an
    /// anonymous volume.
    pub source: &'a str,
    pub target: &'a str,
    pub read_only: bool,
}

impl<'a> Volume<'a> {
    /// Reads `SOURCE:TARGET[:ro|:rw]` or `TARGET`; the reason when malformed.
    pub fn parse(v: &'a str) -> std::result::Result<Self, String> {
        let parts: Vec<&str> = v.split(':').collect();
        let (source, target, mode) = match parts.as_slice() {
            [t] => ("", *t, ""),
            [s, t] => (*s, *t, ""),
            [s, t, m] => (*s, *t, *m),
            _ => {
                return Err(format!(
                    "must be NAME:/path[:ro], /path or /host:/path[:ro]; got {v:?}"
                ))
            }
        };
        let read_only = match mode {
            "" | "rw" => false,
            "ro" => true,
            m => return Err(format!("mode must be ro or rw, got {m:?}")),
        };
        let clean =
            |p: &str| p.starts_with('/') && p.len() <= 4096 && !p.split('/').any(|s| s == "..");
        if !clean(target) {
            return Err(format!(
                "the container path must be absolute, without '..'; got {target:?}"
            ));
        }
        if !(source.is_empty() || clean(source) || docker_name(source, 200)) {
            return Err(format!(
                "the source must be a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*) or an absolute host path; got {source:?}"
            ));
        }
        Ok(Volume {
            source,
            target,
            read_only,
        })
    }
}

/// The running state of a container as its engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContainerState {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub started_at: String,
    #[serde(default)]
    pub pid: u32,
    #[serde(default)]
    pub running: bool,
    /// How many times the cluster started it again by its restart policy
    /// (what `maximum_retry` counts).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restart_count: u32,
}

/// A published port of a deployed container.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Port {
    pub container_port: u32,
    #[serde(default)]
    pub port: u32,
    #[serde(default)]
    pub proto: Proto,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host_ip: String,
}

/// A deployed container, as Shipyard lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Container {
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default)]
    pub state: ContainerState,
    #[serde(default)]
    pub ports: Vec<Port>,
    pub engine: Engine,
    pub image: ImageConfig,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed_request() -> ImageConfig {
        // The deploy request of seed 001.
        serde_json::from_str(
            r#"{"name":"ehazlett/go-demo","cpus":0.1,"memory":32,"type":"service",
                "hostname":"","domain":"","labels":["local"],"args":[],
                "environment":{"FOO":"bar"},"restart_policy":{"name":"always"},
                "bind_ports":[{"host_ip":"10.1.2.3","proto":"tcp","container_port":8080},
                              {"proto":"tcp","port":80,"container_port":8080}],
                "links":{"redis":"db"}}"#,
        )
        .unwrap()
    }

    #[test]
    fn seed_request_parses_and_validates() {
        let req = seed_request();
        assert_eq!(req.kind, ContainerType::Service);
        assert_eq!(req.bind_ports[1].port, 80);
        assert!(req.restart_policy.is_always());
        req.validate().unwrap();
    }

    #[test]
    fn invalid_fields_are_named() {
        type Mutation = Box<dyn Fn(&mut ImageConfig)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|r| r.name.clear()), "name"),
            (Box::new(|r| r.cpus = 0.0), "cpus"),
            (Box::new(|r| r.cpus = f64::NAN), "cpus"),
            (Box::new(|r| r.memory = 0), "memory"),
            (Box::new(|r| r.memory = MAX_MEMORY + 1), "memory"),
            (Box::new(|r| r.cpus = MAX_CPUS * 2.0), "cpus"),
            (Box::new(|r| r.cpus = f64::INFINITY), "cpus"),
            (
                Box::new(|r| r.restart_policy.name = "sometimes".into()),
                "restart_policy.name",
            ),
            (
                Box::new(|r| r.restart_policy.maximum_retry = Some(1 << 31)),
                "restart_policy.maximum_retry",
            ),
            (
                Box::new(|r| r.bind_ports[1].port = 70000),
                "bind_ports[1].port",
            ),
            (
                Box::new(|r| r.bind_ports[0].container_port = 0),
                "bind_ports[0].container_port",
            ),
            (
                Box::new(|r| r.bind_ports[0].host_ip = "nope".into()),
                "bind_ports[0].host_ip",
            ),
            (
                Box::new(|r| r.container_name = "-web".into()),
                "container_name",
            ),
            (
                Box::new(|r| r.container_name = "web/../x".into()),
                "container_name",
            ),
            (
                Box::new(|r| r.network_mode = "my net".into()),
                "network_mode",
            ),
            (Box::new(|r| r.network_mode = "host".into()), "bind_ports"),
            (
                Box::new(|r| {
                    r.bind_ports.clear();
                    r.network_mode = "none".into();
                }),
                "links",
            ),
            (
                Box::new(|r| r.volumes = vec!["data:/d".into(), "data:relative".into()]),
                "volumes[1]",
            ),
            (
                Box::new(|r| r.volumes = vec!["/a/../etc:/x".into()]),
                "volumes[0]",
            ),
            (
                Box::new(|r| r.volumes = vec!["d:/x:rx".into()]),
                "volumes[0]",
            ),
            (
                Box::new(|r| r.volumes = vec!["a:b:c:d".into()]),
                "volumes[0]",
            ),
        ];
        for (mutate, field) in cases {
            let mut req = seed_request();
            mutate(&mut req);
            match req.validate() {
                Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: expected invalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn volumes_are_read_as_docker_does() {
        assert_eq!(
            Volume::parse("data:/d:ro").unwrap(),
            Volume {
                source: "data",
                target: "/d",
                read_only: true
            }
        );
        assert_eq!(Volume::parse("/cache").unwrap().source, "");
        let mut req = seed_request();
        req.volumes = vec!["data:/d".into(), "/tmp".into()];
        req.container_name = "web.1_a-b".into();
        req.network_mode = "container:abc123".into();
        req.bind_ports.clear();
        req.links.clear();
        req.validate().unwrap();
        assert!(!req.mounts_host_paths());
        req.volumes.push("/srv:/srv:rw".into());
        assert!(req.mounts_host_paths());
    }

    #[test]
    fn host_ports_are_converted_once() {
        let req = seed_request();
        assert_eq!(req.host_ports(), [HostPort::new("", Proto::Tcp, 80)]);
        let mut bad = seed_request();
        bad.name = "Not/Valid".into();
        match bad.validate() {
            Err(Error::Invalid { field, .. }) => assert_eq!(field, "name"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_type_is_a_parse_error() {
        let err = serde_json::from_str::<ImageConfig>(
            r#"{"name":"x","cpus":1,"memory":1,"type":"weird"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown variant"), "{err}");
    }
}
