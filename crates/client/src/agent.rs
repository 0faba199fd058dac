//! The agent: one device's view of one Coffer account. The CLI and the
//! desktop app are thin shells over this type.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use coffer_engine::{Backend, DataKey, Id, Repository};

use crate::catalog::{Catalog, RunOutcome};
use crate::error::{Error, ErrorKind, Result};
use crate::secrets::{Keychain, ProcessMemory, Secret, SecretStore};
use crate::service::{self, DeviceIdentity, NewAccount, ServiceClient};
use crate::types::*;

/// The service an agent talks to until told otherwise: the embedded default on this machine.
pub const DEFAULT_SERVER_URL: &str = "http://127.0.0.1:8750";

/// The keychain service name real installs use; tests and development pass another.
pub const KEYCHAIN_SERVICE: &str = "coffer";

const CATALOG_FILE: &str = "catalog.sqlite";

/// Where an agent keeps its state and how it finds its secrets.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// The folder holding the catalog. One folder = one agent.
    pub config_dir: PathBuf,
    /// The keychain service name under which secrets are filed.
    pub keychain_service: String,
    /// Whether to use the OS keychain at all (false: process memory only).
    pub use_keychain: bool,
}

impl AgentOptions {
    pub fn new(config_dir: impl Into<PathBuf>) -> Self {
        AgentOptions { config_dir: config_dir.into(), keychain_service: KEYCHAIN_SERVICE.to_owned(), use_keychain: true }
    }
}

/// The default folder for the agent's state: `$COFFER_CONFIG_DIR`, else the
/// platform's data folder (`~/.local/share/coffer` on Linux).
pub fn default_config_dir() -> PathBuf {
    match std::env::var_os("COFFER_CONFIG_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("coffer"),
    }
}

pub struct Agent {
    catalog: Catalog,
    secrets: Box<dyn SecretStore>,
    keychain_available: bool,
    running: AtomicBool,
    progress: Mutex<Option<BackupProgress>>,
}

/// Marks the agent busy for as long as it lives.
struct RunGuard<'a>(&'a AtomicBool);

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn device_name() -> String {
    let name = gethostname::gethostname().to_string_lossy().trim().to_owned();
    if name.is_empty() {
        "This computer".to_owned()
    } else {
        name
    }
}

mod keys {
    pub const SERVER_URL: &str = "server_url";
    pub const DEVICE_ID: &str = "device_id";
    pub const ACCOUNT_ID: &str = "account_id";
    pub const EMAIL: &str = "email";
    pub const FIRST_NAME: &str = "first_name";
    pub const LAST_NAME: &str = "last_name";
}

impl Agent {
    /// Opens the agent whose state is in `options.config_dir`, creating it on
    /// first use.
    ///
    /// # Errors
    /// `Io` when the folder or catalog cannot be created or opened.
    pub fn open(options: &AgentOptions) -> Result<Agent> {
        std::fs::create_dir_all(&options.config_dir)
            .map_err(|e| Error::io(format!("cannot create {}", options.config_dir.display()), e))?;
        let catalog = Catalog::open(&options.config_dir.join(CATALOG_FILE))?;
        let device_id = match catalog.setting(keys::DEVICE_ID)? {
            Some(id) => id,
            None => {
                let id = hex::encode(rand::random::<[u8; 16]>());
                catalog.set_setting(keys::DEVICE_ID, &id)?;
                id
            }
        };
        let keychain = if options.use_keychain { Keychain::probe(&options.keychain_service, &device_id) } else { None };
        let keychain_available = keychain.is_some();
        let secrets: Box<dyn SecretStore> = match keychain {
            Some(k) => Box::new(k),
            None => Box::new(ProcessMemory::default()),
        };
        Ok(Agent { catalog, secrets, keychain_available, running: AtomicBool::new(false), progress: Mutex::new(None) })
    }

    /// Whether secrets survive this process (an OS keychain is reachable).
    pub fn keychain_available(&self) -> bool {
        self.keychain_available
    }

