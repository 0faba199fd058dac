//! Sharing files with contacts, end to end encrypted.
//!
//! The agent re-encrypts a file or folder under a fresh random share key,
//! uploads it in parts to the account's share area (counted against the
//! quota) and completes the share; the service then mails each recipient
//! that the owner shared files, with the link `<public url>/s/<id>` but
//! without its key. The full link `…/s/<id>#<key>` comes from the owner
//! directly: the key is only ever in the link's fragment, which browsers
//! never send, so the service never holds it and stores and logs only
//! ciphertext (`docs/format.md`, *Shares*, has every byte).
//!
//! A recipient's page (`crate::share_page`) reads the share's state,
//! opens it — checking the password (Argon2id, rate-limited) and counting
//! one download — for a short-lived download ticket, then fetches the
//! manifest and parts with it and decrypts in the browser. A share ends
//! when revoked, expired or downloaded the most times allowed; the
//! background job then deletes its data and its recipients' addresses
//! ([`remove_due`]).

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

use crate::accounts::{new_id, signed_in_account};
use crate::alerts::human_bytes;
use crate::auth::{new_token, token_sha256, Authenticated};
use crate::calendar::utc_day;
use crate::db::{NewShare, OpenOutcome, ShareRecord, MANIFEST_PART};
use crate::error::AppError;
use crate::input::{body_bytes, json_object, json_object_or_empty, maybe_str};
use crate::mail::Mail;
use crate::openapi::schemas as api;
use crate::throttle::AttemptKeys;
use crate::{password, AppState};

/// Plaintext bytes per encrypted chunk.
pub const CHUNK_BYTES: u64 = 1024 * 1024;
/// Sealed chunks per uploaded part.
pub const PART_CHUNKS: u64 = 8;
/// The largest part (and manifest) the service accepts: 8 sealed chunks.
pub const MAX_PART_BYTES: usize = (PART_CHUNKS * (CHUNK_BYTES + 16)) as usize;
/// The most parts one share may have (about 800 GiB).
pub const MAX_PARTS: u64 = 100_000;
/// The most recipients one share may be mailed to.
pub const MAX_RECIPIENTS: usize = 20;
/// Lifetime of a share when none is asked for, in days.
pub const DEFAULT_EXPIRY_DAYS: u64 = 7;
/// The longest lifetime a share may have, in days.
pub const MAX_EXPIRY_DAYS: u64 = 90;
/// The most downloads a share may allow.
pub const MAX_DOWNLOADS: u64 = 1000;
/// How long a download ticket works.
pub const TICKET_TTL_MS: i64 = 6 * 60 * 60 * 1000;
/// How long an upload may stay unfinished before its parts are removed.
pub const UPLOAD_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// How long the owner still sees a share whose data was removed.
pub const REMOVED_KEPT_MS: i64 = 30 * DAY_MS;
/// The header a download carries its ticket in.
pub const TICKET_HEADER: &str = "coffer-share-ticket";
/// The object kind share data is stored under.
const STORE_KIND: &str = "shares";
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Routes for the owner's signed-in session.
pub fn owner_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_shares, create_share))
        .routes(routes!(revoke_share))
        .routes(routes!(complete_share))
        .routes(routes!(put_manifest))
        .routes(routes!(put_part))
        .layer(DefaultBodyLimit::max(MAX_PART_BYTES))
}

/// Routes a recipient's page calls (no account).
pub fn recipient_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(share_info))
        .routes(routes!(open_share))
        .routes(routes!(get_manifest))
        .routes(routes!(get_part))
}

/// Whether `id` looks like a share id (32 lowercase hex characters).
pub fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn parse_id(id: &str) -> Result<(), AppError> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(AppError::invalid(
            "id",
            "must be 32 lowercase hex characters",
        ))
    }
}

/// What a share is now, as its owner and recipients see it.
pub fn state_of(share: &ShareRecord, now: i64) -> &'static str {
    if share.state == "uploading" {
        "uploading"
    } else if share.state == "revoked" || share.owner_leaving {
        // An account scheduled for deletion shares nothing any more.
        "revoked"
    } else if share.expires_at <= now {
        "expired"
    } else if share
        .max_downloads
        .is_some_and(|max| share.downloads >= max)
    {
        "exhausted"
    } else {
        "active"
    }
}

