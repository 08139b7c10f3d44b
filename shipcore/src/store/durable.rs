//! `DurableStore`: the embedded default state store, one redb file.
//!
//! Three tables: `entries` maps a key to its last revision and value, `changes`
//! maps a revision to the encoded change, and `meta` holds the current
//! revision and the compaction point. Every write is committed with
//! immediate durability (fsync) before the call returns, so an acknowledged
//! write survives a crash; writes that arrive together share one
//! transaction and one fsync (group commit), each with its own revision. redb is blocking, so
//! every call runs on tokio's blocking pool.

use std::fmt;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use redb::{Database, ReadTransaction, ReadableTable, Table, TableDefinition, WriteTransaction};
use tokio::sync::broadcast;

use super::{
    check_batch, check_key, check_value, next_revision, prefix_end, watch, Change, ChangeKind,
    ChangeStream, Expect, Op, Page, Store, Versioned,
};
use crate::{Error, Result};

const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("entries");
const CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("changes");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// The page cache of the database file. redb's default is 1 GiB; the
/// store's reads are few and mostly at start, so a smaller cache keeps a
/// large cluster's memory for its state.
const CACHE: usize = 128 << 20;

/// Names of the rows of the `meta` table.
const REVISION: &str = "revision";
const COMPACTED: &str = "compacted";

/// Tags of an encoded change: one put, one delete, or the changes of a batch.
const PUT: u8 = 0;
const DELETE: u8 = 1;
const BATCH: u8 = 2;

/// The state store in a redb file. Clones share the same database.
#[derive(Clone)]
pub struct DurableStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The open database; `None` while it is reopened. redb refuses every
    /// transaction after an I/O error (a full disk) until the file is
    /// closed and opened again, which the next write (or read) does.
    db: std::sync::RwLock<Option<Arc<Database>>>,
    /// An I/O error happened: reopen before the next transaction.
    broken: std::sync::atomic::AtomicBool,
    path: PathBuf,
    /// Held from the start of a write transaction until its change is
    /// published, so live changes go out in revision order.
    writer: Mutex<()>,
    /// Writes waiting for the next group commit (see `write`).
    queue: Mutex<Vec<Job>>,
    live: broadcast::Sender<watch::Written>,
}

impl fmt::Debug for DurableStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DurableStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// What a write operation did, which decides whether its transaction is
/// committed.
enum Outcome<T> {
    /// Nothing changed: the transaction is dropped, which saves an fsync.
    Unchanged(T),
    /// The tables changed: commit, then publish the changes (of one
    /// revision) if there are any.
    Changed(T, Vec<Change>),
}

/// Turns redb's many error types into [`Error::Storage`] saying what failed
/// ([`Error::Io`] for the disk's own errors).
trait Context<T> {
    fn context(self, doing: &str) -> Result<T>;
}

impl<T, E: Into<redb::Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, doing: &str) -> Result<T> {
        self.map_err(|e| match e.into() {
            // The disk's own error, typed (a full disk is told apart).
            redb::Error::Io(source) => Error::Io {
                what: format!("the state store cannot {doing}"),
                source,
            },
            e => Error::Storage {
                reason: format!("cannot {doing}: {e}"),
            },
        })
    }
}

