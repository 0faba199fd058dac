//! The `coffer` binary against a real service on 127.0.0.1:0, as a script
//! would use it.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use coffer_testkit::{dataset, TestServer};

const PASSWORD: &str = "correct horse battery staple";

struct Coffer {
    config_dir: std::path::PathBuf,
    keychain: bool,
}

impl Coffer {
    /// An agent that uses the OS keychain (when the test run provides one).
    fn with_keychain(config_dir: &Path) -> Coffer {
        Coffer { config_dir: config_dir.to_owned(), keychain: true }
    }

    /// An agent on a machine with no keychain: no D-Bus session at all.
    fn without_keychain(config_dir: &Path) -> Coffer {
        Coffer { config_dir: config_dir.to_owned(), keychain: false }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_coffer"));
        cmd.args(args).env("COFFER_CONFIG_DIR", &self.config_dir).env_remove("COFFER_PASSWORD").stdin(Stdio::null());
        if !self.keychain {
            cmd.env_remove("DBUS_SESSION_BUS_ADDRESS").env_remove("DISPLAY").env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent");
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("coffer runs")
    }

    fn run_with_password(&self, args: &[&str]) -> Output {
        self.command(args).env("COFFER_PASSWORD", PASSWORD).output().expect("coffer runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        check(self.run(args), args)
    }

    fn ok_with_password(&self, args: &[&str]) -> String {
        check(self.run_with_password(args), args)
    }
}

fn check(out: Output, args: &[&str]) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "coffer {args:?} failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn keychain_required() -> bool {
    std::env::var_os("COFFER_TEST_REQUIRE_KEYCHAIN").is_some()
}

#[test]
fn signup_backup_change_backup_restore_both_versions() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("Documents");
    fs::create_dir(&data).unwrap();
    let files = dataset::write_tree(&data, 3, 25, 100_000);
    let coffer = Coffer::with_keychain(&home.path().join("agent"));

    let status: serde_json::Value = serde_json::from_str(&coffer.ok(&["status", "--json"])).unwrap();
    let keychain = status["keychain_available"].as_bool().unwrap();
    if keychain_required() {
        assert!(keychain, "scripts/test.sh provides a keychain daemon; the agent must find it");
    }
    // With a keychain the session outlives each command; without one every
    // command signs in from COFFER_PASSWORD.
    let run = |args: &[&str]| if keychain { coffer.ok(args) } else { coffer.ok_with_password(args) };

    let out = coffer.ok_with_password(&[
        "--server", &server.url, "signup", "--first", "Ada", "--last", "Lovelace", "--email", "ada@example.com", "--confirm-age",
    ]);
    assert!(out.contains("ada@example.com"), "{out}");
    run(&["folders", "add", data.to_str().unwrap()]);
    assert!(run(&["folders", "list"]).contains(data.to_str().unwrap()));

    let out = run(&["backup"]);
    assert!(out.starts_with("Backed up"), "a summary line when not on a terminal: {out}");

    let before = home.path().join("before.txt");
    let changed = &files[0];
    fs::copy(changed, &before).unwrap();
    fs::write(changed, b"changed by the test").unwrap();
    let out = run(&["backup"]);
    assert!(out.contains(": 1 read"), "only the changed file is read: {out}");

    let snapshots: serde_json::Value = serde_json::from_str(&run(&["snapshots", "--json"])).unwrap();
    let snapshots = snapshots.as_array().unwrap();
    assert_eq!(snapshots.len(), 2);
    let older = snapshots[1]["id"].as_str().unwrap().to_owned();

    let latest = home.path().join("latest");
    run(&["restore", "--to", latest.to_str().unwrap()]);
    dataset::assert_same_tree(&data, &latest.join("Documents"));

    let old = home.path().join("old");
    let changed_text = changed.to_str().unwrap();
    run(&["restore", &older[..12], "--to", old.to_str().unwrap(), "--path", changed_text]);
    let relative = changed.strip_prefix(&data).unwrap();
    assert_eq!(fs::read(old.join("Documents").join(relative)).unwrap(), fs::read(&before).unwrap());

    run(&["logout"]);
    let out = coffer.run(&["snapshots"]);
    assert!(!out.status.success());
}

