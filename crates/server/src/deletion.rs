//! Deleting an account: access stops at once; rows and stored objects are
//! purged after the grace period (10 business days by default, weekends and
//! the operator's holidays skipped) or at once when the person asks. Within
//! the grace period the person can cancel with their email and password.
//!
//! Each purge writes exactly one log line,
//! `account purged account_id=… objects=N bytes=M`, so operators can show
//! that it happened.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

use crate::accounts::{account_view, check_password, signed_in_account};
use crate::auth::Authenticated;
use crate::calendar::{purge_time_ms, utc_day};
use crate::error::AppError;
use crate::input::{email, json_object, optional_bool, required_str};
use crate::mail::Mail;
use crate::openapi::schemas as api;
use crate::throttle::AttemptKeys;
use crate::{password, AppState};

/// Routes anyone may call.
pub fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(restore))
}

/// Routes for a signed-in account.
pub fn account_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(delete_account))
}

/// What a purge removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub objects: u64,
    pub bytes: u64,
}

/// Removes an account for good: its stored objects, then its row (sessions,
/// objects, tokens, preferences and recovery codes go with it). Safe to run
/// again after an interruption. `None` when there was no such account.
///
/// # Errors
/// Storage or database failures; what was removed stays removed and the
/// next run finishes the rest.
pub async fn purge_account(state: &AppState, account_id: &str) -> anyhow::Result<Option<Purged>> {
    if state
        .db
        .account_by_id(account_id.to_owned())
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let _guard = state.account_write_lock(account_id).await?;
    let objects = state.db.all_objects(account_id.to_owned()).await?;
    let mut purged = Purged {
        objects: 0,
        bytes: 0,
    };
    for (kind, object) in &objects {
        state.store.delete(account_id, kind, &object.id).await?;
        purged.objects += 1;
        purged.bytes += object.size;
    }
    state.store.delete_account(account_id).await?;
    state.db.delete_account(account_id.to_owned()).await?;
    tracing::info!(
        account_id = %account_id,
        objects = purged.objects,
        bytes = purged.bytes,
        "account purged"
    );
    Ok(Some(purged))
}

/// Delete the account: after the grace period, or now.
#[utoipa::path(
    delete,
    path = "/v1/account",
    tag = "privacy",
    request_body = api::DeleteAccountRequest,
    responses((status = 200, description = "Purged now", body = api::DeletionResponse), (status = 202, description = "Scheduled", body = api::DeletionResponse), (status = 403, description = "wrong_password", body = api::ErrorBody))
)]
async fn delete_account(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let obj = json_object(body)?;
    let password = Zeroizing::new(required_str(&obj, "password")?.to_owned());
    let purge_now = optional_bool(&obj, "purge_now", false)?;
    let account = signed_in_account(&state, &auth).await?;
    check_password(&account, password).await?;
    let now = state.now();
    if purge_now {
        // Sessions end first, so nothing can use the account while it goes.
        state
            .db
            .schedule_deletion(account.id.clone(), now, now)
            .await?;
        let purged = purge_account(&state, &account.id).await?;
        let purged = purged.unwrap_or(Purged {
            objects: 0,
            bytes: 0,
        });
        return Ok((
            StatusCode::OK,
            Json(json!({
                "purged": true,
                "objects": purged.objects,
                "bytes": purged.bytes,
            })),
        ));
    }
    let purge_at = purge_time_ms(
        now,
        state.settings.deletion_grace_business_days,
        &state.settings.holidays,
    )?;
    state
        .db
        .schedule_deletion(account.id.clone(), now, purge_at)
        .await?;
    let date = utc_day(purge_at);
    tracing::info!(account_id = account.id, %date, "account deletion scheduled");
    let mail = Mail {
        to: account.email.clone(),
        subject: "Your Coffer account will be deleted".to_owned(),
        body: format!(
            "Hello,\n\nAs you asked, your Coffer account and every file stored in it will be \
             deleted for good on {date}. You have been signed out everywhere.\n\nChanged your \
             mind? Open the Coffer app and sign in with your email and password before then to \
             cancel the deletion.\n\n-- Coffer\n"
        ),
        unsubscribe_url: None,
    };
    if let Err(e) = state.mailer.send(mail).await {
        tracing::warn!(
            account_id = account.id,
            error = format!("{e:#}"),
            "sending the deletion mail failed"
        );
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "purged": false,
            "purge_at": purge_at,
            "purge_date": date.to_string(),
        })),
    ))
}

/// Cancel a scheduled deletion.
#[utoipa::path(
    post,
    path = "/v1/account/restore-deletion",
    tag = "privacy",
    request_body = api::CredentialsRequest,
    responses((status = 200, description = "The account, deletion cancelled", body = api::AccountView), (status = 401, description = "invalid_credentials", body = api::ErrorBody), (status = 429, description = "too_many_attempts", body = api::ErrorBody))
)]
async fn restore(
    State(state): State<AppState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    let ip = client.map(|Extension(ConnectInfo(addr))| addr.ip().to_string());
    let obj = json_object(body)?;
    let email = email(&obj)?;
    let password = Zeroizing::new(required_str(&obj, "password")?.to_owned());
    // The same password guessing as sign-in, counted with it.
    let attempt = AttemptKeys::new(&email, ip.as_deref());
    state
        .sign_in_throttle
        .check(&attempt, state.now())
        .map_err(|retry_after| AppError::TooManyAttempts { retry_after })?;
    let account = state.db.account_by_email(email).await?;
    let phc = account
        .as_ref()
        .map(|a| a.password_hash.clone())
        .unwrap_or_else(|| password::decoy_hash().to_owned());
    let matches = tokio::task::spawn_blocking(move || password::verify_password(&password, &phc))
        .await
        .map_err(anyhow::Error::from)?;
    let account = match account {
        Some(account) if matches => account,
        _ => {
            state.sign_in_throttle.record_failure(&attempt, state.now());
            return Err(AppError::InvalidCredentials);
        }
    };
    state.sign_in_throttle.record_success(&attempt);
    if account.purge_at.is_some() {
        state.db.cancel_deletion(account.id.clone()).await?;
        tracing::info!(account_id = account.id, "account deletion cancelled");
    }
    let account = state
        .db
        .account_by_id(account.id.clone())
        .await?
        .ok_or(AppError::InvalidCredentials)?;
    Ok(Json(account_view(&state, &account).await?))
}
