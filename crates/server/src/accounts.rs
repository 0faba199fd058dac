//! Sign-up, the account view, the profile and the password.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use rand::RngCore;
use serde_json::{json, Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

use crate::auth::Authenticated;
use crate::db::{AccountRecord, ProfileChange};
use crate::error::AppError;
use crate::input::{email, json_object, required_str};
use crate::keys::{parse_key_material, KeyMaterial};
use crate::openapi::schemas as api;
use crate::{password, verification, AppState};

/// The shortest password accepted (no composition rules; long ones welcome).
pub const MIN_PASSWORD_CHARS: usize = 8;
// Argon2 accepts anything, but hashing megabytes on request is a cheap DoS.
const MAX_PASSWORD_CHARS: usize = 1024;
const MAX_NAME_CHARS: usize = 100;
const MAX_ADDRESS_FIELD_CHARS: usize = 200;
/// The parts of a postal address, all optional.
pub const ADDRESS_FIELDS: [&str; 6] =
    ["line1", "line2", "city", "region", "postal_code", "country"];

/// Routes anyone may call.
pub fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sign_up))
}

/// Routes for a signed-in account.
pub fn account_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_account, patch_account))
        .routes(routes!(change_password))
        .routes(routes!(resend_verification))
}

/// Random 128-bit id as 32 lowercase hex characters.
pub fn new_id() -> String {
    let mut raw = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    hex::encode(raw)
}

