//! The registry's metadata over the state store, beside the content store's
//! bytes: repositories (who made them and when, pulls), the blobs each
//! repository may serve (pushed or mounted there), manifests and tags.
//! Uploads a caller makes go through here too: each is bound to the
//! repository it was opened on and the principal who opened it (recorded
//! by the content store beside the upload), and is unknown to any other.
//!
//! Keys: `registry/repos/<repo>`, `registry/links/<repo>@<digest key>`,
//! `registry/manifests/<repo>@<digest key>`, `registry/tags/<repo>:<tag>`
//! (a digest key is a sha256 digest's hex, or `sha512:<hex>`; `@` and `:`
//! cannot occur in a repository name, so one repository's keys are never
//! another's prefix).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::blobs::{BlobStore, UploadOwner};
use super::manifest::{self, Manifest};
use super::names::{check_tag, Algorithm, Digest, Reference, Repository};
use super::policy::{self, Decision, Rules, TagFacts};
use crate::clock::Clock;
use crate::error::{Error, RegistrySubject, Result};
use crate::events::{EventLog, NewEvent};
use crate::model::{EventType, ImageEvent};
use crate::store::{get_json, put_json, Expect, Store};

const REPOS: &str = "registry/repos/";
const LINKS: &str = "registry/links/";
const MANIFESTS: &str = "registry/manifests/";
const TAGS: &str = "registry/tags/";
const PROJECTS: &str = "registry/projects/";
const REFERRERS: &str = "registry/referrers/";
const RULES: &str = "registry/rules/";

/// Manifests larger than this keep their bytes in the content store (under
/// their own digest) rather than in their record: a record must fit one
/// request of a distributed store, and the distribution spec asks that
/// manifests of up to 4 MiB be taken.
const INLINE_MANIFEST: usize = 256 * 1024;
const PROJECT_SEQ: &str = "registry/project-seq";

/// A repository as the seed APIs show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoDoc {
    pub name: String,
    /// RFC 3339.
    pub created: String,
    pub created_by: String,
    pub updated: String,
    pub updated_by: String,
    /// Manifests served by tag or digest.
    #[serde(default)]
    pub pulls: u64,
}

/// A blob a repository may serve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct LinkDoc {
    size: u64,
}

/// A manifest as stored: its bytes as pushed, and what it references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestDoc {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    /// Config and layers as the manifest states them (an image's size).
    pub content_size: u64,
    /// The manifest as pushed (JSON, so text).
    pub body: String,
    pub blobs: Vec<String>,
    pub children: Vec<String>,
    pub created: String,
    pub created_by: String,
    /// The manifest it refers to (OCI 1.1 `subject`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Its type in a referrers listing.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub artifact_type: String,
    /// The bytes are in the content store under the manifest's digest (a
    /// large manifest); `body` is empty in the record and filled when the
    /// manifest is read.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_in_store: bool,
}

/// A manifest as a referrers listing shows it (an OCI descriptor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Referrer {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub artifact_type: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagDoc {
    pub digest: String,
    pub updated: String,
    pub updated_by: String,
    /// Manifests served by this tag.
    #[serde(default)]
    pub pulls: u64,
    /// When it was last pulled (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_pulled: Option<u64>,
    /// When it was pushed, in nanoseconds since the epoch (0 in records
    /// made before: their `updated` second is what is known).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pushed_nanos: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A project: the first segment of repository names (`default_cluster` of
/// `default_cluster/myweb`), numbered in the order they were first pushed
/// to, as the Harbor-style API lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectDoc {
    pub id: u64,
    pub name: String,
    pub created: String,
    pub created_by: String,
}

/// The registry: metadata in the store, bytes in the content store.
#[derive(Debug, Clone)]
pub struct Registry {
    store: Arc<dyn Store>,
    blobs: BlobStore,
    clock: Arc<dyn Clock>,
    /// Held shared by whatever makes a blob referenced (a link, a mount, a
    /// manifest put, each from its check to its write), and exclusively by
    /// a collection from its mark to its last delete: a manifest can then
    /// never come to reference a blob the sweep is removing. Uploads do not
    /// take it, so pushes of bytes go on while a collection runs.
    gate: Arc<tokio::sync::RwLock<()>>,
    /// Blobs made referenced (linked, mounted, named by a manifest) since
    /// the current collection started its mark: the sweep spares them, so
    /// the mark runs without the gate and only the sweep holds it.
    referenced_since: Arc<std::sync::Mutex<std::collections::HashSet<Digest>>>,
    /// Where pushes, pulls and deletes are recorded (the cluster's event
    /// log, which the registry's notifications follow).
    events: Option<EventLog>,
}

/// What a garbage collection removed (or, in a dry run, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Collected {
    pub dry_run: bool,
    /// Each blob with its size.
    pub blobs: Vec<(String, u64)>,
    /// The bytes the removed files held (what the disk gets back).
    pub bytes: u64,
    /// How long pushes' manifests waited on the sweep, in milliseconds
    /// (byte uploads never wait).
    pub gate_held_ms: u64,
}

fn link_key(repo: &Repository, d: &Digest) -> String {
    format!("{LINKS}{repo}@{}", d.key())
}

fn manifest_key(repo: &Repository, d: &Digest) -> String {
    format!("{MANIFESTS}{repo}@{}", d.key())
}

fn referrer_key(repo: &Repository, subject: &Digest, d: &Digest) -> String {
    format!("{REFERRERS}{repo}@{}/{}", subject.key(), d.key())
}

fn tag_key(repo: &Repository, tag: &str) -> String {
    format!("{TAGS}{repo}:{tag}")
}

