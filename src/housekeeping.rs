//! Nightly housekeeping for `watchfloor run`: retention pruning.
//!
//! Pruning runs at 03:30 local time, when feeds are quiet and nobody reads the hit log. The
//! store records when it last ran to the end, and the next run is due at the first 03:30 after
//! that: a restart the same night does not prune again, a night the machine was off is made
//! up once at the next start, and a run cut short by a stop is finished at the next start.
//! The work goes one batch (one transaction) at a time on the database's writer, so polls and
//! the dispatcher wait for one batch at most.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info};

use crate::ops::health::Heartbeat;
use crate::schedule::Schedule;
use crate::store::{Db, PRUNE_BATCH, PruneReport, StoreError};

/// When pruning runs: 03:30 local time, every night.
pub const NIGHTLY: &str = "30 3 * * *";
/// The longest the task sleeps before looking at the clock again, so that a machine that was
/// suspended notices the wall clock moved.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// How long to wait after a failed prune before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(3600);
/// The longest housekeeping goes without a heartbeat when it works: it sleeps a minute at
/// most between beats, and a prune batch is one write, which may wait behind the writer's
/// other work (the writer beats a heartbeat of its own, so a stuck writer is not charged to
/// housekeeping). Stalled after three of these.
pub const LONGEST_GAP: Duration = Duration::from_secs(300);

/// When the next prune is due, given the last completed one: the first nightly slot after it,
/// which is already past (so due now) when a night was missed; now if it never ran.
pub fn next_prune(
    last: Option<DateTime<Utc>>,
    nightly: &Schedule,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    match last {
        None => now,
        Some(last) => nightly
            .next_after(last)
            .unwrap_or(last + TimeDelta::days(1)),
    }
}

/// Runs retention pruning nightly until `shutdown` is cancelled; `items_days` is
/// `retention.items_days`. Errors are logged and retried an hour later: housekeeping never
/// stops the daemon. `heartbeat` beats at least every [`LONGEST_GAP`] while it works, so
/// liveness sees a housekeeping task that hangs.
pub async fn run_housekeeping(
    db: Db,
    items_days: u32,
    heartbeat: Arc<Heartbeat>,
    shutdown: CancellationToken,
) {
    let nightly = Schedule::parse(NIGHTLY).expect("the nightly schedule is valid");
    loop {
        heartbeat.beat();
        let last = db.read(|store| store.last_prune()).await;
        let due = match last {
            Ok(last) => next_prune(last, &nightly, Utc::now()),
            Err(e) => {
                error!("housekeeping: cannot read when pruning last ran: {e}");
                if !pause(RETRY_AFTER, &heartbeat, &shutdown).await {
                    return;
                }
                continue;
            }
        };
        debug!(due = %due.format("%Y-%m-%d %H:%M:%S UTC"), "housekeeping: next prune");
        loop {
            let left = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            if left.is_zero() {
                break;
            }
            // Cut to a minute here, not only inside the pause: the wall clock is read again
            // after each, so a machine that was suspended notices the time it lost.
            if !pause(left.min(MAX_SLEEP), &heartbeat, &shutdown).await {
                return;
            }
        }
        match prune_now(&db, items_days, &heartbeat, &shutdown).await {
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(e) => {
                error!(
                    "housekeeping: pruning failed, trying again in an hour: {}",
                    crate::error::error_chain(&e)
                );
                if !pause(RETRY_AFTER, &heartbeat, &shutdown).await {
                    return;
                }
            }
        }
    }
}

/// Prunes items first seen more than `items_days` ago, one batch at a time, and records the
/// run; logs what it removed. `None` when stopped before the end (the next start finishes).
pub async fn prune_now(
    db: &Db,
    items_days: u32,
    heartbeat: &Heartbeat,
    shutdown: &CancellationToken,
) -> Result<Option<PruneReport>, StoreError> {
    let now = Utc::now();
    let older_than = now - TimeDelta::days(items_days.into());
    let mut total = PruneReport::default();
    loop {
        if shutdown.is_cancelled() {
            info!("housekeeping: stopped mid-prune; the next start finishes it");
            return Ok(None);
        }
        let step = db
            .write(move |store| store.prune_step(older_than, now, PRUNE_BATCH))
            .await?;
        heartbeat.beat();
        total.add(&step);
        if step.is_empty() {
            break;
        }
        tokio::task::yield_now().await;
    }
    db.write(move |store| store.record_prune(now)).await?;
    info!(
        deleted = total.items_deleted,
        trimmed = total.items_trimmed,
        tombstones_expired = total.tombstones_expired,
        text_mb = format!("{:.1}", total.text_bytes as f64 / 1_048_576.0),
        batches = total.batches,
        "retention: items first seen before {} pruned ({} days): those without hits deleted, \
         those with hits kept with their title and link",
        older_than.format("%Y-%m-%d %H:%M UTC"),
        items_days
    );
    Ok(Some(total))
}

/// Sleeps for `duration`, a minute at most at a time with a heartbeat between, so that a
/// long wait is not taken for a hang; false if `shutdown` came first.
async fn pause(duration: Duration, heartbeat: &Heartbeat, shutdown: &CancellationToken) -> bool {
    let until = tokio::time::Instant::now() + duration;
    loop {
        heartbeat.beat();
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return true;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return false,
            _ = tokio::time::sleep(left.min(MAX_SLEEP)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Local, TimeZone};

    use super::*;

    fn local(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Local
            .with_ymd_and_hms(2026, 11, day, hour, minute, 0)
            .single()
            .expect("an unambiguous local time")
            .with_timezone(&Utc)
    }

    #[test]
    fn the_next_prune_is_the_first_night_after_the_last_one() {
        let nightly = Schedule::parse(NIGHTLY).expect("valid");
        let cases = [
            // (last run, now, due): never ran, so at once.
            (None, local(10, 14, 0), local(10, 14, 0)),
            // Ran tonight, restarted at 04:00: not again until tomorrow night.
            (Some(local(10, 3, 30)), local(10, 4, 0), local(11, 3, 30)),
            // Ran at start yesterday afternoon: tonight as usual.
            (Some(local(9, 15, 0)), local(10, 1, 0), local(10, 3, 30)),
            // Off for three nights: due at once (the past slot), and only once.
            (Some(local(6, 3, 30)), local(10, 9, 0), local(7, 3, 30)),
        ];
        for (last, now, want) in cases {
            assert_eq!(next_prune(last, &nightly, now), want, "last {last:?}");
        }
    }

    #[tokio::test]
    async fn the_task_prunes_at_start_when_it_never_ran_and_records_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("watchfloor.db");
        let db = tokio::task::spawn_blocking(move || Db::open(&path))
            .await
            .expect("joined")
            .expect("open");
        let shutdown = CancellationToken::new();
        let heartbeat = Arc::new(Heartbeat::new(LONGEST_GAP));
        heartbeat.set_back(Duration::from_secs(3600));
        let task = tokio::spawn(run_housekeeping(
            db.clone(),
            30,
            heartbeat.clone(),
            shutdown.clone(),
        ));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while db
            .read(|store| store.last_prune())
            .await
            .expect("state")
            .is_none()
        {
            assert!(std::time::Instant::now() < deadline, "never pruned");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            heartbeat.age() < Duration::from_secs(60),
            "housekeeping did not beat its heartbeat: {:?}",
            heartbeat.age()
        );
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("stops on shutdown")
            .expect("joined");
    }
}