fn name(obj: &Map<String, Value>, field: &str) -> Result<String, AppError> {
    let value = required_str(obj, field)?.trim();
    let chars = value.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(AppError::invalid(field, "must be 1 to 100 characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(AppError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// A new password from `field`: 8 to 1024 characters, not on the bundled
/// list of common passwords, no composition rules.
///
/// # Errors
/// `invalid_input` naming `field`.
pub fn new_password(obj: &Map<String, Value>, field: &str) -> Result<Zeroizing<String>, AppError> {
    let password = Zeroizing::new(required_str(obj, field)?.to_owned());
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(AppError::invalid(field, "must be at least 8 characters"));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(AppError::invalid(field, "must be at most 1024 characters"));
    }
    if password::is_common(&password) {
        return Err(AppError::invalid(
            field,
            "is one of the most common passwords, which are guessed first; choose another \
             (a few unrelated words make a good one)",
        ));
    }
    Ok(password)
}

/// Hashes a password on a blocking thread.
///
/// # Errors
/// Only if hashing fails, which it does not with the default parameters.
pub async fn hash_password(password: Zeroizing<String>) -> Result<String, AppError> {
    Ok(
        tokio::task::spawn_blocking(move || password::hash_password(&password))
            .await
            .map_err(anyhow::Error::from)??,
    )
}

/// Checks a signed-in person's password (for changes that need it).
///
/// # Errors
/// `wrong_password` when it does not match.
pub async fn check_password(
    account: &AccountRecord,
    password: Zeroizing<String>,
) -> Result<(), AppError> {
    let phc = account.password_hash.clone();
    let matches = tokio::task::spawn_blocking(move || password::verify_password(&password, &phc))
        .await
        .map_err(anyhow::Error::from)?;
    if matches {
        Ok(())
    } else {
        Err(AppError::WrongPassword)
    }
}

/// The postal address from `obj["address"]`: `None` when absent, `Some(None)`
/// when null (remove it), else the normalised JSON text (empty parts dropped;
/// an address with no parts is no address).
fn address(obj: &Map<String, Value>) -> Result<Option<Option<String>>, AppError> {
    let value = match obj.get("address") {
        None => return Ok(None),
        Some(Value::Null) => return Ok(Some(None)),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(AppError::invalid("address", "must be an object or null")),
    };
    let mut clean = Map::new();
    for (key, part) in value {
        let field = format!("address.{key}");
        if !ADDRESS_FIELDS.contains(&key.as_str()) {
            return Err(AppError::invalid(
                &field,
                "is not a part of an address (line1, line2, city, region, postal_code, country)",
            ));
        }
        let text = match part {
            Value::String(s) => s.trim(),
            Value::Null => "",
            _ => return Err(AppError::invalid(&field, "must be a string")),
        };
        if text.chars().count() > MAX_ADDRESS_FIELD_CHARS {
            return Err(AppError::invalid(&field, "must be at most 200 characters"));
        }
        if text.chars().any(char::is_control) {
            return Err(AppError::invalid(
                &field,
                "must not contain control characters",
            ));
        }
        if !text.is_empty() {
            clean.insert(key.clone(), Value::String(text.to_owned()));
        }
    }
    Ok(Some(
        (!clean.is_empty()).then(|| Value::Object(clean).to_string()),
    ))
}

/// Sign up.
#[utoipa::path(
    post,
    path = "/v1/accounts",
    tag = "accounts",
    request_body = api::SignUpRequest,
    responses((status = 201, description = "Created; a verification mail is sent", body = api::AccountCreated), (status = 400, description = "invalid_input or age_not_confirmed", body = api::ErrorBody), (status = 409, description = "email_taken", body = api::ErrorBody), (status = 429, description = "too_many_attempts: too many sign-ups from this address (see Retry-After)", body = api::ErrorBody))
)]
async fn sign_up(
    State(state): State<AppState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let obj = json_object(body)?;
    // Checked first: without the confirmation nothing else matters and nothing is kept.
    if obj.get("age_confirmed") != Some(&Value::Bool(true)) {
        return Err(AppError::AgeNotConfirmed);
    }
    let first_name = name(&obj, "first_name")?;
    let last_name = name(&obj, "last_name")?;
    let email = email(&obj)?;
    let password = new_password(&obj, "password")?;
    let key = parse_key_material(&obj)?;
    let address = address(&obj)?.flatten();

    // Counted once the request is well formed (a person fixing a typo in the
    // form is not held back), before anything is looked up or created.
    if let Some(Extension(ConnectInfo(addr))) = &client {
        let key = format!("sign-up ip:{}", addr.ip());
        state
            .request_limiter
            .admit(&[(&key, state.settings.sign_ups_per_ip)], state.now())
            .map_err(|retry_after| AppError::TooManyRequests {
                retry_after,
                what: "too many accounts were created from this address lately",
            })?;
    }
    if state.db.account_by_email(email.clone()).await?.is_some() {
        return Err(AppError::EmailTaken);
    }
    let account_id = new_id();
    let (key_mode, escrowed_data_key, wrapped_keys) = match key {
        KeyMaterial::Default(data_key) => (
            "default",
            Some(state.escrow.wrap(&account_id, &data_key)?),
            None,
        ),
        KeyMaterial::Private(wrapped) => ("private", None, Some(wrapped)),
    };
    let password_hash = hash_password(password).await?;
    let now = state.now();
    let created = state
        .db
        .create_account(AccountRecord {
            id: account_id.clone(),
            first_name,
            last_name,
            email: email.clone(),
            password_hash,
            key_mode: key_mode.to_owned(),
            escrowed_data_key,
            wrapped_keys,
            key_changed_at: Some(now),
            quota_bytes: state.default_quota,
            created_at: now,
            address,
            ..AccountRecord::default()
        })
        .await?;
    if !created {
        return Err(AppError::EmailTaken);
    }
    tracing::info!(account_id, key_mode, "account created");
    if let Err(e) = verification::send_email_verification(&state, &account_id, &email).await {
        // The account exists; the person can ask for the mail again.
        tracing::warn!(
            account_id,
            error = format!("{e:#}"),
            "sending the verification mail failed"
        );
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({ "account_id": account_id })),
    ))
}

/// The account as `GET /v1/account` shows it.
///
/// # Errors
/// Database failures.
pub async fn account_view(state: &AppState, account: &AccountRecord) -> Result<Value, AppError> {
    let used = state.db.used_bytes(account.id.clone()).await?;
    let address = account
        .address
        .as_deref()
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .unwrap_or(Value::Null);
    let deletion = match (account.deletion_requested_at, account.purge_at) {
        (Some(requested_at), Some(purge_at)) => {
            json!({ "requested_at": requested_at, "purge_at": purge_at })
        }
        _ => Value::Null,
    };
    Ok(json!({
        "account_id": account.id,
        "first_name": account.first_name,
        "last_name": account.last_name,
        "email": account.email,
        "email_verified": account.email_verified_at.is_some(),
        "pending_email": account.pending_email,
        "address": address,
        "key_mode": account.key_mode,
        "key_changed_at": account.key_changed_at.unwrap_or(account.created_at),
        "created_at": account.created_at,
        "quota": { "used": used, "total": account.quota_bytes },
        "totp_enabled": account.totp_enabled_at.is_some(),
        "policy_accepted_version": account.policy_accepted_version,
        "policy_accepted_at": account.policy_accepted_at,
        "deletion": deletion,
    }))
}

