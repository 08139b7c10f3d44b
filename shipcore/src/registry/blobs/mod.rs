//! The content store: blobs on disk by digest, and uploads in progress.
//!
//! Layout under the root: `blobs/<algorithm>/<2 hex>/<hex>` for published
//! blobs (`sha256`, `sha512`), `uploads/<id>` for uploads in progress and `uploads/<id>.owner`
//! beside each upload started for a caller (the repository it was opened on
//! and the principal who opened it, as JSON: see [`UploadOwner`]). Every
//! folder the store makes is `0700` and every file `0600` (on Unix);
//! folders found wider at [`BlobStore::open`] are restricted, with a
//! warning. A blob's path is made from its parsed [`Digest`], never from
//! text a client sent. An upload is hashed while it streams in (the hasher
//! kept in memory beside the file; after a restart it is rebuilt by reading
//! the file once), and published by fsync + rename, so a blob file either
//! holds exactly the bytes of its digest or does not exist: a crash
//! mid-push leaves at most an upload file (and its owner record), which
//! [`BlobStore::open`] removes when it is older than the upload lifetime.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::names::{Algorithm, Digest, Repository};
use crate::error::{Error, RegistrySubject, Result};

mod upload;

use upload::Hashing;

/// Uploads untouched for this long are abandoned.
pub const UPLOAD_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Bytes written to an upload between two background flushes: the fsync at
/// publish then finds at most this much (plus what the disk has not caught
/// up with) still to write, instead of the whole blob.
const FLUSH_EVERY: u64 = 32 * 1024 * 1024;

/// Bytes gathered before one write to an upload's file.
const WRITE_BUFFER: usize = 1 << 20;

/// The algorithms blobs are kept by, each in a folder of its own.
const ALGORITHMS: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Sha512];

/// What follows an upload's id in the name of its owner record.
const OWNER_SUFFIX: &str = ".owner";

/// The mode of every folder the store makes.
#[cfg(unix)]
const DIR_MODE: u32 = 0o700;

/// The mode of every file the store makes.
#[cfg(unix)]
const FILE_MODE: u32 = 0o600;

/// Whom an upload belongs to: the repository it was opened on and the
/// principal (account name, or `key:<prefix>`) who opened it. Kept in a
/// file beside the upload (`uploads/<id>.owner`), so it outlives a restart
/// as the upload does; a call on the upload that names another repository
/// or comes from another principal finds no upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadOwner {
    pub repository: String,
    pub principal: String,
}

impl UploadOwner {
    pub fn new(repository: &Repository, principal: &str) -> Self {
        UploadOwner {
            repository: repository.to_string(),
            principal: principal.to_string(),
        }
    }
}

/// Blobs and uploads under one folder.
#[derive(Clone)]
pub struct BlobStore {
    root: PathBuf,
    /// Running hashes by upload id; an upload that is being appended to is
    /// taken out while it is (a second writer at once is refused).
    hashing: Arc<Mutex<HashMap<String, Option<Hashing>>>>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::io(format!("{what} {}", path.display()), e)
}

/// An upload that is not there (or not the caller's: answered the same).
fn unknown_upload(id: &str) -> Error {
    Error::registry_unknown(RegistrySubject::Upload, id)
}

/// Makes a folder (and its missing parents) `0700`.
async fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut b = tokio::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    b.mode(DIR_MODE);
    b.create(path).await
}

/// Makes a folder `0700` if it is not there, and restricts it to `0700`
/// if it is (warning when it was open to others).
async fn make_private_dir(path: &Path) -> Result<()> {
    create_private_dir(path)
        .await
        .map_err(|e| io("cannot create", path, e))?;
    restrict_dir(path).await
}

/// Restricts an existing folder to `0700`, warning when it was open to
/// others.
async fn restrict_dir(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = tokio::fs::metadata(path)
            .await
            .map_err(|e| io("cannot read", path, e))?
            .permissions()
            .mode()
            & 0o7777;
        if mode != DIR_MODE {
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{mode:04o}"),
                    "registry folder open to others: restricted to 0700"
                );
            }
            tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(DIR_MODE))
                .await
                .map_err(|e| io("cannot restrict", path, e))?;
        }
    }
    Ok(())
}

/// Options that create a file `0600` (only if it is not there).
fn new_private_file() -> tokio::fs::OpenOptions {
    let mut o = tokio::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    o.mode(FILE_MODE);
    o
}

