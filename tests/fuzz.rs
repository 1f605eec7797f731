//! Fuzzing as properties: random and mutated inputs to the stages that read what strangers
//! write (queries and configuration by analysts, feeds by anyone), run by proptest inside
//! `cargo test`. Each property runs 256 cases by default; `PROPTEST_CASES=100000 cargo test
//! --release --test fuzz` runs longer. The unit properties beside the code
//! (`src/matcher/tests.rs`, `src/parse/tests.rs`) cover "never panics" on plain random input;
//! these add what must hold of the answers, and inputs shaped like the real thing.

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use watchfloor::config::Indicators;
use watchfloor::matcher::query::parse;
use watchfloor::parse::parse_feed;
use watchfloor::text::{Analyzed, Field};

const URL: &str = "https://feeds.example.org/feed.xml";

/// Characters that have broken normalisers: combining marks, letters whose lowercase or
/// compatibility form is longer (İ, ß, ﬁ, ǅ), full-width forms, Hangul jamo and syllables,
/// Han, joiners, bidi controls, emoji with modifiers, a lone replacement character.
const TRICKY: &[char] = &[
    '\u{0301}',
    '\u{0308}',
    '\u{0130}',
    'ß',
    'ﬁ',
    'ǅ',
    'Ａ',
    '１',
    '\u{1100}',
    '\u{1161}',
    '한',
    '國',
    'の',
    '\u{200d}',
    '\u{200b}',
    '\u{202e}',
    '\u{2066}',
    '👩',
    '\u{1f3fd}',
    '\u{fffd}',
    'й',
    'ё',
    'Σ',
    'ς',
    '-',
    '*',
    '"',
    '\'',
    ' ',
    '\n',
    '\t',
    '/',
    '@',
    ':',
    '(',
    ')',
];

fn tricky_text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            3 => proptest::sample::select(TRICKY),
            2 => any::<char>(),
            2 => proptest::char::range('a', 'z'),
        ],
        0..max,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// Words and operators of the query language, to get past the lexer more often than random
/// characters do.
const QUERY_PIECES: &[&str] = &[
    "satellite",
    "launch*",
    "\"Kim Jong-un\"",
    "Jong-un",
    "@dprk",
    "/sat[a-z]+/",
    "/(?i)x/",
    "AND",
    "OR",
    "NOT",
    "NEAR/3",
    "NEAR/0",
    "NEAR/1001",
    "title:",
    "summary:(",
    "link:",
    "(",
    ")",
    "\"",
    "*",
    "/",
    "@",
    "북한*",
    "спутник*",
    "la*nch",
    "\\/",
    ":",
];

fn query_like() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::sample::select(QUERY_PIECES).prop_map(str::to_owned),
            1 => tricky_text(4),
        ],
        0..12,
    )
    .prop_map(|parts| parts.join(" "))
}

fn corpus() -> &'static [Vec<u8>] {
    static FILES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/feeds");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!(
                "the feed corpus is not at {}: mutated-corpus cases use a built-in feed",
                dir.display()
            );
            return vec![BUILT_IN.as_bytes().to_vec()];
        };
        let mut names: Vec<_> = entries
            .map_while(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "xml" || x == "json"))
            .collect();
        names.sort();
        // Small files keep each case fast; mutations do not need megabytes.
        names
            .iter()
            .filter_map(|p| std::fs::read(p).ok())
            .filter(|b| b.len() < 64 * 1024)
            .collect()
    })
}

const BUILT_IN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Wire</title>
<item><guid>1</guid><title>Война &amp; мир</title><link>/a?utm_source=x</link>
<description><![CDATA[<p>North Korea <b>launches</b></p>]]></description></item>
</channel></rss>"#;

