//! Variable interpolation as compose does it: `$VAR`, `${VAR}`,
//! `${VAR:-default}` (unset or empty), `${VAR-default}` (unset),
//! `${VAR:?error}` / `${VAR?error}` (refused), `${VAR:+other}` /
//! `${VAR+other}`, and `$$` for a literal dollar. Defaults may hold
//! interpolations themselves. An unset `${VAR}` is the empty string.

use std::collections::BTreeMap;

/// Interpolates `text` from `env`; the error is the reason, for the caller
/// to place (service, key, line).
pub fn interpolate(text: &str, env: &BTreeMap<String, String>) -> Result<String, String> {
    if !text.contains('$') {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = closing_brace(body).ok_or_else(|| format!("unclosed ${{ in {text:?}"))?;
            out.push_str(&expand(&body[..end], env)?);
            rest = &body[end + 1..];
        } else {
            let len = name_len(after);
            if len == 0 {
                return Err(format!(
                    "invalid interpolation in {text:?}: a '$' must be followed by a name, '{{' or '$' (write $$ for a literal dollar)"
                ));
            }
            out.push_str(env.get(&after[..len]).map_or("", String::as_str));
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The index of the `}` that closes a `${`, with nested `${...}` inside.
fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn name_len(s: &str) -> usize {
    let mut len = 0;
    for (i, c) in s.char_indices() {
        let ok = c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit());
        if !ok {
            break;
        }
        len = i + c.len_utf8();
    }
    len
}

/// One `${...}` body.
fn expand(body: &str, env: &BTreeMap<String, String>) -> Result<String, String> {
    let len = name_len(body);
    if len == 0 {
        return Err(format!(
            "invalid interpolation ${{{body}}}: no variable name"
        ));
    }
    let (name, op) = body.split_at(len);
    let value = env.get(name);
    let set_nonempty = value.is_some_and(|v| !v.is_empty());
    let given = |arg: &str| interpolate(arg, env);
    if op.is_empty() {
        return Ok(value.cloned().unwrap_or_default());
    }
    let (word, colon) = match op.strip_prefix(':') {
        Some(w) => (w, true),
        None => (op, false),
    };
    let present = if colon { set_nonempty } else { value.is_some() };
    let arg = word.get(1..).unwrap_or("");
    match word.chars().next() {
        Some('-') if present => Ok(value.cloned().unwrap_or_default()),
        Some('-') => given(arg),
        Some('+') if present => given(arg),
        Some('+') => Ok(String::new()),
        Some('?') if present => Ok(value.cloned().unwrap_or_default()),
        Some('?') => {
            let message = given(arg)?;
            Err(if message.is_empty() {
                format!("required variable {name} is missing a value")
            } else {
                format!("required variable {name} is missing a value: {message}")
            })
        }
        _ => Err(format!(
            "invalid interpolation ${{{body}}}: unknown operator {op:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> BTreeMap<String, String> {
        [("TAG", "1.2"), ("EMPTY", ""), ("HOST", "db")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn forms() {
        let e = env();
        let cases = [
            ("nginx:${TAG}", "nginx:1.2"),
            ("nginx:$TAG", "nginx:1.2"),
            ("${MISSING}x", "x"),
            ("${MISSING:-d}", "d"),
            ("${EMPTY:-d}", "d"),
            ("${EMPTY-d}", ""),
            ("${MISSING-d}", "d"),
            ("${TAG:-d}", "1.2"),
            ("${TAG:+set}", "set"),
            ("${EMPTY:+set}", ""),
            ("${EMPTY+set}", "set"),
            ("cost $$5", "cost $5"),
            ("$$HOME", "$HOME"),
            ("${MISSING:-${HOST}:5432}", "db:5432"),
            ("no dollar", "no dollar"),
            ("${TAG:?needed}", "1.2"),
        ];
        for (input, want) in cases {
            assert_eq!(interpolate(input, &e).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn errors() {
        let e = env();
        let err = interpolate("${MISSING:?set MISSING first}", &e).unwrap_err();
        assert!(
            err.contains("MISSING") && err.contains("set MISSING first"),
            "{err}"
        );
        assert!(interpolate("${EMPTY:?}", &e).is_err());
        assert_eq!(interpolate("${EMPTY?}", &e).as_deref(), Ok(""));
        assert!(interpolate("${TAG", &e).unwrap_err().contains("unclosed"));
        assert!(interpolate("a $ b", &e).is_err());
        assert!(interpolate("${}", &e).is_err());
        assert!(interpolate("${TAG/x}", &e).is_err());
    }
}
