//! Sign-in and sign-out. Every session row is also the session record the
//! person sees: device, app version, IP, start, last seen, traffic.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::accounts::{account_view, new_id};
use crate::auth::{new_token, Authenticated};
use crate::db::NewSession;
use crate::error::AppError;
use crate::input::{email, json_object, optional_str, required_str};
use crate::{now_ms, password, AppState};

const MAX_DEVICE_FIELD_CHARS: usize = 200;

/// Routes anyone may call.
pub fn public_routes() -> Router<AppState> {
    Router::new().route("/v1/sessions", post(sign_in))
}

/// Routes for a signed-in session.
pub fn session_routes() -> Router<AppState> {
    Router::new().route("/v1/sessions/current", delete(sign_out))
}

async fn sign_in(
    State(state): State<AppState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    let obj = json_object(body)?;
    let email = email(&obj)?;
    let password = Zeroizing::new(required_str(&obj, "password")?.to_owned());
    let device_id = optional_str(&obj, "device_id", MAX_DEVICE_FIELD_CHARS)?;
    let device_name = optional_str(&obj, "device_name", MAX_DEVICE_FIELD_CHARS)?;
    let app_version = optional_str(&obj, "app_version", MAX_DEVICE_FIELD_CHARS)?;

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
        _ => return Err(AppError::InvalidCredentials),
    };

    let token = new_token();
    let session_id = new_id();
    state
        .db
        .create_session(NewSession {
            id: session_id.clone(),
            account_id: account.id.clone(),
            token_sha256: token.sha256,
            device_id,
            device_name,
            app_version,
            ip: client.map(|Extension(ConnectInfo(addr))| addr.ip().to_string()),
            started_at: now_ms(),
        })
        .await?;
    tracing::info!(account_id = account.id, session_id, "signed in");
    Ok(Json(json!({
        "token": token.token,
        "session_id": session_id,
        "account": account_view(&state, &account).await?,
    })))
}

async fn sign_out(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<StatusCode, AppError> {
    state
        .db
        .end_session(auth.session_id.clone(), now_ms())
        .await?;
    tracing::info!(
        account_id = auth.account_id,
        session_id = auth.session_id,
        "signed out"
    );
    Ok(StatusCode::NO_CONTENT)
}
