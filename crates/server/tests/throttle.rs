//! Sign-in throttling: repeated wrong passwords for one email, or from one
//! address, are refused with `429 too_many_attempts` and `Retry-After`, and
//! the refusal lifts by itself.

#[path = "support/harness.rs"]
mod harness;

use axum::http::{Method, StatusCode};
use harness::*;
use serde_json::json;

const MINUTE: i64 = 60_000;

#[tokio::test]
async fn ten_wrong_passwords_for_an_email_lock_it_for_fifteen_minutes_then_it_lifts() {
    let h = Harness::new();
    h.account("ann@example.com").await;
    h.account("bob@example.com").await;
    for i in 0..10 {
        let (status, body) = h.sign_in("ann@example.com", "wrong password!").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}: {body}");
        assert_eq!(code(&body), "invalid_credentials");
        h.clock.advance_ms(MINUTE);
    }
    // Even the right password is refused now, without being checked.
    let (status, headers, body) = h
        .json_with_headers(
            Method::POST,
            "/v1/sessions",
            None,
            Some(json!({ "email": "ann@example.com", "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(code(&body), "too_many_attempts");
    // The first failure (minute 0) leaves the window at minute 15; now is minute 10.
    assert_eq!(headers["retry-after"], "300");
    assert_eq!(body["error"]["retry_after"], 300);
    // Restoring a deletion checks the same password: refused too.
    let (status, _) = h
        .post_public(
            "/v1/account/restore-deletion",
            json!({ "email": "ann@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Other people are not affected.
    assert_eq!(
        h.sign_in("bob@example.com", PASSWORD).await.0,
        StatusCode::OK
    );

    // Refused attempts do not extend the lock: it lifts when the window passes.
    h.clock.advance_ms(5 * MINUTE - 1000);
    assert_eq!(
        h.sign_in("ann@example.com", PASSWORD).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    h.clock.advance_ms(1000);
    assert_eq!(
        h.sign_in("ann@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_correct_sign_in_forgets_earlier_mistakes() {
    let h = Harness::new();
    h.account("ann@example.com").await;
    for _ in 0..9 {
        h.sign_in("ann@example.com", "wrong password!").await;
    }
    assert_eq!(
        h.sign_in("ann@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
    for _ in 0..9 {
        h.sign_in("ann@example.com", "wrong password!").await;
    }
    assert_eq!(
        h.sign_in("ann@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn unknown_emails_are_counted_like_known_ones() {
    let h = Harness::with(|c| c.sign_in_max_failures_per_email = 2);
    for _ in 0..2 {
        assert_eq!(
            h.sign_in("nobody@example.com", "whatever it is").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        h.sign_in("nobody@example.com", "whatever it is").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn many_wrong_passwords_from_one_address_are_refused_over_a_real_socket() {
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        coffer_server::Config::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
    config.job_interval_secs = 0;
    config.sign_in_max_failures_per_email = 0;
    config.sign_in_max_failures_per_ip = 3;
    let server = coffer_server::start(config).await.unwrap();
    let client = reqwest::Client::new();
    let attempt = |n: usize| {
        client
            .post(format!("{}/v1/sessions", server.url()))
            .json(&json!({ "email": format!("guess{n}@example.com"), "password": "not it at all" }))
            .send()
    };
    for n in 0..3 {
        assert_eq!(attempt(n).await.unwrap().status().as_u16(), 401);
    }
    let refused = attempt(3).await.unwrap();
    assert_eq!(refused.status().as_u16(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    server.stop().await.unwrap();
}
