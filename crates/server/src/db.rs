//! All metadata SQL lives here, behind async functions, written once for the
//! two databases the service runs on (see `docs/database.md`):
//!
//! - SQLite, the embedded configuration: one file, one connection;
//! - PostgreSQL, the scaled one: shared by every replica of the service.
//!
//! Each call runs its statements on `spawn_blocking` through the dialect
//! layer in [`sql`], which both backends implement. Read-modify-write
//! operations are single statements (`UPDATE … WHERE … RETURNING`, `INSERT
//! … ON CONFLICT`) or transactions that lock the rows they read, so they
//! stay atomic across connections and replicas.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{Mutex, OwnedMutexGuard};

mod apps;
mod held_deletions;
mod postgres;
mod shares;
pub(crate) mod sql;
mod sqlite;

pub use apps::{AppTokenRecord, NewAppToken};
pub use held_deletions::{DeletionBatch, GrantRecord, HeldObject, HoldOutcome, HoldRequest};
pub use shares::{NewShare, OpenOutcome, ShareRecord, MANIFEST_PART};

use self::postgres::{HeldLock, LockPurpose, Postgres};
use self::sql::{args, Row, Sql};
use self::sqlite::Sqlite;

// Stripes rather than one lock per account: bounded memory, and two accounts
// sharing a stripe only wait on each other's writes.
const WRITE_LOCK_STRIPES: usize = 64;

/// Handle to the metadata database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    backend: Backend,
    /// In-process account write locks: all of it on SQLite; on PostgreSQL
    /// taken before the advisory lock, so writers of one process queue here
    /// without holding a connection each.
    write_locks: Arc<Vec<Arc<Mutex<()>>>>,
}

#[derive(Clone)]
enum Backend {
    Sqlite(Arc<Sqlite>),
    Postgres(Postgres),
}

/// Holds one account's write lock (see [`Db::lock_account_writes`]) until
/// dropped.
#[must_use = "the lock is released when this is dropped"]
pub struct AccountWriteGuard {
    // Dropped in this order: the shared lock, then the local one.
    _shared: Option<HeldLock>,
    _local: OwnedMutexGuard<()>,
}

/// This replica's turn to run the background jobs (see
/// [`Db::lead_jobs`]); others skip theirs until it is released or dropped.
#[must_use = "the lease ends when this is dropped"]
pub struct JobsLease {
    shared: Option<HeldLock>,
}

impl JobsLease {
    /// Ends the lease and waits until others can take it (dropping it ends
    /// it too, a moment later).
    pub async fn release(self) {
        if let Some(held) = self.shared {
            held.release().await;
        }
    }
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
    /// The database `url` names, or SQLite at `sqlite_path` when it is
    /// `None`; migrated to the latest schema. `postgres://` and
    /// `postgresql://` URLs name PostgreSQL; `?schema=NAME` puts the tables
    /// in that schema (created if missing); other parameters go to the
    /// driver.
    ///
    /// # Errors
    /// An unsupported or malformed URL (the message never repeats it: it
    /// may hold a password); the database cannot be reached or migrated;
    /// the failures of [`Db::open`].
    pub fn connect(url: Option<&str>, sqlite_path: &Path) -> anyhow::Result<Db> {
        match url {
            None => Db::open(sqlite_path),
            Some(url) => {
                let url = url.to_owned();
                let postgres = off_async_thread(move || Postgres::connect(&url))?;
                Ok(Db::with(Backend::Postgres(postgres)))
            }
        }
    }

    /// Opens (creating if needed) the SQLite database at `path` and migrates
    /// it to the latest schema.
    ///
    /// # Errors
    /// When the file cannot be opened or a migration fails.
    pub fn open(path: &Path) -> anyhow::Result<Db> {
        Ok(Db::with(Backend::Sqlite(Arc::new(Sqlite::open(path)?))))
    }

    /// Opens an existing SQLite database read-only, without migrating it
    /// (the operator's `export-account`, which may run beside the service).
    ///
    /// # Errors
    /// When the file is missing or cannot be opened, or its schema is not
    /// the one this program expects (start the service once to migrate it).
    pub fn open_read_only(path: &Path) -> anyhow::Result<Db> {
        Ok(Db::with(Backend::Sqlite(Arc::new(Sqlite::open_read_only(
            path,
        )?))))
    }

