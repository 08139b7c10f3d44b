//! Keeping password guessing from stalling the server: verifications run on
//! the blocking pool, a few at a time, and failed attempts are counted per
//! client address and per username in fixed windows; past the limit, an
//! attempt is refused before any work (`Error::TooMany`, 429 with
//! `Retry-After`), and when too many verifications wait already, at once
//! (`Error::Unavailable`, 503). Service keys never pass through here: a
//! flood of bad passwords does not slow a caller with a valid key.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::Clock;
use crate::error::{Error, Result};

/// Failed attempts allowed per client address in a window.
pub const ADDRESS_FAILURES: u32 = 20;
/// Failed attempts allowed per username in a window (from anywhere).
pub const USERNAME_FAILURES: u32 = 10;
/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Password verifications running at once (argon2 takes ~19 MiB and tens of
/// milliseconds of a core each): one, so the other cores keep serving.
pub const VERIFYING: usize = 1;
/// Verifications that may wait for a turn; more are refused with 503.
pub const WAITING: usize = 32;

/// Failures of one address or username in the current window.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Duration,
    failures: u32,
}

/// The throttle of one access service.
#[derive(Debug)]
pub(super) struct Throttle {
    clock: Arc<dyn Clock>,
    addresses: Mutex<HashMap<IpAddr, Window>>,
    usernames: Mutex<HashMap<String, Window>>,
    turns: Arc<tokio::sync::Semaphore>,
    waiting: AtomicUsize,
}

impl Throttle {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Throttle {
            clock,
            addresses: Mutex::default(),
            usernames: Mutex::default(),
            turns: Arc::new(tokio::sync::Semaphore::new(VERIFYING)),
            waiting: AtomicUsize::new(0),
        }
    }

    /// Refuses an attempt from `addr` for `username` past either limit.
    pub fn admit(&self, addr: Option<IpAddr>, username: &str) -> Result<()> {
        let now = self.clock.elapsed();
        let over = |w: Option<&Window>, limit: u32| {
            w.filter(|w| now < w.start + WINDOW && w.failures >= limit)
                .map(|w| (w.start + WINDOW).saturating_sub(now).as_secs().max(1))
        };
        if let Some(addr) = addr {
            let table = self.addresses.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(retry_after) = over(table.get(&addr), ADDRESS_FAILURES) {
                return Err(Error::TooMany {
                    reason: format!("too many failed logins from {addr}"),
                    retry_after,
                });
            }
        }
        let table = self.usernames.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(retry_after) = over(table.get(username), USERNAME_FAILURES) {
            return Err(Error::TooMany {
                reason: format!("too many failed logins for {username}"),
                retry_after,
            });
        }
        Ok(())
    }

    /// Counts a failed attempt.
    pub fn failed(&self, addr: Option<IpAddr>, username: &str) {
        let now = self.clock.elapsed();
        let bump = |w: &mut Window| {
            if now >= w.start + WINDOW {
                *w = Window {
                    start: now,
                    failures: 0,
                };
            }
            w.failures += 1;
        };
        let fresh = Window {
            start: now,
            failures: 0,
        };
        if let Some(addr) = addr {
            let mut table = self.addresses.lock().unwrap_or_else(|p| p.into_inner());
            if table.len() > 100_000 {
                table.retain(|_, w| now < w.start + WINDOW);
            }
            bump(table.entry(addr).or_insert(fresh));
        }
        let mut table = self.usernames.lock().unwrap_or_else(|p| p.into_inner());
        if table.len() > 100_000 {
            table.retain(|_, w| now < w.start + WINDOW);
        }
        bump(table.entry(username.to_string()).or_insert(fresh));
    }

    /// Runs `verify` on the blocking pool when a turn is free; refuses at
    /// once when too many wait already.
    pub async fn verify(&self, verify: impl FnOnce() -> bool + Send + 'static) -> Result<bool> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= WAITING {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::Unavailable {
                reason: "too many logins are being checked".into(),
                retry_after: 1,
            });
        }
        let turn = self.turns.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let _turn = turn.map_err(|_| Error::System {
            reason: "the login checks were shut down".into(),
        })?;
        tokio::task::spawn_blocking(verify)
            .await
            .map_err(|e| Error::System {
                reason: format!("a password check failed: {e}"),
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::clock::ManualClock;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checks_run_one_at_a_time_and_a_crowd_is_turned_away() {
        let t = Arc::new(Throttle::new(Arc::new(ManualClock::at(0))));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let checks = (0..WAITING + 20).map(|_| {
            let (t, running, most) = (t.clone(), running.clone(), most.clone());
            tokio::spawn(async move {
                t.verify(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                    true
                })
                .await
            })
        });
        let results = futures::future::join_all(checks).await;
        let refused = results
            .iter()
            .filter(|r| matches!(r.as_ref().unwrap(), Err(Error::Unavailable { .. })))
            .count();
        assert!(refused >= 1, "a crowd beyond {WAITING} waiting is refused");
        assert_eq!(
            most.load(Ordering::SeqCst),
            VERIFYING,
            "one check at a time"
        );
    }

    #[test]
    fn failures_are_limited_per_address_and_per_username_in_windows() {
        let clock = Arc::new(ManualClock::at(0));
        let t = Throttle::new(clock.clone());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for i in 0..USERNAME_FAILURES {
            t.admit(Some(a), &format!("u{i}")).unwrap();
            t.failed(Some(a), &format!("u{i}"));
            t.admit(Some(b), "admin").unwrap();
            t.failed(Some(b), "admin");
        }
        // `admin` has had its failures, from anywhere.
        let err = t.admit(Some(a), "admin").unwrap_err();
        assert!(
            matches!(
                err,
                Error::TooMany {
                    retry_after: 60,
                    ..
                }
            ),
            "{err}"
        );
        // Address a may go on with other names up to its own limit.
        for i in USERNAME_FAILURES..ADDRESS_FAILURES {
            t.admit(Some(a), &format!("u{i}")).unwrap();
            t.failed(Some(a), &format!("u{i}"));
        }
        assert!(matches!(
            t.admit(Some(a), "new"),
            Err(Error::TooMany { .. })
        ));
        t.admit(Some("10.0.0.3".parse().unwrap()), "new").unwrap();
        // A new window forgives.
        clock.advance(WINDOW);
        t.admit(Some(a), "admin").unwrap();
    }
}
