//! Tauri commands: each parses its arguments, calls one `Agent` function off
//! the UI thread and maps the error. Long jobs report through events.

use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer_client::{
    AccountInfo, Activity, Agent, DeviceInfo, ExcludedFile, ExclusionSettings, FileVersion, FolderUsage, ScheduleSettings,
    SchedulerStatus, SearchHit, TreeEntry, VerifyReport, Profile, ProfileUpdate, PasswordChange, SessionRecord,
    CommunicationPreferences, PolicyInfo, ExportResult, DeletionScheduled, KeyMode, KeyStatus, KeyStrength, TotpSetup, RetentionSettings, RetentionOutcome, AppStatus, Dashboard, Error, ErrorKind, FolderInfo, RestoreRequest, RestoreSummary,
    SignInRequest, SignUpRequest, SignUpResult, SnapshotInfo, CleanupWaiting, ConfirmationStatus, HeldDeletion,
    AppConnected, ConnectAppRequest, ConnectedApp, ShareCreated, ShareInfo, ShareRequest,
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
pub async fn sign_up(app: AppHandle, agent: AgentState<'_>, request: SignUpRequest) -> Result<SignUpResult, Error> {
    let result = blocking(&agent, move |a| a.sign_up(&request)).await?;
    tray::refresh(&app);
    Ok(result)
}

#[tauri::command]
pub async fn sign_in(app: AppHandle, agent: AgentState<'_>, request: SignInRequest) -> Result<AccountInfo, Error> {
    let account = blocking(&agent, move |a| a.sign_in(&request)).await?;
    tray::refresh(&app);
    Ok(account)
}

/// Cancels a scheduled account deletion, then signs in with the same request.
#[tauri::command]
pub async fn restore_account(app: AppHandle, agent: AgentState<'_>, request: SignInRequest) -> Result<AccountInfo, Error> {
    let account = blocking(&agent, move |a| a.restore_account(&request)).await?;
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

/// Restores files; progress arrives as `restore-progress` events (at most ten
/// a second) and the end as `restore-finished` plus a desktop notification.
#[tauri::command]
pub async fn restore(app: AppHandle, agent: AgentState<'_>, request: RestoreRequest) -> Result<RestoreSummary, Error> {
    let events = app.clone();
    let summary = blocking(&agent, move |a| {
        let mut last_emit: Option<Instant> = None;
        a.restore(&request, &mut |progress| {
            if last_emit.is_none_or(|t| t.elapsed() >= Duration::from_millis(100)) {
                last_emit = Some(Instant::now());
                let _ = events.emit("restore-progress", progress);
            }
        })
    })
    .await?;
    let _ = app.emit("restore-finished", &summary);
    crate::notices::restore_finished(&app, &summary);
    Ok(summary)
}

/// Shares a file or folder as it was in a backup; progress arrives as
/// `share-progress` events (at most ten a second). The answer carries the
/// full link, once (docs/ipc.md, *Secrets*).
#[tauri::command]
pub async fn share(app: AppHandle, agent: AgentState<'_>, request: ShareRequest) -> Result<ShareCreated, Error> {
    blocking(&agent, move |a| {
        let mut last_emit: Option<Instant> = None;
        let (share, link) = a.share(&request, &mut |progress| {
            let done = progress.files_done == progress.files_total;
            if done || last_emit.is_none_or(|t| t.elapsed() >= Duration::from_millis(100)) {
                last_emit = Some(Instant::now());
                let _ = app.emit("share-progress", progress);
            }
        })?;
        Ok(ShareCreated::shown_once(share, link))
    })
    .await
}

#[tauri::command]
pub async fn shares(agent: AgentState<'_>) -> Result<Vec<ShareInfo>, Error> {
    blocking(&agent, |a| a.shares()).await
}

#[tauri::command]
pub async fn revoke_share(agent: AgentState<'_>, id: String) -> Result<Vec<ShareInfo>, Error> {
    blocking(&agent, move |a| a.revoke_share(&id)).await
}

#[tauri::command]
pub async fn connected_apps(agent: AgentState<'_>) -> Result<Vec<ConnectedApp>, Error> {
    blocking(&agent, |a| a.connected_apps()).await
}

/// Connects an app; the answer carries its token, once.
#[tauri::command]
pub async fn connect_app(agent: AgentState<'_>, request: ConnectAppRequest) -> Result<AppConnected, Error> {
    blocking(&agent, move |a| {
        let (app, token) = a.connect_app(&request.name, &request.scopes, request.expires_in_days)?;
        Ok(AppConnected::shown_once(app, token))
    })
    .await
}

#[tauri::command]
pub async fn revoke_app(agent: AgentState<'_>, id: String) -> Result<Vec<ConnectedApp>, Error> {
    blocking(&agent, move |a| a.revoke_app(&id)).await
}

#[tauri::command]
pub async fn list_devices(agent: AgentState<'_>) -> Result<Vec<DeviceInfo>, Error> {
    blocking(&agent, |a| a.devices()).await
}

#[tauri::command]
pub async fn browse(agent: AgentState<'_>, snapshot_id: String, path: Option<String>) -> Result<Vec<TreeEntry>, Error> {
    blocking(&agent, move |a| a.browse(&snapshot_id, path.as_deref())).await
}

#[tauri::command]
pub async fn search_files(agent: AgentState<'_>, query: String, snapshot_id: Option<String>) -> Result<Vec<SearchHit>, Error> {
    blocking(&agent, move |a| a.search_files(&query, snapshot_id.as_deref())).await
}

#[tauri::command]
pub async fn file_versions(agent: AgentState<'_>, path: String) -> Result<Vec<FileVersion>, Error> {
    blocking(&agent, move |a| a.file_versions(&path)).await
}

#[tauri::command]
pub async fn folder_usage(agent: AgentState<'_>) -> Result<Vec<FolderUsage>, Error> {
    blocking(&agent, |a| a.folder_usage()).await
}

#[tauri::command]
pub async fn exclusions(agent: AgentState<'_>) -> Result<ExclusionSettings, Error> {
    blocking(&agent, |a| a.exclusions()).await
}

#[tauri::command]
pub async fn set_exclusions(agent: AgentState<'_>, settings: ExclusionSettings) -> Result<ExclusionSettings, Error> {
    blocking(&agent, move |a| a.set_exclusions(&settings)).await
}

#[tauri::command]
pub async fn excluded_files(agent: AgentState<'_>) -> Result<Vec<ExcludedFile>, Error> {
    blocking(&agent, |a| a.excluded_files()).await
}

#[tauri::command]
pub async fn scheduler_status(agent: AgentState<'_>) -> Result<SchedulerStatus, Error> {
    blocking(&agent, |a| a.scheduler_status()).await
}

#[tauri::command]
pub async fn set_schedule(app: AppHandle, agent: AgentState<'_>, settings: ScheduleSettings) -> Result<SchedulerStatus, Error> {
    let status = blocking(&agent, move |a| a.set_schedule(&settings)).await?;
    scheduler_changed(&app, &status);
    Ok(status)
}

#[tauri::command]
pub async fn pause_backups(app: AppHandle, agent: AgentState<'_>, minutes: Option<u32>) -> Result<SchedulerStatus, Error> {
    let status = blocking(&agent, move |a| a.pause(minutes)).await?;
    scheduler_changed(&app, &status);
    Ok(status)
}

#[tauri::command]
pub async fn resume_backups(app: AppHandle, agent: AgentState<'_>) -> Result<SchedulerStatus, Error> {
    let status = blocking(&agent, |a| a.resume()).await?;
    scheduler_changed(&app, &status);
    Ok(status)
}

/// Tells the window and the tray that the schedule or pause state changed.
pub fn scheduler_changed(app: &AppHandle, status: &SchedulerStatus) {
    let _ = app.emit("scheduler-changed", status);
    tray::refresh(app);
}

#[tauri::command]
pub fn autostart(app: AppHandle) -> Result<bool, Error> {
    crate::autostart::is_enabled(&app)
}

#[tauri::command]
pub fn set_autostart(app: AppHandle, enabled: bool) -> Result<bool, Error> {
    crate::autostart::set_enabled(&app, enabled)?;
    Ok(enabled)
}

#[tauri::command]
pub async fn verify_backup(agent: AgentState<'_>, read_data: bool) -> Result<VerifyReport, Error> {
    blocking(&agent, move |a| a.verify(read_data).map(|(report, _)| report)).await
}

#[tauri::command]
pub async fn profile(agent: AgentState<'_>) -> Result<Profile, Error> {
    blocking(&agent, |a| a.profile()).await
}

#[tauri::command]
pub async fn update_profile(agent: AgentState<'_>, update: ProfileUpdate) -> Result<Profile, Error> {
    blocking(&agent, move |a| a.update_profile(&update)).await
}

#[tauri::command]
pub async fn change_password(agent: AgentState<'_>, change: PasswordChange) -> Result<(), Error> {
    blocking(&agent, move |a| a.change_password(&change)).await
}

#[tauri::command]
pub async fn list_sessions(agent: AgentState<'_>) -> Result<Vec<SessionRecord>, Error> {
    blocking(&agent, |a| a.sessions()).await
}

#[tauri::command]
pub async fn revoke_session(app: AppHandle, agent: AgentState<'_>, id: String) -> Result<Vec<SessionRecord>, Error> {
    let sessions = blocking(&agent, move |a| a.revoke_session(&id)).await?;
    tray::refresh(&app);
    Ok(sessions)
}

#[tauri::command]
pub async fn sign_out_everywhere(app: AppHandle, agent: AgentState<'_>) -> Result<(), Error> {
    blocking(&agent, |a| a.sign_out_everywhere()).await?;
    tray::refresh(&app);
    Ok(())
}

#[tauri::command]
pub async fn preferences(agent: AgentState<'_>) -> Result<CommunicationPreferences, Error> {
    blocking(&agent, |a| a.preferences()).await
}

#[tauri::command]
pub async fn set_preferences(agent: AgentState<'_>, preferences: CommunicationPreferences) -> Result<CommunicationPreferences, Error> {
    blocking(&agent, move |a| a.set_preferences(&preferences)).await
}

#[tauri::command]
pub async fn policy(agent: AgentState<'_>) -> Result<PolicyInfo, Error> {
    blocking(&agent, |a| a.policy()).await
}

#[tauri::command]
pub async fn accept_policy(agent: AgentState<'_>, version: String) -> Result<PolicyInfo, Error> {
    blocking(&agent, move |a| a.accept_policy(&version)).await
}

#[tauri::command]
pub async fn export_data(agent: AgentState<'_>, path: String) -> Result<ExportResult, Error> {
    blocking(&agent, move |a| a.export_data(&path)).await
}

#[tauri::command]
pub async fn delete_account(app: AppHandle, agent: AgentState<'_>, password: String, purge_now: bool) -> Result<DeletionScheduled, Error> {
    let scheduled = blocking(&agent, move |a| a.delete_account(&password, purge_now)).await?;
    tray::refresh(&app);
    Ok(scheduled)
}

#[tauri::command]
pub async fn key_status(agent: AgentState<'_>) -> Result<KeyStatus, Error> {
    blocking(&agent, |a| a.key_status()).await
}

#[tauri::command]
pub async fn key_strength(agent: AgentState<'_>, key: String) -> Result<KeyStrength, Error> {
    blocking(&agent, move |a| Ok(a.key_strength(&key))).await
}

#[tauri::command]
pub async fn unlock(app: AppHandle, agent: AgentState<'_>, key: String, remember: bool) -> Result<KeyStatus, Error> {
    let status = blocking(&agent, move |a| a.unlock(&key, remember)).await?;
    tray::refresh(&app);
    Ok(status)
}

#[tauri::command]
pub async fn unlock_with_recovery(app: AppHandle, agent: AgentState<'_>, code: String, remember: bool) -> Result<KeyStatus, Error> {
    let status = blocking(&agent, move |a| a.unlock_with_recovery(&code, remember)).await?;
    tray::refresh(&app);
    Ok(status)
}

#[tauri::command]
pub async fn lock_now(app: AppHandle, agent: AgentState<'_>) -> Result<KeyStatus, Error> {
    let status = blocking(&agent, |a| a.lock_now()).await?;
    tray::refresh(&app);
    Ok(status)
}

#[tauri::command]
pub async fn change_key(agent: AgentState<'_>, current_key: String, new_key: String, password: String) -> Result<KeyStatus, Error> {
    blocking(&agent, move |a| a.change_key(&current_key, &new_key, &password)).await
}

/// Switches key mode. To default: the person's key opens the data key, which
/// is escrowed. To private: the password and key are checked and the new
/// recovery code is returned at once; the re-upload runs on its own thread,
/// reporting `key-progress` (at most ten a second), then `key-finished` with
/// the key status or `key-failed` with the error. Called again with the same
/// key after an interruption, it carries on (and returns the same code).
#[tauri::command]
pub async fn switch_key_mode(app: AppHandle, agent: AgentState<'_>, to: KeyMode, key: Option<String>, password: String) -> Result<Option<String>, Error> {
    match to {
        KeyMode::Default => {
            blocking(&agent, move |a| a.switch_to_default_key(key.as_deref().unwrap_or_default(), &password).map(|_| None)).await
        }
        KeyMode::Private => {
            let key = key.unwrap_or_default();
            let (begin_key, begin_password) = (key.clone(), password.clone());
            // The switch ends by deleting the old copies: a missing two-factor
            // confirmation is reported now, not after the upload.
            let code = blocking(&agent, move |a| {
                a.ensure_confirmed(&begin_password)?;
                a.begin_key_switch(&begin_key, &begin_password)
            })
            .await?;
            let agent = Arc::clone(&agent);
            std::thread::Builder::new()
                .name("coffer-key-switch".into())
                .spawn(move || {
                    let mut last_emit: Option<Instant> = None;
                    let mut last_stage = String::new();
                    let result = agent.resume_key_switch(&key, &password, &mut |progress| {
                        let due = progress.stage != last_stage
                            || progress.done == progress.total
                            || last_emit.is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
                        if due {
                            last_emit = Some(Instant::now());
                            last_stage.clone_from(&progress.stage);
                            let _ = app.emit("key-progress", progress);
                        }
                    });
                    match result {
                        Ok(status) => {
                            let _ = app.emit("key-finished", &status);
                        }
                        Err(err) => {
                            let _ = app.emit("key-failed", &err);
                        }
                    }
                    tray::refresh(&app);
                })
                .map_err(|e| Error::new(ErrorKind::Io, format!("could not start the key switch: {e}")))?;
            Ok(Some(code))
        }
    }
}

#[tauri::command]
pub async fn request_password_reset(agent: AgentState<'_>, email: String, server_url: Option<String>) -> Result<(), Error> {
    blocking(&agent, move |a| a.request_password_reset(&email, server_url.as_deref())).await
}

#[tauri::command]
pub async fn resend_verification(agent: AgentState<'_>) -> Result<(), Error> {
    blocking(&agent, |a| a.resend_verification()).await
}

#[tauri::command]
pub async fn totp_setup(agent: AgentState<'_>) -> Result<TotpSetup, Error> {
    blocking(&agent, |a| a.totp_setup()).await
}

#[tauri::command]
pub async fn totp_enable(agent: AgentState<'_>, code: String) -> Result<Vec<String>, Error> {
    blocking(&agent, move |a| a.totp_enable(&code)).await
}

#[tauri::command]
pub async fn totp_disable(agent: AgentState<'_>, password: String) -> Result<(), Error> {
    blocking(&agent, move |a| a.totp_disable(&password)).await
}

/// Writes text the person chose to save (a recovery kit) to a path picked in the save dialog.
#[tauri::command]
pub async fn save_text_file(path: String, text: String) -> Result<(), Error> {
    tauri::async_runtime::spawn_blocking(move || coffer_client::save_private_text(&path, &text))
        .await
        .unwrap_or_else(|_| Err(Error::new(ErrorKind::Io, "the file could not be saved")))
}

/// Both key and recovery code are lost: delete the unreadable backups and
/// begin again with a new key. Returns the new recovery code for a private key.
#[tauri::command]
pub async fn start_over(app: AppHandle, agent: AgentState<'_>, new_key: Option<String>, password: String) -> Result<Option<String>, Error> {
    // Confirmed before anything changes, so a missing two-factor code stops it here.
    let code = blocking(&agent, move |a| {
        a.ensure_confirmed(&password)?;
        a.start_over(new_key.as_deref(), &password)
    })
    .await?;
    tray::refresh(&app);
    Ok(code)
}

#[tauri::command]
pub async fn retention(agent: AgentState<'_>) -> Result<RetentionSettings, Error> {
    blocking(&agent, |a| a.retention()).await
}

#[tauri::command]
pub async fn set_retention(agent: AgentState<'_>, settings: RetentionSettings) -> Result<RetentionSettings, Error> {
    blocking(&agent, move |a| a.set_retention(&settings)).await
}

#[tauri::command]
pub async fn apply_retention(agent: AgentState<'_>, preview: bool, confirm_large: bool) -> Result<RetentionOutcome, Error> {
    blocking(&agent, move |a| a.apply_retention(preview, confirm_large)).await
}

/// "Confirm it's you": the password (and two-factor code) for deleting.
/// The grant stays in the agent; only its expiry comes back.
#[tauri::command]
pub async fn confirm_identity(agent: AgentState<'_>, password: String, totp_code: Option<String>) -> Result<ConfirmationStatus, Error> {
    blocking(&agent, move |a| a.confirm_identity(&password, totp_code.as_deref())).await
}

#[tauri::command]
pub async fn held_deletions(agent: AgentState<'_>) -> Result<Vec<HeldDeletion>, Error> {
    blocking(&agent, |a| a.held_deletions()).await
}

#[tauri::command]
pub async fn cancel_held_deletion(agent: AgentState<'_>, id: String) -> Result<Vec<HeldDeletion>, Error> {
    blocking(&agent, move |a| a.cancel_held_deletion(&id)).await
}

#[tauri::command]
pub async fn cleanup_waiting(agent: AgentState<'_>) -> Result<Option<CleanupWaiting>, Error> {
    blocking(&agent, |a| a.cleanup_waiting()).await
}

#[tauri::command]
pub async fn activity(agent: AgentState<'_>) -> Result<Activity, Error> {
    blocking(&agent, |a| a.activity()).await
}

/// Starts a backup in the background. Progress arrives as `backup-progress`
/// events (at most ten a second), the end as `backup-finished` or `backup-failed`.
#[tauri::command]
pub fn backup_now(app: AppHandle, agent: AgentState<'_>) -> Result<(), Error> {
    start_backup(&app, &agent)
}

/// Starts a backup from a command, the tray or the scheduler.
pub fn start_backup(app: &AppHandle, agent: &Arc<Agent>) -> Result<(), Error> {
    let (events, finished) = (app.clone(), app.clone());
    let mut last_emit: Option<Instant> = None;
    let mut last_phase = None;
    agent.spawn_backup(
        move |progress| {
            // A new phase always goes out: the next event may be many
            // seconds away (packs uploading), and the window and tray would
            // show the old phase until then.
            let due = last_emit.is_none_or(|t| t.elapsed() >= Duration::from_millis(100)) || last_phase != Some(progress.phase);
            if due {
                last_emit = Some(Instant::now());
                last_phase = Some(progress.phase);
                let _ = events.emit("backup-progress", progress);
                tray::show_progress(&events, Some(progress));
            }
        },
        move |result| {
            tray::show_progress(&finished, None);
            match result {
                Ok(report) => {
                    crate::notices::backup_succeeded(&finished);
                    let _ = finished.emit("backup-finished", &report);
                }
                Err(err) => {
                    tracing::warn!(kind = ?err.kind, "backup failed: {}", err.message);
                    tray::show_error(&finished, &err.message);
                    crate::notices::backup_failed(&finished, &err.message);
                    let _ = finished.emit("backup-failed", &err);
                }
            }
        },
    )
}
