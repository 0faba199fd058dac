//! The Coffer service: accounts, sessions, key escrow and the object store,
//! over HTTP/JSON under `/v1` (see `docs/api.md`).
//!
//! Embedded configuration: metadata in SQLite (`<data-dir>/coffer.db`),
//! object bytes in a folder (`<data-dir>/objects`) through OpenDAL, the
//! escrow key in `<data-dir>/escrow.key`, mail as files in
//! `<data-dir>/outbox` unless an SMTP server is configured. Operations are
//! described in `docs/operations.md`.

pub mod accounts;
pub mod alerts;
pub mod apps;
pub mod auth;
pub mod calendar;
pub mod clock;
pub mod confirmation;
pub mod db;
pub mod deletion;
pub mod error;
pub mod escrow;
pub mod export;
pub mod held_deletions;
mod input;
pub mod jobs;
pub mod keys;
pub mod mail;
pub mod metrics;
pub mod monitoring;
pub mod object_store;
pub mod openapi;
pub mod operator;
mod pages;
pub mod password;
pub mod policy;
pub mod preferences;
pub mod repo;
pub mod sessions;
mod share_page;
pub mod shares;
pub mod store_backend;
pub mod throttle;
pub mod totp;
pub mod testing;
pub mod verification;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use axum::{middleware, Router};
use tokio::sync::oneshot;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use zeroize::Zeroizing;

pub use crate::calendar::Holidays;
pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use crate::db::Db;
pub use crate::error::AppError;
pub use crate::escrow::EscrowKey;
pub use crate::mail::Mailer;
pub use crate::object_store::ObjectStore;

/// The default listening address of the embedded service.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8750";
/// The default per-account quota: 50 GiB.
pub const DEFAULT_QUOTA_BYTES: u64 = 50 * 1024 * 1024 * 1024;

/// The sender of the service's mail unless `--mail-from` says otherwise.
pub const DEFAULT_MAIL_FROM: &str = "Coffer <no-reply@coffer.localhost>";
/// How long an access token lives unless configured: one hour.
pub const DEFAULT_ACCESS_TOKEN_TTL_SECS: u64 = 3600;
/// How long ended session records are kept unless configured.
pub const DEFAULT_SESSION_RETENTION_DAYS: u64 = 90;
/// Business days between a deletion request and the purge.
pub const DEFAULT_DELETION_GRACE_BUSINESS_DAYS: u32 = 10;
/// How often the background jobs run unless configured: every 5 minutes.
pub const DEFAULT_JOB_INTERVAL_SECS: u64 = 300;

/// How to run the service.
#[derive(Clone)]
pub struct Config {
    /// Where to listen. Only loopback addresses until TLS lands.
    pub listen: SocketAddr,
    /// Database, escrow key, objects and the mail outbox live here.
    pub data_dir: PathBuf,
    /// The metadata database: `None` is SQLite in `data_dir`;
    /// `postgres://user:password@host:port/db[?schema=name]` is PostgreSQL.
    /// May hold a password: never logged.
    pub database_url: Option<String>,
    /// Where objects live: `None` is the folder `data_dir/objects`;
    /// `s3://bucket[/prefix]?endpoint=…&region=…` an S3-compatible store
    /// (see [`ObjectStore::open`]). May hold a secret key: never logged.
    pub objects_url: Option<String>,
    /// The escrow key file [default: `data_dir/escrow.key`, made on first
    /// start]. Replicas of one service must all use the same key.
    pub escrow_key_path: Option<PathBuf>,
    /// Storage quota given to each new account.
    pub quota_bytes: u64,
    /// The base of links in mail, e.g. `https://backup.example.com`
    /// [default: `http://<the bound address>`].
    pub public_url: Option<String>,
    /// `smtp://host:port` (or `smtps://…`, `?tls=required`); `None` writes
    /// mail to `<data_dir>/outbox` instead. May hold a password: never logged.
    pub smtp_url: Option<String>,
    /// The `From:` of every mail.
    pub mail_from: String,
    /// Lifetime of an access token.
    pub access_token_ttl_secs: u64,
    /// How long records of ended sessions are kept.
    pub session_retention_days: u64,
    /// Business days between a deletion request and the purge.
    pub deletion_grace_business_days: u32,
    /// Days that are not business days besides weekends.
    pub holidays: Holidays,
    /// How often the background jobs (retention, purge, alerts) run; 0 never.
    pub job_interval_secs: u64,
    /// Days without a backup before the "no backup" alert; 0 never.
    pub alert_no_backup_days: u64,
    /// Wrong sign-in attempts allowed per email in 15 minutes; 0 no limit.
    pub sign_in_max_failures_per_email: u32,
    /// Wrong sign-in attempts allowed per IP address in 15 minutes; 0 no
    /// limit.
    pub sign_in_max_failures_per_ip: u32,
    /// Sign-ups accepted per IP address in an hour; 0 no limit.
    pub sign_ups_per_ip: u32,
    /// Password-reset requests accepted per email in an hour; 0 no limit.
    pub password_resets_per_email: u32,
    /// Password-reset requests accepted per IP address in an hour; 0 no
    /// limit.
    pub password_resets_per_ip: u32,
    /// Where time comes from (tests pass a [`ManualClock`]).
    pub clock: Arc<dyn Clock>,
}

