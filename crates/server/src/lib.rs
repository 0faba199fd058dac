//! The Coffer service: accounts, sessions, key escrow and the object store,
//! over HTTP/JSON under `/v1` (see `docs/api.md`).
//!
//! Embedded configuration: metadata in SQLite (`<data-dir>/coffer.db`),
//! object bytes in a folder (`<data-dir>/objects`) through OpenDAL, the
//! escrow key in `<data-dir>/escrow.key`.

pub mod accounts;
pub mod auth;
pub mod db;
pub mod error;
pub mod escrow;
mod input;
pub mod object_store;
pub mod password;
pub mod repo;
pub mod sessions;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use axum::routing::get;
use axum::{middleware, Json, Router};
use serde_json::{json, Value};
use tokio::sync::{oneshot, Mutex};
use tower_http::trace::TraceLayer;

pub use crate::db::Db;
pub use crate::error::AppError;
pub use crate::escrow::EscrowKey;
pub use crate::object_store::ObjectStore;

/// The default listening address of the embedded service.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8750";
/// The default per-account quota: 50 GiB.
pub const DEFAULT_QUOTA_BYTES: u64 = 50 * 1024 * 1024 * 1024;

/// How to run the service.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen. Only loopback addresses until TLS lands.
    pub listen: SocketAddr,
    /// Database, escrow key and objects live here.
    pub data_dir: PathBuf,
    /// Storage quota given to each new account.
    pub quota_bytes: u64,
}

// Stripes rather than one lock per account: bounded memory, and two accounts
// sharing a stripe only wait on each other's writes.
const WRITE_LOCK_STRIPES: usize = 64;

/// Everything handlers share; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub store: ObjectStore,
    pub escrow: EscrowKey,
    /// Quota given to new accounts.
    pub default_quota: u64,
    write_locks: Arc<Vec<Arc<Mutex<()>>>>,
}

impl AppState {
    /// Assembles the state from its parts.
    pub fn new(db: Db, store: ObjectStore, escrow: EscrowKey, default_quota: u64) -> AppState {
        let write_locks = (0..WRITE_LOCK_STRIPES)
            .map(|_| Arc::new(Mutex::new(())))
            .collect();
        AppState {
            db,
            store,
            escrow,
            default_quota,
            write_locks: Arc::new(write_locks),
        }
    }

    /// Opens (creating on first start) everything under `config.data_dir`.
    ///
    /// # Errors
    /// When the data folder, database, escrow key or object store cannot be
    /// opened, or the escrow key file is readable by others.
    pub fn open(config: &Config) -> anyhow::Result<AppState> {
        let dir = &config.data_dir;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let escrow = EscrowKey::load_or_create(&dir.join("escrow.key"))?;
        let db = Db::open(&dir.join("coffer.db"))?;
        let store = ObjectStore::local(&dir.join("objects"), &dir.join("tmp"))?;
        Ok(AppState::new(db, store, escrow, config.quota_bytes))
    }

    /// The lock that serialises object writes and deletes of one account.
    pub fn account_write_lock(&self, account_id: &str) -> Arc<Mutex<()>> {
        let stripe =
            blake3::hash(account_id.as_bytes()).as_bytes()[0] as usize % WRITE_LOCK_STRIPES;
        self.write_locks[stripe].clone()
    }
}

/// Now as Unix milliseconds (UTC).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn not_found() -> AppError {
    AppError::NotFound
}

/// The whole HTTP API.
pub fn router(state: AppState) -> Router {
    let signed_in = Router::new()
        .merge(accounts::account_routes())
        .merge(sessions::session_routes())
        .merge(repo::repo_routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_session,
        ));
    Router::new()
        .route("/v1/health", get(health))
        .merge(accounts::public_routes())
        .merge(sessions::public_routes())
        .merge(signed_in)
        .fallback(not_found)
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
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task
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
pub async fn start(config: Config) -> anyhow::Result<RunningServer> {
    if !config.listen.ip().is_loopback() {
        bail!(
            "refusing to listen on {}: addresses beyond loopback need TLS, which this version \
             does not support yet; listen on 127.0.0.1 (or ::1) instead",
            config.listen
        );
    }
    let state = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || AppState::open(&config))
            .await
            .context("opening the data folder panicked")??
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "listening");
    Ok(RunningServer {
        addr,
        state,
        shutdown: Some(tx),
        task,
    })
}
