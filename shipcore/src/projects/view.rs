//! Projects and services as the 003 API shows them: the stored definition
//! and lifecycle, and what the engine reports of their containers.

use std::collections::BTreeMap;

use futures::future::join_all;
use serde::Serialize;
use serde_json::Value;

use super::docs::*;
use super::plan::{settled, Settled};
use super::run::Site;
use super::service::{replicas_of, split_service_id, Projects};
use crate::compose::ComposeFile;
use crate::engine::ContainerSummary;
use crate::error::{Error, Result};
use crate::model::{Owner, ProjectState};
use crate::update::Phase;

/// A project as listed and viewed.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectView {
    pub name: String,
    /// The account that owns it.
    pub created_by: String,
    pub description: String,
    pub template: String,
    pub version: String,
    pub created: String,
    pub updated: String,
    pub desired_state: String,
    pub current_state: String,
    pub environment: BTreeMap<String, String>,
    /// The names of the files beside the template (their contents, which
    /// may hold secrets, are not shown).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// The compose profiles enabled.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<ServiceView>>,
    /// Why it is `failed`: the service and what its container came to, or
    /// why the last start failed; or, running, why its last rolling update
    /// rolled back.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The engine it runs on (empty: not placed).
    pub engine: String,
    /// The update under way, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateView>,
}

impl ProjectView {
    /// The view as `who` may see it: the environment's values (passwords,
    /// keys) only for the project's owner and admins.
    fn for_viewer(mut self, doc: &ProjectDoc, who: &Owner) -> Self {
        let owner = !doc.created_by.is_empty() && doc.created_by == who.name;
        if !(owner || who.role.allows("accounts", true)) {
            for v in self.environment.values_mut() {
                *v = HIDDEN.into();
            }
        }
        self
    }
}

/// What a hidden value shows.
pub const HIDDEN: &str = "<hidden>";

#[derive(Debug, Clone, Serialize)]
pub struct UpdateView {
    pub method: String,
    pub from: String,
    pub to: String,
    pub phase: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// A service as listed and viewed.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceView {
    pub id: String,
    pub name: String,
    pub project: String,
    pub description: String,
    pub created: String,
    pub updated: String,
    pub desired_state: String,
    /// `running`, `completed` (every container ran to completion, exit
    /// code 0), `starting`, `stopping`, `stopped`.
    pub current_state: String,
    /// Why a container of it failed, if one did.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The service's compose keys, as written (anchors and merges applied).
    pub definition: Value,
    /// `scale` and the service's `x-` fields.
    pub extensions: BTreeMap<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub containers: Option<BTreeMap<String, ContainerView>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContainerView {
    pub name: String,
    pub node: String,
    pub ip: String,
    pub running: bool,
    pub status: String,
    pub health: String,
    pub version: String,
}

pub fn word(s: ProjectState) -> String {
    format!("{s:?}").to_ascii_lowercase()
}

impl Projects {
    /// Projects whose name contains `q`, with their services (and their
    /// containers) on request.
    /// The projects `who` may see whose name contains `q`, with their
    /// services (and their containers) on request.
    pub async fn list(
        &self,
        q: &str,
        services: bool,
        containers: bool,
        who: &Owner,
    ) -> Result<Vec<ProjectView>> {
        let docs: Vec<ProjectDoc> = self
            .docs()
            .await?
            .into_iter()
            .filter(|d| d.name.contains(q) && d.reachable_by(who, false))
            .collect();
        let views = join_all(docs.iter().map(|d| self.render(d, services, containers))).await;
        views
            .into_iter()
            .zip(&docs)
            .map(|(v, d)| v.map(|v| v.for_viewer(d, who)))
            .collect()
    }

    /// A project `who` may see (to others it does not exist).
    pub async fn get(
        &self,
        name: &str,
        services: bool,
        containers: bool,
        who: &Owner,
    ) -> Result<ProjectView> {
        let doc = self.reach(name, who, false).await?;
        Ok(self
            .render(&doc, services, containers)
            .await?
            .for_viewer(&doc, who))
    }

    /// The project's compose file as shipcore understood it, in the compose
    /// specification's shape (`docker compose config`): interpolated,
    /// extended, included, profiles applied, defaults filled. It shows the
    /// project's environment's values wherever the file uses them, so only
    /// the project's owner and admins read it.
    pub async fn config(&self, name: &str, who: &Owner) -> Result<serde_json::Value> {
        let doc = self.reach(name, who, false).await?;
        let owner = !doc.created_by.is_empty() && doc.created_by == who.name;
        if !(owner || who.role.allows("accounts", true)) {
            return Err(Error::Forbidden {
                reason: format!(
                    "the configuration of project {name} shows its environment's values: only its owner and admins read it"
                ),
            });
        }
        Ok(doc.current.parse()?.to_file(&doc.name))
    }

