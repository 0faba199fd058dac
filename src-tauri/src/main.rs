// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod autostart;
mod commands;
mod diagnostics;
mod notices;
mod tray;

use std::sync::Arc;

use coffer_client::{Agent, AgentOptions, Scheduler};
use tauri::{Manager, WindowEvent};

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("COFFER_LOG").unwrap_or_else(|_| "info".into()))
        .init();

    tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| show_main_window(app)))
        .plugin(tauri_plugin_dialog::init())
        // Only `mailto:` links may be opened (capabilities/default.json): "Email it".
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::init(tauri_plugin_autostart::MacosLauncher::LaunchAgent, Some(vec![autostart::MINIMIZED])))
        .setup(|app| {
            let config_dir = match std::env::var_os("COFFER_CONFIG_DIR") {
                Some(dir) if !dir.is_empty() => dir.into(),
                _ => app.path().app_data_dir()?,
            };
            let mut options = AgentOptions::new(config_dir);
            if let Ok(service) = std::env::var("COFFER_KEYCHAIN_SERVICE") {
                options.keychain_service = service;
            }
            // COFFER_KEYCHAIN=off: secrets in memory only (a headless or virtual display).
            options.use_keychain = std::env::var("COFFER_KEYCHAIN").map_or(true, |v| v != "off");
            let agent = Agent::open(&options).map_err(|e| e.message)?;
            if let Ok(url) = std::env::var("COFFER_SERVER_URL") {
                // A fresh agent starts on the service it was launched for.
                if !agent.is_signed_in().unwrap_or(false) {
                    agent.set_server_url(&url).map_err(|e| e.message)?;
                }
            }
            let agent = Arc::new(agent);
            app.manage(Arc::clone(&agent));
            tray::install(app.handle())?;
            notices::install(app.handle());
            // Continuous and scheduled backups run as long as Coffer does.
            let (handle, for_scheduler) = (app.handle().clone(), Arc::clone(&agent));
            let (status_handle, for_status) = (app.handle().clone(), Arc::clone(&agent));
            let scheduler = Scheduler::start_reporting(
                Arc::clone(&agent),
                Box::new(move || commands::start_backup(&handle, &for_scheduler)),
                // Watching fell back to scans (or works again): the Schedule screen says so.
                Box::new(move || {
                    if let Ok(status) = for_status.scheduler_status() {
                        commands::scheduler_changed(&status_handle, &status);
                    }
                }),
            );
            app.manage(scheduler);
            // Started at login: stay in the tray until the person opens the window.
            if std::env::args().any(|a| a == autostart::MINIMIZED) {
                if let Some(window) = app.get_webview_window("main") {
                    let _ = window.hide();
                }
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window keeps Coffer running in the tray.
            if let WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_status,
            commands::sign_up,
            commands::sign_in,
            commands::restore_account,
            commands::sign_out,
            commands::dashboard,
            commands::add_folder,
            commands::remove_folder,
            commands::backup_now,
            commands::list_snapshots,
            commands::restore,
            commands::list_devices,
            commands::browse,
            commands::search_files,
            commands::file_versions,
            commands::activity,
            commands::verify_backup,
            commands::profile,
            commands::update_profile,
            commands::change_password,
            commands::list_sessions,
            commands::revoke_session,
            commands::sign_out_everywhere,
            commands::preferences,
            commands::set_preferences,
            commands::policy,
            commands::accept_policy,
            commands::export_data,
            commands::delete_account,
            commands::key_status,
            commands::key_strength,
            commands::unlock,
            commands::unlock_with_recovery,
            commands::lock_now,
            commands::change_key,
            commands::switch_key_mode,
            commands::request_password_reset,
            commands::resend_verification,
            commands::totp_setup,
            commands::totp_enable,
            commands::totp_disable,
            commands::save_text_file,
            commands::start_over,
            commands::retention,
            commands::set_retention,
            commands::apply_retention,
            commands::confirm_identity,
            commands::held_deletions,
            commands::cancel_held_deletion,
            commands::cleanup_waiting,
            commands::folder_usage,
            commands::exclusions,
            commands::set_exclusions,
            commands::excluded_files,
            commands::scheduler_status,
            commands::set_schedule,
            commands::pause_backups,
            commands::resume_backups,
            commands::autostart,
            commands::set_autostart,
            commands::share,
            commands::shares,
            commands::revoke_share,
            commands::connected_apps,
            commands::connect_app,
            commands::revoke_app,
            diagnostics::diagnostics_tray, diagnostics::diagnostics_tray_menu, diagnostics::diagnostics_window, diagnostics::diagnostics_close_window, diagnostics::diagnostics_notices,
        ])
        .run(tauri::generate_context!())
        .expect("Coffer could not start its window");
}

pub(crate) fn show_main_window(app: &tauri::AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}