impl DurableStore {
    /// Opens the store at `path`, creating the file if it does not exist.
    /// This blocks on the file system (and on recovery after a crash), so
    /// call it at start-up or from a blocking task.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_watch_capacity(path, watch::DEFAULT_CAPACITY)
    }

    /// Like [`DurableStore::open`], with change streams that are lost once
    /// their reader falls `capacity` changes behind the writers.
    pub fn open_with_watch_capacity(path: impl AsRef<Path>, capacity: usize) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        private_file(&path)?;
        let db = open_database(&path)?;
        Ok(DurableStore {
            inner: Arc::new(Inner {
                db: std::sync::RwLock::new(Some(Arc::new(db))),
                broken: std::sync::atomic::AtomicBool::new(false),
                path,
                writer: Mutex::new(()),
                queue: Mutex::new(Vec::new()),
                live: watch::channel(capacity),
            }),
        })
    }

    /// The file the store lives in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `op` in a read transaction on the blocking pool.
    async fn read<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&ReadTransaction) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let db = inner.database()?;
            let txn = db.begin_read().context("begin a read transaction")?;
            let out = op(&txn);
            match &out {
                Err(Error::Storage { reason }) if reason.contains("Previous I/O error") => {
                    inner.broke()
                }
                Err(Error::Io { .. }) => inner.broke(),
                _ => {}
            }
            out
        })
        .await
    }

    /// Runs `op` in a write transaction on the blocking pool, commits it
    /// durably if `op` changed something, then publishes the change `op` made,
    /// if any. A refused write (its check failed before it touched a table)
    /// changes nothing.
    ///
    /// Group commit: writes that arrive while another commits wait in a
    /// queue, and the next writer to hold the lock runs all of them, in
    /// order, in one transaction with one fsync. Each sees the ones before
    /// it, gets its own revision and is answered only once the commit is
    /// durable; a storage failure fails every write of the group.
    async fn write<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tables<'_>) -> Result<Outcome<T>> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |tables| {
            let tables = match tables {
                Ok(tables) => tables,
                // The group failed before this write ran.
                Err(failure) => {
                    let _ = tx.send(Err(failure.error()));
                    return Step::Answered(Box::new(|_| {}));
                }
            };
            match op(tables) {
                // Answered after the group: it may have read what an
                // earlier write of the group made, which must be durable.
                Ok(Outcome::Unchanged(out)) => Step::Answered(Box::new(move |group| {
                    let _ = tx.send(group.map(|()| out).map_err(|f| f.error()));
                })),
                Ok(Outcome::Changed(out, changes)) => Step::Changed(
                    changes,
                    Box::new(move |committed| {
                        let _ = tx.send(committed.map(|()| out).map_err(|f| f.error()));
                    }),
                ),
                // Storage failed mid-way: the tables may hold part of it.
                Err(e @ (Error::Storage { .. } | Error::Io { .. })) => {
                    let failure = Failure::of(&e);
                    let _ = tx.send(Err(e));
                    Step::Broken(failure)
                }
                // Refused by its checks, which come before any change.
                Err(e) => Step::Answered(Box::new(move |group| {
                    let _ = tx.send(match group {
                        Ok(()) => Err(e),
                        Err(f) => Err(f.error()),
                    });
                })),
            }
        });
        self.inner
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(job);
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            inner.commit_queued();
            Ok(())
        })
        .await?;
        rx.await.unwrap_or_else(|_| {
            Err(Error::Storage {
                reason: "a store write was dropped".to_owned(),
            })
        })
    }
}

/// A queued write. Given the group's tables it runs and says what it did;
/// given the reason the group failed before it ran, it answers with that.
type Job =
    Box<dyn for<'a, 't> FnOnce(std::result::Result<&'a mut Tables<'t>, Failure>) -> Step + Send>;

/// A failure every write of a group shares (errors are not `Clone`): a
/// full disk stays one, so the facade can say so (507).
#[derive(Debug, Clone)]
struct Failure {
    reason: String,
    full: bool,
}

impl Failure {
    fn of(e: &Error) -> Self {
        Failure {
            reason: match e {
                Error::Storage { reason } => reason.clone(),
                e => e.to_string(),
            },
            full: e.is_out_of_space(),
        }
    }

    fn error(&self) -> Error {
        if self.full {
            Error::Io {
                what: self.reason.clone(),
                source: std::io::Error::from(std::io::ErrorKind::StorageFull),
            }
        } else {
            Error::Storage {
                reason: self.reason.clone(),
            }
        }
    }
}

/// How a queued write answers its caller once its group is settled: given
/// the group's failure when its answer depends on the group.
type Answer = Box<dyn FnOnce(std::result::Result<(), Failure>) + Send>;

/// What one queued write did.
enum Step {
    /// Nothing to commit.
    Answered(Answer),
    /// Changed the tables: answered with the commit's outcome.
    Changed(Vec<Change>, Answer),
    /// Storage failed (its caller has the error): the group is aborted.
    Broken(Failure),
}