    fn with(backend: Backend) -> Db {
        let write_locks = (0..WRITE_LOCK_STRIPES)
            .map(|_| Arc::new(Mutex::new(())))
            .collect();
        Db {
            backend,
            write_locks: Arc::new(write_locks),
        }
    }

    /// Runs `f` on a connection, on a blocking thread.
    async fn call<R, F>(&self, f: F) -> anyhow::Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn Sql) -> anyhow::Result<R> + Send + 'static,
    {
        let backend = self.backend.clone();
        tokio::task::spawn_blocking(move || match backend {
            Backend::Sqlite(db) => db.run(f),
            Backend::Postgres(db) => db.run(f),
        })
        .await
        .context("database task panicked")?
    }

    /// Runs `f` in one transaction, on a blocking thread; commits when it
    /// returns `Ok`. On PostgreSQL `f` may run again when the database ends
    /// the transaction for a deadlock.
    async fn transaction<R, F>(&self, f: F) -> anyhow::Result<R>
    where
        R: Send + 'static,
        F: FnMut(&mut dyn Sql) -> anyhow::Result<R> + Send + 'static,
    {
        let backend = self.backend.clone();
        tokio::task::spawn_blocking(move || match backend {
            Backend::Sqlite(db) => db.run_in_transaction(f),
            Backend::Postgres(db) => db.run_in_transaction(f),
        })
        .await
        .context("database task panicked")?
    }

    // ----- locks -----

    /// Waits for the lock that serialises one account's object writes and
    /// deletes (so a quota check and the insert after it see the same
    /// state). On PostgreSQL it holds across every replica: an advisory
    /// lock on a connection of its own, released when the guard drops, also
    /// when the waiting request is cancelled.
    ///
    /// # Errors
    /// PostgreSQL failures (no connection to hold the lock on).
    pub async fn lock_account_writes(&self, account_id: &str) -> anyhow::Result<AccountWriteGuard> {
        let stripe =
            blake3::hash(account_id.as_bytes()).as_bytes()[0] as usize % WRITE_LOCK_STRIPES;
        let local = self.write_locks[stripe].clone().lock_owned().await;
        let shared = match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(db) => {
                let db = db.clone();
                let account_id = account_id.to_owned();
                let held = tokio::task::spawn_blocking(move || {
                    db.lock(LockPurpose::AccountWrites, &account_id)
                })
                .await
                .context("database task panicked")??;
                Some(held)
            }
        };
        Ok(AccountWriteGuard {
            _shared: shared,
            _local: local,
        })
    }

    /// This replica's turn to run the background jobs, or `None` when
    /// another replica (or another run in this one) has it. Always granted
    /// on SQLite, which has one service.
    ///
    /// # Errors
    /// PostgreSQL failures.
    pub async fn lead_jobs(&self) -> anyhow::Result<Option<JobsLease>> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(Some(JobsLease { shared: None })),
            Backend::Postgres(db) => {
                let db = db.clone();
                let held = tokio::task::spawn_blocking(move || db.try_lock(LockPurpose::Jobs, ""))
                    .await
                    .context("database task panicked")??;
                Ok(held.map(|held| JobsLease { shared: Some(held) }))
            }
        }
    }

    /// Whether this is the PostgreSQL backend.
    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Everything the database stores, as bytes, for tests that check what
    /// is (not) kept: on SQLite the database file after a checkpoint, free
    /// pages included; on PostgreSQL every value of every row of the
    /// schema's tables (rows deleted but not yet vacuumed are not seen).
    ///
    /// # Errors
    /// Database or file failures.
    pub async fn stored_bytes(&self) -> anyhow::Result<Vec<u8>> {
        let backend = self.backend.clone();
        tokio::task::spawn_blocking(move || match backend {
            Backend::Sqlite(db) => db.file_bytes(),
            Backend::Postgres(db) => db.contents(),
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
        self.call(move |db| {
            let inserted = db.execute(
                "INSERT INTO accounts (id, first_name, last_name, email, password_hash,
                     key_mode, escrowed_data_key, quota_bytes, created_at, wrapped_keys,
                     key_changed_at, address)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                args![
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
        self.call(move |db| {
            db.query_row(
                &format!("{ACCOUNT_SELECT} WHERE email = ?1"),
                args![email],
                account_from_row,
            )
        })
        .await
    }

    /// The account with this id.
    ///
    /// # Errors
    /// Database failures.
    pub async fn account_by_id(&self, id: String) -> anyhow::Result<Option<AccountRecord>> {
        self.call(move |db| {
            db.query_row(
                &format!("{ACCOUNT_SELECT} WHERE id = ?1"),
                args![id],
                account_from_row,
            )
        })
        .await
    }

    /// Number of accounts (used by tests and ops).
    ///
    /// # Errors
    /// Database failures.
    pub async fn account_count(&self) -> anyhow::Result<u64> {
        self.call(|db| {
            db.query_i64("SELECT COUNT(*) FROM accounts", args![])
                .map(to_u64)
        })
        .await
    }

    /// Changes names and address.
    ///
    /// # Errors
    /// Database failures.
    pub async fn update_profile(&self, id: String, change: ProfileChange) -> anyhow::Result<()> {
        self.transaction(move |db| {
            if let Some(first) = &change.first_name {
                db.execute(
                    "UPDATE accounts SET first_name = ?2 WHERE id = ?1",
                    args![&id, first],
                )?;
            }
            if let Some(last) = &change.last_name {
                db.execute(
                    "UPDATE accounts SET last_name = ?2 WHERE id = ?1",
                    args![&id, last],
                )?;
            }
            if let Some(address) = &change.address {
                db.execute(
                    "UPDATE accounts SET address = ?2 WHERE id = ?1",
                    args![&id, address],
                )?;
            }
            Ok(())
        })
        .await
    }

    /// Sets (or clears) the email waiting for verification.
    ///
    /// # Errors
    /// Database failures.
    pub async fn set_pending_email(&self, id: String, email: Option<String>) -> anyhow::Result<()> {
        self.call(move |db| {
            db.execute(
                "UPDATE accounts SET pending_email = ?2 WHERE id = ?1",
                args![id, email],
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
        self.call(move |db| {
            let updated = db.execute(
                "UPDATE accounts SET email = ?2, email_verified_at = ?3,
                     pending_email = CASE WHEN pending_email = ?2 THEN NULL ELSE pending_email END
                 WHERE id = ?1 AND (email = ?2 OR pending_email = ?2)",
                args![id, email, at],
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
        self.call(move |db| {
            db.execute(
                "UPDATE accounts SET password_hash = ?2, password_changed_at = ?3 WHERE id = ?1",
                args![id, hash, at],
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
        self.call(move |db| {
            db.execute(
                "UPDATE accounts SET key_mode = ?2, escrowed_data_key = ?3, wrapped_keys = ?4,
                     key_changed_at = ?5
                 WHERE id = ?1",
                args![id, key_mode, escrowed_data_key, wrapped_keys, at],
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
        self.call(move |db| {
            db.execute(
                "UPDATE accounts SET policy_accepted_version = ?2, policy_accepted_at = ?3
                 WHERE id = ?1",
                args![id, version, at],
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
        self.transaction(move |db| {
            db.execute(
                "UPDATE accounts SET deletion_requested_at = ?2, purge_at = ?3 WHERE id = ?1",
                args![&id, requested_at, purge_at],
            )?;
            db.execute(
                "UPDATE sessions SET ended_at = ?2, end_reason = 'account_deleted'
                 WHERE account_id = ?1 AND ended_at IS NULL",
                args![&id, requested_at],
            )?;
            Ok(())
        })
        .await
    }

    /// Cancels a scheduled deletion.
    ///
    /// # Errors
    /// Database failures.
    pub async fn cancel_deletion(&self, id: String) -> anyhow::Result<()> {
        self.call(move |db| {
            db.execute(
                "UPDATE accounts SET deletion_requested_at = NULL, purge_at = NULL WHERE id = ?1",
                args![id],
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
        self.call(move |db| {
            db.query_map(
                "SELECT id FROM accounts WHERE purge_at IS NOT NULL AND purge_at <= ?1
                 ORDER BY purge_at",
                args![now],
                |r| r.get(0),
            )
        })
        .await
    }

    /// Deletes the account row; its sessions, objects, tokens, preferences
    /// and recovery codes go with it. Returns `false` if there was none.
    ///
    /// # Errors
    /// Database failures.
    pub async fn delete_account(&self, id: String) -> anyhow::Result<bool> {
        self.call(move |db| {
            db.execute("DELETE FROM accounts WHERE id = ?1", args![id])
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
        self.call(move |db| {
            let map = |r: &Row| {
                Ok(Recipient {
                    account_id: r.get(0)?,
                    email: r.get(1)?,
                })
            };
            match category {
                None => db.query_map(
                    "SELECT id, email FROM accounts WHERE purge_at IS NULL ORDER BY created_at",
                    args![],
                    map,
                ),
                Some(category) => db.query_map(
                    "SELECT a.id, a.email FROM accounts a
                     LEFT JOIN preferences p ON p.account_id = a.id AND p.category = ?1
                     WHERE a.purge_at IS NULL AND COALESCE(p.enabled, ?2) = 1
                     ORDER BY a.created_at",
                    args![category, default_on],
                    map,
                ),
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
        self.call(move |db| {
            db.execute(
                "UPDATE accounts SET totp_pending_secret = ?2 WHERE id = ?1",
                args![id, wrapped],
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
        self.transaction(move |db| {
            db.execute(
                "UPDATE accounts SET totp_secret = totp_pending_secret, totp_pending_secret = NULL,
                     totp_enabled_at = ?2, totp_last_step = ?3
                 WHERE id = ?1 AND totp_pending_secret IS NOT NULL",
                args![&id, at, step],
            )?;
            db.execute(
                "DELETE FROM recovery_codes WHERE account_id = ?1",
                args![&id],
            )?;
            for hash in &recovery_sha256 {
                db.execute(
                    "INSERT INTO recovery_codes (account_id, sha256) VALUES (?1, ?2)",
                    args![&id, hash],
                )?;
            }
            Ok(())
        })
        .await
    }

    /// Turns two-factor sign-in off and forgets the secret and recovery codes.
    ///
    /// # Errors
    /// Database failures.
    pub async fn disable_totp(&self, id: String) -> anyhow::Result<()> {
        self.transaction(move |db| {
            db.execute(
                "UPDATE accounts SET totp_secret = NULL, totp_pending_secret = NULL,
                     totp_enabled_at = NULL, totp_last_step = NULL
                 WHERE id = ?1",
                args![&id],
            )?;
            db.execute(
                "DELETE FROM recovery_codes WHERE account_id = ?1",
                args![&id],
            )?;
            Ok(())
        })
        .await
    }

    /// Claims a TOTP time step for sign-in: `true` only if no code of this or
    /// a later step was accepted before (so a code works once). One
    /// conditional update: of two sign-ins racing with the same code, on
    /// any replicas, one claims it.
    ///
    /// # Errors
    /// Database failures.
    pub async fn claim_totp_step(&self, id: String, step: i64) -> anyhow::Result<bool> {
        self.call(move |db| {
            db.execute(
                "UPDATE accounts SET totp_last_step = ?2
                 WHERE id = ?1 AND (totp_last_step IS NULL OR totp_last_step < ?2)",
                args![id, step],
            )
            .map(|n| n == 1)
        })
        .await
    }

    /// Uses up a recovery code: `true` if it was the account's and unused
    /// (one conditional update, so a code works once however many race).
    ///
    /// # Errors
    /// Database failures.
    pub async fn use_recovery_code(
        &self,
        id: String,
        sha256: [u8; 32],
        at: i64,
    ) -> anyhow::Result<bool> {
        self.call(move |db| {
            db.execute(
                "UPDATE recovery_codes SET used_at = ?3
                 WHERE account_id = ?1 AND sha256 = ?2 AND used_at IS NULL",
                args![id, &sha256, at],
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
        self.call(move |db| {
            db.query_i64(
                "SELECT COUNT(*) FROM recovery_codes WHERE account_id = ?1 AND used_at IS NULL",
                args![id],
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
        self.call(move |db| {
            db.execute(
                "INSERT INTO sessions (id, account_id, token_sha256, refresh_sha256,
                     access_expires_at, device_id, device_name, app_version, ip, started_at,
                     last_seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
                args![
                    session.id,
                    session.account_id,
                    &session.access_sha256,
                    &session.refresh_sha256,
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
        self.call(move |db| {
            db.query_row(
                "SELECT id, account_id, access_expires_at FROM sessions
                 WHERE token_sha256 = ?1 AND ended_at IS NULL",
                args![&access_sha256],
                |r| {
                    Ok(ActiveSession {
                        id: r.get(0)?,
                        account_id: r.get(1)?,
                        access_expires_at: r.get(2)?,
                    })
                },
            )
        })
        .await
    }

    /// Presents a refresh token: rotates it (and the access token) when it is
    /// current, ends the session when it is a rotated-away one. The session
    /// row is locked while it is read and rotated, so of two presentations
    /// of one token (on any replicas) the second sees it rotated away.
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
        self.transaction(move |db| {
            let current: Option<(String, String)> = db.query_row(
                &format!(
                    "SELECT id, account_id FROM sessions
                     WHERE refresh_sha256 = ?1 AND ended_at IS NULL{}",
                    db.lock_rows()
                ),
                args![&refresh_sha256],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let outcome = if let Some((session_id, account_id)) = current {
                db.execute(
                    "INSERT INTO rotated_refresh_tokens (sha256, session_id)
                     VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    args![&refresh_sha256, &session_id],
                )?;
                db.execute(
                    "UPDATE sessions SET token_sha256 = ?2, refresh_sha256 = ?3,
                         access_expires_at = ?4,
                         last_seen_at = CASE WHEN last_seen_at > ?5 THEN last_seen_at ELSE ?5 END
                     WHERE id = ?1",
                    args![
                        &session_id,
                        &new_access_sha256,
                        &new_refresh_sha256,
                        access_expires_at,
                        now
                    ],
                )?;
                RefreshOutcome::Rotated {
                    session_id,
                    account_id,
                }
            } else {
                let rotated: Option<String> = db.query_row(
                    "SELECT session_id FROM rotated_refresh_tokens WHERE sha256 = ?1",
                    args![&refresh_sha256],
                    |r| r.get(0),
                )?;
                match rotated {
                    Some(session_id) => {
                        db.execute(
                            "UPDATE sessions SET ended_at = ?2, end_reason = 'refresh_token_reused'
                             WHERE id = ?1 AND ended_at IS NULL",
                            args![&session_id, now],
                        )?;
                        RefreshOutcome::Reused { session_id }
                    }
                    None => RefreshOutcome::Unknown,
                }
            };
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
        self.call(move |db| {
            db.execute(
                "UPDATE sessions
                 SET last_seen_at = CASE WHEN last_seen_at > ?2 THEN last_seen_at ELSE ?2 END,
                     requests = requests + 1,
                     bytes_up = bytes_up + ?3, bytes_down = bytes_down + ?4,
                     transfer_ms = transfer_ms + ?5
                 WHERE id = ?1",
                args![
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
        self.call(move |db| {
            db.execute(
                "UPDATE sessions SET ended_at = ?3, end_reason = ?4
                 WHERE id = ?1 AND account_id = ?2 AND ended_at IS NULL",
                args![session_id, account_id, at, reason],
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
        self.call(move |db| {
            db.execute(
                "UPDATE sessions SET ended_at = ?3, end_reason = ?4
                 WHERE account_id = ?1 AND ended_at IS NULL
                     AND (CAST(?2 AS TEXT) IS NULL OR id != ?2)",
                args![account_id, keep, at, reason],
            )
        })
        .await
    }

    /// The full session record.
    ///
    /// # Errors
    /// Database failures.
    pub async fn session(&self, session_id: String) -> anyhow::Result<Option<SessionRecord>> {
        self.call(move |db| {
            db.query_row(
                &format!("{SESSION_SELECT} WHERE id = ?1"),
                args![session_id],
                session_from_row,
            )
        })
        .await
    }

    /// All session records of an account, newest first.
    ///
    /// # Errors
    /// Database failures.
    pub async fn sessions_of(&self, account_id: String) -> anyhow::Result<Vec<SessionRecord>> {
        self.call(move |db| {
            db.query_map(
                &format!(
                    "{SESSION_SELECT} WHERE account_id = ?1 ORDER BY started_at DESC, rowid DESC"
                ),
                args![account_id],
                session_from_row,
            )
        })
        .await
    }

    /// Deletes the records of sessions that ended before `cutoff`; returns
    /// how many.
    ///
    /// # Errors
    /// Database failures.
    pub async fn delete_sessions_ended_before(&self, cutoff: i64) -> anyhow::Result<u64> {
        self.call(move |db| {
            db.execute(
                "DELETE FROM sessions WHERE ended_at IS NOT NULL AND ended_at < ?1",
                args![cutoff],
            )
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
        self.call(move |db| {
            db.execute(
                "INSERT INTO email_tokens (sha256, account_id, purpose, email, created_at,
                     expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                args![&sha256, account_id, purpose, email, created_at, expires_at],
            )
            .map(drop)
        })
        .await
    }

    /// Uses up a mailed token: returns what it was for, once, if it has the
    /// purpose and has not expired. Expired or not, it is gone afterwards.
    /// One `DELETE … RETURNING`: of two uses racing, one gets it.
    ///
    /// # Errors
    /// Database failures.
    pub async fn take_email_token(
        &self,
        sha256: [u8; 32],
        purpose: &'static str,
        now: i64,
    ) -> anyhow::Result<Option<EmailToken>> {
        self.call(move |db| {
            let found: Option<(String, String, i64)> = db.query_row(
                "DELETE FROM email_tokens WHERE sha256 = ?1 AND purpose = ?2
                 RETURNING account_id, email, expires_at",
                args![&sha256, purpose],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
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
        self.call(move |db| {
            db.execute(
                "DELETE FROM email_tokens WHERE account_id = ?1 AND purpose = ?2",
                args![account_id, purpose],
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
        self.call(move |db| {
            db.execute(
                "DELETE FROM email_tokens WHERE expires_at <= ?1",
                args![now],
            )
        })
        .await
    }

    // ----- communication preferences -----

    /// The preference rows an account has (categories never set have none).
    ///
    /// # Errors
    /// Database failures.
    pub async fn preferences(&self, account_id: String) -> anyhow::Result<Vec<PreferenceRecord>> {
        self.call(move |db| {
            db.query_map(
                "SELECT category, enabled, updated_at FROM preferences WHERE account_id = ?1",
                args![account_id],
                |r| {
                    Ok(PreferenceRecord {
                        category: r.get(0)?,
                        enabled: r.get(1)?,
                        updated_at: r.get(2)?,
                    })
                },
            )
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
        self.transaction(move |db| {
            for (category, enabled) in &changes {
                db.execute(
                    "INSERT INTO preferences (account_id, category, enabled, updated_at)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (account_id, category)
                     DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at",
                    args![&account_id, *category, *enabled, at],
                )?;
            }
            Ok(())
        })
        .await
    }

    // ----- privacy policy -----

    /// Stores a new policy version. Returns `false` if that version exists.
    ///
    /// # Errors
    /// Database failures.
    pub async fn publish_policy(&self, policy: PolicyRecord) -> anyhow::Result<bool> {
        self.call(move |db| {
            not_if_taken(db.execute(
                "INSERT INTO policies (version, text, published_at) VALUES (?1, ?2, ?3)",
                args![policy.version, policy.text, policy.published_at],
            ))
        })
        .await
    }

    /// The most recently published policy.
    ///
    /// # Errors
    /// Database failures.
    pub async fn current_policy(&self) -> anyhow::Result<Option<PolicyRecord>> {
        self.call(|db| {
            db.query_row(
                "SELECT version, text, published_at FROM policies
                 ORDER BY published_at DESC, rowid DESC LIMIT 1",
                args![],
                |r| {
                    Ok(PolicyRecord {
                        version: r.get(0)?,
                        text: r.get(1)?,
                        published_at: r.get(2)?,
                    })
                },
            )
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
        self.call(|db| {
            db.query_map(
                "SELECT a.id, a.email, a.quota_bytes,
                     (SELECT MAX(o.created_at) FROM objects o
                      WHERE o.account_id = a.id AND o.kind = 'snapshots' AND o.held_in IS NULL),
                     CAST((SELECT COALESCE(SUM(o.size), 0) FROM objects o
                           WHERE o.account_id = a.id AND o.held_in IS NULL) AS BIGINT),
                     COALESCE((SELECT p.enabled FROM preferences p
                               WHERE p.account_id = a.id AND p.category = 'operational_alerts'), 1),
                     (SELECT string_agg(s.alert, ',') FROM alerts_sent s
                      WHERE s.account_id = a.id),
                     a.created_at
                 FROM accounts a WHERE a.purge_at IS NULL ORDER BY a.created_at, a.rowid",
                args![],
                |r| {
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
                },
            )
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
        self.call(move |db| {
            db.execute(
                "INSERT INTO alerts_sent (account_id, alert, sent_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account_id, alert) DO UPDATE SET sent_at = excluded.sent_at",
                args![account_id, alert, at],
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
        self.call(move |db| {
            db.execute(
                "DELETE FROM alerts_sent WHERE account_id = ?1 AND alert = ?2",
                args![account_id, alert],
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
        self.call(move |db| {
            db.query_i64(
                "SELECT CAST(COALESCE((SELECT SUM(size) FROM objects
                                       WHERE account_id = ?1 AND held_in IS NULL), 0)
                           + COALESCE((SELECT SUM(size) FROM share_parts
                                       WHERE account_id = ?1), 0) AS BIGINT)",
                args![account_id],
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
        self.call(move |db| {
            db.query_row(
                "SELECT size FROM objects
                 WHERE account_id = ?1 AND kind = ?2 AND id = ?3 AND held_in IS NULL",
                args![account_id, kind, id],
                |r| r.get(0).map(to_u64),
            )
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
        self.call(move |db| {
            db.execute(
                "INSERT INTO objects (account_id, kind, id, size, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (account_id, kind, id) DO UPDATE
                     SET held_in = NULL, purge_after = NULL
                     WHERE objects.held_in IS NOT NULL",
                args![
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
        self.call(move |db| {
            db.query_map(
                "SELECT id, size, created_at FROM objects
                 WHERE account_id = ?1 AND kind = ?2 AND held_in IS NULL
                 ORDER BY created_at, rowid",
                args![account_id, kind],
                |r| {
                    Ok(ObjectRecord {
                        id: r.get(0)?,
                        size: to_u64(r.get(1)?),
                        created_at: r.get(2)?,
                    })
                },
            )
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
        self.call(move |db| {
            db.query_map(
                "SELECT kind, id, size, created_at FROM objects
                 WHERE account_id = ?1 ORDER BY created_at, rowid",
                args![account_id],
                |r| {
                    Ok((
                        r.get(0)?,
                        ObjectRecord {
                            id: r.get(1)?,
                            size: to_u64(r.get(2)?),
                            created_at: r.get(3)?,
                        },
                    ))
                },
            )
        })
        .await
    }

    /// Whether the database answers a trivial query (readiness).
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> anyhow::Result<()> {
        self.call(|db| db.query_i64("SELECT 1", args![]).map(drop))
            .await
    }

    /// How many sessions have not ended (the metrics gauge).
    ///
    /// # Errors
    /// Database failures.
    pub async fn active_session_count(&self) -> anyhow::Result<u64> {
        self.call(|db| {
            db.query_i64(
                "SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL",
                args![],
            )
            .map(to_u64)
        })
        .await
    }

    /// On SQLite, writes the WAL back into the main file, so the database is
    /// one file (used before copying it and by tests that inspect it).
    /// Nothing to do on PostgreSQL.
    ///
    /// # Errors
    /// Database failures.
    pub async fn checkpoint(&self) -> anyhow::Result<()> {
        let Backend::Sqlite(db) = self.backend.clone() else {
            return Ok(());
        };
        tokio::task::spawn_blocking(move || db.checkpoint())
            .await
            .context("database task panicked")?
    }
}

const ACCOUNT_SELECT: &str = "SELECT id, first_name, last_name, email, password_hash, key_mode,
    escrowed_data_key, quota_bytes, created_at, wrapped_keys, key_changed_at, email_verified_at,
    pending_email, address, password_changed_at, policy_accepted_version, policy_accepted_at,
    deletion_requested_at, purge_at, totp_secret, totp_pending_secret, totp_enabled_at
    FROM accounts";

fn account_from_row(r: &Row) -> anyhow::Result<AccountRecord> {
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

fn session_from_row(r: &Row) -> anyhow::Result<SessionRecord> {
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
fn not_if_taken(result: anyhow::Result<u64>) -> anyhow::Result<bool> {
    match result {
        Ok(n) => Ok(n > 0),
        Err(e) if sqlite::is_constraint_violation(&e) || postgres::is_unique_violation(&e) => {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Runs blocking start-up work (connecting, migrating) where blocking is
/// allowed: on this thread, or on a scoped one when this is an async worker
/// (`AppState::open` is called from async tests).
fn off_async_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|scope| {
        scope
            .spawn(f)
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

// Integers are signed in both databases; sizes never get near 2^63.
fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
