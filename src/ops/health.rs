//! Whether the daemon is alive, ready and well, and why not: three questions with three
//! different consumers.
//!
//! - **Alive** ([`liveness`]): the process and its loops are turning. Each long-running loop
//!   (the scheduler, the database writer, the dispatcher, housekeeping, the feed health
//!   watcher) beats a [`Heartbeat`] at least once per its longest normal gap; one that has
//!   not beaten for [`STALE_FACTOR`] gaps is stalled.
//!   Only this decides the systemd watchdog and `/livez`: a restart cures a hung loop and
//!   nothing else. A full disk, a failed reload or the network being down are not cured by a
//!   restart, so they never make the daemon "dead".
//! - **Ready** ([`readiness`]): the daemon can do its work: the configuration is in force, the
//!   listener accepts, the database answers reads and takes writes. `/readyz`.
//! - **Well** ([`assess`]): everything an operator should know, for `/healthz` and the status
//!   line: the above, plus a failed reload, failing feeds and an outbox backlog.
//!
//! Heartbeats read the monotonic clock: a machine that was suspended or whose wall clock was
//! stepped does not see its loops as stalled.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::Store;

/// A loop is stalled once it has gone this many of its longest normal gaps without a beat:
/// one gap late is a slow disk or server; three is a loop that is not coming back.
pub const STALE_FACTOR: u32 = 3;
/// A message still waiting after this long means mail is not getting out.
pub const BACKLOG_AFTER: Duration = Duration::from_secs(3600);
/// More than this share of feeds failing is reported.
pub const FAILING_SHARE: f64 = 0.5;

/// Milliseconds on the monotonic clock since the first heartbeat of the process.
fn monotonic_millis() -> i64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    i64::try_from(BASE.get_or_init(Instant::now).elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// When a loop last turned, and the longest it may normally go without turning.
#[derive(Debug)]
pub struct Heartbeat {
    last: AtomicI64,
    longest_gap: Duration,
}

impl Heartbeat {
    /// A heartbeat that has just beaten; `longest_gap` is the longest the loop goes between
    /// beats when it works normally (its longest sleep, or its longest single step).
    pub fn new(longest_gap: Duration) -> Heartbeat {
        Heartbeat {
            last: AtomicI64::new(monotonic_millis()),
            longest_gap,
        }
    }

    pub fn beat(&self) {
        self.last.store(monotonic_millis(), Ordering::Relaxed);
    }

    /// Since the last beat.
    pub fn age(&self) -> Duration {
        let last = self.last.load(Ordering::Relaxed);
        Duration::from_millis(u64::try_from(monotonic_millis() - last).unwrap_or(0))
    }

    /// How long without a beat makes the loop stalled.
    pub fn stale_after(&self) -> Duration {
        self.longest_gap * STALE_FACTOR
    }

    /// Moves the last beat `ago` into the past, for tests that would otherwise sleep (before
    /// the clock's base is fine).
    #[cfg(test)]
    pub(crate) fn set_back(&self, ago: Duration) {
        let back = i64::try_from(ago.as_millis()).expect("a short time");
        self.last
            .store(monotonic_millis() - back, Ordering::Relaxed);
    }
}

/// How the last configuration reload went.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReloadState {
    pub succeeded: u64,
    pub failed: u64,
    pub last_success: Option<DateTime<Utc>>,
    /// When a reload was last tried, whatever its outcome.
    pub last_attempt: Option<DateTime<Utc>>,
    /// The last failure, if it is more recent than the last success: the config in force is
    /// older than the files. Where and what kind of problem only: `/healthz` is read without
    /// credentials, so it never quotes the files.
    pub failing: Option<String>,
}

/// The listener's state, for readiness.
const LISTENER_NONE: u8 = 0;
const LISTENER_BOUND: u8 = 1;
const LISTENER_SERVING: u8 = 2;

