//! The OpenAPI document of the facade, generated from the handlers'
//! `#[utoipa::path]` attributes and the model's `ToSchema` derives, served
//! at `GET /api/openapi.json`.

use axum::response::IntoResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document's frame: its info, tags and the two ways to authenticate.
/// The paths come from the routes themselves (`crate::api`), and
/// [`finish`] adds the answers every operation behind credentials may give.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "shipcore",
        description = "Shipyard's cluster API served by shipcore: containers placed by an explainable scheduler, engines, accounts, roles, keys and events."
    ),
    components(schemas(crate::error::ErrorBody)),
    security(("service_key" = []), ("basic" = []), ("access_token" = [])),
    tags(
        (name = "containers", description = "Deploy, inspect and manage containers"),
        (name = "engines", description = "Docker engines of the cluster"),
        (name = "cluster", description = "Capacity and counts"),
        (name = "accounts", description = "Human users (admin only)"),
        (name = "roles", description = "admin, user and custom roles (admin only)"),
        (name = "servicekeys", description = "API keys for programs (admin only)"),
        (name = "webhookkeys", description = "Keys of Docker Hub webhooks"),
        (name = "events", description = "What happened in the cluster"),
        (name = "webhooks", description = "Docker Hub push notifications"),
        (name = "operations", description = "Metrics and this document"),
        (name = "distribution", description = "The OCI distribution API: docker login, push and pull"),
        (name = "docker-ext", description = "Seed 004: images, tags and layers of the registry"),
        (name = "harbor", description = "Seed 002 part 2: projects, repositories and tags of the registry"),
        (name = "registry", description = "Retention and immutability of a repository's tags; garbage collection"),
        (name = "packaging", description = "Seed 002 part 1: build projects, builds and their plugins"),
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

/// Completes the document built from the routes.
pub fn finish(doc: &mut utoipa::openapi::OpenApi) {
    Auth.modify(doc);
    AuthAnswers.modify(doc);
}

/// Declares the three ways to authenticate.
#[derive(Debug)]
struct Auth;

impl Modify for Auth {
    // Over 80 lines: one entry per answer every route may give.
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "service_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Service-Key",
                "A service key (POST /api/servicekeys)",
            ))),
        );
        components.add_security_scheme(
            "access_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Access-Token",
                "<username>:<token>, the token from POST /auth/login",
            ))),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("An account's username and password"))
                    .build(),
            ),
        );
    }
}

/// Adds the answers that do not depend on the handler: to every operation
/// behind credentials (all but those declaring `security(())`) 401, 403,
/// 429 and 503 (no or wrong credentials, no permission, too many failed
/// logins, too busy checking passwords or the request's deadline passed);
/// to every operation that takes parameters or a body 400; to every one
/// that takes a body 408 (it did not arrive in time); to every write 507
/// (the disk is full), in its family's envelope. So each handler's
/// annotation lists only its own answers.
#[derive(Debug)]
struct AuthAnswers;

impl Modify for AuthAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let answer = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                (false, &mut item.get),
                (true, &mut item.put),
                (true, &mut item.post),
                (true, &mut item.delete),
                (true, &mut item.patch),
                (false, &mut item.head),
            ];
            for (writes, op) in operations {
                let Some(op) = op else { continue };
                // A write can find the data folder's disk full, in every
                // family, each answering in its own envelope.
                let envelope = match op.tags.as_ref().and_then(|t| t.first()).map(String::as_str) {
                    Some("distribution") => "DistributionErrors",
                    Some("docker-ext") => "ExtEnvelope",
                    Some("packaging") => "PackEnvelope",
                    _ => "ErrorBody",
                };
                if writes {
                    op.responses.responses.entry("507".into()).or_insert_with(|| {
                        ResponseBuilder::new()
                            .description("The data folder's disk is full: nothing was stored (try again once space is freed)")
                            .content(
                                "application/json",
                                ContentBuilder::new()
                                    .schema(Some(Ref::from_schema_name(envelope)))
                                    .build(),
                            )
                            .build()
                            .into()
                    });
                }
                // The distribution, docker ext and packaging APIs document
                // their own errors, in their own envelopes.
                if envelope != "ErrorBody" {
                    continue;
                }
                // `security(())` is an operation open without credentials.
                let open = op.security.as_ref().is_some_and(|s| {
                    s.iter()
                        .any(|r| serde_json::to_value(r).is_ok_and(|v| v == serde_json::json!({})))
                });
                let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let has_body = op.request_body.is_some();
                let responses = &mut op.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses
                        .entry(status.into())
                        .or_insert_with(|| answer(description).into());
                };
                if has_params || has_body {
                    add(
                        "400",
                        "A malformed or invalid request; the message names what",
                    );
                }
                if has_body {
                    add("408", "The body did not arrive in time");
                }
                // The container service (seed 003): every operation names a
                // project, service or volume, or reads a body.
                let compose = op
                    .tags
                    .as_ref()
                    .is_some_and(|t| t.iter().any(|t| t == "projects"));
                if compose {
                    add(
                        "400",
                        "A malformed or invalid request; the message names what",
                    );
                    add("404", "No such project, service or volume (or compose projects are not enabled on this server)");
                    add("408", "The body did not arrive in time");
                }
                add("503", "The request's deadline passed, or the server is too busy checking passwords (`Retry-After`)");
                if open {
                    continue;
                }
                add("401", "No valid credentials");
                add("403", "Not permitted to the caller's role");
                add(
                    "429",
                    "Too many failed logins from this address or for this username (`Retry-After`)",
                );
            }
        }
    }
}

