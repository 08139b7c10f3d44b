//! Manifests as pushed (pure): OCI and Docker schema 2 image manifests and
//! indexes (manifest lists), typed with oci-spec and read for what they
//! reference. The bytes are
//! kept as pushed (their digest is the manifest's identity); this module
//! only checks them and says which blobs and child manifests they need.

use std::collections::BTreeMap;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use serde::de::IgnoredAny;
use serde::Deserialize;
use sha2::{Digest as _, Sha256, Sha512};

use super::names::{Algorithm, Digest};
use crate::error::{Error, RegistrySubject, Result};

/// Largest manifest accepted: the 4 MiB the distribution spec asks
/// registries to take at least (distribution's own limit).
pub const MAX_MANIFEST: usize = 4 * 1024 * 1024;

/// Layers that are not pushed to a registry (their bytes are fetched from
/// the `urls` they name): an image that lists them is complete without
/// them.
pub const NON_DISTRIBUTABLE: [&str; 4] = [
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
];

/// The digest of a manifest's bytes by `algorithm`.
pub fn digest_of(algorithm: Algorithm, bytes: &[u8]) -> Digest {
    match algorithm {
        Algorithm::Sha256 => Digest::from_bytes(Sha256::digest(bytes).into()),
        Algorithm::Sha512 => Digest::sha512(Sha512::digest(bytes).into()),
    }
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// What a manifest is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// An image: its config blob and the layer blobs pushed with it (not
    /// the non-distributable ones).
    Image { config: Digest, layers: Vec<Digest> },
    /// An index: the manifests it lists.
    Index { manifests: Vec<Digest> },
}

/// A manifest, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    pub kind: Kind,
    /// Total size of its config and layers as the manifest states them.
    pub content_size: u64,
    /// The manifest it refers to (the OCI 1.1 `subject`): it is listed
    /// among that one's referrers.
    pub subject: Option<Digest>,
    /// What a referrers listing says it is: its `artifactType`, or for an
    /// image without one its config's media type.
    pub artifact_type: String,
    /// Its annotations, as a referrers listing shows them.
    pub annotations: BTreeMap<String, String>,
}

impl Manifest {
    /// The blobs it needs in the repository.
    pub fn blobs(&self) -> Vec<Digest> {
        match &self.kind {
            Kind::Image { config, layers } => {
                let mut all = vec![*config];
                all.extend(layers.iter().copied());
                all
            }
            Kind::Index { .. } => Vec::new(),
        }
    }

    /// The manifests it lists (an index).
    pub fn children(&self) -> &[Digest] {
        match &self.kind {
            Kind::Index { manifests } => manifests,
            Kind::Image { .. } => &[],
        }
    }
}

/// What every manifest says about itself, read first to choose the type
/// to read it as.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Versioned {
    schema_version: Option<u32>,
    #[serde(default)]
    media_type: String,
    config: Option<IgnoredAny>,
    layers: Option<IgnoredAny>,
    manifests: Option<IgnoredAny>,
}

fn bad(reason: impl Into<String>) -> Error {
    Error::registry_invalid(RegistrySubject::Manifest, reason)
}

/// A descriptor's digest as the registry's own (sha256 or sha512: a digest
/// the content store cannot hold is refused here).
fn descriptor_digest(field: &str, d: &Descriptor) -> Result<Digest> {
    Digest::parse(d.digest().as_ref()).map_err(|e| match e {
        Error::RegistryInvalid { reason, .. } => bad(format!("{field}: {reason}")),
        e => e,
    })
}

