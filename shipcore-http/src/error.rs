//! The crate's error enum, and how core errors become HTTP answers of the
//! cluster API family (plain JSON `{"error": "..."}` with a status code).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Errors of the HTTP facade.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// An error answer: a status and a message, plus the scheduler's refusals
/// when a deploy could not be placed.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub refusals: Vec<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            refusals: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<shipcore::Error> for ApiError {
    fn from(e: shipcore::Error) -> Self {
        use shipcore::Error as E;
        let status = match &e {
            E::Invalid { .. } | E::Ambiguous { .. } => StatusCode::BAD_REQUEST,
            E::Missing { .. } | E::NotFound { .. } => StatusCode::NOT_FOUND,
            E::Exists { .. }
            | E::Conflict { .. }
            | E::EngineConflict { .. }
            | E::Unplaceable(_) => StatusCode::CONFLICT,
            E::Unreachable { .. } | E::Tls { .. } | E::EngineApi { .. } => StatusCode::BAD_GATEWAY,
            E::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let refusals = match &e {
            E::Unplaceable(u) => u.refusals.iter().map(ToString::to_string).collect(),
            _ => Vec::new(),
        };
        let message = match &e {
            E::Unplaceable(u) => format!("cannot place: {}", u.summary()),
            _ => e.to_string(),
        };
        ApiError {
            status,
            message,
            refusals,
        }
    }
}

/// The body of every error answer of the cluster API.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, naming the field for a bad request.
    pub error: String,
    /// Why each engine refused, when a deploy could not be placed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refusals: Vec<String>,
}

/// The refusals every endpoint behind credentials may answer, for the
/// OpenAPI document (`responses(..., AuthErrors)`).
#[derive(Debug, utoipa::IntoResponses)]
#[allow(dead_code)] // Only described: `ApiError` renders these answers.
pub enum AuthErrors {
    /// No valid credentials
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// Not permitted to the caller's role
    #[response(status = 403)]
    Forbidden(ErrorBody),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            refusals: self.refusals,
        };
        (self.status, axum::Json(body)).into_response()
    }
}

/// Parses a JSON body; a malformed body or a missing or mistyped field is a
/// 400 that names the problem (serde's message names the field).
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("a JSON body is required"));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::bad_request(format!("invalid body: {inner}"))
        } else {
            ApiError::bad_request(format!("invalid body: {path}: {inner}"))
        }
    })?;
    de.end()
        .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))?;
    Ok(value)
}

/// `axum::extract::Query`, with a rejection in the API's JSON envelope (400).
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// `axum::extract::Path`, with a rejection in the API's JSON envelope (400,
/// or 500 for a route that names no parameter).
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| ApiError::new(e.status(), e.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str) -> String {
        match parse::<shipcore::model::ImageConfig>(body.as_bytes()) {
            Ok(_) => panic!("{body} parsed"),
            Err(e) => {
                assert_eq!(e.status, StatusCode::BAD_REQUEST);
                e.message
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
