//! "Your data": everything the service holds about the person, as one JSON
//! download — profile, preferences, session records, devices, shares,
//! connected apps (never a share key or app token: the service has no share
//! key, and keeps only a token's hash, which is not exported) and the
//! metadata of stored objects (ids, sizes, dates; never their bytes, which
//! the person's own device can decrypt, and never password or key hashes).
//! Objects deleted but still held (`crate::held_deletions`) are listed too,
//! marked `held` with the time they are purged: the service still holds them.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{account_view, signed_in_account};
use crate::auth::Authenticated;
use crate::error::AppError;
use crate::openapi::schemas as api;
use crate::preferences::preferences_view;
use crate::sessions::session_view;
use crate::AppState;

/// Routes for a signed-in account.
pub fn export_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export))
}

/// Everything the service holds about the person, as a download.
#[utoipa::path(
    get,
    path = "/v1/account/export",
    tag = "privacy",
    responses((status = 200, description = "The export (attachment)", body = api::AccountExport))
)]
async fn export(State(state): State<AppState>, auth: Authenticated) -> Result<Response, AppError> {
    let account = signed_in_account(&state, &auth).await?;
    let now = state.now();
    let sessions = state.db.sessions_of(account.id.clone()).await?;
    let mut devices: BTreeMap<(String, String), Value> = BTreeMap::new();
    for s in &sessions {
        let entry = devices
            .entry((s.device_id.clone(), s.device_name.clone()))
            .or_insert_with(|| {
                json!({
                    "device_id": s.device_id,
                    "device_name": s.device_name,
                    "first_seen_at": s.started_at,
                    "last_seen_at": s.last_seen_at,
                    "sessions": 0,
                    "active_sessions": 0,
                })
            });
        entry["first_seen_at"] = json!(entry["first_seen_at"]
            .as_i64()
            .unwrap_or(i64::MAX)
            .min(s.started_at));
        entry["last_seen_at"] = json!(entry["last_seen_at"]
            .as_i64()
            .unwrap_or(0)
            .max(s.last_seen_at));
        entry["sessions"] = json!(entry["sessions"].as_u64().unwrap_or(0) + 1);
        if s.ended_at.is_none() {
            entry["active_sessions"] = json!(entry["active_sessions"].as_u64().unwrap_or(0) + 1);
        }
    }
    let mut objects: BTreeMap<&str, Vec<Value>> = [
        ("packs", vec![]),
        ("indexes", vec![]),
        ("snapshots", vec![]),
    ]
    .into();
    let stored = state.db.all_objects(account.id.clone()).await?;
    let held: BTreeMap<(String, String), i64> = state
        .db
        .held_objects_of(account.id.clone())
        .await?
        .into_iter()
        .map(|(kind, id, purge_at)| ((kind, id), purge_at))
        .collect();
    for (kind, o) in &stored {
        if let Some(list) = objects.get_mut(kind.as_str()) {
            let purge_at = held.get(&(kind.clone(), o.id.clone()));
            list.push(json!({
                "id": o.id,
                "size": o.size,
                "created_at": o.created_at,
                "held": purge_at.is_some(),
                "purge_at": purge_at,
            }));
        }
    }
    let body = json!({
        "format": "coffer-account-export/1",
        "exported_at": now,
        "account": account_view(&state, &account).await?,
        "preferences": preferences_view(&state, &account.id).await?,
        "two_factor": {
            "enabled": account.totp_enabled_at.is_some(),
            "enabled_at": account.totp_enabled_at,
            "recovery_codes_left": state.db.recovery_codes_left(account.id.clone()).await?,
        },
        "password_changed_at": account.password_changed_at,
        "sessions": sessions.iter().map(|s| session_view(s, Some(&auth.session_id))).collect::<Vec<_>>(),
        "devices": devices.into_values().collect::<Vec<_>>(),
        "shares": crate::shares::export_views(&state, &account.id).await?,
        "connected_apps": crate::apps::export_views(&state, &account.id).await?,
        "objects": objects,
    });
    let filename = format!("coffer-export-{}.json", crate::calendar::utc_day(now));
    let text = serde_json::to_string_pretty(&body).map_err(anyhow::Error::from)?;
    Ok((
        [
            (CONTENT_TYPE, "application/json".to_owned()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        text,
    )
        .into_response())
}
