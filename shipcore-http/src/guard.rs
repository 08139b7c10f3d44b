//! Limits every request meets, whatever its family: an overall deadline
//! (for the answer's head; streamed bodies, such as followed events, run
//! on), a connection closed in the open when a request's body was left
//! unread, and no state changed by a browser's request from another site — the
//! seed's `GET .../stop`, `/restart` and `/scale` change state, and a
//! browser holding basic-auth credentials would send them for any page that
//! links there.

use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::App;
use crate::error::Error;

/// A request body that notes when it was read to its end.
struct Watched {
    inner: axum::body::Body,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl http_body::Body for Watched {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let polled = std::pin::Pin::new(&mut this.inner).poll_frame(cx);
        if let std::task::Poll::Ready(None) = polled {
            this.done.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Answers a request whose body was not read to its end (a refusal sent
/// before the upload it came with) with `Connection: close`. hyper closes
/// such a connection after the answer, since it cannot tell where the next
/// request would begin; a client that keeps connections alive must be told
/// so, or it sends its next request into the closed one and sees it fail
/// (Go's clients, the conformance suites' among them, do not retry a PATCH
/// or POST that met a closed connection).
pub async fn close_unread(req: Request, next: Next) -> Response {
    use http_body::Body as _;
    if req.body().is_end_stream() {
        return next.run(req).await;
    }
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let req = req.map(|inner| {
        axum::body::Body::new(Watched {
            inner,
            done: done.clone(),
        })
    });
    let mut res = next.run(req).await;
    if !done.load(std::sync::atomic::Ordering::Relaxed) {
        res.headers_mut().insert(
            header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    res
}

/// Answers 503 for a request not answered within the app's
/// `request_timeout`; the work is dropped (a deploy then undoes what it
/// did).
pub async fn deadline(State(app): State<App>, req: Request, next: Next) -> Response {
    let limit = app.limits.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => Error::TooLong(format!(
            "the request was not answered within {}s",
            limit.as_secs_f64()
        ))
        .into_response(),
    }
}

/// Whether a request changes state: every method but GET and HEAD, and the
/// seed's state-changing GETs.
pub(crate) fn changes_state(method: &Method, path: &str) -> bool {
    !matches!(*method, Method::GET | Method::HEAD)
        || ["/stop", "/restart", "/scale"]
            .iter()
            .any(|end| path.starts_with("/api/containers/") && path.ends_with(end))
}

/// Refuses (403) a state-changing request a browser sends from another site:
/// `Sec-Fetch-Site: cross-site`, or an `Origin` whose host is not this
/// server's. Clients that are not browsers send neither and pass.
pub async fn same_site(req: Request, next: Next) -> Response {
    if changes_state(req.method(), req.uri().path()) {
        let headers = req.headers();
        let cross = headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"));
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        let foreign_origin = match (origin, host) {
            (Some("null"), _) => true,
            (Some(o), Some(h)) => o.split_once("://").map(|(_, rest)| rest) != Some(h),
            (Some(_), None) => true,
            (None, _) => false,
        };
        if cross || foreign_origin {
            return Error::CrossSite(
                "a state-changing request from another site is refused".into(),
            )
            .into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cross_site_writes_are_refused_and_reads_pass() {
        use tower_service::Service as _;
        let mut app = axum::Router::new()
            .route(
                "/api/containers/{id}/stop",
                axum::routing::get(|| async { "stopped" }),
            )
            .route(
                "/api/containers",
                axum::routing::get(|| async { "list" }).post(|| async { "made" }),
            )
            .layer(axum::middleware::from_fn(same_site));
        let call = |method: &str, path: &str, headers: &[(&str, &str)]| {
            let mut r = axum::http::Request::builder().method(method).uri(path);
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.body(axum::body::Body::empty()).unwrap()
        };
        // (method, path, headers, status)
        type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], u16);
        let cases: &[Case] = &[
            (
                "GET",
                "/api/containers/x/stop",
                &[("sec-fetch-site", "cross-site")],
                403,
            ),
            (
                "GET",
                "/api/containers/x/stop",
                &[("sec-fetch-site", "same-origin")],
                200,
            ),
            ("GET", "/api/containers/x/stop", &[], 200),
            (
                "POST",
                "/api/containers",
                &[
                    ("origin", "https://evil.example"),
                    ("host", "127.0.0.1:8080"),
                ],
                403,
            ),
            (
                "POST",
                "/api/containers",
                &[
                    ("origin", "http://127.0.0.1:8080"),
                    ("host", "127.0.0.1:8080"),
                ],
                200,
            ),
            ("POST", "/api/containers", &[("origin", "null")], 403),
            (
                "GET",
                "/api/containers",
                &[("sec-fetch-site", "cross-site")],
                200,
            ),
        ];
        for (method, path, headers, want) in cases {
            let res = app.call(call(method, path, headers)).await.unwrap();
            assert_eq!(res.status().as_u16(), *want, "{method} {path} {headers:?}");
        }
    }
}
