//! The parse stage held to feedparser's own test documents: `../shared/feedparser-suite/`
//! beside the repository, read where it lies (the documents keep feedparser's licence and are
//! never copied here; its README says what each file is).
//!
//! Every document goes through the real parse stage; those whose path contains `http` first go
//! through the real fetch stage, from a server on 127.0.0.1 that sends the document's `Header:`
//! lines. Each expectation is read the way the suite's README describes a fair reader: display
//! text against display text, canonical links, instants rather than spellings.
//!
//! A document agrees when every one of its conjuncts holds. The disagreements kept on purpose
//! are listed, each with its reason, in `tests/data/parse-conformance-exceptions.tsv`; the test
//! fails on a disagreement that is not listed, on a listed document that now agrees (so the
//! list stays true), and below [`AGREEMENT_FLOOR`].

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use support::feed_server::{FeedServer, Response};
use watchfloor::config::FetchSettings;
use watchfloor::fetch::{FetchOutcome, Fetcher, Validators};
use watchfloor::parse::{ParsedFeed, ParsedItem, canonical_link, parse_feed};
use watchfloor::text::html_to_text;

/// Documents that must agree, of all the suite's documents (every one is in scope: the suite
/// keeps only documents whose expectations touch fields watchfloor keeps). Raise it when the
/// parse stage gets better; never lower it to pass.
const AGREEMENT_FLOOR: usize = 845;

/// The address feedparser's harness serves documents from; expectations that contain it mean
/// the document's own address.
const HARNESS: &str = "http://127.0.0.1:8097";

const EXCEPTIONS: &str = "tests/data/parse-conformance-exceptions.tsv";

fn suite_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/feedparser-suite");
    if dir.join("expectations.json").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: feedparser's test documents are not at {} (they live in shared/, beside \
             the repository)",
            dir.display()
        );
        None
    }
}

/// Path to reason, from the exceptions file (`path<TAB>reason`, `#` comments).
fn exceptions() -> BTreeMap<String, String> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(EXCEPTIONS);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut listed = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (path, reason) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("{EXCEPTIONS}:{}: want `path<TAB>reason`", number + 1));
        assert!(
            !reason.trim().is_empty(),
            "{EXCEPTIONS}:{}: {path} has no reason",
            number + 1
        );
        let previous = listed.insert(path.trim().to_owned(), reason.trim().to_owned());
        assert!(
            previous.is_none(),
            "{EXCEPTIONS}:{}: {path} listed twice",
            number + 1
        );
    }
    listed
}

/// What happened to one document.
struct Verdict {
    path: String,
    agrees: bool,
    /// Why not, for the report.
    detail: String,
}

