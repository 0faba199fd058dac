//! Connected apps: scoped tokens a person makes for a third-party
//! application, with their consent ("Third-Party Applications" in the
//! privacy policy).
//!
//! A token is `coffer_app_` + 32 random bytes (base64url), shown once at
//! creation and stored only as its SHA-256. It carries one or more
//! [`Scope`]s and an expiry, records its last use, and is revoked by
//! deleting it, which makes it fail at once. Only the person's own
//! signed-in session can create, list or revoke tokens.
//!
//! Which scope admits which route is written in one place, [`ROUTE_SCOPES`],
//! and enforced by the session middleware (`crate::auth::require_session`)
//! before any handler runs; a route missing from the table admits no app
//! token at all. Deleting repository data is in no scope, and asking for a
//! deletion grant (`POST /v1/auth/confirm`) is in none either, so an app can
//! never delete anything.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::Json;
use serde_json::{json, Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::new_id;
use crate::auth::{new_token, Authenticated};
use crate::db::{AppTokenRecord, NewAppToken};
use crate::error::AppError;
use crate::input::json_object;
use crate::openapi::schemas as api;
use crate::AppState;

/// Every connected-app token starts with this, so the middleware (and a
/// secret scanner) can tell it from a session's access token.
pub const TOKEN_PREFIX: &str = "coffer_app_";
/// Lifetime of a token when none is asked for.
pub const DEFAULT_EXPIRY_DAYS: u64 = 30;
/// The longest lifetime a token may have.
pub const MAX_EXPIRY_DAYS: u64 = 365;
/// Longest app name, in characters.
const MAX_NAME_CHARS: usize = 100;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What a connected-app token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Read-only: list and read repository objects (snapshots included)
    /// and the key material needed to decrypt them.
    Restore,
    /// Write-only: list objects, store new ones (storing a snapshot
    /// commits it) and read the key material needed to encrypt; never read
    /// an object's bytes, never delete.
    Backup,
    /// The profile, communication preferences and session records.
    AccountRead,
}

impl Scope {
    /// Every scope, in canonical order.
    pub const ALL: [Scope; 3] = [Scope::Restore, Scope::Backup, Scope::AccountRead];

    /// The scope's name in the API.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Restore => "restore",
            Scope::Backup => "backup",
            Scope::AccountRead => "account_read",
        }
    }

    /// The scope named `name`, if any.
    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.name() == name)
    }
}

use Scope::{AccountRead, Backup, Restore};

/// The routes a connected-app token may call, each with the scopes that
/// admit it (any one is enough). Every other 🔒 route needs the person's
/// own signed-in session.
pub const ROUTE_SCOPES: &[(Method, &str, &[Scope])] = &[
    (Method::GET, "/v1/repo/{kind}", &[Restore, Backup]),
    (Method::GET, "/v1/repo/{kind}/{id}", &[Restore]),
    (Method::PUT, "/v1/repo/{kind}/{id}", &[Backup]),
    // Encrypting (backup) and decrypting (restore) both need the data key.
    (Method::GET, "/v1/account/key", &[Restore, Backup]),
    (Method::GET, "/v1/account", &[AccountRead]),
    (Method::GET, "/v1/account/preferences", &[AccountRead]),
    (Method::GET, "/v1/sessions", &[AccountRead]),
];

/// The scopes that admit `method` on the route `path` (as routed, e.g.
/// `/v1/repo/{kind}/{id}`); empty when only a signed-in session may.
pub fn scopes_admitting(method: &Method, path: &str) -> &'static [Scope] {
    ROUTE_SCOPES
        .iter()
        .find(|(m, p, _)| m == method && *p == path)
        .map_or(&[], |(_, _, scopes)| scopes)
}

/// A connected app a request was made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedApp {
    pub id: String,
    pub scopes: Vec<Scope>,
}

