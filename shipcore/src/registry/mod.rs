//! The image registry (OCI distribution): names and digests checked before
//! they touch the file system (`names.rs`, pure), and the content store of
//! blobs and uploads on disk (`blobs.rs`). Manifests, tags, the metadata
//! the seed APIs show and garbage collection build on these.

#[cfg(feature = "runtime")]
pub mod blobs;
pub mod names;

#[cfg(feature = "runtime")]
pub use blobs::BlobStore;
pub use names::{check_tag, Digest, Reference, Repository};
