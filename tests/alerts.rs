//! Alerts against a real SMTP server (aiosmtpd on 127.0.0.1): hits are ingested through the
//! real pipeline into a real SQLite file, the dispatcher delivers them, and the tests read
//! the delivered messages back from the server's Maildir and parse them.
//!
//! The dispatcher takes the time as an argument, so grouping windows, backoff, the hourly cap
//! and the digest are exercised at chosen instants rather than by waiting.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use support::smtp_server::{Delivered, SmtpServer, TestCertificate};
use watchfloor::alert::Dispatcher;
use watchfloor::alert::transport::{SendError, Transport};
use watchfloor::app::App;
use watchfloor::config::{Indicators, Settings};
use watchfloor::store::{AlertStatus, Store};

const SATELLITE: &str = "North Korea launches reconnaissance satellite with Russian help";
const SOHAE: &str = "North Korea prepares a new satellite launch at Sohae, imagery shows";
const WORKERS: &str = "North Korean workers sent to Russian construction sites in Primorye";
const ARMS: &str = "South Korea considers supplying weapons to Ukraine directly";
const OIL: &str = "Russia delivers oil products to North Korea by rail, exceeding UN cap";
const WHEAT: &str = "Russian wheat shipments to North Korea double this year";

/// A database, the shipped indicators, three feeds, and the daemon built on the settings given.
struct Harness {
    dir: PathBuf,
    settings: Settings,
    app: App,
}

impl Harness {
    fn dispatcher(&self) -> &Dispatcher {
        self.app.dispatcher()
    }

    /// A connection of its own, as `watchfloor alerts` opens one beside the daemon.
    fn store(&self) -> Store {
        Store::open(&self.settings.database).expect("open")
    }
}

fn settings(dir: &Path, env: &[(&str, String)]) -> Settings {
    support::app::settings(dir, env)
}

fn harness(dir: &Path, env: &[(&str, String)]) -> Harness {
    harness_with(dir, env, support::app::shipped_rules())
}

fn harness_with(dir: &Path, env: &[(&str, String)], indicators: Indicators) -> Harness {
    std::fs::create_dir_all(dir).expect("state dir");
    let settings = settings(dir, env);
    let app = support::app::build_app(
        settings.clone(),
        indicators,
        support::app::feeds(&["wire", "agency", "paper"]),
    );
    Harness {
        dir: dir.to_owned(),
        settings,
        app,
    }
}

fn smtp_env(server: &SmtpServer, to: &str) -> Vec<(&'static str, String)> {
    vec![
        ("WATCHFLOOR_SMTP_URL", server.url()),
        ("WATCHFLOOR_MAIL_TLS", "none".to_owned()),
        (
            "WATCHFLOOR_MAIL_FROM",
            "watchfloor@watch.example.org".to_owned(),
        ),
        ("WATCHFLOOR_MAIL_TO", to.to_owned()),
    ]
}

/// Serves `items` (guid, title, link) as one RSS document of `feed` at `now`.
fn feed_items(h: &Harness, feed: &str, items: &[(&str, &str, &str)], now: DateTime<Utc>) {
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Wire</title>",
    );
    for (guid, title, link) in items {
        body.push_str(&format!(
            "<item><guid>{guid}</guid><title>{title}</title><link>{link}</link>\
             <description>{title}. Officials confirmed the report on Tuesday.</description></item>"
        ));
    }
    body.push_str("</channel></rss>");
    support::app::ingest_rss(&h.app, feed, body, now);
}

/// One story for each of the four indicators, a second apart, through feed `wire`.
fn four_stories(h: &Harness) {
    for (i, title) in [SATELLITE, WORKERS, ARMS, OIL].iter().enumerate() {
        let guid = format!("g{i}");
        let link = format!("https://news.test/{i}");
        feed_items(h, "wire", &[(&guid, title, &link)], t0() + secs(i as i64));
    }
}