/// The refusal for a share that cannot be opened at `now`, if it cannot.
pub fn gone(share: &ShareRecord, now: i64) -> Option<AppError> {
    let (reason, message) = match state_of(share, now) {
        "revoked" => (
            "revoked",
            "the person who shared these files has stopped sharing them".to_owned(),
        ),
        "expired" => (
            "expired",
            format!("this share expired on {}", utc_day(share.expires_at)),
        ),
        "exhausted" => (
            "exhausted",
            "this share was downloaded as many times as its owner allowed".to_owned(),
        ),
        _ => return None,
    };
    Some(AppError::ShareGone { reason, message })
}

fn owner_view(share: &ShareRecord, now: i64) -> Value {
    json!({
        "id": share.id,
        "state": state_of(share, now),
        "created_at": share.created_at,
        "completed_at": share.completed_at,
        "expires_at": share.expires_at,
        "password": share.password_hash.is_some(),
        "max_downloads": share.max_downloads,
        "downloads": share.downloads,
        "recipients": share.recipients,
        "parts": share.parts,
        "bytes": share.stored_bytes,
        "revoked_at": share.revoked_at,
        "removed_at": share.removed_at,
    })
}

/// The account's shares as its data export lists them: what the service
/// holds about each (terms, state, recipients while kept) — never a key,
/// the password hash or a ticket.
///
/// # Errors
/// Database failures.
pub async fn export_views(state: &AppState, account_id: &str) -> Result<Vec<Value>, AppError> {
    let now = state.now();
    let shares = state.db.shares_of(account_id.to_owned()).await?;
    Ok(shares.iter().map(|s| owner_view(s, now)).collect())
}

fn parse_recipients(obj: &Map<String, Value>) -> Result<Vec<String>, AppError> {
    let items = match obj.get("recipients") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(AppError::invalid("recipients", "must be a list of emails")),
    };
    if items.len() > MAX_RECIPIENTS {
        return Err(AppError::invalid(
            "recipients",
            &format!("at most {MAX_RECIPIENTS} emails"),
        ));
    }
    let mut emails: Vec<String> = Vec::new();
    for item in items {
        let mut one = Map::new();
        one.insert("email".into(), item.clone());
        let email = crate::input::email(&one).map_err(|_| {
            AppError::invalid(
                "recipients",
                &format!("{item} does not look like name@example.com"),
            )
        })?;
        if !emails.contains(&email) {
            emails.push(email);
        }
    }
    Ok(emails)
}

fn bounded_u64(
    obj: &Map<String, Value>,
    field: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, AppError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|n| range.contains(n))
            .map(Some)
            .ok_or_else(|| {
                AppError::invalid(
                    field,
                    &format!(
                        "must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )
            }),
    }
}

/// Share files: a new share waiting for its parts.
#[utoipa::path(
    post,
    path = "/v1/shares",
    tag = "shares",
    request_body = api::ShareRequest,
    responses((status = 201, description = "The new share, uploading", body = api::ShareView), (status = 400, description = "invalid_input", body = api::ErrorBody))
)]
async fn create_share(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let obj = json_object(body)?;
    let recipients = parse_recipients(&obj)?;
    let days =
        bounded_u64(&obj, "expires_in_days", 1..=MAX_EXPIRY_DAYS)?.unwrap_or(DEFAULT_EXPIRY_DAYS);
    let max_downloads = bounded_u64(&obj, "max_downloads", 1..=MAX_DOWNLOADS)?;
    let parts = bounded_u64(&obj, "parts", 1..=MAX_PARTS)?
        .ok_or_else(|| AppError::invalid("parts", "is required"))?;
    let password_hash = match maybe_str(&obj, "password")? {
        None | Some("") => None,
        Some(p) if p.chars().count() < 8 || p.chars().count() > 1024 => {
            return Err(AppError::invalid(
                "password",
                "must be 8 to 1024 characters",
            ))
        }
        Some(p) => {
            let p = Zeroizing::new(p.to_owned());
            Some(
                tokio::task::spawn_blocking(move || password::hash_password(&p))
                    .await
                    .map_err(anyhow::Error::from)??,
            )
        }
    };
    let now = state.now();
    let share = NewShare {
        id: new_id(),
        account_id: auth.account_id.clone(),
        created_at: now,
        // At most 90 days: no overflow.
        expires_at: now.saturating_add(days as i64 * DAY_MS),
        password_hash,
        max_downloads,
        parts,
        recipients,
    };
    state.db.create_share(share.clone()).await?;
    tracing::info!(
        account_id = auth.account_id,
        share_id = share.id,
        parts,
        "share created"
    );
    let stored = state
        .db
        .share(share.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("a share just created is missing"))?;
    Ok((StatusCode::CREATED, Json(owner_view(&stored, now))))
}

