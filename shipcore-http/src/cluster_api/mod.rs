//! The cluster API of seed 001 (Shipyard), one file per resource, mounted
//! by [`router`]. Errors answer in the plain JSON envelope.
//!
//! - `containers.rs`: list, deploy, inspect, destroy, stop, restart, scale,
//!   logs.
//! - `engines.rs`: engines and `/api/cluster/info`.
//! - `access.rs`: accounts, roles, service keys, webhook keys.
//! - `events.rs`: events (paged, or followed as server-sent events) and
//!   Docker Hub's webhook.

pub mod access;
pub mod containers;
pub mod engines;
pub mod events;

use axum::routing::{delete, get, post};
use axum::Router;

use crate::App;

/// Every route of the cluster API.
pub fn router() -> Router<App> {
    use self::{access as acc, containers as c, engines as e, events as ev};
    Router::new()
        .route("/api/containers", get(c::list).post(c::deploy))
        .route("/api/containers/{id}", get(c::inspect).delete(c::destroy))
        .route("/api/containers/{id}/stop", get(c::stop))
        .route("/api/containers/{id}/restart", get(c::restart))
        .route("/api/containers/{id}/scale", get(c::scale))
        .route("/api/containers/{id}/logs", get(c::logs))
        .route("/api/engines", get(e::list).post(e::add))
        .route("/api/engines/{id}", get(e::inspect).delete(e::remove))
        .route("/api/cluster/info", get(e::info))
        .route(
            "/api/accounts",
            get(acc::accounts)
                .post(acc::add_account)
                .delete(acc::delete_account),
        )
        .route(
            "/api/roles",
            get(acc::roles).post(acc::add_role).delete(acc::delete_role),
        )
        .route("/api/roles/{name}", get(acc::role))
        .route(
            "/api/servicekeys",
            get(acc::service_keys)
                .post(acc::add_service_key)
                .delete(acc::delete_service_key),
        )
        .route(
            "/api/webhookkeys",
            get(acc::webhook_keys).post(acc::add_webhook_key),
        )
        .route("/api/webhookkeys/{id}", delete(acc::delete_webhook_key))
        .route("/api/webhooks/{id}", delete(acc::delete_webhook_key_alias))
        .route("/api/events", get(ev::list))
        .route("/hub/webhook/{key}", post(ev::hub))
        .route("/hub/webhook", post(ev::hub_without_key))
        .route("/hub/webhook/", post(ev::hub_without_key_slash))
}
