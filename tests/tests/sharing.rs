//! Sharing from a backup, agent against a real service on loopback: the
//! agent re-encrypts a folder (or a file) as it was in a backup under a
//! fresh share key, the service mails the recipients a notice with the link
//! *without* its key, the agent hands the full link to the person (who sends
//! it on), and a recipient who follows it — here in Rust, in
//! `tests/share-page/` in a real browser — gets files identical to the
//! originals. The key is in nothing the service stores, outbox included
//! (its request log: `tests/share-page/`).

use coffer_client::share_format::{open_manifest, open_stream, ShareKey};
use coffer_client::{ErrorKind, KeyMode, ShareRequest, ShareState, SignUpRequest};
use coffer_testkit::TestServer;
use serde_json::Value;

mod common;
use common::{agent, noise};

const PASSWORD: &str = "correct horse battery staple";

/// The outbox mails (decoded enough to find links) sent to `to`.
fn mails_to(server: &TestServer, to: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(server.data_dir.join("outbox")) else { return Vec::new() };
    entries
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .map(|m| m.replace("=\r\n", "").replace("=\n", ""))
        .filter(|m| m.lines().any(|l| l.starts_with("To:") && l.contains(to)))
        .collect()
}

fn link_in(mail: &str) -> String {
    let start = mail.find("http://").expect("a link");
    mail[start..].split_whitespace().next().unwrap().to_owned()
}

/// A file a recipient saved: its path in the share and its bytes.
type Saved = (String, Vec<u8>);

/// What a recipient's page does, in Rust: read the state, open the share,
/// fetch and decrypt the manifest and every file.
fn download(link: &str, password: Option<&str>) -> Result<Vec<Saved>, (u16, Value)> {
    let (base, key) = link.split_once('#').unwrap();
    let (origin, id) = base.split_once("/s/").unwrap();
    let key = ShareKey::from_link_text(key).unwrap();
    let http = reqwest::blocking::Client::new();
    let answer = |r: reqwest::blocking::Response| -> Result<Value, (u16, Value)> {
        let status = r.status().as_u16();
        let body: Value = r.json().unwrap_or(Value::Null);
        if status == 200 { Ok(body) } else { Err((status, body)) }
    };
    answer(http.get(format!("{origin}/v1/s/{id}")).send().unwrap())?;
    let mut body = serde_json::json!({});
    if let Some(password) = password {
        body["password"] = password.into();
    }
    let opened = answer(http.post(format!("{origin}/v1/s/{id}/open")).json(&body).send().unwrap())?;
    let ticket = opened["ticket"].as_str().unwrap();
    let fetch = |path: &str| -> Vec<u8> {
        let r = http.get(format!("{origin}/v1/s/{id}/{path}")).header("Coffer-Share-Ticket", ticket).send().unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        r.bytes().unwrap().to_vec()
    };
    let manifest = open_manifest(&key, id, &fetch("manifest")).unwrap();
    let mut files = Vec::new();
    for (index, file) in manifest.files.iter().enumerate() {
        let sealed: Vec<u8> = (file.first_part..file.first_part + file.parts).flat_map(|p| fetch(&format!("parts/{p}"))).collect();
        let plain = open_stream(&key, id, index as u32, &sealed).unwrap();
        assert_eq!(plain.len() as u64, file.size);
        files.push((file.path.clone(), plain));
    }
    Ok(files)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_shared_folder_reaches_its_recipients_identical_and_the_service_never_keeps_the_key() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let docs = home.path().join("Docs");
    std::fs::create_dir_all(docs.join("sub")).unwrap();
    let text = "Meeting notes: bring the blue folder.\n".repeat(3);
    let big = noise(7, 3 * 1024 * 1024 + 12_345);
    std::fs::write(docs.join("notes.txt"), &text).unwrap();
    std::fs::write(docs.join("big.bin"), &big).unwrap();
    std::fs::write(docs.join("sub/empty.txt"), b"").unwrap();

    let agent = agent(&home.path().join("agent"));
    agent
        .sign_up(&SignUpRequest {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: "ada@example.com".into(),
            password: PASSWORD.into(),
            confirm_age: true,
            server_url: Some(server.url.clone()),
            key_mode: KeyMode::Private,
            private_key: Some("a long and private passphrase for sharing".into()),
        })
        .unwrap();
    agent.add_folder(docs.to_str().unwrap()).unwrap();
    agent.backup_now(&mut |_| {}).unwrap();
    let used_before = agent.quota().unwrap().used;
    // The share is of the backup, not of the disk: later changes do not leak in.
    std::fs::write(docs.join("notes.txt"), "changed after the backup").unwrap();

    let mut progress = Vec::new();
    let (share, link) = agent
        .share(
            &ShareRequest {
                path: docs.to_str().unwrap().into(),
                recipients: vec!["bob@example.com".into(), "Carol@Example.com".into()],
                expires_in_days: Some(3),
                max_downloads: Some(2),
                ..ShareRequest::default()
            },
            &mut |p| progress.push(p.clone()),
        )
        .unwrap();
    assert_eq!(share.state, ShareState::Active);
    assert_eq!(share.recipients, vec!["bob@example.com", "carol@example.com"]);
    assert_eq!(share.max_downloads, Some(2));
    let last = progress.last().unwrap();
    assert_eq!((last.files_done, last.files_total), (3, 3));
    assert_eq!(last.bytes_done, (text.len() + big.len()) as u64);
    let link = link.expose().to_owned();
    let key_text = link.split_once('#').unwrap().1.to_owned();
    assert!(link.starts_with(&format!("{}/s/{}#", server.url, share.id)), "{link}");
    assert_eq!(key_text.len(), 43);
    assert!(agent.quota().unwrap().used >= used_before + big.len() as u64, "the share counts against the quota");

    // Each recipient is told who shared and how to open it, with the link
    // without its key; the full link comes from Ada.
    let (without_key, _) = link.split_once('#').unwrap();
    for to in ["bob@example.com", "carol@example.com"] {
        let mails = mails_to(&server, to);
        assert_eq!(mails.len(), 1, "one mail to {to}");
        assert!(mails[0].contains("Ada Lovelace (ada@example.com) shared encrypted files with you"), "{}", mails[0]);
        assert!(mails[0].contains("use the full link Ada sends you directly"), "{}", mails[0]);
        assert_eq!(link_in(&mails[0]), without_key, "the link without its key");
        assert!(!mails[0].contains(&key_text));
    }

    let files = download(&link, None).unwrap();
    let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(names, ["Docs/big.bin", "Docs/notes.txt", "Docs/sub/empty.txt"]);
    assert_eq!(files[0].1, big);
    assert_eq!(files[1].1, text.as_bytes());
    assert!(files[2].1.is_empty());

    // The key is in nothing the service stores: database, objects, and the
    // outbox with the mails it delivered.
    let key = ShareKey::from_link_text(&key_text).unwrap();
    let raw_key = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&key_text).unwrap()
    };
    drop(key);
    let stored = server.everything_held();
    assert!(stored.iter().any(|(p, _)| p.contains("outbox")), "the outbox was searched");
    assert!(stored.iter().any(|(p, _)| p.contains("/shares/")), "the share's parts were searched");
    for (path, bytes) in stored {
        assert!(!contains(&bytes, key_text.as_bytes()), "the key is in {path}");
        assert!(!contains(&bytes, &raw_key), "the raw key is in {path}");
        assert!(!contains(&bytes, b"bring the blue folder"), "plaintext in {path}");
    }

    // Two downloads allowed: the second works, the third is refused.
    download(&link, None).unwrap();
    let (status, body) = download(&link, None).unwrap_err();
    assert_eq!((status, body["error"]["reason"].as_str()), (410, Some("exhausted")));
    let listed = agent.shares().unwrap();
    assert_eq!(listed[0].state, ShareState::Exhausted);
    assert_eq!(listed[0].downloads, 2);

    // Revoking: the link fails at once and the recipients are forgotten.
    let after = agent.revoke_share(&share.id).unwrap();
    assert_eq!(after[0].state, ShareState::Revoked);
    assert!(after[0].recipients.is_empty() && after[0].removed);
    let (status, body) = download(&link, None).unwrap_err();
    assert_eq!((status, body["error"]["reason"].as_str()), (410, Some("revoked")));
    assert_eq!(agent.quota().unwrap().used, used_before, "the shared copy no longer counts");
}

