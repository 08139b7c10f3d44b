//! The conformance suite: the checks every [`Store`] implementation must pass.
//!
//! It is compiled in normal builds so integration tests, and crates holding
//! other backends, can run it unchanged. It is test code: a failed check
//! panics with a message naming what went wrong.

#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::{
    get_json, put_json, Change, ChangeKind, ChangeStream, Expect, Op, Page, Store, MAX_BATCH_BYTES,
    MAX_BATCH_OPS,
};
use crate::Error;

/// How long a case waits for a change before deciding it will never come.
const PATIENCE: Duration = Duration::from_secs(30);

/// How long a case waits to be confident no further change is coming.
const QUIET: Duration = Duration::from_millis(50);

/// Runs every case, each against a fresh empty store from `make`.
///
/// It spawns tasks, so it must run inside a tokio runtime; a multi-threaded
/// one makes the concurrent cases meaningful.
pub async fn run_conformance<S, F, Fut>(make: F)
where
    S: Store + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    put_and_get(make().await).await;
    revisions(make().await).await;
    compare_and_swap(make().await).await;
    delete(make().await).await;
    list(make().await).await;
    replay(make().await).await;
    live_after_replay(make().await).await;
    compaction(make().await).await;
    json(make().await).await;
    batches(make().await).await;
    batch_limits(make().await).await;
    batch_changes(make().await).await;
    pages(make().await).await;
    concurrent_writers(make().await).await;
}

/// Many writers at once (which a store may commit together): each write
/// gets its own revision, compare-and-swaps never lose an update, exactly
/// one "create if absent" wins, a refused write in the crowd changes
/// nothing, and a watcher sees every change once, in revision order.
async fn concurrent_writers<S: Store + 'static>(store: S) {
    const WRITERS: u64 = 24;
    const TURNS: u64 = 8;
    let store = Arc::new(store);
    let mut stream = store.changes("w/", 0).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut revisions = Vec::new();
            for t in 0..TURNS {
                revisions.push(put(&*store, &format!("w/{w}/{t}"), "v").await);
                // An increment by compare-and-swap, tried until it lands.
                loop {
                    let current = store.get("w/counter").await.unwrap();
                    let (n, expect) = match current {
                        Some(v) => (
                            String::from_utf8(v.value).unwrap().parse::<u64>().unwrap(),
                            Expect::Revision(v.revision),
                        ),
                        None => (0, Expect::Absent),
                    };
                    let value = (n + 1).to_string().into_bytes();
                    match store.put("w/counter", value, expect).await {
                        Ok(r) => {
                            revisions.push(r);
                            break;
                        }
                        Err(Error::Conflict { .. }) => continue,
                        Err(e) => panic!("increment: {e}"),
                    }
                }
                // Always refused: the key is never made.
                assert!(matches!(
                    store
                        .put("w/never", b"x".to_vec(), Expect::Revision(1))
                        .await,
                    Err(Error::Conflict { .. })
                ));
            }
            let won = match store
                .put("w/once", w.to_string().into_bytes(), Expect::Absent)
                .await
            {
                Ok(r) => {
                    revisions.push(r);
                    true
                }
                Err(Error::Conflict { .. }) => false,
                Err(e) => panic!("create if absent: {e}"),
            };
            (revisions, won)
        }));
    }
    let mut all = Vec::new();
    let mut winners = 0;
    for t in tasks {
        let (revisions, won) = t.await.unwrap();
        all.extend(revisions);
        winners += u64::from(won);
    }
    assert_eq!(winners, 1, "exactly one create-if-absent wins");
    let counter = store.get("w/counter").await.unwrap().unwrap();
    assert_eq!(counter.value, (WRITERS * TURNS).to_string().into_bytes());
    assert_eq!(store.get("w/never").await.unwrap(), None);
    let total = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), total, "every write has its own revision");
    let mut seen = Vec::new();
    for _ in 0..total {
        seen.push(next(&mut stream).await.revision);
    }
    assert_eq!(seen, all, "the watcher sees every change once, in order");
    assert_quiet(&mut stream).await;
}

async fn put(store: &impl Store, key: &str, value: &str) -> u64 {
    store
        .put(key, value.as_bytes().to_vec(), Expect::Any)
        .await
        .unwrap()
}

