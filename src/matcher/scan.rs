//! The scan: every pattern occurrence of an item's normalised words, and which regex needles
//! its fields hold.
//!
//! Most words of an item start no pattern. The filter that says so reads each word whole:
//! within a field the normalised text is words of letters and digits, one space between them
//! (see [`crate::text::normalize`]), so a pattern that matches at a word start either has a
//! first word equal to that word (the pattern goes on past a space, or ends where the word
//! does) or is one prefix word the word starts with. One hash of the word and a few of its
//! first bytes, looked up in a bitset that stays in the near caches, answer for most words;
//! only the rest walk the trie.

use aho_corasick::AhoCorasick;

use super::trie::WordTrie;
use super::{Occurrence, Pattern};
use crate::text::{Analyzed, Field};

/// The words and word beginnings patterns start with. A table indexed by a word's first
/// three bytes says which lookups could find a pattern starting at the word (none for most
/// words); the lookups are of hashes of the whole word, or of its first few bytes, in a
/// bitset.
#[derive(Debug)]
pub(super) struct StartFilter {
    /// Per hash of a word's first three bytes (the whole word when shorter), [`WORD`] when a
    /// pattern's first word starts with them, and the bit of each class of one-word prefix
    /// patterns that do.
    starts: Box<[u8]>,
    start_shift: u32,
    /// Hashes of first words and of prefix patterns' heads.
    keys: Box<[u64]>,
    key_shift: u32,
    /// Per byte, whether a one-byte prefix pattern is that byte; `None` without any.
    one_byte: Option<Box<[bool; 256]>>,
}

/// In [`StartFilter::starts`]: look the whole word up.
const WORD: u8 = 1;
/// The head length that a prefix pattern of class bit `i` is filed under (bit 0 is [`WORD`]):
/// patterns of two to six bytes under all of them, longer ones under six or eight.
const CLASS_LEN: [usize; 7] = [0, 2, 3, 4, 5, 6, 8];
/// The bits of [`StartFilter::starts`] that can hold for a word of `n` bytes (eight: eight or
/// more): whole words, and the classes no longer than the word.
const FITTING: [u8; 9] = [
    0,
    WORD,
    WORD | 0b10,
    WORD | 0b110,
    WORD | 0b1110,
    WORD | 0b1_1110,
    WORD | 0b11_1110,
    WORD | 0b11_1110,
    WORD | 0b111_1110,
];
/// Hashed entries per slot, inverted: about one lookup in thirty-two of a word no pattern
/// starts with finds a bit set by chance.
const BITS_PER_KEY: usize = 32;
const MIN_BITS: usize = 1 << 12;
const MAX_BITS: usize = 1 << 24;

/// Multipliers that spread a key's bytes over the high bits the tables are indexed by.
const WORD_MIX: u64 = 0x9E37_79B9_7F4A_7C15;
const HEAD_MIX: u64 = 0xD6E8_FEB8_6659_FD93;
const START_MIX: u64 = 0xA076_1D64_78BD_642F;

/// The eight bytes of `bytes` from `at`, little-endian, zeros past its end.
#[inline]
fn load8(bytes: &[u8], at: usize) -> u64 {
    match bytes.get(at..at + 8) {
        Some(chunk) => u64::from_le_bytes(chunk.try_into().expect("eight bytes")),
        None => {
            let mut buffer = [0u8; 8];
            let tail = bytes.get(at..).unwrap_or_default();
            buffer[..tail.len()].copy_from_slice(tail);
            u64::from_le_bytes(buffer)
        }
    }
}

/// The low `len` bytes (all eight from eight up).
#[inline]
fn low_bytes(value: u64, len: usize) -> u64 {
    let bits = 8 * len.min(8) as u32;
    value & u64::MAX.checked_shr(64 - bits).unwrap_or(0)
}

