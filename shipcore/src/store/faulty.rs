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
    failing: Arc<Mutex<Vec<String>>>,
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
        }
    }

    /// Writes under `prefix` fail from now on.
    pub fn fail_writes(&self, prefix: &str) {
        self.failing().push(prefix.to_string());
    }

    /// Every write goes through again.
    pub fn heal(&self) {
        self.failing().clear();
    }

    fn failing(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.failing.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check(&self, key: &str) -> Result<()> {
        if self.failing().iter().any(|p| key.starts_with(p.as_str())) {
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
        self.check(key)?;
        self.inner.put(key, value, expect).await
    }

    async fn delete(&self, key: &str, expect: Expect) -> Result<Option<u64>> {
        self.check(key)?;
        self.inner.delete(key, expect).await
    }

    async fn batch(&self, ops: Vec<Op>) -> Result<u64> {
        for op in &ops {
            self.check(op.key())?;
        }
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
