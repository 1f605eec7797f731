use chrono::TimeZone;

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 10, 12, 0, 0).unwrap()
}

fn hours(n: i64) -> chrono::Duration {
    chrono::Duration::hours(n)
}

/// A feed that answered ten minutes ago.
fn healthy(id: &str) -> FeedHealthRow {
    FeedHealthRow {
        id: id.to_owned(),
        url: format!("https://{id}.example/rss"),
        active: true,
        last_attempt: Some(now() - chrono::Duration::minutes(10)),
        last_success: Some(now() - chrono::Duration::minutes(10)),
        next_check: Some(now() + chrono::Duration::minutes(5)),
        ..FeedHealthRow::default()
    }
}

/// A feed failing since `h` hours ago.
fn failing(id: &str, h: i64) -> FeedHealthRow {
    FeedHealthRow {
        last_success: Some(now() - hours(h) - chrono::Duration::minutes(15)),
        last_error: Some("HTTP 404 Not Found".into()),
        consecutive_failures: 4,
        failing_since: Some(now() - hours(h)),
        ..healthy(id)
    }
}

/// A healthy feed whose `count` arrivals came `every` hours apart, the newest `silent` hours
/// before its last success.
fn cadence(id: &str, count: i64, every: i64, silent: i64) -> FeedHealthRow {
    let mut feed = healthy(id);
    let newest = feed.last_success.unwrap() - hours(silent);
    feed.arrivals = (0..count).map(|i| newest - hours(i * every)).collect();
    feed
}

fn sent(feed: &str, kind: NoticeKind, last_ago: i64, open_ago: Option<i64>) -> NoticeState {
    NoticeState {
        feed_id: feed.to_owned(),
        kind,
        last_notified: now() - hours(last_ago),
        open_since: open_ago.map(|h| now() - hours(h)),
    }
}

use NoticeKind::{Failing, Network, Quiet};
use NoticePhase::{Opened, Recovered, Reminder};

