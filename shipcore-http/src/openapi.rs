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
/// that takes a body 408 (it did not arrive in time). So each handler's
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
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
                &mut item.head,
            ];
            for op in operations.into_iter().flatten() {
                // The distribution, docker ext and packaging APIs document
                // their own errors, in their own envelopes.
                let own = op.tags.as_ref().is_some_and(|t| {
                    t.iter()
                        .any(|t| t == "distribution" || t == "docker-ext" || t == "packaging")
                });
                if own {
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
        crate::openapi().to_pretty_json().unwrap_or_else(|e| {
            format!("{{\"error\":\"cannot render the OpenAPI document: {e}\"}}")
        })
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.as_str(),
    )
}

#[cfg(test)]
mod tests {

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
