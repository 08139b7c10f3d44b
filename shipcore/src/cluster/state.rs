//! What the cluster service holds in memory, rebuilt from the store on open,
//! and the methods that change it. Every change of containers, engines or
//! reservations goes through these methods, which keep the invariants in
//! one place:
//! - the scheduler's reservations are the footprints of the recorded
//!   containers plus those of deploys in flight (`pending`), nothing else;
//! - a container being deployed is in `pending` from its reservation until
//!   its record is written or the reservation is released;
//! - every change bumps the generation, which renderings are cached by.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::docs::{ContainerDoc, EngineDoc};
use crate::engine::EngineBackend;
use crate::error::{Error, Result};
use crate::model::{Container, Engine, Health, ImageConfig};
use crate::sched::{ClusterIndex, EngineSnapshot, Footprint, Placement, Request, Snapshot};

/// One registered engine at run time.
pub(super) struct EngineSlot {
    pub doc: EngineDoc,
    pub backend: Arc<dyn EngineBackend>,
    pub failures: u32,
    /// Images on the engine at the last health check.
    pub images: usize,
    /// Containers on the engine at the last health check, this cluster's
    /// and others'.
    pub containers: usize,
    /// When the next health check is due (the clock's monotonic reading).
    pub next_check: Duration,
    /// The engine's image count and the time (monotonic) of the last
    /// listing of its images: a check lists them again only when the count
    /// moved or [`IMAGE_RELIST`] passed (a new tag of an image it held
    /// moves no count).
    pub images_listed: Option<(usize, Duration)>,
}

/// How long an engine's image list is trusted while its image count stays.
pub(super) const IMAGE_RELIST: Duration = Duration::from_secs(60);

/// A container's reservation while it is being deployed.
#[derive(Debug, Clone)]
pub(super) struct Reservation {
    pub engine: String,
    pub footprint: Footprint,
}

/// A deploy's request and how many recorded containers share it.
struct Group {
    image: Arc<ImageConfig>,
    owner: Arc<crate::model::Owner>,
    containers: usize,
}

/// The state of the cluster service.
pub(super) struct State {
    pub engines: BTreeMap<String, EngineSlot>,
    containers: BTreeMap<String, ContainerDoc>,
    index: ClusterIndex,
    /// Drives the `random` strategy's seed, so placements differ.
    pub placements: u64,
    /// Bumped by every change to engines, containers or reservations (and
    /// image counts), so readers can cache what they render from them.
    /// Shared with the service, which reads it without the lock.
    generation: Arc<AtomicU64>,
    /// Reservations of containers being deployed, by name: the reconcile
    /// loop must not take them for orphans before their records are written.
    pending: HashMap<String, Reservation>,
    /// Deploys with recorded containers.
    groups: HashMap<String, Group>,
    /// Reservations other services hold on engines (a compose project's
    /// total), by name; they live as long as their owner keeps them.
    held: HashMap<String, Reservation>,
    /// With a store other replicas write too: the store revision of each
    /// container's record as held here, and of the deletion of records gone
    /// (the last [`TOMBSTONES`]), so a write that arrives late (a change
    /// stream's, or a local writer's that waited for the lock) never
    /// replaces a newer one. Empty with a store of this replica's own.
    revisions: Option<Revisions>,
}

/// Deleted records remembered with their revision (see `State::revisions`).
const TOMBSTONES: usize = 100_000;

#[derive(Default)]
struct Revisions {
    held: HashMap<String, u64>,
    gone: HashMap<String, u64>,
    /// `gone`'s ids in the order they went, to forget the oldest.
    order: std::collections::VecDeque<String>,
}

impl Revisions {
    /// The revision of the newest write known for `id` (0: none).
    fn of(&self, id: &str) -> u64 {
        self.held
            .get(id)
            .or_else(|| self.gone.get(id))
            .copied()
            .unwrap_or(0)
    }

    fn went(&mut self, id: &str, revision: u64) {
        self.held.remove(id);
        if self.gone.insert(id.to_string(), revision).is_none() {
            self.order.push_back(id.to_string());
        }
        while self.order.len() > TOMBSTONES {
            if let Some(old) = self.order.pop_front() {
                self.gone.remove(&old);
            }
        }
    }
}

