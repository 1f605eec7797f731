//! The daemon: polls every enabled feed on its schedule until told to stop.
//!
//! The loop keeps one due time per feed. A feed never polled, or overdue after a sleep or an
//! outage, is due now and runs once; its next due time then comes from its schedule, never
//! from the slots it missed. The loop never sleeps more than a minute at a time, so a machine
//! that was suspended notices the wall clock moved.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::config::Feed;
use crate::pipeline::{Context, PollReport, poll_feed};

/// The longest the loop sleeps before looking at the clock again.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// How long polls in flight get to finish after a stop is requested.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// Runs until `shutdown` is cancelled, then lets polls in flight finish (or abandons them
/// after [`SHUTDOWN_GRACE`]; each poll's database write is one transaction, so an abandoned
/// poll leaves nothing half-done).
pub async fn run(ctx: Arc<Context>, feeds: Vec<Feed>, shutdown: CancellationToken) {
    let feeds: Vec<Feed> = feeds.into_iter().filter(|f| f.enabled).collect();
    let now = Utc::now();
    let states = ctx
        .store
        .lock()
        .map(|store| store.feed_states().unwrap_or_default())
        .unwrap_or_default();
    let mut due: HashMap<String, DateTime<Utc>> = feeds
        .iter()
        .map(|feed| {
            let next = states
                .iter()
                .find(|s| s.id == feed.id)
                .and_then(|s| s.next_check)
                .unwrap_or(now);
            (feed.id.clone(), next)
        })
        .collect();
    let mut in_flight: JoinSet<PollReport> = JoinSet::new();
    let mut polling: HashSet<String> = HashSet::new();

    loop {
        let now = Utc::now();
        for feed in &feeds {
            if polling.contains(&feed.id) || due[&feed.id] > now {
                continue;
            }
            let state = ctx
                .store
                .lock()
                .ok()
                .and_then(|store| store.feed_state(&feed.id).ok().flatten());
            info!(feed = %feed.id, url = %feed.url, "polling");
            polling.insert(feed.id.clone());
            in_flight.spawn(poll_feed(ctx.clone(), feed.clone(), state));
        }
        let next_due = feeds
            .iter()
            .filter(|f| !polling.contains(&f.id))
            .map(|f| due[&f.id])
            .min();
        let sleep = next_due
            .and_then(|t| (t - now).to_std().ok())
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Ok(report) = joined {
                    polling.remove(&report.feed_id);
                    due.insert(report.feed_id.clone(), report.next_check);
                    log_report(&ctx, &report);
                }
            }
            _ = tokio::time::sleep(sleep) => {}
        }
    }

    if !in_flight.is_empty() {
        info!(polls = in_flight.len(), "stopping: letting polls in flight finish");
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while let Some(joined) = in_flight.join_next().await {
                if let Ok(report) = joined {
                    log_report(&ctx, &report);
                }
            }
        })
        .await;
        if drained.is_err() {
            warn!(polls = in_flight.len(), "abandoning polls still in flight");
            in_flight.abort_all();
        }
    }
    info!("stopped");
}

/// What a newcomer watching the terminal wants to see: new items, hits, failures.
pub fn log_report(ctx: &Context, report: &PollReport) {
    let next = report.next_check.format("%H:%M:%S");
    match &report.result {
        Ok(success) if success.not_modified => {
            debug!(feed = %report.feed_id, %next, "not modified");
        }
        Ok(success) => {
            let counts = &success.counts;
            if counts.new_items + counts.changed_items + counts.new_hits > 0 {
                info!(
                    feed = %report.feed_id,
                    items = success.items,
                    new = counts.new_items,
                    changed = counts.changed_items,
                    hits = counts.new_hits,
                    %next,
                    "polled"
                );
            } else {
                debug!(feed = %report.feed_id, items = success.items, %next, "nothing new");
            }
            for hit in &success.hits {
                let severity = ctx
                    .indicators
                    .get(&hit.indicator_id)
                    .map_or("?", |i| i.severity.as_str());
                info!(
                    indicator = %hit.indicator_id,
                    feed = %report.feed_id,
                    link = hit.link.as_deref().unwrap_or(""),
                    "HIT [{severity}] {}",
                    hit.title
                );
            }
        }
        Err(error) => warn!(feed = %report.feed_id, %next, "poll failed: {error}"),
    }
}
