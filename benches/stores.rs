//! The embedded store (redb) against etcd (the test bed's 3-member cluster
//! on loopback, `scripts/etcd up`), in one run: compare-and-swap writes per
//! second, listing 10,000 keys, change-stream latency, and shipd's cluster
//! API over each (`GET /api/cluster/info` and a deploy on fake engines).
//!
//! `cargo bench --features etcd --bench stores` (etcd from SHIPCORE_ETCD,
//! else brought up by `scripts/etcd up`); built without the `etcd` feature,
//! only the embedded column runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use shipcore::cluster::ClusterOptions;
use shipcore::engine::fake::FakeConnector;
use shipcore::model::EngineRecord;
use shipcore::store::{DurableStore, Expect, Op, Store, MAX_BATCH_OPS};
use shipcore::testing::Fixture;

const WRITERS: usize = 16;
const CAS_TIME: Duration = Duration::from_secs(3);
const LIST_KEYS: usize = 10_000;
const STREAM_WRITES: usize = 300;
const INFO_CALLS: usize = 1000;
const DEPLOYS: usize = 100;

/// One column of the table.
#[derive(Default)]
struct Figures {
    cas_per_s: f64,
    list_ms: f64,
    stream_p50_ms: f64,
    stream_p99_ms: f64,
    info_p50_ms: f64,
    info_p99_ms: f64,
    deploy_p50_ms: f64,
    deploy_p99_ms: f64,
}

/// A row of the table: its name and how a column's figure is read.
type Row = (&'static str, fn(&Figures) -> f64);

fn percentile(mut v: Vec<Duration>, p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
}

async fn cas(store: Arc<dyn Store>) -> f64 {
    let until = Instant::now() + CAS_TIME;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = format!("bench/cas/{w}");
                let mut rev = store
                    .put(&key, b"0".to_vec(), Expect::Any)
                    .await
                    .expect("put");
                let mut n = 0u64;
                while Instant::now() < until {
                    rev = store
                        .put(&key, n.to_string().into_bytes(), Expect::Revision(rev))
                        .await
                        .expect("a compare-and-swap of a key only this writer writes");
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("writer");
    }
    total as f64 / CAS_TIME.as_secs_f64()
}

async fn list(store: &dyn Store) -> f64 {
    let keys: Vec<String> = (0..LIST_KEYS)
        .map(|i| format!("bench/list/{i:06}"))
        .collect();
    for chunk in keys.chunks(MAX_BATCH_OPS) {
        let ops = chunk
            .iter()
            .map(|k| Op::Put {
                key: k.clone(),
                // A container record's usual size.
                value: vec![b'x'; 600],
                expect: Expect::Any,
            })
            .collect();
        store.batch(ops).await.expect("batch");
    }
    let mut times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let got = store.list("bench/list/").await.expect("list");
        times.push(start.elapsed());
        assert_eq!(got.len(), LIST_KEYS);
    }
    percentile(times, 0.5)
}

async fn stream(store: &dyn Store) -> (f64, f64) {
    let since = store.revision().await.expect("revision");
    let mut changes = store.changes("bench/stream/", since).await.expect("watch");
    let mut times = Vec::with_capacity(STREAM_WRITES);
    for i in 0..STREAM_WRITES {
        let start = Instant::now();
        store
            .put(&format!("bench/stream/{i}"), b"v".to_vec(), Expect::Any)
            .await
            .expect("put");
        let change = changes.next().await.expect("a change").expect("no error");
        assert_eq!(change.key, format!("bench/stream/{i}"));
        times.push(start.elapsed());
    }
    (percentile(times.clone(), 0.5), percentile(times, 0.99))
}

/// Timed sequential calls; panics on any answer other than `want`.
async fn calls(
    base: &str,
    key: &str,
    method: &str,
    path: &str,
    body: &str,
    n: usize,
    want: u16,
) -> (f64, f64) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let req = hyper::Request::builder()
            .method(method)
            .uri(format!("{base}{path}"))
            .header("X-Service-Key", key)
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("request");
        let start = Instant::now();
        let resp = client.request(req).await.expect("answer");
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        times.push(start.elapsed());
        assert_eq!(status, want, "{}", String::from_utf8_lossy(&bytes));
    }
    (percentile(times.clone(), 0.5), percentile(times, 0.99))
}

