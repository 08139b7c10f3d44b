//! Loads a generated cluster (10k engines by default) into the indexed
//! scheduler, places a mix of realistic requests, prints a few decisions, an
//! explanation of a request that cannot be placed, and the throughput.
//!
//! Run: `cargo run --release --example place -- [--engines N] [--requests M]`.
//!
//! With `--guard` it is instead the short placement bench that
//! `scripts/bench-guard` runs: the indexed `plan` at 10k and 100k engines
//! (and at 100k with engines holding images, for image locality), the
//! reference scan at 10k and this example's fill, in interleaved rounds, and
//! the ratios between them checked against bounds. Ratios measured in one
//! run survive a noisy machine where absolute rates do not. It prints every
//! figure and exits 1 naming each ratio out of bounds.

use std::time::{Duration, Instant};

use shipcore::sched::{reference, ClusterIndex, Request, Snapshot};
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
    if std::env::args().any(|a| a == "--guard") {
        return guard();
    }
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

    let fill = fill(&mut index, &requests, n);
    let (rc, rm, c, m) = index.totals();
    println!(
        "\nplaced {} containers ({} requests refused) in {:.2}s: {:.0} placements/s",
        fill.placed,
        fill.refused,
        fill.secs,
        fill.rate()
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

/// What a fill did: `place` of `requests` in turn until `n` were asked.
struct Fill {
    asked: usize,
    placed: usize,
    refused: usize,
    secs: f64,
}

impl Fill {
    /// Requests decided per second (placed or refused with an explanation).
    fn rate(&self) -> f64 {
        self.asked as f64 / self.secs
    }
}

fn fill(index: &mut ClusterIndex, requests: &[Request], n: usize) -> Fill {
    let t = Instant::now();
    let (mut placed, mut refused) = (0usize, 0usize);
    for r in requests.iter().cycle().take(n) {
        match index.place(r) {
            Ok(p) => placed += p.assignments.len(),
            Err(_) => refused += 1,
        }
    }
    Fill {
        asked: n,
        placed,
        refused,
        secs: t.elapsed().as_secs_f64(),
    }
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

/// Rounds of the guard; each figure is its best round (noise only slows).
const ROUNDS: usize = 5;
/// How long one round of an indexed `plan` figure runs.
const PLAN_TIME: Duration = Duration::from_millis(150);
/// The fill measured, as the example runs it by default.
const FILL: usize = 200_000;

/// `plan` of the whole batch, over and over for `PLAN_TIME`: placements/s.
fn plan_rate(index: &mut ClusterIndex, requests: &[Request]) -> f64 {
    let t = Instant::now();
    let mut n = 0usize;
    while t.elapsed() < PLAN_TIME {
        for r in requests {
            let _ = std::hint::black_box(index.plan(r));
        }
        n += requests.len();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

/// The reference scan's `plan` of the whole batch once: placements/s.
fn reference_rate(snapshot: &Snapshot, requests: &[Request]) -> f64 {
    let t = Instant::now();
    for r in requests {
        let _ = std::hint::black_box(reference::plan(snapshot, r));
    }
    requests.len() as f64 / t.elapsed().as_secs_f64()
}

/// One bound on a ratio of two figures of the same run.
struct Check {
    name: &'static str,
    ratio: f64,
    /// The ratio must be at least this (`true`) or at most this (`false`).
    at_least: bool,
    bound: f64,
    why: &'static str,
}

impl Check {
    fn holds(&self) -> bool {
        if self.at_least {
            self.ratio >= self.bound
        } else {
            self.ratio <= self.bound
        }
    }

    fn bound_text(&self) -> String {
        let op = if self.at_least { "≥" } else { "≤" };
        format!("{op} {}×", figure(self.bound))
    }
}

/// A number as people read it: `1,234,567` or `1.23`.
fn figure(x: f64) -> String {
    if x >= 100.0 {
        let digits = format!("{x:.0}");
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else {
        format!("{x:.2}")
    }
}

fn guard() -> Result<(), Box<dyn std::error::Error>> {
    let requests = synth::requests(256, 7);
    let fill_requests = synth::requests(4096, 7);
    let small = synth::cluster(10_000, 42);
    let large = synth::cluster(100_000, 42);
    let mut holding = large.clone();
    synth::hold_images(&mut holding, 42);
    let mut small_index = ClusterIndex::new(&small)?;
    let mut large_index = ClusterIndex::new(&large)?;
    let mut holding_index = ClusterIndex::new(&holding)?;
    drop(holding);
    let (mut plan10k, mut plan100k, mut images100k) = (0f64, 0f64, 0f64);
    let (mut scan10k, mut fill10k) = (0f64, 0f64);
    let mut refused = 0;
    for _ in 0..ROUNDS {
        plan10k = plan10k.max(plan_rate(&mut small_index, &requests));
        plan100k = plan100k.max(plan_rate(&mut large_index, &requests));
        images100k = images100k.max(plan_rate(&mut holding_index, &requests));
        scan10k = scan10k.max(reference_rate(&small, &requests));
        let mut fresh = small_index.clone();
        let f = fill(&mut fresh, &fill_requests, FILL);
        refused = f.refused;
        fill10k = fill10k.max(f.rate());
    }
    println!(
        "bench-guard: placement figures (src/synth.rs's clusters and mix, best of {ROUNDS} rounds)"
    );
    for (what, rate) in [
        ("indexed plan, 10k engines", plan10k),
        ("indexed plan, 100k engines", plan100k),
        ("indexed plan, 100k engines holding images", images100k),
        ("reference scan plan, 10k engines", scan10k),
        ("place fill, 10k engines (examples/place)", fill10k),
    ] {
        println!("  {what:<44} {:>12} placements/s", figure(rate));
    }
    println!("  (the fill refused {refused} of {FILL} requests)");
    let checks = [
        Check {
            name: "indexed plan / reference scan, 10k engines",
            ratio: plan10k / scan10k,
            at_least: true,
            bound: 1000.0,
            why: "the index must stay an index, not a scan",
        },
        Check {
            name: "time per plan, 100k / 10k engines",
            ratio: plan10k / plan100k,
            at_least: false,
            bound: 1.5,
            why: "ten times the engines must not cost per placement",
        },
        Check {
            name: "time per plan, images held / none, 100k",
            ratio: plan100k / images100k,
            at_least: false,
            bound: 3.0,
            why: "image locality must stay indexed, not a pass over the ties",
        },
        Check {
            name: "place fill / indexed plan, 10k engines",
            ratio: fill10k / plan10k,
            at_least: true,
            bound: 0.15,
            why: "a fill placement, commit included, within ~7 plans",
        },
    ];
    let mut failed = Vec::new();
    println!("bench-guard: ratios measured in this run");
    for c in &checks {
        let verdict = if c.holds() { "ok" } else { "FAILED" };
        println!(
            "  {:<44} {:>10}×  (must be {}: {})  {verdict}",
            c.name,
            figure(c.ratio),
            c.bound_text(),
            c.why
        );
        if !c.holds() {
            failed.push(c);
        }
    }
    for c in &failed {
        eprintln!(
            "bench-guard: FAILED: {} is {}×, must be {}",
            c.name,
            figure(c.ratio),
            c.bound_text()
        );
    }
    if !failed.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}
