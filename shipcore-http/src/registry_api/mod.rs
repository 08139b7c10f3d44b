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

/// The caller's name as the registry records it.
pub(crate) fn by(caller: &Caller) -> &str {
    &caller.0.name
}
