//! The event log every API family records into: each change is stored with a
//! sequence number, listed newest first with paging, and can be followed
//! from a sequence number (replay, then live, with no gap and no duplicate).
//!
//! Reads go a page at a time through the store, so neither a listing nor a
//! follow from `since=0` loads the whole history at once.

use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};
use tokio::sync::{broadcast, Mutex};

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::model::{Container, Engine, Event, EventType, ImageEvent};
use crate::store::{get_json, Expect, Op, Page, Store, MAX_BATCH_OPS};

/// Where events are kept in the store.
pub const EVENTS: &str = "cluster/events/";

/// Events read from the store per page while following.
const PAGE: usize = 256;

fn key(seq: u64) -> String {
    format!("{EVENTS}{seq:020}")
}

/// An event to record, before it has a sequence number and a time.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: EventType,
    pub message: String,
    pub tags: Vec<String>,
    pub engine: Option<Engine>,
    pub container: Option<Container>,
    pub image: Option<ImageEvent>,
}

impl NewEvent {
    pub fn new(kind: EventType, message: impl Into<String>, tags: &[&str]) -> Self {
        NewEvent {
            kind,
            message: message.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            engine: None,
            container: None,
            image: None,
        }
    }

    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// About a container (and its engine).
    pub fn container(mut self, container: Container) -> Self {
        self.engine = Some(container.engine.clone());
        self.container = Some(container);
        self
    }

    /// About an image in the registry.
    pub fn image(mut self, image: ImageEvent) -> Self {
        self.image = Some(image);
        self
    }
}

/// The event log over a store.
#[derive(Clone)]
pub struct EventLog {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    next: Arc<Mutex<u64>>,
    /// Events waiting for the next writer (see `record_all`).
    queued: Arc<std::sync::Mutex<Vec<Queued>>>,
    live: broadcast::Sender<Event>,
}

/// One caller's events, and where its answer goes.
type Queued = (
    Vec<NewEvent>,
    tokio::sync::oneshot::Sender<Result<Vec<Event>>>,
);

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog").finish_non_exhaustive()
    }
}

