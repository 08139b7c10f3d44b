//! Build projects and build records (pure): what a project defines (its
//! Dockerfile, context files and plugins), the checks on every name and
//! path a client sends, the Dockerfile instructions a build may not use
//! ([`check_dockerfile`]), the repositories a build may push to
//! ([`check_push`]), and the build context as a tar archive.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::Owner;

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
    /// The account (or `key:<prefix>`) that made the project: it sees and
    /// changes it, besides roles that reach every account's builds.
    /// Projects of earlier versions recorded none: those are the admins'.
    #[serde(default)]
    pub owner: String,
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
/// size and instructions ([`check_dockerfile`]), every path, every file's base64 and the total size. Returns the
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
    check_dockerfile(dockerfile)?;
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

/// What a build's `ADD` or `RUN` may not do: reach the network of the
/// engine's host. The engine fetches an `ADD` source that is a URL (or a
/// git repository) itself, from its host's network namespace, loopback
/// included, and `RUN --network=host` runs a step there; neither is
/// allowed. The error names the line.
///
/// The check reads the Dockerfile more widely than the engine does, so
/// that no reading of it the engine may take escapes the check: every
/// line whose first word is `ADD` or `RUN` (any case, after `ONBUILD`
/// too) is an instruction, even inside another's continuation; a line
/// continues after `\` or `` ` `` (either escape character); arguments
/// split at any whitespace and commas, quotes, brackets and escape
/// characters dropped. A source is remote when it holds `:` (a scheme,
/// `git@host:path`; context paths never do, see [`check_path`]), starts
/// with `git@` or `github.com/`, or names a `.git` repository; a source
/// with a variable (`$`) could expand to one and is refused too (`COPY`,
/// which never fetches, takes variables).
// Over 80 lines: one arm per Dockerfile instruction.
pub fn check_dockerfile(dockerfile: &str) -> Result<()> {
    let text = dockerfile.strip_prefix('\u{feff}').unwrap_or(dockerfile);
    let lines: Vec<&str> = text.lines().collect();
    let refuse = |line: usize, why: &str| -> Result<()> {
        Err(Error::invalid("dockerfile", format!("line {line}: {why}")))
    };
    // Lines inside another's continuation are read again from where they
    // start: bounded, so that a Dockerfile of nothing but continued `RUN`
    // lines costs no more than a few times its size.
    let mut budget = 16 * MAX_DOCKERFILE;
    for (i, raw) in lines.iter().enumerate() {
        let line = raw.trim_start();
        if line.starts_with('#') {
            continue;
        }
        let (mut word, mut rest) = first_word(line);
        if word.to_lowercase() == "onbuild" {
            (word, rest) = first_word(rest);
        }
        let instruction = word.to_lowercase();
        if instruction != "add" && instruction != "run" {
            continue;
        }
        let joined = continued(rest, &lines[i + 1..]);
        budget =
            match budget.checked_sub(joined.len()) {
                Some(left) => left,
                None => return refuse(
                    i + 1,
                    "too many ADD and RUN lines continue into each other to check the Dockerfile",
                ),
            };
        let tokens: Vec<String> = joined
            .split(|c: char| c.is_whitespace() || c == ',')
            .map(|t| {
                t.chars()
                    .filter(|c| !matches!(c, '"' | '\'' | '\\' | '`' | '[' | ']'))
                    .collect::<String>()
                    .to_lowercase()
            })
            .filter(|t| !t.is_empty())
            .collect();
        if instruction == "run" {
            for t in &tokens {
                if t.strip_prefix("--network=") == Some("host") {
                    return refuse(
                        i + 1,
                        "RUN --network=host is not allowed: the step would run on the engine host's network",
                    );
                }
                if t.strip_prefix("--security=") == Some("insecure") {
                    return refuse(
                        i + 1,
                        "RUN --security=insecure is not allowed: the step would run privileged on the engine's host",
                    );
                }
            }
            continue;
        }
        // ADD: flags first (`--chown=1:1`, `--checksum=…`), then the
        // sources, then the destination. In the shell form the last is the
        // destination, where a variable (`$HOME/app`) is fine; in the JSON
        // form every string counts, decoded (`\u0024` is a `$`).
        let args: Vec<String> = tokens
            .into_iter()
            .skip_while(|t| t.starts_with("--"))
            .collect();
        let json = joined.contains('[');
        let mut sources: Vec<String> = if json || args.len() < 2 {
            args.clone()
        } else {
            args[..args.len() - 1].to_vec()
        };
        if json {
            sources.extend(json_strings(&joined).into_iter().map(|s| s.to_lowercase()));
        }
        if args.iter().chain(&sources).any(|t| is_remote(t)) {
            return refuse(
                i + 1,
                "ADD of a remote source (URL) is not allowed: the build would fetch from the engine host's network; put the file in the build context",
            );
        }
        if sources.iter().any(|t| t.contains('$')) {
            return refuse(
                i + 1,
                "ADD of a source named by a variable is not allowed: it could expand to a URL the build would fetch from the engine host's network; use COPY",
            );
        }
    }
    Ok(())
}

