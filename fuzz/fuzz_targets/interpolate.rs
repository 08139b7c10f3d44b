//! `${VAR}`, `${VAR:-default}`, `${VAR:?error}`, `$$` and their nesting.
#![no_main]
use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use shipcore::compose::interpolate;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = BTreeMap::from([
        ("A".to_string(), "x".to_string()),
        ("EMPTY".to_string(), String::new()),
        ("DOLLAR".to_string(), "$B".to_string()),
    ]);
    if let Ok(out) = interpolate(text, &env) {
        // Text without `$` is its own interpolation.
        if !text.contains('$') {
            assert_eq!(out, text);
        }
    }
});
