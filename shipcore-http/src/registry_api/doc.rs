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
    ($name:ident, $method:ident, $path:literal, $ok:literal, $what:literal $(, $param:literal = $about:literal)*) => {
        #[utoipa::path($method, path = $path, tag = "distribution",
            params($(($param = String, Path, description = $about)),*),
            responses(
                (status = $ok, description = $what),
                (status = 400, description = "Invalid name, reference, digest or manifest", body = DistributionErrors),
                (status = 401, description = "No valid credentials (WWW-Authenticate: Basic)", body = DistributionErrors),
                (status = 403, description = "Not permitted to the caller's role", body = DistributionErrors),
                (status = 404, description = "Unknown repository, manifest, blob or upload", body = DistributionErrors),
                (status = 429, description = "Too many failed logins from this address or for this username (Retry-After)", body = DistributionErrors),
                (status = 503, description = "The request's deadline passed, or the server is too busy checking passwords (Retry-After)", body = DistributionErrors),
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
    "`{name, tags}`, `n`/`last` paging",
    "name" = "The repository's name: components separated by `/`, any number of them (`library/busybox`)"
);
v2!(
    manifest_get,
    get,
    "/v2/{name}/manifests/{reference}",
    200,
    "The manifest as pushed, with Docker-Content-Digest",
    "name" = "The repository's name: components separated by `/`, any number of them (`library/busybox`)",
    "reference" = "A tag (`1.0`) or a digest (`sha256:<64 hex>`, `sha512:<128 hex>`)"
);
v2!(
    manifest_head,
    head,
    "/v2/{name}/manifests/{reference}",
    200,
    "The manifest's type, size and digest",
    "name" = "The repository's name: components separated by `/`, any number of them (`library/busybox`)",
    "reference" = "A tag (`1.0`) or a digest (`sha256:<64 hex>`, `sha512:<128 hex>`)"
);
v2!(
    manifest_put,
    put,
    "/v2/{name}/manifests/{reference}",
    201,
    "Stored (up to 4 MiB; 413 past it); its blobs and child manifests must be in the repository, foreign layers excepted. `?tag=` (repeated) with a digest tags it too (OCI-Tag). A `subject` is answered in OCI-Subject",
    "name" = "The repository's name: components separated by `/`, any number of them (`library/busybox`)",
    "reference" = "A tag (`1.0`) or a digest (`sha256:<64 hex>`, `sha512:<128 hex>`)"
);
v2!(
    manifest_delete,
    delete,
    "/v2/{name}/manifests/{reference}",
    202,
    "The manifest (by digest) or the tag deleted",
    "name" = "The repository's name: components separated by `/`, any number of them (`library/busybox`)",
    "reference" = "A tag (`1.0`) or a digest (`sha256:<64 hex>`, `sha512:<128 hex>`)"
);
v2!(
    referrers,
    get,
    "/v2/{name}/referrers/{digest}",
    200,
    "An OCI index of the manifests whose subject is the digest; `?artifactType=` filters (and OCI-Filters-Applied says so); empty when none",
    "name" = "The repository's name: components separated by `/`, any number of them (`library/busybox`)",
    "digest" = "A digest: `sha256:<64 hex>` or `sha512:<128 hex>`"
);
v2!(
    blob_get,
    get,
    "/v2/{name}/blobs/{digest}",
    200,
    "The blob (206 for a Range)",
    "name" = "The repository's name: components separated by `/`, any number of them (`library/busybox`)",
    "digest" = "A digest: `sha256:<64 hex>` or `sha512:<128 hex>`"
);
v2!(
    blob_head,
    head,
    "/v2/{name}/blobs/{digest}",
    200,
    "The blob's size and digest",
    "name" = "The repository's name: components separated by `/`, any number of them (`library/busybox`)",
    "digest" = "A digest: `sha256:<64 hex>` or `sha512:<128 hex>`"
);
v2!(
    blob_delete,
    delete,
    "/v2/{name}/blobs/{digest}",
    202,
    "The repository no longer serves the blob",
    "name" = "The repository's name: components separated by `/`, any number of them (`library/busybox`)",
    "digest" = "A digest: `sha256:<64 hex>` or `sha512:<128 hex>`"
);
v2!(
    upload_start,
    post,
    "/v2/{name}/blobs/uploads/",
    202,
    "An upload started (Location, Docker-Upload-UUID); 201 for `?digest=` with the whole blob or a mount (`?mount=` with or without `&from=`) done",
    "name" = "The repository's name: components separated by `/`, any number of them (`library/busybox`)"
);
v2!(
    upload_status,
    get,
    "/v2/{name}/blobs/uploads/{uuid}",
    204,
    "The bytes received (Range)",
    "name" = "The repository's name: components separated by `/`, any number of them (`library/busybox`)",
    "uuid" = "The upload's id, from the `Location` of the POST that started it"
);
v2!(
    upload_patch,
    patch,
    "/v2/{name}/blobs/uploads/{uuid}",
    202,
    "A chunk appended (Content-Range checked; 416 out of order)",
    "name" = "The repository's name: components separated by `/`, any number of them (`library/busybox`)",
    "uuid" = "The upload's id, from the `Location` of the POST that started it"
);
v2!(
    upload_put,
    put,
    "/v2/{name}/blobs/uploads/{uuid}",
    201,
    "The upload checked against `?digest=` and published",
    "name" = "The repository's name: components separated by `/`, any number of them (`library/busybox`)",
    "uuid" = "The upload's id, from the `Location` of the POST that started it"
);
v2!(
    upload_delete,
    delete,
    "/v2/{name}/blobs/uploads/{uuid}",
    204,
    "The upload cancelled",
    "name" = "The repository's name: components separated by `/`, any number of them (`library/busybox`)",
    "uuid" = "The upload's id, from the `Location` of the POST that started it"
);

macro_rules! ext {
    ($name:ident, $method:ident, $path:literal, $what:literal $(, $param:literal = $about:literal)* $(; $($query:tt)+)?) => {
        #[utoipa::path($method, path = $path, tag = "docker-ext",
            params($(($param = String, Path, description = $about)),* $(, $($query)+)?),
            responses(
                (status = 200, description = $what, body = ExtEnvelope),
                (status = 400, description = "Invalid name, tag or paging", body = ExtEnvelope),
                (status = 401, description = "No valid credentials", body = ExtEnvelope),
                (status = 403, description = "Not permitted to the caller's role", body = ExtEnvelope),
                (status = 404, description = "No such image, tag or layer", body = ExtEnvelope),
                (status = 429, description = "Too many failed logins from this address or for this username (Retry-After)", body = ExtEnvelope),
                (status = 503, description = "The request's deadline passed, or the server is too busy checking passwords (Retry-After)", body = ExtEnvelope),
            ))]
        fn $name() {}
    };
}

