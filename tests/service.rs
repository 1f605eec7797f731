//! The daemon as systemd and monitoring see it: the real `watchfloor run` with a notify
//! socket, signals, and its health and metrics listener, against a feed server on 127.0.0.1.

#[path = "support/daemon.rs"]
mod daemon;
mod support;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use daemon::Daemon;
use support::cli::{root, rss};
use support::feed_server::{FeedServer, Response};
use watchfloor::store::Store;

const SATELLITE: &str = "North Korea launches reconnaissance satellite with Russian help";
const SOHAE: &str = "North Korea prepares a new satellite launch at Sohae, imagery shows";

/// The shipped rules with one feed polled every two seconds.
fn write_indicators(path: &Path, feed_url: &str) {
    write_indicators_with_feeds(path, &[("wire", feed_url.to_owned())]);
}

/// The shipped rules with these feeds (id, URL), each polled every two seconds.
fn write_indicators_with_feeds(path: &Path, feeds: &[(&str, String)]) {
    let shipped = std::fs::read_to_string(root().join("indicators.yaml")).expect("indicators");
    let rules = shipped.split("\nfeeds:").next().expect("rules part");
    let mut text = format!("{rules}\nfeeds:\n");
    for (id, url) in feeds {
        text.push_str(&format!(
            "  - {{id: {id}, url: '{url}', schedule: '*/2 * * * * *'}}\n"
        ));
    }
    std::fs::write(path, text).expect("write indicators");
}

fn hits(db: &Path) -> u64 {
    Store::open(db)
        .ok()
        .and_then(|s| s.totals().ok())
        .map_or(0, |(_, _, hits)| hits)
}

fn wait_for_hits(db: &Path, count: u64, daemon: &Daemon) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while hits(db) < count {
        assert!(
            Instant::now() < deadline,
            "{count} hits never came:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("the listener answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

fn state_dir() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let indicators = dir.path().join("indicators.yaml");
    let db = dir.path().join("watchfloor.db");
    (dir, indicators, db)
}

/// A feed server whose `/wire.xml` reports one satellite launch.
async fn wire() -> FeedServer {
    let feeds = FeedServer::empty().await;
    feeds.set(
        "/wire.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[("a1", SATELLITE, "https://news.test/1")]),
        ),
    );
    feeds
}

/// The wire publishes a second story, a hit too: proof that polling and matching go on.
fn add_second_story(feeds: &FeedServer) {
    feeds.set(
        "/wire.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[
                ("a1", SATELLITE, "https://news.test/1"),
                ("a2", SOHAE, "https://news.test/2"),
            ]),
        ),
    );
}

/// A daemon on a one-feed wire with a settings file, as the reload tests start it.
struct Running {
    _feeds: FeedServer,
    _dir: tempfile::TempDir,
    indicators: PathBuf,
    db: PathBuf,
    config: PathBuf,
    daemon: Daemon,
}

impl Running {
    async fn start() -> Running {
        let feeds = wire().await;
        let (dir, indicators, db) = state_dir();
        write_indicators(&indicators, &feeds.url("/wire.xml"));
        let config = dir.path().join("watchfloor.yaml");
        std::fs::write(&config, "mail:\n  group_wait: 5\n").expect("write settings");
        let daemon = Daemon::start(
            &indicators,
            &db,
            &[("WATCHFLOOR_CONFIG", config.display().to_string())],
        );
        Running {
            _feeds: feeds,
            _dir: dir,
            indicators,
            db,
            config,
            daemon,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_hears_ready_then_watchdog_pings_and_status_lines() {
    let feeds = wire().await;
    let (dir, indicators, db) = state_dir();
    write_indicators(&indicators, &feeds.url("/wire.xml"));
    let systemd = NotifyListener::start(dir.path());
    let daemon = Daemon::start(&indicators, &db, &systemd.env());
    let received = systemd
        .wait_for(0, Duration::from_secs(20), |received| {
            let ready = received.iter().position(|m| m.contains("READY=1"));
            let pinged =
                ready.is_some_and(|r| received[r..].iter().any(|m| m.contains("WATCHDOG=1")));
            pinged && received.iter().any(|m| m.contains("STATUS="))
        })
        .await;
    let ready = received
        .iter()
        .position(|m| m.contains("READY=1"))
        .unwrap_or_else(|| panic!("no READY=1 in {received:?}\n{}", daemon.log()));
    assert!(
        received[ready..].iter().any(|m| m.contains("WATCHDOG=1")),
        "WATCHDOG=1 after READY=1: {received:?}"
    );
    let status = received
        .iter()
        .find(|m| m.contains("STATUS="))
        .expect("a status line");
    assert!(
        status.contains("feeds") && status.contains("alerts pending"),
        "{status}"
    );
    let stopping = Instant::now();
    let (code, log) = daemon.stop();
    let took = stopping.elapsed();
    assert_eq!(code, Some(0), "{log}");
    assert!(took < Duration::from_secs(10), "stopped in {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_reload_keeps_the_old_rules_running_and_a_fixed_one_loads() {
    let feeds = wire().await;
    let (_dir, indicators, db) = state_dir();
    write_indicators(&indicators, &feeds.url("/wire.xml"));
    let daemon = Daemon::start(&indicators, &db, &[]);
    let base = daemon.http_base();
    wait_for_hits(&db, 1, &daemon);
    let (status, body) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"status\": \"ok\""), "{body}");

    // A broken file: the reload fails, is reported, and the old rules keep matching.
    let good = std::fs::read_to_string(&indicators).expect("read");
    std::fs::write(
        &indicators,
        good.replacen("query: >-", "query: >-\n      (", 1),
    )
    .expect("write broken");
    daemon.signal("HUP");
    let failure = daemon.wait_for_log("reload failed", Duration::from_secs(10));
    assert!(
        failure.contains("indicators.yaml:"),
        "names the place: {failure}"
    );
    let (status, body) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("last reload failed"), "{body}");
    add_second_story(&feeds);
    wait_for_hits(&db, 2, &daemon);

    // The fixed file loads; health is back.
    std::fs::write(&indicators, &good).expect("write fixed");
    daemon.signal("HUP");
    daemon.wait_for_log("reloaded:", Duration::from_secs(10));
    let (status, body) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 200, "{body}");
    let (_, metrics) = get(&format!("{base}/metrics")).await;
    assert!(
        metrics.contains("watchfloor_config_reloads_total{result=\"failure\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("watchfloor_config_reloads_total{result=\"success\"} 1"),
        "{metrics}"
    );
    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_settings_file_on_reload_leaves_the_running_settings_in_place() {
    // Named, not `..`: the feed server and the state directory live to the test's end.
    let Running {
        _feeds,
        _dir,
        indicators: _,
        db,
        config,
        daemon,
    } = Running::start().await;
    let base = daemon.http_base();
    wait_for_hits(&db, 1, &daemon);
    std::fs::write(&config, "mail:\n  group_wait: soon\n  colour: red\n").expect("break settings");
    daemon.signal("HUP");
    let failure = daemon.wait_for_log("reload failed", Duration::from_secs(10));
    assert!(failure.contains("watchfloor.yaml"), "{failure}");
    let (status, body) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 503, "{body}");
    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "the daemon ran on: {log}");
}

