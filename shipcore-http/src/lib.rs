//! shipcore-http: the HTTP facade that serves the API families of SPEC.md on
//! one listener. A handler parses, calls one core function and renders; the
//! logic lives in `shipcore`.
//!
//! # Layout
//! - `cluster_api/`: the cluster API of seed 001 (`/api/...`, `/hub/webhook`).
//! - `auth.rs`: `X-Service-Key` and basic auth, permissions per area.
//! - `error.rs`: the crate's error enum and the JSON error answers.
//! - `observe.rs`: request logs and Prometheus metrics.

mod auth;
mod cluster_api;
mod error;
mod observe;

use std::future::Future;

use axum::routing::{delete, get, post};
use axum::Router;
use shipcore::access::Access;
use shipcore::cluster::Cluster;

pub use error::{ApiError, Error};
pub use observe::Metrics;

/// What every handler reaches: the cluster service, the access service and
/// the request metrics.
#[derive(Debug, Clone)]
pub struct App {
    pub cluster: Cluster,
    pub access: Access,
    pub metrics: std::sync::Arc<Metrics>,
    /// The container list as last rendered, with the cluster generation it
    /// was read at.
    containers_json: std::sync::Arc<std::sync::Mutex<Option<(u64, bytes::Bytes)>>>,
}

impl App {
    pub fn new(cluster: Cluster, access: Access) -> Self {
        App {
            cluster,
            access,
            metrics: Default::default(),
            containers_json: Default::default(),
        }
    }
}

/// Every route of the facade.
pub fn router(app: App) -> Router {
    use cluster_api::{access as acc, containers as c, engines as e, events as ev};
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
        .route("/api/webhooks/{id}", delete(acc::delete_webhook_key))
        .route("/api/events", get(ev::list))
        .route("/hub/webhook/{key}", post(ev::hub))
        .route("/metrics", get(observe::metrics))
        .fallback(|| async { ApiError::new(axum::http::StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            observe::track,
        ))
        .with_state(app)
}

/// Serves the router on a bound listener until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(Error::Serve)
}
