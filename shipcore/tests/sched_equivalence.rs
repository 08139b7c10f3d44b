//! Property test: the indexed scheduler and the reference scan give the same
//! decision (placement or full explanation) for random clusters and random
//! sequences of requests and cluster changes (containers going away, engines
//! changing health, added and removed), and `plan` never changes what
//! `place` then decides. A second property does the same on wide clusters of
//! identical engines, where many engines are as free as the best and an
//! image is held by more engines than the index visits one by one, so image
//! locality is decided by walking the ties.
#![allow(clippy::unwrap_used)]

mod support {
    pub mod cluster;
}
use proptest::prelude::*;
use shipcore::model::{ContainerType, Health, Proto};
use shipcore::sched::{
    ClusterIndex, EngineSnapshot, Footprint, HostPort, Request, Snapshot, Strategy as Placer,
};
use support::cluster::{place_both, render};

const LABELS: [&str; 5] = ["ssd", "zone=a", "zone=b", "gpu", "env=prod"];
const IMAGES: [&str; 3] = ["redis", "web", "db"];
const NAMES: [&str; 3] = ["", "api", "cache"];
const PORTS: [u16; 3] = [80, 443, 8080];
const IPS: [&str; 3] = ["", "127.0.0.1", "10.0.0.1"];

fn footprint() -> impl Strategy<Value = Footprint> {
    (
        0..3usize,
        0..3usize,
        0..4usize,
        0..4usize,
        0..3usize,
        0u64..1500,
        0u64..1500,
        any::<bool>(),
    )
        .prop_map(
            |(img, name, port, ip, lbl, cpus, memory, labelled)| Footprint {
                name: NAMES[name].into(),
                image: IMAGES[img].into(),
                labels: if labelled {
                    [("tier".to_string(), ["front", "back", "db"][lbl].to_string())].into()
                } else {
                    Default::default()
                },
                ports: PORTS
                    .get(port)
                    .map(|p| vec![HostPort::new(IPS[ip % 3], Proto::Tcp, *p)])
                    .unwrap_or_default(),
                cpus,
                memory,
            },
        )
}

fn engine(i: usize) -> impl Strategy<Value = EngineSnapshot> {
    (
        proptest::collection::vec(0..LABELS.len(), 0..3),
        prop_oneof![8 => Just(Health::Healthy), 1 => Just(Health::Unhealthy), 1 => Just(Health::Unknown)],
        1u64..8,
        prop_oneof![Just(1024u64), Just(2048), Just(4096), 256u64..8192],
        proptest::collection::vec(footprint(), 0..4),
        proptest::collection::vec((0..IMAGES.len(), any::<bool>()), 0..3),
    )
        .prop_map(move |(labels, health, cpus, memory, containers, images)| EngineSnapshot {
            id: format!("e{i}"),
            labels: labels.into_iter().map(|l| LABELS[l].to_string()).collect(),
            health,
            cpus: cpus * 1000,
            memory,
            containers,
            // Held images, named as engines list them or as requests do.
            images: images
                .into_iter()
                .map(|(i, tagged)| {
                    if tagged {
                        format!("{}:latest", IMAGES[i])
                    } else {
                        IMAGES[i].to_string()
                    }
                })
                .collect(),
        })
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    (1usize..24).prop_flat_map(|n| {
        (0..n)
            .map(engine)
            .collect::<Vec<_>>()
            .prop_map(|engines| Snapshot { engines })
    })
}

fn request(engines: usize) -> impl Strategy<Value = Request> {
    (
        (
            footprint(),
            prop_oneof![
                Just(ContainerType::Service),
                Just(ContainerType::Unique),
                Just(ContainerType::Host),
                Just(ContainerType::Global)
            ],
        ),
        proptest::collection::vec(0..9usize, 0..3),
        (0..engines + 1),
        prop_oneof![
            Just(Placer::Spread),
            Just(Placer::Binpack),
            any::<u64>().prop_map(|seed| Placer::Random { seed })
        ],
        1u32..5,
    )
        .prop_map(|((footprint, kind), rules, host, strategy, replicas)| {
            let mut r = Request {
                footprint,
                kind,
                strategy,
                replicas,
                ..Request::default()
            };
            r.footprint.cpus /= 2;
            r.footprint.memory = r.footprint.memory.max(1);
            for rule in rules {
                let label = [
                    "ssd",
                    "zone==a",
                    "zone!=b",
                    "gpu",
                    "affinity:image==redis",
                    "affinity:image!=web",
                    "affinity:container==api",
                    "affinity:tier==front",
                    "affinity:tier!=db",
                ][rule];
                r.add_label(label).unwrap();
            }
            if kind == ContainerType::Host {
                // One past the last engine names an engine that does not exist.
                r.host = Some(format!("e{host}"));
            }
            r
        })
}

/// One step of a case: a request, or a change to the cluster that the
/// index is kept current with.
#[derive(Debug, Clone)]
enum Step {
    Place(Request),
    /// A container (engine, index among its containers) goes away.
    Forget(usize, usize),
    Health(usize, Health),
    Add(EngineSnapshot),
    Remove(usize),
}

