//! Operability: one structured log line per request (method, path, status,
//! latency, request id) and Prometheus metrics at `/metrics` (requests by
//! route and status, a latency histogram, engines up/down, containers by
//! state, placement failures), in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method};

use crate::metrics::BUCKETS;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::App;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Logs and counts every request the router answers.
pub async fn track(State(app): State<App>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let mut res = next.run(req).await;
    let route = route.as_ref().map_or("unmatched", |m| m.as_str());
    finish(&app, &method, route, uri.path(), &mut res, started);
    res
}

/// Counts an answered request, gives it a request id (`x-request-id`) and
/// writes its log line: for the router and for the front alike.
pub fn finish(
    app: &App,
    method: &Method,
    route: &str,
    path: &str,
    res: &mut Response,
    started: Instant,
) {
    let id = app.metrics.next_id.fetch_add(1, Ordering::Relaxed) + 1;
    let status = res.status().as_u16();
    // A path that carries a secret (the webhook's key) is logged as its
    // route.
    let path = if route.contains("{key}") { route } else { path };
    let elapsed = started.elapsed();
    app.metrics
        .observe(method, route, status, elapsed.as_secs_f64());
    res.headers_mut()
        .insert(REQUEST_ID.clone(), HeaderValue::from(id));
    tracing::info!(
        request_id = id,
        method = %method,
        path,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
}

/// `GET /metrics`: any valid credentials (Prometheus sends basic auth or a
/// header).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus metrics in the text exposition format", body = String, content_type = "text/plain; version=0.0.4"))
)]
// Over 80 lines: one block per metric family of the Prometheus text.
pub async fn metrics(State(app): State<App>, _caller: crate::auth::Caller) -> impl IntoResponse {
    let mut out = String::new();
    let m = &app.metrics;
    let _ = writeln!(
        out,
        "# HELP shipcore_http_requests_total Requests by method, route and status."
    );
    let _ = writeln!(out, "# TYPE shipcore_http_requests_total counter");
    if let Ok(requests) = m.requests.lock() {
        let rows: BTreeMap<_, _> = requests
            .iter()
            .flat_map(|(route, by)| {
                by.iter()
                    .map(move |((method, status), n)| ((route, method.as_str(), status), n))
            })
            .collect();
        for ((route, method, status), n) in rows {
            let _ = writeln!(
                out,
                "shipcore_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP shipcore_http_request_duration_seconds Request latency."
    );
    let _ = writeln!(
        out,
        "# TYPE shipcore_http_request_duration_seconds histogram"
    );
    for (i, le) in BUCKETS.iter().enumerate() {
        let n = m.buckets[i].load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "shipcore_http_request_duration_seconds_bucket{{le=\"{le}\"}} {n}"
        );
    }
    let count = m.count.load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "shipcore_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
    );
    let _ = writeln!(
        out,
        "shipcore_http_request_duration_seconds_sum {}",
        m.sum_us.load(Ordering::Relaxed) as f64 / 1e6
    );
    let _ = writeln!(out, "shipcore_http_request_duration_seconds_count {count}");

    let s = app.cluster.stats().await;
    let gauges = [
        (
            "shipcore_engines",
            "Engines by health.",
            vec![
                ("state=\"up\"", s.engines_up as u64),
                ("state=\"down\"", s.engines_down as u64),
            ],
        ),
        (
            "shipcore_containers",
            "Containers by state.",
            vec![
                ("state=\"running\"", s.containers_running as u64),
                ("state=\"stopped\"", s.containers_stopped as u64),
            ],
        ),
    ];
    for (name, help, values) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (labels, v) in values {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
    }
    let _ = writeln!(
        out,
        "# HELP shipcore_placement_failures_total Requests the scheduler could not place."
    );
    let _ = writeln!(out, "# TYPE shipcore_placement_failures_total counter");
    let _ = writeln!(
        out,
        "shipcore_placement_failures_total {}",
        s.placement_failures
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        out,
    )
}
