//! What the scheduler is asked to place: resources, constraints on engine
//! labels, affinities to running containers, host ports, the Shipyard `type`,
//! the strategy and the replica count.
//!
//! [`Request::from_image_config`] reads Shipyard's label strings:
//! - `ssd` — the engine carries the label `ssd`;
//! - `key==value` / `key!=value` (also `constraint:key==value`) — the engine
//!   does / does not carry the label `key=value`;
//! - `host:<engine-id>` — only that engine;
//! - `affinity:container==NAME`, `affinity:image==IMAGE`, `affinity:KEY==VALUE`
//!   (a container label), each also with `!=` for anti-affinity, as Swarm had.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::snapshot::{Footprint, Millicpus};
use crate::error::{Error, Result};
use crate::model::{ContainerType, ImageConfig};

/// A condition on an engine's labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Constraint {
    /// The engine carries this label.
    Has(String),
    /// The engine carries `key=value`.
    Eq(String, String),
    /// The engine does not carry `key=value`.
    Ne(String, String),
}

impl Constraint {
    /// Whether an engine with these labels satisfies the constraint.
    pub fn holds(&self, labels: &[String]) -> bool {
        let has_pair = |k: &str, v: &str| {
            labels.iter().any(|l| {
                l.len() == k.len() + 1 + v.len()
                    && l.starts_with(k)
                    && l.as_bytes().get(k.len()) == Some(&b'=')
                    && l.ends_with(v)
            })
        };
        match self {
            Constraint::Has(l) => labels.iter().any(|x| x == l),
            Constraint::Eq(k, v) => has_pair(k, v),
            Constraint::Ne(k, v) => !has_pair(k, v),
        }
    }
}

impl std::fmt::Display for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Constraint::Has(l) => write!(f, "{l}"),
            Constraint::Eq(k, v) => write!(f, "{k}=={v}"),
            Constraint::Ne(k, v) => write!(f, "{k}!={v}"),
        }
    }
}

/// What an affinity rule points at among an engine's containers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AffinityTarget {
    ContainerName(String),
    Image(String),
    Label(String, String),
}

/// Place next to (`near`) or away from (`!near`) matching containers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Affinity {
    pub target: AffinityTarget,
    pub near: bool,
}

impl Affinity {
    /// Whether a container footprint is one the rule points at.
    pub fn matches(&self, c: &Footprint) -> bool {
        match &self.target {
            AffinityTarget::ContainerName(n) => &c.name == n,
            AffinityTarget::Image(i) => &c.image == i,
            AffinityTarget::Label(k, v) => c.labels.get(k) == Some(v),
        }
    }
}

impl std::fmt::Display for Affinity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = if self.near { "==" } else { "!=" };
        match &self.target {
            AffinityTarget::ContainerName(n) => write!(f, "affinity:container{op}{n}"),
            AffinityTarget::Image(i) => write!(f, "affinity:image{op}{i}"),
            AffinityTarget::Label(k, v) => write!(f, "affinity:{k}{op}{v}"),
        }
    }
}

/// How to choose among engines that can take a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Strategy {
    /// The engine with the most free memory (then most free cpus, fewest
    /// containers, earliest in the snapshot).
    #[default]
    Spread,
    /// The engine with the least free memory that still fits (then least free
    /// cpus, most containers, latest in the snapshot): fills engines one by one.
    Binpack,
    /// The first engine that fits in a walk of the engines shuffled by a seed.
    Random { seed: u64 },
}

impl std::str::FromStr for Strategy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "spread" => Ok(Strategy::Spread),
            "binpack" => Ok(Strategy::Binpack),
            "random" => Ok(Strategy::Random { seed: 0 }),
            _ => Err(Error::invalid(
                "strategy",
                format!("must be spread, binpack or random, got {s:?}"),
            )),
        }
    }
}

/// A placement request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    pub kind: ContainerType,
    /// What each placed container will take and be known by.
    pub footprint: Footprint,
    pub constraints: Vec<Constraint>,
    /// `host:<engine-id>`: only this engine may take the container.
    pub host: Option<String>,
    pub affinities: Vec<Affinity>,
    pub strategy: Strategy,
    /// How many containers (ignored by `global`, which places one per engine).
    pub replicas: u32,
    /// Names of the placed containers: replica `i` is `{names}-{i}`, so a
    /// committed placement records each container under its own name (the
    /// affinity rules of later requests see them). Without it, every
    /// replica is recorded under `footprint.name`.
    pub names: Option<String>,
    /// With `names`, one replica and not `global`: the container is named
    /// `names` itself, unnumbered (a name the caller chose).
    pub exact_name: bool,
}

impl Request {
    /// A request for `replicas` containers of image `image` with the given
    /// cpus and memory (MiB), no constraints.
    pub fn new(image: impl Into<String>, cpus: Millicpus, memory: u64) -> Self {
        Request {
            footprint: Footprint {
                image: image.into(),
                cpus,
                memory,
                ..Footprint::default()
            },
            replicas: 1,
            ..Request::default()
        }
    }

    /// Reads a Shipyard image config: resources, fixed host ports and the
    /// label mini-language above. Fails on malformed labels, naming them.
    /// The config's other fields are taken as they are: validating a
    /// request is its owner's one job (`ImageConfig::validate`, which the
    /// cluster's deploy runs).
    pub fn from_image_config(cfg: &ImageConfig, strategy: Strategy, replicas: u32) -> Result<Self> {
        let mut req = Request {
            footprint: Footprint::of(cfg, ""),
            replicas,
            ..Request::default()
        };
        req.kind = cfg.kind;
        req.strategy = strategy;
        for label in cfg
            .labels
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
        {
            req.add_label(label)?;
        }
        if req.kind == ContainerType::Host && req.host.is_none() {
            return Err(Error::invalid(
                "labels",
                "type host needs a label host:<engine-id>",
            ));
        }
        Ok(req)
    }

