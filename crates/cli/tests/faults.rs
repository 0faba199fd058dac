//! Faults a scaled-out Coffer must survive, each caused for real: the agent
//! or a service replica SIGKILLed mid-backup, PostgreSQL restarted under a
//! running backup, the object store's disk full, the object store failing
//! writes. The `coffer` and `coffer-server` programs run as processes, so a
//! kill is a kill; what the service stored is audited through its own
//! object-store code (every object re-hashed to its name), what the agent
//! committed through `coffer check --read-data` and a restore.
//!
//! Both runs: embedded (SQLite and a folder) and scaled
//! (`COFFER_TEST_DATABASE`, `COFFER_TEST_OBJECTS`, see
//! `coffer_server::testing`). A fault that exists in one run only says so and
//! returns in the other. `docs/reliability.md` says what each test shows.
//!
//! The service program is the one `cargo build` put beside `coffer`
//! (`scripts/test.sh` builds every target before testing).

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use coffer_server::object_store::{ObjectStore, FAIL_WRITES_VAR};
use coffer_server::testing::{self, Place};
use coffer_testkit::{dataset, Balancer};

mod common;
use common::{coffer, command, ok, PASSWORD};

/// Restarting PostgreSQL disturbs every test on the same cluster, so that
/// test runs alone; the others share this and run side by side.
static SHARED_STORES: RwLock<()> = RwLock::new(());

fn side_by_side() -> RwLockReadGuard<'static, ()> {
    SHARED_STORES.read().unwrap_or_else(PoisonError::into_inner)
}

fn alone() -> RwLockWriteGuard<'static, ()> {
    SHARED_STORES.write().unwrap_or_else(PoisonError::into_inner)
}

/// The route every object upload is counted under in `/metrics`.
const PUT_OBJECT: &str = "/v1/repo/{kind}/{id}";
/// The engine's pack size (`BackupOptions::pack_size`): 8 MiB.
const PACK: u64 = 8 << 20;

// ----- the service as a program -----

/// A `coffer-server` process on 127.0.0.1; SIGKILLed when dropped.
struct Service {
    child: Child,
    url: String,
    addr: SocketAddr,
    log: PathBuf,
    // Kept open: the program's stdout is this pipe.
    _stdout: BufReader<ChildStdout>,
}

/// How to start a [`Service`].
#[derive(Clone)]
struct ServiceSetup {
    data_dir: PathBuf,
    place: Place,
    /// `127.0.0.1:0` unless given (a restart keeps its address).
    listen: Option<SocketAddr>,
    /// Replicas share one escrow key.
    escrow_key: Option<PathBuf>,
    /// The object-store test hook: writes fail from this one on.
    fail_writes_from: Option<u64>,
}

impl ServiceSetup {
    fn new(data_dir: &Path, place: &Place) -> ServiceSetup {
        ServiceSetup {
            data_dir: data_dir.to_owned(),
            place: place.clone(),
            listen: None,
            escrow_key: None,
            fail_writes_from: None,
        }
    }
}

fn server_program() -> PathBuf {
    let program = Path::new(env!("CARGO_BIN_EXE_coffer")).with_file_name("coffer-server");
    assert!(
        program.exists(),
        "{} is missing: build it first (cargo build -p coffer-server)",
        program.display()
    );
    program
}

impl Service {
    fn start(setup: &ServiceSetup) -> Service {
        fs::create_dir_all(&setup.data_dir).unwrap();
        let listen = setup.listen.map_or_else(|| "127.0.0.1:0".to_owned(), |a| a.to_string());
        let log = setup.data_dir.with_extension(format!("{}.log", listen.replace(':', "_")));
        let mut cmd = Command::new(server_program());
        cmd.args(["--listen", &listen, "--data-dir"])
            .arg(&setup.data_dir)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&log).unwrap());
        for var in ["COFFER_DATABASE", "COFFER_OBJECTS", "COFFER_ESCROW_KEY_FILE", "COFFER_QUOTA_GB", FAIL_WRITES_VAR] {
            cmd.env_remove(var);
        }
        if let Some(url) = &setup.place.database_url {
            cmd.args(["--database", url]);
        }
        if let Some(url) = &setup.place.objects_url {
            cmd.args(["--objects", url]);
        }
        if let Some(key) = &setup.escrow_key {
            cmd.arg("--escrow-key").arg(key);
        }
        if let Some(n) = setup.fail_writes_from {
            cmd.env(FAIL_WRITES_VAR, n.to_string());
        }
        let mut child = cmd.spawn().expect("coffer-server starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let Some(url) = line.trim().strip_prefix("coffer-server listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("coffer-server did not start: {line:?}\n{}", fs::read_to_string(&log).unwrap_or_default());
        };
        let addr = url.trim_start_matches("http://").parse().expect("a loopback address");
        Service { url: url.to_owned(), addr, child, log, _stdout: stdout }
    }

    /// SIGKILL: no shutdown, no flushing, as a crash or an OOM kill.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn metrics(&self) -> Metrics {
        let text = reqwest::blocking::get(format!("{}/metrics", self.url))
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.text())
            .unwrap_or_else(|e| panic!("{}/metrics: {e}", self.url));
        Metrics(text)
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A service's `/metrics` text.
struct Metrics(String);

