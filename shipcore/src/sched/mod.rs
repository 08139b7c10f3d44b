//! The scheduler: where containers go, and why not when they cannot.
//!
//! Pure: it takes a cluster [`Snapshot`] (or an incrementally kept
//! [`ClusterIndex`]) and a [`Request`], and returns a decision value — a
//! [`Placement`] or an [`Unplaceable`] carrying, for every engine, the first
//! check it failed. No tokio, no IO, no clock: the same input and seed give
//! the same answer.
//!
//! - [`request`]: what is asked (resources, label constraints, affinities,
//!   host ports, Shipyard `type`, strategy, replicas).
//! - [`snapshot`]: what the cluster looks like.
//! - [`filter`]: the ordered checks an engine must pass, shared by both
//!   implementations.
//! - [`rank`]: how fitting engines are ordered (spread, binpack, random).
//! - [`explain`]: decision values and their summaries.
//! - [`index`]: the fast implementation services use.
//! - [`reference`]: the plain O(engines) scan that specifies the behaviour.

pub mod explain;
pub mod filter;
pub mod index;
mod rank;
pub mod reference;
pub mod request;
pub mod snapshot;

pub use explain::{Assignment, Placement, Refusal, Unplaceable};
pub use filter::Reject;
pub use index::ClusterIndex;
pub use rank::SplitMix;
pub use request::{Affinity, AffinityTarget, Constraint, Request, Strategy};
pub use snapshot::{millicpus, EngineSnapshot, Footprint, HostPort, Millicpus, Snapshot};
