//! The values that cross the engine backend: container specs and details,
//! images, volumes, networks, progress, logs, build output and events.
//!
//! They hold what the core uses, in the core's units (MiB, millicpus), not a
//! copy of the Docker Engine API; the Docker backend translates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{BindPort, Millicpus, Port, Proto, RestartPolicy};

/// What an engine reports about itself.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EngineInfo {
    /// The engine's own id (Docker's `ID`).
    pub id: String,
    pub name: String,
    pub version: String,
    pub api_version: String,
    /// The host's operating system, as a person reads it (`Debian GNU/Linux
    /// 12 (bookworm)`).
    pub os: String,
    /// The kind of containers it runs (`linux`, `windows`): an image
    /// platform's OS.
    #[serde(default)]
    pub os_type: String,
    pub arch: String,
    pub cpus: Millicpus,
    /// MiB.
    pub memory: u64,
    pub labels: Vec<String>,
    pub containers: u64,
    pub images: u64,
}

/// A host port to publish a container port on; `host_port` 0 lets the engine
/// pick one; with `host_port_end` above it, the engine picks a free one from
/// `host_port` to `host_port_end`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PortBinding {
    pub container_port: u16,
    pub proto: Proto,
    pub host_ip: String,
    pub host_port: u16,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub host_port_end: u16,
}

fn is_zero(n: &u16) -> bool {
    *n == 0
}

impl PortBinding {
    /// The host port as Docker writes it: empty (the engine's choice), a
    /// port, or a range `first-last`.
    pub fn host_port_text(&self) -> String {
        match (self.host_port, self.host_port_end) {
            (0, _) => String::new(),
            (p, end) if end > p => format!("{p}-{end}"),
            (p, _) => p.to_string(),
        }
    }
}

impl From<&BindPort> for PortBinding {
    /// A request's binding as the engine takes it (a validated request has
    /// ports within 1..=65535; anything else becomes 0, "engine's choice").
    fn from(b: &BindPort) -> Self {
        PortBinding {
            container_port: u16::try_from(b.container_port).unwrap_or(0),
            proto: b.proto,
            host_ip: b.host_ip.clone(),
            host_port: u16::try_from(b.port).unwrap_or(0),
            host_port_end: 0,
        }
    }
}

/// How to create a container.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// Container name; the engine makes one up when `None`.
    pub name: Option<String>,
    pub image: String,
    /// Replaces the image's command when not empty.
    pub cmd: Vec<String>,
    /// Replaces the image's entrypoint when set.
    pub entrypoint: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub hostname: String,
    pub domainname: String,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<PortBinding>,
    /// 0: no limit.
    pub cpus: Millicpus,
    /// MiB; 0: no limit.
    pub memory: u64,
    pub restart_policy: RestartPolicy,
    /// Docker links, `name:alias`.
    pub links: Vec<String>,
    /// The network to attach at creation (`bridge` when `None`).
    pub network: Option<String>,
    /// Aliases on that network.
    pub network_aliases: Vec<String>,
    /// Static addresses on that network (empty: the engine's choice).
    #[serde(default)]
    pub ipv4_address: String,
    #[serde(default)]
    pub ipv6_address: String,
    /// Its MAC address on that network (Docker API 1.44 on).
    #[serde(default)]
    pub mac_address: String,
    /// Its interface's name there (Docker API 1.49 on).
    #[serde(default)]
    pub interface_name: String,
    /// That network's gateway priority (Docker API 1.48 on).
    #[serde(default)]
    pub gw_priority: i64,
    /// Volume mounts, `volume-or-path:/container/path[:ro]`.
    pub binds: Vec<String>,
    /// Paths in the container mounted as tmpfs.
    pub tmpfs: Vec<String>,
    /// Ports exposed to the container's networks only, `80/tcp`.
    pub exposed: Vec<String>,
    /// Replaces the image's health check when set.
    pub healthcheck: Option<HealthSpec>,
    /// Empty: the image's.
    pub user: String,
    pub working_dir: String,
    /// Runs an init process as PID 1 (`None`: the engine's default).
    pub init: Option<bool>,
    /// Empty: the image's (`SIGTERM`).
    pub stop_signal: String,
    /// Seconds a stop waits before killing (`None`: the engine's default).
    pub stop_timeout: Option<u64>,
    /// Privileges, devices and the host's namespaces, as admitted (see
    /// `model::admission`).
    #[serde(default)]
    pub host: crate::model::HostAccess,
    /// How it runs within itself: read-only root, limits, tmpfs with
    /// options, DNS, logging, ...
    #[serde(default)]
    pub options: crate::model::ContainerOptions,
    /// Containers whose volumes it mounts too: `name` or `name:ro`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<String>,
    /// Files put into the container after it is made and before it
    /// starts (compose's secrets and configs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<ContainerFile>,
}