struct Case {
    name: &'static str,
    feeds: Vec<FeedHealthRow>,
    sent: Vec<NoticeState>,
    want: Vec<(&'static str, NoticeKind, NoticePhase)>,
}

fn run(cases: Vec<Case>) {
    let rules = Rules::new(Duration::from_secs(6 * 3600));
    for case in cases {
        let got: Vec<(String, NoticeKind, NoticePhase)> =
            check(&case.feeds, &case.sent, &rules, now())
                .into_iter()
                .map(|n| (n.feed_id, n.kind, n.phase))
                .collect();
        let want: Vec<(String, NoticeKind, NoticePhase)> = case
            .want
            .iter()
            .map(|(f, k, p)| ((*f).to_owned(), *k, *p))
            .collect();
        assert_eq!(got, want, "{}", case.name);
    }
}

#[test]
fn a_feed_is_reported_once_it_has_failed_longer_than_the_threshold() {
    run(vec![
        Case {
            name: "failing for 5h: not yet",
            feeds: vec![failing("a", 5), healthy("b"), healthy("c")],
            sent: vec![],
            want: vec![],
        },
        Case {
            name: "failing for 7h: reported",
            feeds: vec![failing("a", 7), healthy("b"), healthy("c")],
            sent: vec![],
            want: vec![("a", Failing, Opened)],
        },
        Case {
            name: "reported 3h ago: not again",
            feeds: vec![failing("a", 10), healthy("b")],
            sent: vec![sent("a", Failing, 3, Some(3))],
            want: vec![],
        },
        Case {
            name: "reported a day ago and still failing: reminded",
            feeds: vec![failing("a", 31), healthy("b")],
            sent: vec![sent("a", Failing, 24, Some(24))],
            want: vec![("a", Failing, Reminder)],
        },
        Case {
            name: "answers again: recovered",
            feeds: vec![healthy("a"), healthy("b")],
            sent: vec![sent("a", Failing, 5, Some(29))],
            want: vec![("a", Failing, Recovered)],
        },
        Case {
            name: "recovered this morning and failing again: at most one notice a day",
            feeds: vec![failing("a", 7), healthy("b")],
            sent: vec![sent("a", Failing, 20, None)],
            want: vec![],
        },
        Case {
            name: "recovered long ago and failing again: a new episode",
            feeds: vec![failing("a", 7), healthy("b")],
            sent: vec![sent("a", Failing, 200, None)],
            want: vec![("a", Failing, Opened)],
        },
        Case {
            name: "a streak from before the column: the last success bounds it",
            feeds: vec![
                FeedHealthRow {
                    failing_since: None,
                    ..failing("a", 7)
                },
                healthy("b"),
            ],
            sent: vec![],
            want: vec![("a", Failing, Opened)],
        },
        Case {
            name: "inactive and never polled feeds are not watched",
            feeds: vec![
                FeedHealthRow {
                    active: false,
                    ..failing("a", 70)
                },
                FeedHealthRow {
                    last_attempt: None,
                    last_success: None,
                    ..healthy("b")
                },
            ],
            sent: vec![],
            want: vec![],
        },
    ]);
}

#[test]
fn a_feed_is_quiet_only_against_its_own_cadence_and_with_enough_history() {
    run(vec![
        Case {
            name: "hourly feed silent 5h: under the 2-day floor",
            feeds: vec![cadence("a", 10, 1, 5)],
            sent: vec![],
            want: vec![],
        },
        Case {
            name: "hourly feed silent 3 days: quiet",
            feeds: vec![cadence("a", 10, 1, 72)],
            sent: vec![],
            want: vec![("a", Quiet, Opened)],
        },
        Case {
            name: "6-hourly feed silent 58h: within 10 gaps",
            feeds: vec![cadence("a", 10, 6, 58)],
            sent: vec![],
            want: vec![],
        },
        Case {
            name: "6-hourly feed silent 61h: beyond 10 gaps",
            feeds: vec![cadence("a", 10, 6, 61)],
            sent: vec![],
            want: vec![("a", Quiet, Opened)],
        },
        Case {
            name: "daily feed silent 5 days: normal for it",
            feeds: vec![cadence("a", 8, 24, 120)],
            sent: vec![],
            want: vec![],
        },
        Case {
            name: "daily feed silent 11 days: quiet",
            feeds: vec![cadence("a", 8, 24, 264)],
            sent: vec![],
            want: vec![("a", Quiet, Opened)],
        },
        Case {
            name: "four arrivals: too little history to judge",
            feeds: vec![cadence("a", 4, 1, 30 * 24)],
            sent: vec![],
            want: vec![],
        },
        Case {
            name: "a failing feed is failing, not quiet",
            feeds: vec![
                FeedHealthRow {
                    arrivals: cadence("a", 10, 1, 72).arrivals,
                    ..failing("a", 2)
                },
                healthy("b"),
            ],
            sent: vec![],
            want: vec![],
        },
        Case {
            name: "quiet feed publishing again: recovered",
            feeds: vec![cadence("a", 10, 1, 0)],
            sent: vec![sent("a", Quiet, 30, Some(30))],
            want: vec![("a", Quiet, Recovered)],
        },
        Case {
            name: "still quiet a day later: reminded",
            feeds: vec![cadence("a", 10, 1, 100)],
            sent: vec![sent("a", Quiet, 25, Some(25))],
            want: vec![("a", Quiet, Reminder)],
        },
    ]);
}

#[test]
fn most_feeds_failing_at_once_is_one_network_notice() {
    run(vec![
        Case {
            name: "4 of 5 failing: one network notice, none per feed",
            feeds: vec![
                failing("a", 7),
                failing("b", 7),
                failing("c", 8),
                failing("d", 9),
                healthy("e"),
            ],
            sent: vec![],
            want: vec![("*", Network, Opened)],
        },
        Case {
            name: "2 of 3 failing: fewer than 3, reported one by one",
            feeds: vec![failing("a", 7), failing("b", 7), healthy("c")],
            sent: vec![],
            want: vec![("a", Failing, Opened), ("b", Failing, Opened)],
        },
        Case {
            name: "3 of 7 failing: not most",
            feeds: vec![
                failing("a", 7),
                failing("b", 7),
                failing("c", 7),
                healthy("d"),
                healthy("e"),
                healthy("f"),
                healthy("g"),
            ],
            sent: vec![],
            want: vec![
                ("a", Failing, Opened),
                ("b", Failing, Opened),
                ("c", Failing, Opened),
            ],
        },
        Case {
            name: "feeds broken on their own earlier do not make an outage",
            feeds: vec![
                failing("a", 300),
                failing("b", 100),
                failing("c", 7),
                healthy("d"),
                healthy("e"),
            ],
            sent: vec![
                sent("a", Failing, 4, Some(290)),
                sent("b", Failing, 5, Some(90)),
            ],
            want: vec![("c", Failing, Opened)],
        },
        Case {
            name: "network down reported 3h ago: nothing new, reminders held back",
            feeds: vec![
                failing("a", 300),
                failing("b", 9),
                failing("c", 9),
                failing("d", 9),
                healthy("e"),
            ],
            sent: vec![
                sent("*", Network, 3, Some(3)),
                sent("a", Failing, 30, Some(290)),
            ],
            want: vec![],
        },
        Case {
            name: "the network is back: one recovery, the feed still failing on its own",
            feeds: vec![failing("a", 300), healthy("b"), healthy("c"), healthy("d")],
            sent: vec![
                sent("*", Network, 3, Some(3)),
                sent("a", Failing, 30, Some(290)),
            ],
            want: vec![("*", Network, Recovered), ("a", Failing, Reminder)],
        },
    ]);
}

#[test]
fn notices_say_what_operators_need() {
    let rules = Rules::new(Duration::from_secs(6 * 3600));
    let mut feed = failing("tass-en", 7);
    feed.title = Some("TASS\u{202E} English".into());
    feed.last_error = Some("not a feed: an HTML page\r\nX-Injected: yes".into());
    let notices = check(&[feed, healthy("b"), healthy("c")], &[], &rules, now());
    let [notice] = notices.as_slice() else {
        panic!("{notices:?}")
    };
    assert_eq!(
        notice.subject,
        "[watchfloor][ops] feed 'tass-en' failing for 7h: not a feed: an HTML page X-Injected: yes"
    );
    let words = notice.text.split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [
        "'tass-en' (TASS English)",
        "URL: https://tass-en.example/rss",
        "failing since: 2026-12-10 05:00 UTC",
        "consecutive failures: 4",
        "last error: not a feed: an HTML page X-Injected: yes",
        "next check: 2026-12-10 12:05 UTC",
    ] {
        assert!(words.contains(want), "{want:?} in\n{}", notice.text);
    }
    assert!(!notice.text.contains('\u{202E}') && !notice.text.contains('\r'));
    assert_eq!(
        notice.message_id("example.org", now()),
        "watchfloor.ops-failing-tass-en-20261210@example.org"
    );

    let quiet = check(&[cadence("q", 10, 6, 61)], &[], &rules, now());
    assert!(
        quiet[0]
            .subject
            .ends_with("quiet for 2d 13h: nothing new, usually every 6h"),
        "{}",
        quiet[0].subject
    );
}

#[test]
fn spans_read_as_people_say_them() {
    for (seconds, want) in [
        (59, "0m"),
        (45 * 60, "45m"),
        (7 * 3600 + 1800, "7h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (53 * 3600, "2d 5h"),
    ] {
        assert_eq!(span_text(Duration::from_secs(seconds)), want, "{seconds}");
    }
}