impl Config {
    /// The defaults: 50 GiB quota, mail to the outbox, one-hour access
    /// tokens, 90 days of session records, 10 business days of grace.
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Config {
        Config {
            listen,
            data_dir,
            database_url: None,
            objects_url: None,
            escrow_key_path: None,
            quota_bytes: DEFAULT_QUOTA_BYTES,
            public_url: None,
            smtp_url: None,
            mail_from: DEFAULT_MAIL_FROM.to_owned(),
            access_token_ttl_secs: DEFAULT_ACCESS_TOKEN_TTL_SECS,
            session_retention_days: DEFAULT_SESSION_RETENTION_DAYS,
            deletion_grace_business_days: DEFAULT_DELETION_GRACE_BUSINESS_DAYS,
            holidays: Holidays::none(),
            job_interval_secs: DEFAULT_JOB_INTERVAL_SECS,
            alert_no_backup_days: alerts::DEFAULT_NO_BACKUP_DAYS,
            sign_in_max_failures_per_email: throttle::DEFAULT_MAX_FAILURES_PER_EMAIL,
            sign_in_max_failures_per_ip: throttle::DEFAULT_MAX_FAILURES_PER_IP,
            sign_ups_per_ip: throttle::DEFAULT_SIGN_UPS_PER_IP,
            password_resets_per_email: throttle::DEFAULT_RESETS_PER_EMAIL,
            password_resets_per_ip: throttle::DEFAULT_RESETS_PER_IP,
            clock: Arc::new(SystemClock),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            // May hold passwords.
            .field("database_url", &self.database_url.as_ref().map(|_| "<set>"))
            .field("objects_url", &self.objects_url.as_ref().map(|_| "<set>"))
            .field("escrow_key_path", &self.escrow_key_path)
            .field("quota_bytes", &self.quota_bytes)
            .field("public_url", &self.public_url)
            // May hold a password.
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "<set>"))
            .field("mail_from", &self.mail_from)
            .field("access_token_ttl_secs", &self.access_token_ttl_secs)
            .field("session_retention_days", &self.session_retention_days)
            .field(
                "deletion_grace_business_days",
                &self.deletion_grace_business_days,
            )
            .field("holidays", &self.holidays)
            .field("job_interval_secs", &self.job_interval_secs)
            .field("alert_no_backup_days", &self.alert_no_backup_days)
            .field(
                "sign_in_max_failures_per_email",
                &self.sign_in_max_failures_per_email,
            )
            .field(
                "sign_in_max_failures_per_ip",
                &self.sign_in_max_failures_per_ip,
            )
            .field("sign_ups_per_ip", &self.sign_ups_per_ip)
            .field("password_resets_per_email", &self.password_resets_per_email)
            .field("password_resets_per_ip", &self.password_resets_per_ip)
            .finish_non_exhaustive()
    }
}

/// The settings handlers read, fixed at start.
#[derive(Debug)]
pub struct Settings {
    /// Base of links in mail, without a trailing slash.
    pub public_url: String,
    /// Sign-ups accepted per IP address per hour (0: no limit).
    pub sign_ups_per_ip: u32,
    /// Password-reset requests accepted per email per hour (0: no limit).
    pub password_resets_per_email: u32,
    /// Password-reset requests accepted per IP address per hour (0: no
    /// limit).
    pub password_resets_per_ip: u32,
    pub access_token_ttl_ms: i64,
    pub session_retention_ms: i64,
    pub deletion_grace_business_days: u32,
    pub holidays: Holidays,
    /// Time without a backup before the "no backup" alert; `None` never.
    pub alert_no_backup_ms: Option<i64>,
}

