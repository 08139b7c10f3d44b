//! A build through the build API (seed 002) against `docker build
//! --no-cache` plus `docker push` by the stock CLI, of the same context, on
//! the same engine, into the same registry (shipd's), in one run: rounds
//! alternating which goes first, each round a context of its own (so that
//! neither side finds a layer cached), medians compared.
//!
//! shipd's side is timed from `POST /api/project/build` until its log's
//! event stream ends with `succeeded` (the image built and pushed).
//!
//! Run: `cargo bench --bench build` (release shipd, built by the bench).
//! Without `SHIPCORE_ENGINE_A` it brings the test bed up (`scripts/engines
//! up`), or stops naming why it cannot. `SHIPCORE_BENCH_ROUNDS` (default 15)
//! sets the rounds.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::json;
use shipcore_workspace::process::{
    alternate, engine_a, median, ok, report, rounds, run, Shipd, PASSWORD,
};

const IMAGE: &str = "shipcore/busybox:latest";
const PROJECT: &str = "benchweb";

/// The context of round `mark`: a Dockerfile with a COPY and a RUN, and the
/// file it copies.
fn context(mark: &str) -> (String, String) {
    let dockerfile = format!(
        "FROM {IMAGE}\nCOPY note.txt /note.txt\nRUN echo {mark} > /built.txt && cat /note.txt >> /built.txt\nCMD [\"cat\", \"/built.txt\"]\n"
    );
    (dockerfile, format!("the context of {mark}\n"))
}

/// shipd: the project's Dockerfile and files saved (not timed), then a
/// build until it has succeeded.
fn through_shipd(shipd: &Shipd, mark: &str) -> Duration {
    let (dockerfile, note) = context(mark);
    let note = base64::engine::general_purpose::STANDARD.encode(note);
    let saved = shipd.json(
        "POST",
        "/api/project/save",
        &json!({
            "project": PROJECT, "Cluster": "default_cluster", "DefineDockerFileType": "define",
            "addOrUpdate": "update", "dockerfile": dockerfile, "files": {"note.txt": note},
        }),
    );
    assert_eq!(saved["code"], 10000, "save: {saved}");
    let started = Instant::now();
    let build = shipd.json(
        "POST",
        "/api/project/build",
        &json!({"projectName": PROJECT, "operator": "root", "tag": mark}),
    );
    let id = build["content"]["idStr"]
        .as_str()
        .unwrap_or_else(|| panic!("build: {build}"))
        .to_string();
    // The log's event stream ends once the build has.
    let events = ok(
        "the build's log",
        shipd.curl(&[
            &format!("/api/project/build/{id}/log"),
            "-N",
            "-H",
            "Accept: text/event-stream",
        ]),
    );
    let took = started.elapsed();
    assert!(
        events.contains("event: end\ndata: succeeded"),
        "build {id}: {events}"
    );
    took
}

/// The CLI: `docker build --no-cache` and `docker push` of the same
/// context into the same registry.
fn by_cli(dir: &Path, env: &[(&str, String)], host: &str, mark: &str) -> Duration {
    let (dockerfile, note) = context(mark);
    let ctx = dir.join(format!("ctx-{mark}"));
    std::fs::create_dir_all(&ctx).expect("a context folder");
    std::fs::write(ctx.join("Dockerfile"), dockerfile).expect("the Dockerfile");
    std::fs::write(ctx.join("note.txt"), note).expect("the copied file");
    let image = format!("{host}/cli/{PROJECT}:{mark}");
    let started = Instant::now();
    ok(
        "docker build",
        run(
            "docker",
            &[
                "build",
                "--no-cache",
                "-q",
                "-t",
                &image,
                &ctx.to_string_lossy(),
            ],
            env,
        ),
    );
    ok("docker push", run("docker", &["push", &image], env));
    let took = started.elapsed();
    let _ = run("docker", &["rmi", &image], env);
    took
}

fn main() {
    let engine = engine_a();
    let rounds = rounds(15);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let shipd = Shipd::start(env!("CARGO_BIN_EXE_shipd"), dir.path(), &engine, &[]);
    let made = shipd.json("POST", "/api/project/new", &json!({"projectName": PROJECT}));
    assert_eq!(made["code"], 10000, "new project: {made}");
    let config = dir.path().join("docker-config");
    std::fs::create_dir_all(&config).expect("a docker config folder");
    // The legacy builder, as the Engine API's build that shipd drives.
    let env = vec![
        ("DOCKER_HOST", engine.clone()),
        ("DOCKER_CONFIG", config.to_string_lossy().into_owned()),
        ("DOCKER_BUILDKIT", "0".to_string()),
    ];
    ok(
        "docker login",
        run(
            "docker",
            &["login", &shipd.host, "-u", "admin", "-p", PASSWORD],
            &env,
        ),
    );
    let tag = std::process::id();
    // A warm-up of each.
    through_shipd(&shipd, &format!("w0-{tag}"));
    by_cli(dir.path(), &env, &shipd.host, &format!("w1-{tag}"));
    let times = alternate(rounds, |side, round| {
        let mark = format!("r{round}-{side}-{tag}");
        match side {
            0 => through_shipd(&shipd, &mark),
            _ => by_cli(dir.path(), &env, &shipd.host, &mark),
        }
    });
    println!("a build of FROM + COPY + RUN, built and pushed into shipd's registry, {rounds} rounds alternating (Docker 20.10):");
    report("the build API", &times[0]);
    report("docker build + push", &times[1]);
    let ratio = median(&times[0]).as_secs_f64() / median(&times[1]).as_secs_f64();
    println!("  build API / CLI        {ratio:.2}x  (target <= 1.0x)");
    // shipd's images stay on the engine after their push: removed here.
    let listed = run(
        "docker",
        &[
            "images",
            "-q",
            &format!("{}/default_cluster/{PROJECT}", shipd.host),
        ],
        &env,
    );
    for id in String::from_utf8_lossy(&listed.stdout).split_whitespace() {
        let _ = run("docker", &["rmi", "-f", id], &env);
    }
}
