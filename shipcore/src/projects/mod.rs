//! The container service of seed 003: compose projects on the cluster's
//! engines, their services, volumes and blue-green updates. It drives the
//! pure compose model ([`crate::compose`]) and update machine
//! ([`crate::update`]) and reaches engines through the cluster
//! ([`crate::cluster::Cluster`]), whose scheduler holds each project's total
//! reservation.
//!
//! - `docs.rs`: what is stored, and the labels on containers, networks and
//!   volumes (from which a project's containers are read back).
//! - `service.rs`: [`Projects`]: create, lifecycle, updates, services.
//! - `run.rs`: a project on its engine: bring-up in dependency order,
//!   readiness, stop, kill, removal.
//! - `view.rs`: projects and services as the API shows them.
//! - `volumes.rs`: the volumes API.
//! - `plan.rs` (pure): what a wave's containers are to become and what a
//!   reconcile round is to do, as values (`run.rs` and `reconcile.rs`
//!   perform them; `Projects::plan` is the round's dry run).
//! - `reconcile.rs`: projects off lost engines, orphans removed.
//!
//! Without the `runtime` feature only `docs` and `plan` build.

pub mod docs;
pub mod plan;
#[cfg(feature = "runtime")]
mod reconcile;
#[cfg(feature = "runtime")]
mod run;
#[cfg(feature = "runtime")]
mod service;
#[cfg(feature = "runtime")]
mod view;
#[cfg(feature = "runtime")]
mod volumes;

pub use docs::{
    container_name, Definition, ProjectDoc, LABEL_NUMBER, LABEL_OWNER, LABEL_PROJECT,
    LABEL_SERVICE, LABEL_VERSION,
};
#[cfg(feature = "runtime")]
pub use service::{NewProject, ProjectUpdate, Projects, ProjectsOptions};
#[cfg(feature = "runtime")]
pub use view::{ContainerView, ProjectView, ServiceView, UpdateView};
#[cfg(feature = "runtime")]
pub use volumes::NewVolume;
