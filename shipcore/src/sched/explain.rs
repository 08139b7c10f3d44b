//! Decisions as values: a [`Placement`] when the request fits, an
//! [`Unplaceable`] with every engine's reason when it does not.

use std::collections::BTreeMap;

use super::filter::Reject;

/// One container's engine: its id and its slot (position in the snapshot or
/// index the decision was made on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub engine: String,
    pub slot: usize,
    /// The engine holds the image (no pull). Under `spread` and `binpack`,
    /// among engines with as much free memory and cpus, one that holds the
    /// image is preferred (Kubernetes' ImageLocality, as a tie-break).
    pub holds_image: bool,
}

impl std::fmt::Display for Assignment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.holds_image {
            write!(f, "{} (holds the image: no pull)", self.engine)
        } else {
            f.write_str(&self.engine)
        }
    }
}

/// An engine that was not chosen, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub engine: String,
    pub reason: Reject,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.engine, self.reason)
    }
}

/// A request that fits: one assignment per container, in replica order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Placement {
    pub assignments: Vec<Assignment>,
    /// For `global` requests: the engines that got no container, and why.
    pub skipped: Vec<Refusal>,
}

/// A request that does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unplaceable {
    /// The replica (0-based) that found no engine.
    pub replica: u32,
    /// How many were asked for.
    pub replicas: u32,
    /// Where the earlier replicas would have gone; nothing was committed.
    pub placed: Vec<Assignment>,
    /// Every engine, in snapshot order, with the first check it failed.
    pub refusals: Vec<Refusal>,
}

impl Unplaceable {
    /// Counts refusals by category, most frequent first (ties by name):
    /// `[("insufficient memory", 3), ("label mismatch", 2)]`.
    pub fn tally(&self) -> Vec<(&'static str, usize)> {
        let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
        for r in &self.refusals {
            *counts.entry(r.reason.category()).or_default() += 1;
        }
        let mut v: Vec<_> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v
    }

    /// One line: `0/5 engines: 3 insufficient memory, 2 label mismatch`.
    pub fn summary(&self) -> String {
        let total = self.refusals.len();
        if total == 0 {
            return "0/0 engines: the cluster has no engines".into();
        }
        let parts: Vec<String> = self
            .tally()
            .into_iter()
            .map(|(what, n)| format!("{n} {what}"))
            .collect();
        format!("0/{total} engines: {}", parts.join(", "))
    }
}

impl std::fmt::Display for Unplaceable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.replicas > 1 {
            write!(f, "replica {} of {}: ", self.replica + 1, self.replicas)?;
        }
        f.write_str(&self.summary())?;
        // The summary covers every engine; list a few by name so the line
        // stays readable on a large cluster.
        const SHOWN: usize = 10;
        for r in self.refusals.iter().take(SHOWN) {
            write!(f, "; {r}")?;
        }
        if self.refusals.len() > SHOWN {
            write!(f, "; and {} more", self.refusals.len() - SHOWN)?;
        }
        Ok(())
    }
}

impl std::error::Error for Unplaceable {}

impl From<Unplaceable> for crate::Error {
    fn from(u: Unplaceable) -> Self {
        crate::Error::Unplaceable(Box::new(crate::error::Refused {
            summary: u.summary(),
            explanation: u.to_string(),
            refusals: u
                .refusals
                .iter()
                .map(|r| crate::error::EngineRefusal {
                    engine: r.engine.clone(),
                    reason: r.reason.to_string(),
                })
                .collect(),
        }))
    }
}
