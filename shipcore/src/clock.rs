//! The one clock the services read. Pure modules never read time: they take
//! it as a parameter. Services hold an `Arc<dyn Clock>` (the
//! [`SystemClock`] by default), so tests can drive time with a
//! [`ManualClock`] instead of sleeping.
//!
//! Two readings: wall-clock time for what is recorded (creation times,
//! event times) and a monotonic reading for what is scheduled (the next
//! health check of an engine), which never jumps back when the wall clock
//! is set.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Wall-clock time.
    fn now(&self) -> SystemTime;

    /// Monotonic time since an arbitrary start, for deadlines and schedules.
    fn elapsed(&self) -> Duration;

    /// Seconds since the Unix epoch (0 for a clock set before it).
    fn unix_secs(&self) -> u64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    /// Now as RFC 3339, `2026-11-23T15:04:05Z`.
    fn rfc3339(&self) -> String {
        crate::model::rfc3339(self.unix_secs())
    }
}

/// The operating system's clock.
#[derive(Debug)]
pub struct SystemClock {
    start: std::time::Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        SystemClock {
            start: std::time::Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

/// A clock that moves only when told to: both readings advance together.
#[derive(Debug)]
pub struct ManualClock {
    state: Mutex<(SystemTime, Duration)>,
}

impl ManualClock {
    /// A clock showing `unix_secs` on the wall.
    pub fn at(unix_secs: u64) -> Self {
        ManualClock {
            state: Mutex::new((UNIX_EPOCH + Duration::from_secs(unix_secs), Duration::ZERO)),
        }
    }

    /// Moves both readings forward.
    pub fn advance(&self, by: Duration) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.0 += by;
        s.1 += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0
    }

    fn elapsed(&self) -> Duration {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_when_told() {
        let c = ManualClock::at(1_795_446_245);
        assert_eq!(c.rfc3339(), "2026-11-23T15:04:05Z");
        assert_eq!(c.elapsed(), Duration::ZERO);
        c.advance(Duration::from_secs(60));
        assert_eq!(c.rfc3339(), "2026-11-23T15:05:05Z");
        assert_eq!(c.elapsed(), Duration::from_secs(60));
        let s = SystemClock::new();
        assert!(s.unix_secs() > 1_700_000_000);
    }
}
