//! Optional two-factor sign-in: TOTP (RFC 6238, the codes of authenticator
//! apps) with ten one-time recovery codes.
//!
//! The service must read the TOTP secret to check codes, so it is stored
//! wrapped with the escrow key (bound to the account); recovery codes are
//! stored as SHA-256 hashes only.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use rand::{Rng, RngCore};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, TOTP};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

use crate::accounts::{check_password, signed_in_account};
use crate::auth::Authenticated;
use crate::error::AppError;
use crate::input::{json_object, required_str};
use crate::openapi::schemas as api;
use crate::AppState;

const ISSUER: &str = "Coffer";
const STEP_SECS: u64 = 30;
const RECOVERY_CODES: usize = 10;
// No 0/o, 1/l/i: codes are typed from paper.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// Routes for a signed-in account.
pub fn totp_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(setup))
        .routes(routes!(enable))
        .routes(routes!(disable))
}

fn wrap_label(account_id: &str) -> String {
    format!("totp:{account_id}")
}

/// Reads an account's TOTP secret.
///
/// # Errors
/// When the stored secret does not unwrap (damage, another escrow key).
pub fn unwrap_secret(
    state: &AppState,
    account_id: &str,
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>, AppError> {
    Ok(state.escrow.unwrap(&wrap_label(account_id), wrapped)?)
}

fn totp(secret: &[u8], account_name: &str) -> Result<TOTP, AppError> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECS,
        secret.to_vec(),
        Some(ISSUER.to_owned()),
        account_name.replace(':', "_"),
    )
    .map_err(|e| AppError::Internal(anyhow::anyhow!("building a TOTP: {e:?}")))
}

/// The time step (30-second window number) whose code `code` is, allowing
/// one step of clock drift either way; `None` when it matches none.
///
/// # Errors
/// Only if the TOTP parameters are rejected, which they are not.
pub fn matching_step(
    secret: &[u8],
    account_name: &str,
    code: &str,
    now_ms: i64,
) -> Result<Option<i64>, AppError> {
    let code = code.trim().replace(' ', "");
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let totp = totp(secret, account_name)?;
    let now_step = u64::try_from(now_ms / 1000).unwrap_or(0) / STEP_SECS;
    let mut found = None;
    for step in now_step.saturating_sub(1)..=now_step + 1 {
        let expected = totp.generate(step * STEP_SECS);
        // Compare every candidate so timing does not tell which one matched.
        let equal = expected
            .bytes()
            .zip(code.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
        if equal && found.is_none() {
            found = Some(i64::try_from(step).unwrap_or(i64::MAX));
        }
    }
    Ok(found)
}

/// The code an authenticator app shows at `now_ms` (tests and tools).
///
/// # Errors
/// When the secret is shorter than 128 bits.
pub fn code_at(secret: &[u8], now_ms: i64) -> Result<String, AppError> {
    let totp = totp(secret, "x")?;
    Ok(totp.generate(u64::try_from(now_ms / 1000).unwrap_or(0)))
}

/// How a recovery code is stored: SHA-256 of it lower-cased without dashes
/// or spaces, so `ABCD-efgh` and `abcdefgh` are the same code.
pub fn recovery_code_sha256(code: &str) -> [u8; 32] {
    let normalised: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    Sha256::digest(normalised.as_bytes()).into()
}

fn new_recovery_code() -> String {
    let mut rng = rand::rngs::OsRng;
    let chars: Vec<char> = (0..16)
        .map(|_| RECOVERY_ALPHABET[rng.gen_range(0..RECOVERY_ALPHABET.len())] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Start two-factor setup: a new secret.
#[utoipa::path(
    post,
    path = "/v1/account/totp/setup",
    tag = "two-factor",
    responses((status = 200, description = "The secret", body = api::TotpSetup), (status = 409, description = "totp_already_enabled", body = api::ErrorBody))
)]
async fn setup(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, AppError> {
    let account = signed_in_account(&state, &auth).await?;
    if account.totp_enabled_at.is_some() {
        return Err(AppError::TotpAlreadyEnabled);
    }
    let mut secret = Zeroizing::new(vec![0u8; 20]);
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let totp = totp(&secret, &account.email)?;
    let wrapped = state.escrow.wrap(&wrap_label(&account.id), &secret)?;
    state
        .db
        .set_totp_pending(account.id.clone(), Some(wrapped))
        .await?;
    Ok(Json(json!({
        "secret": totp.get_secret_base32(),
        "otpauth_url": totp.get_url(),
    })))
}

/// Turn two-factor sign-in on with a current code.
#[utoipa::path(
    post,
    path = "/v1/account/totp/enable",
    tag = "two-factor",
    request_body = api::TotpEnableRequest,
    responses((status = 200, description = "Recovery codes, shown once", body = api::RecoveryCodes), (status = 401, description = "totp_invalid", body = api::ErrorBody), (status = 409, description = "totp_not_set_up or totp_already_enabled", body = api::ErrorBody))
)]
async fn enable(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    let obj = json_object(body)?;
    let code = required_str(&obj, "code")?;
    let account = signed_in_account(&state, &auth).await?;
    if account.totp_enabled_at.is_some() {
        return Err(AppError::TotpAlreadyEnabled);
    }
    let wrapped = account
        .totp_pending_secret
        .as_ref()
        .ok_or(AppError::TotpNotSetUp)?;
    let secret = unwrap_secret(&state, &account.id, wrapped)?;
    let step =
        matching_step(&secret, &account.email, code, state.now())?.ok_or(AppError::TotpInvalid)?;
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    let hashes = codes.iter().map(|c| recovery_code_sha256(c)).collect();
    state
        .db
        .enable_totp(account.id.clone(), state.now(), step, hashes)
        .await?;
    tracing::info!(account_id = account.id, "two-factor sign-in turned on");
    Ok(Json(json!({ "recovery_codes": codes })))
}

/// Turn two-factor sign-in off.
#[utoipa::path(
    delete,
    path = "/v1/account/totp",
    tag = "two-factor",
    request_body = api::PasswordRequest,
    responses((status = 204, description = "Off"), (status = 403, description = "wrong_password", body = api::ErrorBody))
)]
async fn disable(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    let obj = json_object(body)?;
    let password = Zeroizing::new(required_str(&obj, "password")?.to_owned());
    let account = signed_in_account(&state, &auth).await?;
    check_password(&account, password).await?;
    state.db.disable_totp(account.id.clone()).await?;
    tracing::info!(account_id = account.id, "two-factor sign-in turned off");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_their_step_and_neighbours_only() {
        let secret = [42u8; 20];
        let now = 1_700_000_000_000;
        let code = code_at(&secret, now).unwrap();
        let step = now / 1000 / 30;
        assert_eq!(
            matching_step(&secret, "a@b", &code, now).unwrap(),
            Some(step)
        );
        // Still accepted 30 s later (drift), not 90 s later.
        assert_eq!(
            matching_step(&secret, "a@b", &code, now + 30_000).unwrap(),
            Some(step)
        );
        assert_eq!(
            matching_step(&secret, "a@b", &code, now + 90_000).unwrap(),
            None
        );
        assert_eq!(matching_step(&secret, "a@b", "12345", now).unwrap(), None);
        assert_eq!(matching_step(&secret, "a@b", "abcdef", now).unwrap(), None);
    }

    #[test]
    fn recovery_codes_are_normalised() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 19);
        assert_eq!(
            recovery_code_sha256(&code),
            recovery_code_sha256(&code.to_uppercase().replace('-', " "))
        );
        assert_ne!(recovery_code_sha256(&code), recovery_code_sha256("abcd"));
    }
}
