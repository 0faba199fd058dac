//! The tray icon: status at a glance (idle, backing up n %, paused, error),
//! Back up now, Pause/Resume, Open Coffer, Quit.
//!
//! What the tray shows is decided by [`present`], a pure function of
//! [`TrayInputs`]; [`apply`] puts it on the real TrayIcon and menu and keeps
//! a record of what was set, which `diagnostics::diagnostics_tray` reports.

use std::sync::{Arc, Mutex};

use coffer_client::{Agent, BackupPhase, BackupProgress, ErrorKind};
use serde::Serialize;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Wry};

const TRAY_ID: &str = "coffer";

/// The four looks of the tray icon (file names under `icons/tray/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrayIconName {
    Idle,
    BackingUp,
    Paused,
    Error,
}

impl TrayIconName {
    fn png(self) -> &'static [u8] {
        match self {
            TrayIconName::Idle => include_bytes!("../../icons/tray/idle.png"),
            TrayIconName::BackingUp => include_bytes!("../../icons/tray/backing-up.png"),
            TrayIconName::Paused => include_bytes!("../../icons/tray/paused.png"),
            TrayIconName::Error => include_bytes!("../../icons/tray/error.png"),
        }
    }
}

/// What the tray depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrayInputs {
    pub signed_in: bool,
    /// A private-key account whose key is not entered on this device.
    pub locked: bool,
    pub paused: bool,
    /// The running backup, if any.
    pub backup: Option<RunningBackup>,
    /// Why the last backup failed, until a backup runs again.
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningBackup {
    /// Still counting what to upload: no percentage yet.
    pub scanning: bool,
    pub percent: u8,
}

impl RunningBackup {
    pub fn from_progress(p: &BackupProgress) -> RunningBackup {
        let percent = match (p.phase, p.bytes_total) {
            (BackupPhase::Finishing | BackupPhase::Done, _) => 100,
            (_, 0) => 0,
            (_, total) => (p.bytes_done.min(total) * 100 / total) as u8,
        };
        RunningBackup { scanning: p.phase == BackupPhase::Scanning, percent }
    }
}

/// One line of the tray menu, as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MenuLine {
    pub id: String,
    pub label: String,
    pub enabled: bool,
}

/// Everything the tray shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrayPresentation {
    pub icon: TrayIconName,
    pub tooltip: String,
    /// Text beside the icon where the desktop shows one (the percentage while backing up).
    pub title: Option<String>,
    pub menu: Vec<MenuLine>,
}

/// Menu ids, in menu order.
pub const MENU_IDS: [&str; 5] = ["status", "backup-now", "pause", "open", "quit"];

/// Decides what the tray shows. A running backup wins over everything but
/// being signed out; a pause the person chose wins over an old error.
pub fn present(inputs: &TrayInputs) -> TrayPresentation {
    let (icon, status, title) = if !inputs.signed_in {
        (TrayIconName::Idle, "Not signed in".to_owned(), None)
    } else if let Some(run) = &inputs.backup {
        if run.scanning {
            (TrayIconName::BackingUp, "Backing up… looking for changes".to_owned(), None)
        } else {
            (TrayIconName::BackingUp, format!("Backing up… {} %", run.percent), Some(format!("{} %", run.percent)))
        }
    } else if inputs.locked {
        (TrayIconName::Paused, "Locked: open Coffer and enter your key".to_owned(), None)
    } else if inputs.paused {
        (TrayIconName::Paused, "Backups are paused".to_owned(), None)
    } else if let Some(message) = &inputs.last_error {
        (TrayIconName::Error, format!("Backup failed: {message}"), None)
    } else {
        (TrayIconName::Idle, "Idle".to_owned(), None)
    };
    let can_back_up = inputs.signed_in && !inputs.locked && inputs.backup.is_none();
    let line = |id: &str, label: &str, enabled: bool| MenuLine { id: id.to_owned(), label: label.to_owned(), enabled };
    TrayPresentation {
        icon,
        tooltip: format!("Coffer — {status}"),
        title,
        menu: vec![
            line("status", &status, false),
            line("backup-now", "Back up now", can_back_up),
            line("pause", if inputs.paused { "Resume backups" } else { "Pause backups" }, inputs.signed_in),
            line("open", "Open Coffer", true),
            line("quit", "Quit Coffer", true),
        ],
    }
}

