//! `extends`: a service built on another, of this file or of a file among
//! the project's, merged as the compose specification merges (mappings key
//! by key, the list forms of `environment`, `labels` and the like read as
//! mappings first, sequences appended without repeats, `command`,
//! `entrypoint` and a health check's `test` replaced, scalars replaced).

#[allow(clippy::wildcard_imports)]
use super::*;

/// How deep `extends` may chain.
const MAX_EXTENDS_DEPTH: usize = 16;

/// Keys whose list form (`KEY=value`, or names) compose reads as a mapping
/// before merging.
const MAPPINGS: [&str; 7] = [
    "environment",
    "labels",
    "depends_on",
    "networks",
    "extra_hosts",
    "sysctls",
    "annotations",
];

/// Sequences a later definition replaces whole.
const REPLACED: [&str; 3] = ["command", "entrypoint", "test"];

impl Reader<'_> {
    /// `root` with the files its `include` names (among the project's)
    /// brought in: their services, volumes, networks and `x-` keys, each
    /// defined once across the files (a second definition is refused, as
    /// compose does). `stack` holds the files being included, for cycles.
    pub(super) fn include(
        &self,
        mut root: Map<String, Value>,
        stack: &mut Vec<String>,
    ) -> Result<Map<String, Value>> {
        let Some(list) = root.remove("include") else {
            return Ok(root);
        };
        let at = At {
            section: "include",
            entry: "",
            key: "",
        };
        let items = match list {
            Value::Array(items) => items,
            other => vec![other],
        };
        for item in items {
            let paths: Vec<String> = match item {
                Value::String(p) => vec![p],
                Value::Object(m) => {
                    let mut paths = Vec::new();
                    for (k, v) in m {
                        match k.as_str() {
                            "path" => match v {
                                Value::Array(ps) => paths.extend(ps.iter().filter_map(scalar)),
                                v => paths.extend(scalar(&v)),
                            },
                            // The included file shares this project's
                            // folder and environment here.
                            "project_directory" | "env_file" => {}
                            _ => return Err(self.fail(at, unsupported(&format!("include[].{k}")))),
                        }
                    }
                    paths
                }
                _ => return Err(self.fail(at, "items must be paths or {path}")),
            };
            for path in paths {
                let path = super::super::files::normalize(&path).map_err(|r| self.fail(at, r))?;
                if stack.contains(&path) || stack.len() >= MAX_EXTENDS_DEPTH {
                    stack.push(path);
                    return Err(self.fail(
                        at,
                        format!(
                            "include runs in a circle or too deep: {}",
                            stack.join(" -> ")
                        ),
                    ));
                }
                let text = self.extras.file(&path).ok_or_else(|| {
                    self.fail(at, format!("{path} is not among the project's files (send it in the project's files)"))
                })?;
                let other: Value = serde_saphyr::from_str_with_options(text, yaml_options())
                    .map_err(|e| {
                        self.fail(
                            at,
                            format!(
                                "{path}: {}",
                                e.to_string().lines().next().unwrap_or("not valid YAML")
                            ),
                        )
                    })?;
                let Value::Object(other) = other else {
                    return Err(self.fail(at, format!("{path} is not a compose file")));
                };
                stack.push(path.clone());
                let other = self.include(other, stack)?;
                stack.pop();
                for (key, value) in other {
                    match key.as_str() {
                        "services" | "volumes" | "networks" => {
                            let Value::Object(defs) = value else { continue };
                            let into = root
                                .entry(key.clone())
                                .or_insert_with(|| Value::Object(Map::new()));
                            let Value::Object(into) = into else {
                                return Err(self.fail(at, format!("{key} must be a mapping")));
                            };
                            for (name, def) in defs {
                                if into.contains_key(&name) {
                                    return Err(self.fail(
                                        at,
                                        format!(
                                            "{path} defines {key}.{name}, which is defined already"
                                        ),
                                    ));
                                }
                                into.insert(name, def);
                            }
                        }
                        k if k.starts_with("x-") => {
                            root.entry(key).or_insert(value);
                        }
                        "version" | "name" => {}
                        _ => return Err(self.fail(at, format!("{path}: {}", unsupported(&key)))),
                    }
                }
            }
        }
        Ok(root)
    }

    /// The services with every `extends` resolved.
    pub(super) fn resolve_extends(
        &self,
        services: Map<String, Value>,
    ) -> Result<Map<String, Value>> {
        let mut out = Map::new();
        for name in services.keys() {
            let mut stack = Vec::new();
            let resolved = self.extended(&services, "", name, &mut stack)?;
            out.insert(name.clone(), resolved);
        }
        Ok(out)
    }

    /// Service `name` of `services` (from `file`, "" for the compose file
    /// itself) with its `extends` resolved.
    fn extended(
        &self,
        services: &Map<String, Value>,
        file: &str,
        name: &str,
        stack: &mut Vec<String>,
    ) -> Result<Value> {
        let at = At {
            section: "services",
            entry: name,
            key: "extends",
        };
        let Some(Value::Object(own)) = services.get(name) else {
            return match services.get(name) {
                Some(v) => Ok(v.clone()),
                None => Err(self.fail(
                    at,
                    format!(
                        "extends service {name:?}, which {} does not define",
                        where_(file)
                    ),
                )),
            };
        };
        let mut own = own.clone();
        let Some(ext) = own.remove("extends") else {
            return Ok(Value::Object(own));
        };
        let here = format!("{file}:{name}");
        if stack.contains(&here) {
            stack.push(here);
            return Err(self.fail(
                at,
                format!("extends runs in a circle: {}", stack.join(" -> ")),
            ));
        }
        if stack.len() >= MAX_EXTENDS_DEPTH {
            return Err(self.fail(
                at,
                format!("extends chains more than {MAX_EXTENDS_DEPTH} deep"),
            ));
        }
        stack.push(here);
        let (base_name, base_file) = match ext {
            Value::String(s) => (s, String::new()),
            Value::Object(m) => {
                let (mut service, mut path) = (String::new(), String::new());
                for (k, v) in m {
                    match k.as_str() {
                        "service" => service = scalar(&v).unwrap_or_default(),
                        "file" => path = scalar(&v).unwrap_or_default(),
                        _ => return Err(self.fail(at, unsupported(&format!("extends.{k}")))),
                    }
                }
                (service, path)
            }
            _ => return Err(self.fail(at, "must be a service name or {service, file}")),
        };
        if base_name.is_empty() {
            return Err(self.fail(at, "names no service"));
        }
        let base = if base_file.is_empty() {
            self.extended(services, file, &base_name, stack)?
        } else {
            // Relative to the file that names it.
            let dir = file.rsplit_once('/').map_or("", |(d, _)| d);
            let path = if dir.is_empty() {
                base_file.clone()
            } else {
                format!("{dir}/{base_file}")
            };
            let path = super::super::files::normalize(&path).map_err(|r| self.fail(at, r))?;
            let other = self.services_of_file(at, &path)?;
            self.extended(&other, &path, &base_name, stack)?
        };
        stack.pop();
        Ok(merge(base, Value::Object(own), ""))
    }

    /// The raw services of `path`, one of the project's files.
    fn services_of_file(&self, at: At<'_>, path: &str) -> Result<Map<String, Value>> {
        let text = self.extras.file(path).ok_or_else(|| {
            self.fail(
                at,
                format!("{path} is not among the project's files (send it in the project's files)"),
            )
        })?;
        let root: Value =
            serde_saphyr::from_str_with_options(text, yaml_options()).map_err(|e| {
                self.fail(
                    at,
                    format!(
                        "{path}: {}",
                        e.to_string().lines().next().unwrap_or("not valid YAML")
                    ),
                )
            })?;
        match root {
            Value::Object(mut m) => match m.remove("services") {
                Some(Value::Object(s)) => Ok(s),
                _ => Ok(m),
            },
            _ => Err(self.fail(at, format!("{path} is not a compose file"))),
        }
    }
}

