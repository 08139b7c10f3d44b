//! The OCI distribution API at `/v2/`, as docker, skopeo and the cluster's
//! engines speak it: ping (answered with the `WWW-Authenticate: Basic`
//! challenge that `docker login` expects), blobs (HEAD/GET with `Range`,
//! DELETE), uploads (POST, chunked PATCH with `Content-Range`, PUT with
//! the digest, monolithic, cross-repository mount, status and cancel),
//! manifests by tag or digest (GET/HEAD/PUT/DELETE; sha256 or sha512), the
//! referrers of a manifest (`referrers/<digest>`, with `artifactType`),
//! `tags/list` and `_catalog` with `n`/`last` paging. Errors come in the
//! distribution spec's form, `{"errors":[{"code","message","detail"}]}`.
//!
//! An upload belongs to the repository it was opened on and the caller who
//! opened it: every later call on its id (status, chunk, finish, cancel)
//! under another repository name or from another principal answers
//! `BLOB_UPLOAD_UNKNOWN` (404), as for an id never made.
//!
//! The path is read raw (never percent-decoded): the repository name,
//! the reference and the digest are each checked by `shipcore::registry`
//! before anything reaches the file system. Bodies stream into the content
//! store as they arrive; a body that stalls longer than the app's
//! `body_timeout` between two pieces is cut off.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use shipcore::registry::manifest::{MAX_MANIFEST, OCI_INDEX};
use shipcore::registry::{Digest, Reference, Repository};

use super::{by, RegistryOptions, AREA};
use crate::app::App;
use crate::auth::Caller;
use crate::error::Error;

/// Every response of the API says which it is.
const API_VERSION: HeaderName = HeaderName::from_static("docker-distribution-api-version");
const CONTENT_DIGEST: HeaderName = HeaderName::from_static("docker-content-digest");
const UPLOAD_UUID: HeaderName = HeaderName::from_static("docker-upload-uuid");

/// Catalog and tag pages hold at most this many names.
const MAX_PAGE: usize = 1000;

/// The `/v2/` routes. Not in the OpenAPI router: a repository name has any
/// number of segments, so one handler reads the path (the document lists
/// the operations; see `doc`).
pub fn router() -> axum::Router<App> {
    axum::Router::new()
        .route("/v2", axum::routing::any(ping))
        .route("/v2/", axum::routing::any(ping))
        .route("/v2/{*rest}", axum::routing::any(dispatch))
        .layer(axum::middleware::map_response(|mut res: Response| async {
            res.headers_mut()
                .insert(API_VERSION, HeaderValue::from_static("registry/2.0"));
            // A failure from an extractor or a layer, in this API's form.
            if let Some(f) = res.extensions_mut().remove::<crate::error::Failure>() {
                return V2Error::from(f).into_response();
            }
            res
        }))
}

/// An error in the distribution spec's form.
#[derive(Debug, PartialEq)]
pub(crate) struct V2Error {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// For a 416: the bytes the upload holds.
    range: Option<u64>,
    retry_after: Option<u64>,
    /// For a 405: the methods the path takes.
    allow: Option<&'static str>,
}

impl V2Error {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        V2Error {
            status,
            code,
            message: message.into(),
            range: None,
            retry_after: None,
            allow: None,
        }
    }

    fn unsupported(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "UNSUPPORTED", message)
    }
}

/// The API's code for a failure that says no more than its status.
fn code_of_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "UNAUTHORIZED",
        403 => "DENIED",
        404 | 405 => "UNSUPPORTED",
        429 => "TOOMANYREQUESTS",
        400 | 408 | 413 => "BLOB_UPLOAD_INVALID",
        _ => "UNKNOWN",
    }
}

