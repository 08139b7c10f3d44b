//! What a project carries beside its compose file: named files, as a
//! checkout has them next to `compose.yaml` (`.env`, `env_file` targets),
//! and the profiles it enables. Pure: the files are given as text, by
//! relative path; a path that could leave the project is refused.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// The most files a project carries.
pub const MAX_FILES: usize = 64;
/// The largest file, in bytes.
pub const MAX_FILE_BYTES: usize = 256 * 1024;
/// All files together, in bytes.
pub const MAX_FILES_BYTES: usize = 1024 * 1024;

/// A project's files beside its compose file and its enabled profiles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    /// Contents by relative path (`.env`, `config/app.env`).
    pub files: BTreeMap<String, String>,
    /// Profiles to enable; `*` enables every one.
    pub profiles: Vec<String>,
}

impl Extras {
    /// Checks the files (count, sizes, paths) and the profiles' names; the
    /// files keyed by their normalised paths.
    pub fn checked(files: &BTreeMap<String, String>, profiles: &[String]) -> Result<Extras> {
        if files.len() > MAX_FILES {
            return Err(Error::invalid(
                "files",
                format!(
                    "has {} files, more than the {MAX_FILES} allowed",
                    files.len()
                ),
            ));
        }
        let mut total = 0;
        let mut out = BTreeMap::new();
        for (path, text) in files {
            if text.len() > MAX_FILE_BYTES {
                return Err(Error::invalid(
                    "files",
                    format!(
                        "{path:?} is {} bytes, more than the {MAX_FILE_BYTES} allowed",
                        text.len()
                    ),
                ));
            }
            total += text.len();
            let clean = normalize(path).map_err(|r| Error::invalid("files", r))?;
            if out.insert(clean.clone(), text.clone()).is_some() {
                return Err(Error::invalid(
                    "files",
                    format!("{path:?} names {clean:?} twice"),
                ));
            }
        }
        if total > MAX_FILES_BYTES {
            return Err(Error::invalid(
                "files",
                format!("are {total} bytes together, more than the {MAX_FILES_BYTES} allowed"),
            ));
        }
        if profiles.len() > 64 {
            return Err(Error::invalid("profiles", "more than 64 profiles"));
        }
        for p in profiles {
            if !valid_profile(p) && p != "*" {
                return Err(Error::invalid(
                    "profiles",
                    format!("{p:?} is not a profile name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)"),
                ));
            }
        }
        Ok(Extras {
            files: out,
            profiles: profiles.to_vec(),
        })
    }

    /// The file at `path` (as the compose file writes it, relative to it).
    pub fn file(&self, path: &str) -> Option<&str> {
        let clean = normalize(path).ok()?;
        self.files.get(&clean).map(String::as_str)
    }

    /// The files a relative bind source names (see [`files_under`]).
    pub fn under(&self, source: &str) -> BTreeMap<String, String> {
        files_under(&self.files, source)
    }

    /// Whether a bind of `source` takes files the project carries (a
    /// relative source naming some of them) rather than a host path.
    pub fn carries(&self, source: &str) -> bool {
        source.starts_with('.') && !self.under(source).is_empty()
    }

    /// Whether a service of `profiles` runs: one without profiles always
    /// does, one with them when one of them is enabled.
    pub fn enables(&self, profiles: &[String]) -> bool {
        profiles.is_empty()
            || self
                .profiles
                .iter()
                .any(|p| p == "*" || profiles.contains(p))
    }
}

/// A profile's name as compose takes it.
pub fn valid_profile(p: &str) -> bool {
    let mut chars = p.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// A relative path inside the project, normalised (`./a/../b` → `b`);
/// refused when absolute, empty, with control characters, or leaving the
/// project.
pub fn normalize(path: &str) -> std::result::Result<String, String> {
    if path.starts_with('/') || path.starts_with('\\') {
        return Err(format!(
            "{path:?} is absolute: files are named relative to the compose file"
        ));
    }
    if path.chars().any(|c| c.is_control() || c == '\\') {
        return Err(format!("{path:?} has a control character or a backslash"));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!("{path:?} leaves the project"));
                }
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(format!("{path:?} names no file"));
    }
    Ok(parts.join("/"))
}

