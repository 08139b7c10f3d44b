//! Who may use the cluster: accounts with argon2 password hashes, roles as
//! named permission sets, service keys and webhook keys stored only as
//! hashes (each shown once, at creation), and authentication of a request's
//! credentials to a [`Principal`].

mod secret;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use secret::{hash_key, hash_password, new_key, same, verify_password};

use crate::error::{Error, Result};
use crate::model::{Account, Permission, Role, RoleRef, ServiceKey, WebhookKey};
use crate::store::{get_json, put_json, Expect, Store};

const ACCOUNTS: &str = "access/accounts/";
const ROLES: &str = "access/roles/";
const SERVICE_KEYS: &str = "access/servicekeys/";
const WEBHOOK_KEYS: &str = "access/webhookkeys/";

/// How many characters of a key are kept in the clear, to tell keys apart.
const SHOWN: usize = 6;

/// A stored service key: its hash, a short prefix, and the role it acts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredKey {
    hash: String,
    prefix: String,
    description: String,
    role: String,
}

/// A stored webhook key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredWebhook {
    id: String,
    hash: String,
    prefix: String,
    image: String,
}

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
}

/// The access service over a store.
#[derive(Clone)]
pub struct Access {
    store: Arc<dyn Store>,
    /// Principals of service keys already seen, by key hash: every API call
    /// authenticates, and keys and roles change rarely. Cleared by every
    /// removal of a key, role or account.
    known: Arc<std::sync::Mutex<std::collections::HashMap<[u8; 32], Arc<Principal>>>>,
    /// Principals of account credentials already verified, by the SHA-256
    /// of username and password: argon2 costs milliseconds by design, too
    /// much for every request of a human using basic auth. Cleared with
    /// `known`, and when an account is removed.
    logins: Arc<std::sync::Mutex<std::collections::HashMap<[u8; 32], Arc<Principal>>>>,
    /// Where changes are recorded (Shipyard's `add-service-key`, ...).
    events: Option<crate::cluster::EventLog>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access").finish_non_exhaustive()
    }
}