fn t0() -> DateTime<Utc> {
    // A fixed instant well away from the default digest hour.
    DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn counts(h: &Harness) -> watchfloor::store::OutboxCounts {
    h.store().outbox_counts().expect("counts")
}

fn message_ids(messages: &[Delivered]) -> Vec<String> {
    messages.iter().map(Delivered::message_id).collect()
}

#[test]
fn an_alert_arrives_once_with_its_evidence_and_headers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::start(&dir.path().join("smtp"));
    let h = harness(dir.path(), &smtp_env(&server, "analyst@example.org"));
    feed_items(
        &h,
        "wire",
        &[("a1", SATELLITE, "https://news.test/sat")],
        t0(),
    );
    let rt = rt();

    let early = rt
        .block_on(h.dispatcher().round(t0() + secs(5), false, None))
        .expect("round");
    assert_eq!(early.sent, 0, "the group window is still open");
    let report = rt
        .block_on(h.dispatcher().round(t0() + secs(31), false, None))
        .expect("round");
    assert_eq!((report.planned, report.sent), (1, 1), "{report:?}");
    let again = rt
        .block_on(h.dispatcher().round(t0() + secs(600), false, None))
        .expect("round");
    assert_eq!(again.sent, 0, "sent once");

    let messages = server.wait_for(1, Duration::from_secs(5));
    assert_eq!(messages.len(), 1);
    let mail = &messages[0];
    assert_eq!(mail.rcpt_to(), "analyst@example.org");
    assert_eq!(
        mail.subject(),
        format!("[watchfloor][high] North Korean satellite launch: {SATELLITE}")
    );
    assert!(
        mail.message_id().starts_with("watchfloor.alert-"),
        "{}",
        mail.message_id()
    );
    assert!(mail.message_id().ends_with("@watch.example.org"));
    assert_eq!(mail.header("Auto-Submitted"), "auto-generated");
    assert!(
        mail.header("List-Id").contains("satellite_launch"),
        "{}",
        mail.header("List-Id")
    );
    let text = mail.text();
    let html = mail.html();
    assert!(text.contains("https://news.test/sat"), "{text}");
    assert!(text.contains("wire"), "the source feed is named: {text}");
    assert!(
        html.contains("<mark>"),
        "matched terms are highlighted: {html}"
    );
    assert!(html.contains("href=\"https://news.test/sat\""), "{html}");
    let c = counts(&h);
    assert_eq!((c.sent, c.pending, c.failed), (1, 0, 0));
}

#[test]
fn starttls_is_used_with_a_trusted_certificate_and_required_otherwise() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certificate = TestCertificate::make(dir.path());
    let server = SmtpServer::start_tls(&dir.path().join("smtp-tls"), &certificate);
    let env = vec![
        ("WATCHFLOOR_SMTP_URL", server.url()),
        (
            "WATCHFLOOR_SMTP_CA_FILE",
            certificate.ca.display().to_string(),
        ),
        ("WATCHFLOOR_MAIL_TO", "analyst@example.org".to_owned()),
    ];
    let h = harness(&dir.path().join("a"), &env);
    feed_items(
        &h,
        "wire",
        &[("a1", SATELLITE, "https://news.test/sat")],
        t0(),
    );
    let report = rt()
        .block_on(h.dispatcher().round(t0() + secs(60), false, None))
        .expect("round");
    assert_eq!(report.sent, 1, "{report:?}");
    assert_eq!(server.wait_for(1, Duration::from_secs(5)).len(), 1);

    // A server that offers no STARTTLS gets nothing in clear: the send waits for a retry.
    let plain = SmtpServer::start(&dir.path().join("smtp-plain"));
    let env = vec![
        ("WATCHFLOOR_SMTP_URL", plain.url()),
        ("WATCHFLOOR_MAIL_TO", "analyst@example.org".to_owned()),
    ];
    let h = harness(&dir.path().join("b"), &env);
    feed_items(
        &h,
        "wire",
        &[("a1", SATELLITE, "https://news.test/sat")],
        t0(),
    );
    let report = rt()
        .block_on(h.dispatcher().round(t0() + secs(60), false, None))
        .expect("round");
    assert_eq!((report.sent, report.retrying), (0, 1), "{report:?}");
    assert!(plain.messages().is_empty(), "nothing was sent without TLS");
}

