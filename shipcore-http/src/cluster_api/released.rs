//! The wire forms of Shipyard v2 as released (2015), decided here and only
//! here.
//!
//! Seed 001 documents a container's `state` as an object (`{started_at,
//! pid, running}`), and that stays the contract. Shipyard v2's server as
//! released answered `state` as a string (`running` or `stopped`), and its
//! CLI (2.0.10) cannot decode anything else. Requests whose `User-Agent`
//! starts with `shipyard-cli` are that client: wherever a container object
//! appears in an answer to one (the container list, inspect, deploy answers,
//! events), `state` is the string (and `name` has Docker's leading `/`).
//! Every other client gets the seed's form.
//!
//! Events always carry `container` and `engine` objects, `{}` when the event
//! has none (the released CLI reads both without a nil check), for every
//! client: the seed marks them optional, so an empty object is within it.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use serde_json::{Map, Value};
use shipcore::model::{Container, Event};

/// The `User-Agent` of Shipyard v2's command-line client.
const CLI_AGENT: &str = "shipyard-cli";

/// Whether a request comes from Shipyard v2's released CLI.
pub fn from_released_cli(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.trim_start().starts_with(CLI_AGENT))
}

/// How a request wants container objects rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Wire {
    /// `state` as Shipyard v2's string.
    pub released: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Wire {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Wire {
            released: from_released_cli(&parts.headers),
        })
    }
}

/// Shipyard v2's word for a container's state.
pub fn state_word(c: &Container) -> &'static str {
    if c.state.running {
        "running"
    } else {
        "stopped"
    }
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    // Our own model types always encode; an empty object is the fallback.
    serde_json::to_value(v).unwrap_or_else(|_| Value::Object(Map::new()))
}

/// One container as `wire` wants it. For the released CLI, its `name`
/// also carries Docker's leading `/`, as Shipyard v2 passed it on (the
/// CLI cuts the first character off).
pub fn container(c: &Container, wire: Wire) -> Value {
    let mut v = to_value(c);
    if wire.released {
        if let Value::Object(m) = &mut v {
            m.insert("state".into(), Value::String(state_word(c).into()));
            if !c.name.is_empty() && !c.name.starts_with('/') {
                m.insert("name".into(), Value::String(format!("/{}", c.name)));
            }
        }
    }
    v
}

/// Containers as `wire` wants them.
pub fn containers(list: &[Container], wire: Wire) -> Vec<Value> {
    list.iter().map(|c| container(c, wire)).collect()
}

/// One event, with its `container` and `engine` objects always present.
pub fn event(e: &Event, wire: Wire) -> Value {
    let mut v = to_value(e);
    if let Value::Object(m) = &mut v {
        let container = e
            .container
            .as_deref()
            .map_or_else(|| Value::Object(Map::new()), |c| container(c, wire));
        m.insert("container".into(), container);
        if !m.contains_key("engine") {
            m.insert("engine".into(), Value::Object(Map::new()));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;
    use shipcore::model::EventType;

    #[test]
    fn only_the_cli_gets_the_string() {
        let mut h = HeaderMap::new();
        assert!(!from_released_cli(&h));
        h.insert("user-agent", HeaderValue::from_static("curl/8.0"));
        assert!(!from_released_cli(&h));
        h.insert("user-agent", HeaderValue::from_static("shipyard-cli"));
        assert!(from_released_cli(&h));

        let mut c: Container = serde_json::from_value(serde_json::json!({
            "id": "abc", "state": {"running": true, "pid": 7},
            "engine": {"id": "e1", "addr": "tcp://127.0.0.1:1"},
            "image": {"name": "busybox", "cpus": 0.1, "memory": 8}
        }))
        .unwrap();
        assert_eq!(container(&c, Wire::default())["state"]["pid"], 7);
        assert_eq!(container(&c, Wire { released: true })["state"], "running");
        c.state.running = false;
        assert_eq!(container(&c, Wire { released: true })["state"], "stopped");
    }

    #[test]
    fn events_always_carry_container_and_engine_objects() {
        let e = Event {
            seq: 1,
            kind: EventType::AddServiceKey,
            time: "2026-01-01T00:00:00Z".into(),
            message: "description=demo".into(),
            tags: vec!["cluster".into()],
            engine: None,
            container: None,
            image: None,
        };
        let v = event(&e, Wire::default());
        assert_eq!(v["container"], serde_json::json!({}));
        assert_eq!(v["engine"], serde_json::json!({}));
        assert_eq!(v["type"], "add-service-key");
    }
}
