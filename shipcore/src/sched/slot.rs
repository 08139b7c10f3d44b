//! One engine as the index keeps it (a [`Slot`]: capacity, reservations,
//! and what its containers are called, run, carry and bind, counted by
//! number), and the filter chain's [`View`] of it for one request, whose
//! strings were looked up once ([`Asked`]).

use core::net::IpAddr;

use super::filter::EngineView;
use super::locality::HeldId;
use super::rank::RankKey;
use super::request::{Constraint, Request};
use super::snapshot::{EngineSnapshot, Footprint, HostPort, Millicpus};
use super::symbols::{count_down, count_up, Counts, IdMap, Sym, Symbols};
use crate::model::Health;

/// A container label `key=value` as one number: the key's symbol and the
/// value's.
pub(super) fn label_pair(key: Sym, value: Sym) -> u64 {
    (u64::from(key) << 32) | u64::from(value)
}

/// A host port's protocol and number as one number.
fn port_key(p: &HostPort) -> u32 {
    ((p.proto as u32) << 16) | u32::from(p.port)
}

/// The bindings of one host port (protocol and number) on an engine.
#[derive(Debug, Clone, Default)]
struct PortUse {
    /// Bindings on every address (the common case, kept without a list).
    every: u32,
    /// Bindings on one address each, repeats kept.
    ips: Vec<IpAddr>,
}

impl PortUse {
    /// Whether a binding on `ip` (`None`: every address) would conflict.
    fn conflicts(&self, ip: Option<IpAddr>) -> bool {
        self.every > 0
            || match ip {
                None => !self.ips.is_empty(),
                Some(ip) => self.ips.contains(&ip),
            }
    }

    fn add(&mut self, ip: Option<IpAddr>) {
        match ip {
            None => self.every += 1,
            Some(ip) => self.ips.push(ip),
        }
    }

    /// Drops a binding; false when none is left.
    fn remove(&mut self, ip: Option<IpAddr>) -> bool {
        match ip {
            None => self.every = self.every.saturating_sub(1),
            Some(ip) => {
                if let Some(i) = self.ips.iter().position(|x| *x == ip) {
                    self.ips.swap_remove(i);
                }
            }
        }
        self.every > 0 || !self.ips.is_empty()
    }
}

/// One engine's state inside the index.
#[derive(Debug, Clone)]
pub(super) struct Slot {
    pub id: String,
    pub health: Health,
    pub bucket: usize,
    pub removed: bool,
    pub cpus: Millicpus,
    pub memory: u64,
    pub reserved_cpus: Millicpus,
    pub reserved_memory: u64,
    pub containers: u32,
    /// Containers without a name (an `affinity:container==` rule with an
    /// empty name would point at them).
    unnamed: u32,
    images: Counts<Sym>,
    names: Counts<Sym>,
    labels: Counts<u64>,
    ports: IdMap<u32, PortUse>,
    /// Images the engine holds, sorted.
    pub held: Vec<HeldId>,
}

impl Slot {
    /// An engine with nothing on it yet.
    pub fn new(e: &EngineSnapshot, bucket: usize) -> Self {
        Slot {
            id: e.id.clone(),
            health: e.health,
            bucket,
            removed: false,
            cpus: e.cpus,
            memory: e.memory,
            reserved_cpus: 0,
            reserved_memory: 0,
            containers: 0,
            unnamed: 0,
            images: Counts::default(),
            names: Counts::default(),
            labels: Counts::default(),
            ports: IdMap::default(),
            held: Vec::new(),
        }
    }

    pub fn rank(&self, slot: usize) -> RankKey {
        RankKey::new(
            self.memory.saturating_sub(self.reserved_memory),
            self.cpus.saturating_sub(self.reserved_cpus),
            self.containers,
            slot,
        )
    }

    /// Whether the slot sits in its bucket's order (can be chosen).
    pub fn listed(&self) -> bool {
        !self.removed && self.health == Health::Healthy
    }

