//! Compose YAML to the compose model.
//!
//! The YAML is read by serde-saphyr (YAML 1.2, anchors and merge keys, with
//! budgets against alias bombs) into a JSON value; each service key is then
//! interpolated and read in every syntax compose allows. A key the model
//! does not support is refused by name, never dropped; every error names the
//! service, the key and its line in the file.

use std::cell::Cell;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::interpolate::{interpolate_within, MAX_INTERPOLATED_FILE_BYTES};
use super::model::*;
use crate::error::{Error, Result};
use crate::model::Proto;

/// What the server allows a compose file to do.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// Host paths may be mounted (bind mounts). Off by default: a bind mount
    /// reaches into the engine's file system.
    pub allow_binds: bool,
}

/// The largest compose file read.
pub const MAX_TEMPLATE_BYTES: usize = 512 * 1024;

/// The largest environment a project is given: its names and values
/// together, in bytes.
pub const MAX_ENVIRONMENT_BYTES: usize = 256 * 1024;

/// The most variables a project's environment may hold.
pub const MAX_ENVIRONMENT_ENTRIES: usize = 4096;

/// Parses `src`, interpolating `${VAR}` from `env`.
pub fn parse(
    src: &str,
    env: &BTreeMap<String, String>,
    opts: &ParseOptions,
) -> Result<ComposeFile> {
    if src.len() > MAX_TEMPLATE_BYTES {
        return Err(Error::invalid(
            "template",
            format!(
                "is {} bytes, more than the {MAX_TEMPLATE_BYTES} allowed",
                src.len()
            ),
        ));
    }
    if env.len() > MAX_ENVIRONMENT_ENTRIES {
        return Err(Error::invalid(
            "environment",
            format!(
                "has {} variables, more than the {MAX_ENVIRONMENT_ENTRIES} allowed",
                env.len()
            ),
        ));
    }
    let env_bytes: usize = env.iter().map(|(k, v)| k.len() + v.len()).sum();
    if env_bytes > MAX_ENVIRONMENT_BYTES {
        return Err(Error::invalid(
            "environment",
            format!(
                "is {env_bytes} bytes (names and values), more than the {MAX_ENVIRONMENT_BYTES} allowed"
            ),
        ));
    }
    let root: Value = serde_saphyr::from_str_with_options(src, yaml_options()).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!("line {}, column {}: ", l.line(), l.column()))
            .unwrap_or_default();
        let text = e.to_string();
        let first = text.lines().next().unwrap_or("not valid YAML");
        Error::invalid("template", format!("{at}{first}"))
    })?;
    Reader {
        src,
        env,
        opts,
        budget: Cell::new(MAX_INTERPOLATED_FILE_BYTES),
    }
    .file(root)
}

/// serde-saphyr's defaults, but for its alias-to-anchor ratio heuristic:
/// a file whose 100 services each merge one `x-base` anchor (`<<: *base`)
/// is how people write compose files, not an attack. Expansion stays
/// bounded by the replayed-event cap (an alias bomb breaches it).
fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.enforce_alias_anchor_ratio = false;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = 200_000;
    options
}

struct Reader<'a> {
    src: &'a str,
    env: &'a BTreeMap<String, String>,
    opts: &'a ParseOptions,
    /// The bytes the file's interpolated strings may still expand to.
    budget: Cell<usize>,
}

/// Where a problem is: a service (or a top-level entry) and a key in it.
#[derive(Clone, Copy)]
struct At<'a> {
    section: &'a str,
    entry: &'a str,
    key: &'a str,
}

