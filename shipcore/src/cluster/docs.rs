//! The documents the cluster keeps in the state store, their keys, and the
//! ownership labels put on every container it creates, from which the state
//! can be rebuilt when the store is lost.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{ContainerState, EngineRecord, Health, ImageConfig, Port};
use crate::sched::{millicpus, Footprint, HostPort};

pub const ENGINES: &str = "cluster/engines/";
pub const CONTAINERS: &str = "cluster/containers/";

/// Label: the cluster that owns a container.
pub const LABEL_CLUSTER: &str = "io.shipcore.cluster";
/// Label: the deploy request the container was made from (JSON).
pub const LABEL_CONFIG: &str = "io.shipcore.config";

/// A registered engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineDoc {
    pub record: EngineRecord,
    #[serde(default)]
    pub health: Health,
    /// RFC 3339.
    #[serde(default)]
    pub added: String,
}

/// A container the cluster deployed (or adopted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerDoc {
    /// The engine's container id.
    pub id: String,
    pub name: String,
    pub engine: String,
    pub image: ImageConfig,
    /// RFC 3339.
    pub created: String,
    /// Whether the container should run (false after a stop).
    pub desired_running: bool,
    #[serde(default)]
    pub state: ContainerState,
    #[serde(default)]
    pub ports: Vec<Port>,
    /// Ids this container replaced when it was rescheduled: if one of them
    /// shows up again (its engine came back), it is removed, not adopted.
    #[serde(default)]
    pub replaces: Vec<String>,
}

impl ContainerDoc {
    /// What the container takes from its engine, for the scheduler.
    pub fn footprint(&self) -> Footprint {
        footprint(&self.image, &self.name)
    }
}

/// The footprint of a container deployed from `cfg` under `name`.
pub fn footprint(cfg: &ImageConfig, name: &str) -> Footprint {
    Footprint {
        name: name.to_string(),
        image: cfg.name.clone(),
        labels: BTreeMap::new(),
        ports: cfg
            .bind_ports
            .iter()
            .filter_map(|b| {
                let port = u16::try_from(b.port).ok().filter(|p| *p != 0)?;
                Some(HostPort::new(&b.host_ip, b.proto, port))
            })
            .collect(),
        cpus: millicpus(cfg.cpus),
        memory: cfg.memory,
    }
}
