//! Secrets: password hashes (argon2), key hashes (SHA-256), random keys,
//! and constant-time comparison.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).map_err(|e| Error::System {
        reason: format!("no randomness from the system: {e}"),
    })?;
    Ok(buf)
}

/// An argon2id hash of a password, in PHC string form.
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| Error::invalid("password", format!("cannot salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::invalid("password", format!("cannot hash: {e}")))
}

/// Whether `password` matches a stored hash (argon2 compares in constant time).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// SHA-256 of a key, hex. Keys are long random strings, so a plain hash
/// stores them safely and finds them by lookup.
pub fn hash_key(key: &str) -> String {
    hex(&key_digest(key))
}

/// The SHA-256 digest of a key.
pub fn key_digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Lower-case hex of a digest.
pub fn hex(digest: &[u8; 32]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// A new random key of `len` characters from Shipyard's alphabet
/// (letters, digits and `.`).
pub fn new_key(len: usize) -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in random_bytes::<64>()? {
            // 252 = 4 × 63: reject the tail so every character is equally likely.
            if b < 252 && out.len() < len {
                out.push(ALPHABET[usize::from(b) % ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_keys() {
        let h = hash_password("bar").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("bar", &h));
        assert!(!verify_password("baz", &h));
        assert!(!verify_password("bar", "not a hash"));
        let k = new_key(36).unwrap();
        assert_eq!(k.len(), 36);
        assert!(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'));
        assert_ne!(k, new_key(36).unwrap());
        assert_eq!(hash_key("x").len(), 64);
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"ab", b"abc"));
    }
}
