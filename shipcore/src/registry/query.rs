//! The registry's read-side queries the seed families list: projects with
//! their repository counts, a project's repositories, a repository's tags
//! with their image sizes, a tag's manifest with its image config. Each
//! filters by a part of a name and returns one page and the total, so the
//! Harbor-style and the docker-ext handlers only render.

use serde_json::Value;

use super::names::{Digest, Reference, Repository};
use super::service::{ManifestDoc, ProjectDoc, Registry, RepoDoc, TagDoc};
use crate::error::{Error, RegistrySubject, Result};

/// An image config is read whole; one larger than this is not shown.
pub const MAX_CONFIG: u64 = 4 << 20;

/// The highest page number a listing takes.
pub const MAX_PAGE: usize = 1_000_000;

/// One page of a listing: how many items to skip and how many to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub skip: usize,
    pub take: usize,
}

impl Page {
    /// Page `number` (from 1; 0 counts as 1) of `size` items (`default`
    /// when unset), refused unless `size` is from 1 to `max`; `field`
    /// names the size as the request spells it.
    /// The last page number asked for that is taken (the APIs document
    /// it: a fuzzer's 2^63 is refused, not served as an empty page).
    pub fn of(
        number: Option<usize>,
        size: Option<usize>,
        default: usize,
        max: usize,
        field: &str,
    ) -> Result<Page> {
        let take = size.unwrap_or(default);
        if !(1..=max).contains(&take) {
            return Err(Error::invalid(field, format!("must be from 1 to {max}")));
        }
        let number = number.unwrap_or(1).max(1);
        if number > MAX_PAGE {
            return Err(Error::invalid(
                "page",
                format!("must be at most {MAX_PAGE}"),
            ));
        }
        Ok(Page {
            skip: (number - 1).saturating_mul(take),
            take,
        })
    }

    fn cut<T>(self, all: Vec<T>) -> Listed<T> {
        Listed {
            total: all.len(),
            items: all.into_iter().skip(self.skip).take(self.take).collect(),
        }
    }
}

/// One page of what matched, and how many matched in all.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed<T> {
    pub total: usize,
    pub items: Vec<T>,
}

/// A project with its repositories' count and latest change.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectSummary {
    pub project: ProjectDoc,
    pub repositories: usize,
    /// The latest change to one of its repositories (its creation when it
    /// has none).
    pub updated: String,
}

/// A repository with its project's number and its tags' count.
#[derive(Debug, Clone, PartialEq)]
pub struct RepositorySummary {
    pub repo: RepoDoc,
    /// The project's number (0 when it has none).
    pub project_id: u64,
    pub tags: usize,
}

/// A tag with the size of the image it names (0 when its manifest is gone).
#[derive(Debug, Clone, PartialEq)]
pub struct TagSummary {
    pub name: String,
    pub tag: TagDoc,
    pub size: u64,
}

/// A manifest with its image config (`null` for an index, or for a config
/// that cannot be read).
#[derive(Debug, Clone, PartialEq)]
pub struct ImageDetail {
    pub manifest: ManifestDoc,
    /// The manifest's body as JSON (`null` if it is not).
    pub body: Value,
    pub config: Value,
}

impl Registry {
    /// The name of project `id`.
    pub async fn project_name(&self, id: u64) -> Result<String> {
        self.projects()
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .map(|p| p.name)
            .ok_or_else(|| Error::missing("project", id.to_string()))
    }

    /// The repository a request names: `project/name` as it stands, or
    /// `name` within project `project_id`; refused when it is not there.
    pub async fn find_repository(&self, name: &str, project_id: Option<u64>) -> Result<Repository> {
        let full = match project_id {
            Some(id) => {
                let project = self.project_name(id).await?;
                if name.starts_with(&format!("{project}/")) {
                    name.to_string()
                } else {
                    format!("{project}/{name}")
                }
            }
            None => name.to_string(),
        };
        let repo = Repository::parse(&full)?;
        self.repository(&repo).await?;
        Ok(repo)
    }

    /// The repository `name` names: `project/name` as it stands, or a name
    /// that ends exactly one repository's (`myweb` for
    /// `default_cluster/myweb`).
    pub async fn repository_named(&self, name: &str) -> Result<Repository> {
        if let Ok(repo) = Repository::parse(name) {
            if self.repository(&repo).await.is_ok() {
                return Ok(repo);
            }
        }
        let suffix = format!("/{name}");
        let found: Vec<_> = self
            .repositories()
            .await?
            .into_iter()
            .filter(|r| r.name.ends_with(&suffix))
            .collect();
        match found.as_slice() {
            [one] => Repository::parse(&one.name),
            [] => Err(Error::registry_unknown(
                RegistrySubject::Repository,
                name.to_string(),
            )),
            many => Err(Error::invalid(
                "repository",
                format!(
                    "{name} names {} repositories: give project/name",
                    many.len()
                ),
            )),
        }
    }

    /// Projects whose name contains `filter`, with their repositories.
    pub async fn project_summaries(
        &self,
        filter: &str,
        page: Page,
    ) -> Result<Listed<ProjectSummary>> {
        let repos = self.repositories().await?;
        let found: Vec<_> = self
            .projects()
            .await?
            .into_iter()
            .filter(|p| p.name.contains(filter))
            .collect();
        let listed = page.cut(found);
        let items = listed
            .items
            .into_iter()
            .map(|project| {
                let prefix = format!("{}/", project.name);
                let mine: Vec<_> = repos
                    .iter()
                    .filter(|r| r.name.starts_with(&prefix))
                    .collect();
                let updated = mine
                    .iter()
                    .map(|r| r.updated.as_str())
                    .max()
                    .unwrap_or(project.created.as_str())
                    .to_string();
                ProjectSummary {
                    repositories: mine.len(),
                    updated,
                    project,
                }
            })
            .collect();
        Ok(Listed {
            total: listed.total,
            items,
        })
    }

