//! Volumes on the cluster's engines (seed 003's `/volumes`): made on the
//! engine a caller names (`node`) or one the scheduler picks, listed from
//! every reachable engine with the node they are on and the containers
//! that use them, and refused deletion while in use.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::docs::*;
use super::service::Projects;
use crate::engine::{EngineBackend, VolumeSpec};
use crate::error::{Error, Result};
use crate::model::admission;
use crate::model::{validate_name, Health, Owner, Volume, VolumeRef};
use crate::sched::Request;
use crate::store::{get_json, put_json, Expect};

/// `POST /volumes/create`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewVolume {
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[A-Za-z0-9][A-Za-z0-9-]{1,63}$")
    )]
    pub name: String,
    #[serde(default)]
    pub driver: String,
    /// The driver's options, as it takes them: Docker's `local` driver
    /// takes `type` and `device` (and `o`) together, and `size` where the
    /// engine's filesystem keeps quotas; the engine refuses others (400).
    #[serde(default, rename = "driverOpts", alias = "driver_opts")]
    pub driver_opts: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The engine to make it on; the scheduler picks one when empty.
    #[serde(default)]
    pub node: String,
}

impl Projects {
    /// Makes a volume for `by`, who owns it. Driver options and drivers
    /// other than `local` need the role's `volume-options` capability (a
    /// local volume with `o: bind` is a host path); the cluster's labels
    /// are refused.
    pub async fn create_volume(&self, req: NewVolume, by: &Owner) -> Result<Volume> {
        validate_name("name", &req.name)?;
        if req.name.len() < 2 {
            return Err(Error::invalid(
                "name",
                "a volume's name has at least two characters (Docker's rule)",
            ));
        }
        if req.driver_opts.len() > 64 || req.labels.len() > 64 {
            return Err(Error::invalid(
                "driverOpts",
                "at most 64 options and 64 labels",
            ));
        }
        admission::check_labels("labels", req.labels.keys())?;
        admission::admit(
            by,
            &admission::volume_wants("driverOpts", &req.driver, !req.driver_opts.is_empty()),
        )?;
        if self
            .find_volume(&req.name, &Owner::system())
            .await?
            .is_some()
        {
            return Err(Error::Exists {
                kind: "volume".into(),
                id: req.name,
            });
        }
        let engine = if req.node.is_empty() {
            let mut r = Request::new("volume", 0, 0);
            r.footprint.name = format!("volume:{}", req.name);
            self.cluster()
                .plan_request(&r)
                .await?
                .assignments
                .first()
                .map(|a| a.engine.clone())
                .ok_or_else(|| Error::missing("engine", "for the volume"))?
        } else {
            req.node.clone()
        };
        let backend = self.cluster().backend(&engine).await?;
        // Docker's create answers with a volume of that name that exists
        // already: another cluster's (or no cluster's) must not become ours.
        match backend.inspect_volume(&req.name).await {
            Err(Error::NotFound { .. }) => {}
            Ok(_) => {
                return Err(Error::Exists {
                    kind: "volume".into(),
                    id: req.name,
                })
            }
            Err(e) => return Err(e),
        }
        let mut labels = req.labels.clone();
        labels.insert(LABEL_OWNER.into(), self.cluster().identity().to_string());
        labels.insert(crate::cluster::docs::LABEL_ACCOUNT.into(), by.name.clone());
        let info = backend
            .create_volume(&VolumeSpec {
                name: req.name.clone(),
                driver: req.driver.clone(),
                driver_opts: req.driver_opts.clone(),
                labels,
            })
            .await?;
        let doc = VolumeDoc {
            name: req.name.clone(),
            engine: engine.clone(),
            driver: info.driver.clone(),
            driver_opts: req.driver_opts,
            labels: req.labels,
            created_by: by.name.clone(),
            created: self.cluster().options().clock.rfc3339(),
        };
        put_json(
            &*self.inner.store,
            &volume_key(&doc.name),
            &doc,
            Expect::Any,
        )
        .await?;
        Ok(Volume {
            name: info.name,
            driver: info.driver,
            mountpoint: info.mountpoint,
            labels: doc.labels,
            scope: info.scope,
            node: engine,
            refs: Vec::new(),
        })
    }

