//! The engine's one error type.

use std::fmt;

/// What went wrong, for callers to match on. Messages are for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The object, snapshot or blob does not exist.
    NotFound,
    /// A local file-system operation failed.
    Io,
    /// Stored data failed authentication or is malformed: damage or tampering.
    Integrity,
    /// The caller passed something unusable (bad id, bad options, bad path).
    InvalidInput,
    /// The storage backend failed for another reason.
    Storage,
    /// The storage refused the write because the account is full.
    QuotaExceeded,
    /// The storage refused the credentials.
    Unauthorized,
    /// The storage could not be reached.
    Network,
    /// The operation was stopped on request.
    Cancelled,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::Io => "i/o error",
            ErrorKind::Integrity => "integrity error",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Storage => "storage error",
            ErrorKind::QuotaExceeded => "quota exceeded",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Network => "network error",
            ErrorKind::Cancelled => "cancelled",
        };
        f.write_str(s)
    }
}

/// An engine error: a [`ErrorKind`], a message naming what failed, and
/// optionally the underlying cause.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// `Result` with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// An error of `kind` with a message and the underlying cause.
    pub fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        Error {
            kind,
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, as shown by `Display`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Same error with `context: ` prepended to the message.
    pub fn context(mut self, context: impl fmt::Display) -> Error {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// Wraps an I/O error with a message naming what was being done.
    pub(crate) fn io(what: impl fmt::Display, err: std::io::Error) -> Error {
        let kind = if err.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::NotFound
        } else {
            ErrorKind::Io
        };
        Error::with_source(kind, format!("{what}: {err}"), err)
    }

    pub(crate) fn integrity(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Integrity, message)
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Error {
        let kind = if err.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::NotFound
        } else {
            ErrorKind::Io
        };
        Error::with_source(kind, err.to_string(), err)
    }
}
