//! shipcore-docker: the engine backend for Docker engines.
//!
//! This crate will implement shipcore's engine backend trait over the Docker
//! Engine API (unix socket, TCP and TLS). The core does not depend on it; it
//! depends on the core. Until the backend lands, it only defines its error type.

/// Errors of the Docker backend, in the core's terms.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The address given for an engine could not be understood.
    #[error("invalid engine address {addr:?}: {reason}")]
    InvalidAddress { addr: String, reason: String },
}