    /// Services whose id contains `q`, of the projects `who` may see.
    pub async fn services(
        &self,
        q: &str,
        containers: bool,
        who: &Owner,
    ) -> Result<Vec<ServiceView>> {
        let mut out = Vec::new();
        for doc in self.docs().await? {
            if !doc.reachable_by(who, false) {
                continue;
            }
            let view = self.render(&doc, true, containers).await?;
            out.extend(
                view.services
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|s| s.id.contains(q)),
            );
        }
        Ok(out)
    }

    /// A service of a project `who` may see.
    pub async fn service(&self, id: &str, who: &Owner) -> Result<ServiceView> {
        let (project, service) = split_service_id(id)?;
        let doc = self
            .reach(&project, who, false)
            .await
            .map_err(|_| Error::missing("service", id))?;
        let view = self.render(&doc, true, true).await?;
        view.services
            .unwrap_or_default()
            .into_iter()
            .find(|s| s.name == service)
            .ok_or_else(|| Error::missing("service", id))
    }

    /// The project's site (if placed and its engine registered) and its
    /// containers there.
    async fn observe(&self, doc: &ProjectDoc) -> (Option<Site>, Vec<ContainerSummary>) {
        if doc.engine.is_empty() {
            return (None, Vec::new());
        }
        match self.site(doc).await {
            Ok(site) => {
                let list = site.containers().await.unwrap_or_default();
                (Some(site), list)
            }
            Err(_) => (None, Vec::new()),
        }
    }

    // Over 80 lines: the project view's fields, one by one, as the 003 API shows them.
    async fn render(
        &self,
        doc: &ProjectDoc,
        with_services: bool,
        with_containers: bool,
    ) -> Result<ProjectView> {
        let file = doc.current.parse().unwrap_or_default();
        let (site, observed) = self.observe(doc).await;
        let replicas = replicas_of(doc, &file);
        let tallies: BTreeMap<&str, Tally> = file
            .services
            .iter()
            .map(|(svc, def)| {
                let t = Tally::of(&observed, svc, &doc.current.version, &def.restart);
                (svc.as_str(), t)
            })
            .collect();
        let tally = |svc: &str| tallies.get(svc).cloned().unwrap_or_default();
        let lc = &doc.lifecycle;
        let current = match (&lc.rollout, lc.current) {
            (Some(r), _) => match r.phase {
                Phase::Failed(_) => ProjectState::Failed,
                _ => ProjectState::Updating,
            },
            (None, s @ (ProjectState::Starting | ProjectState::Stopping)) => s,
            (None, s) => {
                // Running or completed successfully, as compose counts it.
                let all = file
                    .services
                    .keys()
                    .filter(|k| doc.wants_running(k))
                    .all(|k| tally(k).done() >= replicas.get(k).copied().unwrap_or(0));
                let any = observed.iter().any(|c| c.state == "running");
                match lc.desired {
                    ProjectState::Running if all => ProjectState::Running,
                    // Started, but not everything runs now.
                    ProjectState::Running => ProjectState::Failed,
                    _ if !any => ProjectState::Stopped,
                    _ => s,
                }
            }
        };
        let services = if with_services {
            let raw = raw_services(&doc.current.template);
            let node = doc.engine.clone();
            let mut list = Vec::new();
            for (svc, def) in &file.services {
                let want = replicas.get(svc).copied().unwrap_or(0);
                let t = tally(svc);
                let up = t.done();
                let desired = if doc.wants_running(svc) {
                    ProjectState::Running
                } else {
                    ProjectState::Stopped
                };
                let state = match (desired, up) {
                    _ if lc.rollout.is_some() => current,
                    (ProjectState::Running, n) if n >= want => ProjectState::Running,
                    (_, 0) => ProjectState::Stopped,
                    (ProjectState::Running, _) => ProjectState::Starting,
                    _ => ProjectState::Stopping,
                };
                let mut extensions: BTreeMap<String, Value> = def.extensions.clone();
                extensions.insert("scale".into(), Value::from(want));
                let containers = if with_containers {
                    Some(containers_view(site.as_ref(), svc, &observed, &node).await)
                } else {
                    None
                };
                list.push(ServiceView {
                    id: format!("{}_{svc}", doc.name),
                    name: svc.clone(),
                    project: doc.name.clone(),
                    description: doc.description.clone(),
                    created: doc.created.clone(),
                    updated: doc.updated.clone(),
                    desired_state: word(desired),
                    current_state: match state {
                        ProjectState::Running if t.running == 0 => "completed".into(),
                        s => word(s),
                    },
                    reason: t.reason(svc),
                    definition: raw.get(svc).cloned().unwrap_or(Value::Null),
                    extensions,
                    containers,
                });
            }
            Some(list)
        } else {
            None
        };
        Ok(ProjectView {
            name: doc.name.clone(),
            created_by: doc.created_by.clone(),
            description: doc.description.clone(),
            template: doc.current.template.clone(),
            version: doc.current.version.clone(),
            created: doc.created.clone(),
            updated: doc.updated.clone(),
            desired_state: word(lc.desired),
            current_state: word(current),
            reason: if current == ProjectState::Failed {
                failure(&file, doc, &replicas, &tally)
            } else {
                // Why its last update rolled back by itself, if one did.
                lc.reason.clone()
            },
            environment: doc.current.environment.clone(),
            files: doc.current.files.keys().cloned().collect(),
            profiles: doc.current.profiles.clone(),
            services,
            engine: doc.engine.clone(),
            update: lc.rollout.as_ref().map(|r| UpdateView {
                method: match r.method {
                    crate::update::Method::Rolling => "rolling".into(),
                    crate::update::Method::BlueGreen => "blue-green".into(),
                },
                from: r.from.clone(),
                to: r.to.clone(),
                phase: match &r.phase {
                    Phase::Starting => "starting",
                    Phase::Verifying => "verifying",
                    Phase::Ready => "ready",
                    Phase::Failed(_) => "failed",
                    Phase::Confirming => "confirming",
                    Phase::RollingBack => "rolling-back",
                }
                .into(),
                reason: match &r.phase {
                    Phase::Failed(why) => why.clone(),
                    Phase::RollingBack => lc.reason.clone(),
                    _ => String::new(),
                },
            }),
        })
    }
}

