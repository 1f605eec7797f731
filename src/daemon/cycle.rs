//! One line per poll cycle, and one line for a network that is down.
//!
//! Feeds are polled when each is due, but feeds on one schedule come due together: a cycle is
//! a run of polls from the first started while none was in flight to the moment none is left.
//! At its end the daemon logs what it did in one line, so an operator sees at a glance that it
//! is working. When the machine has no network, every feed fails the same way; logging each
//! failure's whole error chain once per feed buried the one thing worth saying, so the first
//! network failure of a cycle is logged whole, the others at debug, and the summary says in a
//! line that the network looks down.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::error::ErrorKind;
use crate::pipeline::PollReport;

/// What a cycle's polls came to.
#[derive(Debug, Default)]
pub struct Cycle {
    started: Option<Instant>,
    polls: u32,
    ok: u32,
    not_modified: u32,
    new_items: u64,
    hits: u64,
    alerts: u64,
    /// Failures by kind.
    failed: BTreeMap<&'static str, u32>,
    /// Failures that say the network, not the feed, is at fault.
    network_failed: u32,
}

/// Whether a report's failure was already said this cycle (another feed failed to reach the
/// network the same way), so it need not be logged at warn level again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Said {
    First,
    Repeated,
}

impl Cycle {
    /// A poll starts; the first one opens the cycle.
    pub fn started(&mut self) {
        self.started.get_or_insert_with(Instant::now);
    }

    /// Counts a finished poll.
    pub fn record(&mut self, report: &PollReport) -> Said {
        self.polls += 1;
        match &report.result {
            Ok(success) => {
                self.ok += 1;
                if success.not_modified {
                    self.not_modified += 1;
                }
                self.new_items += success.counts.new_items;
                self.hits += success.counts.new_hits;
                self.alerts += success.counts.new_alerts;
                Said::First
            }
            Err(error) => {
                let kind = error.kind();
                *self.failed.entry(kind.as_str()).or_default() += 1;
                if matches!(kind, ErrorKind::Dns | ErrorKind::Connect) {
                    self.network_failed += 1;
                    if self.failed[kind.as_str()] > 1 {
                        return Said::Repeated;
                    }
                }
                Said::First
            }
        }
    }

    /// Ends the cycle: its summary, and a warning when no feed could be reached, if any poll
    /// ran. The cycle starts over empty.
    pub fn finish(&mut self) -> Option<Summary> {
        let cycle = std::mem::take(self);
        if cycle.polls == 0 {
            return None;
        }
        let seconds = cycle.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
        let failed: u32 = cycle.failed.values().sum();
        let mut line = format!(
            "poll cycle: {} feed{} in {seconds:.1} s: {} ok",
            cycle.polls,
            if cycle.polls == 1 { "" } else { "s" },
            cycle.ok
        );
        if cycle.not_modified > 0 {
            line.push_str(&format!(" ({} not modified)", cycle.not_modified));
        }
        if failed > 0 {
            let kinds: Vec<String> = cycle
                .failed
                .iter()
                .map(|(kind, n)| format!("{n} {kind}"))
                .collect();
            line.push_str(&format!(", {failed} failed ({})", kinds.join(", ")));
        }
        line.push_str(&format!(
            "; {} new items, {} hits, {} alerts queued",
            cycle.new_items, cycle.hits, cycle.alerts
        ));
        let offline = (cycle.polls >= 2 && cycle.network_failed == cycle.polls).then(|| {
            format!(
                "no feed could be reached ({} of {} failed before a request went out: {}): the \
                 network or DNS looks down from this machine; each feed is tried again on its \
                 schedule",
                cycle.network_failed,
                cycle.polls,
                cycle.failed.keys().copied().collect::<Vec<_>>().join(", ")
            )
        });
        Some(Summary { line, offline })
    }
}

/// The lines a finished cycle logs.
#[derive(Debug)]
pub struct Summary {
    /// At info level.
    pub line: String,
    /// At warn level, when every feed failed on the network.
    pub offline: Option<String>,
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::fetch::FetchError;
    use crate::pipeline::{PollError, PollSuccess};

    fn failed(id: &str, error: FetchError) -> PollReport {
        PollReport {
            feed_id: id.to_owned(),
            result: Err(PollError::Fetch(error)),
            next_check: Utc::now(),
        }
    }

    fn ok(id: &str, new_items: u64, not_modified: bool) -> PollReport {
        let mut success = PollSuccess {
            not_modified,
            items: 3,
            counts: Default::default(),
            hits: Vec::new(),
            warning: None,
        };
        success.counts.new_items = new_items;
        success.counts.new_hits = 1;
        PollReport {
            feed_id: id.to_owned(),
            result: Ok(success),
            next_check: Utc::now(),
        }
    }

    fn dns(host: &str) -> FetchError {
        FetchError::Dns(format!(
            "dns error: {host}: failed to lookup address information"
        ))
    }

    #[test]
    fn a_cycle_says_what_it_did_in_one_line() {
        let mut cycle = Cycle::default();
        cycle.started();
        assert_eq!(cycle.record(&ok("a", 4, false)), Said::First);
        assert_eq!(cycle.record(&ok("b", 0, true)), Said::First);
        assert_eq!(cycle.record(&failed("c", dns("c.example"))), Said::First);
        let summary = cycle.finish().expect("polls ran");
        assert!(
            summary.line.starts_with("poll cycle: 3 feeds in "),
            "{}",
            summary.line
        );
        assert!(
            summary.line.ends_with(
                "s: 2 ok (1 not modified), 1 failed (1 dns); 4 new items, 2 hits, 0 alerts queued"
            ),
            "{}",
            summary.line
        );
        assert!(summary.offline.is_none());
        // The next cycle starts empty; one without polls says nothing.
        assert!(cycle.finish().is_none());
    }

    #[test]
    fn a_network_that_is_down_is_said_once_not_once_a_feed() {
        let mut cycle = Cycle::default();
        cycle.started();
        let said: Vec<Said> = (0..14)
            .map(|n| cycle.record(&failed(&format!("f{n}"), dns(&format!("h{n}.example")))))
            .collect();
        assert_eq!(said[0], Said::First);
        assert!(said[1..].iter().all(|s| *s == Said::Repeated));
        let summary = cycle.finish().unwrap();
        let offline = summary.offline.expect("every feed failed on the network");
        assert!(
            offline.starts_with("no feed could be reached (14 of 14"),
            "{offline}"
        );
        // One feed that answered means the network is up.
        let mut cycle = Cycle::default();
        cycle.record(&failed("a", dns("a.example")));
        cycle.record(&ok("b", 0, true));
        assert!(cycle.finish().unwrap().offline.is_none());
    }
}