impl EventLog {
    /// Opens the log, continuing after the last stored event.
    pub async fn open(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Result<Self> {
        let last = store
            .page(Page::last(EVENTS, 1))
            .await?
            .first()
            .and_then(|v| {
                v.key
                    .strip_prefix(EVENTS)
                    .and_then(|s| s.parse::<u64>().ok())
            })
            .unwrap_or(0);
        let (live, _) = broadcast::channel(1024);
        Ok(EventLog {
            store,
            clock,
            next: Arc::new(Mutex::new(last + 1)),
            queued: Default::default(),
            live,
        })
    }

    /// Records an event; returns it with its sequence number and time.
    pub async fn record(
        &self,
        kind: EventType,
        message: impl Into<String>,
        tags: &[&str],
        engine: Option<Engine>,
        container: Option<Container>,
    ) -> Result<Event> {
        let mut new = NewEvent::new(kind, message, tags);
        new.engine = engine;
        new.container = container;
        let mut recorded = self.record_all(vec![new]).await?;
        recorded.pop().ok_or_else(|| Error::Storage {
            reason: "an event was recorded without a sequence number".into(),
        })
    }

    /// Records several events, in order, a store batch at a time.
    ///
    /// Events recorded at once share batches: each caller queues its
    /// events, and whoever holds the log's end next writes every queued
    /// event in order (one store write per `MAX_BATCH_OPS`), so a busy
    /// cluster pays one durable write per group, not per event.
    pub async fn record_all(&self, events: Vec<NewEvent>) -> Result<Vec<Event>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.queued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((events, tx));
        // The writing runs on its own task: a caller that goes away (its
        // request dropped) does not take the others' events with it.
        let log = self.clone();
        tokio::spawn(async move {
            let mut next = log.next.lock().await;
            let queued = std::mem::take(
                &mut *log
                    .queued
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            if !queued.is_empty() {
                log.write_queued(&mut next, queued).await;
            }
        });
        rx.await.unwrap_or_else(|_| {
            Err(Error::Storage {
                reason: "an event was dropped before it was recorded".into(),
            })
        })
    }

    /// Writes the queued events of several callers in order and answers
    /// each; `next` is the log's end, held.
    async fn write_queued(&self, next: &mut u64, queued: Vec<Queued>) {
        let time = self.clock.rfc3339();
        let mut answers = Vec::with_capacity(queued.len());
        let mut all = Vec::new();
        for (events, tx) in queued {
            let from = all.len();
            all.extend(events.into_iter().map(|e| Event {
                seq: 0,
                kind: e.kind,
                time: time.clone(),
                message: e.message,
                tags: e.tags,
                engine: e.engine,
                container: e.container.map(Box::new),
                image: e.image,
            }));
            answers.push((from..all.len(), tx));
        }
        let mut failed: Option<(usize, String)> = None;
        let mut start = 0;
        while start < all.len() {
            let end = (start + MAX_BATCH_OPS).min(all.len());
            if let Err(e) = self.write_chunk(next, &mut all[start..end]).await {
                failed = Some((start, e.to_string()));
                break;
            }
            start = end;
        }
        for (range, tx) in answers {
            let answer = match &failed {
                // Some of the caller's events were not written.
                Some((at, reason)) if range.end > *at => Err(Error::Storage {
                    reason: reason.clone(),
                }),
                _ => Ok(all[range].to_vec()),
            };
            // A caller that went away does not need its answer.
            let _ = tx.send(answer);
        }
    }

    /// Writes one batch of events at the log's end (`next`, held), then
    /// sends them to the live followers.
    async fn write_chunk(&self, next: &mut u64, chunk: &mut [Event]) -> Result<()> {
        // Another replica sharing the store may have taken these numbers:
        // then the log's end is read again and the next ones are tried.
        let mut attempts = 0;
        loop {
            for (i, e) in chunk.iter_mut().enumerate() {
                e.seq = *next + i as u64;
            }
            let ops = chunk
                .iter()
                .map(|e| Op::put_json(key(e.seq), e, Expect::Absent))
                .collect::<Result<Vec<_>>>()?;
            match self.store.batch(ops).await {
                Ok(_) => break,
                Err(Error::Conflict { .. }) if attempts < 100 => {
                    attempts += 1;
                    let last = self.store.page(Page::last(EVENTS, 1)).await?;
                    let end = match last.first() {
                        Some(v) => v.json::<Event>()?.seq + 1,
                        None => *next,
                    };
                    *next = end.max(*next + 1);
                }
                Err(e) => return Err(e),
            }
        }
        *next += chunk.len() as u64;
        for e in chunk.iter() {
            // Nobody listening is fine.
            let _ = self.live.send(e.clone());
        }
        Ok(())
    }

    /// Events newest first: `skip` of them left out, at most `limit`.
    pub async fn list(&self, skip: usize, limit: usize) -> Result<Vec<Event>> {
        let mut out = Vec::new();
        let mut skipped = 0;
        let mut after: Option<String> = None;
        while out.len() < limit {
            let want = (limit - out.len() + skip - skipped).min(PAGE * 4);
            let page = self
                .store
                .page(Page {
                    prefix: EVENTS,
                    after: after.as_deref(),
                    limit: want,
                    reverse: true,
                })
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            for v in &page {
                if skipped < skip {
                    skipped += 1;
                } else if out.len() < limit {
                    out.push(v.json::<Event>()?);
                }
            }
        }
        Ok(out)
    }

    /// Drops the oldest events so that at most `keep` remain; returns how
    /// many went.
    pub async fn trim(&self, keep: u64) -> Result<u64> {
        let next = *self.next.lock().await;
        let last = next.saturating_sub(1);
        if last <= keep {
            return Ok(0);
        }
        let below = key(last - keep + 1);
        let mut dropped = 0;
        loop {
            let page = self.store.page(Page::first(EVENTS, MAX_BATCH_OPS)).await?;
            let old: Vec<Op> = page
                .iter()
                .filter(|v| v.key < below)
                .map(|v| Op::Delete {
                    key: v.key.clone(),
                    expect: Expect::Any,
                })
                .collect();
            if old.is_empty() {
                return Ok(dropped);
            }
            dropped += old.len() as u64;
            self.store.batch(old).await?;
        }
    }

    /// The sequence number of the last event recorded (0 for none).
    pub async fn last_seq(&self) -> u64 {
        self.next.lock().await.saturating_sub(1)
    }

    /// One event by sequence number.
    pub async fn get(&self, seq: u64) -> Result<Option<Event>> {
        Ok(get_json::<Event>(self.store.as_ref(), &key(seq))
            .await?
            .map(|(e, _)| e))
    }

    /// Every event with `seq > after`, oldest first, then new ones as they
    /// are recorded, with no gap and no duplicate. Stored events are read a
    /// page at a time as the reader takes them; a reader that falls behind
    /// the live channel goes back to reading pages from where it was, so a
    /// slow reader is slow, not lost.
    pub async fn follow(&self, after: u64) -> Result<BoxStream<'static, Result<Event>>> {
        let follower = Follower {
            store: self.store.clone(),
            live: self.live.clone(),
            rx: self.live.subscribe(),
            done: after,
            reading_store: true,
            ready: std::collections::VecDeque::new(),
        };
        Ok(stream::unfold(Some(follower), |f| async move {
            let mut f = f?;
            match f.next().await {
                Ok(Some(e)) => Some((Ok(e), Some(f))),
                Ok(None) => None,
                // Yield the error, then end.
                Err(e) => Some((Err(e), None)),
            }
        })
        .boxed())
    }
}

