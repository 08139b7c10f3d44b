//! The image registry (OCI distribution): names and digests checked before
//! they touch the file system (`names.rs`, pure), the content store of
//! blobs and uploads on disk (`blobs.rs`: folders `0700`, files `0600`;
//! each upload a caller opens bound to its repository and principal), and
//! manifests read for what they
//! reference (`manifest.rs`, pure but for sha2, an optional dependency of
//! the runtime); `policy.rs` (pure) decides retention and immutability of
//! tags; `notify.rs` sends pushes, pulls and deletes to endpoints (the
//! envelope, the endpoints' rules and the backoff pure, the deliveries
//! under the runtime); `service.rs` keeps repositories, blob links, manifests
//! and tags in the state store, and collects garbage; `query.rs` holds the
//! listings the seed families page through.

#[cfg(feature = "runtime")]
pub mod blobs;
#[cfg(feature = "runtime")]
pub mod manifest;
pub mod names;
pub mod notify;
pub mod policy;
#[cfg(feature = "runtime")]
pub mod query;
#[cfg(feature = "runtime")]
pub mod service;

pub use crate::error::RegistrySubject;
#[cfg(feature = "runtime")]
pub use blobs::{BlobStore, UploadOwner};
pub use names::{check_tag, Digest, Reference, Repository};
#[cfg(feature = "runtime")]
pub use service::{Collected, ManifestDoc, ProjectDoc, Registry, RepoDoc, TagDoc};
