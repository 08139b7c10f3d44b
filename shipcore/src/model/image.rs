//! Image references and digests, parsed once by the grammar of the OCI
//! distribution spec (and Docker's rule for telling a registry host from a
//! repository path), so the cluster, the hub webhook, the Docker backend and
//! the registry agree on what `127.0.0.1:5000/lib/app/busybox:1` or
//! `app@sha256:…` name.
//!
//! Names are validated here before anything else touches them: a repository
//! path is lower-case components of `[a-z0-9]` joined by `.`, `_`, `__` or
//! dashes, separated by `/` — no `..`, no empty component, no absolute path.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Longest image name (registry host and path) accepted, as Docker's.
pub const MAX_NAME: usize = 255;

/// A content digest, `algorithm:hex` (`sha256:` followed by 64 lower-case
/// hex digits for the only algorithm registries must support).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest {
    algorithm: String,
    hex: String,
}

impl Digest {
    /// Parses `algorithm:encoded`. `sha256` and `sha512` are checked for their
    /// length; other algorithms only for the grammar.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: &str| Error::invalid("digest", format!("{s:?}: {why}"));
        let (algorithm, hex) = s
            .split_once(':')
            .ok_or_else(|| bad("must be algorithm:hex"))?;
        let alg_ok = !algorithm.is_empty()
            && algorithm.split(['+', '.', '_', '-']).all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if !alg_ok {
            return Err(bad("the algorithm is not valid"));
        }
        let want = match algorithm {
            "sha256" => Some(64),
            "sha512" => Some(128),
            _ => None,
        };
        let hex_ok = match want {
            Some(n) => {
                hex.len() == n
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            }
            None => {
                !hex.is_empty()
                    && hex.len() <= 1024
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b))
            }
        };
        if !hex_ok {
            return Err(bad(match want {
                Some(64) => "a sha256 digest is 64 lower-case hex digits",
                Some(_) => "a sha512 digest is 128 lower-case hex digits",
                None => "the encoded part is not valid",
            }));
        }
        Ok(Digest {
            algorithm: algorithm.to_string(),
            hex: hex.to_string(),
        })
    }

    /// A sha256 digest from its 32 bytes.
    pub fn sha256(bytes: &[u8; 32]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut hex = String::with_capacity(64);
        for b in bytes {
            hex.push(char::from(HEX[usize::from(b >> 4)]));
            hex.push(char::from(HEX[usize::from(b & 15)]));
        }
        Digest {
            algorithm: "sha256".into(),
            hex,
        }
    }

    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The encoded part: only characters safe in a file name.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

impl TryFrom<String> for Digest {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Digest::parse(&s)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.to_string()
    }
}

/// Checks a repository path (`lib/app/busybox`): `/`-separated components of
/// lower-case letters and digits joined by `.`, `_`, `__` or dashes.
pub fn validate_repository(path: &str) -> Result<()> {
    let bad = |why: String| Error::invalid("repository", format!("{path:?}: {why}"));
    if path.is_empty() {
        return Err(bad("is empty".into()));
    }
    if path.len() > MAX_NAME {
        return Err(bad(format!("is longer than {MAX_NAME} characters")));
    }
    for component in path.split('/') {
        if component.is_empty() {
            return Err(bad("has an empty path component".into()));
        }
        if let Some(c) = component.chars().find(|c| {
            !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        }) {
            return Err(bad(format!(
                "may hold only lower-case letters, digits, '.', '_', '-' and '/', found {c:?}"
            )));
        }
        let bytes = component.as_bytes();
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
            return Err(bad(format!(
                "component {component:?} must start and end with a letter or digit"
            )));
        }
        // Separators: one '.', one or two '_', or any run of '-'.
        let mut i = 0;
        while i < bytes.len() {
            if alnum(bytes[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && !alnum(bytes[i]) {
                i += 1;
            }
            let sep = &component[start..i];
            let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
            if !ok {
                return Err(bad(format!("{sep:?} is not a separator")));
            }
        }
    }
    Ok(())
}

/// Checks a tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn validate_tag(tag: &str) -> Result<()> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_alphanumeric() || b == b'_' || (i > 0 && (b == b'.' || b == b'-'))
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "tag",
            format!("{tag:?}: 1 to 128 of letters, digits, '_', '.' and '-', not starting with '.' or '-'"),
        ))
    }
}

