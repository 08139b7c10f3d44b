//! The facade's parsers of outside input, as the cargo-fuzz target
//! `fuzz/fuzz_targets/facade.rs` calls them: each entry takes the raw bytes
//! a client sends and runs them through what the handler runs them
//! through, then checks what was accepted. Built only with the `fuzzing`
//! feature; no handler calls it.
//!
//! An entry returns whether the input was accepted, so the target can tell
//! the fuzzer which inputs reach past the parser.

use axum::http::{HeaderMap, HeaderValue};

use crate::docker_api::{objects, wire};
use crate::extract::parse;
use crate::registry_api::v2::{self, Target};

/// The Docker endpoint's `POST /containers/create?name=NAME` body, read and
/// translated into the cluster's request; what is accepted is checked as
/// the cluster checks a deploy.
pub fn docker_create(name: &str, body: &[u8]) -> bool {
    let Ok(b) = parse::<wire::CreateBody>(body) else {
        return false;
    };
    let Ok((cfg, _warnings)) = wire::create_request(name, b) else {
        return false;
    };
    let _ = cfg.validate();
    true
}

/// The Docker endpoint's volume, network and network-attach bodies.
pub fn docker_objects(which: u8, body: &[u8]) -> bool {
    match which % 3 {
        0 => parse::<objects::VolumeBody>(body).is_ok(),
        1 => parse::<objects::NetworkBody>(body).is_ok(),
        _ => parse::<objects::AttachBody>(body).is_ok(),
    }
}

/// A name of the Docker endpoint's volumes and networks.
pub fn docker_name(name: &str) -> bool {
    let ok = objects::valid_name("Name", name).is_ok();
    assert!(!ok || (1..=200).contains(&name.len()), "{name:?} accepted");
    ok
}

/// `X-Registry-Auth` as the docker CLI sends it (base64url JSON).
pub fn registry_auth(header: &[u8]) -> bool {
    let Ok(v) = HeaderValue::from_bytes(header) else {
        return false;
    };
    let mut headers = HeaderMap::new();
    headers.insert("x-registry-auth", v);
    matches!(objects::registry_auth(&headers), Ok(Some(_)))
}

/// A build project's body, JSON or form-encoded as the seed sends it.
pub fn build_fields(body: &[u8]) -> bool {
    crate::build_api::fields(body).is_ok()
}

/// The dashboard's login form (and a page's query string).
pub fn login_form(body: &[u8]) -> bool {
    !crate::dashboard::form(body).is_empty()
}

/// A deploy body of the cluster API: the fields it refuses by name.
pub fn deploy_fields(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .is_some_and(|v| crate::cluster_api::containers::check_fields(&v).is_ok())
}

/// The hub webhook's push notification: the image it names.
pub fn hub_push(body: &[u8]) -> bool {
    let Ok(image) = crate::cluster_api::events::pushed_image(body) else {
        return false;
    };
    // What is accepted names a repository that parses again to itself.
    let again = shipcore::model::ImageRef::parse(&image.to_string())
        .unwrap_or_else(|e| panic!("{image} does not parse again: {e}"));
    assert!(again.same_repository(&image), "{image} became {again}");
    true
}

/// The rest of a `/v2/` path: which registry object it names.
pub fn registry_path(rest: &str) -> bool {
    match v2::parse_target(rest) {
        Ok(Target::Blob(repo, digest)) => {
            // A blob's path, printed again, names the same blob.
            let again = format!("{repo}/blobs/{digest}");
            assert!(
                matches!(v2::parse_target(&again), Ok(Target::Blob(r, d)) if r == repo && d == digest),
                "{rest:?} -> {again:?}"
            );
            true
        }
        Ok(_) => true,
        Err(_) => false,
    }
}

/// A blob `Range` header against a blob of `size` bytes: what is accepted
/// lies inside the blob.
pub fn blob_range(header: &[u8], size: u64) -> bool {
    let Ok(v) = HeaderValue::from_bytes(header) else {
        return false;
    };
    match v2::parse_range(&v, size) {
        Ok((first, last)) => {
            assert!(
                first <= last && last < size,
                "{v:?} of {size}: {first}-{last}"
            );
            true
        }
        Err(_) => false,
    }
}

/// A client certificate presented to the cluster endpoint (DER): its serial,
/// as the revocation list keys it.
pub fn client_certificate(der: &[u8]) -> bool {
    match crate::tls::serial_of(der) {
        Some(serial) => {
            let hex = serial.0;
            assert!(
                !hex.is_empty()
                    && !hex.starts_with("00")
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                "serial {hex:?}"
            );
            true
        }
        None => false,
    }
}
