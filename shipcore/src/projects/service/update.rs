//! Updates: blue-green and rolling, confirmed or rolled back, resumed after a restart.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Projects {
    /// Takes a new version: for a running project, an update (rolling by
    /// default, blue-green on request) that runs in the background; for a
    /// stopped one, the definition it starts with next.
    /// The new definition is admitted for `by`, and recorded as admitted
    /// for it.
    pub async fn update(&self, name: &str, req: ProjectUpdate, by: &Owner) -> Result<()> {
        let _g = self.lock(name).await;
        let mut doc = self.load(name).await?;
        let method = match req.update_method.as_deref().unwrap_or("rolling") {
            "rolling" | "" => Method::Rolling,
            "blue-green" | "blue_green" | "bluegreen" => Method::BlueGreen,
            other => {
                return Err(Error::invalid(
                    "update_method",
                    format!("must be rolling or blue-green, got {other:?}"),
                ))
            }
        };
        if req.version.trim().is_empty() || req.version.len() > 64 {
            return Err(Error::invalid("version", "must be 1 to 64 characters"));
        }
        let next = Definition {
            template: req.template.unwrap_or_else(|| doc.current.template.clone()),
            version: req.version.clone(),
            environment: req
                .environment
                .unwrap_or_else(|| doc.current.environment.clone()),
            files: req.files.unwrap_or_else(|| doc.current.files.clone()),
            profiles: req.profiles.unwrap_or_else(|| doc.current.profiles.clone()),
        };
        let file = next.parse()?;
        self.admit(&file, by).await?;
        let lifecycle = doc.lifecycle.admit(&Op::Update {
            method,
            version: next.version.clone(),
            current: doc.current.version.clone(),
        })?;
        if let Some(d) = req.description {
            doc.description = d;
        }
        doc.admitted_for = Some(by.clone());
        let from = doc.current.version.clone();
        if lifecycle.rollout.is_none() {
            doc.current = next;
            doc.scale.clear();
            doc.lifecycle = lifecycle;
            self.save(&mut doc).await?;
            self.event(
                EventType::Update,
                format!("project={name} from={from} to={}", doc.current.version),
            )
            .await;
            return Ok(());
        }
        doc.lifecycle = lifecycle;
        doc.next = Some(next);
        self.save(&mut doc).await?;
        self.event(
            EventType::Update,
            format!(
                "project={name} from={from} to={} method={method:?}",
                req.version
            ),
        )
        .await;
        let this = self.clone();
        let name = name.to_string();
        let pull = req.latest_image;
        tokio::spawn(async move {
            if let Err(e) = this.roll(&name, pull).await {
                tracing::warn!(project = %name, error = %e, "update failed");
            }
        });
        Ok(())
    }

    /// Drives an update from `Starting` or `Verifying` to its next stop:
    /// `Ready` or `Failed` (blue-green), or through confirm or rollback
    /// (rolling).
    pub(super) async fn roll(&self, name: &str, pull: bool) -> Result<()> {
        let _g = self.lock(name).await;
        let mut doc = self.load(name).await?;
        let (Some(r), Some(next)) = (doc.lifecycle.rollout.clone(), doc.next.clone()) else {
            return Ok(());
        };
        let file = next.parse()?;
        let services: BTreeSet<String> = file.services.keys().cloned().collect();
        if r.phase == Phase::Starting {
            let started = self.start_next(&doc, &file, &next, &services, pull).await;
            doc.lifecycle = doc.lifecycle.on(match started {
                Ok(()) => Outcome::NewStarted,
                Err(e) => Outcome::NewFailed(e.to_string()),
            });
            self.save(&mut doc).await?;
        }
        if doc
            .lifecycle
            .rollout
            .as_ref()
            .is_some_and(|r| r.phase == Phase::Verifying)
        {
            let site = self.site(&doc).await?;
            let verified = site.verify(&file, &next.version, &services).await;
            doc.lifecycle = doc.lifecycle.on(match verified {
                Ok(()) => Outcome::NewHealthy,
                Err(e) => Outcome::NewFailed(e.to_string()),
            });
            self.save(&mut doc).await?;
        }
        self.settle(&mut doc).await
    }

    pub(super) async fn start_next(
        &self,
        doc: &ProjectDoc,
        file: &ComposeFile,
        next: &Definition,
        services: &BTreeSet<String>,
        pull: bool,
    ) -> Result<()> {
        self.hold_on_engine(doc, file, true).await?;
        let site = self.site(doc).await?;
        let replicas: BTreeMap<String, u32> = file
            .services
            .iter()
            .map(|(k, s)| (k.clone(), s.replicas))
            .collect();
        site.up(
            file,
            &next.version,
            &replicas,
            services,
            Mode {
                overlap: true,
                pull,
            },
        )
        .await
    }

    /// Finishes a confirm or a rollback the lifecycle is in, if any.
    pub(in crate::projects) async fn settle(&self, doc: &mut ProjectDoc) -> Result<()> {
        let phase = doc.lifecycle.rollout.as_ref().map(|r| r.phase.clone());
        match phase {
            Some(Phase::Confirming) => self.finish_confirm(doc).await,
            Some(Phase::RollingBack) => self.finish_rollback(doc).await,
            Some(Phase::Failed(why)) => {
                self.event(
                    EventType::DeployFailed,
                    format!("project={}: update failed: {why}", doc.name),
                )
                .await;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    pub(super) async fn finish_confirm(&self, doc: &mut ProjectDoc) -> Result<()> {
        let (Some(next), Some(r)) = (doc.next.clone(), doc.lifecycle.rollout.clone()) else {
            return Ok(());
        };
        let site = self.site(doc).await?;
        site.remove(Remove::AllBut(&next.version)).await?;
        let file = next.parse()?;
        doc.current = next;
        doc.next = None;
        doc.scale.clear();
        self.inner
            .cluster
            .release_reservation(&hold_name(&doc.name, true))
            .await;
        if self.hold_on_engine(doc, &file, false).await.is_err() {
            // The engine's room changed meanwhile: keep what was there.
            self.rehold(doc).await;
        }
        // The new version takes over the fixed host ports.
        let services = doc.running_services(&file);
        site.up(
            &file,
            &doc.current.version,
            &replicas_of(doc, &file),
            &services,
            Mode::default(),
        )
        .await?;
        doc.lifecycle = doc.lifecycle.on(Outcome::Confirmed);
        self.save(doc).await?;
        self.event(
            EventType::Update,
            format!(
                "project={} confirmed version {} (was {})",
                doc.name, r.to, r.from
            ),
        )
        .await;
        Ok(())
    }

    pub(super) async fn finish_rollback(&self, doc: &mut ProjectDoc) -> Result<()> {
        let Some(r) = doc.lifecycle.rollout.clone() else {
            return Ok(());
        };
        let site = self.site(doc).await?;
        site.remove(Remove::Only(&r.to)).await?;
        self.inner
            .cluster
            .release_reservation(&hold_name(&doc.name, true))
            .await;
        doc.next = None;
        doc.lifecycle = doc.lifecycle.on(Outcome::RolledBack);
        self.save(doc).await?;
        self.event(
            EventType::Update,
            format!(
                "project={} rolled back to version {} (from {})",
                doc.name, r.from, r.to
            ),
        )
        .await;
        Ok(())
    }

    /// `confirm-update`: the new version stays, the old one goes.
    pub async fn confirm(&self, name: &str, force: bool) -> Result<()> {
        self.decide(name, Op::Confirm { force }).await
    }

    /// `rollback-update`: the old version stays, the new one goes.
    pub async fn rollback(&self, name: &str, force: bool) -> Result<()> {
        self.decide(name, Op::Rollback { force }).await
    }

    pub(super) async fn decide(&self, name: &str, op: Op) -> Result<()> {
        let _g = self.lock(name).await;
        let mut doc = self.load(name).await?;
        doc.lifecycle = doc.lifecycle.admit(&op)?;
        self.save(&mut doc).await?;
        drop(_g);
        let this = self.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            let _g = this.lock(&name).await;
            let result = match this.load(&name).await {
                Ok(mut doc) => this.settle(&mut doc).await,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                tracing::warn!(project = %name, error = %e, "finishing the update failed");
            }
        });
        Ok(())
    }

    /// Finishes what a restart (or a create) left to do.
    pub(super) async fn resume(&self, name: &str, what: Resume) -> Result<()> {
        if what == Resume::Verify {
            return self.roll(name, false).await;
        }
        let _g = self.lock(name).await;
        let mut doc = self.load(name).await?;
        if doc.lifecycle.desired == ProjectState::Deleted {
            return self.finish_delete(&doc, false).await;
        }
        match what {
            Resume::RollBack => {
                if let Some(r) = doc.lifecycle.rollout.as_mut() {
                    r.phase = Phase::RollingBack;
                }
                self.save(&mut doc).await?;
                self.finish_rollback(&mut doc).await
            }
            Resume::Confirm => self.finish_confirm(&mut doc).await,
            Resume::Converge if doc.lifecycle.desired == ProjectState::Running => {
                self.converge_up(&mut doc, Mode::default()).await
            }
            Resume::Converge => {
                self.halt_now(&doc, Duration::from_secs(10), "").await?;
                doc.lifecycle = doc.lifecycle.on(Outcome::Stopped);
                self.save(&mut doc).await
            }
            _ => Ok(()),
        }
    }

    /// The scheduler's request for a project's total: its reservation, its
    /// fixed host ports (not for a version that starts beside another), and
    /// the labels of its top-level `x-shipcore-labels`.
    pub(in crate::projects) fn request(
        &self,
        doc: &ProjectDoc,
        file: &ComposeFile,
        next: bool,
    ) -> Result<Request> {
        let (mut cpus, mut memory) = (0, 0);
        let mut ports = Vec::new();
        for (name, s) in &file.services {
            let n = if next {
                s.replicas
            } else {
                doc.replicas(name, file)
            };
            let r = s.reservation();
            cpus += r.millicpus * u64::from(n);
            memory += r.memory_mib * u64::from(n);
            if !next && n > 0 {
                for p in s.ports.iter().filter_map(|p| p.fixed().map(|pp| (p, pp))) {
                    ports.push(HostPort::new(&p.0.host_ip, p.0.protocol, p.1));
                }
            }
        }
        let mut req = Request::new(format!("compose:{}", doc.name), cpus, memory);
        req.footprint.name = hold_name(&doc.name, next);
        req.footprint.ports = ports;
        req.strategy = self.inner.cluster.options().strategy;
        if let Some(labels) = file.extensions.get("x-shipcore-labels") {
            let labels = labels.as_array().ok_or_else(|| {
                Error::invalid(
                    "template",
                    "x-shipcore-labels must be a list of scheduler labels",
                )
            })?;
            for l in labels {
                req.add_label(l.as_str().unwrap_or_default())?;
            }
        }
        Ok(req)
    }
}
