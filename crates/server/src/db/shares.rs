//! SQL of shares (see `crate::shares`): the share rows, their recipients'
//! addresses (kept only while the share's data exists), the encrypted parts
//! uploaded to the share area and the download tickets recipients get.

use super::sql::{args, Row};
use super::{to_i64, to_u64, Db};

/// The part number the manifest is stored under.
pub const MANIFEST_PART: i64 = -1;

/// A share as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRecord {
    pub id: String,
    pub account_id: String,
    /// `uploading`, `active` or `revoked`.
    pub state: String,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    pub expires_at: i64,
    /// Argon2id PHC string, when the share has a password.
    pub password_hash: Option<String>,
    pub max_downloads: Option<u64>,
    pub downloads: u64,
    pub last_opened_at: Option<i64>,
    /// File parts announced at creation (the manifest not counted).
    pub parts: u64,
    pub revoked_at: Option<i64>,
    /// When its stored data and recipients were removed.
    pub removed_at: Option<i64>,
    /// Bytes stored for it now (manifest and parts).
    pub stored_bytes: u64,
    /// Addresses it was sent to; empty once removed.
    pub recipients: Vec<String>,
    /// Its owner's account is scheduled for deletion: nobody may open it.
    pub owner_leaving: bool,
}

/// A share about to be stored.
#[derive(Debug, Clone)]
pub struct NewShare {
    pub id: String,
    pub account_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub password_hash: Option<String>,
    pub max_downloads: Option<u64>,
    pub parts: u64,
    pub recipients: Vec<String>,
}

/// What opening a share for download found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenOutcome {
    /// Counted as a download; the ticket was stored.
    Opened,
    /// No such (completed) share.
    NotFound,
    /// Revoked, expired or downloaded the most times allowed.
    Gone,
}

const SHARE_SELECT: &str = "SELECT s.id, s.account_id, s.state, s.created_at, s.completed_at,
    s.expires_at, s.password_hash, s.max_downloads, s.downloads, s.last_opened_at, s.parts,
    s.revoked_at, s.removed_at,
    (SELECT CAST(COALESCE(SUM(p.size), 0) AS BIGINT) FROM share_parts p WHERE p.share_id = s.id),
    (SELECT COALESCE(string_agg(r.email, '\n'), '') FROM share_recipients r
        WHERE r.share_id = s.id),
    (SELECT a.purge_at IS NOT NULL FROM accounts a WHERE a.id = s.account_id)
    FROM shares s";

fn share_from_row(r: &Row) -> anyhow::Result<ShareRecord> {
    let recipients: String = r.get(14)?;
    let mut recipients: Vec<String> = recipients
        .split('\n')
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect();
    recipients.sort();
    Ok(ShareRecord {
        id: r.get(0)?,
        account_id: r.get(1)?,
        state: r.get(2)?,
        created_at: r.get(3)?,
        completed_at: r.get(4)?,
        expires_at: r.get(5)?,
        password_hash: r.get(6)?,
        max_downloads: r.get::<Option<i64>>(7)?.map(to_u64),
        downloads: to_u64(r.get(8)?),
        last_opened_at: r.get(9)?,
        parts: to_u64(r.get(10)?),
        revoked_at: r.get(11)?,
        removed_at: r.get(12)?,
        stored_bytes: to_u64(r.get(13)?),
        recipients,
        owner_leaving: r.get::<Option<bool>>(15)?.unwrap_or(true),
    })
}

/// Whether a completed share may still be opened at `now`.
fn openable(share: &ShareRecord, now: i64) -> bool {
    share.state == "active"
        && !share.owner_leaving
        && share.removed_at.is_none()
        && share.expires_at > now
        && share.max_downloads.is_none_or(|max| share.downloads < max)
}

