//! Scheduler decisions as a table: cluster, request, expected decision. Each
//! case runs on the indexed scheduler and the reference scan; both must give
//! the expected text.
#![allow(clippy::unwrap_used)]

mod support {
    pub mod cluster;
}
use shipcore::sched::ClusterIndex;
use support::cluster::{cluster, place_both, request};

/// Runs the requests one after the other (each commits) and compares each
/// decision with its line of `expected`.
fn check(engines: &str, requests: &[(&str, &str)]) {
    let mut snapshot = cluster(engines);
    let mut index = ClusterIndex::new(&snapshot).unwrap();
    for (req, want) in requests {
        let got = place_both(&mut snapshot, &mut index, &request(req));
        assert_eq!(got, *want, "request {req:?}");
    }
}

#[test]
fn spread_alternates_between_equal_engines() {
    check("e1\ne2", &[("mem=256 replicas=6", "e1 e2 e1 e2 e1 e2")]);
}

#[test]
fn spread_prefers_most_free_memory() {
    check(
        "e1 run=a:x:3000\ne2 run=b:x:1000\ne3 mem=8192",
        &[
            ("mem=512 replicas=3", "e3 e3 e3"),
            ("mem=2000", "e3"),
            ("mem=2000", "e3"),
            ("mem=2000", "e2"),
        ],
    );
}

#[test]
fn binpack_fills_one_engine_first() {
    // Equal engines tie; binpack breaks ties toward the later engine, then
    // keeps filling it because it has the least free memory.
    check(
        "e1 mem=1024\ne2 mem=1024",
        &[("mem=256 strategy=binpack replicas=6", "e2 e2 e2 e2 e1 e1")],
    );
}

#[test]
fn binpack_takes_the_tightest_fit() {
    check(
        "e1 mem=4096\ne2 mem=1024 run=a:x:512\ne3 mem=2048",
        &[
            ("mem=600 strategy=binpack", "e3"),
            ("mem=500 strategy=binpack", "e2"),
        ],
    );
}

#[test]
fn label_constraints() {
    let engines = "e1 label=ssd label=zone=a\ne2 label=zone=b\ne3 label=ssd label=zone=b";
    check(
        engines,
        &[
            ("labels=ssd replicas=4", "e1 e3 e1 e3"),
            ("labels=zone==b,ssd", "e3"),
            ("labels=zone!=b", "e1"),
            ("labels=constraint:zone==a", "e1"),
            (
                "labels=gpu",
                "unplaceable: 0/3 engines: 3 label mismatch; e1: label constraint gpu not met; \
                 e2: label constraint gpu not met; e3: label constraint gpu not met",
            ),
        ],
    );
}

#[test]
fn unique_never_doubles_up() {
    check(
        "e1\ne2 run=r:redis:64",
        &[
            ("image=redis type=unique", "e1"),
            (
                "image=redis type=unique replicas=2",
                "unplaceable: replica 1 of 2: 0/2 engines: 2 already running the image; \
                 e1: already runs a container of redis (unique); e2: already runs a container of redis (unique)",
            ),
            ("image=web type=unique replicas=2", "e2 e1"),
        ],
    );
}

#[test]
fn host_type_pins_to_one_engine() {
    check(
        "e1\ne2 mem=128",
        &[
            ("type=host labels=host:e2 mem=100", "e2"),
            (
                "type=host labels=host:e2 mem=100",
                "unplaceable: 0/2 engines: 1 insufficient memory, 1 not the requested host; \
                 e1: not the requested host e2; e2: memory 100 > free 28",
            ),
            (
                "type=host labels=host:e9",
                "unplaceable: 0/2 engines: 2 not the requested host; \
                 e1: not the requested host e9; e2: not the requested host e9",
            ),
        ],
    );
}

#[test]
fn too_big_for_every_engine() {
    check(
        "e1 mem=1024\ne2 mem=512 label=ssd\ne3 mem=256 down\ne4 cpu=0.5\ne5 label=ssd mem=1024",
        &[(
            "mem=2048 cpu=1 labels=ssd",
            "unplaceable: 0/5 engines: 2 insufficient memory, 2 label mismatch, 1 unhealthy; \
             e1: label constraint ssd not met; e2: memory 2048 > free 512; e3: engine is unhealthy; \
             e4: label constraint ssd not met; e5: memory 2048 > free 1024",
        )],
    );
}

