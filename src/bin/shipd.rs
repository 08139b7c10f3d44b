//! shipd: the shipcore server. Keeps its state in DIR, serves the cluster API
//! of seed 001 and the compose projects of seed 003 (`/projects`,
//! `/services`, `/volumes`) on ADDR, and manages the engines registered
//! through it. What a container may do to its host (mount host paths, run
//! privileged, share the host's namespaces, ...) is decided by the caller's
//! role: `admin` may, `user` may not (README, Security).
//!
//! Run: `cargo run --release --bin shipd -- --listen 127.0.0.1:8080 --data ./shipcore-data`
//! (`shipd --help` lists every flag and the environment variable that
//! sets it).
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

/// shipd's command line: every flag has an environment variable, and
/// `--help` lists them.
#[derive(Debug, clap::Parser)]
#[command(
    name = "shipd",
    version,
    about = "The shipcore server: a cluster of Docker engines behind the seed systems' APIs, a registry, builds and a Docker API for the whole cluster.",
    after_help = "Environment only (secrets are not flags):\n  SHIPD_ADMIN_PASSWORD   the admin account's password at the first start (at least 8 characters; else a random one is printed once)\n  SHIPD_ETCD_USER, SHIPD_ETCD_PASSWORD   etcd's own user, with --store\n  DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH   the engine registered as `local` at the first start"
)]
struct Flags {
    /// Where the API listens.
    #[arg(long, env = "SHIPD_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// The data folder (state.redb, the registry's bytes), made 0700.
    #[arg(long, env = "SHIPD_DATA", default_value = "./shipcore-data")]
    data: std::path::PathBuf,
    /// The cluster's identity: taken at the first start (a UUID when not
    /// given); given for an empty data folder, that cluster's containers are
    /// taken back (recovery after a lost store).
    #[arg(long, env = "SHIPD_CLUSTER")]
    cluster: Option<String>,
    /// Hosts on which accounts other than admin may register engines
    /// (comma-separated).
    #[arg(
        long,
        env = "SHIPD_ENGINE_HOSTS",
        value_delimiter = ',',
        default_value = ""
    )]
    engine_hosts: Vec<String>,
    /// Keep the state in etcd (`etcd://HOST:PORT[,…][/NAMESPACE]`,
    /// `etcds://` for TLS): several replicas share it. Needs a shipd built
    /// with `--features etcd`.
    #[arg(long, env = "SHIPD_STORE", default_value = "")]
    store: String,
    /// The etcd members' CA (PEM file), for `etcds://`.
    #[arg(long, env = "SHIPD_ETCD_CA")]
    etcd_ca: Option<std::path::PathBuf>,
    /// A client certificate for etcd (PEM file), with --etcd-key.
    #[arg(long, env = "SHIPD_ETCD_CERT", requires = "etcd_key")]
    etcd_cert: Option<std::path::PathBuf>,
    /// The client certificate's key (PEM file), with --etcd-cert.
    #[arg(long, env = "SHIPD_ETCD_KEY", requires = "etcd_cert")]
    etcd_key: Option<std::path::PathBuf>,
    /// The leader's lease on etcd, in seconds.
    #[arg(long, env = "SHIPD_LEASE", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=60))]
    lease: u64,
    /// This replica's name in the election (default: its address and pid).
    #[arg(long, env = "SHIPD_REPLICA")]
    replica: Option<String>,
    /// How long client certificates of the cluster CA are valid, in days.
    #[arg(long, env = "SHIPD_CERT_DAYS", default_value_t = 365, value_parser = clap::value_parser!(u64).range(1..=3650))]
    cert_days: u64,
    /// How long a login token is good, in hours.
    #[arg(long, env = "SHIPD_TOKEN_HOURS", default_value_t = 12, value_parser = clap::value_parser!(u64).range(1..=8760))]
    token_hours: u64,
    /// How the engines reach the registry (`HOST:PORT`; default: the
    /// listener's address, 127.0.0.1 for a wildcard).
    #[arg(long, env = "SHIPD_REGISTRY_HOST")]
    registry_host: Option<String>,
    /// How often the registry collects garbage (blobs no manifest
    /// references, after an hour's grace) and drops abandoned uploads, in
    /// minutes; `POST /api/registry/gc` runs one on demand.
    #[arg(long, env = "SHIPD_REGISTRY_GC_EVERY", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=10080))]
    registry_gc_every: u64,
    /// Open the cluster endpoint here: mutual TLS with the cluster CA's
    /// client certificates, the same API and a Docker Engine API.
    #[arg(long, env = "SHIPD_TLS_LISTEN")]
    tls_listen: Option<String>,
    /// The names in the cluster endpoint's certificate (comma-separated).
    #[arg(
        long,
        env = "SHIPD_TLS_NAMES",
        value_delimiter = ',',
        default_value = "localhost,127.0.0.1,::1"
    )]
    tls_names: Vec<String>,
    /// Request logs as key=value text or JSON objects.
    #[arg(long, env = "SHIPD_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
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
// Over 80 lines: the start-up sequence read top to bottom, with the etcd
// feature's variants beside the plain ones.
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `--help`, `--version` and refusals of unknown flags and malformed
    // values happen here, before anything touches the disk.
    let flags = <Flags as clap::Parser>::parse();
    init_logging(&flags);
    let listen = flags.listen.clone();
    let data = flags.data.clone();
    check_admin_password()?;
    // Hosts others than admin may register engines on.
    let engine_hosts = trimmed(&flags.engine_hosts);
    #[cfg(feature = "etcd")]
    let (store, etcd) = open_store(&flags).await?;
    #[cfg(not(feature = "etcd"))]
    let store = open_store(&flags)?;
    let shared = !flags.store.is_empty();

    let identity = flags.cluster.clone();
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

    let (access, first_start) = open_access(&flags, store.clone(), &cluster, shared).await?;
    if first_start {
        register_local(&cluster).await?;
    }
    // One store of its own: this replica runs the loops. A shared one: it
    // follows the others' writes, and runs the loops while it leads.
    #[cfg(feature = "etcd")]
    let _background = match etcd {
        Some(etcd) => {
            let lease = std::time::Duration::from_secs(flags.lease);
            let replica = flags
                .replica
                .clone()
                .unwrap_or_else(|| format!("{listen} pid {}", std::process::id()));
            Replica::start(cluster.clone(), &access, etcd, replica, lease)
        }
        None => Replica::Alone(cluster.start()),
    };
    #[cfg(not(feature = "etcd"))]
    let _background = cluster.start();

    let listener = bind(&listen).await?;
    println!("shipd listening on http://{}", listener.local_addr()?);
    // The families' services, assembled as the tests assemble theirs:
    // compose projects (seed 003), the image registry (bytes under
    // DIR/registry; engines pull from it at `--registry-host` with a
    // password of their own) and build projects (pushed into it with the
    // builder's password).
    let registry_host = flags
        .registry_host
        .clone()
        .unwrap_or(loopback(listener.local_addr()?));
    let mut options =
        shipcore_http::ServerOptions::new(data.join("registry"), registry_host.clone());
    options.registry_gc_every = std::time::Duration::from_secs(flags.registry_gc_every * 60);
    let server =
        shipcore_http::Server::assemble(store.clone(), cluster.clone(), access.clone(), options)
            .await?;
    println!("registry at {registry_host} (docker login {registry_host})");
    // With several replicas the projects' reconcile, the registry's
    // maintenance and the builds are left for a later version: a replica
    // of its own runs them.
    let _families = if shared {
        Vec::new()
    } else {
        server.start().await?
    };
    let app = server.app;
    // One shutdown signal for every listener.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown().await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let endpoint = start_endpoint(&flags, &app, stopped(stop_rx.clone())).await?;
    shipcore_http::serve(listener, app, stopped(stop_rx)).await?;
    if let Some(endpoint) = endpoint {
        endpoint.await??;
    }
    println!("shipd stopped");
    Ok(())
}