impl Inner {
    /// The database, opened again first if an I/O error broke it.
    fn database(&self) -> Result<Arc<Database>> {
        use std::sync::atomic::Ordering;
        if self.broken.load(Ordering::Acquire) {
            self.reopen()?;
        }
        self.db
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| Error::Storage {
                reason: "the store is being reopened".to_owned(),
            })
    }

    /// Notes a failed transaction: the next one reopens the file (redb
    /// answers every transaction after an I/O error with "previous I/O
    /// error" until then).
    fn broke(&self) {
        self.broken
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Closes and opens the file again (recovering what redb needs to),
    /// once no transaction holds the old one.
    fn reopen(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        let mut slot = self.db.write().unwrap_or_else(PoisonError::into_inner);
        if !self.broken.load(Ordering::Acquire) {
            return Ok(());
        }
        if let Some(old) = slot.take() {
            // Readers that began before hold it a moment longer.
            let mut old = old;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                match Arc::try_unwrap(old) {
                    Ok(db) => {
                        drop(db);
                        break;
                    }
                    Err(still) if std::time::Instant::now() < deadline => {
                        old = still;
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                    Err(still) => {
                        *slot = Some(still);
                        return Err(Error::Storage {
                            reason: "cannot reopen the store: transactions still hold it"
                                .to_owned(),
                        });
                    }
                }
            }
        }
        let db = open_database(&self.path)?;
        *slot = Some(Arc::new(db));
        self.broken.store(false, Ordering::Release);
        tracing::info!(path = %self.path.display(), "the state store was reopened after an I/O error");
        Ok(())
    }

    /// Runs every queued write in one transaction (see `write`). Returns
    /// at once when an earlier group took them all.
    fn commit_queued(&self) {
        // A writer that panicked left no half-done write behind (redb
        // aborts an uncommitted transaction), so a poisoned lock is safe.
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let jobs = std::mem::take(&mut *self.queue.lock().unwrap_or_else(PoisonError::into_inner));
        if jobs.is_empty() {
            return;
        }
        let db = match self.database() {
            Ok(db) => db,
            Err(e) => return fail_all(jobs, &Failure::of(&e)),
        };
        let txn = match db.begin_write().context("begin a write transaction") {
            Ok(txn) => txn,
            Err(e) => {
                self.broke();
                return fail_all(jobs, &Failure::of(&e));
            }
        };
        // On an error the transaction is dropped, which aborts it.
        let mut tables = match Tables::open(&txn) {
            Ok(t) => t,
            Err(e) => return fail_all(jobs, &Failure::of(&e)),
        };
        // Each write's answer, its changes, and whether it ran after a
        // change of the group (then its answer stands only if the group
        // commits).
        let mut answers: Vec<(Answer, Vec<Change>, bool)> = Vec::new();
        let mut changed = false;
        let mut jobs = jobs.into_iter();
        let mut broken = None;
        for job in jobs.by_ref() {
            match job(Ok(&mut tables)) {
                Step::Answered(answer) => answers.push((answer, Vec::new(), changed)),
                Step::Changed(changes, answer) => {
                    changed = true;
                    answers.push((answer, changes, true));
                }
                Step::Broken(failure) => {
                    broken = Some(failure);
                    break;
                }
            }
        }
        drop(tables);
        let outcome = match broken {
            Some(failure) => {
                let _ = txn.abort();
                // Those after the failure did not run: they fail with it.
                fail_all(jobs.collect(), &failure);
                Err(failure)
            }
            None if !changed => {
                let _ = txn.abort();
                Ok(())
            }
            None => txn
                .commit()
                .context("commit a write transaction")
                .map_err(|e| Failure::of(&e)),
        };
        if outcome.is_err() {
            self.broke();
        }
        for (answer, changes, depends) in answers {
            if outcome.is_ok() && !changes.is_empty() {
                // Sending fails only when nobody listens, which is fine.
                let _ = self.live.send(changes.into());
            }
            answer(if depends { outcome.clone() } else { Ok(()) });
        }
    }
}

