//! The compose corpus on a real engine: every file that docker-compose
//! 1.29 brings up here with the expected containers is brought up through
//! `POST /projects/` too, with the same services and container counts, and
//! comes to `running` where docker-compose's containers all run (or ran
//! to completion). A file in syntax newer than 1.29's schema (its
//! `config` refuses it) runs through `POST /projects/` alone, as compose
//! v2 documents it: the containers its expectation counts, `running`.
//!
//! The files name the images of public applications (postgres, nginx,
//! gunicorn apps…), and no outside registry is reachable. They are made
//! runnable offline as the corpus README says: one image built from the
//! test bed's busybox is tagged under every image the corpus names, with a
//! stand-in on its PATH for every program the files run that busybox
//! lacks (a server idles until stopped; a program a health check runs, or
//! one a service waits to complete, exits 0), and the users the files
//! name. Each file then runs unchanged, by docker-compose and by shipd, one
//! after the other on the same engine.

#![allow(clippy::unwrap_used)]

mod support;

#[path = "../shipcore/tests/support/corpus.rs"]
mod corpus;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shipcore::compose::{parse_with, ComposeFile, Condition, ParseOptions};
use shipcore::store::MemoryStore;
use support::http::{admin, Api};
use support::IMAGE;

const SHIM: &str = "shipcore/corpus-shim:latest";

/// How long one `docker` or `docker-compose` call of this test may take:
/// an engine that does not answer within it stops the test, naming the
/// call, instead of holding the run until CI's limit.
const CALL_LIMIT: &str = "120";

/// `program` under `timeout` (SIGTERM after `limit` seconds, SIGKILL 5 s
/// on); run it with [`finish`].
fn timed(limit: &str, program: &str) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", limit, program]);
    cmd
}

/// Runs a [`timed`] command; one that ran out of its time stops the test.
fn finish(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    // timeout's own statuses: 124 after SIGTERM, 137 after SIGKILL.
    if matches!(out.status.code(), Some(124 | 137)) {
        let words: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        panic!(
            "`{}` did not finish within {} s: its engine stopped answering",
            words[3..].join(" "),
            words[2]
        );
    }
    out
}

fn docker(host: &str, args: &[&str]) -> std::process::Output {
    finish(timed(CALL_LIMIT, "docker").arg("-H").arg(host).args(args))
}

/// One line of progress on the test's standard error, past the harness's
/// capture: a CI log shows how far a long run got.
fn progress(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "compose corpus: {line}");
}

/// A call to shipd that must answer within a minute (every handler has
/// its own limits; one that does not answer is a failure to name, not a
/// hang).
async fn call(api: &Api, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    match tokio::time::timeout(
        Duration::from_secs(60),
        api.call(method, path, &admin(), body),
    )
    .await
    {
        Ok(answer) => answer,
        Err(_) => panic!("shipd did not answer {method} {path} within 60 s"),
    }
}

/// The programs a command runs: its first word, and in a shell script
/// each word that starts a command (after `;`, `&&`, `||`, `|`, `exec`…).
fn programs(words: &[String], into: &mut BTreeSet<String>) {
    let Some(first) = words.first() else {
        return;
    };
    into.insert(first.clone());
    let shell = matches!(first.rsplit('/').next(), Some("sh" | "bash" | "ash"));
    if shell {
        if let Some(i) = words.iter().position(|w| w == "-c") {
            if let Some(script) = words.get(i + 1) {
                script_programs(script, into);
            }
        }
    }
}

fn script_programs(script: &str, into: &mut BTreeSet<String>) {
    let mut starts = true;
    for raw in script.split_whitespace() {
        let w = raw.trim_matches(|c| c == '(' || c == ')' || c == '"' || c == '\'');
        if starts && !w.is_empty() && !w.contains('=') {
            into.insert(w.trim_end_matches(';').to_string());
            starts = matches!(w, "exec" | "then" | "do" | "else" | "!" | "nohup");
        } else {
            starts = false;
        }
        if raw.ends_with(';') || matches!(raw, ";" | "&&" | "||" | "|" | "&") {
            starts = true;
        }
    }
}