impl Reader<'_> {
    fn fail(&self, at: At<'_>, reason: impl std::fmt::Display) -> Error {
        let path: Vec<&str> = [at.section, at.entry, at.key]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
        let line = locate(self.src, &path)
            .map(|l| format!(" (line {l})"))
            .unwrap_or_default();
        let whom = match at.section {
            "services" => format!("service {:?}, ", at.entry),
            "volumes" => format!("volume {:?}, ", at.entry),
            "networks" => format!("network {:?}, ", at.entry),
            _ => String::new(),
        };
        let key = if at.key.is_empty() {
            if at.entry.is_empty() {
                at.section
            } else {
                at.entry
            }
        } else {
            at.key
        };
        Error::invalid("template", format!("{whom}key {key}{line}: {reason}"))
    }

    /// Interpolates every string of a value (not map keys).
    fn interp(&self, at: At<'_>, v: Value) -> Result<Value> {
        Ok(match v {
            Value::String(s) => {
                let mut budget = self.budget.get();
                let s =
                    interpolate_within(&s, self.env, &mut budget).map_err(|r| self.fail(at, r))?;
                self.budget.set(budget);
                Value::String(s)
            }
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|i| self.interp(at, i))
                    .collect::<Result<_>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| Ok((k, self.interp(at, v)?)))
                    .collect::<Result<_>>()?,
            ),
            other => other,
        })
    }

    fn file(&self, root: Value) -> Result<ComposeFile> {
        let top = At {
            section: "",
            entry: "",
            key: "",
        };
        let Value::Object(root) = root else {
            return Err(self.fail(top, "a compose file is a mapping with a services key"));
        };
        let mut file = ComposeFile::default();
        let mut services = None;
        for (key, value) in root {
            let at = At {
                section: &key,
                ..top
            };
            match key.as_str() {
                "version" => {
                    let v = scalar(&value).unwrap_or_default();
                    if !(v.starts_with('2') || v.starts_with('3')) {
                        return Err(self.fail(
                            at,
                            format!("version {v:?} is not supported: write a version 2.x or 3.x file, or a compose-spec file without version"),
                        ));
                    }
                }
                "services" => services = Some(value),
                "volumes" => {
                    for (name, v) in self.entries(at, value)? {
                        let at = At { entry: &name, ..at };
                        file.volumes.insert(name.clone(), self.volume(at, v)?);
                    }
                }
                "networks" => {
                    for (name, v) in self.entries(at, value)? {
                        let at = At { entry: &name, ..at };
                        file.networks.insert(name.clone(), self.network(at, v)?);
                    }
                }
                k if k.starts_with("x-") => {
                    file.extensions.insert(key.clone(), value);
                }
                _ => return Err(self.fail(at, unsupported(&key))),
            }
        }
        let services = services.ok_or_else(|| {
            Error::invalid(
                "template",
                "has no services key (version 1 files, with services at the top level, are not supported)",
            )
        })?;
        let at = At {
            section: "services",
            ..top
        };
        for (name, v) in self.entries(at, services)? {
            let at = At { entry: &name, ..at };
            validate_service_name(&name).map_err(|r| self.fail(at, r))?;
            let def = self.service(at, v)?;
            file.services.insert(name.clone(), def);
        }
        if file.services.is_empty() {
            return Err(self.fail(at, "a project needs at least one service"));
        }
        self.check_references(&file)?;
        file.waves()?;
        Ok(file)
    }

    /// A mapping's entries (null: none).
    fn entries(&self, at: At<'_>, v: Value) -> Result<Vec<(String, Value)>> {
        match v {
            Value::Null => Ok(Vec::new()),
            Value::Object(m) => Ok(m.into_iter().collect()),
            _ => Err(self.fail(at, "must be a mapping")),
        }
    }

    fn volume(&self, at: At<'_>, v: Value) -> Result<VolumeDef> {
        let mut def = VolumeDef::default();
        for (key, value) in self.entries(at, v)? {
            let at = At { key: &key, ..at };
            let value = self.interp(at, value)?;
            match key.as_str() {
                "driver" => def.driver = self.string(at, &value)?,
                "driver_opts" => def.driver_opts = self.string_map(at, value)?,
                "labels" => def.labels = self.string_map(at, value)?,
                "external" => def.external = self.boolean(at, &value)?,
                "name" => def.name = self.string(at, &value)?,
                k if k.starts_with("x-") => {}
                _ => return Err(self.fail(at, unsupported(&key))),
            }
        }
        Ok(def)
    }

    fn network(&self, at: At<'_>, v: Value) -> Result<NetworkDef> {
        let mut def = NetworkDef::default();
        for (key, value) in self.entries(at, v)? {
            let at = At { key: &key, ..at };
            let value = self.interp(at, value)?;
            match key.as_str() {
                "driver" => def.driver = self.string(at, &value)?,
                "labels" => def.labels = self.string_map(at, value)?,
                k if k.starts_with("x-") => {}
                _ => return Err(self.fail(at, unsupported(&key))),
            }
        }
        Ok(def)
    }

    fn service(&self, at: At<'_>, v: Value) -> Result<ServiceDef> {
        let mut s = ServiceDef {
            replicas: 1,
            ..ServiceDef::default()
        };
        let mut scale = None;
        let mut deploy_replicas = None;
        for (key, value) in self.entries(at, v)? {
            let at = At { key: &key, ..at };
            if key.starts_with("x-") {
                s.extensions.insert(key.clone(), value);
                continue;
            }
            let value = self.interp(at, value)?;
            match key.as_str() {
                "image" => s.image = self.string(at, &value)?,
                "command" => s.command = self.command(at, value)?,
                "entrypoint" => s.entrypoint = self.command(at, value)?,
                "environment" => {
                    for (k, v) in self.pairs(at, value)? {
                        let v = match v {
                            Some(v) => Some(v),
                            // Copied from the project's environment: counted
                            // against the file's budget like an expansion.
                            None => match self.env.get(&k) {
                                Some(v) => {
                                    let left = self.budget.get().checked_sub(v.len()).ok_or_else(|| {
                                        self.fail(at, format!("{k}: the file's values would expand past {MAX_INTERPOLATED_FILE_BYTES} bytes"))
                                    })?;
                                    self.budget.set(left);
                                    Some(v.clone())
                                }
                                None => None,
                            },
                        };
                        s.environment.insert(k, v);
                    }
                }
                "env_file" => {
                    return Err(self.fail(
                        at,
                        "env_file is not supported: the server has no files to read; put the variables under environment (values may use ${VAR} from the project's environment)",
                    ))
                }
                "ports" => {
                    for item in self.list(at, value)? {
                        s.ports.extend(self.ports(at, item)?);
                    }
                }
                "expose" => {
                    for item in self.list(at, value)? {
                        let text = scalar(&item).ok_or_else(|| self.fail(at, "items must be ports"))?;
                        let (ports, protocol) = split_proto(&text).map_err(|r| self.fail(at, r))?;
                        for port in port_range(ports).map_err(|r| self.fail(at, r))? {
                            s.expose.push(ExposeDef { port, protocol });
                        }
                    }
                }
                "volumes" => {
                    for item in self.list(at, value)? {
                        s.volumes.push(self.mount(at, item)?);
                    }
                }
                "labels" => {
                    for (k, v) in self.pairs(at, value)? {
                        s.labels.insert(k, v.unwrap_or_default());
                    }
                }
                "depends_on" => s.depends_on = self.depends_on(at, value)?,
                "links" => {
                    for item in self.list(at, value)? {
                        s.links.push(self.string(at, &item)?);
                    }
                }
                "restart" => s.restart = self.restart(at, &value)?,
                "scale" => scale = Some(self.count(at, &value)?),
                "deploy" => deploy_replicas = self.deploy(at, value, &mut s)?,
                "cpus" => s.limits.millicpus = self.cpus(at, &value)?,
                "mem_limit" => s.limits.memory_mib = self.memory(at, &value)?,
                "mem_reservation" => s.reservations.memory_mib = self.memory(at, &value)?,
                "healthcheck" => s.healthcheck = Some(self.healthcheck(at, value)?),
                "networks" => s.networks = self.service_networks(at, value)?,
                "hostname" => s.hostname = self.string(at, &value)?,
                "working_dir" => s.working_dir = self.string(at, &value)?,
                "user" => s.user = self.string(at, &value)?,
                "init" => s.init = Some(self.boolean(at, &value)?),
                "stop_grace_period" => s.stop_grace_period_ms = Some(self.duration(at, &value)?),
                "stop_signal" => s.stop_signal = self.string(at, &value)?,
                _ => return Err(self.fail(at, unsupported(&key))),
            }
        }
        s.replicas = match (scale, deploy_replicas) {
            (Some(a), Some(b)) if a != b => {
                let at = At { key: "scale", ..at };
                return Err(self.fail(at, format!("scale {a} and deploy.replicas {b} disagree")));
            }
            (Some(n), _) | (None, Some(n)) => n,
            (None, None) => 1,
        };
        if s.image.trim().is_empty() {
            let at = At { key: "image", ..at };
            return Err(self.fail(at, "every service needs an image (build is not supported)"));
        }
        crate::model::ImageRef::parse(&s.image).map_err(|e| {
            let at = At { key: "image", ..at };
            self.fail(at, e)
        })?;
        Ok(s)
    }

    fn check_references(&self, file: &ComposeFile) -> Result<()> {
        for (name, s) in &file.services {
            let at = |key| At {
                section: "services",
                entry: name,
                key,
            };
            for dep in s.depends_on.keys() {
                if !file.services.contains_key(dep) {
                    return Err(self.fail(
                        at("depends_on"),
                        format!("depends on service {dep:?}, which the file does not define"),
                    ));
                }
                if dep == name {
                    return Err(self.fail(at("depends_on"), "a service cannot depend on itself"));
                }
            }
            for link in &s.links {
                if !file.services.contains_key(link_target(link)) {
                    return Err(self.fail(
                        at("links"),
                        format!(
                            "links to service {:?}, which the file does not define",
                            link_target(link)
                        ),
                    ));
                }
            }
            for net in s.networks.keys() {
                if net != "default" && !file.networks.contains_key(net) {
                    return Err(self.fail(
                        at("networks"),
                        format!("network {net:?} is not declared in the top-level networks"),
                    ));
                }
            }
            for m in &s.volumes {
                if m.kind == MountKind::Volume
                    && !m.source.is_empty()
                    && !file.volumes.contains_key(&m.source)
                {
                    return Err(self.fail(
                        at("volumes"),
                        format!(
                            "volume {:?} is not declared in the top-level volumes",
                            m.source
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn string(&self, at: At<'_>, v: &Value) -> Result<String> {
        scalar(v).ok_or_else(|| self.fail(at, "must be a string"))
    }

    fn boolean(&self, at: At<'_>, v: &Value) -> Result<bool> {
        match v {
            Value::Bool(b) => Ok(*b),
            Value::String(s) if s == "true" => Ok(true),
            Value::String(s) if s == "false" => Ok(false),
            _ => Err(self.fail(at, "must be true or false")),
        }
    }

    fn count(&self, at: At<'_>, v: &Value) -> Result<u32> {
        scalar(v)
            .and_then(|s| s.parse::<u32>().ok())
            .filter(|n| *n <= 1000)
            .ok_or_else(|| self.fail(at, "must be a whole number from 0 to 1000"))
    }

    fn list(&self, at: At<'_>, v: Value) -> Result<Vec<Value>> {
        match v {
            Value::Array(items) => Ok(items),
            Value::Null => Ok(Vec::new()),
            _ => Err(self.fail(at, "must be a list")),
        }
    }

    /// A list of `KEY=value` / `KEY` strings or a mapping (null values:
    /// `None`; numbers and booleans as text).
    fn pairs(&self, at: At<'_>, v: Value) -> Result<Vec<(String, Option<String>)>> {
        let pairs: Vec<(String, Option<String>)> = match v {
            Value::Array(items) => items
                .iter()
                .map(|i| {
                    let text = scalar(i)
                        .ok_or_else(|| self.fail(at, "items must be KEY=value strings"))?;
                    Ok(match text.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(v.to_string())),
                        None => (text, None),
                    })
                })
                .collect::<Result<_>>()?,
            Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| match v {
                    Value::Null => Ok((k, None)),
                    v => scalar(&v).map(|s| (k.clone(), Some(s))).ok_or_else(|| {
                        self.fail(at, format!("{k} must be a string, a number or a boolean"))
                    }),
                })
                .collect::<Result<_>>()?,
            Value::Null => Vec::new(),
            _ => return Err(self.fail(at, "must be a list of KEY=value strings or a mapping")),
        };
        if let Some((k, _)) = pairs.iter().find(|(k, _)| k.trim().is_empty()) {
            return Err(self.fail(at, format!("empty name in {k:?}")));
        }
        Ok(pairs)
    }

    fn string_map(&self, at: At<'_>, v: Value) -> Result<BTreeMap<String, String>> {
        Ok(self
            .pairs(at, v)?
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect())
    }

    fn command(&self, at: At<'_>, v: Value) -> Result<Option<Vec<String>>> {
        match v {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(shell_split(&s).map_err(|r| self.fail(at, r))?)),
            Value::Array(items) => Ok(Some(
                items
                    .iter()
                    .map(|i| scalar(i).ok_or_else(|| self.fail(at, "items must be strings")))
                    .collect::<Result<_>>()?,
            )),
            _ => Err(self.fail(at, "must be a string or a list of strings")),
        }
    }

    fn ports(&self, at: At<'_>, item: Value) -> Result<Vec<PortDef>> {
        if let Value::Object(map) = item {
            return Ok(vec![self.long_port(at, map)?]);
        }
        let text =
            scalar(&item).ok_or_else(|| self.fail(at, "items must be port strings or mappings"))?;
        short_ports(&text).map_err(|r| self.fail(at, r))
    }

    fn long_port(&self, at: At<'_>, map: Map<String, Value>) -> Result<PortDef> {
        let mut port = PortDef::default();
        let mut target = None;
        for (key, v) in map {
            let bad = |r: String| self.fail(at, format!("{key}: {r}"));
            match key.as_str() {
                "target" => {
                    target = Some(port_number(&scalar(&v).unwrap_or_default()).map_err(bad)?)
                }
                "published" => {
                    let text = scalar(&v).unwrap_or_default();
                    if !text.is_empty() {
                        port.published = Some(port_number(&text).map_err(bad)?);
                    }
                }
                "host_ip" => {
                    port.host_ip = host_ip(&scalar(&v).unwrap_or_default()).map_err(bad)?
                }
                "protocol" => {
                    port.protocol = protocol(&scalar(&v).unwrap_or_default()).map_err(bad)?
                }
                // Engines publish on their own host: both modes mean that here.
                "mode" => match scalar(&v).as_deref() {
                    Some("host" | "ingress") => {}
                    _ => return Err(bad("must be host or ingress".into())),
                },
                _ => return Err(self.fail(at, unsupported(&format!("ports[].{key}")))),
            }
        }
        port.target = target.ok_or_else(|| self.fail(at, "a port mapping needs a target"))?;
        Ok(port)
    }

    fn mount(&self, at: At<'_>, item: Value) -> Result<MountDef> {
        let mount = match item {
            Value::Object(map) => self.long_mount(at, map)?,
            other => {
                let text = scalar(&other)
                    .ok_or_else(|| self.fail(at, "items must be strings or mappings"))?;
                short_mount(&text).map_err(|r| self.fail(at, r))?
            }
        };
        if mount.target.is_empty() || !mount.target.starts_with('/') {
            return Err(self.fail(
                at,
                format!(
                    "mount target {:?} must be an absolute path in the container",
                    mount.target
                ),
            ));
        }
        if mount.kind == MountKind::Bind && !self.opts.allow_binds {
            return Err(self.fail(
                at,
                format!("bind mount of host path {:?} is not allowed by this server (use a named volume)", mount.source),
            ));
        }
        if mount.kind == MountKind::Volume && !mount.source.is_empty() {
            validate_service_name(&mount.source)
                .map_err(|r| self.fail(at, format!("volume {:?}: {r}", mount.source)))?;
        }
        Ok(mount)
    }

    fn long_mount(&self, at: At<'_>, map: Map<String, Value>) -> Result<MountDef> {
        let mut m = MountDef::default();
        for (key, v) in map {
            match key.as_str() {
                "type" => {
                    m.kind = match scalar(&v).as_deref() {
                        Some("volume") => MountKind::Volume,
                        Some("bind") => MountKind::Bind,
                        Some("tmpfs") => MountKind::Tmpfs,
                        other => {
                            return Err(self.fail(
                                at,
                                format!(
                                    "mount type {:?} is not supported (volume, bind or tmpfs)",
                                    other.unwrap_or_default()
                                ),
                            ))
                        }
                    }
                }
                "source" => m.source = self.string(at, &v)?,
                "target" => m.target = self.string(at, &v)?,
                "read_only" => m.read_only = self.boolean(at, &v)?,
                _ => return Err(self.fail(at, unsupported(&format!("volumes[].{key}")))),
            }
        }
        if m.kind == MountKind::Tmpfs && !m.source.is_empty() {
            return Err(self.fail(at, "a tmpfs mount has no source"));
        }
        Ok(m)
    }

    fn depends_on(&self, at: At<'_>, v: Value) -> Result<BTreeMap<String, Condition>> {
        let mut deps = BTreeMap::new();
        match v {
            Value::Array(items) => {
                for i in items {
                    deps.insert(self.string(at, &i)?, Condition::ServiceStarted);
                }
            }
            Value::Object(map) => {
                for (dep, spec) in map {
                    let mut cond = Condition::ServiceStarted;
                    for (key, v) in self.entries(at, spec)? {
                        match key.as_str() {
                            "condition" => {
                                cond = match scalar(&v).as_deref() {
                                    Some("service_started") => Condition::ServiceStarted,
                                    Some("service_healthy") => Condition::ServiceHealthy,
                                    Some("service_completed_successfully") => Condition::ServiceCompletedSuccessfully,
                                    other => return Err(self.fail(at, format!("condition {:?} of {dep} is not one of service_started, service_healthy, service_completed_successfully", other.unwrap_or_default()))),
                                }
                            }
                            // Every dependency is required; restart on its change is what a redeploy does.
                            "required" | "restart" => {}
                            _ => return Err(self.fail(at, unsupported(&format!("depends_on.{dep}.{key}")))),
                        }
                    }
                    deps.insert(dep, cond);
                }
            }
            Value::Null => {}
            _ => return Err(self.fail(at, "must be a list of services or a mapping")),
        }
        Ok(deps)
    }

    fn restart(&self, at: At<'_>, v: &Value) -> Result<String> {
        let text = match v {
            // `restart: no` read as a boolean by YAML 1.1 habits.
            Value::Bool(false) => "no".to_string(),
            v => self.string(at, v)?,
        };
        let ok = match text.split_once(':') {
            Some(("on-failure", n)) => n.parse::<u32>().is_ok(),
            Some(_) => false,
            None => matches!(
                text.as_str(),
                "no" | "always" | "on-failure" | "unless-stopped"
            ),
        };
        if !ok {
            return Err(self.fail(
                at,
                format!("{text:?} is not one of no, always, on-failure[:N], unless-stopped"),
            ));
        }
        Ok(text)
    }

    /// `deploy`: replicas and resources; returns the replicas if given.
    fn deploy(&self, at: At<'_>, v: Value, s: &mut ServiceDef) -> Result<Option<u32>> {
        let mut replicas = None;
        for (key, v) in self.entries(at, v)? {
            match key.as_str() {
                "replicas" => replicas = Some(self.count(at, &v)?),
                "resources" => {
                    for (kind, v) in self.entries(at, v)? {
                        let target = match kind.as_str() {
                            "limits" => &mut s.limits,
                            "reservations" => &mut s.reservations,
                            _ => {
                                return Err(
                                    self.fail(at, unsupported(&format!("deploy.resources.{kind}")))
                                )
                            }
                        };
                        for (res, v) in self.entries(at, v)? {
                            match res.as_str() {
                                "cpus" => target.millicpus = self.cpus(at, &v)?,
                                "memory" => target.memory_mib = self.memory(at, &v)?,
                                _ => {
                                    return Err(self.fail(
                                        at,
                                        unsupported(&format!("deploy.resources.{kind}.{res}")),
                                    ))
                                }
                            }
                        }
                    }
                }
                k if k.starts_with("x-") => {}
                _ => return Err(self.fail(at, unsupported(&format!("deploy.{key}")))),
            }
        }
        Ok(replicas)
    }

    fn cpus(&self, at: At<'_>, v: &Value) -> Result<u64> {
        scalar(v)
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|c| c.is_finite() && *c >= 0.0 && *c <= 4096.0)
            .map(|c| (c * 1000.0).round() as u64)
            .ok_or_else(|| self.fail(at, "cpus must be a number such as 0.5"))
    }

    fn memory(&self, at: At<'_>, v: &Value) -> Result<u64> {
        let text = scalar(v).unwrap_or_default();
        memory_mib(&text).map_err(|r| self.fail(at, r))
    }

    fn duration(&self, at: At<'_>, v: &Value) -> Result<u64> {
        let text = scalar(v).unwrap_or_default();
        duration_ms(&text).map_err(|r| self.fail(at, r))
    }

    fn healthcheck(&self, at: At<'_>, v: Value) -> Result<Healthcheck> {
        let mut h = Healthcheck::default();
        for (key, v) in self.entries(at, v)? {
            match key.as_str() {
                "test" => {
                    h.test = match v {
                        Value::String(s) => vec!["CMD-SHELL".into(), s],
                        Value::Array(_) => self.command(at, v)?.unwrap_or_default(),
                        _ => return Err(self.fail(at, "test must be a string or a list")),
                    };
                    if !matches!(
                        h.test.first().map(String::as_str),
                        Some("CMD" | "CMD-SHELL" | "NONE")
                    ) {
                        return Err(self.fail(at, "a test list starts with CMD, CMD-SHELL or NONE"));
                    }
                }
                "interval" => h.interval_ms = self.duration(at, &v)?,
                "timeout" => h.timeout_ms = self.duration(at, &v)?,
                "start_period" => h.start_period_ms = self.duration(at, &v)?,
                "retries" => h.retries = self.count(at, &v)?,
                "disable" => h.disable = self.boolean(at, &v)?,
                _ => return Err(self.fail(at, unsupported(&format!("healthcheck.{key}")))),
            }
        }
        if !h.disable && h.test.is_empty() {
            return Err(self.fail(at, "a healthcheck needs a test (or disable: true)"));
        }
        Ok(h)
    }

    fn service_networks(&self, at: At<'_>, v: Value) -> Result<BTreeMap<String, Vec<String>>> {
        let mut nets = BTreeMap::new();
        match v {
            Value::Array(items) => {
                for i in items {
                    nets.insert(self.string(at, &i)?, Vec::new());
                }
            }
            Value::Object(map) => {
                for (net, spec) in map {
                    let mut aliases = Vec::new();
                    for (key, v) in self.entries(at, spec)? {
                        match key.as_str() {
                            "aliases" => {
                                for a in self.list(at, v)? {
                                    let a = self.string(at, &a)?;
                                    validate_service_name(&a)
                                        .map_err(|r| self.fail(at, format!("alias {a:?}: {r}")))?;
                                    aliases.push(a);
                                }
                            }
                            _ => {
                                return Err(
                                    self.fail(at, unsupported(&format!("networks.{net}.{key}")))
                                )
                            }
                        }
                    }
                    nets.insert(net, aliases);
                }
            }
            Value::Null => {}
            _ => return Err(self.fail(at, "must be a list or a mapping")),
        }
        Ok(nets)
    }
}

fn unsupported(key: &str) -> String {
    format!("{key} is not supported by shipcore's compose model")
}

/// Service, volume and alias names: what Docker accepts in a container
/// name and DNS accepts as a label.
fn validate_service_name(name: &str) -> std::result::Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "name {name:?} must be 1 to 63 letters, digits, '-', '_' or '.', starting with a letter or digit"
        ))
    }
}

