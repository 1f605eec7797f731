//! Whether the daemon is well, and why not.
//!
//! The scheduler loop beats a heartbeat every turn (it never sleeps more than a minute), and
//! reloads record how they went; a check adds what the database says. The same assessment
//! answers `/healthz` and decides whether the watchdog is pinged, so systemd restarts what
//! monitoring would call down.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::Store;

/// A loop that has not turned for this long is stalled (it turns at least once a minute).
pub const STALLED_AFTER: Duration = Duration::from_secs(180);
/// A message still waiting after this long means mail is not getting out.
pub const BACKLOG_AFTER: Duration = Duration::from_secs(3600);
/// More than this share of feeds failing is reported.
pub const FAILING_SHARE: f64 = 0.5;

/// When the scheduler loop last turned.
#[derive(Debug)]
pub struct Heartbeat(AtomicI64);

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat(AtomicI64::new(Utc::now().timestamp_millis()))
    }
}

impl Heartbeat {
    pub fn beat(&self) {
        self.0
            .store(Utc::now().timestamp_millis(), Ordering::Relaxed);
    }

    pub fn age(&self, now: DateTime<Utc>) -> Duration {
        let millis = now.timestamp_millis() - self.0.load(Ordering::Relaxed);
        Duration::from_millis(millis.max(0) as u64)
    }
}

/// How the last configuration reload went.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReloadState {
    pub succeeded: u64,
    pub failed: u64,
    pub last_success: Option<DateTime<Utc>>,
    /// The last failure, if it is more recent than the last success: the config in force is
    /// older than the files. Where and what kind of problem only: `/healthz` is read without
    /// credentials, so it never quotes the files.
    pub failing: Option<String>,
}

/// Shared by the loop, the reloader, the listener and the watchdog.
#[derive(Debug, Default)]
pub struct Health {
    pub heartbeat: Heartbeat,
    reload: Mutex<ReloadState>,
}

impl Health {
    pub fn reloaded(&self, outcome: Result<(), String>, now: DateTime<Utc>) {
        let mut state = self.reload.lock().unwrap_or_else(|p| p.into_inner());
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
}

/// The answer of `/healthz`.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// "ok" or "unhealthy".
    pub status: &'static str,
    pub reasons: Vec<String>,
    pub scheduler_heartbeat_seconds: u64,
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

/// Assesses everything; `store` is `None` when the database could not be reached in time;
/// `write_failure` is since when, and why, writes fail for want of storage (`Db::write_failure`):
/// reads can go on answering from a full disk, so only the writer knows.
pub fn assess(
    health: &Health,
    store: Option<&Store>,
    write_failure: Option<(DateTime<Utc>, String)>,
    now: DateTime<Utc>,
) -> Report {
    let mut reasons = Vec::new();
    if let Some((since, error)) = write_failure {
        // Not worded "database...": the watchdog stops on those, and a restart frees no disk.
        reasons.push(format!(
            "storage failing: writes refused since {} ({error}); polls and alerts are not \
             being recorded",
            since.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    let beat = health.heartbeat.age(now);
    if beat > STALLED_AFTER {
        reasons.push(format!(
            "scheduler stalled: the polling loop last turned {}s ago",
            beat.as_secs()
        ));
    }
    let reload = health.reload_state();
    if let Some(error) = &reload.failing {
        reasons.push(format!(
            "last reload failed, the previous configuration is still in force: {error}"
        ));
    }
    let (mut feeds, mut failing, mut pending, mut waiting) = (0, 0, 0, 0);
    let (mut polled, mut hits) = (0, 0);
    match store.map(|s| (s.ping(), s)) {
        None => reasons.push("database: busy, no answer within 2 s".into()),
        Some((Err(e), _)) => reasons.push(format!("database: {}", crate::error::error_chain(&e))),
        Some((Ok(()), store)) => {
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
    }
    Report {
        status: if reasons.is_empty() {
            "ok"
        } else {
            "unhealthy"
        },
        reasons,
        scheduler_heartbeat_seconds: beat.as_secs(),
        feeds,
        feeds_failing: failing,
        feeds_polled: polled,
        hits,
        alerts_pending: pending,
        messages_waiting: waiting,
        reload,
    }
}
