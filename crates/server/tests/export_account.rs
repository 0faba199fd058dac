//! The promise, proved (issue 5, point 4): the operator's `export-account`
//! writes a default-key account's files in clear, byte for byte, and
//! refuses a private-key account, whose files appear nowhere in what the
//! service holds.
//!
//! The backups are real: the engine backs up through an HTTP backend to a
//! running service (the agent lives in coffer-client, which the server's
//! tests do not depend on), and the real `coffer-server` program exports.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use base64::Engine;
use coffer_engine::{
    backup, Backend, BackupOptions, DataKey, Error, ErrorKind, FileKind, Id, NoCache, ObjectInfo,
    Repository,
};
use coffer_server::testing::{self, Place};
use coffer_testkit::{dataset, TestServer, TestServerOptions, TEST_PASSWORD};
use serde_json::{json, Value};

/// 2025-01-06T12:00:00Z.
const NOON: i64 = 1_736_164_800_000;
const HOUR: i64 = 3_600_000;

/// The service's `/v1/repo` as an engine backend (what the agent does).
struct HttpBackend {
    base: String,
    token: String,
    client: reqwest::blocking::Client,
}

impl HttpBackend {
    fn new(server: &TestServer, token: &str) -> HttpBackend {
        HttpBackend {
            base: server.url("/v1/repo"),
            token: token.to_owned(),
            client: reqwest::blocking::Client::new(),
        }
    }

    fn send(
        &self,
        request: reqwest::blocking::RequestBuilder,
    ) -> coffer_engine::Result<reqwest::blocking::Response> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .map_err(|e| Error::new(ErrorKind::Network, e.to_string()))?;
        match response.status().as_u16() {
            200..=299 => Ok(response),
            404 => Err(Error::new(ErrorKind::NotFound, "not found")),
            status => Err(Error::new(
                ErrorKind::Storage,
                format!("{status}: {}", response.text().unwrap_or_default()),
            )),
        }
    }

    fn bytes(response: reqwest::blocking::Response) -> coffer_engine::Result<Vec<u8>> {
        response
            .bytes()
            .map(|b| b.to_vec())
            .map_err(|e| Error::new(ErrorKind::Network, e.to_string()))
    }
}

impl Backend for HttpBackend {
    fn put(&self, kind: FileKind, id: &Id, bytes: &[u8]) -> coffer_engine::Result<()> {
        self.send(
            self.client
                .put(format!("{}/{kind}/{id}", self.base))
                .body(bytes.to_vec()),
        )
        .map(drop)
    }

    fn get(&self, kind: FileKind, id: &Id) -> coffer_engine::Result<Vec<u8>> {
        Self::bytes(self.send(self.client.get(format!("{}/{kind}/{id}", self.base)))?)
    }

    fn get_range(
        &self,
        kind: FileKind,
        id: &Id,
        offset: u64,
        len: u64,
    ) -> coffer_engine::Result<Vec<u8>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let bytes = Self::bytes(
            self.send(
                self.client
                    .get(format!("{}/{kind}/{id}", self.base))
                    .header("Range", format!("bytes={offset}-{}", offset + len - 1)),
            )?,
        )?;
        if bytes.len() as u64 != len {
            return Err(Error::new(ErrorKind::InvalidInput, "range past the end"));
        }
        Ok(bytes)
    }

    fn list(&self, kind: FileKind) -> coffer_engine::Result<Vec<ObjectInfo>> {
        let listed: Vec<Value> = self
            .send(self.client.get(format!("{}/{kind}", self.base)))?
            .json()
            .map_err(|e| Error::new(ErrorKind::Network, e.to_string()))?;
        listed
            .iter()
            .map(|o| {
                Ok(ObjectInfo {
                    id: Id::from_hex(o["id"].as_str().unwrap_or_default())?,
                    size: o["size"].as_u64().unwrap_or_default(),
                })
            })
            .collect()
    }

    fn remove(&self, kind: FileKind, id: &Id) -> coffer_engine::Result<()> {
        self.send(self.client.delete(format!("{}/{kind}/{id}", self.base)))
            .map(drop)
    }
}

fn back_up(server: &TestServer, token: &str, key: &DataKey, roots: &[&Path], time: i64) {
    let backend: Arc<dyn Backend> = Arc::new(HttpBackend::new(server, token));
    let mut repo = Repository::open(backend, key).unwrap();
    let options = BackupOptions {
        roots: roots.iter().map(|r| r.to_path_buf()).collect(),
        device_name: "Test laptop".into(),
        device_id: "test-device".into(),
        time,
        pack_size: 256 << 10,
        chunk_min: 16 << 10,
        chunk_avg: 64 << 10,
        chunk_max: 256 << 10,
        pack_threads: 1,
        ..BackupOptions::default()
    };
    let summary = backup(&mut repo, &options, &NoCache, &mut |_| {}).unwrap();
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
}