/// What a service's containers of a version came to.
#[derive(Debug, Clone, Default)]
struct Tally {
    running: u32,
    completed: u32,
    /// The first container that failed: its name and exit code.
    failed: Option<(String, i64)>,
}

impl Tally {
    fn of(observed: &[ContainerSummary], svc: &str, version: &str, restart: &str) -> Tally {
        let mut t = Tally::default();
        for c in observed
            .iter()
            .filter(|c| c.labels.get(LABEL_SERVICE).map(String::as_str) == Some(svc))
            .filter(|c| c.labels.get(LABEL_VERSION).map(String::as_str) == Some(version))
        {
            match settled(c, restart) {
                Settled::Running => t.running += 1,
                Settled::Completed => t.completed += 1,
                Settled::Failed(code) if t.failed.is_none() => {
                    t.failed = Some((c.name.trim_start_matches('/').to_string(), code));
                }
                Settled::Failed(_) | Settled::Pending => {}
            }
        }
        t
    }

    /// Containers running or completed successfully.
    fn done(&self) -> u32 {
        self.running + self.completed
    }

    fn reason(&self, svc: &str) -> String {
        match &self.failed {
            Some((name, code)) => {
                format!("service {svc}: container {name} exited with code {code}")
            }
            None => String::new(),
        }
    }
}

/// Why a project that is meant to run is `failed`: the first service with
/// a failed container, else the first short of its replicas, else why the
/// last start failed.
fn failure(
    file: &ComposeFile,
    doc: &ProjectDoc,
    replicas: &BTreeMap<String, u32>,
    tally: &dyn Fn(&str) -> Tally,
) -> String {
    let wanted = || file.services.keys().filter(|k| doc.wants_running(k));
    if let Some(why) = wanted().map(|k| tally(k).reason(k)).find(|r| !r.is_empty()) {
        return why;
    }
    if !doc.lifecycle.reason.is_empty() {
        return doc.lifecycle.reason.clone();
    }
    wanted()
        .find_map(|k| {
            let (t, want) = (tally(k), replicas.get(k).copied().unwrap_or(0));
            (t.done() < want).then(|| {
                format!(
                    "service {k}: {} of {want} containers running or completed",
                    t.done()
                )
            })
        })
        .unwrap_or_default()
}

/// A service's containers as the API shows them (inspected for address and
/// health).
async fn containers_view(
    site: Option<&Site>,
    svc: &str,
    observed: &[ContainerSummary],
    node: &str,
) -> BTreeMap<String, ContainerView> {
    let mut out = BTreeMap::new();
    let Some(site) = site else {
        return out;
    };
    for c in observed
        .iter()
        .filter(|c| c.labels.get(LABEL_SERVICE).map(String::as_str) == Some(svc))
    {
        let details = site.backend.inspect_container(&c.id).await.ok();
        let (ip, health) = details
            .as_ref()
            .map(|d| {
                (
                    d.networks.values().next().cloned().unwrap_or_default(),
                    d.state.health.clone(),
                )
            })
            .unwrap_or_default();
        out.insert(
            c.id.clone(),
            ContainerView {
                name: c.name.clone(),
                node: node.to_string(),
                ip,
                running: c.state == "running",
                status: c.status.clone(),
                health,
                version: c.labels.get(LABEL_VERSION).cloned().unwrap_or_default(),
            },
        );
    }
    out
}

/// The services of a template as written (merge keys applied), by name.
fn raw_services(template: &str) -> BTreeMap<String, Value> {
    let root: Value = serde_saphyr::from_str(template).unwrap_or(Value::Null);
    root.get("services")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}
