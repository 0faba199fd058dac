//! All metadata SQL lives here, behind async functions, so another database
//! (PostgreSQL for the scaled configuration) can sit behind the same calls.
//!
//! SQLite calls block, so each one runs on `spawn_blocking`. One connection in
//! WAL mode is plenty for the embedded configuration.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use rusqlite_migration::{Migrations, M};

mod apps;
mod held_deletions;
mod shares;

pub use apps::{AppTokenRecord, NewAppToken};
pub use shares::{NewShare, OpenOutcome, ShareRecord, MANIFEST_PART};
pub use held_deletions::{DeletionBatch, GrantRecord, HeldObject, HoldOutcome, HoldRequest};

const MIGRATIONS: &[M<'static>] = &[
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

/// Handle to the metadata database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

/// An account row as stored.
#[derive(Debug, Clone, Default)]
pub struct AccountRecord {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub password_hash: String,
    /// `default` or `private`.
    pub key_mode: String,
    /// The data key wrapped with the escrow key (nonce ‖ ciphertext), for
    /// default-key accounts.
    pub escrowed_data_key: Option<Vec<u8>>,
    /// For private-key accounts: the device-made wraps of the data key, as
    /// the JSON text the device sent (`{"passphrase":{…},"recovery":{…}}`).
    pub wrapped_keys: Option<String>,
    pub key_changed_at: Option<i64>,
    pub quota_bytes: u64,
    pub created_at: i64,
    pub email_verified_at: Option<i64>,
    /// A new email waiting for its verification link to be followed.
    pub pending_email: Option<String>,
    /// The postal address as a JSON object, if given.
    pub address: Option<String>,
    pub password_changed_at: Option<i64>,
    pub policy_accepted_version: Option<String>,
    pub policy_accepted_at: Option<i64>,
    pub deletion_requested_at: Option<i64>,
    /// When a scheduled deletion purges the account (Unix ms).
    pub purge_at: Option<i64>,
    /// The TOTP secret, wrapped with the escrow key, once enabled.
    pub totp_secret: Option<Vec<u8>>,
    /// A TOTP secret set up but not yet confirmed with a code.
    pub totp_pending_secret: Option<Vec<u8>>,
    pub totp_enabled_at: Option<i64>,
}

/// The profile fields `PATCH /v1/account` may change; `None` leaves a field
/// as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// `Some(None)` removes the address.
    pub address: Option<Option<String>>,
}

/// A session about to be started.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub account_id: String,
    pub access_sha256: [u8; 32],
    pub refresh_sha256: [u8; 32],
    pub access_expires_at: i64,
    pub device_id: String,
    pub device_name: String,
    pub app_version: String,
    pub ip: Option<String>,
    pub started_at: i64,
}

/// The live session an access token belongs to.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub id: String,
    pub account_id: String,
    pub access_expires_at: i64,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token was current: the session now has the new tokens.
    Rotated {
        session_id: String,
        account_id: String,
    },
    /// The token had already been rotated away: someone is replaying it, so
    /// the session was ended.
    Reused { session_id: String },
    /// Unknown token, or its session already ended.
    Unknown,
}

/// The full session record (what the person sees in their session list).
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
    /// Why it ended: `signed_out`, `revoked`, `signed_out_everywhere`,
    /// `password_changed`, `password_reset`, `refresh_token_reused`,
    /// `account_deleted`.
    pub end_reason: Option<String>,
    pub requests: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// Milliseconds spent serving object uploads and downloads.
    pub transfer_ms: u64,
}

/// One stored repository object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRecord {
    pub id: String,
    pub size: u64,
    pub created_at: i64,
}

/// A one-time token sent by mail, as found when its link is followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailToken {
    pub account_id: String,
    /// The address the link was sent to.
    pub email: String,
}

/// One communication-preference row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreferenceRecord {
    pub category: String,
    pub enabled: bool,
    pub updated_at: i64,
}

/// A published privacy-policy version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRecord {
    pub version: String,
    pub text: String,
    pub published_at: i64,
}

/// What the operational-alerts job needs to know about one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSubject {
    pub account_id: String,
    pub email: String,
    /// When the newest snapshot was stored, if there is one.
    pub last_snapshot_at: Option<i64>,
    pub created_at: i64,
    pub used_bytes: u64,
    pub quota_bytes: u64,
    /// The `operational_alerts` preference (on unless turned off).
    pub alerts_enabled: bool,
    /// The alerts mailed whose condition has not cleared since.
    pub alerts_sent: Vec<String>,
}

