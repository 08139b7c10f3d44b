//! Synthetic clusters and request mixes, deterministic for a seed.
//!
//! Engines carry labels of three dimensions (`zone=a..d`, `ssd`/`hdd`,
//! `env=prod|staging`), so a cluster has 16 label sets, as a real fleet has a
//! handful of machine kinds. Two in a hundred are unhealthy. Each runs up to
//! twenty containers of fifty images, a third of them holding a host port.
//! [`hold_images`] makes engines hold images as their health checks would
//! list them, for image locality.

use shipcore::model::{ContainerType, Health, Proto};
use shipcore::sched::{EngineSnapshot, Footprint, HostPort, Request, Snapshot, SplitMix, Strategy};

const ZONES: [&str; 4] = ["zone=a", "zone=b", "zone=c", "zone=d"];
const PORTS: [u16; 3] = [80, 443, 8080];

fn pick<T: Copy>(rng: &mut SplitMix, items: &[T]) -> T {
    items[rng.below(items.len() as u64) as usize]
}

/// A cluster of `engines` engines.
pub fn cluster(engines: usize, seed: u64) -> Snapshot {
    let mut rng = SplitMix::new(seed);
    let engines = (0..engines)
        .map(|i| {
            let memory = pick(&mut rng, &[16_384u64, 32_768, 65_536]);
            let cpus = pick(&mut rng, &[8_000u64, 16_000, 32_000]);
            let labels = vec![
                pick(&mut rng, &ZONES).to_string(),
                pick(&mut rng, &["ssd", "hdd"]).to_string(),
                pick(&mut rng, &["env=prod", "env=staging"]).to_string(),
            ];
            let health = if rng.below(100) < 2 {
                Health::Unhealthy
            } else {
                Health::Healthy
            };
            let containers = (0..rng.below(21))
                .map(|c| Footprint {
                    name: format!("c{i}-{c}"),
                    image: format!("app-{}", rng.below(50)),
                    ports: if rng.below(3) == 0 {
                        vec![HostPort::new("", Proto::Tcp, pick(&mut rng, &PORTS))]
                    } else {
                        Vec::new()
                    },
                    cpus: 250 * (1 + rng.below(4)),
                    memory: 128 << rng.below(5),
                    ..Footprint::default()
                })
                .collect();
            EngineSnapshot {
                id: format!("engine-{i:06}"),
                labels,
                health,
                cpus,
                memory,
                containers,
                images: Vec::new(),
            }
        })
        .collect();
    Snapshot { engines }
}

/// Makes every engine hold the images of its containers and three more
/// (pulled for containers long gone), as its health check would list them.
/// Engines that run nothing hold only those three, so the engines as free
/// as the best mostly lack the image a request asks for: locality's costly
/// case.
pub fn hold_images(snapshot: &mut Snapshot, seed: u64) {
    let mut rng = SplitMix::new(seed);
    for e in &mut snapshot.engines {
        let mut images: Vec<String> = e.containers.iter().map(|c| c.image.clone()).collect();
        images.extend((0..3).map(|_| format!("app-{}", rng.below(50))));
        images.sort_unstable();
        images.dedup();
        e.images = images;
    }
}

/// A mix of `n` requests with realistic constraints: label filters, memory
/// and cpu, fixed host ports, `unique`, anti-affinity, spread and binpack.
pub fn requests(n: usize, seed: u64) -> Vec<Request> {
    let mut rng = SplitMix::new(seed);
    (0..n)
        .map(|i| {
            let image = format!("app-{}", rng.below(50));
            let mut r = Request::new(image, 250 * (1 + rng.below(2)), 128 << rng.below(3));
            let label_err = "synthetic labels are well-formed";
            match i % 10 {
                0..=3 => r.add_label("env==prod").expect(label_err),
                4 | 5 => {
                    r.add_label("ssd").expect(label_err);
                    r.strategy = Strategy::Binpack;
                }
                6 | 7 => {
                    r.add_label(pick(&mut rng, &["zone==a", "zone==b", "zone==c"]))
                        .expect(label_err);
                    // Each service its own port, as in a real fleet.
                    let port = 9000 + (i % 1000) as u16;
                    r.footprint.ports.push(HostPort::new("", Proto::Tcp, port));
                }
                8 => r.kind = ContainerType::Unique,
                _ => {
                    let rule = format!("affinity:image!={}", r.footprint.image);
                    r.add_label(&rule).expect(label_err);
                    r.add_label("env!=staging").expect(label_err);
                }
            }
            r
        })
        .collect()
}

/// The mix of [`requests`] with one request in `every` asking for what no
/// engine has (more memory than any engine holds): such a request costs a
/// pass over every engine, because its explanation names each one's reason.
pub fn requests_with_refusals(n: usize, seed: u64, every: usize) -> Vec<Request> {
    let mut mix = requests(n, seed);
    for r in mix.iter_mut().step_by(every.max(1)) {
        r.footprint.memory = 1 << 30;
    }
    mix
}