/// A scalar as text (numbers and booleans too); `None` for null, lists and
/// mappings.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Splits a command line as a POSIX shell would (quotes and backslashes; no
/// expansion).
pub fn shell_split(s: &str) -> std::result::Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("unclosed ' in {s:?}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(format!("unclosed \" in {s:?}")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("unclosed \" in {s:?}")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    word.push(c);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

fn protocol(text: &str) -> std::result::Result<Proto, String> {
    match text {
        "" | "tcp" => Ok(Proto::Tcp),
        "udp" => Ok(Proto::Udp),
        other => Err(format!("protocol {other:?} is not tcp or udp")),
    }
}

fn split_proto(text: &str) -> std::result::Result<(&str, Proto), String> {
    match text.rsplit_once('/') {
        Some((ports, proto)) => Ok((ports, protocol(proto)?)),
        None => Ok((text, Proto::Tcp)),
    }
}

fn port_number(text: &str) -> std::result::Result<u16, String> {
    match text.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        _ => Err(format!("{text:?} is not a port between 1 and 65535")),
    }
}

/// `8000` or `8000-8002`.
fn port_range(text: &str) -> std::result::Result<Vec<u16>, String> {
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (port_number(a)?, port_number(b)?);
            if a > b {
                return Err(format!("port range {text:?} runs backwards"));
            }
            Ok((a..=b).collect())
        }
        None => Ok(vec![port_number(text)?]),
    }
}

