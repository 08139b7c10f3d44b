//! The web dashboard at `/ui/` (and `/`, which leads there): server-rendered
//! pages (minijinja, every value escaped) whose script, `app.js`, fills them
//! from the same JSON API every other client uses, with the caller's own
//! session, so the dashboard can do nothing the API does not let the
//! account do. Signing in makes a login token (as `POST /auth/login` does)
//! and keeps it in an `HttpOnly`, `SameSite=Strict` cookie (`Secure` over
//! TLS); a change needs the session's CSRF token too (`auth.rs`). Signing
//! out, a password change and deleting the account end the token, and with
//! it the session, at once. Every answer carries a strict
//! Content-Security-Policy: no inline script or style, nothing from
//! another origin. The assets are built into the binary.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use minijinja::{context, Environment};

use crate::app::App;
use crate::auth::{csrf_matches, csrf_token, session, SESSION_COOKIE};
use crate::extract::Body;

/// The pages, in the navigation's order: path segment, title, and the area
/// an account must be able to read (or change, when the page exists to
/// change it) for the page to be listed and served (none: any account).
pub const PAGES: [(&str, &str, &str, bool); 8] = [
    ("", "Overview", "", false),
    ("engines", "Engines", "engines", false),
    ("containers", "Containers", "containers", false),
    ("deploy", "Deploy", "containers", true),
    ("projects", "Compose projects", "projects", false),
    ("registry", "Registry", "registry", false),
    ("builds", "Builds", "builds", false),
    ("access", "Access", "", false),
];

/// The Content-Security-Policy of every dashboard answer.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'";

const SHELL: &str = include_str!("shell.html");
const LOGIN: &str = include_str!("login.html");
const APP_JS: &str = include_str!("app.js");
const APP_CSS: &str = include_str!("app.css");

/// The dashboard's routes.
pub fn router() -> Router<App> {
    Router::new()
        .route("/", get(|| async { see_other("/ui/") }))
        .route("/ui", get(|| async { see_other("/ui/") }))
        .route("/ui/", get(overview))
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/logout", axum::routing::post(logout))
        .route("/ui/assets/{*name}", get(asset))
        .route("/ui/{page}", get(page))
        .route("/ui/{page}/{*rest}", get(|| async { not_found() }))
}

/// Headers every dashboard answer carries.
fn harden(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

fn see_other(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    harden(res)
}

fn html(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    harden(res)
}

/// Renders one of the dashboard's templates (a name ending in `.html`:
/// every value is HTML-escaped).
fn render(name: &str, source: &str, ctx: minijinja::Value) -> Result<String, crate::Error> {
    let fail = |source| crate::Error::Render { source };
    let mut env = Environment::new();
    env.add_template(name, source).map_err(fail)?;
    env.get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(fail)
}

fn failed(e: crate::Error) -> Response {
    tracing::warn!(error = %e, "a dashboard page failed");
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        "<!DOCTYPE html><title>Error</title><p>The page could not be rendered.</p>".into(),
    )
}

/// Whether the request came over the cluster endpoint (TLS: every
/// connection there shows a client certificate).
fn over_tls(extensions: &axum::http::Extensions) -> bool {
    extensions.get::<crate::auth::ClientCertificate>().is_some()
}

/// The signed-in account of a page request, with its session's token.
async fn signed_in(
    app: &App,
    headers: &HeaderMap,
) -> Option<(std::sync::Arc<shipcore::access::Principal>, String)> {
    let (username, token) = session(headers)?;
    let principal = app.access.by_token(&username, &token).await.ok()??;
    Some((principal, token))
}

async fn overview(State(app): State<App>, headers: HeaderMap) -> Response {
    shell(&app, &headers, "").await
}

/// The last segment of a path, as sent (the dashboard's names are plain
/// ASCII; anything else names nothing here).
fn last_segment(uri: &axum::http::Uri) -> &str {
    uri.path().rsplit('/').next().unwrap_or_default()
}

/// The dashboard's answer to a path under `/ui/` that names nothing.
fn not_found() -> Response {
    html(
        StatusCode::NOT_FOUND,
        "<!DOCTYPE html><html lang=\"en\"><title>Not found</title><p>No such page. <a href=\"/ui/\">Overview</a></p></html>".into(),
    )
}

async fn page(State(app): State<App>, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let name = last_segment(&uri).to_string();
    if name.is_empty() || !PAGES.iter().any(|(p, ..)| *p == name) {
        return not_found();
    }
    shell(&app, &headers, &name).await
}

/// A page: the shell (navigation, the account, the CSRF token) around the
/// page's empty main part, which `app.js` fills from the API.
async fn shell(app: &App, headers: &HeaderMap, name: &str) -> Response {
    let Some((principal, token)) = signed_in(app, headers).await else {
        let next = if name.is_empty() {
            String::new()
        } else {
            format!("?next={name}")
        };
        return see_other(&format!("/ui/login{next}"));
    };
    let Some((_, title, area, write)) = PAGES.iter().find(|(p, ..)| *p == name) else {
        return see_other("/ui/");
    };
    let allowed = |area: &str, write: bool| area.is_empty() || principal.allows(area, write);
    if !allowed(area, *write) {
        return html(
            StatusCode::FORBIDDEN,
            format!(
                "<!DOCTYPE html><html lang=\"en\"><title>Not yours</title><p>Your role does not allow this page ({}). <a href=\"/ui/\">Overview</a></p></html>",
                if *write { "changing " } else { "reading " }.to_string() + area
            ),
        );
    }
    let nav: Vec<minijinja::Value> = PAGES
        .iter()
        .filter(|(_, _, area, write)| allowed(area, *write))
        .map(|(path, title, ..)| context! { path, title, current => *path == name })
        .collect();
    // What the account may do, for the script to offer only that; the API
    // decides in any case.
    let allows: Vec<String> = shipcore::model::Role::AREAS
        .iter()
        .filter_map(|area| {
            if principal.allows(area, true) {
                Some(format!("{area}:rw"))
            } else if principal.allows(area, false) {
                Some(format!("{area}:ro"))
            } else {
                None
            }
        })
        .collect();
    let ctx = context! {
        page => if name.is_empty() { "overview" } else { name },
        title,
        nav,
        user => principal.name,
        role => principal.role.name,
        allows => allows.join(" "),
        csrf => csrf_token(&token),
    };
    match render("shell.html", SHELL, ctx) {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => failed(e),
    }
}

