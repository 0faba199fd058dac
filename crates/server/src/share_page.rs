//! The page a share's recipient opens, `GET /s/{id}`: HTML, a script and a
//! style sheet embedded in the binary (no CDN), served under a strict
//! Content-Security-Policy. The script reads the share key from the link's
//! fragment — which the browser never sends — and decrypts in the browser
//! (see `crate::shares` and `docs/format.md`, *Shares*). A share that cannot
//! be opened (unknown, revoked, expired, downloaded the most times allowed)
//! gets a plain page saying so, without any script.

use axum::extract::{Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::AppError;
use crate::pages::page;
use crate::shares::{gone, valid_id};
use crate::AppState;

const PAGE: &str = include_str!("share_page/page.html");
const SCRIPT: &str = include_str!("share_page/share-page.js");
const STYLE: &str = include_str!("share_page/share-page.css");

/// Only this origin's script, style and API; no inline code, no frames, no
/// forms posting anywhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; \
     base-uri 'none'";

/// The page and its two assets (public).
pub fn page_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(share_page))
        .routes(routes!(share_script))
        .routes(routes!(share_style))
}

fn harden(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The download page of a share.
#[utoipa::path(
    get,
    path = "/s/{id}",
    tag = "shares",
    params(("id" = String, Path, description = "The share id")),
    responses((status = 200, description = "The page, which decrypts in the browser", body = String, content_type = "text/html"), (status = 400, description = "A damaged link (page)", body = String, content_type = "text/html"), (status = 404, description = "No such share (page)", body = String, content_type = "text/html"), (status = 410, description = "Revoked, expired or download limit reached (page)", body = String, content_type = "text/html"))
)]
async fn share_page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    if !valid_id(&id) {
        return harden(page(
            StatusCode::BAD_REQUEST,
            "This link is damaged",
            "<p>The address does not name a share. Copy the whole link from the mail.</p>",
        ));
    }
    let share = match state.db.share(id.clone()).await {
        Ok(share) => share.filter(|s| s.state != "uploading"),
        Err(e) => return harden(AppError::from(e).into_response()),
    };
    let Some(share) = share else {
        return harden(page(
            StatusCode::NOT_FOUND,
            "Nothing to download here",
            "<p>This link is not valid, or the share no longer exists.</p>",
        ));
    };
    if let Some(AppError::ShareGone { reason, .. }) = gone(&share, state.now()) {
        let (title, text) = match reason {
            "revoked" => (
                "This share was revoked",
                "The person who shared these files has stopped sharing them. Ask them to share \
                 the files again.",
            ),
            "expired" => (
                "This share has expired",
                "The files are no longer available from this link. Ask the person who shared \
                 them for a new link.",
            ),
            _ => (
                "This share's download limit was reached",
                "The files were downloaded as many times as the person who shared them allowed. \
                 Ask them for a new link.",
            ),
        };
        return harden(page(StatusCode::GONE, title, &format!("<p>{text}</p>")));
    }
    // `id` is 32 hex characters: nothing to escape.
    harden(Html(PAGE.replace("{{ID}}", &id)).into_response())
}

/// The page's script.
#[utoipa::path(
    get,
    path = "/assets/share-page.js",
    tag = "shares",
    responses((status = 200, description = "JavaScript", body = String, content_type = "text/javascript"))
)]
async fn share_script() -> Response {
    harden(([(CONTENT_TYPE, "text/javascript; charset=utf-8")], SCRIPT).into_response())
}

/// The page's style sheet.
#[utoipa::path(
    get,
    path = "/assets/share-page.css",
    tag = "shares",
    responses((status = 200, description = "CSS", body = String, content_type = "text/css"))
)]
async fn share_style() -> Response {
    harden(([(CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response())
}
