//! The account's key material, in one of two modes:
//!
//! - `default`: the device's 32-byte data key, escrowed — wrapped with the
//!   service's escrow key — so the service can give it back to a new device.
//! - `private`: the device wraps the data key itself (with the person's
//!   passphrase and with their recovery code) and sends only those wraps, as
//!   opaque JSON objects the service stores as given. The service never sees
//!   a private-key account's data key.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::Json;
use base64::Engine;
use serde_json::{json, Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

use crate::accounts::{check_password, signed_in_account};
use crate::auth::Authenticated;
use crate::error::AppError;
use crate::input::{json_object, required_str};
use crate::openapi::schemas as api;
use crate::AppState;

/// The largest the wrapped keys may be, as JSON text.
pub const MAX_WRAPPED_KEYS_BYTES: usize = 16 * 1024;

/// Routes for a signed-in account.
pub fn key_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_key, put_key))
}

/// Key material as a request gives it.
pub enum KeyMaterial {
    /// The data key, to be escrowed.
    Default(Zeroizing<Vec<u8>>),
    /// The device-made wraps, as normalised JSON text.
    Private(String),
}

fn data_key(obj: &Map<String, Value>) -> Result<Zeroizing<Vec<u8>>, AppError> {
    let data_key = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(required_str(obj, "data_key")?.trim())
            .map_err(|_| AppError::invalid("data_key", "must be base64"))?,
    );
    if data_key.len() != 32 {
        return Err(AppError::invalid("data_key", "must be 32 bytes"));
    }
    Ok(data_key)
}

fn wrapped_keys(obj: &Map<String, Value>) -> Result<String, AppError> {
    let wraps = match obj.get("wrapped_keys") {
        Some(Value::Object(map)) => map,
        Some(Value::Null) | None => return Err(AppError::invalid("wrapped_keys", "is required")),
        Some(_) => {
            return Err(AppError::invalid(
                "wrapped_keys",
                "must be an object {\"passphrase\":{…},\"recovery\":{…}}",
            ))
        }
    };
    for key in wraps.keys() {
        if key != "passphrase" && key != "recovery" {
            return Err(AppError::invalid(
                &format!("wrapped_keys.{key}"),
                "is not expected (only passphrase and recovery)",
            ));
        }
    }
    for part in ["passphrase", "recovery"] {
        match wraps.get(part) {
            Some(Value::Object(wrap)) if !wrap.is_empty() => {}
            Some(Value::Object(_)) => {
                return Err(AppError::invalid(
                    &format!("wrapped_keys.{part}"),
                    "must not be empty",
                ))
            }
            Some(Value::Null) | None => {
                return Err(AppError::invalid(
                    &format!("wrapped_keys.{part}"),
                    "is required",
                ))
            }
            Some(_) => {
                return Err(AppError::invalid(
                    &format!("wrapped_keys.{part}"),
                    "must be a JSON object",
                ))
            }
        }
    }
    let text = Value::Object(wraps.clone()).to_string();
    if text.len() > MAX_WRAPPED_KEYS_BYTES {
        return Err(AppError::invalid(
            "wrapped_keys",
            "must be at most 16 KiB as JSON",
        ));
    }
    Ok(text)
}

/// Reads `key_mode` and the matching key material: `data_key` for
/// `default`, `wrapped_keys` for `private`; the other must be absent, so a
/// private-key account's data key never reaches the service by mistake.
///
/// # Errors
/// `invalid_input` naming the field at fault.
pub fn parse_key_material(obj: &Map<String, Value>) -> Result<KeyMaterial, AppError> {
    let present = |field: &str| obj.get(field).is_some_and(|v| !v.is_null());
    match required_str(obj, "key_mode")? {
        "default" => {
            if present("wrapped_keys") {
                return Err(AppError::invalid(
                    "wrapped_keys",
                    "is only for key_mode \"private\"",
                ));
            }
            Ok(KeyMaterial::Default(data_key(obj)?))
        }
        "private" => {
            if present("data_key") {
                return Err(AppError::invalid(
                    "data_key",
                    "must not be sent for a private key: the service never holds it",
                ));
            }
            Ok(KeyMaterial::Private(wrapped_keys(obj)?))
        }
        _ => Err(AppError::invalid(
            "key_mode",
            "must be \"default\" or \"private\"",
        )),
    }
}

/// The key material: the escrowed data key or the private wraps.
#[utoipa::path(
    get,
    path = "/v1/account/key",
    tag = "accounts",
    responses((status = 200, description = "Key material", body = api::KeyView), (status = 404, description = "not_found", body = api::ErrorBody))
)]
async fn get_key(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, AppError> {
    let account = signed_in_account(&state, &auth).await?;
    let changed_at = account.key_changed_at.unwrap_or(account.created_at);
    match (
        account.key_mode.as_str(),
        &account.escrowed_data_key,
        &account.wrapped_keys,
    ) {
        ("default", Some(wrapped), _) => {
            let data_key = state.escrow.unwrap(&account.id, wrapped)?;
            Ok(Json(json!({
                "key_mode": "default",
                "data_key": base64::engine::general_purpose::STANDARD.encode(data_key.as_slice()),
                "changed_at": changed_at,
            })))
        }
        ("private", _, Some(wraps)) => {
            let wraps: Value = serde_json::from_str(wraps).map_err(anyhow::Error::from)?;
            Ok(Json(json!({
                "key_mode": "private",
                "wrapped_keys": wraps,
                "changed_at": changed_at,
            })))
        }
        _ => Err(AppError::NotFound),
    }
}

/// Replace the key material in one step.
#[utoipa::path(
    put,
    path = "/v1/account/key",
    tag = "accounts",
    request_body = api::KeyChangeRequest,
    responses((status = 200, description = "Replaced", body = api::KeyChanged), (status = 403, description = "wrong_password", body = api::ErrorBody))
)]
async fn put_key(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    let obj = json_object(body)?;
    let key = parse_key_material(&obj)?;
    let password = Zeroizing::new(required_str(&obj, "password")?.to_owned());
    let account = signed_in_account(&state, &auth).await?;
    check_password(&account, password).await?;
    let now = state.now();
    let (mode, escrowed, wraps) = match key {
        KeyMaterial::Default(data_key) => (
            "default",
            Some(state.escrow.wrap(&account.id, &data_key)?),
            None,
        ),
        KeyMaterial::Private(wraps) => ("private", None, Some(wraps)),
    };
    // One UPDATE: the old material is gone exactly when the new one is there.
    state
        .db
        .set_key_material(account.id.clone(), mode, escrowed, wraps, now)
        .await?;
    tracing::info!(
        account_id = account.id,
        from = account.key_mode,
        to = mode,
        "key material replaced"
    );
    Ok(Json(json!({ "key_mode": mode, "changed_at": now })))
}
