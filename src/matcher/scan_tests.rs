//! The scan held to a plain reference: the filtered walk finds exactly what a walk from every
//! word finds, and a regex guarded by its needle finds exactly what it finds unguarded, on
//! the labelled set, the feed corpus, the bench items and hostile text.

use std::path::Path;

use super::{FoundPatterns, Occurrence};
use crate::config::Indicators;
use crate::matcher::{ItemText, Matcher, MatcherBuilder};
use crate::text::{Analyzed, Field};

/// An item's fields as owned text.
#[derive(Default)]
struct Item {
    title: String,
    summary: String,
    content: String,
    author: String,
    category: String,
    link: String,
}

impl Item {
    fn text(&self) -> ItemText<'_> {
        ItemText {
            title: &self.title,
            summary: &self.summary,
            content: &self.content,
            author: &self.author,
            category: &self.category,
            link: &self.link,
        }
    }

    fn titled(title: String) -> Item {
        Item {
            title,
            ..Item::default()
        }
    }
}

fn analyze(item: &ItemText<'_>) -> Analyzed {
    let mut analyzed = Analyzed::default();
    for field in Field::ALL {
        analyzed.push_field(field, item.get(field));
    }
    analyzed
}

/// The patterns one scan found, in the order each was first found, with their
/// occurrences in the order they were pushed.
fn scan(matcher: &Matcher, analyzed: &Analyzed, filtered: bool) -> Vec<(u32, Vec<Occurrence>)> {
    let mut occurrences = vec![Vec::new(); matcher.patterns.len()];
    let mut touched = Vec::new();
    FoundPatterns {
        patterns: &matcher.patterns,
        filter: matcher.start_filter.as_deref().filter(|_| filtered),
        analyzed,
        occurrences: &mut occurrences,
        touched: &mut touched,
        starts: &mut Vec::new(),
    }
    .scan(&matcher.trie);
    touched
        .into_iter()
        .map(|p| (p, std::mem::take(&mut occurrences[p as usize])))
        .collect()
}

/// Words the filter let through, and words in all.
#[derive(Default, Debug)]
struct Passed {
    passed: usize,
    words: usize,
    /// Occurrences found, so that agreement on nothing cannot pass.
    found: usize,
}

/// Checks that the filtered scan finds exactly what a walk from every word finds.
fn assert_scans_agree(matcher: &Matcher, items: &[Item], what: &str) -> Passed {
    let filter = matcher
        .start_filter
        .as_deref()
        .unwrap_or_else(|| panic!("{what}: the rules have a start filter"));
    let mut passed = Passed::default();
    for (index, item) in items.iter().enumerate() {
        let analyzed = analyze(&item.text());
        let reference = scan(matcher, &analyzed, false);
        let filtered = scan(matcher, &analyzed, true);
        passed.found += reference.iter().map(|(_, o)| o.len()).sum::<usize>();
        assert_eq!(
            filtered, reference,
            "{what}, item {index}: title {:?}",
            item.title
        );
        for token in &analyzed.tokens {
            passed.words += 1;
            if let Some(start) = analyzed.norm[token.norm_start as usize..].first_chunk() {
                passed.passed += usize::from(filter.may_start(start));
            }
        }
    }
    passed
}

/// The shipped rules of `indicators.yaml`.
pub(super) fn shipped() -> Indicators {
    Indicators::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("indicators.yaml"))
        .expect("the shipped indicators load")
}

fn generated(shipped: &Indicators) -> Indicators {
    Indicators::parse(
        &crate::cli::bench::generated_indicators(shipped, 200),
        Path::new("<generated>"),
    )
    .expect("the generated indicators load")
}

fn labelled_items() -> Vec<Item> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/labelled/news_dev.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            let field = |name: &str| value[name].as_str().unwrap_or_default().to_owned();
            Item {
                title: field("title"),
                summary: field("summary"),
                ..Item::default()
            }
        })
        .collect()
}

fn corpus_items() -> Vec<Item> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/feeds");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml" || x == "json"))
        .collect();
    paths.sort();
    let mut items = Vec::new();
    for path in paths {
        let bytes = std::fs::read(&path).expect("a feed file");
        let Ok(feed) = crate::parse::parse_feed(&bytes, None, "https://example.com/feed") else {
            continue;
        };
        items.extend(feed.items.into_iter().map(|parsed| Item {
            title: parsed.title,
            summary: parsed.summary,
            content: parsed.content,
            author: parsed.authors.join("\n"),
            category: parsed.categories.join("\n"),
            link: parsed.link.unwrap_or_default(),
        }));
    }
    assert!(items.len() > 500, "the corpus gave {} items", items.len());
    items
}