#[test]
fn a_file_shared_without_recipients_keeps_its_key_from_the_service_entirely() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let docs = home.path().join("Papers");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("letter.txt"), "Dear Bob,\nthe key is under the mat.\n").unwrap();
    let agent = agent(&home.path().join("agent"));
    agent
        .sign_up(&SignUpRequest {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: "ada2@example.com".into(),
            password: PASSWORD.into(),
            confirm_age: true,
            server_url: Some(server.url.clone()),
            key_mode: KeyMode::Default,
            private_key: None,
        })
        .unwrap();
    agent.add_folder(docs.to_str().unwrap()).unwrap();
    agent.backup_now(&mut |_| {}).unwrap();
    let snapshot = agent.snapshots().unwrap()[0].id.clone();

    // Bad requests: refused before anything is made.
    for (request, kind) in [
        (ShareRequest { path: "letter.txt".into(), ..ShareRequest::default() }, ErrorKind::InvalidInput),
        (ShareRequest { path: docs.join("missing.txt").to_str().unwrap().into(), ..ShareRequest::default() }, ErrorKind::NotFound),
        (ShareRequest { path: "/not/backed/up".into(), ..ShareRequest::default() }, ErrorKind::NotFound),
        (
            ShareRequest { path: docs.to_str().unwrap().into(), recipients: vec!["bob".into()], ..ShareRequest::default() },
            ErrorKind::InvalidInput,
        ),
    ] {
        assert_eq!(agent.share(&request, &mut |_| {}).unwrap_err().kind, kind, "{request:?}");
    }
    assert!(agent.shares().unwrap().is_empty());

    let password = "a password for bob";
    let (share, link) = agent
        .share(
            &ShareRequest {
                path: docs.join("letter.txt").to_str().unwrap().into(),
                snapshot_id: Some(snapshot[..8].to_owned()),
                password: Some(password.into()),
                ..ShareRequest::default()
            },
            &mut |_| {},
        )
        .unwrap();
    assert!(share.recipients.is_empty() && share.password);
    let link = link.expose().to_owned();
    assert_eq!(download(&link, Some("not the password")).unwrap_err().0, 403);
    let files = download(&link, Some(password)).unwrap();
    assert_eq!(files, vec![("letter.txt".to_owned(), b"Dear Bob,\nthe key is under the mat.\n".to_vec())]);
    // No mail was sent, and the key is nowhere on the service — outbox included.
    assert!(mails_to(&server, "@").iter().all(|m| !m.contains("/s/")), "no share mail");
    let key_text = link.split_once('#').unwrap().1;
    for (path, bytes) in server.everything_held() {
        assert!(!contains(&bytes, key_text.as_bytes()), "the key is in {path}");
    }
}
