//! The cluster's certificate authority and the client certificates it signs
//! for accounts (seed 003's `GET /clusters/{name}/certs`).
//!
//! The CA (ECDSA P-256, self-signed, ten years) is made at the first call
//! and kept in the store; its private key never leaves this module. Each
//! account has one current client certificate, kept with its key so that
//! the seed's three calls (`jq -r .ca`, `.cert`, `.key`) get one matching
//! set; it is renewed once less than a tenth of its lifetime is left.
//! Every certificate issued is recorded by serial: a certificate is valid
//! while its record is neither revoked nor expired and its account exists
//! ([`Access::certificate_principal`]), so a revocation or an account's
//! deletion takes effect at the next check.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use serde::{Deserialize, Serialize};

use super::{new_key, Access, Principal, ACCOUNTS};
use crate::error::{Error, Result};
use crate::model::{Account, EventType};
use crate::store::{get_json, put_json, Expect, Op};

const CA: &str = "access/ca";
/// Every certificate issued, by serial (hex).
const ISSUED: &str = "access/certs/";
/// Each account's current client certificate with its key, by username.
const CURRENT: &str = "access/clientcerts/";

/// How long the CA is valid.
const CA_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// How long client certificates are valid unless configured.
pub const DEFAULT_CERT_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);
/// Certificates start this long before they are made, for clocks that lag.
const BACKDATE: Duration = Duration::from_secs(300);

/// The stored CA. Never serialised into an answer.
#[derive(Serialize, Deserialize)]
struct CaDoc {
    /// The cluster identity it was made for (its subject's organisation).
    cluster: String,
    cert: String,
    key: String,
    created: u64,
}

/// An account's current client certificate, with its key.
#[derive(Serialize, Deserialize)]
struct CurrentDoc {
    serial: String,
    cert: String,
    key: String,
    issued: u64,
    expires: u64,
}

/// The record of one issued certificate (no key in it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCert {
    /// Lower-case hex.
    pub serial: String,
    /// The account it was issued for (its subject's common name).
    pub subject: String,
    /// Unix seconds.
    pub issued: u64,
    pub expires: u64,
    /// When it was revoked, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<u64>,
}

/// A client certificate as handed to its account: the CA's certificate,
/// the client certificate and its private key, PEM.
#[derive(Clone)]
pub struct ClientCert {
    pub ca: String,
    pub cert: String,
    pub key: String,
    pub serial: String,
    pub expires: u64,
}

impl std::fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCert")
            .field("serial", &self.serial)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn when(secs: u64) -> Result<time::OffsetDateTime> {
    let secs = i64::try_from(secs).map_err(|_| Error::System {
        reason: format!("time {secs} out of range"),
    })?;
    time::OffsetDateTime::from_unix_timestamp(secs).map_err(|e| Error::System {
        reason: format!("time {secs} out of range: {e}"),
    })
}

fn rcgen_error(what: &str, e: rcgen::Error) -> Error {
    Error::System {
        reason: format!("cannot {what}: {e}"),
    }
}

/// The CA's parameters: the same for making it and for signing with it,
/// so that the issuer name and key identifier of every certificate match
/// the stored CA certificate.
fn ca_params(cluster: &str, created: u64) -> Result<CertificateParams> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "shipcore cluster CA");
    dn.push(DnType::OrganizationName, cluster);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = when(created.saturating_sub(BACKDATE.as_secs()))?;
    params.not_after = when(created.saturating_add(CA_LIFETIME.as_secs()))?;
    Ok(params)
}

/// A random positive serial of 16 bytes, and its hex form.
fn new_serial() -> Result<(SerialNumber, String)> {
    let hex = new_key(16)?;
    let digest = super::secret::key_digest(&hex);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok((SerialNumber::from_slice(&bytes), text))
}

impl Access {
    /// How long the client certificates issued from now on are valid.
    pub fn with_cert_lifetime(mut self, lifetime: Duration) -> Self {
        self.cert_lifetime = lifetime;
        self
    }

    /// The stored CA, made now if there is none (replicas racing for it:
    /// one makes it, the others read it).
    async fn ca_doc(&self, cluster: &str) -> Result<CaDoc> {
        if let Some((doc, _)) = get_json::<CaDoc>(self.store.as_ref(), CA).await? {
            return Ok(doc);
        }
        let created = secs(self.clock.now());
        let key = KeyPair::generate().map_err(|e| rcgen_error("make the CA key", e))?;
        let cert = ca_params(cluster, created)?
            .self_signed(&key)
            .map_err(|e| rcgen_error("sign the CA certificate", e))?;
        let doc = CaDoc {
            cluster: cluster.into(),
            cert: cert.pem(),
            key: key.serialize_pem(),
            created,
        };
        match put_json(self.store.as_ref(), CA, &doc, Expect::Absent).await {
            Ok(_) => Ok(doc),
            Err(Error::Conflict { .. }) => get_json::<CaDoc>(self.store.as_ref(), CA)
                .await?
                .map(|(d, _)| d)
                .ok_or_else(|| Error::System {
                    reason: "the cluster CA vanished while it was made".into(),
                }),
            Err(e) => Err(e),
        }
    }

