//! The Coffer service's HTTP API, seen from the agent. `ServiceClient` is also
//! the engine's storage backend: packs, indexes and snapshots travel through it.

use std::io::{Cursor, Read};
use std::net::IpAddr;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use coffer_engine::{Backend, DataKey, FileKind, Id, ObjectInfo};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::throttle::{Direction, Paced, Throttle};

/// How often a request is tried before its error is reported. Idempotent
/// requests are tried again after a failure of the connection (a replica
/// that died mid-request) and after a 500, 502, 503 or 504 (a database
/// restarting behind the service); others only when the connection could
/// not be made, so they never reached the service.
const ATTEMPTS: u32 = 8;
/// Tries when no connection could be made or the answer timed out (after
/// minutes): an agent that is offline, or a service that hangs, is told so
/// within a second, not after the whole backoff.
const QUICK_ATTEMPTS: u32 = 3;
/// The wait before the second try; it doubles each time, up to
/// [`MAX_BACKOFF`]: at most about 16 s of waiting in all.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// The header a deleting request carries the deletion grant in.
const CONFIRMATION_HEADER: &str = "Coffer-Confirmation";

/// A deletion grant from `POST /v1/auth/confirm`: proof that the person, not
/// only their device, asked to delete. A secret, like a session token.
struct HeldGrant {
    token: String,
    /// A little before the service's expiry, so it is not sent stale.
    expires: Instant,
}

/// Deletion grants in this process's memory only — never persisted, logged
/// or sent to the UI — keyed by the session they were made for (the hash of
/// its current access token, moved along when the token is renewed), so
/// every client the agent makes for that session sends it.
static GRANTS: LazyLock<Mutex<HashMap<[u8; 32], HeldGrant>>> = LazyLock::new(Mutex::default);

fn session_key(access_token: &str) -> [u8; 32] {
    *blake3::hash(access_token.as_bytes()).as_bytes()
}

/// Renewed token pairs, by the hash of the access token each replaced.
/// Every client of a session has its own copy of the tokens (the agent keeps
/// a reader open for long); one whose access token was renewed by another
/// adopts the new pair instead of presenting the spent refresh token, which
/// the service would take for a stolen copy and end the session.
static RENEWED: LazyLock<Mutex<std::collections::VecDeque<Renewal>>> = LazyLock::new(Mutex::default);
/// The hash of a replaced access token, and the pair that replaced it.
type Renewal = ([u8; 32], Tokens);
/// Renewals remembered (one an hour per session is the usual pace).
const RENEWED_KEPT: usize = 256;

/// The newest tokens that replaced `access`, following renewals, if any.
fn renewed_since(access: &str) -> Option<Tokens> {
    let renewed = RENEWED.lock().unwrap_or_else(|p| p.into_inner());
    let mut newest: Option<Tokens> = None;
    let mut key = session_key(access);
    while let Some((_, next)) = renewed.iter().find(|(old, _)| *old == key) {
        key = session_key(&next.access);
        newest = Some(next.clone());
    }
    newest
}

fn grants() -> std::sync::MutexGuard<'static, HashMap<[u8; 32], HeldGrant>> {
    GRANTS.lock().unwrap_or_else(|p| p.into_inner())
}

/// A held deletion as the service lists it.
#[derive(Deserialize)]
struct HeldDeletionWire {
    id: String,
    confirmed_at: i64,
    deleted_at: i64,
    #[serde(default)]
    device_name: String,
    #[serde(default)]
    device_id: String,
    snapshots: u64,
    indexes: u64,
    packs: u64,
    bytes: u64,
    purge_at: i64,
}

/// The account as the service describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct AccountRecord {
    pub account_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub quota: QuotaRecord,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub pending_email: Option<String>,
    #[serde(default)]
    pub address: Option<AddressRecord>,
    #[serde(default)]
    pub totp_enabled: bool,
    #[serde(default)]
    pub policy_accepted_version: Option<String>,
    #[serde(default)]
    pub policy_accepted_at: Option<i64>,
}

/// A postal address as the service stores it: only the parts given.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AddressRecord {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub line1: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub line2: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub city: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub postal_code: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub country: String,
}

/// The current privacy policy.
#[derive(Debug, Clone, Deserialize)]
pub struct PolicyRecord {
    pub version: String,
    pub text: String,
    pub published_at: i64,
}

#[derive(Deserialize)]
struct DeletionRecord {
    #[serde(default)]
    purge_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct QuotaRecord {
    pub used: u64,
    pub total: u64,
}

/// What sign-in hands back: a session token (a secret) and the account.
#[derive(Deserialize)]
pub struct SessionGrant {
    pub access_token: String,
    /// Present where the service rotates refresh tokens.
    #[serde(default)]
    pub refresh_token: Option<String>,
    pub account: AccountRecord,
}

/// A session's tokens: short-lived access, rotating refresh. Secrets.
#[derive(Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: Option<String>,
}

#[derive(Deserialize)]
struct Refreshed {
    access_token: String,
    refresh_token: String,
}

/// Called with the new tokens after a refresh, to keep them (the keychain).
pub type PersistTokens = Arc<dyn Fn(&Tokens) + Send + Sync>;

/// The session a client works in, shared by its clones so one refresh
/// serves every thread.
struct Session {
    tokens: Mutex<Tokens>,
    /// Held while refreshing, so a rotated refresh token is never sent twice.
    refreshing: Mutex<()>,
    persist: Option<PersistTokens>,
}

/// The sign-up form as the service takes it.
#[derive(Serialize)]
pub struct NewAccount<'a> {
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub age_confirmed: bool,
    pub key_mode: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrapped_keys: Option<WrappedKeys>,
}

