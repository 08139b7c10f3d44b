//! The credentials the cluster's engines pull images from shipd's registry
//! with: the reserved username [`ENGINE_USER`] and a random password kept in
//! the store (so that every replica knows the same one), good for reading
//! the registry and nothing else. The cluster hands them to an engine in the
//! pull request itself; they are never logged nor shown by the API.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{new_key, secret, Access, Principal};
use crate::error::{Error, Result};
use crate::model::{Permission, Role, ENGINE_USER};
use crate::store::{get_json, put_json, Expect};

const ENGINE_PULL: &str = "access/engine-pull";

#[derive(Serialize, Deserialize)]
struct Stored {
    secret: String,
}

impl Access {
    /// The password engines pull with, made at its first use.
    pub async fn engine_pull_secret(&self) -> Result<String> {
        loop {
            if let Some((s, _)) = get_json::<Stored>(self.store.as_ref(), ENGINE_PULL).await? {
                return Ok(s.secret);
            }
            let made = Stored {
                secret: new_key(40)?,
            };
            match put_json(self.store.as_ref(), ENGINE_PULL, &made, Expect::Absent).await {
                Ok(_) => return Ok(made.secret),
                // Another replica made it first: take theirs.
                Err(Error::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Replaces the engines' password: the old one is refused at once, and
    /// pulls use the new one once the cluster's credentials are set again.
    pub async fn rotate_engine_pull_secret(&self) -> Result<String> {
        let made = Stored {
            secret: new_key(40)?,
        };
        put_json(self.store.as_ref(), ENGINE_PULL, &made, Expect::Any).await?;
        Ok(made.secret)
    }

    /// The engines' principal, when `password` is their password.
    pub(super) async fn engine_principal(&self, password: &str) -> Result<Option<Arc<Principal>>> {
        let Some((s, _)) = get_json::<Stored>(self.store.as_ref(), ENGINE_PULL).await? else {
            return Ok(None);
        };
        if !secret::same(s.secret.as_bytes(), password.as_bytes()) {
            return Ok(None);
        }
        Ok(Some(Arc::new(Principal {
            name: ENGINE_USER.to_string(),
            role: Role {
                id: String::new(),
                name: "engine-pull".into(),
                permissions: vec![Permission {
                    area: "registry".into(),
                    write: false,
                }],
            },
        })))
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
}