/// Answers every write of `jobs` with the group's failure, without running
/// them.
fn fail_all(jobs: Vec<Job>, failure: &Failure) {
    for job in jobs {
        job(Err(failure.clone()));
    }
}

/// Opens (or creates) the database file and its tables.
fn open_database(path: &Path) -> Result<Database> {
    let db = Database::builder()
        .set_cache_size(CACHE)
        .create(path)
        .map_err(|e| {
            let what = format!("cannot open {}", path.display());
            match redb::Error::from(e) {
                // A full disk stays one (the next call tries again).
                redb::Error::Io(source) if crate::error::out_of_space(&source) => {
                    Error::io(what, source)
                }
                e => Error::Storage {
                    reason: format!("{what}: {e}"),
                },
            }
        })?;
    // Create the tables up front so read transactions can always open them.
    let txn = db.begin_write().context("begin a write transaction")?;
    {
        Tables::open(&txn)?;
    }
    txn.commit().context("create the store's tables")?;
    Ok(db)
}

/// The store holds password hashes and engines' TLS keys: a new file is
/// made readable by its owner only (0600), and an existing one readable by
/// others is reported.
fn private_file(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        match std::fs::metadata(path) {
            Ok(m) => {
                let mode = m.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    tracing::warn!(
                        path = %path.display(),
                        mode = format!("{mode:o}"),
                        "the state store can be read by other users than its owner (chmod 600 it)"
                    );
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .context(&format!("create {}", path.display()))?;
            }
            Err(e) => {
                return Err(Error::Storage {
                    reason: format!("cannot read {}: {e}", path.display()),
                })
            }
        }
    }
    Ok(())
}

/// Runs `op` on tokio's blocking pool.
async fn blocking<T, F>(op: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(op)
        .await
        .map_err(|e| Error::Storage {
            reason: format!("a store task failed: {e}"),
        })?
}

/// The tables of one write transaction.
struct Tables<'txn> {
    entries: Table<'txn, &'static str, &'static [u8]>,
    changes: Table<'txn, u64, &'static [u8]>,
    meta: Table<'txn, &'static str, u64>,
}

impl<'txn> Tables<'txn> {
    fn open(txn: &'txn WriteTransaction) -> Result<Self> {
        Ok(Tables {
            entries: txn.open_table(ENTRIES).context("open the entries table")?,
            changes: txn.open_table(CHANGES).context("open the change log")?,
            meta: txn.open_table(META).context("open the metadata table")?,
        })
    }

    /// The revision of the last modification of `key`, 0 when absent.
    fn revision_of(&self, key: &str) -> Result<u64> {
        match self.entries.get(key).context("read an entry")? {
            Some(stored) => Ok(decode_entry(key, stored.value())?.0),
            None => Ok(0),
        }
    }

    /// Appends the changes of one write (all at one revision) to the log
    /// and makes their revision the current one.
    fn append(&mut self, changes: &[Change]) -> Result<()> {
        let Some(revision) = changes.first().map(|c| c.revision) else {
            return Ok(());
        };
        let encoded = match changes {
            [one] => encode_change(one),
            many => {
                let mut out = vec![BATCH];
                out.extend_from_slice(&(many.len() as u64).to_le_bytes());
                for c in many {
                    let one = encode_change(c);
                    out.extend_from_slice(&(one.len() as u64).to_le_bytes());
                    out.extend_from_slice(&one);
                }
                out
            }
        };
        self.changes
            .insert(revision, encoded.as_slice())
            .context("append to the change log")?;
        self.meta
            .insert(REVISION, revision)
            .context("update the revision")?;
        Ok(())
    }
}

/// Reads a row of the `meta` table, 0 when it was never written.
fn meta(table: &impl ReadableTable<&'static str, u64>, name: &str) -> Result<u64> {
    let stored = table.get(name).context("read the store's metadata")?;
    Ok(stored.map_or(0, |value| value.value()))
}

/// An entry is the revision of its last modification (8 bytes, little
/// endian) followed by the value.
fn encode_entry(revision: u64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&revision.to_le_bytes());
    out.extend_from_slice(value);
    out
}