/// A private-key account's data key, wrapped by the person's key and by the
/// recovery code. The service stores these and cannot open them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WrappedKeys {
    pub passphrase: coffer_engine::WrappedKey,
    pub recovery: coffer_engine::WrappedKey,
}

/// The account's key material as the service hands it out.
pub enum AccountKey {
    /// Escrowed: the service unwrapped it for us.
    Default { key: DataKey, changed_at: Option<i64> },
    /// Only the person's key or recovery code opens it.
    Private { wrapped: WrappedKeys, changed_at: Option<i64> },
}

#[derive(Deserialize)]
struct AccountKeyRecord {
    key_mode: String,
    #[serde(default)]
    data_key: Option<String>,
    #[serde(default)]
    wrapped_keys: Option<WrappedKeys>,
    #[serde(default)]
    changed_at: Option<i64>,
}

/// The device a session is bound to.
pub struct DeviceIdentity<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
    /// With `account_deleted`: when the account is purged (Unix ms).
    #[serde(default)]
    purge_at: Option<i64>,
}

#[derive(Deserialize)]
struct ListedObject {
    id: String,
    size: u64,
}

/// A session record as the service sends it.
#[derive(Deserialize)]
struct SessionWire {
    session_id: String,
    device_name: Option<String>,
    device_id: Option<String>,
    app_version: Option<String>,
    ip: Option<String>,
    started_at: i64,
    last_seen_at: i64,
    ended_at: Option<i64>,
    #[serde(default)]
    end_reason: Option<String>,
    #[serde(default)]
    active: bool,
    #[serde(default)]
    current: bool,
    requests: u64,
    bytes_up: u64,
    bytes_down: u64,
    #[serde(default)]
    transfer_ms: u64,
}

impl SessionWire {
    fn into_record(self) -> crate::types::SessionRecord {
        crate::types::SessionRecord {
            id: self.session_id,
            device_name: self.device_name.unwrap_or_default(),
            device_id: self.device_id.unwrap_or_default(),
            app_version: self.app_version.unwrap_or_default(),
            ip: self.ip.unwrap_or_default(),
            started_at: self.started_at,
            last_seen_at: self.last_seen_at,
            ended_at: self.ended_at,
            end_reason: self.end_reason,
            active: self.active,
            requests: self.requests,
            bytes_up: self.bytes_up,
            bytes_down: self.bytes_down,
            transfer_ms: self.transfer_ms,
            current: self.current,
        }
    }
}

/// New key material for [`ServiceClient::put_key`].
pub enum AccountKeyUpdate<'a> {
    Default(&'a DataKey),
    Private(&'a WrappedKeys),
}

/// A connection to one Coffer service, optionally signed in.
#[derive(Clone)]
pub struct ServiceClient {
    base: Url,
    http: Client,
    session: Option<Arc<Session>>,
    throttle: Arc<Throttle>,
}

impl std::fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceClient").field("base", &self.base.as_str()).finish_non_exhaustive()
    }
}

/// Checks a service URL a person typed. Plain HTTP is refused for anything
/// but this machine, so passwords and keys never cross a network in clear.
///
/// # Errors
/// `InvalidInput` with a message saying what is wrong with the URL.
pub fn parse_service_url(url: &str) -> Result<Url> {
    let url = url.trim();
    let parsed = Url::parse(url).map_err(|_| {
        Error::new(ErrorKind::InvalidInput, format!("“{url}” is not a service URL (expected e.g. https://backup.example.com)"))
    })?;
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(&parsed) => {}
        "http" => {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "plain http:// is only allowed for a service on this machine; use https://",
            ))
        }
        other => return Err(Error::new(ErrorKind::InvalidInput, format!("unsupported URL scheme “{other}”; use https://"))),
    }
    if parsed.host_str().is_none() {
        return Err(Error::new(ErrorKind::InvalidInput, "the service URL has no host"));
    }
    Ok(parsed)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