/// The files a relative bind source names among `files`: the file
/// itself, or those under the folder it names (`.` is the whole project),
/// keyed by their path under it (empty for the file itself). Empty when
/// the project carries none: the source is then a folder on the engine's
/// host.
pub fn files_under(files: &BTreeMap<String, String>, source: &str) -> BTreeMap<String, String> {
    let Ok(dir) = bind_path(source) else {
        return BTreeMap::new();
    };
    files
        .iter()
        .filter_map(|(path, text)| {
            let rest = if dir.is_empty() {
                path.as_str()
            } else if path == &dir {
                ""
            } else {
                path.strip_prefix(&dir)?.strip_prefix('/')?
            };
            Some((rest.to_string(), text.clone()))
        })
        .collect()
}

/// A relative bind source (`./data`, `.`, `../x` refused) as a path under
/// the project's folder; empty for the folder itself.
pub fn bind_path(source: &str) -> std::result::Result<String, String> {
    match source.trim_end_matches('/') {
        "" | "." => Ok(String::new()),
        s => normalize(s),
    }
}

/// Reads a dotenv file (`.env`, an `env_file`): `KEY=value` lines, with
/// `export ` allowed before a key, `#` comments, single quotes taken
/// literally, double quotes with `\n`, `\"` and `\\` escapes, and a
/// trailing ` #comment` cut from unquoted values. A line with a name and
/// no `=` names a variable without a value (`None`). `path` names the file
/// in errors.
pub fn dotenv(path: &str, text: &str) -> Result<Vec<(String, Option<String>)>> {
    let mut unbounded = usize::MAX;
    dotenv_read(path, text, None, &mut unbounded)
}

/// [`dotenv`], with `${VAR}` in values (but single-quoted ones) filled as
/// compose v2 fills them: from the file's earlier variables, then from
/// `env`; the expansions count against `budget`.
pub fn dotenv_interpolated(
    path: &str,
    text: &str,
    env: &BTreeMap<String, String>,
    budget: &mut usize,
) -> Result<Vec<(String, Option<String>)>> {
    dotenv_read(path, text, Some(env), budget)
}

fn dotenv_read(
    path: &str,
    text: &str,
    env: Option<&BTreeMap<String, String>>,
    budget: &mut usize,
) -> Result<Vec<(String, Option<String>)>> {
    let mut scope: BTreeMap<String, String> = env.cloned().unwrap_or_default();
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let bad = |why: &str| Error::invalid("files", format!("{path} line {}: {why}", i + 1));
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim_start())),
            None => (line, None),
        };
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        {
            return Err(bad(&format!("{key:?} is not a variable name")));
        }
        let value = match value {
            None => None,
            Some(v) => {
                let (text, literal) = unquote(v).map_err(|why| bad(&why))?;
                if literal || env.is_none() {
                    Some(text)
                } else {
                    Some(
                        super::interpolate::interpolate_within(&text, &scope, budget)
                            .map_err(|why| bad(&why))?,
                    )
                }
            }
        };
        if let Some(v) = &value {
            scope.insert(key.to_string(), v.clone());
        }
        out.push((key.to_string(), value));
    }
    Ok(out)
}

