//! Scalars as compose writes them: ports, mounts, sizes, durations, shell
//! words, and where a key is in the file.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) fn unsupported(key: &str) -> String {
    format!("{key} is not supported by shipcore's compose model")
}

/// Service, volume and alias names: what Docker accepts in a container
/// name and DNS accepts as a label.
pub(super) fn validate_service_name(name: &str) -> std::result::Result<(), String> {
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
pub(super) fn scalar(v: &Value) -> Option<String> {
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

pub(super) fn protocol(text: &str) -> std::result::Result<Proto, String> {
    match text {
        "" | "tcp" => Ok(Proto::Tcp),
        "udp" => Ok(Proto::Udp),
        other => Err(format!("protocol {other:?} is not tcp or udp")),
    }
}

pub(super) fn split_proto(text: &str) -> std::result::Result<(&str, Proto), String> {
    match text.rsplit_once('/') {
        Some((ports, proto)) => Ok((ports, protocol(proto)?)),
        None => Ok((text, Proto::Tcp)),
    }
}

pub(super) fn port_number(text: &str) -> std::result::Result<u16, String> {
    match text.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        _ => Err(format!("{text:?} is not a port between 1 and 65535")),
    }
}

/// `8000` or `8000-8002`.
pub(super) fn port_range(text: &str) -> std::result::Result<Vec<u16>, String> {
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

pub(super) fn host_ip(text: &str) -> std::result::Result<String, String> {
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    if bare.is_empty() {
        return Ok(String::new());
    }
    bare.parse::<core::net::IpAddr>()
        .map(|_| bare.to_string())
        .map_err(|_| format!("host address {text:?} is not an IP address"))
}

/// `[[host_ip:][published]:]target[/protocol]`, with ranges.
pub(super) fn short_ports(text: &str) -> std::result::Result<Vec<PortDef>, String> {
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
    let published = if published.is_empty() {
        Vec::new()
    } else {
        port_range(published).map_err(|r| format!("port {text:?}: {r}"))?
    };
    let port = |target, published, published_end| PortDef {
        target,
        published,
        published_end,
        host_ip: host_ip.clone(),
        protocol,
    };
    match (published.as_slice(), targets.as_slice()) {
        ([], _) => Ok(targets.iter().map(|t| port(*t, None, None)).collect()),
        // A published range for one target: the engine picks a free port
        // of it (as docker-compose and Docker do).
        ([first, .., last], [target]) => Ok(vec![port(*target, Some(*first), Some(*last))]),
        (p, t) if p.len() == t.len() => Ok(t
            .iter()
            .zip(p)
            .map(|(t, p)| port(*t, Some(*p), None))
            .collect()),
        _ => Err(format!(
            "port {text:?}: the published range and the target range differ in length"
        )),
    }
}

/// `target`, `source:target`, `source:target:mode`.
pub(super) fn short_mount(text: &str) -> std::result::Result<MountDef, String> {
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
    locate_at(src, path).map(|(line, _)| line)
}

/// The 1-based line and column of the key at `path` (see [`locate`]).
pub fn locate_at(src: &str, path: &[&str]) -> Option<(usize, usize)> {
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
            let column = indent + (trimmed.len() - name.len()) + 1;
            let bare = name
                .split_once(':')
                .map(|(k, _)| k.trim().trim_matches(['"', '\'']));
            if bare == Some(*key) {
                hit = Some((i, indent, column));
                break;
            }
        }
        let (i, indent, column) = hit?;
        found = Some((i + 1, column));
        from = i + 1;
        parent_indent = Some(indent);
    }
    found
}