    /// The service this agent talks to.
    pub fn server_url(&self) -> String {
        self.catalog.setting(keys::SERVER_URL).ok().flatten().unwrap_or_else(|| DEFAULT_SERVER_URL.to_owned())
    }

    /// Points the agent at another service. Only allowed while signed out.
    ///
    /// # Errors
    /// `InvalidInput` for an unusable URL; `Busy` while signed in.
    pub fn set_server_url(&self, url: &str) -> Result<()> {
        let parsed = service::parse_service_url(url)?;
        let url = parsed.as_str().trim_end_matches('/');
        if url == self.server_url() {
            return Ok(());
        }
        if self.is_signed_in()? {
            return Err(Error::new(ErrorKind::Busy, "sign out before switching to another service"));
        }
        self.catalog.set_setting(keys::SERVER_URL, url)
    }

    fn device_id(&self) -> Result<String> {
        self.catalog
            .setting(keys::DEVICE_ID)?
            .ok_or_else(|| Error::new(ErrorKind::Io, "the catalog lost its device id"))
    }

    /// The email of the account this agent belongs to, if any.
    pub fn account_email(&self) -> Result<Option<String>> {
        self.catalog.setting(keys::EMAIL)
    }

    /// True when this agent holds a session (it may still have expired on the service).
    pub fn is_signed_in(&self) -> Result<bool> {
        Ok(self.catalog.setting(keys::ACCOUNT_ID)?.is_some() && self.secrets.get(Secret::SessionToken)?.is_some())
    }

    fn account_info(&self) -> Result<AccountInfo> {
        let get = |key| -> Result<String> {
            self.catalog.setting(key)?.ok_or_else(|| Error::new(ErrorKind::NotSignedIn, "sign in to Coffer first"))
        };
        Ok(AccountInfo {
            account_id: get(keys::ACCOUNT_ID)?,
            first_name: get(keys::FIRST_NAME)?,
            last_name: get(keys::LAST_NAME)?,
            email: get(keys::EMAIL)?,
            server_url: self.server_url(),
        })
    }

    /// Everything the app needs at start, without contacting the service.
    pub fn status(&self) -> AppStatus {
        let signed_in = self.is_signed_in().unwrap_or(false);
        AppStatus {
            signed_in,
            account: if signed_in { self.account_info().ok() } else { None },
            server_url: self.server_url(),
            keychain_available: self.keychain_available,
            backup: self.current_progress(),
        }
    }

    /// The backup in progress, if one runs.
    pub fn current_progress(&self) -> Option<BackupProgress> {
        self.progress.lock().expect("progress lock").clone()
    }

    fn use_server(&self, server_url: Option<&str>) -> Result<ServiceClient> {
        if let Some(url) = server_url.map(str::trim).filter(|u| !u.is_empty()) {
            let parsed = service::parse_service_url(url)?;
            let url = parsed.as_str().trim_end_matches('/').to_owned();
            if url != self.server_url() {
                self.forget_session()?;
                self.catalog.set_setting(keys::SERVER_URL, &url)?;
            }
        }
        ServiceClient::new(&self.server_url())
    }

    /// Creates an account with a new data key (escrowed: the default-key
    /// mode), then signs this device in.
    ///
    /// # Errors
    /// `InvalidInput` naming the field, `AgeNotConfirmed`, `EmailTaken`, `Network`.
    pub fn sign_up(&self, request: &SignUpRequest) -> Result<AccountInfo> {
        if !request.confirm_age {
            return Err(Error::new(ErrorKind::AgeNotConfirmed, "You must be at least 13 years old to use Coffer."));
        }
        let service = self.use_server(request.server_url.as_deref())?;
        let key = DataKey::generate();
        service.sign_up(&NewAccount {
            first_name: request.first_name.trim(),
            last_name: request.last_name.trim(),
            email: request.email.trim(),
            password: &request.password,
            age_confirmed: request.confirm_age,
            key_mode: "default",
            data_key: service::encode_key(&key),
        })?;
        self.sign_in(&SignInRequest { email: request.email.clone(), password: request.password.clone(), server_url: None })
    }

