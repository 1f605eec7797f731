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
