//! The scheduler's view of the cluster: engines with their capacity, labels,
//! health and the footprints of the containers they run.
//!
//! Reservations are not stored separately: an engine's reserved cpus and
//! memory are the sum of its containers' footprints, so they cannot drift.

use core::net::IpAddr;
use std::collections::BTreeMap;

use crate::model::{Health, Proto};

/// CPU amounts in thousandths of a cpu, so sums are exact and deterministic.
pub type Millicpus = u64;

/// Converts Shipyard's fractional cpus to [`Millicpus`], rounding up so that
/// any positive request reserves something.
pub fn millicpus(cpus: f64) -> Millicpus {
    if cpus.is_finite() && cpus > 0.0 {
        (cpus * 1000.0).ceil() as Millicpus
    } else {
        0
    }
}

/// A host port a container holds (or asks for). `ip` `None` means every
/// address of the engine (`0.0.0.0` / `::`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPort {
    pub ip: Option<IpAddr>,
    pub proto: Proto,
    pub port: u16,
}

impl HostPort {
    /// Builds a host port from Shipyard's `host_ip` string (empty, `0.0.0.0`
    /// and `::` mean every address).
    pub fn new(host_ip: &str, proto: Proto, port: u16) -> Self {
        let ip = host_ip
            .parse::<IpAddr>()
            .ok()
            .filter(|ip| !ip.is_unspecified());
        HostPort { ip, proto, port }
    }

    /// Whether two bindings cannot both exist on one engine: same protocol and
    /// port, and the same address or one of them on every address.
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.proto == other.proto
            && self.port == other.port
            && (self.ip.is_none() || other.ip.is_none() || self.ip == other.ip)
    }
}

impl std::fmt::Display for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ip {
            Some(ip) => write!(f, "{ip}:{}/{}", self.port, self.proto),
            None => write!(f, "{}/{}", self.port, self.proto),
        }
    }
}

/// What a container takes from its engine and what other requests may refer
/// to: its name, image and labels (affinity), host ports, cpus and memory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Footprint {
    pub name: String,
    pub image: String,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<HostPort>,
    pub cpus: Millicpus,
    /// MiB.
    pub memory: u64,
}

/// One engine as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EngineSnapshot {
    pub id: String,
    /// Shipyard-style labels: plain (`ssd`) or `key=value`.
    pub labels: Vec<String>,
    pub health: Health,
    /// Capacity the scheduler may reserve.
    pub cpus: Millicpus,
    /// MiB.
    pub memory: u64,
    pub containers: Vec<Footprint>,
}

impl EngineSnapshot {
    pub fn reserved_cpus(&self) -> Millicpus {
        self.containers.iter().map(|c| c.cpus).sum()
    }

    pub fn reserved_memory(&self) -> u64 {
        self.containers.iter().map(|c| c.memory).sum()
    }

    /// Unreserved cpus (never negative, even if the engine is overcommitted).
    pub fn free_cpus(&self) -> Millicpus {
        self.cpus.saturating_sub(self.reserved_cpus())
    }

    pub fn free_memory(&self) -> u64 {
        self.memory.saturating_sub(self.reserved_memory())
    }
}

/// The whole cluster. Engine order matters only for ties and for the
/// `random` strategy's walk, and is kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub engines: Vec<EngineSnapshot>,
}