/// One line per request (method, path, status, latency, request id):
/// key=value text, or JSON objects with `--log-format json`.
fn init_logging(flags: &Flags) {
    if flags.log_format == "json" {
        tracing_subscriber::fmt().json().with_target(false).init();
    } else {
        tracing_subscriber::fmt().with_target(false).init();
    }
}

/// Refuses an admin password from the environment that is too short.
fn check_admin_password() -> Result<(), Box<dyn std::error::Error>> {
    if let Ok(p) = std::env::var("SHIPD_ADMIN_PASSWORD") {
        if p.chars().count() < MIN_PASSWORD {
            return Err(
                format!("SHIPD_ADMIN_PASSWORD is shorter than {MIN_PASSWORD} characters").into(),
            );
        }
    }
    Ok(())
}

/// A list flag's items, trimmed, without empty ones.
fn trimmed(items: &[String]) -> Vec<String> {
    items
        .iter()
        .map(|h| h.trim())
        .filter(|h| !h.is_empty())
        .map(String::from)
        .collect()
}

/// A listener on `addr`; the error names the address.
async fn bind(addr: &str) -> Result<tokio::net::TcpListener, shipcore_http::Error> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| shipcore_http::Error::Listen {
            addr: addr.to_string(),
            source: e,
        })
}

