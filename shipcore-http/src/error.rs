//! The crate's one error enum, and how an error becomes an answer.
//!
//! Every handler and extractor fails with [`Error`]. Its answer is rendered
//! in the plain JSON envelope that the cluster API (seed 001), the container
//! service (003) and the Harbor browse API share: `{"error": "..."}` with
//! the HTTP status, plus the scheduler's per-engine `refusals` when a deploy
//! could not be placed. The answer also carries the error as a [`Failure`]
//! (with the error itself); a family with another envelope (002's `{code,
//! errMsg, content}`, 004's `{code, message, data, traceId}`, the OCI
//! distribution errors) mounts its router through [`with_envelope`], which
//! renders failures its own way: each family maps a failure in one place,
//! telling the core's errors apart by their variants and typed fields, never
//! by their text.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Errors of the HTTP facade.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// What the core refused or failed at.
    #[error(transparent)]
    Core(#[from] shipcore::Error),
    /// A request that cannot be read: a malformed body, a missing or
    /// mistyped field (named), a bad query or path parameter.
    #[error("{0}")]
    BadRequest(String),
    /// No valid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials without the permission.
    #[error("{0}")]
    Forbidden(String),
    /// No route serves the request.
    #[error("{0}")]
    NoRoute(String),
    /// The route exists, not with this method.
    #[error("{0}")]
    NoMethod(String),
    /// The client took too long to send its body.
    #[error("{0}")]
    SlowClient(String),
    /// The request took longer than the server gives one.
    #[error("{0}")]
    TooLong(String),
    /// A browser's request from another site to a route that changes state.
    #[error("{0}")]
    CrossSite(String),
    /// The endpoint's TLS material cannot be used.
    #[error("{0}")]
    Tls(String),
    /// A page could not be rendered (its template is the server's own).
    #[error("cannot render the page: {source}")]
    Render {
        #[source]
        source: minijinja::Error,
    },
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::BadRequest(message.into())
    }

    /// The HTTP status of the answer: the one status mapping, which every
    /// family's envelope keeps (the distribution API differs for one
    /// error, said where it does).
    pub fn status(&self) -> StatusCode {
        use shipcore::Error as E;
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NoRoute(_) => StatusCode::NOT_FOUND,
            Error::NoMethod(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::SlowClient(_) => StatusCode::REQUEST_TIMEOUT,
            Error::TooLong(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::CrossSite(_) => StatusCode::FORBIDDEN,
            Error::Listen { .. } | Error::Tls(_) | Error::Render { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Error::Core(e) => match e {
                E::Invalid { .. }
                | E::Ambiguous { .. }
                | E::RegistryInvalid { .. }
                | E::ManifestReference { .. }
                | E::PluginParams { .. } => StatusCode::BAD_REQUEST,
                E::Missing { .. }
                | E::NotFound { .. }
                | E::RegistryUnknown { .. }
                | E::UnknownPlugin { .. }
                | E::UnknownPluginMethod { .. } => StatusCode::NOT_FOUND,
                E::UploadOffset { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
                E::Exists { .. }
                | E::Conflict { .. }
                | E::State { .. }
                | E::UploadBusy { .. }
                | E::EngineConflict { .. }
                | E::Unplaceable(_) => StatusCode::CONFLICT,
                // An engine's verdict on what it was asked (a bad
                // parameter, no such object, a name in use) is the
                // caller's to fix and keeps its status; any other answer
                // is the engine's failure.
                E::EngineApi { status: 400, .. } => StatusCode::BAD_REQUEST,
                E::EngineApi { status: 404, .. } => StatusCode::NOT_FOUND,
                E::EngineApi { status: 409, .. } => StatusCode::CONFLICT,
                E::Unreachable { .. } | E::Tls { .. } | E::EngineApi { .. } => {
                    StatusCode::BAD_GATEWAY
                }
                E::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
                E::Forbidden { .. } => StatusCode::FORBIDDEN,
                E::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
                E::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
                e if e.is_out_of_space() => StatusCode::INSUFFICIENT_STORAGE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// The error as every envelope needs it, the error itself kept in it.
    pub fn into_failure(self) -> Failure {
        let (message, refusals) = match &self {
            Error::Core(shipcore::Error::Unplaceable(u)) => (
                format!("cannot place: {}", u.summary),
                u.refusals.iter().map(ToString::to_string).collect(),
            ),
            e => (e.to_string(), Vec::new()),
        };
        let retry_after = match &self {
            Error::Core(
                shipcore::Error::TooMany { retry_after, .. }
                | shipcore::Error::Unavailable { retry_after, .. },
            ) => Some(*retry_after),
            _ => None,
        };
        Failure {
            status: self.status(),
            message,
            refusals,
            retry_after,
            error: Arc::new(self),
        }
    }
}

/// A failed request as an envelope renders it: the status, the message, and
/// why each engine refused when a deploy could not be placed; with the
/// error itself, for a family whose envelope tells errors apart by kind.
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: StatusCode,
    pub message: String,
    pub refusals: Vec<String>,
    /// Seconds to wait before trying again (429 and 503), sent as
    /// `Retry-After`.
    pub retry_after: Option<u64>,
    /// What failed.
    pub error: Arc<Error>,
}

/// The plain JSON envelope's body.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, naming the field for a bad request.
    pub error: String,
    /// Why each engine refused, when a deploy could not be placed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refusals: Vec<String>,
}

impl IntoResponse for Failure {
    /// The plain JSON envelope, with the failure attached for a family that
    /// renders it another way.
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message.clone(),
            refusals: self.refusals.clone(),
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        res.extensions_mut().insert(self);
        res
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        self.into_failure().into_response()
    }
}

/// How an API family writes its error answers.
pub trait Envelope: Send + Sync + 'static {
    fn render(failure: Failure) -> Response;
}

/// Mounts a family's router so that its error answers (from handlers,
/// extractors and credentials alike) are rendered by `E`.
pub fn with_envelope<E: Envelope, S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
) -> axum::Router<S> {
    router.layer(axum::middleware::map_response(
        |mut res: Response| async move {
            match res.extensions_mut().remove::<Failure>() {
                Some(failure) => E::render(failure),
                None => res,
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engines_verdict_on_the_request_keeps_its_status() {
        let engine = |status| {
            Error::Core(shipcore::Error::EngineApi {
                engine: "e1".into(),
                status,
                message: "no".into(),
            })
            .status()
            .as_u16()
        };
        assert_eq!(engine(400), 400);
        assert_eq!(engine(404), 404);
        assert_eq!(engine(409), 409);
        assert_eq!(engine(500), 502);
        assert_eq!(engine(503), 502);
    }

    #[tokio::test]
    async fn a_family_renders_failures_in_its_own_envelope() {
        use tower_service::Service as _;
        struct Coded;
        impl Envelope for Coded {
            fn render(f: Failure) -> Response {
                let body = serde_json::json!({"code": f.status.as_u16(), "errMsg": f.message});
                (f.status, axum::Json(body)).into_response()
            }
        }
        let family = axum::Router::new()
            .route(
                "/bad",
                axum::routing::get(|| async { Err::<(), _>(Error::bad_request("no")) }),
            )
            .route("/ok", axum::routing::get(|| async { "fine" }));
        let mut app = axum::Router::new()
            .merge(with_envelope::<Coded, ()>(family))
            .route(
                "/plain",
                axum::routing::get(|| async { Err::<(), _>(Error::bad_request("no")) }),
            );
        let body = |res: Response| async move {
            let b = axum::body::to_bytes(res.into_body(), 1 << 16)
                .await
                .unwrap();
            String::from_utf8(b.to_vec()).unwrap()
        };
        let get = |p: &str| {
            axum::http::Request::get(p)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let res = app.call(get("/bad")).await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(body(res).await, r#"{"code":400,"errMsg":"no"}"#);
        assert_eq!(body(app.call(get("/ok")).await.unwrap()).await, "fine");
        assert_eq!(
            body(app.call(get("/plain")).await.unwrap()).await,
            r#"{"error":"no"}"#
        );
    }
}
