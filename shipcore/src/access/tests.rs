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
    let admin = a
        .by_password("admin", "s3cret", None)
        .await
        .unwrap()
        .unwrap();
    assert!(admin.allows("accounts", true));
    assert!(a
        .by_password("admin", "wrong", None)
        .await
        .unwrap()
        .is_none());
    assert!(a.by_password("nobody", "x", None).await.unwrap().is_none());

    a.create_account("foo", "bar", "user").await.unwrap();
    assert!(matches!(
        a.create_account("foo", "bar", "user").await,
        Err(Error::Exists { .. })
    ));
    // Verified credentials are remembered, and forgotten with the account.
    assert!(a.by_password("foo", "bar", None).await.unwrap().is_some());
    assert!(a.by_password("foo", "bar", None).await.unwrap().is_some());
    assert!(a.by_password("foo", "baz", None).await.unwrap().is_none());
    a.delete_account("foo").await.unwrap();
    assert!(a.by_password("foo", "bar", None).await.unwrap().is_none());
    a.create_account("foo", "other", "user").await.unwrap();
    assert!(a.by_password("foo", "bar", None).await.unwrap().is_none());
    assert!(a.by_password("foo", "other", None).await.unwrap().is_some());
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_deleted_while_it_is_looked_up_is_never_cached_again() {
    // Lookups keep coming while a (slow) delete is in flight: after the
    // delete returns, the key is refused, cached or not.
    let store = crate::store::FaultyStore::new(Arc::new(MemoryStore::new()));
    let a = Access::new(Arc::new(store.clone()));
    a.bootstrap(Some("pw".into())).await.unwrap();
    store.slow_writes("access/servicekeys/", std::time::Duration::from_millis(30));
    for _ in 0..5 {
        let key = a.create_service_key("k", "user").await.unwrap().key;
        assert!(a.by_service_key(&key).await.unwrap().is_some());
        let hammer = {
            let (a, key) = (a.clone(), key.clone());
            tokio::spawn(async move {
                for _ in 0..200 {
                    let _ = a.by_service_key(&key).await;
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        a.delete_service_key(&key).await.unwrap();
        assert!(a.cached_service_key(&key).is_none());
        assert!(a.by_service_key(&key).await.unwrap().is_none());
        hammer.await.unwrap();
        assert!(
            a.cached_service_key(&key).is_none(),
            "cached after its delete"
        );
        assert!(a.by_service_key(&key).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn a_removal_forgets_only_the_principals_it_touches() {
    // Churn of other accounts and keys does not send every caller's
    // password through argon2 again, and what was removed is refused.
    let a = Access::new(Arc::new(MemoryStore::new()));
    a.bootstrap(Some("adminpw1".into())).await.unwrap();
    a.create_role("ops", vec![]).await.unwrap();
    for (name, role) in [("alice", "user"), ("bob", "user"), ("carol", "ops")] {
        a.create_account(name, "secret-pw", role).await.unwrap();
    }
    let logins = |a: &Access| a.logins.lock().unwrap().len();
    for name in ["admin", "alice", "bob", "carol"] {
        let pw = if name == "admin" {
            "adminpw1"
        } else {
            "secret-pw"
        };
        assert!(a.by_password(name, pw, None).await.unwrap().is_some());
    }
    assert_eq!(logins(&a), 4);
    let k1 = a.create_service_key("k1", "user").await.unwrap().key;
    let k2 = a.create_service_key("k2", "user").await.unwrap().key;
    assert!(a.by_service_key(&k1).await.unwrap().is_some());
    assert!(a.by_service_key(&k2).await.unwrap().is_some());

    a.delete_service_key(&k1).await.unwrap();
    assert!(a.cached_service_key(&k1).is_none());
    assert!(a.cached_service_key(&k2).is_some());
    assert!(a.by_service_key(&k1).await.unwrap().is_none());
    assert_eq!(logins(&a), 4);

    a.delete_account("bob").await.unwrap();
    assert_eq!(logins(&a), 3);
    assert!(a
        .by_password("bob", "secret-pw", None)
        .await
        .unwrap()
        .is_none());
    assert!(a.cached_service_key(&k2).is_some());

    a.set_password("alice", "other-pw1").await.unwrap();
    assert_eq!(logins(&a), 2);
    assert!(a
        .by_password("alice", "secret-pw", None)
        .await
        .unwrap()
        .is_none());

    // A role goes only once no one holds it; what cached it is forgotten.
    a.delete_account("carol").await.unwrap();
    a.create_account("dave", "secret-pw", "ops").await.unwrap();
    assert!(a
        .by_password("dave", "secret-pw", None)
        .await
        .unwrap()
        .is_some());
    assert_eq!(logins(&a), 2);
    a.delete_account("dave").await.unwrap();
    a.delete_role("ops").await.unwrap();
    assert_eq!(logins(&a), 1, "admin's login stays cached");
    assert!(a.cached_service_key(&k2).is_some());
}

#[tokio::test]
async fn grants_stay_within_the_granters_role_and_used_roles_stay() {
    let a = Access::new(Arc::new(MemoryStore::new()));
    a.bootstrap(Some("pw".into())).await.unwrap();
    a.create_role(
        "keys",
        vec![
            "servicekeys:rw".to_string().try_into().unwrap(),
            "accounts:rw".to_string().try_into().unwrap(),
        ],
    )
    .await
    .unwrap();
    let manager = Principal {
        name: "key-manager".into(),
        role: a.role("keys").await.unwrap(),
    };
    for role in ["admin", "user"] {
        assert!(
            matches!(
                a.check_grant(&manager, role).await,
                Err(Error::Forbidden { .. })
            ),
            "{role}"
        );
    }
    a.check_grant(&manager, "keys").await.unwrap();
    // A role a key acts with is not deleted under it.
    a.create_role("watch", vec!["events:ro".to_string().try_into().unwrap()])
        .await
        .unwrap();
    let key = a.create_service_key("w", "watch").await.unwrap().key;
    assert!(matches!(
        a.delete_role("watch").await,
        Err(Error::Exists { .. })
    ));
    a.delete_service_key(&key).await.unwrap();
    a.delete_role("watch").await.unwrap();
}

/// Checks `cert` against `ca` as a TLS server checks a client: the chain,
/// the dates and the client-auth usage.
fn verify_client(ca: &str, cert: &str, at: u64) -> std::result::Result<(), webpki::Error> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, UnixTime};
    let ca = CertificateDer::from_pem_slice(ca.as_bytes()).unwrap();
    let cert = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
    let anchors = [webpki::anchor_from_trusted_cert(&ca).unwrap()];
    let ee = webpki::EndEntityCert::try_from(&cert).unwrap();
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &[],
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(at)),
        webpki::KeyUsage::client_auth(),
        None,
        None,
    )
    .map(|_| ())
}

#[tokio::test]
async fn client_certificates_from_the_cluster_ca() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let a = Access::new(store.clone());
    a.bootstrap(Some("s3cret".into())).await.unwrap();
    a.create_account("alice", "pw", "user").await.unwrap();
    let alice = a.by_password("alice", "pw", None).await.unwrap().unwrap();
    use crate::clock::Clock;
    let now = crate::clock::SystemClock::new().unix_secs();

    // The seed calls the endpoint three times (ca, cert, key): one set.
    let first = a.client_certificate("c1", &alice).await.unwrap();
    let again = a.client_certificate("c1", &alice).await.unwrap();
    assert_eq!(first.cert, again.cert);
    assert_eq!(first.key, again.key);
    assert_eq!(first.ca, a.ca_certificate("c1").await.unwrap());
    assert!(first.ca.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(first.key.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(!format!("{first:?}").contains("PRIVATE"), "no key in Debug");
    verify_client(&first.ca, &first.cert, now).unwrap();
    assert!(
        verify_client(&first.ca, &first.cert, first.expires + 1).is_err(),
        "expired after its lifetime"
    );
    // The CA's key is nowhere in what an account gets, nor in a record.
    let ca_doc = store.get("access/ca").await.unwrap().unwrap();
    let ca_key: serde_json::Value = ca_doc.json().unwrap();
    let ca_key = ca_key["key"].as_str().unwrap();
    assert!(ca_key.contains("PRIVATE KEY"));
    assert_ne!(first.key, ca_key);
    let records = a.certificates().await.unwrap();
    assert_eq!(records.len(), 1);
    assert!(!serde_json::to_string(&records).unwrap().contains("PRIVATE"));

    // Each account its own certificate; it stands for that account.
    let admin = a
        .by_password("admin", "s3cret", None)
        .await
        .unwrap()
        .unwrap();
    let admins = a.client_certificate("c1", &admin).await.unwrap();
    assert_ne!(admins.serial, first.serial);
    assert_eq!(admins.ca, first.ca, "one CA for the cluster");
    let p = a
        .certificate_principal(&first.serial)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.name, "alice");
    assert_eq!(p.role.name, "user");
    assert!(a.certificate_principal("00ff").await.unwrap().is_err());

    // A service key gets no certificate.
    let key = a.create_service_key("k", "user").await.unwrap();
    let kp = a.by_service_key(&key.key).await.unwrap().unwrap();
    assert!(matches!(
        a.client_certificate("c1", &kp).await,
        Err(Error::Forbidden { .. })
    ));

    // Revoked: stands for no one at once; the next request gets a new one.
    a.revoke_certificate(&first.serial).await.unwrap();
    let why = a
        .certificate_principal(&first.serial)
        .await
        .unwrap()
        .unwrap_err();
    assert!(why.contains("revoked"), "{why}");
    let renewed = a.client_certificate("c1", &alice).await.unwrap();
    assert_ne!(renewed.serial, first.serial);
    verify_client(&renewed.ca, &renewed.cert, now).unwrap();
    assert!(matches!(
        a.revoke_certificate("abcdef").await,
        Err(Error::Missing { .. })
    ));

    // Deleting the account revokes its certificates; an account made
    // later under the same name does not inherit them.
    a.delete_account("alice").await.unwrap();
    a.create_account("alice", "pw2", "user").await.unwrap();
    let why = a
        .certificate_principal(&renewed.serial)
        .await
        .unwrap()
        .unwrap_err();
    assert!(why.contains("revoked"), "{why}");
    assert!(a
        .certificates()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.subject == "alice")
        .all(|r| r.revoked.is_some()));
}

#[tokio::test]
async fn a_certificate_near_its_end_is_renewed_and_the_lifetime_is_configurable() {
    let clock = Arc::new(crate::clock::ManualClock::at(1_800_000_000));
    let a = Access::new(Arc::new(MemoryStore::new()))
        .with_clock(clock.clone())
        .with_cert_lifetime(std::time::Duration::from_secs(1000));
    a.bootstrap(Some("s3cret".into())).await.unwrap();
    let admin = a
        .by_password("admin", "s3cret", None)
        .await
        .unwrap()
        .unwrap();
    let first = a.client_certificate("c1", &admin).await.unwrap();
    let issued = a.certificates().await.unwrap()[0].issued;
    assert_eq!(first.expires, issued + 1000);
    clock.advance(std::time::Duration::from_secs(850));
    assert_eq!(
        a.client_certificate("c1", &admin).await.unwrap().serial,
        first.serial
    );
    clock.advance(std::time::Duration::from_secs(100));
    let renewed = a.client_certificate("c1", &admin).await.unwrap();
    assert_ne!(
        renewed.serial, first.serial,
        "a tenth of its lifetime left: renewed"
    );
    // The old one still stands until it expires.
    assert!(a
        .certificate_principal(&first.serial)
        .await
        .unwrap()
        .is_ok());
    clock.advance(std::time::Duration::from_secs(60));
    let why = a
        .certificate_principal(&first.serial)
        .await
        .unwrap()
        .unwrap_err();
    assert!(why.contains("expired"), "{why}");
}