impl ServiceClient {
    /// A client for the service at `base_url`, not signed in.
    ///
    /// # Errors
    /// `InvalidInput` when the URL is unusable (see [`parse_service_url`]).
    pub fn new(base_url: &str) -> Result<Self> {
        let mut base = parse_service_url(base_url)?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let http = Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .user_agent(concat!("coffer-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::new(ErrorKind::Network, format!("could not start the HTTP client: {e}")))?;
        Ok(ServiceClient { base, http, session: None, throttle: Arc::default() })
    }

    /// The same client, with its transfers paced by `throttle`.
    pub fn with_throttle(mut self, throttle: Arc<Throttle>) -> Self {
        self.throttle = throttle;
        self
    }

    /// The same client, signed in with a session token.
    pub fn with_token(self, token: String) -> Self {
        self.with_session(Tokens { access: token, refresh: None }, None)
    }

    /// The same client, signed in; an expired access token is renewed with
    /// the refresh token and the new pair handed to `persist`.
    pub fn with_session(mut self, tokens: Tokens, persist: Option<PersistTokens>) -> Self {
        self.session = Some(Arc::new(Session { tokens: Mutex::new(tokens), refreshing: Mutex::new(()), persist }));
        self
    }

    fn access_token(&self) -> Option<String> {
        self.session.as_ref().map(|s| s.tokens.lock().expect("tokens lock").access.clone())
    }

    /// Renews the access token after `stale` was refused. Returns false when
    /// there is nothing to renew with (or the service refused).
    fn refresh(&self, stale: &str) -> bool {
        let Some(session) = &self.session else { return false };
        let _one_at_a_time = session.refreshing.lock().expect("refresh lock");
        let current = session.tokens.lock().expect("tokens lock").clone();
        if current.access != stale {
            return true; // another thread renewed it meanwhile
        }
        if let Some(newer) = renewed_since(&current.access) {
            // Another client of this session renewed it: use its tokens.
            *session.tokens.lock().expect("tokens lock") = newer;
            return true;
        }
        let Some(refresh_token) = current.refresh else { return false };
        let body = serde_json::json!({ "refresh_token": refresh_token });
        let Ok(response) = self.http.post(self.url("v1/sessions/refresh")).json(&body).send() else { return false };
        if !response.status().is_success() {
            return false;
        }
        let Ok(renewed) = response.json::<Refreshed>() else { return false };
        let tokens = Tokens { access: renewed.access_token, refresh: Some(renewed.refresh_token) };
        {
            let mut grants = grants();
            if let Some(grant) = grants.remove(&session_key(stale)) {
                grants.insert(session_key(&tokens.access), grant);
            }
        }
        {
            let mut renewed = RENEWED.lock().unwrap_or_else(|p| p.into_inner());
            renewed.push_back((session_key(stale), tokens.clone()));
            while renewed.len() > RENEWED_KEPT {
                renewed.pop_front();
            }
        }
        if let Some(persist) = &session.persist {
            persist(&tokens);
        }
        *session.tokens.lock().expect("tokens lock") = tokens;
        true
    }

    pub fn base_url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("API paths are relative and valid")
    }

    fn authed(&self, builder: RequestBuilder, token: Option<&str>) -> RequestBuilder {
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Sends a request, trying again as [`ATTEMPTS`] says (waiting
    /// [`backoff`] between tries), and turns an error response into an
    /// [`Error`].
    fn send(&self, idempotent: bool, make: impl Fn() -> RequestBuilder) -> Result<Response> {
        let mut attempt = 1;
        let mut renewed = false;
        loop {
            let token = self.access_token();
            match self.authed(make(), token.as_deref()).send() {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) if response.status() == StatusCode::UNAUTHORIZED && !renewed && token.is_some() => {
                    let err = error_from_response(response);
                    // A wrong two-factor code is a 401 too, but the session is fine.
                    if err.kind != ErrorKind::Unauthorized {
                        return Err(err);
                    }
                    renewed = true;
                    if !self.refresh(token.as_deref().unwrap_or_default()) {
                        return Err(err);
                    }
                    continue;
                }
                Ok(response) if idempotent && attempt < ATTEMPTS && is_transient(response.status()) => {
                    tracing::debug!(status = %response.status(), attempt, "the service failed; trying again");
                }
                Ok(response) => return Err(error_from_response(response)),
                Err(err) if attempt < attempts_after(&err, idempotent) => {
                    tracing::debug!(error = %err, attempt, "the request failed; trying again");
                }
                Err(err) => return Err(transport_error(self.base_url(), &err)),
            }
            std::thread::sleep(backoff(attempt));
            attempt += 1;
        }
    }

    /// Sends an idempotent request and reads all of its answer (paced),
    /// trying again when the answer breaks off as when the request fails.
    fn fetch(&self, make: impl Fn() -> RequestBuilder) -> Result<Vec<u8>> {
        let mut attempt = 1;
        loop {
            let response = self.send(true, &make)?;
            match self.read_body(response) {
                Ok(bytes) => return Ok(bytes),
                Err(err) if attempt < ATTEMPTS => {
                    tracing::debug!(error = %err, attempt, "the answer broke off; trying again");
                }
                Err(err) => return Err(Error::new(ErrorKind::Network, format!("the download broke off: {err}"))),
            }
            std::thread::sleep(backoff(attempt));
            attempt += 1;
        }
    }

    /// Creates an account. Nothing is stored when the service refuses.
    ///
    /// # Errors
    /// `AgeNotConfirmed`, `EmailTaken`, `InvalidInput` (the message names the field), `Network`.
    pub fn sign_up(&self, account: &NewAccount<'_>) -> Result<()> {
        self.send(false, || self.http.post(self.url("v1/accounts")).json(account))?;
        Ok(())
    }

    /// Signs in and opens a session bound to this device.
    ///
    /// # Errors
    /// `InvalidCredentials`, `TotpRequired`, `Network`, `Server`;
    /// `Unauthorized` when the account is scheduled for deletion (the
    /// message says until when it can be restored).
    pub fn sign_in(&self, email: &str, password: &str, totp_code: Option<&str>, device: &DeviceIdentity<'_>) -> Result<SessionGrant> {
        let mut body = serde_json::json!({
            "email": email,
            "password": password,
            "device_id": device.id,
            "device_name": device.name,
            "app_version": env!("CARGO_PKG_VERSION"),
        });
        if let Some(code) = totp_code.map(str::trim).filter(|c| !c.is_empty()) {
            body[code_field(code)] = serde_json::Value::String(code.to_owned());
        }
        let response = self.send(false, || self.http.post(self.url("v1/sessions")).json(&body))?;
        response.json().map_err(|e| decode_error(&e))
    }

    /// Ends this client's session on the service.
    ///
    /// # Errors
    /// `Network`, or `Unauthorized` when the session had already ended.
    pub fn sign_out(&self) -> Result<()> {
        if let Some(token) = self.access_token() {
            grants().remove(&session_key(&token));
        }
        self.send(true, || self.http.delete(self.url("v1/sessions/current")))?;
        Ok(())
    }

    /// Confirms it is the person (password, and the two-factor or a
    /// recovery code when two-factor sign-in is on) and keeps the deletion
    /// grant the service hands back in this process's memory, for this
    /// session. Deleting requests of any client of this session send it
    /// until it expires. Returns when it expires (Unix ms, this machine's
    /// clock).
    ///
    /// # Errors
    /// `InvalidCredentials` for a wrong password, `TotpRequired` when a code
    /// is needed, `InvalidInput` for a wrong or used code, `NotSignedIn`.
    pub fn confirm(&self, password: &str, code: Option<&str>) -> Result<i64> {
        #[derive(Deserialize)]
        struct Granted {
            confirmation: String,
            expires_in: u64,
        }
        let Some(access) = self.access_token() else {
            return Err(Error::new(ErrorKind::NotSignedIn, "sign in to Coffer first"));
        };
        let mut body = serde_json::json!({ "password": password });
        if let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) {
            body[code_field(code)] = serde_json::Value::String(code.to_owned());
        }
        let response = self.send(false, || self.http.post(self.url("v1/auth/confirm")).json(&body))?;
        let granted: Granted = response.json().map_err(|e| decode_error(&e))?;
        let lifetime = Duration::from_secs(granted.expires_in);
        let margin = Duration::from_secs(30).min(lifetime / 2);
        // Keyed by the token the client holds now (a refresh during the call moved nothing yet).
        let key = session_key(&self.access_token().unwrap_or(access));
        grants().insert(key, HeldGrant { token: granted.confirmation, expires: Instant::now() + lifetime - margin });
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        Ok(now + (lifetime - margin).as_millis() as i64)
    }

    /// How long the deletion grant of this session still works, if one is held.
    pub fn confirmation_left(&self) -> Option<Duration> {
        let key = session_key(&self.access_token()?);
        let mut grants = grants();
        let left = grants.get(&key).map(|g| g.expires.saturating_duration_since(Instant::now()));
        match left {
            Some(left) if !left.is_zero() => Some(left),
            Some(_) => {
                grants.remove(&key);
                None
            }
            None => None,
        }
    }

    fn confirmation_token(&self) -> Option<String> {
        self.confirmation_left()?;
        let key = session_key(&self.access_token()?);
        grants().get(&key).map(|g| g.token.clone())
    }

    /// Deletions held by the service and not yet purged, newest first.
    ///
    /// # Errors
    /// `Unauthorized`, `Network`.
    pub fn held_deletions(&self) -> Result<Vec<crate::types::HeldDeletion>> {
        let wire: Vec<HeldDeletionWire> = self.call(reqwest::Method::GET, "v1/deletions", None)?;
        Ok(wire
            .into_iter()
            .map(|w| crate::types::HeldDeletion {
                id: w.id,
                confirmed_at: w.confirmed_at,
                deleted_at: w.deleted_at,
                device_name: w.device_name,
                device_id: w.device_id,
                snapshots: w.snapshots,
                other_objects: w.indexes + w.packs,
                bytes: w.bytes,
                purge_at: w.purge_at,
            })
            .collect())
    }

    /// Puts a held deletion back (no confirmation needed: undoing is harmless).
    ///
    /// # Errors
    /// `NotFound` when it is unknown, purged or already put back.
    pub fn cancel_held_deletion(&self, id: &str) -> Result<()> {
        self.call::<serde_json::Value>(reqwest::Method::POST, &format!("v1/deletions/{id}/cancel"), None).map(|_| ())
    }

    /// # Errors
    /// `Unauthorized`, `Network`.
    pub fn account(&self) -> Result<AccountRecord> {
        self.send(true, || self.http.get(self.url("v1/account")))?.json().map_err(|e| decode_error(&e))
    }

    /// The account's key material: the escrowed key or the private wraps.
    ///
    /// # Errors
    /// `Unauthorized`, `Network`, `Integrity` when the answer is malformed.
    pub fn account_key(&self) -> Result<AccountKey> {
        let record: AccountKeyRecord = self.call(reqwest::Method::GET, "v1/account/key", None)?;
        match (record.key_mode.as_str(), record.data_key, record.wrapped_keys) {
            ("default", Some(key), _) => Ok(AccountKey::Default { key: decode_key(&key)?, changed_at: record.changed_at }),
            ("private", _, Some(wrapped)) => Ok(AccountKey::Private { wrapped, changed_at: record.changed_at }),
            _ => Err(Error::new(ErrorKind::Integrity, "the service's key record is incomplete")),
        }
    }

    /// Replaces the account's key material (needs the account password).
    ///
    /// # Errors
    /// `InvalidCredentials` for a wrong password; nothing changes then.
    pub fn put_key(&self, key: &AccountKeyUpdate<'_>, password: &str) -> Result<()> {
        let mut body = match key {
            AccountKeyUpdate::Default(data_key) => serde_json::json!({ "key_mode": "default", "data_key": encode_key(data_key) }),
            AccountKeyUpdate::Private(wrapped) => serde_json::json!({ "key_mode": "private", "wrapped_keys": wrapped }),
        };
        body["password"] = serde_json::Value::String(password.to_owned());
        self.call::<serde_json::Value>(reqwest::Method::PUT, "v1/account/key", Some(&body)).map(|_| ())
    }

    /// Sends a JSON request and decodes a JSON answer.
    fn call<T: serde::de::DeserializeOwned>(&self, method: reqwest::Method, path: &str, body: Option<&serde_json::Value>) -> Result<T> {
        let idempotent = matches!(method, reqwest::Method::GET | reqwest::Method::PUT | reqwest::Method::DELETE);
        let response = self.send(idempotent, || {
            let request = self.http.request(method.clone(), self.url(path));
            match body {
                Some(body) => request.json(body),
                None => request,
            }
        })?;
        if response.status() == StatusCode::NO_CONTENT {
            return serde_json::from_value(serde_json::Value::Null).map_err(|e| Error::new(ErrorKind::Server, e.to_string()));
        }
        response.json().map_err(|e| decode_error(&e))
    }

    /// Changes profile fields (`PATCH /v1/account`).
    ///
    /// # Errors
    /// `InvalidInput` naming the field, `EmailTaken`.
    pub fn update_account(&self, changes: &serde_json::Value) -> Result<AccountRecord> {
        self.call(reqwest::Method::PATCH, "v1/account", Some(changes))
    }

    /// # Errors
    /// `InvalidCredentials` (wrong current password), `InvalidInput`.
    pub fn change_password(&self, current: &str, new: &str) -> Result<()> {
        let body = serde_json::json!({ "current_password": current, "new_password": new });
        self.call::<Option<serde_json::Value>>(reqwest::Method::POST, "v1/account/password", Some(&body)).map(|_| ())
    }

    pub fn revoke_session(&self, id: &str) -> Result<()> {
        self.call::<Option<serde_json::Value>>(reqwest::Method::DELETE, &format!("v1/sessions/{id}"), None).map(|_| ())
    }

    pub fn revoke_all_sessions(&self) -> Result<()> {
        let body = serde_json::json!({ "except_current": false });
        self.call::<serde_json::Value>(reqwest::Method::POST, "v1/sessions/revoke-all", Some(&body)).map(|_| ())
    }

    pub fn preferences(&self) -> Result<crate::types::CommunicationPreferences> {
        self.call(reqwest::Method::GET, "v1/account/preferences", None)
    }

    pub fn set_preferences(&self, preferences: &crate::types::CommunicationPreferences) -> Result<crate::types::CommunicationPreferences> {
        let body = serde_json::to_value(preferences).expect("preferences serialize");
        self.call(reqwest::Method::PUT, "v1/account/preferences", Some(&body))
    }

    /// The current policy; `NotFound` before the operator published one.
    pub fn policy(&self) -> Result<PolicyRecord> {
        self.call(reqwest::Method::GET, "v1/policy", None)
    }

    pub fn accept_policy(&self, version: &str) -> Result<()> {
        let body = serde_json::json!({ "version": version });
        self.call::<serde_json::Value>(reqwest::Method::POST, "v1/account/policy/accept", Some(&body)).map(|_| ())
    }

    /// Everything the service holds about the account, as JSON bytes.
    pub fn export(&self) -> Result<Vec<u8>> {
        let response = self.send(true, || self.http.get(self.url("v1/account/export")))?;
        response.bytes().map(|b| b.to_vec()).map_err(|e| transport_error(self.base_url(), &e))
    }

    /// Deletes the account; returns when its files are purged (Unix ms).
    ///
    /// # Errors
    /// `InvalidCredentials` for a wrong password.
    pub fn delete_account(&self, password: &str, purge_now: bool) -> Result<Option<i64>> {
        let body = serde_json::json!({ "password": password, "purge_now": purge_now });
        let record: DeletionRecord = self.call(reqwest::Method::DELETE, "v1/account", Some(&body))?;
        Ok(record.purge_at)
    }

    /// Cancels the account's scheduled deletion; needs no session (the
    /// account has none while it is scheduled), only the email and password.
    ///
    /// # Errors
    /// `InvalidCredentials` for a wrong email or password; `InvalidInput`
    /// after too many attempts; `Network`.
    pub fn restore_deletion(&self, email: &str, password: &str) -> Result<()> {
        let body = serde_json::json!({ "email": email, "password": password });
        self.send(false, || self.http.post(self.url("v1/account/restore-deletion")).json(&body))?;
        Ok(())
    }

    /// Asks for a password-reset link by mail (always accepted: the service
    /// never says whether an email has an account).
    pub fn request_password_reset(&self, email: &str) -> Result<()> {
        let body = serde_json::json!({ "email": email });
        self.send(false, || self.http.post(self.url("v1/password-reset")).json(&body))?;
        Ok(())
    }

    pub fn resend_verification(&self) -> Result<()> {
        self.send(false, || self.http.post(self.url("v1/account/verify-email/resend")))?;
        Ok(())
    }

    pub fn totp_setup(&self) -> Result<crate::types::TotpSetup> {
        self.call(reqwest::Method::POST, "v1/account/totp/setup", None)
    }

    /// Turns two-factor sign-in on; returns the one-time recovery codes.
    pub fn totp_enable(&self, code: &str) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Enabled {
            recovery_codes: Vec<String>,
        }
        let body = serde_json::json!({ "code": code.trim() });
        let enabled: Enabled = self.call(reqwest::Method::POST, "v1/account/totp/enable", Some(&body))?;
        Ok(enabled.recovery_codes)
    }

