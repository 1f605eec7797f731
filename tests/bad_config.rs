//! Bad configuration, as operators and analysts write it: every file in
//! `tests/data/bad-config/` is broken in one way. Each must make the command that reads it
//! exit 78 with a message naming the place (file, and line and column where there is one,
//! the key or the indicator), without a panic; and the same file sent to a running daemon by
//! SIGHUP must leave the running configuration in force.

#[path = "support/daemon.rs"]
mod daemon;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use daemon::{Daemon, get};
use support::cli::{root, rss};
use support::feed_server::{FeedServer, Response};
use watchfloor::store::Store;

/// The fixture, and what its message must contain besides the file's name.
const CASES: &[(&str, &[&str])] = &[
    ("indicators-yaml-syntax.yaml", &[":3:12:"]),
    (
        "indicators-unknown-key.yaml",
        &[":6:5:", "unknown field `priority`"],
    ),
    (
        "indicators-duplicate-id.yaml",
        &[":7:9:", "'satellite_launch'", "duplicate id"],
    ),
    (
        "indicators-duplicate-key.yaml",
        &[":6:5:", "duplicate mapping key: severity"],
    ),
    (
        "indicators-duplicate-feed-id.yaml",
        &[":9:", "feed 'wire'", "duplicate feed id"],
    ),
    (
        "indicators-bad-cron.yaml",
        &[":8:", "feed 'wire'", "schedule", "found 4"],
    ),
    (
        "indicators-bad-cron-minute.yaml",
        &[":8:", "feed 'wire'", "invalid minute field '61'"],
    ),
    (
        "indicators-bad-query.yaml",
        &[":6:27:", "'satellite_launch'", "'(' is never closed"],
    ),
    (
        "indicators-unknown-list.yaml",
        &[":6:13:", "unknown list '@dprk'"],
    ),
    ("indicators-bad-regex.yaml", &[":6:27:", "invalid regex"]),
    (
        "indicators-list-in-list.yaml",
        &[":3:", "'@dprk' in a list is not a reference"],
    ),
    // Thirty thousand `title:` prefixes: once a crash of `check`, and of the daemon at reload.
    (
        "indicators-deep-field-prefix.yaml",
        &[":6:", "'satellite_launch'", "nests too deeply"],
    ),
    (
        "indicators-near-chain.yaml",
        &[":6:", "'satellite_launch'", "NEAR operators in one chain"],
    ),
    (
        "indicators-fires-on-nothing.yaml",
        &[":6:13:", "none of its terms"],
    ),
    (
        "indicators-bad-alert-to.yaml",
        &[
            ":8:36:",
            "alert.to",
            "'space desk at example' is not an e-mail address",
        ],
    ),
    (
        "indicators-bad-alert-mode.yaml",
        &[":8:13:", "unknown variant `hourly`"],
    ),
    (
        "indicators-bad-feed-url.yaml",
        &[":8:21:", "feed 'wire'", "only http and https"],
    ),
    (
        "indicators-feed-url-not-a-url.yaml",
        &[":8:21:", "feed 'wire'", "invalid URL 'news example org'"],
    ),
    (
        "indicators-wrong-type.yaml",
        &[":6:16:", "invalid floating point"],
    ),
    // A list is a sequence or a per-language map; the error sits on the list's line and
    // quotes the value.
    (
        "indicators-wrong-type-list.yaml",
        &[
            ":2:",
            "invalid type: string \"North Korea\"",
            "map from language codes",
        ],
    ),
    ("indicators-empty.yaml", &["file is empty"]),
    (
        "indicators-binary.yaml",
        &["not UTF-8 text (invalid byte at offset"],
    ),
    ("settings-yaml-syntax.yaml", &[":3:13:"]),
    (
        "settings-unknown-key.yaml",
        &[":3:3:", "unknown field `retries`"],
    ),
    ("settings-wrong-type.yaml", &[":2:12:", "invalid u64"]),
    (
        "settings-bad-schedule.yaml",
        &[":1:11:", "setting 'schedule'", "found 4"],
    ),
    (
        "settings-bad-mail-to.yaml",
        &[":2:30:", "setting 'mail.to'", "'analysts at example.org'"],
    ),
    (
        "settings-bad-mail-from.yaml",
        &[":2:9:", "setting 'mail.from'"],
    ),
    (
        "settings-smtp-url-not-a-url.yaml",
        &[":2:8:", "setting 'smtp.url'", "is not a URL"],
    ),
    // Not a URL, and a password in it: the message quotes what was written, but not that.
    (
        "settings-smtp-url-malformed-password.yaml",
        &[
            ":2:8:",
            "setting 'smtp.url'",
            "is not a URL",
            "watchfloor:***@",
        ],
    ),
    (
        "settings-smtp-password-in-url.yaml",
        &[":2:8:", "setting 'smtp.url'", "holds a password"],
    ),
    (
        "settings-tls-none-remote.yaml",
        &[":4:8:", "setting 'mail.tls'", "loopback"],
    ),
    (
        "settings-bad-base-url.yaml",
        &[":2:13:", "setting 'web.base_url'"],
    ),
    (
        "settings-bad-allowed-hosts.yaml",
        &[
            ":2:38:",
            "setting 'web.allowed_hosts'",
            "'http://watch.example.org/log' is not a host name",
        ],
    ),
    (
        "settings-bad-listen.yaml",
        &[":2:11:", "setting 'http.listen'", "'localhost'"],
    ),
    (
        "settings-bad-feed-alert-after.yaml",
        &[":1:19:", "setting 'feed_alert_after'", "'a while'"],
    ),
    (
        "settings-bad-retention.yaml",
        &[":2:15:", "setting 'retention.items_days'", "at least 1"],
    ),
    (
        "settings-bad-digest-schedule.yaml",
        &[":2:20:", "setting 'mail.digest_schedule'"],
    ),
    (
        "settings-binary.yaml",
        &["not UTF-8 text (invalid byte at offset"],
    ),
    (
        "settings-group-wait-too-long.yaml",
        &[":2:15:", "setting 'mail.group_wait'", "a day"],
    ),
];

