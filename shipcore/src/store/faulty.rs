//! `FaultyStore`: a store that fails on demand, for testing what callers
//! do when a write does not go through (feature `testing`).

use std::sync::{Arc, Mutex};

use super::{ChangeStream, Expect, Op, Page, Store, Versioned};
use crate::{Error, Result};

/// Wraps a store; writes (puts, deletes and batches) touching a key under a
/// prefix set with [`FaultyStore::fail_writes`] fail with
/// [`Error::Storage`] and change nothing.
#[derive(Clone)]
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    failing: Arc<Mutex<Vec<Failing>>>,
    /// Writes under the prefix wait this long first.
    slow: Arc<Mutex<Option<(String, std::time::Duration)>>>,
}

/// Writes under `prefix` fail after `ok` more of them went through.
#[derive(Debug)]
struct Failing {
    prefix: String,
    ok: u32,
    /// How many to fail; `None`: every one.
    times: Option<u32>,
}

impl std::fmt::Debug for FaultyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyStore")
            .field("failing", &*self.failing())
            .finish_non_exhaustive()
    }
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        FaultyStore {
            inner,
            failing: Arc::default(),
            slow: Arc::default(),
        }
    }

    /// Writes under `prefix` take `delay` before they happen (so a test
    /// can act while one is in flight).
    pub fn slow_writes(&self, prefix: &str, delay: std::time::Duration) {
        *self.slow.lock().unwrap_or_else(|p| p.into_inner()) = Some((prefix.to_string(), delay));
    }

    async fn pause<'a>(&self, keys: impl IntoIterator<Item = &'a str>) {
        let slow = self.slow.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some((prefix, delay)) = slow {
            if keys.into_iter().any(|k| k.starts_with(&prefix)) {
                tokio::time::sleep(delay).await;
            }
        }
    }

    /// Writes under `prefix` fail from now on.
    pub fn fail_writes(&self, prefix: &str) {
        self.failing().push(Failing {
            prefix: prefix.to_string(),
            ok: 0,
            times: None,
        });
    }

    /// The write under `prefix` after the next `ok` ones fails, once.
    pub fn fail_write_after(&self, prefix: &str, ok: u32) {
        self.failing().push(Failing {
            prefix: prefix.to_string(),
            ok,
            times: Some(1),
        });
    }

    /// Every write goes through again.
    pub fn heal(&self) {
        self.failing().clear();
    }

    fn failing(&self) -> std::sync::MutexGuard<'_, Vec<Failing>> {
        self.failing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a write touching `keys` fails (counted once per write).
    fn check<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> Result<()> {
        let keys: Vec<&str> = keys.into_iter().collect();
        let mut failing = self.failing();
        for f in failing.iter_mut() {
            let Some(key) = keys.iter().find(|k| k.starts_with(f.prefix.as_str())) else {
                continue;
            };
            if f.ok > 0 {
                f.ok -= 1;
                continue;
            }
            match &mut f.times {
                Some(0) => continue,
                Some(n) => *n -= 1,
                None => {}
            }
            return Err(Error::Storage {
                reason: format!("injected failure writing {key}"),
            });
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Store for FaultyStore {
    async fn get(&self, key: &str) -> Result<Option<Versioned>> {
        self.inner.get(key).await
    }

    async fn put(&self, key: &str, value: Vec<u8>, expect: Expect) -> Result<u64> {
        self.check([key])?;
        self.pause([key]).await;
        self.inner.put(key, value, expect).await
    }

    async fn delete(&self, key: &str, expect: Expect) -> Result<Option<u64>> {
        self.check([key])?;
        self.pause([key]).await;
        self.inner.delete(key, expect).await
    }

    async fn batch(&self, ops: Vec<Op>) -> Result<u64> {
        self.check(ops.iter().map(Op::key))?;
        self.pause(ops.iter().map(Op::key)).await;
        self.inner.batch(ops).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Versioned>> {
        self.inner.list(prefix).await
    }

    async fn page(&self, page: Page<'_>) -> Result<Vec<Versioned>> {
        self.inner.page(page).await
    }

    async fn revision(&self) -> Result<u64> {
        self.inner.revision().await
    }

    async fn changes(&self, prefix: &str, since: u64) -> Result<ChangeStream> {
        self.inner.changes(prefix, since).await
    }

    async fn compact(&self, up_to: u64) -> Result<()> {
        self.inner.compact(up_to).await
    }
}
