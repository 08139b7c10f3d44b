//! `DockerEngine`: the core's engine backend over the Docker Engine API,
//! through bollard.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bollard::query_parameters as q;
use futures::{stream, StreamExt, TryStreamExt};
use shipcore::engine::*;
use shipcore::Result;

use crate::connect::{Client, EngineTarget};
use crate::convert;

/// One Docker engine. Cheap to clone: clones share the client.
#[derive(Clone)]
pub struct DockerEngine {
    client: Client,
}

impl std::fmt::Debug for DockerEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerEngine")
            .field("engine", &self.client.origin.engine)
            .field("addr", &self.client.origin.addr)
            .finish()
    }
}

impl DockerEngine {
    /// A backend for the target. Nothing is sent yet: the first request
    /// connects and negotiates the API version, so an engine that is down
    /// now is reached once it is up.
    pub fn new(target: &EngineTarget) -> std::result::Result<Self, crate::Error> {
        Ok(DockerEngine {
            client: Client::new(target)?,
        })
    }

    /// The engine's id in the cluster.
    pub fn id(&self) -> &str {
        &self.client.origin.engine
    }

    /// Turns a stream of a request made on a negotiated client into a
    /// `'static` stream of core values; `start` builds the bollard stream.
    fn streamed<T, B, F, S, M>(
        &self,
        kind: &'static str,
        id: String,
        start: F,
        map: M,
    ) -> EngineStream<T>
    where
        T: Send + 'static,
        B: Send + 'static,
        F: FnOnce(bollard::Docker) -> S + Send + 'static,
        S: futures::Stream<Item = std::result::Result<B, bollard::errors::Error>> + Send + 'static,
        M: Fn(B) -> Result<Option<T>> + Send + Sync + 'static,
    {
        let client = self.client.clone();
        let origin = self.client.origin.clone();
        stream::once(async move {
            let docker = client.docker().await?.clone();
            Ok::<_, shipcore::Error>(start(docker))
        })
        .map_ok(move |s| {
            let origin = origin.clone();
            let id = id.clone();
            s.map_err(move |e| origin.error(kind, &id, e))
        })
        .try_flatten()
        .try_filter_map(move |item| futures::future::ready(map(item)))
        .boxed()
    }

    /// A client whose timeout also covers the engine's stop grace period
    /// (Docker's default is 10 s), so stopping a container that ignores
    /// SIGTERM is not mistaken for a silent engine.
    async fn patient(&self, grace: Option<Duration>) -> Result<bollard::Docker> {
        let d = self.client.docker().await?.clone();
        let grace = grace.unwrap_or(Duration::from_secs(10));
        Ok(d.with_timeout(self.client.timeout() + grace))
    }

    fn origin(&self) -> &crate::error::Origin {
        &self.client.origin
    }

    /// The engine's volume drivers: those `GET /info` lists (`local` and
    /// the plugins loaded) and the enabled managed plugins that are volume
    /// drivers.
    async fn volume_drivers(&self, d: &bollard::Docker) -> Result<Vec<String>> {
        let info = d
            .info()
            .await
            .map_err(|e| self.origin().error("engine", "", e))?;
        let mut drivers: Vec<String> = info.plugins.and_then(|p| p.volume).unwrap_or_default();
        let filters = std::collections::HashMap::from([(
            "capability".to_string(),
            vec!["volumedriver".to_string()],
        )]);
        let plugins = d
            .list_plugins(Some(q::ListPluginsOptions {
                filters: Some(filters),
            }))
            .await
            .map_err(|e| self.origin().error("plugin", "", e))?;
        drivers.extend(plugins.into_iter().filter(|p| p.enabled).map(|p| p.name));
        drivers.sort();
        drivers.dedup();
        Ok(drivers)
    }
}