#[test]
fn an_smtp_outage_delays_alerts_but_delivers_every_one_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = SmtpServer::reserve(&dir.path().join("smtp"));
    let h = harness(dir.path(), &smtp_env(&server, "analyst@example.org"));
    four_stories(&h);
    let rt = rt();
    let down = rt
        .block_on(h.dispatcher().round(t0() + secs(60), false, None))
        .expect("round");
    assert_eq!(
        (down.planned, down.sent, down.retrying),
        (4, 0, 4),
        "{down:?}"
    );
    assert!(down.errors[0].contains("message"), "{:?}", down.errors);
    let still_down = rt
        .block_on(h.dispatcher().round(t0() + secs(95), false, None))
        .expect("round");
    assert_eq!(still_down.retrying, 4, "retried after 30 s: {still_down:?}");

    server.resume();
    let early = rt
        .block_on(h.dispatcher().round(t0() + secs(120), false, None))
        .expect("round");
    assert_eq!(early.sent, 0, "the second retry waits 60 s: {early:?}");
    let back = rt
        .block_on(h.dispatcher().round(t0() + secs(160), false, None))
        .expect("round");
    assert_eq!(back.sent, 4, "{back:?}");
    rt.block_on(h.dispatcher().round(t0() + secs(3600), false, None))
        .expect("round");

    let messages = server.wait_for(4, Duration::from_secs(5));
    let mut ids = message_ids(&messages);
    ids.sort();
    ids.dedup();
    assert_eq!((messages.len(), ids.len()), (4, 4), "each alert once");
    let c = counts(&h);
    assert_eq!((c.sent, c.pending, c.messages_pending), (4, 0, 0));
}

/// A relay that greets every session with `greeting` and hangs up, counting sessions: one
/// in maintenance (421) or refusing service outright (554).
struct RefusingRelay {
    port: u16,
    sessions: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl RefusingRelay {
    fn start(greeting: &'static str) -> RefusingRelay {
        use std::io::Write;
        use std::sync::atomic::Ordering;

        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let sessions = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = sessions.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = stream.write_all(format!("{greeting}\r\n").as_bytes());
            }
        });
        RefusingRelay { port, sessions }
    }

    fn sessions(&self) -> usize {
        self.sessions.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "WATCHFLOOR_SMTP_URL",
                format!("smtp://127.0.0.1:{}", self.port),
            ),
            ("WATCHFLOOR_MAIL_TLS", "none".to_owned()),
            ("WATCHFLOOR_MAIL_TO", "analyst@example.org".to_owned()),
        ]
    }
}

/// A relay that refuses sessions is tried once a round, not once a message, and a refusal
/// of the session, even a permanent-sounding 554, gives up on no message: none was offered.
#[test]
fn a_relay_that_refuses_sessions_is_tried_once_a_round_and_loses_no_alert() {
    for greeting in [
        "421 mx.example.org closing for maintenance",
        "554 mx.example.org no service",
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let relay = RefusingRelay::start(greeting);
        let h = harness(dir.path(), &relay.env());
        four_stories(&h);
        let rt = rt();
        let down = rt
            .block_on(h.dispatcher().round(t0() + secs(60), false, None))
            .expect("round");
        assert_eq!(
            (down.planned, down.sent, down.retrying, down.failed),
            (4, 0, 4, 0),
            "{greeting}: {down:?}"
        );
        assert_eq!(relay.sessions(), 1, "{greeting}: one try for the round");
        assert!(
            down.errors.iter().all(|e| e.contains(&greeting[..3])),
            "{greeting}: every message says why: {:?}",
            down.errors
        );
        let again = rt
            .block_on(h.dispatcher().round(t0() + secs(95), false, None))
            .expect("round");
        assert_eq!((again.retrying, again.failed), (4, 0), "{again:?}");
        assert_eq!(
            relay.sessions(),
            2,
            "{greeting}: one more try the next round"
        );
        let c = counts(&h);
        assert_eq!((c.sent, c.messages_pending), (0, 4), "{greeting}");
    }
}