impl Metrics {
    /// `coffer_http_requests_total` of `method` on `route`, for the
    /// statuses `status` accepts.
    fn requests(&self, method: &str, route: &str, status: impl Fn(u16) -> bool) -> u64 {
        let mut total = 0;
        for line in self.0.lines() {
            let Some(rest) = line.strip_prefix("coffer_http_requests_total{") else { continue };
            let Some((labels, value)) = rest.split_once("} ") else { continue };
            let labels: BTreeMap<&str, &str> = labels
                .split("\",")
                .filter_map(|pair| pair.split_once("=\""))
                .map(|(k, v)| (k, v.trim_end_matches('"')))
                .collect();
            let code = labels.get("status").and_then(|s| s.parse().ok()).unwrap_or(0);
            if labels.get("method") == Some(&method) && labels.get("route") == Some(&route) && status(code) {
                total += value.trim().parse::<f64>().unwrap() as u64;
            }
        }
        total
    }

    /// Objects stored new (`201`).
    fn stored(&self) -> u64 {
        self.requests("PUT", PUT_OBJECT, |s| s == 201)
    }

    /// Uploads of an object the service already had (`200 already stored`).
    fn already_stored(&self) -> u64 {
        self.requests("PUT", PUT_OBJECT, |s| s == 200)
    }

    /// Answers of 500 and up, on any route.
    fn server_errors(&self) -> u64 {
        self.0
            .lines()
            .filter(|line| line.starts_with("coffer_http_requests_total{") && line.contains("status=\"5"))
            .map(|line| line.rsplit(' ').next().unwrap().parse::<f64>().unwrap() as u64)
            .sum()
    }
}

// ----- the agent -----

/// A person's agent (the `coffer` program) with its folder to back up.
struct Person {
    config: PathBuf,
    data: PathBuf,
    email: String,
}

impl Person {
    /// Signs up at `url` and chooses the folder `data` (created empty).
    fn sign_up(home: &Path, name: &str, url: &str) -> Person {
        let config = home.join(format!("{name}-agent"));
        let data = home.join(format!("{name}-data"));
        fs::create_dir_all(&data).unwrap();
        let email = format!("{name}@example.com");
        ok(&config, &["--server", url, "signup", "--first", "Test", "--last", name, "--email", &email, "--confirm-age"], &[]);
        ok(&config, &["folders", "add", data.to_str().unwrap()], &[]);
        Person { config, data, email }
    }

    fn run(&self, args: &[&str]) -> Output {
        coffer(&self.config, args, &[])
    }

    fn ok(&self, args: &[&str]) -> String {
        ok(&self.config, args, &[])
    }