#[test]
fn host_ports_steer_placement() {
    check(
        "e1 mem=8192 run=web:nginx:64:80\ne2",
        &[
            ("port=80", "e2"),
            (
                "port=80",
                "unplaceable: 0/2 engines: 2 port in use; e1: host port 80/tcp in use; e2: host port 80/tcp in use",
            ),
            ("port=81 replicas=2", "e1 e2"),
        ],
    );
}

#[test]
fn affinity_and_anti_affinity() {
    check(
        "e1 mem=8192\ne2 run=db:postgres:64\ne3 run=cache:redis:64",
        &[
            ("labels=affinity:container==db replicas=2", "e2 e2"),
            (
                "labels=affinity:image!=redis,affinity:image!=postgres",
                "e1",
            ),
            ("labels=affinity:image==redis", "e3"),
            (
                "labels=affinity:container==nope",
                "unplaceable: 0/3 engines: 3 affinity not met; \
                 e1: no container matching affinity:container==nope; \
                 e2: no container matching affinity:container==nope; \
                 e3: no container matching affinity:container==nope",
            ),
        ],
    );
}

#[test]
fn global_puts_one_on_every_matching_engine() {
    check(
        "e1 label=ssd\ne2\ne3 label=ssd down\ne4 label=ssd",
        &[(
            "type=global labels=ssd replicas=9",
            "e1 e4 | skipped e2: label constraint ssd not met | skipped e3: engine is unhealthy",
        )],
    );
}

#[test]
fn cpus_are_reserved_too() {
    check(
        "e1 cpu=1\ne2 cpu=0.5",
        &[
            ("cpu=0.6", "e1"),
            (
                "cpu=0.6",
                "unplaceable: 0/2 engines: 2 insufficient cpus; e1: cpus 0.6 > free 0.4; e2: cpus 0.6 > free 0.5",
            ),
        ],
    );
}

#[test]
fn random_is_deterministic_per_seed_and_uses_every_engine() {
    let engines = "e1\ne2\ne3\ne4";
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..64 {
        let req = format!("strategy=random:{seed} replicas=2");
        let mut a = cluster(engines);
        let mut ia = ClusterIndex::new(&a).unwrap();
        let first = place_both(&mut a, &mut ia, &request(&req));
        let mut b = cluster(engines);
        let mut ib = ClusterIndex::new(&b).unwrap();
        assert_eq!(first, place_both(&mut b, &mut ib, &request(&req)));
        seen.extend(first.split(' ').map(String::from));
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
}

#[test]
fn index_follows_cluster_changes() {
    let mut snapshot = cluster("e1\ne2");
    let mut index = ClusterIndex::new(&snapshot).unwrap();
    index
        .set_health("e1", shipcore::model::Health::Unhealthy)
        .unwrap();
    snapshot.engines[0].health = shipcore::model::Health::Unhealthy;
    assert_eq!(
        place_both(&mut snapshot, &mut index, &request("replicas=2")),
        "e2 e2"
    );
    let fp = request("").footprint;
    index.remove_container("e2", &fp).unwrap();
    index.remove_container("e2", &fp).unwrap();
    let (rc, rm, c, m) = index.totals();
    assert_eq!((rc, rm, c, m), (0, 0, 8000, 8192));
    index.remove_engine("e2").unwrap();
    assert_eq!(index.len(), 1);
    let err = index.place(&request("")).unwrap_err();
    assert_eq!(err.summary(), "0/1 engines: 1 unhealthy");
    assert!(index.add_container("nope", &fp).is_err());
}

#[test]
fn among_equally_free_engines_one_holding_the_image_wins() {
    // Spread: e2 holds the image and is as free as e1, so it wins the tie
    // e1 would win by order; then e1 is freer and wins, holding it or not.
    // e3 holds it too, but less free memory is not made up for by that.
    check(
        "e1\ne2 image=redis:latest\ne3 mem=1024 image=redis",
        &[
            ("image=redis mem=256", "e2(img)"),
            ("image=redis mem=256", "e1"),
            ("image=web mem=256", "e1"),
            ("image=redis mem=256", "e2(img)"),
        ],
    );
    // Binpack: the tie goes to the later engine, unless the earlier holds
    // the image.
    check(
        "e1 mem=1024 image=web\ne2 mem=1024",
        &[
            ("image=web mem=256 strategy=binpack", "e1(img)"),
            ("image=web mem=256 strategy=binpack", "e1(img)"),
            ("image=db mem=256 strategy=binpack", "e1"),
        ],
    );
}