fn step(engines: usize) -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => request(engines).prop_map(Step::Place),
        2 => (0..32usize, 0..8usize).prop_map(|(e, k)| Step::Forget(e, k)),
        1 => (0..32usize, prop_oneof![Just(Health::Healthy), Just(Health::Unhealthy), Just(Health::Unknown)])
            .prop_map(|(e, h)| Step::Health(e, h)),
        1 => engine(0).prop_map(Step::Add),
        1 => (0..32usize).prop_map(Step::Remove),
    ]
}

fn case() -> impl Strategy<Value = (Snapshot, Vec<Step>)> {
    snapshot().prop_flat_map(|s| {
        let n = s.engines.len();
        (Just(s), proptest::collection::vec(step(n), 1..12))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn indexed_equals_reference((mut snapshot, steps) in case()) {
        let mut index = ClusterIndex::new(&snapshot).unwrap();
        let mut added = 0;
        // Once an engine is removed, the index keeps its slot and the
        // snapshot does not: decisions are compared by engine, and the
        // `random` walk (which depends on slots) is left out.
        let mut removed = false;
        for step in steps {
            match step {
                Step::Place(mut req) if removed => {
                    if matches!(req.strategy, Placer::Random { .. }) {
                        req.strategy = Placer::Spread;
                    }
                    let by_index = render(&index.place(&req));
                    let by_reference = render(&shipcore::sched::reference::place(&mut snapshot, &req));
                    prop_assert_eq!(by_index, by_reference);
                }
                // place_both asserts index == reference and plan == place.
                Step::Place(req) => {
                    place_both(&mut snapshot, &mut index, &req);
                }
                Step::Forget(e, k) => {
                    let Some(engine) = snapshot.engines.get_mut(e % 32) else { continue };
                    if k < engine.containers.len() {
                        let fp = engine.containers.remove(k);
                        index.remove_container(&engine.id, &fp).unwrap();
                    }
                }
                Step::Health(e, h) => {
                    let Some(engine) = snapshot.engines.get_mut(e) else { continue };
                    engine.health = h;
                    index.set_health(&engine.id, h).unwrap();
                }
                Step::Add(mut engine) => {
                    added += 1;
                    engine.id = format!("added{added}");
                    index.add_engine(&engine).unwrap();
                    snapshot.engines.push(engine);
                }
                Step::Remove(e) => {
                    if e < snapshot.engines.len() {
                        let engine = snapshot.engines.remove(e);
                        index.remove_engine(&engine.id).unwrap();
                        removed = true;
                    }
                }
            }
        }
        // And after all the changes, both agree on the totals.
        let (rc, rm, _, _) = index.totals();
        let want_cpus: u64 = snapshot.engines.iter().map(|e| e.reserved_cpus()).sum();
        let want_mem: u64 = snapshot.engines.iter().map(|e| e.reserved_memory()).sum();
        prop_assert_eq!((rc, rm), (want_cpus, want_mem));
    }
}

/// A wide cluster: 40 to 120 engines of one size, in three label sets, each
/// running none, one or two identical containers (so engines tie in groups)
/// and holding each image with even odds.
fn wide() -> impl Strategy<Value = Snapshot> {
    proptest::collection::vec((0..3usize, 0..3usize, 0u8..8), 40..120).prop_map(|engines| {
        let engines = engines
            .into_iter()
            .enumerate()
            .map(|(i, (labels, running, held))| EngineSnapshot {
                id: format!("w{i}"),
                labels: [vec![], vec!["ssd".to_string()], vec!["zone=a".to_string()]][labels]
                    .clone(),
                health: Health::Healthy,
                cpus: 4000,
                memory: 4096,
                containers: (0..running)
                    .map(|_| Footprint {
                        image: "db".into(),
                        cpus: 100,
                        memory: 256,
                        ..Footprint::default()
                    })
                    .collect(),
                images: (0..IMAGES.len())
                    .filter(|b| held & (1 << b) != 0)
                    .map(|b| IMAGES[b].to_string())
                    .collect(),
            })
            .collect();
        Snapshot { engines }
    })
}

fn wide_request() -> impl Strategy<Value = Request> {
    (
        0..IMAGES.len(),
        prop_oneof![Just(Placer::Spread), Just(Placer::Binpack)],
        prop_oneof![Just(""), Just("ssd"), Just("zone==a"), Just("zone!=a")],
        any::<bool>(),
        prop_oneof![Just(256u64), Just(512)],
        1u32..4,
    )
        .prop_map(|(image, strategy, label, unique, memory, replicas)| {
            let mut r = Request::new(IMAGES[image], 100, memory);
            r.strategy = strategy;
            r.replicas = replicas;
            if unique {
                r.kind = ContainerType::Unique;
            }
            if !label.is_empty() {
                r.add_label(label).unwrap();
            }
            r
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn wide_ties_equal_reference(
        mut snapshot in wide(),
        requests in proptest::collection::vec(wide_request(), 1..12),
    ) {
        let mut index = ClusterIndex::new(&snapshot).unwrap();
        for req in &requests {
            // place_both asserts index == reference and plan == place.
            place_both(&mut snapshot, &mut index, req);
        }
    }
}