fn where_(file: &str) -> String {
    if file.is_empty() {
        "the file".into()
    } else {
        file.to_string()
    }
}

/// `over` merged onto `base`; `key` is the key both are under.
fn merge(base: Value, over: Value, key: &str) -> Value {
    let (base, over) = if MAPPINGS.contains(&key) {
        (as_mapping(base), as_mapping(over))
    } else {
        (base, over)
    };
    match (base, over) {
        (Value::Object(mut b), Value::Object(o)) => {
            for (k, v) in o {
                let merged = match b.remove(&k) {
                    Some(old) => merge(old, v, &k),
                    None => v,
                };
                b.insert(k, merged);
            }
            Value::Object(b)
        }
        (Value::Array(mut b), Value::Array(o)) if !REPLACED.contains(&key) => {
            for item in o {
                // A volume or device is one per target: the later wins.
                if let Some(t) = target_of(&item) {
                    b.retain(|x| target_of(x).as_deref() != Some(t.as_str()));
                }
                if !b.contains(&item) {
                    b.push(item);
                }
            }
            Value::Array(b)
        }
        (_, over) => over,
    }
}

/// A list of `KEY=value` (or bare names) read as a mapping.
fn as_mapping(v: Value) -> Value {
    match v {
        Value::Array(items) => Value::Object(
            items
                .into_iter()
                .map(|i| match i {
                    Value::String(s) => match s.split_once(['=', ':']) {
                        Some((k, v)) if !k.starts_with('/') => (k.to_string(), Value::from(v)),
                        _ => (s, Value::Null),
                    },
                    other => (other.to_string(), Value::Null),
                })
                .collect(),
        ),
        other => other,
    }
}

/// The container path of a short or long mount (`src:/target[:ro]`,
/// `{target: ...}`), to merge volumes and devices one per target.
fn target_of(item: &Value) -> Option<String> {
    match item {
        Value::String(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            match parts.as_slice() {
                [_, t] | [_, t, _] if t.starts_with('/') => Some((*t).to_string()),
                _ => None,
            }
        }
        Value::Object(m) => m.get("target").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}
