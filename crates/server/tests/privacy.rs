//! The privacy promises: communication preferences and one-click
//! unsubscribe, policy versions, the data export, account deletion with its
//! business-day grace period, and logs that never hold a secret.

#[path = "support/harness.rs"]
mod harness;

use axum::http::{header, Method, StatusCode};
use coffer_server::{jobs, operator, Holidays};
use harness::*;
use serde_json::{json, Value};

const DAY: i64 = 86_400_000;

#[tokio::test]
async fn preferences_start_off_except_operational_alerts_and_can_be_changed() {
    let h = Harness::new();
    let s = h.account("ann@example.com").await;
    let (status, prefs) = h.get("/v1/account/preferences", &s.access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        prefs,
        json!({
            "product_announcements": false, "software_updates": false, "surveys_research": false,
            "newsletter": false, "operational_alerts": true,
        })
    );
    let (status, prefs) = h
        .put_json(
            "/v1/account/preferences",
            &s.access,
            json!({ "newsletter": true, "operational_alerts": false }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(prefs["newsletter"], true);
    assert_eq!(prefs["operational_alerts"], false);
    assert_eq!(prefs["software_updates"], false);
    for (body, field) in [
        (json!({ "newsletter": "yes" }), "newsletter:"),
        (json!({ "spam": true }), "spam:"),
        (json!({ "software_updates": true, "spam": true }), "spam:"),
        (json!(true), "body:"),
    ] {
        let (status, reply) = h
            .put_json("/v1/account/preferences", &s.access, body.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(message(&reply).starts_with(field), "{reply}");
    }
    // Nothing of the refused requests was applied.
    let (_, prefs) = h.get("/v1/account/preferences", &s.access).await;
    assert_eq!(prefs["software_updates"], false);
    // Another account has its own.
    let bob = h.account("bob@example.com").await;
    let (_, prefs) = h.get("/v1/account/preferences", &bob.access).await;
    assert_eq!(prefs["newsletter"], false);
}

#[tokio::test]
async fn category_mail_goes_only_to_those_who_opted_in_and_unsubscribes_in_one_click() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    let _bob = h.account("bob@example.com").await;
    let cy = h.account("cy@example.com").await;
    for s in [&ann, &cy] {
        h.put_json(
            "/v1/account/preferences",
            &s.access,
            json!({ "newsletter": true }),
        )
        .await;
    }
    h.put_json(
        "/v1/account/preferences",
        &cy.access,
        json!({ "operational_alerts": false }),
    )
    .await;

    let report =
        operator::send_category_mail(&h.state, "newsletter", "Coffer news", "Hello!\nNews.")
            .await
            .unwrap();
    assert_eq!(report.sent, 2);
    assert_eq!(report.failed, 0);
    let newsletters: Vec<String> = h
        .outbox()
        .into_iter()
        .filter(|m| header_value(m, "Subject").as_deref() == Some("Coffer news"))
        .collect();
    assert_eq!(newsletters.len(), 2);
    assert!(newsletters
        .iter()
        .all(|m| !header_value(m, "To").unwrap().contains("bob@")));

    let mail = newsletters
        .iter()
        .find(|m| header_value(m, "To").unwrap().contains("ann@"))
        .unwrap();
    assert_eq!(
        header_value(mail, "List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let listed = header_value(mail, "List-Unsubscribe").unwrap();
    let body_link = link_in(mail, "/v1/unsubscribe?token=");
    assert_eq!(listed, format!("<{body_link}>"));
    assert!(body_of(mail).contains("Hello!\nNews."));

    // GET shows a confirmation page with a button; it changes nothing.
    let (status, page) = h.page(Method::GET, &path_of(&body_link)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("method=\"post\"") && page.contains("the newsletter"),
        "{page}"
    );
    let (_, prefs) = h.get("/v1/account/preferences", &ann.access).await;
    assert_eq!(prefs["newsletter"], true);
    // One POST, no sign-in, unsubscribes that category only.
    let (status, page) = h.page(Method::POST, &path_of(&body_link)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let (_, prefs) = h.get("/v1/account/preferences", &ann.access).await;
    assert_eq!(prefs["newsletter"], false);
    assert_eq!(prefs["operational_alerts"], true);
    let (_, prefs) = h.get("/v1/account/preferences", &cy.access).await;
    assert_eq!(prefs["newsletter"], true);

    // A tampered token (another account) does nothing.
    let tampered = path_of(&body_link).replace(&ann.account_id, &cy.account_id);
    assert_eq!(
        h.page(Method::POST, &tampered).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        h.page(Method::POST, "/v1/unsubscribe").await.0,
        StatusCode::BAD_REQUEST
    );
    let (_, prefs) = h.get("/v1/account/preferences", &cy.access).await;
    assert_eq!(prefs["newsletter"], true);

    let report = operator::send_category_mail(&h.state, "newsletter", "More news", "Again.")
        .await
        .unwrap();
    assert_eq!(report.sent, 1);
    // Operational alerts are on by default: Ann and Bob, not Cy.
    let report = operator::send_category_mail(
        &h.state,
        "operational_alerts",
        "Heads up",
        "Storage almost full.",
    )
    .await
    .unwrap();
    assert_eq!(report.sent, 2);
    assert!(operator::send_category_mail(&h.state, "spam", "x", "y")
        .await
        .is_err());
}

#[tokio::test]
async fn a_new_policy_is_mailed_to_everyone_and_accepted_per_account() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    let bob = h.account("bob@example.com").await;
    assert_eq!(h.get_public("/v1/policy").await.0, StatusCode::NOT_FOUND);
    let (status, body) = h
        .post(
            "/v1/account/policy/accept",
            &ann.access,
            json!({ "version": "1" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).starts_with("version:"));
    // Preferences do not matter for policy mail.
    h.put_json(
        "/v1/account/preferences",
        &bob.access,
        json!({ "operational_alerts": false }),
    )
    .await;

    let report = operator::publish_policy(&h.state, "2025-01", "# Privacy\nWe keep little.")
        .await
        .unwrap();
    assert_eq!(report.sent, 2);
    assert!(operator::publish_policy(&h.state, "2025-01", "again")
        .await
        .is_err());
    assert!(operator::publish_policy(&h.state, "has space", "text")
        .await
        .is_err());
    for who in ["ann@example.com", "bob@example.com"] {
        let mails = h.mails_to(who, 2).await;
        let policy_mail = mails
            .iter()
            .find(|m| {
                header_value(m, "Subject")
                    .unwrap()
                    .contains("privacy policy")
            })
            .unwrap();
        assert!(body_of(policy_mail).contains("We keep little."));
        assert!(header_value(policy_mail, "List-Unsubscribe").is_none());
    }
    let (status, policy) = h.get_public("/v1/policy").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        policy,
        json!({ "version": "2025-01", "text": "# Privacy\nWe keep little.", "published_at": MONDAY_NOON })
    );

    let (status, body) = h
        .post(
            "/v1/account/policy/accept",
            &ann.access,
            json!({ "version": "2024-12" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("2025-01"), "{body}");
    h.clock.advance_ms(5000);
    let (status, body) = h
        .post(
            "/v1/account/policy/accept",
            &ann.access,
            json!({ "version": "2025-01" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({ "policy_accepted_version": "2025-01", "policy_accepted_at": MONDAY_NOON + 5000 })
    );
    let (_, me) = h.get("/v1/account", &ann.access).await;
    assert_eq!(me["policy_accepted_version"], "2025-01");
    assert_eq!(me["policy_accepted_at"], MONDAY_NOON + 5000);
    let (_, me) = h.get("/v1/account", &bob.access).await;
    assert_eq!(me["policy_accepted_version"], Value::Null);

    // A newer version becomes current; the old acceptance stays as it was.
    h.clock.advance_ms(DAY);
    operator::publish_policy(&h.state, "2025-02", "Newer.")
        .await
        .unwrap();
    assert_eq!(h.get_public("/v1/policy").await.1["version"], "2025-02");
    let ann = h.session("ann@example.com", PASSWORD).await; // a day later: a fresh token
    let (_, me) = h.get("/v1/account", &ann.access).await;
    assert_eq!(me["policy_accepted_version"], "2025-01");
}

#[tokio::test]
async fn the_export_holds_everything_about_the_person_and_nothing_about_others() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    h.session("ann@example.com", PASSWORD).await;
    let bob = h.account("bob@example.com").await;
    h.put_object(&ann.access, "packs", b"ann's pack").await;
    h.put_object(&ann.access, "snapshots", b"ann's snapshot")
        .await;
    h.put_object(&bob.access, "packs", b"bob's pack").await;
    h.put_json(
        "/v1/account/preferences",
        &ann.access,
        json!({ "surveys_research": true }),
    )
    .await;
    // A share (with a recipient) and a connected app of Ann's; one of Bob's.
    let (status, share) = h
        .post(
            "/v1/shares",
            &ann.access,
            json!({ "recipients": ["carol@example.com"], "parts": 1, "max_downloads": 3 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{share}");
    let (status, app) = h
        .post(
            "/v1/apps",
            &ann.access,
            json!({ "name": "Photo frame", "scopes": ["restore"], "expires_in_days": 30 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{app}");
    let app_token = app["token"].as_str().unwrap().to_owned();
    h.post("/v1/shares", &bob.access, json!({ "parts": 1 }))
        .await;
    h.post(
        "/v1/apps",
        &bob.access,
        json!({ "name": "Other app", "scopes": ["backup"], "expires_in_days": 30 }),
    )
    .await;

    let (status, headers, export) = h
        .json_with_headers(Method::GET, "/v1/account/export", Some(&ann.access), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"coffer-export-2025-01-06.json\""
    );
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(export["format"], "coffer-account-export/1");
    assert_eq!(export["account"]["email"], "ann@example.com");
    assert_eq!(export["account"]["first_name"], "Ann");
    assert_eq!(export["preferences"]["surveys_research"], true);
    assert_eq!(export["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(
        export["devices"],
        json!([{
            "device_id": "dev-1", "device_name": "Ann's laptop", "first_seen_at": MONDAY_NOON,
            "last_seen_at": MONDAY_NOON, "sessions": 2, "active_sessions": 2,
        }])
    );
    let shares = export["shares"].as_array().unwrap();
    assert_eq!(shares.len(), 1, "{export}");
    assert_eq!(shares[0]["id"], share["id"]);
    assert_eq!(shares[0]["state"], "uploading");
    assert_eq!(shares[0]["recipients"], json!(["carol@example.com"]));
    assert_eq!(shares[0]["max_downloads"], 3);
    let apps = export["connected_apps"].as_array().unwrap();
    assert_eq!(apps.len(), 1, "{export}");
    assert_eq!(apps[0]["name"], "Photo frame");
    assert_eq!(apps[0]["scopes"], json!(["restore"]));
    assert_eq!(apps[0]["last_used_at"], Value::Null);
    assert_eq!(export["objects"]["packs"].as_array().unwrap().len(), 1);
    assert_eq!(export["objects"]["packs"][0]["size"], 10);
    assert_eq!(
        export["objects"]["snapshots"][0]["id"],
        blake3::hash(b"ann's snapshot").to_hex().as_str()
    );
    assert_eq!(export["objects"]["indexes"], json!([]));
    assert_eq!(export["two_factor"]["enabled"], false);
    let text = export.to_string();
    assert!(
        !text.contains("bob"),
        "another account's data in the export"
    );
    assert!(!text.contains(&bob.account_id));
    assert!(!text.contains("argon2"), "password hash in the export");
    assert!(!text.contains(&ann.access));
    assert!(!text.contains(&app_token), "an app token in the export");
    let token_hash = hex::encode(coffer_server::auth::token_sha256(&app_token));
    assert!(
        !text.contains(&token_hash),
        "an app token's hash in the export"
    );
    assert!(!text.contains("Other app"));
}

#[tokio::test]
async fn the_export_marks_deleted_objects_still_held_with_their_purge_time() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    h.put_object(&ann.access, "snapshots", b"kept snapshot")
        .await;
    h.put_object(&ann.access, "snapshots", b"deleted snapshot")
        .await;
    let (status, body) = h
        .post(
            "/v1/auth/confirm",
            &ann.access,
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let grant = body["confirmation"].as_str().unwrap().to_owned();
    let deleted = blake3::hash(b"deleted snapshot").to_hex().to_string();
    let request = axum::http::Request::builder()
        .method(Method::DELETE)
        .uri(format!("/v1/repo/snapshots/{deleted}"))
        .header(header::AUTHORIZATION, format!("Bearer {}", ann.access))
        .header("Coffer-Confirmation", grant)
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, _, _) = h.send(request).await;
    assert!(status.is_success(), "the deletion is held ({status})");
    let (_, held) = h.get("/v1/deletions", &ann.access).await;
    let purge_at = held[0]["purge_at"]
        .as_i64()
        .expect("a held deletion with its purge time");

    let (status, export) = h.get("/v1/account/export", &ann.access).await;
    assert_eq!(status, StatusCode::OK);
    let snapshots = export["objects"]["snapshots"].as_array().unwrap();
    assert_eq!(
        snapshots.len(),
        2,
        "a held object is still held, so it is listed: {export}"
    );
    let by_id = |bytes: &[u8]| {
        let id = blake3::hash(bytes).to_hex().to_string();
        snapshots
            .iter()
            .find(|o| o["id"] == id.as_str())
            .cloned()
            .unwrap()
    };
    let kept = by_id(b"kept snapshot");
    assert_eq!(
        (&kept["held"], &kept["purge_at"]),
        (&json!(false), &Value::Null)
    );
    let gone = by_id(b"deleted snapshot");
    assert_eq!(gone["held"], true);
    assert_eq!(gone["purge_at"], purge_at);
    assert_eq!(purge_at, MONDAY_NOON + 7 * DAY, "held for 7 days");
}

#[tokio::test]
async fn deletion_ends_sessions_at_once_and_can_be_cancelled_within_the_grace_period() {
    let h = Harness::new();
    let s = h.account("ann@example.com").await;
    let other = h.session("ann@example.com", PASSWORD).await;
    let (status, body) = h
        .delete_with("/v1/account", &s.access, json!({ "password": "wrong!" }))
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "wrong_password");
    let (status, body) = h
        .delete_with(
            "/v1/account",
            &s.access,
            json!({ "password": PASSWORD, "purge_now": "yes" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).starts_with("purge_now:"));

    // Monday 2025-01-06 noon + 10 business days → purged at 00:00 on Tuesday 2025-01-21.
    let (status, body) = h
        .delete_with("/v1/account", &s.access, json!({ "password": PASSWORD }))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let purge_at = 1_737_417_600_000; // 2025-01-21T00:00:00Z
    assert_eq!(
        body,
        json!({ "purged": false, "purge_at": purge_at, "purge_date": "2025-01-21" })
    );
    for token in [&s.access, &other.access] {
        assert_eq!(
            h.get("/v1/account", token).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let mail = h.mails_to("ann@example.com", 2).await.remove(1);
    assert!(body_of(&mail).contains("2025-01-21"), "{mail}");

    let (status, body) = h.sign_in("ann@example.com", PASSWORD).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "account_deleted");
    assert!(message(&body).contains("2025-01-21"), "{body}");
    assert_eq!(body["error"]["purge_at"], purge_at);
    // The wrong password does not learn that.
    assert_eq!(
        code(&h.sign_in("ann@example.com", "wrong password").await.1),
        "invalid_credentials"
    );

    let (status, body) = h
        .post_public(
            "/v1/account/restore-deletion",
            json!({ "email": "ann@example.com", "password": "wrong password" }),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    h.clock.set_ms(purge_at - 1);
    assert_eq!(jobs::run_due(&h.state).await.unwrap().accounts_purged, 0);
    let (status, body) = h
        .post_public(
            "/v1/account/restore-deletion",
            json!({ "email": "ann@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["deletion"], Value::Null);
    h.clock.set_ms(purge_at + DAY);
    assert_eq!(jobs::run_due(&h.state).await.unwrap().accounts_purged, 0);
    assert_eq!(
        h.sign_in("ann@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_purge_job_removes_rows_and_objects_after_ten_business_days_with_one_log_line() {
    // Friday 2025-01-17 is a holiday here: one more day of grace.
    let h = Harness::with(|c| c.holidays = Holidays::parse("2025-01-17\n").unwrap());
    let ann = h.account("ann@example.com").await;
    let bob = h.account("bob@example.com").await;
    for data in [&b"pack one"[..], b"pack two", b"pack three"] {
        h.put_object(&ann.access, "packs", data).await;
    }
    h.put_object(&ann.access, "snapshots", b"snap").await;
    h.put_object(&bob.access, "packs", b"bob keeps this").await;
    let (status, body) = h
        .delete_with("/v1/account", &ann.access, json!({ "password": PASSWORD }))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["purge_date"], "2025-01-22");

    let logs = LogCapture::start();
    h.clock.set_ms(1_737_504_000_000 - 1); // just before 2025-01-22T00:00Z
    assert_eq!(jobs::run_due(&h.state).await.unwrap().accounts_purged, 0);
    let anns = format!("{}/", ann.account_id);
    assert_eq!(h.state.store.list(&anns).await.unwrap().len(), 4);
    h.clock.advance_ms(1);
    assert_eq!(jobs::run_due(&h.state).await.unwrap().accounts_purged, 1);
    assert_eq!(jobs::run_due(&h.state).await.unwrap().accounts_purged, 0);
    let text = logs.text();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("account purged"))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    let expected = format!(
        "account purged account_id={} objects=4 bytes={}",
        ann.account_id,
        8 + 8 + 10 + 4
    );
    assert!(lines[0].contains(&expected), "{}", lines[0]);

    assert!(h
        .state
        .db
        .account_by_id(ann.account_id.clone())
        .await
        .unwrap()
        .is_none());
    assert!(h
        .state
        .db
        .all_objects(ann.account_id.clone())
        .await
        .unwrap()
        .is_empty());
    assert!(h.state.store.list(&anns).await.unwrap().is_empty());
    assert!(!h.dir.path().join("objects").join(&ann.account_id).exists());
    assert_eq!(
        code(&h.sign_in("ann@example.com", PASSWORD).await.1),
        "invalid_credentials"
    );
    let (status, _) = h
        .post_public(
            "/v1/account/restore-deletion",
            json!({ "email": "ann@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Bob and his object are untouched; the email is free again.
    assert_eq!(
        h.state
            .db
            .all_objects(bob.account_id.clone())
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        h.sign_up(sign_up_body("ann@example.com")).await.0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn purge_now_deletes_at_once() {
    let h = Harness::new();
    let ann = h.account("ann@example.com").await;
    h.put_object(&ann.access, "packs", b"gone soon").await;
    let logs = LogCapture::start();
    let (status, body) = h
        .delete_with(
            "/v1/account",
            &ann.access,
            json!({ "password": PASSWORD, "purge_now": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "purged": true, "objects": 1, "bytes": 9 }));
    assert_eq!(logs.text().matches("account purged").count(), 1);
    assert!(h
        .state
        .db
        .account_by_id(ann.account_id.clone())
        .await
        .unwrap()
        .is_none());
    assert_eq!(h.state.db.account_count().await.unwrap(), 0);
    assert_eq!(
        h.get("/v1/account", &ann.access).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn no_password_token_or_key_reaches_the_logs() {
    let h = Harness::new();
    let logs = LogCapture::start();
    let s = h.account("ann@example.com").await;
    let (_, refreshed) = h
        .post_public(
            "/v1/sessions/refresh",
            json!({ "refresh_token": s.refresh }),
        )
        .await;
    h.post_public("/v1/password-reset", json!({ "email": "ann@example.com" }))
        .await;
    let mails = h.mails_to("ann@example.com", 2).await;
    let verify = link_in(&mails[0], "token=");
    let reset = link_in(&mails[1], "token=");
    let reset_token = reset.split("token=").nth(1).unwrap().to_owned();
    h.post_public(
        "/v1/password-reset/confirm",
        json!({ "token": reset_token, "new_password": "the second passphrase" }),
    )
    .await;
    let s2 = h.session("ann@example.com", "the second passphrase").await;
    let (_, setup) = h.post_empty("/v1/account/totp/setup", &s2.access).await;
    h.get("/v1/account/key", &s2.access).await;
    let text = logs.text();
    assert!(text.contains("signed in"), "the capture works: {text}");
    let data_key_b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, DATA_KEY);
    for secret in [
        PASSWORD,
        "the second passphrase",
        &s.access,
        &s.refresh,
        refreshed["access_token"].as_str().unwrap(),
        refreshed["refresh_token"].as_str().unwrap(),
        verify.split("token=").nth(1).unwrap(),
        &reset_token,
        &s2.access,
        setup["secret"].as_str().unwrap(),
        &data_key_b64,
    ] {
        assert!(
            !text.contains(secret),
            "a secret ({}…) is in the logs",
            &secret[..4]
        );
    }
}
