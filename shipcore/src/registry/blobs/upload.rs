//! Uploads: started for an owner, appended to (resumably, hashing as they go), published by digest, cancelled.

#[allow(clippy::wildcard_imports)]
use super::*;

/// An upload's running hash, while this process holds it.
pub(super) struct Hashing {
    hasher: Sha256,
    size: u64,
}

/// A write of one buffer on a blocking thread; gives the buffer back.
type Write = tokio::task::JoinHandle<std::io::Result<Vec<u8>>>;

/// An upload's running hash taken out for one writer. Dropped without
/// being settled (the request went away mid-write), the hash is forgotten
/// once the write in flight has landed, so the next writer rebuilds it
/// from what the file holds; until then the upload counts as being
/// written.
pub(super) struct Taken {
    store: BlobStore,
    id: String,
    hashing: Option<Hashing>,
    writing: Option<Write>,
    settled: bool,
}

impl Taken {
    pub(super) fn size(&self) -> u64 {
        self.hashing.as_ref().map_or(0, |h| h.size)
    }

    pub(super) fn update(&mut self, bytes: &[u8]) {
        if let Some(h) = &mut self.hashing {
            h.hasher.update(bytes);
            h.size += bytes.len() as u64;
        }
    }

    /// Starts writing `buf` (after the write in flight, if any, landed:
    /// call [`Taken::landed`] first).
    pub(super) fn write(&mut self, file: &Arc<std::fs::File>, buf: Vec<u8>) {
        let file = file.clone();
        self.writing = Some(tokio::task::spawn_blocking(move || {
            std::io::Write::write_all(&mut &*file, &buf).map(|()| buf)
        }));
    }

    /// Waits for the write in flight; its buffer back for reuse.
    pub(super) async fn landed(&mut self, path: &Path) -> Result<Option<Vec<u8>>> {
        let Some(w) = self.writing.take() else {
            return Ok(None);
        };
        match w.await {
            Ok(Ok(buf)) => Ok(Some(buf)),
            Ok(Err(e)) => Err(io("cannot write", path, e)),
            Err(e) => Err(Error::System {
                reason: format!("a write to {} stopped: {e}", path.display()),
            }),
        }
    }

    pub(super) fn put_back(mut self) {
        self.settled = true;
        if let Some(h) = self.hashing.take() {
            self.store.put_back(&self.id, h);
        } else {
            self.store.forget(&self.id);
        }
    }

    pub(super) fn forget(&mut self) {
        self.settled = true;
        self.store.forget(&self.id);
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let store = self.store.clone();
        let id = std::mem::take(&mut self.id);
        match (self.writing.take(), tokio::runtime::Handle::try_current()) {
            (Some(w), Ok(rt)) => {
                rt.spawn(async move {
                    let _ = w.await;
                    store.forget(&id);
                });
            }
            _ => store.forget(&id),
        }
    }
}

impl BlobStore {
    /// Starts an upload that belongs to no one; its id. Such an upload is
    /// for this process's own use ([`BlobStore::put`]):
    /// [`BlobStore::check_upload`] refuses it to every caller.
    pub async fn start_upload(&self) -> Result<String> {
        self.start(None).await
    }

    /// Starts an upload on `owner`'s behalf; its id. Its owner is recorded
    /// beside it (before the upload file is made, so an upload never
    /// exists without it), for [`BlobStore::check_upload`].
    pub async fn start_upload_for(&self, owner: &UploadOwner) -> Result<String> {
        self.start(Some(owner)).await
    }

