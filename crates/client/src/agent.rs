//! The agent: one device's view of one Coffer account. The CLI and the
//! desktop app are thin shells over this type.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use std::collections::HashMap;

use coffer_engine::{Backend, DataKey, FileKind, Id, Repository, Snapshot};

use crate::browse::{self, TreeCache};
use crate::encryption::{require_strong_key, wrap_new_key};
use crate::exclusions::ExclusionRules;
use crate::scheduler::{Control, SchedulerShared};
use crate::throttle::Throttle;
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
    config_dir: PathBuf,
    catalog: Catalog,
    throttle: Arc<Throttle>,
    scheduler: SchedulerShared,
    pub(crate) secrets: Arc<dyn SecretStore>,
    /// An unlocked private key the person chose not to remember: this process only.
    pub(crate) memory_key: Mutex<Option<DataKey>>,
    keychain_available: bool,
    running: AtomicBool,
    progress: Mutex<Option<BackupProgress>>,
    /// A repository kept open for reading (browse, search, snapshots).
    reader: Mutex<Option<Repository>>,
    /// Snapshots are immutable: each is downloaded and decrypted once.
    snapshot_cache: Mutex<HashMap<Id, Snapshot>>,
    trees: TreeCache,
}

/// Marks the agent busy for as long as it lives.
pub(crate) struct RunGuard<'a>(&'a AtomicBool);

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

