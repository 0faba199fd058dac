//! Held deletions: history a stolen device cannot erase.
//!
//! `DELETE /v1/repo/{kind}/{id}` needs a deletion grant from
//! [`crate::confirmation`]. Even then the object is not removed: it is
//! *held* — hidden from listings and reads, no longer counted against the
//! quota — for [`HOLD_MS`] (7 days), then purged by a background job.
//! Everything one grant deletes is held in one *batch*; the person is mailed
//! once per batch (when its deletions have settled for
//! [`MAIL_SETTLE_MS`]) and can put a batch back with
//! `POST /v1/deletions/{id}/cancel` until it is purged. Storing a held object
//! again (same id, so the same bytes) simply takes it out of its hold, which
//! is what a refused prune and a re-uploaded pack do.
//!
//! Each purge writes one log line per batch and run,
//! `held deletions purged account_id=… batch_id=… objects=N bytes=M`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::new_id;
use crate::alerts::human_bytes;
use crate::auth::Authenticated;
use crate::calendar::utc_day;
use crate::confirmation::require_grant;
use crate::db::{DeletionBatch, HoldOutcome, HoldRequest};
use crate::error::AppError;
use crate::mail::Mail;
use crate::openapi::schemas as api;
use crate::AppState;

/// How long a deleted object is held before it is purged: 7 days.
pub const HOLD_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// How long a batch must see no new deletion before the person is mailed
/// about it, so one mail covers a whole cleanup.
pub const MAIL_SETTLE_MS: i64 = 60 * 1000;
/// Held objects purged per database round trip.
const PURGE_CHUNK: u32 = 500;

/// Routes for a signed-in session.
pub fn deletion_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_deletions))
        .routes(routes!(cancel_deletion))
}

/// What `DELETE /v1/repo/{kind}/{id}` does: checks the request's deletion
/// grant and holds the object in the grant's batch.
///
/// # Errors
/// `confirmation_required` without a valid grant for this session;
/// `not_found` when the account has no such object (or it is already held).
pub async fn hold_object(
    state: &AppState,
    auth: &Authenticated,
    headers: &HeaderMap,
    kind: &'static str,
    id: String,
) -> Result<(), AppError> {
    let confirmed = require_grant(state, auth, headers).await?;
    let (device_id, device_name) = state
        .db
        .session(auth.session_id.clone())
        .await?
        .map(|s| (s.device_id, s.device_name))
        .unwrap_or_default();
    let _guard = state.account_write_lock(&auth.account_id).await?;
    let now = state.now();
    let outcome = state
        .db
        .hold_object(HoldRequest {
            account_id: auth.account_id.clone(),
            kind,
            id,
            grant_sha256: confirmed.sha256,
            grant_created_at: confirmed.confirmed_at,
            session_id: auth.session_id.clone(),
            device_id,
            device_name,
            new_batch_id: new_id(),
            now,
            purge_after: now.saturating_add(HOLD_MS),
        })
        .await?;
    match outcome {
        HoldOutcome::NotFound => Err(AppError::NotFound),
        HoldOutcome::Held { .. } => Ok(()),
    }
}

fn batch_view(batch: &DeletionBatch) -> Value {
    json!({
        "id": batch.id,
        "confirmed_at": batch.confirmed_at,
        "deleted_at": batch.first_held_at,
        "device_id": batch.device_id,
        "device_name": batch.device_name,
        "session_id": batch.session_id,
        "snapshots": batch.snapshots,
        "indexes": batch.indexes,
        "packs": batch.packs,
        "objects": batch.objects(),
        "bytes": batch.bytes,
        "purge_at": batch.purge_at,
        "mailed": batch.mailed_at.is_some(),
    })
}

/// Deletions held and not yet purged, newest first.
#[utoipa::path(
    get,
    path = "/v1/deletions",
    tag = "repository",
    responses((status = 200, description = "Held deletions, one entry per confirmation batch", body = Vec<api::HeldDeletion>))
)]
async fn list_deletions(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Vec<Value>>, AppError> {
    let batches = state.db.pending_deletions(auth.account_id).await?;
    Ok(Json(batches.iter().map(batch_view).collect()))
}

/// Put a held deletion back: every object it still holds is listed and
/// readable again. Undoing is harmless, so the session suffices.
#[utoipa::path(
    post,
    path = "/v1/deletions/{id}/cancel",
    tag = "repository",
    params(("id" = String, Path, description = "The batch id from GET /v1/deletions")),
    responses((status = 200, description = "Put back", body = api::DeletionCancelled), (status = 404, description = "not_found: no such batch holding anything", body = api::ErrorBody))
)]
async fn cancel_deletion(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let _guard = state.account_write_lock(&auth.account_id).await?;
    let restored = state
        .db
        .cancel_deletion_batch(auth.account_id.clone(), id.clone(), state.now())
        .await?
        .ok_or(AppError::NotFound)?;
    tracing::info!(
        account_id = auth.account_id,
        batch_id = id,
        objects = restored,
        "held deletion cancelled"
    );
    Ok(Json(json!({ "id": id, "restored": restored })))
}

