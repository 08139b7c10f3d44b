//! The indexed scheduler: what services use to place containers quickly.
//!
//! Engines are grouped into buckets by label set (clusters have few distinct
//! label sets), and each bucket keeps its healthy engines in a `BTreeSet`
//! ordered by [`RankKey`]. A request's label constraints are evaluated once
//! per bucket; `spread` then walks each matching bucket from its greatest key
//! down and `binpack` from the least key that has enough free memory up, and
//! the first engine that passes the filter chain is that bucket's best. The
//! best of the buckets wins. Per-engine lookups (images, container names and
//! labels, host ports) are hash maps, so a check is O(1).
//!
//! Decisions equal those of [`super::reference`] for the same snapshot and
//! request (property-tested). When nothing fits, the explanation runs the
//! filter chain on every engine, as the reference does.

use core::net::IpAddr;
use std::collections::{BTreeSet, HashMap};

use super::explain::{Assignment, Placement, Refusal, Unplaceable};
use super::filter::{first_reject, EngineView};
use super::rank::{RankKey, SplitMix, Walk};
use super::request::{Affinity, AffinityTarget, Constraint, Request, Strategy};
use super::snapshot::{image_key, EngineSnapshot, Footprint, HostPort, Millicpus, Snapshot};
use crate::error::{Error, Result};
use crate::model::{ContainerType, Health, Proto};

/// A multiset of strings: how many containers of an engine have each value.
type Counts = HashMap<String, u32>;

