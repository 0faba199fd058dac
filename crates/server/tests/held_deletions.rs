//! History a stolen device cannot erase: deleting repository objects needs a
//! fresh password (and two-factor) confirmation, deleted objects are held
//! for 7 days and can be put back, the person is mailed once per batch, and
//! the purge job removes them only when the hold is over.

#[path = "support/harness.rs"]
mod harness;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use coffer_server::jobs::run_due;
use coffer_server::Clock;
use harness::*;
use serde_json::{json, Value};

const DAY_MS: i64 = 86_400_000;
const HOLD_MS: i64 = 7 * DAY_MS;

fn id_of(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// `DELETE /v1/repo/{kind}/{id}` with an optional confirmation header.
async fn delete_object(
    h: &Harness,
    token: &str,
    kind: &str,
    bytes: &[u8],
    confirmation: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(Method::DELETE)
        .uri(format!("/v1/repo/{kind}/{}", id_of(bytes)))
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(confirmation) = confirmation {
        request = request.header("Coffer-Confirmation", confirmation);
    }
    let (status, _, body) = h.send(request.body(Body::empty()).unwrap()).await;
    let value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap()
    };
    (status, value)
}

async fn listed(h: &Harness, token: &str, kind: &str) -> Vec<String> {
    let (status, list) = h.get(&format!("/v1/repo/{kind}"), token).await;
    assert_eq!(status, StatusCode::OK);
    list.as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn readable(h: &Harness, token: &str, kind: &str, bytes: &[u8]) -> StatusCode {
    h.get(&format!("/v1/repo/{kind}/{}", id_of(bytes)), token)
        .await
        .0
}

async fn confirm(h: &Harness, token: &str) -> String {
    let (status, body) = h
        .post("/v1/auth/confirm", token, json!({ "password": PASSWORD }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["expires_in"], 3600);
    body["confirmation"].as_str().unwrap().to_owned()
}

async fn in_store(h: &Harness, s: &Session, kind: &str, bytes: &[u8]) -> bool {
    h.state
        .store
        .read(&s.account_id, kind, &id_of(bytes), None)
        .await
        .unwrap()
        .is_some()
}

fn now(h: &Harness) -> i64 {
    h.clock.now_ms()
}

#[tokio::test]
async fn a_devices_own_session_can_back_up_but_not_delete() {
    let h = Harness::new();
    let s = h.account("ann@example.com").await;
    assert_eq!(
        h.put_object(&s.access, "snapshots", b"snapshot one").await,
        StatusCode::CREATED
    );
    for header in [None, Some(""), Some("not-a-grant")] {
        let (status, body) = delete_object(&h, &s.access, "snapshots", b"snapshot one", header).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "confirmation_required");
        assert!(message(&body).contains("/v1/auth/confirm"), "{body}");
    }
    // Nothing changed.
    assert_eq!(listed(&h, &s.access, "snapshots").await, [id_of(b"snapshot one")]);
    assert_eq!(readable(&h, &s.access, "snapshots", b"snapshot one").await, StatusCode::OK);
    // Adding backups still works with the session alone.
    assert_eq!(
        h.put_object(&s.access, "packs", b"more data").await,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn confirming_needs_the_password_and_is_throttled_like_sign_in() {
    let h = Harness::new();
    let s = h.account("ann@example.com").await;
    let (status, body) = h
        .post("/v1/auth/confirm", &s.access, json!({ "password": "not it at all" }))
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "wrong_password");
    let (status, body) = h.post("/v1/auth/confirm", &s.access, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).starts_with("password:"), "{body}");
    // Ten wrong passwords in all (counted with sign-in's) lock both out…
    for _ in 0..9 {
        h.post("/v1/auth/confirm", &s.access, json!({ "password": "guess guess" }))
            .await;
    }
    let (status, body) = h
        .post("/v1/auth/confirm", &s.access, json!({ "password": PASSWORD }))
        .await;
    assert_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    assert_eq!(
        h.sign_in("ann@example.com", PASSWORD).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // …for 15 minutes, not for good.
    h.clock.advance_ms(15 * 60 * 1000);
    confirm(&h, &s.access).await;
}

#[tokio::test]
async fn with_two_factor_on_confirming_needs_a_code() {
    let h = Harness::new();
    let s = h.account("ann@example.com").await;
    let (_, setup) = h.post_empty("/v1/account/totp/setup", &s.access).await;
    let secret = totp_rs::Secret::Encoded(setup["secret"].as_str().unwrap().to_owned())
        .to_bytes()
        .unwrap();
    let code = coffer_server::totp::code_at(&secret, now(&h)).unwrap();
    let (status, _) = h
        .post("/v1/account/totp/enable", &s.access, json!({ "code": code }))
        .await;
    assert_eq!(status, StatusCode::OK);
    h.clock.advance_ms(60_000);

    let (status, body) = h
        .post("/v1/auth/confirm", &s.access, json!({ "password": PASSWORD }))
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "totp_required");
    let (status, body) = h
        .post(
            "/v1/auth/confirm",
            &s.access,
            json!({ "password": PASSWORD, "totp_code": "000000" }),
        )
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "totp_invalid");
    // The session itself is fine: a two-factor refusal is not a sign-out.
    assert_eq!(h.get("/v1/account", &s.access).await.0, StatusCode::OK);
    let code = coffer_server::totp::code_at(&secret, now(&h)).unwrap();
    let (status, body) = h
        .post(
            "/v1/auth/confirm",
            &s.access,
            json!({ "password": PASSWORD, "totp_code": code }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A code works once.
    let (status, body) = h
        .post(
            "/v1/auth/confirm",
            &s.access,
            json!({ "password": PASSWORD, "totp_code": code }),
        )
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "totp_invalid");
}

#[tokio::test]
async fn a_grant_works_only_for_its_session_and_only_for_an_hour() {
    let h = Harness::new();
    let laptop = h.account("ann@example.com").await;
    let phone = h.session("ann@example.com", PASSWORD).await;
    let bob = h.account("bob@example.com").await;
    for (s, bytes) in [(&laptop, b"ann's snapshot".as_slice()), (&bob, b"bob's snapshot")] {
        assert_eq!(h.put_object(&s.access, "snapshots", bytes).await, StatusCode::CREATED);
    }
    let grant = confirm(&h, &laptop.access).await;
    // Another session of the same account, and another account, cannot use it.
    let (status, body) = delete_object(&h, &phone.access, "snapshots", b"ann's snapshot", Some(&grant)).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "confirmation_required");
    let (status, body) = delete_object(&h, &bob.access, "snapshots", b"bob's snapshot", Some(&grant)).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "confirmation_required");
    assert_eq!(listed(&h, &bob.access, "snapshots").await.len(), 1);
    // Only its hash is stored.
    // (The SQLite file, free pages included, or PostgreSQL's rows.)
    let db = h.state.db.stored_bytes().await.unwrap();
    assert!(!db.windows(grant.len()).any(|w| w == grant.as_bytes()));

    // An hour later it is over (the session itself is refreshed meanwhile).
    h.clock.advance_ms(60 * 60 * 1000);
    let (_, refreshed) = h
        .post_public("/v1/sessions/refresh", json!({ "refresh_token": laptop.refresh }))
        .await;
    let access = refreshed["access_token"].as_str().unwrap();
    let (status, body) = delete_object(&h, access, "snapshots", b"ann's snapshot", Some(&grant)).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "confirmation_required");
    // A fresh one, made by the refreshed session, works.
    let grant = confirm(&h, access).await;
    let (status, _) = delete_object(&h, access, "snapshots", b"ann's snapshot", Some(&grant)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_deletion_is_held_hidden_then_purged_after_seven_days() {
    let log = LogCapture::start();
    let h = Harness::new();
    let s = h.account("ann@example.com").await;
    for (kind, bytes) in [("snapshots", b"old snapshot".as_slice()), ("packs", b"old pack"), ("packs", b"kept pack")] {
        assert_eq!(h.put_object(&s.access, kind, bytes).await, StatusCode::CREATED);
    }
    let (_, account) = h.get("/v1/account", &s.access).await;
    let used_before = account["quota"]["used"].as_u64().unwrap();
    let grant = confirm(&h, &s.access).await;
    let deleted_at = now(&h);
    for (kind, bytes) in [("snapshots", b"old snapshot".as_slice()), ("packs", b"old pack")] {
        let (status, body) = delete_object(&h, &s.access, kind, bytes, Some(&grant)).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        // Gone for every reader: not listed, not readable, not deletable twice.
        assert_eq!(readable(&h, &s.access, kind, bytes).await, StatusCode::NOT_FOUND);
        let (status, _) = delete_object(&h, &s.access, kind, bytes, Some(&grant)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // But still stored.
        assert!(in_store(&h, &s, kind, bytes).await);
    }
    assert!(listed(&h, &s.access, "snapshots").await.is_empty());
    assert_eq!(listed(&h, &s.access, "packs").await, [id_of(b"kept pack")]);
    // The person's quota is freed at once.
    let (_, account) = h.get("/v1/account", &s.access).await;
    assert_eq!(
        account["quota"]["used"].as_u64().unwrap(),
        used_before - (b"old snapshot".len() + b"old pack".len()) as u64
    );
    // The pending deletion: one batch, from this device, purged in 7 days.
    let (status, pending) = h.get("/v1/deletions", &s.access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
    let batch = &pending[0];
    assert_eq!(batch["device_name"], "Ann's laptop");
    assert_eq!(batch["device_id"], "dev-1");
    assert_eq!(batch["session_id"], s.session_id.as_str());
    assert_eq!((batch["snapshots"].as_u64(), batch["packs"].as_u64(), batch["objects"].as_u64()), (Some(1), Some(1), Some(2)));
    assert_eq!(batch["bytes"], (b"old snapshot".len() + b"old pack".len()) as u64);
    assert_eq!(batch["purge_at"], deleted_at + HOLD_MS);

    // One moment before the hold is over, the job purges nothing…
    h.clock.set_ms(deleted_at + HOLD_MS - 1);
    let report = run_due(&h.state).await.unwrap();
    assert_eq!(report.held_objects_purged, 0);
    assert!(in_store(&h, &s, "snapshots", b"old snapshot").await);
    // …then both go, with one log line for the batch.
    h.clock.set_ms(deleted_at + HOLD_MS);
    let report = run_due(&h.state).await.unwrap();
    assert_eq!(report.held_objects_purged, 2);
    assert!(!in_store(&h, &s, "snapshots", b"old snapshot").await);
    assert!(!in_store(&h, &s, "packs", b"old pack").await);
    assert!(in_store(&h, &s, "packs", b"kept pack").await);
    let text = log.text();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("held deletions purged")).collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].contains("objects=2"), "{}", lines[0]);
    assert!(text.contains("identity confirmed"), "{text}");
    assert!(!text.contains(&grant), "the grant is never logged");
    assert!(!text.contains(PASSWORD), "nor the password");
    // (The old session's access token has long expired.)
    let s = h.session("ann@example.com", PASSWORD).await;
    let (_, pending) = h.get("/v1/deletions", &s.access).await;
    assert_eq!(pending, json!([]));
    assert_eq!(listed(&h, &s.access, "packs").await, [id_of(b"kept pack")]);
}

