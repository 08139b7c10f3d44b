//! Validation rules shared by several types: names and ports.

use crate::error::{Error, Result};

/// What [`validate_name`] takes, as the OpenAPI document states it.
pub const NAME_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9-]{0,63}$";

/// Checks a project, volume or engine-style name: 1–64 characters of ASCII
/// letters, digits and `-`, not starting with `-` (SPEC.md, seed 003).
pub fn validate_name(field: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 64 {
        return Err(Error::invalid(
            field,
            format!("must be 1 to 64 characters long, got {}", name.len()),
        ));
    }
    if name.starts_with('-') {
        return Err(Error::invalid(field, "must not start with '-'"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(Error::invalid(
            field,
            format!("may hold only letters, digits and '-', found {bad:?}"),
        ));
    }
    Ok(())
}

/// Checks a TCP/UDP port number: 1–65535.
pub fn validate_port(field: &str, port: u32) -> Result<u16> {
    match u16::try_from(port) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(Error::invalid(
            field,
            format!("must be a port between 1 and 65535, got {port}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let cases: &[(&str, bool)] = &[
            ("web", true),
            ("web-1", true),
            ("A9", true),
            ("", false),
            ("-web", false),
            ("web_1", false),
            ("web.1", false),
            ("ü", false),
            (&"a".repeat(64), true),
            (&"a".repeat(65), false),
        ];
        for (name, ok) in cases {
            assert_eq!(validate_name("name", name).is_ok(), *ok, "{name:?}");
        }
    }

    #[test]
    fn ports() {
        assert!(validate_port("port", 0).is_err());
        assert_eq!(validate_port("port", 1).ok(), Some(1));
        assert_eq!(validate_port("port", 65535).ok(), Some(65535));
        let err = validate_port("bind_ports[0].port", 65536).unwrap_err();
        assert!(err.to_string().contains("bind_ports[0].port"), "{err}");
    }
}