fn count_up(map: &mut Counts, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

fn count_down(map: &mut Counts, key: &str) {
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

/// One engine's state inside the index.
#[derive(Debug, Clone)]
struct Slot {
    id: String,
    health: Health,
    bucket: usize,
    removed: bool,
    cpus: Millicpus,
    memory: u64,
    reserved_cpus: Millicpus,
    reserved_memory: u64,
    containers: u32,
    images: Counts,
    /// Images the engine holds (`image_key` form).
    held: std::collections::HashSet<String>,
    names: Counts,
    /// Container labels as `key\0value`, so lookups need no tuple of Strings.
    container_labels: Counts,
    ports: HashMap<(Proto, u16), Vec<Option<IpAddr>>>,
}

impl Slot {
    fn rank(&self, slot: usize) -> RankKey {
        RankKey::new(
            self.memory.saturating_sub(self.reserved_memory),
            self.cpus.saturating_sub(self.reserved_cpus),
            self.containers,
            slot,
        )
    }

    /// Whether the slot sits in its bucket's ordered set (can be chosen).
    fn listed(&self) -> bool {
        !self.removed && self.health == Health::Healthy
    }

    fn add(&mut self, f: &Footprint) {
        self.containers += 1;
        self.reserved_cpus += f.cpus;
        self.reserved_memory += f.memory;
        count_up(&mut self.images, &f.image);
        if !f.name.is_empty() {
            count_up(&mut self.names, &f.name);
        }
        for (k, v) in &f.labels {
            count_up(&mut self.container_labels, &label_key(k, v));
        }
        for p in &f.ports {
            self.ports.entry((p.proto, p.port)).or_default().push(p.ip);
        }
    }

    fn remove(&mut self, f: &Footprint) {
        self.containers = self.containers.saturating_sub(1);
        self.reserved_cpus = self.reserved_cpus.saturating_sub(f.cpus);
        self.reserved_memory = self.reserved_memory.saturating_sub(f.memory);
        count_down(&mut self.images, &f.image);
        if !f.name.is_empty() {
            count_down(&mut self.names, &f.name);
        }
        for (k, v) in &f.labels {
            count_down(&mut self.container_labels, &label_key(k, v));
        }
        for p in &f.ports {
            if let Some(ips) = self.ports.get_mut(&(p.proto, p.port)) {
                if let Some(i) = ips.iter().position(|ip| *ip == p.ip) {
                    ips.swap_remove(i);
                }
                if ips.is_empty() {
                    self.ports.remove(&(p.proto, p.port));
                }
            }
        }
    }
}

fn label_key(k: &str, v: &str) -> String {
    format!("{k}\0{v}")
}

/// Engines with one label set. Healthy ones sit in bands by free cpus (band
/// `k` holds free cpus in `[2^(k-1), 2^k)`, band 0 holds none free), each band
/// ordered by rank. The order handles memory; the bands handle cpus, so an
/// engine with plenty of memory and no cpus left is not walked past again
/// and again by every request.
#[derive(Debug, Clone)]
struct Bucket {
    labels: Vec<String>,
    bands: Vec<Band>,
    /// Bit `k` set when band `k` is not empty, so walks visit only those.
    occupied: u64,
}

const BANDS: usize = 64;

/// Engines of one bucket and cpu band, ordered by rank, with the least and
/// greatest key kept at hand so a walk can skip a band that cannot win.
#[derive(Debug, Clone, Default)]
struct Band {
    ranked: BTreeSet<RankKey>,
    least: Option<RankKey>,
    greatest: Option<RankKey>,
}

impl Band {
    fn insert(&mut self, key: RankKey) {
        self.ranked.insert(key);
        self.least = Some(self.least.map_or(key, |l| l.min(key)));
        self.greatest = Some(self.greatest.map_or(key, |g| g.max(key)));
    }

    fn remove(&mut self, key: &RankKey) {
        self.ranked.remove(key);
        if self.least.as_ref() == Some(key) {
            self.least = self.ranked.first().copied();
        }
        if self.greatest.as_ref() == Some(key) {
            self.greatest = self.ranked.last().copied();
        }
    }

    /// Whether some engine here may beat `best` and has `need` MiB free.
    fn may_win(&self, best: Option<RankKey>, need: u64, strategy: Strategy) -> bool {
        let (Some(least), Some(greatest)) = (self.least, self.greatest) else {
            return false;
        };
        if greatest.free_memory < need {
            return false;
        }
        // Under binpack the least key is the band's best, else the greatest.
        let champion = if strategy == Strategy::Binpack {
            least
        } else {
            greatest
        };
        best.is_none_or(|b| champion.beats(&b, strategy))
    }
}

/// Band `k` holds engines with free cpus in `[2^(k-1), 2^k)`; band 0 those
/// with none free; the last band everything from `2^62` up.
fn band_of(free_cpus: Millicpus) -> usize {
    ((u64::BITS - free_cpus.leading_zeros()) as usize).min(BANDS - 1)
}

impl Bucket {
    fn new(labels: Vec<String>) -> Self {
        Bucket {
            labels,
            bands: vec![Band::default(); BANDS],
            occupied: 0,
        }
    }

    fn insert(&mut self, key: RankKey) {
        let k = band_of(key.free_cpus);
        self.bands[k].insert(key);
        self.occupied |= 1 << k;
    }

    fn remove(&mut self, key: &RankKey) {
        let k = band_of(key.free_cpus);
        self.bands[k].remove(key);
        if self.bands[k].ranked.is_empty() {
            self.occupied &= !(1 << k);
        }
    }

    /// The bands that may hold an engine with `cpus` free, those that surely
    /// do first, so the best found there prunes the walk of the last one.
    fn bands_for(&self, cpus: Millicpus) -> impl Iterator<Item = &Band> {
        // Bands below band_of(cpus) hold only engines with less free.
        let mut left = self.occupied & (u64::MAX << band_of(cpus));
        std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            let k = (u64::BITS - 1 - left.leading_zeros()) as usize;
            left &= !(1 << k);
            Some(&self.bands[k])
        })
    }
}

/// A slot seen through the filter chain; `broken` is the bucket's verdict on
/// the request's label constraints, computed once per request.
struct View<'a> {
    slot: &'a Slot,
    broken: Option<usize>,
}

impl EngineView for View<'_> {
    fn id(&self) -> &str {
        &self.slot.id
    }
    fn health(&self) -> Health {
        self.slot.health
    }
    fn broken_constraint<'r>(&self, req: &'r Request) -> Option<&'r Constraint> {
        self.broken.and_then(|i| req.constraints.get(i))
    }
    fn runs_image(&self, image: &str) -> bool {
        self.slot.images.contains_key(image)
    }
    fn runs_matching(&self, rule: &Affinity) -> bool {
        match &rule.target {
            AffinityTarget::ContainerName(n) => self.slot.names.contains_key(n),
            AffinityTarget::Image(i) => self.slot.images.contains_key(i),
            AffinityTarget::Label(k, v) => {
                self.slot.container_labels.contains_key(&label_key(k, v))
            }
        }
    }
    fn port_in_use(&self, ports: &[HostPort]) -> Option<HostPort> {
        ports
            .iter()
            .find(|p| {
                self.slot.ports.get(&(p.proto, p.port)).is_some_and(|ips| {
                    ips.iter().any(|ip| {
                        p.conflicts(&HostPort {
                            ip: *ip,
                            proto: p.proto,
                            port: p.port,
                        })
                    })
                })
            })
            .copied()
    }
    fn free_cpus(&self) -> Millicpus {
        self.slot.cpus.saturating_sub(self.slot.reserved_cpus)
    }
    fn free_memory(&self) -> u64 {
        self.slot.memory.saturating_sub(self.slot.reserved_memory)
    }
}

