//! The image registry (OCI distribution): names and digests checked before
//! they touch the file system (`names.rs`, pure), the content store of
//! blobs and uploads on disk (`blobs.rs`), and manifests read for what they
//! reference (`manifest.rs`, pure but for sha2, an optional dependency of
//! the runtime). Tags, the metadata the seed APIs show and garbage
//! collection build on these.

#[cfg(feature = "runtime")]
pub mod blobs;
#[cfg(feature = "runtime")]
pub mod manifest;
pub mod names;

#[cfg(feature = "runtime")]
pub use blobs::BlobStore;
pub use names::{check_tag, Digest, Reference, Repository};
