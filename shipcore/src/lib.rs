//! shipcore: run a cluster of Docker engines.
//!
//! This crate is the core of the project. It knows nothing about HTTP or Docker:
//! adapters (`shipcore-docker`, `shipcore-http`) depend on it, never the reverse.
//!
//! # Layout
//!
//! Modules stand on floors; a module imports only from floors below its own
//! (ARCHITECTURE.md states it as an invariant):
//!
//! 1. [`error`]: the crate's one error enum.
//! 2. [`model`]: the domain types (engines, containers, image configs and
//!    references, projects, services, volumes, keys, accounts, roles,
//!    events) with their validation, and the shared units (millicpus, host
//!    ports, timestamps).
//! 3. [`sched`]: the pure, explainable scheduler. [`store`]: the state store
//!    trait (keyed documents with revisions, compare-and-swap, batches,
//!    paged prefix reads, change streams), in memory and durable on redb.
//!    [`engine`]: the engine backend trait and the [`engine::Connector`] that
//!    makes backends; `shipcore-docker` implements both.
//! 4. [`events`]: the event log every family records into; [`clock`]: the
//!    one clock services read.
//! 5. [`access`]: accounts, roles, service and webhook keys, authentication.
//! 6. [`cluster`]: the cluster service (engines, deploys, reconcile).
//!
//! Without the default `runtime` feature only the pure floors build: the
//! model, the scheduler, the cluster's stored documents and its reconcile
//! planner (no tokio, no redb, no argon2). The `testing` feature adds fakes
//! for tests and benches: an in-memory engine, a store that fails on demand,
//! and the store conformance suite.

#[cfg(feature = "runtime")]
pub mod access;
pub mod build;
#[cfg(feature = "runtime")]
pub mod clock;
pub mod cluster;
pub mod compose;
pub mod engine;
pub mod error;
#[cfg(feature = "runtime")]
pub mod events;
pub mod model;
pub mod projects;
pub mod registry;
pub mod sched;
#[cfg(feature = "runtime")]
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod update;

pub use error::{EngineRefusal, Error, Refused, Result};
