//! `coffer-server`: the Coffer service as a program, and the operator's
//! subcommands (`send-mail`, `publish-policy`, `export-account`). See
//! `docs/operations.md`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use coffer_server::{start, AppState, Config, Holidays};

/// The Coffer backup service.
#[derive(Parser, Debug)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Mail everyone who opted in to a category (and only them); prints how
    /// many mails were sent.
    SendMail {
        #[command(flatten)]
        common: CommonArgs,
        /// product_announcements, software_updates, surveys_research,
        /// newsletter or operational_alerts.
        #[arg(long)]
        category: String,
        #[arg(long)]
        subject: String,
        /// A plain-text file with the body; an unsubscribe link is appended.
        #[arg(long)]
        body_file: PathBuf,
    },
    /// Publish a new privacy-policy version and mail every account about it
    /// (regardless of preferences); prints how many mails were sent.
    PublishPolicy {
        #[command(flatten)]
        common: CommonArgs,
        /// The version name, e.g. 2025-06 or 2.1.
        #[arg(long)]
        version: String,
        /// The policy text (Markdown or plain text).
        #[arg(long)]
        file: PathBuf,
    },
    /// Write a default-key account's backed-up files, in clear, into OUT
    /// (one folder per snapshot), unwrapping its data key with the escrow
    /// key. Logged. Refused for a private-key account: the service cannot
    /// decrypt it. Reads the database and objects only; safe beside a
    /// running service.
    ExportAccount {
        #[command(flatten)]
        data: DataArgs,
        /// Confirms that the files are to be written in clear (required).
        #[arg(long)]
        decrypt: bool,
        /// The account's email.
        email: String,
        /// An empty or new folder to write into.
        out: PathBuf,
    },
}

/// Where the data is, for subcommands that need nothing else.
#[derive(Args, Debug, Clone)]
struct DataArgs {
    /// Folder of the database, escrow key and objects
    /// [default: the platform data folder + coffer-server].
    #[arg(long, env = "COFFER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    stores: StoreArgs,
    /// How log lines on stderr look: `text` or `json`.
    #[arg(long, env = "COFFER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// What the service and the subcommands share: where the data is and how
/// mail goes out.
#[derive(Args, Debug, Clone)]
struct CommonArgs {
    /// Folder for the database, escrow key, objects and mail outbox
    /// [default: the platform data folder + coffer-server].
    #[arg(long, env = "COFFER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    stores: StoreArgs,
    /// Address to listen on (loopback only until TLS is supported).
    #[arg(long, env = "COFFER_LISTEN", default_value = coffer_server::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Base URL of links in mail [default: http://<listen address>].
    #[arg(long, env = "COFFER_PUBLIC_URL")]
    public_url: Option<String>,
    /// SMTP server for mail, e.g. smtp://127.0.0.1:25, smtp://host:587?tls=required,
    /// smtps://user:password@host. Without it, mail is written to
    /// <data-dir>/outbox/ as .eml files. Prefer the environment variable when
    /// the URL holds a password.
    #[arg(long, env = "COFFER_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// The From: of every mail.
    #[arg(long, env = "COFFER_MAIL_FROM", default_value = coffer_server::DEFAULT_MAIL_FROM)]
    mail_from: String,
    /// How log lines on stderr look: `text` for people, `json` (one object
    /// per line) for log collectors.
    #[arg(long, env = "COFFER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// Where records and objects live when not in the data folder (the
/// scaled configuration: every replica of the service names the same).
#[derive(Args, Clone)]
struct StoreArgs {
    /// The metadata database [default: SQLite in the data folder], e.g.
    /// postgres://coffer:PASSWORD@db.internal:5432/coffer (add ?schema=NAME
    /// to use a schema other than public). Prefer the environment variable:
    /// the URL holds a password.
    #[arg(long, env = "COFFER_DATABASE", hide_env_values = true)]
    database: Option<String>,
    /// Where backed-up objects live [default: <data-dir>/objects]: a
    /// folder, or an S3-compatible bucket,
    /// s3://BUCKET[/PREFIX]?endpoint=http://127.0.0.1:3900&region=garage
    /// (keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or
    /// &access_key_id=…&secret_access_key=… in the URL).
    #[arg(long, env = "COFFER_OBJECTS", hide_env_values = true)]
    objects: Option<String>,
    /// The escrow key file [default: <data-dir>/escrow.key, made on first
    /// start]. Every replica of one service must use the same key: give
    /// each the same file (mode 600).
    #[arg(long, env = "COFFER_ESCROW_KEY_FILE")]
    escrow_key: Option<PathBuf>,
}

impl std::fmt::Debug for StoreArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Both may hold secrets.
        f.debug_struct("StoreArgs")
            .field("database", &self.database.as_ref().map(|_| "<set>"))
            .field("objects", &self.objects.as_ref().map(|_| "<set>"))
            .field("escrow_key", &self.escrow_key)
            .finish()
    }
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum LogFormat {
    Text,
    Json,
}

/// Logs go to stderr; stdout carries only the listening line (or a
/// subcommand's result). `RUST_LOG` filters them.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,tower_http=info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .flatten_event(true)
            .init(),
    }
}