ext!(
    ext_manifest,
    get,
    "/docker/ext/manifest/{projectId}/{repoName}/{name}/{tag}",
    "The manifest as a JSON string",
    "projectId" = "The project: the first component of the repository's name",
    "repoName" = "The repository's component after the project",
    "name" = "The image's name: the repository's last components",
    "tag" = "The image's tag"
);
ext!(
    ext_layer,
    get,
    "/docker/ext/layer/{projectId}/{repoName}/{name}/{Id}",
    "The layer's bytes",
    "projectId" = "The project: the first component of the repository's name",
    "repoName" = "The repository's component after the project",
    "name" = "The image's name: the repository's last components",
    "Id" = "The layer's digest"
);
ext!(
    ext_repo,
    get,
    "/docker/ext/repo/{projectId}/{repoName}",
    "`{totalRecords, records}` of images (`pageNumber`, `pageSize`, `name`)",
    "projectId" = "The project: the first component of the repository's name",
    "repoName" = "The repository's component after the project";
    ("pageNumber" = Option<u32>, Query, description = "Page, from 1 (0 is 1 too)", maximum = 1000000), ("pageSize" = Option<u32>, Query, description = "Items per page (20 by default, at most 1000)", minimum = 1, maximum = 1000), ("name" = Option<String>, Query, description = "Only images whose name contains this")
);
ext!(
    ext_tag,
    get,
    "/docker/ext/tag/{projectId}/{repoName}/{name}",
    "`{totalRecords, records}` of tags (`pageNumber`, `pageSize`, `tag`)",
    "projectId" = "The project: the first component of the repository's name",
    "repoName" = "The repository's component after the project",
    "name" = "The image's name: the repository's last components";
    ("pageNumber" = Option<u32>, Query, description = "Page, from 1 (0 is 1 too)", maximum = 1000000), ("pageSize" = Option<u32>, Query, description = "Items per page (20 by default, at most 1000)", minimum = 1, maximum = 1000), ("tag" = Option<String>, Query, description = "Only tags containing this")
);
ext!(
    ext_package_delete,
    delete,
    "/docker/ext/package/delete/{projectId}/{repoName}",
    "The image (`packageKey`) and its tags deleted: `true`",
    "projectId" = "The project: the first component of the repository's name",
    "repoName" = "The repository's component after the project";
    ("packageKey" = String, Query, description = "The image: the repository's last components")
);
ext!(
    ext_version_delete,
    delete,
    "/docker/ext/version/delete/{projectId}/{repoName}",
    "The tag (`packageKey`, `version`) deleted: `true`",
    "projectId" = "The project: the first component of the repository's name",
    "repoName" = "The repository's component after the project";
    ("packageKey" = String, Query, description = "The image: the repository's last components"), ("version" = String, Query, description = "The tag")
);
ext!(
    ext_version_detail,
    get,
    "/docker/ext/version/detail/{projectId}/{repoName}",
    "`{basic, history, metadata, layers}` of a tag",
    "projectId" = "The project: the first component of the repository's name",
    "repoName" = "The repository's component after the project";
    ("packageKey" = String, Query, description = "The image: the repository's last components"), ("version" = String, Query, description = "The tag")
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
        referrers,
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
