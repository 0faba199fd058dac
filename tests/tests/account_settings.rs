//! The account promises through the agent, against a real service on
//! loopback: profile, password, sessions, communication preferences, the
//! privacy policy, export, deletion and restoring a deleted account, and
//! silent token renewal.

use std::path::Path;
use std::sync::Arc;

use coffer_client::{
    Agent, AgentOptions, CommunicationPreferences, ErrorKind, KeyMode, PasswordChange, PostalAddress, ProfileUpdate,
    SignInRequest, SignUpRequest,
};
use coffer_server::ManualClock;
use coffer_testkit::{TestServer, TestServerOptions};

const PASSWORD: &str = "correct horse battery staple";

fn agent(dir: &Path) -> Agent {
    let mut options = AgentOptions::new(dir);
    options.use_keychain = false;
    Agent::open(&options).expect("agent opens")
}

fn signed_up(server: &TestServer, dir: &Path, email: &str) -> Agent {
    let agent = agent(dir);
    agent
        .sign_up(&SignUpRequest {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: email.into(),
            password: PASSWORD.into(),
            confirm_age: true,
            server_url: Some(server.url.clone()),
            key_mode: KeyMode::Default,
            private_key: None,
        })
        .expect("sign-up succeeds");
    agent
}

fn signed_in(server: &TestServer, dir: &Path, email: &str, password: &str) -> Agent {
    let agent = agent(dir);
    agent
        .sign_in(&SignInRequest { email: email.into(), password: password.into(), server_url: Some(server.url.clone()), totp_code: None })
        .expect("sign-in succeeds");
    agent
}

#[test]
fn the_profile_can_be_viewed_corrected_and_amended() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let agent = signed_up(&server, &home.path().join("a"), "profile@example.com");

    let profile = agent.profile().unwrap();
    assert_eq!((profile.first_name.as_str(), profile.email.as_str()), ("Ada", "profile@example.com"));
    assert_eq!(profile.postal_address, None);

    let address = PostalAddress { line1: "12 Analytical Row".into(), city: "London".into(), postal_code: "N1".into(), country: "GB".into(), ..Default::default() };
    let profile = agent
        .update_profile(&ProfileUpdate { first_name: Some(" Augusta ".into()), last_name: None, email: None, postal_address: Some(address.clone()) })
        .unwrap();
    assert_eq!(profile.first_name, "Augusta", "trimmed");
    assert_eq!(profile.postal_address, Some(address));
    assert_eq!(agent.status().account.unwrap().first_name, "Augusta", "the app's cached name follows");

    // A new email waits for its verification link.
    let profile = agent
        .update_profile(&ProfileUpdate { first_name: None, last_name: None, email: Some("new@example.com".into()), postal_address: None })
        .unwrap();
    assert_eq!(profile.email, "profile@example.com");
    assert_eq!(profile.pending_email.as_deref(), Some("new@example.com"));

    // Removing the address: an empty one.
    let profile = agent
        .update_profile(&ProfileUpdate { first_name: None, last_name: None, email: None, postal_address: Some(PostalAddress::default()) })
        .unwrap();
    assert_eq!(profile.postal_address, None);

    let err = agent
        .update_profile(&ProfileUpdate { first_name: Some(" ".into()), last_name: None, email: None, postal_address: None })
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    assert_eq!(agent.profile().unwrap().first_name, "Augusta", "a refused change changes nothing");
}

#[test]
fn sessions_are_listed_revoked_and_ended_by_a_password_change() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let laptop = signed_up(&server, &home.path().join("laptop"), "sessions@example.com");
    let desktop = signed_in(&server, &home.path().join("desktop"), "sessions@example.com", PASSWORD);

    let sessions = laptop.sessions().unwrap();
    let active: Vec<_> = sessions.iter().filter(|s| s.active).collect();
    assert_eq!(active.len(), 2, "{sessions:?}");
    assert_eq!(sessions.iter().filter(|s| s.current).count(), 1);
    assert!(sessions.iter().all(|s| !s.ip.is_empty() && s.started_at > 0 && s.requests > 0));

    let other = active.iter().find(|s| !s.current).unwrap().id.clone();
    laptop.revoke_session(&other).unwrap();
    assert_eq!(desktop.snapshots().unwrap_err().kind, ErrorKind::Unauthorized, "a revoked session fails at once");

    let desktop = signed_in(&server, &home.path().join("desktop"), "sessions@example.com", PASSWORD);
    let err = laptop.change_password(&PasswordChange { current_password: "wrong password!!".into(), new_password: "a new long passphrase".into() }).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidCredentials);
    laptop.change_password(&PasswordChange { current_password: PASSWORD.into(), new_password: "a new long passphrase".into() }).unwrap();
    assert!(laptop.snapshots().is_ok(), "this session goes on");
    assert_eq!(desktop.snapshots().unwrap_err().kind, ErrorKind::Unauthorized, "every other session ended");

    let activity = laptop.activity().unwrap();
    assert!(activity.sessions.len() >= 3, "ended sessions stay visible as records");
    assert!(activity.sessions.iter().any(|s| s.ended_at.is_some()));

    laptop.sign_out_everywhere().unwrap();
    assert_eq!(laptop.snapshots().unwrap_err().kind, ErrorKind::NotSignedIn);
    signed_in(&server, &home.path().join("again"), "sessions@example.com", "a new long passphrase");
}

