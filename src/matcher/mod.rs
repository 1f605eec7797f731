//! The match stage: compiled indicator queries run over an item's text.
//!
//! Key design decision: one pass over the item serves every indicator. All literal terms of
//! all indicators (words, phrases, prefixes, list entries) are compiled into one trie over the
//! normalised word stream (see [`crate::text::normalize`] and [`trie`]). One walk from each
//! word start finds every occurrence of every term starting there; the end
//! boundary is checked on the normalised text, where words are separated by exactly one space,
//! so no Unicode-aware regex runs on the hot path. Only the indicators that use a term found in the item have their
//! boolean trees evaluated, so the cost of an item does not grow with the number of indicators
//! that cannot fire. Regex terms, the escape hatch, run separately over the display text.
//!
//! The matcher does no IO.

mod compile;
pub mod evidence;
pub mod explain;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod query;
mod trie;

use regex::Regex;

pub(crate) use compile::MAX_PATTERN_BYTES;
pub use compile::{Clause, CompileError, ListEntry, MatcherBuilder};
pub use evidence::{
    BoostOutcome, EVIDENCE_VERSION, Evidence, EvidenceError, MatchedTerm, Role, ScoreBreakdown,
    Snippet, TermText,
};
pub use explain::{Explanation, Verdict};

use explain::{BASE_SCORE, SCORE_EPSILON, Written};

use crate::text::segments::Breaks;
use crate::text::{Analyzed, Field, FieldMask};
use trie::WordTrie;

/// The text of one item, as display text per field (HTML already stripped).
#[derive(Clone, Copy, Debug, Default)]
pub struct ItemText<'a> {
    pub title: &'a str,
    pub summary: &'a str,
    pub content: &'a str,
    /// Authors, one per line.
    pub author: &'a str,
    /// Categories, one per line.
    pub category: &'a str,
    pub link: &'a str,
}

impl<'a> ItemText<'a> {
    pub fn get(&self, field: Field) -> &'a str {
        match field {
            Field::Title => self.title,
            Field::Summary => self.summary,
            Field::Content => self.content,
            Field::Author => self.author,
            Field::Category => self.category,
            Field::Link => self.link,
        }
    }

    /// The field language identification reads after the title: the summary, else (when a
    /// feed gives none) the content, the body a reader sees first.
    pub fn body_field(&self) -> Field {
        if self.summary.is_empty() {
            Field::Content
        } else {
            Field::Summary
        }
    }

    /// The text of [`ItemText::body_field`].
    pub fn body(&self) -> &'a str {
        self.get(self.body_field())
    }
}

/// One indicator that fired on an item.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Hit {
    /// Index of the indicator in the order it was added to the [`MatcherBuilder`].
    #[serde(skip)]
    pub indicator: usize,
    pub score: f64,
    pub evidence: Evidence,
}

/// An occurrence of a term: where in the word stream and in the display text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Occurrence {
    field: Field,
    first_token: u32,
    last_token: u32,
    disp_start: u32,
    disp_end: u32,
}

/// Collects up to [`MAX_OCCURRENCES_PER_TERM`] of a term's occurrences as found terms of a
/// hit in `role`; returns how many.
fn collect_found<'o>(
    occurrences: impl Iterator<Item = &'o Occurrence>,
    term: u32,
    role: Role,
    found: &mut Vec<evidence::FoundTerm>,
) -> usize {
    let before = found.len();
    for o in occurrences.take(MAX_OCCURRENCES_PER_TERM) {
        found.push(evidence::FoundTerm {
            field: o.field,
            role,
            start: o.disp_start,
            end: o.disp_end,
            term,
            order: found.len() as u32,
        });
    }
    found.len() - before
}

/// Each pair of a `NEAR`'s operands within `distance` words, as one span covering both: what
/// evidence highlights and what an enclosing `NEAR` measures from.
fn push_near_spans(
    lefts: &[Occurrence],
    rights: &[Occurrence],
    distance: u32,
    spacing: Spacing<'_>,
    out: &mut Vec<Occurrence>,
) {
    for a in lefts {
        for b in rights {
            if a.within(b, distance, spacing) {
                out.push(a.joined(b));
            }
        }
    }
}

/// Whether some occurrence of `lefts` lies within `distance` words of one of `rights`.
fn any_within(
    lefts: &[Occurrence],
    rights: &[Occurrence],
    distance: u32,
    spacing: Spacing<'_>,
) -> bool {
    lefts
        .iter()
        .any(|a| rights.iter().any(|b| a.within(b, distance, spacing)))
}

/// What `NEAR` reads of an item besides the occurrences it compares.
#[derive(Clone, Copy)]
struct Spacing<'a> {
    /// Where the item's sentences and headline list entries end, read as asked: `NEAR` does
    /// not reach across one, so that two stories of a briefing are never near each other.
    breaks: &'a Breaks,
    analyzed: &'a Analyzed,
    item: &'a ItemText<'a>,
}

/// Readies the item's [`Breaks`], once per item and only for an item whose `NEAR` has
/// something on both sides: most items never need them.
fn ready_breaks(scratch: &mut Scratch) {
    if scratch.breaks_generation == scratch.generation {
        return;
    }
    scratch.breaks.reset(scratch.analyzed.tokens.len());
    scratch.breaks_generation = scratch.generation;
}

/// The item's [`Spacing`], its breaks readied by [`ready_breaks`] first.
fn spacing<'a>(item: &'a ItemText<'a>, scratch: &'a Scratch) -> Spacing<'a> {
    debug_assert_eq!(
        scratch.breaks_generation, scratch.generation,
        "ready_breaks runs for the item before its spacing is read"
    );
    Spacing {
        breaks: &scratch.breaks,
        analyzed: &scratch.analyzed,
        item,
    }
}

/// How far apart two occurrences are whose facing tokens are `last` and `first`
/// (`last < first`), in words: 1 when adjacent, one more for each word between.
///
/// `unspaced` lists the tokens that are one Chinese or Japanese character
/// ([`Analyzed::unspaced_tokens`]): such a character is a word of the stream but about half a
/// word of its language (most words there are two characters), so it counts half, rounded up,
/// and `NEAR/4` reaches about as far in "朝鲜当天凌晨发射" as in "North Korea on Tuesday
/// launched". Empty for most items, which then count every token one word.
///
/// [`Analyzed::unspaced_tokens`]: crate::text::Analyzed::unspaced_tokens
fn words_apart(last: u32, first: u32, unspaced: &[u32]) -> u32 {
    let between = first - last - 1;
    if unspaced.is_empty() {
        return between + 1;
    }
    // Half words between: two for each token, less one for each character among them.
    let halves =
        unspaced.partition_point(|&t| t < first) - unspaced.partition_point(|&t| t <= last);
    (2 * between - halves as u32).div_ceil(2) + 1
}

