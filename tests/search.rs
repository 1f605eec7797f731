//! Search in the hit log works like the rules: a table of searches run through the store's
//! own query (the one `watchfloor hits`, the list and the Atom feed use) on a real SQLite file
//! whose hits come from the real pipeline, each search also made a rule of its own so the
//! rules' verdicts and the search's findings are compared item by item; then the same searches
//! through the real binary and the real daemon over HTTP, the Atom feed read back with
//! feed-rs, and hostile searches.

#[path = "support/daemon.rs"]
mod daemon;
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use daemon::Daemon;
use watchfloor::app::App;
use watchfloor::config::Indicators;
use watchfloor::store::{HitFilter, Store, TriageFilter, Verdict};

/// Every item's summary names it, so the `anchor` rule puts every item in the hit log.
const ANCHOR: &str = "Filed under anchor.";

/// The items: (guid, title).
const ITEMS: &[(&str, &str)] = &[
    ("a", "North Korea launches a satellite with Russian help"),
    ("b", "Russian satellite launch planned"),
    ("c", "Launch window opens at Sohae"),
    ("d", "북한, 군사정찰위성을 발사했다"),
    ("e", "정찰 위성 발사 준비"),
    ("f", "朝鲜发射侦察卫星"),
    ("g", "北朝鮮が偵察衛星を打ち上げ"),
    ("h", "Pokémon Café opens in Pyongyang"),
    ("i", "Запуск спутника КНДР"),
];

/// A search, the items it finds, and whether a rule with the same query fires on exactly those
/// items (false only where the search is documented to reach further: Korean inside words).
struct Row {
    search: &'static str,
    finds: &'static [&'static str],
    rule_agrees: bool,
}

const fn row(search: &'static str, finds: &'static [&'static str]) -> Row {
    Row {
        search,
        finds,
        rule_agrees: true,
    }
}

const TABLE: &[Row] = &[
    // A plain word is the whole word, as in a rule: no stemming.
    row("launch", &["b", "c"]),
    row("LAUNCHES", &["a"]),
    row("launch*", &["a", "b", "c"]),
    // A phrase is consecutive words; words apart only need to be there.
    row("\"Russian satellite\"", &["b"]),
    row("Russian satellite", &["a", "b"]),
    row("satellite AND Russian", &["a", "b"]),
    row("launch* NOT Sohae", &["a", "b"]),
    row("Sohae OR Pyongyang", &["c", "h"]),
    row("title:Sohae", &["c"]),
    row("summary:Sohae", &[]),
    row("launch* NEAR/2 satellite", &["a", "b"]),
    row("launch* NEAR/1 satellite", &["b"]),
    // Accents and case fold away.
    row("pokemon cafe", &["h"]),
    row("POKÉMON", &["h"]),
    // Chinese and Japanese: every character a word, so a word is found inside a compound.
    row("发射", &["f"]),
    row("偵察衛星", &["g"]),
    row("侦察卫星", &["f"]),
    // Cyrillic: a case ending needs the prefix, as in a rule.
    row("спутник", &[]),
    row("спутник*", &["i"]),
    row("кндр", &["i"]),
    // Korean: a rule matches the whole word (or its prefix)...
    row("군사정찰위성을", &["d"]),
    // ...a search also finds it inside a compound and across the space.
    Row {
        search: "정찰위성",
        finds: &["d", "e"],
        rule_agrees: false,
    },
    Row {
        search: "\"정찰 위성\"",
        finds: &["d", "e"],
        rule_agrees: false,
    },
    Row {
        search: "발사",
        finds: &["d", "e"],
        rule_agrees: false,
    },
];

fn t0() -> DateTime<Utc> {
    Utc::now() - chrono::Duration::days(2)
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn yaml_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The rules: `anchor`, which every item hits, and one rule per row of the table, whose query
/// is the row's search.
fn rules_file(dir: &Path) -> PathBuf {
    let mut yaml = String::from(
        "indicators:\n  - id: anchor\n    title: Anchor\n    insight: Every item.\n    \
         severity: low\n    query: anchor\n",
    );
    for (n, row) in TABLE.iter().enumerate() {
        yaml.push_str(&format!(
            "  - id: q{n}\n    title: Row {n}\n    insight: The search as a rule.\n    \
             severity: low\n    query: {}\n",
            yaml_quoted(row.search)
        ));
    }
    yaml.push_str("feeds: []\n");
    let path = dir.join("indicators.yaml");
    std::fs::write(&path, yaml).expect("rules");
    path
}

struct Log {
    _dir: tempfile::TempDir,
    db: PathBuf,
    rules: PathBuf,
    app: App,
}

fn rss(items: &[(&str, &str, &str)]) -> String {
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>T</title>",
    );
    for (guid, title, link) in items {
        body.push_str(&format!(
            "<item><guid>{guid}</guid><title>{}</title><link>{link}</link>\
             <description>{ANCHOR}</description></item>",
            xml_escape(title)
        ));
    }
    body.push_str("</channel></rss>");
    body
}

/// The table's items from `wire`, then (a day later) from `agency` a second report of item a's
/// story, which story folding makes a repeat of the first, and a story of its own.
fn log() -> Log {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = rules_file(dir.path());
    let settings = support::app::settings(dir.path(), &[]);
    let db = settings.database.clone();
    let app = support::app::build_app(
        settings,
        Indicators::load(&rules).expect("the table's rules load"),
        support::app::feeds(&["wire", "agency"]),
    );
    let items: Vec<(&str, &str, String)> = ITEMS
        .iter()
        .map(|(guid, title)| (*guid, *title, format!("https://news.test/{guid}")))
        .collect();
    let items: Vec<(&str, &str, &str)> =
        items.iter().map(|(g, t, l)| (*g, *t, l.as_str())).collect();
    support::app::ingest_rss(&app, "wire", rss(&items), t0());
    support::app::ingest_rss(
        &app,
        "agency",
        rss(&[
            (
                "again",
                "North Korea launches a satellite with Russian help, officials say",
                "https://agency.test/again",
            ),
            (
                "gantry",
                "Imagery shows a new gantry at Sohae",
                "https://agency.test/gantry",
            ),
        ]),
        t0() + chrono::Duration::days(1),
    );
    let folded = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
                    .block_on(app.dispatcher().fold_stories())
            })
            .join()
            .expect("folded")
    })
    .expect("fold");
    assert!(folded >= 1, "the second report folds into the first");
    Log {
        _dir: dir,
        db,
        rules,
        app,
    }
}