    /// The cluster CA's certificate, PEM (made now if there is none).
    pub async fn ca_certificate(&self, cluster: &str) -> Result<String> {
        Ok(self.ca_doc(cluster).await?.cert)
    }

    /// The client certificate of `principal`'s account: its current one,
    /// or a new one when it has none, or when that one is revoked or has
    /// less than a tenth of its lifetime left. Only accounts get
    /// certificates (a certificate stands for the account in its subject).
    pub async fn client_certificate(
        &self,
        cluster: &str,
        principal: &Principal,
    ) -> Result<ClientCert> {
        let username = principal.name.as_str();
        if get_json::<Account>(self.store.as_ref(), &format!("{ACCOUNTS}{username}"))
            .await?
            .is_none()
        {
            return Err(Error::Forbidden {
                reason: format!(
                    "a client certificate stands for an account, and {username} is none: \
                     sign in with an account's username and password"
                ),
            });
        }
        let ca = self.ca_doc(cluster).await?;
        let now = secs(self.clock.now());
        let current_key = format!("{CURRENT}{username}");
        for _ in 0..3 {
            let current = get_json::<CurrentDoc>(self.store.as_ref(), &current_key).await?;
            let revision = match &current {
                Some((doc, revision)) => {
                    let left = doc.expires.saturating_sub(now);
                    let lifetime = doc.expires.saturating_sub(doc.issued).max(1);
                    if left > lifetime / 10
                        && self.certificate_record_valid(&doc.serial, now).await?
                    {
                        return Ok(ClientCert {
                            ca: ca.cert.clone(),
                            cert: doc.cert.clone(),
                            key: doc.key.clone(),
                            serial: doc.serial.clone(),
                            expires: doc.expires,
                        });
                    }
                    *revision
                }
                None => 0,
            };
            let (doc, record) = self.sign_client(&ca, username, now)?;
            let ops = vec![
                Op::put_json(&current_key, &doc, Expect::Revision(revision))?,
                Op::put_json(
                    format!("{ISSUED}{}", record.serial),
                    &record,
                    Expect::Absent,
                )?,
            ];
            match self.store.batch(ops).await {
                Ok(_) => {
                    self.note(
                        EventType::IssueCertificate,
                        format!("username={username} serial={}", record.serial),
                    )
                    .await;
                    return Ok(ClientCert {
                        ca: ca.cert,
                        cert: doc.cert,
                        key: doc.key,
                        serial: doc.serial,
                        expires: doc.expires,
                    });
                }
                // Another request issued one meanwhile: take that one.
                Err(Error::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::System {
            reason: format!("the client certificate of {username} keeps changing; try again"),
        })
    }

    /// Whether the record of `serial` exists, is not revoked and has not
    /// expired at `now`.
    async fn certificate_record_valid(&self, serial: &str, now: u64) -> Result<bool> {
        Ok(
            get_json::<IssuedCert>(self.store.as_ref(), &format!("{ISSUED}{serial}"))
                .await?
                .is_some_and(|(r, _)| r.revoked.is_none() && r.expires > now),
        )
    }

    /// Signs a new client certificate for `username` with the CA.
    fn sign_client(
        &self,
        ca: &CaDoc,
        username: &str,
        now: u64,
    ) -> Result<(CurrentDoc, IssuedCert)> {
        let ca_key = KeyPair::from_pem(&ca.key).map_err(|e| rcgen_error("read the CA key", e))?;
        let issuer = Issuer::new(ca_params(&ca.cluster, ca.created)?, ca_key);
        let key = KeyPair::generate().map_err(|e| rcgen_error("make a client key", e))?;
        let (serial, serial_hex) = new_serial()?;
        let expires = now.saturating_add(self.cert_lifetime.as_secs());
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, username);
        dn.push(DnType::OrganizationName, ca.cluster.as_str());
        params.distinguished_name = dn;
        params.serial_number = Some(serial);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = when(now.saturating_sub(BACKDATE.as_secs()))?;
        params.not_after = when(expires)?;
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(|e| rcgen_error("sign a client certificate", e))?;
        let doc = CurrentDoc {
            serial: serial_hex.clone(),
            cert: cert.pem(),
            key: key.serialize_pem(),
            issued: now,
            expires,
        };
        let record = IssuedCert {
            serial: serial_hex,
            subject: username.into(),
            issued: now,
            expires,
            revoked: None,
        };
        Ok((doc, record))
    }

    /// A server certificate for the cluster endpoint, signed by the CA,
    /// for `names` (host names and IP addresses), valid `lifetime`. It is
    /// made anew at every start and kept in memory only (its key is in the
    /// answer, never in the store); it is no client certificate, so it
    /// stands for no one.
    pub async fn server_certificate(
        &self,
        cluster: &str,
        names: &[String],
        lifetime: Duration,
    ) -> Result<ClientCert> {
        if names.is_empty() {
            return Err(Error::invalid("names", "a server certificate needs a name"));
        }
        let ca = self.ca_doc(cluster).await?;
        let now = secs(self.clock.now());
        let ca_key = KeyPair::from_pem(&ca.key).map_err(|e| rcgen_error("read the CA key", e))?;
        let issuer = Issuer::new(ca_params(&ca.cluster, ca.created)?, ca_key);
        let key = KeyPair::generate().map_err(|e| rcgen_error("make a server key", e))?;
        let (serial, serial_hex) = new_serial()?;
        let expires = now.saturating_add(lifetime.as_secs());
        let mut params = CertificateParams::new(names.to_vec())
            .map_err(|e| Error::invalid("names", format!("{names:?}: {e}")))?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, names[0].as_str());
        dn.push(DnType::OrganizationName, ca.cluster.as_str());
        params.distinguished_name = dn;
        params.serial_number = Some(serial);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = when(now.saturating_sub(BACKDATE.as_secs()))?;
        params.not_after = when(expires)?;
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(|e| rcgen_error("sign the server certificate", e))?;
        Ok(ClientCert {
            ca: ca.cert,
            cert: cert.pem(),
            key: key.serialize_pem(),
            serial: serial_hex,
            expires,
        })
    }