    pub fn totp_disable(&self, password: &str) -> Result<()> {
        let body = serde_json::json!({ "password": password });
        self.call::<Option<serde_json::Value>>(reqwest::Method::DELETE, "v1/account/totp", Some(&body)).map(|_| ())
    }

    /// The account's session records, newest first.
    ///
    /// # Errors
    /// `Unauthorized`, `Network`.
    pub fn sessions(&self) -> Result<Vec<crate::types::SessionRecord>> {
        let wire: Vec<SessionWire> = self.call(reqwest::Method::GET, "v1/sessions", None)?;
        Ok(wire.into_iter().map(SessionWire::into_record).collect())
    }

    fn object_url(&self, kind: FileKind, id: Option<&Id>) -> Url {
        match id {
            Some(id) => self.url(&format!("v1/repo/{}/{id}", kind.as_str())),
            None => self.url(&format!("v1/repo/{}", kind.as_str())),
        }
    }
}

/// Six digits are a TOTP code; anything else is a one-time recovery code.
fn code_field(code: &str) -> &'static str {
    if code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()) {
        "totp_code"
    } else {
        "recovery_code"
    }
}

/// Decodes a base64 data key.
///
/// # Errors
/// `Integrity` when the text is not 32 bytes of base64.
pub fn decode_key(text: &str) -> Result<DataKey> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| Error::new(ErrorKind::Integrity, "the stored data key is damaged"))?;
    Ok(DataKey::from_bytes(bytes))
}