/// Whether `driver` is one of `drivers`; a managed plugin is named with its
/// tag (`vieux/sshfs:latest`), which a driver may leave out.
fn has_driver(drivers: &[String], driver: &str) -> bool {
    drivers
        .iter()
        .any(|d| d == driver || d.strip_suffix(":latest") == Some(driver))
}

fn secs(t: Option<Duration>) -> Option<i32> {
    t.map(|d| i32::try_from(d.as_secs()).unwrap_or(i32::MAX))
}

/// `fromImage` and `tag` of a pull or push: the name, and the tag (`latest`
/// when none is given); a reference by digest pulls `name@digest`.
fn split_reference(reference: &str) -> Result<(String, Option<String>)> {
    let r = shipcore::model::ImageRef::parse(reference)?;
    Ok(match (&r.digest, r.tag_or_default()) {
        (Some(d), _) => (format!("{}@{d}", r.name()), None),
        (None, tag) => (r.name(), tag.map(str::to_string)),
    })
}

fn credentials(auth: Option<RegistryAuth>) -> Option<bollard::auth::DockerCredentials> {
    auth.map(|a| bollard::auth::DockerCredentials {
        username: Some(a.username),
        password: Some(a.password),
        serveraddress: (!a.server.is_empty()).then_some(a.server),
        ..Default::default()
    })
}

/// A stream item that carries an error message is the engine's failure.
fn progress_or_error(
    origin: &crate::error::Origin,
    error: Option<bollard::models::ErrorDetail>,
    p: Progress,
) -> Result<Option<Progress>> {
    match error {
        Some(e) => Err(origin.api(500, e.message.unwrap_or_else(|| "stream failed".into()))),
        None => Ok(Some(p)),
    }
}

#[async_trait]
impl EngineBackend for DockerEngine {
    async fn ping(&self) -> Result<()> {
        // A fresh connection: is the engine taking requests now?
        let d = self.client.probe().await?;
        d.ping()
            .await
            .map(|_| ())
            .map_err(|e| match self.origin().error("engine", "", e) {
                // A probe that gets no answer has not reached the engine.
                shipcore::Error::Timeout { seconds, .. } => self
                    .origin()
                    .unreachable(format!("no answer within {seconds}s")),
                other => other,
            })
    }

