//! SIGKILL during pushes: shipd (the process) is killed while one client
//! streams a chunk into an upload and another publishes a blob. After a
//! restart on the same data folder every blob on disk holds the bytes of
//! its digest, the registry serves what was pushed before the kill, and the
//! interrupted upload resumes from what was kept and publishes intact.
//! No engine is needed.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write as _;
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use support::http::Cred;
use support::shipd::{verified_blobs, Shipd};

const PASSWORD: &str = "kill-test-pw";

fn basic() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("admin:{PASSWORD}"))
}

fn start(data: &std::path::Path, log: &std::path::Path) -> Shipd {
    Shipd::start(data, log, "unix:///nonexistent.sock", PASSWORD, false)
}

/// A raw request on a fresh connection: the answer's head and body.
fn request(base: &str, head: &str, body: &[u8]) -> String {
    use std::io::Read as _;
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn header<'a>(answer: &'a str, name: &str) -> &'a str {
    answer
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then_some(v.trim())
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_push_leaves_no_blob_that_fails_its_digest() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("shipd.log");
    let mut shipd = start(&data, &log);
    let admin = Cred::Basic("admin".into(), PASSWORD.into());
    shipd.ready(&admin).await;
    let base = shipd.base.clone();
    let auth = format!("Authorization: Basic {}\r\n", basic());

    // A blob pushed whole before the kill.
    let kept: Vec<u8> = (0..1_000_000u32).map(|i| (i % 241) as u8).collect();
    let kept_digest = format!("sha256:{:x}", Sha256::digest(&kept));
    let answer = request(
        &base,
        &format!(
            "POST /v2/k/app/blobs/uploads/?digest={kept_digest} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
            kept.len()
        ),
        &kept,
    );
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");

    // An upload, 4 MB of 16 sent when shipd is killed.
    let answer = request(
        &base,
        &format!("POST /v2/k/app/blobs/uploads/ HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"),
        b"",
    );
    let location = header(&answer, "location").to_string();
    assert!(location.starts_with("/v2/k/app/blobs/uploads/"), "{answer}");
    let big: Vec<u8> = (0..16_000_000u32).map(|i| (i * 31 % 253) as u8).collect();
    let big_digest = format!("sha256:{:x}", Sha256::digest(&big));
    let addr = base.trim_start_matches("http://").to_string();
    let mut patch = std::net::TcpStream::connect(&addr).unwrap();
    patch
        .write_all(
            format!(
                "PATCH {location} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {}\r\n\r\n",
                big.len()
            )
            .as_bytes(),
        )
        .unwrap();
    patch.write_all(&big[..4_000_000]).unwrap();
    // And a monolithic push of another blob, half sent.
    let mut put = std::net::TcpStream::connect(&addr).unwrap();
    let other: Vec<u8> = vec![7u8; 3_000_000];
    let other_digest = format!("sha256:{:x}", Sha256::digest(&other));
    put.write_all(
        format!(
            "POST /v2/k/app/blobs/uploads/?digest={other_digest} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {}\r\n\r\n",
            other.len()
        )
        .as_bytes(),
    )
    .unwrap();
    put.write_all(&other[..1_500_000]).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    shipd.child.kill().unwrap();
    shipd.child.wait().unwrap();
    drop(patch);
    drop(put);

    let content = data.join("registry");
    assert!(verified_blobs(&content) >= 1);

    // Restarted: what was pushed is served; the half-sent blob is not.
    let mut shipd = start(&data, &log);
    shipd.ready(&admin).await;
    let base = shipd.base.clone();
    let answer = request(
        &base,
        &format!("GET /v2/k/app/blobs/{kept_digest} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"),
        b"",
    );
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "{}",
        &answer[..200.min(answer.len())]
    );
    let answer = request(
        &base,
        &format!("HEAD /v2/k/app/blobs/{other_digest} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"),
        b"",
    );
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");

    // The upload resumes from what it kept.
    let answer = request(
        &base,
        &format!("GET {location} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"),
        b"",
    );
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    let held: usize = header(&answer, "range")
        .split('-')
        .nth(1)
        .unwrap()
        .parse::<usize>()
        .unwrap()
        + 1;
    assert!(held > 0 && held <= 4_000_000, "{held}");
    let rest = &big[held..];
    let answer = request(
        &base,
        &format!(
            "PATCH {location} HTTP/1.1\r\nHost: x\r\n{auth}Content-Range: {held}-{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            big.len() - 1,
            rest.len()
        ),
        rest,
    );
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let answer = request(
        &base,
        &format!("PUT {location}?digest={big_digest} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"),
        b"",
    );
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert_eq!(verified_blobs(&content), 2);
    shipd.terminate();
}