    pub(super) async fn start(&self, owner: Option<&UploadOwner>) -> Result<String> {
        let mut raw = [0u8; 16];
        getrandom::getrandom(&mut raw).map_err(|e| Error::System {
            reason: format!("no randomness for an upload id: {e}"),
        })?;
        let id: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        if let Some(owner) = owner {
            let record = serde_json::to_vec(owner).map_err(|e| Error::System {
                reason: format!("cannot encode an upload's owner: {e}"),
            })?;
            let path = self.owner_path(&id);
            let written = async {
                let mut f = new_private_file().open(&path).await?;
                tokio::io::AsyncWriteExt::write_all(&mut f, &record).await?;
                tokio::io::AsyncWriteExt::flush(&mut f).await
            }
            .await;
            if let Err(e) = written {
                let _ = remove_if_there(&path).await;
                return Err(io("cannot create", &path, e));
            }
        }
        let path = self.upload_path(&id);
        if let Err(e) = new_private_file().open(&path).await {
            let _ = remove_if_there(&self.owner_path(&id)).await;
            return Err(io("cannot create", &path, e));
        }
        if let Ok(mut h) = self.hashing.lock() {
            h.insert(
                id.clone(),
                Some(Hashing {
                    hasher: Sha256::new(),
                    size: 0,
                }),
            );
        }
        Ok(id)
    }

