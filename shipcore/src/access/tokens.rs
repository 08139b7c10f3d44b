//! Login tokens (Shipyard v2's `POST /auth/login`, then
//! `X-Access-Token: <username>:<token>`), and password changes.
//!
//! A token is random (190 bits), shown once at login and stored only as the
//! SHA-256 of itself, under `access/tokens/<digest of the username>/<digest
//! of the token>`, with its expiry and a digest of the password hash the
//! account had when it was issued. A token is good while it has not
//! expired, was not logged out, its account exists and the account's
//! password hash is still the one it was issued under: deleting the account
//! or changing its password ends every token of it at once, on every
//! replica sharing the store, even before the records are cleaned up.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{hash_password, secret, Access, Principal, ACCOUNTS};
use crate::error::{Error, Result};
use crate::model::{Account, EventType};
use crate::store::{get_json, put_json, Expect};

const TOKENS: &str = "access/tokens/";

/// How long a login token is good for, unless set otherwise.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Tokens an account may hold at once: a login past it ends the oldest.
const MAX_TOKENS_PER_ACCOUNT: usize = 50;

/// A token as stored (never the token itself).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredToken {
    username: String,
    /// Unix seconds.
    created: u64,
    expires: u64,
    /// The client that logged in (`User-Agent`), as Shipyard recorded it.
    #[serde(default)]
    user_agent: String,
    /// Hex SHA-256 of the account's password hash at login.
    password: String,
}

/// A new login token, to be shown once.
#[derive(Debug, Clone)]
pub struct LoginToken {
    pub token: String,
    /// Unix seconds.
    pub expires: u64,
}

fn account_prefix(username: &str) -> String {
    format!("{TOKENS}{}/", secret::hex(&secret::key_digest(username)))
}

fn token_key(username: &str, token: &str) -> String {
    format!(
        "{}{}",
        account_prefix(username),
        secret::hex(&secret::key_digest(token))
    )
}

fn password_digest(hash: &str) -> String {
    secret::hex(&secret::key_digest(hash))
}

/// The password rules of account creation and password changes.
pub(super) fn check_password(password: &str) -> Result<()> {
    if password.is_empty() {
        return Err(Error::invalid("password", "must not be empty"));
    }
    if password.len() > 1024 {
        return Err(Error::invalid("password", "must be at most 1024 bytes"));
    }
    Ok(())
}

impl Access {
    /// How long new login tokens are good for.
    pub fn with_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Logs an account in: a new token when the credentials match (`None`
    /// when they do not; failures count against the failed-login limits
    /// of basic auth, and past them this is [`Error::TooMany`]).
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        from: Option<std::net::IpAddr>,
        user_agent: &str,
    ) -> Result<Option<LoginToken>> {
        if self.by_password(username, password, from).await?.is_none() {
            return Ok(None);
        }
        let Some((account, _)) =
            get_json::<Account>(self.store.as_ref(), &format!("{ACCOUNTS}{username}")).await?
        else {
            return Ok(None);
        };
        let now = self.clock.unix_secs();
        self.prune_tokens(username, now).await?;
        let token = secret::new_key(32)?;
        let expires = now.saturating_add(self.token_lifetime.as_secs());
        let stored = StoredToken {
            username: username.to_string(),
            created: now,
            expires,
            user_agent: user_agent.chars().take(200).collect(),
            password: password_digest(&account.password),
        };
        put_json(
            self.store.as_ref(),
            &token_key(username, &token),
            &stored,
            Expect::Absent,
        )
        .await?;
        Ok(Some(LoginToken { token, expires }))
    }

    /// Removes an account's expired tokens, and its oldest ones past the
    /// per-account limit (keeping room for one more).
    async fn prune_tokens(&self, username: &str, now: u64) -> Result<()> {
        let mut held: Vec<(String, StoredToken)> = Vec::new();
        for v in self.store.list(&account_prefix(username)).await? {
            match v.json::<StoredToken>() {
                Ok(t) if t.expires > now => held.push((v.key, t)),
                _ => {
                    self.store.delete(&v.key, Expect::Any).await?;
                }
            }
        }
        if held.len() >= MAX_TOKENS_PER_ACCOUNT {
            held.sort_by_key(|(_, t)| t.created);
            let over = held.len() + 1 - MAX_TOKENS_PER_ACCOUNT;
            for (key, _) in held.into_iter().take(over) {
                self.store.delete(&key, Expect::Any).await?;
            }
        }
        Ok(())
    }

    /// The principal of a login token, if it is good (see the module's
    /// documentation). Every call reads the store, so a logout, a password
    /// change or an account's deletion anywhere ends the token at once.
    pub async fn by_token(&self, username: &str, token: &str) -> Result<Option<Arc<Principal>>> {
        if username.is_empty() || token.is_empty() || token.len() > 256 {
            return Ok(None);
        }
        let key = token_key(username, token);
        let Some((stored, _)) = get_json::<StoredToken>(self.store.as_ref(), &key).await? else {
            return Ok(None);
        };
        if stored.username != username || stored.expires <= self.clock.unix_secs() {
            return Ok(None);
        }
        let Some((account, _)) =
            get_json::<Account>(self.store.as_ref(), &format!("{ACCOUNTS}{username}")).await?
        else {
            return Ok(None);
        };
        let now = password_digest(&account.password);
        if !secret::same(now.as_bytes(), stored.password.as_bytes()) {
            return Ok(None);
        }
        Ok(Some(Arc::new(Principal {
            name: account.username,
            role: self.role(&account.role.name).await?,
        })))
    }