/// A service on a place of its own, and the place (the export reads the
/// same database and objects: in the scaled run they are not in the data
/// folder).
fn start_server() -> (TestServer, Place) {
    let place = testing::new_place();
    let server = TestServer::start_with(TestServerOptions {
        place: Some(place.clone()),
        ..TestServerOptions::default()
    });
    (server, place)
}

fn export(data_dir: &Path, place: &Place, email: &str, out: &Path) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_coffer-server"));
    command
        .args(["export-account", "--data-dir"])
        .arg(data_dir)
        .args(["--decrypt", email])
        .arg(out)
        .env_remove("COFFER_DATA_DIR")
        .env_remove("COFFER_DATABASE")
        .env_remove("COFFER_OBJECTS")
        .env("RUST_LOG", "info");
    if let Some(url) = &place.database_url {
        command.env("COFFER_DATABASE", url);
    }
    if let Some(url) = &place.objects_url {
        command.env("COFFER_OBJECTS", url);
    }
    command.output().unwrap()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Every object file with its size: what the export must leave alone.
/// Every object the service's store holds (folder or S3), with its bytes.
fn stored_objects(data_dir: &Path, place: &Place) -> Vec<(String, Vec<u8>)> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store =
            coffer_server::ObjectStore::open(place.objects_url.as_deref(), data_dir).unwrap();
        let mut objects = Vec::new();
        for (path, _) in store.list("").await.unwrap() {
            let (account, rest) = path.split_once('/').unwrap();
            let (kind, id) = rest.split_once('/').unwrap();
            let bytes = store.read(account, kind, id, None).await.unwrap().unwrap();
            objects.push((path, bytes.to_vec()));
        }
        objects
    })
}

fn object_sizes(data_dir: &Path, place: &Place) -> Vec<(String, u64)> {
    stored_objects(data_dir, place)
        .into_iter()
        .map(|(path, bytes)| (path, bytes.len() as u64))
        .collect()
}

#[test]
fn a_default_key_account_is_exported_byte_for_byte_and_logged() {
    let (server, place) = start_server();
    let account = server.sign_up("export");
    let home = tempfile::tempdir().unwrap();
    let docs = home.path().join("Documents");
    dataset::write_tree(&docs, 11, 25, 120_000);
    std::fs::write(docs.join("Lettre à Zoé.txt"), "Chère Zoé,\n".repeat(500)).unwrap();
    let photos = home.path().join("Photos");
    dataset::write_tree(&photos, 12, 10, 300_000);
    let key = DataKey::from_bytes(account.data_key);
    back_up(&server, &account.token, &key, &[&docs], NOON);
    back_up(
        &server,
        &account.token,
        &key,
        &[&docs, &photos],
        NOON + HOUR + 5_000,
    );
    let objects_before = object_sizes(&server.data_dir, &place);
    assert!(!objects_before.is_empty());

    let out = home.path().join("export");
    let output = export(&server.data_dir, &place, &account.email.to_uppercase(), &out);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");

    let mut folders: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    assert_eq!(folders.len(), 2, "{folders:?}");
    assert!(
        folders[0].starts_with("2025-01-06T12-00-00Z-"),
        "{folders:?}"
    );
    assert!(
        folders[1].starts_with("2025-01-06T13-00-05Z-"),
        "{folders:?}"
    );
    for folder in &folders {
        let short_id = folder.rsplit('-').next().unwrap();
        assert_eq!(short_id.len(), 8);
        assert!(short_id.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(stdout.contains(folder.as_str()), "{stdout}");
    }
    dataset::assert_same_tree(&docs, &out.join(&folders[0]).join("Documents"));
    assert!(!out.join(&folders[0]).join("Photos").exists());
    dataset::assert_same_tree(&docs, &out.join(&folders[1]).join("Documents"));
    dataset::assert_same_tree(&photos, &out.join(&folders[1]).join("Photos"));
    assert!(stdout.contains("2 snapshots"), "{stdout}");
    assert!(stdout.contains(&account.account_id), "{stdout}");

    // One log line names the action and the account, and no key.
    let logged: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("export-account"))
        .collect();
    assert_eq!(logged.len(), 1, "{stderr}");
    assert!(logged[0].contains(&account.account_id), "{stderr}");
    let key_forms = [
        hex::encode(account.data_key),
        base64::engine::general_purpose::STANDARD.encode(account.data_key),
    ];
    for form in &key_forms {
        assert!(!stderr.contains(form.as_str()) && !stdout.contains(form.as_str()));
    }
    // Read-only: the service's objects are as they were, and it still serves.
    assert_eq!(object_sizes(&server.data_dir, &place), objects_before);
    let listed: Value = reqwest::blocking::Client::new()
        .get(server.url("/v1/repo/snapshots"))
        .bearer_auth(&account.token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);

    // A second export never writes over the first.
    let again = export(&server.data_dir, &place, &account.email, &out);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
    // Without --decrypt nothing happens.
    let unconfirmed = Command::new(env!("CARGO_BIN_EXE_coffer-server"))
        .args(["export-account", "--data-dir"])
        .arg(&server.data_dir)
        .arg(&account.email)
        .arg(home.path().join("unconfirmed"))
        .output()
        .unwrap();
    assert!(!unconfirmed.status.success());
    assert!(String::from_utf8_lossy(&unconfirmed.stderr).contains("--decrypt"));
    assert!(!home.path().join("unconfirmed").exists());
    // An unknown email is said plainly.
    let unknown = export(
        &server.data_dir,
        &place,
        "nobody@example.com",
        &home.path().join("x"),
    );
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no account"));
}

