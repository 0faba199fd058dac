//! Prometheus metrics, served as text at `GET /metrics`: requests by route
//! and status, request latency, bytes received and sent, live sessions and
//! background-job runs by job and outcome.
//!
//! Each [`crate::AppState`] has its own registry (no global recorder), so
//! several services in one process — the tests — count separately. Routes
//! are labelled by their template (`/v1/repo/{kind}/{id}`), never by the
//! path a caller sent, so the number of series stays bounded and no id or
//! token ends up in a label.

use anyhow::Context;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::AppState;

/// The service's metrics.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    bytes_received: IntCounter,
    bytes_sent: IntCounter,
    active_sessions: IntGauge,
    job_runs: IntCounterVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    ///
    /// # Errors
    /// Only if two metrics were given the same name (a programming error).
    pub fn new() -> anyhow::Result<Metrics> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "coffer_http_requests_total",
                "HTTP requests answered, by method, route template and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "coffer_http_request_duration_seconds",
                "Time from receiving a request to having its response, by method and route",
            )
            // About two per decade, fine enough for p50/p99 by interpolation.
            .buckets(vec![
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
                10.0, 30.0,
            ]),
            &["method", "route"],
        )?;
        let bytes_received = IntCounter::new(
            "coffer_http_received_bytes_total",
            "Bytes of request bodies received (uploads)",
        )?;
        let bytes_sent = IntCounter::new(
            "coffer_http_sent_bytes_total",
            "Bytes of response bodies sent (downloads)",
        )?;
        let active_sessions = IntGauge::new(
            "coffer_active_sessions",
            "Sessions that have not ended (read from the database when scraped)",
        )?;
        let job_runs = IntCounterVec::new(
            Opts::new(
                "coffer_job_runs_total",
                "Background job runs, by job and outcome (ok or error)",
            ),
            &["job", "outcome"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(bytes_received.clone()))?;
        registry.register(Box::new(bytes_sent.clone()))?;
        registry.register(Box::new(active_sessions.clone()))?;
        registry.register(Box::new(job_runs.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            bytes_received,
            bytes_sent,
            active_sessions,
            job_runs,
        })
    }

    /// Counts one background-job run.
    pub fn job_run(&self, job: &str, ok: bool) {
        self.job_runs
            .with_label_values(&[job, if ok { "ok" } else { "error" }])
            .inc();
    }

    fn observe_request(
        &self,
        method: &str,
        route: &str,
        status: u16,
        seconds: f64,
        up: u64,
        down: u64,
    ) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(seconds);
        self.bytes_received.inc_by(up);
        self.bytes_sent.inc_by(down);
    }

    /// Everything in the Prometheus text format, with the live-session
    /// gauge set to `active_sessions`.
    ///
    /// # Errors
    /// Only if encoding fails.
    pub fn render(&self, active_sessions: u64) -> anyhow::Result<String> {
        self.active_sessions
            .set(i64::try_from(active_sessions).unwrap_or(i64::MAX));
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .context("encoding metrics")
    }
}

/// The content type of [`Metrics::render`]'s text.
pub fn content_type() -> String {
    TextEncoder::new().format_type().to_owned()
}

/// Middleware on every route: counts the request, its time and bytes.
pub async fn track_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    // Methods outside the standard set share one label: a caller must not be
    // able to add series at will.
    let method = match request.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m.to_owned(),
        _ => "other".to_owned(),
    };
    let up = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| axum::body::HttpBody::size_hint(request.body()).exact())
        .unwrap_or(0);
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let down = axum::body::HttpBody::size_hint(response.body())
        .exact()
        .unwrap_or(0);
    state.metrics.observe_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
        up,
        down,
    );
    response
}
