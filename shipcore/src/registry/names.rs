//! Names the registry accepts, checked before anything touches the file
//! system or the store: repository names (the OCI distribution grammar),
//! tags, and digests (parsed into their parts, never joined into a path as
//! given).

use std::fmt;

use crate::error::{Error, RegistrySubject, Result};

/// Longest repository name (the distribution spec's practical limit).
pub const MAX_REPOSITORY: usize = 255;

/// A repository name: `component(/component)*`, each component
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Repository(String);

impl Repository {
    pub fn parse(name: &str) -> Result<Self> {
        let bad = |why: String| Error::registry_invalid(RegistrySubject::Repository, why);
        if name.is_empty() || name.len() > MAX_REPOSITORY {
            return Err(bad(format!(
                "must be 1 to {MAX_REPOSITORY} characters, got {}",
                name.len()
            )));
        }
        for component in name.split('/') {
            if !component_ok(component) {
                return Err(bad(format!(
                    "{name:?}: each /-separated part is lowercase letters and digits, joined by '.', '_', '__' or dashes (got {component:?})"
                )));
            }
        }
        Ok(Repository(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first component (the Harbor browse API's project).
    pub fn project(&self) -> &str {
        self.0.split('/').next().unwrap_or_default()
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn component_ok(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator: '.', '_', '__' or a run of '-', between alphanumerics.
        let start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || i >= b.len() || !alnum(b[i]) {
            return false;
        }
    }
    true
}

/// What the parsers of this module take, as the OpenAPI document states it
/// (ECMA regular expressions): one component of a repository name (a
/// client sends a name of several, `/`-separated, unescaped in the path,
/// beyond what OpenAPI's path templates say), a tag, a digest, and a
/// manifest reference (a tag or a digest).
pub const COMPONENT_PATTERN: &str = "^[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*$";
pub const REPOSITORY_PATTERN: &str =
    "^[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*$";
pub const TAG_PATTERN: &str = "^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$";
pub const DIGEST_PATTERN: &str = "^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$";
pub const REFERENCE_PATTERN: &str =
    "^([A-Za-z0-9_][A-Za-z0-9._-]{0,127}|sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$";

/// A tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn check_tag(tag: &str) -> Result<()> {
    let b = tag.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::registry_invalid(
            RegistrySubject::Tag,
            format!("{tag:?} is not a tag: [A-Za-z0-9_][A-Za-z0-9._-]{{0,127}}"),
        ))
    }
}

/// The hash algorithms the registry stores by: sha256 (the canonical one)
/// and sha512, as the OCI image spec registers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    /// Its name in a digest: `sha256`, `sha512`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// The bytes of its hash.
    pub fn hash_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        }
    }

    fn named(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

/// A digest: its algorithm and hash (a sha256 hash fills the first 32
/// bytes, the rest stay zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest {
    algorithm: Algorithm,
    hash: [u8; 64],
}

impl Digest {
    /// Reads `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: String| Error::registry_invalid(RegistrySubject::Digest, why);
        let (name, hex) = s
            .split_once(':')
            .ok_or_else(|| bad(format!("{s:?} is not ALGORITHM:HEX")))?;
        let algorithm = Algorithm::named(name).ok_or_else(|| {
            bad(format!(
                "unsupported algorithm {name:?}: sha256 and sha512 are"
            ))
        })?;
        if hex.len() != 2 * algorithm.hash_len() {
            return Err(bad(format!(
                "{name} takes {} hex digits, got {}",
                2 * algorithm.hash_len(),
                hex.len()
            )));
        }
        let mut hash = [0u8; 64];
        for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
            let nibble = |c: u8| match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                _ => None,
            };
            match (nibble(pair[0]), nibble(pair[1])) {
                (Some(h), Some(l)) => hash[i] = h << 4 | l,
                _ => return Err(bad(format!("{s:?}: lowercase hex digits only"))),
            }
        }
        Ok(Digest { algorithm, hash })
    }

    /// A sha256 digest of its hash.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let mut hash = [0u8; 64];
        hash[..32].copy_from_slice(&bytes);
        Digest {
            algorithm: Algorithm::Sha256,
            hash,
        }
    }

    /// A sha512 digest of its hash.
    pub fn sha512(hash: [u8; 64]) -> Self {
        Digest {
            algorithm: Algorithm::Sha512,
            hash,
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The hash.
    pub fn bytes(&self) -> &[u8] {
        &self.hash[..self.algorithm.hash_len()]
    }

    /// The hash in lowercase hex (64 digits for sha256, 128 for sha512).
    pub fn hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(2 * self.algorithm.hash_len());
        for &b in self.bytes() {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 15)]));
        }
        s
    }

    /// The digest as a key of stored records: a sha256 digest by its hex
    /// alone (as every record made before sha512 was taken), any other as
    /// `algorithm:hex`.
    pub fn key(&self) -> String {
        match self.algorithm {
            Algorithm::Sha256 => self.hex(),
            other => format!("{}:{}", other.name(), self.hex()),
        }
    }

    /// Reads a digest written by [`Digest::key`].
    pub fn from_key(key: &str) -> Result<Self> {
        if key.contains(':') {
            Digest::parse(key)
        } else {
            Digest::parse(&format!("sha256:{key}"))
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex())
    }
}

