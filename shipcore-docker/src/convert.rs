//! Translations between the core's engine types and bollard's models. Docker
//! fields that are absent become empty values, never panics.

use std::collections::{BTreeMap, HashMap};

use bollard::models as m;
use shipcore::engine::{
    ContainerDetails, ContainerSpec, ContainerSummary, EngineInfo, ImageDetails, ImageSummary,
    Progress, RunState, VolumeInfo,
};
use shipcore::model::{Port, Proto, RestartPolicy};

pub fn env_map(env: Option<Vec<String>>) -> BTreeMap<String, String> {
    env.unwrap_or_default()
        .into_iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv, String::new()),
        })
        .collect()
}

fn sorted(map: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    map.unwrap_or_default().into_iter().collect()
}

fn proto(s: &str) -> Proto {
    if s.eq_ignore_ascii_case("udp") {
        Proto::Udp
    } else {
        Proto::Tcp
    }
}

pub fn info(i: m::SystemInfo) -> EngineInfo {
    EngineInfo {
        id: i.id.unwrap_or_default(),
        name: i.name.unwrap_or_default(),
        version: i.server_version.unwrap_or_default(),
        api_version: String::new(),
        os: i.operating_system.unwrap_or_default(),
        os_type: i.os_type.unwrap_or_default(),
        arch: i.architecture.unwrap_or_default(),
        cpus: u64::try_from(i.ncpu.unwrap_or(0)).unwrap_or(0) * 1000,
        memory: u64::try_from(i.mem_total.unwrap_or(0)).unwrap_or(0) / (1024 * 1024),
        labels: i.labels.unwrap_or_default(),
        containers: u64::try_from(i.containers.unwrap_or(0)).unwrap_or(0),
        images: u64::try_from(i.images.unwrap_or(0)).unwrap_or(0),
    }
}

fn restart_policy(p: &RestartPolicy) -> m::RestartPolicy {
    use m::RestartPolicyNameEnum as N;
    let name = match p.name.as_str() {
        "always" => N::ALWAYS,
        "on-failure" => N::ON_FAILURE,
        "unless-stopped" => N::UNLESS_STOPPED,
        _ => N::NO,
    };
    m::RestartPolicy {
        name: Some(name),
        maximum_retry_count: p.maximum_retry.map(i64::from),
    }
}

fn restart_policy_back(p: Option<m::RestartPolicy>) -> RestartPolicy {
    let p = p.unwrap_or_default();
    RestartPolicy {
        name: p.name.map(|n| n.to_string()).unwrap_or_default(),
        maximum_retry: p
            .maximum_retry_count
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0),
    }
}

/// `/dev/host[:/dev/container[:rwm]]` as Docker's device mapping.
fn device(d: &str) -> m::DeviceMapping {
    let mut parts = d.splitn(3, ':');
    let host = parts.next().unwrap_or_default().to_string();
    let inside = parts.next().filter(|p| !p.is_empty()).map(str::to_string);
    let perms = parts.next().filter(|p| !p.is_empty()).unwrap_or("rwm");
    m::DeviceMapping {
        path_in_container: Some(inside.unwrap_or_else(|| host.clone())),
        path_on_host: Some(host),
        cgroup_permissions: Some(perms.to_string()),
    }
}

/// A container's endpoint on a network as the engine takes it.
pub fn endpoint_settings(e: &shipcore::model::Endpoint) -> m::EndpointSettings {
    let ipam =
        (!e.ipv4_address.is_empty() || !e.ipv6_address.is_empty()).then(|| m::EndpointIpamConfig {
            ipv4_address: (!e.ipv4_address.is_empty()).then(|| e.ipv4_address.clone()),
            ipv6_address: (!e.ipv6_address.is_empty()).then(|| e.ipv6_address.clone()),
            ..Default::default()
        });
    m::EndpointSettings {
        aliases: (!e.aliases.is_empty()).then(|| e.aliases.clone()),
        ipam_config: ipam,
        mac_address: (!e.mac_address.is_empty()).then(|| e.mac_address.clone()),
        // Compose v2's way to name the interface: the endpoint's driver
        // option.
        driver_opts: (!e.interface_name.is_empty()).then(|| {
            HashMap::from([(
                "com.docker.network.endpoint.ifname".to_string(),
                e.interface_name.clone(),
            )])
        }),
        gw_priority: (e.gw_priority != 0).then_some(e.gw_priority),
        ..Default::default()
    }
}