/// One way to damage a document.
#[derive(Clone, Debug)]
enum Mutation {
    Flip {
        at: usize,
        bit: u8,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Delete {
        at: usize,
        len: usize,
    },
    Truncate {
        at: usize,
    },
    /// Copies a slice of the document over another place: repeated tags, nested items.
    Splice {
        from: usize,
        len: usize,
        to: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        (at, 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (
            at,
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 1..8),
                proptest::sample::select(vec![
                    b"<item>".to_vec(),
                    b"</channel>".to_vec(),
                    b"<![CDATA[".to_vec(),
                    b"&lol;".to_vec(),
                    b"<?xml version=\"1.0\" encoding=\"koi8-r\"?>".to_vec(),
                    b"\xef\xbb\xbf".to_vec(),
                    b"\xff\xfe".to_vec(),
                    b"\"entries\": [".to_vec(),
                ]),
            ]
        )
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (at, 1usize..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
        at.prop_map(|at| Mutation::Truncate { at }),
        (at, 1usize..256, at).prop_map(|(from, len, to)| Mutation::Splice { from, len, to }),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let place = |at: usize, len: usize| if len == 0 { 0 } else { at % (len + 1) };
    match mutation {
        Mutation::Flip { at, bit } if !bytes.is_empty() => {
            let at = at % bytes.len();
            bytes[at] ^= 1 << bit;
        }
        Mutation::Flip { .. } => {}
        Mutation::Insert { at, bytes: new } => {
            let at = place(*at, bytes.len());
            bytes.splice(at..at, new.iter().copied());
        }
        Mutation::Delete { at, len } => {
            let at = place(*at, bytes.len());
            let end = (at + len).min(bytes.len());
            bytes.drain(at..end);
        }
        Mutation::Truncate { at } => {
            let at = place(*at, bytes.len());
            bytes.truncate(at);
        }
        Mutation::Splice { from, len, to } => {
            let from = place(*from, bytes.len());
            let end = (from + len).min(bytes.len());
            let piece: Vec<u8> = bytes[from..end].to_vec();
            let to = place(*to, bytes.len());
            bytes.splice(to..to, piece);
        }
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Characters XML 1.0 allows in text (no C0 controls but tab, newline and return; no
/// surrogates, which a Rust char cannot be anyway; no U+FFFE or U+FFFF).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}')
}

proptest! {
    /// A query parses or fails with a span inside the query (the caret `check` draws must land
    /// on a character of what the analyst wrote), and drawing it never panics.
    #[test]
    fn a_query_parses_or_its_error_points_inside_it(query in prop_oneof![query_like(), tricky_text(40)]) {
        if let Err(error) = parse(&query) {
            let span = error.span;
            prop_assert!(span.start <= span.end, "{span:?} in {query:?}");
            prop_assert!(span.end <= query.len(), "{span:?} past {} bytes of {query:?}", query.len());
            prop_assert!(query.is_char_boundary(span.start) && query.is_char_boundary(span.end), "{span:?} splits a character of {query:?}");
            prop_assert!(!error.message.is_empty());
            let _ = error.pointer(&query);
        }
    }

    /// Every word the normaliser makes points at a valid slice of its field's display text,
    /// in order, and is folded to something non-empty without separators.
    #[test]
    fn normalised_words_are_char_boundary_slices_of_their_field(
        fields in proptest::collection::vec((proptest::sample::select(Field::ALL.to_vec()), tricky_text(60)), 1..4)
    ) {
        let mut analyzed = Analyzed::default();
        // A field without words (empty, or only joiners and spaces) adds no run.
        let mut pushed = Vec::new();
        for (field, text) in &fields {
            let runs = analyzed.fields.len();
            analyzed.push_field(*field, text);
            if analyzed.fields.len() > runs {
                pushed.push((*field, text));
            }
        }
        prop_assert_eq!(analyzed.fields.len(), pushed.len());
        for (run, (field, text)) in analyzed.fields.iter().zip(&pushed) {
            prop_assert_eq!(run.field, *field);
            // Non-decreasing starts, not disjoint ranges: one character may fold to several
            // words (¼ is 1⁄4: the words 1 and 4, both over the ¼).
            let mut previous_start = 0;
            for token in &analyzed.tokens[run.first_token as usize..run.end_token as usize] {
                let (start, end) = (token.disp_start as usize, token.disp_end as usize);
                prop_assert!(start < end && end <= text.len(), "{start}..{end} of {text:?}");
                prop_assert!(text.is_char_boundary(start) && text.is_char_boundary(end), "{start}..{end} splits {text:?}");
                prop_assert!(start >= previous_start, "words out of order in {text:?}");
                previous_start = start;
                let folded = std::str::from_utf8(&analyzed.norm[token.norm_start as usize..token.norm_end as usize]);
                prop_assert!(folded.is_ok(), "a word of {text:?} is not UTF-8");
                let folded = folded.unwrap_or_default();
                prop_assert!(!folded.is_empty() && !folded.contains([' ', '\n']), "{folded:?}");
            }
        }
    }

    /// Damaged real feeds give items or an error, never a panic; and an error is one line a
    /// feed's `last_error` can hold.
    #[test]
    fn mutated_corpus_feeds_give_items_or_an_error(
        pick in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
        content_type in proptest::sample::select(vec![None, Some("application/rss+xml; charset=utf-8"), Some("text/xml; charset=windows-1251"), Some("application/feed+json"), Some("text/html")]),
    ) {
        let files = corpus();
        let mut bytes = files[pick % files.len()].clone();
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        match parse_feed(&bytes, content_type, URL) {
            Ok(feed) => {
                for item in &feed.items {
                    prop_assert!(!item.key.is_empty());
                    prop_assert!(item.link.as_deref().is_none_or(|l| l.starts_with("http")), "{:?}", item.link);
                }
            }
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }

    /// A well-formed feed built from arbitrary text is read whole: every entry, its title as
    /// written, in RSS, Atom and JSON Feed alike.
    #[test]
    fn well_formed_feeds_of_arbitrary_text_are_read_whole(
        titles in proptest::collection::vec(tricky_text(30).prop_map(|t| t.chars().filter(|c| xml_char(*c)).collect::<String>()), 1..8),
        format in 0..3u8,
    ) {
        let body = match format {
            0 => {
                let items: String = titles.iter().enumerate().map(|(i, t)| {
                    format!("<item><guid>g{i}</guid><title>{}</title></item>", xml_escape(t))
                }).collect();
                format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>w</title>{items}</channel></rss>")
            }
            1 => {
                let entries: String = titles.iter().enumerate().map(|(i, t)| {
                    format!("<entry><id>urn:g{i}</id><title type=\"text\">{}</title><updated>2024-01-01T00:00:00Z</updated></entry>", xml_escape(t))
                }).collect();
                format!("<feed xmlns=\"http://www.w3.org/2005/Atom\"><id>urn:f</id><title>w</title><updated>2024-01-01T00:00:00Z</updated>{entries}</feed>")
            }
            _ => {
                let items: Vec<String> = titles.iter().enumerate().map(|(i, t)| {
                    format!("{{\"id\": \"g{i}\", \"title\": {}, \"content_text\": \"x\"}}", serde_json::to_string(t).expect("json"))
                }).collect();
                format!("{{\"version\": \"https://jsonfeed.org/version/1.1\", \"title\": \"w\", \"items\": [{}]}}", items.join(","))
            }
        };
        let feed = parse_feed(body.as_bytes(), None, URL).map_err(|e| TestCaseError::fail(format!("{e}\n{body}")))?;
        prop_assert_eq!(feed.items.len(), titles.len(), "{}", body);
        for (i, item) in feed.items.iter().enumerate() {
            prop_assert!(item.key.ends_with(&format!("g{i}")), "{} for entry {i}", item.key);
        }
    }

    /// An indicators file damaged anywhere loads or is refused with located problems; it
    /// never panics, and every problem names the file.
    #[test]
    fn damaged_indicator_files_load_or_name_their_problems(
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let mut bytes = INDICATORS.as_bytes().to_vec();
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        let Ok(text) = String::from_utf8(bytes) else { return Ok(()) };
        let path = Path::new("/etc/watchfloor/indicators.yaml");
        if let Err(error) = Indicators::parse(&text, path) {
            let message = error.to_string();
            prop_assert!(message.contains("/etc/watchfloor/indicators.yaml"), "{message}");
            for problem in error.problems() {
                let lines = text.lines().count() as u64 + 1;
                prop_assert!(problem.line <= lines, "line {} of {lines}: {message}", problem.line);
            }
        }
    }
}

const INDICATORS: &str = r#"lists:
  dprk: [North Korea, North Korean*, DPRK, 북한*, "Северн* Коре*"]
indicators:
  - id: satellite_launch
    title: North Korean satellite launch
    insight: Why we watch it.
    severity: high
    query: >-
      @dprk AND (satellite* OR 위성*) AND
      (launch* OR orbit* OR /발사/)
    boost:
      - query: 'Sohae OR "Falcon 9"'
        weight: -1.5
    min_score: 0.5
    alert:
      to: [space-desk@example.org]
      mode: digest
    examples:
      match: ["North Korea launches a satellite into orbit"]
      no_match: ["SpaceX launches a satellite"]
feeds:
  - {id: wire, url: 'https://news.example.org/feed.xml', schedule: '*/5 * * * *'}
"#;

/// `Matcher::explain` walks the queries as written, `match_item` their compiled, shared and
/// pruned form: on the shipped rules, over every example and every labelled item, they give
/// the same verdict and the same score for every indicator.
#[test]
fn explanations_agree_with_the_matcher_on_the_shipped_rules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rules = Indicators::load(&root.join("indicators.yaml")).expect("the shipped rules load");
    let matcher = &rules.matcher;
    let mut texts: Vec<(String, String)> = rules
        .indicators
        .iter()
        .flat_map(|i| i.examples_match.iter().chain(&i.examples_no_match))
        .map(|e| (e.title.clone(), e.summary.clone()))
        .collect();
    for file in ["dev.jsonl", "news_own.jsonl"] {
        let path = root.join("tests/data").join(file);
        let items = watchfloor::eval::read_labeled(&path, &rules).expect("the labelled set reads");
        texts.extend(items.into_iter().map(|i| (i.title, i.summary)));
    }
    assert!(texts.len() > 100, "only {} texts", texts.len());
    let mut scratch = matcher.scratch();
    let mut fired = 0;
    for (title, summary) in &texts {
        let item = watchfloor::matcher::ItemText {
            title,
            summary,
            ..Default::default()
        };
        let hits = matcher.match_item(&item, &mut scratch);
        let explanations = matcher.explain_all(&item);
        assert_eq!(explanations.len(), rules.indicators.len());
        for explanation in &explanations {
            let hit = hits.iter().find(|h| h.indicator == explanation.indicator);
            assert_eq!(
                explanation.fired,
                hit.is_some(),
                "{} on {title:?} / {summary:?}: {}",
                rules.indicators[explanation.indicator].id,
                explanation.reason
            );
            if let Some(hit) = hit {
                fired += 1;
                assert_eq!(
                    hit.evidence.score.as_ref(),
                    Some(&explanation.score_breakdown()),
                    "{title:?}"
                );
            }
        }
    }
    assert!(
        fired > 50,
        "only {fired} hits: the agreement was hardly tested"
    );
}