impl State {
    /// The state of stored engines (of unknown health until their first
    /// check) and containers, their reservations rebuilt.
    pub fn new(
        mut engines: BTreeMap<String, EngineSlot>,
        containers: Vec<ContainerDoc>,
        generation: Arc<AtomicU64>,
    ) -> Result<Self> {
        let mut snapshot = Snapshot::default();
        for (id, slot) in engines.iter_mut() {
            // What the store says of an engine's health is history: the
            // first check decides, and records it.
            slot.doc.health = Health::Unknown;
            let e = &slot.doc.record.engine;
            snapshot.engines.push(EngineSnapshot {
                id: id.clone(),
                labels: e.labels.clone(),
                // Unknown until the first check, so nothing lands on an
                // engine that may be gone.
                health: Health::Unknown,
                cpus: crate::model::millicpus(e.cpus),
                memory: e.memory,
                containers: Vec::new(),
                images: Vec::new(),
            });
        }
        let mut state = State {
            engines,
            containers: BTreeMap::new(),
            index: ClusterIndex::new(&snapshot)?,
            placements: 0,
            generation,
            pending: HashMap::new(),
            groups: HashMap::new(),
            held: HashMap::new(),
            revisions: None,
        };
        for doc in containers {
            state.put_container(doc);
        }
        Ok(state)
    }

    /// Marks a change that renderings cached by generation must see.
    pub fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn containers(&self) -> impl Iterator<Item = &ContainerDoc> {
        self.containers.values()
    }

    pub fn container(&self, id: &str) -> Option<&ContainerDoc> {
        self.containers.get(id)
    }

    pub fn container_count(&self) -> usize {
        self.containers.len()
    }

    /// Reserved and total (cpus, memory) over the engines.
    pub fn totals(&self) -> (u64, u64, u64, u64) {
        self.index.totals()
    }

    /// Containers on healthy engines that are not this cluster's (another
    /// cluster's, or made without shipcore), as of the last health checks.
    pub fn foreign(&self) -> usize {
        self.engines
            .iter()
            .filter(|(_, e)| e.doc.health == Health::Healthy)
            .map(|(id, e)| e.containers.saturating_sub(self.index.containers_on(id)))
            .sum()
    }

    /// The request a deploy shares among its containers, if one of them is
    /// recorded: new records of that deploy share it too.
    pub fn group(&self, deploy: &str) -> Option<super::docs::Group> {
        self.groups.get(deploy).map(|g| super::docs::Group {
            image: g.image.clone(),
            owner: g.owner.clone(),
        })
    }

    /// How many recorded containers belong to `deploy`.
    pub fn group_size(&self, deploy: &str) -> usize {
        self.groups.get(deploy).map_or(0, |g| g.containers)
    }

    /// Records a container, or updates its record. A container whose name
    /// holds a reservation takes it over; an adopted one is reserved now.
    pub fn put_container(&mut self, doc: ContainerDoc) {
        match self.containers.get(&doc.id) {
            Some(old) => {
                let (old_fp, new_fp) = (old.footprint(), doc.footprint());
                if old_fp != new_fp || old.engine != doc.engine {
                    let engine = old.engine.clone();
                    let _ = self.index.remove_container(&engine, &old_fp);
                    let _ = self.index.add_container(&doc.engine, &new_fp);
                }
            }
            None => {
                let reserved = self.pending.remove(&doc.name);
                if reserved.is_none() {
                    let _ = self.index.add_container(&doc.engine, &doc.footprint());
                }
                let group = self.groups.entry(doc.deploy.clone()).or_insert(Group {
                    image: doc.image.clone(),
                    owner: doc.owner.clone(),
                    containers: 0,
                });
                group.containers += 1;
            }
        }
        self.containers.insert(doc.id.clone(), doc);
        self.bump();
        self.check();
    }

    /// Keeps the revision of every record from now on (a store shared with
    /// other replicas); records held already count as of `revision`.
    pub fn track_revisions(&mut self, revision: u64) {
        let held = self
            .containers
            .keys()
            .map(|id| (id.clone(), revision))
            .collect();
        self.revisions = Some(Revisions {
            held,
            ..Revisions::default()
        });
    }

    /// [`State::put_container`] of a record written at `revision`, unless a
    /// newer write of that container (or of its removal) is known already.
    /// Returns whether it was applied.
    pub fn put_container_at(&mut self, doc: ContainerDoc, revision: u64) -> bool {
        if let Some(r) = &mut self.revisions {
            if revision <= r.of(&doc.id) {
                // Newer news of it came first; a reservation made for it
                // is not needed any more if that news was its removal.
                if !self.containers.contains_key(&doc.id) {
                    self.release(&doc.name);
                }
                return false;
            }
            r.gone.remove(&doc.id);
            r.held.insert(doc.id.clone(), revision);
        }
        self.put_container(doc);
        true
    }

