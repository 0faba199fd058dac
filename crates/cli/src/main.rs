//! `coffer`: the Coffer agent from a terminal. Each subcommand parses its
//! arguments, calls one `coffer_client::Agent` function and prints the result.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use coffer_client::{Agent, AgentOptions, BackupPhase, ErrorKind, RestoreRequest, SignInRequest, SignUpRequest};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Parser)]
#[command(name = "coffer", version, about = "Encrypted backup to a Coffer service")]
struct Cli {
    /// The Coffer service to use (remembered); default http://127.0.0.1:8750.
    #[arg(long, global = true, value_name = "URL")]
    server: Option<String>,
    /// Where this agent keeps its catalog; several folders = several agents.
    #[arg(long, global = true, env = "COFFER_CONFIG_DIR", value_name = "DIR")]
    config_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an account (password from COFFER_PASSWORD or standard input) and sign in.
    Signup {
        #[arg(long, value_name = "NAME")]
        first: String,
        #[arg(long, value_name = "NAME")]
        last: String,
        #[arg(long)]
        email: String,
        /// Confirm that you are at least 13 years old.
        #[arg(long)]
        confirm_age: bool,
    },
    /// Sign in (password from COFFER_PASSWORD or standard input).
    Login {
        #[arg(long)]
        email: String,
    },
    /// Sign out of this device.
    Logout,
    /// Choose the folders to back up.
    Folders {
        #[command(subcommand)]
        action: FolderAction,
    },
    /// Back up the chosen folders now.
    Backup,
    /// List the backups of this account, newest first.
    Snapshots {
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup (the latest when SNAPSHOT is omitted) into a folder.
    Restore {
        /// Snapshot id or a unique prefix of one.
        snapshot: Option<String>,
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// Restore only this original path (repeatable).
        #[arg(long = "path", value_name = "PATH")]
        paths: Vec<String>,
    },
    /// Show which account and service this agent uses.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum FolderAction {
    Add { path: String },
    Remove { path: String },
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("coffer: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The password: `COFFER_PASSWORD`, else a hidden prompt on a terminal, else
/// the first line of standard input.
fn read_password(prompt: &str) -> Result<String> {
    if let Ok(password) = std::env::var("COFFER_PASSWORD") {
        return Ok(password);
    }
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        rpassword::prompt_password(prompt).context("could not read the password")?
    } else {
        let mut text = String::new();
        stdin.lock().read_to_string(&mut text).context("could not read the password from standard input")?;
        text.lines().next().unwrap_or_default().to_owned()
    };
    if password.is_empty() {
        bail!("no password given: set COFFER_PASSWORD or type it when asked");
    }
    Ok(password)
}

/// With no keychain the agent cannot remember a session between commands:
/// each command signs in again from `COFFER_PASSWORD`.
fn ensure_session(agent: &Agent) -> Result<()> {
    if agent.is_signed_in()? {
        return Ok(());
    }
    let Some(email) = agent.account_email()? else {
        bail!("not signed in: run `coffer signup` or `coffer login` first");
    };
    if agent.keychain_available() {
        bail!("signed out: run `coffer login --email {email}`");
    }
    let Ok(password) = std::env::var("COFFER_PASSWORD") else {
        bail!(
            "no keychain is reachable on this machine, so Coffer cannot remember your session; \
             set COFFER_PASSWORD to sign in for each command"
        );
    };
    agent.sign_in(&SignInRequest { email, password, server_url: None })?;
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    let config_dir = cli.config_dir.unwrap_or_else(coffer_client::default_config_dir);
    let mut options = AgentOptions::new(&config_dir);
    if let Ok(service) = std::env::var("COFFER_KEYCHAIN_SERVICE") {
        options.keychain_service = service;
    }
    let agent = Agent::open(&options)?;
    let server = cli.server.clone();
    if let (Some(url), false) = (&server, matches!(cli.command, Command::Signup { .. } | Command::Login { .. })) {
        agent.set_server_url(url)?;
    }
    if !agent.keychain_available() && matches!(cli.command, Command::Signup { .. } | Command::Login { .. }) {
        eprintln!("coffer: no keychain is reachable: this command's session is not remembered (set COFFER_PASSWORD for later commands)");
    }
    match cli.command {
        Command::Signup { first, last, email, confirm_age } => {
            if !confirm_age {
                bail!("You must be at least 13 years old to use Coffer: pass --confirm-age to confirm that you are.");
            }
            let password = read_password("New Coffer password: ")?;
            let account = agent.sign_up(&SignUpRequest {
                first_name: first,
                last_name: last,
                email,
                password,
                confirm_age,
                server_url: server,
            })?;
            println!("Signed up and signed in as {} at {}", account.email, account.server_url);
        }
        Command::Login { email } => {
            let password = read_password("Coffer password: ")?;
            let account = agent.sign_in(&SignInRequest { email, password, server_url: server })?;
            println!("Signed in as {} at {}", account.email, account.server_url);
        }
        Command::Logout => {
            agent.sign_out()?;
            println!("Signed out");
        }
        Command::Folders { action } => {
            let folders = match action {
                FolderAction::Add { path } => agent.add_folder(&path)?,
                FolderAction::Remove { path } => agent.remove_folder(&path)?,
                FolderAction::List => agent.folders()?,
            };
            if folders.is_empty() {
                println!("No folders chosen yet: add one with `coffer folders add PATH`");
            }
            for folder in folders {
                println!("{}", folder.path);
            }
        }
        Command::Backup => {
            ensure_session(&agent)?;
            backup(&agent)?;
        }
        Command::Snapshots { json } => {
            ensure_session(&agent)?;
            let snapshots = agent.snapshots()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&snapshots)?);
            } else if snapshots.is_empty() {
                println!("No backups yet: run `coffer backup`");
            } else {
                println!("{:<12} {:<16} {:>8} {:>10}  {}", "ID", "TIME", "FILES", "SIZE", "FOLDERS");
                for s in snapshots {
                    println!(
                        "{:<12} {:<16} {:>8} {:>10}  {}",
                        &s.id[..12],
                        format_time(s.time),
                        s.files,
                        format_bytes(s.bytes),
                        s.roots.join(", ")
                    );
                }
            }
        }
        Command::Restore { snapshot, to, paths } => {
            ensure_session(&agent)?;
            let to = std::path::absolute(&to).context("cannot resolve the restore folder")?;
            let request = RestoreRequest {
                snapshot_id: snapshot.unwrap_or_default(),
                paths,
                target: to.to_string_lossy().into_owned(),
            };
            let summary = agent.restore(&request, &mut |_| {})?;
            println!("Restored {} files ({}) into {}", summary.files, format_bytes(summary.bytes), summary.target);
            for skipped in &summary.skipped {
                eprintln!("skipped {}: {}", skipped.path, skipped.reason);
            }
            if !summary.skipped.is_empty() {
                bail!("{} files could not be restored", summary.skipped.len());
            }
        }
        Command::Status { json } => {
            let status = agent.status();
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                match &status.account {
                    Some(a) => println!("Signed in as {} ({} {})", a.email, a.first_name, a.last_name),
                    None => println!("Not signed in"),
                }
                println!("Service: {}", status.server_url);
                println!("Keychain: {}", if status.keychain_available { "available" } else { "not available" });
            }
        }
    }
    Ok(())
}

