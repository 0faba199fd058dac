//! Versions and retention: which backups to keep (a user setting), and
//! forgetting the rest, then pruning data no kept backup needs. Prune uses
//! the engine's two-phase protocol, so it is safe while another device of
//! the account is backing up.

use std::time::Duration;

use coffer_engine::{Backend, FileKind, ForgetPlan, PruneOptions, RetentionPolicy};

use crate::agent::{keys, now_ms, Agent};
use crate::error::{Error, ErrorKind, Result};
use crate::types::{CleanupWaiting, RetentionOutcome, RetentionSettings, SnapshotInfo};

impl Default for RetentionSettings {
    /// Hourly for a day, daily for a month, weekly for two months, monthly
    /// for a year, yearly for three; never less than the last 10.
    fn default() -> Self {
        RetentionSettings {
            keep_last: 10,
            keep_hourly: 24,
            keep_daily: 30,
            keep_weekly: 8,
            keep_monthly: 12,
            keep_yearly: 3,
            keep_within_days: None,
            automatic: true,
        }
    }
}

fn policy(settings: &RetentionSettings) -> RetentionPolicy {
    RetentionPolicy {
        keep_last: settings.keep_last,
        keep_hourly: settings.keep_hourly,
        keep_daily: settings.keep_daily,
        keep_weekly: settings.keep_weekly,
        keep_monthly: settings.keep_monthly,
        keep_yearly: settings.keep_yearly,
        keep_within: settings.keep_within_days.map(|d| Duration::from_secs(u64::from(d) * 86_400)),
        utc_offset_minutes: chrono::Local::now().offset().local_minus_utc() / 60,
    }
}

/// Checks retention settings a person typed.
///
/// # Errors
/// `InvalidInput` when no rule keeps anything.
pub fn validate(settings: &RetentionSettings) -> Result<()> {
    let keeps_by_count = policy(&RetentionSettings { keep_within_days: None, ..settings.clone() }).is_empty();
    if keeps_by_count && settings.keep_within_days.unwrap_or(0) == 0 {
        return Err(Error::new(ErrorKind::InvalidInput, "keep_last: keep at least one backup (set any rule above zero)"));
    }
    Ok(())
}

/// Applying retention at most this often by itself.
const AUTOMATIC_EVERY_MS: i64 = 24 * 3600 * 1000;

impl Agent {
    pub fn retention(&self) -> Result<RetentionSettings> {
        Ok(self.load_setting(keys::RETENTION)?.unwrap_or_default())
    }

    /// Changes how many versions are kept (applied next time retention runs).
    ///
    /// # Errors
    /// `InvalidInput` when the rules would keep nothing.
    pub fn set_retention(&self, settings: &RetentionSettings) -> Result<RetentionSettings> {
        validate(settings)?;
        self.store_setting(keys::RETENTION, settings)?;
        Ok(settings.clone())
    }

    /// Applies the retention rules: forgets backups no rule keeps and prunes
    /// data no kept backup needs. With `preview`, only says what would go.
    /// A prune that would delete more than half the stored data is refused
    /// unless `confirm_large`. Deleting needs the person's confirmation
    /// ([`Agent::confirm_identity`]) first; a preview does not. Forgotten
    /// backups are held by the service for 7 days
    /// ([`Agent::held_deletions`]).
    ///
    /// # Errors
    /// `ConfirmationRequired` without a confirmation (nothing is deleted
    /// then); `Busy` while a backup or restore runs; `InvalidInput` for an
    /// implausibly large deletion without `confirm_large`; `Network`.
    pub fn apply_retention(&self, preview: bool, confirm_large: bool) -> Result<RetentionOutcome> {
        let settings = self.retention()?;
        validate(&settings)?;
        if !preview {
            self.require_confirmation()?;
        }
        let _guard = self.begin_exclusive("apply the retention rules")?;
        let mut repo = self.repository()?;
        let plan = coffer_engine::forget(&repo, &policy(&settings), now_ms())?;
        let removed = plan.remove.iter().map(|p| SnapshotInfo::from_plan(p, &repo)).collect::<Result<Vec<_>>>()?;
        let mut outcome = RetentionOutcome { kept: plan.keep.len() as u64, removed, bytes_freed: 0, bytes_waiting: 0 };
        if preview {
            return Ok(outcome);
        }
        // Keep the forgotten snapshots' bytes: if the prune refuses (too large
        // without confirmation), they are put back and nothing has changed.
        let saved = plan
            .remove
            .iter()
            .map(|p| Ok((p.id, repo.backend().get(FileKind::Snapshot, &p.id)?)))
            .collect::<Result<Vec<_>>>()?;
        apply(&plan, &repo)?;
        let report = match coffer_engine::prune(&mut repo, &PruneOptions { confirm_large, ..PruneOptions::default() }) {
            Ok(report) => report,
            Err(err) => {
                for (id, bytes) in &saved {
                    repo.backend().put(FileKind::Snapshot, id, bytes)?;
                }
                self.forget_reader();
                return Err(err.into());
            }
        };
        outcome.bytes_freed = report.bytes_deleted;
        outcome.bytes_waiting = report.bytes_condemned;
        self.forget_reader();
        self.catalog().set_setting(keys::RETENTION_APPLIED_AT, &now_ms().to_string())?;
        self.set_cleanup_waiting(None)?;
        Ok(outcome)
    }