pub fn encode_key(key: &DataKey) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
}

fn decode_error(err: &reqwest::Error) -> Error {
    Error::new(ErrorKind::Server, format!("the service sent an answer the agent does not understand: {err}"))
}

/// Answers worth trying again: the service or what is behind it (its
/// database, a replica behind a balancer) failed for a moment. Not 507
/// `storage_full`: a full disk is not freed by asking again.
fn is_transient(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR | StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
    )
}

/// How many tries a request gets that failed with `err` (1: not tried
/// again): an idempotent one after any failure of the connection, another
/// only when it never got out.
fn attempts_after(err: &reqwest::Error, idempotent: bool) -> u32 {
    if err.is_builder() || err.is_redirect() || !(idempotent || err.is_connect()) {
        1
    } else if err.is_connect() || err.is_timeout() {
        QUICK_ATTEMPTS
    } else {
        ATTEMPTS
    }
}

/// The wait after the `attempt`th try failed.
fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF.saturating_mul(1 << (attempt - 1).min(16)).min(MAX_BACKOFF)
}

fn transport_error(base: &str, err: &reqwest::Error) -> Error {
    if err.is_timeout() {
        Error::new(ErrorKind::Network, format!("the Coffer service at {base} did not answer in time"))
    } else {
        Error::new(ErrorKind::Network, format!("cannot reach the Coffer service at {base}: is it running?"))
    }
}

