//! shipd: the shipcore server. Keeps its state in DIR, serves the cluster API
//! of seed 001 and the compose projects of seed 003 (`/projects`,
//! `/services`, `/volumes`) on ADDR, and manages the engines registered
//! through it. What a container may do to its host (mount host paths, run
//! privileged, share the host's namespaces, ...) is decided by the caller's
//! role: `admin` may, `user` may not (README, Security).
//!
//! Run: `cargo run --release --example shipd -- --listen 127.0.0.1:8080 --data ./shipcore-data`
//!
//! On first start it creates the `admin` account (password from
//! `SHIPD_ADMIN_PASSWORD`, else a random one printed once), makes the
//! cluster's identity (a UUID, or `--cluster NAME`) and registers the engine
//! of `DOCKER_HOST` (or the default socket) as `local` when it answers. The
//! identity is the ownership label of every container the cluster makes: two
//! shipd sharing an engine each see and touch only their own. Starting with
//! `--cluster ID` on an empty data folder takes the containers of cluster ID
//! back (recovery after a lost store).
//! `GET /clusters/ID/certs` gives an account a client certificate signed by
//! the cluster's CA, valid `--cert-days` (365 by default).
//! `--tls-listen ADDR` opens the cluster endpoint: mutual TLS with those
//! certificates (the server's own is signed by the CA for `--tls-names`,
//! comma-separated, `localhost,127.0.0.1,::1` by default), serving the
//! same API and a Docker Engine API for the whole cluster, so that
//! `DOCKER_TLS_VERIFY=1 DOCKER_HOST=tcp://ADDR DOCKER_CERT_PATH=DIR docker ps`
//! and docker-compose work against it.
//! `POST /auth/login` gives a login token (Shipyard's CLI sends it as
//! `X-Access-Token`), good for `--token-hours` (12 by default).
//! It keeps an image registry (`docker login`/`push`/`pull` at the
//! listener's address, or `--registry-host HOST:PORT`; bytes in DIR/registry)
//! that the cluster's engines pull from, collected hourly.
//! SIGTERM or Ctrl-C shut it down cleanly. Request logs are key=value lines,
//! or JSON objects with `SHIPD_LOG_FORMAT=json`.
//!
//! Several replicas (built with `--features etcd`): `--store
//! etcd://HOST:PORT[,HOST:PORT…][/NAMESPACE]` keeps the state in etcd
//! instead of DIR (`etcds://` for TLS, with `--etcd-ca FILE` and, when the
//! members ask for a client certificate, `--etcd-cert FILE --etcd-key
//! FILE`; etcd's own user from `SHIPD_ETCD_USER` and `SHIPD_ETCD_PASSWORD`).
//! Every replica serves the whole API from the shared state and follows
//! the others' writes; one at a time leads (an etcd election on a lease of
//! `--lease SECS`, 3 by default) and runs health checks, reconcile and
//! maintenance, its writes fenced by its lease.

use std::sync::Arc;

use shipcore::access::Access;
use shipcore::cluster::{Cluster, ClusterOptions};
use shipcore::engine::EngineBackend;
use shipcore::model::EngineRecord;
use shipcore::projects::{Projects, ProjectsOptions};
use shipcore::store::{DurableStore, Store};
use shipcore_docker::{DockerConnector, DockerEngine, EngineTarget};

/// The shortest admin password accepted from the environment.
const MIN_PASSWORD: usize = 8;

