//! The end-to-end harness: the real `watchfloor run` process on a temporary state directory,
//! talking to feed servers and aiosmtpd on 127.0.0.1, killed, restarted and stopped as an
//! operator's machine would do it; then the database and the delivered mail are read back.
//!
//! Every wait has a deadline and, when it passes, panics with the daemon's log (and the tail
//! of the earlier runs' logs), since a resilience failure is only ever explained by the log.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::cli::root;
use super::smtp_server::Delivered;
use watchfloor::config::Indicators;
use watchfloor::matcher::ItemText;

/// How many lines of each earlier run's log a failure prints.
const EARLIER_TAIL: usize = 15;

/// A small deterministic generator (SplitMix64): the suites print their seed, so a failing
/// sequence of kills can be run again with `WATCHFLOOR_E2E_SEED`.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The seed from `WATCHFLOOR_E2E_SEED`, else one from the clock.
    pub fn from_env() -> (Rng, u64) {
        let seed = std::env::var("WATCHFLOOR_E2E_SEED")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(7, |d| d.as_nanos() as u64)
            });
        (Rng(seed), seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `low..high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low).max(1)
    }
}

/// A temporary state directory: the rules, the database and the SMTP server's Maildir.
pub struct StateDir {
    /// Held so the directory lives as long as the test.
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub indicators: PathBuf,
    pub db: PathBuf,
}

impl StateDir {
    /// The shipped rules with these feeds, each polled on `schedule` (six fields: seconds
    /// first, so a test sees many polls in a few seconds).
    pub fn new(feeds: &[(&str, String)], schedule: &str) -> StateDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_owned();
        let shipped = std::fs::read_to_string(root().join("indicators.yaml")).expect("indicators");
        let rules = shipped.split("\nfeeds:").next().expect("rules part");
        let mut text = format!("{rules}\nfeeds:\n");
        for (id, url) in feeds {
            text.push_str(&format!(
                "  - {{id: {id}, url: '{url}', schedule: '{schedule}'}}\n"
            ));
        }
        let indicators = path.join("indicators.yaml");
        std::fs::write(&indicators, text).expect("write indicators");
        StateDir {
            db: path.join("watchfloor.db"),
            indicators,
            path,
            _dir: dir,
        }
    }

    pub fn smtp_dir(&self) -> PathBuf {
        self.path.join("smtp")
    }

    /// Runs a one-shot subcommand on this state, as an operator would beside the daemon.
    pub fn command(&self, args: &[&str], env: &[(&str, String)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_watchfloor"))
            .args(["--indicators", &self.indicators.display().to_string()])
            .args(["--db", &self.db.display().to_string()])
            .args(args)
            .env_remove("RUST_LOG")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .expect("the binary runs")
    }

    /// A read-only connection; the daemon may be writing (WAL), so waits for its locks.
    pub fn sql(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_with_flags(
            &self.db,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open the database");
        conn.busy_timeout(Duration::from_secs(5)).expect("timeout");
        conn
    }

    /// Whether the database exists yet and has its tables (a kill can land before either).
    pub fn ready(&self) -> bool {
        self.db.exists()
            && rusqlite::Connection::open_with_flags(
                &self.db,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .and_then(|c| c.query_row("SELECT COUNT(*) FROM alerts", [], |r| r.get::<_, i64>(0)))
            .is_ok()
    }

    /// Every recorded hit.
    pub fn hits(&self) -> Vec<HitRow> {
        if !self.ready() {
            return Vec::new();
        }
        let conn = self.sql();
        let mut statement = conn
            .prepare(
                "SELECT h.id, h.indicator_id, i.link, i.title FROM hits h \
                 JOIN items i ON i.id = h.item_id ORDER BY h.id",
            )
            .expect("prepare");
        statement
            .query_map([], |r| {
                Ok(HitRow {
                    id: r.get(0)?,
                    indicator: r.get(1)?,
                    link: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    title: r.get(3)?,
                })
            })
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    /// Stored items' links.
    pub fn item_links(&self) -> Vec<String> {
        if !self.ready() {
            return Vec::new();
        }
        let conn = self.sql();
        let mut statement = conn
            .prepare("SELECT COALESCE(link, '') FROM items")
            .expect("prepare");
        statement
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    /// Alerts by status, and messages not yet sent (pending or failed).
    pub fn outbox(&self) -> Outbox {
        if !self.ready() {
            return Outbox::default();
        }
        let conn = self.sql();
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).expect(sql);
        Outbox {
            pending: count("SELECT COUNT(*) FROM alerts WHERE status = 'pending'"),
            sent: count("SELECT COUNT(*) FROM alerts WHERE status = 'sent'"),
            failed: count("SELECT COUNT(*) FROM alerts WHERE status = 'failed'"),
            folded: count("SELECT COUNT(*) FROM alerts WHERE status = 'folded'"),
            messages_waiting: count("SELECT COUNT(*) FROM messages WHERE status <> 'sent'"),
            messages_sent: count("SELECT COUNT(*) FROM messages WHERE status = 'sent'"),
        }
    }

    /// `PRAGMA integrity_check`, as SQLite words it ("ok" when sound).
    pub fn integrity_check(&self) -> String {
        self.sql()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity_check")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HitRow {
    pub id: i64,
    pub indicator: String,
    pub link: String,
    pub title: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outbox {
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
    pub folded: i64,
    pub messages_waiting: i64,
    pub messages_sent: i64,
}

/// The real daemon, run and rerun on one state directory. Each run's stderr is kept, so a
/// failure after the tenth restart can still show what the first run did.
pub struct Daemon {
    indicators: PathBuf,
    db: PathBuf,
    env: Vec<(String, String)>,
    /// Behind a lock so that waits, which borrow the daemon, can still ask whether it died.
    child: Mutex<Option<Child>>,
    /// The current run's log lines, filled by a reader thread.
    log: Arc<Mutex<Vec<String>>>,
    /// The logs of the runs before, oldest first.
    earlier: Vec<Vec<String>>,
    pub starts: u32,
    pub kills: u32,
}

impl Daemon {
    /// Starts `watchfloor run` with the operations listener on a free port and `env` on top.
    pub fn start(state: &StateDir, env: &[(&str, String)]) -> Daemon {
        let mut daemon = Daemon {
            indicators: state.indicators.clone(),
            db: state.db.clone(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            child: Mutex::new(None),
            log: Arc::default(),
            earlier: Vec::new(),
            starts: 0,
            kills: 0,
        };
        daemon.spawn();
        daemon
    }

    fn spawn(&mut self) {
        assert!(self.child.lock().unwrap().is_none(), "already running");
        let mut child = Command::new(env!("CARGO_BIN_EXE_watchfloor"))
            .args(["--indicators", &self.indicators.display().to_string()])
            .args(["--db", &self.db.display().to_string()])
            .arg("run")
            .env("WATCHFLOOR_LISTEN", "127.0.0.1:0")
            .env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("JOURNAL_STREAM")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the daemon starts");
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let stderr = child.stderr.take().expect("stderr");
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let previous = std::mem::replace(&mut self.log, log);
        if self.starts > 0 {
            self.earlier.push(previous.lock().unwrap().clone());
        }
        *self.child.lock().unwrap() = Some(child);
        self.starts += 1;
    }

    /// `kill -KILL`: no handler runs, nothing is flushed; whatever was not committed is gone.
    pub fn kill9(&mut self) {
        let mut child = self.child.lock().unwrap().take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        self.kills += 1;
        // Let the reader thread take the last lines the pipe holds.
        std::thread::sleep(Duration::from_millis(20));
    }

    /// Starts again on the same state and settings.
    pub fn restart(&mut self) {
        self.spawn();
    }

    /// The current run's log.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The last line the current run logged.
    pub fn last_line(&self) -> String {
        self.log.lock().unwrap().last().cloned().unwrap_or_default()
    }

    /// What a failure prints: the tail of each earlier run, then the current run whole.
    pub fn report(&self) -> String {
        let mut out = String::new();
        for (n, lines) in self.earlier.iter().enumerate() {
            out.push_str(&format!("--- run {} (last {EARLIER_TAIL} lines)\n", n + 1));
            let from = lines.len().saturating_sub(EARLIER_TAIL);
            for line in &lines[from..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push_str(&format!(
            "--- run {} (current)\n{}",
            self.starts,
            self.log()
        ));
        out
    }

    /// Waits until a log line of the current run contains `text`; returns it.
    pub fn wait_for_log(&self, text: &str, within: Duration) -> String {
        let mut found = String::new();
        self.wait_until(&format!("a log line with {text:?}"), within, || match self
            .log
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains(text))
        {
            Some(line) => {
                found = line.clone();
                true
            }
            None => false,
        });
        found
    }

    /// Polls `done` every 100 ms until it holds; past `within`, panics with the logs.
    pub fn wait_until(&self, what: &str, within: Duration, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + within;
        while !done() {
            if let Some(status) = self.exited() {
                panic!(
                    "the daemon exited ({status}) waiting for {what}:\n{}",
                    self.report()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {within:?}:\n{}",
                self.report()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The exit status, if the current run has ended on its own.
    fn exited(&self) -> Option<std::process::ExitStatus> {
        self.child
            .lock()
            .unwrap()
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGTERM, then waits for the exit (the daemon promises 10 s); returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.lock().unwrap().take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        let code = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        std::thread::sleep(Duration::from_millis(100));
        code
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One item a test's feed served.
#[derive(Clone, Debug)]
pub struct Served {
    pub guid: String,
    pub title: String,
    pub link: String,
}

/// An RSS document of these items; the description repeats the title, as many wires do.
pub fn rss(items: &[Served]) -> String {
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel>\
         <title>Generated wire</title>",
    );
    for item in items {
        body.push_str(&format!(
            "<item><guid>{}</guid><title>{}</title><link>{}</link>\
             <description>{}</description></item>",
            item.guid, item.title, item.link, item.title
        ));
    }
    body.push_str("</channel></rss>");
    body
}

/// Headlines the shipped indicators fire on; `{}` is where an item's own words go.
const MATCHING: &[&str] = &[
    "North Korea launches reconnaissance satellite with Russian help, {}",
    "North Korean workers sent to Russian construction sites in Primorye, {}",
    "South Korea considers supplying weapons to Ukraine directly, {}",
    "Russia delivers oil products to North Korea by rail, exceeding UN cap, {}",
    "Russian wheat shipments to North Korea double this year, {}",
];

/// Headlines they should not fire on.
const QUIET: &[&str] = &[
    "Local bakery wins regional bread prize, {}",
    "Markets close higher on a technology rally, {}",
    "City council approves new cycling lanes, {}",
];

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ru", "ve", "zo", "ti", "ne", "pa", "gu", "do", "fe", "xi", "bo", "ly", "qua",
];

/// A made-up word for `n`, different for every `n`: items get four each, so no two
/// headlines of one template share enough words to be folded into one story.
fn word(n: u64) -> String {
    let mut n = n;
    let mut word = String::new();
    for _ in 0..4 {
        word.push_str(SYLLABLES[(n % SYLLABLES.len() as u64) as usize]);
        n /= SYLLABLES.len() as u64;
    }
    word.push_str("ak");
    word
}

/// The `n`th generated item: matching or not as asked, with a headline no other has.
pub fn item(n: u64, matching: bool, variant: u64) -> Served {
    let templates = if matching { MATCHING } else { QUIET };
    let template = templates[(variant % templates.len() as u64) as usize];
    let own = (0..4)
        .map(|k| word(n * 4 + k))
        .collect::<Vec<_>>()
        .join(" ");
    Served {
        guid: format!("gen-{n}"),
        title: template.replace("{}", &own),
        link: format!("https://news.test/story/{n}"),
    }
}

/// What the shipped rules say of each item, as the pipeline would ask: (indicator, link).
pub fn expected_hits(items: &[Served]) -> BTreeSet<(String, String)> {
    let indicators = Indicators::load(&root().join("indicators.yaml")).expect("rules");
    let matcher = &indicators.matcher;
    let mut scratch = matcher.scratch();
    let mut expected = BTreeSet::new();
    for item in items {
        let text = ItemText {
            title: &item.title,
            summary: &item.title,
            link: &item.link,
            ..ItemText::default()
        };
        for hit in matcher.match_item(&text, &mut scratch) {
            expected.insert((
                indicators.indicators[hit.indicator].id.clone(),
                item.link.clone(),
            ));
        }
    }
    expected
}

/// The hit ids a message says it carries (`X-Watchfloor-Hits`, folded or not).
pub fn carried_hits(message: &Delivered) -> Vec<i64> {
    message
        .header("X-Watchfloor-Hits")
        .split(',')
        .filter_map(|id| id.trim().parse().ok())
        .collect()
}

/// How many messages the SMTP server keeping its Maildir under `smtp_dir` has accepted:
/// cheap enough to watch every few milliseconds, unlike parsing them.
pub fn delivered_count(smtp_dir: &Path) -> usize {
    ["new", "cur"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(smtp_dir.join("maildir").join(sub)).ok())
        .map(Iterator::count)
        .sum()
}

/// Delivered mail grouped by Message-ID, and what that says about duplicates.
pub struct MailBook {
    /// Message-ID to every copy the server accepted.
    pub by_id: BTreeMap<String, Vec<Delivered>>,
    /// Hit id to the Message-IDs that carried it.
    pub hit_messages: BTreeMap<i64, BTreeSet<String>>,
}

impl MailBook {
    pub fn of(messages: &[Delivered]) -> MailBook {
        let mut by_id: BTreeMap<String, Vec<Delivered>> = BTreeMap::new();
        let mut hit_messages: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
        for message in messages {
            let id = message.message_id();
            for hit in carried_hits(message) {
                hit_messages.entry(hit).or_default().insert(id.clone());
            }
            by_id.entry(id).or_default().push(message.clone());
        }
        MailBook {
            by_id,
            hit_messages,
        }
    }

    /// Copies beyond the first of each Message-ID.
    pub fn duplicates(&self) -> usize {
        self.by_id.values().map(|copies| copies.len() - 1).sum()
    }

    /// Message-IDs whose copies differ in what they say (recipient, subject, hits, text),
    /// each with what every copy said: a resend must be the same message, or receivers
    /// that drop a copy by its Message-ID drop news.
    pub fn inconsistent_copies(&self) -> Vec<(String, Vec<String>)> {
        let content = |m: &Delivered| (m.rcpt_to(), m.subject(), carried_hits(m), m.text());
        self.by_id
            .iter()
            .filter(|(_, copies)| copies.iter().any(|c| content(c) != content(&copies[0])))
            .map(|(id, copies)| {
                let said = copies
                    .iter()
                    .map(|c| {
                        let (to, subject, hits, text) = content(c);
                        format!(
                            "{}: to {to}, subject {subject:?}, hits {hits:?}, text:\n{text}",
                            c.file.display()
                        )
                    })
                    .collect();
                (id.clone(), said)
            })
            .collect()
    }

    /// Hits carried by more than one Message-ID: the same alert sent as two messages.
    pub fn hits_in_several_messages(&self) -> Vec<(i64, BTreeSet<String>)> {
        self.hit_messages
            .iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|(hit, ids)| (*hit, ids.clone()))
            .collect()
    }
}

/// The SMTP settings for aiosmtpd on loopback, one recipient, quick grouping.
pub fn mail_env(smtp_url: &str, to: &str) -> Vec<(&'static str, String)> {
    vec![
        ("WATCHFLOOR_SMTP_URL", smtp_url.to_owned()),
        ("WATCHFLOOR_MAIL_TLS", "none".to_owned()),
        (
            "WATCHFLOOR_MAIL_FROM",
            "watchfloor@watch.example.org".to_owned(),
        ),
        ("WATCHFLOOR_MAIL_TO", to.to_owned()),
        ("WATCHFLOOR_MAIL_GROUP_WAIT", "1".to_owned()),
    ]
}

/// Asserts that `watchfloor alerts --status pending` lists nothing and counts nothing waiting.
pub fn assert_outbox_empty(state: &StateDir, env: &[(&str, String)]) -> String {
    let out = state.command(&["alerts", "--status", "pending"], env);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("outbox: 0 pending (0 messages waiting)"),
        "the outbox is not empty:\n{text}"
    );
    // Between the table's header and the totals line, every line would be a pending alert.
    let listed = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty() && !l.starts_with("outbox:"))
        .count();
    assert_eq!(listed, 0, "pending alerts are listed:\n{text}");
    text
}
