//! Background jobs, run every `--job-interval-secs` while the service runs:
//!
//! - session retention: records of sessions that ended more than
//!   `--session-retention-days` ago are deleted;
//! - account purge: accounts whose deletion grace period is over are purged
//!   (see [`crate::deletion`]);
//! - expired mailed links are forgotten.
//!
//! Each job reads the time from the state's clock, so tests run them at any
//! date by calling [`run_due`].

use std::time::Duration;

use crate::deletion::purge_account;
use crate::AppState;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobReport {
    pub sessions_deleted: u64,
    pub accounts_purged: u64,
    pub email_tokens_deleted: u64,
}

/// Runs every job once, at the clock's current time.
///
/// # Errors
/// The first database or storage failure; jobs are idempotent, so the next
/// run picks up where this one stopped.
pub async fn run_due(state: &AppState) -> anyhow::Result<JobReport> {
    let now = state.now();
    let mut report = JobReport {
        sessions_deleted: state
            .db
            .delete_sessions_ended_before(now - state.settings.session_retention_ms)
            .await?,
        ..JobReport::default()
    };
    for account_id in state.db.accounts_due_for_purge(now).await? {
        // Re-read: the person may have cancelled since the list was made.
        let still_due = state
            .db
            .account_by_id(account_id.clone())
            .await?
            .and_then(|a| a.purge_at)
            .is_some_and(|at| at <= state.now());
        if still_due && purge_account(state, &account_id).await?.is_some() {
            report.accounts_purged += 1;
        }
    }
    report.email_tokens_deleted = state.db.delete_expired_email_tokens(now).await?;
    if report.sessions_deleted > 0 {
        tracing::info!(
            sessions_deleted = report.sessions_deleted,
            "deleted session records past retention"
        );
    }
    Ok(report)
}

/// Runs the jobs now and then every `interval`, until the task is aborted.
pub async fn run_periodically(state: AppState, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(e) = run_due(&state).await {
            tracing::error!(error = format!("{e:#}"), "background jobs failed");
        }
    }
}
