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
    /// Missing, unknown, expired or revoked token.
    #[error("sign in to continue")]
    Unauthorized,
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
            AppError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            AppError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            AppError::EmailTaken => (StatusCode::CONFLICT, "email_taken"),
            AppError::QuotaExceeded => (StatusCode::PAYLOAD_TOO_LARGE, "quota_exceeded"),
            AppError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            AppError::InvalidRange => (StatusCode::RANGE_NOT_SATISFIABLE, "invalid_range"),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        AppError::Internal(err)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let AppError::Internal(detail) = &self {
            tracing::error!(error = format!("{detail:#}"), "internal error");
        }
        let body = json!({ "error": { "code": code, "message": self.to_string() } });
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
