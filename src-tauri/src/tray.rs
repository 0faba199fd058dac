//! The tray icon: status at a glance, Back up now, Open Coffer, Quit.

use std::sync::Arc;

use coffer_client::{Agent, BackupProgress};
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Wry};

const TRAY_ID: &str = "coffer";

struct TrayItems {
    status: MenuItem<Wry>,
    pause: MenuItem<Wry>,
}

fn icon(state: &str) -> Option<Image<'static>> {
    let bytes: &'static [u8] = match state {
        "backing-up" => include_bytes!("../../icons/tray/backing-up.png"),
        "paused" => include_bytes!("../../icons/tray/paused.png"),
        "error" => include_bytes!("../../icons/tray/error.png"),
        _ => include_bytes!("../../icons/tray/idle.png"),
    };
    Image::from_bytes(bytes).ok()
}

/// Creates the tray icon and its menu.
pub fn install(app: &AppHandle) -> tauri::Result<()> {
    let status = MenuItem::with_id(app, "status", "Coffer is idle", false, None::<&str>)?;
    let backup = MenuItem::with_id(app, "backup-now", "Back up now", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", "Pause backups", true, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open Coffer", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Coffer", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&status, &backup, &pause, &open, &quit])?;
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("Coffer")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "backup-now" => {
                let agent = app.state::<Arc<Agent>>().inner().clone();
                if let Err(err) = crate::commands::start_backup(app, &agent) {
                    show_error(app, &err.message);
                }
            }
            "pause" => {
                let agent = app.state::<Arc<Agent>>().inner().clone();
                let result = if agent.is_paused() { agent.resume() } else { agent.pause(None) };
                match result {
                    Ok(status) => crate::commands::scheduler_changed(app, &status),
                    Err(err) => show_error(app, &err.message),
                }
            }
            "open" => crate::show_main_window(app),
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(image) = icon("idle") {
        builder = builder.icon(image);
    }
    builder.build(app)?;
    app.manage(TrayItems { status, pause });
    refresh(app);
    Ok(())
}

fn set_status(app: &AppHandle, text: &str, state: &str) {
    if let Some(items) = app.try_state::<TrayItems>() {
        let _ = items.status.set_text(text);
    }
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let _ = tray.set_tooltip(Some(format!("Coffer — {text}")));
        let _ = tray.set_icon(icon(state));
    }
}

/// Shows idle, paused or signed-out state.
pub fn refresh(app: &AppHandle) {
    let Some(agent) = app.try_state::<Arc<Agent>>() else { return };
    let paused = agent.is_paused();
    if let Some(items) = app.try_state::<TrayItems>() {
        let _ = items.pause.set_text(if paused { "Resume backups" } else { "Pause backups" });
    }
    if !agent.is_signed_in().unwrap_or(false) {
        set_status(app, "Not signed in", "idle");
    } else if paused {
        set_status(app, "Backups are paused", "paused");
    } else {
        set_status(app, "Coffer is idle", "idle");
    }
}

/// Shows a running backup's percentage, or idle when `progress` is None.
pub fn show_progress(app: &AppHandle, progress: Option<&BackupProgress>) {
    match progress {
        Some(p) => {
            let percent = if p.bytes_total == 0 { 0 } else { p.bytes_done * 100 / p.bytes_total };
            set_status(app, &format!("Backing up… {percent} %"), "backing-up");
        }
        None => refresh(app),
    }
}

pub fn show_error(app: &AppHandle, message: &str) {
    set_status(app, &format!("Backup failed: {message}"), "error");
}