fn decode_entry<'a>(key: &str, bytes: &'a [u8]) -> Result<(u64, &'a [u8])> {
    match bytes.split_first_chunk::<8>() {
        Some((revision, value)) => Ok((u64::from_le_bytes(*revision), value)),
        None => Err(Error::Storage {
            reason: format!("the stored entry of {key} is truncated"),
        }),
    }
}

/// A change is a tag byte, the key's length (8 bytes, little endian), the
/// key, then for a put the value.
fn encode_change(change: &Change) -> Vec<u8> {
    let (tag, value): (u8, &[u8]) = match &change.kind {
        ChangeKind::Put { value } => (PUT, value),
        ChangeKind::Delete => (DELETE, &[]),
    };
    let mut out = Vec::with_capacity(9 + change.key.len() + value.len());
    out.push(tag);
    out.extend_from_slice(&(change.key.len() as u64).to_le_bytes());
    out.extend_from_slice(change.key.as_bytes());
    out.extend_from_slice(value);
    out
}

/// A change decoded from the log: its key and, for a put, its value.
type Decoded<'a> = (&'a str, Option<&'a [u8]>);

/// Splits a log entry into its changes: a key and, for a put, its value,
/// without copying, so replay can filter by prefix first.
fn decode_changes(revision: u64, bytes: &[u8]) -> Result<Vec<Decoded<'_>>> {
    let corrupt = |what: &str| Error::Storage {
        reason: format!("change log entry {revision} is corrupt: {what}"),
    };
    if bytes.first() != Some(&BATCH) {
        return Ok(vec![decode_change(revision, bytes)?]);
    }
    let (count, mut rest) = bytes[1..]
        .split_first_chunk::<8>()
        .ok_or_else(|| corrupt("the batch size is truncated"))?;
    let count = u64::from_le_bytes(*count);
    let mut out = Vec::new();
    for _ in 0..count {
        let (length, tail) = rest
            .split_first_chunk::<8>()
            .ok_or_else(|| corrupt("a batch entry is truncated"))?;
        let length = usize::try_from(u64::from_le_bytes(*length))
            .ok()
            .filter(|length| *length <= tail.len())
            .ok_or_else(|| corrupt("a batch entry is truncated"))?;
        let (one, tail) = tail.split_at(length);
        out.push(decode_change(revision, one)?);
        rest = tail;
    }
    Ok(out)
}

/// Splits an encoded change into its key and, for a put, its value.
fn decode_change(revision: u64, bytes: &[u8]) -> Result<(&str, Option<&[u8]>)> {
    let corrupt = |what: &str| Error::Storage {
        reason: format!("change log entry {revision} is corrupt: {what}"),
    };
    let (&tag, rest) = bytes.split_first().ok_or_else(|| corrupt("it is empty"))?;
    let (length, rest) = rest
        .split_first_chunk::<8>()
        .ok_or_else(|| corrupt("the key length is truncated"))?;
    let length = usize::try_from(u64::from_le_bytes(*length))
        .ok()
        .filter(|length| *length <= rest.len())
        .ok_or_else(|| corrupt("the key is truncated"))?;
    let (key, value) = rest.split_at(length);
    let key = std::str::from_utf8(key).map_err(|_| corrupt("the key is not utf-8"))?;
    match tag {
        PUT => Ok((key, Some(value))),
        DELETE => Ok((key, None)),
        other => Err(corrupt(&format!("unknown kind {other}"))),
    }
}

#[async_trait::async_trait]
impl Store for DurableStore {
    async fn get(&self, key: &str) -> Result<Option<Versioned>> {
        let key = key.to_owned();
        self.read(move |txn| {
            let entries = txn.open_table(ENTRIES).context("open the entries table")?;
            let Some(stored) = entries.get(key.as_str()).context("read an entry")? else {
                return Ok(None);
            };
            let (revision, value) = decode_entry(&key, stored.value())?;
            let value = value.to_vec();
            Ok(Some(Versioned {
                key,
                value,
                revision,
            }))
        })
        .await
    }

