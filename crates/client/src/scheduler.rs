//! Continuous and scheduled backup. One thread watches the chosen folders
//! (notify), debounces changes, follows the schedule and the pause state, and
//! asks the shell to start a backup when one is due. When the platform's
//! watch limit is hit (or Coffer's own cap, `COFFER_MAX_WATCHES`) it falls
//! back to periodic scans and says so.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, sync_channel, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Local, NaiveTime, TimeZone};
use notify::{RecursiveMode, Watcher};

use crate::agent::Agent;
use crate::error::{Error, ErrorKind, Result};
use crate::types::{ScheduleMode, ScheduleSettings, SchedulerStatus, WatchStatus};

/// A change is backed up once the folders have been quiet this long…
const QUIET: Duration = Duration::from_secs(2);
/// …or at the latest this long after the first change, even if changes go on.
const MAX_DELAY: Duration = Duration::from_secs(8);
/// With no working watcher, the folders are scanned this often.
const FALLBACK_SCAN: Duration = Duration::from_secs(5 * 60);
/// Even while watching, a full scan runs this often (watchers can miss events).
const SAFETY_SCAN: Duration = Duration::from_secs(60 * 60);
/// Watch events and control messages waiting for the scheduler at most.
const INBOX_CAPACITY: usize = 1024;
/// A due backup that could not start (one was running) is retried after this.
const RETRY: Duration = Duration::from_secs(5);
/// Environment variable: the most folders Coffer may watch (each is one
/// inotify watch on Linux, shared with every other program of the user).
const MAX_WATCHES_VAR: &str = "COFFER_MAX_WATCHES";

/// What a watcher calls with each event or error.
pub(crate) type WatchHandler = Box<dyn FnMut(notify::Result<notify::Event>) + Send>;
/// Creates the folder watcher. A seam: tests make it fail like a full inotify.
pub(crate) type MakeWatcher = Box<dyn Fn(WatchHandler) -> notify::Result<Box<dyn Watcher>> + Send>;

/// How the scheduler watches and scans; [`LoopOptions::from_env`] in the app.
pub(crate) struct LoopOptions {
    pub make_watcher: MakeWatcher,
    /// Fall back to scans rather than watch more folders than this.
    pub max_watches: Option<usize>,
    pub fallback_scan: Duration,
    pub changed: Option<StatusChanged>,
}

impl LoopOptions {
    /// The platform's watcher, `COFFER_MAX_WATCHES` when set, a scan every 5 minutes.
    fn from_env() -> LoopOptions {
        let max_watches = std::env::var(MAX_WATCHES_VAR).ok().and_then(|v| v.trim().parse().ok());
        LoopOptions {
            make_watcher: Box::new(|handler| Ok(Box::new(notify::recommended_watcher(handler)?) as Box<dyn Watcher>)),
            max_watches,
            fallback_scan: FALLBACK_SCAN,
            changed: None,
        }
    }
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        ScheduleSettings {
            mode: ScheduleMode::Continuous,
            daily_at: None,
            every_minutes: None,
            upload_limit_kib: None,
            download_limit_kib: None,
        }
    }
}

/// Checks schedule settings a person typed.
///
/// # Errors
/// `InvalidInput` naming the field.
pub fn validate(settings: &ScheduleSettings) -> Result<()> {
    let invalid = |message: &str| Err(Error::new(ErrorKind::InvalidInput, message));
    match settings.mode {
        ScheduleMode::Daily => match settings.daily_at.as_deref().map(parse_time) {
            Some(Some(_)) => {}
            _ => return invalid("daily_at: give the time of day as HH:MM, e.g. 21:30"),
        },
        ScheduleMode::Custom => match settings.every_minutes {
            Some(5..=10_080) => {}
            _ => return invalid("every_minutes: choose between 5 minutes and 7 days (10080 minutes)"),
        },
        _ => {}
    }
    for (name, limit) in [("upload_limit_kib", settings.upload_limit_kib), ("download_limit_kib", settings.download_limit_kib)] {
        if limit == Some(0) {
            return Err(Error::new(ErrorKind::InvalidInput, format!("{name}: a limit must be at least 1 KiB/s (or none)")));
        }
    }
    Ok(())
}

