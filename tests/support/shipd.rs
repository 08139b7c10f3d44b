//! `shipd` as a process: started on a free loopback port, called,
//! signalled, waited for.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::{call, client, Cred};

/// The `shipd` binary, built by `cargo test` with the tests.
pub fn shipd_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_shipd"))
}

pub struct Shipd {
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl Shipd {
    /// shipd on a free loopback port with its state in `data`.
    pub fn start(data: &Path, log: &Path, docker_host: &str, password: &str, json: bool) -> Shipd {
        let data = data.to_string_lossy().to_string();
        let format = if json { "json" } else { "text" };
        Shipd::spawn(
            &["--data", &data],
            &[
                ("SHIPD_ADMIN_PASSWORD", password),
                ("DOCKER_HOST", docker_host),
                ("SHIPD_LOG_FORMAT", format),
            ],
            log,
        )
    }

    /// shipd on a free loopback port with `args` and `env`, its output in
    /// `log`.
    pub fn spawn(args: &[&str], env: &[(&str, &str)], log: &Path) -> Shipd {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = std::fs::File::create(log).unwrap();
        let child = Command::new(shipd_binary())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap();
        Shipd {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log: log.to_path_buf(),
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        cred: &Cred,
        body: Option<&str>,
    ) -> (u16, Value) {
        call(&client(), &self.base, method, path, cred, body).await
    }

    /// Waits until it answers an authenticated request.
    pub async fn ready(&mut self, cred: &Cred) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "shipd exited: {}",
                self.log()
            );
            let url: axum::http::Uri = format!("{}/api/cluster/info", self.base).parse().unwrap();
            let up = tokio::net::TcpStream::connect(format!(
                "{}:{}",
                url.host().unwrap(),
                url.port_u16().unwrap()
            ))
            .await
            .is_ok();
            if up {
                let (status, body) = self.call("GET", "/api/cluster/info", cred, None).await;
                assert_eq!(status, 200, "{body}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "shipd did not start: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal_term();
        self.wait()
    }

    pub fn signal_term(&self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
    }

    /// Waits for the exit (20 s at most).
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "shipd ignored SIGTERM: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Shipd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The blob files under a registry's content folder, each checked to hold
/// the bytes of the digest it is named by; how many there are.
pub fn verified_blobs(root: &Path) -> usize {
    use sha2::Digest as _;
    let mut n = 0;
    let Ok(dirs) = std::fs::read_dir(root.join("blobs/sha256")) else {
        return 0;
    };
    for dir in dirs {
        for f in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            let path = f.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(
                format!("{:x}", sha2::Sha256::digest(&bytes)),
                name,
                "{} does not hold its digest's bytes",
                path.display()
            );
            n += 1;
        }
    }
    n
}
