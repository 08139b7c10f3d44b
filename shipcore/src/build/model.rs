//! Build projects and build records (pure): what a project defines (its
//! Dockerfile, context files and plugins), the checks on every name and
//! path a client sends, and the build context as a tar archive.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The `Cluster` a project builds for when it names none (the seed's
/// Harbor example shows `default_cluster/myweb`).
pub const DEFAULT_CLUSTER: &str = "default_cluster";
/// Largest Dockerfile accepted.
pub const MAX_DOCKERFILE: usize = 64 * 1024;
/// Largest sum of a project's context files, decoded (a project is one
/// document of the state store, and a document holds at most 1 MiB; the
/// files travel in base64).
pub const MAX_CONTEXT: usize = 512 * 1024;
/// Most context files a project may hold.
pub const MAX_FILES: usize = 1_000;
/// Longest project name (the registry's repository grammar allows more;
/// names also become folder-like registry paths).
pub const MAX_NAME: usize = 64;
/// Most plugins a project may use.
pub const MAX_PLUGINS: usize = 16;

/// How a project's Dockerfile is given (`DefineDockerFileType`).
pub const DEFINE: &str = "define";

/// A plugin a project uses, with its settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PluginRef {
    pub name: String,
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
}

/// A build project as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BuildProject {
    pub name: String,
    pub creator: String,
    pub create_time: String,
    pub last_modify_time: String,
    pub last_modify_operator: String,
    /// The registry namespace the image goes to (`{Cluster}/{name}:{tag}`);
    /// engines labelled with it take the project's builds.
    pub cluster: String,
    pub define_dockerfile_type: String,
    /// The Dockerfile text.
    pub dockerfile: String,
    /// Context files: relative path → base64 content.
    pub files: BTreeMap<String, String>,
    pub plugins: Vec<PluginRef>,
}