/// Text built to sit on every edge of the filter: each pattern alone, cut short at every
/// character, run on into a longer word, repeated, and glued to its neighbours; long
/// words; every script.
fn hostile_items(matcher_patterns: &[String]) -> Vec<Item> {
    let mut items = Vec::new();
    for text in matcher_patterns {
        let mut cut = Vec::new();
        for (at, _) in text.char_indices().skip(1) {
            cut.push(&text[..at]);
        }
        let cut = cut.join(" ");
        items.push(Item {
            title: text.clone(),
            summary: format!("{text}s {text}{text} x{text} {text}ing {cut}"),
            content: format!("{text} {text} {}", text.to_uppercase()),
            category: format!("{cut}\n{text}"),
            ..Item::default()
        });
        // Ending mid-pattern, at the end of a field.
        if let Some((at, _)) = text.char_indices().last() {
            items.push(Item::titled(format!("words before {}", &text[..at])));
        }
    }
    let scripts = [
        "abcdefghijklmnopqrstuvwxyz",
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "αβγδεζηθικλμνξοπρστυφχψω",
        "가나다라마바사아자차카타파하북한러시아",
        "北朝鮮露韓中国卫星の発射ミサイル",
        "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
        "אבגדהוזחטיכלמנסעפצקרשת",
        "अआइईउऊएऐओऔकखगघ",
        "กขฃคฅฆงจฉชซฌญฎ",
        "0123456789",
        "🚀🛰️🇰🇵",
    ];
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    for _ in 0..400 {
        let mut title = String::new();
        for _ in 0..next(40) {
            let letters: Vec<char> = scripts[next(scripts.len())].chars().collect();
            for _ in 0..1 + next(24) {
                title.push(letters[next(letters.len())]);
            }
            title.push([' ', ' ', ' ', '-', '.', '\u{00AD}'][next(6)]);
        }
        items.push(Item::titled(title));
    }
    for word in ["a", "north", "korea", "launch", "спутник", "북한"] {
        for len in [7, 8, 9, 15, 16, 17, 100, 5000] {
            let long: String = word.chars().cycle().take(len).collect();
            items.push(Item::titled(format!("{long} {long}")));
            items.push(Item::titled(format!("{word} ").repeat(len.min(600))));
        }
    }
    let bytes: Vec<u8> = (0..20_000).map(|_| next(256) as u8).collect();
    items.push(Item::titled(String::from_utf8_lossy(&bytes).into_owned()));
    items
}

fn pattern_texts(rules: &str) -> Vec<String> {
    // Words of the rules' lists and queries, as the analyst wrote them: enough to reach
    // every pattern, since the normaliser folds them as it folds the patterns.
    rules
        .split(|c: char| {
            c == '"' || c == '\'' || c == '[' || c == ']' || c == ',' || c == '(' || c == ')'
        })
        .map(|s| s.trim().trim_end_matches('*').to_owned())
        .filter(|s| !s.is_empty() && s.len() < 80 && !s.contains(':'))
        .collect()
}

#[test]
fn the_filtered_scan_finds_what_a_walk_from_every_word_finds() {
    let shipped = shipped();
    let generated = generated(&shipped);
    let rules =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("indicators.yaml"))
            .expect("the shipped rules");
    let labelled = labelled_items();
    let corpus = corpus_items();
    let hostile = hostile_items(&pattern_texts(&rules));
    let bench: Vec<Item> = crate::cli::bench::generate_items(&shipped, 2000, 600)
        .into_iter()
        .map(|(title, summary)| Item {
            title,
            summary,
            ..Item::default()
        })
        .collect();
    for (set, name) in [(&shipped, "shipped"), (&generated, "generated")] {
        let mut real_text = Passed::default();
        for (items, source) in [
            (&labelled, "labelled"),
            (&corpus, "corpus"),
            (&bench, "bench"),
            (&hostile, "hostile"),
        ] {
            let passed = assert_scans_agree(&set.matcher, items, &format!("{name}/{source}"));
            eprintln!("{name}/{source}: {passed:?}");
            assert!(passed.found > 0, "{name}/{source}: no pattern occurs");
            if source != "hostile" {
                real_text.passed += passed.passed;
                real_text.words += passed.words;
            }
        }
        // A filter that let every word through would make the agreement above say nothing
        // about it.
        assert!(
            real_text.passed < real_text.words,
            "{name}: {real_text:?} words passed the filter"
        );
    }
}

fn matcher_of(queries: &[&str]) -> Matcher {
    let mut builder = MatcherBuilder::new();
    for query in queries {
        super::tests::add_query(&mut builder, query);
    }
    builder.build()
}