/// The cluster, indexed for placement. Build it from a [`Snapshot`], keep it
/// current with the `add_*`/`remove_*`/`set_health` calls, and ask it to
/// [`plan`](Self::plan) (dry run) or [`place`](Self::place) (commit).
#[derive(Debug, Clone, Default)]
pub struct ClusterIndex {
    slots: Vec<Slot>,
    by_id: HashMap<String, usize>,
    buckets: Vec<Bucket>,
    bucket_by_labels: HashMap<Vec<String>, usize>,
    /// Per request: the first constraint each bucket breaks (reused buffer).
    verdicts: Vec<Option<usize>>,
}

impl ClusterIndex {
    pub fn new(snapshot: &Snapshot) -> Result<Self> {
        let mut index = ClusterIndex::default();
        for e in &snapshot.engines {
            index.add_engine(e)?;
        }
        Ok(index)
    }

    /// Number of engines (removed ones excluded).
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Adds an engine with its containers. Its slot is the next free position.
    pub fn add_engine(&mut self, e: &EngineSnapshot) -> Result<usize> {
        if self.by_id.contains_key(&e.id) {
            return Err(Error::invalid(
                "engine.id",
                format!("engine {} is already indexed", e.id),
            ));
        }
        let mut set = e.labels.clone();
        set.sort_unstable();
        set.dedup();
        let bucket = match self.bucket_by_labels.get(&set) {
            Some(&b) => b,
            None => {
                self.buckets.push(Bucket::new(set.clone()));
                self.bucket_by_labels.insert(set, self.buckets.len() - 1);
                self.buckets.len() - 1
            }
        };
        let slot = self.slots.len();
        let mut s = Slot {
            id: e.id.clone(),
            health: e.health,
            bucket,
            removed: false,
            cpus: e.cpus,
            memory: e.memory,
            reserved_cpus: 0,
            reserved_memory: 0,
            containers: 0,
            images: Counts::new(),
            held: e.images.iter().map(|i| image_key(i).into_owned()).collect(),
            names: Counts::new(),
            container_labels: Counts::new(),
            ports: HashMap::new(),
        };
        for c in &e.containers {
            s.add(c);
        }
        if s.listed() {
            self.buckets[bucket].insert(s.rank(slot));
        }
        self.slots.push(s);
        self.by_id.insert(e.id.clone(), slot);
        Ok(slot)
    }

    fn slot_of(&self, engine: &str) -> Result<usize> {
        self.by_id
            .get(engine)
            .copied()
            .ok_or_else(|| Error::invalid("engine", format!("no engine {engine} in the index")))
    }

    /// Changes a slot while keeping its bucket's order right.
    fn update(&mut self, slot: usize, change: impl FnOnce(&mut Slot)) {
        let s = &mut self.slots[slot];
        let bucket = &mut self.buckets[s.bucket];
        if s.listed() {
            bucket.remove(&s.rank(slot));
        }
        change(s);
        if s.listed() {
            bucket.insert(s.rank(slot));
        }
    }

    pub fn remove_engine(&mut self, engine: &str) -> Result<()> {
        let slot = self.slot_of(engine)?;
        self.update(slot, |s| s.removed = true);
        self.by_id.remove(engine);
        Ok(())
    }

    pub fn set_health(&mut self, engine: &str, health: Health) -> Result<()> {
        let slot = self.slot_of(engine)?;
        self.update(slot, |s| s.health = health);
        Ok(())
    }

    /// Records a container (and its reservation) on an engine.
    pub fn add_container(&mut self, engine: &str, f: &Footprint) -> Result<()> {
        let slot = self.slot_of(engine)?;
        self.update(slot, |s| s.add(f));
        Ok(())
    }

