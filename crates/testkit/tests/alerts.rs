//! Operational alerts end to end: a real service with a controlled clock
//! mails "No backup for N days" and "Storage almost full" through SMTP, once
//! per condition, honouring the person's opt-out.

use std::sync::Arc;

use coffer_server::ManualClock;
use coffer_testkit::{MailSink, ReceivedMail, TestAccount, TestServer, TestServerOptions};
use reqwest::blocking::Client;
use serde_json::json;

const DAY: i64 = 86_400_000;
/// Monday 2025-01-06 12:00 UTC.
const MONDAY_NOON: i64 = 1_736_164_800_000;

struct Setup {
    server: TestServer,
    sink: MailSink,
    clock: ManualClock,
}

fn setup() -> Setup {
    let sink = MailSink::start();
    let clock = ManualClock::new(MONDAY_NOON);
    let server = TestServer::start_with(TestServerOptions {
        smtp_url: Some(sink.smtp_url()),
        clock: Some(Arc::new(clock.clone())),
        quota_bytes: Some(1000),
        // Tokens outlive the weeks the clock is moved on.
        access_token_ttl_secs: Some(400 * 86_400),
        job_interval_secs: Some(0),
        alert_no_backup_days: None,
        ..TestServerOptions::default()
    });
    Setup {
        server,
        sink,
        clock,
    }
}

impl Setup {
    /// The alert mails `account` got (everything but the verification mail).
    fn alerts(&self, account: &TestAccount) -> Vec<ReceivedMail> {
        self.sink
            .mails()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(&account.email)))
            .filter(|m| !m.header("Subject").unwrap_or_default().contains("Confirm"))
            .collect()
    }

    fn put(&self, account: &TestAccount, kind: &str, bytes: &[u8]) -> String {
        let id = blake3::hash(bytes).to_hex().to_string();
        let status = Client::new()
            .put(self.server.url(&format!("/v1/repo/{kind}/{id}")))
            .bearer_auth(&account.token)
            .body(bytes.to_vec())
            .send()
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 201);
        id
    }

    /// Deletes as the person does: a fresh confirmation with the password
    /// first (held deletions free their space at once).
    fn delete(&self, account: &TestAccount, kind: &str, id: &str) {
        let confirmed: serde_json::Value = Client::new()
            .post(self.server.url("/v1/auth/confirm"))
            .bearer_auth(&account.token)
            .json(&json!({ "password": account.password }))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let grant = confirmed["confirmation"].as_str().expect("a deletion grant");
        let (status, body) = self.server.delete_object(&account.token, kind, id, Some(grant));
        assert_eq!(status, 204, "{body}");
    }
}

fn subject(mail: &ReceivedMail) -> String {
    mail.header("Subject").unwrap_or_default()
}

#[test]
fn no_backup_alert_is_mailed_once_per_absence_and_only_to_those_who_want_it() {
    let s = setup();
    let ann = s.server.sign_up("alert-ann");
    let bob = s.server.sign_up("alert-bob");
    let status = Client::new()
        .put(s.server.url("/v1/account/preferences"))
        .bearer_auth(&bob.token)
        .json(&json!({ "operational_alerts": false }))
        .send()
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 200);
    s.sink.wait_for(&ann.email, 1);
    s.put(&ann, "snapshots", b"snapshot 1");

    s.clock.advance_ms(6 * DAY);
    assert_eq!(s.server.run_jobs().alerts_sent, 0);
    assert!(s.alerts(&ann).is_empty());

    s.clock.advance_ms(2 * DAY);
    assert_eq!(
        s.server.run_jobs().alerts_sent,
        1,
        "ann only: bob opted out"
    );
    let alerts = s.alerts(&ann);
    assert_eq!(alerts.len(), 1);
    let mail = &alerts[0];
    assert_eq!(subject(mail), "No backup for 8 days");
    assert!(mail.body().contains("2025-01-06"), "{}", mail.body());
    // Non-essential mail: one-click unsubscribe, in the headers and the body.
    let unsubscribe = mail.header("List-Unsubscribe").expect("List-Unsubscribe");
    assert!(
        unsubscribe.contains("/v1/unsubscribe?token="),
        "{unsubscribe}"
    );
    assert_eq!(
        mail.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(mail.link_containing("/v1/unsubscribe?token=").is_some());
    assert!(s.alerts(&bob).is_empty());

    // Still no backup: no second mail for the same absence.
    s.clock.advance_ms(3 * DAY);
    assert_eq!(s.server.run_jobs().alerts_sent, 0);
    assert_eq!(s.alerts(&ann).len(), 1);

    // A backup clears the condition; a new absence is a new alert.
    s.put(&ann, "snapshots", b"snapshot 2");
    assert_eq!(s.server.run_jobs().alerts_sent, 0);
    s.clock.advance_ms(7 * DAY);
    assert_eq!(s.server.run_jobs().alerts_sent, 1);
    let alerts = s.alerts(&ann);
    assert_eq!(alerts.len(), 2);
    assert_eq!(subject(&alerts[1]), "No backup for 7 days");

    // Unsubscribing by the link stops the category.
    let link = alerts[1].link_containing("/v1/unsubscribe?token=").unwrap();
    assert_eq!(
        Client::new().post(&link).send().unwrap().status().as_u16(),
        200
    );
    s.put(&ann, "snapshots", b"snapshot 3");
    s.server.run_jobs();
    s.clock.advance_ms(8 * DAY);
    assert_eq!(s.server.run_jobs().alerts_sent, 0);
    assert_eq!(s.alerts(&ann).len(), 2);
}

#[test]
fn never_backing_up_counts_from_sign_up() {
    let s = setup();
    let cy = s.server.sign_up("alert-cy");
    s.clock.advance_ms(7 * DAY);
    assert_eq!(s.server.run_jobs().alerts_sent, 1);
    let alerts = s.alerts(&cy);
    assert_eq!(subject(&alerts[0]), "No backup for 7 days");
    assert!(
        alerts[0]
            .body()
            .contains("since you signed up on 2025-01-06"),
        "{}",
        alerts[0].body()
    );
}

#[test]
fn storage_almost_full_is_mailed_at_ninety_percent_once_until_it_clears() {
    let s = setup();
    let dee = s.server.sign_up("alert-dee");
    s.put(&dee, "snapshots", b"snapshot");
    // 8 + 880 = 888 of 1000 bytes: below 90 %.
    let small = s.put(&dee, "packs", &[1u8; 880]);
    assert_eq!(s.server.run_jobs().alerts_sent, 0);
    // 8 + 880 + 20 = 908: at least 90 %.
    s.put(&dee, "packs", &[2u8; 20]);
    assert_eq!(s.server.run_jobs().alerts_sent, 1);
    let alerts = s.alerts(&dee);
    assert_eq!(alerts.len(), 1);
    assert_eq!(subject(&alerts[0]), "Storage almost full");
    assert!(
        alerts[0].body().contains("90 % full"),
        "{}",
        alerts[0].body()
    );
    assert!(alerts[0].header("List-Unsubscribe").is_some());
    assert_eq!(s.server.run_jobs().alerts_sent, 0);

    // Freeing space clears it; filling up again warns again.
    s.delete(&dee, "packs", &small);
    assert_eq!(s.server.run_jobs().alerts_sent, 0);
    s.put(&dee, "packs", &[3u8; 900]);
    assert_eq!(s.server.run_jobs().alerts_sent, 1);
    assert_eq!(s.alerts(&dee).len(), 2);
}
