//! Feed health notices against a real SMTP server (aiosmtpd on 127.0.0.1) and a real SQLite
//! file. Feed state is written through `Store::write_poll`, as polls write it, at chosen
//! instants; the watcher takes the time as an argument, so a day passes without waiting.

mod support;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use support::smtp_server::{Delivered, SmtpServer};
use watchfloor::alert::feed_health::FeedWatch;
use watchfloor::alert::transport::Transport;
use watchfloor::app::App;
use watchfloor::config::{Feed, Settings};
use watchfloor::store::{ItemRecord, ItemWrite, PollResult, PollWrite};

const OPS: &str = "ops@example.org";

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

fn hours(n: i64) -> chrono::Duration {
    chrono::Duration::hours(n)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The settings tests run with: SMTP to `server` (or `.eml` files), `mail.ops` as given.
fn settings(dir: &Path, server: Option<&SmtpServer>, ops: &str) -> Settings {
    let mut env = vec![
        (
            "WATCHFLOOR_MAIL_FROM",
            "watchfloor@watch.example.org".to_owned(),
        ),
        ("WATCHFLOOR_MAIL_OPS", ops.to_owned()),
        ("WATCHFLOOR_FEED_ALERT_AFTER", "6h".to_owned()),
    ];
    if let Some(server) = server {
        env.push(("WATCHFLOOR_SMTP_URL", server.url()));
        env.push(("WATCHFLOOR_MAIL_TLS", "none".to_owned()));
    }
    support::app::settings(dir, &env)
}

fn feeds(ids: &[&str]) -> Vec<Feed> {
    ids.iter()
        .map(|id| Feed::new(id, &format!("https://{id}.example/rss")))
        .collect()
}

/// The daemon with `feeds`, and a watcher of its own sending as `settings` say.
fn watch(settings: &Settings, feeds: &[Feed]) -> (App, FeedWatch) {
    let app = support::app::build_app(
        settings.clone(),
        support::app::shipped_rules(),
        feeds.to_vec(),
    );
    let transport = Transport::new(&settings.mail).expect("transport");
    let watch = FeedWatch::new(app.db().clone(), transport, settings, feeds);
    (app, watch)
}

fn item(key: &str) -> ItemRecord {
    ItemRecord {
        key: key.to_owned(),
        link: Some(format!("https://news.example/{key}")),
        title: format!("Story {key}"),
        content_hash: format!("hash-{key}"),
        ..ItemRecord::default()
    }
}

/// Records one poll of `feed` at `at`: a failure with `error`, or a success bringing `items`.
fn poll(app: &App, feed: &str, at: DateTime<Utc>, error: Option<&str>, items: &[&str]) {
    let result = match error {
        Some(error) => PollResult::Failed {
            error: error.to_owned(),
        },
        None => PollResult::Fetched {
            etag: None,
            last_modified: None,
            title: None,
            warning: None,
        },
    };
    let write = PollWrite {
        feed_id: feed.to_owned(),
        attempted_at: at,
        result,
        next_check: at + minutes(15),
        min_interval: None,
        items: items
            .iter()
            .map(|key| ItemWrite::New {
                item: item(key),
                hits: Vec::new(),
            })
            .collect(),
    };
    app.db()
        .write_blocking(move |store| store.write_poll(&write))
        .expect("write poll");
}

fn subjects(messages: &[Delivered]) -> Vec<String> {
    messages.iter().map(Delivered::subject).collect()
}

/// The messages so far, after giving the server a moment to write one more.
fn settled(server: &SmtpServer, expected: usize) -> Vec<Delivered> {
    server.wait_for(expected + 1, Duration::from_millis(300))
}

const NOT_FOUND: &str = "HTTP 404 Not Found from https://a.example/rss";

#[test]
fn a_failing_feed_gets_one_notice_a_day_and_one_recovery() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::start(&dir.path().join("smtp"));
    let settings = settings(dir.path(), Some(&server), OPS);
    let feeds = feeds(&["a", "b", "c"]);
    let (store, watch) = watch(&settings, &feeds);
    let rt = rt();
    let others = |at| {
        poll(&store, "b", at, None, &[]);
        poll(&store, "c", at, None, &[]);
    };

    poll(&store, "a", t0(), None, &[]);
    others(t0());
    poll(&store, "a", t0() + minutes(15), Some(NOT_FOUND), &[]);
    poll(&store, "a", t0() + hours(5), Some(NOT_FOUND), &[]);
    others(t0() + hours(5));
    let early = rt
        .block_on(watch.check_and_send(t0() + hours(5)))
        .expect("check");
    assert_eq!(early.sent, 0, "failing 4h45m: not yet");

    poll(&store, "a", t0() + hours(7), Some(NOT_FOUND), &[]);
    others(t0() + hours(7));
    let first = rt
        .block_on(watch.check_and_send(t0() + hours(7)))
        .expect("check");
    assert_eq!(first.sent, 1, "{first:?}");
    let messages = server.wait_for(1, Duration::from_secs(5));
    let mail = &messages[0];
    assert_eq!(
        mail.subject(),
        format!("[watchfloor][ops] feed 'a' failing for 6h: {NOT_FOUND}")
    );
    assert_eq!(mail.rcpt_to(), OPS);
    assert_eq!(mail.header("Auto-Submitted"), "auto-generated");
    assert!(
        mail.header("List-Id").contains("<ops.watchfloor>"),
        "{}",
        mail.header("List-Id")
    );
    assert_eq!(
        mail.message_id(),
        "watchfloor.ops-failing-a-20261201@watch.example.org"
    );
    let text = mail.text().split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [
        "URL: https://a.example/rss",
        "failing since: 2026-12-01 10:15 UTC",
        "last success: 2026-12-01 10:00 UTC",
        "consecutive failures: 3",
        "next check: 2026-12-01 17:15 UTC",
        NOT_FOUND,
    ] {
        assert!(text.contains(want), "{want:?} in {text}");
    }

    let same_day = rt
        .block_on(watch.check_and_send(t0() + hours(9)))
        .expect("check");
    assert_eq!(same_day.sent, 0, "the same day: no second notice");
    // A restart reads what was sent from the database.
    drop(watch);
    let transport = Transport::new(&settings.mail).expect("transport");
    let watch = FeedWatch::new(store.db().clone(), transport, &settings, &feeds);
    let restarted = rt
        .block_on(watch.check_and_send(t0() + hours(12)))
        .expect("check");
    assert_eq!(restarted.sent, 0, "a restart repeats nothing");
    assert_eq!(settled(&server, 1).len(), 1);

    poll(&store, "a", t0() + hours(31), Some(NOT_FOUND), &[]);
    others(t0() + hours(31));
    let next_day = rt
        .block_on(watch.check_and_send(t0() + hours(31)))
        .expect("check");
    assert_eq!(next_day.sent, 1, "the next day: a reminder");
    let messages = server.wait_for(2, Duration::from_secs(5));
    assert_eq!(
        messages[1].subject(),
        format!("[watchfloor][ops] feed 'a' failing for 30h: {NOT_FOUND}")
    );
    assert_eq!(
        messages[1].message_id(),
        "watchfloor.ops-failing-a-20261202@watch.example.org"
    );

    poll(&store, "a", t0() + hours(32), None, &[]);
    let back = rt
        .block_on(watch.check_and_send(t0() + hours(32)))
        .expect("check");
    assert_eq!(back.sent, 1, "recovered: one notice");
    let again = rt
        .block_on(watch.check_and_send(t0() + hours(33)))
        .expect("check");
    assert_eq!(again.sent, 0, "recovered once");
    let messages = settled(&server, 3);
    assert_eq!(messages.len(), 3, "{:?}", subjects(&messages));
    assert_eq!(
        messages[2].subject(),
        "[watchfloor][ops] feed 'a' recovered: answering again"
    );
    assert!(
        messages[2]
            .text()
            .contains("reported failing on 2026-12-01 17:00 UTC")
    );
}

