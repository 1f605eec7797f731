//! Metrics in the Prometheus text format.
//!
//! Events (polls, fetch errors, new items and hits, reloads) are counters recorded where they
//! happen; states (the outbox, each feed's last success, what the database holds, liveness
//! and readiness, the last reload) are gauges set when `/metrics` is scraped, so they are
//! right after a restart too. The `process_*` series are read from `/proc/self` at each scrape
//! ([`super::process`]).
//!
//! Label values come from the configuration (feed and indicator ids), from what the database
//! holds of past configurations, or from closed sets in the code (outcomes, kinds, statuses,
//! loop names): nothing a feed or a client sends becomes a label, so the series stay bounded.
//! Series a configuration implies start at zero ([`configured`]): `rate()` and `absent()` work
//! on a feed or an indicator before its first event.

use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use std::collections::BTreeSet;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::health::{Liveness, Readiness, ReloadState};
use crate::config::Indicators;
use crate::pipeline::PollReport;
use crate::store::Store;

const POLL_DURATION: &str = "watchfloor_poll_duration_seconds";
/// From a fast 304 to a poll at the fetch timeout; the default timeout is 30 s.
const POLL_DURATION_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
];
/// The outcomes of a poll, as `outcome` labels.
pub const POLL_OUTCOMES: [&str; 3] = ["ok", "not_modified", "error"];

/// Installs the process-wide recorder. Only the daemon does; elsewhere the macros are no-ops.
pub fn install() -> Option<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(POLL_DURATION.to_owned()),
            POLL_DURATION_BUCKETS,
        )
        .ok()?
        .install_recorder()
        .ok()?;
    describe();
    gauge!("watchfloor_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Some(handle)
}

