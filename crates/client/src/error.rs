//! The agent's one error type. Its kind crosses IPC as a tag the UI can
//! switch on; its message is readable text for a person.

use serde::Serialize;
use ts_rs::TS;

/// What went wrong, in terms a caller (the CLI, the app's UI) acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The service could not be reached.
    Network,
    /// The service refused the session: signed out elsewhere, expired or revoked.
    Unauthorized,
    /// The account is scheduled for deletion: signing in is refused (the
    /// message says until when it can be restored) and a running session
    /// ends, as with `Unauthorized`.
    AccountDeleted,
    /// This agent has no account yet.
    NotSignedIn,
    /// A value the person typed is not acceptable; the message names it.
    InvalidInput,
    /// Sign-up without confirming the person is at least 13.
    AgeNotConfirmed,
    /// Sign-up with an email that already has an account.
    EmailTaken,
    /// Wrong email or password.
    InvalidCredentials,
    /// The account has two-factor sign-in: ask for the code and try again.
    TotpRequired,
    /// Deleting backups needs the person to confirm it is them (password
    /// and, when on, the two-factor code): ask, confirm, and try again.
    ConfirmationRequired,
    /// The account's storage is full.
    QuotaExceeded,
    /// No OS keychain is reachable, and no password was given to work without one.
    NoKeychain,
    /// Another backup or restore is already running.
    Busy,
    /// The thing asked for does not exist (a snapshot, a folder, a path).
    NotFound,
    /// A local file or folder could not be read or written.
    Io,
    /// Stored data failed authentication or is damaged.
    Integrity,
    /// A private-key account whose key has not been entered on this device.
    Locked,
    /// The encryption key or recovery code entered does not open the data key.
    WrongKey,
    /// The service failed; the detail is in its log.
    Server,
}

/// An error of the agent: a kind to match on and a message to show.
#[derive(Debug, Clone, Serialize, TS, thiserror::Error)]
#[ts(rename = "IpcError")]
#[error("{message}")]
pub struct Error {
    #[serde(rename = "type")]
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The message of [`ErrorKind::ConfirmationRequired`].
pub(crate) const CONFIRMATION_REQUIRED: &str =
    "deleting backups needs you to confirm it's you: enter your password (and two-factor code, if it is on) and try again";

/// What the person reads when the service's storage is full (`507
/// storage_full`): a [`ErrorKind::Server`] failure, not their quota.
pub(crate) const STORAGE_FULL: &str = "the Coffer service has run out of storage space, so this could not be stored; \
     nothing already backed up was harmed. Try again later, or tell whoever runs the service";

/// What the person reads for a bare `5xx` (after the agent tried again,
/// when the request was one that may be sent twice).
pub(crate) const SERVICE_FAILED: &str =
    "the Coffer service failed and could not do this; try again later (the detail is in its log)";

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into() }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub(crate) fn io(context: impl std::fmt::Display, err: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, format!("{context}: {err}"))
    }
}

impl From<coffer_engine::Error> for Error {
    fn from(err: coffer_engine::Error) -> Self {
        use coffer_engine::ErrorKind as E;
        let kind = match err.kind() {
            E::NotFound => ErrorKind::NotFound,
            E::Io => ErrorKind::Io,
            E::Integrity => ErrorKind::Integrity,
            E::InvalidInput => ErrorKind::InvalidInput,
            // The service's refusal keeps its meaning through the engine.
            E::Storage if err.message().ends_with(CONFIRMATION_REQUIRED) => ErrorKind::ConfirmationRequired,
            E::Storage => ErrorKind::Server,
            E::QuotaExceeded => ErrorKind::QuotaExceeded,
            E::Unauthorized => ErrorKind::Unauthorized,
            E::Network => ErrorKind::Network,
            E::Cancelled => ErrorKind::Busy,
        };
        Error::new(kind, err.to_string())
    }
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        Error::new(ErrorKind::Io, format!("the local catalog failed: {err}"))
    }
}

impl From<rusqlite_migration::Error> for Error {
    fn from(err: rusqlite_migration::Error) -> Self {
        Error::new(ErrorKind::Io, format!("the local catalog could not be upgraded: {err}"))
    }
}
