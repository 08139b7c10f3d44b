//! Reaching an engine: addresses in Shipyard's form (`http://`, `https://`)
//! and Docker's (`tcp://`, `unix://`), TLS material from an engine record or
//! from `DOCKER_CERT_PATH`, and the lazily built, version-negotiated client.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use shipcore::model::EngineRecord;
use tokio::sync::OnceCell;

use crate::error::{Error, Origin};

/// The default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// PEM material for mutual TLS: the CA that signed the engine's certificate,
/// and the client certificate and key the engine trusts.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsMaterial {
    pub ca: String,
    pub cert: String,
    pub key: String,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("TlsMaterial").finish_non_exhaustive()
    }
}

impl TlsMaterial {
    /// Reads `ca.pem`, `cert.pem` and `key.pem` from a folder, as
    /// `DOCKER_CERT_PATH` holds them.
    pub fn from_dir(engine: &str, dir: &Path) -> Result<Self, Error> {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name)).map_err(|e| Error::TlsMaterial {
                engine: engine.into(),
                reason: format!("cannot read {}: {e}", dir.join(name).display()),
            })
        };
        Ok(TlsMaterial {
            ca: read("ca.pem")?,
            cert: read("cert.pem")?,
            key: read("key.pem")?,
        })
    }
}

/// How to reach one engine.
#[derive(Debug, Clone)]
pub struct EngineTarget {
    /// The engine's id in the cluster, used in errors.
    pub id: String,
    pub addr: String,
    pub tls: Option<TlsMaterial>,
    /// Per-request timeout (the answer's head; streams then run on).
    pub timeout: Duration,
}

impl EngineTarget {
    pub fn new(id: impl Into<String>, addr: impl Into<String>) -> Self {
        EngineTarget {
            id: id.into(),
            addr: addr.into(),
            tls: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn with_tls(mut self, tls: TlsMaterial) -> Self {
        self.tls = Some(tls);
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// From Shipyard's engine record: TLS when its PEM fields are filled.
    pub fn from_record(record: &EngineRecord) -> Self {
        let id = if record.engine.id.is_empty() {
            &record.id
        } else {
            &record.engine.id
        };
        let mut t = EngineTarget::new(id.clone(), record.engine.addr.clone());
        if record.uses_tls() {
            t.tls = Some(TlsMaterial {
                ca: record.ca_cert.clone(),
                cert: record.ssl_cert.clone(),
                key: record.ssl_key.clone(),
            });
        }
        t
    }

    /// From the environment as the docker CLI reads it: `DOCKER_HOST`
    /// (default the local socket), `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH`
    /// (default `~/.docker`).
    pub fn from_env(id: impl Into<String>) -> Result<Self, Error> {
        let id = id.into();
        let host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".into());
        let mut t = EngineTarget::new(id.clone(), host);
        let verify = std::env::var("DOCKER_TLS_VERIFY").unwrap_or_default();
        if !verify.is_empty() && verify != "0" {
            let dir = match std::env::var("DOCKER_CERT_PATH") {
                Ok(p) if !p.is_empty() => PathBuf::from(p),
                _ => PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".docker"),
            };
            t.tls = Some(TlsMaterial::from_dir(&id, &dir)?);
        }
        Ok(t)
    }
}

/// The transport an address asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transport {
    Unix(String),
    Tcp { hostport: String, tls: bool },
}

/// Parses an engine address. `https://` asks for TLS; `tcp://` and `http://`
/// use TLS when material is given (Docker's `DOCKER_TLS_VERIFY` convention).
pub(crate) fn transport(addr: &str, has_tls: bool) -> Result<Transport, Error> {
    let bad = |reason: &str| Error::InvalidAddress {
        addr: addr.into(),
        reason: reason.into(),
    };
    if let Some(path) = addr.strip_prefix("unix://") {
        if !path.starts_with('/') {
            return Err(bad("a unix address needs an absolute path: unix:///path"));
        }
        return Ok(Transport::Unix(path.into()));
    }
    let (rest, tls) = if let Some(r) = addr.strip_prefix("https://") {
        (r, true)
    } else if let Some(r) = addr
        .strip_prefix("http://")
        .or_else(|| addr.strip_prefix("tcp://"))
    {
        (r, has_tls)
    } else {
        return Err(bad("must start with unix://, tcp://, http:// or https://"));
    };
    let hostport = rest.trim_end_matches('/');
    let (host, port) = hostport
        .rsplit_once(':')
        .ok_or_else(|| bad("needs host:port"))?;
    if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(bad("needs host:port with a port between 1 and 65535"));
    }
    if tls && !has_tls {
        return Err(bad("https needs ca_cert, ssl_cert and ssl_key"));
    }
    Ok(Transport::Tcp {
        hostport: hostport.into(),
        tls,
    })
}