/// The account's shares with their state, newest first.
#[utoipa::path(
    get,
    path = "/v1/shares",
    tag = "shares",
    responses((status = 200, description = "Shares", body = Vec<api::ShareView>))
)]
async fn list_shares(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Vec<Value>>, AppError> {
    let now = state.now();
    let shares = state.db.shares_of(auth.account_id).await?;
    Ok(Json(shares.iter().map(|s| owner_view(s, now)).collect()))
}

async fn owned_share(
    state: &AppState,
    auth: &Authenticated,
    id: &str,
) -> Result<ShareRecord, AppError> {
    parse_id(id)?;
    state
        .db
        .share(id.to_owned())
        .await?
        // Another account's share and a made-up id look the same.
        .filter(|s| s.account_id == auth.account_id)
        .ok_or(AppError::NotFound)
}

async fn store_part(
    state: &AppState,
    auth: &Authenticated,
    id: &str,
    part: i64,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    let share = owned_share(state, auth, id).await?;
    if share.state != "uploading" {
        return Err(AppError::invalid(
            "id",
            "this share is complete; its parts cannot change",
        ));
    }
    if part != MANIFEST_PART && u64::try_from(part).map_or(true, |p| p >= share.parts) {
        return Err(AppError::invalid(
            "part",
            &format!("must be below the share's {} parts", share.parts),
        ));
    }
    let bytes = body_bytes(body)?;
    if bytes.len() < 16 {
        return Err(AppError::invalid(
            "body",
            "must hold at least one sealed chunk (16 bytes or more)",
        ));
    }
    let size = bytes.len() as u64;
    let _guard = state.account_write_lock(&auth.account_id).await?;
    let account = signed_in_account(state, auth).await?;
    let replaced = state
        .db
        .share_part_size(id.to_owned(), part)
        .await?
        .unwrap_or(0);
    let used = state.db.used_bytes(auth.account_id.clone()).await?;
    if used.saturating_sub(replaced).saturating_add(size) > account.quota_bytes {
        return Err(AppError::QuotaExceeded);
    }
    state
        .store
        .write(&auth.account_id, STORE_KIND, &object_id(id, part), bytes)
        .await?;
    if !state
        .db
        .put_share_part(auth.account_id.clone(), id.to_owned(), part, size)
        .await?
    {
        // Revoked while uploading: the job removes what was written.
        return Err(AppError::NotFound);
    }
    Ok(StatusCode::CREATED)
}

fn object_id(share_id: &str, part: i64) -> String {
    if part == MANIFEST_PART {
        format!("{share_id}.manifest")
    } else {
        format!("{share_id}.{part}")
    }
}

/// Upload the share's encrypted manifest.
#[utoipa::path(
    put,
    path = "/v1/shares/{id}/manifest",
    tag = "shares",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    params(("id" = String, Path, description = "The share id")),
    responses((status = 201, description = "Stored"), (status = 400, description = "invalid_input", body = api::ErrorBody), (status = 404, description = "not_found", body = api::ErrorBody), (status = 413, description = "quota_exceeded or payload_too_large", body = api::ErrorBody))
)]
async fn put_manifest(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    store_part(&state, &auth, &id, MANIFEST_PART, body).await
}

/// Upload one encrypted part of the share.
#[utoipa::path(
    put,
    path = "/v1/shares/{id}/parts/{part}",
    tag = "shares",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    params(("id" = String, Path, description = "The share id"), ("part" = u64, Path, description = "0 to parts − 1")),
    responses((status = 201, description = "Stored"), (status = 400, description = "invalid_input", body = api::ErrorBody), (status = 404, description = "not_found", body = api::ErrorBody), (status = 413, description = "quota_exceeded or payload_too_large", body = api::ErrorBody))
)]
async fn put_part(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, part)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    let part: i64 = part
        .parse()
        .ok()
        .filter(|p| *p >= 0)
        .ok_or_else(|| AppError::invalid("part", "must be a whole number"))?;
    store_part(&state, &auth, &id, part, body).await
}