fn store(log: &Log) -> Store {
    Store::open_read_only(&log.db).expect("read")
}

/// An item of the table by its link (`https://news.test/<guid>`); the later reports (from
/// `agency.test`) are none of the table's.
fn guid_of(link: Option<&str>) -> Option<&'static str> {
    let guid = link?.strip_prefix("https://news.test/")?;
    ITEMS.iter().map(|(g, _)| *g).find(|g| *g == guid)
}

/// The items (by guid) the store's search finds among the anchor's hits.
fn found(log: &Log, search: &str) -> BTreeSet<&'static str> {
    let (rows, total) = store(log)
        .hits_page(&HitFilter {
            indicator: Some("anchor".into()),
            search: Some(search.into()),
            limit: 100,
            ..HitFilter::default()
        })
        .unwrap_or_else(|e| panic!("{search}: {e}"));
    assert_eq!(rows.len() as u64, total);
    rows.iter()
        .filter_map(|h| guid_of(h.link.as_deref()))
        .collect()
}

/// The items (by guid) that rule `q{n}` fired on.
fn fired(log: &Log, n: usize) -> BTreeSet<&'static str> {
    store(log)
        .hits_page(&HitFilter {
            indicator: Some(format!("q{n}")),
            limit: 100,
            ..HitFilter::default()
        })
        .expect("hits")
        .0
        .iter()
        .filter_map(|h| guid_of(h.link.as_deref()))
        .collect()
}