/// The terms whose occurrences are a `NEAR` operand's spans, when the operand is a term or
/// an alternative of terms: [`Matcher::terms_near`] then reads them in place.
fn term_operands(node: &Node) -> Option<&[Node]> {
    match node {
        Node::Term(_) => Some(std::slice::from_ref(node)),
        Node::Or(items) if items.iter().all(|n| matches!(n, Node::Term(_))) => Some(items),
        Node::Shared(_, inner) => term_operands(inner),
        _ => None,
    }
}

impl Occurrence {
    /// The span from the first of two occurrences in one field to the end of the last.
    fn joined(&self, other: &Occurrence) -> Occurrence {
        Occurrence {
            field: self.field,
            first_token: self.first_token.min(other.first_token),
            last_token: self.last_token.max(other.last_token),
            disp_start: self.disp_start.min(other.disp_start),
            disp_end: self.disp_end.max(other.disp_end),
        }
    }

    /// The last token of the earlier occurrence and the first of the later; `None` when they
    /// overlap.
    fn gap_to(&self, other: &Occurrence) -> Option<(u32, u32)> {
        if self.last_token < other.first_token {
            Some((self.last_token, other.first_token))
        } else if other.last_token < self.first_token {
            Some((other.last_token, self.first_token))
        } else {
            None
        }
    }

    /// Whether two occurrences lie within `limit` words of each other in one sentence or
    /// headline list entry of one field: what `NEAR/limit` asks of a pair. The breaks are
    /// read last, for the few pairs close enough.
    fn within(&self, other: &Occurrence, limit: u32, spacing: Spacing<'_>) -> bool {
        if self.field != other.field {
            return false;
        }
        let Some((last, first)) = self.gap_to(other) else {
            return true;
        };
        words_apart(last, first, &spacing.analyzed.unspaced_tokens) <= limit
            && !spacing.breaks.between(
                spacing.analyzed,
                self.field,
                spacing.item.get(self.field),
                last,
                first,
            )
    }
}

/// A pattern of the trie: one or more normalised words.
#[derive(Clone, Debug)]
struct Pattern {
    /// The last word may be followed by more letters (`launch*`).
    prefix: bool,
    /// Words in the pattern after the first.
    extra_tokens: u32,
}

#[derive(Clone, Debug)]
enum TermKind {
    /// Patterns that must occur on consecutive words, in order. More than one only when a
    /// phrase has a wildcard before its last word (`"Северн* Коре*"`).
    Segments(Vec<u32>),
    Regex(u32),
    /// Any of these terms: a list. Its occurrences are computed once per item, however many
    /// indicators use the list.
    Any(Vec<u32>),
}

#[derive(Clone, Debug)]
struct TermDef {
    kind: TermKind,
    fields: FieldMask,
    /// The term as the analyst wrote it, shown in evidence; shared, since every hit's evidence
    /// carries it.
    label: std::sync::Arc<str>,
}

#[derive(Clone, Debug)]
enum Node {
    Term(u32),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Near(u32, Box<Node>, Box<Node>),
    /// A subtree that occurs more than once among all queries and boosts (variants of one
    /// rule repeat their original): its value is computed once per item.
    Shared(u32, Box<Node>),
}

#[derive(Clone, Debug)]
struct Boost {
    node: Node,
    weight: f64,
    evidence_terms: Vec<u32>,
    /// The clause as written, for the score breakdown in evidence; shared, since every hit
    /// carries it.
    text: std::sync::Arc<str>,
}

#[derive(Clone, Debug)]
struct CompiledIndicator {
    query: Node,
    boosts: Vec<Boost>,
    min_score: f64,
    /// Terms in positive position in the query: the ones evidence reports.
    evidence_terms: Vec<u32>,
}

impl CompiledIndicator {
    /// The score as evidence records it: each boost, whether it applied, and the total
    /// against `min_score`.
    fn breakdown(&self, applied: &[bool], score: f64) -> ScoreBreakdown {
        ScoreBreakdown {
            base: BASE_SCORE,
            boosts: self
                .boosts
                .iter()
                .zip(applied)
                .map(|(boost, &applied)| BoostOutcome {
                    query: boost.text.clone(),
                    weight: boost.weight,
                    applied,
                })
                .collect(),
            score,
            min_score: self.min_score,
        }
    }
}

/// The first bytes of every text a pattern can match at, hashed into bitsets that stay in L1.
/// Most words start no pattern, and the walk that finds out follows dependent loads through a
/// trie too big for L1, which is where the scan's time goes; this answers most of them from
/// two loads.
///
/// A pattern whose text (with the space that must follow it when it is not a prefix) fills
/// eight bytes is kept by those eight: fewer let through every word that shares a short
/// start with some pattern ("the" for "the north", a letter or two of Cyrillic, one Hangul
/// syllable). Shorter patterns are kept by their first four bytes in a second set, and
/// those shorter than that by their first two in a third, direct one.
#[derive(Debug)]
struct StartFilter {
    long: [u64; StartFilter::WORDS],
    short: [u64; StartFilter::WORDS],
    pairs: [u64; StartFilter::WORDS],
    /// Whether `pairs` holds anything: most rule files have no pattern that short.
    any_pairs: bool,
}

/// Bytes of text a word is judged by; with fewer to the end of its field, it is walked.
const START_KEY: usize = 8;

impl StartFilter {
    const WORDS: usize = 1 << 10;

