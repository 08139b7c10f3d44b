//! One form for a compose file in the specification's shape, whichever
//! form it was written in: what `docker-compose config` prints (short
//! syntax kept, strings for commands, `$$` unescaped later) and what
//! shipcore's `GET /projects/{name}/config` prints (long forms, defaults
//! filled) both come out the same when they mean the same. The corpus'
//! table test compares the two, key by key.
//!
//! Written from the compose specification, not from shipcore's parser:
//! a shared mistake would otherwise pass unseen.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// A service's keys, each in one form. `bind_root` is the folder
/// docker-compose made relative bind sources absolute against.
pub fn service(s: &Value, bind_root: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let Some(m) = s.as_object() else {
        return out;
    };
    let mut deploy = deploy(m);
    for (k, v) in m {
        let v = match k.as_str() {
            // Read into `deploy` above, under the names compose v3 gives them.
            "deploy" | "scale" | "mem_limit" | "mem_reservation" | "cpus" | "pids_limit" => {
                continue
            }
            "command" | "entrypoint" => command(v),
            "environment" | "labels" | "sysctls" => mapping(v),
            "ports" => sorted(list(v).iter().flat_map(port).collect()),
            "expose" => sorted(list(v).iter().map(expose).collect()),
            "volumes" => Value::Array(list(v).iter().map(|x| mount(x, bind_root)).collect()),
            "depends_on" => depends_on(v),
            "healthcheck" => healthcheck(v),
            "networks" => networks(v),
            "ulimits" => ulimits(v),
            "logging" => json!({"driver": text(&v["driver"]), "options": mapping(&v["options"])}),
            "secrets" => files(v, "/run/secrets/"),
            "configs" => files(v, "/"),
            "dns" | "dns_search" | "tmpfs" | "cap_add" | "cap_drop" | "links" | "profiles"
            | "security_opt" | "devices" | "group_add" | "dns_opt" => {
                Value::Array(list(v).iter().map(text).collect())
            }
            "extra_hosts" => sorted(extra_hosts(v)),
            // `service:NAME` is docker-compose 1.29's spelling of `NAME`.
            "volumes_from" => Value::Array(
                list(v)
                    .iter()
                    .map(|x| {
                        let s = text(x).as_str().unwrap_or_default().to_string();
                        json!(s.strip_prefix("service:").unwrap_or(&s))
                    })
                    .collect(),
            ),
            "read_only" | "init" | "privileged" | "tty" | "stdin_open" => json!(truthy(v)),
            "stop_grace_period" => json!(duration_ms(text(v).as_str().unwrap_or("0"))),
            "restart" if text(v) == "no" => json!(""),
            "shm_size" => json!(bytes(text(v).as_str().unwrap_or("0"))),
            k if k.starts_with("x-") => continue,
            _ => text(v),
        };
        if !empty(&v) {
            out.insert(k.clone(), v);
        }
    }
    if !m.contains_key("networks") && !m.contains_key("network_mode") {
        out.insert("networks".into(), json!({"default": {}}));
    }
    // `deploy.restart_policy` is the engine's restart policy outside a
    // swarm; `restart` wins where both are given.
    if let (Some(p), false) = (
        m.get("deploy").and_then(|d| d.get("restart_policy")),
        m.contains_key("restart"),
    ) {
        let attempts = p.get("max_attempts").and_then(Value::as_u64).unwrap_or(0);
        let policy = match p.get("condition").and_then(Value::as_str).unwrap_or("any") {
            "none" => String::new(),
            "on-failure" if attempts > 0 => format!("on-failure:{attempts}"),
            "on-failure" => "on-failure".into(),
            _ => "always".into(),
        };
        if !policy.is_empty() {
            out.insert("restart".into(), json!(policy));
        }
    }
    if let Some(n) = m.get("scale").and_then(Value::as_u64) {
        deploy.insert("replicas".into(), json!(n));
    }
    out.insert("deploy".into(), Value::Object(deploy));
    out
}

/// Top-level networks or volumes: each one's settings, defaults dropped.
pub fn section(v: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (name, def) in v.as_object().into_iter().flatten() {
        let mut d = BTreeMap::new();
        for (k, x) in def.as_object().into_iter().flatten() {
            let x = match k.as_str() {
                "external" => {
                    // `external: {name: X}`, the older form of `name` + `external`.
                    if let Some(n) = x.get("name") {
                        d.insert("name".to_string(), text(n));
                    }
                    json!(x.is_object() || truthy(x))
                }
                "labels" | "driver_opts" => mapping(x),
                "ipam" => {
                    let pools: Vec<Value> = list(&x["config"])
                        .iter()
                        .map(|p| {
                            let p: BTreeMap<String, Value> = p
                                .as_object()
                                .into_iter()
                                .flatten()
                                .map(|(k, v)| (k.clone(), text(v)))
                                .collect();
                            json!(p)
                        })
                        .collect();
                    json!({"driver": text(&x["driver"]), "config": pools})
                }
                "internal" | "attachable" | "enable_ipv6" => json!(truthy(x)),
                "driver" if text(x) == "local" || text(x) == "bridge" => continue,
                _ => text(x),
            };
            if !empty(&x) && x != json!(false) {
                d.insert(k.clone(), x);
            }
        }
        out.insert(name.clone(), json!(d));
    }
    out
}

