//! Reading wrk's text report, for the benches that drive the HTTP facade
//! with it (`api`, `auth_load`).

/// The value after `prefix` on the first (trimmed) line that starts with it;
/// empty when there is none.
pub fn field(text: &str, prefix: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(prefix))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// A wrk duration such as `850.00us`, `1.20ms` or `2.01s`, in milliseconds
/// (NaN when it does not read as one).
pub fn millis(v: &str) -> f64 {
    let (n, unit) = v.split_at(v.find(|c: char| c.is_alphabetic()).unwrap_or(v.len()));
    let n: f64 = n.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1000.0,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => n,
    }
}

/// wrk's 99th percentile latency (run with `--latency`), in milliseconds.
pub fn p99_ms(text: &str) -> f64 {
    millis(&field(text, "99%"))
}

/// Requests per second, 0 when wrk printed none.
pub fn requests_per_sec(text: &str) -> f64 {
    field(text, "Requests/sec:").parse().unwrap_or(0.0)
}

/// Answers that were not 2xx or 3xx.
pub fn non_2xx(text: &str) -> u64 {
    field(text, "Non-2xx or 3xx responses:")
        .parse()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 2s test @ http://127.0.0.1:1/\n  Latency Distribution\n     50%  120.00us\n     99%    1.50ms\n  4000 requests in 2.00s, 1.00MB read\n  Non-2xx or 3xx responses: 7\nRequests/sec:   2000.50\n";

    #[test]
    fn reads_a_report() {
        assert_eq!(p99_ms(REPORT), 1.5);
        assert_eq!(requests_per_sec(REPORT), 2000.5);
        assert_eq!(non_2xx(REPORT), 7);
        assert_eq!(millis("850us"), 0.85);
        assert_eq!(millis("2s"), 2000.0);
        assert!(p99_ms("nothing").is_nan());
    }
}
