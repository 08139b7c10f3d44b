//! The OpenAPI document of the facade, generated from the handlers'
//! `#[utoipa::path]` attributes and the model's `ToSchema` derives, served
//! at `GET /api/openapi.json`.

use axum::response::IntoResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::cluster_api::{access, containers, engines, events};

/// The cluster API of seed 001.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "shipcore",
        description = "Shipyard's cluster API served by shipcore: containers placed by an explainable scheduler, engines, accounts, roles, keys and events."
    ),
    paths(
        containers::list,
        containers::deploy,
        containers::inspect,
        containers::destroy,
        containers::stop,
        containers::restart,
        containers::scale,
        containers::logs,
        engines::list,
        engines::add,
        engines::inspect,
        engines::remove,
        engines::info,
        access::accounts,
        access::add_account,
        access::delete_account,
        access::roles,
        access::role,
        access::add_role,
        access::delete_role,
        access::service_keys,
        access::add_service_key,
        access::delete_service_key,
        access::webhook_keys,
        access::add_webhook_key,
        access::delete_webhook_key,
        access::delete_webhook_key_alias,
        events::list,
        events::hub,
        events::hub_without_key,
        events::hub_without_key_slash,
        crate::observe::metrics,
        document,
    ),
    modifiers(&Auth, &AuthAnswers),
    security(("service_key" = []), ("basic" = [])),
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
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

/// Declares the two ways to authenticate.
#[derive(Debug)]
struct Auth;

impl Modify for Auth {
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

/// Adds the 401 and 403 answers to every operation behind credentials (all
/// but those declaring `security(())`), so each handler's annotation lists
/// only its own answers.
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
                // `security(())` is an operation open without credentials.
                let open = op.security.as_ref().is_some_and(|s| {
                    s.iter()
                        .any(|r| serde_json::to_value(r).is_ok_and(|v| v == serde_json::json!({})))
                });
                if open {
                    continue;
                }
                let responses = &mut op.responses.responses;
                responses
                    .entry("401".into())
                    .or_insert_with(|| answer("No valid credentials").into());
                responses
                    .entry("403".into())
                    .or_insert_with(|| answer("Not permitted to the caller's role").into());
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
        ApiDoc::openapi().to_pretty_json().unwrap_or_else(|e| {
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
    use super::*;

    #[test]
    fn the_document_describes_every_operation_with_schemas_and_auth() {
        let doc: serde_json::Value =
            serde_json::from_str(&ApiDoc::openapi().to_json().unwrap()).unwrap();
        let operations: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum();
        assert_eq!(operations, 33);
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
