//! Sessions: expiring access tokens, rotating refresh tokens with theft
//! detection, the person's session records, revoking, and retention.

#[path = "support/harness.rs"]
mod harness;

use axum::http::StatusCode;
use harness::*;
use serde_json::json;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

#[tokio::test]
async fn sign_in_returns_short_lived_access_and_a_refresh_token() {
    let h = Harness::new();
    h.sign_up(sign_up_body("ann@example.com")).await;
    let (status, body) = h.sign_in("ann@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();
    assert_eq!(access.len(), 43);
    assert_eq!(refresh.len(), 43);
    assert_ne!(access, refresh);
    // The 0.1 agent's field, for one release.
    assert_eq!(body["token"], body["access_token"]);
    assert_eq!(body["access_expires_at"], MONDAY_NOON + HOUR);
    assert_eq!(body["account"]["email"], "ann@example.com");
    assert_eq!(body["session_id"].as_str().unwrap().len(), 32);

    assert_eq!(h.get("/v1/account", access).await.0, StatusCode::OK);
    // A refresh token is not an access token.
    let (status, body) = h.get("/v1/account", refresh).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn expired_access_tokens_are_refreshed_and_refresh_tokens_rotate() {
    let h = Harness::new();
    let s = h.account("ann@example.com").await;
    h.clock.advance_ms(HOUR - 1);
    assert_eq!(h.get("/v1/account", &s.access).await.0, StatusCode::OK);
    h.clock.advance_ms(1);
    let (status, body) = h.get("/v1/account", &s.access).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "token_expired");

    let (status, body) = h
        .post_public(
            "/v1/sessions/refresh",
            json!({ "refresh_token": s.refresh }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["session_id"], s.session_id.as_str());
    assert_eq!(body["access_expires_at"], MONDAY_NOON + 2 * HOUR);
    assert_eq!(body["token"], body["access_token"]);
    let access2 = body["access_token"].as_str().unwrap().to_owned();
    let refresh2 = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(access2, s.access);
    assert_ne!(refresh2, s.refresh);
    assert_eq!(h.get("/v1/account", &access2).await.0, StatusCode::OK);
    // The old access token is replaced, not merely expired.
    assert_eq!(
        code(&h.get("/v1/account", &s.access).await.1),
        "unauthorized"
    );

    // A second rotation works with the newest refresh token.
    let (status, body) = h
        .post_public("/v1/sessions/refresh", json!({ "refresh_token": refresh2 }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let access3 = body["access_token"].as_str().unwrap().to_owned();
    let refresh3 = body["refresh_token"].as_str().unwrap().to_owned();

    // Someone replays the first refresh token: theft. The whole session ends.
    let (status, body) = h
        .post_public(
            "/v1/sessions/refresh",
            json!({ "refresh_token": s.refresh }),
        )
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(
        code(&h.get("/v1/account", &access3).await.1),
        "unauthorized"
    );
    let (status, _) = h
        .post_public("/v1/sessions/refresh", json!({ "refresh_token": refresh3 }))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let record = h.session_record(&s.session_id).await.unwrap();
    assert_eq!(record.end_reason.as_deref(), Some("refresh_token_reused"));
    assert!(record.ended_at.is_some());
}

#[tokio::test]
async fn refresh_input_is_checked() {
    let h = Harness::new();
    for (body, field) in [
        (json!({}), "refresh_token:"),
        (json!({ "refresh_token": 5 }), "refresh_token:"),
        (json!({ "refresh_token": "  " }), "refresh_token:"),
        (json!([1]), "body:"),
    ] {
        let (status, reply) = h.post_public("/v1/sessions/refresh", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(message(&reply).starts_with(field), "{body}: {reply}");
    }
    let (status, reply) = h
        .post_public(
            "/v1/sessions/refresh",
            json!({ "refresh_token": "made-up" }),
        )
        .await;
    assert_error(status, &reply, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn people_see_their_own_sessions_with_the_current_one_flagged() {
    let h = Harness::new();
    let ann1 = h.account("ann@example.com").await;
    h.clock.advance_ms(1000);
    let (_, body) = h
        .sign_in_with(json!({
            "email": "ann@example.com", "password": PASSWORD,
            "device_id": "phone-7", "device_name": "Ann's phone", "app_version": "0.2.1",
        }))
        .await;
    let ann2 = session_from(&body);
    let bob = h.account("bob@example.com").await;
    h.get("/v1/account", &ann1.access).await;

    let (status, list) = h.get("/v1/sessions", &ann2.access).await;
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 2, "{list:?}");
    // Newest first; Bob's session is not there.
    assert_eq!(list[0]["session_id"], ann2.session_id.as_str());
    assert_eq!(list[0]["current"], true);
    assert_eq!(list[0]["device_name"], "Ann's phone");
    assert_eq!(list[0]["device_id"], "phone-7");
    assert_eq!(list[0]["app_version"], "0.2.1");
    assert_eq!(list[0]["active"], true);
    assert_eq!(list[1]["session_id"], ann1.session_id.as_str());
    assert_eq!(list[1]["current"], false);
    assert_eq!(list[1]["requests"], 1);
    assert!(list[1]["bytes_down"].as_u64().unwrap() > 0);
    for s in &list {
        assert_ne!(s["session_id"], bob.session_id.as_str());
        for field in [
            "started_at",
            "last_seen_at",
            "ended_at",
            "end_reason",
            "ip",
            "bytes_up",
            "transfer_ms",
        ] {
            assert!(s.get(field).is_some(), "{field} missing in {s}");
        }
    }
    let (status, body) = h.get("/v1/sessions?active=maybe", &ann2.access).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).starts_with("active:"));
}

#[tokio::test]
async fn revoking_a_session_stops_its_tokens_at_once_and_only_its_own() {
    let h = Harness::new();
    let ann1 = h.account("ann@example.com").await;
    let ann2 = h.session("ann@example.com", PASSWORD).await;
    let bob = h.account("bob@example.com").await;

    // Bob cannot revoke Ann's session: it is "not found" to him.
    let uri = format!("/v1/sessions/{}", ann2.session_id);
    let (status, body) = h.delete(&uri, &bob.access).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(h.get("/v1/account", &ann2.access).await.0, StatusCode::OK);

    assert_eq!(h.delete(&uri, &ann1.access).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        code(&h.get("/v1/account", &ann2.access).await.1),
        "unauthorized"
    );
    let (status, _) = h
        .post_public(
            "/v1/sessions/refresh",
            json!({ "refresh_token": ann2.refresh }),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Revoking again, or a made-up id, is not found.
    assert_eq!(h.delete(&uri, &ann1.access).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        h.delete("/v1/sessions/nope", &ann1.access).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(h.get("/v1/account", &ann1.access).await.0, StatusCode::OK);
    assert_eq!(h.get("/v1/account", &bob.access).await.0, StatusCode::OK);

    let (_, list) = h.get("/v1/sessions?active=true", &ann1.access).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (_, list) = h.get("/v1/sessions", &ann1.access).await;
    let revoked = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["session_id"] == ann2.session_id.as_str())
        .unwrap();
    assert_eq!(revoked["active"], false);
    assert_eq!(revoked["end_reason"], "revoked");
}

#[tokio::test]
async fn sign_out_everywhere_optionally_keeps_the_current_session() {
    let h = Harness::new();
    let a = h.account("ann@example.com").await;
    let b = h.session("ann@example.com", PASSWORD).await;
    let c = h.session("ann@example.com", PASSWORD).await;
    let bob = h.account("bob@example.com").await;

    let (status, body) = h
        .post(
            "/v1/sessions/revoke-all",
            &a.access,
            json!({ "except_current": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ended"], 2);
    assert_eq!(h.get("/v1/account", &a.access).await.0, StatusCode::OK);
    for s in [&b, &c] {
        assert_eq!(
            h.get("/v1/account", &s.access).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (status, body) = h
        .post(
            "/v1/sessions/revoke-all",
            &a.access,
            json!({ "except_current": "yes" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).starts_with("except_current:"));

    // Without a body: everywhere, this session too.
    let (status, body) = h.post_empty("/v1/sessions/revoke-all", &a.access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["ended"], 1);
    assert_eq!(
        h.get("/v1/account", &a.access).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Another account is untouched.
    assert_eq!(h.get("/v1/account", &bob.access).await.0, StatusCode::OK);
}

#[tokio::test]
async fn session_records_count_traffic_and_transfer_time() {
    let h = Harness::new();
    let s = h.account("ann@example.com").await;
    let bytes: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(
        h.put_object(&s.access, "packs", &bytes).await,
        StatusCode::CREATED
    );
    let id = blake3::hash(&bytes).to_hex().to_string();
    let request = axum::http::Request::get(format!("/v1/repo/packs/{id}"))
        .header("authorization", format!("Bearer {}", s.access))
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, _, body) = h.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.len(), bytes.len());
    let record = h.session_record(&s.session_id).await.unwrap();
    assert_eq!(record.requests, 2);
    assert!(record.bytes_up >= bytes.len() as u64, "{record:?}");
    assert!(record.bytes_down >= bytes.len() as u64, "{record:?}");
    assert!(record.transfer_ms > 0, "{record:?}");
    assert_eq!(record.ip, None); // no socket under oneshot; see http.rs for a real one
}

#[tokio::test]
async fn ended_session_records_are_deleted_after_the_retention_period() {
    let h = Harness::with(|c| c.session_retention_days = 30);
    let old = h.account("ann@example.com").await;
    let live = h.session("ann@example.com", PASSWORD).await;
    h.delete("/v1/sessions/current", &old.access).await;
    h.clock.advance_ms(20 * DAY);
    let recent = h.session("ann@example.com", PASSWORD).await;
    h.delete("/v1/sessions/current", &recent.access).await;

    h.clock.advance_ms(10 * DAY); // exactly 30 days after the first ended
    assert_eq!(
        coffer_server::jobs::run_due(&h.state)
            .await
            .unwrap()
            .sessions_deleted,
        0
    );
    h.clock.advance_ms(1);
    let report = coffer_server::jobs::run_due(&h.state).await.unwrap();
    assert_eq!(report.sessions_deleted, 1);
    assert!(h.session_record(&old.session_id).await.is_none());
    assert!(h.session_record(&recent.session_id).await.is_some());
    // A live session is never deleted, however old.
    h.clock.advance_ms(365 * DAY);
    coffer_server::jobs::run_due(&h.state).await.unwrap();
    assert!(h.session_record(&live.session_id).await.is_some());
    assert!(h.session_record(&recent.session_id).await.is_none());
}

#[tokio::test]
async fn tokens_are_stored_only_as_hashes() {
    let h = Harness::new();
    let s = h.account("ann@example.com").await;
    let (_, body) = h
        .post_public(
            "/v1/sessions/refresh",
            json!({ "refresh_token": s.refresh }),
        )
        .await;
    let new_refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let new_access = body["access_token"].as_str().unwrap().to_owned();
    // (The SQLite file, free pages included, or PostgreSQL's rows.)
    let db = h.state.db.stored_bytes().await.unwrap();
    for secret in [&s.access, &s.refresh, &new_access, &new_refresh] {
        assert!(
            !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "token in clear"
        );
    }
}