/// The JSON string literals in `text`, decoded (those that decode).
fn json_strings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = None;
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        match (start, c) {
            (None, '"') => start = Some(at),
            (None, _) => {}
            (Some(_), _) if escaped => escaped = false,
            (Some(_), '\\') => escaped = true,
            (Some(from), '"') => {
                if let Ok(s) = serde_json::from_str::<String>(&text[from..=at]) {
                    out.push(s);
                }
                start = None;
            }
            (Some(_), _) => {}
        }
    }
    out
}

/// An instruction's first word and what follows it.
fn first_word(line: &str) -> (&str, &str) {
    let line = line.trim_start();
    match line.find(char::is_whitespace) {
        Some(at) => (&line[..at], &line[at..]),
        None => (line, ""),
    }
}

/// An instruction's arguments: `first` and, while a line ends with an
/// escape character (`\` or `` ` ``, whitespace after it allowed), the
/// lines after it, comment and blank lines among them skipped as the
/// engine skips them.
fn continued(first: &str, after: &[&str]) -> String {
    let mut out = String::new();
    let mut current = first;
    let mut next = after.iter();
    loop {
        let trimmed = current.trim_end();
        match trimmed.strip_suffix(['\\', '`']) {
            Some(body) => {
                out.push_str(body);
                out.push(' ');
            }
            None => {
                out.push_str(trimmed);
                return out;
            }
        }
        loop {
            let Some(line) = next.next() else {
                return out;
            };
            let t = line.trim_start();
            if !t.is_empty() && !t.starts_with('#') {
                current = line;
                break;
            }
        }
    }
}

/// Whether an `ADD` argument (lowercased, quotes dropped) names something
/// the engine fetches: a URL of any scheme or a git repository.
fn is_remote(arg: &str) -> bool {
    arg.contains(':')
        || arg.starts_with("git@")
        || arg.starts_with("github.com/")
        || arg.ends_with(".git")
        || arg.contains(".git#")
}

/// The repository a project's builds push to: `{Cluster}/{name}`.
pub fn target_repository(cluster: &str, name: &str) -> String {
    format!("{cluster}/{name}")
}

/// The registry namespace an account owns: its name (the registry's
/// names are lowercase; [`check_push`] compares ignoring ASCII case).
/// Service keys (`key:<prefix>`), the cluster's own owners (no name) and
/// a name equal to [`DEFAULT_CLUSTER`] (everyone's default) own none.
pub fn namespace(owner: &str) -> Option<&str> {
    if owner.is_empty() || owner.starts_with("key:") || owner.eq_ignore_ascii_case(DEFAULT_CLUSTER)
    {
        None
    } else {
        Some(owner)
    }
}

/// Whether a build for `owner` may push to `repository` (a build pushes
/// with the builder's credentials, which write anywhere): when the
/// owner's role writes the registry, or when the repository's first
/// segment is the owner's [`namespace`]. Refused as `Forbidden`, naming
/// the repository and the rule.
pub fn check_push(owner: &Owner, repository: &str) -> Result<()> {
    if owner.role.allows("registry", true) {
        return Ok(());
    }
    let first = repository.split('/').next().unwrap_or_default();
    let whose = match namespace(&owner.name) {
        Some(ns) if first.eq_ignore_ascii_case(ns) => return Ok(()),
        Some(ns) => format!(
            "{repository} is not in {}'s namespace ({}/...)",
            owner.name,
            ns.to_ascii_lowercase()
        ),
        None if owner.name.starts_with("key:") => "service keys have no namespace".to_string(),
        None => format!("{} has no namespace", display_name(&owner.name)),
    };
    Err(Error::Forbidden {
        reason: format!(
            "a build may not push to {repository}: builds push only to repositories their caller may write (role {} does not write the registry, and {whose})",
            owner.role.name
        ),
    })
}

fn display_name(name: &str) -> &str {
    if name.is_empty() {
        "the caller"
    } else {
        name
    }
}

