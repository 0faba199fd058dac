//! The metadata database under concurrency: two handles on one database
//! stand for two replicas of the service (on PostgreSQL: two pools, as two
//! processes have; in the embedded run: one SQLite file, whose handle is
//! shared, as it is in the one process that may open it).
//!
//! Read-modify-writes racing from both stay atomic, the account write lock
//! holds across both and never outlives a cancelled wait, and only one runs
//! a round of the background jobs.

use std::sync::Arc;
use std::time::Duration;

use coffer_server::db::{AccountRecord, NewSession, NewShare, OpenOutcome, RefreshOutcome};
use coffer_server::{jobs, AppState, Config, Db, ManualClock};

/// Monday 2025-01-06 12:00 UTC.
const NOW: i64 = 1_736_164_800_000;
const RACERS: usize = 8;

/// Two replicas' states on one database (jobs never run by themselves).
struct Replicas {
    a: AppState,
    b: AppState,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

fn replicas() -> Replicas {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config = |dir: &tempfile::TempDir| {
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
        config.clock = Arc::new(ManualClock::new(NOW));
        config.job_interval_secs = 0;
        config
    };
    let mut config_a = config(&dirs.0);
    coffer_server::testing::isolate_from_env(&mut config_a);
    let a = AppState::open(&config_a).unwrap();
    let b = match &config_a.database_url {
        Some(url) => {
            let mut config_b = config(&dirs.1);
            config_b.database_url = Some(url.clone());
            config_b.objects_url = config_a.objects_url.clone();
            AppState::open(&config_b).unwrap()
        }
        // One SQLite file is opened by one process: the second replica
        // shares its handle.
        None => a.clone(),
    };
    Replicas { a, b, _dirs: dirs }
}

async fn account(db: &Db, id: &str) {
    let created = db
        .create_account(AccountRecord {
            id: id.into(),
            first_name: "Ann".into(),
            last_name: "Example".into(),
            email: format!("{id}@example.com"),
            password_hash: "hash".into(),
            key_mode: "default".into(),
            quota_bytes: 1 << 30,
            created_at: NOW,
            ..AccountRecord::default()
        })
        .await
        .unwrap();
    assert!(created);
}

/// Runs `race(i, db)` `RACERS` times at once, alternating the replicas.
async fn race<T, F, Fut>(r: &Replicas, race: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize, Db) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let db = if i % 2 == 0 { &r.a.db } else { &r.b.db };
            tokio::spawn(race(i, db.clone()))
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_sees_what_the_other_wrote() {
    let r = replicas();
    account(&r.a.db, "acc-1").await;
    let seen = r.b.db.account_by_id("acc-1".into()).await.unwrap().unwrap();
    assert_eq!(seen.email, "acc-1@example.com");
    // The email is taken for both.
    let mut again = seen.clone();
    again.id = "acc-2".into();
    assert!(!r.b.db.create_account(again).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_download_goes_to_one_recipient() {
    let r = replicas();
    account(&r.a.db, "owner").await;
    r.a.db
        .create_share(NewShare {
            id: "share-1".into(),
            account_id: "owner".into(),
            created_at: NOW,
            expires_at: NOW + 86_400_000,
            password_hash: None,
            max_downloads: Some(3),
            parts: 1,
            recipients: vec!["bob@example.com".into()],
        })
        .await
        .unwrap();
    assert!(r
        .a
        .db
        .complete_share("owner".into(), "share-1".into(), NOW)
        .await
        .unwrap());
    let outcomes = race(&r, |i, db| async move {
        let ticket = [u8::try_from(i).unwrap(); 32];
        db.open_share("share-1".into(), ticket, NOW, NOW + 60_000)
            .await
            .unwrap()
    })
    .await;
    let opened = outcomes
        .iter()
        .filter(|o| **o == OpenOutcome::Opened)
        .count();
    assert_eq!(opened, 3, "{outcomes:?}");
    assert_eq!(
        outcomes.iter().filter(|o| **o == OpenOutcome::Gone).count(),
        RACERS - 3
    );
    let share = r.b.db.share("share-1".into()).await.unwrap().unwrap();
    assert_eq!(share.downloads, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_rotates_once_and_its_replay_ends_the_session() {
    let r = replicas();
    account(&r.a.db, "acc").await;
    r.a.db
        .create_session(NewSession {
            id: "session-1".into(),
            account_id: "acc".into(),
            access_sha256: [1; 32],
            refresh_sha256: [2; 32],
            access_expires_at: NOW + 3_600_000,
            device_id: "laptop".into(),
            device_name: "Laptop".into(),
            app_version: "test".into(),
            ip: None,
            started_at: NOW,
        })
        .await
        .unwrap();
    let outcomes = race(&r, |i, db| async move {
        let fresh = u8::try_from(10 + i).unwrap();
        db.refresh_session(
            [2; 32],
            [fresh; 32],
            [fresh + 100; 32],
            NOW + 7_200_000,
            NOW,
        )
        .await
        .unwrap()
    })
    .await;
    let rotated = outcomes
        .iter()
        .filter(|o| matches!(o, RefreshOutcome::Rotated { .. }))
        .count();
    assert_eq!(rotated, 1, "{outcomes:?}");
    // Every other presentation was a replay of a rotated-away token (or
    // came after the session ended for it).
    assert!(outcomes
        .iter()
        .any(|o| matches!(o, RefreshOutcome::Reused { .. })));
    let session = r.a.db.session("session-1".into()).await.unwrap().unwrap();
    assert_eq!(session.end_reason.as_deref(), Some("refresh_token_reused"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_code_and_a_totp_step_are_used_once() {
    let r = replicas();
    account(&r.a.db, "acc").await;
    r.a.db
        .set_totp_pending("acc".into(), Some(vec![7; 40]))
        .await
        .unwrap();
    r.a.db
        .enable_totp("acc".into(), NOW, 100, vec![[9; 32], [8; 32]])
        .await
        .unwrap();
    let used = race(&r, |_, db| async move {
        db.use_recovery_code("acc".into(), [9; 32], NOW)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(used.iter().filter(|u| **u).count(), 1, "{used:?}");
    assert_eq!(r.b.db.recovery_codes_left("acc".into()).await.unwrap(), 1);
    let claimed = race(&r, |_, db| async move {
        db.claim_totp_step("acc".into(), 101).await.unwrap()
    })
    .await;
    assert_eq!(claimed.iter().filter(|c| **c).count(), 1, "{claimed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailed_link_is_taken_once() {
    let r = replicas();
    account(&r.a.db, "acc").await;
    r.a.db
        .insert_email_token(
            [5; 32],
            "acc".into(),
            "verify",
            "acc@example.com".into(),
            NOW,
            NOW + 60_000,
        )
        .await
        .unwrap();
    let taken = race(&r, |_, db| async move {
        db.take_email_token([5; 32], "verify", NOW).await.unwrap()
    })
    .await;
    assert_eq!(taken.iter().filter(|t| t.is_some()).count(), 1, "{taken:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_write_lock_holds_across_replicas() {
    let r = replicas();
    let held = r.a.account_write_lock("acc").await.unwrap();
    // The other replica waits…
    let waiting = {
        let b = r.b.clone();
        tokio::spawn(async move { b.account_write_lock("acc").await.map(drop) })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the lock was taken twice");
    // …another account does not.
    let other = tokio::time::timeout(Duration::from_secs(5), r.b.account_write_lock("other"))
        .await
        .expect("another account's lock is free")
        .unwrap();
    drop(other);
    // …until the holder lets go.
    drop(held);
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the lock was released")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_wait_leaves_no_lock_behind() {
    let r = replicas();
    let held = r.a.account_write_lock("acc").await.unwrap();
    // A request waiting for the lock is cancelled (its client went away)…
    let cancelled =
        tokio::time::timeout(Duration::from_millis(300), r.b.account_write_lock("acc")).await;
    assert!(cancelled.is_err(), "the lock was taken twice");
    drop(held);
    // …and, once the holder lets go, neither replica is kept out by it.
    for state in [&r.a, &r.b, &r.a] {
        let again = tokio::time::timeout(Duration::from_secs(5), state.account_write_lock("acc"))
            .await
            .expect("a cancelled wait kept the lock")
            .unwrap();
        drop(again);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_at_a_time_runs_the_jobs() {
    let r = replicas();
    let lease = r.a.db.lead_jobs().await.unwrap();
    assert!(lease.is_some());
    let other = jobs::run_due(&r.b).await.unwrap();
    if r.a.db.is_postgres() {
        assert!(other.ran_elsewhere, "both replicas ran the jobs");
        assert!(r.b.db.lead_jobs().await.unwrap().is_none());
    } else {
        // One service on one SQLite file: nobody else to leave them to.
        assert!(!other.ran_elsewhere);
    }
    drop(lease);
    // The lease is free again: the next round runs, on either replica.
    let mut ran = false;
    for _ in 0..50 {
        if !jobs::run_due(&r.b).await.unwrap().ran_elsewhere {
            ran = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ran, "the jobs lease outlived its holder");
    assert!(!jobs::run_due(&r.a).await.unwrap().ran_elsewhere);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_migrate_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
    coffer_server::testing::isolate_from_env(&mut config);
    let Some(url) = config.database_url else {
        eprintln!("embedded run: one SQLite file has one service");
        return;
    };
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || Db::connect(Some(&url), std::path::Path::new("unused")))
        })
        .collect();
    let dbs: Vec<Db> = starts
        .into_iter()
        .map(|s| s.join().unwrap().unwrap())
        .collect();
    account(&dbs[0], "acc").await;
    for db in &dbs {
        assert_eq!(db.account_count().await.unwrap(), 1);
    }
}

#[tokio::test]
async fn a_refused_connection_never_shows_the_password() {
    let Some(url) = std::env::var("COFFER_TEST_DATABASE")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("embedded run: no PostgreSQL to refuse a connection");
        return;
    };
    let mut no_such_database = url::Url::parse(&url).unwrap();
    no_such_database
        .set_password(Some("not-the-Pa55word"))
        .unwrap();
    no_such_database.set_path("/no_such_database");
    let mut unreachable = no_such_database.clone();
    unreachable.set_port(Some(1)).unwrap();
    for url in [no_such_database, unreachable] {
        let error = Db::connect(Some(url.as_str()), std::path::Path::new("unused"))
            .err()
            .expect("the connection is refused");
        let shown = format!("{error:#} {error:?}");
        assert!(!shown.contains("not-the-Pa55word"), "{shown}");
    }
}
