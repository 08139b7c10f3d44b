//! Extractors that fail with the crate's [`Error`], so a bad request gets
//! the same clear answer (a 400 naming what is wrong) in every family's
//! envelope: JSON bodies, query strings and path parameters.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use bytes::Bytes;

use crate::app::App;
use crate::error::Error;

/// A request's body, read but not yet parsed: a handler checks the caller's
/// permission first and parses after ([`Body::json`]), so a caller without
/// the permission learns nothing of what the body should hold.
#[derive(Debug)]
pub struct Body(pub Bytes);

impl FromRequest<App> for Body {
    type Rejection = Error;

    async fn from_request(req: Request, app: &App) -> Result<Self, Error> {
        let limit = app.limits.body_timeout;
        match tokio::time::timeout(limit, Bytes::from_request(req, app)).await {
            Ok(Ok(bytes)) => Ok(Body(bytes)),
            Ok(Err(e)) => Err(Error::bad_request(e.body_text())),
            Err(_) => Err(Error::SlowClient(format!(
                "the body did not arrive within {}s",
                limit.as_secs_f64()
            ))),
        }
    }
}

impl Body {
    /// The body as JSON: a malformed body, or a missing or mistyped field,
    /// is a 400 that names the problem (the field's path:
    /// `bind_ports[0].container_port`).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        parse(&self.0)
    }
}

/// Parses a JSON body as [`Body::json`] does.
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    if body.is_empty() {
        return Err(Error::bad_request("a JSON body is required"));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(path_error)?;
    de.end()
        .map_err(|e| Error::bad_request(format!("invalid body: {e}")))?;
    Ok(value)
}

/// A body already read as a JSON value, typed as [`parse`] types it.
pub fn from_value<T: serde::de::DeserializeOwned>(body: serde_json::Value) -> Result<T, Error> {
    serde_path_to_error::deserialize(body).map_err(path_error)
}

/// A failure to type a body, naming the field's path.
fn path_error(e: serde_path_to_error::Error<serde_json::Error>) -> Error {
    let path = e.path().to_string();
    let inner = e.into_inner();
    if path == "." {
        Error::bad_request(format!("invalid body: {inner}"))
    } else {
        Error::bad_request(format!("invalid body: {path}: {inner}"))
    }
}

/// `axum::extract::Query`, failing with a 400 in the family's envelope.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| Error::bad_request(e.body_text()))
    }
}

/// A query string (or a form-encoded body) typed as axum's `Query` types
/// it; a 400 that names what is wrong.
pub fn query_str<T: serde::de::DeserializeOwned>(q: &str) -> Result<T, Error> {
    let uri: axum::http::Uri = format!("/?{}", q.trim())
        .parse()
        .map_err(|e: axum::http::uri::InvalidUri| Error::bad_request(e.to_string()))?;
    axum::extract::Query::<T>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|e| Error::bad_request(e.body_text()))
}

/// `axum::extract::Path`, failing with a 400 in the family's envelope.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| Error::bad_request(e.body_text()))
    }
}

/// The client's address, when the listener knows it (failed logins count
/// against it).
pub struct Peer(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str) -> String {
        match parse::<shipcore::model::ImageConfig>(body.as_bytes()) {
            Ok(_) => panic!("{body} parsed"),
            Err(e) => {
                assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST);
                e.to_string()
            }
        }
    }

    #[test]
    fn a_bad_body_is_a_400_that_names_the_field() {
        let m = message(r#"{"name":"a","cpus":"one","memory":1}"#);
        assert!(m.contains("cpus: invalid type: string \"one\""), "{m}");
        let m =
            message(r#"{"name":"a","cpus":1,"memory":1,"bind_ports":[{"container_port":"x"}]}"#);
        assert!(
            m.contains("bind_ports[0].container_port: invalid type"),
            "{m}"
        );
        let m = message(r#"{"cpus":1,"memory":1}"#);
        assert!(m.contains("missing field `name`"), "{m}");
        assert!(message(r#"{"name":"a""#).contains("EOF"));
        assert!(message(r#"{"name":"a","cpus":1,"memory":1} x"#).contains("trailing"));
        assert!(message("").contains("JSON body is required"));
    }
}