/// An image reference: `[registry/]repository[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// The registry host (`127.0.0.1:5000`, `registry.example.com`), when
    /// the reference names one.
    pub registry: Option<String>,
    /// The repository path in that registry (`lib/app/busybox`).
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl ImageRef {
    /// Parses a reference. The first path component is a registry host when
    /// it holds a `.` or a `:` or is `localhost` (Docker's rule).
    pub fn parse(reference: &str) -> Result<Self> {
        let field = |why: String| Error::invalid("image", format!("{reference:?}: {why}"));
        if reference.is_empty() {
            return Err(field("an image name is required".into()));
        }
        let (rest, digest) = match reference.split_once('@') {
            Some((rest, d)) => (
                rest,
                Some(Digest::parse(d).map_err(|e| field(e.to_string()))?),
            ),
            None => (reference, None),
        };
        let (name, tag) = match rest.rsplit_once(':') {
            // A colon after the last '/' starts the tag; one before it
            // belongs to the registry's port.
            Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
            _ => (rest, None),
        };
        if let Some(tag) = tag {
            validate_tag(tag).map_err(|e| field(e.to_string()))?;
        }
        if name.len() > MAX_NAME {
            return Err(field(format!(
                "the name is longer than {MAX_NAME} characters"
            )));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                validate_registry(first).map_err(|e| field(e.to_string()))?;
                (Some(first.to_string()), path)
            }
            _ => (None, name),
        };
        validate_repository(repository).map_err(|e| field(e.to_string()))?;
        Ok(ImageRef {
            registry,
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// `registry/repository`, without tag or digest: what `docker pull`
    /// is given as the image to pull from.
    pub fn name(&self) -> String {
        match &self.registry {
            Some(r) => format!("{r}/{}", self.repository),
            None => self.repository.clone(),
        }
    }

    /// The last path component (`busybox` of `127.0.0.1:5000/lib/busybox:1`).
    pub fn base(&self) -> &str {
        self.repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository)
    }

    /// The tag, `latest` when neither a tag nor a digest is given; `None`
    /// for a reference by digest alone.
    pub fn tag_or_default(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(t), _) => Some(t),
            (None, Some(_)) => None,
            (None, None) => Some("latest"),
        }
    }

    /// Whether both name the same repository: Docker Hub's implicit forms
    /// (`busybox`, `library/busybox`, `docker.io/library/busybox`) are one.
    pub fn same_repository(&self, other: &ImageRef) -> bool {
        self.canonical() == other.canonical()
    }

    fn canonical(&self) -> (&str, String) {
        let hub = matches!(
            self.registry.as_deref(),
            None | Some("docker.io") | Some("index.docker.io") | Some("registry-1.docker.io")
        );
        if hub {
            let path = if self.repository.contains('/') {
                self.repository.clone()
            } else {
                format!("library/{}", self.repository)
            };
            ("docker.io", path)
        } else {
            (
                self.registry.as_deref().unwrap_or(""),
                self.repository.clone(),
            )
        }
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for ImageRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ImageRef::parse(s)
    }
}