/// The `Cluster` a project made by `owner` without one gets:
/// [`DEFAULT_CLUSTER`] when the owner may push there, else the owner's
/// namespace (when it is a valid `Cluster`), so that the project builds
/// as made; else [`DEFAULT_CLUSTER`] all the same (its builds are
/// refused until a `Cluster` the owner may push to is saved).
pub fn default_cluster(owner: &Owner, name: &str) -> String {
    if check_push(owner, &target_repository(DEFAULT_CLUSTER, name)).is_ok() {
        return DEFAULT_CLUSTER.to_string();
    }
    match namespace(&owner.name).map(str::to_ascii_lowercase) {
        Some(ns) if check_cluster(&ns).is_ok() => ns,
        _ => DEFAULT_CLUSTER.to_string(),
    }
}

/// The name a build's image goes by on its engine until it is pushed
/// (then the target's): one of the build's own, so that a build never
/// replaces what the engine holds under the target's name unless it
/// pushes it. A one-component name resolves to Docker Hub's `library/`,
/// where no one else can publish it.
pub fn build_image_name(build_id: &str) -> String {
    format!("shipcore-build:{build_id}")
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
    let fail = |e| Error::io("cannot make the build context", e);
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
    fn remote_add_sources_and_host_network_runs_are_refused_by_line() {
        const URL: &str = "ADD of a remote source (URL) is not allowed: the build would fetch from the engine host's network; put the file in the build context";
        // (Dockerfile, the line refused, or None when it is fine)
        let table: &[(&str, Option<usize>)] = &[
            ("FROM app:1\nADD http://127.0.0.1:9/x /x\n", Some(2)),
            ("FROM app:1\nadd https://example.com/a.tgz /a\n", Some(2)),
            ("FROM app:1\nAdd ftp://host/file /f\n", Some(2)),
            ("FROM app:1\nADD --chown=1:1 --chmod=644 http://127.0.0.1:9/x /x\n", Some(2)),
            ("FROM app:1\nADD --checksum=sha256:00 http://h/x /x\n", Some(2)),
            ("FROM app:1\nADD [\"http://127.0.0.1:9/x\", \"/x\"]\n", Some(2)),
            ("FROM app:1\nADD --chown=1 [\"http://127.0.0.1:9/x\",\"/x\"]\n", Some(2)),
            // A JSON escape of `:`, and of `$`.
            ("FROM app:1\nADD [\"http\\u003a//h/x\", \"/x\"]\n", Some(2)),
            ("FROM app:1\nARG U=http://h/x\nADD [\"\\u0024U\", \"/x\"]\n", Some(3)),
            // Continued lines, a comment and a blank line among them.
            ("FROM app:1\nRUN true\nADD \\\n  http://127.0.0.1:9/x \\\n  /x\n", Some(3)),
            ("FROM app:1\nADD \\\n# note\n\n  http://127.0.0.1:9/x /x\n", Some(2)),
            // Whitespace after the backslash, and the other escape character.
            ("# escape=`\nFROM app:1\nADD `\n http://h/x /x\n", Some(3)),
            ("FROM app:1\nADD \\ \t\n http://h/x /x\n", Some(2)),
            // A line the engine may read as an instruction though it
            // follows a continuation (`\` + no-break space ends it there).
            ("FROM app:1\nRUN echo \\\u{a0}\nADD http://h/x /x\n", Some(3)),
            ("  \tADD http://h/x /x\n", Some(1)),
            ("\u{feff}ADD http://h/x /x\n", Some(1)),
            // Quotes and escapes the engine takes off.
            ("FROM app:1\nADD \"http://h/x\" /x\n", Some(2)),
            ("FROM app:1\nADD h\\ttp\\://h/x /x\n", Some(2)),
            // Git sources.
            ("FROM app:1\nADD git@github.com:me/repo.git /src\n", Some(2)),
            ("FROM app:1\nADD github.com/me/repo /src\n", Some(2)),
            ("FROM app:1\nADD repo.git /src\n", Some(2)),
            ("FROM app:1\nADD https://github.com/me/repo.git#main /src\n", Some(2)),
            // A variable could expand to a URL.
            ("FROM app:1\nARG U=http://h/x\nADD $U /x\n", Some(3)),
            ("FROM app:1\nADD ${U} /x\n", Some(2)),
            // Triggers run in a later build.
            ("FROM app:1\nONBUILD ADD http://h/x /x\n", Some(2)),
            ("FROM app:1\nonbuild run --network=host true\n", Some(2)),
            // The host's network for a step.
            ("FROM app:1\nRUN --network=host wget -q http://127.0.0.1:9/\n", Some(2)),
            ("FROM app:1\nRUN --mount=type=cache,target=/c --network=\"host\" true\n", Some(2)),
            ("FROM app:1\nRUN --security=insecure true\n", Some(2)),
            // Fine: context files, a variable destination, COPY of any kind,
            // other networks, URLs in comments and in RUN.
            ("FROM app:1\nADD app.tar.gz /srv/\nADD --chown=1000:1000 a b /dst/\n", None),
            ("FROM app:1\nADD [\"a.txt\", \"/x/\"]\n", None),
            ("FROM app:1\nADD site/ $HOME/site/\n", None),
            ("FROM golang:1 AS b\nFROM app:1\nCOPY --from=b /a /a\nCOPY --from=busybox:1 /bin/sh /sh\n", None),
            ("FROM app:1\nCOPY $SRC /x\n", None),
            ("FROM app:1\n# ADD http://h/x /x\nRUN wget http://example.com/x\n", None),
            ("FROM app:1\nRUN --network=none true\nRUN --network=default true\n", None),
            ("FROM app:1\nLABEL url=http://example.com\n", None),
        ];
        for (dockerfile, refused) in table {
            let got = check_dockerfile(dockerfile);
            match refused {
                None => assert!(got.is_ok(), "{dockerfile:?}: {got:?}"),
                Some(line) => {
                    let e = got.expect_err(dockerfile).to_string();
                    assert!(
                        e.starts_with(&format!("invalid dockerfile: line {line}: ")),
                        "{dockerfile:?}: {e}"
                    );
                }
            }
        }
        // Continued lines are read again from every ADD or RUN among them:
        // boundedly.
        let many =
            "FROM app:1\n".to_string() + &"RUN x \\\n".repeat(MAX_DOCKERFILE / 8) + "RUN x\n";
        let started = std::time::Instant::now();
        let e = check_dockerfile(&many).unwrap_err().to_string();
        assert!(e.contains("too many ADD and RUN lines"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let long_run =
            "FROM app:1\nRUN a \\\n".to_string() + &"  && b \\\n".repeat(4_000) + "  && c\n";
        check_dockerfile(&long_run).unwrap();
        // The message, whole; and save's check runs it.
        let e = check_definition(
            "FROM app:1\nADD http://127.0.0.1:9/x /x\n",
            &BTreeMap::new(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, format!("invalid dockerfile: line 2: {URL}"));
        let e = check_dockerfile("FROM app:1\nRUN --network=host true\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2: RUN --network=host is not allowed"),
            "{e}"
        );
    }

    #[test]
    fn builds_push_where_their_caller_may_write() {
        use crate::model::Role;
        let owner = |name: &str, role: &str, perms: &[&str]| Owner {
            name: name.into(),
            role: Role::new(role, perms).unwrap(),
        };
        let bob = owner("bob", "user", &[]);
        let carol = owner("Carol", "user", &[]);
        let admin = owner("admin", "admin", &[]);
        let pusher = owner("ci", "ci", &["builds:rw", "registry:rw"]);
        let key = owner("key:abcdef", "user", &[]);
        let odd = owner("default_cluster", "user", &[]);
        // (owner, repository, allowed)
        for (who, repo, ok) in [
            (&bob, "bob/app", true),
            (&bob, "BOB/app", true),
            (&bob, "team/app", false),
            (&bob, "bobby/app", false),
            (&bob, "default_cluster/app", false),
            (&carol, "carol/app", true),
            (&carol, "bob/app", false),
            (&admin, "team/app", true),
            (&pusher, "team/app", true),
            (&key, "key/app", false),
            (&key, "default_cluster/app", false),
            (&odd, "default_cluster/app", false),
            (&Owner::unknown(), "a/b", false),
        ] {
            assert_eq!(check_push(who, repo).is_ok(), ok, "{} to {repo}", who.name);
        }
        let e = check_push(&bob, "team/app").unwrap_err().to_string();
        assert!(
            e.starts_with("forbidden: a build may not push to team/app")
                && e.contains("role user does not write the registry")
                && e.contains("not in bob's namespace (bob/...)"),
            "{e}"
        );
        let e = check_push(&key, "team/app").unwrap_err().to_string();
        assert!(e.contains("service keys have no namespace"), "{e}");
        // A project made without a Cluster goes where its maker may push.
        assert_eq!(default_cluster(&admin, "web"), DEFAULT_CLUSTER);
        assert_eq!(default_cluster(&bob, "web"), "bob");
        assert_eq!(default_cluster(&carol, "web"), "carol");
        assert_eq!(default_cluster(&key, "web"), DEFAULT_CLUSTER);
        assert_eq!(
            default_cluster(&owner("a b@c", "user", &[]), "web"),
            DEFAULT_CLUSTER
        );
        assert_eq!(build_image_name("web-3"), "shipcore-build:web-3");
        crate::registry::check_tag("web.2_x-10").unwrap();
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
