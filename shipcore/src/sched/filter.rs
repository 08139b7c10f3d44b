//! The filter chain: the checks an engine must pass to take a container, in
//! the order their failures are reported. The first check that fails is the
//! engine's reason in an explanation.
//!
//! Both scheduler implementations run this one chain over their own view of an
//! engine ([`EngineView`]), so they cannot disagree on what fits.

use super::request::{Affinity, Constraint, Request};
use super::snapshot::{HostPort, Millicpus};
use crate::model::{ContainerType, Health};

/// Why an engine cannot take a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    Unhealthy(Health),
    NotHost {
        wanted: String,
    },
    Label(Constraint),
    RunsImage(String),
    Affinity(Affinity),
    PortInUse(HostPort),
    Cpus {
        requested: Millicpus,
        free: Millicpus,
    },
    Memory {
        requested: u64,
        free: u64,
    },
}

impl Reject {
    /// The short category used in summaries ("3 insufficient memory").
    pub fn category(&self) -> &'static str {
        match self {
            Reject::Unhealthy(_) => "unhealthy",
            Reject::NotHost { .. } => "not the requested host",
            Reject::Label(_) => "label mismatch",
            Reject::RunsImage(_) => "already running the image",
            Reject::Affinity(a) if a.near => "affinity not met",
            Reject::Affinity(_) => "anti-affinity not met",
            Reject::PortInUse(_) => "port in use",
            Reject::Cpus { .. } => "insufficient cpus",
            Reject::Memory { .. } => "insufficient memory",
        }
    }
}

fn cpus(m: Millicpus) -> String {
    let whole = m / 1000;
    match m % 1000 {
        0 => whole.to_string(),
        frac => format!("{whole}.{}", format!("{frac:03}").trim_end_matches('0')),
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reject::Unhealthy(h) => write!(f, "engine is {}", format!("{h:?}").to_lowercase()),
            Reject::NotHost { wanted } => write!(f, "not the requested host {wanted}"),
            Reject::Label(c) => write!(f, "label constraint {c} not met"),
            Reject::RunsImage(i) => write!(f, "already runs a container of {i} (unique)"),
            Reject::Affinity(a) if a.near => write!(f, "no container matching {a}"),
            Reject::Affinity(a) => write!(f, "runs a container excluded by {a}"),
            Reject::PortInUse(p) => write!(f, "host port {p} in use"),
            Reject::Cpus { requested, free } => {
                write!(f, "cpus {} > free {}", cpus(*requested), cpus(*free))
            }
            Reject::Memory { requested, free } => write!(f, "memory {requested} > free {free}"),
        }
    }
}

/// What the filter chain needs to know about one engine.
pub(crate) trait EngineView {
    fn id(&self) -> &str;
    fn health(&self) -> Health;
    /// The first constraint of the request the engine's labels break.
    fn broken_constraint<'r>(&self, req: &'r Request) -> Option<&'r Constraint>;
    /// Whether the engine runs a container of the request's image.
    fn runs_image(&self, req: &Request) -> bool;
    /// Whether the engine runs a container that the request's affinity rule
    /// number `rule` points at.
    fn runs_matching(&self, req: &Request, rule: usize) -> bool;
    /// The first of the request's host ports already held on the engine.
    fn port_in_use(&self, ports: &[HostPort]) -> Option<HostPort>;
    fn free_cpus(&self) -> Millicpus;
    fn free_memory(&self) -> u64;
}

/// The check an engine failed, borrowing from the request: what the chain
/// finds without allocating, so that walking past engines that do not fit
/// costs no allocation. [`Failure::reject`] makes the owned [`Reject`] that
/// explanations carry.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Failure<'r> {
    Unhealthy(Health),
    NotHost(&'r str),
    Label(&'r Constraint),
    RunsImage(&'r str),
    Affinity(&'r Affinity),
    PortInUse(HostPort),
    Cpus {
        requested: Millicpus,
        free: Millicpus,
    },
    Memory {
        requested: u64,
        free: u64,
    },
}

impl Failure<'_> {
    pub fn reject(self) -> Reject {
        match self {
            Failure::Unhealthy(h) => Reject::Unhealthy(h),
            Failure::NotHost(wanted) => Reject::NotHost {
                wanted: wanted.to_string(),
            },
            Failure::Label(c) => Reject::Label(c.clone()),
            Failure::RunsImage(i) => Reject::RunsImage(i.to_string()),
            Failure::Affinity(a) => Reject::Affinity(a.clone()),
            Failure::PortInUse(p) => Reject::PortInUse(p),
            Failure::Cpus { requested, free } => Reject::Cpus { requested, free },
            Failure::Memory { requested, free } => Reject::Memory { requested, free },
        }
    }
}

/// Runs the chain; `None` means the engine can take the container.
pub(crate) fn first_failure<'r>(e: &impl EngineView, req: &'r Request) -> Option<Failure<'r>> {
    let health = e.health();
    if health != Health::Healthy {
        return Some(Failure::Unhealthy(health));
    }
    if let Some(wanted) = &req.host {
        if wanted != e.id() {
            return Some(Failure::NotHost(wanted));
        }
    }
    if let Some(c) = e.broken_constraint(req) {
        return Some(Failure::Label(c));
    }
    if req.kind == ContainerType::Unique && e.runs_image(req) {
        return Some(Failure::RunsImage(&req.footprint.image));
    }
    let mut rules = req.affinities.iter().enumerate();
    if let Some((_, a)) = rules.find(|(i, a)| e.runs_matching(req, *i) != a.near) {
        return Some(Failure::Affinity(a));
    }
    if let Some(p) = e.port_in_use(&req.footprint.ports) {
        return Some(Failure::PortInUse(p));
    }
    let (requested, free) = (req.footprint.cpus, e.free_cpus());
    if requested > free {
        return Some(Failure::Cpus { requested, free });
    }
    let (requested, free) = (req.footprint.memory, e.free_memory());
    if requested > free {
        return Some(Failure::Memory { requested, free });
    }
    None
}

/// Runs the chain and names the first check the engine failed, for an
/// explanation.
pub(crate) fn first_reject(e: &impl EngineView, req: &Request) -> Option<Reject> {
    first_failure(e, req).map(Failure::reject)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let cases = [
            (
                Reject::Memory {
                    requested: 512,
                    free: 256,
                },
                "memory 512 > free 256",
            ),
            (
                Reject::Cpus {
                    requested: 1500,
                    free: 250,
                },
                "cpus 1.5 > free 0.25",
            ),
            (
                Reject::Cpus {
                    requested: 2000,
                    free: 0,
                },
                "cpus 2 > free 0",
            ),
            (Reject::Unhealthy(Health::Unhealthy), "engine is unhealthy"),
            (
                Reject::Label(Constraint::Eq("zone".into(), "a".into())),
                "label constraint zone==a not met",
            ),
            (
                Reject::PortInUse(HostPort::new("", crate::model::Proto::Tcp, 80)),
                "host port 80/tcp in use",
            ),
        ];
        for (r, want) in cases {
            assert_eq!(r.to_string(), want);
        }
    }
}