/// The next change of `stream`, failing the case if it ends, errs or stalls.
async fn next(stream: &mut ChangeStream) -> Change {
    match tokio::time::timeout(PATIENCE, stream.next()).await {
        Ok(Some(Ok(change))) => change,
        Ok(Some(Err(e))) => panic!("change stream failed: {e}"),
        Ok(None) => panic!("change stream ended early"),
        Err(_) => panic!("no change arrived within {PATIENCE:?}"),
    }
}

async fn assert_quiet(stream: &mut ChangeStream) {
    if let Ok(item) = tokio::time::timeout(QUIET, stream.next()).await {
        panic!("change stream should have nothing more, got {item:?}");
    }
}

fn assert_conflict<T: std::fmt::Debug>(
    result: crate::Result<T>,
    key: &str,
    expected: u64,
    actual: u64,
) {
    match result {
        Err(Error::Conflict {
            key: k,
            expected: e,
            actual: a,
        }) => assert_eq!(
            (k.as_str(), e, a),
            (key, expected, actual),
            "conflict fields"
        ),
        other => panic!("expected a conflict on {key}, got {other:?}"),
    }
}

fn assert_watch_lost(result: crate::Result<ChangeStream>, since: u64) {
    match result {
        Err(Error::WatchLost { revision, .. }) => assert_eq!(revision, since),
        Err(e) => panic!("expected a lost watch at {since}, got {e}"),
        Ok(_) => panic!("expected a lost watch at {since}, got a stream"),
    }
}

async fn put_and_get(store: impl Store) {
    assert_eq!(store.revision().await.unwrap(), 0, "a fresh store is at 0");
    assert_eq!(store.get("a/b").await.unwrap(), None);
    assert_eq!(put(&store, "a/b", "one").await, 1);
    let doc = store.get("a/b").await.unwrap().unwrap();
    assert_eq!(
        (doc.key.as_str(), doc.value.as_slice(), doc.revision),
        ("a/b", &b"one"[..], 1)
    );
    assert_eq!(put(&store, "a/b", "two").await, 2);
    let doc = store.get("a/b").await.unwrap().unwrap();
    assert_eq!((doc.value.as_slice(), doc.revision), (&b"two"[..], 2));
    // Empty values and unusual keys are ordinary documents.
    assert_eq!(put(&store, "ünï/cødé key", "").await, 3);
    let doc = store.get("ünï/cødé key").await.unwrap().unwrap();
    assert_eq!((doc.value.len(), doc.revision), (0, 3));
    assert!(
        matches!(
            store.put("", b"x".to_vec(), Expect::Any).await,
            Err(Error::Invalid { .. })
        ),
        "the empty key is refused"
    );
    assert_eq!(store.revision().await.unwrap(), 3);
}

async fn revisions(store: impl Store) {
    let mut expected = 0;
    for i in 0..20 {
        expected += 1;
        let key = format!("r/{}", i % 3);
        assert_eq!(
            put(&store, &key, "v").await,
            expected,
            "one revision per write"
        );
        assert_eq!(store.get(&key).await.unwrap().unwrap().revision, expected);
        assert_eq!(store.revision().await.unwrap(), expected);
    }
    // Refused writes and deletes of nothing are not writes.
    assert!(store.put("r/0", vec![], Expect::Absent).await.is_err());
    assert!(store.delete("r/0", Expect::Revision(1)).await.is_err());
    assert_eq!(store.delete("r/missing", Expect::Any).await.unwrap(), None);
    assert_eq!(store.revision().await.unwrap(), expected);
    assert_eq!(
        store.delete("r/0", Expect::Any).await.unwrap(),
        Some(expected + 1)
    );
    assert_eq!(store.revision().await.unwrap(), expected + 1);
}

async fn compare_and_swap(store: impl Store) {
    let first = store
        .put("c/k", b"1".to_vec(), Expect::Absent)
        .await
        .unwrap();
    assert_conflict(
        store.put("c/k", b"x".to_vec(), Expect::Absent).await,
        "c/k",
        0,
        first,
    );
    let second = store
        .put("c/k", b"2".to_vec(), Expect::Revision(first))
        .await
        .unwrap();
    assert_eq!(second, first + 1);
    // A stale revision loses, and changes nothing.
    assert_conflict(
        store
            .put("c/k", b"x".to_vec(), Expect::Revision(first))
            .await,
        "c/k",
        first,
        second,
    );
    assert_conflict(
        store
            .put("c/none", b"x".to_vec(), Expect::Revision(5))
            .await,
        "c/none",
        5,
        0,
    );
    let doc = store.get("c/k").await.unwrap().unwrap();
    assert_eq!((doc.value.as_slice(), doc.revision), (&b"2"[..], second));
    assert_eq!(store.get("c/none").await.unwrap(), None);
    assert_eq!(store.revision().await.unwrap(), second);
    // Revision 0 means absent.
    let third = store
        .put("c/zero", b"z".to_vec(), Expect::Revision(0))
        .await
        .unwrap();
    assert_eq!(third, second + 1);
}

