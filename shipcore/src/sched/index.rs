//! The indexed scheduler: what services use to place containers quickly.
//!
//! Engines are grouped into buckets by label set (clusters have few distinct
//! label sets), and each bucket keeps its healthy engines ordered by
//! [`RankKey`], in blocks that know their engines' most free cpus (see
//! `bucket.rs`). A request's label constraints are judged once per distinct
//! list of constraints, not per request (`judged.rs`); `spread` then walks
//! each matching bucket from its greatest key down and `binpack` from the
//! least key with enough free memory up, and the first engine that passes
//! the filter chain is that bucket's best. The best of the buckets wins;
//! among engines as free as it, one holding the request's image, found
//! through `locality.rs` without a pass over the ties when few engines hold
//! it.
//!
//! A placement allocates only its answer. The request's strings are looked
//! up once (`symbols.rs`); engines are then checked by number, and an engine
//! whose free cpus and memory, kept in its key, tell the whole answer (no
//! `unique`, affinity or host port asked) is not even visited.
//!
//! Decisions equal those of [`super::reference`] for the same snapshot and
//! request (property-tested). When nothing fits, the explanation runs the
//! filter chain on every engine, as the reference does.

use std::collections::HashMap;

use super::bucket::Bucket;
use super::explain::{Assignment, Placement, Refusal, Unplaceable};
use super::filter::{first_failure, first_reject};
use super::judged::{Judged, Judgement};
use super::locality::{HeldId, Holdings};
use super::rank::{RankKey, SplitMix, Walk};
use super::request::{AffinityTarget, Request, Strategy};
use super::slot::{label_pair, Asked, Slot, Target, View};
use super::snapshot::{EngineSnapshot, Footprint, Millicpus, Snapshot};
use super::symbols::Symbols;
use crate::error::{Error, Result};
use crate::model::{ContainerType, Health};

/// Up to this many holders of an image, locality visits the holders; above
/// it, the engines as free as the best, side by side in each bucket. (A
/// visit to a holder is a look at its state; the walk of a bucket's ties
/// costs about as much as a few of those.)
const FEW_HOLDERS: usize = 32;

