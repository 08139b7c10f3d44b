//! Networks across the engines: each lives on one engine.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Cluster {
    /// Every engine's networks, each named as the whole cluster names it.
    pub async fn cluster_networks(&self) -> Vec<ClusterNetwork> {
        let all = self.engine_networks().await;
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, n) in &all {
            *count.entry(n.name.as_str()).or_default() += 1;
        }
        let names: Vec<String> = all
            .iter()
            .map(|(engine, n)| {
                if count.get(n.name.as_str()).copied().unwrap_or(0) > 1 {
                    qualified(engine, &n.name)
                } else {
                    n.name.clone()
                }
            })
            .collect();
        all.into_iter()
            .zip(names)
            .map(|((engine, info), name)| ClusterNetwork { name, engine, info })
            .collect()
    }

    /// The networks of every engine that answers, with the engine's id.
    pub async fn engine_networks(&self) -> Vec<(String, NetworkInfo)> {
        gather(self.live_engines().await, |b| async move {
            b.list_networks().await
        })
        .await
    }

    /// A network by id, id prefix, name or `ENGINE/NAME`, with its engine.
    pub async fn locate_network(&self, reference: &str) -> Result<(String, NetworkInfo)> {
        let (engine, name) = split_qualified(reference);
        let found: Vec<(String, NetworkInfo)> = self
            .engine_networks()
            .await
            .into_iter()
            .filter(|(e, _)| engine.is_none_or(|want| want == e))
            .filter(|(_, n)| n.name == name || n.id == name)
            .collect();
        let found = if found.is_empty() && name.len() >= 3 {
            self.engine_networks()
                .await
                .into_iter()
                .filter(|(e, n)| engine.is_none_or(|want| want == e) && n.id.starts_with(name))
                .collect()
        } else {
            found
        };
        let count = found.len();
        let mut found = found.into_iter();
        match (found.next(), count) {
            (Some(one), 1) => Ok(one),
            (None, _) => Err(Error::missing("network", reference)),
            _ => Err(Error::Ambiguous {
                kind: "network".into(),
                prefix: reference.into(),
                count,
            }),
        }
    }

    /// Makes a network on one engine (the one the scheduler would choose
    /// for an empty request); containers that join it are placed there.
    /// Its name must be free on every engine.
    /// It is admitted for `owner` (drivers other than `bridge` need the
    /// `network-drivers` capability) and carries this cluster's identity.
    pub async fn create_network_somewhere(
        &self,
        spec: &NetworkSpec,
        owner: &Owner,
    ) -> Result<(String, String)> {
        check_labels("Labels", spec.labels.keys())?;
        admit(owner, &network_wants("Driver", &spec.driver, false))?;
        let mut spec = spec.clone();
        spec.labels
            .insert(LABEL_CLUSTER.into(), self.inner.identity.clone());
        spec.labels.insert(
            crate::cluster::docs::LABEL_ACCOUNT.into(),
            owner.name.clone(),
        );
        let spec = &spec;
        match self.locate_network(&spec.name).await {
            Ok((engine, _)) => {
                return Err(Error::Exists {
                    kind: "network".into(),
                    id: format!("{} (on engine {engine})", spec.name),
                })
            }
            Err(Error::Missing { .. }) => {}
            Err(Error::Ambiguous { .. }) => {
                return Err(Error::Exists {
                    kind: "network".into(),
                    id: spec.name.clone(),
                })
            }
            Err(e) => return Err(e),
        }
        let placement = self.plan_request(&Request::new("", 0, 0)).await?;
        let engine = placement
            .assignments
            .first()
            .map(|a| a.engine.clone())
            .ok_or_else(|| Error::Unavailable {
                reason: "no engine can take a network".into(),
                retry_after: 5,
            })?;
        let id = self.backend(&engine).await?.create_network(spec).await?;
        Ok((engine, id))
    }

    /// Connects a container to a network (or with `connect` false,
    /// disconnects it); both must be on one engine.
    pub async fn network_attach(
        &self,
        network: &str,
        container: &str,
        connect: bool,
        aliases: &[String],
        force: bool,
    ) -> Result<()> {
        let (engine, net) = self.locate_network(network).await?;
        self.network_changeable(&net)?;
        let at = self.locate(container).await?;
        at.changeable()?;
        if at.engine != engine {
            return Err(Error::State {
                what: format!("container {}", at.id),
                state: format!("on engine {}", at.engine),
                reason: format!(
                    "network {} is on engine {engine}: a network joins containers of its own engine",
                    net.name
                ),
            });
        }
        if connect {
            at.backend
                .connect_network(
                    &net.id,
                    &at.id,
                    &crate::model::Endpoint::aliased(aliases.to_vec()),
                )
                .await
        } else {
            at.backend.disconnect_network(&net.id, &at.id, force).await
        }
    }

    /// Removes a network from its engine.
    pub async fn remove_network_any(&self, reference: &str) -> Result<()> {
        let (engine, net) = self.locate_network(reference).await?;
        if BUILT_IN_NETWORKS.contains(&net.name.as_str()) || !self.carries_identity(&net.labels) {
            return Err(foreign("network", &net.name));
        }
        self.backend(&engine).await?.remove_network(&net.id).await
    }

    /// A network containers may be joined to or taken from: this
    /// cluster's, or the engine's default bridge.
    pub(super) fn network_changeable(&self, net: &NetworkInfo) -> Result<()> {
        if net.name == "bridge" || self.carries_identity(&net.labels) {
            Ok(())
        } else {
            Err(foreign("network", &net.name))
        }
    }
}
