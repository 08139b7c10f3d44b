//! Runs the store conformance suite against every local implementation, plus
//! the checks that only make sense for one of them (reopening a file, losing a
//! change stream to a slow reader).

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use shipcore::store::conformance::run_conformance;
use shipcore::store::{ChangeKind, DurableStore, Expect, MemoryStore, Store};
use shipcore::Error;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_conforms() {
    run_conformance(|| async { MemoryStore::new() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let cases = AtomicUsize::new(0);
    run_conformance(|| {
        let case = cases.fetch_add(1, Ordering::Relaxed);
        let path = dir.path().join(format!("case-{case}.redb"));
        async move { DurableStore::open(path).unwrap() }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_store_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    {
        let store = DurableStore::open(&path).unwrap();
        store
            .put("a/1", b"one".to_vec(), Expect::Any)
            .await
            .unwrap();
        store
            .put("a/2", b"two".to_vec(), Expect::Any)
            .await
            .unwrap();
        store.delete("a/1", Expect::Any).await.unwrap();
        store
            .put("b/1", vec![7; 100_000], Expect::Absent)
            .await
            .unwrap();
        store.compact(1).await.unwrap();
    }
    let store = DurableStore::open(&path).unwrap();
    assert_eq!(store.revision().await.unwrap(), 4);
    assert_eq!(store.get("a/1").await.unwrap(), None);
    let doc = store.get("a/2").await.unwrap().unwrap();
    assert_eq!((doc.value.as_slice(), doc.revision), (&b"two"[..], 2));
    assert_eq!(
        store.get("b/1").await.unwrap().unwrap().value,
        vec![7; 100_000]
    );

    // The log replays from the compaction point, and the compaction point
    // itself was kept.
    let mut stream = store.changes("", 1).await.unwrap();
    let mut replayed = Vec::new();
    for _ in 0..3 {
        let change = stream.next().await.unwrap().unwrap();
        replayed.push((
            change.revision,
            change.key,
            change.kind == ChangeKind::Delete,
        ));
    }
    assert_eq!(
        replayed,
        [
            (2, "a/2".to_owned(), false),
            (3, "a/1".to_owned(), true),
            (4, "b/1".to_owned(), false),
        ]
    );
    assert!(matches!(
        store.changes("", 0).await,
        Err(Error::WatchLost { .. })
    ));

    // Writing goes on from the stored revision.
    assert_eq!(store.put("a/1", vec![], Expect::Absent).await.unwrap(), 5);
    assert_eq!(stream.next().await.unwrap().unwrap().revision, 5);
}

#[tokio::test]
async fn durable_store_refuses_a_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.redb");
    std::fs::write(&path, vec![0x5a; 64 * 1024]).unwrap();
    match DurableStore::open(&path) {
        Err(Error::Storage { reason }) => assert!(reason.contains("garbage.redb"), "{reason}"),
        other => panic!("expected a storage error, got {other:?}"),
    }
}

/// A reader that falls behind loses its stream with the revision to resume
/// from, and the stream ends.
async fn slow_reader_loses_the_stream(store: impl Store) {
    store.put("s/0", vec![], Expect::Any).await.unwrap();
    let mut stream = store.changes("s/", 0).await.unwrap();
    for i in 1..=20 {
        store
            .put(&format!("s/{i}"), vec![], Expect::Any)
            .await
            .unwrap();
    }
    assert_eq!(stream.next().await.unwrap().unwrap().revision, 1);
    match stream.next().await {
        Some(Err(Error::WatchLost { revision, .. })) => assert_eq!(revision, 1),
        other => panic!("expected a lost watch, got {other:?}"),
    }
    assert!(
        stream.next().await.is_none(),
        "the stream ends after losing"
    );
    // Resuming from the reported revision works again.
    let mut resumed = store.changes("s/", 1).await.unwrap();
    assert_eq!(resumed.next().await.unwrap().unwrap().revision, 2);
}

#[tokio::test]
async fn memory_store_slow_reader_loses_the_stream() {
    slow_reader_loses_the_stream(MemoryStore::with_watch_capacity(4)).await;
}

#[tokio::test]
async fn durable_store_slow_reader_loses_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.redb");
    slow_reader_loses_the_stream(DurableStore::open_with_watch_capacity(path, 4).unwrap()).await;
}

/// Records damaged behind the store's back are reported as storage errors,
/// never as a panic.
#[tokio::test]
async fn durable_store_reports_corrupt_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.redb");
    {
        let store = DurableStore::open(&path).unwrap();
        store
            .put("ok", b"fine".to_vec(), Expect::Any)
            .await
            .unwrap();
    }
    {
        // The table layout is private to the store; this test knows it only
        // to damage it.
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let entries: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("entries");
            let changes: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("changes");
            txn.open_table(entries)
                .unwrap()
                .insert("short", &[1u8, 2][..])
                .unwrap();
            let mut log = txn.open_table(changes).unwrap();
            log.insert(
                2,
                &[0u8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..],
            )
            .unwrap();
            log.insert(3, &[9u8, 0, 0, 0, 0, 0, 0, 0, 0][..]).unwrap();
        }
        txn.commit().unwrap();
    }
    let store = DurableStore::open(&path).unwrap();
    assert_eq!(store.get("ok").await.unwrap().unwrap().value, b"fine");
    let is_storage = |e: &Error| matches!(e, Error::Storage { .. });
    assert!(is_storage(&store.get("short").await.unwrap_err()));
    assert!(is_storage(&store.list("").await.unwrap_err()));
    assert!(is_storage(
        &store
            .put("short", vec![], Expect::Revision(1))
            .await
            .unwrap_err()
    ));
    for (since, wanted) in [(0, "entry 2 is corrupt"), (2, "unknown kind 9")] {
        match store.changes("", since).await {
            Err(e) => assert!(is_storage(&e) && e.to_string().contains(wanted), "{e}"),
            Ok(_) => panic!("a corrupt change log should not replay"),
        }
    }
}

#[test]
fn the_durable_store_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let store = shipcore::store::DurableStore::open(&path).unwrap();
    drop(store);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "mode {mode:o}");
}