    /// A filter for these patterns, or `None` when one matches too many texts to list (a
    /// one-byte prefix).
    fn new<'p>(patterns: impl IntoIterator<Item = (&'p [u8], &'p Pattern)>) -> Option<Self> {
        let mut filter = StartFilter {
            long: [0; Self::WORDS],
            short: [0; Self::WORDS],
            pairs: [0; Self::WORDS],
            any_pairs: false,
        };
        for (text, pattern) in patterns {
            if let Some(start) = text.first_chunk::<START_KEY>() {
                filter.insert_long(*start);
                continue;
            }
            if !pattern.prefix && text.len() == START_KEY - 1 {
                let mut start = [b' '; START_KEY];
                start[..text.len()].copy_from_slice(text);
                filter.insert_long(start);
                continue;
            }
            match (text, pattern.prefix) {
                ([a, b, c, d, ..], _) => filter.insert_short([*a, *b, *c, *d]),
                ([a, b, c], true) => (0..=255).for_each(|d| filter.insert_short([*a, *b, *c, d])),
                // Not a prefix: a space or the end of the field follows. At the end, too few
                // bytes remain and the walk is not filtered.
                ([a, b, c], false) => filter.insert_short([*a, *b, *c, b' ']),
                ([a, b], false) => (0..=255).for_each(|d| filter.insert_short([*a, *b, b' ', d])),
                ([a, b], true) => filter.insert_pair(*a, *b),
                ([a], false) => filter.insert_pair(*a, b' '),
                _ => return None,
            }
        }
        Some(filter)
    }

    #[inline(always)]
    fn bit_of(key: u64) -> (usize, u64) {
        // The product's top sixteen bits depend on every byte of the key.
        let hash = key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48;
        ((hash >> 6) as usize, 1 << (hash & 63))
    }

    #[inline(always)]
    fn pair_bit(a: u8, b: u8) -> (usize, u64) {
        Self::pair_bit_of(u16::from_le_bytes([a, b]))
    }

    #[inline(always)]
    fn pair_bit_of(key: u16) -> (usize, u64) {
        ((key >> 6) as usize, 1 << (key & 63))
    }

    fn insert_long(&mut self, start: [u8; START_KEY]) {
        let (word, bit) = Self::bit_of(u64::from_le_bytes(start));
        self.long[word] |= bit;
    }

    fn insert_short(&mut self, start: [u8; 4]) {
        let (word, bit) = Self::bit_of(u64::from(u32::from_le_bytes(start)));
        self.short[word] |= bit;
    }

    fn insert_pair(&mut self, a: u8, b: u8) {
        let (word, bit) = Self::pair_bit(a, b);
        self.pairs[word] |= bit;
        self.any_pairs = true;
    }

    /// Writes down the words of a field (`tokens`, the first of them token `first_token`)
    /// that may start a pattern, at the front of `starts` (as long as `tokens`); returns how
    /// many. Kept out of the scan, whose live values left this loop reloading its own from
    /// the stack on every word.
    #[inline(never)]
    fn list_starts(
        &self,
        field: &[u8],
        tokens: &[crate::text::Token],
        first_token: u32,
        starts: &mut [u32],
    ) -> usize {
        let starts = &mut starts[..tokens.len()];
        let mut passed = 0;
        for (index, token) in (first_token..).zip(tokens) {
            let from = token.norm_start as usize;
            let pass = match field.get(from..from + START_KEY) {
                Some(start) => self.may_start_with(u64::from_le_bytes(
                    start.try_into().expect("a key's length"),
                )),
                // Too few bytes to the end of the field: not filtered.
                None => true,
            };
            // `passed` never passes the words counted so far, so it stays in bounds.
            starts[passed.min(tokens.len() - 1)] = index;
            passed += usize::from(pass);
        }
        passed
    }

    /// Whether a pattern may start at a word whose text goes on with these bytes.
    #[cfg(test)]
    fn may_start(&self, start: &[u8; START_KEY]) -> bool {
        self.may_start_with(u64::from_le_bytes(*start))
    }

    /// [`StartFilter::may_start`] on the key's bytes read as one number, first byte lowest:
    /// read whole, where taking its first two bytes apart made the compiler assemble the
    /// number from three loads.
    #[inline(always)]
    fn may_start_with(&self, eight: u64) -> bool {
        let (word, bit) = Self::bit_of(eight);
        let mut found = self.long[word] & bit;
        let (word, bit) = Self::bit_of(eight & 0xFFFF_FFFF);
        found |= self.short[word] & bit;
        if self.any_pairs {
            let (word, bit) = Self::pair_bit_of(eight as u16);
            found |= self.pairs[word] & bit;
        }
        found != 0
    }
}

/// Where one item's pattern occurrences go.
struct FoundPatterns<'a> {
    patterns: &'a [Pattern],
    filter: Option<&'a StartFilter>,
    analyzed: &'a Analyzed,
    occurrences: &'a mut [Vec<Occurrence>],
    touched: &'a mut Vec<u32>,
    /// Room for the words of a field that pass the filter.
    starts: &'a mut Vec<u32>,
}

