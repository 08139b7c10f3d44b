//! Build projects: made, read, listed, saved, cloned and deleted for an
//! owner.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Builds {
    // ------------------------------------------------------------ projects
    //
    // Every operation is done for an owner (`by`): an account or key
    // acting through an API ([`Builds::acting_as`]), which reaches its own
    // projects and, with `all-builds`, everyone's; or an in-process caller
    // of the methods below that take an `operator` name, trusted as the
    // cluster itself (an admin acting under that name).

    /// The service as `owner` reaches it: its own projects (or every
    /// account's, for `admin` and roles with `all-builds:ro`/`rw`), the
    /// builds it may push. What is not the owner's answers as missing.
    pub fn acting_as(&self, owner: Owner) -> ActingAs {
        ActingAs {
            builds: self.clone(),
            owner,
        }
    }

    /// Creates a project (trusted: see [`ActingAs::create`]).
    pub async fn create(&self, name: &str, operator: &str) -> Result<BuildProject> {
        self.create_by(&trusted(operator), name).await
    }

    pub(super) async fn create_by(&self, by: &Owner, name: &str) -> Result<BuildProject> {
        check_name("projectName", name)?;
        let now = self.inner.clock.rfc3339();
        let p = BuildProject {
            name: name.to_string(),
            owner: by.name.clone(),
            creator: by.name.clone(),
            create_time: now.clone(),
            last_modify_time: now,
            last_modify_operator: by.name.clone(),
            cluster: default_cluster(by, name),
            define_dockerfile_type: crate::build::model::DEFINE.to_string(),
            ..BuildProject::default()
        };
        self.put_new(p).await
    }

    /// Stores a new project; `Exists` when one has its name.
    pub(super) async fn put_new(&self, p: BuildProject) -> Result<BuildProject> {
        match put_json(
            self.inner.store.as_ref(),
            &project_key(&p.name),
            &p,
            Expect::Absent,
        )
        .await
        {
            Ok(_) => Ok(p),
            Err(Error::Conflict { .. }) => Err(Error::Exists {
                kind: "project".into(),
                id: p.name,
            }),
            Err(e) => Err(e),
        }
    }

    /// Project `name` with its revision when `by` may see it (with
    /// `write`, change it); else missing (as `kind`), as one that does not
    /// exist: an owner learns nothing of others' projects.
    pub(super) async fn owned(
        &self,
        by: &Owner,
        field: &str,
        kind: &str,
        name: &str,
        write: bool,
    ) -> Result<(BuildProject, u64)> {
        check_name(field, name)?;
        match get_json::<BuildProject>(self.inner.store.as_ref(), &project_key(name)).await? {
            Some((p, rev)) if by.may(AREA, &p.owner, write) => Ok((p, rev)),
            _ => Err(Error::missing(kind, name)),
        }
    }

    /// A project (trusted: see [`ActingAs::project`]).
    pub async fn project(&self, name: &str) -> Result<BuildProject> {
        self.project_by(&Owner::system(), name).await
    }

    pub(super) async fn project_by(&self, by: &Owner, name: &str) -> Result<BuildProject> {
        Ok(self
            .owned(by, "projectName", "project", name, false)
            .await?
            .0)
    }

    /// Every project whose name holds `filter` (all when empty), by name
    /// (trusted: see [`ActingAs::projects`]).
    pub async fn projects(&self, filter: &str) -> Result<Vec<BuildProject>> {
        self.projects_by(&Owner::system(), filter).await
    }

    pub(super) async fn projects_by(&self, by: &Owner, filter: &str) -> Result<Vec<BuildProject>> {
        let mut out = Vec::new();
        for v in self.inner.store.list(PROJECTS).await? {
            let p: BuildProject = v.json()?;
            if (filter.is_empty() || p.name.contains(filter)) && by.may(AREA, &p.owner, false) {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// Deletes a project, its build records and logs (trusted: see
    /// [`ActingAs::delete`]). A build of it that is running is cancelled
    /// first.
    pub async fn delete(&self, name: &str) -> Result<()> {
        self.delete_by(&Owner::system(), name).await
    }

    pub(super) async fn delete_by(&self, by: &Owner, name: &str) -> Result<()> {
        let mut deleted = false;
        for _ in 0..5 {
            let (_, rev) = self.owned(by, "projectName", "project", name, true).await?;
            match self
                .inner
                .store
                .delete(&project_key(name), Expect::Revision(rev))
                .await
            {
                Ok(Some(_)) => {
                    deleted = true;
                    break;
                }
                Ok(None) => return Err(Error::missing("project", name)),
                Err(Error::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        if !deleted {
            return Err(Error::Unavailable {
                reason: format!("project {name} kept changing: try again"),
                retry_after: 1,
            });
        }
        let prefix = format!("{RECORDS}{name}/");
        for v in self.inner.store.list(&prefix).await? {
            if let Ok(r) = v.json::<BuildRecord>() {
                self.abort(&r.id);
                let _ = self
                    .inner
                    .store
                    .delete(&format!("{LOGS}{}", r.id), Expect::Any)
                    .await;
            }
            let _ = self.inner.store.delete(&v.key, Expect::Any).await;
        }
        Ok(())
    }

    /// Copies a project's definition and plugins (not its history) to a
    /// new project (trusted: see [`ActingAs::clone_project`]).
    pub async fn clone_project(
        &self,
        src: &str,
        dst: &str,
        operator: &str,
    ) -> Result<BuildProject> {
        self.clone_by(&trusted(operator), src, dst).await
    }

    pub(super) async fn clone_by(&self, by: &Owner, src: &str, dst: &str) -> Result<BuildProject> {
        check_name("srcProjectName", src)?;
        check_name("dstProjectName", dst)?;
        let (from, _) = self
            .owned(by, "srcProjectName", "source project", src, true)
            .await?;
        check_push(by, &target_repository(&from.cluster, dst))?;
        let now = self.inner.clock.rfc3339();
        let p = BuildProject {
            name: dst.to_string(),
            owner: by.name.clone(),
            creator: by.name.clone(),
            create_time: now.clone(),
            last_modify_time: now,
            last_modify_operator: by.name.clone(),
            ..from
        };
        self.put_new(p).await
    }

    /// Checks plugin references against the known plugins
    /// ([`Error::UnknownPlugin`], [`Error::PluginParams`]).
    pub fn check_plugins(&self, plugins: &[PluginRef]) -> Result<()> {
        if plugins.len() > MAX_PLUGINS {
            return Err(Error::plugin_params(format!(
                "{} plugins, more than the {MAX_PLUGINS} allowed",
                plugins.len()
            )));
        }
        for p in plugins {
            self.inner.plugins.get(&p.name)?.check_params(&p.params)?;
        }
        Ok(())
    }

    /// Saves a project's definition: creates it (`add`) or changes it
    /// (`update`) (trusted: see [`ActingAs::save`]).
    pub async fn save(
        &self,
        name: &str,
        add: bool,
        change: ProjectChange,
        operator: &str,
    ) -> Result<BuildProject> {
        self.save_by(&trusted(operator), name, add, change).await
    }

    pub(super) async fn save_by(
        &self,
        by: &Owner,
        name: &str,
        add: bool,
        change: ProjectChange,
    ) -> Result<BuildProject> {
        check_name("projectName", name)?;
        if let Some(c) = &change.cluster {
            check_cluster(c)?;
        }
        if let Some(t) = &change.define_dockerfile_type {
            if t != crate::build::model::DEFINE {
                return Err(Error::invalid(
                    "DefineDockerFileType",
                    format!("{t:?}: only \"define\" (the Dockerfile given with the project) is supported"),
                ));
            }
        }
        if let Some(plugins) = &change.plugins {
            self.check_plugins(plugins)
                .map_err(|e| Error::invalid("$$plugin", e.to_string()))?;
        }
        for _ in 0..5 {
            let found =
                get_json::<BuildProject>(self.inner.store.as_ref(), &project_key(name)).await?;
            let (mut p, expect) = match (found, add) {
                (Some(_), true) => {
                    return Err(Error::Exists {
                        kind: "project".into(),
                        id: name.to_string(),
                    })
                }
                (Some((p, rev)), false) if by.may(AREA, &p.owner, true) => {
                    (p, Expect::Revision(rev))
                }
                // Another's project answers as a missing one.
                (_, false) => return Err(Error::missing("project", name)),
                (None, true) => {
                    let now = self.inner.clock.rfc3339();
                    (
                        BuildProject {
                            name: name.to_string(),
                            owner: by.name.clone(),
                            creator: by.name.clone(),
                            create_time: now,
                            cluster: default_cluster(by, name),
                            define_dockerfile_type: crate::build::model::DEFINE.to_string(),
                            ..BuildProject::default()
                        },
                        Expect::Absent,
                    )
                }
            };
            let c = change.clone();
            let names_target = add || c.cluster.is_some();
            if let Some(v) = c.cluster {
                p.cluster = v;
            }
            if let Some(v) = c.define_dockerfile_type {
                p.define_dockerfile_type = v;
            }
            if let Some(v) = c.dockerfile {
                p.dockerfile = v;
            }
            if let Some(v) = c.files {
                p.files = v;
            }
            if let Some(v) = c.plugins {
                p.plugins = v;
            }
            check_definition(&p.dockerfile, &p.files)?;
            // The repository its builds push to, when this save names it
            // (checked again at every build, for who builds).
            if names_target {
                check_push(by, &target_repository(&p.cluster, &p.name))?;
            }
            p.last_modify_time = self.inner.clock.rfc3339();
            p.last_modify_operator = by.name.clone();
            match put_json(self.inner.store.as_ref(), &project_key(name), &p, expect).await {
                Ok(_) => return Ok(p),
                Err(Error::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Unavailable {
            reason: format!("project {name} kept changing: try again"),
            retry_after: 1,
        })
    }

    /// Calls a plugin's method (the extension endpoint). Plugin methods
    /// take what they are given and read no project.
    pub fn call_plugin(&self, plugin: &str, method: &str, args: &Value) -> Result<Value> {
        self.inner.plugins.call(plugin, method, args)
    }
}
