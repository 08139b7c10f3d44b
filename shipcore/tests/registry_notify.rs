//! The registry's notifications over a real registry and event log, with an
//! endpoint that fails and then recovers: every event it asks for arrives
//! once, in order, signed; a delivery that starts again (a restart) goes on
//! from where it was; the same events are on the cluster's event log.
#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest as _, Sha256};
use shipcore::clock::SystemClock;
use shipcore::events::EventLog;
use shipcore::model::EventType;
use shipcore::registry::manifest::DOCKER_MANIFEST;
use shipcore::registry::notify::{
    self, Action, Deliver, Endpoint, Notifications, NotifyOptions, Source,
};
use shipcore::registry::{BlobStore, Digest, Reference, Registry, Repository};
use shipcore::store::{MemoryStore, Store};

/// A delivery taken: its headers and body.
type Taken = (Vec<(&'static str, String)>, Vec<u8>);

/// An endpoint that answers the statuses it is given, then 200, and keeps
/// what it took.
#[derive(Debug, Default)]
struct Endpoints {
    answers: Mutex<VecDeque<Result<u16, String>>>,
    tries: Mutex<u32>,
    taken: Mutex<Vec<Taken>>,
}

#[async_trait::async_trait]
impl Deliver for Endpoints {
    async fn post(
        &self,
        _url: &str,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    ) -> Result<u16, String> {
        *self.tries.lock().unwrap() += 1;
        let answer = self.answers.lock().unwrap().pop_front().unwrap_or(Ok(200));
        if answer == Ok(200) {
            self.taken.lock().unwrap().push((headers, body));
        }
        answer
    }
}

fn digest(data: &[u8]) -> Digest {
    Digest::from_bytes(Sha256::digest(data).into())
}

struct Bed {
    store: Arc<dyn Store>,
    events: EventLog,
    registry: Registry,
    _dir: tempfile::TempDir,
}

async fn bed() -> Bed {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = Arc::new(SystemClock::new());
    let events = EventLog::open(store.clone(), clock.clone()).await.unwrap();
    let blobs = BlobStore::open(dir.path()).await.unwrap();
    let registry = Registry::new(store.clone(), blobs, clock).with_events(events.clone());
    Bed {
        store,
        events,
        registry,
        _dir: dir,
    }
}

/// Pushes an image of one layer to `repo:tag`.
async fn push(r: &Registry, repo: &Repository, tag: &str, layer: &[u8]) -> Digest {
    let (config, layer_d) = (digest(b"config"), digest(layer));
    for (d, data) in [(config, b"config".to_vec()), (layer_d, layer.to_vec())] {
        let body = futures::stream::iter([Ok(Bytes::from(data))]);
        r.blob_store().put(&d, 1 << 20, body).await.unwrap();
        r.link_blob(repo, &d, "alice").await.unwrap();
    }
    let body = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{config}","size":6}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"{layer_d}","size":{}}}]}}"#,
        layer.len()
    );
    r.put_manifest(
        repo,
        &Reference::parse(tag).unwrap(),
        body.as_bytes(),
        DOCKER_MANIFEST,
        "alice",
    )
    .await
    .unwrap()
    .digest
}

fn options() -> NotifyOptions {
    NotifyOptions {
        source: Source {
            addr: "registry.test:5000".into(),
            instance_id: "shipd-test".into(),
        },
        base: Duration::from_millis(20),
        most: Duration::from_millis(100),
    }
}

fn hook(actions: Vec<Action>) -> Endpoint {
    Endpoint {
        name: "ci".into(),
        url: "http://127.0.0.1:9/hook".into(),
        secret: "a-secret-of-some-length".into(),
        actions,
        repositories: vec!["team/*".into()],
    }
}

/// Waits until `n` deliveries were taken.
async fn taken(at: &Endpoints, n: usize) -> Vec<serde_json::Value> {
    for _ in 0..500 {
        if at.taken.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let taken = at.taken.lock().unwrap();
    assert_eq!(taken.len(), n, "deliveries taken");
    taken
        .iter()
        .map(|(headers, body)| {
            let signed = headers
                .iter()
                .find(|(h, _)| *h == notify::SIGNATURE)
                .map(|(_, v)| v.clone());
            assert_eq!(
                signed.as_deref(),
                Some(notify::signature("a-secret-of-some-length", body).as_str())
            );
            let v: serde_json::Value = serde_json::from_slice(body).unwrap();
            v["events"][0].clone()
        })
        .collect()
}

#[tokio::test]
async fn an_endpoint_that_fails_then_recovers_gets_each_event_once_in_order() {
    let bed = bed().await;
    let r = &bed.registry;
    let repo = Repository::parse("team/app").unwrap();
    let other = Repository::parse("other/app").unwrap();
    // What happened before the endpoint was added is not sent.
    push(r, &repo, "0.9", b"old").await;
    let at = Arc::new(Endpoints::default());
    // Down for three tries (a refused connection, then 503 twice).
    at.answers
        .lock()
        .unwrap()
        .extend([Err("connection refused".to_string()), Ok(503), Ok(503)]);
    let n = Notifications::new(bed.store.clone(), bed.events.clone(), at.clone(), options());
    n.set(hook(vec![])).await.unwrap();
    n.start().await.unwrap();
    let d1 = push(r, &repo, "1.0", b"one").await;
    push(r, &other, "1.0", b"elsewhere").await;
    r.manifest(&repo, &Reference::parse("1.0").unwrap(), Some("bob"))
        .await
        .unwrap();
    r.delete_tag(&repo, "1.0", "carol").await.unwrap();
    let got = taken(&at, 3).await;
    let seen: Vec<(&str, &str, &str)> = got
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["target"]["tag"].as_str().unwrap(),
                e["actor"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("push", "1.0", "alice"),
            ("pull", "1.0", "bob"),
            ("delete", "1.0", "carol")
        ]
    );
    assert_eq!(got[0]["target"]["digest"], d1.to_string());
    assert_eq!(got[0]["target"]["repository"], "team/app");
    // Three failed tries of the first event, then one try each.
    assert_eq!(*at.tries.lock().unwrap(), 6);
    let view = &n.endpoints().await.unwrap()[0];
    assert_eq!(view.delivery.delivered, 3);
    assert_eq!(view.delivery.waiting, None);
    assert_eq!(
        view.delivery.last_error.as_deref(),
        Some("the endpoint answered 503")
    );
    // The cluster's event log has them, the other repository's push too.
    let log = bed.events.list(0, 50).await.unwrap();
    let kinds: Vec<EventType> = log.iter().rev().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventType::ImagePush,
            EventType::ImagePush,
            EventType::ImagePush,
            EventType::ImagePull,
            EventType::ImageDelete
        ]
    );
}

