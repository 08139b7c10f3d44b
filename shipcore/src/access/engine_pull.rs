//! The credentials the cluster's engines use with shipd's registry: to
//! pull, the reserved username [`ENGINE_USER`] and a random password kept in
//! the store (so that every replica knows the same one), good for reading
//! the registry and nothing else; to push what a build project built,
//! [`BUILDER_USER`] and a password of its own, good for reading and writing
//! the registry and nothing else. They are handed to an engine in the pull
//! or push request itself; they are never logged nor shown by the API.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{new_key, secret, Access, Principal};
use crate::error::{Error, Result};
use crate::model::{Permission, Role, BUILDER_USER, ENGINE_USER};
use crate::store::{get_json, put_json, Expect};

const ENGINE_PULL: &str = "access/engine-pull";
const BUILDER_PUSH: &str = "access/builder-push";

#[derive(Serialize, Deserialize)]
struct Stored {
    secret: String,
}

impl Access {
    /// The password engines pull with, made at its first use.
    pub async fn engine_pull_secret(&self) -> Result<String> {
        self.reserved_secret(ENGINE_PULL).await
    }

    /// Replaces the engines' password: the old one is refused at once, and
    /// pulls use the new one once the cluster's credentials are set again.
    pub async fn rotate_engine_pull_secret(&self) -> Result<String> {
        self.rotate_reserved_secret(ENGINE_PULL).await
    }

    /// The password engines push built images with, made at its first use.
    pub async fn builder_push_secret(&self) -> Result<String> {
        self.reserved_secret(BUILDER_PUSH).await
    }

    /// Replaces the builder's password; the old one is refused at once.
    pub async fn rotate_builder_push_secret(&self) -> Result<String> {
        self.rotate_reserved_secret(BUILDER_PUSH).await
    }

    async fn reserved_secret(&self, key: &str) -> Result<String> {
        loop {
            if let Some((s, _)) = get_json::<Stored>(self.store.as_ref(), key).await? {
                return Ok(s.secret);
            }
            let made = Stored {
                secret: new_key(40)?,
            };
            match put_json(self.store.as_ref(), key, &made, Expect::Absent).await {
                Ok(_) => return Ok(made.secret),
                // Another replica made it first: take theirs.
                Err(Error::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    async fn rotate_reserved_secret(&self, key: &str) -> Result<String> {
        let made = Stored {
            secret: new_key(40)?,
        };
        put_json(self.store.as_ref(), key, &made, Expect::Any).await?;
        Ok(made.secret)
    }

    async fn reserved_principal(
        &self,
        key: &str,
        password: &str,
        name: &str,
        role: &str,
        write: bool,
    ) -> Result<Option<Arc<Principal>>> {
        let Some((s, _)) = get_json::<Stored>(self.store.as_ref(), key).await? else {
            return Ok(None);
        };
        if !secret::same(s.secret.as_bytes(), password.as_bytes()) {
            return Ok(None);
        }
        Ok(Some(Arc::new(Principal {
            name: name.to_string(),
            role: Role {
                id: String::new(),
                name: role.into(),
                permissions: vec![Permission {
                    area: "registry".into(),
                    write,
                }],
            },
        })))
    }

    /// The engines' principal, when `password` is their password.
    pub(super) async fn engine_principal(&self, password: &str) -> Result<Option<Arc<Principal>>> {
        self.reserved_principal(ENGINE_PULL, password, ENGINE_USER, "engine-pull", false)
            .await
    }

    /// The builder's principal, when `password` is its password.
    pub(super) async fn builder_principal(&self, password: &str) -> Result<Option<Arc<Principal>>> {
        self.reserved_principal(BUILDER_PUSH, password, BUILDER_USER, "builder-push", true)
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn engines_read_the_registry_with_their_password_only() {
        let access = Access::new(Arc::new(MemoryStore::new()));
        access.bootstrap(Some("admin-pw".into())).await.unwrap();
        let secret = access.engine_pull_secret().await.unwrap();
        assert_eq!(access.engine_pull_secret().await.unwrap(), secret);
        let p = access
            .by_password(ENGINE_USER, &secret, None)
            .await
            .unwrap()
            .unwrap();
        assert!(p.allows("registry", false));
        assert!(!p.allows("registry", true));
        assert!(!p.allows("containers", false));
        assert!(access
            .by_password(ENGINE_USER, "guess", None)
            .await
            .unwrap()
            .is_none());
        let rotated = access.rotate_engine_pull_secret().await.unwrap();
        assert_ne!(rotated, secret);
        assert!(access
            .by_password(ENGINE_USER, &secret, None)
            .await
            .unwrap()
            .is_none());
        assert!(access
            .create_account(ENGINE_USER, "a-password", "user")
            .await
            .is_err());
    }

    #[tokio::test]
    async fn the_builder_pushes_with_its_own_password_only() {
        let access = Access::new(Arc::new(MemoryStore::new()));
        access.bootstrap(Some("admin-pw".into())).await.unwrap();
        let pull = access.engine_pull_secret().await.unwrap();
        let push = access.builder_push_secret().await.unwrap();
        assert_ne!(pull, push);
        let p = access
            .by_password(BUILDER_USER, &push, None)
            .await
            .unwrap()
            .unwrap();
        assert!(p.allows("registry", true));
        assert!(!p.allows("builds", false));
        // Each password goes with its own name only.
        for (user, pw) in [(BUILDER_USER, &pull), (ENGINE_USER, &push)] {
            assert!(access.by_password(user, pw, None).await.unwrap().is_none());
        }
        let rotated = access.rotate_builder_push_secret().await.unwrap();
        assert!(access
            .by_password(BUILDER_USER, &push, None)
            .await
            .unwrap()
            .is_none());
        assert!(access
            .by_password(BUILDER_USER, &rotated, None)
            .await
            .unwrap()
            .is_some());
        assert!(access
            .create_account(BUILDER_USER, "a-password", "user")
            .await
            .is_err());
    }
}
