//! Placement throughput: the indexed scheduler against the reference scan on
//! synthetic clusters of 1k, 10k and 100k engines, with a request mix that
//! has label constraints, memory and cpu, fixed host ports, `unique` and
//! anti-affinity (see `src/synth.rs`).
//!
//! - `plan`: a full decision per request, nothing committed (a dry run), so
//!   every sample sees the same cluster. The reference is measured this way.
//! - `churn`: `place` (decide and commit) then `remove_container` of the same
//!   container, as a cluster where containers come and go.
//! - `plan-refusals`: `plan` over the same mix with one request in a hundred
//!   that no engine can take, explained engine by engine.
//! - `plan-images`: `plan` on the same cluster with engines holding images
//!   (`synth::hold_images`), so image locality has to find a holder among
//!   the engines as free as the best.
//!
//! Run: `cargo bench --bench placement`; criterion prints `thrpt` in
//! placements per second. `scripts/bench-guard` runs a short version of
//! these (through `examples/place.rs --guard`) and checks the ratios that
//! matter, in CI.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use shipcore::sched::{reference, ClusterIndex};
use shipcore_workspace::synth;

const BATCH: usize = 256;

fn placement(c: &mut Criterion) {
    let requests = synth::requests(BATCH, 7);
    let with_refusals = synth::requests_with_refusals(BATCH, 7, 100);
    let mut group = c.benchmark_group("placement");
    group.throughput(Throughput::Elements(BATCH as u64));
    for engines in [1_000usize, 10_000, 100_000] {
        let snapshot = synth::cluster(engines, 42);
        let mut index = ClusterIndex::new(&snapshot).expect("synthetic engine ids are unique");
        let mut holding = snapshot.clone();
        synth::hold_images(&mut holding, 42);
        let mut holding = ClusterIndex::new(&holding).expect("synthetic engine ids are unique");
        group.sample_size(100);
        group.bench_with_input(
            BenchmarkId::new("indexed-plan", engines),
            &engines,
            |b, _| {
                b.iter(|| {
                    for r in &requests {
                        let _ = std::hint::black_box(index.plan(r));
                    }
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("indexed-plan-refusals", engines),
            &engines,
            |b, _| {
                b.iter(|| {
                    for r in &with_refusals {
                        let _ = std::hint::black_box(index.plan(r));
                    }
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("indexed-plan-images", engines),
            &engines,
            |b, _| {
                b.iter(|| {
                    for r in &requests {
                        let _ = std::hint::black_box(holding.plan(r));
                    }
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("indexed-churn", engines),
            &engines,
            |b, _| {
                b.iter(|| {
                    for r in &requests {
                        if let Ok(p) = index.place(r) {
                            for a in &p.assignments {
                                let _ = index.remove_container(&a.engine, &r.footprint);
                            }
                        }
                    }
                })
            },
        );
        group.sample_size(10);
        group.bench_with_input(
            BenchmarkId::new("reference-plan", engines),
            &engines,
            |b, _| {
                b.iter(|| {
                    for r in &requests {
                        let _ = std::hint::black_box(reference::plan(&snapshot, r));
                    }
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, placement);
criterion_main!(benches);
