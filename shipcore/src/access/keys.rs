//! Service keys (`X-Service-Key`) and webhook keys (Docker Hub's webhook),
//! stored only as SHA-256 hashes with the first characters kept for
//! listing. A key is shown whole once, at creation; afterwards a client that
//! lists and then deletes names it by what the list shows (`abcdef…`, or its
//! first six characters), or a webhook key by its id or an id prefix of at
//! least six characters. A prefix that matches two keys is refused as
//! ambiguous rather than deleting either.

use serde::{Deserialize, Serialize};

use super::{hash_key, new_id, new_key, Access, SERVICE_KEYS, WEBHOOK_KEYS};
use crate::error::{Error, Result};
use crate::model::{EventType, ServiceKey, WebhookKey};
use crate::store::{get_json, put_json, Expect, Versioned};

/// How many characters of a key are kept in the clear, to tell keys apart;
/// also the shortest prefix deletion accepts.
pub const SHOWN: usize = 6;

/// A stored service key: its hash, a short prefix, and the role it acts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct StoredKey {
    pub hash: String,
    pub prefix: String,
    pub description: String,
    pub role: String,
}

/// A stored webhook key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct StoredWebhook {
    pub id: String,
    pub hash: String,
    pub prefix: String,
    pub image: String,
}

/// How a key is listed: its first characters and an ellipsis.
pub(super) fn shown(key: &str) -> String {
    format!("{}…", key.chars().take(SHOWN).collect::<String>())
}

/// The prefix a client gave for a listed key, without the ellipsis, if it
/// can name one (exactly the shown characters).
fn listed_prefix(given: &str) -> Option<&str> {
    let p = given.trim_end_matches('…');
    (p.chars().count() == SHOWN).then_some(p)
}

/// The one stored document among `candidates`, or why there is not one.
fn only_one(candidates: Vec<Versioned>, kind: &str, given: &str) -> Result<Versioned> {
    let count = candidates.len();
    let mut it = candidates.into_iter();
    match (it.next(), count) {
        (Some(v), 1) => Ok(v),
        (None, _) => Err(Error::missing(kind, shown(given))),
        _ => Err(Error::Ambiguous {
            kind: kind.into(),
            prefix: given.into(),
            count,
        }),
    }
}

impl Access {
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

    /// The roles service keys act with.
    pub(super) async fn key_roles(&self) -> Result<Vec<String>> {
        let stored: Vec<StoredKey> = self.list(SERVICE_KEYS).await?;
        Ok(stored.into_iter().map(|k| k.role).collect())
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
            EventType::AddServiceKey,
            format!("description={description}"),
        )
        .await;
        Ok(ServiceKey {
            key,
            description: description.into(),
        })
    }

    /// Deletes a service key named by the whole key or by its listed prefix.
    pub async fn delete_service_key(&self, given: &str) -> Result<()> {
        let found = match self
            .store
            .get(&format!("{SERVICE_KEYS}{}", hash_key(given)))
            .await?
        {
            Some(v) => v,
            None => {
                let candidates = match listed_prefix(given) {
                    Some(p) => {
                        self.matching(SERVICE_KEYS, |k: &StoredKey| {
                            k.prefix.trim_end_matches('…') == p
                        })
                        .await?
                    }
                    None => Vec::new(),
                };
                only_one(candidates, "service key", given)?
            }
        };
        let stored: StoredKey = found.json()?;
        self.store
            .delete(&found.key, Expect::Revision(found.revision))
            .await?;
        // After the delete: a request that looked the key up before it
        // could otherwise cache it again in between.
        let name = format!("key:{}", stored.prefix);
        self.forget_principals_where(|p| p.name == name);
        self.note(
            EventType::RemoveServiceKey,
            format!("key={}", stored.prefix),
        )
        .await;
        Ok(())
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
        crate::model::ImageRef::parse(image).map_err(|e| match e {
            Error::Invalid { reason, .. } => Error::invalid("image", reason),
            e => e,
        })?;
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
        self.note(EventType::AddWebhookKey, format!("image={image}"))
            .await;
        Ok(WebhookKey {
            id: stored.id,
            image: image.into(),
            key,
        })
    }

    /// Deletes a webhook key named by the key, its listed prefix, its id or
    /// an id prefix of at least six characters.
    pub async fn delete_webhook_key(&self, given: &str) -> Result<()> {
        let found = match self
            .store
            .get(&format!("{WEBHOOK_KEYS}{}", hash_key(given)))
            .await?
        {
            Some(v) => v,
            None => {
                if given.chars().count() < SHOWN {
                    return Err(Error::invalid(
                        "id",
                        format!("give the key, its id, or at least {SHOWN} characters of either"),
                    ));
                }
                let prefix = listed_prefix(given);
                let candidates = self
                    .matching(WEBHOOK_KEYS, |w: &StoredWebhook| {
                        w.id.starts_with(given)
                            || prefix.is_some_and(|p| w.prefix.trim_end_matches('…') == p)
                    })
                    .await?;
                only_one(candidates, "webhook key", given)?
            }
        };
        let stored: StoredWebhook = found.json()?;
        self.store
            .delete(&found.key, Expect::Revision(found.revision))
            .await?;
        self.note(
            EventType::RemoveWebhookKey,
            format!("id={} image={}", stored.id, stored.image),
        )
        .await;
        Ok(())
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

    /// The stored documents under `prefix` whose decoded value passes `keep`.
    async fn matching<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &str,
        keep: impl Fn(&T) -> bool,
    ) -> Result<Vec<Versioned>> {
        let mut out = Vec::new();
        for v in self.store.list(prefix).await? {
            if keep(&v.json::<T>()?) {
                out.push(v);
            }
        }
        Ok(out)
    }
}
