//! The normalised model written back in the compose specification's shape,
//! as `docker compose config` prints a file: interpolated, merged, every
//! short syntax in its long form, defaults filled. Pure: JSON values, and
//! YAML written from them (block style, every string double-quoted, so
//! nothing a value holds can change the document's structure).

use serde_json::{json, Map, Value};

use super::model::{
    ComposeFile, FileFrom, Healthcheck, NetworkDef, PortDef, ServiceDef, VolumeDef,
};

/// A duration as compose writes one (`1m30s`, `500ms`).
pub fn duration_text(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// Inserts `v` under `k` unless it is empty (null, "", [], {}, false, 0).
fn put(m: &mut Map<String, Value>, k: &str, v: Value) {
    let empty = match &v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
    };
    if !empty {
        m.insert(k.to_string(), v);
    }
}

impl ComposeFile {
    /// The file in the compose specification's shape, for project `name`.
    pub fn to_spec(&self, name: &str) -> Value {
        let mut root = Map::new();
        root.insert("name".into(), Value::from(name));
        let services: Map<String, Value> = self
            .services
            .iter()
            .map(|(k, s)| (k.clone(), s.to_spec()))
            .collect();
        root.insert("services".into(), Value::Object(services));
        let networks: Map<String, Value> = self
            .networks
            .iter()
            .map(|(k, n)| (k.clone(), network_spec(n)))
            .collect();
        put(&mut root, "networks", Value::Object(networks));
        let volumes: Map<String, Value> = self
            .volumes
            .iter()
            .map(|(k, v)| (k.clone(), volume_spec(v)))
            .collect();
        put(&mut root, "volumes", Value::Object(volumes));
        for (key, section) in [("secrets", &self.secrets), ("configs", &self.configs)] {
            let list: Map<String, Value> = section
                .iter()
                .map(|(k, s)| {
                    let v = match &s.from {
                        FileFrom::File(path) => json!({"file": path}),
                        FileFrom::Environment(var) => json!({"environment": var}),
                        // A config's own text (secrets are never inline).
                        FileFrom::Content => json!({"content": s.content}),
                    };
                    (k.clone(), v)
                })
                .collect();
            put(&mut root, key, Value::Object(list));
        }
        for (k, v) in &self.extensions {
            root.insert(k.clone(), v.clone());
        }
        Value::Object(root)
    }

    /// [`ComposeFile::to_spec`] as a file to read again: every `$` of the
    /// values written `$$`, so that what was interpolated stays what it is
    /// (a regular expression's `$` in a command, a password's), as `docker
    /// compose config` writes it. Keys are not interpolated.
    pub fn to_file(&self, name: &str) -> Value {
        let mut spec = self.to_spec(name);
        escape_dollars(&mut spec);
        spec
    }
}

/// Writes every `$` of the values as `$$`. A stack, not recursion:
/// extensions are as deep as their author made them.
fn escape_dollars(v: &mut Value) {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) if s.contains('$') => *s = s.replace('$', "$$"),
            Value::Array(a) => stack.extend(a.iter_mut()),
            Value::Object(o) => stack.extend(o.values_mut()),
            _ => {}
        }
    }
}