    /// `coffer backup` in the background.
    fn start_backup(&self) -> Child {
        command(&self.config, &["backup"], &[]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    }

    /// `coffer check` and `coffer check --read-data` both find nothing wrong.
    fn assert_check_clean(&self) {
        for args in [&["check"][..], &["check", "--read-data"][..]] {
            let out = self.run(args);
            assert!(out.status.success(), "coffer {args:?} found damage:\n{}{}", text(&out.stdout), text(&out.stderr));
        }
    }

    /// The latest snapshot restores to exactly `expected`.
    fn assert_restores(&self, expected: &Path, scratch: &Path) {
        let target = scratch.join(format!("restored-{}", std::process::id()));
        let _ = fs::remove_dir_all(&target);
        self.ok(&["restore", "--to", target.to_str().unwrap()]);
        let name = self.data.file_name().unwrap();
        dataset::assert_same_tree(expected, &target.join(name));
        fs::remove_dir_all(&target).unwrap();
    }

    fn snapshots(&self) -> usize {
        let listed: serde_json::Value = serde_json::from_str(&self.ok(&["snapshots", "--json"])).unwrap();
        listed.as_array().unwrap().len()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Waits for a background `coffer` and returns what it printed.
fn finish(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

/// Polls `done` every 10 ms until it holds; panics after `limit`.
fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until `count` gives the same answer for a whole `quiet` period:
/// a killed agent's last requests have been answered.
fn wait_until_settled(what: &str, quiet: Duration, mut count: impl FnMut() -> u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = count();
    let mut since = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = count();
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() >= quiet {
            return now;
        }
        assert!(Instant::now() < deadline, "{what} did not settle");
    }
}

/// Writes `files` files of `size` random (incompressible) bytes under
/// `dir`, the same for the same `seed`: each pack the engine makes of
/// them is a full 8 MiB.
fn write_random_files(dir: &Path, seed: u64, files: usize, size: usize) {
    fs::create_dir_all(dir).unwrap();
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for n in 0..files {
        let mut bytes = Vec::with_capacity(size);
        while bytes.len() < size {
            // xorshift64*
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            bytes.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        bytes.truncate(size);
        fs::write(dir.join(format!("random-{seed}-{n}.bin")), bytes).unwrap();
    }
}

// ----- what the service holds -----

/// Signs in over HTTP as the person would, to list what is stored.
fn sign_in(url: &str, email: &str) -> String {
    let body = serde_json::json!({
        "email": email, "password": PASSWORD, "device_id": "fault-test-auditor",
        "device_name": "Fault test", "app_version": "0.0.0-test",
    });
    let answer: serde_json::Value = reqwest::blocking::Client::new()
        .post(format!("{url}/v1/sessions"))
        .json(&body)
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.json())
        .expect("signing in");
    answer["access_token"].as_str().unwrap().to_owned()
}

/// The sizes of the account's stored packs, as the service lists them.
fn stored_packs(url: &str, token: &str) -> Vec<u64> {
    let listed: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("{url}/v1/repo/packs"))
        .bearer_auth(token)
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.json())
        .expect("listing packs");
    listed.as_array().unwrap().iter().map(|o| o["size"].as_u64().unwrap()).collect()
}

/// Reads every object in the store behind `place` (or the folder store
/// of `data_dir`) and checks that its name is the BLAKE3 of its bytes, so
/// nothing half-written is there. Returns how many objects there are.
fn assert_every_object_whole(place: &Place, data_dir: &Path) -> usize {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let store = ObjectStore::open(place.objects_url.as_deref(), data_dir).unwrap();
        let paths: Vec<String> = store.list("").await.unwrap().into_iter().map(|(path, _)| path).collect();
        for path in &paths {
            let parts: Vec<&str> = path.split('/').collect();
            let [account, kind, id] = parts[..] else { panic!("a stray file in the object store: {path}") };
            let bytes = store.read(account, kind, id, None).await.unwrap().expect("listed, so there");
            assert_eq!(blake3::hash(&bytes).to_hex().as_str(), id, "{path} is not whole ({} bytes)", bytes.len());
        }
        paths.len()
    })
}

// ----- 1. the agent killed mid-backup -----