fn host_ip(text: &str) -> std::result::Result<String, String> {
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    if bare.is_empty() {
        return Ok(String::new());
    }
    bare.parse::<core::net::IpAddr>()
        .map(|_| bare.to_string())
        .map_err(|_| format!("host address {text:?} is not an IP address"))
}

/// `[[host_ip:][published]:]target[/protocol]`, with ranges.
fn short_ports(text: &str) -> std::result::Result<Vec<PortDef>, String> {
    let (spec, protocol) = split_proto(text)?;
    // An IPv6 host address is written in brackets.
    let (ip, spec) = match spec.strip_prefix('[') {
        Some(rest) => {
            let (ip, rest) = rest
                .split_once(']')
                .ok_or_else(|| format!("unclosed [ in port {text:?}"))?;
            (ip.to_string(), rest.trim_start_matches(':'))
        }
        None => (String::new(), spec),
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let (ip, published, target) = match parts.as_slice() {
        [t] => (ip, "", *t),
        [p, t] if ip.is_empty() => (String::new(), *p, *t),
        [p, t] => (ip, *p, *t),
        [i, p, t] if ip.is_empty() => (i.to_string(), *p, *t),
        _ => {
            return Err(format!(
                "port {text:?} is not [[host_ip:][published]:]target[/protocol]"
            ))
        }
    };
    let host_ip = host_ip(&ip)?;
    let targets = port_range(target).map_err(|r| format!("port {text:?}: {r}"))?;
    let published: Vec<Option<u16>> = if published.is_empty() {
        vec![None; targets.len()]
    } else {
        let p = port_range(published).map_err(|r| format!("port {text:?}: {r}"))?;
        if p.len() != targets.len() {
            return Err(format!(
                "port {text:?}: the published range and the target range differ in length"
            ));
        }
        p.into_iter().map(Some).collect()
    };
    Ok(targets
        .into_iter()
        .zip(published)
        .map(|(target, published)| PortDef {
            target,
            published,
            host_ip: host_ip.clone(),
            protocol,
        })
        .collect())
}

/// `target`, `source:target`, `source:target:mode`.
fn short_mount(text: &str) -> std::result::Result<MountDef, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => ("", *t, ""),
        [s, t] => (*s, *t, ""),
        [s, t, m] => (*s, *t, *m),
        _ => return Err(format!("volume {text:?} is not [source:]target[:mode]")),
    };
    let mut read_only = false;
    for m in mode.split(',').filter(|m| !m.is_empty()) {
        match m {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "z" | "Z" | "cached" | "delegated" | "consistent" | "nocopy" => {}
            other => return Err(format!("volume {text:?}: mode {other:?} is not ro or rw")),
        }
    }
    let is_path = source.starts_with(['/', '.', '~']);
    Ok(MountDef {
        kind: if is_path {
            MountKind::Bind
        } else {
            MountKind::Volume
        },
        source: source.to_string(),
        target: target.to_string(),
        read_only,
    })
}

