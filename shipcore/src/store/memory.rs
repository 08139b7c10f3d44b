//! `MemoryStore`: the state store in memory, for tests and examples.
//!
//! Everything lives behind one mutex, so a write, its log entry and its
//! publication on the live channel happen atomically and in revision order.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast;

use super::{
    check_batch, check_key, check_value, next_revision, watch, Change, ChangeKind, ChangeStream,
    Expect, Op, Page, Store, Versioned,
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
    live: broadcast::Sender<watch::Written>,
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

    /// Records the changes of a write at `revision`, already applied to
    /// `entries`.
    fn record(&self, state: &mut State, revision: u64, changes: Vec<Change>) {
        state.revision = revision;
        state.log.extend(changes.iter().cloned());
        // Sending fails only when nobody listens, which is fine.
        let _ = self.inner.live.send(changes.into());
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
        check_value(key, &value)?;
        let mut state = self.state()?;
        let actual = state.entries.get(key).map_or(0, |(revision, _)| *revision);
        expect.check(key, actual)?;
        let revision = next_revision(state.revision)?;
        state
            .entries
            .insert(key.to_owned(), (revision, value.clone()));
        let change = Change {
            revision,
            key: key.to_owned(),
            kind: ChangeKind::Put { value },
        };
        self.record(&mut state, revision, vec![change]);
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
        let change = Change {
            revision,
            key: key.to_owned(),
            kind: ChangeKind::Delete,
        };
        self.record(&mut state, revision, vec![change]);
        Ok(Some(revision))
    }

    async fn batch(&self, ops: Vec<Op>) -> Result<u64> {
        check_batch(&ops)?;
        for op in &ops {
            if let Op::Put { key, value, .. } = op {
                check_value(key, value)?;
            }
        }
        let mut state = self.state()?;
        for op in &ops {
            let actual = state.entries.get(op.key()).map_or(0, |(r, _)| *r);
            op.expect().check(op.key(), actual)?;
        }
        let changed = ops.iter().any(|op| match op {
            Op::Put { .. } => true,
            Op::Delete { key, .. } => state.entries.contains_key(key),
        });
        if !changed {
            return Ok(state.revision);
        }
        let revision = next_revision(state.revision)?;
        let mut changes = Vec::with_capacity(ops.len());
        for op in ops {
            match op {
                Op::Put { key, value, .. } => {
                    state.entries.insert(key.clone(), (revision, value.clone()));
                    changes.push(Change {
                        revision,
                        key,
                        kind: ChangeKind::Put { value },
                    });
                }
                Op::Delete { key, .. } => {
                    if state.entries.remove(&key).is_some() {
                        changes.push(Change {
                            revision,
                            key,
                            kind: ChangeKind::Delete,
                        });
                    }
                }
            }
        }
        self.record(&mut state, revision, changes);
        Ok(revision)
    }

    async fn page(&self, page: Page<'_>) -> Result<Vec<Versioned>> {
        let state = self.state()?;
        let lower = match (page.after, page.reverse) {
            (Some(a), false) if a >= page.prefix => Bound::Excluded(a),
            _ => Bound::Included(page.prefix),
        };
        let end = super::prefix_end(page.prefix);
        let upper = match (page.after, page.reverse, &end) {
            (Some(a), true, Some(e)) if a > e.as_str() => Bound::Excluded(e.as_str()),
            (Some(a), true, _) => Bound::Excluded(a),
            (_, _, Some(e)) => Bound::Excluded(e.as_str()),
            (_, _, None) => Bound::Unbounded,
        };
        if matches!((lower, upper), (Bound::Excluded(l) | Bound::Included(l), Bound::Excluded(u)) if l >= u)
        {
            return Ok(Vec::new());
        }
        let range = state.entries.range::<str, _>((lower, upper));
        let version = |(key, (revision, value)): (&String, &(u64, Vec<u8>))| Versioned {
            key: key.clone(),
            value: value.clone(),
            revision: *revision,
        };
        let found = if page.reverse {
            range
                .rev()
                .take_while(|(k, _)| k.starts_with(page.prefix))
                .take(page.limit)
                .map(version)
                .collect()
        } else {
            range
                .take_while(|(k, _)| k.starts_with(page.prefix))
                .take(page.limit)
                .map(version)
                .collect()
        };
        Ok(found)
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
