//! The cluster endpoint (seed 003 §1.3–1.4) with the real clients of the
//! test bed: shipd with `--tls-listen` over engines A and B; an account's
//! certificates downloaded as the seed does it; then the stock docker CLI
//! (`version`, `info`, `ps -a` across both engines, `run -d` through the
//! scheduler and visible in the cluster API, `logs`, `stop`, `rm`,
//! volumes, networks, `run -m 999g` failing with the scheduler's
//! explanation), docker-compose `up -d` / `down` of three services, and
//! curl over mutual TLS: with the certificate, without one, with one of
//! another CA, and with a revoked one.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{json, Value};
use support::http::Cred;
use support::shipd::Shipd;
use support::*;

const PASSWORD: &str = "endpoint-admin-pw";

fn admin() -> Cred {
    Cred::Basic("admin".into(), PASSWORD.into())
}

/// Runs `program` with the endpoint's environment; the output.
fn run(program: &str, args: &[&str], env: &[(&str, String)], dir: &Path) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    // Requests (docker-compose's HTTP library) lets these variables win
    // over the CA a client is given (requests#3829); this machine sets
    // them for its own bundle, a user's machine does not.
    cmd.env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE");
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts success, returning stdout.
fn ok(what: &str, out: Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_compose_and_curl_reach_the_cluster_over_mutual_tls() {
    let Some((a, b)) = engines() else { return };
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    let cluster = unique("ep");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("127.0.0.1:{port}");
    let data = dir.path().join("data").to_string_lossy().to_string();
    let mut shipd = Shipd::spawn(
        &[
            "--data",
            &data,
            "--cluster",
            &cluster,
            "--tls-listen",
            &endpoint,
        ],
        &[("SHIPD_ADMIN_PASSWORD", PASSWORD), ("DOCKER_HOST", &a)],
        &dir.path().join("shipd.log"),
    );
    shipd.ready(&admin()).await;
    let (s, v) = shipd
        .call(
            "POST",
            "/api/engines",
            &admin(),
            Some(&json!({"id": "b", "engine": {"id": "b", "addr": b, "cpus": 2, "memory": 4096, "labels": []}}).to_string()),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = shipd
        .call(
            "POST",
            "/api/accounts",
            &admin(),
            Some(r#"{"username":"dev","password":"dev-password","role":{"name":"user"}}"#),
        )
        .await;
    assert_eq!(s, 204, "{v}");
    let dev = Cred::Basic("dev".into(), "dev-password".into());
    wait_for("both engines healthy", Duration::from_secs(20), || {
        let shipd = &shipd;
        async move {
            let (_, v) = shipd.call("GET", "/api/engines", &admin(), None).await;
            v.as_array().is_some_and(|l| {
                l.len() == 2 && l.iter().all(|e| e["health"]["status"] == "healthy")
            })
        }
    })
    .await;

    // The seed's three calls: `curl -u … /clusters/NAME/certs | jq -r .ca`.
    let (s, set) = shipd
        .call("GET", &format!("/clusters/{cluster}/certs"), &dev, None)
        .await;
    assert_eq!(s, 200, "{set}");
    for (field, file) in [("ca", "ca.pem"), ("cert", "cert.pem"), ("key", "key.pem")] {
        std::fs::write(certs.join(file), set[field].as_str().unwrap()).unwrap();
    }
    let config = dir.path().join("docker-config");
    std::fs::create_dir(&config).unwrap();
    let env = vec![
        ("DOCKER_TLS_VERIFY", "1".to_string()),
        ("DOCKER_HOST", format!("tcp://{endpoint}")),
        ("DOCKER_CERT_PATH", certs.to_string_lossy().to_string()),
        ("DOCKER_CONFIG", config.to_string_lossy().to_string()),
    ];
    let here = dir.path();
    let docker = |args: &[&str]| run("docker", args, &env, here);

    let version = ok("docker version", docker(&["version"]));
    assert!(version.contains("shipcore"), "{version}");
    assert!(version.contains("1.41"), "{version}");
    let info = ok("docker info", docker(&["info"]));
    assert!(info.contains("local: ") && info.contains("b: "), "{info}");
    assert!(info.contains("Healthy"), "{info}");

    // One container on each engine, by Swarm's constraint on the node.
    let on_a = format!("{cluster}-on-a");
    let on_b = format!("{cluster}-on-b");
    for (name, node) in [(&on_a, "local"), (&on_b, "b")] {
        ok(
            "docker run -d (constrained)",
            docker(&[
                "run",
                "-d",
                "--name",
                name,
                "-m",
                "16m",
                "-e",
                &format!("constraint:node=={node}"),
                IMAGE,
                "sh",
                "-c",
                "echo out-line; echo err-line >&2; exec sleep 300",
            ]),
        );
    }
    let ps = ok(
        "docker ps -a",
        docker(&["ps", "-a", "--format", "{{.Names}}"]),
    );
    assert!(ps.lines().any(|l| l == format!("local/{on_a}")), "{ps}");
    assert!(ps.lines().any(|l| l == format!("b/{on_b}")), "{ps}");
    let commands = ok(
        "docker ps (commands)",
        docker(&[
            "ps",
            "--no-trunc",
            "--filter",
            &format!("name={on_a}"),
            "--format",
            "{{.Command}}",
        ]),
    );
    assert!(commands.contains("sh -c"), "{commands}");

    // Placed by the scheduler, and the cluster's own.
    let web = format!("{cluster}-web");
    let id = ok(
        "docker run -d",
        docker(&[
            "run",
            "-d",
            "--name",
            &web,
            "-m",
            "32m",
            IMAGE,
            "sh",
            "-c",
            "echo hello-endpoint; exec sleep 300",
        ]),
    )
    .trim()
    .to_string();
    assert_eq!(id.len(), 64, "{id}");
    let (s, list) = shipd.call("GET", "/api/containers", &admin(), None).await;
    assert_eq!(s, 200, "{list}");
    let mine = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} not in the cluster API: {list}"));
    assert_eq!(mine["name"], web.as_str());
    assert_eq!(mine["image"]["memory"], 32);
    wait_for("the output", Duration::from_secs(10), || async {
        text(&docker(&["logs", &web]).stdout).contains("hello-endpoint")
    })
    .await;
    // Without -d: attached to the output from start to end, with the
    // container's exit code.
    let fg = format!("{cluster}-fg");
    let attached = docker(&[
        "run",
        "--name",
        &fg,
        IMAGE,
        "sh",
        "-c",
        "echo fg-out; echo fg-err >&2; exit 3",
    ]);
    assert_eq!(attached.status.code(), Some(3), "{attached:?}");
    assert!(text(&attached.stdout).contains("fg-out"), "{attached:?}");
    assert!(text(&attached.stderr).contains("fg-err"), "{attached:?}");
    ok("docker rm", docker(&["rm", &fg]));
    // `docker run`'s container options reach the engine as given.
    let opts = format!("{cluster}-opts");
    let opts_id = ok(
        "docker run with container options",
        docker(&[
            "run",
            "-d",
            "--name",
            &opts,
            "--read-only",
            "--cap-drop",
            "NET_RAW",
            "--ulimit",
            "nofile=1024:2048",
            "--log-opt",
            "max-size=1m",
            "--tmpfs",
            "/run:size=65536",
            "--pids-limit",
            "64",
            IMAGE,
            "sleep",
            "300",
        ]),
    );
    let host_config = [a.clone(), b.clone()]
        .iter()
        .find_map(|addr| {
            let out = std::process::Command::new("docker")
                .args([
                    "-H",
                    addr,
                    "inspect",
                    "-f",
                    "{{json .HostConfig}}",
                    opts_id.trim(),
                ])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| serde_json::from_slice::<Value>(&out.stdout).ok())
                .flatten()
        })
        .expect("the container is on engine A or B");
    assert_eq!(host_config["ReadonlyRootfs"], true, "{host_config}");
    assert_eq!(host_config["CapDrop"], serde_json::json!(["CAP_NET_RAW"]));
    assert_eq!(host_config["PidsLimit"], 64);
    assert_eq!(host_config["Tmpfs"]["/run"], "size=65536");
    assert_eq!(host_config["Ulimits"][0]["Hard"], 2048);
    assert_eq!(host_config["LogConfig"]["Config"]["max-size"], "1m");
    ok("docker rm -f", docker(&["rm", "-f", &opts]));
    let logs = docker(&["logs", &on_a]);
    assert!(text(&logs.stdout).contains("out-line"), "{logs:?}");
    assert!(text(&logs.stderr).contains("err-line"), "{logs:?}");
    assert!(!text(&logs.stdout).contains("err-line"), "{logs:?}");

    ok("docker stop", docker(&["stop", "-t", "1", &web]));
    let inspect = ok(
        "docker inspect",
        docker(&["inspect", "-f", "{{.State.Running}}", &web]),
    );
    assert_eq!(inspect.trim(), "false");
    ok("docker rm", docker(&["rm", &web]));
    let ps = ok(
        "docker ps -a",
        docker(&["ps", "-a", "--format", "{{.Names}}"]),
    );
    assert!(!ps.contains(&web), "{ps}");
    let (_, list) = shipd.call("GET", "/api/containers", &admin(), None).await;
    assert!(!list.to_string().contains(&id), "{list}");
    ok("docker rm -f", docker(&["rm", "-f", &on_a, &on_b]));

    // A figure: `docker run -d` through the endpoint (scheduler, records)
    // against the same command on engine A directly, median of 5 each.
    let direct_env = vec![
        ("DOCKER_HOST", a.clone()),
        ("DOCKER_CONFIG", config.to_string_lossy().to_string()),
    ];
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..5 {
        for (i, env) in [&env, &direct_env].into_iter().enumerate() {
            let name = format!("{cluster}-t{i}-{round}");
            let started = std::time::Instant::now();
            ok(
                "docker run -d (timed)",
                run(
                    "docker",
                    &["run", "-d", "--name", &name, "-m", "16m", IMAGE, "true"],
                    env,
                    here,
                ),
            );
            times[i].push(started.elapsed());
            ok(
                "docker rm -f",
                run("docker", &["rm", "-f", &name], env, here),
            );
        }
    }
    for t in &mut times {
        t.sort();
    }
    println!(
        "docker run -d: through the cluster endpoint {:.0?}, on engine A directly {:.0?} (median of 5)",
        times[0][2], times[1][2]
    );

    // Volumes are made on every engine; networks listed from both.
    let volume = format!("{cluster}-vol");
    ok(
        "docker volume create",
        docker(&["volume", "create", &volume]),
    );
    let volumes = ok(
        "docker volume ls",
        docker(&["volume", "ls", "--format", "{{.Name}}"]),
    );
    assert!(volumes.lines().any(|l| l == volume), "{volumes}");
    ok("docker volume rm", docker(&["volume", "rm", &volume]));
    let volumes = ok(
        "docker volume ls",
        docker(&["volume", "ls", "--format", "{{.Name}}"]),
    );
    assert!(!volumes.lines().any(|l| l == volume), "{volumes}");
    let networks = ok(
        "docker network ls",
        docker(&["network", "ls", "--format", "{{.Name}}"]),
    );
    assert!(networks.lines().any(|l| l == "local/bridge"), "{networks}");
    assert!(networks.lines().any(|l| l == "b/bridge"), "{networks}");

    // No engine has 999 GiB: the scheduler says why, engine by engine.
    let refused = docker(&["run", "-d", "-m", "999g", IMAGE, "true"]);
    assert!(!refused.status.success());
    let why = text(&refused.stderr);
    assert!(why.contains("cannot place: 0/2 engines"), "{why}");
    assert!(why.contains("insufficient memory"), "{why}");
    assert!(why.contains("local:") && why.contains("b:"), "{why}");

    // The admission policy, as the docker CLI shows it to a `user`: the
    // host's network, a host path, a privileged container and a volume
    // that binds the host's root are refused, naming what they need.
    for (args, needs) in [
        (
            vec!["run", "-d", "--network", "host", IMAGE, "true"],
            "host-namespaces",
        ),
        (
            vec!["run", "-d", "-v", "/:/host", IMAGE, "true"],
            "host-binds",
        ),
        (
            vec!["run", "-d", "--privileged", IMAGE, "true"],
            "privileged",
        ),
        (
            vec!["run", "-d", "--pid", "host", IMAGE, "true"],
            "host-namespaces",
        ),
        (
            vec![
                "volume",
                "create",
                "-o",
                "type=none",
                "-o",
                "o=bind",
                "-o",
                "device=/",
                "hostroot",
            ],
            "volume-options",
        ),
    ] {
        let refused = docker(&args);
        assert!(!refused.status.success(), "{args:?} was admitted");
        let why = text(&refused.stderr);
        assert!(
            why.contains(&format!(
                "needs the capability {needs}, which role user does not hold"
            )),
            "{args:?}: {why}"
        );
    }
    let volumes = ok("docker volume ls", docker(&["volume", "ls", "-q"]));
    assert!(!volumes.lines().any(|l| l == "hostroot"), "{volumes}");

    // docker-compose: three services, one network (on one engine, so the
    // worker reaches the web server by its name), a volume.
    let project = format!("ep{}", std::process::id());
    std::fs::write(
        here.join("docker-compose.yml"),
        format!(
            r#"version: "3.7"
services:
  web:
    image: {IMAGE}
    command: ["httpd", "-f", "-p", "80"]
    mem_limit: 32m
    volumes: ["data:/data"]
  worker:
    image: {IMAGE}
    command: ["sh", "-c", "while true; do wget -q -O /dev/null http://web/ && echo reached-web; sleep 1; done"]
    depends_on: [web]
  cache:
    image: {IMAGE}
    command: ["sleep", "600"]
volumes:
  data: {{}}
"#
        ),
    )
    .unwrap();
    let compose = |args: &[&str]| {
        let mut all = vec!["-p", project.as_str()];
        all.extend_from_slice(args);
        run("docker-compose", &all, &env, here)
    };
    ok("docker-compose up -d", compose(&["up", "-d"]));
    let ps = ok(
        "docker ps",
        docker(&[
            "ps",
            "--filter",
            &format!("label=com.docker.compose.project={project}"),
            "--format",
            "{{.Names}}",
        ]),
    );
    assert_eq!(ps.lines().count(), 3, "{ps}");
    let worker = format!("{project}_worker_1");
    wait_for(
        "the worker to reach web",
        Duration::from_secs(30),
        || async { text(&docker(&["logs", &worker]).stdout).contains("reached-web") },
    )
    .await;
    ok("docker-compose down", compose(&["down", "-v"]));
    let ps = ok(
        "docker ps -a",
        docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=com.docker.compose.project={project}"),
            "--format",
            "{{.Names}}",
        ]),
    );
    assert_eq!(ps.trim(), "", "{ps}");
    let networks = ok(
        "docker network ls",
        docker(&["network", "ls", "--format", "{{.Name}}"]),
    );
    assert!(!networks.contains(&project), "{networks}");

    // curl over mutual TLS.
    let url = format!("https://{endpoint}/projects/");
    let c = |f: &str| certs.join(f).to_string_lossy().to_string();
    let curl = |extra: &[&str]| {
        let mut args = vec!["-sS", "-o", "-", "-w", "\n%{http_code}", "--cacert"];
        let ca = c("ca.pem");
        args.push(&ca);
        args.extend_from_slice(extra);
        args.push(&url);
        run("curl", &args, &[], here)
    };
    let (cert, key) = (c("cert.pem"), c("key.pem"));
    let listed = ok(
        "curl with the certificate",
        curl(&["--cert", &cert, "--key", &key]),
    );
    let (body, status) = listed.trim().rsplit_once('\n').unwrap();
    assert_eq!(status, "200", "{listed}");
    assert!(
        serde_json::from_str::<Value>(body).unwrap().is_array(),
        "{body}"
    );
    // No client certificate: the handshake fails.
    let none = curl(&[]);
    assert!(
        !none.status.success() || text(&none.stdout).ends_with("000"),
        "{none:?}"
    );
    // A certificate of another CA: the handshake fails too.
    ok(
        "openssl",
        run(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                "/CN=dev",
                "-days",
                "1",
                "-keyout",
                "other.key",
                "-out",
                "other.pem",
            ],
            &[],
            here,
        ),
    );
    let (ocert, okey) = (c("../other.pem"), c("../other.key"));
    let foreign = curl(&["--cert", &ocert, "--key", &okey]);
    assert!(
        !foreign.status.success() || text(&foreign.stdout).ends_with("000"),
        "{foreign:?}"
    );
    // Revoked (by the admin): refused at the next request, on a new
    // connection as on the docker CLI's.
    let serial = set["serial"].as_str().unwrap();
    let (s, v) = shipd
        .call(
            "DELETE",
            &format!("/clusters/{cluster}/certs/{serial}"),
            &admin(),
            None,
        )
        .await;
    assert_eq!(s, 204, "{v}");
    let revoked = ok(
        "curl with the revoked certificate",
        curl(&["--cert", &cert, "--key", &key]),
    );
    assert!(revoked.trim().ends_with("401"), "{revoked}");
    assert!(revoked.contains("revoked"), "{revoked}");
    let refused = docker(&["ps"]);
    assert!(!refused.status.success(), "{refused:?}");
    assert!(text(&refused.stderr).contains("revoked"), "{refused:?}");

    assert!(shipd.terminate().success(), "{}", shipd.log());
}
