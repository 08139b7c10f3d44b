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
use crate::model::{validate_name, Health, Volume, VolumeRef};
use crate::sched::Request;
use crate::store::{put_json, Expect};

/// `POST /volumes/create`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewVolume {
    pub name: String,
    #[serde(default)]
    pub driver: String,
    #[serde(default, rename = "driverOpts", alias = "driver_opts")]
    pub driver_opts: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The engine to make it on; the scheduler picks one when empty.
    #[serde(default)]
    pub node: String,
}

impl Projects {
    pub async fn create_volume(&self, req: NewVolume) -> Result<Volume> {
        validate_name("name", &req.name)?;
        if req.driver_opts.len() > 64 || req.labels.len() > 64 {
            return Err(Error::invalid(
                "driverOpts",
                "at most 64 options and 64 labels",
            ));
        }
        if self.find_volume(&req.name).await?.is_some() {
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
        let mut labels = req.labels.clone();
        labels.insert(LABEL_OWNER.into(), self.cluster().identity().to_string());
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

    /// The volumes on every reachable engine, with their users.
    pub async fn volumes(&self) -> Result<Vec<Volume>> {
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
                out.push(Volume {
                    refs: refs.get(&v.name).cloned().unwrap_or_default(),
                    labels: v
                        .labels
                        .into_iter()
                        .filter(|(k, _)| k != LABEL_OWNER)
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

    /// One volume by name.
    pub async fn volume(&self, name: &str) -> Result<Volume> {
        self.find_volume(name)
            .await?
            .ok_or_else(|| Error::missing("volume", name))
    }

    async fn find_volume(&self, name: &str) -> Result<Option<Volume>> {
        Ok(self.volumes().await?.into_iter().find(|v| v.name == name))
    }

    /// Deletes a volume; refused while a container uses it.
    pub async fn delete_volume(&self, name: &str) -> Result<()> {
        let v = self.volume(name).await?;
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
