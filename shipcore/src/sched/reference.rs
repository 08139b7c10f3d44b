//! The reference scheduler: a plain scan of every engine for every container.
//!
//! It is the specification the indexed scheduler is checked against (property
//! tests assert both give the same decision) and the baseline of the
//! placement bench. Services use [`super::ClusterIndex`] instead.

use super::explain::{Assignment, Placement, Refusal, Unplaceable};
use super::filter::{first_reject, EngineView, Reject};
use super::rank::{RankKey, SplitMix, Walk};
use super::request::{Constraint, Request, Strategy};
use super::snapshot::{EngineSnapshot, Footprint, HostPort, Millicpus, Snapshot};
use crate::model::{ContainerType, Health};

/// An engine plus the containers this decision already put on it.
struct View<'a> {
    engine: &'a EngineSnapshot,
    tentative: &'a [(usize, Footprint)],
    slot: usize,
}

impl View<'_> {
    fn containers(&self) -> impl Iterator<Item = &Footprint> {
        let slot = self.slot;
        self.engine.containers.iter().chain(
            self.tentative
                .iter()
                .filter(move |(s, _)| *s == slot)
                .map(|(_, f)| f),
        )
    }

    fn rank(&self) -> RankKey {
        let count = self.containers().count();
        RankKey::new(
            self.free_memory(),
            self.free_cpus(),
            u32::try_from(count).unwrap_or(u32::MAX),
            self.slot,
        )
    }
}

impl EngineView for View<'_> {
    fn id(&self) -> &str {
        &self.engine.id
    }
    fn health(&self) -> Health {
        self.engine.health
    }
    fn broken_constraint<'r>(&self, req: &'r Request) -> Option<&'r Constraint> {
        req.constraints
            .iter()
            .find(|c| !c.holds(&self.engine.labels))
    }
    fn runs_image(&self, req: &Request) -> bool {
        self.containers().any(|c| c.image == req.footprint.image)
    }
    fn runs_matching(&self, req: &Request, rule: usize) -> bool {
        req.affinities
            .get(rule)
            .is_some_and(|rule| self.containers().any(|c| rule.matches(c)))
    }
    fn port_in_use(&self, ports: &[HostPort]) -> Option<HostPort> {
        ports
            .iter()
            .find(|p| {
                self.containers()
                    .any(|c| c.ports.iter().any(|q| q.conflicts(p)))
            })
            .copied()
    }
    fn free_cpus(&self) -> Millicpus {
        let used: Millicpus = self.containers().map(|c| c.cpus).sum();
        self.engine.cpus.saturating_sub(used)
    }
    fn free_memory(&self) -> u64 {
        let used: u64 = self.containers().map(|c| c.memory).sum();
        self.engine.memory.saturating_sub(used)
    }
}

/// Decides where the request's containers go, without changing the snapshot.
// Over 80 lines: the reference scheduler is kept as one pass that reads as the spec does; the indexed one is tested against it.
pub fn plan(snapshot: &Snapshot, req: &Request) -> Result<Placement, Unplaceable> {
    let mut tentative: Vec<(usize, Footprint)> = Vec::new();
    let view = |slot: usize, tentative: &[(usize, Footprint)]| -> Option<Reject> {
        let v = View {
            engine: &snapshot.engines[slot],
            tentative,
            slot,
        };
        first_reject(&v, req)
    };
    let mut placement = Placement::default();
    let image = super::snapshot::image_key(&req.footprint.image).into_owned();
    let holds = |slot: usize| {
        snapshot.engines[slot]
            .images
            .iter()
            .any(|i| super::snapshot::image_key(i) == image.as_str())
    };
    let assign = |slot: usize| Assignment {
        engine: snapshot.engines[slot].id.clone(),
        slot,
        holds_image: holds(slot),
    };

    if req.kind == ContainerType::Global {
        for slot in 0..snapshot.engines.len() {
            match view(slot, &tentative) {
                None => {
                    tentative.push((
                        slot,
                        req.footprint_for(placement.assignments.len()).into_owned(),
                    ));
                    placement.assignments.push(assign(slot));
                }
                Some(reason) => placement.skipped.push(Refusal {
                    engine: snapshot.engines[slot].id.clone(),
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
        return Ok(placement);
    }

    let mut rng = match req.strategy {
        Strategy::Random { seed } => Some(SplitMix::new(seed)),
        _ => None,
    };
    for replica in 0..req.replicas {
        let chosen = match rng.as_mut() {
            Some(rng) => {
                Walk::new(snapshot.engines.len(), rng).find(|&s| view(s, &tentative).is_none())
            }
            None => {
                let mut fitting: Vec<RankKey> = Vec::new();
                for slot in 0..snapshot.engines.len() {
                    if view(slot, &tentative).is_some() {
                        continue;
                    }
                    fitting.push(
                        View {
                            engine: &snapshot.engines[slot],
                            tentative: &tentative,
                            slot,
                        }
                        .rank(),
                    );
                }
                let best_of = |keys: &mut dyn Iterator<Item = RankKey>| {
                    keys.fold(None::<RankKey>, |best, k| match best {
                        Some(b) if !k.beats(&b, req.strategy) => Some(b),
                        _ => Some(k),
                    })
                };
                // The strategy's best; among engines as free as it, one
                // that holds the image.
                best_of(&mut fitting.iter().copied()).map(|best| {
                    let local = best_of(&mut fitting.iter().copied().filter(|k| {
                        (k.free_memory, k.free_cpus) == (best.free_memory, best.free_cpus)
                            && holds(k.slot())
                    }));
                    local.unwrap_or(best).slot()
                })
            }
        };
        match chosen {
            Some(slot) => {
                placement.assignments.push(assign(slot));
                tentative.push((slot, req.footprint_for(replica as usize).into_owned()));
            }
            None => {
                let refusals = (0..snapshot.engines.len())
                    .filter_map(|slot| {
                        view(slot, &tentative).map(|reason| Refusal {
                            engine: snapshot.engines[slot].id.clone(),
                            reason,
                        })
                    })
                    .collect();
                return Err(Unplaceable {
                    replica,
                    replicas: req.replicas,
                    placed: placement.assignments,
                    refusals,
                });
            }
        }
    }
    Ok(placement)
}

/// Decides and commits: the chosen engines get the request's footprint.
pub fn place(snapshot: &mut Snapshot, req: &Request) -> Result<Placement, Unplaceable> {
    let placement = plan(snapshot, req)?;
    for (i, a) in placement.assignments.iter().enumerate() {
        snapshot.engines[a.slot]
            .containers
            .push(req.footprint_for(i).into_owned());
    }
    Ok(placement)
}