/// A file put into a container before it starts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContainerFile {
    /// Absolute path in the container.
    pub path: String,
    pub content: String,
    /// Permission bits (`0o444`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// `files` as a tar archive rooted at `/` (folders made as needed, owned
/// by root, 0755), as the engine's archive upload takes it.
pub fn files_tar(files: &[ContainerFile]) -> std::io::Result<Vec<u8>> {
    let mut out = tar::Builder::new(Vec::new());
    let mut dirs = std::collections::BTreeSet::new();
    for f in files {
        let rel = f.path.trim_start_matches('/');
        let mut at = String::new();
        let parts: Vec<&str> = rel.split('/').collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            at = if at.is_empty() {
                (*part).to_string()
            } else {
                format!("{at}/{part}")
            };
            if dirs.insert(at.clone()) {
                let mut h = tar::Header::new_ustar();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                h.set_cksum();
                out.append_data(&mut h, format!("{at}/"), std::io::empty())?;
            }
        }
        let mut h = tar::Header::new_ustar();
        h.set_mode(f.mode);
        h.set_uid(u64::from(f.uid));
        h.set_gid(u64::from(f.gid));
        h.set_size(f.content.len() as u64);
        h.set_cksum();
        out.append_data(&mut h, rel, f.content.as_bytes())?;
    }
    out.into_inner()
}

/// A container health check (Docker's `Healthcheck`); durations in
/// milliseconds, 0: the engine's default.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HealthSpec {
    /// `["CMD", ...]`, `["CMD-SHELL", "..."]`, `["NONE"]` (off).
    pub test: Vec<String>,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub retries: u32,
    pub start_period_ms: u64,
    #[serde(default)]
    pub start_interval_ms: u64,
}

