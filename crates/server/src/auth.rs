//! Tokens and the middleware that authenticates 🔒 routes.
//!
//! Every token (access, refresh, mailed link) is 32 random bytes, base64url;
//! only its SHA-256 is stored, so a copy of the database does not let anyone
//! sign in or follow a link.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::AppState;

/// A freshly made token and the hash that is stored for it.
pub struct NewToken {
    /// Given to the device once; never stored or logged.
    pub token: String,
    pub sha256: [u8; 32],
}

/// Makes a new random token.
pub fn new_token() -> NewToken {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let sha256 = token_sha256(&token);
    NewToken { token, sha256 }
}

/// The stored form of a token.
pub fn token_sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The account and session a 🔒 request was made with.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub account_id: String,
    pub session_id: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Authenticated>()
            .cloned()
            .ok_or(AppError::Unauthorized)
    }
}

fn bearer_token(request: &Request) -> Option<&str> {
    let value = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

/// Whether a request moves object bytes (its time counts as transfer time).
fn is_object_transfer(request: &Request) -> bool {
    let path = request.uri().path();
    let method = request.method();
    (method == axum::http::Method::GET || method == axum::http::Method::PUT)
        && path.starts_with("/v1/repo/")
        && path.matches('/').count() == 4
}

/// Middleware for 🔒 routes: resolves the bearer token to a live session
/// whose access token has not expired, then counts the request on that
/// session (last seen, requests, bytes, transfer time).
pub async fn require_session(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let hash = bearer_token(&request)
        .map(token_sha256)
        .ok_or(AppError::Unauthorized)?;
    let session = state
        .db
        .active_session(hash)
        .await?
        .ok_or(AppError::Unauthorized)?;
    if session.access_expires_at <= state.now() {
        return Err(AppError::TokenExpired);
    }
    let bytes_up = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| axum::body::HttpBody::size_hint(request.body()).exact())
        .unwrap_or(0);
    let transfer = is_object_transfer(&request);
    let session_id = session.id.clone();
    request.extensions_mut().insert(Authenticated {
        account_id: session.account_id,
        session_id: session.id,
    });
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let transfer_ms = if transfer {
        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
    } else {
        0
    };
    let bytes_down = axum::body::HttpBody::size_hint(response.body())
        .exact()
        .unwrap_or(0);
    if let Err(e) = state
        .db
        .record_request(session_id, state.now(), bytes_up, bytes_down, transfer_ms)
        .await
    {
        // The request itself succeeded; losing one counter update is not worth failing it.
        tracing::warn!(
            error = format!("{e:#}"),
            "recording session activity failed"
        );
    }
    Ok(response)
}
