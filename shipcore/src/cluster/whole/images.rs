//! The cluster-wide view of images: merged across engines, inspected where held, pulled everywhere.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Cluster {
    /// Every engine's images, one per image id (its tags and digests
    /// merged), newest first.
    pub async fn cluster_images(&self) -> Vec<ClusterImage> {
        let mut merged: BTreeMap<String, ClusterImage> = BTreeMap::new();
        for (engine, image) in self.engine_images().await {
            let entry = merged
                .entry(image.id.clone())
                .or_insert_with(|| ClusterImage {
                    image: image.clone(),
                    engines: Vec::new(),
                });
            for t in image.tags {
                if !entry.image.tags.contains(&t) {
                    entry.image.tags.push(t);
                }
            }
            for d in image.digests {
                if !entry.image.digests.contains(&d) {
                    entry.image.digests.push(d);
                }
            }
            entry.engines.push(engine);
        }
        let mut list: Vec<ClusterImage> = merged.into_values().collect();
        list.sort_by_key(|i| std::cmp::Reverse(i.image.created));
        list
    }

    /// The images of every engine that answers, with the engine's id.
    pub async fn engine_images(&self) -> Vec<(String, ImageSummary)> {
        gather(self.live_engines().await, |b| async move {
            b.list_images().await
        })
        .await
    }

    /// An image as the first engine holding it inspects it.
    pub async fn inspect_image_any(&self, reference: &str) -> Result<(String, ImageDetails)> {
        self.first_holding("image", reference, |b, r| async move {
            b.inspect_image(&r).await
        })
        .await
    }

    /// `read` of `name` on the first engine (in id order) that holds it:
    /// one that has none, or is slower than [`ENGINE_CALL`], is passed
    /// over; any other failure is the answer.
    pub(super) async fn first_holding<T, F, Fut>(
        &self,
        kind: &str,
        name: &str,
        read: F,
    ) -> Result<(String, T)>
    where
        F: Fn(Arc<dyn EngineBackend>, String) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        for (engine, b) in self.live_engines().await {
            match tokio::time::timeout(ENGINE_CALL, read(b, name.to_string())).await {
                Ok(Ok(found)) => return Ok((engine, found)),
                Ok(Err(Error::NotFound { .. })) | Err(_) => {}
                Ok(Err(e)) => return Err(e),
            }
        }
        Err(Error::missing(kind, name))
    }

    /// Pulls `reference` on every engine that answers and lacks it, their
    /// progress merged, each message with its engine's id (an empty
    /// stream: every engine holds it).
    pub async fn pull_everywhere(
        &self,
        reference: &str,
        auth: Option<RegistryAuth>,
    ) -> EngineStream<(String, Progress)> {
        let mut pulls = Vec::new();
        let auth = auth.or_else(|| self.inner.opts.registry_credentials.for_image(reference));
        for (engine, b) in self.live_engines().await {
            if matches!(
                tokio::time::timeout(ENGINE_CALL, b.inspect_image(reference)).await,
                Ok(Ok(_))
            ) {
                continue;
            }
            let e = engine.clone();
            pulls.push(
                b.pull_image(reference, auth.clone())
                    .map(move |p| p.map(|p| (e.clone(), p)))
                    .boxed(),
            );
        }
        futures::stream::select_all(pulls).boxed()
    }
}
