//! Build projects (seed 002 part 1): a project holds a Dockerfile, context
//! files and plugins (`model.rs`, pure: names, paths and sizes checked, the
//! context as a tar archive); plugins hook into builds and answer the
//! extension call (`plugins.rs`, pure); `service.rs` keeps projects and
//! build records in the state store and runs builds on the cluster's
//! engines, pushing the images into shipd's registry.

pub mod model;
pub mod plugins;
#[cfg(feature = "runtime")]
pub mod service;

pub use model::{BuildProject, BuildRecord, BuildStatus, PluginRef, DEFAULT_CLUSTER};
pub use plugins::{BuildPlugin, PluginError, Plugins};
#[cfg(feature = "runtime")]
pub use service::{Builds, BuildsOptions, LogEvent, ProjectChange};