/// Starts at zero the series the rules in force imply: polls of each enabled feed by outcome,
/// its fetched bytes, the poll durations by outcome, and new hits of each indicator. Called at
/// start and after each reload that succeeds; series of feeds and indicators a reload removed
/// stay, frozen, as counters of a past configuration should.
pub fn configured(rules: &Indicators) {
    for feed in rules.feeds.iter().filter(|f| f.enabled) {
        for outcome in POLL_OUTCOMES {
            counter!("watchfloor_polls_total", "feed" => feed.id.clone(), "outcome" => outcome)
                .increment(0);
        }
        counter!("watchfloor_fetch_bytes_total", "feed" => feed.id.clone()).increment(0);
    }
    for outcome in POLL_OUTCOMES {
        // Registering is enough: the recorder renders an empty histogram with zero buckets.
        let _ = histogram!(POLL_DURATION, "outcome" => outcome);
    }
    for indicator in &rules.indicators {
        counter!("watchfloor_new_hits_total", "indicator" => indicator.id.clone()).increment(0);
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "watchfloor_polls_total",
        "Polls by feed and outcome (ok, not_modified, error)"
    );
    describe_histogram!(
        POLL_DURATION,
        metrics::Unit::Seconds,
        "How long polls took, from their start (waiting for a fetch slot included) to their \
         record, by outcome (ok, not_modified, error)"
    );
    describe_counter!(
        "watchfloor_fetch_bytes_total",
        "Bytes of the documents polls received (after decompression), by feed"
    );
    describe_gauge!(
        "watchfloor_live",
        "1 while every watched loop turns (what /livez and the systemd watchdog go by)"
    );
    describe_gauge!(
        "watchfloor_ready",
        "1 while the daemon can do its work (what /readyz says): configuration in force, \
         listener accepting, database answering and taking writes"
    );
    describe_gauge!(
        "watchfloor_loop_heartbeat_age_seconds",
        "Since each watched loop last turned (scheduler; writer: the database writer; dispatcher)"
    );
    describe_gauge!(
        "watchfloor_loop_stalled_after_seconds",
        "How long without a turn makes each watched loop stalled"
    );
    describe_gauge!(
        "watchfloor_storage_writes_failing",
        "1 while database writes fail for want of storage (disk full, read-only, I/O errors)"
    );
    describe_gauge!(
        "watchfloor_config_last_reload_successful",
        "1 if the last configuration load (at start or on SIGHUP) succeeded, 0 if it failed \
         and an older configuration is in force"
    );
    describe_gauge!(
        "watchfloor_config_last_reload_success_timestamp_seconds",
        "When the configuration in force was loaded (Unix time)"
    );
    describe_gauge!(
        "watchfloor_config_last_reload_timestamp_seconds",
        "When a configuration load was last tried, at start or on SIGHUP (Unix time)"
    );
    describe_gauge!(
        "watchfloor_feeds",
        "Feeds of the configuration in force that the database tracks"
    );
    describe_gauge!(
        "watchfloor_feeds_failing",
        "Of those, feeds whose last poll failed"
    );
    describe_gauge!(
        "watchfloor_messages",
        "Messages in the outbox by status (pending: waiting to be sent or retried; sent; \
         failed: given up on)"
    );
    describe_gauge!(
        "watchfloor_outbox_oldest_waiting_seconds",
        "Age of the oldest message waiting to be sent (0 when none waits)"
    );
    describe_counter!(
        "watchfloor_fetch_errors_total",
        "Failed polls by feed and kind of failure (dns, connect, tls, timeout, http_status, \
         too_large, not_a_feed, parse, store, ...)"
    );
    describe_counter!(
        "watchfloor_evidence_unreadable_total",
        "Stored hits whose evidence did not decode when mail, Atom or the hit page read it"
    );
    describe_counter!("watchfloor_new_items_total", "Items first seen, by feed");
    describe_counter!(
        "watchfloor_new_hits_total",
        "Hits recorded by polls, by indicator"
    );
    describe_counter!(
        "watchfloor_config_reloads_total",
        "Configuration reloads by result"
    );
    describe_counter!(
        "watchfloor_http_connections_shed_total",
        "Listener connections closed to stay under http.max_connections, by reason (evicted: \
         an idle one made room; full: every held one was being answered)"
    );
    describe_counter!(
        "watchfloor_http_requests_refused_total",
        "Requests refused before routing, by reason (host: 421, a host the listener does not \
         answer to)"
    );
    describe_gauge!("watchfloor_build_info", "The running version");
    describe_gauge!("watchfloor_alerts", "Alerts in the outbox by status");
    describe_gauge!(
        "watchfloor_messages_waiting",
        "Messages waiting to be sent or retried"
    );
    describe_gauge!("watchfloor_items", "Items stored");
    describe_gauge!(
        "watchfloor_feeds_with_warning",
        "Feeds whose last document was read but not whole, by warning kind (no_items, entries_dropped, items_cut, too_many_entries)"
    );
    describe_gauge!(
        "watchfloor_feed_warning",
        "1 when the feed's last document was read but not whole (see `watchfloor feeds`)"
    );
    describe_gauge!(
        "watchfloor_items_by_language",
        "Items stored, by language (ISO 639-1; und: not determined; none: stored before \
         languages were identified)"
    );
    describe_gauge!(
        "watchfloor_blind_items",
        "Items stored in a language the indicator cannot fire on, by indicator and language"
    );
    describe_gauge!("watchfloor_hits", "Hits stored, by indicator");
    describe_gauge!(
        "watchfloor_feed_last_success_timestamp_seconds",
        "When each feed was last polled successfully (Unix time)"
    );
    describe_gauge!(
        "watchfloor_feed_consecutive_failures",
        "Failures in a row, by feed"
    );
}

/// The outcome label of a poll.
fn outcome_of(report: &PollReport) -> &'static str {
    match &report.result {
        Ok(success) if success.not_modified => "not_modified",
        Ok(_) => "ok",
        Err(_) => "error",
    }
}

/// How long one poll took, by its outcome.
pub fn record_poll_duration(report: &PollReport, took: Duration) {
    histogram!(POLL_DURATION, "outcome" => outcome_of(report)).record(took.as_secs_f64());
}

/// The size of a document a poll received and is about to read.
pub fn record_fetched_bytes(feed: &str, bytes: usize) {
    counter!("watchfloor_fetch_bytes_total", "feed" => feed.to_owned())
        .increment(u64::try_from(bytes).unwrap_or(u64::MAX));
}