pub(crate) fn now_ms() -> i64 {
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

pub(crate) mod keys {
    pub const SERVER_URL: &str = "server_url";
    pub const DEVICE_ID: &str = "device_id";
    pub const ACCOUNT_ID: &str = "account_id";
    pub const EMAIL: &str = "email";
    pub const FIRST_NAME: &str = "first_name";
    pub const LAST_NAME: &str = "last_name";
    pub const EXCLUSIONS: &str = "exclusions";
    pub const SCHEDULE: &str = "schedule";
    pub const PAUSED_UNTIL: &str = "paused_until";
    pub const KEY_MODE: &str = "key_mode";
    pub const RETENTION: &str = "retention";
    pub const RETENTION_APPLIED_AT: &str = "retention_applied_at";
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
        let secrets: Arc<dyn SecretStore> = match keychain {
            Some(k) => Arc::new(k),
            None => Arc::new(ProcessMemory::default()),
        };
        let agent = Agent {
            config_dir: options.config_dir.clone(),
            catalog,
            throttle: Arc::default(),
            scheduler: SchedulerShared::default(),
            secrets,
            keychain_available,
            memory_key: Mutex::new(None),
            running: AtomicBool::new(false),
            progress: Mutex::new(None),
            reader: Mutex::new(None),
            snapshot_cache: Mutex::new(HashMap::new()),
            trees: TreeCache::default(),
        };
        agent.apply_limits(&agent.schedule()?);
        Ok(agent)
    }

    /// Claims the agent for a job that must not overlap a backup or restore.
    ///
    /// # Errors
    /// `Busy`, saying to `what` when the running job has finished.
    pub(crate) fn begin_exclusive(&self, what: &str) -> Result<RunGuard<'_>> {
        if self.running.swap(true, Ordering::SeqCst) {
            return Err(Error::new(ErrorKind::Busy, format!("a backup or restore is running; {what} when it has finished")));
        }
        Ok(RunGuard(&self.running))
    }

    /// The folder holding this agent's catalog.
    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    pub(crate) fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub(crate) fn scheduler_shared(&self) -> &SchedulerShared {
        &self.scheduler
    }

    /// Applies the bandwidth limits of `settings` to every transfer, running ones included.
    pub(crate) fn apply_limits(&self, settings: &ScheduleSettings) {
        let kib = |limit: Option<u32>| limit.map_or(0, |k| u64::from(k) * 1024);
        self.throttle.set_limits(kib(settings.upload_limit_kib), kib(settings.download_limit_kib));
    }

    /// When this device's last backup finished (Unix ms).
    pub fn last_backup_time(&self) -> Option<i64> {
        self.catalog.runs(20).ok()?.into_iter().find(|r| r.finished_at.is_some() && r.snapshot_id.is_some())?.finished_at
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

    pub(crate) fn device_id(&self) -> Result<String> {
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

    pub(crate) fn account_info(&self) -> Result<AccountInfo> {
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
            locked: signed_in && self.is_locked(),
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
    pub fn sign_up(&self, request: &SignUpRequest) -> Result<SignUpResult> {
        if !request.confirm_age {
            return Err(Error::new(ErrorKind::AgeNotConfirmed, "You must be at least 13 years old to use Coffer."));
        }
        let key = DataKey::generate();
        let (key_mode, data_key, wrapped_keys, recovery) = match request.key_mode {
            KeyMode::Default => ("default", Some(service::encode_key(&key)), None, None),
            KeyMode::Private => {
                let secret = request.private_key.as_deref().unwrap_or_default();
                let context = [request.email.as_str(), request.first_name.as_str(), request.last_name.as_str()];
                require_strong_key(secret, &context)?;
                let (wrapped, code) = wrap_new_key(&key, secret)?;
                ("private", None, Some(wrapped), Some(code))
            }
        };
        let service = self.use_server(request.server_url.as_deref())?;
        service.sign_up(&NewAccount {
            first_name: request.first_name.trim(),
            last_name: request.last_name.trim(),
            email: request.email.trim(),
            password: &request.password,
            age_confirmed: request.confirm_age,
            key_mode,
            data_key,
            wrapped_keys,
        })?;
        let account = self.sign_in(&SignInRequest {
            email: request.email.clone(),
            password: request.password.clone(),
            server_url: None,
            totp_code: None,
        })?;
        if request.key_mode == KeyMode::Private {
            // The person just typed the key on this device: it stays unlocked here.
            self.keep_key(&key, true)?;
        }
        Ok(SignUpResult { account, recovery_code: recovery.map(|c| c.to_string()) })
    }

    /// Signs this device in. A default-key account is unlocked at once; a
    /// private-key account stays locked until its key is entered.
    ///
    /// # Errors
    /// `InvalidCredentials`, `Network`, `NoKeychain` when the keychain fails mid-way.
    pub fn sign_in(&self, request: &SignInRequest) -> Result<AccountInfo> {
        let service = self.use_server(request.server_url.as_deref())?;
        let device_id = self.device_id()?;
        let name = device_name();
        let grant = service.sign_in(
            request.email.trim(),
            &request.password,
            request.totp_code.as_deref(),
            &DeviceIdentity { id: &device_id, name: &name },
        )?;
        let service = service.with_token(grant.access_token.clone());
        let account_key = service.account_key()?;
        let account = grant.account;
        if self.catalog.setting(keys::ACCOUNT_ID)?.as_deref() != Some(account.account_id.as_str()) {
            // Another account's content ids mean nothing under this one's key.
            self.catalog.forget_files()?;
        }
        self.forget_reader();
        self.forget_key()?;
        self.secrets.set(Secret::SessionToken, &grant.access_token)?;
        match &grant.refresh_token {
            Some(refresh) => self.secrets.set(Secret::RefreshToken, refresh)?,
            None => self.secrets.delete(Secret::RefreshToken)?,
        }
        match &account_key {
            service::AccountKey::Default { key, .. } => {
                self.secrets.set(Secret::DataKey, &service::encode_key(key))?;
                self.catalog.set_setting(keys::KEY_MODE, "default")?;
            }
            service::AccountKey::Private { .. } => self.catalog.set_setting(keys::KEY_MODE, "private")?,
        }
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

    /// Drops what was read from the service: it belonged to the session that ends.
    pub(crate) fn forget_reader(&self) {
        *self.reader.lock().expect("reader lock") = None;
        self.snapshot_cache.lock().expect("snapshot cache").clear();
    }

    pub(crate) fn forget_session(&self) -> Result<()> {
        self.forget_reader();
        self.forget_key()?;
        self.secrets.delete(Secret::SessionToken)?;
        self.secrets.delete(Secret::RefreshToken)?;
        Ok(())
    }

    pub(crate) fn service(&self) -> Result<ServiceClient> {
        let token = self
            .secrets
            .get(Secret::SessionToken)?
            .ok_or_else(|| Error::new(ErrorKind::NotSignedIn, "sign in to Coffer first"))?;
        let refresh = self.secrets.get(Secret::RefreshToken)?;
        let secrets = Arc::clone(&self.secrets);
        // Renewed tokens go straight back to the keychain.
        let persist: crate::service::PersistTokens = Arc::new(move |tokens: &crate::service::Tokens| {
            let _ = secrets.set(Secret::SessionToken, &tokens.access);
            if let Some(refresh) = &tokens.refresh {
                let _ = secrets.set(Secret::RefreshToken, refresh);
            }
        });
        Ok(ServiceClient::new(&self.server_url())?
            .with_session(crate::service::Tokens { access: token, refresh }, Some(persist))
            .with_throttle(Arc::clone(&self.throttle)))
    }

    /// The account's repository for `purpose` ("backup", "reader"), with its
    /// blob index cached on disk so memory stays bounded however large the
    /// backups grow. Each purpose has its own cache file (they can be open at
    /// once); where the cache cannot be opened, the index is held in memory.
    pub(crate) fn repository_for(&self, purpose: &str) -> Result<Repository> {
        let service = self.service()?;
        let key = self.data_key(&service)?;
        let backend: Arc<dyn Backend> = Arc::new(service);
        // One cache per account and data key: a new key means new blob ids.
        let account = self.catalog.setting(keys::ACCOUNT_ID)?.unwrap_or_default();
        let key_tag = &blake3::hash(key.as_bytes()).to_hex()[..16];
        let cache = self.config_dir.join("cache").join(format!("{account}-{key_tag}")).join(purpose);
        match std::fs::create_dir_all(&cache).map_err(coffer_engine::Error::from).and_then(|()| {
            Repository::open_with_cache(Arc::clone(&backend), &key, &cache)
        }) {
            Ok(repo) => Ok(repo),
            Err(err) if matches!(err.kind(), coffer_engine::ErrorKind::Io | coffer_engine::ErrorKind::Storage) => {
                tracing::warn!("the index cache at {} is unavailable ({err}); keeping the index in memory", cache.display());
                Ok(Repository::open(backend, &key)?)
            }
            Err(err) => Err(err.into()),
        }
    }

    pub(crate) fn repository(&self) -> Result<Repository> {
        self.repository_for("backup")
    }

    /// Opens the repository; when the kept key no longer opens it because
    /// another device switched the account to a private key, the stale key is
    /// forgotten and the account is reported locked instead of damaged.
    fn open_checked(&self, purpose: &str) -> Result<Repository> {
        match self.repository_for(purpose) {
            Err(err) if err.kind == ErrorKind::Integrity => {
                if self.key_status().is_ok() && self.is_locked() {
                    return Err(Error::new(ErrorKind::Locked, "this account now uses a private key: enter it to unlock your backups"));
                }
                Err(err)
            }
            other => other,
        }
    }

    /// The repository opened so that damaged index files are reported, not fatal (check, repair).
    fn tolerant_repository(&self) -> Result<Repository> {
        let service = self.service()?;
        let key = self.data_key(&service)?;
        Ok(Repository::open_tolerant(Arc::new(service), &key)?)
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
        self.scheduler.poke(Control::Reload);
        self.folders()
    }

    /// Stops backing up a folder. Its earlier backups stay restorable.
    ///
    /// # Errors
    /// `NotFound` when it was not chosen.
    pub fn remove_folder(&self, path: &str) -> Result<Vec<FolderInfo>> {
        self.catalog.remove_folder(Path::new(path.trim()))?;
        self.scheduler.poke(Control::Reload);
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
        let rules = Arc::new(ExclusionRules::new(&self.exclusions()?)?);
        let options = coffer_engine::BackupOptions {
            exclude: Some(coffer_engine::ExcludeFilter(Arc::new(move |relative: &Path, is_dir: bool, size: u64| {
                rules.reason(relative, is_dir, size).is_some()
            }))),
            roots: folders.into_iter().map(|f| f.path).collect(),
            device_name: device_name(),
            device_id: self.device_id()?,
            time: now_ms(),
            ..Default::default()
        };
        let run = self.catalog.begin_run(options.time)?;
        let mut rate = RateMeter::new();
        let mut last_view: Option<(std::time::Instant, coffer_engine::BackupPhase)> = None;
        let mut on_progress = |p: &coffer_engine::BackupProgress| {
            // The engine reports every file; a view (and a call out) every
            // 50 ms is plenty for a person, and per file it cost as much as
            // backing up a small file. Phase changes always go out.
            let now = std::time::Instant::now();
            let due = match last_view {
                Some((at, phase)) => phase != p.phase || now.duration_since(at) >= std::time::Duration::from_millis(50),
                None => true,
            };
            if !due {
                return;
            }
            last_view = Some((now, p.phase));
            let view = progress_view(p, &mut rate);
            *self.progress.lock().expect("progress lock") = Some(view.clone());
            progress(&view);
        };
        let result = coffer_engine::backup(&mut repo, &options, &self.catalog, &mut on_progress);
        *self.progress.lock().expect("progress lock") = None;
        self.scheduler.poke(Control::BackupFinished);
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

    /// Runs `read` on the repository kept open for reading, opening it on
    /// first use and picking up indexes written since.
    fn with_reader<T>(&self, read: impl FnOnce(&Repository) -> Result<T>) -> Result<T> {
        let mut reader = self.reader.lock().expect("reader lock");
        match reader.as_mut() {
            Some(repo) => repo.refresh()?,
            None => *reader = Some(self.open_checked("reader")?),
        }
        read(reader.as_ref().expect("opened above"))
    }

    /// The account's snapshots, newest first, each downloaded only once.
    fn snapshot_list(&self, repo: &Repository) -> Result<Vec<(Id, Snapshot)>> {
        let listed = repo.backend().list(FileKind::Snapshot)?;
        let mut cache = self.snapshot_cache.lock().expect("snapshot cache");
        let mut list = Vec::with_capacity(listed.len());
        for object in listed {
            let snapshot = match cache.get(&object.id) {
                Some(s) => s.clone(),
                None => {
                    let s = repo.snapshot(&object.id)?;
                    cache.insert(object.id, s.clone());
                    s
                }
            };
            list.push((object.id, snapshot));
        }
        // Forgotten snapshots leave the cache too.
        let live: std::collections::HashSet<Id> = list.iter().map(|(id, _)| *id).collect();
        cache.retain(|id, _| live.contains(id));
        list.sort_by(|a, b| b.1.time.cmp(&a.1.time).then_with(|| b.0.cmp(&a.0)));
        Ok(list)
    }

    /// Starts a backup on its own thread: `progress` sees it run, `done`
    /// gets its outcome. Used by the app, the tray and the scheduler.
    ///
    /// # Errors
    /// `Busy` when a backup or restore is already running.
    pub fn spawn_backup(
        self: &Arc<Self>,
        mut progress: impl FnMut(&BackupProgress) + Send + 'static,
        done: impl FnOnce(Result<BackupReport>) + Send + 'static,
    ) -> Result<()> {
        if self.running.load(Ordering::SeqCst) {
            return Err(Error::new(ErrorKind::Busy, "a backup is already running"));
        }
        let agent = Arc::clone(self);
        std::thread::Builder::new()
            .name("coffer-backup".into())
            .spawn(move || {
                let result = agent.backup_now(&mut progress);
                if result.is_ok() {
                    // Automatic retention rides along after a backup, at most daily.
                    if let Err(err) = agent.apply_retention_if_due() {
                        tracing::warn!("retention was not applied: {}", err.message);
                    }
                }
                done(result)
            })
            .map_err(|e| Error::new(ErrorKind::Io, format!("could not start the backup: {e}")))?;
        Ok(())
    }

    /// Every committed backup of the account, newest first.
    ///
    /// # Errors
    /// `NotSignedIn`, `Unauthorized`, `Network`, `Integrity`.
    pub fn snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        let list = self.with_reader(|repo| self.snapshot_list(repo))?;
        Ok(list
            .into_iter()
            .map(|(id, s)| SnapshotInfo {
                id: id.to_hex(),
                time: s.time,
                device_name: s.device_name,
                device_id: s.device_id,
                roots: s.roots.into_iter().map(|r| r.path).collect(),
                files: s.files,
                bytes: s.bytes,
            })
            .collect())
    }

    /// The devices that have backed up to this account, most recent first.
    ///
    /// # Errors
    /// As [`Agent::snapshots`].
    pub fn devices(&self) -> Result<Vec<DeviceInfo>> {
        let own = self.device_id()?;
        let mut devices: Vec<DeviceInfo> = Vec::new();
        for snapshot in self.snapshots()? {
            match devices.iter_mut().find(|d| d.device_id == snapshot.device_id) {
                Some(device) => device.snapshots += 1,
                None => devices.push(DeviceInfo {
                    this_device: snapshot.device_id == own,
                    device_id: snapshot.device_id,
                    device_name: snapshot.device_name,
                    last_backup: Some(snapshot.time),
                    snapshots: 1,
                }),
            }
        }
        Ok(devices)
    }

    /// A folder as it was in a backup; `path` None lists the backed-up folders.
    ///
    /// # Errors
    /// `NotFound` for an unknown snapshot or a path not in it; `InvalidInput` for a file path.
    pub fn browse(&self, snapshot_id: &str, path: Option<&str>) -> Result<Vec<TreeEntry>> {
        let id = self.resolve_snapshot(snapshot_id)?;
        self.with_reader(|repo| {
            let snapshots = self.snapshot_list(repo)?;
            let (_, snapshot) = snapshots.iter().find(|(i, _)| *i == id).expect("resolved above");
            browse::list(repo, &self.trees, snapshot, path)
        })
    }

    /// Files and folders whose name contains `query`, in one backup or across all.
    ///
    /// # Errors
    /// `InvalidInput` for an empty query; `NotFound` for an unknown snapshot.
    pub fn search_files(&self, query: &str, snapshot_id: Option<&str>) -> Result<Vec<SearchHit>> {
        let only = snapshot_id.map(|s| self.resolve_snapshot(s)).transpose()?;
        self.with_reader(|repo| {
            let mut snapshots = self.snapshot_list(repo)?;
            if let Some(only) = only {
                snapshots.retain(|(id, _)| *id == only);
            }
            browse::search(repo, &self.trees, &snapshots, query)
        })
    }

    /// Every version of one file across the account's backups, newest first.
    ///
    /// # Errors
    /// `NotFound` when no backup has a file at `path`.
    pub fn file_versions(&self, path: &str) -> Result<Vec<FileVersion>> {
        self.with_reader(|repo| {
            let snapshots = self.snapshot_list(repo)?;
            browse::versions(repo, &self.trees, &snapshots, path.trim())
        })
    }

    pub(crate) fn load_setting<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.catalog.setting(key)? {
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| Error::new(ErrorKind::Io, format!("the catalog's {key} setting is damaged: {e}"))),
            None => Ok(None),
        }
    }

    pub(crate) fn store_setting<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let text = serde_json::to_string(value).expect("settings serialize");
        self.catalog.set_setting(key, &text)
    }

    /// What is left out of backups.
    pub fn exclusions(&self) -> Result<ExclusionSettings> {
        Ok(self.load_setting(keys::EXCLUSIONS)?.unwrap_or_default())
    }

    /// Changes what is left out of backups, from the next backup on.
    ///
    /// # Errors
    /// `InvalidInput` naming a bad pattern, preset or limit; nothing is changed then.
    pub fn set_exclusions(&self, settings: &ExclusionSettings) -> Result<ExclusionSettings> {
        let mut settings = settings.clone();
        settings.patterns = settings.patterns.iter().map(|p| p.trim().to_owned()).collect();
        settings.patterns.dedup();
        ExclusionRules::new(&settings)?;
        self.store_setting(keys::EXCLUSIONS, &settings)?;
        Ok(settings)
    }

    /// Walks the chosen folders as a backup would, calling `visit` for each
    /// entry with its exclusion reason (None when it is backed up).
    fn walk_folders(&self, visit: &mut dyn FnMut(&Path, &std::fs::Metadata, Option<String>) -> bool) -> Result<()> {
        let rules = ExclusionRules::new(&self.exclusions()?)?;
        for folder in self.catalog.folders()? {
            let mut walker = walkdir::WalkDir::new(&folder.path).min_depth(1).into_iter();
            while let Some(entry) = walker.next() {
                let Ok(entry) = entry else { continue };
                let Ok(meta) = entry.metadata() else { continue };
                let relative = entry.path().strip_prefix(&folder.path).unwrap_or(entry.path());
                let reason = rules.reason(relative, meta.is_dir(), meta.len());
                if reason.is_some() && meta.is_dir() {
                    walker.skip_current_dir();
                }
                if !visit(entry.path(), &meta, reason) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Each chosen folder's file count and size as the next backup sees it.
    ///
    /// # Errors
    /// `Io` when the catalog cannot be read.
    pub fn folder_usage(&self) -> Result<Vec<FolderUsage>> {
        let mut usage: Vec<FolderUsage> = self
            .catalog
            .folders()?
            .into_iter()
            .map(|f| FolderUsage { path: f.path.to_string_lossy().into_owned(), files: 0, bytes: 0, excluded: 0 })
            .collect();
        self.walk_folders(&mut |path, meta, reason| {
            if let Some(folder) = usage.iter_mut().find(|u| path.starts_with(&u.path)) {
                match reason {
                    Some(_) => folder.excluded += 1,
                    None if meta.is_file() => {
                        folder.files += 1;
                        folder.bytes += meta.len();
                    }
                    None => {}
                }
            }
            true
        })?;
        Ok(usage)
    }

    /// What the next backup will leave out and why (the first 1000 entries;
    /// an excluded folder counts once, not its contents).
    ///
    /// # Errors
    /// `Io` when the catalog cannot be read.
    pub fn excluded_files(&self) -> Result<Vec<ExcludedFile>> {
        let mut excluded = Vec::new();
        self.walk_folders(&mut |path, _, reason| {
            if let Some(reason) = reason {
                excluded.push(ExcludedFile { path: path.to_string_lossy().into_owned(), reason });
            }
            excluded.len() < 1000
        })?;
        Ok(excluded)
    }

    /// Checks the account's backups: every snapshot's folders and files
    /// resolvable; with `read_data`, every pack downloaded and authenticated.
    /// Returns the report and the text `coffer check` prints.
    ///
    /// # Errors
    /// `NotSignedIn`, `Network`; damage is reported, not an error.
    pub fn verify(&self, read_data: bool) -> Result<(VerifyReport, String)> {
        let report = coffer_engine::check(&self.tolerant_repository()?, coffer_engine::CheckOptions { read_data })?;
        let mut problems: Vec<VerifyProblem> = report
            .affected
            .iter()
            .map(|a| VerifyProblem { path: a.path.clone(), message: a.reason.clone() })
            .collect();
        problems.extend(report.problems.iter().map(|p| VerifyProblem { path: p.subject.clone(), message: format!("{}: {}", p.kind, p.detail) }));
        let view = VerifyReport {
            ok: report.is_ok(),
            read_data,
            snapshots_checked: report.snapshots,
            packs_checked: if read_data { report.packs_read } else { report.packs },
            problems,
        };
        Ok((view, report.to_string()))
    }

    /// Makes a damaged snapshot restorable again minus the lost files, as a
    /// new snapshot. Returns the text `coffer repair` prints.
    ///
    /// # Errors
    /// `NotFound` for an unknown snapshot; `Busy` while a backup runs.
    pub fn repair(&self, snapshot_id: &str) -> Result<String> {
        let id = self.resolve_snapshot(snapshot_id)?;
        let _guard = self.begin_exclusive("repair")?;
        // Repair replaces the damaged snapshot, deleting it: that needs the
        // person's fresh confirmation before anything is written.
        self.require_confirmation()?;
        let mut repo = self.tolerant_repository()?;
        let report = coffer_engine::repair(&mut repo, &id)?;
        self.forget_reader();
        Ok(report.to_string())
    }

    /// The profile as the service keeps it.
    ///
    /// # Errors
    /// `NotSignedIn`, `Unauthorized`, `Network`.
    pub fn profile(&self) -> Result<Profile> {
        let account = self.service()?.account()?;
        // An email confirmed by a mailed link changed it on the service only:
        // keep this device's copy (sidebar, start-up) in step.
        self.remember_identity(&account)?;
        Ok(profile_view(account))
    }

    fn remember_identity(&self, account: &crate::service::AccountRecord) -> Result<()> {
        self.catalog.set_setting(keys::FIRST_NAME, &account.first_name)?;
        self.catalog.set_setting(keys::LAST_NAME, &account.last_name)?;
        self.catalog.set_setting(keys::EMAIL, &account.email)
    }

    /// Corrects or amends the profile. A new email is verified by a link
    /// mailed to it before it replaces the old one.
    ///
    /// # Errors
    /// `InvalidInput` naming the field, `EmailTaken`; nothing changes then.
    pub fn update_profile(&self, update: &ProfileUpdate) -> Result<Profile> {
        let mut changes = serde_json::Map::new();
        let mut text = |key: &str, value: &Option<String>| {
            if let Some(v) = value {
                changes.insert(key.to_owned(), serde_json::Value::String(v.trim().to_owned()));
            }
        };
        text("first_name", &update.first_name);
        text("last_name", &update.last_name);
        text("email", &update.email);
        if let Some(address) = &update.postal_address {
            let record = crate::service::AddressRecord {
                line1: address.line1.trim().to_owned(),
                line2: address.line2.trim().to_owned(),
                city: address.city.trim().to_owned(),
                region: address.region.trim().to_owned(),
                postal_code: address.postal_code.trim().to_owned(),
                country: address.country.trim().to_owned(),
            };
            let empty = serde_json::to_value(&record).expect("address serializes") == serde_json::json!({});
            changes.insert("address".into(), if empty { serde_json::Value::Null } else { serde_json::to_value(record).expect("address serializes") });
        }
        let account = self.service()?.update_account(&serde_json::Value::Object(changes))?;
        self.remember_identity(&account)?;
        Ok(profile_view(account))
    }

    /// Mails a password-reset link. Resetting the password never reveals or
    /// replaces a private encryption key.
    ///
    /// # Errors
    /// `InvalidInput` for an empty email or unusable service URL; `Network`.
    pub fn request_password_reset(&self, email: &str, server_url: Option<&str>) -> Result<()> {
        let email = email.trim();
        if email.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "email: type the email address of your account"));
        }
        let url = server_url.map(str::to_owned).filter(|u| !u.trim().is_empty()).unwrap_or_else(|| self.server_url());
        ServiceClient::new(&url)?.request_password_reset(email)
    }

    /// Sends the email verification link again.
    pub fn resend_verification(&self) -> Result<()> {
        self.service()?.resend_verification()
    }

    /// Starts setting up two-factor sign-in.
    pub fn totp_setup(&self) -> Result<TotpSetup> {
        self.service()?.totp_setup()
    }

    /// Confirms two-factor sign-in with a first code; returns one-time recovery codes.
    ///
    /// # Errors
    /// `InvalidInput` for a wrong code.
    pub fn totp_enable(&self, code: &str) -> Result<Vec<String>> {
        self.service()?.totp_enable(code)
    }

    /// Turns two-factor sign-in off.
    pub fn totp_disable(&self, password: &str) -> Result<()> {
        self.service()?.totp_disable(password)
    }

    /// Changes the account password; every other session ends.
    ///
    /// # Errors
    /// `InvalidCredentials` for a wrong current password; `InvalidInput` for a weak new one.
    pub fn change_password(&self, change: &PasswordChange) -> Result<()> {
        self.service()?.change_password(&change.current_password, &change.new_password)
    }

    /// Ends one session (another device, or this one).
    ///
    /// # Errors
    /// `NotFound` for an unknown session.
    pub fn revoke_session(&self, id: &str) -> Result<Vec<SessionRecord>> {
        let service = self.service()?;
        let current = service.sessions()?.into_iter().find(|s| s.current).map(|s| s.id);
        service.revoke_session(id.trim())?;
        if current.as_deref() == Some(id.trim()) {
            self.forget_session()?;
            return Ok(Vec::new());
        }
        service.sessions()
    }

    /// Ends every session of the account, this device's included.
    pub fn sign_out_everywhere(&self) -> Result<()> {
        self.service()?.revoke_all_sessions()?;
        self.forget_session()
    }

    pub fn preferences(&self) -> Result<CommunicationPreferences> {
        self.service()?.preferences()
    }

    pub fn set_preferences(&self, preferences: &CommunicationPreferences) -> Result<CommunicationPreferences> {
        self.service()?.set_preferences(preferences)
    }

    /// The current privacy policy and when this account accepted which version.
    ///
    /// # Errors
    /// `NotFound` when the service has not published a policy.
    pub fn policy(&self) -> Result<PolicyInfo> {
        let service = self.service()?;
        let policy = service.policy()?;
        let account = service.account()?;
        Ok(PolicyInfo {
            version: policy.version,
            published_at: policy.published_at,
            text: policy.text,
            accepted_version: account.policy_accepted_version,
            accepted_at: account.policy_accepted_at,
        })
    }

    pub fn accept_policy(&self, version: &str) -> Result<PolicyInfo> {
        self.service()?.accept_policy(version.trim())?;
        self.policy()
    }

    /// Saves everything the service holds about the account as a JSON file.
    ///
    /// # Errors
    /// `InvalidInput` for a relative path; `Io` when the file cannot be written.
    pub fn export_data(&self, path: &str) -> Result<ExportResult> {
        let path = expand_home(path.trim());
        if !path.is_absolute() {
            return Err(Error::new(ErrorKind::InvalidInput, "choose where to save the export (a full path)"));
        }
        let bytes = self.service()?.export()?;
        let partial = path.with_extension("part");
        std::fs::write(&partial, &bytes)
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|e| Error::io(format!("cannot save {}", path.display()), e))?;
        Ok(ExportResult { path: path.to_string_lossy().into_owned(), bytes: bytes.len() as u64 })
    }

    /// Deletes the account: access stops at once on every device; stored
    /// files are purged after 10 business days, or now.
    ///
    /// # Errors
    /// `InvalidCredentials` for a wrong password (nothing happens then).
    pub fn delete_account(&self, password: &str, purge_now: bool) -> Result<DeletionScheduled> {
        let purge_at = self.service()?.delete_account(password, purge_now)?.unwrap_or_else(now_ms);
        self.forget_session()?;
        self.catalog.forget_files()?;
        Ok(DeletionScheduled { purge_at })
    }

    /// The account's session records (every device), newest first.
    ///
    /// # Errors
    /// `NotSignedIn`, `Unauthorized`, `Network`.
    pub fn sessions(&self) -> Result<Vec<SessionRecord>> {
        self.service()?.sessions()
    }

    /// The Activity screen: this device's backups and the account's session records.
    ///
    /// # Errors
    /// As [`Agent::sessions`].
    pub fn activity(&self) -> Result<Activity> {
        Ok(Activity { backups: self.backup_runs(200)?, sessions: self.sessions()? })
    }

    /// This device's backup runs, newest first.
    ///
    /// # Errors
    /// `Io` when the catalog cannot be read.
    pub fn backup_runs(&self, limit: usize) -> Result<Vec<BackupRun>> {
        self.catalog.runs(limit)
    }

    /// Restores files of a snapshot into a folder.
    ///
    /// # Errors
    /// `InvalidInput` for an empty target or a malformed snapshot id;
    /// `NotFound` for an unknown snapshot; `Busy`; `Network`; `Io`.
    pub fn restore(&self, request: &RestoreRequest, progress: &mut dyn FnMut(&RestoreProgress)) -> Result<RestoreSummary> {
        let destination = match request.target.as_deref().map(str::trim) {
            None => None,
            Some("") => return Err(Error::new(ErrorKind::InvalidInput, "choose the folder to restore into")),
            Some(text) => {
                let target = expand_home(text);
                if !target.is_absolute() {
                    return Err(Error::new(ErrorKind::InvalidInput, "the restore folder must be a full path"));
                }
                Some(target)
            }
        };
        let snapshot_id = self.resolve_snapshot(&request.snapshot_id)?;
        let _guard = self.begin_exclusive("restore")?;
        let repo = self.repository()?;
        // Into a folder: one run. To the original place: each backed-up
        // folder is restored into the folder that held it.
        let runs: Vec<(PathBuf, Vec<String>)> = match destination {
            Some(target) => vec![(target, request.paths.clone())],
            None => {
                let snapshot = repo.snapshot(&snapshot_id)?;
                snapshot
                    .roots
                    .iter()
                    .filter_map(|root| {
                        let inside = |p: &String| *p == root.path || p.starts_with(&format!("{}/", root.path));
                        let include: Vec<String> = if request.paths.is_empty() {
                            vec![root.path.clone()]
                        } else {
                            request.paths.iter().filter(|p| inside(p)).cloned().collect()
                        };
                        let parent = Path::new(&root.path).parent()?.to_path_buf();
                        (!include.is_empty()).then_some((parent, include))
                    })
                    .collect()
            }
        };
        let on_conflict = match request.conflict {
            ConflictPolicy::KeepBoth => coffer_engine::OnConflict::KeepBoth,
            ConflictPolicy::Overwrite => coffer_engine::OnConflict::Overwrite,
            ConflictPolicy::Skip => coffer_engine::OnConflict::Skip,
        };
        let mut total = RestoreSummary { files: 0, bytes: 0, target: String::new(), skipped: Vec::new(), warnings: Vec::new() };
        let mut targets = Vec::new();
        for (target, include) in runs {
            std::fs::create_dir_all(&target).map_err(|e| Error::io(format!("cannot create {}", target.display()), e))?;
            let options = coffer_engine::RestoreOptions { target: target.clone(), include, on_conflict };
            let summary = coffer_engine::restore(&repo, &snapshot_id, &options, &mut |p| {
                progress(&RestoreProgress {
                    files_done: p.files_done,
                    files_total: p.files_total,
                    bytes_done: p.bytes_done,
                    bytes_total: p.bytes_total,
                    current_file: p.current_file.as_ref().map(|f| f.to_string_lossy().into_owned()),
                })
            })?;
            total.files += summary.files;
            total.bytes += summary.bytes;
            total.skipped.extend(skipped_view(&summary.skipped));
            total.warnings.extend(skipped_view(&summary.warnings));
            targets.push(target.to_string_lossy().into_owned());
        }
        if targets.is_empty() {
            return Err(Error::new(ErrorKind::NotFound, "nothing selected is in this backup"));
        }
        total.target = targets.join(", ");
        Ok(total)
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

/// Saves text the person asked to keep (a recovery kit) where they chose,
/// readable by their user only.
///
/// # Errors
/// `InvalidInput` for a relative path; `Io` when it cannot be written.
pub fn save_private_text(path: &str, text: &str) -> Result<()> {
    let path = expand_home(path.trim());
    if !path.is_absolute() {
        return Err(Error::new(ErrorKind::InvalidInput, "choose where to save the file (a full path)"));
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(|e| Error::io(format!("cannot save {}", path.display()), e))?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| Error::io(format!("cannot save {}", path.display()), e))
}

fn profile_view(account: crate::service::AccountRecord) -> Profile {
    Profile {
        first_name: account.first_name,
        last_name: account.last_name,
        email: account.email,
        email_verified: account.email_verified,
        pending_email: account.pending_email,
        postal_address: account.address.map(|a| PostalAddress {
            line1: a.line1,
            line2: a.line2,
            city: a.city,
            region: a.region,
            postal_code: a.postal_code,
            country: a.country,
        }),
        totp_enabled: account.totp_enabled,
    }
}

fn expand_home(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => dirs::home_dir().map(|h| h.join(rest)).unwrap_or_else(|| PathBuf::from(path)),
        None => PathBuf::from(path),
    }
}

