//! The cluster API under load: `GET /api/cluster/info` and `GET
//! /api/containers` with 10,000 stored containers, each against a raw hyper
//! server built here that answers the same bytes (the ceiling for serving
//! that answer on this machine), with the same wrk flags in the same run.
//!
//! The cluster runs over in-memory fake engines (`shipcore::engine::fake`),
//! so the bench measures the facade and the core, not Docker.
//!
//! Cluster info is measured a second time with the request log line
//! formatted as shipd does (text, to a sink: its cost without the write).
//!
//! The container list is measured twice: as gzip (`Accept-Encoding: gzip`,
//! as curl `--compressed`, browsers and Go clients send it) and as plain
//! JSON (4 MB, where moving the bytes is the whole cost for both servers).
//!
//! Run: `cargo bench --bench api` (installs `wrk` when missing).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use shipcore::model::ImageConfig;
use shipcore::testing::Fixture;
use shipcore_workspace::{provision, wrk};

/// Whether the request log is formatted (see `main`).
static LOG: AtomicBool = AtomicBool::new(false);

const CONTAINERS: u32 = 10_000;
const ENGINES: usize = 100;
const IMAGE: &str = "app:1";
const WRK: [&str; 6] = [
    "-t1",
    "-c16",
    "-d5s",
    "--latency",
    "-H",
    "Connection: keep-alive",
];

async fn cluster() -> Fixture {
    let f = Fixture::fake(ENGINES, 64_000, 262_144, &[IMAGE])
        .await
        .expect("fixture");
    let cfg = ImageConfig {
        name: IMAGE.into(),
        cpus: 0.1,
        memory: 64,
        ..ImageConfig::default()
    };
    for _ in 0..CONTAINERS / 100 {
        f.cluster.deploy(cfg.clone(), 100).await.expect("fits");
    }
    f
}

/// The facade's answer to `GET path` with `key`: it must be a 200, and it
/// is what the raw server answers too.
async fn fetch(addr: SocketAddr, path: &str, key: &str) -> Vec<u8> {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let req = hyper::Request::get(format!("http://{addr}{path}"))
        .header("x-service-key", key)
        .body(Full::new(Bytes::new()))
        .expect("request");
    let res = client.request(req).await.expect("the facade answers");
    assert_eq!(res.status(), 200, "GET {path}");
    res.into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec()
}

/// One fixed answer of the raw server: the JSON, and its gzip for
/// requests that accept it (as the facade does for bodies of 1 KiB or more).
struct Answer {
    path: String,
    json: Bytes,
    gzip: Option<Bytes>,
}

impl Answer {
    fn new(path: &str, json: Vec<u8>) -> Self {
        let gzip = (json.len() >= 1024).then(|| {
            use std::io::Write as _;
            let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            z.write_all(&json).expect("gzip");
            Bytes::from(z.finish().expect("gzip"))
        });
        Answer {
            path: path.into(),
            json: Bytes::from(json),
            gzip,
        }
    }
}

/// Serves fixed answers by path, with hyper alone.
async fn raw_server(answers: Vec<Answer>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let answers = Arc::new(answers);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let answers = answers.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let gzip = req
                        .headers()
                        .get("accept-encoding")
                        .is_some_and(|v| v.as_bytes().windows(4).any(|w| w == b"gzip"));
                    let answer = answers.iter().find(|a| a.path == req.uri().path());
                    let mut res = hyper::Response::builder()
                        .header("content-type", "application/json")
                        .header("vary", "accept-encoding");
                    let body = match answer {
                        Some(Answer { gzip: Some(z), .. }) if gzip => {
                            res = res.header("content-encoding", "gzip");
                            z.clone()
                        }
                        Some(a) => a.json.clone(),
                        None => Bytes::new(),
                    };
                    let res = res.body(Full::new(body)).expect("response");
                    async move { Ok::<_, Infallible>(res) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// CPU time this process has used (all threads), in microseconds, from
/// `/proc/self/stat` (clock ticks of 10 ms).
fn cpu_us() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) * 10_000.0
}

/// One wrk run.
struct Run {
    rps: f64,
    p99_ms: f64,
    /// Server CPU per request (this process: the server under test).
    cpu_us: f64,
}

/// wrk runs per server and endpoint; the median is reported.
const ROUNDS: usize = 3;

/// The run with the median requests/s.
fn median(mut runs: Vec<Run>) -> Run {
    runs.sort_by(|a, b| a.rps.total_cmp(&b.rps));
    runs.swap_remove(runs.len() / 2)
}

