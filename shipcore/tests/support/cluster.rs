//! A tiny text language for scheduler test cases, shared by the table tests
//! and the property tests.
//!
//! Engine lines: `e1 cpu=4 mem=4096 label=ssd label=zone=a down run=NAME:IMAGE:MEM[:PORT]`.
//! Request lines: `image=redis cpu=0.5 mem=512 type=unique labels=ssd,zone==a
//! strategy=binpack|spread|random:SEED replicas=3 port=80 name=web`.
#![allow(dead_code, clippy::unwrap_used)]

use shipcore::model::{ContainerType, Health, Proto};
use shipcore::sched::{
    millicpus, reference, ClusterIndex, EngineSnapshot, Footprint, HostPort, Placement, Request,
    Snapshot, Strategy, Unplaceable,
};

pub fn cluster(text: &str) -> Snapshot {
    let engines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut words = line.split_whitespace();
            let mut e = EngineSnapshot {
                id: words.next().unwrap().to_string(),
                health: Health::Healthy,
                cpus: 4000,
                memory: 4096,
                ..EngineSnapshot::default()
            };
            for w in words {
                let (k, v) = w.split_once('=').unwrap_or((w, ""));
                match k {
                    "cpu" => e.cpus = millicpus(v.parse().unwrap()),
                    "mem" => e.memory = v.parse().unwrap(),
                    "label" => e.labels.push(v.to_string()),
                    "image" => e.images.push(v.to_string()),
                    "down" => e.health = Health::Unhealthy,
                    "run" => {
                        let parts: Vec<&str> = v.split(':').collect();
                        e.containers.push(Footprint {
                            name: parts[0].into(),
                            image: parts[1].into(),
                            memory: parts[2].parse().unwrap(),
                            ports: parts
                                .get(3)
                                .map(|p| vec![HostPort::new("", Proto::Tcp, p.parse().unwrap())])
                                .unwrap_or_default(),
                            ..Footprint::default()
                        });
                    }
                    _ => panic!("unknown engine word {w}"),
                }
            }
            e
        })
        .collect();
    Snapshot { engines }
}

pub fn request(text: &str) -> Request {
    let mut r = Request::new("busybox", 100, 64);
    for w in text.split_whitespace() {
        let (k, v) = w.split_once('=').unwrap();
        match k {
            "image" => r.footprint.image = v.into(),
            "name" => r.footprint.name = v.into(),
            "cpu" => r.footprint.cpus = millicpus(v.parse().unwrap()),
            "mem" => r.footprint.memory = v.parse().unwrap(),
            "replicas" => r.replicas = v.parse().unwrap(),
            "port" => r
                .footprint
                .ports
                .push(HostPort::new("", Proto::Tcp, v.parse().unwrap())),
            "labels" => v.split(',').for_each(|l| r.add_label(l).unwrap()),
            "type" => {
                r.kind = match v {
                    "service" => ContainerType::Service,
                    "unique" => ContainerType::Unique,
                    "host" => ContainerType::Host,
                    "global" => ContainerType::Global,
                    _ => panic!("type {v}"),
                }
            }
            "strategy" => {
                r.strategy = match v.split_once(':') {
                    Some(("random", seed)) => Strategy::Random {
                        seed: seed.parse().unwrap(),
                    },
                    _ => v.parse().unwrap(),
                }
            }
            _ => panic!("unknown request word {w}"),
        }
    }
    r
}

/// Renders a decision as text: `e1 e2 e1` (`e2(img)`: it holds the image),
/// with ` | skipped e3: reason` for
/// global requests, or the unplaceable message.
pub fn render(d: &Result<Placement, Unplaceable>) -> String {
    match d {
        Ok(p) => {
            let mut s = p
                .assignments
                .iter()
                .map(|a| {
                    if a.holds_image {
                        format!("{}(img)", a.engine)
                    } else {
                        a.engine.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
            for r in &p.skipped {
                s.push_str(&format!(" | skipped {r}"));
            }
            s
        }
        Err(u) => format!("unplaceable: {u}"),
    }
}

/// Places with both implementations, asserts they agree, and renders the
/// decision. The snapshot is committed to when the request fits.
pub fn place_both(snapshot: &mut Snapshot, index: &mut ClusterIndex, req: &Request) -> String {
    let planned = index.plan(req);
    let by_index = index.place(req);
    assert_eq!(planned, by_index, "plan and place disagree");
    let by_reference = reference::place(snapshot, req);
    assert_eq!(
        by_index, by_reference,
        "index and reference disagree on {req:?}"
    );
    render(&by_index)
}