/// `GET /api/openapi.json`: rendered once, then served from memory. Like
/// every endpoint but the hub webhook, it needs valid credentials.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This document", content_type = "application/json"))
)]
pub async fn document(_caller: crate::auth::Caller) -> impl IntoResponse {
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = JSON.get_or_init(|| {
        serde_json::to_value(crate::openapi())
            .map(|mut doc| {
                refine(&mut doc);
                doc
            })
            .and_then(|doc| serde_json::to_string_pretty(&doc))
            .unwrap_or_else(|e| {
                format!("{{\"error\":\"cannot render the OpenAPI document: {e}\"}}")
            })
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.as_str(),
    )
}

/// What a path parameter must be, beyond a string.
enum Rule {
    Pattern(&'static str),
    /// A pattern, and the longest string it takes.
    Text(&'static str, u64),
    MinLength(u64),
    Range(u64, u64),
}

/// The path parameters' rules, by path prefix and name: what each
/// handler's parser takes (the patterns are the parsers' own constants
/// where there is one), so a client or a fuzzer builds requests the
/// handler accepts.
const PARAM_RULES: &[(&str, &str, &str, Rule)] = {
    use crate::registry_api::policy::MAX_GRACE;
    use shipcore::model::NAME_PATTERN;
    use shipcore::registry::names::{
        COMPONENT_PATTERN, DIGEST_PATTERN, REFERENCE_PATTERN, REPOSITORY_PATTERN, TAG_PATTERN,
    };
    &[
        ("/v2/", "path", "name", Rule::Text(COMPONENT_PATTERN, 255)),
        (
            "/v2/",
            "path",
            "reference",
            Rule::Pattern(REFERENCE_PATTERN),
        ),
        ("/v2/", "path", "digest", Rule::Pattern(DIGEST_PATTERN)),
        ("/v2/", "path", "uuid", Rule::Pattern("^[0-9a-f]{32}$")),
        (
            "/docker/ext/",
            "path",
            "projectId",
            Rule::Text(COMPONENT_PATTERN, 80),
        ),
        (
            "/docker/ext/",
            "path",
            "repoName",
            Rule::Text(COMPONENT_PATTERN, 80),
        ),
        (
            "/docker/ext/",
            "path",
            "name",
            Rule::Text(COMPONENT_PATTERN, 80),
        ),
        ("/docker/ext/", "path", "tag", Rule::Pattern(TAG_PATTERN)),
        (
            "/docker/ext/",
            "query",
            "packageKey",
            Rule::Text(COMPONENT_PATTERN, 80),
        ),
        (
            "/docker/ext/",
            "query",
            "version",
            Rule::Pattern(TAG_PATTERN),
        ),
        (
            "/api/containers/",
            "query",
            "tail",
            Rule::Pattern("^([0-9]+|all)$"),
        ),
        (
            "/api/registry/",
            "query",
            "repository",
            Rule::Text(REPOSITORY_PATTERN, 255),
        ),
        (
            "/api/registry/gc",
            "query",
            "grace_seconds",
            Rule::Range(0, MAX_GRACE),
        ),
        ("/harbor/", "query", "page_size", Rule::Range(1, 100)),
        ("/harbor/", "query", "page", Rule::Range(0, 1_000_000)),
        (
            "/harbor/",
            "query",
            "repo_name",
            Rule::Text(REPOSITORY_PATTERN, 255),
        ),
        ("/harbor/", "query", "tag", Rule::Pattern(TAG_PATTERN)),
        (
            "/docker/ext/",
            "path",
            "Id",
            Rule::Pattern("^((sha256:)?[a-f0-9]{64}|sha512:[a-f0-9]{128})$"),
        ),
        (
            "/services/",
            "path",
            "id",
            Rule::Pattern("^[A-Za-z0-9][A-Za-z0-9-]{0,63}_[A-Za-z0-9._-]+$"),
        ),
        ("/api/webhookkeys/", "path", "id", Rule::MinLength(6)),
        ("/api/webhooks/", "path", "id", Rule::MinLength(6)),
        ("/api/roles/", "path", "name", Rule::Pattern(NAME_PATTERN)),
        (
            "/api/registry/notifications/",
            "path",
            "name",
            Rule::Pattern("^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"),
        ),
        ("/projects/", "path", "name", Rule::Pattern(NAME_PATTERN)),
        ("/volumes/", "path", "name", Rule::Pattern(NAME_PATTERN)),
    ]
};

/// Completes the rendered document with what utoipa's attributes cannot
/// say: the parameters' rules ([`PARAM_RULES`]); events as the event
/// API sends them (`container` and `engine` always objects, `{}` when the
/// event has none); and the server-sent events of the event stream and a
/// build's log, one object per event (`event`, `id`, `data`).
pub fn refine(doc: &mut serde_json::Value) {
    use serde_json::json;
    if let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for (path, item) in paths.iter_mut() {
            let Some(ops) = item.as_object_mut() else {
                continue;
            };
            for op in ops.values_mut() {
                let Some(params) = op.get_mut("parameters").and_then(|p| p.as_array_mut()) else {
                    continue;
                };
                for param in params.iter_mut() {
                    let rule = PARAM_RULES.iter().find(|(prefix, at, name, _)| {
                        path.starts_with(prefix) && param["in"] == *at && param["name"] == *name
                    });
                    match rule {
                        Some((.., Rule::Pattern(p))) => param["schema"]["pattern"] = json!(p),
                        Some((.., Rule::MinLength(n))) => param["schema"]["minLength"] = json!(n),
                        Some((.., Rule::Text(p, n))) => {
                            param["schema"]["pattern"] = json!(p);
                            param["schema"]["maxLength"] = json!(n);
                        }
                        Some((.., Rule::Range(lo, hi))) => {
                            param["schema"]["minimum"] = json!(lo);
                            param["schema"]["maximum"] = json!(hi);
                        }
                        None => {}
                    }
                }
            }
        }
    }
    // The distribution API's queries (its routes are one handler's, so
    // their attributes name only the path).
    let digest = json!({"type": "string", "pattern": shipcore::registry::names::DIGEST_PATTERN});
    let repository = json!({"type": "string", "maxLength": 255,
        "pattern": shipcore::registry::names::REPOSITORY_PATTERN});
    let queries = [
        (
            "/v2/{name}/blobs/uploads/{uuid}",
            "put",
            "digest",
            true,
            digest.clone(),
            "The blob's digest: the upload ends",
        ),
        (
            "/v2/{name}/blobs/uploads/",
            "post",
            "digest",
            false,
            digest.clone(),
            "A monolithic upload: the blob's digest",
        ),
        (
            "/v2/{name}/blobs/uploads/",
            "post",
            "mount",
            false,
            digest,
            "Mount this blob from `from` (or wherever the caller may read it)",
        ),
        (
            "/v2/{name}/blobs/uploads/",
            "post",
            "from",
            false,
            repository,
            "The repository to mount from",
        ),
    ];
    for (path, method, name, required, schema, about) in queries {
        let Some(op) = doc
            .get_mut("paths")
            .and_then(|p| p.get_mut(path))
            .and_then(|p| p.get_mut(method))
        else {
            continue;
        };
        let param = json!({"name": name, "in": "query", "required": required, "description": about, "schema": schema});
        match op.get_mut("parameters").and_then(|p| p.as_array_mut()) {
            Some(params) => params.push(param),
            None => op["parameters"] = json!([param]),
        }
    }
    // The build configuration page is the seed's `{data: html}`, not the
    // family's envelope.
    if let Some(ok) = doc.pointer_mut(
        "/paths/~1view~1config~1independent/get/responses/200/content/application~1json",
    ) {
        ok["schema"] = json!({"type": "object", "required": ["data"], "properties": {"data": {"type": "string"}}});
    }
    // A pattern or length utoipa put on a list of strings holds for each
    // string.
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(|s| s.as_object_mut())
    {
        for schema in schemas.values_mut() {
            let Some(props) = schema.get_mut("properties").and_then(|p| p.as_object_mut()) else {
                continue;
            };
            for prop in props.values_mut() {
                if prop.get("type").is_some_and(|t| t == "array") && prop.get("items").is_some() {
                    for key in ["pattern", "minLength", "maxLength"] {
                        if let Some(v) = prop.as_object_mut().and_then(|p| p.remove(key)) {
                            prop["items"][key] = v;
                        }
                    }
                }
            }
        }
    }
    let mut event = doc
        .pointer_mut("/components/schemas/Event/properties")
        .and_then(|p| p.as_object_mut());
    for (field, schema) in [("container", "Container"), ("engine", "Engine")] {
        if let Some(prop) = event.as_deref_mut().and_then(|e| e.get_mut(field)) {
            *prop = json!({"anyOf": [
                {"$ref": format!("#/components/schemas/{schema}")},
                {"type": "object", "maxProperties": 0},
            ]});
        }
    }
    let sse = |events: &[&str], data: serde_json::Value| {
        json!({
            "type": "object",
            "required": ["event", "data"],
            "properties": {
                "event": {"type": "string", "enum": events},
                "id": {"type": "string"},
                "data": data,
                "retry": {"type": "integer"},
            },
        })
    };
    let streams = [
        (
            "/api/events",
            sse(
                &["event", "error"],
                json!({"type": "string", "contentMediaType": "application/json"}),
            ),
        ),
        (
            "/api/project/build/{id}/log",
            sse(&["line", "end"], json!({"type": "string"})),
        ),
    ];
    for (path, schema) in streams {
        let Some(ops) = doc
            .get_mut("paths")
            .and_then(|p| p.get_mut(path))
            .and_then(|p| p.as_object_mut())
        else {
            continue;
        };
        for op in ops.values_mut() {
            if let Some(stream) = op.pointer_mut("/responses/200/content/text~1event-stream") {
                stream["schema"] = schema.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// The patterns the document states take what the parsers take: over
    /// thousands of strings (a fixed pseudo-random walk over the characters
    /// names use and some they must not), each parser and its pattern
    /// agree, string by string.
    #[test]
    fn the_documents_patterns_are_the_parsers_rules() {
        use shipcore::registry::names::*;
        use shipcore::registry::{Digest, Reference, Repository};
        type Parser = fn(&str) -> bool;
        let pairs: [(&str, &str, Parser); 6] = [
            ("component", COMPONENT_PATTERN, |s| {
                !s.contains('/') && Repository::parse(s).is_ok()
            }),
            ("repository", REPOSITORY_PATTERN, |s| {
                Repository::parse(s).is_ok()
            }),
            ("tag", TAG_PATTERN, |s| {
                shipcore::registry::check_tag(s).is_ok()
            }),
            ("digest", DIGEST_PATTERN, |s| Digest::parse(s).is_ok()),
            ("reference", REFERENCE_PATTERN, |s| {
                Reference::parse(s).is_ok()
            }),
            ("name", shipcore::model::NAME_PATTERN, |s| {
                shipcore::model::validate_name("n", s).is_ok()
            }),
        ];
        let alphabet: Vec<char> = "abz09AZ._-/:_".chars().collect();
        let mut seed: u64 = 7;
        let mut next = move |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        let mut samples: Vec<String> = vec![
            format!("sha256:{}", "a".repeat(64)),
            format!("sha512:{}", "0".repeat(128)),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha256:{}", "a".repeat(63)),
            "a".repeat(64),
            "a".repeat(65),
            "a".repeat(128),
            "a".repeat(129),
            "a__b".into(),
            "a___b".into(),
            "a--b".into(),
            "".into(),
        ];
        for _ in 0..20_000 {
            let len = next(10);
            samples.push((0..len).map(|_| alphabet[next(alphabet.len())]).collect());
        }
        for (what, pattern, parses) in pairs {
            let re = regex::Regex::new(pattern).unwrap();
            for s in &samples {
                assert_eq!(re.is_match(s), parses(s), "{what}: {s:?} against {pattern}");
            }
        }
        // A webhook key's image: what the document allows, the parser
        // takes (the parser takes more: tags, digests, ports).
        let doc: serde_json::Value =
            serde_json::from_str(&crate::openapi().to_json().unwrap()).unwrap();
        let pattern = doc["components"]["schemas"]["Image"]["properties"]["image"]["pattern"]
            .as_str()
            .unwrap();
        // A hub push names its repository as a key's image does.
        assert_eq!(
            doc["components"]["schemas"]["HubRepository"]["properties"]["repo_name"]["pattern"]
                .as_str(),
            Some(pattern)
        );
        let re = regex::Regex::new(pattern).unwrap();
        samples.push("zk2c__8w.87f/kl".into());
        samples.push("registry.example.com/team/app".into());
        let mut matched = 0;
        for s in &samples {
            if re.is_match(s) {
                matched += 1;
                let parsed = shipcore::model::ImageRef::parse(s);
                assert!(parsed.is_ok(), "image: {s:?} matches {pattern}: {parsed:?}");
            }
        }
        assert!(matched > 100, "{matched}");
    }

    #[test]
    fn the_document_describes_every_operation_with_schemas_and_auth() {
        let doc: serde_json::Value =
            serde_json::from_str(&crate::openapi().to_json().unwrap()).unwrap();
        let operations: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum();
        // 37 of the cluster API (4 for login tokens and passwords), 28 of
        // the container service (25 for projects, services and volumes, 3
        // for the cluster's certificates), 35 of the registry (16 of the
        // distribution API, 8 of seed 004's docker ext, 7 of the Harbor
        // browse API, 3 of retention and immutability, 1 of garbage
        // collection), 15 of build projects (seed 002 part 1).
        assert_eq!(operations, 118);
        // Every parameter a path template names is declared as a path
        // parameter of each of its operations (a fuzzer builds requests
        // from them).
        let mut undeclared = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            let named: Vec<&str> = path
                .split('{')
                .skip(1)
                .filter_map(|rest| rest.split('}').next())
                .collect();
            for (method, op) in item.as_object().unwrap() {
                for name in &named {
                    let declared = op["parameters"].as_array().is_some_and(|ps| {
                        ps.iter().any(|p| p["name"] == *name && p["in"] == "path")
                    });
                    if !declared {
                        undeclared.push(format!("{method} {path}: {{{name}}}"));
                    }
                }
            }
        }
        assert!(
            undeclared.is_empty(),
            "undeclared path parameters: {undeclared:#?}"
        );
        let schemas = &doc["components"]["schemas"];
        for name in [
            "Container",
            "ImageConfig",
            "EngineRecord",
            "ClusterInfo",
            "Role",
            "ErrorBody",
        ] {
            assert!(schemas.get(name).is_some(), "{name} has no schema");
        }
        // Permissions travel as strings such as "containers:ro".
        assert_eq!(
            schemas["Role"]["properties"]["permissions"]["items"]["type"],
            "string"
        );
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["service_key"]["name"], "X-Service-Key");
        assert_eq!(schemes["basic"]["scheme"], "basic");
        assert_eq!(schemes["access_token"]["name"], "X-Access-Token");
        assert_eq!(
            doc["paths"]["/auth/login"]["post"]["security"],
            serde_json::json!([{}])
        );
        // The webhook takes its key in the path, not credentials.
        assert_eq!(
            doc["paths"]["/hub/webhook/{key}"]["post"]["security"],
            serde_json::json!([{}])
        );
        let roles = &doc["paths"]["/api/roles"]["get"]["responses"];
        for status in ["401", "403"] {
            assert_eq!(
                roles[status]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{roles}"
            );
        }
        let deploy = &doc["paths"]["/api/containers"]["post"];
        assert!(deploy["responses"].get("201").is_some());
        assert_eq!(deploy["parameters"][0]["name"], "count");
    }
}
