//! shipcore-http: the HTTP facade that serves the API families of SPEC.md on
//! one listener. A handler parses, calls one core function and renders; the
//! logic lives in `shipcore`.
//!
//! # Layout
//! One module per API family, each with a `router()` that [`router`]
//! mounts, so a family is added by one line:
//! - `cluster_api/`: the cluster API of seed 001 (`/api/...`, `/hub/webhook`).
//! - `compose_api/`: the container service of seed 003 (`/projects`,
//!   `/services`, `/volumes`).
//! - `dashboard/`: the web dashboard (`/ui/`): pages whose script uses the
//!   families' JSON API with the signed-in account's session.
//! - `registry_api/`: the image registry: the OCI distribution API
//!   (`/v2/`), seed 004's docker ext API (`/docker/ext`) and seed 002's
//!   Harbor-style browse API (`/harbor`).
//!
//! Shared by every family, below them (no family imports from `lib.rs` or
//! from another family; `lib.rs` only assembles):
//! - `app.rs`: [`App`], the state every handler reaches, and [`Limits`].
//! - `metrics.rs`: the request metrics the app holds.
//! - `auth.rs`: `X-Service-Key` and basic auth, permissions per area.
//! - `error.rs`: the crate's one error enum, its answers, and the envelope
//!   mechanism by which a family renders errors its own way.
//! - `extract.rs`: body, query and path extractors that fail with a 400
//!   naming what is wrong (and a 408 for a body that does not arrive).
//! - `guard.rs`: limits every request meets: a deadline, and no state
//!   changed by a browser's request from another site.
//! - `observe.rs`: request logs and Prometheus metrics.
//! - `openapi.rs`: the generated OpenAPI document (`/api/openapi.json`).
//! - `rendered.rs`: answers rendered once per cluster generation (JSON and gzip).
//! - `front.rs`: answers the hottest reads from those renderings before the router.
//! - `outbound.rs`: the one HTTP client shipd calls out with (the
//!   registry's notifications).
//!
//! `server.rs` assembles a whole server ([`Server`]: the families' services
//! over a store, a cluster and an access service): shipd, the tests and the
//! benches build theirs there.
//!
//! The cluster endpoint ([`serve_tls`]): mutual TLS (`tls.rs`), the client
//! certificate as the credential, the facade's families and a Docker
//! Engine API for the whole cluster (`docker_api/`).

mod app;
mod auth;
mod build_api;
mod cluster_api;
mod compose_api;
mod dashboard;
mod docker_api;
mod error;
mod extract;
mod front;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod guard;
mod metrics;
mod observe;
mod openapi;
mod outbound;
mod pages;
mod registry_api;
mod rendered;
mod server;
mod tls;

use std::future::Future;

pub use app::{App, AppParts, Limits, RegistryOptions};
use axum::Router;
pub use error::{with_envelope, Envelope, Error, ErrorBody, Failure};
pub use metrics::Metrics;
pub use server::{Server, ServerOptions};
pub use tls::TlsOptions;

/// Every route of the facade: each API family's router, and what they
/// share (metrics, the OpenAPI document, the answer to unknown paths).
pub fn router(app: App) -> Router {
    let (routes, _) = api().split_for_parts();
    routes
        .merge(registry_api::v2::router())
        .merge(registry_api::docker_ext::router())
        .merge(build_api::router())
        .merge(dashboard::router())
        .fallback(|| async { Error::NoRoute("no such endpoint".into()) })
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            Error::NoMethod(format!("this endpoint does not take {method}"))
        })
        .layer(axum::middleware::from_fn(guard::same_site))
        .layer(axum::middleware::from_fn(guard::close_unread))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            guard::deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            observe::track,
        ))
        .with_state(app)
}

/// The cluster endpoint's routes: the Docker Engine API (versioned paths,
/// and the unversioned ones the 003 API does not take), then every route
/// of [`router`].
pub fn endpoint_router(app: App) -> Router {
    let facade = router(app.clone());
    let docker = docker_api::router(app);
    Router::new().fallback_service(tower::service_fn(move |req: axum::extract::Request| {
        let (facade, docker) = (facade.clone(), docker.clone());
        async move {
            use tower::ServiceExt as _;
            match docker_api::dispatch(req) {
                docker_api::Dispatch::Docker(req) => docker.oneshot(req).await,
                docker_api::Dispatch::Facade(req) => facade.oneshot(req).await,
                docker_api::Dispatch::Answer(res) => Ok(res),
            }
        }
    }))
}