async fn delete(store: impl Store) {
    assert_eq!(store.delete("d/k", Expect::Any).await.unwrap(), None);
    assert_conflict(store.delete("d/k", Expect::Revision(3)).await, "d/k", 3, 0);
    let first = put(&store, "d/k", "v").await;
    assert_eq!(
        store.delete("d/k", Expect::Any).await.unwrap(),
        Some(first + 1)
    );
    assert_eq!(store.get("d/k").await.unwrap(), None);

    let put_at = put(&store, "d/k", "again").await;
    assert_eq!(put_at, first + 2, "a deleted key can be written again");
    let updated = put(&store, "d/k", "later").await;
    assert_conflict(
        store.delete("d/k", Expect::Revision(put_at)).await,
        "d/k",
        put_at,
        updated,
    );
    assert_conflict(store.delete("d/k", Expect::Absent).await, "d/k", 0, updated);
    assert!(
        store.get("d/k").await.unwrap().is_some(),
        "a refused delete keeps the key"
    );
    assert_eq!(
        store
            .delete("d/k", Expect::Revision(updated))
            .await
            .unwrap(),
        Some(updated + 1)
    );
    assert_eq!(store.get("d/k").await.unwrap(), None);
    assert_eq!(
        store.put("d/k", vec![], Expect::Absent).await.unwrap(),
        updated + 2
    );
}

async fn list(store: impl Store) {
    for key in ["a/2", "b/1", "a/10", "ab/1", "a", "a/1", "a/gone"] {
        put(&store, key, key).await;
    }
    store.delete("a/gone", Expect::Any).await.unwrap();
    let listed = store.list("a/").await.unwrap();
    let keys: Vec<_> = listed.iter().map(|doc| doc.key.as_str()).collect();
    assert_eq!(
        keys,
        ["a/1", "a/10", "a/2"],
        "only the prefix, sorted by key"
    );
    for doc in &listed {
        assert_eq!(doc.value, doc.key.as_bytes());
        assert_eq!(Some(doc), store.get(&doc.key).await.unwrap().as_ref());
    }
    let all: Vec<_> = store
        .list("")
        .await
        .unwrap()
        .into_iter()
        .map(|doc| doc.key)
        .collect();
    assert_eq!(all, ["a", "a/1", "a/10", "a/2", "ab/1", "b/1"]);
    assert!(store.list("zzz").await.unwrap().is_empty());
    assert_eq!(store.list("a/1").await.unwrap().len(), 2);
}

async fn replay(store: impl Store) {
    put(&store, "x/1", "a").await; // 1
    put(&store, "x/2", "b").await; // 2
    store.delete("x/1", Expect::Any).await.unwrap(); // 3
    put(&store, "y/1", "c").await; // 4
    put(&store, "x/3", "d").await; // 5

    let mut stream = store.changes("x/", 0).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(next(&mut stream).await);
    }
    let put_of = |revision, key: &str, value: &str| Change {
        revision,
        key: key.to_owned(),
        kind: ChangeKind::Put {
            value: value.as_bytes().to_vec(),
        },
    };
    let deleted = Change {
        revision: 3,
        key: "x/1".to_owned(),
        kind: ChangeKind::Delete,
    };
    assert_eq!(
        seen,
        [
            put_of(1, "x/1", "a"),
            put_of(2, "x/2", "b"),
            deleted,
            put_of(5, "x/3", "d")
        ]
    );
    assert_quiet(&mut stream).await;

    let mut middle = store.changes("", 2).await.unwrap();
    let revisions = [
        next(&mut middle).await,
        next(&mut middle).await,
        next(&mut middle).await,
    ]
    .map(|change| change.revision);
    assert_eq!(revisions, [3, 4, 5], "replay starts after since");
    assert_quiet(&mut middle).await;

    // The replayed streams go on with live changes, still filtered.
    put(&store, "y/2", "e").await; // 6
    put(&store, "x/4", "f").await; // 7
    assert_eq!(next(&mut stream).await, put_of(7, "x/4", "f"));
    assert_eq!(next(&mut middle).await.revision, 6);
    assert_eq!(next(&mut middle).await.revision, 7);
    let mut ahead = store.changes("", 7).await.unwrap();
    assert_quiet(&mut ahead).await;
}