#[test]
fn a_4xx_reply_is_retried_and_a_5xx_reply_fails_at_once_and_stays_visible() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::start(&dir.path().join("smtp"));
    let h = harness(
        dir.path(),
        &smtp_env(
            &server,
            "tempfail@example.org, reject@example.org, ok@example.org",
        ),
    );
    feed_items(
        &h,
        "wire",
        &[("a1", SATELLITE, "https://news.test/sat")],
        t0(),
    );
    let rt = rt();
    let first = rt
        .block_on(h.dispatcher().round(t0() + secs(60), false, None))
        .expect("round");
    assert_eq!(
        (first.sent, first.retrying, first.failed),
        (1, 1, 1),
        "{first:?}"
    );

    let store = || h.store();
    let failed = store()
        .alerts(Some(AlertStatus::Failed), 10)
        .expect("alerts");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].recipient, "reject@example.org");
    let reason = failed[0]
        .message
        .as_ref()
        .and_then(|m| m.last_error.clone());
    assert!(
        reason.as_deref().is_some_and(|r| r.contains("550")),
        "{reason:?}"
    );
    let pending = store()
        .alerts(Some(AlertStatus::Pending), 10)
        .expect("alerts");
    assert_eq!(pending.len(), 1);
    let retrying = pending[0].message.clone().expect("planned");
    assert!(
        retrying
            .last_error
            .as_deref()
            .is_some_and(|r| r.contains("451"))
    );
    assert_eq!(retrying.next_attempt, t0() + secs(90), "30 s backoff");

    // A day of 4xx replies gives up too.
    let later = rt
        .block_on(
            h.dispatcher()
                .round(t0() + secs(60 + 24 * 3600), false, None),
        )
        .expect("round");
    assert_eq!(later.failed, 1, "{later:?}");
    assert_eq!(store().outbox_counts().expect("counts").failed, 2);

    // Failed alerts are never deleted: a retry by hand queues them again.
    assert_eq!(store().retry_failed(t0() + secs(90_000)).expect("retry"), 2);
    assert_eq!(store().outbox_counts().expect("counts").failed, 0);
    assert_eq!(server.messages().len(), 1);
}

#[test]
fn a_crash_between_acceptance_and_acknowledgement_resends_with_the_same_message_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::start(&dir.path().join("smtp"));
    let env = smtp_env(&server, "analyst@example.org");
    let rt = rt();
    {
        let h = harness(dir.path(), &env);
        feed_items(
            &h,
            "wire",
            &[("a1", SATELLITE, "https://news.test/sat")],
            t0(),
        );
        assert_eq!(
            rt.block_on(h.dispatcher().plan(t0() + secs(60), false))
                .expect("plan"),
            1
        );
        let due = h.store().due_messages(t0() + secs(60), 10).expect("due");
        // The server accepts the message; the process dies before recording it.
        rt.block_on(h.dispatcher().send(&due[0], t0() + secs(60)))
            .expect("accepted");
    }
    let h = harness(dir.path(), &env);
    let report = rt
        .block_on(h.dispatcher().round(t0() + secs(120), false, None))
        .expect("round");
    assert_eq!(
        report.sent, 1,
        "the unacknowledged message is sent again: {report:?}"
    );
    rt.block_on(h.dispatcher().round(t0() + secs(600), false, None))
        .expect("round");

    let messages = server.wait_for(2, Duration::from_secs(5));
    assert_eq!(messages.len(), 2, "one duplicate at most");
    assert_eq!(messages[0].message_id(), messages[1].message_id());
    assert_eq!(counts(&h).sent, 1);
}

#[test]
fn hostile_titles_cannot_inject_headers_or_markup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::start(&dir.path().join("smtp"));
    let h = harness(dir.path(), &smtp_env(&server, "analyst@example.org"));
    let title = "North Korea launches satellite &lt;script&gt;alert(1)&lt;/script&gt;&#13;&#10;Bcc: victim@example.org&#13;&#10;&#13;&#10;\"&gt;&lt;img src=x onerror=alert(2)&gt; \u{202e}evil";
    feed_items(&h, "wire", &[("a1", title, "javascript:alert(3)")], t0());
    let report = rt()
        .block_on(h.dispatcher().round(t0() + secs(60), false, None))
        .expect("round");
    assert_eq!(report.sent, 1, "{report:?}");
    let messages = server.wait_for(1, Duration::from_secs(5));
    let mail = &messages[0];
    assert_eq!(
        mail.rcpt_to(),
        "analyst@example.org",
        "no injected recipient"
    );
    assert!(mail.header("Bcc").is_empty());
    let subject = mail.subject();
    assert!(
        !subject.contains('\n') && !subject.contains('\r'),
        "{subject:?}"
    );
    assert!(!subject.contains('\u{202e}'), "{subject:?}");
    let html = mail.html();
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(
        !html.contains("onerror=alert(2)\""),
        "no attribute breaks out: {html}"
    );
    assert!(
        !html.contains("href=\"javascript:"),
        "no javascript: href: {html}"
    );
    assert!(!mail.text().contains("<script"), "{}", mail.text());
}

