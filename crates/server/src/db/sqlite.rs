//! The embedded backend: one SQLite file in WAL mode, one connection behind
//! a mutex (SQLite serialises writers anyway, and one connection makes every
//! transaction atomic with respect to the others).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{anyhow, Context};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::{Migrations, M};

use super::sql::{Dialect, Row, Sql, Value};

/// The schema, one entry per version (`PRAGMA user_version` counts them).
/// Changing the schema appends an entry here and the matching one to
/// `super::postgres::MIGRATIONS`.
pub(super) const MIGRATIONS: &[M<'static>] = &[
    M::up(
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
    ),
    // Sessions with expiring access tokens and rotating refresh tokens,
    // profile, mail, preferences, policy, deletion, two-factor, private keys.
    M::up(
        "ALTER TABLE accounts ADD COLUMN email_verified_at INTEGER;
    ALTER TABLE accounts ADD COLUMN pending_email TEXT;
    ALTER TABLE accounts ADD COLUMN address TEXT;
    ALTER TABLE accounts ADD COLUMN wrapped_keys TEXT;
    ALTER TABLE accounts ADD COLUMN key_changed_at INTEGER;
    ALTER TABLE accounts ADD COLUMN password_changed_at INTEGER;
    ALTER TABLE accounts ADD COLUMN policy_accepted_version TEXT;
    ALTER TABLE accounts ADD COLUMN policy_accepted_at INTEGER;
    ALTER TABLE accounts ADD COLUMN deletion_requested_at INTEGER;
    ALTER TABLE accounts ADD COLUMN purge_at INTEGER;
    ALTER TABLE accounts ADD COLUMN totp_secret BLOB;
    ALTER TABLE accounts ADD COLUMN totp_pending_secret BLOB;
    ALTER TABLE accounts ADD COLUMN totp_enabled_at INTEGER;
    ALTER TABLE accounts ADD COLUMN totp_last_step INTEGER;
    CREATE INDEX accounts_by_purge ON accounts(purge_at) WHERE purge_at IS NOT NULL;

    ALTER TABLE sessions ADD COLUMN access_expires_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN refresh_sha256 BLOB;
    ALTER TABLE sessions ADD COLUMN transfer_ms INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN end_reason TEXT;
    -- Sessions from before expiry existed get one more hour.
    UPDATE sessions SET access_expires_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 3600000
        WHERE ended_at IS NULL;
    CREATE UNIQUE INDEX sessions_by_refresh ON sessions(refresh_sha256);
    CREATE INDEX sessions_by_end ON sessions(ended_at);
    CREATE TABLE rotated_refresh_tokens (
        sha256     BLOB PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE
    ) STRICT;
    CREATE INDEX rotated_by_session ON rotated_refresh_tokens(session_id);

    CREATE TABLE email_tokens (
        sha256     BLOB PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        purpose    TEXT NOT NULL,
        email      TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX email_tokens_by_account ON email_tokens(account_id, purpose);
    CREATE TABLE preferences (
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        category   TEXT NOT NULL,
        enabled    INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (account_id, category)
    ) STRICT;
    CREATE TABLE recovery_codes (
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        sha256     BLOB NOT NULL,
        used_at    INTEGER,
        PRIMARY KEY (account_id, sha256)
    ) STRICT;
    CREATE TABLE policies (
        version      TEXT PRIMARY KEY,
        text         TEXT NOT NULL,
        published_at INTEGER NOT NULL
    ) STRICT;",
    ),
    // Operational alerts sent and not yet cleared: one row per account and
    // condition, so an alert is mailed once until its condition clears.
    M::up(
        "CREATE TABLE alerts_sent (
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        alert      TEXT NOT NULL,
        sent_at    INTEGER NOT NULL,
        PRIMARY KEY (account_id, alert)
    ) STRICT;",
    ),
    // Held deletions (see `crate::held_deletions`): a deletion grant is
    // made by a fresh password (and two-factor) check and bound to its
    // session; a deleted object is only marked held, in a batch per grant,
    // and purged after the hold.
    M::up(
        "CREATE TABLE deletion_grants (
        sha256     BLOB PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX deletion_grants_by_expiry ON deletion_grants(expires_at);
    -- No reference to the grant or the session: both go long before the
    -- batch does, and the batch keeps the device it came from.
    CREATE TABLE deletion_batches (
        id            TEXT PRIMARY KEY,
        account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        grant_sha256  BLOB NOT NULL,
        session_id    TEXT NOT NULL,
        device_id     TEXT NOT NULL,
        device_name   TEXT NOT NULL,
        confirmed_at  INTEGER NOT NULL,
        first_held_at INTEGER NOT NULL,
        last_held_at  INTEGER NOT NULL,
        mailed_at     INTEGER,
        cancelled_at  INTEGER
    ) STRICT;
    CREATE INDEX deletion_batches_by_account ON deletion_batches(account_id);
    CREATE INDEX deletion_batches_by_grant ON deletion_batches(grant_sha256);
    ALTER TABLE objects ADD COLUMN held_in TEXT;
    ALTER TABLE objects ADD COLUMN purge_after INTEGER;
    CREATE INDEX objects_by_hold ON objects(held_in) WHERE held_in IS NOT NULL;
    CREATE INDEX objects_by_purge ON objects(purge_after) WHERE purge_after IS NOT NULL;",
    ),
    // Connected apps (see `crate::apps`): scoped tokens a person made for a
    // third-party application, stored hashed, with their last use.
    M::up(
        "CREATE TABLE app_tokens (
        id           TEXT PRIMARY KEY,
        account_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name         TEXT NOT NULL,
        scopes       TEXT NOT NULL,
        token_sha256 BLOB NOT NULL UNIQUE,
        created_at   INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL,
        last_used_at INTEGER,
        last_used_ip TEXT,
        uses         INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE INDEX app_tokens_by_account ON app_tokens(account_id);
    CREATE INDEX app_tokens_by_expiry ON app_tokens(expires_at);",
    ),
    // Shares (see `crate::shares`): files re-encrypted by the agent under a
    // share key the service never sees, uploaded in parts to a share area,
    // the recipients' addresses (kept only while the data is), and the
    // download tickets opening a share hands out.
    M::up(
        "CREATE TABLE shares (
        id             TEXT PRIMARY KEY,
        account_id     TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        state          TEXT NOT NULL,
        created_at     INTEGER NOT NULL,
        completed_at   INTEGER,
        expires_at     INTEGER NOT NULL,
        password_hash  TEXT,
        max_downloads  INTEGER,
        downloads      INTEGER NOT NULL DEFAULT 0,
        last_opened_at INTEGER,
        parts          INTEGER NOT NULL,
        revoked_at     INTEGER,
        removed_at     INTEGER
    ) STRICT;
    CREATE INDEX shares_by_account ON shares(account_id);
    CREATE TABLE share_recipients (
        share_id TEXT NOT NULL REFERENCES shares(id) ON DELETE CASCADE,
        email    TEXT NOT NULL,
        PRIMARY KEY (share_id, email)
    ) STRICT;
    CREATE TABLE share_parts (
        share_id   TEXT NOT NULL REFERENCES shares(id) ON DELETE CASCADE,
        account_id TEXT NOT NULL,
        part       INTEGER NOT NULL,
        size       INTEGER NOT NULL,
        PRIMARY KEY (share_id, part)
    ) STRICT;
    CREATE INDEX share_parts_by_account ON share_parts(account_id);
    CREATE TABLE share_tickets (
        sha256     BLOB PRIMARY KEY,
        share_id   TEXT NOT NULL REFERENCES shares(id) ON DELETE CASCADE,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX share_tickets_by_share ON share_tickets(share_id);",
    ),
];