async fn live_after_replay<S: Store + 'static>(store: S) {
    let store = Arc::new(store);
    for i in 0..50 {
        put(&*store, &format!("live/{i:03}"), "early").await;
    }
    // The writer races with the opening of the streams below, so the boundary
    // between replay and live falls somewhere in its writes.
    let writer = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut live_revisions = Vec::new();
            for i in 0..200 {
                let value = format!("w{i}").into_bytes();
                let key = format!("live/w{i:03}");
                live_revisions.push(store.put(&key, value, Expect::Any).await.unwrap());
                if i % 4 == 0 {
                    put(&*store, &format!("other/{i}"), "noise").await;
                }
                tokio::task::yield_now().await;
            }
            live_revisions
        })
    };
    // A watcher opens many more streams while the writer runs, each a little
    // behind the current revision, so that some open just as a write commits:
    // the moment where replay and live can overlap or leave a gap.
    let watcher = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut streams = Vec::new();
            for _ in 0..64 {
                let since = store.revision().await.unwrap().saturating_sub(2);
                streams.push((since, store.changes("", since).await.unwrap()));
                tokio::task::yield_now().await;
            }
            streams
        })
    };
    let mut everything = store.changes("", 0).await.unwrap();
    let mut filtered = store.changes("live/", 20).await.unwrap();

    let total = 50 + 200 + 50;
    for expected in 1..=total {
        let change = next(&mut everything).await;
        assert_eq!(change.revision, expected, "no gap and no duplicate");
    }
    let live_revisions = writer.await.unwrap();
    let wanted: Vec<u64> = (21..=50).chain(live_revisions).collect();
    let mut got = Vec::new();
    for _ in 0..wanted.len() {
        let change = next(&mut filtered).await;
        assert!(
            change.key.starts_with("live/"),
            "{} is outside the prefix",
            change.key
        );
        got.push(change.revision);
    }
    assert_eq!(got, wanted, "every matching change exactly once, in order");
    assert_quiet(&mut everything).await;
    assert_quiet(&mut filtered).await;

    // One more write marks the end: every watcher stream must reach it
    // through consecutive revisions.
    let last = put(&*store, "live/last", "end").await;
    for (since, mut stream) in watcher.await.unwrap() {
        for expected in since + 1..=last {
            let change = next(&mut stream).await;
            assert_eq!(
                change.revision, expected,
                "stream opened at {since}: no gap and no duplicate"
            );
        }
    }
}

async fn compaction(store: impl Store) {
    for i in 0..10 {
        put(&store, &format!("k/{i}"), "v").await;
    }
    store.compact(5).await.unwrap();
    assert_eq!(
        store.revision().await.unwrap(),
        10,
        "compaction is not a write"
    );
    assert_watch_lost(store.changes("", 0).await, 0);
    assert_watch_lost(store.changes("k/", 4).await, 4);
    let mut stream = store.changes("", 5).await.unwrap();
    for expected in 6..=10 {
        assert_eq!(next(&mut stream).await.revision, expected);
    }
    assert_quiet(&mut stream).await;
    assert_eq!(
        store.get("k/0").await.unwrap().unwrap().revision,
        1,
        "documents outlive their log entries"
    );
    assert_eq!(store.list("k/").await.unwrap().len(), 10);

    store.compact(3).await.unwrap();
    assert_watch_lost(store.changes("", 4).await, 4);
    assert!(
        store.compact(11).await.is_err(),
        "cannot compact the future"
    );
    store.compact(10).await.unwrap();
    let mut latest = store.changes("", 10).await.unwrap();
    put(&store, "k/new", "v").await;
    assert_eq!(next(&mut latest).await.revision, 11);
    assert_eq!(
        next(&mut stream).await.revision,
        11,
        "compaction leaves open streams alone"
    );
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Sample {
    name: String,
    count: u32,
}

async fn json<S: Store + 'static>(store: S) {
    // Through a trait object, which is how the rest of the crate holds a store.
    let store: Arc<dyn Store> = Arc::new(store);
    let sample = Sample {
        name: "web".to_owned(),
        count: 3,
    };
    let revision = put_json(&*store, "j/a", &sample, Expect::Absent)
        .await
        .unwrap();
    assert_eq!(
        get_json::<Sample>(&*store, "j/a").await.unwrap(),
        Some((sample, revision))
    );
    assert_eq!(get_json::<Sample>(&*store, "j/none").await.unwrap(), None);
    assert_conflict(
        put_json(&*store, "j/a", &1, Expect::Absent).await,
        "j/a",
        0,
        revision,
    );

    store
        .put("j/bad", b"not json".to_vec(), Expect::Any)
        .await
        .unwrap();
    match get_json::<Sample>(&*store, "j/bad").await {
        Err(Error::Decode { key, .. }) => assert_eq!(key, "j/bad"),
        other => panic!("expected a decode error, got {other:?}"),
    }
    let listed = store.list("j/").await.unwrap();
    assert_eq!(listed[0].json::<Sample>().unwrap().count, 3);
    assert!(matches!(
        listed[1].json::<Sample>(),
        Err(Error::Decode { .. })
    ));
}

