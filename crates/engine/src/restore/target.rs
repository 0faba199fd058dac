//! The restore target folder: every operation names an entry by a relative
//! path of already-checked components and never follows a link below the
//! target.
//!
//! On Unix each operation walks from a descriptor of the target folder with
//! `openat(…, O_DIRECTORY | O_NOFOLLOW)` per component, then acts with the
//! `*at` calls on the last one, so a link planted anywhere below the target
//! makes the operation fail instead of escaping. The descriptors of folders
//! walked are kept (the most recently used [`FOLDERS_KEPT`]) and a walk starts from the deepest kept ancestor, so a restore opens
//! each folder about once instead of its whole path once per file. A link
//! planted in place of a kept folder *during* the restore is then not met
//! at all — the operation acts in the folder that was walked, which is
//! below the target — so it still never escapes. Files are created with
//! `O_CREAT | O_EXCL | O_NOFOLLOW` straight away; only when something is
//! already there is it looked at (and replaced, unless it is a folder).
//! Elsewhere the same checks are made on paths (`symlink_metadata` of every
//! ancestor just before acting), which leaves a small race window.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Why an entry could not be written, for `Skipped::reason`.
pub(crate) type Refusal = String;

pub(crate) struct Target {
    root: PathBuf,
    #[cfg(unix)]
    fd: std::os::fd::OwnedFd,
    /// Folders already walked, by relative path (see the module comment).
    #[cfg(unix)]
    folders: std::sync::Mutex<imp::Folders>,
}

/// Folder descriptors a [`Target`] keeps open at most: far more than the
/// folders a restore's threads work in at once, far below the common
/// open-file limits (256 on macOS, 1024 on Linux).
#[cfg(unix)]
const FOLDERS_KEPT: usize = 128;

/// What occupies a name in the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Existing {
    Nothing,
    Dir,
    /// A file, link or anything else that is not a folder.
    Other,
}

fn refuse(what: &str, e: io::Error) -> Refusal {
    if is_link_error(&e) {
        format!("{what}: a folder on the way is a link or not a folder (not followed)")
    } else {
        format!("{what}: {e}")
    }
}

fn is_link_error(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        // ELOOP from O_NOFOLLOW, ENOTDIR from O_DIRECTORY on a link or file.
        matches!(e.raw_os_error(), Some(code) if code == libc_eloop() || code == libc_enotdir())
    }
    #[cfg(not(unix))]
    {
        e.kind() == io::ErrorKind::Other && e.to_string().contains("link")
    }
}

#[cfg(unix)]
fn libc_eloop() -> i32 {
    rustix::io::Errno::LOOP.raw_os_error()
}

#[cfg(unix)]
fn libc_enotdir() -> i32 {
    rustix::io::Errno::NOTDIR.raw_os_error()
}

/// Splits a relative path into its parent components and final name.
fn split(rel: &Path) -> (Vec<&std::ffi::OsStr>, &std::ffi::OsStr) {
    let mut parts: Vec<&std::ffi::OsStr> = rel.iter().collect();
    let name = parts.pop().expect("restore paths are never empty");
    (parts, name)
}