    /// Signs this device in, fetching the account's data key.
    ///
    /// # Errors
    /// `InvalidCredentials`, `Network`, `NoKeychain` when the keychain fails mid-way.
    pub fn sign_in(&self, request: &SignInRequest) -> Result<AccountInfo> {
        let service = self.use_server(request.server_url.as_deref())?;
        let device_id = self.device_id()?;
        let name = device_name();
        let grant = service.sign_in(request.email.trim(), &request.password, &DeviceIdentity { id: &device_id, name: &name })?;
        let service = service.with_token(grant.token.clone());
        let key = service.escrowed_key()?;
        let account = grant.account;
        if self.catalog.setting(keys::ACCOUNT_ID)?.as_deref() != Some(account.account_id.as_str()) {
            // Another account's content ids mean nothing under this one's key.
            self.catalog.forget_files()?;
        }
        self.secrets.set(Secret::SessionToken, &grant.token)?;
        self.secrets.set(Secret::DataKey, &service::encode_key(&key))?;
        self.catalog.set_setting(keys::ACCOUNT_ID, &account.account_id)?;
        self.catalog.set_setting(keys::EMAIL, &account.email)?;
        self.catalog.set_setting(keys::FIRST_NAME, &account.first_name)?;
        self.catalog.set_setting(keys::LAST_NAME, &account.last_name)?;
        self.account_info()
    }

    /// Ends the session on the service (when reachable) and forgets this
    /// device's secrets. Chosen folders stay for the next sign-in.
    ///
    /// # Errors
    /// `NoKeychain` when the keychain refuses to forget.
    pub fn sign_out(&self) -> Result<()> {
        if let Ok(service) = self.service() {
            // Signing out works offline too; the session then ends when it expires.
            let _ = service.sign_out();
        }
        self.forget_session()
    }

    fn forget_session(&self) -> Result<()> {
        self.secrets.delete(Secret::SessionToken)?;
        self.secrets.delete(Secret::DataKey)?;
        Ok(())
    }

    fn service(&self) -> Result<ServiceClient> {
        let token = self
            .secrets
            .get(Secret::SessionToken)?
            .ok_or_else(|| Error::new(ErrorKind::NotSignedIn, "sign in to Coffer first"))?;
        Ok(ServiceClient::new(&self.server_url())?.with_token(token))
    }

    fn repository(&self) -> Result<Repository> {
        let service = self.service()?;
        let key = match self.secrets.get(Secret::DataKey)? {
            Some(text) => service::decode_key(&text)?,
            None => {
                let key = service.escrowed_key()?;
                self.secrets.set(Secret::DataKey, &service::encode_key(&key))?;
                key
            }
        };
        let backend: Arc<dyn Backend> = Arc::new(service);
        Ok(Repository::open(backend, &key)?)
    }

    pub fn folders(&self) -> Result<Vec<FolderInfo>> {
        Ok(self
            .catalog
            .folders()?
            .into_iter()
            .map(|f| FolderInfo { path: f.path.to_string_lossy().into_owned(), added_at: f.added_at })
            .collect())
    }