fn put_op(key: &str, value: &str, expect: Expect) -> Op {
    Op::Put {
        key: key.to_owned(),
        value: value.as_bytes().to_vec(),
        expect,
    }
}

async fn batches(store: impl Store) {
    let first = put(&store, "b/old", "o").await;
    // One write: one new revision that every key of the batch carries.
    let rev = store
        .batch(vec![
            put_op("b/x", "1", Expect::Absent),
            put_op("b/y", "2", Expect::Any),
            Op::Delete {
                key: "b/old".into(),
                expect: Expect::Revision(first),
            },
            Op::Delete {
                key: "b/never".into(),
                expect: Expect::Any,
            },
        ])
        .await
        .unwrap();
    assert_eq!(rev, first + 1, "a batch is one revision");
    assert_eq!(store.revision().await.unwrap(), rev);
    for key in ["b/x", "b/y"] {
        assert_eq!(
            store.get(key).await.unwrap().unwrap().revision,
            rev,
            "{key}"
        );
    }
    assert_eq!(store.get("b/old").await.unwrap(), None);

    // All or nothing: the second op's condition fails, so the first is not
    // applied either, and the revision stays.
    assert_conflict(
        store
            .batch(vec![
                put_op("b/z", "3", Expect::Any),
                put_op("b/x", "again", Expect::Absent),
            ])
            .await,
        "b/x",
        0,
        rev,
    );
    assert_eq!(
        store.get("b/z").await.unwrap(),
        None,
        "nothing of a failed batch"
    );
    assert_eq!(store.revision().await.unwrap(), rev);
    // A batch that changes nothing is not a write.
    let del = Op::Delete {
        key: "b/never".into(),
        expect: Expect::Any,
    };
    assert_eq!(store.batch(vec![del]).await.unwrap(), rev);
    assert_eq!(store.batch(Vec::new()).await.unwrap(), rev);
    assert_eq!(store.revision().await.unwrap(), rev);
}

async fn batch_limits(store: impl Store) {
    let invalid = |r: crate::Result<u64>, what: &str| {
        assert!(matches!(r, Err(Error::Invalid { .. })), "{what}: {r:?}");
    };
    let many: Vec<Op> = (0..=MAX_BATCH_OPS)
        .map(|i| put_op(&format!("l/{i}"), "v", Expect::Any))
        .collect();
    invalid(store.batch(many).await, "too many ops");
    let big = "x".repeat(MAX_BATCH_BYTES / 2 + 1);
    invalid(
        store
            .batch(vec![
                put_op("l/a", &big, Expect::Any),
                put_op("l/b", &big, Expect::Any),
            ])
            .await,
        "too many bytes",
    );
    invalid(
        store
            .batch(vec![
                put_op("l/a", "1", Expect::Any),
                put_op("l/a", "2", Expect::Any),
            ])
            .await,
        "a key twice",
    );
    invalid(
        store.batch(vec![put_op("", "1", Expect::Any)]).await,
        "empty key",
    );
    invalid(
        store
            .put("l/huge", vec![0; MAX_BATCH_BYTES + 1], Expect::Any)
            .await,
        "a document over the limit",
    );
    assert_eq!(store.revision().await.unwrap(), 0, "nothing was written");
    // Exactly at the limit is fine.
    let full: Vec<Op> = (0..MAX_BATCH_OPS)
        .map(|i| put_op(&format!("l/{i:03}"), "v", Expect::Any))
        .collect();
    assert_eq!(store.batch(full).await.unwrap(), 1);
    assert_eq!(store.list("l/").await.unwrap().len(), MAX_BATCH_OPS);
}