/// Everything handlers share; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub store: ObjectStore,
    pub escrow: EscrowKey,
    pub mailer: Arc<Mailer>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    /// Counters and histograms served at `GET /metrics`.
    pub metrics: Arc<metrics::Metrics>,
    /// Recent wrong sign-in attempts, by email and by address.
    pub sign_in_throttle: Arc<throttle::SignInThrottle>,
    /// Recent sign-ups and password-reset requests, by email and address.
    pub request_limiter: Arc<throttle::RequestLimiter>,
    /// Quota given to new accounts.
    pub default_quota: u64,
    /// Signs unsubscribe links (derived from the escrow key).
    link_key: Arc<Zeroizing<[u8; 32]>>,
}

impl AppState {
    /// Opens (creating on first start) everything under `config.data_dir`.
    ///
    /// # Errors
    /// When the data folder, database, escrow key, object store or outbox
    /// cannot be opened, the escrow key file is readable by others, or the
    /// mail settings are malformed.
    pub fn open(config: &Config) -> anyhow::Result<AppState> {
        let dir = &config.data_dir;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let escrow_path = config
            .escrow_key_path
            .clone()
            .unwrap_or_else(|| dir.join("escrow.key"));
        let escrow = EscrowKey::load_or_create(&escrow_path)?;
        let db = Db::connect(config.database_url.as_deref(), &dir.join("coffer.db"))?;
        let store = ObjectStore::open(config.objects_url.as_deref(), dir)?;
        let mailer = Mailer::new(
            config.smtp_url.as_deref(),
            dir.join("outbox"),
            &config.mail_from,
        )?;
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.listen));
        let settings = Settings {
            public_url: public_url.trim_end_matches('/').to_owned(),
            sign_ups_per_ip: config.sign_ups_per_ip,
            password_resets_per_email: config.password_resets_per_email,
            password_resets_per_ip: config.password_resets_per_ip,
            access_token_ttl_ms: millis(config.access_token_ttl_secs, 1000)?,
            session_retention_ms: millis(config.session_retention_days, 86_400_000)?,
            deletion_grace_business_days: config.deletion_grace_business_days,
            holidays: config.holidays.clone(),
            alert_no_backup_ms: match config.alert_no_backup_days {
                0 => None,
                days => Some(millis(days, 86_400_000)?),
            },
        };
        Ok(AppState {
            db,
            store,
            link_key: Arc::new(escrow.derive_key("coffer unsubscribe links v1")),
            escrow,
            mailer: Arc::new(mailer),
            clock: config.clock.clone(),
            settings: Arc::new(settings),
            metrics: Arc::new(metrics::Metrics::new()?),
            sign_in_throttle: Arc::new(throttle::SignInThrottle::new(
                config.sign_in_max_failures_per_email,
                config.sign_in_max_failures_per_ip,
            )),
            request_limiter: Arc::new(throttle::RequestLimiter::new(throttle::REQUEST_WINDOW_MS)),
            default_quota: config.quota_bytes,
        })
    }

    /// Now, by the configured clock, as Unix milliseconds.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// `public_url` + `path_and_query`.
    pub fn link(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.settings.public_url)
    }

    /// The key that signs unsubscribe links.
    pub fn link_key(&self) -> &[u8; 32] {
        &self.link_key
    }

    /// Waits for the lock that serialises object writes and deletes of one
    /// account, held until the guard drops; on PostgreSQL it holds across
    /// every replica (see [`Db::lock_account_writes`]).
    ///
    /// # Errors
    /// Database failures (no connection to hold the lock on).
    pub async fn account_write_lock(
        &self,
        account_id: &str,
    ) -> anyhow::Result<db::AccountWriteGuard> {
        self.db.lock_account_writes(account_id).await
    }
}

fn millis(amount: u64, unit_ms: u64) -> anyhow::Result<i64> {
    amount
        .checked_mul(unit_ms)
        .and_then(|ms| i64::try_from(ms).ok())
        .context("a configured duration is too long")
}