/// Regression: the reload wrote the new feed list to the database before a step that could
/// still fail, so a failed reload deactivated feeds while the old rules went on polling them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_fails_leaves_the_feeds_table_untouched() {
    // Named, not `..`: the feed server and the state directory live to the test's end.
    let Running {
        _feeds,
        _dir,
        indicators,
        db,
        config,
        daemon,
    } = Running::start().await;
    wait_for_hits(&db, 1, &daemon);
    let table = || {
        let mut rows: Vec<(String, bool)> = Store::open(&db)
            .expect("open")
            .feed_polling()
            .expect("feeds")
            .into_iter()
            .map(|feed| (feed.id, feed.active))
            .collect();
        rows.sort();
        rows
    };
    assert_eq!(table(), [("wire".to_owned(), true)]);

    // New rules that drop 'wire' for another feed and route an indicator to a webhook the
    // settings lack: both files load on their own, and the reload itself must refuse them.
    let shipped = std::fs::read_to_string(&indicators).expect("indicators");
    let routed = shipped.replacen(
        "    severity: high\n",
        "    severity: high\n    alert:\n      webhook: nowhere\n",
        1,
    );
    assert_ne!(routed, shipped, "an indicator to route");
    std::fs::write(&indicators, routed.replace("id: wire,", "id: agency,")).expect("new rules");
    std::fs::write(&config, "mail:\n  group_wait: 5\n").expect("new settings");
    daemon.signal("HUP");
    let failure = daemon.wait_for_log("reload failed", Duration::from_secs(10));
    assert!(failure.contains("nowhere"), "{failure}");
    assert_eq!(table(), [("wire".to_owned(), true)], "{}", daemon.log());
    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "the daemon ran on: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_valid_prometheus_text_with_polls_hits_and_build_info() {
    let feeds = wire().await;
    let (_dir, indicators, db) = state_dir();
    write_indicators(&indicators, &feeds.url("/wire.xml"));
    let daemon = Daemon::start(&indicators, &db, &[]);
    let base = daemon.http_base();
    wait_for_hits(&db, 1, &daemon);
    let (status, text) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text");
    let names: Vec<&str> = scrape.samples.iter().map(|s| s.metric.as_str()).collect();
    for name in [
        "watchfloor_build_info",
        "watchfloor_polls_total",
        "watchfloor_new_hits_total",
        "watchfloor_alerts",
        "watchfloor_hits",
        "watchfloor_items",
        "watchfloor_feed_last_success_timestamp_seconds",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let polls = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "watchfloor_polls_total"
                && s.labels.get("feed") == Some("wire")
                && s.labels.get("outcome") == Some("ok")
        })
        .expect("polls of wire");
    assert!(
        matches!(polls.value, prometheus_parse::Value::Counter(n) if n >= 1.0),
        "{:?}",
        polls.value
    );
    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_polls_are_counted_in_metrics_by_kind_of_failure() {
    let feeds = FeedServer::empty().await;
    feeds.set("/500.xml", Response::status(500));
    feeds.set(
        "/broken.xml",
        Response::ok(
            "application/rss+xml",
            "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel>\n\
             <item><title>a</titel></item>\n</channel></rss>",
        ),
    );
    feeds.set(
        "/login.xml",
        Response::ok(
            "text/html",
            "<!DOCTYPE html><html><body>Sign in</body></html>",
        ),
    );
    feeds.set(
        "/big.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[("b1", &"x".repeat(8192), "https://news.test/b")]),
        ),
    );
    let refused = support::ports::RefusedPort::new();
    let expected = [
        ("server_error", feeds.url("/500.xml"), "http_status"),
        ("broken", feeds.url("/broken.xml"), "parse"),
        ("login_wall", feeds.url("/login.xml"), "not_a_feed"),
        ("oversize", feeds.url("/big.xml"), "too_large"),
        (
            "refused",
            format!("http://127.0.0.1:{}/feed.xml", refused.port),
            "connect",
        ),
    ];
    let (_dir, indicators, db) = state_dir();
    let listed: Vec<(&str, String)> = expected
        .iter()
        .map(|(id, url, _)| (*id, url.clone()))
        .collect();
    write_indicators_with_feeds(&indicators, &listed);
    let daemon = Daemon::start(
        &indicators,
        &db,
        &[("WATCHFLOOR_FETCH_MAX_BODY", "4096".to_owned())],
    );
    let base = daemon.http_base();

    let kind_of = |scrape: &prometheus_parse::Scrape, feed: &str| {
        scrape
            .samples
            .iter()
            .find(|s| {
                s.metric == "watchfloor_fetch_errors_total" && s.labels.get("feed") == Some(feed)
            })
            .and_then(|s| s.labels.get("kind").map(str::to_owned))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, text) = get(&format!("{base}/metrics")).await;
        assert_eq!(status, 200);
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        let scrape = prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text");
        let found: Vec<(&str, Option<String>)> = expected
            .iter()
            .map(|(feed, _, _)| (*feed, kind_of(&scrape, feed)))
            .collect();
        if found.iter().all(|(_, kind)| kind.is_some()) {
            let want: Vec<(&str, Option<String>)> = expected
                .iter()
                .map(|(feed, _, kind)| (*feed, Some((*kind).to_owned())))
                .collect();
            assert_eq!(found, want, "{}", daemon.log());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every feed failed within 30 s: {found:?}\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The log keeps the messages it always gave.
    let log = daemon.log();
    for message in [
        "poll failed: HTTP 500",
        "poll failed: invalid feed at line 3",
        "poll failed: an HTML page",
        "poll failed: body larger than 4096 bytes",
        "poll failed: connection failed: tcp connect error",
    ] {
        assert!(log.contains(message), "{message} in {log}");
    }
    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn an_address_already_in_use_is_a_clear_startup_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("addr").to_string();
    let (_dir, indicators, db) = state_dir();
    write_indicators(&indicators, "http://127.0.0.1:9/feed.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_watchfloor"))
        .args(["--indicators", &indicators.display().to_string()])
        .args(["--db", &db.display().to_string()])
        .arg("run")
        .env("WATCHFLOOR_LISTEN", &address)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("http.listen") && err.contains(&address),
        "{err}"
    );
}

