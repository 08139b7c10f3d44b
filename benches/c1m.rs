//! "C1M in simulation", after Nomad's C1M: deploy 1,000,000 containers
//! through `Cluster::deploy` (requests of up to 1,000 replicas) onto 10,000
//! in-memory fake engines, with the durable store on disk, then reopen the
//! cluster from that store. Reports containers/s end to end (scheduler,
//! engine calls, records and events written with fsync), the peak RSS, and
//! the cold start.
//!
//! Run: `cargo bench --bench c1m`. Smaller runs for trying it:
//! `C1M_CONTAINERS=100000 C1M_ENGINES=1000 cargo bench --bench c1m`;
//! `C1M_CONCURRENCY` deploys run at once (default 4); `C1M_STORE=<file>`
//! keeps the store, and `C1M_REOPEN=<file>` then runs the cold start alone.

use std::sync::Arc;
use std::time::Instant;

use shipcore::cluster::docs::{engine_key, EngineDoc};
use shipcore::cluster::{Cluster, ClusterOptions};
use shipcore::engine::fake::FakeConnector;
use shipcore::model::{EngineRecord, Health, ImageConfig};
use shipcore::store::{DurableStore, Expect, Op, Store, MAX_BATCH_OPS};

const IMAGE: &str = "app:1";

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The peak resident set of this process, from /proc (MiB).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Registered engines, written straight into the store in batches: their
/// registration is not what this bench measures.
async fn register(store: &DurableStore, engines: usize) {
    let docs: Vec<Op> = (0..engines)
        .map(|i| {
            let id = format!("e{i:05}");
            let mut record = EngineRecord::new(&id, "unix:///fake.sock");
            record.engine.cpus = 64.0;
            record.engine.memory = 262_144;
            let doc = EngineDoc {
                record,
                health: Health::Healthy,
                added: String::new(),
                docker_version: String::new(),
                response_time_ns: 0,
                untrusted: false,
            };
            Op::put_json(engine_key(&id), &doc, Expect::Absent).expect("json")
        })
        .collect();
    let mut docs = docs.into_iter().peekable();
    while docs.peek().is_some() {
        let batch: Vec<Op> = docs.by_ref().take(MAX_BATCH_OPS).collect();
        store.batch(batch).await.expect("engines stored");
    }
}

async fn open(store: DurableStore, engines: usize) -> Cluster {
    let opts = ClusterOptions {
        deploy_parallelism: 64,
        ..ClusterOptions::default()
    };
    let fakes = Arc::new(FakeConnector::new(64_000, 262_144, &[IMAGE]));
    let cluster = Cluster::open(Arc::new(store), fakes, opts)
        .await
        .expect("the cluster opens");
    assert_eq!(cluster.engines().await.len(), engines);
    cluster
}

/// The cold start, in a process of its own (this one, started again with
/// `C1M_REOPEN=<store> C1M_ENGINES=<n>`): open the store, load and index
/// every container. Prints `<seconds> <containers> <peak RSS MiB>`.
fn reopen(path: &str, engines: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (secs, containers) = rt.block_on(async {
        let started = Instant::now();
        let store = DurableStore::open(path).expect("store reopens");
        let cluster = open(store, engines).await;
        (
            started.elapsed().as_secs_f64(),
            cluster.info().await.containers,
        )
    });
    println!("{secs} {containers} {}", peak_rss_mib());
}

fn main() {
    if let Ok(path) = std::env::var("C1M_REOPEN") {
        return reopen(&path, env("C1M_ENGINES", 10_000));
    }
    let containers = env("C1M_CONTAINERS", 1_000_000);
    let engines = env("C1M_ENGINES", 10_000);
    let replicas = env("C1M_REPLICAS", 1_000).min(1_000);
    let concurrency = env("C1M_CONCURRENCY", 4).max(1);
    let dir = tempfile::tempdir().expect("a temporary folder");
    // `C1M_STORE=<file>` keeps the store there (for profiling the cold start).
    let path = std::env::var("C1M_STORE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("state.redb"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    let (deploy_secs, deployed) = rt.block_on(async {
        let store = DurableStore::open(&path).expect("store");
        register(&store, engines).await;
        let cluster = open(store, engines).await;
        let cfg = ImageConfig {
            name: IMAGE.into(),
            cpus: 0.01,
            memory: 16,
            ..ImageConfig::default()
        };
        let requests = containers.div_ceil(replicas);
        let started = Instant::now();
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let workers = (0..concurrency).map(|_| {
            let (cluster, cfg, next) = (cluster.clone(), cfg.clone(), next.clone());
            tokio::spawn(async move {
                let mut placed = 0;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= requests {
                        return placed;
                    }
                    let n = replicas.min(containers - i * replicas) as u32;
                    placed += cluster
                        .deploy(cfg.clone(), n)
                        .await
                        .unwrap_or_else(|e| panic!("a deploy fails: {e}"))
                        .len();
                }
            })
        });
        let mut deployed = 0;
        for w in futures::future::join_all(workers).await {
            deployed += w.expect("a deploy worker");
        }
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(cluster.info().await.containers, deployed);
        (secs, deployed)
    });
    let rss_deploy = peak_rss_mib();
    let file = std::fs::metadata(&path).map_or(0, |m| m.len());

    drop(rt);
    // Cold start: a new process reads what this one wrote.
    let exe = std::env::current_exe().expect("this bench's path");
    let out = std::process::Command::new(exe)
        .env("C1M_REOPEN", &path)
        .env("C1M_ENGINES", engines.to_string())
        .output()
        .expect("the cold start runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text.split_whitespace();
    let mut next = || fields.next().and_then(|f| f.parse::<f64>().ok());
    let (Some(open_secs), Some(reopened), Some(rss_open)) = (next(), next(), next()) else {
        panic!(
            "the cold start failed: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    assert_eq!(reopened as usize, deployed, "every container is back");

    println!(
        "c1m: {deployed} containers on {engines} fake engines, deploys of {replicas} replicas, {concurrency} at once, durable store ({:.0} MiB on disk)",
        file as f64 / 1048576.0
    );
    println!(
        "  deploy: {deploy_secs:.1} s, {:.0} containers/s end to end",
        deployed as f64 / deploy_secs
    );
    println!("  peak RSS after deploying: {rss_deploy:.0} MiB");
    println!("  cold start in a new process (open the store, load and index {reopened} containers): {open_secs:.2} s, peak RSS {rss_open:.0} MiB");
}
