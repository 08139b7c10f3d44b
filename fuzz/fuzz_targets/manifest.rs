//! Pushed manifests: OCI and Docker schema 2 images, indexes and lists,
//! under each content type a client may send.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shipcore::registry::manifest::{parse, DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use shipcore::registry::names::Algorithm;

const TYPES: [&str; 6] = [
    "",
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_LIST,
    "application/json",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = TYPES[usize::from(selector) % TYPES.len()];
    let algorithm = if selector & 0x80 == 0 {
        Algorithm::Sha256
    } else {
        Algorithm::Sha512
    };
    if let Ok(manifest) = parse(body, content_type, algorithm) {
        let _ = manifest.blobs();
        let _ = manifest.children();
    }
});
