//! What a bench needs on this machine, provisioned the way the test bed
//! is (`scripts/engines up`, `scripts/etcd up`, Debian's packages): a bench
//! run on a fresh machine measures, or stops naming what it could not
//! get, instead of printing SKIP and passing without a figure.

use std::path::PathBuf;
use std::process::Command;

/// The workspace root, where `scripts/` lies.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `export NAME=VALUE` lines a provisioning script prints.
fn exports(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches(['\'', '"']).to_string()))
        .collect()
}

/// Runs `scripts/NAME up` (installs what is missing, starts what is not
/// running; fast when all is up) and reads what it exports.
fn up(script: &str) -> Result<Vec<(String, String)>, String> {
    let out = Command::new(root().join("scripts").join(script))
        .arg("up")
        .output()
        .map_err(|e| format!("scripts/{script} up: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "scripts/{script} up failed ({}): {}",
            out.status,
            stderr.lines().last().unwrap_or_default()
        ));
    }
    Ok(exports(&String::from_utf8_lossy(&out.stdout)))
}

/// The test bed's parts, as `scripts/engines up` names them.
#[derive(Debug, Clone)]
pub struct TestBed(Vec<(String, String)>);

impl TestBed {
    /// One part's address (`SHIPCORE_ENGINE_A`, `SHIPCORE_REGISTRY`, ...).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The test bed's engines: those the environment names (after
/// `eval "$(scripts/engines up)"`), else brought up now.
pub fn engines() -> Result<TestBed, String> {
    if let Ok(a) = std::env::var("SHIPCORE_ENGINE_A") {
        let mut vars = vec![("SHIPCORE_ENGINE_A".to_string(), a)];
        vars.extend(
            std::env::vars()
                .filter(|(k, _)| k.starts_with("SHIPCORE_") && k != "SHIPCORE_ENGINE_A"),
        );
        return Ok(TestBed(vars));
    }
    let vars = up("engines")?;
    let bed = TestBed(vars);
    bed.get("SHIPCORE_ENGINE_A")
        .ok_or("scripts/engines up named no engine A")?;
    Ok(bed)
}

/// The 3-member etcd cluster's address (`SHIPCORE_ETCD`): the
/// environment's, else brought up now.
pub fn etcd() -> Result<String, String> {
    if let Ok(url) = std::env::var("SHIPCORE_ETCD") {
        if !url.is_empty() {
            return Ok(url);
        }
    }
    up("etcd")?
        .into_iter()
        .find(|(k, _)| k == "SHIPCORE_ETCD")
        .map(|(_, v)| v)
        .ok_or_else(|| "scripts/etcd up named no SHIPCORE_ETCD".to_string())
}

/// A command from a Debian package, installed when missing (as root, the
/// way the test bed's scripts install theirs).
pub fn command(name: &str, package: &str) -> Result<(), String> {
    // Found and started (its exit status aside: `wrk --version` is 1).
    let runs = |name: &str| Command::new(name).arg("--version").output().is_ok();
    if runs(name) {
        return Ok(());
    }
    eprintln!("provision: installing {package} (for {name})");
    let install = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !install(&["install", "-y", package]) {
        // The package lists may be stale or absent on a fresh machine.
        install(&["update"]);
        if !install(&["install", "-y", package]) {
            return Err(format!(
                "cannot install {package} with apt-get (root, Debian)"
            ));
        }
    }
    if runs(name) {
        Ok(())
    } else {
        Err(format!("{package} is installed, but {name} is not on PATH"))
    }
}

/// wrk, the HTTP load generator of the `api` and `auth_load` benches.
pub fn wrk() -> Result<(), String> {
    command("wrk", "wrk")
}

/// Stops the bench, naming what it could not get.
pub fn needed<T>(what: &str, got: Result<T, String>) -> T {
    got.unwrap_or_else(|e| {
        eprintln!("this bench needs {what}: {e}");
        std::process::exit(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_a_script_exports() {
        let out = "export SHIPCORE_ENGINE_A=unix:///var/run/docker.sock\nnoise\nexport SHIPCORE_REGISTRY='127.0.0.1:25000'\n";
        let bed = TestBed(exports(out));
        assert_eq!(
            bed.get("SHIPCORE_ENGINE_A"),
            Some("unix:///var/run/docker.sock")
        );
        assert_eq!(bed.get("SHIPCORE_REGISTRY"), Some("127.0.0.1:25000"));
        assert_eq!(bed.get("SHIPCORE_ENGINE_B"), None);
    }
}
