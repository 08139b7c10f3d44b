//! Engines: registering, listing and removing them, and the health checks
//! with backoff. An engine that fails a check takes no new placements until
//! it answers again.
//!
//! A registration has two ids, as in Shipyard: the outer `id` (made by the
//! server, a UUID, unless the request gives one) and `engine.id`, by which
//! containers refer to the engine. Lookups and removal accept either.

use std::sync::Arc;
use std::time::Duration;

use super::docs::{engine_key, ContainerDoc, EngineDoc};
use super::state::{EngineSlot, IMAGE_RELIST};
use super::Cluster;
use crate::access::Principal;
use crate::engine::{EngineBackend, EngineInfo};
use crate::error::{Error, Result};
use crate::events::NewEvent;
use crate::model::{EngineRecord, EventType, Health};
use crate::store::{put_json, Expect, Op, MAX_BATCH_OPS};

impl Cluster {
    /// Registers an engine for `by`: as [`Cluster::add_engine`], after the
    /// policy on who may register where. Only `admin` registers engines on
    /// unix sockets, or on hosts outside [`ClusterOptions::engine_hosts`]:
    /// an engine is a place the server connects to, and other users'
    /// containers (and their environment) land on.
    ///
    /// [`ClusterOptions::engine_hosts`]: super::ClusterOptions::engine_hosts
    pub async fn add_engine_by(&self, record: EngineRecord, by: &Principal) -> Result<EngineDoc> {
        if by.role.name != "admin" {
            let addr = &record.engine.addr;
            let host = addr
                .split_once("://")
                .filter(|(scheme, _)| *scheme != "unix")
                .map(|(_, rest)| rest.trim_end_matches('/'))
                .and_then(|hostport| hostport.rsplit_once(':').map(|(h, _)| h))
                .map(|h| h.trim_start_matches('[').trim_end_matches(']'));
            match host {
                None => {
                    return Err(Error::Forbidden {
                        reason: format!(
                            "only an admin registers an engine on a unix socket ({addr})"
                        ),
                    })
                }
                Some(h) if !self.inner.opts.engine_hosts.iter().any(|a| a == h) => {
                    return Err(Error::Forbidden {
                        reason: format!(
                            "only an admin registers an engine on {h}: it is not among the hosts others may use (shipd --engine-hosts)"
                        ),
                    })
                }
                Some(_) => {}
            }
        }
        self.register(record, by.role.name != "admin").await
    }

    /// Registers an engine. It must answer; cpus and memory left at 0 take
    /// what the engine reports, and more than it reports is refused.
    pub async fn add_engine(&self, record: EngineRecord) -> Result<EngineDoc> {
        self.register(record, false).await
    }