    /// Applies retention if it is automatic and has not run for a day.
    /// Without the person's confirmation held (see
    /// [`Agent::confirm_identity`]) it deletes nothing: when the rules would
    /// forget backups it records that a cleanup is waiting
    /// ([`Agent::cleanup_waiting`]), so the app can ask, and looks again a
    /// day later. `Ok(None)` when nothing was applied.
    ///
    /// # Errors
    /// As [`Agent::apply_retention`], except `ConfirmationRequired`.
    pub fn apply_retention_if_due(&self) -> Result<Option<RetentionOutcome>> {
        let settings = self.retention()?;
        let last: i64 = self.catalog().setting(keys::RETENTION_APPLIED_AT)?.and_then(|t| t.parse().ok()).unwrap_or(0);
        if !settings.automatic || now_ms() - last < AUTOMATIC_EVERY_MS {
            return Ok(None);
        }
        if self.require_confirmation().is_err() {
            let preview = self.apply_retention(true, false)?;
            self.catalog().set_setting(keys::RETENTION_APPLIED_AT, &now_ms().to_string())?;
            let waiting = (!preview.removed.is_empty()).then(|| CleanupWaiting {
                since: self.cleanup_waiting().ok().flatten().map_or_else(now_ms, |w| w.since),
                snapshots: preview.removed.len() as u64,
            });
            if waiting.is_some() {
                tracing::info!("old versions are ready to be cleaned up; waiting for the person to confirm");
            }
            self.set_cleanup_waiting(waiting.as_ref())?;
            return Ok(None);
        }
        self.apply_retention(false, false).map(Some)
    }
}

fn apply(plan: &ForgetPlan, repo: &coffer_engine::Repository) -> Result<u64> {
    Ok(plan.apply(repo)?)
}

impl SnapshotInfo {
    fn from_plan(planned: &coffer_engine::PlannedSnapshot, repo: &coffer_engine::Repository) -> Result<SnapshotInfo> {
        let snapshot = repo.snapshot(&planned.id)?;
        Ok(SnapshotInfo {
            id: planned.id.to_hex(),
            time: snapshot.time,
            device_name: snapshot.device_name,
            device_id: snapshot.device_id,
            roots: snapshot.roots.into_iter().map(|r| r.path).collect(),
            files: snapshot.files,
            bytes: snapshot.bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_that_keeps_nothing_is_refused() {
        let nothing = RetentionSettings {
            keep_last: 0,
            keep_hourly: 0,
            keep_daily: 0,
            keep_weekly: 0,
            keep_monthly: 0,
            keep_yearly: 0,
            keep_within_days: None,
            automatic: true,
        };
        assert_eq!(validate(&nothing).unwrap_err().kind, ErrorKind::InvalidInput);
        assert!(validate(&RetentionSettings { keep_last: 1, ..nothing.clone() }).is_ok());
        assert!(validate(&RetentionSettings::default()).is_ok());
    }
}