/// The state store: etcd with `--store`, else redb under `--data`; with
/// the etcd client when it is etcd.
#[cfg(feature = "etcd")]
async fn open_store(
    flags: &Flags,
) -> Result<(Arc<dyn Store>, Option<shipcore::store::EtcdStore>), Box<dyn std::error::Error>> {
    if flags.store.is_empty() {
        return Ok((local_store(&flags.data)?, None));
    }
    let etcd = etcd_store(flags).await?;
    Ok((Arc::new(etcd.clone()), Some(etcd)))
}

/// The state store: redb under `--data` (`--store` needs the etcd feature).
#[cfg(not(feature = "etcd"))]
fn open_store(flags: &Flags) -> Result<Arc<dyn Store>, Box<dyn std::error::Error>> {
    if !flags.store.is_empty() {
        return Err("--store needs a shipd built with --features etcd".into());
    }
    local_store(&flags.data)
}

/// The store of a replica of its own: redb under `--data` (a private folder).
fn local_store(data: &std::path::Path) -> Result<Arc<dyn Store>, Box<dyn std::error::Error>> {
    private_dir(data)?;
    Ok(Arc::new(DurableStore::open(data.join("state.redb"))?))
}

/// Accounts and certificates; on first start the admin account, with its
/// password from SHIPD_ADMIN_PASSWORD or made and shown once. Whether
/// this is the first start.
async fn open_access(
    flags: &Flags,
    store: Arc<dyn Store>,
    cluster: &Cluster,
    shared: bool,
) -> Result<(Access, bool), Box<dyn std::error::Error>> {
    let (cert_days, token_hours) = (flags.cert_days, flags.token_hours);
    let mut access = Access::new(store)
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

    Ok((access, first_start))
}

/// Registers the engine of this machine (DOCKER_HOST, or the default
/// socket) as `local`, when it answers.
async fn register_local(cluster: &Cluster) -> Result<(), Box<dyn std::error::Error>> {
    if cluster.engine("local").await.is_err() {
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
    Ok(())
}

/// The cluster's Docker endpoint on `--tls-listen` (mutual TLS), when asked
/// for: its server task.
async fn start_endpoint(
    flags: &Flags,
    app: &shipcore_http::App,
    stopped: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<
    Option<tokio::task::JoinHandle<Result<(), shipcore_http::Error>>>,
    Box<dyn std::error::Error>,
> {
    let cert_days = flags.cert_days;
    Ok(if let Some(tls_listen) = flags.tls_listen.clone() {
        let names = trimmed(&flags.tls_names);
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
        let listener = bind(&tls_listen).await?;
        println!(
            "cluster endpoint on tcp://{} (mutual TLS; client certificates from GET /clusters/{}/certs)",
            listener.local_addr()?,
            app.cluster.identity()
        );
        Some(tokio::spawn(shipcore_http::serve_tls(
            listener,
            app.clone(),
            tls,
            stopped,
        )))
    } else {
        None
    })
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
async fn etcd_store(
    flags: &Flags,
) -> Result<shipcore::store::EtcdStore, Box<dyn std::error::Error>> {
    let mut config = shipcore::store::EtcdConfig::parse(&flags.store)?;
    let file = |flag: &str,
                path: &Option<std::path::PathBuf>|
     -> Result<Option<Vec<u8>>, Box<dyn std::error::Error>> {
        match path {
            None => Ok(None),
            Some(p) => Ok(Some(
                std::fs::read(p).map_err(|e| format!("{flag} {}: {e}", p.display()))?,
            )),
        }
    };
    config.ca = file("--etcd-ca", &flags.etcd_ca)?;
    config.identity = match (
        file("--etcd-cert", &flags.etcd_cert)?,
        file("--etcd-key", &flags.etcd_key)?,
    ) {
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
