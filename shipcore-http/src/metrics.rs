//! The request metrics every handler shares (counts by route, method and
//! status, a latency histogram); `observe.rs` counts into them and renders
//! them at `/metrics`. Below the app state, which holds them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use axum::http::Method;

/// Upper bounds of the latency histogram, in seconds.
pub(crate) const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

/// Request counts of one route by (method, status).
pub(crate) type ByMethodStatus = HashMap<(Method, u16), u64>;

/// Request metrics, shared by every handler.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Counts by route, then by (method, status); looked up by `&str`, so
    /// a known route costs no allocation.
    pub(crate) requests: Mutex<HashMap<String, ByMethodStatus>>,
    pub(crate) buckets: [AtomicU64; BUCKETS.len()],
    pub(crate) count: AtomicU64,
    /// Microseconds.
    pub(crate) sum_us: AtomicU64,
    pub(crate) next_id: AtomicU64,
}

/// The methods counted by name; any other is counted as `OTHER`, so
/// requests with invented methods cannot grow the metrics without bound.
fn counted(method: &Method) -> Method {
    static OTHER: std::sync::OnceLock<Method> = std::sync::OnceLock::new();
    match *method {
        Method::GET
        | Method::POST
        | Method::PUT
        | Method::DELETE
        | Method::HEAD
        | Method::PATCH
        | Method::OPTIONS => method.clone(),
        _ => OTHER
            .get_or_init(|| Method::from_bytes(b"OTHER").unwrap_or(Method::TRACE))
            .clone(),
    }
}

impl Metrics {
    pub(crate) fn observe(&self, method: &Method, route: &str, status: u16, seconds: f64) {
        let method = &counted(method);
        if let Ok(mut m) = self.requests.lock() {
            match m.get_mut(route) {
                Some(by) => *by.entry((method.clone(), status)).or_default() += 1,
                None => {
                    m.insert(
                        route.to_string(),
                        HashMap::from([((method.clone(), status), 1)]),
                    );
                }
            }
        }
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }
}
