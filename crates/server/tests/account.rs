//! The account: profile, email verification and change, password change and
//! reset, private keys and key changes, two-factor sign-in. Mail is read
//! from the outbox folder (the SMTP path is tested in testkit).

#[path = "support/harness.rs"]
mod harness;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use base64::Engine;
use harness::*;
use serde_json::{json, Value};

async fn me(h: &Harness, token: &str) -> Value {
    let (status, body) = h.get("/v1/account", token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn profile_can_be_viewed_corrected_and_amended() {
    let h = Harness::new();
    let s = h.account("ann@example.com").await;
    let before = me(&h, &s.access).await;
    assert_eq!(before["address"], Value::Null);
    assert_eq!(before["email_verified"], false);
    assert_eq!(before["pending_email"], Value::Null);
    assert_eq!(before["totp_enabled"], false);
    assert_eq!(before["deletion"], Value::Null);
    assert_eq!(before["key_changed_at"], MONDAY_NOON);

    let (status, body) = h
        .patch("/v1/account", &s.access, json!({
            "first_name": " Anna ", "last_name": "Sample",
            "address": { "line1": "1 Main St", "line2": "", "city": "Springfield", "postal_code": "12345", "country": "US" },
        }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["first_name"], "Anna");
    assert_eq!(body["last_name"], "Sample");
    assert_eq!(
        body["address"],
        json!({ "line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US" })
    );
    assert_eq!(me(&h, &s.access).await["address"]["city"], "Springfield");

    // Bad input is refused whole, naming the field; nothing changes.
    for (patch, field) in [
        (json!({ "first_name": "" }), "first_name:"),
        (
            json!({ "first_name": "Bea", "address": { "zip": "1" } }),
            "address.zip:",
        ),
        (
            json!({ "first_name": "Bea", "address": "1 Main St" }),
            "address:",
        ),
        (
            json!({ "first_name": "Bea", "address": { "city": 5 } }),
            "address.city:",
        ),
        (
            json!({ "first_name": "Bea", "address": { "city": "x".repeat(201) } }),
            "address.city:",
        ),
        (json!({ "first_name": "Bea", "email": "nope" }), "email:"),
        (json!({ "first_name": "Bea", "quota": 1 }), "quota:"),
        (json!("Bea"), "body:"),
    ] {
        let (status, body) = h.patch("/v1/account", &s.access, patch.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{patch}");
        assert_eq!(code(&body), "invalid_input");
        assert!(message(&body).starts_with(field), "{patch}: {body}");
    }
    let after = me(&h, &s.access).await;
    assert_eq!(after["first_name"], "Anna");
    assert_eq!(after["address"]["line1"], "1 Main St");

    // null removes the address.
    let (_, body) = h
        .patch("/v1/account", &s.access, json!({ "address": null }))
        .await;
    assert_eq!(body["address"], Value::Null);
    assert_eq!(body["first_name"], "Anna");
}

#[tokio::test]
async fn sign_up_mails_a_verification_link_that_works_once() {
    let h = Harness::new();
    let s = h.account("ann@example.com").await;
    let mails = h.mails_to("ann@example.com", 1).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert!(header_value(mail, "Subject")
        .unwrap()
        .contains("Confirm your email"));
    // Essential mail has no unsubscribe header.
    assert!(header_value(mail, "List-Unsubscribe").is_none());
    let link = link_in(mail, "/v1/verify-email?token=");
    let (status, page) = h.page(Method::GET, &path_of(&link)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("ann@example.com") && page.contains("confirmed"),
        "{page}"
    );
    assert_eq!(me(&h, &s.access).await["email_verified"], true);

    let (status, page) = h.page(Method::GET, &path_of(&link)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("invalid"), "{page}");
    for uri in [
        "/v1/verify-email",
        "/v1/verify-email?token=",
        "/v1/verify-email?token=abc",
    ] {
        assert_eq!(
            h.page(Method::GET, uri).await.0,
            StatusCode::BAD_REQUEST,
            "{uri}"
        );
    }
}

#[tokio::test]
async fn an_email_change_waits_for_the_new_address_to_be_verified() {
    let h = Harness::new();
    let s = h.account("ann@example.com").await;
    let bob = h.account("bob@example.com").await;
    let (status, body) = h
        .patch(
            "/v1/account",
            &s.access,
            json!({ "email": "BOB@example.com" }),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "email_taken");

    let (status, body) = h
        .patch(
            "/v1/account",
            &s.access,
            json!({ "email": " Ann.New@Example.com" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "ann@example.com");
    assert_eq!(body["pending_email"], "ann.new@example.com");
    // Until verified, the old email still signs in and the new one does not.
    assert_eq!(
        h.sign_in("ann.new@example.com", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );

    let mail = h.mails_to("ann.new@example.com", 1).await.remove(0);
    let link = link_in(&mail, "/v1/verify-email?token=");
    assert_eq!(h.page(Method::GET, &path_of(&link)).await.0, StatusCode::OK);
    let after = me(&h, &s.access).await;
    assert_eq!(after["email"], "ann.new@example.com");
    assert_eq!(after["pending_email"], Value::Null);
    assert_eq!(after["email_verified"], true);
    assert_eq!(
        h.sign_in("ann@example.com", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.sign_in("ann.new@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
    // Bob is untouched.
    assert_eq!(me(&h, &bob.access).await["email"], "bob@example.com");
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session() {
    let h = Harness::new();
    let s = h.account("ann@example.com").await;
    let other = h.session("ann@example.com", PASSWORD).await;
    let (status, body) = h
        .post(
            "/v1/account/password",
            &s.access,
            json!({
                "current_password": "not my password", "new_password": "a much better passphrase",
            }),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "wrong_password");
    for (body, field) in [
        (
            json!({ "current_password": PASSWORD, "new_password": "short" }),
            "new_password:",
        ),
        (
            json!({ "new_password": "a much better passphrase" }),
            "current_password:",
        ),
        (json!({ "current_password": PASSWORD }), "new_password:"),
    ] {
        let (status, reply) = h.post("/v1/account/password", &s.access, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(message(&reply).starts_with(field), "{reply}");
    }
    assert_eq!(h.get("/v1/account", &other.access).await.0, StatusCode::OK);

    let (status, _) = h
        .post(
            "/v1/account/password",
            &s.access,
            json!({
                "current_password": PASSWORD, "new_password": "a much better passphrase",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(h.get("/v1/account", &s.access).await.0, StatusCode::OK);
    assert_eq!(
        h.get("/v1/account", &other.access).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.sign_in("ann@example.com", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.sign_in("ann@example.com", "a much better passphrase")
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_password_reset_link_sets_a_new_password_and_ends_all_sessions() {
    let h = Harness::new();
    let s = h.account("ann@example.com").await;
    h.mails_to("ann@example.com", 1).await; // the verification mail

    // Unknown and known emails get the same answer.
    for email in ["nobody@example.com", "ANN@example.com"] {
        let (status, body) = h
            .post_public("/v1/password-reset", json!({ "email": email }))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body, Value::Null);
    }
    let (status, body) = h
        .post_public("/v1/password-reset", json!({ "email": "x" }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).starts_with("email:"));

    // Mail files are named by the millisecond, so two written in the same
    // one sort either way: pick the reset mail by its link, not its place.
    let mail = h
        .mails_to("ann@example.com", 2)
        .await
        .into_iter()
        .find(|m| m.contains("/v1/password-reset?token="))
        .expect("a reset mail");
    assert!(header_value(&mail, "Subject").unwrap().contains("Reset"));
    let link = link_in(&mail, "/v1/password-reset?token=");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let (status, page) = h.page(Method::GET, &path_of(&link)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&token) && page.contains("new_password"),
        "{page}"
    );
    assert!(h.outbox().iter().all(|m| !m.contains("nobody@example.com")));

    // A bad new password is refused without using up the link.
    let (status, body) = h
        .post_public(
            "/v1/password-reset/confirm",
            json!({ "token": token, "new_password": "short" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).starts_with("new_password:"));
    let (status, body) = h
        .post_public(
            "/v1/password-reset/confirm",
            json!({ "token": "made-up", "new_password": "a new passphrase!" }),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_token");

    let (status, _) = h
        .post_public(
            "/v1/password-reset/confirm",
            json!({ "token": token, "new_password": "a new passphrase!" }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        h.get("/v1/account", &s.access).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.sign_in("ann@example.com", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    let again = h.session("ann@example.com", "a new passphrase!").await;
    assert_eq!(me(&h, &again.access).await["email_verified"], true);
    // The link works once.
    let (status, body) = h
        .post_public(
            "/v1/password-reset/confirm",
            json!({ "token": token, "new_password": "yet another one!" }),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_token");
}

#[tokio::test]
async fn the_reset_form_works_and_links_expire_after_an_hour() {
    let h = Harness::new();
    h.account("ann@example.com").await;
    h.post_public("/v1/password-reset", json!({ "email": "ann@example.com" }))
        .await;
    let link = link_in(
        &h.mails_to("ann@example.com", 2).await[1],
        "/v1/password-reset?token=",
    );
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let form = |password: &str| {
        Request::post("/v1/password-reset/confirm")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={token}&new_password={password}")))
            .unwrap()
    };
    let (status, _, page) = h.send(form("short")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&page).contains("new_password"));
    let (status, _, page) = h.send(form("form+typed+passphrase%21")).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&page));
    assert_eq!(
        h.sign_in("ann@example.com", "form typed passphrase!")
            .await
            .0,
        StatusCode::OK
    );

    // A link older than an hour no longer works.
    h.post_public("/v1/password-reset", json!({ "email": "ann@example.com" }))
        .await;
    let link = link_in(
        &h.mails_to("ann@example.com", 3).await[2],
        "/v1/password-reset?token=",
    );
    let token = link.split("token=").nth(1).unwrap().to_owned();
    h.clock.advance_ms(3_600_001);
    let (status, body) = h
        .post_public(
            "/v1/password-reset/confirm",
            json!({ "token": token, "new_password": "too late, sadly" }),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_token");
}

fn wraps(tag: &str) -> Value {
    json!({
        "passphrase": { "kdf": "argon2id", "m_kib": 65536, "t": 3, "p": 1, "salt": format!("salt-{tag}"), "nonce": "n1", "ciphertext": format!("wrapped-by-passphrase-{tag}") },
        "recovery": { "kdf": "argon2id", "m_kib": 65536, "t": 3, "p": 1, "salt": "s2", "nonce": "n2", "ciphertext": format!("wrapped-by-recovery-{tag}") },
    })
}

fn private_sign_up(email: &str) -> Value {
    let mut body = sign_up_body(email);
    let obj = body.as_object_mut().unwrap();
    obj.remove("data_key");
    obj.insert("key_mode".into(), json!("private"));
    obj.insert("wrapped_keys".into(), wraps("one"));
    body
}

#[tokio::test]
async fn private_key_accounts_store_only_the_device_made_wraps() {
    let h = Harness::new();
    let (status, body) = h.sign_up(private_sign_up("ann@example.com")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let s = h.session("ann@example.com", PASSWORD).await;
    assert_eq!(me(&h, &s.access).await["key_mode"], "private");
    let (status, key) = h.get("/v1/account/key", &s.access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        key,
        json!({ "key_mode": "private", "wrapped_keys": wraps("one"), "changed_at": MONDAY_NOON })
    );
    let stored = h
        .state
        .db
        .account_by_id(s.account_id.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.escrowed_data_key, None);

    // A default-key account gets its escrowed key back, with changed_at.
    let bob = h.account("bob@example.com").await;
    let (_, key) = h.get("/v1/account/key", &bob.access).await;
    assert_eq!(key["key_mode"], "default");
    assert_eq!(
        key["data_key"],
        base64::engine::general_purpose::STANDARD.encode(DATA_KEY)
    );
    assert_eq!(key["changed_at"], MONDAY_NOON);
}

#[tokio::test]
async fn bad_key_material_is_refused_and_nothing_is_stored() {
    let h = Harness::new();
    let b64 = base64::engine::general_purpose::STANDARD.encode(DATA_KEY);
    let cases: Vec<(Box<dyn Fn(&mut serde_json::Map<String, Value>)>, &str)> = vec![
        (
            Box::new(|o| {
                o.insert("data_key".into(), json!(b64));
            }),
            "data_key:",
        ),
        (
            Box::new(|o| {
                o.remove("wrapped_keys");
            }),
            "wrapped_keys:",
        ),
        (
            Box::new(|o| {
                o.insert("wrapped_keys".into(), json!("opaque"));
            }),
            "wrapped_keys:",
        ),
        (
            Box::new(|o| {
                o["wrapped_keys"]
                    .as_object_mut()
                    .unwrap()
                    .remove("recovery");
            }),
            "wrapped_keys.recovery:",
        ),
        (
            Box::new(|o| {
                o["wrapped_keys"]["passphrase"] = json!("abc");
            }),
            "wrapped_keys.passphrase:",
        ),
        (
            Box::new(|o| {
                o["wrapped_keys"]["passphrase"] = json!({});
            }),
            "wrapped_keys.passphrase:",
        ),
        (
            Box::new(|o| {
                o["wrapped_keys"]["extra"] = json!({});
            }),
            "wrapped_keys.extra:",
        ),
        (
            Box::new(|o| {
                o["wrapped_keys"]["recovery"]["pad"] = json!("x".repeat(17 * 1024));
            }),
            "wrapped_keys:",
        ),
    ];
    for (change, field) in cases {
        let mut body = private_sign_up("ann@example.com");
        change(body.as_object_mut().unwrap());
        let (status, reply) = h.sign_up(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}");
        assert!(message(&reply).starts_with(field), "{field}: {reply}");
    }
    let mut body = sign_up_body("ann@example.com");
    body["wrapped_keys"] = wraps("x");
    let (status, reply) = h.sign_up(body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&reply).starts_with("wrapped_keys:"), "{reply}");
    assert_eq!(h.state.db.account_count().await.unwrap(), 0);
}

#[tokio::test]
async fn key_material_is_replaced_atomically_between_modes() {
    let h = Harness::new();
    h.sign_up(private_sign_up("ann@example.com")).await;
    let s = h.session("ann@example.com", PASSWORD).await;
    let bob = h.account("bob@example.com").await;
    let put = |body: Value| {
        let h = &h;
        let token = s.access.clone();
        async move { h.put_json("/v1/account/key", &token, body).await }
    };

    // Wrong password: nothing changes.
    let (status, body) = put(
        json!({ "key_mode": "private", "wrapped_keys": wraps("two"), "password": "wrong one!!" }),
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "wrong_password");
    let (status, body) = put(json!({ "key_mode": "private", "wrapped_keys": wraps("two") })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).starts_with("password:"));
    assert_eq!(
        h.get("/v1/account/key", &s.access).await.1["wrapped_keys"],
        wraps("one")
    );

    // private → private: a re-wrap.
    h.clock.advance_ms(60_000);
    let (status, body) =
        put(json!({ "key_mode": "private", "wrapped_keys": wraps("two"), "password": PASSWORD }))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({ "key_mode": "private", "changed_at": MONDAY_NOON + 60_000 })
    );
    let (_, key) = h.get("/v1/account/key", &s.access).await;
    assert_eq!(key["wrapped_keys"], wraps("two"));
    assert_eq!(key["changed_at"], MONDAY_NOON + 60_000);
    assert_eq!(
        me(&h, &s.access).await["key_changed_at"],
        MONDAY_NOON + 60_000
    );

    // private → default: the data key is escrowed, the wraps are gone.
    let new_key = [7u8; 32];
    let b64 = base64::engine::general_purpose::STANDARD.encode(new_key);
    let (status, _) =
        put(json!({ "key_mode": "default", "data_key": b64, "password": PASSWORD })).await;
    assert_eq!(status, StatusCode::OK);
    let (_, key) = h.get("/v1/account/key", &s.access).await;
    assert_eq!(key["key_mode"], "default");
    assert_eq!(key["data_key"], b64.as_str());
    let stored = h
        .state
        .db
        .account_by_id(s.account_id.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.wrapped_keys, None);

    // default → private: the escrowed key is deleted.
    let (status, _) =
        put(json!({ "key_mode": "private", "wrapped_keys": wraps("three"), "password": PASSWORD }))
            .await;
    assert_eq!(status, StatusCode::OK);
    let stored = h
        .state
        .db
        .account_by_id(s.account_id.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.escrowed_data_key, None);
    assert_eq!(stored.key_mode, "private");

    // Bad material names its field; Bob's key is untouched throughout.
    let (status, body) =
        put(json!({ "key_mode": "default", "data_key": "AAAA", "password": PASSWORD })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).starts_with("data_key:"));
    let (_, key) = h.get("/v1/account/key", &bob.access).await;
    assert_eq!(
        key["data_key"],
        base64::engine::general_purpose::STANDARD.encode(DATA_KEY)
    );
}

#[tokio::test]
async fn a_reset_never_touches_a_private_key() {
    let h = Harness::new();
    h.sign_up(private_sign_up("ann@example.com")).await;
    h.post_public("/v1/password-reset", json!({ "email": "ann@example.com" }))
        .await;
    // Mail files are named by the millisecond, so two written in the same
    // one sort either way: pick the reset mail by its link, not its place.
    let mail = h
        .mails_to("ann@example.com", 2)
        .await
        .into_iter()
        .find(|m| m.contains("/v1/password-reset?token="))
        .expect("a reset mail");
    assert!(
        body_of(&mail).contains("does not\nchange or reveal that key")
            || body_of(&mail).contains("does not change or reveal"),
        "{mail}"
    );
    let link = link_in(&mail, "token=");
    let token = link.split("token=").nth(1).unwrap();
    let (status, _) = h
        .post_public(
            "/v1/password-reset/confirm",
            json!({ "token": token, "new_password": "a new passphrase!" }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let s = h.session("ann@example.com", "a new passphrase!").await;
    let (_, key) = h.get("/v1/account/key", &s.access).await;
    assert_eq!(key["wrapped_keys"], wraps("one"));
    assert_eq!(key["changed_at"], MONDAY_NOON);
}

fn secret_bytes(base32: &str) -> Vec<u8> {
    totp_rs::Secret::Encoded(base32.to_owned())
        .to_bytes()
        .unwrap()
}

#[tokio::test]
async fn two_factor_sign_in_with_codes_that_work_once_and_recovery_codes() {
    let h = Harness::new();
    let s = h.account("ann@example.com").await;
    let (status, body) = h
        .post(
            "/v1/account/totp/enable",
            &s.access,
            json!({ "code": "123456" }),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "totp_not_set_up");

    let (status, setup) = h.post_empty("/v1/account/totp/setup", &s.access).await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    let url = setup["otpauth_url"].as_str().unwrap();
    assert!(
        url.starts_with("otpauth://totp/Coffer:ann%40example.com?secret="),
        "{url}"
    );
    assert!(url.contains("issuer=Coffer"), "{url}");
    let secret = secret_bytes(setup["secret"].as_str().unwrap());
    // Not active until confirmed with a code.
    assert_eq!(
        h.sign_in("ann@example.com", PASSWORD).await.0,
        StatusCode::OK
    );

    let (status, body) = h
        .post(
            "/v1/account/totp/enable",
            &s.access,
            json!({ "code": "000000" }),
        )
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "totp_invalid");
    let (status, body) = h
        .post("/v1/account/totp/enable", &s.access, json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).starts_with("code:"));
    let now_code = coffer_server::totp::code_at(&secret, h.clock_now()).unwrap();
    let (status, body) = h
        .post(
            "/v1/account/totp/enable",
            &s.access,
            json!({ "code": now_code }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let codes: Vec<String> = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    assert_eq!(me(&h, &s.access).await["totp_enabled"], true);
    assert_eq!(
        code(&h.post_empty("/v1/account/totp/setup", &s.access).await.1),
        "totp_already_enabled"
    );

    // Password alone is not enough any more.
    let (status, body) = h.sign_in("ann@example.com", PASSWORD).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "totp_required");
    // A wrong password still says only that.
    let (_, body) = h.sign_in("ann@example.com", "wrong password").await;
    assert_eq!(code(&body), "invalid_credentials");
    let with = |extra: Value| {
        let mut body = json!({ "email": "ann@example.com", "password": PASSWORD });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    // The code that enabled it cannot be replayed; the next one works, once.
    assert_eq!(
        code(
            &h.sign_in_with(with(json!({ "totp_code": now_code })))
                .await
                .1
        ),
        "totp_invalid"
    );
    h.clock.advance_ms(30_000);
    let next = coffer_server::totp::code_at(&secret, h.clock_now()).unwrap();
    assert_eq!(
        h.sign_in_with(with(json!({ "totp_code": next }))).await.0,
        StatusCode::OK
    );
    assert_eq!(
        code(&h.sign_in_with(with(json!({ "totp_code": next }))).await.1),
        "totp_invalid"
    );
    assert_eq!(
        code(&h.sign_in_with(with(json!({ "totp_code": 123456 }))).await.1),
        "invalid_input"
    );

    // A recovery code works once, in any case and spacing.
    let typed = codes[3].to_uppercase().replace('-', " ");
    assert_eq!(
        h.sign_in_with(with(json!({ "recovery_code": typed })))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        code(
            &h.sign_in_with(with(json!({ "recovery_code": codes[3] })))
                .await
                .1
        ),
        "totp_invalid"
    );
    assert_eq!(
        code(
            &h.sign_in_with(with(json!({ "recovery_code": "aaaa-bbbb-cccc-dddd" })))
                .await
                .1
        ),
        "totp_invalid"
    );

    // Turning it off needs the password.
    let (status, body) = h
        .delete_with(
            "/v1/account/totp",
            &s.access,
            json!({ "password": "nope nope nope" }),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "wrong_password");
    let (status, _) = h
        .delete_with(
            "/v1/account/totp",
            &s.access,
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        h.sign_in("ann@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
    assert_eq!(me(&h, &s.access).await["totp_enabled"], false);
}

trait ClockNow {
    fn clock_now(&self) -> i64;
}

impl ClockNow for Harness {
    fn clock_now(&self) -> i64 {
        use coffer_server::Clock;
        self.clock.now_ms()
    }
}
