//! The compose corpus (`tests/fixtures/compose/` at the workspace root),
//! read by the corpus' tests: its files, each one's expectation, the files
//! a folder fixture carries and the environment it is read with.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use shipcore::compose::Extras;

/// The corpus' compose files: `NN-name.yml`, and `NN-name/compose.yml`.
pub fn corpus() -> Vec<PathBuf> {
    // From the workspace's tests and from the shipcore crate's.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = [
        root.join("tests/fixtures/compose"),
        root.join("../tests/fixtures/compose"),
    ]
    .into_iter()
    .find(|d| d.is_dir())
    .expect("the corpus folder");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus folder")
        .map(|e| e.expect("entry").path())
        .filter_map(|p| {
            if p.is_dir() {
                Some(p.join("compose.yml"))
            } else {
                p.extension().is_some_and(|e| e == "yml").then_some(p)
            }
        })
        .collect();
    files.sort();
    files
}

/// Whether `yml` is the compose file of a fixture folder.
pub fn in_folder(yml: &Path) -> bool {
    yml.file_name().is_some_and(|n| n == "compose.yml")
}

/// The fixture's name (`NN-name`, with `.yml` for a lone file).
pub fn fixture_name(yml: &Path) -> String {
    let named = if in_folder(yml) {
        yml.parent().unwrap_or(yml)
    } else {
        yml
    };
    named
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string()
}

pub fn expectation(yml: &Path) -> Value {
    let path = if in_folder(yml) {
        yml.with_file_name("expect.json")
    } else {
        yml.with_extension("expect.json")
    };
    let text = std::fs::read_to_string(path).expect("expect file");
    serde_json::from_str(&text).expect("expect json")
}

/// The files a fixture folder holds beside its compose file, by relative
/// path, with the profiles its expectation enables.
pub fn extras_of(yml: &Path, expect: &Value, profiles: Option<Vec<String>>) -> Extras {
    let mut files = BTreeMap::new();
    if in_folder(yml) {
        let root = yml.parent().expect("folder");
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).expect("fixture folder") {
                let p = e.expect("entry").path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let rel = p
                    .strip_prefix(root)
                    .expect("inside")
                    .to_string_lossy()
                    .to_string();
                if rel != "compose.yml" && rel != "expect.json" {
                    files.insert(rel, std::fs::read_to_string(&p).expect("text file"));
                }
            }
        }
    }
    let profiles = profiles.unwrap_or_else(|| {
        expect["profiles"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    });
    Extras::checked(&files, &profiles).expect("the fixture's files")
}

pub fn env_of(expect: &Value) -> BTreeMap<String, String> {
    expect["environment"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}