impl From<crate::error::Failure> for V2Error {
    /// The API's one mapping of a failure (a handler's, an extractor's or
    /// a layer's): the core's registry errors by their kind, the rest by
    /// the crate's status. One status differs: a second writer to an
    /// upload is a 416 here, as a chunk out of order is (with the `Range`
    /// the upload holds), where the plain facade says 409.
    fn from(f: crate::error::Failure) -> Self {
        use shipcore::registry::RegistrySubject as S;
        use shipcore::Error as E;
        let mut status = f.status;
        let mut range = None;
        let code = match &*f.error {
            Error::Core(core) => match core {
                E::RegistryInvalid { what, .. } => match what {
                    S::Digest => "DIGEST_INVALID",
                    S::Repository => "NAME_INVALID",
                    S::Tag => "TAG_INVALID",
                    S::Manifest => "MANIFEST_INVALID",
                    S::Blob => "SIZE_INVALID",
                    _ => "BLOB_UPLOAD_INVALID",
                },
                E::RegistryUnknown { what, .. } => match what {
                    S::Blob => "BLOB_UNKNOWN",
                    S::Manifest => "MANIFEST_UNKNOWN",
                    S::Upload => "BLOB_UPLOAD_UNKNOWN",
                    _ => "NAME_UNKNOWN",
                },
                E::ManifestReference { .. } => "MANIFEST_BLOB_UNKNOWN",
                E::UploadOffset { held, .. } => {
                    range = Some(*held);
                    "BLOB_UPLOAD_INVALID"
                }
                E::UploadBusy { held, .. } => {
                    status = StatusCode::RANGE_NOT_SATISFIABLE;
                    range = *held;
                    "BLOB_UPLOAD_INVALID"
                }
                E::Missing { .. } => "NAME_UNKNOWN",
                E::Unavailable { .. } => "UNAVAILABLE",
                _ => code_of_status(status),
            },
            _ => code_of_status(status),
        };
        V2Error {
            status,
            code,
            message: f.message,
            range,
            retry_after: f.retry_after,
            allow: None,
        }
    }
}

impl From<Error> for V2Error {
    fn from(e: Error) -> Self {
        if e.status().is_server_error() {
            tracing::warn!(error = %e, "registry request failed");
        }
        e.into_failure().into()
    }
}

impl From<shipcore::Error> for V2Error {
    fn from(e: shipcore::Error) -> Self {
        Error::Core(e).into()
    }
}

impl IntoResponse for V2Error {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "errors": [{"code": self.code, "message": self.message, "detail": null}]
        });
        let mut res = (self.status, axum::Json(body)).into_response();
        let h = res.headers_mut();
        h.insert(API_VERSION, HeaderValue::from_static("registry/2.0"));
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"shipcore\""),
            );
        }
        if let Some(held) = self.range {
            if let Ok(v) = HeaderValue::from_str(&range_value(held)) {
                h.insert(header::RANGE, v);
            }
        }
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, secs.into());
        }
        if let Some(methods) = self.allow {
            h.insert(header::ALLOW, HeaderValue::from_static(methods));
        }
        res
    }
}

type Answer = Result<Response, V2Error>;

/// `Range: 0-N` for an upload of `held` bytes (`0-0` when empty, as
/// distribution writes it).
fn range_value(held: u64) -> String {
    format!("0-{}", held.saturating_sub(1))
}

/// The registry, or a 404 in this API's form.
fn options(app: &App) -> Result<&RegistryOptions, V2Error> {
    super::registry(app).map_err(V2Error::from)
}

/// `GET /v2/`: 200 for valid credentials, else 401 with the challenge.
async fn ping(State(app): State<App>, caller: Result<Caller, Error>, method: Method) -> Answer {
    if method != Method::GET && method != Method::HEAD {
        return Err(method_not_allowed(&method, "GET, HEAD"));
    }
    options(&app)?;
    // Logging in takes a role that reads the registry; what it may then
    // do is checked per call.
    caller?.require(AREA, false)?;
    Ok((StatusCode::OK, axum::Json(serde_json::json!({}))).into_response())
}

fn method_not_allowed(method: &Method, allow: &'static str) -> V2Error {
    let mut e = V2Error::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "UNSUPPORTED",
        format!("{method} is not served here (only {allow})"),
    );
    e.allow = Some(allow);
    e
}

/// What a path under `/v2/` names.
#[derive(Debug, PartialEq)]
pub(crate) enum Target {
    Catalog,
    Tags(Repository),
    /// A manifest by its reference, as read (what is not a tag or a digest
    /// names no manifest: a `GET` or `HEAD` of it answers 404, a `PUT` 400).
    Manifest(Repository, Result<Reference, V2Error>),
    Blob(Repository, Digest),
    /// The manifests whose subject is a digest (an invalid digest: 400).
    Referrers(Repository, Result<Digest, V2Error>),
    Uploads(Repository),
    Upload(Repository, String),
}

impl Target {
    /// The methods a path of this kind takes (a 405's `Allow`).
    fn allow(&self) -> &'static str {
        match self {
            Target::Catalog | Target::Tags(_) | Target::Referrers(..) => "GET",
            Target::Manifest(..) => "GET, HEAD, PUT, DELETE",
            Target::Blob(..) => "GET, HEAD, DELETE",
            Target::Uploads(_) => "POST",
            Target::Upload(..) => "GET, PATCH, PUT, DELETE",
        }
    }
}

