//! The scaled backend: PostgreSQL, shared by every replica of the service.
//!
//! Connections come from two pools of the synchronous `postgres` client
//! (each call runs on `spawn_blocking`, as SQLite's do): one for statements,
//! one for advisory locks, which keep their connection for as long as they
//! are held (see `docs/database.md`). A `postgres::Client` owns a small
//! runtime of its own, which must not be dropped on an async worker thread:
//! connections are only ever used and dropped on blocking threads.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use bytes::BytesMut;
use postgres::error::SqlState;
use postgres::types::{IsNull, ToSql, Type};
use postgres::{GenericClient, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::sql::{numbered_placeholders, Dialect, Row, Sql, Value};

/// The schema, one entry per version (the table `coffer_schema_version`
/// holds how many ran). The same tables as SQLite's list builds, with
/// PostgreSQL's types: BIGINT for every integer, BYTEA for blobs, text
/// compared byte by byte (`COLLATE "C"`, as SQLite does), and a `rowid`
/// identity column where SQLite's implicit one orders rows.
pub(super) const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE accounts (
    id                      TEXT COLLATE "C" PRIMARY KEY,
    first_name              TEXT COLLATE "C" NOT NULL,
    last_name               TEXT COLLATE "C" NOT NULL,
    email                   TEXT COLLATE "C" NOT NULL UNIQUE,
    password_hash           TEXT COLLATE "C" NOT NULL,
    key_mode                TEXT COLLATE "C" NOT NULL,
    escrowed_data_key       BYTEA,
    quota_bytes             BIGINT NOT NULL,
    created_at              BIGINT NOT NULL,
    email_verified_at       BIGINT,
    pending_email           TEXT COLLATE "C",
    address                 TEXT COLLATE "C",
    wrapped_keys            TEXT COLLATE "C",
    key_changed_at          BIGINT,
    password_changed_at     BIGINT,
    policy_accepted_version TEXT COLLATE "C",
    policy_accepted_at      BIGINT,
    deletion_requested_at   BIGINT,
    purge_at                BIGINT,
    totp_secret             BYTEA,
    totp_pending_secret     BYTEA,
    totp_enabled_at         BIGINT,
    totp_last_step          BIGINT,
    rowid                   BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX accounts_by_purge ON accounts(purge_at) WHERE purge_at IS NOT NULL;

CREATE TABLE sessions (
    id                TEXT COLLATE "C" PRIMARY KEY,
    account_id        TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_sha256      BYTEA NOT NULL UNIQUE,
    device_id         TEXT COLLATE "C" NOT NULL,
    device_name       TEXT COLLATE "C" NOT NULL,
    app_version       TEXT COLLATE "C" NOT NULL,
    ip                TEXT COLLATE "C",
    started_at        BIGINT NOT NULL,
    last_seen_at      BIGINT NOT NULL,
    ended_at          BIGINT,
    requests          BIGINT NOT NULL DEFAULT 0,
    bytes_up          BIGINT NOT NULL DEFAULT 0,
    bytes_down        BIGINT NOT NULL DEFAULT 0,
    access_expires_at BIGINT NOT NULL DEFAULT 0,
    refresh_sha256    BYTEA,
    transfer_ms       BIGINT NOT NULL DEFAULT 0,
    end_reason        TEXT COLLATE "C",
    rowid             BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX sessions_by_account ON sessions(account_id);
CREATE UNIQUE INDEX sessions_by_refresh ON sessions(refresh_sha256);
CREATE INDEX sessions_by_end ON sessions(ended_at);
CREATE TABLE rotated_refresh_tokens (
    sha256     BYTEA PRIMARY KEY,
    session_id TEXT COLLATE "C" NOT NULL REFERENCES sessions(id) ON DELETE CASCADE
);
CREATE INDEX rotated_by_session ON rotated_refresh_tokens(session_id);

CREATE TABLE objects (
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind        TEXT COLLATE "C" NOT NULL,
    id          TEXT COLLATE "C" NOT NULL,
    size        BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    held_in     TEXT COLLATE "C",
    purge_after BIGINT,
    rowid       BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (account_id, kind, id)
);
CREATE INDEX objects_by_age ON objects(account_id, kind, created_at);
CREATE INDEX objects_by_hold ON objects(held_in) WHERE held_in IS NOT NULL;
CREATE INDEX objects_by_purge ON objects(purge_after) WHERE purge_after IS NOT NULL;

CREATE TABLE email_tokens (
    sha256     BYTEA PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    purpose    TEXT COLLATE "C" NOT NULL,
    email      TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX email_tokens_by_account ON email_tokens(account_id, purpose);
CREATE TABLE preferences (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    category   TEXT COLLATE "C" NOT NULL,
    enabled    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, category)
);
CREATE TABLE recovery_codes (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    sha256     BYTEA NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (account_id, sha256)
);
CREATE TABLE policies (
    version      TEXT COLLATE "C" PRIMARY KEY,
    text         TEXT COLLATE "C" NOT NULL,
    published_at BIGINT NOT NULL,
    rowid        BIGINT GENERATED ALWAYS AS IDENTITY
);

CREATE TABLE alerts_sent (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    alert      TEXT COLLATE "C" NOT NULL,
    sent_at    BIGINT NOT NULL,
    PRIMARY KEY (account_id, alert)
);

CREATE TABLE deletion_grants (
    sha256     BYTEA PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    session_id TEXT COLLATE "C" NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX deletion_grants_by_expiry ON deletion_grants(expires_at);
CREATE TABLE deletion_batches (
    id            TEXT COLLATE "C" PRIMARY KEY,
    account_id    TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    grant_sha256  BYTEA NOT NULL,
    session_id    TEXT COLLATE "C" NOT NULL,
    device_id     TEXT COLLATE "C" NOT NULL,
    device_name   TEXT COLLATE "C" NOT NULL,
    confirmed_at  BIGINT NOT NULL,
    first_held_at BIGINT NOT NULL,
    last_held_at  BIGINT NOT NULL,
    mailed_at     BIGINT,
    cancelled_at  BIGINT,
    rowid         BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX deletion_batches_by_account ON deletion_batches(account_id);
CREATE INDEX deletion_batches_by_grant ON deletion_batches(grant_sha256);

CREATE TABLE app_tokens (
    id           TEXT COLLATE "C" PRIMARY KEY,
    account_id   TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name         TEXT COLLATE "C" NOT NULL,
    scopes       TEXT COLLATE "C" NOT NULL,
    token_sha256 BYTEA NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    last_used_ip TEXT COLLATE "C",
    uses         BIGINT NOT NULL DEFAULT 0,
    rowid        BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX app_tokens_by_account ON app_tokens(account_id);
CREATE INDEX app_tokens_by_expiry ON app_tokens(expires_at);

CREATE TABLE shares (
    id             TEXT COLLATE "C" PRIMARY KEY,
    account_id     TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    state          TEXT COLLATE "C" NOT NULL,
    created_at     BIGINT NOT NULL,
    completed_at   BIGINT,
    expires_at     BIGINT NOT NULL,
    password_hash  TEXT COLLATE "C",
    max_downloads  BIGINT,
    downloads      BIGINT NOT NULL DEFAULT 0,
    last_opened_at BIGINT,
    parts          BIGINT NOT NULL,
    revoked_at     BIGINT,
    removed_at     BIGINT,
    rowid          BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX shares_by_account ON shares(account_id);
CREATE TABLE share_recipients (
    share_id TEXT COLLATE "C" NOT NULL REFERENCES shares(id) ON DELETE CASCADE,
    email    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (share_id, email)
);
CREATE TABLE share_parts (
    share_id   TEXT COLLATE "C" NOT NULL REFERENCES shares(id) ON DELETE CASCADE,
    account_id TEXT COLLATE "C" NOT NULL,
    part       BIGINT NOT NULL,
    size       BIGINT NOT NULL,
    PRIMARY KEY (share_id, part)
);
CREATE INDEX share_parts_by_account ON share_parts(account_id);
CREATE TABLE share_tickets (
    sha256     BYTEA PRIMARY KEY,
    share_id   TEXT COLLATE "C" NOT NULL REFERENCES shares(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);
CREATE INDEX share_tickets_by_share ON share_tickets(share_id);
"#];

/// Statement connections per replica: enough for the two cores' blocking
/// calls and a few waiting on row locks.
const STATEMENT_POOL_SIZE: u32 = 10;
/// Connections holding advisory locks (account writes, the jobs lease).
/// More writers than this wait for a connection before their lock.
const LOCK_POOL_SIZE: u32 = 24;
/// How long a statement waits for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a writer waits for a lock connection (others' uploads hold
/// them meanwhile).
const LOCK_CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);

/// What a lock key is for; part of the key, with the schema.
#[derive(Debug, Clone, Copy)]
pub(super) enum LockPurpose {
    Migrate,
    Jobs,
    AccountWrites,
}

/// The PostgreSQL database (and schema) a `postgres://` URL names.
#[derive(Clone)]
pub(super) struct Postgres {
    shared: Arc<Shared>,
}

struct Shared {
    /// `None` only while dropping.
    pools: Option<Pools>,
    schema: Option<String>,
}

struct Pools {
    statements: r2d2::Pool<Connector>,
    locks: r2d2::Pool<Connector>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Dropping a client on an async worker thread panics (it owns a
        // runtime): let a plain thread close the connections.
        if let Some(pools) = self.pools.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                let _ = std::thread::Builder::new()
                    .name("coffer-db-close".into())
                    .spawn(move || drop(pools));
            }
        }
    }
}

impl Postgres {
    /// Connects to the database `url` names, creates the `?schema=` if
    /// missing and migrates it. Blocking: call off async worker threads.
    pub(super) fn connect(url: &str) -> anyhow::Result<Postgres> {
        let Target {
            config,
            schema,
            root_cert,
        } = parse_url(url)?;
        let tls = tls_connector(root_cert.as_deref())?;
        let mut client = config
            .connect(tls.clone())
            .map_err(|e| anyhow!("connecting to PostgreSQL: {e}"))?;
        let migrated = migrate(&mut client, schema.as_deref());
        drop(client);
        migrated?;
        let connector = Connector { config, tls };
        let build = |size: u32, timeout: Duration| {
            r2d2::Pool::builder()
                .max_size(size)
                // Connections are made when needed, not all at start.
                .min_idle(Some(0))
                .idle_timeout(Some(Duration::from_secs(120)))
                .connection_timeout(timeout)
                // A broken connection shows itself (and is dropped) on its
                // first failed statement; a check on every checkout would
                // cost a round trip per call.
                .test_on_check_out(false)
                .thread_pool(pool_threads())
                .build_unchecked(connector.clone())
        };
        let pools = Pools {
            statements: build(STATEMENT_POOL_SIZE, CONNECT_TIMEOUT),
            locks: build(LOCK_POOL_SIZE, LOCK_CONNECTION_TIMEOUT),
        };
        Ok(Postgres {
            shared: Arc::new(Shared {
                pools: Some(pools),
                schema,
            }),
        })
    }

    fn pools(&self) -> &Pools {
        self.shared
            .pools
            .as_ref()
            .expect("the pools are only taken when the last handle drops")
    }

    /// Runs `f` on a pooled connection (blocking).
    pub(super) fn run<R>(
        &self,
        f: impl FnOnce(&mut dyn Sql) -> anyhow::Result<R>,
    ) -> anyhow::Result<R> {
        let mut conn = checkout(&self.pools().statements)?;
        let Connection {
            client, statements, ..
        } = &mut *conn;
        f(&mut Statements { client, statements })
    }

    /// Runs `f` in a READ COMMITTED transaction, committed when `f`
    /// succeeds; retried (up to three times in all) when PostgreSQL ends it
    /// for a deadlock or a serialization failure (blocking).
    pub(super) fn run_in_transaction<R>(
        &self,
        mut f: impl FnMut(&mut dyn Sql) -> anyhow::Result<R>,
    ) -> anyhow::Result<R> {
        let mut attempt = 1;
        loop {
            let mut conn = checkout(&self.pools().statements)?;
            let Connection {
                client, statements, ..
            } = &mut *conn;
            let result = (|| {
                let mut tx = client.transaction()?;
                let result = f(&mut Statements {
                    client: &mut tx,
                    statements: &mut *statements,
                })?;
                tx.commit()?;
                Ok(result)
            })();
            match result {
                Err(e) if attempt < 3 && is_retryable(&e) => attempt += 1,
                other => return other,
            }
        }
    }

    /// Waits for the advisory lock `(purpose, name)` on a connection of its
    /// own; released when the returned value drops (blocking).
    pub(super) fn lock(&self, purpose: LockPurpose, name: &str) -> anyhow::Result<HeldLock> {
        let key = self.lock_key(purpose, name);
        let mut conn = checkout(&self.pools().locks)?;
        // Marked before asking: a connection that may hold the lock never
        // goes back to the pool still holding it (the pool closes it, which
        // ends the lock with the session).
        conn.holds_lock = true;
        conn.client
            .execute("SELECT pg_advisory_lock($1)", &[&key])?;
        Ok(HeldLock {
            conn: Some(conn),
            key,
        })
    }

    /// Takes the advisory lock `(purpose, name)` if nobody holds it
    /// (blocking).
    pub(super) fn try_lock(
        &self,
        purpose: LockPurpose,
        name: &str,
    ) -> anyhow::Result<Option<HeldLock>> {
        let key = self.lock_key(purpose, name);
        let mut conn = checkout(&self.pools().locks)?;
        conn.holds_lock = true;
        let taken: bool = conn
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])?
            .try_get(0)?;
        if !taken {
            conn.holds_lock = false;
            return Ok(None);
        }
        Ok(Some(HeldLock {
            conn: Some(conn),
            key,
        }))
    }

    /// Advisory locks are database-wide: the key includes the schema, so
    /// services on other schemas of the same database never contend.
    fn lock_key(&self, purpose: LockPurpose, name: &str) -> i64 {
        lock_key(self.shared.schema.as_deref(), purpose, name)
    }

    /// Every value of every row of every table of the schema, as bytes.
    pub(super) fn contents(&self) -> anyhow::Result<Vec<u8>> {
        self.run(|db| {
            let tables = db.query_map(
                "SELECT table_name::text FROM information_schema.tables
                 WHERE table_schema = current_schema() ORDER BY table_name",
                &[],
                |r| r.get::<String>(0),
            )?;
            let mut out = Vec::new();
            for table in tables {
                let quoted = table.replace('"', "\"\"");
                for row in db.query(&format!("SELECT * FROM \"{quoted}\""), &[])? {
                    for value in row.values() {
                        match value {
                            Value::Null => {}
                            Value::Int(v) => out.extend_from_slice(v.to_string().as_bytes()),
                            Value::Text(v) => out.extend_from_slice(v.as_bytes()),
                            Value::Bytes(v) => out.extend_from_slice(v),
                        }
                        out.push(b'\n');
                    }
                }
            }
            Ok(out)
        })
    }
}

fn lock_key(schema: Option<&str>, purpose: LockPurpose, name: &str) -> i64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"coffer advisory lock\0");
    hasher.update(schema.unwrap_or("").as_bytes());
    hasher.update(b"\0");
    hasher.update(format!("{purpose:?}").as_bytes());
    hasher.update(b"\0");
    hasher.update(name.as_bytes());
    let bytes: [u8; 8] = hasher.finalize().as_bytes()[..8]
        .try_into()
        .expect("eight bytes");
    i64::from_be_bytes(bytes)
}

/// An advisory lock held on its own connection.
pub(super) struct HeldLock {
    conn: Option<r2d2::PooledConnection<Connector>>,
    key: i64,
}

impl HeldLock {
    /// Releases the lock and waits until it is released.
    pub(super) async fn release(mut self) {
        if let Some(conn) = self.conn.take() {
            let key = self.key;
            // A panic there still ends the lock: the connection is closed.
            let _ = tokio::task::spawn_blocking(move || unlock(conn, key)).await;
        }
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let key = self.key;
        // Statements block: on an async thread, hand the release to a
        // blocking one.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => drop(handle.spawn_blocking(move || unlock(conn, key))),
            Err(_) => unlock(conn, key),
        }
    }
}