/// What an image event says of a manifest (or of a tag, alone).
fn image_event(
    repo: &Repository,
    digest: &str,
    media_type: &str,
    size: u64,
    tag: &str,
    by: &str,
) -> ImageEvent {
    ImageEvent {
        repository: repo.to_string(),
        digest: digest.to_string(),
        media_type: media_type.to_string(),
        size,
        tag: tag.to_string(),
        actor: by.to_string(),
    }
}

/// The distribution API's "unknown" errors, named by what is unknown.
fn unknown(what: RegistrySubject, id: impl Into<String>) -> Error {
    Error::registry_unknown(what, id)
}

impl Registry {
    pub fn new(store: Arc<dyn Store>, blobs: BlobStore, clock: Arc<dyn Clock>) -> Self {
        Registry {
            store,
            blobs,
            clock,
            gate: Arc::default(),
            referenced_since: Arc::default(),
            events: None,
        }
    }

    /// Records pushes, pulls and deletes in `events` from now on.
    pub fn with_events(mut self, events: EventLog) -> Self {
        self.events = Some(events);
        self
    }

    /// Records an image event. The change it tells of is made already, so
    /// a log that cannot take it is reported, not returned.
    async fn note(&self, kind: EventType, image: ImageEvent) {
        let Some(events) = &self.events else {
            return;
        };
        let what = match kind {
            EventType::ImagePush => "push",
            EventType::ImagePull => "pull",
            _ => "delete",
        };
        let mut message = format!("{what} {}", image.repository);
        if !image.tag.is_empty() {
            message.push(':');
            message.push_str(&image.tag);
        }
        if !image.digest.is_empty() {
            message.push('@');
            message.push_str(&image.digest);
        }
        let repo = image.repository.clone();
        let new = NewEvent::new(kind, message, &["registry", &repo]).image(image);
        if let Err(e) = events.record_all(vec![new]).await {
            tracing::warn!(error = %e, repository = %repo, "an image event was not recorded");
        }
    }

    /// Notes blobs made referenced, for a collection under way.
    fn referenced(&self, digests: impl IntoIterator<Item = Digest>) {
        if let Ok(mut set) = self.referenced_since.lock() {
            set.extend(digests);
        }
    }

    /// The content store.
    pub fn blob_store(&self) -> &BlobStore {
        &self.blobs
    }

