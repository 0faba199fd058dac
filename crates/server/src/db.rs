//! All metadata SQL lives here, behind async functions, so another database
//! (PostgreSQL for the scaled configuration) can sit behind the same calls.
//!
//! SQLite calls block, so each one runs on `spawn_blocking`. One connection in
//! WAL mode is plenty for the embedded configuration.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension};
use rusqlite_migration::{Migrations, M};

const MIGRATIONS: &[M<'static>] = &[M::up(
    "CREATE TABLE accounts (
        id                TEXT PRIMARY KEY,
        first_name        TEXT NOT NULL,
        last_name         TEXT NOT NULL,
        email             TEXT NOT NULL UNIQUE,
        password_hash     TEXT NOT NULL,
        key_mode          TEXT NOT NULL,
        escrowed_data_key BLOB,
        quota_bytes       INTEGER NOT NULL,
        created_at        INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE sessions (
        id            TEXT PRIMARY KEY,
        account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        token_sha256  BLOB NOT NULL UNIQUE,
        device_id     TEXT NOT NULL,
        device_name   TEXT NOT NULL,
        app_version   TEXT NOT NULL,
        ip            TEXT,
        started_at    INTEGER NOT NULL,
        last_seen_at  INTEGER NOT NULL,
        ended_at      INTEGER,
        requests      INTEGER NOT NULL DEFAULT 0,
        bytes_up      INTEGER NOT NULL DEFAULT 0,
        bytes_down    INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE INDEX sessions_by_account ON sessions(account_id);
    CREATE TABLE objects (
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        kind       TEXT NOT NULL,
        id         TEXT NOT NULL,
        size       INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (account_id, kind, id)
    ) STRICT;
    CREATE INDEX objects_by_age ON objects(account_id, kind, created_at);",
)];

/// Handle to the metadata database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

/// An account row as stored.
#[derive(Debug, Clone)]
pub struct AccountRecord {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub password_hash: String,
    pub key_mode: String,
    /// The data key wrapped with the escrow key (nonce ‖ ciphertext), for
    /// default-key accounts.
    pub escrowed_data_key: Option<Vec<u8>>,
    pub quota_bytes: u64,
    pub created_at: i64,
}

/// A session about to be started.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub account_id: String,
    pub token_sha256: [u8; 32],
    pub device_id: String,
    pub device_name: String,
    pub app_version: String,
    pub ip: Option<String>,
    pub started_at: i64,
}

/// The live session a token belongs to.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub id: String,
    pub account_id: String,
}

/// The full session record (what the person will see in their session list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: String,
    pub account_id: String,
    pub device_id: String,
    pub device_name: String,
    pub app_version: String,
    pub ip: Option<String>,
    pub started_at: i64,
    pub last_seen_at: i64,
    pub ended_at: Option<i64>,
    pub requests: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

/// One stored repository object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRecord {
    pub id: String,
    pub size: u64,
    pub created_at: i64,
}

impl Db {
    /// Opens (creating if needed) the database at `path` and migrates it to
    /// the latest schema.
    ///
    /// # Errors
    /// When the file cannot be opened or a migration fails.
    pub fn open(path: &Path) -> anyhow::Result<Db> {
        let mut conn = Connection::open(path)
            .with_context(|| format!("opening database {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Migrations::from_slice(MIGRATIONS)
            .to_latest(&mut conn)
            .context("migrating database")?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn call<R, F>(&self, f: F) -> anyhow::Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn
                .lock()
                .map_err(|_| anyhow::anyhow!("database mutex poisoned"))?;
            f(&mut conn).map_err(anyhow::Error::from)
        })
        .await
        .context("database task panicked")?
    }

