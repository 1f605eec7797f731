//! The daemon as systemd and monitoring see it: the real `watchfloor run` with a notify
//! socket, signals, and its health and metrics listener, against a feed server on 127.0.0.1.

#[path = "support/daemon.rs"]
mod daemon;
mod support;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
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
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind the notify socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let daemon = Daemon::start(
        &indicators,
        &db,
        &[
            ("NOTIFY_SOCKET", socket_path.display().to_string()),
            ("WATCHDOG_USEC", "400000".to_owned()),
        ],
    );
    let received = tokio::task::spawn_blocking(move || {
        let mut received: Vec<String> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buffer = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = socket.recv(&mut buffer) {
                received.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
            }
            let ready = received.iter().position(|m| m.contains("READY=1"));
            let pinged =
                ready.is_some_and(|r| received[r..].iter().any(|m| m.contains("WATCHDOG=1")));
            let status = received.iter().any(|m| m.contains("STATUS="));
            if pinged && status {
                break;
            }
        }
        received
    })
    .await
    .expect("joined");
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

    // New rules that drop 'wire' for another feed, and settings that load but cannot make an
    // HTTP client (a control character in the User-Agent).
    let shipped = std::fs::read_to_string(&indicators).expect("indicators");
    std::fs::write(&indicators, shipped.replace("id: wire,", "id: agency,")).expect("new rules");
    std::fs::write(
        &config,
        "mail:\n  group_wait: 5\nfetch:\n  user_agent: \"watchfloor\\x01\"\n",
    )
    .expect("new settings");
    daemon.signal("HUP");
    daemon.wait_for_log("reload failed", Duration::from_secs(10));
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
        .find(|s| s.metric == "watchfloor_polls_total" && s.labels.get("feed") == Some("wire"))
        .expect("polls of wire");
    assert_eq!(polls.labels.get("outcome"), Some("ok"));
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
    // A poll still succeeds, and its alert is still written.
    add_second_story(&feeds);
    wait_for_hits(&db, 2, &daemon);
    let messages = || {
        std::fs::read_dir(&mail)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while messages() < 2 {
        assert!(Instant::now() < deadline, "no mail:\n{}", daemon.log());
        std::thread::sleep(Duration::from_millis(100));
    }
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
