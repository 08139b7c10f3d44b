//! A service's keys, each read in every syntax compose allows.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Reader<'_> {
    pub(super) fn service(&self, at: At<'_>, v: Value) -> Result<ServiceDef> {
        let mut s = ServiceDef {
            replicas: 1,
            ..ServiceDef::default()
        };
        let mut scale = None;
        let mut deploy_replicas = None;
        let mut env_files = None;
        let mut label_files = None;
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
                "environment" => self.environment(at, value, &mut s.environment)?,
                "env_file" => env_files = Some(value),
                "label_file" => label_files = Some(value),
                "domainname" => s.domainname = self.string(at, &value)?,
                // compose watch's settings: no effect on a running project
                // (there is no watch; compose v2's `up` ignores them too),
                // kept so the config shows them.
                "develop" => {
                    self.fields(at, value.clone())?;
                    s.extensions.insert(key.clone(), value);
                }
                "platform" => {
                    let p = self.string(at, &value)?;
                    if crate::model::Platform::parse(&p).is_none() {
                        return Err(
                            self.fail(at, format!("{p:?} is not a platform such as linux/amd64"))
                        );
                    }
                    s.platform = p;
                }
                "secrets" => s.files.extend(self.file_mounts(at, value, true)?),
                "configs" => s.files.extend(self.file_mounts(at, value, false)?),
                // Whether `docker compose up` shows the service's logs: a
                // terminal's concern, no engine's.
                "attach" => {
                    self.boolean(at, &value)?;
                }
                "annotations" => s.options.annotations = self.string_map(at, value)?,
                "pull_policy" => {
                    let policy = self.string(at, &value)?;
                    s.pull_policy = match policy.as_str() {
                        "always" | "never" => policy,
                        "missing" | "if_not_present" => "missing".into(),
                        "build" => return Err(self.fail(at, "pull_policy build needs a build, which compose projects do not run (push the image to the registry)")),
                        other => return Err(self.fail(at, format!("{other:?} is not always, never, missing or if_not_present"))),
                    };
                }
                "profiles" => {
                    s.profiles = self.strings(at, value)?;
                    if let Some(bad) = s
                        .profiles
                        .iter()
                        .find(|p| !super::super::files::valid_profile(p))
                    {
                        return Err(self.fail(at, format!("{bad:?} is not a profile name")));
                    }
                }
                "ports" => {
                    for item in self.list(at, value)? {
                        s.ports.extend(self.ports(at, item)?);
                    }
                }
                "expose" => {
                    for item in self.list(at, value)? {
                        s.expose.extend(self.expose(at, &item)?);
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
                "depends_on" => s.depends_on = self.depends_on(at, value, &mut s.optional)?,
                "volumes_from" => {
                    for item in self.list(at, value.clone())? {
                        let text = self.string(at, &item)?;
                        let text = text.strip_prefix("service:").unwrap_or(&text).to_string();
                        if text.starts_with("container:") {
                            return Err(self.fail(at, format!("{text:?}: taking volumes from a container outside the project is not supported")));
                        }
                        let ok = match text.split_once(':') {
                            None => true,
                            Some((_, mode)) => matches!(mode, "ro" | "rw"),
                        };
                        if !ok {
                            return Err(self.fail(at, format!("{text:?} is not service[:ro|rw]")));
                        }
                        s.volumes_from.push(text);
                    }
                }
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
                "networks" => {
                    s.networks =
                        self.service_networks(at, value, &mut s.addresses, &mut s.network_priority)?
                }
                "network_mode" => {
                    s.network_mode = self.string(at, &value)?;
                    let ok = matches!(s.network_mode.as_str(), "bridge" | "host" | "none")
                        || s.network_mode
                            .strip_prefix("service:")
                            .is_some_and(|n| !n.is_empty());
                    if !ok {
                        return Err(self.fail(
                            at,
                            format!(
                                "{:?} is not supported: network_mode takes bridge, host, none or service:NAME (a container outside the project is not taken)",
                                s.network_mode
                            ),
                        ));
                    }
                }
                "hostname" => s.hostname = self.string(at, &value)?,
                "mac_address" => s.mac_address = self.mac(at, &value)?,
                "container_name" => {
                    s.container_name = self.string(at, &value)?;
                    if !crate::model::docker_name(&s.container_name, 128) {
                        return Err(self.fail(
                            at,
                            format!(
                                "{:?} is not a container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)",
                                s.container_name
                            ),
                        ));
                    }
                }
                "working_dir" => s.working_dir = self.string(at, &value)?,
                "user" => s.user = self.string(at, &value)?,
                "init" => s.init = Some(self.boolean(at, &value)?),
                "stop_grace_period" => s.stop_grace_period_ms = Some(self.duration(at, &value)?),
                "stop_signal" => s.stop_signal = self.string(at, &value)?,
                k => {
                    if !self.container_key(at, k, value, &mut s.host, &mut s.options)? {
                        return Err(self.fail(at, unsupported(&key)));
                    }
                }
            }
        }
        if let Some(files) = env_files {
            let at = At {
                key: "env_file",
                ..at
            };
            // `environment` wins over env_file, as in compose.
            for (k, v) in self.env_file(at, files)? {
                s.environment.entry(k).or_insert(v);
            }
        }
        if let Some(files) = label_files {
            let at = At {
                key: "label_file",
                ..at
            };
            // `labels` win over label_file, as in compose.
            for (k, v) in self.env_file(at, files)? {
                s.labels.entry(k).or_insert(v.unwrap_or_default());
            }
        }
        self.settle(at, &mut s, scale, deploy_replicas)?;
        Ok(s)
    }

    /// `environment`, as a list or a map; a name without a value is copied
    /// from the project's environment, counted against the file's budget
    /// like an expansion.
    pub(super) fn environment(
        &self,
        at: At<'_>,
        value: Value,
        out: &mut BTreeMap<String, Option<String>>,
    ) -> Result<()> {
        for (k, v) in self.pairs(at, value)? {
            let v = match v {
                Some(v) => Some(v),
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
            out.insert(k, v);
        }
        Ok(())
    }

    /// `env_file`: a path, a list of them, or `{path, required}` items;
    /// each read from the project's files, later files winning. A missing
    /// file is refused unless `required: false`.
    pub(super) fn env_file(
        &self,
        at: At<'_>,
        v: Value,
    ) -> Result<BTreeMap<String, Option<String>>> {
        let items = match v {
            Value::Array(items) => items,
            other => vec![other],
        };
        let mut out = BTreeMap::new();
        for item in items {
            let (path, required) = match item {
                Value::Object(_) => {
                    let (mut path, mut required) = (String::new(), true);
                    for (k, v) in self.fields(at, item)? {
                        match k.as_str() {
                            "path" => path = self.string(at, &v)?,
                            "required" => required = self.boolean(at, &v)?,
                            "format" if scalar(&v).as_deref() == Some("raw") => {
                                return Err(self.fail(at, "format raw is not supported"))
                            }
                            "format" => {}
                            _ => return Err(self.fail(at, unsupported(&format!("env_file[].{k}")))),
                        }
                    }
                    (path, required)
                }
                v => (self.string(at, &v)?, true),
            };
            let Some(text) = self.extras.file(&path) else {
                if required {
                    return Err(self.fail(
                        at,
                        format!("{path} is not among the project's files (send it in the project's files)"),
                    ));
                }
                continue;
            };
            let mut budget = self.budget.get();
            let read = super::super::files::dotenv_interpolated(&path, text, self.env, &mut budget);
            self.budget.set(budget);
            for (k, v) in read? {
                let v = match v {
                    // A name alone takes the project's value, if any.
                    None => self.env.get(&k).cloned(),
                    Some(v) => Some(v),
                };
                out.insert(k, v);
            }
        }
        Ok(out)
    }

    /// A MAC address, `02:42:ac:11:00:02`.
    pub(super) fn mac(&self, at: At<'_>, v: &Value) -> Result<String> {
        let text = self.string(at, v)?;
        let parts: Vec<&str> = text.split(':').collect();
        let ok = parts.len() == 6
            && parts
                .iter()
                .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
        if !ok {
            return Err(self.fail(at, format!("{text:?} is not a MAC address")));
        }
        Ok(text)
    }

    /// One `expose` item: a port or a range, with an optional protocol.
    pub(super) fn expose(&self, at: At<'_>, item: &Value) -> Result<Vec<ExposeDef>> {
        let text = scalar(item).ok_or_else(|| self.fail(at, "items must be ports"))?;
        let (ports, protocol) = split_proto(&text).map_err(|r| self.fail(at, r))?;
        Ok(port_range(ports)
            .map_err(|r| self.fail(at, r))?
            .into_iter()
            .map(|port| ExposeDef { port, protocol })
            .collect())
    }

    /// What a service's keys decide together: its replicas (`scale` and
    /// `deploy.replicas` must agree) and an image that parses.
    pub(super) fn settle(
        &self,
        at: At<'_>,
        s: &mut ServiceDef,
        scale: Option<u32>,
        deploy_replicas: Option<u32>,
    ) -> Result<()> {
        s.replicas = match (scale, deploy_replicas) {
            (Some(a), Some(b)) if a != b => {
                let at = At { key: "scale", ..at };
                return Err(self.fail(at, format!("scale {a} and deploy.replicas {b} disagree")));
            }
            (Some(n), _) | (None, Some(n)) => n,
            (None, None) => 1,
        };
        if !s.network_mode.is_empty() {
            let at = At {
                key: "network_mode",
                ..at
            };
            let shared = s.network_mode.starts_with("service:");
            let conflict = if !s.networks.is_empty() {
                Some("networks")
            } else if !s.links.is_empty() && s.network_mode != "bridge" {
                Some("links")
            } else if !s.ports.is_empty() && s.network_mode != "bridge" {
                Some("ports")
            } else if shared && !s.hostname.is_empty() {
                Some("hostname")
            } else {
                None
            };
            if let Some(other) = conflict {
                return Err(self.fail(
                    at,
                    format!("network_mode {} cannot go with {other} (Docker refuses or ignores them together)", s.network_mode),
                ));
            }
        }
        let macs =
            !s.mac_address.is_empty() || s.addresses.values().any(|e| !e.mac_address.is_empty());
        if macs && s.replicas > 1 {
            let at = At {
                key: "mac_address",
                ..at
            };
            return Err(self.fail(
                at,
                "a MAC address is for one container: this service has more than one replica",
            ));
        }
        if !s.addresses.is_empty() && s.replicas > 1 {
            let at = At {
                key: "networks",
                ..at
            };
            return Err(self.fail(
                at,
                "a static address is for one container: this service has more than one replica",
            ));
        }
        if !s.container_name.is_empty() && s.replicas > 1 {
            let at = At {
                key: "container_name",
                ..at
            };
            return Err(self.fail(
                at,
                format!(
                    "{} replicas cannot all be named {:?}: Docker requires each container to have a unique name",
                    s.replicas, s.container_name
                ),
            ));
        }
        if s.image.trim().is_empty() {
            let at = At { key: "image", ..at };
            return Err(self.fail(at, "every service needs an image (build is not supported)"));
        }
        crate::model::ImageRef::parse(&s.image).map_err(|e| {
            let at = At { key: "image", ..at };
            self.fail(at, e)
        })?;
        Ok(())
    }

    pub(super) fn ports(&self, at: At<'_>, item: Value) -> Result<Vec<PortDef>> {
        if let Value::Object(map) = item {
            return Ok(vec![self.long_port(at, map)?]);
        }
        let text =
            scalar(&item).ok_or_else(|| self.fail(at, "items must be port strings or mappings"))?;
        short_ports(&text).map_err(|r| self.fail(at, r))
    }

    pub(super) fn long_port(&self, at: At<'_>, map: Map<String, Value>) -> Result<PortDef> {
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
                        let range = port_range(&text).map_err(bad)?;
                        port.published = range.first().copied();
                        if range.len() > 1 {
                            port.published_end = range.last().copied();
                        }
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
                // A name and an application protocol are for people and
                // tools: no engine effect (as in compose v2).
                "name" | "app_protocol" => {
                    self.string(at, &v)?;
                }
                k if k.starts_with("x-") => {}
                _ => return Err(self.fail(at, unsupported(&format!("ports[].{key}")))),
            }
        }
        port.target = target.ok_or_else(|| self.fail(at, "a port mapping needs a target"))?;
        Ok(port)
    }

    pub(super) fn mount(&self, at: At<'_>, item: Value) -> Result<MountDef> {
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
        if mount.kind == MountKind::Bind && mount.source.starts_with('~') {
            return Err(self.fail(
                at,
                format!("bind source {:?}: a home folder is the client's, not the engine host's (give an absolute path, or a path relative to the compose file)", mount.source),
            ));
        }
        let relative = mount.kind == MountKind::Bind && mount.source.starts_with('.');
        if relative {
            bind_path(&mount.source).map_err(|r| self.fail(at, format!("bind source {r}")))?;
        }
        // Files the project carries are written into the container, as a
        // checkout's are bound: no host path.
        let carried = mount.kind == MountKind::Bind && self.extras.carries(&mount.source);
        if mount.kind == MountKind::Bind && !carried && !self.opts.allow_binds {
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

    pub(super) fn long_mount(&self, at: At<'_>, map: Map<String, Value>) -> Result<MountDef> {
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
                k if k.starts_with("x-") => {}
                _ => return Err(self.fail(at, unsupported(&format!("volumes[].{key}")))),
            }
        }
        if m.kind == MountKind::Tmpfs && !m.source.is_empty() {
            return Err(self.fail(at, "a tmpfs mount has no source"));
        }
        Ok(m)
    }

    pub(super) fn depends_on(
        &self,
        at: At<'_>,
        v: Value,
        optional: &mut Vec<String>,
    ) -> Result<BTreeMap<String, Condition>> {
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
                    for (key, v) in self.fields(at, spec)? {
                        match key.as_str() {
                            "condition" => {
                                cond = match scalar(&v).as_deref() {
                                    Some("service_started") => Condition::ServiceStarted,
                                    Some("service_healthy") => Condition::ServiceHealthy,
                                    Some("service_completed_successfully") => Condition::ServiceCompletedSuccessfully,
                                    other => return Err(self.fail(at, format!("condition {:?} of {dep} is not one of service_started, service_healthy, service_completed_successfully", other.unwrap_or_default()))),
                                }
                            }
                            // Not required: left out when the file does not
                            // run it (undefined, or of a profile not enabled).
                            "required" => {
                                if !self.boolean(at, &v)? {
                                    optional.push(dep.clone());
                                }
                            }
                            // Restarting dependents on a dependency's change
                            // is what a redeploy does.
                            "restart" => {
                                self.boolean(at, &v)?;
                            }
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

    pub(super) fn restart(&self, at: At<'_>, v: &Value) -> Result<String> {
        let text = match v {
            // `restart: no` read as a boolean by YAML 1.1 habits.
            Value::Bool(false) => "no".to_string(),
            // `restart:` or `restart: ""`: unset, which is `no`.
            Value::Null => return Ok(String::new()),
            Value::String(s) if s.is_empty() => return Ok(String::new()),
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
    pub(super) fn deploy(&self, at: At<'_>, v: Value, s: &mut ServiceDef) -> Result<Option<u32>> {
        let mut replicas = None;
        let mut deploy_restart = None;
        for (key, v) in self.fields(at, v)? {
            match key.as_str() {
                "replicas" => replicas = Some(self.count(at, &v)?),
                "labels" => {
                    for (k, v) in self.pairs(at, v)? {
                        s.deploy_labels.insert(k, v.unwrap_or_default());
                    }
                }
                // A project runs on one engine: `global` is one replica
                // there, as `replicated` without replicas is.
                "mode" => match self.string(at, &v)?.as_str() {
                    "replicated" => {}
                    "global" => replicas = Some(1),
                    other => {
                        return Err(self.fail(
                            at,
                            format!("deploy.mode {other:?} is not replicated or global"),
                        ))
                    }
                },
                "restart_policy" => deploy_restart = Some(self.restart_policy(at, v)?),
                "resources" => {
                    for (kind, v) in self.fields(at, v)? {
                        let target = match kind.as_str() {
                            "limits" => &mut s.limits,
                            "reservations" => &mut s.reservations,
                            _ => {
                                return Err(
                                    self.fail(at, unsupported(&format!("deploy.resources.{kind}")))
                                )
                            }
                        };
                        for (res, v) in self.fields(at, v)? {
                            match res.as_str() {
                                "cpus" => target.millicpus = self.cpus(at, &v)?,
                                "memory" => target.memory_mib = self.memory(at, &v)?,
                                "pids" if kind == "limits" => {
                                    s.options.pids_limit = Some(self.integer(at, &v)?)
                                }
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
        // `restart` wins where both are given, as in compose v2.
        if let (Some(r), true) = (deploy_restart, s.restart.is_empty()) {
            s.restart = r;
        }
        Ok(replicas)
    }

    /// `deploy.restart_policy`: `condition` none, on-failure (with
    /// `max_attempts`) or any, as Docker's restart policy outside a swarm.
    fn restart_policy(&self, at: At<'_>, v: Value) -> Result<String> {
        let (mut condition, mut attempts) = ("any".to_string(), None);
        for (k, v) in self.fields(at, v)? {
            match k.as_str() {
                "condition" => condition = self.string(at, &v)?,
                "max_attempts" => attempts = Some(self.count(at, &v)?),
                // Swarm's pacing of restarts: no engine setting outside one.
                "delay" | "window" => {
                    self.duration(at, &v)?;
                }
                _ => return Err(self.fail(at, unsupported(&format!("deploy.restart_policy.{k}")))),
            }
        }
        Ok(match (condition.as_str(), attempts) {
            ("none", _) => "no".into(),
            ("on-failure", Some(n)) if n > 0 => format!("on-failure:{n}"),
            ("on-failure", _) => "on-failure".into(),
            ("any", _) => "always".into(),
            (other, _) => {
                return Err(self.fail(
                    at,
                    format!("restart_policy condition {other:?} is not none, on-failure or any"),
                ))
            }
        })
    }

    pub(super) fn cpus(&self, at: At<'_>, v: &Value) -> Result<u64> {
        scalar(v)
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|c| c.is_finite() && *c >= 0.0 && *c <= 4096.0)
            .map(|c| (c * 1000.0).round() as u64)
            .ok_or_else(|| self.fail(at, "cpus must be a number such as 0.5"))
    }

    pub(super) fn memory(&self, at: At<'_>, v: &Value) -> Result<u64> {
        let text = scalar(v).unwrap_or_default();
        memory_mib(&text).map_err(|r| self.fail(at, r))
    }

    pub(super) fn duration(&self, at: At<'_>, v: &Value) -> Result<u64> {
        let text = scalar(v).unwrap_or_default();
        duration_ms(&text).map_err(|r| self.fail(at, r))
    }

    pub(super) fn healthcheck(&self, at: At<'_>, v: Value) -> Result<Healthcheck> {
        let mut h = Healthcheck::default();
        for (key, v) in self.fields(at, v)? {
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
                "start_interval" => h.start_interval_ms = self.duration(at, &v)?,
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

    pub(super) fn service_networks(
        &self,
        at: At<'_>,
        v: Value,
        addresses: &mut BTreeMap<String, crate::model::Endpoint>,
        priority: &mut BTreeMap<String, i64>,
    ) -> Result<BTreeMap<String, Vec<String>>> {
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
                    for (key, v) in self.fields(at, spec)? {
                        match key.as_str() {
                            "aliases" => {
                                for a in self.list(at, v)? {
                                    let a = self.string(at, &a)?;
                                    validate_service_name(&a)
                                        .map_err(|r| self.fail(at, format!("alias {a:?}: {r}")))?;
                                    aliases.push(a);
                                }
                            }
                            "ipv4_address" => {
                                let a = self.string(at, &v)?;
                                if a.parse::<core::net::Ipv4Addr>().is_err() {
                                    return Err(
                                        self.fail(at, format!("{a:?} is not an IPv4 address"))
                                    );
                                }
                                addresses.entry(net.clone()).or_default().ipv4_address = a;
                            }
                            "mac_address" => {
                                addresses.entry(net.clone()).or_default().mac_address =
                                    self.mac(at, &v)?;
                            }
                            "priority" => {
                                priority.insert(net.clone(), self.integer(at, &v)?);
                            }
                            "gw_priority" => {
                                addresses.entry(net.clone()).or_default().gw_priority =
                                    self.integer(at, &v)?;
                            }
                            "interface_name" => {
                                let name = self.string(at, &v)?;
                                let fits = !name.is_empty()
                                    && name.len() <= 15
                                    && name
                                        .chars()
                                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                                if !fits {
                                    return Err(self.fail(
                                        at,
                                        format!("interface_name {name:?} is not a network interface name (at most 15 letters, digits, -, _ or .)"),
                                    ));
                                }
                                addresses.entry(net.clone()).or_default().interface_name = name;
                            }
                            "ipv6_address" => {
                                let a = self.string(at, &v)?;
                                if a.parse::<core::net::Ipv6Addr>().is_err() {
                                    return Err(
                                        self.fail(at, format!("{a:?} is not an IPv6 address"))
                                    );
                                }
                                addresses.entry(net.clone()).or_default().ipv6_address = a;
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
