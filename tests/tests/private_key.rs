//! Private encryption keys end to end: the service stores only what it
//! cannot open; a new device unlocks with the key or the recovery code.

use std::fs;
use std::path::Path;

use coffer_client::{Agent, AgentOptions, ErrorKind, KeyMode, RestoreRequest, SignInRequest, SignUpRequest};
use coffer_testkit::{dataset, TestServer};

const PASSWORD: &str = "account password 123";
const KEY: &str = "violet tractor sings under moonlit harbor";
const NEW_KEY: &str = "seven quiet otters juggle amber lanterns";

fn agent(dir: &Path) -> Agent {
    let mut options = AgentOptions::new(dir);
    options.use_keychain = false;
    Agent::open(&options).unwrap()
}

fn sign_up_private(agent: &Agent, server: &TestServer, email: &str, key: &str) -> coffer_client::Result<String> {
    agent
        .sign_up(&SignUpRequest {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: email.into(),
            password: PASSWORD.into(),
            confirm_age: true,
            server_url: Some(server.url.clone()),
            key_mode: KeyMode::Private,
            private_key: Some(key.into()),
        })
        .map(|r| r.recovery_code.expect("a private key comes with a recovery code"))
}

fn sign_in(dir: &Path, server: &TestServer, email: &str) -> Agent {
    let agent = agent(dir);
    agent.sign_in(&SignInRequest { email: email.into(), password: PASSWORD.into(), server_url: Some(server.url.clone()), totp_code: None }).unwrap();
    agent
}

fn restore_all(agent: &Agent, target: &Path) -> coffer_client::Result<coffer_client::RestoreSummary> {
    agent.restore(
        &RestoreRequest { snapshot_id: "latest".into(), paths: vec![], target: Some(target.to_string_lossy().into()), conflict: Default::default() },
        &mut |_| {},
    )
}

/// Every file under `dir`, recursively.
fn all_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in walk(dir) {
        out.push((entry.display().to_string(), fs::read(&entry).unwrap()));
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_weak_key_is_refused_and_nothing_is_kept() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let agent = agent(home.path());
    let err = sign_up_private(&agent, &server, "weak@example.com", "password1").unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    assert!(err.message.starts_with("private_key:"), "{}", err.message);
    sign_up_private(&agent, &server, "weak@example.com", KEY).expect("the same email signs up once the key is strong");
}

#[test]
fn new_devices_unlock_with_the_key_or_the_recovery_code_and_the_service_sees_nothing() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("Secret plans");
    fs::create_dir(&data).unwrap();
    fs::write(data.join("zebra-invoice-4471.txt"), b"quartz-marmalade-content-9931").unwrap();
    dataset::write_tree(&data, 5, 10, 30_000);

    let laptop = agent(&home.path().join("laptop"));
    let recovery = sign_up_private(&laptop, &server, "private@example.com", KEY).unwrap();
    assert!(!laptop.status().locked, "the device that set the key stays unlocked");
    laptop.add_folder(data.to_str().unwrap()).unwrap();
    laptop.backup_now(&mut |_| {}).unwrap();

    // The promise: nothing the service holds shows a file's name or content.
    for (file, bytes) in all_bytes(&server.data_dir) {
        for secret in ["zebra-invoice-4471", "quartz-marmalade-content-9931", "Secret plans"] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret} appears in {file}");
        }
        assert!(!bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()), "the private key appears in {file}");
    }

    // A new device is signed in but locked.
    let desktop = sign_in(&home.path().join("desktop"), &server, "private@example.com");
    assert!(desktop.status().locked);
    assert_eq!(desktop.snapshots().unwrap_err().kind, ErrorKind::Locked);
    let target = home.path().join("restored");
    assert_eq!(desktop.unlock("not the key at all, sorry", false).unwrap_err().kind, ErrorKind::WrongKey);
    assert_eq!(restore_all(&desktop, &target).unwrap_err().kind, ErrorKind::Locked, "a wrong key restores nothing");
    assert!(!target.exists(), "and writes nothing");

    let status = desktop.unlock(KEY, false).unwrap();
    assert!(status.unlocked && !status.remembered);
    restore_all(&desktop, &target).unwrap();
    dataset::assert_same_tree(&data, &target.join("Secret plans"));
    desktop.lock_now().unwrap();
    assert!(desktop.status().locked, "Lock now forgets the key");

    // The key is lost: the recovery code opens the data.
    let phone = sign_in(&home.path().join("phone"), &server, "private@example.com");
    assert_eq!(phone.unlock_with_recovery("AAAA-BBBB", false).unwrap_err().kind, ErrorKind::InvalidInput);
    phone.unlock_with_recovery(&recovery.to_lowercase().replace('-', " "), false).unwrap();
    assert_eq!(phone.snapshots().unwrap().len(), 1);
}

