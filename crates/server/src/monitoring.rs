//! What operators and orchestrators poll: `/healthz` (the process is up),
//! `/readyz` (the database and the object store answer) and Prometheus
//! `/metrics`; plus `/v1/health`, the version the agent reads.

use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::AppError;
use crate::openapi::schemas as api;
use crate::{metrics, AppState};

/// How long a readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Routes anyone may call (keep `/metrics` away from the public side of a
/// reverse proxy).
pub fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics_text))
}

#[utoipa::path(
    get,
    path = "/v1/health",
    tag = "service",
    responses((status = 200, description = "The service is up", body = api::Health))
)]
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Liveness: answers as long as the process serves requests.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    responses((status = 200, description = "The process is up", body = api::Health))
)]
async fn healthz() -> Json<Value> {
    health().await
}

async fn check(name: &str, work: impl std::future::Future<Output = anyhow::Result<()>>) -> bool {
    match tokio::time::timeout(CHECK_TIMEOUT, work).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(
                check = name,
                error = format!("{e:#}"),
                "readiness check failed"
            );
            false
        }
        Err(_) => {
            tracing::warn!(check = name, "readiness check timed out");
            false
        }
    }
}

/// Readiness: the database and the object store both answer.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "service",
    responses(
        (status = 200, description = "Ready to serve", body = api::Readiness),
        (status = 503, description = "A dependency does not answer", body = api::Readiness)
    )
)]
async fn readyz(State(state): State<AppState>) -> Response {
    let (database, objects) = tokio::join!(
        check("database", state.db.ping()),
        check("objects", state.store.check())
    );
    let word = |ok: bool| if ok { "ok" } else { "failed" };
    let ready = database && objects;
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "checks": { "database": word(database), "objects": word(objects) },
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"))
)]
async fn metrics_text(State(state): State<AppState>) -> Result<Response, AppError> {
    let active = state.db.active_session_count().await?;
    let text = state.metrics.render(active)?;
    Ok(([(CONTENT_TYPE, metrics::content_type())], text).into_response())
}
