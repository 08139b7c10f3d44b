//! Domain types, with serde names as in SPEC.md, and the validation rules that
//! travel with them.
//!
//! Types here are plain data: they do no IO and read no clock. Timestamps are
//! RFC 3339 strings made by whoever records the fact (the services), so the
//! model stays free of a time library.

mod access;
mod container;
mod engine;
mod event;
mod project;
mod validate;

pub use access::{Account, Permission, Role, RoleRef, ServiceKey, WebhookKey};
pub use container::{
    repository, BindPort, Container, ContainerState, ContainerType, ImageConfig, Port, Proto,
    RestartPolicy,
};
pub use engine::{Engine, EngineRecord, Health};
pub use event::{Event, EventType};
pub use project::{Project, ProjectState, Service, Volume, VolumeRef};
pub use validate::{validate_name, validate_port};