/// How the stand-in names a run: `sha256sum` of its program's name (no
/// folder) and arguments, a line each.
fn run_hash(words: &[String]) -> String {
    use sha2::Digest as _;
    let mut text = String::new();
    for (i, w) in words.iter().enumerate() {
        text.push_str(if i == 0 {
            w.rsplit('/').next().unwrap_or(w)
        } else {
            w
        });
        text.push('\n');
    }
    format!("{:x}", sha2::Sha256::digest(text.as_bytes()))
}

/// A program name a stand-in can take: a plain name, or an absolute path.
fn standable(p: &str) -> bool {
    !p.is_empty()
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./+".contains(c))
        && !p.starts_with('-')
        && !p.contains("..")
}

/// What the corpus asks of the stand-in image.
#[derive(Default)]
struct Needs {
    images: BTreeSet<String>,
    /// Programs that idle until stopped (servers).
    servers: BTreeSet<String>,
    /// Programs of one-shot jobs (services others wait to complete).
    oneshot: BTreeSet<String>,
    /// One-shot jobs' main processes, each its program's name and
    /// arguments hashed (the stand-in hashes its own the same way): they
    /// exit 0, where the same program with other arguments serves
    /// (`python manage.py migrate` beside `python app.py`).
    oneshot_runs: BTreeSet<String>,
    /// Programs of health checks: they exit 0 when run beside the main
    /// process (`docker exec`), yet serve as a main process, where a
    /// service's command is the same program (`celery worker` checked by
    /// `celery inspect ping`).
    quick: BTreeSet<String>,
    users: BTreeSet<String>,
    groups: BTreeSet<String>,
}

impl Needs {
    fn add(&mut self, file: &ComposeFile) {
        let waited: BTreeSet<&String> = file
            .services
            .values()
            .flat_map(|s| s.depends_on.iter())
            .filter(|(_, c)| **c == Condition::ServiceCompletedSuccessfully)
            .map(|(name, _)| name)
            .collect();
        for (name, s) in &file.services {
            self.images.insert(s.image.clone());
            let mut run = BTreeSet::new();
            let mut words = s.entrypoint.clone().unwrap_or_default();
            words.extend(s.command.clone().unwrap_or_default());
            programs(&words, &mut run);
            if waited.contains(name) {
                self.oneshot.extend(run);
                self.oneshot_runs.insert(run_hash(&words));
            } else {
                self.servers.extend(run);
            }
            if let Some(h) = &s.healthcheck {
                let mut checks = BTreeSet::new();
                match h.test.first().map(String::as_str) {
                    Some("CMD") => programs(&h.test[1..], &mut checks),
                    Some("CMD-SHELL") => {
                        for script in &h.test[1..] {
                            script_programs(script, &mut checks);
                        }
                    }
                    _ => {}
                }
                self.quick.extend(checks);
            }
            let mut ids = s.user.splitn(2, ':');
            if let Some(u) = ids
                .next()
                .filter(|u| !u.is_empty() && u.parse::<u32>().is_err())
            {
                self.users.insert(u.to_string());
            }
            if let Some(g) = ids.next().filter(|g| g.parse::<u32>().is_err()) {
                self.groups.insert(g.to_string());
            }
        }
    }
}