    /// Adds one label of the mini-language to the request.
    pub fn add_label(&mut self, label: &str) -> Result<()> {
        let bad = |why: &str| Error::invalid("labels", format!("{label:?}: {why}"));
        if let Some(id) = label.strip_prefix("host:") {
            if id.is_empty() {
                return Err(bad("host: needs an engine id"));
            }
            if self.host.as_deref().is_some_and(|h| h != id) {
                return Err(bad("only one host: label may be given"));
            }
            self.host = Some(id.to_string());
            return Ok(());
        }
        if let Some(rule) = label.strip_prefix("affinity:") {
            let (key, value, near) =
                split_op(rule).ok_or_else(|| bad("affinity needs == or !="))?;
            if key.is_empty() || value.is_empty() {
                return Err(bad("affinity needs a key and a value"));
            }
            let target = match key {
                "container" => AffinityTarget::ContainerName(value.into()),
                "image" => AffinityTarget::Image(value.into()),
                _ => AffinityTarget::Label(key.into(), value.into()),
            };
            self.affinities.push(Affinity { target, near });
            return Ok(());
        }
        let rule = label.strip_prefix("constraint:").unwrap_or(label);
        match split_op(rule) {
            Some((k, v, eq)) => {
                if k.is_empty() || v.is_empty() {
                    return Err(bad("a constraint needs a key and a value"));
                }
                self.constraints.push(if eq {
                    Constraint::Eq(k.into(), v.into())
                } else {
                    Constraint::Ne(k.into(), v.into())
                });
            }
            None => self.constraints.push(Constraint::Has(rule.into())),
        }
        Ok(())
    }

    /// The footprint replica `i` commits (its own name when the request
    /// names its replicas).
    pub fn footprint_for(&self, replica: usize) -> Cow<'_, Footprint> {
        match &self.names {
            None => Cow::Borrowed(&self.footprint),
            Some(_) => {
                let mut name = String::new();
                self.name_for(replica, &mut name);
                Cow::Owned(Footprint {
                    name,
                    ..self.footprint.clone()
                })
            }
        }
    }

    /// The name replica `i` is recorded under: `footprint.name`, or with
    /// `names` the replica's own, written into `buf` (so a caller placing
    /// many builds no string per replica).
    pub fn name_for<'a>(&'a self, replica: usize, buf: &'a mut String) -> &'a str {
        let Some(base) = &self.names else {
            return &self.footprint.name;
        };
        buf.clear();
        if self.exact_name && self.replicas == 1 && self.kind != ContainerType::Global {
            buf.push_str(base);
        } else {
            use std::fmt::Write;
            // Writing to a String cannot fail.
            let _ = write!(buf, "{base}-{replica}");
        }
        buf
    }

    /// Container labels of the placed containers (for later affinity rules).
    pub fn with_container_labels(mut self, labels: BTreeMap<String, String>) -> Self {
        self.footprint.labels = labels;
        self
    }
}

/// Splits `key==value` or `key!=value`; the bool is true for `==`.
fn split_op(s: &str) -> Option<(&str, &str, bool)> {
    if let Some((k, v)) = s.split_once("==") {
        Some((k.trim(), v.trim(), true))
    } else {
        s.split_once("!=").map(|(k, v)| (k.trim(), v.trim(), false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(ls: &[&str]) -> Result<Request> {
        let cfg = ImageConfig {
            name: "redis".into(),
            cpus: 0.5,
            memory: 64,
            labels: ls.iter().map(|s| s.to_string()).collect(),
            ..ImageConfig::default()
        };
        Request::from_image_config(&cfg, Strategy::Spread, 1)
    }

    #[test]
    fn label_language() {
        let r = labels(&[
            "ssd",
            "zone==a",
            "constraint:env!=prod",
            "host:e1",
            "affinity:container==db",
            "affinity:image!=redis",
            "affinity:tier==front",
            "",
        ])
        .unwrap();
        assert_eq!(r.footprint.cpus, 500);
        assert_eq!(
            r.constraints,
            vec![
                Constraint::Has("ssd".into()),
                Constraint::Eq("zone".into(), "a".into()),
                Constraint::Ne("env".into(), "prod".into()),
            ]
        );
        assert_eq!(r.host.as_deref(), Some("e1"));
        assert_eq!(r.affinities.len(), 3);
        assert_eq!(r.affinities[1].to_string(), "affinity:image!=redis");
        assert_eq!(
            r.affinities[2].target,
            AffinityTarget::Label("tier".into(), "front".into())
        );
    }

    #[test]
    fn malformed_labels_are_named() {
        for bad in [
            &["host:"][..],
            &["affinity:container"],
            &["==x"],
            &["host:a", "host:b"],
        ] {
            let err = labels(bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid labels:"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn constraints_hold() {
        let engine = vec!["ssd".to_string(), "zone=a".to_string()];
        assert!(Constraint::Has("ssd".into()).holds(&engine));
        assert!(!Constraint::Has("zone".into()).holds(&engine));
        assert!(Constraint::Eq("zone".into(), "a".into()).holds(&engine));
        assert!(!Constraint::Eq("zone".into(), "b".into()).holds(&engine));
        assert!(!Constraint::Eq("zon".into(), "e=a".into()).holds(&engine));
        assert!(Constraint::Ne("zone".into(), "b".into()).holds(&engine));
        assert!(!Constraint::Ne("zone".into(), "a".into()).holds(&engine));
    }
}