/// Files too large for fixtures, written into `dir` under names of the fixtures' pattern,
/// with what their messages must contain: search terms past the matcher's 4 MiB cap
/// (refused as the list is compiled, naming the query that uses it), a short list named by
/// so many queries that compiling it at every use passes 64 MiB (refused at the query that
/// passes it), a rules file past 16 MiB and a settings file past 1 MiB (both refused before
/// they are parsed).
fn oversized_files(dir: &Path) -> Vec<(String, PathBuf, &'static [&'static str])> {
    use std::fmt::Write;
    let terms = dir.join("indicators-terms-past-the-cap.yaml");
    let mut text = String::from("lists:\n  big:\n");
    // Distinct 21-byte phrases, 4.25 MiB of them.
    for i in 0..(17usize << 20) / 4 / 21 {
        writeln!(text, "    - zq{i:08x} yx{i:08x}").expect("write to a string");
    }
    text.push_str(
        "indicators:\n  - id: big\n    title: Big\n    insight: Too many terms.\n    \
         severity: low\n    query: '@big'\n",
    );
    std::fs::write(&terms, text).expect("write");
    // 512 phrases of 511 bytes (256 KiB, a sixteenth of the distinct cap), named by 270
    // indicators: 67.5 MiB compiled, counted at every use.
    let reused = dir.join("indicators-terms-past-the-cap-at-every-use.yaml");
    let mut text = String::from("lists:\n  wide:\n");
    for i in 0..512 {
        let words: Vec<String> = (0..73).map(|j| format!("q{i:03x}{j:02}")).collect();
        writeln!(text, "    - {}", words.join(" ")).expect("write to a string");
    }
    text.push_str("indicators:\n");
    for i in 0..270 {
        writeln!(
            text,
            "  - {{id: wide{i}, title: Wide, insight: Reused., severity: low, query: '@wide'}}"
        )
        .expect("write to a string");
    }
    std::fs::write(&reused, text).expect("write");
    let padding = |mib: usize| "# padding\n".repeat((mib << 20) / 10 + 1);
    let rules = dir.join("indicators-past-16-mib.yaml");
    std::fs::write(&rules, padding(16)).expect("write");
    let settings = dir.join("settings-past-1-mib.yaml");
    std::fs::write(&settings, padding(1)).expect("write");
    let name = |path: &Path| {
        path.file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned()
    };
    vec![
        (
            name(&terms),
            terms,
            &["indicator 'big'", "search terms pass 4 MiB"],
        ),
        (
            name(&reused),
            reused,
            &[
                "indicator 'wide",
                "counted at every use of their lists, pass 64 MiB",
            ],
        ),
        (name(&rules), rules, &["longer than 16 MiB", "rule files"]),
        (
            name(&settings),
            settings,
            &["longer than 1 MiB", "settings files"],
        ),
    ]
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/data/bad-config").join(name)
}