/// One engine's Docker client: built and version-negotiated on first use, so
/// an engine that is down when the value is made is reached once it is up.
#[derive(Clone)]
pub(crate) struct Client {
    pub origin: Origin,
    transport: Transport,
    timeout: Duration,
    /// The TLS configuration of a TLS engine (its record's CA only).
    tls: Option<Arc<rustls::ClientConfig>>,
    ready: Arc<OnceCell<Docker>>,
    /// A client without a connection pool, for health probes: a dockerd
    /// that is shutting down still answers on open connections while it
    /// stops its containers, but takes no new ones.
    probe: Arc<OnceCell<Docker>>,
}

impl Client {
    pub fn new(target: &EngineTarget) -> Result<Self, Error> {
        let transport = transport(&target.addr, target.tls.is_some())?;
        let tls = match (&transport, &target.tls) {
            (Transport::Tcp { tls: true, .. }, Some(m)) => {
                Some(Arc::new(tls_config(&target.id, m)?))
            }
            _ => None,
        };
        Ok(Client {
            origin: Origin {
                engine: target.id.clone(),
                addr: target.addr.clone(),
                timeout_secs: target.timeout.as_secs().max(1),
            },
            transport,
            timeout: target.timeout,
            tls,
            ready: Arc::new(OnceCell::new()),
            probe: Arc::new(OnceCell::new()),
        })
    }

    /// The negotiated client; errors here mean the engine was not reached.
    pub async fn docker(&self) -> shipcore::Result<&Docker> {
        self.ready
            .get_or_try_init(|| async {
                let docker = self.build()?;
                match tokio::time::timeout(self.timeout, docker.negotiate_version()).await {
                    Ok(Ok(d)) => Ok(d),
                    Ok(Err(e)) => Err(match self.origin.error("engine", "", e) {
                        // A first contact that failed is an unreachable engine,
                        // whatever the transport said, unless TLS was the cause.
                        e @ shipcore::Error::Tls { .. } => e,
                        e @ shipcore::Error::Unreachable { .. } => e,
                        other => self.origin.unreachable(other.to_string()),
                    }),
                    Err(_) => Err(self
                        .origin
                        .unreachable(format!("no answer within {}s", self.timeout.as_secs_f64()))),
                }
            })
            .await
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The probe client (bollard's own transports open a connection per
    /// request).
    pub async fn probe(&self) -> shipcore::Result<&Docker> {
        self.probe
            .get_or_try_init(|| async {
                let secs = self.timeout.as_secs().max(1);
                let version = bollard::API_DEFAULT_VERSION;
                let built = match &self.transport {
                    Transport::Unix(path) => Docker::connect_with_unix(path, secs, version),
                    Transport::Tcp {
                        hostport,
                        tls: false,
                    } => Docker::connect_with_http(hostport, secs, version),
                    Transport::Tcp {
                        hostport,
                        tls: true,
                    } => {
                        let config = self.tls_config()?;
                        let https = format!("https://{hostport}");
                        docker_over(unpooled(), tls_connector(&config), https, secs, version)
                    }
                };
                built.map_err(|e| self.origin.error("engine", "", e))
            })
            .await
    }

    fn tls_config(&self) -> shipcore::Result<Arc<rustls::ClientConfig>> {
        self.tls.clone().ok_or_else(|| shipcore::Error::Tls {
            engine: self.origin.engine.clone(),
            reason: "no tls material".into(),
        })
    }

    fn build(&self) -> shipcore::Result<Docker> {
        let secs = self.timeout.as_secs().max(1);
        let version = bollard::API_DEFAULT_VERSION;
        let built = match &self.transport {
            // Unix and plain TCP go through a pooled client of our own, so
            // connections are reused: bollard's own transports disable the
            // pool (`pool_max_idle_per_host(0)`).
            Transport::Unix(path) => pooled_docker(
                hyperlocal::UnixConnector,
                format!("unix://{}", hex(path)),
                secs,
                version,
            ),
            Transport::Tcp {
                hostport,
                tls: false,
            } => pooled_docker(
                hyper_util::client::legacy::connect::HttpConnector::new(),
                format!("http://{hostport}"),
                secs,
                version,
            ),
            Transport::Tcp {
                hostport,
                tls: true,
            } => pooled_docker(
                tls_connector(&*self.tls_config()?),
                format!("https://{hostport}"),
                secs,
                version,
            ),
        };
        built
            .map(|d| d.with_timeout(self.timeout))
            .map_err(|e| self.origin.error("engine", "", e))
    }
}

/// A bollard client whose requests go through a pooled hyper client over
/// `connector`, addressed as `addr` (`unix://<hex path>` or `http://host:port`).
fn pooled_docker<C>(
    connector: C,
    addr: String,
    secs: u64,
    version: &bollard::ClientVersion,
) -> Result<Docker, bollard::errors::Error>
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    docker_over(pooled(), connector, addr, secs, version)
}

/// A bollard client over a hyper client of our own, built by `builder`.
fn docker_over<C>(
    builder: hyper_util::client::legacy::Builder,
    connector: C,
    addr: String,
    secs: u64,
    version: &bollard::ClientVersion,
) -> Result<Docker, bollard::errors::Error>
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    let client = builder.build(connector);
    Docker::connect_with_custom_transport(
        move |req: bollard::BollardRequest| {
            let client = client.clone();
            async move {
                client
                    .request(req)
                    .await
                    .map_err(bollard::errors::Error::from)
            }
        },
        Some(addr),
        secs,
        version,
    )
}