/// Whether the daemon has closed `stream`: end of file, or a reset, rather than nothing yet.
fn closed_by_daemon(stream: &mut std::net::TcpStream, within: Duration) -> bool {
    use std::io::Read;
    stream.set_read_timeout(Some(within)).expect("timeout");
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            // An answer (408, say) before the close: read on to the close.
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// Issue 15, item 4: 1,100 requests whose headers never finish, from one local client, held
/// every descriptor of a daemon with the usual limit of 1,024; health, the hit log, polls and
/// mail all failed with EMFILE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eleven_hundred_half_sent_requests_leave_health_the_hit_log_polls_and_mail_working() {
    use std::io::Write;
    let feeds = wire().await;
    let (dir, indicators, db) = state_dir();
    write_indicators(&indicators, &feeds.url("/wire.xml"));
    let mail = dir.path().join("mail");
    let daemon = Daemon::start_with_descriptor_limit(
        &indicators,
        &db,
        &[("WATCHFLOOR_MAIL_GROUP_WAIT", "1".to_owned())],
        1024,
    );
    let base = daemon.http_base();
    let address = base.trim_start_matches("http://").to_owned();
    daemon.wait_for_log("file descriptors: soft limit 1024", Duration::from_secs(5));
    wait_for_hits(&db, 1, &daemon);

    let flooded = Instant::now();
    let mut held = Vec::new();
    for _ in 0..1100 {
        let mut stream = std::net::TcpStream::connect(&address).expect("connect");
        stream
            .write_all(format!("GET /hits HTTP/1.1\r\nHost: {address}\r\nX-Slow: ").as_bytes())
            .expect("half a request");
        held.push(stream);
    }

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    for path in ["/healthz", "/hits", "/metrics"] {
        let response = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path} answers with 1,100 connections held: {e}"));
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
    let messages = || {
        std::fs::read_dir(&mail)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or(0)
    };
    let wait_for_messages = |count: usize| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while messages() < count {
            assert!(
                Instant::now() < deadline,
                "{count} messages never came:\n{}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // The first hit's message goes out before the second story arrives: a second hit within
    // the first's grouping window would join its message, and only one would be written.
    wait_for_messages(1);
    // A poll still succeeds, and its alert is still written.
    add_second_story(&feeds);
    wait_for_hits(&db, 2, &daemon);
    wait_for_messages(2);
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("a body");
    assert!(
        metrics.contains("watchfloor_http_connections_shed_total{reason=\"evicted\"}"),
        "{metrics}"
    );

    // Headers that never finish are cut after the header timeout (10 s), counted from the
    // connection's opening, not sooner.
    let mut slow = std::net::TcpStream::connect(&address).expect("connect");
    let opened = Instant::now();
    slow.write_all(b"GET /hits HTTP/1.1\r\nX-Slow: ")
        .expect("half a request");
    assert!(!closed_by_daemon(&mut slow, Duration::from_secs(8)));
    assert!(closed_by_daemon(&mut slow, Duration::from_secs(6)));
    let cut = opened.elapsed();
    assert!(cut >= Duration::from_secs(9), "cut after {cut:?}");
    // Every one of the flood is closed by now, evicted or timed out.
    assert!(flooded.elapsed() > Duration::from_secs(10));
    for (n, stream) in held.iter_mut().enumerate() {
        assert!(
            closed_by_daemon(stream, Duration::from_secs(2)),
            "connection {n} of the flood is still open"
        );
    }

    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "{log}");
    for symptom in ["Too many open files", "EMFILE", "cannot accept"] {
        assert!(!log.contains(symptom), "{symptom}: {log}");
    }
}

/// A body that never finishes is cut too: the request gets 30 s from its headers to our
/// answer, body included, so a client cannot hold a connection that is being answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_body_that_never_finishes_is_answered_408_and_closed_after_the_timeout() {
    use std::io::{Read, Write};
    let feeds = wire().await;
    let (_dir, indicators, db) = state_dir();
    write_indicators(&indicators, &feeds.url("/wire.xml"));
    let daemon = Daemon::start(&indicators, &db, &[]);
    let address = daemon.http_base().trim_start_matches("http://").to_owned();
    let mut slow = std::net::TcpStream::connect(&address).expect("connect");
    let sent = Instant::now();
    // Triage reads its form before anything else; ten bytes of the hundred announced.
    slow.write_all(
        format!(
            "POST /hits/1/triage HTTP/1.1\r\nHost: {address}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n\
             verdict=re"
        )
        .as_bytes(),
    )
    .expect("half a body");
    slow.set_read_timeout(Some(Duration::from_secs(45)))
        .expect("timeout");
    let mut answer = Vec::new();
    let _ = slow.read_to_end(&mut answer);
    let waited = sent.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        waited >= Duration::from_secs(29) && waited < Duration::from_secs(40),
        "answered after {waited:?}"
    );
    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "{log}");
}