/// A reference or digest as sent, percent-escapes decoded (a client that
/// escapes the `:` of `sha256:…` names the same digest); what does not
/// decode to UTF-8 is left as sent, for the parser to refuse.
fn decoded(segment: &str) -> std::borrow::Cow<'_, str> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .unwrap_or(std::borrow::Cow::Borrowed(segment))
}

pub(crate) fn parse_target(rest: &str) -> Result<Target, V2Error> {
    if rest == "_catalog" {
        return Ok(Target::Catalog);
    }
    let repo = |name: &str| Repository::parse(name).map_err(V2Error::from);
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Ok(Target::Tags(repo(name)?));
    }
    if let Some(at) = rest.rfind("/blobs/uploads") {
        let (name, tail) = (&rest[..at], &rest[at + "/blobs/uploads".len()..]);
        return match tail {
            "" | "/" => Ok(Target::Uploads(repo(name)?)),
            _ => match tail.strip_prefix('/') {
                Some(id) if !id.contains('/') => Ok(Target::Upload(repo(name)?, id.to_string())),
                _ => Err(V2Error::unsupported("no such endpoint")),
            },
        };
    }
    if let Some(at) = rest.rfind("/referrers/") {
        let (name, digest) = (&rest[..at], &rest[at + "/referrers/".len()..]);
        // `/v2/<name>/referrers/<digest>`; a repository may itself have a
        // component named `referrers`, under which other routes go on.
        if !digest.contains('/') && !digest.is_empty() {
            return Ok(Target::Referrers(
                repo(name)?,
                Digest::parse(&decoded(digest)).map_err(V2Error::from),
            ));
        }
    }
    if let Some(at) = rest.rfind("/manifests/") {
        let (name, reference) = (&rest[..at], &rest[at + "/manifests/".len()..]);
        let name = repo(name)?;
        return Ok(Target::Manifest(
            name,
            Reference::parse(&decoded(reference)).map_err(V2Error::from),
        ));
    }
    if let Some(at) = rest.rfind("/blobs/") {
        let (name, digest) = (&rest[..at], &rest[at + "/blobs/".len()..]);
        let name = repo(name)?;
        return Ok(Target::Blob(
            name,
            Digest::parse(&decoded(digest)).map_err(V2Error::from)?,
        ));
    }
    Err(V2Error::unsupported("no such endpoint"))
}

/// Every call but the ping: read the path, then serve it.
async fn dispatch(State(app): State<App>, req: Request) -> Response {
    match serve(app, req).await {
        Ok(res) => res,
        Err(e) => e.into_response(),
    }
}

async fn serve(app: App, req: Request) -> Answer {
    let (mut parts, body) = req.into_parts();
    let caller = Caller::from_request_parts(&mut parts, &app).await;
    let opts = options(&app)?;
    let rest = parts
        .uri
        .path()
        .strip_prefix("/v2/")
        .unwrap_or_default()
        .to_string();
    // Who asks is settled before what they ask for is read.
    let caller = caller?;
    let target = parse_target(&rest)?;
    let method = parts.method.clone();
    let call = Call {
        app: &app,
        opts,
        caller,
        headers: &parts.headers,
        query: parts.uri.query().unwrap_or_default(),
    };
    let get = method == Method::GET;
    let allow = target.allow();
    match (target, method) {
        (Target::Catalog, Method::GET) => call.catalog().await,
        (Target::Tags(repo), Method::GET) => call.tags(&repo).await,
        (Target::Manifest(repo, r), Method::GET | Method::HEAD) => {
            call.manifest(&repo, r, get).await
        }
        (Target::Manifest(repo, r), Method::PUT) => call.put_manifest(&repo, r, body).await,
        (Target::Manifest(repo, r), Method::DELETE) => call.delete_manifest(&repo, r).await,
        (Target::Referrers(repo, d), Method::GET) => call.referrers(&repo, d).await,
        (Target::Blob(repo, d), Method::GET | Method::HEAD) => call.blob(&repo, &d, get).await,
        (Target::Blob(repo, d), Method::DELETE) => call.delete_blob(&repo, &d).await,
        (Target::Uploads(repo), Method::POST) => call.start_upload(&repo, body).await,
        (Target::Upload(repo, id), Method::GET) => call.upload_status(&repo, &id).await,
        (Target::Upload(repo, id), Method::PATCH) => call.patch(&repo, &id, body).await,
        (Target::Upload(repo, id), Method::PUT) => call.finish(&repo, &id, body).await,
        (Target::Upload(repo, id), Method::DELETE) => call.cancel(&repo, &id).await,
        (_, m) => Err(method_not_allowed(&m, allow)),
    }
}