/// SIGKILL the `coffer` process mid-backup: the next backup adopts the packs
/// the service already has (from their headers) instead of sending their
/// contents again, and finishes; everything checks and restores.
///
/// "Sent again" is measured by the service: the account's stored pack bytes
/// after the resumed backup must match a reference account's single backup
/// of the same files (a resume that re-packed the stored packs' contents
/// would add at least their 3 × 8 MiB), and no upload may be answered
/// `200 already stored`.
#[test]
fn an_agent_killed_mid_backup_resumes_without_sending_stored_packs_again() {
    let _stores = side_by_side();
    let home = tempfile::tempdir().unwrap();
    let place = testing::new_place();
    let service = Service::start(&ServiceSetup::new(&home.path().join("service"), &place));
    let ada = Person::sign_up(home.path(), "ada", &service.url);
    write_random_files(&ada.data, 1, 10, 8 << 20);

    let mut backup = ada.start_backup();
    wait_until("3 packs stored before the kill", Duration::from_secs(120), || {
        if let Some(status) = backup.try_wait().unwrap() {
            panic!("the backup ended ({status}) before it could be killed: give it more data");
        }
        service.metrics().stored() >= 3
    });
    backup.kill().unwrap(); // SIGKILL
    backup.wait().unwrap();
    let token = sign_in(&service.url, &ada.email);
    // The killed agent's last uploads are answered (or dropped) first.
    let packs_before = wait_until_settled("the killed agent's uploads", Duration::from_secs(1), || {
        stored_packs(&service.url, &token).len() as u64
    });
    assert_eq!(ada.snapshots(), 0, "the killed backup committed nothing");
    let already_before = service.metrics().already_stored();

    let out = ada.ok(&["backup"]);
    assert!(out.starts_with("Backed up"), "{out}");
    let already_after = service.metrics().already_stored();
    ada.assert_check_clean();
    ada.assert_restores(&ada.data, home.path());

    // The same files, backed up once without a fault, by another account.
    let grace = Person::sign_up(home.path(), "grace", &service.url);
    fs::remove_dir(&grace.data).unwrap();
    fs::rename(&ada.data, &grace.data).unwrap();
    grace.ok(&["backup"]);
    let resumed: u64 = stored_packs(&service.url, &token).iter().sum();
    let reference: u64 = stored_packs(&service.url, &sign_in(&service.url, &grace.email)).iter().sum();
    eprintln!(
        "agent killed after {packs_before} packs were stored; resumed: {resumed} pack bytes, \
         one clean backup: {reference}; uploads answered 200 during the resume: {}",
        already_after - already_before
    );
    assert!(packs_before >= 3, "{packs_before}");
    assert_eq!(already_after, already_before, "the resumed backup uploaded a pack the service had");
    // Pack boundaries and headers differ a little between two accounts;
    // one pack's contents sent again would be megabytes.
    assert!(
        resumed <= reference + PACK / 32,
        "the resumed backup stored {} bytes more than one clean backup: stored packs were sent again",
        resumed.saturating_sub(reference)
    );
}

// ----- 2. a replica killed mid-upload -----

/// Two `coffer-server` replicas on the shared scaled stores behind the test
/// balancer; the one uploads are going to is SIGKILLed mid-backup. The agent
/// finishes through the other, and no object in the store is half-written.
#[test]
fn a_replica_killed_mid_upload_leaves_no_half_object_and_the_other_finishes() {
    if !testing::scaled() {
        eprintln!("embedded run: one SQLite file and folder per service, so no replicas to kill");
        return;
    }
    let _stores = side_by_side();
    let home = tempfile::tempdir().unwrap();
    let place = testing::new_place();
    let first = ServiceSetup::new(&home.path().join("replica-a"), &place);
    let mut replicas = vec![Service::start(&first)];
    let second = ServiceSetup {
        escrow_key: Some(first.data_dir.join("escrow.key")),
        ..ServiceSetup::new(&home.path().join("replica-b"), &place)
    };
    replicas.push(Service::start(&second));
    let balancer = Balancer::start(replicas.iter().map(|r| r.addr).collect());
    let ada = Person::sign_up(home.path(), "ada", &balancer.url);
    write_random_files(&ada.data, 2, 10, 8 << 20);

    let mut backup = ada.start_backup();
    wait_until("2 packs stored through the replicas", Duration::from_secs(120), || {
        assert!(backup.try_wait().unwrap().is_none(), "the backup ended before a replica could be killed");
        replicas.iter().map(|r| r.metrics().stored()).sum::<u64>() >= 2
    });
    // The replica taking uploads now: the one that stored the most.
    let stored: Vec<u64> = replicas.iter().map(|r| r.metrics().stored()).collect();
    let victim = usize::from(stored[1] > stored[0]);
    let survivor = 1 - victim;
    let served_before = balancer.served()[survivor];
    replicas[victim].kill();

    let out = finish(backup);
    assert!(
        out.status.success(),
        "the backup did not finish through the other replica:\n{}{}\nsurvivor's log:\n{}",
        text(&out.stdout),
        text(&out.stderr),
        replicas[survivor].log()
    );
    let objects = assert_every_object_whole(&place, home.path());
    let served_after = balancer.served()[survivor];
    eprintln!(
        "replica {victim} killed after storing {} of {} objects; new connections to the other: {}, \
         objects it stored after: {}; {objects} objects in the store, every one whole",
        stored[victim],
        stored.iter().sum::<u64>(),
        served_after - served_before,
        replicas[survivor].metrics().stored() - stored[survivor]
    );
    assert!(served_after > served_before, "the agent never went to the other replica");
    ada.assert_check_clean();
    ada.assert_restores(&ada.data, home.path());
}

