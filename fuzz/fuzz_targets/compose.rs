//! Compose files: YAML (anchors, merge keys, budgets), interpolation, the
//! `.env` file beside them and profiles, into the compose model; the
//! normalised config of what parses (`GET /projects/{name}/config`) must
//! parse again.
#![no_main]
use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use shipcore::compose::{parse_with, to_yaml, Extras, ParseOptions};

fuzz_target!(|data: &[u8]| {
    // The template, then after a NUL byte the `.env` file beside it.
    let text = String::from_utf8_lossy(data);
    let (src, dotenv) = text.split_once('\0').unwrap_or((&text, ""));
    let env = BTreeMap::from([
        ("TAG".to_string(), "1.0".to_string()),
        ("EMPTY".to_string(), String::new()),
    ]);
    let files = BTreeMap::from([(".env".to_string(), dotenv.to_string())]);
    let Ok(extras) = Extras::checked(&files, &["*".to_string()]) else {
        return;
    };
    for allow_binds in [false, true] {
        let opts = ParseOptions { allow_binds };
        if let Ok(model) = parse_with(src, &env, &opts, &extras) {
            let again = to_yaml(&model.to_file("fuzz"));
            let reparsed = parse_with(&again, &BTreeMap::new(), &opts, &Extras::default());
            assert!(reparsed.is_ok(), "{again}: {reparsed:?}");
        }
    }
});
