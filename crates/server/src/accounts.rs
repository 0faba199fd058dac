//! Sign-up, the account view and the escrowed data key.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use rand::RngCore;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::auth::Authenticated;
use crate::db::AccountRecord;
use crate::error::AppError;
use crate::input::{email, json_object, required_str};
use crate::{now_ms, password, AppState};

const MIN_PASSWORD_CHARS: usize = 10;
// Argon2 accepts anything, but hashing megabytes on request is a cheap DoS.
const MAX_PASSWORD_CHARS: usize = 1024;
const MAX_NAME_CHARS: usize = 100;

/// Routes anyone may call.
pub fn public_routes() -> Router<AppState> {
    Router::new().route("/v1/accounts", post(sign_up))
}

/// Routes for a signed-in account.
pub fn account_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/account", get(get_account))
        .route("/v1/account/key", get(get_data_key))
}

/// Random 128-bit id as 32 lowercase hex characters.
pub fn new_id() -> String {
    let mut raw = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    hex::encode(raw)
}

fn name(obj: &serde_json::Map<String, Value>, field: &str) -> Result<String, AppError> {
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

async fn sign_up(
    State(state): State<AppState>,
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
    let password = Zeroizing::new(required_str(&obj, "password")?.to_owned());
    let password_chars = password.chars().count();
    if password_chars < MIN_PASSWORD_CHARS {
        return Err(AppError::invalid(
            "password",
            "must be at least 10 characters",
        ));
    }
    if password_chars > MAX_PASSWORD_CHARS {
        return Err(AppError::invalid(
            "password",
            "must be at most 1024 characters",
        ));
    }
    match required_str(&obj, "key_mode")? {
        "default" => {}
        "private" => {
            return Err(AppError::invalid(
                "key_mode",
                "private keys are not supported yet",
            ))
        }
        _ => {
            return Err(AppError::invalid(
                "key_mode",
                "must be \"default\" or \"private\"",
            ))
        }
    }
    let data_key = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(required_str(&obj, "data_key")?.trim())
            .map_err(|_| AppError::invalid("data_key", "must be base64"))?,
    );
    if data_key.len() != 32 {
        return Err(AppError::invalid("data_key", "must be 32 bytes"));
    }

    if state.db.account_by_email(email.clone()).await?.is_some() {
        return Err(AppError::EmailTaken);
    }
    let account_id = new_id();
    let escrowed = state.escrow.wrap(&account_id, &data_key)?;
    let password_hash = tokio::task::spawn_blocking(move || password::hash_password(&password))
        .await
        .map_err(anyhow::Error::from)??;
    let created = state
        .db
        .create_account(AccountRecord {
            id: account_id.clone(),
            first_name,
            last_name,
            email,
            password_hash,
            key_mode: "default".to_owned(),
            escrowed_data_key: Some(escrowed),
            quota_bytes: state.default_quota,
            created_at: now_ms(),
        })
        .await?;
    if !created {
        return Err(AppError::EmailTaken);
    }
    tracing::info!(account_id, "account created");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "account_id": account_id })),
    ))
}

/// The account as `GET /v1/account` shows it.
pub async fn account_view(state: &AppState, account: &AccountRecord) -> Result<Value, AppError> {
    let used = state.db.used_bytes(account.id.clone()).await?;
    Ok(json!({
        "account_id": account.id,
        "first_name": account.first_name,
        "last_name": account.last_name,
        "email": account.email,
        "key_mode": account.key_mode,
        "created_at": account.created_at,
        "quota": { "used": used, "total": account.quota_bytes },
    }))
}

async fn signed_in_account(
    state: &AppState,
    auth: &Authenticated,
) -> Result<AccountRecord, AppError> {
    // A session outliving its account is treated like a revoked token.
    state
        .db
        .account_by_id(auth.account_id.clone())
        .await?
        .ok_or(AppError::Unauthorized)
}

async fn get_account(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, AppError> {
    let account = signed_in_account(&state, &auth).await?;
    Ok(Json(account_view(&state, &account).await?))
}

async fn get_data_key(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, AppError> {
    let account = signed_in_account(&state, &auth).await?;
    let wrapped = match (account.key_mode.as_str(), &account.escrowed_data_key) {
        ("default", Some(wrapped)) => wrapped,
        _ => return Err(AppError::NotFound),
    };
    let data_key = state.escrow.unwrap(&account.id, wrapped)?;
    Ok(Json(json!({
        "key_mode": "default",
        "data_key": base64::engine::general_purpose::STANDARD.encode(data_key.as_slice()),
    })))
}
