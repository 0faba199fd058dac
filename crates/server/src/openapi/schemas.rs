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
    /// With `share_gone`: `revoked`, `expired` or `exhausted`.
    pub reason: Option<String>,
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
    /// Every share still listed, with its terms, state and (while its
    /// data is kept) recipients; never a key.
    pub shares: Vec<ShareView>,
    /// Connected apps with their scopes and last use; never a token.
    pub connected_apps: Vec<AppTokenView>,
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

#[derive(ToSchema)]
pub struct ConfirmRequest {
    pub password: String,
    /// With two-factor sign-in on: the current 6-digit code…
    pub totp_code: Option<String>,
    /// …or an unused recovery code.
    pub recovery_code: Option<String>,
}

/// A deletion grant: send it as `Coffer-Confirmation` on deleting requests
/// of this session.
#[derive(ToSchema)]
pub struct ConfirmResponse {
    /// 32 random bytes, base64url; stored hashed. A secret.
    pub confirmation: String,
    pub expires_at: i64,
    /// Seconds until `expires_at`.
    pub expires_in: u64,
}

/// The deletions one confirmation made, held until `purge_at`.
#[derive(ToSchema)]
pub struct HeldDeletion {
    pub id: String,
    /// When the password was confirmed.
    pub confirmed_at: i64,
    /// When the first of these was deleted.
    pub deleted_at: i64,
    pub device_id: String,
    pub device_name: String,
    pub session_id: String,
    pub snapshots: u64,
    pub indexes: u64,
    pub packs: u64,
    pub objects: u64,
    pub bytes: u64,
    /// When the last of them is purged for good.
    pub purge_at: i64,
    /// Whether the person was mailed about it yet.
    pub mailed: bool,
}

#[derive(ToSchema)]
pub struct DeletionCancelled {
    pub id: String,
    /// Objects put back.
    pub restored: u64,
}

/// Connect an app: a name the person recognises, the scopes it gets and how
/// long the token works.
#[derive(ToSchema)]
pub struct AppTokenRequest {
    /// 1–100 characters.
    #[schema(example = "Photo frame")]
    pub name: String,
    /// One or more of `restore` (list and read objects and snapshots),
    /// `backup` (list and store objects, commit snapshots; never read or
    /// delete) and `account_read` (profile, preferences, sessions).
    #[schema(example = json!(["restore"]))]
    pub scopes: Vec<String>,
    /// 1–365 [default: 30].
    pub expires_in_days: Option<u64>,
}

/// A connected app as listed (never its secret).
#[derive(ToSchema)]
pub struct AppTokenView {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub expired: bool,
    /// The last request it made, if any.
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    /// Requests made with it.
    pub uses: u64,
}

/// A new connected app, with its token: shown only in this answer.
#[derive(ToSchema)]
pub struct AppTokenCreated {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub expired: bool,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub uses: u64,
    /// `coffer_app_` + 43 characters (32 random bytes, base64url); send as
    /// `Authorization: Bearer`. A secret: stored by the service only as its
    /// SHA-256.
    pub token: String,
}

/// Share files: who gets the link and on what terms. The files themselves
/// are uploaded next, encrypted, as the manifest and `parts` parts.
#[derive(ToSchema)]
pub struct ShareRequest {
    /// Up to 20 emails mailed a notice (the link without its key) when the
    /// upload completes; kept only while the share's data exists.
    pub recipients: Option<Vec<String>>,
    /// 1–90 [default: 7].
    pub expires_in_days: Option<u64>,
    /// 8–1024 characters; recipients must type it (checked by the service,
    /// stored as an Argon2id hash).
    pub password: Option<String>,
    /// 1–1000 downloads [default: unlimited].
    pub max_downloads: Option<u64>,
    /// How many parts will be uploaded (1–100000).
    pub parts: u64,
}

/// A share as its owner sees it.
#[derive(ToSchema)]
pub struct ShareView {
    pub id: String,
    /// `uploading`, `active`, `expired`, `exhausted` or `revoked`.
    pub state: String,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    pub expires_at: i64,
    /// Whether it needs a password.
    pub password: bool,
    pub max_downloads: Option<u64>,
    /// Times it was opened for download.
    pub downloads: u64,
    /// Empty once its data was removed.
    pub recipients: Vec<String>,
    pub parts: u64,
    /// Bytes stored for it (counted against the quota).
    pub bytes: u64,
    pub revoked_at: Option<i64>,
    /// When its data and recipients were removed.
    pub removed_at: Option<i64>,
}

#[derive(ToSchema)]
/// An empty object. The service never takes a share's key (a `link_key`
/// field is refused with `400`); the owner sends the full link.
pub struct ShareCompleteRequest {}

#[derive(ToSchema)]
pub struct ShareCompleted {
    pub id: String,
    /// `active`.
    pub state: String,
    /// Recipients mailed.
    pub mailed: u64,
}

/// What a recipient's page learns before opening a share.
#[derive(ToSchema)]
pub struct ShareInfo {
    pub id: String,
    pub password_required: bool,
    pub expires_at: i64,
    /// `null` when unlimited.
    pub downloads_left: Option<u64>,
    pub bytes: u64,
}

#[derive(ToSchema)]
pub struct ShareOpenRequest {
    /// When the share has one.
    pub password: Option<String>,
}

/// One download of a share: send the ticket as `Coffer-Share-Ticket`.
#[derive(ToSchema)]
pub struct ShareOpened {
    /// 32 random bytes, base64url; works for 6 hours. A secret.
    pub ticket: String,
    pub expires_at: i64,
    pub manifest_bytes: u64,
    /// The size of each part, in order.
    pub part_bytes: Vec<u64>,
}
