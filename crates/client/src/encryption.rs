//! The account's encryption key on this device: unlocking a private key (or
//! with the recovery code), remembering it in the keychain or only for this
//! run, locking, changing the key, and switching key modes.

use coffer_engine::{key_strength, Backend, DataKey, FileKind, KdfParams, RecoveryCode, WrappedKey};

use crate::agent::{keys, Agent};
use crate::error::{Error, ErrorKind, Result};
use crate::secrets::Secret;
use crate::service::{self, AccountKey, AccountKeyUpdate, ServiceClient, WrappedKeys};
use crate::types::{KeyMode, KeyStatus, KeyStrength};

/// Refuses a private key that is too easy to guess, saying why.
///
/// # Errors
/// `InvalidInput` with the reason and a hint.
pub(crate) fn require_strong_key(secret: &str, context: &[&str]) -> Result<()> {
    if secret.is_empty() {
        return Err(Error::new(ErrorKind::InvalidInput, "private_key: choose your encryption key"));
    }
    key_strength(secret, context).require_acceptable().map(|_| ()).map_err(|e| {
        Error::new(ErrorKind::InvalidInput, format!("private_key: {}", e.message()))
    })
}

/// Wraps `key` under the person's secret and a new recovery code.
pub(crate) fn wrap_new_key(key: &DataKey, secret: &str) -> Result<(WrappedKeys, RecoveryCode)> {
    let code = RecoveryCode::generate();
    let wrapped = WrappedKeys {
        passphrase: WrappedKey::wrap(key, secret, KdfParams::default())?,
        recovery: WrappedKey::wrap(key, code.secret(), KdfParams::default())?,
    };
    Ok((wrapped, code))
}

fn wrong_key(err: coffer_engine::Error, what: &str) -> Error {
    match err.kind() {
        coffer_engine::ErrorKind::Integrity => Error::new(ErrorKind::WrongKey, format!("that {what} does not unlock this account")),
        _ => Error::from(err),
    }
}

impl Agent {
    /// Rates a proposed private key for the strength meter.
    pub fn key_strength(&self, secret: &str) -> KeyStrength {
        let email = self.account_email().ok().flatten().unwrap_or_default();
        let strength = key_strength(secret, &[email.as_str()]);
        KeyStrength { score: strength.score, acceptable: strength.is_acceptable(), message: strength.message }
    }

    /// Keeps an unlocked data key: in the keychain when `remember`, else in
    /// this process's memory only.
    pub(crate) fn keep_key(&self, key: &DataKey, remember: bool) -> Result<()> {
        if remember && self.keychain_available() {
            self.secrets.set(Secret::DataKey, &service::encode_key(key))?;
            *self.memory_key.lock().expect("key lock") = None;
        } else {
            self.secrets.delete(Secret::DataKey)?;
            *self.memory_key.lock().expect("key lock") = Some(key.clone());
        }
        self.forget_reader();
        Ok(())
    }

    /// Forgets the unlocked data key everywhere on this device.
    pub(crate) fn forget_key(&self) -> Result<()> {
        *self.memory_key.lock().expect("key lock") = None;
        self.forget_reader();
        self.secrets.delete(Secret::DataKey)
    }

    fn key_mode(&self) -> KeyMode {
        match self.catalog().setting(keys::KEY_MODE).ok().flatten().as_deref() {
            Some("private") => KeyMode::Private,
            _ => KeyMode::Default,
        }
    }

    /// A private-key account whose key is not unlocked on this device.
    pub(crate) fn is_locked(&self) -> bool {
        self.key_mode() == KeyMode::Private
            && self.memory_key.lock().expect("key lock").is_none()
            && !matches!(self.secrets.get(Secret::DataKey), Ok(Some(_)))
    }

    /// The data key: unlocked on this device, or (default-key accounts)
    /// fetched from the service's escrow.
    ///
    /// # Errors
    /// `Locked` for a private-key account whose key was not entered.
    pub(crate) fn data_key(&self, service: &ServiceClient) -> Result<DataKey> {
        if let Some(key) = self.memory_key.lock().expect("key lock").clone() {
            return Ok(key);
        }
        if let Some(text) = self.secrets.get(Secret::DataKey)? {
            return service::decode_key(&text);
        }
        match service.account_key()? {
            AccountKey::Default { key, .. } => {
                self.secrets.set(Secret::DataKey, &service::encode_key(&key))?;
                Ok(key)
            }
            AccountKey::Private { .. } => {
                self.catalog().set_setting(keys::KEY_MODE, "private")?;
                Err(Error::new(ErrorKind::Locked, "enter your encryption key to unlock your backups on this device"))
            }
        }
    }

    /// The key mode, when it last changed, and whether it is unlocked here.
    ///
    /// # Errors
    /// `NotSignedIn`, `Network`.
    pub fn key_status(&self) -> Result<KeyStatus> {
        let (mode, changed_at) = match self.service()?.account_key()? {
            AccountKey::Default { changed_at, .. } => (KeyMode::Default, changed_at),
            AccountKey::Private { changed_at, .. } => (KeyMode::Private, changed_at),
        };
        if mode == KeyMode::Private && self.key_mode() == KeyMode::Default && !self.key_switch_pending()? {
            // Another device switched the account to a private key: the
            // escrowed key this device kept opens none of the new backups.
            self.forget_key()?;
        }
        self.catalog().set_setting(keys::KEY_MODE, if mode == KeyMode::Private { "private" } else { "default" })?;
        let remembered = matches!(self.secrets.get(Secret::DataKey), Ok(Some(_)));
        Ok(KeyStatus {
            mode,
            changed_at,
            unlocked: remembered || self.memory_key.lock().expect("key lock").is_some() || mode == KeyMode::Default,
            remembered: remembered && mode == KeyMode::Private,
            switch_in_progress: self.key_switch_pending()?,
        })
    }