/// One call: who makes it and what it sent besides the body.
struct Call<'a> {
    app: &'a App,
    opts: &'a RegistryOptions,
    caller: Caller,
    headers: &'a HeaderMap,
    query: &'a str,
}

#[derive(Debug, Default, Deserialize)]
struct Paging {
    n: Option<usize>,
    last: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ReferrersQuery {
    #[serde(rename = "artifactType")]
    artifact_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct UploadQuery {
    digest: Option<String>,
    mount: Option<String>,
    from: Option<String>,
}

fn query<T: serde::de::DeserializeOwned>(q: &str) -> Result<T, V2Error> {
    crate::extract::query_str(q).map_err(|e| {
        V2Error::new(
            StatusCode::BAD_REQUEST,
            "UNSUPPORTED",
            format!("bad query: {e}"),
        )
    })
}

fn header_value(v: impl std::fmt::Display) -> HeaderValue {
    HeaderValue::from_str(&v.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A page's `Link` to the next, when the page is full.
fn next_link(path: &str, names: &[String], n: usize) -> Option<HeaderValue> {
    let last = names.last().filter(|_| names.len() == n)?;
    Some(header_value(format!(
        "<{path}?n={n}&last={last}>; rel=\"next\""
    )))
}

impl Call<'_> {
    fn page(&self) -> Result<(usize, Option<String>), V2Error> {
        let p: Paging = query(self.query)?;
        let n = p.n.unwrap_or(MAX_PAGE).min(MAX_PAGE);
        Ok((n, p.last))
    }

    async fn catalog(&self) -> Answer {
        self.caller.require(AREA, false)?;
        let (n, last) = self.page()?;
        let names = self.opts.registry.catalog(Some(n), last.as_deref()).await?;
        let mut res = axum::Json(serde_json::json!({ "repositories": names })).into_response();
        if let Some(link) = next_link("/v2/_catalog", &names, n) {
            res.headers_mut().insert(header::LINK, link);
        }
        Ok(res)
    }

    async fn tags(&self, repo: &Repository) -> Answer {
        self.caller.require(AREA, false)?;
        let (n, last) = self.page()?;
        self.opts.registry.repository(repo).await?;
        let tags = self
            .opts
            .registry
            .tags(repo, Some(n), last.as_deref())
            .await?;
        let mut res =
            axum::Json(serde_json::json!({ "name": repo.as_str(), "tags": tags })).into_response();
        if let Some(link) = next_link(&format!("/v2/{repo}/tags/list"), &tags, n) {
            res.headers_mut().insert(header::LINK, link);
        }
        Ok(res)
    }

    async fn manifest(
        &self,
        repo: &Repository,
        r: Result<Reference, V2Error>,
        get: bool,
    ) -> Answer {
        self.caller.require(AREA, false)?;
        // What is neither a tag nor a digest names no manifest here.
        let r = r.map_err(|e| {
            V2Error::new(
                StatusCode::NOT_FOUND,
                "MANIFEST_UNKNOWN",
                format!("no such manifest in {repo}: {}", e.message),
            )
        })?;
        let doc = self
            .opts
            .registry
            .manifest(repo, &r, get.then(|| by(&self.caller)))
            .await?;
        let mut res = Response::new(if get {
            Body::from(doc.body)
        } else {
            Body::empty()
        });
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, header_value(&doc.media_type));
        h.insert(header::CONTENT_LENGTH, doc.size.into());
        h.insert(CONTENT_DIGEST, header_value(&doc.digest));
        h.insert(header::ETAG, header_value(format!("\"{}\"", doc.digest)));
        Ok(res)
    }

    /// The referrers API (distribution spec 1.1): an OCI index of the
    /// manifests whose subject is `d`, filtered by `artifactType` when
    /// asked (and then saying so in `OCI-Filters-Applied`). A digest
    /// nothing refers to has an empty index.
    async fn referrers(&self, repo: &Repository, d: Result<Digest, V2Error>) -> Answer {
        self.caller.require(AREA, false)?;
        let d = d?;
        let q: ReferrersQuery = query(self.query)?;
        let filter = q.artifact_type.filter(|t| !t.is_empty());
        let manifests = self
            .opts
            .registry
            .referrers(repo, &d, filter.as_deref())
            .await?;
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": manifests,
        });
        let mut res = Response::new(Body::from(index.to_string()));
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(OCI_INDEX));
        if filter.is_some() {
            h.insert(
                HeaderName::from_static("oci-filters-applied"),
                HeaderValue::from_static("artifactType"),
            );
        }
        Ok(res)
    }

    async fn put_manifest(
        &self,
        repo: &Repository,
        r: Result<Reference, V2Error>,
        body: Body,
    ) -> Answer {
        self.caller.require(AREA, true)?;
        let r = &r?;
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        // `?tag=` (repeated) with a push by digest: tags for it.
        let tags: Vec<String> = form_urlencoded::parse(self.query.as_bytes())
            .filter(|(k, _)| k == "tag")
            .map(|(_, v)| v.into_owned())
            .collect();
        for t in &tags {
            shipcore::registry::check_tag(t)?;
        }
        let bytes = read_limited(body, MAX_MANIFEST, self.idle()).await?;
        let m = self
            .opts
            .registry
            .put_manifest(repo, r, &bytes, &content_type, by(&self.caller))
            .await?;
        for t in &tags {
            self.opts
                .registry
                .tag_manifest(repo, t, &m.digest, by(&self.caller))
                .await?;
        }
        let mut res = StatusCode::CREATED.into_response();
        let h = res.headers_mut();
        h.insert(
            header::LOCATION,
            header_value(format!("/v2/{repo}/manifests/{}", m.digest)),
        );
        h.insert(CONTENT_DIGEST, header_value(m.digest));
        for t in &tags {
            h.append(HeaderName::from_static("oci-tag"), header_value(t));
        }
        if let Some(subject) = m.subject {
            // The registry keeps the referrers of the subject itself.
            h.insert(
                HeaderName::from_static("oci-subject"),
                header_value(subject),
            );
        }
        h.insert(header::CONTENT_LENGTH, 0.into());
        Ok(res)
    }

    async fn delete_manifest(&self, repo: &Repository, r: Result<Reference, V2Error>) -> Answer {
        self.caller.require(AREA, true)?;
        match &r? {
            // By digest: the answer says which tags went with it.
            Reference::Digest(d) => {
                let tags = self
                    .opts
                    .registry
                    .delete_manifest(repo, d, by(&self.caller))
                    .await?;
                let body = serde_json::json!({ "digest": d.to_string(), "tags": tags });
                Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
            }
            // By tag: an untag; the manifest and its other tags stay.
            Reference::Tag(t) => {
                self.opts
                    .registry
                    .delete_tag(repo, t, by(&self.caller))
                    .await?;
                Ok(StatusCode::ACCEPTED.into_response())
            }
        }
    }

    async fn blob(&self, repo: &Repository, d: &Digest, get: bool) -> Answer {
        self.caller.require(AREA, false)?;
        let unknown = || {
            V2Error::new(
                StatusCode::NOT_FOUND,
                "BLOB_UNKNOWN",
                format!("no blob {d} in {repo}"),
            )
        };
        let Some((file, size)) = self.opts.registry.open_blob(repo, d).await? else {
            return Err(unknown());
        };
        let range = match self.headers.get(header::RANGE) {
            Some(v) => Some(parse_range(v, size)?),
            None => None,
        };
        let (start, end) = range.unwrap_or((0, size.saturating_sub(1)));
        let len = if size == 0 { 0 } else { end - start + 1 };
        let body = if get && len > 0 {
            use tokio::io::AsyncSeekExt as _;
            let mut file = file;
            if start > 0 {
                file.seek(std::io::SeekFrom::Start(start))
                    .await
                    .map_err(|e| io_error("cannot read", d, e))?;
            }
            super::file_body(file, len).await
        } else {
            Body::empty()
        };
        let mut res = Response::new(body);
        if range.is_some() {
            *res.status_mut() = StatusCode::PARTIAL_CONTENT;
            res.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(format!("bytes {start}-{end}/{size}")),
            );
        }
        let h = res.headers_mut();
        h.insert(header::CONTENT_LENGTH, len.into());
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        h.insert(CONTENT_DIGEST, header_value(d));
        h.insert(header::ETAG, header_value(format!("\"{d}\"")));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=31536000"),
        );
        Ok(res)
    }

    async fn delete_blob(&self, repo: &Repository, d: &Digest) -> Answer {
        self.caller.require(AREA, true)?;
        if !self.opts.registry.unlink_blob(repo, d).await? {
            return Err(V2Error::new(
                StatusCode::NOT_FOUND,
                "BLOB_UNKNOWN",
                format!("no blob {d} in {repo}"),
            ));
        }
        Ok(StatusCode::ACCEPTED.into_response())
    }

    fn idle(&self) -> Duration {
        self.app.limits.body_timeout
    }

    /// `201 Created` for a blob now in `repo`.
    fn created(repo: &Repository, d: &Digest) -> Response {
        let mut res = StatusCode::CREATED.into_response();
        let h = res.headers_mut();
        h.insert(
            header::LOCATION,
            header_value(format!("/v2/{repo}/blobs/{d}")),
        );
        h.insert(CONTENT_DIGEST, header_value(d));
        h.insert(header::CONTENT_LENGTH, 0.into());
        res
    }

    /// `202 Accepted` for an upload holding `held` bytes (204 for a status).
    fn accepted(status: StatusCode, repo: &Repository, id: &str, held: u64) -> Response {
        let mut res = status.into_response();
        let h = res.headers_mut();
        h.insert(
            header::LOCATION,
            header_value(format!("/v2/{repo}/blobs/uploads/{id}")),
        );
        h.insert(header::RANGE, header_value(range_value(held)));
        h.insert(UPLOAD_UUID, header_value(id));
        h.insert(header::CONTENT_LENGTH, 0.into());
        res
    }

    async fn start_upload(&self, repo: &Repository, body: Body) -> Answer {
        self.caller.require(AREA, true)?;
        let q: UploadQuery = query(self.query)?;
        let registry = &self.opts.registry;
        if let Some(from) = &q.from {
            Repository::parse(from)?;
        }
        if let (Some(mount), Some(from)) = (&q.mount, &q.from) {
            let d = Digest::parse(mount)?;
            let from = Repository::parse(from)?;
            if registry.mount(&from, repo, &d, by(&self.caller)).await? {
                return Ok(Self::created(repo, &d));
            }
            // Not there to mount: the client uploads it (distribution's
            // answer too).
        } else if let Some(mount) = &q.mount {
            // No `from`: any repository of the registry that serves it
            // (every one is readable to whoever may push here).
            let d = Digest::parse(mount)?;
            if registry.mount_anywhere(repo, &d, by(&self.caller)).await? {
                return Ok(Self::created(repo, &d));
            }
        } else if let Some(digest) = &q.digest {
            let d = Digest::parse(digest)?;
            let stream = body_stream(body, self.idle());
            registry
                .put_blob(repo, &d, by(&self.caller), self.opts.max_blob, stream)
                .await?;
            return Ok(Self::created(repo, &d));
        }
        let id = registry.start_upload(repo, by(&self.caller)).await?;
        Ok(Self::accepted(StatusCode::ACCEPTED, repo, &id, 0))
    }

    async fn upload_status(&self, repo: &Repository, id: &str) -> Answer {
        self.caller.require(AREA, true)?;
        let held = self
            .opts
            .registry
            .upload_size(repo, id, by(&self.caller))
            .await?;
        Ok(Self::accepted(StatusCode::NO_CONTENT, repo, id, held))
    }

    /// Where a chunk says it starts (`Content-Range: start-end`).
    fn chunk_start(&self) -> Result<Option<u64>, V2Error> {
        let Some(v) = self.headers.get(header::CONTENT_RANGE) else {
            return Ok(None);
        };
        let bad = || {
            V2Error::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "BLOB_UPLOAD_INVALID",
                "Content-Range must be <start>-<end>",
            )
        };
        let v = v.to_str().map_err(|_| bad())?;
        let v = v.strip_prefix("bytes ").unwrap_or(v);
        let (start, end) = v.split_once('-').ok_or_else(bad)?;
        let start: u64 = start.trim().parse().map_err(|_| bad())?;
        let end: u64 = end
            .split('/')
            .next()
            .unwrap_or_default()
            .trim()
            .parse()
            .map_err(|_| bad())?;
        if end < start {
            return Err(bad());
        }
        Ok(Some(start))
    }

    async fn append(&self, repo: &Repository, id: &str, body: Body) -> Result<u64, V2Error> {
        let at = self.chunk_start()?;
        Ok(self
            .opts
            .registry
            .append_upload(
                repo,
                id,
                by(&self.caller),
                at,
                self.opts.max_blob,
                body_stream(body, self.idle()),
            )
            .await?)
    }

    async fn patch(&self, repo: &Repository, id: &str, body: Body) -> Answer {
        self.caller.require(AREA, true)?;
        let held = self.append(repo, id, body).await?;
        Ok(Self::accepted(StatusCode::ACCEPTED, repo, id, held))
    }

    async fn finish(&self, repo: &Repository, id: &str, body: Body) -> Answer {
        self.caller.require(AREA, true)?;
        let q: UploadQuery = query(self.query)?;
        let digest = q.digest.ok_or_else(|| {
            V2Error::new(
                StatusCode::BAD_REQUEST,
                "DIGEST_INVALID",
                "the upload's digest is required (?digest=sha256:...)",
            )
        })?;
        let d = Digest::parse(&digest)?;
        let at = self.chunk_start()?;
        self.opts
            .registry
            .complete_upload(
                repo,
                id,
                by(&self.caller),
                &d,
                at,
                self.opts.max_blob,
                body_stream(body, self.idle()),
            )
            .await?;
        Ok(Self::created(repo, &d))
    }

    async fn cancel(&self, repo: &Repository, id: &str) -> Answer {
        self.caller.require(AREA, true)?;
        self.opts
            .registry
            .cancel_upload(repo, id, by(&self.caller))
            .await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }
}

