//! The access service over a memory store.

use super::*;
use crate::error::Error;
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

#[tokio::test]
async fn keys_are_deleted_by_what_the_list_shows() {
    let store = Arc::new(MemoryStore::new());
    let a = Access::new(store.clone());
    a.bootstrap(Some("pw".into())).await.unwrap();
    let k1 = a.create_service_key("one", "user").await.unwrap().key;
    let shown = a.service_keys().await.unwrap()[0].key.clone();
    assert!(shown.ends_with('…') && k1.starts_with(shown.trim_end_matches('…')));
    for short in [&k1[..5], &k1[..8], "", "…"] {
        assert!(
            matches!(
                a.delete_service_key(short).await,
                Err(Error::Missing { .. })
            ),
            "{short:?} names no key"
        );
    }
    a.delete_service_key(&shown).await.unwrap();
    assert!(a.by_service_key(&k1).await.unwrap().is_none());
    let k2 = a.create_service_key("two", "user").await.unwrap().key;
    a.delete_service_key(&k2[..6]).await.unwrap();
    assert!(a.service_keys().await.unwrap().is_empty());

    // Two keys listed alike: the prefix is refused, the whole key works.
    for (hash, key) in [("h1", "AAAAAAxxx"), ("h2", "AAAAAAyyy")] {
        let stored = keys::StoredKey {
            hash: hash_key(key),
            prefix: "AAAAAA…".into(),
            description: hash.into(),
            role: "user".into(),
        };
        put_json(
            store.as_ref(),
            &format!("{SERVICE_KEYS}{}", stored.hash),
            &stored,
            Expect::Absent,
        )
        .await
        .unwrap();
    }
    assert!(matches!(
        a.delete_service_key("AAAAAA…").await,
        Err(Error::Ambiguous { count: 2, .. })
    ));
    a.delete_service_key("AAAAAAxxx").await.unwrap();
    a.delete_service_key("AAAAAA").await.unwrap();
    assert!(a.service_keys().await.unwrap().is_empty());

    // Webhook keys: by id, id prefix, listed prefix or key.
    let h1 = a.create_webhook_key("app").await.unwrap();
    let h2 = a.create_webhook_key("app").await.unwrap();
    let h3 = a.create_webhook_key("app").await.unwrap();
    a.delete_webhook_key(&h1.id[..8]).await.unwrap();
    a.delete_webhook_key(&h2.key[..6]).await.unwrap();
    assert!(matches!(
        a.delete_webhook_key("abc").await,
        Err(Error::Invalid { .. })
    ));
    let listed = a.webhook_keys().await.unwrap();
    assert_eq!(listed.len(), 1);
    a.delete_webhook_key(&listed[0].key).await.unwrap();
    assert_eq!(a.webhook(&h3.key).await.unwrap(), None);
    assert!(a.create_webhook_key("Bad Image").await.is_err());
}
