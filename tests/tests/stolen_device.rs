//! History a stolen device cannot erase. A real service on 127.0.0.1:0 and a
//! real agent: with only what the device stores (its session), neither the
//! agent nor a raw HTTP client can delete backups; automatic cleanup waits
//! for the person instead of failing forever; once the person confirms with
//! their password, cleanup works, its deletions are held for 7 days, can be
//! put back (and restored from), and are purged only after the 7 days.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use coffer_client::{Agent, ErrorKind, RetentionSettings};
use coffer_server::{Clock, ManualClock};
use coffer_testkit::{MailSink, TestServer, TestServerOptions};

mod common;
use common::{agent, restore_request, sign_up};

const PASSWORD: &str = "correct horse battery staple";
const EMAIL: &str = "stolen@example.com";
const DAY_MS: i64 = 86_400_000;

fn restore_doc(agent: &Agent, snapshot_id: &str, into: &Path) -> String {
    agent.restore(&restore_request(snapshot_id, into), &mut |_| {}).unwrap();
    fs::read_to_string(into.join("Notes/doc.txt")).unwrap()
}

#[test]
fn a_stolen_device_cannot_erase_history_and_the_person_can_undo_a_cleanup() {
    let clock = ManualClock::new(coffer_server::now_ms());
    // Mail goes to a real SMTP server on 127.0.0.1.
    let sink = MailSink::start();
    let server = TestServer::start_with(TestServerOptions {
        clock: Some(Arc::new(clock.clone())),
        job_interval_secs: Some(0),
        smtp_url: Some(sink.smtp_url()),
        ..TestServerOptions::default()
    });
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("Notes");
    fs::create_dir(&data).unwrap();
    // Most data is shared by every version, so the cleanup is a small one.
    coffer_testkit::dataset::write_tree(&data.join("shared"), 3, 10, 50_000);
    let laptop = agent(&home.path().join("laptop"));
    sign_up(&laptop, &server, EMAIL, PASSWORD);
    laptop.add_folder(data.to_str().unwrap()).unwrap();
    for version in 0..3 {
        fs::write(data.join("doc.txt"), format!("version {version}")).unwrap();
        laptop.backup_now(&mut |_| {}).unwrap();
    }
    let oldest = laptop.snapshots().unwrap().last().unwrap().id.clone();
    let keep_one = RetentionSettings { keep_last: 1, keep_hourly: 0, keep_daily: 0, keep_weekly: 0, keep_monthly: 0, keep_yearly: 0, keep_within_days: None, automatic: true };
    laptop.set_retention(&keep_one).unwrap();

    // The thief has the laptop and its session, not the password.
    let err = laptop.apply_retention(false, false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::ConfirmationRequired, "{}", err.message);
    assert!(err.message.contains("password"), "says what to do: {}", err.message);
    assert_eq!(laptop.snapshots().unwrap().len(), 3, "nothing was forgotten");
    let preview = laptop.apply_retention(true, false).unwrap();
    assert_eq!(preview.removed.len(), 2, "a preview deletes nothing and needs no confirmation");
    // Going around the agent does not help: a session's token alone is refused.
    let session = server.sign_in(EMAIL, PASSWORD);
    let (status, body) = server.delete_object(&session, "snapshots", &oldest, None);
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("confirmation_required")), "{body}");
    let (status, _) = server.delete_object(&session, "snapshots", &oldest, Some("made-up"));
    assert_eq!(status, 403);
    assert_eq!(laptop.snapshots().unwrap().len(), 3);

    // Automatic cleanup does not fail forever: it records that it waits.
    assert!(laptop.apply_retention_if_due().unwrap().is_none());
    let waiting = laptop.cleanup_waiting().unwrap().expect("a cleanup is waiting for the person");
    assert_eq!(waiting.snapshots, 2);
    assert_eq!(laptop.snapshots().unwrap().len(), 3);

    // The person confirms (a wrong password does not count), and cleanup works.
    assert_eq!(laptop.confirm_identity("not my password", None).unwrap_err().kind, ErrorKind::InvalidCredentials);
    assert_eq!(laptop.apply_retention(false, false).unwrap_err().kind, ErrorKind::ConfirmationRequired);
    let confirmed = laptop.confirm_identity(PASSWORD, None).unwrap();
    assert!(confirmed.confirmed_until > coffer_server::now_ms() + 50 * 60 * 1000, "good for about an hour");
    let applied = laptop.apply_retention(false, false).unwrap();
    assert_eq!(applied.removed.len(), 2);
    assert_eq!(laptop.snapshots().unwrap().len(), 1);
    assert!(laptop.cleanup_waiting().unwrap().is_none(), "the waiting notice is gone");

    // What went is held for 7 days, from this device, and can be put back.
    let held = laptop.held_deletions().unwrap();
    assert_eq!(held.len(), 1, "one confirmation, one batch: {held:?}");
    assert_eq!(held[0].snapshots, 2);
    assert!(held[0].purge_at >= clock.now_ms() + 7 * DAY_MS - 60_000, "{held:?}");
    assert!(!held[0].device_name.is_empty());

    // The person is told by mail, once for the whole cleanup, with what to
    // do if it was not them.
    clock.advance_ms(2 * 60 * 1000);
    assert_eq!(server.run_jobs().deletion_mails_sent, 1);
    let mails = sink.wait_for(EMAIL, 2);
    let told: Vec<_> = mails.iter().filter(|m| m.header("Subject").unwrap_or_default().contains("deleted")).collect();
    assert_eq!(told.len(), 1, "one mail for one cleanup");
    let body = told[0].body();
    assert!(body.contains("2 backups") && body.contains("held for 7 days"), "{body}");
    assert!(body.contains("Put back") && body.contains("change your password"), "{body}");

    // Put back.
    assert!(laptop.cancel_held_deletion(&held[0].id).unwrap().is_empty());
    assert_eq!(laptop.snapshots().unwrap().len(), 3, "the forgotten backups are back");
    assert_eq!(restore_doc(&laptop, &oldest, &home.path().join("restored-oldest")), "version 0");
    let (report, text) = laptop.verify(true).unwrap();
    assert!(report.ok, "{text}");

    // Cleaned up again (the confirmation still holds), the deletions are
    // purged only once the 7 days are over.
    laptop.apply_retention(false, false).unwrap();
    assert_eq!(laptop.snapshots().unwrap().len(), 1);
    clock.advance_ms(7 * DAY_MS - 60 * 60 * 1000);
    assert_eq!(server.run_jobs().held_objects_purged, 0);
    assert_eq!(laptop.held_deletions().unwrap().len(), 1);
    clock.advance_ms(2 * 60 * 60 * 1000);
    assert!(server.run_jobs().held_objects_purged >= 2);
    assert!(laptop.held_deletions().unwrap().is_empty());
    let latest = laptop.snapshots().unwrap()[0].id.clone();
    assert_eq!(restore_doc(&laptop, &latest, &home.path().join("restored-latest")), "version 2");
    let (report, text) = laptop.verify(true).unwrap();
    assert!(report.ok, "what is kept is whole after the purge: {text}");
}
