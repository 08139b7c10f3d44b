//! The registry's notifications: its pushes, pulls and deletes, as the
//! cluster's event log records them ([`EventType::ImagePush`], ...), sent to
//! the endpoints an administrator configures, in distribution's envelope
//! (`{"events": [...]}`, media type [`MEDIA_TYPE`]) and signed with each
//! endpoint's secret (HMAC-SHA256 of the body in [`SIGNATURE`]).
//!
//! Each endpoint gets every event it asks for once and in order: its
//! delivery follows the event log from a cursor kept in the store, sends
//! one event at a time, tries the same event again after a failure (with a
//! growing delay, [`backoff`]) until the endpoint takes it with a 2xx, and
//! only then moves the cursor. A restart goes on from the cursor, so an
//! endpoint that was down (or a shipd that was) loses nothing the log
//! still holds; an event whose delivery was cut between the endpoint's
//! answer and the cursor's write comes again, with the same
//! [`DELIVERY`] id, for the endpoint to know it.
//!
//! The endpoint rules, the envelope and the backoff are pure; the
//! deliveries (tasks, the store's records) need the `runtime` feature, and
//! the HTTP client is the caller's ([`Deliver`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::policy;
use crate::error::{Error, Result};
use crate::model::{Event, EventType};

/// The envelope's media type (distribution's).
pub const MEDIA_TYPE: &str = "application/vnd.docker.distribution.events.v1+json";
/// The header with the body's signature: `sha256=<hex HMAC-SHA256>`.
pub const SIGNATURE: &str = "x-shipcore-signature";
/// The header naming the delivery (the same on every try of one event).
pub const DELIVERY: &str = "x-shipcore-delivery";
/// Most endpoints a registry sends to.
pub const MAX_ENDPOINTS: usize = 16;
/// The longest URL and secret taken.
const MAX_URL: usize = 2048;
const MAX_SECRET: usize = 512;
const MIN_SECRET: usize = 16;

/// What happened to an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Action {
    Push,
    Pull,
    Delete,
}

impl Action {
    /// The action of an image event; `None` for every other kind.
    pub fn of(kind: EventType) -> Option<Action> {
        match kind {
            EventType::ImagePush => Some(Action::Push),
            EventType::ImagePull => Some(Action::Pull),
            EventType::ImageDelete => Some(Action::Delete),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Action::Push => "push",
            Action::Pull => "pull",
            Action::Delete => "delete",
        }
    }

    /// The request that made it, as distribution's `request.method` says.
    fn method(self) -> &'static str {
        match self {
            Action::Push => "PUT",
            Action::Pull => "GET",
            Action::Delete => "DELETE",
        }
    }
}

/// An endpoint the registry notifies, as stored. The secret signs what is
/// sent and is never shown again (see [`EndpointView`]).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub name: String,
    /// `http://` or `https://`, with no user or password in it.
    pub url: String,
    pub secret: String,
    /// The actions it is sent (none listed: all).
    #[serde(default)]
    pub actions: Vec<Action>,
    /// The repositories it is sent events of, as patterns (`team/*`; none
    /// listed: all).
    #[serde(default)]
    pub repositories: Vec<String>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("actions", &self.actions)
            .field("repositories", &self.repositories)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Refuses a name, URL, secret or pattern the registry cannot use,
    /// naming the field.
    pub fn validate(&self) -> Result<()> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && self.name.starts_with(|c: char| c.is_ascii_alphanumeric());
        if !name_ok {
            return Err(Error::invalid(
                "name",
                "1 to 64 letters, digits, '-' and '_', starting with a letter or digit",
            ));
        }
        check_url(&self.url)?;
        if self.secret.len() < MIN_SECRET || self.secret.len() > MAX_SECRET {
            return Err(Error::invalid(
                "secret",
                format!("{MIN_SECRET} to {MAX_SECRET} bytes, to sign what is sent"),
            ));
        }
        if self.repositories.len() > policy::MAX_PATTERNS {
            return Err(Error::invalid(
                "repositories",
                format!("at most {} patterns", policy::MAX_PATTERNS),
            ));
        }
        if let Some(p) = self
            .repositories
            .iter()
            .find(|p| p.is_empty() || p.chars().count() > policy::MAX_PATTERN)
        {
            return Err(Error::invalid(
                "repositories",
                format!(
                    "a pattern is 1 to {} characters: {p:?}",
                    policy::MAX_PATTERN
                ),
            ));
        }
        Ok(())
    }

    /// Whether this endpoint is sent `event`.
    pub fn wants(&self, event: &Event) -> bool {
        let (Some(action), Some(image)) = (Action::of(event.kind), &event.image) else {
            return false;
        };
        (self.actions.is_empty() || self.actions.contains(&action))
            && (self.repositories.is_empty()
                || self
                    .repositories
                    .iter()
                    .any(|p| policy::matches(p, &image.repository)))
    }
}