#[derive(Args, Debug)]
struct ServeArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Storage quota for each new account, in GiB.
    #[arg(long, env = "COFFER_QUOTA_GB", default_value_t = 50)]
    quota_gb: u64,
    /// How long an access token lives, in seconds.
    #[arg(long, env = "COFFER_ACCESS_TOKEN_TTL_SECS", default_value_t = coffer_server::DEFAULT_ACCESS_TOKEN_TTL_SECS)]
    access_token_ttl_secs: u64,
    /// How long records of ended sessions are kept, in days.
    #[arg(long, env = "COFFER_SESSION_RETENTION_DAYS", default_value_t = coffer_server::DEFAULT_SESSION_RETENTION_DAYS)]
    session_retention_days: u64,
    /// Business days between an account deletion request and the purge.
    #[arg(long, env = "COFFER_DELETION_GRACE_DAYS", default_value_t = coffer_server::DEFAULT_DELETION_GRACE_BUSINESS_DAYS)]
    deletion_grace_days: u32,
    /// A file of holidays (one YYYY-MM-DD per line, # comments) that do not
    /// count as business days.
    #[arg(long, env = "COFFER_HOLIDAYS_FILE")]
    holidays_file: Option<PathBuf>,
    /// How often the background jobs (session retention, account purge)
    /// run, in seconds.
    #[arg(long, env = "COFFER_JOB_INTERVAL_SECS", default_value_t = coffer_server::DEFAULT_JOB_INTERVAL_SECS)]
    job_interval_secs: u64,
    /// Mail an operational alert to accounts without a backup for this many
    /// days (0: never).
    #[arg(long, env = "COFFER_ALERT_NO_BACKUP_DAYS", default_value_t = coffer_server::alerts::DEFAULT_NO_BACKUP_DAYS)]
    alert_no_backup_days: u64,
    /// Wrong sign-in attempts allowed per email within 15 minutes before
    /// further attempts get 429 (0: no limit).
    #[arg(long, env = "COFFER_SIGN_IN_MAX_FAILURES", default_value_t = coffer_server::throttle::DEFAULT_MAX_FAILURES_PER_EMAIL)]
    sign_in_max_failures: u32,
    /// Wrong sign-in attempts allowed per IP address within 15 minutes
    /// (0: no limit). Behind a reverse proxy every client has the proxy's
    /// address, so this limits all of them together.
    #[arg(long, env = "COFFER_SIGN_IN_IP_MAX_FAILURES", default_value_t = coffer_server::throttle::DEFAULT_MAX_FAILURES_PER_IP)]
    sign_in_ip_max_failures: u32,
    /// Sign-ups accepted per IP address within an hour (0: no limit).
    #[arg(long, env = "COFFER_SIGN_UPS_PER_IP", default_value_t = coffer_server::throttle::DEFAULT_SIGN_UPS_PER_IP)]
    sign_ups_per_ip: u32,
    /// Password-reset mails asked for per email within an hour (0: no
    /// limit).
    #[arg(long, env = "COFFER_PASSWORD_RESETS_PER_EMAIL", default_value_t = coffer_server::throttle::DEFAULT_RESETS_PER_EMAIL)]
    password_resets_per_email: u32,
    /// Password-reset mails asked for per IP address within an hour (0: no
    /// limit).
    #[arg(long, env = "COFFER_PASSWORD_RESETS_PER_IP", default_value_t = coffer_server::throttle::DEFAULT_RESETS_PER_IP)]
    password_resets_per_ip: u32,
}

/// Completes on SIGTERM or Ctrl-C. The handlers are installed when this is
/// called, not when the future is first polled: called before the ready
/// line is printed, a signal sent right after that line still shuts the
/// service down gracefully instead of killing it.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("listening for Ctrl-C")?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
            tracing::info!("shutting down");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            tracing::info!("shutting down");
        })
    }
}