impl FoundPatterns<'_> {
    fn scan(mut self, trie: &WordTrie) {
        let analyzed = self.analyzed;
        let norm = &analyzed.norm[..];
        let mut starts = std::mem::take(self.starts);
        for run in &analyzed.fields {
            // Patterns hold no line break, so no match crosses the end of a field.
            let field = &norm[..run.norm_end as usize];
            let tokens = &analyzed.tokens[run.first_token as usize..run.end_token as usize];
            // The filter's verdict on a word is as good as random: taken as a branch it
            // mispredicts on a good share of words. Every word is written down and the count
            // moves on only for those that pass, so the filter pass has no branch on it.
            if starts.len() < tokens.len() {
                starts.resize(tokens.len(), 0);
            }
            let passed = match self.filter {
                Some(filter) => filter.list_starts(field, tokens, run.first_token, &mut starts),
                None => {
                    for (slot, index) in starts.iter_mut().zip(run.first_token..run.end_token) {
                        *slot = index;
                    }
                    tokens.len()
                }
            };
            for &first in &starts[..passed] {
                let token = &analyzed.tokens[first as usize];
                let at = WalkStart {
                    field: run.field,
                    text: field,
                    from: token.norm_start as usize,
                    first,
                    disp_start: token.disp_start,
                };
                self.walk(trie, &at);
            }
        }
        *self.starts = starts;
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

/// All compiled indicators. Cheap to share between threads; per-thread state is a [`Scratch`].
#[derive(Debug)]
pub struct Matcher {
    trie: WordTrie,
    start_filter: Option<Box<StartFilter>>,
    patterns: Vec<Pattern>,
    regexes: Vec<Regex>,
    /// Per regex, text all its matches contain, looked for first on each field.
    regex_needles: Vec<Option<Needle>>,
    /// Per regex, the fields a term reads it in; it runs over no other.
    regex_fields: Vec<FieldMask>,
    terms: Vec<TermDef>,
    /// Per term, the pattern its first segment starts with, [`LIST_HEAD`] for a list, or
    /// [`NO_HEAD`] for a regex.
    term_heads: Vec<u32>,
    indicators: Vec<CompiledIndicator>,
    /// How many [`Node::Shared`] subtrees the trees hold.
    shared_nodes: usize,
    /// For each pattern, the lists (`TermKind::Any` terms) with a member that starts with it,
    /// and that member's position in the list.
    pattern_members: Vec<Vec<(u32, u32)>>,
    /// For each pattern, the indicators whose query uses it.
    pattern_users: Vec<Vec<u32>>,
    /// For each regex, the indicators whose query uses it.
    regex_users: Vec<Vec<u32>>,
    /// Per indicator, its clauses as written: only explanations read them, so they stay out
    /// of the compiled indicators the hot path walks.
    written: Vec<Written>,
}

/// Text every match of a regex contains, looked for before the regex runs on a field: most
/// fields lack it, and finding that out costs a fraction of what the regex would.
#[derive(Debug)]
enum Needle {
    /// Searched as written: the regex folds no case, or the needle has no ASCII letter whose
    /// case could differ.
    Exact(Box<memchr::memmem::Finder<'static>>),
    /// Searched up to ASCII case.
    Caseless(aho_corasick::AhoCorasick),
}

impl Needle {
    /// A search for `needle`, up to ASCII case when `caseless` (the regex folds case).
    fn new(needle: &[u8], caseless: bool) -> Option<Needle> {
        if !caseless || !needle.iter().any(u8::is_ascii_alphabetic) {
            return Some(Needle::Exact(Box::new(
                memchr::memmem::Finder::new(needle).into_owned(),
            )));
        }
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build([needle])
            .ok()
            .map(Needle::Caseless)
    }

    fn is_in(&self, text: &str) -> bool {
        match self {
            Needle::Exact(finder) => finder.find(text.as_bytes()).is_some(),
            Needle::Caseless(search) => search.is_match(text),
        }
    }
}

/// In [`Matcher::term_heads`], a term that does not start with a pattern.
const NO_HEAD: u32 = u32::MAX;

/// In [`Matcher::term_heads`], a list: it can occur only where the scan found the first
/// pattern of one of its members, as [`Scratch::list_positions`] records. Pattern ids stay
/// far below it ([`compile`] caps the rules' search text at 4 MiB).
const LIST_HEAD: u32 = u32::MAX - 1;

/// Reusable per-thread buffers, so matching an item allocates little.
#[derive(Debug, Default)]
pub struct Scratch {
    analyzed: Analyzed,
    /// Letters by script of the item's title and body, when its language is asked for.
    script_tally: crate::text::lang::ScriptTally,
    pattern_occurrences: Vec<Vec<Occurrence>>,
    touched_patterns: Vec<u32>,
    /// The words of a field the start filter let through, walked after the filter pass.
    walk_starts: Vec<u32>,
    regex_occurrences: Vec<Vec<Occurrence>>,
    /// `regex_occurrences[r]` is valid for this item when `regex_generation[r] == generation`.
    regex_generation: Vec<u32>,
    touched_regexes: Vec<u32>,
    term_occurrences: Vec<Vec<Occurrence>>,
    /// `term_occurrences[t]` is valid for this item when `term_generation[t] == generation`.
    term_generation: Vec<u32>,
    candidate_generation: Vec<u32>,
    candidates: Vec<u32>,
    /// Per list term, the positions of the members whose first pattern occurred in this item.
    list_positions: Vec<Vec<u32>>,
    touched_lists: Vec<u32>,
    /// Whether a list term occurs, valid for this item when `list_presence_generation` says
    /// so: what [`Matcher::term_present`] found without collecting the occurrences.
    list_presence: Vec<bool>,
    list_presence_generation: Vec<u32>,
    /// The value of [`Node::Shared`] subtrees, valid for this item when `shared_generation`
    /// says so.
    shared_value: Vec<bool>,
    shared_generation: Vec<u32>,
    /// Terms still to visit while building evidence, and whether they only demote; kept
    /// between hits.
    evidence_pending: Vec<(u32, Role)>,
    /// Per term, what the current hit's evidence collected of it.
    evidence_visits: Vec<EvidenceVisit>,
    /// Counts hits, for `evidence_visits`.
    evidence_hit: u32,
    /// The current hit's found terms, and the terms near a snippet anchor; kept between hits.
    evidence_found: Vec<evidence::FoundTerm>,
    evidence_nearby: Vec<usize>,
    /// Emptied buffers for the two sides of a `NEAR`, so that evaluating one allocates
    /// nothing; a pool because `NEAR` nests.
    span_buffers: Vec<Vec<Occurrence>>,
    /// Which boosts of the indicator being evaluated applied.
    boosts_applied: Vec<bool>,
    /// Where the item's sentences end ([`Spacing::breaks`]), valid for this item when
    /// `breaks_generation` says so.
    breaks: Breaks,
    breaks_generation: u32,
    generation: u32,
}

/// Up to this many candidates are sorted; past it, they are read from their marks in order.
const CANDIDATES_SORTED: usize = 16;

/// At most this many occurrences of one term go into evidence; the rest add nothing a reader
/// needs.
const MAX_OCCURRENCES_PER_TERM: usize = 16;

impl Matcher {
    pub fn indicator_count(&self) -> usize {
        self.indicators.len()
    }

    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// Bytes held by the pattern trie: what one scan has to keep in cache.
    pub fn automaton_bytes(&self) -> usize {
        self.trie.memory_usage()
    }

    pub fn scratch(&self) -> Scratch {
        Scratch {
            pattern_occurrences: vec![Vec::new(); self.patterns.len()],
            regex_occurrences: vec![Vec::new(); self.regexes.len()],
            regex_generation: vec![0; self.regexes.len()],
            term_occurrences: vec![Vec::new(); self.terms.len()],
            term_generation: vec![0; self.terms.len()],
            list_positions: vec![Vec::new(); self.terms.len()],
            list_presence: vec![false; self.terms.len()],
            list_presence_generation: vec![0; self.terms.len()],
            candidate_generation: vec![0; self.indicators.len()],
            shared_value: vec![false; self.shared_nodes],
            shared_generation: vec![0; self.shared_nodes],
            ..Scratch::default()
        }
    }

    /// Matches one item against every indicator; hits come in indicator order.
    pub fn match_item(&self, item: &ItemText<'_>, scratch: &mut Scratch) -> Vec<Hit> {
        self.match_prepared(item, scratch, false)
    }

    /// [`Matcher::match_item`], and the item's language as [`lang::detect`] tells it from the
    /// title and the body (the summary, else the content), the letters counted by script in
    /// the same pass that normalises the text for matching.
    ///
    /// [`lang::detect`]: crate::text::lang::detect
    pub fn match_and_identify(
        &self,
        item: &ItemText<'_>,
        scratch: &mut Scratch,
    ) -> (Vec<Hit>, Option<crate::text::lang::Lang>) {
        let hits = self.match_prepared(item, scratch, true);
        let lang =
            crate::text::lang::detect_tallied(&scratch.script_tally, item.title, item.body());
        (hits, lang)
    }

    fn match_prepared(
        &self,
        item: &ItemText<'_>,
        scratch: &mut Scratch,
        identify: bool,
    ) -> Vec<Hit> {
        if scratch.term_generation.len() != self.terms.len() {
            *scratch = self.scratch();
        }
        self.find_occurrences(item, scratch, identify);
        if scratch.generation == 1 {
            // The first item, or the count of items came round: no mark from before may pass
            // for this item's.
            scratch.list_presence_generation.fill(0);
        }
        self.collect_candidates(scratch);
        let mut hits = Vec::new();
        let candidates = std::mem::take(&mut scratch.candidates);
        for &index in &candidates {
            let indicator = &self.indicators[index as usize];
            if !self.eval_operand(&indicator.query, item, scratch) {
                continue;
            }
            let mut score = BASE_SCORE;
            let mut applied = std::mem::take(&mut scratch.boosts_applied);
            applied.clear();
            for boost in &indicator.boosts {
                // Many boosts are one list (`@nk_space`), most often absent: answered in place.
                let applies = self.eval_operand(&boost.node, item, scratch);
                if applies {
                    score += boost.weight;
                }
                applied.push(applies);
            }
            if score + SCORE_EPSILON < indicator.min_score {
                scratch.boosts_applied = applied;
                continue;
            }
            let breakdown = indicator.breakdown(&applied, score);
            let mut evidence = self.evidence(item, indicator, &applied, scratch);
            evidence.score = Some(breakdown);
            scratch.boosts_applied = applied;
            hits.push(Hit {
                indicator: index as usize,
                score,
                evidence,
            });
        }
        scratch.candidates = candidates;
        hits
    }

    fn find_occurrences(&self, item: &ItemText<'_>, scratch: &mut Scratch, identify: bool) {
        for &p in &scratch.touched_patterns {
            scratch.pattern_occurrences[p as usize].clear();
        }
        scratch.touched_patterns.clear();
        scratch.touched_regexes.clear();
        scratch.generation = scratch.generation.wrapping_add(1);
        if scratch.generation == 0 {
            scratch.term_generation.fill(0);
            scratch.regex_generation.fill(0);
            scratch.candidate_generation.fill(0);
            scratch.shared_generation.fill(0);
            scratch.breaks_generation = 0;
            scratch.generation = 1;
        }

        let analyzed = &mut scratch.analyzed;
        analyzed.clear();
        if identify {
            use crate::text::lang::{SAMPLE_BYTES, TITLE_BYTES};
            let tally = &mut scratch.script_tally;
            tally.clear();
            let body = item.body_field();
            for field in Field::ALL {
                let limit = match field {
                    Field::Title => TITLE_BYTES,
                    field if field == body => SAMPLE_BYTES,
                    _ => 0,
                };
                if limit > 0 {
                    analyzed.push_field_counting(field, item.get(field), tally, limit);
                } else {
                    analyzed.push_field(field, item.get(field));
                }
            }
        } else {
            for field in Field::ALL {
                analyzed.push_field(field, item.get(field));
            }
        }
        FoundPatterns {
            patterns: &self.patterns,
            filter: self.start_filter.as_deref(),
            analyzed: &scratch.analyzed,
            occurrences: &mut scratch.pattern_occurrences,
            touched: &mut scratch.touched_patterns,
            starts: &mut scratch.walk_starts,
        }
        .scan(&self.trie);

        for &list in &scratch.touched_lists {
            scratch.list_positions[list as usize].clear();
        }
        scratch.touched_lists.clear();
        for &pattern in &scratch.touched_patterns {
            for &(list, position) in &self.pattern_members[pattern as usize] {
                let positions = &mut scratch.list_positions[list as usize];
                if positions.is_empty() {
                    scratch.touched_lists.push(list);
                }
                positions.push(position);
            }
        }

        // Regexes run over the display text, which costs far more than the trie: only
        // those that can make an indicator a candidate run on every item; a regex used only in
        // boost clauses runs when an indicator that fired needs it.
        for (regex_id, users) in self.regex_users.iter().enumerate() {
            if !users.is_empty() && self.regex_occurrences(regex_id, item, scratch) > 0 {
                scratch.touched_regexes.push(regex_id as u32);
            }
        }
    }

    /// The occurrences of a regex in this item, computed once per item.
    fn regex_occurrences(
        &self,
        regex_id: usize,
        item: &ItemText<'_>,
        scratch: &mut Scratch,
    ) -> usize {
        if scratch.regex_generation[regex_id] == scratch.generation {
            return scratch.regex_occurrences[regex_id].len();
        }
        let mut found_list = std::mem::take(&mut scratch.regex_occurrences[regex_id]);
        found_list.clear();
        let analyzed = &scratch.analyzed;
        let needle = self.regex_needles[regex_id].as_ref();
        let fields = self.regex_fields[regex_id];
        for run in analyzed
            .fields
            .iter()
            .filter(|run| fields.contains(run.field))
        {
            let text = item.get(run.field);
            if needle.is_some_and(|needle| !needle.is_in(text)) {
                continue;
            }
            for found in self.regexes[regex_id].find_iter(text) {
                if found.is_empty() {
                    continue;
                }
                let at = |offset: usize| {
                    analyzed
                        .token_at_display(run, offset as u32)
                        .unwrap_or(run.end_token - 1)
                };
                found_list.push(Occurrence {
                    field: run.field,
                    first_token: at(found.start()),
                    last_token: at(found.end() - 1),
                    disp_start: found.start() as u32,
                    disp_end: found.end() as u32,
                });
            }
        }
        let count = found_list.len();
        scratch.regex_occurrences[regex_id] = found_list;
        scratch.regex_generation[regex_id] = scratch.generation;
        count
    }

    fn collect_candidates(&self, scratch: &mut Scratch) {
        scratch.candidates.clear();
        let generation = scratch.generation;
        let users = scratch
            .touched_patterns
            .iter()
            .flat_map(|&p| &self.pattern_users[p as usize])
            .chain(
                scratch
                    .touched_regexes
                    .iter()
                    .flat_map(|&r| &self.regex_users[r as usize]),
            );
        for &indicator in users {
            let mark = &mut scratch.candidate_generation[indicator as usize];
            if *mark != generation {
                *mark = generation;
                scratch.candidates.push(indicator);
            }
        }
        // Hits come in indicator order. A few candidates sort in a few steps; when many
        // indicators are candidates, reading the marks in order costs less than sorting.
        if scratch.candidates.len() <= CANDIDATES_SORTED {
            scratch.candidates.sort_unstable();
        } else {
            scratch.candidates.clear();
            scratch.candidates.extend(
                (0..)
                    .zip(&scratch.candidate_generation)
                    .filter(|(_, mark)| **mark == generation)
                    .map(|(indicator, _)| indicator),
            );
        }
    }

    /// Most terms, and most lists, are absent from most items: this answers for those from two
    /// loads, without reaching the term's definition or the cache.
    #[inline(always)]
    fn surely_absent(&self, term: u32, scratch: &Scratch) -> bool {
        let t = term as usize;
        match self.term_heads[t] {
            NO_HEAD => false,
            LIST_HEAD => scratch.list_positions[t].is_empty(),
            head => scratch.pattern_occurrences[head as usize].is_empty(),
        }
    }

    /// Whether a term occurs in this item. Most queries only ask that, so a list answers from
    /// its first member found and a one-word term from its pattern, without collecting every
    /// occurrence as `NEAR` and evidence need.
    fn term_present(&self, term: u32, item: &ItemText<'_>, scratch: &mut Scratch) -> bool {
        if self.surely_absent(term, scratch) {
            return false;
        }
        let t = term as usize;
        if scratch.term_generation[t] == scratch.generation {
            return !scratch.term_occurrences[t].is_empty();
        }
        if let Some(mut occurrences) = self.one_word_occurrences(term, scratch) {
            return occurrences.next().is_some();
        }
        match &self.terms[t].kind {
            TermKind::Any(members) => {
                // Boosts ask again of the lists the query asked of (`AND NOT @aid`, in clause
                // after clause): the answer is kept for the item.
                if scratch.list_presence_generation[t] == scratch.generation {
                    return scratch.list_presence[t];
                }
                // By index: a member of more than one word may need `&mut scratch`, and the
                // positions stay where they are instead of being taken out and put back.
                let mut present = false;
                for index in 0..scratch.list_positions[t].len() {
                    let member = members[scratch.list_positions[t][index] as usize];
                    if self.member_present(member, item, scratch) {
                        present = true;
                        break;
                    }
                }
                scratch.list_presence_generation[t] = scratch.generation;
                scratch.list_presence[t] = present;
                present
            }
            TermKind::Segments(_) | TermKind::Regex(_) => {
                self.term_occurrences(term, item, scratch) > 0
            }
        }
    }

    /// [`Matcher::term_present`] for a list member whose first pattern occurred: most
    /// members are one pattern, answered here from the scan's occurrences without a call.
    #[inline(always)]
    fn member_present(&self, member: u32, item: &ItemText<'_>, scratch: &mut Scratch) -> bool {
        if let Some(mut occurrences) = self.one_word_occurrences(member, scratch) {
            return occurrences.next().is_some();
        }
        self.term_present(member, item, scratch)
    }

    /// A one-word term's occurrences: its pattern's, in the term's fields, read where the scan
    /// left them. `None` for a longer term, a list or a regex, and for a term whose
    /// occurrences this item already collected into [`Scratch::term_occurrences`].
    #[inline(always)]
    fn one_word_occurrences<'s>(
        &self,
        term: u32,
        scratch: &'s Scratch,
    ) -> Option<impl Iterator<Item = &'s Occurrence> + use<'s>> {
        let t = term as usize;
        let def = &self.terms[t];
        match &def.kind {
            TermKind::Segments(segments)
                if segments.len() == 1 && scratch.term_generation[t] != scratch.generation =>
            {
                let fields = def.fields;
                Some(
                    scratch.pattern_occurrences[segments[0] as usize]
                        .iter()
                        .filter(move |o| fields.contains(o.field)),
                )
            }
            _ => None,
        }
    }

    /// The occurrences of a term in this item, computed once per item.
    fn term_occurrences(&self, term: u32, item: &ItemText<'_>, scratch: &mut Scratch) -> usize {
        let t = term as usize;
        if self.surely_absent(term, scratch) {
            return 0;
        }
        let def = &self.terms[t];
        if scratch.term_generation[t] == scratch.generation {
            return scratch.term_occurrences[t].len();
        }
        let mut found = std::mem::take(&mut scratch.term_occurrences[t]);
        found.clear();
        let in_scope = |o: &&Occurrence| def.fields.contains(o.field);
        match &def.kind {
            TermKind::Any(members) => {
                // Only the members whose first pattern occurred can occur; the scan listed
                // them. Sorted, they keep the list's order.
                // A member of one pattern is its pattern's occurrences in its fields, copied
                // straight from the scan's; only longer members are collected as terms.
                scratch.list_positions[t].sort_unstable();
                for index in 0..scratch.list_positions[t].len() {
                    let member = members[scratch.list_positions[t][index] as usize];
                    if let Some(occurrences) = self.one_word_occurrences(member, scratch) {
                        found.extend(occurrences);
                    } else if self.term_occurrences(member, item, scratch) > 0 {
                        found.extend_from_slice(&scratch.term_occurrences[member as usize]);
                    }
                }
            }
            TermKind::Regex(r) => {
                self.regex_occurrences(*r as usize, item, scratch);
                found.extend(
                    scratch.regex_occurrences[*r as usize]
                        .iter()
                        .filter(in_scope),
                )
            }
            TermKind::Segments(segments) => {
                let (head, rest) = segments.split_first().expect("a term has a segment");
                'start: for start in scratch.pattern_occurrences[*head as usize]
                    .iter()
                    .filter(in_scope)
                {
                    let mut current = *start;
                    for segment in rest {
                        let next =
                            scratch.pattern_occurrences[*segment as usize]
                                .iter()
                                .find(|o| {
                                    o.field == current.field
                                        && o.first_token == current.last_token + 1
                                });
                        match next {
                            Some(next) => {
                                current.last_token = next.last_token;
                                current.disp_end = next.disp_end;
                            }
                            None => continue 'start,
                        }
                    }
                    found.push(current);
                }
            }
        }
        let count = found.len();
        scratch.term_occurrences[t] = found;
        scratch.term_generation[t] = scratch.generation;
        count
    }

    /// [`Matcher::eval`], with an absent term answered in place: most operands of most trees
    /// are terms the item lacks, and this spares each of them two calls.
    #[inline(always)]
    fn eval_operand(&self, node: &Node, item: &ItemText<'_>, scratch: &mut Scratch) -> bool {
        match node {
            Node::Term(term) => {
                !self.surely_absent(*term, scratch) && self.term_present(*term, item, scratch)
            }
            _ => self.eval(node, item, scratch),
        }
    }

    fn eval(&self, node: &Node, item: &ItemText<'_>, scratch: &mut Scratch) -> bool {
        match node {
            Node::Term(term) => self.term_present(*term, item, scratch),
            Node::And(items) => items.iter().all(|n| self.eval_operand(n, item, scratch)),
            Node::Or(items) => items.iter().any(|n| self.eval_operand(n, item, scratch)),
            Node::Not(inner) => !self.eval_operand(inner, item, scratch),
            Node::Shared(id, inner) => {
                let id = *id as usize;
                if scratch.shared_generation[id] == scratch.generation {
                    return scratch.shared_value[id];
                }
                let value = self.eval_operand(inner, item, scratch);
                scratch.shared_generation[id] = scratch.generation;
                scratch.shared_value[id] = value;
                value
            }
            Node::Near(distance, left, right) => {
                // An operand of NEAR has spans exactly where it is true (NOT is refused under
                // NEAR), and truth is what the item keeps answers for: an absent operand
                // spares collecting the other's occurrences.
                if !self.eval_operand(right, item, scratch) {
                    return false;
                }
                if let (Some(lefts), Some(rights)) = (term_operands(left), term_operands(right)) {
                    return self.terms_near(lefts, rights, *distance, item, scratch);
                }
                let mut lefts = scratch.span_buffers.pop().unwrap_or_default();
                let mut rights = scratch.span_buffers.pop().unwrap_or_default();
                self.spans(left, item, scratch, &mut lefts);
                if !lefts.is_empty() {
                    self.spans(right, item, scratch, &mut rights);
                }
                let near = !lefts.is_empty() && !rights.is_empty() && {
                    ready_breaks(scratch);
                    any_within(&lefts, &rights, *distance, spacing(item, scratch))
                };
                lefts.clear();
                rights.clear();
                scratch.span_buffers.push(lefts);
                scratch.span_buffers.push(rights);
                near
            }
        }
    }

    /// Whether an occurrence of a term of `lefts` lies within `distance` words of one of
    /// `rights`: a `NEAR` between terms or alternatives of terms (`(@a OR @b) NEAR/8 @c`),
    /// the shape most rules write. Each term's occurrences are kept for the item, so they are
    /// compared where they lie instead of copied into spans first; the pairs tested are the
    /// ones [`Matcher::spans`] would have put side by side, so the cost is what it was: the
    /// product of the two sides' occurrence counts at worst, each count bounded by the item's
    /// words; most pairs of terms are absent, and an absent term costs no pair.
    fn terms_near(
        &self,
        lefts: &[Node],
        rights: &[Node],
        distance: u32,
        item: &ItemText<'_>,
        scratch: &mut Scratch,
    ) -> bool {
        let collect = |side: &[Node], scratch: &mut Scratch| {
            let mut found = false;
            for node in side {
                if let Node::Term(term) = node
                    && !self.surely_absent(*term, scratch)
                {
                    found |= self.term_occurrences(*term, item, scratch) > 0;
                }
            }
            found
        };
        // No span on the left: nothing is near, and the right's spans are not needed.
        if !collect(lefts, scratch) || !collect(rights, scratch) {
            return false;
        }
        ready_breaks(scratch);
        let kept = |node: &Node| match node {
            Node::Term(term) if scratch.term_generation[*term as usize] == scratch.generation => {
                &scratch.term_occurrences[*term as usize][..]
            }
            // Absent (`term_occurrences` answered without collecting), or not a term.
            _ => &[],
        };
        lefts.iter().any(|left| {
            let found = kept(left);
            !found.is_empty()
                && rights
                    .iter()
                    .any(|right| any_within(found, kept(right), distance, spacing(item, scratch)))
        })
    }

    /// Where a `NEAR` operand matched. A `NOT` never appears under `NEAR` (rejected at compile).
    fn spans(
        &self,
        node: &Node,
        item: &ItemText<'_>,
        scratch: &mut Scratch,
        out: &mut Vec<Occurrence>,
    ) {
        match node {
            Node::Term(term) => {
                if self.term_occurrences(*term, item, scratch) > 0 {
                    out.extend_from_slice(&scratch.term_occurrences[*term as usize]);
                }
            }
            Node::Or(items) => {
                for child in items {
                    self.spans(child, item, scratch, out);
                }
            }
            Node::And(items) => {
                if items.iter().all(|n| self.eval(n, item, scratch)) {
                    for child in items {
                        self.spans(child, item, scratch, out);
                    }
                }
            }
            Node::Near(distance, left, right) => {
                let mut lefts = scratch.span_buffers.pop().unwrap_or_default();
                let mut rights = scratch.span_buffers.pop().unwrap_or_default();
                self.spans(left, item, scratch, &mut lefts);
                self.spans(right, item, scratch, &mut rights);
                if !lefts.is_empty() && !rights.is_empty() {
                    ready_breaks(scratch);
                    push_near_spans(&lefts, &rights, *distance, spacing(item, scratch), out);
                }
                lefts.clear();
                rights.clear();
                scratch.span_buffers.push(lefts);
                scratch.span_buffers.push(rights);
            }
            Node::Shared(_, inner) => self.spans(inner, item, scratch, out),
            Node::Not(_) => {}
        }
    }

    /// Evidence for the query's terms and those of the boosts that applied, as
    /// [`Evidence::new`] makes it of [`Matcher::matched_terms`]: a term both supporting and
    /// demoting kept as supporting, each occurrence once.
    fn evidence(
        &self,
        item: &ItemText<'_>,
        indicator: &CompiledIndicator,
        applied: &[bool],
        scratch: &mut Scratch,
    ) -> Evidence {
        self.evidence_of_found(item, indicator, applied, scratch)
            .unwrap_or_else(|| {
                Evidence::new(self.matched_terms(item, indicator, applied, scratch), item)
            })
    }

    /// [`Matcher::evidence`] the short way, or `None` when only the plain collection's order
    /// can tell which of two equal terms stays.
    ///
    /// The same terms come from the query and from every applied boost that names them (a
    /// list named in five clauses), so this collects each term once per role, without its
    /// text, sorts, and copies labels and text only for the terms that stay.
    fn evidence_of_found(
        &self,
        item: &ItemText<'_>,
        indicator: &CompiledIndicator,
        applied: &[bool],
        scratch: &mut Scratch,
    ) -> Option<Evidence> {
        scratch.evidence_hit = scratch.evidence_hit.wrapping_add(1);
        if scratch.evidence_hit == 0 || scratch.evidence_visits.len() != self.terms.len() {
            // The first hit, or the count came round: no mark from before may pass for this
            // hit's.
            scratch.evidence_visits.clear();
            scratch
                .evidence_visits
                .resize(self.terms.len(), EvidenceVisit::default());
            scratch.evidence_hit = 1;
        }
        let mut found = std::mem::take(&mut scratch.evidence_found);
        found.clear();
        // In the order the plain collection takes them off its stack: the query's terms last
        // to first, then the applied boosts', last to first.
        let boosts = indicator
            .boosts
            .iter()
            .zip(applied)
            .rev()
            .filter(|(_, applied)| **applied)
            .map(|(boost, _)| (&boost.evidence_terms, Role::of_weight(boost.weight)));
        let mut plain_len = 0;
        for (terms, role) in
            std::iter::once((&indicator.evidence_terms, Role::Supporting)).chain(boosts)
        {
            for &term in terms.iter().rev() {
                plain_len += self.visit_evidence_term(term, role, item, scratch, &mut found);
            }
        }
        let label = |term: u32| &self.terms[term as usize].label;
        let known = evidence::sort_found(
            &mut found,
            |term| &**label(term),
            plain_len <= evidence::FIRST_KEPT_UP_TO,
        );
        let evidence =
            known.then(|| Evidence::from_found(&found, label, item, &mut scratch.evidence_nearby));
        scratch.evidence_found = found;
        evidence
    }

    /// Collects one term of a hit's evidence in one role, unless this hit collected it
    /// already: in the same role, or as supporting (whose copies the demoting ones never
    /// outlast). Returns how many matched terms [`Matcher::matched_terms`] makes of it, with
    /// every repeat, which tells whether its sort keeps the first of equal terms.
    fn visit_evidence_term(
        &self,
        term: u32,
        role: Role,
        item: &ItemText<'_>,
        scratch: &mut Scratch,
        found: &mut Vec<evidence::FoundTerm>,
    ) -> usize {
        let t = term as usize;
        let hit = scratch.evidence_hit;
        let visit = scratch.evidence_visits[t];
        if visit.hit == hit && visit.roles & (Role::Supporting.bit() | role.bit()) != 0 {
            return visit.matched as usize;
        }
        let matched = match &self.terms[t].kind {
            // A list's own occurrences would only say that it occurs: its members' are the
            // evidence, so its presence, which the query kept, is enough. Only the members
            // whose first pattern occurred can have matched: the scan listed them.
            TermKind::Any(members) => {
                if self.term_present(term, item, scratch) {
                    let positions = std::mem::take(&mut scratch.list_positions[t]);
                    // Last first: the plain collection stacks the members, then takes them off.
                    let matched = positions
                        .iter()
                        .rev()
                        .map(|&position| {
                            let member = members[position as usize];
                            self.visit_evidence_term(member, role, item, scratch, found)
                        })
                        .sum();
                    scratch.list_positions[t] = positions;
                    matched
                } else {
                    0
                }
            }
            TermKind::Segments(_) | TermKind::Regex(_) => {
                // A one-word term's occurrences are read where the scan left them rather than
                // copied into the term's own list first.
                if let Some(occurrences) = self.one_word_occurrences(term, scratch) {
                    collect_found(occurrences, term, role, found)
                } else if self.term_occurrences(term, item, scratch) > 0 {
                    collect_found(scratch.term_occurrences[t].iter(), term, role, found)
                } else {
                    0
                }
            }
        };
        let visit = &mut scratch.evidence_visits[t];
        if visit.hit != hit {
            *visit = EvidenceVisit {
                hit,
                roles: 0,
                matched: matched as u32,
            };
        }
        visit.roles |= role.bit();
        matched
    }

    /// The matched terms of a hit as first collected, every repeat included: what
    /// [`Matcher::evidence`] reproduces through [`Evidence::new`], and builds this way when
    /// only this order says which of two equal terms stays.
    fn matched_terms(
        &self,
        item: &ItemText<'_>,
        indicator: &CompiledIndicator,
        applied: &[bool],
        scratch: &mut Scratch,
    ) -> Vec<MatchedTerm> {
        let mut matched = Vec::with_capacity(16);
        let mut pending = std::mem::take(&mut scratch.evidence_pending);
        pending.clear();
        for (boost, _) in indicator.boosts.iter().zip(applied).filter(|(_, a)| **a) {
            let role = Role::of_weight(boost.weight);
            pending.extend(boost.evidence_terms.iter().map(|&t| (t, role)));
        }
        pending.extend(
            indicator
                .evidence_terms
                .iter()
                .map(|&t| (t, Role::Supporting)),
        );
        while let Some((term, role)) = pending.pop() {
            let kind = &self.terms[term as usize].kind;
            let found = match kind {
                TermKind::Any(_) => self.term_present(term, item, scratch),
                TermKind::Segments(_) | TermKind::Regex(_) => {
                    self.term_occurrences(term, item, scratch) > 0
                }
            };
            if !found {
                continue;
            }
            if let TermKind::Any(members) = kind {
                pending.extend(
                    scratch.list_positions[term as usize]
                        .iter()
                        .map(|&position| (members[position as usize], role)),
                );
                continue;
            }
            let label = &self.terms[term as usize].label;
            for o in scratch.term_occurrences[term as usize]
                .iter()
                .take(MAX_OCCURRENCES_PER_TERM)
            {
                let text = item.get(o.field);
                let (start, end) = (o.disp_start as usize, o.disp_end as usize);
                matched.push(MatchedTerm {
                    term: label.clone(),
                    field: o.field,
                    start,
                    end,
                    text: TermText::from(&text[start..end]),
                    role,
                });
            }
        }
        scratch.evidence_pending = pending;
        matched
    }
}

/// What one hit's evidence collected of a term: valid for the hit when `hit` is
/// [`Scratch::evidence_hit`].
#[derive(Clone, Copy, Debug, Default)]
struct EvidenceVisit {
    hit: u32,
    /// [`Role::bit`]s of the roles collected.
    roles: u8,
    /// Matched terms the plain collection makes of one visit of the term.
    matched: u32,
}

#[cfg(test)]
mod scan_tests;
#[cfg(test)]
mod tests;