/// Bytes as compose writes them (`512M`, `1g`, `1gb`, `1048576`) to MiB,
/// rounded up.
pub fn memory_mib(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim().to_ascii_lowercase();
    let digits = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("memory {text:?} is not a size such as 512m or 1g"))?;
    let factor: f64 = match unit.trim_end_matches('b').trim_end_matches('i') {
        "" if unit.is_empty() || unit == "b" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("memory {text:?} has an unknown unit {unit:?}")),
    };
    let bytes = n * factor;
    if !bytes.is_finite() || bytes > (1u64 << 50) as f64 {
        return Err(format!("memory {text:?} is too large"));
    }
    Ok((bytes / (1024.0 * 1024.0)).ceil() as u64)
}

/// Go durations (`1m30s`, `500ms`, `2h`, `1.5s`) and plain seconds, to
/// milliseconds.
pub fn duration_ms(text: &str) -> std::result::Result<u64, String> {
    let bad = || format!("duration {text:?} is not such as 30s, 1m30s or 500ms");
    let t = text.trim();
    if let Ok(secs) = t.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| (secs * 1000.0).round() as u64)
            .ok_or_else(bad);
    }
    let mut total = 0f64;
    let mut rest = t;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(bad)?;
        let n: f64 = rest[..n_end].parse().map_err(|_| bad())?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit_ms = match &rest[..u_end] {
            "h" => 3_600_000.0,
            "m" => 60_000.0,
            "s" => 1000.0,
            "ms" => 1.0,
            "us" | "µs" => 0.001,
            "ns" => 0.000_001,
            _ => return Err(bad()),
        };
        total += n * unit_ms;
        rest = &rest[u_end..];
    }
    if total > 1e12 {
        return Err(bad());
    }
    Ok(total.round() as u64)
}