async fn batch_changes(store: impl Store) {
    let mut replayed_later = store.changes("w/", 0).await.unwrap();
    put(&store, "w/a", "1").await;
    let rev = store
        .batch(vec![
            put_op("w/b", "2", Expect::Any),
            put_op("other/c", "3", Expect::Any),
            Op::Delete {
                key: "w/a".into(),
                expect: Expect::Any,
            },
        ])
        .await
        .unwrap();
    put(&store, "w/d", "4").await;
    // Live: every change of the batch, at its one revision, in op order.
    let got: Vec<(u64, String)> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            let c = next(&mut replayed_later).await;
            v.push((c.revision, c.key));
        }
        v
    };
    assert_eq!(
        got,
        [
            (1, "w/a".to_string()),
            (rev, "w/b".to_string()),
            (rev, "w/a".to_string()),
            (rev + 1, "w/d".to_string()),
        ]
    );
    assert_quiet(&mut replayed_later).await;
    // Replayed from the log: the same, and resuming after the batch's
    // revision skips all of it.
    let mut replay = store.changes("w/", 1).await.unwrap();
    let c = next(&mut replay).await;
    assert_eq!(
        (c.revision, c.key.as_str(), &c.kind),
        (
            rev,
            "w/b",
            &ChangeKind::Put {
                value: b"2".to_vec()
            }
        )
    );
    let c = next(&mut replay).await;
    assert_eq!(
        (c.revision, c.key.as_str(), &c.kind),
        (rev, "w/a", &ChangeKind::Delete)
    );
    assert_eq!(next(&mut replay).await.revision, rev + 1);
    let mut after = store.changes("w/", rev).await.unwrap();
    assert_eq!(next(&mut after).await.key, "w/d");
    assert_quiet(&mut after).await;
}

async fn pages(store: impl Store) {
    for k in ["p/a", "p/b", "p/c", "p/d", "p0", "o/z", "q/a"] {
        put(&store, k, "v").await;
    }
    let keys = |v: Vec<super::Versioned>| v.into_iter().map(|d| d.key).collect::<Vec<_>>();
    let page = |after, limit, reverse| Page {
        prefix: "p/",
        after,
        limit,
        reverse,
    };
    assert_eq!(
        keys(store.page(page(None, 2, false)).await.unwrap()),
        ["p/a", "p/b"]
    );
    assert_eq!(
        keys(store.page(page(Some("p/b"), 10, false)).await.unwrap()),
        ["p/c", "p/d"]
    );
    assert_eq!(
        keys(store.page(page(None, 3, true)).await.unwrap()),
        ["p/d", "p/c", "p/b"]
    );
    assert_eq!(
        keys(store.page(page(Some("p/c"), 10, true)).await.unwrap()),
        ["p/b", "p/a"]
    );
    assert_eq!(
        keys(store.page(page(Some("p/a"), 10, true)).await.unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(
        keys(store.page(page(Some("p/d"), 10, false)).await.unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(
        keys(store.page(page(None, 0, false)).await.unwrap()),
        Vec::<String>::new()
    );
    // Bounds outside the prefix clamp to it.
    assert_eq!(
        keys(store.page(page(Some("a"), 1, false)).await.unwrap()),
        ["p/a"]
    );
    assert_eq!(
        keys(store.page(page(Some("zzz"), 1, true)).await.unwrap()),
        ["p/d"]
    );
    assert_eq!(
        keys(store.page(Page::last("", 2)).await.unwrap()),
        ["q/a", "p0"]
    );
    assert_eq!(
        keys(store.page(Page::first("", 2)).await.unwrap()),
        ["o/z", "p/a"]
    );
    assert_eq!(
        keys(store.page(Page::first("nothing/", 5)).await.unwrap()),
        Vec::<String>::new()
    );
}
