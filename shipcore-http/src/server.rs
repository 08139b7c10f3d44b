//! The one place a server is assembled: given the state store, the cluster
//! and the access service, the families' services (compose projects, the
//! image registry, build projects) are opened, wired to each other (the
//! engines' pull password and the builder's push password for the
//! registry) and mounted into one [`App`]. `shipd`, the workspace's test
//! support and the benches build their servers here, so what they serve is
//! the same; only where the state lives and which engines answer differ.

use std::path::PathBuf;
use std::sync::Arc;

use shipcore::access::Access;
use shipcore::build::{Builds, BuildsOptions, Plugins};
use shipcore::cluster::Cluster;
use shipcore::engine::RegistryAuth;
use shipcore::model::{BUILDER_USER, ENGINE_USER};
use shipcore::projects::{Projects, ProjectsOptions};
use shipcore::registry::notify::{Notifications, NotifyOptions, Source};
use shipcore::registry::{BlobStore, Registry};
use shipcore::store::Store;

use crate::app::{App, Limits, RegistryOptions};
use crate::Error;

/// How a server is made beyond its store, cluster and access service.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub limits: Limits,
    /// The folder the registry keeps its bytes in.
    pub content: PathBuf,
    /// How the engines (and clients) name the registry: `HOST:PORT` of the
    /// listener as the engines reach it.
    pub registry_host: String,
    /// The largest blob the registry takes, in bytes.
    pub max_blob: u64,
    /// How often the registry collects garbage (an hour by default).
    pub registry_gc_every: std::time::Duration,
    pub projects: ProjectsOptions,
    /// Build projects' options; the registry host and the builder's push
    /// credentials are filled in here.
    pub builds: BuildsOptions,
}

impl ServerOptions {
    /// The defaults, with the registry's bytes under `content` and named
    /// `registry_host`.
    pub fn new(content: impl Into<PathBuf>, registry_host: impl Into<String>) -> Self {
        ServerOptions {
            limits: Limits::default(),
            content: content.into(),
            registry_host: registry_host.into(),
            max_blob: RegistryOptions::MAX_BLOB,
            registry_gc_every: std::time::Duration::from_secs(3600),
            projects: ProjectsOptions::default(),
            builds: BuildsOptions::default(),
        }
    }
}

/// A server's services and the app that serves them.
#[derive(Debug, Clone)]
pub struct Server {
    pub app: App,
    pub projects: Projects,
    pub registry: Registry,
    /// The registry's notifications (started with the server).
    pub notifications: Notifications,
    pub builds: Builds,
    /// How often the registry's maintenance runs.
    registry_gc_every: std::time::Duration,
}

impl Server {
    /// Opens the families' services over `store` and mounts them: compose
    /// projects, the registry (its bytes under `opts.content`; the engines
    /// pull from it with the password of `shipcore-engine`) and build
    /// projects (pushed with the password of `shipcore-builder`). Nothing
    /// runs in the background until [`Server::start`].
    pub async fn assemble(
        store: Arc<dyn Store>,
        cluster: Cluster,
        access: Access,
        opts: ServerOptions,
    ) -> Result<Self, Error> {
        let clock = cluster.options().clock.clone();
        let registry_gc_every = opts.registry_gc_every;
        let projects = Projects::open(store.clone(), cluster.clone(), opts.projects).await?;
        let blobs = BlobStore::open(&opts.content).await?;
        let registry = Registry::new(store.clone(), blobs, clock.clone())
            .with_events(cluster.events().clone());
        let notifications = Notifications::new(
            store.clone(),
            cluster.events().clone(),
            Arc::new(crate::outbound::Outbound::new()?),
            NotifyOptions {
                source: Source {
                    addr: opts.registry_host.clone(),
                    instance_id: format!("shipd@{}", opts.registry_host),
                },
                ..NotifyOptions::default()
            },
        );
        cluster.registry_credentials().set(RegistryAuth {
            username: ENGINE_USER.into(),
            password: access.engine_pull_secret().await?,
            server: opts.registry_host.clone(),
        });
        let builds = Builds::new(
            store,
            cluster.clone(),
            registry.clone(),
            clock,
            Plugins::builtin(),
            BuildsOptions {
                registry_host: opts.registry_host.clone(),
                push_auth: Some(RegistryAuth {
                    username: BUILDER_USER.into(),
                    password: access.builder_push_secret().await?,
                    server: opts.registry_host.clone(),
                }),
                ..opts.builds
            },
        );
        let app = App::with_projects(cluster, access, opts.limits, projects.clone())
            .with_registry(RegistryOptions {
                registry: registry.clone(),
                host: opts.registry_host,
                max_blob: opts.max_blob,
                notifications: notifications.clone(),
            })
            .with_builds(builds.clone());
        Ok(Server {
            app,
            projects,
            registry,
            notifications,
            builds,
            registry_gc_every,
        })
    }

    /// Starts what the families run in the background: the projects'
    /// reconcile round, the registry's maintenance (old uploads, garbage
    /// collection) and notifications, and the build workers. A server whose store other
    /// replicas share does not start them (see the README's limits).
    pub async fn start(&self) -> Result<Vec<tokio::task::JoinHandle<()>>, Error> {
        let mut running = vec![
            self.projects.spawn_reconcile(),
            self.registry.spawn_maintenance(self.registry_gc_every),
        ];
        self.notifications.start().await?;
        running.extend(self.builds.start().await?);
        Ok(running)
    }
}