/// tmpfs mounts: the spec's plain paths and its options' paths with their
/// mount options.
fn tmpfs(s: &ContainerSpec) -> Option<HashMap<String, String>> {
    let mut all: HashMap<String, String> =
        s.tmpfs.iter().map(|t| (t.clone(), String::new())).collect();
    all.extend(s.options.tmpfs.iter().map(|(p, o)| (p.clone(), o.clone())));
    (!all.is_empty()).then_some(all)
}

/// The host config's fields that [`ContainerOptions`] sets (the rest
/// default).
fn options_host_config(o: &shipcore::model::ContainerOptions) -> m::HostConfig {
    let some_vec = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    m::HostConfig {
        readonly_rootfs: o.read_only.then_some(true),
        cap_drop: some_vec(&o.cap_drop),
        pids_limit: o.pids_limit,
        ulimits: (!o.ulimits.is_empty()).then(|| {
            o.ulimits
                .iter()
                .map(|(name, (soft, hard))| m::ResourcesUlimits {
                    name: Some(name.clone()),
                    soft: Some(*soft),
                    hard: Some(*hard),
                })
                .collect()
        }),
        extra_hosts: some_vec(&o.extra_hosts),
        dns: some_vec(&o.dns),
        dns_search: some_vec(&o.dns_search),
        dns_options: some_vec(&o.dns_opt),
        shm_size: (o.shm_size > 0).then(|| i64::try_from(o.shm_size).unwrap_or(i64::MAX)),
        group_add: some_vec(&o.group_add),
        // Options without a driver are the engine's default driver's.
        log_config: (!o.log_driver.is_empty() || !o.log_options.is_empty()).then(|| {
            m::HostConfigLogConfig {
                typ: (!o.log_driver.is_empty()).then(|| o.log_driver.clone()),
                config: (!o.log_options.is_empty())
                    .then(|| o.log_options.clone().into_iter().collect()),
            }
        }),
        oom_score_adj: o.oom_score_adj,
        cpu_shares: (o.cpu_shares > 0).then(|| i64::try_from(o.cpu_shares).unwrap_or(i64::MAX)),
        cpuset_cpus: (!o.cpuset.is_empty()).then(|| o.cpuset.clone()),
        annotations: (!o.annotations.is_empty())
            .then(|| o.annotations.clone().into_iter().collect()),
        memory_swappiness: o.mem_swappiness,
        memory_swap: (o.memswap_limit != 0).then_some(o.memswap_limit),
        oom_kill_disable: o.oom_kill_disable.then_some(true),
        cpu_period: (o.cpu_period != 0).then_some(o.cpu_period),
        cpu_quota: (o.cpu_quota != 0).then_some(o.cpu_quota),
        cpu_realtime_period: (o.cpu_rt_period != 0).then_some(o.cpu_rt_period),
        cpu_realtime_runtime: (o.cpu_rt_runtime != 0).then_some(o.cpu_rt_runtime),
        storage_opt: (!o.storage_opt.is_empty())
            .then(|| o.storage_opt.clone().into_iter().collect()),
        ..Default::default()
    }
}

