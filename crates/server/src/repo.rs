//! Repository objects: packs, indexes and snapshots, content-addressed and
//! write-once, per account.

use std::ops::Range;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header::{ACCEPT_RANGES, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authenticated;
use crate::db::ObjectRecord;
use crate::error::AppError;
use crate::input::body_bytes;
use crate::openapi::schemas as api;
use crate::AppState;

/// The largest object a PUT accepts.
pub const MAX_OBJECT_BYTES: usize = 64 * 1024 * 1024;

/// Routes for a signed-in account.
pub fn repo_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_objects))
        .routes(routes!(get_object, put_object, delete_object))
        .layer(DefaultBodyLimit::max(MAX_OBJECT_BYTES))
}

fn parse_kind(kind: &str) -> Result<&'static str, AppError> {
    match kind {
        "packs" => Ok("packs"),
        "indexes" => Ok("indexes"),
        "snapshots" => Ok("snapshots"),
        _ => Err(AppError::invalid(
            "kind",
            "must be packs, indexes or snapshots",
        )),
    }
}

fn parse_id(id: &str) -> Result<(), AppError> {
    let valid = id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if valid {
        Ok(())
    } else {
        Err(AppError::invalid(
            "id",
            "must be 64 lowercase hex characters (BLAKE3)",
        ))
    }
}

/// Store an object (write-once, content-addressed).
#[utoipa::path(
    put,
    path = "/v1/repo/{kind}/{id}",
    tag = "repository",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    params(("kind" = String, Path, description = "packs, indexes or snapshots"), ("id" = String, Path, description = "Lowercase hex BLAKE3 of the bytes")),
    responses((status = 201, description = "Stored"), (status = 200, description = "Already stored"), (status = 400, description = "hash_mismatch or invalid_input", body = api::ErrorBody), (status = 413, description = "quota_exceeded or payload_too_large", body = api::ErrorBody))
)]
async fn put_object(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((kind, id)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    let kind = parse_kind(&kind)?;
    parse_id(&id)?;
    let bytes = body_bytes(body)?;
    if !hash_matches(&bytes, &id).await? {
        return Err(AppError::HashMismatch);
    }
    let account = auth.account_id;
    // Serialises writes per account so the quota check and the insert see
    // the same state.
    let _guard = state.account_write_lock(&account).await?;
    if state
        .db
        .object_size(account.clone(), kind, id.clone())
        .await?
        .is_some()
    {
        return Ok(StatusCode::OK);
    }
    let quota = state
        .db
        .account_by_id(account.clone())
        .await?
        .ok_or(AppError::Unauthorized)?
        .quota_bytes;
    let used = state.db.used_bytes(account.clone()).await?;
    let size = bytes.len() as u64;
    if used.saturating_add(size) > quota {
        return Err(AppError::QuotaExceeded);
    }
    state.store.write(&account, kind, &id, bytes).await?;
    let record = ObjectRecord {
        id,
        size,
        created_at: state.now(),
    };
    state.db.insert_object(account, kind, record).await?;
    Ok(StatusCode::CREATED)
}

// Hashing up to 64 MiB takes long enough to stall other requests on this
// worker, so large bodies are hashed on a blocking thread.
async fn hash_matches(bytes: &Bytes, id: &str) -> Result<bool, AppError> {
    const INLINE_LIMIT: usize = 256 * 1024;
    let hex = if bytes.len() <= INLINE_LIMIT {
        blake3::hash(bytes).to_hex()
    } else {
        let bytes = bytes.clone();
        tokio::task::spawn_blocking(move || blake3::hash(&bytes).to_hex())
            .await
            .map_err(anyhow::Error::from)?
    };
    Ok(hex.as_str() == id)
}

/// Parses `bytes=a-b`, `bytes=a-` or `bytes=-n` against an object of `size`
/// bytes, clamping the end to the object.
fn parse_range(header: &str, size: u64) -> Result<Range<u64>, AppError> {
    let spec = header
        .trim()
        .strip_prefix("bytes=")
        .ok_or(AppError::InvalidRange)?;
    let (start, end) = spec.split_once('-').ok_or(AppError::InvalidRange)?;
    let number = |s: &str| s.trim().parse::<u64>().map_err(|_| AppError::InvalidRange);
    let range = if start.trim().is_empty() {
        let suffix = number(end)?;
        if suffix == 0 {
            return Err(AppError::InvalidRange);
        }
        size.saturating_sub(suffix)..size
    } else {
        let start = number(start)?;
        let end = if end.trim().is_empty() {
            size
        } else {
            number(end)?.saturating_add(1).min(size)
        };
        start..end
    };
    if range.start >= range.end || range.start >= size {
        return Err(AppError::InvalidRange);
    }
    Ok(range)
}

/// An object's bytes, or one range of them.
#[utoipa::path(
    get,
    path = "/v1/repo/{kind}/{id}",
    tag = "repository",
    params(("kind" = String, Path, description = "packs, indexes or snapshots"), ("id" = String, Path, description = "Lowercase hex BLAKE3 of the bytes"), ("Range" = Option<String>, Header, description = "bytes=a-b, bytes=a- or bytes=-n")),
    responses((status = 200, description = "The bytes", body = Vec<u8>, content_type = "application/octet-stream"), (status = 206, description = "The range", body = Vec<u8>, content_type = "application/octet-stream"), (status = 404, description = "not_found", body = api::ErrorBody), (status = 416, description = "invalid_range", body = api::ErrorBody))
)]
async fn get_object(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((kind, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let kind = parse_kind(&kind)?;
    parse_id(&id)?;
    let account = auth.account_id;
    let size = state
        .db
        .object_size(account.clone(), kind, id.clone())
        .await?
        .ok_or(AppError::NotFound)?;
    let range = match headers.get(RANGE) {
        Some(value) => Some(parse_range(
            value.to_str().map_err(|_| AppError::InvalidRange)?,
            size,
        )?),
        None => None,
    };
    let bytes = state
        .store
        .read(&account, kind, &id, range.clone())
        .await?
        .ok_or_else(|| {
            // Recorded but missing: deleted concurrently, or lost.
            tracing::warn!(
                account_id = account,
                kind,
                id,
                "object recorded but not in the store"
            );
            AppError::NotFound
        })?;
    let mut response = (
        [
            (CONTENT_TYPE, "application/octet-stream"),
            (ACCEPT_RANGES, "bytes"),
        ],
        Body::from(bytes),
    )
        .into_response();
    if let Some(range) = range {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let content_range = format!("bytes {}-{}/{size}", range.start, range.end - 1);
        response.headers_mut().insert(
            CONTENT_RANGE,
            content_range.parse().map_err(anyhow::Error::from)?,
        );
    }
    Ok(response)
}

/// An account's objects of one kind, oldest first.
#[utoipa::path(
    get,
    path = "/v1/repo/{kind}",
    tag = "repository",
    params(("kind" = String, Path, description = "packs, indexes or snapshots")),
    responses((status = 200, description = "Objects", body = Vec<api::ObjectView>))
)]
async fn list_objects(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(kind): Path<String>,
) -> Result<Json<Vec<Value>>, AppError> {
    let kind = parse_kind(&kind)?;
    let objects = state.db.list_objects(auth.account_id, kind).await?;
    Ok(Json(
        objects
            .into_iter()
            .map(|o| json!({ "id": o.id, "size": o.size, "created_at": o.created_at }))
            .collect(),
    ))
}

