//! Webhooks against a real receiver on 127.0.0.1: hits are ingested through the real pipeline
//! into a real SQLite file, the dispatcher posts them, and the tests read the requests back
//! from the receiver and parse them. The dispatcher takes the time as an argument, so retries
//! and `Retry-After` are exercised at chosen instants rather than by waiting. The last test
//! runs the real binary: a feed server, `watchfloor run`, and the receiver.

#[path = "support/daemon.rs"]
mod daemon;
mod support;
#[path = "support/webhook_receiver.rs"]
mod webhook_receiver;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use watchfloor::app::App;
use watchfloor::config::{Indicators, Settings};
use watchfloor::store::{AlertStatus, Channel, Store};
use webhook_receiver::{Received, Reply, WebhookReceiver};

const SECRET: &str = "s3cret-signing-key";
const TOKEN: &str = "syt_matrix_access_token";

/// One indicator that alerts the webhooks named, and nobody by mail.
fn rules(dir: &Path, webhook: &str, feeds: &str) -> PathBuf {
    let text = format!(
        "lists:
  sat: [satellite]
indicators:
  - id: sat_launch
    title: Satellite launch
    insight: Launch preparation.
    severity: high
    query: '@sat'
    alert:
      webhook: {webhook}
    examples:
      match: [\"a satellite launch\"]
      no_match: [\"a rocket\"]
  - id: oil_flow
    title: Oil deliveries
    insight: Sanctions evasion.
    severity: medium
    query: oil
    alert:
      webhook: {webhook}
    examples:
      match: [\"oil by rail\"]
      no_match: [\"a rocket\"]
feeds:{feeds}
"
    );
    let path = dir.join("indicators.yaml");
    std::fs::write(&path, text).expect("write rules");
    path
}

/// A secret file only its owner may read.
fn secret_file(dir: &Path, name: &str, secret: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, secret).expect("write secret");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

/// A settings file with these `webhooks:` entries (YAML flow maps, one a line).
fn settings_file(dir: &Path, hooks: &[(&str, String)]) -> PathBuf {
    let mut text = String::from(
        "mail:\n  group_wait: 0\nweb:\n  base_url: https://wf.example.org\nwebhooks:\n",
    );
    for (name, hook) in hooks {
        text.push_str(&format!("  {name}: {hook}\n"));
    }
    let path = dir.join("watchfloor.yaml");
    std::fs::write(&path, text).expect("write settings");
    path
}

fn load_settings(dir: &Path, file: &Path) -> Settings {
    let settings = Settings::load(Some(file), Some(&dir.join("watchfloor.db")), &|_| None)
        .unwrap_or_else(|e| panic!("settings: {e}"));
    Settings {
        http_listen: None,
        ..settings
    }
}

struct Harness {
    settings: Settings,
    app: App,
}

impl Harness {
    fn new(dir: &Path, hooks: &[(&str, String)], webhook: &str) -> Harness {
        let settings = load_settings(dir, &settings_file(dir, hooks));
        let rules = Indicators::load(&rules(dir, webhook, " []")).expect("rules");
        let app = support::app::build_app(settings.clone(), rules, support::app::feeds(&["wire"]));
        Harness { settings, app }
    }

    fn store(&self) -> Store {
        Store::open(&self.settings.database).expect("open")
    }

    fn ingest(&self, items: &[(&str, &str)], now: DateTime<Utc>) {
        let mut body = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Wire</title>",
        );
        for (guid, title) in items {
            body.push_str(&format!(
                "<item><guid>{guid}</guid><title>{title}</title>\
                 <link>https://news.example/{guid}</link>\
                 <description>{title}</description></item>"
            ));
        }
        body.push_str("</channel></rss>");
        support::app::ingest_rss(&self.app, "wire", body, now);
    }

    async fn round(&self, at: DateTime<Utc>) -> watchfloor::alert::DeliveryReport {
        self.app
            .dispatcher()
            .round(at, false, None)
            .await
            .expect("round")
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

/// What a receiver does to trust a `json` post: recompute the HMAC of `TIMESTAMP.BODY` and
/// compare in constant time, then check the timestamp is recent.
fn verify(request: &Received, secret: &str, now: i64) -> bool {
    let (Some(timestamp), Some(signature)) = (
        request.header("X-Watchfloor-Timestamp"),
        request.header("X-Watchfloor-Signature"),
    ) else {
        return false;
    };
    let Some(hex) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sent) = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&request.body);
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|t| (now - t).abs() <= 300);
    mac.verify_slice(&sent).is_ok() && fresh
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_format_gets_its_body_and_the_outbox_key() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start().await;
    let secret = secret_file(dir.path(), "siem-key", SECRET);
    let token = secret_file(dir.path(), "matrix-token", TOKEN);
    let hooks = [
        (
            "chat",
            format!("{{url: '{}', format: slack}}", receiver.url("/slack")),
        ),
        (
            "mm",
            format!("{{url: '{}', format: mattermost}}", receiver.url("/mm")),
        ),
        (
            "teams",
            format!("{{url: '{}', format: teams}}", receiver.url("/teams")),
        ),
        (
            "room",
            format!(
                "{{url: '{}', format: matrix, secret_file: '{}'}}",
                receiver.url("/_matrix/client/v3/rooms/!abc:example.org/send/m.room.message"),
                token.display()
            ),
        ),
        (
            "siem",
            format!(
                "{{url: '{}', format: json, secret_file: '{}'}}",
                receiver.url("/siem"),
                secret.display()
            ),
        ),
    ];
    let h = Harness::new(dir.path(), &hooks, "[chat, mm, teams, room, siem]");
    h.ingest(&[("1", "North Korea readies a satellite launch")], t0());
    let report = h.round(t0() + secs(1)).await;
    assert_eq!(
        (report.planned, report.sent, report.failed),
        (5, 5, 0),
        "{report:?}"
    );

    let alerts = h.store().alerts(None, 10).expect("alerts");
    assert_eq!(alerts.len(), 5);
    assert!(alerts.iter().all(|a| a.channel == Channel::Webhook));
    assert!(alerts.iter().all(|a| a.status == AlertStatus::Sent));
    let key_of = |name: &str| {
        alerts
            .iter()
            .find(|a| a.recipient == name)
            .and_then(|a| a.message.as_ref())
            .map(|m| m.message_id.clone())
            .expect("a sent message")
    };

    let received = receiver.received();
    let at = |prefix: &str| {
        received
            .iter()
            .find(|r| r.target.starts_with(prefix))
            .unwrap_or_else(|| panic!("no request to {prefix}: {received:?}"))
            .clone()
    };
    for (name, prefix) in [
        ("chat", "/slack"),
        ("mm", "/mm"),
        ("teams", "/teams"),
        ("room", "/_matrix"),
        ("siem", "/siem"),
    ] {
        let request = at(prefix);
        assert_eq!(
            request.header("Idempotency-Key"),
            Some(key_of(name).as_str())
        );
        assert_eq!(request.header("Content-Type"), Some("application/json"));
    }

    let slack = at("/slack");
    assert_eq!(slack.method, "POST");
    let text = slack.json()["text"].as_str().unwrap().to_owned();
    assert!(
        text.contains("North Korea readies a satellite launch"),
        "{text}"
    );
    assert!(text.contains("<https://news.example/1|"), "{text}");
    assert!(text.contains("|hit page>"), "{text}");
    assert!(text.contains("https://wf.example.org/hits/"), "{text}");

    let mm = at("/mm").json()["text"].as_str().unwrap().to_owned();
    assert!(mm.contains("(https://news.example/1)"), "{mm}");
    assert!(mm.contains("satellite"), "{mm}");

    let envelope = at("/teams").json();
    assert_eq!(envelope["type"], "message");
    let attachment = &envelope["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &attachment["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    let title = card["body"][1]["inlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|run| run["text"] == "North Korea readies a satellite launch")
        .expect("the title as a text run");
    assert_eq!(title["selectAction"]["url"], "https://news.example/1");
    assert!(
        card["actions"][0]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://wf.example.org/hits/")
    );

    let room = at("/_matrix");
    assert_eq!(room.method, "PUT");
    assert_eq!(
        room.target,
        format!(
            "/_matrix/client/v3/rooms/!abc:example.org/send/m.room.message/{}",
            key_of("room")
        )
    );
    assert_eq!(
        room.header("Authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let event = room.json();
    assert_eq!(event["format"], "org.matrix.custom.html");
    assert!(event["body"].as_str().unwrap().contains("satellite launch"));
    assert!(
        event["formatted_body"]
            .as_str()
            .unwrap()
            .contains("<a href=\"https://news.example/1\">")
    );

    let siem = at("/siem");
    assert!(
        verify(&siem, SECRET, Utc::now().timestamp().max(t0().timestamp()))
            || verify(&siem, SECRET, t0().timestamp() + 1),
        "the signature verifies"
    );
    assert!(!verify(&siem, "another key", t0().timestamp() + 1));
    let mut tampered = siem.clone();
    tampered.body.extend_from_slice(b" ");
    assert!(!verify(&tampered, SECRET, t0().timestamp() + 1));
    let doc = siem.json();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["idempotency_key"], key_of("siem").as_str());
    assert_eq!(doc["kind"], "alert");
    assert_eq!(doc["indicators"][0]["id"], "sat_launch");
    assert_eq!(doc["indicators"][0]["severity"], "high");
    let hit = &doc["hits"][0];
    assert_eq!(hit["title"], "North Korea readies a satellite launch");
    assert_eq!(hit["link"], "https://news.example/1");
    assert_eq!(hit["matched_terms"], serde_json::json!(["satellite"]));
    assert!(hit["score"].as_f64().unwrap() > 0.0);
    assert!(
        hit["hit_url"]
            .as_str()
            .unwrap()
            .starts_with("https://wf.example.org/hits/")
    );
    // Only the json and matrix formats carry anything secret, and each only its own.
    assert!(at("/slack").header("X-Watchfloor-Signature").is_none());
    assert!(at("/slack").header("Authorization").is_none());

    // Sent is sent: nothing goes again.
    let again = h.round(t0() + secs(3600)).await;
    assert_eq!(again.sent, 0);
    assert_eq!(receiver.received().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_then_recovery_delivers_once_under_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start().await;
    receiver.script([
        Reply::Hangup,
        Reply::status(500, "internal error"),
        Reply::Status(
            429,
            vec![("Retry-After".into(), "600".into())],
            "slow down".into(),
        ),
        Reply::status(204, ""),
    ]);
    let hooks = [(
        "chat",
        format!("{{url: '{}', format: mattermost}}", receiver.url("/hook")),
    )];
    let h = Harness::new(dir.path(), &hooks, "chat");
    h.ingest(
        &[
            ("1", "First satellite report"),
            ("2", "Second satellite report"),
        ],
        t0(),
    );

    // Down: retried 30 s later.
    let first = h.round(t0() + secs(1)).await;
    assert_eq!(
        (first.planned, first.sent, first.retrying),
        (1, 0, 1),
        "{first:?}"
    );
    // Not due yet: nothing is sent.
    assert_eq!(h.round(t0() + secs(20)).await.retrying, 0);
    assert_eq!(receiver.received().len(), 1);
    // 500: retried, the wait doubling.
    let second = h.round(t0() + secs(31)).await;
    assert_eq!(second.retrying, 1, "{second:?}");
    let message = h.store().alerts(None, 1).unwrap()[0]
        .message
        .clone()
        .unwrap();
    assert!(
        message
            .last_error
            .as_deref()
            .unwrap()
            .contains("HTTP 500: internal error")
    );
    assert_eq!(message.next_attempt, t0() + secs(31 + 60));
    // 429 with Retry-After: 600 s, longer than the backoff's 120 s, is honoured.
    let third = h.round(t0() + secs(91)).await;
    assert_eq!(third.retrying, 1, "{third:?}");
    let message = h.store().alerts(None, 1).unwrap()[0]
        .message
        .clone()
        .unwrap();
    assert_eq!(message.next_attempt, t0() + secs(91 + 600));
    assert_eq!(h.round(t0() + secs(91 + 300)).await.sent, 0);
    assert_eq!(receiver.received().len(), 3);
    // Back: delivered.
    let fourth = h.round(t0() + secs(91 + 600)).await;
    assert_eq!(fourth.sent, 1, "{fourth:?}");
    assert_eq!(h.round(t0() + secs(7200)).await.sent, 0);

    let received = receiver.received();
    assert_eq!(received.len(), 4);
    let keys: Vec<&str> = received
        .iter()
        .map(|r| r.header("Idempotency-Key").unwrap())
        .collect();
    assert!(
        keys.iter().all(|k| *k == keys[0]),
        "one key across retries: {keys:?}"
    );
    // Both hits, grouped in one post, in every attempt: nothing lost.
    for request in &received {
        let text = request.json()["text"].as_str().unwrap().to_owned();
        assert!(text.contains("First satellite report"), "{text}");
        assert!(text.contains("Second satellite report"), "{text}");
    }
    let alerts = h.store().alerts(None, 10).unwrap();
    assert_eq!(alerts.len(), 2);
    assert!(alerts.iter().all(|a| a.status == AlertStatus::Sent));
    assert_eq!(alerts[0].message.as_ref().unwrap().attempts, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_a_dead_letter_at_once_and_a_retry_by_hand_sends_it() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start().await;
    let hostile_answer = format!(
        "invalid payload \u{1b}[31mred\u{1b}[0m {}",
        "x".repeat(5000)
    );
    receiver.script([
        Reply::status(400, &hostile_answer),
        Reply::Status(
            302,
            vec![("Location".into(), "http://elsewhere.example/".into())],
            String::new(),
        ),
    ]);
    let hooks = [(
        "chat",
        format!("{{url: '{}', format: slack}}", receiver.url("/a")),
    )];
    let h = Harness::new(dir.path(), &hooks, "chat");
    h.ingest(&[("1", "A satellite report")], t0());
    let report = h.round(t0() + secs(1)).await;
    assert_eq!(
        (report.sent, report.retrying, report.failed),
        (0, 0, 1),
        "{report:?}"
    );
    let alert = h.store().alerts(None, 1).unwrap().remove(0);
    assert_eq!(alert.status, AlertStatus::Failed);
    let error = alert.message.unwrap().last_error.unwrap();
    assert!(
        error.contains("webhook 'chat': HTTP 400: invalid payload"),
        "{error}"
    );
    assert!(!error.contains('\u{1b}'), "terminal-safe: {error:?}");
    assert!(error.chars().count() < 300, "capped: {}", error.len());

    // Queued again by hand: a redirect is refused too, and never followed.
    assert_eq!(h.store().retry_failed(t0() + secs(10)).unwrap(), 1);
    let report = h.round(t0() + secs(10)).await;
    assert_eq!(report.failed, 1, "{report:?}");
    let error = h.store().alerts(None, 1).unwrap()[0]
        .message
        .clone()
        .unwrap()
        .last_error
        .unwrap();
    assert!(
        error.contains("HTTP 302") && error.contains("not followed"),
        "{error}"
    );
    assert_eq!(receiver.received().len(), 2);

    // The receiver is fixed: a retry by hand delivers, under the same key.
    assert_eq!(h.store().retry_failed(t0() + secs(20)).unwrap(), 1);
    assert_eq!(h.round(t0() + secs(20)).await.sent, 1);
    let received = receiver.received();
    assert_eq!(received.len(), 3);
    assert_eq!(
        received[0].header("Idempotency-Key"),
        received[2].header("Idempotency-Key")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_feed_text_is_escaped_for_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start().await;
    let token = secret_file(dir.path(), "token", TOKEN);
    let hooks = [
        (
            "chat",
            format!("{{url: '{}', format: slack}}", receiver.url("/slack")),
        ),
        (
            "mm",
            format!("{{url: '{}', format: mattermost}}", receiver.url("/mm")),
        ),
        (
            "teams",
            format!("{{url: '{}', format: teams}}", receiver.url("/teams")),
        ),
        (
            "room",
            format!(
                "{{url: '{}', format: matrix, secret_file: '{}'}}",
                receiver.url("/_matrix/client/v3/rooms/!r:x/send/m.room.message"),
                token.display()
            ),
        ),
    ];
    let h = Harness::new(dir.path(), &hooks, "[chat, mm, teams, room]");
    // Escaped twice, as a feed that means the characters literally publishes them (once for
    // XML, once for the HTML a title may hold): markup, mentions and link syntax.
    let title = "satellite &amp;lt;!channel&amp;gt; &amp;lt;img src=x onerror=alert(1)&amp;gt; \
                 [click](javascript:alert(1)) @all &amp;lt;https://evil.example|login&amp;gt; \
                 &amp;amp; \u{202E}gnp.exe";
    h.ingest(&[("1", title)], t0());
    assert_eq!(h.round(t0() + secs(1)).await.sent, 4);
    let received = receiver.received();
    let body = |prefix: &str| {
        received
            .iter()
            .find(|r| r.target.starts_with(prefix))
            .expect("a request")
            .json()
    };
    let slack = body("/slack")["text"].as_str().unwrap().to_owned();
    assert!(!slack.contains("<!channel>"), "{slack}");
    assert!(!slack.contains("<https://evil.example"), "{slack}");
    assert!(slack.contains("&lt;!channel&gt;"), "{slack}");
    let mm = body("/mm")["text"].as_str().unwrap().to_owned();
    assert!(!mm.contains("@all"), "{mm}");
    assert!(!mm.contains("[click](javascript"), "{mm}");
    // A Teams card holds feed text only in plain text runs (never read as Markdown or HTML),
    // and makes only http(s) links into actions.
    let card = body("/teams");
    let runs: Vec<&serde_json::Value> = card["attachments"][0]["content"]["body"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|block| {
            assert_eq!(block["type"], "RichTextBlock");
            block["inlines"].as_array().unwrap()
        })
        .collect();
    assert!(runs.iter().all(|run| run["type"] == "TextRun"));
    for run in &runs {
        if let Some(url) = run["selectAction"]["url"].as_str() {
            assert!(url.starts_with("https://"), "{run}");
        }
    }
    let teams: String = runs.iter().filter_map(|run| run["text"].as_str()).collect();
    assert!(
        teams.contains("[click](javascript:alert(1))"),
        "kept as text: {teams}"
    );
    let event = body("/_matrix");
    let html = event["formatted_body"].as_str().unwrap();
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains("&lt;img"), "{html}");
    for text in [&slack, &mm, &teams, &html.to_owned()] {
        assert!(!text.contains('\u{202E}'), "bidi override removed: {text}");
    }
}

#[test]
fn bad_webhook_settings_name_the_key_and_place() {
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("open-key");
    std::fs::write(&open, "k").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let cases: Vec<(String, &str)> = vec![
        (
            "{url: 'https://x.example/h', format: discord}".into(),
            ":6:43: setting 'webhooks.a': format 'discord' is not one of",
        ),
        (
            "{url: 'ftp://x.example/h', format: slack}".into(),
            "setting 'webhooks.a': the url's scheme 'ftp' is not http or https",
        ),
        (
            "{url: 'https://u:p@x.example/h', format: json}".into(),
            "the url holds a user or password",
        ),
        (
            format!("{{url: 'https://x.example/h', format: json, secret_file: '{}'}}", open.display()),
            "can be read by every user of this machine",
        ),
        (
            "{url: 'https://x.example/_matrix/client/v3/rooms/!r:x/send/m.room.message', format: matrix}".into(),
            "format matrix needs secret_file",
        ),
        (
            "{url: 'http://chat.example/_matrix/client/v3/rooms/!r:x/send/m.room.message', format: matrix, secret_file: /nonexistent}".into(),
            "use https, or http only to a loopback address",
        ),
        (
            format!("{{url: 'https://x.example/h', format: slack, secret_file: '{}'}}", open.display()),
            "format slack takes no secret",
        ),
        (
            "{url: 'https://x.example/h', format: slack, colour: red}".into(),
            "unknown field `colour`",
        ),
    ];
    for (hook, want) in cases {
        let file = settings_file(dir.path(), &[("a", hook.clone())]);
        let error = Settings::load(Some(&file), Some(&dir.path().join("db")), &|_| None)
            .expect_err(&hook)
            .to_string();
        assert!(error.contains(want), "{hook}: want {want:?} in {error}");
        assert!(!error.contains("u:p@"), "{error}");
    }
    let file = settings_file(
        dir.path(),
        &[(
            "Bad Name",
            "{url: 'https://x.example/h', format: slack}".into(),
        )],
    );
    let error = Settings::load(Some(&file), None, &|_| None)
        .expect_err("name")
        .to_string();
    assert!(error.contains("is not a webhook name"), "{error}");

    // The systemd credential `webhook-NAME` stands in for secret_file.
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    secret_file(&credentials, "webhook-siem", "from-systemd\n");
    let file = settings_file(
        dir.path(),
        &[("siem", "{url: 'https://x.example/h', format: json}".into())],
    );
    let credentials_dir = credentials.display().to_string();
    let settings = Settings::load(Some(&file), None, &|name| {
        (name == "CREDENTIALS_DIRECTORY").then(|| credentials_dir.clone())
    })
    .expect("the credential is read");
    let secret = settings.webhooks["siem"].secret.as_ref().expect("a secret");
    assert_eq!(secret.expose(), "from-systemd");
    assert!(!format!("{:?}", settings.webhooks).contains("from-systemd"));
}

#[test]
fn an_unknown_webhook_fails_check_and_build_with_the_indicator_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_file(
        dir.path(),
        &[(
            "chat",
            "{url: 'https://chat.example/hook', format: slack}".into(),
        )],
    );
    let indicators = rules(dir.path(), "[chat, nowhere]", " []");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_watchfloor"))
        .args(["--config", &settings.display().to_string()])
        .args(["--indicators", &indicators.display().to_string()])
        .arg("check")
        .env_remove("RUST_LOG")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:10:23: indicator 'sat_launch': alert.webhook: unknown webhook 'nowhere' \
             (the settings configure chat)",
            indicators.display()
        )),
        "{stderr}"
    );

    // Every name configured: check passes.
    let good = rules(dir.path(), "chat", " []");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_watchfloor"))
        .args(["--config", &settings.display().to_string()])
        .args(["--indicators", &good.display().to_string()])
        .arg("check")
        .env_remove("RUST_LOG")
        .output()
        .expect("runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // The daemon refuses to build on such rules, and a reload to them changes nothing.
    let loaded = load_settings(dir.path(), &settings);
    let bad = Indicators::load(&rules(dir.path(), "nowhere", " []")).expect("rules parse alone");
    let error = App::build(loaded.clone(), bad)
        .err()
        .expect("refused")
        .to_string();
    assert!(error.contains("unknown webhook 'nowhere'"), "{error}");
    let app = support::app::build_app(
        loaded.clone(),
        Indicators::load(&rules(dir.path(), "chat", " []")).unwrap(),
        support::app::feeds(&["wire"]),
    );
    let bad = Indicators::load(&rules(dir.path(), "nowhere", " []")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let error = runtime
        .block_on(app.reload(loaded, bad))
        .expect_err("the reload is refused")
        .to_string();
    assert!(error.contains("unknown webhook 'nowhere'"), "{error}");
    assert_eq!(
        app.context().indicators.indicators[0].alert.webhooks[0].name,
        "chat"
    );
}

/// The real daemon: a feed server publishes a matching item, `watchfloor run` polls it, and
/// the receiver gets the signed post.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_posts_a_new_hit_to_its_webhook() {
    use support::feed_server::{FeedServer, Response};
    let dir = tempfile::tempdir().unwrap();
    let feeds = FeedServer::empty().await;
    feeds.set(
        "/wire.xml",
        Response::ok(
            "application/rss+xml",
            support::cli::rss(&[(
                "1",
                "Satellite launch window announced",
                "https://news.example/sat",
            )]),
        ),
    );
    let receiver = WebhookReceiver::start().await;
    let secret = secret_file(dir.path(), "key", SECRET);
    let settings = settings_file(
        dir.path(),
        &[(
            "siem",
            format!(
                "{{url: '{}', format: json, secret_file: '{}'}}",
                receiver.url("/in"),
                secret.display()
            ),
        )],
    );
    let indicators = rules(
        dir.path(),
        "siem",
        &format!("\n  - {{id: wire, url: '{}'}}", feeds.url("/wire.xml")),
    );
    let daemon = daemon::Daemon::start(
        &indicators,
        &dir.path().join("watchfloor.db"),
        &[("WATCHFLOOR_CONFIG", settings.display().to_string())],
    );
    let received = receiver.wait_for(1, Duration::from_secs(60)).await;
    let request = &received[0];
    assert!(
        verify(request, SECRET, Utc::now().timestamp()),
        "{request:?}"
    );
    let doc = request.json();
    assert_eq!(doc["hits"][0]["title"], "Satellite launch window announced");
    assert_eq!(doc["indicators"][0]["id"], "sat_launch");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), 1, "posted once");
    // The hit page's delivery record says which transport carried it.
    let hit_id = doc["hits"][0]["hit_id"].as_i64().expect("the hit's id");
    let (status, page) = daemon::get(&format!("{}/hits/{hit_id}", daemon.http_base())).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<td>webhook</td><td>siem</td><td>sent</td>"),
        "{page}"
    );
    let (_, log) = daemon.stop();
    assert!(
        log.contains("webhooks: siem (json, http://127.0.0.1:"),
        "{log}"
    );
    assert!(!log.contains(SECRET), "{log}");

    // `watchfloor alerts` lists the post beside mail, with its transport.
    let listed = support::cli::watchfloor(
        vec![
            "--config".into(),
            settings.display().to_string(),
            "--db".into(),
            dir.path().join("watchfloor.db").display().to_string(),
            "alerts".into(),
        ],
        vec![("COLUMNS", "200".to_owned())],
    )
    .await;
    let table = support::cli::stdout(&listed);
    assert_eq!(listed.status.code(), Some(0), "{table}");
    let header = table.lines().next().unwrap_or_default();
    assert!(
        header.contains("transport") && header.contains("recipient"),
        "{table}"
    );
    let row = table
        .lines()
        .find(|l| l.contains("sat_launch"))
        .unwrap_or_else(|| panic!("no alert row: {table}"));
    assert!(
        row.contains("webhook") && row.contains("siem") && row.contains("sent"),
        "{table}"
    );
    // And as JSON, for scripts: the alert, its transport, and the message it went out in.
    let listed = support::cli::watchfloor(
        vec![
            "--config".into(),
            settings.display().to_string(),
            "--db".into(),
            dir.path().join("watchfloor.db").display().to_string(),
            "alerts".into(),
            "--format".into(),
            "json".into(),
        ],
        vec![],
    )
    .await;
    assert_eq!(listed.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    let alert = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["indicator"] == "sat_launch")
        .expect("the alert");
    assert_eq!(alert["transport"], "webhook");
    assert_eq!(alert["recipient"], "siem");
    assert_eq!(alert["status"], "sent");
    assert_eq!(alert["message"]["status"], "sent");
    assert_eq!(alert["message"]["attempts"], 1);
    assert!(alert["message"]["sent_at"].as_str().is_some(), "{alert}");
    assert_eq!(
        alert["message"]["message_id"].as_str(),
        request.header("idempotency-key"),
        "the key the receiver saw"
    );
    assert_eq!(report["outbox"]["failed"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_webhook_posts_a_signed_test_message_and_reports_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start().await;
    receiver.script([Reply::Status(
        403,
        Vec::new(),
        "token revoked\u{1b}]0;pwned\u{7}".into(),
    )]);
    let secret = secret_file(dir.path(), "key", SECRET);
    let settings = settings_file(
        dir.path(),
        &[(
            "siem",
            format!(
                "{{url: '{}', format: json, secret_file: '{}'}}",
                receiver.url("/in"),
                secret.display()
            ),
        )],
    );
    let run = |name: &str| {
        support::cli::watchfloor(
            vec![
                "--config".into(),
                settings.display().to_string(),
                "--db".into(),
                dir.path().join("db").display().to_string(),
                "test-webhook".into(),
                name.into(),
            ],
            Vec::new(),
        )
    };
    let refused = run("siem").await;
    let said = support::cli::stdout(&refused);
    assert_eq!(refused.status.code(), Some(1), "{said}");
    assert!(said.contains("HTTP 403: token revoked"), "{said}");
    assert!(!said.contains('\u{1b}'), "{said:?}");

    let accepted = run("siem").await;
    let said = support::cli::stdout(&accepted);
    assert_eq!(accepted.status.code(), Some(0), "{said}");
    assert!(
        said.contains("posted a test message: webhook 'siem': HTTP 200"),
        "{said}"
    );
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert!(verify(&received[1], SECRET, Utc::now().timestamp()));
    let doc = received[1].json();
    assert_eq!(doc["kind"], "test");
    assert_eq!(doc["hits"], serde_json::json!([]));

    let unknown = run("nowhere").await;
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("no webhook 'nowhere' in the settings (configured: siem)"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_fails_costs_a_round_one_attempt_not_one_per_message() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start().await;
    receiver.script([Reply::Hangup, Reply::status(503, "maintenance")]);
    let hooks = [(
        "chat",
        format!("{{url: '{}', format: slack}}", receiver.url("/hook")),
    )];
    let h = Harness::new(dir.path(), &hooks, "chat");
    // Two indicators: two messages to one webhook in one round.
    h.ingest(&[("1", "A satellite report"), ("2", "Oil by rail")], t0());
    let first = h.round(t0() + secs(1)).await;
    assert_eq!((first.planned, first.retrying), (2, 2), "{first:?}");
    assert_eq!(
        receiver.received().len(),
        1,
        "the second message was not posted"
    );
    let errors: Vec<String> = h
        .store()
        .alerts(None, 10)
        .unwrap()
        .into_iter()
        .filter_map(|a| a.message.and_then(|m| m.last_error))
        .collect();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0], errors[1], "both took the one answer");
    // The next round tries again, and again only once while it fails.
    let second = h.round(t0() + secs(31)).await;
    assert_eq!(second.retrying, 2, "{second:?}");
    assert_eq!(receiver.received().len(), 2);
    // Recovered: both go.
    let third = h.round(t0() + secs(91)).await;
    assert_eq!(third.sent, 2, "{third:?}");
    assert_eq!(receiver.received().len(), 4);
}
