//! Seed 004: the repository docker ext API.
