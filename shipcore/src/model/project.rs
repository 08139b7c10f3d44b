//! Compose applications (seed 003): projects, their services, and volumes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::validate::validate_name;
use crate::error::{Error, Result};

/// Lifecycle states of projects and services. `desired_state` is what was
/// asked, `current_state` what the engines report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ProjectState {
    #[default]
    Stopped,
    Starting,
    Running,
    Stopping,
    Deleted,
    Updating,
    Failed,
}

/// A compose application.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Project {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The compose YAML.
    #[serde(default)]
    pub template: String,
    #[serde(default = "default_version")]
    pub version: String,
    /// Values for `${VAR}` in the template.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub updated: String,
    #[serde(default)]
    pub desired_state: ProjectState,
    #[serde(default)]
    pub current_state: ProjectState,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<Service>,
}

fn default_version() -> String {
    "1.0".into()
}

impl Project {
    pub fn validate(&self) -> Result<()> {
        validate_name("name", &self.name)?;
        if self.version.trim().is_empty() {
            return Err(Error::invalid("version", "must not be empty"));
        }
        Ok(())
    }
}

/// One compose service of a project; its id is `{project}_{service}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub project: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub updated: String,
    #[serde(default)]
    pub desired_state: ProjectState,
    #[serde(default)]
    pub current_state: ProjectState,
    /// The service's compose keys, as given.
    #[serde(default)]
    pub definition: serde_json::Value,
    #[serde(default)]
    pub extensions: serde_json::Value,
    #[serde(default)]
    pub containers: BTreeMap<String, serde_json::Value>,
}

impl Service {
    /// The id of service `service` of project `project`.
    pub fn id_of(project: &str, service: &str) -> String {
        format!("{project}_{service}")
    }
}

/// A container that uses a volume.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VolumeRef {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "ID")]
    pub id: String,
}

/// A named volume, in Docker's field names (seed 003).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Volume {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Driver", default = "default_driver")]
    pub driver: String,
    #[serde(rename = "Mountpoint", default)]
    pub mountpoint: String,
    #[serde(rename = "Labels", default)]
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "Scope", default = "default_scope")]
    pub scope: String,
    #[serde(rename = "Node", default, skip_serializing_if = "String::is_empty")]
    pub node: String,
    #[serde(rename = "Refs", default, skip_serializing_if = "Vec::is_empty")]
    pub refs: Vec<VolumeRef>,
}

fn default_driver() -> String {
    "local".into()
}

fn default_scope() -> String {
    "local".into()
}

impl Volume {
    pub fn validate(&self) -> Result<()> {
        validate_name("Name", &self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_defaults_and_rules() {
        let p: Project =
            serde_json::from_str(r#"{"name":"shop","template":"services: {}"}"#).unwrap();
        assert_eq!(p.version, "1.0");
        assert_eq!(p.desired_state, ProjectState::Stopped);
        p.validate().unwrap();
        let bad = Project {
            name: "-shop".into(),
            ..p
        };
        assert!(bad.validate().is_err());
        assert_eq!(Service::id_of("shop", "web"), "shop_web");
    }

    #[test]
    fn volume_docker_names() {
        let v: Volume = serde_json::from_str(r#"{"Name":"data"}"#).unwrap();
        assert_eq!((v.driver.as_str(), v.scope.as_str()), ("local", "local"));
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["Name"], "data");
        assert!(json.get("Refs").is_none());
    }
}