    /// Forgets a container, releasing its reservation and ports.
    pub fn remove_container(&mut self, engine: &str, f: &Footprint) -> Result<()> {
        let slot = self.slot_of(engine)?;
        self.update(slot, |s| s.remove(f));
        Ok(())
    }

    /// What is reserved on an engine: (millicpus, MiB, containers), or
    /// `None` for an engine not in the index.
    pub fn reserved_on(&self, engine: &str) -> Option<(Millicpus, u64, u32)> {
        let s = &self.slots[*self.by_id.get(engine)?];
        Some((s.reserved_cpus, s.reserved_memory, s.containers))
    }

    /// How many containers an engine holds in the index (0 for an unknown
    /// engine).
    pub fn containers_on(&self, engine: &str) -> usize {
        self.by_id
            .get(engine)
            .map_or(0, |&slot| self.slots[slot].containers as usize)
    }

    /// Reserved and total (cpus, memory) over the engines.
    pub fn totals(&self) -> (Millicpus, u64, Millicpus, u64) {
        self.slots
            .iter()
            .filter(|s| !s.removed)
            .fold((0, 0, 0, 0), |t, s| {
                (
                    t.0 + s.reserved_cpus,
                    t.1 + s.reserved_memory,
                    t.2 + s.cpus,
                    t.3 + s.memory,
                )
            })
    }

    /// Decides and commits: chosen engines get the request's footprint.
    pub fn place(&mut self, req: &Request) -> Result<Placement, Unplaceable> {
        self.judge_buckets(req);
        self.decide(req, true)
    }

    /// Decides without committing (a dry run).
    pub fn plan(&mut self, req: &Request) -> Result<Placement, Unplaceable> {
        self.judge_buckets(req);
        self.decide(req, false)
    }

    fn judge_buckets(&mut self, req: &Request) {
        self.verdicts.clear();
        self.verdicts.extend(
            self.buckets
                .iter()
                .map(|b| req.constraints.iter().position(|c| !c.holds(&b.labels))),
        );
    }

