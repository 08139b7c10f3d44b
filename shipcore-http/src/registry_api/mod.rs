//! The image registry's APIs, over [`shipcore::registry::Registry`], under
//! the `registry` permission area (the built-in `user` role reads; pushing
//! and deleting take a role that allows writing it):
//! - `v2.rs`: the OCI distribution API (`/v2/...`) that docker, skopeo and
//!   the cluster's engines push to and pull from, with its own error form.
//! - `docker_ext.rs`: seed 004's repository docker ext API (`/docker/ext/...`).
//! - `harbor.rs`: seed 002 part 2's Harbor-style browse API (`/harbor/...`).
//! - `policy.rs`: a repository's retention and immutability rules and its
//!   retention runs (`/api/registry/...`).
//! - `notify.rs`: the endpoints told of pushes, pulls and deletes
//!   (`/api/registry/notifications`, an administrator's).
//! - `doc.rs`: the OpenAPI operations of `v2.rs` and `docker_ext.rs`.

pub(crate) mod doc;
pub(crate) mod docker_ext;
pub(crate) mod harbor;
pub(crate) mod notify;
pub(crate) mod policy;
pub(crate) mod v2;

use crate::app::{App, RegistryOptions};
use crate::auth::Caller;
use crate::error::Error;

pub(crate) const AREA: &str = "registry";

/// The app's registry, or a 404 when this server keeps none.
pub(crate) fn registry(app: &App) -> Result<&RegistryOptions, Error> {
    app.registry
        .get()
        .ok_or_else(|| Error::NoRoute("this server keeps no image registry".into()))
}

/// How much of a blob one read takes, and how many reads may wait for the
/// connection: the reading runs ahead of the sending by at most this.
const READ_CHUNK: usize = 2 << 20;
const READ_AHEAD: usize = 4;

/// `len` bytes of a blob file from where it stands, as a response body. One
/// blocking thread reads straight into the chunks the connection sends
/// (no copy between), ahead of the sending, so reading the disk and
/// writing the socket overlap; a client that goes away ends the reading.
pub(crate) async fn file_body(file: tokio::fs::File, len: u64) -> axum::body::Body {
    use std::io::Read as _;
    const READ_CHUNK_U64: u64 = READ_CHUNK as u64;
    let mut file = file.into_std().await;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut left = len;
        while left > 0 {
            let want = left.min(READ_CHUNK_U64);
            // Read into fresh, uninitialised room (no zeroing pass).
            let mut chunk = Vec::with_capacity(READ_CHUNK);
            let read = match (&mut file).take(want).read_to_end(&mut chunk) {
                Ok(0) => Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the blob file is shorter than its size",
                )),
                other => other,
            };
            let sent = match read {
                Ok(n) => {
                    left -= n as u64;
                    tx.blocking_send(Ok(bytes::Bytes::from(chunk)))
                }
                Err(e) => {
                    left = 0;
                    tx.blocking_send(Err(e))
                }
            };
            // The connection is gone: stop reading.
            if sent.is_err() {
                return;
            }
        }
    });
    axum::body::Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }))
}

/// The caller's name as the registry records it.
pub(crate) fn by(caller: &Caller) -> &str {
    &caller.0.name
}
