//! Compose YAML to the compose model.
//!
//! The YAML is read by serde-saphyr (YAML 1.2, anchors and merge keys, with
//! budgets against alias bombs) into a JSON value; each service key is then
//! interpolated and read in every syntax compose allows. A key the model
//! does not support is refused by name, never dropped; every error names the
//! service, the key and its line in the file.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::files::{bind_path, dotenv_interpolated, Extras};
use super::interpolate::{interpolate_within, MAX_INTERPOLATED_FILE_BYTES};
use super::model::*;
use crate::error::{Error, Result};
use crate::model::Proto;

mod container;
mod extends;
mod files;
mod scalars;
mod service;

use scalars::*;
pub use scalars::{duration_ms, locate, memory_mib, shell_split};

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
    parse_with(src, env, opts, &Extras::default())
}

/// Parses `src` with the files beside it and the profiles enabled:
/// `${VAR}` is filled from `env`, then from the `.env` file among
/// `extras`' (as the shell's environment wins over `.env` for
/// docker-compose); `env_file` reads its files from there; services of
/// profiles not enabled are left out.
pub fn parse_with(
    src: &str,
    env: &BTreeMap<String, String>,
    opts: &ParseOptions,
    extras: &Extras,
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
    let mut merged;
    let env = match extras.file(".env") {
        Some(text) => {
            merged = BTreeMap::new();
            // `.env` fills from the project's environment and its own
            // earlier lines.
            let mut budget = MAX_INTERPOLATED_FILE_BYTES;
            for (k, v) in dotenv_interpolated(".env", text, env, &mut budget)? {
                merged.insert(k, v.unwrap_or_default());
            }
            merged.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
            &merged
        }
        None => env,
    };
    let root: Value = serde_saphyr::from_str_with_options(src, yaml_options()).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!("line {}, column {}: ", l.line(), l.column()))
            .unwrap_or_default();
        let text = e.to_string();
        let first = text.lines().next().unwrap_or("not valid YAML");
        Error::invalid("template", format!("{at}{first}"))
    })?;
    let mut file = Reader {
        src,
        env,
        opts,
        extras,
        budget: Cell::new(MAX_INTERPOLATED_FILE_BYTES),
    }
    .file(root)?;
    // The carried files relative bind sources name, by their full paths.
    for s in file.services.values() {
        for m in s.volumes.iter().filter(|m| m.kind == MountKind::Bind) {
            let Some(dir) = m
                .source
                .starts_with('.')
                .then(|| bind_path(&m.source).ok())
                .flatten()
            else {
                continue;
            };
            for rest in extras.under(&m.source).into_keys() {
                let path = match (dir.is_empty(), rest.is_empty()) {
                    (true, _) => rest,
                    (false, true) => dir.clone(),
                    (false, false) => format!("{dir}/{rest}"),
                };
                if let Some(text) = extras.files.get(&path) {
                    file.bound_files.insert(path, text.clone());
                }
            }
        }
    }
    Ok(file)
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
    // YAML 1.2's booleans only (`FLAG: yes` stays the string "yes", as in
    // compose v2), and 0-led numbers read as octal (`mode: 0440`), as both
    // docker-compose 1.29 and compose v2 read them.
    options.strict_booleans = true;
    options.legacy_octal_numbers = true;
    options
}

/// The services of a version 1 file (no `services` nor `version` key,
/// and every top-level entry a service: a mapping with `image` or
/// `build`); the root unchanged otherwise.
fn version_one(
    root: Map<String, Value>,
) -> std::result::Result<Map<String, Value>, Map<String, Value>> {
    let v1 = !root.contains_key("services")
        && !root.contains_key("version")
        && !root.is_empty()
        && root.iter().all(|(k, v)| {
            k.starts_with("x-")
                || v.as_object()
                    .is_some_and(|s| s.contains_key("image") || s.contains_key("build"))
        })
        && root.keys().any(|k| !k.starts_with("x-"));
    if !v1 {
        return Err(root);
    }
    Ok(root
        .into_iter()
        .filter(|(k, _)| !k.starts_with("x-"))
        .collect())
}