/// An `http://` or `https://` URL with a host and no credentials in it
/// (they would be shown with the endpoint; the signature is the proof).
fn check_url(url: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::invalid("url", format!("{why}: {url:?}")));
    if url.len() > MAX_URL {
        return Err(Error::invalid(
            "url",
            format!("at most {MAX_URL} characters"),
        ));
    }
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return bad("not an http:// or https:// URL");
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("a URL has no spaces or control characters");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return bad("a URL with a user or password in it");
    }
    if authority.is_empty() || authority.starts_with(':') {
        return bad("a URL with no host");
    }
    Ok(())
}

/// Who sends (distribution's `source`): the registry as the engines name
/// it, and this shipd.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    /// `HOST:PORT`.
    pub addr: String,
    pub instance_id: String,
}

/// The id of an event's delivery: the same on every try and after a
/// restart (the event log's sequence number, under this registry's name).
pub fn delivery_id(event: &Event, source: &Source) -> String {
    format!("{}-{}", source.instance_id, event.seq)
}

/// Distribution's notification envelope with one event per image event
/// of `events` (others are left out).
pub fn envelope(events: &[Event], source: &Source) -> Value {
    let list: Vec<Value> = events
        .iter()
        .filter_map(|e| {
            let action = Action::of(e.kind)?;
            let image = e.image.as_ref()?;
            let id = delivery_id(e, source);
            let reference = if image.digest.is_empty() {
                image.tag.clone()
            } else {
                image.digest.clone()
            };
            let mut target = json!({
                "mediaType": image.media_type,
                "size": image.size,
                "digest": image.digest,
                "length": image.size,
                "repository": image.repository,
                "url": format!("http://{}/v2/{}/manifests/{reference}", source.addr, image.repository),
            });
            if !image.tag.is_empty() {
                target["tag"] = json!(image.tag);
            }
            Some(json!({
                "id": id,
                "timestamp": e.time,
                "action": action.as_str(),
                "target": target,
                "request": { "id": id, "host": source.addr, "method": action.method() },
                "actor": { "name": image.actor },
                "source": { "addr": source.addr, "instanceID": source.instance_id },
            }))
        })
        .collect();
    json!({ "events": list })
}

/// The wait before try `attempt + 1` of one delivery, after `attempt`
/// failures: `base` doubled each time, at most `most`.
pub fn backoff(attempt: u32, base: Duration, most: Duration) -> Duration {
    base.saturating_mul(1u32 << attempt.min(20)).min(most)
}

#[cfg(feature = "runtime")]
pub use deliver::{Deliver, Delivery, EndpointView, Notifications, NotifyOptions};

#[cfg(feature = "runtime")]
mod deliver {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::time::Duration;

    use futures::StreamExt as _;
    use serde::Serialize;

    use super::{backoff, delivery_id, envelope, Action, Endpoint, Source, MAX_ENDPOINTS};
    use crate::error::{Error, Result};
    use crate::events::EventLog;
    use crate::model::Event;
    use crate::store::{get_json, put_json, Expect, Store};

    const ENDPOINTS: &str = "registry/notify/endpoints/";
    const CURSORS: &str = "registry/notify/cursors/";

    /// Sends a notification: the HTTP client is the caller's.
    #[async_trait::async_trait]
    pub trait Deliver: Send + Sync + std::fmt::Debug {
        /// POSTs `body` to `url` with `headers`; the answer's status, or
        /// why there was none (the error says no secret).
        async fn post(
            &self,
            url: &str,
            headers: Vec<(&'static str, String)>,
            body: Vec<u8>,
        ) -> std::result::Result<u16, String>;
    }

    /// How deliveries wait between tries.
    #[derive(Debug, Clone)]
    pub struct NotifyOptions {
        pub source: Source,
        /// The first wait after a failure; it doubles up to `most`.
        pub base: Duration,
        pub most: Duration,
    }

    impl Default for NotifyOptions {
        fn default() -> Self {
            NotifyOptions {
                source: Source::default(),
                base: Duration::from_millis(500),
                most: Duration::from_secs(300),
            }
        }
    }