#[test]
fn searches_find_what_the_same_query_as_a_rule_fires_on() {
    let log = log();
    let mut wrong = Vec::new();
    for (n, row) in TABLE.iter().enumerate() {
        let want: BTreeSet<&str> = row.finds.iter().copied().collect();
        let got = found(&log, row.search);
        if got != want {
            wrong.push(format!(
                "search {:?}: found {got:?}, want {want:?}",
                row.search
            ));
        }
        let rule = fired(&log, n);
        if row.rule_agrees && rule != got {
            wrong.push(format!(
                "search {:?} found {got:?} but the rule fired on {rule:?}",
                row.search
            ));
        }
        if !row.rule_agrees {
            assert!(
                rule.is_subset(&got) && rule != got,
                "{:?}: the search reaches further than the rule ({rule:?})",
                row.search
            );
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_index_follows_an_item_whose_text_changes() {
    let log = log();
    assert_eq!(found(&log, "Tonghae"), BTreeSet::new());
    // The feed rewrites item c: the index follows (the old words go, the new come).
    support::app::ingest_rss(
        &log.app,
        "wire",
        rss(&[("c", "Launch window opens at Tonghae", "https://news.test/c")]),
        t0() + chrono::Duration::hours(3),
    );
    assert_eq!(found(&log, "Tonghae"), BTreeSet::from(["c"]));
    assert_eq!(found(&log, "Sohae"), BTreeSet::new());
}

fn watchfloor(log: &Log, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_watchfloor"))
        .arg("--indicators")
        .arg(&log.rules)
        .arg("--db")
        .arg(&log.db)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("runs")
}

fn cli_ids(log: &Log, search: &str) -> Vec<i64> {
    let output = watchfloor(
        log,
        &[
            "hits",
            "--indicator",
            "anchor",
            "--format",
            "jsonl",
            "--limit",
            "100",
            "--search",
            search,
        ],
    );
    assert!(
        output.status.success(),
        "{search}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["hit_id"]
                .as_i64()
                .expect("id")
        })
        .collect()
}

fn store_ids(log: &Log, filter: HitFilter) -> Vec<i64> {
    store(log)
        .hits_page(&HitFilter {
            limit: 100,
            ..filter
        })
        .expect("hits")
        .0
        .iter()
        .map(|h| h.hit_id)
        .collect()
}

#[test]
fn hits_search_on_the_command_line_agrees_and_refuses_a_bad_search_with_its_place() {
    let log = log();
    for search in [
        "launch*",
        "\"Russian satellite\"",
        "정찰위성",
        "发射",
        "спутник*",
    ] {
        let want = store_ids(
            &log,
            HitFilter {
                indicator: Some("anchor".into()),
                search: Some(search.into()),
                ..HitFilter::default()
            },
        );
        assert!(!want.is_empty(), "{search}");
        assert_eq!(cli_ids(&log, search), want, "{search}");
    }
    let noted = watchfloor(&log, &["hits", "--search", "launch* or Sohae"]);
    assert!(noted.status.success());
    assert!(
        String::from_utf8_lossy(&noted.stderr).contains("note: --search: 'or' is searched for"),
        "{}",
        String::from_utf8_lossy(&noted.stderr)
    );
    let long = "launch ".repeat(100_000 / 7);
    let many = "w ".repeat(10_000);
    let seventy = "w ".repeat(70);
    for (search, says) in [
        ("\"unclosed", "unterminated phrase"),
        ("@dprk", "lists (@dprk) belong to the rules"),
        (long.as_str(), "at most 1000 are accepted"),
        (many.as_str(), "at most 1000 are accepted"),
        (seventy.as_str(), "more than 64 words"),
        ("NOT launch", "NOT needs a term beside it"),
    ] {
        let output = watchfloor(&log, &["hits", "--search", search]);
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{err}");
        assert!(err.contains("--search: ") && err.contains(says), "{err}");
        assert!(
            err.len() < 2000,
            "the message does not repeat a huge search: {err}"
        );
    }
}

/// `GET` through the real daemon: status, content type and body.
async fn get(url: &str) -> (u16, String, String) {
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
        .get(url)
        .send()
        .await
        .expect("the daemon answers");
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, kind, response.text().await.expect("body"))
}

/// `GET` written by hand on a socket of its own: a URL of 100 KB is past what the HTTP client
/// will build, not past what a hostile client sends. Status and body.
async fn raw_get(base: &str, target: String) -> (u16, String) {
    use std::io::{Read, Write};
    let address = base.trim_start_matches("http://").to_owned();
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(
            stream,
            "GET {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("the daemon answers");
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        (status, answer)
    })
    .await
    .expect("joined")
}

