//! Docker's wire shapes: the create request read into the cluster's
//! request (the one place it is translated), and the core's values
//! written as Docker's JSON.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};
use shipcore::engine::{ContainerDetails, ContainerSummary, NetworkInfo, VolumeInfo};
use shipcore::model::{
    BindPort, ContainerOptions, DockerOptions, HostAccess, ImageConfig, Port, Proto, RestartPolicy,
};

use crate::error::Error;

/// A string or a list of strings (`Cmd` and `Entrypoint` take both).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Words {
    One(String),
    Many(Vec<String>),
}

impl Words {
    fn into_vec(self) -> Vec<String> {
        match self {
            Words::One(s) => vec![s],
            Words::Many(v) => v,
        }
    }
}

/// `POST /containers/create`'s body: what the cluster can carry out.
/// Fields it does not know are ignored, as the engine ignores them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateBody {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub env: Option<Vec<String>>,
    pub cmd: Option<Words>,
    pub entrypoint: Option<Words>,
    pub image: String,
    pub labels: Option<BTreeMap<String, String>>,
    pub working_dir: String,
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u64>,
    pub tty: bool,
    pub open_stdin: bool,
    pub host_config: Option<HostConfig>,
    pub networking_config: Option<NetworkingConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    /// Bytes.
    pub memory: i64,
    pub nano_cpus: i64,
    pub cpu_quota: i64,
    pub cpu_period: i64,
    pub binds: Option<Vec<String>>,
    pub mounts: Option<Vec<Mount>>,
    pub port_bindings: Option<BTreeMap<String, Option<Vec<HostPortJson>>>>,
    pub network_mode: String,
    pub restart_policy: Option<RestartJson>,
    pub links: Option<Vec<String>>,
    pub init: Option<bool>,
    pub tmpfs: Option<BTreeMap<String, String>>,
    pub auto_remove: bool,
    pub privileged: bool,
    pub cap_add: Option<Vec<String>>,
    pub devices: Option<Vec<Device>>,
    pub pid_mode: String,
    pub ipc_mode: String,
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    pub userns_mode: String,
    pub security_opt: Option<Vec<String>>,
    pub sysctls: Option<BTreeMap<String, String>>,
    pub readonly_rootfs: bool,
    pub cap_drop: Option<Vec<String>>,
    pub pids_limit: Option<i64>,
    pub ulimits: Option<Vec<Ulimit>>,
    pub extra_hosts: Option<Vec<String>>,
    pub dns: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    pub dns_options: Option<Vec<String>>,
    pub shm_size: i64,
    pub group_add: Option<Vec<String>>,
    pub log_config: Option<LogConfig>,
    pub oom_score_adj: i64,
    pub cpu_shares: i64,
    pub cpuset_cpus: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    pub config: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Device {
    pub path_on_host: String,
    pub path_in_container: String,
    pub cgroup_permissions: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Mount {
    #[serde(rename = "Type")]
    pub kind: String,
    pub source: String,
    pub target: String,
    pub read_only: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostPortJson {
    pub host_ip: String,
    pub host_port: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartJson {
    pub name: String,
    pub maximum_retry_count: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    pub endpoints_config: Option<BTreeMap<String, Option<Endpoint>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Endpoint {
    pub aliases: Option<Vec<String>>,
}

/// The label by which Swarm read scheduling rules from a container's
/// labels (a JSON list of `key==value`, `affinity:…`).
pub const SWARM_CONSTRAINTS: &str = "com.docker.swarm.constraints";
pub const SWARM_AFFINITIES: &str = "com.docker.swarm.affinities";

/// A scheduling rule as Swarm wrote it, in the cluster's label language:
/// `node==X` names an engine (`host:X`); other keys are engine labels.
fn rule(entry: &str) -> String {
    if let Some(affinity) = entry.strip_prefix("affinity:") {
        return format!("affinity:{affinity}");
    }
    let rule = entry.strip_prefix("constraint:").unwrap_or(entry);
    match rule.split_once("==") {
        Some(("node", engine)) => format!("host:{engine}"),
        _ => rule.to_string(),
    }
}

fn mib(bytes: i64) -> u64 {
    u64::try_from(bytes).map_or(0, |b| b.div_ceil(1 << 20))
}

/// `80/tcp` → (80, tcp).
fn port_key(key: &str) -> Result<(u32, Proto), Error> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = match proto {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        other => {
            return Err(Error::bad_request(format!(
                "invalid HostConfig.PortBindings: protocol {other:?} of {key:?} is not tcp or udp"
            )))
        }
    };
    let port = port.parse().map_err(|_| {
        Error::bad_request(format!(
            "invalid HostConfig.PortBindings: {key:?} is not PORT/PROTO"
        ))
    })?;
    Ok((port, proto))
}

/// The cluster's request for a create: the request's limits are its
/// reservation; constraints from `constraint:` / `affinity:` environment
/// entries and Swarm's labels. Returns it with the warnings Docker's
/// answer carries (what the cluster leaves out). What reaches beyond the
/// container (privileged, devices, the host's namespaces, added
/// capabilities) is carried in `DockerOptions::host`, for the admission
/// policy to judge.
// Over 80 lines: one step per field of Docker's create body, in the order the API documents them.
pub fn create_request(name: &str, body: CreateBody) -> Result<(ImageConfig, Vec<String>), Error> {
    let mut warnings = Vec::new();
    if body.image.trim().is_empty() {
        return Err(Error::bad_request("invalid Image: an image is required"));
    }
    let host = body.host_config.unwrap_or_default();
    // What reaches beyond the container is carried as asked; the cluster's
    // one admission point judges it against the caller's role.
    let access = HostAccess {
        privileged: host.privileged,
        cap_add: host.cap_add.unwrap_or_default(),
        devices: host
            .devices
            .unwrap_or_default()
            .into_iter()
            .map(|d| {
                [d.path_on_host, d.path_in_container, d.cgroup_permissions]
                    .join(":")
                    .trim_end_matches(':')
                    .to_string()
            })
            .collect(),
        pid_mode: host.pid_mode,
        ipc_mode: host.ipc_mode,
        uts_mode: host.uts_mode,
        userns_mode: host.userns_mode,
        security_opt: host.security_opt.unwrap_or_default(),
        sysctls: host.sysctls.unwrap_or_default(),
    };
    if body.tty || body.open_stdin {
        warnings.push(
            "the cluster endpoint does not attach: the container runs without a TTY or stdin"
                .to_string(),
        );
    }
    if host.auto_remove {
        warnings.push(
            "the cluster keeps a record of every container it runs: --rm is left out; remove it with docker rm"
                .to_string(),
        );
    }
    let log = host.log_config.unwrap_or_default();
    // How the container runs within itself, as `docker run` asked.
    let options = ContainerOptions {
        read_only: host.readonly_rootfs,
        cap_drop: host.cap_drop.unwrap_or_default(),
        pids_limit: host.pids_limit.filter(|p| *p != 0),
        tmpfs: host.tmpfs.unwrap_or_default(),
        ulimits: host
            .ulimits
            .unwrap_or_default()
            .into_iter()
            .map(|u| (u.name, (u.soft, u.hard)))
            .collect(),
        extra_hosts: host.extra_hosts.unwrap_or_default(),
        dns: host.dns.unwrap_or_default(),
        dns_search: host.dns_search.unwrap_or_default(),
        dns_opt: host.dns_options.unwrap_or_default(),
        shm_size: u64::try_from(host.shm_size).unwrap_or(0),
        group_add: host.group_add.unwrap_or_default(),
        log_driver: log.kind,
        log_options: log.config.unwrap_or_default(),
        oom_score_adj: (host.oom_score_adj != 0).then_some(host.oom_score_adj),
        cpu_shares: u64::try_from(host.cpu_shares).unwrap_or(0),
        cpuset: host.cpuset_cpus,
        ..ContainerOptions::default()
    };
    let mut labels = body.labels.unwrap_or_default();
    let mut rules = Vec::new();
    for key in [SWARM_CONSTRAINTS, SWARM_AFFINITIES] {
        if let Some(raw) = labels.remove(key) {
            let list: Vec<String> = serde_json::from_str(&raw).map_err(|e| {
                Error::bad_request(format!(
                    "invalid Labels.{key}: a JSON list of rules is expected: {e}"
                ))
            })?;
            rules.extend(list.iter().map(|r| rule(r)));
        }
    }
    let mut environment = BTreeMap::new();
    for entry in body.env.unwrap_or_default() {
        if entry.starts_with("constraint:") || entry.starts_with("affinity:") {
            rules.push(rule(&entry));
            continue;
        }
        match entry.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                environment.insert(k.to_string(), v.to_string());
            }
            // `-e NAME` without a value: unset, as Docker has it.
            _ => {}
        }
    }
    let mut bind_ports = Vec::new();
    for (key, bindings) in host.port_bindings.unwrap_or_default() {
        let (container_port, proto) = port_key(&key)?;
        for b in bindings.unwrap_or_default() {
            let port = if b.host_port.trim().is_empty() {
                0
            } else {
                b.host_port.trim().parse().map_err(|_| {
                    Error::bad_request(format!(
                        "invalid HostConfig.PortBindings[{key:?}]: host port {:?} is not a number (ranges are not taken)",
                        b.host_port
                    ))
                })?
            };
            bind_ports.push(BindPort {
                host_ip: b.host_ip,
                proto,
                port,
                container_port,
            });
        }
    }
    let mut volumes = host.binds.unwrap_or_default();
    for m in host.mounts.unwrap_or_default() {
        match m.kind.as_str() {
            "volume" | "bind" if !m.target.is_empty() => {
                let mut v = if m.source.is_empty() {
                    m.target.clone()
                } else {
                    format!("{}:{}", m.source, m.target)
                };
                if m.read_only && !m.source.is_empty() {
                    v.push_str(":ro");
                }
                volumes.push(v);
            }
            other => {
                return Err(Error::bad_request(format!(
                    "invalid HostConfig.Mounts: type {other:?} is not taken (volume and bind are)"
                )))
            }
        }
    }
    let cpus = if host.nano_cpus > 0 {
        host.nano_cpus as f64 / 1e9
    } else if host.cpu_quota > 0 && host.cpu_period > 0 {
        host.cpu_quota as f64 / host.cpu_period as f64
    } else {
        0.0
    };
    let restart = host.restart_policy.unwrap_or_default();
    let restart_policy = RestartPolicy {
        name: if restart.name.is_empty() {
            "no".into()
        } else {
            restart.name
        },
        maximum_retry: (restart.maximum_retry_count > 0).then_some(restart.maximum_retry_count),
    };
    let mut links = BTreeMap::new();
    for l in host.links.unwrap_or_default() {
        let l = l.trim_start_matches('/');
        let (target, alias) = l.split_once(':').unwrap_or((l, l));
        let alias = alias.rsplit('/').next().unwrap_or(alias);
        links.insert(target.to_string(), alias.to_string());
    }
    let endpoints = body
        .networking_config
        .and_then(|n| n.endpoints_config)
        .unwrap_or_default();
    let mut network_mode = host.network_mode;
    if matches!(network_mode.as_str(), "" | "default") && endpoints.len() == 1 {
        if let Some(only) = endpoints.keys().next() {
            network_mode = only.clone();
        }
    }
    let network_aliases = endpoints
        .get(&network_mode)
        .and_then(|e| e.as_ref())
        .and_then(|e| e.aliases.clone())
        .unwrap_or_default();
    let docker = DockerOptions {
        labels,
        entrypoint: body.entrypoint.map(Words::into_vec),
        user: body.user,
        working_dir: body.working_dir,
        network_aliases,
        exposed: body.exposed_ports.unwrap_or_default().into_keys().collect(),
        tmpfs: Vec::new(),
        stop_signal: body.stop_signal.unwrap_or_default(),
        stop_timeout: body.stop_timeout,
        init: host.init,
        host: access,
        options,
    };
    let cfg = ImageConfig {
        name: body.image,
        cpus,
        memory: mib(host.memory),
        hostname: body.hostname,
        domain: body.domainname,
        labels: rules,
        args: body.cmd.map(Words::into_vec).unwrap_or_default(),
        environment,
        restart_policy,
        bind_ports,
        links,
        container_name: name.trim_start_matches('/').to_string(),
        network_mode,
        volumes,
        docker: Some(Box::new(docker)),
        ..ImageConfig::default()
    };
    Ok((cfg, warnings))
}

/// Published ports as Docker lists them.
fn ports(ports: &[Port]) -> Value {
    Value::Array(
        ports
            .iter()
            .map(|p| {
                let mut v = json!({"PrivatePort": p.container_port, "Type": p.proto.to_string()});
                if p.port != 0 {
                    v["PublicPort"] = json!(p.port);
                    v["IP"] = json!(if p.host_ip.is_empty() {
                        "0.0.0.0"
                    } else {
                        &p.host_ip
                    });
                }
                v
            })
            .collect(),
    )
}

/// One container of `docker ps`: named `/ENGINE/NAME`, as Swarm named them
/// (clients that read names take the last part).
pub fn summary(engine: &str, c: &ContainerSummary) -> Value {
    json!({
        "Id": c.id,
        "Names": [format!("/{}", shipcore::cluster::qualified(engine, &c.name))],
        "Image": c.image,
        "ImageID": c.image_id,
        "Command": c.command,
        "Created": c.created,
        "Ports": ports(&c.ports),
        "Labels": c.labels,
        "State": c.state,
        "Status": c.status,
        "HostConfig": {"NetworkMode": "default"},
        "NetworkSettings": {"Networks": {}},
        "Mounts": c.volumes.iter().map(|v| json!({"Type": "volume", "Name": v})).collect::<Vec<_>>(),
        "Node": {"ID": engine, "Name": engine},
    })
}

/// `docker inspect` of a container, with the engine it is on (`Node`).
// Over 80 lines: `docker inspect`'s fields, one by one.
pub fn details(engine: &str, d: &ContainerDetails) -> Value {
    let env: Vec<String> = d.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut port_map = serde_json::Map::new();
    for p in &d.ports {
        let key = format!("{}/{}", p.container_port, p.proto);
        let entry = port_map.entry(key).or_insert_with(|| Value::Array(vec![]));
        if p.port != 0 {
            if let Value::Array(list) = entry {
                list.push(json!({
                    "HostIp": if p.host_ip.is_empty() { "0.0.0.0" } else { &p.host_ip },
                    "HostPort": p.port.to_string(),
                }));
            }
        }
    }
    let networks: serde_json::Map<String, Value> = d
        .networks
        .iter()
        .map(|(name, ip)| {
            (
                name.clone(),
                json!({"IPAddress": ip, "Aliases": null, "NetworkID": "", "EndpointID": ""}),
            )
        })
        .collect();
    let network_mode = d
        .networks
        .keys()
        .find(|n| n.as_str() != "bridge")
        .cloned()
        .unwrap_or_else(|| "default".into());
    let state = &d.state;
    json!({
        "Id": d.id,
        "Created": d.created,
        "Path": d.cmd.first().cloned().unwrap_or_default(),
        "Args": d.cmd.iter().skip(1).collect::<Vec<_>>(),
        "State": {
            "Status": state.status,
            "Running": state.running,
            "Paused": state.status == "paused",
            "Restarting": state.status == "restarting",
            "OOMKilled": false,
            "Dead": state.status == "dead",
            "Pid": state.pid,
            "ExitCode": state.exit_code,
            "Error": "",
            "StartedAt": if state.started_at.is_empty() { "0001-01-01T00:00:00Z" } else { &state.started_at },
            "FinishedAt": if state.finished_at.is_empty() { "0001-01-01T00:00:00Z" } else { &state.finished_at },
        },
        "Image": d.image_id,
        "Name": format!("/{}", d.name),
        "RestartCount": 0,
        "Driver": "",
        "Platform": "linux",
        "HostConfig": {
            "NetworkMode": network_mode,
            "Memory": d.memory.saturating_mul(1 << 20),
            "NanoCpus": d.cpus.saturating_mul(1_000_000),
            "RestartPolicy": {
                "Name": if d.restart_policy.name.is_empty() { "no" } else { &d.restart_policy.name },
                "MaximumRetryCount": d.restart_policy.maximum_retry.unwrap_or(0),
            },
            "AutoRemove": false,
            "LogConfig": {"Type": "json-file", "Config": {}},
        },
        "Config": {
            "Hostname": d.hostname,
            "Domainname": "",
            "User": "",
            "AttachStdin": false,
            "AttachStdout": false,
            "AttachStderr": false,
            "Tty": false,
            "OpenStdin": false,
            "Env": env,
            "Cmd": d.cmd,
            "Image": d.image,
            "Labels": d.labels,
            "Volumes": null,
            "WorkingDir": "",
            "Entrypoint": null,
        },
        "NetworkSettings": {
            "Networks": networks,
            "Ports": port_map,
            "IPAddress": d.networks.get("bridge").cloned().unwrap_or_default(),
        },
        "Mounts": [],
        "Node": {"ID": engine, "Name": engine},
    })
}

/// A volume as Docker shows it.
pub fn volume(v: &VolumeInfo) -> Value {
    json!({
        "Name": v.name,
        "Driver": if v.driver.is_empty() { "local" } else { &v.driver },
        "Mountpoint": v.mountpoint,
        "Labels": v.labels,
        "Scope": if v.scope.is_empty() { "local" } else { &v.scope },
        "Options": null,
    })
}

/// A network as Docker shows it, under the name given.
pub fn network(name: &str, engine: &str, n: &NetworkInfo) -> Value {
    json!({
        "Name": name,
        "Id": n.id,
        "Created": "0001-01-01T00:00:00Z",
        "Scope": "local",
        "Driver": n.driver,
        "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": null, "Config": []},
        "Internal": false,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": {},
        "Options": {},
        "Labels": n.labels,
        "Node": {"ID": engine, "Name": engine},
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn read(body: &str) -> Result<(ImageConfig, Vec<String>), Error> {
        create_request("web", serde_json::from_str(body).unwrap())
    }

    #[test]
    fn a_docker_run_becomes_the_clusters_request() {
        let (cfg, warnings) = read(
            r#"{"Image":"app:1","Cmd":["sh","-c","echo hi"],"Env":["A=1","constraint:disk==ssd","affinity:container!=db","constraint:node==e1","B"],
                "Labels":{"x":"y","com.docker.swarm.constraints":"[\"zone==a\"]"},"ExposedPorts":{"80/tcp":{}},
                "HostConfig":{"Memory":67108864,"NanoCpus":500000000,"PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]},
                  "Binds":["data:/data"],"RestartPolicy":{"Name":"always","MaximumRetryCount":0},"NetworkMode":"default"},
                "NetworkingConfig":{"EndpointsConfig":{"proj_default":{"Aliases":["web"]}}},"Tty":true}"#,
        )
        .unwrap();
        assert_eq!(cfg.name, "app:1");
        assert_eq!(cfg.memory, 64);
        assert!((cfg.cpus - 0.5).abs() < 1e-9);
        assert_eq!(cfg.args, ["sh", "-c", "echo hi"]);
        assert_eq!(cfg.environment.len(), 1);
        assert_eq!(
            cfg.labels,
            ["zone==a", "disk==ssd", "affinity:container!=db", "host:e1"]
        );
        assert_eq!(cfg.bind_ports[0].port, 8080);
        assert_eq!(cfg.bind_ports[0].container_port, 80);
        assert_eq!(cfg.volumes, ["data:/data"]);
        assert_eq!(cfg.restart_policy.name, "always");
        assert_eq!(cfg.network_mode, "proj_default");
        assert_eq!(cfg.container_name, "web");
        let docker = cfg.docker.as_deref().unwrap();
        assert_eq!(docker.network_aliases, ["web"]);
        assert_eq!(docker.labels.get("x").map(String::as_str), Some("y"));
        assert!(!docker.labels.contains_key(SWARM_CONSTRAINTS));
        assert_eq!(docker.exposed, ["80/tcp"]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        cfg.validate().unwrap();
    }

    /// `docker run --read-only --cap-drop --pids-limit --tmpfs --ulimit
    /// --add-host --dns --shm-size --group-add --log-driver --log-opt
    /// --oom-score-adj --cpu-shares --cpuset-cpus`, as the CLI sends them.
    #[test]
    fn a_docker_runs_container_options_are_carried() {
        let (cfg, _) = read(
            r#"{"Image":"app","HostConfig":{"ReadonlyRootfs":true,"CapDrop":["NET_RAW"],"PidsLimit":64,
                "Tmpfs":{"/run":"size=64k"},"Ulimits":[{"Name":"nofile","Soft":1024,"Hard":2048}],
                "ExtraHosts":["db:10.0.0.2"],"Dns":["9.9.9.9"],"DnsSearch":[],"DnsOptions":[],"ShmSize":8388608,
                "GroupAdd":["audio"],"LogConfig":{"Type":"json-file","Config":{"max-size":"1m"}},
                "OomScoreAdj":100,"CpuShares":512,"CpusetCpus":"0"}}"#,
        )
        .unwrap();
        let o = &cfg.docker.as_deref().unwrap().options;
        assert!(o.read_only);
        assert_eq!(o.cap_drop, ["NET_RAW"]);
        assert_eq!(o.pids_limit, Some(64));
        assert_eq!(o.tmpfs["/run"], "size=64k");
        assert_eq!(o.ulimits["nofile"], (1024, 2048));
        assert_eq!(
            (o.extra_hosts.as_slice(), o.dns.as_slice()),
            (
                &["db:10.0.0.2".to_string()][..],
                &["9.9.9.9".to_string()][..]
            )
        );
        assert_eq!(
            (o.shm_size, o.oom_score_adj, o.cpu_shares),
            (8 << 20, Some(100), 512)
        );
        assert_eq!(
            (o.log_driver.as_str(), o.log_options["max-size"].as_str()),
            ("json-file", "1m")
        );
        assert!(cfg.wants().is_empty(), "all within the container");
        let (cfg, _) = read(
            r#"{"Image":"app","HostConfig":{"LogConfig":{"Type":"syslog"},"OomScoreAdj":-500}}"#,
        )
        .unwrap();
        let wants: Vec<String> = cfg
            .wants()
            .iter()
            .map(|w| format!("{} {}", w.field, w.capability.area()))
            .collect();
        assert_eq!(
            wants,
            [
                "HostConfig.LogConfig.Type (syslog) log-drivers",
                "HostConfig.OomScoreAdj security-options"
            ]
        );
    }

    #[test]
    fn no_limits_reserve_nothing_and_host_access_is_left_to_admission() {
        let (cfg, _) = read(r#"{"Image":"app"}"#).unwrap();
        assert_eq!((cfg.cpus, cfg.memory), (0.0, 0));
        cfg.validate().unwrap();
        let (cfg, _) = read(r#"{"Image":"app","HostConfig":{"Memory":1072668082176}}"#).unwrap();
        assert_eq!(cfg.memory, 999 * 1024);
        use shipcore::model::Capability as C;
        for (asks, capability) in [
            (
                r#"{"Image":"app","HostConfig":{"Privileged":true}}"#,
                C::Privileged,
            ),
            (
                r#"{"Image":"app","HostConfig":{"PidMode":"host"}}"#,
                C::HostNamespaces,
            ),
            (
                r#"{"Image":"app","HostConfig":{"UTSMode":"host"}}"#,
                C::HostNamespaces,
            ),
            (
                r#"{"Image":"app","HostConfig":{"NetworkMode":"host"}}"#,
                C::HostNamespaces,
            ),
            (
                r#"{"Image":"app","HostConfig":{"CapAdd":["SYS_ADMIN"]}}"#,
                C::CapAdd,
            ),
            (
                r#"{"Image":"app","HostConfig":{"Devices":[{"PathOnHost":"/dev/fuse","PathInContainer":"/dev/fuse","CgroupPermissions":"rwm"}]}}"#,
                C::Devices,
            ),
            (
                r#"{"Image":"app","HostConfig":{"SecurityOpt":["seccomp=unconfined"]}}"#,
                C::SecurityOptions,
            ),
            (
                r#"{"Image":"app","HostConfig":{"Binds":["/:/host"]}}"#,
                C::HostBinds,
            ),
        ] {
            let (cfg, _) = read(asks).unwrap();
            let wants: Vec<C> = cfg.wants().into_iter().map(|w| w.capability).collect();
            assert_eq!(wants, [capability], "{asks}");
        }
        let (cfg, _) = read(r#"{"Image":"app","HostConfig":{"Devices":[{"PathOnHost":"/dev/fuse","PathInContainer":"/dev/fuse","CgroupPermissions":"rwm"}]}}"#).unwrap();
        assert_eq!(
            cfg.docker.unwrap().host.devices,
            ["/dev/fuse:/dev/fuse:rwm"]
        );
        for bad in [
            r#"{"Image":""}"#,
            r#"{"Image":"a","HostConfig":{"PortBindings":{"80/sctp":[]}}}"#,
            r#"{"Image":"a","HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":"80-90"}]}}}"#,
            r#"{"Image":"a","Labels":{"com.docker.swarm.constraints":"zone==a"}}"#,
            r#"{"Image":"a","HostConfig":{"Mounts":[{"Type":"npipe","Target":"/x"}]}}"#,
        ] {
            assert!(matches!(read(bad), Err(Error::BadRequest(_))), "{bad}");
        }
    }
}
