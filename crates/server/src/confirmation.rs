//! Confirming it is the person, not just their device: `POST
//! /v1/auth/confirm` checks the password (and the two-factor code when
//! two-factor sign-in is on) again and hands out a short-lived *deletion
//! grant*. Every request that deletes repository data must carry it in the
//! `Coffer-Confirmation` header (see [`crate::held_deletions`]), so a
//! device's own stored session — all a stolen laptop has — can add backups
//! but not erase history.
//!
//! A grant is 32 random bytes, stored hashed, bound to the session that
//! asked for it (useless with any other session, and over when that session
//! ends) and expires after [`GRANT_TTL_MS`]. Wrong passwords and codes are
//! counted with sign-in's, per email and per address.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::{Extension, Json};
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

use crate::accounts::signed_in_account;
use crate::auth::{new_token, token_sha256, Authenticated};
use crate::db::GrantRecord;
use crate::error::AppError;
use crate::input::{json_object, maybe_str, required_str};
use crate::openapi::schemas as api;
use crate::sessions::check_second_factor;
use crate::throttle::AttemptKeys;
use crate::{password, AppState};

/// The header a deleting request carries its grant in.
pub const HEADER: &str = "coffer-confirmation";
/// How long a deletion grant works: one hour.
pub const GRANT_TTL_MS: i64 = 60 * 60 * 1000;

/// Routes for a signed-in session.
pub fn confirmation_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(confirm))
}

/// A checked grant: the request may delete.
#[derive(Debug, Clone)]
pub struct Confirmed {
    pub sha256: [u8; 32],
    /// When the person confirmed.
    pub confirmed_at: i64,
}

/// The grant a deleting request carries, checked against its session.
///
/// # Errors
/// `confirmation_required` when the header is missing, or its grant is
/// unknown, expired, or was made for another session.
pub async fn require_grant(
    state: &AppState,
    auth: &Authenticated,
    headers: &HeaderMap,
) -> Result<Confirmed, AppError> {
    let presented = headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(AppError::ConfirmationRequired)?;
    let sha256 = token_sha256(presented);
    let grant = state
        .db
        .deletion_grant(sha256)
        .await?
        .filter(|g| {
            g.account_id == auth.account_id
                && g.session_id == auth.session_id
                && g.expires_at > state.now()
        })
        .ok_or(AppError::ConfirmationRequired)?;
    Ok(Confirmed {
        sha256,
        confirmed_at: grant.created_at,
    })
}

/// Confirm it is you: password (and two-factor code) again, for a deletion
/// grant.
#[utoipa::path(
    post,
    path = "/v1/auth/confirm",
    tag = "sessions",
    request_body = api::ConfirmRequest,
    responses((status = 200, description = "A deletion grant for this session", body = api::ConfirmResponse), (status = 401, description = "totp_required or totp_invalid", body = api::ErrorBody), (status = 403, description = "wrong_password", body = api::ErrorBody), (status = 429, description = "too_many_attempts (see Retry-After)", body = api::ErrorBody))
)]
async fn confirm(
    State(state): State<AppState>,
    auth: Authenticated,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    let obj = json_object(body)?;
    let password = Zeroizing::new(required_str(&obj, "password")?.to_owned());
    maybe_str(&obj, "totp_code")?;
    maybe_str(&obj, "recovery_code")?;
    let account = signed_in_account(&state, &auth).await?;
    let ip = client.map(|Extension(ConnectInfo(addr))| addr.ip().to_string());
    // Guessing the password through a stolen session is guessing it all
    // the same: counted with sign-in.
    let attempt = AttemptKeys::new(&account.email, ip.as_deref());
    let throttle = &state.sign_in_throttle;
    throttle
        .check(&attempt, state.now())
        .map_err(|retry_after| AppError::TooManyAttempts { retry_after })?;
    let phc = account.password_hash.clone();
    let matches = tokio::task::spawn_blocking(move || password::verify_password(&password, &phc))
        .await
        .map_err(anyhow::Error::from)?;
    if !matches {
        throttle.record_failure(&attempt, state.now());
        return Err(AppError::WrongPassword);
    }
    check_second_factor(&state, &account, &obj, &attempt).await?;
    throttle.record_success(&attempt);
    let grant = new_token();
    let now = state.now();
    let expires_at = now.saturating_add(GRANT_TTL_MS);
    state
        .db
        .insert_deletion_grant(
            grant.sha256,
            GrantRecord {
                account_id: account.id.clone(),
                session_id: auth.session_id.clone(),
                created_at: now,
                expires_at,
            },
        )
        .await?;
    tracing::info!(
        account_id = account.id,
        session_id = auth.session_id,
        "identity confirmed; deletion grant issued"
    );
    Ok(Json(json!({
        "confirmation": grant.token,
        "expires_at": expires_at,
        "expires_in": GRANT_TTL_MS / 1000,
    })))
}
