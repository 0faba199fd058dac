//! A real `coffer-server` on 127.0.0.1:0, run on its own tokio runtime in a
//! background thread so synchronous `#[test]` functions can use it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use base64::Engine;
use serde_json::{json, Value};

/// The password of every [`TestAccount`].
pub const TEST_PASSWORD: &str = "correct horse battery staple";

/// A running service with its own temporary data folder. Stopped, and the
/// folder removed, when dropped.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    pub addr: SocketAddr,
    /// The service's data folder (database, escrow key, objects).
    pub data_dir: PathBuf,
    /// Where its records and objects are: both `None` for the data folder
    /// (embedded), a schema and key prefix in the scaled run.
    pub place: coffer_server::testing::Place,
    /// The escrow key file it uses.
    pub escrow_key: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    jobs: tokio::sync::mpsc::UnboundedSender<JobRequest>,
    thread: Option<std::thread::JoinHandle<()>>,
    // Declared last so the folder outlives the server thread.
    _dir: tempfile::TempDir,
}

/// Asks the server thread to run the background jobs once.
type JobRequest = mpsc::Sender<Result<coffer_server::jobs::JobReport, String>>;

/// How to start a [`TestServer`]; `Default` is the embedded default (mail
/// to the outbox, the system clock).
#[derive(Clone, Default)]
pub struct TestServerOptions {
    /// Quota per new account [default: 50 GiB].
    pub quota_bytes: Option<u64>,
    /// Send mail here (e.g. [`crate::MailSink::smtp_url`]).
    pub smtp_url: Option<String>,
    /// Where time comes from (a `coffer_server::ManualClock` to move it).
    pub clock: Option<std::sync::Arc<dyn coffer_server::Clock>>,
    /// How long access tokens live [default: 1 hour].
    pub access_token_ttl_secs: Option<u64>,
    /// How often the background jobs run by themselves [default: every 5
    /// minutes, and at start]; `Some(0)` never, so only
    /// [`TestServer::run_jobs`] runs them.
    pub job_interval_secs: Option<u64>,
    /// Days without a backup before the "no backup" alert [default: 7].
    pub alert_no_backup_days: Option<u64>,
    /// Where records and objects live [default: a new place of their own:
    /// the data folder, or in the scaled run a new schema and key prefix,
    /// see `coffer_server::testing`]. Give two servers the same place to
    /// make them replicas of one service.
    pub place: Option<coffer_server::testing::Place>,
    /// The escrow key file [default: one of its own in the data folder];
    /// replicas share one (e.g. the first one's `data_dir/escrow.key`).
    pub escrow_key: Option<PathBuf>,
}

/// An account made by [`TestServer::sign_up`], signed in once.
#[derive(Debug, Clone)]
pub struct TestAccount {
    pub account_id: String,
    pub email: String,
    pub password: String,
    /// The data key given at sign-up (escrowed by the service).
    pub data_key: [u8; 32],
    /// A live access token.
    pub token: String,
}

impl TestServer {
    /// Starts a service with the default quota (50 GiB per account).
    ///
    /// # Panics
    /// If the service cannot start.
    pub fn start() -> TestServer {
        TestServer::start_with_quota(coffer_server::DEFAULT_QUOTA_BYTES)
    }

    /// Starts a service that gives each new account `quota_bytes`.
    ///
    /// # Panics
    /// If the service cannot start.
    pub fn start_with_quota(quota_bytes: u64) -> TestServer {
        TestServer::start_with(TestServerOptions {
            quota_bytes: Some(quota_bytes),
            ..TestServerOptions::default()
        })
    }

