//! Mail end to end: a real service sends through SMTP to the test sink on
//! 127.0.0.1, and the tests follow the links in the mail as a person would.

use coffer_testkit::{MailSink, TestServer, TestServerOptions, TEST_PASSWORD};
use reqwest::blocking::Client;
use serde_json::{json, Value};

fn server_with_sink() -> (TestServer, MailSink) {
    let sink = MailSink::start();
    let server = TestServer::start_with(TestServerOptions {
        smtp_url: Some(sink.smtp_url()),
        ..TestServerOptions::default()
    });
    (server, sink)
}

fn account(server: &TestServer, token: &str) -> Value {
    Client::new()
        .get(server.url("/v1/account"))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

#[test]
fn sign_up_verification_link_arrives_by_smtp_and_confirms_the_email() {
    let (server, sink) = server_with_sink();
    let ann = server.sign_up("verify");
    assert_eq!(account(&server, &ann.token)["email_verified"], false);
    let mail = sink.wait_for(&ann.email, 1).remove(0);
    assert!(mail
        .header("Subject")
        .unwrap()
        .contains("Confirm your email"));
    assert!(mail
        .header("From")
        .unwrap()
        .contains("no-reply@coffer.localhost"));
    let link = mail
        .link_containing("/v1/verify-email?token=")
        .expect("a verification link");
    assert!(link.starts_with(&server.url), "{link}");
    let page = reqwest::blocking::get(&link).unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().unwrap().contains("confirmed"));
    assert_eq!(account(&server, &ann.token)["email_verified"], true);
    // Once only.
    assert_eq!(
        reqwest::blocking::get(&link).unwrap().status().as_u16(),
        400
    );
}

#[test]
fn a_forgotten_password_is_reset_through_the_mailed_link() {
    let (server, sink) = server_with_sink();
    let ann = server.sign_up("reset");
    let client = Client::new();
    for email in [ann.email.as_str(), "nobody-here@example.com"] {
        let response = client
            .post(server.url("/v1/password-reset"))
            .json(&json!({ "email": email }))
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 202);
    }
    let mail = sink.wait_for(&ann.email, 2).remove(1);
    let link = mail
        .link_containing("/v1/password-reset?token=")
        .expect("a reset link");
    // The link opens a form…
    let form = reqwest::blocking::get(&link).unwrap().text().unwrap();
    assert!(form.contains("new_password"), "{form}");
    // …which posts the token and the new password.
    let token = link.split("token=").nth(1).unwrap();
    let response = client
        .post(server.url("/v1/password-reset/confirm"))
        .form(&[("token", token), ("new_password", "a fresh passphrase")])
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    // Every session ended; the new password signs in, the old one does not.
    let response = client
        .get(server.url("/v1/account"))
        .bearer_auth(&ann.token)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    server.sign_in(&ann.email, "a fresh passphrase");
    let response = client
        .post(server.url("/v1/sessions"))
        .json(&json!({ "email": ann.email, "password": TEST_PASSWORD }))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert!(sink
        .mails()
        .iter()
        .all(|m| !m.to.iter().any(|t| t == "nobody-here@example.com")));
}

#[test]
fn category_mail_carries_one_click_unsubscribe_that_works_without_signing_in() {
    let (server, sink) = server_with_sink();
    let ann = server.sign_up("news");
    let bob = server.sign_up("nonews");
    let client = Client::new();
    let response = client
        .put(server.url("/v1/account/preferences"))
        .bearer_auth(&ann.token)
        .json(&json!({ "newsletter": true }))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    // The operator's command, run against the same data folder and SMTP server.
    let mut config = server.config();
    config.smtp_url = Some(sink.smtp_url());
    let state = coffer_server::AppState::open(&config).unwrap();
    let report = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(coffer_server::operator::send_category_mail(
            &state,
            "newsletter",
            "Coffer news",
            "What is new.",
        ))
        .unwrap();
    assert_eq!(report.sent, 1);

    let mail = sink
        .wait_for(&ann.email, 2)
        .into_iter()
        .find(|m| m.header("Subject").as_deref() == Some("Coffer news"))
        .unwrap();
    assert!(sink.mails().iter().all(
        |m| m.header("Subject").as_deref() != Some("Coffer news") || !m.to.contains(&bob.email)
    ));
    assert_eq!(
        mail.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let header = mail.header("List-Unsubscribe").unwrap();
    let url = header
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    assert_eq!(
        mail.link_containing("/v1/unsubscribe?token=").as_deref(),
        Some(url.as_str())
    );

    // What a mail client does for one-click unsubscribe (RFC 8058).
    let response = client
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let prefs: Value = client
        .get(server.url("/v1/account/preferences"))
        .bearer_auth(&ann.token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(prefs["newsletter"], false);
    assert_eq!(prefs["operational_alerts"], true);
}
