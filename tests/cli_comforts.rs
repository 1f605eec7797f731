//! What an operator expects of a mature command line, on the real binary: completions that a
//! real bash completes with, manual pages that render, and JSON logs a shipper can read line
//! by line whatever a feed writes.

#[path = "support/daemon.rs"]
mod daemon;
mod support;

use std::process::{Command, Output};
use std::time::Duration;

use daemon::Daemon;
use support::cli::{indicators_with_feeds, rss};
use support::feed_server::{FeedServer, Response};

/// A feed with one item the shipped `satellite_launch` fires on.
fn launch_feed() -> Response {
    Response::ok(
        "application/rss+xml",
        rss(&[(
            "1",
            "North Korea launches reconnaissance satellite",
            "https://news.example.org/1",
        )]),
    )
}

fn watchfloor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_watchfloor"))
        .args(args)
        .env("WATCHFLOOR_CONFIG", "/dev/null")
        .output()
        .expect("the binary runs")
}

/// What bash's completion offers for the words typed so far (the last one being completed).
fn bash_completes(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let line = words.join(" ");
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\n\
         COMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{line}'\nCOMP_POINT=${{#COMP_LINE}}\n\
         _watchfloor watchfloor '{}' '{}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        words[words.len() - 1],
        words[words.len().saturating_sub(2)],
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn bash_completes_subcommands_their_arguments_and_values() {
    let out = watchfloor(&["completions", "bash"]);
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("watchfloor.bash");
    std::fs::write(&script, &out.stdout).unwrap();

    let first = bash_completes(&script, &["watchfloor", "fe"]);
    assert_eq!(first, ["feeds"]);
    let feeds = bash_completes(&script, &["watchfloor", "feeds", ""]);
    for sub in ["add", "import", "export", "--format"] {
        assert!(feeds.iter().any(|w| w == sub), "{sub} in {feeds:?}");
    }
    let formats = bash_completes(&script, &["watchfloor", "feeds", "--format", ""]);
    assert_eq!(formats, ["table", "json"]);
    let global = bash_completes(&script, &["watchfloor", "hits", "--log-f"]);
    assert_eq!(global, ["--log-format"]);

    // The other shells' scripts are made too; each is checked by its shell when present.
    for (shell, checker) in [
        ("zsh", "zsh"),
        ("fish", "fish"),
        ("elvish", ""),
        ("powershell", ""),
    ] {
        let out = watchfloor(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("feeds") && text.contains("log-format"),
            "{shell}"
        );
        if !checker.is_empty() && Command::new(checker).arg("--version").output().is_ok() {
            let path = dir.path().join(format!("completion.{shell}"));
            std::fs::write(&path, &out.stdout).unwrap();
            let flag = if shell == "fish" {
                "--no-execute"
            } else {
                "-n"
            };
            let check = Command::new(checker).arg(flag).arg(&path).output().unwrap();
            assert!(
                check.status.success(),
                "{shell}: {}",
                String::from_utf8_lossy(&check.stderr)
            );
        } else if !checker.is_empty() {
            eprintln!("{shell} is not installed: its script's syntax is not checked");
        }
    }
    // A shell nobody has is a usage error.
    assert_eq!(watchfloor(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn manual_pages_render_with_every_subcommand() {
    let out = watchfloor(&["man"]);
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH watchfloor 1"),
        "{}",
        &page[..200]
    );
    for sub in ["run", "poll", "hits", "feeds", "completions", "man"] {
        assert!(page.contains(sub), "{sub}");
    }
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    let out = watchfloor(&["man", "--dir", pages.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "watchfloor.1",
        "watchfloor-run.1",
        "watchfloor-feeds.1",
        "watchfloor-feeds-add.1",
    ] {
        assert!(pages.join(name).is_file(), "{name}");
    }
    // Rendered as a reader sees it, when groff is here (Debian's man-db brings it).
    match Command::new("groff")
        .args(["-man", "-Tutf8"])
        .arg(pages.join("watchfloor-feeds-add.1"))
        .output()
    {
        Ok(rendered) => {
            assert!(rendered.status.success());
            let text = String::from_utf8_lossy(&rendered.stdout);
            // groff marks bold with backspaces in tty output; take them out to read the words.
            let plain: String = text
                .split('\u{8}')
                .enumerate()
                .map(|(i, part)| {
                    if i == 0 {
                        part
                    } else {
                        part.get(1..).unwrap_or("")
                    }
                })
                .collect();
            assert!(plain.contains("--dry-run"), "{plain}");
            assert!(plain.contains("indicators.yaml"), "{plain}");
        }
        Err(_) => eprintln!("groff is not installed: the pages are checked as text only"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_a_line_whatever_the_feed_says() {
    let server = FeedServer::empty().await;
    let hostile = "North Korea launches reconnaissance satellite\n{\"level\":\"ERROR\"} \u{1b}[2J \"quoted\" \\ end";
    server.set(
        "/wire.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[(
                "1",
                &hostile.replace('&', "&amp;"),
                "https://news.example.org/1",
            )]),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let indicators = indicators_with_feeds(dir.path(), &[("wire", server.url("/wire.xml"))]);
    let db = dir.path().join("w.db");
    let daemon = Daemon::start(
        &indicators,
        &db,
        &[
            ("WATCHFLOOR_LOG_FORMAT", "json".to_owned()),
            ("WATCHFLOOR_CONFIG", "/dev/null".to_owned()),
            (
                "WATCHFLOOR_MAIL_DIR",
                dir.path().join("mail").display().to_string(),
            ),
        ],
    );
    daemon.wait_for_log("satellite_launch", Duration::from_secs(30));
    let (_, log) = daemon.stop();
    let mut levels = std::collections::BTreeSet::new();
    let mut saw_title = false;
    for line in log.lines().filter(|l| !l.is_empty()) {
        let record: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: not JSON: {line}"));
        let level = record["level"].as_str().expect("a level").to_owned();
        assert!(record["timestamp"].as_str().is_some(), "{line}");
        let message = record["message"].as_str().expect("a message");
        saw_title |= message.contains("reconnaissance satellite");
        levels.insert(level);
    }
    assert!(saw_title, "the hit's title is logged: {log}");
    assert!(!levels.contains("ERROR"), "{levels:?}");
    // A word the daemon never writes itself, from a bad value: a usage error naming the choices.
    let out = Command::new(env!("CARGO_BIN_EXE_watchfloor"))
        .args(["--log-format", "xml", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("text, json"));
}

#[test]
fn config_prints_each_setting_in_force_with_its_source_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("watchfloor.yaml");
    std::fs::write(
        &file,
        "# ours\nfetch:\n  timeout: 45\nmail: {from: wf@example.org, to: [desk@example.org]}\n",
    )
    .unwrap();
    let run = |format: &str| {
        Command::new(env!("CARGO_BIN_EXE_watchfloor"))
            .args([
                "--config",
                file.to_str().unwrap(),
                "config",
                "--format",
                format,
            ])
            .env("WATCHFLOOR_MAIL_OPS", "ops@example.org")
            .env("WATCHFLOOR_SMTP_PASSWORD", "s3cret-value")
            .env("WATCHFLOOR_SMTP_URL", "smtp://wf@relay.example.org:587")
            .env_remove("WATCHFLOOR_DB")
            .output()
            .unwrap()
    };
    let out = run("json");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("s3cret-value"), "{text}");
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let row = |key: &str| {
        report["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .unwrap_or_else(|| panic!("{key} listed"))
            .clone()
    };
    let file_at = |line: u32, column: u32| format!("{}:{line}:{column}", file.display());
    assert_eq!(row("fetch.timeout")["value"], "45s");
    assert_eq!(row("fetch.timeout")["source"], file_at(3, 3));
    assert_eq!(row("mail.to")["source"], file_at(4, 30));
    assert_eq!(row("mail.from")["value"], "wf@example.org");
    assert_eq!(row("mail.ops")["source"], "environment WATCHFLOOR_MAIL_OPS");
    assert_eq!(row("smtp.password")["value"], "(set)");
    assert_eq!(row("smtp.url")["value"], "smtp://wf@relay.example.org:587");
    assert_eq!(row("fetch.concurrency")["source"], "default");
    // The table says the same, one setting a line.
    let out = run("table");
    let table = String::from_utf8(out.stdout).unwrap();
    let line = table.lines().find(|l| l.starts_with("mail.ops")).unwrap();
    assert!(
        line.contains("ops@example.org") && line.ends_with("environment WATCHFLOOR_MAIL_OPS"),
        "{line}"
    );
    assert!(!table.contains("s3cret-value"));
    // Settings that do not load: exit 78 with the place, as every command.
    std::fs::write(&file, "fetch:\n  timeout: soon\n").unwrap();
    let out = run("table");
    assert_eq!(out.status.code(), Some(78));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("watchfloor.yaml"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The fetcher honours the standard proxy variables (as README.md says): a feed's request goes
/// to the proxy, in absolute form for `http://` (a `CONNECT` tunnel for `https://`), and
/// `NO_PROXY` names hosts fetched directly. The feed's host does not resolve here, so only the
/// proxy can have answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_are_fetched_through_the_proxy_the_environment_names() {
    let proxy = FeedServer::empty().await;
    let host = support::ports::unresolvable_host("feeds");
    let feed = format!("http://{host}/wire.xml");
    let feed = feed.as_str();
    proxy.set(feed, launch_feed());
    let dir = tempfile::tempdir().unwrap();
    let indicators = indicators_with_feeds(
        dir.path(),
        &[
            ("plain", feed.to_owned()),
            ("tls", format!("https://{host}/secure.xml")),
        ],
    );
    let db = dir.path().join("w.db");
    let proxy_url = proxy.url("");
    let poll = |extra: Vec<(&'static str, String)>| {
        let mut env = vec![
            ("WATCHFLOOR_CONFIG", "/dev/null".to_owned()),
            ("HTTP_PROXY", proxy_url.clone()),
            ("HTTPS_PROXY", proxy_url.clone()),
            (
                "WATCHFLOOR_MAIL_DIR",
                dir.path().join("mail").display().to_string(),
            ),
        ];
        env.extend(extra);
        support::cli::watchfloor(support::cli::args(&indicators, &db, &["poll"]), env)
    };
    let out = poll(vec![]).await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("ok   plain: 1 items, 1 new"), "{text}");
    let through = proxy.requests(feed);
    assert_eq!(through.len(), 1, "{:?}", proxy.requests(""));
    assert_eq!(through[0].method, "GET");
    assert_eq!(through[0].header("host"), Some(host.as_str()));
    // https: the proxy is asked for a tunnel to the feed's host; this one refuses, and the
    // feed fails on its own.
    assert!(text.contains("FAIL tls"), "{text}");
    let tunnels = proxy.requests(&format!("{host}:443"));
    assert_eq!(tunnels.len(), 1);
    assert_eq!(tunnels[0].method, "CONNECT");

    // NO_PROXY: fetched directly, so the name must resolve, and here it cannot.
    let out = poll(vec![("NO_PROXY", host.clone())]).await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("FAIL plain"), "{text}");
    assert_eq!(
        proxy.requests(feed).len(),
        1,
        "the proxy saw no second request"
    );
}

/// Long commands show progress on a terminal and nothing else anywhere else: a cron job's
/// log holds only the result. `script` gives the command a terminal.
#[test]
fn backup_shows_progress_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let indicators = indicators_with_feeds(dir.path(), &[]);
    let db = dir.path().join("w.db");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_watchfloor"))
            .args([
                "--indicators",
                indicators.to_str().unwrap(),
                "--db",
                db.to_str().unwrap(),
            ])
            .args(args)
            .env("WATCHFLOOR_CONFIG", "/dev/null")
            .output()
            .unwrap()
    };
    drop(watchfloor::store::Store::open(&db).expect("a new database"));
    let piped = run(&["backup", dir.path().join("a.db").to_str().unwrap()]);
    assert!(
        piped.status.success(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    assert!(
        piped.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("`script` (util-linux) is not installed: the terminal half is skipped");
        return;
    }
    let command = format!(
        "{} --indicators {} --db {} backup {}",
        env!("CARGO_BIN_EXE_watchfloor"),
        indicators.display(),
        db.display(),
        dir.path().join("b.db").display()
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("WATCHFLOOR_CONFIG", "/dev/null")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("copying"), "{text}");
    assert!(text.contains("integrity_check: ok"), "{text}");
}

/// Each cycle of polls ends with one summary line; a machine without a network says so once,
/// not once per feed with the whole error chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_cycle_is_summed_up_and_a_dead_network_is_said_once() {
    let server = FeedServer::empty().await;
    server.set("/wire.xml", launch_feed());
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("WATCHFLOOR_CONFIG", "/dev/null".to_owned()),
        (
            "WATCHFLOOR_MAIL_DIR",
            dir.path().join("mail").display().to_string(),
        ),
    ];
    let indicators = indicators_with_feeds(dir.path(), &[("wire", server.url("/wire.xml"))]);
    let daemon = Daemon::start(&indicators, &dir.path().join("a.db"), &env);
    let line = daemon.wait_for_log("poll cycle:", Duration::from_secs(30));
    let (_, log) = daemon.stop();
    assert!(line.contains("poll cycle: 1 feed in "), "{line}");
    assert!(line.contains(": 1 ok; 1 new items, 1 hits"), "{line}");
    assert!(!log.contains("no feed could be reached"), "{log}");

    // Hosts that cannot resolve: each feed fails on DNS.
    let feeds: Vec<(&str, String)> = ["a", "b", "c", "d"]
        .iter()
        .map(|id| {
            let host = support::ports::unresolvable_host(id);
            (*id, format!("http://{host}/feed.xml"))
        })
        .collect();
    let offline = tempfile::tempdir().unwrap();
    let indicators = indicators_with_feeds(offline.path(), &feeds);
    let daemon = Daemon::start(&indicators, &offline.path().join("b.db"), &env);
    daemon.wait_for_log("poll cycle:", Duration::from_secs(60));
    let (_, log) = daemon.stop();
    let warned = log.lines().filter(|l| l.contains("poll failed")).count();
    assert_eq!(
        warned, 1,
        "one feed's failure is said whole, the rest in the summary: {log}"
    );
    let summary = log.lines().find(|l| l.contains("poll cycle:")).unwrap();
    assert!(
        summary.contains("4 feeds in ") && summary.contains("0 ok, 4 failed (4 dns)"),
        "{summary}"
    );
    assert!(
        log.contains("no feed could be reached (4 of 4 failed before a request went out: dns)"),
        "{log}"
    );
}