/// The cluster, indexed for placement. Build it from a [`Snapshot`], keep it
/// current with the `add_*`/`remove_*`/`set_*` calls, and ask it to
/// [`plan`](Self::plan) (dry run) or [`place`](Self::place) (commit).
#[derive(Debug, Clone, Default)]
pub struct ClusterIndex {
    slots: Vec<Slot>,
    by_id: HashMap<String, usize>,
    buckets: Vec<Bucket>,
    bucket_by_labels: HashMap<Vec<String>, usize>,
    symbols: Symbols,
    holdings: Holdings,
    /// Judgements by constraint list, made once (until a bucket is added).
    judged: Judged,
    /// The judgement of the request being decided.
    judgement: Judgement,
    /// The strings of the request being decided (a buffer kept between
    /// requests, so deciding allocates nothing).
    asked: Asked,
    /// A replica's name, when the request names its replicas.
    name: String,
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
                // Every judgement lacks the new bucket's verdict.
                self.judged.clear();
                self.buckets.len() - 1
            }
        };
        let slot = self.slots.len();
        let mut s = Slot::new(e, bucket);
        for c in &e.containers {
            s.add(c, &c.name, None, &mut self.symbols);
        }
        self.holdings.replace(slot, &mut s.held, &e.images);
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
    fn update(&mut self, slot: usize, change: impl FnOnce(&mut Slot, &mut Symbols)) {
        let s = &mut self.slots[slot];
        let bucket = &mut self.buckets[s.bucket];
        let before = s.listed().then(|| s.rank(slot));
        change(s, &mut self.symbols);
        match (before, s.listed()) {
            (Some(old), true) => bucket.replace(&old, s.rank(slot)),
            (Some(old), false) => bucket.remove(&old),
            (None, true) => bucket.insert(s.rank(slot)),
            (None, false) => {}
        }
    }

    pub fn remove_engine(&mut self, engine: &str) -> Result<()> {
        let slot = self.slot_of(engine)?;
        self.update(slot, |s, _| s.removed = true);
        self.holdings.clear(slot, &mut self.slots[slot].held);
        self.by_id.remove(engine);
        Ok(())
    }

    pub fn set_health(&mut self, engine: &str, health: Health) -> Result<()> {
        let slot = self.slot_of(engine)?;
        self.update(slot, |s, _| s.health = health);
        Ok(())
    }

    /// Sets the images an engine holds (its health check's list).
    pub fn set_images(&mut self, engine: &str, images: &[String]) -> Result<()> {
        let slot = self.slot_of(engine)?;
        self.holdings
            .replace(slot, &mut self.slots[slot].held, images);
        Ok(())
    }

    /// Records a container (and its reservation) on an engine.
    pub fn add_container(&mut self, engine: &str, f: &Footprint) -> Result<()> {
        let slot = self.slot_of(engine)?;
        self.update(slot, |s, symbols| s.add(f, &f.name, None, symbols));
        Ok(())
    }

    /// Forgets a container, releasing its reservation and ports.
    pub fn remove_container(&mut self, engine: &str, f: &Footprint) -> Result<()> {
        let slot = self.slot_of(engine)?;
        self.update(slot, |s, symbols| s.remove(f, &f.name, symbols));
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
        self.decide(req, true)
    }

    /// Decides without committing (a dry run).
    pub fn plan(&mut self, req: &Request) -> Result<Placement, Unplaceable> {
        self.decide(req, false)
    }

    /// Every engine that cannot take the request as the cluster stands, with
    /// the first check it fails, in the order the engines joined: what a
    /// dry run shows
    /// beside the engines it chose. Nothing is committed.
    pub fn refusals(&mut self, req: &Request) -> Vec<Refusal> {
        self.judge(req);
        let mut asked = Asked::default();
        self.ask(req, &mut asked);
        (0..self.slots.len())
            .filter_map(|slot| {
                first_reject(&self.view(slot, &asked), req).map(|reason| Refusal {
                    engine: self.slots[slot].id.clone(),
                    reason,
                })
            })
            .collect()
    }

    /// Each bucket's verdict on the request's label constraints, from the
    /// memo when this list was judged before.
    fn judge(&mut self, req: &Request) {
        self.judged
            .judge(&self.buckets, &req.constraints, &mut self.judgement);
    }

    /// Looks up the request's strings. Run again after a tentative commit,
    /// which may have brought a string the request names into the index.
    fn ask(&self, req: &Request, asked: &mut Asked) {
        asked.image = self.symbols.get(&req.footprint.image);
        asked.held = self.holdings.id(&req.footprint.image);
        asked.rules.clear();
        asked
            .rules
            .extend(req.affinities.iter().map(|a| match &a.target {
                AffinityTarget::ContainerName(n) if n.is_empty() => Some(Target::Unnamed),
                AffinityTarget::ContainerName(n) => self.symbols.get(n).map(Target::Name),
                AffinityTarget::Image(i) => self.symbols.get(i).map(Target::Image),
                AffinityTarget::Label(k, v) => {
                    let (k, v) = (self.symbols.get(k)?, self.symbols.get(v)?);
                    Some(Target::Label(label_pair(k, v)))
                }
            }));
        asked.needs_slot = req.kind == ContainerType::Unique
            || !req.affinities.is_empty()
            || !req.footprint.ports.is_empty();
    }

    fn view<'a>(&'a self, slot: usize, asked: &'a Asked) -> View<'a> {
        let s = &self.slots[slot];
        View {
            slot: s,
            broken: self.judgement.broken[s.bucket],
            asked,
        }
    }

    fn fits(&self, slot: usize, req: &Request, asked: &Asked) -> bool {
        !self.slots[slot].removed && first_failure(&self.view(slot, asked), req).is_none()
    }

    /// Whether a listed engine of a matching bucket fits, by its key alone
    /// when the request checks nothing else (no `unique`, affinity or host
    /// port): its health, host and labels are known to pass there.
    fn fits_key(&self, k: &RankKey, req: &Request, asked: &Asked) -> bool {
        k.free_cpus >= req.footprint.cpus
            && k.free_memory >= req.footprint.memory
            && (!asked.needs_slot || self.fits(k.slot(), req, asked))
    }

    fn decide(&mut self, req: &Request, commit: bool) -> Result<Placement, Unplaceable> {
        self.judge(req);
        let mut asked = std::mem::take(&mut self.asked);
        let mut name = std::mem::take(&mut self.name);
        let decision = self.decide_asked(req, commit, &mut asked, &mut name);
        self.asked = asked;
        self.name = name;
        decision
    }

    /// Places replica after replica. Each replica is committed while later
    /// replicas still have to see it; with `commit` false, those tentative
    /// commits are rolled back at the end, so a dry run of one container
    /// touches nothing. On failure everything is rolled back.
    // Over 80 lines: the placement hot path, kept in one piece (guarded by scripts/bench-guard).
    fn decide_asked(
        &mut self,
        req: &Request,
        commit: bool,
        asked: &mut Asked,
        name: &mut String,
    ) -> Result<Placement, Unplaceable> {
        self.ask(req, asked);
        let mut placement = Placement::default();
        if req.kind == ContainerType::Global {
            // One container per engine: no replica can affect another
            // engine's checks, so nothing needs a tentative commit.
            for slot in 0..self.slots.len() {
                if self.slots[slot].removed {
                    continue;
                }
                match first_failure(&self.view(slot, asked), req) {
                    None => placement.assignments.push(self.assignment(slot, asked)),
                    Some(failure) => placement.skipped.push(Refusal {
                        engine: self.slots[slot].id.clone(),
                        reason: failure.reject(),
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
                    let n = req.name_for(i, name);
                    let image = asked.image;
                    self.update(a.slot, |s, symbols| {
                        s.add(&req.footprint, n, image, symbols)
                    });
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
            if replica > 0 {
                self.ask(req, asked);
            }
            let chosen = match (&req.host, rng.as_mut()) {
                (Some(host), _) => self
                    .by_id
                    .get(host)
                    .copied()
                    .filter(|&s| self.fits(s, req, asked)),
                (None, Some(rng)) => {
                    Walk::new(self.slots.len(), rng).find(|&s| self.fits(s, req, asked))
                }
                (None, None) => self.best_ranked(req, asked),
            };
            let Some(slot) = chosen else {
                outcome = Err((replica, self.explain(req, asked)));
                break;
            };
            placement.assignments.push(self.assignment(slot, asked));
            if commit || replica + 1 < req.replicas {
                let n = req.name_for(replica as usize, name);
                let image = asked.image;
                self.update(slot, |s, symbols| s.add(&req.footprint, n, image, symbols));
                applied += 1;
            }
        }
        if !commit || outcome.is_err() {
            for (i, a) in placement.assignments[..applied].iter().enumerate().rev() {
                let n = req.name_for(i, name);
                self.update(a.slot, |s, symbols| s.remove(&req.footprint, n, symbols));
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

    fn assignment(&self, slot: usize, asked: &Asked) -> Assignment {
        let s = &self.slots[slot];
        Assignment {
            engine: s.id.clone(),
            slot,
            holds_image: asked.held.is_some_and(|image| s.holds(image)),
        }
    }

    /// The best engine under `spread` or `binpack` (see [`Self::best_key`]);
    /// among engines as free as it, the best that holds the image.
    fn best_ranked(&self, req: &Request, asked: &Asked) -> Option<usize> {
        let best = self.best_key(req, asked)?;
        let Some(image) = asked.held else {
            return Some(best.slot());
        };
        if self.slots[best.slot()].holds(image) {
            return Some(best.slot());
        }
        let holders = self.holdings.holders(image);
        let local = if holders.len() <= FEW_HOLDERS {
            self.best_holder(best, holders.iter(), req, asked)
        } else {
            self.best_tied(best, image, req, asked)
        };
        Some(local.unwrap_or(best).slot())
    }

    /// The best of a few holders of the image that are as free as `best`.
    fn best_holder(
        &self,
        best: RankKey,
        holders: impl Iterator<Item = usize>,
        req: &Request,
        asked: &Asked,
    ) -> Option<RankKey> {
        let mut local: Option<RankKey> = None;
        for slot in holders {
            let s = &self.slots[slot];
            if !s.listed() || self.judgement.broken[s.bucket].is_some() {
                continue;
            }
            let k = s.rank(slot);
            if (k.free_memory, k.free_cpus) == (best.free_memory, best.free_cpus)
                && local.is_none_or(|l| k.beats(&l, req.strategy))
                && self.fits_key(&k, req, asked)
            {
                local = Some(k);
            }
        }
        local
    }

    /// The best engine that holds the image among those as free as `best`,
    /// walking them in strategy order. They sit side by side in each
    /// bucket's order; a bucket's walk ends at its first fitting holder or
    /// where it can no longer beat the best holder of another bucket.
    fn best_tied(
        &self,
        best: RankKey,
        image: HeldId,
        req: &Request,
        asked: &Asked,
    ) -> Option<RankKey> {
        // As in `best_key`, the bounds narrow to keys that beat the best
        // holder found so far.
        let (mut lo, mut hi) = best.ties();
        let mut local = None;
        // Asked of the image's holders, not of each engine: a bit test in a
        // small bitmap instead of a visit to every engine walked past.
        let holders = self.holdings.holders(image);
        for &b in &self.judgement.matching {
            let bucket = &self.buckets[b];
            let holds = |k: &RankKey| holders.contains(k.slot()) && self.fits_key(k, req, asked);
            if req.strategy == Strategy::Binpack {
                if let Some(k) = bucket.ascend(lo, hi, best.free_cpus, holds) {
                    (local, hi) = (Some(k), k);
                }
            } else if let Some(k) = bucket.descend(lo, hi, best.free_cpus, holds) {
                (local, lo) = (Some(k), k);
            }
        }
        local
    }

    /// The best engine's key by the strategy's order alone: in each matching
    /// bucket, the first fitting engine in strategy order that beats the
    /// best of the buckets before it.
    fn best_key(&self, req: &Request, asked: &Asked) -> Option<RankKey> {
        let cpus = req.footprint.cpus;
        // The keys a bucket's walk may still take: from enough free memory
        // up, narrowed to those beating the best as one is found. Keys of
        // different engines never tie, so a bound at the best key itself
        // admits only keys that beat it.
        let mut lo = RankKey {
            free_memory: req.footprint.memory,
            ..RankKey::MIN
        };
        let mut hi = RankKey::MAX;
        let mut best = None;
        for &b in &self.judgement.matching {
            let bucket = &self.buckets[b];
            let fits = |k: &RankKey| self.fits_key(k, req, asked);
            if req.strategy == Strategy::Binpack {
                if let Some(k) = bucket.ascend(lo, hi, cpus, fits) {
                    (best, hi) = (Some(k), k);
                }
            } else if let Some(k) = bucket.descend(lo, hi, cpus, fits) {
                (best, lo) = (Some(k), k);
            }
        }
        best
    }

    /// Every engine's reason, in slot order, for an unplaceable request.
    fn explain(&self, req: &Request, asked: &Asked) -> Vec<Refusal> {
        (0..self.slots.len())
            .filter(|&slot| !self.slots[slot].removed)
            .filter_map(|slot| {
                first_reject(&self.view(slot, asked), req).map(|reason| Refusal {
                    engine: self.slots[slot].id.clone(),
                    reason,
                })
            })
            .collect()
    }
}
