//! Build definitions: a Dockerfile and the files beside it (base64), into
//! the tar build context; the base images a Dockerfile names.
#![no_main]
use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use shipcore::build::model::{base_images, check_definition, check_dockerfile, context_tar};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The Dockerfile, then NUL-separated pairs of path and base64 content.
    let mut parts = text.split('\0');
    let dockerfile = parts.next().unwrap_or_default();
    let mut files = BTreeMap::new();
    while let (Some(path), Some(content)) = (parts.next(), parts.next()) {
        files.insert(path.to_string(), content.to_string());
    }
    let _ = check_dockerfile(dockerfile);
    let _ = base_images(dockerfile);
    if let Ok(decoded) = check_definition(dockerfile, &files) {
        if let Ok(tar) = context_tar(dockerfile, &decoded) {
            assert!(tar.len() % 512 == 0, "a tar is whole blocks");
        }
    }
});