#[test]
fn changing_the_key_rewraps_and_switching_to_default_escrows() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let laptop = agent(&home.path().join("laptop"));
    let recovery = sign_up_private(&laptop, &server, "change@example.com", KEY).unwrap();
    let before = laptop.key_status().unwrap();
    assert_eq!(before.mode, KeyMode::Private);

    assert_eq!(laptop.change_key("wrong current key!!", NEW_KEY, PASSWORD).unwrap_err().kind, ErrorKind::WrongKey);
    assert_eq!(laptop.change_key(KEY, "short", PASSWORD).unwrap_err().kind, ErrorKind::InvalidInput);
    assert_eq!(laptop.change_key(KEY, NEW_KEY, "wrong password").unwrap_err().kind, ErrorKind::InvalidCredentials);
    laptop.change_key(KEY, NEW_KEY, PASSWORD).unwrap();

    let desktop = sign_in(&home.path().join("desktop"), &server, "change@example.com");
    assert_eq!(desktop.unlock(KEY, false).unwrap_err().kind, ErrorKind::WrongKey, "the old wrap is gone");
    desktop.unlock(NEW_KEY, false).unwrap();
    let phone = sign_in(&home.path().join("phone"), &server, "change@example.com");
    phone.unlock_with_recovery(&recovery, false).expect("the recovery code still works");

    laptop.switch_to_default_key(NEW_KEY, PASSWORD).unwrap();
    assert_eq!(laptop.key_status().unwrap().mode, KeyMode::Default);
    let tablet = sign_in(&home.path().join("tablet"), &server, "change@example.com");
    assert!(!tablet.status().locked, "default-key accounts unlock at sign-in");
    assert!(tablet.snapshots().is_ok());
}

#[test]
fn with_key_and_recovery_code_lost_the_person_can_start_over() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("Docs");
    fs::create_dir(&data).unwrap();
    fs::write(data.join("a.txt"), b"old life").unwrap();
    let laptop = agent(&home.path().join("laptop"));
    sign_up_private(&laptop, &server, "lost@example.com", KEY).unwrap();
    laptop.add_folder(data.to_str().unwrap()).unwrap();
    laptop.backup_now(&mut |_| {}).unwrap();

    let new_machine = sign_in(&home.path().join("new"), &server, "lost@example.com");
    assert!(new_machine.status().locked);
    assert_eq!(new_machine.start_over(Some(NEW_KEY), "wrong password").unwrap_err().kind, ErrorKind::InvalidCredentials);
    let phone = sign_in(&home.path().join("phone"), &server, "lost@example.com");
    phone.unlock(KEY, false).expect("a refused start-over deleted nothing");

    let code = new_machine.start_over(Some(NEW_KEY), PASSWORD).unwrap();
    assert!(code.is_some(), "a new recovery code for the new key");
    assert!(!new_machine.status().locked);
    assert!(new_machine.snapshots().unwrap().is_empty(), "the unreadable backups are gone");
    new_machine.add_folder(data.to_str().unwrap()).unwrap();
    new_machine.backup_now(&mut |_| {}).unwrap();
    let other = sign_in(&home.path().join("other"), &server, "lost@example.com");
    assert_eq!(other.unlock(KEY, false).unwrap_err().kind, ErrorKind::WrongKey);
    other.unlock(NEW_KEY, false).unwrap();
    assert_eq!(other.snapshots().unwrap().len(), 1);
}