/// Builds the stand-in image on `host` and tags it under every image the
/// corpus names.
fn build_shim(host: &str, needs: &Needs) {
    let applets: BTreeSet<String> =
        String::from_utf8_lossy(&docker(host, &["run", "--rm", IMAGE, "busybox", "--list"]).stdout)
            .lines()
            .map(str::to_string)
            .collect();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "idle",
        "#!/bin/sh\n# A server: runs until it is stopped.\ntrap 'exit 0' TERM INT\nwhile :; do sleep 3600 & wait $!; done\n",
    );
    write(
        "stand-in",
        "#!/bin/sh\n# A program the test image lacks. As the main process (PID 1) it serves,\n\
         # unless it is a one-shot job's run; beside it (a health check, a step of\n\
         # a one-shot script) it exits 0.\n\
         if [ $$ -eq 1 ]; then\n\
         \x20 sum=$(printf '%s\\n' \"${0##*/}\" \"$@\" | sha256sum)\n\
         \x20 grep -qx \"${sum%% *}\" /shim/oneshot && exit 0\n\
         \x20 exec /shim/idle\n\
         fi\n\
         case \" $(cat /shim/quick) \" in *\" ${0##*/} \"*) exit 0;; esac\n\
         exec /shim/idle\n",
    );
    write(
        "entry",
        "#!/bin/sh\n# No command, or flags for the image's own program: a server.\n[ $# -eq 0 ] && exec /shim/idle\ncase \"$1\" in -*) exec /shim/idle;; esac\n\
         # Busybox's sh runs its own applet for a bare name (its crond, not\n\
         # the stand-in PATH holds first): the file PATH finds is what runs.\n\
         p=\n\
         case \"$1\" in */*) ;; *) IFS=:; for d in $PATH; do [ -f \"$d/$1\" ] && [ -x \"$d/$1\" ] && { p=$d/$1; break; }; done; unset IFS;; esac\n\
         if [ -n \"$p\" ]; then shift; exec \"$p\" \"$@\"; fi\n\
         command -v \"$1\" >/dev/null 2>&1 || exec /shim/idle\nexec \"$@\"\n",
    );
    // Health checks' programs exit 0 even where busybox has them (a
    // `wget` of the server's own port finds no server here).
    let base_names = |set: &BTreeSet<String>| -> Vec<String> {
        set.iter()
            .filter(|p| standable(p))
            .map(|p| p.rsplit('/').next().unwrap_or(p).to_string())
            .collect()
    };
    let mut beside = base_names(&needs.quick);
    beside.extend(base_names(&needs.oneshot));
    write("quick", &beside.join(" "));
    let runs: Vec<&str> = needs.oneshot_runs.iter().map(String::as_str).collect();
    write("oneshot", &(runs.join("\n") + "\n"));
    let quick: Vec<&String> = needs
        .quick
        .iter()
        .chain(&needs.oneshot)
        .filter(|p| standable(p))
        .collect();
    let mut run = vec![
        "chmod 755 /shim/idle /shim/stand-in /shim/entry".to_string(),
        "mkdir -p /shim/bin".to_string(),
    ];
    let mut link = |p: &str| {
        let base = p.rsplit('/').next().unwrap_or(p);
        if p.starts_with('/') {
            let parent = &p[..p.len() - base.len()];
            run.push(format!(
                "mkdir -p {parent} && {{ [ -e {p} ] || ln -s /shim/stand-in {p}; }}"
            ));
        }
        run.push(format!("ln -sf /shim/stand-in /shim/bin/{base}"));
    };
    // Busybox's own servers stand in too: they need a configuration the
    // test image does not have (`crond -f` without crontabs exits 1).
    const DAEMONS: &[&str] = &[
        "crond", "httpd", "syslogd", "klogd", "ntpd", "inetd", "telnetd", "ftpd", "tftpd",
        "udhcpd", "dnsd",
    ];
    for p in needs.servers.iter().filter(|p| standable(p)) {
        let base = p.rsplit('/').next().unwrap_or(p);
        let daemon = DAEMONS.contains(&base);
        if daemon || (!applets.contains(base) && !matches!(base, "sh" | "busybox")) {
            link(p);
        }
    }
    for p in &quick {
        let base = p.rsplit('/').next().unwrap_or(p);
        if !matches!(base, "sh" | "busybox" | "exit" | "true" | "false") {
            link(p);
        }
    }
    for (i, u) in needs.users.iter().enumerate() {
        run.push(format!(
            "echo '{u}:x:{}:{}::/tmp:/bin/sh' >> /etc/passwd",
            2000 + i,
            2000 + i
        ));
    }
    for (i, g) in needs.groups.iter().chain(needs.users.iter()).enumerate() {
        run.push(format!("echo '{g}:x:{}:' >> /etc/group", 3000 + i));
    }
    let script = run.join("\n");
    write("setup.sh", &script);
    write(
        "Dockerfile",
        &format!(
            "FROM {IMAGE}\nCOPY idle stand-in entry quick oneshot setup.sh /shim/\nRUN sh /shim/setup.sh\n\
             ENV PATH=/shim/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n\
             WORKDIR /\nENTRYPOINT [\"/shim/entry\"]\nCMD []\n"
        ),
    );
    let out = docker(
        host,
        &["build", "-q", "-t", SHIM, &dir.path().to_string_lossy()],
    );
    assert!(
        out.status.success(),
        "the stand-in image: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The test image itself stays what the other tests expect.
    for image in needs.images.iter().filter(|i| *i != IMAGE) {
        let out = docker(host, &["tag", SHIM, image]);
        assert!(out.status.success(), "tag {image}");
    }
}

