//! Where the agent keeps its secrets: the session token and the unlocked data
//! key. The OS keychain when there is one; otherwise only this process's
//! memory, for as long as it runs. Never a plain file.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::{Error, ErrorKind, Result};

/// The secrets an agent keeps, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Secret {
    SessionToken,
    RefreshToken,
    DataKey,
}

impl Secret {
    fn name(self) -> &'static str {
        match self {
            Secret::SessionToken => "session-token",
            Secret::RefreshToken => "refresh-token",
            Secret::DataKey => "data-key",
        }
    }
}

/// A place for secrets.
pub trait SecretStore: Send + Sync {
    fn get(&self, secret: Secret) -> Result<Option<String>>;
    fn set(&self, secret: Secret, value: &str) -> Result<()>;
    fn delete(&self, secret: Secret) -> Result<()>;
}

/// The operating system's keychain (Secret Service on Linux, Keychain on
/// macOS, Credential Manager on Windows), through `keyring`.
pub struct Keychain {
    service: String,
    device_id: String,
}

impl Keychain {
    /// The keychain entries of one agent (one device id), under `service`.
    /// Returns `None` when no keychain is reachable on this machine.
    pub fn probe(service: &str, device_id: &str) -> Option<Keychain> {
        let keychain = Keychain { service: service.to_owned(), device_id: device_id.to_owned() };
        let entry = keychain.entry("probe").ok()?;
        entry.set_password("coffer keychain probe").ok()?;
        let read = entry.get_password().ok()?;
        let _ = entry.delete_credential();
        (read == "coffer keychain probe").then_some(keychain)
    }

    fn entry(&self, name: &str) -> keyring::Result<keyring::Entry> {
        keyring::Entry::new(&self.service, &format!("{}/{name}", self.device_id))
    }
}

fn keychain_error(err: keyring::Error) -> Error {
    Error::new(ErrorKind::NoKeychain, format!("the system keychain failed: {err}"))
}

impl SecretStore for Keychain {
    fn get(&self, secret: Secret) -> Result<Option<String>> {
        match self.entry(secret.name()).and_then(|e| e.get_password()) {
            Ok(value) => Ok(Some(value)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(keychain_error(err)),
        }
    }

    fn set(&self, secret: Secret, value: &str) -> Result<()> {
        self.entry(secret.name()).and_then(|e| e.set_password(value)).map_err(keychain_error)
    }

    fn delete(&self, secret: Secret) -> Result<()> {
        match self.entry(secret.name()).and_then(|e| e.delete_credential()) {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(err) => Err(keychain_error(err)),
        }
    }
}

/// Secrets held only in this process's memory: what an agent uses when the
/// machine has no keychain (a headless server), so nothing touches a disk.
#[derive(Default)]
pub struct ProcessMemory {
    values: Mutex<HashMap<Secret, String>>,
}

impl SecretStore for ProcessMemory {
    fn get(&self, secret: Secret) -> Result<Option<String>> {
        Ok(self.values.lock().expect("secrets lock").get(&secret).cloned())
    }

    fn set(&self, secret: Secret, value: &str) -> Result<()> {
        self.values.lock().expect("secrets lock").insert(secret, value.to_owned());
        Ok(())
    }

    fn delete(&self, secret: Secret) -> Result<()> {
        self.values.lock().expect("secrets lock").remove(&secret);
        Ok(())
    }
}