/// What a manifest is asked for by: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

impl Reference {
    pub fn parse(s: &str) -> Result<Self> {
        if s.contains(':') {
            Digest::parse(s).map(Reference::Digest)
        } else {
            check_tag(s).map(|()| Reference::Tag(s.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn repository_names_follow_the_grammar() {
        for ok in [
            "busybox",
            "library/busybox",
            "default_cluster/myweb",
            "a/b/c/d",
            "my-app",
            "my--app",
            "my__app",
            "v1.2",
            "0",
        ] {
            Repository::parse(ok).unwrap();
        }
        for bad in [
            "",
            "Busybox",
            "../etc",
            "a/../b",
            "a/./b",
            "/abs",
            "a//b",
            "a/",
            "a___b",
            "a.-b",
            "-a",
            "a-",
            "a%2e%2e",
            "a\\b",
            "a b",
            "é",
            &"a".repeat(256),
        ] {
            assert!(Repository::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Repository::parse("default_cluster/myweb")
                .unwrap()
                .project(),
            "default_cluster"
        );
    }

    #[test]
    fn tags_and_digests() {
        check_tag("1.0").unwrap();
        check_tag("_x").unwrap();
        check_tag("latest").unwrap();
        for bad in ["", ".x", "-x", "a/b", "..", &"a".repeat(129)] {
            assert!(check_tag(bad).is_err(), "{bad:?}");
        }
        let hex = "a".repeat(64);
        let d = Digest::parse(&format!("sha256:{hex}")).unwrap();
        assert_eq!(d.to_string(), format!("sha256:{hex}"));
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
        assert_eq!(d.key(), hex);
        assert_eq!(Digest::from_key(&d.key()).unwrap(), d);
        // sha512: 128 digits, keyed with its algorithm, never equal to a
        // sha256 digest of the same leading bytes.
        let long = "b".repeat(128);
        let e = Digest::parse(&format!("sha512:{long}")).unwrap();
        assert_eq!(e.to_string(), format!("sha512:{long}"));
        assert_eq!(e.bytes().len(), 64);
        assert_eq!(e.key(), format!("sha512:{long}"));
        assert_eq!(Digest::from_key(&e.key()).unwrap(), e);
        let short = Digest::parse(&format!("sha256:{}", "b".repeat(64))).unwrap();
        assert_ne!(short, e);
        for bad in [
            "sha256:".to_string(),
            format!("sha512:{hex}"),
            format!("sha384:{}", "a".repeat(96)),
            format!("sha256:{long}"),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha256:{}", "a".repeat(63)),
            format!("sha256:../{}", "a".repeat(61)),
            hex.clone(),
        ] {
            assert!(Digest::parse(&bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Reference::parse("1.0").unwrap(),
            Reference::Tag("1.0".into())
        );
        assert_eq!(
            Reference::parse(&format!("sha256:{hex}")).unwrap(),
            Reference::Digest(d)
        );
        assert!(Reference::parse("../x").is_err());
    }
}