/// Containers by service, with a label naming the project, and whether
/// each runs or ran to completion, never restarted (a server that fails
/// and is restarted shows as running between its runs).
fn containers(
    hosts: &[&str],
    project_label: &str,
    service_label: &str,
    project: &str,
) -> (BTreeMap<String, u64>, Vec<String>) {
    let mut counts = BTreeMap::new();
    let mut bad = Vec::new();
    for host in hosts {
        let format = format!(
            "{{{{.Label \"{service_label}\"}}}}|{{{{.State}}}}|{{{{.Status}}}}|{{{{.Names}}}}|{{{{.ID}}}}"
        );
        let filter = format!("label={project_label}={project}");
        let ps = ["ps", "-a", "--filter", &filter, "--format", &format];
        let out = docker(host, &ps);
        let mut listed = String::from_utf8_lossy(&out.stdout).into_owned();
        if listed.contains("|Up Less than a second") {
            // A server that fails at its start (a daemon without its
            // configuration) has failed and been restarted a second on.
            std::thread::sleep(Duration::from_secs(1));
            listed = String::from_utf8_lossy(&docker(host, &ps).stdout).into_owned();
        }
        let ids: Vec<&str> = listed
            .lines()
            .filter_map(|l| l.rsplit('|').next())
            .collect();
        let mut args = vec!["inspect", "--format", "{{.Id}} {{.RestartCount}}"];
        args.extend(&ids);
        // Whether each restarted, by the short id `docker ps` shows.
        let restarted: BTreeMap<String, bool> = if ids.is_empty() {
            BTreeMap::new()
        } else {
            String::from_utf8_lossy(&docker(host, &args).stdout)
                .lines()
                .filter_map(|l| l.split_once(' '))
                .map(|(id, n)| (id.chars().take(12).collect(), n != "0"))
                .collect()
        };
        for line in listed.lines() {
            let parts: Vec<&str> = line.split('|').collect();
            let [svc, state, status, name, id] = parts[..] else {
                continue;
            };
            *counts.entry(svc.to_string()).or_insert(0) += 1;
            let done = state == "exited" && status.starts_with("Exited (0)");
            if state != "running" && !done {
                bad.push(format!("{name} {status}"));
            } else if restarted.get(id).copied().unwrap_or(false) {
                bad.push(format!("{name} {status}, restarted"));
            }
        }
    }
    (counts, bad)
}

/// The services the file runs (with its enabled profiles) and how many
/// containers each, as its expectation says.
fn expected_counts(expect: &Value) -> BTreeMap<String, u64> {
    expect["services"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v["replicas"].as_u64().unwrap_or(1)))
                .collect()
        })
        .unwrap_or_default()
}

