//! The crate's error enum, and the translation of bollard's errors into the
//! core's terms. Bollard's error type never leaves this crate.

use std::error::Error as _;

/// Errors of setting up a Docker backend (before any request is made).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The address given for an engine could not be understood.
    #[error("invalid engine address {addr:?}: {reason}")]
    InvalidAddress { addr: String, reason: String },

    /// The TLS material is missing, unreadable or cannot be written for the
    /// client to use.
    #[error("unusable tls material for engine {engine}: {reason}")]
    TlsMaterial { engine: String, reason: String },

    /// The Docker client could not be built.
    #[error("cannot set up a client for engine {engine}: {reason}")]
    Client { engine: String, reason: String },
}

impl From<Error> for shipcore::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidAddress { addr, reason } => {
                shipcore::Error::invalid("engine.addr", format!("{addr:?}: {reason}"))
            }
            Error::TlsMaterial { engine, reason } => shipcore::Error::Tls { engine, reason },
            Error::Client { engine, reason } => shipcore::Error::Unreachable {
                engine,
                addr: String::new(),
                reason,
            },
        }
    }
}

/// Where a request went, to give errors their context.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub engine: String,
    pub addr: String,
    pub timeout_secs: u64,
}

/// The words that mark a failed TLS handshake in the error chain.
const TLS_WORDS: [&str; 6] = [
    "certificate",
    "tls",
    "handshake",
    "unknownissuer",
    "badcertificate",
    "alert",
];

impl Origin {
    /// Translates a bollard error; `kind` and `id` name the object asked for,
    /// so a 404 becomes "no such container abc on engine e1".
    pub fn error(&self, kind: &str, id: &str, e: bollard::errors::Error) -> shipcore::Error {
        use bollard::errors::Error as B;
        match e {
            B::DockerResponseServerError {
                status_code,
                message,
            } => match status_code {
                404 => shipcore::Error::NotFound {
                    engine: self.engine.clone(),
                    kind: kind.into(),
                    id: id.into(),
                },
                409 => shipcore::Error::EngineConflict {
                    engine: self.engine.clone(),
                    message: message.trim().to_string(),
                },
                _ => shipcore::Error::EngineApi {
                    engine: self.engine.clone(),
                    status: status_code,
                    message: message.trim().to_string(),
                },
            },
            B::DockerStreamError { error } => self.api(500, error),
            B::RequestTimeoutError => shipcore::Error::Timeout {
                engine: self.engine.clone(),
                seconds: self.timeout_secs,
            },
            B::SocketNotFoundError(path) => self.unreachable(format!("no socket at {path}")),
            B::JsonDataError { message, .. } => {
                self.api(0, format!("unexpected answer: {message}"))
            }
            other => {
                let chain = chain_text(&other);
                let lower = chain.to_lowercase();
                if TLS_WORDS.iter().any(|w| lower.contains(w)) {
                    shipcore::Error::Tls {
                        engine: self.engine.clone(),
                        reason: chain,
                    }
                } else if lower.contains("timed out") || lower.contains("elapsed") {
                    shipcore::Error::Timeout {
                        engine: self.engine.clone(),
                        seconds: self.timeout_secs,
                    }
                } else {
                    self.unreachable(chain)
                }
            }
        }
    }

    pub fn api(&self, status: u16, message: impl Into<String>) -> shipcore::Error {
        shipcore::Error::EngineApi {
            engine: self.engine.clone(),
            status,
            message: message.into(),
        }
    }

    pub fn unreachable(&self, reason: impl Into<String>) -> shipcore::Error {
        shipcore::Error::Unreachable {
            engine: self.engine.clone(),
            addr: self.addr.clone(),
            reason: reason.into(),
        }
    }
}

/// An error and its sources, joined: hyper's errors say little at the top.
fn chain_text(e: &bollard::errors::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}