/// A client builder that opens a connection per request (health probes).
fn unpooled() -> hyper_util::client::legacy::Builder {
    let mut b = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new());
    b.pool_max_idle_per_host(0);
    b
}

/// A client builder that keeps idle connections for reuse.
fn pooled() -> hyper_util::client::legacy::Builder {
    let mut b = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new());
    b.pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(32);
    b
}

/// Hex of a socket path: how hyperlocal carries it in a URI's host.
fn hex(path: &str) -> String {
    path.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The rustls configuration of a TLS engine, from its record's PEM
/// material, kept in memory: the engine's certificate must chain to the
/// record's CA and to nothing else (not the system's roots), and the client
/// presents the record's certificate and key.
pub(crate) fn tls_config(engine: &str, m: &TlsMaterial) -> Result<rustls::ClientConfig, Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str, e: &dyn std::fmt::Display| Error::TlsMaterial {
        engine: engine.into(),
        reason: format!("{what}: {e}"),
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(m.ca.as_bytes()) {
        let cert = cert.map_err(|e| bad("ca_cert is not PEM", &e))?;
        roots.add(cert).map_err(|e| bad("ca_cert", &e))?;
    }
    if roots.is_empty() {
        return Err(bad("ca_cert is not PEM", &"it holds no certificate"));
    }
    let chain = CertificateDer::pem_slice_iter(m.cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("ssl_cert is not PEM", &e))?;
    if chain.is_empty() {
        return Err(bad("ssl_cert is not PEM", &"it holds no certificate"));
    }
    let key = PrivateKeyDer::from_pem_slice(m.key.as_bytes())
        .map_err(|e| bad("ssl_key is not a PEM private key", &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("tls", &e))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| bad("ssl_cert and ssl_key", &e))
}

/// A connector for a TLS engine's client.
fn tls_connector(
    config: &rustls::ClientConfig,
) -> hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector> {
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config.clone())
        .https_only()
        .enable_http1()
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let ok = |a: &str, tls: bool| transport(a, tls).unwrap();
        assert_eq!(
            ok("unix:///var/run/docker.sock", false),
            Transport::Unix("/var/run/docker.sock".into())
        );
        assert_eq!(
            ok("tcp://127.0.0.1:2375", false),
            Transport::Tcp {
                hostport: "127.0.0.1:2375".into(),
                tls: false
            }
        );
        assert_eq!(
            ok("http://10.1.2.3:2375/", false),
            Transport::Tcp {
                hostport: "10.1.2.3:2375".into(),
                tls: false
            }
        );
        assert_eq!(
            ok("tcp://h:2376", true),
            Transport::Tcp {
                hostport: "h:2376".into(),
                tls: true
            }
        );
        assert_eq!(
            ok("https://h:2376", true),
            Transport::Tcp {
                hostport: "h:2376".into(),
                tls: true
            }
        );
        for bad in [
            "https://h:2376",
            "ftp://x:1",
            "tcp://nohost",
            "tcp://:80",
            "tcp://h:0",
            "unix://rel/path",
            "h:80",
        ] {
            assert!(transport(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn tls_material_stays_in_memory() {
        let Ok(dir) = std::env::var("SHIPCORE_ENGINE_TLS_CERTS") else {
            return;
        };
        let m = TlsMaterial::from_dir("tls", Path::new(&dir)).unwrap();
        let temp = || {
            std::fs::read_dir(std::env::temp_dir())
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("shipcore-tls"))
                })
                .count()
        };
        let before = temp();
        let _client =
            Client::new(&EngineTarget::new("e", "https://127.0.0.1:1").with_tls(m.clone()))
                .unwrap();
        assert_eq!(temp(), before, "no key written to a file");
    }

    #[test]
    fn bad_pem_is_refused() {
        let m = TlsMaterial {
            ca: "x".into(),
            cert: "y".into(),
            key: "z".into(),
        };
        let err = Client::new(&EngineTarget::new("e", "https://h:1").with_tls(m))
            .err()
            .unwrap();
        assert!(err.to_string().contains("ca_cert is not PEM"), "{err}");
    }
}