/// The state of one follow.
struct Follower {
    store: Arc<dyn Store>,
    live: broadcast::Sender<Event>,
    /// Subscribed before the store is read, so nothing recorded meanwhile
    /// is missed.
    rx: broadcast::Receiver<Event>,
    /// Every event up to this sequence number was delivered.
    done: u64,
    /// Pages of the store are read until one comes back short.
    reading_store: bool,
    ready: std::collections::VecDeque<Event>,
}

impl Follower {
    async fn next(&mut self) -> Result<Option<Event>> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                self.done = e.seq;
                return Ok(Some(e));
            }
            if self.reading_store {
                let cursor = key(self.done);
                let page = self
                    .store
                    .page(Page {
                        prefix: EVENTS,
                        after: Some(&cursor),
                        limit: PAGE,
                        reverse: false,
                    })
                    .await?;
                self.reading_store = page.len() == PAGE;
                for v in &page {
                    self.ready.push_back(v.json::<Event>()?);
                }
                continue;
            }
            match self.rx.recv().await {
                Ok(e) if e.seq <= self.done => continue,
                Ok(e) => self.ready.push_back(e),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Subscribe anew first, then catch up from the store.
                    self.rx = self.live.subscribe();
                    self.reading_store = true;
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_at_once_share_writes_and_keep_their_order() {
        let log = EventLog::open(
            Arc::new(MemoryStore::new()),
            Arc::new(crate::clock::SystemClock::new()),
        )
        .await
        .unwrap();
        let mut follow = log.follow(0).await.unwrap();
        let mut tasks = Vec::new();
        for c in 0..40 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let mut seqs = Vec::new();
                for turn in 0..5 {
                    let events = (0..3)
                        .map(|i| NewEvent::new(EventType::Scale, format!("{c}/{turn}/{i}"), &[]))
                        .collect();
                    let got = log.record_all(events).await.unwrap();
                    let messages: Vec<_> = got.iter().map(|e| e.message.clone()).collect();
                    assert_eq!(
                        messages,
                        (0..3)
                            .map(|i| format!("{c}/{turn}/{i}"))
                            .collect::<Vec<_>>()
                    );
                    // A caller's events are consecutive.
                    assert_eq!(got[2].seq, got[0].seq + 2);
                    seqs.extend(got.iter().map(|e| e.seq));
                }
                seqs
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort_unstable();
        assert_eq!(all, (1..=600).collect::<Vec<u64>>());
        for want in 1..=600u64 {
            assert_eq!(follow.next().await.unwrap().unwrap().seq, want);
        }
    }

    #[tokio::test]
    async fn a_slow_reader_goes_back_to_the_pages_and_misses_nothing() {
        let log = EventLog::open(
            Arc::new(MemoryStore::new()),
            Arc::new(crate::clock::SystemClock::new()),
        )
        .await
        .unwrap();
        let mut follow = log.follow(0).await.unwrap();
        // Far more than the live channel holds, while the reader reads
        // nothing.
        let n = 3 * 1024;
        let events = (0..n)
            .map(|i| NewEvent::new(EventType::Scale, format!("n={i}"), &["test"]))
            .collect();
        log.record_all(events).await.unwrap();
        for want in 1..=n as u64 {
            let e = follow.next().await.unwrap().unwrap();
            assert_eq!(e.seq, want);
        }
        // Then live, as it happens.
        log.record(EventType::Scale, "live", &[], None, None)
            .await
            .unwrap();
        assert_eq!(follow.next().await.unwrap().unwrap().message, "live");
        // Paged listing, newest first, across pages.
        let page = log.list(1000, 3).await.unwrap();
        let seqs: Vec<u64> = page.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            [n as u64 + 1 - 1000, n as u64 - 1000, n as u64 - 1001]
        );
    }
}