async fn api(store: Arc<dyn Store>, shared: bool) -> ((f64, f64), (f64, f64)) {
    let fakes = Arc::new(FakeConnector::new(64_000, 1 << 20, &["app:1"]));
    let opts = ClusterOptions {
        shared,
        ..ClusterOptions::default()
    };
    let mut f = Fixture::on(store, fakes, opts).await.expect("fixture");
    if shared {
        f.access = f.access.clone().shared();
    }
    for i in 0..10 {
        f.cluster
            .add_engine(EngineRecord::new(&format!("e{i}"), "unix:///fake.sock"))
            .await
            .expect("engine");
    }
    let _follow = shared.then(|| f.cluster.follow());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app = shipcore_http::App::new(f.cluster.clone(), f.access.clone());
    tokio::spawn(async move {
        let _ = shipcore_http::serve(listener, app, std::future::pending()).await;
    });
    let info = calls(
        &base,
        &f.admin_key,
        "GET",
        "/api/cluster/info",
        "",
        INFO_CALLS,
        200,
    )
    .await;
    let deploy = calls(
        &base,
        &f.admin_key,
        "POST",
        "/api/containers",
        r#"{"name":"app:1","cpus":0.01,"memory":8}"#,
        DEPLOYS,
        201,
    )
    .await;
    (info, deploy)
}

async fn measure(make: impl Fn(&str) -> Arc<dyn Store>, shared: bool) -> Figures {
    let cas_per_s = cas(make("cas")).await;
    let list_ms = list(make("list").as_ref()).await;
    let (stream_p50_ms, stream_p99_ms) = stream(make("stream").as_ref()).await;
    let ((info_p50_ms, info_p99_ms), (deploy_p50_ms, deploy_p99_ms)) =
        api(make("api"), shared).await;
    Figures {
        cas_per_s,
        list_ms,
        stream_p50_ms,
        stream_p99_ms,
        info_p50_ms,
        info_p99_ms,
        deploy_p50_ms,
        deploy_p99_ms,
    }
}

#[cfg(feature = "etcd")]
async fn etcd_figures() -> Option<Figures> {
    let url = shipcore_workspace::provision::needed(
        "the test bed's etcd",
        shipcore_workspace::provision::etcd(),
    );
    let run = format!(
        "bench-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    );
    let mut stores = std::collections::HashMap::new();
    for part in ["cas", "list", "stream", "api"] {
        let mut config = shipcore::store::EtcdConfig::parse(&url).expect("SHIPCORE_ETCD");
        config.namespace = format!("{run}-{part}/");
        let store: Arc<dyn Store> = Arc::new(
            shipcore::store::EtcdStore::connect(&config)
                .await
                .expect("etcd answers"),
        );
        stores.insert(part, store);
    }
    Some(measure(|part| stores[part].clone(), true).await)
}

#[cfg(not(feature = "etcd"))]
async fn etcd_figures() -> Option<Figures> {
    None
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let embedded = measure(
            |part| {
                Arc::new(DurableStore::open(dir.path().join(format!("{part}.redb"))).expect("redb"))
                    as Arc<dyn Store>
            },
            false,
        )
        .await;
        let etcd = etcd_figures().await;
        if etcd.is_none() {
            println!("etcd left out: built without --features etcd");
        }
        let col = |f: &Option<Figures>, get: fn(&Figures) -> f64| {
            f.as_ref()
                .map_or("-".to_string(), |f| format!("{:.2}", get(f)))
        };
        let embedded = Some(embedded);
        println!("{:<44} {:>12} {:>12}", "", "embedded", "etcd (3)");
        let rows: [Row; 8] = [
            ("CAS writes/s (16 writers)", |f| f.cas_per_s),
            ("list 10k keys, ms", |f| f.list_ms),
            ("change stream latency p50, ms", |f| f.stream_p50_ms),
            ("change stream latency p99, ms", |f| f.stream_p99_ms),
            ("GET /api/cluster/info p50, ms", |f| f.info_p50_ms),
            ("GET /api/cluster/info p99, ms", |f| f.info_p99_ms),
            ("POST /api/containers (fake engines) p50, ms", |f| {
                f.deploy_p50_ms
            }),
            ("POST /api/containers (fake engines) p99, ms", |f| {
                f.deploy_p99_ms
            }),
        ];
        for (name, get) in rows {
            println!(
                "{name:<44} {:>12} {:>12}",
                col(&embedded, get),
                col(&etcd, get)
            );
        }
    });
}