struct Reader<'a> {
    src: &'a str,
    env: &'a BTreeMap<String, String>,
    opts: &'a ParseOptions,
    extras: &'a Extras,
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
        let line = locate_at(self.src, &path)
            .map(|(l, c)| format!(" (line {l}, column {c})"))
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
        let root = match version_one(root) {
            Ok(services) => return self.file_v1(services),
            Err(root) => root,
        };
        let root = self.include(root, &mut Vec::new())?;
        let mut file = ComposeFile::default();
        let mut services = None;
        for (key, value) in root {
            let at = At {
                section: &key,
                ..top
            };
            match key.as_str() {
                // Informative only, as in compose v2 (the keys decide).
                "version" => {
                    scalar(&value).ok_or_else(|| self.fail(at, "must be a string"))?;
                }
                "name" => {
                    let name = self.string(at, &value)?;
                    let ok = name
                        .starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                        && name.chars().all(|c| {
                            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
                        });
                    if !ok {
                        return Err(self.fail(
                            at,
                            format!("{name:?} is not a project name ([a-z0-9][a-z0-9_-]*)"),
                        ));
                    }
                    file.name = name;
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
                "secrets" | "configs" => {
                    let secret = key == "secrets";
                    for (name, v) in self.entries(at, value)? {
                        let at = At { entry: &name, ..at };
                        let source = self.file_source(at, v, secret)?;
                        let section = if secret {
                            &mut file.secrets
                        } else {
                            &mut file.configs
                        };
                        section.insert(name.clone(), source);
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
                "has no services key (nor services at the top level, as version 1 files have them)",
            )
        })?;
        self.services(file, services)
    }

    /// A version 1 file: services at the top level, each on Docker's default
    /// bridge (services reach each other through `links`), its named
    /// volumes the engine's own names, `net` for `network_mode`, and
    /// `log_driver`/`log_opt` for `logging`.
    fn file_v1(&self, services: Map<String, Value>) -> Result<ComposeFile> {
        let mut lifted = Map::new();
        for (name, v) in services {
            let Value::Object(mut s) = v else {
                lifted.insert(name, v);
                continue;
            };
            if let Some(net) = s.remove("net") {
                s.insert("network_mode".into(), net);
            }
            s.entry("network_mode")
                .or_insert_with(|| Value::from("bridge"));
            let driver = s.remove("log_driver");
            let options = s.remove("log_opt");
            if driver.is_some() || options.is_some() {
                let mut logging = Map::new();
                logging.extend(driver.map(|d| ("driver".to_string(), d)));
                logging.extend(options.map(|o| ("options".to_string(), o)));
                s.insert("logging".into(), Value::Object(logging));
            }
            lifted.insert(name, Value::Object(s));
        }
        let mut file = self.services_unchecked(ComposeFile::default(), Value::Object(lifted))?;
        // Named volumes are the engine's names in version 1.
        let mut volumes = BTreeMap::new();
        for s in file.services.values() {
            for m in &s.volumes {
                if m.kind == MountKind::Volume && !m.source.is_empty() {
                    volumes
                        .entry(m.source.clone())
                        .or_insert_with(|| VolumeDef {
                            name: m.source.clone(),
                            ..VolumeDef::default()
                        });
                }
            }
        }
        file.volumes = volumes;
        self.drop_disabled(&mut file)?;
        self.check_references(&file)?;
        file.waves()?;
        Ok(file)
    }

    /// The `services` section read into `file`, then checked as a whole.
    fn services(&self, file: ComposeFile, services: Value) -> Result<ComposeFile> {
        let mut file = self.services_unchecked(file, services)?;
        self.drop_disabled(&mut file)?;
        self.check_references(&file)?;
        file.waves()?;
        Ok(file)
    }

    /// The `services` section read into `file`.
    fn services_unchecked(&self, mut file: ComposeFile, services: Value) -> Result<ComposeFile> {
        let top = At {
            section: "",
            entry: "",
            key: "",
        };
        let at = At {
            section: "services",
            ..top
        };
        let services = match services {
            Value::Object(m) => Value::Object(self.resolve_extends(m)?),
            other => other,
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
        Ok(file)
    }

    /// A mapping's keys without its `x-` extensions, which compose allows
    /// wherever keys are not names the user chose.
    fn fields(&self, at: At<'_>, v: Value) -> Result<Vec<(String, Value)>> {
        let mut all = self.entries(at, v)?;
        all.retain(|(k, _)| !k.starts_with("x-"));
        Ok(all)
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
                "external" => self.external(at, value, &mut def.external, &mut def.name)?,
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
                "driver_opts" => def.driver_opts = self.string_map(at, value)?,
                "labels" => def.labels = self.string_map(at, value)?,
                "external" => self.external(at, value, &mut def.external, &mut def.name)?,
                "name" => def.name = self.string(at, &value)?,
                "internal" => def.internal = self.boolean(at, &value)?,
                "attachable" => def.attachable = self.boolean(at, &value)?,
                "enable_ipv6" => def.enable_ipv6 = self.boolean(at, &value)?,
                "ipam" => self.ipam(at, value, &mut def)?,
                k if k.starts_with("x-") => {}
                _ => return Err(self.fail(at, unsupported(&key))),
            }
        }
        Ok(def)
    }

    /// `external: true`, or the older `external: {name: N}`: sets whether,
    /// and the name when it gives one.
    fn external(&self, at: At<'_>, v: Value, external: &mut bool, name: &mut String) -> Result<()> {
        match v {
            Value::Object(_) => {
                for (k, v) in self.fields(at, v)? {
                    match k.as_str() {
                        "name" => *name = self.string(at, &v)?,
                        _ => return Err(self.fail(at, unsupported(&format!("external.{k}")))),
                    }
                }
                *external = true;
            }
            v => *external = self.boolean(at, &v)?,
        }
        Ok(())
    }

    /// A network's `ipam`: its driver and pools (`config`).
    fn ipam(&self, at: At<'_>, v: Value, def: &mut NetworkDef) -> Result<()> {
        for (k, v) in self.fields(at, v)? {
            match k.as_str() {
                "driver" => def.ipam_driver = self.string(at, &v)?,
                "config" => {
                    for pool in self.list(at, v)? {
                        let mut p = crate::model::IpamPool::default();
                        for (k, v) in self.fields(at, pool)? {
                            match k.as_str() {
                                "subnet" => p.subnet = self.string(at, &v)?,
                                "ip_range" => p.ip_range = self.string(at, &v)?,
                                "gateway" => p.gateway = self.string(at, &v)?,
                                "aux_addresses" => p.aux_addresses = self.string_map(at, v)?,
                                _ => {
                                    return Err(
                                        self.fail(at, unsupported(&format!("ipam.config[].{k}")))
                                    )
                                }
                            }
                        }
                        if p.subnet.is_empty() {
                            return Err(self.fail(at, "an ipam pool needs a subnet"));
                        }
                        def.ipam.push(p);
                    }
                }
                "options" => return Err(self.fail(
                    at,
                    "ipam.options are not supported (the engine's default IPAM driver takes none)",
                )),
                _ => return Err(self.fail(at, unsupported(&format!("ipam.{k}")))),
            }
        }
        Ok(())
    }

    /// Leaves out the services whose profiles are not enabled; refused
    /// when a service that runs depends on one of them.
    fn drop_disabled(&self, file: &mut ComposeFile) -> Result<()> {
        let disabled: BTreeMap<String, Vec<String>> = file
            .services
            .iter()
            .filter(|(_, s)| !self.extras.enables(&s.profiles))
            .map(|(k, s)| (k.clone(), s.profiles.clone()))
            .collect();
        file.services.retain(|k, _| !disabled.contains_key(k));
        let present: BTreeSet<String> = file.services.keys().cloned().collect();
        for s in file.services.values_mut() {
            let gone: Vec<String> = s
                .optional
                .iter()
                .filter(|d| !present.contains(*d))
                .cloned()
                .collect();
            for d in gone {
                s.depends_on.remove(&d);
            }
        }
        for (name, s) in &file.services {
            let needs = s.needs().into_iter().map(|d| ("depends_on", d));
            for (key, dep) in needs {
                if let Some(profiles) = disabled.get(dep) {
                    let at = At {
                        section: "services",
                        entry: name,
                        key,
                    };
                    return Err(self.fail(
                        at,
                        format!(
                            "needs service {dep:?}, whose profiles ({}) are not enabled: enable one (the project's profiles)",
                            profiles.join(", ")
                        ),
                    ));
                }
            }
        }
        if file.services.is_empty() {
            return Err(Error::invalid(
                "template",
                "every service is in a profile that is not enabled",
            ));
        }
        Ok(())
    }

    fn check_references(&self, file: &ComposeFile) -> Result<()> {
        let mut names: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, s) in &file.services {
            let at = |key| At {
                section: "services",
                entry: name,
                key,
            };
            if !s.container_name.is_empty() {
                if let Some(other) = names.insert(&s.container_name, name) {
                    return Err(self.fail(
                        at("container_name"),
                        format!(
                            "{:?} is service {other:?}'s container_name too",
                            s.container_name
                        ),
                    ));
                }
            }
            for need in s.needs() {
                let shared = format!("service:{need}");
                let key = if s.volumes_from.iter().any(|v| link_target(v) == need) {
                    "volumes_from"
                } else if s.network_mode == shared {
                    "network_mode"
                } else if s.host.pid_mode == shared {
                    "pid"
                } else if s.host.ipc_mode == shared {
                    "ipc"
                } else {
                    continue; // depends_on and links: checked below
                };
                if need == name.as_str() {
                    return Err(self.fail(
                        at(key),
                        "a service cannot share its own volumes or namespaces",
                    ));
                }
                if !file.services.contains_key(need) {
                    return Err(self.fail(
                        at(key),
                        format!("needs service {need:?}, which the file does not define"),
                    ));
                }
            }
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
            for m in &s.files {
                let (kind, declared) = if m.secret {
                    ("secret", file.secrets.contains_key(&m.source))
                } else {
                    ("config", file.configs.contains_key(&m.source))
                };
                if !declared {
                    return Err(self.fail(
                        at(if m.secret { "secrets" } else { "configs" }),
                        format!("{kind} {:?} is not declared at the top level", m.source),
                    ));
                }
            }
            let binds_carried = s
                .volumes
                .iter()
                .any(|m| m.kind == MountKind::Bind && self.extras.carries(&m.source));
            if (!s.files.is_empty() || binds_carried) && s.options.read_only {
                return Err(self.fail(
                    at("read_only"),
                    "a read-only container cannot take its secrets, configs and the project's files it binds (they are written into it before it starts)",
                ));
            }
            for (net, e) in &s.addresses {
                let def = file.networks.get(net);
                let fits = def.is_some_and(|d| {
                    e.ipv4_address.is_empty()
                        || d.ipam
                            .iter()
                            .any(|p| crate::model::ipv4_in(&e.ipv4_address, &p.subnet))
                });
                if !fits {
                    return Err(self.fail(
                        at("networks"),
                        format!(
                            "{} on network {net:?}: a static address needs the network to declare an ipam subnet that holds it",
                            e.ipv4_address
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
            // YAML 1.1's spellings too (files written for docker-compose 1.x).
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" => Ok(true),
                "false" | "no" | "off" => Ok(false),
                _ => Err(self.fail(at, "must be true or false")),
            },
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

    /// Values as files written for docker-compose take them.
    #[test]
    fn values_as_compose_reads_them() {
        let f = parse_ok(concat!(
            "services:\n",
            "  a:\n    image: busybox\n    restart: \"\"\n",
            "  b:\n    image: busybox\n    restart:\n",
            "  c:\n    image: busybox\n    restart: no\n    init: yes\n",
            "    environment:\n      FLAG: yes\n      OTHER: \"true\"\n      OFF: false\n      OCTAL: 0100\n",
            "    ports:\n      - \"20600-20610:80\"\n      - \"127.0.0.1:9000-9001:53/udp\"\n      - 8080:80\n",
            "      - target: 81\n        published: \"8000-8002\"\n        app_protocol: http\n        x-note: kept for people\n",
            "    healthcheck:\n      test: [\"CMD\", \"true\"]\n      x-why: nested extensions are allowed\n",
            "    depends_on:\n      a:\n        condition: service_started\n        x-note: here too\n",
        ));
        assert_eq!(f.services["a"].restart, "");
        assert_eq!(f.services["b"].restart, "");
        let c = &f.services["c"];
        assert_eq!(c.restart, "no");
        assert_eq!(c.init, Some(true));
        let env = |k: &str| c.environment[k].as_deref();
        assert_eq!(
            (env("FLAG"), env("OTHER"), env("OFF"), env("OCTAL")),
            (Some("yes"), Some("true"), Some("false"), Some("64"))
        );
        let ports: Vec<_> = c
            .ports
            .iter()
            .map(|p| (p.target, p.published, p.published_end, p.fixed()))
            .collect();
        assert_eq!(
            ports,
            [
                (80, Some(20600), Some(20610), None),
                (53, Some(9000), Some(9001), None),
                (80, Some(8080), None, Some(8080)),
                (81, Some(8000), Some(8002), None),
            ]
        );
        assert_eq!(c.ports[1].host_ip, "127.0.0.1");
        // Equal-length ranges still map one to one.
        let f = parse_ok("services:\n  a:\n    image: busybox\n    ports: [\"7000-7001:80-81\"]\n");
        assert_eq!(f.services["a"].ports.len(), 2);
        assert!(parse_err(
            "services:\n  a:\n    image: busybox\n    ports: [\"7000-7002:80-81\"]\n"
        )
        .contains("differ in length"));
    }

    /// The keys that set how a container runs, and who may use them.
    #[test]
    fn container_keys_are_read_and_admitted_by_role() {
        let f = parse_ok(concat!(
            "services:\n  proxy:\n    image: busybox\n",
            "    read_only: true\n    cap_drop: [ALL]\n    cap_add: [NET_BIND_SERVICE]\n",
            "    pids_limit: 100\n    tmpfs: [\"/run:size=64k\", /tmp]\n",
            "    ulimits:\n      nproc: 65535\n      nofile: {soft: 1024, hard: 4096}\n",
            "    extra_hosts: [\"db=10.0.0.2\", \"host.docker.internal:host-gateway\"]\n",
            "    dns: 9.9.9.9\n    shm_size: 64m\n    tty: yes\n    stdin_open: true\n",
            "    logging:\n      driver: json-file\n      options: {max-size: 10m}\n",
            "    sysctls: {net.core.somaxconn: 1024}\n    security_opt: [no-new-privileges:true]\n",
            "    deploy:\n      restart_policy: {condition: on-failure, max_attempts: 3}\n      resources: {limits: {pids: 50}}\n",
            "  log:\n    image: busybox\n    logging: {driver: syslog}\n    privileged: true\n    devices: [\"/dev/fuse\"]\n    pid: host\n",
        ));
        let p = &f.services["proxy"];
        let o = &p.options;
        assert!(o.read_only && o.tty && o.stdin_open);
        assert_eq!(o.cap_drop, ["ALL"]);
        assert_eq!(p.host.cap_add, ["NET_BIND_SERVICE"]);
        assert_eq!(o.pids_limit, Some(100), "pids_limit wins over deploy's");
        assert_eq!(o.tmpfs["/run"], "size=64k");
        assert_eq!(o.tmpfs["/tmp"], "");
        assert_eq!(
            (o.ulimits["nproc"], o.ulimits["nofile"]),
            ((65535, 65535), (1024, 4096))
        );
        assert_eq!(
            o.extra_hosts,
            ["db:10.0.0.2", "host.docker.internal:host-gateway"]
        );
        assert_eq!(
            (o.dns.as_slice(), o.shm_size),
            (&["9.9.9.9".to_string()][..], 64 << 20)
        );
        assert_eq!(
            (o.log_driver.as_str(), o.log_options["max-size"].as_str()),
            ("json-file", "10m")
        );
        assert_eq!(p.restart, "on-failure:3");
        let owner = |name: &str| crate::model::Owner {
            name: name.into(),
            role: crate::model::Role::new(name, &[]).unwrap(),
        };
        let (user, admin) = (owner("user"), owner("admin"));
        let refused = f.admit(&user).unwrap_err().to_string();
        assert!(
            refused.contains("services.") && refused.contains("user"),
            "{refused}"
        );
        let wants: Vec<String> = f
            .wants()
            .iter()
            .map(|w| format!("{} {}", w.field, w.capability.area()))
            .collect();
        for want in [
            "services.proxy.cap_add cap-add",
            "services.proxy.security_opt security-options",
            "services.proxy.sysctls security-options",
            "services.log.privileged privileged",
            "services.log.devices devices",
            "services.log.pid host-namespaces",
            "services.log.logging.driver (syslog) log-drivers",
        ] {
            assert!(wants.iter().any(|w| w == want), "{want} not in {wants:?}");
        }
        f.admit(&admin).unwrap();
        assert!(
            parse_err("services:\n  a:\n    image: busybox\n    pid: \"container:b\"\n")
                .contains("not supported")
        );
    }

    #[test]
    fn networks_as_files_declare_them() {
        let f = parse_ok(concat!(
            "services:\n  a:\n    image: busybox\n    networks:\n      back:\n        ipv4_address: 172.28.5.10\n        aliases: [db]\n      old: {}\n",
            "  b:\n    image: busybox\n    network_mode: host\n",
            "networks:\n  back:\n    name: backnet\n    driver_opts: {com.docker.network.bridge.name: br-back}\n    internal: true\n",
            "    ipam:\n      config:\n        - subnet: 172.28.0.0/16\n          gateway: 172.28.0.1\n",
            "  old:\n    external:\n      name: legacy\n",
        ));
        let back = &f.networks["back"];
        assert_eq!((back.name.as_str(), back.internal), ("backnet", true));
        assert_eq!(back.ipam[0].gateway, "172.28.0.1");
        let old = &f.networks["old"];
        assert!(old.external && old.name == "legacy");
        assert_eq!(
            f.services["a"].addresses["back"].ipv4_address,
            "172.28.5.10"
        );
        assert_eq!(f.services["a"].networks["back"], ["db"]);
        let wants: Vec<String> = f
            .wants()
            .iter()
            .map(|w| format!("{} {}", w.field, w.capability.area()))
            .collect();
        assert!(
            wants.contains(&"networks.back.driver network-drivers".to_string()),
            "{wants:?}"
        );
        assert!(
            wants.contains(&"services.b.network_mode host-namespaces".to_string()),
            "{wants:?}"
        );
        for (src, part) in [
            ("services:\n  a:\n    image: x\n    network_mode: host\n    ports: [\"80:80\"]\n", "cannot go with ports"),
            ("services:\n  a:\n    image: x\n    network_mode: none\n    networks: [n]\nnetworks:\n  n: {}\n", "cannot go with networks"),
            ("services:\n  a:\n    image: x\n    network_mode: \"container:b\"\n", "not supported"),
            ("services:\n  a:\n    image: x\n    networks:\n      n:\n        ipv4_address: 10.0.0.5\nnetworks:\n  n: {}\n", "ipam subnet"),
            ("services:\n  a:\n    image: x\n    scale: 2\n    networks:\n      n:\n        ipv4_address: 10.0.0.5\nnetworks:\n  n:\n    ipam:\n      config: [{subnet: 10.0.0.0/8}]\n", "more than one replica"),
            ("services:\n  a:\n    image: x\n    networks:\n      n:\n        ipv4_address: nope\nnetworks:\n  n: {}\n", "not an IPv4"),
        ] {
            let e = parse_err(src);
            assert!(e.contains(part), "{part}: {e}");
        }
    }

    #[test]
    fn version_one_files_and_any_version() {
        let f = parse_ok(concat!(
            "db:\n  image: postgres:9.6\n  volumes: [\"pgdata:/var/lib/postgresql/data\"]\n",
            "web:\n  image: busybox\n  links: [\"db:database\"]\n  ports: [\"8080:80\"]\n  log_driver: json-file\n  log_opt: {max-size: 1m}\n",
            "sidecar:\n  image: busybox\n  net: host\n",
        ));
        assert_eq!(f.services.len(), 3);
        assert_eq!(f.services["web"].network_mode, "bridge");
        assert_eq!(f.services["web"].links, ["db:database"]);
        assert_eq!(f.services["web"].options.log_driver, "json-file");
        assert_eq!(f.services["sidecar"].network_mode, "host");
        assert_eq!(
            f.volumes["pgdata"].name, "pgdata",
            "v1 volumes are the engine's names"
        );
        assert_eq!(f.waves().unwrap()[0], ["db", "sidecar"]);
        for v in ["1", "2", "3.9", "4"] {
            parse_ok(&format!(
                "version: \"{v}\"\nname: demo-app\nservices:\n  a:\n    image: x\n"
            ));
        }
        assert!(parse_err("name: Demo\nservices:\n  a:\n    image: x\n").contains("project name"));
        let e = parse_err("web:\n  command: x\n");
        assert!(e.contains("web"), "{e}");
    }

    #[test]
    fn files_beside_the_template_and_profiles() {
        let files: BTreeMap<String, String> = [
            (".env".to_string(), "TAG=1.25\nPORT=8080\n".to_string()),
            (
                "./config/app.env".to_string(),
                "A=from-file\nB=from-file\nSECRET\n".to_string(),
            ),
            ("extra.env".to_string(), "B=later-file\n".to_string()),
        ]
        .into();
        let extras = Extras::checked(&files, &["debug".into()]).unwrap();
        let env: BTreeMap<String, String> = [
            ("PORT".to_string(), "9090".to_string()),
            ("SECRET".to_string(), "s".to_string()),
        ]
        .into();
        let src = concat!(
            "services:\n  web:\n    image: \"nginx:${TAG}\"\n    ports: [\"${PORT}:80\"]\n",
            "    env_file: [config/app.env, extra.env, {path: missing.env, required: false}]\n",
            "    environment: {A: from-environment}\n",
            "  debug:\n    image: busybox\n    profiles: [debug]\n",
            "  tools:\n    image: busybox\n    profiles: [tools]\n",
        );
        let f = parse_with(src, &env, &ParseOptions::default(), &extras).unwrap();
        let web = &f.services["web"];
        assert_eq!(
            web.image, "nginx:1.25",
            ".env fills what the environment does not"
        );
        assert_eq!(
            web.ports[0].published,
            Some(9090),
            "the project's environment wins over .env"
        );
        let e = |k: &str| web.environment[k].as_deref();
        assert_eq!(
            (e("A"), e("B"), e("SECRET")),
            (Some("from-environment"), Some("later-file"), Some("s"))
        );
        assert_eq!(f.services.keys().collect::<Vec<_>>(), ["debug", "web"]);
        // A required env_file that is not there, and a dependency on a
        // service whose profile is off, are refused by name.
        let e = parse_with(
            "services:\n  a:\n    image: x\n    env_file: .env.prod\n",
            &BTreeMap::new(),
            &ParseOptions::default(),
            &Extras::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains(".env.prod") && e.contains("line 4"), "{e}");
        let e = parse_with(
            "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    profiles: [extra]\n",
            &BTreeMap::new(),
            &ParseOptions::default(),
            &Extras::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("extra") && e.contains("not enabled"), "{e}");
        let all = Extras::checked(&BTreeMap::new(), &["*".into()]).unwrap();
        let f = parse_with(
            "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    profiles: [extra]\n",
            &BTreeMap::new(),
            &ParseOptions::default(),
            &all,
        )
        .unwrap();
        assert_eq!(f.services.len(), 2);
    }

    #[test]
    fn extends_in_the_file_and_from_another() {
        let common = concat!(
            "services:\n  base:\n    image: \"app:${TAG}\"\n    environment: [A=1, B=1]\n",
            "    labels: {team: core}\n    ports: [\"8080:80\"]\n    volumes: [\"data:/data\", \"logs:/logs\"]\n",
            "    command: [serve, --all]\n    healthcheck:\n      test: [CMD, true]\n      interval: 5s\n",
        );
        let files: BTreeMap<String, String> =
            [("shared/common.yml".to_string(), common.to_string())].into();
        let extras = Extras::checked(&files, &[]).unwrap();
        let env: BTreeMap<String, String> = [("TAG".to_string(), "3".to_string())].into();
        let src = concat!(
            "services:\n",
            "  web:\n    extends: {file: shared/common.yml, service: base}\n",
            "    environment: {B: 2, C: 3}\n    ports: [\"9090:90\"]\n    volumes: [\"other:/data\"]\n",
            "    command: [serve, --web]\n    healthcheck:\n      retries: 3\n",
            "  worker:\n    extends: web\n    command: [work]\n    ports: []\n",
            "volumes:\n  data: {}\n  logs: {}\n  other: {}\n",
        );
        let f = parse_with(src, &env, &ParseOptions::default(), &extras).unwrap();
        let web = &f.services["web"];
        assert_eq!(web.image, "app:3");
        let e = |k: &str| web.environment[k].as_deref();
        assert_eq!((e("A"), e("B"), e("C")), (Some("1"), Some("2"), Some("3")));
        assert_eq!(web.labels["team"], "core");
        assert_eq!(web.ports.len(), 2);
        let mounts: Vec<String> = web
            .volumes
            .iter()
            .map(|m| format!("{}:{}", m.source, m.target))
            .collect();
        assert_eq!(
            mounts,
            ["logs:/logs", "other:/data"],
            "one mount per target, the later wins"
        );
        assert_eq!(
            web.command.as_deref(),
            Some(&["serve".to_string(), "--web".to_string()][..])
        );
        let h = web.healthcheck.as_ref().unwrap();
        assert_eq!((h.test.len(), h.interval_ms, h.retries), (2, 5000, 3));
        let worker = &f.services["worker"];
        assert_eq!(worker.command.as_deref(), Some(&["work".to_string()][..]));
        assert_eq!(worker.ports.len(), 2, "an empty list adds nothing");
        for (src, part) in [
            (
                "services:\n  a:\n    extends: b\n    image: x\n  b:\n    extends: a\n",
                "circle",
            ),
            ("services:\n  a:\n    extends: nope\n", "does not define"),
            (
                "services:\n  a:\n    extends: {file: missing.yml, service: b}\n",
                "not among the project's files",
            ),
            (
                "services:\n  a:\n    extends: {file: ../up.yml, service: b}\n",
                "leaves the project",
            ),
        ] {
            let e = parse_err(src);
            assert!(e.contains(part), "{part}: {e}");
        }
    }

    #[test]
    fn optional_dependencies_are_left_out_when_not_run() {
        let f = parse_ok(concat!(
            "services:\n  app:\n    image: x\n    depends_on:\n",
            "      cache: {condition: service_started, required: false}\n",
            "      db: {condition: service_healthy, restart: true}\n",
            "  db:\n    image: x\n    healthcheck: {test: [CMD, true]}\n",
        ));
        assert_eq!(
            f.services["app"].depends_on.keys().collect::<Vec<_>>(),
            ["db"]
        );
        let e = parse_err("services:\n  app:\n    image: x\n    depends_on:\n      cache: {condition: service_started}\n");
        assert!(e.contains("cache"), "{e}");
    }

    #[test]
    fn include_brings_in_other_files() {
        let files: BTreeMap<String, String> = [
            ("db/compose.yml".to_string(), "include: [cache.yml]\nservices:\n  db:\n    image: postgres:16\n    volumes: [\"pg:/var/lib/postgresql/data\"]\nvolumes:\n  pg: {}\n".to_string()),
            ("cache.yml".to_string(), "services:\n  cache:\n    image: redis:7\n".to_string()),
            ("loop.yml".to_string(), "include: [loop.yml]\nservices: {}\n".to_string()),
            ("dup.yml".to_string(), "services:\n  web:\n    image: other\n".to_string()),
        ]
        .into();
        let extras = Extras::checked(&files, &[]).unwrap();
        let parse =
            |src: &str| parse_with(src, &BTreeMap::new(), &ParseOptions::default(), &extras);
        let f = parse("include:\n  - path: db/compose.yml\nservices:\n  web:\n    image: app\n    depends_on: [db, cache]\n").unwrap();
        assert_eq!(
            f.services.keys().collect::<Vec<_>>(),
            ["cache", "db", "web"]
        );
        assert!(f.volumes.contains_key("pg"));
        for (src, part) in [
            (
                "include: [loop.yml]\nservices:\n  a:\n    image: x\n",
                "circle",
            ),
            (
                "include: [dup.yml]\nservices:\n  web:\n    image: x\n",
                "defined already",
            ),
            (
                "include: [nope.yml]\nservices:\n  web:\n    image: x\n",
                "not among",
            ),
        ] {
            let e = parse(src).unwrap_err().to_string();
            assert!(e.contains(part), "{part}: {e}");
        }
    }

    #[test]
    fn relative_binds_of_carried_files_need_no_host_path() {
        let files: BTreeMap<String, String> = [
            ("nginx.conf".to_string(), "events {}".to_string()),
            ("site/index.html".to_string(), "<p>hi</p>".to_string()),
            ("site/css/a.css".to_string(), "p{}".to_string()),
            ("other.txt".to_string(), "x".to_string()),
        ]
        .into();
        let extras = Extras::checked(&files, &[]).unwrap();
        // No host paths allowed, yet the carried files are taken.
        let parse =
            |src: &str| parse_with(src, &BTreeMap::new(), &ParseOptions::default(), &extras);
        let f = parse("services:\n  web:\n    image: nginx\n    volumes:\n      - ./nginx.conf:/etc/nginx/nginx.conf:ro\n      - ./site/:/usr/share/nginx/html\n").unwrap();
        assert_eq!(
            f.bound_files.keys().collect::<Vec<_>>(),
            ["nginx.conf", "site/css/a.css", "site/index.html"]
        );
        assert!(f.services["web"].volumes.iter().all(|m| f.carries(m)));
        assert!(f.wants().is_empty(), "{:?}", f.wants());
        for (src, part) in [
            // Not carried: a host folder, which this server does not allow.
            ("services:\n  a:\n    image: x\n    volumes: [\"./data:/data\"]\n", "not allowed"),
            ("services:\n  a:\n    image: x\n    volumes: [\"../up:/data\"]\n", "leaves the project"),
            ("services:\n  a:\n    image: x\n    volumes: [\"~/x:/data\"]\n", "home folder"),
            ("services:\n  a:\n    image: x\n    read_only: true\n    volumes: [\"./site:/s\"]\n", "read-only"),
        ] {
            let e = parse(src).unwrap_err().to_string();
            assert!(e.contains(part), "{part}: {e}");
        }
        // With host paths allowed, an uncarried one is the project's folder
        // on the host, and asks the policy for host binds.
        let opts = ParseOptions { allow_binds: true };
        let f = parse_with(
            "services:\n  a:\n    image: x\n    volumes: [\".:/src\", \"./data:/data\"]\n",
            &BTreeMap::new(),
            &opts,
            &Extras::default(),
        )
        .unwrap();
        assert!(f.bound_files.is_empty());
        assert_eq!(f.wants().len(), 2);
    }

    #[test]
    fn secrets_and_configs_from_files_environment_and_content() {
        let files: BTreeMap<String, String> =
            [("secrets/db.txt".to_string(), "pw-from-file".to_string())].into();
        let extras = Extras::checked(&files, &[]).unwrap();
        let env: BTreeMap<String, String> =
            [("API_KEY".to_string(), "k-from-env".to_string())].into();
        let src = concat!(
            "services:\n  app:\n    image: x\n    secrets: [db_password, {source: api_key, target: api, mode: 0400, uid: \"100\"}]\n",
            "    configs: [{source: app_conf, target: /etc/app.conf}]\n",
            "secrets:\n  db_password: {file: ./secrets/db.txt}\n  api_key: {environment: API_KEY}\n",
            "configs:\n  app_conf:\n    content: |\n      port = ${PORT:-80}\n",
        );
        let f = parse_with(src, &env, &ParseOptions::default(), &extras).unwrap();
        assert_eq!(f.secrets["db_password"].content, "pw-from-file");
        assert_eq!(f.secrets["api_key"].content, "k-from-env");
        assert_eq!(f.configs["app_conf"].content, "port = 80\n");
        let mounts: Vec<(String, u32, u32)> = f.services["app"]
            .files
            .iter()
            .map(|m| (m.target.clone(), m.mode, m.uid))
            .collect();
        assert_eq!(
            mounts,
            [
                ("/etc/app.conf".to_string(), 0o444, 0),
                ("/run/secrets/db_password".to_string(), 0o444, 0),
                ("/run/secrets/api".to_string(), 0o400, 100),
            ]
        );
        let spec = f.to_spec("p").to_string();
        assert!(
            !spec.contains("pw-from-file") && !spec.contains("k-from-env"),
            "{spec}"
        );
        for (src, part) in [
            ("services:\n  a:\n    image: x\n    secrets: [nope]\n", "not declared"),
            ("services:\n  a:\n    image: x\nsecrets:\n  s: {file: missing.txt}\n", "not among"),
            ("services:\n  a:\n    image: x\nsecrets:\n  s: {environment: UNSET}\n", "not in the project's environment"),
            ("services:\n  a:\n    image: x\nsecrets:\n  s: {external: true}\n", "swarm"),
            ("services:\n  a:\n    image: x\nsecrets:\n  s: {content: inline}\n", "content"),
            ("services:\n  a:\n    image: x\n    read_only: true\n    configs: [c]\nconfigs:\n  c: {content: x}\n", "read-only"),
        ] {
            let e = parse_with(src, &env, &ParseOptions::default(), &extras).unwrap_err().to_string();
            assert!(e.contains(part), "{part}: {e}");
        }
    }

    #[test]
    fn newer_keys_need_a_newer_engine() {
        let f = parse_ok(concat!(
            "services:\n  a:\n    image: x\n    attach: false\n    annotations: {com.example.k: v}\n",
            "    healthcheck: {test: [CMD, true], start_period: 30s, start_interval: 1s}\n",
        ));
        assert_eq!(
            f.services["a"]
                .healthcheck
                .as_ref()
                .unwrap()
                .start_interval_ms,
            1000
        );
        assert_eq!(
            f.beyond("1.41", "a").as_deref(),
            Some(
                "services.a.healthcheck.start_interval needs Docker API 1.44; engine a speaks 1.41"
            )
        );
        assert_eq!(
            f.beyond("1.45", "b").as_deref(),
            Some("services.a.annotations needs Docker API 1.46; engine b speaks 1.45")
        );
        assert_eq!(f.beyond("1.47", "c"), None);
        assert!(parse_ok("services:\n  a:\n    image: x\n")
            .beyond("1.24", "d")
            .is_none());
    }

    #[test]
    fn services_sharing_volumes_and_namespaces() {
        let f = parse_ok(concat!(
            "services:\n  web:\n    image: x\n    volumes: [\"/data\"]\n",
            "  backup:\n    image: x\n    volumes_from: [\"web:ro\"]\n",
            "  sidecar:\n    image: x\n    network_mode: \"service:web\"\n    pid: \"service:web\"\n",
        ));
        assert_eq!(f.services["backup"].volumes_from, ["web:ro"]);
        assert_eq!(f.services["sidecar"].needs(), ["web"]);
        assert_eq!(
            f.waves().unwrap(),
            [
                vec!["web".to_string()],
                vec!["backup".to_string(), "sidecar".to_string()]
            ]
        );
        for (src, part) in [
            ("services:\n  a:\n    image: x\n    volumes_from: [b]\n", "does not define"),
            ("services:\n  a:\n    image: x\n    volumes_from: [\"container:c\"]\n", "outside the project"),
            ("services:\n  a:\n    image: x\n    network_mode: \"service:a\"\n", "its own"),
            ("services:\n  a:\n    image: x\n    network_mode: \"container:c\"\n", "not supported"),
            ("services:\n  a:\n    image: x\n    network_mode: \"service:b\"\n    hostname: h\n  b:\n    image: x\n", "hostname"),
        ] {
            let e = parse_err(src);
            assert!(e.contains(part), "{part}: {e}");
        }
    }

    #[test]
    fn pull_policies() {
        for (policy, want) in [
            ("always", "always"),
            ("never", "never"),
            ("missing", "missing"),
            ("if_not_present", "missing"),
        ] {
            let f = parse_ok(&format!(
                "services:\n  a:\n    image: x\n    pull_policy: {policy}\n"
            ));
            assert_eq!(f.services["a"].pull_policy, want);
        }
        assert!(
            parse_err("services:\n  a:\n    image: x\n    pull_policy: build\n")
                .contains("needs a build")
        );
        assert!(
            parse_err("services:\n  a:\n    image: x\n    pull_policy: sometimes\n")
                .contains("sometimes")
        );
    }

    #[test]
    fn mac_addresses_need_api_1_44_and_one_replica() {
        let f = parse_ok(concat!(
            "services:\n  a:\n    image: x\n    mac_address: 02:42:ac:11:00:02\n",
            "  b:\n    image: x\n    networks:\n      n:\n        mac_address: 02:42:ac:11:00:03\n",
            "networks:\n  n: {}\n",
        ));
        assert_eq!(f.services["a"].mac_address, "02:42:ac:11:00:02");
        assert_eq!(
            f.services["b"].addresses["n"].mac_address,
            "02:42:ac:11:00:03"
        );
        assert_eq!(
            f.beyond("1.41", "e").as_deref(),
            Some("services.a.mac_address needs Docker API 1.44; engine e speaks 1.41")
        );
        assert!(f.beyond("1.44", "e").is_none());
        assert!(
            parse_err("services:\n  a:\n    image: x\n    mac_address: nope\n")
                .contains("not a MAC")
        );
        assert!(parse_err(
            "services:\n  a:\n    image: x\n    scale: 2\n    mac_address: 02:42:ac:11:00:02\n"
        )
        .contains("one container"));
    }

    #[test]
    fn network_priority_interface_name_and_gateway_priority() {
        let f = parse_ok(concat!(
            "services:\n  a:\n    image: x\n    networks:\n",
            "      back: {priority: 10}\n      front: {priority: 100, interface_name: eth-front}\n",
            "      mid: {gw_priority: 5}\n",
            "networks:\n  back: {}\n  front: {}\n  mid: {}\n",
        ));
        let a = &f.services["a"];
        // Highest priority first, then by name: front is joined at create.
        let order: Vec<&str> = a
            .networks_in_order()
            .into_iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(order, ["front", "back", "mid"]);
        assert_eq!(a.addresses["front"].interface_name, "eth-front");
        assert_eq!(a.addresses["mid"].gw_priority, 5);
        // Older engines cannot honour them: refused naming the key.
        assert_eq!(
            f.beyond("1.48", "e").as_deref(),
            Some("services.a.networks.interface_name needs Docker API 1.49; engine e speaks 1.48")
        );
        assert!(f.beyond("1.47", "e").unwrap().contains("gw_priority"));
        assert!(f.beyond("1.49", "e").is_none());
        assert!(parse_err(
            "services:\n  a:\n    image: x\n    networks:\n      n: {interface_name: \"a b\"}\nnetworks:\n  n: {}\n"
        )
        .contains("interface name"));
    }

    #[test]
    fn resource_knobs_label_files_develop_and_platform() {
        let files: BTreeMap<String, String> = [(
            "app.labels".to_string(),
            "team=web\ntier=front\n".to_string(),
        )]
        .into();
        let extras = Extras::checked(&files, &[]).unwrap();
        let src = concat!(
            "services:\n  a:\n    image: x\n    domainname: example.com\n    mem_swappiness: 10\n",
            "    memswap_limit: 1g\n    cpu_period: 100ms\n    cpu_quota: 50000\n",
            "    storage_opt: {size: 1G}\n    label_file: app.labels\n    labels: {tier: back}\n",
            "    platform: linux/amd64\n    develop: {watch: [{path: ./src, action: sync, target: /app}]}\n",
        );
        let f = parse_with(src, &BTreeMap::new(), &ParseOptions::default(), &extras).unwrap();
        let a = &f.services["a"];
        let o = &a.options;
        assert_eq!(a.domainname, "example.com");
        assert_eq!(o.mem_swappiness, Some(10));
        assert_eq!(o.memswap_limit, 1 << 30);
        assert_eq!((o.cpu_period, o.cpu_quota), (100_000, 50_000));
        assert_eq!(o.storage_opt["size"], "1G");
        // `labels` win over the label file.
        assert_eq!(a.labels["team"], "web");
        assert_eq!(a.labels["tier"], "back");
        assert!(a.extensions.contains_key("develop"));
        assert!(f.foreign_platform("linux", "x86_64", "e").is_none());
        assert_eq!(
            f.foreign_platform("linux", "aarch64", "e").as_deref(),
            Some("services.a.platform linux/amd64 is not engine e's (linux/arm64)")
        );
        assert!(f.wants().is_empty());
        // The OOM killer's and real-time scheduling's cost falls on the host.
        let f = parse_ok("services:\n  a:\n    image: x\n    oom_kill_disable: true\n    cpu_rt_runtime: 950000\n");
        let wants: Vec<String> = f.wants().iter().map(|w| w.field.clone()).collect();
        assert_eq!(
            wants,
            ["services.a.oom_kill_disable", "services.a.cpu_rt_runtime"]
        );
        for (src, part) in [
            (
                "services:\n  a:\n    image: x\n    mem_swappiness: 101\n",
                "0 to 100",
            ),
            (
                "services:\n  a:\n    image: x\n    platform: \"linux/a b\"\n",
                "platform",
            ),
            (
                "services:\n  a:\n    image: x\n    label_file: missing.labels\n",
                "not among",
            ),
        ] {
            let e = parse_with(src, &BTreeMap::new(), &ParseOptions::default(), &extras)
                .unwrap_err()
                .to_string();
            assert!(e.contains(part), "{part}: {e}");
        }
    }

    #[test]
    fn errors_give_line_and_column() {
        let e =
            parse_err("services:\n  web:\n    image: busybox\n    ports:\n      - \"80000:80\"\n");
        assert!(e.contains("line 4, column 5"), "{e}");
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
        let e = parse_err("services:\n  web:\n    image: busybox\n    no_such_key: true\n");
        assert!(
            e.contains("service \"web\"") && e.contains("no_such_key") && e.contains("line 4"),
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