fn error_from_response(response: Response) -> Error {
    let status = response.status();
    let body: Option<ErrorBody> = response.json().ok();
    let (code, message, purge_at) = match body {
        Some(b) => (b.error.code, b.error.message, b.error.purge_at),
        None => (String::new(), format!("the service answered {status}"), None),
    };
    if code == "storage_full" || status == StatusCode::INSUFFICIENT_STORAGE {
        return Error::new(ErrorKind::Server, crate::error::STORAGE_FULL);
    }
    if status.is_server_error() && matches!(code.as_str(), "" | "internal") {
        // The service's text is a bare "internal error" (its detail is in its log).
        return Error::new(ErrorKind::Server, crate::error::SERVICE_FAILED);
    }
    if code == "account_deleted" {
        // The service's text names an API route; a person needs the day and what to do.
        return Error::new(ErrorKind::AccountDeleted, account_deleted_message(purge_at));
    }
    let kind = match code.as_str() {
        "age_not_confirmed" => ErrorKind::AgeNotConfirmed,
        "email_taken" => ErrorKind::EmailTaken,
        "invalid_credentials" | "wrong_password" => ErrorKind::InvalidCredentials,
        "totp_required" => ErrorKind::TotpRequired,
        "confirmation_required" => {
            return Error::new(ErrorKind::ConfirmationRequired, crate::error::CONFIRMATION_REQUIRED)
        }
        "totp_invalid" => ErrorKind::InvalidInput,
        "invalid_input" => ErrorKind::InvalidInput,
        "quota_exceeded" => ErrorKind::QuotaExceeded,
        "unauthorized" | "token_expired" => ErrorKind::Unauthorized,
        "not_found" => ErrorKind::NotFound,
        "hash_mismatch" => ErrorKind::Integrity,
        _ => match status {
            StatusCode::UNAUTHORIZED => ErrorKind::Unauthorized,
            StatusCode::NOT_FOUND => ErrorKind::NotFound,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorKind::QuotaExceeded,
            s if s.is_client_error() => ErrorKind::InvalidInput,
            _ => ErrorKind::Server,
        },
    };
    Error::new(kind, message)
}

/// What signing in to an account scheduled for deletion says. The day is the
/// service's (UTC) calendar day, as in the mail it sent.
fn account_deleted_message(purge_at: Option<i64>) -> String {
    let day = purge_at
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.date_naive().format("%B %-d, %Y").to_string());
    match day {
        Some(day) => format!(
            "This account is scheduled for deletion: it and its stored files will be deleted for good on {day}. \
             Until then you can restore it."
        ),
        None => "This account is scheduled for deletion. Until its files are purged you can restore it.".to_owned(),
    }
}

fn engine_error(err: Error) -> coffer_engine::Error {
    use coffer_engine::ErrorKind as E;
    let kind = match err.kind {
        ErrorKind::Network => E::Network,
        ErrorKind::Unauthorized | ErrorKind::AccountDeleted | ErrorKind::NotSignedIn => E::Unauthorized,
        ErrorKind::QuotaExceeded => E::QuotaExceeded,
        ErrorKind::NotFound => E::NotFound,
        ErrorKind::Integrity => E::Integrity,
        ErrorKind::InvalidInput => E::InvalidInput,
        _ => E::Storage,
    };
    coffer_engine::Error::new(kind, err.message)
}

fn wrong_length(kind: FileKind, id: &Id, sent: u64, asked: u64) -> coffer_engine::Error {
    coffer_engine::Error::new(
        coffer_engine::ErrorKind::Integrity,
        format!("the service returned {sent} bytes of {kind:?} {id} where {asked} were asked for"),
    )
}

impl Backend for ServiceClient {
    fn put(&self, kind: FileKind, id: &Id, bytes: &[u8]) -> coffer_engine::Result<()> {
        self.put_shared(kind, id, bytes::Bytes::copy_from_slice(bytes))
    }

