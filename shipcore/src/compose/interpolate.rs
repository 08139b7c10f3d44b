//! Variable interpolation as compose does it: `$VAR`, `${VAR}`,
//! `${VAR:-default}` (unset or empty), `${VAR-default}` (unset),
//! `${VAR:?error}` / `${VAR?error}` (refused), `${VAR:+other}` /
//! `${VAR+other}`, and `$$` for a literal dollar. Defaults may hold
//! interpolations themselves. An unset `${VAR}` is the empty string.
//!
//! A template comes from a client, so the work is bounded: the expansion
//! runs on a stack of its own (no recursion, whatever the nesting), a
//! `${…}` is expanded at most [`MAX_INTERPOLATION_DEPTH`] levels deep in
//! the defaults of others, one string expands to at most
//! [`MAX_INTERPOLATED_BYTES`], and the strings of one file together to at
//! most [`MAX_INTERPOLATED_FILE_BYTES`] ([`interpolate_within`]).

use std::collections::BTreeMap;

/// How deep a `${…}` may be expanded inside the defaults (`:-`, `-`),
/// alternatives (`:+`, `+`) or messages (`:?`, `?`) of others: `${A}` is
/// level 1, the `${B}` of `${A:-${B}}` level 2. A deeper one is refused.
pub const MAX_INTERPOLATION_DEPTH: usize = 32;

/// The most one string may expand to, in bytes.
pub const MAX_INTERPOLATED_BYTES: usize = 512 * 1024;

/// The most the interpolated strings of one compose file may expand to
/// together, in bytes (a string without a `$` is taken as it is, and not
/// counted).
pub const MAX_INTERPOLATED_FILE_BYTES: usize = 1024 * 1024;

/// Interpolates `text` from `env`; the error is the reason, for the caller
/// to place (service, key, line). The result is at most
/// [`MAX_INTERPOLATED_BYTES`].
pub fn interpolate(text: &str, env: &BTreeMap<String, String>) -> Result<String, String> {
    let mut budget = MAX_INTERPOLATED_BYTES;
    interpolate_within(text, env, &mut budget)
}

/// [`interpolate`] within a budget the strings of one file share: `budget`
/// is the bytes they may still expand to (start it at
/// [`MAX_INTERPOLATED_FILE_BYTES`]); a string with a `$` in it takes its
/// result's length from it. Refused when the result would be longer than
/// the budget left or than [`MAX_INTERPOLATED_BYTES`].
pub fn interpolate_within(
    text: &str,
    env: &BTreeMap<String, String>,
    budget: &mut usize,
) -> Result<String, String> {
    if !text.contains('$') {
        return Ok(text.to_string());
    }
    let out = expand_all(text, env, *budget)?;
    *budget -= out.len();
    Ok(out)
}

/// A string being read: the top-level text, or the default (alternative,
/// message) of a `${…}` being expanded.
struct Frame<'a> {
    /// The whole string of this level, for messages.
    text: &'a str,
    /// What is left of it to read.
    rest: &'a str,
    /// For the message of a refused `${VAR:?message}`: the variable, and
    /// where in the output the message starts.
    required: Option<(&'a str, usize)>,
}

/// The output of one string, within its limit.
struct Out {
    text: String,
    limit: usize,
    /// The limit is what is left of the file's budget, not the per-string
    /// cap.
    file_bound: bool,
}

impl Out {
    fn push(&mut self, piece: &str) -> Result<(), String> {
        if self.text.len() + piece.len() > self.limit {
            return Err(if self.file_bound {
                format!(
                    "interpolation expands the file's strings to more than {MAX_INTERPOLATED_FILE_BYTES} bytes in total, the most one compose file may expand to"
                )
            } else {
                format!(
                    "interpolation expands the string to more than {MAX_INTERPOLATED_BYTES} bytes, the most one string may expand to"
                )
            });
        }
        self.text.push_str(piece);
        Ok(())
    }
}

