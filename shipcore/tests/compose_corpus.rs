//! The compose corpus (`tests/fixtures/compose/` at the workspace root):
//! real-world compose files, each with the model it must parse to (or the
//! error it must be refused with), and, where docker-compose is installed,
//! the same normalised model as `docker-compose config` gives, key by key
//! (`support/spec_form.rs` reads both into one form).
//! A file is `NN-name.yml` beside `NN-name.expect.json`, or, when it needs
//! files next to it (`.env`, `env_file`, `extends`, `include`, secrets), a
//! folder `NN-name/` with `compose.yml`, `expect.json` and those files,
//! which the project carries as its files.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Map, Value};
#[path = "support/corpus.rs"]
mod corpus;
#[path = "support/spec_form.rs"]
mod spec_form;

use corpus::{corpus, env_of, expectation, extras_of, fixture_name, in_folder};
use shipcore::compose::{parse_with, ComposeFile, ParseOptions, ServiceDef};

/// A service in the corpus' canonical form.
fn canonical(s: &ServiceDef) -> Value {
    let mut m = Map::new();
    m.insert("image".into(), json!(s.image));
    m.insert("replicas".into(), json!(s.replicas));
    if let Some(c) = &s.command {
        m.insert("command".into(), json!(c));
    }
    if let Some(c) = &s.entrypoint {
        m.insert("entrypoint".into(), json!(c));
    }
    m.insert("environment".into(), json!(s.environment));
    let ports: Vec<String> = s
        .ports
        .iter()
        .map(|p| {
            let mut published = p.published.map(|n| n.to_string()).unwrap_or_default();
            if let Some(end) = p.published_end {
                published = format!("{published}-{end}");
            }
            format!("{}:{published}:{}/{}", p.host_ip, p.target, p.protocol)
        })
        .collect();
    m.insert("ports".into(), json!(ports));
    let expose: Vec<String> = s
        .expose
        .iter()
        .map(|e| format!("{}/{}", e.port, e.protocol))
        .collect();
    m.insert("expose".into(), json!(expose));
    let volumes: Vec<String> = s
        .volumes
        .iter()
        .map(|v| {
            let ro = if v.read_only { ":ro" } else { "" };
            format!("{}:{}:{}{ro}", v.kind.as_str(), v.source, v.target)
        })
        .collect();
    m.insert("volumes".into(), json!(volumes));
    m.insert("labels".into(), json!(s.labels));
    m.insert("deploy_labels".into(), json!(s.deploy_labels));
    let deps: BTreeMap<&String, &str> = s.depends_on.iter().map(|(k, c)| (k, c.as_str())).collect();
    m.insert("depends_on".into(), json!(deps));
    m.insert("links".into(), json!(s.links));
    m.insert("restart".into(), json!(s.restart));
    for (name, r) in [("limits", s.limits), ("reservations", s.reservations)] {
        let mut part = Map::new();
        if r.millicpus > 0 {
            part.insert("millicpus".into(), json!(r.millicpus));
        }
        if r.memory_mib > 0 {
            part.insert("memory_mib".into(), json!(r.memory_mib));
        }
        m.insert(name.into(), Value::Object(part));
    }
    if let Some(h) = &s.healthcheck {
        m.insert(
            "healthcheck".into(),
            if h.disable {
                json!({"disable": true})
            } else {
                json!({"test": h.test, "interval_ms": h.interval_ms, "timeout_ms": h.timeout_ms,
                       "retries": h.retries, "start_period_ms": h.start_period_ms})
            },
        );
    }
    m.insert("networks".into(), json!(s.networks));
    m.insert("addresses".into(), json!(s.addresses));
    m.insert("network_mode".into(), json!(s.network_mode));
    m.insert("hostname".into(), json!(s.hostname));
    m.insert("container_name".into(), json!(s.container_name));
    // Privileges and per-container options: only what the file sets.
    m.insert("host".into(), json!(s.host));
    m.insert("options".into(), json!(s.options));
    m.insert("working_dir".into(), json!(s.working_dir));
    m.insert("user".into(), json!(s.user));
    m.insert("stop_signal".into(), json!(s.stop_signal));
    if let Some(i) = s.init {
        m.insert("init".into(), json!(i));
    }
    if let Some(g) = s.stop_grace_period_ms {
        m.insert("stop_grace_period_ms".into(), json!(g));
    }
    m.insert("extensions".into(), json!(s.extensions));
    Value::Object(m)
}

fn check_model(name: &str, file: &ComposeFile, expect: &Value) {
    let want = expect["services"].as_object().expect("services");
    let got: Vec<&String> = file.services.keys().collect();
    let want_names: Vec<&String> = want.keys().collect();
    assert_eq!(got, want_names, "{name}: services");
    for (svc, fields) in want {
        let have = canonical(&file.services[svc]);
        let fields = fields.as_object().expect("service fields");
        for (key, value) in have.as_object().expect("object") {
            match fields.get(key) {
                Some(w) => assert_eq!(value, w, "{name}: service {svc}, {key}"),
                None => assert!(
                    spec_form::empty(value),
                    "{name}: service {svc}, {key} is {value} but the expectation leaves it out"
                ),
            }
        }
        for key in fields.keys() {
            assert!(
                have.get(key).is_some(),
                "{name}: unknown expectation field {key}"
            );
        }
    }
    for (section, names) in [
        ("volumes", file.volumes.keys().collect::<Vec<_>>()),
        ("networks", file.networks.keys().collect::<Vec<_>>()),
    ] {
        if let Some(w) = expect[section].as_array() {
            let mut w: Vec<&str> = w.iter().filter_map(Value::as_str).collect();
            w.sort_unstable();
            let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
            assert_eq!(names, w, "{name}: top-level {section}");
        }
    }
}

