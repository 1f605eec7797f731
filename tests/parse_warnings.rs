//! A document that parses but gives fewer items than it holds is never a silent "ok": the real
//! binary polls a feed whose items are in a namespace no reader knows, and the warning shows
//! in `watchfloor feeds`, the daemon's feeds page and `/metrics`, and goes once the feed is
//! read whole again.

#[path = "support/daemon.rs"]
mod daemon;
mod support;

use std::time::{Duration, Instant};

use daemon::Daemon;
use support::cli::{args, indicators_with_feeds, rss, stdout, watchfloor};
use support::feed_server::{FeedServer, Response};
use watchfloor::store::Store;

/// Two items in a namespace that is neither RSS's nor UserLand's: they are entries of the
/// document, and no reader makes items of them.
const UNREADABLE: &str = "<?xml version=\"1.0\"?><rss version=\"2.0\" \
    xmlns=\"http://example.org/not-rss\"><channel><title>Odd</title>\
    <item><title>North Korea launches satellite</title></item>\
    <item><title>Second</title></item></channel></rss>";

fn good() -> String {
    rss(&[("1", "Talks resume in Geneva", "https://news.example.org/1")])
}

fn row(table: &str, id: &str) -> String {
    table
        .lines()
        .find(|l| l.starts_with(id))
        .unwrap_or_else(|| panic!("no row for {id} in {table}"))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn gauge(text: &str, metric: &str, label: (&str, &str)) -> Option<f64> {
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text");
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && s.labels.get(label.0) == Some(label.1))
        .map(|s| match s.value {
            prometheus_parse::Value::Gauge(v) => v,
            _ => f64::NAN,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_whose_entries_give_no_items_shows_a_warning_everywhere() {
    let server = FeedServer::empty().await;
    server.set("/odd.xml", Response::ok("application/rss+xml", UNREADABLE));
    server.set("/good.xml", Response::ok("application/rss+xml", good()));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("watchfloor.db");
    let rules = indicators_with_feeds(
        dir.path(),
        &[
            ("good", server.url("/good.xml")),
            ("odd", server.url("/odd.xml")),
        ],
    );

    let poll = watchfloor(args(&rules, &db, &["poll"]), vec![]).await;
    assert_eq!(poll.status.code(), Some(0), "{}", stdout(&poll));
    assert!(
        stdout(&poll).contains(
            "ok   odd: 0 items, 0 new, 0 changed, 0 also in other feeds, 0 hits\n     \
             WARN no_items: no items read from a document with 2 item or entry elements"
        ),
        "{}",
        stdout(&poll)
    );
    let feeds = watchfloor(
        args(&rules, &db, &["feeds"]),
        vec![("COLUMNS", "250".into())],
    )
    .await;
    let table = stdout(&feeds);
    assert!(row(&table, "good").starts_with("good ok "), "{table}");
    let odd = row(&table, "odd");
    assert!(odd.starts_with("odd warning "), "{table}");
    assert!(
        odd.ends_with("no_items: no items read from a document with 2 item or entry elements"),
        "{table}"
    );

    let daemon = Daemon::start(&rules, &db, &[]);
    let base = daemon.http_base();
    let (status, page) = daemon::get(&format!("{base}/feeds")).await;
    assert_eq!(status, 200);
    assert!(page.contains("<strong>warning</strong>"), "{page}");
    assert!(page.contains("no_items: no items read"), "{page}");
    let (status, text) = daemon::get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    assert_eq!(
        gauge(&text, "watchfloor_feeds_with_warning", ("kind", "no_items")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        gauge(
            &text,
            "watchfloor_feeds_with_warning",
            ("kind", "entries_dropped")
        ),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        gauge(&text, "watchfloor_feed_warning", ("feed", "odd")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        gauge(&text, "watchfloor_feed_warning", ("feed", "good")),
        Some(0.0),
        "{text}"
    );
    drop(daemon);

    // The publisher fixes the feed: the next poll reads it whole and the warning goes.
    server.set("/odd.xml", Response::ok("application/rss+xml", good()));
    let poll = watchfloor(args(&rules, &db, &["poll"]), vec![]).await;
    assert_eq!(poll.status.code(), Some(0), "{}", stdout(&poll));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let states = Store::open_read_only(&db).unwrap().feed_states().unwrap();
        let odd = states.iter().find(|s| s.id == "odd").unwrap();
        if odd.warning_kind.is_none() {
            assert_eq!(odd.status(true), "ok");
            break;
        }
        assert!(Instant::now() < deadline, "{odd:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A feed that lists one id twice with two texts: before, both became rows under one key,
/// and every later poll found one of them "changed" and wrote it over the other, so the hit
/// on the satellite story pointed at the weather half the time. Now the first entry is the
/// item, every poll says why the second is left out, and nothing changes after the first.
#[test]
fn an_id_listed_twice_with_two_texts_is_one_item_that_keeps_its_text() {
    use support::app::{build_app, feeds, ingest_rss, settings, shipped_rules};
    let dir = tempfile::tempdir().expect("tempdir");
    let app = build_app(
        settings(dir.path(), &[]),
        shipped_rules(),
        feeds(&["twice"]),
    );
    let document = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>\
        <item><guid>story-1</guid><title>North Korea launches reconnaissance satellite from \
        Sohae</title><description>KCNA said the satellite launch succeeded.</description></item>\
        <item><guid>story-1</guid><title>Weekend weather</title><description>Rain in the \
        south.</description></item></channel></rss>";
    let start = chrono::Utc::now();
    for poll in 0..4 {
        let now = start + chrono::Duration::minutes(20 * poll);
        let done = ingest_rss(&app, "twice", document.to_owned(), now);
        assert_eq!(done.items, 1, "poll {poll}");
        assert_eq!(
            (done.counts.new_items, done.counts.changed_items),
            (u64::from(poll == 0), 0),
            "poll {poll}"
        );
        assert_eq!(done.counts.new_hits, u64::from(poll == 0), "poll {poll}");
        let warning = done.warning.expect("the repeat is reported");
        assert!(warning.starts_with("repeated_keys: 1 entry"), "{warning}");
    }
    let db = rusqlite::Connection::open(dir.path().join("watchfloor.db")).expect("open");
    let titles: Vec<String> = db
        .prepare("SELECT title FROM items")
        .and_then(|mut rows| rows.query_map([], |row| row.get(0))?.collect())
        .expect("the items");
    assert_eq!(
        titles,
        ["North Korea launches reconnaissance satellite from Sohae"]
    );
}
