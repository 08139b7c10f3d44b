//! Authentication of API requests: `X-Service-Key`, a login token in
//! `X-Access-Token: <username>:<token>` (from `POST /auth/login`, as
//! Shipyard's CLI sends it), or an account's credentials with HTTP basic
//! auth, or the dashboard's session cookie (a login token; a request that
//! changes state must also carry the session's CSRF token in
//! `X-CSRF-Token`). On the cluster endpoint (mutual TLS), the client
//! certificate is the credential ([`ClientCertificate`]) and headers are
//! not read.
//! Handlers then ask for a permission (`area`, read or write): no
//! credentials → 401, no permission → 403.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine as _;
use shipcore::access::Principal;

use crate::app::App;
use crate::error::Error;

/// The authenticated caller of a request, and the credentials it gave (a
/// long answer, such as a followed event stream, checks them again when
/// access changes, and ends once they are revoked).
#[derive(Debug, Clone)]
pub struct Caller(pub std::sync::Arc<Principal>, pub Credentials);

/// The client certificate a request came with over the cluster endpoint:
/// its serial (lower-case hex). The TLS listener verified its chain to the
/// cluster CA; whom it stands for is asked of the store at every request,
/// so a revocation takes effect at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate(pub String);

/// What a caller authenticated with.
#[derive(Clone)]
pub enum Credentials {
    /// A client certificate, by serial.
    Certificate(String),
    Key(String),
    Token {
        username: String,
        token: String,
    },
    Basic {
        username: String,
        password: String,
        from: Option<std::net::IpAddr>,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        match self {
            Credentials::Certificate(serial) => write!(f, "Certificate({serial})"),
            Credentials::Key(_) => f.write_str("Key(..)"),
            Credentials::Token { username, .. } => write!(f, "Token({username}, ..)"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, ..)"),
        }
    }
}

impl Credentials {
    /// Whether the credentials are still good and still allow `area`
    /// (writing if `write`): a role changed or taken away ends what the
    /// caller follows as a revocation would.
    pub async fn allow(&self, access: &shipcore::access::Access, area: &str, write: bool) -> bool {
        match self {
            Credentials::Certificate(serial) => match access.certificate_principal(serial).await {
                Ok(Ok(p)) => p.allows(area, write),
                _ => false,
            },
            Credentials::Key(k) => match access.by_service_key(k).await {
                Ok(Some(p)) => p.allows(area, write),
                _ => false,
            },
            Credentials::Token { username, token } => {
                match access.by_token(username, token).await {
                    Ok(Some(p)) => p.allows(area, write),
                    _ => false,
                }
            }
            Credentials::Basic {
                username,
                password,
                from,
            } => match access.by_password(username, password, *from).await {
                Ok(Some(p)) => p.allows(area, write),
                _ => false,
            },
        }
    }
}

/// How often a long stream notices that access changed when it sends
/// nothing.
pub const REVOCATION_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// `stream`, ended as soon as `caller`'s credentials are revoked or no
/// longer allow `area` (writing if `write`; the permission the stream was
/// opened with): they are checked again whenever access changed (and the
/// stream looks at least every [`REVOCATION_CHECK`], even when it has
/// nothing to send).
pub fn until_revoked<S>(
    app: &crate::app::App,
    caller: &Caller,
    (area, write): (&'static str, bool),
    stream: S,
) -> impl futures::Stream<Item = S::Item> + Send + 'static
where
    S: futures::Stream + Send + 'static,
    S::Item: Send + 'static,
{
    use futures::StreamExt as _;
    /// What the merged stream carries: an item, a tick, or the end of
    /// `stream` (the ticks go on forever, so the end must be said).
    enum Step<T> {
        Item(T),
        Tick,
        Done,
    }
    let ticks = futures::stream::unfold((), |()| async {
        tokio::time::sleep(REVOCATION_CHECK).await;
        Some((Step::Tick, ()))
    });
    let items = stream
        .map(Step::Item)
        .chain(futures::stream::once(async { Step::Done }));
    let access = app.access.clone();
    let credentials = caller.1.clone();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(access.generation()));
    futures::stream::select(items, ticks)
        .take_while(move |step| {
            let done = matches!(step, Step::Done);
            let (access, credentials, seen) = (access.clone(), credentials.clone(), seen.clone());
            async move {
                if done {
                    return false;
                }
                let now = access.generation();
                if seen.swap(now, std::sync::atomic::Ordering::SeqCst) == now {
                    return true;
                }
                credentials.allow(&access, area, write).await
            }
        })
        .filter_map(|step| async move {
            match step {
                Step::Item(item) => Some(item),
                Step::Tick | Step::Done => None,
            }
        })
}

impl Caller {
    /// Fails with 403 unless the caller may act on `area` (writing if `write`).
    pub fn require(&self, area: &str, write: bool) -> Result<(), Error> {
        if self.0.allows(area, write) {
            Ok(())
        } else {
            let what = if write { "change" } else { "read" };
            Err(Error::Forbidden(format!(
                "{} may not {what} {area}",
                self.0.name
            )))
        }
    }
}