    async fn info(&self) -> Result<EngineInfo> {
        let d = self.client.docker().await?;
        let mut info = convert::info(
            d.info()
                .await
                .map_err(|e| self.origin().error("engine", "", e))?,
        );
        info.api_version = d.client_version().to_string();
        Ok(info)
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        let d = self.client.docker().await?;
        let options = q::CreateContainerOptions {
            name: spec.name.clone(),
            ..Default::default()
        };
        let created = d
            .create_container(Some(options), convert::create_body(spec))
            .await
            .map_err(|e| self.origin().error("image", &spec.image, e))?;
        if !spec.files.is_empty() {
            // Secrets and configs, in before the container starts; a
            // container that cannot take them is not left behind.
            let put = async {
                let archive = shipcore::engine::files_tar(&spec.files)
                    .map_err(|e| shipcore::Error::io("cannot pack the container's files", e))?;
                let options = q::UploadToContainerOptions {
                    path: "/".into(),
                    ..Default::default()
                };
                d.upload_to_container(
                    &created.id,
                    Some(options),
                    bollard::body_full(bytes::Bytes::from(archive)),
                )
                .await
                .map_err(|e| self.origin().error("container", &created.id, e))
            };
            if let Err(e) = put.await {
                let _ = self.remove_container(&created.id, true, true).await;
                return Err(e);
            }
        }
        Ok(created.id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        let d = self.client.docker().await?;
        d.start_container(id, None)
            .await
            .map_err(|e| self.origin().error("container", id, e))
    }

    async fn stop_container(&self, id: &str, timeout: Option<Duration>) -> Result<()> {
        let d = self.patient(timeout).await?;
        let options = q::StopContainerOptions {
            t: secs(timeout),
            ..Default::default()
        };
        d.stop_container(id, Some(options))
            .await
            .map_err(|e| self.origin().error("container", id, e))
    }

    async fn kill_container(&self, id: &str, signal: &str) -> Result<()> {
        let d = self.client.docker().await?;
        let options = q::KillContainerOptions {
            signal: signal.to_string(),
        };
        d.kill_container(id, Some(options))
            .await
            .map_err(|e| self.origin().error("container", id, e))
    }

    async fn restart_container(&self, id: &str, timeout: Option<Duration>) -> Result<()> {
        let d = self.patient(timeout).await?;
        let options = q::RestartContainerOptions {
            t: secs(timeout),
            ..Default::default()
        };
        d.restart_container(id, Some(options))
            .await
            .map_err(|e| self.origin().error("container", id, e))
    }

    async fn remove_container(&self, id: &str, force: bool, volumes: bool) -> Result<()> {
        let d = self.client.docker().await?;
        let options = q::RemoveContainerOptions {
            force,
            v: volumes,
            ..Default::default()
        };
        d.remove_container(id, Some(options))
            .await
            .map_err(|e| self.origin().error("container", id, e))
    }

    async fn inspect_container(&self, id: &str) -> Result<ContainerDetails> {
        let d = self.client.docker().await?;
        d.inspect_container(id, None)
            .await
            .map(convert::details)
            .map_err(|e| self.origin().error("container", id, e))
    }

    async fn wait_container(&self, id: &str, next_exit: bool) -> Result<i64> {
        // A wait lasts as long as the container runs: a day at most here
        // (the caller's own limits end it sooner).
        let d = self.patient(Some(Duration::from_secs(24 * 3600))).await?;
        let options = q::WaitContainerOptions {
            condition: if next_exit {
                "next-exit"
            } else {
                "not-running"
            }
            .into(),
        };
        let mut waits = d.wait_container(id, Some(options));
        match waits.next().await {
            Some(Ok(r)) => Ok(r.status_code),
            // bollard reports a non-zero exit as an error carrying the code.
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => Err(self.origin().error("container", id, e)),
            None => self.inspect_container(id).await.map(|d| d.state.exit_code),
        }
    }

    async fn list_containers(&self, filter: &ContainerFilter) -> Result<Vec<ContainerSummary>> {
        let d = self.client.docker().await?;
        let mut filters: HashMap<String, Vec<String>> = HashMap::new();
        if !filter.labels.is_empty() {
            filters.insert("label".into(), filter.labels.clone());
        }
        if let Some(name) = &filter.name {
            filters.insert("name".into(), vec![name.clone()]);
        }
        let options = q::ListContainersOptions {
            all: filter.all,
            filters: (!filters.is_empty()).then_some(filters),
            ..Default::default()
        };
        let list = d
            .list_containers(Some(options))
            .await
            .map_err(|e| self.origin().error("containers", "", e))?;
        Ok(list.into_iter().map(convert::summary).collect())
    }

    fn logs(&self, id: &str, options: &LogOptions) -> EngineStream<LogChunk> {
        let opts = q::LogsOptions {
            follow: options.follow,
            stdout: options.stdout,
            stderr: options.stderr,
            timestamps: options.timestamps,
            tail: options
                .tail
                .map_or_else(|| "all".to_string(), |n| n.to_string()),
            ..Default::default()
        };
        let id_owned = id.to_string();
        self.streamed(
            "container",
            id.to_string(),
            move |d| d.logs(&id_owned, Some(opts)),
            |out| {
                use bollard::container::LogOutput as L;
                Ok(match out {
                    L::StdOut { message } => Some(LogChunk {
                        stream: LogStream::Stdout,
                        data: message.to_vec(),
                    }),
                    L::StdErr { message } => Some(LogChunk {
                        stream: LogStream::Stderr,
                        data: message.to_vec(),
                    }),
                    L::Console { message } => Some(LogChunk {
                        stream: LogStream::Console,
                        data: message.to_vec(),
                    }),
                    L::StdIn { .. } => None,
                })
            },
        )
    }

    fn pull_image(&self, reference: &str, auth: Option<RegistryAuth>) -> EngineStream<Progress> {
        let (name, tag) = match split_reference(reference) {
            Ok(parts) => parts,
            Err(e) => return Box::pin(stream::once(async move { Err(e) })),
        };
        let options = q::CreateImageOptions {
            from_image: Some(name),
            tag,
            ..Default::default()
        };
        let origin = self.origin().clone();
        self.streamed(
            "image",
            reference.to_string(),
            move |d| d.create_image(Some(options), None, credentials(auth)),
            move |i| {
                progress_or_error(
                    &origin,
                    i.error_detail,
                    convert::progress(i.id, i.status, i.progress_detail),
                )
            },
        )
    }

    fn push_image(&self, reference: &str, auth: Option<RegistryAuth>) -> EngineStream<Progress> {
        let (name, tag) = match split_reference(reference) {
            Ok(parts) => parts,
            Err(e) => return Box::pin(stream::once(async move { Err(e) })),
        };
        let options = q::PushImageOptions {
            tag,
            ..Default::default()
        };
        let origin = self.origin().clone();
        self.streamed(
            "image",
            reference.to_string(),
            move |d| d.push_image(&name, Some(options), credentials(auth)),
            move |i| {
                progress_or_error(
                    &origin,
                    i.error_detail,
                    convert::progress(None, i.status, i.progress_detail),
                )
            },
        )
    }

    async fn list_images(&self) -> Result<Vec<ImageSummary>> {
        let d = self.client.docker().await?;
        let list = d
            .list_images(None::<q::ListImagesOptions>)
            .await
            .map_err(|e| self.origin().error("images", "", e))?;
        Ok(list.into_iter().map(convert::image_summary).collect())
    }

    async fn inspect_image(&self, reference: &str) -> Result<ImageDetails> {
        let d = self.client.docker().await?;
        d.inspect_image(reference)
            .await
            .map(convert::image_details)
            .map_err(|e| self.origin().error("image", reference, e))
    }

    async fn remove_image(&self, reference: &str, force: bool) -> Result<()> {
        let d = self.client.docker().await?;
        let options = q::RemoveImageOptions {
            force,
            ..Default::default()
        };
        d.remove_image(reference, Some(options), None)
            .await
            .map(|_| ())
            .map_err(|e| self.origin().error("image", reference, e))
    }

    async fn tag_image(&self, source: &str, target: &str) -> Result<()> {
        let d = self.client.docker().await?;
        let (repo, tag) = split_reference(target)?;
        let options = q::TagImageOptions {
            repo: Some(repo),
            tag,
        };
        d.tag_image(source, Some(options))
            .await
            .map_err(|e| self.origin().error("image", source, e))
    }

    fn save_images(&self, references: &[String]) -> EngineStream<Vec<u8>> {
        let refs = references.to_vec();
        self.streamed(
            "image",
            references.join(","),
            move |d| {
                let names: Vec<&str> = refs.iter().map(String::as_str).collect();
                // export_images copies what it needs before returning.
                d.export_images(&names)
            },
            |bytes| Ok(Some(bytes.to_vec())),
        )
    }

    async fn load_images(&self, archive: Vec<u8>) -> Result<()> {
        let d = self.client.docker().await?;
        let body = bollard::body_full(bytes::Bytes::from(archive));
        let mut out = d.import_image(q::ImportImageOptions::default(), body, None);
        while let Some(item) = out.next().await {
            let item = item.map_err(|e| self.origin().error("image", "archive", e))?;
            if let Some(e) = item.error_detail {
                return Err(self
                    .origin()
                    .api(500, e.message.unwrap_or_else(|| "load failed".into())));
            }
        }
        Ok(())
    }

    async fn create_volume(&self, spec: &VolumeSpec) -> Result<VolumeInfo> {
        let d = self.client.docker().await?;
        if !spec.driver.is_empty() && spec.driver != "local" {
            // Docker looks for a driver it does not know for 15 s before it
            // refuses: ask which it has instead.
            let drivers = self.volume_drivers(d).await?;
            if !has_driver(&drivers, &spec.driver) {
                // Docker's own answer for a driver it lacks: 404, plugin
                // not found.
                return Err(shipcore::Error::EngineApi {
                    engine: self.origin().engine.clone(),
                    status: 404,
                    message: format!(
                        "no volume driver {:?} (it has: {})",
                        spec.driver,
                        drivers.join(", ")
                    ),
                });
            }
        }
        let request = bollard::models::VolumeCreateRequest {
            name: Some(spec.name.clone()),
            driver: Some(if spec.driver.is_empty() {
                "local".into()
            } else {
                spec.driver.clone()
            }),
            driver_opts: Some(spec.driver_opts.clone().into_iter().collect()),
            labels: Some(spec.labels.clone().into_iter().collect()),
            ..Default::default()
        };
        d.create_volume(request)
            .await
            .map(convert::volume)
            .map_err(|e| self.origin().error("volume", &spec.name, e))
    }

    async fn inspect_volume(&self, name: &str) -> Result<VolumeInfo> {
        let d = self.client.docker().await?;
        d.inspect_volume(name)
            .await
            .map(convert::volume)
            .map_err(|e| self.origin().error("volume", name, e))
    }

    async fn list_volumes(&self) -> Result<Vec<VolumeInfo>> {
        let d = self.client.docker().await?;
        let list = d
            .list_volumes(None::<q::ListVolumesOptions>)
            .await
            .map_err(|e| self.origin().error("volumes", "", e))?;
        Ok(list
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(convert::volume)
            .collect())
    }

    async fn remove_volume(&self, name: &str, force: bool) -> Result<()> {
        let d = self.client.docker().await?;
        let options = q::RemoveVolumeOptions { force };
        d.remove_volume(name, Some(options))
            .await
            .map_err(|e| self.origin().error("volume", name, e))
    }

    async fn create_network(&self, spec: &NetworkSpec) -> Result<String> {
        let d = self.client.docker().await?;
        let request = bollard::models::NetworkCreateRequest {
            name: spec.name.clone(),
            driver: Some(if spec.driver.is_empty() {
                "bridge".into()
            } else {
                spec.driver.clone()
            }),
            labels: Some(spec.labels.clone().into_iter().collect()),
            options: (!spec.driver_opts.is_empty())
                .then(|| spec.driver_opts.clone().into_iter().collect()),
            internal: spec.internal.then_some(true),
            attachable: spec.attachable.then_some(true),
            enable_ipv6: spec.enable_ipv6.then_some(true),
            ipam: (!spec.ipam.is_empty() || !spec.ipam_driver.is_empty()).then(|| {
                bollard::models::Ipam {
                    driver: (!spec.ipam_driver.is_empty()).then(|| spec.ipam_driver.clone()),
                    config: Some(
                        spec.ipam
                            .iter()
                            .map(|p| bollard::models::IpamConfig {
                                subnet: Some(p.subnet.clone()),
                                ip_range: (!p.ip_range.is_empty()).then(|| p.ip_range.clone()),
                                gateway: (!p.gateway.is_empty()).then(|| p.gateway.clone()),
                                auxiliary_addresses: (!p.aux_addresses.is_empty())
                                    .then(|| p.aux_addresses.clone().into_iter().collect()),
                            })
                            .collect(),
                    ),
                    options: None,
                }
            }),
            ..Default::default()
        };
        let created = d.create_network(request).await.map_err(|e| match e {
            // The network is what is being made: Docker's 404 here is a
            // missing driver or, most often, no address pool left ("could
            // not find an available, non-overlapping IPv4 address pool").
            bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                message,
            } => shipcore::Error::EngineApi {
                engine: self.origin().engine.clone(),
                status: 404,
                message: format!("cannot create network {}: {}", spec.name, message.trim()),
            },
            e => self.origin().error("network", &spec.name, e),
        })?;
        Ok(created.id)
    }

