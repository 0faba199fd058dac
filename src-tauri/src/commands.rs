//! Tauri commands: each parses its arguments, calls one `Agent` function off
//! the UI thread and maps the error. Long jobs report through events.

use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer_client::{
    AccountInfo, Agent, AppStatus, Dashboard, Error, ErrorKind, FolderInfo, RestoreRequest, RestoreSummary,
    SignInRequest, SignUpRequest, SnapshotInfo,
};
use tauri::{AppHandle, Emitter, State};

use crate::tray;

type AgentState<'a> = State<'a, Arc<Agent>>;

/// Runs a blocking agent call on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    agent: &Arc<Agent>,
    call: impl FnOnce(&Agent) -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let agent = Arc::clone(agent);
    tauri::async_runtime::spawn_blocking(move || call(&agent))
        .await
        .unwrap_or_else(|_| Err(Error::new(ErrorKind::Server, "the agent stopped unexpectedly")))
}

#[tauri::command]
pub async fn app_status(agent: AgentState<'_>) -> Result<AppStatus, Error> {
    blocking(&agent, |a| Ok(a.status())).await
}

#[tauri::command]
pub async fn sign_up(app: AppHandle, agent: AgentState<'_>, request: SignUpRequest) -> Result<AccountInfo, Error> {
    let account = blocking(&agent, move |a| a.sign_up(&request)).await?;
    tray::refresh(&app);
    Ok(account)
}

#[tauri::command]
pub async fn sign_in(app: AppHandle, agent: AgentState<'_>, request: SignInRequest) -> Result<AccountInfo, Error> {
    let account = blocking(&agent, move |a| a.sign_in(&request)).await?;
    tray::refresh(&app);
    Ok(account)
}

#[tauri::command]
pub async fn sign_out(app: AppHandle, agent: AgentState<'_>) -> Result<(), Error> {
    blocking(&agent, |a| a.sign_out()).await?;
    tray::refresh(&app);
    Ok(())
}

#[tauri::command]
pub async fn dashboard(agent: AgentState<'_>) -> Result<Dashboard, Error> {
    blocking(&agent, |a| a.dashboard()).await
}

#[tauri::command]
pub async fn add_folder(agent: AgentState<'_>, path: String) -> Result<Vec<FolderInfo>, Error> {
    blocking(&agent, move |a| a.add_folder(&path)).await
}

#[tauri::command]
pub async fn remove_folder(agent: AgentState<'_>, path: String) -> Result<Vec<FolderInfo>, Error> {
    blocking(&agent, move |a| a.remove_folder(&path)).await
}

#[tauri::command]
pub async fn list_snapshots(agent: AgentState<'_>) -> Result<Vec<SnapshotInfo>, Error> {
    blocking(&agent, |a| a.snapshots()).await
}

#[tauri::command]
pub async fn restore(agent: AgentState<'_>, request: RestoreRequest) -> Result<RestoreSummary, Error> {
    blocking(&agent, move |a| a.restore(&request, &mut |_| {})).await
}

/// Starts a backup in the background. Progress arrives as `backup-progress`
/// events (at most ten a second), the end as `backup-finished` or `backup-failed`.
#[tauri::command]
pub fn backup_now(app: AppHandle, agent: AgentState<'_>) -> Result<(), Error> {
    start_backup(&app, &agent)
}

/// Starts a backup from a command or the tray.
pub fn start_backup(app: &AppHandle, agent: &Arc<Agent>) -> Result<(), Error> {
    if agent.current_progress().is_some() {
        return Err(Error::new(ErrorKind::Busy, "a backup is already running"));
    }
    let app = app.clone();
    let agent = Arc::clone(agent);
    std::thread::Builder::new()
        .name("coffer-backup".into())
        .spawn(move || {
            let mut last_emit: Option<Instant> = None;
            let result = agent.backup_now(&mut |progress| {
                let due = last_emit.is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
                if due || progress.phase == coffer_client::BackupPhase::Done {
                    last_emit = Some(Instant::now());
                    let _ = app.emit("backup-progress", progress);
                    tray::show_progress(&app, Some(progress));
                }
            });
            tray::show_progress(&app, None);
            match result {
                Ok(report) => {
                    let _ = app.emit("backup-finished", &report);
                }
                Err(err) => {
                    tracing::warn!(kind = ?err.kind, "backup failed: {}", err.message);
                    tray::show_error(&app, &err.message);
                    let _ = app.emit("backup-failed", &err);
                }
            }
        })
        .map_err(|e| Error::new(ErrorKind::Server, format!("could not start the backup: {e}")))?;
    Ok(())
}