fn parse_time(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M").ok()
}

/// When the next timed backup is due, given the last one (None: never).
/// Continuous and manual modes have no timed backup (`None`).
pub fn next_due<Tz: TimeZone>(settings: &ScheduleSettings, last: Option<DateTime<Tz>>, now: DateTime<Tz>) -> Option<DateTime<Tz>> {
    let every = |d: chrono::Duration| Some(last.clone().map(|l| l + d).unwrap_or_else(|| now.clone()));
    match settings.mode {
        ScheduleMode::Continuous | ScheduleMode::Manual => None,
        ScheduleMode::Hourly => every(chrono::Duration::hours(1)),
        ScheduleMode::Custom => every(chrono::Duration::minutes(i64::from(settings.every_minutes.unwrap_or(60)))),
        ScheduleMode::Daily => {
            let at = settings.daily_at.as_deref().and_then(parse_time)?;
            // Today's slot, unless a backup already ran after it; then tomorrow's.
            let slot_on = |date: chrono::NaiveDate| now.timezone().from_local_datetime(&date.and_time(at)).earliest();
            let today = slot_on(now.date_naive())?;
            match last {
                Some(last) if last >= today => slot_on(now.date_naive().succ_opt()?),
                _ => Some(today),
            }
        }
    }
}

/// Messages to the scheduler thread.
pub(crate) enum Control {
    /// Settings, folders or pause state changed: re-read them.
    Reload,
    /// A backup just finished (whoever started it).
    BackupFinished,
    Stop,
}

/// Starts a backup; returns `Busy` when one is already running.
pub type StartBackup = Box<dyn Fn() -> Result<()> + Send + Sync>;

/// Told when the scheduler's own status changes (watching, or scanning and
/// why), which no command of the person's caused, so the shell can show it.
pub type StatusChanged = Box<dyn Fn() + Send>;