#[test]
fn immediate_hits_of_one_indicator_within_the_window_share_a_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::start(&dir.path().join("smtp"));
    let h = harness(dir.path(), &smtp_env(&server, "analyst@example.org"));
    feed_items(
        &h,
        "wire",
        &[("a1", SATELLITE, "https://news.test/1")],
        t0(),
    );
    feed_items(
        &h,
        "agency",
        &[("b1", SOHAE, "https://agency.test/2")],
        t0() + secs(10),
    );
    feed_items(
        &h,
        "wire",
        &[("a3", OIL, "https://news.test/3")],
        t0() + secs(20),
    );
    let report = rt()
        .block_on(h.dispatcher().round(t0() + secs(55), false, None))
        .expect("round");
    assert_eq!(report.sent, 2, "{report:?}");
    let messages = server.wait_for(2, Duration::from_secs(5));
    let subjects: Vec<String> = messages.iter().map(Delivered::subject).collect();
    let satellite = messages
        .iter()
        .find(|m| m.header("List-Id").contains("satellite_launch"))
        .expect("the satellite message");
    assert_eq!(
        satellite.header("X-Watchfloor-Hits").split(',').count(),
        2,
        "{subjects:?}"
    );
    assert!(satellite.text().contains(SOHAE) && satellite.text().contains(SATELLITE));
}

#[test]
fn the_hourly_cap_rolls_the_overflow_into_one_summary_and_drops_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::start(&dir.path().join("smtp"));
    let mut env = smtp_env(&server, "analyst@example.org");
    env.push(("WATCHFLOOR_MAIL_MAX_PER_HOUR", "2".to_owned()));
    let h = harness(dir.path(), &env);
    for (i, title) in [SATELLITE, WORKERS, ARMS, OIL].iter().enumerate() {
        let (guid, link) = (format!("g{i}"), format!("https://news.test/{i}"));
        feed_items(&h, "wire", &[(&guid, title, &link)], t0());
    }
    let rt = rt();
    let first = rt
        .block_on(h.dispatcher().round(t0() + secs(60), false, None))
        .expect("round");
    assert_eq!(first.sent, 2, "one alert and one summary: {first:?}");
    let messages = server.wait_for(2, Duration::from_secs(5));
    let summary = messages
        .iter()
        .find(|m| m.header("List-Id").contains("summary"))
        .expect("a summary");
    assert_eq!(summary.header("X-Watchfloor-Hits").split(',').count(), 3);

    // The cap is spent: a new hit waits for the hour to pass, then goes out.
    feed_items(
        &h,
        "wire",
        &[("g9", WHEAT, "https://news.test/9")],
        t0() + secs(120),
    );
    let held = rt
        .block_on(h.dispatcher().round(t0() + secs(600), false, None))
        .expect("round");
    assert_eq!(held.sent, 0, "{held:?}");
    let later = rt
        .block_on(h.dispatcher().round(t0() + secs(3700), false, None))
        .expect("round");
    assert_eq!(later.sent, 1, "{later:?}");
    let c = counts(&h);
    assert_eq!((c.sent, c.pending), (5, 0), "every alert delivered");
}

#[test]
fn the_digest_collects_pending_hits_by_indicator_and_skips_an_empty_day() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::start(&dir.path().join("smtp"));
    let mut env = smtp_env(&server, "analyst@example.org");
    env.push(("WATCHFLOOR_MAIL_MODE", "digest".to_owned()));
    let h = harness(dir.path(), &env);
    let rt = rt();
    // The first round starts the digest clock.
    rt.block_on(h.dispatcher().round(t0(), false, None))
        .expect("round");
    feed_items(
        &h,
        "wire",
        &[("a1", SATELLITE, "https://news.test/1")],
        t0() + secs(60),
    );
    feed_items(
        &h,
        "wire",
        &[("a2", OIL, "https://news.test/2")],
        t0() + secs(70),
    );
    feed_items(
        &h,
        "agency",
        &[("b1", WORKERS, "https://agency.test/3")],
        t0() + secs(80),
    );
    let waiting = rt
        .block_on(h.dispatcher().round(t0() + secs(3600), true, None))
        .expect("round");
    assert_eq!(
        waiting.sent, 0,
        "digest hits wait for the digest, even on a flush"
    );

    let digest_at = h
        .settings
        .mail
        .digest
        .next_after(t0())
        .expect("next digest");
    let report = rt
        .block_on(h.dispatcher().round(digest_at, false, None))
        .expect("round");
    assert_eq!(report.sent, 1, "{report:?}");
    let messages = server.wait_for(1, Duration::from_secs(5));
    let digest = &messages[0];
    assert!(digest.subject().contains("Digest"), "{}", digest.subject());
    assert_eq!(digest.header("X-Watchfloor-Hits").split(',').count(), 3);
    let text = digest.text();
    for heading in [
        "North Korean satellite launch",
        "Russian oil, fuel and grain flowing to North Korea",
        "North Korean workers sent to Russia",
    ] {
        assert!(text.contains(heading), "{heading} in {text}");
    }

    let next_day = h.settings.mail.digest.next_after(digest_at).expect("next");
    let empty = rt
        .block_on(h.dispatcher().round(next_day, false, None))
        .expect("round");
    assert_eq!(empty.sent, 0, "an empty digest is not sent");
    assert_eq!(server.messages().len(), 1);
}