impl Db {
    /// Stores a new share (state `uploading`) with its recipients.
    ///
    /// # Errors
    /// Database failures.
    pub async fn create_share(&self, share: NewShare) -> anyhow::Result<()> {
        self.transaction(move |db| {
            db.execute(
                "INSERT INTO shares (id, account_id, state, created_at, expires_at, password_hash,
                     max_downloads, parts)
                 VALUES (?1, ?2, 'uploading', ?3, ?4, ?5, ?6, ?7)",
                args![
                    &share.id,
                    &share.account_id,
                    share.created_at,
                    share.expires_at,
                    &share.password_hash,
                    share.max_downloads.map(to_i64),
                    to_i64(share.parts),
                ],
            )?;
            for email in &share.recipients {
                db.execute(
                    "INSERT INTO share_recipients (share_id, email) VALUES (?1, ?2)
                     ON CONFLICT DO NOTHING",
                    args![&share.id, email],
                )?;
            }
            Ok(())
        })
        .await
    }

    /// One share, whoever owns it.
    ///
    /// # Errors
    /// Database failures.
    pub async fn share(&self, id: String) -> anyhow::Result<Option<ShareRecord>> {
        self.call(move |db| {
            db.query_row(
                &format!("{SHARE_SELECT} WHERE s.id = ?1"),
                args![id],
                share_from_row,
            )
        })
        .await
    }

    /// An account's shares, newest first.
    ///
    /// # Errors
    /// Database failures.
    pub async fn shares_of(&self, account_id: String) -> anyhow::Result<Vec<ShareRecord>> {
        self.call(move |db| {
            db.query_map(
                &format!(
                    "{SHARE_SELECT} WHERE s.account_id = ?1 ORDER BY s.created_at DESC, s.rowid DESC"
                ),
                args![account_id],
                share_from_row,
            )
        })
        .await
    }

    /// Bytes stored for an account's shares.
    ///
    /// # Errors
    /// Database failures.
    pub async fn share_bytes(&self, account_id: String) -> anyhow::Result<u64> {
        self.call(move |db| {
            db.query_i64(
                "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM share_parts
                 WHERE account_id = ?1",
                args![account_id],
            )
            .map(to_u64)
        })
        .await
    }

    /// Records an uploaded part (or the manifest, [`MANIFEST_PART`]) of a
    /// share still uploading; an upload again replaces it. Returns `false`
    /// when the account has no such share uploading. The share row stays
    /// locked until the part is recorded, so completing the share waits.
    ///
    /// # Errors
    /// Database failures.
    pub async fn put_share_part(
        &self,
        account_id: String,
        share_id: String,
        part: i64,
        size: u64,
    ) -> anyhow::Result<bool> {
        self.transaction(move |db| {
            let uploading = db
                .query_opt(
                    &format!(
                        "SELECT 1 FROM shares WHERE id = ?1 AND account_id = ?2
                             AND state = 'uploading'{}",
                        db.lock_rows()
                    ),
                    args![&share_id, &account_id],
                )?
                .is_some();
            if uploading {
                db.execute(
                    "INSERT INTO share_parts (share_id, account_id, part, size)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (share_id, part) DO UPDATE SET size = excluded.size",
                    args![&share_id, &account_id, part, to_i64(size)],
                )?;
            }
            Ok(uploading)
        })
        .await
    }

    /// The stored size of one part of a share, if uploaded.
    ///
    /// # Errors
    /// Database failures.
    pub async fn share_part_size(
        &self,
        share_id: String,
        part: i64,
    ) -> anyhow::Result<Option<u64>> {
        self.call(move |db| {
            db.query_row(
                "SELECT size FROM share_parts WHERE share_id = ?1 AND part = ?2",
                args![share_id, part],
                |r| r.get(0).map(to_u64),
            )
        })
        .await
    }

    /// The parts uploaded for a share, with their sizes, in order (the
    /// manifest first).
    ///
    /// # Errors
    /// Database failures.
    pub async fn share_parts(&self, share_id: String) -> anyhow::Result<Vec<(i64, u64)>> {
        self.call(move |db| {
            db.query_map(
                "SELECT part, size FROM share_parts WHERE share_id = ?1 ORDER BY part",
                args![share_id],
                |r| Ok((r.get(0)?, to_u64(r.get(1)?))),
            )
        })
        .await
    }

    /// Marks an uploading share of the account active. Returns `false` when
    /// there is no such share uploading.
    ///
    /// # Errors
    /// Database failures.
    pub async fn complete_share(
        &self,
        account_id: String,
        share_id: String,
        at: i64,
    ) -> anyhow::Result<bool> {
        self.call(move |db| {
            db.execute(
                "UPDATE shares SET state = 'active', completed_at = ?3
                 WHERE id = ?1 AND account_id = ?2 AND state = 'uploading'",
                args![share_id, account_id, at],
            )
            .map(|n| n == 1)
        })
        .await
    }

    /// Revokes one of the account's shares and forgets its recipients at
    /// once (its data is removed next, see [`Db::mark_share_removed`]).
    /// Returns `false` when the account has no such share or it was
    /// already revoked.
    ///
    /// # Errors
    /// Database failures.
    pub async fn revoke_share(
        &self,
        account_id: String,
        share_id: String,
        at: i64,
    ) -> anyhow::Result<bool> {
        self.transaction(move |db| {
            let changed = db.execute(
                "UPDATE shares SET state = 'revoked', revoked_at = ?3
                 WHERE id = ?1 AND account_id = ?2 AND state != 'revoked'",
                args![&share_id, &account_id, at],
            )?;
            if changed == 1 {
                db.execute(
                    "DELETE FROM share_recipients WHERE share_id = ?1",
                    args![&share_id],
                )?;
                db.execute(
                    "DELETE FROM share_tickets WHERE share_id = ?1",
                    args![&share_id],
                )?;
            }
            Ok(changed == 1)
        })
        .await
    }

    /// Shares whose data is due for removal at `now`: revoked; expired;
    /// downloaded the most times allowed, once the last download's ticket
    /// ran out (`ticket_ms`); or abandoned while uploading for
    /// `upload_ms`. Returns `(share id, account id, part numbers)`.
    ///
    /// # Errors
    /// Database failures.
    pub async fn shares_due_for_removal(
        &self,
        now: i64,
        ticket_ms: i64,
        upload_ms: i64,
    ) -> anyhow::Result<Vec<(String, String, Vec<i64>)>> {
        self.call(move |db| {
            let shares: Vec<(String, String)> = db.query_map(
                "SELECT id, account_id FROM shares WHERE removed_at IS NULL AND (
                     state = 'revoked'
                     OR expires_at <= ?1
                     OR (state = 'active' AND max_downloads IS NOT NULL
                         AND downloads >= max_downloads
                         AND COALESCE(last_opened_at, 0) + ?2 <= ?1)
                     OR (state = 'uploading' AND created_at + ?3 <= ?1))",
                args![now, ticket_ms, upload_ms],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let mut due = Vec::with_capacity(shares.len());
            for (id, account) in shares {
                let parts = db.query_map(
                    "SELECT part FROM share_parts WHERE share_id = ?1",
                    args![&id],
                    |r| r.get(0),
                )?;
                due.push((id, account, parts));
            }
            Ok(due)
        })
        .await
    }

    /// Forgets a share's parts, recipients and tickets (after its stored
    /// data was deleted) and records when.
    ///
    /// # Errors
    /// Database failures.
    pub async fn mark_share_removed(&self, share_id: String, at: i64) -> anyhow::Result<()> {
        self.transaction(move |db| {
            db.execute(
                "DELETE FROM share_parts WHERE share_id = ?1",
                args![&share_id],
            )?;
            db.execute(
                "DELETE FROM share_recipients WHERE share_id = ?1",
                args![&share_id],
            )?;
            db.execute(
                "DELETE FROM share_tickets WHERE share_id = ?1",
                args![&share_id],
            )?;
            db.execute(
                "UPDATE shares SET removed_at = ?2 WHERE id = ?1",
                args![&share_id, at],
            )?;
            Ok(())
        })
        .await
    }

    /// Deletes the rows of shares removed before `cutoff` (the owner's list
    /// shows a removed share until then); returns how many.
    ///
    /// # Errors
    /// Database failures.
    pub async fn delete_shares_removed_before(&self, cutoff: i64) -> anyhow::Result<u64> {
        self.call(move |db| {
            db.execute(
                "DELETE FROM shares WHERE removed_at IS NOT NULL AND removed_at < ?1",
                args![cutoff],
            )
        })
        .await
    }

    /// Opens a share for one download: when it may still be opened, counts
    /// the download and stores the ticket's hash, in one transaction that
    /// locks the share row first (so two recipients racing for the last
    /// download, on any replicas, cannot both get it).
    ///
    /// # Errors
    /// Database failures.
    pub async fn open_share(
        &self,
        share_id: String,
        ticket_sha256: [u8; 32],
        now: i64,
        ticket_expires_at: i64,
    ) -> anyhow::Result<OpenOutcome> {
        self.transaction(move |db| {
            db.query_opt(
                &format!("SELECT 1 FROM shares WHERE id = ?1{}", db.lock_rows()),
                args![&share_id],
            )?;
            let share = db.query_row(
                &format!("{SHARE_SELECT} WHERE s.id = ?1"),
                args![&share_id],
                share_from_row,
            )?;
            let outcome = match share {
                None => OpenOutcome::NotFound,
                Some(s) if s.state == "uploading" => OpenOutcome::NotFound,
                Some(s) if !openable(&s, now) => OpenOutcome::Gone,
                Some(_) => {
                    db.execute(
                        "UPDATE shares SET downloads = downloads + 1, last_opened_at = ?2
                         WHERE id = ?1",
                        args![&share_id, now],
                    )?;
                    db.execute(
                        "INSERT INTO share_tickets (sha256, share_id, expires_at)
                         VALUES (?1, ?2, ?3)",
                        args![&ticket_sha256, &share_id, ticket_expires_at],
                    )?;
                    OpenOutcome::Opened
                }
            };
            Ok(outcome)
        })
        .await
    }

    /// The share a download ticket opens, if the ticket is known and has
    /// not expired at `now`.
    ///
    /// # Errors
    /// Database failures.
    pub async fn share_ticket(
        &self,
        ticket_sha256: [u8; 32],
        now: i64,
    ) -> anyhow::Result<Option<String>> {
        self.call(move |db| {
            db.query_row(
                "SELECT t.share_id FROM share_tickets t JOIN shares s ON s.id = t.share_id
                     JOIN accounts a ON a.id = s.account_id
                 WHERE t.sha256 = ?1 AND t.expires_at > ?2 AND s.state = 'active'
                     AND a.purge_at IS NULL
                     AND s.removed_at IS NULL AND s.expires_at > ?2",
                args![&ticket_sha256, now],
                |r| r.get(0),
            )
        })
        .await
    }
}