#[test]
fn most_feeds_failing_is_one_network_notice_and_no_notice_per_feed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::start(&dir.path().join("smtp"));
    let settings = settings(dir.path(), Some(&server), OPS);
    let ids = ["a", "b", "c", "d", "e"];
    let feeds = feeds(&ids);
    let (store, watch) = watch(&settings, &feeds);
    let rt = rt();
    for id in ids {
        poll(&store, id, t0(), None, &[]);
    }
    for at in [t0() + minutes(15), t0() + hours(7)] {
        for id in ["a", "b", "c", "d"] {
            poll(&store, id, at, Some("cannot resolve host: no DNS"), &[]);
        }
        poll(&store, "e", at, None, &[]);
    }
    let down = rt
        .block_on(watch.check_and_send(t0() + hours(7)))
        .expect("check");
    assert_eq!(down.sent, 1, "{down:?}");
    let again = rt
        .block_on(watch.check_and_send(t0() + hours(8)))
        .expect("check");
    assert_eq!(again.sent, 0);
    let messages = settled(&server, 1);
    assert_eq!(messages.len(), 1, "{:?}", subjects(&messages));
    assert_eq!(
        messages[0].subject(),
        "[watchfloor][ops] network down? 4 of 5 feeds failing for 6h"
    );
    assert_eq!(
        messages[0].message_id(),
        "watchfloor.ops-network-all-20261201@watch.example.org"
    );
    let text = messages[0].text();
    for id in ["a", "b", "c", "d"] {
        assert!(
            text.contains(&format!("https://{id}.example/rss")),
            "{text}"
        );
    }
    assert!(!text.contains("https://e.example/rss"), "{text}");

    for id in ids {
        poll(&store, id, t0() + hours(9), None, &[]);
    }
    let back = rt
        .block_on(watch.check_and_send(t0() + hours(9)))
        .expect("check");
    assert_eq!(back.sent, 1, "{back:?}");
    let messages = settled(&server, 2);
    assert_eq!(
        subjects(&messages),
        [
            "[watchfloor][ops] network down? 4 of 5 feeds failing for 6h",
            "[watchfloor][ops] network back: 5 of 5 feeds answering",
        ]
    );
}

