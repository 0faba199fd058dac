//! Mailed one-time links: email verification (at sign-up and on an email
//! change) and password reset.
//!
//! A link's token is 32 random bytes; only its SHA-256 is stored, and it is
//! deleted when used. A reset sets the password and ends every session; it
//! never touches key material, so a private-key account stays locked until
//! its key is entered on the device.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{hash_password, new_password};
use crate::auth::{new_token, token_sha256};
use crate::error::AppError;
use crate::input::{body_bytes, email, json_object, query_param, required_str};
use crate::mail::Mail;
use crate::openapi::schemas as api;
use crate::pages::{escape, page};
use crate::AppState;

const VERIFY_EMAIL: &str = "verify_email";
const PASSWORD_RESET: &str = "password_reset";
const VERIFY_LINK_LIFETIME_MS: i64 = 7 * 24 * 3_600_000;
const RESET_LINK_LIFETIME_MS: i64 = 3_600_000;

/// Routes anyone may call.
pub fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(verify_email))
        .routes(routes!(request_reset, reset_page))
        .routes(routes!(confirm_reset))
}

/// Mails `email` a link that verifies it for the account (its current email
/// or the one it is changing to).
///
/// # Errors
/// When the token cannot be stored or the mail cannot be sent.
pub async fn send_email_verification(
    state: &AppState,
    account_id: &str,
    email: &str,
) -> anyhow::Result<()> {
    let token = new_token();
    let now = state.now();
    state
        .db
        .insert_email_token(
            token.sha256,
            account_id.to_owned(),
            VERIFY_EMAIL,
            email.to_owned(),
            now,
            now + VERIFY_LINK_LIFETIME_MS,
        )
        .await?;
    let link = state.link(&format!("/v1/verify-email?token={}", token.token));
    state
        .mailer
        .send(Mail {
            to: email.to_owned(),
            subject: "Confirm your email address for Coffer".to_owned(),
            body: format!(
                "Hello,\n\nPlease confirm that this is your email address for Coffer by \
                 opening this link:\n\n{link}\n\nThe link works once, for 7 days. If you did \
                 not ask for this, ignore this mail.\n\n-- Coffer\n"
            ),
            unsubscribe_url: None,
        })
        .await
}

/// Follow an email verification link.
#[utoipa::path(
    get,
    path = "/v1/verify-email",
    tag = "accounts",
    params(("token" = String, Query, description = "The token from the mailed link")),
    responses((status = 200, description = "Confirmed", body = String, content_type = "text/html"), (status = 400, description = "Invalid, expired or used", body = String, content_type = "text/html"), (status = 409, description = "The address was taken meanwhile", body = String, content_type = "text/html"))
)]
async fn verify_email(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let invalid = || {
        page(
            StatusCode::BAD_REQUEST,
            "Link not valid",
            "<p>This link is invalid, has expired or was already used. \
             Sign in to Coffer and ask for a new one.</p>",
        )
    };
    let Some(token) = query_param(query.as_deref(), "token").filter(|t| !t.is_empty()) else {
        return invalid();
    };
    let outcome = async {
        let Some(found) = state
            .db
            .take_email_token(token_sha256(&token), VERIFY_EMAIL, state.now())
            .await?
        else {
            return Ok::<_, anyhow::Error>(None);
        };
        let switched = state
            .db
            .confirm_email(found.account_id.clone(), found.email.clone(), state.now())
            .await?;
        Ok(Some((found, switched)))
    }
    .await;
    match outcome {
        Ok(Some((found, true))) => {
            tracing::info!(account_id = found.account_id, "email verified");
            page(
                StatusCode::OK,
                "Email confirmed",
                &format!(
                    "<p>Thank you: <strong>{}</strong> is confirmed as your Coffer email \
                     address. You can close this page.</p>",
                    escape(&found.email)
                ),
            )
        }
        Ok(Some((_, false))) => page(
            StatusCode::CONFLICT,
            "Email not changed",
            "<p>This address is no longer waiting to be confirmed for your account, or \
             another account uses it now. Nothing was changed.</p>",
        ),
        Ok(None) => invalid(),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "verifying an email failed");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "<p>Please try the link again later.</p>",
            )
        }
    }
}

/// Ask for a password-reset link (always 202).
#[utoipa::path(
    post,
    path = "/v1/password-reset",
    tag = "accounts",
    request_body = api::EmailRequest,
    responses((status = 202, description = "A link is mailed if the email has an account"), (status = 429, description = "too_many_attempts: too many reset requests for this email or from this address (see Retry-After)", body = api::ErrorBody))
)]
async fn request_reset(
    State(state): State<AppState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    let obj = json_object(body)?;
    let email = email(&obj)?;
    // Counted for every email, with an account or not, so a refusal reveals
    // nothing about which emails have accounts.
    let email_key = format!("reset email:{email}");
    let ip_key = client.map(|Extension(ConnectInfo(addr))| format!("reset ip:{}", addr.ip()));
    let settings = &state.settings;
    let mut limits = vec![(email_key.as_str(), settings.password_resets_per_email)];
    if let Some(ip_key) = &ip_key {
        limits.push((ip_key.as_str(), settings.password_resets_per_ip));
    }
    state
        .request_limiter
        .admit(&limits, state.now())
        .map_err(|retry_after| AppError::TooManyRequests {
            retry_after,
            what: "too many password reset mails were asked for lately (for this email or from \
                   this address)",
        })?;
    // The answer, and how long it takes, is the same whether or not the
    // email has an account: the work happens after the response.
    tokio::spawn(async move {
        if let Err(e) = send_reset(&state, email).await {
            tracing::warn!(
                error = format!("{e:#}"),
                "sending a password reset mail failed"
            );
        }
    });
    Ok(StatusCode::ACCEPTED)
}