/// Counts one poll's outcome.
pub fn record_poll(report: &PollReport) {
    let feed = report.feed_id.clone();
    match &report.result {
        Ok(success) => {
            let outcome = if success.not_modified {
                "not_modified"
            } else {
                "ok"
            };
            counter!("watchfloor_polls_total", "feed" => feed.clone(), "outcome" => outcome)
                .increment(1);
            counter!("watchfloor_new_items_total", "feed" => feed)
                .increment(success.counts.new_items);
            for hit in &success.hits {
                counter!("watchfloor_new_hits_total", "indicator" => hit.indicator_id.clone())
                    .increment(1);
            }
        }
        Err(error) => {
            counter!("watchfloor_polls_total", "feed" => feed.clone(), "outcome" => "error")
                .increment(1);
            counter!("watchfloor_fetch_errors_total", "feed" => feed, "kind" => error.kind().as_str())
                .increment(1);
        }
    }
}

/// A hit's stored evidence, for mail, Atom and the web pages. A row that does not decode is
/// logged with its hit and counted, and the reader goes on without evidence: the hit still
/// deserves its alert and its page, but nobody should take the missing snippet for "nothing
/// matched".
pub fn stored_evidence(hit_id: i64, json: &str) -> Option<crate::matcher::Evidence> {
    match crate::matcher::Evidence::from_stored(json) {
        Ok(evidence) => Some(evidence),
        Err(error) => {
            tracing::warn!(hit_id, %error, "hit {hit_id}: its evidence cannot be read");
            counter!("watchfloor_evidence_unreadable_total").increment(1);
            None
        }
    }
}

pub fn record_reload(ok: bool) {
    counter!("watchfloor_config_reloads_total", "result" => if ok { "success" } else { "failure" })
        .increment(1);
}

/// A connection the listener closed to stay under its cap: `evicted` (an idle one made room
/// for a newcomer) or `full` (the newcomer, every held one being answered).
pub fn http_connection_shed(reason: &'static str) {
    counter!("watchfloor_http_connections_shed_total", "reason" => reason).increment(1);
}

/// A request the listener refused before routing it: `host` (421, a host not ours).
pub fn http_request_refused(reason: &'static str) {
    counter!("watchfloor_http_requests_refused_total", "reason" => reason).increment(1);
}

/// Label sets of the gauges that a scrape may stop reporting (a reload that teaches an
/// indicator a language ends its blind spot there): set to 0 when they go, since the
/// recorder keeps every series it has seen.
static LANGUAGE_SERIES: Mutex<BTreeSet<(String, String)>> = Mutex::new(BTreeSet::new());

/// Feeds whose per-feed gauges have been set: those a reload removes are set to 0.
static FEED_SERIES: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Sets the gauges from the database; blind items and silent indicators need the rules in
/// force.
pub fn refresh(store: &Store, rules: Option<&Indicators>, now: DateTime<Utc>) {
    if let Ok(counts) = store.outbox_counts() {
        for (status, n) in [
            ("pending", counts.pending),
            ("sent", counts.sent),
            ("failed", counts.failed),
            ("folded", counts.folded),
        ] {
            gauge!("watchfloor_alerts", "status" => status).set(n as f64);
        }
        gauge!("watchfloor_messages_waiting").set(counts.messages_pending as f64);
        for (status, n) in [
            ("pending", counts.messages_pending),
            ("sent", counts.messages_sent),
            ("failed", counts.messages_failed),
        ] {
            gauge!("watchfloor_messages", "status" => status).set(n as f64);
        }
    }
    if let Ok(oldest) = store.oldest_waiting_message() {
        let age = oldest.map_or(0.0, |planned| {
            (now - planned).num_milliseconds().max(0) as f64 / 1000.0
        });
        gauge!("watchfloor_outbox_oldest_waiting_seconds").set(age);
    }
    if let Ok((items, _, _)) = store.totals() {
        gauge!("watchfloor_items").set(items as f64);
    }
    if let Ok(hits) = store.hits_by_indicator() {
        // Every indicator of the rules in force has a series, at 0 before its first hit.
        let mut silent: BTreeSet<&str> = rules
            .map(|rules| rules.indicators.iter().map(|i| i.id.as_str()).collect())
            .unwrap_or_default();
        for (indicator, n) in &hits {
            silent.remove(indicator.as_str());
            gauge!("watchfloor_hits", "indicator" => indicator.clone()).set(*n as f64);
        }
        for indicator in silent {
            gauge!("watchfloor_hits", "indicator" => indicator.to_owned()).set(0.0);
        }
    }
    if let Ok(states) = store.feed_polling() {
        for kind in crate::parse::ParseWarning::KINDS {
            let feeds = states
                .iter()
                .filter(|s| s.active && s.warning_kind.as_deref() == Some(kind))
                .count();
            gauge!("watchfloor_feeds_with_warning", "kind" => kind).set(feeds as f64);
        }
        let active: BTreeSet<String> = states
            .iter()
            .filter(|s| s.active)
            .map(|s| s.id.clone())
            .collect();
        let failing = states
            .iter()
            .filter(|s| s.active && s.consecutive_failures > 0)
            .count();
        gauge!("watchfloor_feeds").set(active.len() as f64);
        gauge!("watchfloor_feeds_failing").set(failing as f64);
        // A feed a reload removed keeps its series (the recorder forgets nothing): at 0, it
        // stops counting as failing or warned about.
        let mut seen = FEED_SERIES.lock().unwrap_or_else(|p| p.into_inner());
        for gone in seen.difference(&active) {
            gauge!("watchfloor_feed_warning", "feed" => gone.clone()).set(0.0);
            gauge!("watchfloor_feed_consecutive_failures", "feed" => gone.clone()).set(0.0);
        }
        seen.extend(active);
        drop(seen);
        for state in states.into_iter().filter(|s| s.active) {
            gauge!("watchfloor_feed_warning", "feed" => state.id.clone()).set(
                if state.warning_kind.is_some() {
                    1.0
                } else {
                    0.0
                },
            );
            if let Some(success) = state.last_success {
                gauge!("watchfloor_feed_last_success_timestamp_seconds", "feed" => state.id.clone())
                    .set(success.timestamp() as f64);
            }
            gauge!("watchfloor_feed_consecutive_failures", "feed" => state.id)
                .set(f64::from(state.consecutive_failures));
        }
    }
    if let Ok(langs) = store.items_by_language() {
        for (lang, n) in &langs {
            gauge!("watchfloor_items_by_language", "lang" => lang.clone()).set(*n as f64);
        }
        if let Some(rules) = rules {
            refresh_blind(&langs, rules);
        }
    }
}