    pub fn holds(&self, image: HeldId) -> bool {
        self.held.binary_search(&image).is_ok()
    }

    /// Records a container `f` under `name`; `image` is the number of its
    /// image if the caller knows it.
    pub fn add(&mut self, f: &Footprint, name: &str, image: Option<Sym>, symbols: &mut Symbols) {
        self.containers += 1;
        self.reserved_cpus += f.cpus;
        self.reserved_memory += f.memory;
        count_up(&mut self.images, symbols.acquire_known(&f.image, image));
        if name.is_empty() {
            self.unnamed += 1;
        } else {
            count_up(&mut self.names, symbols.acquire(name));
        }
        for (k, v) in &f.labels {
            let pair = label_pair(symbols.acquire(k), symbols.acquire(v));
            count_up(&mut self.labels, pair);
        }
        for p in &f.ports {
            self.ports.entry(port_key(p)).or_default().add(p.ip);
        }
    }

    /// Forgets a container `f` recorded under `name`; what the engine does
    /// not hold is left alone, so removing twice cannot go below zero.
    pub fn remove(&mut self, f: &Footprint, name: &str, symbols: &mut Symbols) {
        self.containers = self.containers.saturating_sub(1);
        self.reserved_cpus = self.reserved_cpus.saturating_sub(f.cpus);
        self.reserved_memory = self.reserved_memory.saturating_sub(f.memory);
        if let Some(image) = symbols.get(&f.image) {
            if count_down(&mut self.images, image) {
                symbols.release(&f.image);
            }
        }
        if name.is_empty() {
            self.unnamed = self.unnamed.saturating_sub(1);
        } else if let Some(n) = symbols.get(name) {
            if count_down(&mut self.names, n) {
                symbols.release(name);
            }
        }
        for (k, v) in &f.labels {
            let (Some(ks), Some(vs)) = (symbols.get(k), symbols.get(v)) else {
                continue;
            };
            if count_down(&mut self.labels, label_pair(ks, vs)) {
                symbols.release(k);
                symbols.release(v);
            }
        }
        for p in &f.ports {
            let key = port_key(p);
            if self.ports.get_mut(&key).is_some_and(|u| !u.remove(p.ip)) {
                self.ports.remove(&key);
            }
        }
    }
}

/// What an affinity rule points at, as engines' maps count it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target {
    Name(Sym),
    Unnamed,
    Image(Sym),
    Label(u64),
}

/// A request's strings, looked up once per decision.
#[derive(Debug, Clone, Default)]
pub(super) struct Asked {
    /// The request's image among running containers (for `unique`).
    pub image: Option<Sym>,
    /// Per affinity rule, what it points at; `None` when no container of
    /// the cluster matches it.
    pub rules: Vec<Option<Target>>,
    /// The request's image among held images (for locality).
    pub held: Option<HeldId>,
    /// Whether a check beyond free cpus and memory needs the engine itself.
    pub needs_slot: bool,
}

/// A slot seen through the filter chain for one request.
pub(super) struct View<'a> {
    pub slot: &'a Slot,
    pub broken: Option<usize>,
    pub asked: &'a Asked,
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
    fn runs_image(&self, _req: &Request) -> bool {
        self.asked
            .image
            .is_some_and(|i| self.slot.images.contains_key(&i))
    }
    fn runs_matching(&self, _req: &Request, rule: usize) -> bool {
        match self.asked.rules.get(rule).copied().flatten() {
            None => false,
            Some(Target::Name(n)) => self.slot.names.contains_key(&n),
            Some(Target::Unnamed) => self.slot.unnamed > 0,
            Some(Target::Image(i)) => self.slot.images.contains_key(&i),
            Some(Target::Label(pair)) => self.slot.labels.contains_key(&pair),
        }
    }
    fn port_in_use(&self, ports: &[HostPort]) -> Option<HostPort> {
        ports
            .iter()
            .find(|p| {
                self.slot
                    .ports
                    .get(&port_key(p))
                    .is_some_and(|u| u.conflicts(p.ip))
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
