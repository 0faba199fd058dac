//! Background jobs, run every `--job-interval-secs` while the service runs:
//!
//! - session retention: records of sessions that ended more than
//!   `--session-retention-days` ago are deleted;
//! - account purge: accounts whose deletion grace period is over are purged
//!   (see [`crate::deletion`]);
//! - expired mailed links are forgotten;
//! - held deletions past their 7 days are purged, and the person is mailed
//!   once about each settled batch (see [`crate::held_deletions`]);
//! - operational alerts are mailed (see [`crate::alerts`]);
//! - shares revoked, expired or downloaded out lose their data and their
//!   recipients' addresses (see [`crate::shares`]).
//!
//! Each job reads the time from the state's clock, so tests run them at any
//! date by calling [`run_due`]. Each run is counted in the metrics by job and
//! outcome; a failing job does not keep the others from running.
//!
//! Replicas sharing a PostgreSQL database take turns: a run first takes the
//! jobs lease ([`crate::Db::lead_jobs`], an advisory lock held while the jobs
//! run) and is skipped when another replica holds it, so no two replicas
//! purge, mail or clean up at the same time.

use std::future::Future;
use std::time::Duration;

use crate::alerts::send_due_alerts;
use crate::deletion::purge_account;
use crate::held_deletions;
use crate::shares;
use crate::AppState;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobReport {
    pub sessions_deleted: u64,
    pub accounts_purged: u64,
    pub email_tokens_deleted: u64,
    /// Operational alerts mailed.
    pub alerts_sent: u64,
    /// Held objects purged after their hold.
    pub held_objects_purged: u64,
    /// Mails about held deletions sent.
    pub deletion_mails_sent: u64,
    /// Shares whose data and recipients were removed (revoked, expired,
    /// downloaded out, or abandoned while uploading).
    pub shares_removed: u64,
    /// Another replica was running the jobs, so this run did nothing.
    pub ran_elsewhere: bool,
}

/// Runs one job, counting and logging its outcome; keeps the first error.
async fn run_job<T>(
    state: &AppState,
    job: &'static str,
    first_error: &mut Option<anyhow::Error>,
    work: impl Future<Output = anyhow::Result<T>>,
) -> Option<T> {
    match work.await {
        Ok(done) => {
            state.metrics.job_run(job, true);
            Some(done)
        }
        Err(e) => {
            state.metrics.job_run(job, false);
            tracing::error!(job, error = format!("{e:#}"), "background job failed");
            first_error.get_or_insert(e.context(format!("job {job}")));
            None
        }
    }
}

async fn purge_due_accounts(state: &AppState) -> anyhow::Result<u64> {
    let mut purged = 0;
    for account_id in state.db.accounts_due_for_purge(state.now()).await? {
        // Re-read: the person may have cancelled since the list was made.
        let still_due = state
            .db
            .account_by_id(account_id.clone())
            .await?
            .and_then(|a| a.purge_at)
            .is_some_and(|at| at <= state.now());
        if still_due && purge_account(state, &account_id).await?.is_some() {
            purged += 1;
        }
    }
    Ok(purged)
}

/// Runs every job once, at the clock's current time, unless another replica
/// is running them (then the report says [`JobReport::ran_elsewhere`]).
///
/// # Errors
/// The first database or storage failure (after the other jobs ran); jobs
/// are idempotent, so the next run picks up where this one stopped.
pub async fn run_due(state: &AppState) -> anyhow::Result<JobReport> {
    let Some(lease) = state.db.lead_jobs().await? else {
        tracing::debug!("another replica is running the background jobs; skipped");
        return Ok(JobReport {
            ran_elsewhere: true,
            ..JobReport::default()
        });
    };
    let result = run_all(state).await;
    // Released before returning, so the next round (here or on another
    // replica) finds it free.
    lease.release().await;
    result
}

async fn run_all(state: &AppState) -> anyhow::Result<JobReport> {
    let now = state.now();
    let mut error = None;
    let mut report = JobReport::default();
    let retention_cutoff = now - state.settings.session_retention_ms;
    if let Some(deleted) = run_job(state, "session_retention", &mut error, async {
        state
            .db
            .delete_sessions_ended_before(retention_cutoff)
            .await
    })
    .await
    {
        report.sessions_deleted = deleted;
    }
    if let Some(purged) = run_job(
        state,
        "account_purge",
        &mut error,
        purge_due_accounts(state),
    )
    .await
    {
        report.accounts_purged = purged;
    }
    if let Some(deleted) = run_job(state, "expired_links", &mut error, async {
        state.db.delete_expired_email_tokens(now).await
    })
    .await
    {
        report.email_tokens_deleted = deleted;
    }
    if let Some(purged) = run_job(
        state,
        "held_deletion_purge",
        &mut error,
        held_deletions::purge_due(state),
    )
    .await
    {
        report.held_objects_purged = purged;
    }
    if let Some(sent) = run_job(
        state,
        "held_deletion_mail",
        &mut error,
        held_deletions::mail_settled(state),
    )
    .await
    {
        report.deletion_mails_sent = sent;
    }
    if let Some(removed) = run_job(
        state,
        "share_cleanup",
        &mut error,
        shares::remove_due(state),
    )
    .await
    {
        report.shares_removed = removed;
    }
    if let Some(alerts) = run_job(
        state,
        "operational_alerts",
        &mut error,
        send_due_alerts(state),
    )
    .await
    {
        report.alerts_sent = alerts.sent;
    }
    if report.sessions_deleted > 0 {
        tracing::info!(
            sessions_deleted = report.sessions_deleted,
            "deleted session records past retention"
        );
    }
    match error {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Runs the jobs now and then every `interval`, until the task is aborted.
pub async fn run_periodically(state: AppState, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        // Each failing job was logged by `run_due`; the next tick retries.
        let _ = run_due(&state).await;
    }
}