fn backup(agent: &Agent) -> Result<()> {
    let interactive = std::io::stderr().is_terminal();
    let bar = if interactive { ProgressBar::new(0) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:>9} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let result = agent.backup_now(&mut |p| {
        bar.set_length(p.bytes_total);
        bar.set_position(p.bytes_done);
        bar.set_message(match p.phase {
            BackupPhase::Scanning => "scanning",
            BackupPhase::Uploading => "uploading",
            BackupPhase::Finishing => "finishing",
            BackupPhase::Done => "done",
        });
    });
    bar.finish_and_clear();
    let report = match result {
        Ok(report) => report,
        Err(err) if err.kind == ErrorKind::Busy => bail!("{err} (wait for it to finish)"),
        Err(err) => return Err(err.into()),
    };
    println!(
        "Backed up {} files: {} read ({}), {} uploaded; snapshot {}",
        report.files_total,
        report.files_read,
        format_bytes(report.bytes_read),
        format_bytes(report.bytes_uploaded),
        &report.snapshot_id[..12]
    );
    for skipped in &report.skipped {
        eprintln!("skipped {}: {}", skipped.path, skipped.reason);
    }
    std::io::stdout().flush().ok();
    Ok(())
}

fn format_bytes(bytes: u64) -> String {
    indicatif::HumanBytes(bytes).to_string()
}

/// Unix milliseconds as local `YYYY-MM-DD HH:MM`.
fn format_time(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M").to_string(),
        None => "?".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_minutes() {
        assert_eq!(format_time(1_795_395_723_000).len(), "2026-11-23 01:02".len());
        assert_eq!(format_time(i64::MAX), "?");
    }
}