/// The SQLite database file and its connection.
pub(super) struct Sqlite {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl Sqlite {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub(super) fn open(path: &Path) -> anyhow::Result<Sqlite> {
        let mut conn = Connection::open(path)
            .with_context(|| format!("opening database {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Deleted rows (share recipients' addresses, purged accounts) are
        // overwritten, not left readable in free pages.
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(256);
        Migrations::from_slice(MIGRATIONS)
            .to_latest(&mut conn)
            .context("migrating database")?;
        Ok(Sqlite {
            conn: Mutex::new(conn),
            path: path.to_owned(),
        })
    }

    /// Opens an existing database read-only, without migrating it.
    pub(super) fn open_read_only(path: &Path) -> anyhow::Result<Sqlite> {
        if !path.is_file() {
            anyhow::bail!("no database at {}", path.display());
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("opening database {} read-only", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let expected = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        if version != expected {
            anyhow::bail!(
                "{} has schema version {version}, this program expects {expected}; start the \
                 service of this version once to migrate it",
                path.display()
            );
        }
        Ok(Sqlite {
            conn: Mutex::new(conn),
            path: path.to_owned(),
        })
    }

    /// Runs `f` on the connection (blocking).
    pub(super) fn run<R>(
        &self,
        f: impl FnOnce(&mut dyn Sql) -> anyhow::Result<R>,
    ) -> anyhow::Result<R> {
        let conn = self.lock()?;
        f(&mut Statements(&conn))
    }

    /// Runs `f` in a transaction, committed when `f` succeeds (blocking).
    pub(super) fn run_in_transaction<R>(
        &self,
        f: impl FnOnce(&mut dyn Sql) -> anyhow::Result<R>,
    ) -> anyhow::Result<R> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let result = f(&mut Statements(&tx))?;
        tx.commit()?;
        Ok(result)
    }

    /// Writes the WAL back into the main file.
    pub(super) fn checkpoint(&self) -> anyhow::Result<()> {
        self.lock()?
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(Into::into)
    }

    /// The database file's bytes after a checkpoint, free pages included.
    pub(super) fn file_bytes(&self) -> anyhow::Result<Vec<u8>> {
        self.checkpoint()?;
        std::fs::read(&self.path).with_context(|| format!("reading {}", self.path.display()))
    }

    fn lock(&self) -> anyhow::Result<std::sync::MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| anyhow!("database mutex poisoned"))
    }
}

/// Whether `error` is SQLite refusing a row for a constraint (a taken
/// email, a published version).
pub(super) fn is_constraint_violation(error: &anyhow::Error) -> bool {
    matches!(
        error.downcast_ref::<rusqlite::Error>(),
        Some(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation
    )
}

struct Statements<'a>(&'a Connection);

impl Sql for Statements<'_> {
    fn execute(&mut self, sql: &str, args: &[Value]) -> anyhow::Result<u64> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let changed = stmt.execute(rusqlite::params_from_iter(args))?;
        Ok(changed as u64)
    }

    fn query(&mut self, sql: &str, args: &[Value]) -> anyhow::Result<Vec<Row>> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let values = (0..columns)
                .map(|i| from_sqlite(row.get_ref(i)?))
                .collect::<anyhow::Result<Vec<_>>>()?;
            out.push(Row::new(values));
        }
        Ok(out)
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
}

fn from_sqlite(value: ValueRef<'_>) -> anyhow::Result<Value> {
    Ok(match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(v) => Value::Int(v),
        ValueRef::Text(t) => Value::Text(String::from_utf8(t.to_vec())?),
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
        ValueRef::Real(_) => anyhow::bail!("unexpected floating-point column"),
    })
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Value::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Value::Bytes(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        Migrations::from_slice(MIGRATIONS).validate().unwrap();
    }
}
