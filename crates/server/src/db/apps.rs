//! SQL of connected apps: scoped tokens a person made for a third-party
//! application (see `crate::apps`). Only each token's SHA-256 is stored.

use super::sql::{args, Row};
use super::{to_u64, Db};

/// A connected-app token as stored (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppTokenRecord {
    pub id: String,
    pub account_id: String,
    pub name: String,
    /// Scope names, as given at creation (`restore`, `backup`,
    /// `account_read`).
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    /// Requests made with it.
    pub uses: u64,
}

/// A token about to be stored.
#[derive(Debug, Clone)]
pub struct NewAppToken {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub sha256: [u8; 32],
    pub created_at: i64,
    pub expires_at: i64,
}

const APP_SELECT: &str = "SELECT t.id, t.account_id, t.name, t.scopes, t.created_at, t.expires_at,
    t.last_used_at, t.last_used_ip, t.uses FROM app_tokens t";

fn app_from_row(r: &Row) -> anyhow::Result<AppTokenRecord> {
    let scopes: String = r.get(3)?;
    Ok(AppTokenRecord {
        id: r.get(0)?,
        account_id: r.get(1)?,
        name: r.get(2)?,
        scopes: scopes
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
        last_used_at: r.get(6)?,
        last_used_ip: r.get(7)?,
        uses: to_u64(r.get(8)?),
    })
}

impl Db {
    /// Stores a new connected-app token (its hash only).
    ///
    /// # Errors
    /// Database failures.
    pub async fn insert_app_token(&self, token: NewAppToken) -> anyhow::Result<()> {
        self.call(move |db| {
            db.execute(
                "INSERT INTO app_tokens (id, account_id, name, scopes, token_sha256, created_at,
                     expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                args![
                    token.id,
                    token.account_id,
                    token.name,
                    token.scopes.join(","),
                    &token.sha256,
                    token.created_at,
                    token.expires_at,
                ],
            )
            .map(drop)
        })
        .await
    }

    /// The token whose secret hashes to `sha256`, expired or not, if its
    /// account is not scheduled for deletion.
    ///
    /// # Errors
    /// Database failures.
    pub async fn app_token_by_hash(
        &self,
        sha256: [u8; 32],
    ) -> anyhow::Result<Option<AppTokenRecord>> {
        self.call(move |db| {
            db.query_row(
                &format!(
                    "{APP_SELECT} JOIN accounts a ON a.id = t.account_id
                     WHERE t.token_sha256 = ?1 AND a.purge_at IS NULL"
                ),
                args![&sha256],
                app_from_row,
            )
        })
        .await
    }

    /// An account's tokens, newest first.
    ///
    /// # Errors
    /// Database failures.
    pub async fn app_tokens_of(&self, account_id: String) -> anyhow::Result<Vec<AppTokenRecord>> {
        self.call(move |db| {
            db.query_map(
                &format!(
                    "{APP_SELECT} WHERE t.account_id = ?1 ORDER BY t.created_at DESC, t.rowid DESC"
                ),
                args![account_id],
                app_from_row,
            )
        })
        .await
    }

    /// How many tokens an account has.
    ///
    /// # Errors
    /// Database failures.
    pub async fn app_token_count(&self, account_id: String) -> anyhow::Result<u64> {
        self.call(move |db| {
            db.query_i64(
                "SELECT COUNT(*) FROM app_tokens WHERE account_id = ?1",
                args![account_id],
            )
            .map(to_u64)
        })
        .await
    }

    /// Deletes one of an account's tokens: it stops working at once.
    /// Returns `false` when the account has no such token.
    ///
    /// # Errors
    /// Database failures.
    pub async fn delete_app_token(&self, account_id: String, id: String) -> anyhow::Result<bool> {
        self.call(move |db| {
            db.execute(
                "DELETE FROM app_tokens WHERE id = ?1 AND account_id = ?2",
                args![id, account_id],
            )
            .map(|n| n == 1)
        })
        .await
    }

    /// Counts one admitted request made with a token.
    ///
    /// # Errors
    /// Database failures.
    pub async fn record_app_use(
        &self,
        id: String,
        at: i64,
        ip: Option<String>,
    ) -> anyhow::Result<()> {
        self.call(move |db| {
            db.execute(
                "UPDATE app_tokens
                 SET last_used_at = CASE WHEN COALESCE(last_used_at, 0) > ?2
                                         THEN COALESCE(last_used_at, 0) ELSE ?2 END,
                     last_used_ip = COALESCE(?3, last_used_ip), uses = uses + 1
                 WHERE id = ?1",
                args![id, at, ip],
            )
            .map(drop)
        })
        .await
    }

    /// Deletes tokens that expired before `cutoff`; returns how many.
    ///
    /// # Errors
    /// Database failures.
    pub async fn delete_app_tokens_expired_before(&self, cutoff: i64) -> anyhow::Result<u64> {
        self.call(move |db| {
            db.execute(
                "DELETE FROM app_tokens WHERE expires_at < ?1",
                args![cutoff],
            )
        })
        .await
    }
}
