//! The state store: keyed documents with revisions, compare-and-swap, prefix
//! listing and change streams.
//!
//! The semantics follow etcd's, so callers run unchanged over etcd. One
//! global revision counter increases by one per successful write (put,
//! delete or batch); every key carries the revision of its last
//! modification; revision 0 means "absent". Every write is recorded in a
//! change log, which [`Store::changes`] replays before it follows live
//! writes, and which [`Store::compact`] trims. In a store that shares its
//! backend (an etcd cluster holding other namespaces, leader elections),
//! the writes of others take revisions too, so a store's own writes may
//! skip some: callers rely on revisions increasing, never on their being
//! consecutive.
//!
//! Implementations: [`MemoryStore`] for tests, [`DurableStore`], the
//! embedded default on redb, and `EtcdStore` (feature `etcd`) for several
//! replicas sharing one state. The [`conformance`] suite holds the checks
//! every implementation must pass.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Error, Result};

#[cfg(any(test, feature = "testing"))]
pub mod conformance;
mod durable;
#[cfg(feature = "etcd")]
mod etcd;
#[cfg(any(test, feature = "testing"))]
mod faulty;
mod memory;
mod watch;

pub use durable::DurableStore;
#[cfg(feature = "etcd")]
pub use etcd::{EtcdConfig, EtcdStore, Fence};
/// The etcd client the store is built on, for leases and elections.
#[cfg(feature = "etcd")]
pub use etcd_client;
#[cfg(any(test, feature = "testing"))]
pub use faulty::FaultyStore;
pub use memory::MemoryStore;

/// A stream of changes, in revision order, as returned by [`Store::changes`].
///
/// It ends after yielding an error, and quietly when the store is dropped.
pub type ChangeStream = futures::stream::BoxStream<'static, Result<Change>>;

/// The condition a write places on the current revision of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Write whatever the key holds.
    Any,
    /// Write only if the key does not exist.
    Absent,
    /// Write only if the key was last modified at this revision (0 meaning
    /// absent, as everywhere in the store).
    Revision(u64),
}

impl Expect {
    /// Whether a key whose last modification is `actual` (0 when absent)
    /// satisfies this condition.
    pub fn matches(self, actual: u64) -> bool {
        match self {
            Expect::Any => true,
            Expect::Absent => actual == 0,
            Expect::Revision(expected) => actual == expected,
        }
    }

    /// Checks the condition and builds the [`Error::Conflict`] a mismatch
    /// reports, so every implementation words it the same way.
    pub fn check(self, key: &str, actual: u64) -> Result<()> {
        if self.matches(actual) {
            return Ok(());
        }
        let expected = match self {
            Expect::Any | Expect::Absent => 0,
            Expect::Revision(expected) => expected,
        };
        Err(Error::Conflict {
            key: key.to_owned(),
            expected,
            actual,
        })
    }
}

/// One write of a [`Store::batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put {
        key: String,
        value: Vec<u8>,
        expect: Expect,
    },
    Delete {
        key: String,
        expect: Expect,
    },
}

impl Op {
    /// A put of `value` encoded as JSON.
    pub fn put_json<T: Serialize + ?Sized>(
        key: impl Into<String>,
        value: &T,
        expect: Expect,
    ) -> Result<Op> {
        let key = key.into();
        let value = serde_json::to_vec(value)
            .map_err(|e| Error::invalid(&key, format!("cannot be encoded as json: {e}")))?;
        Ok(Op::Put { key, value, expect })
    }

    pub fn key(&self) -> &str {
        match self {
            Op::Put { key, .. } | Op::Delete { key, .. } => key,
        }
    }

    pub fn expect(&self) -> Expect {
        match self {
            Op::Put { expect, .. } | Op::Delete { expect, .. } => *expect,
        }
    }

    /// Bytes the op puts on the wire: its key and value.
    pub fn size(&self) -> usize {
        match self {
            Op::Put { key, value, .. } => key.len() + value.len(),
            Op::Delete { key, .. } => key.len(),
        }
    }
}

/// Most operations in one [`Store::batch`]: one below etcd's default
/// `--max-txn-ops` (128), leaving room for the compare of a fenced write.
pub const MAX_BATCH_OPS: usize = 127;

/// Most bytes (keys and values) in one [`Store::batch`]: within etcd's
/// default request limit of 1.5 MiB, with room for the request's framing.
pub const MAX_BATCH_BYTES: usize = 1 << 20;

