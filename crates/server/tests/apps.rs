//! Connected apps: scoped tokens the person makes for a third-party
//! application. Each scope admits exactly its routes (checked against every
//! operation the API document lists), a backup-only token can neither read
//! nor delete data, tokens expire and revoke at once, only their hash is
//! stored, their secret is shown once, and their last use is recorded.

#[path = "support/harness.rs"]
mod harness;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use harness::*;
use serde_json::{json, Value};

const DAY_MS: i64 = 86_400_000;

/// Creates an app token with `scopes` for the session's account.
async fn app(h: &Harness, session: &Session, scopes: &[&str], days: u64) -> Value {
    let (status, body) = h
        .post(
            "/v1/apps",
            &session.access,
            json!({ "name": format!("app {}", scopes.join("+")), "scopes": scopes,
                    "expires_in_days": days }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

fn token(app: &Value) -> &str {
    app["token"].as_str().unwrap()
}

fn id_of(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

async fn get_object(h: &Harness, token: &str, kind: &str, bytes: &[u8]) -> (StatusCode, Vec<u8>) {
    let request = Request::get(format!("/v1/repo/{kind}/{}", id_of(bytes)))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = h.send(request).await;
    (status, body.to_vec())
}

async fn delete_object(h: &Harness, token: &str, bytes: &[u8], grant: &str) -> (StatusCode, Value) {
    let request = Request::delete(format!("/v1/repo/snapshots/{}", id_of(bytes)))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header("coffer-confirmation", grant)
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = h.send(request).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_new_token_is_shown_once_stored_hashed_and_listed_without_its_secret() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    let created = app(&h, &ann, &["backup", "restore"], 10).await;
    let secret = token(&created);
    let random = secret.strip_prefix("coffer_app_").expect("prefixed");
    // 32 random bytes, base64url without padding: 256 bits.
    assert_eq!(random.len(), 43, "{secret}");
    assert_eq!(created["scopes"], json!(["restore", "backup"]));
    assert_eq!(created["expires_at"], json!(MONDAY_NOON + 10 * DAY_MS));
    assert_eq!(created["last_used_at"], Value::Null);

    let (status, list) = h.get("/v1/apps", &ann.access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], created["id"]);
    assert!(list[0].get("token").is_none(), "{list}");
    assert!(
        !list.to_string().contains(random),
        "the list shows the secret"
    );

    // The database holds the SHA-256 of the token, never the token.
    // (The SQLite file, free pages included, or PostgreSQL's rows.)
    let db = h.state.db.stored_bytes().await.unwrap();
    let contains = |needle: &[u8]| db.windows(needle.len()).any(|w| w == needle);
    assert!(
        !contains(random.as_bytes()),
        "the secret is in the database"
    );
    let sha: [u8; 32] = coffer_server::auth::token_sha256(secret);
    assert!(contains(&sha), "the token's hash is not in the database");

    // Two tokens never share a secret.
    let other = app(&h, &ann, &["backup"], 10).await;
    assert_ne!(token(&other), secret);
}

#[tokio::test]
async fn bad_requests_are_refused_by_field_and_store_nothing() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    for (body, field) in [
        (json!({ "scopes": ["restore"] }), "name:"),
        (json!({ "name": "  ", "scopes": ["restore"] }), "name:"),
        (json!({ "name": "x", "scopes": [] }), "scopes:"),
        (json!({ "name": "x" }), "scopes:"),
        (json!({ "name": "x", "scopes": ["admin"] }), "scopes:"),
        (json!({ "name": "x", "scopes": "restore" }), "scopes:"),
        (
            json!({ "name": "x", "scopes": ["restore"], "expires_in_days": 0 }),
            "expires_in_days:",
        ),
        (
            json!({ "name": "x", "scopes": ["restore"], "expires_in_days": 366 }),
            "expires_in_days:",
        ),
        (
            json!({ "name": "x", "scopes": ["restore"], "expires_in_days": "7" }),
            "expires_in_days:",
        ),
    ] {
        let (status, error) = h.post("/v1/apps", &ann.access, body.clone()).await;
        assert_error(status, &error, StatusCode::BAD_REQUEST, "invalid_input");
        assert!(message(&error).starts_with(field), "{body}: {error}");
    }
    let (_, list) = h.get("/v1/apps", &ann.access).await;
    assert_eq!(list, json!([]));
    // Without an expiry: 30 days.
    let (status, created) = h
        .post(
            "/v1/apps",
            &ann.access,
            json!({ "name": "x", "scopes": ["restore"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["expires_at"], json!(MONDAY_NOON + 30 * DAY_MS));
}

/// Every operation the document lists, called with a token of each scope:
/// exactly the operations that scope admits get past the middleware, the
/// rest answer `403 scope_denied` saying why.
#[tokio::test]
async fn each_scope_is_enforced_on_every_route() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    let (_, doc) = h.get_public("/v1/openapi.json").await;
    let mut checked = 0;
    for scope in ["restore", "backup", "account_read"] {
        let created = app(&h, &ann, &[scope], 30).await;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let Some(security) = operation["security"].as_array() else {
                    continue; // public
                };
                let admitted = security.iter().any(|s| {
                    s["app_token"]
                        .as_array()
                        .is_some_and(|scopes| scopes.contains(&json!(scope)))
                });
                let uri = path
                    .replace("{kind}", "packs")
                    .replace("{id}", &"0".repeat(64));
                let request = Request::builder()
                    .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
                    .uri(&uri)
                    .header(header::AUTHORIZATION, format!("Bearer {}", token(&created)))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from("{}"))
                    .unwrap();
                let (status, _, bytes) = h.send(request).await;
                let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                let denied =
                    status == StatusCode::FORBIDDEN && body["error"]["code"] == "scope_denied";
                assert_eq!(
                    !admitted, denied,
                    "{scope}: {method} {path} answered {status} {body}"
                );
                if denied {
                    assert!(
                        message(&body).contains(&format!("scopes: {scope}")),
                        "{body}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 3 * 28, "{checked} checks");
    // The person's own session still reaches everything.
    let (status, _) = h.get("/v1/apps", &ann.access).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_backup_token_stores_but_can_neither_read_nor_delete() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    let backup = app(&h, &ann, &["backup"], 30).await;
    let backup = token(&backup);
    assert_eq!(
        h.put_object(backup, "packs", b"pack bytes").await,
        StatusCode::CREATED
    );
    assert_eq!(
        h.put_object(backup, "snapshots", b"a snapshot").await,
        StatusCode::CREATED
    );
    let (status, listed) = h.get("/v1/repo/snapshots", backup).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed[0]["id"], json!(id_of(b"a snapshot")));
    let (status, key) = h.get("/v1/account/key", backup).await;
    assert_eq!(status, StatusCode::OK, "a backup needs the key to encrypt");
    assert_eq!(key["key_mode"], "default");

    // Reading what it stored: refused.
    let (status, body) = get_object(&h, backup, "packs", b"pack bytes").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(code(&body), "scope_denied");
    assert!(message(&body).contains("restore scope"), "{body}");

    // Deleting: refused, and it can never get a deletion grant…
    let (status, body) = h
        .post("/v1/auth/confirm", backup, json!({ "password": PASSWORD }))
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "scope_denied");
    // …nor use the person's own.
    let (_, grant) = h
        .post(
            "/v1/auth/confirm",
            &ann.access,
            json!({ "password": PASSWORD }),
        )
        .await;
    let grant = grant["confirmation"].as_str().unwrap();
    let (status, body) = delete_object(&h, backup, b"a snapshot", grant).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "scope_denied");
    let (status, body) = h.get("/v1/account", backup).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "scope_denied");
    // Everything is still there for the person.
    let (status, bytes) = get_object(&h, &ann.access, "snapshots", b"a snapshot").await;
    assert_eq!(
        (status, bytes.as_slice()),
        (StatusCode::OK, &b"a snapshot"[..])
    );
}

#[tokio::test]
async fn a_restore_token_reads_but_cannot_store_or_delete() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    assert_eq!(
        h.put_object(&ann.access, "snapshots", b"a snapshot").await,
        StatusCode::CREATED
    );
    let restore = app(&h, &ann, &["restore"], 30).await;
    let restore = token(&restore);
    let (status, bytes) = get_object(&h, restore, "snapshots", b"a snapshot").await;
    assert_eq!(
        (status, bytes.as_slice()),
        (StatusCode::OK, &b"a snapshot"[..])
    );
    let (status, listed) = h.get("/v1/repo/snapshots", restore).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(
        h.put_object(restore, "packs", b"new").await,
        StatusCode::FORBIDDEN
    );
    let (_, grant) = h
        .post(
            "/v1/auth/confirm",
            &ann.access,
            json!({ "password": PASSWORD }),
        )
        .await;
    let (status, body) = delete_object(
        &h,
        restore,
        b"a snapshot",
        grant["confirmation"].as_str().unwrap(),
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "scope_denied");
    let (_, listed) = h.get("/v1/repo/packs", &ann.access).await;
    assert_eq!(listed, json!([]), "nothing was stored");
}

#[tokio::test]
async fn an_account_read_token_reads_the_profile_and_nothing_else() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    let reader = app(&h, &ann, &["account_read"], 30).await;
    let reader = token(&reader);
    let (status, account) = h.get("/v1/account", reader).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(account["email"], "ann@example.com");
    let (status, _) = h.get("/v1/account/preferences", reader).await;
    assert_eq!(status, StatusCode::OK);
    let (status, sessions) = h.get("/v1/sessions", reader).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sessions[0]["current"], false, "an app is no session");
    for (method, uri, body) in [
        (Method::PATCH, "/v1/account", json!({ "first_name": "Eve" })),
        (
            Method::PUT,
            "/v1/account/preferences",
            json!({ "newsletter": true }),
        ),
        (Method::DELETE, "/v1/sessions/current", Value::Null),
        (Method::POST, "/v1/sessions/revoke-all", json!({})),
        (Method::GET, "/v1/account/key", Value::Null),
        (Method::GET, "/v1/account/export", Value::Null),
        (Method::GET, "/v1/repo/snapshots", Value::Null),
    ] {
        let (status, error) = h.json(method.clone(), uri, Some(reader), Some(body)).await;
        assert_error(status, &error, StatusCode::FORBIDDEN, "scope_denied");
        assert!(
            message(&error).contains(uri) || message(&error).contains("{kind}"),
            "{error}"
        );
    }
    let (_, account) = h.get("/v1/account", &ann.access).await;
    assert_eq!(account["first_name"], "Ann", "nothing changed");
    let (_, sessions) = h.get("/v1/sessions?active=true", &ann.access).await;
    assert_eq!(
        sessions.as_array().unwrap().len(),
        1,
        "the session is alive"
    );
}