    async fn connect_network(
        &self,
        network: &str,
        container: &str,
        endpoint: &shipcore::model::Endpoint,
    ) -> Result<()> {
        let d = self.client.docker().await?;
        let request = bollard::models::NetworkConnectRequest {
            container: container.to_string(),
            endpoint_config: Some(crate::convert::endpoint_settings(endpoint)),
        };
        d.connect_network(network, request).await.map_err(|e| {
            self.origin()
                .error("network or container", &format!("{network}/{container}"), e)
        })
    }

    async fn disconnect_network(&self, network: &str, container: &str, force: bool) -> Result<()> {
        let d = self.client.docker().await?;
        let request = bollard::models::NetworkDisconnectRequest {
            container: container.to_string(),
            force: Some(force),
        };
        d.disconnect_network(network, request).await.map_err(|e| {
            self.origin()
                .error("network or container", &format!("{network}/{container}"), e)
        })
    }

    async fn remove_network(&self, network: &str) -> Result<()> {
        let d = self.client.docker().await?;
        d.remove_network(network)
            .await
            .map_err(|e| self.origin().error("network", network, e))
    }

    async fn list_networks(&self) -> Result<Vec<NetworkInfo>> {
        let d = self.client.docker().await?;
        let list = d
            .list_networks(None)
            .await
            .map_err(|e| self.origin().error("networks", "", e))?;
        Ok(list
            .into_iter()
            .map(|n| NetworkInfo {
                id: n.id.unwrap_or_default(),
                name: n.name.unwrap_or_default(),
                driver: n.driver.unwrap_or_default(),
                labels: n.labels.unwrap_or_default().into_iter().collect(),
            })
            .collect())
    }

