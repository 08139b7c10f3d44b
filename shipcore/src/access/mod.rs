//! Who may use the cluster: accounts with argon2 password hashes, roles as
//! named permission sets, service keys and webhook keys stored only as
//! hashes (each shown once, at creation), and authentication of a request's
//! credentials to a [`Principal`].
//!
//! - `accounts.rs`: accounts and roles, and the first start's `admin`.
//! - `keys.rs`: service keys and webhook keys; listing shows a prefix that
//!   deletion accepts.
//! - `authenticate.rs`: credentials to principals, with the caches that keep
//!   argon2 and store reads off the path of every request.
//! - `throttle.rs`: password checks on the blocking pool, a few at a time,
//!   and failed attempts limited per client address and per username.
//! - `tokens.rs`: login tokens (`X-Access-Token`) and password changes.
//! - `certs.rs`: the cluster's CA and the client certificates it signs for
//!   accounts, recorded by serial and revocable.
//! - `engine_pull.rs`: the password the cluster's engines pull shipd's
//!   registry with.
//! - `secret.rs`: hashing, random keys, constant-time comparison.

mod accounts;
mod authenticate;
mod certs;
mod engine_pull;
mod keys;
pub(crate) mod secret;
mod throttle;
mod tokens;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

pub use certs::{ClientCert, IssuedCert, DEFAULT_CERT_LIFETIME};
pub use secret::{hash_key, hash_password, new_key, same, verify_password};
pub use throttle::{ADDRESS_FAILURES, USERNAME_FAILURES, WINDOW as FAILURE_WINDOW};
pub use tokens::{LoginToken, DEFAULT_TOKEN_LIFETIME};

use crate::error::{Error, Result};
use crate::events::EventLog;
use crate::model::{EventType, Role};
use crate::store::{put_json, Expect, Store};

const ACCOUNTS: &str = "access/accounts/";
const ROLES: &str = "access/roles/";
const SERVICE_KEYS: &str = "access/servicekeys/";
const WEBHOOK_KEYS: &str = "access/webhookkeys/";

/// Who a request acts as.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The account's name, or `key:<prefix>` for a service key.
    pub name: String,
    pub role: Role,
}

impl Principal {
    pub fn allows(&self, area: &str, write: bool) -> bool {
        self.role.allows(area, write)
    }

    /// The owner what this principal makes is recorded under (and admitted
    /// for): its name and its role as it is now.
    pub fn owner(&self) -> crate::model::Owner {
        crate::model::Owner {
            name: self.name.clone(),
            role: self.role.clone(),
        }
    }
}

/// Principals already authenticated, by the digest of their credentials.
type Cache = Arc<Mutex<HashMap<[u8; 32], Arc<Principal>>>>;

/// The access service over a store.
#[derive(Clone)]
pub struct Access {
    store: Arc<dyn Store>,
    /// Principals of service keys already seen, by key digest: every API
    /// call authenticates, and keys and roles change rarely. Cleared by
    /// every removal of a key, role or account.
    known: Cache,
    /// Principals of account credentials already verified, by the digest
    /// of username and password: argon2 costs milliseconds by design, too
    /// much for every request of a human using basic auth. Cleared with
    /// `known`.
    logins: Cache,
    /// Bumped by every change to accounts, roles and keys. A lookup reads
    /// it before it reads the store and caches what it found only if it
    /// has not moved meanwhile, so a credential removed while it was being
    /// looked up is never cached again.
    changes: Arc<std::sync::atomic::AtomicU64>,
    /// Password checks and failed-login limits.
    throttle: Arc<throttle::Throttle>,
    /// Where changes are recorded (Shipyard's `add-service-key`, ...).
    events: Option<EventLog>,
    /// The store is shared with other replicas, which change accounts,
    /// roles and keys too: every request reads its credential's record
    /// (a key deleted anywhere is refused everywhere at once), and the
    /// caches only spare the argon2 run of a password already verified
    /// against the same stored hash.
    shared: bool,
    /// The clock certificates are dated by.
    clock: Arc<dyn crate::clock::Clock>,
    /// How long new client certificates are valid.
    cert_lifetime: std::time::Duration,
    /// How long new login tokens are good for.
    token_lifetime: std::time::Duration,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access").finish_non_exhaustive()
    }
}

/// A random id in UUID form.
pub fn new_id() -> Result<String> {
    let k = hash_key(&new_key(32)?);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &k[0..8],
        &k[8..12],
        &k[12..16],
        &k[16..20],
        &k[20..32]
    ))
}

impl Access {
    pub fn new(store: Arc<dyn Store>) -> Self {
        let clock: Arc<dyn crate::clock::Clock> = Arc::new(crate::clock::SystemClock::new());
        Access {
            store,
            known: Default::default(),
            logins: Default::default(),
            changes: Default::default(),
            throttle: Arc::new(throttle::Throttle::new(clock.clone())),
            events: None,
            shared: false,
            clock,
            cert_lifetime: certs::DEFAULT_CERT_LIFETIME,
            token_lifetime: tokens::DEFAULT_TOKEN_LIFETIME,
        }
    }