// ----- 3. PostgreSQL restarted mid-backup -----

/// PostgreSQL restarted (`pg_ctl restart -m fast`) while a backup uploads:
/// requests that fail meanwhile are tried again and the backup finishes.
#[test]
fn a_database_restart_mid_backup_is_ridden_out() {
    let (Ok(pg_data), Ok(pg_bin)) = (std::env::var("COFFER_TEST_PG_DATA"), std::env::var("COFFER_TEST_PG_BIN")) else {
        eprintln!("no COFFER_TEST_PG_DATA / COFFER_TEST_PG_BIN: not the scaled run, no PostgreSQL to restart");
        return;
    };
    let _stores = alone();
    let home = tempfile::tempdir().unwrap();
    let place = testing::new_place();
    let service = Service::start(&ServiceSetup::new(&home.path().join("service"), &place));
    let ada = Person::sign_up(home.path(), "ada", &service.url);
    write_random_files(&ada.data, 3, 10, 8 << 20);

    let mut backup = ada.start_backup();
    wait_until("2 packs stored before the restart", Duration::from_secs(120), || {
        assert!(backup.try_wait().unwrap().is_none(), "the backup ended before PostgreSQL could be restarted");
        service.metrics().stored() >= 2
    });
    let stored_before = service.metrics().stored();
    let restarted = Instant::now();
    let status = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(Path::new(&pg_bin).join("pg_ctl"))
        .args(["-D", &pg_data, "restart", "-m", "fast", "-w", "-s"])
        // The restarted server inherits these; a pipe would never close.
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "pg_ctl restart failed: {status}");
    let restart_took = restarted.elapsed();

    let out = finish(backup);
    assert!(
        out.status.success(),
        "the backup did not ride out the restart:\n{}{}\nservice log:\n{}",
        text(&out.stdout),
        text(&out.stderr),
        service.log()
    );
    let metrics = service.metrics();
    eprintln!(
        "PostgreSQL restarted after {stored_before} objects were stored (took {restart_took:?}); \
         the service answered {} requests with 5xx, the agent tried them again and finished",
        metrics.server_errors()
    );
    ada.assert_check_clean();
    ada.assert_restores(&ada.data, home.path());
}

// ----- 4. the folder store's disk full -----

/// A small tmpfs mounted for a test, unmounted when dropped (on a panic too).
struct Mount(PathBuf);