#[test]
fn short_prefixes_long_words_and_phrases_pass_where_they_start() {
    // (A one-byte prefix would leave the rules without a start filter.)
    let matcher = matcher_of(&[
        "xy*",
        "abc*",
        "北*",
        "abcdefgh*",
        "abcdefghijk*",
        "международн*",
        "exactly8",
        "exactly9x",
        "sixteenlettersxx",
        "seventeenlettersx",
        "\"north korea\"",
        "\"Северн* Коре*\"",
        "\"kim jong*\"",
        "북한*",
        "\"longfirstwordofaphrase tail\"",
        "ok",
        "q",
        "zip",
        "seven77",
        "sixsix",
        "fives*",
        "seven7*",
    ]);
    let words = [
        "a",
        "ab",
        "ok",
        "okay",
        "q",
        "qq",
        "zip",
        "zipper",
        "seven77",
        "seven777",
        "seven7",
        "sixsix",
        "sixsixs",
        "fives",
        "fivesome",
        "five",
        "xy",
        "xyz",
        "abc",
        "abcd",
        "北",
        "北京",
        "abcdefg",
        "abcdefgh",
        "abcdefghi",
        "abcdefghij",
        "abcdefghijk",
        "abcdefghijkl",
        "международный",
        "международ",
        "exactly8",
        "exactly9x",
        "exactly",
        "exactly88",
        "sixteenlettersxx",
        "seventeenlettersx",
        "seventeenletters",
        "north",
        "northern",
        "korea",
        "северной",
        "kim",
        "jong",
        "북한은",
        "북",
        "longfirstwordofaphrase",
        "longfirstwordofaphrasf",
        "b",
        "zz",
        "日本",
    ];
    let mut items = Vec::new();
    for a in words {
        items.push(Item::titled(a.to_owned()));
        for b in words {
            items.push(Item::titled(format!("{a} {b}")));
            items.push(Item::titled(format!("{a}{b}")));
        }
    }
    let passed = assert_scans_agree(&matcher, &items, "edge patterns");
    assert!(passed.found > 1000, "{passed:?}");
    // Each of these starts a pattern, so each must pass.
    let filter = matcher.start_filter.as_deref().expect("a start filter");
    for word in [
        "xyz",
        "xy",
        "ok",
        "q",
        "zip",
        "seven77",
        "seven7x",
        "sixsix",
        "fivesome",
        "abc",
        "abcd",
        "北",
        "abcdefgh",
        "abcdefghzz",
        "abcdefghijk",
        "международными",
        "exactly8",
        "exactly9x",
        "sixteenlettersxx",
        "seventeenlettersx",
        "north korea",
        "северн",
        "kim jong",
        "북한은",
    ] {
        // A start shorter than the filter's key is followed by the next word's bytes.
        let analyzed = analyze(&Item::titled(format!("{word} xyzwvuts")).text());
        let start = analyzed.norm.first_chunk().expect("a whole key");
        assert!(filter.may_start(start), "{word} passes");
    }
}

#[test]
fn regexes_find_the_same_matches_with_the_needle_search_as_without() {
    let queries = [
        r"/(?i)(^|[^\w-])lethal([^\w]|$)/",
        r"/\d+호기/",
        r"/(?:^|[^\p{Han}\p{Hiragana}\p{Katakana}])北(?:[^\p{Han}\p{Hiragana}\p{Katakana}]|$)/",
        r"/^(?:Korea|Корея)[\s,:]/",
        r"/(?i)ünïcode/",
        r"/bab/",
        // Read in titles only: it never runs over the other fields.
        r"title:(/(?i)lethal/)",
    ];
    let matcher = matcher_of(&queries);
    let regexes: Vec<regex::Regex> = queries
        .iter()
        .map(|q| {
            let q = q.trim_start_matches("title:(").trim_end_matches(')');
            regex::Regex::new(q.trim_matches('/')).expect("a regex")
        })
        .collect();
    let mut items: Vec<Item> = [
        "LETHAL aid, lethal aid and non-lethal aid",
        "3호기 and 12호기",
        "北 leader; 南北; 北京",
        "Korea, again",
        "ÜNÏCODE ünïcode Ünïcode",
        "babab",
        "",
    ]
    .iter()
    .map(|t| Item {
        title: (*t).to_owned(),
        summary: format!("{t} {t}"),
        content: t.to_uppercase(),
        category: format!("{t}\nlethal"),
        link: "https://example.com/lethal".to_owned(),
        ..Item::default()
    })
    .collect();
    items.extend(labelled_items());
    items.extend(corpus_items());
    let mut scratch = matcher.scratch();
    for item in &items {
        let text = item.text();
        matcher.match_item(&text, &mut scratch);
        for (regex_id, regex) in regexes.iter().enumerate() {
            matcher.regex_occurrences(regex_id, &text, &mut scratch);
            let found: Vec<(Field, u32, u32)> = scratch.regex_occurrences[regex_id]
                .iter()
                .map(|o| (o.field, o.disp_start, o.disp_end))
                .collect();
            let expected: Vec<(Field, u32, u32)> = scratch
                .analyzed
                .fields
                .iter()
                // Unscoped, a regex reads what a rule does (no author, no link); scoped, only
                // its field.
                .filter(|run| {
                    let title_only = queries[regex_id].starts_with("title:");
                    run.field == Field::Title
                        || (!title_only && crate::text::FieldMask::DEFAULT.contains(run.field))
                })
                .flat_map(|run| {
                    regex
                        .find_iter(text.get(run.field))
                        .filter(|m| !m.is_empty())
                        .map(|m| (run.field, m.start() as u32, m.end() as u32))
                })
                .collect();
            assert_eq!(found, expected, "{} on {:?}", queries[regex_id], item.title);
        }
    }
}
