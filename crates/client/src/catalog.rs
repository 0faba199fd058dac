//! The agent's local catalog (SQLite): which service and account this agent
//! belongs to, the folders the person chose, each file's last seen state so an
//! unchanged file is not read again, and the history of backup runs. It never
//! holds a secret: tokens and keys live in the OS keychain.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use coffer_engine::{FileCache, FileFingerprint, Id};
use rusqlite::{params, Connection, OptionalExtension};
use rusqlite_migration::{Migrations, M};

use crate::error::{Error, ErrorKind, Result};

const MIGRATIONS: &[M<'static>] = &[M::up(
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE folders (path TEXT PRIMARY KEY, added_at INTEGER NOT NULL);
     CREATE TABLE files (
         path TEXT PRIMARY KEY,
         size INTEGER NOT NULL,
         mtime_ns INTEGER NOT NULL,
         ctime_ns INTEGER NOT NULL,
         inode INTEGER NOT NULL,
         content BLOB NOT NULL
     );
     -- What a running backup learned; moved into `files` only once its
     -- snapshot is committed, so the catalog never points at data the
     -- service does not have.
     CREATE TABLE files_pending (
         path TEXT PRIMARY KEY,
         size INTEGER NOT NULL,
         mtime_ns INTEGER NOT NULL,
         ctime_ns INTEGER NOT NULL,
         inode INTEGER NOT NULL,
         content BLOB NOT NULL
     );
     CREATE TABLE backup_runs (
         id INTEGER PRIMARY KEY,
         started_at INTEGER NOT NULL,
         finished_at INTEGER,
         status TEXT NOT NULL,
         snapshot_id TEXT,
         files_total INTEGER NOT NULL DEFAULT 0,
         files_read INTEGER NOT NULL DEFAULT 0,
         bytes_read INTEGER NOT NULL DEFAULT 0,
         bytes_uploaded INTEGER NOT NULL DEFAULT 0,
         skipped INTEGER NOT NULL DEFAULT 0,
         error TEXT
     );",
), M::up(
    "-- A switch of the account to a new data key (key_switch.rs), while it
     -- runs: at most one row. No key is kept here: the new key only as the
     -- service will hold it (wrapped under the person's new key and the
     -- recovery code), the recovery code only sealed under the new key.
     CREATE TABLE key_switch (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         started_at INTEGER NOT NULL,
         stage TEXT NOT NULL,
         old_key_tag TEXT NOT NULL,
         wrapped_keys TEXT NOT NULL,
         sealed_recovery BLOB NOT NULL
     );
     -- The objects written under the old key, deleted once the switch commits.
     CREATE TABLE key_switch_old (kind TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (kind, id));
     -- Each old snapshot copied: its copy's file, sealed under the new key,
     -- stored as is when the switch commits (so never twice).
     CREATE TABLE key_switch_copies (
         old_snapshot TEXT PRIMARY KEY,
         copied_at INTEGER NOT NULL,
         bytes INTEGER NOT NULL,
         new_snapshot TEXT NOT NULL,
         new_file BLOB NOT NULL
     );
     -- The objects written under the new key: packs as they are uploaded,
     -- index files as the switch commits.
     CREATE TABLE key_switch_new (kind TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (kind, id));
     -- Old blob id -> new blob id (type 0 data, 1 tree), for blobs stored.
     CREATE TABLE key_switch_blobs (type INTEGER NOT NULL, old BLOB NOT NULL, new BLOB NOT NULL, PRIMARY KEY (type, old));",
)];

/// A chosen folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    pub path: PathBuf,
    pub added_at: i64,
}

/// The catalog file of one agent.
pub struct Catalog {
    conn: Mutex<Connection>,
}

