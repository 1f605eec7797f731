//! The parse stage on real captured feeds: `../shared/corpus/feeds/` beside the repository,
//! read where it lies (the files keep their origin repositories' licences and are not copied
//! here). `MANIFEST.tsv` there gives each file's item count.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use watchfloor::parse::date::feed_rs_timestamp;
use watchfloor::parse::{ParseError, ParsedFeed, parse_feed, parse_feed_with};

const FEED_URL: &str = "https://feeds.example.org/feed.xml";

fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/feeds");
    if dir.join("MANIFEST.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: the feed corpus is not at {} (it lives in shared/, beside the repository)",
            dir.display()
        );
        None
    }
}

/// File name to the `items` column of MANIFEST.tsv.
fn manifest_items(dir: &Path) -> HashMap<String, usize> {
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (file, items) = (column("file"), column("items"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            (cols[file].to_owned(), cols[items].parse().unwrap())
        })
        .collect()
}

fn corpus_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|name| name != "MANIFEST.tsv" && name != "README.md")
        .map(|name| {
            let bytes = std::fs::read(dir.join(&name)).unwrap();
            (name, bytes)
        })
        .collect();
    files.sort();
    files
}

fn parse_file(dir: &Path, name: &str) -> ParsedFeed {
    let bytes = std::fs::read(dir.join(name)).unwrap();
    parse_feed(&bytes, None, FEED_URL).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// What each MALFORMED- file gives.
enum Outcome {
    /// Refused, with a message containing this.
    NotAFeed(&'static str),
    /// Parsed leniently (the module doc of `parse` says why), with the manifest's item count.
    Lenient,
}

const MALFORMED: &[(&str, Outcome)] = &[
    // An Atom feed inside <html><body>: the <feed> element is read.
    (
        "MALFORMED-atom-wrapped-in-xhtml-html-body.xml",
        Outcome::Lenient,
    ),
    (
        "MALFORMED-html-marketwatch-document-moved.xml",
        Outcome::NotAFeed("an HTML page (<head>), not a feed"),
    ),
    (
        "MALFORMED-html-parked-domain-as-feed.xml",
        Outcome::NotAFeed("an HTML page (<html>), not a feed"),
    ),
    (
        "MALFORMED-html-wordpress-login-page-as-feed.xml",
        Outcome::NotAFeed("an HTML page (<html>), not a feed"),
    ),
    // ISO-8859-1 without a declaration: detected.
    (
        "MALFORMED-rss-uol-noticias-undeclared-latin1.xml",
        Outcome::Lenient,
    ),
    (
        "MALFORMED-rss2-cercle-psy-fr-undeclared-iso8859-1.xml",
        Outcome::Lenient,
    ),
];

#[test]
fn every_feed_parses_with_the_manifest_item_count() {
    let Some(dir) = corpus_dir() else { return };
    let expected = manifest_items(&dir);
    let files = corpus_files(&dir);
    assert!(
        files.len() >= 70,
        "only {} files in the corpus",
        files.len()
    );
    let mut failures = Vec::new();
    for (name, bytes) in &files {
        if name.starts_with("MALFORMED-") {
            continue;
        }
        let Some(&items) = expected.get(name) else {
            failures.push(format!("{name}: not in MANIFEST.tsv"));
            continue;
        };
        match parse_feed(bytes, None, FEED_URL) {
            Ok(feed) if feed.items.len() == items => {
                let keys: HashSet<&str> = feed.items.iter().map(|i| i.key.as_str()).collect();
                if keys.len() != items {
                    failures.push(format!(
                        "{name}: {} distinct keys for {items} items",
                        keys.len()
                    ));
                }
            }
            Ok(feed) => failures.push(format!(
                "{name}: {} items, manifest says {items}",
                feed.items.len()
            )),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_malformed_file_gives_its_documented_outcome() {
    let Some(dir) = corpus_dir() else { return };
    let expected = manifest_items(&dir);
    let malformed: Vec<String> = corpus_files(&dir)
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| name.starts_with("MALFORMED-"))
        .collect();
    let documented: Vec<&str> = MALFORMED.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        malformed, documented,
        "a MALFORMED- file without a documented outcome"
    );
    for (name, outcome) in MALFORMED {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let result = parse_feed(&bytes, None, FEED_URL);
        match (outcome, result) {
            (Outcome::NotAFeed(message), Err(error @ ParseError::NotAFeed { .. })) => {
                assert_eq!(error.to_string(), *message, "{name}");
            }
            (Outcome::Lenient, Ok(feed)) => {
                assert_eq!(feed.items.len(), expected[*name], "{name}");
            }
            (_, result) => panic!("{name}: unexpected {:?}", result.map(|f| f.items.len())),
        }
    }
}

fn all_text(feed: &ParsedFeed) -> String {
    let mut text = feed.title.clone().unwrap_or_default();
    for item in &feed.items {
        for field in [&item.title, &item.summary, &item.content] {
            text.push('\n');
            text.push_str(field);
        }
    }
    text
}

#[test]
fn encoded_feeds_decode_to_their_script() {
    let Some(dir) = corpus_dir() else { return };
    let cyrillic = |c: char| ('\u{0400}'..='\u{04FF}').contains(&c);
    let hangul = |c: char| ('\u{AC00}'..='\u{D7A3}').contains(&c);
    let kana = |c: char| ('\u{3040}'..='\u{30FF}').contains(&c);
    let han = |c: char| ('\u{4E00}'..='\u{9FFF}').contains(&c);
    let latin_accent = |c: char| "áàâãçéêíóôõúüñèëïöß".contains(c);
    // (file, script expected in the item text, a phrase that must appear)
    type Script<'a> = &'a dyn Fn(char) -> bool;
    let cases: &[(&str, Script, &str)] = &[
        ("rss2-ibash-ru-windows-1251.xml", &cyrillic, "Цитата"),
        (
            "rss-koi8r-undeclared-TESTCASE.xml",
            &cyrillic,
            "Как пережить новогоднюю ночь",
        ),
        ("rss2-euckr-declared-TESTCASE.xml", &hangul, "년"),
        ("rss-euckr-undeclared-TESTCASE.xml", &hangul, "한글닉네임"),
        ("atom-shiftjis-undeclared-TESTCASE.xml", &kana, "記事投稿"),
        ("rss2-qq-tech-zh-gb2312.xml", &han, "重组"),
        ("rss2-jn-pt-news-iso8859-1-crlf.xml", &latin_accent, "Mãe"),
        (
            "rss1-golem-de-iso8859-1.xml",
            &latin_accent,
            "Glasfaserförderung",
        ),
        (
            "MALFORMED-rss-uol-noticias-undeclared-latin1.xml",
            &latin_accent,
            "ã",
        ),
        (
            "MALFORMED-rss2-cercle-psy-fr-undeclared-iso8859-1.xml",
            &latin_accent,
            "é",
        ),
        (
            "rss2-citydog-by-ru-no-encoding-decl.xml",
            &cyrillic,
            "Группа",
        ),
    ];
    for (name, script, phrase) in cases {
        let text = all_text(&parse_file(&dir, name));
        assert!(
            !text.contains('\u{FFFD}'),
            "{name}: replacement characters in {text}"
        );
        assert!(text.chars().any(script), "{name}: wrong script: {text}");
        assert!(
            text.contains(phrase),
            "{name}: {phrase:?} missing from {text}"
        );
    }
}

#[test]
fn no_well_formed_feed_decodes_to_replacement_characters() {
    let Some(dir) = corpus_dir() else { return };
    for (name, bytes) in corpus_files(&dir) {
        if let Ok(feed) = parse_feed(&bytes, None, FEED_URL) {
            assert!(!all_text(&feed).contains('\u{FFFD}'), "{name}");
        }
    }
}

#[test]
fn old_formats_keep_their_dates_and_links() {
    let Some(dir) = corpus_dir() else { return };
    // Atom 0.3: <issued> is the publication date, <modified> the update.
    let feed = parse_file(&dir, "atom03-typepad-juniordeveloper.xml");
    let first = &feed.items[0];
    assert_eq!(
        first.published.map(|d| d.to_rfc3339()).as_deref(),
        Some("2009-01-20T14:22:38+00:00")
    );
    assert_eq!(
        first.updated.map(|d| d.to_rfc3339()).as_deref(),
        Some("2009-01-20T17:19:07+00:00")
    );
    assert!(
        first.content.contains("nifty improvements"),
        "{}",
        first.content
    );
    assert_eq!(feed.title.as_deref(), Some("Junior developer"));

    // RSS 0.90: items read, their tracking parameter gone.
    let feed = parse_file(&dir, "rss090-heise-newsticker-de.xml");
    assert_eq!(
        feed.items[0].link.as_deref(),
        Some(
            "https://www.heise.de/newsticker/meldung/OLED-TVs-Vorsichtsmassnahmen-gegen-Einbrennen-4205274.html"
        )
    );
    assert_eq!(
        feed.items[0].key,
        format!("link:{}", feed.items[0].link.as_deref().unwrap())
    );
}

#[test]
fn items_without_guid_or_link_are_keyed_by_their_text() {
    let Some(dir) = corpus_dir() else { return };
    let feed = parse_file(&dir, "rss2-obsolete-feed-moved-no-link-date-guid.xml");
    let item = &feed.items[0];
    assert_eq!(item.link, None);
    assert!(item.key.starts_with("hash:"), "{}", item.key);
    assert_eq!(item.key.len(), "hash:".len() + 64);
    // The same bytes give the same key and hash every time.
    let again = parse_file(&dir, "rss2-obsolete-feed-moved-no-link-date-guid.xml");
    assert_eq!(item, &again.items[0]);
}

/// The parse stage reads the dates chrono accepts as written without feed-rs's lenient
/// rewriting (`parse::date`): on every corpus file, that must give exactly what feed-rs's own
/// date reader gives, item for item.
#[test]
fn dates_are_feed_rs_dates() {
    let Some(dir) = corpus_dir() else { return };
    let mut dated = 0;
    for (name, bytes) in corpus_files(&dir) {
        let fast = parse_feed(&bytes, None, FEED_URL);
        let reference = parse_feed_with(&bytes, None, FEED_URL, feed_rs_timestamp);
        match (fast, reference) {
            (Ok(fast), Ok(reference)) => {
                dated += fast
                    .items
                    .iter()
                    .filter(|i| i.published.is_some() || i.updated.is_some())
                    .count();
                assert_eq!(fast, reference, "{name}");
            }
            (Err(fast), Err(reference)) => {
                assert_eq!(fast.to_string(), reference.to_string(), "{name}")
            }
            (fast, reference) => panic!("{name}: {fast:?} against {reference:?}"),
        }
    }
    // Most of the corpus is dated; a reader that gave no dates at all would agree trivially.
    assert!(dated > 1000, "only {dated} dated items");
}

/// Redirect links become the article's own address, so that a story reached through Google
/// Alerts or FeedBurner and straight from the outlet is one item.
#[test]
fn redirect_links_give_the_articles_address() {
    let Some(dir) = corpus_dir() else { return };
    let feed = parse_file(&dir, "atom-google-alerts.xml");
    assert!(!feed.items.is_empty());
    for item in &feed.items {
        let link = item.link.as_deref().expect("every alert has a link");
        assert!(!link.contains("google.com/url"), "{link}");
    }
    assert!(
        feed.items.iter().any(|i| i.link.as_deref()
            == Some("https://investorplace.com/2019/07/slack-stock-truly-compelling/")),
        "{:?}",
        feed.items.iter().map(|i| &i.link).collect::<Vec<_>>()
    );

    let feed = parse_file(&dir, "rss2-techcrunch-feedburner-leading-newline.xml");
    assert!(!feed.items.is_empty());
    for item in &feed.items {
        let link = item.link.as_deref().expect("every story has a link");
        assert!(link.starts_with("http://techcrunch.com/"), "{link}");
    }
}
