//! The API document: `GET /v1/openapi.json` is OpenAPI 3.x, describes every
//! route the router serves with its auth and error body, and its shapes
//! match what the handlers really answer.

#[path = "support/harness.rs"]
mod harness;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use coffer_server::operator;
use harness::*;
use serde_json::{json, Value};

async fn document(h: &Harness) -> Value {
    let (status, headers, bytes) = h
        .send(
            Request::get("/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    serde_json::from_slice(&bytes).unwrap()
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if [
                "get", "put", "post", "delete", "patch", "head", "options", "trace",
            ]
            .contains(&method.as_str())
            {
                found.push((path.clone(), method.clone(), operation.clone()));
            }
        }
    }
    found
}

/// Every `$ref` in `value` points at something in the document.
fn check_refs(doc: &Value, value: &Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                let pointer = target.strip_prefix('#').expect("a local $ref");
                assert!(doc.pointer(pointer).is_some(), "dangling $ref {target}");
            }
            map.values().for_each(|v| check_refs(doc, v));
        }
        Value::Array(items) => items.iter().for_each(|v| check_refs(doc, v)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_and_parses_as_such() {
    let h = Harness::new();
    let doc = document(&h).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "Coffer service API");
    assert!(doc["info"]["version"].is_string());
    // The typed OpenAPI model reads it back.
    let parsed: utoipa::openapi::OpenApi = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(
        parsed.paths.paths.len(),
        doc["paths"].as_object().unwrap().len()
    );
    check_refs(&doc, &doc);
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        json!({ "type": "http", "scheme": "bearer",
                "description": "The access token from POST /v1/sessions or /v1/sessions/refresh" })
    );
    for (path, method, operation) in operations(&doc) {
        let responses = operation["responses"].as_object().unwrap();
        assert_eq!(
            responses["default"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody",
            "{method} {path} documents the error body"
        );
        assert!(
            responses.keys().any(|k| k.starts_with('2')),
            "{method} {path} documents its success"
        );
    }
}

fn concrete(path: &str) -> String {
    path.replace("{kind}", "packs")
        .replace("{id}", &"0".repeat(64))
        .replace("{part}", "0")
}

/// A route exists for `method path` when the router does not fall through to
/// `404` (unknown path) or `405` (unknown method).
#[tokio::test]
async fn every_documented_operation_is_routed_and_its_auth_is_as_documented() {
    let h = Harness::new();
    // So GET /v1/policy has something to show rather than 404.
    operator::publish_policy(&h.state, "2025-01", "Policy text.")
        .await
        .unwrap();
    let doc = document(&h).await;
    let ops = operations(&doc);
    assert!(ops.len() >= 38, "{} operations", ops.len());
    for (path, method, operation) in ops {
        let request = Request::builder()
            .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
            .uri(concrete(&path))
            .body(Body::empty())
            .unwrap();
        let (status, _, bytes) = h.send(request).await;
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} is documented but not routed ({status})"
        );
        // The person's session always; a connected-app token too where a
        // scope admits the operation (`app_token` with those scopes).
        let needs_bearer = operation["security"]
            .as_array()
            .is_some_and(|s| s.first() == Some(&json!({ "bearer": [] })));
        let refused = status == StatusCode::UNAUTHORIZED
            && serde_json::from_slice::<Value>(&bytes).unwrap()["error"]["code"] == "unauthorized";
        assert_eq!(
            needs_bearer, refused,
            "{method} {path}: documented bearer {needs_bearer}, answered {status} without a token"
        );
    }
}

/// The router and the document are built from the same `routes!` lists; a
/// route added any other way (`.route(…)`, `.nest(…)`, …) would be served
/// without being documented, so none may exist.
#[test]
fn no_route_is_registered_outside_the_documented_lists() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    let mut folders = vec![src];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 20);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for forbidden in [
            ".route(",
            ".route_service(",
            ".nest(",
            ".nest_service(",
            "axum::routing",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} registers a route with {forbidden}: use routes!() with #[utoipa::path]",
                file.display()
            );
        }
    }
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

/// The real response's fields are exactly the schema's properties.
fn assert_shape(doc: &Value, schema: &str, real: &Value) {
    let properties = keys(&doc["components"]["schemas"][schema]["properties"]);
    assert_eq!(keys(real), properties, "{schema} drifted from the handlers");
}

#[tokio::test]
async fn the_documented_shapes_are_what_the_handlers_answer() {
    let h = Harness::new();
    let doc = document(&h).await;
    h.sign_up(sign_up_body("ann@example.com")).await;
    let (_, signed_in) = h.sign_in("ann@example.com", PASSWORD).await;
    assert_shape(&doc, "SignInResponse", &signed_in);
    let token = signed_in["access_token"].as_str().unwrap();
    let (_, account) = h.get("/v1/account", token).await;
    assert_shape(&doc, "AccountView", &account);
    assert_shape(&doc, "Quota", &account["quota"]);
    let (_, sessions) = h.get("/v1/sessions", token).await;
    assert_shape(&doc, "SessionView", &sessions[0]);
    let (_, prefs) = h.get("/v1/account/preferences", token).await;
    assert_shape(&doc, "Preferences", &prefs);
    let (_, grant) = h
        .post("/v1/auth/confirm", token, json!({ "password": PASSWORD }))
        .await;
    assert_shape(&doc, "ConfirmResponse", &grant);
    assert_eq!(h.put_object(token, "snapshots", b"a snapshot").await, StatusCode::CREATED);
    let request = Request::delete(format!("/v1/repo/snapshots/{}", blake3::hash(b"a snapshot").to_hex()))
        .header("authorization", format!("Bearer {token}"))
        .header("coffer-confirmation", grant["confirmation"].as_str().unwrap())
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(request).await.0, StatusCode::NO_CONTENT);
    let (_, held) = h.get("/v1/deletions", token).await;
    assert_shape(&doc, "HeldDeletion", &held[0]);
    let (_, cancelled) = h
        .post_empty(&format!("/v1/deletions/{}/cancel", held[0]["id"].as_str().unwrap()), token)
        .await;
    assert_shape(&doc, "DeletionCancelled", &cancelled);
    let (_, refreshed) = h
        .post_public(
            "/v1/sessions/refresh",
            json!({ "refresh_token": signed_in["refresh_token"] }),
        )
        .await;
    assert_shape(&doc, "RefreshResponse", &refreshed);
    let (_, health) = h.get_public("/v1/health").await;
    assert_shape(&doc, "Health", &health);
    let (_, ready) = h.get_public("/readyz").await;
    assert_shape(&doc, "Readiness", &ready);
    // Errors: `code` and `message` always, the rest only with some codes.
    let (_, error) = h.post_public("/v1/accounts", json!({})).await;
    assert_shape(&doc, "ErrorBody", &error);
    let detail = &doc["components"]["schemas"]["ErrorDetail"];
    assert_eq!(detail["required"], json!(["code", "message"]));
    assert!(keys(&error["error"]).is_subset(&keys(&detail["properties"])));
}
