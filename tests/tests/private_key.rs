//! Private encryption keys end to end: the service stores only what it
//! cannot open; a new device unlocks with the key or the recovery code.

use std::fs;
use std::path::Path;

use coffer_client::{Agent, ErrorKind, KeyMode, SignUpRequest};
use coffer_testkit::{dataset, TestServer};

mod common;
use common::{agent, restore_request, sign_up, sign_up_request};

const PASSWORD: &str = "account password 123";
const KEY: &str = "violet tractor sings under moonlit harbor";
const NEW_KEY: &str = "seven quiet otters juggle amber lanterns";

fn sign_up_private(agent: &Agent, server: &TestServer, email: &str, key: &str) -> coffer_client::Result<String> {
    agent
        .sign_up(&SignUpRequest { key_mode: KeyMode::Private, private_key: Some(key.into()), ..sign_up_request(server, email, PASSWORD) })
        .map(|r| r.recovery_code.expect("a private key comes with a recovery code"))
}

fn sign_in(dir: &Path, server: &TestServer, email: &str) -> Agent {
    common::sign_in(dir, server, email, PASSWORD)
}

fn restore_all(agent: &Agent, target: &Path) -> coffer_client::Result<coffer_client::RestoreSummary> {
    agent.restore(&restore_request("latest", target), &mut |_| {})
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
    for (file, bytes) in server.everything_held() {
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

    // Starting over deletes every backup: the password confirms it's the person.
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

// ---- Switching a default-key account to a private key ----

/// Every object the service stores for the account: (kind, id, size).
/// The account's objects as files in the service's store, less those it
/// holds as deleted: deletions are held for 7 days before the purge job
/// removes them (tests/tests/stolen_device.rs, crates/server/tests/held_deletions.rs).
fn stored_objects(server: &TestServer, account_id: &str) -> std::collections::BTreeSet<(String, String, u64)> {
    let held = held_objects(server, account_id);
    let mut objects = std::collections::BTreeSet::new();
    for (path, bytes) in server.stored_objects(&format!("{account_id}/")) {
        let mut parts = path.splitn(3, '/').skip(1);
        let (Some(kind), Some(id)) = (parts.next(), parts.next()) else { continue };
        if ["packs", "indexes", "snapshots"].contains(&kind) && !held.contains(&(kind.to_owned(), id.to_owned())) {
            objects.insert((kind.to_owned(), id.to_owned(), bytes.len() as u64));
        }
    }
    objects
}

/// The `(kind, id)` of the objects the service holds as deleted, waiting for the purge.
fn held_objects(server: &TestServer, account_id: &str) -> std::collections::BTreeSet<(String, String)> {
    let db = server.db();
    coffer_testkit::block_on(db.held_object_ids(account_id.to_owned())).unwrap().into_iter().collect()
}

fn pack_bytes(objects: &std::collections::BTreeSet<(String, String, u64)>) -> u64 {
    objects.iter().filter(|(kind, _, _)| kind == "packs").map(|(_, _, size)| size).sum()
}

fn account_id(agent: &Agent) -> String {
    agent.status().account.expect("signed in").account_id
}

fn restore_snapshot(agent: &Agent, id: &str, target: &Path) {
    let summary = agent.restore(&restore_request(id, target), &mut |_| {}).unwrap();
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
}

/// A default-key account with three backups of a folder that changes
/// between them (edits, additions, a deletion, a multi-chunk file). Returns
/// the agent, the folder and each backup's (time, restored copy), oldest first.
struct History {
    agent: Agent,
    data: std::path::PathBuf,
    backups: Vec<(i64, std::path::PathBuf)>,
}

fn default_account_with_three_backups(server: &TestServer, home: &Path, email: &str) -> History {
    let data = home.join("Docs");
    dataset::write_tree(&data, 7, 14, 200_000);
    // Several FastCDC chunks (min 256 KiB, average 1 MiB).
    let big: Vec<u8> = (0..3_500_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    fs::write(data.join("big.bin"), &big).unwrap();
    let agent = agent(&home.join("laptop"));
    sign_up(&agent, server, email, PASSWORD);
    agent.add_folder(data.to_str().unwrap()).unwrap();
    let mut backups = Vec::new();
    for round in 0..3 {
        match round {
            1 => {
                dataset::write_tree(&data.join("added"), 8, 6, 50_000);
                let mut edited = big.clone();
                edited[2_000_000..2_000_100].fill(1);
                fs::write(data.join("big.bin"), &edited).unwrap();
            }
            2 => {
                fs::remove_dir_all(data.join("added")).unwrap();
                fs::write(data.join("late note.txt"), b"written before the third backup").unwrap();
            }
            _ => {}
        }
        agent.backup_now(&mut |_| {}).unwrap();
        let newest = agent.snapshots().unwrap().remove(0);
        let copy = home.join(format!("before-{round}"));
        restore_snapshot(&agent, &newest.id, &copy);
        backups.push((newest.time, copy.join("Docs")));
    }
    History { agent, data, backups }
}

/// After a switch: exactly the backups there were (no duplicate), each
/// restoring byte for byte as before, on a new device with the new key.
fn assert_switched(server: &TestServer, home: &Path, email: &str, history: &History, extra: usize) {
    let device = sign_in(&home.join(format!("device-{}", rand_suffix())), server, email);
    assert!(device.status().locked, "a private-key account is locked on a new device");
    assert_eq!(device.unlock(KEY, false).unwrap_err().kind, ErrorKind::WrongKey);
    device.unlock(NEW_KEY, false).unwrap();
    let snapshots = device.snapshots().unwrap();
    assert_eq!(snapshots.len(), history.backups.len() + extra, "{snapshots:?}");
    let mut times: Vec<i64> = snapshots.iter().map(|s| s.time).collect();
    times.sort();
    times.dedup();
    assert_eq!(times.len(), snapshots.len(), "one copy per backup");
    for (i, (time, before)) in history.backups.iter().enumerate() {
        let copy = snapshots.iter().find(|s| s.time == *time).expect("every backup has its copy");
        let target = home.join(format!("after-{}-{i}", rand_suffix()));
        restore_snapshot(&device, &copy.id, &target);
        dataset::assert_same_tree(before, &target.join("Docs"));
    }
}

fn rand_suffix() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[test]
fn switching_to_a_private_key_uploads_everything_again_and_deletes_the_old_objects() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let email = "switch@example.com";
    let history = default_account_with_three_backups(&server, home.path(), email);
    let laptop = &history.agent;
    let account = account_id(laptop);
    let old_objects = stored_objects(&server, &account);
    let before = laptop.key_status().unwrap();
    assert_eq!(before.mode, KeyMode::Default);
    assert!(!before.switch_in_progress);
    // A second device of the default key, holding the escrowed key.
    let old_device = sign_in(&home.path().join("old-device"), &server, email);
    assert_eq!(old_device.snapshots().unwrap().len(), 3);

    let mut events = Vec::new();
    let code = laptop.switch_to_private_key(NEW_KEY, PASSWORD, &mut |p| events.push(p.clone())).unwrap();
    assert_eq!(code.len(), 29, "a recovery code: {code}");
    let stages: Vec<&str> = {
        let mut s: Vec<&str> = events.iter().map(|p| p.stage.as_str()).collect();
        s.dedup();
        s
    };
    assert_eq!(
        stages,
        ["Preparing the switch", "Uploading your backups again", "Checking the new copies", "Switching to your private key", "Deleting the old copies"]
    );
    assert!(events.iter().all(|p| p.done <= p.total || p.total == 0), "{events:?}");
    let uploads: Vec<u64> = events.iter().filter(|p| p.stage.starts_with("Uploading")).map(|p| p.done).collect();
    assert!(uploads.windows(2).all(|w| w[0] <= w[1]), "upload progress only grows");
    let last = events.last().unwrap();
    assert_eq!((last.done, last.total), (old_objects.len() as u64, old_objects.len() as u64), "every old object deleted");

    let status = laptop.key_status().unwrap();
    assert_eq!(status.mode, KeyMode::Private, "the service no longer holds the escrowed key");
    assert!(status.unlocked && !status.switch_in_progress);
    assert!(!laptop.status().locked);

    // Nothing written under the old key is left; the copies cost what the
    // originals did (each blob uploaded once).
    let new_objects = stored_objects(&server, &account);
    let old_ids: std::collections::BTreeSet<_> = old_objects.iter().map(|(k, id, _)| (k.clone(), id.clone())).collect();
    assert!(new_objects.iter().all(|(k, id, _)| !old_ids.contains(&(k.clone(), id.clone()))), "an old object survived");
    assert_eq!(held_objects(&server, &account), old_ids, "every old object is held for the purge, and nothing else");
    assert_eq!(new_objects.iter().filter(|(k, _, _)| k == "snapshots").count(), 3);
    let (old_size, new_size) = (pack_bytes(&old_objects), pack_bytes(&new_objects));
    assert!(new_size.abs_diff(old_size) < old_size / 20 + 16_384, "old packs {old_size} B, new {new_size} B");

    // The device that switched reads nothing again: its file cache names the new chunks.
    let report = laptop.backup_now(&mut |_| {}).unwrap();
    assert_eq!(report.files_read, 0, "{report:?}");
    assert!(report.bytes_uploaded < 10_000, "{report:?}");

    assert_switched(&server, home.path(), email, &history, 1);
    // The recovery code shown opens the new key.
    let phone = sign_in(&home.path().join("phone"), &server, email);
    phone.unlock_with_recovery(&code, false).unwrap();
    // The old device's escrowed key opens nothing any more; once it learns
    // of the switch it forgets that key and asks for the new one.
    assert!(old_device.snapshots().is_err());
    let seen = old_device.key_status().unwrap();
    assert_eq!(seen.mode, KeyMode::Private);
    assert!(!seen.unlocked && old_device.status().locked);
    old_device.unlock(NEW_KEY, false).unwrap();
    assert_eq!(old_device.snapshots().unwrap().len(), 4);
    dataset::assert_same_tree(&history.data, &history.backups[2].1);
}

#[test]
fn a_wrong_password_or_a_weak_key_changes_nothing() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("Docs");
    dataset::write_tree(&data, 3, 6, 20_000);
    let laptop = agent(&home.path().join("laptop"));
    sign_up(&laptop, &server, "careful@example.com", PASSWORD);
    laptop.add_folder(data.to_str().unwrap()).unwrap();
    laptop.backup_now(&mut |_| {}).unwrap();
    let account = account_id(&laptop);
    let objects = stored_objects(&server, &account);
    let before = laptop.key_status().unwrap();

    let err = laptop.switch_to_private_key(NEW_KEY, "not the password", &mut |_| panic!("nothing may start")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidCredentials);
    let err = laptop.switch_to_private_key("password1", PASSWORD, &mut |_| panic!("nothing may start")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    assert!(err.message.starts_with("private_key:"), "{}", err.message);

    let after = laptop.key_status().unwrap();
    assert_eq!(after.mode, KeyMode::Default);
    assert_eq!(after.changed_at, before.changed_at);
    assert!(!after.switch_in_progress);
    assert_eq!(stored_objects(&server, &account), objects, "nothing uploaded or deleted");
    assert_eq!(laptop.resume_key_switch(NEW_KEY, PASSWORD, &mut |_| {}).unwrap_err().kind, ErrorKind::NotFound);
    let other = sign_in(&home.path().join("other"), &server, "careful@example.com");
    assert!(!other.status().locked);
    assert_eq!(other.snapshots().unwrap().len(), 1);

    // An account with a private key already is not "switched" again.
    let private = agent(&home.path().join("private"));
    sign_up_private(&private, &server, "already@example.com", KEY).unwrap();
    assert_eq!(private.switch_to_private_key(NEW_KEY, PASSWORD, &mut |_| {}).unwrap_err().kind, ErrorKind::InvalidInput);
}

#[test]
fn an_account_without_backups_switches_at_once() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let laptop = agent(&home.path().join("laptop"));
    sign_up(&laptop, &server, "fresh@example.com", PASSWORD);
    let code = laptop.switch_to_private_key(NEW_KEY, PASSWORD, &mut |_| {}).unwrap();
    assert_eq!(laptop.key_status().unwrap().mode, KeyMode::Private);
    let data = home.path().join("Docs");
    dataset::write_tree(&data, 5, 4, 10_000);
    laptop.add_folder(data.to_str().unwrap()).unwrap();
    laptop.backup_now(&mut |_| {}).unwrap();
    let phone = sign_in(&home.path().join("phone"), &server, "fresh@example.com");
    phone.unlock_with_recovery(&code, false).unwrap();
    restore_all(&phone, &home.path().join("restored")).unwrap();
    dataset::assert_same_tree(&data, &home.path().join("restored/Docs"));
}

/// Where to stop the switch (as a crash would: a panic in the progress
/// callback unwinds out of the agent), then carry on.
#[derive(Debug, Clone, Copy)]
enum StopAt {
    /// The n-th upload report.
    Uploading(usize),
    /// The first upload report past the first backup's bytes.
    SecondBackup,
    Checking,
    /// After `n` snapshot files of the commit.
    Committing(u64),
    /// After the key swap on the service, before the old objects go.
    Committed,
    /// After `n` old objects were deleted.
    Deleting(u64),
}

#[test]
fn an_interrupted_switch_carries_on_where_it_stopped() {
    let server = TestServer::start();
    let points = [
        (StopAt::Uploading(2), true),
        (StopAt::SecondBackup, false),
        (StopAt::Checking, true),
        (StopAt::Committing(1), false),
        (StopAt::Committed, true),
        (StopAt::Deleting(3), false),
    ];
    for (n, (stop, restart)) in points.into_iter().enumerate() {
        let home = tempfile::tempdir().unwrap();
        let email = format!("resume-{n}@example.com");
        let mut history = default_account_with_three_backups(&server, home.path(), &email);
        let account = account_id(&history.agent);
        let old_objects = stored_objects(&server, &account);
        let first_bytes = history.agent.snapshots().unwrap().last().unwrap().bytes;

        let mut uploads = 0;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            history.agent.switch_to_private_key(NEW_KEY, PASSWORD, &mut |p| {
                let hit = match stop {
                    StopAt::Uploading(k) if p.stage.starts_with("Uploading") => {
                        uploads += 1;
                        uploads == k
                    }
                    StopAt::SecondBackup => p.stage.starts_with("Uploading") && p.done > first_bytes,
                    StopAt::Checking => p.stage.starts_with("Checking"),
                    StopAt::Committing(k) => p.stage.starts_with("Switching to") && p.done == k && p.done < p.total,
                    StopAt::Committed => p.stage.starts_with("Switching to") && p.done == p.total,
                    StopAt::Deleting(k) => p.stage.starts_with("Deleting") && p.done == k,
                    _ => false,
                };
                if hit {
                    panic!("the power went out");
                }
            })
        }));
        assert!(outcome.is_err(), "{stop:?}: the switch was stopped");
        let status = history.agent.key_status().unwrap();
        assert!(status.switch_in_progress, "{stop:?}");
        let committed = matches!(stop, StopAt::Committed | StopAt::Deleting(_));
        assert_eq!(status.mode, if committed { KeyMode::Private } else { KeyMode::Default }, "{stop:?}");

        let mut extra = 0;
        if restart {
            // A new process: the session and any key in memory are gone.
            let dir = history.agent.config_dir().to_path_buf();
            history.agent = sign_in(&dir, &server, &email);
            assert!(history.agent.key_status().unwrap().switch_in_progress, "{stop:?}: the record survives a restart");
        }
        if matches!(stop, StopAt::Uploading(_)) {
            // Meanwhile the account is an ordinary default-key account: a
            // backup is made with the old key, and the switch copies it too.
            fs::write(history.data.join("meanwhile.txt"), b"backed up while the switch waited").unwrap();
            history.agent.backup_now(&mut |_| {}).unwrap();
            extra = 1;
        }
        assert_eq!(
            history.agent.resume_key_switch("seven quiet otters juggle amber lantern", PASSWORD, &mut |_| {}).unwrap_err().kind,
            ErrorKind::WrongKey,
            "{stop:?}: the new key is needed to carry on"
        );
        let code = history.agent.switch_to_private_key(NEW_KEY, PASSWORD, &mut |_| {}).unwrap();
        let status = history.agent.key_status().unwrap();
        assert_eq!(status.mode, KeyMode::Private, "{stop:?}");
        assert!(!status.switch_in_progress && status.unlocked, "{stop:?}");

        let objects = stored_objects(&server, &account);
        let old_ids: std::collections::BTreeSet<_> = old_objects.iter().map(|(k, id, _)| (k.clone(), id.clone())).collect();
        assert!(objects.iter().all(|(k, id, _)| !old_ids.contains(&(k.clone(), id.clone()))), "{stop:?}: an old object survived");
        assert_eq!(objects.iter().filter(|(k, _, _)| k == "snapshots").count(), 3 + extra, "{stop:?}: no duplicate snapshot");
        if extra == 0 {
            let (old_size, new_size) = (pack_bytes(&old_objects), pack_bytes(&objects));
            assert!(new_size.abs_diff(old_size) < old_size / 20 + 16_384, "{stop:?}: nothing uploaded twice: old {old_size} B, new {new_size} B");
        }
        assert_switched(&server, home.path(), &email, &history, extra);
        let phone = sign_in(&home.path().join("phone"), &server, &email);
        phone.unlock_with_recovery(&code, false).expect("the code returned on resume is the switch's code");
    }
}
