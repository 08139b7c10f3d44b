//! The engine backend: what the core needs from one Docker engine.
//!
//! [`EngineBackend`] is a small async trait so the services can be tested
//! against mocks (mockall's `MockEngineBackend` in unit tests) and fakes, and
//! so `shipcore-docker` can implement it over the Docker Engine API without
//! the core knowing anything about Docker's wire format. Streamed answers
//! (pull and push progress, build output, logs, events, image archives) are
//! `futures` streams of typed items.
//!
//! Errors are the core's: [`Error::NotFound`], [`Error::EngineConflict`],
//! [`Error::Unreachable`], [`Error::Timeout`], [`Error::Tls`] and
//! [`Error::EngineApi`] carry the engine they came from.
//!
//! A [`Connector`] makes a backend from an engine record: the services hold
//! one and never name an adapter. `fake.rs` (feature `testing`) has an
//! in-memory engine and its connector for simulated clusters.
//!
//! [`Error::NotFound`]: crate::Error::NotFound
//! [`Error::EngineConflict`]: crate::Error::EngineConflict
//! [`Error::Unreachable`]: crate::Error::Unreachable
//! [`Error::Timeout`]: crate::Error::Timeout
//! [`Error::Tls`]: crate::Error::Tls
//! [`Error::EngineApi`]: crate::Error::EngineApi

#[cfg(any(test, feature = "testing"))]
pub mod fake;
mod types;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::error::Result;
use crate::model::EngineRecord;
pub use types::*;

/// Makes a backend for an engine record. `shipcore-docker` provides the one
/// for Docker engines; tests provide fakes and mocks.
pub trait Connector: Send + Sync {
    fn connect(&self, record: &EngineRecord) -> Result<Arc<dyn EngineBackend>>;
}

/// A stream of items from an engine; it ends when the engine's answer ends.
pub type EngineStream<T> = BoxStream<'static, Result<T>>;

/// One Docker engine, as the core uses it. Implementations are cheap to
/// clone and share their connections.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait EngineBackend: Send + Sync {
    /// Answers when the engine is reachable and speaking its API.
    async fn ping(&self) -> Result<()>;
    /// Capacity, version and labels as the engine reports them.
    async fn info(&self) -> Result<EngineInfo>;

    /// Creates a container; returns its id.
    async fn create_container(&self, spec: &ContainerSpec) -> Result<String>;
    async fn start_container(&self, id: &str) -> Result<()>;
    /// Stops, killing after `timeout` (the engine's default when `None`).
    async fn stop_container(&self, id: &str, timeout: Option<Duration>) -> Result<()>;
    /// Sends a signal by name (`KILL`, `TERM`, `HUP`, ...).
    async fn kill_container(&self, id: &str, signal: &str) -> Result<()>;
    async fn restart_container(&self, id: &str, timeout: Option<Duration>) -> Result<()>;
    /// Removes a container; `force` kills it first, `volumes` removes its
    /// anonymous volumes too.
    async fn remove_container(&self, id: &str, force: bool, volumes: bool) -> Result<()>;
    async fn inspect_container(&self, id: &str) -> Result<ContainerDetails>;
    async fn list_containers(&self, filter: &ContainerFilter) -> Result<Vec<ContainerSummary>>;
    /// The container's output, stdout and stderr apart.
    fn logs(&self, id: &str, options: &LogOptions) -> EngineStream<LogChunk>;
    /// Waits until the container is not running (with `next_exit`: until
    /// it has been started and has exited again); its exit code.
    async fn wait_container(&self, id: &str, next_exit: bool) -> Result<i64>;

    /// Pulls `reference` (`name:tag` or `name@digest`), with progress.
    fn pull_image(&self, reference: &str, auth: Option<RegistryAuth>) -> EngineStream<Progress>;
    /// Pushes `reference` to the registry its name points at, with progress.
    fn push_image(&self, reference: &str, auth: Option<RegistryAuth>) -> EngineStream<Progress>;
    async fn list_images(&self) -> Result<Vec<ImageSummary>>;
    async fn inspect_image(&self, reference: &str) -> Result<ImageDetails>;
    async fn remove_image(&self, reference: &str, force: bool) -> Result<()>;
    /// Gives image `source` the name `target` (`repo:tag`).
    async fn tag_image(&self, source: &str, target: &str) -> Result<()>;
    /// The images as a `docker save` tar archive.
    fn save_images(&self, references: &[String]) -> EngineStream<Vec<u8>>;
    /// Loads a `docker save` tar archive.
    async fn load_images(&self, archive: Vec<u8>) -> Result<()>;

    async fn create_volume(&self, spec: &VolumeSpec) -> Result<VolumeInfo>;
    async fn inspect_volume(&self, name: &str) -> Result<VolumeInfo>;
    async fn list_volumes(&self) -> Result<Vec<VolumeInfo>>;
    async fn remove_volume(&self, name: &str, force: bool) -> Result<()>;

    /// Creates a network; returns its id.
    async fn create_network(&self, spec: &NetworkSpec) -> Result<String>;
    /// Joins a container to a network, with its aliases and the addresses
    /// it asks for there.
    async fn connect_network(
        &self,
        network: &str,
        container: &str,
        endpoint: &crate::model::Endpoint,
    ) -> Result<()>;
    async fn disconnect_network(&self, network: &str, container: &str, force: bool) -> Result<()>;
    async fn remove_network(&self, network: &str) -> Result<()>;
    async fn list_networks(&self) -> Result<Vec<NetworkInfo>>;

    /// Builds an image from a tar build context, with its output.
    fn build_image(&self, context: Vec<u8>, options: &BuildOptions) -> EngineStream<BuildOutput>;

    /// The engine's event stream, from `since` (unix seconds) when given.
    fn events(&self, since: Option<i64>) -> EngineStream<EngineEvent>;
}