/// The hit ids of an Atom feed, read by feed-rs, and the entries' HTML content.
async fn atom(base: &str, query: &str) -> (Vec<i64>, Vec<String>) {
    let (status, kind, body) = get(&format!("{base}/hits.atom?{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    assert!(kind.starts_with("application/atom+xml"), "{kind}");
    let feed = feed_rs::parser::parse(body.as_bytes()).expect("a feed feed-rs reads");
    let ids = feed
        .entries
        .iter()
        .map(|e| {
            e.id.strip_prefix("urn:watchfloor:hit:")
                .expect("entry id")
                .parse()
                .expect("a number")
        })
        .collect();
    let contents = feed
        .entries
        .iter()
        .map(|e| {
            e.content
                .as_ref()
                .and_then(|c| c.body.clone())
                .unwrap_or_default()
        })
        .collect();
    (ids, contents)
}

/// The hit ids a list page shows, from its links to hit pages, in order.
fn list_ids(body: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    // Each row's own id: a repeat's row also links to the hit it repeats.
    for part in body.split("id=\"hit-").skip(1) {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(id) = digits.parse::<i64>()
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_and_the_atom_feed_of_the_daemon_search_alike_and_filter_alike() {
    let log = log();
    // A verdict, so the triage filter has something to narrow to.
    let a_hit = store_ids(
        &log,
        HitFilter {
            indicator: Some("anchor".into()),
            search: Some("Pyongyang".into()),
            ..HitFilter::default()
        },
    )[0];
    Store::open(&log.db)
        .expect("write")
        .set_triage(a_hit, Verdict::Relevant, "seen", Utc::now())
        .expect("triage");
    let daemon = Daemon::start(&log.rules, &log.db, &[]);
    let base = daemon.http_base();

    // The same search: the list, the feed and the store agree.
    for search in [
        "launch*",
        "\"Russian satellite\"",
        "정찰위성",
        "偵察衛星",
        "pokemon",
    ] {
        let q: String = url::form_urlencoded::byte_serialize(search.as_bytes()).collect();
        let filter = HitFilter {
            indicator: Some("anchor".into()),
            search: Some(search.into()),
            ..HitFilter::default()
        };
        let want = store_ids(&log, filter.clone());
        let standing = store_ids(
            &log,
            HitFilter {
                skip_duplicates: true,
                ..filter
            },
        );
        // The list, like the feed, leaves repeats out unless asked.
        let (status, _, list) = get(&format!("{base}/hits?indicator=anchor&q={q}")).await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list_ids(&list), standing, "list for {search}");
        let (_, _, all) = get(&format!(
            "{base}/hits?indicator=anchor&q={q}&duplicates=include"
        ))
        .await;
        assert_eq!(list_ids(&all), want, "list with repeats for {search}");
        assert!(
            list.contains(&format!("/hits.atom?indicator=anchor&#38;q={q}")),
            "the list's feed link keeps the search: {list}"
        );
        let (ids, _) = atom(&base, &format!("indicator=anchor&q={q}")).await;
        assert_eq!(ids, standing, "feed for {search}");
        let (ids, _) = atom(&base, &format!("indicator=anchor&q={q}&duplicates=include")).await;
        assert_eq!(ids, want, "feed with repeats for {search}");
    }

    // A lower-case operator is a word, as in rules: the page finds and says so.
    let (status, _, list) = get(&format!("{base}/hits?q=launch*+and+satellite")).await;
    assert_eq!(status, 200);
    assert!(list.contains("did you mean AND?"), "{list}");

    // Each filter narrows the feed as it narrows the store's list (less the repeats).
    let since = (t0() + chrono::Duration::hours(12)).to_rfc3339();
    let filters: [(String, HitFilter); 5] = [
        (
            "indicator=q2".into(),
            HitFilter {
                indicator: Some("q2".into()),
                ..HitFilter::default()
            },
        ),
        (
            "feed=agency".into(),
            HitFilter {
                feed: Some("agency".into()),
                ..HitFilter::default()
            },
        ),
        (
            "triage=relevant".into(),
            HitFilter {
                triage: TriageFilter::Verdict(Verdict::Relevant),
                ..HitFilter::default()
            },
        ),
        (
            "q=launch*".into(),
            HitFilter {
                search: Some("launch*".into()),
                ..HitFilter::default()
            },
        ),
        (
            format!(
                "since={}",
                url::form_urlencoded::byte_serialize(since.as_bytes()).collect::<String>()
            ),
            HitFilter {
                since: Some(DateTime::parse_from_rfc3339(&since).expect("t").into()),
                ..HitFilter::default()
            },
        ),
    ];
    let (everything, _) = atom(&base, "duplicates=include").await;
    for (query, filter) in filters {
        let all = store_ids(&log, filter.clone());
        let standing = store_ids(
            &log,
            HitFilter {
                skip_duplicates: true,
                ..filter
            },
        );
        assert!(
            !standing.is_empty() && standing.len() < everything.len(),
            "{query} narrows: {standing:?}"
        );
        assert_eq!(atom(&base, &query).await.0, standing, "{query}");
        assert_eq!(
            atom(&base, &format!("{query}&duplicates=include")).await.0,
            all,
            "{query} with repeats"
        );
    }

    // The second report of a's story is a repeat: left out unless asked for.
    let repeats = store_ids(
        &log,
        HitFilter {
            feed: Some("agency".into()),
            search: Some("\"officials say\"".into()),
            ..HitFilter::default()
        },
    );
    assert!(!repeats.is_empty());
    let (standing, _) = atom(&base, "").await;
    for repeat in &repeats {
        assert!(!standing.contains(repeat), "{repeat} is a repeat");
        assert!(
            everything.contains(repeat),
            "{repeat} with duplicates=include"
        );
    }

    // Each entry's content marks the matched terms.
    let (_, contents) = atom(&base, "indicator=q2").await;
    assert!(!contents.is_empty());
    for content in &contents {
        assert!(
            content.contains("<mark>launch")
                || content.contains("<mark>Launch")
                || content.contains("<mark>LAUNCH"),
            "{content}"
        );
    }
    let korean = TABLE
        .iter()
        .position(|r| r.search == "군사정찰위성을")
        .expect("row");
    let (_, contents) = atom(&base, &format!("indicator=q{korean}")).await;
    assert!(
        contents
            .iter()
            .all(|c| c.contains("<mark>군사정찰위성을</mark>")),
        "{contents:?}"
    );

    // Hostile searches: a clear 400 or a page, never a 500, never slow.
    let long: String =
        url::form_urlencoded::byte_serialize("launch ".repeat(100_000 / 7).as_bytes()).collect();
    for path in ["/hits", "/hits.atom"] {
        let started = Instant::now();
        let (status, answer) = raw_get(&base, format!("{path}?q={long}")).await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{path}: a 100 KB search was slow"
        );
        // The listener refuses a request line that long before the search sees it (414).
        assert!(
            status == 400 || status == 414,
            "{path}: a 100 KB search: {status}"
        );
        if status == 400 {
            assert!(
                answer.contains("at most 1000 are accepted"),
                "{path} says why"
            );
        }
    }
    let two_kb: String =
        url::form_urlencoded::byte_serialize("launch ".repeat(300).as_bytes()).collect();
    for path in ["/hits", "/hits.atom"] {
        let (status, _, body) = get(&format!("{base}{path}?q={two_kb}")).await;
        assert_eq!(status, 400, "{path}: a 2 KB search");
        assert!(
            body.contains("at most 1000 are accepted"),
            "{path} says why"
        );
    }
    let many = "w ".repeat(10_000);
    let mut hostile: Vec<(String, u16)> = vec![
        (
            url::form_urlencoded::byte_serialize(many.as_bytes()).collect(),
            0,
        ),
        (
            url::form_urlencoded::byte_serialize("w ".repeat(70).as_bytes()).collect(),
            400,
        ),
        ("%FF%FE%FD".into(), 400),
        ("launch%C3".into(), 200),
        ("%00".into(), 200),
        ("launch%00%1b".into(), 200),
    ];
    for odd in [
        "\"",
        "\"\"",
        "*",
        "**launch",
        "launch**",
        "la*unch",
        "NEAR(a b)",
        "NEAR/0 a",
        "a NEAR/1",
        "{title}: launch",
        "title:",
        "-launch",
        "^launch",
        "launch:",
        "()",
        ")(",
        "AND OR NOT",
        "a OR",
        "\"a\" *",
        "'launch'",
        "launch \\",
        "title:(summary:(launch))",
        "@",
        "/x",
        "NOT NOT launch",
        "rowid:1",
        "hit_items_search:launch",
        "launch*\"",
    ] {
        hostile.push((
            url::form_urlencoded::byte_serialize(odd.as_bytes()).collect(),
            0,
        ));
    }
    for (q, want) in hostile {
        for path in ["/hits", "/hits.atom"] {
            let started = Instant::now();
            let (status, _, body) = get(&format!("{base}{path}?q={q}")).await;
            let q = &q[..q.len().min(80)];
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{path}?q={q} was slow"
            );
            assert!(
                status == 200 || status == 400 || status == 414,
                "{path}?q={q}: {status}"
            );
            if want != 0 {
                assert_eq!(status, want, "{path}?q={q}");
            }
            if status == 400 {
                assert!(body.contains("q: "), "{path}?q={q} says why");
            }
            if status == 400 && path == "/hits.atom" {
                assert!(
                    body.len() < 2_000,
                    "{path}?q={q}: the answer does not echo the search"
                );
            }
        }
    }
    let (code, log_text) = daemon.stop();
    assert_eq!(code, Some(0), "{log_text}");
    assert!(
        !log_text.contains("database could not be read"),
        "{log_text}"
    );
}