/// Releases `key` on the connection that holds it, then returns the
/// connection to its pool; one whose release failed is closed instead,
/// which ends the lock with its session.
fn unlock(mut conn: r2d2::PooledConnection<Connector>, key: i64) {
    let released = conn
        .client
        .query_one("SELECT pg_advisory_unlock($1)", &[&key])
        .and_then(|row| row.try_get::<_, bool>(0));
    if let Ok(true) = released {
        conn.holds_lock = false;
    }
}

/// What a database URL names.
struct Target {
    config: postgres::Config,
    schema: Option<String>,
    /// `?sslrootcert=FILE`: the certificates (PEM) to trust instead of the
    /// public roots.
    root_cert: Option<std::path::PathBuf>,
}

/// TLS as `sslmode` asks for it (`disable`, `prefer` — the default —,
/// `require`): rustls with the public roots (webpki-roots) or the given
/// ones. A certificate is always checked, chain and host name both.
fn tls_connector(root_cert: Option<&std::path::Path>) -> anyhow::Result<MakeRustlsConnect> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    match root_cert {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .with_context(|| format!("reading sslrootcert {}", path.display()))?;
            for cert in certs {
                let cert = cert.with_context(|| format!("reading sslrootcert {}", path.display()))?;
                roots
                    .add(cert)
                    .with_context(|| format!("sslrootcert {} holds an unusable certificate", path.display()))?;
            }
            if roots.is_empty() {
                bail!("sslrootcert {} holds no certificate", path.display());
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("setting up TLS")?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// `postgres://…[?schema=NAME&sslrootcert=FILE&…]` → the driver's
/// configuration, the schema and the root certificates. Error messages never
/// repeat the URL (it may hold a password).
fn parse_url(url: &str) -> anyhow::Result<Target> {
    let mut parsed = url::Url::parse(url).map_err(|e| anyhow!("malformed database URL: {e}"))?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        bail!(
            "unsupported database URL scheme {:?}: use postgres:// (or none for SQLite)",
            parsed.scheme()
        );
    }
    let mut schema = None;
    let mut root_cert = None;
    let mut others = Vec::new();
    for (name, value) in parsed.query_pairs() {
        match (name.as_ref(), value.as_ref()) {
            ("schema", _) => schema = Some(value.into_owned()),
            ("sslrootcert", _) => root_cert = Some(std::path::PathBuf::from(value.as_ref())),
            // libpq's names for "TLS, checked": rustls always checks the
            // chain and the host name, which is the driver's `require` here.
            ("sslmode", "verify-full" | "verify-ca") => {
                others.push(("sslmode".to_owned(), "require".to_owned()));
            }
            _ => others.push((name.into_owned(), value.into_owned())),
        }
    }
    if let Some(name) = &schema {
        let valid = name.len() <= 63
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            bail!(
                "database schema {name:?} must be 1 to 63 lowercase letters, digits and \
                 underscores, not starting with a digit"
            );
        }
    }
    if others.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(&others);
    }
    let mut config = postgres::Config::from_str(parsed.as_str())
        .map_err(|e| anyhow!("malformed database URL: {e}"))?;
    if config.get_application_name().is_none() {
        config.application_name("coffer-server");
    }
    if let Some(name) = &schema {
        // Every connection resolves unqualified names in the schema only.
        let options = match config.get_options() {
            Some(given) => format!("{given} -c search_path={name}"),
            None => format!("-c search_path={name}"),
        };
        config.options(&options);
    }
    Ok(Target {
        config,
        schema,
        root_cert,
    })
}

