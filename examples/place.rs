//! Loads a generated cluster (10k engines by default) into the indexed
//! scheduler, places a mix of realistic requests, prints a few decisions, an
//! explanation of a request that cannot be placed, and the throughput.
//!
//! Run: `cargo run --release --example place -- [--engines N] [--requests M]`.

use std::time::Instant;

use shipcore::sched::{ClusterIndex, Request};
use shipcore_workspace::synth;

fn arg(name: &str, default: usize) -> Result<usize, String> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} needs a number")),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engines = arg("--engines", 10_000)?;
    let n = arg("--requests", 200_000)?;

    let t = Instant::now();
    let snapshot = synth::cluster(engines, 42);
    let mut index = ClusterIndex::new(&snapshot)?;
    let containers: usize = snapshot.engines.iter().map(|e| e.containers.len()).sum();
    println!(
        "cluster: {} engines, {} running containers, indexed in {:.1?}",
        index.len(),
        containers,
        t.elapsed()
    );

    let requests = synth::requests(n.clamp(1, 4096), 7);
    println!("\nfirst decisions:");
    for r in requests.iter().take(6) {
        match index.plan(r) {
            Ok(p) => println!("  {:<44} -> {}", describe(r), p.assignments[0].engine),
            Err(u) => println!("  {:<44} -> unplaceable: {}", describe(r), u.summary()),
        }
    }

    let mut too_big = Request::new("bigdata", 4_000, 200_000);
    too_big.add_label("ssd")?;
    match index.plan(&too_big) {
        Ok(p) => println!("\nunexpectedly placed on {}", p.assignments[0].engine),
        Err(u) => {
            println!(
                "\na request for 200000 MiB on ssd engines:\n  {}",
                u.summary()
            );
            for r in u.refusals.iter().take(3) {
                println!("  {r}");
            }
        }
    }

    let t = Instant::now();
    let (mut placed, mut refused) = (0usize, 0usize);
    for r in requests.iter().cycle().take(n) {
        match index.place(r) {
            Ok(p) => placed += p.assignments.len(),
            Err(_) => refused += 1,
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let (rc, rm, c, m) = index.totals();
    println!(
        "\nplaced {placed} containers ({refused} requests refused) in {secs:.2}s: {:.0} placements/s",
        n as f64 / secs
    );
    println!(
        "reserved: {:.1}/{:.0} cpus, {}/{} MiB memory",
        rc as f64 / 1000.0,
        c as f64 / 1000.0,
        rm,
        m
    );
    Ok(())
}

fn describe(r: &Request) -> String {
    let rules: Vec<String> = r
        .constraints
        .iter()
        .map(ToString::to_string)
        .chain(r.affinities.iter().map(ToString::to_string))
        .collect();
    format!(
        "{} {}MiB {:?} [{}]",
        r.footprint.image,
        r.footprint.memory,
        r.strategy,
        rules.join(",")
    )
}
