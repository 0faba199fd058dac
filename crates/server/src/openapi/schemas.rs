//! The JSON shapes of the API as the document describes them. Handlers
//! build their JSON field by field (so every `invalid_input` names its
//! field); these types only describe it, and `tests/openapi.rs` checks real
//! responses against them so the two cannot drift apart unnoticed.

#![allow(dead_code)]

use serde_json::Value;
use utoipa::ToSchema;

/// Every error: a stable machine `code` and a readable `message`.
#[derive(ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(ToSchema)]
pub struct ErrorDetail {
    /// `invalid_input`, `unauthorized`, `too_many_attempts`, … (docs/api.md).
    #[schema(example = "invalid_input")]
    pub code: String,
    #[schema(example = "email: must look like name@example.com")]
    pub message: String,
    /// With `account_deleted`: when the account is purged (Unix ms).
    pub purge_at: Option<i64>,
    /// With `too_many_attempts`: seconds until trying again is allowed (also
    /// in `Retry-After`).
    pub retry_after: Option<u64>,
}

#[derive(ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
    #[schema(example = "0.1.0")]
    pub version: String,
}

#[derive(ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: String,
    /// Each dependency: `ok` or `failed`.
    pub checks: ReadinessChecks,
}

#[derive(ToSchema)]
pub struct ReadinessChecks {
    pub database: String,
    pub objects: String,
}

/// A postal address; every part optional, each at most 200 characters.
#[derive(ToSchema)]
pub struct Address {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

/// The device-made wraps of a private key (the service does not look inside).
#[derive(ToSchema)]
pub struct WrappedKeys {
    #[schema(value_type = Object)]
    pub passphrase: Value,
    #[schema(value_type = Object)]
    pub recovery: Value,
}

#[derive(ToSchema)]
pub struct SignUpRequest {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// 10–1024 characters.
    pub password: String,
    /// Must be `true`: the person is at least 13.
    pub age_confirmed: bool,
    /// `default` or `private`.
    #[schema(example = "default")]
    pub key_mode: String,
    /// For `default`: standard base64 of the 32-byte data key.
    pub data_key: Option<String>,
    /// For `private`.
    pub wrapped_keys: Option<WrappedKeys>,
    pub address: Option<Address>,
}

#[derive(ToSchema)]
pub struct AccountCreated {
    pub account_id: String,
}

#[derive(ToSchema)]
pub struct Quota {
    pub used: u64,
    pub total: u64,
}

#[derive(ToSchema)]
pub struct Deletion {
    pub requested_at: i64,
    pub purge_at: i64,
}

/// The account as its owner sees it.
#[derive(ToSchema)]
pub struct AccountView {
    pub account_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub email_verified: bool,
    pub pending_email: Option<String>,
    pub address: Option<Address>,
    pub key_mode: String,
    pub key_changed_at: i64,
    pub created_at: i64,
    pub quota: Quota,
    pub totp_enabled: bool,
    pub policy_accepted_version: Option<String>,
    pub policy_accepted_at: Option<i64>,
    pub deletion: Option<Deletion>,
}

/// Any subset; `address: null` removes the address; a new `email` waits
/// for verification.
#[derive(ToSchema)]
pub struct ProfileChangeRequest {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub address: Option<Address>,
    pub email: Option<String>,
}

#[derive(ToSchema)]
pub struct PasswordChangeRequest {
    pub current_password: String,
    pub new_password: String,
}

#[derive(ToSchema)]
pub struct KeyView {
    pub key_mode: String,
    /// `default` mode: the escrowed data key, base64.
    pub data_key: Option<String>,
    /// `private` mode: the wraps exactly as the device sent them.
    pub wrapped_keys: Option<WrappedKeys>,
    pub changed_at: i64,
}

#[derive(ToSchema)]
pub struct KeyChangeRequest {
    pub key_mode: String,
    pub data_key: Option<String>,
    pub wrapped_keys: Option<WrappedKeys>,
    pub password: String,
}

#[derive(ToSchema)]
pub struct KeyChanged {
    pub key_mode: String,
    pub changed_at: i64,
}

#[derive(ToSchema)]
pub struct SignInRequest {
    pub email: String,
    pub password: String,
    pub device_id: Option<String>,
    pub device_name: Option<String>,
    pub app_version: Option<String>,
    /// With two-factor sign-in on: the current 6-digit code…
    pub totp_code: Option<String>,
    /// …or an unused recovery code.
    pub recovery_code: Option<String>,
}

#[derive(ToSchema)]
pub struct SignInResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub access_expires_at: i64,
    pub session_id: String,
    /// Same as `access_token`, for the 0.1 agent.
    pub token: String,
    pub account: AccountView,
}