/// Finish the upload: the share can be opened and its recipients are
/// mailed that it exists. The service never takes the share key: the mail
/// carries the link without it, and the owner sends the full link.
#[utoipa::path(
    post,
    path = "/v1/shares/{id}/complete",
    tag = "shares",
    request_body = api::ShareCompleteRequest,
    params(("id" = String, Path, description = "The share id")),
    responses((status = 200, description = "Active; how many recipients were mailed", body = api::ShareCompleted), (status = 400, description = "invalid_input (a part is missing, or a share key was sent)", body = api::ErrorBody), (status = 404, description = "not_found", body = api::ErrorBody))
)]
async fn complete_share(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    let obj = json_object_or_empty(body)?;
    let share = owned_share(&state, &auth, &id).await?;
    if share.state != "uploading" {
        return Err(AppError::invalid("id", "this share is already complete"));
    }
    // An agent from before the key stayed on the device would send it;
    // refuse rather than quietly receive a secret (and never echo it).
    if obj.contains_key("link_key") {
        return Err(AppError::invalid(
            "link_key",
            "the service does not take a share's key; send the full link to the recipients yourself",
        ));
    }
    let uploaded = state.db.share_parts(id.clone()).await?;
    if !uploaded.iter().any(|(p, _)| *p == MANIFEST_PART) {
        return Err(AppError::invalid("parts", "the manifest was not uploaded"));
    }
    if let Some(missing) = (0..share.parts).find(|n| !uploaded.iter().any(|(p, _)| *p == *n as i64))
    {
        return Err(AppError::invalid(
            "parts",
            &format!("part {missing} of {} was not uploaded", share.parts),
        ));
    }
    let now = state.now();
    if !state
        .db
        .complete_share(auth.account_id.clone(), id.clone(), now)
        .await?
    {
        return Err(AppError::NotFound);
    }
    let account = signed_in_account(&state, &auth).await?;
    let mut mailed = 0;
    let link = state.link(&format!("/s/{id}"));
    for to in &share.recipients {
        let mail = share_mail(&account, &share, to, &link, share.stored_bytes);
        match state.mailer.send(mail).await {
            Ok(()) => mailed += 1,
            // The share works; the owner sees who was not mailed.
            Err(e) => tracing::warn!(
                share_id = id,
                error = format!("{e:#}"),
                "mailing a share's notice failed"
            ),
        }
    }
    tracing::info!(
        account_id = auth.account_id,
        share_id = id,
        mailed,
        "share completed"
    );
    Ok(Json(
        json!({ "id": id, "state": "active", "mailed": mailed }),
    ))
}

/// The recipient's notice: who shared, how much, the terms, and the link
/// without its key — which the sender gives them directly.
fn share_mail(
    owner: &crate::db::AccountRecord,
    share: &ShareRecord,
    to: &str,
    link: &str,
    bytes: u64,
) -> Mail {
    let who = format!("{} {}", owner.first_name, owner.last_name);
    let mut terms = vec![format!("It works until {}", utc_day(share.expires_at))];
    if let Some(max) = share.max_downloads {
        terms.push(format!(
            "can be downloaded {max} time{}",
            if max == 1 { "" } else { "s" }
        ));
    }
    if share.password_hash.is_some() {
        terms.push(format!(
            "needs a password, which {} will give you",
            owner.first_name
        ));
    }
    Mail {
        to: to.to_owned(),
        subject: format!("{who} shared files with you"),
        body: format!(
            "{who} ({email}) shared encrypted files with you through Coffer ({size}).\n\n\
             {terms}.\n\n\
             To open them, use the full link {first} sends you directly: this address\n\
             {link}\n\
             followed by \"#\" and the key that opens the files. Coffer never has that key, \
             so it cannot be in this mail; if the link does not come, ask {first} for it.\n\n\
             If you did not expect this mail, you can ignore it.\n",
            email = owner.email,
            first = owner.first_name,
            size = human_bytes(bytes),
            terms = terms.join(", "),
        ),
        unsubscribe_url: None,
    }
}