fn down(dir: &Path, project: &str, host: &str, env: &BTreeMap<String, String>) {
    finish(
        timed(CALL_LIMIT, "docker-compose")
            .args(["-p", project, "down", "-v", "--remove-orphans", "-t", "1"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DOCKER_HOST", host)
            .envs(env)
            .current_dir(dir),
    );
}

/// What docker-compose made of a file.
enum Outcome {
    /// Its `config` refuses the file (newer syntax): the counts its
    /// expectation says.
    Newer(BTreeMap<String, u64>),
    /// Brought up: containers by service, those not running (nor done),
    /// and how long `up` took.
    Ran(BTreeMap<String, u64>, Vec<String>, Duration),
    /// Not brought up here, or not with the expected containers: why.
    LeftOut(String),
}

/// docker-compose 1.29 on one file, in a copy of its checkout.
struct ComposeRun {
    dir: std::path::PathBuf,
    project: String,
    profiles: Vec<String>,
    env: BTreeMap<String, String>,
    host: String,
    want: BTreeMap<String, u64>,
}

impl ComposeRun {
    fn compose(&self, extra: &[&str]) -> std::process::Output {
        let mut args = vec!["-p".to_string(), self.project.clone()];
        for p in &self.profiles {
            args.extend(["--profile".to_string(), p.clone()]);
        }
        args.extend(extra.iter().map(|a| a.to_string()));
        finish(
            timed("240", "docker-compose")
                .args(&args)
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("DOCKER_HOST", &self.host)
                .envs(&self.env)
                .current_dir(&self.dir),
        )
    }

    /// `up -d`, what it made, then `down -v`.
    fn run(&self) -> Outcome {
        if !self.compose(&["config", "-q"]).status.success() {
            return Outcome::Newer(self.want.clone());
        }
        let started = Instant::now();
        let up = self.compose(&["up", "-d", "-t", "1"]);
        let took = started.elapsed();
        let (theirs, bad) = containers(
            &[&self.host],
            "com.docker.compose.project",
            "com.docker.compose.service",
            &self.project,
        );
        down(&self.dir, &self.project, &self.host, &self.env);
        if up.status.success() && theirs == self.want {
            return Outcome::Ran(theirs, bad, took);
        }
        let text = String::from_utf8_lossy(&up.stderr);
        let errors: Vec<&str> = text.lines().filter(|l| l.contains("ERROR")).collect();
        let why = if errors.is_empty() {
            let last = text.lines().rev().find(|l| !l.trim().is_empty());
            last.unwrap_or_default().to_string()
        } else {
            errors.join(" / ")
        };
        Outcome::LeftOut(format!("{why} {theirs:?}"))
    }
}

/// What `POST /projects/` made of a file.
struct Shipd {
    status: u16,
    view: Value,
    ours: BTreeMap<String, u64>,
    ours_bad: Vec<String>,
    took: Duration,
}

async fn shipd_run(api: &Api, project: &str, host: &str, body: String) -> Shipd {
    let started = Instant::now();
    let (status, created) = call(api, "POST", "/projects/", Some(&body)).await;
    let view = if status == 201 {
        wait_settled(api, project, Duration::from_secs(240)).await
    } else {
        created
    };
    let took = started.elapsed();
    let (ours, ours_bad) = tokio::task::block_in_place(|| {
        containers(
            &[host],
            shipcore::projects::LABEL_PROJECT,
            "io.shipcore.project.service",
            project,
        )
    });
    Shipd {
        status,
        view,
        ours,
        ours_bad,
        took,
    }
}

async fn wait_settled(api: &Api, name: &str, limit: Duration) -> Value {
    let start = Instant::now();
    loop {
        let (status, view) = call(api, "GET", &format!("/projects/{name}"), None).await;
        let state = view["current_state"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if status == 200 && (state == "running" || state == "failed") || start.elapsed() > limit {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_runs_through_post_projects_as_docker_compose_runs_it() {
    let Some((a, b)) = support::engines() else {
        println!("SKIP: no engine");
        return;
    };
    let installed = Command::new("docker-compose")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        installed || std::env::var("CI").as_deref() != Ok("true"),
        "docker-compose is missing under CI=true"
    );
    if !installed {
        println!("SKIP: no docker-compose");
        return;
    }
    // The runnable files: accepted, with their models.
    let mut files = Vec::new();
    let mut needs = Needs::default();
    // `SHIPCORE_CORPUS_ONLY=05,27` runs those files only (to look at one).
    let only: Vec<String> = std::env::var("SHIPCORE_CORPUS_ONLY")
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    for yml in corpus::corpus() {
        if !only.is_empty()
            && !only
                .iter()
                .any(|o| corpus::fixture_name(&yml).starts_with(o.as_str()))
        {
            continue;
        }
        let expect = corpus::expectation(&yml);
        if expect.get("error").is_some() {
            continue;
        }
        let env = corpus::env_of(&expect);
        let extras = corpus::extras_of(&yml, &expect, None);
        let src = std::fs::read_to_string(&yml).unwrap();
        let model = parse_with(&src, &env, &ParseOptions { allow_binds: true }, &extras).unwrap();
        needs.add(&model);
        files.push((yml, expect, env, extras, src, model));
    }
    for host in [&a, &b] {
        build_shim(host, &needs);
    }
    // shipd's cluster has engine B only; docker-compose runs on A. A file
    // that holds nothing only one engine of the host may hold (fixed host
    // ports, a subnet of its own) runs on both at once.
    let fixture = shipcore::testing::Fixture::on(
        Arc::new(MemoryStore::new()),
        support::docker(),
        support::options("corpusrun", shipcore::sched::Strategy::Spread),
    )
    .await
    .unwrap();
    fixture
        .cluster
        .add_engine(support::record("b", &b, 4096, &["zone=b"]))
        .await
        .unwrap();
    let api = support::http::start(fixture).await;
    let mut compared = Vec::new();
    let mut left_out = Vec::new();
    let mut newer_syntax = Vec::new();
    let mut failures = Vec::new();
    // The whole run's budget (about 12 min here): a run past it has
    // engines in trouble, and stops with what it found instead of running
    // into CI's limit one bounded wait at a time.
    let budget = Duration::from_secs(
        std::env::var("SHIPCORE_CORPUS_BUDGET")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1800),
    );
    let run_started = Instant::now();
    for (i, (yml, expect, env, extras, src, model)) in files.iter().enumerate() {
        let fixture = corpus::fixture_name(yml);
        if run_started.elapsed() > budget {
            failures.push(format!(
                "the run took over {} s (SHIPCORE_CORPUS_BUDGET): stopped before {fixture}, {} of {} files done",
                budget.as_secs(),
                i,
                files.len()
            ));
            break;
        }
        let file_started = Instant::now();
        let project = format!("corpus{i:02}");
        // External networks are the engine's: made before, as their users
        // make them.
        let external: Vec<String> = model
            .networks
            .iter()
            .filter(|(_, n)| n.external)
            .map(|(k, n)| {
                if n.name.is_empty() {
                    k.clone()
                } else {
                    n.name.clone()
                }
            })
            .collect();
        for n in &external {
            for host in [&a, &b] {
                docker(host, &["network", "create", n]);
            }
        }
        // docker-compose, in a copy of the checkout, on engine A.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("docker-compose.yml"), src).unwrap();
        for (rel, text) in &extras.files {
            let to = dir.path().join(rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::write(&to, text).unwrap();
        }
        let run = ComposeRun {
            dir: dir.path().to_path_buf(),
            project: project.clone(),
            profiles: extras.profiles.clone(),
            env: env.clone(),
            host: a.clone(),
            want: expected_counts(expect),
        };
        // shipd: POST /projects/ with the same file, files and profiles.
        let body = json!({
            "name": project,
            "template": src,
            "environment": env,
            "files": extras.files,
            "profiles": extras.profiles,
        });
        let shipd = shipd_run(&api, &project, &b, body.to_string());
        let alone = model
            .services
            .values()
            .any(|s| s.ports.iter().any(|p| p.published.is_some()))
            || model.networks.values().any(|n| !n.ipam.is_empty());
        let (theirs, ours) = if alone {
            let theirs = run.run();
            let ours = match theirs {
                Outcome::LeftOut(_) => None,
                _ => Some(shipd.await),
            };
            (theirs, ours)
        } else {
            let (theirs, ours) =
                tokio::join!(tokio::task::spawn_blocking(move || run.run()), shipd);
            (theirs.unwrap(), Some(ours))
        };
        let compare = !matches!(theirs, Outcome::LeftOut(_));
        let (theirs, theirs_bad, compose_took) = match theirs {
            Outcome::Newer(want) => {
                newer_syntax.push(fixture.clone());
                (want, Vec::new(), Duration::ZERO)
            }
            Outcome::Ran(counts, bad, took) => (counts, bad, took),
            Outcome::LeftOut(why) => {
                left_out.push(format!("{fixture}: docker-compose: {why}"));
                (BTreeMap::new(), Vec::new(), Duration::ZERO)
            }
        };
        if let Some(Shipd {
            status,
            view,
            ours,
            ours_bad,
            took,
        }) = ours
        {
            let state = view["current_state"].as_str().unwrap_or_default();
            if compare {
                if status != 201
                    || ours != theirs
                    || (theirs_bad.is_empty() && (state != "running" || !ours_bad.is_empty()))
                {
                    failures.push(format!(
                        "{fixture}: POST /projects/ {status}, state {state:?}, containers {ours:?} (not running: {ours_bad:?}) / docker-compose {theirs:?} (not running: {theirs_bad:?}); {view}"
                    ));
                }
                println!(
                    "{fixture}: {} containers; docker-compose {:.1}s, shipd {:.1}s{}{}",
                    theirs.values().sum::<u64>(),
                    compose_took.as_secs_f64(),
                    took.as_secs_f64(),
                    if alone { "" } else { ", side by side" },
                    if theirs_bad.is_empty() {
                        String::new()
                    } else {
                        format!("; not running under either: {theirs_bad:?} / {ours_bad:?}")
                    }
                );
                compared.push(fixture.clone());
            }
            let path = format!("/projects/{project}?force=true&v=true");
            let (status, _) = call(&api, "DELETE", &path, None).await;
            assert!(status < 300, "DELETE {path}: {status}");
            let _ = std::fs::remove_dir_all(format!("/var/lib/shipcore/projects/{project}"));
        }
        for n in &external {
            for host in [&a, &b] {
                docker(host, &["network", "rm", n]);
            }
        }
        progress(&format!(
            "{}/{} {fixture} in {:.1} s ({:.0} s so far)",
            i + 1,
            files.len(),
            file_started.elapsed().as_secs_f64(),
            run_started.elapsed().as_secs_f64()
        ));
    }
    for host in [&a, &b] {
        if std::env::var("SHIPCORE_CORPUS_KEEP").is_ok() {
            break; // the tags stay, to look at a file by hand
        }
        for image in needs.images.iter().filter(|i| *i != IMAGE) {
            docker(host, &["rmi", image]);
        }
    }
    println!("newer than docker-compose 1.29, run as compose v2 documents them: {newer_syntax:?}");
    println!("left out (docker-compose does not bring them up here):");
    for l in &left_out {
        println!("  {l}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        !only.is_empty() || compared.len() >= 40,
        "only {} files compared: {compared:?}",
        compared.len()
    );
}