/// Every route of every family with its documentation, in one table: what
/// is served is what is documented.
fn api() -> utoipa_axum::router::OpenApiRouter<App> {
    use utoipa::OpenApi as _;
    utoipa_axum::router::OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(cluster_api::router())
        .merge(compose_api::router())
        .merge(registry_api::harbor::router())
        .merge(registry_api::policy::router())
        .merge(registry_api::notify::router())
        .routes(utoipa_axum::routes!(observe::metrics))
        .routes(utoipa_axum::routes!(openapi::document))
}

/// The OpenAPI document of every route the facade serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi as _;
    let (_, mut doc) = api().split_for_parts();
    doc.merge(registry_api::doc::Doc::openapi());
    doc.merge(build_api::doc::Doc::openapi());
    openapi::finish(&mut doc);
    doc
}

/// How long shutdown waits for open connections (an event stream never
/// ends by itself) before it returns.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves the facade of `app` on a bound listener until `shutdown`
/// completes, then stops accepting, lets requests in flight finish (up to
/// 5 s) and returns.
///
/// Connections are served by hyper's HTTP/1 server directly (with upgrades),
/// which costs less per request than `axum::serve`'s protocol-sniffing one,
/// through [`front::Front`] and then [`router`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let max_connections = app.limits.max_connections.max(1);
    let front = front::Front::new(app.clone(), router(app));
    accept_loop(listener, max_connections, shutdown, move |stream, peer| {
        let service = front.for_peer(peer);
        async move { Some((stream, service)) }
    })
    .await
}

/// Serves the cluster endpoint of `app` on a bound listener until
/// `shutdown` completes, as [`serve`] does, over TLS: a client without a
/// certificate signed by `tls.client_ca` never gets past the handshake
/// (which must end within 10 s); one with such a certificate is the account
/// it was issued for, checked at every request (a revoked certificate gets
/// 401 at its next request). It serves [`endpoint_router`].
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    app: App,
    tls: TlsOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config()?);
    let max_connections = app.limits.max_connections.max(1);
    let front = front::Front::new(app.clone(), endpoint_router(app));
    accept_loop(listener, max_connections, shutdown, move |stream, peer| {
        let (front, acceptor) = (front.for_peer(peer), acceptor.clone());
        async move {
            let stream = match tokio::time::timeout(tls::HANDSHAKE, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::info!(%peer, error = %e, "TLS handshake refused");
                    return None;
                }
                Err(_) => {
                    tracing::info!(%peer, "TLS handshake not finished in time");
                    return None;
                }
            };
            let certificate = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .and_then(|der| tls::serial_of(der))?;
            Some((stream, front.with_certificate(certificate)))
        }
    })
    .await
}

/// Accepts connections (at most `max_connections` at once) until
/// `shutdown`, each prepared by `prepare` (a TLS handshake, say; `None`
/// drops it) in a task of its own and then served by hyper's HTTP/1
/// server with upgrades; then lets requests in flight finish (up to 5 s).
async fn accept_loop<P, Fut, I>(
    listener: tokio::net::TcpListener,
    max_connections: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
    prepare: P,
) -> Result<(), Error>
where
    P: Fn(tokio::net::TcpStream, std::net::SocketAddr) -> Fut,
    Fut: Future<Output = Option<(I, front::Front)>> + Send + 'static,
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use hyper_util::rt::TokioIo;

    // Shutdown is announced on `stop`; each connection holds a `done`
    // receiver, so `done_tx.closed()` completes when the last one ends.
    let (stop, _) = tokio::sync::watch::channel(());
    let (done_tx, done) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(max_connections));
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of file descriptors and the like: wait, as axum does.
                tracing::error!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        let prepared = prepare(stream, peer);
        let mut stop = stop.subscribe();
        let done = done.clone();
        tokio::spawn(async move {
            let prepared = tokio::select! {
                prepared = prepared => prepared,
                _ = stop.changed() => None,
            };
            if let Some((io, service)) = prepared {
                // With a timer, hyper closes connections that take over 30 s
                // to send a request's headers (slow-loris clients).
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .serve_connection(TokioIo::new(io), service)
                    .with_upgrades();
                let mut conn = std::pin::pin!(conn);
                let result = tokio::select! {
                    result = conn.as_mut() => result,
                    _ = stop.changed() => {
                        conn.as_mut().graceful_shutdown();
                        conn.await
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            }
            drop(done);
            drop(slot);
        });
    }
    drop(listener);
    drop(done);
    let _ = stop.send(());
    if tokio::time::timeout(DRAIN, done_tx.closed()).await.is_err() {
        tracing::warn!("connections still open after {DRAIN:?}; closing them");
    }
    Ok(())
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}