#[tokio::test]
async fn uploading_a_held_object_again_takes_it_out_of_the_hold() {
    let h = Harness::new();
    let s = h.account("ann@example.com").await;
    h.put_object(&s.access, "snapshots", b"put back by a refused prune").await;
    let grant = confirm(&h, &s.access).await;
    let deleted_at = now(&h);
    delete_object(&h, &s.access, "snapshots", b"put back by a refused prune", Some(&grant)).await;
    assert_eq!(readable(&h, &s.access, "snapshots", b"put back by a refused prune").await, StatusCode::NOT_FOUND);
    assert_eq!(
        h.put_object(&s.access, "snapshots", b"put back by a refused prune").await,
        StatusCode::CREATED
    );
    assert_eq!(readable(&h, &s.access, "snapshots", b"put back by a refused prune").await, StatusCode::OK);
    assert_eq!(listed(&h, &s.access, "snapshots").await.len(), 1);
    let (_, pending) = h.get("/v1/deletions", &s.access).await;
    assert_eq!(pending, json!([]));
    // The purge job leaves it alone.
    h.clock.set_ms(deleted_at + HOLD_MS + DAY_MS);
    assert_eq!(run_due(&h.state).await.unwrap().held_objects_purged, 0);
    assert!(in_store(&h, &s, "snapshots", b"put back by a refused prune").await);
}

