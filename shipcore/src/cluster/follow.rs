//! Following the writes of other replicas, for a cluster whose store is
//! shared with them ([`ClusterOptions::shared`]): engines registered or
//! removed, their health as the leader's checks record it, deploys and
//! containers made, changed and removed through any replica. The change
//! stream of the store carries them, from the revision the cluster was
//! opened at; this replica's own writes come back on it too and are
//! recognised by their revisions (see `State::put_container_at`). A stream
//! lost to compaction is replaced by a fresh listing.
//!
//! [`ClusterOptions::shared`]: super::ClusterOptions::shared

use std::collections::HashSet;

use futures::StreamExt;

use super::docs::{self, ContainerDoc, DeployDoc, EngineDoc, StoredContainer};
use super::service::Background;
use super::state::EngineSlot;
use super::Cluster;
use crate::error::{Error, Result};
use crate::events::EVENTS;
use crate::store::{get_json, Change, ChangeKind};

/// Deploys' requests by deploy id, as the stream has shown them.
use super::docs::Deploys;

impl Cluster {
    /// Applies what other replicas write to the store to this replica's
    /// state, until the returned handle is dropped. Only useful (and only
    /// correct) for a cluster opened with [`ClusterOptions::shared`].
    ///
    /// [`ClusterOptions::shared`]: super::ClusterOptions::shared
    pub fn follow(&self) -> Background {
        let c = self.clone();
        let task = tokio::spawn(async move {
            let mut since = c.inner.opened_at;
            let mut deploys = Deploys::new();
            loop {
                match c.follow_from(since, &mut deploys).await {
                    // The stream ended without a word: open another.
                    Ok(at) => {
                        since = at;
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    // Resumable: the stream says up to where it delivered.
                    Err(Error::WatchLost { revision, reason }) if revision > since => {
                        tracing::info!(%reason, revision, "change stream lost; resuming");
                        since = revision;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "change stream lost; listing the store again");
                        match c.resync(&mut deploys).await {
                            Ok(at) => since = at,
                            Err(e) => {
                                tracing::warn!(error = %e, "cannot list the store; retrying");
                                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                            }
                        }
                    }
                }
            }
        });
        Background::of(vec![task])
    }

    /// Applies changes after `since` until the stream ends; returns the
    /// revision every change up to which was applied.
    async fn follow_from(&self, since: u64, deploys: &mut Deploys) -> Result<u64> {
        let mut stream = self.inner.store.changes("cluster/", since).await?;
        let mut at = since;
        while let Some(change) = stream.next().await {
            let change = change?;
            let revision = change.revision;
            self.apply(change, deploys).await;
            at = at.max(revision.saturating_sub(1));
        }
        Ok(at)
    }

