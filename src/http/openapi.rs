//! The OpenAPI document, served at `/api/v1/openapi.json` without authentication: generated from
//! the handlers' annotations, then completed in one place so that generated clients and
//! schema-driven fuzzers can call every operation: every path parameter declared, every error
//! answer described with the `ApiError` shape (and a `default` response for the errors any
//! operation may give: 401, 422, 429, 503, 500).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{auth, boards, events, images, models, queue, s3, users, web, worker};

/// The API description, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "Atelier", description = "Multi-user image generation server"),
    paths(
        auth::routes::status, auth::routes::setup, auth::routes::login, auth::routes::logout,
        auth::routes::get_me, auth::routes::update_me,
        users::routes::list_users, users::routes::create_user, users::routes::get_user,
        users::routes::update_user, users::routes::delete_user,
        boards::routes::list_boards, boards::routes::create_board, boards::routes::get_board,
        boards::routes::rename_board, boards::routes::delete_board,
        images::routes::upload_image, images::routes::list_images, images::routes::get_image,
        images::routes::get_full, images::routes::get_thumbnail, images::routes::update_image,
        images::routes::delete_image, images::routes::bulk_images,
        queue::routes::enqueue, queue::routes::list_items, queue::routes::get_item,
        queue::routes::cancel_item, queue::routes::retry_item, queue::routes::clear_items,
        queue::routes::queue_status, queue::routes::pause_queue, queue::routes::resume_queue,
        queue::prompt_tokens::count_tokens,
        events::socket::ticket, events::socket::connect,
        models::routes::list_models, models::routes::get_model, models::routes::install_model,
        models::routes::upload_model, models::routes::scan_models, models::routes::list_installs,
        models::routes::get_install, models::routes::update_model, models::routes::delete_model,
        web::state::get_state, web::state::put_state, worker::routes::list_workers, worker::routes::forget_worker,
        s3::routes::list_keys, s3::routes::create_key, s3::routes::update_key, s3::routes::revoke_key,
    ),
    components(schemas(crate::error::ErrorCode, crate::images::model::Category)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The completed document as JSON, built once.
pub fn document() -> &'static serde_json::Value {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        complete(&mut doc);
        doc
    })
}

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];

/// Adds the `ApiError` schema, declares every `{param}` of every path on its operations, and
/// gives every error response (and a `default` one) the `ApiError` shape.
fn complete(doc: &mut serde_json::Value) {
    use serde_json::json;
    doc["components"]["schemas"]["ApiError"] = json!({
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"$ref": "#/components/schemas/ErrorCode"},
                "message": {"type": "string"}
            }
        }}
    });
    let error_content =
        json!({"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}});
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let names = path_parameters(path);
        for method in METHODS {
            let Some(operation) = item.get_mut(method).and_then(|o| o.as_object_mut()) else {
                continue;
            };
            declare_path_parameters(operation, &names);
            let responses = operation.entry("responses").or_insert_with(|| json!({}));
            if let Some(responses) = responses.as_object_mut() {
                for (status, response) in responses.iter_mut() {
                    let is_error = status.starts_with('4') || status.starts_with('5');
                    if is_error && response.get("content").is_none() {
                        response["content"] = error_content.clone();
                    }
                }
                responses.insert(
                    "default".into(),
                    json!({"description": "an error; the code says which (docs/errors.md)",
                           "content": error_content}),
                );
            }
        }
    }
}

/// The `{name}` segments of a path template.
fn path_parameters(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect()
}

fn declare_path_parameters(
    operation: &mut serde_json::Map<String, serde_json::Value>,
    names: &[String],
) {
    let parameters = operation
        .entry("parameters")
        .or_insert_with(|| serde_json::json!([]));
    let Some(list) = parameters.as_array_mut() else {
        return;
    };
    for name in names {
        let declared = list
            .iter()
            .any(|p| p["in"] == "path" && p["name"] == name.as_str());
        if !declared {
            list.push(serde_json::json!({
                "name": name, "in": "path", "required": true, "schema": {"type": "string"}
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v.as_str()) {
                        ("$ref", Some(target)) => out.push(target),
                        _ => refs(v, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut found = Vec::new();
        refs(doc, &mut found);
        assert!(!found.is_empty());
        for target in found {
            let pointer = target.strip_prefix('#').expect("local references only");
            assert!(doc.pointer(pointer).is_some(), "{target} does not resolve");
        }
    }

    #[test]
    fn every_path_parameter_is_declared_and_every_error_has_the_api_error_shape() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        let mut operations = 0;
        for (path, item) in paths {
            for method in METHODS {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                operations += 1;
                for name in path_parameters(path) {
                    let declared = operation["parameters"].as_array().is_some_and(|list| {
                        list.iter()
                            .any(|p| p["in"] == "path" && p["name"] == name.as_str())
                    });
                    assert!(declared, "{method} {path}: {{{name}}} is not declared");
                }
                let responses = operation["responses"].as_object().unwrap();
                assert!(responses.contains_key("default"), "{method} {path}");
                for (status, response) in responses {
                    if status.starts_with('4') || status.starts_with('5') || status == "default" {
                        assert_eq!(
                            response["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/ApiError",
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
        assert!(operations >= 49, "{operations}");
    }
}
