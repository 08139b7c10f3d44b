//! Bring-up and tear-down of one compose application of 100 containers on
//! the test bed's engine A, in the same run:
//!
//! - the engine's floor: a bare loop of Engine API create + start calls
//!   through the Docker backend on the app's network (1, 10 and 20 at a
//!   time), then stop without grace + remove, and the network's removal;
//! - docker-compose 1.29 (`up -d`, `down -t 0`), when installed;
//! - shipcore's compose projects, in process (`Projects::create` until the
//!   project runs, `Projects::delete` with force), over the durable store;
//!   with shipcore's client-side CPU time (this process's user + system
//!   time over bring-up and tear-down).
//!
//! Two shapes: 10 services × 10 replicas, run `SHIPCORE_BENCH_ROUNDS`
//! times (3 by default) alternating with the floor's two fastest settings
//! and compared by medians; and 100 separate services of one replica each,
//! which the bench runs `SHIPCORE_BENCH_RUNS` times (20 by default) to look
//! for stalls (a run slower than twice the median, or one that never
//! finishes within 300 s; docker-compose gets 3 runs of at most 120 s).
//!
//! Run: `eval "$(scripts/engines up)"; cargo bench --bench compose_up`.
//! Without `SHIPCORE_ENGINE_A` it brings the test bed up (`scripts/engines
//! up`), or stops naming why it cannot.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use shipcore::cluster::{Cluster, ClusterOptions};
use shipcore::engine::{ContainerFilter, ContainerSpec, EngineBackend, NetworkSpec};
use shipcore::model::{EngineRecord, Health, ProjectState};
use shipcore::projects::{NewProject, Projects, ProjectsOptions};
use shipcore::store::{DurableStore, Store};
use shipcore_docker::{DockerConnector, DockerEngine, EngineTarget};
use shipcore_workspace::provision;

const IMAGE: &str = "shipcore/busybox:latest";
/// Ends at once on SIGTERM (a plain `sleep` as PID 1 ignores it).
const CMD: [&str; 3] = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"];
const LIMIT: Duration = Duration::from_secs(300);
/// A pause before each measured run, for the engine's work left over from
/// the last tear-down.
const SETTLE: Duration = Duration::from_secs(2);
/// docker-compose brings the 100 up in about 25 s here: one still running
/// after 120 s has stalled (it then hangs for good).
const COMPOSE_STALL: Duration = Duration::from_secs(120);

/// A compose file of `services` services of `replicas` replicas each.
fn template(services: usize, replicas: usize) -> String {
    let mut t = format!(
        "x-base: &base\n  image: {IMAGE}\n  command: [\"{}\", \"{}\", \"{}\"]\n  scale: {replicas}\nservices:\n",
        CMD[0], CMD[1], CMD[2]
    );
    for i in 0..services {
        t.push_str(&format!("  s{i}:\n    <<: *base\n"));
    }
    t
}

/// This process's CPU time (user + system) and its waited-for children's.
fn cpu() -> (Duration, Duration) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command's closing parenthesis; utime is field 14.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let tick = |n: u64| Duration::from_millis(n * 10);
    let get = |i: usize| f.get(i).copied().unwrap_or(0);
    // rest[0] is field 3 (state): field k is rest[k - 3].
    (tick(get(11) + get(12)), tick(get(13) + get(14)))
}

