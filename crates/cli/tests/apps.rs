//! `coffer apps` against a real service on 127.0.0.1:0: a token made from
//! the command line works within its scopes only, is printed once, never
//! listed, and stops working when revoked.

use coffer_testkit::TestServer;

mod common;
use common::{coffer, ok};

fn get(server: &TestServer, path: &str, token: &str) -> reqwest::StatusCode {
    reqwest::blocking::Client::new()
        .get(format!("{}{path}", server.url))
        .bearer_auth(token)
        .send()
        .unwrap()
        .status()
}

#[test]
fn apps_are_created_listed_used_within_their_scopes_and_revoked() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("agent");
    ok(&dir, &["--server", &server.url, "signup", "--first", "Ada", "--last", "Lovelace", "--email", "ada@example.com", "--confirm-age"], &[]);

    let created: serde_json::Value = serde_json::from_str(&ok(
        &dir,
        &["apps", "create", "Photo frame", "--scope", "restore", "account_read", "--expires", "7", "--json"],
        &[],
    ))
    .unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("coffer_app_"), "{created}");
    assert_eq!(created["scopes"], serde_json::json!(["restore", "account_read"]));

    let listed = ok(&dir, &["apps", "--json"], &[]);
    assert!(!listed.contains(&token), "the list shows the token: {listed}");
    let apps: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(apps[0]["name"], "Photo frame");
    assert_eq!(apps[0]["last_used_at"], serde_json::Value::Null);

    assert_eq!(get(&server, "/v1/repo/snapshots", &token), 200);
    assert_eq!(get(&server, "/v1/account", &token), 200);
    assert_eq!(get(&server, "/v1/account/export", &token), 403, "export is not account_read");
    let table = ok(&dir, &["apps"], &[]);
    assert!(table.contains("Photo frame") && table.contains("restore, account_read") && !table.contains("never"), "{table}");

    // The human form prints the token once, on its own line.
    let text = ok(&dir, &["apps", "create", "Backup box", "--scope", "backup"], &[]);
    let second = text.lines().find(|l| l.starts_with("coffer_app_")).expect("token printed");
    assert_eq!(get(&server, "/v1/repo/packs", second), 200);
    assert_eq!(get(&server, &format!("/v1/repo/packs/{}", "0".repeat(64)), second), 403);

    // Bad input: a clear error, nothing created.
    let out = coffer(&dir, &["apps", "create", "x", "--scope", "restore", "--expires", "400"], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 to 365 days"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = coffer(&dir, &["apps", "create", "x", "--scope", "admin"], &[]);
    assert!(!out.status.success());
    let out = coffer(&dir, &["apps", "revoke", "not-an-id"], &[]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("not an app id"));
    let apps: serde_json::Value = serde_json::from_str(&ok(&dir, &["apps", "--json"], &[])).unwrap();
    assert_eq!(apps.as_array().unwrap().len(), 2);

    let id = created["id"].as_str().unwrap();
    let revoked = ok(&dir, &["apps", "revoke", id], &[]);
    assert!(revoked.contains("revoked"), "{revoked}");
    assert_eq!(get(&server, "/v1/account", &token), 401, "a revoked token fails at once");
    let apps: serde_json::Value = serde_json::from_str(&ok(&dir, &["apps", "--json"], &[])).unwrap();
    assert_eq!(apps.as_array().unwrap().len(), 1);
}