fn config(common: &CommonArgs) -> anyhow::Result<Config> {
    let data_dir = match &common.data_dir {
        Some(dir) => dir.clone(),
        None => dirs::data_dir()
            .context("no platform data folder; pass --data-dir")?
            .join("coffer-server"),
    };
    let mut config = Config::new(common.listen, data_dir);
    config.database_url = common.stores.database.clone();
    config.objects_url = common.stores.objects.clone();
    config.escrow_key_path = common.stores.escrow_key.clone();
    config.public_url = common.public_url.clone();
    config.smtp_url = common.smtp_url.clone();
    config.mail_from = common.mail_from.clone();
    Ok(config)
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn open_state(config: &Config) -> anyhow::Result<AppState> {
    AppState::open(config)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = config(&args.common)?;
    config.quota_bytes = args
        .quota_gb
        .checked_mul(1024 * 1024 * 1024)
        .context("--quota-gb is too large")?;
    config.access_token_ttl_secs = args.access_token_ttl_secs;
    config.session_retention_days = args.session_retention_days;
    config.deletion_grace_business_days = args.deletion_grace_days;
    config.job_interval_secs = args.job_interval_secs;
    config.alert_no_backup_days = args.alert_no_backup_days;
    config.sign_in_max_failures_per_email = args.sign_in_max_failures;
    config.sign_in_max_failures_per_ip = args.sign_in_ip_max_failures;
    config.sign_ups_per_ip = args.sign_ups_per_ip;
    config.password_resets_per_email = args.password_resets_per_email;
    config.password_resets_per_ip = args.password_resets_per_ip;
    if let Some(path) = &args.holidays_file {
        config.holidays = Holidays::load(path)?;
    }
    let stop = shutdown_signal()?;
    let server = start(config).await?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "coffer-server listening on {}", server.url())?;
        stdout.flush()?;
    }
    server.run_until(stop).await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(match &cli.command {
        None => cli.serve.common.log_format,
        Some(Command::SendMail { common, .. } | Command::PublishPolicy { common, .. }) => {
            common.log_format
        }
        Some(Command::ExportAccount { data, .. }) => data.log_format,
    });
    match cli.command {
        None => serve(cli.serve).await,
        Some(Command::SendMail {
            common,
            category,
            subject,
            body_file,
        }) => {
            let body = read_text(&body_file)?;
            let state = open_state(&config(&common)?)?;
            let report =
                coffer_server::operator::send_category_mail(&state, &category, &subject, &body)
                    .await?;
            println!("sent {} mails ({} failed)", report.sent, report.failed);
            Ok(())
        }
        Some(Command::PublishPolicy {
            common,
            version,
            file,
        }) => {
            let text = read_text(&file)?;
            let state = open_state(&config(&common)?)?;
            let report = coffer_server::operator::publish_policy(&state, &version, &text).await?;
            println!(
                "published policy {version}; sent {} mails ({} failed)",
                report.sent, report.failed
            );
            Ok(())
        }
        Some(Command::ExportAccount {
            data,
            decrypt,
            email,
            out,
        }) => {
            if !decrypt {
                anyhow::bail!(
                    "export-account writes the account's files in clear; pass --decrypt to confirm"
                );
            }
            let data_dir = match data.data_dir {
                Some(dir) => dir,
                None => dirs::data_dir()
                    .context("no platform data folder; pass --data-dir")?
                    .join("coffer-server"),
            };
            let report = coffer_server::operator::export_account(
                &data_dir,
                data.stores.database.as_deref(),
                data.stores.objects.as_deref(),
                data.stores.escrow_key.as_deref(),
                &email,
                &out,
            )
            .await?;
            let mut stdout = std::io::stdout().lock();
            let (mut files, mut bytes) = (0, 0);
            for snapshot in &report.snapshots {
                writeln!(
                    stdout,
                    "{}: {} files, {} bytes (snapshot {} from {:?})",
                    snapshot.folder.display(),
                    snapshot.files,
                    snapshot.bytes,
                    snapshot.snapshot_id,
                    snapshot.device_name
                )?;
                for (path, reason) in &snapshot.skipped {
                    writeln!(stdout, "  not written: {}: {reason}", path.display())?;
                }
                files += snapshot.files;
                bytes += snapshot.bytes;
            }
            for (id, reason) in &report.unreadable {
                writeln!(stdout, "snapshot {id} not written: {reason}")?;
            }
            writeln!(
                stdout,
                "exported account {}: {} snapshots, {files} files, {bytes} bytes into {}",
                report.account_id,
                report.snapshots.len(),
                out.display()
            )?;
            stdout.flush()?;
            Ok(())
        }
    }
}