/// What was last set on the real TrayIcon and read back from its menu items.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AppliedTray {
    /// The icon whose `set_icon` last succeeded.
    pub icon: Option<TrayIconName>,
    pub tooltip: Option<String>,
    pub title: Option<String>,
    /// Labels and enabled state as the menu items report them.
    pub menu: Vec<MenuLine>,
    /// How many times a presentation was applied.
    pub updates: u64,
}

/// The tray's own state: the menu items, the inputs only the tray tracks,
/// and the record of what was applied.
struct TrayModel {
    items: Vec<MenuItem<Wry>>,
    backup: Mutex<Option<RunningBackup>>,
    last_error: Mutex<Option<String>>,
    applied: Mutex<AppliedTray>,
}

/// Creates the tray icon and its menu.
pub fn install(app: &AppHandle) -> tauri::Result<()> {
    let initial = present(&TrayInputs::default());
    let items = initial
        .menu
        .iter()
        .map(|line| MenuItem::with_id(app, &line.id, &line.label, line.enabled, None::<&str>))
        .collect::<tauri::Result<Vec<_>>>()?;
    let refs: Vec<&dyn tauri::menu::IsMenuItem<Wry>> = items.iter().map(|i| i as &dyn tauri::menu::IsMenuItem<Wry>).collect();
    let menu = Menu::with_items(app, &refs)?;
    TrayIconBuilder::with_id(TRAY_ID)
        .tooltip(&initial.tooltip)
        .icon(Image::from_bytes(initial.icon.png())?)
        .menu(&menu)
        .on_menu_event(|app, event| handle_menu(app, event.id().as_ref()))
        .build(app)?;
    app.manage(TrayModel {
        items,
        backup: Mutex::new(None),
        last_error: Mutex::new(None),
        applied: Mutex::new(AppliedTray::default()),
    });
    // Setup runs on the main thread: the first state is applied at once.
    if let Some(shown) = presentation(app) {
        apply(app, &shown);
    }
    Ok(())
}

