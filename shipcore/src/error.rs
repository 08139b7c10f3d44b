//! The one error enum of the core crate.
//!
//! Variants carry the context a user needs to act on them (which key, which
//! field, which engine); messages are lower-case sentences without a trailing
//! period, so adapters can embed them in their own envelopes.

/// Result with the core's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field of a request or a record is not acceptable.
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },

    /// A compare-and-swap in the state store found another revision.
    #[error("conflict on {key}: expected revision {expected}, found {actual}")]
    Conflict {
        key: String,
        expected: u64,
        actual: u64,
    },

    /// The state store failed underneath (disk, corruption, closed database).
    #[error("state store failure: {reason}")]
    Storage { reason: String },

    /// A change stream asked for revisions that were compacted away, or fell
    /// too far behind the writers.
    #[error("change stream cannot resume at revision {revision}: {reason}")]
    WatchLost { revision: u64, reason: String },

    /// A stored document could not be decoded.
    #[error("stored document {key} is not valid: {reason}")]
    Decode { key: String, reason: String },

    /// An engine has no such object.
    #[error("no such {kind} {id} on engine {engine}")]
    NotFound {
        engine: String,
        kind: String,
        id: String,
    },

    /// An engine refused a change that conflicts with its state (a name in
    /// use, a running container removed without force, ...).
    #[error("engine {engine} refused: {message}")]
    EngineConflict { engine: String, message: String },

    /// An engine could not be reached at all.
    #[error("engine {engine} unreachable at {addr}: {reason}")]
    Unreachable {
        engine: String,
        addr: String,
        reason: String,
    },

    /// An engine did not answer in time.
    #[error("engine {engine} did not answer within {seconds}s")]
    Timeout { engine: String, seconds: u64 },

    /// The TLS handshake with an engine failed (wrong CA, bad or missing
    /// client certificate, ...), or its TLS material is unusable.
    #[error("tls failure with engine {engine}: {reason}")]
    Tls { engine: String, reason: String },

    /// The cluster has no such object (container, engine, ...).
    #[error("no such {kind} {id}")]
    Missing { kind: String, id: String },

    /// An id prefix matches more than one object.
    #[error("{prefix} is ambiguous: it matches {count} {kind}s")]
    Ambiguous {
        kind: String,
        prefix: String,
        count: usize,
    },

    /// The object exists already.
    #[error("{kind} {id} exists already")]
    Exists { kind: String, id: String },

    /// No engine can take the request; the explanation names each engine's
    /// reason.
    #[error("cannot place: {}", .0.explanation)]
    Unplaceable(Box<Refused>),

    /// The object's state does not allow the operation (an update while
    /// another is under way, a confirm without an update, ...).
    #[error("{what} is {state}: {reason}")]
    State {
        what: String,
        state: String,
        reason: String,
    },

    /// The caller may not do this (a grant beyond its own role, ...).
    #[error("forbidden: {reason}")]
    Forbidden { reason: String },

    /// Too many attempts; try again after `retry_after` seconds.
    #[error("too many attempts: {reason}; try again in {retry_after}s")]
    TooMany { reason: String, retry_after: u64 },

    /// The server is too busy for this now; try again after `retry_after`
    /// seconds.
    #[error("unavailable: {reason}; try again in {retry_after}s")]
    Unavailable { reason: String, retry_after: u64 },

    /// The operating system failed us (no randomness, ...).
    #[error("system failure: {reason}")]
    System { reason: String },

    /// An engine answered with an error.
    #[error("engine {engine} answered {status}: {message}")]
    EngineApi {
        engine: String,
        status: u16,
        message: String,
    },
}

/// Why no engine could take a request, as the scheduler explained it (its
/// decision value converts into this, so the error type needs nothing from
/// the floors above it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// `0/5 engines: 3 insufficient memory, 2 label mismatch`.
    pub summary: String,
    /// The whole line: the replica that failed, the summary and the first
    /// engines' reasons.
    pub explanation: String,
    /// Every engine with its reason.
    pub refusals: Vec<EngineRefusal>,
}

/// One engine that could not take a request, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineRefusal {
    pub engine: String,
    pub reason: String,
}

impl std::fmt::Display for EngineRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.engine, self.reason)
    }
}

impl Error {
    /// Shorthand for [`Error::Missing`].
    pub fn missing(kind: impl Into<String>, id: impl Into<String>) -> Self {
        Error::Missing {
            kind: kind.into(),
            id: id.into(),
        }
    }

    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
