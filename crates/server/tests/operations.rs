//! What operators poll: `/healthz`, `/readyz` and Prometheus `/metrics`.

#[path = "support/harness.rs"]
mod harness;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use coffer_server::jobs;
use harness::*;
use serde_json::json;

async fn metrics(h: &Harness) -> String {
    let (status, headers, bytes) = h
        .send(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "{:?}",
        headers[header::CONTENT_TYPE]
    );
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The value of one sample line, `name{labels} value`.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {series} in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn healthz_answers_while_the_process_is_up() {
    let h = Harness::new();
    let (status, body) = h.get_public("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_is_503_when_the_object_store_is_unreachable() {
    let h = Harness::new();
    let (status, body) = h.get_public("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({ "status": "ready", "checks": { "database": "ok", "objects": "ok" } })
    );
    let (status, body) = match &h.objects_url {
        // The store's folder replaced by a file: it can no longer be listed.
        None => {
            let objects = h.dir.path().join("objects");
            std::fs::remove_dir_all(&objects).unwrap();
            std::fs::write(&objects, b"not a folder").unwrap();
            h.get_public("/readyz").await
        }
        // An S3 bucket that is not there.
        Some(url) => {
            let (_, after_scheme) = url.split_once("s3://").unwrap();
            let end = after_scheme.find(['/', '?']).unwrap_or(after_scheme.len());
            let missing = format!("s3://no-such-bucket{}", &after_scheme[end..]);
            let broken = Harness::with(|c| c.objects_url = Some(missing));
            broken.get_public("/readyz").await
        }
    };
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        body,
        json!({ "status": "unavailable", "checks": { "database": "ok", "objects": "failed" } })
    );
    // Liveness does not depend on it.
    assert_eq!(h.get_public("/healthz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn metrics_count_requests_latency_bytes_sessions_and_jobs() {
    let h = Harness::new();
    let before = metrics(&h).await;
    assert_eq!(sample(&before, "coffer_active_sessions"), 0.0);
    assert_eq!(sample(&before, "coffer_http_received_bytes_total"), 0.0);

    let ann = h.account("ann@example.com").await;
    let object = vec![7u8; 5000];
    assert_eq!(
        h.put_object(&ann.access, "packs", &object).await,
        StatusCode::CREATED
    );
    let id = blake3::hash(&object).to_hex().to_string();
    let (status, _, bytes) = h
        .send(
            Request::get(format!("/v1/repo/packs/{id}"))
                .header(header::AUTHORIZATION, format!("Bearer {}", ann.access))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!((status, bytes.len()), (StatusCode::OK, 5000));
    let (status, _) = h.sign_in("ann@example.com", "not the password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    h.get_public("/no/such/path").await;
    jobs::run_due(&h.state).await.unwrap();

    let text = metrics(&h).await;
    for (series, value) in [
        (
            r#"coffer_http_requests_total{method="POST",route="/v1/accounts",status="201"}"#,
            1.0,
        ),
        (
            r#"coffer_http_requests_total{method="POST",route="/v1/sessions",status="200"}"#,
            1.0,
        ),
        (
            r#"coffer_http_requests_total{method="POST",route="/v1/sessions",status="401"}"#,
            1.0,
        ),
        (
            r#"coffer_http_requests_total{method="PUT",route="/v1/repo/{kind}/{id}",status="201"}"#,
            1.0,
        ),
        (
            r#"coffer_http_requests_total{method="GET",route="unmatched",status="404"}"#,
            1.0,
        ),
        (
            r#"coffer_http_request_duration_seconds_count{method="PUT",route="/v1/repo/{kind}/{id}"}"#,
            1.0,
        ),
        (
            r#"coffer_http_request_duration_seconds_bucket{method="PUT",route="/v1/repo/{kind}/{id}",le="+Inf"}"#,
            1.0,
        ),
        ("coffer_active_sessions", 1.0),
        (
            r#"coffer_job_runs_total{job="operational_alerts",outcome="ok"}"#,
            1.0,
        ),
        (
            r#"coffer_job_runs_total{job="account_purge",outcome="ok"}"#,
            1.0,
        ),
        (
            r#"coffer_job_runs_total{job="session_retention",outcome="ok"}"#,
            1.0,
        ),
    ] {
        assert_eq!(sample(&text, series), value, "{series}");
    }
    assert!(sample(&text, "coffer_http_received_bytes_total") >= 5000.0);
    assert!(sample(&text, "coffer_http_sent_bytes_total") >= 5000.0);
    // Labels are route templates: no object id, account id or token.
    assert!(!text.contains(&id));
    assert!(!text.contains(&ann.account_id));
    assert!(!text.contains(&ann.access));

    h.delete("/v1/sessions/current", &ann.access).await;
    assert_eq!(sample(&metrics(&h).await, "coffer_active_sessions"), 0.0);
}