/// What a menu item does; the tray menu and `diagnostics::diagnostics_tray_menu` both call this.
pub fn handle_menu(app: &AppHandle, id: &str) {
    match id {
        "backup-now" => {
            let agent = app.state::<Arc<Agent>>().inner().clone();
            match crate::commands::start_backup(app, &agent) {
                // Busy: the backup the person asked for is already running.
                Err(err) if err.kind != ErrorKind::Busy => show_error(app, &err.message),
                _ => {}
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
    }
}

/// Reads the agent and shows its state. Callable from any thread: the tray
/// is changed on the main thread, in the order of the calls.
pub fn refresh(app: &AppHandle) {
    let Some(shown) = presentation(app) else { return };
    let on_main = app.clone();
    // Tray and menu setters called from another thread wait for the main
    // thread; doing the whole update there means no lock is ever held while
    // waiting for it (a sync command on the main thread may want that lock).
    if let Err(err) = app.run_on_main_thread(move || apply(&on_main, &shown)) {
        tracing::warn!("the tray could not be updated: {err}");
    }
}

fn presentation(app: &AppHandle) -> Option<TrayPresentation> {
    let (agent, model) = (app.try_state::<Arc<Agent>>()?, app.try_state::<TrayModel>()?);
    let status = agent.status();
    let inputs = TrayInputs {
        signed_in: status.signed_in,
        locked: status.locked,
        paused: agent.is_paused(),
        backup: model.backup.lock().expect("tray backup").clone(),
        last_error: model.last_error.lock().expect("tray error").clone(),
    };
    Some(present(&inputs))
}

/// Shows a running backup's percentage, or the state after it when `progress` is None.
pub fn show_progress(app: &AppHandle, progress: Option<&BackupProgress>) {
    let Some(model) = app.try_state::<TrayModel>() else { return };
    if progress.is_some() {
        // A new run supersedes the last one's failure.
        *model.last_error.lock().expect("tray error") = None;
    }
    *model.backup.lock().expect("tray backup") = progress.map(RunningBackup::from_progress);
    refresh(app);
}

/// Shows that the last backup failed, until the next one runs.
pub fn show_error(app: &AppHandle, message: &str) {
    let Some(model) = app.try_state::<TrayModel>() else { return };
    *model.last_error.lock().expect("tray error") = Some(message.to_owned());
    refresh(app);
}

/// What was last applied to the real tray.
pub fn applied(app: &AppHandle) -> Option<AppliedTray> {
    app.try_state::<TrayModel>().map(|m| m.applied.lock().expect("tray record").clone())
}

/// Sets `shown` on the TrayIcon and the menu items; records each part only
/// when the tray accepted it, and the menu as its items report it. Runs on
/// the main thread only, so updates never interleave.
fn apply(app: &AppHandle, shown: &TrayPresentation) {
    let Some(model) = app.try_state::<TrayModel>() else { return };
    let mut record = model.applied.lock().expect("tray record").clone();
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        if record.icon != Some(shown.icon) {
            match Image::from_bytes(shown.icon.png()).and_then(|image| tray.set_icon(Some(image))) {
                Ok(()) => record.icon = Some(shown.icon),
                Err(err) => tracing::warn!("the tray icon could not be changed: {err}"),
            }
        }
        if tray.set_tooltip(Some(&shown.tooltip)).is_ok() {
            record.tooltip = Some(shown.tooltip.clone());
        }
        if tray.set_title(shown.title.as_deref()).is_ok() {
            record.title.clone_from(&shown.title);
        }
    }
    for (item, line) in model.items.iter().zip(&shown.menu) {
        let _ = item.set_text(&line.label);
        let _ = item.set_enabled(line.enabled);
    }
    record.menu = model
        .items
        .iter()
        .map(|item| MenuLine {
            id: item.id().as_ref().to_owned(),
            label: item.text().unwrap_or_default(),
            enabled: item.is_enabled().unwrap_or(false),
        })
        .collect();
    record.updates += 1;
    *model.applied.lock().expect("tray record") = record;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_in() -> TrayInputs {
        TrayInputs { signed_in: true, ..Default::default() }
    }

    fn labels(p: &TrayPresentation) -> Vec<(&str, &str, bool)> {
        p.menu.iter().map(|l| (l.id.as_str(), l.label.as_str(), l.enabled)).collect()
    }

    fn progress(phase: BackupPhase, done: u64, total: u64) -> BackupProgress {
        BackupProgress {
            phase,
            files_done: 0,
            files_total: 0,
            bytes_done: done,
            bytes_total: total,
            current_file: None,
            bytes_per_second: 0,
            eta_seconds: None,
            skipped: 0,
        }
    }

    #[test]
    fn idle_offers_every_action() {
        let p = present(&signed_in());
        assert_eq!(p.icon, TrayIconName::Idle);
        assert_eq!(p.tooltip, "Coffer — Idle");
        assert_eq!(p.title, None);
        assert_eq!(
            labels(&p),
            [
                ("status", "Idle", false),
                ("backup-now", "Back up now", true),
                ("pause", "Pause backups", true),
                ("open", "Open Coffer", true),
                ("quit", "Quit Coffer", true),
            ]
        );
        assert_eq!(p.menu.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(), MENU_IDS);
    }

    #[test]
    fn a_running_backup_shows_its_percentage_and_cannot_be_started_twice() {
        let run = RunningBackup::from_progress(&progress(BackupPhase::Uploading, 420, 1000));
        let p = present(&TrayInputs { backup: Some(run), ..signed_in() });
        assert_eq!(p.icon, TrayIconName::BackingUp);
        assert_eq!(p.tooltip, "Coffer — Backing up… 42 %");
        assert_eq!(p.title.as_deref(), Some("42 %"));
        assert_eq!(labels(&p)[0], ("status", "Backing up… 42 %", false));
        assert_eq!(labels(&p)[1], ("backup-now", "Back up now", false));
        assert_eq!(labels(&p)[2], ("pause", "Pause backups", true));
    }

    #[test]
    fn percentages_stay_between_0_and_100() {
        let pct = |phase, done, total| RunningBackup::from_progress(&progress(phase, done, total));
        assert_eq!(pct(BackupPhase::Scanning, 0, 0), RunningBackup { scanning: true, percent: 0 });
        assert_eq!(pct(BackupPhase::Uploading, 5, 0).percent, 0, "nothing to upload yet");
        assert_eq!(pct(BackupPhase::Uploading, 1500, 1000).percent, 100, "more done than counted");
        assert_eq!(pct(BackupPhase::Finishing, 10, 1000).percent, 100);
        let scanning = present(&TrayInputs { backup: Some(pct(BackupPhase::Scanning, 0, 0)), ..signed_in() });
        assert_eq!(scanning.icon, TrayIconName::BackingUp);
        assert_eq!(scanning.tooltip, "Coffer — Backing up… looking for changes");
        assert_eq!(scanning.title, None, "no percentage before the total is known");
    }

    #[test]
    fn paused_offers_resume() {
        let p = present(&TrayInputs { paused: true, ..signed_in() });
        assert_eq!(p.icon, TrayIconName::Paused);
        assert_eq!(p.tooltip, "Coffer — Backups are paused");
        assert_eq!(labels(&p)[1], ("backup-now", "Back up now", true), "a manual backup is still possible");
        assert_eq!(labels(&p)[2], ("pause", "Resume backups", true));
    }

    #[test]
    fn a_failure_shows_until_the_next_run_and_a_pause_hides_it() {
        let failed = TrayInputs { last_error: Some("the service is unreachable".into()), ..signed_in() };
        let p = present(&failed);
        assert_eq!(p.icon, TrayIconName::Error);
        assert_eq!(p.tooltip, "Coffer — Backup failed: the service is unreachable");
        assert_eq!(labels(&p)[1], ("backup-now", "Back up now", true), "try again from the tray");
        let running = present(&TrayInputs {
            backup: Some(RunningBackup { scanning: false, percent: 3 }),
            ..failed.clone()
        });
        assert_eq!(running.icon, TrayIconName::BackingUp);
        assert_eq!(present(&TrayInputs { paused: true, ..failed }).icon, TrayIconName::Paused);
    }

    #[test]
    fn signed_out_or_locked_cannot_back_up() {
        let out = present(&TrayInputs::default());
        assert_eq!(out.icon, TrayIconName::Idle);
        assert_eq!(out.tooltip, "Coffer — Not signed in");
        assert_eq!(labels(&out)[1], ("backup-now", "Back up now", false));
        assert_eq!(labels(&out)[2], ("pause", "Pause backups", false));
        assert_eq!(labels(&out)[3], ("open", "Open Coffer", true));
        let locked = present(&TrayInputs { locked: true, ..signed_in() });
        assert_eq!(locked.icon, TrayIconName::Paused);
        assert_eq!(locked.tooltip, "Coffer — Locked: open Coffer and enter your key");
        assert_eq!(labels(&locked)[1], ("backup-now", "Back up now", false));
    }

    #[test]
    fn every_state_has_its_own_icon() {
        let icons = [TrayIconName::Idle, TrayIconName::BackingUp, TrayIconName::Paused, TrayIconName::Error];
        let pngs: Vec<&[u8]> = icons.iter().map(|i| i.png()).collect();
        for (i, a) in pngs.iter().enumerate() {
            assert!(Image::from_bytes(a).is_ok(), "{:?} is a PNG", icons[i]);
            for b in &pngs[i + 1..] {
                assert_ne!(a, b, "two states share an icon");
            }
        }
    }
}