// ---- Probes, metrics and the alerting rules.

/// `GET url` naming `host` in its Host header.
async fn get_as(url: &str, host: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(url)
        .header("Host", host)
        .send()
        .await
        .expect("the listener answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

/// Scrapes `/metrics`, checks it is valid Prometheus text, and returns it.
async fn scrape(base: &str) -> String {
    let (status, text) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200, "{text}");
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .expect("valid Prometheus text");
    text
}

/// The value of the sample written exactly `series` (name and labels, in the order the
/// daemon writes them), if the scrape has it.
fn value_of(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.trim().parse().expect("a number"))
}

/// Every sample of `name` with its labels as written: `(labels, value)`.
fn samples_of<'a>(text: &'a str, name: &str) -> Vec<(&'a str, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (labels, value) = rest.rsplit_once(' ')?;
            (labels.is_empty() || labels.starts_with('{'))
                .then(|| (labels, value.parse().expect("a number")))
        })
        .collect()
}

/// The names of the series of a scrape, as written: a histogram's `_bucket`, `_sum` and
/// `_count` each.
fn series_names(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.split(['{', ' ']).next().expect("a name").to_owned())
        .collect()
}

/// Waits until `check` passes on the body of `GET base+path`, or panics with the last answer.
async fn wait_for_answer(
    daemon: &Daemon,
    url: &str,
    within: Duration,
    check: impl Fn(u16, &str) -> bool,
) -> (u16, String) {
    let deadline = Instant::now() + within;
    loop {
        let (status, body) = get(url).await;
        if check(status, &body) {
            return (status, body);
        }
        assert!(
            Instant::now() < deadline,
            "{url} never answered as expected; last {status}:\n{body}\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_holds_while_every_feed_fails_and_a_reload_fails_and_readiness_says_so() {
    // One feed answers 500, the other is a port that refuses connections: the network is
    // as good as down.
    let feeds = FeedServer::empty().await;
    feeds.set("/500.xml", Response::status(500));
    let refused = support::ports::RefusedPort::new();
    let (dir, indicators, db) = state_dir();
    write_indicators_with_feeds(
        &indicators,
        &[
            ("server_error", feeds.url("/500.xml")),
            (
                "refused",
                format!("http://127.0.0.1:{}/feed.xml", refused.port),
            ),
        ],
    );
    let config = dir.path().join("watchfloor.yaml");
    std::fs::write(&config, "mail:\n  group_wait: 5\n").expect("write settings");
    let daemon = Daemon::start(
        &indicators,
        &db,
        &[("WATCHFLOOR_CONFIG", config.display().to_string())],
    );
    let base = daemon.http_base();
    let (_, health) = wait_for_answer(
        &daemon,
        &format!("{base}/healthz"),
        Duration::from_secs(30),
        |status, body| status == 503 && body.contains("2 of 2 feeds are failing"),
    )
    .await;
    assert!(health.contains("\"live\": true"), "{health}");
    assert!(health.contains("\"ready\": true"), "{health}");
    let (status, live) = get(&format!("{base}/livez")).await;
    assert_eq!(status, 200, "{live}");
    assert!(live.starts_with("live\n"), "{live}");
    for name in [
        "scheduler",
        "writer",
        "dispatcher",
        "housekeeping",
        "feed health",
    ] {
        assert!(
            live.contains(&format!("\n{name}: turned ")),
            "{name} in {live}"
        );
    }
    let (status, ready) = get(&format!("{base}/readyz")).await;
    assert_eq!((status, ready.as_str()), (200, "ready\n"));

    // A broken reload on top: still alive and ready; the report and the metrics say it.
    let reloads_before = daemon.log_len();
    std::fs::write(&config, "mail:\n  group_wait: soon\n").expect("break settings");
    daemon.signal("HUP");
    daemon.wait_for_log_after(reloads_before, "reload failed", Duration::from_secs(10));
    let (status, live) = get(&format!("{base}/livez")).await;
    assert_eq!(status, 200, "{live}");
    let (status, ready) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 200, "{ready}");
    let (status, health) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 503, "{health}");
    assert!(health.contains("last reload failed"), "{health}");
    let text = scrape(&base).await;
    assert_eq!(value_of(&text, "watchfloor_live"), Some(1.0), "{text}");
    assert_eq!(value_of(&text, "watchfloor_ready"), Some(1.0), "{text}");
    assert_eq!(
        value_of(&text, "watchfloor_config_last_reload_successful"),
        Some(0.0),
        "{text}"
    );
    for feed in ["server_error", "refused"] {
        let failures = value_of(
            &text,
            &format!("watchfloor_feed_consecutive_failures{{feed=\"{feed}\"}}"),
        );
        assert!(failures.is_some_and(|n| n >= 1.0), "{feed}: {text}");
    }
    assert_eq!(value_of(&text, "watchfloor_feeds"), Some(2.0));
    assert_eq!(value_of(&text, "watchfloor_feeds_failing"), Some(2.0));

    // A good reload that drops the refused feed: it no longer counts as failing anywhere.
    std::fs::write(&config, "mail:\n  group_wait: 5\n").expect("fix settings");
    write_indicators_with_feeds(&indicators, &[("server_error", feeds.url("/500.xml"))]);
    let reloads_before = daemon.log_len();
    daemon.signal("HUP");
    daemon.wait_for_log_after(reloads_before, "reloaded:", Duration::from_secs(10));
    let text = scrape(&base).await;
    assert_eq!(value_of(&text, "watchfloor_feeds"), Some(1.0), "{text}");
    assert_eq!(value_of(&text, "watchfloor_feeds_failing"), Some(1.0));
    assert_eq!(
        value_of(
            &text,
            "watchfloor_feed_consecutive_failures{feed=\"refused\"}"
        ),
        Some(0.0)
    );
    assert_eq!(
        value_of(&text, "watchfloor_config_last_reload_successful"),
        Some(1.0)
    );

    // The probes keep the listener's host check, and read nothing from the request.
    for path in ["/livez", "/readyz"] {
        let (status, body) = get_as(&format!("{base}{path}"), "rebound.example").await;
        assert_eq!(status, 421, "{path}: {body}");
        let long = format!("{base}{path}?{}", "%00a=".repeat(10_000));
        let (status, body) = get(&long).await;
        assert_eq!(status, 200, "{path}");
        assert!(!body.contains("%00"), "{body}");
    }
    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_with_its_reason_while_the_database_cannot_be_written() {
    let feeds = wire().await;
    let (dir, indicators, db) = state_dir();
    write_indicators(&indicators, &feeds.url("/wire.xml"));
    // systemd's side too: the watchdog must go on being pinged, every 200 ms.
    let systemd = NotifyListener::start(dir.path());
    let daemon = Daemon::start_for_storage_faults(&indicators, &db, &systemd.env());
    let base = daemon.http_base();
    wait_for_hits(&db, 1, &daemon);
    let (status, ready) = get(&format!("{base}/readyz")).await;
    assert_eq!((status, ready.as_str()), (200, "ready\n"));

    // No file of the daemon's may grow: the next poll's write fails as on a full disk.
    daemon.limit_file_size(Some(1));
    add_second_story(&feeds);
    let (_, ready) = wait_for_answer(
        &daemon,
        &format!("{base}/readyz"),
        Duration::from_secs(30),
        |status, _| status == 503,
    )
    .await;
    assert!(
        ready.starts_with("not ready\nstorage failing: writes refused since "),
        "{ready}"
    );
    assert!(
        ready.contains("polls and alerts are not being recorded"),
        "{ready}"
    );
    // Alive all the same: a restart frees no disk.
    let (status, live) = get(&format!("{base}/livez")).await;
    assert_eq!(status, 200, "{live}");
    let (status, health) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 503, "{health}");
    assert!(health.contains("storage failing"), "{health}");
    assert!(
        health.contains("\"live\": true") && health.contains("\"ready\": false"),
        "{health}"
    );
    let text = scrape(&base).await;
    assert_eq!(
        value_of(&text, "watchfloor_storage_writes_failing"),
        Some(1.0)
    );
    assert_eq!(value_of(&text, "watchfloor_ready"), Some(0.0));
    assert_eq!(value_of(&text, "watchfloor_live"), Some(1.0));
    // What systemd hears from now on: pings, and a status line that says "not ready".
    let from = systemd.heard().len();
    let since_failure = systemd
        .wait_for(from, Duration::from_secs(5), |since| {
            let pings = since.iter().filter(|m| m.contains("WATCHDOG=1")).count();
            pings >= 3 && since.iter().any(|m| m.contains("not ready"))
        })
        .await;
    let pings = since_failure
        .iter()
        .filter(|m| m.contains("WATCHDOG=1"))
        .count();
    assert!(
        pings >= 3,
        "the watchdog stopped while storage failed: {since_failure:?}"
    );
    assert!(
        since_failure
            .iter()
            .any(|m| m.contains("STATUS=") && m.contains("; not ready (see /readyz)")),
        "{since_failure:?}"
    );

    // Room again: the next write succeeds and the daemon is ready, the second story recorded.
    daemon.limit_file_size(None);
    wait_for_answer(
        &daemon,
        &format!("{base}/readyz"),
        Duration::from_secs(30),
        |status, _| status == 200,
    )
    .await;
    wait_for_hits(&db, 2, &daemon);
    let text = scrape(&base).await;
    assert_eq!(
        value_of(&text, "watchfloor_storage_writes_failing"),
        Some(0.0)
    );
    let (code, log) = daemon.stop();
    drop(systemd);
    assert_eq!(code, Some(0), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_start_at_zero_for_the_configuration_and_follow_reloads() {
    let Running {
        _feeds,
        _dir,
        indicators,
        db,
        config: _,
        daemon,
    } = Running::start().await;
    let base = daemon.http_base();
    let started = chrono::Utc::now().timestamp() as f64;
    wait_for_hits(&db, 1, &daemon);
    let text = scrape(&base).await;

    // Every indicator of the rules has its series, at zero when it has no hit yet.
    let rules = watchfloor::config::Indicators::load(&indicators).expect("rules");
    let mut silent = 0;
    for indicator in &rules.indicators {
        let id = &indicator.id;
        let new = value_of(
            &text,
            &format!("watchfloor_new_hits_total{{indicator=\"{id}\"}}"),
        );
        let stored = value_of(&text, &format!("watchfloor_hits{{indicator=\"{id}\"}}"));
        assert!(new.is_some() && stored.is_some(), "{id}: {text}");
        if id != "satellite_launch" {
            assert_eq!((new, stored), (Some(0.0), Some(0.0)), "{id}");
            silent += 1;
        }
    }
    assert!(silent >= 3, "the shipped rules have silent indicators");
    assert_eq!(
        value_of(
            &text,
            "watchfloor_new_hits_total{indicator=\"satellite_launch\"}"
        ),
        Some(1.0)
    );
    for outcome in ["ok", "not_modified", "error"] {
        let polls = value_of(
            &text,
            &format!("watchfloor_polls_total{{feed=\"wire\",outcome=\"{outcome}\"}}"),
        );
        assert!(polls.is_some(), "{outcome}: {text}");
    }
    assert!(
        value_of(&text, "watchfloor_fetch_bytes_total{feed=\"wire\"}").is_some_and(|b| b > 100.0)
    );
    assert_eq!(
        value_of(&text, "watchfloor_build_info{version=\"0.1.0\"}"),
        Some(1.0)
    );
    assert_eq!(
        value_of(&text, "watchfloor_messages{status=\"failed\"}"),
        Some(0.0)
    );
    assert!(value_of(&text, "watchfloor_outbox_oldest_waiting_seconds").is_some());

    // The histogram: buckets that never fall, and +Inf equal to the count, per outcome.
    for outcome in ["ok", "not_modified", "error"] {
        let buckets: Vec<f64> = samples_of(&text, "watchfloor_poll_duration_seconds_bucket")
            .into_iter()
            .filter(|(labels, _)| labels.contains(&format!("outcome=\"{outcome}\"")))
            .map(|(_, value)| value)
            .collect();
        assert_eq!(buckets.len(), 13, "{outcome}: 12 bounds and +Inf\n{text}");
        assert!(
            buckets.windows(2).all(|w| w[0] <= w[1]),
            "{outcome}: {buckets:?}"
        );
        let infinite = value_of(
            &text,
            &format!(
                "watchfloor_poll_duration_seconds_bucket{{outcome=\"{outcome}\",le=\"+Inf\"}}"
            ),
        );
        let count = value_of(
            &text,
            &format!("watchfloor_poll_duration_seconds_count{{outcome=\"{outcome}\"}}"),
        );
        assert_eq!(infinite, count, "{outcome}");
        assert_eq!(infinite, buckets.last().copied());
    }
    let ok_polls = value_of(
        &text,
        "watchfloor_poll_duration_seconds_count{outcome=\"ok\"}",
    );
    assert!(ok_polls.is_some_and(|n| n >= 1.0), "{text}");

    // The process, read from /proc.
    let pid_rss = daemon.status_kb("VmRSS").expect("VmRSS") as f64 * 1024.0;
    let rss = value_of(&text, "process_resident_memory_bytes").expect("resident memory");
    assert!(
        rss > pid_rss / 4.0 && rss < pid_rss * 4.0,
        "{rss} against {pid_rss}"
    );
    let start = value_of(&text, "process_start_time_seconds").expect("start time");
    assert!((start - started).abs() < 120.0, "{start} against {started}");
    for name in [
        "process_cpu_seconds_total",
        "process_virtual_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_threads",
    ] {
        assert!(
            value_of(&text, name).is_some_and(|v| v > 0.0),
            "{name}: {text}"
        );
    }
    assert!(text.contains("# TYPE process_cpu_seconds_total counter"));

    // The start counts as a successful load.
    assert_eq!(
        value_of(&text, "watchfloor_config_last_reload_successful"),
        Some(1.0)
    );
    let loaded = value_of(
        &text,
        "watchfloor_config_last_reload_success_timestamp_seconds",
    )
    .expect("loaded at");
    assert!((loaded - started).abs() < 120.0, "{loaded}");

    // A good reload that renames an indicator: the new name has its series at once, at 0.
    let shipped = std::fs::read_to_string(&indicators).expect("rules");
    std::fs::write(
        &indicators,
        shipped.replace("id: labor_export", "id: labor_export_renamed"),
    )
    .expect("rename");
    let before = daemon.log_len();
    daemon.signal("HUP");
    daemon.wait_for_log_after(before, "reloaded:", Duration::from_secs(10));
    let text = scrape(&base).await;
    assert_eq!(
        value_of(
            &text,
            "watchfloor_new_hits_total{indicator=\"labor_export_renamed\"}"
        ),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        value_of(&text, "watchfloor_hits{indicator=\"labor_export_renamed\"}"),
        Some(0.0)
    );
    assert_eq!(
        value_of(&text, "watchfloor_config_last_reload_successful"),
        Some(1.0)
    );
    let reloaded = value_of(
        &text,
        "watchfloor_config_last_reload_success_timestamp_seconds",
    )
    .expect("reloaded at");
    assert!(reloaded >= loaded, "{reloaded} after {loaded}");

    // A bad one: the gauge falls, the success time stays, the attempt time moves.
    std::fs::write(
        &indicators,
        shipped.replacen("query: >-", "query: >-\n      (", 1),
    )
    .expect("break");
    let before = daemon.log_len();
    daemon.signal("HUP");
    daemon.wait_for_log_after(before, "reload failed", Duration::from_secs(10));
    let text = scrape(&base).await;
    assert_eq!(
        value_of(&text, "watchfloor_config_last_reload_successful"),
        Some(0.0)
    );
    assert_eq!(
        value_of(
            &text,
            "watchfloor_config_last_reload_success_timestamp_seconds"
        ),
        Some(reloaded)
    );
    let tried = value_of(&text, "watchfloor_config_last_reload_timestamp_seconds").expect("tried");
    assert!(tried >= reloaded);
    assert!(text.contains("watchfloor_config_reloads_total{result=\"failure\"} 1"));
    assert!(text.contains("watchfloor_config_reloads_total{result=\"success\"} 1"));
    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "{log}");
}

/// The rules of deploy/prometheus/alerts.yml, as far as these checks read them.
#[derive(serde::Deserialize)]
struct RuleFile {
    groups: Vec<RuleGroup>,
}

#[derive(serde::Deserialize)]
struct RuleGroup {
    rules: Vec<AlertRule>,
}

#[derive(serde::Deserialize)]
struct AlertRule {
    alert: String,
    expr: String,
    #[serde(rename = "for")]
    hold: Option<String>,
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
}

fn alert_rules() -> Vec<AlertRule> {
    let text = std::fs::read_to_string(root().join("deploy/prometheus/alerts.yml")).expect("rules");
    let file: RuleFile = serde_saphyr::from_str(&text).expect("alerts.yml is YAML of rules");
    file.groups.into_iter().flat_map(|g| g.rules).collect()
}

/// The watchfloor and process series an expression names (`up` is Prometheus's own).
fn series_in(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = ["watchfloor_", "process_"]
        .iter()
        .filter_map(|prefix| rest.find(prefix))
        .min()
    {
        let word: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + word.len()..];
        names.push(word);
    }
    names
}

