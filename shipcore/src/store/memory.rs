//! `MemoryStore`: the state store in memory, for tests and examples.
//!
//! Everything lives behind one mutex, so a write, its log entry and its
//! publication on the live channel happen atomically and in revision order.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast;

use super::{
    check_key, next_revision, watch, Change, ChangeKind, ChangeStream, Expect, Store, Versioned,
};
use crate::{Error, Result};

/// The state store in memory. Clones share the same data.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    live: broadcast::Sender<Change>,
}

#[derive(Debug, Default)]
struct State {
    /// Key to (revision of last modification, value).
    entries: BTreeMap<String, (u64, Vec<u8>)>,
    /// Changes in revision order, from just above `compacted` to `revision`.
    log: Vec<Change>,
    revision: u64,
    compacted: u64,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::with_watch_capacity(watch::DEFAULT_CAPACITY)
    }

    /// An empty store whose change streams are lost once their reader falls
    /// `capacity` changes behind the writers.
    pub fn with_watch_capacity(capacity: usize) -> Self {
        MemoryStore {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                live: watch::channel(capacity),
            }),
        }
    }

    fn state(&self) -> Result<MutexGuard<'_, State>> {
        // A poisoned lock means a writer panicked half-way; the data may be
        // inconsistent, so refuse to go on rather than serve it.
        self.inner.state.lock().map_err(|_| Error::Storage {
            reason: "the in-memory store was poisoned by a panicking writer".to_owned(),
        })
    }

    /// Records a write at `revision` that was already applied to `entries`.
    fn record(&self, state: &mut State, revision: u64, key: &str, kind: ChangeKind) {
        state.revision = revision;
        let change = Change {
            revision,
            key: key.to_owned(),
            kind,
        };
        state.log.push(change.clone());
        // Sending fails only when nobody listens, which is fine.
        let _ = self.inner.live.send(change);
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Versioned>> {
        let state = self.state()?;
        Ok(state.entries.get(key).map(|(revision, value)| Versioned {
            key: key.to_owned(),
            value: value.clone(),
            revision: *revision,
        }))
    }

    async fn put(&self, key: &str, value: Vec<u8>, expect: Expect) -> Result<u64> {
        check_key(key)?;
        let mut state = self.state()?;
        let actual = state.entries.get(key).map_or(0, |(revision, _)| *revision);
        expect.check(key, actual)?;
        let revision = next_revision(state.revision)?;
        state
            .entries
            .insert(key.to_owned(), (revision, value.clone()));
        self.record(&mut state, revision, key, ChangeKind::Put { value });
        Ok(revision)
    }

    async fn delete(&self, key: &str, expect: Expect) -> Result<Option<u64>> {
        check_key(key)?;
        let mut state = self.state()?;
        let actual = state.entries.get(key).map_or(0, |(revision, _)| *revision);
        expect.check(key, actual)?;
        if actual == 0 {
            return Ok(None);
        }
        let revision = next_revision(state.revision)?;
        state.entries.remove(key);
        self.record(&mut state, revision, key, ChangeKind::Delete);
        Ok(Some(revision))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Versioned>> {
        let state = self.state()?;
        Ok(state
            .entries
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, (revision, value))| Versioned {
                key: key.clone(),
                value: value.clone(),
                revision: *revision,
            })
            .collect())
    }

    async fn revision(&self) -> Result<u64> {
        Ok(self.state()?.revision)
    }

    async fn changes(&self, prefix: &str, since: u64) -> Result<ChangeStream> {
        let state = self.state()?;
        if since < state.compacted {
            return Err(Error::WatchLost {
                revision: since,
                reason: format!("the change log was compacted up to {}", state.compacted),
            });
        }
        // Subscribing under the lock means no write can slip between the
        // snapshot of the log and the start of the live channel.
        let receiver = self.inner.live.subscribe();
        let start = state.log.partition_point(|change| change.revision <= since);
        let replay = state.log[start..]
            .iter()
            .filter(|change| change.key.starts_with(prefix))
            .cloned()
            .collect();
        let covered = state.revision.max(since);
        Ok(watch::stream(replay, receiver, prefix.to_owned(), covered))
    }

    async fn compact(&self, up_to: u64) -> Result<()> {
        let mut state = self.state()?;
        if up_to > state.revision {
            return Err(Error::invalid(
                "revision",
                format!(
                    "cannot compact up to {up_to}, beyond the current revision {}",
                    state.revision
                ),
            ));
        }
        if up_to <= state.compacted {
            return Ok(());
        }
        let end = state.log.partition_point(|change| change.revision <= up_to);
        state.log.drain(..end);
        state.compacted = up_to;
        Ok(())
    }
}