    /// [`State::drop_container`] of a record deleted at `revision`, unless
    /// a newer write of that container is known already.
    pub fn drop_container_at(&mut self, id: &str, revision: u64) -> Option<ContainerDoc> {
        if let Some(r) = &mut self.revisions {
            if revision <= r.of(id) {
                return None;
            }
            r.went(id, revision);
        }
        self.drop_container(id)
    }

    /// Forgets a container and its reservation.
    pub fn drop_container(&mut self, id: &str) -> Option<ContainerDoc> {
        let doc = self.containers.remove(id)?;
        let _ = self.index.remove_container(&doc.engine, &doc.footprint());
        if let Some(g) = self.groups.get_mut(&doc.deploy) {
            g.containers -= 1;
            if g.containers == 0 {
                self.groups.remove(&doc.deploy);
            }
        }
        self.bump();
        self.check();
        Some(doc)
    }

    /// Places a request and reserves its containers under their names
    /// (`req.names`), or explains why not. Nothing is reserved on failure.
    pub fn reserve(&mut self, req: &Request) -> Result<(Placement, Vec<Reservation>)> {
        let placement = self.index.place(req)?;
        let mut reserved = Vec::with_capacity(placement.assignments.len());
        for (i, a) in placement.assignments.iter().enumerate() {
            let footprint = req.footprint_for(i).into_owned();
            let r = Reservation {
                engine: a.engine.clone(),
                footprint,
            };
            self.pending.insert(r.footprint.name.clone(), r.clone());
            reserved.push(r);
        }
        self.bump();
        self.check();
        Ok((placement, reserved))
    }

    /// Gives back the reservation of a container that was not recorded.
    pub fn release(&mut self, name: &str) {
        let r = self.pending.remove(name);
        self.give_back(r);
    }

    /// Takes a removed reservation out of the scheduler's index.
    fn give_back(&mut self, r: Option<Reservation>) {
        if let Some(r) = r {
            let _ = self.index.remove_container(&r.engine, &r.footprint);
            self.bump();
            self.check();
        }
    }

    /// Places a request and holds its reservation under
    /// `req.footprint.name` (one replica) until [`State::unhold`]; a hold of
    /// the same name is replaced (given back first, taken back if the new
    /// one does not fit).
    pub fn hold(&mut self, req: &Request) -> Result<Placement> {
        let name = req.footprint.name.clone();
        let old = self.held.remove(&name);
        if let Some(r) = &old {
            let _ = self.index.remove_container(&r.engine, &r.footprint);
        }
        match self.index.place(req) {
            Ok(placement) => {
                if let Some(a) = placement.assignments.first() {
                    let r = Reservation {
                        engine: a.engine.clone(),
                        footprint: req.footprint.clone(),
                    };
                    self.held.insert(name, r);
                }
                self.bump();
                self.check();
                Ok(placement)
            }
            Err(e) => {
                if let Some(r) = old {
                    let _ = self.index.add_container(&r.engine, &r.footprint);
                    self.held.insert(name, r);
                }
                self.check();
                Err(e.into())
            }
        }
    }

    /// Takes a hold back as it was recorded (on open), whatever the
    /// engine's room now; false if the engine is not registered.
    pub fn hold_at(&mut self, engine: &str, footprint: Footprint) -> bool {
        if !self.engines.contains_key(engine) {
            return false;
        }
        self.unhold(&footprint.name);
        let _ = self.index.add_container(engine, &footprint);
        self.held.insert(
            footprint.name.clone(),
            Reservation {
                engine: engine.to_string(),
                footprint,
            },
        );
        self.bump();
        self.check();
        true
    }

    /// Gives a hold back.
    pub fn unhold(&mut self, name: &str) {
        let r = self.held.remove(name);
        self.give_back(r);
    }

    /// Where a hold is.
    pub fn held_on(&self, name: &str) -> Option<&str> {
        self.held.get(name).map(|r| r.engine.as_str())
    }

    /// Whether a container of this name is being deployed.
    pub fn is_pending(&self, name: &str) -> bool {
        self.pending.contains_key(name)
    }

    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// A dry run of a request.
    pub fn plan(&mut self, req: &Request) -> Result<Placement> {
        Ok(self.index.plan(req)?)
    }

    /// Every engine that cannot take `req` now, and why.
    pub fn refusals(&mut self, req: &Request) -> Vec<crate::sched::Refusal> {
        self.index.refusals(req)
    }

    /// Notes the images an engine holds (its health check's list).
    pub fn set_images(&mut self, engine: &str, images: &[String]) {
        let _ = self.index.set_images(engine, images);
    }