#[test]
fn one_story_from_several_feeds_is_one_alert_that_lists_every_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::start(&dir.path().join("smtp"));
    let h = harness(dir.path(), &smtp_env(&server, "analyst@example.org"));
    // The same link in two feeds is one item; a near-identical headline elsewhere is the
    // same story.
    feed_items(
        &h,
        "wire",
        &[("a1", SATELLITE, "https://news.test/sat")],
        t0(),
    );
    feed_items(
        &h,
        "agency",
        &[("b1", SATELLITE, "https://news.test/sat?utm_source=rss")],
        t0() + secs(5),
    );
    let rewritten = format!("{SATELLITE}, Seoul says");
    feed_items(
        &h,
        "paper",
        &[("c1", &rewritten, "https://paper.test/story")],
        t0() + secs(10),
    );
    let rt = rt();
    let report = rt
        .block_on(h.dispatcher().round(t0() + secs(60), false, None))
        .expect("round");
    assert_eq!(report.sent, 1, "{report:?}");
    let messages = server.wait_for(1, Duration::from_secs(5));
    let text = messages[0].text();
    assert!(
        text.contains("agency") && text.contains("paper"),
        "every source: {text}"
    );
    assert!(text.to_lowercase().contains("also reported by"), "{text}");

    // A later copy of a story already alerted is recorded but sends no mail.
    let late = format!("Seoul says {SATELLITE}");
    feed_items(
        &h,
        "paper",
        &[("c2", &late, "https://paper.test/later")],
        t0() + secs(3600),
    );
    let after = rt
        .block_on(h.dispatcher().round(t0() + secs(4000), false, None))
        .expect("round");
    assert_eq!(after.sent, 0, "{after:?}");
    let c = counts(&h);
    assert_eq!((c.sent, c.folded), (1, 2), "{c:?}");
    let (_, _, hits) = h.store().totals().expect("totals");
    assert_eq!(hits, 3, "every report is a recorded hit");
}

#[test]
fn a_batch_of_messages_shares_one_smtp_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::start(&dir.path().join("smtp"));
    let to: Vec<String> = (0..12).map(|i| format!("analyst{i}@example.org")).collect();
    let h = harness(dir.path(), &smtp_env(&server, &to.join(",")));
    feed_items(
        &h,
        "wire",
        &[("a1", SATELLITE, "https://news.test/sat")],
        t0(),
    );
    let report = rt()
        .block_on(h.dispatcher().round(t0() + secs(60), false, None))
        .expect("round");
    assert_eq!(report.sent, 12, "{report:?}");
    assert_eq!(server.wait_for(12, Duration::from_secs(5)).len(), 12);
    assert_eq!(server.sessions(), 1, "one connection for the batch");
}

#[test]
fn without_an_smtp_server_messages_are_written_as_eml_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = harness(dir.path(), &[]);
    assert!(h.dispatcher().describe_transport().contains(".eml"));
    feed_items(
        &h,
        "wire",
        &[("a1", SATELLITE, "https://news.test/sat")],
        t0(),
    );
    let report = rt()
        .block_on(h.dispatcher().round(t0() + secs(60), false, None))
        .expect("round");
    assert_eq!(report.sent, 1, "{report:?}");
    let files: Vec<PathBuf> = std::fs::read_dir(h.dir.join("mail"))
        .expect("mail folder beside the database")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
    let raw = std::fs::read(&files[0]).expect("read");
    let parsed = mail_parser::MessageParser::default()
        .parse(&raw)
        .expect("parse");
    assert!(
        parsed
            .subject()
            .unwrap_or_default()
            .starts_with("[watchfloor][high]")
    );
}

