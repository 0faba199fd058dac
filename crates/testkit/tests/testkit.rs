use std::panic::{catch_unwind, AssertUnwindSafe};

use coffer_testkit::dataset::{assert_same_tree, write_special_entries, write_tree};
use coffer_testkit::TestServer;

fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    err.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn test_server_serves_and_stops_on_drop() {
    let server = TestServer::start();
    assert!(server.url.starts_with("http://127.0.0.1:"));
    let health: serde_json::Value = reqwest::blocking::get(server.url("/v1/health"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert!(server.data_dir.join("escrow.key").exists());

    let addr = server.addr;
    let data_dir = server.data_dir.clone();
    drop(server);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still listening after drop"
    );
    assert!(!data_dir.exists(), "data folder kept after drop");
}

#[test]
fn test_accounts_sign_up_with_the_quota_given() {
    let server = TestServer::start_with_quota(1234);
    let account = server.sign_up("quota");
    let me: serde_json::Value = reqwest::blocking::Client::new()
        .get(server.url("/v1/account"))
        .bearer_auth(&account.token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(me["account_id"], account.account_id.as_str());
    assert_eq!(me["quota"]["total"], 1234);
    // Two servers run side by side without sharing anything.
    let other = TestServer::start();
    assert_ne!(other.addr, server.addr);
    assert_ne!(other.data_dir, server.data_dir);
}

#[test]
fn write_tree_is_deterministic_and_varied() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let files_a = write_tree(a.path(), 7, 200, 4096);
    let files_b = write_tree(b.path(), 7, 200, 4096);
    assert_eq!(files_a.len(), 200);
    assert_same_tree(a.path(), b.path());
    let rel = |files: &[std::path::PathBuf], root: &std::path::Path| -> Vec<_> {
        files
            .iter()
            .map(|f| f.strip_prefix(root).unwrap().to_path_buf())
            .collect()
    };
    assert_eq!(rel(&files_a, a.path()), rel(&files_b, b.path()));

    let sizes: Vec<u64> = files_a
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .collect();
    assert!(sizes.contains(&0), "no empty files");
    assert!(sizes.iter().all(|&s| s <= 4096));
    assert!(sizes.iter().any(|&s| s > 1000));
    assert!(
        files_a.iter().any(|f| !f.to_str().unwrap().is_ascii()),
        "no unicode names"
    );
    assert!(
        files_a
            .iter()
            .any(|f| f.strip_prefix(a.path()).unwrap().components().count() >= 3),
        "no nesting"
    );
    let empty_dir = walk_dirs(a.path())
        .into_iter()
        .any(|d| std::fs::read_dir(d).unwrap().next().is_none());
    assert!(empty_dir, "no empty folders");

    let c = tempfile::tempdir().unwrap();
    write_tree(c.path(), 8, 200, 4096);
    let message = panic_message(|| assert_same_tree(a.path(), c.path()));
    assert!(message.contains("trees differ"), "{message}");
}

fn walk_dirs(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk_dirs(&path));
        }
    }
    out
}

#[test]
fn assert_same_tree_names_each_difference() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_tree(a.path(), 1, 30, 100);
    write_special_entries(a.path());
    let files = write_tree(b.path(), 1, 30, 100);
    write_special_entries(b.path());
    assert_same_tree(a.path(), b.path());

    // One changed byte, one missing file, one extra file.
    let changed = files
        .iter()
        .find(|f| std::fs::metadata(f).unwrap().len() > 10)
        .unwrap();
    let mut bytes = std::fs::read(changed).unwrap();
    bytes[5] ^= 0xff;
    std::fs::write(changed, &bytes).unwrap();
    let removed = files.iter().find(|f| *f != changed).unwrap();
    std::fs::remove_file(removed).unwrap();
    std::fs::write(b.path().join("extra"), b"x").unwrap();

    let message = panic_message(|| assert_same_tree(a.path(), b.path()));
    let name = |p: &std::path::Path| p.strip_prefix(b.path()).unwrap().display().to_string();
    assert!(
        message.contains(&format!("{}: contents differ from byte 5", name(changed))),
        "{message}"
    );
    assert!(
        message.contains(&format!("{}: only in the first tree", name(removed))),
        "{message}"
    );
    assert!(
        message.contains("extra: only in the second tree"),
        "{message}"
    );
}

#[cfg(unix)]
#[test]
fn assert_same_tree_compares_modes_and_link_targets() {
    use std::os::unix::fs::PermissionsExt;
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_special_entries(a.path());
    write_special_entries(b.path());
    std::fs::set_permissions(
        b.path().join("run me.sh"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::remove_file(b.path().join("link to script")).unwrap();
    std::os::unix::fs::symlink("elsewhere", b.path().join("link to script")).unwrap();
    let message = panic_message(|| assert_same_tree(a.path(), b.path()));
    assert!(message.contains("run me.sh: mode 755 vs 644"), "{message}");
    assert!(
        message.contains("link to script: symlink to run me.sh vs elsewhere"),
        "{message}"
    );
}