    pub fn add_engine(&mut self, slot: EngineSlot, health: Health) -> Result<()> {
        let e = &slot.doc.record.engine;
        self.index.add_engine(&EngineSnapshot {
            id: e.id.clone(),
            labels: e.labels.clone(),
            health,
            cpus: crate::model::millicpus(e.cpus),
            memory: e.memory,
            containers: Vec::new(),
            images: Vec::new(),
        })?;
        self.engines.insert(e.id.clone(), slot);
        self.bump();
        Ok(())
    }

    pub fn remove_engine(&mut self, id: &str) -> Option<EngineSlot> {
        let slot = self.engines.remove(id)?;
        let _ = self.index.remove_engine(id);
        self.held.retain(|_, r| r.engine != id);
        self.bump();
        Some(slot)
    }

    /// Records an engine's health as the scheduler sees it.
    pub fn set_health(&mut self, id: &str, health: Health) -> bool {
        let Some(slot) = self.engines.get_mut(id) else {
            return false;
        };
        slot.doc.health = health;
        let ok = self.index.set_health(id, health).is_ok();
        self.bump();
        ok
    }

    /// The engine of a registered id, or of a registration's outer id.
    pub fn engine_id(&self, id: &str) -> Option<String> {
        if self.engines.contains_key(id) {
            return Some(id.to_string());
        }
        self.engines
            .values()
            .find(|e| e.doc.record.id == id)
            .map(|e| e.doc.id().to_string())
    }

    /// The id of the one container whose id starts with `prefix`.
    pub fn resolve(&self, prefix: &str) -> Result<String> {
        if prefix.is_empty() {
            return Err(Error::invalid("id", "an id or id prefix is required"));
        }
        if self.containers.contains_key(prefix) {
            return Ok(prefix.to_string());
        }
        let mut matches = self
            .containers
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix));
        match (matches.next(), matches.next()) {
            (Some((id, _)), None) => Ok(id.clone()),
            (None, _) => Err(Error::missing("container", prefix)),
            (Some(_), Some(_)) => Err(Error::Ambiguous {
                kind: "container".into(),
                prefix: prefix.into(),
                count: 2 + matches.count(),
            }),
        }
    }

    /// Checks, in debug builds, that the scheduler's reservations on every
    /// engine are exactly the footprints of the recorded containers and of
    /// those being deployed there. Runs after every change, so every
    /// debug-build test checks it.
    fn check(&self) {
        #[cfg(debug_assertions)]
        {
            let mut want: HashMap<&str, (u64, u64, u32)> = HashMap::new();
            let fps = self
                .containers
                .values()
                .map(|d| (d.engine.as_str(), d.footprint()))
                .chain(
                    self.pending
                        .values()
                        .chain(self.held.values())
                        .map(|r| (r.engine.as_str(), r.footprint.clone())),
                );
            for (engine, fp) in fps {
                let w = want.entry(engine).or_default();
                *w = (w.0 + fp.cpus, w.1 + fp.memory, w.2 + 1);
            }
            for engine in self.engines.keys() {
                let got = self.index.reserved_on(engine).unwrap_or_default();
                let expected = want.get(engine.as_str()).copied().unwrap_or_default();
                assert_eq!(
                    got, expected,
                    "reservations on engine {engine} (cpus, memory, containers) are not those of its records and pending deploys"
                );
            }
        }
    }

    /// The engine as shown inside a container or an event.
    pub fn engine_view(&self, id: &str) -> Engine {
        self.engines
            .get(id)
            .map(|e| {
                let mut eng = e.doc.record.engine.clone();
                eng.health = e.doc.health;
                eng
            })
            .unwrap_or_else(|| Engine {
                id: id.to_string(),
                ..Default::default()
            })
    }

    /// A stored container as Shipyard shows it: with its engine, and with
    /// what the engine reports (its hostname, the host ports it chose).
    pub fn render(&self, d: &ContainerDoc) -> Container {
        let mut image = (*d.image).clone();
        if !d.hostname.is_empty() {
            image.hostname = d.hostname.clone();
        }
        for b in image.bind_ports.iter_mut().filter(|b| b.port == 0) {
            let published = d.ports.iter().find(|p| {
                p.container_port == b.container_port
                    && p.proto == b.proto
                    && (b.host_ip.is_empty() || p.host_ip == b.host_ip)
            });
            if let Some(p) = published {
                b.port = p.port;
            }
        }
        Container {
            id: d.id.clone(),
            name: d.name.clone(),
            state: d.state.clone(),
            ports: d.ports.clone(),
            engine: self.engine_view(&d.engine),
            image,
        }
    }
}