/// Delete an object: it is held for 7 days, then purged (see
/// `crate::held_deletions`). Needs a deletion grant.
#[utoipa::path(
    delete,
    path = "/v1/repo/{kind}/{id}",
    tag = "repository",
    params(("kind" = String, Path, description = "packs, indexes or snapshots"), ("id" = String, Path, description = "Lowercase hex BLAKE3 of the bytes"), ("Coffer-Confirmation" = String, Header, description = "A deletion grant from POST /v1/auth/confirm")),
    responses((status = 204, description = "Deleted (held for 7 days, then purged)"), (status = 403, description = "confirmation_required", body = api::ErrorBody), (status = 404, description = "not_found", body = api::ErrorBody))
)]
async fn delete_object(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((kind, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    let kind = parse_kind(&kind)?;
    parse_id(&id)?;
    crate::held_deletions::hold_object(&state, &auth, &headers, kind, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_clamp() {
        assert_eq!(parse_range("bytes=0-9", 100).unwrap(), 0..10);
        assert_eq!(parse_range("bytes=90-200", 100).unwrap(), 90..100);
        assert_eq!(parse_range("bytes=95-", 100).unwrap(), 95..100);
        assert_eq!(parse_range("bytes=-10", 100).unwrap(), 90..100);
        assert_eq!(parse_range("bytes=-500", 100).unwrap(), 0..100);
        for bad in [
            "bytes=100-",
            "bytes=5-4",
            "bytes=-0",
            "items=0-1",
            "bytes=a-b",
            "bytes=0-1,3-4",
        ] {
            assert!(
                matches!(parse_range(bad, 100), Err(AppError::InvalidRange)),
                "{bad}"
            );
        }
        assert!(parse_range("bytes=0-0", 0).is_err());
    }
}