    /// This cluster's volumes on every reachable engine that `who` may see
    /// (its own, and those of its projects; an admin's: all of them), with
    /// their users. Volumes of other clusters and of no cluster are not
    /// listed.
    pub async fn volumes(&self, who: &Owner) -> Result<Vec<Volume>> {
        let made_by: BTreeMap<String, String> = self
            .inner
            .store
            .list(VOLUMES)
            .await?
            .iter()
            .filter_map(|v| v.json::<VolumeDoc>().ok())
            .map(|d| (d.name, d.created_by))
            .collect();
        let project_by: BTreeMap<String, String> = self
            .docs()
            .await?
            .into_iter()
            .map(|d| (d.name, d.created_by))
            .collect();
        let identity = self.cluster().identity().to_string();
        let mut out = Vec::new();
        for e in self.cluster().engines().await {
            if e.health == Health::Unhealthy {
                continue;
            }
            let Ok(backend) = self.cluster().backend(e.id()).await else {
                continue;
            };
            let Ok(list) = backend.list_volumes().await else {
                continue;
            };
            let refs = refs_on(&*backend).await;
            for v in list {
                if v.labels.get(LABEL_OWNER) != Some(&identity) {
                    continue;
                }
                let owner = match v.labels.get(LABEL_PROJECT) {
                    Some(p) => project_by.get(p),
                    None => made_by.get(&v.name),
                };
                if !who.may("volumes", owner.map_or("", String::as_str), false) {
                    continue;
                }
                out.push(Volume {
                    refs: refs.get(&v.name).cloned().unwrap_or_default(),
                    labels: v
                        .labels
                        .into_iter()
                        .filter(|(k, _)| !k.starts_with(admission::RESERVED_LABEL_PREFIX))
                        .collect(),
                    name: v.name,
                    driver: v.driver,
                    mountpoint: v.mountpoint,
                    scope: v.scope,
                    node: e.id().to_string(),
                });
            }
        }
        Ok(out)
    }

    /// One volume by name, if `who` may see it.
    pub async fn volume(&self, name: &str, who: &Owner) -> Result<Volume> {
        self.find_volume(name, who)
            .await?
            .ok_or_else(|| Error::missing("volume", name))
    }

    async fn find_volume(&self, name: &str, who: &Owner) -> Result<Option<Volume>> {
        Ok(self
            .volumes(who)
            .await?
            .into_iter()
            .find(|v| v.name == name))
    }

    /// Deletes a volume of this cluster's that `who` may change; refused
    /// while a container uses it.
    pub async fn delete_volume(&self, name: &str, who: &Owner) -> Result<()> {
        let v = self.volume(name, who).await?;
        let made_by = get_json::<VolumeDoc>(&*self.inner.store, &volume_key(name))
            .await?
            .map(|(d, _)| d.created_by);
        if let Some(by) = &made_by {
            if !who.may("volumes", by, true) {
                return Err(Error::missing("volume", name));
            }
        }
        if !v.refs.is_empty() {
            let users: Vec<&str> = v.refs.iter().map(|r| r.name.as_str()).collect();
            return Err(Error::State {
                what: format!("volume {name}"),
                state: "in use".into(),
                reason: format!("containers {} use it: remove them first", users.join(", ")),
            });
        }
        let backend = self.cluster().backend(&v.node).await?;
        backend.remove_volume(name, false).await?;
        self.inner
            .store
            .delete(&volume_key(name), Expect::Any)
            .await?;
        Ok(())
    }
}

/// Containers on an engine by the volumes they mount.
async fn refs_on(backend: &dyn EngineBackend) -> BTreeMap<String, Vec<VolumeRef>> {
    let mut refs: BTreeMap<String, Vec<VolumeRef>> = BTreeMap::new();
    let filter = crate::engine::ContainerFilter {
        all: true,
        ..Default::default()
    };
    for c in backend.list_containers(&filter).await.unwrap_or_default() {
        for v in &c.volumes {
            refs.entry(v.clone()).or_default().push(VolumeRef {
                name: c.name.clone(),
                id: c.id.clone(),
            });
        }
    }
    refs
}