impl ServiceDef {
    /// One service in the compose specification's shape.
    pub fn to_spec(&self) -> Value {
        let mut m = Map::new();
        put(&mut m, "image", json!(self.image));
        put(&mut m, "container_name", json!(self.container_name));
        put(&mut m, "mac_address", json!(self.mac_address));
        if let Some(c) = &self.command {
            m.insert("command".into(), json!(c));
        }
        if let Some(e) = &self.entrypoint {
            m.insert("entrypoint".into(), json!(e));
        }
        let env: Map<String, Value> = self
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.as_ref().map_or(Value::Null, |v| json!(v))))
            .collect();
        put(&mut m, "environment", Value::Object(env));
        put(
            &mut m,
            "ports",
            Value::Array(self.ports.iter().map(port_spec).collect()),
        );
        let expose: Vec<Value> = self
            .expose
            .iter()
            .map(|e| json!(format!("{}/{}", e.port, e.protocol)))
            .collect();
        put(&mut m, "expose", Value::Array(expose));
        let volumes: Vec<Value> = self
            .volumes
            .iter()
            .map(|v| {
                let mut o = Map::new();
                o.insert("type".into(), json!(v.kind.as_str()));
                put(&mut o, "source", json!(v.source));
                o.insert("target".into(), json!(v.target));
                put(&mut o, "read_only", json!(v.read_only));
                Value::Object(o)
            })
            .collect();
        put(&mut m, "volumes", Value::Array(volumes));
        put(&mut m, "labels", json!(self.labels));
        let deps: Map<String, Value> = self
            .depends_on
            .iter()
            .map(|(k, c)| {
                let required = !self.optional.contains(k);
                (
                    k.clone(),
                    json!({"condition": c.as_str(), "required": required}),
                )
            })
            .collect();
        put(&mut m, "depends_on", Value::Object(deps));
        put(&mut m, "links", json!(self.links));
        put(&mut m, "volumes_from", json!(self.volumes_from));
        put(&mut m, "restart", json!(self.restart));
        m.insert("deploy".into(), self.deploy_spec());
        if let Some(h) = &self.healthcheck {
            m.insert("healthcheck".into(), health_spec(h));
        }
        if self.network_mode.is_empty() {
            let nets: Map<String, Value> = if self.networks.is_empty() {
                [("default".to_string(), Value::Null)].into_iter().collect()
            } else {
                self.networks
                    .iter()
                    .map(|(net, aliases)| {
                        let mut o = Map::new();
                        put(&mut o, "aliases", json!(aliases));
                        if let Some(a) = self.addresses.get(net) {
                            put(&mut o, "ipv4_address", json!(a.ipv4_address));
                            put(&mut o, "ipv6_address", json!(a.ipv6_address));
                            put(&mut o, "mac_address", json!(a.mac_address));
                            put(&mut o, "interface_name", json!(a.interface_name));
                            if a.gw_priority != 0 {
                                o.insert("gw_priority".into(), json!(a.gw_priority));
                            }
                        }
                        if let Some(p) = self.network_priority.get(net) {
                            o.insert("priority".into(), json!(p));
                        }
                        let v = if o.is_empty() {
                            Value::Null
                        } else {
                            Value::Object(o)
                        };
                        (net.clone(), v)
                    })
                    .collect()
            };
            m.insert("networks".into(), Value::Object(nets));
        } else {
            m.insert("network_mode".into(), json!(self.network_mode));
        }
        for (k, v) in [
            ("hostname", &self.hostname),
            ("working_dir", &self.working_dir),
            ("user", &self.user),
            ("stop_signal", &self.stop_signal),
        ] {
            put(&mut m, k, json!(v));
        }
        if let Some(i) = self.init {
            m.insert("init".into(), json!(i));
        }
        if let Some(g) = self.stop_grace_period_ms {
            m.insert("stop_grace_period".into(), json!(duration_text(g)));
        }
        put(&mut m, "profiles", json!(self.profiles));
        put(&mut m, "pull_policy", json!(self.pull_policy));
        put(&mut m, "platform", json!(self.platform));
        put(&mut m, "domainname", json!(self.domainname));
        for (key, secret) in [("secrets", true), ("configs", false)] {
            let list: Vec<Value> = self
                .files
                .iter()
                .filter(|f| f.secret == secret)
                .map(|f| {
                    json!({"source": f.source, "target": f.target, "uid": f.uid.to_string(),
                           "gid": f.gid.to_string(), "mode": f.mode})
                })
                .collect();
            put(&mut m, key, Value::Array(list));
        }
        self.access_spec(&mut m);
        for (k, v) in &self.extensions {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }

    fn deploy_spec(&self) -> Value {
        let res = |r: &super::model::Resources| {
            let mut o = Map::new();
            if r.millicpus > 0 {
                o.insert(
                    "cpus".into(),
                    json!(format!("{}", r.millicpus as f64 / 1000.0)),
                );
            }
            if r.memory_mib > 0 {
                o.insert("memory".into(), json!(format!("{}M", r.memory_mib)));
            }
            Value::Object(o)
        };
        let mut resources = Map::new();
        put(&mut resources, "limits", res(&self.limits));
        put(&mut resources, "reservations", res(&self.reservations));
        if let Some(p) = self.options.pids_limit {
            let limits = resources
                .entry("limits")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(l) = limits {
                l.insert("pids".into(), json!(p));
            }
        }
        let mut d = Map::new();
        d.insert("replicas".into(), json!(self.replicas));
        put(&mut d, "labels", json!(self.deploy_labels));
        put(&mut d, "resources", Value::Object(resources));
        Value::Object(d)
    }

    /// Privileges and the per-container keys, under compose's names.
    fn access_spec(&self, m: &mut Map<String, Value>) {
        let h = &self.host;
        put(m, "privileged", json!(h.privileged));
        put(m, "cap_add", json!(h.cap_add));
        put(m, "devices", json!(h.devices));
        put(m, "pid", json!(h.pid_mode));
        put(m, "ipc", json!(h.ipc_mode));
        put(m, "uts", json!(h.uts_mode));
        put(m, "userns_mode", json!(h.userns_mode));
        put(m, "security_opt", json!(h.security_opt));
        put(m, "sysctls", json!(h.sysctls));
        let o = &self.options;
        put(m, "read_only", json!(o.read_only));
        put(m, "cap_drop", json!(o.cap_drop));
        let tmpfs: Vec<String> = o
            .tmpfs
            .iter()
            .map(|(p, opts)| {
                if opts.is_empty() {
                    p.clone()
                } else {
                    format!("{p}:{opts}")
                }
            })
            .collect();
        put(m, "tmpfs", json!(tmpfs));
        let ulimits: Map<String, Value> = o
            .ulimits
            .iter()
            .map(|(k, (soft, hard))| (k.clone(), json!({"soft": soft, "hard": hard})))
            .collect();
        put(m, "ulimits", Value::Object(ulimits));
        put(m, "extra_hosts", json!(o.extra_hosts));
        put(m, "dns", json!(o.dns));
        put(m, "dns_search", json!(o.dns_search));
        put(m, "dns_opt", json!(o.dns_opt));
        put(m, "shm_size", json!(o.shm_size));
        put(m, "stdin_open", json!(o.stdin_open));
        put(m, "tty", json!(o.tty));
        put(m, "group_add", json!(o.group_add));
        if !o.log_driver.is_empty() || !o.log_options.is_empty() {
            let mut l = Map::new();
            put(&mut l, "driver", json!(o.log_driver));
            put(&mut l, "options", json!(o.log_options));
            m.insert("logging".into(), Value::Object(l));
        }
        if let Some(s) = o.oom_score_adj {
            m.insert("oom_score_adj".into(), json!(s));
        }
        put(m, "cpu_shares", json!(o.cpu_shares));
        put(m, "cpuset", json!(o.cpuset));
        put(m, "annotations", json!(o.annotations));
        if let Some(s) = o.mem_swappiness {
            m.insert("mem_swappiness".into(), json!(s));
        }
        if o.memswap_limit != 0 {
            m.insert("memswap_limit".into(), json!(o.memswap_limit));
        }
        put(m, "oom_kill_disable", json!(o.oom_kill_disable));
        for (k, v) in [
            ("cpu_period", o.cpu_period),
            ("cpu_quota", o.cpu_quota),
            ("cpu_rt_period", o.cpu_rt_period),
            ("cpu_rt_runtime", o.cpu_rt_runtime),
        ] {
            if v != 0 {
                m.insert(k.into(), json!(v));
            }
        }
        put(m, "storage_opt", json!(o.storage_opt));
    }
}