/// A value without its quotes, and whether it is to be taken literally
/// (single-quoted).
fn unquote(v: &str) -> std::result::Result<(String, bool), String> {
    if let Some(rest) = v.strip_prefix('\'') {
        let end = rest.find('\'').ok_or("an unclosed single quote")?;
        return Ok((rest[..end].to_string(), true));
    }
    if let Some(rest) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        loop {
            match chars.next() {
                None => return Err("an unclosed double quote".into()),
                Some('"') => return Ok((out, false)),
                Some('\\') => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(c) => out.push(c),
                    None => return Err("an unclosed double quote".into()),
                },
                Some(c) => out.push(c),
            }
        }
    }
    let v = match v.find(" #") {
        Some(i) => &v[..i],
        None => v,
    };
    Ok((v.trim_end().to_string(), false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_project() {
        assert_eq!(normalize("./a/../b/.env").unwrap(), "b/.env");
        assert_eq!(normalize(".env").unwrap(), ".env");
        for bad in [
            "/etc/passwd",
            "../x",
            "a/../../x",
            "",
            ".",
            "a\u{0}b",
            "a\\b",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dotenv_as_compose_reads_it() {
        let got = dotenv(
            ".env",
            "# comment\n\nA=1\nexport B = two words \nC='lit $X # not a comment'\nD=\"line\\nnext \\\"q\\\"\"\nE=value # comment\nF\nG=\n",
        )
        .unwrap();
        let want: Vec<(String, Option<String>)> = [
            ("A", Some("1")),
            ("B", Some("two words")),
            ("C", Some("lit $X # not a comment")),
            ("D", Some("line\nnext \"q\"")),
            ("E", Some("value")),
            ("F", None),
            ("G", Some("")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
        .collect();
        assert_eq!(got, want);
        let e = dotenv("app.env", "OK=1\nbad name=2\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("app.env line 2"), "{e}");
        assert!(dotenv("x", "A=\"open\n").is_err());
    }

    #[test]
    fn dotenv_values_are_interpolated_but_single_quoted_ones() {
        let env: BTreeMap<String, String> = [("HOST".to_string(), "db".to_string())].into();
        let mut budget = 1 << 20;
        let got = dotenv_interpolated(
            "app.env",
            "PORT=5432\nURL=postgres://${HOST}:${PORT}/app\nRAW='${HOST}'\nQ=\"${MISSING:-x}\"\n",
            &env,
            &mut budget,
        )
        .unwrap();
        let v = |k: &str| {
            got.iter()
                .find(|(n, _)| n == k)
                .and_then(|(_, v)| v.clone())
        };
        assert_eq!(v("URL").as_deref(), Some("postgres://db:5432/app"));
        assert_eq!(v("RAW").as_deref(), Some("${HOST}"));
        assert_eq!(v("Q").as_deref(), Some("x"));
        let mut small = 4;
        assert!(
            dotenv_interpolated("a.env", "A=${HOST}${HOST}${HOST}\n", &env, &mut small).is_err()
        );
    }

    #[test]
    fn files_and_profiles_are_bounded() {
        let files: BTreeMap<String, String> = [("./.env".to_string(), "A=1".to_string())].into();
        let x = Extras::checked(&files, &["debug".into()]).unwrap();
        assert_eq!(x.file(".env"), Some("A=1"));
        assert_eq!(x.file("./x/../.env"), Some("A=1"));
        assert!(x.enables(&[]) && x.enables(&["debug".into()]) && !x.enables(&["tools".into()]));
        let all = Extras::checked(&BTreeMap::new(), &["*".into()]).unwrap();
        assert!(all.enables(&["tools".into()]));
        let twice: BTreeMap<String, String> = [
            ("a".to_string(), String::new()),
            ("./a".to_string(), String::new()),
        ]
        .into();
        assert!(Extras::checked(&twice, &[]).is_err());
        let big: BTreeMap<String, String> =
            [("a".to_string(), "x".repeat(MAX_FILE_BYTES + 1))].into();
        assert!(Extras::checked(&big, &[]).is_err());
        let many: BTreeMap<String, String> = (0..=MAX_FILES)
            .map(|i| (format!("f{i}"), String::new()))
            .collect();
        assert!(Extras::checked(&many, &[]).is_err());
        assert!(Extras::checked(&BTreeMap::new(), &["bad name".into()]).is_err());
        assert!(Extras::checked(&[("../x".to_string(), String::new())].into(), &[]).is_err());
    }
}
