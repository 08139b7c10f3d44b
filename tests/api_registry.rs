//! The image registry over HTTP, on fake engines (no engine needed): the
//! distribution API as docker and skopeo call it (uploads monolithic and
//! chunked, mount, manifests, tags, catalog, ranges, errors in the spec's
//! form), bad digests and traversal attempts refused, the role rules, and
//! every endpoint of seed 004 (`/docker/ext`) and seed 002 part 2
//! (`/harbor`) with its body checked. Real clients (docker, skopeo) and a
//! deploy from the registry run over the test bed in `registry_engines.rs`.
//!
//! An upload belongs to the repository it was opened on and to the caller
//! who opened it: another account that may write the registry, an admin
//! included, or the opener naming another repository, finds no such upload
//! (`BLOB_UPLOAD_UNKNOWN`, answered as for an id never made). An upload
//! with no recorded owner (made before uploads had one) is unknown to
//! everyone. What the registry writes on disk is `0700` folders and `0600`
//! files.
#![allow(clippy::unwrap_used)]

mod support;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use shipcore::testing::Fixture;
use support::http::{admin, start, Api, Cred};

fn digest(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

struct Answer {
    status: u16,
    headers: axum::http::HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }
    fn code(&self) -> String {
        self.json()["errors"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    fn message(&self) -> String {
        self.json()["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

async fn raw(
    api: &Api,
    method: &str,
    path: &str,
    cred: &Cred,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Answer {
    let mut req = axum::http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", api.base));
    match cred {
        Cred::None => {}
        Cred::Key(k) => req = req.header("X-Service-Key", k),
        Cred::Token(u, t) => req = req.header("X-Access-Token", format!("{u}:{t}")),
        Cred::Basic(u, p) => {
            use base64::Engine as _;
            let t = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            req = req.header("Authorization", format!("Basic {t}"));
        }
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = api
        .client
        .request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}

async fn fixture() -> Api {
    start(
        Fixture::fake(1, 4_000, 8_192, &["shipcore/busybox:latest"])
            .await
            .unwrap(),
    )
    .await
}

/// Pushes a blob in one request; its digest.
async fn push_blob(api: &Api, repo: &str, data: &[u8]) -> String {
    let d = digest(data);
    let a = raw(
        api,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/?digest={d}"),
        &admin(),
        &[("Content-Type", "application/octet-stream")],
        data.to_vec(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    d
}

/// An image manifest of a config and layers.
fn image_manifest(config: (&str, usize), layers: &[(&str, usize)]) -> String {
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config.0, "size": config.1},
        "layers": layers.iter().map(|(d, n)| json!({"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": d, "size": n})).collect::<Vec<_>>(),
    })
    .to_string()
}

const CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]},"history":[{"created":"2026-01-01T00:00:00Z","created_by":"/bin/sh -c #(nop) ADD file in /"}]}"#;

/// Pushes an image (config + one layer) as `repo:tag`; the manifest's digest.
async fn push_image(api: &Api, repo: &str, tag: &str, layer: &[u8]) -> String {
    let c = push_blob(api, repo, CONFIG.as_bytes()).await;
    let l = push_blob(api, repo, layer).await;
    let m = image_manifest((&c, CONFIG.len()), &[(&l, layer.len())]);
    let a = raw(
        api,
        "PUT",
        &format!("/v2/{repo}/manifests/{tag}"),
        &admin(),
        &[(
            "Content-Type",
            "application/vnd.docker.distribution.manifest.v2+json",
        )],
        m.clone().into_bytes(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.header("docker-content-digest"), digest(m.as_bytes()));
    digest(m.as_bytes())
}

#[tokio::test]
async fn the_distribution_api_as_clients_call_it() {
    let api = fixture().await;
    // The ping challenges for basic auth, as `docker login` expects.
    let a = raw(&api, "GET", "/v2/", &Cred::None, &[], vec![]).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.header("www-authenticate"), "Basic realm=\"shipcore\"");
    assert_eq!(a.header("docker-distribution-api-version"), "registry/2.0");
    assert_eq!(a.code(), "UNAUTHORIZED");
    let a = raw(&api, "GET", "/v2/", &admin(), &[], vec![]).await;
    assert_eq!(a.status, 200);

    // A chunked upload: POST, two PATCHes with Content-Range, PUT.
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let d = digest(&data);
    let a = raw(
        &api,
        "POST",
        "/v2/team/app/blobs/uploads/",
        &admin(),
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 202);
    let location = a.header("location");
    let uuid = a.header("docker-upload-uuid");
    assert!(location.ends_with(&uuid), "{location}");
    assert_eq!(a.header("range"), "0-0");
    let a = raw(
        &api,
        "PATCH",
        &location,
        &admin(),
        &[("Content-Range", "0-99999")],
        data[..100_000].to_vec(),
    )
    .await;
    assert_eq!(a.status, 202);
    assert_eq!(a.header("range"), "0-99999");
    // A chunk out of order: 416, and the upload holds what it held.
    let a = raw(
        &api,
        "PATCH",
        &location,
        &admin(),
        &[("Content-Range", "200000-299999")],
        data[200_000..].to_vec(),
    )
    .await;
    assert_eq!(a.status, 416);
    assert_eq!(a.header("range"), "0-99999");
    let a = raw(&api, "GET", &location, &admin(), &[], vec![]).await;
    assert_eq!(a.status, 204);
    assert_eq!(a.header("range"), "0-99999");
    let a = raw(
        &api,
        "PATCH",
        &location,
        &admin(),
        &[("Content-Range", "100000-199999")],
        data[100_000..200_000].to_vec(),
    )
    .await;
    assert_eq!(a.status, 202);
    let a = raw(
        &api,
        "PUT",
        &format!("{location}?digest={d}"),
        &admin(),
        &[],
        data[200_000..].to_vec(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.header("location"), format!("/v2/team/app/blobs/{d}"));
    assert_eq!(a.header("docker-content-digest"), d);

    // Served whole, and by range.
    let blob = format!("/v2/team/app/blobs/{d}");
    let a = raw(&api, "HEAD", &blob, &admin(), &[], vec![]).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-length"), "300000");
    assert_eq!(a.header("docker-content-digest"), d);
    let a = raw(&api, "GET", &blob, &admin(), &[], vec![]).await;
    assert_eq!(a.body.as_ref(), &data[..]);
    let a = raw(
        &api,
        "GET",
        &blob,
        &admin(),
        &[("Range", "bytes=10-19")],
        vec![],
    )
    .await;
    assert_eq!(a.status, 206);
    assert_eq!(a.body.as_ref(), &data[10..20]);
    assert_eq!(a.header("content-range"), "bytes 10-19/300000");
    let a = raw(
        &api,
        "GET",
        &blob,
        &admin(),
        &[("Range", "bytes=400000-")],
        vec![],
    )
    .await;
    assert_eq!(a.status, 416);
    // Another repository cannot serve it until it is mounted there.
    let other = format!("/v2/other/blobs/{d}");
    assert_eq!(
        raw(&api, "HEAD", &other, &admin(), &[], vec![])
            .await
            .status,
        404
    );
    let a = raw(
        &api,
        "POST",
        &format!("/v2/other/blobs/uploads/?mount={d}&from=team/app"),
        &admin(),
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 201);
    assert_eq!(
        raw(&api, "HEAD", &other, &admin(), &[], vec![])
            .await
            .status,
        200
    );
    // Mounting what the source lacks starts an upload instead.
    let a = raw(
        &api,
        "POST",
        &format!(
            "/v2/third/blobs/uploads/?mount={}&from=team/app",
            digest(b"nope")
        ),
        &admin(),
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 202);
    let cancel = a.header("location");
    assert_eq!(
        raw(&api, "DELETE", &cancel, &admin(), &[], vec![])
            .await
            .status,
        204
    );
    let a = raw(&api, "GET", &cancel, &admin(), &[], vec![]).await;
    assert_eq!((a.status, a.code().as_str()), (404, "BLOB_UPLOAD_UNKNOWN"));

    // Manifests: refused while a blob is missing, then stored by tag.
    let config = push_blob(&api, "team/app", CONFIG.as_bytes()).await;
    let missing = digest(b"not pushed");
    let m = image_manifest((&config, CONFIG.len()), &[(&missing, 10)]);
    let a = raw(
        &api,
        "PUT",
        "/v2/team/app/manifests/1.0",
        &admin(),
        &[(
            "Content-Type",
            "application/vnd.docker.distribution.manifest.v2+json",
        )],
        m.into_bytes(),
    )
    .await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (400, "MANIFEST_BLOB_UNKNOWN")
    );
    let m = image_manifest((&config, CONFIG.len()), &[(&d, data.len())]);
    let md = digest(m.as_bytes());
    for tag in ["1.0", "1.1", "2.0"] {
        let a = raw(
            &api,
            "PUT",
            &format!("/v2/team/app/manifests/{tag}"),
            &admin(),
            &[(
                "Content-Type",
                "application/vnd.docker.distribution.manifest.v2+json",
            )],
            m.clone().into_bytes(),
        )
        .await;
        assert_eq!(a.status, 201);
        assert_eq!(a.header("location"), format!("/v2/team/app/manifests/{md}"));
    }
    for reference in ["1.0", md.as_str()] {
        let a = raw(
            &api,
            "GET",
            &format!("/v2/team/app/manifests/{reference}"),
            &admin(),
            &[(
                "Accept",
                "application/vnd.docker.distribution.manifest.v2+json",
            )],
            vec![],
        )
        .await;
        assert_eq!(a.status, 200);
        assert_eq!(a.body.as_ref(), m.as_bytes());
        assert_eq!(
            a.header("content-type"),
            "application/vnd.docker.distribution.manifest.v2+json"
        );
        assert_eq!(a.header("docker-content-digest"), md);
    }
    let a = raw(
        &api,
        "HEAD",
        "/v2/team/app/manifests/2.0",
        &admin(),
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-length"), m.len().to_string());
    let a = raw(
        &api,
        "GET",
        "/v2/team/app/manifests/9.9",
        &admin(),
        &[],
        vec![],
    )
    .await;
    assert_eq!((a.status, a.code().as_str()), (404, "MANIFEST_UNKNOWN"));

    // Tags and catalog, paged.
    let a = raw(
        &api,
        "GET",
        "/v2/team/app/tags/list?n=2",
        &admin(),
        &[],
        vec![],
    )
    .await;
    assert_eq!(
        a.json(),
        json!({"name": "team/app", "tags": ["1.0", "1.1"]})
    );
    assert_eq!(
        a.header("link"),
        "</v2/team/app/tags/list?n=2&last=1.1>; rel=\"next\""
    );
    let a = raw(
        &api,
        "GET",
        "/v2/team/app/tags/list?n=2&last=1.1",
        &admin(),
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.json()["tags"], json!(["2.0"]));
    let a = raw(&api, "GET", "/v2/_catalog", &admin(), &[], vec![]).await;
    assert_eq!(a.json(), json!({"repositories": ["other", "team/app"]}));
    let a = raw(&api, "GET", "/v2/nothing/tags/list", &admin(), &[], vec![]).await;
    assert_eq!((a.status, a.code().as_str()), (404, "NAME_UNKNOWN"));

    // Deletes: a tag, a manifest (and its other tags), a blob link.
    let a = raw(
        &api,
        "DELETE",
        "/v2/team/app/manifests/2.0",
        &admin(),
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 202);
    let a = raw(
        &api,
        "DELETE",
        &format!("/v2/team/app/manifests/{md}"),
        &admin(),
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 202);
    let a = raw(&api, "GET", "/v2/team/app/tags/list", &admin(), &[], vec![]).await;
    assert_eq!(a.json()["tags"], json!([]));
    assert_eq!(
        raw(&api, "DELETE", &other, &admin(), &[], vec![])
            .await
            .status,
        202
    );
    assert_eq!(
        raw(&api, "HEAD", &other, &admin(), &[], vec![])
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn bad_digests_and_names_are_refused_and_leave_nothing() {
    let api = fixture().await;
    let data = b"the real bytes".to_vec();
    let wrong = digest(b"other bytes");
    // Monolithic with the wrong digest.
    let a = raw(
        &api,
        "POST",
        &format!("/v2/app/blobs/uploads/?digest={wrong}"),
        &admin(),
        &[],
        data.clone(),
    )
    .await;
    assert_eq!((a.status, a.code().as_str()), (400, "DIGEST_INVALID"));
    // Chunked, with the wrong digest at the end: the upload is gone too.
    let a = raw(
        &api,
        "POST",
        "/v2/app/blobs/uploads/",
        &admin(),
        &[],
        vec![],
    )
    .await;
    let location = a.header("location");
    raw(&api, "PATCH", &location, &admin(), &[], data.clone()).await;
    let a = raw(
        &api,
        "PUT",
        &format!("{location}?digest={wrong}"),
        &admin(),
        &[],
        vec![],
    )
    .await;
    assert_eq!((a.status, a.code().as_str()), (400, "DIGEST_INVALID"));
    assert_eq!(
        raw(&api, "GET", &location, &admin(), &[], vec![])
            .await
            .status,
        404
    );
    let a = raw(
        &api,
        "HEAD",
        &format!("/v2/app/blobs/{wrong}"),
        &admin(),
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 404);
    // Nothing on disk but the (empty) folders.
    let files = walk(api.content.path());
    assert!(files.is_empty(), "{files:?}");

    // Traversal and encoded tricks, in names, references and digests.
    let hex = "a".repeat(64);
    for path in [
        "/v2/../etc/tags/list".to_string(),
        "/v2/a/%2e%2e/b/tags/list".into(),
        "/v2/a/..%2fb/tags/list".into(),
        "/v2/A/tags/list".into(),
        "/v2/a//b/tags/list".into(),
        "/v2/a/manifests/..%2f..%2fx".into(),
        "/v2/a/manifests/-x".into(),
        "/v2/a/blobs/sha256:..%2f..%2fetc%2fpasswd".into(),
        format!("/v2/a/blobs/sha256:{}", &hex[..63]),
        format!("/v2/a/blobs/sha512:{hex}"),
        format!("/v2/a/blobs/uploads/?digest=sha256:../{hex}"),
        "/v2/a/blobs/uploads/?mount=x&from=../b".into(),
        "/docker/ext/manifest/p/r/../x/1.0".into(),
        "/docker/ext/layer/p/r/x/..%2f..%2fetc".into(),
        "/harbor/repositories/tags?repo_name=..%2Fetc".into(),
    ] {
        let method = if path.contains("uploads") {
            "POST"
        } else {
            "GET"
        };
        let a = raw(&api, method, &path, &admin(), &[], vec![]).await;
        // A manifest reference that is no tag or digest names nothing:
        // the spec's 404 (nothing is looked up by it).
        let names_nothing = path.contains("/../") || path.contains("/manifests/");
        assert!(
            a.status == 400 || (a.status == 404 && names_nothing),
            "{path}: {} {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        );
    }
    assert!(walk(api.content.path()).is_empty());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn two_pushes_of_the_same_blob_both_succeed() {
    let api = fixture().await;
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let d = digest(&data);
    let push = |repo: &'static str| {
        let api = &api;
        let data = data.clone();
        async move {
            let a = raw(
                api,
                "POST",
                &format!("/v2/{repo}/blobs/uploads/"),
                &admin(),
                &[],
                vec![],
            )
            .await;
            let location = a.header("location");
            for (i, chunk) in data.chunks(500_000).enumerate() {
                let range = format!("{}-{}", i * 500_000, i * 500_000 + chunk.len() - 1);
                let a = raw(
                    api,
                    "PATCH",
                    &location,
                    &admin(),
                    &[("Content-Range", &range)],
                    chunk.to_vec(),
                )
                .await;
                assert_eq!(a.status, 202);
            }
            raw(
                api,
                "PUT",
                &format!("{location}?digest={}", digest(&data)),
                &admin(),
                &[],
                vec![],
            )
            .await
            .status
        }
    };
    let (a, b) = tokio::join!(push("one"), push("two"));
    assert_eq!((a, b), (201, 201));
    for repo in ["one", "two"] {
        let a = raw(
            &api,
            "GET",
            &format!("/v2/{repo}/blobs/{d}"),
            &admin(),
            &[],
            vec![],
        )
        .await;
        assert_eq!(digest(&a.body), d);
    }
}

#[tokio::test]
async fn users_pull_and_writers_push() {
    let api = fixture().await;
    push_image(&api, "team/app", "1.0", b"layer").await;
    api.access
        .create_account("reader", "reader-pw", "user")
        .await
        .unwrap();
    let reader = Cred::Basic("reader".into(), "reader-pw".into());
    let a = raw(
        &api,
        "GET",
        "/v2/team/app/manifests/1.0",
        &reader,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 200);
    let a = raw(
        &api,
        "POST",
        "/v2/team/app/blobs/uploads/",
        &reader,
        &[],
        vec![],
    )
    .await;
    assert_eq!((a.status, a.code().as_str()), (403, "DENIED"));
    let a = raw(
        &api,
        "DELETE",
        "/v2/team/app/manifests/1.0",
        &reader,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 403);
    // A role that writes the registry pushes.
    api.access
        .create_role(
            "pusher",
            vec!["registry:rw".to_string().try_into().unwrap()],
        )
        .await
        .unwrap();
    api.access
        .create_account("ci", "ci-pw-123", "pusher")
        .await
        .unwrap();
    let ci = Cred::Basic("ci".into(), "ci-pw-123".into());
    let a = raw(
        &api,
        "POST",
        "/v2/team/app/blobs/uploads/",
        &ci,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 202);
    // The engines' password reads and nothing else.
    let engine = Cred::Basic(
        shipcore::model::ENGINE_USER.into(),
        api.access.engine_pull_secret().await.unwrap(),
    );
    let a = raw(
        &api,
        "GET",
        "/v2/team/app/manifests/1.0",
        &engine,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 200);
    let a = raw(
        &api,
        "POST",
        "/v2/team/app/blobs/uploads/",
        &engine,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 403);
    let (s, _) = api.call("GET", "/api/containers", &engine, None).await;
    assert_eq!(s, 403);
    // A wrong password: 401 with the challenge.
    let a = raw(
        &api,
        "GET",
        "/v2/",
        &Cred::Basic("reader".into(), "nope".into()),
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 401);
    assert!(a.header("www-authenticate").starts_with("Basic"));
}

#[tokio::test]
async fn seed_004_docker_ext() {
    let api = fixture().await;
    let md = push_image(&api, "proj/repo/hello-world", "latest", b"layer one").await;
    push_image(&api, "proj/repo/hello-world", "v1", b"layer one").await;
    push_image(&api, "proj/repo/mongo", "4", b"layer two").await;
    push_image(&api, "proj/other/mongo", "4", b"layer two").await;
    // A pull by tag counts.
    raw(
        &api,
        "GET",
        "/v2/proj/repo/hello-world/manifests/v1",
        &admin(),
        &[],
        vec![],
    )
    .await;

    let (s, body) = api.call("GET", "/docker/ext/addr", &admin(), None).await;
    assert_eq!(s, 200);
    assert_eq!(
        body,
        json!({"code": 0, "message": null, "data": api.registry_host, "traceId": ""})
    );

    let (s, body) = api
        .call(
            "GET",
            "/docker/ext/manifest/proj/repo/hello-world/latest",
            &admin(),
            None,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["code"], 0);
    let manifest: Value = serde_json::from_str(body["data"].as_str().unwrap()).unwrap();
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(digest(body["data"].as_str().unwrap().as_bytes()), md);

    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let a = raw(
        &api,
        "GET",
        &format!("/docker/ext/layer/proj/repo/hello-world/{layer}"),
        &admin(),
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body.as_ref(), b"layer one");
    let hex = layer.trim_start_matches("sha256:");
    let a = raw(
        &api,
        "GET",
        &format!("/docker/ext/layer/proj/repo/hello-world/{hex}"),
        &admin(),
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.body.as_ref(), b"layer one");

    let (s, body) = api
        .call(
            "GET",
            "/docker/ext/repo/proj/repo?pageNumber=0&pageSize=10",
            &admin(),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(body["data"]["totalRecords"], 2);
    assert_eq!(body["data"]["toatalRecords"], 2);
    let records = body["data"]["records"].as_array().unwrap();
    assert_eq!(records[0]["name"], "hello-world");
    assert_eq!(records[0]["lastModifiedBy"], "admin");
    assert_eq!(records[0]["downloadCount"], 1);
    assert_eq!(records[0]["logoUrl"], "");
    assert_eq!(records[0]["description"], "");
    let date = records[0]["lastModifiedDate"].as_str().unwrap();
    assert_eq!(date.len(), "2020-09-10T14:48:22.846".len(), "{date}");
    assert_eq!(records[1]["name"], "mongo");
    let (_, body) = api
        .call(
            "GET",
            "/docker/ext/repo/proj/repo?pageNumber=1&pageSize=1&name=mon",
            &admin(),
            None,
        )
        .await;
    assert_eq!(body["data"]["totalRecords"], 1);
    assert_eq!(body["data"]["records"][0]["name"], "mongo");
    let (_, body) = api
        .call(
            "GET",
            "/docker/ext/repo/proj/repo?pageNumber=2&pageSize=1",
            &admin(),
            None,
        )
        .await;
    assert_eq!(body["data"]["records"][0]["name"], "mongo");

    let (s, body) = api
        .call(
            "GET",
            "/docker/ext/tag/proj/repo/hello-world?pageNumber=0&pageSize=10",
            &admin(),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(body["data"]["totalRecords"], 2);
    let t = &body["data"]["records"][1];
    assert_eq!(t["tag"], "v1");
    assert_eq!(t["stageTag"], "");
    assert_eq!(t["size"], (CONFIG.len() + b"layer one".len()) as u64);
    assert_eq!(t["downloadCount"], 1);
    assert_eq!(t["lastModifiedBy"], "admin");
    assert_eq!(
        t["registryUrl"],
        format!("{}/proj/repo/hello-world:v1", api.registry_host)
    );
    let (_, body) = api
        .call(
            "GET",
            "/docker/ext/tag/proj/repo/hello-world?tag=v",
            &admin(),
            None,
        )
        .await;
    assert_eq!(body["data"]["records"].as_array().unwrap().len(), 1);

    let (s, body) = api
        .call(
            "GET",
            "/docker/ext/version/detail/proj/repo?packageKey=docker://hello-world&version=v1",
            &admin(),
            None,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let d = &body["data"];
    assert_eq!(d["basic"]["domain"], api.registry_host);
    assert_eq!(d["basic"]["version"], "v1");
    assert_eq!(d["basic"]["os"], "linux");
    assert_eq!(d["basic"]["createdBy"], "admin");
    assert_eq!(d["basic"]["sha256"], md.trim_start_matches("sha256:"));
    assert_eq!(d["basic"]["downloadCount"], 1);
    assert_eq!(
        d["history"][0]["created_by"],
        "/bin/sh -c #(nop) ADD file in /"
    );
    assert_eq!(d["metadata"]["docker.manifest.digest"], md);
    assert_eq!(d["metadata"]["docker.repoName"], "proj/repo/hello-world");
    assert_eq!(
        d["metadata"]["docker.manifest.type"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(d["layers"][0]["digest"], layer);
    assert_eq!(d["layers"][0]["size"], 9);

    let (s, body) = api
        .call(
            "DELETE",
            "/docker/ext/version/delete/proj/repo?packageKey=hello-world&version=latest",
            &admin(),
            None,
        )
        .await;
    assert_eq!(
        (s, &body),
        (
            200,
            &json!({"code": 0, "message": null, "data": true, "traceId": ""})
        )
    );
    let (_, body) = api
        .call(
            "GET",
            "/docker/ext/tag/proj/repo/hello-world",
            &admin(),
            None,
        )
        .await;
    assert_eq!(body["data"]["totalRecords"], 1);
    let (s, body) = api
        .call(
            "DELETE",
            "/docker/ext/package/delete/proj/repo?packageKey=mongo",
            &admin(),
            None,
        )
        .await;
    assert_eq!((s, body["data"].clone()), (200, json!(true)));
    let (_, body) = api
        .call("GET", "/docker/ext/repo/proj/repo", &admin(), None)
        .await;
    assert_eq!(body["data"]["totalRecords"], 1);
    // The other repository's mongo is untouched.
    let (_, body) = api
        .call("GET", "/docker/ext/repo/proj/other", &admin(), None)
        .await;
    assert_eq!(body["data"]["totalRecords"], 1);

    // Failures in the envelope, with code > 0.
    let (s, body) = api
        .call(
            "GET",
            "/docker/ext/manifest/proj/repo/hello-world/nope",
            &admin(),
            None,
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(body["code"], 404);
    assert!(body["message"].as_str().unwrap().contains("nope"), "{body}");
    assert_eq!(body["data"], Value::Null);
    let (s, body) = api
        .call(
            "DELETE",
            "/docker/ext/package/delete/proj/repo?packageKey=mongo",
            &admin(),
            None,
        )
        .await;
    assert_eq!((s, body["code"].clone()), (404, json!(404)));
    let (s, body) = api.call("GET", "/docker/ext/addr", &Cred::None, None).await;
    assert_eq!((s, body["code"].clone()), (401, json!(401)));
    let (s, _) = api
        .call(
            "GET",
            "/docker/ext/repo/proj/repo?pageSize=0",
            &admin(),
            None,
        )
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn seed_002_harbor_browse() {
    let api = fixture().await;
    push_image(&api, "default_cluster/myweb", "1.0", b"web").await;
    push_image(&api, "default_cluster/myweb", "1.1", b"web").await;
    push_image(&api, "default_cluster/db", "1", b"db").await;
    push_image(&api, "base/alpine", "3", b"alpine").await;

    let (s, body) = api
        .call(
            "GET",
            "/harbor/projects?page=1&page_size=10&project_name=",
            &admin(),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let list = body.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["name"], "default_cluster");
    assert_eq!(list[0]["project_id"], 1);
    assert_eq!(list[0]["repo_count"], 2);
    assert_eq!(list[0]["owner_name"], "admin");
    assert_eq!(list[0]["deleted"], 0);
    for field in [
        "creation_time",
        "update_time",
        "public",
        "owner_id",
        "Togglable",
        "current_user_role_id",
        "creation_time_str",
    ] {
        assert!(list[0].get(field).is_some(), "{field}");
    }
    assert_eq!(list[1]["name"], "base");
    assert_eq!(list[1]["project_id"], 2);
    let (_, body) = api
        .call(
            "GET",
            "/harbor/projects?page=1&page_size=10&project_name=bas",
            &admin(),
            None,
        )
        .await;
    assert_eq!(body.as_array().unwrap().len(), 1);

    let (s, body) = api
        .call(
            "GET",
            "/harbor/repositories?page=1&page_size=10&project_id=1&q=",
            &admin(),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let names: Vec<_> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(
        names,
        [json!("default_cluster/db"), json!("default_cluster/myweb")]
    );
    assert_eq!(body[1]["tags_count"], 2);
    let (_, body) = api
        .call(
            "GET",
            "/harbor/repositories?page=2&page_size=1&project_id=1&q=",
            &admin(),
            None,
        )
        .await;
    assert_eq!(body.as_array().unwrap().len(), 1);
    assert_eq!(body[0]["name"], "default_cluster/myweb");
    let (s, _) = api
        .call("GET", "/harbor/repositories?project_id=99", &admin(), None)
        .await;
    assert_eq!(s, 404);

    for method in ["GET", "POST"] {
        let (s, body) = api
            .call(
                method,
                "/harbor/repositories/tags?page=1&page_size=10&project_id=1&repo_name=myweb",
                &admin(),
                None,
            )
            .await;
        assert_eq!(s, 200, "{body}");
        let tags: Vec<_> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].clone())
            .collect();
        assert_eq!(tags, [json!("1.0"), json!("1.1")]);
        let (s, body) = api
            .call(
                method,
                "/harbor/repositories/manifests?repo_name=default_cluster/myweb&tag=1.1",
                &admin(),
                None,
            )
            .await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["manifest"]["schemaVersion"], 2);
        let config: Value = serde_json::from_str(body["config"].as_str().unwrap()).unwrap();
        assert_eq!(config["os"], "linux");
    }
    let (s, _) = api
        .call(
            "GET",
            "/harbor/repositories/manifests?repo_name=default_cluster/myweb&tag=9",
            &admin(),
            None,
        )
        .await;
    assert_eq!(s, 404);

    // The seed's delete: repoName is the tag, projectName the repository.
    let (s, body) = api
        .call(
            "DELETE",
            "/harbor/repositories",
            &admin(),
            Some(r#"{"repoName":"1.1","projectName":"myweb"}"#),
        )
        .await;
    assert_eq!((s, &body), (200, &json!({"code": 0, "msg": ""})));
    let (s, body) = api
        .call(
            "DELETE",
            "/harbor/repositories",
            &admin(),
            Some(r#"method=DELETE&{"repoName":"1.0","projectName":"default_cluster/myweb"}"#),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (_, body) = api
        .call(
            "GET",
            "/harbor/repositories/tags?repo_name=default_cluster/myweb",
            &admin(),
            None,
        )
        .await;
    assert_eq!(body, json!([]));
    let (s, _) = api
        .call(
            "DELETE",
            "/harbor/repositories",
            &admin(),
            Some(r#"{"repoName":"1.0","projectName":"nothing"}"#),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = api
        .call(
            "DELETE",
            "/harbor/repositories",
            &admin(),
            Some(r#"{"repoName":"1.0"}"#),
        )
        .await;
    assert_eq!(s, 400);
}

/// Accounts `name` with a custom role that reads and writes the registry.
async fn pushers(api: &Api, names: &[&str]) -> Vec<Cred> {
    api.access
        .create_role(
            "pusher",
            vec!["registry:rw".to_string().try_into().unwrap()],
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    for name in names {
        let pw = format!("{name}-pw-123");
        api.access
            .create_account(name, &pw, "pusher")
            .await
            .unwrap();
        out.push(Cred::Basic(name.to_string(), pw));
    }
    out
}

/// Opens an upload on `repo` as `cred`: its id.
async fn open(api: &Api, repo: &str, cred: &Cred) -> String {
    let a = raw(
        api,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        cred,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    let id = a.header("docker-upload-uuid");
    assert_eq!(
        a.header("location"),
        format!("/v2/{repo}/blobs/uploads/{id}")
    );
    id
}

/// A call: method, query, headers, body.
type Request = (&'static str, String, Vec<(&'static str, String)>, Vec<u8>);

/// Every call on an upload (status, chunk, finish, cancel) made at `path`
/// by `cred`: each must answer as for an upload that does not exist, the
/// same way a never-made id (`never`) is answered.
async fn all_unknown(api: &Api, path: &str, never: &str, cred: &Cred, data: &[u8]) {
    let d = digest(data);
    let id = path.rsplit('/').next().unwrap();
    let never_id = never.rsplit('/').next().unwrap();
    let calls: [Request; 6] = [
        ("GET", String::new(), vec![], vec![]),
        ("PATCH", String::new(), vec![], data.to_vec()),
        (
            "PATCH",
            String::new(),
            vec![("Content-Range", format!("0-{}", data.len() - 1))],
            data.to_vec(),
        ),
        ("PUT", format!("?digest={d}"), vec![], data.to_vec()),
        ("PUT", format!("?digest={d}"), vec![], vec![]),
        ("DELETE", String::new(), vec![], vec![]),
    ];
    for (method, query, headers, body) in calls {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let a = raw(
            api,
            method,
            &format!("{path}{query}"),
            cred,
            &headers,
            body.clone(),
        )
        .await;
        let what = format!("{method} {path}{query}");
        assert_eq!(
            (a.status, a.code().as_str()),
            (404, "BLOB_UPLOAD_UNKNOWN"),
            "{what}: {}",
            String::from_utf8_lossy(&a.body)
        );
        assert!(a.header("location").is_empty(), "{what}");
        assert!(a.header("range").is_empty(), "{what}");
        // Word for word the answer for an id never made.
        let b = raw(
            api,
            method,
            &format!("{never}{query}"),
            cred,
            &headers,
            body,
        )
        .await;
        assert_eq!(
            (b.status, b.code()),
            (a.status, a.code()),
            "{what} vs {never}"
        );
        assert_eq!(
            a.message().replace(id, "ID"),
            b.message().replace(never_id, "ID")
        );
    }
}

#[tokio::test]
async fn an_upload_answers_only_its_opener_under_its_repository() {
    let api = fixture().await;
    let creds = pushers(&api, &["ci", "mallory"]).await;
    let (ci, mallory) = (&creds[0], &creds[1]);
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
    let d = digest(&data);
    let never = format!("/v2/team/app/blobs/uploads/{}", "0".repeat(32));

    // The admin opens an upload on team/app and sends half.
    let id = open(&api, "team/app", &admin()).await;
    let location = format!("/v2/team/app/blobs/uploads/{id}");
    let a = raw(
        &api,
        "PATCH",
        &location,
        &admin(),
        &[("Content-Range", "0-99999")],
        data[..100_000].to_vec(),
    )
    .await;
    assert_eq!((a.status, a.header("range").as_str()), (202, "0-99999"));

    // Another account that writes the registry: no such upload, whatever
    // it tries (status, chunks, finish with or without a body, cancel).
    all_unknown(&api, &location, &never, mallory, &data[100_000..]).await;
    all_unknown(&api, &location, &never, ci, b"evil").await;
    // The opener naming another repository: no such upload either.
    for repo in ["other/app", "team/app2", "team"] {
        let elsewhere = format!("/v2/{repo}/blobs/uploads/{id}");
        let never = format!("/v2/{repo}/blobs/uploads/{}", "0".repeat(32));
        all_unknown(&api, &elsewhere, &never, &admin(), &data[100_000..]).await;
    }
    // A caller that may not write the registry is refused before that.
    api.access
        .create_account("reader", "reader-pw", "user")
        .await
        .unwrap();
    let reader = Cred::Basic("reader".into(), "reader-pw".into());
    let a = raw(&api, "GET", &location, &reader, &[], vec![]).await;
    assert_eq!((a.status, a.code().as_str()), (403, "DENIED"));

    // None of that touched it: the opener goes on where it was and
    // completes it.
    let a = raw(&api, "GET", &location, &admin(), &[], vec![]).await;
    assert_eq!((a.status, a.header("range").as_str()), (204, "0-99999"));
    let a = raw(
        &api,
        "PATCH",
        &location,
        &admin(),
        &[("Content-Range", "100000-149999")],
        data[100_000..150_000].to_vec(),
    )
    .await;
    assert_eq!((a.status, a.header("range").as_str()), (202, "0-149999"));
    let a = raw(
        &api,
        "PUT",
        &format!("{location}?digest={d}"),
        &admin(),
        &[],
        data[150_000..].to_vec(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.header("location"), format!("/v2/team/app/blobs/{d}"));
    let a = raw(
        &api,
        "GET",
        &format!("/v2/team/app/blobs/{d}"),
        &admin(),
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body.as_ref(), &data[..]);
    // Only where it was opened.
    let a = raw(
        &api,
        "HEAD",
        &format!("/v2/other/app/blobs/{d}"),
        &admin(),
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 404);
    // Finished, it is gone for its opener too.
    let a = raw(&api, "GET", &location, &admin(), &[], vec![]).await;
    assert_eq!((a.status, a.code().as_str()), (404, "BLOB_UPLOAD_UNKNOWN"));

    // The other way round: an account's upload is its own, an admin's
    // calls on it included; the account completes it.
    let id = open(&api, "team/app", ci).await;
    let location = format!("/v2/team/app/blobs/uploads/{id}");
    all_unknown(&api, &location, &never, &admin(), b"admin bytes").await;
    all_unknown(&api, &location, &never, mallory, b"admin bytes").await;
    let other = format!("/v2/other/app/blobs/uploads/{id}");
    let never_other = format!("/v2/other/app/blobs/uploads/{}", "0".repeat(32));
    all_unknown(&api, &other, &never_other, ci, b"ci bytes").await;
    let layer = b"ci's layer".to_vec();
    let a = raw(&api, "PATCH", &location, ci, &[], layer.clone()).await;
    assert_eq!(a.status, 202);
    let a = raw(
        &api,
        "PUT",
        &format!("{location}?digest={}", digest(&layer)),
        ci,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    // And cancels its own.
    let id = open(&api, "team/app", ci).await;
    let location = format!("/v2/team/app/blobs/uploads/{id}");
    let a = raw(&api, "DELETE", &location, ci, &[], vec![]).await;
    assert_eq!(a.status, 204);
    let a = raw(&api, "GET", &location, ci, &[], vec![]).await;
    assert_eq!((a.status, a.code().as_str()), (404, "BLOB_UPLOAD_UNKNOWN"));
}

#[tokio::test]
async fn a_mount_still_needs_the_blob_in_from_and_opens_a_bound_upload_when_missing() {
    let api = fixture().await;
    let creds = pushers(&api, &["ci", "mallory"]).await;
    let (ci, mallory) = (&creds[0], &creds[1]);
    let data = b"a layer to mount".to_vec();
    let d = digest(&data);
    let a = raw(
        &api,
        "POST",
        &format!("/v2/team/app/blobs/uploads/?digest={d}"),
        ci,
        &[],
        data.clone(),
    )
    .await;
    assert_eq!(a.status, 201);
    // Mounted from a repository that has it.
    let a = raw(
        &api,
        "POST",
        &format!("/v2/team/copy/blobs/uploads/?mount={d}&from=team/app"),
        mallory,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 201);
    // From one that has not: an upload opens instead, bound to its caller
    // and repository like any other.
    let a = raw(
        &api,
        "POST",
        &format!("/v2/team/third/blobs/uploads/?mount={d}&from=nothing/here"),
        mallory,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 202);
    let location = a.header("location");
    assert!(
        location.starts_with("/v2/team/third/blobs/uploads/"),
        "{location}"
    );
    let a = raw(&api, "GET", &location, ci, &[], vec![]).await;
    assert_eq!((a.status, a.code().as_str()), (404, "BLOB_UPLOAD_UNKNOWN"));
    let a = raw(&api, "GET", &location, mallory, &[], vec![]).await;
    assert_eq!(a.status, 204);
    // A caller that only reads the registry may not mount.
    api.access
        .create_account("reader", "reader-pw", "user")
        .await
        .unwrap();
    let reader = Cred::Basic("reader".into(), "reader-pw".into());
    let a = raw(
        &api,
        "POST",
        &format!("/v2/team/fourth/blobs/uploads/?mount={d}&from=team/app"),
        &reader,
        &[],
        vec![],
    )
    .await;
    assert_eq!((a.status, a.code().as_str()), (403, "DENIED"));
}

#[tokio::test]
async fn an_upload_without_a_recorded_owner_is_unknown_to_everyone() {
    let api = fixture().await;
    // As an upload left by a version that recorded no owner.
    let id = api.registry.blob_store().start_upload().await.unwrap();
    let location = format!("/v2/team/app/blobs/uploads/{id}");
    let never = format!("/v2/team/app/blobs/uploads/{}", "0".repeat(32));
    all_unknown(&api, &location, &never, &admin(), b"bytes").await;
    // Its file is left to the day-old sweep.
    assert!(api.registry.blob_store().upload_size(&id).await.is_ok());
}

#[cfg(unix)]
#[tokio::test]
async fn the_registry_writes_private_folders_and_files() {
    use std::os::unix::fs::PermissionsExt;
    let api = fixture().await;
    let data = b"private bytes".to_vec();
    let a = raw(
        &api,
        "POST",
        &format!("/v2/team/app/blobs/uploads/?digest={}", digest(&data)),
        &admin(),
        &[],
        data,
    )
    .await;
    assert_eq!(a.status, 201);
    let id = open(&api, "team/app", &admin()).await;
    let a = raw(
        &api,
        "PATCH",
        &format!("/v2/team/app/blobs/uploads/{id}"),
        &admin(),
        &[],
        b"half".to_vec(),
    )
    .await;
    assert_eq!(a.status, 202);
    let mut files = 0;
    let mut stack = vec![api.content.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let mode = m.permissions().mode() & 0o7777;
            if m.is_dir() {
                assert_eq!(mode, 0o700, "{}", p.display());
                stack.push(p);
            } else {
                assert_eq!(mode, 0o600, "{}", p.display());
                files += 1;
            }
        }
    }
    // The blob, the open upload and its owner record.
    assert_eq!(files, 3);
}

fn digest512(data: &[u8]) -> String {
    use sha2::Sha512;
    format!("sha512:{:x}", Sha512::digest(data))
}

/// What the OCI conformance suites check beyond distribution 2.8: sha512
/// content, the referrers API with a manifest's `subject`, manifests up to
/// the 4 MiB the spec asks for, foreign (non-distributable) layers that are
/// not pushed, and a manifest reference that names nothing answered 404.
#[tokio::test]
async fn oci_1_1_content_the_suites_push() {
    let api = fixture().await;
    let cred = admin();
    let oci = [("Content-Type", "application/vnd.oci.image.manifest.v1+json")];

    // sha512 blobs: monolithic, chunked, mount; a sha512 manifest.
    let data = b"sha512 bytes".to_vec();
    let d = digest512(&data);
    let a = raw(
        &api,
        "POST",
        &format!("/v2/s/app/blobs/uploads/?digest={d}"),
        &cred,
        &[],
        data.clone(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let a = raw(
        &api,
        "GET",
        &format!("/v2/s/app/blobs/{d}"),
        &cred,
        &[],
        vec![],
    )
    .await;
    assert_eq!((a.status, a.body.to_vec()), (200, data.clone()));
    assert_eq!(a.header("docker-content-digest"), d);
    let wrong = digest512(b"other");
    let a = raw(&api, "POST", "/v2/s/app/blobs/uploads/", &cred, &[], vec![]).await;
    let at = a.header("location");
    let a = raw(
        &api,
        "PATCH",
        &at,
        &cred,
        &[("Content-Range", "0-3")],
        b"abcd".to_vec(),
    )
    .await;
    assert_eq!(a.status, 202);
    let at = a.header("location");
    let sep = if at.contains('?') { '&' } else { '?' };
    let a = raw(
        &api,
        "PUT",
        &format!("{at}{sep}digest={wrong}"),
        &cred,
        &[],
        vec![],
    )
    .await;
    assert_eq!((a.status, a.code()), (400, "DIGEST_INVALID".to_string()));
    let a = raw(
        &api,
        "POST",
        &format!("/v2/s/copy/blobs/uploads/?mount={d}&from=s/app"),
        &cred,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let a = raw(
        &api,
        "HEAD",
        &format!("/v2/s/copy/blobs/{d}"),
        &cred,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 200);
    let a = raw(
        &api,
        "GET",
        &format!("/v2/s/app/blobs/{}", digest512(b"never")),
        &cred,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 404);
    let config = push_blob(&api, "s/app", b"{}").await;
    let m = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": data.len()}],
    })
    .to_string();
    let md = digest512(m.as_bytes());
    let a = raw(
        &api,
        "PUT",
        &format!("/v2/s/app/manifests/{md}"),
        &cred,
        &oci,
        m.clone().into_bytes(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.header("docker-content-digest"), md);
    let a = raw(
        &api,
        "GET",
        &format!("/v2/s/app/manifests/{md}"),
        &cred,
        &oci,
        vec![],
    )
    .await;
    assert_eq!((a.status, a.body.to_vec()), (200, m.clone().into_bytes()));
    // Tags given with a push by digest (`?tag=`): the manifest keeps its
    // sha512 digest under them, and the answer names them in OCI-Tag.
    let path = format!("/v2/s/app/manifests/{md}?tag=t1&tag=t2");
    let a = raw(&api, "PUT", &path, &cred, &oci, m.clone().into_bytes()).await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let tags: Vec<&str> = a
        .headers
        .get_all("oci-tag")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(tags, ["t1", "t2"]);
    let a = raw(&api, "HEAD", "/v2/s/app/manifests/t2", &cred, &oci, vec![]).await;
    assert_eq!(
        (a.status, a.header("docker-content-digest")),
        (200, md.clone())
    );
    let path = format!("/v2/s/app/manifests/{md}?tag=.bad");
    let a = raw(&api, "PUT", &path, &cred, &oci, m.clone().into_bytes()).await;
    assert_eq!(a.status, 400);

    // A manifest reference that is neither a tag nor a digest names no
    // manifest: 404 to GET and HEAD, 400 to a PUT.
    for method in ["GET", "HEAD"] {
        let a = raw(
            &api,
            method,
            "/v2/s/app/manifests/.INVALID_MANIFEST_NAME",
            &cred,
            &[],
            vec![],
        )
        .await;
        assert_eq!(a.status, 404, "{method}");
    }
    let a = raw(
        &api,
        "PUT",
        "/v2/s/app/manifests/.INVALID",
        &cred,
        &oci,
        m.clone().into_bytes(),
    )
    .await;
    assert_eq!(a.status, 400);

    // Referrers: an artifact with a subject that is not pushed yet is
    // taken, says its subject in OCI-Subject, and is listed; the filter.
    let subject = digest(b"a manifest pushed later");
    let sbom = |kind: &str, n: u8| {
        json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": kind,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": 2},
            "layers": [],
            "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject, "size": 10},
            "annotations": {"n": n.to_string()},
        })
        .to_string()
    };
    let one = sbom("application/vnd.example.sbom", 1);
    let two = sbom("application/vnd.example.sig", 2);
    for body in [&one, &two] {
        let a = raw(
            &api,
            "PUT",
            &format!("/v2/s/app/manifests/{}", digest(body.as_bytes())),
            &cred,
            &oci,
            body.clone().into_bytes(),
        )
        .await;
        assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
        assert_eq!(a.header("oci-subject"), subject);
    }
    let a = raw(
        &api,
        "GET",
        &format!("/v2/s/app/referrers/{subject}"),
        &cred,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("content-type"),
        "application/vnd.oci.image.index.v1+json"
    );
    let index = a.json();
    assert_eq!(index["schemaVersion"], 2);
    let listed = index["manifests"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{index}");
    assert!(listed.iter().any(|m| m["digest"] == digest(one.as_bytes())
        && m["artifactType"] == "application/vnd.example.sbom"
        && m["annotations"]["n"] == "1"
        && m["size"] == one.len()));
    let a = raw(
        &api,
        "GET",
        &format!("/v2/s/app/referrers/{subject}?artifactType=application/vnd.example.sig"),
        &cred,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.header("oci-filters-applied"), "artifactType");
    assert_eq!(a.json()["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(a.json()["manifests"][0]["digest"], digest(two.as_bytes()));
    // Nothing refers to it: an empty index; a bad digest: 400.
    let a = raw(
        &api,
        "GET",
        &format!("/v2/s/app/referrers/{}", digest(b"none")),
        &cred,
        &[],
        vec![],
    )
    .await;
    assert_eq!((a.status, a.json()["manifests"].clone()), (200, json!([])));
    let a = raw(
        &api,
        "GET",
        "/v2/s/app/referrers/sha256:nope",
        &cred,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 400);
    // Deleting a referrer takes it off the list.
    let a = raw(
        &api,
        "DELETE",
        &format!("/v2/s/app/manifests/{}", digest(one.as_bytes())),
        &cred,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 202);
    let a = raw(
        &api,
        "GET",
        &format!("/v2/s/app/referrers/{subject}"),
        &cred,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.json()["manifests"].as_array().unwrap().len(), 1);

    // A manifest of nearly 4 MiB (annotations): taken by tag, its bytes
    // served as pushed, and its record stays small.
    let big = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": [],
        "annotations": {"big": "A".repeat(3_900_000)},
    })
    .to_string();
    let a = raw(
        &api,
        "PUT",
        "/v2/s/app/manifests/large",
        &cred,
        &oci,
        big.clone().into_bytes(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let a = raw(
        &api,
        "HEAD",
        "/v2/s/app/manifests/large",
        &cred,
        &oci,
        vec![],
    )
    .await;
    assert_eq!(a.header("content-length"), big.len().to_string());
    let a = raw(
        &api,
        "GET",
        &format!("/v2/s/app/manifests/{}", digest(big.as_bytes())),
        &cred,
        &oci,
        vec![],
    )
    .await;
    assert_eq!((a.status, a.body.len()), (200, big.len()));
    assert!(a.body.to_vec() == big.clone().into_bytes());
    let too_big = big.replace(&"A".repeat(3_900_000), &"A".repeat(4_200_000));
    let a = raw(
        &api,
        "PUT",
        "/v2/s/app/manifests/huge",
        &cred,
        &oci,
        too_big.into_bytes(),
    )
    .await;
    assert_eq!(a.status, 413, "Payload Too Large, as the spec has it");

    // Foreign layers are not in the registry, and need not be.
    let foreign = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                    "digest": digest(b"somewhere else"), "size": 100,
                    "urls": ["https://example.com/layer"]}],
    })
    .to_string();
    let a = raw(
        &api,
        "PUT",
        "/v2/s/app/manifests/foreign",
        &cred,
        &oci,
        foreign.into_bytes(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
}

/// A refusal sent before a request's body was read closes the connection
/// in the open (`Connection: close`): a client that keeps connections
/// alive then does not send its next request into a closed one.
#[tokio::test]
async fn a_refused_upload_closes_its_connection_in_the_open() {
    let api = fixture().await;
    let a = raw(
        &api,
        "PATCH",
        "/v2/s/app/blobs/uploads/00",
        &Cred::None,
        &[],
        vec![7; 100_000],
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(a.header("connection"), "close");
    // A refusal to a request without a body keeps the connection.
    let a = raw(&api, "GET", "/v2/s/app/tags/list", &Cred::None, &[], vec![]).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.header("connection"), "");
}

/// Untagging keeps the manifest and its other tags; deleting by digest says
/// which tags went with it; immutable tags refuse a push of other content
/// and a deletion (in the distribution API's `DENIED`, which docker shows);
/// a retention run, dry then real, keeps and removes tag by tag, naming
/// the rule, immutability winning.
#[tokio::test]
async fn retention_and_immutability_over_http() {
    let api = fixture().await;
    let cred = admin();
    let docker = [(
        "Content-Type",
        "application/vnd.docker.distribution.manifest.v2+json",
    )];
    let one = push_image(&api, "p/app", "1.0", b"layer one").await;
    let two = push_image(&api, "p/app", "2.0", b"layer two").await;
    // A second tag for the same manifest, then an untag of the first.
    let m = raw(
        &api,
        "GET",
        "/v2/p/app/manifests/2.0",
        &cred,
        &docker,
        vec![],
    )
    .await;
    let a = raw(
        &api,
        "PUT",
        "/v2/p/app/manifests/stable",
        &cred,
        &docker,
        m.body.to_vec(),
    )
    .await;
    assert_eq!(a.status, 201);
    let a = raw(
        &api,
        "DELETE",
        "/v2/p/app/manifests/2.0",
        &cred,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 202);
    let a = raw(
        &api,
        "GET",
        &format!("/v2/p/app/manifests/{two}"),
        &cred,
        &docker,
        vec![],
    )
    .await;
    assert_eq!(a.status, 200, "an untag keeps the manifest");
    let a = raw(
        &api,
        "GET",
        "/v2/p/app/manifests/stable",
        &cred,
        &docker,
        vec![],
    )
    .await;
    assert_eq!(a.status, 200, "and its other tags");
    // Deleting by digest names the tags that went.
    let three = push_image(&api, "p/app", "3.0", b"layer three").await;
    let m = raw(
        &api,
        "GET",
        "/v2/p/app/manifests/3.0",
        &cred,
        &docker,
        vec![],
    )
    .await;
    raw(
        &api,
        "PUT",
        "/v2/p/app/manifests/3.0-also",
        &cred,
        &docker,
        m.body.to_vec(),
    )
    .await;
    let a = raw(
        &api,
        "DELETE",
        &format!("/v2/p/app/manifests/{three}"),
        &cred,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 202);
    assert_eq!(
        a.json(),
        json!({"digest": three, "tags": ["3.0", "3.0-also"]})
    );

    // Immutable tags: the rules, set and read back.
    let rules = json!({"immutable": ["1.*"], "keep_newest": 1});
    let (status, got) = api
        .call(
            "PUT",
            "/api/registry/rules?repository=p/app",
            &cred,
            Some(&rules.to_string()),
        )
        .await;
    assert_eq!((status, got.clone()), (200, rules.clone()));
    let (_, got) = api
        .call("GET", "/api/registry/rules?repository=p/app", &cred, None)
        .await;
    assert_eq!(got, rules);
    let (status, got) = api
        .call(
            "PUT",
            "/api/registry/rules?repository=p/app",
            &cred,
            Some(r#"{"keep_newest":0}"#),
        )
        .await;
    assert_eq!(status, 400, "{got}");
    // Other content under 1.0: refused as docker shows it; the same again: fine.
    let c = push_blob(&api, "p/app", CONFIG.as_bytes()).await;
    let l = push_blob(&api, "p/app", b"other layer").await;
    let other = image_manifest((&c, CONFIG.len()), &[(&l, 11)]);
    let a = raw(
        &api,
        "PUT",
        "/v2/p/app/manifests/1.0",
        &cred,
        &docker,
        other.into_bytes(),
    )
    .await;
    assert_eq!((a.status, a.code()), (403, "DENIED".to_string()));
    assert!(
        a.message().contains("tag 1.0 is immutable (rule \"1.*\")"),
        "{}",
        a.message()
    );
    let a = raw(
        &api,
        "HEAD",
        "/v2/p/app/manifests/1.0",
        &cred,
        &docker,
        vec![],
    )
    .await;
    assert_eq!(
        a.header("docker-content-digest"),
        one,
        "1.0 still names its content"
    );
    let m = raw(
        &api,
        "GET",
        "/v2/p/app/manifests/1.0",
        &cred,
        &docker,
        vec![],
    )
    .await;
    let a = raw(
        &api,
        "PUT",
        "/v2/p/app/manifests/1.0",
        &cred,
        &docker,
        m.body.to_vec(),
    )
    .await;
    assert_eq!(a.status, 201, "the same content again is no change");
    for path in [
        "/v2/p/app/manifests/1.0".to_string(),
        format!("/v2/p/app/manifests/{one}"),
    ] {
        let a = raw(&api, "DELETE", &path, &cred, &[], vec![]).await;
        assert_eq!((a.status, a.code()), (403, "DENIED".to_string()), "{path}");
    }

    // Retention: keep the newest one; 1.0 is immutable and stays, named.
    push_image(&api, "p/app", "4.0", b"layer four").await;
    let (status, run) = api
        .call(
            "POST",
            "/api/registry/retention?repository=p/app&dry_run=true",
            &cred,
            None,
        )
        .await;
    assert_eq!(status, 200, "{run}");
    let decided = |run: &Value, tag: &str| {
        let d = run["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["tag"] == tag)
            .unwrap()
            .clone();
        (
            d["keep"].as_bool().unwrap(),
            d["rule"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(
        decided(&run, "1.0"),
        (true, "immutable \"1.*\"".to_string())
    );
    assert_eq!(
        decided(&run, "4.0"),
        (true, "newest 1 (it is 1st)".to_string())
    );
    assert_eq!(
        decided(&run, "stable"),
        (false, "no rule keeps it".to_string())
    );
    assert_eq!(run["manifests_deleted"], json!([]));
    let a = raw(
        &api,
        "GET",
        "/v2/p/app/manifests/stable",
        &cred,
        &docker,
        vec![],
    )
    .await;
    assert_eq!(a.status, 200, "a dry run deletes nothing");
    let (status, run) = api
        .call(
            "POST",
            "/api/registry/retention?repository=p/app",
            &cred,
            None,
        )
        .await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["manifests_deleted"], json!([two]));
    let (_, tags) = api.call("GET", "/v2/p/app/tags/list", &cred, None).await;
    assert_eq!(tags["tags"], json!(["1.0", "4.0"]));
    let (status, _) = api
        .call(
            "POST",
            "/api/registry/retention?repository=p/none",
            &cred,
            None,
        )
        .await;
    assert_eq!(status, 404);
}

/// Bytes under a folder, as the disk holds them (every file's length).
fn disk_bytes(dir: &std::path::Path) -> u64 {
    walk(dir)
        .iter()
        .filter(|p| p.is_file())
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum()
}

/// A garbage collection on demand: a dry run lists what would go and
/// frees nothing; the real one frees exactly the bytes it reports (the
/// disk agrees), and what a manifest still references stays.
#[tokio::test]
async fn garbage_collection_reports_the_bytes_the_disk_gets_back() {
    let api = fixture().await;
    let cred = admin();
    let kept = push_image(&api, "g/app", "keep", &vec![1u8; 300_000]).await;
    let gone = push_image(&api, "g/app", "drop", &vec![2u8; 500_000]).await;
    let a = raw(
        &api,
        "DELETE",
        &format!("/v2/g/app/manifests/{gone}"),
        &cred,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 202);
    let blobs = api.content.path().join("blobs");
    let before = disk_bytes(&blobs);
    let (status, dry) = api
        .call(
            "POST",
            "/api/registry/gc?dry_run=true&grace_seconds=0",
            &cred,
            None,
        )
        .await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["blobs"].as_array().unwrap().len(), 1, "{dry}");
    assert_eq!(dry["bytes"], 500_000);
    assert_eq!(disk_bytes(&blobs), before, "a dry run frees nothing");
    // A younger blob is spared by the grace.
    let (_, young) = api
        .call("POST", "/api/registry/gc?dry_run=true", &cred, None)
        .await;
    assert_eq!(young["bytes"], 0, "{young}");
    let (status, run) = api
        .call("POST", "/api/registry/gc?grace_seconds=0", &cred, None)
        .await;
    assert_eq!(status, 200, "{run}");
    let freed = run["bytes"].as_u64().unwrap();
    assert_eq!(freed, 500_000);
    assert_eq!(before - disk_bytes(&blobs), freed, "the disk agrees: {run}");
    let a = raw(&api, "GET", "/v2/g/app/manifests/keep", &cred, &[], vec![]).await;
    assert_eq!(a.status, 200);
    let layer = a.json()["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let a = raw(
        &api,
        "HEAD",
        &format!("/v2/g/app/blobs/{layer}"),
        &cred,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 200, "{kept}'s layer stays");
    // Nothing left to collect.
    let (_, again) = api
        .call("POST", "/api/registry/gc?grace_seconds=0", &cred, None)
        .await;
    assert_eq!(
        (again["bytes"].clone(), again["blobs"].clone()),
        (json!(0), json!([]))
    );
}

/// A notification as an endpoint took it: headers and body.
type Hooked = (axum::http::HeaderMap, Vec<u8>);

/// A notification endpoint on loopback: answers 503 to the first `down`
/// requests, then takes each (its headers and body) with a 200.
async fn hook_endpoint(down: usize) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Hooked>>>) {
    use std::sync::{Arc, Mutex};
    let taken: Arc<Mutex<Vec<Hooked>>> = Arc::default();
    let tries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (kept, count) = (taken.clone(), tries.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: Bytes| {
            let (kept, count) = (kept.clone(), count.clone());
            async move {
                if count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < down {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                kept.lock().unwrap().push((headers, body.to_vec()));
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, taken)
}

#[tokio::test]
async fn notifications_reach_an_endpoint_that_fails_then_recovers_once_in_order() {
    let api = fixture().await;
    let cred = admin();
    let (url, taken) = hook_endpoint(2).await;
    const SECRET: &str = "notify-secret-0123456789";
    let (status, set) = api
        .call(
            "PUT",
            "/api/registry/notifications/ci",
            &cred,
            Some(&json!({"url": url, "secret": SECRET, "repositories": ["team/*"]}).to_string()),
        )
        .await;
    assert_eq!(status, 200, "{set}");
    assert!(set.get("secret").is_none() && !set.to_string().contains(SECRET));
    // Refused with the field named; nothing stored.
    for (body, field) in [
        (json!({"url": "ftp://x/", "secret": SECRET}), "url"),
        (json!({"url": "http://u:p@x/", "secret": SECRET}), "url"),
        (json!({"url": url, "secret": "short"}), "secret"),
        (
            json!({"url": url, "secret": SECRET, "actions": ["nap"]}),
            "actions",
        ),
    ] {
        let (status, answer) = api
            .call(
                "PUT",
                "/api/registry/notifications/bad",
                &cred,
                Some(&body.to_string()),
            )
            .await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer.to_string().contains(field), "{answer}");
    }
    let (status, answer) = api
        .call(
            "PUT",
            "/api/registry/notifications/a%2Fb",
            &cred,
            Some(&json!({"url": url, "secret": SECRET}).to_string()),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    let d = push_image(&api, "team/app", "1.0", b"notified layer").await;
    push_image(&api, "other/app", "1.0", b"not for this endpoint").await;
    let a = raw(
        &api,
        "GET",
        "/v2/team/app/manifests/1.0",
        &cred,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 200);
    let a = raw(
        &api,
        "HEAD",
        "/v2/team/app/manifests/1.0",
        &cred,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 200, "a HEAD is no pull");
    let a = raw(
        &api,
        "DELETE",
        &format!("/v2/team/app/manifests/{d}"),
        &cred,
        &[],
        vec![],
    )
    .await;
    assert_eq!(a.status, 202);
    for _ in 0..200 {
        if taken.lock().unwrap().len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Nothing more arrives: once each.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let taken = taken.lock().unwrap().clone();
    let mut ids = std::collections::BTreeSet::new();
    let seen: Vec<(String, String)> = taken
        .iter()
        .map(|(headers, body)| {
            let signed = headers["x-shipcore-signature"].to_str().unwrap();
            assert_eq!(signed, shipcore::registry::notify::signature(SECRET, body));
            assert_eq!(
                headers["content-type"],
                "application/vnd.docker.distribution.events.v1+json"
            );
            assert!(ids.insert(headers["x-shipcore-delivery"].to_str().unwrap().to_string()));
            let v: Value = serde_json::from_slice(body).unwrap();
            let e = &v["events"][0];
            assert_eq!(e["target"]["repository"], "team/app", "{e}");
            assert_eq!(e["target"]["digest"], d.as_str(), "{e}");
            assert_eq!(e["actor"]["name"], "admin");
            assert_eq!(e["source"]["addr"], api.registry_host.as_str());
            (
                e["action"].as_str().unwrap().to_string(),
                e["target"]["tag"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [("push", "1.0"), ("pull", "1.0"), ("delete", "")]
        .iter()
        .map(|(a, t)| (a.to_string(), t.to_string()))
        .collect();
    assert_eq!(seen, want);
    let (status, list) = api
        .call("GET", "/api/registry/notifications", &cred, None)
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list[0]["name"], "ci");
    assert_eq!(list[0]["delivery"]["delivered"], 3, "{list}");
    assert_eq!(
        list[0]["delivery"]["last_error"],
        "the endpoint answered 503"
    );
    assert!(!list.to_string().contains(SECRET));
    // The same events are on the cluster's event stream.
    let (_, events) = api.call("GET", "/api/events", &cred, None).await;
    let images: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["image"]["repository"] == "team/app")
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(images, ["image-delete", "image-pull", "image-push"]);
    let (status, _) = api
        .call("DELETE", "/api/registry/notifications/ci", &cred, None)
        .await;
    assert_eq!(status, 204);
    let (status, answer) = api
        .call("DELETE", "/api/registry/notifications/ci", &cred, None)
        .await;
    assert_eq!(status, 404, "{answer}");
}
