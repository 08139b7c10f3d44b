//! A TLS client for the cluster endpoint's tests: trusts the cluster CA,
//! and shows a client certificate when given one.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;

pub type TlsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client trusting `ca` (PEM), with the client certificate and key
/// `identity` (PEM) when given.
pub fn client(ca: &str, identity: Option<(&str, &str)>) -> TlsClient {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some((cert, key)) => {
            let certs = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            builder.with_client_auth_cert(certs, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .build();
    // A request the server refused at the handshake is not sent again on
    // another connection: the refusal is the answer the tests look for.
    Client::builder(TokioExecutor::new())
        .retry_canceled_requests(false)
        .pool_max_idle_per_host(0)
        .build(https)
}

/// Sends a request; the status, the body, or the connection's failure.
pub async fn send(
    client: &TlsClient,
    base: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<(u16, Bytes), String> {
    let req = axum::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.unwrap_or("").to_string())))
        .map_err(|e| e.to_string())?;
    // A call that hangs fails the test naming itself (and is no refusal).
    let call = async {
        let res = client.request(req).await.map_err(|e| format!("{e:?}"))?;
        let status = res.status().as_u16();
        let body = res
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, body))
    };
    match tokio::time::timeout(std::time::Duration::from_secs(30), call).await {
        Ok(r) => r,
        Err(_) => panic!("{method} {path}: no answer in 30 s"),
    }
}