/// Null, or an empty string, list or mapping: a key left out.
pub fn empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// A scalar as the string a container gets (`8000`, `true` and `"8000"`
/// are one value to the engine).
fn text(v: &Value) -> Value {
    match v {
        Value::String(_) | Value::Null => v.clone(),
        Value::Bool(b) => json!(b.to_string()),
        Value::Number(n) => json!(n.to_string()),
        other => other.clone(),
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => matches!(s.as_str(), "true" | "True" | "yes" | "1"),
        _ => false,
    }
}

fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        one => vec![one.clone()],
    }
}

fn sorted(mut v: Vec<Value>) -> Value {
    v.sort_by_key(|x| x.to_string());
    Value::Array(v)
}

/// `KEY=VALUE` lists and mappings as one mapping; a bare key is null.
fn mapping(v: &Value) -> Value {
    let mut out = Map::new();
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                out.insert(k.clone(), text(x));
            }
        }
        Value::Array(a) => {
            for item in a {
                let s = item.as_str().unwrap_or_default();
                match s.split_once('=') {
                    Some((k, x)) => out.insert(k.to_string(), json!(x)),
                    None => out.insert(s.to_string(), Value::Null),
                };
            }
        }
        _ => {}
    }
    Value::Object(out)
}

/// A command as the words the container runs: a string is split as a
/// POSIX shell splits it (quotes and backslashes), a list is taken as is.
fn command(v: &Value) -> Value {
    match v {
        Value::String(s) => json!(shell_words(s)),
        Value::Array(a) => Value::Array(a.iter().map(text).collect()),
        other => other.clone(),
    }
}

fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut started = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                started = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    cur.push(q);
                }
            }
            '"' => {
                started = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                if !matches!(n, '"' | '\\' | '$' | '`') {
                                    cur.push('\\');
                                }
                                cur.push(n);
                            }
                        }
                        q => cur.push(q),
                    }
                }
            }
            '\\' => {
                started = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            c => {
                started = true;
                cur.push(c);
            }
        }
    }
    if started {
        words.push(cur);
    }
    words
}

/// A published port as `host_ip|published|target|protocol`; a short
/// form with a range of targets is one entry per target.
fn port(v: &Value) -> Vec<Value> {
    if let Some(o) = v.as_object() {
        let s = |k: &str| match o.get(k) {
            Some(x) => text(x).as_str().unwrap_or_default().to_string(),
            None => String::new(),
        };
        let proto = if s("protocol").is_empty() {
            "tcp".to_string()
        } else {
            s("protocol")
        };
        return vec![json!(format!(
            "{}|{}|{}|{proto}",
            s("host_ip"),
            s("published"),
            s("target")
        ))];
    }
    let raw = text(v).as_str().unwrap_or_default().to_string();
    let (spec, proto) = match raw.rsplit_once('/') {
        Some((a, p)) => (a.to_string(), p.to_string()),
        None => (raw.clone(), "tcp".to_string()),
    };
    // ip:published:target, published:target, or target (IPv6 in brackets).
    let parts: Vec<&str> = match spec.rfind(':') {
        None => vec!["", "", &spec],
        Some(last) => {
            let (head, target) = (&spec[..last], &spec[last + 1..]);
            match head.rfind(':') {
                Some(mid) => vec![
                    head[..mid].trim_matches(['[', ']']),
                    &head[mid + 1..],
                    target,
                ],
                None => vec!["", head, target],
            }
        }
    };
    let range = |t: &str| -> Vec<u32> {
        match t.split_once('-') {
            Some((a, b)) => match (a.parse::<u32>(), b.parse::<u32>()) {
                (Ok(a), Ok(b)) if a <= b => (a..=b).collect(),
                _ => Vec::new(),
            },
            None => t.parse().map(|p| vec![p]).unwrap_or_default(),
        }
    };
    let targets = range(parts[2]);
    let published = range(parts[1]);
    targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            // A range of targets maps one to one onto a range published;
            // one target takes the whole published range.
            let p = if targets.len() > 1 {
                published.get(i).map(u32::to_string).unwrap_or_default()
            } else {
                parts[1].to_string()
            };
            json!(format!("{}|{p}|{t}|{proto}", parts[0]))
        })
        .collect()
}