    async fn register(&self, mut record: EngineRecord, untrusted: bool) -> Result<EngineDoc> {
        if record.engine.id.is_empty() {
            record.engine.id = record.id.clone();
        }
        record.validate()?;
        if record.id.is_empty() {
            record.id = crate::access::new_id()?;
        }
        let id = record.engine.id.clone();
        let outer = record.id.clone();
        let taken = |st: &super::state::State| {
            [&outer, &id]
                .into_iter()
                .find(|i| st.engine_id(i).is_some())
                .cloned()
        };
        if let Some(taken) = taken(&*self.inner.state.lock().await) {
            return Err(Error::Exists {
                kind: "engine".into(),
                id: taken,
            });
        }
        let backend = self.inner.connector.connect(&record)?;
        let limit = self.inner.opts.health_timeout * 3;
        let started = std::time::Instant::now();
        let info = tokio::time::timeout(limit, backend.info())
            .await
            .map_err(|_| Error::Timeout {
                engine: id.clone(),
                seconds: limit.as_secs(),
            })?
            // An error answer to `GET /info` is no verdict on the request:
            // the address is not a Docker engine that works.
            .map_err(|e| match e {
                Error::EngineApi {
                    engine,
                    status,
                    message,
                } => Error::Unreachable {
                    engine,
                    addr: record.engine.addr.clone(),
                    reason: format!("it answered GET /info with {status}: {message}"),
                },
                e => e,
            })?;
        fill_capacity(&mut record, &info)?;
        let doc = EngineDoc {
            record,
            health: Health::Healthy,
            added: self.inner.opts.clock.rfc3339(),
            docker_version: info.version.clone(),
            response_time_ns: u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
            untrusted,
        };
        // Written first (a second registration of the id loses there), then
        // taken in under the lock, which is not held across the write.
        self.write_new_engine(&id, &doc).await?;
        let mut st = self.inner.state.lock().await;
        // With a shared store, the write may have come back on the change
        // stream first (`follow.rs`): this very registration, taken in.
        let echoed = st
            .engines
            .get(&id)
            .is_some_and(|e| e.doc.record.id == outer && e.doc.added == doc.added);
        if echoed {
            st.set_health(&id, Health::Healthy);
        } else if let Some(taken) = taken(&st) {
            drop(st);
            let _ = self.inner.store.delete(&engine_key(&id), Expect::Any).await;
            return Err(Error::Exists {
                kind: "engine".into(),
                id: taken,
            });
        }
        let slot = EngineSlot {
            doc: doc.clone(),
            backend,
            failures: 0,
            images: info.images as usize,
            containers: info.containers as usize,
            next_check: self.inner.opts.clock.elapsed() + self.inner.opts.health_interval,
            images_listed: None,
        };
        if !echoed {
            st.add_engine(slot, Health::Healthy)?;
        }
        drop(st);
        let event = NewEvent::new(EventType::AddEngine, format!("engine={id}"), &["cluster"])
            .engine(doc.record.engine.clone());
        self.inner.events.record_all(vec![event]).await?;
        Ok(doc)
    }

