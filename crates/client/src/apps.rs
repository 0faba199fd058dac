//! Connected apps: scoped tokens the person makes so a third-party
//! application can reach their account (restore read-only, backup-only,
//! account read), each with an expiry. The token is shown once — it is
//! handed back as an [`AppToken`], which never serialises, so it cannot end
//! up in the catalog, a log or an IPC payload by accident.

use zeroize::Zeroizing;

use crate::agent::Agent;
use crate::error::{Error, ErrorKind, Result};
use crate::types::{AppConnected, AppScope, ConnectedApp};

/// Lifetime of a token when none is asked for, in days.
pub const DEFAULT_APP_EXPIRY_DAYS: u32 = 30;
/// The longest lifetime the service allows, in days.
pub const MAX_APP_EXPIRY_DAYS: u32 = 365;

/// A connected app's token: a secret, shown to the person once so they can
/// give it to the app. Not `Serialize`, and `Debug` does not print it.
pub struct AppToken(Zeroizing<String>);

impl AppToken {
    /// The token's text, to show the person once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AppToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppToken(<secret>)")
    }
}

impl AppConnected {
    /// The desktop's one answer that carries the token, for the person to
    /// see once (docs/ipc.md, *Secrets*).
    pub fn shown_once(app: ConnectedApp, token: AppToken) -> AppConnected {
        AppConnected { app, token: token.expose().to_owned() }
    }
}

impl Agent {
    /// The account's connected apps, newest first.
    ///
    /// # Errors
    /// `NotSignedIn`, `Unauthorized`, `Network`.
    pub fn connected_apps(&self) -> Result<Vec<ConnectedApp>> {
        self.service()?.connected_apps()
    }

    /// Connects an app: makes a token with `scopes` that works for
    /// `expires_in_days` days (30 when `None`). The token is only in the
    /// answer; the service keeps a hash of it.
    ///
    /// # Errors
    /// `InvalidInput` for an empty name, no scopes or an expiry outside
    /// 1–365 days (nothing is created then); `NotSignedIn`; `Network`.
    pub fn connect_app(&self, name: &str, scopes: &[AppScope], expires_in_days: Option<u32>) -> Result<(ConnectedApp, AppToken)> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "name: give the app a name you will recognise"));
        }
        if scopes.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "scopes: choose at least one of restore, backup and account_read"));
        }
        let days = expires_in_days.unwrap_or(DEFAULT_APP_EXPIRY_DAYS);
        if !(1..=MAX_APP_EXPIRY_DAYS).contains(&days) {
            return Err(Error::new(ErrorKind::InvalidInput, format!("expires: must be from 1 to {MAX_APP_EXPIRY_DAYS} days")));
        }
        let (app, token) = self.service()?.create_connected_app(name, scopes, days)?;
        Ok((app, AppToken(Zeroizing::new(token))))
    }

    /// Revokes a connected app (its token fails at once) and returns the
    /// apps left.
    ///
    /// # Errors
    /// `InvalidInput` for a malformed id; `NotFound` when the account has no
    /// such app; `NotSignedIn`; `Network`.
    pub fn revoke_app(&self, id: &str) -> Result<Vec<ConnectedApp>> {
        let id = id.trim();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::new(ErrorKind::InvalidInput, format!("“{id}” is not an app id (see `coffer apps`)")));
        }
        let service = self.service()?;
        service.revoke_connected_app(id)?;
        service.connected_apps()
    }
}
