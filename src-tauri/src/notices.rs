//! Desktop notifications: when a backup fails and when a restore finishes.
//!
//! [`NoticeGate::decide`] is the pure decision: a failing continuous backup
//! retries every minute, and the same failure is announced once (again after
//! [`REMIND_AFTER`]), not every minute; a different failure, or one after a
//! backup that worked, is announced at once. Restores are always announced.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use coffer_client::RestoreSummary;
use serde::Serialize;
use tauri::{AppHandle, Manager};

/// The same failure is announced again after this long.
pub const REMIND_AFTER: Duration = Duration::from_secs(60 * 60);
/// Notices kept for `diagnostics::notices`.
const KEPT: usize = 20;

/// Something that happened that may deserve a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeEvent {
    BackupFailed { message: String },
    BackupSucceeded,
    RestoreFinished { files: u64, target: String },
}

/// A notification to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub title: String,
    pub body: String,
}

/// Remembers the last failure announced.
#[derive(Debug, Default)]
pub struct NoticeGate {
    failure: Option<(String, Instant)>,
}

impl NoticeGate {
    /// Whether and what to announce for `event` happening at `now`.
    pub fn decide(&mut self, event: &NoticeEvent, now: Instant) -> Option<Notice> {
        match event {
            NoticeEvent::BackupSucceeded => {
                self.failure = None;
                None
            }
            NoticeEvent::BackupFailed { message } => {
                let repeat = self
                    .failure
                    .as_ref()
                    .is_some_and(|(last, at)| last == message && now.saturating_duration_since(*at) < REMIND_AFTER);
                if repeat {
                    return None;
                }
                self.failure = Some((message.clone(), now));
                Some(Notice { title: "Backup failed".into(), body: message.clone() })
            }
            NoticeEvent::RestoreFinished { files, target } => {
                let files = if *files == 1 { "1 file".to_owned() } else { format!("{files} files") };
                Some(Notice { title: "Restore finished".into(), body: format!("{files} restored into {target}") })
            }
        }
    }
}

/// A notice that was decided on, and whether the notification plugin took it.
#[derive(Debug, Clone, Serialize)]
pub struct SentNotice {
    #[serde(flatten)]
    pub notice: Notice,
    /// The plugin took it; it reaches the desktop's notification service in
    /// the background, and a failure there is not reported back.
    pub accepted: bool,
}

#[derive(Default)]
struct Notices {
    gate: Mutex<NoticeGate>,
    sent: Mutex<Vec<SentNotice>>,
}

pub fn install(app: &AppHandle) {
    app.manage(Notices::default());
}

/// Decides on `event` and shows the notification, if any.
pub fn announce(app: &AppHandle, event: NoticeEvent) {
    let Some(notices) = app.try_state::<Notices>() else { return };
    let Some(notice) = notices.gate.lock().expect("notice gate").decide(&event, Instant::now()) else { return };
    let accepted = show(app, &notice);
    let mut sent = notices.sent.lock().expect("sent notices");
    if sent.len() == KEPT {
        sent.remove(0);
    }
    sent.push(SentNotice { notice, accepted });
}

pub fn backup_failed(app: &AppHandle, message: &str) {
    announce(app, NoticeEvent::BackupFailed { message: message.to_owned() });
}

pub fn backup_succeeded(app: &AppHandle) {
    announce(app, NoticeEvent::BackupSucceeded);
}

pub fn restore_finished(app: &AppHandle, summary: &RestoreSummary) {
    announce(app, NoticeEvent::RestoreFinished { files: summary.files, target: summary.target.clone() });
}

/// The notices decided on so far, oldest first.
pub fn sent(app: &AppHandle) -> Vec<SentNotice> {
    app.try_state::<Notices>().map(|n| n.sent.lock().expect("sent notices").clone()).unwrap_or_default()
}

/// Hands a desktop notification to the plugin; a refusal is only logged.
fn show(app: &AppHandle, notice: &Notice) -> bool {
    use tauri_plugin_notification::NotificationExt;
    match app.notification().builder().title(&notice.title).body(&notice.body).show() {
        Ok(()) => true,
        Err(err) => {
            tracing::info!("no desktop notification shown ({}): {err}", notice.title);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(message: &str) -> NoticeEvent {
        NoticeEvent::BackupFailed { message: message.into() }
    }

    #[test]
    fn the_same_failure_is_announced_once_an_hour() {
        let mut gate = NoticeGate::default();
        let t0 = Instant::now();
        let first = gate.decide(&failed("the service is unreachable"), t0);
        assert_eq!(first, Some(Notice { title: "Backup failed".into(), body: "the service is unreachable".into() }));
        assert_eq!(gate.decide(&failed("the service is unreachable"), t0 + Duration::from_secs(60)), None, "the retry a minute later");
        assert_eq!(gate.decide(&failed("the service is unreachable"), t0 + REMIND_AFTER - Duration::from_secs(1)), None);
        assert!(gate.decide(&failed("the service is unreachable"), t0 + REMIND_AFTER).is_some(), "a reminder after an hour");
    }

    #[test]
    fn a_new_failure_or_one_after_a_success_is_announced() {
        let mut gate = NoticeGate::default();
        let t0 = Instant::now();
        assert!(gate.decide(&failed("the service is unreachable"), t0).is_some());
        assert!(gate.decide(&failed("your storage is full"), t0 + Duration::from_secs(5)).is_some(), "another reason");
        assert_eq!(gate.decide(&NoticeEvent::BackupSucceeded, t0 + Duration::from_secs(6)), None, "success is quiet");
        assert!(gate.decide(&failed("your storage is full"), t0 + Duration::from_secs(7)).is_some(), "it broke again");
    }

    #[test]
    fn every_finished_restore_is_announced() {
        let mut gate = NoticeGate::default();
        let t0 = Instant::now();
        let one = NoticeEvent::RestoreFinished { files: 1, target: "/home/ada/Restored".into() };
        let expected = Some(Notice { title: "Restore finished".into(), body: "1 file restored into /home/ada/Restored".into() });
        assert_eq!(gate.decide(&one, t0), expected);
        assert_eq!(gate.decide(&one, t0), expected, "the same restore again is announced again");
        let many = gate.decide(&NoticeEvent::RestoreFinished { files: 12, target: "/tmp/x".into() }, t0).unwrap();
        assert_eq!(many.body, "12 files restored into /tmp/x");
    }
}