    /// Each attempt streams the same shared buffer (paced by the live
    /// bandwidth limit): no copy per attempt or per upload.
    fn put_shared(&self, kind: FileKind, id: &Id, bytes: bytes::Bytes) -> coffer_engine::Result<()> {
        let url = self.object_url(kind, Some(id));
        let len = bytes.len() as u64;
        self.send(true, || {
            let body = Paced::new(Cursor::new(bytes.clone()), Arc::clone(&self.throttle), Direction::Up);
            self.http.put(url.clone()).body(reqwest::blocking::Body::sized(body, len))
        })
        .map_err(engine_error)?;
        Ok(())
    }

    fn get(&self, kind: FileKind, id: &Id) -> coffer_engine::Result<Vec<u8>> {
        let url = self.object_url(kind, Some(id));
        self.fetch(|| self.http.get(url.clone())).map_err(engine_error)
    }

    fn get_range(&self, kind: FileKind, id: &Id, offset: u64, len: u64) -> coffer_engine::Result<Vec<u8>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let url = self.object_url(kind, Some(id));
        let range = format!("bytes={}-{}", offset, offset + len - 1);
        let bytes =
            self.fetch(|| self.http.get(url.clone()).header(reqwest::header::RANGE, &range)).map_err(engine_error)?;
        if bytes.len() as u64 != len {
            return Err(wrong_length(kind, id, bytes.len() as u64, len));
        }
        Ok(bytes)
    }

    /// The answer's body as it arrives (paced like every download); a
    /// break in it shows as a read error the restore recovers from.
    fn get_range_stream(
        &self,
        kind: FileKind,
        id: &Id,
        offset: u64,
        len: u64,
    ) -> coffer_engine::Result<Box<dyn std::io::Read + Send + '_>> {
        if len == 0 {
            return Ok(Box::new(std::io::empty()));
        }
        let url = self.object_url(kind, Some(id));
        let range = format!("bytes={}-{}", offset, offset + len - 1);
        let response =
            self.send(true, || self.http.get(url.clone()).header(reqwest::header::RANGE, &range)).map_err(engine_error)?;
        match response.content_length() {
            Some(sent) if sent != len => Err(wrong_length(kind, id, sent, len)),
            _ => Ok(Box::new(std::io::Read::take(Paced::new(response, Arc::clone(&self.throttle), Direction::Down), len))),
        }
    }

    fn list(&self, kind: FileKind) -> coffer_engine::Result<Vec<ObjectInfo>> {
        let url = self.object_url(kind, None);
        let body = self.fetch(|| self.http.get(url.clone())).map_err(engine_error)?;
        let listed: Vec<ListedObject> = serde_json::from_slice(&body).map_err(|e| {
            engine_error(Error::new(ErrorKind::Server, format!("the service sent a listing the agent does not understand: {e}")))
        })?;
        listed
            .into_iter()
            .map(|o| Ok(ObjectInfo { id: o.id.parse()?, size: o.size }))
            .collect()
    }

    fn remove(&self, kind: FileKind, id: &Id) -> coffer_engine::Result<()> {
        let url = self.object_url(kind, Some(id));
        let confirmation = self.confirmation_token();
        self.send(true, || {
            let request = self.http.delete(url.clone());
            match &confirmation {
                Some(grant) => request.header(CONFIRMATION_HEADER, grant),
                None => request,
            }
        })
        .map_err(engine_error)?;
        Ok(())
    }
}

// ----- connected apps (issue 7) -----

impl ServiceClient {
    /// The account's connected apps, newest first (never their tokens).
    ///
    /// # Errors
    /// `Unauthorized`, `Network`.
    pub fn connected_apps(&self) -> Result<Vec<crate::types::ConnectedApp>> {
        self.call(reqwest::Method::GET, "v1/apps", None)
    }

    /// Makes a connected-app token; the answer holds the token, shown once.
    ///
    /// # Errors
    /// `InvalidInput` naming the field, `Unauthorized`, `Network`.
    pub fn create_connected_app(&self, name: &str, scopes: &[crate::types::AppScope], expires_in_days: u32) -> Result<(crate::types::ConnectedApp, String)> {
        let body = serde_json::json!({ "name": name, "scopes": scopes, "expires_in_days": expires_in_days });
        let mut created: serde_json::Value = self.call(reqwest::Method::POST, "v1/apps", Some(&body))?;
        let token = created
            .as_object_mut()
            .and_then(|o| o.remove("token"))
            .and_then(|t| t.as_str().map(str::to_owned))
            .ok_or_else(|| Error::new(ErrorKind::Server, "the service did not send the new app's token"))?;
        let app = serde_json::from_value(created).map_err(|e| Error::new(ErrorKind::Server, format!("the service sent an app the agent does not understand: {e}")))?;
        Ok((app, token))
    }

    /// Revokes a connected app: its token fails at once.
    ///
    /// # Errors
    /// `NotFound` when the account has no such app.
    pub fn revoke_connected_app(&self, id: &str) -> Result<()> {
        self.call::<Option<serde_json::Value>>(reqwest::Method::DELETE, &format!("v1/apps/{id}"), None).map(|_| ())
    }
}

// ----- shares (issue 7) -----

/// A share as the service answers it to its owner.
#[derive(Deserialize)]
struct ShareWire {
    id: String,
    state: crate::types::ShareState,
    created_at: i64,
    expires_at: i64,
    password: bool,
    max_downloads: Option<u64>,
    downloads: u64,
    recipients: Vec<String>,
    bytes: u64,
    removed_at: Option<i64>,
}