    /// How an endpoint's deliveries go.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Delivery {
        /// The event log's sequence number of the last event delivered (or
        /// of the log's end when the endpoint was added).
        pub cursor: u64,
        /// Events delivered since this shipd started.
        pub delivered: u64,
        /// The event being tried again, if one is.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub waiting: Option<u64>,
        /// Failed tries of the waiting event.
        pub failures: u32,
        /// Why the last try failed (an HTTP status or a connection error).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub last_error: Option<String>,
    }

    /// An endpoint as the API shows it: everything but its secret.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct EndpointView {
        pub name: String,
        pub url: String,
        pub actions: Vec<Action>,
        pub repositories: Vec<String>,
        pub delivery: Delivery,
    }

    /// The registry's notifications: the endpoints, and a delivery task
    /// for each once [`Notifications::start`] ran.
    #[derive(Clone)]
    pub struct Notifications {
        inner: Arc<Inner>,
    }

    struct Inner {
        store: Arc<dyn Store>,
        events: EventLog,
        deliver: Arc<dyn Deliver>,
        opts: NotifyOptions,
        started: std::sync::atomic::AtomicBool,
        /// Held by whatever adds, changes or removes an endpoint, so two
        /// changes of one endpoint never leave two deliveries running.
        changes: tokio::sync::Mutex<()>,
        tasks: tokio::sync::Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
        status: std::sync::Mutex<HashMap<String, Delivery>>,
    }

    impl std::fmt::Debug for Notifications {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Notifications").finish_non_exhaustive()
        }
    }

    impl Notifications {
        pub fn new(
            store: Arc<dyn Store>,
            events: EventLog,
            deliver: Arc<dyn Deliver>,
            opts: NotifyOptions,
        ) -> Self {
            Notifications {
                inner: Arc::new(Inner {
                    store,
                    events,
                    deliver,
                    opts,
                    started: Default::default(),
                    changes: Default::default(),
                    tasks: Default::default(),
                    status: Default::default(),
                }),
            }
        }

        async fn stored(&self) -> Result<Vec<Endpoint>> {
            self.inner
                .store
                .list(ENDPOINTS)
                .await?
                .iter()
                .map(|v| v.json::<Endpoint>())
                .collect()
        }

        async fn cursor(&self, name: &str) -> Result<u64> {
            Ok(
                get_json::<u64>(self.inner.store.as_ref(), &format!("{CURSORS}{name}"))
                    .await?
                    .map_or(0, |(c, _)| c),
            )
        }

        /// The endpoints, in name order, with how their deliveries go.
        pub async fn endpoints(&self) -> Result<Vec<EndpointView>> {
            let mut out = Vec::new();
            for e in self.stored().await? {
                out.push(self.view(e).await?);
            }
            Ok(out)
        }

        async fn view(&self, e: Endpoint) -> Result<EndpointView> {
            let mut delivery = self
                .inner
                .status
                .lock()
                .ok()
                .and_then(|s| s.get(&e.name).cloned())
                .unwrap_or_default();
            delivery.cursor = self.cursor(&e.name).await?;
            Ok(EndpointView {
                name: e.name,
                url: e.url,
                actions: e.actions,
                repositories: e.repositories,
                delivery,
            })
        }

        /// Adds an endpoint, or changes one (its deliveries go on from
        /// where they were). A new endpoint is sent what happens from now
        /// on, not the log's past.
        pub async fn set(&self, endpoint: Endpoint) -> Result<EndpointView> {
            endpoint.validate()?;
            let _change = self.inner.changes.lock().await;
            let store = self.inner.store.as_ref();
            let key = format!("{ENDPOINTS}{}", endpoint.name);
            let known = get_json::<Endpoint>(store, &key).await?.is_some();
            if !known && self.stored().await?.len() >= MAX_ENDPOINTS {
                return Err(Error::invalid(
                    "name",
                    format!("at most {MAX_ENDPOINTS} endpoints; delete one first"),
                ));
            }
            // Stop the old delivery before its settings change under it.
            self.stop(&endpoint.name).await;
            if !known {
                let end = self.inner.events.last_seq().await;
                put_json(
                    store,
                    &format!("{CURSORS}{}", endpoint.name),
                    &end,
                    Expect::Any,
                )
                .await?;
            }
            put_json(store, &key, &endpoint, Expect::Any).await?;
            if self.inner.started.load(std::sync::atomic::Ordering::SeqCst) {
                self.run(endpoint.clone()).await;
            }
            self.view(endpoint).await
        }

        /// Deletes an endpoint: nothing more is sent to it.
        pub async fn remove(&self, name: &str) -> Result<()> {
            let _change = self.inner.changes.lock().await;
            let store = self.inner.store.as_ref();
            let key = format!("{ENDPOINTS}{name}");
            if get_json::<Endpoint>(store, &key).await?.is_none() {
                return Err(Error::missing("notification endpoint", name));
            }
            self.stop(name).await;
            store.delete(&key, Expect::Any).await?;
            store
                .delete(&format!("{CURSORS}{name}"), Expect::Any)
                .await?;
            if let Ok(mut s) = self.inner.status.lock() {
                s.remove(name);
            }
            Ok(())
        }

        /// Starts a delivery for every endpoint (and for those set later).
        pub async fn start(&self) -> Result<()> {
            let _change = self.inner.changes.lock().await;
            self.inner
                .started
                .store(true, std::sync::atomic::Ordering::SeqCst);
            for e in self.stored().await? {
                self.stop(&e.name).await;
                self.run(e).await;
            }
            Ok(())
        }

        /// Stops every delivery (a shutdown); each goes on from its cursor
        /// at the next [`Notifications::start`].
        pub async fn stop_all(&self) {
            let _change = self.inner.changes.lock().await;
            self.inner
                .started
                .store(false, std::sync::atomic::Ordering::SeqCst);
            let tasks: Vec<_> = self.inner.tasks.lock().await.drain().collect();
            for (_, task) in tasks {
                task.abort();
                let _ = task.await;
            }
        }

        async fn stop(&self, name: &str) {
            if let Some(task) = self.inner.tasks.lock().await.remove(name) {
                task.abort();
                let _ = task.await;
            }
        }

        async fn run(&self, endpoint: Endpoint) {
            let name = endpoint.name.clone();
            let me = self.clone();
            let task = tokio::spawn(async move { me.deliver_all(endpoint).await });
            self.inner.tasks.lock().await.insert(name, task);
        }

        fn update(&self, name: &str, f: impl FnOnce(&mut Delivery)) {
            if let Ok(mut s) = self.inner.status.lock() {
                f(s.entry(name.to_string()).or_default());
            }
        }

        /// Follows the event log from the endpoint's cursor for as long as
        /// the endpoint is there; a store that fails is read again after a
        /// wait.
        async fn deliver_all(self, endpoint: Endpoint) {
            let mut failures = 0;
            loop {
                if let Err(e) = self.follow(&endpoint).await {
                    tracing::warn!(endpoint = %endpoint.name, error = %e, "notifications: the event log could not be read; trying again");
                }
                let opts = &self.inner.opts;
                tokio::time::sleep(backoff(failures, opts.base, opts.most)).await;
                failures = failures.saturating_add(1);
            }
        }

        async fn follow(&self, endpoint: &Endpoint) -> Result<()> {
            let cursor = self.cursor(&endpoint.name).await?;
            let mut events = self.inner.events.follow(cursor).await?;
            while let Some(event) = events.next().await {
                let event = event?;
                if !endpoint.wants(&event) {
                    continue;
                }
                self.send(endpoint, &event).await;
                put_json(
                    self.inner.store.as_ref(),
                    &format!("{CURSORS}{}", endpoint.name),
                    &event.seq,
                    Expect::Any,
                )
                .await?;
                self.update(&endpoint.name, |d| {
                    d.delivered += 1;
                    d.waiting = None;
                    d.failures = 0;
                });
            }
            Ok(())
        }

        /// Sends one event until the endpoint takes it.
        async fn send(&self, endpoint: &Endpoint, event: &Event) {
            let opts = &self.inner.opts;
            let body = serde_json::to_vec(&envelope(std::slice::from_ref(event), &opts.source))
                .unwrap_or_default();
            let signature = super::signature(&endpoint.secret, &body);
            let id = delivery_id(event, &opts.source);
            let mut failures = 0u32;
            loop {
                let headers = vec![
                    ("content-type", super::MEDIA_TYPE.to_string()),
                    (super::SIGNATURE, signature.clone()),
                    (super::DELIVERY, id.clone()),
                ];
                let why = match self
                    .inner
                    .deliver
                    .post(&endpoint.url, headers, body.clone())
                    .await
                {
                    Ok(status) if (200..300).contains(&status) => return,
                    Ok(status) => format!("the endpoint answered {status}"),
                    Err(e) => e,
                };
                failures = failures.saturating_add(1);
                tracing::info!(endpoint = %endpoint.name, event = event.seq, failures, reason = %why, "notifications: not delivered; trying again");
                self.update(&endpoint.name, |d| {
                    d.waiting = Some(event.seq);
                    d.failures = failures;
                    d.last_error = Some(why);
                });
                tokio::time::sleep(backoff(failures - 1, opts.base, opts.most)).await;
            }
        }
    }
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`.
#[cfg(feature = "runtime")]
pub fn signature(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, body);
    let mut digest = [0u8; 32];
    digest.copy_from_slice(tag.as_ref());
    format!("sha256={}", crate::access::secret::hex(&digest))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::ImageEvent;

    fn endpoint() -> Endpoint {
        Endpoint {
            name: "ci".into(),
            url: "http://127.0.0.1:9/hook".into(),
            secret: "0123456789abcdef".into(),
            actions: vec![],
            repositories: vec![],
        }
    }

    fn event(kind: EventType, repo: &str) -> Event {
        Event {
            seq: 7,
            kind,
            time: "2026-12-07T10:00:00Z".into(),
            message: String::new(),
            tags: vec![],
            engine: None,
            container: None,
            image: Some(ImageEvent {
                repository: repo.into(),
                digest: format!("sha256:{}", "a".repeat(64)),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                size: 512,
                tag: "1.0".into(),
                actor: "alice".into(),
            }),
        }
    }

    #[test]
    fn endpoints_are_checked_field_by_field() {
        assert!(endpoint().validate().is_ok());
        // A pattern's length is in characters, as the document says.
        let mut wide = endpoint();
        wide.repositories = vec!["𝕋".repeat(128)];
        assert!(wide.validate().is_ok());
        type Change = fn(&mut Endpoint);
        let cases: &[(&str, Change)] = &[
            ("name", |e| e.name = "".into()),
            ("name", |e| e.name = "-x".into()),
            ("name", |e| e.name = "a/b".into()),
            ("url", |e| e.url = "ftp://host/".into()),
            ("url", |e| e.url = "http://user:pw@host/".into()),
            ("url", |e| e.url = "http:///path".into()),
            ("url", |e| e.url = "http://host/a b".into()),
            ("url", |e| e.url = format!("http://h/{}", "a".repeat(3000))),
            ("secret", |e| e.secret = "short".into()),
            ("repositories", |e| e.repositories = vec![String::new()]),
            ("repositories", |e| e.repositories = vec!["a".into(); 40]),
            ("repositories", |e| e.repositories = vec!["a".repeat(129)]),
        ];
        for (field, change) in cases {
            let mut e = endpoint();
            change(&mut e);
            match e.validate() {
                Err(Error::Invalid { field: f, .. }) => assert_eq!(f, *field, "{e:?}"),
                other => panic!("{e:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_endpoint_is_sent_the_actions_and_repositories_it_asks_for() {
        let mut e = endpoint();
        assert!(e.wants(&event(EventType::ImagePush, "team/app")));
        assert!(!e.wants(&event(EventType::Create, "team/app")));
        e.actions = vec![Action::Push, Action::Delete];
        assert!(!e.wants(&event(EventType::ImagePull, "team/app")));
        assert!(e.wants(&event(EventType::ImageDelete, "team/app")));
        e.repositories = vec!["team/*".into()];
        assert!(e.wants(&event(EventType::ImagePush, "team/app")));
        assert!(!e.wants(&event(EventType::ImagePush, "other/app")));
    }

    #[test]
    fn the_envelope_is_distributions() {
        let source = Source {
            addr: "reg.example:5000".into(),
            instance_id: "shipd-1".into(),
        };
        let v = envelope(
            &[
                event(EventType::ImagePush, "team/app"),
                event(EventType::Create, "x"),
            ],
            &source,
        );
        let events = v["events"].as_array().unwrap();
        assert_eq!(events.len(), 1);
        let e = &events[0];
        assert_eq!(e["id"], "shipd-1-7");
        assert_eq!(e["action"], "push");
        assert_eq!(e["timestamp"], "2026-12-07T10:00:00Z");
        assert_eq!(e["target"]["repository"], "team/app");
        assert_eq!(e["target"]["tag"], "1.0");
        assert_eq!(e["target"]["size"], 512);
        assert_eq!(
            e["target"]["url"],
            format!(
                "http://reg.example:5000/v2/team/app/manifests/sha256:{}",
                "a".repeat(64)
            )
        );
        assert_eq!(e["actor"]["name"], "alice");
        assert_eq!(e["request"]["method"], "PUT");
        assert_eq!(e["source"]["instanceID"], "shipd-1");
    }

    #[test]
    fn backoff_doubles_up_to_its_most() {
        let (base, most) = (Duration::from_millis(100), Duration::from_secs(1));
        let waits: Vec<u128> = (0..6).map(|a| backoff(a, base, most).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff(u32::MAX, base, most), most);
    }

    #[cfg(feature = "runtime")]
    #[test]
    fn the_signature_is_the_bodys_hmac() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
