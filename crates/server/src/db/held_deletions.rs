//! SQL of held deletions: deletion grants, the batches deleted objects are
//! held in, and the purge of held objects (see `crate::held_deletions`).

use super::sql::{args, Row};
use super::{to_u64, Db};

/// A deletion grant as stored (its token is only stored hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub account_id: String,
    pub session_id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Deleted objects held together: everything one confirmation deleted
/// until the person was mailed about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionBatch {
    pub id: String,
    pub account_id: String,
    pub session_id: String,
    pub device_id: String,
    pub device_name: String,
    /// When the person confirmed (the grant was made).
    pub confirmed_at: i64,
    pub first_held_at: i64,
    pub last_held_at: i64,
    pub mailed_at: Option<i64>,
    /// Objects still held, by kind, and their bytes.
    pub snapshots: u64,
    pub indexes: u64,
    pub packs: u64,
    pub bytes: u64,
    /// When the last of them is purged.
    pub purge_at: i64,
}

impl DeletionBatch {
    /// Objects still held.
    pub fn objects(&self) -> u64 {
        self.snapshots + self.indexes + self.packs
    }
}

/// A held object whose hold is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldObject {
    pub account_id: String,
    pub kind: String,
    pub id: String,
    pub size: u64,
    pub batch_id: String,
}

/// A deletion about to be held.
#[derive(Debug, Clone)]
pub struct HoldRequest {
    pub account_id: String,
    pub kind: &'static str,
    pub id: String,
    pub grant_sha256: [u8; 32],
    pub grant_created_at: i64,
    pub session_id: String,
    pub device_id: String,
    pub device_name: String,
    /// Used as the new batch's id when a batch is started.
    pub new_batch_id: String,
    pub now: i64,
    pub purge_after: i64,
}

/// What holding an object did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldOutcome {
    /// The account has no such (unheld) object.
    NotFound,
    Held {
        batch_id: String,
    },
}

const BATCH_SELECT: &str = "SELECT b.id, b.account_id, b.session_id, b.device_id, b.device_name,
        b.confirmed_at, b.first_held_at, b.last_held_at, b.mailed_at,
        COUNT(*) FILTER (WHERE o.kind = 'snapshots'), COUNT(*) FILTER (WHERE o.kind = 'indexes'),
        COUNT(*) FILTER (WHERE o.kind = 'packs'), CAST(COALESCE(SUM(o.size), 0) AS BIGINT),
        COALESCE(MAX(o.purge_after), 0)
    FROM deletion_batches b JOIN objects o ON o.account_id = b.account_id AND o.held_in = b.id";

fn batch_from_row(r: &Row) -> anyhow::Result<DeletionBatch> {
    Ok(DeletionBatch {
        id: r.get(0)?,
        account_id: r.get(1)?,
        session_id: r.get(2)?,
        device_id: r.get(3)?,
        device_name: r.get(4)?,
        confirmed_at: r.get(5)?,
        first_held_at: r.get(6)?,
        last_held_at: r.get(7)?,
        mailed_at: r.get(8)?,
        snapshots: to_u64(r.get(9)?),
        indexes: to_u64(r.get(10)?),
        packs: to_u64(r.get(11)?),
        bytes: to_u64(r.get(12)?),
        purge_at: r.get(13)?,
    })
}