/// Where a build is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl BuildStatus {
    /// Whether the build has ended.
    pub fn ended(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for BuildStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One build of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRecord {
    /// `{project}-{n}`, n counting the project's builds from 1.
    pub id: String,
    pub project: String,
    pub tag: String,
    /// The image's full name in the registry (`host/{Cluster}/{project}:{tag}`).
    pub image: String,
    pub operator: String,
    pub status: BuildStatus,
    pub queued: String,
    pub started: Option<String>,
    pub ended: Option<String>,
    /// The engine the build ran on.
    pub engine: Option<String>,
    /// The pushed manifest's digest, once succeeded.
    pub digest: Option<String>,
    /// Why it failed or was cancelled.
    pub reason: Option<String>,
    /// The sha256 of the build context (what was built).
    pub source_digest: String,
}

/// Characters a project name may hold besides lowercase letters and digits
/// (the registry's path-component grammar).
const NAME_SEPARATORS: [char; 3] = ['.', '_', '-'];

/// Checks a project name: lowercase letters, digits and `.`, `_`, `-`
/// inside; the first character that is not names the error, as the seed
/// shows (`projectName contains special char: *`).
pub fn check_name(field: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if name.len() > MAX_NAME {
        return Err(Error::invalid(
            field,
            format!("longer than {MAX_NAME} characters"),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || NAME_SEPARATORS.contains(c)))
    {
        let shown = if c.is_control() {
            format!("{:?}", c)
        } else {
            c.to_string()
        };
        let hint = if c.is_ascii_uppercase() {
            " (names are lowercase)"
        } else {
            ""
        };
        return Err(Error::invalid(
            field,
            format!("{field} contains special char: {shown}{hint}"),
        ));
    }
    let first = name.chars().next().unwrap_or('-');
    let last = name.chars().last().unwrap_or('-');
    if NAME_SEPARATORS.contains(&first) || NAME_SEPARATORS.contains(&last) {
        return Err(Error::invalid(
            field,
            "must start and end with a letter or digit",
        ));
    }
    Ok(())
}

/// Checks a `Cluster` (a registry namespace: the same grammar as names).
pub fn check_cluster(cluster: &str) -> Result<()> {
    check_name("Cluster", cluster)
}

/// Checks an image tag (the registry's tag grammar).
pub use crate::registry::check_tag;

/// Checks a context file's path: relative, forward slashes, no `.` or `..`
/// components, no empty components, printable. The error names the path.
pub fn check_path(path: &str) -> Result<()> {
    let bad = |why: &str| Error::invalid("files", format!("{path:?}: {why}"));
    if path.is_empty() {
        return Err(bad("an empty path"));
    }
    if path.len() > 255 {
        return Err(bad("longer than 255 bytes"));
    }
    if path.starts_with('/') || path.starts_with('\\') || path.contains(':') {
        return Err(bad("an absolute path"));
    }
    if path.chars().any(|c| c.is_control() || c == '\\') {
        return Err(bad("control characters or backslashes"));
    }
    for part in path.split('/') {
        match part {
            "" => return Err(bad("an empty path component")),
            "." | ".." => return Err(bad("escapes the build context")),
            _ => {}
        }
    }
    Ok(())
}

/// A project's definition as `save` sends it, checked: the Dockerfile's
/// size, every path, every file's base64 and the total size. Returns the
/// decoded files.
pub fn check_definition(
    dockerfile: &str,
    files: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Vec<u8>>> {
    use base64::Engine as _;
    if dockerfile.len() > MAX_DOCKERFILE {
        return Err(Error::invalid(
            "dockerfile",
            format!(
                "{} bytes, more than the {MAX_DOCKERFILE} allowed",
                dockerfile.len()
            ),
        ));
    }
    if files.len() > MAX_FILES {
        return Err(Error::invalid(
            "files",
            format!("{} files, more than the {MAX_FILES} allowed", files.len()),
        ));
    }
    let mut decoded = BTreeMap::new();
    let mut total = 0usize;
    for (path, content) in files {
        check_path(path)?;
        if path == "Dockerfile" {
            return Err(Error::invalid(
                "files",
                "\"Dockerfile\": give the Dockerfile as `dockerfile`",
            ));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(content)
            .map_err(|e| Error::invalid("files", format!("{path:?}: not base64: {e}")))?;
        total += bytes.len();
        if total > MAX_CONTEXT {
            return Err(Error::invalid(
                "files",
                format!("more than the {MAX_CONTEXT} bytes allowed in all"),
            ));
        }
        decoded.insert(path.clone(), bytes);
    }
    // A file whose path is another's folder cannot be in one context.
    for path in decoded.keys() {
        let mut prefix = String::new();
        for part in path
            .split('/')
            .collect::<Vec<_>>()
            .iter()
            .rev()
            .skip(1)
            .rev()
        {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if decoded.contains_key(&prefix) {
                return Err(Error::invalid(
                    "files",
                    format!("{prefix:?} is a file and a folder of {path:?}"),
                ));
            }
        }
    }
    Ok(decoded)
}

/// The build context: the Dockerfile and the files, as a tar archive (plain
/// files, mode 0644, no links: nothing in it points outside).
pub fn context_tar(dockerfile: &str, files: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>> {
    let mut out = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8]| -> std::io::Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mtime(0);
        out.append_data(&mut h, path, data)
    };
    let fail = |e: std::io::Error| Error::System {
        reason: format!("cannot make the build context: {e}"),
    };
    add("Dockerfile", dockerfile.as_bytes()).map_err(fail)?;
    for (path, data) in files {
        add(path, data).map_err(fail)?;
    }
    out.into_inner().map_err(fail)
}

/// The base images a Dockerfile builds `FROM` (stage names that a later
/// `FROM` reuses are not images; `scratch` is none). Each with the line it
/// is on.
pub fn base_images(dockerfile: &str) -> Vec<(usize, String)> {
    let mut stages: Vec<String> = Vec::new();
    let mut images = Vec::new();
    for (i, line) in logical_lines(dockerfile) {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        if !first.eq_ignore_ascii_case("FROM") {
            continue;
        }
        let rest: Vec<&str> = words.filter(|w| !w.starts_with("--")).collect();
        let Some(image) = rest.first() else { continue };
        let lower = image.to_ascii_lowercase();
        let is_stage = stages.contains(&lower);
        if let (Some(kw), Some(name)) = (rest.get(1), rest.get(2)) {
            if kw.eq_ignore_ascii_case("AS") {
                stages.push(name.to_ascii_lowercase());
            }
        }
        if lower == "scratch" || is_stage {
            continue;
        }
        images.push((i, image.to_string()));
    }
    images
}

/// The Dockerfile's lines joined over trailing backslashes, comments and
/// blank lines left out; each with its first line's number (from 1).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if current.is_none() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        let (start, mut acc) = current.take().unwrap_or((i + 1, String::new()));
        if let Some(cont) = line.strip_suffix('\\') {
            acc.push_str(cont);
            acc.push(' ');
            current = Some((start, acc));
        } else {
            acc.push_str(line);
            out.push((start, acc));
        }
    }
    if let Some(c) = current {
        out.push(c);
    }
    out
}

/// The tag an image reference names, if any (`busybox:1.36` → `1.36`,
/// `host:5000/a/b` → none, `a@sha256:…` → the digest counts as pinned).
pub fn image_tag(image: &str) -> Option<&str> {
    if image.contains('@') {
        return Some("@digest");
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split_once(':').map(|(_, t)| t)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_name_the_offending_character() {
        check_name("projectName", "myweb").unwrap();
        check_name("projectName", "my-web.2_x").unwrap();
        for (name, want) in [
            ("a*b", "special char: *"),
            ("my web", "special char:  "),
            ("MyWeb", "special char: M (names are lowercase)"),
            ("a/b", "special char: /"),
            ("<script>", "special char: <"),
            ("-a", "start and end"),
            ("", "empty"),
        ] {
            let e = check_name("projectName", name).unwrap_err().to_string();
            assert!(e.contains(want), "{name}: {e}");
        }
        assert!(check_name("projectName", &"a".repeat(MAX_NAME + 1)).is_err());
    }

    #[test]
    fn paths_that_leave_the_context_are_refused_by_name() {
        for ok in ["a.txt", "src/main.rs", "a/b/c", ".env"] {
            check_path(ok).unwrap();
        }
        for bad in [
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a\\b",
            "C:/x",
            "",
            "a/\u{0}b",
        ] {
            let e = check_path(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }

    #[test]
    fn definitions_are_checked_and_become_a_tar_context() {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let files = BTreeMap::from([
            ("app/hello.txt".to_string(), b64("hello")),
            ("run.sh".to_string(), b64("echo hi")),
        ]);
        let decoded = check_definition("FROM scratch\nCOPY . /\n", &files).unwrap();
        let tar = context_tar("FROM scratch\nCOPY . /\n", &decoded).unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let mut seen = Vec::new();
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let mut body = String::new();
            std::io::Read::read_to_string(&mut e, &mut body).unwrap();
            seen.push((e.path().unwrap().display().to_string(), body));
        }
        assert_eq!(
            seen,
            [
                (
                    "Dockerfile".to_string(),
                    "FROM scratch\nCOPY . /\n".to_string()
                ),
                ("app/hello.txt".to_string(), "hello".to_string()),
                ("run.sh".to_string(), "echo hi".to_string()),
            ]
        );
        let bad = BTreeMap::from([("x".to_string(), "!!!".to_string())]);
        assert!(check_definition("", &bad)
            .unwrap_err()
            .to_string()
            .contains("not base64"));
        let clash = BTreeMap::from([("a".to_string(), b64("1")), ("a/b".to_string(), b64("2"))]);
        assert!(check_definition("", &clash).is_err());
        assert!(check_definition(&"#".repeat(MAX_DOCKERFILE + 1), &BTreeMap::new()).is_err());
        let big = BTreeMap::from([("big".to_string(), b64(&"x".repeat(MAX_CONTEXT + 1)))]);
        assert!(check_definition("", &big).is_err());
    }

    #[test]
    fn base_images_skip_scratch_and_stages() {
        let df = "# comment\nFROM --platform=linux/amd64 golang:1.22 AS build\nRUN x \\\n  && y\nFROM build AS test\nFROM scratch\nCOPY --from=build /a /a\nfrom busybox\n";
        assert_eq!(
            base_images(df),
            [(2, "golang:1.22".to_string()), (8, "busybox".to_string())]
        );
        assert_eq!(image_tag("busybox"), None);
        assert_eq!(image_tag("busybox:latest"), Some("latest"));
        assert_eq!(image_tag("127.0.0.1:5000/a/b"), None);
        assert_eq!(image_tag("127.0.0.1:5000/a/b:1"), Some("1"));
        assert_eq!(image_tag("a@sha256:00"), Some("@digest"));
    }
}
