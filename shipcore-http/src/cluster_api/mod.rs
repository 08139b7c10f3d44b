//! The cluster API of seed 001 (Shipyard), one file per resource, mounted
//! by [`router`]. Errors answer in the plain JSON envelope.
//!
//! - `containers.rs`: list, deploy, inspect, destroy, stop, restart, scale,
//!   logs.
//! - `engines.rs`: engines and `/api/cluster/info`.
//! - `access.rs`: accounts, roles, service keys, webhook keys.
//! - `login.rs`: login tokens (`/auth/login`, `/auth/logout`) and password
//!   changes, as Shipyard v2's CLI uses them.
//! - `released.rs`: the wire forms of Shipyard v2 as released, decided in
//!   one place (container `state` as a string for its CLI, events that
//!   always carry `container` and `engine` objects).
//! - `events.rs`: events (paged, or followed as server-sent events) and
//!   Docker Hub's webhook.

pub mod access;
pub mod containers;
pub mod engines;
pub mod events;
pub mod login;
pub mod released;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;

/// Every route of the cluster API, with its documentation: a route is
/// served if and only if it is documented.
pub fn router() -> OpenApiRouter<App> {
    use self::{access as acc, containers as c, engines as e, events as ev, login as l};
    OpenApiRouter::new()
        .routes(routes!(c::list, c::deploy))
        .routes(routes!(c::inspect, c::destroy))
        .routes(routes!(c::stop))
        .routes(routes!(c::restart))
        .routes(routes!(c::scale))
        .routes(routes!(c::logs))
        .routes(routes!(e::list, e::add))
        .routes(routes!(e::inspect, e::remove))
        .routes(routes!(e::info))
        .routes(routes!(
            acc::accounts,
            acc::add_account,
            acc::delete_account
        ))
        .routes(routes!(l::set_password))
        .routes(routes!(l::login))
        .routes(routes!(l::logout))
        .routes(routes!(l::change_password))
        .routes(routes!(acc::roles, acc::add_role, acc::delete_role))
        .routes(routes!(acc::role))
        .routes(routes!(
            acc::service_keys,
            acc::add_service_key,
            acc::delete_service_key
        ))
        .routes(routes!(acc::webhook_keys, acc::add_webhook_key))
        .routes(routes!(acc::delete_webhook_key))
        .routes(routes!(acc::delete_webhook_key_alias))
        .routes(routes!(ev::list))
        .routes(routes!(ev::hub))
        .routes(routes!(ev::hub_without_key))
        .routes(routes!(ev::hub_without_key_slash))
}