    /// Whom an upload belongs to: `None` when it has no owner record (an
    /// upload of [`BlobStore::start_upload`], one made before uploads were
    /// bound to their owner, or one that is gone).
    pub async fn upload_owner(&self, id: &str) -> Result<Option<UploadOwner>> {
        check_upload_id(id)?;
        let path = self.owner_path(id);
        match tokio::fs::read(&path).await {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(owner) => Ok(Some(owner)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "unreadable upload owner record");
                    Ok(None)
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("cannot read", &path, e)),
        }
    }

    /// Fails with the upload unknown ([`Error::RegistryUnknown`], as for an id
    /// never made) unless the upload was started by `owner` (same
    /// repository, same principal). Uploads without an owner record are
    /// refused to everyone.
    pub async fn check_upload(&self, id: &str, owner: &UploadOwner) -> Result<()> {
        match self.upload_owner(id).await? {
            Some(o) if o == *owner => Ok(()),
            _ => Err(unknown_upload(id)),
        }
    }

    /// Bytes an upload holds so far.
    pub async fn upload_size(&self, id: &str) -> Result<u64> {
        check_upload_id(id)?;
        match tokio::fs::metadata(self.upload_path(id)).await {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(unknown_upload(id)),
            Err(e) => Err(io("cannot read", &self.upload_path(id), e)),
        }
    }

    /// Takes an upload's running hash for one writer, rebuilding it from
    /// the file when this process does not hold it (after a restart, or
    /// after a writer that went away mid-write).
    pub(super) async fn take_hashing(&self, id: &str) -> Result<Taken> {
        let held = {
            let mut h = self.hashing.lock().map_err(|_| Error::System {
                reason: "upload table poisoned".into(),
            })?;
            match h.get_mut(id) {
                Some(slot @ Some(_)) => Ok(slot.take()),
                Some(None) => Err(()),
                None => {
                    h.insert(id.to_string(), None);
                    Ok(None)
                }
            }
        };
        let Ok(held) = held else {
            // What it holds so far, for a client that resumes (the other
            // writer may still be adding to it).
            return Err(Error::UploadBusy {
                upload: id.to_string(),
                held: self.upload_size(id).await.ok(),
            });
        };
        let mut taken = Taken {
            store: self.clone(),
            id: id.to_string(),
            hashing: held,
            writing: None,
            settled: false,
        };
        if taken.hashing.is_some() {
            return Ok(taken);
        }
        let path = self.upload_path(id);
        let rebuilt = async {
            let mut f = tokio::fs::File::open(&path).await?;
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = tokio::io::AsyncReadExt::read(&mut f, &mut buf).await?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                size += n as u64;
            }
            Ok::<_, std::io::Error>(Hashing { hasher, size })
        }
        .await;
        match rebuilt {
            Ok(h) => {
                taken.hashing = Some(h);
                Ok(taken)
            }
            Err(e) => {
                taken.forget();
                if e.kind() == std::io::ErrorKind::NotFound {
                    Err(unknown_upload(id))
                } else {
                    Err(io("cannot read", &path, e))
                }
            }
        }
    }

    pub(super) fn put_back(&self, id: &str, hashing: Hashing) {
        if let Ok(mut h) = self.hashing.lock() {
            h.insert(id.to_string(), Some(hashing));
        }
    }

    pub(super) fn forget(&self, id: &str) {
        if let Ok(mut h) = self.hashing.lock() {
            h.remove(id);
        }
    }

    /// Appends a stream of bytes to an upload, hashing as they arrive.
    /// `at`: where the client says the chunk starts (`Content-Range`); a
    /// chunk that does not start at the upload's end is refused
    /// ([`Error::UploadOffset`], the distribution API's 416), and so is a
    /// second writer while one writes ([`Error::UploadBusy`]). `limit`: the
    /// upload's largest size. A stream that fails half-way (the client went
    /// away) leaves the upload at what was received of it: it can resume.
    pub async fn append<S>(&self, id: &str, at: Option<u64>, limit: u64, body: S) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, Error>> + Send,
    {
        check_upload_id(id)?;
        let mut taken = self.take_hashing(id).await?;
        let result = self.append_taken(id, at, limit, body, &mut taken).await;
        match &result {
            // The hash no longer says what the file holds: the next writer
            // rebuilds it from the file.
            Err(Error::System { .. } | Error::Io { .. }) => taken.forget(),
            _ => taken.put_back(),
        }
        result
    }

    pub(super) async fn append_taken<S>(
        &self,
        id: &str,
        at: Option<u64>,
        limit: u64,
        body: S,
        taken: &mut Taken,
    ) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, Error>> + Send,
    {
        let held = taken.size();
        if let Some(at) = at {
            if at != held {
                return Err(Error::UploadOffset {
                    upload: id.to_string(),
                    held,
                    at,
                });
            }
        }
        let path = self.upload_path(id);
        let file = std::sync::Arc::new(
            tokio::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .await
                .map_err(|e| io("cannot open", &path, e))?
                .into_std()
                .await,
        );
        // Bytes are gathered into buffers of WRITE_BUFFER and written on a
        // blocking thread while the next buffer fills (one thread hand-off
        // per buffer, not per network read); every FLUSH_EVERY bytes a
        // flush starts beside the writes, so the disk works while the
        // network delivers and the fsync at publish finds little left.
        let mut pending: Vec<u8> = Vec::with_capacity(WRITE_BUFFER);
        let mut flushing: Option<tokio::task::JoinHandle<()>> = None;
        let mut unflushed = 0u64;
        let mut body = std::pin::pin!(body);
        let mut failed = None;
        loop {
            let chunk = match body.next().await {
                None => break,
                Some(Ok(c)) => c,
                Some(Err(e)) => {
                    failed = Some(e);
                    break;
                }
            };
            if taken.size() + chunk.len() as u64 > limit {
                failed = Some(Error::registry_invalid(
                    RegistrySubject::Blob,
                    format!("larger than the {limit} bytes allowed"),
                ));
                break;
            }
            taken.update(&chunk);
            pending.extend_from_slice(&chunk);
            if pending.len() < WRITE_BUFFER {
                continue;
            }
            // The buffer of the write before comes back for the next one.
            let mut next = taken
                .landed(&path)
                .await?
                .unwrap_or_else(|| Vec::with_capacity(WRITE_BUFFER));
            next.clear();
            let full = std::mem::replace(&mut pending, next);
            unflushed += full.len() as u64;
            taken.write(&file, full);
            if unflushed >= FLUSH_EVERY && flushing.as_ref().is_none_or(|h| h.is_finished()) {
                let file = file.clone();
                unflushed = 0;
                flushing = Some(tokio::task::spawn_blocking(move || {
                    // Best effort: publish syncs the file in any case.
                    let _ = file.sync_data();
                }));
            }
        }
        // What arrived is written, also when the stream broke off: the
        // upload resumes from there.
        taken.landed(&path).await?;
        if !pending.is_empty() {
            taken.write(&file, pending);
            taken.landed(&path).await?;
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(taken.size()),
        }
    }

    /// Publishes an upload as the blob `digest`: refused (and the upload
    /// removed) when its bytes do not hash to it. A blob that exists
    /// already (a concurrent push of the same bytes) is kept as it is.
    ///
    /// The upload ends with it (see [`BlobStore::publish`] for one that
    /// outlives it).
    pub async fn finish(&self, id: &str, digest: &Digest) -> Result<u64> {
        let size = self.publish(id, digest).await?;
        let _ = self.cancel(id).await;
        Ok(size)
    }

    /// Publishes an upload as the blob `digest`, as [`BlobStore::finish`]
    /// does, but keeps the upload until [`BlobStore::cancel`] ends it: the
    /// blob is a second name of its file, so a process killed before the
    /// blob is linked into its repository leaves an upload that can be
    /// finished again (or cancelled), never one that is gone but not
    /// published.
    pub async fn publish(&self, id: &str, digest: &Digest) -> Result<u64> {
        check_upload_id(id)?;
        let mut taken = self.take_hashing(id).await?;
        let path = self.upload_path(id);
        let Some(hashing) = taken.hashing.take() else {
            return Err(Error::System {
                reason: format!("upload {id} has no hash"),
            });
        };
        // The upload was hashed with sha256 as it came; a blob named by
        // another algorithm (rare: sha512) is read once more to hash it so.
        let got = match digest.algorithm() {
            Algorithm::Sha256 => Digest::from_bytes(hashing.hasher.finalize().into()),
            Algorithm::Sha512 => match hash_file_sha512(&path).await {
                Ok(d) => d,
                Err(e) => {
                    taken.forget();
                    return Err(io("cannot read", &path, e));
                }
            },
        };
        if got != *digest {
            let _ = tokio::fs::remove_file(&path).await;
            let _ = remove_if_there(&self.owner_path(id)).await;
            taken.forget();
            return Err(Error::registry_invalid(
                RegistrySubject::Digest,
                format!("the upload's bytes hash to {got}, not {digest}"),
            ));
        }
        let size = hashing.size;
        let published = async {
            let f = tokio::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .await?;
            f.sync_all().await?;
            let target = self.blob_path(digest);
            if let Some(dir) = target.parent() {
                create_private_dir(dir).await?;
            }
            match tokio::fs::hard_link(&path, &target).await {
                // Published before (the same bytes: a blob is named by
                // its digest).
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                other => other?,
            }
            if let Some(dir) = target.parent() {
                if let Ok(d) = tokio::fs::File::open(dir).await {
                    let _ = d.sync_all().await;
                }
            }
            Ok::<_, std::io::Error>(())
        }
        .await;
        taken.forget();
        match published {
            Ok(()) => Ok(size),
            Err(e) => Err(io("cannot publish", &path, e)),
        }
    }

    /// A whole blob in one go (the distribution API's monolithic upload):
    /// started, appended, published as `digest`; an upload that fails is
    /// removed.
    pub async fn put<S>(&self, digest: &Digest, limit: u64, body: S) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, Error>> + Send,
    {
        let id = self.start_upload().await?;
        if let Err(e) = self.append(&id, None, limit, body).await {
            let _ = self.cancel(&id).await;
            return Err(e);
        }
        let done = self.publish(&id, digest).await;
        // No one else knows this upload: it ends either way.
        let _ = self.cancel(&id).await;
        done
    }

    /// Ends an upload without publishing it.
    pub async fn cancel(&self, id: &str) -> Result<()> {
        check_upload_id(id)?;
        self.forget(id);
        let _ = remove_if_there(&self.owner_path(id)).await;
        match tokio::fs::remove_file(self.upload_path(id)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(unknown_upload(id)),
            Err(e) => Err(io("cannot remove", &self.upload_path(id), e)),
        }
    }
}

/// The sha512 digest of a file's bytes (read on a blocking thread).
async fn hash_file_sha512(path: &Path) -> std::io::Result<Digest> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        use std::io::Read as _;
        let mut f = std::fs::File::open(&path)?;
        let mut hasher = sha2::Sha512::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(Digest::sha512(hasher.finalize().into()))
    })
    .await
    .map_err(std::io::Error::other)?
}
