//! What the operator subcommands do (`coffer-server send-mail`,
//! `coffer-server publish-policy`, `coffer-server export-account`), as
//! library calls so tests run them too.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use coffer_engine::{DataKey, ErrorKind, Id, Repository, RestoreOptions};

use crate::db::{PolicyRecord, Recipient};
use crate::mail::Mail;
use crate::preferences::{category, category_mail};
use crate::store_backend::StoreBackend;
use crate::{AppState, Db, EscrowKey, ObjectStore};

/// What `export-account` refuses a private-key account with.
pub const PRIVATE_KEY_REFUSAL: &str = "this account uses a private key; the service cannot \
     decrypt it (it has only wraps of the data key made with the person's key and recovery \
     code, never the key itself)";

/// One snapshot written by [`export_account`].
#[derive(Debug, Clone)]
pub struct ExportedSnapshot {
    /// `OUT/<time as YYYY-MM-DDTHH-MM-SSZ>-<first 8 hex digits of the id>`.
    pub folder: PathBuf,
    pub snapshot_id: String,
    /// When the backup started, Unix milliseconds.
    pub time: i64,
    pub device_name: String,
    pub files: u64,
    pub bytes: u64,
    /// Entries not restored, with the reason (damaged data, unsafe names).
    pub skipped: Vec<(PathBuf, String)>,
}

/// What [`export_account`] wrote.
#[derive(Debug, Clone)]
pub struct ExportReport {
    pub account_id: String,
    pub snapshots: Vec<ExportedSnapshot>,
    /// Snapshot files that do not open with the escrowed key (left over
    /// from a key change in progress), with the reason.
    pub unreadable: Vec<(String, String)>,
}

/// The folder name of a snapshot: its UTC start time and a short id.
pub fn snapshot_folder_name(time_ms: i64, id: &str) -> String {
    let time = chrono::DateTime::from_timestamp_millis(time_ms).map_or_else(
        || "unknown-time".to_owned(),
        |t| t.format("%Y-%m-%dT%H-%M-%SZ").to_string(),
    );
    format!("{time}-{}", id.get(..8).unwrap_or(id))
}

/// Writes every snapshot of a default-key account, in clear, into
/// `out/<snapshot time>-<short id>/`: the escrowed data key is unwrapped
/// with the escrow key, and the account's objects are read from the object
/// store through a read-only engine backend. Logs one line (the operator
/// action and the account id, never a key).
///
/// Opens the database read-only and never writes to the object store, so it
/// may run while the service does.
///
/// # Errors
/// An unknown email; a private-key account ([`PRIVATE_KEY_REFUSAL`], and
/// nothing is written); `out` existing and not empty; a missing or
/// unreadable database, escrow key or object folder; storage or integrity
/// failures while restoring.
pub async fn export_account(
    data_dir: &Path,
    database_url: Option<&str>,
    objects_url: Option<&str>,
    escrow_key: Option<&Path>,
    email: &str,
    out: &Path,
) -> anyhow::Result<ExportReport> {
    let email = email.trim().to_lowercase();
    let db = match database_url {
        None => Db::open_read_only(&data_dir.join("coffer.db"))?,
        Some(url) => Db::connect(Some(url), &data_dir.join("coffer.db"))?,
    };
    let Some(account) = db.account_by_email(email.clone()).await? else {
        bail!("no account has the email {email}");
    };
    let account_id = account.id.clone();
    let wrapped = match (account.key_mode.as_str(), &account.escrowed_data_key) {
        ("private", _) => {
            tracing::warn!(
                operator_action = "export-account",
                account_id,
                key_mode = "private",
                "operator export refused: the account uses a private key"
            );
            bail!(PRIVATE_KEY_REFUSAL);
        }
        ("default", Some(wrapped)) => wrapped.clone(),
        (mode, _) => bail!("account {account_id} has key mode {mode:?} without an escrowed key"),
    };
    if out.exists() {
        let mut entries =
            std::fs::read_dir(out).with_context(|| format!("reading {}", out.display()))?;
        if entries.next().is_some() {
            bail!(
                "{} is not empty; give an empty or new folder",
                out.display()
            );
        }
    }
    let escrow = match escrow_key {
        Some(path) => EscrowKey::load(path)?,
        None => EscrowKey::load(&data_dir.join("escrow.key"))?,
    };
    let store = match objects_url {
        None => ObjectStore::local_read_only(&data_dir.join("objects"))?,
        Some(url) => ObjectStore::open(Some(url), data_dir)?,
    };
    tracing::warn!(
        operator_action = "export-account",
        account_id,
        key_mode = "default",
        "operator is exporting the account's files in clear with the escrow key"
    );
    let data_key = escrow.unwrap(&account_id, &wrapped)?;
    let data_key: [u8; 32] = data_key
        .as_slice()
        .try_into()
        .context("the escrowed data key is not 32 bytes")?;
    let data_key = DataKey::from_bytes(data_key);
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let backend = StoreBackend::new(db, store, &account_id, tokio::runtime::Handle::current());
    let out = out.to_path_buf();
    tokio::task::spawn_blocking(move || restore_all(backend, &data_key, &account_id, &out))
        .await
        .context("the export task panicked")?
}