fn port_spec(p: &PortDef) -> Value {
    let mut o = Map::new();
    o.insert("mode".into(), json!("ingress"));
    o.insert("target".into(), json!(p.target));
    if let Some(first) = p.published {
        let text = match p.published_end {
            Some(last) => format!("{first}-{last}"),
            None => first.to_string(),
        };
        o.insert("published".into(), json!(text));
    }
    put(&mut o, "host_ip", json!(p.host_ip));
    o.insert("protocol".into(), json!(p.protocol.to_string()));
    Value::Object(o)
}

fn health_spec(h: &Healthcheck) -> Value {
    if h.disable {
        return json!({"disable": true});
    }
    let mut o = Map::new();
    o.insert("test".into(), json!(h.test));
    for (k, ms) in [
        ("interval", h.interval_ms),
        ("timeout", h.timeout_ms),
        ("start_period", h.start_period_ms),
        ("start_interval", h.start_interval_ms),
    ] {
        if ms > 0 {
            o.insert(k.into(), json!(duration_text(ms)));
        }
    }
    put(&mut o, "retries", json!(h.retries));
    Value::Object(o)
}

fn network_spec(n: &NetworkDef) -> Value {
    let mut o = Map::new();
    put(&mut o, "name", json!(n.name));
    put(&mut o, "driver", json!(n.driver));
    put(&mut o, "driver_opts", json!(n.driver_opts));
    put(&mut o, "labels", json!(n.labels));
    put(&mut o, "external", json!(n.external));
    put(&mut o, "internal", json!(n.internal));
    put(&mut o, "attachable", json!(n.attachable));
    put(&mut o, "enable_ipv6", json!(n.enable_ipv6));
    if !n.ipam.is_empty() || !n.ipam_driver.is_empty() {
        let mut ipam = Map::new();
        put(&mut ipam, "driver", json!(n.ipam_driver));
        put(&mut ipam, "config", json!(n.ipam));
        o.insert("ipam".into(), Value::Object(ipam));
    }
    Value::Object(o)
}