/// The key of the word `text[from..end]`, whose first eight bytes (or what there is) are
/// `first`: its length, its first eight bytes and its last eight.
#[inline]
fn word_key(text: &[u8], from: usize, end: usize, first: u64) -> u64 {
    let len = end - from;
    let tail = if len > 8 { load8(text, end - 8) } else { 0 };
    (low_bytes(first, len).wrapping_add(tail.rotate_left(29)) ^ (len as u64) << 56)
        .wrapping_mul(WORD_MIX)
}

#[inline]
fn head_key(first: u64, len: usize) -> u64 {
    (low_bytes(first, len) ^ (len as u64) << 60).wrapping_mul(HEAD_MIX)
}

/// The class bit of a prefix pattern of `len` bytes, two or more.
fn class_bit(len: usize) -> usize {
    match len {
        0..=6 => len - 1,
        7 => 5,
        _ => 6,
    }
}

impl StartFilter {
    /// A filter for these patterns, or `None` when one could start a match elsewhere than at
    /// a whole word (it starts with a space).
    pub(super) fn new<'p>(
        patterns: impl IntoIterator<Item = (&'p [u8], &'p Pattern)>,
    ) -> Option<Self> {
        // (the start a word begins with, its bit) and the keys to look up after it.
        let mut starts: Vec<(u64, u8)> = Vec::new();
        let mut keys = Vec::new();
        let mut one_byte: Option<Box<[bool; 256]>> = None;
        for (text, pattern) in patterns {
            if text.is_empty() {
                // Never in the trie: it matches nothing.
                continue;
            }
            let first = load8(text, 0);
            let word_len = match text.iter().position(|&b| b == b' ') {
                Some(0) => return None,
                Some(space) => Some(space),
                None if !pattern.prefix => Some(text.len()),
                None => None,
            };
            if let Some(len) = word_len {
                starts.push((low_bytes(first, len.min(3)), WORD));
                keys.push(word_key(text, 0, len, first));
                continue;
            }
            match text.len() {
                1 => {
                    one_byte.get_or_insert_with(|| Box::new([false; 256]))[text[0] as usize] = true
                }
                2 => {
                    // Words starting with the two bytes: the two alone, or any third byte.
                    let bit = 1 << class_bit(2);
                    starts.push((low_bytes(first, 2), bit));
                    starts
                        .extend((0..=255u64).map(|third| (low_bytes(first, 2) | third << 16, bit)));
                    keys.push(head_key(first, 2));
                }
                len => {
                    let class = class_bit(len);
                    starts.push((low_bytes(first, 3), 1 << class));
                    keys.push(head_key(first, CLASS_LEN[class]));
                }
            }
        }
        let key_bits = (keys.len() * BITS_PER_KEY)
            .next_power_of_two()
            .clamp(MIN_BITS, MAX_BITS);
        let start_slots = (starts.len() * BITS_PER_KEY / 4)
            .next_power_of_two()
            .clamp(MIN_BITS, MAX_BITS);
        let mut filter = StartFilter {
            starts: vec![0; start_slots].into_boxed_slice(),
            start_shift: 64 - start_slots.trailing_zeros(),
            keys: vec![0; key_bits / 64].into_boxed_slice(),
            key_shift: 64 - key_bits.trailing_zeros(),
            one_byte,
        };
        for (start, bits) in starts {
            let slot = filter.start_slot(start);
            filter.starts[slot] |= bits;
        }
        for key in keys {
            let (word, bit) = filter.key_slot(key);
            filter.keys[word] |= bit;
        }
        Some(filter)
    }

    #[inline]
    fn start_slot(&self, start: u64) -> usize {
        (start.wrapping_mul(START_MIX) >> self.start_shift) as usize
    }

    #[inline]
    fn key_slot(&self, key: u64) -> (usize, u64) {
        let index = (key >> self.key_shift) as usize;
        (index >> 6, 1 << (index & 63))
    }

    #[inline]
    fn has(&self, key: u64) -> bool {
        let (word, bit) = self.key_slot(key);
        self.keys.get(word).is_some_and(|bits| bits & bit != 0)
    }

    /// Whether a pattern may start at the word `text[from..end]`, a whole word of the
    /// normalised text (`end` is where its letters stop). False only when none does.
    #[inline]
    pub(super) fn may_start(&self, text: &[u8], from: usize, end: usize) -> bool {
        let first = load8(text, from);
        let len = end - from;
        if let Some(one_byte) = &self.one_byte
            && len > 0
            && one_byte[first as u8 as usize]
        {
            return true;
        }
        let slot = self.start_slot(low_bytes(first, len.min(3)));
        let mut bits = self.starts.get(slot).copied().unwrap_or(0) & FITTING[len.min(8)];
        if bits & WORD != 0 && self.has(word_key(text, from, end, first)) {
            return true;
        }
        bits &= !WORD;
        while bits != 0 {
            let class = bits.trailing_zeros() as usize;
            if self.has(head_key(first, CLASS_LEN[class])) {
                return true;
            }
            bits &= bits - 1;
        }
        false
    }
}