pub(crate) fn system_time(mtime_ns: i64) -> std::time::SystemTime {
    use std::time::{Duration, UNIX_EPOCH};
    if mtime_ns >= 0 {
        UNIX_EPOCH + Duration::from_nanos(mtime_ns as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(mtime_ns.unsigned_abs())
    }
}

#[cfg(unix)]
mod imp {
    use super::*;
    use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
    use std::collections::HashMap;
    use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
    use std::sync::Arc;

    fn dir_flags() -> OFlags {
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
    }

    impl Target {
        /// Creates the target folder (following links in the path the person
        /// chose) and holds a descriptor of it.
        pub(crate) fn open(root: &Path) -> io::Result<Target> {
            std::fs::create_dir_all(root)?;
            let fd = rfs::open(root, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
            Ok(Target {
                root: root.to_owned(),
                fd,
                folders: Default::default(),
            })
        }

        /// The folder at `parts` below the target, walked one component at
        /// a time from the deepest kept ancestor, refusing links; every
        /// folder opened on the way is kept.
        fn folder(&self, parts: &[&std::ffi::OsStr]) -> io::Result<Arc<OwnedFd>> {
            let lock = || self.folders.lock().unwrap_or_else(|p| p.into_inner());
            let mut key: PathBuf = parts.iter().collect();
            let mut depth = parts.len();
            let mut current: Option<Arc<OwnedFd>> = None;
            {
                let mut folders = lock();
                while depth > 0 {
                    if let Some(fd) = folders.get(&key) {
                        current = Some(fd);
                        break;
                    }
                    depth -= 1;
                    key.pop();
                }
            }
            for part in &parts[depth..] {
                let base: BorrowedFd<'_> = match &current {
                    Some(fd) => fd.as_fd(),
                    None => self.fd.as_fd(),
                };
                let next = Arc::new(rfs::openat(base, *part, dir_flags(), Mode::empty())?);
                key.push(part);
                lock().put(key.clone(), Arc::clone(&next));
                current = Some(next);
            }
            Ok(current.expect("parts are not empty"))
        }

        fn with_parent<T>(
            &self,
            rel: &Path,
            f: impl FnOnce(BorrowedFd<'_>, &std::ffi::OsStr) -> io::Result<T>,
        ) -> io::Result<T> {
            let (parts, name) = split(rel);
            if parts.is_empty() {
                return f(self.fd.as_fd(), name);
            }
            let parent = self.folder(&parts)?;
            f(parent.as_fd(), name)
        }

        fn existing(dir: BorrowedFd<'_>, name: &std::ffi::OsStr) -> io::Result<Existing> {
            match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Directory => {
                    Ok(Existing::Dir)
                }
                Ok(_) => Ok(Existing::Other),
                Err(rustix::io::Errno::NOENT) => Ok(Existing::Nothing),
                Err(e) => Err(e.into()),
            }
        }

        /// Whether something (file, folder, link) is at `rel`.
        pub(crate) fn exists(&self, rel: &Path) -> bool {
            self.with_parent(rel, |dir, name| Ok(!matches!(Self::existing(dir, name)?, Existing::Nothing)))
                .unwrap_or(false)
        }

        /// Makes `rel` a real folder: keeps one that is there, replaces a
        /// file or link in the way.
        pub(crate) fn make_dir(&self, rel: &Path) -> Result<(), Refusal> {
            self.with_parent(rel, |dir, name| {
                match Self::existing(dir, name)? {
                    Existing::Dir => return Ok(()),
                    Existing::Other => rfs::unlinkat(dir, name, AtFlags::empty())?,
                    Existing::Nothing => {}
                }
                match rfs::mkdirat(dir, name, Mode::from_raw_mode(0o700)) {
                    Err(rustix::io::Errno::EXIST) if Self::existing(dir, name)? == Existing::Dir => {
                        Ok(())
                    }
                    other => other.map_err(io::Error::from),
                }
            })
            .map_err(|e| refuse("cannot create folder", e))
        }

        /// Creates `rel` as a new, empty file (mode 0600 until finished),
        /// replacing a file or link there; a folder in the way is refused.
        pub(crate) fn create_file(&self, rel: &Path) -> Result<File, Refusal> {
            self.with_parent(rel, |dir, name| {
                // O_EXCL: never follows or reuses whatever is there, so a
                // fresh name costs one call and anything else is looked at.
                let create = || {
                    rfs::openat(
                        dir,
                        name,
                        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::from_raw_mode(0o600),
                    )
                };
                match create() {
                    Err(rustix::io::Errno::EXIST) => {}
                    other => return Ok(File::from(other?)),
                }
                if Self::existing(dir, name)? == Existing::Dir {
                    return Err(io::Error::new(io::ErrorKind::Other, "a folder is in the way"));
                }
                match rfs::unlinkat(dir, name, AtFlags::empty()) {
                    Ok(()) | Err(rustix::io::Errno::NOENT) => {}
                    Err(e) => return Err(e.into()),
                }
                Ok(File::from(create()?))
            })
            .map_err(|e| refuse("cannot create file", e))
        }

        /// Opens a file this restore created, for writing at offsets.
        pub(crate) fn open_file(&self, rel: &Path) -> io::Result<File> {
            self.with_parent(rel, |dir, name| {
                let fd = rfs::openat(dir, name, OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())?;
                let file = File::from(fd);
                if !file.metadata()?.is_file() {
                    return Err(io::Error::new(io::ErrorKind::Other, "no longer a regular file"));
                }
                Ok(file)
            })
        }

        pub(crate) fn remove_file(&self, rel: &Path) -> io::Result<()> {
            self.with_parent(rel, |dir, name| {
                if Self::existing(dir, name)? == Existing::Dir {
                    return Ok(());
                }
                rfs::unlinkat(dir, name, AtFlags::empty()).map_err(Into::into)
            })
        }

        /// Creates a link at `rel` (replacing a file or link there) and sets
        /// the link's own mtime.
        pub(crate) fn symlink(&self, rel: &Path, target: &str, mtime_ns: i64) -> Result<(), Refusal> {
            self.with_parent(rel, |dir, name| {
                match Self::existing(dir, name)? {
                    Existing::Dir => {
                        return Err(io::Error::new(io::ErrorKind::Other, "a folder is in the way"))
                    }
                    Existing::Other => rfs::unlinkat(dir, name, AtFlags::empty())?,
                    Existing::Nothing => {}
                }
                rfs::symlinkat(target, dir, name)?;
                Ok(())
            })
            .map_err(|e| refuse("cannot create link", e))?;
            self.with_parent(rel, |dir, name| {
                let time = timespec(mtime_ns);
                let times = rfs::Timestamps {
                    last_access: time,
                    last_modification: time,
                };
                rfs::utimensat(dir, name, &times, AtFlags::SYMLINK_NOFOLLOW).map_err(Into::into)
            })
            .map_err(|e| format!("link restored, but not its time: {e}"))
        }

        /// Sets a folder's mode and mtime, without following a link there.
        pub(crate) fn set_dir_metadata(&self, rel: &Path, mode: u32, mtime_ns: i64) -> io::Result<()> {
            let fd = self.with_parent(rel, |dir, name| {
                rfs::openat(dir, name, dir_flags(), Mode::empty()).map_err(Into::into)
            })?;
            set_metadata(&File::from(fd), mode, mtime_ns)
        }
    }

    /// Kept folder descriptors by relative path; the least recently used
    /// is closed when [`FOLDERS_KEPT`] are open.
    #[derive(Default)]
    pub(crate) struct Folders {
        open: HashMap<PathBuf, (Arc<OwnedFd>, u64)>,
        clock: u64,
    }

    impl Folders {
        fn get(&mut self, key: &Path) -> Option<Arc<OwnedFd>> {
            self.clock += 1;
            let (fd, used) = self.open.get_mut(key)?;
            *used = self.clock;
            Some(Arc::clone(fd))
        }

        fn put(&mut self, key: PathBuf, fd: Arc<OwnedFd>) {
            if self.open.len() >= FOLDERS_KEPT && !self.open.contains_key(&key) {
                let oldest = self.open.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    self.open.remove(&oldest);
                }
            }
            self.clock += 1;
            self.open.insert(key, (fd, self.clock));
        }
    }

    fn timespec(mtime_ns: i64) -> rfs::Timespec {
        rfs::Timespec {
            tv_sec: mtime_ns.div_euclid(1_000_000_000),
            tv_nsec: mtime_ns.rem_euclid(1_000_000_000) as _,
        }
    }

    /// Sets mode (setuid/setgid dropped: the owner is not restored either)
    /// and mtime on an open file or folder.
    pub(crate) fn set_metadata(file: &File, mode: u32, mtime_ns: i64) -> io::Result<()> {
        file.set_modified(system_time(mtime_ns))?;
        rfs::fchmod(file, Mode::from_raw_mode(mode & 0o1777))?;
        Ok(())
    }
}