/// Creates the schema and brings it to the latest version, under an
/// advisory lock so that replicas starting together migrate once.
fn migrate(client: &mut postgres::Client, schema: Option<&str>) -> anyhow::Result<()> {
    let key = lock_key(schema, LockPurpose::Migrate, "");
    client
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .context("waiting for the migration lock")?;
    let result = migrate_locked(client, schema);
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&key]);
    result?;
    unlocked.context("releasing the migration lock")?;
    Ok(())
}

fn migrate_locked(client: &mut postgres::Client, schema: Option<&str>) -> anyhow::Result<()> {
    if let Some(name) = schema {
        client
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{name}\""))
            .context("creating the database schema")?;
    }
    client.batch_execute(
        "CREATE TABLE IF NOT EXISTS coffer_schema_version (version BIGINT NOT NULL)",
    )?;
    let version: i64 = client
        .query_opt("SELECT version FROM coffer_schema_version", &[])?
        .map(|r| r.try_get(0))
        .transpose()?
        .unwrap_or(0);
    let latest = MIGRATIONS.len();
    let applied = usize::try_from(version).context("negative schema version")?;
    if applied > latest {
        bail!(
            "the database has schema version {applied}, newer than this program's {latest}; \
             run the newer service"
        );
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        let next = i64::try_from(index + 1)?;
        let mut tx = client.transaction()?;
        tx.batch_execute(migration)
            .with_context(|| format!("migrating the database to version {next}"))?;
        tx.execute("DELETE FROM coffer_schema_version", &[])?;
        tx.execute(
            "INSERT INTO coffer_schema_version (version) VALUES ($1)",
            &[&next],
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// Whether PostgreSQL refused a row for a uniqueness constraint.
pub(super) fn is_unique_violation(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<postgres::Error>()
        .and_then(postgres::Error::code)
        == Some(&SqlState::UNIQUE_VIOLATION)
}

fn is_retryable(error: &anyhow::Error) -> bool {
    matches!(
        error.downcast_ref::<postgres::Error>().and_then(postgres::Error::code),
        Some(code) if *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::T_R_SERIALIZATION_FAILURE
    )
}

fn checkout(pool: &r2d2::Pool<Connector>) -> anyhow::Result<r2d2::PooledConnection<Connector>> {
    pool.get()
        .map_err(|e| anyhow!("no PostgreSQL connection: {e}"))
}

/// The threads that open connections for the pools, shared by all of them.
fn pool_threads() -> Arc<scheduled_thread_pool::ScheduledThreadPool> {
    static THREADS: OnceLock<Arc<scheduled_thread_pool::ScheduledThreadPool>> = OnceLock::new();
    THREADS
        .get_or_init(|| {
            Arc::new(
                scheduled_thread_pool::ScheduledThreadPool::builder()
                    .num_threads(2)
                    .thread_name_pattern("coffer-db-pool-{}")
                    .build(),
            )
        })
        .clone()
}

/// Opens connections for the pools.
#[derive(Clone)]
struct Connector {
    config: postgres::Config,
    tls: MakeRustlsConnect,
}

/// A pooled connection with its prepared statements.
struct Connection {
    client: postgres::Client,
    /// Prepared once per connection, by the statement's text.
    statements: HashMap<String, Statement>,
    /// Set while it may hold an advisory lock: such a connection is closed
    /// rather than reused.
    holds_lock: bool,
}

impl r2d2::ManageConnection for Connector {
    type Connection = Connection;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Connection, postgres::Error> {
        Ok(Connection {
            client: self.config.connect(self.tls.clone())?,
            statements: HashMap::new(),
            holds_lock: false,
        })
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(drop)
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        conn.holds_lock || conn.client.is_closed()
    }
}

struct Statements<'a, C: GenericClient> {
    client: &'a mut C,
    statements: &'a mut HashMap<String, Statement>,
}

impl<C: GenericClient> Statements<'_, C> {
    fn prepare(&mut self, sql: &str) -> anyhow::Result<Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(&numbered_placeholders(sql))?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

impl<C: GenericClient> Sql for Statements<'_, C> {
    fn execute(&mut self, sql: &str, args: &[Value]) -> anyhow::Result<u64> {
        let statement = self.prepare(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|v| v as _).collect();
        Ok(self.client.execute(&statement, &params)?)
    }

    fn query(&mut self, sql: &str, args: &[Value]) -> anyhow::Result<Vec<Row>> {
        let statement = self.prepare(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|v| v as _).collect();
        self.client
            .query(&statement, &params)?
            .iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| column_value(row, i))
                    .collect::<anyhow::Result<Vec<_>>>()
                    .map(Row::new)
            })
            .collect()
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
}