/// Where one item's pattern occurrences go.
pub(super) struct FoundPatterns<'a> {
    pub(super) patterns: &'a [Pattern],
    /// `None` walks the trie from every word.
    pub(super) filter: Option<&'a StartFilter>,
    pub(super) analyzed: &'a Analyzed,
    pub(super) occurrences: &'a mut [Vec<Occurrence>],
    pub(super) touched: &'a mut Vec<u32>,
}

impl FoundPatterns<'_> {
    pub(super) fn scan(mut self, trie: &WordTrie) {
        let analyzed = self.analyzed;
        let norm = &analyzed.norm[..];
        for run in &analyzed.fields {
            // Patterns hold no line break, so no match crosses the end of a field.
            let field = &norm[..run.norm_end as usize];
            let tokens = &analyzed.tokens[run.first_token as usize..run.end_token as usize];
            for (first, token) in (run.first_token..).zip(tokens) {
                let from = token.norm_start as usize;
                // The filter reads the whole buffer: eight bytes from a word near a field's
                // end are loaded at once, and the bytes past the word are masked off.
                if let Some(filter) = self.filter
                    && !filter.may_start(norm, from, token.norm_end as usize)
                {
                    continue;
                }
                let at = WalkStart {
                    field: run.field,
                    text: field,
                    from,
                    first,
                    disp_start: token.disp_start,
                };
                self.walk(trie, &at);
            }
        }
    }

    /// Every pattern that starts at one word.
    #[inline]
    fn walk(&mut self, trie: &WordTrie, at: &WalkStart<'_>) {
        let mut position = trie.start();
        let field = at.text;
        let mut end = at.from;
        while let (walked, Some(step)) = trie.run_to_end(position, &field[end..]) {
            position = step.position();
            end += walked;
            for &pattern_id in trie.ends(step) {
                let pattern = &self.patterns[pattern_id as usize];
                if !pattern.prefix && field.get(end).is_some_and(|&next| next != b' ') {
                    continue;
                }
                let last = at.first + pattern.extra_tokens;
                let occurrence = Occurrence {
                    field: at.field,
                    first_token: at.first,
                    last_token: last,
                    disp_start: at.disp_start,
                    disp_end: self.analyzed.tokens[last as usize].disp_end,
                };
                let list = &mut self.occurrences[pattern_id as usize];
                if list.is_empty() {
                    self.touched.push(pattern_id);
                }
                list.push(occurrence);
            }
        }
    }
}

/// Where a walk starts: a word of a field of the normalised text.
struct WalkStart<'a> {
    field: Field,
    /// The field's normalised text, up to its end.
    text: &'a [u8],
    from: usize,
    first: u32,
    disp_start: u32,
}

/// Text every match of a regex contains, for every regex that has some: looked for in each
/// field before a regex runs there, since most fields lack it and finding that out costs a
/// fraction of what the regex would. A field is read once for what every needle needs to
/// know (whether it holds any byte past ASCII); a needle with such bytes is not searched for
/// in a field without.
#[derive(Debug, Default)]
pub(super) struct RegexNeedles {
    needles: Vec<Needle>,
    /// Per regex, the index of its needle in `needles`.
    of_regex: Vec<Option<u32>>,
}