/// Reads a pushed manifest; its digest by `algorithm` (sha256 but for a
/// manifest pushed by a digest of another). `content_type`: the request's
/// `Content-Type` (empty when none); it and the body's `mediaType` must
/// agree when both are given. Images are read as oci-spec's [`ImageManifest`], indexes
/// and Docker manifest lists as its [`ImageIndex`] (Docker schema 2 has the
/// same shape, with its own media types).
// Over 80 lines: one arm per manifest media type, each with its own checks.
pub fn parse(bytes: &[u8], content_type: &str, algorithm: Algorithm) -> Result<Manifest> {
    if bytes.len() > MAX_MANIFEST {
        return Err(bad(format!(
            "{} bytes, more than the {MAX_MANIFEST} allowed",
            bytes.len()
        )));
    }
    let probe: Versioned =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("not a manifest: {e}")))?;
    if probe.schema_version != Some(2) {
        return Err(bad(format!(
            "schemaVersion must be 2, got {:?} (schema 1 manifests are not supported)",
            probe.schema_version
        )));
    }
    let header = content_type.split(';').next().unwrap_or("").trim();
    let header = if header == "application/json" || header == "application/octet-stream" {
        ""
    } else {
        header
    };
    let media_type = match (header, probe.media_type.as_str()) {
        ("", "") => match (&probe.manifests, &probe.config) {
            (Some(_), None) => OCI_INDEX.to_string(),
            _ => OCI_MANIFEST.to_string(),
        },
        ("", body) => body.to_string(),
        (h, "") => h.to_string(),
        (h, body) if h == body => h.to_string(),
        (h, body) => {
            return Err(bad(format!(
                "Content-Type {h} and mediaType {body} disagree"
            )))
        }
    };
    let (kind, content_size, about) = match media_type.as_str() {
        OCI_MANIFEST | DOCKER_MANIFEST => {
            if probe.manifests.is_some() {
                return Err(bad("an image manifest does not list manifests"));
            }
            let m: ImageManifest = serde_json::from_slice(bytes)
                .map_err(|e| bad(format!("not an image manifest: {e}")))?;
            let mut content_size = m.config().size();
            let mut layers = Vec::with_capacity(m.layers().len());
            for (i, l) in m.layers().iter().enumerate() {
                let d = descriptor_digest(&format!("layers[{i}].digest"), l)?;
                if !NON_DISTRIBUTABLE.contains(&l.media_type().to_string().as_str()) {
                    layers.push(d);
                }
                content_size = content_size.saturating_add(l.size());
            }
            let config = descriptor_digest("config.digest", m.config())?;
            let about = About {
                subject: subject_of(m.subject())?,
                artifact_type: m
                    .artifact_type()
                    .as_ref()
                    .map_or_else(|| m.config().media_type().to_string(), ToString::to_string),
                annotations: sorted(m.annotations()),
            };
            (Kind::Image { config, layers }, content_size, about)
        }
        OCI_INDEX | DOCKER_LIST => {
            if probe.config.is_some() || probe.layers.is_some() {
                return Err(bad("an index does not have config or layers"));
            }
            let index: ImageIndex =
                serde_json::from_slice(bytes).map_err(|e| bad(format!("not an index: {e}")))?;
            let mut manifests = Vec::with_capacity(index.manifests().len());
            let mut content_size = 0u64;
            for (i, m) in index.manifests().iter().enumerate() {
                let child = m.media_type().to_string();
                if ![OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_LIST]
                    .contains(&child.as_str())
                {
                    return Err(bad(format!(
                        "manifests[{i}].mediaType {child} is not a manifest's"
                    )));
                }
                manifests.push(descriptor_digest(&format!("manifests[{i}].digest"), m)?);
                content_size = content_size.saturating_add(m.size());
            }
            let about = About {
                subject: subject_of(index.subject())?,
                artifact_type: index
                    .artifact_type()
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                annotations: sorted(index.annotations()),
            };
            (Kind::Index { manifests }, content_size, about)
        }
        other => {
            return Err(bad(format!(
            "media type {other} is not supported: push an OCI or Docker schema 2 manifest or index"
        )))
        }
    };
    Ok(Manifest {
        media_type,
        digest: digest_of(algorithm, bytes),
        size: bytes.len() as u64,
        kind,
        content_size,
        subject: about.subject,
        artifact_type: about.artifact_type,
        annotations: about.annotations,
    })
}

/// What a manifest says of itself for the referrers API.
struct About {
    subject: Option<Digest>,
    artifact_type: String,
    annotations: BTreeMap<String, String>,
}

fn subject_of(subject: &Option<Descriptor>) -> Result<Option<Digest>> {
    subject
        .as_ref()
        .map(|d| descriptor_digest("subject.digest", d))
        .transpose()
}

