//! The scheduler's view of the cluster: engines with their capacity, labels,
//! health and the footprints of the containers they run.
//!
//! Reservations are not stored separately: an engine's reserved cpus and
//! memory are the sum of its containers' footprints, so they cannot drift.

use std::collections::BTreeMap;

pub use crate::model::{millicpus, HostPort, Millicpus};
use crate::model::{Health, ImageConfig};

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

impl Footprint {
    /// What a container deployed from `cfg` under `name` takes: the one
    /// conversion of a deploy request for the scheduler.
    pub fn of(cfg: &ImageConfig, name: &str) -> Self {
        Footprint {
            name: name.to_string(),
            image: cfg.name.clone(),
            // A Docker API request's container labels, for later
            // requests' `affinity:KEY==VALUE` rules.
            labels: cfg
                .docker
                .as_ref()
                .map(|d| d.labels.clone())
                .unwrap_or_default(),
            ports: cfg.host_ports(),
            cpus: millicpus(cfg.cpus),
            memory: cfg.memory,
        }
    }
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
    /// Image references the engine holds (`repo:tag`, `repo@digest`), as
    /// its last health check listed them: among engines that fit equally
    /// well, one holding the request's image is preferred.
    pub images: Vec<String>,
}

/// An image reference as engines list them: `busybox` is `busybox:latest`.
pub fn image_key(image: &str) -> std::borrow::Cow<'_, str> {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || last.contains(':') {
        std::borrow::Cow::Borrowed(image)
    } else {
        std::borrow::Cow::Owned(format!("{image}:latest"))
    }
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
