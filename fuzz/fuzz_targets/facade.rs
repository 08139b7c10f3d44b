//! The HTTP facade's and the engine backend's parsers of outside input:
//! the Docker endpoint's create bodies (containers, volumes, networks,
//! attachments), its names and `X-Registry-Auth`, the build API's JSON or
//! form bodies, the dashboard's login form, the cluster API's deploy
//! fields, the hub webhook's payload, `/v2/` paths and blob ranges, client
//! certificates (DER) and an engine record's PEM material. The first byte
//! picks the parser; the rest is its input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shipcore_http::fuzzing as http;

/// `a`, then what follows the first `sep` (or nothing).
fn split(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == sep) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

fn text(data: &[u8]) -> &str {
    std::str::from_utf8(data).unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 12 {
        // `NAME\nBODY`
        0 => {
            let (name, body) = split(rest, b'\n');
            http::docker_create(text(name), body);
        }
        1 => {
            if let Some((&which, body)) = rest.split_first() {
                http::docker_objects(which, body);
            }
        }
        2 => {
            http::docker_name(text(rest));
        }
        3 => {
            http::registry_auth(rest);
        }
        4 => {
            http::build_fields(rest);
        }
        5 => {
            http::login_form(rest);
        }
        6 => {
            http::deploy_fields(rest);
        }
        7 => {
            http::hub_push(rest);
        }
        8 => {
            http::registry_path(text(rest));
        }
        // `SIZE_BYTE` then the header: sizes 0..=254, and the largest.
        9 => {
            if let Some((&size, header)) = rest.split_first() {
                let size = if size == 255 {
                    u64::MAX
                } else {
                    u64::from(size)
                };
                http::blob_range(header, size);
            }
        }
        10 => {
            http::client_certificate(rest);
        }
        // `CA\0CERT\0KEY`
        _ => {
            let (ca, more) = split(rest, 0);
            let (cert, key) = split(more, 0);
            shipcore_docker::fuzzing::engine_tls(text(ca), text(cert), text(key));
        }
    }
});