#[tokio::test]
async fn cancelling_puts_a_batch_back_and_only_its_owner_can() {
    let h = Harness::new();
    let s = h.account("ann@example.com").await;
    let bob = h.account("bob@example.com").await;
    h.put_object(&s.access, "snapshots", b"precious").await;
    h.put_object(&s.access, "packs", b"precious data").await;
    let grant = confirm(&h, &s.access).await;
    let deleted_at = now(&h);
    delete_object(&h, &s.access, "snapshots", b"precious", Some(&grant)).await;
    delete_object(&h, &s.access, "packs", b"precious data", Some(&grant)).await;
    let (_, pending) = h.get("/v1/deletions", &s.access).await;
    let id = pending[0]["id"].as_str().unwrap().to_owned();

    let uri = format!("/v1/deletions/{id}/cancel");
    let (status, body) = h.post_empty(&uri, &bob.access).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    // A session suffices: undoing a deletion is harmless.
    let (status, body) = h.post_empty(&uri, &s.access).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "id": id, "restored": 2 }));
    assert_eq!(readable(&h, &s.access, "snapshots", b"precious").await, StatusCode::OK);
    assert_eq!(readable(&h, &s.access, "packs", b"precious data").await, StatusCode::OK);
    let (_, pending) = h.get("/v1/deletions", &s.access).await;
    assert_eq!(pending, json!([]));
    let (status, _) = h.post_empty(&uri, &s.access).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    h.clock.set_ms(deleted_at + HOLD_MS);
    assert_eq!(run_due(&h.state).await.unwrap().held_objects_purged, 0);
    assert!(in_store(&h, &s, "snapshots", b"precious").await);
}

