//! Start at login, opt-in, minimized to the tray.
//!
//! On Linux Coffer writes its XDG autostart entry itself, to
//! `$XDG_CONFIG_HOME/autostart/Coffer.desktop` (`~/.config` when that is not
//! set), with the program path quoted as the Desktop Entry specification
//! asks. tauri-plugin-autostart 2.7 (auto-launch 0.6) always writes under
//! `$HOME/.config`, which a session with another `XDG_CONFIG_HOME` never
//! reads, and does not quote the path, so a path with a space does not start.
//! Elsewhere the plugin does the work.

use coffer_client::{Error, ErrorKind};
use tauri::AppHandle;

/// The argument the entry starts Coffer with (main.rs hides the window for it).
pub const MINIMIZED: &str = "--minimized";

/// Whether Coffer starts when the person signs in.
///
/// # Errors
/// `Io` when the setting cannot be read.
pub fn is_enabled(app: &AppHandle) -> Result<bool, Error> {
    platform::is_enabled(app).map_err(|e| Error::new(ErrorKind::Io, format!("cannot read the start-at-login setting: {e}")))
}

/// Turns start at login on or off.
///
/// # Errors
/// `Io` when the entry cannot be written or removed; nothing changed then.
pub fn set_enabled(app: &AppHandle, enabled: bool) -> Result<(), Error> {
    platform::set_enabled(app, enabled).map_err(|e| Error::new(ErrorKind::Io, format!("cannot change the start-at-login setting: {e}")))
}

#[cfg(target_os = "linux")]
mod platform {
    use std::ffi::OsString;
    use std::path::{Path, PathBuf};

    use tauri::AppHandle;

    pub fn is_enabled(app: &AppHandle) -> std::io::Result<bool> {
        Ok(entry_path(std::env::var_os("XDG_CONFIG_HOME"), std::env::var_os("HOME"), &name(app))?.exists())
    }

    pub fn set_enabled(app: &AppHandle, enabled: bool) -> std::io::Result<()> {
        let name = name(app);
        let path = entry_path(std::env::var_os("XDG_CONFIG_HOME"), std::env::var_os("HOME"), &name)?;
        if enabled {
            // An AppImage's own path, not the temporary mount it runs from.
            let program = match std::env::var_os("APPIMAGE") {
                Some(image) if !image.is_empty() => PathBuf::from(image),
                _ => std::env::current_exe()?,
            };
            let program = program.to_str().ok_or_else(|| std::io::Error::other("Coffer's path is not valid UTF-8"))?;
            write_entry(&path, &super::desktop_entry(&name, program, &[super::MINIMIZED]))
        } else {
            remove(&path)?;
            // Where tauri-plugin-autostart wrote it before (~/.config/autostart).
            match std::env::var_os("HOME") {
                Some(home) => remove(&entry_path(None, Some(home), &name)?),
                None => Ok(()),
            }
        }
    }

    fn name(app: &AppHandle) -> String {
        app.package_info().name.clone()
    }

    /// `$XDG_CONFIG_HOME/autostart/NAME.desktop`; the spec says a relative
    /// XDG_CONFIG_HOME is ignored, which leaves `$HOME/.config`.
    pub fn entry_path(xdg_config_home: Option<OsString>, home: Option<OsString>, name: &str) -> std::io::Result<PathBuf> {
        let config = match xdg_config_home.map(PathBuf::from) {
            Some(dir) if dir.is_absolute() => dir,
            _ => match home.map(PathBuf::from) {
                Some(home) if home.is_absolute() => home.join(".config"),
                _ => return Err(std::io::Error::new(std::io::ErrorKind::NotFound, "neither XDG_CONFIG_HOME nor HOME is set")),
            },
        };
        Ok(config.join("autostart").join(format!("{name}.desktop")))
    }

    fn write_entry(path: &Path, text: &str) -> std::io::Result<()> {
        let dir = path.parent().expect("an entry path has a folder");
        std::fs::create_dir_all(dir)?;
        // Written whole, then renamed: a session starting now never reads half an entry.
        let partial = dir.join(format!(".{}.partial", path.file_name().and_then(|n| n.to_str()).unwrap_or("entry")));
        std::fs::write(&partial, text)?;
        std::fs::rename(&partial, path)
    }

