//! The one HTTP client shipd calls out with: the registry's notifications
//! ([`shipcore::registry::notify::Deliver`]) to `http://` and `https://`
//! endpoints (the system's CA roots, `SSL_CERT_FILE` honoured), each request
//! with a deadline and no answer body read past a small limit.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio_rustls::rustls;

use crate::Error;

/// The longest a request may take, answer included.
const DEADLINE: Duration = Duration::from_secs(10);
/// The most of an answer's body read (then dropped): enough to reuse the
/// connection after a short answer.
const MAX_ANSWER: usize = 64 * 1024;

/// Posts notifications.
#[derive(Clone)]
pub struct Outbound {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound").finish_non_exhaustive()
    }
}

impl Outbound {
    /// A client trusting the system's CA roots (none found: `https://`
    /// endpoints fail, each with the reason).
    pub fn new() -> Result<Self, Error> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            // A root rustls cannot use is left out; the rest still serve.
            let _ = roots.add(cert);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(format!("the notifications' client: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(DEADLINE));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Outbound {
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }
}

#[async_trait::async_trait]
impl shipcore::registry::notify::Deliver for Outbound {
    async fn post(
        &self,
        url: &str,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    ) -> Result<u16, String> {
        let mut req = hyper::Request::post(url);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let req = req
            .header(hyper::header::USER_AGENT, "shipd-notifications")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("not a request: {e}"))?;
        let call = async {
            let res = self
                .client
                .request(req)
                .await
                .map_err(|e| format!("no answer: {}", chain(&e)))?;
            let status = res.status().as_u16();
            let mut body = res.into_body();
            let mut read = 0;
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { break };
                read += frame.data_ref().map_or(0, Bytes::len);
                if read > MAX_ANSWER {
                    break;
                }
            }
            Ok(status)
        };
        tokio::time::timeout(DEADLINE, call)
            .await
            .map_err(|_| format!("no answer within {} s", DEADLINE.as_secs()))?
    }
}

/// An error with its sources (a connection error says why: refused, DNS, TLS).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    let mut depth = 0;
    while let Some(s) = source {
        depth += 1;
        if depth > 8 {
            break;
        }
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
