//! The service as one owner reaches it.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The build service as one owner reaches it ([`Builds::acting_as`]): what
/// the APIs call for their caller. The owner sees (lists, reads, follows)
/// and changes (saves, builds, cancels, deletes, clones from) its own
/// projects and their builds; `admin` and roles with `all-builds:ro`/`rw`
/// reach everyone's. A project that is not the owner's answers exactly as
/// a missing one. A build pushes only where the owner may write
/// ([`check_push`]): checked when a save names the target and again at
/// every build.
#[derive(Debug, Clone)]
pub struct ActingAs {
    pub(super) builds: Builds,
    pub(super) owner: Owner,
}

impl ActingAs {
    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// Creates a project owned by the owner. Its `Cluster` is
    /// `default_cluster` when the owner may push there, else the owner's
    /// namespace (`model::default_cluster`).
    pub async fn create(&self, name: &str) -> Result<BuildProject> {
        self.builds.create_by(&self.owner, name).await
    }

    /// Saves a project: creates it (`add`, owned by the owner) or changes
    /// one the owner may change.
    pub async fn save(&self, name: &str, add: bool, change: ProjectChange) -> Result<BuildProject> {
        self.builds.save_by(&self.owner, name, add, change).await
    }

    /// Copies a project the owner may change into a new one of its own.
    pub async fn clone_project(&self, src: &str, dst: &str) -> Result<BuildProject> {
        self.builds.clone_by(&self.owner, src, dst).await
    }

    /// A project the owner may see.
    pub async fn project(&self, name: &str) -> Result<BuildProject> {
        self.builds.project_by(&self.owner, name).await
    }

    /// The projects the owner may see whose name holds `filter`.
    pub async fn projects(&self, filter: &str) -> Result<Vec<BuildProject>> {
        self.builds.projects_by(&self.owner, filter).await
    }

    /// Deletes a project the owner may change.
    pub async fn delete(&self, name: &str) -> Result<()> {
        self.builds.delete_by(&self.owner, name).await
    }

    /// Queues a build of a project the owner may change, into a
    /// repository the owner may push to.
    pub async fn build(&self, project: &str, tag: &str) -> Result<BuildRecord> {
        self.builds.build_by(&self.owner, project, tag).await
    }

    /// The builds of a project the owner may see.
    pub async fn history(&self, project: &str) -> Result<Vec<BuildRecord>> {
        self.builds.history_by(&self.owner, project).await
    }

    /// A build of a project the owner may see (`write`: change); else
    /// missing, as a build that does not exist.
    pub(super) async fn owned_record(&self, id: &str, write: bool) -> Result<BuildRecord> {
        let r = self.builds.record(id).await?;
        match get_json::<BuildProject>(self.builds.inner.store.as_ref(), &project_key(&r.project))
            .await?
        {
            Some((p, _)) if self.owner.may(AREA, &p.owner, write) => Ok(r),
            _ => Err(Error::missing("build", id)),
        }
    }

    /// A build's record.
    pub async fn record(&self, id: &str) -> Result<BuildRecord> {
        self.owned_record(id, false).await
    }

    /// A build's log so far.
    pub async fn log(&self, id: &str) -> Result<Vec<String>> {
        self.owned_record(id, false).await?;
        self.builds.log(id).await
    }

    /// Follows a build's log from line `from`.
    pub async fn follow(
        &self,
        id: &str,
        from: usize,
    ) -> Result<futures::stream::BoxStream<'static, LogEvent>> {
        self.owned_record(id, false).await?;
        self.builds.follow(id, from).await
    }

    /// Cancels a build of a project the owner may change.
    pub async fn cancel(&self, id: &str) -> Result<BuildRecord> {
        self.owned_record(id, true).await?;
        self.builds.cancel(id).await
    }
}