    async fn put(&self, key: &str, value: Vec<u8>, expect: Expect) -> Result<u64> {
        check_key(key)?;
        check_value(key, &value)?;
        let key = key.to_owned();
        self.write(move |tables| {
            expect.check(&key, tables.revision_of(&key)?)?;
            let revision = next_revision(meta(&tables.meta, REVISION)?)?;
            let entry = encode_entry(revision, &value);
            tables
                .entries
                .insert(key.as_str(), entry.as_slice())
                .context("write an entry")?;
            let change = Change {
                revision,
                key,
                kind: ChangeKind::Put { value },
            };
            let changes = vec![change];
            tables.append(&changes)?;
            Ok(Outcome::Changed(revision, changes))
        })
        .await
    }

    async fn delete(&self, key: &str, expect: Expect) -> Result<Option<u64>> {
        check_key(key)?;
        let key = key.to_owned();
        self.write(move |tables| {
            let actual = tables.revision_of(&key)?;
            expect.check(&key, actual)?;
            if actual == 0 {
                return Ok(Outcome::Unchanged(None));
            }
            let revision = next_revision(meta(&tables.meta, REVISION)?)?;
            tables
                .entries
                .remove(key.as_str())
                .context("remove an entry")?;
            let change = Change {
                revision,
                key,
                kind: ChangeKind::Delete,
            };
            let changes = vec![change];
            tables.append(&changes)?;
            Ok(Outcome::Changed(Some(revision), changes))
        })
        .await
    }

    async fn batch(&self, ops: Vec<Op>) -> Result<u64> {
        check_batch(&ops)?;
        for op in &ops {
            if let Op::Put { key, value, .. } = op {
                check_value(key, value)?;
            }
        }
        self.write(move |tables| {
            let mut present = Vec::with_capacity(ops.len());
            for op in &ops {
                let actual = tables.revision_of(op.key())?;
                op.expect().check(op.key(), actual)?;
                present.push(actual != 0);
            }
            let current = meta(&tables.meta, REVISION)?;
            let changed = ops
                .iter()
                .zip(&present)
                .any(|(op, there)| matches!(op, Op::Put { .. }) || *there);
            if !changed {
                return Ok(Outcome::Unchanged(current));
            }
            let revision = next_revision(current)?;
            let mut changes = Vec::with_capacity(ops.len());
            for (op, there) in ops.into_iter().zip(present) {
                match op {
                    Op::Put { key, value, .. } => {
                        let entry = encode_entry(revision, &value);
                        tables
                            .entries
                            .insert(key.as_str(), entry.as_slice())
                            .context("write an entry")?;
                        changes.push(Change {
                            revision,
                            key,
                            kind: ChangeKind::Put { value },
                        });
                    }
                    Op::Delete { key, .. } if there => {
                        tables
                            .entries
                            .remove(key.as_str())
                            .context("remove an entry")?;
                        changes.push(Change {
                            revision,
                            key,
                            kind: ChangeKind::Delete,
                        });
                    }
                    Op::Delete { .. } => {}
                }
            }
            tables.append(&changes)?;
            Ok(Outcome::Changed(revision, changes))
        })
        .await
    }