fn validate_registry(host: &str) -> Result<()> {
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host, None),
    };
    let name_ok = !name.is_empty()
        && name
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    if name_ok && port_ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "registry",
            format!("{host:?} is not a host[:port]"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn references() {
        // (reference, registry, repository, tag, has a digest)
        type Case<'a> = (&'a str, Option<&'a str>, &'a str, Option<&'a str>, bool);
        let cases: &[Case] = &[
            ("busybox", None, "busybox", None, false),
            ("busybox:1.36", None, "busybox", Some("1.36"), false),
            ("library/busybox", None, "library/busybox", None, false),
            (
                "127.0.0.1:5000/lib/app/busybox:1",
                Some("127.0.0.1:5000"),
                "lib/app/busybox",
                Some("1"),
                false,
            ),
            ("localhost/app", Some("localhost"), "app", None, false),
            (
                "registry.example.com/team/app",
                Some("registry.example.com"),
                "team/app",
                None,
                false,
            ),
            (
                "app:v2@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                None,
                "app",
                Some("v2"),
                true,
            ),
        ];
        for (input, registry, repo, tag, digest) in cases {
            let r = ImageRef::parse(input).unwrap();
            assert_eq!(r.registry.as_deref(), *registry, "{input}");
            assert_eq!(r.repository, *repo, "{input}");
            assert_eq!(r.tag.as_deref(), *tag, "{input}");
            assert_eq!(r.digest.is_some(), *digest, "{input}");
            assert_eq!(r.to_string(), *input, "round trip");
        }
        let by_digest = ImageRef::parse(&format!("app@{D}")).unwrap();
        assert_eq!(by_digest.tag_or_default(), None);
        assert_eq!(by_digest.name(), "app");
        assert_eq!(
            ImageRef::parse("app").unwrap().tag_or_default(),
            Some("latest")
        );
        assert_eq!(ImageRef::parse("127.0.0.1:5000/a/b:1").unwrap().base(), "b");
    }

    #[test]
    fn bad_references_are_refused() {
        for bad in [
            "",
            "Busybox",
            "a//b",
            "/abs",
            "../etc",
            "a/../b",
            "app:",
            "app:-x",
            "app@sha256:abc",
            "app@md5",
            "a b",
            "app:tag/x",
            "host:99999/app",
            "a/%2e%2e/b",
            "a-/b",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn same_repository() {
        let r = |s: &str| ImageRef::parse(s).unwrap();
        assert!(r("busybox").same_repository(&r("docker.io/library/busybox:1")));
        assert!(r("busybox:1").same_repository(&r("library/busybox")));
        assert!(!r("busybox").same_repository(&r("127.0.0.1:5000/busybox")));
        assert!(r("127.0.0.1:5000/a/b:1").same_repository(&r(&format!("127.0.0.1:5000/a/b@{D}"))));
    }

    #[test]
    fn digests() {
        assert_eq!(Digest::parse(D).unwrap().to_string(), D);
        assert_eq!(Digest::sha256(&[0xab; 32]).hex(), "ab".repeat(32));
        for bad in [
            "sha256:ABC",
            "sha256:../../x",
            ":abc",
            "sha256",
            "SHA256:00",
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
    }
}

/// A platform as images name theirs (`linux/amd64`, `linux/arm/v7`), with
/// the architecture in the OCI spelling (`x86_64` is `amd64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
}

impl Platform {
    /// `os[/arch[/variant]]`; the variant is not compared. `None` when it
    /// is not one.
    pub fn parse(text: &str) -> Option<Platform> {
        let mut parts = text.split('/');
        let os = parts.next().filter(|o| !o.is_empty())?;
        let arch = parts.next().unwrap_or_default();
        let _variant = parts.next();
        let name_ok = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if parts.next().is_some() || !name_ok(os) || !name_ok(arch) {
            return None;
        }
        Some(Platform {
            os: os.to_ascii_lowercase(),
            arch: Platform::oci_arch(arch),
        })
    }

    /// An engine's architecture as `uname` gives it (`x86_64`) in the OCI
    /// spelling (`amd64`).
    pub fn oci_arch(arch: &str) -> String {
        match arch.to_ascii_lowercase().as_str() {
            "x86_64" | "x86-64" => "amd64".into(),
            "aarch64" => "arm64".into(),
            "armv7l" | "armv6l" | "armhf" => "arm".into(),
            "i386" | "i686" => "386".into(),
            other => other.to_string(),
        }
    }

    /// Whether an engine of `os` and `arch` (as its info says) runs it; an
    /// empty architecture here is any.
    pub fn runs_on(&self, os: &str, arch: &str) -> bool {
        self.os.eq_ignore_ascii_case(os)
            && (self.arch.is_empty() || self.arch == Platform::oci_arch(arch))
    }
}

#[cfg(test)]
mod platform_tests {
    use super::Platform;

    #[test]
    fn platforms_as_images_and_engines_name_them() {
        let p = Platform::parse("linux/amd64").unwrap();
        assert!(p.runs_on("linux", "x86_64"));
        assert!(!p.runs_on("linux", "aarch64"));
        assert!(Platform::parse("linux/arm64/v8")
            .unwrap()
            .runs_on("linux", "aarch64"));
        assert!(Platform::parse("linux").unwrap().runs_on("linux", "s390x"));
        assert!(!Platform::parse("windows/amd64")
            .unwrap()
            .runs_on("linux", "x86_64"));
        for bad in ["", "/amd64", "linux/amd64/v1/x", "linux/$(x)"] {
            assert!(Platform::parse(bad).is_none(), "{bad}");
        }
    }
}