#[test]
fn a_send_to_nowhere_is_a_temporary_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::reserve(&dir.path().join("smtp"));
    let settings = settings(dir.path(), &smtp_env(&server, "analyst@example.org"));
    let transport = Transport::new(&settings.mail).expect("transport");
    let outcome = rt().block_on(watchfloor::alert::send_test(
        &transport,
        &settings.mail,
        "analyst@example.org",
        t0(),
    ));
    assert!(
        matches!(outcome, Err(SendError::Temporary(_))),
        "{outcome:?}"
    );
}

mod commands {
    //! The mail commands as users run them: the real binary, a feed server and the SMTP
    //! server on 127.0.0.1.

    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use super::support::cli::{args, indicators_with_feeds, rss, stdout, watchfloor};
    use super::support::feed_server::{FeedServer, Response};
    use super::support::smtp_server::SmtpServer;
    use super::{SATELLITE, WORKERS};

    fn mail_env(server: &SmtpServer, to: &str) -> Vec<(&'static str, String)> {
        vec![
            ("WATCHFLOOR_SMTP_URL", server.url()),
            ("WATCHFLOOR_MAIL_TLS", "none".to_owned()),
            ("WATCHFLOOR_MAIL_TO", to.to_owned()),
        ]
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn poll_delivers_due_alerts_before_it_exits_and_alerts_lists_them() {
        let feeds = FeedServer::empty().await;
        feeds.set(
            "/wire.xml",
            Response::ok(
                "application/rss+xml",
                rss(&[
                    ("a1", SATELLITE, "https://news.test/sat"),
                    ("a2", WORKERS, "https://news.test/workers"),
                ]),
            ),
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let smtp = SmtpServer::start(&dir.path().join("smtp"));
        let indicators = indicators_with_feeds(dir.path(), &[("wire", feeds.url("/wire.xml"))]);
        let db = dir.path().join("watchfloor.db");
        let env = mail_env(&smtp, "analyst@example.org, reject@example.org");

        let poll = watchfloor(args(&indicators, &db, &["poll"]), env.clone()).await;
        let out = stdout(&poll);
        assert_eq!(poll.status.code(), Some(0), "{out}");
        assert!(
            out.contains("alerts: 2 messages sent, 0 to retry, 2 failed"),
            "{out}"
        );
        assert!(out.contains("MAIL message") && out.contains("550"), "{out}");
        assert_eq!(smtp.wait_for(2, Duration::from_secs(5)).len(), 2);

        let listed = watchfloor(args(&indicators, &db, &["alerts"]), env.clone()).await;
        let out = stdout(&listed);
        assert!(
            out.contains("sent") && out.contains("<watchfloor.alert-"),
            "{out}"
        );
        assert!(
            out.contains("outbox: 0 pending (0 messages waiting), 2 sent, 2 failed"),
            "{out}"
        );
        let failed = watchfloor(
            args(&indicators, &db, &["alerts", "--status", "failed"]),
            env.clone(),
        )
        .await;
        let out = stdout(&failed);
        assert!(
            out.contains("reject@example.org") && out.contains("gave up"),
            "{out}"
        );
        assert!(!out.contains("analyst@example.org"), "{out}");

        let retry = watchfloor(
            args(&indicators, &db, &["alerts", "retry", "--failed"]),
            env.clone(),
        )
        .await;
        assert!(stdout(&retry).contains("2 failed messages queued again"));
        let missing = watchfloor(args(&indicators, &db, &["alerts", "retry", "9999"]), env).await;
        assert_eq!(missing.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&missing.stderr).contains("alert 9999"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn test_email_reports_what_the_server_said() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut smtp = SmtpServer::start(&dir.path().join("smtp"));
        let indicators = indicators_with_feeds(dir.path(), &[]);
        let db = dir.path().join("watchfloor.db");
        let env = mail_env(&smtp, "analyst@example.org");
        let sent = watchfloor(
            args(&indicators, &db, &["test-email", "--to", "ops@example.org"]),
            env.clone(),
        )
        .await;
        let out = stdout(&sent);
        assert_eq!(sent.status.code(), Some(0), "{out}");
        assert!(
            out.contains("sent a test message to ops@example.org: 250"),
            "{out}"
        );
        let messages = smtp.wait_for(1, Duration::from_secs(5));
        assert_eq!(messages[0].rcpt_to(), "ops@example.org");
        assert!(messages[0].subject().contains("Test"));

        smtp.stop();
        let down = watchfloor(
            args(&indicators, &db, &["test-email", "--to", "ops@example.org"]),
            env,
        )
        .await;
        assert_eq!(down.status.code(), Some(1));
        assert!(
            stdout(&down).contains("not sent to ops@example.org"),
            "{}",
            stdout(&down)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bad_mail_settings_exit_78_naming_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let indicators = indicators_with_feeds(dir.path(), &[]);
        let db = dir.path().join("watchfloor.db");
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("WATCHFLOOR_MAIL_TO", "analyst@example.org, not an address")],
                "mail.to",
            ),
            (&[("WATCHFLOOR_MAIL_FROM", "watchfloor")], "mail.from"),
            (
                &[("WATCHFLOOR_SMTP_URL", "http://mail.example.org")],
                "smtp.url",
            ),
            (
                &[
                    ("WATCHFLOOR_SMTP_URL", "smtp://mail.example.org:25"),
                    ("WATCHFLOOR_MAIL_TLS", "none"),
                ],
                "only for a relay on a loopback address",
            ),
            (
                &[("WATCHFLOOR_MAIL_DIGEST_SCHEDULE", "0 25 * * *")],
                "mail.digest_schedule",
            ),
            (
                &[("WATCHFLOOR_SMTP_PASSWORD_FILE", "/nonexistent/secret")],
                "smtp.password_file",
            ),
            // Named by mistake, a device that never ends is refused, not read.
            (
                &[("WATCHFLOOR_SMTP_PASSWORD_FILE", "/dev/zero")],
                "/dev/zero is not a regular file",
            ),
        ];
        for (vars, want) in cases {
            let env = vars.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
            let out = watchfloor(args(&indicators, &db, &["alerts"]), env).await;
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(78), "{vars:?}: {err}");
            assert!(err.contains(want), "{vars:?}: want {want:?} in {err}");
        }

        // A password in the settings file itself is refused; the place is named.
        let config = dir.path().join("watchfloor.yaml");
        std::fs::write(
            &config,
            "smtp:\n  url: smtps://ops:hunter2@mail.example.org\n",
        )
        .expect("write");
        let mut argv = args(&indicators, &db, &["alerts"]);
        argv.extend(["--config".to_owned(), config.display().to_string()]);
        let out = watchfloor(argv, vec![]).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{err}");
        assert!(
            err.contains("watchfloor.yaml:2:") && err.contains("password"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "the secret is not echoed: {err}");

        // An indicator's own recipients are checked too, with file and line.
        let text = std::fs::read_to_string(&indicators).expect("read");
        let broken = text.replacen(
            "    severity: high\n",
            "    severity: high\n    alert: {to: [nobody-at-all], mode: immediate}\n",
            1,
        );
        std::fs::write(&indicators, broken).expect("write");
        let out = watchfloor(args(&indicators, &db, &["check"]), vec![]).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{err}");
        assert!(
            err.contains("indicators.yaml:") && err.contains("alert.to"),
            "{err}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_daemon_mails_hits_as_they_come_and_stops_cleanly() {
        let feeds = FeedServer::empty().await;
        feeds.set(
            "/wire.xml",
            Response::ok(
                "application/rss+xml",
                rss(&[("a1", SATELLITE, "https://news.test/sat")]),
            ),
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let smtp = SmtpServer::start(&dir.path().join("smtp"));
        let indicators = indicators_with_feeds(dir.path(), &[("wire", feeds.url("/wire.xml"))]);
        let db = dir.path().join("watchfloor.db");
        let child = Command::new(env!("CARGO_BIN_EXE_watchfloor"))
            .args(args(&indicators, &db, &["run"]))
            .env("WATCHFLOOR_LISTEN", "127.0.0.1:0")
            .envs(mail_env(&smtp, "analyst@example.org"))
            .env("WATCHFLOOR_MAIL_GROUP_WAIT", "1")
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("daemon starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while smtp.messages().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .expect("joined")
            .expect("waited");
        let log = String::from_utf8_lossy(&exit.stderr);
        assert_eq!(exit.status.code(), Some(0), "{log}");
        assert_eq!(smtp.messages().len(), 1, "{log}");
        assert!(log.contains("mail: SMTP smtp://127.0.0.1"), "{log}");
        assert!(log.contains("sent: 250"), "{log}");
    }
}
