//! shipcore-docker: the engine backend for Docker engines.
//!
//! [`DockerEngine`] implements `shipcore::engine::EngineBackend` over the
//! Docker Engine API with bollard (hyper and rustls underneath): unix sockets,
//! plain TCP and mutual TLS. Build one from an [`EngineTarget`] — made from an
//! address, from Shipyard's engine record, or from the environment
//! (`DOCKER_HOST`, `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`).
//!
//! # Layout
//! - `connect.rs`: addresses, TLS material, the lazily negotiated client.
//! - `backend.rs`: the trait implementation.
//! - `convert.rs`: bollard models to and from the core's engine types.
//! - `error.rs`: this crate's error enum and the mapping of bollard's errors
//!   to the core's (not found, conflict, unreachable, timeout, TLS, API).

mod backend;
mod connect;
mod convert;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

pub use backend::{DockerConnector, DockerEngine};
pub use connect::{EngineTarget, TlsMaterial, DEFAULT_TIMEOUT};
pub use error::Error;