#[test]
fn communication_is_opt_in_and_the_policy_is_shown_and_accepted() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let agent = signed_up(&server, home.path(), "prefs@example.com");

    let prefs = agent.preferences().unwrap();
    assert_eq!(
        prefs,
        CommunicationPreferences { product_announcements: false, software_updates: false, surveys_research: false, newsletter: false, operational_alerts: true },
        "off until the person turns them on; operational alerts on"
    );
    let wanted = CommunicationPreferences { newsletter: true, operational_alerts: false, ..prefs };
    assert_eq!(agent.set_preferences(&wanted).unwrap(), wanted);
    assert_eq!(agent.preferences().unwrap(), wanted);

    assert_eq!(agent.policy().unwrap_err().kind, ErrorKind::NotFound, "no policy published yet");
    publish_policy(&server, "2026-11", "# Privacy\nWe keep your files private.");
    let policy = agent.policy().unwrap();
    assert_eq!(policy.version, "2026-11");
    assert!(policy.text.contains("We keep your files private."));
    assert_eq!(policy.accepted_version, None);
    let policy = agent.accept_policy("2026-11").unwrap();
    assert_eq!(policy.accepted_version.as_deref(), Some("2026-11"));
    assert!(policy.accepted_at.is_some());
    assert_eq!(agent.accept_policy("1999-01").unwrap_err().kind, ErrorKind::InvalidInput);
}

fn publish_policy(server: &TestServer, version: &str, text: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let state = coffer_server::AppState::open(&server.config()).unwrap();
        coffer_server::operator::publish_policy(&state, version, text).await.unwrap();
    });
}

#[test]
fn export_holds_what_the_service_keeps_and_deletion_stops_access() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let agent = signed_up(&server, &home.path().join("agent"), "leaving@example.com");

    let target = home.path().join("my-coffer-data.json");
    let export = agent.export_data(target.to_str().unwrap()).unwrap();
    assert_eq!(export.bytes, std::fs::metadata(&target).unwrap().len());
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&target).unwrap()).unwrap();
    assert_eq!(json["account"]["email"], "leaving@example.com");
    assert!(json["sessions"].as_array().is_some_and(|s| !s.is_empty()));
    assert!(json["preferences"].is_object());
    assert_eq!(agent.export_data("relative.json").unwrap_err().kind, ErrorKind::InvalidInput);

    let err = agent.delete_account("not my password", false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidCredentials);
    assert!(agent.profile().is_ok(), "a wrong password deletes nothing");

    let scheduled = agent.delete_account(PASSWORD, false).unwrap();
    let ten_business_days = 14 * 24 * 3600 * 1000;
    assert!(scheduled.purge_at >= coffer_server::now_ms() + ten_business_days - 24 * 3600 * 1000, "about two weeks away");
    assert!(!agent.status().signed_in, "this device is signed out at once");
    let err = agent
        .sign_in(&SignInRequest { email: "leaving@example.com".into(), password: PASSWORD.into(), server_url: None, totp_code: None })
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::AccountDeleted);
    assert!(err.message.contains("deletion"), "{}", err.message);
}

const MONTHS: [&str; 12] =
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/// The UTC calendar day (year, month 1–12, day) of Unix milliseconds (H. Hinnant's civil_from_days).
fn utc_date(ms: i64) -> (i64, usize, i64) {
    let z = ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month as usize, day)
}