#[test]
fn every_alert_rule_has_a_hold_a_severity_and_words_and_is_tested_firing_and_quiet() {
    let rules = alert_rules();
    assert!(rules.len() >= 8, "{} rules", rules.len());
    let tests =
        std::fs::read_to_string(root().join("deploy/prometheus/alerts.test.yml")).expect("tests");
    for rule in &rules {
        let name = &rule.alert;
        assert!(
            rule.hold.as_deref().is_some_and(|h| !h.is_empty()),
            "{name}: no for:"
        );
        let severity = rule.labels.get("severity").map(String::as_str);
        assert!(
            matches!(severity, Some("critical" | "warning" | "info")),
            "{name}: severity {severity:?}"
        );
        for annotation in ["summary", "description"] {
            assert!(
                rule.annotations
                    .get(annotation)
                    .is_some_and(|a| !a.is_empty()),
                "{name}: no {annotation}"
            );
        }
        // A case where it fires and one where it stays quiet.
        let cases: Vec<&str> = tests
            .split("alertname: ")
            .skip(1)
            .filter(|case| case.lines().next() == Some(name.as_str()))
            .collect();
        assert!(
            cases.iter().any(|c| c
                .lines()
                .nth(1)
                .is_some_and(|l| l.contains("exp_alerts: []"))),
            "{name}: no quiet case in alerts.test.yml"
        );
        assert!(
            cases
                .iter()
                .any(|c| c.lines().nth(1).is_some_and(|l| l.trim() == "exp_alerts:")),
            "{name}: no firing case in alerts.test.yml"
        );
    }
    assert_eq!(
        series_in("sum(rate(watchfloor_polls_total{a=\"b\"}[5m])) / process_open_fds > up"),
        ["watchfloor_polls_total", "process_open_fds"]
    );
}