    fn wrapped_keys(&self) -> Result<WrappedKeys> {
        match self.service()?.account_key()? {
            AccountKey::Private { wrapped, .. } => Ok(wrapped),
            AccountKey::Default { .. } => Err(Error::new(ErrorKind::InvalidInput, "this account uses the default key: there is nothing to unlock")),
        }
    }

    /// Unlocks a private-key account on this device with its key.
    ///
    /// # Errors
    /// `WrongKey` when the key does not open the data key (nothing is kept then).
    pub fn unlock(&self, secret: &str, remember: bool) -> Result<KeyStatus> {
        let key = self.wrapped_keys()?.passphrase.unwrap(secret).map_err(|e| wrong_key(e, "key"))?;
        self.keep_key(&key, remember)?;
        self.key_status()
    }

    /// Unlocks with the recovery code (where the key is lost).
    ///
    /// # Errors
    /// `InvalidInput` for text that is not a recovery code; `WrongKey` for another code.
    pub fn unlock_with_recovery(&self, code: &str, remember: bool) -> Result<KeyStatus> {
        let code: RecoveryCode = code
            .parse()
            .map_err(|_| Error::new(ErrorKind::InvalidInput, "a recovery code has 24 letters and digits, e.g. 7KQ2-M9XD-…"))?;
        let key = self.wrapped_keys()?.recovery.unwrap(code.secret()).map_err(|e| wrong_key(e, "recovery code"))?;
        self.keep_key(&key, remember)?;
        self.key_status()
    }

    /// Forgets the unlocked key on this device ("Lock now").
    pub fn lock_now(&self) -> Result<KeyStatus> {
        self.forget_key()?;
        self.key_status()
    }

    /// Changes the private key: the data key is re-wrapped (no re-upload),
    /// the old wrap replaced; the recovery code stays valid.
    ///
    /// # Errors
    /// `WrongKey` for a wrong current key; `InvalidInput` for a weak new one;
    /// `InvalidCredentials` for a wrong account password.
    pub fn change_key(&self, current: &str, new: &str, password: &str) -> Result<KeyStatus> {
        let email = self.account_email()?.unwrap_or_default();
        require_strong_key(new, &[email.as_str()])?;
        let wrapped = self.wrapped_keys()?;
        let key = wrapped.passphrase.unwrap(current).map_err(|e| wrong_key(e, "current key"))?;
        let rewrapped = WrappedKeys { passphrase: WrappedKey::wrap(&key, new, KdfParams::default())?, recovery: wrapped.recovery };
        self.service()?.put_key(&AccountKeyUpdate::Private(&rewrapped), password)?;
        self.key_status()
    }

    /// Starts over after both the key and the recovery code are lost: every
    /// stored backup of the account is deleted (it cannot be opened by
    /// anyone) and a new data key is made — private with `new_key`, or the
    /// default key when `new_key` is None. Returns the new recovery code for
    /// a private key.
    ///
    /// # Errors
    /// `InvalidCredentials` for a wrong account password (nothing is deleted
    /// then); `InvalidInput` for a weak new key.
    pub fn start_over(&self, new_key: Option<&str>, password: &str) -> Result<Option<String>> {
        let email = self.account_email()?.unwrap_or_default();
        if let Some(secret) = new_key {
            require_strong_key(secret, &[email.as_str()])?;
        }
        let _guard = self.begin_exclusive("start over")?;
        // Starting over deletes every backup: it needs a fresh confirmation
        // before anything changes, not after the new key is in place.
        self.ensure_confirmed(password)?;
        let service = self.service()?;
        let key = DataKey::generate();
        // The new key material goes first: a wrong password stops everything here.
        let recovery = match new_key {
            Some(secret) => {
                let (wrapped, code) = wrap_new_key(&key, secret)?;
                service.put_key(&AccountKeyUpdate::Private(&wrapped), password)?;
                self.catalog().set_setting(keys::KEY_MODE, "private")?;
                Some(code.to_string())
            }
            None => {
                service.put_key(&AccountKeyUpdate::Default(&key), password)?;
                self.catalog().set_setting(keys::KEY_MODE, "default")?;
                None
            }
        };
        // Snapshots first, so no half-deleted backup is ever listed.
        for kind in [FileKind::Snapshot, FileKind::Index, FileKind::Pack] {
            for object in service.list(kind)? {
                match service.remove(kind, &object.id) {
                    Ok(()) => {}
                    Err(err) if err.kind() == coffer_engine::ErrorKind::NotFound => {}
                    Err(err) => return Err(err.into()),
                }
            }
        }
        self.catalog().forget_files()?;
        self.keep_key(&key, true)?;
        Ok(recovery)
    }

    /// Switches a private-key account to the default key: the person's key
    /// opens the data key, which is then escrowed with the service.
    ///
    /// # Errors
    /// `WrongKey`, `InvalidCredentials`.
    pub fn switch_to_default_key(&self, secret: &str, password: &str) -> Result<KeyStatus> {
        let key = self.wrapped_keys()?.passphrase.unwrap(secret).map_err(|e| wrong_key(e, "key"))?;
        self.service()?.put_key(&AccountKeyUpdate::Default(&key), password)?;
        self.catalog().set_setting(keys::KEY_MODE, "default")?;
        self.keep_key(&key, true)?;
        self.key_status()
    }
}