async fn send_reset(state: &AppState, email: String) -> anyhow::Result<()> {
    let Some(account) = state.db.account_by_email(email).await? else {
        return Ok(());
    };
    let token = new_token();
    let now = state.now();
    state
        .db
        .insert_email_token(
            token.sha256,
            account.id.clone(),
            PASSWORD_RESET,
            account.email.clone(),
            now,
            now + RESET_LINK_LIFETIME_MS,
        )
        .await?;
    // The link opens a small form served by the service; the app may instead
    // take the token and call POST /v1/password-reset/confirm itself.
    let link = state.link(&format!("/v1/password-reset?token={}", token.token));
    let private_note = if account.key_mode == "private" {
        "\nYour files are encrypted with your own key. Resetting the password does not \
         change or reveal that key: after the reset, unlock your files with your key or \
         your recovery code as before.\n"
    } else {
        ""
    };
    state
        .mailer
        .send(Mail {
            to: account.email.clone(),
            subject: "Reset your Coffer password".to_owned(),
            body: format!(
                "Hello,\n\nSomeone (hopefully you) asked to reset the password of your Coffer \
                 account. To choose a new password, open this link within an hour:\n\n{link}\n\n\
                 Reset token: {token}\n{private_note}\nIf you did not ask for this, ignore this \
                 mail; your password stays as it is.\n\n-- Coffer\n",
                token = token.token
            ),
            unsubscribe_url: None,
        })
        .await?;
    tracing::info!(account_id = account.id, "password reset mail sent");
    Ok(())
}

/// The password-reset form of a mailed link.
#[utoipa::path(
    get,
    path = "/v1/password-reset",
    tag = "accounts",
    params(("token" = String, Query, description = "The token from the mailed link")),
    responses((status = 200, description = "The form", body = String, content_type = "text/html"))
)]
async fn reset_page(RawQuery(query): RawQuery) -> Response {
    let token = query_param(query.as_deref(), "token").unwrap_or_default();
    page(
        StatusCode::OK,
        "Choose a new password",
        &format!(
            "<form method=\"post\" action=\"/v1/password-reset/confirm\">\
             <input type=\"hidden\" name=\"token\" value=\"{}\">\
             <p><label>New password (at least 8 characters)<br>\
             <input type=\"password\" name=\"new_password\" minlength=\"8\" required \
             autocomplete=\"new-password\"></label></p>\
             <p><button type=\"submit\">Set the new password</button></p></form>\
             <p>Setting a new password signs you out everywhere. It does not change your \
             encryption key.</p>",
            escape(&token)
        ),
    )
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// `POST /v1/password-reset/confirm`: JSON from the app, or the form of
/// [`reset_page`] (answered with a page).
#[utoipa::path(
    post,
    path = "/v1/password-reset/confirm",
    tag = "accounts",
    request_body = api::ResetConfirmRequest,
    responses((status = 204, description = "Reset; every session ended"), (status = 400, description = "invalid_token or invalid_input", body = api::ErrorBody))
)]
async fn confirm_reset(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if !is_form(&headers) {
        return match reset_with(&state, json_object(body)).await {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => e.into_response(),
        };
    }
    let fields = body_bytes(body).map(|bytes| {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let mut obj = Map::new();
        for field in ["token", "new_password"] {
            if let Some(value) = query_param(Some(&text), field) {
                obj.insert(field.to_owned(), Value::String(value));
            }
        }
        obj
    });
    match reset_with(&state, fields).await {
        Ok(()) => page(
            StatusCode::OK,
            "Password changed",
            "<p>Your new password is set and you were signed out everywhere. Sign in to \
             Coffer with the new password.</p>",
        ),
        Err(e) => {
            let (status, _) = e.status_and_code();
            page(
                status,
                "Password not changed",
                &format!("<p>{}</p>", escape(&e.to_string())),
            )
        }
    }
}

async fn reset_with(
    state: &AppState,
    obj: Result<Map<String, Value>, AppError>,
) -> Result<(), AppError> {
    let obj = obj?;
    let token = required_str(&obj, "token")?.trim().to_owned();
    if token.is_empty() {
        return Err(AppError::invalid("token", "is required"));
    }
    // Checked before the token is used up, so a bad password loses nothing.
    let password = new_password(&obj, "new_password")?;
    let hash = hash_password(password).await?;
    let found = state
        .db
        .take_email_token(token_sha256(&token), PASSWORD_RESET, state.now())
        .await?
        .ok_or(AppError::InvalidToken)?;
    let now = state.now();
    state
        .db
        .set_password(found.account_id.clone(), hash, now)
        .await?;
    state
        .db
        .delete_email_tokens(found.account_id.clone(), PASSWORD_RESET)
        .await?;
    let ended = state
        .db
        .end_sessions_except(found.account_id.clone(), None, now, "password_reset")
        .await?;
    // Following the link proved the person reads that mailbox.
    state
        .db
        .confirm_email(found.account_id.clone(), found.email, now)
        .await?;
    tracing::info!(account_id = found.account_id, ended, "password reset");
    Ok(())
}
