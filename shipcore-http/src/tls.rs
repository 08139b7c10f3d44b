//! The cluster endpoint's TLS (seed 003 §1.3–1.4): a rustls server that
//! shows a certificate signed by the cluster CA and requires a client
//! certificate signed by it. The chain is checked at the handshake (no
//! certificate, or one of another CA, never gets a request through); the
//! serial of the certificate then goes with every request of the
//! connection ([`ClientCertificate`]), and whom it stands for (and whether
//! it is revoked) is asked at every request.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;

use crate::auth::ClientCertificate;
use crate::error::Error;

/// What the endpoint's TLS is made of, PEM.
#[derive(Clone)]
pub struct TlsOptions {
    /// The server's certificate (signed by the cluster CA).
    pub cert: String,
    pub key: String,
    /// The CA client certificates must be signed by.
    pub client_ca: String,
}

impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("TlsOptions").finish_non_exhaustive()
    }
}

fn tls_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Tls(format!("{what}: {e}"))
}

impl TlsOptions {
    /// The rustls server configuration: TLS 1.2 and 1.3, HTTP/1.1, client
    /// certificates required and verified against `client_ca`.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(self.client_ca.as_bytes()) {
            let cert = cert.map_err(|e| tls_error("cannot read the client CA", e))?;
            roots
                .add(cert)
                .map_err(|e| tls_error("cannot use the client CA", e))?;
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .map_err(|e| tls_error("cannot verify clients with the CA", e))?;
        let certs = CertificateDer::pem_slice_iter(self.cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| tls_error("cannot read the server certificate", e))?;
        let key = PrivateKeyDer::from_pem_slice(self.key.as_bytes())
            .map_err(|e| tls_error("cannot read the server key", e))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error("no TLS versions", e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(|e| tls_error("cannot use the server certificate", e))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The serial of a DER certificate, lower-case hex without leading zero
/// bytes (as the CA records it).
pub fn serial_of(der: &[u8]) -> Option<ClientCertificate> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let raw = cert.tbs_certificate.raw_serial();
    let first = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    let hex: String = raw[first..].iter().map(|b| format!("{b:02x}")).collect();
    (!hex.is_empty()).then_some(ClientCertificate(hex))
}

/// How long a client may take to finish the TLS handshake.
pub const HANDSHAKE: std::time::Duration = std::time::Duration::from_secs(10);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn the_serial_read_from_a_certificate_is_the_one_recorded() {
        let f = shipcore::testing::Fixture::fake(1, 1000, 1000, &[])
            .await
            .unwrap();
        let admin = f
            .access
            .by_password("admin", shipcore::testing::ADMIN_PASSWORD, None)
            .await
            .unwrap()
            .unwrap();
        let issued = f.access.client_certificate("c", &admin).await.unwrap();
        let der = CertificateDer::from_pem_slice(issued.cert.as_bytes()).unwrap();
        assert_eq!(serial_of(&der).unwrap().0, issued.serial);
        assert!(serial_of(b"not a certificate").is_none());
        let server = f
            .access
            .server_certificate(
                "c",
                &["127.0.0.1".into()],
                std::time::Duration::from_secs(60),
            )
            .await
            .unwrap();
        let opts = TlsOptions {
            cert: server.cert,
            key: server.key,
            client_ca: server.ca,
        };
        assert!(opts.server_config().is_ok());
        let bad = TlsOptions {
            key: "junk".into(),
            ..opts
        };
        assert!(bad.server_config().is_err());
    }
}
