//! Domain types, with serde names as in SPEC.md, and the validation rules that
//! travel with them.
//!
//! Types here are plain data: they do no IO and read no clock. Timestamps are
//! RFC 3339 strings made by whoever records the fact (the services), so the
//! model stays free of a time library. `units.rs` holds the units every
//! floor above shares (millicpus, host ports, timestamps); `image.rs` parses
//! image references and digests.

mod access;
pub mod admission;
mod container;
mod engine;
mod event;
mod image;
mod network;
mod project;
mod units;
mod validate;

pub use access::{
    username_char, Account, Permission, Role, RoleRef, ServiceKey, WebhookKey, BUILDER_USER,
    ENGINE_USER,
};
pub use admission::{admit, Capability, Owner, Want};
pub use container::{
    docker_name, BindPort, Container, ContainerOptions, ContainerState, ContainerType,
    DockerOptions, HostAccess, ImageConfig, Port, Proto, RestartPolicy, LOCAL_LOG_DRIVERS,
    MAX_CPUS, MAX_MEMORY,
};
pub use engine::{Engine, EngineRecord, Health};
pub use event::{Event, EventType, ImageEvent};
pub use image::{validate_repository, validate_tag, Digest, ImageRef, Platform};
pub use network::{ipv4_in, Endpoint, IpamPool};
pub use project::{Project, ProjectState, Service, Volume, VolumeRef};
pub use units::{
    millicpus, parse_rfc3339, rfc3339, whole_number, whole_number_opt, HostPort, Millicpus,
};
pub use validate::{validate_name, validate_port, NAME_PATTERN};
