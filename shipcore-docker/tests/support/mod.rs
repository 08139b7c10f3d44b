//! What the engine tests share: the test bed's engines from the environment
//! (`eval "$(scripts/engines up)"`), and the skip rule.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use shipcore_docker::{DockerEngine, EngineTarget, TlsMaterial};

pub const IMAGE: &str = "shipcore/busybox:latest";

/// The engine named by `var`, or `None` after printing `SKIP: no engine`.
/// Under `CI=true` a missing engine fails the test instead.
pub fn engine(var: &str) -> Option<DockerEngine> {
    let addr = shipcore::testing::testbed(var)?;
    let target = EngineTarget::new(var.to_lowercase(), addr).with_timeout(Duration::from_secs(20));
    Some(DockerEngine::new(&target).expect("test bed addresses are valid"))
}

/// The TLS engine's address and its certificate folder.
pub fn tls_engine() -> Option<(String, PathBuf)> {
    let addr = shipcore::testing::testbed("SHIPCORE_ENGINE_TLS")?;
    let certs = shipcore::testing::testbed("SHIPCORE_ENGINE_TLS_CERTS")?;
    Some((addr, PathBuf::from(certs)))
}

/// The test bed's registry (`host:port`).
pub fn registry() -> Option<String> {
    shipcore::testing::testbed("SHIPCORE_REGISTRY")
}

pub fn tls_material(dir: &std::path::Path) -> TlsMaterial {
    TlsMaterial::from_dir("tls", dir).expect("test bed certificates are readable")
}

/// A name unique to this test run.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos}", std::process::id())
}