/// Shared by the loops, the reloader, the listener and the watchdog.
#[derive(Debug)]
pub struct Health {
    /// The polling loop's: it turns at least once per [`crate::daemon::MAX_SLEEP`].
    pub heartbeat: Arc<Heartbeat>,
    /// The loops liveness watches, by name: those running.
    watched: Mutex<Vec<(&'static str, Arc<Heartbeat>)>>,
    reload: Mutex<ReloadState>,
    /// When the configuration in force at start was loaded: the first successful load.
    loaded_at: DateTime<Utc>,
    /// Set once the configuration is in force and every task runs.
    started: AtomicBool,
    listener: AtomicU8,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            heartbeat: Arc::new(Heartbeat::new(crate::daemon::MAX_SLEEP)),
            watched: Mutex::default(),
            reload: Mutex::default(),
            loaded_at: Utc::now(),
            started: AtomicBool::new(false),
            listener: AtomicU8::new(LISTENER_NONE),
        }
    }
}

impl Health {
    /// Watches a loop from now on (its first gap starts now, however long ago it was made):
    /// liveness fails once it stops beating.
    pub fn watch(&self, name: &'static str, heartbeat: Arc<Heartbeat>) {
        heartbeat.beat();
        let mut watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        watched.retain(|(n, _)| *n != name);
        watched.push((name, heartbeat));
    }

    /// The configuration is in force and every task runs.
    pub fn started(&self) {
        self.started.store(true, Ordering::Release);
    }

    /// A listener is bound (`serving` false) or accepts connections (`serving` true).
    pub fn listener(&self, serving: bool) {
        let state = if serving {
            LISTENER_SERVING
        } else {
            LISTENER_BOUND
        };
        self.listener.store(state, Ordering::Release);
    }

    pub fn loaded_at(&self) -> DateTime<Utc> {
        self.loaded_at
    }

    pub fn reloaded(&self, outcome: Result<(), String>, now: DateTime<Utc>) {
        let mut state = self.reload.lock().unwrap_or_else(|p| p.into_inner());
        state.last_attempt = Some(now);
        match outcome {
            Ok(()) => {
                state.succeeded += 1;
                state.last_success = Some(now);
                state.failing = None;
            }
            Err(error) => {
                state.failed += 1;
                // The caller says nothing of the files; should a URL slip in, not its password.
                state.failing = Some(crate::config::redact_url_passwords(&error));
            }
        }
    }