fn is_settings(name: &str) -> bool {
    name.starts_with("settings-")
}

/// What `/healthz` must not quote of a fixture: every value written in quotes (queries,
/// URLs, schedules, addresses), and any password. Health is read without credentials.
fn health_leaks(name: &str, fixture: &Path, body: &str) -> Vec<String> {
    let text = std::fs::read(fixture).expect("the fixture");
    let text = String::from_utf8_lossy(&text);
    let mut leaks: Vec<String> = text
        .split('\'')
        .skip(1)
        .step_by(2)
        .filter(|quoted| quoted.len() > 3 && body.contains(*quoted))
        .map(|quoted| format!("{name}: /healthz quotes the file ({quoted:?}): {body}"))
        .collect();
    if body.contains("hunter2") {
        leaks.push(format!("{name}: /healthz shows the password: {body}"));
    }
    leaks
}

/// Checks one message: the file, the place and the problem, and nothing a password could
/// leak through.
fn check_message(name: &str, file: &Path, message: &str, wants: &[&str]) -> Vec<String> {
    let mut wrong = Vec::new();
    if !message.contains(&file.display().to_string()) {
        wrong.push(format!(
            "{name}: does not name {}: {message}",
            file.display()
        ));
    }
    for want in wants {
        if !message.contains(want) {
            wrong.push(format!("{name}: want {want:?} in: {message}"));
        }
    }
    if message.contains("hunter2") {
        wrong.push(format!("{name}: the password shows: {message}"));
    }
    wrong
}

/// What is wrong with how a command refused a broken file: it must exit 78, without a panic,
/// with a message [`check_message`] accepts.
fn refused(name: &str, file: &Path, output: &std::process::Output, wants: &[&str]) -> Vec<String> {
    let err = String::from_utf8_lossy(&output.stderr);
    let mut wrong = Vec::new();
    if output.status.code() != Some(78) {
        wrong.push(format!(
            "{name}: exit {:?}, not 78: {err}",
            output.status.code()
        ));
    }
    if err.contains("panicked") {
        wrong.push(format!("{name}: panicked: {err}"));
    }
    wrong.extend(check_message(name, file, &err, wants));
    wrong
}