impl Db {
    /// Stores a deletion grant (only its hash).
    ///
    /// # Errors
    /// Database failures.
    pub async fn insert_deletion_grant(
        &self,
        sha256: [u8; 32],
        grant: GrantRecord,
    ) -> anyhow::Result<()> {
        self.call(move |db| {
            db.execute(
                "INSERT INTO deletion_grants (sha256, account_id, session_id, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                args![
                    &sha256,
                    grant.account_id,
                    grant.session_id,
                    grant.created_at,
                    grant.expires_at
                ],
            )
            .map(drop)
        })
        .await
    }

    /// The grant with this token hash, if stored (expired or not).
    ///
    /// # Errors
    /// Database failures.
    pub async fn deletion_grant(&self, sha256: [u8; 32]) -> anyhow::Result<Option<GrantRecord>> {
        self.call(move |db| {
            db.query_row(
                "SELECT account_id, session_id, created_at, expires_at FROM deletion_grants
                 WHERE sha256 = ?1",
                args![&sha256],
                |r| {
                    Ok(GrantRecord {
                        account_id: r.get(0)?,
                        session_id: r.get(1)?,
                        created_at: r.get(2)?,
                        expires_at: r.get(3)?,
                    })
                },
            )
        })
        .await
    }

    /// Forgets grants that expired before `now`.
    ///
    /// # Errors
    /// Database failures.
    pub async fn delete_expired_deletion_grants(&self, now: i64) -> anyhow::Result<u64> {
        self.call(move |db| {
            db.execute(
                "DELETE FROM deletion_grants WHERE expires_at <= ?1",
                args![now],
            )
        })
        .await
    }

    /// Holds one object in the open batch of its grant (starting one when
    /// the grant has none, or its batch was already mailed about), in one
    /// transaction that locks the object's row. Callers hold the account's
    /// write lock, which keeps two holds of one grant from starting two
    /// batches.
    ///
    /// # Errors
    /// Database failures.
    pub async fn hold_object(&self, hold: HoldRequest) -> anyhow::Result<HoldOutcome> {
        self.transaction(move |db| {
            let exists = db
                .query_opt(
                    &format!(
                        "SELECT 1 FROM objects
                         WHERE account_id = ?1 AND kind = ?2 AND id = ?3 AND held_in IS NULL{}",
                        db.lock_rows()
                    ),
                    args![&hold.account_id, hold.kind, &hold.id],
                )?
                .is_some();
            if !exists {
                return Ok(HoldOutcome::NotFound);
            }
            let open: Option<String> = db.query_row(
                "SELECT id FROM deletion_batches
                 WHERE account_id = ?1 AND grant_sha256 = ?2
                   AND mailed_at IS NULL AND cancelled_at IS NULL
                 ORDER BY first_held_at DESC LIMIT 1",
                args![&hold.account_id, &hold.grant_sha256],
                |r| r.get(0),
            )?;
            let batch_id = match open {
                Some(id) => {
                    db.execute(
                        "UPDATE deletion_batches SET last_held_at = ?2 WHERE id = ?1",
                        args![&id, hold.now],
                    )?;
                    id
                }
                None => {
                    db.execute(
                        "INSERT INTO deletion_batches (id, account_id, grant_sha256, session_id,
                             device_id, device_name, confirmed_at, first_held_at, last_held_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                        args![
                            &hold.new_batch_id,
                            &hold.account_id,
                            &hold.grant_sha256,
                            &hold.session_id,
                            &hold.device_id,
                            &hold.device_name,
                            hold.grant_created_at,
                            hold.now
                        ],
                    )?;
                    hold.new_batch_id.clone()
                }
            };
            db.execute(
                "UPDATE objects SET held_in = ?4, purge_after = ?5
                 WHERE account_id = ?1 AND kind = ?2 AND id = ?3",
                args![
                    &hold.account_id,
                    hold.kind,
                    &hold.id,
                    &batch_id,
                    hold.purge_after
                ],
            )?;
            Ok(HoldOutcome::Held { batch_id })
        })
        .await
    }

    /// The account's batches that still hold something, newest first.
    ///
    /// # Errors
    /// Database failures.
    pub async fn pending_deletions(
        &self,
        account_id: String,
    ) -> anyhow::Result<Vec<DeletionBatch>> {
        self.call(move |db| {
            db.query_map(
                &format!(
                    "{BATCH_SELECT} WHERE b.account_id = ?1
                     GROUP BY b.id ORDER BY b.first_held_at DESC, b.rowid DESC"
                ),
                args![account_id],
                batch_from_row,
            )
        })
        .await
    }

    /// Puts every object a batch still holds back. Returns how many, or
    /// `None` when the account has no such batch holding anything.
    ///
    /// # Errors
    /// Database failures.
    pub async fn cancel_deletion_batch(
        &self,
        account_id: String,
        batch_id: String,
        now: i64,
    ) -> anyhow::Result<Option<u64>> {
        self.transaction(move |db| {
            let restored = db.execute(
                "UPDATE objects SET held_in = NULL, purge_after = NULL
                 WHERE account_id = ?1 AND held_in = ?2",
                args![&account_id, &batch_id],
            )?;
            if restored == 0 {
                return Ok(None);
            }
            db.execute(
                "UPDATE deletion_batches SET cancelled_at = ?3 WHERE account_id = ?1 AND id = ?2",
                args![&account_id, &batch_id, now],
            )?;
            Ok(Some(restored))
        })
        .await
    }

    /// Held objects whose hold is over at `now`, at most `limit`.
    ///
    /// # Errors
    /// Database failures.
    pub async fn held_objects_due(&self, now: i64, limit: u32) -> anyhow::Result<Vec<HeldObject>> {
        self.call(move |db| {
            db.query_map(
                "SELECT account_id, kind, id, size, held_in FROM objects
                 WHERE purge_after IS NOT NULL AND purge_after <= ?1 AND held_in IS NOT NULL
                 ORDER BY purge_after LIMIT ?2",
                args![now, limit],
                |r| {
                    Ok(HeldObject {
                        account_id: r.get(0)?,
                        kind: r.get(1)?,
                        id: r.get(2)?,
                        size: to_u64(r.get(3)?),
                        batch_id: r.get(4)?,
                    })
                },
            )
        })
        .await
    }

    /// Forgets a held object whose hold is over. `false` when it was put
    /// back or stored again meanwhile (or is gone).
    ///
    /// # Errors
    /// Database failures.
    pub async fn forget_held_object(
        &self,
        account_id: String,
        kind: String,
        id: String,
        now: i64,
    ) -> anyhow::Result<bool> {
        self.call(move |db| {
            db.execute(
                "DELETE FROM objects WHERE account_id = ?1 AND kind = ?2 AND id = ?3
                   AND held_in IS NOT NULL AND purge_after <= ?4",
                args![account_id, kind, id, now],
            )
            .map(|n| n == 1)
        })
        .await
    }

    /// Batches nobody was mailed about, still holding something, whose last
    /// deletion was at or before `settled_at`, with the account's email.
    ///
    /// # Errors
    /// Database failures.
    pub async fn deletion_batches_to_mail(
        &self,
        settled_at: i64,
    ) -> anyhow::Result<Vec<(DeletionBatch, String)>> {
        self.call(move |db| {
            db.query_map(
                &format!(
                    "SELECT pending.*, a.email FROM ({BATCH_SELECT}
                       WHERE b.mailed_at IS NULL AND b.cancelled_at IS NULL
                         AND b.last_held_at <= ?1
                       GROUP BY b.id) AS pending
                     JOIN accounts a ON a.id = pending.account_id AND a.purge_at IS NULL
                     ORDER BY pending.first_held_at"
                ),
                args![settled_at],
                |r| Ok((batch_from_row(r)?, r.get(14)?)),
            )
        })
        .await
    }

    /// Records that the person was mailed about a batch: it is closed, and
    /// later deletions with the same grant start a new one.
    ///
    /// # Errors
    /// Database failures.
    pub async fn mark_deletion_batch_mailed(
        &self,
        batch_id: String,
        at: i64,
    ) -> anyhow::Result<()> {
        self.call(move |db| {
            db.execute(
                "UPDATE deletion_batches SET mailed_at = ?2 WHERE id = ?1",
                args![batch_id, at],
            )
            .map(drop)
        })
        .await
    }

    /// The account's held objects: `(kind, id, purge_after)`, so that
    /// listings of everything stored (the data export) can say which are
    /// deleted and when they go for good.
    ///
    /// # Errors
    /// Database failures.
    pub async fn held_objects_of(
        &self,
        account_id: String,
    ) -> anyhow::Result<Vec<(String, String, i64)>> {
        self.call(move |db| {
            db.query_map(
                "SELECT kind, id, purge_after FROM objects
                 WHERE account_id = ?1 AND held_in IS NOT NULL",
                args![account_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        })
        .await
    }

    /// Forgets batches that hold nothing any more (purged, put back or
    /// stored again) and saw no deletion since `settled_at`.
    ///
    /// # Errors
    /// Database failures.
    pub async fn delete_finished_deletion_batches(&self, settled_at: i64) -> anyhow::Result<u64> {
        self.call(move |db| {
            db.execute(
                "DELETE FROM deletion_batches
                 WHERE last_held_at <= ?1
                   AND NOT EXISTS (SELECT 1 FROM objects o
                                   WHERE o.account_id = deletion_batches.account_id
                                     AND o.held_in = deletion_batches.id)",
                args![settled_at],
            )
        })
        .await
    }

    /// The `(kind, id)` of every object the account has held (deleted, not
    /// yet purged).
    ///
    /// # Errors
    /// Database failures.
    pub async fn held_object_ids(
        &self,
        account_id: String,
    ) -> anyhow::Result<Vec<(String, String)>> {
        self.call(move |db| {
            db.query_map(
                "SELECT kind, id FROM objects WHERE account_id = ?1 AND held_in IS NOT NULL
                 ORDER BY kind, id",
                args![account_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
        .await
    }
}