#[test]
fn a_deleted_account_says_until_when_and_is_restored_by_signing_in_again() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let agent = signed_up(&server, &home.path().join("agent"), "back@example.com");
    let scheduled = agent.delete_account(PASSWORD, false).unwrap();
    let request = |password: &str| SignInRequest {
        email: "back@example.com".into(),
        password: password.into(),
        server_url: Some(server.url.clone()),
        totp_code: None,
    };

    // Signing in says when the files go, as a day a person reads, without the service's API route.
    let err = agent.sign_in(&request(PASSWORD)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::AccountDeleted);
    let (year, month, day) = utc_date(scheduled.purge_at);
    assert!(err.message.contains(&format!("{} {day}, {year}", MONTHS[month - 1])), "{}", err.message);
    assert!(!err.message.contains("/v1/") && !err.message.contains(&format!("{year}-{month:02}-{day:02}")), "{}", err.message);

    // A wrong password restores nothing.
    assert_eq!(agent.restore_account(&request("not my password")).unwrap_err().kind, ErrorKind::InvalidCredentials);
    assert_eq!(agent.sign_in(&request(PASSWORD)).unwrap_err().kind, ErrorKind::AccountDeleted, "still scheduled");

    // Restoring cancels the deletion and signs this device in; the account works again.
    let account = agent.restore_account(&request(PASSWORD)).unwrap();
    assert_eq!(account.email, "back@example.com");
    assert!(agent.status().signed_in);
    assert_eq!(agent.profile().unwrap().email, "back@example.com");
    agent.sign_out().unwrap();
    agent.sign_in(&request(PASSWORD)).expect("an ordinary sign-in works again");
}

#[test]
fn an_expired_access_token_is_renewed_without_the_person_noticing() {
    let clock = Arc::new(ManualClock::new(coffer_server::now_ms()));
    let server = TestServer::start_with(TestServerOptions { clock: Some(clock.clone()), access_token_ttl_secs: Some(60), ..Default::default() });
    let home = tempfile::tempdir().unwrap();
    let agent = signed_up(&server, home.path(), "renew@example.com");
    assert!(agent.snapshots().unwrap().is_empty());

    clock.advance_ms(2 * 3600 * 1000);
    assert!(agent.snapshots().unwrap().is_empty(), "the refresh token renewed the session");
    clock.advance_ms(2 * 3600 * 1000);
    assert!(agent.profile().is_ok(), "and the renewed refresh token was kept for next time");
}

#[test]
fn two_factor_sign_in_asks_for_a_code() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let agent = signed_up(&server, &home.path().join("a"), "totp@example.com");
    let setup = agent.totp_setup().unwrap();
    assert!(setup.otpauth_url.starts_with("otpauth://totp/"));
    assert_eq!(agent.totp_enable("000000").unwrap_err().kind, ErrorKind::InvalidInput, "a wrong first code is refused");
    let code = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, totp_rs::Secret::Encoded(setup.secret.clone()).to_bytes().unwrap(), None, "totp@example.com".into())
        .unwrap()
        .generate_current()
        .unwrap();
    let recovery = agent.totp_enable(&code).unwrap();
    assert_eq!(recovery.len(), 10);

    let other = agent_at(&home.path().join("b"));
    let request = |totp_code: Option<String>| SignInRequest {
        email: "totp@example.com".into(),
        password: PASSWORD.into(),
        server_url: Some(server.url.clone()),
        totp_code,
    };
    assert_eq!(other.sign_in(&request(None)).unwrap_err().kind, ErrorKind::TotpRequired);
    other.sign_in(&request(Some(recovery[0].clone()))).expect("a recovery code signs in once");
    let third = agent_at(&home.path().join("c"));
    assert!(third.sign_in(&request(Some(recovery[0].clone()))).is_err(), "and only once");
}

fn agent_at(dir: &Path) -> Agent {
    agent(dir)
}

#[test]
fn a_forgotten_password_is_reset_by_mail_without_touching_the_key() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let agent = signed_up(&server, home.path(), "forgot@example.com");
    agent.request_password_reset("forgot@example.com", None).unwrap();
    agent.request_password_reset("nobody@example.com", None).expect("never says whether an account exists");
    assert_eq!(agent.request_password_reset(" ", None).unwrap_err().kind, ErrorKind::InvalidInput);
    // The service mails after answering (so the answer's timing reveals nothing): wait for it.
    let outbox = server.data_dir.join("outbox");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mailed = loop {
        let mails: Vec<String> = std::fs::read_dir(&outbox)
            .map(|dir| dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).collect())
            .unwrap_or_default();
        if mails.iter().any(|m| m.contains("forgot@example.com") && m.contains("/v1/password-reset?token=")) {
            break true;
        }
        if std::time::Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(mailed, "a reset link was mailed");
}