/// The data folder, made readable by its owner only (0700); an existing one
/// others can read is reported.
fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if dir.exists() {
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            eprintln!(
                "warning: {} can be read by other users (mode {mode:o}); it holds password hashes and engines' TLS keys: chmod 700 it",
                dir.display()
            );
        }
        Ok(())
    } else {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
}

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // One line per request (method, path, status, latency, request id):
    // key=value text, or JSON objects with SHIPD_LOG_FORMAT=json.
    if std::env::var("SHIPD_LOG_FORMAT").as_deref() == Ok("json") {
        tracing_subscriber::fmt().json().with_target(false).init();
    } else {
        tracing_subscriber::fmt().with_target(false).init();
    }
    let listen = arg("--listen", "127.0.0.1:8080");
    let data = std::path::PathBuf::from(arg("--data", "./shipcore-data"));
    if let Ok(p) = std::env::var("SHIPD_ADMIN_PASSWORD") {
        if p.chars().count() < MIN_PASSWORD {
            return Err(
                format!("SHIPD_ADMIN_PASSWORD is shorter than {MIN_PASSWORD} characters").into(),
            );
        }
    }
    // Hosts others than admin may register engines on (comma-separated).
    let engine_hosts: Vec<String> = arg("--engine-hosts", "")
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(String::from)
        .collect();
    let store_url = arg("--store", "");
    #[cfg(feature = "etcd")]
    let etcd = if store_url.is_empty() {
        None
    } else {
        Some(etcd_store(&store_url).await?)
    };
    #[cfg(not(feature = "etcd"))]
    if !store_url.is_empty() {
        return Err("--store needs a shipd built with --features etcd".into());
    }
    #[cfg(feature = "etcd")]
    let store: Arc<dyn Store> = match &etcd {
        Some(e) => Arc::new(e.clone()),
        None => {
            private_dir(&data)?;
            Arc::new(DurableStore::open(data.join("state.redb"))?)
        }
    };
    #[cfg(not(feature = "etcd"))]
    let store: Arc<dyn Store> = {
        private_dir(&data)?;
        Arc::new(DurableStore::open(data.join("state.redb"))?)
    };
    let shared = !store_url.is_empty();

    let identity = std::env::args()
        .any(|a| a == "--cluster")
        .then(|| arg("--cluster", ""));
    let cluster = Cluster::open(
        store.clone(),
        Arc::new(DockerConnector::default()),
        ClusterOptions {
            identity,
            engine_hosts,
            shared,
            ..ClusterOptions::default()
        },
    )
    .await?;
    println!("cluster {}", cluster.identity());

    let cert_days: u64 = arg("--cert-days", "365")
        .parse()
        .ok()
        .filter(|d| (1..=3650).contains(d))
        .ok_or("--cert-days takes a number of days from 1 to 3650")?;
    let token_hours: u64 = arg("--token-hours", "12")
        .parse()
        .ok()
        .filter(|h| (1..=8760).contains(h))
        .ok_or("--token-hours takes a number of hours from 1 to 8760")?;
    let mut access = Access::new(store.clone())
        .with_events(cluster.events().clone())
        .with_cert_lifetime(std::time::Duration::from_secs(cert_days * 24 * 3600))
        .with_token_lifetime(std::time::Duration::from_secs(token_hours * 3600));
    if shared {
        access = access.shared();
    }
    let created = access
        .bootstrap(std::env::var("SHIPD_ADMIN_PASSWORD").ok())
        .await?;
    let first_start = created.is_some();
    if let Some(password) = created {
        if std::env::var("SHIPD_ADMIN_PASSWORD").is_ok() {
            println!("created account admin (password from SHIPD_ADMIN_PASSWORD)");
        } else {
            // To the terminal's error stream, not to stdout (which is more
            // often kept in a log).
            eprintln!("created account admin with password: {password}  (shown once)");
        }
    }

    // On first start only: an engine removed later stays removed.
    if first_start && cluster.engine("local").await.is_err() {
        let target = EngineTarget::from_env("local")?;
        if DockerEngine::new(&target)?.ping().await.is_ok() {
            let mut record = EngineRecord::new("local", &target.addr);
            record.engine.labels = vec!["local".into()];
            match cluster.add_engine(record).await {
                Ok(_) => println!("registered engine local at {}", target.addr),
                Err(e) => eprintln!("could not register the local engine: {e}"),
            }
        } else {
            eprintln!(
                "no engine answers at {}; add engines with POST /api/engines",
                target.addr
            );
        }
    }
    // One store of its own: this replica runs the loops. A shared one: it
    // follows the others' writes, and runs the loops while it leads.
    #[cfg(feature = "etcd")]
    let _background = match etcd {
        Some(etcd) => {
            let lease = std::time::Duration::from_secs(arg("--lease", "3").parse()?);
            let replica = arg("--replica", &format!("{listen} pid {}", std::process::id()));
            Replica::start(cluster.clone(), &access, etcd, replica, lease)
        }
        None => Replica::Alone(cluster.start()),
    };
    #[cfg(not(feature = "etcd"))]
    let _background = cluster.start();

    let listener =
        tokio::net::TcpListener::bind(&listen)
            .await
            .map_err(|e| shipcore_http::Error::Listen {
                addr: listen.clone(),
                source: e,
            })?;
    println!("shipd listening on http://{}", listener.local_addr()?);
    // Compose projects (seed 003). With several replicas, the leader's
    // reconcile round is left for a later version: projects run, but only a
    // replica of its own reconciles them.
    let projects =
        Projects::open(store.clone(), cluster.clone(), ProjectsOptions::default()).await?;
    let _projects_round = (!shared).then(|| projects.spawn_reconcile());
    // The image registry: bytes under DIR/registry, records in the store.
    // Engines pull from it at `--registry-host` (this listener's address by
    // default, 127.0.0.1 for a wildcard) with a password of their own.
    let registry_host = arg("--registry-host", &loopback(listener.local_addr()?));
    let blobs = shipcore::registry::BlobStore::open(data.join("registry")).await?;
    let registry =
        shipcore::registry::Registry::new(store.clone(), blobs, cluster.options().clock.clone());
    cluster
        .registry_credentials()
        .set(shipcore::engine::RegistryAuth {
            username: shipcore::model::ENGINE_USER.into(),
            password: access.engine_pull_secret().await?,
            server: registry_host.clone(),
        });
    let _registry_round = (!shared).then(|| registry.spawn_maintenance());
    println!("registry at {registry_host} (docker login {registry_host})");
    // Build projects: built on the engines, pushed into this registry with
    // the builder's own password.
    let builds = shipcore::build::Builds::new(
        store.clone(),
        cluster.clone(),
        registry.clone(),
        cluster.options().clock.clone(),
        shipcore::build::Plugins::builtin(),
        shipcore::build::BuildsOptions {
            registry_host: registry_host.clone(),
            push_auth: Some(shipcore::engine::RegistryAuth {
                username: shipcore::model::BUILDER_USER.into(),
                password: access.builder_push_secret().await?,
                server: registry_host.clone(),
            }),
            ..shipcore::build::BuildsOptions::default()
        },
    );
    // Builds run on a shipd with a store of its own; replicas sharing an
    // etcd store do not run them yet (a restart of one would fail the
    // builds another runs).
    let _build_workers = if shared {
        Vec::new()
    } else {
        builds.start().await?
    };
    let app = shipcore_http::App::with_projects(
        cluster,
        access,
        shipcore_http::Limits::default(),
        projects,
    )
    .with_registry(shipcore_http::RegistryOptions {
        registry,
        host: registry_host,
        max_blob: shipcore_http::RegistryOptions::MAX_BLOB,
    })
    .with_builds(builds);
    // One shutdown signal for every listener.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown().await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let tls_listen = arg("--tls-listen", "");
    let endpoint = if tls_listen.is_empty() {
        None
    } else {
        let names: Vec<String> = arg("--tls-names", "localhost,127.0.0.1,::1")
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(String::from)
            .collect();
        let server = app
            .access
            .server_certificate(
                app.cluster.identity(),
                &names,
                std::time::Duration::from_secs(cert_days * 24 * 3600),
            )
            .await?;
        let tls = shipcore_http::TlsOptions {
            cert: server.cert,
            key: server.key,
            client_ca: server.ca,
        };
        let listener = tokio::net::TcpListener::bind(&tls_listen)
            .await
            .map_err(|e| shipcore_http::Error::Listen {
                addr: tls_listen.clone(),
                source: e,
            })?;
        println!(
            "cluster endpoint on tcp://{} (mutual TLS; client certificates from GET /clusters/{}/certs)",
            listener.local_addr()?,
            app.cluster.identity()
        );
        Some(tokio::spawn(shipcore_http::serve_tls(
            listener,
            app.clone(),
            tls,
            stopped(stop_rx.clone()),
        )))
    };
    shipcore_http::serve(listener, app, stopped(stop_rx)).await?;
    if let Some(endpoint) = endpoint {
        endpoint.await??;
    }
    println!("shipd stopped");
    Ok(())
}

