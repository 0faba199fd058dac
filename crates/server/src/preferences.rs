//! Communication preferences: which kinds of non-essential mail a person
//! gets, and one-click unsubscribe links (RFC 8058) that work without
//! signing in.
//!
//! An unsubscribe token is `<account id>.<category>.<HMAC-SHA256>` under a
//! key derived from the escrow key: it cannot be forged for another account
//! or category, and it needs no database row.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::signed_in_account;
use crate::auth::Authenticated;
use crate::error::AppError;
use crate::input::{json_object, query_param};
use crate::mail::Mail;
use crate::openapi::schemas as api;
use crate::pages::{escape, page};
use crate::AppState;

/// A kind of mail a person can opt in to or out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Category {
    /// The stable name used in the API and in links.
    pub name: &'static str,
    /// How the person reads it.
    pub label: &'static str,
    /// Whether it is on until the person says otherwise.
    pub default_on: bool,
}

/// Every category. Opt-in ones are off until the person turns them on;
/// operational alerts (no backup for days, storage almost full) start on.
pub const CATEGORIES: [Category; 5] = [
    Category {
        name: "product_announcements",
        label: "product announcements",
        default_on: false,
    },
    Category {
        name: "software_updates",
        label: "software updates",
        default_on: false,
    },
    Category {
        name: "surveys_research",
        label: "surveys and research",
        default_on: false,
    },
    Category {
        name: "newsletter",
        label: "the newsletter",
        default_on: false,
    },
    Category {
        name: "operational_alerts",
        label: "operational alerts",
        default_on: true,
    },
];

/// The category called `name`.
pub fn category(name: &str) -> Option<Category> {
    CATEGORIES.iter().copied().find(|c| c.name == name)
}

/// Routes anyone may call.
pub fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(unsubscribe_page, unsubscribe))
}

/// Routes for a signed-in account.
pub fn account_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_preferences, put_preferences))
}

fn mac(key: &[u8; 32], account_id: &str, category: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"unsubscribe\0");
    mac.update(account_id.as_bytes());
    mac.update(b"\0");
    mac.update(category.as_bytes());
    mac
}

/// The token of an unsubscribe link.
pub fn unsubscribe_token(key: &[u8; 32], account_id: &str, category: &str) -> String {
    let tag = mac(key, account_id, category).finalize().into_bytes();
    format!(
        "{account_id}.{category}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag)
    )
}

/// The account and category of a genuine unsubscribe token.
pub fn verify_unsubscribe_token(key: &[u8; 32], token: &str) -> Option<(String, Category)> {
    let mut parts = token.trim().splitn(3, '.');
    let (account_id, name, tag) = (parts.next()?, parts.next()?, parts.next()?);
    let category = category(name)?;
    let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(tag)
        .ok()?;
    mac(key, account_id, name).verify_slice(&tag).ok()?;
    Some((account_id.to_owned(), category))
}

/// The full unsubscribe URL for one account and category.
pub fn unsubscribe_url(state: &AppState, account_id: &str, category: &str) -> String {
    state.link(&format!(
        "/v1/unsubscribe?token={}",
        unsubscribe_token(state.link_key(), account_id, category)
    ))
}

/// A mail of `category` to one account: the body gets a footer saying why
/// it came with a one-click unsubscribe link, also sent as the
/// `List-Unsubscribe` headers.
pub fn category_mail(
    state: &AppState,
    account_id: &str,
    to: &str,
    category: Category,
    subject: &str,
    body: &str,
) -> Mail {
    let url = unsubscribe_url(state, account_id, category.name);
    Mail {
        to: to.to_owned(),
        subject: subject.trim().to_owned(),
        body: format!(
            "{}\n\n--\nYou get this mail because you chose to receive {} from Coffer.\n\
             Unsubscribe with one click: {url}\n",
            body.trim_end(),
            category.label
        ),
        unsubscribe_url: Some(url),
    }
}

/// The preferences as `GET /v1/account/preferences` shows them.
///
/// # Errors
/// Database failures.
pub async fn preferences_view(state: &AppState, account_id: &str) -> Result<Value, AppError> {
    let rows = state.db.preferences(account_id.to_owned()).await?;
    let mut view = Map::new();
    for category in CATEGORIES {
        let enabled = rows
            .iter()
            .find(|r| r.category == category.name)
            .map_or(category.default_on, |r| r.enabled);
        view.insert(category.name.to_owned(), Value::Bool(enabled));
    }
    Ok(Value::Object(view))
}