    /// Stores a new engine's record; refused when its id is taken.
    async fn write_new_engine(&self, id: &str, doc: &EngineDoc) -> Result<()> {
        put_json(
            self.inner.store.as_ref(),
            &engine_key(id),
            &doc,
            Expect::Absent,
        )
        .await
        .map_err(|e| match e {
            Error::Conflict { .. } => Error::Exists {
                kind: "engine".into(),
                id: id.to_string(),
            },
            e => e,
        })?;
        Ok(())
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

    /// One engine by its id or its registration's outer id.
    pub async fn engine(&self, id: &str) -> Result<EngineDoc> {
        let st = self.inner.state.lock().await;
        st.engine_id(id)
            .and_then(|id| st.engines.get(&id))
            .map(|e| e.doc.clone())
            .ok_or_else(|| Error::missing("engine", id))
    }

    /// Removes an engine (by its id or its registration's outer id).
    ///
    /// An engine that holds containers of the cluster is refused (an
    /// [`Error::EngineConflict`] naming how many) unless `force`: then each
    /// of its containers is removed there (forgotten, when the engine does
    /// not answer), the records of those that should run and move
    /// (`always`, `unless-stopped`) are kept, the engine goes, and the
    /// reconcile loop, woken at once, places them elsewhere. So no
    /// container runs twice: the old copy is gone before its replacement is
    /// made (and one on an engine that did not answer is removed if that
    /// engine is registered again, as a replaced copy).
    pub async fn remove_engine(&self, id: &str, force: bool) -> Result<()> {
        let (engine_id, backend, on_engine) = {
            let st = self.inner.state.lock().await;
            let engine_id = st
                .engine_id(id)
                .ok_or_else(|| Error::missing("engine", id))?;
            let backend = st.engines.get(&engine_id).map(|e| e.backend.clone());
            let on_engine: Vec<ContainerDoc> = st
                .containers()
                .filter(|c| c.engine == engine_id)
                .cloned()
                .collect();
            (engine_id, backend, on_engine)
        };
        if !on_engine.is_empty() && !force {
            return Err(Error::EngineConflict {
                engine: engine_id,
                message: format!(
                    "it holds {} containers of this cluster; destroy them first, or remove the engine with force (?force=true), which removes them there and places those that should run elsewhere",
                    on_engine.len()
                ),
            });
        }
        // Out of the scheduler's choices first, so nothing new lands there.
        self.inner
            .state
            .lock()
            .await
            .set_health(&engine_id, Health::Unhealthy);
        for doc in on_engine {
            let Ok((_held, mut doc, _)) = self.hold(&doc.id).await else {
                continue;
            };
            if let Some(b) = &backend {
                match b.remove_container(&doc.id, true, true).await {
                    Ok(()) | Err(Error::NotFound { .. }) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, container = %doc.id, "cannot remove a container of an engine being removed; forgetting it")
                    }
                }
            }
            if doc.desired_running && doc.image.restart_policy.moves() {
                doc.state.running = false;
                self.save(doc).await?;
            } else {
                self.forget(&doc, EventType::Destroy).await?;
            }
        }
        self.inner
            .store
            .delete(&engine_key(&engine_id), Expect::Any)
            .await?;
        let Some(slot) = self.inner.state.lock().await.remove_engine(&engine_id) else {
            return Err(Error::missing("engine", id));
        };
        let event = NewEvent::new(
            EventType::RemoveEngine,
            format!("engine={engine_id}"),
            &["cluster"],
        )
        .engine(slot.doc.record.engine.clone());
        self.inner.events.record_all(vec![event]).await?;
        self.inner.nudge.notify_one();
        Ok(())
    }

    /// Checks the engines whose check is due (all of them with `all`),
    /// concurrently, and records health changes.
    pub async fn check_health(&self, all: bool) {
        let opts = &self.inner.opts;
        let now = opts.clock.elapsed();
        let due: Vec<_> = {
            let st = self.inner.state.lock().await;
            st.engines
                .iter()
                .filter(|(_, e)| all || e.next_check <= now)
                .map(|(id, e)| (id.clone(), e.backend.clone(), e.images_listed))
                .collect()
        };
        if due.is_empty() {
            return;
        }
        let timeout = opts.health_timeout;
        let probes = futures::future::join_all(
            due.into_iter()
                .map(|(id, backend, listed)| probe(id, backend, listed, now, timeout)),
        )
        .await;
        let changed = self.apply_probes(probes).await;
        if changed.is_empty() {
            return;
        }
        self.record_health_changes(&changed).await;
        self.inner.nudge.notify_one();
    }

    /// Records what the probes found in the engine table; the engines whose
    /// health changed, with their health before.
    async fn apply_probes(&self, probes: Vec<Probe>) -> Vec<(EngineDoc, Health)> {
        let opts = &self.inner.opts;
        let mut changed = Vec::new();
        {
            let mut st = self.inner.state.lock().await;
            let now = opts.clock.elapsed();
            let mut counts_changed = false;
            for Probe {
                id,
                ok,
                response_time,
                info,
                images,
            } in probes
            {
                if let Some((images, _)) = &images {
                    st.set_images(&id, images);
                }
                let Some(slot) = st.engines.get_mut(&id) else {
                    continue;
                };
                if let Some((_, count)) = images {
                    // Without a count from this check the next one lists
                    // again.
                    slot.images_listed = count.map(|c| (c, now));
                }
                let before = slot.doc.health;
                slot.doc.response_time_ns = response_time;
                if let Some(info) = info {
                    let (images, containers) = (info.images as usize, info.containers as usize);
                    counts_changed |= (slot.images, slot.containers) != (images, containers);
                    slot.images = images;
                    slot.containers = containers;
                    slot.doc.docker_version = info.version;
                }
                if ok {
                    slot.failures = 0;
                    slot.next_check = now + opts.health_interval;
                } else {
                    slot.failures += 1;
                    slot.next_check =
                        now + backoff(opts.health_interval, opts.max_backoff, slot.failures);
                }
                let after = if ok {
                    Health::Healthy
                } else {
                    Health::Unhealthy
                };
                if before != after && st.set_health(&id, after) {
                    if let Some(slot) = st.engines.get(&id) {
                        changed.push((slot.doc.clone(), before));
                    }
                }
            }
            if counts_changed {
                st.bump();
            }
        }
        changed
    }

    /// Stores the engines whose health changed, and their up/down events.
    async fn record_health_changes(&self, changed: &[(EngineDoc, Health)]) {
        // Health as last seen is recorded for whoever reads the store;
        // many engines change at once at start, so a batch at a time.
        for chunk in changed.chunks(MAX_BATCH_OPS) {
            let ops = chunk
                .iter()
                .map(|(doc, _)| Op::put_json(engine_key(doc.id()), doc, Expect::Any))
                .collect::<Result<Vec<_>>>();
            if let Err(e) = match ops {
                Ok(ops) => self.inner.store.batch(ops).await.map(|_| ()),
                Err(e) => Err(e),
            } {
                tracing::warn!(error = %e, "cannot record engines' health");
            }
        }
        let events: Vec<NewEvent> = changed
            .iter()
            .filter_map(|(doc, before)| {
                let kind = match doc.health {
                    Health::Healthy if *before == Health::Unhealthy => EventType::EngineUp,
                    Health::Unhealthy => EventType::EngineDown,
                    _ => return None,
                };
                let message = format!("engine={}", doc.id());
                Some(NewEvent::new(kind, message, &["cluster"]).engine(doc.record.engine.clone()))
            })
            .collect();
        if !events.is_empty() {
            if let Err(e) = self.inner.events.record_all(events).await {
                tracing::warn!(error = %e, "cannot record engine health events");
            }
        }
    }
}