/// Runs wrk against `url`, with `header` added when not empty.
fn wrk(url: &str, key: &str, header: &str) -> Run {
    let cpu_before = cpu_us();
    let out = Command::new("wrk")
        .args(WRK)
        .args(["-H", &format!("X-Service-Key: {key}")])
        .args(if header.is_empty() {
            vec![]
        } else {
            vec!["-H", header]
        })
        .arg(url)
        .output()
        .expect("wrk runs (apt-get install wrk)");
    let cpu = cpu_us() - cpu_before;
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = wrk::requests_per_sec(&text);
    let requests: f64 = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse().ok())
        .unwrap_or(f64::NAN);
    let p99 = wrk::p99_ms(&text);
    assert!(
        text.contains("Requests/sec"),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // wrk counts answers that were not 2xx/3xx; a run with any is no
    // measure of serving the answer.
    let failed = wrk::non_2xx(&text);
    assert_eq!(
        failed, 0,
        "{failed} answers were not 2xx from {url}: {text}"
    );
    Run {
        rps,
        p99_ms: p99,
        cpu_us: cpu / requests,
    }
}

fn main() {
    provision::needed("wrk", provision::wrk());
    // The request log as shipd formats it (text), written to a sink, on
    // for the runs that measure its cost.
    {
        use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};
        let layer = tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_writer(std::io::sink)
            .with_filter(tracing_subscriber::filter::dynamic_filter_fn(|_, _| {
                // Asked at every event (a plain `filter_fn` is cached per
                // call site), so the switch takes effect between runs.
                LOG.load(Ordering::Relaxed)
            }));
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (facade, raw, key) = rt.block_on(async {
        let f = cluster().await;
        let key = f.admin_key.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let facade = listener.local_addr().expect("addr");
        let app = shipcore_http::App::new(f.cluster.clone(), f.access.clone());
        tokio::spawn(async move {
            let _ = shipcore_http::serve(listener, app, std::future::pending()).await;
        });
        // Both servers answer the same bytes: the raw one is given the
        // facade's own answers.
        let info = fetch(facade, "/api/cluster/info", &key).await;
        let list = fetch(facade, "/api/containers", &key).await;
        let answers = vec![
            Answer::new("/api/cluster/info", info),
            Answer::new("/api/containers", list),
        ];
        println!(
            "answers: cluster info {} bytes, container list {} bytes ({} as gzip)",
            answers[0].json.len(),
            answers[1].json.len(),
            answers[1].gzip.as_ref().map_or(0, Bytes::len)
        );
        let raw = raw_server(answers).await;
        // Both servers answer 200 with the same bytes before anything is timed.
        for path in ["/api/cluster/info", "/api/containers"] {
            assert_eq!(
                fetch(raw, path, &key).await,
                fetch(facade, path, &key).await,
                "the raw server answers {path} as the facade does"
            );
        }
        (facade, raw, key)
    });
    println!(
        "wrk {} against the facade and a raw hyper server answering the same bytes, alternating, median of {ROUNDS} runs each",
        WRK.join(" ")
    );
    println!(
        "{:<18} | {:>9} {:>7} {:>7} | {:>9} {:>7} {:>7} | {:>5}",
        "endpoint", "facade/s", "p99 ms", "cpu µs", "raw/s", "p99 ms", "cpu µs", "ratio"
    );
    // `API_BENCH_PATH=/api/cluster/info` measures one endpoint (for profiling).
    let only = std::env::var("API_BENCH_PATH").ok();
    // (path, extra header, label, with the request log formatted).
    let runs = [
        ("/api/cluster/info", "", "info", false),
        ("/api/cluster/info", "", "info + log", true),
        (
            "/api/containers",
            "Accept-Encoding: gzip",
            "containers gzip",
            false,
        ),
        ("/api/containers", "", "containers json", false),
    ];
    for (path, header, label, log) in runs {
        if only.as_deref().is_some_and(|o| o != path) {
            continue;
        }
        LOG.store(log, Ordering::Relaxed);
        // Warm up: the first request renders (and gzips) the answer.
        for url in [
            format!("http://{facade}{path}"),
            format!("http://{raw}{path}"),
        ] {
            let _ = Command::new("wrk")
                .args(["-t1", "-c1", "-d1s", "-H", &format!("X-Service-Key: {key}")])
                .args(if header.is_empty() {
                    vec![]
                } else {
                    vec!["-H", header]
                })
                .arg(url)
                .output();
        }
        // Alternate the two servers, so drift in the machine's speed hits
        // both alike; report each one's median run.
        let (mut fs, mut rs) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            fs.push(wrk(&format!("http://{facade}{path}"), &key, header));
            rs.push(wrk(&format!("http://{raw}{path}"), &key, header));
        }
        let (f, r) = (median(fs), median(rs));
        println!(
            "{label:<18} | {:>9.0} {:>7.2} {:>7.1} | {:>9.0} {:>7.2} {:>7.1} | {:>5.2}",
            f.rps,
            f.p99_ms,
            f.cpu_us,
            r.rps,
            r.p99_ms,
            r.cpu_us,
            f.rps / r.rps
        );
    }
    drop(rt);
}
