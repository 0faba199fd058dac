//! A service behind `tower::ServiceExt::oneshot` with a controlled clock and
//! mail going to the outbox folder, shared by the integration tests.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use base64::Engine;
use coffer_server::{router, AppState, Config, ManualClock};
use serde_json::{json, Value};
use tower::ServiceExt;

pub const PASSWORD: &str = "correct horse battery";
pub const DATA_KEY: [u8; 32] = *b"0123456789abcdef0123456789ABCDEF";
/// Monday 2025-01-06 12:00 UTC.
pub const MONDAY_NOON: i64 = 1_736_164_800_000;

pub struct Harness {
    pub app: Router,
    pub state: AppState,
    pub clock: ManualClock,
    pub dir: tempfile::TempDir,
    /// The S3 store this service uses, in the scaled run (`None`: the
    /// folder `dir/objects`).
    pub objects_url: Option<String>,
}

/// A signed-in session's tokens.
#[derive(Debug, Clone)]
pub struct Session {
    pub account_id: String,
    pub access: String,
    pub refresh: String,
    pub session_id: String,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with(|_| {})
    }

    pub fn with(adjust: impl FnOnce(&mut Config)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(MONDAY_NOON);
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
        config.public_url = Some("https://coffer.test".into());
        config.clock = Arc::new(clock.clone());
        // The scaled run (PostgreSQL + S3) when the environment names one.
        coffer_server::testing::isolate_from_env(&mut config);
        adjust(&mut config);
        let state = AppState::open(&config).unwrap();
        Harness {
            app: router(state.clone()),
            state,
            clock,
            dir,
            objects_url: config.objects_url.clone(),
        }
    }

    pub async fn send(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
        oneshot(&self.app, request).await
    }

    pub async fn json(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, _, value) = self.json_with_headers(method, uri, token, body).await;
        (status, value)
    }

    pub async fn json_with_headers(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        let (status, headers, bytes) = self.send(json_request(method, uri, token, body)).await;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, headers, value)
    }

    /// `GET uri` as the holder of `token`.
    pub async fn get(&self, uri: &str, token: &str) -> (StatusCode, Value) {
        self.json(Method::GET, uri, Some(token), None).await
    }

    /// `POST uri` with a JSON body as the holder of `token`.
    pub async fn post(&self, uri: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.json(Method::POST, uri, Some(token), Some(body)).await
    }

    /// `POST uri` without a body as the holder of `token`.
    pub async fn post_empty(&self, uri: &str, token: &str) -> (StatusCode, Value) {
        self.json(Method::POST, uri, Some(token), None).await
    }

    /// `PATCH uri` with a JSON body as the holder of `token`.
    pub async fn patch(&self, uri: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.json(Method::PATCH, uri, Some(token), Some(body)).await
    }

    /// `PUT uri` with a JSON body as the holder of `token`.
    pub async fn put_json(&self, uri: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.json(Method::PUT, uri, Some(token), Some(body)).await
    }

    /// `DELETE uri` without a body as the holder of `token`.
    pub async fn delete(&self, uri: &str, token: &str) -> (StatusCode, Value) {
        self.json(Method::DELETE, uri, Some(token), None).await
    }

    /// `DELETE uri` with a JSON body as the holder of `token`.
    pub async fn delete_with(&self, uri: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.json(Method::DELETE, uri, Some(token), Some(body))
            .await
    }

    /// `GET uri` without a token.
    pub async fn get_public(&self, uri: &str) -> (StatusCode, Value) {
        self.json(Method::GET, uri, None, None).await
    }

    /// `POST uri` with a JSON body and without a token.
    pub async fn post_public(&self, uri: &str, body: Value) -> (StatusCode, Value) {
        self.json(Method::POST, uri, None, Some(body)).await
    }

    /// The stored record of a session, if any.
    pub async fn session_record(
        &self,
        session_id: &str,
    ) -> Option<coffer_server::db::SessionRecord> {
        self.state.db.session(session_id.to_owned()).await.unwrap()
    }

    /// GET or POST without a body; the response as text (HTML pages).
    pub async fn page(&self, method: Method, uri: &str) -> (StatusCode, String) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let (status, _, bytes) = self.send(request).await;
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    pub async fn sign_up(&self, body: Value) -> (StatusCode, Value) {
        self.json(Method::POST, "/v1/accounts", None, Some(body))
            .await
    }

    pub async fn sign_in_with(&self, body: Value) -> (StatusCode, Value) {
        self.json(Method::POST, "/v1/sessions", None, Some(body))
            .await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> (StatusCode, Value) {
        self.sign_in_with(json!({
            "email": email, "password": password,
            "device_id": "dev-1", "device_name": "Ann's laptop", "app_version": "0.2.0",
        }))
        .await
    }

    /// Signs in and returns the session, panicking on failure.
    pub async fn session(&self, email: &str, password: &str) -> Session {
        let (status, body) = self.sign_in(email, password).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        session_from(&body)
    }

    /// Signs up (default key) and in.
    pub async fn account(&self, email: &str) -> Session {
        let (status, body) = self.sign_up(sign_up_body(email)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        self.session(email, PASSWORD).await
    }

    /// The outbox's mails, oldest first, as raw text.
    pub fn outbox(&self) -> Vec<String> {
        let dir = self.dir.path().join("outbox");
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// The mails to `to`, waiting up to 5 s for at least `count` of them
    /// (some mail is sent after the response).
    pub async fn mails_to(&self, to: &str, count: usize) -> Vec<String> {
        for _ in 0..100 {
            let mails: Vec<String> = self
                .outbox()
                .into_iter()
                .filter(|m| header_value(m, "To").is_some_and(|v| v.contains(to)))
                .collect();
            if mails.len() >= count {
                return mails;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("fewer than {count} mails to {to} arrived");
    }

    pub async fn put_object(&self, token: &str, kind: &str, bytes: &[u8]) -> StatusCode {
        let id = blake3::hash(bytes).to_hex().to_string();
        let request = Request::put(format!("/v1/repo/{kind}/{id}"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::from(bytes.to_vec()))
            .unwrap();
        self.send(request).await.0
    }
}

/// Sends one request through the router and reads the whole response.
pub async fn oneshot(app: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, body)
}

/// A request with an optional bearer token and an optional JSON body.
pub fn json_request(
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match body {
        Some(v) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    request.body(body).unwrap()
}

pub fn session_from(body: &Value) -> Session {
    Session {
        account_id: body["account"]["account_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        session_id: body["session_id"].as_str().unwrap().to_owned(),
    }
}

pub fn sign_up_body(email: &str) -> Value {
    json!({
        "first_name": "Ann", "last_name": "Example", "email": email,
        "password": PASSWORD, "age_confirmed": true, "key_mode": "default",
        "data_key": base64::engine::general_purpose::STANDARD.encode(DATA_KEY),
    })
}

pub fn code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

/// Asserts a refusal: the status and the error code.
#[track_caller]
pub fn assert_error(status: StatusCode, body: &Value, want_status: StatusCode, want_code: &str) {
    assert_eq!(status, want_status);
    assert_eq!(code(body), want_code);
}

pub fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

/// Splits a raw mail into unfolded headers and the decoded body.
pub fn parse_mail(raw: &str) -> (Vec<(String, String)>, String) {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push_str(line.trim_start());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let qp = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("Content-Transfer-Encoding")
            && v.eq_ignore_ascii_case("quoted-printable")
    });
    let body = if qp { decode_qp(body) } else { body.to_owned() };
    (headers, body)
}

fn decode_qp(text: &str) -> String {
    let text = text.replace("=\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() + 1 {
            if let Ok(b) = u8::from_str_radix(
                std::str::from_utf8(&bytes[i + 1..(i + 3).min(bytes.len())]).unwrap_or(""),
                16,
            ) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn header_value(raw: &str, name: &str) -> Option<String> {
    parse_mail(raw)
        .0
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

pub fn body_of(raw: &str) -> String {
    parse_mail(raw).1
}

/// The first link in a mail's body that contains `needle`.
pub fn link_in(raw: &str, needle: &str) -> String {
    let body = body_of(raw);
    body.split_whitespace()
        .find(|w| w.starts_with("http") && w.contains(needle))
        .unwrap_or_else(|| panic!("no link with {needle} in {body}"))
        .to_owned()
}

/// The path and query of a link on https://coffer.test.
pub fn path_of(link: &str) -> String {
    link.strip_prefix("https://coffer.test")
        .unwrap_or_else(|| panic!("{link} is not on the public URL"))
        .to_owned()
}

/// Captures every log line written on this thread while it lives.
///
/// One global subscriber (installed once) writes into a per-thread buffer:
/// per-test scoped subscribers would race on tracing's global callsite
/// cache when tests run in parallel.
pub struct LogCapture {
    buffer: Arc<Mutex<Vec<u8>>>,
}

thread_local! {
    static CAPTURE: std::cell::RefCell<Option<Arc<Mutex<Vec<u8>>>>> =
        const { std::cell::RefCell::new(None) };
}

struct ThreadWriter;

impl std::io::Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(buffer) = c.borrow().as_ref() {
                buffer.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    pub fn start() -> LogCapture {
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(|| ThreadWriter)
                .finish();
            tracing::subscriber::set_global_default(subscriber).unwrap();
        });
        let buffer = Arc::new(Mutex::new(Vec::new()));
        CAPTURE.with(|c| *c.borrow_mut() = Some(buffer.clone()));
        LogCapture { buffer }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().unwrap()).into_owned()
    }
}

impl Drop for LogCapture {
    fn drop(&mut self) {
        CAPTURE.with(|c| *c.borrow_mut() = None);
    }
}
