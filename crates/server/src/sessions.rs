//! Sign-in, token refresh, sign-out and the person's own session records.
//!
//! A session has a short-lived access token (sent on every request) and a
//! refresh token that is replaced each time it is used. Presenting a refresh
//! token that was already replaced means two parties hold it — a copy was
//! stolen — so that session ends. Every session row is also the session
//! record the person sees: device, app version, IP, start, last seen, end,
//! requests, traffic and transfer time.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

use crate::accounts::{account_view, new_id};
use crate::auth::{new_token, token_sha256, Authenticated};
use crate::db::{AccountRecord, NewSession, RefreshOutcome, SessionRecord};
use crate::error::AppError;
use crate::input::{
    email, json_object, json_object_or_empty, maybe_str, optional_bool, optional_str, query_param,
    required_str,
};
use crate::openapi::schemas as api;
use crate::throttle::AttemptKeys;
use crate::{password, totp, AppState};

const MAX_DEVICE_FIELD_CHARS: usize = 200;

/// Routes anyone may call.
pub fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in))
        .routes(routes!(refresh))
}

/// Routes for a signed-in session.
pub fn session_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sessions))
        .routes(routes!(sign_out))
        .routes(routes!(revoke_all))
        .routes(routes!(revoke))
}

/// Where a new session comes from.
pub struct DeviceInfo {
    pub device_id: String,
    pub device_name: String,
    pub app_version: String,
    pub ip: Option<String>,
}

/// Starts a session for `account` and returns the sign-in response body.
///
/// # Errors
/// Database failures.
pub async fn start_session(
    state: &AppState,
    account: &AccountRecord,
    device: DeviceInfo,
) -> Result<Value, AppError> {
    let access = new_token();
    let refresh = new_token();
    let now = state.now();
    let access_expires_at = now.saturating_add(state.settings.access_token_ttl_ms);
    let session_id = new_id();
    state
        .db
        .create_session(NewSession {
            id: session_id.clone(),
            account_id: account.id.clone(),
            access_sha256: access.sha256,
            refresh_sha256: refresh.sha256,
            access_expires_at,
            device_id: device.device_id,
            device_name: device.device_name,
            app_version: device.app_version,
            ip: device.ip,
            started_at: now,
        })
        .await?;
    tracing::info!(account_id = account.id, session_id, "signed in");
    Ok(json!({
        "access_token": access.token,
        "refresh_token": refresh.token,
        "access_expires_at": access_expires_at,
        "session_id": session_id,
        // The agent of 0.1 reads `token`; kept for one release.
        "token": access.token,
        "account": account_view(state, account).await?,
    }))
}

/// Checks the second factor of an account that has two-factor sign-in on:
/// a current TOTP code (each works once) or an unused recovery code. A
/// wrong code is counted against `attempt` like a wrong password.
pub(crate) async fn check_second_factor(
    state: &AppState,
    account: &AccountRecord,
    obj: &serde_json::Map<String, Value>,
    attempt: &AttemptKeys,
) -> Result<(), AppError> {
    let checked = second_factor(state, account, obj).await;
    if matches!(checked, Err(AppError::TotpInvalid)) {
        state.sign_in_throttle.record_failure(attempt, state.now());
    }
    checked
}

async fn second_factor(
    state: &AppState,
    account: &AccountRecord,
    obj: &serde_json::Map<String, Value>,
) -> Result<(), AppError> {
    let Some(wrapped) = &account.totp_secret else {
        return Ok(());
    };
    let code = maybe_str(obj, "totp_code")?
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let recovery = maybe_str(obj, "recovery_code")?
        .map(str::trim)
        .filter(|c| !c.is_empty());
    if let Some(recovery) = recovery {
        let hash = totp::recovery_code_sha256(recovery);
        if state
            .db
            .use_recovery_code(account.id.clone(), hash, state.now())
            .await?
        {
            tracing::info!(account_id = account.id, "recovery code used");
            return Ok(());
        }
        return Err(AppError::TotpInvalid);
    }
    let Some(code) = code else {
        return Err(AppError::TotpRequired);
    };
    let secret = totp::unwrap_secret(state, &account.id, wrapped)?;
    let step = totp::matching_step(&secret, &account.email, code, state.now())?
        .ok_or(AppError::TotpInvalid)?;
    if !state.db.claim_totp_step(account.id.clone(), step).await? {
        return Err(AppError::TotpInvalid);
    }
    Ok(())
}

/// Sign in.
#[utoipa::path(
    post,
    path = "/v1/sessions",
    tag = "sessions",
    request_body = api::SignInRequest,
    responses((status = 200, description = "A new session", body = api::SignInResponse), (status = 401, description = "invalid_credentials, totp_required or totp_invalid", body = api::ErrorBody), (status = 403, description = "account_deleted", body = api::ErrorBody), (status = 429, description = "too_many_attempts (see Retry-After)", body = api::ErrorBody))
)]
async fn sign_in(
    State(state): State<AppState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    let obj = json_object(body)?;
    let email = email(&obj)?;
    let password = Zeroizing::new(required_str(&obj, "password")?.to_owned());
    let device = DeviceInfo {
        device_id: optional_str(&obj, "device_id", MAX_DEVICE_FIELD_CHARS)?,
        device_name: optional_str(&obj, "device_name", MAX_DEVICE_FIELD_CHARS)?,
        app_version: optional_str(&obj, "app_version", MAX_DEVICE_FIELD_CHARS)?,
        ip: client.map(|Extension(ConnectInfo(addr))| addr.ip().to_string()),
    };
    maybe_str(&obj, "totp_code")?;
    maybe_str(&obj, "recovery_code")?;

    let attempt = AttemptKeys::new(&email, device.ip.as_deref());
    let throttle = &state.sign_in_throttle;
    throttle
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
            throttle.record_failure(&attempt, state.now());
            return Err(AppError::InvalidCredentials);
        }
    };
    // Only after the password: saying so earlier would tell anyone which
    // emails belong to accounts being deleted.
    if let Some(purge_at) = account.purge_at {
        return Err(AppError::AccountDeleted { purge_at });
    }
    check_second_factor(&state, &account, &obj, &attempt).await?;
    throttle.record_success(&attempt);
    Ok(Json(start_session(&state, &account, device).await?))
}

