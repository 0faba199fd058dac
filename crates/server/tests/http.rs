//! Tests against a real listener on 127.0.0.1:0, through reqwest.

use base64::Engine;
use coffer_server::{start, Config, RunningServer};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";

struct Service {
    server: RunningServer,
    client: Client,
    dir: tempfile::TempDir,
}

impl Service {
    async fn start(quota_bytes: u64) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
        config.quota_bytes = quota_bytes;
        // The scaled run (PostgreSQL + S3) when the environment names one.
        coffer_server::testing::isolate_from_env(&mut config);
        let server = start(config).await.unwrap();
        Service {
            server,
            client: Client::new(),
            dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    /// What the object store holds under `prefix`: (path, size).
    async fn stored(&self, prefix: &str) -> Vec<(String, u64)> {
        self.server.state.store.list(prefix).await.unwrap()
    }

    async fn account(&self, email: &str) -> String {
        let key = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
        let response = self
            .client
            .post(self.url("/v1/accounts"))
            .json(&json!({
                "first_name": "Ann", "last_name": "Example", "email": email, "password": PASSWORD,
                "age_confirmed": true, "key_mode": "default", "data_key": key,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let response = self
            .client
            .post(self.url("/v1/sessions"))
            .json(&json!({ "email": email, "password": PASSWORD, "device_id": "d", "device_name": "n", "app_version": "0.1.0" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    async fn put(&self, token: &str, kind: &str, bytes: &[u8]) -> reqwest::Response {
        let id = blake3::hash(bytes).to_hex();
        self.client
            .put(self.url(&format!("/v1/repo/{kind}/{id}")))
            .bearer_auth(token)
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap()
    }

    async fn get_range(&self, token: &str, path: &str, range: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .header("Range", range)
            .send()
            .await
            .unwrap()
    }

    /// A GET's JSON body.
    async fn get_json(&self, token: &str, path: &str) -> Value {
        self.get(token, path).await.json().await.unwrap()
    }

    async fn delete(&self, token: &str, path: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// DELETE with a fresh deletion grant (the person confirmed it is them).
    async fn delete_confirmed(&self, token: &str, path: &str) -> reqwest::Response {
        let grant: Value = self
            .client
            .post(self.url("/v1/auth/confirm"))
            .bearer_auth(token)
            .json(&json!({ "password": PASSWORD }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .header("Coffer-Confirmation", grant["confirmation"].as_str().unwrap())
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error"]["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn health_over_a_real_socket() {
    let service = Service::start(1 << 20).await;
    let body: Value = reqwest::get(service.url("/v1/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "ok");
    service.server.stop().await.unwrap();
}

#[tokio::test]
async fn accounts_cannot_see_each_others_objects() {
    let service = Service::start(1 << 20).await;
    let alice = service.account("alice@example.com").await;
    let bob = service.account("bob@example.com").await;
    let bytes = b"alice's pack".as_slice();
    let id = blake3::hash(bytes).to_hex().to_string();
    assert_eq!(
        service.put(&alice, "packs", bytes).await.status(),
        StatusCode::CREATED
    );

    let path = format!("/v1/repo/packs/{id}");
    let read = service.get(&bob, &path).await;
    assert_eq!(read.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(read).await, "not_found");
    let ranged = service.get_range(&bob, &path, "bytes=0-1").await;
    assert_eq!(ranged.status(), StatusCode::NOT_FOUND);
    let list: Value = service.get_json(&bob, "/v1/repo/packs").await;
    assert_eq!(list, json!([]));
    let delete = service.delete_confirmed(&bob, &path).await;
    assert_eq!(delete.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(delete).await, "not_found");

    // Alice still has it, untouched.
    let read = service.get(&alice, &path).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.bytes().await.unwrap(), bytes);

    // Bob uploading the same bytes gets his own copy, charged to him.
    assert_eq!(
        service.put(&bob, "packs", bytes).await.status(),
        StatusCode::CREATED
    );
    let delete = service.delete_confirmed(&bob, &path).await;
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    assert_eq!(service.get(&alice, &path).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn objects_are_write_once() {
    let service = Service::start(1 << 20).await;
    let token = service.account("ann@example.com").await;
    let bytes = b"snapshot commit".as_slice();
    let id = blake3::hash(bytes).to_hex().to_string();
    assert_eq!(
        service.put(&token, "snapshots", bytes).await.status(),
        StatusCode::CREATED
    );

    let account: Value = service.get_json(&token, "/v1/account").await;
    let account_id = account["account_id"].as_str().unwrap();
    let held = vec![(format!("{account_id}/snapshots/{id}"), bytes.len() as u64)];
    assert_eq!(service.stored(&format!("{account_id}/")).await, held);
    // In a folder store, the file itself is not even touched again.
    let file = service
        .dir
        .path()
        .join("objects")
        .join(account_id)
        .join("snapshots")
        .join(&id);
    let before = std::fs::metadata(&file).ok();
    assert_eq!(
        service.put(&token, "snapshots", bytes).await.status(),
        StatusCode::OK
    );
    assert_eq!(service.stored(&format!("{account_id}/")).await, held);
    if let Some(before) = before {
        let after = std::fs::metadata(&file).unwrap();
        assert_eq!(before.modified().unwrap(), after.modified().unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            assert_eq!(before.ino(), after.ino(), "the object was rewritten");
        }
    }
    let stored = service
        .get(&token, &format!("/v1/repo/snapshots/{id}"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(stored.as_ref(), bytes);
    let list: Value = service.get_json(&token, "/v1/repo/snapshots").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    // Nothing half-written is left in the staging folder (a folder store
    // has one; an S3 PUT is all or nothing).
    match std::fs::read_dir(service.dir.path().join("tmp")) {
        Ok(staged) => assert_eq!(staged.count(), 0),
        Err(_) => assert!(coffer_server::testing::scaled(), "the folder store stages in tmp/"),
    }
}

#[tokio::test]
async fn listing_is_oldest_first() {
    let service = Service::start(1 << 20).await;
    let token = service.account("ann@example.com").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let bytes = format!("index {i}");
        ids.push(blake3::hash(bytes.as_bytes()).to_hex().to_string());
        assert_eq!(
            service
                .put(&token, "indexes", bytes.as_bytes())
                .await
                .status(),
            StatusCode::CREATED
        );
    }
    let list: Value = service.get_json(&token, "/v1/repo/indexes").await;
    let listed: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids);
}

#[tokio::test]
async fn range_reads_return_partial_content() {
    let service = Service::start(1 << 20).await;
    let token = service.account("ann@example.com").await;
    let bytes: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let id = blake3::hash(&bytes).to_hex().to_string();
    assert_eq!(
        service.put(&token, "packs", &bytes).await.status(),
        StatusCode::CREATED
    );
    let path = format!("/v1/repo/packs/{id}");

    for (range, want, content_range) in [
        ("bytes=10-19", 10..20, "bytes 10-19/1000"),
        ("bytes=990-", 990..1000, "bytes 990-999/1000"),
        ("bytes=-5", 995..1000, "bytes 995-999/1000"),
        ("bytes=900-5000", 900..1000, "bytes 900-999/1000"),
    ] {
        let response = service.get_range(&token, &path, range).await;
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(response.headers()["content-range"], content_range);
        assert_eq!(response.bytes().await.unwrap(), &bytes[want], "{range}");
    }
    for range in ["bytes=1000-", "bytes=20-10", "pages=1-2"] {
        let response = service.get_range(&token, &path, range).await;
        assert_eq!(
            response.status(),
            StatusCode::RANGE_NOT_SATISFIABLE,
            "{range}"
        );
        assert_eq!(error_code(response).await, "invalid_range");
    }
    let whole = service.get(&token, &path).await;
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.bytes().await.unwrap(), bytes);
}

#[tokio::test]
async fn quota_is_enforced_and_deleting_frees_it() {
    let service = Service::start(100).await;
    let token = service.account("ann@example.com").await;
    let first = vec![1u8; 60];
    let second = vec![2u8; 60];
    assert_eq!(
        service.put(&token, "packs", &first).await.status(),
        StatusCode::CREATED
    );
    let refused = service.put(&token, "packs", &second).await;
    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(refused).await, "quota_exceeded");

    // Nothing of the refused object was stored.
    let second_id = blake3::hash(&second).to_hex().to_string();
    assert_eq!(
        service
            .get(&token, &format!("/v1/repo/packs/{second_id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let list: Value = service.get_json(&token, "/v1/repo/packs").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let account: Value = service.get_json(&token, "/v1/account").await;
    assert_eq!(account["quota"], json!({ "used": 60, "total": 100 }));
    let packs = format!("{}/packs/", account["account_id"].as_str().unwrap());
    let stored: Vec<String> = service.stored(&packs).await.into_iter().map(|(p, _)| p).collect();
    assert!(!stored.contains(&format!("{packs}{second_id}")), "{stored:?}");

    // Re-uploading something already stored costs nothing, even when full.
    assert_eq!(
        service.put(&token, "packs", &first).await.status(),
        StatusCode::OK
    );

    let first_id = blake3::hash(&first).to_hex().to_string();
    let deleted = service
        .delete_confirmed(&token, &format!("/v1/repo/packs/{first_id}"))
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    // Held for 7 days (see tests/held_deletions.rs), but no longer charged.
    let stored: Vec<String> = service.stored(&packs).await.into_iter().map(|(p, _)| p).collect();
    assert!(stored.contains(&format!("{packs}{first_id}")), "{stored:?}");
    assert_eq!(
        service.put(&token, "packs", &second).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn sign_out_rejects_the_token_and_records_the_session() {
    let service = Service::start(1 << 20).await;
    let token = service.account("ann@example.com").await;
    assert_eq!(
        service.get(&token, "/v1/account").await.status(),
        StatusCode::OK
    );
    let out = service.delete(&token, "/v1/sessions/current").await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let after = service.get(&token, "/v1/account").await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(after).await, "unauthorized");
}

#[tokio::test]
async fn sessions_record_the_client_ip() {
    let service = Service::start(1 << 20).await;
    let token = service.account("ann@example.com").await;
    let _ = token;
    let response = service
        .client
        .post(service.url("/v1/sessions"))
        .json(&json!({ "email": "ann@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let session = service
        .server
        .state
        .db
        .session(body["session_id"].as_str().unwrap().to_owned())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(session.device_id, "");
}

#[tokio::test]
async fn beyond_loopback_is_refused_without_tls() {
    let dir = tempfile::tempdir().unwrap();
    let err = start(Config::new(
        "0.0.0.0:0".parse().unwrap(),
        dir.path().to_path_buf(),
    ))
    .await
    .err()
    .expect("listening on 0.0.0.0 must be refused");
    assert!(err.to_string().contains("TLS"), "{err}");
    // Refused before touching the data folder.
    assert!(!dir.path().join("coffer.db").exists());
}
