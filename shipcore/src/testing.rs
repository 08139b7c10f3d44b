//! A cluster for tests and benches (feature `testing`): a memory store, a
//! cluster over a connector (fake engines by default), and the access
//! service with an admin account and an admin service key. The one fixture
//! the facade's tests, the junk-request test, the workspace's HTTP tests and
//! the API bench build on.

use std::sync::Arc;

use crate::access::Access;
use crate::cluster::{Cluster, ClusterOptions};
use crate::engine::fake::FakeConnector;
use crate::engine::Connector;
use crate::error::Result;
use crate::model::EngineRecord;
use crate::store::{MemoryStore, Store};

/// The admin password of every fixture.
pub const ADMIN_PASSWORD: &str = "adminpw";

/// A cluster with its store and access service.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub store: Arc<dyn Store>,
    pub cluster: Cluster,
    pub access: Access,
    /// A service key of the `admin` role.
    pub admin_key: String,
    /// The fake engines, when the fixture was made over them.
    pub fakes: Option<Arc<FakeConnector>>,
}

impl Fixture {
    /// `engines` fake engines `e0`, `e1`, ... of `cpus` millicpus and
    /// `memory` MiB, holding `images`.
    pub async fn fake(engines: usize, cpus: u64, memory: u64, images: &[&str]) -> Result<Self> {
        let fakes = Arc::new(FakeConnector::new(cpus, memory, images));
        let mut f = Self::over(fakes.clone(), ClusterOptions::default()).await?;
        for i in 0..engines {
            let id = format!("e{i}");
            f.cluster
                .add_engine(EngineRecord::new(&id, "unix:///fake.sock"))
                .await?;
        }
        f.fakes = Some(fakes);
        Ok(f)
    }

    /// A cluster without engines over `connector`, on a memory store.
    pub async fn over(connector: Arc<dyn Connector>, opts: ClusterOptions) -> Result<Self> {
        Self::on(Arc::new(MemoryStore::new()), connector, opts).await
    }

    /// A cluster over `connector` on `store` (which may hold one already).
    pub async fn on(
        store: Arc<dyn Store>,
        connector: Arc<dyn Connector>,
        opts: ClusterOptions,
    ) -> Result<Self> {
        let cluster = Cluster::open(store.clone(), connector, opts).await?;
        let access = Access::new(store.clone()).with_events(cluster.events().clone());
        access.bootstrap(Some(ADMIN_PASSWORD.into())).await?;
        let admin_key = access.create_service_key("fixture", "admin").await?.key;
        Ok(Fixture {
            store,
            cluster,
            access,
            admin_key,
            fakes: None,
        })
    }

    /// The fake engine `id` (a fixture made over fake engines only).
    pub fn engine(&self, id: &str) -> Option<crate::engine::fake::FakeEngine> {
        self.fakes.as_ref().map(|f| f.engine(id))
    }
}

/// Whether this is a CI run: `CI` set to anything but empty, `false` or `0`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "false" | "0"))
}

/// A part of the test bed named by an environment variable (`scripts/engines
/// up` exports them: `SHIPCORE_ENGINE_A`, `SHIPCORE_REGISTRY`, ...). Without
/// it a test prints `SKIP: no engine` and returns early, except in CI, where
/// a test bed that is not up fails the test.
pub fn testbed(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if in_ci() => {
            panic!("{var} is not set and this is CI: the test bed must be up (scripts/engines up)")
        }
        _ => {
            println!("SKIP: no engine ({var} not set; run eval \"$(scripts/engines up)\")");
            None
        }
    }
}
