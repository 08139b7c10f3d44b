//! The OpenAPI operations of the routes that one handler serves for many
//! paths (`/v2/...` and `/docker/ext/...`: a repository name has any
//! number of segments, which axum's routes cannot template). These
//! functions only carry the documentation; `v2.rs` and `docker_ext.rs`
//! serve the calls. Their errors come in their own envelopes: the
//! distribution spec's `{"errors":[{code,message,detail}]}` and 004's
//! `{code,message,data,traceId}`.

#![allow(dead_code)]

/// The distribution spec's error body.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct DistributionErrors {
    /// `[{"code": "BLOB_UNKNOWN", "message": "...", "detail": null}]`
    pub errors: Vec<serde_json::Value>,
}

/// Seed 004's envelope.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ExtEnvelope {
    /// 0 for success, else the HTTP status.
    pub code: u16,
    pub message: Option<String>,
    pub data: serde_json::Value,
    #[serde(rename = "traceId")]
    pub trace_id: String,
}

macro_rules! v2 {
    ($name:ident, $method:ident, $path:literal, $ok:literal, $what:literal) => {
        #[utoipa::path($method, path = $path, tag = "distribution",
            responses(
                (status = $ok, description = $what),
                (status = 400, description = "Invalid name, reference, digest or manifest", body = DistributionErrors),
                (status = 401, description = "No valid credentials (WWW-Authenticate: Basic)", body = DistributionErrors),
                (status = 403, description = "Not permitted to the caller's role", body = DistributionErrors),
                (status = 404, description = "Unknown repository, manifest, blob or upload", body = DistributionErrors),
            ))]
        fn $name() {}
    };
}

v2!(ping, get, "/v2/", 200, "Credentials are valid");
v2!(
    catalog,
    get,
    "/v2/_catalog",
    200,
    "`{repositories}`, `n`/`last` paging with a Link header"
);
v2!(
    tags,
    get,
    "/v2/{name}/tags/list",
    200,
    "`{name, tags}`, `n`/`last` paging"
);
v2!(
    manifest_get,
    get,
    "/v2/{name}/manifests/{reference}",
    200,
    "The manifest as pushed, with Docker-Content-Digest"
);
v2!(
    manifest_head,
    head,
    "/v2/{name}/manifests/{reference}",
    200,
    "The manifest's type, size and digest"
);
v2!(
    manifest_put,
    put,
    "/v2/{name}/manifests/{reference}",
    201,
    "Stored; its blobs must be in the repository"
);
v2!(
    manifest_delete,
    delete,
    "/v2/{name}/manifests/{reference}",
    202,
    "The manifest (by digest) or the tag deleted"
);
v2!(
    blob_get,
    get,
    "/v2/{name}/blobs/{digest}",
    200,
    "The blob (206 for a Range)"
);
v2!(
    blob_head,
    head,
    "/v2/{name}/blobs/{digest}",
    200,
    "The blob's size and digest"
);
v2!(
    blob_delete,
    delete,
    "/v2/{name}/blobs/{digest}",
    202,
    "The repository no longer serves the blob"
);
v2!(upload_start, post, "/v2/{name}/blobs/uploads/", 202, "An upload started (Location, Docker-Upload-UUID); 201 for `?digest=` with the whole blob or a `?mount=&from=` mounted");
v2!(
    upload_status,
    get,
    "/v2/{name}/blobs/uploads/{uuid}",
    204,
    "The bytes received (Range)"
);
v2!(
    upload_patch,
    patch,
    "/v2/{name}/blobs/uploads/{uuid}",
    202,
    "A chunk appended (Content-Range checked; 416 out of order)"
);
v2!(
    upload_put,
    put,
    "/v2/{name}/blobs/uploads/{uuid}",
    201,
    "The upload checked against `?digest=` and published"
);
v2!(
    upload_delete,
    delete,
    "/v2/{name}/blobs/uploads/{uuid}",
    204,
    "The upload cancelled"
);

macro_rules! ext {
    ($name:ident, $method:ident, $path:literal, $what:literal) => {
        #[utoipa::path($method, path = $path, tag = "docker-ext",
            responses(
                (status = 200, description = $what, body = ExtEnvelope),
                (status = 400, description = "Invalid name, tag or paging", body = ExtEnvelope),
                (status = 401, description = "No valid credentials", body = ExtEnvelope),
                (status = 403, description = "Not permitted to the caller's role", body = ExtEnvelope),
                (status = 404, description = "No such image, tag or layer", body = ExtEnvelope),
            ))]
        fn $name() {}
    };
}

ext!(
    ext_manifest,
    get,
    "/docker/ext/manifest/{projectId}/{repoName}/{name}/{tag}",
    "The manifest as a JSON string"
);
ext!(
    ext_layer,
    get,
    "/docker/ext/layer/{projectId}/{repoName}/{name}/{Id}",
    "The layer's bytes"
);
ext!(
    ext_repo,
    get,
    "/docker/ext/repo/{projectId}/{repoName}",
    "`{totalRecords, records}` of images (`pageNumber`, `pageSize`, `name`)"
);
ext!(
    ext_tag,
    get,
    "/docker/ext/tag/{projectId}/{repoName}/{name}",
    "`{totalRecords, records}` of tags (`pageNumber`, `pageSize`, `tag`)"
);
ext!(
    ext_package_delete,
    delete,
    "/docker/ext/package/delete/{projectId}/{repoName}",
    "The image (`packageKey`) and its tags deleted: `true`"
);
ext!(
    ext_version_delete,
    delete,
    "/docker/ext/version/delete/{projectId}/{repoName}",
    "The tag (`packageKey`, `version`) deleted: `true`"
);
ext!(
    ext_version_detail,
    get,
    "/docker/ext/version/detail/{projectId}/{repoName}",
    "`{basic, history, metadata, layers}` of a tag"
);
ext!(ext_addr, get, "/docker/ext/addr", "The registry's address");

/// The operations above.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        ping,
        catalog,
        tags,
        manifest_get,
        manifest_head,
        manifest_put,
        manifest_delete,
        blob_get,
        blob_head,
        blob_delete,
        upload_start,
        upload_status,
        upload_patch,
        upload_put,
        upload_delete,
        ext_manifest,
        ext_layer,
        ext_repo,
        ext_tag,
        ext_package_delete,
        ext_version_delete,
        ext_version_detail,
        ext_addr
    ),
    components(schemas(DistributionErrors, ExtEnvelope))
)]
pub struct Doc;