impl ShareWire {
    fn into_info(self) -> crate::types::ShareInfo {
        crate::types::ShareInfo {
            id: self.id,
            state: self.state,
            created_at: self.created_at,
            expires_at: self.expires_at,
            password: self.password,
            max_downloads: self.max_downloads,
            downloads: self.downloads,
            recipients: self.recipients,
            bytes: self.bytes,
            removed: self.removed_at.is_some(),
        }
    }
}

/// What a new share is made with (the service's `POST /v1/shares`).
pub struct NewShare<'a> {
    pub recipients: &'a [String],
    pub expires_in_days: u32,
    pub password: Option<&'a str>,
    pub max_downloads: Option<u32>,
    pub parts: u64,
}

impl ServiceClient {
    /// Starts a share; its parts are uploaded next.
    ///
    /// # Errors
    /// `InvalidInput` naming the field, `Unauthorized`, `Network`.
    pub fn create_share(&self, share: &NewShare<'_>) -> Result<crate::types::ShareInfo> {
        let mut body = serde_json::json!({
            "recipients": share.recipients,
            "expires_in_days": share.expires_in_days,
            "parts": share.parts,
        });
        if let Some(password) = share.password {
            body["password"] = serde_json::Value::String(password.to_owned());
        }
        if let Some(max) = share.max_downloads {
            body["max_downloads"] = serde_json::json!(max);
        }
        let wire: ShareWire = self.call(reqwest::Method::POST, "v1/shares", Some(&body))?;
        Ok(wire.into_info())
    }

    /// Uploads the sealed manifest (`part` None) or one sealed part.
    ///
    /// # Errors
    /// `QuotaExceeded`, `InvalidInput`, `NotFound`, `Network`.
    pub fn put_share_part(&self, share_id: &str, part: Option<u64>, bytes: Vec<u8>) -> Result<()> {
        let path = match part {
            None => format!("v1/shares/{share_id}/manifest"),
            Some(n) => format!("v1/shares/{share_id}/parts/{n}"),
        };
        self.send(true, || self.http.put(self.url(&path)).header(reqwest::header::CONTENT_TYPE, "application/octet-stream").body(bytes.clone()))
            .map(drop)
    }

    /// Finishes a share: it can be opened from now on, and the service mails
    /// each recipient a notice with the link *without* its key (the key never
    /// leaves this device; the person sends the full link). Returns how many
    /// were mailed.
    ///
    /// # Errors
    /// `InvalidInput` (a part is missing), `NotFound`, `Network`.
    pub fn complete_share(&self, share_id: &str) -> Result<u64> {
        let body = serde_json::json!({});
        let done: serde_json::Value = self.call(reqwest::Method::POST, &format!("v1/shares/{share_id}/complete"), Some(&body))?;
        Ok(done["mailed"].as_u64().unwrap_or(0))
    }

    /// The account's shares, newest first.
    ///
    /// # Errors
    /// `Unauthorized`, `Network`.
    pub fn shares(&self) -> Result<Vec<crate::types::ShareInfo>> {
        let wire: Vec<ShareWire> = self.call(reqwest::Method::GET, "v1/shares", None)?;
        Ok(wire.into_iter().map(ShareWire::into_info).collect())
    }

    /// Revokes a share: its link fails at once, its data is removed.
    ///
    /// # Errors
    /// `NotFound`, `Network`.
    pub fn revoke_share(&self, share_id: &str) -> Result<()> {
        self.call::<Option<serde_json::Value>>(reqwest::Method::DELETE, &format!("v1/shares/{share_id}"), None).map(|_| ())
    }
}

impl ServiceClient {
    /// Reads a download, paced by the download limit.
    fn read_body(&self, response: Response) -> std::io::Result<Vec<u8>> {
        let mut bytes = Vec::with_capacity(response.content_length().unwrap_or(0).min(64 << 20) as usize);
        Paced::new(response, Arc::clone(&self.throttle), Direction::Down).read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_this_machine() {
        assert!(parse_service_url("http://127.0.0.1:8750").is_ok());
        assert!(parse_service_url("http://localhost:8750/").is_ok());
        assert!(parse_service_url("http://[::1]:8750").is_ok());
        assert!(parse_service_url("https://backup.example.com").is_ok());
        let err = parse_service_url("http://backup.example.com").unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert!(err.message.contains("https://"));
        assert_eq!(parse_service_url("ftp://x").unwrap_err().kind, ErrorKind::InvalidInput);
        assert_eq!(parse_service_url("not a url").unwrap_err().kind, ErrorKind::InvalidInput);
    }

    #[test]
    fn retries_back_off_within_a_bound() {
        let waits: Vec<Duration> = (1..ATTEMPTS).map(backoff).collect();
        assert_eq!(waits[0], Duration::from_millis(250));
        assert!(waits.windows(2).all(|w| w[0] <= w[1]), "{waits:?}");
        assert_eq!(*waits.last().unwrap(), MAX_BACKOFF);
        // Long enough to ride out a database restart, short enough that a
        // service that is really down is reported within half a minute.
        let total: Duration = waits.iter().sum();
        assert!(total >= Duration::from_secs(10) && total <= Duration::from_secs(20), "{total:?}");
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn only_passing_failures_are_retried() {
        for status in [500, 502, 503, 504] {
            assert!(is_transient(StatusCode::from_u16(status).unwrap()), "{status}");
        }
        for status in [400, 401, 404, 413, 429, 501, 507] {
            assert!(!is_transient(StatusCode::from_u16(status).unwrap()), "{status}");
        }
    }

    #[test]
    fn service_paths_keep_a_base_path() {
        let client = ServiceClient::new("https://example.com/coffer").unwrap();
        assert_eq!(client.url("v1/account").as_str(), "https://example.com/coffer/v1/account");
    }
}