fn io_error(what: &str, d: &Digest, e: std::io::Error) -> V2Error {
    shipcore::Error::io(format!("{what} blob {d}"), e).into()
}

/// A single `bytes=` range of a blob of `size` bytes: first and last byte.
pub(crate) fn parse_range(v: &HeaderValue, size: u64) -> Result<(u64, u64), V2Error> {
    let bad = || {
        V2Error::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "BLOB_UNKNOWN",
            format!("the range is not one of this blob's {size} bytes"),
        )
    };
    let spec = v
        .to_str()
        .ok()
        .and_then(|v| v.trim().strip_prefix("bytes="))
        .filter(|s| !s.contains(','))
        .ok_or_else(bad)?;
    let (a, b) = spec.split_once('-').ok_or_else(bad)?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        // The last `b` bytes.
        let n: u64 = b.parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(bad());
        }
        (size.saturating_sub(n), size.saturating_sub(1))
    } else {
        let start: u64 = a.parse().map_err(|_| bad())?;
        let end = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse::<u64>()
                .map_err(|_| bad())?
                .min(size.saturating_sub(1))
        };
        (start, end)
    };
    if size == 0 || start > end || start >= size {
        return Err(bad());
    }
    Ok((start, end))
}

/// A request body as the content store reads it: pieces as they arrive,
/// cut off when the client stalls longer than `idle` between two.
fn body_stream(
    body: Body,
    idle: Duration,
) -> impl Stream<Item = Result<Bytes, shipcore::Error>> + Send {
    futures::stream::unfold(Some(body.into_data_stream()), move |data| async move {
        let mut data = data?;
        match tokio::time::timeout(idle, data.next()).await {
            Ok(Some(Ok(piece))) => Some((Ok(piece), Some(data))),
            Ok(None) => None,
            Ok(Some(Err(e))) => Some((
                Err(shipcore::Error::invalid(
                    "body",
                    format!("the body broke off: {e}"),
                )),
                None,
            )),
            Err(_) => Some((
                Err(shipcore::Error::invalid(
                    "body",
                    format!("no data for {}s", idle.as_secs()),
                )),
                None,
            )),
        }
    })
}