impl ConnectedApp {
    /// The app of a stored token (unknown scope names are ignored: they
    /// admit nothing).
    pub fn of(record: &AppTokenRecord) -> ConnectedApp {
        ConnectedApp {
            id: record.id.clone(),
            scopes: record
                .scopes
                .iter()
                .filter_map(|s| Scope::parse(s))
                .collect(),
        }
    }

    /// Whether the app may call `method` on the route `path`.
    ///
    /// # Errors
    /// `scope_denied`, saying what the route needs.
    pub fn check(&self, method: &Method, path: &str) -> Result<(), AppError> {
        let admitting = scopes_admitting(method, path);
        if admitting.iter().any(|s| self.scopes.contains(s)) {
            return Ok(());
        }
        let held = names(&self.scopes);
        let route = format!("{method} {path}");
        Err(AppError::ScopeDenied(if admitting.is_empty() {
            format!(
                "this connected-app token (scopes: {held}) cannot call {route}: only your own \
                 signed-in session can do that, never a connected app"
            )
        } else {
            format!(
                "this connected-app token (scopes: {held}) cannot call {route}: that needs a \
                 token with the {} scope",
                names(admitting).replace(", ", " or ")
            )
        }))
    }
}

fn names(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Routes for a signed-in session (never an app: no scope admits them).
pub fn app_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_apps, create_app))
        .routes(routes!(revoke_app))
}

fn app_view(record: &AppTokenRecord, now: i64) -> Value {
    json!({
        "id": record.id,
        "name": record.name,
        "scopes": record.scopes,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "expired": record.expires_at <= now,
        "last_used_at": record.last_used_at,
        "last_used_ip": record.last_used_ip,
        "uses": record.uses,
    })
}

/// The account's connected apps as its data export lists them (never a
/// token or its hash).
///
/// # Errors
/// Database failures.
pub async fn export_views(state: &AppState, account_id: &str) -> Result<Vec<Value>, AppError> {
    let now = state.now();
    let apps = state.db.app_tokens_of(account_id.to_owned()).await?;
    Ok(apps.iter().map(|a| app_view(a, now)).collect())
}

fn parse_scopes(obj: &Map<String, Value>) -> Result<Vec<Scope>, AppError> {
    let problem = "must be a non-empty list of restore, backup and account_read";
    let Some(Value::Array(items)) = obj.get("scopes") else {
        return Err(AppError::invalid("scopes", problem));
    };
    let mut scopes = Vec::new();
    for item in items {
        let scope = item
            .as_str()
            .and_then(Scope::parse)
            .ok_or_else(|| AppError::invalid("scopes", problem))?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    if scopes.is_empty() {
        return Err(AppError::invalid("scopes", problem));
    }
    scopes.sort();
    Ok(scopes)
}

fn parse_expiry_days(obj: &Map<String, Value>) -> Result<u64, AppError> {
    match obj.get("expires_in_days") {
        None | Some(Value::Null) => Ok(DEFAULT_EXPIRY_DAYS),
        Some(v) => v
            .as_u64()
            .filter(|d| (1..=MAX_EXPIRY_DAYS).contains(d))
            .ok_or_else(|| {
                AppError::invalid(
                    "expires_in_days",
                    &format!("must be a whole number of days from 1 to {MAX_EXPIRY_DAYS}"),
                )
            }),
    }
}

fn parse_name(obj: &Map<String, Value>) -> Result<String, AppError> {
    let name = match obj.get("name") {
        Some(Value::String(s)) => s.trim(),
        None | Some(Value::Null) => return Err(AppError::invalid("name", "is required")),
        Some(_) => return Err(AppError::invalid("name", "must be a string")),
    };
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "name",
            &format!("must be 1 to {MAX_NAME_CHARS} characters, without control characters"),
        ));
    }
    Ok(name.to_owned())
}