    /// Starts a service configured by `options`.
    ///
    /// # Panics
    /// If the service cannot start.
    pub fn start_with(options: TestServerOptions) -> TestServer {
        let dir = tempfile::Builder::new()
            .prefix("coffer-test-server")
            .tempdir()
            .expect("temp dir");
        let data_dir = dir.path().to_path_buf();
        let mut config = coffer_server::Config::new(
            "127.0.0.1:0".parse().expect("loopback address"),
            data_dir.clone(),
        );
        // The scaled run (PostgreSQL + S3) when the environment names one.
        let place = options.place.unwrap_or_else(coffer_server::testing::new_place);
        config.database_url = place.database_url.clone();
        config.objects_url = place.objects_url.clone();
        let escrow_key = options
            .escrow_key
            .unwrap_or_else(|| data_dir.join("escrow.key"));
        config.escrow_key_path = Some(escrow_key.clone());
        if let Some(quota) = options.quota_bytes {
            config.quota_bytes = quota;
        }
        config.smtp_url = options.smtp_url;
        if let Some(clock) = options.clock {
            config.clock = clock;
        }
        if let Some(ttl) = options.access_token_ttl_secs {
            config.access_token_ttl_secs = ttl;
        }
        if let Some(interval) = options.job_interval_secs {
            config.job_interval_secs = interval;
        }
        if let Some(days) = options.alert_no_backup_days {
            config.alert_no_backup_days = days;
        }
        let (ready_tx, ready_rx) = mpsc::channel::<Result<SocketAddr, String>>();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (jobs_tx, mut jobs_rx) = tokio::sync::mpsc::unbounded_channel::<JobRequest>();
        let thread = std::thread::Builder::new()
            .name("coffer-test-server".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("building a runtime: {e}")));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match coffer_server::start(config).await {
                        Ok(server) => {
                            let _ = ready_tx.send(Ok(server.addr));
                            loop {
                                tokio::select! {
                                    _ = &mut stop_rx => break,
                                    Some(reply) = jobs_rx.recv() => {
                                        let report = coffer_server::jobs::run_due(&server.state)
                                            .await
                                            .map_err(|e| format!("{e:#}"));
                                        let _ = reply.send(report);
                                    }
                                }
                            }
                            // Graceful shutdown waits for open requests; do not hang a test on one.
                            let stopped = tokio::time::timeout(
                                std::time::Duration::from_secs(10),
                                server.stop(),
                            )
                            .await;
                            match stopped {
                                Ok(Ok(())) => {}
                                Ok(Err(e)) => eprintln!("test server stopped with an error: {e:#}"),
                                Err(_) => eprintln!("test server did not stop within 10 s"),
                            }
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(format!("{e:#}")));
                        }
                    }
                });
            })
            .expect("spawning the server thread");
        let addr = match ready_rx.recv() {
            Ok(Ok(addr)) => addr,
            Ok(Err(e)) => panic!("test server failed to start: {e}"),
            Err(_) => panic!("test server thread ended before starting"),
        };
        TestServer {
            url: format!("http://{addr}"),
            addr,
            data_dir,
            place,
            escrow_key,
            stop: Some(stop_tx),
            jobs: jobs_tx,
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// A configuration naming this service's data: its data folder, place
    /// and escrow key (e.g. for the operator's commands, which open the
    /// same data as the running service).
    pub fn config(&self) -> coffer_server::Config {
        let mut config = coffer_server::Config::new(self.addr, self.data_dir.clone());
        config.database_url = self.place.database_url.clone();
        config.objects_url = self.place.objects_url.clone();
        config.escrow_key_path = Some(self.escrow_key.clone());
        config
    }

    /// Environment variables that point the `coffer-server` program at
    /// this service's place (`COFFER_DATABASE`, `COFFER_OBJECTS`,
    /// `COFFER_ESCROW_KEY_FILE`), beside `--data-dir`.
    pub fn program_env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![(
            "COFFER_ESCROW_KEY_FILE",
            self.escrow_key.to_string_lossy().into_owned(),
        )];
        if let Some(url) = &self.place.database_url {
            env.push(("COFFER_DATABASE", url.clone()));
        }
        if let Some(url) = &self.place.objects_url {
            env.push(("COFFER_OBJECTS", url.clone()));
        }
        env
    }

    /// Every object the service's store holds whose path
    /// (`<account>/<kind>/<id>`) starts with `prefix`, with its bytes —
    /// from the folder or the S3 store alike.
    ///
    /// # Panics
    /// If the store cannot be read.
    pub fn stored_objects(&self, prefix: &str) -> Vec<(String, Vec<u8>)> {
        let store =
            coffer_server::ObjectStore::open(self.place.objects_url.as_deref(), &self.data_dir)
                .expect("opening the object store");
        block_on(async {
            let mut objects = Vec::new();
            for (path, _) in store.list(prefix).await.expect("listing objects") {
                let mut parts = path.splitn(3, '/');
                let (Some(account), Some(kind), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
                    continue;
                };
                if let Some(bytes) = store.read(account, kind, id, None).await.expect("reading an object") {
                    objects.push((path.clone(), bytes.to_vec()));
                }
            }
            objects
        })
    }

    /// Everything the service holds, wherever it is: each file of its data
    /// folder, and in the scaled run every object in the S3 store and the
    /// rows of its PostgreSQL schema — to show that something is nowhere.
    ///
    /// # Panics
    /// If any of it cannot be read.
    pub fn everything_held(&self) -> Vec<(String, Vec<u8>)> {
        let mut held = Vec::new();
        let mut folders = vec![self.data_dir.clone()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).expect("reading the data folder") {
                let path = entry.expect("a folder entry").path();
                if path.is_dir() {
                    folders.push(path);
                } else if let Ok(bytes) = std::fs::read(&path) {
                    held.push((path.display().to_string(), bytes));
                }
            }
        }
        if self.place.objects_url.is_some() {
            held.extend(self.stored_objects(""));
        }
        if let Some(url) = &self.place.database_url {
            // Made and dropped here, not on the runtime's thread.
            let db = coffer_server::Db::connect(Some(url), &self.data_dir.join("unused.db"))
                .expect("connecting to the database");
            let rows = block_on(db.stored_bytes()).expect("reading the database");
            held.push(("<the PostgreSQL schema>".into(), rows));
        }
        held
    }

    /// The service's database, opened beside it (same file or schema).
    ///
    /// # Panics
    /// If it cannot be opened.
    pub fn db(&self) -> coffer_server::Db {
        coffer_server::Db::connect(self.place.database_url.as_deref(), &self.data_dir.join("coffer.db"))
            .expect("opening the service's database")
    }

    /// Runs the background jobs once, now by the server's clock, and waits
    /// for them (combine with `job_interval_secs: Some(0)` and a
    /// `ManualClock` to decide when jobs run and what time they see).
    ///
    /// # Panics
    /// If a job fails or the server has stopped.
    pub fn run_jobs(&self) -> coffer_server::jobs::JobReport {
        let (tx, rx) = mpsc::channel();
        self.jobs.send(tx).expect("the server is running");
        rx.recv()
            .expect("the server answered")
            .unwrap_or_else(|e| panic!("background jobs failed: {e}"))
    }

    /// `url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Signs up a new account with a unique email (`<prefix>-<n>@example.com`)
    /// and a random data key, then signs it in. Uses blocking HTTP, so call it
    /// from synchronous code only.
    ///
    /// # Panics
    /// If sign-up or sign-in fails.
    pub fn sign_up(&self, prefix: &str) -> TestAccount {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let email = format!(
            "{prefix}-{}@example.com",
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let data_key: [u8; 32] = rand::random();
        let client = reqwest::blocking::Client::new();
        let response = client
            .post(self.url("/v1/accounts"))
            .json(&json!({
                "first_name": "Test", "last_name": "Person", "email": email,
                "password": TEST_PASSWORD, "age_confirmed": true, "key_mode": "default",
                "data_key": base64::engine::general_purpose::STANDARD.encode(data_key),
            }))
            .send()
            .expect("sign-up request");
        let status = response.status();
        let body: Value = response.json().expect("sign-up response");
        assert_eq!(status.as_u16(), 201, "sign-up failed: {body}");
        let token = self.sign_in(&email, TEST_PASSWORD);
        TestAccount {
            account_id: body["account_id"].as_str().expect("account_id").to_owned(),
            email,
            password: TEST_PASSWORD.to_owned(),
            data_key,
            token,
        }
    }

    /// Signs in and returns a new access token (blocking HTTP).
    ///
    /// # Panics
    /// If sign-in fails.
    pub fn sign_in(&self, email: &str, password: &str) -> String {
        self.sign_in_full(email, password)["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// `DELETE /v1/repo/{kind}/{id}` with `token`, as any holder of a
    /// session could send it, with an optional `Coffer-Confirmation`
    /// header. Returns the status and the JSON body (`null` when empty).
    ///
    /// # Panics
    /// If the request cannot be sent.
    pub fn delete_object(&self, token: &str, kind: &str, id: &str, confirmation: Option<&str>) -> (u16, Value) {
        let mut request = reqwest::blocking::Client::new()
            .delete(self.url(&format!("/v1/repo/{kind}/{id}")))
            .bearer_auth(token);
        if let Some(confirmation) = confirmation {
            request = request.header("Coffer-Confirmation", confirmation);
        }
        let response = request.send().expect("delete request");
        let status = response.status().as_u16();
        let body = response.json().unwrap_or(Value::Null);
        (status, body)
    }

    /// Signs in and returns the whole response: `access_token`,
    /// `refresh_token`, `access_expires_at`, `session_id`, `account`.
    ///
    /// # Panics
    /// If sign-in fails.
    pub fn sign_in_full(&self, email: &str, password: &str) -> Value {
        let response = reqwest::blocking::Client::new()
            .post(self.url("/v1/sessions"))
            .json(&json!({
                "email": email, "password": password, "device_id": "test-device",
                "device_name": "Test device", "app_version": "0.0.0-test",
            }))
            .send()
            .expect("sign-in request");
        let status = response.status();
        let body: Value = response.json().expect("sign-in response");
        assert_eq!(status.as_u16(), 200, "sign-in failed: {body}");
        body
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs `future` to completion on a runtime of its own (for synchronous
/// tests that call the service's async APIs).
pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}