// Over 80 lines: the container spec to the engine's create body, field by field.
pub fn create_body(s: &ContainerSpec) -> m::ContainerCreateBody {
    let mut bindings: HashMap<String, Option<Vec<m::PortBinding>>> = HashMap::new();
    for p in &s.ports {
        let key = format!("{}/{}", p.container_port, p.proto);
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(m::PortBinding {
                host_ip: (!p.host_ip.is_empty()).then(|| p.host_ip.clone()),
                host_port: Some(p.host_port_text()),
            });
    }
    let mut exposed: Vec<String> = bindings.keys().cloned().collect();
    for e in &s.exposed {
        if !exposed.contains(e) {
            exposed.push(e.clone());
        }
    }
    let ms_to_ns =
        |ms: u64| (ms > 0).then(|| i64::try_from(ms).unwrap_or(i64::MAX / 1_000_000) * 1_000_000);
    let healthcheck = s.healthcheck.as_ref().map(|h| m::HealthConfig {
        test: Some(h.test.clone()),
        interval: ms_to_ns(h.interval_ms),
        timeout: ms_to_ns(h.timeout_ms),
        retries: (h.retries > 0).then_some(i64::from(h.retries)),
        start_period: ms_to_ns(h.start_period_ms),
        start_interval: ms_to_ns(h.start_interval_ms),
    });
    let network = s.network.clone();
    let host_config = m::HostConfig {
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        nano_cpus: (s.cpus > 0)
            .then(|| i64::try_from(s.cpus).unwrap_or(i64::MAX / 1_000_000) * 1_000_000),
        memory: (s.memory > 0).then(|| i64::try_from(s.memory).unwrap_or(i64::MAX >> 20) << 20),
        restart_policy: Some(restart_policy(&s.restart_policy)),
        links: (!s.links.is_empty()).then(|| s.links.clone()),
        binds: (!s.binds.is_empty()).then(|| s.binds.clone()),
        volumes_from: (!s.volumes_from.is_empty()).then(|| s.volumes_from.clone()),
        network_mode: network.clone(),
        tmpfs: tmpfs(s),
        init: s.init,
        privileged: s.host.privileged.then_some(true),
        cap_add: (!s.host.cap_add.is_empty()).then(|| s.host.cap_add.clone()),
        devices: (!s.host.devices.is_empty())
            .then(|| s.host.devices.iter().map(|d| device(d)).collect()),
        pid_mode: (!s.host.pid_mode.is_empty()).then(|| s.host.pid_mode.clone()),
        ipc_mode: (!s.host.ipc_mode.is_empty()).then(|| s.host.ipc_mode.clone()),
        uts_mode: (!s.host.uts_mode.is_empty()).then(|| s.host.uts_mode.clone()),
        userns_mode: (!s.host.userns_mode.is_empty()).then(|| s.host.userns_mode.clone()),
        security_opt: (!s.host.security_opt.is_empty()).then(|| s.host.security_opt.clone()),
        sysctls: (!s.host.sysctls.is_empty()).then(|| {
            s.host
                .sysctls
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }),
        ..options_host_config(&s.options)
    };
    let endpoint = shipcore::model::Endpoint {
        aliases: s.network_aliases.clone(),
        ipv4_address: s.ipv4_address.clone(),
        ipv6_address: s.ipv6_address.clone(),
        mac_address: s.mac_address.clone(),
        interface_name: s.interface_name.clone(),
        gw_priority: s.gw_priority,
    };
    let networking_config = match &network {
        Some(net) if endpoint != shipcore::model::Endpoint::default() => {
            Some(m::NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    net.clone(),
                    endpoint_settings(&endpoint),
                )])),
            })
        }
        _ => None,
    };
    m::ContainerCreateBody {
        image: Some(s.image.clone()),
        cmd: (!s.cmd.is_empty()).then(|| s.cmd.clone()),
        entrypoint: s.entrypoint.clone(),
        env: (!s.env.is_empty()).then(|| s.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        hostname: (!s.hostname.is_empty()).then(|| s.hostname.clone()),
        domainname: (!s.domainname.is_empty()).then(|| s.domainname.clone()),
        labels: (!s.labels.is_empty()).then(|| s.labels.clone().into_iter().collect()),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        healthcheck,
        user: (!s.user.is_empty()).then(|| s.user.clone()),
        working_dir: (!s.working_dir.is_empty()).then(|| s.working_dir.clone()),
        stop_signal: (!s.stop_signal.is_empty()).then(|| s.stop_signal.clone()),
        stop_timeout: s.stop_timeout.map(|t| i64::try_from(t).unwrap_or(i64::MAX)),
        open_stdin: s.options.stdin_open.then_some(true),
        tty: s.options.tty.then_some(true),
        host_config: Some(host_config),
        networking_config,
        ..Default::default()
    }
}

fn ports_of(map: Option<m::PortMap>) -> Vec<Port> {
    let mut ports = Vec::new();
    for (key, bindings) in map.unwrap_or_default() {
        let (port, pr) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let container_port = port.parse().unwrap_or(0);
        for b in bindings.unwrap_or_default() {
            ports.push(Port {
                container_port,
                port: b
                    .host_port
                    .as_deref()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0),
                proto: proto(pr),
                host_ip: b.host_ip.unwrap_or_default(),
            });
        }
    }
    ports.sort_by(|a, b| {
        (a.container_port, a.port, &a.host_ip).cmp(&(b.container_port, b.port, &b.host_ip))
    });
    ports
}

