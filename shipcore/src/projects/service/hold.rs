//! The engine room a project holds with the scheduler.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Projects {
    /// Holds the reservation of the project's current (or next) version on
    /// the engine it runs on, moving the hold of that name.
    pub(super) async fn hold_on_engine(
        &self,
        doc: &ProjectDoc,
        file: &ComposeFile,
        next: bool,
    ) -> Result<()> {
        let mut req = self.request(doc, file, next)?;
        req.host = Some(doc.engine.clone());
        self.inner.cluster.hold_reservation(&req).await.map(|_| ())
    }

    /// Where the project runs: the engine it holds its reservation on, or one
    /// the scheduler picks now (kept in the document).
    pub(in crate::projects) async fn place(
        &self,
        doc: &mut ProjectDoc,
        file: &ComposeFile,
    ) -> Result<Site> {
        let held = self
            .inner
            .cluster
            .held_on(&hold_name(&doc.name, false))
            .await;
        if doc.engine.is_empty() || held.as_deref() != Some(doc.engine.as_str()) {
            let mut req = self.request(doc, file, false)?;
            // Where its volumes are, unless that engine is gone or down.
            let health = self.inner.cluster.health(&doc.engine).await;
            if !doc.engine.is_empty()
                && health.is_some_and(|h| h != crate::model::Health::Unhealthy)
            {
                req.host = Some(doc.engine.clone());
            }
            let placement = self.inner.cluster.hold_reservation(&req).await?;
            let engine = placement
                .assignments
                .first()
                .map(|a| a.engine.clone())
                .ok_or_else(|| Error::missing("engine", "for the project"))?;
            if engine != doc.engine {
                doc.engine = engine;
                self.save(doc).await?;
            }
        }
        self.site(doc).await
    }

    pub(in crate::projects) async fn site(&self, doc: &ProjectDoc) -> Result<Site> {
        if doc.engine.is_empty() {
            return Err(Error::State {
                what: format!("project {}", doc.name),
                state: "not placed".into(),
                reason: "it has not been started on any engine yet".into(),
            });
        }
        Ok(Site {
            project: doc.name.clone(),
            owner: self.inner.cluster.identity().to_string(),
            admitted: doc.admitted(),
            engine: doc.engine.clone(),
            backend: self.inner.cluster.backend(&doc.engine).await?,
            deadline: self.inner.opts.health_deadline,
            poll: self.inner.opts.poll,
            parallelism: self.inner.opts.parallelism,
            bind_root: self.inner.opts.bind_root.clone(),
            // The registry's secrets only to engines an admin registered.
            credentials: if self.inner.cluster.trusted(&doc.engine).await {
                self.inner.cluster.registry_credentials().clone()
            } else {
                Default::default()
            },
        })
    }

    /// Holds a stored project's reservations again (after a restart).
    pub(super) async fn rehold(&self, doc: &ProjectDoc) {
        if doc.engine.is_empty() {
            return;
        }
        let mut docs = vec![(doc.current.parse(), false)];
        if let Some(next) = &doc.next {
            docs.push((next.parse(), true));
        }
        for (file, next) in docs {
            if let Ok(req) = file.and_then(|f| self.request(doc, &f, next)) {
                self.inner
                    .cluster
                    .hold_reservation_at(&doc.engine, req.footprint)
                    .await;
            }
        }
    }

    /// Service operations: the project's lock, its lifecycle's leave, then
    /// `work` on the project's site.
    pub(in crate::projects) async fn service_op<F, Fut>(&self, id: &str, work: F) -> Result<()>
    where
        F: FnOnce(Projects, ProjectDoc, ComposeFile, String) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<()>> + Send + 'static,
    {
        let (project, service) = split_service_id(id)?;
        let this = self.clone();
        self.detached(async move {
            let _g = this.lock(&project).await;
            let doc = this.load(&project).await?;
            let file = doc.current.parse()?;
            if !file.services.contains_key(&service) {
                return Err(Error::missing("service", format!("{project}_{service}")));
            }
            doc.lifecycle.admit(&Op::Service)?;
            work(this.clone(), doc, file, service).await
        })
        .await
    }
}
