//! Regression (issue 14): a hostile item with a huge title beside ~600 small hits of one
//! indicator made story folding, inside the poll's write and under the one store lock, hold
//! the database for about a minute: `/healthz` stopped answering and SIGTERM took 44-69 s. The
//! real daemon, a real feed server on 127.0.0.1 and a real SQLite file.

#[path = "support/daemon.rs"]
mod daemon;
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use daemon::Daemon;
use support::cli::rss;
use support::feed_server::{FeedServer, Response};
use watchfloor::store::Store;

/// Small hits, each its own story, so that each is compared with every earlier one.
const SMALL_HITS: usize = 600;

/// One satellite-launch item whose title is megabytes long, and `SMALL_HITS` short ones.
fn hostile_wire() -> String {
    let huge = format!(
        "North Korea satellite launch bulletin: {}",
        "lorem ipsum dolor ".repeat(120_000)
    );
    let small: Vec<(String, String, String)> = (0..SMALL_HITS)
        .map(|i| {
            (
                format!("s{i}"),
                format!("North Korea satellite launch bulletin {i}: w{i}a w{i}b w{i}c w{i}d w{i}e"),
                format!("https://news.test/{i}"),
            )
        })
        .collect();
    let mut items: Vec<(&str, &str, &str)> = vec![("huge", &huge, "https://news.test/huge")];
    items.extend(
        small
            .iter()
            .map(|(g, t, l)| (g.as_str(), t.as_str(), l.as_str())),
    );
    rss(&items)
}

/// The shipped rules with the wire polled at start and then not for a year.
fn write_indicators(path: &Path, feed_url: &str) {
    support::cli::indicators_with_feeds(
        path.parent().expect("a folder"),
        &[("wire", feed_url.to_owned())],
    );
    let text = std::fs::read_to_string(path).expect("written");
    let yearly = text.replace(
        &format!("url: '{feed_url}'"),
        &format!("url: '{feed_url}', schedule: '0 0 1 1 *'"),
    );
    assert_ne!(text, yearly, "the feed line is as expected:\n{text}");
    std::fs::write(path, yearly).expect("write indicators");
}

/// The real daemon on a state folder of its own, polling a feed server that serves the
/// hostile wire.
async fn start_on_hostile_wire() -> (FeedServer, tempfile::TempDir, Daemon) {
    let feeds = FeedServer::empty().await;
    feeds.set(
        "/wire.xml",
        Response::ok("application/rss+xml", hostile_wire()),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let daemon = start(dir.path(), &feeds);
    (feeds, dir, daemon)
}

fn start(dir: &Path, feeds: &FeedServer) -> Daemon {
    let indicators = dir.join("indicators.yaml");
    write_indicators(&indicators, &feeds.url("/wire.xml"));
    Daemon::start(
        &indicators,
        &dir.join("watchfloor.db"),
        &[
            // Hits alert, so every one of them goes through story folding.
            ("WATCHFLOOR_MAIL_TO", "analyst@example.org".to_owned()),
            (
                "WATCHFLOOR_MAIL_DIR",
                dir.join("mail").display().to_string(),
            ),
        ],
    )
}

/// Hits stored, and whether every one has had its story decided.
fn progress(db: &Path) -> (u64, bool) {
    let Ok(store) = Store::open_read_only(db) else {
        return (0, false);
    };
    let hits = store.totals().map_or(0, |(_, _, hits)| hits);
    let decided = store.story_pending(1, 0).is_ok_and(|w| w.is_empty());
    (hits, decided)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_title_among_hundreds_of_hits_keeps_healthz_answering_within_a_second() {
    let (_feeds, dir, daemon) = start_on_hostile_wire().await;
    let db = dir.path().join("watchfloor.db");
    let base = daemon.http_base();
    let client = reqwest::Client::new();

    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut probes, mut slowest) = (0, Duration::ZERO);
    loop {
        let asked = Instant::now();
        let answer = tokio::time::timeout(
            Duration::from_secs(5),
            client.get(format!("{base}/healthz")).send(),
        )
        .await;
        let took = asked.elapsed();
        let status = match answer {
            Ok(Ok(response)) => response.status().as_u16(),
            Ok(Err(e)) => panic!("/healthz failed: {e}\n{}", daemon.log()),
            Err(_) => 0,
        };
        probes += 1;
        slowest = slowest.max(took);
        assert!(
            took < Duration::from_secs(1) && status != 0,
            "/healthz took {took:?} (probe {probes}, status {status})\n{}",
            daemon.log()
        );
        let (hits, decided) = progress(&db);
        if hits > SMALL_HITS as u64 && decided {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{hits} hits after two minutes, stories decided: {decided}\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stopping = Instant::now();
    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(stopping.elapsed() < Duration::from_secs(10), "{log}");
    assert!(probes > 1, "the daemon was probed while it worked");
    eprintln!("{probes} probes of /healthz, the slowest {slowest:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_daemon_within_ten_seconds_while_it_takes_in_the_hostile_feed() {
    let (feeds, dir, daemon) = start_on_hostile_wire().await;
    let db = dir.path().join("watchfloor.db");
    let waiting = Instant::now();
    while feeds.hits("/wire.xml") == 0 {
        assert!(
            waiting.elapsed() < Duration::from_secs(30),
            "the feed was never fetched\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stopping = Instant::now();
    let (code, log) = daemon.stop();
    let took = stopping.elapsed();
    assert_eq!(code, Some(0), "{log}");
    assert!(took < Duration::from_secs(10), "stopped in {took:?}\n{log}");
    // Whatever the stop cut short, the database is whole.
    let store = Store::open_read_only(&db).expect("the database opens");
    assert_eq!(store.integrity_check().expect("checked"), "ok");
}
