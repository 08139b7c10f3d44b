//! Crash test for `DurableStore`: a write acknowledged before the process is
//! killed with SIGKILL is still there when the file is reopened.
//!
//! The test re-executes its own binary as a child that writes keys in a loop
//! and prints `ack <key> <revision>` after each put returned. The parent kills
//! it after a varying short delay, reopens the file and checks every
//! acknowledged write, over many iterations on the same file, so later
//! iterations also recover files that earlier kills left behind.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use shipcore::store::{ChangeKind, DurableStore, Expect, Store};

/// Set in the child's environment to the database path; its absence makes
/// the child test a no-op in ordinary runs.
const CHILD_ENV: &str = "SHIPCORE_CRASH_CHILD";
/// The iteration number, so every child writes its own keys.
const ITERATION_ENV: &str = "SHIPCORE_CRASH_ITERATION";
const ITERATIONS: u64 = 24;

/// FNV-1a, to derive a value from its key without a shared random source.
fn hash(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The value written at `key`: a mix of sizes, mostly small, sometimes large
/// enough to span many pages, with content that reveals a torn write.
fn value_for(key: &str) -> Vec<u8> {
    let h = hash(key);
    let len = match h % 20 {
        0 => 64 * 1024 + (h >> 8) % (64 * 1024),
        1..=3 => 8 * 1024 + (h >> 8) % (16 * 1024),
        4..=9 => 512 + (h >> 8) % 4096,
        _ => (h >> 8) % 100,
    };
    (0..len).map(|i| (h >> 16).wrapping_add(i) as u8).collect()
}

/// The child: writes until killed (or for 20 seconds, should the parent be
/// gone), acknowledging each write only after the store returned.
#[test]
fn crash_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let iteration: u64 = std::env::var(ITERATION_ENV).unwrap().parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = DurableStore::open(&path).unwrap();
        let mut out = std::io::stdout().lock();
        writeln!(out, "ready").unwrap();
        out.flush().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut n = 0;
        while Instant::now() < deadline {
            let key = format!("crash/{iteration:03}/{n:06}");
            let revision = store
                .put(&key, value_for(&key), Expect::Absent)
                .await
                .unwrap();
            writeln!(out, "ack {key} {revision}").unwrap();
            out.flush().unwrap();
            n += 1;
        }
    });
}

/// Runs one child, kills it after `delay` from its start-up, and returns the
/// writes it acknowledged.
fn run_child(path: &Path, iteration: u64, delay: Duration) -> Vec<(String, u64)> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, path)
        .env(ITERATION_ENV, iteration.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    // The delay counts from the child's start-up so that every iteration has
    // writes in flight when the kill lands.
    loop {
        let line = received
            .recv_timeout(Duration::from_secs(30))
            .expect("the child did not start");
        // libtest prints `test crash_child ... ` without a line break before
        // the child runs, so the marker ends that line.
        if line.ends_with("ready") {
            break;
        }
    }
    std::thread::sleep(delay);
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "the child should die of SIGKILL, not {status}"
    );
    reader.join().unwrap();
    received
        .try_iter()
        .filter_map(|line| {
            let mut words = line.strip_prefix("ack ")?.split(' ');
            let key = words.next()?.to_owned();
            let revision = words.next()?.parse().ok()?;
            Some((key, revision))
        })
        .collect()
}

/// Reopens the store and checks it against every write acknowledged so far.
/// `expected` caches the values, which are costly to rebuild in debug builds.
async fn verify(path: &Path, acked: &[(String, u64)], expected: &mut HashMap<String, Vec<u8>>) {
    let store = DurableStore::open(path).expect("the store reopens after a kill");
    let current = store.revision().await.unwrap();
    let listed = store.list("").await.unwrap();
    // Writes that were not acknowledged may or may not be there, but what is
    // there is whole, and the counter, the documents and the log agree.
    assert_eq!(listed.len() as u64, current, "one key per write");
    let mut found = HashMap::new();
    for doc in &listed {
        let value = expected
            .entry(doc.key.clone())
            .or_insert_with(|| value_for(&doc.key));
        assert!(doc.value == *value, "value of {} is torn", doc.key);
        found.insert(doc.key.as_str(), doc);
    }
    for (key, revision) in acked {
        let doc = found
            .get(key.as_str())
            .unwrap_or_else(|| panic!("acknowledged {key} is lost"));
        assert_eq!(doc.revision, *revision, "revision of {key}");
        assert!(current >= *revision, "revision {current} is behind {key}");
    }
    let mut log = store.changes("", 0).await.unwrap();
    for revision in 1..=current {
        let change = tokio::time::timeout(Duration::from_secs(30), log.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(change.revision, revision, "the change log has no gap");
        let doc = found[change.key.as_str()];
        assert_eq!(doc.revision, revision, "log and document of {}", doc.key);
        assert!(
            change.kind
                == ChangeKind::Put {
                    value: doc.value.clone()
                },
            "log and document of {} differ",
            doc.key
        );
    }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.redb");
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    eprintln!("crash test seed {seed}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut acked = Vec::new();
    let mut expected = HashMap::new();
    for iteration in 0..ITERATIONS {
        let delay = 5 + hash(&format!("{seed}/{iteration}")) % 146;
        let fresh = run_child(&path, iteration, Duration::from_millis(delay));
        eprintln!(
            "iteration {iteration}: killed after {delay} ms, {} acknowledged",
            fresh.len()
        );
        acked.extend(fresh);
        runtime.block_on(verify(&path, &acked, &mut expected));
    }
    assert!(!acked.is_empty(), "no child acknowledged anything");
    eprintln!(
        "crash test: {} acknowledged writes over {ITERATIONS} kills in {:?}",
        acked.len(),
        started.elapsed()
    );
}