/// The 1-based line of the key at `path` (a mapping key under each
/// previous one), found by indentation in block-style YAML; `None` when the
/// key is written in flow style or comes from a merge key.
pub fn locate(src: &str, path: &[&str]) -> Option<usize> {
    let lines: Vec<&str> = src.lines().collect();
    let mut from = 0usize;
    let mut parent_indent: Option<usize> = None;
    let mut found = None;
    for key in path {
        let mut child_indent = None;
        let mut hit = None;
        for (i, line) in lines.iter().enumerate().skip(from) {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = line.len() - trimmed.len();
            if parent_indent.is_some_and(|p| indent <= p) {
                break;
            }
            let ci = *child_indent.get_or_insert(indent);
            if indent != ci {
                continue;
            }
            let name = trimmed.trim_start_matches("- ");
            let bare = name
                .split_once(':')
                .map(|(k, _)| k.trim().trim_matches(['"', '\'']));
            if bare == Some(*key) {
                hit = Some((i, indent));
                break;
            }
        }
        let (i, indent) = hit?;
        found = Some(i + 1);
        from = i + 1;
        parent_indent = Some(indent);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(src: &str) -> ComposeFile {
        parse(src, &BTreeMap::new(), &ParseOptions::default()).unwrap()
    }

    fn parse_err(src: &str) -> String {
        parse(src, &BTreeMap::new(), &ParseOptions::default())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn anchors_and_merge_keys_later_keys_win() {
        let f = parse_ok(
            "x-base: &base\n  restart: always\n  image: busybox\nservices:\n  a:\n    <<: *base\n  b:\n    <<: *base\n    restart: \"no\"\n",
        );
        assert_eq!(f.services["a"].restart, "always");
        assert_eq!(f.services["b"].restart, "no");
        assert_eq!(f.services["b"].image, "busybox");
        assert!(f.extensions.contains_key("x-base"));
    }

    #[test]
    fn many_services_may_merge_one_anchor_but_an_alias_bomb_is_refused() {
        let mut src =
            String::from("x-base: &base\n  image: busybox\n  restart: always\nservices:\n");
        for i in 0..300 {
            src.push_str(&format!("  s{i}:\n    <<: *base\n"));
        }
        assert_eq!(parse_ok(&src).services.len(), 300);
        // Ten levels of ten: 10^10 nodes once expanded.
        let mut bomb = String::from("x-0: &l0 [a, a, a, a, a, a, a, a, a, a]\n");
        for i in 1..10 {
            let p = i - 1;
            bomb.push_str(&format!(
                "x-{i}: &l{i} [*l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}]\n"
            ));
        }
        bomb.push_str("services:\n  a:\n    image: busybox\n    labels: *l9\n");
        let e = parse_err(&bomb);
        assert!(e.contains("template"), "{e}");
    }

    #[test]
    fn errors_name_service_key_and_line() {
        let e = parse_err("services:\n  web:\n    image: busybox\n    privileged: true\n");
        assert!(
            e.contains("service \"web\"") && e.contains("privileged") && e.contains("line 4"),
            "{e}"
        );
        let e = parse_err("services:\n  web:\n    image: busybox\n    env_file: .env\n");
        assert!(e.contains("env_file") && e.contains("line 4"), "{e}");
        let e = parse_err("services:\n  web:\n    image: [unclosed\n");
        assert!(e.contains("line"), "{e}");
        let e = parse_err("services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n");
        assert!(e.contains("cycle") && e.contains("a, b"), "{e}");
    }

    #[test]
    fn ports_short_and_long() {
        let f = parse_ok(
            "services:\n  w:\n    image: x\n    ports:\n      - 80\n      - \"127.0.0.1:8080:80/udp\"\n      - \"8000-8001:9000-9001\"\n      - \"127.0.0.1::81\"\n      - target: 82\n        published: \"8082\"\n        protocol: udp\n",
        );
        let p: Vec<String> = f.services["w"]
            .ports
            .iter()
            .map(|p| {
                format!(
                    "{}:{}:{}/{}",
                    p.host_ip,
                    p.published.map(|n| n.to_string()).unwrap_or_default(),
                    p.target,
                    p.protocol
                )
            })
            .collect();
        assert_eq!(
            p,
            [
                "::80/tcp",
                "127.0.0.1:8080:80/udp",
                ":8000:9000/tcp",
                ":8001:9001/tcp",
                "127.0.0.1::81/tcp",
                ":8082:82/udp"
            ]
        );
        assert!(
            parse_err("services:\n  w:\n    image: x\n    ports: [\"80000:80\"]\n")
                .contains("80000")
        );
    }

    #[test]
    fn units() {
        assert_eq!(memory_mib("512M"), Ok(512));
        assert_eq!(memory_mib("1gb"), Ok(1024));
        assert_eq!(memory_mib("1G"), Ok(1024));
        assert_eq!(memory_mib("1048576"), Ok(1));
        assert_eq!(memory_mib("1000"), Ok(1));
        assert!(memory_mib("12q").is_err());
        assert_eq!(duration_ms("1m30s"), Ok(90_000));
        assert_eq!(duration_ms("500ms"), Ok(500));
        assert_eq!(duration_ms("1.5s"), Ok(1500));
        assert_eq!(duration_ms("10"), Ok(10_000));
        assert!(duration_ms("ten").is_err());
        assert_eq!(
            shell_split("sh -c 'echo hi' \"a \\\"b\\\"\"").unwrap(),
            ["sh", "-c", "echo hi", "a \"b\""]
        );
    }

    #[test]
    fn locate_by_indentation() {
        let src = "version: '3'\nservices:\n  db:\n    image: x\n  web:\n    # c\n    image: y\n    ports: []\n";
        assert_eq!(locate(src, &["services", "web", "ports"]), Some(8));
        assert_eq!(locate(src, &["services", "db", "ports"]), None);
        assert_eq!(locate(src, &["services"]), Some(2));
    }
}
