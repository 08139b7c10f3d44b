//! A build's log: kept in memory while it runs (at most `MAX_LOG` bytes,
//! the oldest lines dropped first), followed live, stored when it ends.

#[allow(clippy::wildcard_imports)]
use super::*;

/// One line of a build's log, numbered from 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEvent {
    Line(usize, String),
    /// The build ended so.
    End(BuildStatus),
}

/// A running build's log: its last lines (at most [`MAX_LOG`] bytes), the
/// first of them numbered `first`.
pub(super) struct Live {
    pub(super) lines: std::collections::VecDeque<String>,
    pub(super) first: usize,
    pub(super) bytes: usize,
    pub(super) tx: broadcast::Sender<LogEvent>,
}

impl Live {
    /// The lines from number `from` on, numbered.
    pub(super) fn since(&self, from: usize) -> Vec<LogEvent> {
        let skip = from.saturating_sub(self.first);
        self.lines
            .iter()
            .enumerate()
            .skip(skip)
            .map(|(k, l)| LogEvent::Line(self.first + k, l.clone()))
            .collect()
    }

    /// The log to store: what was left out said first.
    pub(super) fn stored(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.lines.len() + 1);
        if self.first > 0 {
            out.push(format!("({} earlier lines left out)", self.first));
        }
        out.extend(self.lines.iter().cloned());
        out
    }
}

impl Builds {
    /// A build's log so far (the stored one once it ended).
    pub async fn log(&self, id: &str) -> Result<Vec<String>> {
        let r = self.record(id).await?;
        if let Some(l) = self
            .inner
            .live
            .lock()
            .ok()
            .and_then(|l| l.get(id).map(Live::stored))
        {
            return Ok(l);
        }
        Ok(self.stored_log(&r.id).await)
    }

    pub(super) async fn stored_log(&self, id: &str) -> Vec<String> {
        match get_json::<Vec<String>>(self.inner.store.as_ref(), &format!("{LOGS}{id}")).await {
            Ok(Some((l, _))) => l,
            _ => Vec::new(),
        }
    }

    /// Follows a build's log from line `from`: the lines so far, then each
    /// new one as it comes, then the end. A build still queued (or running
    /// on another replica) is polled until it starts here or ends.
    pub async fn follow(
        &self,
        id: &str,
        from: usize,
    ) -> Result<futures::stream::BoxStream<'static, LogEvent>> {
        if let Some(s) = self.follow_now(id, from).await? {
            return Ok(s);
        }
        let me = self.clone();
        let id = id.to_string();
        Ok(futures::stream::unfold(true, move |waiting| {
            let me = me.clone();
            let id = id.clone();
            async move {
                if !waiting {
                    return None;
                }
                loop {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    match me.follow_now(&id, from).await {
                        Ok(Some(s)) => return Some((s, false)),
                        Ok(None) => continue,
                        // The build (or its project) went away.
                        Err(_) => return None,
                    }
                }
            }
        })
        .flatten()
        .boxed())
    }

    /// The log stream when the build runs here or has ended; None while
    /// it waits.
    pub(super) async fn follow_now(
        &self,
        id: &str,
        from: usize,
    ) -> Result<Option<futures::stream::BoxStream<'static, LogEvent>>> {
        let r = self.record(id).await?;
        // The lines so far and the subscription are taken under one lock:
        // every later line comes through the subscription.
        let live = self
            .inner
            .live
            .lock()
            .ok()
            .and_then(|l| l.get(id).map(|l| (l.since(from), l.tx.subscribe())));
        if let Some((past, rx)) = live {
            let next = broadcast_stream(rx)
                .filter(move |e| {
                    let keep = match e {
                        LogEvent::Line(i, _) => *i >= from,
                        LogEvent::End(_) => true,
                    };
                    futures::future::ready(keep)
                })
                .scan(false, |ended, e| {
                    if *ended {
                        return futures::future::ready(None);
                    }
                    *ended = matches!(e, LogEvent::End(_));
                    futures::future::ready(Some(e))
                });
            return Ok(Some(futures::stream::iter(past).chain(next).boxed()));
        }
        if !r.status.ended() {
            return Ok(None);
        }
        let lines = self.stored_log(id).await;
        let status = r.status;
        Ok(Some(
            futures::stream::iter(
                lines
                    .into_iter()
                    .enumerate()
                    .skip(from)
                    .map(|(i, l)| LogEvent::Line(i, l))
                    .chain(std::iter::once(LogEvent::End(status))),
            )
            .boxed(),
        ))
    }

    /// Appends a line to a running build's log.
    pub(super) fn say(&self, id: &str, line: impl Into<String>) {
        let line = line.into();
        let Ok(mut live) = self.inner.live.lock() else {
            return;
        };
        let Some(l) = live.get_mut(id) else { return };
        // One line is at most a tenth of the log.
        let mut line = line;
        if line.len() > MAX_LOG / 10 {
            let mut cut = MAX_LOG / 10;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push_str(" …");
        }
        l.bytes += line.len() + 1;
        // Past the limit the oldest lines go (the end of a log says why a
        // build failed).
        while l.bytes > MAX_LOG {
            let Some(gone) = l.lines.pop_front() else {
                break;
            };
            l.bytes -= gone.len() + 1;
            l.first += 1;
        }
        let i = l.first + l.lines.len();
        l.lines.push_back(line.clone());
        let _ = l.tx.send(LogEvent::Line(i, line));
    }
}

/// A broadcast receiver as a stream (lagging followers lose lines, and
/// are told by a gap in the numbers).
pub(super) fn broadcast_stream(
    rx: broadcast::Receiver<LogEvent>,
) -> impl futures::Stream<Item = LogEvent> + Send + 'static {
    futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(e) => return Some((e, rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}