fn sorted(
    annotations: &Option<std::collections::HashMap<String, String>>,
) -> BTreeMap<String, String> {
    annotations
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn d(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn image(media_type: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{media_type}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{}","size":10}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"{}","size":100}}]}}"#,
            d('a'),
            d('b')
        )
    }

    #[test]
    fn images_and_indexes_say_what_they_need() {
        let body = image(DOCKER_MANIFEST);
        let m = parse(body.as_bytes(), DOCKER_MANIFEST, Algorithm::Sha256).unwrap();
        assert_eq!(m.media_type, DOCKER_MANIFEST);
        assert_eq!(
            m.blobs(),
            vec![
                Digest::parse(&d('a')).unwrap(),
                Digest::parse(&d('b')).unwrap()
            ]
        );
        assert_eq!(m.content_size, 110);
        assert_eq!(m.size, body.len() as u64);
        assert_eq!(
            m.digest.to_string(),
            format!("sha256:{}", {
                let h: [u8; 32] = Sha256::digest(body.as_bytes()).into();
                Digest::from_bytes(h).hex()
            })
        );
        // No header: the body's mediaType decides.
        assert_eq!(
            parse(body.as_bytes(), "", Algorithm::Sha256)
                .unwrap()
                .media_type,
            DOCKER_MANIFEST
        );
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":5,"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#,
            d('c')
        );
        let i = parse(index.as_bytes(), OCI_INDEX, Algorithm::Sha256).unwrap();
        assert_eq!(i.children(), [Digest::parse(&d('c')).unwrap()]);
        assert!(i.blobs().is_empty());
    }

    #[test]
    fn bad_manifests_are_refused_with_the_reason() {
        let body = image(OCI_MANIFEST);
        for (bytes, ct, want) in [
            (body.clone(), DOCKER_MANIFEST.to_string(), "disagree"),
            ("{".to_string(), String::new(), "not a manifest"),
            (
                r#"{"schemaVersion":1,"name":"x"}"#.to_string(),
                String::new(),
                "schemaVersion",
            ),
            (
                body.replace(&d('b'), "sha256:../../etc/passwd"),
                String::new(),
                "not an image manifest",
            ),
            (
                body.replace(&d('b'), &format!("sha384:{}", "b".repeat(96))),
                String::new(),
                "layers[0].digest",
            ),
            (
                body.replace(OCI_MANIFEST, "application/x-nope"),
                String::new(),
                "not supported",
            ),
            (
                format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","layers":[]}}"#),
                String::new(),
                "missing field `config`",
            ),
        ] {
            let e = parse(bytes.as_bytes(), &ct, Algorithm::Sha256)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
        let huge = vec![b' '; MAX_MANIFEST + 1];
        assert!(parse(&huge, "", Algorithm::Sha256).is_err());
    }

    #[test]
    fn subjects_artifact_types_foreign_layers_and_sha512() {
        // An artifact about another manifest: its subject, its type (the
        // config's media type when it names none) and annotations.
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.example.sbom","digest":"{}","size":2}},"layers":[],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":7}},"annotations":{{"org.example":"x"}}}}"#,
            d('a'),
            d('c')
        );
        let m = parse(body.as_bytes(), "", Algorithm::Sha256).unwrap();
        assert_eq!(m.subject, Some(Digest::parse(&d('c')).unwrap()));
        assert_eq!(m.artifact_type, "application/vnd.example.sbom");
        assert_eq!(m.annotations["org.example"], "x");
        let typed = body.replace(
            r#""layers":[]"#,
            r#""layers":[],"artifactType":"application/vnd.example.sig""#,
        );
        let m = parse(typed.as_bytes(), "", Algorithm::Sha256).unwrap();
        assert_eq!(m.artifact_type, "application/vnd.example.sig");
        // A foreign layer is not one the repository must hold.
        let foreign = image(DOCKER_MANIFEST).replace(
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        );
        let m = parse(foreign.as_bytes(), "", Algorithm::Sha256).unwrap();
        assert_eq!(m.blobs(), vec![Digest::parse(&d('a')).unwrap()]);
        assert_eq!(m.content_size, 110);
        // Pushed by a sha512 digest: named by one.
        let m = parse(body.as_bytes(), "", Algorithm::Sha512).unwrap();
        let want: [u8; 64] = Sha512::digest(body.as_bytes()).into();
        assert_eq!(m.digest, Digest::sha512(want));
        assert!(m.digest.to_string().starts_with("sha512:"));
    }
}
