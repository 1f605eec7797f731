//! The daemon: polls every enabled feed on its schedule until told to stop.
//!
//! The loop keeps one due time per feed. A feed never polled, or overdue after a sleep or an
//! outage, is due now and runs once; its next due time then comes from its schedule, never
//! from the slots it missed. The loop never sleeps more than a minute at a time, so a machine
//! that was suspended notices the wall clock moved.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::config::Feed;
use crate::ops::health::Heartbeat;
use crate::pipeline::{Context, PollReport, poll_feed};
use crate::text::safe::terminal_text;

mod cycle;
pub use cycle::Said;

/// The longest the loop sleeps before looking at the clock again: the longest gap between
/// its heartbeats, from which liveness derives when it is stalled.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);
/// How long polls in flight get to finish after a stop is requested.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// Where the loop reads the time. The wall clock in production; in tests, a clock that follows
/// tokio's (pausable) time from a fixed start.
#[derive(Clone, Copy, Debug)]
pub enum Clock {
    Wall,
    Tokio {
        start: DateTime<Utc>,
        at: tokio::time::Instant,
    },
}

impl Clock {
    pub fn tokio_from(start: DateTime<Utc>) -> Clock {
        Clock::Tokio {
            start,
            at: tokio::time::Instant::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::Wall => Utc::now(),
            Clock::Tokio { start, at } => {
                *start + chrono::Duration::from_std(at.elapsed()).unwrap_or_default()
            }
        }
    }
}

/// The configuration in force: the poll context (rules, fetch settings, the database),
/// swapped whole by a reload. A poll keeps the context it started with.
pub struct Live {
    ctx: RwLock<Arc<Context>>,
}

impl Live {
    pub fn new(ctx: Arc<Context>) -> Live {
        Live {
            ctx: RwLock::new(ctx),
        }
    }

    pub fn current(&self) -> Arc<Context> {
        self.ctx.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn replace(&self, ctx: Arc<Context>) {
        *self.ctx.write().unwrap_or_else(|p| p.into_inner()) = ctx;
    }
}

/// Runs until `shutdown` is cancelled, then lets polls in flight finish (or abandons them
/// after [`SHUTDOWN_GRACE`]; each poll's database write is one transaction, so an abandoned
/// poll leaves nothing half-done). `feeds` carries the feed list, replaced by a reload.
pub async fn run(
    live: Arc<Live>,
    feeds: watch::Receiver<Vec<Feed>>,
    heartbeat: &Heartbeat,
    shutdown: CancellationToken,
) {
    let ctx = live.current();
    let states = ctx
        .db
        .read(|store| store.feed_polling())
        .await
        .unwrap_or_default();
    let stored: HashMap<String, DateTime<Utc>> = states
        .into_iter()
        .filter_map(|s| Some((s.id, s.next_check?)))
        .collect();
    let poll_live = live.clone();
    let poll = move |feed: Feed| {
        let ctx = poll_live.current();
        async move {
            // From the start of the task: waiting for a fetch slot is part of what a poll
            // costs, and what an operator watching durations wants to see grow.
            let started = std::time::Instant::now();
            let report = poll_stored(ctx, feed).await;
            crate::ops::metrics::record_poll_duration(&report, started.elapsed());
            report
        }
    };
    let log_live = live.clone();
    run_loop(
        feeds,
        &stored,
        Clock::Wall,
        poll,
        move |report, said| {
            crate::ops::metrics::record_poll(report);
            log_report(&log_live.current(), report, said)
        },
        heartbeat,
        shutdown,
    )
    .await;
}

/// Polls `feed` from its stored state (validators, failures), read when the poll starts.
pub async fn poll_stored(ctx: Arc<Context>, feed: Feed) -> PollReport {
    let id = feed.id.clone();
    let state = ctx
        .db
        .read(move |store| store.feed_state(&id))
        .await
        .ok()
        .flatten();
    poll_feed(ctx, feed, state).await
}

/// The scheduling loop, apart from what a poll does: `feeds` carries the feed list (a new
/// list replaces it between turns); `stored` holds the next checks recorded by earlier runs;
/// `poll` polls one feed; `done` sees each report, with whether its failure was already said
/// this cycle ([`cycle`]); `heartbeat` beats every turn. Each cycle ends with a summary line.
pub async fn run_loop<P, F>(
    mut feeds_in: watch::Receiver<Vec<Feed>>,
    stored: &HashMap<String, DateTime<Utc>>,
    clock: Clock,
    poll: P,
    done: impl Fn(&PollReport, Said),
    heartbeat: &Heartbeat,
    shutdown: CancellationToken,
) where
    P: Fn(Feed) -> F,
    F: Future<Output = PollReport> + Send + 'static,
{
    let enabled =
        |list: &[Feed]| -> Vec<Feed> { list.iter().filter(|f| f.enabled).cloned().collect() };
    let mut feeds: Vec<Feed> = enabled(&feeds_in.borrow_and_update());
    let start = clock.now();
    let mut due: HashMap<String, DateTime<Utc>> = feeds
        .iter()
        .map(|feed| {
            let next = stored.get(&feed.id).copied().unwrap_or(start);
            (feed.id.clone(), next)
        })
        .collect();
    let mut in_flight: JoinSet<PollReport> = JoinSet::new();
    let mut polling: HashSet<String> = HashSet::new();
    let mut list_open = true;
    let mut cycle = cycle::Cycle::default();

    loop {
        heartbeat.beat();
        let now = clock.now();
        for feed in &feeds {
            if polling.contains(&feed.id) || due[&feed.id] > now {
                continue;
            }
            info!(feed = %feed.id, url = %feed.url, "polling");
            cycle.started();
            polling.insert(feed.id.clone());
            in_flight.spawn(poll(feed.clone()));
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
                    if due.contains_key(&report.feed_id) {
                        due.insert(report.feed_id.clone(), report.next_check);
                    }
                    let said = cycle.record(&report);
                    done(&report, said);
                }
                if in_flight.is_empty() {
                    log_cycle(&mut cycle);
                }
            }
            changed = feeds_in.changed(), if list_open => {
                if changed.is_err() {
                    list_open = false;
                    continue;
                }
                // Feeds kept keep their due time; new ones are due now; removed ones are
                // dropped (a poll of theirs in flight still finishes and is recorded).
                feeds = enabled(&feeds_in.borrow_and_update());
                let now = clock.now();
                due = feeds
                    .iter()
                    .map(|feed| {
                        let next = due.get(&feed.id).copied().unwrap_or(now);
                        (feed.id.clone(), next)
                    })
                    .collect();
                info!(feeds = feeds.len(), "feed list replaced");
            }
            _ = tokio::time::sleep(sleep) => {}
        }
    }

    if !in_flight.is_empty() {
        info!(
            polls = in_flight.len(),
            "stopping: letting polls in flight finish"
        );
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while let Some(joined) = in_flight.join_next().await {
                if let Ok(report) = joined {
                    let said = cycle.record(&report);
                    done(&report, said);
                }
            }
        })
        .await;
        if drained.is_err() {
            warn!(polls = in_flight.len(), "abandoning polls still in flight");
            in_flight.abort_all();
        }
    }
    log_cycle(&mut cycle);
    info!("stopped");
}

