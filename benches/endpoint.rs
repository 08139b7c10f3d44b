//! `docker run -d` through the cluster endpoint against the same command on
//! the engine directly, in one run: the stock docker CLI, the same image,
//! the same engine (shipd's only engine is engine A, which the direct runs
//! use over its unix socket), rounds alternating which goes first, medians
//! compared. Through the endpoint a run costs the mutual TLS handshake, the
//! name checked across the cluster, the scheduler, the admission policy and
//! the record written with fsync, on top of the engine's own work.
//!
//! Run: `cargo bench --bench endpoint` (release shipd, built by the bench).
//! Without `SHIPCORE_ENGINE_A` it brings the test bed up (`scripts/engines
//! up`), or stops naming why it cannot. `SHIPCORE_BENCH_ROUNDS` (default
//! 31: the engine's own times spread over ±25%) sets the rounds.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use shipcore_workspace::provision;

const IMAGE: &str = "shipcore/busybox:latest";
const PASSWORD: &str = "bench-endpoint-password";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn run(program: &str, args: &[&str], env: &[(&str, String)]) -> Output {
    Command::new("timeout")
        .args(["-k", "5", "60", program])
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("the command runs")
}

fn ok(what: &str, out: Output) -> String {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// shipd as a process, killed when dropped.
struct Shipd(Child);

impl Drop for Shipd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// shipd (this build's release binary) with engine A as its local engine,
/// its cluster endpoint on `tls`; once it answers.
fn start(dir: &Path, engine: &str, http: u16, tls: u16) -> Shipd {
    let log = std::fs::File::create(dir.join("shipd.log")).expect("the log file");
    let child = Command::new(env!("CARGO_BIN_EXE_shipd"))
        .args(["--listen", &format!("127.0.0.1:{http}")])
        .args(["--tls-listen", &format!("127.0.0.1:{tls}")])
        .args(["--data", &dir.join("data").to_string_lossy()])
        .args(["--cluster", "benchep"])
        .env("SHIPD_ADMIN_PASSWORD", PASSWORD)
        .env("DOCKER_HOST", engine)
        .stdout(Stdio::from(log.try_clone().expect("the log file")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("shipd starts");
    let mut shipd = Shipd(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = format!("http://127.0.0.1:{http}/api/engines");
    loop {
        let out = run(
            "curl",
            &["-sf", "-u", &format!("admin:{PASSWORD}"), &url],
            &[],
        );
        let healthy =
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("\"healthy\"");
        if healthy {
            return shipd;
        }
        let exited = shipd.0.try_wait().ok().flatten();
        assert!(
            exited.is_none() && Instant::now() < deadline,
            "shipd did not come up with a healthy engine ({exited:?}): {}",
            std::fs::read_to_string(dir.join("shipd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The cluster's client certificates (`GET /clusters/NAME/certs`, as the
/// seed's users fetch them) written as a DOCKER_CERT_PATH.
fn certs(dir: &Path, http: u16) -> PathBuf {
    let url = format!("http://127.0.0.1:{http}/clusters/benchep/certs");
    let body = ok(
        "GET certs",
        run(
            "curl",
            &["-sf", "-u", &format!("admin:{PASSWORD}"), &url],
            &[],
        ),
    );
    let set: serde_json::Value = serde_json::from_str(&body).expect("the certs as JSON");
    let path = dir.join("certs");
    std::fs::create_dir_all(&path).expect("the certs folder");
    for (field, file) in [("ca", "ca.pem"), ("cert", "cert.pem"), ("key", "key.pem")] {
        let pem = set[field].as_str().expect("a PEM");
        std::fs::write(path.join(file), pem).expect("a PEM file");
    }
    path
}

/// One timed `docker run -d`, then its container removed (not timed).
fn once(env: &[(&str, String)], name: &str) -> Duration {
    let started = Instant::now();
    ok(
        "docker run -d",
        run(
            "docker",
            &["run", "-d", "--name", name, "-m", "16m", IMAGE, "true"],
            env,
        ),
    );
    let took = started.elapsed();
    ok("docker rm -f", run("docker", &["rm", "-f", name], env));
    took
}

fn median(mut t: Vec<Duration>) -> Duration {
    t.sort();
    t[t.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let bed = provision::needed("the test bed's engines", provision::engines());
    let engine = bed
        .get("SHIPCORE_ENGINE_A")
        .expect("engines() names engine A")
        .to_string();
    let rounds: usize = std::env::var("SHIPCORE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(31)
        .max(1);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (http, tls) = (free_port(), free_port());
    let _shipd = start(dir.path(), &engine, http, tls);
    let certs = certs(dir.path(), http);
    let config = dir.path().join("docker-config");
    std::fs::create_dir_all(&config).expect("a docker config folder");
    let config = config.to_string_lossy().into_owned();
    let endpoint = vec![
        ("DOCKER_TLS_VERIFY", "1".to_string()),
        ("DOCKER_HOST", format!("tcp://127.0.0.1:{tls}")),
        ("DOCKER_CERT_PATH", certs.to_string_lossy().into_owned()),
        ("DOCKER_CONFIG", config.clone()),
    ];
    let direct = vec![("DOCKER_HOST", engine.clone()), ("DOCKER_CONFIG", config)];
    let sides = [
        ("cluster endpoint", &endpoint),
        ("engine A directly", &direct),
    ];
    let tag = std::process::id();
    // A warm-up of each (the image's layers in the page cache, the CLI's
    // first connection).
    for (i, (_, env)) in sides.iter().enumerate() {
        once(env, &format!("bench-ep-warm{i}-{tag}"));
    }
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        // Each goes first in every other round.
        for k in 0..2 {
            let i = (round + k) % 2;
            times[i].push(once(sides[i].1, &format!("bench-ep-{i}-{round}-{tag}")));
        }
    }
    println!("docker run -d -m 16m {IMAGE} true, {rounds} rounds alternating (the stock docker CLI, Docker 20.10):");
    for (i, (what, _)) in sides.iter().enumerate() {
        let t = &times[i];
        println!(
            "  {what:<20} median {:>7}  (min {}, max {})",
            ms(median(t.clone())),
            ms(*t.iter().min().expect("a run")),
            ms(*t.iter().max().expect("a run"))
        );
    }
    let ratio = median(times[0].clone()).as_secs_f64() / median(times[1].clone()).as_secs_f64();
    println!("  endpoint / engine    {ratio:.2}x  (target <= 1.05x)");
}
