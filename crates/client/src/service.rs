//! The Coffer service's HTTP API, seen from the agent. `ServiceClient` is also
//! the engine's storage backend: packs, indexes and snapshots travel through it.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use coffer_engine::{Backend, DataKey, FileKind, Id, ObjectInfo};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// How often an idempotent request is tried before its error is reported.
const ATTEMPTS: u32 = 3;

/// The account as the service describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct AccountRecord {
    pub account_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub quota: QuotaRecord,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct QuotaRecord {
    pub used: u64,
    pub total: u64,
}

/// What sign-in hands back: a session token (a secret) and the account.
#[derive(Deserialize)]
pub struct SessionGrant {
    pub token: String,
    pub account: AccountRecord,
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
    pub data_key: String,
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
}

#[derive(Deserialize)]
struct ListedObject {
    id: String,
    size: u64,
}

#[derive(Deserialize)]
struct EscrowedKey {
    data_key: String,
}

/// A connection to one Coffer service, optionally signed in.
#[derive(Clone)]
pub struct ServiceClient {
    base: Url,
    http: Client,
    token: Option<String>,
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
        Ok(ServiceClient { base, http, token: None })
    }

    /// The same client, signed in with a session token.
    pub fn with_token(mut self, token: String) -> Self {
        self.token = Some(token);
        self
    }

    pub fn base_url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("API paths are relative and valid")
    }

    fn authed(&self, builder: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Sends a request, retrying transport failures when it is idempotent,
    /// and turns an error response into an [`Error`].
    fn send(&self, idempotent: bool, make: impl Fn() -> RequestBuilder) -> Result<Response> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.authed(make()).send() {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) if response.status().is_server_error() && idempotent && attempt < ATTEMPTS => {}
                Ok(response) => return Err(error_from_response(response)),
                Err(err) if idempotent && attempt < ATTEMPTS && (err.is_connect() || err.is_timeout()) => {}
                Err(err) => return Err(transport_error(self.base_url(), &err)),
            }
            std::thread::sleep(Duration::from_millis(250 * u64::from(attempt * attempt)));
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
    /// `InvalidCredentials`, `Network`, `Server`.
    pub fn sign_in(&self, email: &str, password: &str, device: &DeviceIdentity<'_>) -> Result<SessionGrant> {
        let body = serde_json::json!({
            "email": email,
            "password": password,
            "device_id": device.id,
            "device_name": device.name,
            "app_version": env!("CARGO_PKG_VERSION"),
        });
        let response = self.send(false, || self.http.post(self.url("v1/sessions")).json(&body))?;
        response.json().map_err(|e| decode_error(&e))
    }

    /// Ends this client's session on the service.
    ///
    /// # Errors
    /// `Network`, or `Unauthorized` when the session had already ended.
    pub fn sign_out(&self) -> Result<()> {
        self.send(true, || self.http.delete(self.url("v1/sessions/current")))?;
        Ok(())
    }

    /// # Errors
    /// `Unauthorized`, `Network`.
    pub fn account(&self) -> Result<AccountRecord> {
        self.send(true, || self.http.get(self.url("v1/account")))?.json().map_err(|e| decode_error(&e))
    }

    /// The account's data key as escrowed with the service (default-key accounts).
    ///
    /// # Errors
    /// `Unauthorized`, `Network`, `Integrity` when the service's answer is not a key.
    pub fn escrowed_key(&self) -> Result<DataKey> {
        let escrow: EscrowedKey =
            self.send(true, || self.http.get(self.url("v1/account/key")))?.json().map_err(|e| decode_error(&e))?;
        decode_key(&escrow.data_key)
    }

    fn object_url(&self, kind: FileKind, id: Option<&Id>) -> Url {
        match id {
            Some(id) => self.url(&format!("v1/repo/{}/{id}", kind.as_str())),
            None => self.url(&format!("v1/repo/{}", kind.as_str())),
        }
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
    let (code, message) = match body {
        Some(b) => (b.error.code, b.error.message),
        None => (String::new(), format!("the service answered {status}")),
    };
    let kind = match code.as_str() {
        "age_not_confirmed" => ErrorKind::AgeNotConfirmed,
        "email_taken" => ErrorKind::EmailTaken,
        "invalid_credentials" => ErrorKind::InvalidCredentials,
        "invalid_input" => ErrorKind::InvalidInput,
        "quota_exceeded" => ErrorKind::QuotaExceeded,
        "unauthorized" => ErrorKind::Unauthorized,
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

fn engine_error(err: Error) -> coffer_engine::Error {
    use coffer_engine::ErrorKind as E;
    let kind = match err.kind {
        ErrorKind::Network => E::Network,
        ErrorKind::Unauthorized | ErrorKind::NotSignedIn => E::Unauthorized,
        ErrorKind::QuotaExceeded => E::QuotaExceeded,
        ErrorKind::NotFound => E::NotFound,
        ErrorKind::Integrity => E::Integrity,
        ErrorKind::InvalidInput => E::InvalidInput,
        _ => E::Storage,
    };
    coffer_engine::Error::new(kind, err.message)
}

impl Backend for ServiceClient {
    fn put(&self, kind: FileKind, id: &Id, bytes: &[u8]) -> coffer_engine::Result<()> {
        let url = self.object_url(kind, Some(id));
        self.send(true, || self.http.put(url.clone()).body(bytes.to_vec())).map_err(engine_error)?;
        Ok(())
    }

    fn get(&self, kind: FileKind, id: &Id) -> coffer_engine::Result<Vec<u8>> {
        let url = self.object_url(kind, Some(id));
        let response = self.send(true, || self.http.get(url.clone())).map_err(engine_error)?;
        read_body(response)
    }

    fn get_range(&self, kind: FileKind, id: &Id, offset: u64, len: u64) -> coffer_engine::Result<Vec<u8>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let url = self.object_url(kind, Some(id));
        let range = format!("bytes={}-{}", offset, offset + len - 1);
        let response =
            self.send(true, || self.http.get(url.clone()).header(reqwest::header::RANGE, &range)).map_err(engine_error)?;
        let bytes = read_body(response)?;
        if bytes.len() as u64 != len {
            return Err(coffer_engine::Error::new(
                coffer_engine::ErrorKind::Integrity,
                format!("the service returned {} bytes of {kind:?} {id} where {len} were asked for", bytes.len()),
            ));
        }
        Ok(bytes)
    }

    fn list(&self, kind: FileKind) -> coffer_engine::Result<Vec<ObjectInfo>> {
        let url = self.object_url(kind, None);
        let response = self.send(true, || self.http.get(url.clone())).map_err(engine_error)?;
        let listed: Vec<ListedObject> = response.json().map_err(|e| engine_error(decode_error(&e)))?;
        listed
            .into_iter()
            .map(|o| Ok(ObjectInfo { id: o.id.parse()?, size: o.size }))
            .collect()
    }

    fn remove(&self, kind: FileKind, id: &Id) -> coffer_engine::Result<()> {
        let url = self.object_url(kind, Some(id));
        self.send(true, || self.http.delete(url.clone())).map_err(engine_error)?;
        Ok(())
    }
}

fn read_body(response: Response) -> coffer_engine::Result<Vec<u8>> {
    response.bytes().map(|b| b.to_vec()).map_err(|e| {
        coffer_engine::Error::new(coffer_engine::ErrorKind::Network, format!("the download broke off: {e}"))
    })
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
    fn service_paths_keep_a_base_path() {
        let client = ServiceClient::new("https://example.com/coffer").unwrap();
        assert_eq!(client.url("v1/account").as_str(), "https://example.com/coffer/v1/account");
    }
}
