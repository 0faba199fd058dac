//! Tokens and the middleware that authenticates 🔒 routes.
//!
//! Every token (access, refresh, mailed link) is 32 random bytes, base64url;
//! only its SHA-256 is stored, so a copy of the database does not let anyone
//! sign in or follow a link.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::apps::{ConnectedApp, TOKEN_PREFIX};
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
    /// The session's id; for a connected app, `app:<app id>`, which no
    /// session (and so no deletion grant) ever has.
    pub session_id: String,
    /// The connected app when the request carried an app token rather than
    /// a session's access token; its scopes were already checked.
    pub app: Option<ConnectedApp>,
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
/// session (last seen, requests, bytes, transfer time). A connected-app
/// token is resolved to its app instead, admitted only to the routes its
/// scopes name (`crate::apps::ROUTE_SCOPES`), and its use recorded.
pub async fn require_session(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let token = bearer_token(&request).ok_or(AppError::Unauthorized)?;
    if token.starts_with(TOKEN_PREFIX) {
        let hash = token_sha256(token);
        return require_app(state, hash, request, next).await;
    }
    let hash = token_sha256(token);
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
        app: None,
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

/// The connected-app half of [`require_session`].
async fn require_app(
    state: AppState,
    hash: [u8; 32],
    mut request: Request,
    next: Next,
) -> Result<Response, AppError> {
    // Revoked tokens are deleted, so they are simply unknown.
    let record = state
        .db
        .app_token_by_hash(hash)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let now = state.now();
    if record.expires_at <= now {
        return Err(AppError::AppTokenExpired);
    }
    let app = ConnectedApp::of(&record);
    // The route as routed (`/v1/repo/{kind}/{id}`), not as requested.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    app.check(request.method(), &route)?;
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    request.extensions_mut().insert(Authenticated {
        account_id: record.account_id.clone(),
        session_id: format!("app:{}", record.id),
        app: Some(app),
    });
    let response = next.run(request).await;
    if let Err(e) = state.db.record_app_use(record.id, now, ip).await {
        tracing::warn!(
            error = format!("{e:#}"),
            "recording connected-app use failed"
        );
    }
    Ok(response)
}