    fn remove(path: &Path) -> std::io::Result<()> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_entry_goes_where_the_session_reads_autostart_entries() {
            let at = |xdg: Option<&str>, home: Option<&str>| entry_path(xdg.map(Into::into), home.map(Into::into), "Coffer").ok();
            assert_eq!(at(Some("/srv/ada/cfg"), Some("/home/ada")), Some("/srv/ada/cfg/autostart/Coffer.desktop".into()));
            assert_eq!(at(None, Some("/home/ada")), Some("/home/ada/.config/autostart/Coffer.desktop".into()));
            assert_eq!(at(Some("relative/cfg"), Some("/home/ada")), Some("/home/ada/.config/autostart/Coffer.desktop".into()));
            assert_eq!(at(None, None), None);
        }

        #[test]
        fn writing_and_removing_an_entry() {
            let dir = std::env::temp_dir().join(format!("coffer-autostart-{}", std::process::id()));
            let path = dir.join("autostart/Coffer.desktop");
            write_entry(&path, "[Desktop Entry]\n").unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), "[Desktop Entry]\n");
            assert_eq!(std::fs::read_dir(dir.join("autostart")).unwrap().count(), 1, "no partial file left");
            remove(&path).unwrap();
            assert!(!path.exists());
            remove(&path).unwrap();
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod platform {
    use tauri::AppHandle;
    use tauri_plugin_autostart::ManagerExt;

    pub fn is_enabled(app: &AppHandle) -> Result<bool, tauri_plugin_autostart::Error> {
        app.autolaunch().is_enabled()
    }

    pub fn set_enabled(app: &AppHandle, enabled: bool) -> Result<(), tauri_plugin_autostart::Error> {
        let launcher = app.autolaunch();
        if enabled {
            launcher.enable()
        } else {
            launcher.disable()
        }
    }
}

/// A Desktop Entry that starts `program` with `args` when the session starts.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn desktop_entry(name: &str, program: &str, args: &[&str]) -> String {
    let exec: Vec<String> = std::iter::once(program).chain(args.iter().copied()).map(exec_argument).collect();
    format!(
        "[Desktop Entry]\nType=Application\nVersion=1.0\nName={name}\nComment=Start {name} in the tray when you sign in\n\
         Exec={}\nTerminal=false\nStartupNotify=false\nX-GNOME-Autostart-enabled=true\n",
        exec.join(" ")
    )
}

/// One `Exec` argument, quoted and escaped as the Desktop Entry spec asks:
/// an argument with a reserved character is double-quoted with `"`, `` ` ``,
/// `$` and `\` backslash-escaped; then, as in every string value, each `\` is
/// doubled; `%` (field codes) is written `%%`.
fn exec_argument(arg: &str) -> String {
    const RESERVED: &[char] = &[' ', '\t', '\n', '"', '\'', '\\', '>', '<', '~', '|', '&', ';', '$', '*', '?', '#', '(', ')', '`'];
    let quoted = if arg.is_empty() || arg.contains(RESERVED) {
        let mut q = String::from("\"");
        for c in arg.chars() {
            if matches!(c, '"' | '`' | '$' | '\\') {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        q
    } else {
        arg.to_owned()
    };
    quoted.replace('\\', "\\\\").replace('%', "%%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_starts_this_program_minimized() {
        let entry = desktop_entry("Coffer", "/usr/bin/coffer-desktop", &[MINIMIZED]);
        assert_eq!(
            entry,
            "[Desktop Entry]\nType=Application\nVersion=1.0\nName=Coffer\nComment=Start Coffer in the tray when you sign in\n\
             Exec=/usr/bin/coffer-desktop --minimized\nTerminal=false\nStartupNotify=false\nX-GNOME-Autostart-enabled=true\n"
        );
    }

    #[test]
    fn paths_with_spaces_and_specials_are_quoted() {
        assert_eq!(exec_argument("/home/ada/My Apps/Coffer.AppImage"), "\"/home/ada/My Apps/Coffer.AppImage\"");
        assert_eq!(exec_argument("/opt/$HOME/100%/a\"b"), "\"/opt/\\\\$HOME/100%%/a\\\\\"b\"");
        assert_eq!(exec_argument("/opt/back\\slash"), "\"/opt/back\\\\\\\\slash\"", "a literal backslash is four");
        assert_eq!(exec_argument("--minimized"), "--minimized");
    }
}