#[test]
fn a_feed_gone_quiet_against_its_cadence_is_reported_and_its_return_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::start(&dir.path().join("smtp"));
    let settings = settings(dir.path(), Some(&server), OPS);
    let feeds = feeds(&["wire"]);
    let (store, watch) = watch(&settings, &feeds);
    let rt = rt();
    // A backlog at the first poll, then news every two hours.
    poll(&store, "wire", t0(), None, &["old-1", "old-2", "old-3"]);
    for n in 1..=8 {
        let key = format!("news-{n}");
        poll(&store, "wire", t0() + hours(2 * n), None, &[&key]);
    }
    let newest = t0() + hours(16);
    // It keeps answering, with nothing new.
    poll(&store, "wire", newest + hours(40), None, &[]);
    let normal = rt
        .block_on(watch.check_and_send(newest + hours(40)))
        .expect("check");
    assert_eq!(normal.sent, 0, "40h: under the 2-day floor");
    poll(&store, "wire", newest + hours(50), None, &[]);
    let quiet = rt
        .block_on(watch.check_and_send(newest + hours(50)))
        .expect("check");
    assert_eq!(quiet.sent, 1, "{quiet:?}");
    poll(&store, "wire", newest + hours(52), None, &["news-9"]);
    let back = rt
        .block_on(watch.check_and_send(newest + hours(52)))
        .expect("check");
    assert_eq!(back.sent, 1, "{back:?}");
    let messages = settled(&server, 2);
    assert_eq!(
        subjects(&messages),
        [
            "[watchfloor][ops] feed 'wire' quiet for 2d 2h: nothing new, usually every 2h",
            "[watchfloor][ops] feed 'wire' publishing again",
        ]
    );
}

#[test]
fn a_notice_the_server_did_not_take_is_sent_at_the_next_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = SmtpServer::reserve(&dir.path().join("smtp"));
    let settings = settings(dir.path(), Some(&server), OPS);
    let feeds = feeds(&["a", "b", "c"]);
    let (store, watch) = watch(&settings, &feeds);
    let rt = rt();
    for id in ["a", "b", "c"] {
        poll(&store, id, t0(), None, &[]);
    }
    poll(&store, "a", t0() + minutes(15), Some(NOT_FOUND), &[]);
    poll(&store, "a", t0() + hours(7), Some(NOT_FOUND), &[]);

    let refused = rt
        .block_on(watch.check_and_send(t0() + hours(7)))
        .expect("check");
    assert_eq!((refused.sent, refused.errors.len()), (0, 1), "{refused:?}");
    server.resume();
    let sent = rt
        .block_on(watch.check_and_send(t0() + hours(7) + minutes(5)))
        .expect("check");
    assert_eq!(sent.sent, 1, "{sent:?}");
    assert_eq!(settled(&server, 1).len(), 1);
}

#[test]
fn without_ops_recipients_a_notice_is_logged_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = settings(dir.path(), None, "");
    assert!(settings.mail.ops.is_empty());
    let feeds = feeds(&["a", "b", "c"]);
    let (store, watch) = watch(&settings, &feeds);
    let rt = rt();
    for id in ["a", "b", "c"] {
        poll(&store, id, t0(), None, &[]);
    }
    poll(&store, "a", t0() + minutes(15), Some(NOT_FOUND), &[]);
    let logged = rt
        .block_on(watch.check_and_send(t0() + hours(7)))
        .expect("check");
    assert_eq!((logged.sent, logged.logged), (0, 1), "{logged:?}");
    let again = rt
        .block_on(watch.check_and_send(t0() + hours(8)))
        .expect("check");
    assert_eq!(again.logged, 0, "recorded, so the log is not flooded");
    let eml = std::fs::read_dir(&settings.mail.dir)
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(eml, 0, "nothing written as mail");
}

/// The watcher's heartbeat is what liveness reads: it must beat as the task turns, or a hung
/// watcher would go unseen. One that has not beaten for a while beats once the task runs;
/// the task stops on shutdown.
#[test]
fn the_watcher_beats_its_heartbeat_as_it_turns() {
    use std::sync::Arc;
    use watchfloor::alert::feed_health::{LONGEST_GAP, watch_feeds};
    use watchfloor::ops::health::Heartbeat;

    let dir = tempfile::tempdir().expect("tempdir");
    let settings = settings(dir.path(), None, "");
    let feeds = feeds(&["a"]);
    let (_store, watch) = watch(&settings, &feeds);
    let rt = rt();
    rt.block_on(async {
        let heartbeat = Arc::new(Heartbeat::new(LONGEST_GAP));
        let quiet = Duration::from_millis(600);
        tokio::time::sleep(quiet).await;
        assert!(heartbeat.age() >= quiet);
        let (_reload, reloads) = tokio::sync::mpsc::unbounded_channel();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let task = tokio::spawn(watch_feeds(
            watch,
            reloads,
            heartbeat.clone(),
            shutdown.clone(),
        ));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while heartbeat.age() >= quiet / 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "the watcher never beat"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("stops on shutdown")
            .expect("joined");
    });
}
