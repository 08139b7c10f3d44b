//! Engines: registering, listing and removing them, and the health checks
//! with backoff. An engine that fails a check takes no new placements until
//! it answers again.

use std::time::Duration;

use super::clock::now_rfc3339;
use super::docs::{EngineDoc, ENGINES};
use super::{Cluster, EngineSlot};
use crate::error::{Error, Result};
use crate::model::{EngineRecord, EventType, Health};
use crate::sched::{millicpus, EngineSnapshot};
use crate::store::{put_json, Expect};

impl Cluster {
    /// Registers an engine. It must answer; cpus and memory left at 0 take
    /// what the engine reports.
    pub async fn add_engine(&self, mut record: EngineRecord) -> Result<EngineDoc> {
        if record.engine.id.is_empty() {
            record.engine.id = record.id.clone();
        }
        record.validate()?;
        let id = record.engine.id.clone();
        if self.inner.state.lock().await.engines.contains_key(&id) {
            return Err(Error::Exists {
                kind: "engine".into(),
                id,
            });
        }
        let backend = self.inner.connector.connect(&record)?;
        let info = tokio::time::timeout(self.inner.opts.health_timeout * 3, backend.info())
            .await
            .map_err(|_| Error::Timeout {
                engine: id.clone(),
                seconds: (self.inner.opts.health_timeout * 3).as_secs(),
            })??;
        let images = backend.list_images().await.map(|l| l.len()).unwrap_or(0);
        if record.engine.cpus == 0.0 {
            record.engine.cpus = info.cpus as f64 / 1000.0;
        }
        if record.engine.memory == 0 {
            record.engine.memory = info.memory;
        }
        if record.id.is_empty() {
            record.id = id.clone();
        }
        let doc = EngineDoc {
            record,
            health: Health::Healthy,
            added: now_rfc3339(),
        };
        let mut st = self.inner.state.lock().await;
        if st.engines.contains_key(&id) {
            return Err(Error::Exists {
                kind: "engine".into(),
                id,
            });
        }
        put_json(
            self.inner.store.as_ref(),
            &format!("{ENGINES}{id}"),
            &doc,
            Expect::Absent,
        )
        .await?;
        st.index.add_engine(&EngineSnapshot {
            id: id.clone(),
            labels: doc.record.engine.labels.clone(),
            health: Health::Healthy,
            cpus: millicpus(doc.record.engine.cpus),
            memory: doc.record.engine.memory,
            containers: Vec::new(),
        })?;
        let now = tokio::time::Instant::now();
        st.bump();
        st.engines.insert(
            id.clone(),
            EngineSlot {
                doc: doc.clone(),
                backend,
                failures: 0,
                images,
                next_check: now,
            },
        );
        drop(st);
        let engine = Some(doc.record.engine.clone());
        self.inner
            .events
            .record(
                EventType::AddEngine,
                format!("engine={id}"),
                &["cluster"],
                engine,
                None,
            )
            .await?;
        Ok(doc)
    }

    pub async fn engines(&self) -> Vec<EngineDoc> {
        self.inner
            .state
            .lock()
            .await
            .engines
            .values()
            .map(|e| e.doc.clone())
            .collect()
    }

    /// One engine by id.
    pub async fn engine(&self, id: &str) -> Result<EngineDoc> {
        let st = self.inner.state.lock().await;
        st.engines
            .get(id)
            .map(|e| e.doc.clone())
            .ok_or_else(|| Error::missing("engine", id))
    }

    /// Forgets an engine. Its containers stay recorded; the reconcile loop
    /// reschedules those with restart policy `always`.
    pub async fn remove_engine(&self, id: &str) -> Result<()> {
        let mut st = self.inner.state.lock().await;
        let slot = st
            .engines
            .get(id)
            .ok_or_else(|| Error::missing("engine", id))?;
        let engine = slot.doc.record.engine.clone();
        self.inner
            .store
            .delete(&format!("{ENGINES}{id}"), Expect::Any)
            .await?;
        st.index.remove_engine(id)?;
        st.engines.remove(id);
        st.bump();
        drop(st);
        self.inner
            .events
            .record(
                EventType::RemoveEngine,
                format!("engine={id}"),
                &["cluster"],
                Some(engine),
                None,
            )
            .await?;
        self.inner.nudge.notify_one();
        Ok(())
    }

