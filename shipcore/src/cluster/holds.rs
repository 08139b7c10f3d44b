//! What other services of the cluster (compose projects) use of it: engines'
//! backends and health, and reservations held by name, which the scheduler
//! counts as it counts deployed containers.

use std::sync::Arc;

use super::service::Cluster;
use crate::engine::EngineBackend;
use crate::error::{Error, Result};
use crate::model::Health;
use crate::sched::{Footprint, Placement, Request};

impl Cluster {
    /// Places `req` (one replica) and holds its footprint under
    /// `req.footprint.name` until [`Cluster::release_reservation`]; holding a name again
    /// moves the hold (the old one counts as free while the new one is
    /// placed, and stays if the new one does not fit).
    pub async fn hold_reservation(&self, req: &Request) -> Result<Placement> {
        let mut st = self.inner.state.lock().await;
        st.placements += 1;
        let result = st.hold(req);
        if result.is_err() {
            self.inner
                .placement_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        result
    }

    /// A dry run of a request: where it would go, or why nowhere.
    pub async fn plan_request(&self, req: &Request) -> Result<Placement> {
        self.inner.state.lock().await.plan(req)
    }

    /// Takes back a hold recorded earlier (after a restart) on `engine`,
    /// whatever its room now; false if the engine is not registered.
    pub async fn hold_reservation_at(&self, engine: &str, footprint: Footprint) -> bool {
        self.inner.state.lock().await.hold_at(engine, footprint)
    }

    /// Gives a hold back.
    pub async fn release_reservation(&self, name: &str) {
        self.inner.state.lock().await.unhold(name);
    }

    /// Whether the registry's secrets may go to `engine`: registered by an
    /// admin (see `EngineDoc::untrusted`).
    pub async fn trusted(&self, engine: &str) -> bool {
        let st = self.inner.state.lock().await;
        st.engine_id(engine)
            .and_then(|id| st.engines.get(&id))
            .is_some_and(|e| !e.doc.untrusted)
    }

    /// The engine a hold is on.
    pub async fn held_on(&self, name: &str) -> Option<String> {
        self.inner
            .state
            .lock()
            .await
            .held_on(name)
            .map(str::to_string)
    }

    /// The backend of a registered engine (its outer id or `engine.id`).
    pub async fn backend(&self, engine: &str) -> Result<Arc<dyn EngineBackend>> {
        let st = self.inner.state.lock().await;
        let id = st
            .engine_id(engine)
            .ok_or_else(|| Error::missing("engine", engine))?;
        st.engines
            .get(&id)
            .map(|slot| slot.backend.clone())
            .ok_or_else(|| Error::missing("engine", engine))
    }

    /// An engine's health as of its last check (`None`: not registered).
    pub async fn health(&self, engine: &str) -> Option<Health> {
        let st = self.inner.state.lock().await;
        let id = st.engine_id(engine)?;
        st.engines.get(&id).map(|slot| slot.doc.health)
    }
}