/// Where to go after signing in: a page of the dashboard, never elsewhere.
fn next_page(next: Option<&str>) -> String {
    match next {
        Some(p) if PAGES.iter().any(|(path, ..)| *path == p && !p.is_empty()) => {
            format!("/ui/{p}")
        }
        _ => "/ui/".into(),
    }
}

fn login_form(status: StatusCode, next: Option<&str>, message: Option<&str>) -> Response {
    let next = next.filter(|p| PAGES.iter().any(|(path, ..)| path == p));
    match render("login.html", LOGIN, context! { next, message }) {
        Ok(body) => html(status, body),
        Err(e) => failed(e),
    }
}

async fn login_page(uri: axum::http::Uri) -> Response {
    let fields = form(uri.query().unwrap_or_default().as_bytes());
    login_form(StatusCode::OK, fields.get("next").map(String::as_str), None)
}

/// The fields of a form body (`application/x-www-form-urlencoded`); a
/// field given twice keeps its first value.
pub(crate) fn form(body: &[u8]) -> std::collections::HashMap<String, String> {
    let mut fields = std::collections::HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        fields
            .entry(k.into_owned())
            .or_insert_with(|| v.into_owned());
    }
    fields
}

async fn login(
    State(app): State<App>,
    crate::extract::Peer(from): crate::extract::Peer,
    req_headers: HeaderMap,
    extensions: axum::http::Extensions,
    body: Body,
) -> Response {
    let fields = form(&body.0);
    let next = fields.get("next").map(String::as_str);
    let (Some(username), Some(password)) = (fields.get("username"), fields.get("password")) else {
        return login_form(
            StatusCode::BAD_REQUEST,
            next,
            Some("Give a username and a password."),
        );
    };
    let agent = req_headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("dashboard");
    let token = match app.access.login(username, password, from, agent).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            return login_form(
                StatusCode::UNAUTHORIZED,
                next,
                Some("Wrong username or password."),
            )
        }
        Err(shipcore::Error::TooMany { retry_after, .. }) => {
            tokio::time::sleep(crate::auth::TARPIT).await;
            let message = format!("Too many failed sign-ins: try again in {retry_after} s.");
            return login_form(StatusCode::TOO_MANY_REQUESTS, next, Some(&message));
        }
        Err(e) => return failed(e.into()),
    };
    let secure = if over_tls(&extensions) {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={username}:{}; Path=/; HttpOnly; SameSite=Strict{secure}",
        token.token
    );
    let mut res = see_other(&next_page(next));
    match HeaderValue::from_str(&cookie) {
        Ok(v) => {
            res.headers_mut().insert(header::SET_COOKIE, v);
            res
        }
        // A username a header cannot carry cannot have a session.
        Err(_) => login_form(
            StatusCode::BAD_REQUEST,
            next,
            Some("This account cannot sign in to the dashboard."),
        ),
    }
}

/// Signs out: the session's token ends (everywhere, at once) and the cookie
/// is cleared. The form carries the CSRF token.
async fn logout(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let fields = form(&body.0);
    if let Some((username, token)) = session(&headers) {
        let given = fields.get("csrf").map(String::as_str).unwrap_or_default();
        if !csrf_matches(&token, given) {
            return html(
                StatusCode::FORBIDDEN,
                "<!DOCTYPE html><html lang=\"en\"><title>Refused</title><p>Sign out from the dashboard's own button.</p></html>".into(),
            );
        }
        if let Err(e) = app.access.logout(&username, &token).await {
            return failed(e.into());
        }
    }
    let mut res = see_other("/ui/login");
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("shipcore_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    res
}

/// The assets built into the binary.
async fn asset(uri: axum::http::Uri) -> Response {
    let (body, kind) = match uri.path().strip_prefix("/ui/assets/").unwrap_or_default() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        _ => {
            return not_found();
        }
    };
    let mut res = body.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    harden(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_sign_in_only_a_page_of_the_dashboard() {
        assert_eq!(next_page(Some("containers")), "/ui/containers");
        assert_eq!(next_page(Some("//evil.example")), "/ui/");
        assert_eq!(next_page(Some("https://evil.example/")), "/ui/");
        assert_eq!(next_page(None), "/ui/");
    }

    #[test]
    fn the_shell_escapes_what_it_shows() {
        let ctx = context! {
            page => "overview", title => "Overview", nav => Vec::<minijinja::Value>::new(),
            user => "<script>alert(1)</script>", role => "user\"", allows => "", csrf => "x",
        };
        let out = render("shell.html", SHELL, ctx).unwrap();
        assert!(!out.contains("<script>alert"), "{out}");
        assert!(out.contains("&lt;script&gt;"), "{out}");
    }
}
