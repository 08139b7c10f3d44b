//! The seal on what the cluster writes into a container's labels.
//!
//! A container carries the request it was made from (`io.shipcore.config`)
//! and whom it was admitted for (`io.shipcore.owner`), so that a cluster
//! whose store was lost can adopt it again. Labels are written by whoever
//! creates a container, so the cluster seals its own: an HMAC-SHA256 over
//! the identity, the deploy, the owner and the request, with a key kept in
//! the store (`cluster/seal`). A container whose seal does not verify
//! (written by someone else, or by this cluster before its store was lost)
//! is adopted only as far as an owner trusted with nothing may run it.

use ring::hmac;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::store::{get_json, put_json, Expect, Store};

/// Where the key is kept.
pub const SEAL: &str = "cluster/seal";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SealDoc {
    key: String,
}

/// The key that seals labels: the stored one, made at the first start.
#[derive(Clone)]
pub(super) struct SealKey(hmac::Key);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

impl SealKey {
    /// Reads the key from the store, or makes and stores it (a replica
    /// that wrote it first wins).
    pub async fn open(store: &dyn Store) -> Result<Self> {
        for _ in 0..3 {
            if let Some((doc, _)) = get_json::<SealDoc>(store, SEAL).await? {
                return Ok(Self::from_secret(&doc.key));
            }
            let doc = SealDoc {
                key: crate::access::new_key(43)?,
            };
            match put_json(store, SEAL, &doc, Expect::Absent).await {
                Ok(_) => return Ok(Self::from_secret(&doc.key)),
                Err(crate::Error::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(crate::Error::Storage {
            reason: format!("{SEAL} could neither be read nor written"),
        })
    }

    fn from_secret(secret: &str) -> Self {
        SealKey(hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()))
    }

    fn message(parts: &[&str]) -> Vec<u8> {
        // Lengths first, so no two lists of parts give the same bytes.
        let mut m = Vec::new();
        for p in parts {
            m.extend_from_slice(&(p.len() as u64).to_be_bytes());
            m.extend_from_slice(p.as_bytes());
        }
        m
    }

    /// The seal of `parts`, hex.
    pub fn seal(&self, parts: &[&str]) -> String {
        let tag = hmac::sign(&self.0, &Self::message(parts));
        tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `seal` is this key's seal of `parts`.
    pub fn verify(&self, parts: &[&str], seal: &str) -> bool {
        let Some(tag) = unhex(seal) else {
            return false;
        };
        hmac::verify(&self.0, &Self::message(parts), &tag).is_ok()
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_seal_verifies_with_its_key_only() {
        let store = crate::store::MemoryStore::new();
        let key = SealKey::open(&store).await.unwrap();
        let again = SealKey::open(&store).await.unwrap();
        let seal = key.seal(&["c", "d", "{}"]);
        assert!(again.verify(&["c", "d", "{}"], &seal));
        assert!(!again.verify(&["c", "d", "{\"x\":1}"], &seal));
        assert!(!again.verify(&["cd", "", "{}"], &seal));
        assert!(!again.verify(&["c", "d", "{}"], "zz"));
        let other = SealKey::open(&crate::store::MemoryStore::new())
            .await
            .unwrap();
        assert!(!other.verify(&["c", "d", "{}"], &seal));
    }
}