/// Expands `text` (which has a `$`) into at most `budget` bytes (and
/// [`MAX_INTERPOLATED_BYTES`]). The defaults it expands are frames on a
/// stack of its own, never the thread's: each is read to its end, its
/// output following its parent's, before the parent reads on.
fn expand_all<'a>(
    text: &'a str,
    env: &'a BTreeMap<String, String>,
    budget: usize,
) -> Result<String, String> {
    let mut out = Out {
        text: String::with_capacity(text.len().min(budget)),
        limit: budget.min(MAX_INTERPOLATED_BYTES),
        file_bound: budget < MAX_INTERPOLATED_BYTES,
    };
    let mut stack = vec![Frame {
        text,
        rest: text,
        required: None,
    }];
    loop {
        // A `${` read now is at this level: 1 in `text`, n + 1 in the
        // default of a `${…}` at level n.
        let level = stack.len();
        let Some(frame) = stack.last_mut() else {
            break;
        };
        let Some(at) = frame.rest.find('$') else {
            out.push(frame.rest)?;
            if let Some((name, mark)) = frame.required {
                let message = &out.text[mark..];
                return Err(if message.is_empty() {
                    format!("required variable {name} is missing a value")
                } else {
                    format!("required variable {name} is missing a value: {message}")
                });
            }
            stack.pop();
            continue;
        };
        let whole = frame.text;
        out.push(&frame.rest[..at])?;
        let after = &frame.rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            frame.rest = tail;
            out.push("$")?;
        } else if let Some(body) = after.strip_prefix('{') {
            if level > MAX_INTERPOLATION_DEPTH {
                return Err(format!(
                    "interpolation nested too deep: a ${{...}} inside the defaults of others may be at most {MAX_INTERPOLATION_DEPTH} levels deep"
                ));
            }
            let end = closing_brace(body).ok_or_else(|| format!("unclosed ${{ in {whole:?}"))?;
            frame.rest = &body[end + 1..];
            match expand(&body[..end], env)? {
                Step::Value(v) => out.push(v)?,
                Step::Read(arg) => stack.push(Frame {
                    text: arg,
                    rest: arg,
                    required: None,
                }),
                Step::Refuse(name, arg) => {
                    let mark = out.text.len();
                    stack.push(Frame {
                        text: arg,
                        rest: arg,
                        required: Some((name, mark)),
                    });
                }
            }
        } else {
            let len = name_len(after);
            if len == 0 {
                return Err(format!(
                    "invalid interpolation in {whole:?}: a '$' must be followed by a name, '{{' or '$' (write $$ for a literal dollar)"
                ));
            }
            frame.rest = &after[len..];
            out.push(env.get(&after[..len]).map_or("", String::as_str))?;
        }
    }
    Ok(out.text)
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

