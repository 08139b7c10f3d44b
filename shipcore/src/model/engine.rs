//! Engines: Docker daemons the cluster places containers on.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Health of an engine as the health checks last saw it. Only healthy engines
/// take new placements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Health {
    /// Not checked yet.
    #[default]
    Unknown,
    Healthy,
    Unhealthy,
}

/// An engine as Shipyard shows it (`engine` object): address, the capacity the
/// scheduler may reserve, and labels.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Engine {
    pub id: String,
    /// `http://HOST:PORT`, `https://HOST:PORT`, `tcp://HOST:PORT` or `unix:///PATH`.
    pub addr: String,
    #[serde(default)]
    pub cpus: f64,
    /// Memory in MiB.
    #[serde(default)]
    pub memory: u64,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default, skip_serializing_if = "is_unknown")]
    pub health: Health,
}

fn is_unknown(h: &Health) -> bool {
    *h == Health::Unknown
}

impl Engine {
    /// Checks id, address scheme and capacity. Capacity 0 is allowed here: it
    /// means "use what the engine reports" when the engine is added.
    pub fn validate(&self) -> Result<()> {
        if self.id.trim().is_empty() {
            return Err(Error::invalid("engine.id", "an engine id is required"));
        }
        const SCHEMES: [&str; 4] = ["http://", "https://", "tcp://", "unix://"];
        let rest = SCHEMES
            .iter()
            .find_map(|s| self.addr.strip_prefix(s))
            .ok_or_else(|| {
                Error::invalid(
                    "engine.addr",
                    format!(
                        "must start with http://, https://, tcp:// or unix://, got {:?}",
                        self.addr
                    ),
                )
            })?;
        if rest.is_empty() {
            return Err(Error::invalid("engine.addr", "has no host or path"));
        }
        if !(self.cpus.is_finite() && self.cpus >= 0.0 && self.cpus <= super::container::MAX_CPUS) {
            return Err(Error::invalid(
                "engine.cpus",
                format!("must be 0 to {}", super::container::MAX_CPUS),
            ));
        }
        if self.memory > super::container::MAX_MEMORY {
            return Err(Error::invalid(
                "engine.memory",
                format!("must be at most {} MiB", super::container::MAX_MEMORY),
            ));
        }
        Ok(())
    }
}

/// An engine registration with its TLS material (Shipyard's `POST /api/engines`
/// body). The PEM strings are empty for plain connections.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EngineRecord {
    #[serde(default)]
    pub id: String,
    pub engine: Engine,
    #[serde(default)]
    pub ssl_cert: String,
    #[serde(default)]
    pub ssl_key: String,
    #[serde(default)]
    pub ca_cert: String,
}

impl EngineRecord {
    /// A plain (no TLS) registration of the engine `id` at `addr`, with
    /// capacity taken from what the engine reports.
    pub fn new(id: &str, addr: &str) -> Self {
        EngineRecord {
            id: id.into(),
            engine: Engine {
                id: id.into(),
                addr: addr.into(),
                ..Engine::default()
            },
            ..EngineRecord::default()
        }
    }

    /// Whether the engine is reached over TLS with client certificates.
    pub fn uses_tls(&self) -> bool {
        !self.ssl_cert.is_empty() || !self.ca_cert.is_empty()
    }

    pub fn validate(&self) -> Result<()> {
        self.engine.validate()?;
        if self.ssl_cert.is_empty() != self.ssl_key.is_empty() {
            return Err(Error::invalid(
                "ssl_key",
                "ssl_cert and ssl_key are given together or not at all",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_engine_record_parses() {
        let rec: EngineRecord = serde_json::from_str(
            r#"{"id":"local","ssl_cert":"","ssl_key":"","ca_cert":"",
                "engine":{"id":"local","addr":"http://10.1.2.3:2375","cpus":4.0,
                          "memory":8192,"labels":["local","dev"]}}"#,
        )
        .unwrap();
        rec.validate().unwrap();
        assert!(!rec.uses_tls());
        assert_eq!(rec.engine.labels, ["local", "dev"]);
    }

    #[test]
    fn addresses() {
        for (addr, ok) in [
            ("http://10.1.2.3:2375", true),
            ("https://h:2376", true),
            ("tcp://127.0.0.1:2375", true),
            ("unix:///var/run/docker.sock", true),
            ("10.1.2.3:2375", false),
            ("ftp://x", false),
            ("tcp://", false),
        ] {
            let e = Engine {
                id: "e".into(),
                addr: addr.into(),
                ..Engine::default()
            };
            assert_eq!(e.validate().is_ok(), ok, "{addr}");
        }
    }
}
