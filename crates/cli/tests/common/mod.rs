//! Running the `coffer` binary as a script on a machine without a keychain
//! would: each command signs in from `COFFER_PASSWORD`. (Cargo's
//! shared-module layout for integration tests: `common/mod.rs` is no test
//! of its own.)

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

pub const PASSWORD: &str = "correct horse battery staple";

/// Runs `coffer args` on the agent in `config_dir`, with `env` set on top.
/// No D-Bus session, so no keychain; no share password unless `env` gives one.
pub fn coffer(config_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(config_dir, args, env).output().expect("coffer runs")
}

/// The command [`coffer`] runs, to start it in the background instead.
pub fn command(config_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coffer"));
    cmd.args(args)
        .env("COFFER_CONFIG_DIR", config_dir)
        .env("COFFER_PASSWORD", PASSWORD)
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .env_remove("DISPLAY")
        .env_remove("COFFER_SHARE_PASSWORD")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// [`coffer`] that must succeed; returns what it printed.
pub fn ok(config_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = coffer(config_dir, args, env);
    assert!(
        out.status.success(),
        "coffer {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
