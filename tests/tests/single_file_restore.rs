//! Restoring one small file from a large backup downloads only what that file
//! needs (ranges of packs, the snapshot's trees and the index), not the
//! repository. Bytes are counted by the service (`coffer_http_sent_bytes_total`).
//! How long it takes is measured by `bench/single-file-restore.sh`, not here.

use std::io::{Read, Write};

use coffer_client::RestoreRequest;
use coffer_testkit::TestServer;

mod common;
use common::{agent, files_under, noise, restore_request, sign_in, sign_up};

const PASSWORD: &str = "correct horse battery staple";
const EMAIL: &str = "restore-one@example.com";

/// Bytes of response bodies the service has sent so far.
fn sent_bytes(server: &TestServer) -> u64 {
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", server.addr).unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("coffer_http_sent_bytes_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .expect("the service reports coffer_http_sent_bytes_total") as u64
}

#[test]
fn one_small_file_downloads_a_small_part_of_the_repository() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("Archive");
    // ~40 MiB in five 8 MiB packs, plus 300 small text files.
    for i in 0..40u64 {
        let file = data.join(format!("media/m{:02}/clip{i:02}.bin", i % 8));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, noise(i + 1, 1 << 20)).unwrap();
    }
    for i in 0..300 {
        let file = data.join(format!("notes/n{:02}/note{i:03}.txt", i % 20));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, format!("note {i}: {}\n", "remember the milk ".repeat(i % 50 + 1))).unwrap();
    }
    let wanted = data.join("notes/n07/note127.txt");

    let first = agent(&home.path().join("agent-a"));
    sign_up(&first, &server, EMAIL, PASSWORD);
    first.add_folder(data.to_str().unwrap()).unwrap();
    first.backup_now(&mut |_| {}).unwrap();
    let repository: u64 = server.stored_objects("").iter().map(|(_, bytes)| bytes.len() as u64).sum();
    assert!(repository > 40 << 20, "the repository holds the data ({repository} bytes)");
    let snapshot = first.snapshots().unwrap()[0].id.clone();

    // The device that made the backup, and a new device with nothing cached.
    let second = sign_in(&home.path().join("agent-b"), &server, EMAIL, PASSWORD);
    for (name, agent) in [("backup device", &first), ("new device", &second)] {
        let target = home.path().join(format!("restored-{}", name.replace(' ', "-")));
        let before = sent_bytes(&server);
        let summary = agent
            .restore(
                &RestoreRequest { paths: vec![wanted.to_str().unwrap().to_owned()], ..restore_request(&snapshot, &target) },
                &mut |_| {},
            )
            .unwrap();
        let downloaded = sent_bytes(&server) - before;
        assert_eq!(summary.files, 1, "{name}: exactly the one file");
        let restored = files_under(&target);
        assert_eq!(restored.len(), 1, "{name}: one file written ({restored:?})");
        assert_eq!(restored[0].file_name(), wanted.file_name());
        assert_eq!(std::fs::read(&restored[0]).unwrap(), std::fs::read(&wanted).unwrap(), "{name}: the same bytes");
        // 2 % of 40 MiB is 800 KiB: far more than the index, trees and one
        // blob need, far less than one 8 MiB pack.
        assert!(
            downloaded * 50 < repository,
            "{name}: restoring one {}-byte file downloaded {downloaded} of the repository's {repository} bytes",
            std::fs::metadata(&wanted).unwrap().len()
        );
        eprintln!("{name}: {downloaded} of {repository} bytes downloaded");
    }
}