    /// For a store shared with other replicas (see the field `shared`).
    pub fn shared(mut self) -> Self {
        self.shared = true;
        self
    }

    /// Forgets cached principals whenever another replica changes
    /// accounts, roles or keys, so that long-lived answers (event streams)
    /// that watch [`Access::generation`] check their caller again. Runs
    /// until the returned task is aborted.
    pub fn follow(&self) -> tokio::task::JoinHandle<()> {
        use futures::StreamExt;
        let access = self.clone();
        tokio::spawn(async move {
            let mut since: u64 = access.store.revision().await.unwrap_or_default();
            loop {
                match access.store.changes("access/", since).await {
                    Ok(mut stream) => {
                        while let Some(change) = stream.next().await {
                            match change {
                                Ok(c) => {
                                    since = since.max(c.revision);
                                    access.forget_principals();
                                }
                                Err(Error::WatchLost { revision, .. }) => {
                                    since = since.max(revision);
                                }
                                Err(_) => {}
                            }
                        }
                    }
                    Err(_) => {
                        // Compacted past `since`: whatever changed, forget.
                        access.forget_principals();
                        if let Ok(r) = access.store.revision().await {
                            since = r;
                        }
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        })
    }

    /// Counts failed-login windows and dates certificates by `clock`
    /// (tests drive it).
    pub fn with_clock(mut self, clock: Arc<dyn crate::clock::Clock>) -> Self {
        self.throttle = Arc::new(throttle::Throttle::new(clock.clone()));
        self.clock = clock;
        self
    }

    /// Records every change to accounts, roles and keys in the event log,
    /// tagged `cluster` and `security`.
    pub fn with_events(mut self, events: EventLog) -> Self {
        self.events = Some(events);
        self
    }

    async fn note(&self, kind: EventType, message: String) {
        if let Some(log) = &self.events {
            if let Err(e) = log
                .record(kind, message, &["cluster", "security"], None, None)
                .await
            {
                tracing::warn!(error = %e, "cannot record an access event");
            }
        }
    }

    /// Every document under `prefix`, decoded.
    async fn list<T: serde::de::DeserializeOwned>(&self, prefix: &str) -> Result<Vec<T>> {
        self.store
            .list(prefix)
            .await?
            .iter()
            .map(|v| v.json())
            .collect()
    }

    /// Stores a new document; one that exists already is `Error::Exists`.
    async fn create<T: Serialize>(&self, key: &str, value: &T, kind: &str, id: &str) -> Result<()> {
        put_json(self.store.as_ref(), key, value, Expect::Absent)
            .await
            .map(|_| ())
            .map_err(|e| match e {
                Error::Conflict { .. } => Error::Exists {
                    kind: kind.into(),
                    id: id.into(),
                },
                e => e,
            })
    }

    /// Forgets every cached principal: access changed in a way this
    /// replica cannot see the extent of (another replica's change).
    fn forget_principals(&self) {
        self.forget_principals_where(|_| true);
    }

    /// Forgets the cached principals that a change to a key, role or
    /// account touched (those for which `touched` holds), and keeps the
    /// others: one account's removal does not send every other caller's
    /// password through argon2 again. Called after the store was changed;
    /// the counter moves under the caches' locks, so a lookup that began
    /// before cannot cache what it found after this.
    fn forget_principals_where(&self, touched: impl Fn(&Principal) -> bool) {
        for cache in [&self.known, &self.logins] {
            let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
            self.changes
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            cache.retain(|_, p| !touched(p));
        }
    }

    /// A number that changes whenever accounts, roles or keys change (so a
    /// long-lived answer knows when to check its caller's credentials
    /// again).
    pub fn generation(&self) -> u64 {
        self.version()
    }

    /// The change counter, read before a lookup.
    fn version(&self) -> u64 {
        self.changes.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Caches a principal found by a lookup that began at `version`,
    /// unless access changed since.
    fn remember(&self, cache: &Cache, digest: [u8; 32], p: &Arc<Principal>, version: u64) {
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        if self.version() == version {
            cache.insert(digest, p.clone());
        }
    }

    /// Refuses to grant `role` to a key or an account unless everything it
    /// allows, `by` is allowed too.
    pub async fn check_grant(&self, by: &Principal, role: &str) -> Result<Role> {
        let role = self.role(role).await?;
        if !role.within(&by.role) {
            return Err(Error::Forbidden {
                reason: format!(
                    "{} may not grant the role {}: it allows more than {}'s own",
                    by.name, role.name, by.role.name
                ),
            });
        }
        Ok(role)
    }
}

#[cfg(test)]
mod tests;
