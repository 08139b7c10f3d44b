//! A service's keys that set how its containers run: privileges, devices
//! and the host's namespaces (admitted by the role policy), and the keys
//! that stay within the container (read-only root, limits, tmpfs, DNS,
//! logging, ...).

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::model::{ContainerOptions, HostAccess};

impl Reader<'_> {
    /// Reads `key` into the service's host access or container options;
    /// false when `key` is not one of these.
    pub(super) fn container_key(
        &self,
        at: At<'_>,
        key: &str,
        v: Value,
        host: &mut HostAccess,
        o: &mut ContainerOptions,
    ) -> Result<bool> {
        match key {
            "privileged" => host.privileged = self.boolean(at, &v)?,
            "cap_add" => host.cap_add = self.strings(at, v)?,
            "cap_drop" => o.cap_drop = self.strings(at, v)?,
            "devices" => {
                for item in self.list(at, v)? {
                    host.devices.push(self.device(at, item)?);
                }
            }
            "pid" => host.pid_mode = self.namespace(at, &v)?,
            "ipc" => host.ipc_mode = self.namespace(at, &v)?,
            "uts" => host.uts_mode = self.namespace(at, &v)?,
            "userns_mode" => host.userns_mode = self.namespace(at, &v)?,
            "security_opt" => host.security_opt = self.strings(at, v)?,
            "sysctls" => host.sysctls = self.string_map(at, v)?,
            "read_only" => o.read_only = self.boolean(at, &v)?,
            "pids_limit" => o.pids_limit = Some(self.integer(at, &v)?),
            "tmpfs" => {
                for item in self.strings_or_one(at, v)? {
                    let (path, opts) = item.split_once(':').unwrap_or((item.as_str(), ""));
                    if !path.starts_with('/') {
                        return Err(
                            self.fail(at, format!("tmpfs {path:?} must be an absolute path"))
                        );
                    }
                    o.tmpfs.insert(path.to_string(), opts.to_string());
                }
            }
            "ulimits" => {
                for (name, limit) in self.fields(at, v)? {
                    let pair = match limit {
                        Value::Object(_) => {
                            let (mut soft, mut hard) = (None, None);
                            for (k, n) in self.fields(at, limit)? {
                                match k.as_str() {
                                    "soft" => soft = Some(self.integer(at, &n)?),
                                    "hard" => hard = Some(self.integer(at, &n)?),
                                    _ => {
                                        return Err(self
                                            .fail(at, unsupported(&format!("ulimits.{name}.{k}"))))
                                    }
                                }
                            }
                            match (soft, hard) {
                                (Some(s), Some(h)) => (s, h),
                                _ => {
                                    return Err(self
                                        .fail(at, format!("ulimits.{name} needs soft and hard")))
                                }
                            }
                        }
                        n => {
                            let n = self.integer(at, &n)?;
                            (n, n)
                        }
                    };
                    o.ulimits.insert(name, pair);
                }
            }
            "extra_hosts" => {
                o.extra_hosts = match v {
                    Value::Object(_) => self
                        .string_map(at, v)?
                        .into_iter()
                        .map(|(h, a)| format!("{h}:{a}"))
                        .collect(),
                    // `host=address` is compose v2's spelling of `host:address`.
                    v => self
                        .strings(at, v)?
                        .into_iter()
                        .map(|e| match e.split_once('=') {
                            Some((h, a)) => format!("{h}:{a}"),
                            None => e,
                        })
                        .collect(),
                };
                if let Some(bad) = o.extra_hosts.iter().find(|e| !e.contains(':')) {
                    return Err(self.fail(at, format!("{bad:?} is not host:address")));
                }
            }
            "dns" => o.dns = self.strings_or_one(at, v)?,
            "dns_search" => o.dns_search = self.strings_or_one(at, v)?,
            "dns_opt" => o.dns_opt = self.strings(at, v)?,
            "shm_size" => {
                let text = scalar(&v).unwrap_or_default();
                o.shm_size = byte_size(&text).map_err(|r| self.fail(at, r))?;
            }
            "stdin_open" => o.stdin_open = self.boolean(at, &v)?,
            "tty" => o.tty = self.boolean(at, &v)?,
            "group_add" => {
                o.group_add = self
                    .list(at, v)?
                    .iter()
                    .map(|g| {
                        scalar(g)
                            .ok_or_else(|| self.fail(at, "items must be group names or numbers"))
                    })
                    .collect::<Result<_>>()?;
            }
            "logging" => {
                for (k, v) in self.fields(at, v)? {
                    match k.as_str() {
                        "driver" => o.log_driver = self.string(at, &v)?,
                        "options" => o.log_options = self.string_map(at, v)?,
                        _ => return Err(self.fail(at, unsupported(&format!("logging.{k}")))),
                    }
                }
            }
            "oom_score_adj" => {
                let n = self.integer(at, &v)?;
                if !(-1000..=1000).contains(&n) {
                    return Err(self.fail(at, "must be from -1000 to 1000"));
                }
                o.oom_score_adj = Some(n);
            }
            "cpu_shares" => {
                o.cpu_shares = u64::try_from(self.integer(at, &v)?)
                    .map_err(|_| self.fail(at, "must not be negative"))?;
            }
            "cpuset" => o.cpuset = self.string(at, &v)?,
            "mem_swappiness" => {
                let n = self.integer(at, &v)?;
                if !(0..=100).contains(&n) {
                    return Err(self.fail(at, "must be from 0 to 100"));
                }
                o.mem_swappiness = Some(n);
            }
            "memswap_limit" => {
                o.memswap_limit = match scalar(&v).as_deref() {
                    Some("-1") => -1,
                    text => {
                        let bytes =
                            byte_size(text.unwrap_or_default()).map_err(|r| self.fail(at, r))?;
                        i64::try_from(bytes).unwrap_or(i64::MAX)
                    }
                }
            }
            "oom_kill_disable" => o.oom_kill_disable = self.boolean(at, &v)?,
            "cpu_period" => o.cpu_period = self.micros(at, &v)?,
            "cpu_quota" => o.cpu_quota = self.micros(at, &v)?,
            "cpu_rt_period" => o.cpu_rt_period = self.micros(at, &v)?,
            "cpu_rt_runtime" => o.cpu_rt_runtime = self.micros(at, &v)?,
            "storage_opt" => o.storage_opt = self.string_map(at, v)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Microseconds: a whole number, or a duration (`400ms`), as compose
    /// takes `cpu_period` and the others.
    fn micros(&self, at: At<'_>, v: &Value) -> Result<i64> {
        if let Some(n) = scalar(v).and_then(|s| s.parse::<i64>().ok()) {
            if n < 0 {
                return Err(self.fail(at, "must not be negative"));
            }
            return Ok(n);
        }
        let ms = self.duration(at, v)?;
        Ok(i64::try_from(ms.saturating_mul(1000)).unwrap_or(i64::MAX))
    }

    /// A list of strings (numbers read as their text).
    pub(super) fn strings(&self, at: At<'_>, v: Value) -> Result<Vec<String>> {
        self.list(at, v)?
            .iter()
            .map(|i| scalar(i).ok_or_else(|| self.fail(at, "items must be strings")))
            .collect()
    }

    /// One string or a list of them.
    pub(super) fn strings_or_one(&self, at: At<'_>, v: Value) -> Result<Vec<String>> {
        match v {
            Value::Array(_) => self.strings(at, v),
            Value::Null => Ok(Vec::new()),
            v => Ok(vec![self.string(at, &v)?]),
        }
    }

    pub(super) fn integer(&self, at: At<'_>, v: &Value) -> Result<i64> {
        scalar(v)
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| self.fail(at, "must be a whole number"))
    }

    /// A device: `host[:container[:permissions]]`, or the long syntax
    /// `{source, target, permissions}`.
    fn device(&self, at: At<'_>, item: Value) -> Result<String> {
        let text = match item {
            Value::Object(_) => {
                let (mut source, mut target, mut perms) =
                    (String::new(), String::new(), String::new());
                for (k, v) in self.fields(at, item)? {
                    match k.as_str() {
                        "source" => source = self.string(at, &v)?,
                        "target" => target = self.string(at, &v)?,
                        "permissions" => perms = self.string(at, &v)?,
                        _ => return Err(self.fail(at, unsupported(&format!("devices[].{k}")))),
                    }
                }
                [source, target, perms]
                    .into_iter()
                    .filter(|p| !p.is_empty())
                    .collect::<Vec<_>>()
                    .join(":")
            }
            v => self.string(at, &v)?,
        };
        if !text.starts_with('/') {
            return Err(self.fail(at, format!("device {text:?} must start with a host path")));
        }
        Ok(text)
    }

    /// A namespace mode: the engine's own words (`host`, `private`,
    /// `shareable`, ...) or another service's (`service:NAME`); a container
    /// outside the project is not taken.
    fn namespace(&self, at: At<'_>, v: &Value) -> Result<String> {
        let mode = self.string(at, v)?;
        if mode.starts_with("container:") {
            return Err(self.fail(
                at,
                format!("{mode:?}: sharing the namespace of a container outside the project is not supported (service:NAME is)"),
            ));
        }
        Ok(mode)
    }
}

/// A size in bytes as compose writes it: `67108864`, `64m`, `1gb`, `512k`.
pub(super) fn byte_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim().to_ascii_lowercase();
    let digits = t.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &t[digits.len()..];
    let n: f64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a size such as 64m"))?;
    let scale: u64 = match unit {
        "" | "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        _ => return Err(format!("{text:?}: unit {unit:?} is not b, k, m or g")),
    };
    let bytes = n * scale as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > (1u64 << 50) as f64 {
        return Err(format!("{text:?} is out of range"));
    }
    Ok(bytes as u64)
}