fn sign_up_private(server: &TestServer, email: &str) -> String {
    let response = reqwest::blocking::Client::new()
        .post(server.url("/v1/accounts"))
        .json(&json!({
            "first_name": "Ada", "last_name": "Private", "email": email,
            "password": TEST_PASSWORD, "age_confirmed": true, "key_mode": "private",
            // Opaque to the service: the device's wraps of the data key.
            "wrapped_keys": {
                "passphrase": { "kdf": "argon2id", "salt": "c2FsdA==", "sealed": "AAAA" },
                "recovery": { "kdf": "argon2id", "salt": "c2FsdDI=", "sealed": "BBBB" },
            },
        }))
        .send()
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        201,
        "{}",
        response.text().unwrap()
    );
    server.sign_in(email, TEST_PASSWORD)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_private_key_account_is_refused_and_the_service_holds_nothing_readable() {
    let (server, place) = start_server();
    let email = "private-export@example.com";
    let token = sign_up_private(&server, email);
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("Quartz medical records");
    std::fs::create_dir(&data).unwrap();
    let secret_name = "Zebra invoice 4471 confidential.txt";
    let secret_content = "marmalade-diagnosis-9931: the patient's results are private. ".repeat(40);
    std::fs::write(data.join(secret_name), &secret_content).unwrap();
    let tree = dataset::write_tree(&data.join("more"), 21, 15, 60_000);
    // Made on the device, never sent.
    let key = DataKey::generate();
    back_up(&server, &token, &key, &[&data], NOON);

    let out = home.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let output = export(&server.data_dir, &place, email, &out);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("this account uses a private key; the service cannot decrypt it"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        0,
        "OUT stays empty"
    );
    let new_out = home.path().join("new-out");
    assert!(!export(&server.data_dir, &place, email, &new_out).status.success());
    assert!(!new_out.exists(), "nothing is created");

    // Everything the service holds: database (and its WAL), escrow key,
    // objects, staging folder, outbox.
    let held = files_under(&server.data_dir);
    assert!(held.iter().any(|p| p.ends_with("escrow.key")));
    // The objects, wherever the store keeps them (in the data folder too
    // when it is a folder).
    let objects = stored_objects(&server.data_dir, &place);
    assert!(!objects.is_empty());
    let mut names: Vec<Vec<u8>> = vec![
        secret_name.as_bytes().to_vec(),
        b"Zebra invoice".to_vec(),
        b"Quartz medical".to_vec(),
        hex::encode(secret_name).into_bytes(),
        base64::engine::general_purpose::STANDARD
            .encode(secret_name)
            .into_bytes(),
    ];
    let mut contents: Vec<Vec<u8>> = vec![
        b"marmalade-diagnosis-9931".to_vec(),
        base64::engine::general_purpose::STANDARD
            .encode(&secret_content[..48])
            .into_bytes(),
        hex::encode(&secret_content[..32]).into_bytes(),
        key.as_bytes().to_vec(),
        hex::encode(key.as_bytes()).into_bytes(),
    ];
    for file in &tree {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if name.len() >= 12 {
            names.push(name.into_bytes());
        }
        let bytes = std::fs::read(file).unwrap();
        if bytes.len() >= 32 {
            contents.push(bytes[..32].to_vec());
            contents.push(bytes[bytes.len() - 32..].to_vec());
        }
    }
    let mut held: Vec<(String, Vec<u8>)> = held
        .iter()
        .map(|path| (path.display().to_string(), std::fs::read(path).unwrap()))
        .collect();
    if let Some(url) = &place.database_url {
        let rows = tokio::runtime::Runtime::new().unwrap().block_on(async {
            let db = coffer_server::Db::connect(Some(url), Path::new("unused")).unwrap();
            db.stored_bytes().await.unwrap()
        });
        held.push(("<the PostgreSQL schema>".into(), rows));
    }
    if place.objects_url.is_some() {
        held.extend(objects);
    }
    for (path, bytes) in &held {
        for needle in names.iter().chain(&contents) {
            assert!(
                !contains(bytes, needle),
                "{} holds {:?}",
                path,
                String::from_utf8_lossy(&needle[..needle.len().min(40)])
            );
        }
    }
}
