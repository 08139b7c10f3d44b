//! What the project service stores, and the labels on what it makes.
//!
//! A project is one document (`projects/{name}`): its definition, its
//! lifecycle (see [`crate::update`]), the engine it runs on and, during an
//! update, the next definition. Containers are not stored: they carry
//! ownership labels (project, service, number, version) and are read back
//! from the engine, which is the truth about them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::compose::{self, ComposeFile, ParseOptions};
use crate::error::Result;
use crate::model::{Owner, ProjectState};
use crate::update::Lifecycle;

pub const PROJECTS: &str = "projects/";
pub const VOLUMES: &str = "volumes/";

/// The cluster identity that made a container or network.
pub const LABEL_OWNER: &str = crate::cluster::docs::LABEL_PROJECTS;
pub const LABEL_PROJECT: &str = "io.shipcore.project";
pub const LABEL_SERVICE: &str = "io.shipcore.project.service";
pub const LABEL_NUMBER: &str = "io.shipcore.project.number";
pub const LABEL_VERSION: &str = "io.shipcore.project.version";
/// On a container of a new version started beside the old one: its fixed
/// host ports were left to the engine, to be taken over once the old
/// version is gone.
pub const LABEL_OVERLAP: &str = "io.shipcore.project.overlap";

pub fn project_key(name: &str) -> String {
    format!("{PROJECTS}{name}")
}

pub fn volume_key(name: &str) -> String {
    format!("{VOLUMES}{name}")
}

/// The name of a project's reservation with the scheduler (and of the next
/// version's during an update).
pub fn hold_name(project: &str, next: bool) -> String {
    if next {
        format!("project:{project}@next")
    } else {
        format!("project:{project}")
    }
}

/// A version of a project: its compose template and what fills it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Definition {
    pub template: String,
    pub version: String,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Files beside the template (`.env`, `env_file` targets), by
    /// relative path.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
    /// The compose profiles enabled (`*`: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
}

impl Definition {
    /// The compose file. Host paths parse: what a file may mount is the
    /// admission policy's to judge, for whom it was admitted.
    pub fn parse(&self) -> Result<ComposeFile> {
        let opts = ParseOptions { allow_binds: true };
        let extras = compose::Extras::checked(&self.files, &self.profiles)?;
        compose::parse_with(&self.template, &self.environment, &opts, &extras)
    }
}

/// A stored project.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProjectDoc {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub current: Definition,
    /// The version being rolled out, during an update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Definition>,
    #[serde(default)]
    pub lifecycle: Lifecycle,
    /// The engine the project runs on (empty: not placed yet).
    #[serde(default)]
    pub engine: String,
    /// Replicas set through the scale API, by service (over the file's).
    #[serde(default)]
    pub scale: BTreeMap<String, u32>,
    /// Services stopped through the services API while the project runs.
    #[serde(default)]
    pub stopped: Vec<String>,
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub updated: String,
    /// The account that made it: it (and admins, or roles that reach all
    /// projects) may see and change it. Empty for projects of earlier
    /// versions: those are the admins'.
    #[serde(default)]
    pub created_by: String,
    /// Whom the current definition was admitted for (the creator, or who
    /// last updated it); what the project's containers may do to their
    /// host is judged again under it whenever they are made. `None` for
    /// projects of earlier versions: the cluster's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admitted_for: Option<Owner>,
}

impl ProjectDoc {
    /// Whom its containers are admitted for.
    pub fn admitted(&self) -> Owner {
        self.admitted_for.clone().unwrap_or_else(Owner::system)
    }

    /// Whether `who` may see (or, with `write`, change) this project.
    pub fn reachable_by(&self, who: &Owner, write: bool) -> bool {
        who.may("projects", &self.created_by, write)
    }

    /// The replicas of a service: the scale API's, else the file's.
    pub fn replicas(&self, service: &str, file: &ComposeFile) -> u32 {
        self.scale
            .get(service)
            .copied()
            .or_else(|| file.services.get(service).map(|s| s.replicas))
            .unwrap_or(0)
    }

    /// The services of `file` that are to run now.
    pub fn running_services(&self, file: &ComposeFile) -> std::collections::BTreeSet<String> {
        file.services
            .keys()
            .filter(|s| self.wants_running(s))
            .cloned()
            .collect()
    }

    /// Whether a service is to run now.
    pub fn wants_running(&self, service: &str) -> bool {
        self.lifecycle.desired == ProjectState::Running
            && !self.stopped.iter().any(|s| s == service)
    }
}

/// A volume made through the volumes API, and where.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VolumeDoc {
    pub name: String,
    pub engine: String,
    pub driver: String,
    #[serde(default)]
    pub driver_opts: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The account that made it (empty: an earlier version's, the admins').
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub created: String,
}

/// A name fit for a Docker object from a version string (`1.0` → `1.0`,
/// `v 2/beta` → `v-2-beta`).
pub fn slug(version: &str) -> String {
    let s: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(32)
        .collect();
    if s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        s
    } else {
        format!("v{s}")
    }
}

/// The name of container `n` of a service at a version.
pub fn container_name(project: &str, service: &str, version: &str, n: u32) -> String {
    format!("{project}_{service}_{}_{n}", slug(version))
}

/// The engine's name of a project network (`default` included).
pub fn network_name(project: &str, key: &str, def: &compose::NetworkDef) -> String {
    engine_name(project, key, &def.name, def.external)
}

/// The engine's name of a project volume.
pub fn volume_name(project: &str, key: &str, def: &compose::VolumeDef) -> String {
    engine_name(project, key, &def.name, def.external)
}

/// A project resource's name on its engine: the one the file gives, the
/// key for an external one, else `{project}_{key}`.
fn engine_name(project: &str, key: &str, name: &str, external: bool) -> String {
    if !name.is_empty() {
        name.to_string()
    } else if external {
        key.to_string()
    } else {
        format!("{project}_{key}")
    }
}
