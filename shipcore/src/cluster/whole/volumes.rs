//! Volumes across the engines: a cluster volume is on every engine.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Cluster {
    /// The volumes of every engine that answers, with the engine's id.
    pub async fn engine_volumes(&self) -> Vec<(String, VolumeInfo)> {
        gather(self.live_engines().await, |b| async move {
            b.list_volumes().await
        })
        .await
    }

    /// Makes a volume on every engine that answers; if one refuses, the
    /// others' are removed again. It runs to its end in a task of its own,
    /// so a caller that goes away leaves it on every engine or on none.
    /// The volume is admitted for `owner` (driver options and drivers
    /// other than `local` need its `volume-options` capability), carries
    /// this cluster's identity, and takes no name another's volume holds.
    pub async fn create_volume_everywhere(
        &self,
        spec: &VolumeSpec,
        owner: &Owner,
    ) -> Result<VolumeInfo> {
        check_labels("Labels", spec.labels.keys())?;
        admit(
            owner,
            &volume_wants("DriverOpts", &spec.driver, !spec.driver_opts.is_empty()),
        )?;
        let mut spec = spec.clone();
        spec.labels
            .insert(LABEL_CLUSTER.into(), self.inner.identity.clone());
        let this = self.clone();
        tokio::spawn(async move { this.create_volume_on_all(&spec).await })
            .await
            .map_err(|e| Error::System {
                reason: format!("a volume's creation failed: {e}"),
            })?
    }

    pub(super) async fn create_volume_on_all(&self, spec: &VolumeSpec) -> Result<VolumeInfo> {
        let engines = self.live_engines().await;
        if engines.is_empty() {
            return Err(Error::Unavailable {
                reason: "no engine answers".into(),
                retry_after: 5,
            });
        }
        // Docker's create answers with a volume of that name that exists:
        // one of another cluster (or of none) is not taken over, and what
        // existed already is not removed by a rollback.
        let existing = futures::future::join_all(
            engines
                .iter()
                .map(|(_, b)| async move { b.inspect_volume(&spec.name).await }),
        )
        .await;
        let mut before = Vec::with_capacity(engines.len());
        for ((engine, _), found) in engines.iter().zip(existing) {
            match found {
                Ok(v) if !self.carries_identity(&v.labels) => {
                    return Err(Error::Exists {
                        kind: "volume".into(),
                        id: format!("{} (on engine {engine}, not this cluster's)", spec.name),
                    })
                }
                Ok(v) => before.push(Some(v)),
                Err(Error::NotFound { .. }) => before.push(None),
                Err(e) => return Err(e),
            }
        }
        let made = futures::future::join_all(engines.iter().zip(&before).map(
            |((_, b), had)| async move {
                match had {
                    Some(v) => Ok(v.clone()),
                    None => b.create_volume(spec).await,
                }
            },
        ))
        .await;
        if made.iter().any(|r| r.is_err()) {
            let mut first = None;
            for (((_, b), r), had) in engines.iter().zip(made).zip(&before) {
                match r {
                    Ok(_) if had.is_none() => {
                        let _ = b.remove_volume(&spec.name, false).await;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        first.get_or_insert(e);
                    }
                }
            }
            return Err(first.unwrap_or_else(|| Error::missing("volume", &spec.name)));
        }
        made.into_iter()
            .next()
            .ok_or_else(|| Error::missing("volume", &spec.name))?
    }

    /// A volume as the first engine holding it reports it.
    pub async fn inspect_volume_any(&self, name: &str) -> Result<(String, VolumeInfo)> {
        self.first_holding(
            "volume",
            name,
            |b, n| async move { b.inspect_volume(&n).await },
        )
        .await
    }

    /// Removes a volume from every engine holding it (in a task of its
    /// own, which a caller that goes away does not cut short).
    pub async fn remove_volume_everywhere(&self, name: &str, force: bool) -> Result<()> {
        let (this, name) = (self.clone(), name.to_string());
        tokio::spawn(async move { this.remove_volume_on_all(&name, force).await })
            .await
            .map_err(|e| Error::System {
                reason: format!("a volume's removal failed: {e}"),
            })?
    }

    pub(super) async fn remove_volume_on_all(&self, name: &str, force: bool) -> Result<()> {
        // Only this cluster's copies go; another's (or no cluster's) of the
        // same name is left, and refused when it is all there is.
        let mut ours = Vec::new();
        let mut others = false;
        for (_, b) in self.live_engines().await {
            match b.inspect_volume(name).await {
                Ok(v) if self.carries_identity(&v.labels) => ours.push(b),
                Ok(_) => others = true,
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if ours.is_empty() {
            return Err(if others {
                foreign("volume", name)
            } else {
                Error::missing("volume", name)
            });
        }
        // In use anywhere: refused before any engine's copy goes.
        let all = ContainerFilter {
            all: true,
            ..ContainerFilter::default()
        };
        if let Some((engine, c)) = self
            .engine_containers(&all)
            .await
            .into_iter()
            .find(|(_, c)| c.volumes.iter().any(|v| v == name))
        {
            return Err(Error::State {
                what: format!("volume {name}"),
                state: format!("in use by container {} on engine {engine}", c.id),
                reason: "remove that container first".into(),
            });
        }
        for b in ours {
            match b.remove_volume(name, force).await {
                Ok(()) | Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