/// Most bytes in one document: what a single etcd request can carry.
pub const MAX_VALUE_BYTES: usize = MAX_BATCH_BYTES;

/// Which part of a prefix [`Store::page`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page<'a> {
    pub prefix: &'a str,
    /// Only keys strictly after this one (strictly before it with
    /// `reverse`); from the first (last) key when `None`.
    pub after: Option<&'a str>,
    /// At most this many documents.
    pub limit: usize,
    /// Descending key order.
    pub reverse: bool,
}

impl<'a> Page<'a> {
    /// The first `limit` documents under `prefix`, ascending.
    pub fn first(prefix: &'a str, limit: usize) -> Self {
        Page {
            prefix,
            after: None,
            limit,
            reverse: false,
        }
    }

    /// The last `limit` documents under `prefix`, newest key first.
    pub fn last(prefix: &'a str, limit: usize) -> Self {
        Page {
            prefix,
            after: None,
            limit,
            reverse: true,
        }
    }

    /// Whether `key` lies in the page's range (prefix and bound).
    pub fn admits(&self, key: &str) -> bool {
        key.starts_with(self.prefix)
            && match (self.after, self.reverse) {
                (None, _) => true,
                (Some(a), false) => key > a,
                (Some(a), true) => key < a,
            }
    }
}

/// A stored document with the revision of its last modification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub key: String,
    pub value: Vec<u8>,
    /// The global revision at which this key was last written.
    pub revision: u64,
}

impl Versioned {
    /// Decodes the value as JSON, reporting failures as [`Error::Decode`].
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.value).map_err(|e| Error::Decode {
            key: self.key.clone(),
            reason: e.to_string(),
        })
    }
}

/// One write recorded in the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The global revision this write created.
    pub revision: u64,
    pub key: String,
    pub kind: ChangeKind,
}

/// What a [`Change`] did to its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// The key was created or overwritten with this value.
    Put { value: Vec<u8> },
    /// The key was removed.
    Delete,
}

/// The state store. Object-safe, so `Arc<dyn Store>` works.
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// The document at `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Versioned>>;

    /// Writes `value` at `key` if `expect` holds and returns the new revision.
    /// On a mismatch it returns [`Error::Conflict`] and changes nothing.
    async fn put(&self, key: &str, value: Vec<u8>, expect: Expect) -> Result<u64>;

    /// Removes `key` if `expect` holds and returns the new revision, or `None`
    /// when there was nothing to remove (which is not a write and does not
    /// advance the revision). On a mismatch it returns [`Error::Conflict`].
    async fn delete(&self, key: &str, expect: Expect) -> Result<Option<u64>>;

    /// Applies every op of `ops`, or none: when a condition fails, the first
    /// failing op's [`Error::Conflict`] is returned and nothing changes. The
    /// batch is one write: the revision advances once, every key it changes
    /// carries the new revision, and its changes are logged and streamed
    /// together, in op order, at that revision (as an etcd transaction).
    /// Deleting an absent key changes nothing. Returns the revision after the
    /// batch.
    ///
    /// A key may appear once per batch. Batches of more than
    /// [`MAX_BATCH_OPS`] ops or [`MAX_BATCH_BYTES`] bytes are refused with
    /// [`Error::Invalid`], as etcd refuses them: callers split large work and
    /// decide what a failure between two batches means for them.
    async fn batch(&self, ops: Vec<Op>) -> Result<u64>;

    /// Every document whose key starts with `prefix`, sorted by key.
    async fn list(&self, prefix: &str) -> Result<Vec<Versioned>>;

    /// Part of a prefix, in key order (or reversed), for reading large
    /// ranges a page at a time.
    async fn page(&self, page: Page<'_>) -> Result<Vec<Versioned>>;

    /// The current global revision (0 for a store never written to).
    async fn revision(&self) -> Result<u64>;

    /// Every change to keys under `prefix` with a revision above `since`, in
    /// revision order: first those in the change log, then live ones as they
    /// happen, with no gap and no duplicate between the two.
    ///
    /// Returns [`Error::WatchLost`] if `since` is below the compaction point.
    /// If the consumer falls too far behind the writers, the stream yields
    /// [`Error::WatchLost`] carrying the revision up to which every matching
    /// change was delivered (resume from there) and ends.
    async fn changes(&self, prefix: &str, since: u64) -> Result<ChangeStream>;

    /// Drops change log entries with a revision up to and including `up_to`.
    /// Compacting below an earlier compaction point does nothing; compacting
    /// beyond the current revision is refused.
    async fn compact(&self, up_to: u64) -> Result<()>;
}