    /// Repositories whose name starts with `prefix` and contains `filter`,
    /// with their projects and tag counts.
    pub async fn repository_summaries(
        &self,
        prefix: &str,
        filter: &str,
        page: Page,
    ) -> Result<Listed<RepositorySummary>> {
        let projects = self.projects().await?;
        let found: Vec<_> = self
            .repositories()
            .await?
            .into_iter()
            .filter(|r| r.name.starts_with(prefix) && r.name.contains(filter))
            .collect();
        let listed = page.cut(found);
        let mut items = Vec::with_capacity(listed.items.len());
        for repo in listed.items {
            let name = Repository::parse(&repo.name)?;
            let tags = self.tag_records(&name).await?.len();
            let project_id = projects
                .iter()
                .find(|p| p.name == name.project())
                .map_or(0, |p| p.id);
            items.push(RepositorySummary {
                repo,
                project_id,
                tags,
            });
        }
        Ok(Listed {
            total: listed.total,
            items,
        })
    }

    /// The repositories under `prefix` (`project/repo/`) whose rest of the
    /// name contains `filter`: that rest, and the repository.
    pub async fn images_under(
        &self,
        prefix: &str,
        filter: &str,
        page: Page,
    ) -> Result<Listed<(String, RepoDoc)>> {
        let found: Vec<_> = self
            .repositories()
            .await?
            .into_iter()
            .filter_map(|r| {
                let name = r.name.strip_prefix(prefix)?.to_string();
                name.contains(filter).then_some((name, r))
            })
            .collect();
        Ok(page.cut(found))
    }

    /// Tag `tag` of `repo`, with the image it names.
    pub async fn tagged_image(
        &self,
        repo: &Repository,
        tag: &str,
    ) -> Result<(TagDoc, ImageDetail)> {
        let record = self
            .tag_records(repo)
            .await?
            .into_iter()
            .find(|(t, _)| t == tag)
            .map(|(_, t)| t)
            .ok_or_else(|| Error::missing("version", format!("{repo}:{tag}")))?;
        let d = Reference::Digest(Digest::parse(&record.digest)?);
        let image = self.image_detail(repo, &d).await?;
        Ok((record, image))
    }

    /// The tags of `repo` that contain `filter`, with their images' sizes.
    pub async fn tag_summaries(
        &self,
        repo: &Repository,
        filter: &str,
        page: Page,
    ) -> Result<Listed<TagSummary>> {
        self.repository(repo).await?;
        let found: Vec<_> = self
            .tag_records(repo)
            .await?
            .into_iter()
            .filter(|(t, _)| t.contains(filter))
            .collect();
        let listed = page.cut(found);
        let mut items = Vec::with_capacity(listed.items.len());
        for (name, tag) in listed.items {
            let d = Reference::Digest(Digest::parse(&tag.digest)?);
            let size = self
                .manifest(repo, &d, None)
                .await
                .map_or(0, |m| m.content_size);
            items.push(TagSummary { name, tag, size });
        }
        Ok(Listed {
            total: listed.total,
            items,
        })
    }

    /// The manifest `reference` names in `repo`, with its image config.
    pub async fn image_detail(
        &self,
        repo: &Repository,
        reference: &Reference,
    ) -> Result<ImageDetail> {
        let manifest = self.manifest(repo, reference, None).await?;
        let body: Value = serde_json::from_str(&manifest.body).unwrap_or(Value::Null);
        let config = self.image_config(repo, &body).await;
        Ok(ImageDetail {
            manifest,
            body,
            config,
        })
    }

    /// An image manifest's config blob as JSON (`null` for an index, or a
    /// config that cannot be read).
    pub async fn image_config(&self, repo: &Repository, manifest: &Value) -> Value {
        let Some(d) = manifest["config"]["digest"]
            .as_str()
            .and_then(|d| Digest::parse(d).ok())
        else {
            return Value::Null;
        };
        match self.small_blob(repo, &d, MAX_CONFIG).await {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_count_from_one_and_bound_their_size() {
        let p = Page::of(None, None, 10, 100, "page_size").unwrap();
        assert_eq!(p, Page { skip: 0, take: 10 });
        assert_eq!(Page::of(Some(0), Some(5), 10, 100, "s").unwrap().skip, 0);
        assert_eq!(Page::of(Some(3), Some(5), 10, 100, "s").unwrap().skip, 10);
        assert_eq!(
            Page::of(Some(MAX_PAGE), Some(100), 10, 100, "s")
                .unwrap()
                .skip,
            (MAX_PAGE - 1) * 100
        );
        // Past the last page taken: refused, naming the page.
        let e = Page::of(Some(MAX_PAGE + 1), Some(100), 10, 100, "s").unwrap_err();
        assert!(e.to_string().contains("page"), "{e}");
        for size in [0, 101] {
            let e = Page::of(None, Some(size), 10, 100, "page_size").unwrap_err();
            assert!(e.to_string().contains("page_size"), "{e}");
        }
        let l = Page { skip: 2, take: 2 }.cut(vec![1, 2, 3, 4, 5]);
        assert_eq!((l.total, l.items), (5, vec![3, 4]));
    }
}