#[test]
fn the_parse_stage_agrees_with_feedparsers_test_documents() {
    let Some(dir) = suite_dir() else { return };
    let records: Vec<Value> =
        serde_json::from_slice(&std::fs::read(dir.join("expectations.json")).unwrap()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(FeedServer::empty());
    let fetcher = Fetcher::new(&FetchSettings {
        timeout: Duration::from_secs(10),
        max_body: 1 << 20,
        concurrency: 4,
        per_host: 4,
        user_agent: "watchfloor-conformance".to_owned(),
        ..FetchSettings::default()
    })
    .unwrap();

    let mut verdicts = Vec::new();
    for record in &records {
        let path = record["path"].as_str().unwrap().to_owned();
        let bytes = std::fs::read(dir.join(&path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        let (parsed, address) = if record["http"].as_bool() == Some(true) {
            let route = format!("/{path}");
            let mut response = Response::status(200).body(bytes);
            let headers = record["headers"].as_object().unwrap();
            if !headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("content-type"))
            {
                response = response.header("Content-Type", "text/xml");
            }
            for (name, value) in headers {
                response = response.header(name, value.as_str().unwrap());
            }
            server.set(&route, response);
            let url = server.url(&route);
            let parsed = match runtime.block_on(fetcher.fetch(&url, &Validators::default())) {
                Ok(FetchOutcome::Fetched(body)) => {
                    parse_feed(&body.body, body.content_type.as_deref(), &body.final_url)
                        .map_err(|e| format!("refused: {e}"))
                }
                other => Err(format!("fetch failed: {other:?}")),
            };
            (parsed, server.url(""))
        } else {
            let url = format!("{HARNESS}/{path}");
            let parsed = parse_feed(&bytes, None, &url).map_err(|e| format!("refused: {e}"));
            (parsed, HARNESS.to_owned())
        };
        verdicts.push(judge(&path, record, parsed, &address));
    }

    let listed = exceptions();
    let mut per_folder: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut unlisted = Vec::new();
    let mut stale = Vec::new();
    for verdict in &verdicts {
        let folder = folder_of(&verdict.path);
        let counts = per_folder.entry(folder).or_default();
        counts.1 += 1;
        if verdict.agrees {
            counts.0 += 1;
            if listed.contains_key(&verdict.path) {
                stale.push(verdict.path.clone());
            }
        } else if !listed.contains_key(&verdict.path) {
            unlisted.push(format!("{}: {}", verdict.path, verdict.detail));
        }
    }
    let unknown: Vec<&String> = listed
        .keys()
        .filter(|p| !verdicts.iter().any(|v| &v.path == *p))
        .collect();

    let agreed = verdicts.iter().filter(|v| v.agrees).count();
    println!("agreement with feedparser's test documents, per folder:");
    for (folder, (agree, total)) in &per_folder {
        println!(
            "  {folder:<32} {agree:>4} / {total:<4} {:>6.1}%",
            100.0 * *agree as f64 / *total as f64
        );
    }
    println!(
        "  {:<32} {agreed:>4} / {:<4} {:>6.1}%   ({} disagreements listed in {EXCEPTIONS})",
        "all",
        verdicts.len(),
        100.0 * agreed as f64 / verdicts.len() as f64,
        verdicts.len() - agreed - unlisted.len(),
    );
    if !unlisted.is_empty() {
        println!("disagreements not listed in {EXCEPTIONS}:");
        for line in &unlisted {
            println!("  {line}");
        }
    }
    assert!(
        unlisted.is_empty(),
        "{} disagreements are not listed in {EXCEPTIONS} (printed above)",
        unlisted.len()
    );
    assert!(
        stale.is_empty(),
        "listed in {EXCEPTIONS} but now agreeing, remove them: {stale:?}"
    );
    assert!(
        unknown.is_empty(),
        "listed in {EXCEPTIONS} but not in the suite: {unknown:?}"
    );
    assert!(
        agreed >= AGREEMENT_FLOOR,
        "{agreed} documents agree, below the floor of {AGREEMENT_FLOOR}"
    );
}

/// `tests/wellformed/rss/item_title.xml` → `wellformed/rss`.
fn folder_of(path: &str) -> String {
    let inner = path.strip_prefix("tests/").unwrap_or(path);
    let parts: Vec<&str> = inner.split('/').collect();
    match parts.as_slice() {
        ["wellformed" | "illformed", sub, _, ..] => format!("{}/{sub}", parts[0]),
        [top, ..] => (*top).to_owned(),
        [] => String::new(),
    }
}

fn judge(path: &str, record: &Value, parsed: Result<ParsedFeed, String>, address: &str) -> Verdict {
    let feed = match parsed {
        Ok(feed) => feed,
        Err(message) => {
            return Verdict {
                path: path.to_owned(),
                agrees: false,
                detail: message,
            };
        }
    };
    let items = one_per_key(&feed.items);
    let mut failures = Vec::new();
    for conjunct in record["conjuncts"].as_array().unwrap() {
        if let Err(why) = check(conjunct, &items, address) {
            failures.push(format!("{} ({why})", conjunct["src"].as_str().unwrap()));
        }
    }
    Verdict {
        path: path.to_owned(),
        agrees: failures.is_empty(),
        detail: failures.join("; "),
    }
}

/// Entries that share a key are one item for watchfloor (the store keeps one row per key), so
/// an expectation about a later copy concerns the item: entry `i` is the item of the `i`-th
/// entry's key.
fn one_per_key(items: &[ParsedItem]) -> Vec<&ParsedItem> {
    let mut last: HashMap<&str, &ParsedItem> = HashMap::new();
    for item in items {
        last.insert(item.key.as_str(), item);
    }
    items.iter().map(|item| last[item.key.as_str()]).collect()
}

/// Display text as a reader sees it: HTML values through the same tag stripping and entity
/// decoding as items, plain text with its whitespace collapsed.
fn display(expected: &str, kind: Option<&str>) -> String {
    match kind {
        Some("text/plain") => expected.split_whitespace().collect::<Vec<_>>().join(" "),
        _ => html_to_text(expected),
    }
}

fn check(conjunct: &Value, items: &[&ParsedItem], address: &str) -> Result<(), String> {
    let target = conjunct["target"].as_str().unwrap();
    let function = conjunct["fn"].as_str();
    let op = conjunct["op"].as_str().unwrap();
    let field = conjunct["field"].as_str().unwrap_or("");
    let sub = conjunct["sub"].as_u64().map(|s| s as usize);
    let expected = &conjunct["expected"];
    let expected_text = expected
        .as_str()
        .map(|s| s.replace(HARNESS, address.trim_end_matches('/')));

    if target == "count" {
        let mut keys: Vec<&str> = items.iter().map(|i| i.key.as_str()).collect();
        keys.dedup();
        let want = expected.as_u64().unwrap() as usize;
        return (keys.len() == want)
            .then_some(())
            .ok_or_else(|| format!("{} items", keys.len()));
    }
    let index = conjunct["entry"].as_u64().unwrap() as usize;
    let Some(item) = items.get(index) else {
        return Err(format!("{} items", items.len()));
    };
    let equal = |got: &str, want: &str| -> Result<(), String> {
        if got == want {
            Ok(())
        } else {
            Err(format!("got {got:?}, want {want:?}"))
        }
    };
    match target {
        "title" | "summary" | "content" => {
            if function == Some("ord") {
                let want = expected.as_u64().unwrap();
                let got: Vec<u32> = item.summary.chars().map(u32::from).collect();
                return (got == [want as u32])
                    .then_some(())
                    .ok_or_else(|| format!("got code points {got:?}, want {want}"));
            }
            let want = display(
                expected_text.as_deref().unwrap_or(""),
                conjunct["type"].as_str(),
            );
            // A summary that feedparser takes from the content (or the reverse) is the same
            // text in the other slot.
            let slots: &[&str] = match target {
                "title" => &[&item.title],
                _ => &[&item.summary, &item.content],
            };
            if slots.contains(&want.as_str()) {
                Ok(())
            } else {
                Err(format!("got {slots:?}, want {want:?}"))
            }
        }
        "link" => {
            if function == Some("present") {
                return match &item.link {
                    None => Ok(()),
                    Some(link) => Err(format!("has link {link:?}")),
                };
            }
            // The README's reading: a link whose rel is not alternate (an enclosure, a
            // licence) is not an item's link, so the expectation says nothing about the item.
            if conjunct["rel"]
                .as_str()
                .is_some_and(|rel| rel != "alternate")
            {
                return Ok(());
            }
            let want = canonical_link(expected_text.as_deref().unwrap(), None);
            if want.is_some() && item.link == want {
                Ok(())
            } else {
                Err(format!("got {:?}, want {want:?}", item.link))
            }
        }
        "id" => equal(&item.key, &format!("guid:{}", expected_text.unwrap())),
        "author" => {
            let want = expected_text.unwrap();
            // feedparser writes `name (email)`; the name is the author.
            let want = match want.rfind(" (") {
                Some(at) if want.ends_with(')') && want[at..].contains('@') => &want[..at],
                _ => want.as_str(),
            };
            let got = item
                .authors
                .get(sub.unwrap_or(0))
                .map_or("", String::as_str);
            equal(got, want)
        }
        "date" => {
            let want = conjunct["instant"].as_i64().unwrap();
            let got = [item.published, item.updated];
            // Both published and updated are the item's date; either slot may carry it.
            let slot = if field.starts_with("published") || field.starts_with("issued") {
                [item.published.or(item.updated)]
            } else {
                [item.updated.or(item.published)]
            };
            if slot[0].map(|t| t.timestamp()) == Some(want) {
                Ok(())
            } else {
                Err(format!("got {got:?}, want {want}"))
            }
        }
        "category" => {
            if function == Some("len") {
                let want = expected.as_u64().unwrap() as usize;
                return (item.categories.len() == want)
                    .then_some(())
                    .ok_or_else(|| format!("got {:?}", item.categories));
            }
            if op == "NotEq" {
                // `category != None`: the item has one.
                return (!item.categories.is_empty())
                    .then_some(())
                    .ok_or_else(|| "no category".to_owned());
            }
            let got = item
                .categories
                .get(sub.unwrap_or(0))
                .map_or("", String::as_str);
            equal(got, &display(&expected_text.unwrap(), Some("text/plain")))
        }
        other => Err(format!("unknown target {other}")),
    }
}
