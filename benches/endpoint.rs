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
use std::time::{Duration, Instant};

use shipcore_workspace::process::{
    alternate, engine_a, free_port, median, ok, report, rounds, run, Shipd,
};

const IMAGE: &str = "shipcore/busybox:latest";

/// The cluster's client certificates (`GET /clusters/NAME/certs`, as the
/// seed's users fetch them) written as a DOCKER_CERT_PATH.
fn certs(dir: &Path, shipd: &Shipd) -> PathBuf {
    let body = ok("GET certs", shipd.curl(&["/clusters/benchep/certs"]));
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

fn main() {
    let engine = engine_a();
    let rounds = rounds(31);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let tls = free_port();
    let shipd = Shipd::start(
        env!("CARGO_BIN_EXE_shipd"),
        dir.path(),
        &engine,
        &[
            "--tls-listen",
            &format!("127.0.0.1:{tls}"),
            "--cluster",
            "benchep",
        ],
    );
    let certs = certs(dir.path(), &shipd);
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
    let times = alternate(rounds, |side, round| {
        once(sides[side].1, &format!("bench-ep-{side}-{round}-{tag}"))
    });
    println!("docker run -d -m 16m {IMAGE} true, {rounds} rounds alternating (the stock docker CLI, Docker 20.10):");
    for (i, (what, _)) in sides.iter().enumerate() {
        report(what, &times[i]);
    }
    let ratio = median(&times[0]).as_secs_f64() / median(&times[1]).as_secs_f64();
    println!("  endpoint / engine      {ratio:.2}x  (target <= 1.05x)");
}
