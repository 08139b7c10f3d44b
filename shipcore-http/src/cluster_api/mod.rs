//! The cluster API of seed 001 (Shipyard), one file per resource.

pub mod access;
pub mod containers;
pub mod engines;
pub mod events;
