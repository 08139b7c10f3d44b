//! The one error enum of the core crate.
//!
//! Variants carry the context a user needs to act on them (which key, which
//! field, which engine); messages are lower-case sentences without a trailing
//! period, so adapters can embed them in their own envelopes. What the API
//! families must tell apart is told by a variant or a typed field (the
//! registry's [`RegistrySubject`]), never by the text a field holds; a
//! variant that wraps another error keeps it as its source.

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

    /// A file could not be read or written (`what`: the operation and its
    /// path, `cannot read /data/registry/uploads/…`).
    #[error("system failure: {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },

    /// The image registry was given a name, reference, digest, manifest or
    /// blob it does not accept (`what` says which: the distribution API
    /// answers each with its own code).
    #[error("invalid {what}: {reason}")]
    RegistryInvalid {
        what: RegistrySubject,
        reason: String,
    },

    /// The image registry has no such repository, manifest, blob or upload
    /// (an upload that is another's answers so too).
    #[error("no such {what} {id}")]
    RegistryUnknown { what: RegistrySubject, id: String },

    /// A pushed manifest references a blob or manifest its repository does
    /// not have.
    #[error("the manifest references {what} {id}, which {repository} does not have")]
    ManifestReference {
        repository: String,
        what: RegistrySubject,
        id: String,
    },

    /// A chunk of an upload does not start where the upload ends; `held`:
    /// the bytes the upload holds (where the client resumes).
    #[error("upload {upload} is {held} bytes: the chunk starts at {at}, but the upload holds {held} bytes")]
    UploadOffset { upload: String, held: u64, at: u64 },

    /// Another request is writing to the upload; `held`: the bytes it held
    /// when this one was refused, when known.
    #[error("upload {upload} is being written: another request is writing to it")]
    UploadBusy { upload: String, held: Option<u64> },

    /// No build plugin has this name.
    #[error("no plugin {plugin:?}")]
    UnknownPlugin { plugin: String },

    /// The build plugin has no such method.
    #[error("plugin {plugin:?} has no method {method:?}")]
    UnknownPluginMethod { plugin: String, method: String },

    /// A build plugin's arguments or settings are wrong (the reason names
    /// them).
    #[error("{reason}")]
    PluginParams { reason: String },

    /// A build plugin refused to let a build go on.
    #[error("{plugin}: {reason}")]
    PluginRefused { plugin: String, reason: String },

    /// A build failed at a step: `step` says what the build was doing,
    /// `source` what went wrong there (the source is the boxed error:
    /// downcast it as `Box<Error>`).
    #[error("{step}: {source}")]
    BuildStep {
        step: String,
        #[source]
        source: Box<Error>,
    },

    /// A build cannot go on, for a reason of its own (the engine reported
    /// no image, the push no digest, ...).
    #[error("{reason}")]
    BuildFailed { reason: String },
}

/// What an error of the image registry is about, so each API family can
/// answer it with its own code without reading the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RegistrySubject {
    Repository,
    Tag,
    Digest,
    Manifest,
    Blob,
    Upload,
}

impl RegistrySubject {
    /// The word messages use for it.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrySubject::Repository => "repository",
            RegistrySubject::Tag => "tag",
            RegistrySubject::Digest => "digest",
            RegistrySubject::Manifest => "manifest",
            RegistrySubject::Blob => "blob",
            RegistrySubject::Upload => "upload",
        }
    }
}

impl std::fmt::Display for RegistrySubject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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

    /// Whether the disk under the data folder is full (or the quota
    /// spent): the facade answers 507, and the write can be tried again
    /// once space is freed.
    pub fn is_out_of_space(&self) -> bool {
        match self {
            Error::Io { source, .. } => out_of_space(source),
            _ => false,
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    /// Shorthand for [`Error::RegistryInvalid`].
    pub fn registry_invalid(what: RegistrySubject, reason: impl Into<String>) -> Self {
        Error::RegistryInvalid {
            what,
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::RegistryUnknown`].
    pub fn registry_unknown(what: RegistrySubject, id: impl Into<String>) -> Self {
        Error::RegistryUnknown {
            what,
            id: id.into(),
        }
    }

    /// Shorthand for [`Error::PluginParams`].
    pub fn plugin_params(reason: impl Into<String>) -> Self {
        Error::PluginParams {
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::BuildStep`]: `self`, met while the build was
    /// at `step`.
    pub fn at_step(self, step: impl Into<String>) -> Self {
        Error::BuildStep {
            step: step.into(),
            source: Box::new(self),
        }
    }

    /// Shorthand for [`Error::BuildFailed`].
    pub fn build_failed(reason: impl Into<String>) -> Self {
        Error::BuildFailed {
            reason: reason.into(),
        }
    }
}

/// Whether an I/O error is a full disk (or a spent quota).
pub fn out_of_space(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    ) || matches!(e.raw_os_error(), Some(28 | 122))
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn typed_kinds_keep_the_messages_of_their_untyped_forms() {
        assert_eq!(
            Error::registry_invalid(RegistrySubject::Digest, "not ALGORITHM:HEX").to_string(),
            Error::invalid("digest", "not ALGORITHM:HEX").to_string()
        );
        assert_eq!(
            Error::registry_unknown(RegistrySubject::Upload, "ab12").to_string(),
            Error::missing("upload", "ab12").to_string()
        );
        assert_eq!(
            Error::UploadOffset {
                upload: "ab12".into(),
                held: 6,
                at: 3
            }
            .to_string(),
            Error::State {
                what: "upload ab12".into(),
                state: "6 bytes".into(),
                reason: "the chunk starts at 3, but the upload holds 6 bytes".into(),
            }
            .to_string()
        );
    }

    #[test]
    fn wrapped_errors_stay_sources() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let e = Error::io("cannot read /x", io);
        assert_eq!(e.to_string(), "system failure: cannot read /x: denied");
        let inner = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(
            inner.map(std::io::Error::kind),
            Some(std::io::ErrorKind::PermissionDenied)
        );
        let e = Error::missing("project", "web").at_step("the project is gone");
        assert_eq!(e.to_string(), "the project is gone: no such project web");
        let inner = e.source().and_then(|s| s.downcast_ref::<Box<Error>>());
        assert!(matches!(
            inner.map(AsRef::as_ref),
            Some(Error::Missing { .. })
        ));
    }
}