/// How the engines on this machine reach a listener: its address, with
/// loopback for a wildcard.
fn loopback(addr: std::net::SocketAddr) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        ip => ip,
    };
    std::net::SocketAddr::new(ip, addr.port()).to_string()
}

/// What runs beside the listener.
#[cfg(feature = "etcd")]
#[allow(dead_code)]
enum Replica {
    /// The loops of a cluster whose store is its own.
    Alone(shipcore::cluster::Background),
    /// Following the others, and leading when elected.
    Shared {
        follow: shipcore::cluster::Background,
        access: tokio::task::JoinHandle<()>,
        lead: tokio::task::JoinHandle<()>,
    },
}

#[cfg(feature = "etcd")]
impl Replica {
    fn start(
        cluster: Cluster,
        access: &Access,
        etcd: shipcore::store::EtcdStore,
        replica: String,
        lease: std::time::Duration,
    ) -> Self {
        let follow = cluster.follow();
        let access = access.follow();
        let lead = tokio::spawn(async move {
            loop {
                let mut leading = match etcd.campaign(&replica, lease).await {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("cannot campaign for the lead: {e}");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        continue;
                    }
                };
                println!("leading the cluster as {replica}");
                let loops = cluster.start();
                cluster.reconcile_soon();
                leading.lost().await;
                eprintln!("lost the lead (the lease could not be renewed)");
                // Nothing of the loops may write once the fence is lifted.
                loops.stop().await;
                leading.resign().await;
            }
        });
        Replica::Shared {
            follow,
            access,
            lead,
        }
    }
}

#[cfg(feature = "etcd")]
impl Drop for Replica {
    fn drop(&mut self) {
        if let Replica::Shared { access, lead, .. } = self {
            access.abort();
            lead.abort();
        }
    }
}

/// The etcd store of `--store`, with TLS and etcd's user as given.
#[cfg(feature = "etcd")]
async fn etcd_store(url: &str) -> Result<shipcore::store::EtcdStore, Box<dyn std::error::Error>> {
    let mut config = shipcore::store::EtcdConfig::parse(url)?;
    let file = |flag: &str| -> Result<Option<Vec<u8>>, Box<dyn std::error::Error>> {
        let path = arg(flag, "");
        if path.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            std::fs::read(&path).map_err(|e| format!("{flag} {path}: {e}"))?,
        ))
    };
    config.ca = file("--etcd-ca")?;
    config.identity = match (file("--etcd-cert")?, file("--etcd-key")?) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => return Err("--etcd-cert and --etcd-key go together".into()),
    };
    if let (Ok(u), Ok(p)) = (
        std::env::var("SHIPD_ETCD_USER"),
        std::env::var("SHIPD_ETCD_PASSWORD"),
    ) {
        config.user = Some((u, p));
    }
    Ok(shipcore::store::EtcdStore::connect(&config).await?)
}