    pub fn reload_state(&self) -> ReloadState {
        self.reload
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn watched(&self) -> Vec<(&'static str, Arc<Heartbeat>)> {
        self.watched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// One watched loop, as `/livez`, `/healthz` and `/metrics` show it.
#[derive(Clone, Debug, Serialize)]
pub struct LoopBeat {
    pub name: &'static str,
    pub seconds_since_beat: f64,
    pub stalled_after_seconds: u64,
    pub stalled: bool,
}

/// Whether the process's loops are turning.
#[derive(Clone, Debug, Serialize)]
pub struct Liveness {
    pub loops: Vec<LoopBeat>,
    /// One line per stalled loop.
    pub reasons: Vec<String>,
}

impl Liveness {
    pub fn is_live(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// Reads the heartbeats only: no database, no lock held across anything slow, so it answers
/// at once whatever else is stuck.
pub fn liveness(health: &Health) -> Liveness {
    let mut loops = Vec::new();
    let mut reasons = Vec::new();
    for (name, heartbeat) in health.watched() {
        let age = heartbeat.age();
        let limit = heartbeat.stale_after();
        let stalled = age > limit;
        if stalled {
            reasons.push(format!(
                "{name} stalled: it last turned {}s ago (stalled after {}s)",
                age.as_secs(),
                limit.as_secs()
            ));
        }
        loops.push(LoopBeat {
            name,
            seconds_since_beat: age.as_secs_f64(),
            stalled_after_seconds: limit.as_secs(),
            stalled,
        });
    }
    Liveness { loops, reasons }
}

/// What the database said when asked, for readiness and health.
#[derive(Clone, Debug)]
pub enum DatabaseAnswer {
    /// A read answered.
    Answered,
    /// A read failed, with the error chain.
    Failed(String),
    /// No read connection answered within the wait.
    Busy,
}

/// Whether the daemon can do its work.
#[derive(Clone, Debug, Serialize)]
pub struct Readiness {
    /// One line per reason it cannot.
    pub reasons: Vec<String>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// The storage failure as a reason, worded the same everywhere.
fn storage_reason((since, error): &(DateTime<Utc>, String)) -> String {
    format!(
        "storage failing: writes refused since {} ({error}); polls and alerts are not being \
         recorded",
        since.format("%Y-%m-%d %H:%M:%S UTC")
    )
}

/// `write_failure` is since when, and why, writes fail for want of storage
/// (`Db::write_failure`): reads can go on answering from a full disk, so only the writer
/// knows.
pub fn readiness(
    health: &Health,
    database: &DatabaseAnswer,
    write_failure: Option<&(DateTime<Utc>, String)>,
) -> Readiness {
    let mut reasons = Vec::new();
    if !health.started.load(Ordering::Acquire) {
        reasons.push("starting: the configuration is not in force yet".to_owned());
    }
    if health.listener.load(Ordering::Acquire) == LISTENER_BOUND {
        reasons.push("listener: bound but not accepting connections yet".to_owned());
    }
    match database {
        DatabaseAnswer::Answered => {}
        DatabaseAnswer::Failed(error) => reasons.push(format!("database: {error}")),
        DatabaseAnswer::Busy => reasons.push("database: busy, no answer within 2 s".to_owned()),
    }
    if let Some(failure) = write_failure {
        reasons.push(storage_reason(failure));
    }
    Readiness { reasons }
}

/// The answer of `/healthz`.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// "ok" or "unhealthy".
    pub status: &'static str,
    pub reasons: Vec<String>,
    /// `/livez`'s verdict: every watched loop turning.
    pub live: bool,
    /// `/readyz`'s verdict.
    pub ready: bool,
    pub scheduler_heartbeat_seconds: u64,
    pub loops: Vec<LoopBeat>,
    pub feeds: usize,
    pub feeds_failing: usize,
    /// Feeds polled successfully at least once.
    pub feeds_polled: usize,
    pub hits: u64,
    pub alerts_pending: u64,
    pub messages_waiting: u64,
    pub reload: ReloadState,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// Assesses everything; `store` is `None` when the database could not be reached in time.
pub fn assess(
    health: &Health,
    store: Option<&Store>,
    write_failure: Option<(DateTime<Utc>, String)>,
    now: DateTime<Utc>,
) -> Report {
    let database = match store.map(Store::ping) {
        None => DatabaseAnswer::Busy,
        Some(Err(e)) => DatabaseAnswer::Failed(crate::error::error_chain(&e)),
        Some(Ok(())) => DatabaseAnswer::Answered,
    };
    let alive = liveness(health);
    let ready = readiness(health, &database, write_failure.as_ref());
    // Readiness first (storage, database), then stalled loops: the order operators read.
    let mut reasons = ready.reasons.clone();
    reasons.extend(alive.reasons.iter().cloned());
    let reload = health.reload_state();
    if let Some(error) = &reload.failing {
        reasons.push(format!(
            "last reload failed, the previous configuration is still in force: {error}"
        ));
    }
    let (mut feeds, mut failing, mut pending, mut waiting) = (0, 0, 0, 0);
    let (mut polled, mut hits) = (0, 0);
    if let (Some(store), DatabaseAnswer::Answered) = (store, &database) {
        if let Ok(states) = store.feed_polling() {
            let active: Vec<_> = states.iter().filter(|s| s.active).collect();
            feeds = active.len();
            failing = active.iter().filter(|s| s.consecutive_failures > 0).count();
            polled = active.iter().filter(|s| s.last_success.is_some()).count();
            if feeds > 0 && failing as f64 > feeds as f64 * FAILING_SHARE {
                reasons.push(format!("{failing} of {feeds} feeds are failing"));
            }
        }
        if let Ok(total) = store.hit_count() {
            hits = total;
        }
        if let Ok(counts) = store.outbox_counts() {
            pending = counts.pending;
            waiting = counts.messages_pending;
        }
        let backlog_since = now - chrono::Duration::from_std(BACKLOG_AFTER).unwrap_or_default();
        if let Ok(Some(oldest)) = store.oldest_waiting_message()
            && oldest < backlog_since
        {
            reasons.push(format!(
                "outbox backlog: {waiting} messages waiting, the oldest since {}",
                oldest.format("%Y-%m-%d %H:%M:%S UTC")
            ));
        }
    }
    Report {
        status: if reasons.is_empty() {
            "ok"
        } else {
            "unhealthy"
        },
        reasons,
        live: alive.is_live(),
        ready: ready.is_ready(),
        scheduler_heartbeat_seconds: health.heartbeat.age().as_secs(),
        loops: alive.loops,
        feeds,
        feeds_failing: failing,
        feeds_polled: polled,
        hits,
        alerts_pending: pending,
        messages_waiting: waiting,
        reload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started() -> Health {
        let health = Health::default();
        health.started();
        health
    }

    #[test]
    fn a_loop_is_stalled_only_past_three_of_its_longest_gaps() {
        let health = started();
        let (writer, dispatcher) = (
            Arc::new(Heartbeat::new(Duration::from_millis(200))),
            Arc::new(Heartbeat::new(Duration::from_millis(200))),
        );
        dispatcher.set_back(Duration::from_secs(3600));
        // Watching starts its first gap now, however long ago it last beat.
        health.watch("writer", writer.clone());
        health.watch("dispatcher", dispatcher.clone());
        assert!(liveness(&health).is_live());
        dispatcher.set_back(Duration::from_millis(500));
        let alive = liveness(&health);
        assert!(alive.is_live(), "{:?}", alive.reasons);
        assert_eq!(alive.loops.len(), 2);

        dispatcher.set_back(Duration::from_millis(700));
        let alive = liveness(&health);
        assert!(!alive.is_live());
        assert_eq!(alive.reasons.len(), 1);
        assert!(
            alive.reasons[0].starts_with("dispatcher stalled: it last turned 0s ago"),
            "{:?}",
            alive.reasons
        );
        assert!(
            alive
                .loops
                .iter()
                .any(|l| l.name == "dispatcher" && l.stalled)
        );
        // It turns again: alive.
        dispatcher.beat();
        assert!(liveness(&health).is_live());
        health.watch("writer", writer);
        assert_eq!(
            liveness(&health).loops.len(),
            2,
            "watching again replaces, not adds"
        );
    }

    #[test]
    fn a_failed_reload_a_full_disk_and_failing_feeds_are_not_liveness_failures() {
        let health = started();
        health.watch("scheduler", health.heartbeat.clone());
        health.reloaded(
            Err("indicators.yaml:3:5: bad query (see the log)".into()),
            Utc::now(),
        );
        let failure = (Utc::now(), "database or disk is full".to_owned());
        let report = assess(&health, None, Some(failure), Utc::now());
        assert!(report.live, "{report:?}");
        assert!(!report.ready);
        assert!(!report.is_ok());
        assert!(
            report
                .reasons
                .iter()
                .any(|r| r.starts_with("storage failing")),
            "{:?}",
            report.reasons
        );
        assert!(
            report
                .reasons
                .iter()
                .any(|r| r.starts_with("last reload failed")),
            "{:?}",
            report.reasons
        );
        assert!(liveness(&health).is_live());
    }

    #[test]
    fn not_ready_before_the_configuration_is_in_force_or_the_listener_accepts() {
        let health = Health::default();
        health.listener(false);
        let ready = readiness(&health, &DatabaseAnswer::Answered, None);
        assert_eq!(ready.reasons.len(), 2, "{:?}", ready.reasons);
        assert!(ready.reasons[0].starts_with("starting"));
        assert!(ready.reasons[1].starts_with("listener"));
        health.started();
        health.listener(true);
        assert!(readiness(&health, &DatabaseAnswer::Answered, None).is_ready());
        let busy = readiness(&health, &DatabaseAnswer::Busy, None);
        assert_eq!(busy.reasons, ["database: busy, no answer within 2 s"]);
    }

    #[test]
    fn a_daemon_without_a_listener_is_ready_once_started() {
        let health = started();
        assert!(readiness(&health, &DatabaseAnswer::Answered, None).is_ready());
    }

    #[test]
    fn reloads_record_their_attempts_and_clear_the_failure_on_success() {
        let health = Health::default();
        let first = Utc::now();
        health.reloaded(
            Err("watchfloor.yaml: bad value (see the log)".into()),
            first,
        );
        let state = health.reload_state();
        assert_eq!((state.succeeded, state.failed), (0, 1));
        assert_eq!(state.last_attempt, Some(first));
        assert!(state.last_success.is_none() && state.failing.is_some());
        let second = first + chrono::Duration::seconds(5);
        health.reloaded(Ok(()), second);
        let state = health.reload_state();
        assert_eq!((state.succeeded, state.failed), (1, 1));
        assert_eq!(state.last_success, Some(second));
        assert!(state.failing.is_none());
    }
}