impl Mount {
    /// `None` when this process may not mount (not root).
    fn tmpfs(dir: &Path, size: &str) -> Option<Mount> {
        fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir).output().unwrap();
        if out.status.success() {
            return Some(Mount(dir.to_owned()));
        }
        let uid = Command::new("id").arg("-u").output().unwrap();
        assert_ne!(text(&uid.stdout).trim(), "0", "mounting a tmpfs as root failed: {}", text(&out.stderr));
        None
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(&self.0).status().is_ok_and(|s| s.success());
        if !unmounted {
            // Still busy (a process not yet reaped): detach it now, freed when idle.
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// The object folder on a disk that fills up mid-backup: the agent is told
/// in a sentence that the service is out of space, nothing partial is left
/// (the staged part of the write that did not fit is removed), the earlier
/// snapshot still checks and restores, and once the files are smaller again
/// a backup goes through.
#[test]
fn a_full_disk_is_reported_clearly_and_harms_nothing() {
    if testing::scaled() {
        eprintln!("scaled run: objects are in S3, not on a disk this test can fill");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let Some(volume) = Mount::tmpfs(&home.path().join("volume"), "12m") else {
        eprintln!("not root: cannot mount a small tmpfs to fill");
        return;
    };
    let objects = volume.0.join("objects");
    let place = Place { database_url: None, objects_url: Some(objects.to_str().unwrap().to_owned()) };
    let data_dir = home.path().join("service");
    let service = Service::start(&ServiceSetup::new(&data_dir, &place));
    let ada = Person::sign_up(home.path(), "ada", &service.url);
    dataset::write_tree(&ada.data, 4, 30, 60_000);
    ada.ok(&["backup"]);
    let first = home.path().join("first");
    copy_tree(&ada.data, &first);

    write_random_files(&ada.data.join("big"), 4, 5, 8 << 20);
    let out = ada.run(&["backup"]);
    let said = text(&out.stderr);
    eprintln!("a backup onto the full disk printed: {said}");
    assert!(!out.status.success(), "the backup cannot have fit in 12 MiB");
    assert!(said.contains("run out of storage space"), "the person is told the service is full: {said}");
    assert!(!said.contains("internal"), "{said}");
    assert!(service.metrics().requests("PUT", PUT_OBJECT, |s| s == 507) >= 1, "answered 507 storage_full");

    let staged: Vec<_> = fs::read_dir(objects.join(".staging")).unwrap().collect();
    assert!(staged.is_empty(), "a failed write left {} staged files", staged.len());
    let count = assert_every_object_whole(&place, &data_dir);
    assert_eq!(ada.snapshots(), 1, "the failed backup committed nothing");
    ada.assert_check_clean();
    ada.assert_restores(&first, home.path());
    eprintln!("{count} objects on the full disk, every one whole; the first snapshot checks and restores");

    fs::remove_dir_all(ada.data.join("big")).unwrap();
    ada.ok(&["backup"]);
    ada.assert_check_clean();
    drop(service);
    drop(volume);
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

// ----- 5. the object store failing writes -----

/// The service restarted with the object-store test hook set: from the 3rd
/// object write on, every write fails (a store that broke mid-backup). The
/// backup fails after its retries; no snapshot references anything missing
/// (check is clean, the earlier snapshot restores); with the store healthy
/// again the next backup finishes and restores exactly.
///
/// The hook (`COFFER_TEST_FAIL_OBJECT_WRITES`, see
/// `coffer_server::object_store`) fails the write inside the service's own
/// `ObjectStore`, after the upload was received and checked, as a failing
/// disk or S3 store would; it works the same on the folder and the S3 store,
/// and only debug builds honour it.
#[test]
fn a_failing_object_store_never_leaves_a_snapshot_with_missing_data() {
    let _stores = side_by_side();
    let home = tempfile::tempdir().unwrap();
    let place = testing::new_place();
    let data_dir = home.path().join("service");
    let mut setup = ServiceSetup::new(&data_dir, &place);
    let mut service = Service::start(&setup);
    setup.listen = Some(service.addr);
    let ada = Person::sign_up(home.path(), "ada", &service.url);
    dataset::write_tree(&ada.data, 5, 30, 60_000);
    ada.ok(&["backup"]);
    let first = home.path().join("first");
    copy_tree(&ada.data, &first);

    service.kill();
    let failing_from = 3;
    service = Service::start(&ServiceSetup { fail_writes_from: Some(failing_from), ..setup.clone() });
    write_random_files(&ada.data.join("new"), 5, 6, 8 << 20);
    let out = ada.run(&["backup"]);
    assert!(!out.status.success(), "every write from the {failing_from}rd on fails: the backup cannot finish");
    let metrics = service.metrics();
    eprintln!(
        "with writes failing from the {failing_from}rd on: {} stored, {} failed answers; the agent said: {}",
        metrics.stored(),
        metrics.server_errors(),
        text(&out.stderr).trim()
    );
    assert_eq!(metrics.stored(), failing_from - 1, "the writes before the failing one were stored");
    assert!(text(&out.stderr).contains("service failed"), "the person is told in a sentence: {}", text(&out.stderr));
    assert_eq!(ada.snapshots(), 1, "the failed backup committed nothing");
    ada.assert_check_clean();
    ada.assert_restores(&first, home.path());

    service.kill();
    service = Service::start(&setup);
    let out = ada.ok(&["backup"]);
    assert!(out.starts_with("Backed up"), "{out}");
    assert_eq!(ada.snapshots(), 2);
    ada.assert_check_clean();
    ada.assert_restores(&ada.data, home.path());
    let objects = assert_every_object_whole(&place, &data_dir);
    eprintln!("{objects} objects in the store, every one whole");
    drop(service);
}
