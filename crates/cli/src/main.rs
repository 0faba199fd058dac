//! `coffer`: the Coffer agent from a terminal. Each subcommand parses its
//! arguments, calls one `coffer_client::Agent` function and prints the result.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use coffer_client::{Agent, AgentOptions, AppScope, BackupPhase, ConflictPolicy, ErrorKind, KeyMode, RestoreRequest, SignInRequest, SignUpRequest};
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
        /// Encrypt with your own key (from COFFER_KEY or standard input); Coffer cannot recover it.
        #[arg(long)]
        private_key: bool,
    },
    /// Unlock a private-key account on this device (key from COFFER_KEY or standard input).
    Unlock {
        /// Keep the unlocked key in this device's keychain.
        #[arg(long)]
        remember: bool,
    },
    /// Forget the unlocked key on this device.
    Lock,
    /// Your encryption key: status, change, switch mode, recover.
    Key {
        #[command(subcommand)]
        action: KeyAction,
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
    /// Check that every backup can be restored (--read-data: download and authenticate everything).
    Check {
        #[arg(long)]
        read_data: bool,
        #[arg(long)]
        json: bool,
    },
    /// Make a damaged backup restorable again, minus the files that are lost
    /// (replacing it deletes the damaged one: asks for your password).
    Repair {
        /// Snapshot id or a unique prefix of one.
        snapshot: String,
        /// Your two-factor code, when two-factor sign-in is on (or COFFER_TOTP).
        #[arg(long, value_name = "CODE")]
        totp: Option<String>,
    },
    /// Show or set how many versions are kept.
    Retention {
        #[arg(long)]
        keep_last: Option<u32>,
        #[arg(long)]
        keep_hourly: Option<u32>,
        #[arg(long)]
        keep_daily: Option<u32>,
        #[arg(long)]
        keep_weekly: Option<u32>,
        #[arg(long)]
        keep_monthly: Option<u32>,
        #[arg(long)]
        keep_yearly: Option<u32>,
        /// Keep every backup younger than this many days (0 = no such rule).
        #[arg(long)]
        keep_within_days: Option<u32>,
        /// Apply the rules by itself once a day.
        #[arg(long)]
        automatic: Option<bool>,
        #[arg(long)]
        json: bool,
    },
    /// Forget backups the retention rules do not keep, and prune their data.
    /// Deleting needs your password (COFFER_PASSWORD or a prompt) and, when
    /// two-factor sign-in is on, a code; the service holds what is deleted
    /// for 7 days (see `coffer deletions`).
    Forget {
        /// Only show what would be forgotten.
        #[arg(long)]
        dry_run: bool,
        /// Allow a prune that deletes more than half of the stored data.
        #[arg(long)]
        confirm_large: bool,
        /// Your two-factor code, when two-factor sign-in is on (or COFFER_TOTP).
        #[arg(long, value_name = "CODE")]
        totp: Option<String>,
    },
    /// Deleted backups the service still holds (7 days); `cancel ID` puts one back.
    Deletions {
        #[command(subcommand)]
        action: Option<DeletionAction>,
        #[arg(long)]
        json: bool,
    },
    /// Your account: show, export, delete.
    Account {
        #[command(subcommand)]
        action: AccountAction,
    },
    /// Sessions of your account (every device); `revoke ID` ends one.
    Sessions {
        #[command(subcommand)]
        action: Option<SessionAction>,
        #[arg(long)]
        json: bool,
    },
    /// Mail you agree to get: show all, or set one category on or off.
    Prefs {
        /// product_announcements, software_updates, surveys_research, newsletter or operational_alerts.
        category: Option<String>,
        #[arg(value_parser = ["on", "off"])]
        value: Option<String>,
    },
    /// Your account password.
    Password {
        #[command(subcommand)]
        action: PasswordAction,
    },
    /// Share a file or folder from a backup with people by email; they get an
    /// end-to-end encrypted link (the key is in the link, never on the service).
    Share {
        /// The original full path of the file or folder, as it was backed up.
        path: String,
        /// The backup to share from (id or unique prefix) [default: the latest].
        #[arg(long, value_name = "ID")]
        snapshot: Option<String>,
        /// Who is told by mail that a share waits for them (repeatable). The
        /// mail has no key: send them the printed link yourself.
        #[arg(long = "to", value_name = "EMAIL", num_args = 1..)]
        to: Vec<String>,
        /// Days until the link stops working (1–90) [default: 7].
        #[arg(long, value_name = "DAYS")]
        expires: Option<u32>,
        /// Ask recipients for a password (from COFFER_SHARE_PASSWORD or a prompt).
        #[arg(long)]
        password: bool,
        /// How many times the share may be downloaded (1–1000).
        #[arg(long, value_name = "N")]
        max_downloads: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Your shares and their state; `revoke ID` stops one at once.
    Shares {
        #[command(subcommand)]
        action: Option<ShareAction>,
        #[arg(long, global = true)]
        json: bool,
    },
    /// Connected apps: scoped tokens for third-party applications;
    /// `create NAME --scope …` makes one, `revoke ID` ends one.
    Apps {
        #[command(subcommand)]
        action: Option<AppAction>,
        #[arg(long, global = true)]
        json: bool,
    },
    /// Show which account and service this agent uses.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KeyAction {
    /// Show the key mode and whether it is unlocked here.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Change the private key (COFFER_KEY: current, COFFER_NEW_KEY: new, COFFER_PASSWORD: account password).
    Change,
    /// Switch key mode (to default: COFFER_KEY and COFFER_PASSWORD; to private: COFFER_NEW_KEY and COFFER_PASSWORD, run again to carry on after an interruption).
    Switch {
        #[arg(long, value_parser = ["private", "default"])]
        to: String,
        /// Your two-factor code, when two-factor sign-in is on (deleting the
        /// old copies needs it; or COFFER_TOTP).
        #[arg(long, value_name = "CODE")]
        totp: Option<String>,
    },
    /// Unlock with the recovery code where the key is lost (COFFER_RECOVERY_CODE or standard input).
    Recover {
        #[arg(long)]
        remember: bool,
    },
}

#[derive(Subcommand)]
enum AccountAction {
    /// Your profile, storage and key mode.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Save everything the service holds about you as JSON.
    Export {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Delete your account (password from COFFER_PASSWORD or standard input):
    /// access stops at once; stored files are purged after 10 business days, or now.
    Delete {
        #[arg(long)]
        now: bool,
    },
}

#[derive(Subcommand)]
enum SessionAction {
    /// End one session (an id from `coffer sessions`).
    Revoke { id: String },
}

#[derive(Subcommand)]
enum ShareAction {
    /// Stop sharing (an id from `coffer shares`): the link fails at once and
    /// the shared copy and recipients' addresses are removed.
    Revoke { id: String },
}

#[derive(Subcommand)]
enum AppAction {
    /// Make a token for an app; it is printed once, so give it to the app now.
    Create {
        /// A name you will recognise the app by.
        name: String,
        /// What the app may do: restore (read backups), backup (add backups,
        /// never read or delete), account_read (profile, preferences, sessions).
        #[arg(long = "scope", value_name = "SCOPE", required = true, num_args = 1.., value_parser = ["restore", "backup", "account_read"])]
        scopes: Vec<String>,
        /// Days until the token stops working (1–365) [default: 30].
        #[arg(long, value_name = "DAYS")]
        expires: Option<u32>,
    },
    /// Revoke an app (an id from `coffer apps`): its token fails at once.
    Revoke { id: String },
}

#[derive(Subcommand)]
enum DeletionAction {
    /// Put a held deletion back (an id from `coffer deletions`).
    Cancel { id: String },
}

#[derive(Subcommand)]
enum PasswordAction {
    /// Change it (COFFER_PASSWORD: current, COFFER_NEW_PASSWORD: new); other sessions end.
    Change,
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

/// Lines of standard input not yet used: secrets a script pipes in, one a line.
static STDIN_LINES: std::sync::Mutex<Option<std::vec::IntoIter<String>>> = std::sync::Mutex::new(None);

/// A secret: from the environment variable `var`, else a hidden prompt on a
/// terminal, else the next line of standard input.
fn read_secret(var: &str, prompt: &str, what: &str) -> Result<String> {
    if let Ok(value) = std::env::var(var) {
        return Ok(value);
    }
    let stdin = std::io::stdin();
    let value = if stdin.is_terminal() {
        rpassword::prompt_password(prompt).with_context(|| format!("could not read the {what}"))?
    } else {
        let mut lines = STDIN_LINES.lock().expect("stdin lock");
        if lines.is_none() {
            let mut text = String::new();
            stdin.lock().read_to_string(&mut text).with_context(|| format!("could not read the {what} from standard input"))?;
            *lines = Some(text.lines().map(str::to_owned).collect::<Vec<_>>().into_iter());
        }
        lines.as_mut().and_then(Iterator::next).unwrap_or_default()
    };
    if value.is_empty() {
        bail!("no {what} given: set {var} or type it when asked");
    }
    Ok(value)
}

fn read_password(prompt: &str) -> Result<String> {
    read_secret("COFFER_PASSWORD", prompt, "password")
}

/// Confirms it is the person before deleting: the password (COFFER_PASSWORD
/// or a prompt) and, when two-factor sign-in is on, the code (`--totp`,
/// COFFER_TOTP or a prompt). The agent keeps the confirmation in memory
/// for this command only.
fn confirm_identity(agent: &Agent, password: Option<&str>, totp: Option<String>) -> Result<()> {
    let password = match password {
        Some(password) => password.to_owned(),
        None => read_password("Confirm it's you — Coffer password: ")?,
    };
    let totp = totp.or_else(|| std::env::var("COFFER_TOTP").ok());
    match agent.confirm_identity(&password, totp.as_deref()) {
        Err(err) if err.kind == ErrorKind::TotpRequired => {
            let code = read_secret("COFFER_TOTP", "Two-factor code: ", "two-factor code")?;
            agent.confirm_identity(&password, Some(&code))?;
        }
        other => {
            other?;
        }
    }
    Ok(())
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
    agent.sign_in(&SignInRequest { email, password, server_url: None, totp_code: std::env::var("COFFER_TOTP").ok() })?;
    Ok(())
}

/// Signed in and, for a private-key account, unlocked (from `COFFER_KEY`
/// when the key is not remembered on this device).
fn ensure_unlocked(agent: &Agent) -> Result<()> {
    ensure_session(agent)?;
    if agent.status().locked {
        let Ok(key) = std::env::var("COFFER_KEY") else {
            bail!("your backups are locked on this device: run `coffer unlock` (or set COFFER_KEY)");
        };
        agent.unlock(&key, false)?;
    }
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
        Command::Signup { first, last, email, confirm_age, private_key } => {
            if !confirm_age {
                bail!("You must be at least 13 years old to use Coffer: pass --confirm-age to confirm that you are.");
            }
            let password = read_password("New Coffer password: ")?;
            let key = if private_key {
                eprintln!("Coffer cannot recover your files without your encryption key. Keep it, and the recovery code below, safe.");
                Some(read_secret("COFFER_KEY", "Your encryption key: ", "encryption key")?)
            } else {
                None
            };
            let result = agent.sign_up(&SignUpRequest {
                first_name: first,
                last_name: last,
                email,
                password,
                confirm_age,
                server_url: server,
                key_mode: if private_key { KeyMode::Private } else { KeyMode::Default },
                private_key: key,
            })?;
            println!("Signed up and signed in as {} at {}", result.account.email, result.account.server_url);
            if let Some(code) = result.recovery_code {
                println!("Recovery code (shown once; print or save it): {code}");
            }
        }
        Command::Unlock { remember } => {
            ensure_session(&agent)?;
            let key = read_secret("COFFER_KEY", "Your encryption key: ", "encryption key")?;
            let status = agent.unlock(&key, remember)?;
            println!("Unlocked{}", if status.remembered { " and remembered on this device" } else { " for this command" });
        }
        Command::Lock => {
            ensure_session(&agent)?;
            agent.lock_now()?;
            println!("Locked: the key is no longer kept on this device");
        }
        Command::Key { action } => {
            ensure_session(&agent)?;
            match action {
                KeyAction::Status { json } => {
                    let status = agent.key_status()?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&status)?);
                    } else {
                        let mode = match status.mode {
                            KeyMode::Default => "default key (escrowed with the service)",
                            KeyMode::Private => "private key (only you can open your files)",
                        };
                        println!("Mode: {mode}");
                        if let Some(at) = status.changed_at {
                            println!("Last changed: {}", format_time(at));
                        }
                        println!("On this device: {}", if !status.unlocked { "locked" } else if status.remembered { "unlocked, remembered" } else { "unlocked" });
                    }
                }
                KeyAction::Change => {
                    let current = read_secret("COFFER_KEY", "Current encryption key: ", "current key")?;
                    let new = read_secret("COFFER_NEW_KEY", "New encryption key: ", "new key")?;
                    let password = read_password("Coffer password: ")?;
                    agent.change_key(&current, &new, &password)?;
                    println!("Key changed; your recovery code still works");
                }
                KeyAction::Switch { to, .. } if to == "default" => {
                    let key = read_secret("COFFER_KEY", "Your encryption key: ", "encryption key")?;
                    let password = read_password("Coffer password: ")?;
                    agent.switch_to_default_key(&key, &password)?;
                    println!("Switched to the default key: the service now keeps your data key in escrow");
                }
                KeyAction::Switch { totp, .. } => {
                    let key = read_secret("COFFER_NEW_KEY", "New encryption key: ", "new key")?;
                    let password = read_password("Coffer password: ")?;
                    // The switch ends by deleting the old copies.
                    confirm_identity(&agent, Some(&password), totp)?;
                    let resuming = agent.key_status()?.switch_in_progress;
                    let code = agent.begin_key_switch(&key, &password)?;
                    if resuming {
                        eprintln!("Carrying on with the switch started earlier (your recovery code is the one shown then)");
                    } else {
                        println!("Recovery code (shown once; print or save it): {code}");
                        eprintln!("Coffer cannot recover your files without your new key or this code. Every backup is now uploaded again under the new key.");
                    }
                    let bar = if std::io::stderr().is_terminal() { ProgressBar::new(0) } else { ProgressBar::hidden() };
                    bar.set_style(ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len}").expect("valid template").progress_chars("=> "));
                    bar.enable_steady_tick(Duration::from_millis(120));
                    let result = agent.resume_key_switch(&key, &password, &mut |p| {
                        bar.set_message(p.stage.clone());
                        bar.set_length(p.total);
                        bar.set_position(p.done);
                    });
                    bar.finish_and_clear();
                    match result {
                        Ok(_) => println!("Switched to your private key: every backup is stored under it and the old copies are deleted"),
                        Err(err) => {
                            eprintln!("The switch stopped; run `coffer key switch --to private` again with the same new key to carry on");
                            return Err(err.into());
                        }
                    }
                }
                KeyAction::Recover { remember } => {
                    let code = read_secret("COFFER_RECOVERY_CODE", "Recovery code: ", "recovery code")?;
                    agent.unlock_with_recovery(&code, remember)?;
                    println!("Unlocked with the recovery code; set a new key with `coffer key change` if the old one is lost");
                }
            }
        }
        Command::Login { email } => {
            let password = read_password("Coffer password: ")?;
            let totp_code = std::env::var("COFFER_TOTP").ok();
            let account = match agent.sign_in(&SignInRequest { email: email.clone(), password: password.clone(), server_url: server.clone(), totp_code }) {
                Err(err) if err.kind == ErrorKind::TotpRequired => {
                    let code = read_secret("COFFER_TOTP", "Two-factor code: ", "two-factor code")?;
                    agent.sign_in(&SignInRequest { email, password, server_url: server, totp_code: Some(code) })?
                }
                other => other?,
            };
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
            ensure_unlocked(&agent)?;
            backup(&agent)?;
        }
        Command::Snapshots { json } => {
            ensure_unlocked(&agent)?;
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
            ensure_unlocked(&agent)?;
            let to = std::path::absolute(&to).context("cannot resolve the restore folder")?;
            let request = RestoreRequest {
                snapshot_id: snapshot.unwrap_or_default(),
                paths,
                target: Some(to.to_string_lossy().into_owned()),
                conflict: ConflictPolicy::Overwrite,
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
        Command::Check { read_data, json } => {
            ensure_unlocked(&agent)?;
            let (report, text) = agent.verify(read_data)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{text}");
            }
            if !report.ok {
                bail!("the check found damage (see above); `coffer repair SNAPSHOT` keeps what can be restored");
            }
        }
        Command::Repair { snapshot, totp } => {
            ensure_unlocked(&agent)?;
            confirm_identity(&agent, None, totp)?;
            print!("{}", agent.repair(&snapshot)?);
        }
        Command::Retention { keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly, keep_within_days, automatic, json } => {
            let mut settings = agent.retention()?;
            let changed = [keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly, keep_within_days].iter().any(Option::is_some)
                || automatic.is_some();
            settings.keep_last = keep_last.unwrap_or(settings.keep_last);
            settings.keep_hourly = keep_hourly.unwrap_or(settings.keep_hourly);
            settings.keep_daily = keep_daily.unwrap_or(settings.keep_daily);
            settings.keep_weekly = keep_weekly.unwrap_or(settings.keep_weekly);
            settings.keep_monthly = keep_monthly.unwrap_or(settings.keep_monthly);
            settings.keep_yearly = keep_yearly.unwrap_or(settings.keep_yearly);
            if let Some(days) = keep_within_days {
                settings.keep_within_days = (days > 0).then_some(days);
            }
            settings.automatic = automatic.unwrap_or(settings.automatic);
            if changed {
                settings = agent.set_retention(&settings)?;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&settings)?);
            } else {
                println!(
                    "Keep the last {}, hourly {}, daily {}, weekly {}, monthly {}, yearly {}{}; applied {}",
                    settings.keep_last,
                    settings.keep_hourly,
                    settings.keep_daily,
                    settings.keep_weekly,
                    settings.keep_monthly,
                    settings.keep_yearly,
                    settings.keep_within_days.map(|d| format!(", everything from the last {d} days")).unwrap_or_default(),
                    if settings.automatic { "automatically once a day" } else { "only by `coffer forget`" }
                );
            }
        }
        Command::Forget { dry_run, confirm_large, totp } => {
            ensure_unlocked(&agent)?;
            if !dry_run {
                confirm_identity(&agent, None, totp)?;
            }
            let outcome = agent.apply_retention(dry_run, confirm_large)?;
            let verb = if dry_run { "Would forget" } else { "Forgot" };
            println!("{verb} {} backups, keeping {}", outcome.removed.len(), outcome.kept);
            for s in &outcome.removed {
                println!("  {} {} {}", &s.id[..12], format_time(s.time), s.device_name);
            }
            if !dry_run {
                println!(
                    "Freed {} now; {} more once the 24-hour safety delay has passed",
                    format_bytes(outcome.bytes_freed),
                    format_bytes(outcome.bytes_waiting)
                );
                if !outcome.removed.is_empty() {
                    println!("The service holds what was deleted for 7 days: `coffer deletions` lists it, `coffer deletions cancel ID` puts it back");
                }
            }
        }
        Command::Deletions { action, json } => {
            ensure_session(&agent)?;
            let held = match action {
                Some(DeletionAction::Cancel { id }) => {
                    let held = agent.cancel_held_deletion(&id)?;
                    println!("Put back: the backups deleted in {id} are listed and restorable again");
                    held
                }
                None => agent.held_deletions()?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&held)?);
            } else if held.is_empty() {
                println!("No deleted backups are held");
            } else {
                println!("{:<32} {:<16} {:<18} {:>8} {:>8} {:>10}  GONE FOR GOOD", "ID", "DELETED", "DEVICE", "BACKUPS", "PIECES", "SIZE");
                for d in held {
                    println!(
                        "{:<32} {:<16} {:<18} {:>8} {:>8} {:>10}  {}",
                        d.id,
                        format_time(d.deleted_at),
                        d.device_name,
                        d.snapshots,
                        d.other_objects,
                        format_bytes(d.bytes),
                        format_time(d.purge_at)
                    );
                }
            }
        }
        Command::Account { action } => {
            ensure_session(&agent)?;
            match action {
                AccountAction::Show { json } => {
                    let profile = agent.profile()?;
                    let quota = agent.quota()?;
                    if json {
                        let value = serde_json::json!({ "profile": profile, "quota": quota, "server_url": agent.server_url() });
                        println!("{}", serde_json::to_string_pretty(&value)?);
                    } else {
                        println!("{} {} <{}>{}", profile.first_name, profile.last_name, profile.email, if profile.email_verified { "" } else { " (not verified yet)" });
                        if let Some(pending) = &profile.pending_email {
                            println!("New email waiting for its link: {pending}");
                        }
                        if let Some(a) = &profile.postal_address {
                            let parts = [&a.line1, &a.line2, &a.city, &a.region, &a.postal_code, &a.country];
                            println!("Address: {}", parts.iter().filter(|p| !p.is_empty()).map(|p| p.as_str()).collect::<Vec<_>>().join(", "));
                        }
                        println!("Storage: {} of {}", format_bytes(quota.used), format_bytes(quota.total));
                        println!("Two-factor sign-in: {}", if profile.totp_enabled { "on" } else { "off" });
                        println!("Service: {}", agent.server_url());
                    }
                }
                AccountAction::Export { out } => {
                    let out = std::path::absolute(&out).context("cannot resolve the export file")?;
                    let result = agent.export_data(&out.to_string_lossy())?;
                    println!("Saved {} to {}", format_bytes(result.bytes), result.path);
                }
                AccountAction::Delete { now } => {
                    let password = read_password("Coffer password: ")?;
                    let scheduled = agent.delete_account(&password, now)?;
                    if now {
                        println!("Your account is deleted and its stored files are purged.");
                    } else {
                        println!(
                            "Your account is deleted: access has stopped. Stored files are purged on {} (sign in before then to cancel).",
                            format_time(scheduled.purge_at)
                        );
                    }
                }
            }
        }
        Command::Sessions { action, json } => {
            ensure_session(&agent)?;
            match action {
                Some(SessionAction::Revoke { id }) => {
                    agent.revoke_session(&id)?;
                    println!("Session {id} ended");
                }
                None => {
                    let sessions = agent.sessions()?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&sessions)?);
                    } else {
                        println!("{:<24} {:<18} {:<16} {:<16} {:>10} {:>10}  {}", "ID", "DEVICE", "STARTED", "LAST SEEN", "UP", "DOWN", "STATE");
                        for s in sessions {
                            let state = if s.current { "this session".to_owned() } else if s.active { "active".to_owned() } else { format!("ended ({})", s.end_reason.unwrap_or_default()) };
                            println!(
                                "{:<24} {:<18} {:<16} {:<16} {:>10} {:>10}  {}",
                                s.id,
                                s.device_name,
                                format_time(s.started_at),
                                format_time(s.last_seen_at),
                                format_bytes(s.bytes_up),
                                format_bytes(s.bytes_down),
                                state
                            );
                        }
                    }
                }
            }
        }
        Command::Prefs { category, value } => {
            ensure_session(&agent)?;
            let mut prefs = agent.preferences()?;
            if let Some(category) = category {
                let Some(value) = value else { bail!("say `on` or `off` after the category") };
                let on = value == "on";
                match category.as_str() {
                    "product_announcements" => prefs.product_announcements = on,
                    "software_updates" => prefs.software_updates = on,
                    "surveys_research" => prefs.surveys_research = on,
                    "newsletter" => prefs.newsletter = on,
                    "operational_alerts" => prefs.operational_alerts = on,
                    other => bail!(
                        "there is no category “{other}”: use product_announcements, software_updates, surveys_research, newsletter or operational_alerts"
                    ),
                }
                prefs = agent.set_preferences(&prefs)?;
            }
            let on_off = |b: bool| if b { "on" } else { "off" };
            println!("product_announcements  {}", on_off(prefs.product_announcements));
            println!("software_updates       {}", on_off(prefs.software_updates));
            println!("surveys_research       {}", on_off(prefs.surveys_research));
            println!("newsletter             {}", on_off(prefs.newsletter));
            println!("operational_alerts     {}", on_off(prefs.operational_alerts));
        }
        Command::Password { action: PasswordAction::Change } => {
            ensure_session(&agent)?;
            let current = read_password("Current password: ")?;
            let new = read_secret("COFFER_NEW_PASSWORD", "New password: ", "new password")?;
            agent.change_password(&coffer_client::PasswordChange { current_password: current, new_password: new })?;
            println!("Password changed; every other session has ended");
        }
        Command::Share { path, snapshot, to, expires, password, max_downloads, json } => {
            ensure_unlocked(&agent)?;
            let password = if password {
                let first = read_secret("COFFER_SHARE_PASSWORD", "Password for the share: ", "share password")?;
                if std::env::var("COFFER_SHARE_PASSWORD").is_err() {
                    let again = read_secret("COFFER_SHARE_PASSWORD", "The same password again: ", "share password")?;
                    if again != first {
                        bail!("the two passwords differ; nothing was shared");
                    }
                }
                Some(first)
            } else {
                None
            };
            let request = coffer_client::ShareRequest { path, snapshot_id: snapshot, recipients: to, expires_in_days: expires, password, max_downloads };
            let interactive = std::io::stderr().is_terminal();
            let bar = if interactive { ProgressBar::new(0) } else { ProgressBar::hidden() };
            bar.set_style(ProgressStyle::with_template("{spinner} sharing [{bar:30}] {bytes}/{total_bytes}").expect("valid template").progress_chars("=> "));
            let result = agent.share(&request, &mut |p| {
                bar.set_length(p.bytes_total);
                bar.set_position(p.bytes_done);
            });
            bar.finish_and_clear();
            let (share, link) = result?;
            if json {
                let mut value = serde_json::to_value(&share)?;
                value["link"] = serde_json::Value::String(link.expose().to_owned());
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                if share.recipients.is_empty() {
                    println!("Shared {} until {}; send this link yourself:", format_bytes(share.bytes), format_time(share.expires_at));
                } else {
                    println!(
                        "Shared {} with {} until {}. They were told by mail; the mail has no key, so send them this link yourself:",
                        format_bytes(share.bytes),
                        share.recipients.join(", "),
                        format_time(share.expires_at)
                    );
                }
                println!("{}", link.expose());
                println!("Anyone with the whole link can open it{}; `coffer shares revoke {}` stops it.", if share.password { " with the password" } else { "" }, share.id);
            }
        }
        Command::Shares { action, json } => {
            ensure_session(&agent)?;
            let shares = match action {
                Some(ShareAction::Revoke { id }) => {
                    let shares = agent.revoke_share(&id)?;
                    println!("Share {id} revoked: its link no longer works");
                    shares
                }
                None => agent.shares()?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&shares)?);
            } else if shares.is_empty() {
                println!("No shares");
            } else {
                println!("{:<32} {:<10} {:<16} {:<16} {:>10} {:>9}  {}", "ID", "STATE", "CREATED", "EXPIRES", "SIZE", "DOWNLOADS", "RECIPIENTS");
                for s in shares {
                    let state = match s.state {
                        coffer_client::ShareState::Uploading => "uploading",
                        coffer_client::ShareState::Active => "active",
                        coffer_client::ShareState::Expired => "expired",
                        coffer_client::ShareState::Exhausted => "used up",
                        coffer_client::ShareState::Revoked => "revoked",
                    };
                    let downloads = match s.max_downloads {
                        Some(max) => format!("{}/{max}", s.downloads),
                        None => s.downloads.to_string(),
                    };
                    println!(
                        "{:<32} {:<10} {:<16} {:<16} {:>10} {:>9}  {}",
                        s.id,
                        state,
                        format_time(s.created_at),
                        format_time(s.expires_at),
                        format_bytes(s.bytes),
                        downloads,
                        if s.removed { "(forgotten)".to_owned() } else { s.recipients.join(", ") }
                    );
                }
            }
        }
        Command::Apps { action, json } => {
            ensure_session(&agent)?;
            let apps = match action {
                Some(AppAction::Create { name, scopes, expires }) => {
                    let scopes: Vec<AppScope> = scopes
                        .iter()
                        .map(|s| match s.as_str() {
                            "restore" => AppScope::Restore,
                            "backup" => AppScope::Backup,
                            _ => AppScope::AccountRead,
                        })
                        .collect();
                    let (app, token) = agent.connect_app(&name, &scopes, expires)?;
                    if json {
                        let mut value = serde_json::to_value(&app)?;
                        value["token"] = serde_json::Value::String(token.expose().to_owned());
                        println!("{}", serde_json::to_string_pretty(&value)?);
                    } else {
                        println!("Connected “{}” ({}) until {}", app.name, scope_names(&app.scopes), format_time(app.expires_at));
                        println!("Its token, shown only now — give it to the app:");
                        println!("{}", token.expose());
                    }
                    return Ok(());
                }
                Some(AppAction::Revoke { id }) => {
                    let apps = agent.revoke_app(&id)?;
                    println!("App {id} revoked: its token no longer works");
                    apps
                }
                None => agent.connected_apps()?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&apps)?);
            } else if apps.is_empty() {
                println!("No connected apps");
            } else {
                println!("{:<32} {:<20} {:<28} {:<16} {:<16}  {}", "ID", "NAME", "SCOPES", "EXPIRES", "LAST USED", "STATE");
                for a in apps {
                    println!(
                        "{:<32} {:<20} {:<28} {:<16} {:<16}  {}",
                        a.id,
                        a.name,
                        scope_names(&a.scopes),
                        format_time(a.expires_at),
                        a.last_used_at.map_or_else(|| "never".to_owned(), format_time),
                        if a.expired { "expired" } else { "active" }
                    );
                }
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

fn scope_names(scopes: &[AppScope]) -> String {
    scopes
        .iter()
        .map(|s| match s {
            AppScope::Restore => "restore",
            AppScope::Backup => "backup",
            AppScope::AccountRead => "account_read",
        })
        .collect::<Vec<_>>()
        .join(", ")
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
