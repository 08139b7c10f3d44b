//! Build projects (seed 002 part 1): a project holds a Dockerfile, context
//! files and plugins (`model.rs`, pure: names, paths and sizes checked, the
//! Dockerfile instructions that would reach the engine host's network
//! refused, the repositories an owner's builds may push to, the context as
//! a tar archive); plugins hook into builds and answer the extension call
//! (`plugins.rs`, pure); `service.rs` keeps projects (each with its owner)
//! and build records in the state store and runs builds on the cluster's
//! engines, pushing the images into shipd's registry. The APIs reach it
//! through `Builds::acting_as(owner)`: an owner reaches its own projects,
//! `all-builds` everyone's.

pub mod model;
pub mod plugins;
#[cfg(feature = "runtime")]
pub mod service;

pub use model::{BuildProject, BuildRecord, BuildStatus, PluginRef, DEFAULT_CLUSTER};
pub use plugins::{BuildPlugin, Plugins};
#[cfg(feature = "runtime")]
pub use service::{ActingAs, Builds, BuildsOptions, LogEvent, ProjectChange};
