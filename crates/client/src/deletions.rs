//! Deleting needs the person, not only their device. The service refuses to
//! delete backups or data with a device's stored session alone; the person
//! confirms with their password (and two-factor code, when on), and the
//! agent keeps the short-lived deletion grant in memory — never in the
//! catalog, the keychain, a log or an IPC payload. Deleted backups are held
//! by the service for 7 days, listed here, and can be put back.

use std::time::Duration;

use crate::agent::Agent;
use crate::error::{Error, ErrorKind, Result};
use crate::types::{CleanupWaiting, ConfirmationStatus, HeldDeletion};

/// The catalog setting that records automatic cleanup waiting for the
/// person's confirmation.
const CLEANUP_WAITING: &str = "cleanup_waiting";

/// A deleting job starts only with at least this much time left on its
/// grant, so the grant does not run out half-way.
const MIN_GRANT_LEFT: Duration = Duration::from_secs(10 * 60);

impl Agent {
    /// Confirms it is the person: checks the password (and the two-factor
    /// or a recovery code, when two-factor sign-in is on) with the service
    /// and keeps the deletion grant it hands back in memory, for about an
    /// hour. Deleting (cleaning up old versions, a key switch's removal of
    /// old copies, a repair) works until then.
    ///
    /// # Errors
    /// `InvalidInput` for an empty password or a wrong code;
    /// `InvalidCredentials` for a wrong password; `TotpRequired` when the
    /// account needs a code and none was given; `NotSignedIn`; `Network`.
    pub fn confirm_identity(&self, password: &str, code: Option<&str>) -> Result<ConfirmationStatus> {
        if password.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "password: type your Coffer password"));
        }
        let confirmed_until = self.service()?.confirm(password, code)?;
        Ok(ConfirmationStatus { confirmed_until })
    }

    /// Fails unless a confirmation with enough time left is held.
    ///
    /// # Errors
    /// `ConfirmationRequired`; `NotSignedIn`.
    pub(crate) fn require_confirmation(&self) -> Result<()> {
        match self.service()?.confirmation_left() {
            Some(left) if left >= MIN_GRANT_LEFT => Ok(()),
            _ => Err(Error::new(ErrorKind::ConfirmationRequired, crate::error::CONFIRMATION_REQUIRED)),
        }
    }

    /// For jobs that are given the account password anyway (a key switch,
    /// starting over): confirms with it unless a confirmation is held. An
    /// account with two-factor sign-in also needs its code, so then this
    /// asks for a confirmation first ([`Agent::confirm_identity`]).
    ///
    /// # Errors
    /// `InvalidCredentials` for a wrong password; `ConfirmationRequired`
    /// when a two-factor code is needed; `NotSignedIn`; `Network`.
    pub fn ensure_confirmed(&self, password: &str) -> Result<()> {
        if self.require_confirmation().is_ok() {
            return Ok(());
        }
        match self.service()?.confirm(password, None) {
            Ok(_) => Ok(()),
            Err(err) if err.kind == ErrorKind::TotpRequired => Err(Error::new(
                ErrorKind::ConfirmationRequired,
                "deleting backups needs your two-factor code too: confirm it's you with your password and code, then try again",
            )),
            Err(err) => Err(err),
        }
    }

    /// Backups and data deleted and held by the service (7 days from their
    /// deletion), newest first.
    ///
    /// # Errors
    /// `NotSignedIn`, `Unauthorized`, `Network`.
    pub fn held_deletions(&self) -> Result<Vec<HeldDeletion>> {
        self.service()?.held_deletions()
    }

    /// Puts a held deletion back: its backups are listed and restorable
    /// again. Returns the deletions still held.
    ///
    /// # Errors
    /// `NotFound` when it is unknown, already purged or put back.
    pub fn cancel_held_deletion(&self, id: &str) -> Result<Vec<HeldDeletion>> {
        let id = id.trim();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::new(ErrorKind::InvalidInput, format!("“{id}” is not a deletion id (see `coffer deletions`)")));
        }
        let service = self.service()?;
        service.cancel_held_deletion(id)?;
        // The snapshots this device had read are out of date.
        self.forget_reader();
        service.held_deletions()
    }

    /// Automatic cleanup waiting for the person's confirmation, if it is.
    ///
    /// # Errors
    /// `Io` when the catalog cannot be read.
    pub fn cleanup_waiting(&self) -> Result<Option<CleanupWaiting>> {
        self.load_setting(CLEANUP_WAITING)
    }

    pub(crate) fn set_cleanup_waiting(&self, waiting: Option<&CleanupWaiting>) -> Result<()> {
        match waiting {
            Some(waiting) => self.store_setting(CLEANUP_WAITING, waiting),
            None => self
                .catalog()
                .with_connection(|conn| conn.execute("DELETE FROM settings WHERE key = ?1", [CLEANUP_WAITING]).map(drop)),
        }
    }
}
