//! coffer-client: the Coffer agent. It signs a device in to a Coffer service,
//! keeps the local catalog and the keychain entries, and runs backups and
//! restores through `coffer-engine`, with the service as the storage backend.
//! The CLI (`coffer`) and the desktop app are thin shells over [`Agent`].

mod agent;
mod catalog;
mod error;
mod secrets;
mod service;
mod types;

pub use agent::{default_config_dir, Agent, AgentOptions, DEFAULT_SERVER_URL, KEYCHAIN_SERVICE};
pub use coffer_engine::RestoreProgress;
pub use error::{Error, ErrorKind, Result};
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