#[tokio::test]
async fn the_person_is_mailed_once_per_batch() {
    let h = Harness::new();
    let s = h.account("ann@example.com").await;
    let before = h.outbox().len();
    for i in 0..3u8 {
        h.put_object(&s.access, "snapshots", &[b's', i]).await;
        h.put_object(&s.access, "packs", &[b'p', i]).await;
    }
    let grant = confirm(&h, &s.access).await;
    for i in 0..3u8 {
        delete_object(&h, &s.access, "snapshots", &[b's', i], Some(&grant)).await;
        delete_object(&h, &s.access, "packs", &[b'p', i], Some(&grant)).await;
        h.clock.advance_ms(1000);
    }
    // Not while the cleanup may still be going on…
    assert_eq!(run_due(&h.state).await.unwrap().deletion_mails_sent, 0);
    // …then one mail for the whole batch, and only one.
    h.clock.advance_ms(2 * 60 * 1000);
    assert_eq!(run_due(&h.state).await.unwrap().deletion_mails_sent, 1);
    assert_eq!(run_due(&h.state).await.unwrap().deletion_mails_sent, 0);
    let mails = h.outbox();
    assert_eq!(mails.len(), before + 1);
    let mail = mails.last().unwrap();
    assert!(header_value(mail, "To").unwrap().contains("ann@example.com"));
    assert!(header_value(mail, "List-Unsubscribe").is_none(), "an essential mail");
    let body = body_of(mail);
    let flat = body.split_whitespace().collect::<Vec<_>>().join(" ");
    for needed in [
        "\"Ann's laptop\"",
        "3 backups",
        "3 pieces",
        "2025-01-13",
        "If this was not you",
        "choose Put back",
        "change your password",
    ] {
        assert!(flat.contains(needed), "{needed} missing in {flat}");
    }
    assert_eq!(
        h.get("/v1/deletions", &s.access).await.1[0]["mailed"],
        true
    );
    // A later deletion with the same grant is a new batch, with its own mail.
    h.put_object(&s.access, "snapshots", b"later").await;
    delete_object(&h, &s.access, "snapshots", b"later", Some(&grant)).await;
    h.clock.advance_ms(2 * 60 * 1000);
    assert_eq!(run_due(&h.state).await.unwrap().deletion_mails_sent, 1);
    assert_eq!(h.get("/v1/deletions", &s.access).await.1.as_array().unwrap().len(), 2);
    assert!(body_of(h.outbox().last().unwrap()).contains("1 backup"));
}
