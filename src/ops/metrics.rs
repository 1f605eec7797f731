//! Metrics in the Prometheus text format.
//!
//! Events (polls, fetch errors, new items and hits, reloads) are counters recorded where they
//! happen; states (the outbox, each feed's last success, what the database holds) are gauges
//! read from the database when `/metrics` is scraped, so they are right after a restart too.

use metrics::{counter, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use std::collections::BTreeSet;
use std::sync::Mutex;

use crate::config::Indicators;
use crate::pipeline::PollReport;
use crate::store::Store;

/// Installs the process-wide recorder. Only the daemon does; elsewhere the macros are no-ops.
pub fn install() -> Option<PrometheusHandle> {
    let handle = PrometheusBuilder::new().install_recorder().ok()?;
    describe();
    gauge!("watchfloor_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Some(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge};
    describe_counter!(
        "watchfloor_polls_total",
        "Polls by feed and outcome (ok, not_modified, error)"
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

/// Sets the gauges from the database; blind items need the rules in force.
pub fn refresh(store: &Store, rules: Option<&Indicators>) {
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
    }
    if let Ok((items, _, _)) = store.totals() {
        gauge!("watchfloor_items").set(items as f64);
    }
    if let Ok(hits) = store.hits_by_indicator() {
        for (indicator, n) in hits {
            gauge!("watchfloor_hits", "indicator" => indicator).set(n as f64);
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
