//! Shares: the owner uploads sealed parts to the share area and completes
//! the share, which mails the recipients the link without its key (the
//! service never takes the key; the owner sends the full link); a recipient reads its
//! state, opens it (password, download count) for a ticket and downloads
//! the parts; a share ends when revoked, expired or downloaded out, and the
//! job then removes its data and its recipients' addresses. The service
//! only ever handles ciphertext (what the bytes are is the agent's and the
//! page's business: `tests/tests/sharing.rs`, `tests/share-page/`).

#[path = "support/harness.rs"]
mod harness;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use coffer_server::jobs::run_due;
use harness::*;
use serde_json::{json, Value};

const DAY_MS: i64 = 86_400_000;
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

async fn put(h: &Harness, token: &str, uri: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let request = Request::put(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(bytes))
        .unwrap();
    let (status, _, body) = h.send(request).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn fetch(h: &Harness, uri: &str, ticket: Option<&str>) -> (StatusCode, Vec<u8>) {
    let mut request = Request::get(uri);
    if let Some(ticket) = ticket {
        request = request.header("coffer-share-ticket", ticket);
    }
    let (status, _, body) = h.send(request.body(Body::empty()).unwrap()).await;
    (status, body.to_vec())
}

fn part_bytes(n: u8, len: usize) -> Vec<u8> {
    vec![n; len]
}

/// Creates a share of two parts, uploads everything and completes it.
async fn complete_share(h: &Harness, owner: &Session, extra: Value) -> String {
    let id = start_share(h, owner, extra).await;
    upload_all(h, owner, &id).await;
    let (status, done) = h
        .post(
            &format!("/v1/shares/{id}/complete"),
            &owner.access,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    id
}

async fn start_share(h: &Harness, owner: &Session, extra: Value) -> String {
    let mut body = json!({ "recipients": ["bob@example.com", "Carol@Example.com"], "parts": 2 });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, created) = h.post("/v1/shares", &owner.access, body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["state"], "uploading");
    created["id"].as_str().unwrap().to_owned()
}

async fn upload_all(h: &Harness, owner: &Session, id: &str) {
    let (s, b) = put(
        h,
        &owner.access,
        &format!("/v1/shares/{id}/manifest"),
        part_bytes(9, 100),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    for n in 0..2u8 {
        let (s, b) = put(
            h,
            &owner.access,
            &format!("/v1/shares/{id}/parts/{n}"),
            part_bytes(n, 1000),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
}

async fn open(h: &Harness, id: &str, body: Value) -> (StatusCode, Value) {
    h.post_public(&format!("/v1/s/{id}/open"), body).await
}

async fn owner_view(h: &Harness, owner: &Session, id: &str) -> Value {
    let (_, list) = h.get("/v1/shares", &owner.access).await;
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .cloned()
        .unwrap()
}

/// Share parts the object store really holds for `account`.
async fn stored_share_files(h: &Harness, account: &str) -> usize {
    h.state
        .store
        .list(&format!("{account}/shares/"))
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_share_is_uploaded_completed_mailed_opened_and_downloaded() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    let id = start_share(&h, &ann, json!({})).await;
    // Not visible to anyone before it is complete.
    assert_eq!(
        h.get_public(&format!("/v1/s/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.page(Method::GET, &format!("/s/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, error) = h
        .post(&format!("/v1/shares/{id}/complete"), &ann.access, json!({}))
        .await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "invalid_input");
    assert!(message(&error).contains("manifest"), "{error}");
    upload_all(&h, &ann, &id).await;

    // Uploading counts against the quota at once.
    let (_, account) = h.get("/v1/account", &ann.access).await;
    assert_eq!(account["quota"]["used"], 2100);

    let (status, done) = h
        .post(&format!("/v1/shares/{id}/complete"), &ann.access, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["mailed"], 2);
    for to in ["bob@example.com", "carol@example.com"] {
        let mails = h.mails_to(to, 1).await;
        let (headers, body) = parse_mail(&mails[0]);
        let subject = headers.iter().find(|(n, _)| n == "Subject").unwrap();
        assert!(
            subject.1.contains("Ann Example shared files with you"),
            "{subject:?}"
        );
        // The link without its key, and who sends the full one.
        assert!(
            body.lines()
                .any(|l| l.trim() == format!("https://coffer.test/s/{id}")),
            "{body}"
        );
        assert!(!body.contains(&format!("/s/{id}#")), "{body}");
        assert!(
            body.contains("use the full link Ann sends you directly"),
            "{body}"
        );
        assert!(body.contains("Coffer never has that key"), "{body}");
        assert!(!headers.iter().any(|(n, _)| n == "List-Unsubscribe"));
    }
    // Parts cannot change once complete.
    let (status, _) = put(
        &h,
        &ann.access,
        &format!("/v1/shares/{id}/parts/0"),
        part_bytes(7, 50),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, info) = h.get_public(&format!("/v1/s/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["password_required"], false);
    assert_eq!(info["downloads_left"], Value::Null);
    assert_eq!(info["bytes"], 2100);
    let (status, opened) = open(&h, &id, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{opened}");
    assert_eq!(opened["manifest_bytes"], 100);
    assert_eq!(opened["part_bytes"], json!([1000, 1000]));
    let ticket = opened["ticket"].as_str().unwrap();
    assert_eq!(
        fetch(&h, &format!("/v1/s/{id}/manifest"), Some(ticket)).await,
        (StatusCode::OK, part_bytes(9, 100))
    );
    assert_eq!(
        fetch(&h, &format!("/v1/s/{id}/parts/1"), Some(ticket)).await,
        (StatusCode::OK, part_bytes(1, 1000))
    );
    assert_eq!(
        fetch(&h, &format!("/v1/s/{id}/parts/1"), None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        fetch(&h, &format!("/v1/s/{id}/parts/1"), Some("made-up"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        fetch(&h, &format!("/v1/s/{id}/parts/9"), Some(ticket))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // A ticket opens only its own share.
    let other = complete_share(&h, &ann, json!({})).await;
    assert_eq!(
        fetch(&h, &format!("/v1/s/{other}/parts/0"), Some(ticket))
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    let view = owner_view(&h, &ann, &id).await;
    assert_eq!(view["state"], "active");
    assert_eq!(view["downloads"], 1);
    assert_eq!(
        view["recipients"],
        json!(["bob@example.com", "carol@example.com"])
    );
    assert_eq!(view["bytes"], 2100);
    assert_eq!(view["password"], false);

    // The page: served with a strict policy, naming the share, holding no key.
    let request = Request::get(format!("/s/{id}"))
        .body(Body::empty())
        .unwrap();
    let (status, headers, html) = h.send(request).await;
    assert_eq!(status, StatusCode::OK);
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let html = String::from_utf8(html.to_vec()).unwrap();
    assert!(html.contains(&format!("data-share=\"{id}\"")));
    assert!(!html.contains("<script>"), "no inline script");
    let (status, js) = h.page(Method::GET, "/assets/share-page.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(js.contains("crypto.subtle.decrypt"));
}

#[tokio::test]
async fn bad_shares_and_parts_are_refused_by_field() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    for (body, field) in [
        (json!({}), "parts:"),
        (json!({ "parts": 0 }), "parts:"),
        (
            json!({ "parts": 1, "recipients": ["nobody"] }),
            "recipients:",
        ),
        (
            json!({ "parts": 1, "recipients": "bob@example.com" }),
            "recipients:",
        ),
        (
            json!({ "parts": 1, "expires_in_days": 91 }),
            "expires_in_days:",
        ),
        (json!({ "parts": 1, "max_downloads": 0 }), "max_downloads:"),
        (json!({ "parts": 1, "password": "short" }), "password:"),
    ] {
        let (status, error) = h.post("/v1/shares", &ann.access, body.clone()).await;
        assert_error(status, &error, StatusCode::BAD_REQUEST, "invalid_input");
        assert!(message(&error).starts_with(field), "{body}: {error}");
    }
    let (_, list) = h.get("/v1/shares", &ann.access).await;
    assert_eq!(list, json!([]), "nothing was made");

    let id = start_share(&h, &ann, json!({})).await;
    let (status, error) = put(
        &h,
        &ann.access,
        &format!("/v1/shares/{id}/parts/2"),
        part_bytes(1, 100),
    )
    .await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "invalid_input");
    assert!(message(&error).starts_with("part:"));
    let (status, _) = put(
        &h,
        &ann.access,
        &format!("/v1/shares/{id}/parts/0"),
        part_bytes(1, 15),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "shorter than one sealed chunk"
    );
    let (status, _) = put(
        &h,
        &ann.access,
        &format!("/v1/shares/{id}/parts/x"),
        part_bytes(1, 100),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    upload_all(&h, &ann, &id).await;
    // The service never takes a share's key, well-formed or not.
    for (body, field) in [
        (json!({ "link_key": KEY }), "link_key:"),
        (json!({ "link_key": "too-short" }), "link_key:"),
    ] {
        let (status, error) = h
            .post(&format!("/v1/shares/{id}/complete"), &ann.access, body)
            .await;
        assert_error(status, &error, StatusCode::BAD_REQUEST, "invalid_input");
        assert!(message(&error).starts_with(field), "{error}");
    }
    assert_eq!(owner_view(&h, &ann, &id).await["state"], "uploading");
    // A missing part is named.
    let id = start_share(&h, &ann, json!({ "parts": 3 })).await;
    upload_all(&h, &ann, &id).await;
    let (status, error) = h
        .post(&format!("/v1/shares/{id}/complete"), &ann.access, json!({}))
        .await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "invalid_input");
    assert!(message(&error).contains("part 2 of 3"), "{error}");
    // Malformed ids everywhere.
    assert_eq!(h.get_public("/v1/s/nope").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        h.page(Method::GET, "/s/nope").await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_password_is_checked_hashed_and_rate_limited() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    let secret = "open sesame please";
    let id = complete_share(&h, &ann, json!({ "password": secret })).await;
    let (_, info) = h.get_public(&format!("/v1/s/{id}")).await;
    assert_eq!(info["password_required"], true);
    let (status, error) = open(&h, &id, json!({})).await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "invalid_input");
    let (status, error) = open(&h, &id, json!({ "password": "wrong guess!" })).await;
    assert_error(status, &error, StatusCode::FORBIDDEN, "wrong_password");
    let (status, opened) = open(&h, &id, json!({ "password": secret })).await;
    assert_eq!(status, StatusCode::OK, "{opened}");
    assert_eq!(
        owner_view(&h, &ann, &id).await["downloads"],
        1,
        "refusals are not downloads"
    );

    // Only an Argon2id hash is stored.
    let db = String::from_utf8_lossy(&h.state.db.stored_bytes().await.unwrap()).into_owned();
    assert!(!db.contains(secret));
    assert!(db.contains("$argon2id$"));

    // Guessing is limited (per share, from any address).
    let mut limited = None;
    for _ in 0..30 {
        let (status, body) = open(&h, &id, json!({ "password": "another guess" })).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(body);
            break;
        }
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let limited = limited.expect("guessing was never limited");
    assert_eq!(code(&limited), "too_many_attempts");
    assert!(limited["error"]["retry_after"].as_u64().unwrap() > 0);
    let (status, _) = open(&h, &id, json!({ "password": secret })).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    h.clock.advance_ms(16 * 60 * 1000);
    assert_eq!(
        open(&h, &id, json!({ "password": secret })).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_download_count_ends_a_share_and_the_job_forgets_it() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    let id = complete_share(&h, &ann, json!({ "max_downloads": 2 })).await;
    let (_, info) = h.get_public(&format!("/v1/s/{id}")).await;
    assert_eq!(info["downloads_left"], 2);
    let (_, first) = open(&h, &id, json!({})).await;
    let (status, last) = open(&h, &id, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, error) = open(&h, &id, json!({})).await;
    assert_error(status, &error, StatusCode::GONE, "share_gone");
    assert_eq!(error["error"]["reason"], "exhausted");
    let (status, page) = h.page(Method::GET, &format!("/s/{id}")).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("download limit"), "{page}");
    assert_eq!(owner_view(&h, &ann, &id).await["state"], "exhausted");
    // The last download can still finish…
    let last = last["ticket"].as_str().unwrap();
    assert_eq!(
        fetch(&h, &format!("/v1/s/{id}/parts/0"), Some(last))
            .await
            .0,
        StatusCode::OK
    );
    run_due(&h.state).await.unwrap();
    assert_eq!(
        fetch(&h, &format!("/v1/s/{id}/parts/0"), Some(last))
            .await
            .0,
        StatusCode::OK
    );
    // …until its ticket runs out; then the data and addresses go.
    h.clock.advance_ms(6 * 60 * 60 * 1000);
    let report = run_due(&h.state).await.unwrap();
    assert_eq!(report.shares_removed, 1);
    let ann = h.session("ann@example.com", PASSWORD).await;
    let view = owner_view(&h, &ann, &id).await;
    assert_eq!(view["recipients"], json!([]));
    assert_eq!(view["bytes"], 0);
    assert!(view["removed_at"].is_i64());
    assert_eq!(stored_share_files(&h, &ann.account_id).await, 0);
    // Not in any row, nor (SQLite) even in the database file's free pages.
    let db = String::from_utf8_lossy(&h.state.db.stored_bytes().await.unwrap()).to_lowercase();
    assert!(!db.contains("bob@example.com") && !db.contains("carol@example.com"), "a recipient's address outlived the share");
    assert_eq!(
        fetch(&h, &format!("/v1/s/{id}/parts/0"), first["ticket"].as_str())
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn an_expired_share_fails_clearly_and_is_removed_by_the_job() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    let id = complete_share(&h, &ann, json!({ "expires_in_days": 3 })).await;
    let (_, opened) = open(&h, &id, json!({})).await;
    let ticket = opened["ticket"].as_str().unwrap().to_owned();
    assert_eq!(stored_share_files(&h, &ann.account_id).await, 3);
    h.clock.advance_ms(3 * DAY_MS - 1);
    assert_eq!(h.get_public(&format!("/v1/s/{id}")).await.0, StatusCode::OK);
    h.clock.advance_ms(1);
    let (status, error) = h.get_public(&format!("/v1/s/{id}")).await;
    assert_error(status, &error, StatusCode::GONE, "share_gone");
    assert_eq!(error["error"]["reason"], "expired");
    assert!(message(&error).contains("expired on 2025-01-09"), "{error}");
    assert_eq!(open(&h, &id, json!({})).await.0, StatusCode::GONE);
    let (status, page) = h.page(Method::GET, &format!("/s/{id}")).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("This share has expired"), "{page}");
    assert_eq!(
        fetch(&h, &format!("/v1/s/{id}/parts/0"), Some(&ticket))
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    let report = run_due(&h.state).await.unwrap();
    assert_eq!(report.shares_removed, 1);
    assert_eq!(stored_share_files(&h, &ann.account_id).await, 0);
    let ann = h.session("ann@example.com", PASSWORD).await;
    let view = owner_view(&h, &ann, &id).await;
    assert_eq!(view["state"], "expired");
    assert_eq!(
        view["recipients"],
        json!([]),
        "the recipients' addresses are forgotten"
    );
    let (_, account) = h.get("/v1/account", &ann.access).await;
    assert_eq!(account["quota"]["used"], 0, "the space is free again");
    // The rows themselves are gone, not only hidden from the view.
    let stored = h.state.db.share(id.clone()).await.unwrap().unwrap();
    assert!(stored.recipients.is_empty());
    // Long after, the owner's list forgets the share too.
    h.clock.advance_ms(31 * DAY_MS);
    run_due(&h.state).await.unwrap();
    let ann = h.session("ann@example.com", PASSWORD).await;
    let (_, list) = h.get("/v1/shares", &ann.access).await;
    assert_eq!(list, json!([]));
    assert_eq!(
        h.get_public(&format!("/v1/s/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn revoking_ends_a_share_at_once_and_forgets_its_recipients() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    let id = complete_share(&h, &ann, json!({})).await;
    let (_, opened) = open(&h, &id, json!({})).await;
    let ticket = opened["ticket"].as_str().unwrap();
    let (status, _) = h.delete(&format!("/v1/shares/{id}"), &ann.access).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, error) = h.get_public(&format!("/v1/s/{id}")).await;
    assert_error(status, &error, StatusCode::GONE, "share_gone");
    assert_eq!(error["error"]["reason"], "revoked");
    let (status, page) = h.page(Method::GET, &format!("/s/{id}")).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("This share was revoked"), "{page}");
    assert_eq!(
        fetch(&h, &format!("/v1/s/{id}/parts/0"), Some(ticket))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let view = owner_view(&h, &ann, &id).await;
    assert_eq!(view["state"], "revoked");
    assert_eq!(view["recipients"], json!([]));
    assert!(view["removed_at"].is_i64(), "the data went at once");
    assert_eq!(stored_share_files(&h, &ann.account_id).await, 0);
    let (status, _) = h.delete(&format!("/v1/shares/{id}"), &ann.access).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_account_cannot_touch_a_share() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    let bob = h.account("bob@example.com").await;
    let uploading = start_share(&h, &ann, json!({})).await;
    let done = complete_share(&h, &ann, json!({})).await;
    let (_, list) = h.get("/v1/shares", &bob.access).await;
    assert_eq!(list, json!([]));
    for id in [&uploading, &done] {
        let (status, error) = put(
            &h,
            &bob.access,
            &format!("/v1/shares/{id}/parts/0"),
            part_bytes(6, 100),
        )
        .await;
        assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
        let (status, _) = h
            .post(&format!("/v1/shares/{id}/complete"), &bob.access, json!({}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = h.delete(&format!("/v1/shares/{id}"), &bob.access).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    assert_eq!(owner_view(&h, &ann, &done).await["state"], "active");
    assert_eq!(owner_view(&h, &ann, &uploading).await["state"], "uploading");
    let (_, account) = h.get("/v1/account", &bob.access).await;
    assert_eq!(account["quota"]["used"], 0);
}

#[tokio::test]
async fn shares_count_against_the_quota_and_abandoned_uploads_are_removed() {
    let h = Harness::with(|c| c.quota_bytes = 1500);
    let ann = h.account("ann@example.com").await;
    let id = start_share(&h, &ann, json!({})).await;
    let (s, _) = put(
        &h,
        &ann.access,
        &format!("/v1/shares/{id}/parts/0"),
        part_bytes(0, 1000),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    // Replacing a part is charged only the difference.
    let (s, _) = put(
        &h,
        &ann.access,
        &format!("/v1/shares/{id}/parts/0"),
        part_bytes(0, 1200),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (status, error) = put(
        &h,
        &ann.access,
        &format!("/v1/shares/{id}/parts/1"),
        part_bytes(1, 1000),
    )
    .await;
    assert_error(
        status,
        &error,
        StatusCode::PAYLOAD_TOO_LARGE,
        "quota_exceeded",
    );
    // Backups see the share's bytes too.
    assert_eq!(
        h.put_object(&ann.access, "packs", &[5u8; 400]).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    h.clock.advance_ms(DAY_MS);
    let report = run_due(&h.state).await.unwrap();
    assert_eq!(report.shares_removed, 1);
    let ann = h.session("ann@example.com", PASSWORD).await;
    assert_eq!(
        h.put_object(&ann.access, "packs", &[5u8; 400]).await,
        StatusCode::CREATED
    );
    assert_eq!(stored_share_files(&h, &ann.account_id).await, 0);
}

#[tokio::test]
async fn the_documented_shapes_are_what_the_handlers_answer() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    let (_, doc) = h.get_public("/v1/openapi.json").await;
    let shape = |schema: &str, real: &Value| {
        let mut want: Vec<&String> = doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        let mut got: Vec<&String> = real.as_object().unwrap().keys().collect();
        want.sort();
        got.sort();
        assert_eq!(got, want, "{schema} drifted from the handlers");
    };
    let id = start_share(&h, &ann, json!({})).await;
    upload_all(&h, &ann, &id).await;
    let (_, done) = h
        .post(&format!("/v1/shares/{id}/complete"), &ann.access, json!({}))
        .await;
    shape("ShareCompleted", &done);
    let (_, list) = h.get("/v1/shares", &ann.access).await;
    shape("ShareView", &list[0]);
    let (_, info) = h.get_public(&format!("/v1/s/{id}")).await;
    shape("ShareInfo", &info);
    let (_, opened) = open(&h, &id, json!({})).await;
    shape("ShareOpened", &opened);
    h.delete(&format!("/v1/shares/{id}"), &ann.access).await;
    let (_, gone) = h.get_public(&format!("/v1/s/{id}")).await;
    let detail = doc["components"]["schemas"]["ErrorDetail"]["properties"]
        .as_object()
        .unwrap();
    for key in gone["error"].as_object().unwrap().keys() {
        assert!(detail.contains_key(key), "ErrorDetail lacks {key}");
    }
    // Owner routes need the person's session; recipient routes need none.
    assert_eq!(
        doc["paths"]["/v1/shares"]["post"]["security"],
        json!([{ "bearer": [] }])
    );
    assert!(doc["paths"]["/v1/s/{id}/open"]["post"]
        .get("security")
        .is_none());
}

#[tokio::test]
async fn deleting_the_account_stops_its_shares_at_once() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    let id = complete_share(&h, &ann, json!({})).await;
    let (_, opened) = open(&h, &id, json!({})).await;
    let ticket = opened["ticket"].as_str().unwrap().to_owned();
    let (status, body) = h
        .delete_with("/v1/account", &ann.access, json!({ "password": PASSWORD }))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, error) = h.get_public(&format!("/v1/s/{id}")).await;
    assert_error(status, &error, StatusCode::GONE, "share_gone");
    assert_eq!(open(&h, &id, json!({})).await.0, StatusCode::GONE);
    assert_eq!(
        fetch(&h, &format!("/v1/s/{id}/parts/0"), Some(&ticket))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        h.page(Method::GET, &format!("/s/{id}")).await.0,
        StatusCode::GONE
    );
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[tokio::test]
async fn a_share_key_offered_to_the_service_is_refused_and_kept_nowhere() {
    let log = LogCapture::start();
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    let id = start_share(&h, &ann, json!({})).await;
    upload_all(&h, &ann, &id).await;
    let (status, error) = h
        .post(
            &format!("/v1/shares/{id}/complete"),
            &ann.access,
            json!({ "link_key": KEY }),
        )
        .await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "invalid_input");
    assert!(!error.to_string().contains(KEY), "{error}");
    assert_eq!(owner_view(&h, &ann, &id).await["state"], "uploading");
    let (status, done) = h
        .post(&format!("/v1/shares/{id}/complete"), &ann.access, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["mailed"], 2);
    let mails = h.mails_to("bob@example.com", 1).await;
    let body = body_of(&mails[0]);
    assert!(
        body.lines()
            .any(|l| l.trim().ends_with(&format!("/s/{id}"))),
        "{body}"
    );
    assert!(!body.contains(&format!("/s/{id}#")), "{body}");

    // Nothing the service wrote — database, objects, outbox — nor its log
    // holds the key's text or its bytes.
    let raw: Vec<u8> = (0u8..32).collect();
    let files = files_under(h.dir.path());
    assert!(files.iter().any(|f| f.to_string_lossy().contains("outbox")));
    let mut stored: Vec<(std::path::PathBuf, Vec<u8>)> = files
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(&f).unwrap();
            (f, bytes)
        })
        .collect();
    if h.state.db.is_postgres() {
        stored.push(("<the PostgreSQL schema>".into(), h.state.db.stored_bytes().await.unwrap()));
    } else {
        assert!(stored.iter().any(|(f, _)| f.to_string_lossy().contains("coffer.db")));
    }
    for (file, bytes) in stored {
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "key text in {}",
            file.display()
        );
        assert!(
            !bytes.windows(raw.len()).any(|w| w == raw.as_slice()),
            "key bytes in {}",
            file.display()
        );
    }
    let logged = log.text();
    assert!(logged.contains("share completed"), "the log was captured");
    assert!(!logged.contains(KEY));
}
