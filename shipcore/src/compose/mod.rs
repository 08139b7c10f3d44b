//! The compose model (pure): compose files as people write them — the
//! compose spec and the version 2.x / 3.x files — read into one normalised
//! form ([`ComposeFile`]), with `${VAR}` interpolation from a project's
//! environment. No IO, no clock, no runtime: the project service
//! (`crate::projects`) drives it.
//!
//! - `model.rs`: the types, start order in waves, reservations;
//! - `parse.rs`: YAML (serde-saphyr: anchors, merge keys, budgets against
//!   alias bombs) to the model; every key it does not support is refused by
//!   name, and errors name the service, the key and the line;
//! - `interpolate.rs`: `$VAR`, `${VAR:-d}`, `${VAR-d}`, `${VAR:?e}`, `$$`.

mod files;
mod interpolate;
mod model;
mod parse;
mod spec;

pub use spec::{duration_text, to_yaml};

pub use files::{
    bind_path, dotenv, dotenv_interpolated, files_under, normalize, valid_profile, Extras,
    MAX_FILES, MAX_FILES_BYTES, MAX_FILE_BYTES,
};

pub use interpolate::{
    interpolate, interpolate_within, MAX_INTERPOLATED_BYTES, MAX_INTERPOLATED_FILE_BYTES,
    MAX_INTERPOLATION_DEPTH,
};
pub use model::*;
pub use parse::{
    duration_ms, locate, memory_mib, parse, parse_with, shell_split, ParseOptions,
    MAX_ENVIRONMENT_BYTES, MAX_ENVIRONMENT_ENTRIES, MAX_TEMPLATE_BYTES,
};