#[tokio::test]
async fn only_the_persons_session_manages_apps() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    let all = app(&h, &ann, &["restore", "backup", "account_read"], 30).await;
    let all_token = token(&all);
    for (method, uri, body) in [
        (Method::GET, "/v1/apps".to_owned(), Value::Null),
        (
            Method::POST,
            "/v1/apps".to_owned(),
            json!({ "name": "x", "scopes": ["restore"] }),
        ),
        (
            Method::DELETE,
            format!("/v1/apps/{}", all["id"].as_str().unwrap()),
            Value::Null,
        ),
    ] {
        let (status, error) = h.json(method, &uri, Some(all_token), Some(body)).await;
        assert_error(status, &error, StatusCode::FORBIDDEN, "scope_denied");
        assert!(message(&error).contains("never a connected app"), "{error}");
    }
    let (_, list) = h.get("/v1/apps", &ann.access).await;
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "nothing created or revoked"
    );
}

#[tokio::test]
async fn a_token_expires_and_a_revoked_one_fails_at_once() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    let short = app(&h, &ann, &["account_read"], 1).await;
    let kept = app(&h, &ann, &["account_read"], 30).await;
    assert_eq!(h.get("/v1/account", token(&short)).await.0, StatusCode::OK);
    h.clock.advance_ms(DAY_MS);
    // (The day also outlived the session's one-hour access token.)
    let ann = h.session("ann@example.com", PASSWORD).await;
    let (status, error) = h.get("/v1/account", token(&short)).await;
    assert_error(
        status,
        &error,
        StatusCode::UNAUTHORIZED,
        "app_token_expired",
    );
    let (_, list) = h.get("/v1/apps", &ann.access).await;
    let short_view = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == short["id"])
        .unwrap();
    assert_eq!(short_view["expired"], true);

    // Revoking: the very next request fails.
    assert_eq!(h.get("/v1/account", token(&kept)).await.0, StatusCode::OK);
    let uri = format!("/v1/apps/{}", kept["id"].as_str().unwrap());
    // Another account cannot revoke it (nor tell it exists).
    let bob = h.account("bob@example.com").await;
    let (status, error) = h.delete(&uri, &bob.access).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(h.get("/v1/account", token(&kept)).await.0, StatusCode::OK);
    let (status, _) = h.delete(&uri, &ann.access).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, error) = h.get("/v1/account", token(&kept)).await;
    assert_error(status, &error, StatusCode::UNAUTHORIZED, "unauthorized");
    let (status, _) = h.delete(&uri, &ann.access).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A made-up token of the right shape is unknown, not a session.
    let (status, error) = h
        .get("/v1/account", &format!("coffer_app_{}", "A".repeat(43)))
        .await;
    assert_error(status, &error, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn each_admitted_use_is_recorded() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    let reader = app(&h, &ann, &["account_read"], 30).await;
    h.clock.advance_ms(5_000);
    assert_eq!(h.get("/v1/account", token(&reader)).await.0, StatusCode::OK);
    h.clock.advance_ms(5_000);
    assert_eq!(
        h.get("/v1/account/preferences", token(&reader)).await.0,
        StatusCode::OK
    );
    // A refused request is not a use.
    assert_eq!(
        h.get("/v1/repo/packs", token(&reader)).await.0,
        StatusCode::FORBIDDEN
    );
    let (_, list) = h.get("/v1/apps", &ann.access).await;
    assert_eq!(list[0]["last_used_at"], json!(MONDAY_NOON + 10_000));
    assert_eq!(list[0]["uses"], 2);
    // The person's session records are untouched by the app.
    let (_, sessions) = h.get("/v1/sessions", &ann.access).await;
    assert_eq!(sessions.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_account_scheduled_for_deletion_stops_its_apps() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    let reader = app(&h, &ann, &["account_read"], 30).await;
    let (status, body) = h
        .delete_with("/v1/account", &ann.access, json!({ "password": PASSWORD }))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, error) = h.get("/v1/account", token(&reader)).await;
    assert_error(status, &error, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn the_documented_shapes_are_what_the_handlers_answer() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    let (_, doc) = h.get_public("/v1/openapi.json").await;
    let properties = |schema: &str| -> Vec<String> {
        let mut keys: Vec<String> = doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    let keys = |v: &Value| -> Vec<String> {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    let created = app(&h, &ann, &["restore"], 30).await;
    assert_eq!(keys(&created), properties("AppTokenCreated"));
    let (_, list) = h.get("/v1/apps", &ann.access).await;
    assert_eq!(keys(&list[0]), properties("AppTokenView"));
    assert_eq!(
        doc["paths"]["/v1/repo/{kind}/{id}"]["get"]["security"],
        json!([{ "bearer": [] }, { "app_token": ["restore"] }])
    );
    assert_eq!(
        doc["paths"]["/v1/repo/{kind}/{id}"]["delete"]["security"],
        json!([{ "bearer": [] }])
    );
}