/// `watchfloor_blind_items{indicator, lang}` from the item counts and the rules in force.
fn refresh_blind(langs: &[(String, u64)], rules: &Indicators) {
    let blind = crate::languages::blind(langs, rules);
    let mut now = BTreeSet::new();
    for language in &blind.by_language {
        for indicator in &language.indicators {
            gauge!("watchfloor_blind_items", "indicator" => indicator.clone(), "lang" => language.lang.clone())
                .set(language.items as f64);
            now.insert((indicator.clone(), language.lang.clone()));
        }
    }
    let mut before = LANGUAGE_SERIES.lock().unwrap_or_else(|p| p.into_inner());
    for (indicator, lang) in before.difference(&now) {
        gauge!("watchfloor_blind_items", "indicator" => indicator.clone(), "lang" => lang.clone())
            .set(0.0);
    }
    before.extend(now);
}

/// The daemon's own state, at each scrape: liveness and its loops, readiness, storage, and
/// the last configuration load (the one at start counts: it is the configuration in force
/// until a reload succeeds).
pub fn refresh_health(
    alive: &Liveness,
    ready: &Readiness,
    storage_failing: bool,
    reload: &ReloadState,
    loaded_at: DateTime<Utc>,
) {
    let flag = |on: bool| if on { 1.0 } else { 0.0 };
    gauge!("watchfloor_live").set(flag(alive.is_live()));
    gauge!("watchfloor_ready").set(flag(ready.is_ready()));
    gauge!("watchfloor_storage_writes_failing").set(flag(storage_failing));
    for beat in &alive.loops {
        gauge!("watchfloor_loop_heartbeat_age_seconds", "loop" => beat.name)
            .set(beat.seconds_since_beat);
        gauge!("watchfloor_loop_stalled_after_seconds", "loop" => beat.name)
            .set(beat.stalled_after_seconds as f64);
    }
    gauge!("watchfloor_config_last_reload_successful").set(flag(reload.failing.is_none()));
    let in_force = reload.last_success.unwrap_or(loaded_at);
    gauge!("watchfloor_config_last_reload_success_timestamp_seconds")
        .set(in_force.timestamp() as f64);
    let tried = reload.last_attempt.unwrap_or(loaded_at);
    gauge!("watchfloor_config_last_reload_timestamp_seconds").set(tried.timestamp() as f64);
}