impl Catalog {
    /// Opens (creating and upgrading as needed) the catalog at `path`.
    ///
    /// # Errors
    /// `Io` when the file cannot be opened or upgraded.
    pub fn open(path: &Path) -> Result<Catalog> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Migrations::from_slice(MIGRATIONS).to_latest(&mut conn)?;
        Ok(Catalog { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The connection, for a module that keeps its own tables (`key_switch.rs`).
    pub(crate) fn with_connection<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        Ok(f(&mut self.conn())?)
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    pub fn folders(&self) -> Result<Vec<Folder>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT path, added_at FROM folders ORDER BY path")?;
        let rows = stmt.query_map([], |r| Ok(Folder { path: PathBuf::from(r.get::<_, String>(0)?), added_at: r.get(1)? }))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Adds a folder; adding one that is already chosen changes nothing.
    pub fn add_folder(&self, path: &Path, now: i64) -> Result<()> {
        self.conn()
            .execute("INSERT OR IGNORE INTO folders (path, added_at) VALUES (?1, ?2)", params![path_text(path)?, now])?;
        Ok(())
    }

    /// Removes a chosen folder.
    ///
    /// # Errors
    /// `NotFound` when the folder was not chosen.
    pub fn remove_folder(&self, path: &Path) -> Result<()> {
        let removed = self.conn().execute("DELETE FROM folders WHERE path = ?1", [path_text(path)?])?;
        if removed == 0 {
            return Err(Error::new(ErrorKind::NotFound, format!("{} is not one of your backed-up folders", path.display())));
        }
        Ok(())
    }

    /// Forgets every file state: used when the agent changes account, since
    /// content ids are keyed by the account's data key.
    pub fn forget_files(&self) -> Result<()> {
        self.conn().execute_batch("DELETE FROM files; DELETE FROM files_pending;")?;
        Ok(())
    }

    /// Starts recording a backup run and clears what an interrupted one left.
    pub fn begin_run(&self, now: i64) -> Result<i64> {
        let conn = self.conn();
        conn.execute("DELETE FROM files_pending", [])?;
        conn.execute(
            "UPDATE backup_runs SET status = 'interrupted' WHERE status = 'running'",
            [],
        )?;
        conn.execute("INSERT INTO backup_runs (started_at, status) VALUES (?1, 'running')", [now])?;
        Ok(conn.last_insert_rowid())
    }

    /// Records a committed backup and keeps what it learned about files.
    pub fn finish_run(&self, run: i64, now: i64, outcome: &RunOutcome) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute_batch(
            "INSERT OR REPLACE INTO files SELECT * FROM files_pending;
             DELETE FROM files_pending;",
        )?;
        tx.execute(
            "UPDATE backup_runs SET finished_at = ?2, status = 'done', snapshot_id = ?3, files_total = ?4,
                 files_read = ?5, bytes_read = ?6, bytes_uploaded = ?7, skipped = ?8 WHERE id = ?1",
            params![
                run,
                now,
                outcome.snapshot_id.to_hex(),
                outcome.files_total as i64,
                outcome.files_read as i64,
                outcome.bytes_read as i64,
                outcome.bytes_uploaded as i64,
                outcome.skipped as i64
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records a failed backup; what it learned about files is dropped.
    pub fn fail_run(&self, run: i64, now: i64, error: &str) -> Result<()> {
        let conn = self.conn();
        conn.execute("DELETE FROM files_pending", [])?;
        conn.execute(
            "UPDATE backup_runs SET finished_at = ?2, status = 'failed', error = ?3 WHERE id = ?1",
            params![run, now, error],
        )?;
        Ok(())
    }
}

impl Catalog {
    /// The latest backup runs, newest first.
    pub fn runs(&self, limit: usize) -> Result<Vec<crate::types::BackupRun>> {
        use crate::types::{BackupRun, RunStatus};
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT started_at, finished_at, status, snapshot_id, files_total, files_read, bytes_uploaded, skipped, error
             FROM backup_runs ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            let status: String = r.get(2)?;
            Ok(BackupRun {
                started_at: r.get(0)?,
                finished_at: r.get(1)?,
                status: match status.as_str() {
                    "running" => RunStatus::Running,
                    "done" => RunStatus::Done,
                    "failed" => RunStatus::Failed,
                    _ => RunStatus::Interrupted,
                },
                snapshot_id: r.get(3)?,
                files_total: r.get::<_, i64>(4)? as u64,
                files_read: r.get::<_, i64>(5)? as u64,
                bytes_uploaded: r.get::<_, i64>(6)? as u64,
                skipped: r.get::<_, i64>(7)? as u64,
                error: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// The figures of a committed backup run.
pub struct RunOutcome {
    pub snapshot_id: Id,
    pub files_total: u64,
    pub files_read: u64,
    pub bytes_read: u64,
    pub bytes_uploaded: u64,
    pub skipped: u64,
}

fn path_text(path: &Path) -> Result<&str> {
    path.to_str()
        .ok_or_else(|| Error::new(ErrorKind::InvalidInput, format!("{} is not valid UTF-8", path.display())))
}

fn encode_ids(ids: &[Id]) -> Vec<u8> {
    ids.iter().flat_map(|id| *id.as_bytes()).collect()
}

fn decode_ids(bytes: &[u8]) -> Option<Vec<Id>> {
    if bytes.len() % 32 != 0 {
        return None;
    }
    Some(bytes.chunks_exact(32).map(|c| Id::from_bytes(c.try_into().expect("32-byte chunk"))).collect())
}

impl FileCache for Catalog {
    fn lookup(&self, path: &Path, fingerprint: &FileFingerprint) -> Option<Vec<Id>> {
        let path = path.to_str()?;
        let conn = self.conn();
        // Called once per file of every backup: the statement is parsed once.
        let row: Option<(i64, i64, i64, i64, Vec<u8>)> = conn
            .prepare_cached("SELECT size, mtime_ns, ctime_ns, inode, content FROM files WHERE path = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([path], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))).optional()
            })
            .ok()
            .flatten();
        let (size, mtime_ns, ctime_ns, inode, content) = row?;
        let unchanged = size as u64 == fingerprint.size
            && mtime_ns == fingerprint.mtime_ns
            && ctime_ns == fingerprint.ctime_ns
            && inode as u64 == fingerprint.inode;
        if unchanged {
            decode_ids(&content)
        } else {
            None
        }
    }

    fn remember(&self, path: &Path, fingerprint: &FileFingerprint, content: &[Id]) {
        // A failure here only costs a re-read next time.
        let _ = remember_pending(&self.conn(), path, fingerprint, content);
    }

    /// One transaction for the whole backup: a commit per file cost more
    /// than reading a small file.
    fn remember_all(&self, files: &[(PathBuf, FileFingerprint, Vec<Id>)]) {
        let mut conn = self.conn();
        let Ok(tx) = conn.transaction() else { return };
        for (path, fingerprint, content) in files {
            // A failure here only costs a re-read next time.
            let _ = remember_pending(&tx, path, fingerprint, content);
        }
        let _ = tx.commit();
    }
}

fn remember_pending(conn: &Connection, path: &Path, fingerprint: &FileFingerprint, content: &[Id]) -> rusqlite::Result<()> {
    let Some(path) = path.to_str() else { return Ok(()) };
    conn.prepare_cached(
        "INSERT OR REPLACE INTO files_pending (path, size, mtime_ns, ctime_ns, inode, content)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        path,
        fingerprint.size as i64,
        fingerprint.mtime_ns,
        fingerprint.ctime_ns,
        fingerprint.inode as i64,
        encode_ids(content)
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint(size: u64) -> FileFingerprint {
        FileFingerprint { size, mtime_ns: 7, ctime_ns: 8, inode: 9 }
    }

    #[test]
    fn file_state_counts_only_after_the_run_commits() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("catalog.sqlite")).unwrap();
        let path = Path::new("/data/a.txt");
        let ids = vec![Id::hash(b"one"), Id::hash(b"two")];

        let run = catalog.begin_run(1).unwrap();
        catalog.remember(path, &fingerprint(3), &ids);
        assert_eq!(catalog.lookup(path, &fingerprint(3)), None, "pending state must not be trusted");
        catalog
            .finish_run(run, 2, &RunOutcome { snapshot_id: Id::hash(b"s"), files_total: 1, files_read: 1, bytes_read: 3, bytes_uploaded: 3, skipped: 0 })
            .unwrap();
        assert_eq!(catalog.lookup(path, &fingerprint(3)), Some(ids.clone()));
        assert_eq!(catalog.lookup(path, &fingerprint(4)), None, "a changed size is a changed file");

        let run = catalog.begin_run(3).unwrap();
        catalog.remember(Path::new("/data/b.txt"), &fingerprint(1), &ids);
        catalog.fail_run(run, 4, "network").unwrap();
        assert_eq!(catalog.lookup(Path::new("/data/b.txt"), &fingerprint(1)), None);
    }

    #[test]
    fn folders_are_a_set() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("catalog.sqlite")).unwrap();
        catalog.add_folder(Path::new("/b"), 1).unwrap();
        catalog.add_folder(Path::new("/a"), 2).unwrap();
        catalog.add_folder(Path::new("/a"), 3).unwrap();
        let paths: Vec<_> = catalog.folders().unwrap().into_iter().map(|f| f.path).collect();
        assert_eq!(paths, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        catalog.remove_folder(Path::new("/a")).unwrap();
        assert_eq!(catalog.remove_folder(Path::new("/a")).unwrap_err().kind, ErrorKind::NotFound);
    }
}