/// Stop sharing: the link fails at once; the data and the recipients'
/// addresses are removed.
#[utoipa::path(
    delete,
    path = "/v1/shares/{id}",
    tag = "shares",
    params(("id" = String, Path, description = "The share id")),
    responses((status = 204, description = "Revoked and removed"), (status = 404, description = "not_found", body = api::ErrorBody))
)]
async fn revoke_share(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    owned_share(&state, &auth, &id).await?;
    if !state
        .db
        .revoke_share(auth.account_id.clone(), id.clone(), state.now())
        .await?
    {
        return Err(AppError::NotFound);
    }
    tracing::info!(account_id = auth.account_id, share_id = id, "share revoked");
    // The link already fails; if removing the data fails now, the job does it.
    if let Err(e) = remove_share_data(&state, &id, &auth.account_id).await {
        tracing::warn!(
            share_id = id,
            error = format!("{e:#}"),
            "removing a revoked share's data failed"
        );
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_share_data(state: &AppState, id: &str, account_id: &str) -> anyhow::Result<()> {
    for (part, _) in state.db.share_parts(id.to_owned()).await? {
        state
            .store
            .delete(account_id, STORE_KIND, &object_id(id, part))
            .await?;
    }
    state
        .db
        .mark_share_removed(id.to_owned(), state.now())
        .await
}

/// The background job: deletes the data and recipients of shares revoked,
/// expired, downloaded the most times allowed (once the last ticket ran
/// out) or abandoned while uploading, and forgets shares removed long ago.
/// Returns how many shares' data it removed.
///
/// # Errors
/// Database or storage failures (the rest is done on the next run).
pub async fn remove_due(state: &AppState) -> anyhow::Result<u64> {
    let now = state.now();
    let due = state
        .db
        .shares_due_for_removal(now, TICKET_TTL_MS, UPLOAD_TTL_MS)
        .await?;
    let mut removed = 0;
    for (id, account_id, parts) in due {
        for part in parts {
            state
                .store
                .delete(&account_id, STORE_KIND, &object_id(&id, part))
                .await?;
        }
        state.db.mark_share_removed(id.clone(), now).await?;
        tracing::info!(
            account_id,
            share_id = id,
            "share data and recipients removed"
        );
        removed += 1;
    }
    state
        .db
        .delete_shares_removed_before(now - REMOVED_KEPT_MS)
        .await?;
    Ok(removed)
}

async fn openable_share(state: &AppState, id: &str) -> Result<ShareRecord, AppError> {
    parse_id(id)?;
    let share = state
        .db
        .share(id.to_owned())
        .await?
        .filter(|s| s.state != "uploading")
        .ok_or(AppError::NotFound)?;
    match gone(&share, state.now()) {
        Some(err) => Err(err),
        None => Ok(share),
    }
}

/// What a recipient's page needs before opening a share.
#[utoipa::path(
    get,
    path = "/v1/s/{id}",
    tag = "shares",
    params(("id" = String, Path, description = "The share id")),
    responses((status = 200, description = "The share can be opened", body = api::ShareInfo), (status = 404, description = "not_found", body = api::ErrorBody), (status = 410, description = "share_gone (reason: revoked, expired or exhausted)", body = api::ErrorBody))
)]
async fn share_info(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let share = openable_share(&state, &id).await?;
    Ok(Json(json!({
        "id": share.id,
        "password_required": share.password_hash.is_some(),
        "expires_at": share.expires_at,
        "downloads_left": share.max_downloads.map(|m| m.saturating_sub(share.downloads)),
        "bytes": share.stored_bytes,
    })))
}