/// Purges held objects whose hold is over; returns how many.
///
/// # Errors
/// Database or storage failures; the next run carries on.
pub async fn purge_due(state: &AppState) -> anyhow::Result<u64> {
    let now = state.now();
    // (account, batch) → (objects, bytes), for one log line per batch.
    let mut purged: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    let result = async {
        loop {
            let due = state.db.held_objects_due(now, PURGE_CHUNK).await?;
            let mut progress = false;
            for object in &due {
                let _guard = state.account_write_lock(&object.account_id).await?;
                // Re-checked under the lock: it may have been put back or
                // stored again since it was listed.
                if !state
                    .db
                    .forget_held_object(
                        object.account_id.clone(),
                        object.kind.clone(),
                        object.id.clone(),
                        now,
                    )
                    .await?
                {
                    continue;
                }
                // The row goes first, as with any delete: a failure leaves an
                // unlisted file, never a listed object without bytes.
                state
                    .store
                    .delete(&object.account_id, &object.kind, &object.id)
                    .await?;
                progress = true;
                let entry = purged
                    .entry((object.account_id.clone(), object.batch_id.clone()))
                    .or_default();
                entry.0 += 1;
                entry.1 += object.size;
            }
            if (due.len() as u32) < PURGE_CHUNK || !progress {
                return anyhow::Ok(());
            }
        }
    }
    .await;
    for ((account_id, batch_id), (objects, bytes)) in &purged {
        tracing::info!(
            account_id,
            batch_id,
            objects,
            bytes,
            "held deletions purged"
        );
    }
    result?;
    Ok(purged.values().map(|(objects, _)| objects).sum())
}

/// Mails the person about each batch whose deletions have settled and that
/// nobody was told about; forgets finished batches and expired grants.
/// Returns how many mails were sent.
///
/// # Errors
/// Database failures. A mail that cannot be sent is logged and tried again
/// on the next run.
pub async fn mail_settled(state: &AppState) -> anyhow::Result<u64> {
    let now = state.now();
    let settled_at = now - MAIL_SETTLE_MS;
    let mut sent = 0;
    for (batch, email) in state.db.deletion_batches_to_mail(settled_at).await? {
        match state.mailer.send(batch_mail(&batch, email)).await {
            Ok(()) => {
                state
                    .db
                    .mark_deletion_batch_mailed(batch.id.clone(), now)
                    .await?;
                sent += 1;
                tracing::info!(
                    account_id = batch.account_id,
                    batch_id = batch.id,
                    "held deletion mailed"
                );
            }
            Err(e) => tracing::warn!(
                account_id = batch.account_id,
                batch_id = batch.id,
                error = format!("{e:#}"),
                "held deletion mail not sent"
            ),
        }
    }
    state.db.delete_finished_deletion_batches(settled_at).await?;
    state.db.delete_expired_deletion_grants(now).await?;
    Ok(sent)
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The mail about one batch: what went, from which device, until when it
/// can be undone, and what to do if it was not the person.
fn batch_mail(batch: &DeletionBatch, to: String) -> Mail {
    let device = if batch.device_name.trim().is_empty() {
        "a device without a name".to_owned()
    } else {
        format!("the device \"{}\"", batch.device_name)
    };
    let mut what = Vec::new();
    if batch.snapshots > 0 {
        what.push(format!(
            "  - {} (snapshots)",
            plural(batch.snapshots, "backup", "backups")
        ));
    }
    let pieces = batch.indexes + batch.packs;
    if pieces > 0 {
        what.push(format!(
            "  - {} of stored data no backup needed any more",
            plural(pieces, "piece", "pieces")
        ));
    }
    Mail {
        to,
        subject: "Backups were deleted from your Coffer account".to_owned(),
        body: format!(
            "Hello,\n\nOn {day}, after your password was confirmed, {device} deleted from your \
             Coffer account:\n\n{what}\n\nIn all {size}. They are held for 7 days and will be \
             removed for good on {purge}. Until then they can be put back.\n\nIf this was not \
             you: open the Coffer app, go to Settings > Privacy > Pending deletions and choose \
             Put back, then change your password (Settings > Account) and end the sessions you do \
             not recognise (Settings > Devices & sessions).\n\n-- Coffer\n",
            day = utc_day(batch.first_held_at),
            what = what.join("\n"),
            size = human_bytes(batch.bytes),
            purge = utc_day(batch.purge_at),
        ),
        unsubscribe_url: None,
    }
}
