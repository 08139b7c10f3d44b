//! Cluster events: what happened, when, to which engine or container.

use serde::{Deserialize, Serialize};

use super::{Container, Engine};

/// The kinds of events the cluster records (Shipyard's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventType {
    Create,
    Start,
    Stop,
    Die,
    Destroy,
    Restart,
    Scale,
    AddEngine,
    RemoveEngine,
    EngineDown,
    EngineUp,
    AddAccount,
    RemoveAccount,
    AddRole,
    RemoveRole,
    AddServiceKey,
    RemoveServiceKey,
    AddWebhookKey,
    RemoveWebhookKey,
    /// An account's password was changed (its login tokens ended).
    ChangePassword,
    /// A client certificate signed by the cluster's CA for an account.
    IssueCertificate,
    RevokeCertificate,
    DeployFailed,
    Reschedule,
    Redeploy,
    /// A compose project's new version (rolling or blue-green), confirmed
    /// or rolled back.
    Update,
    /// Something the cluster could not do or read (a stored record it
    /// skipped, ...).
    Error,
    /// A manifest pushed to the image registry (by tag or digest).
    ImagePush,
    /// A manifest pulled from the image registry (a `GET`).
    ImagePull,
    /// A manifest or a tag deleted from the image registry.
    ImageDelete,
}

/// What an image event is about: the registry's notifications are made of
/// these (distribution's `target` and `actor`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImageEvent {
    pub repository: String,
    /// The manifest's digest (empty for a tag deleted alone: see `tag`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    #[serde(default)]
    pub size: u64,
    /// The tag pushed, pulled or deleted (none for a reference by digest).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag: String,
    /// Who did it.
    pub actor: String,
}

/// One recorded event. `seq` orders events and lets a reader resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    #[serde(default)]
    pub seq: u64,
    #[serde(rename = "type")]
    pub kind: EventType,
    /// RFC 3339.
    pub time: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<Engine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Box<Container>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageEvent>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_shape() {
        let e: Event = serde_json::from_str(
            r#"{"type":"add-service-key","time":"2026-01-01T00:00:00Z",
                "message":"description=demo","tags":["cluster","security"]}"#,
        )
        .unwrap();
        assert_eq!(e.kind, EventType::AddServiceKey);
        let back = serde_json::to_value(&e).unwrap();
        assert_eq!(back["type"], "add-service-key");
        assert!(back.get("engine").is_none());
    }
}