#[derive(ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(ToSchema)]
pub struct RefreshResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub access_expires_at: i64,
    pub session_id: String,
    pub token: String,
}

/// A session record.
#[derive(ToSchema)]
pub struct SessionView {
    pub session_id: String,
    pub device_id: String,
    pub device_name: String,
    pub app_version: String,
    pub ip: Option<String>,
    pub started_at: i64,
    pub last_seen_at: i64,
    pub ended_at: Option<i64>,
    /// `signed_out`, `revoked`, `signed_out_everywhere`, `password_changed`,
    /// `password_reset`, `refresh_token_reused`, `account_deleted`.
    pub end_reason: Option<String>,
    pub active: bool,
    pub current: bool,
    pub requests: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub transfer_ms: u64,
}

#[derive(ToSchema)]
pub struct RevokeAllRequest {
    /// Keep this session [default: false].
    pub except_current: Option<bool>,
}

#[derive(ToSchema)]
pub struct RevokeAllResponse {
    pub ended: u64,
}

#[derive(ToSchema)]
pub struct TotpSetup {
    pub secret: String,
    pub otpauth_url: String,
}

#[derive(ToSchema)]
pub struct TotpEnableRequest {
    pub code: String,
}

#[derive(ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

#[derive(ToSchema)]
pub struct PasswordRequest {
    pub password: String,
}

#[derive(ToSchema)]
pub struct EmailRequest {
    pub email: String,
}

#[derive(ToSchema)]
pub struct CredentialsRequest {
    pub email: String,
    pub password: String,
}

#[derive(ToSchema)]
pub struct ResetConfirmRequest {
    pub token: String,
    pub new_password: String,
}

/// Communication preferences; `PUT` takes any subset.
#[derive(ToSchema)]
pub struct Preferences {
    pub product_announcements: bool,
    pub software_updates: bool,
    pub surveys_research: bool,
    pub newsletter: bool,
    pub operational_alerts: bool,
}

#[derive(ToSchema)]
pub struct Policy {
    pub version: String,
    pub text: String,
    pub published_at: i64,
}

#[derive(ToSchema)]
pub struct PolicyAcceptRequest {
    pub version: String,
}

#[derive(ToSchema)]
pub struct PolicyAccepted {
    pub policy_accepted_version: String,
    pub policy_accepted_at: i64,
}

#[derive(ToSchema)]
pub struct DeleteAccountRequest {
    pub password: String,
    /// Purge at once instead of after the grace period [default: false].
    pub purge_now: Option<bool>,
}

/// `purged: false` with `purge_at`/`purge_date` (scheduled), or
/// `purged: true` with `objects`/`bytes` (gone now).
#[derive(ToSchema)]
pub struct DeletionResponse {
    pub purged: bool,
    pub purge_at: Option<i64>,
    pub purge_date: Option<String>,
    pub objects: Option<u64>,
    pub bytes: Option<u64>,
}

/// Everything the service holds about the person (see docs/api.md).
#[derive(ToSchema)]
pub struct AccountExport {
    pub format: String,
    pub exported_at: i64,
    pub account: AccountView,
    pub preferences: Preferences,
    #[schema(value_type = Object)]
    pub two_factor: Value,
    pub password_changed_at: Option<i64>,
    pub sessions: Vec<SessionView>,
    #[schema(value_type = Vec<Object>)]
    pub devices: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub shares: Vec<Value>,
    #[schema(value_type = Object)]
    pub objects: Value,
}

#[derive(ToSchema)]
pub struct ObjectView {
    /// Lowercase hex BLAKE3 of the bytes.
    pub id: String,
    pub size: u64,
    pub created_at: i64,
}