    /// Notes a change to a repository by `by`, making it on first use.
    async fn touch(&self, repo: &Repository, by: &str) -> Result<()> {
        let key = format!("{REPOS}{repo}");
        let now = self.clock.rfc3339();
        loop {
            let found = get_json::<RepoDoc>(self.store.as_ref(), &key).await?;
            let (doc, expect) = match found {
                Some((mut d, rev)) => {
                    d.updated = now.clone();
                    d.updated_by = by.to_string();
                    (d, Expect::Revision(rev))
                }
                None => (
                    {
                        self.ensure_project(repo.project(), by).await?;
                        RepoDoc {
                            name: repo.to_string(),
                            created: now.clone(),
                            created_by: by.to_string(),
                            updated: now.clone(),
                            updated_by: by.to_string(),
                            pulls: 0,
                        }
                    },
                    Expect::Absent,
                ),
            };
            match put_json(self.store.as_ref(), &key, &doc, expect).await {
                Ok(_) => return Ok(()),
                Err(Error::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Numbers a project on its first repository.
    async fn ensure_project(&self, name: &str, by: &str) -> Result<()> {
        let key = format!("{PROJECTS}{name}");
        while get_json::<ProjectDoc>(self.store.as_ref(), &key)
            .await?
            .is_none()
        {
            let (seq, expect) = match get_json::<u64>(self.store.as_ref(), PROJECT_SEQ).await? {
                Some((n, rev)) => (n, Expect::Revision(rev)),
                None => (0, Expect::Absent),
            };
            match put_json(self.store.as_ref(), PROJECT_SEQ, &(seq + 1), expect).await {
                Ok(_) => {}
                Err(Error::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
            let doc = ProjectDoc {
                id: seq + 1,
                name: name.to_string(),
                created: self.clock.rfc3339(),
                created_by: by.to_string(),
            };
            match put_json(self.store.as_ref(), &key, &doc, Expect::Absent).await {
                // Made meanwhile by another push: its number stands.
                Ok(_) | Err(Error::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Every project, by number.
    pub async fn projects(&self) -> Result<Vec<ProjectDoc>> {
        let mut out = Vec::new();
        for v in self.store.list(PROJECTS).await? {
            out.push(v.json::<ProjectDoc>()?);
        }
        out.sort_by_key(|p| p.id);
        Ok(out)
    }

    /// A repository's record.
    pub async fn repository(&self, repo: &Repository) -> Result<RepoDoc> {
        get_json::<RepoDoc>(self.store.as_ref(), &format!("{REPOS}{repo}"))
            .await?
            .map(|(d, _)| d)
            .ok_or_else(|| unknown(RegistrySubject::Repository, repo.as_str()))
    }

    /// Starts an upload into `repo` on `by`'s behalf; its id. Only `by`,
    /// naming `repo`, may go on with it: to anyone else (another principal,
    /// or the same under another repository name) it is unknown, as an id
    /// never made is.
    pub async fn start_upload(&self, repo: &Repository, by: &str) -> Result<String> {
        self.blobs
            .start_upload_for(&UploadOwner::new(repo, by))
            .await
    }

    /// Bytes an upload of `by` into `repo` holds so far.
    pub async fn upload_size(&self, repo: &Repository, id: &str, by: &str) -> Result<u64> {
        self.blobs
            .check_upload(id, &UploadOwner::new(repo, by))
            .await?;
        self.blobs.upload_size(id).await
    }

    /// Appends to an upload of `by` into `repo` (see [`BlobStore::append`]).
    pub async fn append_upload<S>(
        &self,
        repo: &Repository,
        id: &str,
        by: &str,
        at: Option<u64>,
        limit: u64,
        body: S,
    ) -> Result<u64>
    where
        S: futures::Stream<Item = std::result::Result<bytes::Bytes, Error>> + Send,
    {
        self.blobs
            .check_upload(id, &UploadOwner::new(repo, by))
            .await?;
        self.blobs.append(id, at, limit, body).await
    }

    /// Publishes an upload of `by` into `repo` as the blob `d` and links it
    /// there; its size.
    pub async fn finish_upload(
        &self,
        repo: &Repository,
        id: &str,
        by: &str,
        d: &Digest,
    ) -> Result<u64> {
        self.blobs
            .check_upload(id, &UploadOwner::new(repo, by))
            .await?;
        self.blobs.publish(id, d).await?;
        let size = self.link_blob(repo, d, by).await?;
        // Ended only once linked: killed before, the upload can be
        // finished again.
        if let Err(e) = self.blobs.cancel(id).await {
            tracing::warn!(upload = %id, error = %e, "a finished upload was not removed");
        }
        Ok(size)
    }

    /// Appends a last chunk (which may be empty) to an upload of `by` into
    /// `repo`, then publishes it as `d` and links it there: the upload's
    /// closing `PUT`. Its size.
    #[allow(clippy::too_many_arguments)] // the upload's address, its last chunk and its bound
    pub async fn complete_upload<S>(
        &self,
        repo: &Repository,
        id: &str,
        by: &str,
        d: &Digest,
        at: Option<u64>,
        limit: u64,
        last: S,
    ) -> Result<u64>
    where
        S: futures::Stream<Item = std::result::Result<bytes::Bytes, Error>> + Send,
    {
        self.append_upload(repo, id, by, at, limit, last).await?;
        self.finish_upload(repo, id, by, d).await
    }

    /// Stores a whole blob in one request (a monolithic upload: its digest
    /// is known up front) and links it into `repo`; its size.
    pub async fn put_blob<S>(
        &self,
        repo: &Repository,
        d: &Digest,
        by: &str,
        limit: u64,
        body: S,
    ) -> Result<u64>
    where
        S: futures::Stream<Item = std::result::Result<bytes::Bytes, Error>> + Send,
    {
        self.blobs.put(d, limit, body).await?;
        self.link_blob(repo, d, by).await
    }

    /// A blob `repo` may serve, opened for reading, with its size; `None`
    /// when `repo` has no such blob.
    pub async fn open_blob(
        &self,
        repo: &Repository,
        d: &Digest,
    ) -> Result<Option<(tokio::fs::File, u64)>> {
        if self.blob(repo, d).await?.is_none() {
            return Ok(None);
        }
        self.blobs.open_blob(d).await
    }

    /// Ends an upload of `by` into `repo` without publishing it.
    pub async fn cancel_upload(&self, repo: &Repository, id: &str, by: &str) -> Result<()> {
        self.blobs
            .check_upload(id, &UploadOwner::new(repo, by))
            .await?;
        self.blobs.cancel(id).await
    }

    /// Makes a published blob servable from `repo` (after its upload, or
    /// mounted from another repository).
    pub async fn link_blob(&self, repo: &Repository, d: &Digest, by: &str) -> Result<u64> {
        let _shared = self.gate.read().await;
        self.link_held(repo, d, by).await
    }

    async fn link_held(&self, repo: &Repository, d: &Digest, by: &str) -> Result<u64> {
        self.referenced([*d]);
        let size = self
            .blobs
            .stat(d)
            .await?
            .ok_or_else(|| unknown(RegistrySubject::Blob, d.to_string()))?;
        put_json(
            self.store.as_ref(),
            &link_key(repo, d),
            &LinkDoc { size },
            Expect::Any,
        )
        .await?;
        self.touch(repo, by).await?;
        Ok(size)
    }

    /// Stops `repo` serving a blob (the bytes go at the next collection if
    /// nothing else references them); false when it did not.
    pub async fn unlink_blob(&self, repo: &Repository, d: &Digest) -> Result<bool> {
        Ok(self
            .store
            .delete(&link_key(repo, d), Expect::Any)
            .await?
            .is_some())
    }

    /// Every repository's record, in name order.
    pub async fn repositories(&self) -> Result<Vec<RepoDoc>> {
        let mut out = Vec::new();
        for v in self.store.list(REPOS).await? {
            out.push(v.json::<RepoDoc>()?);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// A repository's tags with what they name, in tag order.
    pub async fn tag_records(&self, repo: &Repository) -> Result<Vec<(String, TagDoc)>> {
        let mut tags = self.tag_docs(repo).await?;
        tags.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(tags)
    }

    /// Deletes a repository: its tags, manifests, blob links and record
    /// (the bytes go at the next collection if nothing else references
    /// them).
    pub async fn delete_repository(&self, repo: &Repository) -> Result<()> {
        self.repository(repo).await?;
        let prefixes = [
            format!("{TAGS}{repo}:"),
            format!("{MANIFESTS}{repo}@"),
            format!("{LINKS}{repo}@"),
            format!("{REFERRERS}{repo}@"),
        ];
        // The repository's rules stay: they are its owner's policy, and
        // hold again if it is pushed to anew.
        for prefix in prefixes {
            for v in self.store.list(&prefix).await? {
                self.store.delete(&v.key, Expect::Any).await?;
            }
        }
        self.store
            .delete(&format!("{REPOS}{repo}"), Expect::Any)
            .await?;
        Ok(())
    }

    /// A blob's size, when `repo` may serve it and the bytes are there.
    pub async fn blob(&self, repo: &Repository, d: &Digest) -> Result<Option<u64>> {
        if get_json::<LinkDoc>(self.store.as_ref(), &link_key(repo, d))
            .await?
            .is_none()
        {
            return Ok(None);
        }
        self.blobs.stat(d).await
    }

    /// A small blob's bytes (an image's config), refused past `limit`.
    pub async fn small_blob(&self, repo: &Repository, d: &Digest, limit: u64) -> Result<Vec<u8>> {
        use tokio::io::AsyncReadExt as _;
        let (file, size) = self
            .open_blob(repo, d)
            .await?
            .ok_or_else(|| unknown(RegistrySubject::Blob, d.to_string()))?;
        if size > limit {
            return Err(Error::registry_invalid(
                RegistrySubject::Blob,
                format!("{d} holds {size} bytes, more than the {limit} read here"),
            ));
        }
        let mut out = Vec::with_capacity(size as usize);
        file.take(limit)
            .read_to_end(&mut out)
            .await
            .map_err(|e| Error::io(format!("cannot read blob {d}"), e))?;
        Ok(out)
    }

    /// Mounts a blob of `from` into `to`; false when `from` cannot serve it
    /// (the client then uploads it).
    pub async fn mount(
        &self,
        from: &Repository,
        to: &Repository,
        d: &Digest,
        by: &str,
    ) -> Result<bool> {
        let _shared = self.gate.read().await;
        if self.blob(from, d).await?.is_none() {
            return Ok(false);
        }
        self.link_held(to, d, by).await?;
        Ok(true)
    }

    /// Mounts a blob into `to` from whichever repository serves it (a
    /// mount that names no source); false when none does.
    pub async fn mount_anywhere(&self, to: &Repository, d: &Digest, by: &str) -> Result<bool> {
        let _shared = self.gate.read().await;
        let suffix = format!("@{}", d.key());
        let served = self
            .store
            .list(LINKS)
            .await?
            .iter()
            .any(|v| v.key.ends_with(&suffix));
        if !served || self.blobs.stat(d).await?.is_none() {
            return Ok(false);
        }
        self.link_held(to, d, by).await?;
        Ok(true)
    }

    /// Stores a manifest under `reference` (a tag, or the digest of its
    /// bytes). Refused when a blob or child manifest it references is not
    /// in the repository ([`Error::ManifestReference`]).
    pub async fn put_manifest(
        &self,
        repo: &Repository,
        reference: &Reference,
        bytes: &[u8],
        content_type: &str,
        by: &str,
    ) -> Result<Manifest> {
        let algorithm = match reference {
            Reference::Digest(d) => d.algorithm(),
            Reference::Tag(_) => Algorithm::Sha256,
        };
        let m = manifest::parse(bytes, content_type, algorithm)?;
        if let Reference::Tag(tag) = reference {
            self.check_tag_push(repo, tag, &m.digest).await?;
        }
        let _shared = self.gate.read().await;
        if let Reference::Digest(d) = reference {
            if *d != m.digest {
                return Err(Error::registry_invalid(
                    RegistrySubject::Digest,
                    format!("the manifest's bytes hash to {}, not {d}", m.digest),
                ));
            }
        }
        let dangling = |what, id: &Digest| Error::ManifestReference {
            repository: repo.to_string(),
            what,
            id: id.to_string(),
        };
        for b in m.blobs() {
            if self.blob(repo, &b).await?.is_none() {
                return Err(dangling(RegistrySubject::Blob, &b));
            }
        }
        for c in m.children() {
            if get_json::<ManifestDoc>(self.store.as_ref(), &manifest_key(repo, c))
                .await?
                .is_none()
            {
                return Err(dangling(RegistrySubject::Manifest, c));
            }
        }
        let body = String::from_utf8(bytes.to_vec())
            .map_err(|_| Error::registry_invalid(RegistrySubject::Manifest, "not UTF-8 JSON"))?;
        let body_in_store = body.len() > INLINE_MANIFEST;
        if body_in_store {
            let bytes = bytes::Bytes::copy_from_slice(bytes);
            self.blobs
                .put(
                    &m.digest,
                    manifest::MAX_MANIFEST as u64,
                    futures::stream::iter([Ok(bytes)]),
                )
                .await?;
        }
        let now = self.clock.rfc3339();
        let doc = ManifestDoc {
            digest: m.digest.to_string(),
            media_type: m.media_type.clone(),
            size: m.size,
            content_size: m.content_size,
            body: if body_in_store { String::new() } else { body },
            blobs: m.blobs().iter().map(ToString::to_string).collect(),
            children: m.children().iter().map(ToString::to_string).collect(),
            created: now.clone(),
            created_by: by.to_string(),
            subject: m.subject.map(|d| d.to_string()),
            artifact_type: m.artifact_type.clone(),
            body_in_store,
        };
        let key = manifest_key(repo, &m.digest);
        match put_json(self.store.as_ref(), &key, &doc, Expect::Absent).await {
            // Pushed before: kept as first recorded.
            Ok(_) | Err(Error::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
        // After the record is written, still under the gate: a collection
        // whose mark missed the record sees these instead.
        self.referenced(m.blobs());
        if body_in_store {
            self.referenced([m.digest]);
        }
        if let Some(subject) = &m.subject {
            // Listed among the subject's referrers, whether or not the
            // subject is here (yet).
            let r = Referrer {
                media_type: m.media_type.clone(),
                digest: m.digest.to_string(),
                size: m.size,
                artifact_type: m.artifact_type.clone(),
                annotations: m.annotations.clone(),
            };
            put_json(
                self.store.as_ref(),
                &referrer_key(repo, subject, &m.digest),
                &r,
                Expect::Any,
            )
            .await?;
        }
        if let Reference::Tag(tag) = reference {
            self.write_tag(repo, tag, &m.digest, by).await?;
        }
        self.touch(repo, by).await?;
        let tag = match reference {
            Reference::Tag(t) => t.clone(),
            Reference::Digest(_) => String::new(),
        };
        let event = image_event(repo, &m.digest.to_string(), &m.media_type, m.size, &tag, by);
        self.note(EventType::ImagePush, event).await;
        Ok(m)
    }

    /// Refuses a push that would move an immutable tag to other content.
    async fn check_tag_push(&self, repo: &Repository, tag: &str, d: &Digest) -> Result<()> {
        let rules = self.rules(repo).await?;
        if rules.immutable.is_empty() {
            return Ok(());
        }
        let current = get_json::<TagDoc>(self.store.as_ref(), &tag_key(repo, tag))
            .await?
            .map(|(t, _)| t.digest);
        policy::check_push(&rules, tag, current.as_deref(), &d.to_string())
    }

    /// A repository's retention and immutability rules (none set: the
    /// default, which keeps everything and makes nothing immutable).
    pub async fn rules(&self, repo: &Repository) -> Result<Rules> {
        Ok(
            get_json::<Rules>(self.store.as_ref(), &format!("{RULES}{repo}"))
                .await?
                .map(|(r, _)| r)
                .unwrap_or_default(),
        )
    }

    /// Sets a repository's rules (the repository need not exist yet: its
    /// rules then hold from its first push).
    pub async fn set_rules(&self, repo: &Repository, rules: &Rules) -> Result<()> {
        rules.validate()?;
        put_json(
            self.store.as_ref(),
            &format!("{RULES}{repo}"),
            rules,
            Expect::Any,
        )
        .await?;
        Ok(())
    }

    /// A retention run over `repo`: every tag with what the rules decide
    /// and why (the pure [`policy::retain`]). Unless `dry_run`, the tags it
    /// does not keep are deleted, and a manifest left with no tag, no index
    /// listing it and no subject pointing at it goes with them. Returns the
    /// decisions and the manifests deleted.
    pub async fn retention(
        &self,
        repo: &Repository,
        dry_run: bool,
        by: &str,
    ) -> Result<(Vec<Decision>, Vec<String>)> {
        self.repository(repo).await?;
        let rules = self.rules(repo).await?;
        let prefix = format!("{TAGS}{repo}:");
        let mut tags = Vec::new();
        let mut facts = Vec::new();
        for v in self.store.list(&prefix).await? {
            let name = v.key[prefix.len()..].to_string();
            let t: TagDoc = v.json()?;
            facts.push(TagFacts {
                name: name.clone(),
                pushed: crate::model::parse_rfc3339(&t.updated).unwrap_or(0),
                seq: t.pushed_nanos,
                pulled: t.last_pulled,
            });
            tags.push((name, t));
        }
        let mut decisions = policy::retain(&facts, &rules, self.clock.unix_secs());
        decisions.sort_by(|a, b| a.tag.cmp(&b.tag));
        if dry_run {
            return Ok((decisions, Vec::new()));
        }
        let mut untagged = std::collections::BTreeSet::new();
        for d in decisions.iter().filter(|d| !d.keep) {
            if let Some((_, t)) = tags.iter().find(|(n, _)| *n == d.tag) {
                match self.untag(repo, &d.tag, by).await {
                    Ok(()) | Err(Error::RegistryUnknown { .. }) => {}
                    Err(e) => return Err(e),
                }
                untagged.insert(t.digest.clone());
            }
        }
        let still: std::collections::BTreeSet<String> = self
            .tag_docs(repo)
            .await?
            .into_iter()
            .map(|(_, t)| t.digest)
            .collect();
        let mut listed = std::collections::BTreeSet::new();
        for v in self.store.list(&format!("{MANIFESTS}{repo}@")).await? {
            let m: ManifestDoc = v.json()?;
            listed.extend(m.children);
            listed.extend(m.subject);
        }
        let mut gone = Vec::new();
        for digest in untagged {
            if still.contains(&digest) || listed.contains(&digest) {
                continue;
            }
            let d = Digest::parse(&digest)?;
            match self.delete_manifest(repo, &d, by).await {
                Ok(_) => gone.push(digest),
                Err(Error::RegistryUnknown { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok((decisions, gone))
    }

    async fn write_tag(&self, repo: &Repository, tag: &str, d: &Digest, by: &str) -> Result<()> {
        let t = TagDoc {
            digest: d.to_string(),
            updated: self.clock.rfc3339(),
            updated_by: by.to_string(),
            pulls: 0,
            last_pulled: None,
            pushed_nanos: self
                .clock
                .now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        };
        put_json(self.store.as_ref(), &tag_key(repo, tag), &t, Expect::Any).await?;
        Ok(())
    }

    /// Tags a manifest `repo` holds (the distribution spec's `?tag=` on a
    /// push by digest: a manifest named by a sha512 digest keeps it under
    /// its tags).
    pub async fn tag_manifest(
        &self,
        repo: &Repository,
        tag: &str,
        d: &Digest,
        by: &str,
    ) -> Result<()> {
        check_tag(tag)?;
        self.check_tag_push(repo, tag, d).await?;
        let (m, _) = get_json::<ManifestDoc>(self.store.as_ref(), &manifest_key(repo, d))
            .await?
            .ok_or_else(|| unknown(RegistrySubject::Manifest, format!("{repo}@{d}")))?;
        self.write_tag(repo, tag, d, by).await?;
        self.touch(repo, by).await?;
        let event = image_event(repo, &m.digest, &m.media_type, m.size, tag, by);
        self.note(EventType::ImagePush, event).await;
        Ok(())
    }

    /// The digest a reference names in `repo`.
    pub async fn resolve(&self, repo: &Repository, reference: &Reference) -> Result<Digest> {
        match reference {
            Reference::Digest(d) => Ok(*d),
            Reference::Tag(tag) => {
                let (t, _) = get_json::<TagDoc>(self.store.as_ref(), &tag_key(repo, tag))
                    .await?
                    .ok_or_else(|| unknown(RegistrySubject::Manifest, format!("{repo}:{tag}")))?;
                Digest::parse(&t.digest)
            }
        }
    }

    /// A manifest by tag or digest. `pull`: count it as a download by that
    /// principal (and record it).
    pub async fn manifest(
        &self,
        repo: &Repository,
        reference: &Reference,
        pull: Option<&str>,
    ) -> Result<ManifestDoc> {
        let d = self.resolve(repo, reference).await?;
        let (mut doc, _) = get_json::<ManifestDoc>(self.store.as_ref(), &manifest_key(repo, &d))
            .await?
            .ok_or_else(|| unknown(RegistrySubject::Manifest, format!("{repo}@{d}")))?;
        if doc.body_in_store {
            doc.body = self.stored_manifest(&d).await?;
        }
        if let Some(by) = pull {
            self.count_pull(repo).await;
            let mut tag = String::new();
            if let Reference::Tag(t) = reference {
                self.count_tag_pull(repo, t).await;
                tag = t.clone();
            }
            let event = image_event(repo, &doc.digest, &doc.media_type, doc.size, &tag, by);
            self.note(EventType::ImagePull, event).await;
        }
        Ok(doc)
    }

    /// The bytes of a manifest kept in the content store.
    async fn stored_manifest(&self, d: &Digest) -> Result<String> {
        use tokio::io::AsyncReadExt as _;
        let (file, _) = self
            .blobs
            .open_blob(d)
            .await?
            .ok_or_else(|| unknown(RegistrySubject::Manifest, d.to_string()))?;
        let mut out = String::new();
        file.take(manifest::MAX_MANIFEST as u64)
            .read_to_string(&mut out)
            .await
            .map_err(|e| Error::io(format!("cannot read manifest {d}"), e))?;
        Ok(out)
    }

    /// The manifests in `repo` whose subject is `subject`, as descriptors,
    /// in digest order; with `artifact_type`, only those of that type. A
    /// subject nothing refers to (or that is not there) has none.
    pub async fn referrers(
        &self,
        repo: &Repository,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>> {
        let prefix = format!("{REFERRERS}{repo}@{}/", subject.key());
        let mut out = Vec::new();
        for v in self.store.list(&prefix).await? {
            let r: Referrer = v.json()?;
            if artifact_type.is_none_or(|t| t == r.artifact_type) {
                out.push(r);
            }
        }
        out.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(out)
    }

    async fn count_pull(&self, repo: &Repository) {
        let key = format!("{REPOS}{repo}");
        for _ in 0..5 {
            let Ok(Some((mut d, rev))) = get_json::<RepoDoc>(self.store.as_ref(), &key).await
            else {
                return;
            };
            d.pulls += 1;
            match put_json(self.store.as_ref(), &key, &d, Expect::Revision(rev)).await {
                Err(Error::Conflict { .. }) => continue,
                _ => return,
            }
        }
    }

    async fn count_tag_pull(&self, repo: &Repository, tag: &str) {
        let key = tag_key(repo, tag);
        for _ in 0..5 {
            let Ok(Some((mut t, rev))) = get_json::<TagDoc>(self.store.as_ref(), &key).await else {
                return;
            };
            t.pulls += 1;
            t.last_pulled = Some(self.clock.unix_secs());
            match put_json(self.store.as_ref(), &key, &t, Expect::Revision(rev)).await {
                Err(Error::Conflict { .. }) => continue,
                _ => return,
            }
        }
    }

    /// Deletes a tag (the manifest and its other tags stay: an untag).
    /// An immutable tag is refused.
    pub async fn delete_tag(&self, repo: &Repository, tag: &str, by: &str) -> Result<()> {
        check_tag(tag)?;
        policy::check_delete(&self.rules(repo).await?, &[tag.to_string()])?;
        self.untag(repo, tag, by).await
    }

    /// Deletes a tag, with no rule asked, and records it.
    async fn untag(&self, repo: &Repository, tag: &str, by: &str) -> Result<()> {
        let digest = get_json::<TagDoc>(self.store.as_ref(), &tag_key(repo, tag))
            .await?
            .map(|(t, _)| t.digest)
            .unwrap_or_default();
        self.store
            .delete(&tag_key(repo, tag), Expect::Any)
            .await?
            .ok_or_else(|| unknown(RegistrySubject::Manifest, format!("{repo}:{tag}")))?;
        let event = image_event(repo, &digest, "", 0, tag, by);
        self.note(EventType::ImageDelete, event).await;
        Ok(())
    }

    /// Deletes a manifest and every tag that names it; the tags that went
    /// with it. Refused, deleting nothing, when one of them is immutable.
    pub async fn delete_manifest(
        &self,
        repo: &Repository,
        d: &Digest,
        by: &str,
    ) -> Result<Vec<String>> {
        let digest = d.to_string();
        let mut tags: Vec<String> = self
            .tag_docs(repo)
            .await?
            .into_iter()
            .filter(|(_, t)| t.digest == digest)
            .map(|(tag, _)| tag)
            .collect();
        tags.sort();
        policy::check_delete(&self.rules(repo).await?, &tags)?;
        let (doc, _) = get_json::<ManifestDoc>(self.store.as_ref(), &manifest_key(repo, d))
            .await?
            .ok_or_else(|| unknown(RegistrySubject::Manifest, format!("{repo}@{d}")))?;
        for tag in &tags {
            self.store.delete(&tag_key(repo, tag), Expect::Any).await?;
        }
        let subject = doc.subject.as_deref().and_then(|s| Digest::parse(s).ok());
        self.store
            .delete(&manifest_key(repo, d), Expect::Any)
            .await?
            .ok_or_else(|| unknown(RegistrySubject::Manifest, format!("{repo}@{d}")))?;
        if let Some(subject) = subject {
            self.store
                .delete(&referrer_key(repo, &subject, d), Expect::Any)
                .await?;
        }
        let event = image_event(repo, &digest, &doc.media_type, doc.size, "", by);
        self.note(EventType::ImageDelete, event).await;
        Ok(tags)
    }

    async fn tag_docs(&self, repo: &Repository) -> Result<Vec<(String, TagDoc)>> {
        let prefix = format!("{TAGS}{repo}:");
        let mut out = Vec::new();
        for v in self.store.list(&prefix).await? {
            let tag = v.key[prefix.len()..].to_string();
            out.push((tag, v.json::<TagDoc>()?));
        }
        Ok(out)
    }

    /// A repository's tags in order, at most `n` after `last`.
    pub async fn tags(
        &self,
        repo: &Repository,
        n: Option<usize>,
        last: Option<&str>,
    ) -> Result<Vec<String>> {
        let mut tags: Vec<String> = self
            .tag_docs(repo)
            .await?
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        tags.sort();
        Ok(page(tags, n, last))
    }

    /// Repositories in order, at most `n` after `last`.
    pub async fn catalog(&self, n: Option<usize>, last: Option<&str>) -> Result<Vec<String>> {
        let mut names: Vec<String> = self
            .store
            .list(REPOS)
            .await?
            .into_iter()
            .map(|v| v.key[REPOS.len()..].to_string())
            .collect();
        names.sort();
        Ok(page(names, n, last))
    }

    /// Runs the registry's upkeep every `every` (shipd's
    /// `--registry-gc-every`): uploads untouched for a day are removed,
    /// then blobs nothing references (with an hour's grace).
    pub fn spawn_maintenance(&self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let registry = self.clone();
        tokio::spawn(async move {
            let hour = std::time::Duration::from_secs(3600);
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = registry.blobs.remove_abandoned(24 * hour).await {
                    tracing::warn!(error = %e, "cannot remove abandoned uploads");
                }
                match registry.collect(hour, false).await {
                    Ok(c) if !c.blobs.is_empty() => tracing::info!(
                        blobs = c.blobs.len(),
                        bytes = c.bytes,
                        gate_held_ms = c.gate_held_ms,
                        "unreferenced blobs removed"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "garbage collection failed"),
                }
            }
        })
    }

    /// [`Registry::collect`], not a dry run; the digests removed.
    pub async fn collect_garbage(&self, grace: std::time::Duration) -> Result<Vec<Digest>> {
        self.collect(grace, false)
            .await?
            .blobs
            .iter()
            .map(|(d, _)| Digest::parse(d))
            .collect()
    }

    /// Removes the blobs no manifest references and no upload holds, once
    /// older than `grace` (a push sends its blobs before the manifest that
    /// references them: a blob younger than the grace may still be
    /// claimed), with their links; with `dry_run`, only says which. The
    /// mark (what is referenced) runs beside pushes; only the sweep holds
    /// the gate that manifest puts, links and mounts take shared, and it
    /// spares whatever they referenced since the mark began. Byte uploads
    /// never wait.
    pub async fn collect(&self, grace: std::time::Duration, dry_run: bool) -> Result<Collected> {
        if let Ok(mut set) = self.referenced_since.lock() {
            set.clear();
        }
        // Listed before the manifests are read: a blob published after
        // this listing is not considered at all.
        let blobs = self.blobs.blobs().await?;
        let mut referenced = std::collections::BTreeSet::new();
        for v in self.store.list(MANIFESTS).await? {
            let m: ManifestDoc = v.json()?;
            for b in &m.blobs {
                referenced.insert(Digest::parse(b)?);
            }
            if m.body_in_store {
                referenced.insert(Digest::parse(&m.digest)?);
            }
        }
        let now = std::time::SystemTime::now();
        let candidates: Vec<(Digest, std::time::SystemTime)> = blobs
            .into_iter()
            .filter(|(d, published)| {
                let young = now.duration_since(*published).unwrap_or_default() < grace;
                !referenced.contains(d) && !young
            })
            .collect();
        let mut out = Collected {
            dry_run,
            ..Collected::default()
        };
        let mut removed = Vec::new();
        let held = std::time::Instant::now();
        {
            let _exclusive = self.gate.write().await;
            let since = self
                .referenced_since
                .lock()
                .map(|s| s.clone())
                .unwrap_or_default();
            for (d, published) in candidates {
                if since.contains(&d) {
                    continue;
                }
                // Pushed again since the listing: no longer a candidate.
                let again = self.blobs.published(&d).await?;
                if again.is_some_and(|t| t != published) {
                    continue;
                }
                let Some(size) = self.blobs.stat(&d).await? else {
                    continue;
                };
                if !dry_run && !self.blobs.delete(&d).await? {
                    continue;
                }
                out.bytes += size;
                out.blobs.push((d.to_string(), size));
                removed.push(d);
            }
        }
        out.gate_held_ms = u64::try_from(held.elapsed().as_millis()).unwrap_or(u64::MAX);
        if !removed.is_empty() && !dry_run {
            let gone: std::collections::BTreeSet<String> =
                removed.iter().map(Digest::key).collect();
            for v in self.store.list(LINKS).await? {
                if v.key
                    .rsplit_once('@')
                    .is_some_and(|(_, key)| gone.contains(key))
                {
                    self.store.delete(&v.key, Expect::Any).await?;
                }
            }
        }
        Ok(out)
    }
}

/// At most `n` items after `last` of a sorted list.
fn page(items: Vec<String>, n: Option<usize>, last: Option<&str>) -> Vec<String> {
    items
        .into_iter()
        .filter(|i| last.is_none_or(|l| i.as_str() > l))
        .take(n.unwrap_or(usize::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use bytes::Bytes;
    use sha2::{Digest as _, Sha256};

    use super::*;
    use crate::clock::SystemClock;
    use crate::registry::manifest::DOCKER_MANIFEST;
    use crate::store::MemoryStore;

    async fn registry(dir: &std::path::Path) -> Registry {
        Registry::new(
            Arc::new(MemoryStore::new()),
            BlobStore::open(dir).await.unwrap(),
            Arc::new(SystemClock::new()),
        )
    }

    async fn push_blob(r: &Registry, repo: &Repository, data: &'static [u8]) -> Digest {
        let d = Digest::from_bytes(Sha256::digest(data).into());
        let body = futures::stream::iter([Ok(Bytes::from_static(data))]);
        r.blobs.put(&d, 1 << 20, body).await.unwrap();
        r.link_blob(repo, &d, "alice").await.unwrap();
        d
    }

    fn image(config: &Digest, layer: &Digest) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"{layer}","size":5}}]}}"#
        )
    }

    #[tokio::test]
    async fn an_upload_is_only_its_openers_in_its_repository() {
        let dir = tempfile::tempdir().unwrap();
        let r = registry(dir.path()).await;
        let app = Repository::parse("team/app").unwrap();
        let other = Repository::parse("other/app").unwrap();
        let body = |b: &'static [u8]| futures::stream::iter([Ok(Bytes::from_static(b))]);
        let id = r.start_upload(&app, "alice").await.unwrap();
        let missing = |e: Error| {
            assert!(
                matches!(
                    e,
                    Error::RegistryUnknown {
                        what: RegistrySubject::Upload,
                        ..
                    }
                ),
                "{e}"
            )
        };
        let d = Digest::from_bytes(Sha256::digest(b"layer").into());
        for (repo, by) in [(&app, "bob"), (&other, "alice")] {
            missing(r.upload_size(repo, &id, by).await.unwrap_err());
            missing(
                r.append_upload(repo, &id, by, None, 1 << 20, body(b"evil"))
                    .await
                    .unwrap_err(),
            );
            missing(r.finish_upload(repo, &id, by, &d).await.unwrap_err());
            missing(r.cancel_upload(repo, &id, by).await.unwrap_err());
        }
        assert_eq!(r.upload_size(&app, &id, "alice").await.unwrap(), 0);
        r.append_upload(&app, &id, "alice", Some(0), 1 << 20, body(b"layer"))
            .await
            .unwrap();
        assert_eq!(r.finish_upload(&app, &id, "alice", &d).await.unwrap(), 5);
        assert_eq!(r.blob(&app, &d).await.unwrap(), Some(5));
        assert!(r.blob(&other, &d).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn push_tag_pull_delete_and_collect() {
        let dir = tempfile::tempdir().unwrap();
        let r = registry(dir.path()).await;
        let repo = Repository::parse("default_cluster/myweb").unwrap();
        let config = push_blob(&r, &repo, b"{}").await;
        let layer = push_blob(&r, &repo, b"layer").await;
        let body = image(&config, &layer);
        let tag = Reference::parse("1.0").unwrap();
        // A blob the repository does not have: refused, naming it.
        let other = Repository::parse("other").unwrap();
        let e = r
            .put_manifest(&other, &tag, body.as_bytes(), DOCKER_MANIFEST, "bob")
            .await
            .unwrap_err();
        assert!(
            matches!(
                &e,
                Error::ManifestReference {
                    what: RegistrySubject::Blob,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            format!("the manifest references blob {config}, which other does not have")
        );
        let m = r
            .put_manifest(&repo, &tag, body.as_bytes(), DOCKER_MANIFEST, "alice")
            .await
            .unwrap();
        let doc = r.manifest(&repo, &tag, Some("alice")).await.unwrap();
        assert_eq!(doc.body, body);
        assert_eq!(doc.digest, m.digest.to_string());
        assert_eq!(r.repository(&repo).await.unwrap().pulls, 1);
        assert_eq!(r.tags(&repo, None, None).await.unwrap(), ["1.0"]);
        assert_eq!(
            r.catalog(None, None).await.unwrap(),
            ["default_cluster/myweb"]
        );
        // Mount into another repository, then a manifest there.
        assert!(r.mount(&repo, &other, &layer, "bob").await.unwrap());
        assert!(r.mount(&repo, &other, &config, "bob").await.unwrap());
        r.put_manifest(
            &other,
            &Reference::Digest(m.digest),
            body.as_bytes(),
            "",
            "bob",
        )
        .await
        .unwrap();
        assert_eq!(
            r.catalog(Some(1), None).await.unwrap(),
            ["default_cluster/myweb"]
        );
        assert_eq!(
            r.catalog(None, Some("default_cluster/myweb"))
                .await
                .unwrap(),
            ["other"]
        );

        // Referenced blobs survive collection; an unreferenced old one goes.
        let stray = push_blob(&r, &repo, b"stray").await;
        assert!(r
            .collect_garbage(Duration::from_secs(3600))
            .await
            .unwrap()
            .is_empty());
        assert_eq!(r.collect_garbage(Duration::ZERO).await.unwrap(), [stray]);
        assert!(r.blob(&repo, &stray).await.unwrap().is_none());
        r.delete_manifest(&repo, &m.digest, "alice").await.unwrap();
        assert!(r.tags(&repo, None, None).await.unwrap().is_empty());
        assert!(r.manifest(&repo, &tag, None).await.is_err());
        // Still referenced from `other`.
        assert!(r.collect_garbage(Duration::ZERO).await.unwrap().is_empty());
        r.delete_manifest(&other, &m.digest, "bob").await.unwrap();
        let mut gone = r.collect_garbage(Duration::ZERO).await.unwrap();
        gone.sort();
        let mut want = vec![config, layer];
        want.sort();
        assert_eq!(gone, want);
    }
}