    /// Chooses a folder to back up.
    ///
    /// # Errors
    /// `InvalidInput` when the path is empty, relative after resolving, not a
    /// folder, or inside/around an already chosen folder; `NotFound` when it
    /// does not exist.
    pub fn add_folder(&self, path: &str) -> Result<Vec<FolderInfo>> {
        let path = path.trim();
        if path.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "type or pick the folder to back up"));
        }
        let resolved = std::fs::canonicalize(expand_home(path)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::new(ErrorKind::NotFound, format!("{path} does not exist")),
            _ => Error::io(format!("cannot open {path}"), e),
        })?;
        if !resolved.is_dir() {
            return Err(Error::new(ErrorKind::InvalidInput, format!("{} is a file, not a folder", resolved.display())));
        }
        for folder in self.catalog.folders()? {
            if folder.path == resolved {
                return self.folders();
            }
            if resolved.starts_with(&folder.path) {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("{} is already backed up as part of {}", resolved.display(), folder.path.display()),
                ));
            }
            if folder.path.starts_with(&resolved) {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("{} contains {}, which is already chosen: remove that first", resolved.display(), folder.path.display()),
                ));
            }
        }
        self.catalog.add_folder(&resolved, now_ms())?;
        self.folders()
    }

    /// Stops backing up a folder. Its earlier backups stay restorable.
    ///
    /// # Errors
    /// `NotFound` when it was not chosen.
    pub fn remove_folder(&self, path: &str) -> Result<Vec<FolderInfo>> {
        self.catalog.remove_folder(Path::new(path.trim()))?;
        self.folders()
    }

    /// The account as the service sees it, with the storage quota.
    ///
    /// # Errors
    /// `NotSignedIn`, `Unauthorized`, `Network`.
    pub fn quota(&self) -> Result<Quota> {
        let account = self.service()?.account()?;
        Ok(Quota { used: account.quota.used, total: account.quota.total })
    }

    /// The dashboard: account, folders, last backup and storage used.
    ///
    /// # Errors
    /// `NotSignedIn`, `Unauthorized`, `Network`.
    pub fn dashboard(&self) -> Result<Dashboard> {
        let account = self.account_info()?;
        let quota = self.quota()?;
        let last_backup = self.snapshots()?.into_iter().next();
        Ok(Dashboard { account, folders: self.folders()?, last_backup, quota, backup: self.current_progress() })
    }

    /// Backs up every chosen folder now and commits a snapshot.
    /// `progress` is called as files are scanned and uploaded.
    ///
    /// # Errors
    /// `Busy` when a backup already runs; `InvalidInput` when no folder is
    /// chosen; `NotSignedIn`, `Network`, `QuotaExceeded`, `Unauthorized`.
    pub fn backup_now(&self, progress: &mut dyn FnMut(&BackupProgress)) -> Result<BackupReport> {
        if self.running.swap(true, Ordering::SeqCst) {
            return Err(Error::new(ErrorKind::Busy, "a backup is already running"));
        }
        let _guard = RunGuard(&self.running);
        let folders = self.catalog.folders()?;
        if folders.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "choose a folder to back up first"));
        }
        let mut repo = self.repository()?;
        let options = coffer_engine::BackupOptions {
            roots: folders.into_iter().map(|f| f.path).collect(),
            device_name: device_name(),
            device_id: self.device_id()?,
            time: now_ms(),
            ..Default::default()
        };
        let run = self.catalog.begin_run(options.time)?;
        let mut on_progress = |p: &coffer_engine::BackupProgress| {
            let view = progress_view(p);
            *self.progress.lock().expect("progress lock") = Some(view.clone());
            progress(&view);
        };
        let result = coffer_engine::backup(&mut repo, &options, &self.catalog, &mut on_progress);
        *self.progress.lock().expect("progress lock") = None;
        let summary = match result {
            Ok(summary) => summary,
            Err(err) => {
                let err = Error::from(err);
                self.catalog.fail_run(run, now_ms(), &err.message)?;
                return Err(err);
            }
        };
        let finished_at = now_ms();
        self.catalog.finish_run(
            run,
            finished_at,
            &RunOutcome {
                snapshot_id: summary.snapshot_id,
                files_total: summary.files_total,
                files_read: summary.files_read,
                bytes_read: summary.bytes_read,
                bytes_uploaded: summary.bytes_uploaded,
                skipped: summary.skipped.len() as u64,
            },
        )?;
        Ok(BackupReport {
            snapshot_id: summary.snapshot_id.to_hex(),
            files_total: summary.files_total,
            files_read: summary.files_read,
            bytes_read: summary.bytes_read,
            bytes_uploaded: summary.bytes_uploaded,
            skipped: skipped_view(&summary.skipped),
            finished_at,
        })
    }

    /// Every committed backup of the account, newest first.
    ///
    /// # Errors
    /// `NotSignedIn`, `Unauthorized`, `Network`, `Integrity`.
    pub fn snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        let repo = self.repository()?;
        let mut list: Vec<SnapshotInfo> = repo
            .snapshots()?
            .into_iter()
            .map(|(id, s)| SnapshotInfo {
                id: id.to_hex(),
                time: s.time,
                device_name: s.device_name,
                roots: s.roots.into_iter().map(|r| r.path).collect(),
                files: s.files,
                bytes: s.bytes,
            })
            .collect();
        list.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| b.id.cmp(&a.id)));
        Ok(list)
    }

    /// Restores files of a snapshot into a folder.
    ///
    /// # Errors
    /// `InvalidInput` for an empty target or a malformed snapshot id;
    /// `NotFound` for an unknown snapshot; `Busy`; `Network`; `Io`.
    pub fn restore(&self, request: &RestoreRequest, progress: &mut dyn FnMut(&coffer_engine::RestoreProgress)) -> Result<RestoreSummary> {
        let target = request.target.trim();
        if target.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "choose the folder to restore into"));
        }
        let target = expand_home(target);
        if !target.is_absolute() {
            return Err(Error::new(ErrorKind::InvalidInput, "the restore folder must be a full path"));
        }
        let snapshot = self.resolve_snapshot(&request.snapshot_id)?;
        if self.running.swap(true, Ordering::SeqCst) {
            return Err(Error::new(ErrorKind::Busy, "a backup or restore is already running"));
        }
        let _guard = RunGuard(&self.running);
        std::fs::create_dir_all(&target).map_err(|e| Error::io(format!("cannot create {}", target.display()), e))?;
        let repo = self.repository()?;
        let options = coffer_engine::RestoreOptions { target: target.clone(), include: request.paths.clone() };
        let summary = coffer_engine::restore(&repo, &snapshot, &options, progress)?;
        Ok(RestoreSummary {
            files: summary.files,
            bytes: summary.bytes,
            target: target.to_string_lossy().into_owned(),
            skipped: skipped_view(&summary.skipped),
        })
    }

    /// A snapshot id from text: a full id, a unique prefix of one, or "latest".
    fn resolve_snapshot(&self, text: &str) -> Result<Id> {
        let text = text.trim().to_ascii_lowercase();
        let snapshots = self.snapshots()?;
        if text.is_empty() || text == "latest" {
            let latest = snapshots.first().ok_or_else(|| Error::new(ErrorKind::NotFound, "there is no backup yet"))?;
            return latest.id.parse().map_err(Error::from);
        }
        if !text.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::new(ErrorKind::InvalidInput, format!("“{text}” is not a snapshot id")));
        }
        let mut matches = snapshots.iter().filter(|s| s.id.starts_with(&text));
        match (matches.next(), matches.next()) {
            (Some(one), None) => one.id.parse().map_err(Error::from),
            (Some(_), Some(_)) => Err(Error::new(ErrorKind::InvalidInput, format!("“{text}” matches several snapshots; type more of the id"))),
            (None, _) => Err(Error::new(ErrorKind::NotFound, format!("no snapshot {text}"))),
        }
    }
}

fn expand_home(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => dirs::home_dir().map(|h| h.join(rest)).unwrap_or_else(|| PathBuf::from(path)),
        None => PathBuf::from(path),
    }
}

fn progress_view(p: &coffer_engine::BackupProgress) -> BackupProgress {
    BackupProgress {
        phase: match p.phase {
            coffer_engine::BackupPhase::Scanning => BackupPhase::Scanning,
            coffer_engine::BackupPhase::Uploading => BackupPhase::Uploading,
            coffer_engine::BackupPhase::Finishing => BackupPhase::Finishing,
            coffer_engine::BackupPhase::Done => BackupPhase::Done,
        },
        files_done: p.files_done,
        files_total: p.files_total,
        bytes_done: p.bytes_done,
        bytes_total: p.bytes_total,
        current_file: p.current_file.as_ref().map(|f| f.to_string_lossy().into_owned()),
    }
}

fn skipped_view(skipped: &[coffer_engine::Skipped]) -> Vec<SkippedFile> {
    skipped
        .iter()
        .map(|s| SkippedFile { path: s.path.to_string_lossy().into_owned(), reason: s.reason.clone() })
        .collect()
}