/// One needle and how it is searched for.
#[derive(Debug)]
struct Needle {
    search: NeedleSearch,
    /// The needle holds a byte past ASCII, so an ASCII field cannot hold it.
    beyond_ascii: bool,
}

#[derive(Debug)]
enum NeedleSearch {
    /// Searched as written: the needle has no ASCII letter whose case could differ.
    Exact(memchr::memmem::Finder<'static>),
    /// Searched up to ASCII case, which covers `(?i)`.
    Caseless(AhoCorasick),
}

impl Needle {
    fn new(needle: &[u8]) -> Option<Needle> {
        let search = if needle.iter().any(u8::is_ascii_alphabetic) {
            NeedleSearch::Caseless(
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build([needle])
                    .ok()?,
            )
        } else {
            NeedleSearch::Exact(memchr::memmem::Finder::new(needle).into_owned())
        };
        Some(Needle {
            search,
            beyond_ascii: !needle.is_ascii(),
        })
    }

    fn is_in(&self, text: &str) -> bool {
        match &self.search {
            NeedleSearch::Exact(finder) => finder.find(text.as_bytes()).is_some(),
            NeedleSearch::Caseless(search) => search.is_match(text),
        }
    }
}

impl RegexNeedles {
    /// From each regex's needle, in regex order. A needle that cannot be searched for leaves
    /// its regex to run on every field, as one without a needle does.
    pub(super) fn new(needles: &[Option<Vec<u8>>]) -> RegexNeedles {
        let mut distinct: Vec<(&[u8], Needle)> = Vec::new();
        let of_regex = needles
            .iter()
            .map(|needle| {
                let needle = needle.as_deref()?;
                if let Some(index) = distinct.iter().position(|(known, _)| *known == needle) {
                    return Some(index as u32);
                }
                distinct.push((needle, Needle::new(needle)?));
                Some(distinct.len() as u32 - 1)
            })
            .collect();
        RegexNeedles {
            needles: distinct.into_iter().map(|(_, needle)| needle).collect(),
            of_regex,
        }
    }

    /// How many distinct needles there are.
    pub(super) fn len(&self) -> usize {
        self.needles.len()
    }

    /// The needle of a regex, if it has one.
    pub(super) fn of_regex(&self, regex: usize) -> Option<u32> {
        self.of_regex[regex]
    }

    /// Sets in `found` (one flag a needle) whether `text` holds each needle.
    pub(super) fn find_in(&self, text: &str, found: &mut [bool]) {
        let ascii = text.is_ascii();
        for (flag, needle) in found.iter_mut().zip(&self.needles) {
            *flag = !(ascii && needle.beyond_ascii) && needle.is_in(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Indicators;
    use crate::matcher::query::parse;
    use crate::matcher::{Clause, ItemText, Matcher, MatcherBuilder};

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
            filter: if filtered {
                matcher.start_filter.as_deref()
            } else {
                None
            },
            analyzed,
            occurrences: &mut occurrences,
            touched: &mut touched,
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
                passed.passed += usize::from(filter.may_start(
                    &analyzed.norm,
                    token.norm_start as usize,
                    token.norm_end as usize,
                ));
            }
        }
        passed
    }

    fn shipped() -> Indicators {
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
            let Ok(feed) = crate::parse::parse_feed(&bytes, None, "https://example.com/feed")
            else {
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
            // The filter is worth its lookups only if it turns most words of real text away
            // (the first three bytes alone let two in three through).
            assert!(
                real_text.passed * 3 < real_text.words,
                "{name}: {real_text:?} words passed the filter"
            );
        }
    }

