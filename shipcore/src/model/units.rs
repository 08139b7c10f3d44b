//! Units the whole core shares: cpus in thousandths ([`Millicpus`]), host
//! ports as the scheduler and the engines see them ([`HostPort`]), and
//! timestamps as RFC 3339 strings. Plain data and arithmetic: no clock is
//! read here; whoever records a fact passes its time in.

use core::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Transport protocol of a port.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Proto {
    #[default]
    Tcp,
    Udp,
}

impl std::fmt::Display for Proto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// CPU amounts in thousandths of a cpu, so sums are exact and deterministic.
pub type Millicpus = u64;

/// Converts Shipyard's fractional cpus to [`Millicpus`], rounding up so that
/// any positive request reserves something.
pub fn millicpus(cpus: f64) -> Millicpus {
    if cpus.is_finite() && cpus > 0.0 {
        (cpus * 1000.0).ceil() as Millicpus
    } else {
        0
    }
}

/// A host port a container holds (or asks for). `ip` `None` means every
/// address of the engine (`0.0.0.0` / `::`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPort {
    pub ip: Option<IpAddr>,
    pub proto: Proto,
    pub port: u16,
}

impl HostPort {
    /// Builds a host port from Shipyard's `host_ip` string (empty, `0.0.0.0`
    /// and `::` mean every address).
    pub fn new(host_ip: &str, proto: Proto, port: u16) -> Self {
        let ip = host_ip
            .parse::<IpAddr>()
            .ok()
            .filter(|ip| !ip.is_unspecified());
        HostPort { ip, proto, port }
    }

    /// Whether two bindings cannot both exist on one engine: same protocol and
    /// port, and the same address or one of them on every address.
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.proto == other.proto
            && self.port == other.port
            && (self.ip.is_none() || other.ip.is_none() || self.ip == other.ip)
    }
}

impl std::fmt::Display for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ip {
            Some(ip) => write!(f, "{ip}:{}/{}", self.port, self.proto),
            None => write!(f, "{}/{}", self.port, self.proto),
        }
    }
}

/// Formats unix seconds as RFC 3339 in UTC, `2026-11-23T15:04:05Z` (Howard
/// Hinnant's civil-from-days).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Reads what [`rfc3339`] writes (fractions of a second allowed and
/// dropped) back into unix seconds; `None` for anything else.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, m, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = s.get(19..)?;
    let rest = rest
        .strip_prefix('.')
        .map_or(rest, |f| f.trim_start_matches(|c: char| c.is_ascii_digit()));
    if rest != "Z"
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || h > 23
        || m > 59
        || sec > 60
    {
        return None;
    }
    // Days from civil (Howard Hinnant's), the inverse of the above.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + m * 60 + sec).ok()
}

/// A count in a JSON body, for `#[serde(deserialize_with)]`: a whole
/// number (`3` or `3.0`, as JSON Schema's `integer` has it) that fits.
pub fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    whole(serde_json::Number::deserialize(d)?)
}

/// As [`whole_number`], for an optional field (with `#[serde(default)]`).
pub fn whole_number_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Option::<serde_json::Number>::deserialize(d)?
        .map(whole)
        .transpose()
}

fn whole<E: serde::de::Error>(n: serde_json::Number) -> Result<u32, E> {
    n.as_u64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
                .map(|f| f as u64)
        })
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| E::custom(format!("{n} is not a whole number from 0 to {}", u32::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        for secs in [0, 951_782_400, 1_795_446_245, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(secs)), Some(secs));
        }
        assert_eq!(
            parse_rfc3339("2026-11-23T15:04:05.123456Z"),
            Some(1_795_446_245)
        );
        for bad in [
            "",
            "2026-11-23",
            "2026-13-01T00:00:00Z",
            "2026-11-23T15:04:05+01:00",
            "x026-11-23T15:04:05Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_446_245), "2026-11-23T15:04:05Z");
    }

    #[test]
    fn cpus_round_up() {
        assert_eq!(millicpus(0.1), 100);
        assert_eq!(millicpus(0.0001), 1);
        assert_eq!(millicpus(-1.0), 0);
        assert_eq!(millicpus(f64::NAN), 0);
    }

    #[test]
    fn host_ports() {
        let any = HostPort::new("", Proto::Tcp, 80);
        let lo = HostPort::new("127.0.0.1", Proto::Tcp, 80);
        let other = HostPort::new("10.0.0.1", Proto::Tcp, 80);
        assert_eq!(HostPort::new("0.0.0.0", Proto::Tcp, 80), any);
        assert!(any.conflicts(&lo) && lo.conflicts(&any));
        assert!(!lo.conflicts(&other));
        assert!(!lo.conflicts(&HostPort::new("127.0.0.1", Proto::Udp, 80)));
        assert_eq!(lo.to_string(), "127.0.0.1:80/tcp");
    }
}