    /// Checks the engines whose check is due (all of them with `all`),
    /// concurrently, and records health changes.
    pub async fn check_health(&self, all: bool) {
        let now = tokio::time::Instant::now();
        let due: Vec<_> = {
            let st = self.inner.state.lock().await;
            st.engines
                .iter()
                .filter(|(_, e)| all || e.next_check <= now)
                .map(|(id, e)| (id.clone(), e.backend.clone()))
                .collect()
        };
        if due.is_empty() {
            return;
        }
        let timeout = self.inner.opts.health_timeout;
        let results = futures::future::join_all(due.into_iter().map(|(id, backend)| async move {
            let ok = matches!(
                tokio::time::timeout(timeout, backend.ping()).await,
                Ok(Ok(()))
            );
            // The image count for cluster info rides along with the check,
            // so serving info never waits on an engine.
            let images = if ok {
                match tokio::time::timeout(timeout, backend.list_images()).await {
                    Ok(Ok(list)) => Some(list.len()),
                    _ => None,
                }
            } else {
                None
            };
            (id, ok, images)
        }))
        .await;
        let mut changed = Vec::new();
        let mut counts_changed = false;
        {
            let mut st = self.inner.state.lock().await;
            for (id, ok, images) in results {
                let opts = &self.inner.opts;
                let Some(slot) = st.engines.get_mut(&id) else {
                    continue;
                };
                let before = slot.doc.health;
                if let Some(n) = images {
                    counts_changed |= slot.images != n;
                    slot.images = n;
                }
                if ok {
                    slot.failures = 0;
                    slot.next_check = tokio::time::Instant::now() + opts.health_interval;
                } else {
                    slot.failures += 1;
                    slot.next_check = tokio::time::Instant::now()
                        + backoff(opts.health_interval, opts.max_backoff, slot.failures);
                }
                let after = if ok {
                    Health::Healthy
                } else {
                    Health::Unhealthy
                };
                if before != after {
                    slot.doc.health = after;
                    let doc = slot.doc.clone();
                    if st.index.set_health(&id, after).is_ok() {
                        changed.push((doc, before));
                    }
                }
            }
            if !changed.is_empty() || counts_changed {
                st.bump();
            }
        }
        for (doc, before) in changed {
            let id = &doc.record.engine.id;
            let _ = put_json(
                self.inner.store.as_ref(),
                &format!("{ENGINES}{id}"),
                &doc,
                Expect::Any,
            )
            .await;
            let kind = match doc.health {
                Health::Healthy if before == Health::Unhealthy => Some(EventType::EngineUp),
                Health::Unhealthy => Some(EventType::EngineDown),
                _ => None,
            };
            if let Some(kind) = kind {
                let engine = Some(doc.record.engine.clone());
                if let Err(e) = self
                    .inner
                    .events
                    .record(kind, format!("engine={id}"), &["cluster"], engine, None)
                    .await
                {
                    tracing::warn!(error = %e, "cannot record an engine health event");
                }
            }
            self.inner.nudge.notify_one();
        }
    }
}

/// The wait before the next check of an engine that failed `failures` times
/// in a row: the interval, doubled per failure, at most `max`.
fn backoff(interval: Duration, max: Duration, failures: u32) -> Duration {
    interval
        .saturating_mul(1 << failures.saturating_sub(1).min(16))
        .min(max)
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = Duration::from_secs;
        let got: Vec<u64> = (1..=7).map(|f| backoff(s(1), s(30), f).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff(s(1), s(30), u32::MAX), s(30));
    }
}
