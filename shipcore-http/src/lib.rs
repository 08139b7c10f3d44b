//! shipcore-http: the HTTP facade that serves every API family of SPEC.md on one
//! listener. It parses requests, calls one core function and renders the answer;
//! the logic lives in `shipcore`. Until the facade lands, it only defines its
//! error type.

/// Errors of the HTTP facade.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}