#[test]
fn corpus_parses_to_its_expected_model() {
    let files = corpus();
    assert!(files.len() >= 60, "the corpus has {} files", files.len());
    let (mut accepted, mut refused) = (0, 0);
    for yml in &files {
        let name = fixture_name(yml);
        let src = std::fs::read_to_string(yml).expect("read");
        let expect = expectation(yml);
        let opts = ParseOptions {
            allow_binds: expect["allow_binds"].as_bool().unwrap_or(false),
        };
        let extras = extras_of(yml, &expect, None);
        let result = parse_with(&src, &env_of(&expect), &opts, &extras);
        match expect.get("error") {
            Some(parts) => {
                let err = match result {
                    Ok(_) => panic!("{name}: accepted, but must be refused"),
                    Err(e) => e.to_string(),
                };
                for part in parts.as_array().expect("error list") {
                    let part = part.as_str().expect("string");
                    assert!(err.contains(part), "{name}: error {err:?} lacks {part:?}");
                }
                refused += 1;
            }
            None => {
                let file = result.unwrap_or_else(|e| panic!("{name}: {e}"));
                check_model(&name, &file, &expect);
                file.waves().expect("start order");
                accepted += 1;
            }
        }
    }
    assert!(
        accepted >= 25 && refused >= 5,
        "{accepted} accepted, {refused} refused"
    );
}

/// What `docker-compose config` prints for `yml`, and the folder it ran
/// in (relative bind sources come out absolute against it); `None` when
/// docker-compose refuses the file.
fn docker_compose_config(
    yml: &Path,
    env: &BTreeMap<String, String>,
) -> Option<(Value, tempfile::TempDir)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("docker-compose.yml");
    std::fs::copy(yml, &copy).expect("copy");
    if in_folder(yml) {
        // The files beside it, where docker-compose looks for them.
        for (rel, text) in extras_of(yml, &Value::Null, Some(Vec::new())).files {
            let to = dir.path().join(&rel);
            std::fs::create_dir_all(to.parent()?).ok()?;
            std::fs::write(&to, text).ok()?;
        }
    }
    let out = std::process::Command::new("docker-compose")
        .args(["-f", copy.to_str()?, "-p", "corpus", "config"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .current_dir(dir.path())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let config: Value = serde_saphyr::from_str(&String::from_utf8_lossy(&out.stdout))
        .expect("docker-compose prints YAML");
    Some((config, dir))
}

/// `$$` as the container sees it: docker-compose 1.29's `config` keeps
/// the escape in the values it prints, the engine gets one `$`.
fn unescaped(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace("$$", "$")),
        Value::Array(a) => Value::Array(a.into_iter().map(unescaped).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, unescaped(v))).collect()),
        other => other,
    }
}

/// The table test: for every file docker-compose 1.29 accepts, the
/// normalised model (`GET /projects/{name}/config`) and `docker-compose
/// config` agree, service by service and key by key, and on the
/// top-level networks and volumes.
#[test]
fn corpus_agrees_with_docker_compose_config_key_by_key() {
    let installed = std::process::Command::new("docker-compose")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "docker-compose is missing under CI=true"
        );
        println!("SKIP: no docker-compose");
        return;
    }
    let mut compared = 0;
    let mut failures = Vec::new();
    for yml in corpus() {
        let expect = expectation(&yml);
        if expect.get("error").is_some() {
            continue;
        }
        let env = env_of(&expect);
        let Some((reference, dir)) = docker_compose_config(&yml, &env) else {
            continue; // docker-compose 1.29 refuses it (see the corpus README)
        };
        let root = dir.path().to_string_lossy().to_string();
        let reference = unescaped(reference);
        let src = std::fs::read_to_string(&yml).expect("read");
        let opts = ParseOptions { allow_binds: true };
        // docker-compose 1.29's `config` lists every service, whatever its
        // profiles: compared with every profile enabled.
        let all = extras_of(&yml, &expect, Some(vec!["*".to_string()]));
        let ours = parse_with(&src, &env, &opts, &all)
            .expect("accepted")
            .to_spec("corpus");
        let name = fixture_name(&yml);
        let theirs_services = reference["services"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let ours_services = ours["services"].as_object().cloned().unwrap_or_default();
        let names = |m: &Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
        if names(&theirs_services) != names(&ours_services) {
            failures.push(format!(
                "{name}: services {:?} / docker-compose {:?}",
                names(&ours_services),
                names(&theirs_services)
            ));
            continue;
        }
        for (svc, theirs) in &theirs_services {
            let a = spec_form::service(&ours_services[svc], &root);
            let b = spec_form::service(theirs, &root);
            for key in a
                .keys()
                .chain(b.keys())
                .collect::<std::collections::BTreeSet<_>>()
            {
                if a.get(key) != b.get(key) {
                    failures.push(format!(
                        "{name}: service {svc}, {key}: shipcore {} / docker-compose {}",
                        a.get(key).unwrap_or(&Value::Null),
                        b.get(key).unwrap_or(&Value::Null)
                    ));
                }
            }
        }
        for section in ["networks", "volumes"] {
            if section == "volumes" && reference["version"] == json!("1") {
                // Version 1 has no top-level volumes: a named one is the
                // engine's name, which shipcore writes as `name`.
                continue;
            }
            let a = spec_form::section(&ours[section]);
            let b = spec_form::section(&reference[section]);
            if a != b {
                failures.push(format!(
                    "{name}: {section}: shipcore {a:?} / docker-compose {b:?}"
                ));
            }
        }
        compared += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        compared >= 20,
        "only {compared} files compared with docker-compose"
    );
}
