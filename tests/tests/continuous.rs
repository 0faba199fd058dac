//! Continuous backup: a file changed on disk is backed up without anyone
//! clicking, and pausing stops that until resumed.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer_client::{Agent, ScheduleMode, ScheduleSettings, Scheduler};
use coffer_testkit::TestServer;

mod common;

/// A signed-up agent, shared with the scheduler.
fn agent(server: &TestServer, dir: &Path) -> Arc<Agent> {
    let agent = common::agent(dir);
    common::sign_up(&agent, server, "watch@example.com", "correct horse battery staple");
    Arc::new(agent)
}

/// Waits for `count` snapshots; the deadline only bounds a failing test.
fn wait_for_snapshots(agent: &Agent, count: usize, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if agent.snapshots().map(|s| s.len() >= count).unwrap_or(false) && agent.current_progress().is_none() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

#[test]
fn a_change_on_disk_is_backed_up_without_clicking_and_pause_holds_it() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("Notes");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("todo.txt"), b"buy milk").unwrap();
    let agent = agent(&server, &home.path().join("agent"));
    agent.add_folder(data.to_str().unwrap()).unwrap();
    agent.set_schedule(&ScheduleSettings { mode: ScheduleMode::Continuous, ..Default::default() }).unwrap();

    let for_scheduler = Arc::clone(&agent);
    let _scheduler = Scheduler::start(Arc::clone(&agent), Box::new(move || for_scheduler.spawn_backup(|_| {}, |_| {})));

    assert!(wait_for_snapshots(&agent, 1, Duration::from_secs(30)), "starting to watch backs up what changed before");
    std::fs::write(data.join("todo.txt"), b"buy milk and bread").unwrap();
    assert!(wait_for_snapshots(&agent, 2, Duration::from_secs(30)), "the change was backed up by itself");
    assert!(agent.scheduler_status().unwrap().watch.active, "watching, not scanning");
    let latest = agent.snapshots().unwrap()[0].id.clone();
    let listing = agent.browse(&latest, Some(data.to_str().unwrap())).unwrap();
    assert_eq!(listing[0].size, "buy milk and bread".len() as u64);

    let paused = agent.pause(None).unwrap();
    assert!(paused.paused_indefinitely);
    std::fs::write(data.join("later.txt"), b"while paused").unwrap();
    assert!(!wait_for_snapshots(&agent, 3, Duration::from_secs(12)), "nothing runs while paused");

    assert!(!agent.resume().unwrap().paused_indefinitely);
    assert!(wait_for_snapshots(&agent, 3, Duration::from_secs(30)), "the change made while paused follows the resume");
}

#[test]
fn schedules_and_limits_are_checked_and_kept() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let agent = agent(&server, home.path());
    let daily = ScheduleSettings { mode: ScheduleMode::Daily, daily_at: Some("21:30".into()), upload_limit_kib: Some(512), ..Default::default() };
    let status = agent.set_schedule(&daily).unwrap();
    assert_eq!(status.settings.daily_at.as_deref(), Some("21:30"));
    let bad = ScheduleSettings { mode: ScheduleMode::Daily, daily_at: Some("9pm".into()), ..Default::default() };
    assert!(agent.set_schedule(&bad).is_err());
    assert_eq!(agent.schedule().unwrap().daily_at.as_deref(), Some("21:30"), "a refused change keeps the old settings");
    assert!(agent.pause(Some(0)).is_err());
    let status = agent.pause(Some(60)).unwrap();
    assert!(status.paused_until.is_some() && !status.paused_indefinitely);
}
