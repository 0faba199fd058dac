//! The privacy policy: operators publish versions (`coffer-server
//! publish-policy`, which mails every account), anyone can read the current
//! one, and a signed-in person records that they accepted it.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::signed_in_account;
use crate::auth::Authenticated;
use crate::error::AppError;
use crate::input::{json_object, required_str};
use crate::openapi::schemas as api;
use crate::AppState;

/// Routes anyone may call.
pub fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(current))
}

/// Routes for a signed-in account.
pub fn account_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(accept))
}

/// The current privacy policy.
#[utoipa::path(
    get,
    path = "/v1/policy",
    tag = "privacy",
    responses((status = 200, description = "The latest version", body = api::Policy), (status = 404, description = "not_found", body = api::ErrorBody))
)]
async fn current(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let policy = state.db.current_policy().await?.ok_or(AppError::NotFound)?;
    Ok(Json(json!({
        "version": policy.version,
        "text": policy.text,
        "published_at": policy.published_at,
    })))
}

/// Accept the current policy version.
#[utoipa::path(
    post,
    path = "/v1/account/policy/accept",
    tag = "privacy",
    request_body = api::PolicyAcceptRequest,
    responses((status = 200, description = "Accepted", body = api::PolicyAccepted), (status = 400, description = "invalid_input", body = api::ErrorBody))
)]
async fn accept(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    let obj = json_object(body)?;
    let version = required_str(&obj, "version")?.trim().to_owned();
    let account = signed_in_account(&state, &auth).await?;
    let current = state.db.current_policy().await?;
    match current {
        Some(policy) if policy.version == version => {}
        Some(policy) => {
            return Err(AppError::invalid(
                "version",
                &format!("is not the current policy version ({})", policy.version),
            ))
        }
        None => {
            return Err(AppError::invalid(
                "version",
                "no policy has been published yet",
            ))
        }
    }
    let now = state.now();
    state
        .db
        .accept_policy(account.id.clone(), version.clone(), now)
        .await?;
    tracing::info!(account_id = account.id, version, "policy accepted");
    Ok(Json(json!({
        "policy_accepted_version": version,
        "policy_accepted_at": now,
    })))
}