/// Communication preferences.
#[utoipa::path(
    get,
    path = "/v1/account/preferences",
    tag = "privacy",
    responses((status = 200, description = "All categories", body = api::Preferences))
)]
async fn get_preferences(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, AppError> {
    let account = signed_in_account(&state, &auth).await?;
    Ok(Json(preferences_view(&state, &account.id).await?))
}

/// Change any subset of the preferences.
#[utoipa::path(
    put,
    path = "/v1/account/preferences",
    tag = "privacy",
    request_body = api::Preferences,
    responses((status = 200, description = "All categories", body = api::Preferences), (status = 400, description = "invalid_input", body = api::ErrorBody))
)]
async fn put_preferences(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    let obj = json_object(body)?;
    let mut changes = Vec::new();
    for (name, value) in &obj {
        let category = category(name).ok_or_else(|| {
            AppError::invalid(
                name,
                "is not a category (product_announcements, software_updates, \
                 surveys_research, newsletter, operational_alerts)",
            )
        })?;
        let Value::Bool(enabled) = value else {
            return Err(AppError::invalid(name, "must be true or false"));
        };
        changes.push((category.name, *enabled));
    }
    let account = signed_in_account(&state, &auth).await?;
    state
        .db
        .set_preferences(account.id.clone(), changes, state.now())
        .await?;
    Ok(Json(preferences_view(&state, &account.id).await?))
}

fn invalid_link() -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Link not valid",
        "<p>This unsubscribe link is not valid. You can change which mail you get in the \
         Coffer app under Settings → Communication.</p>",
    )
}

/// Confirmation page of a one-click unsubscribe link.
#[utoipa::path(
    get,
    path = "/v1/unsubscribe",
    tag = "privacy",
    params(("token" = String, Query, description = "The token from the unsubscribe link")),
    responses((status = 200, description = "A page with the unsubscribe button", body = String, content_type = "text/html"), (status = 400, description = "Invalid link", body = String, content_type = "text/html"))
)]
async fn unsubscribe_page(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let token = query_param(query.as_deref(), "token").unwrap_or_default();
    let Some((_, category)) = verify_unsubscribe_token(state.link_key(), &token) else {
        return invalid_link();
    };
    page(
        StatusCode::OK,
        "Unsubscribe",
        &format!(
            "<p>Stop getting {label} from Coffer?</p>\
             <form method=\"post\" action=\"/v1/unsubscribe?token={token}\">\
             <button type=\"submit\">Unsubscribe</button></form>",
            label = escape(category.label),
            token = escape(&token)
        ),
    )
}

/// The one-click unsubscribe (RFC 8058): the body, if any, is
/// `List-Unsubscribe=One-Click` and is not needed.
#[utoipa::path(
    post,
    path = "/v1/unsubscribe",
    tag = "privacy",
    params(("token" = String, Query, description = "The token from the unsubscribe link")),
    responses((status = 200, description = "Unsubscribed", body = String, content_type = "text/html"), (status = 400, description = "Invalid link", body = String, content_type = "text/html"))
)]
async fn unsubscribe(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let token = query_param(query.as_deref(), "token").unwrap_or_default();
    let Some((account_id, category)) = verify_unsubscribe_token(state.link_key(), &token) else {
        return invalid_link();
    };
    let done = async {
        // A purged account has nothing to unsubscribe from.
        if state.db.account_by_id(account_id.clone()).await?.is_some() {
            state
                .db
                .set_preferences(
                    account_id.clone(),
                    vec![(category.name, false)],
                    state.now(),
                )
                .await?;
            tracing::info!(account_id, category = category.name, "unsubscribed by link");
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    match done {
        Ok(()) => page(
            StatusCode::OK,
            "Unsubscribed",
            &format!(
                "<p>You will no longer get {} from Coffer. You can turn it back on in the app \
                 under Settings → Communication.</p>",
                escape(category.label)
            ),
        ),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "unsubscribing failed");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "<p>Please try again later.</p>",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_unchanged() {
        let key = [3u8; 32];
        let token = unsubscribe_token(&key, "acct1", "newsletter");
        let (account, category) = verify_unsubscribe_token(&key, &token).unwrap();
        assert_eq!(account, "acct1");
        assert_eq!(category.name, "newsletter");
        // Another account, another category, another key: refused.
        let tag = token.rsplit('.').next().unwrap();
        assert!(verify_unsubscribe_token(&key, &format!("acct2.newsletter.{tag}")).is_none());
        assert!(verify_unsubscribe_token(&key, &format!("acct1.software_updates.{tag}")).is_none());
        assert!(verify_unsubscribe_token(&[4u8; 32], &token).is_none());
        assert!(verify_unsubscribe_token(&key, "acct1.newsletter").is_none());
        assert!(verify_unsubscribe_token(&key, "").is_none());
        // An unknown category is refused even with a valid-looking tag.
        let forged = unsubscribe_token(&key, "acct1", "everything");
        assert!(verify_unsubscribe_token(&key, &forged).is_none());
    }
}