fn expose(v: &Value) -> Value {
    let s = text(v).as_str().unwrap_or_default().to_string();
    if s.contains('/') {
        json!(s)
    } else {
        json!(format!("{s}/tcp"))
    }
}

/// A mount as `type|source|target|ro|rw`, bind sources relative to the
/// project (`./x`), as the file wrote them.
fn mount(v: &Value, bind_root: &str) -> Value {
    let relative = |src: &str| -> String {
        match src.strip_prefix(bind_root) {
            Some("") => ".".to_string(),
            Some(rest) => format!(".{rest}"),
            None => src.trim_end_matches('/').to_string(),
        }
    };
    if let Some(o) = v.as_object() {
        let kind = o.get("type").and_then(Value::as_str).unwrap_or("volume");
        let src = o.get("source").and_then(Value::as_str).unwrap_or_default();
        let src = if kind == "bind" {
            relative(src)
        } else {
            src.to_string()
        };
        let target = o.get("target").and_then(Value::as_str).unwrap_or_default();
        let ro = o.get("read_only").is_some_and(truthy);
        return json!(format!(
            "{kind}|{src}|{target}|{}",
            if ro { "ro" } else { "rw" }
        ));
    }
    let s = v.as_str().unwrap_or_default();
    let parts: Vec<&str> = s.split(':').collect();
    let (src, target, mode) = match parts.as_slice() {
        [t] => ("", *t, ""),
        [a, b] if b.starts_with('/') => (*a, *b, ""),
        [t, m] => ("", *t, *m),
        [a, b, m, ..] => (*a, *b, *m),
        [] => ("", "", ""),
    };
    let ro = mode.split(',').any(|m| m == "ro");
    let bind = src.starts_with('/') || src.starts_with('.') || src.starts_with('~');
    let (kind, src) = if bind {
        ("bind", relative(src))
    } else {
        ("volume", src.to_string())
    };
    json!(format!(
        "{kind}|{src}|{target}|{}",
        if ro { "ro" } else { "rw" }
    ))
}

fn depends_on(v: &Value) -> Value {
    let mut out = Map::new();
    match v {
        Value::Array(a) => {
            for d in a {
                out.insert(
                    text(d).as_str().unwrap_or_default().into(),
                    json!("service_started"),
                );
            }
        }
        Value::Object(o) => {
            for (k, d) in o {
                let c = d["condition"].as_str().unwrap_or("service_started");
                out.insert(k.clone(), json!(c));
            }
        }
        _ => {}
    }
    Value::Object(out)
}

/// A duration as milliseconds (`1m30s`, `500ms`, `10s`, a bare number of
/// seconds).
pub fn duration_ms(s: &str) -> u64 {
    if let Ok(n) = s.parse::<u64>() {
        return n * 1000;
    }
    let (mut total, mut num) = (0f64, String::new());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let n: f64 = num.parse().unwrap_or(0.0);
        num.clear();
        total += n * match unit.as_str() {
            "h" => 3_600_000.0,
            "m" => 60_000.0,
            "s" => 1000.0,
            "ms" => 1.0,
            "us" => 0.001,
            _ => 0.0,
        };
    }
    total as u64
}

