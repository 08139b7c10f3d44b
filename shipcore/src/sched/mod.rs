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
//! - [`index`]: the fast implementation services use, over `bucket` (the
//!   engines of one label set in rank order), `slot` (one engine's state),
//!   `judged` (which label sets a request's constraints admit), `locality`
//!   (which engines hold which image) and `symbols` (strings by number).
//! - [`reference`]: the plain O(engines) scan that specifies the behaviour.

mod bucket;
pub mod explain;
pub mod filter;
pub mod index;
mod judged;
mod locality;
mod rank;
pub mod reference;
pub mod request;
mod slot;
pub mod snapshot;
mod symbols;

pub use explain::{Assignment, Placement, Refusal, Unplaceable};
pub use filter::Reject;
pub use index::ClusterIndex;
pub use rank::SplitMix;
pub use request::{Affinity, AffinityTarget, Constraint, Request, Strategy};
pub use snapshot::{millicpus, EngineSnapshot, Footprint, HostPort, Millicpus, Snapshot};