fn restore_all(
    backend: StoreBackend,
    data_key: &DataKey,
    account_id: &str,
    out: &Path,
) -> anyhow::Result<ExportReport> {
    let backend: Arc<dyn coffer_engine::Backend> = Arc::new(backend);
    let repo = Repository::open_tolerant(backend.clone(), data_key)
        .context("opening the account's repository with the escrowed key")?;
    let mut snapshots = Vec::new();
    let mut unreadable = Vec::new();
    for info in backend.list(coffer_engine::FileKind::Snapshot)? {
        match repo.snapshot(&info.id) {
            Ok(snapshot) => snapshots.push((info.id, snapshot)),
            Err(e) if e.kind() == ErrorKind::Integrity => {
                unreadable.push((info.id.to_hex(), e.to_string()));
            }
            Err(e) => return Err(e).context(format!("reading snapshot {}", info.id)),
        }
    }
    snapshots.sort_by(|(a_id, a), (b_id, b)| a.time.cmp(&b.time).then(a_id.cmp(b_id)));
    let mut report = ExportReport {
        account_id: account_id.to_owned(),
        snapshots: Vec::new(),
        unreadable,
    };
    for (id, snapshot) in snapshots {
        let hex = Id::to_hex(&id);
        let folder = out.join(snapshot_folder_name(snapshot.time, &hex));
        let options = RestoreOptions {
            target: folder.clone(),
            ..RestoreOptions::default()
        };
        let summary = coffer_engine::restore(&repo, &id, &options, &mut |_| {})
            .with_context(|| format!("restoring snapshot {hex}"))?;
        report.snapshots.push(ExportedSnapshot {
            folder,
            snapshot_id: hex,
            time: snapshot.time,
            device_name: snapshot.device_name,
            files: summary.files,
            bytes: summary.bytes,
            skipped: summary
                .skipped
                .into_iter()
                .map(|s| (s.path, s.reason))
                .collect(),
        });
    }
    Ok(report)
}

/// How a mailing went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailingReport {
    /// Mails handed to the SMTP server or written to the outbox.
    pub sent: u64,
    /// Mails that could not be sent (logged with the account id).
    pub failed: u64,
}

async fn send_each(
    state: &AppState,
    recipients: Vec<Recipient>,
    make: impl Fn(&Recipient) -> Mail,
) -> MailingReport {
    let mut report = MailingReport::default();
    for recipient in &recipients {
        match state.mailer.send(make(recipient)).await {
            Ok(()) => report.sent += 1,
            Err(e) => {
                report.failed += 1;
                tracing::warn!(
                    account_id = recipient.account_id,
                    error = format!("{e:#}"),
                    "mail not sent"
                );
            }
        }
    }
    report
}

/// Sends a non-essential mail of `category` to every account that opted in
/// to it, and only to them, each with its own one-click unsubscribe link.
///
/// # Errors
/// An unknown category, an empty subject or body, or a database failure.
pub async fn send_category_mail(
    state: &AppState,
    category_name: &str,
    subject: &str,
    body: &str,
) -> anyhow::Result<MailingReport> {
    let Some(category) = category(category_name) else {
        bail!(
            "unknown category {category_name:?}; use product_announcements, software_updates, \
             surveys_research, newsletter or operational_alerts"
        );
    };
    if subject.trim().is_empty() || body.trim().is_empty() {
        bail!("the subject and the body must not be empty");
    }
    let recipients = state
        .db
        .recipients(Some(category.name), category.default_on)
        .await?;
    let report = send_each(state, recipients, |r| {
        category_mail(state, &r.account_id, &r.email, category, subject, body)
    })
    .await;
    tracing::info!(
        category = category.name,
        sent = report.sent,
        failed = report.failed,
        "category mail sent"
    );
    Ok(report)
}

/// Publishes a new privacy-policy version and mails every account
/// (regardless of preferences: policy changes are essential mail).
///
/// # Errors
/// A malformed or already published version, empty text, or a database
/// failure.
pub async fn publish_policy(
    state: &AppState,
    version: &str,
    text: &str,
) -> anyhow::Result<MailingReport> {
    let version = version.trim();
    if version.is_empty()
        || version.chars().count() > 50
        || version.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        bail!("the version must be 1 to 50 characters without spaces");
    }
    if text.trim().is_empty() {
        bail!("the policy text must not be empty");
    }
    let published_at = state.now();
    let stored = state
        .db
        .publish_policy(PolicyRecord {
            version: version.to_owned(),
            text: text.to_owned(),
            published_at,
        })
        .await
        .context("storing the policy")?;
    if !stored {
        bail!("policy version {version:?} was already published");
    }
    let date = crate::calendar::utc_day(published_at);
    let link = state.link("/v1/policy");
    let recipients = state.db.recipients(None, true).await?;
    let report = send_each(state, recipients, |r| Mail {
        to: r.email.clone(),
        subject: format!("Coffer's privacy policy has changed (version {version})"),
        body: format!(
            "Hello,\n\nWe have published a new version ({version}) of Coffer's privacy policy, \
             in effect from {date}. The Coffer app will show it and ask you to accept it the \
             next time you open it. It is also at {link}\n\nThe full text follows.\n\n\
             ----\n\n{}\n",
            text.trim_end()
        ),
        unsubscribe_url: None,
    })
    .await;
    tracing::info!(
        version,
        sent = report.sent,
        failed = report.failed,
        "policy published"
    );
    Ok(report)
}