/// A random id in UUID form.
fn new_id() -> Result<String> {
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

fn shown(key: &str) -> String {
    format!("{}…", key.chars().take(SHOWN).collect::<String>())
}

impl Access {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Access {
            store,
            known: Default::default(),
            logins: Default::default(),
            events: None,
        }
    }

    /// Records every change to accounts, roles and keys in the cluster's
    /// event log, tagged `cluster` and `security`.
    pub fn with_events(mut self, events: crate::cluster::EventLog) -> Self {
        self.events = Some(events);
        self
    }

    async fn note(&self, kind: crate::model::EventType, message: String) {
        if let Some(log) = &self.events {
            if let Err(e) = log
                .record(kind, message, &["cluster", "security"], None, None)
                .await
            {
                tracing::warn!(error = %e, "cannot record an access event");
            }
        }
    }

    /// On first start: the built-in roles and an `admin` account. Returns the
    /// admin password when the account was created now (`password`, or a
    /// random one when `None`), so it can be shown once.
    pub async fn bootstrap(&self, password: Option<String>) -> Result<Option<String>> {
        for name in ["admin", "user"] {
            if get_json::<Role>(self.store.as_ref(), &format!("{ROLES}{name}"))
                .await?
                .is_none()
            {
                let role = Role {
                    id: new_id()?,
                    name: name.into(),
                    permissions: Vec::new(),
                };
                put_json(
                    self.store.as_ref(),
                    &format!("{ROLES}{name}"),
                    &role,
                    Expect::Absent,
                )
                .await?;
            }
        }
        if !self.store.list(ACCOUNTS).await?.is_empty() {
            return Ok(None);
        }
        let password = match password {
            Some(p) if !p.is_empty() => p,
            _ => new_key(20)?,
        };
        self.create_account("admin", &password, "admin").await?;
        Ok(Some(password))
    }

    pub async fn accounts(&self) -> Result<Vec<Account>> {
        self.list(ACCOUNTS).await
    }

    pub async fn create_account(
        &self,
        username: &str,
        password: &str,
        role: &str,
    ) -> Result<Account> {
        if password.is_empty() {
            return Err(Error::invalid("password", "must not be empty"));
        }
        let role = self.role(role).await?;
        let account = Account {
            id: new_id()?,
            username: username.into(),
            password: hash_password(password)?,
            role: RoleRef {
                name: role.name,
                id: role.id,
            },
        };
        account.validate()?;
        self.create(
            &format!("{ACCOUNTS}{username}"),
            &account,
            "account",
            username,
        )
        .await?;
        self.note(
            crate::model::EventType::AddAccount,
            format!("username={username}"),
        )
        .await;
        Ok(account)
    }

    pub async fn delete_account(&self, username: &str) -> Result<()> {
        match self
            .store
            .delete(&format!("{ACCOUNTS}{username}"), Expect::Any)
            .await?
        {
            Some(_) => {
                self.forget_principals();
                self.note(
                    crate::model::EventType::RemoveAccount,
                    format!("username={username}"),
                )
                .await;
                Ok(())
            }
            None => Err(Error::missing("account", username)),
        }
    }

    pub async fn roles(&self) -> Result<Vec<Role>> {
        self.list(ROLES).await
    }

    pub async fn role(&self, name: &str) -> Result<Role> {
        get_json::<Role>(self.store.as_ref(), &format!("{ROLES}{name}"))
            .await?
            .map(|(r, _)| r)
            .ok_or_else(|| Error::missing("role", name))
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

    fn forget_principals(&self) {
        if let Ok(mut known) = self.known.lock() {
            known.clear();
        }
        if let Ok(mut logins) = self.logins.lock() {
            logins.clear();
        }
    }

    pub async fn create_role(&self, name: &str, permissions: Vec<Permission>) -> Result<Role> {
        crate::model::validate_name("name", name)?;
        let role = Role {
            id: new_id()?,
            name: name.into(),
            permissions,
        };
        self.create(&format!("{ROLES}{name}"), &role, "role", name)
            .await?;
        self.note(crate::model::EventType::AddRole, format!("name={name}"))
            .await;
        Ok(role)
    }

    /// Deletes a role no account uses; the built-in ones stay.
    pub async fn delete_role(&self, name: &str) -> Result<()> {
        if name == "admin" || name == "user" {
            return Err(Error::invalid(
                "name",
                format!("the built-in role {name} cannot be deleted"),
            ));
        }
        self.role(name).await?;
        if self.accounts().await?.iter().any(|a| a.role.name == name) {
            return Err(Error::Exists {
                kind: "account with role".into(),
                id: name.into(),
            });
        }
        self.store
            .delete(&format!("{ROLES}{name}"), Expect::Any)
            .await?;
        self.forget_principals();
        self.note(crate::model::EventType::RemoveRole, format!("name={name}"))
            .await;
        Ok(())
    }

    /// Service keys as listed: the description and the first characters.
    pub async fn service_keys(&self) -> Result<Vec<ServiceKey>> {
        let stored: Vec<StoredKey> = self.list(SERVICE_KEYS).await?;
        Ok(stored
            .into_iter()
            .map(|k| ServiceKey {
                key: k.prefix,
                description: k.description,
            })
            .collect())
    }

    /// Makes a key acting with `role`; the returned key is the only time it
    /// is shown in full.
    pub async fn create_service_key(&self, description: &str, role: &str) -> Result<ServiceKey> {
        self.role(role).await?;
        let key = new_key(36)?;
        let stored = StoredKey {
            hash: hash_key(&key),
            prefix: shown(&key),
            description: description.into(),
            role: role.into(),
        };
        put_json(
            self.store.as_ref(),
            &format!("{SERVICE_KEYS}{}", stored.hash),
            &stored,
            Expect::Absent,
        )
        .await?;
        self.note(
            crate::model::EventType::AddServiceKey,
            format!("description={description}"),
        )
        .await;
        Ok(ServiceKey {
            key,
            description: description.into(),
        })
    }

    pub async fn delete_service_key(&self, key: &str) -> Result<()> {
        self.forget_principals();
        match self
            .store
            .delete(&format!("{SERVICE_KEYS}{}", hash_key(key)), Expect::Any)
            .await?
        {
            Some(_) => {
                self.note(
                    crate::model::EventType::RemoveServiceKey,
                    format!("key={}", shown(key)),
                )
                .await;
                Ok(())
            }
            None => Err(Error::missing("service key", shown(key))),
        }
    }

    pub async fn webhook_keys(&self) -> Result<Vec<WebhookKey>> {
        let stored: Vec<StoredWebhook> = self.list(WEBHOOK_KEYS).await?;
        Ok(stored
            .into_iter()
            .map(|w| WebhookKey {
                id: w.id,
                image: w.image,
                key: w.prefix,
            })
            .collect())
    }

    pub async fn create_webhook_key(&self, image: &str) -> Result<WebhookKey> {
        if image.trim().is_empty() || image.chars().any(char::is_whitespace) {
            return Err(Error::invalid(
                "image",
                "an image name without whitespace is required",
            ));
        }
        let key = new_key(16)?;
        let stored = StoredWebhook {
            id: new_id()?,
            hash: hash_key(&key),
            prefix: shown(&key),
            image: image.into(),
        };
        put_json(
            self.store.as_ref(),
            &format!("{WEBHOOK_KEYS}{}", stored.hash),
            &stored,
            Expect::Absent,
        )
        .await?;
        self.note(
            crate::model::EventType::AddWebhookKey,
            format!("image={image}"),
        )
        .await;
        Ok(WebhookKey {
            id: stored.id,
            image: image.into(),
            key,
        })
    }

    /// Deletes a webhook key by its id or by the key itself.
    pub async fn delete_webhook_key(&self, id_or_key: &str) -> Result<()> {
        if self
            .store
            .delete(
                &format!("{WEBHOOK_KEYS}{}", hash_key(id_or_key)),
                Expect::Any,
            )
            .await?
            .is_some()
        {
            self.note(
                crate::model::EventType::RemoveWebhookKey,
                format!("key={}", shown(id_or_key)),
            )
            .await;
            return Ok(());
        }
        for v in self.store.list(WEBHOOK_KEYS).await? {
            let w: StoredWebhook = v.json()?;
            if w.id == id_or_key {
                self.store
                    .delete(&v.key, Expect::Revision(v.revision))
                    .await?;
                self.note(
                    crate::model::EventType::RemoveWebhookKey,
                    format!("id={id_or_key}"),
                )
                .await;
                return Ok(());
            }
        }
        Err(Error::missing("webhook key", id_or_key))
    }

    /// The image a webhook key may redeploy.
    pub async fn webhook(&self, key: &str) -> Result<Option<String>> {
        let found = get_json::<StoredWebhook>(
            self.store.as_ref(),
            &format!("{WEBHOOK_KEYS}{}", hash_key(key)),
        )
        .await?;
        Ok(found.map(|(w, _)| w.image))
    }

    /// The principal of a service key already seen since the last change to
    /// keys or roles, without touching the store (None: not cached, ask
    /// [`Access::by_service_key`]).
    pub fn cached_service_key(&self, key: &str) -> Option<Arc<Principal>> {
        self.known_by_digest(&secret::key_digest(key))
    }

    fn known_by_digest(&self, digest: &[u8; 32]) -> Option<Arc<Principal>> {
        self.known.lock().ok()?.get(digest).cloned()
    }

    /// The principal of a service key, if the key is known.
    pub async fn by_service_key(&self, key: &str) -> Result<Option<Arc<Principal>>> {
        let digest = secret::key_digest(key);
        if let Some(p) = self.known_by_digest(&digest) {
            return Ok(Some(p));
        }
        let hash = secret::hex(&digest);
        let Some((stored, _)) =
            get_json::<StoredKey>(self.store.as_ref(), &format!("{SERVICE_KEYS}{hash}")).await?
        else {
            return Ok(None);
        };
        // The lookup found it by hash; compare again in constant time.
        if !same(stored.hash.as_bytes(), hash.as_bytes()) {
            return Ok(None);
        }
        let principal = Arc::new(Principal {
            name: format!("key:{}", stored.prefix),
            role: self.role(&stored.role).await?,
        });
        if let Ok(mut known) = self.known.lock() {
            known.insert(digest, principal.clone());
        }
        Ok(Some(principal))
    }

    /// The principal of an account's credentials, if they match.
    pub async fn by_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Arc<Principal>>> {
        let login = secret::key_digest(&format!("{}:{username}:{password}", username.len()));
        if let Some(p) = self.logins.lock().ok().and_then(|l| l.get(&login).cloned()) {
            return Ok(Some(p));
        }
        let Some((account, _)) =
            get_json::<Account>(self.store.as_ref(), &format!("{ACCOUNTS}{username}")).await?
        else {
            // Spend the same time as a wrong password, so names cannot be probed.
            let _ = verify_password(password, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$YmFkYmFkYmFkYmFkYmFkYmFkYmFkYmFkYmFkYmFkYmE");
            return Ok(None);
        };
        if !verify_password(password, &account.password) {
            return Ok(None);
        }
        let principal = Arc::new(Principal {
            name: account.username,
            role: self.role(&account.role.name).await?,
        });
        if let Ok(mut logins) = self.logins.lock() {
            logins.insert(login, principal.clone());
        }
        Ok(Some(principal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn accounts_keys_and_roles() {
        let a = Access::new(Arc::new(MemoryStore::new()));
        let pw = a.bootstrap(Some("s3cret".into())).await.unwrap();
        assert_eq!(pw.as_deref(), Some("s3cret"));
        assert_eq!(
            a.bootstrap(None).await.unwrap(),
            None,
            "second start creates nothing"
        );
        let admin = a.by_password("admin", "s3cret").await.unwrap().unwrap();
        assert!(admin.allows("accounts", true));
        assert!(a.by_password("admin", "wrong").await.unwrap().is_none());
        assert!(a.by_password("nobody", "x").await.unwrap().is_none());

        a.create_account("foo", "bar", "user").await.unwrap();
        assert!(matches!(
            a.create_account("foo", "bar", "user").await,
            Err(Error::Exists { .. })
        ));
        // Verified credentials are remembered, and forgotten with the account.
        assert!(a.by_password("foo", "bar").await.unwrap().is_some());
        assert!(a.by_password("foo", "bar").await.unwrap().is_some());
        assert!(a.by_password("foo", "baz").await.unwrap().is_none());
        a.delete_account("foo").await.unwrap();
        assert!(a.by_password("foo", "bar").await.unwrap().is_none());
        a.create_account("foo", "other", "user").await.unwrap();
        assert!(a.by_password("foo", "bar").await.unwrap().is_none());
        assert!(a.by_password("foo", "other").await.unwrap().is_some());
        assert!(matches!(
            a.create_account("x", "y", "nope").await,
            Err(Error::Missing { .. })
        ));
        let listed = a.accounts().await.unwrap();
        assert!(listed
            .iter()
            .all(|acc| acc.password.starts_with("$argon2id$")));

        let key = a.create_service_key("demo", "user").await.unwrap();
        assert_eq!(key.key.len(), 36);
        let p = a.by_service_key(&key.key).await.unwrap().unwrap();
        assert!(p.allows("containers", true) && !p.allows("servicekeys", false));
        let listed = a.service_keys().await.unwrap();
        assert_eq!(listed[0].description, "demo");
        assert!(
            !listed[0].key.contains(&key.key),
            "the key is not shown again"
        );
        a.delete_service_key(&key.key).await.unwrap();
        assert!(a.by_service_key(&key.key).await.unwrap().is_none());

        let hook = a.create_webhook_key("ehazlett/redis").await.unwrap();
        assert_eq!(
            a.webhook(&hook.key).await.unwrap().as_deref(),
            Some("ehazlett/redis")
        );
        a.delete_webhook_key(&hook.id).await.unwrap();
        assert_eq!(a.webhook(&hook.key).await.unwrap(), None);

        a.create_role(
            "viewer",
            vec!["containers:ro".to_string().try_into().unwrap()],
        )
        .await
        .unwrap();
        assert!(a.delete_role("admin").await.is_err());
        a.create_account("v", "pw", "viewer").await.unwrap();
        assert!(a.delete_role("viewer").await.is_err(), "in use");
        a.delete_account("v").await.unwrap();
        a.delete_role("viewer").await.unwrap();
    }
}