/// Swap a refresh token for new tokens.
#[utoipa::path(
    post,
    path = "/v1/sessions/refresh",
    tag = "sessions",
    request_body = api::RefreshRequest,
    responses((status = 200, description = "New tokens", body = api::RefreshResponse), (status = 401, description = "unauthorized", body = api::ErrorBody))
)]
async fn refresh(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    let obj = json_object(body)?;
    let presented = required_str(&obj, "refresh_token")?.trim();
    if presented.is_empty() {
        return Err(AppError::invalid("refresh_token", "is required"));
    }
    let access = new_token();
    let refresh = new_token();
    let now = state.now();
    let access_expires_at = now.saturating_add(state.settings.access_token_ttl_ms);
    let outcome = state
        .db
        .refresh_session(
            token_sha256(presented),
            access.sha256,
            refresh.sha256,
            access_expires_at,
            now,
        )
        .await?;
    match outcome {
        RefreshOutcome::Rotated { session_id, .. } => Ok(Json(json!({
            "access_token": access.token,
            "refresh_token": refresh.token,
            "access_expires_at": access_expires_at,
            "session_id": session_id,
            "token": access.token,
        }))),
        RefreshOutcome::Reused { session_id } => {
            tracing::warn!(
                session_id,
                "a replaced refresh token was presented again; the session was ended"
            );
            Err(AppError::Unauthorized)
        }
        RefreshOutcome::Unknown => Err(AppError::Unauthorized),
    }
}

/// A session record as the person sees it.
pub fn session_view(record: &SessionRecord, current_session: Option<&str>) -> Value {
    json!({
        "session_id": record.id,
        "device_id": record.device_id,
        "device_name": record.device_name,
        "app_version": record.app_version,
        "ip": record.ip,
        "started_at": record.started_at,
        "last_seen_at": record.last_seen_at,
        "ended_at": record.ended_at,
        "end_reason": record.end_reason,
        "active": record.ended_at.is_none(),
        "current": Some(record.id.as_str()) == current_session,
        "requests": record.requests,
        "bytes_up": record.bytes_up,
        "bytes_down": record.bytes_down,
        "transfer_ms": record.transfer_ms,
    })
}

/// The account's session records, newest first.
#[utoipa::path(
    get,
    path = "/v1/sessions",
    tag = "sessions",
    params(("active" = Option<bool>, Query, description = "Only live sessions")),
    responses((status = 200, description = "Session records", body = Vec<api::SessionView>))
)]
async fn list_sessions(
    State(state): State<AppState>,
    auth: Authenticated,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<Value>>, AppError> {
    let only_active = match query_param(query.as_deref(), "active").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(AppError::invalid("active", "must be true or false")),
    };
    let records = state.db.sessions_of(auth.account_id).await?;
    Ok(Json(
        records
            .iter()
            .filter(|r| !only_active || r.ended_at.is_none())
            .map(|r| session_view(r, Some(&auth.session_id)))
            .collect(),
    ))
}

/// Sign out this session.
#[utoipa::path(
    delete,
    path = "/v1/sessions/current",
    tag = "sessions",
    responses((status = 204, description = "Ended"))
)]
async fn sign_out(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<StatusCode, AppError> {
    state
        .db
        .end_session(
            auth.account_id.clone(),
            auth.session_id.clone(),
            state.now(),
            "signed_out",
        )
        .await?;
    tracing::info!(
        account_id = auth.account_id,
        session_id = auth.session_id,
        "signed out"
    );
    Ok(StatusCode::NO_CONTENT)
}

/// End one session of the account.
#[utoipa::path(
    delete,
    path = "/v1/sessions/{id}",
    tag = "sessions",
    params(("id" = String, Path, description = "The session id")),
    responses((status = 204, description = "Ended"), (status = 404, description = "not_found", body = api::ErrorBody))
)]
async fn revoke(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    // Another account's session, an ended one and a made-up id look the same.
    if !state
        .db
        .end_session(auth.account_id.clone(), id.clone(), state.now(), "revoked")
        .await?
    {
        return Err(AppError::NotFound);
    }
    tracing::info!(
        account_id = auth.account_id,
        session_id = id,
        "session revoked"
    );
    Ok(StatusCode::NO_CONTENT)
}

/// End every session of the account.
#[utoipa::path(
    post,
    path = "/v1/sessions/revoke-all",
    tag = "sessions",
    request_body = Option<api::RevokeAllRequest>,
    responses((status = 200, description = "How many ended", body = api::RevokeAllResponse))
)]
async fn revoke_all(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    let obj = json_object_or_empty(body)?;
    let keep_current = optional_bool(&obj, "except_current", false)?;
    let ended = state
        .db
        .end_sessions_except(
            auth.account_id.clone(),
            keep_current.then(|| auth.session_id.clone()),
            state.now(),
            "signed_out_everywhere",
        )
        .await?;
    tracing::info!(account_id = auth.account_id, ended, "signed out everywhere");
    Ok(Json(json!({ "ended": ended })))
}