/// Removes a file, a missing one being no error.
async fn remove_if_there(path: &Path) -> std::io::Result<()> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// An upload id: 32 hex characters (checked before it names a file).
fn check_upload_id(id: &str) -> Result<()> {
    if id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        Ok(())
    } else {
        Err(unknown_upload(id))
    }
}

impl BlobStore {
    /// Opens (or makes) the store under `root`, removing uploads abandoned
    /// for longer than [`UPLOAD_LIFETIME`]. Its folders are made `0700`,
    /// and those found wider (made by an earlier version) restricted.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for dir in [root.clone(), root.join("blobs"), root.join("uploads")] {
            make_private_dir(&dir).await?;
        }
        for algorithm in ALGORITHMS {
            let top = root.join("blobs").join(algorithm.name());
            make_private_dir(&top).await?;
            // The blobs' prefix folders (256 at most).
            let mut dirs = tokio::fs::read_dir(&top)
                .await
                .map_err(|e| io("cannot list", &top, e))?;
            while let Some(entry) = dirs
                .next_entry()
                .await
                .map_err(|e| io("cannot list", &top, e))?
            {
                if entry.file_type().await.is_ok_and(|t| t.is_dir()) {
                    restrict_dir(&entry.path()).await?;
                }
            }
        }
        let store = BlobStore {
            root,
            hashing: Arc::default(),
        };
        store.remove_abandoned(UPLOAD_LIFETIME).await?;
        Ok(store)
    }

    /// Removes upload files untouched for longer than `age` (with their
    /// owner records), and owner records older than that left without an
    /// upload (a crash between a publish and the record's removal).
    pub async fn remove_abandoned(&self, age: Duration) -> Result<usize> {
        let dir = self.root.join("uploads");
        let mut entries = tokio::fs::read_dir(&dir)
            .await
            .map_err(|e| io("cannot list", &dir, e))?;
        let now = SystemTime::now();
        let mut removed = 0;
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| io("cannot list", &dir, e))?
        {
            let old = entry
                .metadata()
                .await
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > age);
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_suffix(OWNER_SUFFIX) {
                let orphan = matches!(
                    tokio::fs::symlink_metadata(self.upload_path(id)).await,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound
                );
                if old && orphan {
                    let _ = tokio::fs::remove_file(entry.path()).await;
                }
                continue;
            }
            let busy = self
                .hashing
                .lock()
                .map(|h| h.get(&name).is_some_and(Option::is_none))
                .unwrap_or(true);
            if old && !busy {
                let _ = tokio::fs::remove_file(entry.path()).await;
                let _ = remove_if_there(&self.owner_path(&name)).await;
                if let Ok(mut h) = self.hashing.lock() {
                    h.remove(&name);
                }
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn blob_path(&self, d: &Digest) -> PathBuf {
        let hex = d.hex();
        self.root
            .join("blobs")
            .join(d.algorithm().name())
            .join(&hex[..2])
            .join(hex)
    }

    fn upload_path(&self, id: &str) -> PathBuf {
        self.root.join("uploads").join(id)
    }

    fn owner_path(&self, id: &str) -> PathBuf {
        self.root
            .join("uploads")
            .join(format!("{id}{OWNER_SUFFIX}"))
    }

    /// A blob's size, if the store holds it.
    pub async fn stat(&self, d: &Digest) -> Result<Option<u64>> {
        match tokio::fs::metadata(self.blob_path(d)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("cannot read", &self.blob_path(d), e)),
        }
    }

    /// When a blob was last published (a second push of the same bytes
    /// publishes it again).
    pub async fn published(&self, d: &Digest) -> Result<Option<SystemTime>> {
        match tokio::fs::metadata(self.blob_path(d)).await {
            Ok(m) => Ok(m.modified().ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("cannot read", &self.blob_path(d), e)),
        }
    }

    /// A blob opened for reading, with its size.
    pub async fn open_blob(&self, d: &Digest) -> Result<Option<(tokio::fs::File, u64)>> {
        let path = self.blob_path(d);
        match tokio::fs::File::open(&path).await {
            Ok(f) => {
                let len = f
                    .metadata()
                    .await
                    .map_err(|e| io("cannot read", &path, e))?
                    .len();
                Ok(Some((f, len)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("cannot open", &path, e)),
        }
    }

    /// Removes a blob; false when it was not there.
    pub async fn delete(&self, d: &Digest) -> Result<bool> {
        match tokio::fs::remove_file(self.blob_path(d)).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io("cannot remove", &self.blob_path(d), e)),
        }
    }

    /// Every blob the store holds, with when it was published.
    pub async fn blobs(&self) -> Result<Vec<(Digest, SystemTime)>> {
        let mut out = Vec::new();
        for algorithm in ALGORITHMS {
            let top = self.root.join("blobs").join(algorithm.name());
            let mut dirs = tokio::fs::read_dir(&top)
                .await
                .map_err(|e| io("cannot list", &top, e))?;
            while let Some(dir) = dirs
                .next_entry()
                .await
                .map_err(|e| io("cannot list", &top, e))?
            {
                let Ok(mut files) = tokio::fs::read_dir(dir.path()).await else {
                    continue;
                };
                while let Ok(Some(file)) = files.next_entry().await {
                    let name = file.file_name().to_string_lossy().into_owned();
                    let Ok(d) = Digest::parse(&format!("{}:{name}", algorithm.name())) else {
                        continue;
                    };
                    let when = file
                        .metadata()
                        .await
                        .and_then(|m| m.modified())
                        .unwrap_or(SystemTime::UNIX_EPOCH);
                    out.push((d, when));
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = std::result::Result<Bytes, Error>> {
        futures::stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    fn digest_of(data: &[u8]) -> Digest {
        Digest::from_bytes(Sha256::digest(data).into())
    }

    #[tokio::test]
    async fn chunked_upload_resumes_and_publishes_by_digest() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        let id = store.start_upload().await.unwrap();
        assert_eq!(
            store
                .append(&id, Some(0), 1 << 20, chunks(&[b"hello "]))
                .await
                .unwrap(),
            6
        );
        // A chunk that does not start at the end is refused, nothing written.
        assert!(matches!(
            store.append(&id, Some(3), 1 << 20, chunks(&[b"xx"])).await,
            Err(Error::UploadOffset { held: 6, at: 3, .. })
        ));
        // A new store over the same folder (a restart) rebuilds the hash.
        let again = BlobStore::open(dir.path()).await.unwrap();
        assert_eq!(again.upload_size(&id).await.unwrap(), 6);
        again
            .append(&id, Some(6), 1 << 20, chunks(&[b"wor", b"ld"]))
            .await
            .unwrap();
        let d = digest_of(b"hello world");
        assert_eq!(again.finish(&id, &d).await.unwrap(), 11);
        assert_eq!(again.stat(&d).await.unwrap(), Some(11));
        let path = again.blob_path(&d);
        assert_eq!(std::fs::read(path).unwrap(), b"hello world");
        assert!(again.upload_size(&id).await.is_err(), "the upload is gone");
        assert_eq!(again.blobs().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_published_upload_stays_until_it_is_ended() {
        // Killed between publishing and linking, the upload is still there
        // after a restart: published again, then ended.
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        let id = store.start_upload().await.unwrap();
        store
            .append(&id, None, 1 << 20, chunks(&[b"kept"]))
            .await
            .unwrap();
        let d = digest_of(b"kept");
        assert_eq!(store.publish(&id, &d).await.unwrap(), 4);
        assert_eq!(store.stat(&d).await.unwrap(), Some(4));
        let again = BlobStore::open(dir.path()).await.unwrap();
        assert_eq!(again.upload_size(&id).await.unwrap(), 4);
        assert_eq!(again.publish(&id, &d).await.unwrap(), 4);
        again.cancel(&id).await.unwrap();
        assert!(again.upload_size(&id).await.is_err());
        assert_eq!(std::fs::read(again.blob_path(&d)).unwrap(), b"kept");
    }

    /// Pseudo-random bytes (no two buffers alike).
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_that_goes_away_mid_write_leaves_a_resumable_upload() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        let data = noise(5 * WRITE_BUFFER / 2 + 1234, 7);
        let id = store.start_upload().await.unwrap();
        // 2.3 buffers arrive, in odd-sized pieces, then the client stalls
        // and the request is dropped (as when its connection closes).
        let sent = 9 * WRITE_BUFFER / 4;
        let pieces: Vec<_> = data[..sent]
            .chunks(65_521)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let stalled = futures::stream::iter(pieces).chain(futures::stream::pending());
        let cut = tokio::time::timeout(
            Duration::from_millis(300),
            store.append(&id, Some(0), u64::MAX, stalled),
        )
        .await;
        assert!(cut.is_err(), "the append was still waiting for the body");
        // Once the write in flight landed, the upload takes a writer again,
        // from what its file holds.
        let mut tries = 0;
        let held = loop {
            let held = store.upload_size(&id).await.unwrap();
            let rest = Bytes::copy_from_slice(&data[held as usize..]);
            match store
                .append(&id, Some(held), u64::MAX, futures::stream::iter([Ok(rest)]))
                .await
            {
                Ok(total) => {
                    assert_eq!(total, data.len() as u64);
                    break held;
                }
                Err(Error::UploadBusy { .. }) if tries < 100 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("{e}"),
            }
        };
        // Whole buffers landed; what was still being gathered did not.
        assert!(held >= WRITE_BUFFER as u64 && held < sent as u64, "{held}");
        let d = digest_of(&data);
        assert_eq!(store.finish(&id, &d).await.unwrap(), data.len() as u64);
        assert_eq!(std::fs::read(store.blob_path(&d)).unwrap(), data);
    }

    #[tokio::test]
    async fn many_buffers_in_small_pieces_publish_intact() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        let data = noise(3 * WRITE_BUFFER + 77, 11);
        let pieces: Vec<_> = data
            .chunks(4093)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let d = digest_of(&data);
        let size = store
            .put(&d, u64::MAX, futures::stream::iter(pieces))
            .await
            .unwrap();
        assert_eq!(size, data.len() as u64);
        assert_eq!(std::fs::read(store.blob_path(&d)).unwrap(), data);
    }

    #[tokio::test]
    async fn a_wrong_digest_leaves_nothing_and_limits_hold() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        let id = store.start_upload().await.unwrap();
        store
            .append(&id, None, 100, chunks(&[b"data"]))
            .await
            .unwrap();
        let wrong = digest_of(b"other");
        assert!(matches!(
            store.finish(&id, &wrong).await,
            Err(Error::RegistryInvalid {
                what: RegistrySubject::Digest,
                ..
            })
        ));
        assert!(store.stat(&wrong).await.unwrap().is_none());
        assert!(store.blobs().await.unwrap().is_empty());
        assert_eq!(
            std::fs::read_dir(dir.path().join("uploads"))
                .unwrap()
                .count(),
            0
        );

        let id = store.start_upload().await.unwrap();
        assert!(matches!(
            store.append(&id, None, 4, chunks(&[b"abc", b"de"])).await,
            Err(Error::RegistryInvalid {
                what: RegistrySubject::Blob,
                ..
            })
        ));
        // Cut back to what fits and was hashed: the upload can go on.
        assert_eq!(store.upload_size(&id).await.unwrap(), 3);
        store
            .append(&id, Some(3), 4, chunks(&[b"d"]))
            .await
            .unwrap();
        store.finish(&id, &digest_of(b"abcd")).await.unwrap();
        // Ids are checked before they name a file.
        for bad in ["../x", "", "ABCDEF0123456789ABCDEF0123456789"] {
            assert!(store.upload_size(bad).await.is_err());
            assert!(store.cancel(bad).await.is_err());
        }
    }

    /// Paths with their modes.
    #[cfg(unix)]
    type Modes = Vec<(PathBuf, u32)>;

    /// Every folder and file under `dir` (itself included), with its mode.
    #[cfg(unix)]
    fn modes(dir: &Path) -> (Modes, Modes) {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
        let (mut dirs, mut files) = (vec![(dir.to_path_buf(), mode(dir))], Vec::new());
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if std::fs::symlink_metadata(&p).unwrap().is_dir() {
                let (d, f) = modes(&p);
                dirs.extend(d);
                files.extend(f);
            } else {
                files.push((p.clone(), mode(&p)));
            }
        }
        (dirs, files)
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn folders_are_0700_and_files_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("registry");
        // Folders an earlier version left open to others are restricted
        // at open.
        let prefix = root.join("blobs/sha256/ab");
        std::fs::create_dir_all(&prefix).unwrap();
        for d in [
            root.clone(),
            root.join("blobs"),
            root.join("blobs/sha256"),
            prefix.clone(),
        ] {
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let store = BlobStore::open(&root).await.unwrap();
        // A monolithic blob, a chunked one published, one upload left open.
        let d = digest_of(b"monolithic");
        store
            .put(&d, 1 << 20, chunks(&[b"monolithic"]))
            .await
            .unwrap();
        let owner = UploadOwner::new(&Repository::parse("team/app").unwrap(), "alice");
        let id = store.start_upload_for(&owner).await.unwrap();
        store
            .append(&id, None, 1 << 20, chunks(&[b"chunked"]))
            .await
            .unwrap();
        store.finish(&id, &digest_of(b"chunked")).await.unwrap();
        let open = store.start_upload_for(&owner).await.unwrap();
        store
            .append(&open, None, 1 << 20, chunks(&[b"half"]))
            .await
            .unwrap();

        let (dirs, files) = modes(&root);
        let mut names: Vec<String> = files
            .iter()
            .map(|(p, _)| p.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        names.sort();
        let mut want = vec![
            format!("uploads/{open}"),
            format!("uploads/{open}.owner"),
            format!("blobs/sha256/{}/{}", &d.hex()[..2], d.hex()),
            {
                let c = digest_of(b"chunked").hex();
                format!("blobs/sha256/{}/{c}", &c[..2])
            },
        ];
        want.sort();
        assert_eq!(names, want);
        assert!(dirs.len() >= 6, "{dirs:?}");
        for (p, mode) in &dirs {
            assert_eq!(*mode, 0o700, "{} is {mode:o}", p.display());
        }
        for (p, mode) in &files {
            assert_eq!(*mode, 0o600, "{} is {mode:o}", p.display());
        }
    }

    #[tokio::test]
    async fn uploads_are_bound_to_who_started_them_where() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        let app = Repository::parse("team/app").unwrap();
        let other = Repository::parse("other/app").unwrap();
        let alice = UploadOwner::new(&app, "alice");
        let id = store.start_upload_for(&alice).await.unwrap();
        store.check_upload(&id, &alice).await.unwrap();
        for stranger in [
            UploadOwner::new(&app, "bob"),
            UploadOwner::new(&other, "alice"),
        ] {
            assert!(matches!(
                store.check_upload(&id, &stranger).await,
                Err(Error::RegistryUnknown {
                    what: RegistrySubject::Upload,
                    ..
                })
            ));
        }
        // The record outlives a restart.
        let again = BlobStore::open(dir.path()).await.unwrap();
        assert_eq!(again.upload_owner(&id).await.unwrap(), Some(alice.clone()));
        again.check_upload(&id, &alice).await.unwrap();
        // An upload without a record (the store's own, or one made before
        // uploads had owners) is no one's.
        let ownerless = store.start_upload().await.unwrap();
        assert!(store.check_upload(&ownerless, &alice).await.is_err());
        // Unknown and malformed ids look the same.
        assert!(store.check_upload(&"0".repeat(32), &alice).await.is_err());
        assert!(store.check_upload("../x", &alice).await.is_err());
        // Cancelled, a wrong digest, or published: the record goes too.
        store.cancel(&id).await.unwrap();
        assert!(store.check_upload(&id, &alice).await.is_err());
        let id = store.start_upload_for(&alice).await.unwrap();
        store.append(&id, None, 100, chunks(&[b"x"])).await.unwrap();
        assert!(store.finish(&id, &digest_of(b"y")).await.is_err());
        let id = store.start_upload_for(&alice).await.unwrap();
        store.append(&id, None, 100, chunks(&[b"x"])).await.unwrap();
        store.finish(&id, &digest_of(b"x")).await.unwrap();
        store.cancel(&ownerless).await.unwrap();
        let left: Vec<_> = std::fs::read_dir(dir.path().join("uploads"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "{left:?}");
        // Abandoned uploads go with their records; a record left alone
        // (a crash between a publish and its removal) goes too.
        let id = store.start_upload_for(&alice).await.unwrap();
        let stray = store.start_upload_for(&alice).await.unwrap();
        std::fs::remove_file(dir.path().join("uploads").join(&stray)).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(store.remove_abandoned(Duration::ZERO).await.unwrap(), 1);
        assert!(store.upload_owner(&id).await.unwrap().is_none());
        let left: Vec<_> = std::fs::read_dir(dir.path().join("uploads"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[tokio::test]
    async fn concurrent_pushes_of_one_blob_both_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let d = digest_of(&data);
        let push = |store: BlobStore, data: Vec<u8>| async move {
            let parts: Vec<std::result::Result<Bytes, Error>> = data
                .chunks(7_000)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            store.put(&d, 1 << 30, futures::stream::iter(parts)).await
        };
        let (a, b) = tokio::join!(
            tokio::spawn(push(store.clone(), data.clone())),
            tokio::spawn(push(store.clone(), data.clone()))
        );
        assert_eq!(a.unwrap().unwrap(), data.len() as u64);
        assert_eq!(b.unwrap().unwrap(), data.len() as u64);
        assert_eq!(std::fs::read(store.blob_path(&d)).unwrap(), data);
        assert!(store.delete(&d).await.unwrap());
        assert!(!store.delete(&d).await.unwrap());
    }
}