/// A whole (small) body, refused past `limit` bytes.
async fn read_limited(body: Body, limit: usize, idle: Duration) -> Result<Vec<u8>, V2Error> {
    let mut out = Vec::new();
    let mut stream = std::pin::pin!(body_stream(body, idle));
    while let Some(piece) = stream.next().await {
        let piece = piece?;
        if out.len() + piece.len() > limit {
            return Err(V2Error::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "SIZE_INVALID",
                format!("larger than the {limit} bytes allowed"),
            ));
        }
        out.extend_from_slice(&piece);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn paths_name_what_they_address() {
        let hex = "a".repeat(64);
        let d = Digest::parse(&format!("sha256:{hex}")).unwrap();
        let r = |s: &str| Repository::parse(s).unwrap();
        assert_eq!(parse_target("_catalog").unwrap(), Target::Catalog);
        assert_eq!(
            parse_target("a/b/tags/list").unwrap(),
            Target::Tags(r("a/b"))
        );
        assert_eq!(
            parse_target("a/b/c/manifests/1.0").unwrap(),
            Target::Manifest(r("a/b/c"), Ok(Reference::Tag("1.0".into())))
        );
        // A reference that is no tag or digest is kept as the error it is
        // (a GET of it answers 404, a PUT 400): never a path.
        for bad in ["a/manifests/.bad", "a/manifests/../../x"] {
            assert!(matches!(
                parse_target(bad).unwrap(),
                Target::Manifest(_, Err(_))
            ));
        }
        assert_eq!(
            parse_target(&format!("a/b/referrers/sha256:{hex}")).unwrap(),
            Target::Referrers(r("a/b"), Ok(d))
        );
        // A repository with a part named `referrers`: its other routes.
        assert_eq!(
            parse_target("a/referrers/tags/list").unwrap(),
            Target::Tags(r("a/referrers"))
        );
        assert_eq!(
            parse_target(&format!("blobs/blobs/sha256:{hex}")).unwrap(),
            Target::Blob(r("blobs"), d)
        );
        assert_eq!(
            parse_target("x/blobs/uploads/").unwrap(),
            Target::Uploads(r("x"))
        );
        assert_eq!(
            parse_target("x/blobs/uploads/abc").unwrap(),
            Target::Upload(r("x"), "abc".into())
        );
        for bad in [
            "../etc/tags/list",
            "a/%2e%2e/manifests/1",
            "a/blobs/sha256:../../etc/passwd",
            "/abs/tags/list",
            "a//b/tags/list",
            "a/blobs/uploads/x/y",
            "nothing",
        ] {
            let e = parse_target(bad).unwrap_err();
            assert!(
                e.status == StatusCode::BAD_REQUEST || e.status == StatusCode::NOT_FOUND,
                "{bad}: {e:?}"
            );
        }
        assert_eq!(
            parse_target("../etc/tags/list").unwrap_err().code,
            "NAME_INVALID"
        );
        assert_eq!(
            parse_target("a/blobs/sha256:xyz").unwrap_err().code,
            "DIGEST_INVALID"
        );
    }

    #[test]
    fn core_errors_map_by_kind_once_for_every_path() {
        use shipcore::registry::RegistrySubject as S;
        let v2 = |e: shipcore::Error| {
            let e = V2Error::from(e);
            (e.status.as_u16(), e.code, e.range)
        };
        assert_eq!(
            v2(shipcore::Error::registry_invalid(S::Tag, "x")),
            (400, "TAG_INVALID", None)
        );
        assert_eq!(
            v2(shipcore::Error::registry_invalid(S::Blob, "too big")),
            (400, "SIZE_INVALID", None)
        );
        assert_eq!(
            v2(shipcore::Error::registry_unknown(S::Repository, "a/b")),
            (404, "NAME_UNKNOWN", None)
        );
        assert_eq!(
            v2(shipcore::Error::ManifestReference {
                repository: "a/b".into(),
                what: S::Blob,
                id: "sha256:00".into(),
            }),
            (400, "MANIFEST_BLOB_UNKNOWN", None)
        );
        assert_eq!(
            v2(shipcore::Error::UploadOffset {
                upload: "u".into(),
                held: 100,
                at: 200
            }),
            (416, "BLOB_UPLOAD_INVALID", Some(100))
        );
        assert_eq!(
            v2(shipcore::Error::UploadBusy {
                upload: "u".into(),
                held: Some(7)
            }),
            (416, "BLOB_UPLOAD_INVALID", Some(7))
        );
        assert_eq!(
            v2(shipcore::Error::invalid("body", "no data for 5s")),
            (400, "BLOB_UPLOAD_INVALID", None)
        );
        // A failure from an extractor or a layer meets the same mapping.
        let f = Error::Core(shipcore::Error::TooMany {
            reason: "slow down".into(),
            retry_after: 3,
        })
        .into_failure();
        let e = V2Error::from(f);
        assert_eq!(
            (e.status.as_u16(), e.code, e.retry_after),
            (429, "TOOMANYREQUESTS", Some(3))
        );
        let e = V2Error::from(Error::Unauthorized("who are you".into()));
        assert_eq!((e.status.as_u16(), e.code), (401, "UNAUTHORIZED"));
    }

    #[test]
    fn ranges() {
        let v = |s: &str| HeaderValue::from_str(s).unwrap();
        assert_eq!(parse_range(&v("bytes=0-9"), 100).unwrap(), (0, 9));
        assert_eq!(parse_range(&v("bytes=90-"), 100).unwrap(), (90, 99));
        assert_eq!(parse_range(&v("bytes=-10"), 100).unwrap(), (90, 99));
        assert_eq!(parse_range(&v("bytes=95-200"), 100).unwrap(), (95, 99));
        for bad in [
            "bytes=100-",
            "bytes=5-1",
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=-0",
        ] {
            assert!(parse_range(&v(bad), 100).is_err(), "{bad}");
        }
        assert!(parse_range(&v("bytes=0-0"), 0).is_err());
    }
}
