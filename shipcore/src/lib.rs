//! shipcore: run a cluster of Docker engines.
//!
//! This crate is the core of the project. It knows nothing about HTTP or Docker:
//! adapters (`shipcore-docker`, `shipcore-http`) depend on it, never the reverse.
//!
//! # Layout
//!
//! - [`access`]: accounts, roles, service and webhook keys, authentication.
//! - [`cluster`]: the cluster service (engines, deploys, reconcile, events).
//! - [`model`]: the domain types (engines, containers, image configs, projects,
//!   services, volumes, keys, accounts, roles, events) with their validation.
//! - [`sched`]: the pure, explainable scheduler. It takes a cluster snapshot and a
//!   request and returns a placement or, per engine, the reason it was refused.
//!   It does no IO and reads no clock; the same input always gives the same answer.
//! - [`store`]: the state store trait (keyed documents with revisions,
//!   compare-and-swap, prefix listing, change streams), an in-memory
//!   implementation for tests and the durable embedded default (redb).
//! - [`engine`]: the engine backend trait (one Docker engine as the core uses
//!   it) and the values that cross it; `shipcore-docker` implements it.
//! - [`error`]: the crate's one error enum.

pub mod access;
pub mod cluster;
pub mod engine;
pub mod error;
pub mod model;
pub mod sched;
pub mod store;

pub use error::{Error, Result};