/// Cpus and memory left at 0 take what the engine reports; more than it
/// reports is refused.
fn fill_capacity(record: &mut EngineRecord, info: &EngineInfo) -> Result<()> {
    let reported_cpus = info.cpus as f64 / 1000.0;
    if record.engine.cpus == 0.0 {
        record.engine.cpus = reported_cpus;
    } else if record.engine.cpus > reported_cpus && info.cpus > 0 {
        return Err(Error::invalid(
            "engine.cpus",
            format!(
                "{} is more than the engine has ({reported_cpus})",
                record.engine.cpus
            ),
        ));
    }
    if record.engine.memory == 0 {
        record.engine.memory = info.memory;
    } else if record.engine.memory > info.memory && info.memory > 0 {
        return Err(Error::invalid(
            "engine.memory",
            format!(
                "{} MiB is more than the engine has ({} MiB)",
                record.engine.memory, info.memory
            ),
        ));
    }
    Ok(())
}

/// What one check of an engine found.
struct Probe {
    id: String,
    ok: bool,
    response_time: u64,
    info: Option<EngineInfo>,
    /// The images it holds and the count they were listed at, when listed.
    images: Option<(Vec<String>, Option<usize>)>,
}

/// Checks one engine: a ping, then (when it answers) its info, and its
/// images when their count moved or a while passed.
async fn probe(
    id: String,
    backend: Arc<dyn EngineBackend>,
    listed: Option<(usize, Duration)>,
    now: Duration,
    timeout: Duration,
) -> Probe {
    let started = std::time::Instant::now();
    let ok = matches!(
        tokio::time::timeout(timeout, backend.ping()).await,
        Ok(Ok(()))
    );
    let response_time = if ok {
        u64::try_from(started.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    } else {
        0
    };
    // The counts for cluster info (images, and every container the
    // engine holds, ours or not) and the Docker version ride along
    // with the check, so serving them never waits on an engine.
    let info = if ok {
        match tokio::time::timeout(timeout, backend.info()).await {
            Ok(Ok(info)) => Some(info),
            _ => None,
        }
    } else {
        None
    };
    // The images it holds, for the scheduler's preference of an
    // engine that need not pull: listed again when the count moved
    // (or a while passed), with the count they were listed at.
    let count = info.as_ref().map(|i| i.images as usize);
    let stale = match (listed, count) {
        (None, _) | (_, None) => true,
        (Some((n, at)), Some(c)) => n != c || now.saturating_sub(at) >= IMAGE_RELIST,
    };
    let images = if ok && stale {
        match tokio::time::timeout(timeout, backend.list_images()).await {
            Ok(Ok(list)) => Some((
                list.into_iter()
                    .flat_map(|i| i.tags.into_iter().chain(i.digests))
                    .filter(|t| t != "<none>:<none>" && t != "<none>@<none>")
                    .collect::<Vec<String>>(),
                count,
            )),
            _ => None,
        }
    } else {
        None
    };
    Probe {
        id,
        ok,
        response_time,
        info,
        images,
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