#[cfg(all(test, debug_assertions))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::engine::fake::FakeEngine;
    use crate::model::EngineRecord;

    fn state() -> State {
        let mut record = EngineRecord::new("e1", "unix:///fake.sock");
        record.engine.cpus = 4.0;
        record.engine.memory = 4_096;
        let slot = EngineSlot {
            doc: EngineDoc {
                record,
                health: Health::Healthy,
                added: String::new(),
                docker_version: String::new(),
                response_time_ns: 0,
                untrusted: false,
            },
            backend: Arc::new(FakeEngine::new("e1", 4_000, 4_096, &[])),
            failures: 0,
            images: 0,
            containers: 0,
            next_check: Duration::ZERO,
            images_listed: None,
        };
        let mut st = State::new(BTreeMap::new(), Vec::new(), Arc::default()).unwrap();
        st.add_engine(slot, Health::Healthy).unwrap();
        st
    }

    #[test]
    fn reservations_that_add_up_pass_the_check() {
        let mut st = state();
        let image = Arc::new(ImageConfig {
            name: "app:1".into(),
            cpus: 0.5,
            memory: 64,
            ..ImageConfig::default()
        });
        let mut req =
            crate::sched::Request::from_image_config(&image, Default::default(), 2).unwrap();
        req.names = Some("app-x".into());
        let (_, reserved) = st.reserve(&req).unwrap();
        st.release(&reserved[1].footprint.name);
        st.put_container(ContainerDoc {
            name: reserved[0].footprint.name.clone(),
            deploy: "app-x".into(),
            image,
            ..doc("c1", 0)
        });
        assert_eq!(st.totals().1, 64);
        st.drop_container("c1");
        assert_eq!(st.totals().1, 0);
    }

    fn doc(id: &str, memory: u64) -> ContainerDoc {
        ContainerDoc {
            id: id.into(),
            name: format!("name-{id}"),
            engine: "e1".into(),
            deploy: "d".into(),
            image: Arc::new(ImageConfig {
                name: "app:1".into(),
                memory,
                ..ImageConfig::default()
            }),
            owner: Arc::new(crate::model::Owner::system()),
            created: String::new(),
            desired_running: true,
            state: Default::default(),
            ports: Vec::new(),
            hostname: String::new(),
            replaces: Vec::new(),
        }
    }

    #[test]
    fn with_revisions_a_late_write_never_replaces_a_newer_one() {
        let mut st = state();
        st.track_revisions(0);
        assert!(st.put_container_at(doc("c1", 64), 5));
        // An older write arriving late (a writer that waited for the lock,
        // or the change stream's echo of it) changes nothing.
        assert!(!st.put_container_at(doc("c1", 32), 4));
        assert!(!st.put_container_at(doc("c1", 32), 5));
        assert_eq!(st.container("c1").unwrap().image.memory, 64);
        assert!(st.put_container_at(doc("c1", 128), 6));
        assert_eq!(st.totals().1, 128);
        // A removal at 8 wins over the write at 7 that comes after it.
        assert!(st.drop_container_at("c1", 8).is_some());
        assert!(!st.put_container_at(doc("c1", 16), 7));
        assert!(st.container("c1").is_none());
        assert_eq!(st.totals().1, 0);
        // A reservation made for a container whose removal came first is
        // given back, not leaked.
        let image = doc("c2", 64).image;
        let mut req =
            crate::sched::Request::from_image_config(&image, Default::default(), 1).unwrap();
        req.names = Some("late".into());
        let (_, reserved) = st.reserve(&req).unwrap();
        let mut late = doc("c2", 64);
        late.name = reserved[0].footprint.name.clone();
        assert!(st.drop_container_at("c2", 10).is_none());
        assert!(!st.put_container_at(late, 9));
        assert_eq!((st.pending_count(), st.totals().1), (0, 0));
        // Without tracking (a store of its own), writes apply as they come.
        let mut own = state();
        assert!(own.put_container_at(doc("c1", 64), 5));
        assert!(own.put_container_at(doc("c1", 32), 4));
        assert_eq!(own.container("c1").unwrap().image.memory, 32);
    }

    #[test]
    #[should_panic(expected = "reservations on engine e1")]
    fn a_reservation_without_a_record_fails_the_check() {
        let mut st = state();
        // A footprint the records do not account for.
        let stray = crate::sched::Footprint {
            memory: 128,
            ..Default::default()
        };
        st.index.add_container("e1", &stray).unwrap();
        st.bump();
        st.check();
    }
}
