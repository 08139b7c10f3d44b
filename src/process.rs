//! shipd and the stock clients as processes, for the benches that set
//! shipd against the tools people would otherwise use (the docker CLI on
//! the engine itself): bounded commands, a shipd on loopback that is up
//! once its engine is healthy, and medians of timed rounds.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The admin password the benches start shipd with.
pub const PASSWORD: &str = "bench-shipd-password";

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// `program args` with `env` added, killed after a minute.
pub fn run(program: &str, args: &[&str], env: &[(&str, String)]) -> Output {
    Command::new("timeout")
        .args(["-k", "5", "60", program])
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .output()
        .expect("the command runs")
}

/// Its standard output; a failure stops the bench naming `what`.
pub fn ok(what: &str, out: Output) -> String {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// shipd as a process (this build's binary), killed when dropped.
#[derive(Debug)]
pub struct Shipd {
    child: Child,
    /// `http://127.0.0.1:PORT`, its plain listener (and its registry).
    pub base: String,
    /// `127.0.0.1:PORT`, the registry's host as docker names it.
    pub host: String,
}

impl Shipd {
    /// `binary` with its state in `dir/data`, engine `engine` as its local
    /// engine, on a free loopback port with `args` added; once its engine
    /// is healthy.
    pub fn start(binary: &str, dir: &Path, engine: &str, args: &[&str]) -> Shipd {
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let log_path = dir.join("shipd.log");
        let log = std::fs::File::create(&log_path).expect("the log file");
        let child = Command::new(binary)
            .args(["--listen", &host])
            .args(["--data", &dir.join("data").to_string_lossy()])
            .args(args)
            .env("SHIPD_ADMIN_PASSWORD", PASSWORD)
            .env("DOCKER_HOST", engine)
            .stdout(Stdio::from(log.try_clone().expect("the log file")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("shipd starts");
        let mut shipd = Shipd {
            child,
            base: format!("http://{host}"),
            host,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = shipd.curl(&["/api/engines"]);
            let healthy = out.status.success()
                && String::from_utf8_lossy(&out.stdout).contains("\"healthy\"");
            if healthy {
                return shipd;
            }
            let exited = shipd.child.try_wait().ok().flatten();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "shipd did not come up with a healthy engine ({exited:?}): {}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// curl as the admin: `args`' first is the path, the rest curl's.
    pub fn curl(&self, args: &[&str]) -> Output {
        let url = format!("{}{}", self.base, args.first().copied().unwrap_or("/"));
        let user = format!("admin:{PASSWORD}");
        let mut all = vec!["-sf", "-u", user.as_str(), url.as_str()];
        all.extend(args.iter().skip(1));
        run("curl", &all, &[])
    }

    /// A JSON call as the admin: the answer parsed (a failure stops the
    /// bench).
    pub fn json(&self, method: &str, path: &str, body: &serde_json::Value) -> serde_json::Value {
        let body = body.to_string();
        let out = self.curl(&[
            path,
            "-X",
            method,
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &body,
        ]);
        let text = ok(&format!("{method} {path}"), out);
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
    }
}

impl Drop for Shipd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The median of timed rounds.
pub fn median(times: &[Duration]) -> Duration {
    let mut t = times.to_vec();
    t.sort();
    t.get(t.len() / 2).copied().unwrap_or_default()
}

/// `123 ms`.
pub fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

/// One side's line: median, min and max.
pub fn report(what: &str, times: &[Duration]) {
    println!(
        "  {what:<22} median {:>7}  (min {}, max {})",
        ms(median(times)),
        ms(times.iter().min().copied().unwrap_or_default()),
        ms(times.iter().max().copied().unwrap_or_default())
    );
}

/// Engine A of the test bed (brought up when the environment names none);
/// a bench without it stops naming why.
pub fn engine_a() -> String {
    let bed = crate::provision::needed("the test bed's engines", crate::provision::engines());
    bed.get("SHIPCORE_ENGINE_A")
        .expect("engines() names engine A")
        .to_string()
}

/// `SHIPCORE_BENCH_ROUNDS`, else `default`.
pub fn rounds(default: usize) -> usize {
    std::env::var("SHIPCORE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .max(1)
}

/// `rounds` rounds of two sides, each going first in every other round:
/// `once(side, round)` times one; the times by side.
pub fn alternate(
    rounds: usize,
    mut once: impl FnMut(usize, usize) -> Duration,
) -> [Vec<Duration>; 2] {
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        for k in 0..2 {
            let side = (round + k) % 2;
            times[side].push(once(side, round));
        }
    }
    times
}