/// The dashboard's session cookie: `<username>:<login token>`.
pub const SESSION_COOKIE: &str = "shipcore_session";

/// A session's CSRF token: derived from its login token (one way), so it
/// needs no storage and ends with the session. Pages carry it; a request
/// that changes state sends it back in `X-CSRF-Token` (or a form's
/// `csrf` field).
pub fn csrf_token(token: &str) -> String {
    shipcore::access::hash_key(&format!("csrf:{token}"))
}

/// Whether `given` is the CSRF token of the session's `token` (compared in
/// constant time).
pub fn csrf_matches(token: &str, given: &str) -> bool {
    shipcore::access::same(csrf_token(token).as_bytes(), given.as_bytes())
}

/// The session a request's cookie names: `(username, token)`.
pub fn session(headers: &axum::http::HeaderMap) -> Option<(String, String)> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .and_then(|(_, value)| value.split_once(':'))
        .filter(|(u, t)| !u.is_empty() && !t.is_empty())
        .map(|(u, t)| (u.to_string(), t.to_string()))
}

/// How long an attempt past the failed-login limits waits for its 429.
pub(crate) const TARPIT: std::time::Duration = std::time::Duration::from_secs(1);

fn unauthorized(message: &str) -> Error {
    Error::Unauthorized(message.into())
}

impl FromRequestParts<App> for Caller {
    type Rejection = Error;

    // Over 80 lines: one arm per kind of credential, checked in the order SPEC.md gives.
    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        if let Some(ClientCertificate(serial)) = parts.extensions.get::<ClientCertificate>() {
            return match app.access.certificate_principal(serial).await? {
                Ok(p) => Ok(Caller(
                    std::sync::Arc::new(p),
                    Credentials::Certificate(serial.clone()),
                )),
                Err(why) => Err(unauthorized(&format!(
                    "{why}: get a current one from GET /clusters/{{name}}/certs"
                ))),
            };
        }
        if let Some(key) = parts.headers.get("x-service-key") {
            let key = key
                .to_str()
                .map_err(|_| unauthorized("invalid X-Service-Key"))?;
            return match app.access.by_service_key(key).await? {
                Some(p) => Ok(Caller(p, Credentials::Key(key.to_string()))),
                None => Err(unauthorized("unknown service key")),
            };
        }
        if let Some(value) = parts.headers.get("x-access-token") {
            let (username, token) = value
                .to_str()
                .ok()
                .and_then(|v| v.trim().split_once(':'))
                .ok_or_else(|| unauthorized("X-Access-Token must be <username>:<token>"))?;
            return match app.access.by_token(username, token).await? {
                Some(p) => Ok(Caller(
                    p,
                    Credentials::Token {
                        username: username.to_string(),
                        token: token.to_string(),
                    },
                )),
                None => Err(unauthorized(
                    "unknown, expired or ended login token: log in again (POST /auth/login)",
                )),
            };
        }
        if let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) {
            let value = value
                .to_str()
                .map_err(|_| unauthorized("invalid Authorization header"))?;
            let encoded = value
                .strip_prefix("Basic ")
                .ok_or_else(|| unauthorized("only Basic authorization is accepted"))?;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| unauthorized("invalid Basic credentials"))?;
            let (user, password) = decoded
                .split_once(':')
                .ok_or_else(|| unauthorized("invalid Basic credentials"))?;
            let from = parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip());
            let found = match app.access.by_password(user, password, from).await {
                Ok(found) => found,
                // An address or name past its failures waits before it
                // is told so: one that keeps guessing over many
                // connections then sends a few guesses a second, not
                // thousands, and costs the server sleeping timers only.
                Err(e @ shipcore::Error::TooMany { .. }) => {
                    tokio::time::sleep(TARPIT).await;
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            };
            return match found {
                Some(p) => Ok(Caller(
                    p,
                    Credentials::Basic {
                        username: user.to_string(),
                        password: password.to_string(),
                        from,
                    },
                )),
                None => Err(unauthorized("wrong username or password")),
            };
        }
        if let Some((username, token)) = session(&parts.headers) {
            // The browser sends the cookie with every request to this
            // site; only the page it served knows the CSRF token.
            if crate::guard::changes_state(&parts.method, parts.uri.path()) {
                let given = parts
                    .headers
                    .get("x-csrf-token")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if !csrf_matches(&token, given) {
                    return Err(Error::Forbidden(
                        "a change made with the dashboard's session needs its CSRF token (X-CSRF-Token)"
                            .into(),
                    ));
                }
            }
            return match app.access.by_token(&username, &token).await? {
                Some(p) => Ok(Caller(p, Credentials::Token { username, token })),
                None => Err(unauthorized("the session ended: sign in again")),
            };
        }
        Err(unauthorized(
            "credentials required: X-Service-Key, X-Access-Token, basic auth or a dashboard session",
        ))
    }
}
