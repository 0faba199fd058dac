//! Commands for diagnostics and the WebDriver tests, answered only when
//! Coffer runs with `COFFER_DIAGNOSTICS=1`: what the real tray shows, its
//! menu's actions, the window's state, the notifications decided on. They
//! read the real objects (the TrayIcon's record, the GTK window); nothing
//! here keeps a copy of its own.

use coffer_client::{Error, ErrorKind};
use serde::Serialize;
use tauri::{AppHandle, Manager};

use crate::notices::SentNotice;
use crate::tray::AppliedTray;

fn enabled() -> Result<(), Error> {
    if std::env::var("COFFER_DIAGNOSTICS").is_ok_and(|v| v == "1") {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::InvalidInput, "diagnostics are off (start Coffer with COFFER_DIAGNOSTICS=1)"))
    }
}

/// What was last set on the tray icon and its menu.
#[tauri::command]
pub fn diagnostics_tray(app: AppHandle) -> Result<AppliedTray, Error> {
    enabled()?;
    crate::tray::applied(&app).ok_or_else(|| Error::new(ErrorKind::NotFound, "there is no tray icon"))
}

/// Runs a tray menu item through the handler the menu itself uses.
#[tauri::command]
pub fn diagnostics_tray_menu(app: AppHandle, id: String) -> Result<(), Error> {
    enabled()?;
    if !crate::tray::MENU_IDS.contains(&id.as_str()) {
        return Err(Error::new(ErrorKind::InvalidInput, format!("no tray menu item {id:?}")));
    }
    crate::tray::handle_menu(&app, &id);
    Ok(())
}

#[derive(Serialize)]
pub struct WindowState {
    pub visible: bool,
    pub minimized: bool,
    pub focused: bool,
}

/// The main window as GTK reports it.
#[tauri::command]
pub fn diagnostics_window(app: AppHandle) -> Result<WindowState, Error> {
    enabled()?;
    let window = app.get_webview_window("main").ok_or_else(|| Error::new(ErrorKind::NotFound, "there is no main window"))?;
    let failed = |e: tauri::Error| Error::new(ErrorKind::Io, format!("the window did not answer: {e}"));
    Ok(WindowState {
        visible: window.is_visible().map_err(failed)?,
        minimized: window.is_minimized().map_err(failed)?,
        focused: window.is_focused().map_err(failed)?,
    })
}

/// Asks the main window to close, as its title bar's close button does.
#[tauri::command]
pub fn diagnostics_close_window(app: AppHandle) -> Result<(), Error> {
    enabled()?;
    let window = app.get_webview_window("main").ok_or_else(|| Error::new(ErrorKind::NotFound, "there is no main window"))?;
    window.close().map_err(|e| Error::new(ErrorKind::Io, format!("the window did not close: {e}")))
}

/// The notifications decided on, oldest first.
#[tauri::command]
pub fn diagnostics_notices(app: AppHandle) -> Result<Vec<SentNotice>, Error> {
    enabled()?;
    Ok(crate::notices::sent(&app))
}