pub fn details(c: m::ContainerInspectResponse) -> ContainerDetails {
    let state = c.state.unwrap_or_default();
    let config = c.config.unwrap_or_default();
    let host = c.host_config.unwrap_or_default();
    let net = c.network_settings.unwrap_or_default();
    ContainerDetails {
        id: c.id.unwrap_or_default(),
        name: c
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image: config.image.unwrap_or_default(),
        image_id: c.image.unwrap_or_default(),
        created: c.created.map(|d| d.to_string()).unwrap_or_default(),
        state: RunState {
            status: state.status.map(|s| s.to_string()).unwrap_or_default(),
            running: state.running.unwrap_or(false),
            pid: state.pid.and_then(|p| u32::try_from(p).ok()).unwrap_or(0),
            exit_code: state.exit_code.unwrap_or(0),
            started_at: state
                .started_at
                .filter(|s| !s.starts_with("0001-"))
                .unwrap_or_default(),
            finished_at: state
                .finished_at
                .filter(|s| !s.starts_with("0001-"))
                .unwrap_or_default(),
            health: state
                .health
                .and_then(|h| h.status)
                .map(|s| s.to_string())
                .unwrap_or_default(),
        },
        labels: sorted(config.labels),
        env: env_map(config.env),
        cmd: config.cmd.unwrap_or_default(),
        hostname: config.hostname.unwrap_or_default(),
        ports: ports_of(net.ports),
        networks: net
            .networks
            .unwrap_or_default()
            .into_iter()
            .map(|(name, e)| (name, e.ip_address.unwrap_or_default()))
            .collect(),
        restart_policy: restart_policy_back(host.restart_policy),
        cpus: u64::try_from(host.nano_cpus.unwrap_or(0) / 1_000_000).unwrap_or(0),
        memory: u64::try_from(host.memory.unwrap_or(0) >> 20).unwrap_or(0),
    }
}

pub fn summary(c: m::ContainerSummary) -> ContainerSummary {
    ContainerSummary {
        id: c.id.unwrap_or_default(),
        name: c
            .names
            .unwrap_or_default()
            .first()
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default(),
        image: c.image.unwrap_or_default(),
        state: c.state.map(|s| s.to_string()).unwrap_or_default(),
        status: c.status.unwrap_or_default(),
        labels: sorted(c.labels),
        ports: c
            .ports
            .unwrap_or_default()
            .into_iter()
            .map(|p| Port {
                container_port: u32::from(p.private_port),
                port: u32::from(p.public_port.unwrap_or(0)),
                proto: proto(&p.typ.map(|t| t.to_string()).unwrap_or_default()),
                host_ip: p.ip.unwrap_or_default(),
            })
            .collect(),
        created: c.created.unwrap_or(0),
        volumes: c
            .mounts
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.typ.as_ref().is_some_and(|t| *t == "volume"))
            .filter_map(|m| m.name)
            .collect(),
        command: c.command.unwrap_or_default(),
        image_id: c.image_id.unwrap_or_default(),
    }
}

pub fn image_summary(i: m::ImageSummary) -> ImageSummary {
    ImageSummary {
        id: i.id,
        tags: i
            .repo_tags
            .into_iter()
            .filter(|t| t != "<none>:<none>")
            .collect(),
        digests: i
            .repo_digests
            .into_iter()
            .filter(|d| d != "<none>@<none>")
            .collect(),
        size: u64::try_from(i.size).unwrap_or(0),
        created: i.created,
    }
}

pub fn image_details(i: m::ImageInspect) -> ImageDetails {
    ImageDetails {
        id: i.id.unwrap_or_default(),
        tags: i.repo_tags.unwrap_or_default(),
        digests: i.repo_digests.unwrap_or_default(),
        size: u64::try_from(i.size.unwrap_or(0)).unwrap_or(0),
        created: i.created.map(|d| d.to_string()).unwrap_or_default(),
        os: i.os.unwrap_or_default(),
        arch: i.architecture.unwrap_or_default(),
        labels: sorted(i.config.and_then(|c| c.labels)),
        layers: i.root_fs.and_then(|r| r.layers).unwrap_or_default(),
    }
}

pub fn volume(v: m::Volume) -> VolumeInfo {
    VolumeInfo {
        name: v.name,
        driver: v.driver,
        mountpoint: v.mountpoint,
        labels: v.labels.into_iter().collect(),
        scope: v
            .scope
            .map(|s| s.to_string())
            .unwrap_or_else(|| "local".into()),
    }
}

pub fn progress(
    id: Option<String>,
    status: Option<String>,
    detail: Option<m::ProgressDetail>,
) -> Progress {
    let detail = detail.unwrap_or_default();
    Progress {
        id,
        status: status.unwrap_or_default(),
        current: detail.current.and_then(|c| u64::try_from(c).ok()),
        total: detail
            .total
            .and_then(|t| u64::try_from(t).ok())
            .filter(|t| *t > 0),
    }
}
