//! Handler tests through `tower::ServiceExt::oneshot`, no socket involved.

#[path = "support/harness.rs"]
mod harness;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use base64::Engine;
use coffer_server::{router, AppState, Config};
use harness::{code, json_request, oneshot, sign_up_body, DATA_KEY, PASSWORD};
use serde_json::{json, Value};

struct Harness {
    app: Router,
    state: AppState,
    dir: tempfile::TempDir,
}

impl Harness {
    fn new() -> Harness {
        Harness::with_quota(coffer_server::DEFAULT_QUOTA_BYTES)
    }

    fn with_quota(quota_bytes: u64) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
        config.quota_bytes = quota_bytes;
        let state = AppState::open(&config).unwrap();
        Harness {
            app: router(state.clone()),
            state,
            dir,
        }
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
        oneshot(&self.app, request).await
    }

    async fn json(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, _, bytes) = self.send(json_request(method, uri, token, body)).await;
        (status, strict_json(&bytes))
    }

    async fn sign_up(&self, body: Value) -> (StatusCode, Value) {
        self.json(Method::POST, "/v1/accounts", None, Some(body))
            .await
    }

    async fn sign_in(&self, email: &str, password: &str) -> (StatusCode, Value) {
        let body = json!({
            "email": email, "password": password,
            "device_id": "dev-1", "device_name": "Ann's laptop", "app_version": "0.1.0",
        });
        self.json(Method::POST, "/v1/sessions", None, Some(body))
            .await
    }

    /// Signs up and in; returns the token.
    async fn account(&self, email: &str) -> String {
        let (status, body) = self.sign_up(sign_up_body(email)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = self.sign_in(email, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    async fn put(&self, token: &str, kind: &str, bytes: &[u8]) -> (StatusCode, Value) {
        let id = blake3::hash(bytes).to_hex().to_string();
        self.put_as(token, kind, &id, bytes.to_vec()).await
    }

    async fn put_as(
        &self,
        token: &str,
        kind: &str,
        id: &str,
        bytes: Vec<u8>,
    ) -> (StatusCode, Value) {
        let request = Request::put(format!("/v1/repo/{kind}/{id}"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::from(bytes))
            .unwrap();
        let (status, _, body) = self.send(request).await;
        (status, strict_json(&body))
    }
}

/// A response body as JSON (`null` when empty); anything else fails the test.
fn strict_json(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(bytes).unwrap()
    }
}

#[tokio::test]
async fn health_reports_ok_and_version() {
    let h = Harness::new();
    let (status, body) = h.json(Method::GET, "/v1/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "status": "ok", "version": "0.1.0" }));
}

#[tokio::test]
async fn sign_up_then_sign_in_shows_the_account() {
    let h = Harness::with_quota(1000);
    let (status, body) = h.sign_up(sign_up_body("  Ann@Example.COM ")).await;
    assert_eq!(status, StatusCode::CREATED);
    let account_id = body["account_id"].as_str().unwrap().to_owned();
    assert_eq!(account_id.len(), 32);

    let (status, body) = h.sign_in("ann@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().unwrap();
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .unwrap()
            .len(),
        32
    );
    assert_eq!(body["account"]["account_id"], account_id.as_str());
    assert_eq!(body["account"]["email"], "ann@example.com");

    let (status, me) = h.json(Method::GET, "/v1/account", Some(token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["first_name"], "Ann");
    assert_eq!(me["last_name"], "Example");
    assert_eq!(me["key_mode"], "default");
    assert_eq!(me["quota"], json!({ "used": 0, "total": 1000 }));
    assert!(me["created_at"].as_i64().unwrap() > 1_600_000_000_000);

    // The session record notes the device and counts requests.
    let session = h
        .state
        .db
        .session(body["session_id"].as_str().unwrap().to_owned())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.device_name, "Ann's laptop");
    assert_eq!(session.app_version, "0.1.0");
    assert_eq!(session.requests, 1);
    assert!(session.bytes_down > 0);
    assert_eq!(session.ended_at, None);
}

#[tokio::test]
async fn wrong_password_or_unknown_email_is_invalid_credentials() {
    let h = Harness::new();
    h.account("ann@example.com").await;
    let (status, body) = h.sign_in("ann@example.com", "wrong password!").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "invalid_credentials");
    let (status, body) = h.sign_in("nobody@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "invalid_credentials");
    // Email matching ignores case, as at sign-up.
    let (status, _) = h.sign_in("ANN@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn duplicate_email_even_in_other_case_is_taken() {
    let h = Harness::new();
    assert_eq!(
        h.sign_up(sign_up_body("ann@example.com")).await.0,
        StatusCode::CREATED
    );
    for email in ["ann@example.com", "ANN@Example.com", " ann@example.com"] {
        let (status, body) = h.sign_up(sign_up_body(email)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{email}");
        assert_eq!(code(&body), "email_taken");
    }
    assert_eq!(h.state.db.account_count().await.unwrap(), 1);
}

#[tokio::test]
async fn under_13_is_refused_and_nothing_is_stored() {
    let h = Harness::new();
    for age in [json!(false), json!(null), json!("true"), json!(1)] {
        let mut body = sign_up_body("kid@example.com");
        body["age_confirmed"] = age.clone();
        let (status, body) = h.sign_up(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{age}");
        assert_eq!(code(&body), "age_not_confirmed");
        assert_eq!(
            body["error"]["message"],
            "You must be at least 13 years old to use Coffer."
        );
    }
    let mut body = sign_up_body("kid@example.com");
    body.as_object_mut().unwrap().remove("age_confirmed");
    assert_eq!(code(&h.sign_up(body).await.1), "age_not_confirmed");

    assert_eq!(h.state.db.account_count().await.unwrap(), 0);
    assert_eq!(
        h.state
            .db
            .account_by_email("kid@example.com".into())
            .await
            .unwrap()
            .map(|a| a.id),
        None
    );
    // Nothing was kept, so the same email can sign up once confirmed.
    assert_eq!(
        h.sign_up(sign_up_body("kid@example.com")).await.0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn invalid_fields_are_named() {
    let h = Harness::new();
    let long_name = "x".repeat(101);
    let cases: Vec<(&str, Value)> = vec![
        ("first_name", json!(null)),
        ("first_name", json!("   ")),
        ("first_name", json!(long_name)),
        ("first_name", json!(42)),
        ("last_name", json!("")),
        ("email", json!("ann")),
        ("email", json!("@example.com")),
        ("email", json!("ann@")),
        ("email", json!(null)),
        ("password", json!("shortpw")),
        ("password", json!("Password1")),
        ("password", json!(null)),
        ("key_mode", json!("sideways")),
        ("key_mode", json!(null)),
        ("data_key", json!("not base64!")),
        (
            "data_key",
            json!(base64::engine::general_purpose::STANDARD.encode([1u8; 16])),
        ),
        ("data_key", json!(null)),
    ];
    for (field, value) in cases {
        let mut body = sign_up_body("ann@example.com");
        body[field] = value.clone();
        let (status, body) = h.sign_up(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field} = {value}");
        assert_eq!(code(&body), "invalid_input", "{field} = {value}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{field}:")),
            "{field} = {value}: {message}"
        );
    }
    // Names are 1–100 characters after trimming: 100 is fine.
    let mut body = sign_up_body("ann@example.com");
    body["first_name"] = json!(format!("  {}  ", "é".repeat(100)));
    assert_eq!(h.sign_up(body).await.0, StatusCode::CREATED);
    assert_eq!(h.state.db.account_count().await.unwrap(), 1);

    let (status, body) = h
        .json(Method::POST, "/v1/accounts", None, Some(json!([1, 2])))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("body:"));
}

#[tokio::test]
async fn locked_routes_need_a_live_token() {
    let h = Harness::new();
    let token = h.account("ann@example.com").await;
    for (uri, token) in [
        ("/v1/account", None),
        ("/v1/account", Some("not-a-token")),
        ("/v1/account/key", Some("")),
        ("/v1/repo/packs", None),
    ] {
        let (status, body) = h.json(Method::GET, uri, token, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri} {token:?}");
        assert_eq!(code(&body), "unauthorized");
    }
    let request = Request::get("/v1/account")
        .header(header::AUTHORIZATION, format!("Basic {token}"))
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = h.send(request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
}

#[tokio::test]
async fn sign_out_ends_the_session_at_once() {
    let h = Harness::new();
    let token = h.account("ann@example.com").await;
    let other = {
        let (_, body) = h.sign_in("ann@example.com", PASSWORD).await;
        body["token"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        h.json(Method::GET, "/v1/account", Some(&token), None)
            .await
            .0,
        StatusCode::OK
    );
    let (status, body) = h
        .json(Method::DELETE, "/v1/sessions/current", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = h.json(Method::GET, "/v1/account", Some(&token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "unauthorized");
    assert_eq!(
        h.json(Method::DELETE, "/v1/sessions/current", Some(&token), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // Only that session ended.
    assert_eq!(
        h.json(Method::GET, "/v1/account", Some(&other), None)
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn escrowed_key_round_trips_and_is_never_stored_in_clear() {
    let h = Harness::new();
    let token = h.account("ann@example.com").await;
    let (status, body) = h
        .json(Method::GET, "/v1/account/key", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["key_mode"], "default");
    let key = base64::engine::general_purpose::STANDARD
        .decode(body["data_key"].as_str().unwrap())
        .unwrap();
    assert_eq!(key, DATA_KEY);

    // Both with the write-ahead log still holding the rows and after it was
    // folded into the main file.
    if h.state.db.is_postgres() {
        let rows = h.state.db.stored_bytes().await.unwrap();
        assert_no_secret_in(&rows, "the PostgreSQL schema", &token);
        return;
    }
    assert_no_secret_in_db(h.dir.path(), &token);
    h.state.db.checkpoint().await.unwrap();
    assert_no_secret_in_db(h.dir.path(), &token);
}

fn assert_no_secret_in_db(dir: &std::path::Path, token: &str) {
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("coffer.db") {
            continue;
        }
        files += 1;
        assert_no_secret_in(&std::fs::read(&path).unwrap(), &name, token);
    }
    assert!(files >= 1);
}

fn assert_no_secret_in(bytes: &[u8], name: &str, token: &str) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(DATA_KEY);
    for needle in [
        &DATA_KEY[..],
        b64.as_bytes(),
        PASSWORD.as_bytes(),
        token.as_bytes(),
    ] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{name} contains a secret in clear"
        );
    }
}

#[cfg(unix)]
#[tokio::test]
async fn escrow_key_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let h = Harness::new();
    let meta = std::fs::metadata(h.dir.path().join("escrow.key")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
}

#[tokio::test]
async fn object_put_get_list_delete() {
    let h = Harness::with_quota(100);
    let token = h.account("ann@example.com").await;
    let bytes = b"hello, pack".to_vec();
    let id = blake3::hash(&bytes).to_hex().to_string();
    assert_eq!(h.put(&token, "packs", &bytes).await.0, StatusCode::CREATED);
    assert_eq!(h.put(&token, "packs", &bytes).await.0, StatusCode::OK);

    let request = Request::get(format!("/v1/repo/packs/{id}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = h.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], &bytes[..]);
    assert_eq!(headers[header::CONTENT_TYPE], "application/octet-stream");

    let (status, list) = h
        .json(Method::GET, "/v1/repo/packs", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["size"], bytes.len());
    assert_eq!(
        h.json(Method::GET, "/v1/repo/snapshots", Some(&token), None)
            .await
            .1,
        json!([])
    );
    let (_, me) = h.json(Method::GET, "/v1/account", Some(&token), None).await;
    assert_eq!(me["quota"]["used"], bytes.len());

    let uri = format!("/v1/repo/packs/{id}");
    // The session alone cannot delete; a fresh password confirmation can.
    assert_eq!(
        code(&h.json(Method::DELETE, &uri, Some(&token), None).await.1),
        "confirmation_required"
    );
    let (status, grant) = h
        .json(
            Method::POST,
            "/v1/auth/confirm",
            Some(&token),
            Some(json!({ "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{grant}");
    let confirmed_delete = || {
        let mut request = json_request(Method::DELETE, &uri, Some(&token), None);
        request.headers_mut().insert(
            "coffer-confirmation",
            grant["confirmation"].as_str().unwrap().parse().unwrap(),
        );
        request
    };
    assert_eq!(h.send(confirmed_delete()).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        code(&h.json(Method::GET, &uri, Some(&token), None).await.1),
        "not_found"
    );
    assert_eq!(
        code(&strict_json(&h.send(confirmed_delete()).await.2)),
        "not_found"
    );
    let (_, me) = h.json(Method::GET, "/v1/account", Some(&token), None).await;
    assert_eq!(me["quota"]["used"], 0);
}

#[tokio::test]
async fn bad_kinds_and_ids_are_invalid_input() {
    let h = Harness::new();
    let token = h.account("ann@example.com").await;
    let id = blake3::hash(b"x").to_hex().to_string();
    for (uri, field) in [
        (format!("/v1/repo/trees/{id}"), "kind"),
        ("/v1/repo/trees".to_owned(), "kind"),
        ("/v1/repo/packs/abc".to_owned(), "id"),
        (format!("/v1/repo/packs/{}", id.to_uppercase()), "id"),
    ] {
        let (status, body) = h.json(Method::GET, &uri, Some(&token), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{uri}: {body}"
        );
    }
    let (status, body) = h.json(Method::GET, "/v1/nothing-here", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code(&body), "not_found");
}

#[tokio::test]
async fn mismatched_hash_is_refused_and_nothing_stored() {
    let h = Harness::new();
    let token = h.account("ann@example.com").await;
    let claimed = blake3::hash(b"what I claim").to_hex().to_string();
    let (status, body) = h
        .put_as(&token, "packs", &claimed, b"what I send".to_vec())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&body), "hash_mismatch");
    assert_eq!(
        h.json(Method::GET, "/v1/repo/packs", Some(&token), None)
            .await
            .1,
        json!([])
    );
}

#[tokio::test]
async fn oversized_put_is_refused() {
    let h = Harness::new();
    let token = h.account("ann@example.com").await;
    let bytes = vec![0u8; coffer_server::repo::MAX_OBJECT_BYTES + 1];
    let id = blake3::hash(&bytes).to_hex().to_string();
    let (status, body) = h.put_as(&token, "packs", &id, bytes).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(code(&body), "payload_too_large");
}