#[cfg(not(unix))]
mod imp {
    use super::*;
    use std::fs::{self, OpenOptions};

    fn check_parents(root: &Path, rel: &Path) -> io::Result<PathBuf> {
        let (parts, _) = split(rel);
        let mut path = root.to_owned();
        for part in parts {
            path.push(part);
            let meta = fs::symlink_metadata(&path)?;
            if !meta.is_dir() || meta.file_type().is_symlink() {
                return Err(io::Error::new(io::ErrorKind::Other, "a folder on the way is a link"));
            }
        }
        Ok(root.join(rel))
    }

    fn existing(path: &Path) -> Existing {
        match fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() && !m.file_type().is_symlink() => Existing::Dir,
            Ok(_) => Existing::Other,
            Err(_) => Existing::Nothing,
        }
    }

    fn remove_entry(path: &Path) -> io::Result<()> {
        // A link to a folder is removed as a folder on Windows.
        fs::remove_file(path).or_else(|_| fs::remove_dir(path))
    }

    impl Target {
        pub(crate) fn open(root: &Path) -> io::Result<Target> {
            fs::create_dir_all(root)?;
            Ok(Target {
                root: root.to_owned(),
            })
        }

        pub(crate) fn exists(&self, rel: &Path) -> bool {
            !matches!(existing(&self.root.join(rel)), Existing::Nothing)
        }

        pub(crate) fn make_dir(&self, rel: &Path) -> Result<(), Refusal> {
            (|| {
                let path = check_parents(&self.root, rel)?;
                match existing(&path) {
                    Existing::Dir => return Ok(()),
                    Existing::Other => remove_entry(&path)?,
                    Existing::Nothing => {}
                }
                fs::create_dir(&path)
            })()
            .map_err(|e| refuse("cannot create folder", e))
        }

        pub(crate) fn create_file(&self, rel: &Path) -> Result<File, Refusal> {
            (|| {
                let path = check_parents(&self.root, rel)?;
                match existing(&path) {
                    Existing::Dir => {
                        return Err(io::Error::new(io::ErrorKind::Other, "a folder is in the way"))
                    }
                    Existing::Other => remove_entry(&path)?,
                    Existing::Nothing => {}
                }
                OpenOptions::new().write(true).create_new(true).open(&path)
            })()
            .map_err(|e| refuse("cannot create file", e))
        }

        pub(crate) fn open_file(&self, rel: &Path) -> io::Result<File> {
            let path = check_parents(&self.root, rel)?;
            if existing(&path) != Existing::Other || fs::symlink_metadata(&path)?.file_type().is_symlink() {
                return Err(io::Error::new(io::ErrorKind::Other, "no longer a regular file"));
            }
            OpenOptions::new().write(true).open(&path)
        }

        pub(crate) fn remove_file(&self, rel: &Path) -> io::Result<()> {
            let path = check_parents(&self.root, rel)?;
            if existing(&path) == Existing::Dir {
                return Ok(());
            }
            fs::remove_file(path)
        }

        pub(crate) fn symlink(&self, rel: &Path, _target: &str, _mtime_ns: i64) -> Result<(), Refusal> {
            let _ = rel;
            Err("symlinks are only restored on Unix".into())
        }

        pub(crate) fn set_dir_metadata(&self, rel: &Path, mode: u32, mtime_ns: i64) -> io::Result<()> {
            let path = check_parents(&self.root, rel)?;
            if existing(&path) != Existing::Dir {
                return Err(io::Error::new(io::ErrorKind::Other, "no longer a folder"));
            }
            let dir = File::open(path)?;
            set_metadata(&dir, mode, mtime_ns)
        }
    }

    pub(crate) fn set_metadata(file: &File, mode: u32, mtime_ns: i64) -> io::Result<()> {
        file.set_modified(system_time(mtime_ns))?;
        let mut perms = file.metadata()?.permissions();
        perms.set_readonly(mode & 0o222 == 0);
        file.set_permissions(perms)
    }
}

pub(crate) use imp::set_metadata;

impl Target {
    /// The absolute path of `rel`, for reports.
    pub(crate) fn display_path(&self, rel: &Path) -> PathBuf {
        self.root.join(rel)
    }
}