    /// Ends one login token; false when it was not there. Long-lived
    /// answers made with it (event streams) end too.
    pub async fn logout(&self, username: &str, token: &str) -> Result<bool> {
        let ended = self
            .store
            .delete(&token_key(username, token), Expect::Any)
            .await?
            .is_some();
        if ended {
            self.forget_principals_where(|p| p.name == username);
        }
        Ok(ended)
    }

    /// Ends every login token of an account.
    pub(super) async fn end_tokens(&self, username: &str) -> Result<()> {
        for v in self.store.list(&account_prefix(username)).await? {
            self.store.delete(&v.key, Expect::Any).await?;
        }
        Ok(())
    }

    /// Sets an account's password (the same rules as at creation). Every
    /// login token of the account and every cached verification of its old
    /// password end at once; its role stays.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<()> {
        check_password(password)?;
        let key = format!("{ACCOUNTS}{username}");
        let hash = hash_password(password)?;
        loop {
            let Some((mut account, revision)) =
                get_json::<Account>(self.store.as_ref(), &key).await?
            else {
                return Err(Error::missing("account", username));
            };
            account.password = hash.clone();
            match put_json(
                self.store.as_ref(),
                &key,
                &account,
                Expect::Revision(revision),
            )
            .await
            {
                Ok(_) => break,
                // Changed meanwhile (another replica): read it again.
                Err(Error::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        self.forget_principals_where(|p| p.name == username);
        self.end_tokens(username).await?;
        self.note(EventType::ChangePassword, format!("username={username}"))
            .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::MemoryStore;

    async fn access() -> (Access, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::at(1_800_000_000));
        let a = Access::new(Arc::new(MemoryStore::new()))
            .with_clock(clock.clone())
            .with_token_lifetime(Duration::from_secs(3600));
        a.bootstrap(Some("pw-admin".into())).await.unwrap();
        a.create_account("alice", "pw-alice", "user").await.unwrap();
        (a, clock)
    }

    #[tokio::test]
    async fn a_token_stands_for_its_account_until_it_expires() {
        let (a, clock) = access().await;
        assert!(a
            .login("alice", "wrong", None, "t")
            .await
            .unwrap()
            .is_none());
        assert!(a.login("nobody", "x", None, "t").await.unwrap().is_none());
        let t = a
            .login("alice", "pw-alice", None, "shipyard-cli")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(t.expires, 1_800_000_000 + 3600);
        let p = a.by_token("alice", &t.token).await.unwrap().unwrap();
        assert_eq!(p.name, "alice");
        assert_eq!(p.role.name, "user");
        // Bound to its account's name.
        assert!(a.by_token("admin", &t.token).await.unwrap().is_none());
        assert!(a.by_token("alice", "guess").await.unwrap().is_none());
        // The token is never stored as it is.
        for v in a.store.list(TOKENS).await.unwrap() {
            let text = String::from_utf8_lossy(&v.value).to_string();
            assert!(!text.contains(&t.token) && !v.key.contains(&t.token));
        }
        clock.advance(Duration::from_secs(3600));
        assert!(a.by_token("alice", &t.token).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn logout_password_change_and_deletion_end_tokens_at_once() {
        let (a, _) = access().await;
        let login = || async {
            a.login("alice", "pw-alice", None, "t")
                .await
                .unwrap()
                .unwrap()
        };
        let (t1, t2) = (login().await, login().await);
        assert!(a.logout("alice", &t1.token).await.unwrap());
        assert!(!a.logout("alice", &t1.token).await.unwrap());
        assert!(a.by_token("alice", &t1.token).await.unwrap().is_none());
        assert!(a.by_token("alice", &t2.token).await.unwrap().is_some());

        a.set_password("alice", "pw-new").await.unwrap();
        assert!(a.by_token("alice", &t2.token).await.unwrap().is_none());
        assert!(a
            .by_password("alice", "pw-alice", None)
            .await
            .unwrap()
            .is_none());
        assert!(a
            .by_password("alice", "pw-new", None)
            .await
            .unwrap()
            .is_some());
        assert!(matches!(
            a.set_password("alice", "").await,
            Err(Error::Invalid { .. })
        ));
        assert!(matches!(
            a.set_password("ghost", "x").await,
            Err(Error::Missing { .. })
        ));

        let t3 = a
            .login("alice", "pw-new", None, "t")
            .await
            .unwrap()
            .unwrap();
        a.delete_account("alice").await.unwrap();
        assert!(a.by_token("alice", &t3.token).await.unwrap().is_none());
        // A new account of the same name and password: the old token
        // still does not stand for it.
        a.create_account("alice", "pw-new", "user").await.unwrap();
        assert!(a.by_token("alice", &t3.token).await.unwrap().is_none());
        assert!(a.store.list(TOKENS).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_account_holds_a_bounded_number_of_tokens() {
        let (a, clock) = access().await;
        let first = a
            .login("alice", "pw-alice", None, "t")
            .await
            .unwrap()
            .unwrap();
        for _ in 0..MAX_TOKENS_PER_ACCOUNT + 5 {
            clock.advance(Duration::from_secs(1));
            a.login("alice", "pw-alice", None, "t")
                .await
                .unwrap()
                .unwrap();
        }
        let held = a.store.list(&account_prefix("alice")).await.unwrap();
        assert_eq!(held.len(), MAX_TOKENS_PER_ACCOUNT);
        assert!(a.by_token("alice", &first.token).await.unwrap().is_none());
    }
}