/// What one `${...}` comes to.
enum Step<'a> {
    /// This text, as it is.
    Value(&'a str),
    /// This default (or alternative), interpolated.
    Read(&'a str),
    /// A refusal: the variable and its message, to interpolate.
    Refuse(&'a str, &'a str),
}

/// One `${...}` body.
fn expand<'a>(body: &'a str, env: &'a BTreeMap<String, String>) -> Result<Step<'a>, String> {
    let len = name_len(body);
    if len == 0 {
        return Err(format!(
            "invalid interpolation ${{{body}}}: no variable name"
        ));
    }
    let (name, op) = body.split_at(len);
    let value = env.get(name);
    let set_nonempty = value.is_some_and(|v| !v.is_empty());
    let own = Step::Value(value.map_or("", String::as_str));
    if op.is_empty() {
        return Ok(own);
    }
    let (word, colon) = match op.strip_prefix(':') {
        Some(w) => (w, true),
        None => (op, false),
    };
    let present = if colon { set_nonempty } else { value.is_some() };
    let arg = word.get(1..).unwrap_or("");
    match word.chars().next() {
        Some('-') if present => Ok(own),
        Some('-') => Ok(Step::Read(arg)),
        Some('+') if present => Ok(Step::Read(arg)),
        Some('+') => Ok(Step::Value("")),
        Some('?') if present => Ok(own),
        Some('?') => Ok(Step::Refuse(name, arg)),
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

    /// `${a:-` nested `levels` deep around `x`.
    fn nested(levels: usize) -> String {
        format!("{}x{}", "${a:-".repeat(levels), "}".repeat(levels))
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        // 6,000 levels in about 36 KB: recursion would overflow the test
        // thread's stack; this runs on that thread.
        let text = nested(6_000);
        assert!(text.len() > 35_000);
        let err = interpolate(&text, &env()).unwrap_err();
        assert!(
            err.contains(&MAX_INTERPOLATION_DEPTH.to_string()) && err.contains("deep"),
            "{err}"
        );
        // Set, `a` is the value and the defaults are never read.
        let mut e = env();
        e.insert("a".into(), "set".into());
        assert_eq!(interpolate(&text, &e).as_deref(), Ok("set"));
        // Unclosed at any depth: an error too.
        let open = "${a:-".repeat(100_000);
        assert!(interpolate(&open, &env()).unwrap_err().contains("unclosed"));
    }

    #[test]
    fn the_nesting_limit_is_exact() {
        let e = env();
        assert_eq!(
            interpolate(&nested(MAX_INTERPOLATION_DEPTH), &e).as_deref(),
            Ok("x")
        );
        let err = interpolate(&nested(MAX_INTERPOLATION_DEPTH + 1), &e).unwrap_err();
        assert!(err.contains(&MAX_INTERPOLATION_DEPTH.to_string()), "{err}");
        // The limit counts levels, not `${…}`: siblings at the limit pass.
        let wide = format!("{0}-{0}", nested(MAX_INTERPOLATION_DEPTH));
        assert_eq!(interpolate(&wide, &e).as_deref(), Ok("x-x"));
        // Alternatives and messages count as defaults do.
        let plus = format!(
            "{}x{}",
            "${TAG:+".repeat(MAX_INTERPOLATION_DEPTH + 1),
            "}".repeat(MAX_INTERPOLATION_DEPTH + 1)
        );
        assert!(interpolate(&plus, &e).is_err());
        let plus = format!(
            "{}x{}",
            "${TAG:+".repeat(MAX_INTERPOLATION_DEPTH),
            "}".repeat(MAX_INTERPOLATION_DEPTH)
        );
        assert_eq!(interpolate(&plus, &e).as_deref(), Ok("x"));
    }

    #[test]
    fn a_large_expansion_is_refused() {
        let mut e = env();
        e.insert("A".into(), "a".repeat(1_000_000));
        let text = "$A".repeat(300);
        let err = interpolate(&text, &e).unwrap_err();
        assert!(err.contains(&MAX_INTERPOLATED_BYTES.to_string()), "{err}");
        // Braced, and through defaults, the same.
        assert!(interpolate(&"${A}".repeat(300), &e).is_err());
        assert!(interpolate(&"${X:-$A}".repeat(300), &e).is_err());
        // Up to the cap is fine.
        e.insert("A".into(), "a".repeat(MAX_INTERPOLATED_BYTES / 4));
        assert_eq!(
            interpolate(&"$A".repeat(4), &e).map(|s| s.len()),
            Ok(MAX_INTERPOLATED_BYTES)
        );
        assert!(interpolate(&format!("{}!", "$A".repeat(4)), &e).is_err());
    }

    #[test]
    fn a_files_budget_is_shared() {
        let mut e = env();
        e.insert("A".into(), "a".repeat(100_000));
        let mut budget = MAX_INTERPOLATED_FILE_BYTES;
        let mut strings = 0;
        let err = loop {
            match interpolate_within("$A$A", &e, &mut budget) {
                Ok(s) => {
                    assert_eq!(s.len(), 200_000);
                    strings += 1;
                }
                Err(err) => break err,
            }
        };
        assert_eq!(strings, MAX_INTERPOLATED_FILE_BYTES / 200_000);
        assert_eq!(budget, MAX_INTERPOLATED_FILE_BYTES % 200_000);
        assert!(
            err.contains(&MAX_INTERPOLATED_FILE_BYTES.to_string()) && err.contains("file"),
            "{err}"
        );
        // A refused string takes nothing; strings without a `$` are free.
        assert_eq!(budget, MAX_INTERPOLATED_FILE_BYTES % 200_000);
        let big = "b".repeat(2 * MAX_INTERPOLATED_FILE_BYTES);
        assert_eq!(
            interpolate_within(&big, &e, &mut budget).as_deref(),
            Ok(big.as_str())
        );
        assert_eq!(
            interpolate_within("$TAG", &e, &mut budget).as_deref(),
            Ok("1.2")
        );
        assert_eq!(budget, MAX_INTERPOLATED_FILE_BYTES % 200_000 - 3);
    }

    #[test]
    fn escapes_and_nested_defaults() {
        let e = env();
        let cases = [
            // `$$` is a literal `$`, in defaults too, as compose has it.
            (
                "${IMAGE:-default:$${WHEREAMI:-x}}",
                "default:${WHEREAMI:-x}",
            ),
            ("${IMAGE:-a$$b}", "a$b"),
            ("$$$$", "$$"),
            ("$$$TAG", "$1.2"),
            ("${MISSING:-${ALSO:-${HOST}}}", "db"),
            ("${MISSING:-${ALSO:-${EMPTY:-in}-mid}-out}", "in-mid-out"),
            ("${MISSING:-${TAG:+${HOST}:$TAG}}", "db:1.2"),
            ("${TAG:-${MISSING:?never read}}", "1.2"),
            ("[${MISSING:-a}${MISSING:-b}]", "[ab]"),
        ];
        for (input, want) in cases {
            assert_eq!(interpolate(input, &e).as_deref(), Ok(want), "{input}");
        }
        let err = interpolate("${MISSING:?need ${HOST:-h} first}", &e).unwrap_err();
        assert_eq!(
            err,
            "required variable MISSING is missing a value: need db first"
        );
        let err = interpolate("x${MISSING:-${ALSO:?}}", &e).unwrap_err();
        assert_eq!(err, "required variable ALSO is missing a value");
        let err = interpolate("${MISSING:-a $ b}", &e).unwrap_err();
        assert!(err.contains("\"a $ b\""), "{err}");
    }

    /// The caps as `compose::parse` applies them: the environment's, and
    /// the file's budget across its strings.
    #[test]
    fn parse_applies_the_caps() {
        use crate::compose::{parse, ParseOptions, MAX_ENVIRONMENT_BYTES, MAX_ENVIRONMENT_ENTRIES};
        let opts = ParseOptions::default();
        let reason = |src: &str, env: &BTreeMap<String, String>| match parse(src, env, &opts) {
            Err(crate::error::Error::Invalid { field, reason }) => format!("{field}: {reason}"),
            other => panic!("not refused: {other:?}"),
        };
        let small = "services:\n  web:\n    image: app:${TAG}\n";
        let many: BTreeMap<String, String> = (0..=MAX_ENVIRONMENT_ENTRIES)
            .map(|i| (format!("V{i}"), String::new()))
            .collect();
        let r = reason(small, &many);
        assert!(
            r.starts_with("environment: ") && r.contains(&MAX_ENVIRONMENT_ENTRIES.to_string()),
            "{r}"
        );
        let mut large = env();
        large.insert("A".into(), "a".repeat(MAX_ENVIRONMENT_BYTES));
        let r = reason(small, &large);
        assert!(
            r.starts_with("environment: ") && r.contains(&MAX_ENVIRONMENT_BYTES.to_string()),
            "{r}"
        );
        // Just within both, the file reads.
        let mut e = env();
        e.insert("A".into(), "a".repeat(MAX_ENVIRONMENT_BYTES - 100));
        assert_eq!(
            parse(small, &e, &opts).unwrap().services["web"].image,
            "app:1.2"
        );
        // 300 strings of `$A`: over the file's budget, named where.
        let mut src = String::from("services:\n  web:\n    image: app:1\n    labels:\n");
        for i in 0..300 {
            src.push_str(&format!("      l{i}: $A\n"));
        }
        let r = reason(&src, &e);
        assert!(
            r.contains("service \"web\", key labels (line 4, column 5)")
                && r.contains(&MAX_INTERPOLATED_FILE_BYTES.to_string()),
            "{r}"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 512,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// Any string of the interpolation's characters ends, in a value or
        /// a reason, and never panics.
        #[test]
        fn any_text_ends(text in "[${}:?+\\-aAb_1 ]{0,200}") {
            let mut e = env();
            e.insert("a".into(), "$${a}".into());
            e.insert("A".into(), String::new());
            let mut budget = MAX_INTERPOLATED_FILE_BYTES;
            match interpolate_within(&text, &e, &mut budget) {
                Ok(out) => {
                    let taken = if text.contains('$') { out.len() } else { 0 };
                    proptest::prop_assert_eq!(budget + taken, MAX_INTERPOLATED_FILE_BYTES);
                }
                Err(reason) => proptest::prop_assert!(!reason.is_empty()),
            }
        }

        /// Deep, repeated nests of the forms end too.
        #[test]
        fn nests_end(parts in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just("${a:-"), proptest::strategy::Just("${A-"),
                proptest::strategy::Just("${TAG:+"), proptest::strategy::Just("${MISSING:?"),
                proptest::strategy::Just("}"), proptest::strategy::Just("$$"),
                proptest::strategy::Just("$TAG"), proptest::strategy::Just("x"),
            ],
            0..400,
        )) {
            let text: String = parts.concat();
            let _ = interpolate(&text, &env());
        }
    }
}
