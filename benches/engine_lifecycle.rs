//! Create + start + remove of 50 containers on one engine through the Docker
//! backend, sequentially and with bounded concurrency, beside the same work
//! done with the `docker` CLI in the same run.
//!
//! Run: `eval "$(scripts/engines up)"; cargo bench --bench engine_lifecycle`.
//! Without `SHIPCORE_ENGINE_A` it brings the test bed up (`scripts/engines
//! up`), or stops naming why it cannot.

use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use shipcore::engine::{ContainerSpec, EngineBackend};
use shipcore_docker::{DockerEngine, EngineTarget};
use shipcore_workspace::provision;

const COUNT: usize = 50;
const IMAGE: &str = "shipcore/busybox:latest";

fn spec(i: usize, run: &str) -> ContainerSpec {
    ContainerSpec {
        name: Some(format!("bench-{run}-{i}-{}", std::process::id())),
        image: IMAGE.into(),
        cmd: vec!["sleep".into(), "60".into()],
        ..ContainerSpec::default()
    }
}

async fn one(e: &DockerEngine, s: ContainerSpec) -> shipcore::Result<()> {
    let id = e.create_container(&s).await?;
    e.start_container(&id).await?;
    e.remove_container(&id, true, false).await
}

async fn backend(e: &DockerEngine, concurrency: usize, run: &str) -> Duration {
    let t = Instant::now();
    let results: Vec<_> = futures::stream::iter((0..COUNT).map(|i| one(e, spec(i, run))))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = t.elapsed();
    let failed = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(failed, 0, "{:?}", results.into_iter().find(Result::is_err));
    elapsed
}

fn cli(host: &str) -> Duration {
    let t = Instant::now();
    for i in 0..COUNT {
        let name = format!("bench-cli-{i}-{}", std::process::id());
        let run = Command::new("docker")
            .args([
                "-H", host, "run", "-d", "--name", &name, IMAGE, "sleep", "60",
            ])
            .output()
            .expect("the docker CLI runs");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let rm = Command::new("docker")
            .args(["-H", host, "rm", "-f", &name])
            .output()
            .expect("docker rm runs");
        assert!(
            rm.status.success(),
            "{}",
            String::from_utf8_lossy(&rm.stderr)
        );
    }
    t.elapsed()
}

fn report(what: &str, d: Duration) {
    println!(
        "{what:<44} {:>8.2} s  {:>7.1} containers/s",
        d.as_secs_f64(),
        COUNT as f64 / d.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let bed = provision::needed("the test bed's engine A", provision::engines());
    let addr = bed.get("SHIPCORE_ENGINE_A").unwrap_or_default().to_string();
    // `cargo bench` passes --bench; nothing else is read.
    let e = DockerEngine::new(&EngineTarget::new("a", addr.clone())).expect("valid address");
    e.ping().await.expect("engine A answers");
    println!("create + start + remove of {COUNT} containers on {addr}:");
    report("backend, sequential", backend(&e, 1, "seq").await);
    report("backend, 8 at a time", backend(&e, 8, "par8").await);
    report("docker CLI (run -d, rm -f), sequential", cli(&addr));
}