#[tokio::test]
async fn a_delivery_started_again_goes_on_from_its_cursor() {
    let bed = bed().await;
    let r = &bed.registry;
    let repo = Repository::parse("team/app").unwrap();
    let at = Arc::new(Endpoints::default());
    let n = Notifications::new(bed.store.clone(), bed.events.clone(), at.clone(), options());
    n.set(hook(vec![Action::Push])).await.unwrap();
    n.start().await.unwrap();
    push(r, &repo, "1", b"one").await;
    taken(&at, 1).await;
    // A restart: a new service over the same store, while the endpoint
    // is down; what is pushed meanwhile arrives once it is back.
    n.stop_all().await;
    let later = Arc::new(Endpoints::default());
    later
        .answers
        .lock()
        .unwrap()
        .extend([Ok(500), Err("timed out".to_string())]);
    push(r, &repo, "2", b"two").await;
    r.manifest(&repo, &Reference::parse("2").unwrap(), Some("bob"))
        .await
        .unwrap();
    push(r, &repo, "3", b"three").await;
    let n = Notifications::new(
        bed.store.clone(),
        bed.events.clone(),
        later.clone(),
        options(),
    );
    n.start().await.unwrap();
    let got = taken(&later, 2).await;
    let tags: Vec<&str> = got
        .iter()
        .map(|e| e["target"]["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["2", "3"], "pushes only, from the cursor on");
    // Removed: nothing more is sent.
    n.remove("ci").await.unwrap();
    push(r, &repo, "4", b"four").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(later.taken.lock().unwrap().len(), 2);
    assert!(n.endpoints().await.unwrap().is_empty());
    assert!(matches!(
        n.remove("ci").await,
        Err(shipcore::Error::Missing { .. })
    ));
}
