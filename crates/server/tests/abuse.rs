//! Password rules and abuse limits (issue 4, point 8): at least 8
//! characters, no composition rules, no common passwords; sign-ups per
//! address and password-reset mails per email and per address are limited
//! with `429 too_many_attempts` and `Retry-After`, in a sliding window that
//! lifts by itself. Time comes from the harness's `ManualClock`.

#[path = "support/harness.rs"]
mod harness;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use harness::*;
use serde_json::{json, Value};

const MINUTE: i64 = 60_000;

/// A JSON POST as if from `ip` (what the real server's connect info gives).
async fn post_from(
    h: &Harness,
    ip: &str,
    uri: &str,
    body: Value,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let addr: SocketAddr = format!("{ip}:40000").parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(addr));
    let (status, headers, bytes) = h.send(request).await;
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, headers, value)
}

fn with_password(email: &str, password: &str) -> Value {
    let mut body = sign_up_body(email);
    body["password"] = json!(password);
    body
}

#[tokio::test]
async fn passwords_need_eight_characters_and_must_not_be_common() {
    let h = Harness::new();
    let (status, body) = h.sign_up(with_password("a@example.com", "7 chars")).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_input");
    assert_eq!(message(&body), "password: must be at least 8 characters");
    // Eight characters, no composition rules.
    let (status, body) = h.sign_up(with_password("b@example.com", "tz8qlwvn")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Long ones are welcome, up to 1024 characters.
    let long = "a long passphrase ".repeat(56);
    assert_eq!(long.chars().count(), 1008);
    let (status, body) = h.sign_up(with_password("c@example.com", &long)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = h
        .sign_up(with_password("d@example.com", &"x".repeat(1025)))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).starts_with("password:"), "{body}");
    // Common passwords are refused, whatever their case.
    for common in [
        "password123",
        "Qwerty123",
        "12345678",
        "iloveyou!",
        "Football2024",
    ] {
        let (status, body) = h.sign_up(with_password("e@example.com", common)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{common}");
        assert_eq!(code(&body), "invalid_input");
        assert!(
            message(&body).starts_with("password: is one of the most common passwords"),
            "{body}"
        );
    }
    // What the apps' and CLI's tests use passes.
    for fine in ["correct horse battery staple", "account password 123"] {
        let (status, body) = h
            .sign_up(with_password(&format!("{}@example.com", fine.len()), fine))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{fine}: {body}");
    }

    // The same rules for a password change…
    let ann = h.account("ann@example.com").await;
    let (status, body) = h
        .post(
            "/v1/account/password",
            &ann.access,
            json!({ "current_password": PASSWORD, "new_password": "letmein123" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        message(&body).starts_with("new_password: is one of the most common"),
        "{body}"
    );
    let (status, _) = h
        .post(
            "/v1/account/password",
            &ann.access,
            json!({ "current_password": PASSWORD, "new_password": "eight ch" }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // …and a reset.
    let (status, body) = h
        .post_public(
            "/v1/password-reset/confirm",
            json!({ "token": "0".repeat(64), "new_password": "sunshine1" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        message(&body).starts_with("new_password: is one of the most common"),
        "{body}"
    );
    // The reset form asks for 8 characters too.
    let (_, page) = h.page(Method::GET, "/v1/password-reset?token=abc").await;
    assert!(page.contains("minlength=\"8\""), "{page}");
}

#[tokio::test]
async fn sign_ups_from_one_address_are_limited_and_the_limit_slides_away() {
    let h = Harness::with(|config| config.sign_ups_per_ip = 3);
    for n in 0..3 {
        let (status, _, body) = post_from(
            &h,
            "10.0.0.1",
            "/v1/accounts",
            sign_up_body(&format!("u{n}@example.com")),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        h.clock.advance_ms(10 * MINUTE);
    }
    // A malformed request is answered as before and not counted.
    let (status, _, _) = post_from(
        &h,
        "10.0.0.1",
        "/v1/accounts",
        with_password("x@example.com", "short"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Now minute 30; the first sign-up (minute 0) leaves the window at minute 60.
    let (status, headers, body) = post_from(
        &h,
        "10.0.0.1",
        "/v1/accounts",
        sign_up_body("u3@example.com"),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(code(&body), "too_many_attempts");
    assert_eq!(headers["retry-after"], "1800");
    assert_eq!(body["error"]["retry_after"], 1800);
    assert!(
        message(&body).contains("accounts were created from this address"),
        "{body}"
    );
    // Another address is not affected.
    let (status, _, _) = post_from(
        &h,
        "10.0.0.2",
        "/v1/accounts",
        sign_up_body("v@example.com"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // Trying again and again does not extend it: at minute 60 one more fits.
    for _ in 0..5 {
        h.clock.advance_ms(5 * MINUTE);
        let (status, _, _) = post_from(
            &h,
            "10.0.0.1",
            "/v1/accounts",
            sign_up_body("u3@example.com"),
        )
        .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    }
    h.clock.advance_ms(5 * MINUTE);
    let (status, _, body) = post_from(
        &h,
        "10.0.0.1",
        "/v1/accounts",
        sign_up_body("u3@example.com"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Nothing was kept of the refused ones beyond that account.
    assert_eq!(h.state.db.account_count().await.unwrap(), 5);
}

#[tokio::test]
async fn reset_mails_are_limited_per_email_and_per_address_without_locking_anyone_out() {
    let h = Harness::with(|config| config.password_resets_per_ip = 8);
    h.account("ann@example.com").await;
    let reset = |email: &str, ip: &str| {
        let email = email.to_owned();
        let ip = ip.to_owned();
        let h = &h;
        async move { post_from(h, &ip, "/v1/password-reset", json!({ "email": email })).await }
    };
    for n in 0..5 {
        let (status, _, body) = reset("ann@example.com", &format!("10.0.1.{n}")).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        h.clock.advance_ms(MINUTE);
    }
    // Five reset mails, besides the verification mail of the sign-up.
    h.mails_to("ann@example.com", 6).await;
    // The sixth within the hour, from anywhere, is refused: at minute 5, the
    // first (minute 0) leaves the window at minute 60.
    let (status, headers, body) = reset("ann@example.com", "10.0.2.1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(code(&body), "too_many_attempts");
    assert_eq!(headers["retry-after"], "3300");
    assert!(message(&body).contains("password reset"), "{body}");
    // An email without an account is limited the same way (the answer tells
    // nothing about which emails have accounts).
    for _ in 0..5 {
        assert_eq!(
            reset("ghost@example.com", "10.0.3.1").await.0,
            StatusCode::ACCEPTED
        );
    }
    assert_eq!(
        reset("ghost@example.com", "10.0.3.2").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Per address: 10.0.3.1 has asked 5 times; 3 more fit, then it is refused.
    for n in 0..3 {
        assert_eq!(
            reset(&format!("other{n}@example.com"), "10.0.3.1").await.0,
            StatusCode::ACCEPTED
        );
    }
    let (status, _, _) = reset("bob@example.com", "10.0.3.1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        reset("bob@example.com", "10.0.3.9").await.0,
        StatusCode::ACCEPTED
    );
    // Ann can ask again once the window has slid past her first request.
    h.clock.advance_ms(55 * MINUTE);
    assert_eq!(
        reset("ann@example.com", "10.0.2.1").await.0,
        StatusCode::ACCEPTED
    );
    h.mails_to("ann@example.com", 7).await;
    // Only those six reset mails went to her.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let resets = h
        .mails_to("ann@example.com", 7)
        .await
        .into_iter()
        .filter(|m| header_value(m, "Subject").is_some_and(|s| s.contains("Reset")))
        .count();
    assert_eq!(resets, 6);
    // Sign-in is unaffected by reset requests.
    assert_eq!(
        h.sign_in("ann@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
}