#[test]
fn every_broken_file_exits_78_naming_its_place_without_a_panic() {
    assert!(CASES.len() >= 20);
    let listed: Vec<&str> = CASES.iter().map(|(n, _)| *n).collect();
    let mut on_disk: Vec<String> = std::fs::read_dir(root().join("tests/data/bad-config"))
        .expect("fixtures")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    for name in &on_disk {
        assert!(listed.contains(&name.as_str()), "{name} has no case");
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("watchfloor.db");
    let good_rules = root().join("tests/data/eval-small.yaml");
    let cases = CASES
        .iter()
        .map(|(name, wants)| ((*name).to_owned(), fixture(name), *wants))
        .chain(oversized_files(dir.path()));
    let mut wrong = Vec::new();
    for (name, file, wants) in cases {
        let name = name.as_str();
        let mut command = Command::new(env!("CARGO_BIN_EXE_watchfloor"));
        command.env_remove("RUST_LOG").current_dir(dir.path());
        if is_settings(name) {
            // `feeds` is the lightest command that reads the settings.
            command
                .args(["--config", &file.display().to_string()])
                .args(["--indicators", &good_rules.display().to_string()])
                .args(["--db", &db.display().to_string(), "feeds"]);
        } else {
            command.args(["check", "--indicators", &file.display().to_string()]);
        }
        let output = command.output().expect("runs");
        wrong.extend(refused(name, &file, &output, wants));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

fn hits(db: &Path) -> u64 {
    Store::open_read_only(db)
        .and_then(|s| s.totals())
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_broken_file_sent_by_sighup_leaves_the_running_config_in_force() {
    let feeds = FeedServer::empty().await;
    let story = |n: usize| {
        (
            format!("s{n}"),
            format!("North Korea launches reconnaissance satellite number {n} with Russian help"),
            format!("https://news.test/{n}"),
        )
    };
    let serve = |count: usize| {
        let stories: Vec<_> = (1..=count).map(story).collect();
        let items: Vec<(&str, &str, &str)> = stories
            .iter()
            .map(|(g, t, l)| (g.as_str(), t.as_str(), l.as_str()))
            .collect();
        feeds.set(
            "/wire.xml",
            Response::ok("application/rss+xml", rss(&items)),
        );
    };
    serve(1);
    let dir = tempfile::tempdir().expect("tempdir");
    let indicators = dir.path().join("indicators.yaml");
    let settings = dir.path().join("watchfloor.yaml");
    let db = dir.path().join("watchfloor.db");
    let shipped = std::fs::read_to_string(root().join("indicators.yaml")).expect("indicators");
    let rules = shipped.split("\nfeeds:").next().expect("rules part");
    let good_indicators = format!(
        "{rules}\nfeeds:\n  - {{id: wire, url: '{}', schedule: '*/2 * * * * *'}}\n",
        feeds.url("/wire.xml")
    );
    let good_settings = format!(
        "mail:\n  dir: {}\n  group_wait: 1\n",
        dir.path().join("mail").display()
    );
    std::fs::write(&indicators, &good_indicators).expect("write");
    std::fs::write(&settings, &good_settings).expect("write");
    let daemon = Daemon::start(
        &indicators,
        &db,
        &[("WATCHFLOOR_CONFIG", settings.display().to_string())],
    );
    let base = daemon.http_base();
    wait_for_hits(&db, 1, &daemon);

    let mut wrong = Vec::new();
    // The daemon's listener is set by WATCHFLOOR_LISTEN, which wins over the file, so a bad
    // `http.listen` in the file is never read (and the listener only moves at a restart).
    let oversized = tempfile::tempdir().expect("tempdir");
    let cases: Vec<(String, PathBuf, &[&str])> = CASES
        .iter()
        .filter(|(name, _)| *name != "settings-bad-listen.yaml")
        .map(|(name, wants)| ((*name).to_owned(), fixture(name), *wants))
        // The list compiled at every use takes a debug build ten seconds to refuse, and is
        // refused by the same compile as the other term cap: `check` tries it above.
        .chain(
            oversized_files(oversized.path())
                .into_iter()
                .filter(|(name, _, _)| !name.ends_with("at-every-use.yaml")),
        )
        .collect();
    for (n, (name, source, wants)) in cases.iter().enumerate() {
        let target = if is_settings(name) {
            &settings
        } else {
            &indicators
        };
        std::fs::copy(source, target).expect("copy the fixture");
        let before = daemon.log_len();
        daemon.signal("HUP");
        daemon.wait_for_log_after(before, "reload failed", Duration::from_secs(15));
        // The message may run over several lines (a snippet under it); give them a moment.
        std::thread::sleep(Duration::from_millis(100));
        let logged = daemon
            .log()
            .lines()
            .skip(before)
            .collect::<Vec<_>>()
            .join("\n");
        wrong.extend(check_message(name, target, &logged, wants));
        let (status, body) = get(&format!("{base}/healthz")).await;
        if status != 503
            || !body.contains("last reload failed")
            || !body.contains("see the log")
            || !body.contains(&target.display().to_string())
        {
            wrong.push(format!("{name}: /healthz {status}: {body}"));
        }
        wrong.extend(health_leaks(name, source, &body));
        // The old rules still poll and match: a new story on the feed becomes a hit.
        serve(n + 2);
        wait_for_hits(&db, n as u64 + 2, &daemon);
        // Back to the good files, so the next case fails on its own.
        std::fs::write(&indicators, &good_indicators).expect("write");
        std::fs::write(&settings, &good_settings).expect("write");
        let before = daemon.log_len();
        daemon.signal("HUP");
        daemon.wait_for_log_after(before, "reloaded:", Duration::from_secs(15));
    }
    let (status, body) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 200, "{body}");
    let (_, metrics) = get(&format!("{base}/metrics")).await;
    let failures = format!(
        "watchfloor_config_reloads_total{{result=\"failure\"}} {}",
        cases.len()
    );
    let (code, log) = daemon.stop();
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
    assert!(metrics.contains(&failures), "{failures} in:\n{metrics}");
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}