    /// Applies one change of another replica (or an echo of this one's).
    // Over 80 lines: one arm per kind of change another replica makes.
    async fn apply(&self, change: Change, deploys: &mut Deploys) {
        let Change {
            revision,
            key,
            kind,
        } = change;
        if key.starts_with(EVENTS) {
            return;
        }
        if let Some(id) = key.strip_prefix(docs::CONTAINERS) {
            let id = id.rsplit('/').next().unwrap_or(id);
            match kind {
                ChangeKind::Put { value } => {
                    let stored = match serde_json::from_slice::<StoredContainer>(&value) {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::error!(%key, error = %e, "a container record cannot be read; skipped");
                            return;
                        }
                    };
                    if stored.image.is_none() && !deploys.contains_key(&stored.deploy) {
                        // Its deploy came before this stream started: read it.
                        let known = self.inner.state.lock().await.group(&stored.deploy);
                        let group = match known {
                            Some(g) => Some(g),
                            None => get_json::<DeployDoc>(
                                self.inner.store.as_ref(),
                                &docs::deploy_key(&stored.deploy),
                            )
                            .await
                            .ok()
                            .flatten()
                            .map(|(d, _)| d.group()),
                        };
                        if let Some(group) = group {
                            deploys.insert(stored.deploy.clone(), group);
                        }
                    }
                    match ContainerDoc::from_stored(stored, deploys) {
                        Some(doc) => {
                            self.inner
                                .state
                                .lock()
                                .await
                                .put_container_at(doc, revision);
                        }
                        None => {
                            tracing::warn!(%key, "a container record without its deploy; skipped")
                        }
                    }
                }
                ChangeKind::Delete => {
                    self.inner
                        .state
                        .lock()
                        .await
                        .drop_container_at(id, revision);
                }
            }
        } else if let Some(id) = key.strip_prefix(docs::DEPLOYS) {
            match kind {
                ChangeKind::Put { value } => {
                    if let Ok(d) = serde_json::from_slice::<DeployDoc>(&value) {
                        deploys.insert(d.id.clone(), d.group());
                    }
                }
                ChangeKind::Delete => {
                    deploys.remove(id);
                }
            }
        } else if let Some(id) = key.strip_prefix(docs::ENGINES) {
            match kind {
                ChangeKind::Put { value } => match serde_json::from_slice::<EngineDoc>(&value) {
                    Ok(doc) => self.engine_written(doc).await,
                    Err(e) => {
                        tracing::error!(%key, error = %e, "an engine record cannot be read; skipped")
                    }
                },
                ChangeKind::Delete => {
                    let mut st = self.inner.state.lock().await;
                    if st.engines.contains_key(id) {
                        st.remove_engine(id);
                    }
                }
            }
        }
    }

    /// An engine record written by some replica: a new engine joins, a
    /// known one takes the health recorded.
    async fn engine_written(&self, doc: EngineDoc) {
        let id = doc.id().to_string();
        {
            let mut st = self.inner.state.lock().await;
            if let Some(slot) = st.engines.get(&id) {
                if slot.doc.health != doc.health {
                    st.set_health(&id, doc.health);
                }
                return;
            }
        }
        let backend = match self.inner.connector.connect(&doc.record) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(engine = %id, error = %e, "an engine another replica added cannot be reached from here");
                return;
            }
        };
        let health = doc.health;
        let slot = EngineSlot {
            doc,
            backend,
            failures: 0,
            images: 0,
            containers: 0,
            next_check: self.inner.opts.clock.elapsed(),
            images_listed: None,
        };
        let mut st = self.inner.state.lock().await;
        if !st.engines.contains_key(&id) {
            if let Err(e) = st.add_engine(slot, health) {
                tracing::error!(engine = %id, error = %e, "cannot add an engine another replica added");
            }
        }
    }

    /// Lists engines, deploys and containers again (a stream lost to
    /// compaction) and makes the state match; returns the revision listed at.
    async fn resync(&self, deploys: &mut Deploys) -> Result<u64> {
        let store = self.inner.store.as_ref();
        let at = store.revision().await?;
        deploys.clear();
        for d in store.list(docs::DEPLOYS).await? {
            if let Ok(doc) = d.json::<DeployDoc>() {
                deploys.insert(doc.id.clone(), doc.group());
            }
        }
        let engines = store.list(docs::ENGINES).await?;
        let listed: HashSet<String> = engines
            .iter()
            .filter_map(|v| v.key.strip_prefix(docs::ENGINES).map(str::to_string))
            .collect();
        for v in engines {
            if let Ok(doc) = v.json::<EngineDoc>() {
                self.engine_written(doc).await;
            }
        }
        let containers = store.list(docs::CONTAINERS).await?;
        let mut st = self.inner.state.lock().await;
        let gone: Vec<String> = st
            .engines
            .keys()
            .filter(|id| !listed.contains(*id))
            .cloned()
            .collect();
        for id in gone {
            st.remove_engine(&id);
        }
        let mut present = HashSet::new();
        for v in containers {
            let Ok(stored) = v.json::<StoredContainer>() else {
                continue;
            };
            if let Some(doc) = ContainerDoc::from_stored(stored, deploys) {
                present.insert(doc.id.clone());
                st.put_container_at(doc, v.revision);
            }
        }
        let missing: Vec<String> = st
            .containers()
            .filter(|d| !present.contains(&d.id))
            .map(|d| d.id.clone())
            .collect();
        for id in missing {
            st.drop_container_at(&id, at);
        }
        Ok(at)
    }
}
