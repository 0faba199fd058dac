//! Operational alerts, mailed by a background job in the
//! `operational_alerts` category (on unless the person turns it off):
//!
//! - "No backup for N days": no snapshot stored for `--alert-no-backup-days`
//!   (the last backup is the newest snapshot object, or sign-up if none);
//! - "Storage almost full": at least 90 % of the quota used.
//!
//! Each is mailed once per condition: the sent state is stored, and cleared
//! when the condition clears, so the alert is mailed again only if the
//! condition returns.

use crate::calendar::utc_day;
use crate::db::AlertSubject;
use crate::preferences::{category_mail, Category, CATEGORIES};
use crate::AppState;

/// The stored name of the "no backup for N days" alert.
pub const NO_BACKUP: &str = "no_backup";
/// The stored name of the "storage almost full" alert.
pub const STORAGE_ALMOST_FULL: &str = "storage_almost_full";
/// Storage use, in percent of the quota, from which an account is warned.
pub const STORAGE_ALERT_PERCENT: u64 = 90;
/// Days without a backup before the alert unless configured.
pub const DEFAULT_NO_BACKUP_DAYS: u64 = 7;

const DAY_MS: i64 = 86_400_000;

/// What one run of the alerts job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertReport {
    /// Alerts mailed.
    pub sent: u64,
    /// Alerts that could not be mailed (tried again next run).
    pub failed: u64,
    /// Alerts whose condition cleared (mailed again if it returns).
    pub cleared: u64,
}

fn alerts_category() -> Category {
    CATEGORIES
        .iter()
        .copied()
        .find(|c| c.name == "operational_alerts")
        .expect("operational_alerts is a category")
}

/// The alerts whose condition holds for `subject` now, with their mail.
fn conditions(
    state: &AppState,
    subject: &AlertSubject,
    now: i64,
) -> [(&'static str, Option<(String, String)>); 2] {
    let no_backup = state.settings.alert_no_backup_ms.and_then(|after_ms| {
        let since = subject.last_snapshot_at.unwrap_or(subject.created_at);
        (now.saturating_sub(since) >= after_ms).then(|| no_backup_mail(subject, now, since))
    });
    let storage = (subject.quota_bytes > 0
        && u128::from(subject.used_bytes) * 100
            >= u128::from(subject.quota_bytes) * u128::from(STORAGE_ALERT_PERCENT))
    .then(|| storage_mail(subject));
    [(NO_BACKUP, no_backup), (STORAGE_ALMOST_FULL, storage)]
}

fn no_backup_mail(subject: &AlertSubject, now: i64, since: i64) -> (String, String) {
    let days = (now - since) / DAY_MS;
    let last = match subject.last_snapshot_at {
        Some(at) => format!(
            "The last backup Coffer received from you was on {}.",
            utc_day(at)
        ),
        None => format!(
            "Coffer has not received a backup from you since you signed up on {}.",
            utc_day(subject.created_at)
        ),
    };
    (
        format!("No backup for {days} days"),
        format!(
            "Hello,\n\nCoffer has not stored a backup of your files for {days} days. {last}\n\n\
             If that is not what you expect, open the Coffer app on your computer: it shows \
             why backups are not running (the computer is off or asleep, the app is signed \
             out, or a folder is unavailable)."
        ),
    )
}

fn storage_mail(subject: &AlertSubject) -> (String, String) {
    let percent = u128::from(subject.used_bytes) * 100 / u128::from(subject.quota_bytes.max(1));
    (
        "Storage almost full".to_owned(),
        format!(
            "Hello,\n\nYour Coffer storage is {percent} % full: {} of {} used. When it is full, \
             new backups cannot be stored.\n\nTo make room, remove old backups you no longer \
             need in the Coffer app, or exclude large folders you do not need backed up.",
            human_bytes(subject.used_bytes),
            human_bytes(subject.quota_bytes)
        ),
    )
}

/// `1.5 GiB`, `300 MiB`, `12 KiB`, `10 bytes`.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// Mails the alerts whose condition holds and that were not mailed since
/// the condition began, and forgets the sent state of conditions that
/// cleared. Accounts scheduled for deletion are skipped.
///
/// # Errors
/// Database failures. A mail that cannot be sent is logged and counted in
/// `failed`, and tried again on the next run.
pub async fn send_due_alerts(state: &AppState) -> anyhow::Result<AlertReport> {
    let category = alerts_category();
    let now = state.now();
    let mut report = AlertReport::default();
    for subject in state.db.alert_subjects().await? {
        for (alert, mail) in conditions(state, &subject, now) {
            let was_sent = subject.alerts_sent.iter().any(|a| a == alert);
            match mail {
                None if was_sent => {
                    state
                        .db
                        .clear_alert(subject.account_id.clone(), alert)
                        .await?;
                    report.cleared += 1;
                }
                Some((title, body)) if !was_sent && subject.alerts_enabled => {
                    let mail = category_mail(
                        state,
                        &subject.account_id,
                        &subject.email,
                        category,
                        &title,
                        &body,
                    );
                    match state.mailer.send(mail).await {
                        Ok(()) => {
                            state
                                .db
                                .mark_alert_sent(subject.account_id.clone(), alert, now)
                                .await?;
                            report.sent += 1;
                            tracing::info!(account_id = subject.account_id, alert, "alert mailed");
                        }
                        Err(e) => {
                            report.failed += 1;
                            tracing::warn!(
                                account_id = subject.account_id,
                                alert,
                                error = format!("{e:#}"),
                                "alert not mailed"
                            );
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_bytes(10), "10 bytes");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(300 * 1024 * 1024), "300 MiB");
        assert_eq!(human_bytes(50 * 1024 * 1024 * 1024), "50 GiB");
    }
}