    async fn page(&self, page: Page<'_>) -> Result<Vec<Versioned>> {
        let prefix = page.prefix.to_owned();
        let after = page.after.map(str::to_owned);
        let (limit, reverse) = (page.limit, page.reverse);
        self.read(move |txn| {
            let entries = txn.open_table(ENTRIES).context("open the entries table")?;
            let end = prefix_end(&prefix);
            let lower = match (&after, reverse) {
                (Some(a), false) if a.as_str() >= prefix.as_str() => Bound::Excluded(a.as_str()),
                _ => Bound::Included(prefix.as_str()),
            };
            let upper = match (&after, reverse, &end) {
                (Some(a), true, Some(e)) if a > e => Bound::Excluded(e.as_str()),
                (Some(a), true, _) => Bound::Excluded(a.as_str()),
                (_, _, Some(e)) => Bound::Excluded(e.as_str()),
                (_, _, None) => Bound::Unbounded,
            };
            if let (Bound::Excluded(l) | Bound::Included(l), Bound::Excluded(u)) = (lower, upper) {
                if l >= u {
                    return Ok(Vec::new());
                }
            }
            let range = entries
                .range::<&str>((lower, upper))
                .context("list entries")?;
            let mut found = Vec::new();
            let mut take = |item: std::result::Result<
                (redb::AccessGuard<'_, &str>, redb::AccessGuard<'_, &[u8]>),
                redb::StorageError,
            >|
             -> Result<bool> {
                let (key, stored) = item.context("list entries")?;
                let key = key.value();
                if !key.starts_with(prefix.as_str()) || found.len() >= limit {
                    return Ok(false);
                }
                let (revision, value) = decode_entry(key, stored.value())?;
                found.push(Versioned {
                    key: key.to_owned(),
                    value: value.to_vec(),
                    revision,
                });
                Ok(true)
            };
            if reverse {
                for item in range.rev() {
                    if !take(item)? {
                        break;
                    }
                }
            } else {
                for item in range {
                    if !take(item)? {
                        break;
                    }
                }
            }
            Ok(found)
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Versioned>> {
        let prefix = prefix.to_owned();
        self.read(move |txn| {
            let entries = txn.open_table(ENTRIES).context("open the entries table")?;
            let mut found = Vec::new();
            for item in entries.range(prefix.as_str()..).context("list entries")? {
                let (key, stored) = item.context("list entries")?;
                let key = key.value();
                // Keys sharing the prefix are contiguous in key order.
                if !key.starts_with(prefix.as_str()) {
                    break;
                }
                let (revision, value) = decode_entry(key, stored.value())?;
                found.push(Versioned {
                    key: key.to_owned(),
                    value: value.to_vec(),
                    revision,
                });
            }
            Ok(found)
        })
        .await
    }

    async fn revision(&self) -> Result<u64> {
        self.read(|txn| {
            let table = txn.open_table(META).context("open the metadata table")?;
            meta(&table, REVISION)
        })
        .await
    }

    async fn changes(&self, prefix: &str, since: u64) -> Result<ChangeStream> {
        // Subscribe before the read transaction starts: any write committed
        // after its snapshot is then published to this receiver.
        let receiver = self.inner.live.subscribe();
        let filter = prefix.to_owned();
        let (replay, covered) = self
            .read(move |txn| {
                let table = txn.open_table(META).context("open the metadata table")?;
                let compacted = meta(&table, COMPACTED)?;
                if since < compacted {
                    return Err(Error::WatchLost {
                        revision: since,
                        reason: format!("the change log was compacted up to {compacted}"),
                    });
                }
                let current = meta(&table, REVISION)?;
                let log = txn.open_table(CHANGES).context("open the change log")?;
                let mut replay = Vec::new();
                let after = (Bound::Excluded(since), Bound::Unbounded);
                for item in log.range::<u64>(after).context("read the change log")? {
                    let (revision, encoded) = item.context("read the change log")?;
                    let revision = revision.value();
                    for (key, value) in decode_changes(revision, encoded.value())? {
                        if !key.starts_with(filter.as_str()) {
                            continue;
                        }
                        let kind = match value {
                            Some(value) => ChangeKind::Put {
                                value: value.to_vec(),
                            },
                            None => ChangeKind::Delete,
                        };
                        replay.push(Change {
                            revision,
                            key: key.to_owned(),
                            kind,
                        });
                    }
                }
                Ok((replay, current.max(since)))
            })
            .await?;
        Ok(watch::stream(replay, receiver, prefix.to_owned(), covered))
    }

    async fn compact(&self, up_to: u64) -> Result<()> {
        self.write(move |tables| {
            let current = meta(&tables.meta, REVISION)?;
            if up_to > current {
                return Err(Error::invalid(
                    "revision",
                    format!("cannot compact up to {up_to}, beyond the current revision {current}"),
                ));
            }
            if up_to <= meta(&tables.meta, COMPACTED)? {
                return Ok(Outcome::Unchanged(()));
            }
            tables
                .changes
                .retain_in(..=up_to, |_, _| false)
                .context("compact the change log")?;
            tables
                .meta
                .insert(COMPACTED, up_to)
                .context("record the compaction point")?;
            Ok(Outcome::Changed((), Vec::new()))
        })
        .await
    }
}
