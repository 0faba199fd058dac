//! coffer-client: the Coffer agent. It signs a device in to a Coffer service,
//! keeps the local catalog and the keychain entries, and runs backups and
//! restores through `coffer-engine`, with the service as the storage backend.
//! The CLI (`coffer`) and the desktop app are thin shells over [`Agent`].

mod account_deletion;
mod agent;
mod apps;
mod browse;
mod deletions;
mod catalog;
mod encryption;
mod error;
mod exclusions;
mod key_switch;
mod scheduler;
mod throttle;
mod retention;
mod secrets;
mod service;
pub mod share_format;
mod sharing;
mod types;

pub use agent::{default_config_dir, save_private_text, Agent, AgentOptions, DEFAULT_SERVER_URL, KEYCHAIN_SERVICE};
pub use error::{Error, ErrorKind, Result};
pub use exclusions::PRESETS as EXCLUSION_PRESETS;
pub use scheduler::{next_due, Scheduler, StartBackup};
pub use service::parse_service_url;
pub use types::*;

/// Every type that crosses IPC, for generating the UI's TypeScript bindings.
pub mod bindings {
    use ts_rs::TS;

    /// The TypeScript declarations of every IPC type, in one file's text.
    pub fn typescript() -> String {
        let decls = [
            crate::AppStatus::decl(),
            crate::AccountInfo::decl(),
            crate::SignUpRequest::decl(),
            crate::SignUpResult::decl(),
            crate::SignInRequest::decl(),
            crate::FolderInfo::decl(),
            crate::Quota::decl(),
            crate::Dashboard::decl(),
            crate::BackupPhase::decl(),
            crate::BackupProgress::decl(),
            crate::BackupReport::decl(),
            crate::SkippedFile::decl(),
            crate::SnapshotInfo::decl(),
            crate::RestoreRequest::decl(),
            crate::RestoreSummary::decl(),
            crate::RestoreProgress::decl(),
            crate::ConflictPolicy::decl(),
            crate::DeviceInfo::decl(),
            crate::EntryKind::decl(),
            crate::TreeEntry::decl(),
            crate::SearchHit::decl(),
            crate::FileVersion::decl(),
            crate::ExclusionSettings::decl(),
            crate::ExcludedFile::decl(),
            crate::FolderUsage::decl(),
            crate::ScheduleMode::decl(),
            crate::ScheduleSettings::decl(),
            crate::WatchStatus::decl(),
            crate::SchedulerStatus::decl(),
            crate::VerifyProblem::decl(),
            crate::VerifyReport::decl(),
            crate::RunStatus::decl(),
            crate::BackupRun::decl(),
            crate::SessionRecord::decl(),
            crate::Activity::decl(),
            crate::PostalAddress::decl(),
            crate::Profile::decl(),
            crate::ProfileUpdate::decl(),
            crate::PasswordChange::decl(),
            crate::CommunicationPreferences::decl(),
            crate::PolicyInfo::decl(),
            crate::ExportResult::decl(),
            crate::DeletionScheduled::decl(),
            crate::KeyMode::decl(),
            crate::KeyStatus::decl(),
            crate::KeyStrength::decl(),
            crate::KeyProgress::decl(),
            crate::TotpSetup::decl(),
            crate::RetentionSettings::decl(),
            crate::RetentionOutcome::decl(),
            crate::HeldDeletion::decl(),
            crate::ConfirmationStatus::decl(),
            crate::CleanupWaiting::decl(),
            crate::AppScope::decl(),
            crate::ConnectedApp::decl(),
            crate::ShareRequest::decl(),
            crate::ShareState::decl(),
            crate::ShareInfo::decl(),
            crate::ShareProgress::decl(),
            crate::ShareCreated::decl(),
            crate::ConnectAppRequest::decl(),
            crate::AppConnected::decl(),
            crate::ErrorKind::decl(),
            crate::Error::decl(),
        ];
        let mut out = String::from(
            "// Generated from Rust (crates/client/src/types.rs, error.rs) by ts-rs.\n\
             // Do not edit: run `COFFER_UPDATE_BINDINGS=1 cargo test -p coffer-client --test bindings`.\n\n",
        );
        for decl in decls {
            out.push_str("export ");
            out.push_str(&decl);
            out.push_str("\n\n");
        }
        out.trim_end().to_owned() + "\n"
    }
}
