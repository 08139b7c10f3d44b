//! Answers rendered once per cluster generation: the container list (4 MB
//! of JSON at 10k containers) and the cluster info are served from their
//! last rendering until the cluster changes, as JSON or, for clients that
//! accept it, gzip (made on first demand, once per rendering).

use std::future::Future;
use std::io::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use shipcore::cluster::Cluster;

use crate::error::Error;

/// Bodies smaller than this are sent as they are: gzip would not pay.
const GZIP_FROM: usize = 1024;

/// The last rendering of one answer.
#[derive(Debug, Default)]
pub struct Rendered(Mutex<Option<Arc<Rendering>>>);

/// One rendering: its generation, the JSON, and its gzip once asked for.
#[derive(Debug)]
pub struct Rendering {
    generation: u64,
    json: Bytes,
    gzip: OnceLock<Option<Bytes>>,
}

impl Rendered {
    /// The rendering, if it is of `generation`.
    pub fn current(&self, generation: u64) -> Option<Arc<Rendering>> {
        let r = self.0.lock().ok()?.clone()?;
        (r.generation == generation).then_some(r)
    }

    /// The answer for the cluster's current generation; `read` gives the
    /// value, with the generation it was read at, when it must be rendered.
    pub async fn respond<T, F>(
        &self,
        cluster: &Cluster,
        headers: &HeaderMap,
        read: impl FnOnce() -> F,
    ) -> Result<Response, Error>
    where
        T: serde::Serialize,
        F: Future<Output = (u64, T)>,
    {
        let rendering = match self.current(cluster.generation()) {
            Some(r) => r,
            None => {
                let (generation, value) = read().await;
                let json = serde_json::to_vec(&value).map_err(|e| {
                    Error::Core(shipcore::Error::System {
                        reason: format!("cannot render the answer: {e}"),
                    })
                })?;
                let r = Arc::new(Rendering {
                    generation,
                    json: Bytes::from(json),
                    gzip: OnceLock::new(),
                });
                if let Ok(mut slot) = self.0.lock() {
                    *slot = Some(r.clone());
                }
                r
            }
        };
        Ok(rendering.response(accepts_gzip(headers)))
    }
}

impl Rendering {
    /// The answer: gzip when the client accepts it and the body is worth it.
    pub fn response(&self, gzip: bool) -> Response {
        let vary = (header::VARY, HeaderValue::from_static("accept-encoding"));
        let json = (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if gzip && self.json.len() >= GZIP_FROM {
            if let Some(z) = self.gzip.get_or_init(|| compress(&self.json)) {
                let encoding = (header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                return ([json, encoding, vary], z.clone()).into_response();
            }
        }
        ([json, vary], self.json.clone()).into_response()
    }
}

/// Gzip at the fastest level: JSON lists shrink about tenfold even so.
fn compress(data: &[u8]) -> Option<Bytes> {
    let mut z = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 8),
        flate2::Compression::fast(),
    );
    z.write_all(data).ok()?;
    z.finish().ok().map(Bytes::from)
}

/// Whether `Accept-Encoding` admits gzip (`gzip` or `*`, not with `q=0`).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::Read as _;

    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn accept_encoding_is_read_as_clients_send_it() {
        assert!(accepts_gzip(&headers("gzip")));
        assert!(accepts_gzip(&headers("gzip, deflate, br")));
        assert!(accepts_gzip(&headers("br;q=1.0, GZIP;q=0.5")));
        assert!(accepts_gzip(&headers("*")));
        assert!(!accepts_gzip(&headers("gzip;q=0")));
        assert!(!accepts_gzip(&headers("identity")));
        assert!(!accepts_gzip(&headers("gzipx")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[tokio::test]
    async fn gzip_answers_hold_the_same_json() {
        let big = Rendering {
            generation: 1,
            json: Bytes::from(serde_json::to_vec(&vec!["container"; 1000]).unwrap()),
            gzip: OnceLock::new(),
        };
        let res = big.response(true);
        assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(res.headers()[header::VARY], "accept-encoding");
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(body.len() < big.json.len() / 5);
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut json)
            .unwrap();
        assert_eq!(json, big.json);
        // Not asked for: the JSON as it is.
        let res = big.response(false);
        assert!(res.headers().get(header::CONTENT_ENCODING).is_none());
        // Small bodies are never compressed.
        let small = Rendering {
            generation: 1,
            json: Bytes::from_static(b"{\"cpus\":1}"),
            gzip: OnceLock::new(),
        };
        assert!(small
            .response(true)
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_none());
    }
}