/// The running scheduler; stops when dropped.
pub struct Scheduler {
    control: Sender<Control>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        let _ = self.control.send(Control::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the scheduler shares with the agent for status queries.
#[derive(Default)]
pub(crate) struct SchedulerShared {
    pub watch: Mutex<Option<WatchStatus>>,
    pub next_backup_at: Mutex<Option<i64>>,
    pub control: Mutex<Option<Sender<Control>>>,
}

impl SchedulerShared {
    pub fn poke(&self, message: Control) {
        if let Some(control) = self.control.lock().expect("scheduler control").as_ref() {
            let _ = control.send(message);
        }
    }
}

impl Scheduler {
    /// Starts watching and scheduling for `agent`; `start_backup` is called
    /// whenever a backup is due.
    pub fn start(agent: Arc<Agent>, start_backup: StartBackup) -> Scheduler {
        Scheduler::start_with(agent, start_backup, LoopOptions::from_env())
    }

    /// As [`Scheduler::start`], and calls `changed` whenever watching starts
    /// or falls back to scans (see [`Agent::scheduler_status`]).
    pub fn start_reporting(agent: Arc<Agent>, start_backup: StartBackup, changed: StatusChanged) -> Scheduler {
        Scheduler::start_with(agent, start_backup, LoopOptions { changed: Some(changed), ..LoopOptions::from_env() })
    }

    pub(crate) fn start_with(agent: Arc<Agent>, start_backup: StartBackup, options: LoopOptions) -> Scheduler {
        let (tx, rx) = channel();
        *agent.scheduler_shared().control.lock().expect("scheduler control") = Some(tx.clone());
        let thread = std::thread::Builder::new()
            .name("coffer-scheduler".into())
            .spawn(move || Loop::new(agent, start_backup, options).run(rx))
            .expect("the scheduler thread starts");
        Scheduler { control: tx, thread: Some(thread) }
    }
}

/// Watch events arrive on the same channel as control messages.
enum Inbox {
    Control(Control),
    Changed(Vec<PathBuf>),
    WatchFailed(String),
}

impl From<Control> for Inbox {
    fn from(c: Control) -> Self {
        Inbox::Control(c)
    }
}

struct Loop {
    agent: Arc<Agent>,
    start_backup: StartBackup,
    options: LoopOptions,
    inbox: Option<SyncSender<Inbox>>,
    watcher: Option<Box<dyn Watcher>>,
    first_change: Option<Instant>,
    last_change: Option<Instant>,
    last_scan: Instant,
    retry_at: Option<Instant>,
}

impl Loop {
    fn new(agent: Arc<Agent>, start_backup: StartBackup, options: LoopOptions) -> Loop {
        Loop {
            agent,
            start_backup,
            options,
            inbox: None,
            watcher: None,
            first_change: None,
            last_change: None,
            last_scan: Instant::now(),
            retry_at: None,
        }
    }

    fn run(mut self, control: Receiver<Control>) {
        // Control messages and watch events are merged into one inbox.
        // Bounded: a flood of file events cannot grow memory. When the queue
        // is full a change is already waiting to be backed up, so dropping
        // more change events loses nothing.
        let (inbox_tx, inbox) = sync_channel::<Inbox>(INBOX_CAPACITY);
        self.inbox = Some(inbox_tx.clone());
        std::thread::Builder::new()
            .name("coffer-scheduler-control".into())
            .spawn(move || {
                while let Ok(message) = control.recv() {
                    let stop = matches!(message, Control::Stop);
                    if inbox_tx.send(message.into()).is_err() || stop {
                        break;
                    }
                }
            })
            .expect("the control thread starts");
        self.rewatch();
        loop {
            let timeout = self.tick();
            match inbox.recv_timeout(timeout) {
                Ok(Inbox::Control(Control::Stop)) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Inbox::Control(Control::Reload)) => self.rewatch(),
                Ok(Inbox::Control(Control::BackupFinished)) => self.last_scan = Instant::now(),
                Ok(Inbox::Changed(paths)) => self.changed(&paths),
                Ok(Inbox::WatchFailed(reason)) => self.fall_back(reason),
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    fn settings(&self) -> ScheduleSettings {
        self.agent.schedule().unwrap_or_default()
    }

    /// (Re)creates the watcher over the chosen folders in continuous mode.
    fn rewatch(&mut self) {
        self.watcher = None;
        let settings = self.settings();
        if settings.mode != ScheduleMode::Continuous {
            self.set_watch(WatchStatus { active: false, fallback_reason: None });
            return;
        }
        let folders = self.agent.folders().unwrap_or_default();
        let inbox = self.inbox.clone().expect("inbox set before watching");
        let ignored = self.agent.config_dir().to_owned();
        let handler: WatchHandler = Box::new(move |event: notify::Result<notify::Event>| {
            let message = match event {
                Ok(event) => {
                    let paths: Vec<PathBuf> = event.paths.into_iter().filter(|p| !p.starts_with(&ignored)).collect();
                    if paths.is_empty() || event.kind.is_access() {
                        return;
                    }
                    Inbox::Changed(paths)
                }
                Err(err) => Inbox::WatchFailed(watch_error(&err)),
            };
            let _ = inbox.try_send(message);
        });
        if let Some(cap) = self.options.max_watches {
            // One watch per folder: with more folders than the cap, watching
            // would fail part-way (or starve other programs) — scan instead.
            let needed = count_folders(folders.iter().map(|f| Path::new(&f.path)), cap.saturating_add(1));
            if needed > cap {
                return self.fall_back(format!("There are more folders than Coffer may watch ({MAX_WATCHES_VAR}={cap})."));
            }
        }
        let mut watcher = match (self.options.make_watcher)(handler) {
            Ok(w) => w,
            Err(err) => return self.fall_back(watch_error(&err)),
        };
        for folder in &folders {
            if let Err(err) = watcher.watch(Path::new(&folder.path), RecursiveMode::Recursive) {
                return self.fall_back(watch_error(&err));
            }
        }
        self.watcher = Some(watcher);
        self.set_watch(WatchStatus { active: true, fallback_reason: None });
        // Changes made before the watch began (while Coffer was not running,
        // or in a folder just added) are caught by one backup now.
        self.changed(&[]);
    }

    fn fall_back(&mut self, reason: String) {
        let every = self.options.fallback_scan.as_secs();
        tracing::warn!("folder watching stopped, scanning every {every} s instead: {reason}");
        self.watcher = None;
        self.set_watch(WatchStatus { active: false, fallback_reason: Some(reason) });
        // Changes since the last backup (before Coffer started, or events the
        // failed watcher lost) are caught by one backup now, not in 5 minutes.
        self.changed(&[]);
    }

    fn set_watch(&mut self, status: WatchStatus) {
        let before = self.agent.scheduler_shared().watch.lock().expect("watch status").clone();
        let differs = before.is_none_or(|b| b.active != status.active || b.fallback_reason != status.fallback_reason);
        self.agent.set_watch_status(status);
        if differs {
            if let Some(changed) = &self.options.changed {
                changed();
            }
        }
    }

    fn changed(&mut self, _paths: &[PathBuf]) {
        let now = Instant::now();
        self.first_change.get_or_insert(now);
        self.last_change = Some(now);
    }

    /// Starts a backup if one is due; returns how long to sleep at most.
    fn tick(&mut self) -> Duration {
        let now = Instant::now();
        let settings = self.settings();
        let paused = self.agent.is_paused();
        let timed = next_due(&settings, self.agent.last_backup_time().map(local), Local::now());
        self.agent.set_next_backup_at(if paused { None } else { timed.as_ref().map(|t| t.timestamp_millis()) });
        if paused || self.agent.folders().map(|f| f.is_empty()).unwrap_or(true) {
            return Duration::from_secs(1);
        }
        let change_due = match (self.first_change, self.last_change) {
            (Some(first), Some(last)) => now.duration_since(last) >= QUIET || now.duration_since(first) >= MAX_DELAY,
            _ => false,
        };
        let scan_every = match (settings.mode, self.watcher.is_some()) {
            (ScheduleMode::Continuous, true) => Some(SAFETY_SCAN),
            (ScheduleMode::Continuous, false) => Some(self.options.fallback_scan),
            _ => None,
        };
        let scan_due = scan_every.is_some_and(|every| now.duration_since(self.last_scan) >= every);
        let timed_due = timed.is_some_and(|t| t <= Local::now());
        let retry_due = self.retry_at.is_some_and(|t| t <= now);
        if change_due || scan_due || timed_due || retry_due {
            match (self.start_backup)() {
                Ok(()) => {
                    self.first_change = None;
                    self.last_change = None;
                    self.last_scan = now;
                    self.retry_at = None;
                }
                Err(err) if err.kind == ErrorKind::Busy => self.retry_at = Some(now + RETRY),
                Err(err) => {
                    tracing::warn!("a scheduled backup could not start: {}", err.message);
                    self.first_change = None;
                    self.last_change = None;
                    self.retry_at = Some(now + Duration::from_secs(60));
                }
            }
        }
        Duration::from_millis(500)
    }
}

fn local(ms: i64) -> DateTime<Local> {
    Local.timestamp_millis_opt(ms).single().unwrap_or_else(Local::now)
}

/// Folders (directories) under `roots`, counting up to `stop` at most.
fn count_folders<'a>(roots: impl Iterator<Item = &'a Path>, stop: usize) -> usize {
    let mut count = 0;
    for root in roots {
        let dirs = walkdir::WalkDir::new(root).into_iter().filter_map(|e| e.ok()).filter(|e| e.file_type().is_dir());
        for _ in dirs {
            count += 1;
            if count >= stop {
                return count;
            }
        }
    }
    count
}

/// Why watching failed, as a sentence for the Schedule screen. notify reports
/// inotify's ENOSPC (no watch left for this user) as `MaxFilesWatch`.
fn watch_error(err: &notify::Error) -> String {
    match &err.kind {
        notify::ErrorKind::MaxFilesWatch => {
            "There are more folders than this computer lets Coffer watch (on Linux, raise fs.inotify.max_user_watches).".to_owned()
        }
        // inotify_init: no inotify instance left for this user.
        #[cfg(target_os = "linux")]
        notify::ErrorKind::Io(io) if io.raw_os_error() == Some(24) => {
            "This computer's limit on folder watchers is reached (on Linux, raise fs.inotify.max_user_instances).".to_owned()
        }
        notify::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => {
            "There are more folders than this computer lets Coffer watch (on Linux, raise fs.inotify.max_user_watches).".to_owned()
        }
        notify::ErrorKind::PathNotFound => "A chosen folder no longer exists.".to_owned(),
        _ => format!("Watching for changes failed: {err}."),
    }
}

/// The agent-facing part: settings, pause state and status.
impl Agent {
    /// The schedule and network settings.
    pub fn schedule(&self) -> Result<ScheduleSettings> {
        Ok(self.load_setting(crate::agent::keys::SCHEDULE)?.unwrap_or_default())
    }

    /// Changes the schedule and bandwidth limits; limits apply to running transfers at once.
    ///
    /// # Errors
    /// `InvalidInput` naming the field; nothing changes then.
    pub fn set_schedule(&self, settings: &ScheduleSettings) -> Result<SchedulerStatus> {
        validate(settings)?;
        self.store_setting(crate::agent::keys::SCHEDULE, settings)?;
        self.apply_limits(settings);
        self.scheduler_shared().poke(Control::Reload);
        self.scheduler_status()
    }

    /// Pauses scheduled and continuous backups for `minutes`, or until resumed (None).
    ///
    /// # Errors
    /// `InvalidInput` for a zero or over-a-month pause.
    pub fn pause(&self, minutes: Option<u32>) -> Result<SchedulerStatus> {
        let until = match minutes {
            Some(m @ 1..=44_640) => crate::agent::now_ms() + i64::from(m) * 60_000,
            Some(_) => return Err(Error::new(ErrorKind::InvalidInput, "pause for between 1 minute and 31 days, or until resumed")),
            None => i64::MAX,
        };
        self.catalog().set_setting(crate::agent::keys::PAUSED_UNTIL, &until.to_string())?;
        self.scheduler_shared().poke(Control::Reload);
        self.scheduler_status()
    }

    /// Resumes scheduled and continuous backups.
    pub fn resume(&self) -> Result<SchedulerStatus> {
        self.catalog().set_setting(crate::agent::keys::PAUSED_UNTIL, "0")?;
        self.scheduler_shared().poke(Control::Reload);
        self.scheduler_status()
    }

    fn paused_until(&self) -> Option<i64> {
        let until: i64 = self.catalog().setting(crate::agent::keys::PAUSED_UNTIL).ok()??.parse().ok()?;
        (until > crate::agent::now_ms()).then_some(until)
    }

    /// Whether backups are paused now.
    pub fn is_paused(&self) -> bool {
        self.paused_until().is_some()
    }

    pub fn scheduler_status(&self) -> Result<SchedulerStatus> {
        let paused_until = self.paused_until();
        let shared = self.scheduler_shared();
        Ok(SchedulerStatus {
            settings: self.schedule()?,
            watch: shared.watch.lock().expect("watch status").clone().unwrap_or(WatchStatus { active: false, fallback_reason: None }),
            paused_indefinitely: paused_until == Some(i64::MAX),
            paused_until: paused_until.filter(|&u| u != i64::MAX),
            next_backup_at: *shared.next_backup_at.lock().expect("next backup"),
        })
    }

    pub(crate) fn set_watch_status(&self, status: WatchStatus) {
        *self.scheduler_shared().watch.lock().expect("watch status") = Some(status);
    }

    pub(crate) fn set_next_backup_at(&self, at: Option<i64>) {
        *self.scheduler_shared().next_backup_at.lock().expect("next backup") = at;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn settings(mode: ScheduleMode) -> ScheduleSettings {
        ScheduleSettings { mode, ..Default::default() }
    }

    #[test]
    fn timed_modes_follow_the_last_backup() {
        let now = at("2026-11-23T10:30:00Z");
        assert_eq!(next_due(&settings(ScheduleMode::Continuous), None, now), None);
        assert_eq!(next_due(&settings(ScheduleMode::Manual), Some(now), now), None);
        assert_eq!(next_due(&settings(ScheduleMode::Hourly), None, now), Some(now), "never backed up: due now");
        assert_eq!(next_due(&settings(ScheduleMode::Hourly), Some(at("2026-11-23T10:00:00Z")), now), Some(at("2026-11-23T11:00:00Z")));
        let custom = ScheduleSettings { every_minutes: Some(15), ..settings(ScheduleMode::Custom) };
        assert_eq!(next_due(&custom, Some(at("2026-11-23T10:20:00Z")), now), Some(at("2026-11-23T10:35:00Z")));
    }

    #[test]
    fn daily_runs_once_a_day_at_its_time() {
        let daily = ScheduleSettings { daily_at: Some("21:30".into()), ..settings(ScheduleMode::Daily) };
        let morning = at("2026-11-23T08:00:00Z");
        assert_eq!(next_due(&daily, Some(at("2026-11-22T21:31:00Z")), morning), Some(at("2026-11-23T21:30:00Z")));
        let night = at("2026-11-23T22:00:00Z");
        assert_eq!(next_due(&daily, Some(at("2026-11-22T21:31:00Z")), night), Some(at("2026-11-23T21:30:00Z")), "missed today's slot: due now");
        assert_eq!(next_due(&daily, Some(at("2026-11-23T21:30:05Z")), night), Some(at("2026-11-24T21:30:00Z")));
    }

    /// A watcher that fails the way a full inotify does (notify turns
    /// inotify_add_watch's ENOSPC into `MaxFilesWatch`).
    struct ExhaustedWatcher;

    impl Watcher for ExhaustedWatcher {
        fn new<F: notify::EventHandler>(_: F, _: notify::Config) -> notify::Result<Self> {
            Ok(ExhaustedWatcher)
        }
        fn watch(&mut self, path: &Path, _: RecursiveMode) -> notify::Result<()> {
            Err(notify::Error::new(notify::ErrorKind::MaxFilesWatch).add_path(path.to_owned()))
        }
        fn unwatch(&mut self, _: &Path) -> notify::Result<()> {
            Ok(())
        }
        fn kind() -> notify::WatcherKind {
            notify::WatcherKind::NullWatcher
        }
    }

    fn signed_up_agent(server: &coffer_testkit::TestServer, dir: &Path) -> Arc<Agent> {
        let mut options = crate::AgentOptions::new(dir);
        options.use_keychain = false;
        let agent = Agent::open(&options).unwrap();
        agent
            .sign_up(&crate::SignUpRequest {
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                email: "limit@example.com".into(),
                password: "correct horse battery staple".into(),
                confirm_age: true,
                server_url: Some(server.url.clone()),
                key_mode: crate::KeyMode::Default,
                private_key: None,
            })
            .unwrap();
        Arc::new(agent)
    }

    fn backup_starter(agent: &Arc<Agent>) -> StartBackup {
        let agent = Arc::clone(agent);
        Box::new(move || agent.spawn_backup(|_| {}, |_| {}))
    }

    /// Polls `condition`; the deadline only bounds a failing test.
    fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if condition() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    fn versions_of(agent: &Agent, file: &Path) -> Vec<u64> {
        agent.file_versions(file.to_str().unwrap()).map(|v| v.iter().map(|v| v.size).collect()).unwrap_or_default()
    }

    #[test]
    fn a_full_watch_limit_falls_back_to_scans_that_still_back_up_a_change() {
        let server = coffer_testkit::TestServer::start();
        let home = tempfile::tempdir().unwrap();
        let data = home.path().join("Notes");
        std::fs::create_dir(&data).unwrap();
        let file = data.join("todo.txt");
        std::fs::write(&file, b"buy milk").unwrap();
        let agent = signed_up_agent(&server, &home.path().join("agent"));
        agent.add_folder(data.to_str().unwrap()).unwrap();

        let told = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&told);
        let options = LoopOptions {
            make_watcher: Box::new(|_| Ok(Box::new(ExhaustedWatcher) as Box<dyn Watcher>)),
            max_watches: None,
            fallback_scan: Duration::from_secs(1),
            changed: Some(Box::new(move || {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            })),
        };
        let _scheduler = Scheduler::start_with(Arc::clone(&agent), backup_starter(&agent), options);

        assert!(
            eventually(Duration::from_secs(10), || agent.scheduler_status().unwrap().watch.fallback_reason.is_some()),
            "the status reports the fallback"
        );
        let watch = agent.scheduler_status().unwrap().watch;
        assert!(!watch.active, "not watching");
        assert_eq!(told.load(std::sync::atomic::Ordering::SeqCst), 1, "the shell is told once, so the window can say so");
        assert_eq!(
            watch.fallback_reason.as_deref(),
            Some("There are more folders than this computer lets Coffer watch (on Linux, raise fs.inotify.max_user_watches).")
        );
        assert!(eventually(Duration::from_secs(30), || versions_of(&agent, &file) == [8]), "falling back backs up at once");

        // No watcher runs: only the periodic scan can notice this change.
        std::fs::write(&file, b"buy milk and bread").unwrap();
        assert!(
            eventually(Duration::from_secs(30), || versions_of(&agent, &file).contains(&18)),
            "a periodic scan backed up the changed file (versions: {:?})",
            versions_of(&agent, &file)
        );
        assert!(agent.scheduler_status().unwrap().watch.fallback_reason.is_some(), "still scanning, and still saying so");
    }

    #[test]
    fn more_folders_than_the_watch_cap_means_scanning_and_fewer_means_watching() {
        let server = coffer_testkit::TestServer::start();
        let home = tempfile::tempdir().unwrap();
        let data = home.path().join("Projects");
        for i in 0..12 {
            std::fs::create_dir_all(data.join(format!("p{i}/src"))).unwrap();
        }
        std::fs::write(data.join("p0/src/main.rs"), b"fn main() {}").unwrap();
        let agent = signed_up_agent(&server, &home.path().join("agent"));
        agent.add_folder(data.to_str().unwrap()).unwrap();

        // 25 folders (Projects, 12 projects, 12 src), 10 allowed: the real
        // watcher is never asked for more.
        let capped = LoopOptions { max_watches: Some(10), ..LoopOptions::from_env() };
        let scheduler = Scheduler::start_with(Arc::clone(&agent), backup_starter(&agent), capped);
        assert!(eventually(Duration::from_secs(10), || agent.scheduler_status().unwrap().watch.fallback_reason.is_some()));
        assert_eq!(
            agent.scheduler_status().unwrap().watch.fallback_reason.as_deref(),
            Some("There are more folders than Coffer may watch (COFFER_MAX_WATCHES=10).")
        );
        drop(scheduler);

        let roomy = LoopOptions { max_watches: Some(25), ..LoopOptions::from_env() };
        let _scheduler = Scheduler::start_with(Arc::clone(&agent), backup_starter(&agent), roomy);
        assert!(
            eventually(Duration::from_secs(10), || {
                let watch = agent.scheduler_status().unwrap().watch;
                watch.active && watch.fallback_reason.is_none()
            }),
            "exactly as many folders as allowed: watching"
        );
    }

    #[test]
    fn watch_errors_say_what_to_do() {
        let limit = watch_error(&notify::Error::new(notify::ErrorKind::MaxFilesWatch));
        assert!(limit.contains("fs.inotify.max_user_watches"), "{limit}");
        let enospc = watch_error(&notify::Error::io(std::io::Error::from_raw_os_error(28)));
        assert_eq!(enospc, limit, "a raw ENOSPC is the same limit");
        #[cfg(target_os = "linux")]
        assert!(watch_error(&notify::Error::io(std::io::Error::from_raw_os_error(24))).contains("max_user_instances"));
        assert_eq!(watch_error(&notify::Error::path_not_found()), "A chosen folder no longer exists.");
    }

    #[test]
    fn settings_are_checked() {
        let bad_time = ScheduleSettings { daily_at: Some("25:99".into()), ..settings(ScheduleMode::Daily) };
        assert!(validate(&bad_time).unwrap_err().message.starts_with("daily_at"));
        let too_often = ScheduleSettings { every_minutes: Some(1), ..settings(ScheduleMode::Custom) };
        assert!(validate(&too_often).unwrap_err().message.starts_with("every_minutes"));
        let zero = ScheduleSettings { upload_limit_kib: Some(0), ..settings(ScheduleMode::Manual) };
        assert!(validate(&zero).unwrap_err().message.starts_with("upload_limit_kib"));
        assert!(validate(&settings(ScheduleMode::Continuous)).is_ok());
    }
}