fn column_value(row: &postgres::Row, index: usize) -> anyhow::Result<Value> {
    let ty = row.columns()[index].type_();
    let value = match *ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(index)?.map(Value::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(index)?
            .map(|v| Value::Int(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(index)?
            .map(|v| Value::Int(v.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(index)?
            .map(|v| Value::Int(v.into())),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
            row.try_get::<_, Option<String>>(index)?.map(Value::Text)
        }
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(index)?.map(Value::Bytes),
        _ => bail!("column {index} has the unsupported type {ty}"),
    };
    Ok(value.unwrap_or(Value::Null))
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                _ => Err(format!("an integer cannot be sent as {ty}").into()),
            },
            Value::Text(v) if <&str as ToSql>::accepts(ty) => v.as_str().to_sql(ty, out),
            Value::Bytes(v) if <&[u8] as ToSql>::accepts(ty) => v.as_slice().to_sql(ty, out),
            Value::Text(_) | Value::Bytes(_) => {
                Err(format!("{} cannot be sent as {ty}", self.kind()).into())
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value in `to_sql`.
        true
    }

    postgres::types::to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_parameter_becomes_the_search_path() {
        let target = parse_url(
            "postgres://coffer:secret@127.0.0.1:55432/coffer?schema=t_01&sslmode=disable",
        )
        .unwrap();
        assert_eq!(target.schema.as_deref(), Some("t_01"));
        assert_eq!(target.config.get_options(), Some("-c search_path=t_01"));
        assert_eq!(target.config.get_dbname(), Some("coffer"));
        assert_eq!(target.config.get_password(), Some(b"secret".as_slice()));
        assert_eq!(target.config.get_ssl_mode(), postgres::config::SslMode::Disable);
        let target = parse_url("postgresql://coffer@localhost/coffer").unwrap();
        assert_eq!(target.schema, None);
        assert_eq!(target.root_cert, None);
    }

    #[test]
    fn libpq_tls_modes_and_root_certificates_are_understood() {
        let target = parse_url(
            "postgres://coffer@db.internal/coffer?sslmode=verify-full&sslrootcert=/etc/coffer/db-ca.pem",
        )
        .unwrap();
        assert_eq!(target.config.get_ssl_mode(), postgres::config::SslMode::Require);
        assert_eq!(
            target.root_cert.as_deref(),
            Some(std::path::Path::new("/etc/coffer/db-ca.pem"))
        );
        let missing = tls_connector(Some(std::path::Path::new("/no/such/ca.pem")));
        assert!(format!("{:#}", missing.err().unwrap()).contains("sslrootcert /no/such/ca.pem"));
    }

    #[test]
    fn bad_urls_are_refused_without_repeating_them() {
        for url in [
            "postgres://coffer:s3cr3t@h/db?schema=Robert');DROP",
            "postgres://coffer:s3cr3t@h/db?schema=1abc",
            "mysql://coffer:s3cr3t@h/db",
            "postgres://coffer:s3cr3t@h/db?no_such_option=1",
        ] {
            let error = format!("{:#}", parse_url(url).err().unwrap());
            assert!(!error.contains("s3cr3t"), "{error}");
        }
    }

    #[test]
    fn lock_keys_differ_by_schema_purpose_and_name() {
        let a = lock_key(Some("t_1"), LockPurpose::AccountWrites, "acc");
        assert_eq!(a, lock_key(Some("t_1"), LockPurpose::AccountWrites, "acc"));
        assert_ne!(a, lock_key(Some("t_2"), LockPurpose::AccountWrites, "acc"));
        assert_ne!(a, lock_key(Some("t_1"), LockPurpose::AccountWrites, "acd"));
        assert_ne!(
            lock_key(None, LockPurpose::Jobs, ""),
            lock_key(None, LockPurpose::Migrate, "")
        );
    }
}