    fn matcher_of(queries: &[&str]) -> Matcher {
        let mut builder = MatcherBuilder::new();
        for query in queries {
            let expr = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
            builder
                .add_indicator(
                    Clause {
                        text: query,
                        expr: &expr,
                    },
                    &[],
                    1.0,
                )
                .unwrap_or_else(|e| panic!("{query}: {e:?}"));
        }
        builder.build()
    }

    #[test]
    fn short_prefixes_long_words_and_phrases_pass_where_they_start() {
        let matcher = matcher_of(&[
            "a*",
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
        ]);
        let words = [
            "a",
            "ab",
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
        let filter = matcher.start_filter.as_deref().expect("a filter");
        for word in [
            "a",
            "axe",
            "xy",
            "xyz",
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
            "north",
            "северн",
            "kim",
            "북한은",
        ] {
            let analyzed = analyze(&Item::titled(word.to_owned()).text());
            let token = analyzed.tokens[0];
            assert!(
                filter.may_start(
                    &analyzed.norm,
                    token.norm_start as usize,
                    token.norm_end as usize
                ),
                "{word} passes"
            );
        }
    }

    /// Whether `text` holds `needle`, ASCII letters compared without case: the plain
    /// definition the search must agree with.
    fn holds(text: &str, needle: &[u8]) -> bool {
        text.as_bytes()
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
    }

    #[test]
    fn one_search_finds_exactly_the_needles_a_field_holds() {
        let needles: Vec<Option<Vec<u8>>> = [
            Some("lethal"),
            None,
            Some("北"),
            Some("호기"),
            Some("aba"),
            Some("bab"),
            Some("lethal"),
            Some("Ünïcode"),
            Some("k"),
        ]
        .into_iter()
        .map(|n| n.map(|n| n.as_bytes().to_vec()))
        .collect();
        let search = RegexNeedles::new(&needles);
        // Repeated needles are searched once.
        assert_eq!(search.len(), 7);
        assert_eq!(search.of_regex(0), search.of_regex(6));
        assert_eq!(search.of_regex(1), None);
        let distinct: Vec<&[u8]> = {
            let mut seen: Vec<&[u8]> = Vec::new();
            for needle in needles.iter().flatten() {
                if !seen.contains(&needle.as_slice()) {
                    seen.push(needle);
                }
            }
            seen
        };
        let texts = [
            "",
            "LETHAL force",
            "LeThAl",
            "lethally",
            "non-lethal aid",
            "lethaL at the end: lethal",
            "북한 5호기 가동",
            "호",
            "北京",
            "南北",
            "abab",
            "babab",
            "ab",
            "ÜNÏCODE",
            "Ünïcode",
            "ünïcode",
            "\u{212A}elvin",
            "K",
            "lethalbab北호기Ünïcodek",
            "ſ lethal",
        ];
        assert_needles_found(&search, &distinct, &texts);
        // Needles without ASCII letters alone: searched without case folding.
        let cjk: Vec<&[u8]> = vec!["北".as_bytes(), "호기".as_bytes(), "露".as_bytes()];
        let search = RegexNeedles::new(&cjk.iter().map(|n| Some(n.to_vec())).collect::<Vec<_>>());
        let mut texts = texts.to_vec();
        texts.extend(["露北", "露", "호기호기", "北北北 lethal"]);
        assert_needles_found(&search, &cjk, &texts);
    }

    fn assert_needles_found(search: &RegexNeedles, distinct: &[&[u8]], texts: &[&str]) {
        let mut found = vec![false; search.len()];
        for text in texts {
            found.fill(false);
            search.find_in(text, &mut found);
            for (index, needle) in distinct.iter().enumerate() {
                assert_eq!(
                    found[index],
                    holds(text, needle),
                    "needle {:?} in {text:?}",
                    String::from_utf8_lossy(needle)
                );
            }
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
        ];
        let matcher = matcher_of(&queries);
        let regexes: Vec<regex::Regex> = queries
            .iter()
            .map(|q| regex::Regex::new(q.trim_matches('/')).expect("a regex"))
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
}