    fn view(&self, slot: usize) -> View<'_> {
        let s = &self.slots[slot];
        View {
            slot: s,
            broken: self.verdicts[s.bucket],
        }
    }

    fn fits(&self, slot: usize, req: &Request) -> bool {
        let s = &self.slots[slot];
        !s.removed && first_reject(&self.view(slot), req).is_none()
    }

    /// Places replica after replica. Each replica is committed while later
    /// replicas still have to see it; with `commit` false, those tentative
    /// commits are rolled back at the end, so a dry run of one container
    /// touches nothing. On failure everything is rolled back.
    fn decide(&mut self, req: &Request, commit: bool) -> Result<Placement, Unplaceable> {
        let mut placement = Placement::default();
        let image = image_key(&req.footprint.image).into_owned();
        if req.kind == ContainerType::Global {
            // One container per engine: no replica can affect another
            // engine's checks, so nothing needs a tentative commit.
            for slot in 0..self.slots.len() {
                if self.slots[slot].removed {
                    continue;
                }
                match first_reject(&self.view(slot), req) {
                    None => placement.assignments.push(self.assignment(slot, &image)),
                    Some(reason) => placement.skipped.push(Refusal {
                        engine: self.slots[slot].id.clone(),
                        reason,
                    }),
                }
            }
            if placement.assignments.is_empty() {
                return Err(Unplaceable {
                    replica: 0,
                    replicas: 1,
                    placed: Vec::new(),
                    refusals: placement.skipped,
                });
            }
            if commit {
                for (i, a) in placement.assignments.iter().enumerate() {
                    self.update(a.slot, |s| s.add(&req.footprint_for(i)));
                }
            }
            return Ok(placement);
        }
        let mut rng = match req.strategy {
            Strategy::Random { seed } => Some(SplitMix::new(seed)),
            _ => None,
        };
        let mut applied = 0;
        let mut outcome = Ok(());
        for replica in 0..req.replicas {
            let chosen = match (&req.host, rng.as_mut()) {
                (Some(host), _) => self.by_id.get(host).copied().filter(|&s| self.fits(s, req)),
                (None, Some(rng)) => Walk::new(self.slots.len(), rng).find(|&s| self.fits(s, req)),
                (None, None) => self.best_ranked(req, &image),
            };
            let Some(slot) = chosen else {
                outcome = Err((replica, self.explain(req)));
                break;
            };
            placement.assignments.push(self.assignment(slot, &image));
            if commit || replica + 1 < req.replicas {
                let fp = req.footprint_for(replica as usize);
                self.update(slot, |s| s.add(&fp));
                applied += 1;
            }
        }
        if !commit || outcome.is_err() {
            for (i, a) in placement.assignments[..applied].iter().enumerate().rev() {
                let fp = req.footprint_for(i);
                self.update(a.slot, |s| s.remove(&fp));
            }
        }
        match outcome {
            Ok(()) => Ok(placement),
            Err((replica, refusals)) => Err(Unplaceable {
                replica,
                replicas: req.replicas,
                placed: placement.assignments,
                refusals,
            }),
        }
    }

    fn assignment(&self, slot: usize, image: &str) -> Assignment {
        Assignment {
            engine: self.slots[slot].id.clone(),
            slot,
            holds_image: self.slots[slot].held.contains(image),
        }
    }

    /// Sets the images an engine holds (its health check's list).
    pub fn set_images(&mut self, engine: &str, images: &[String]) -> Result<()> {
        let slot = self.slot_of(engine)?;
        self.slots[slot].held = images.iter().map(|i| image_key(i).into_owned()).collect();
        Ok(())
    }

    /// The best engine under `spread` or `binpack`: in each matching bucket
    /// and cpu band, the first fitting engine in strategy order; the best of
    /// those wins. A walk stops as soon as it cannot beat the best so far.
    fn best_ranked(&self, req: &Request, image: &str) -> Option<usize> {
        let best = self.best_key(req)?;
        if self.slots[best.slot()].held.contains(image) {
            return Some(best.slot());
        }
        // Among engines as free as the best, one that holds the image.
        let lo = RankKey {
            inv_containers: 0,
            inv_slot: 0,
            ..best
        };
        let hi = RankKey {
            inv_containers: u32::MAX,
            inv_slot: usize::MAX,
            ..best
        };
        let mut local: Option<RankKey> = None;
        for (b, bucket) in self.buckets.iter().enumerate() {
            if self.verdicts[b].is_some() {
                continue;
            }
            for band in bucket.bands_for(req.footprint.cpus) {
                for k in band.ranked.range(lo..=hi) {
                    let beats = local.is_none_or(|l| k.beats(&l, req.strategy));
                    if beats
                        && self.slots[k.slot()].held.contains(image)
                        && self.fits(k.slot(), req)
                    {
                        local = Some(*k);
                    }
                }
            }
        }
        Some(local.unwrap_or(best).slot())
    }

    /// The best engine's key by the strategy's order alone.
    fn best_key(&self, req: &Request) -> Option<RankKey> {
        let mut best: Option<RankKey> = None;
        let need = req.footprint.memory;
        let floor = RankKey {
            free_memory: need,
            free_cpus: 0,
            inv_containers: 0,
            inv_slot: 0,
        };
        for (b, bucket) in self.buckets.iter().enumerate() {
            if self.verdicts[b].is_some() {
                continue;
            }
            for band in bucket.bands_for(req.footprint.cpus) {
                if !band.may_win(best, need, req.strategy) {
                    continue;
                }
                let band = &band.ranked;
                let beats_best = |k: &&RankKey| best.is_none_or(|b| k.beats(&b, req.strategy));
                let found = match req.strategy {
                    Strategy::Binpack => band
                        .range(floor..)
                        .take_while(beats_best)
                        .find(|k| self.fits(k.slot(), req)),
                    _ => band
                        .iter()
                        .rev()
                        .take_while(|k| k.free_memory >= need)
                        .take_while(beats_best)
                        .find(|k| self.fits(k.slot(), req)),
                };
                if let Some(k) = found {
                    best = Some(*k);
                }
            }
        }
        best
    }

    /// Every engine's reason, in slot order, for an unplaceable request.
    fn explain(&self, req: &Request) -> Vec<Refusal> {
        (0..self.slots.len())
            .filter(|&slot| !self.slots[slot].removed)
            .filter_map(|slot| {
                first_reject(&self.view(slot), req).map(|reason| Refusal {
                    engine: self.slots[slot].id.clone(),
                    reason,
                })
            })
            .collect()
    }
}