    /// Every certificate issued, newest first.
    pub async fn certificates(&self) -> Result<Vec<IssuedCert>> {
        let mut all: Vec<IssuedCert> = self.list(ISSUED).await?;
        all.sort_by(|a, b| b.issued.cmp(&a.issued).then(a.serial.cmp(&b.serial)));
        Ok(all)
    }

    /// Revokes the certificate `serial`: from now on it stands for no one.
    /// Its account gets a new one at its next request.
    pub async fn revoke_certificate(&self, serial: &str) -> Result<IssuedCert> {
        let key = format!("{ISSUED}{}", serial.to_ascii_lowercase());
        let Some((mut record, revision)) =
            get_json::<IssuedCert>(self.store.as_ref(), &key).await?
        else {
            return Err(Error::missing("certificate", serial));
        };
        if record.revoked.is_some() {
            return Ok(record);
        }
        record.revoked = Some(secs(self.clock.now()));
        let mut ops = vec![Op::put_json(&key, &record, Expect::Revision(revision))?];
        let current_key = format!("{CURRENT}{}", record.subject);
        if let Some((current, rev)) =
            get_json::<CurrentDoc>(self.store.as_ref(), &current_key).await?
        {
            if current.serial == record.serial {
                ops.push(Op::Delete {
                    key: current_key,
                    expect: Expect::Revision(rev),
                });
            }
        }
        self.store.batch(ops).await?;
        self.forget_principals_where(|p| p.name == record.subject);
        self.note(
            EventType::RevokeCertificate,
            format!("username={} serial={}", record.subject, record.serial),
        )
        .await;
        Ok(record)
    }

    /// Revokes every certificate of `username` (its account is going away).
    pub(super) async fn revoke_certificates_of(&self, username: &str) -> Result<()> {
        for record in self.certificates().await? {
            if record.subject == username && record.revoked.is_none() {
                match self.revoke_certificate(&record.serial).await {
                    Ok(_) | Err(Error::Conflict { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// The principal a client certificate of serial `serial` stands for:
    /// its account, while the certificate is neither revoked nor expired
    /// and the account exists. (The TLS listener checks the chain to the
    /// CA first.) `Ok(Err(why))` when it stands for no one.
    pub async fn certificate_principal(
        &self,
        serial: &str,
    ) -> Result<std::result::Result<Principal, String>> {
        let refused = |why: String| Ok(Err(why));
        let Some((record, _)) = get_json::<IssuedCert>(
            self.store.as_ref(),
            &format!("{ISSUED}{}", serial.to_ascii_lowercase()),
        )
        .await?
        else {
            return refused(format!("certificate {serial} was not issued here"));
        };
        if record.revoked.is_some() {
            return refused(format!("certificate {serial} is revoked"));
        }
        if record.expires <= secs(self.clock.now()) {
            return refused(format!("certificate {serial} has expired"));
        }
        let Some((account, _)) = get_json::<Account>(
            self.store.as_ref(),
            &format!("{ACCOUNTS}{}", record.subject),
        )
        .await?
        else {
            return refused(format!(
                "certificate {serial} stands for {}, an account that no longer exists",
                record.subject
            ));
        };
        Ok(Ok(Principal {
            name: account.username,
            role: self.role(&account.role.name).await?,
        }))
    }
}