/// Speed over a sliding window of the last few seconds, and time left.
struct RateMeter {
    samples: std::collections::VecDeque<(std::time::Instant, u64)>,
}

impl RateMeter {
    const WINDOW: std::time::Duration = std::time::Duration::from_secs(5);

    fn new() -> Self {
        RateMeter { samples: std::collections::VecDeque::new() }
    }

    /// Records `done` bytes now; returns (bytes per second, seconds left).
    fn sample(&mut self, done: u64, total: u64) -> (u64, Option<u64>) {
        let now = std::time::Instant::now();
        self.samples.push_back((now, done));
        while self.samples.len() > 2 && now.duration_since(self.samples[0].0) > Self::WINDOW {
            self.samples.pop_front();
        }
        let (t0, d0) = self.samples[0];
        let elapsed = now.duration_since(t0).as_secs_f64();
        if elapsed < 0.5 || done <= d0 {
            return (0, None);
        }
        let rate = (done - d0) as f64 / elapsed;
        let eta = (total.saturating_sub(done) as f64 / rate).ceil() as u64;
        (rate as u64, Some(eta))
    }
}

fn progress_view(p: &coffer_engine::BackupProgress, rate: &mut RateMeter) -> BackupProgress {
    let (bytes_per_second, eta_seconds) = rate.sample(p.bytes_done, p.bytes_total);
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
        bytes_per_second,
        eta_seconds,
        skipped: p.skipped,
    }
}

fn skipped_view(skipped: &[coffer_engine::Skipped]) -> Vec<SkippedFile> {
    skipped
        .iter()
        .map(|s| SkippedFile { path: s.path.to_string_lossy().into_owned(), reason: s.reason.clone() })
        .collect()
}
