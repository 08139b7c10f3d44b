//! The backend's parser of outside input, as the cargo-fuzz target
//! `fuzz/fuzz_targets/facade.rs` calls it: the PEM material of an engine
//! record (`ca_cert`, `ssl_cert`, `ssl_key`, given by whoever registers
//! the engine) made into the TLS client configuration. Built only with the
//! `fuzzing` feature.

use crate::connect::{tls_config, TlsMaterial};

/// Whether the three PEM strings make a TLS client configuration.
pub fn engine_tls(ca: &str, cert: &str, key: &str) -> bool {
    let m = TlsMaterial {
        ca: ca.into(),
        cert: cert.into(),
        key: key.into(),
    };
    tls_config("fuzz", &m).is_ok()
}
