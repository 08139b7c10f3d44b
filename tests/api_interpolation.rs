//! Interpolation is bounded on the request path (`POST /projects/`): a
//! template whose `${a:-${a:-…}}` nests 6,000 deep, and one whose `$A`
//! repeats until it would expand to far more than a file may, are each
//! refused with a 400 in the projects envelope, and the server answers on.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shipcore::compose::{
    MAX_ENVIRONMENT_BYTES, MAX_INTERPOLATED_BYTES, MAX_INTERPOLATED_FILE_BYTES,
    MAX_INTERPOLATION_DEPTH,
};
use shipcore::testing::Fixture;
use support::http::{admin, start, Api};

async fn post(api: &Api, body: Value) -> (u16, Value) {
    api.call("POST", "/projects/", &admin(), Some(&body.to_string()))
        .await
}

/// A 400 in the projects envelope (`{"error": …}`) whose message holds
/// every one of `words`.
fn refused(status: u16, answer: &Value, words: &[&str]) {
    assert_eq!(status, 400, "{answer}");
    let error = answer["error"]
        .as_str()
        .unwrap_or_else(|| panic!("not the projects envelope: {answer}"));
    for w in words {
        assert!(error.contains(w), "{w:?} not in {error}");
    }
    assert!(error.len() < 4096, "a long message: {} bytes", error.len());
}

async fn still_answers(api: &Api) {
    let (s, list) = api.call("GET", "/projects/", &admin(), None).await;
    assert_eq!(s, 200, "{list}");
    assert!(list.is_array(), "{list}");
}

#[tokio::test]
async fn interpolation_bombs_are_refused_and_the_server_answers_on() {
    let fixture = Fixture::fake(2, 4_000, 8_192, &["app:1"]).await.unwrap();
    let api = start(fixture).await;
    let depth = MAX_INTERPOLATION_DEPTH.to_string();

    // 6,000 levels in about 36 KB: recursing, this overflowed the
    // worker's stack and aborted the server.
    let deep = format!("{}app:1{}", "${a:-".repeat(6_000), "}".repeat(6_000));
    assert!(deep.len() > 35_000);
    let template = format!("services:\n  web:\n    image: \"{deep}\"\n");
    let (s, answer) = post(
        &api,
        json!({"name": "deep", "template": template, "version": "1"}),
    )
    .await;
    refused(s, &answer, &["web", "image", "line 3", "deep", &depth]);
    still_answers(&api).await;

    // At the limit, the same form is read as compose reads it.
    let at_limit = format!(
        "{}app:1{}",
        "${a:-".repeat(MAX_INTERPOLATION_DEPTH),
        "}".repeat(MAX_INTERPOLATION_DEPTH)
    );
    let template = format!("services:\n  web:\n    image: \"{at_limit}\"\n");
    let (s, answer) = post(
        &api,
        json!({"name": "shallow", "template": template, "version": "1"}),
    )
    .await;
    assert_eq!(s, 201, "{answer}");

    // 300 × `$A` with a 1 MB `A`: the environment alone is over its cap
    // (the body, about 1 MB, is within the facade's).
    let big = "a".repeat(1_000_000);
    let template = format!(
        "services:\n  web:\n    image: app:1\n    command: \"{}\"\n",
        "$A".repeat(300)
    );
    let started = Instant::now();
    let (s, answer) = post(
        &api,
        json!({"name": "wide", "template": template, "version": "1", "environment": {"A": big}}),
    )
    .await;
    refused(
        s,
        &answer,
        &["environment", &MAX_ENVIRONMENT_BYTES.to_string()],
    );
    still_answers(&api).await;

    // An `A` just within the environment's cap, referenced 300 times in
    // one string (about 60 MB expanded): over the per-string cap.
    let a = "a".repeat(MAX_ENVIRONMENT_BYTES - 1024);
    assert!(300 * a.len() > MAX_INTERPOLATED_FILE_BYTES);
    let (s, answer) = post(
        &api,
        json!({"name": "wide", "template": template, "version": "1", "environment": {"A": a}}),
    )
    .await;
    refused(
        s,
        &answer,
        &[
            "web",
            "command",
            "line 4",
            &MAX_INTERPOLATED_BYTES.to_string(),
        ],
    );
    still_answers(&api).await;

    // The same 300 references, one per string: over the file's cap.
    let mut template = String::from("services:\n  web:\n    image: app:1\n    environment:\n");
    for i in 0..300 {
        template.push_str(&format!("      - V{i}=$A\n"));
    }
    let (s, answer) = post(
        &api,
        json!({"name": "spread", "template": template, "version": "1", "environment": {"A": a}}),
    )
    .await;
    refused(
        s,
        &answer,
        &[
            "web",
            "environment",
            &MAX_INTERPOLATED_FILE_BYTES.to_string(),
        ],
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    still_answers(&api).await;

    // None of the refused projects was stored; the one at the limit was.
    let (s, list) = api.call("GET", "/projects/", &admin(), None).await;
    assert_eq!(s, 200, "{list}");
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["shallow"], "{list}");
}