/// Who a mailing goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub account_id: String,
    pub email: String,
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
        // Deleted rows (share recipients' addresses, purged accounts) are
        // overwritten, not left readable in free pages.
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Migrations::from_slice(MIGRATIONS)
            .to_latest(&mut conn)
            .context("migrating database")?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Opens an existing database read-only, without migrating it (the
    /// operator's `export-account`, which may run beside the service).
    ///
    /// # Errors
    /// When the file is missing or cannot be opened, or its schema is not
    /// the one this program expects (start the service once to migrate it).
    pub fn open_read_only(path: &Path) -> anyhow::Result<Db> {
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

    // ----- accounts -----

    /// Stores a new account. Returns `false` when the email is taken.
    ///
    /// # Errors
    /// Database failures.
    pub async fn create_account(&self, account: AccountRecord) -> anyhow::Result<bool> {
        self.call(move |conn| {
            let inserted = conn.execute(
                "INSERT INTO accounts (id, first_name, last_name, email, password_hash,
                     key_mode, escrowed_data_key, quota_bytes, created_at, wrapped_keys,
                     key_changed_at, address)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
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
                    account.wrapped_keys,
                    account.key_changed_at,
                    account.address,
                ],
            );
            not_if_taken(inserted)
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

    /// Changes names and address.
    ///
    /// # Errors
    /// Database failures.
    pub async fn update_profile(&self, id: String, change: ProfileChange) -> anyhow::Result<()> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            if let Some(first) = change.first_name {
                tx.execute(
                    "UPDATE accounts SET first_name = ?2 WHERE id = ?1",
                    params![id, first],
                )?;
            }
            if let Some(last) = change.last_name {
                tx.execute(
                    "UPDATE accounts SET last_name = ?2 WHERE id = ?1",
                    params![id, last],
                )?;
            }
            if let Some(address) = change.address {
                tx.execute(
                    "UPDATE accounts SET address = ?2 WHERE id = ?1",
                    params![id, address],
                )?;
            }
            tx.commit()
        })
        .await
    }

    /// Sets (or clears) the email waiting for verification.
    ///
    /// # Errors
    /// Database failures.
    pub async fn set_pending_email(&self, id: String, email: Option<String>) -> anyhow::Result<()> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE accounts SET pending_email = ?2 WHERE id = ?1",
                params![id, email],
            )
            .map(drop)
        })
        .await
    }

    /// Marks `email` as verified for the account: makes it the account's
    /// email if it was the pending one. Returns `false`, changing nothing,
    /// when another account has taken that email meanwhile or it is neither
    /// the account's email nor its pending one any more.
    ///
    /// # Errors
    /// Database failures.
    pub async fn confirm_email(&self, id: String, email: String, at: i64) -> anyhow::Result<bool> {
        self.call(move |conn| {
            let updated = conn.execute(
                "UPDATE accounts SET email = ?2, email_verified_at = ?3,
                     pending_email = CASE WHEN pending_email = ?2 THEN NULL ELSE pending_email END
                 WHERE id = ?1 AND (email = ?2 OR pending_email = ?2)",
                params![id, email, at],
            );
            not_if_taken(updated)
        })
        .await
    }

    /// Replaces the password hash.
    ///
    /// # Errors
    /// Database failures.
    pub async fn set_password(&self, id: String, hash: String, at: i64) -> anyhow::Result<()> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE accounts SET password_hash = ?2, password_changed_at = ?3 WHERE id = ?1",
                params![id, hash, at],
            )
            .map(drop)
        })
        .await
    }

    /// Replaces the key material in one statement: the mode, the escrowed
    /// key (default mode) and the device-made wraps (private mode); the other
    /// of the two is cleared.
    ///
    /// # Errors
    /// Database failures.
    pub async fn set_key_material(
        &self,
        id: String,
        key_mode: &'static str,
        escrowed_data_key: Option<Vec<u8>>,
        wrapped_keys: Option<String>,
        at: i64,
    ) -> anyhow::Result<()> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE accounts SET key_mode = ?2, escrowed_data_key = ?3, wrapped_keys = ?4,
                     key_changed_at = ?5
                 WHERE id = ?1",
                params![id, key_mode, escrowed_data_key, wrapped_keys, at],
            )
            .map(drop)
        })
        .await
    }

    /// Records that the person accepted a policy version.
    ///
    /// # Errors
    /// Database failures.
    pub async fn accept_policy(&self, id: String, version: String, at: i64) -> anyhow::Result<()> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE accounts SET policy_accepted_version = ?2, policy_accepted_at = ?3
                 WHERE id = ?1",
                params![id, version, at],
            )
            .map(drop)
        })
        .await
    }

    /// Schedules the account's deletion and ends all its sessions, in one
    /// transaction.
    ///
    /// # Errors
    /// Database failures.
    pub async fn schedule_deletion(
        &self,
        id: String,
        requested_at: i64,
        purge_at: i64,
    ) -> anyhow::Result<()> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "UPDATE accounts SET deletion_requested_at = ?2, purge_at = ?3 WHERE id = ?1",
                params![id, requested_at, purge_at],
            )?;
            tx.execute(
                "UPDATE sessions SET ended_at = ?2, end_reason = 'account_deleted'
                 WHERE account_id = ?1 AND ended_at IS NULL",
                params![id, requested_at],
            )?;
            tx.commit()
        })
        .await
    }

    /// Cancels a scheduled deletion.
    ///
    /// # Errors
    /// Database failures.
    pub async fn cancel_deletion(&self, id: String) -> anyhow::Result<()> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE accounts SET deletion_requested_at = NULL, purge_at = NULL WHERE id = ?1",
                [id],
            )
            .map(drop)
        })
        .await
    }

    /// Accounts whose deletion grace period ended at or before `now`.
    ///
    /// # Errors
    /// Database failures.
    pub async fn accounts_due_for_purge(&self, now: i64) -> anyhow::Result<Vec<String>> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT id FROM accounts WHERE purge_at IS NOT NULL AND purge_at <= ?1
                 ORDER BY purge_at",
            )?;
            let rows = stmt.query_map([now], |r| r.get(0))?;
            rows.collect()
        })
        .await
    }

    /// Deletes the account row; its sessions, objects, tokens, preferences
    /// and recovery codes go with it. Returns `false` if there was none.
    ///
    /// # Errors
    /// Database failures.
    pub async fn delete_account(&self, id: String) -> anyhow::Result<bool> {
        self.call(move |conn| {
            conn.execute("DELETE FROM accounts WHERE id = ?1", [id])
                .map(|n| n == 1)
        })
        .await
    }

    /// Who a mailing goes to: every account not scheduled for deletion
    /// (`category: None`, for essential mail), or those who opted in to
    /// `category` (`default_on`: whether no row means opted in).
    ///
    /// # Errors
    /// Database failures.
    pub async fn recipients(
        &self,
        category: Option<&'static str>,
        default_on: bool,
    ) -> anyhow::Result<Vec<Recipient>> {
        self.call(move |conn| {
            let map = |r: &rusqlite::Row<'_>| {
                Ok(Recipient {
                    account_id: r.get(0)?,
                    email: r.get(1)?,
                })
            };
            match category {
                None => {
                    let mut stmt = conn.prepare(
                        "SELECT id, email FROM accounts WHERE purge_at IS NULL ORDER BY created_at",
                    )?;
                    let rows = stmt.query_map([], map)?;
                    rows.collect()
                }
                Some(category) => {
                    let mut stmt = conn.prepare(
                        "SELECT a.id, a.email FROM accounts a
                         LEFT JOIN preferences p ON p.account_id = a.id AND p.category = ?1
                         WHERE a.purge_at IS NULL AND COALESCE(p.enabled, ?2) = 1
                         ORDER BY a.created_at",
                    )?;
                    let rows = stmt.query_map(params![category, default_on], map)?;
                    rows.collect()
                }
            }
        })
        .await
    }

    // ----- two-factor sign-in -----

    /// Sets (or clears) the TOTP secret waiting for its first code.
    ///
    /// # Errors
    /// Database failures.
    pub async fn set_totp_pending(
        &self,
        id: String,
        wrapped: Option<Vec<u8>>,
    ) -> anyhow::Result<()> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE accounts SET totp_pending_secret = ?2 WHERE id = ?1",
                params![id, wrapped],
            )
            .map(drop)
        })
        .await
    }

    /// Turns two-factor sign-in on with the pending secret and replaces the
    /// recovery codes, in one transaction. `step` is the time step of the code
    /// that confirmed it (so it cannot be replayed).
    ///
    /// # Errors
    /// Database failures.
    pub async fn enable_totp(
        &self,
        id: String,
        at: i64,
        step: i64,
        recovery_sha256: Vec<[u8; 32]>,
    ) -> anyhow::Result<()> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "UPDATE accounts SET totp_secret = totp_pending_secret, totp_pending_secret = NULL,
                     totp_enabled_at = ?2, totp_last_step = ?3
                 WHERE id = ?1 AND totp_pending_secret IS NOT NULL",
                params![id, at, step],
            )?;
            tx.execute("DELETE FROM recovery_codes WHERE account_id = ?1", [&id])?;
            for hash in &recovery_sha256 {
                tx.execute(
                    "INSERT INTO recovery_codes (account_id, sha256) VALUES (?1, ?2)",
                    params![id, hash.as_slice()],
                )?;
            }
            tx.commit()
        })
        .await
    }

    /// Turns two-factor sign-in off and forgets the secret and recovery codes.
    ///
    /// # Errors
    /// Database failures.
    pub async fn disable_totp(&self, id: String) -> anyhow::Result<()> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "UPDATE accounts SET totp_secret = NULL, totp_pending_secret = NULL,
                     totp_enabled_at = NULL, totp_last_step = NULL
                 WHERE id = ?1",
                [&id],
            )?;
            tx.execute("DELETE FROM recovery_codes WHERE account_id = ?1", [&id])?;
            tx.commit()
        })
        .await
    }

    /// Claims a TOTP time step for sign-in: `true` only if no code of this or
    /// a later step was accepted before (so a code works once).
    ///
    /// # Errors
    /// Database failures.
    pub async fn claim_totp_step(&self, id: String, step: i64) -> anyhow::Result<bool> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE accounts SET totp_last_step = ?2
                 WHERE id = ?1 AND (totp_last_step IS NULL OR totp_last_step < ?2)",
                params![id, step],
            )
            .map(|n| n == 1)
        })
        .await
    }

    /// Uses up a recovery code: `true` if it was the account's and unused.
    ///
    /// # Errors
    /// Database failures.
    pub async fn use_recovery_code(
        &self,
        id: String,
        sha256: [u8; 32],
        at: i64,
    ) -> anyhow::Result<bool> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE recovery_codes SET used_at = ?3
                 WHERE account_id = ?1 AND sha256 = ?2 AND used_at IS NULL",
                params![id, sha256.as_slice(), at],
            )
            .map(|n| n == 1)
        })
        .await
    }

    /// How many recovery codes are still unused.
    ///
    /// # Errors
    /// Database failures.
    pub async fn recovery_codes_left(&self, id: String) -> anyhow::Result<u64> {
        self.call(move |conn| {
            conn.query_row(
                "SELECT COUNT(*) FROM recovery_codes WHERE account_id = ?1 AND used_at IS NULL",
                [id],
                |r| r.get::<_, i64>(0),
            )
            .map(to_u64)
        })
        .await
    }

    // ----- sessions -----

    /// Starts a session.
    ///
    /// # Errors
    /// Database failures.
    pub async fn create_session(&self, session: NewSession) -> anyhow::Result<()> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO sessions (id, account_id, token_sha256, refresh_sha256,
                     access_expires_at, device_id, device_name, app_version, ip, started_at,
                     last_seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
                params![
                    session.id,
                    session.account_id,
                    session.access_sha256.as_slice(),
                    session.refresh_sha256.as_slice(),
                    session.access_expires_at,
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

    /// The live (not ended) session whose access token hashes to
    /// `access_sha256`, expired or not.
    ///
    /// # Errors
    /// Database failures.
    pub async fn active_session(
        &self,
        access_sha256: [u8; 32],
    ) -> anyhow::Result<Option<ActiveSession>> {
        self.call(move |conn| {
            conn.query_row(
                "SELECT id, account_id, access_expires_at FROM sessions
                 WHERE token_sha256 = ?1 AND ended_at IS NULL",
                [access_sha256.as_slice()],
                |r| {
                    Ok(ActiveSession {
                        id: r.get(0)?,
                        account_id: r.get(1)?,
                        access_expires_at: r.get(2)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    /// Presents a refresh token: rotates it (and the access token) when it is
    /// current, ends the session when it is a rotated-away one.
    ///
    /// # Errors
    /// Database failures.
    pub async fn refresh_session(
        &self,
        refresh_sha256: [u8; 32],
        new_access_sha256: [u8; 32],
        new_refresh_sha256: [u8; 32],
        access_expires_at: i64,
        now: i64,
    ) -> anyhow::Result<RefreshOutcome> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let current: Option<(String, String)> = tx
                .query_row(
                    "SELECT id, account_id FROM sessions
                     WHERE refresh_sha256 = ?1 AND ended_at IS NULL",
                    [refresh_sha256.as_slice()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let outcome = if let Some((session_id, account_id)) = current {
                tx.execute(
                    "INSERT OR IGNORE INTO rotated_refresh_tokens (sha256, session_id)
                     VALUES (?1, ?2)",
                    params![refresh_sha256.as_slice(), session_id],
                )?;
                tx.execute(
                    "UPDATE sessions SET token_sha256 = ?2, refresh_sha256 = ?3,
                         access_expires_at = ?4, last_seen_at = MAX(last_seen_at, ?5)
                     WHERE id = ?1",
                    params![
                        session_id,
                        new_access_sha256.as_slice(),
                        new_refresh_sha256.as_slice(),
                        access_expires_at,
                        now
                    ],
                )?;
                RefreshOutcome::Rotated {
                    session_id,
                    account_id,
                }
            } else {
                let rotated: Option<String> = tx
                    .query_row(
                        "SELECT session_id FROM rotated_refresh_tokens WHERE sha256 = ?1",
                        [refresh_sha256.as_slice()],
                        |r| r.get(0),
                    )
                    .optional()?;
                match rotated {
                    Some(session_id) => {
                        tx.execute(
                            "UPDATE sessions SET ended_at = ?2, end_reason = 'refresh_token_reused'
                             WHERE id = ?1 AND ended_at IS NULL",
                            params![session_id, now],
                        )?;
                        RefreshOutcome::Reused { session_id }
                    }
                    None => RefreshOutcome::Unknown,
                }
            };
            tx.commit()?;
            Ok(outcome)
        })
        .await
    }

    /// Counts one request on a session: last seen, requests, bytes and time
    /// spent moving objects.
    ///
    /// # Errors
    /// Database failures.
    pub async fn record_request(
        &self,
        session_id: String,
        at: i64,
        bytes_up: u64,
        bytes_down: u64,
        transfer_ms: u64,
    ) -> anyhow::Result<()> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE sessions SET last_seen_at = MAX(last_seen_at, ?2), requests = requests + 1,
                     bytes_up = bytes_up + ?3, bytes_down = bytes_down + ?4,
                     transfer_ms = transfer_ms + ?5
                 WHERE id = ?1",
                params![
                    session_id,
                    at,
                    to_i64(bytes_up),
                    to_i64(bytes_down),
                    to_i64(transfer_ms)
                ],
            )
            .map(drop)
        })
        .await
    }

    /// Ends one of `account_id`'s sessions; its tokens stop working at once.
    /// Returns `false` when the account has no such live session.
    ///
    /// # Errors
    /// Database failures.
    pub async fn end_session(
        &self,
        account_id: String,
        session_id: String,
        at: i64,
        reason: &'static str,
    ) -> anyhow::Result<bool> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE sessions SET ended_at = ?3, end_reason = ?4
                 WHERE id = ?1 AND account_id = ?2 AND ended_at IS NULL",
                params![session_id, account_id, at, reason],
            )
            .map(|n| n == 1)
        })
        .await
    }

    /// Ends every live session of the account except `keep`; returns how
    /// many ended.
    ///
    /// # Errors
    /// Database failures.
    pub async fn end_sessions_except(
        &self,
        account_id: String,
        keep: Option<String>,
        at: i64,
        reason: &'static str,
    ) -> anyhow::Result<u64> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE sessions SET ended_at = ?3, end_reason = ?4
                 WHERE account_id = ?1 AND ended_at IS NULL AND (?2 IS NULL OR id != ?2)",
                params![account_id, keep, at, reason],
            )
            .map(|n| n as u64)
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
                &format!("{SESSION_SELECT} WHERE id = ?1"),
                [session_id],
                session_from_row,
            )
            .optional()
        })
        .await
    }

    /// All session records of an account, newest first.
    ///
    /// # Errors
    /// Database failures.
    pub async fn sessions_of(&self, account_id: String) -> anyhow::Result<Vec<SessionRecord>> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "{SESSION_SELECT} WHERE account_id = ?1 ORDER BY started_at DESC, rowid DESC"
            ))?;
            let rows = stmt.query_map([account_id], session_from_row)?;
            rows.collect()
        })
        .await
    }

    /// Deletes the records of sessions that ended before `cutoff`; returns
    /// how many.
    ///
    /// # Errors
    /// Database failures.
    pub async fn delete_sessions_ended_before(&self, cutoff: i64) -> anyhow::Result<u64> {
        self.call(move |conn| {
            conn.execute(
                "DELETE FROM sessions WHERE ended_at IS NOT NULL AND ended_at < ?1",
                [cutoff],
            )
            .map(|n| n as u64)
        })
        .await
    }

    // ----- mailed one-time tokens -----

    /// Stores a mailed token's hash.
    ///
    /// # Errors
    /// Database failures.
    pub async fn insert_email_token(
        &self,
        sha256: [u8; 32],
        account_id: String,
        purpose: &'static str,
        email: String,
        created_at: i64,
        expires_at: i64,
    ) -> anyhow::Result<()> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO email_tokens (sha256, account_id, purpose, email, created_at,
                     expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    sha256.as_slice(),
                    account_id,
                    purpose,
                    email,
                    created_at,
                    expires_at
                ],
            )
            .map(drop)
        })
        .await
    }

    /// Uses up a mailed token: returns what it was for, once, if it has the
    /// purpose and has not expired. Expired or not, it is gone afterwards.
    ///
    /// # Errors
    /// Database failures.
    pub async fn take_email_token(
        &self,
        sha256: [u8; 32],
        purpose: &'static str,
        now: i64,
    ) -> anyhow::Result<Option<EmailToken>> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let found: Option<(String, String, i64)> = tx
                .query_row(
                    "SELECT account_id, email, expires_at FROM email_tokens
                     WHERE sha256 = ?1 AND purpose = ?2",
                    params![sha256.as_slice(), purpose],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            if found.is_some() {
                tx.execute(
                    "DELETE FROM email_tokens WHERE sha256 = ?1",
                    [sha256.as_slice()],
                )?;
            }
            tx.commit()?;
            Ok(found.and_then(|(account_id, email, expires_at)| {
                (expires_at > now).then_some(EmailToken { account_id, email })
            }))
        })
        .await
    }

    /// Forgets an account's outstanding tokens of one purpose (a used reset
    /// link makes the other reset links useless).
    ///
    /// # Errors
    /// Database failures.
    pub async fn delete_email_tokens(
        &self,
        account_id: String,
        purpose: &'static str,
    ) -> anyhow::Result<()> {
        self.call(move |conn| {
            conn.execute(
                "DELETE FROM email_tokens WHERE account_id = ?1 AND purpose = ?2",
                params![account_id, purpose],
            )
            .map(drop)
        })
        .await
    }

    /// Deletes expired mailed tokens; returns how many.
    ///
    /// # Errors
    /// Database failures.
    pub async fn delete_expired_email_tokens(&self, now: i64) -> anyhow::Result<u64> {
        self.call(move |conn| {
            conn.execute("DELETE FROM email_tokens WHERE expires_at <= ?1", [now])
                .map(|n| n as u64)
        })
        .await
    }

    // ----- communication preferences -----

    /// The preference rows an account has (categories never set have none).
    ///
    /// # Errors
    /// Database failures.
    pub async fn preferences(&self, account_id: String) -> anyhow::Result<Vec<PreferenceRecord>> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT category, enabled, updated_at FROM preferences WHERE account_id = ?1",
            )?;
            let rows = stmt.query_map([account_id], |r| {
                Ok(PreferenceRecord {
                    category: r.get(0)?,
                    enabled: r.get(1)?,
                    updated_at: r.get(2)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// Sets several preferences at once.
    ///
    /// # Errors
    /// Database failures.
    pub async fn set_preferences(
        &self,
        account_id: String,
        changes: Vec<(&'static str, bool)>,
        at: i64,
    ) -> anyhow::Result<()> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            for (category, enabled) in changes {
                tx.execute(
                    "INSERT INTO preferences (account_id, category, enabled, updated_at)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (account_id, category)
                     DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at",
                    params![account_id, category, enabled, at],
                )?;
            }
            tx.commit()
        })
        .await
    }

    // ----- privacy policy -----

    /// Stores a new policy version. Returns `false` if that version exists.
    ///
    /// # Errors
    /// Database failures.
    pub async fn publish_policy(&self, policy: PolicyRecord) -> anyhow::Result<bool> {
        self.call(move |conn| {
            not_if_taken(conn.execute(
                "INSERT INTO policies (version, text, published_at) VALUES (?1, ?2, ?3)",
                params![policy.version, policy.text, policy.published_at],
            ))
        })
        .await
    }

    /// The most recently published policy.
    ///
    /// # Errors
    /// Database failures.
    pub async fn current_policy(&self) -> anyhow::Result<Option<PolicyRecord>> {
        self.call(|conn| {
            conn.query_row(
                "SELECT version, text, published_at FROM policies
                 ORDER BY published_at DESC, rowid DESC LIMIT 1",
                [],
                |r| {
                    Ok(PolicyRecord {
                        version: r.get(0)?,
                        text: r.get(1)?,
                        published_at: r.get(2)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    // ----- operational alerts -----

    /// Every account not scheduled for deletion, with its last backup,
    /// storage use, alert preference and the alerts already sent.
    ///
    /// # Errors
    /// Database failures.
    pub async fn alert_subjects(&self) -> anyhow::Result<Vec<AlertSubject>> {
        self.call(|conn| {
            let mut stmt = conn.prepare(
                "SELECT a.id, a.email, a.quota_bytes,
                     (SELECT MAX(o.created_at) FROM objects o
                      WHERE o.account_id = a.id AND o.kind = 'snapshots' AND o.held_in IS NULL),
                     (SELECT COALESCE(SUM(o.size), 0) FROM objects o
                      WHERE o.account_id = a.id AND o.held_in IS NULL),
                     COALESCE((SELECT p.enabled FROM preferences p
                               WHERE p.account_id = a.id AND p.category = 'operational_alerts'), 1),
                     (SELECT GROUP_CONCAT(s.alert, ',') FROM alerts_sent s
                      WHERE s.account_id = a.id),
                     a.created_at
                 FROM accounts a WHERE a.purge_at IS NULL ORDER BY a.created_at, a.rowid",
            )?;
            let rows = stmt.query_map([], |r| {
                let sent: Option<String> = r.get(6)?;
                Ok(AlertSubject {
                    account_id: r.get(0)?,
                    email: r.get(1)?,
                    quota_bytes: to_u64(r.get(2)?),
                    last_snapshot_at: r.get(3)?,
                    created_at: r.get(7)?,
                    used_bytes: to_u64(r.get(4)?),
                    alerts_enabled: r.get(5)?,
                    alerts_sent: sent
                        .map(|s| s.split(',').map(str::to_owned).collect())
                        .unwrap_or_default(),
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// Records that `alert` was mailed to the account.
    ///
    /// # Errors
    /// Database failures.
    pub async fn mark_alert_sent(
        &self,
        account_id: String,
        alert: &'static str,
        at: i64,
    ) -> anyhow::Result<()> {
        self.call(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO alerts_sent (account_id, alert, sent_at)
                 VALUES (?1, ?2, ?3)",
                params![account_id, alert, at],
            )
            .map(drop)
        })
        .await
    }

    /// Forgets that `alert` was mailed (its condition cleared), so it is
    /// mailed again if the condition returns.
    ///
    /// # Errors
    /// Database failures.
    pub async fn clear_alert(&self, account_id: String, alert: &'static str) -> anyhow::Result<()> {
        self.call(move |conn| {
            conn.execute(
                "DELETE FROM alerts_sent WHERE account_id = ?1 AND alert = ?2",
                params![account_id, alert],
            )
            .map(drop)
        })
        .await
    }

    // ----- objects -----

    /// Bytes stored by an account, summed over its objects and the parts of
    /// its shares. Held deletions do not count: the person deleted them
    /// (they are only kept for the hold period).
    ///
    /// # Errors
    /// Database failures.
    pub async fn used_bytes(&self, account_id: String) -> anyhow::Result<u64> {
        self.call(move |conn| {
            conn.query_row(
                "SELECT COALESCE((SELECT SUM(size) FROM objects
                                  WHERE account_id = ?1 AND held_in IS NULL), 0)
                      + COALESCE((SELECT SUM(size) FROM share_parts WHERE account_id = ?1), 0)",
                [account_id],
                |r| r.get::<_, i64>(0),
            )
            .map(to_u64)
        })
        .await
    }

    /// The size of one object, if the account has it (a held deletion is
    /// not had: it is hidden until purged or cancelled).
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
                "SELECT size FROM objects
                 WHERE account_id = ?1 AND kind = ?2 AND id = ?3 AND held_in IS NULL",
                params![account_id, kind, id],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|size| size.map(to_u64))
        })
        .await
    }

    /// Records a stored object. Returns `false` if it was already recorded.
    /// Storing a held deletion again (same id, so the same bytes) takes it
    /// out of its hold and returns `true`.
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
                "INSERT INTO objects (account_id, kind, id, size, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (account_id, kind, id) DO UPDATE
                     SET held_in = NULL, purge_after = NULL
                     WHERE held_in IS NOT NULL",
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

    /// An account's objects of one kind, oldest first; held deletions are
    /// left out.
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
                 WHERE account_id = ?1 AND kind = ?2 AND held_in IS NULL
                 ORDER BY created_at, rowid",
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

    /// Every object of an account with its kind, oldest first (export and
    /// purge).
    ///
    /// # Errors
    /// Database failures.
    pub async fn all_objects(
        &self,
        account_id: String,
    ) -> anyhow::Result<Vec<(String, ObjectRecord)>> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT kind, id, size, created_at FROM objects
                 WHERE account_id = ?1 ORDER BY created_at, rowid",
            )?;
            let rows = stmt.query_map([account_id], |r| {
                Ok((
                    r.get(0)?,
                    ObjectRecord {
                        id: r.get(1)?,
                        size: to_u64(r.get(2)?),
                        created_at: r.get(3)?,
                    },
                ))
            })?;
            rows.collect()
        })
        .await
    }

    /// Whether the database answers a trivial query (readiness).
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> anyhow::Result<()> {
        self.call(|conn| {
            conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map(drop)
        })
        .await
    }

    /// How many sessions have not ended (the metrics gauge).
    ///
    /// # Errors
    /// Database failures.
    pub async fn active_session_count(&self) -> anyhow::Result<u64> {
        self.call(|conn| {
            conn.query_row(
                "SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(to_u64)
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
    escrowed_data_key, quota_bytes, created_at, wrapped_keys, key_changed_at, email_verified_at,
    pending_email, address, password_changed_at, policy_accepted_version, policy_accepted_at,
    deletion_requested_at, purge_at, totp_secret, totp_pending_secret, totp_enabled_at
    FROM accounts";

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
        wrapped_keys: r.get(9)?,
        key_changed_at: r.get(10)?,
        email_verified_at: r.get(11)?,
        pending_email: r.get(12)?,
        address: r.get(13)?,
        password_changed_at: r.get(14)?,
        policy_accepted_version: r.get(15)?,
        policy_accepted_at: r.get(16)?,
        deletion_requested_at: r.get(17)?,
        purge_at: r.get(18)?,
        totp_secret: r.get(19)?,
        totp_pending_secret: r.get(20)?,
        totp_enabled_at: r.get(21)?,
    })
}

const SESSION_SELECT: &str = "SELECT id, account_id, device_id, device_name, app_version, ip,
    started_at, last_seen_at, ended_at, end_reason, requests, bytes_up, bytes_down, transfer_ms
    FROM sessions";

fn session_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRecord> {
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
        end_reason: r.get(9)?,
        requests: to_u64(r.get(10)?),
        bytes_up: to_u64(r.get(11)?),
        bytes_down: to_u64(r.get(12)?),
        transfer_ms: to_u64(r.get(13)?),
    })
}

/// `Ok(false)` for a uniqueness violation (a taken email, a published
/// version), `Ok(true)` when a row changed.
fn not_if_taken(result: rusqlite::Result<usize>) -> rusqlite::Result<bool> {
    match result {
        Ok(n) => Ok(n > 0),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
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
