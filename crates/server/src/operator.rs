//! What the operator subcommands do (`coffer-server send-mail`,
//! `coffer-server publish-policy`), as library calls so tests run them too.

use anyhow::{bail, Context};

use crate::db::{PolicyRecord, Recipient};
use crate::mail::Mail;
use crate::preferences::{category, category_mail};
use crate::AppState;

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
