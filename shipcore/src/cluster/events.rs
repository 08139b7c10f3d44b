//! The cluster's event log: every change is stored with a sequence number,
//! listed newest first with paging, and can be followed from a sequence
//! number (replay, then live, with no gap and no duplicate).

use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};
use tokio::sync::{broadcast, Mutex};

use super::clock::now_rfc3339;
use crate::error::{Error, Result};
use crate::model::{Container, Engine, Event, EventType};
use crate::store::{get_json, put_json, Expect, Store};

const EVENTS: &str = "cluster/events/";

fn key(seq: u64) -> String {
    format!("{EVENTS}{seq:020}")
}

/// The event log over a store.
#[derive(Clone)]
pub struct EventLog {
    store: Arc<dyn Store>,
    next: Arc<Mutex<u64>>,
    live: broadcast::Sender<Event>,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog").finish_non_exhaustive()
    }
}

impl EventLog {
    /// Opens the log, continuing after the last stored event.
    pub async fn open(store: Arc<dyn Store>) -> Result<Self> {
        let last = store
            .list(EVENTS)
            .await?
            .last()
            .and_then(|v| {
                v.key
                    .strip_prefix(EVENTS)
                    .and_then(|s| s.parse::<u64>().ok())
            })
            .unwrap_or(0);
        let (live, _) = broadcast::channel(1024);
        Ok(EventLog {
            store,
            next: Arc::new(Mutex::new(last + 1)),
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
        let mut next = self.next.lock().await;
        let event = Event {
            seq: *next,
            kind,
            time: now_rfc3339(),
            message: message.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            engine,
            container: container.map(Box::new),
        };
        put_json(self.store.as_ref(), &key(event.seq), &event, Expect::Absent).await?;
        *next += 1;
        // Nobody listening is fine.
        let _ = self.live.send(event.clone());
        Ok(event)
    }

    /// Events newest first: `skip` of them left out, at most `limit`.
    pub async fn list(&self, skip: usize, limit: usize) -> Result<Vec<Event>> {
        let all = self.store.list(EVENTS).await?;
        all.iter()
            .rev()
            .skip(skip)
            .take(limit)
            .map(|v| v.json::<Event>())
            .collect()
    }

    /// One event by sequence number.
    pub async fn get(&self, seq: u64) -> Result<Option<Event>> {
        Ok(get_json::<Event>(self.store.as_ref(), &key(seq))
            .await?
            .map(|(e, _)| e))
    }

    /// Every event with `seq > after`, oldest first, then new ones as they
    /// are recorded. A reader too slow for the live channel gets
    /// `Error::WatchLost` and can resume from the last sequence it saw.
    pub async fn follow(&self, after: u64) -> Result<BoxStream<'static, Result<Event>>> {
        let rx = self.live.subscribe();
        let stored: Vec<Event> = self
            .store
            .list(EVENTS)
            .await?
            .iter()
            .filter(|v| v.key.as_str() > key(after).as_str())
            .map(|v| v.json::<Event>())
            .collect::<Result<_>>()?;
        let last = stored.last().map_or(after, |e| e.seq);
        let live = stream::unfold((Some(rx), last), |(rx, last)| async move {
            let mut rx = rx?;
            loop {
                match rx.recv().await {
                    Ok(e) if e.seq <= last => continue,
                    Ok(e) => {
                        let seq = e.seq;
                        return Some((Ok(e), (Some(rx), seq)));
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let err = Error::WatchLost {
                            revision: last,
                            reason: "the reader fell behind the event log".into(),
                        };
                        // Yield the error, then end.
                        return Some((Err(err), (None, last)));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Ok(stream::iter(stored.into_iter().map(Ok)).chain(live).boxed())
    }
}
