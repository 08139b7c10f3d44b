//! The state every handler reaches ([`App`]): the cluster and access
//! services, the families' services the server runs (compose projects, the
//! registry, build projects), the request metrics, the limits and the
//! cached renderings. Below every family, so each imports it downwards.

use shipcore::access::Access;
use shipcore::cluster::Cluster;
use shipcore::registry::Registry;

use crate::metrics::Metrics;
use crate::rendered::Rendered;

/// The app's image registry and how it is reached.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    pub registry: Registry,
    /// The address clients name images by (`127.0.0.1:8080`): `docker tag
    /// HOST/project/app:1`. Shown by `/docker/ext/addr` and given to the
    /// engines as the host of the credentials they pull with.
    pub host: String,
    /// The largest blob accepted, in bytes.
    pub max_blob: u64,
    /// The endpoints told of its pushes, pulls and deletes.
    pub notifications: shipcore::registry::notify::Notifications,
}

impl RegistryOptions {
    /// Default largest blob: 64 GiB.
    pub const MAX_BLOB: u64 = 64 << 30;
}

/// What every handler reaches: the cluster service, the access service and
/// the request metrics. Cloned per request, so it is one `Arc`.
#[derive(Debug, Clone)]
pub struct App(std::sync::Arc<AppParts>);

/// What one request and the listener may take.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The longest a client may take to send a body (408 after).
    pub body_timeout: std::time::Duration,
    /// The longest a request may take to be answered (503 after; a
    /// streamed answer's body runs on).
    pub request_timeout: std::time::Duration,
    /// Connections served at once; the listener waits for one to end
    /// before it accepts more.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_timeout: std::time::Duration::from_secs(30),
            request_timeout: std::time::Duration::from_secs(15 * 60),
            max_connections: 1024,
        }
    }
}

/// The parts of [`App`].
#[derive(Debug)]
pub struct AppParts {
    pub cluster: Cluster,
    pub access: Access,
    pub metrics: Metrics,
    pub limits: Limits,
    /// Compose projects (seed 003), when the server runs them.
    pub projects: Option<shipcore::projects::Projects>,
    /// The image registry, when the server keeps one ([`App::with_registry`]).
    pub registry: std::sync::OnceLock<RegistryOptions>,
    /// Build projects (seed 002 part 1), when the server runs them
    /// ([`App::with_builds`]).
    pub builds: std::sync::OnceLock<shipcore::build::Builds>,
    /// The container list and the cluster info as last rendered.
    pub(crate) containers_json: Rendered,
    /// The container list as Shipyard's released CLI reads it.
    pub(crate) containers_cli_json: Rendered,
    pub(crate) info_json: Rendered,
}

impl std::ops::Deref for App {
    type Target = AppParts;
    fn deref(&self) -> &AppParts {
        &self.0
    }
}

impl App {
    pub fn new(cluster: Cluster, access: Access) -> Self {
        Self::with_limits(cluster, access, Limits::default())
    }

    /// An app that also serves compose projects (seed 003).
    pub fn with_projects(
        cluster: Cluster,
        access: Access,
        limits: Limits,
        projects: shipcore::projects::Projects,
    ) -> Self {
        Self::build(cluster, access, limits, Some(projects))
    }

    /// The app, keeping an image registry too (the distribution API, and
    /// the seed APIs that browse it). A registry is given once: a second
    /// is ignored.
    pub fn with_registry(self, registry: RegistryOptions) -> Self {
        if self.0.registry.set(registry).is_err() {
            tracing::warn!("the app keeps a registry already; the second is ignored");
        }
        self
    }

    /// The app, running build projects too (seed 002 part 1). Given once:
    /// a second is ignored.
    pub fn with_builds(self, builds: shipcore::build::Builds) -> Self {
        if self.0.builds.set(builds).is_err() {
            tracing::warn!("the app runs build projects already; the second is ignored");
        }
        self
    }

    pub fn with_limits(cluster: Cluster, access: Access, limits: Limits) -> Self {
        Self::build(cluster, access, limits, None)
    }

    fn build(
        cluster: Cluster,
        access: Access,
        limits: Limits,
        projects: Option<shipcore::projects::Projects>,
    ) -> Self {
        App(std::sync::Arc::new(AppParts {
            cluster,
            access,
            limits,
            projects,
            registry: Default::default(),
            builds: Default::default(),
            metrics: Default::default(),
            containers_json: Default::default(),
            containers_cli_json: Default::default(),
            info_json: Default::default(),
        }))
    }
}