#[test]
fn without_a_keychain_each_command_signs_in_from_the_environment() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    fs::create_dir(&data).unwrap();
    fs::write(data.join("a.txt"), b"hello").unwrap();
    let coffer = Coffer::without_keychain(&home.path().join("agent"));

    let status: serde_json::Value = serde_json::from_str(&coffer.ok(&["status", "--json"])).unwrap();
    assert_eq!(status["keychain_available"], false);

    let out = coffer.run_with_password(&["--server", &server.url, "signup", "--first", "A", "--last", "B", "--email", "nokey@example.com", "--confirm-age"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("no keychain"), "the person is told: {}", stderr(&out));
    coffer.ok(&["folders", "add", data.to_str().unwrap()]);

    let out = coffer.run(&["backup"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("COFFER_PASSWORD"), "says how to proceed: {}", stderr(&out));
    coffer.ok_with_password(&["backup"]);

    // Nothing secret was written next to the catalog (or in its caches).
    let mut folders = vec![home.path().join("agent")];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let bytes = fs::read(&path).unwrap();
            assert!(!bytes.windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes()), "{}", path.display());
        }
    }
}

#[test]
fn bad_input_gets_a_clear_error() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let coffer = Coffer::without_keychain(home.path());

    let out = coffer.run_with_password(&["--server", &server.url, "signup", "--first", "A", "--last", "B", "--email", "kid@example.com"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("at least 13"), "{}", stderr(&out));

    let out = coffer.run_with_password(&["--server", "http://example.com", "signup", "--first", "A", "--last", "B", "--email", "a@example.com", "--confirm-age"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("https://"), "{}", stderr(&out));

    let out = coffer.run(&["folders", "add", "/definitely/not/here"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));

    let out = coffer.run(&["backup"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not signed in"), "{}", stderr(&out));

    let out = coffer.run(&["signup", "--first", "A"]);
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn a_private_key_account_from_the_command_line() {
    const KEY: &str = "violet tractor sings under moonlit harbor";
    const NEW_KEY: &str = "seven quiet otters juggle amber lanterns";
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    fs::create_dir(&data).unwrap();
    fs::write(data.join("a.txt"), b"private words").unwrap();
    let laptop = Coffer::without_keychain(&home.path().join("laptop"));

    let out = laptop
        .command(&["--server", &server.url, "signup", "--first", "A", "--last", "B", "--email", "pk@example.com", "--confirm-age", "--private-key"])
        .env("COFFER_PASSWORD", PASSWORD)
        .env("COFFER_KEY", KEY)
        .output()
        .unwrap();
    let stdout = check(out, &["signup --private-key"]);
    let code = stdout.lines().find_map(|l| l.strip_prefix("Recovery code (shown once; print or save it): ")).expect("the recovery code is printed").to_owned();

    laptop.ok(&["folders", "add", data.to_str().unwrap()]);
    let with_key = |c: &Coffer, args: &[&str]| check(c.command(args).env("COFFER_PASSWORD", PASSWORD).env("COFFER_KEY", KEY).output().unwrap(), args);
    with_key(&laptop, &["backup"]);

    let desktop = Coffer::without_keychain(&home.path().join("desktop"));
    check(desktop.command(&["--server", &server.url, "login", "--email", "pk@example.com"]).env("COFFER_PASSWORD", PASSWORD).output().unwrap(), &["login"]);
    let out = desktop.run_with_password(&["snapshots"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("locked"), "{}", stderr(&out));
    let out = desktop.command(&["snapshots"]).env("COFFER_PASSWORD", PASSWORD).env("COFFER_KEY", "a wrong key entirely").output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("does not unlock"), "{}", stderr(&out));

    let status: serde_json::Value = serde_json::from_str(&with_key(&desktop, &["key", "status", "--json"])).unwrap();
    assert_eq!(status["mode"], "private");
    let target = home.path().join("restored");
    with_key(&desktop, &["restore", "--to", target.to_str().unwrap()]);
    assert_eq!(fs::read(target.join("data/a.txt")).unwrap(), b"private words");

    check(
        desktop.command(&["key", "change"]).env("COFFER_PASSWORD", PASSWORD).env("COFFER_KEY", KEY).env("COFFER_NEW_KEY", NEW_KEY).output().unwrap(),
        &["key", "change"],
    );
    let out = desktop.command(&["snapshots"]).env("COFFER_PASSWORD", PASSWORD).env("COFFER_KEY", KEY).output().unwrap();
    assert!(!out.status.success(), "the old key no longer unlocks");
    let recovered = check(
        desktop.command(&["key", "recover"]).env("COFFER_PASSWORD", PASSWORD).env("COFFER_RECOVERY_CODE", &code).output().unwrap(),
        &["key", "recover"],
    );
    assert!(recovered.contains("Unlocked"));
}

#[test]
fn account_sessions_prefs_and_password_from_the_command_line() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let coffer = Coffer::without_keychain(&home.path().join("agent"));
    coffer.ok_with_password(&["--server", &server.url, "signup", "--first", "Grace", "--last", "Hopper", "--email", "grace@example.com", "--confirm-age"]);

    let shown: serde_json::Value = serde_json::from_str(&coffer.ok_with_password(&["account", "show", "--json"])).unwrap();
    assert_eq!(shown["profile"]["email"], "grace@example.com");
    assert!(shown["quota"]["total"].as_u64().unwrap() > 0);

    let prefs = coffer.ok_with_password(&["prefs", "newsletter", "on"]);
    assert!(prefs.contains("newsletter             on"), "{prefs}");
    assert!(prefs.contains("surveys_research       off"), "opt-in stays off elsewhere: {prefs}");
    let out = coffer.run_with_password(&["prefs", "spam", "on"]);
    assert!(!out.status.success() && stderr(&out).contains("no category"), "{}", stderr(&out));

    let other = Coffer::without_keychain(&home.path().join("other"));
    other.ok_with_password(&["--server", &server.url, "login", "--email", "grace@example.com"]);
    let sessions: serde_json::Value = serde_json::from_str(&coffer.ok_with_password(&["sessions", "--json"])).unwrap();
    let ids: Vec<String> = sessions.as_array().unwrap().iter().filter(|s| s["active"] == true && s["current"] == false).map(|s| s["id"].as_str().unwrap().to_owned()).collect();
    assert!(!ids.is_empty());
    for id in &ids {
        coffer.ok_with_password(&["sessions", "revoke", id]);
    }

    check(
        coffer.command(&["password", "change"]).env("COFFER_PASSWORD", PASSWORD).env("COFFER_NEW_PASSWORD", "another long passphrase").output().unwrap(),
        &["password", "change"],
    );
    let out = coffer.run_with_password(&["account", "show"]);
    assert!(!out.status.success(), "the old password no longer signs in");

    let export = home.path().join("export.json");
    let new = |args: &[&str]| check(coffer.command(args).env("COFFER_PASSWORD", "another long passphrase").output().unwrap(), args);
    new(&["account", "export", "--out", export.to_str().unwrap()]);
    let json: serde_json::Value = serde_json::from_slice(&fs::read(&export).unwrap()).unwrap();
    assert_eq!(json["account"]["email"], "grace@example.com");

    let deleted = new(&["account", "delete", "--now"]);
    assert!(deleted.contains("purged"), "{deleted}");
    let out = coffer.command(&["account", "show"]).env("COFFER_PASSWORD", "another long passphrase").output().unwrap();
    assert!(!out.status.success(), "a deleted account cannot sign in");
}

#[test]
fn unlock_lock_and_switching_key_modes_from_the_command_line() {
    const NEW_KEY: &str = "seven quiet otters juggle amber lanterns";
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    fs::create_dir(&data).unwrap();
    fs::write(data.join("a.txt"), b"switch me").unwrap();
    let coffer = Coffer::without_keychain(&home.path().join("agent"));
    let with = |vars: &[(&str, &str)], args: &[&str]| {
        let mut cmd = coffer.command(args);
        cmd.env("COFFER_PASSWORD", PASSWORD);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        check(cmd.output().unwrap(), args)
    };
    with(&[], &["--server", &server.url, "signup", "--first", "A", "--last", "B", "--email", "switch@example.com", "--confirm-age"]);
    with(&[], &["folders", "add", data.to_str().unwrap()]);
    with(&[], &["backup"]);

    let out = with(&[("COFFER_NEW_KEY", NEW_KEY)], &["key", "switch", "--to", "private"]);
    assert!(out.contains("Recovery code"), "{out}");
    let status: serde_json::Value = serde_json::from_str(&with(&[("COFFER_KEY", NEW_KEY)], &["key", "status", "--json"])).unwrap();
    assert_eq!(status["mode"], "private");
    assert_eq!(status["switch_in_progress"], false);

    let out = with(&[("COFFER_KEY", NEW_KEY)], &["unlock"]);
    assert!(out.contains("Unlocked"), "{out}");
    assert!(with(&[("COFFER_KEY", NEW_KEY)], &["lock"]).contains("Locked"));
    let target = home.path().join("out");
    with(&[("COFFER_KEY", NEW_KEY)], &["restore", "--to", target.to_str().unwrap()]);
    assert_eq!(fs::read(target.join("data/a.txt")).unwrap(), b"switch me", "every backup is readable under the new key");

    with(&[("COFFER_KEY", NEW_KEY)], &["key", "switch", "--to", "default"]);
    let status: serde_json::Value = serde_json::from_str(&with(&[], &["key", "status", "--json"])).unwrap();
    assert_eq!(status["mode"], "default");
}

#[test]
fn forgetting_asks_for_the_password_and_held_deletions_can_be_put_back() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("Notes");
    fs::create_dir(&data).unwrap();
    // Most data is shared by the versions, so the cleanup is a small one.
    dataset::write_tree(&data.join("shared"), 5, 10, 50_000);
    let coffer = Coffer::with_keychain(&home.path().join("agent"));
    let status: serde_json::Value = serde_json::from_str(&coffer.ok(&["status", "--json"])).unwrap();
    let keychain = status["keychain_available"].as_bool().unwrap();
    // Only a remembered session shows the device alone cannot delete;
    // scripts/test.sh provides a keychain daemon.
    assert!(keychain || !keychain_required());
    let run = |args: &[&str]| if keychain { coffer.ok(args) } else { coffer.ok_with_password(args) };
    coffer.ok_with_password(&["--server", &server.url, "signup", "--first", "A", "--last", "B", "--email", "held@example.com", "--confirm-age"]);
    run(&["folders", "add", data.to_str().unwrap()]);
    for version in 0..3 {
        fs::write(data.join("doc.txt"), format!("version {version}")).unwrap();
        run(&["backup"]);
    }
    run(&["retention", "--keep-last", "1", "--keep-hourly", "0", "--keep-daily", "0", "--keep-weekly", "0", "--keep-monthly", "0", "--keep-yearly", "0"]);
    let count = || serde_json::from_str::<serde_json::Value>(&run(&["snapshots", "--json"])).unwrap().as_array().unwrap().len();
    assert_eq!(count(), 3);
    assert!(run(&["forget", "--dry-run"]).contains("Would forget 2 backups"), "a dry run needs no password");

    if keychain {
        // The device's remembered session alone cannot delete…
        let out = coffer.run(&["forget"]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("COFFER_PASSWORD"), "says how to confirm: {}", stderr(&out));
        // …nor with a wrong password.
        let out = coffer.command(&["forget"]).env("COFFER_PASSWORD", "not the password at all").output().unwrap();
        assert!(!out.status.success());
        assert!(stderr(&out).contains("password is wrong"), "{}", stderr(&out));
        assert_eq!(count(), 3, "a refused forget changes nothing");
    }
    let out = coffer.ok_with_password(&["forget"]);
    assert!(out.contains("Forgot 2 backups"), "{out}");
    assert!(out.contains("coffer deletions"), "says how to undo: {out}");
    assert_eq!(count(), 1);

    let held: serde_json::Value = serde_json::from_str(&run(&["deletions", "--json"])).unwrap();
    let held = held.as_array().unwrap();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["snapshots"], 2);
    let id = held[0]["id"].as_str().unwrap().to_owned();
    assert!(run(&["deletions"]).contains(&id));

    let out = run(&["deletions", "cancel", &id]);
    assert!(out.contains("Put back"), "{out}");
    assert_eq!(count(), 3, "the forgotten backups are back");
    assert!(run(&["deletions"]).contains("No deleted backups are held"));
    let cancel_again = |args: &[&str]| if keychain { coffer.run(args) } else { coffer.run_with_password(args) };
    let out = cancel_again(&["deletions", "cancel", &id]);
    assert!(!out.status.success(), "already put back");
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));
    let out = cancel_again(&["deletions", "cancel", "not an id!"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is not a deletion id"), "{}", stderr(&out));
}