fn volume_spec(v: &VolumeDef) -> Value {
    let mut o = Map::new();
    put(&mut o, "name", json!(v.name));
    put(&mut o, "driver", json!(v.driver));
    put(&mut o, "driver_opts", json!(v.driver_opts));
    put(&mut o, "labels", json!(v.labels));
    put(&mut o, "external", json!(v.external));
    Value::Object(o)
}

/// `v` as YAML: block mappings and sequences, every string double-quoted
/// (JSON's escapes are YAML's), empty collections in flow style. Nesting
/// is bounded by the value, which this crate built.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    yaml_into(v, 0, &mut out);
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("null".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(Value::String(s.clone()).to_string()),
        Value::Array(a) if a.is_empty() => Some("[]".into()),
        Value::Object(o) if o.is_empty() => Some("{}".into()),
        _ => None,
    }
}

fn yaml_into(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(o) if !o.is_empty() => {
            for (k, v) in o {
                let key = Value::String(k.clone()).to_string();
                match scalar(v) {
                    Some(s) => out.push_str(&format!("{pad}{key}: {s}\n")),
                    None => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        yaml_into(v, indent + 2, out);
                    }
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for item in a {
                match scalar(item) {
                    Some(s) => out.push_str(&format!("{pad}- {s}\n")),
                    None => {
                        out.push_str(&format!("{pad}-\n"));
                        yaml_into(item, indent + 2, out);
                    }
                }
            }
        }
        other => {
            if let Some(s) = scalar(other) {
                out.push_str(&format!("{pad}{s}\n"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::compose::{parse, ParseOptions};

    #[test]
    fn durations_as_compose_writes_them() {
        for (ms, text) in [
            (0, "0s"),
            (500, "500ms"),
            (5000, "5s"),
            (90_000, "1m30s"),
            (3_600_000, "1h"),
        ] {
            assert_eq!(duration_text(ms), text);
        }
    }

    /// What `to_file` writes reads back to the same model: the spec form
    /// loses nothing the model holds, a `$` included.
    #[test]
    fn the_spec_form_reads_back_to_the_same_model() {
        let src = concat!(
            "services:\n  web:\n    image: nginx\n    container_name: web1\n    command: [nginx, -g, \"daemon off;\"]\n",
            "    environment: {A: \"1\", B: null}\n    ports: [\"8080:80\", \"9000-9005:53/udp\"]\n",
            "    volumes: [\"data:/data:ro\", /tmp/x:/x]\n    labels: {a: b}\n    restart: always\n",
            "    depends_on: {db: {condition: service_healthy}}\n    healthcheck: {test: [CMD, true], interval: 90s}\n",
            "    networks: {back: {aliases: [w], ipv4_address: 10.5.0.5, priority: 3, interface_name: eth9, gw_priority: 2}}\n    volumes_from: [\"db:ro\"]\n    read_only: true\n    tmpfs: [\"/run:size=1m\"]\n",
            "    ulimits: {nofile: {soft: 1, hard: 2}}\n    logging: {driver: json-file, options: {max-size: 1m}}\n",
            "    deploy: {labels: {traefik.enable: \"true\"}, resources: {limits: {cpus: \"0.5\", memory: 64M, pids: 9}}}\n    stop_grace_period: 1m30s\n",
            "  db:\n    image: postgres\n    network_mode: host\n    healthcheck: {test: [CMD, true]}\n",
            "    command: [\"grep\", \"^/(sys|proc)($$|/)\", \"$${HOME}\"]\n",
            "networks:\n  back:\n    ipam: {config: [{subnet: 10.5.0.0/16}]}\nvolumes:\n  data: {}\n",
        );
        let opts = ParseOptions { allow_binds: true };
        let f = parse(src, &BTreeMap::new(), &opts).unwrap();
        let spec = f.to_file("demo");
        let again = parse(&to_yaml(&spec), &BTreeMap::new(), &opts).unwrap();
        assert_eq!(
            again,
            ComposeFile {
                name: "demo".into(),
                ..f.clone()
            },
            "{}",
            to_yaml(&spec)
        );
        // And as JSON, which is YAML too.
        let again = parse(&spec.to_string(), &BTreeMap::new(), &opts).unwrap();
        assert_eq!(again.services, f.services);
    }

    #[test]
    fn yaml_quotes_every_string() {
        let v = json!({"a": "x: y\n- z", "b": [1, "#c", {"d": null}], "e": {}});
        let y = to_yaml(&v);
        assert_eq!(
            y,
            "\"a\": \"x: y\\n- z\"\n\"b\":\n  - 1\n  - \"#c\"\n  -\n    \"d\": null\n\"e\": {}\n"
        );
    }
}
