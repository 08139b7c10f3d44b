//! The etcd store against the test bed's 3-member etcd cluster
//! (`scripts/etcd up`, exported as SHIPCORE_ETCD): the conformance suite
//! unchanged, fencing, and no acknowledged write lost when a member dies.
//! Built with `--features etcd`; without SHIPCORE_ETCD the tests print SKIP
//! (and fail under CI=true).

#![cfg(feature = "etcd")]
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use shipcore::store::conformance::run_conformance;
use shipcore::store::{EtcdConfig, EtcdStore, Expect, Fence, Store};
use shipcore::Error;

/// One test at a time: the conformance suite counts revisions, which any
/// other write to the etcd cluster would take a share of.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The cluster's URL, or None (SKIP) when it is not up.
fn etcd() -> Option<String> {
    shipcore::testing::testbed("SHIPCORE_ETCD")
}

/// A namespace no other run or case has used.
fn namespace(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("test-{what}-{}-{nanos}/", std::process::id())
}

async fn store(url: &str, ns: &str) -> EtcdStore {
    let mut config = EtcdConfig::parse(url).unwrap();
    config.namespace = ns.to_string();
    EtcdStore::connect(&config).await.unwrap()
}

fn script(args: &[&str]) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/etcd");
    let out = Command::new(path).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "scripts/etcd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_store_conforms() {
    let Some(url) = etcd() else { return };
    let _serial = SERIAL.lock().await;
    // Each case gets a namespace of its own, so it starts as a fresh store.
    let cases = AtomicUsize::new(0);
    run_conformance(|| {
        let case = cases.fetch_add(1, Ordering::Relaxed);
        let url = url.clone();
        async move { store(&url, &namespace(&format!("conformance{case}"))).await }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_write_fails_once_the_lease_is_gone() {
    let Some(url) = etcd() else { return };
    let _serial = SERIAL.lock().await;
    let s = store(&url, &namespace("fence")).await;
    let mut client = s.client().clone();
    let lease = client.lease_grant(30, None).await.unwrap().id();
    let fence_key = format!("{}leader", namespace("fence-key"));
    let put = client
        .put(
            fence_key.clone(),
            "me",
            Some(shipcore::store::etcd_client::PutOptions::new().with_lease(lease)),
        )
        .await
        .unwrap();
    let created = put.header().unwrap().revision();
    s.set_fence(Some(Fence {
        key: fence_key.into_bytes(),
        revision: created,
    }));
    let r = s.put("k", b"1".to_vec(), Expect::Any).await.unwrap();
    assert!(s.get("k").await.unwrap().is_some());
    // The lease ends (as when its holder stops renewing it): the key goes,
    // and every fenced write is refused, whatever it is.
    client.lease_revoke(lease).await.unwrap();
    for attempt in [
        s.put("k", b"2".to_vec(), Expect::Revision(r)).await.err(),
        s.put("other", b"2".to_vec(), Expect::Any).await.err(),
        s.delete("k", Expect::Any).await.err(),
        s.batch(vec![shipcore::store::Op::Delete {
            key: "k".into(),
            expect: Expect::Any,
        }])
        .await
        .err(),
    ] {
        assert!(
            matches!(attempt, Some(Error::Unavailable { .. })),
            "{attempt:?}"
        );
    }
    assert_eq!(s.get("k").await.unwrap().unwrap().value, b"1");
    assert_eq!(s.get("other").await.unwrap(), None);
    // A conflict is still named as one under a fence that holds.
    s.set_fence(None);
    assert!(matches!(
        s.put("k", b"3".to_vec(), Expect::Absent).await,
        Err(Error::Conflict { .. })
    ));
}

/// Writers keep writing while one member is killed (kill -9) and brought
/// back; every write that was acknowledged is there afterwards, read
/// through the member that died.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_write_is_lost_when_a_member_dies() {
    let Some(url) = etcd() else { return };
    let _serial = SERIAL.lock().await;
    let ns = namespace("durability");
    let s = Arc::new(store(&url, &ns).await);
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..8 {
        let (s, stop) = (s.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut failed = 0u32;
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("ack/{w}/{i:06}");
                i += 1;
                match s.put(&key, key.clone().into_bytes(), Expect::Absent).await {
                    Ok(_) => acked.push(key),
                    // Refused or timed out while the cluster re-elects: not
                    // acknowledged, so it may or may not be there.
                    Err(_) => failed += 1,
                }
            }
            (acked, failed)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The member most writes go through is as good a victim as any: kill
    // each in turn would take longer for no more coverage.
    script(&["stop", "1"]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    script(&["start", "1"]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acked = BTreeSet::new();
    let mut failed = 0;
    for w in writers {
        let (a, f) = w.await.unwrap();
        acked.extend(a);
        failed += f;
    }
    assert!(acked.len() > 100, "the writers got on: {}", acked.len());
    // Read back through the member that died, once it has caught up
    // (a linearizable read waits for that).
    let mut config = EtcdConfig::parse(&url).unwrap();
    config.endpoints.truncate(1);
    config.namespace = ns.clone();
    let back = EtcdStore::connect(&config).await.unwrap();
    let stored: BTreeSet<String> = back
        .list("ack/")
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.key)
        .collect();
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost: {lost:?}",
        lost.len()
    );
    println!(
        "{} writes acknowledged, {failed} refused during the failure, none lost",
        acked.len()
    );
}
