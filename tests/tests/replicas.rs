//! Two replicas of the service sharing one PostgreSQL and one S3 store
//! (the scaled run: `COFFER_TEST_DATABASE` and `COFFER_TEST_OBJECTS`), a
//! load balancer in front as a deployment has: agents back up and restore
//! through either, and what one replica stored the other serves.
//!
//! In the embedded run (one SQLite file and folder per service) there are no
//! replicas to share anything, so these tests say so and return.

use std::fs;

use std::path::Path;

use coffer_client::{Agent, SignInRequest, SignUpRequest};
use coffer_server::testing;
use coffer_testkit::{dataset, Balancer, TestServer, TestServerOptions};

mod common;
use common::{agent, restore_request, sign_up_request};

const PASSWORD: &str = "correct horse battery staple";

/// Two services on one place (schema and prefix), jobs only when asked.
fn replicas() -> Option<(TestServer, TestServer)> {
    if !testing::scaled() {
        eprintln!("embedded run: no shared stores, so no replicas to test");
        return None;
    }
    let place = testing::new_place();
    let start = |escrow_key| {
        TestServer::start_with(TestServerOptions {
            place: Some(place.clone()),
            job_interval_secs: Some(0),
            escrow_key,
            ..TestServerOptions::default()
        })
    };
    let a = start(None);
    // Replicas of one service share its escrow key.
    let b = start(Some(a.data_dir.join("escrow.key")));
    Some((a, b))
}

/// Ada's account on a new device in `dir`, signed in through `url`.
fn device(dir: &Path, url: &str) -> Agent {
    let device = agent(dir);
    device
        .sign_in(&SignInRequest {
            email: "ada@example.com".into(),
            password: PASSWORD.into(),
            server_url: Some(url.to_owned()),
            totp_code: None,
        })
        .unwrap();
    device
}

#[test]
fn an_agent_works_through_either_replica_behind_a_balancer() {
    let Some((a, b)) = replicas() else { return };
    let balancer = Balancer::start(vec![a.addr, b.addr]);
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("Documents");
    fs::create_dir(&data).unwrap();
    dataset::write_tree(&data, 21, 60, 300_000);

    let laptop = agent(&home.path().join("laptop"));
    laptop
        .sign_up(&SignUpRequest {
            server_url: Some(balancer.url.clone()),
            ..sign_up_request(&a, "ada@example.com", PASSWORD)
        })
        .unwrap();
    laptop.add_folder(data.to_str().unwrap()).unwrap();
    let first = laptop.backup_now(&mut |_| {}).unwrap();
    assert!(first.skipped.is_empty(), "{:?}", first.skipped);

    // A second device signs in to replica B alone and restores what went
    // through the balancer (so through both).
    let desktop = device(&home.path().join("desktop"), &b.url);
    let target = home.path().join("restored-b");
    desktop.restore(&restore_request("latest", &target), &mut |_| {}).unwrap();
    dataset::assert_same_tree(&data, &target.join("Documents"));

    // And a third on replica A sees the same backups.
    let tablet = device(&home.path().join("tablet"), &a.url);
    let ids: Vec<String> = tablet.snapshots().unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![first.snapshot_id.clone()]);

    let served = balancer.served();
    assert!(served.iter().all(|&n| n > 0), "both replicas served the laptop: {served:?}");
}

#[test]
fn a_session_started_on_one_replica_is_ended_on_the_other() {
    let Some((a, b)) = replicas() else { return };
    let account = a.sign_up("revoke");
    // The token works on B too: sessions live in the shared database.
    let http = reqwest::blocking::Client::new();
    let me = |server: &TestServer| {
        http.get(server.url("/v1/account"))
            .bearer_auth(&account.token)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!((me(&a), me(&b)), (200, 200));
    let status = http
        .delete(b.url("/v1/sessions/current"))
        .bearer_auth(&account.token)
        .send()
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 204, "signed out on B");
    assert_eq!((me(&a), me(&b)), (401, 401), "ended everywhere at once");
}