/// A container's run state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RunState {
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited`, `dead`.
    pub status: String,
    pub running: bool,
    pub pid: u32,
    pub exit_code: i64,
    /// RFC 3339; empty if never started.
    pub started_at: String,
    pub finished_at: String,
    /// `healthy`, `unhealthy`, `starting`, or empty without a health check.
    pub health: String,
}

/// A container as inspected.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ContainerDetails {
    pub id: String,
    /// Without Docker's leading `/`.
    pub name: String,
    /// The image reference it was created from.
    pub image: String,
    /// The image id.
    pub image_id: String,
    pub created: String,
    pub state: RunState,
    pub labels: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
    pub cmd: Vec<String>,
    pub hostname: String,
    pub ports: Vec<Port>,
    /// IP addresses by network name.
    pub networks: BTreeMap<String, String>,
    pub restart_policy: RestartPolicy,
    /// Limits as set: millicpus and MiB (0: none).
    pub cpus: Millicpus,
    pub memory: u64,
}

/// A container as listed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ContainerSummary {
    pub id: String,
    pub name: String,
    pub image: String,
    /// Docker's state word: `running`, `exited`, ...
    pub state: String,
    /// Docker's human status: `Up 3 minutes`.
    pub status: String,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<Port>,
    /// Unix seconds.
    pub created: i64,
    /// Names of the volumes mounted in it.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// The command it runs, as one line (Docker's `Command`).
    #[serde(default)]
    pub command: String,
    /// The id of the image it was made from.
    #[serde(default)]
    pub image_id: String,
}

/// Which containers to list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContainerFilter {
    /// Stopped ones too.
    pub all: bool,
    /// `key` or `key=value`; all must match.
    pub labels: Vec<String>,
    /// Name contains this.
    pub name: Option<String>,
}

/// What to read of a container's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    /// Keep the stream open for new output.
    pub follow: bool,
    /// Only the last n lines.
    pub tail: Option<u64>,
    pub timestamps: bool,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            stdout: true,
            stderr: true,
            follow: false,
            tail: None,
            timestamps: false,
        }
    }
}

/// Which stream a piece of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    Stdout,
    Stderr,
    /// A container with a TTY has one stream.
    Console,
}

/// A piece of a container's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogChunk {
    pub stream: LogStream,
    pub data: Vec<u8>,
}

/// Credentials for a registry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RegistryAuth {
    pub username: String,
    pub password: String,
    pub server: String,
}

impl RegistryAuth {
    /// The registry host an image reference names (`127.0.0.1:5000` of
    /// `127.0.0.1:5000/app:1`), or None for Docker Hub's images: the first
    /// component, when there are others and it holds a `.` or a `:` or is
    /// `localhost`, as the docker CLI reads references.
    pub fn host_of(image: &str) -> Option<&str> {
        let (first, _) = image.split_once('/')?;
        (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
    }
}

/// Credentials for the registries images are pulled from, by host. Cloned,
/// it is shared: a server sets them once it knows its own address, after the
/// services that pull were made.
#[derive(Debug, Clone, Default)]
pub struct RegistryCredentials(std::sync::Arc<std::sync::RwLock<Vec<RegistryAuth>>>);

impl RegistryCredentials {
    /// Sets the credentials of `auth.server`, replacing earlier ones.
    pub fn set(&self, auth: RegistryAuth) {
        if let Ok(mut all) = self.0.write() {
            all.retain(|a| a.server != auth.server);
            all.push(auth);
        }
    }

    /// The credentials for pulling `image`, if its registry has some.
    pub fn for_image(&self, image: &str) -> Option<RegistryAuth> {
        let host = RegistryAuth::host_of(image)?;
        let all = self.0.read().ok()?;
        all.iter().find(|a| a.server == host).cloned()
    }
}

/// One progress message of a pull or a push.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Progress {
    /// The layer or tag the message is about.
    pub id: Option<String>,
    /// `Pulling fs layer`, `Downloading`, `Pushed`, `Digest: sha256:...`, ...
    pub status: String,
    /// Bytes done and total, when the engine says.
    pub current: Option<u64>,
    pub total: Option<u64>,
}

/// An image as listed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ImageSummary {
    pub id: String,
    pub tags: Vec<String>,
    pub digests: Vec<String>,
    pub size: u64,
    /// Unix seconds.
    pub created: i64,
}

/// An image as inspected.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ImageDetails {
    pub id: String,
    pub tags: Vec<String>,
    pub digests: Vec<String>,
    pub size: u64,
    pub created: String,
    pub os: String,
    pub arch: String,
    pub labels: BTreeMap<String, String>,
    /// Layer diff ids.
    pub layers: Vec<String>,
}

/// How to create a volume.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VolumeSpec {
    pub name: String,
    /// `local` when empty.
    pub driver: String,
    pub driver_opts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// A volume as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VolumeInfo {
    pub name: String,
    pub driver: String,
    pub mountpoint: String,
    pub labels: BTreeMap<String, String>,
    pub scope: String,
}

/// How to create a network.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetworkSpec {
    pub name: String,
    /// `bridge` when empty.
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub driver_opts: BTreeMap<String, String>,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub attachable: bool,
    #[serde(default)]
    pub enable_ipv6: bool,
    /// The IPAM driver (empty: the engine's) and its pools.
    #[serde(default)]
    pub ipam_driver: String,
    #[serde(default)]
    pub ipam: Vec<crate::model::IpamPool>,
}

/// A network as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetworkInfo {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
}

/// How to build an image.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BuildOptions {
    /// `name:tag` for the result.
    pub tag: String,
    /// Path of the Dockerfile in the context (`Dockerfile` when empty).
    pub dockerfile: String,
    pub build_args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub no_cache: bool,
    /// Most memory a build step may use, MiB (0: the engine's default).
    #[serde(default)]
    pub memory: u64,
    /// Most cpus a build step may use (0: no limit).
    #[serde(default)]
    pub cpus: Millicpus,
}

/// One message of a build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BuildOutput {
    /// A line of build output (`Step 1/3 : FROM scratch`).
    Log(String),
    /// The id of the built image.
    ImageId(String),
}

/// An event of the engine (Docker's `/events`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EngineEvent {
    /// `container`, `image`, `network`, `volume`, ...
    pub kind: String,
    /// `create`, `start`, `die`, `destroy`, `pull`, ...
    pub action: String,
    /// The object's id.
    pub id: String,
    pub attributes: BTreeMap<String, String>,
    /// Unix nanoseconds.
    pub time_nano: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_go_to_the_registry_an_image_names() {
        assert_eq!(
            RegistryAuth::host_of("127.0.0.1:5000/a/b:1"),
            Some("127.0.0.1:5000")
        );
        assert_eq!(RegistryAuth::host_of("localhost/a"), Some("localhost"));
        assert_eq!(RegistryAuth::host_of("reg.example/a"), Some("reg.example"));
        assert_eq!(RegistryAuth::host_of("library/busybox"), None);
        assert_eq!(RegistryAuth::host_of("busybox:1"), None);
        let creds = RegistryCredentials::default();
        let shared = creds.clone();
        shared.set(RegistryAuth {
            username: "u".into(),
            password: "p".into(),
            server: "127.0.0.1:5000".into(),
        });
        assert_eq!(
            creds.for_image("127.0.0.1:5000/app:1").map(|a| a.username),
            Some("u".to_string())
        );
        assert!(creds.for_image("127.0.0.1:5001/app:1").is_none());
        assert!(creds.for_image("app:1").is_none());
    }
}