/// The signed-in account.
///
/// # Errors
/// `unauthorized` when it is gone or scheduled for deletion (its sessions
/// ended then anyway); database failures.
pub async fn signed_in_account(
    state: &AppState,
    auth: &Authenticated,
) -> Result<AccountRecord, AppError> {
    match state.db.account_by_id(auth.account_id.clone()).await? {
        Some(account) if account.purge_at.is_none() => Ok(account),
        _ => Err(AppError::Unauthorized),
    }
}

/// The account view.
#[utoipa::path(
    get,
    path = "/v1/account",
    tag = "accounts",
    responses((status = 200, description = "The account", body = api::AccountView))
)]
async fn get_account(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, AppError> {
    let account = signed_in_account(&state, &auth).await?;
    Ok(Json(account_view(&state, &account).await?))
}

/// Change names, address or email (a new email waits for verification).
#[utoipa::path(
    patch,
    path = "/v1/account",
    tag = "accounts",
    request_body = api::ProfileChangeRequest,
    responses((status = 200, description = "The account", body = api::AccountView), (status = 400, description = "invalid_input", body = api::ErrorBody), (status = 409, description = "email_taken", body = api::ErrorBody))
)]
async fn patch_account(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    let obj = json_object(body)?;
    for key in obj.keys() {
        if !matches!(
            key.as_str(),
            "first_name" | "last_name" | "address" | "email"
        ) {
            return Err(AppError::invalid(
                key,
                "cannot be changed here (first_name, last_name, address, email)",
            ));
        }
    }
    let change = ProfileChange {
        first_name: obj
            .contains_key("first_name")
            .then(|| name(&obj, "first_name"))
            .transpose()?,
        last_name: obj
            .contains_key("last_name")
            .then(|| name(&obj, "last_name"))
            .transpose()?,
        address: address(&obj)?,
    };
    let new_email = obj.contains_key("email").then(|| email(&obj)).transpose()?;
    let account = signed_in_account(&state, &auth).await?;
    if let Some(new_email) = &new_email {
        if *new_email != account.email {
            if let Some(other) = state.db.account_by_email(new_email.clone()).await? {
                if other.id != account.id {
                    return Err(AppError::EmailTaken);
                }
            }
        }
    }
    state.db.update_profile(account.id.clone(), change).await?;
    match new_email {
        Some(new_email) if new_email == account.email => {
            // Asking for the current email back drops a pending change.
            state.db.set_pending_email(account.id.clone(), None).await?;
        }
        Some(new_email) => {
            state
                .db
                .set_pending_email(account.id.clone(), Some(new_email.clone()))
                .await?;
            verification::send_email_verification(&state, &account.id, &new_email).await?;
            tracing::info!(account_id = account.id, "email change requested");
        }
        None => {}
    }
    let account = signed_in_account(&state, &auth).await?;
    Ok(Json(account_view(&state, &account).await?))
}

/// Change the password; ends every other session.
#[utoipa::path(
    post,
    path = "/v1/account/password",
    tag = "accounts",
    request_body = api::PasswordChangeRequest,
    responses((status = 204, description = "Changed"), (status = 403, description = "wrong_password", body = api::ErrorBody))
)]
async fn change_password(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    let obj = json_object(body)?;
    let current = Zeroizing::new(required_str(&obj, "current_password")?.to_owned());
    let new = new_password(&obj, "new_password")?;
    let account = signed_in_account(&state, &auth).await?;
    check_password(&account, current).await?;
    let hash = hash_password(new).await?;
    let now = state.now();
    state.db.set_password(account.id.clone(), hash, now).await?;
    let ended = state
        .db
        .end_sessions_except(
            account.id.clone(),
            Some(auth.session_id.clone()),
            now,
            "password_changed",
        )
        .await?;
    tracing::info!(account_id = account.id, ended, "password changed");
    Ok(StatusCode::NO_CONTENT)
}

/// Mail a new verification link.
#[utoipa::path(
    post,
    path = "/v1/account/verify-email/resend",
    tag = "accounts",
    responses((status = 202, description = "A link was mailed"), (status = 204, description = "Nothing to verify"))
)]
async fn resend_verification(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<StatusCode, AppError> {
    let account = signed_in_account(&state, &auth).await?;
    let to = match (&account.pending_email, account.email_verified_at) {
        (Some(pending), _) => pending.clone(),
        (None, None) => account.email.clone(),
        (None, Some(_)) => return Ok(StatusCode::NO_CONTENT),
    };
    verification::send_email_verification(&state, &account.id, &to).await?;
    Ok(StatusCode::ACCEPTED)
}