/// Open a share for one download (counted): checks the password, answers
/// a download ticket and the sizes of the parts.
#[utoipa::path(
    post,
    path = "/v1/s/{id}/open",
    tag = "shares",
    request_body = Option<api::ShareOpenRequest>,
    params(("id" = String, Path, description = "The share id")),
    responses((status = 200, description = "A download ticket", body = api::ShareOpened), (status = 400, description = "invalid_input (no password given)", body = api::ErrorBody), (status = 403, description = "wrong_password", body = api::ErrorBody), (status = 404, description = "not_found", body = api::ErrorBody), (status = 410, description = "share_gone", body = api::ErrorBody), (status = 429, description = "too_many_attempts (see Retry-After)", body = api::ErrorBody))
)]
async fn open_share(
    State(state): State<AppState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    let obj = json_object_or_empty(body)?;
    let share = openable_share(&state, &id).await?;
    if let Some(phc) = share.password_hash.clone() {
        let given = Zeroizing::new(maybe_str(&obj, "password")?.unwrap_or("").to_owned());
        if given.is_empty() {
            return Err(AppError::invalid("password", "this share needs a password"));
        }
        let ip = client.map(|Extension(ConnectInfo(addr))| addr.ip().to_string());
        // Guesses are counted per share (whoever makes them) and per address.
        let attempt = AttemptKeys::new(&format!("share:{id}"), ip.as_deref());
        let throttle = &state.sign_in_throttle;
        throttle
            .check(&attempt, state.now())
            .map_err(|retry_after| AppError::TooManyRequests {
                retry_after,
                what: "too many wrong passwords for this share",
            })?;
        let matches = tokio::task::spawn_blocking(move || password::verify_password(&given, &phc))
            .await
            .map_err(anyhow::Error::from)?;
        if !matches {
            throttle.record_failure(&attempt, state.now());
            return Err(AppError::WrongPassword);
        }
        throttle.record_success(&attempt);
    }
    let ticket = new_token();
    let now = state.now();
    let expires_at = now.saturating_add(TICKET_TTL_MS);
    match state
        .db
        .open_share(id.clone(), ticket.sha256, now, expires_at)
        .await?
    {
        OpenOutcome::Opened => {}
        OpenOutcome::NotFound => return Err(AppError::NotFound),
        OpenOutcome::Gone => {
            // Someone else took the last download meanwhile.
            let share = state
                .db
                .share(id.clone())
                .await?
                .ok_or(AppError::NotFound)?;
            return Err(gone(&share, now).unwrap_or(AppError::NotFound));
        }
    }
    let parts = state.db.share_parts(id.clone()).await?;
    tracing::info!(share_id = id, "share opened for a download");
    Ok(Json(json!({
        "ticket": ticket.token,
        "expires_at": expires_at,
        "manifest_bytes": parts.iter().find(|(p, _)| *p == MANIFEST_PART).map_or(0, |(_, s)| *s),
        "part_bytes": parts.iter().filter(|(p, _)| *p >= 0).map(|(_, s)| *s).collect::<Vec<_>>(),
    })))
}

async fn download(
    state: &AppState,
    id: &str,
    part: i64,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    parse_id(id)?;
    let ticket = headers
        .get(TICKET_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(AppError::ShareTicketInvalid)?;
    let opened = state
        .db
        .share_ticket(token_sha256(ticket), state.now())
        .await?
        .filter(|share_id| share_id == id)
        .ok_or(AppError::ShareTicketInvalid)?;
    let share = state.db.share(opened).await?.ok_or(AppError::NotFound)?;
    let bytes = state
        .store
        .read(&share.account_id, STORE_KIND, &object_id(id, part), None)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((
        [
            (CONTENT_TYPE, "application/octet-stream"),
            (CACHE_CONTROL, "no-store"),
        ],
        Body::from(bytes),
    )
        .into_response())
}

/// The share's encrypted manifest (needs the ticket from opening it).
#[utoipa::path(
    get,
    path = "/v1/s/{id}/manifest",
    tag = "shares",
    params(("id" = String, Path, description = "The share id"), ("Coffer-Share-Ticket" = String, Header, description = "The ticket from POST /v1/s/{id}/open")),
    responses((status = 200, description = "The encrypted manifest", body = Vec<u8>, content_type = "application/octet-stream"), (status = 403, description = "share_ticket_invalid", body = api::ErrorBody), (status = 404, description = "not_found", body = api::ErrorBody))
)]
async fn get_manifest(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    download(&state, &id, MANIFEST_PART, &headers).await
}

/// One encrypted part of the share (needs the ticket from opening it).
#[utoipa::path(
    get,
    path = "/v1/s/{id}/parts/{part}",
    tag = "shares",
    params(("id" = String, Path, description = "The share id"), ("part" = u64, Path, description = "0 to parts − 1"), ("Coffer-Share-Ticket" = String, Header, description = "The ticket from POST /v1/s/{id}/open")),
    responses((status = 200, description = "The encrypted part", body = Vec<u8>, content_type = "application/octet-stream"), (status = 403, description = "share_ticket_invalid", body = api::ErrorBody), (status = 404, description = "not_found", body = api::ErrorBody))
)]
async fn get_part(
    State(state): State<AppState>,
    Path((id, part)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let part: i64 = part
        .parse()
        .ok()
        .filter(|p| *p >= 0)
        .ok_or_else(|| AppError::invalid("part", "must be a whole number"))?;
    download(&state, &id, part, &headers).await
}
