//! The documents the cluster keeps in the state store, their keys, and the
//! ownership labels put on every container it creates, from which the state
//! can be rebuilt when the store is lost. Plain data: built without the
//! `runtime` feature.
//!
//! A deploy's request is stored once (`cluster/deploys/{id}`) and its
//! containers refer to it, so the replicas of a deploy of 1,000 share one
//! copy on disk and in memory.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{ContainerState, EngineRecord, Health, ImageConfig, Owner, Port};
use crate::sched::Footprint;

/// The cluster's identity, made at its first start.
pub const IDENTITY: &str = "cluster/identity";
/// The identity of clusters made by versions before identities: the value
/// of their ownership label.
pub const LEGACY_IDENTITY: &str = "shipcore";
pub const ENGINES: &str = "cluster/engines/";
pub const CONTAINERS: &str = "cluster/containers/";
pub const DEPLOYS: &str = "cluster/deploys/";

/// The stored identity of a cluster: the value of the ownership label on
/// every object it makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityDoc {
    pub id: String,
}

/// Checks a cluster identity given by a user: 1 to 64 letters, digits,
/// `-`, `_` and `.` (it becomes a label value).
pub fn validate_identity(id: &str) -> crate::Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(crate::Error::invalid(
            "cluster",
            format!("{id:?}: 1 to 64 of letters, digits, '-', '_' and '.'"),
        ))
    }
}

/// Label: the cluster that owns a container.
pub const LABEL_CLUSTER: &str = "io.shipcore.cluster";
/// Label: the deploy request the container was made from (JSON).
pub const LABEL_CONFIG: &str = "io.shipcore.config";
/// Label: the deploy the container belongs to.
pub const LABEL_DEPLOY: &str = "io.shipcore.deploy";
/// Label: the cluster whose compose projects made a container, network or
/// volume (the projects' ownership label, `projects::docs::LABEL_OWNER`).
pub const LABEL_PROJECTS: &str = "io.shipcore.compose";
/// Label: whom the container was admitted for ([`Owner`], JSON).
pub const LABEL_OWNER: &str = "io.shipcore.owner";
/// Label: the account a network or volume was made for (empty: the
/// system's or an admin's without a name). An external network or volume
/// of another account is not a project's to use.
pub const LABEL_ACCOUNT: &str = "io.shipcore.account";
/// Label: the cluster's seal over identity, deploy, owner and config
/// (see `seal.rs`): only a sealed config is trusted as the cluster's own.
pub const LABEL_SEAL: &str = "io.shipcore.seal";

/// A registered engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineDoc {
    pub record: EngineRecord,
    #[serde(default)]
    pub health: Health,
    /// RFC 3339.
    #[serde(default)]
    pub added: String,
    /// The engine's Docker version, as a health check last read it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docker_version: String,
    /// How long the last health check's ping took, in nanoseconds (0 when
    /// it failed, or none ran yet).
    #[serde(default)]
    pub response_time_ns: u64,
    /// Registered by someone other than an admin (`engine_hosts`): the
    /// registry's secrets (the engines' pull password, the builder's push
    /// password) are not sent there, and builds do not run there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub untrusted: bool,
}

impl EngineDoc {
    /// The engine's id (`engine.id`), by which containers refer to it.
    pub fn id(&self) -> &str {
        &self.record.engine.id
    }
}

/// One deploy's request, stored once for all its containers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployDoc {
    pub id: String,
    pub image: ImageConfig,
    /// RFC 3339.
    pub created: String,
    /// Whom the deploy was admitted for. Deploys of earlier versions
    /// record none: they are the cluster's own ([`Owner::system`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
}

impl DeployDoc {
    /// What its containers share.
    pub fn group(self) -> Group {
        Group {
            image: Arc::new(self.image),
            owner: Arc::new(self.owner.unwrap_or_else(Owner::system)),
        }
    }
}

/// A deploy's request and owner, shared by its containers.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub image: Arc<ImageConfig>,
    pub owner: Arc<Owner>,
}

/// Deploys by id.
pub type Deploys = BTreeMap<String, Group>;

/// A container the cluster deployed (or adopted), as held in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerDoc {
    /// The engine's container id.
    pub id: String,
    pub name: String,
    pub engine: String,
    /// The deploy it belongs to, and that deploy's request.
    pub deploy: String,
    pub image: Arc<ImageConfig>,
    /// Whom its deploy was admitted for: what the cluster does to it later
    /// on its own is admitted again under this owner.
    pub owner: Arc<Owner>,
    /// RFC 3339.
    pub created: String,
    /// Whether the container should run (false after a stop).
    pub desired_running: bool,
    pub state: ContainerState,
    /// The ports as the engine published them (host ports it chose included).
    pub ports: Vec<Port>,
    /// The container's hostname, as the engine reports it.
    pub hostname: String,
    /// Ids this container replaced when it was rescheduled: if one of them
    /// shows up again (its engine came back), it is removed, not adopted.
    pub replaces: Vec<String>,
}

/// A container as stored (at [`ContainerDoc::key`]): [`ContainerDoc`] with
/// its deploy by id. Records of earlier versions, kept at
/// `cluster/containers/{id}`, hold the request itself in `image`; opening
/// the cluster moves them to the current form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredContainer {
    pub id: String,
    pub name: String,
    pub engine: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub deploy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageConfig>,
    pub created: String,
    pub desired_running: bool,
    #[serde(default)]
    pub state: ContainerState,
    #[serde(default)]
    pub ports: Vec<Port>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaces: Vec<String>,
}

impl ContainerDoc {
    /// The key of its record: under its deploy's, so the records a deploy
    /// writes together lie together in the store.
    pub fn key(&self) -> String {
        format!("{CONTAINERS}{}/{}", self.deploy, self.id)
    }

    /// What the container takes from its engine, for the scheduler.
    pub fn footprint(&self) -> Footprint {
        Footprint::of(&self.image, &self.name)
    }

    /// The record to store.
    pub fn stored(&self) -> StoredContainer {
        StoredContainer {
            id: self.id.clone(),
            name: self.name.clone(),
            engine: self.engine.clone(),
            deploy: self.deploy.clone(),
            image: None,
            created: self.created.clone(),
            desired_running: self.desired_running,
            state: self.state.clone(),
            ports: self.ports.clone(),
            hostname: self.hostname.clone(),
            replaces: self.replaces.clone(),
        }
    }

    /// A stored record with its deploy's request; `None` when the record
    /// names a deploy that is not there and holds no request itself.
    pub fn from_stored(s: StoredContainer, deploys: &Deploys) -> Option<Self> {
        let (deploy, Group { image, owner }) = match s.image {
            Some(image) => (
                if s.deploy.is_empty() {
                    s.id.clone()
                } else {
                    s.deploy
                },
                Group {
                    image: Arc::new(image),
                    owner: Arc::new(Owner::system()),
                },
            ),
            None => {
                let group = deploys.get(&s.deploy)?.clone();
                (s.deploy, group)
            }
        };
        Some(ContainerDoc {
            id: s.id,
            name: s.name,
            engine: s.engine,
            deploy,
            image,
            owner,
            created: s.created,
            desired_running: s.desired_running,
            state: s.state,
            ports: s.ports,
            hostname: s.hostname,
            replaces: s.replaces,
        })
    }
}

/// The key of a deploy's record.
pub fn deploy_key(id: &str) -> String {
    format!("{DEPLOYS}{id}")
}

/// The key of an engine's record.
pub fn engine_key(id: &str) -> String {
    format!("{ENGINES}{id}")
}
