//! A full disk: shipd (the process) with its data folder on a tmpfs of a
//! few MB, filled up under it. Registry pushes and state writes fail with
//! 507 in their family's envelope, what was stored before is served intact,
//! and once space is freed shipd takes writes again by itself (the state
//! store reopened after its I/O error), and keeps them across a restart.
//! Needs root (to mount the tmpfs); no engine.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use sha2::{Digest as _, Sha256};
use support::http::{client, send, Cred};
use support::shipd::Shipd;

const PASSWORD: &str = "disk-full-pw";

fn admin() -> Cred {
    Cred::Basic("admin".into(), PASSWORD.into())
}

/// Unmounts the tmpfs whatever the outcome.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn mount_tmpfs(at: &Path, size: &str) -> Option<Mounted> {
    let ok = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size},mode=0700"),
            "tmpfs",
        ])
        .arg(at)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        return Some(Mounted(at.to_path_buf()));
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "cannot mount a tmpfs (the disk-full test needs root)"
    );
    println!("SKIP: cannot mount a tmpfs");
    None
}

/// Fills the file system of `at` with one file; returns it.
fn fill(at: &Path) -> std::path::PathBuf {
    use std::io::Write as _;
    let path = at.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    loop {
        match f.write_all(&chunk) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling: {e}"),
        }
    }
    // Small writes too, down to the last byte.
    while f.write_all(&[0u8; 512]).is_ok() {}
    let _ = f.flush();
    path
}

async fn push(shipd: &Shipd, data: &[u8]) -> (u16, Value) {
    let d = format!("sha256:{:x}", Sha256::digest(data));
    let (s, _, body) = send(
        &client(),
        &shipd.base,
        "POST",
        &format!("/v2/full/app/blobs/uploads/?digest={d}"),
        &admin(),
        &[("Content-Type", "application/octet-stream")],
        bytes::Bytes::copy_from_slice(data),
    )
    .await
    .unwrap();
    (s, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn pull(shipd: &Shipd, data: &[u8]) -> Vec<u8> {
    let d = format!("sha256:{:x}", Sha256::digest(data));
    let (s, _, body) = send(
        &client(),
        &shipd.base,
        "GET",
        &format!("/v2/full/app/blobs/{d}"),
        &admin(),
        &[],
        bytes::Bytes::new(),
    )
    .await
    .unwrap();
    assert_eq!(s, 200);
    body.to_vec()
}

async fn new_key(shipd: &Shipd) -> (u16, Value) {
    shipd
        .call(
            "POST",
            "/api/servicekeys",
            &admin(),
            Some(r#"{"description":"full"}"#),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_507_keeps_what_was_stored_and_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let Some(_mounted) = mount_tmpfs(&mnt, "24m") else {
        return;
    };
    let data = mnt.join("data");
    let log = dir.path().join("shipd.log");
    let mut shipd = Shipd::start(&data, &log, "unix:///nonexistent.sock", PASSWORD, false);
    shipd.ready(&admin()).await;

    // Stored before the disk fills.
    let before: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(push(&shipd, &before).await.0, 201);
    let (s, key) = new_key(&shipd).await;
    assert_eq!(s, 200, "{key}");
    let kept_key = Cred::Key(key["key"].as_str().unwrap().to_string());

    let filler = fill(&mnt);

    // A push does not fit: 507 in the registry's envelope.
    let big: Vec<u8> = (0..2_000_000u32).map(|i| (i % 241) as u8).collect();
    let (s, body) = push(&shipd, &big).await;
    assert_eq!(s, 507, "{body}");
    assert!(body["errors"][0]["message"].is_string(), "{body}");
    // State writes fail too, with 507 in the cluster API's envelope (the
    // store may hold a little free room of its own first).
    let mut refused = None;
    for made in 0..2000 {
        let (s, body) = new_key(&shipd).await;
        match s {
            200 => continue,
            507 => {
                eprintln!("the store refused the key after {made} more");
                refused = Some(body);
                break;
            }
            other => panic!("a key on a full disk: {other} {body}\n{}", shipd.log()),
        }
    }
    let refused = refused.expect("the store never ran out of room");
    assert!(refused.to_string().contains("No space left"), "{refused}");
    // What was stored before is served intact, and reads go on.
    assert_eq!(pull(&shipd, &before).await, before);
    let (s, _) = shipd
        .call("GET", "/api/cluster/info", &kept_key, None)
        .await;
    assert_eq!(s, 200);
    let (s, _) = shipd.call("GET", "/api/servicekeys", &admin(), None).await;
    assert_eq!(s, 200);

    // Space freed: writes succeed again, without a restart.
    std::fs::remove_file(&filler).unwrap();
    let (s, key) = new_key(&shipd).await;
    assert_eq!(s, 200, "{key}\n{}", shipd.log());
    let later_key = Cred::Key(key["key"].as_str().unwrap().to_string());
    assert_eq!(push(&shipd, &big).await.0, 201);
    assert_eq!(pull(&shipd, &big).await, big);

    assert!(
        shipd.log().contains("reopened after an I/O error"),
        "{}",
        shipd.log()
    );

    // And across a restart, everything acknowledged is there.
    assert!(shipd.terminate().success(), "{}", shipd.log());
    let mut again = Shipd::start(&data, &log, "unix:///nonexistent.sock", PASSWORD, false);
    again.ready(&admin()).await;
    for key in [&kept_key, &later_key] {
        let (s, _) = again.call("GET", "/api/cluster/info", key, None).await;
        assert_eq!(s, 200);
    }
    assert_eq!(pull(&again, &before).await, before);
    assert_eq!(pull(&again, &big).await, big);
    assert!(again.terminate().success(), "{}", again.log());
}
