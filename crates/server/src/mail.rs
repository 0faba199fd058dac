//! Outgoing mail: SMTP through lettre when `--smtp-url` is given, otherwise
//! `.eml` files in `<data-dir>/outbox/` (the embedded default), one per mail.
//!
//! Links in mail carry one-time tokens, so neither the SMTP URL (it may hold
//! a password) nor a mail's body is ever logged.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rand::RngCore;

/// One mail to one person.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    /// Plain text.
    pub body: String,
    /// For non-essential mail: the one-click unsubscribe URL, sent as
    /// `List-Unsubscribe` with `List-Unsubscribe-Post` (RFC 8058).
    pub unsubscribe_url: Option<String>,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

/// Sends mail the configured way.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.transport {
            Transport::Smtp(_) => f.write_str("Mailer(smtp)"),
            Transport::Outbox(dir) => write!(f, "Mailer(outbox {})", dir.display()),
        }
    }
}

impl Mailer {
    /// SMTP to `smtp_url` (`smtp://host:port`, `smtp://host:port?tls=required`,
    /// `smtps://user:pass@host`), or files in `outbox` when there is none.
    ///
    /// # Errors
    /// When the URL or the sender address is malformed, or the outbox folder
    /// cannot be created.
    pub fn new(smtp_url: Option<&str>, outbox: PathBuf, from: &str) -> anyhow::Result<Mailer> {
        let from: Mailbox = from
            .parse()
            .with_context(|| format!("--mail-from {from:?} is not a mail address"))?;
        let transport = match smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    // The URL may hold a password: say what is wrong, not what it is.
                    .map_err(|e| anyhow::anyhow!("--smtp-url is not usable: {e}"))?
                    .timeout(Some(Duration::from_secs(20)))
                    .build(),
            ),
            None => {
                std::fs::create_dir_all(&outbox)
                    .with_context(|| format!("creating {}", outbox.display()))?;
                Transport::Outbox(outbox)
            }
        };
        Ok(Mailer { transport, from })
    }

    /// Where mail goes when there is no SMTP server, if that is the setup.
    pub fn outbox(&self) -> Option<&std::path::Path> {
        match &self.transport {
            Transport::Outbox(dir) => Some(dir),
            Transport::Smtp(_) => None,
        }
    }

    /// Sends one mail.
    ///
    /// # Errors
    /// When the address is malformed, the SMTP server refuses or cannot be
    /// reached, or the outbox file cannot be written.
    pub async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        let to: Mailbox = mail
            .to
            .parse()
            .context("the recipient is not a mail address")?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN);
        if let Some(url) = &mail.unsubscribe_url {
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{url}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        let message = builder.body(mail.body).context("building a mail")?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message).await.context("sending a mail by SMTP")?;
            }
            Transport::Outbox(dir) => {
                let mut random = [0u8; 6];
                rand::rngs::OsRng.fill_bytes(&mut random);
                let name = format!("{}-{}", crate::now_ms(), hex::encode(random));
                let staging = dir.join(format!(".{name}.tmp"));
                let path = dir.join(format!("{name}.eml"));
                tokio::fs::write(&staging, message.formatted())
                    .await
                    .with_context(|| format!("writing {}", staging.display()))?;
                tokio::fs::rename(&staging, &path)
                    .await
                    .with_context(|| format!("renaming into {}", path.display()))?;
                tracing::info!(path = %path.display(), "mail written to the outbox");
            }
        }
        Ok(())
    }
}
