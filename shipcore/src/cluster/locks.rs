//! One operation at a time per container, and per request config for what
//! changes a group of containers (scaling, rescheduling, redeploying), so
//! concurrent calls give the answers a user expects: of two destroys one
//! succeeds and the other finds nothing; two scales to 3 leave 3.
//!
//! Locks are taken in one order — a config's, then a container's — and
//! dropped from the table when nobody holds or waits for them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use super::Cluster;
use crate::model::ImageConfig;

/// The lock table.
#[derive(Debug, Default)]
pub(super) struct Locks(Mutex<HashMap<String, Weak<AsyncMutex<()>>>>);

/// A held lock; released when dropped.
pub(super) type Held = OwnedMutexGuard<()>;

impl Locks {
    pub(super) async fn lock(&self, key: String) -> Held {
        let lock = {
            let mut table = self.0.lock().unwrap_or_else(|p| p.into_inner());
            match table.get(&key).and_then(Weak::upgrade) {
                Some(l) => l,
                None => {
                    // Forget the locks nobody holds any more.
                    if table.len() > 64 {
                        table.retain(|_, w| w.strong_count() > 0);
                    }
                    let l = Arc::new(AsyncMutex::new(()));
                    table.insert(key, Arc::downgrade(&l));
                    l
                }
            }
        };
        lock.lock_owned().await
    }
}

impl Cluster {
    /// Serialises operations on one container.
    pub(super) async fn lock_container(&self, id: &str) -> Held {
        self.inner.locks.lock(format!("container/{id}")).await
    }

    /// Serialises what changes the group of containers of one config.
    pub(super) async fn lock_group(&self, image: &ImageConfig) -> Held {
        let key = serde_json::to_string(image).unwrap_or_else(|_| image.name.clone());
        self.inner.locks.lock(format!("group/{key}")).await
    }
}
