//! `coffer share` and `coffer shares` against a real service on
//! 127.0.0.1:0: a folder from a backup is shared by mail, listed with its
//! state and revoked; bad input is refused before anything is made. (The
//! link opened in a real browser: `tests/share-page/`.)

use std::path::Path;

use coffer_testkit::TestServer;

mod common;
use common::{coffer, ok};

fn fails(config_dir: &Path, args: &[&str], expected: &str) {
    let out = coffer(config_dir, args, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains(expected), "coffer {args:?}: {stderr}");
}

#[test]
fn share_list_and_revoke_from_the_command_line() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("agent");
    let docs = home.path().join("Docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("a.txt"), "for Bob").unwrap();
    let docs = docs.to_str().unwrap();
    ok(&dir, &["--server", &server.url, "signup", "--first", "Ada", "--last", "Lovelace", "--email", "ada@example.com", "--confirm-age"], &[]);
    ok(&dir, &["folders", "add", docs], &[]);
    ok(&dir, &["backup"], &[]);

    fails(&dir, &["share", "Docs", "--to", "bob@example.com"], "full path");
    fails(&dir, &["share", docs, "--to", "bob"], "name@example.com");
    fails(&dir, &["share", docs, "--expires", "365"], "1 to 90 days");
    fails(&dir, &["share", "/nowhere/at/all"], "is not in this");
    fails(&dir, &["share", docs, "--password"], "COFFER_SHARE_PASSWORD");
    assert!(ok(&dir, &["shares"], &[]).contains("No shares"), "nothing was made");

    let text = ok(
        &dir,
        &["share", docs, "--to", "bob@example.com", "--max-downloads", "3", "--password"],
        &[("COFFER_SHARE_PASSWORD", "a share password")],
    );
    let link = text.lines().find(|l| l.contains("/s/")).expect("the link is printed").trim().to_owned();
    assert!(link.starts_with(&format!("{}/s/", server.url)) && link.contains('#'), "{link}");
    assert!(text.contains("bob@example.com") && text.contains("with the password"), "{text}");

    let listed: serde_json::Value = serde_json::from_str(&ok(&dir, &["shares", "--json"], &[])).unwrap();
    let share = &listed[0];
    assert_eq!(share["state"], "active");
    assert_eq!(share["recipients"], serde_json::json!(["bob@example.com"]));
    assert_eq!(share["max_downloads"], 3);
    assert_eq!(share["password"], true);
    assert!(!listed.to_string().contains(link.split('#').nth(1).unwrap()), "the list never holds the key");
    let table = ok(&dir, &["shares"], &[]);
    assert!(table.contains("active") && table.contains("0/3"), "{table}");

    let id = share["id"].as_str().unwrap();
    fails(&dir, &["shares", "revoke", "nope"], "not a share id");
    assert!(ok(&dir, &["shares", "revoke", id], &[]).contains("revoked"));
    let listed: serde_json::Value = serde_json::from_str(&ok(&dir, &["shares", "--json"], &[])).unwrap();
    assert_eq!(listed[0]["state"], "revoked");
    assert_eq!(listed[0]["recipients"], serde_json::json!([]));
    let page = reqwest::blocking::get(link.split('#').next().unwrap()).unwrap();
    assert_eq!(page.status(), 410);
}
