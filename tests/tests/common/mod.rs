//! What the agent-against-service tests share: an agent kept away from the
//! OS keychain, the sign-up and sign-in they start from, whole-snapshot
//! restores, and reading back what was written. (Cargo's shared-module
//! layout for integration tests: `common/mod.rs` is no test of its own.)

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use coffer_client::{Agent, AgentOptions, KeyMode, RestoreRequest, SignInRequest, SignUpRequest};
use coffer_testkit::TestServer;

/// An agent keeping its state in `dir`, never in the OS keychain: these
/// tests exercise the agent and the service; the keychain has its own test
/// (cli crate).
pub fn agent(dir: &Path) -> Agent {
    let mut options = AgentOptions::new(dir);
    options.use_keychain = false;
    Agent::open(&options).expect("agent opens")
}

/// Ada Lovelace's sign-up on `server` with a default key; change a field
/// with struct update syntax for anything else.
pub fn sign_up_request(server: &TestServer, email: &str, password: &str) -> SignUpRequest {
    SignUpRequest {
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        email: email.into(),
        password: password.into(),
        confirm_age: true,
        server_url: Some(server.url.clone()),
        key_mode: KeyMode::Default,
        private_key: None,
    }
}

/// Signs `agent` up as a new default-key account.
pub fn sign_up(agent: &Agent, server: &TestServer, email: &str, password: &str) {
    agent.sign_up(&sign_up_request(server, email, password)).expect("sign-up succeeds");
}

/// A new device in `dir`, signed in to the account.
pub fn sign_in(dir: &Path, server: &TestServer, email: &str, password: &str) -> Agent {
    let agent = agent(dir);
    agent
        .sign_in(&SignInRequest { email: email.into(), password: password.into(), server_url: Some(server.url.clone()), totp_code: None })
        .expect("sign-in succeeds");
    agent
}

/// Restores the whole of `snapshot_id` (an id, a prefix or `latest`) into
/// `target`, asking about no conflicts.
pub fn restore_request(snapshot_id: &str, target: &Path) -> RestoreRequest {
    RestoreRequest { snapshot_id: snapshot_id.to_owned(), paths: vec![], target: Some(target.to_string_lossy().into()), conflict: Default::default() }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Incompressible bytes from a small deterministic generator (splitmix64).
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        bytes.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}
