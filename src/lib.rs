//! Shared pieces of the workspace's examples and benchmarks: a generator of
//! realistic synthetic clusters and request mixes, so that the `place`
//! example and the `placement` bench measure the same thing.

pub mod process;
pub mod provision;
pub mod synth;
pub mod wrk;
