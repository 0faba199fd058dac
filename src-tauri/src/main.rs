// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod tray;

use std::sync::Arc;

use coffer_client::{Agent, AgentOptions};
use tauri::{Manager, WindowEvent};

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("COFFER_LOG").unwrap_or_else(|_| "info".into()))
        .init();

    tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| show_main_window(app)))
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            let config_dir = match std::env::var_os("COFFER_CONFIG_DIR") {
                Some(dir) if !dir.is_empty() => dir.into(),
                _ => app.path().app_data_dir()?,
            };
            let mut options = AgentOptions::new(config_dir);
            if let Ok(service) = std::env::var("COFFER_KEYCHAIN_SERVICE") {
                options.keychain_service = service;
            }
            let agent = Agent::open(&options).map_err(|e| e.message)?;
            if let Ok(url) = std::env::var("COFFER_SERVER_URL") {
                // A fresh agent starts on the service it was launched for.
                if !agent.is_signed_in().unwrap_or(false) {
                    agent.set_server_url(&url).map_err(|e| e.message)?;
                }
            }
            app.manage(Arc::new(agent));
            tray::install(app.handle())?;
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
            commands::sign_out,
            commands::dashboard,
            commands::add_folder,
            commands::remove_folder,
            commands::backup_now,
            commands::list_snapshots,
            commands::restore,
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
