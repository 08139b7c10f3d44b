//! The live half of change streams, shared by the local implementations.
//!
//! A writer publishes the changes of every committed write on a broadcast
//! channel, one message per revision (a batch's changes travel together), in
//! revision order. A reader subscribes BEFORE it reads the change log, so any
//! write committed after its log snapshot reaches it live; the stream then
//! skips live changes the snapshot already covered. That gives a stream with
//! no gap and no duplicate between replay and live.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use super::{Change, ChangeStream};
use crate::Error;

/// The changes of one revision.
pub(crate) type Written = Arc<[Change]>;

/// How many writes a reader may fall behind before its stream is lost, unless
/// the store was built with another capacity.
pub(crate) const DEFAULT_CAPACITY: usize = 1024;

/// A channel for live changes. The broadcast channel refuses a zero capacity
/// and absurdly large ones, so the requested capacity is clamped.
pub(crate) fn channel(capacity: usize) -> broadcast::Sender<Written> {
    let (sender, _) = broadcast::channel(capacity.clamp(1, 1 << 20));
    sender
}

/// What the live part of a stream carries between items.
struct Live {
    receiver: broadcast::Receiver<Written>,
    /// Matching changes of the last write received, not yet yielded.
    ready: VecDeque<Change>,
    prefix: String,
    /// Every change at or below this revision was either delivered or did not
    /// match the prefix; live changes at or below it are duplicates.
    covered: u64,
    ended: bool,
}

/// Builds the stream: `replay` (already filtered by prefix and in revision
/// order) first, then the live changes above `covered`, the revision the
/// replay's log snapshot was taken at (or the requested `since` if higher).
pub(crate) fn stream(
    replay: Vec<Change>,
    receiver: broadcast::Receiver<Written>,
    prefix: String,
    covered: u64,
) -> ChangeStream {
    let live = Live {
        receiver,
        ready: VecDeque::new(),
        prefix,
        covered,
        ended: false,
    };
    let live = futures::stream::unfold(live, |mut live| async move {
        if live.ended {
            return None;
        }
        loop {
            if let Some(change) = live.ready.pop_front() {
                return Some((Ok(change), live));
            }
            match live.receiver.recv().await {
                Ok(written) => {
                    let Some(revision) = written.first().map(|c| c.revision) else {
                        continue;
                    };
                    if revision <= live.covered {
                        continue;
                    }
                    live.covered = revision;
                    let prefix = &live.prefix;
                    let matching = written
                        .iter()
                        .filter(|c| c.key.starts_with(prefix.as_str()));
                    live.ready.extend(matching.cloned());
                }
                Err(RecvError::Lagged(missed)) => {
                    // The channel dropped changes this reader never saw; going
                    // on would leave a gap, so the stream reports where a new
                    // one should resume and ends.
                    live.ended = true;
                    let lost = Error::WatchLost {
                        revision: live.covered,
                        reason: format!("the reader fell {missed} writes behind the writers"),
                    };
                    return Some((Err(lost), live));
                }
                // Every handle on the store is gone: nothing more can happen.
                Err(RecvError::Closed) => return None,
            }
        }
    });
    futures::stream::iter(replay.into_iter().map(Ok))
        .chain(live)
        .boxed()
}