#[derive(Clone, Copy)]
struct Timing {
    up: Duration,
    down: Duration,
    cpu: Duration,
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn report(what: &str, n: usize, t: Timing) {
    println!(
        "{what:<46} up {:>6.2} s ({:>5.1}/s)  down {:>6.2} s ({:>5.1}/s)  client cpu {:>5.2} s",
        t.up.as_secs_f64(),
        rate(n, t.up),
        t.down.as_secs_f64(),
        rate(n, t.down),
        t.cpu.as_secs_f64()
    );
}

/// A container as a compose app has it: on the app's network, with its
/// service's name as alias.
fn spec(run: &str, i: usize) -> ContainerSpec {
    ContainerSpec {
        name: Some(format!("{run}-{i}")),
        image: IMAGE.into(),
        cmd: CMD.iter().map(|s| s.to_string()).collect(),
        network: Some(format!("{run}_default")),
        network_aliases: vec![format!("s{}", i % 10)],
        ..ContainerSpec::default()
    }
}

/// The floor: the same work as bringing the app up and down, as bare
/// Engine API calls: the app's network, create + start of `n` containers
/// on it `up_at` at a time; then stop (no grace) + remove `down_at` at a
/// time, and the network's removal.
async fn floor(e: &DockerEngine, n: usize, up_at: usize, down_at: usize, run: &str) -> Timing {
    let (cpu0, _) = cpu();
    let t = Instant::now();
    let net = e
        .create_network(&NetworkSpec {
            name: format!("{run}_default"),
            ..NetworkSpec::default()
        })
        .await
        .expect("network");
    let ids: Vec<String> = futures::stream::iter((0..n).map(|i| {
        let s = spec(run, i);
        async move {
            let id = e.create_container(&s).await.expect("create");
            e.start_container(&id).await.expect("start");
            id
        }
    }))
    .buffer_unordered(up_at)
    .collect()
    .await;
    let up = t.elapsed();
    let t = Instant::now();
    let removed: Vec<_> = futures::stream::iter(ids.iter().map(|id| async move {
        e.stop_container(id, Some(Duration::ZERO)).await?;
        e.remove_container(id, true, false).await
    }))
    .buffer_unordered(down_at)
    .collect()
    .await;
    if let Err(err) = e.remove_network(&net).await {
        println!("  (network {run}_default left behind: {err})");
    }
    let down = t.elapsed();
    assert!(removed.iter().all(Result::is_ok), "{removed:?}");
    Timing {
        up,
        down,
        cpu: cpu().0 - cpu0,
    }
}

fn docker_compose_installed() -> bool {
    Command::new("docker-compose")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// docker-compose `up -d` then `down -t 0`; `None` when `up` did not finish
/// within the limit (a stall: it is killed, and the caller cleans up with
/// [`clean_compose`] what `down` left).
fn compose(host: &str, file: &str, project: &str, limit: Duration) -> Option<Timing> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("docker-compose.yml");
    std::fs::write(&path, file).expect("write the compose file");
    let run = |args: &[&str], limit: Duration| -> Option<Duration> {
        let t = Instant::now();
        let mut child = Command::new("docker-compose")
            .env("DOCKER_HOST", host)
            .env("COMPOSE_HTTP_TIMEOUT", "300")
            .arg("-f")
            .arg(&path)
            .args(["-p", project])
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("docker-compose runs");
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                // A `down` after a killed `up` may fail half-way: the
                // caller then cleans up through the Engine API.
                return status.success().then(|| t.elapsed());
            }
            if t.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let (_, c0) = cpu();
    let up = run(&["up", "-d"], limit);
    let down = run(&["down", "-t", "0"], LIMIT);
    let (_, c1) = cpu();
    match (up, down) {
        (Some(up), Some(down)) => Some(Timing {
            up,
            down,
            cpu: c1 - c0,
        }),
        (Some(_), None) => panic!("docker-compose down failed after a good up"),
        _ => None,
    }
}

/// shipcore: create the project and wait until it runs (the stored
/// lifecycle, polled every 25 ms), then delete it with force.
async fn shipcore_run(projects: &Projects, file: &str, name: &str) -> Option<Timing> {
    let (cpu0, _) = cpu();
    let t = Instant::now();
    projects
        .create(
            NewProject {
                name: name.into(),
                template: file.into(),
                version: Some("1".into()),
                ..NewProject::default()
            },
            &shipcore::model::Owner::system(),
        )
        .await
        .expect("create");
    loop {
        let lc = projects.lifecycle(name).await.expect("lifecycle");
        match lc.current {
            ProjectState::Running => break,
            ProjectState::Starting => {}
            other => panic!("project {name} ended {other:?}"),
        }
        if t.elapsed() > LIMIT {
            projects.delete(name, true, true).await.expect("delete");
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let up = t.elapsed();
    let t = Instant::now();
    projects.delete(name, true, true).await.expect("delete");
    let down = t.elapsed();
    Some(Timing {
        up,
        down,
        cpu: cpu().0 - cpu0,
    })
}

/// Removes what a stalled docker-compose project left on the engine.
async fn clean_compose(e: &DockerEngine, project: &str) {
    let filter = ContainerFilter {
        all: true,
        labels: vec![format!("com.docker.compose.project={project}")],
        name: None,
    };
    for c in e.list_containers(&filter).await.unwrap_or_default() {
        let _ = e.remove_container(&c.id, true, false).await;
    }
    for n in e.list_networks().await.unwrap_or_default() {
        if n.name == format!("{project}_default") {
            let _ = e.remove_network(&n.name).await;
        }
    }
}

async fn leftovers(e: &DockerEngine, label: &str) -> usize {
    e.list_containers(&ContainerFilter {
        all: true,
        labels: vec![label.to_string()],
        name: None,
    })
    .await
    .map(|l| l.len())
    .unwrap_or(0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let bed = provision::needed("the test bed's engine A", provision::engines());
    let host = bed.get("SHIPCORE_ENGINE_A").unwrap_or_default().to_string();
    let runs: usize = std::env::var("SHIPCORE_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let rounds: usize = std::env::var("SHIPCORE_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
        .max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let engine =
            DockerEngine::new(&EngineTarget::new("a", host.clone())).expect("valid address");
        engine.ping().await.expect("engine A answers");
        let tag = format!("bench{}", std::process::id());

        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn Store> =
            Arc::new(DurableStore::open(dir.path().join("state.redb")).expect("store"));
        let cluster = Cluster::open(
            store.clone(),
            Arc::new(DockerConnector::default()),
            ClusterOptions {
                identity: Some(tag.clone()),
                ..ClusterOptions::default()
            },
        )
        .await
        .expect("cluster");
        cluster
            .add_engine(EngineRecord::new("a", &host))
            .await
            .expect("engine A");
        let _bg = cluster.start();
        while cluster.health("a").await != Some(Health::Healthy) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let projects = Projects::open(store, cluster.clone(), ProjectsOptions::default())
            .await
            .expect("projects");
        // SHIPCORE_BENCH_COMPOSE=0 leaves docker-compose out (its stalls
        // cost two minutes each).
        let compose_here = std::env::var("SHIPCORE_BENCH_COMPOSE").as_deref() != Ok("0")
            && docker_compose_installed();
        if !compose_here {
            println!("docker-compose left out (not installed, or SHIPCORE_BENCH_COMPOSE=0)");
        }

        println!("100 containers on engine A ({host}), {IMAGE}:");
        let f = floor(&engine, 100, 1, 1, &format!("{tag}-f1")).await;
        report("floor: Engine API loop, 1/1 at a time", 100, f);
        let file = template(10, 10);
        if compose_here {
            match compose(&host, &file, &format!("{tag}c"), LIMIT) {
                Some(t) => report("docker-compose: 10 services x 10", 100, t),
                None => {
                    clean_compose(&engine, &format!("{tag}c")).await;
                    println!("docker-compose: 10 services x 10: stalled (> {LIMIT:?})");
                }
            }
        }
        // Rounds of floor and shipcore side by side, so that the engine's
        // drift (its overlay2 and network state) weighs on both alike.
        let configs = [(10, 10), (20, 100)];
        let mut floors: Vec<Vec<Timing>> = vec![Vec::new(); configs.len()];
        let mut ships = Vec::new();
        for round in 0..rounds {
            // Each contestant takes each place in the order in turn: the
            // engine's state after a tear-down weighs on whoever comes next.
            for slot in 0..=configs.len() {
                tokio::time::sleep(SETTLE).await;
                let k = (slot + round) % (configs.len() + 1);
                if let Some((up_at, down_at)) = configs.get(k) {
                    let run = format!("{tag}-f{up_at}r{round}");
                    let f = floor(&engine, 100, *up_at, *down_at, &run).await;
                    report(
                        &format!("floor: Engine API loop, {up_at}/{down_at} at a time"),
                        100,
                        f,
                    );
                    floors[k].push(f);
                } else {
                    let s = shipcore_run(&projects, &file, &format!("{tag}-p{round}"))
                        .await
                        .expect("no stall");
                    report("shipcore: 10 services x 10", 100, s);
                    ships.push(s);
                }
            }
        }
        // The floor is the best configuration's median.
        let floor_up = floors.iter().map(|v| median(v.iter().map(|t| t.up).collect())).min().expect("floors");
        let floor_down = floors.iter().map(|v| median(v.iter().map(|t| t.down).collect())).min().expect("floors");
        let (s_up, s_down, s_cpu) = (
            median(ships.iter().map(|t| t.up).collect()),
            median(ships.iter().map(|t| t.down).collect()),
            median(ships.iter().map(|t| t.cpu).collect()),
        );
        println!(
            "medians of {rounds} rounds: floor up {:.2} s, down {:.2} s; shipcore up {:.2} s, down {:.2} s, client cpu {:.2} s",
            floor_up.as_secs_f64(),
            floor_down.as_secs_f64(),
            s_up.as_secs_f64(),
            s_down.as_secs_f64(),
            s_cpu.as_secs_f64()
        );
        println!(
            "shipcore / floor: bring-up {:.3}x, tear-down {:.3}x",
            s_up.as_secs_f64() / floor_up.as_secs_f64(),
            s_down.as_secs_f64() / floor_down.as_secs_f64()
        );

        let file = template(100, 1);
        if compose_here {
            let n = runs.min(3);
            let mut stalls = 0;
            for i in 0..n {
                let project = format!("{tag}c{i}");
                match compose(&host, &file, &project, COMPOSE_STALL) {
                    Some(t) => report(&format!("docker-compose: 100 services, run {i}"), 100, t),
                    None => {
                        clean_compose(&engine, &project).await;
                        stalls += 1;
                        println!("docker-compose: 100 services, run {i}: stalled (> {COMPOSE_STALL:?})");
                    }
                }
            }
            println!("docker-compose: {stalls} stalls in {n} runs of 100 services");
        }
        if runs == 0 {
            return;
        }
        let mut ups = Vec::new();
        let mut downs = Vec::new();
        let mut cpus = Vec::new();
        let mut stalls = 0;
        for i in 0..runs {
            match shipcore_run(&projects, &file, &format!("{tag}-s{i}")).await {
                Some(t) => {
                    ups.push(t.up);
                    downs.push(t.down);
                    cpus.push(t.cpu);
                }
                None => stalls += 1,
            }
        }
        let (mu, md) = (median(ups.clone()), median(downs.clone()));
        let slow = ups.iter().filter(|u| **u > mu * 2).count();
        println!(
            "shipcore: 100 services, {runs} runs: bring-up median {:.2} s ({:.1}/s), min {:.2}, max {:.2}; tear-down median {:.2} s; client cpu median {:.2} s; {stalls} stalls, {slow} runs over twice the median",
            mu.as_secs_f64(),
            rate(100, mu),
            ups.iter().min().map_or(0.0, |d| d.as_secs_f64()),
            ups.iter().max().map_or(0.0, |d| d.as_secs_f64()),
            md.as_secs_f64(),
            median(cpus).as_secs_f64(),
        );
        let left = leftovers(&engine, &format!("io.shipcore.compose={tag}")).await;
        assert_eq!(left, 0, "containers left behind");
    });
}