    /// Stores a new account. Returns `false` when the email is taken.
    ///
    /// # Errors
    /// Database failures.
    pub async fn create_account(&self, account: AccountRecord) -> anyhow::Result<bool> {
        self.call(move |conn| {
            let inserted = conn.execute(
                "INSERT INTO accounts (id, first_name, last_name, email, password_hash,
                     key_mode, escrowed_data_key, quota_bytes, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    account.id,
                    account.first_name,
                    account.last_name,
                    account.email,
                    account.password_hash,
                    account.key_mode,
                    account.escrowed_data_key,
                    to_i64(account.quota_bytes),
                    account.created_at,
                ],
            );
            match inserted {
                Ok(_) => Ok(true),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Ok(false)
                }
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// The account with this (normalised) email.
    ///
    /// # Errors
    /// Database failures.
    pub async fn account_by_email(&self, email: String) -> anyhow::Result<Option<AccountRecord>> {
        self.call(move |conn| {
            conn.query_row(
                &format!("{ACCOUNT_SELECT} WHERE email = ?1"),
                [email],
                account_from_row,
            )
            .optional()
        })
        .await
    }

    /// The account with this id.
    ///
    /// # Errors
    /// Database failures.
    pub async fn account_by_id(&self, id: String) -> anyhow::Result<Option<AccountRecord>> {
        self.call(move |conn| {
            conn.query_row(
                &format!("{ACCOUNT_SELECT} WHERE id = ?1"),
                [id],
                account_from_row,
            )
            .optional()
        })
        .await
    }

    /// Number of accounts (used by tests and ops).
    ///
    /// # Errors
    /// Database failures.
    pub async fn account_count(&self) -> anyhow::Result<u64> {
        self.call(|conn| {
            conn.query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get::<_, i64>(0))
                .map(to_u64)
        })
        .await
    }

    /// Starts a session.
    ///
    /// # Errors
    /// Database failures.
    pub async fn create_session(&self, session: NewSession) -> anyhow::Result<()> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO sessions (id, account_id, token_sha256, device_id, device_name,
                     app_version, ip, started_at, last_seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                params![
                    session.id,
                    session.account_id,
                    session.token_sha256.as_slice(),
                    session.device_id,
                    session.device_name,
                    session.app_version,
                    session.ip,
                    session.started_at,
                ],
            )
            .map(drop)
        })
        .await
    }

    /// The live (not ended) session whose token hashes to `token_sha256`.
    ///
    /// # Errors
    /// Database failures.
    pub async fn active_session(
        &self,
        token_sha256: [u8; 32],
    ) -> anyhow::Result<Option<ActiveSession>> {
        self.call(move |conn| {
            conn.query_row(
                "SELECT id, account_id FROM sessions
                 WHERE token_sha256 = ?1 AND ended_at IS NULL",
                [token_sha256.as_slice()],
                |r| {
                    Ok(ActiveSession {
                        id: r.get(0)?,
                        account_id: r.get(1)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    /// Counts one request on a session: last seen, requests and bytes.
    ///
    /// # Errors
    /// Database failures.
    pub async fn record_request(
        &self,
        session_id: String,
        at: i64,
        bytes_up: u64,
        bytes_down: u64,
    ) -> anyhow::Result<()> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE sessions SET last_seen_at = MAX(last_seen_at, ?2), requests = requests + 1,
                     bytes_up = bytes_up + ?3, bytes_down = bytes_down + ?4
                 WHERE id = ?1",
                params![session_id, at, to_i64(bytes_up), to_i64(bytes_down)],
            )
            .map(drop)
        })
        .await
    }

    /// Ends a session; its token stops working at once.
    ///
    /// # Errors
    /// Database failures.
    pub async fn end_session(&self, session_id: String, at: i64) -> anyhow::Result<()> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE sessions SET ended_at = ?2 WHERE id = ?1 AND ended_at IS NULL",
                params![session_id, at],
            )
            .map(drop)
        })
        .await
    }

    /// The full session record.
    ///
    /// # Errors
    /// Database failures.
    pub async fn session(&self, session_id: String) -> anyhow::Result<Option<SessionRecord>> {
        self.call(move |conn| {
            conn.query_row(
                "SELECT id, account_id, device_id, device_name, app_version, ip, started_at,
                     last_seen_at, ended_at, requests, bytes_up, bytes_down
                 FROM sessions WHERE id = ?1",
                [session_id],
                |r| {
                    Ok(SessionRecord {
                        id: r.get(0)?,
                        account_id: r.get(1)?,
                        device_id: r.get(2)?,
                        device_name: r.get(3)?,
                        app_version: r.get(4)?,
                        ip: r.get(5)?,
                        started_at: r.get(6)?,
                        last_seen_at: r.get(7)?,
                        ended_at: r.get(8)?,
                        requests: to_u64(r.get(9)?),
                        bytes_up: to_u64(r.get(10)?),
                        bytes_down: to_u64(r.get(11)?),
                    })
                },
            )
            .optional()
        })
        .await
    }

    /// Bytes stored by an account, summed over its objects.
    ///
    /// # Errors
    /// Database failures.
    pub async fn used_bytes(&self, account_id: String) -> anyhow::Result<u64> {
        self.call(move |conn| {
            conn.query_row(
                "SELECT COALESCE(SUM(size), 0) FROM objects WHERE account_id = ?1",
                [account_id],
                |r| r.get::<_, i64>(0),
            )
            .map(to_u64)
        })
        .await
    }

    /// The size of one object, if the account has it.
    ///
    /// # Errors
    /// Database failures.
    pub async fn object_size(
        &self,
        account_id: String,
        kind: &'static str,
        id: String,
    ) -> anyhow::Result<Option<u64>> {
        self.call(move |conn| {
            conn.query_row(
                "SELECT size FROM objects WHERE account_id = ?1 AND kind = ?2 AND id = ?3",
                params![account_id, kind, id],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|size| size.map(to_u64))
        })
        .await
    }

    /// Records a stored object. Returns `false` if it was already recorded.
    ///
    /// # Errors
    /// Database failures.
    pub async fn insert_object(
        &self,
        account_id: String,
        kind: &'static str,
        object: ObjectRecord,
    ) -> anyhow::Result<bool> {
        self.call(move |conn| {
            conn.execute(
                "INSERT OR IGNORE INTO objects (account_id, kind, id, size, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    account_id,
                    kind,
                    object.id,
                    to_i64(object.size),
                    object.created_at
                ],
            )
            .map(|n| n == 1)
        })
        .await
    }

    /// An account's objects of one kind, oldest first.
    ///
    /// # Errors
    /// Database failures.
    pub async fn list_objects(
        &self,
        account_id: String,
        kind: &'static str,
    ) -> anyhow::Result<Vec<ObjectRecord>> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT id, size, created_at FROM objects
                 WHERE account_id = ?1 AND kind = ?2 ORDER BY created_at, rowid",
            )?;
            let rows = stmt.query_map(params![account_id, kind], |r| {
                Ok(ObjectRecord {
                    id: r.get(0)?,
                    size: to_u64(r.get(1)?),
                    created_at: r.get(2)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// Forgets an object. Returns `false` if the account did not have it.
    ///
    /// # Errors
    /// Database failures.
    pub async fn delete_object(
        &self,
        account_id: String,
        kind: &'static str,
        id: String,
    ) -> anyhow::Result<bool> {
        self.call(move |conn| {
            conn.execute(
                "DELETE FROM objects WHERE account_id = ?1 AND kind = ?2 AND id = ?3",
                params![account_id, kind, id],
            )
            .map(|n| n == 1)
        })
        .await
    }

    /// Writes the WAL back into the main file, so the database is one file
    /// (used before copying it and by tests that inspect it).
    ///
    /// # Errors
    /// Database failures.
    pub async fn checkpoint(&self) -> anyhow::Result<()> {
        self.call(|conn| conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);"))
            .await
    }
}

const ACCOUNT_SELECT: &str = "SELECT id, first_name, last_name, email, password_hash, key_mode,
    escrowed_data_key, quota_bytes, created_at FROM accounts";

fn account_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AccountRecord> {
    Ok(AccountRecord {
        id: r.get(0)?,
        first_name: r.get(1)?,
        last_name: r.get(2)?,
        email: r.get(3)?,
        password_hash: r.get(4)?,
        key_mode: r.get(5)?,
        escrowed_data_key: r.get(6)?,
        quota_bytes: to_u64(r.get(7)?),
        created_at: r.get(8)?,
    })
}

// SQLite integers are signed; sizes never get near 2^63.
fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        Migrations::from_slice(MIGRATIONS).validate().unwrap();
    }
}