    fn build_image(&self, context: Vec<u8>, options: &BuildOptions) -> EngineStream<BuildOutput> {
        let opts = q::BuildImageOptions {
            t: (!options.tag.is_empty()).then(|| options.tag.clone()),
            dockerfile: if options.dockerfile.is_empty() {
                "Dockerfile".into()
            } else {
                options.dockerfile.clone()
            },
            nocache: options.no_cache,
            rm: true,
            buildargs: (!options.build_args.is_empty())
                .then(|| options.build_args.clone().into_iter().collect()),
            labels: (!options.labels.is_empty())
                .then(|| options.labels.clone().into_iter().collect()),
            // Limits of every build step's container (bytes, no swap on top;
            // the API takes 32-bit numbers).
            memory: (options.memory > 0)
                .then(|| i32::try_from(options.memory << 20).unwrap_or(i32::MAX)),
            memswap: (options.memory > 0)
                .then(|| i32::try_from(options.memory << 20).unwrap_or(i32::MAX)),
            cpuperiod: (options.cpus > 0).then_some(100_000),
            cpuquota: (options.cpus > 0)
                .then(|| i32::try_from(options.cpus.saturating_mul(100)).unwrap_or(i32::MAX)),
            ..Default::default()
        };
        let origin = self.origin().clone();
        let client = self.client.clone();
        // bollard's build stream borrows its client, so a task owns both and
        // forwards what the engine says.
        let (tx, rx) = futures::channel::mpsc::channel::<Result<BuildOutput>>(64);
        tokio::spawn(async move {
            let mut tx = tx;
            let docker = match client.docker().await {
                Ok(d) => d.clone(),
                Err(e) => {
                    let _ = futures::SinkExt::send(&mut tx, Err(e)).await;
                    return;
                }
            };
            let body = bollard::body_full(bytes::Bytes::from(context));
            let mut out = docker.build_image(opts, None, Some(body));
            while let Some(item) = out.next().await {
                let items: Vec<Result<BuildOutput>> = match item {
                    Err(e) => vec![Err(origin.error("build", "", e))],
                    Ok(info) => {
                        if let Some(e) = info.error_detail {
                            vec![Err(origin.api(
                                500,
                                e.message.unwrap_or_else(|| "build failed".into()),
                            ))]
                        } else {
                            let mut v = Vec::new();
                            if let Some(line) = info.stream.filter(|s| !s.trim().is_empty()) {
                                v.push(Ok(BuildOutput::Log(line.trim_end().to_string())));
                            }
                            if let Some(id) = info.aux.and_then(|a| a.id) {
                                v.push(Ok(BuildOutput::ImageId(id)));
                            }
                            v
                        }
                    }
                };
                for i in items {
                    let failed = i.is_err();
                    if futures::SinkExt::send(&mut tx, i).await.is_err() || failed {
                        return;
                    }
                }
            }
        });
        rx.boxed()
    }