/// Connect an app: a new scoped token, shown once.
#[utoipa::path(
    post,
    path = "/v1/apps",
    tag = "apps",
    request_body = api::AppTokenRequest,
    responses((status = 201, description = "The new token; `token` is shown only now", body = api::AppTokenCreated), (status = 400, description = "invalid_input", body = api::ErrorBody))
)]
async fn create_app(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let obj = json_object(body)?;
    let name = parse_name(&obj)?;
    let scopes = parse_scopes(&obj)?;
    let days = parse_expiry_days(&obj)?;
    let secret = new_token();
    let token = format!("{TOKEN_PREFIX}{}", secret.token);
    let now = state.now();
    let record = NewAppToken {
        id: new_id(),
        account_id: auth.account_id.clone(),
        name,
        scopes: scopes.iter().map(|s| s.name().to_owned()).collect(),
        sha256: crate::auth::token_sha256(&token),
        created_at: now,
        // At most 365 days: no overflow.
        expires_at: now.saturating_add(days as i64 * DAY_MS),
    };
    state.db.insert_app_token(record.clone()).await?;
    tracing::info!(
        account_id = auth.account_id,
        app_id = record.id,
        scopes = record.scopes.join(","),
        "connected app created"
    );
    let stored = AppTokenRecord {
        id: record.id,
        account_id: record.account_id,
        name: record.name,
        scopes: record.scopes,
        created_at: record.created_at,
        expires_at: record.expires_at,
        last_used_at: None,
        last_used_ip: None,
        uses: 0,
    };
    let mut view = app_view(&stored, now);
    view["token"] = json!(token);
    Ok((StatusCode::CREATED, Json(view)))
}

/// The account's connected apps, newest first (never their secrets).
#[utoipa::path(
    get,
    path = "/v1/apps",
    tag = "apps",
    responses((status = 200, description = "Connected apps", body = Vec<api::AppTokenView>))
)]
async fn list_apps(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Vec<Value>>, AppError> {
    let now = state.now();
    let records = state.db.app_tokens_of(auth.account_id).await?;
    Ok(Json(records.iter().map(|r| app_view(r, now)).collect()))
}

/// Revoke a connected app: its token fails at once.
#[utoipa::path(
    delete,
    path = "/v1/apps/{id}",
    tag = "apps",
    params(("id" = String, Path, description = "The app's id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "not_found", body = api::ErrorBody))
)]
async fn revoke_app(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    if !state
        .db
        .delete_app_token(auth.account_id.clone(), id.clone())
        .await?
    {
        return Err(AppError::NotFound);
    }
    tracing::info!(
        account_id = auth.account_id,
        app_id = id,
        "connected app revoked"
    );
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_each_route_once() {
        for (i, (m, p, scopes)) in ROUTE_SCOPES.iter().enumerate() {
            assert!(!scopes.is_empty(), "{m} {p}");
            assert!(
                ROUTE_SCOPES[i + 1..]
                    .iter()
                    .all(|(m2, p2, _)| !(m == m2 && p == p2)),
                "{m} {p} twice"
            );
        }
    }

    #[test]
    fn backup_cannot_read_or_delete_and_unknown_routes_admit_nothing() {
        let backup = ConnectedApp {
            id: "x".into(),
            scopes: vec![Scope::Backup],
        };
        assert!(backup.check(&Method::PUT, "/v1/repo/{kind}/{id}").is_ok());
        assert!(backup.check(&Method::GET, "/v1/repo/{kind}").is_ok());
        let denied = backup
            .check(&Method::GET, "/v1/repo/{kind}/{id}")
            .unwrap_err()
            .to_string();
        assert!(denied.contains("restore scope"), "{denied}");
        let never = backup
            .check(&Method::DELETE, "/v1/repo/{kind}/{id}")
            .unwrap_err()
            .to_string();
        assert!(never.contains("never a connected app"), "{never}");
        assert!(backup.check(&Method::GET, "/v1/made-up").is_err());
    }
}