#[test]
fn promtool_checks_the_alert_rules_and_passes_their_unit_tests() {
    let promtool = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("promtool"))
        .find(|path| path.is_file());
    let Some(promtool) = promtool else {
        assert!(
            std::env::var_os("WATCHFLOOR_REQUIRE_PROMTOOL").is_none(),
            "WATCHFLOOR_REQUIRE_PROMTOOL is set but promtool is not on PATH \
             (Debian: apt-get install prometheus)"
        );
        eprintln!(
            "SKIPPED: promtool is not on PATH (Debian: apt-get install prometheus); \
             the alerting rules were not checked by promtool"
        );
        return;
    };
    let dir = root().join("deploy/prometheus");
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts.test.yml"],
    ] {
        let out = Command::new(&promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("promtool runs");
        assert!(
            out.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// What keeps the rules and the code from drifting apart: every series the rules name is in
/// a scrape of the real daemon, from its first minute (before any failure, message or reload).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_series_the_alert_rules_name_is_exported_by_the_daemon() {
    let feeds = wire().await;
    let (_dir, indicators, db) = state_dir();
    write_indicators(&indicators, &feeds.url("/wire.xml"));
    let daemon = Daemon::start(&indicators, &db, &[]);
    let base = daemon.http_base();
    wait_for_hits(&db, 1, &daemon);
    let exported = series_names(&scrape(&base).await);
    let mut named = 0;
    for rule in alert_rules() {
        for series in series_in(&rule.expr) {
            named += 1;
            assert!(
                exported.contains(&series),
                "{}: {series} is not exported; the daemon exports {exported:?}",
                rule.alert
            );
        }
    }
    assert!(named >= 10, "the rules name {named} series");
    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "{log}");
}

/// systemd's end of the notify protocol: a datagram socket the daemon is pointed at
/// (`NOTIFY_SOCKET`), read all along on a thread of its own, as systemd reads it (a socket
/// nobody reads fills up and blocks the daemon's sends).
struct NotifyListener {
    path: PathBuf,
    heard: Arc<Mutex<Vec<String>>>,
    listening: Arc<AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl NotifyListener {
    fn start(dir: &Path) -> NotifyListener {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let heard: Arc<Mutex<Vec<String>>> = Arc::default();
        let listening = Arc::new(AtomicBool::new(true));
        let reader = {
            let (heard, listening) = (heard.clone(), listening.clone());
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                while listening.load(Ordering::Relaxed) {
                    if let Ok(n) = socket.recv(&mut buffer) {
                        let message = String::from_utf8_lossy(&buffer[..n]).into_owned();
                        heard.lock().unwrap().push(message);
                    }
                }
            })
        };
        NotifyListener {
            path,
            heard,
            listening,
            reader: Some(reader),
        }
    }

    /// The daemon's environment: this socket, and a watchdog interval of 400 ms.
    fn env(&self) -> [(&'static str, String); 2] {
        [
            ("NOTIFY_SOCKET", self.path.display().to_string()),
            ("WATCHDOG_USEC", "400000".to_owned()),
        ]
    }

    fn heard(&self) -> Vec<String> {
        self.heard.lock().unwrap().clone()
    }

    /// The messages heard from `from` on, once `enough` says they are enough or `within` has
    /// passed.
    async fn wait_for(
        &self,
        from: usize,
        within: Duration,
        enough: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let since: Vec<String> = self.heard.lock().unwrap()[from..].to_vec();
            if enough(&since) || Instant::now() > deadline {
                return since;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for NotifyListener {
    fn drop(&mut self) {
        self.listening.store(false, Ordering::Relaxed);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}
