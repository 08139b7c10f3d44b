//! One service of a project: started, stopped, scaled.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Projects {
    pub async fn start_service(&self, id: &str) -> Result<()> {
        self.service_op(id, |this, mut doc, file, svc| async move {
            doc.stopped.retain(|s| s != &svc);
            if doc.lifecycle.desired != ProjectState::Running {
                doc.stopped = file
                    .services
                    .keys()
                    .filter(|s| **s != svc)
                    .cloned()
                    .collect();
                doc.lifecycle.desired = ProjectState::Running;
            }
            this.save(&mut doc).await?;
            let site = this.place(&mut doc, &file).await?;
            let one = BTreeSet::from([svc.clone()]);
            site.up(
                &file,
                &doc.current.version,
                &replicas_of(&doc, &file),
                &one,
                Mode::default(),
            )
            .await?;
            doc.lifecycle = doc.lifecycle.on(Outcome::Running);
            this.save(&mut doc).await?;
            this.event(EventType::Start, format!("service={}_{svc}", doc.name))
                .await;
            Ok(())
        })
        .await
    }

    pub async fn stop_service(
        &self,
        id: &str,
        timeout: Duration,
        signal: Option<String>,
    ) -> Result<()> {
        if let Some(s) = &signal {
            check_signal(s)?;
        }
        self.service_op(id, move |this, mut doc, file, svc| async move {
            if !doc.stopped.contains(&svc) {
                doc.stopped.push(svc.clone());
            }
            this.save(&mut doc).await?;
            if !doc.engine.is_empty() {
                let site = this.site(&doc).await?;
                let one = BTreeSet::from([svc.clone()]);
                match &signal {
                    Some(sig) => site.kill(Some(&one), sig).await?,
                    None => site.stop(&file, Some(&one), timeout).await?,
                }
            }
            this.event(EventType::Stop, format!("service={}_{svc}", doc.name))
                .await;
            Ok(())
        })
        .await
    }

    /// Sets a service's replicas: the project's reservation grows or shrinks
    /// on its engine (refused with the scheduler's explanation when the
    /// engine lacks the room), then the service is brought to the count.
    pub async fn scale_service(&self, id: &str, count: u32) -> Result<()> {
        if count > 1000 {
            return Err(Error::invalid("value", "must be from 0 to 1000"));
        }
        self.service_op(id, move |this, mut doc, file, svc| async move {
            if count > 1 && file.services.get(&svc).is_some_and(|s| !s.container_name.is_empty()) {
                return Err(Error::invalid(
                    "value",
                    format!("service {svc} has a container_name: Docker requires each container to have a unique name, so it runs one"),
                ));
            }
            let before = doc.scale.get(&svc).copied();
            doc.scale.insert(svc.clone(), count);
            if !doc.engine.is_empty() {
                if let Err(e) = this.hold_on_engine(&doc, &file, false).await {
                    match before {
                        Some(b) => doc.scale.insert(svc.clone(), b),
                        None => doc.scale.remove(&svc),
                    };
                    return Err(e);
                }
            }
            this.save(&mut doc).await?;
            if doc.wants_running(&svc) && !doc.engine.is_empty() {
                let site = this.site(&doc).await?;
                let one = BTreeSet::from([svc.clone()]);
                site.up(
                    &file,
                    &doc.current.version,
                    &replicas_of(&doc, &file),
                    &one,
                    Mode::default(),
                )
                .await?;
            }
            this.event(
                EventType::Scale,
                format!("service={}_{svc} count={count}", doc.name),
            )
            .await;
            Ok(())
        })
        .await
    }
}

pub(super) fn check_signal(signal: &str) -> Result<()> {
    let ok = !signal.is_empty()
        && signal.len() <= 16
        && signal
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "signal",
            format!("{signal:?} is not a signal name such as KILL or TERM"),
        ))
    }
}
