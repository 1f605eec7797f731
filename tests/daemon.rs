//! The daemon and `poll`, run as a user runs them: the real binary, a real SQLite file, feeds
//! served over real HTTP by a test server on 127.0.0.1.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::cli::{args, indicators_with_feeds, root, rss, stdout, watchfloor};
use support::feed_server::{Body, FeedServer, Response};
use watchfloor::store::Store;

fn corpus() -> Option<PathBuf> {
    let dir = root().join("../shared/corpus/feeds");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping the corpus part: {} is absent", dir.display());
        None
    }
}

const SATELLITE: &str = "North Korea launches reconnaissance satellite with Russian help";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_records_items_and_hits_and_each_feed_failure_stays_its_own() {
    let server = FeedServer::empty().await;
    server.set(
        "/wire.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[
                ("a1", SATELLITE, "https://news.test/sat?utm_source=x"),
                ("a2", "Weather: sunny in Seoul", "https://news.test/weather"),
            ]),
        ),
    );
    server.set("/broken.xml", Response::status(500));
    server.set(
        "/page.xml",
        Response::ok("text/html", "<html><body>Log in</body></html>"),
    );
    server.set(
        "/invalid.xml",
        Response::ok(
            "application/rss+xml",
            "<rss><channel><title>x</titel></channel>",
        ),
    );
    let mut feeds = vec![
        ("wire", server.url("/wire.xml")),
        ("broken", server.url("/broken.xml")),
        ("page", server.url("/page.xml")),
        ("invalid", server.url("/invalid.xml")),
        ("missing", server.url("/nothing-here.xml")),
    ];
    let mut corpus_feeds = Vec::new();
    if let Some(dir) = corpus() {
        for name in [
            "rss2-guardian-us.xml",
            "atom-heise-developer-de.xml",
            "rss2-ibash-ru-windows-1251.xml",
        ] {
            let bytes = std::fs::read(dir.join(name)).expect("corpus file");
            server.set(
                &format!("/corpus/{name}"),
                Response::ok("application/xml", bytes),
            );
            corpus_feeds.push(name);
        }
    }
    let corpus_ids: Vec<String> = (0..corpus_feeds.len())
        .map(|i| format!("corpus{i}"))
        .collect();
    for (id, name) in corpus_ids.iter().zip(&corpus_feeds) {
        feeds.push((id.as_str(), server.url(&format!("/corpus/{name}"))));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let indicators = indicators_with_feeds(dir.path(), &feeds);
    let db = dir.path().join("watchfloor.db");

    let first = watchfloor(args(&indicators, &db, &["poll"]), vec![]).await;
    let out = stdout(&first);
    assert_eq!(first.status.code(), Some(1), "a feed failed: {out}");
    assert!(out.contains("ok   wire: 2 items, 2 new"), "{out}");
    assert!(
        out.contains("HIT satellite_launch: North Korea launches"),
        "{out}"
    );
    assert!(out.contains("FAIL broken: HTTP 500"), "{out}");
    assert!(out.contains("FAIL missing: HTTP 404"), "{out}");
    assert!(
        out.contains("FAIL page:") && out.contains("not a feed"),
        "{out}"
    );
    assert!(
        out.contains("FAIL invalid:") && out.contains("line"),
        "{out}"
    );
    for id in &corpus_ids {
        assert!(out.contains(&format!("ok   {id}:")), "{out}");
    }

    let store = Store::open(&db).expect("open");
    let states = store.feed_states().expect("states");
    let state = |id: &str| states.iter().find(|s| s.id == id).expect("feed").clone();
    assert_eq!(state("wire").items, 2);
    assert_eq!(state("wire").hits, 1);
    assert_eq!(state("broken").consecutive_failures, 1);
    assert!(state("broken").last_error.expect("error").contains("500"));
    let (items_before, _, hits_before) = store.totals().expect("totals");
    drop(store);

    // A second round: nothing new is recorded twice, and the broken feed backs off further.
    let second = watchfloor(args(&indicators, &db, &["poll"]), vec![]).await;
    let out = stdout(&second);
    assert!(
        out.contains("ok   wire: 2 items, 0 new, 0 changed"),
        "{out}"
    );
    let store = Store::open(&db).expect("open");
    assert_eq!(store.totals().expect("totals").0, items_before);
    assert_eq!(store.totals().expect("totals").2, hits_before);
    let broken = store.feed_state("broken").expect("query").expect("feed");
    assert_eq!(broken.consecutive_failures, 2);
    let first_gap =
        state("broken").next_check.expect("next") - state("broken").last_attempt.expect("at");
    let second_gap = broken.next_check.expect("next") - broken.last_attempt.expect("at");
    assert!(
        second_gap > first_gap,
        "backoff grows: {first_gap} then {second_gap}"
    );
    assert_eq!(store.integrity_check().expect("check"), "ok");
    drop(store);

    // The story is updated: matched again, but it already hit satellite_launch.
    server.set(
        "/wire.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[
                (
                    "a1",
                    &format!("{SATELLITE}; Pyongyang confirms orbit"),
                    "https://news.test/sat",
                ),
                ("a2", "Weather: sunny in Seoul", "https://news.test/weather"),
            ]),
        ),
    );
    let third = watchfloor(args(&indicators, &db, &["poll", "--feed", "wire"]), vec![]).await;
    let out = stdout(&third);
    assert_eq!(third.status.code(), Some(0), "{out}");
    assert!(
        out.contains("ok   wire: 2 items, 0 new, 1 changed, 0 also in other feeds, 0 hits"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_story_in_two_feeds_is_one_item_with_two_sources() {
    let server = FeedServer::empty().await;
    let story = ("x", SATELLITE, "https://news.test/story#comments");
    server.set(
        "/one.xml",
        Response::ok("application/rss+xml", rss(&[story])),
    );
    server.set(
        "/two.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[("y", SATELLITE, "https://news.test/story?utm_campaign=z")]),
        ),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let indicators = indicators_with_feeds(
        dir.path(),
        &[
            ("one", server.url("/one.xml")),
            ("two", server.url("/two.xml")),
        ],
    );
    let db = dir.path().join("watchfloor.db");
    let output = watchfloor(args(&indicators, &db, &["poll"]), vec![]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let store = Store::open(&db).expect("open");
    assert_eq!(
        store.totals().expect("totals"),
        (1, 2, 1),
        "items, sources, hits"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_answers_are_recorded_per_feed_while_good_feeds_arrive() {
    let server = FeedServer::start().await;
    server.set(
        "/good.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[("g", SATELLITE, "https://news.test/good")]),
        ),
    );
    server.set(
        "/latin1.xml",
        Response::ok(
            "application/rss+xml; charset=iso-8859-1",
            b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Caf\xe9</title>\
              <item><guid>l</guid><title>Caf\xe9 cr\xe8me</title></item></channel></rss>"
                .to_vec(),
        ),
    );
    server.set(
        "/too-slow.xml",
        Response::ok("application/rss+xml", "").with_body(Body::Trickle {
            data: std::sync::Arc::from(
                rss(&[("t", "slow", "https://news.test/slow")]).into_bytes(),
            ),
            piece: 8,
            every: Duration::from_millis(300),
        }),
    );
    let feeds = [
        ("good", server.url("/good.xml")),
        ("latin1", server.url("/latin1.xml")),
        ("slow", server.url("/too-slow.xml")),
        ("endless", server.url("/endless")),
        ("bomb", server.url("/bomb")),
        ("loop", server.url("/loop")),
        ("ftp", server.url("/to-ftp")),
        ("reset", server.url("/reset")),
        ("throttled", server.url("/throttled")),
        ("garbage", server.url("/garbage")),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let indicators = indicators_with_feeds(dir.path(), &feeds);
    let db = dir.path().join("watchfloor.db");
    let started = Instant::now();
    let output = watchfloor(
        args(&indicators, &db, &["poll"]),
        vec![
            ("WATCHFLOOR_FETCH_TIMEOUT", "2".into()),
            ("WATCHFLOOR_FETCH_MAX_BODY", (4 * 1024 * 1024).to_string()),
            // Every minute: shorter than the server's Retry-After of 120 s.
            ("WATCHFLOOR_SCHEDULE", "* * * * *".into()),
        ],
    )
    .await;
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "bounded by the timeout"
    );
    assert!(out.contains("ok   good: 1 items, 1 new"), "{out}");
    assert!(out.contains("ok   latin1: 1 items, 1 new"), "{out}");
    let store = Store::open(&db).expect("open");
    for state in store.feed_states().expect("states") {
        match state.id.as_str() {
            "good" | "latin1" => assert_eq!(state.consecutive_failures, 0, "{state:?}"),
            _ => {
                assert_eq!(state.consecutive_failures, 1, "{state:?}");
                let error = state.last_error.expect("an error of its own");
                assert!(!error.is_empty());
            }
        }
    }
    let throttled = store.feed_state("throttled").expect("q").expect("feed");
    let wait = throttled.next_check.expect("next") - throttled.last_attempt.expect("at");
    assert!(
        wait >= chrono::Duration::seconds(120),
        "Retry-After honoured: {wait}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_polls_at_start_and_stops_cleanly_on_sigterm() {
    let server = FeedServer::empty().await;
    server.set(
        "/wire.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[("a1", SATELLITE, "https://news.test/sat")]),
        ),
    );
    // A poll still in flight when the stop comes.
    server.set(
        "/slow.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[("s", "slow", "https://news.test/s")]),
        )
        .delay(Duration::from_secs(3)),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let indicators = indicators_with_feeds(
        dir.path(),
        &[
            ("wire", server.url("/wire.xml")),
            ("slow", server.url("/slow.xml")),
        ],
    );
    let db = dir.path().join("watchfloor.db");
    let child = Command::new(env!("CARGO_BIN_EXE_watchfloor"))
        .args(args(&indicators, &db, &["run"]))
        .env("WATCHFLOOR_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("daemon starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "the daemon never polled");
        tokio::time::sleep(Duration::from_millis(200)).await;
        if let Ok(store) = Store::open(&db)
            && store
                .feed_state("wire")
                .ok()
                .flatten()
                .is_some_and(|s| s.last_success.is_some())
        {
            break;
        }
    }
    let stop = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("joined")
        .expect("waited");
    assert!(
        stop.elapsed() < Duration::from_secs(10),
        "stopped in {:?}",
        stop.elapsed()
    );
    assert_eq!(
        exit.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&exit.stderr)
    );
    let log = String::from_utf8_lossy(&exit.stderr);
    assert!(
        log.contains("polling") && log.contains("HIT [high]"),
        "{log}"
    );
    let store = Store::open(&db).expect("open");
    assert_eq!(store.integrity_check().expect("check"), "ok");
    assert_eq!(store.totals().expect("totals").2, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_poll_of_an_unchanged_feed_is_a_304_and_feeds_shows_health() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let indicators = indicators_with_feeds(
        dir.path(),
        &[
            ("etag", server.url("/feed.xml")),
            ("down", server.url("/status/500")),
        ],
    );
    let db = dir.path().join("watchfloor.db");
    let first = watchfloor(args(&indicators, &db, &["poll"]), vec![]).await;
    assert!(
        stdout(&first).contains("ok   etag: 1 items, 1 new"),
        "{}",
        stdout(&first)
    );
    let second = watchfloor(args(&indicators, &db, &["poll"]), vec![]).await;
    assert!(
        stdout(&second).contains("ok   etag: not modified"),
        "{}",
        stdout(&second)
    );
    let sent = server.requests("/feed.xml");
    assert_eq!(sent.len(), 2);
    assert!(sent[1].header("if-none-match").is_some(), "conditional GET");

    let feeds = watchfloor(
        args(&indicators, &db, &["feeds"]),
        vec![("COLUMNS", "200".into())],
    )
    .await;
    let table = stdout(&feeds);
    assert_eq!(feeds.status.code(), Some(0), "{table}");
    let row = |id: &str| {
        table
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("no row for {id} in {table}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(row("etag").starts_with("etag ok "), "{table}");
    assert!(row("down").starts_with("down failing never 2 "), "{table}");
    assert!(
        row("down").ends_with("HTTP 500 Internal Server Error"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_shows_what_edited_rules_would_change_and_apply_records_it() {
    let server = FeedServer::empty().await;
    server.set(
        "/wire.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[
                ("a1", SATELLITE, "https://news.test/sat"),
                (
                    "a2",
                    "Tanker brings Russian diesel to Rason port for North Korea",
                    "https://news.test/oil",
                ),
                (
                    "a3",
                    "Kimchi festival opens in Seoul",
                    "https://news.test/kimchi",
                ),
            ]),
        ),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let indicators = indicators_with_feeds(dir.path(), &[("wire", server.url("/wire.xml"))]);
    let db = dir.path().join("watchfloor.db");
    let polled = watchfloor(args(&indicators, &db, &["poll"]), vec![]).await;
    assert_eq!(polled.status.code(), Some(0), "{}", stdout(&polled));
    let hits_before = Store::open(&db).expect("open").totals().expect("totals").2;
    assert_eq!(hits_before, 2, "{}", stdout(&polled));

    // An analyst narrows satellite_launch to nothing and adds a rule for festivals.
    let text = std::fs::read_to_string(&indicators).expect("read");
    let start = text.find("  - id: satellite_launch").expect("indicator");
    let query_at = start + text[start..].find("    query:").expect("query");
    let query_end = query_at + text[query_at..].find("\n    boost:").expect("boost");
    let mut edited = text.clone();
    edited.replace_range(query_at..query_end, "    query: zzznothingzzz");
    let edited = edited.replacen(
        "indicators:\n",
        "indicators:\n  - id: festivals\n    title: Festivals\n    insight: A test rule.\n    severity: low\n    query: festival*\n",
        1,
    );
    std::fs::write(&indicators, edited).expect("write");

    let dry = watchfloor(args(&indicators, &db, &["replay"]), vec![]).await;
    let out = stdout(&dry);
    assert_eq!(
        dry.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(out.contains("+ festivals item"), "{out}");
    assert!(out.contains("- satellite_launch item"), "{out}");
    assert!(
        out.contains(
            "3 items replayed: 1 hits would be added, 1 retracted, 0 stand again, 1 unchanged"
        ),
        "{out}"
    );
    assert_eq!(
        Store::open(&db).expect("open").totals().expect("totals").2,
        2,
        "a dry run writes nothing"
    );

    let log = |db: &Path| {
        let db = db.to_owned();
        let indicators = indicators.clone();
        async move {
            let out = watchfloor(
                args(&indicators, &db, &["hits", "--format", "jsonl"]),
                vec![],
            )
            .await;
            stdout(&out)
                .lines()
                .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("json"))
                .collect::<Vec<_>>()
        }
    };
    let launches = |hits: Vec<serde_json::Value>| -> Vec<serde_json::Value> {
        hits.into_iter()
            .filter(|h| h["indicator"] == "satellite_launch")
            .collect()
    };
    let launch_before = launches(log(&db).await);
    assert_eq!(launch_before.len(), 1);
    assert_ne!(launch_before[0]["alert_status"], "");

    let applied = watchfloor(args(&indicators, &db, &["replay", "--apply"]), vec![]).await;
    assert!(stdout(&applied).contains("applied"));
    // Regression: the hit the rules no longer make was deleted, and its alerts, delivery
    // record and triage with it. It stays, retracted, with all of them.
    assert_eq!(
        Store::open(&db).expect("open").totals().expect("totals").2,
        3,
        "no hit is deleted by a replay"
    );
    let launch_after = launches(log(&db).await);
    assert_eq!(launch_after.len(), 1);
    assert_eq!(launch_after[0]["hit_id"], launch_before[0]["hit_id"]);
    assert_eq!(
        launch_after[0]["alert_status"],
        launch_before[0]["alert_status"]
    );
    let retracted = &launch_after[0]["retracted"];
    assert!(retracted["at"].is_string(), "{:?}", launch_after[0]);
    assert!(retracted["by"].is_string(), "{:?}", launch_after[0]);
    let table = watchfloor(args(&indicators, &db, &["hits"]), vec![]).await;
    assert!(stdout(&table).contains("(retracted)"), "{}", stdout(&table));

    let again = watchfloor(args(&indicators, &db, &["replay"]), vec![]).await;
    assert!(
        stdout(&again).contains("0 hits would be added, 0 retracted, 0 stand again, 2 unchanged"),
        "{}",
        stdout(&again)
    );

    // The analyst restores the rule: the retracted hit stands again, the same hit.
    std::fs::write(&indicators, text.replacen(
        "indicators:\n",
        "indicators:\n  - id: festivals\n    title: Festivals\n    insight: A test rule.\n    severity: low\n    query: festival*\n",
        1,
    ))
    .expect("write");
    let restored = watchfloor(args(&indicators, &db, &["replay", "--apply"]), vec![]).await;
    assert!(
        stdout(&restored)
            .contains("0 hits would be added, 0 retracted, 1 stand again, 2 unchanged"),
        "{}",
        stdout(&restored)
    );
    let launch_restored = launches(log(&db).await);
    assert_eq!(launch_restored[0]["hit_id"], launch_before[0]["hit_id"]);
    assert!(launch_restored[0]["retracted"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_text_reaches_the_terminal_without_controls_or_bidi_overrides() {
    let server = FeedServer::empty().await;
    // The title's override would flip how the rest of the line reads; the link's encoded line
    // break must stay encoded.
    server.set(
        "/wire.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[(
                "bidi-1",
                "North Korea launches satellite \u{202E}gpj.exe\u{202C} \u{2066}FAKE\u{2069}",
                "https://news.test/story%0D%0AFORGED",
            )]),
        ),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let indicators = indicators_with_feeds(dir.path(), &[("wire", server.url("/wire.xml"))]);
    let db = dir.path().join("watchfloor.db");
    let output = watchfloor(args(&indicators, &db, &["poll"]), vec![]).await;
    let out = stdout(&output);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        out.contains("HIT satellite_launch: North Korea launches"),
        "{out}"
    );
    for text in [out.as_str(), &err] {
        assert!(
            !text.contains(['\u{202E}', '\u{202C}', '\u{2066}', '\u{2069}', '\r']),
            "{text:?}"
        );
        assert!(
            !text.lines().any(|line| line.starts_with("FORGED")),
            "{text}"
        );
    }
    let hits = watchfloor(args(&indicators, &db, &["hits"]), vec![]).await;
    let table = stdout(&hits);
    assert!(table.contains("North Korea launches"), "{table}");
    assert!(!table.contains(['\u{202E}', '\u{2066}']), "{table:?}");
}
