//! The one error type every handler returns, with the stable codes of
//! `docs/api.md`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An error a handler reports to the caller. Each variant maps to one stable
/// `code`; `Internal` carries detail that goes to the log, never to the body.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A field is missing or malformed; the message names the field.
    #[error("{0}")]
    InvalidInput(String),
    /// Sign-up without confirming the person is at least 13.
    #[error("You must be at least 13 years old to use Coffer.")]
    AgeNotConfirmed,
    /// An uploaded object's BLAKE3 hash is not its id.
    #[error("the object's BLAKE3 hash does not match its id")]
    HashMismatch,
    /// Missing, unknown or revoked token.
    #[error("sign in to continue")]
    Unauthorized,
    /// An access token past its expiry: refresh it with the refresh token.
    #[error("the access token has expired; refresh it")]
    TokenExpired,
    /// The password was right, but the account has two-factor sign-in on and
    /// no code was given.
    #[error("enter the code from your authenticator app or a recovery code")]
    TotpRequired,
    /// A two-factor or recovery code that is wrong or was already used.
    #[error("the two-factor code is wrong or was already used")]
    TotpInvalid,
    /// A signed-in request that needs the account's password got a wrong one.
    #[error("the password is wrong")]
    WrongPassword,
    /// The account is scheduled for deletion at `purge_at` (Unix ms).
    #[error(
        "this account is scheduled for deletion on {date}; to cancel, restore it with your \
         email and password (POST /v1/account/restore-deletion) before then",
        date = crate::calendar::utc_day(*purge_at)
    )]
    AccountDeleted { purge_at: i64 },
    /// An emailed link's token that is unknown, expired or already used.
    #[error("this link is invalid, has expired or was already used")]
    InvalidToken,
    /// Two-factor setup on an account that already has it on.
    #[error("two-factor sign-in is already on; turn it off first")]
    TotpAlreadyEnabled,
    /// Enabling two-factor sign-in without setting it up first.
    #[error("set up two-factor sign-in first (POST /v1/account/totp/setup)")]
    TotpNotSetUp,
    /// A request that deletes repository data without a valid deletion
    /// grant: a device's own session may add backups but not erase them.
    #[error(
        "deleting backups or stored data needs you to confirm it is you: a device's session \
         alone cannot delete. Confirm with your password (and two-factor code, if on) at \
         POST /v1/auth/confirm and send the confirmation in the Coffer-Confirmation header"
    )]
    ConfirmationRequired,
    /// A connected-app token used outside its scopes; the message says what
    /// the route needs.
    #[error("{0}")]
    ScopeDenied(String),
    /// A connected-app token past its expiry: the person must create a new
    /// one.
    #[error("this connected-app token has expired; create a new one in Settings → Connected apps")]
    AppTokenExpired,
    /// A share that was revoked, expired or downloaded the most times
    /// allowed; `reason` is `revoked`, `expired` or `exhausted`.
    #[error("{message}")]
    ShareGone {
        reason: &'static str,
        message: String,
    },
    /// A share download without a valid ticket from opening the share.
    #[error("this download ticket is unknown or has expired; open the share again")]
    ShareTicketInvalid,
    /// Wrong email or password.
    #[error("the email or password is wrong")]
    InvalidCredentials,
    /// No such thing, or it belongs to another account (never distinguished).
    #[error("not found")]
    NotFound,
    /// Sign-up with an email that already has an account.
    #[error("an account with this email already exists")]
    EmailTaken,
    /// The upload would exceed the account's storage quota.
    #[error("this upload would exceed your storage quota")]
    QuotaExceeded,
    /// The request body is larger than the endpoint accepts.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// A `Range` header that cannot be satisfied.
    #[error("the requested range cannot be satisfied")]
    InvalidRange,
    /// Too many wrong passwords or codes for this email or from this
    /// address lately; try again after `retry_after` seconds.
    #[error("too many failed sign-in attempts; try again in {retry_after} seconds")]
    TooManyAttempts { retry_after: u64 },
    /// Too many requests of one kind (sign-ups, password-reset mails) for
    /// this email or from this address lately; `429 too_many_attempts` too.
    #[error("{what}; try again in {retry_after} seconds")]
    TooManyRequests {
        retry_after: u64,
        what: &'static str,
    },
    /// The object store has no room left (a full disk): nothing was stored,
    /// and nothing stored earlier is harmed. An operator must add space.
    #[error("the service has run out of storage space; nothing was stored, try again later")]
    StorageFull,
    /// Anything else; the detail is logged, the caller sees a generic message.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    /// `invalid_input` whose message starts with the offending field's name.
    pub fn invalid(field: &str, problem: &str) -> Self {
        AppError::InvalidInput(format!("{field}: {problem}"))
    }

    /// The HTTP status and stable machine code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::InvalidInput(_) => (StatusCode::BAD_REQUEST, "invalid_input"),
            AppError::AgeNotConfirmed => (StatusCode::BAD_REQUEST, "age_not_confirmed"),
            AppError::HashMismatch => (StatusCode::BAD_REQUEST, "hash_mismatch"),
            AppError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AppError::TokenExpired => (StatusCode::UNAUTHORIZED, "token_expired"),
            AppError::TotpRequired => (StatusCode::UNAUTHORIZED, "totp_required"),
            AppError::TotpInvalid => (StatusCode::UNAUTHORIZED, "totp_invalid"),
            AppError::WrongPassword => (StatusCode::FORBIDDEN, "wrong_password"),
            AppError::AccountDeleted { .. } => (StatusCode::FORBIDDEN, "account_deleted"),
            AppError::ConfirmationRequired => (StatusCode::FORBIDDEN, "confirmation_required"),
            AppError::InvalidToken => (StatusCode::BAD_REQUEST, "invalid_token"),
            AppError::TotpAlreadyEnabled => (StatusCode::CONFLICT, "totp_already_enabled"),
            AppError::TotpNotSetUp => (StatusCode::CONFLICT, "totp_not_set_up"),
            AppError::ScopeDenied(_) => (StatusCode::FORBIDDEN, "scope_denied"),
            AppError::AppTokenExpired => (StatusCode::UNAUTHORIZED, "app_token_expired"),
            AppError::ShareGone { .. } => (StatusCode::GONE, "share_gone"),
            AppError::ShareTicketInvalid => (StatusCode::FORBIDDEN, "share_ticket_invalid"),
            AppError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            AppError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            AppError::EmailTaken => (StatusCode::CONFLICT, "email_taken"),
            AppError::QuotaExceeded => (StatusCode::PAYLOAD_TOO_LARGE, "quota_exceeded"),
            AppError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            AppError::InvalidRange => (StatusCode::RANGE_NOT_SATISFIABLE, "invalid_range"),
            AppError::TooManyAttempts { .. } | AppError::TooManyRequests { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
            }
            AppError::StorageFull => (StatusCode::INSUFFICIENT_STORAGE, "storage_full"),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        if err
            .downcast_ref::<crate::object_store::StorageFull>()
            .is_some()
        {
            // The operator must act: logged like an internal error.
            tracing::error!(error = format!("{err:#}"), "the object store is full");
            return AppError::StorageFull;
        }
        AppError::Internal(err)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let AppError::Internal(detail) = &self {
            tracing::error!(error = format!("{detail:#}"), "internal error");
        }
        let mut body = json!({ "error": { "code": code, "message": self.to_string() } });
        if let AppError::AccountDeleted { purge_at } = &self {
            body["error"]["purge_at"] = json!(purge_at);
        }
        if let AppError::ShareGone { reason, .. } = &self {
            body["error"]["reason"] = json!(reason);
        }
        let retry_after = match &self {
            AppError::TooManyAttempts { retry_after }
            | AppError::TooManyRequests { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        if let Some(retry_after) = retry_after {
            body["error"]["retry_after"] = json!(retry_after);
        }
        let mut response = (status, Json(body)).into_response();
        if let Some(retry_after) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