impl std::fmt::Debug for dyn Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

/// Forwarding, so generic code written for `S: Store` also takes shared
/// handles such as `Arc<dyn Store>`.
#[async_trait::async_trait]
impl<S: Store + ?Sized> Store for Arc<S> {
    async fn get(&self, key: &str) -> Result<Option<Versioned>> {
        (**self).get(key).await
    }

    async fn put(&self, key: &str, value: Vec<u8>, expect: Expect) -> Result<u64> {
        (**self).put(key, value, expect).await
    }

    async fn delete(&self, key: &str, expect: Expect) -> Result<Option<u64>> {
        (**self).delete(key, expect).await
    }

    async fn batch(&self, ops: Vec<Op>) -> Result<u64> {
        (**self).batch(ops).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Versioned>> {
        (**self).list(prefix).await
    }

    async fn page(&self, page: Page<'_>) -> Result<Vec<Versioned>> {
        (**self).page(page).await
    }

    async fn revision(&self) -> Result<u64> {
        (**self).revision().await
    }

    async fn changes(&self, prefix: &str, since: u64) -> Result<ChangeStream> {
        (**self).changes(prefix, since).await
    }

    async fn compact(&self, up_to: u64) -> Result<()> {
        (**self).compact(up_to).await
    }
}

/// Reads the document at `key` as JSON, with the revision to use for a later
/// compare-and-swap. A value that is not valid JSON for `T` is an
/// [`Error::Decode`].
pub async fn get_json<T: DeserializeOwned>(
    store: &(impl Store + ?Sized),
    key: &str,
) -> Result<Option<(T, u64)>> {
    match store.get(key).await? {
        Some(doc) => Ok(Some((doc.json()?, doc.revision))),
        None => Ok(None),
    }
}

/// Writes `value` as JSON at `key` if `expect` holds, returning the new
/// revision.
pub async fn put_json<T: Serialize + ?Sized>(
    store: &(impl Store + ?Sized),
    key: &str,
    value: &T,
    expect: Expect,
) -> Result<u64> {
    // Serialisation only fails for types JSON cannot represent (such as maps
    // with non-string keys), which is a fault of the value, not of the store.
    let bytes = serde_json::to_vec(value)
        .map_err(|e| Error::invalid(key, format!("cannot be encoded as json: {e}")))?;
    store.put(key, bytes, expect).await
}

/// Rejects keys no backend can store: etcd refuses the empty key, so every
/// implementation does.
pub(crate) fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::invalid("key", "must not be empty"));
    }
    Ok(())
}

/// The least string greater than every string starting with `prefix`, or
/// `None` when there is none (the empty prefix covers everything).
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match u32::from(last) {
            0xD7FF => Some('\u{E000}'),
            n => char::from_u32(n + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Rejects values larger than one etcd request can carry.
pub(crate) fn check_value(key: &str, value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(Error::invalid(
            key,
            format!(
                "a document of {} bytes is larger than the store's limit of {MAX_VALUE_BYTES}",
                value.len()
            ),
        ));
    }
    Ok(())
}

/// Rejects batches beyond the limits every backend can honour, empty keys
/// and keys given twice.
pub(crate) fn check_batch(ops: &[Op]) -> Result<()> {
    if ops.len() > MAX_BATCH_OPS {
        return Err(Error::invalid(
            "batch",
            format!(
                "{} operations is more than the limit of {MAX_BATCH_OPS}",
                ops.len()
            ),
        ));
    }
    let bytes: usize = ops.iter().map(Op::size).sum();
    if bytes > MAX_BATCH_BYTES {
        return Err(Error::invalid(
            "batch",
            format!("{bytes} bytes is more than the limit of {MAX_BATCH_BYTES}"),
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(ops.len());
    for op in ops {
        check_key(op.key())?;
        if !seen.insert(op.key()) {
            return Err(Error::invalid(
                "batch",
                format!("the key {} is written twice", op.key()),
            ));
        }
    }
    Ok(())
}

/// The revision after `current`. A u64 will not run out in practice, but a
/// corrupt counter must not wrap around to revisions already in use.
pub(crate) fn next_revision(current: u64) -> Result<u64> {
    current.checked_add(1).ok_or_else(|| Error::Storage {
        reason: "the revision counter is exhausted".to_owned(),
    })
}
