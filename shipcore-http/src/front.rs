//! The front of the listener. The hottest reads, `GET /api/cluster/info`
//! and `GET /api/containers`, are answered here from their renderings for
//! the cluster's current generation when the caller's service key is
//! already known and allowed to read them; that skips the router's
//! machinery, which costs more than the answer itself. Every other request,
//! and every miss (unknown key, basic auth, no permission, nothing rendered
//! yet, Shipyard's released CLI with its own rendering), goes to the
//! router, which answers the same request the same way (and renders what
//! the next request is served from). Both count and log
//! requests with `observe::finish`.

use std::convert::Infallible;
use std::time::Instant;

use axum::body::Body;
use axum::http::{Method, Request};
use axum::response::Response;
use axum::Router;
use futures::future::{ready, Either, Ready};
use tower_service::Service as _;

use crate::app::App;
use crate::cluster_api::{containers, engines};
use crate::observe;
use crate::rendered::Rendered;

/// The hyper service of a connection: the front, then the router.
#[derive(Debug, Clone)]
pub struct Front {
    app: App,
    router: Router,
    /// The client's address, given to every request of its connection (the
    /// login throttle counts failures by it).
    peer: Option<std::net::SocketAddr>,
    /// The client certificate of the connection (the cluster endpoint): it
    /// goes with every request, and the cached answers (which read a
    /// service key) are not used.
    certificate: Option<crate::auth::ClientCertificate>,
}

impl Front {
    pub fn new(app: App, router: Router) -> Self {
        Front {
            app,
            router,
            peer: None,
            certificate: None,
        }
    }

    /// The front of one connection from `peer`.
    pub fn for_peer(&self, peer: std::net::SocketAddr) -> Self {
        Front {
            peer: Some(peer),
            ..self.clone()
        }
    }

    /// The front of a connection that showed a client certificate.
    pub fn with_certificate(mut self, certificate: crate::auth::ClientCertificate) -> Self {
        self.certificate = Some(certificate);
        self
    }

    /// The cached answer to `req`, if it has one.
    fn answer<B>(&self, req: &Request<B>) -> Option<Response> {
        if self.certificate.is_some()
            || req.method() != Method::GET
            || req.uri().query().is_some()
            || crate::cluster_api::released::from_released_cli(req.headers())
        {
            return None;
        }
        let path = req.uri().path();
        let (rendered, area): (&Rendered, _) = match path {
            "/api/cluster/info" => (&self.app.info_json, engines::INFO_AREA),
            "/api/containers" => (&self.app.containers_json, containers::AREA),
            _ => return None,
        };
        let started = Instant::now();
        let key = req.headers().get("x-service-key")?.to_str().ok()?;
        let principal = self.app.access.cached_service_key(key)?;
        if !principal.allows(area, false) {
            return None;
        }
        let rendering = rendered.current(self.app.cluster.generation())?;
        let mut res = rendering.response(crate::rendered::accepts_gzip(req.headers()));
        observe::finish(&self.app, &Method::GET, path, path, &mut res, started);
        Some(res)
    }
}

