//! Credentials to principals: a service key (looked up by its hash) or an
//! account's username and password (argon2). Principals are cached by the
//! digest of the credentials until a key, role or account goes away, so a
//! request costs a hash lookup, not a store read or an argon2 run.

use std::sync::Arc;

use super::keys::StoredKey;
use super::{secret, verify_password, Access, Principal, ACCOUNTS, SERVICE_KEYS};
use crate::error::Result;
use crate::model::Account;
use crate::store::get_json;

/// An argon2id hash of nothing anyone knows: verified against when the
/// account does not exist, so both answers take the same time.
const DECOY: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$YmFkYmFkYmFkYmFkYmFkYmFkYmFkYmFkYmFkYmFkYmE";

impl Access {
    /// The principal of a service key already seen since the last change to
    /// keys or roles, without touching the store (None: not cached, ask
    /// [`Access::by_service_key`]).
    pub fn cached_service_key(&self, key: &str) -> Option<Arc<Principal>> {
        self.known_by_digest(&secret::key_digest(key))
    }

    /// Nothing is known without a store read when other replicas share it.
    fn known_by_digest(&self, digest: &[u8; 32]) -> Option<Arc<Principal>> {
        if self.shared {
            return None;
        }
        self.known.lock().ok()?.get(digest).cloned()
    }

    /// The principal of a service key, if the key is known.
    pub async fn by_service_key(&self, key: &str) -> Result<Option<Arc<Principal>>> {
        let digest = secret::key_digest(key);
        if let Some(p) = self.known_by_digest(&digest) {
            return Ok(Some(p));
        }
        let version = self.version();
        let hash = secret::hex(&digest);
        let Some((stored, _)) =
            get_json::<StoredKey>(self.store.as_ref(), &format!("{SERVICE_KEYS}{hash}")).await?
        else {
            return Ok(None);
        };
        // The lookup found it by hash; compare again in constant time.
        if !secret::same(stored.hash.as_bytes(), hash.as_bytes()) {
            return Ok(None);
        }
        let principal = Arc::new(Principal {
            name: format!("key:{}", stored.prefix),
            role: self.role(&stored.role).await?,
        });
        if !self.shared {
            self.remember(&self.known, digest, &principal, version);
        }
        Ok(Some(principal))
    }

    /// The principal of an account's credentials, if they match. Failed
    /// attempts count against `from` and `username` (see `throttle.rs`).
    pub async fn by_password(
        &self,
        username: &str,
        password: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<Option<Arc<Principal>>> {
        if username == crate::model::ENGINE_USER || username == crate::model::BUILDER_USER {
            self.throttle.admit(from, username)?;
            let found = if username == crate::model::ENGINE_USER {
                self.engine_principal(password).await?
            } else {
                self.builder_principal(password).await?
            };
            if found.is_none() {
                self.throttle.failed(from, username);
            }
            return Ok(found);
        }
        // Shared with other replicas: the account is read first, and a
        // login verified before counts only against the same stored hash.
        let read = if self.shared {
            Some(get_json::<Account>(self.store.as_ref(), &format!("{ACCOUNTS}{username}")).await?)
        } else {
            None
        };
        let stored_hash = read
            .as_ref()
            .and_then(|a| a.as_ref())
            .map(|(a, _)| a.password.as_str());
        let login = secret::key_digest(&format!(
            "{}:{username}:{password}:{}",
            username.len(),
            stored_hash.unwrap_or_default()
        ));
        let cached = self.logins.lock().ok().and_then(|l| l.get(&login).cloned());
        match (cached, &read) {
            (Some(p), None) => return Ok(Some(p)),
            (Some(_), Some(Some((account, _)))) => {
                return Ok(Some(Arc::new(Principal {
                    name: account.username.clone(),
                    role: self.role(&account.role.name).await?,
                })))
            }
            _ => {}
        }
        self.throttle.admit(from, username)?;
        let version = self.version();
        let account = match read {
            Some(account) => account,
            None => {
                get_json::<Account>(self.store.as_ref(), &format!("{ACCOUNTS}{username}")).await?
            }
        };
        // An unknown name costs the same as a wrong password, so names
        // cannot be probed.
        let hash = account
            .as_ref()
            .map_or_else(|| DECOY.to_string(), |(a, _)| a.password.clone());
        let given = password.to_string();
        let matches = self
            .throttle
            .verify(move || verify_password(&given, &hash))
            .await?;
        let Some((account, _)) = account.filter(|_| matches) else {
            self.throttle.failed(from, username);
            return Ok(None);
        };
        let principal = Arc::new(Principal {
            name: account.username,
            role: self.role(&account.role.name).await?,
        });
        self.remember(&self.logins, login, &principal, version);
        Ok(Some(principal))
    }
}