fn log_cycle(cycle: &mut cycle::Cycle) {
    if let Some(summary) = cycle.finish() {
        info!("{}", summary.line);
        if let Some(offline) = summary.offline {
            warn!("{offline}");
        }
    }
}

/// What a newcomer watching the terminal wants to see: new items, hits, failures. A network
/// failure another feed already reported this cycle goes to debug level.
pub fn log_report(ctx: &Context, report: &PollReport, said: Said) {
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
                // Titles and links are the feed's words: no line break may forge a log line.
                info!(
                    indicator = %hit.indicator_id,
                    feed = %report.feed_id,
                    hit = hit.hit_id,
                    link = terminal_text(hit.link.as_deref().unwrap_or("")),
                    "HIT [{severity}] {}",
                    terminal_text(&hit.title)
                );
            }
        }
        Err(error) if said == Said::Repeated => debug!(
            feed = %report.feed_id,
            kind = error.kind().as_str(),
            %next,
            "poll failed like the others: {}",
            terminal_text(&error.to_string())
        ),
        Err(error) => warn!(
            feed = %report.feed_id,
            kind = error.kind().as_str(),
            %next,
            "poll failed: {}",
            terminal_text(&error.to_string())
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::TimeZone;

    use super::*;
    use crate::pipeline::PollSuccess;
    use crate::schedule::{self, Outcome, Schedule};

    fn feed(id: &str) -> Feed {
        Feed::new(id, &format!("http://127.0.0.1/{id}"))
    }

    /// Runs the loop with polls that succeed at once and schedule the next check every 15
    /// minutes; returns the times each feed was polled, as minutes from the start.
    async fn polls_over(
        stored: HashMap<String, DateTime<Utc>>,
        feeds: Vec<Feed>,
        script: impl AsyncFnOnce(),
    ) -> HashMap<String, Vec<i64>> {
        let start = Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap();
        let clock = Clock::tokio_from(start);
        let seen: Arc<Mutex<HashMap<String, Vec<i64>>>> = Arc::default();
        let every15 = Schedule::parse("*/15 * * * *").expect("valid");
        let shutdown = CancellationToken::new();
        let record = seen.clone();
        let poll = move |feed: Feed| {
            let now = clock.now();
            record
                .lock()
                .unwrap()
                .entry(feed.id.clone())
                .or_default()
                .push((now - start).num_minutes());
            let next_check =
                schedule::next_check(&every15, &feed.id, now, Outcome::Success { floor: None });
            async move {
                PollReport {
                    feed_id: feed.id,
                    result: Ok(PollSuccess::default()),
                    next_check,
                }
            }
        };
        let stop = shutdown.clone();
        let (_list, feeds) = watch::channel(feeds);
        let heartbeat = Heartbeat::new(MAX_SLEEP);
        let looping = run_loop(feeds, &stored, clock, poll, |_, _| {}, &heartbeat, shutdown);
        let driving = async move {
            script().await;
            stop.cancel();
        };
        tokio::join!(looping, driving);
        Arc::try_unwrap(seen).unwrap().into_inner().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn feeds_never_polled_run_at_start_then_on_their_schedule() {
        let seen = polls_over(HashMap::new(), vec![feed("a"), feed("b")], async || {
            tokio::time::sleep(Duration::from_secs(50 * 60)).await;
        })
        .await;
        // Due at once, then at :15, :30, :45 (plus a jitter under a minute).
        assert_eq!(seen["a"], [0, 15, 30, 45]);
        assert_eq!(seen["b"], [0, 15, 30, 45]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_restart_resumes_from_the_stored_next_check() {
        let start = Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap();
        let stored = HashMap::from([("a".to_owned(), start + chrono::Duration::minutes(10))]);
        let seen = polls_over(stored, vec![feed("a")], async || {
            tokio::time::sleep(Duration::from_secs(20 * 60)).await;
        })
        .await;
        assert_eq!(seen["a"], [10, 15], "not polled at start, then on schedule");
    }

    #[tokio::test(start_paused = true)]
    async fn an_overdue_feed_runs_once_not_once_per_missed_slot() {
        let start = Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap();
        // Its next check was six hours ago: 24 slots were missed while the machine slept.
        let stored = HashMap::from([("a".to_owned(), start - chrono::Duration::hours(6))]);
        let seen = polls_over(stored, vec![feed("a")], async || {
            tokio::time::sleep(Duration::from_secs(10 * 60)).await;
        })
        .await;
        assert_eq!(seen["a"], [0]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_reloaded_feed_list_polls_new_feeds_at_once_and_drops_removed_ones() {
        let start = Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap();
        let clock = Clock::tokio_from(start);
        let seen: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
        let every15 = Schedule::parse("*/15 * * * *").expect("valid");
        let record = seen.clone();
        let poll = move |feed: Feed| {
            let now = clock.now();
            record
                .lock()
                .unwrap()
                .push((feed.id.clone(), (now - start).num_minutes()));
            let next_check =
                schedule::next_check(&every15, &feed.id, now, Outcome::Success { floor: None });
            async move {
                PollReport {
                    feed_id: feed.id,
                    result: Ok(PollSuccess::default()),
                    next_check,
                }
            }
        };
        let (list, feeds) = watch::channel(vec![feed("a"), feed("b")]);
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let heartbeat = Heartbeat::new(MAX_SLEEP);
        let stored = HashMap::new();
        let looping = run_loop(feeds, &stored, clock, poll, |_, _| {}, &heartbeat, shutdown);
        let driving = async move {
            tokio::time::sleep(Duration::from_secs(5 * 60)).await;
            list.send(vec![feed("a"), feed("c")]).expect("send");
            tokio::time::sleep(Duration::from_secs(20 * 60)).await;
            stop.cancel();
        };
        tokio::join!(looping, driving);
        let seen = Arc::try_unwrap(seen).unwrap().into_inner().unwrap();
        let of = |id: &str| -> Vec<i64> {
            seen.iter()
                .filter(|(f, _)| f == id)
                .map(|(_, m)| *m)
                .collect()
        };
        assert_eq!(of("a"), [0, 15], "a kept its schedule");
        assert_eq!(of("b"), [0], "b was removed");
        assert_eq!(of("c"), [5, 15], "c was polled as soon as it appeared");
    }

    #[tokio::test(start_paused = true)]
    async fn disabled_feeds_are_not_polled() {
        let mut off = feed("off");
        off.enabled = false;
        let seen = polls_over(HashMap::new(), vec![feed("on"), off], async || {
            tokio::time::sleep(Duration::from_secs(60)).await;
        })
        .await;
        assert!(seen.contains_key("on"));
        assert!(!seen.contains_key("off"));
    }
}