impl<B> hyper::service::Service<Request<B>> for Front
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future =
        Either<Ready<Result<Response, Infallible>>, axum::routing::future::RouteFuture<Infallible>>;

    fn call(&self, mut req: Request<B>) -> Self::Future {
        if let Some(peer) = self.peer {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
        }
        if let Some(certificate) = &self.certificate {
            req.extensions_mut().insert(certificate.clone());
        }
        match self.answer(&req) {
            Some(res) => Either::Left(ready(Ok(res))),
            None => Either::Right(self.router.clone().call(req.map(Body::new))),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use axum::http::header;
    use http_body_util::{BodyExt, Empty};
    use hyper::service::Service as _;
    use shipcore::access::Access;
    use shipcore::cluster::Cluster;
    use shipcore::model::ImageConfig;
    use shipcore::testing::Fixture;

    use super::*;

    async fn front() -> (Front, Cluster, Access) {
        let f = Fixture::fake(1, 8_000, 16_384, &["app:1"]).await.unwrap();
        let app = App::new(f.cluster.clone(), f.access.clone());
        (
            Front::new(app.clone(), crate::router(app)),
            f.cluster,
            f.access,
        )
    }

    fn get(path: &str, key: &str) -> Request<Empty<bytes::Bytes>> {
        Request::get(path)
            .header("x-service-key", key)
            .body(Empty::new())
            .unwrap()
    }

    /// Status, content type and body of an answer.
    async fn parts(res: Response) -> (u16, String, bytes::Bytes) {
        let ct = res
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let status = res.status().as_u16();
        (
            status,
            ct,
            res.into_body().collect().await.unwrap().to_bytes(),
        )
    }

    #[tokio::test]
    async fn cached_answers_equal_the_routers_and_misses_go_to_the_router() {
        let (front, cluster, access) = front().await;
        let key = access.create_service_key("k", "user").await.unwrap().key;
        let cfg = ImageConfig {
            name: "app:1".into(),
            cpus: 0.5,
            memory: 64,
            ..ImageConfig::default()
        };
        cluster.deploy(cfg.clone(), 6).await.unwrap();
        for path in ["/api/cluster/info", "/api/containers"] {
            // Nothing rendered and the key not seen yet: the router answers.
            assert!(front.answer(&get(path, &key)).is_none());
            let routed = parts(front.call(get(path, &key)).await.unwrap()).await;
            assert_eq!(routed.0, 200);
            // Now the front answers, with the same status, type and body.
            let cached = front.answer(&get(path, &key)).unwrap();
            assert!(cached.headers().contains_key("x-request-id"));
            assert_eq!(parts(cached).await, routed);
        }
        // Clients that accept gzip get the same gzip from either side.
        let zipped = |key: &str| {
            let mut r = get("/api/containers", key);
            r.headers_mut()
                .insert(header::ACCEPT_ENCODING, "gzip".parse().unwrap());
            r
        };
        let cached = front.answer(&zipped(&key)).unwrap();
        assert_eq!(cached.headers()[header::CONTENT_ENCODING], "gzip");
        let cached = parts(cached).await;
        let routed = front.router.clone().call(zipped(&key).map(Body::new)).await;
        assert_eq!(parts(routed.unwrap()).await, cached);
        // A change to the cluster: the rendering is stale, the router answers
        // with the new state.
        cluster.deploy(cfg, 1).await.unwrap();
        assert!(front.answer(&get("/api/containers", &key)).is_none());
        let (_, _, body) = parts(front.call(get("/api/containers", &key)).await.unwrap()).await;
        let list: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
        assert_eq!(list.len(), 7);
        assert!(front.answer(&get("/api/containers", &key)).is_some());
    }

    #[tokio::test]
    async fn the_front_never_answers_what_the_caller_may_not_read() {
        let (front, _cluster, access) = front().await;
        let user = access.create_service_key("u", "user").await.unwrap().key;
        let perms = vec!["engines:ro".to_string().try_into().unwrap()];
        access.create_role("engines-only", perms).await.unwrap();
        let narrow = access
            .create_service_key("n", "engines-only")
            .await
            .unwrap()
            .key;
        // Render both answers and make both keys known.
        for path in ["/api/cluster/info", "/api/containers"] {
            let res = front.call(get(path, &user)).await.unwrap();
            assert_eq!(res.status(), 200);
            let res = front.call(get(path, &narrow)).await.unwrap();
            assert_eq!(res.status(), 403);
            // No permission: the front passes, the router refuses.
            assert!(front.answer(&get(path, &narrow)).is_none());
            let res = front.call(get(path, &narrow)).await.unwrap();
            assert_eq!(res.status(), 403);
            // Unknown key, no key, basic auth, a query, another method.
            assert!(front.answer(&get(path, "nope")).is_none());
            let res = front.call(get(path, "nope")).await.unwrap();
            assert_eq!(res.status(), 401);
            let bare = Request::get(path)
                .body(Empty::<bytes::Bytes>::new())
                .unwrap();
            assert!(front.answer(&bare).is_none());
            let basic = Request::get(path)
                .header("authorization", "Basic YWRtaW46YWRtaW5wdw==")
                .body(Empty::<bytes::Bytes>::new())
                .unwrap();
            assert!(front.answer(&basic).is_none());
            assert!(front.answer(&get(&format!("{path}?x=1"), &user)).is_none());
            let post = Request::post(path)
                .header("x-service-key", &user)
                .body(Empty::<bytes::Bytes>::new())
                .unwrap();
            assert!(front.answer(&post).is_none());
        }
        // A deleted key is forgotten at once.
        access.delete_service_key(&user).await.unwrap();
        assert!(front.answer(&get("/api/containers", &user)).is_none());
        let res = front.call(get("/api/containers", &user)).await.unwrap();
        assert_eq!(res.status(), 401);
    }
}