/// A size as bytes (`64M`, `1g`, `512m`, a bare number of bytes).
fn bytes(s: &str) -> u64 {
    let s = s.trim().to_ascii_lowercase();
    let s = s.trim_end_matches('b');
    let (num, mul) = match s.chars().last() {
        Some('k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('m') => (&s[..s.len() - 1], 1 << 20),
        Some('g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<f64>().map_or(0, |n| (n * mul as f64) as u64)
}

fn healthcheck(v: &Value) -> Value {
    if v["disable"].as_bool() == Some(true) || v["test"] == json!(["NONE"]) {
        return json!({"disable": true});
    }
    let test = match &v["test"] {
        Value::String(s) => json!(["CMD-SHELL", s]),
        other => other.clone(),
    };
    let mut out = Map::new();
    out.insert("test".into(), test);
    for k in ["interval", "timeout", "start_period", "start_interval"] {
        let ms = v
            .get(k)
            .map_or(0, |d| duration_ms(text(d).as_str().unwrap_or("0")));
        if ms > 0 {
            out.insert(k.into(), json!(ms));
        }
    }
    if let Some(r) = v.get("retries").and_then(Value::as_u64) {
        out.insert("retries".into(), json!(r));
    }
    Value::Object(out)
}

fn networks(v: &Value) -> Value {
    let mut out = Map::new();
    match v {
        Value::Array(a) => {
            for n in a {
                out.insert(text(n).as_str().unwrap_or_default().into(), json!({}));
            }
        }
        Value::Object(o) => {
            for (k, n) in o {
                let mut d = Map::new();
                for (key, x) in n.as_object().into_iter().flatten() {
                    let x = if key == "aliases" {
                        sorted(list(x).iter().map(text).collect())
                    } else {
                        text(x)
                    };
                    if !empty(&x) {
                        d.insert(key.clone(), x);
                    }
                }
                out.insert(k.clone(), Value::Object(d));
            }
        }
        _ => {}
    }
    Value::Object(out)
}

fn ulimits(v: &Value) -> Value {
    let mut out = Map::new();
    for (k, l) in v.as_object().into_iter().flatten() {
        let pair = match l {
            Value::Object(_) => json!([l["soft"], l["hard"]]),
            n => json!([n, n]),
        };
        out.insert(k.clone(), pair);
    }
    Value::Object(out)
}

fn extra_hosts(v: &Value) -> Vec<Value> {
    match v {
        Value::Object(o) => o
            .iter()
            .map(|(h, ip)| json!(format!("{h}:{}", text(ip).as_str().unwrap_or_default())))
            .collect(),
        other => list(other)
            .iter()
            .map(|h| json!(text(h).as_str().unwrap_or_default().replacen('=', ":", 1)))
            .collect(),
    }
}

/// Secrets or configs as `source → target` (a bare name goes under
/// `default_dir`).
fn files(v: &Value, default_dir: &str) -> Value {
    let mut out = Map::new();
    for f in list(v) {
        let (source, target) = match &f {
            Value::String(s) => (s.clone(), String::new()),
            o => (
                o["source"].as_str().unwrap_or_default().to_string(),
                o["target"].as_str().unwrap_or_default().to_string(),
            ),
        };
        let target = if target.is_empty() {
            format!("{default_dir}{source}")
        } else if !target.starts_with('/') {
            format!("{default_dir}{target}")
        } else {
            target
        };
        out.insert(source, json!(target));
    }
    Value::Object(out)
}

/// Replicas and resources, from `deploy` or from the version 2 keys
/// (`mem_limit`, `cpus`, `pids_limit`, …) docker-compose 1.29 keeps.
fn deploy(m: &Map<String, Value>) -> Map<String, Value> {
    let d = &m.get("deploy").cloned().unwrap_or(Value::Null);
    let mut out = Map::new();
    out.insert(
        "replicas".into(),
        json!(d["replicas"].as_u64().unwrap_or(1)),
    );
    let res = |r: &Value, cpus: Option<&Value>, mem: Option<&Value>, pids: Option<&Value>| {
        let mut o = Map::new();
        if let Some(c) = r.get("cpus").or(cpus) {
            let c: f64 = text(c).as_str().unwrap_or("0").parse().unwrap_or(0.0);
            if c > 0.0 {
                o.insert("millicpus".into(), json!((c * 1000.0).round() as u64));
            }
        }
        if let Some(x) = r.get("memory").or(mem) {
            let b = bytes(text(x).as_str().unwrap_or("0"));
            if b > 0 {
                o.insert("memory".into(), json!(b));
            }
        }
        if let Some(p) = r.get("pids").or(pids) {
            o.insert("pids".into(), text(p));
        }
        o
    };
    let limits = res(
        &d["resources"]["limits"],
        m.get("cpus"),
        m.get("mem_limit"),
        m.get("pids_limit"),
    );
    let reservations = res(
        &d["resources"]["reservations"],
        None,
        m.get("mem_reservation"),
        None,
    );
    if !limits.is_empty() {
        out.insert("limits".into(), Value::Object(limits));
    }
    if !reservations.is_empty() {
        out.insert("reservations".into(), Value::Object(reservations));
    }
    if let Some(l) = d.get("labels") {
        out.insert("labels".into(), mapping(l));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_as_a_shell_splits() {
        assert_eq!(
            shell_words(r#"gunicorn --bind "0.0.0.0:8000" -w 3 'a b' c\ d"#),
            [
                "gunicorn",
                "--bind",
                "0.0.0.0:8000",
                "-w",
                "3",
                "a b",
                "c d"
            ]
        );
    }

    #[test]
    fn ports_in_one_form() {
        assert_eq!(
            port(&json!("127.0.0.1:8088:8088/tcp")),
            [json!("127.0.0.1|8088|8088|tcp")]
        );
        assert_eq!(
            port(&json!({"target": 80, "published": 8080})),
            [json!("|8080|80|tcp")]
        );
        assert_eq!(port(&json!("9000-9001:90-91")).len(), 2);
    }
}