    fn events(&self, since: Option<i64>) -> EngineStream<EngineEvent> {
        let options = q::EventsOptions {
            since: since.map(|s| s.to_string()),
            ..Default::default()
        };
        self.streamed(
            "events",
            String::new(),
            move |d| d.events(Some(options)),
            |e| {
                let actor = e.actor.unwrap_or_default();
                Ok(Some(EngineEvent {
                    kind: e.typ.map(|t| t.to_string()).unwrap_or_default(),
                    action: e.action.unwrap_or_default(),
                    id: actor.id.unwrap_or_default(),
                    attributes: actor.attributes.unwrap_or_default().into_iter().collect(),
                    time_nano: e.time_nano.unwrap_or(0),
                }))
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{has_driver, split_reference};

    #[test]
    fn volume_drivers() {
        let drivers = ["local".to_string(), "vieux/sshfs:latest".to_string()];
        assert!(has_driver(&drivers, "local"));
        assert!(has_driver(&drivers, "vieux/sshfs"));
        assert!(has_driver(&drivers, "vieux/sshfs:latest"));
        assert!(!has_driver(&drivers, "vieux/sshfs:1.0"));
        assert!(!has_driver(&drivers, "sshfs"));
        assert!(!has_driver(&drivers, ""));
    }

    #[test]
    fn references() {
        let by_digest = format!("busybox@sha256:{}", "ab".repeat(32));
        let cases = [
            ("busybox", ("busybox", Some("latest"))),
            ("busybox:1.36", ("busybox", Some("1.36"))),
            (
                "127.0.0.1:25000/shipcore/busybox",
                ("127.0.0.1:25000/shipcore/busybox", Some("latest")),
            ),
            (
                "127.0.0.1:25000/shipcore/busybox:v2",
                ("127.0.0.1:25000/shipcore/busybox", Some("v2")),
            ),
            (&by_digest, (by_digest.as_str(), None)),
        ];
        for (input, (name, tag)) in cases {
            assert_eq!(
                split_reference(input).unwrap(),
                (name.to_string(), tag.map(String::from)),
                "{input}"
            );
        }
        assert!(split_reference("busybox@sha256:abc").is_err());
        assert!(split_reference("Bad Name").is_err());
    }
}

/// Makes [`DockerEngine`]s for the cluster service from engine records.
#[derive(Debug, Clone)]
pub struct DockerConnector {
    /// Per-request timeout of every engine made.
    pub timeout: Duration,
}

impl Default for DockerConnector {
    fn default() -> Self {
        DockerConnector {
            timeout: crate::DEFAULT_TIMEOUT,
        }
    }
}

impl shipcore::engine::Connector for DockerConnector {
    fn connect(
        &self,
        record: &shipcore::model::EngineRecord,
    ) -> Result<std::sync::Arc<dyn EngineBackend>> {
        let target = EngineTarget::from_record(record).with_timeout(self.timeout);
        Ok(std::sync::Arc::new(DockerEngine::new(&target)?))
    }
}
