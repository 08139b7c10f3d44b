//! The cluster service: engines, deploys through the scheduler, container
//! lifecycle, scaling and the reconcile loop (Shipyard's core, seed 001). It
//! reaches engines only through [`crate::engine::EngineBackend`] (made by a
//! [`crate::engine::Connector`]) and keeps state only through
//! [`crate::store::Store`], so it runs the same over real Docker engines, a
//! simulated cluster or mocks.
//!
//! Pure, and built without the `runtime` feature:
//! - [`docs`]: what is stored, and the ownership labels on containers.
//! - [`plan`]: the reconcile planner (desired × observed → actions).
//!
//! The service (feature `runtime`):
//! - `service.rs`: [`Cluster`], its options, opening and the background loops.
//! - `state.rs`: what is held in memory and the methods that keep its
//!   invariants (reservations, pending deploys, the generation).
//! - `engines.rs`: registering engines and checking their health.
//! - `deploy.rs`: the deploy transaction.
//! - `containers.rs`: inspect, stop, restart, destroy, logs, scale.
//! - `holds.rs`: engines and held reservations for other services (compose).
//! - `locks.rs`: one operation at a time per container and per config.
//! - `redeploy.rs`: Docker Hub's push: redeploy an image's containers.
//! - `reconcile.rs`: observing engines and executing a plan.
//! - `seal.rs`: the HMAC seal on the labels the cluster writes, so only
//!   what it made is adopted as its own.
//! - `follow.rs`: applying other replicas' writes (a shared store).
//! - `whole.rs`: the cluster as one Docker engine (the cluster endpoint's
//!   Docker API): containers of every engine, volumes, networks, images
//!   and events across engines.

pub mod docs;
pub mod plan;

#[cfg(feature = "runtime")]
mod containers;
#[cfg(feature = "runtime")]
mod deploy;
#[cfg(feature = "runtime")]
mod engines;
#[cfg(feature = "runtime")]
mod follow;
#[cfg(feature = "runtime")]
mod holds;
#[cfg(feature = "runtime")]
mod locks;
#[cfg(feature = "runtime")]
mod reconcile;
#[cfg(feature = "runtime")]
mod redeploy;
#[cfg(feature = "runtime")]
mod seal;
#[cfg(feature = "runtime")]
mod service;
#[cfg(feature = "runtime")]
mod state;
#[cfg(all(test, feature = "runtime"))]
mod tests;
#[cfg(feature = "runtime")]
mod whole;

#[cfg(feature = "runtime")]
pub use deploy::{DeployRequest, DryRun, MAX_REPLICAS};
pub use docs::{ContainerDoc, DeployDoc, EngineDoc};
pub use plan::{Action, Observation};
#[cfg(feature = "runtime")]
pub use redeploy::Redeployed;
#[cfg(feature = "runtime")]
pub use service::{Background, Cluster, ClusterOptions, ClusterStats, Totals};
#[cfg(feature = "runtime")]
pub use whole::{
    qualified, split_qualified, ClusterImage, ClusterNetwork, EngineReport, Located, Started,
    ENGINE_CALL,
};