/// Now as Unix milliseconds (UTC).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

async fn not_found() -> AppError {
    AppError::NotFound
}

/// Every route with its document: those anyone may call, and those that
/// need a session.
fn documented_routes() -> (OpenApiRouter<AppState>, OpenApiRouter<AppState>) {
    let public = OpenApiRouter::new()
        .merge(monitoring::public_routes())
        .merge(openapi::routes())
        .merge(accounts::public_routes())
        .merge(sessions::public_routes())
        .merge(verification::public_routes())
        .merge(deletion::public_routes())
        .merge(preferences::public_routes())
        .merge(policy::public_routes())
        .merge(shares::recipient_routes())
        .merge(share_page::page_routes());
    let signed_in = OpenApiRouter::new()
        .merge(accounts::account_routes())
        .merge(keys::key_routes())
        .merge(deletion::account_routes())
        .merge(export::export_routes())
        .merge(preferences::account_routes())
        .merge(policy::account_routes())
        .merge(totp::totp_routes())
        .merge(sessions::session_routes())
        .merge(confirmation::confirmation_routes())
        .merge(held_deletions::deletion_routes())
        .merge(apps::app_routes())
        .merge(shares::owner_routes())
        .merge(repo::repo_routes());
    (public, signed_in)
}

/// The OpenAPI document of the whole API, as `GET /v1/openapi.json` serves
/// it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (public, signed_in) = documented_routes();
    openapi::document(public.into_openapi(), signed_in.into_openapi())
}

/// The whole HTTP API.
pub fn router(state: AppState) -> Router {
    let (public, signed_in) = documented_routes();
    let signed_in = signed_in.route_layer(middleware::from_fn_with_state(
        state.clone(),
        auth::require_session,
    ));
    let (routes, _) = public.merge(signed_in).split_for_parts();
    routes
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track_requests,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// A service listening in the background. Dropping it without
/// [`RunningServer::stop`] also shuts the server down, without waiting.
pub struct RunningServer {
    /// The address actually bound (useful with port 0).
    pub addr: SocketAddr,
    /// The shared state, for tests and tools that look inside.
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    jobs: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(jobs) = self.jobs.take() {
            jobs.abort();
        }
    }
}

impl RunningServer {
    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, lets in-flight requests finish and
    /// waits for the server to end.
    ///
    /// # Errors
    /// When serving failed.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(jobs) = self.jobs.take() {
            jobs.abort();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task)
            .await
            .context("server task panicked")?
            .context("serving failed")
    }

    /// Serves until `signal` completes, then shuts down gracefully.
    ///
    /// # Errors
    /// When serving failed.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
        tokio::select! {
            () = signal => self.stop().await,
            ended = &mut self.task => {
                ended.context("server task panicked")?.context("serving failed")?;
                bail!("the server stopped unexpectedly")
            }
        }
    }
}

/// Opens the data folder, binds `config.listen` and serves in the background.
///
/// # Errors
/// When the address is not loopback (TLS is not supported yet), or the data
/// folder or socket cannot be opened.
pub async fn start(mut config: Config) -> anyhow::Result<RunningServer> {
    if !config.listen.ip().is_loopback() {
        bail!(
            "refusing to listen on {}: addresses beyond loopback need TLS, which this version \
             does not support yet; listen on 127.0.0.1 (or ::1) instead",
            config.listen
        );
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    // Links in mail point at the address actually bound (port 0 included).
    config.listen = addr;
    let state = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || AppState::open(&config))
            .await
            .context("opening the data folder panicked")??
    };
    let (tx, rx) = oneshot::channel::<()>();
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    let jobs = (config.job_interval_secs > 0).then(|| {
        tokio::spawn(jobs::run_periodically(
            state.clone(),
            std::time::Duration::from_secs(config.job_interval_secs),
        ))
    });
    match state.mailer.outbox() {
        Some(outbox) => tracing::info!(%addr, data_dir = %config.data_dir.display(),
            outbox = %outbox.display(), "listening; mail goes to the outbox"),
        None => tracing::info!(%addr, data_dir = %config.data_dir.display(),
            "listening; mail goes to the SMTP server"),
    }
    Ok(RunningServer {
        addr,
        state,
        shutdown: Some(tx),
        task,
        jobs,
    })
}
