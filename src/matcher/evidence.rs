//! Evidence: why an indicator fired, in terms a reviewer can check.
//!
//! Offsets are byte offsets into the display text of the field named beside them (the text after
//! HTML stripping and entity decoding, before any folding), so `&text[start..end]` is exactly
//! the matched text.
//!
//! Evidence is stored as JSON in `hits.evidence` and read back, as this same type, by mail,
//! Atom and the web pages ([`Evidence::from_stored`]): fields added later carry
//! `#[serde(default)]`, so hits stored before still read, and `v` says which shape wrote a
//! row, so a row from a newer watchfloor is an error rather than a misreading.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::ItemText;
use crate::text::Field;

/// What a matched term did for the score.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// In the query, or in a boost that raised the score.
    #[default]
    Supporting,
    /// Only in boosts with a negative weight that applied: it counted against the hit, and a
    /// reader must not take it for a reason the indicator fired.
    Demoting,
}

impl Role {
    /// The role of the terms of a boost of this weight.
    pub(crate) fn of_weight(weight: f64) -> Role {
        if weight < 0.0 {
            Role::Demoting
        } else {
            Role::Supporting
        }
    }

    /// One bit per role, for sets of roles.
    pub(crate) fn bit(self) -> u8 {
        match self {
            Role::Supporting => 1,
            Role::Demoting => 2,
        }
    }
}

/// One occurrence of a matched term.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchedTerm {
    /// The term as written in the query or list (`launch*`, `@dprk: 북한*`).
    pub term: std::sync::Arc<str>,
    pub field: Field,
    pub start: usize,
    pub end: usize,
    /// The display text at `start..end`.
    #[serde(default)]
    pub text: TermText,
    #[serde(default)]
    pub role: Role,
}

/// The display text of a matched term. Most are a word or two: those are kept in place, so a
/// hit's evidence does not take an allocation for each of its terms (the bench's loop spent
/// about a fourteenth of its time making and dropping them); longer ones go on the heap.
#[derive(Clone)]
pub struct TermText(TextRepr);

#[derive(Clone)]
enum TextRepr {
    Inline { len: u8, bytes: [u8; INLINE_TEXT] },
    Heap(Box<str>),
}

/// Bytes of text kept in place: with the length and the variant's tag, the size of a `String`.
const INLINE_TEXT: usize = 22;

impl TermText {
    pub fn as_str(&self) -> &str {
        match &self.0 {
            TextRepr::Inline { len, bytes } => {
                let bytes = &bytes[..usize::from(*len)];
                // SAFETY: the inline bytes are copied whole from a `&str` (see `From<&str>`),
                // so they are valid UTF-8.
                unsafe { std::str::from_utf8_unchecked(bytes) }
            }
            TextRepr::Heap(text) => text,
        }
    }
}

impl From<&str> for TermText {
    fn from(text: &str) -> Self {
        if text.len() <= INLINE_TEXT {
            let mut bytes = [0u8; INLINE_TEXT];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            TermText(TextRepr::Inline {
                len: text.len() as u8,
                bytes,
            })
        } else {
            TermText(TextRepr::Heap(text.into()))
        }
    }
}

impl From<String> for TermText {
    fn from(text: String) -> Self {
        if text.len() <= INLINE_TEXT {
            TermText::from(text.as_str())
        } else {
            TermText(TextRepr::Heap(text.into_boxed_str()))
        }
    }
}

impl Default for TermText {
    fn default() -> Self {
        TermText::from("")
    }
}

impl std::ops::Deref for TermText {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for TermText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for TermText {}

impl PartialEq<str> for TermText {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for TermText {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Debug for TermText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for TermText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for TermText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TermText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(TermText::from)
    }
}

/// About 200 characters of display text around the best match, for mail and the hit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snippet {
    pub field: Field,
    /// Byte range of the excerpt in the field's display text.
    pub start: usize,
    pub end: usize,
    /// The excerpt, with `…` where it cuts the text.
    pub text: String,
    /// Byte ranges of supporting matched terms within `text`.
    #[serde(default)]
    pub highlights: Vec<(usize, usize)>,
    /// Byte ranges of demoting terms within `text`, shown apart from the highlights.
    #[serde(default)]
    pub demoting: Vec<(usize, usize)>,
}

impl Snippet {
    /// The excerpt split into plain, highlighted and demoting runs, made safe to show: how
    /// mail, the hit list and the terminal all mark the matched terms.
    pub fn segments(&self) -> Vec<crate::text::safe::Segment> {
        crate::text::safe::highlight_roles(&self.text, &self.highlights, &self.demoting)
    }
}

/// One boost clause of the indicator and whether it applied to the item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoostOutcome {
    /// The clause as written.
    pub query: Arc<str>,
    pub weight: f64,
    pub applied: bool,
}

/// How a hit's score was made: the base score of a true query plus the weights of the boosts
/// that applied, against the indicator's `min_score`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreBreakdown {
    pub base: f64,
    /// Every boost clause, in the order written, applied or not.
    pub boosts: Vec<BoostOutcome>,
    pub score: f64,
    pub min_score: f64,
}

impl ScoreBreakdown {
    /// One line for readers: `query 1.0 + 'title:(@sat)' 0.5 − '@imagery' 1.0 = 0.5 ≥ min_score
    /// 0.5`. Boosts that did not apply are left out; the query texts are the analysts' own.
    pub fn summary(&self) -> String {
        use super::explain::number;
        let mut line = format!("query {}", number(self.base));
        for boost in self.boosts.iter().filter(|b| b.applied) {
            let sign = if boost.weight < 0.0 { '−' } else { '+' };
            line.push_str(&format!(
                " {sign} '{}' {}",
                boost.query,
                number(boost.weight.abs())
            ));
        }
        let comparison = if self.score + super::explain::SCORE_EPSILON >= self.min_score {
            '≥'
        } else {
            '<'
        };
        line.push_str(&format!(
            " = {} {comparison} min_score {}",
            number(self.score),
            number(self.min_score)
        ));
        line
    }

    /// The boosts with a negative weight that applied.
    pub fn demoted_by(&self) -> impl Iterator<Item = &BoostOutcome> {
        self.boosts.iter().filter(|b| b.applied && b.weight < 0.0)
    }
}

/// The shape of evidence this build writes. Rows stored before evidence was versioned read
/// as 0; every field since has a default, so they read whole.
pub const EVIDENCE_VERSION: u32 = 1;

/// Stored evidence that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("stored evidence does not decode: {0}")]
    Invalid(#[from] serde_json::Error),
    #[error(
        "stored evidence is of version {0}, newer than this watchfloor reads ({EVIDENCE_VERSION})"
    )]
    TooNew(u32),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// [`EVIDENCE_VERSION`] when written.
    #[serde(default, rename = "v")]
    pub version: u32,
    pub terms: Vec<MatchedTerm>,
    pub snippet: Option<Snippet>,
    /// How the score was made; `None` in hits stored before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<ScoreBreakdown>,
}

/// Characters of context in a snippet.
const SNIPPET_CHARS: usize = 200;
/// Characters shown before the anchor match, when the text allows.
const LEAD_CHARS: usize = 60;
const ELLIPSIS: &str = "…";

impl Evidence {
    /// Evidence without a score breakdown; the matcher adds it.
    pub fn new(mut terms: Vec<MatchedTerm>, item: &ItemText<'_>) -> Self {
        sort_and_dedup(&mut terms);
        let mut nearby = Vec::with_capacity(terms.len());
        let snippet = best_anchor(&terms, &mut nearby).map(|anchor| snippet(item, &terms, anchor));
        Evidence {
            version: EVIDENCE_VERSION,
            terms,
            snippet,
            score: None,
        }
    }

    /// What [`Evidence::new`] makes of the matched terms `found` stands for, once
    /// [`sort_found`] has put them in its order and dropped its repeats: only the terms that
    /// stay take a copy of their text.
    pub(crate) fn from_found<'l>(
        found: &[FoundTerm],
        label: impl Fn(u32) -> &'l Arc<str>,
        item: &ItemText<'_>,
        nearby: &mut Vec<usize>,
    ) -> Self {
        let snippet = best_anchor(found, nearby).map(|anchor| snippet(item, found, anchor));
        let terms = found
            .iter()
            .map(|f| {
                let (start, end) = (f.start as usize, f.end as usize);
                MatchedTerm {
                    term: label(f.term).clone(),
                    field: f.field,
                    start,
                    end,
                    text: TermText::from(&item.get(f.field)[start..end]),
                    role: f.role,
                }
            })
            .collect();
        Evidence {
            version: EVIDENCE_VERSION,
            terms,
            snippet,
            score: None,
        }
    }

    /// Evidence as stored in `hits.evidence`.
    pub fn from_stored(json: &str) -> Result<Evidence, EvidenceError> {
        let evidence: Evidence = serde_json::from_str(json)?;
        if evidence.version > EVIDENCE_VERSION {
            return Err(EvidenceError::TooNew(evidence.version));
        }
        Ok(evidence)
    }

    /// The demoting terms, for listing apart from the ones that support the hit.
    pub fn demoting_terms(&self) -> impl Iterator<Item = &MatchedTerm> {
        self.terms.iter().filter(|t| t.role == Role::Demoting)
    }
}

/// The order of evidence terms and the rule that drops repeats: by field, place and label
/// text, Supporting before Demoting, so the copy that stays of a term both in the query and in
/// a demoting boost is the supporting one.
fn sort_and_dedup(terms: &mut Vec<MatchedTerm>) {
    terms.sort_unstable_by(|a, b| {
        (a.field, a.start, a.end, &a.term, a.role).cmp(&(b.field, b.start, b.end, &b.term, b.role))
    });
    terms.dedup_by(|b, a| (a.field, a.start, a.end, &a.term) == (b.field, b.start, b.end, &b.term));
}

/// Up to this many matched terms, [`sort_and_dedup`] keeps, of equal terms, the one that came
/// first (the standard library sorts so few in place by insertion and by a stable small sort;
/// a test holds it to that). Past it, which of two equal terms stays is the sort's choice.
pub(crate) const FIRST_KEPT_UP_TO: usize = 32;

/// A matched term as the matcher collects it for a hit, before its label and text are copied:
/// most collected occurrences are repeats (the same list named by the query and by several
/// boosts) that the sort drops, and only the ones that stay become [`MatchedTerm`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FoundTerm {
    pub field: Field,
    pub role: Role,
    pub start: u32,
    pub end: u32,
    /// The matcher's term: each has its own label, so terms stand for label pointers.
    pub term: u32,
    /// Collected in this order, among the found terms of the hit.
    pub order: u32,
}

/// Puts found terms in [`sort_and_dedup`]'s order and drops the repeats it drops, with the
/// labels `label` gives: `found` then stands for exactly the terms [`Evidence::new`] keeps.
///
/// `first_kept` says whether the plain list of matched terms (with every repeat) was short
/// enough for the sort to keep the first of equal terms. Equal terms of two terms (one label
/// text, two scopes: `@sat` in the query, `title:(@sat)` in a boost) differ in their label
/// pointer, which the snippet's anchor counts by; when the sort would have chosen among such
/// copies, this cannot tell which it chose and returns false: the caller then builds the
/// evidence plainly.
pub(crate) fn sort_found<'l>(
    found: &mut Vec<FoundTerm>,
    label: impl Fn(u32) -> &'l str,
    first_kept: bool,
) -> bool {
    let same_label =
        |a: &FoundTerm, b: &FoundTerm| a.term == b.term || label(a.term) == label(b.term);
    found.sort_unstable_by(|a, b| {
        (a.field, a.start, a.end)
            .cmp(&(b.field, b.start, b.end))
            .then_with(|| {
                if a.term == b.term {
                    std::cmp::Ordering::Equal
                } else {
                    label(a.term).cmp(label(b.term))
                }
            })
            .then((a.role, a.order).cmp(&(b.role, b.order)))
    });
    let mut known = true;
    found.dedup_by(|b, a| {
        let equal = (a.field, a.start, a.end) == (b.field, b.start, b.end) && same_label(a, b);
        if equal && !first_kept && b.role == a.role && b.term != a.term {
            known = false;
        }
        equal
    });
    known
}

/// A matched term as the snippet reads it: where, in what role, and which term.
trait Located {
    fn field(&self) -> Field;
    fn start(&self) -> usize;
    fn end(&self) -> usize;
    fn role(&self) -> Role;
    /// The same for every occurrence of one term, and only for them.
    fn identity(&self) -> usize;
}

impl Located for MatchedTerm {
    fn field(&self) -> Field {
        self.field
    }
    fn start(&self) -> usize {
        self.start
    }
    fn end(&self) -> usize {
        self.end
    }
    fn role(&self) -> Role {
        self.role
    }
    /// Labels are shared strings: two occurrences of one term have the same pointer.
    fn identity(&self) -> usize {
        self.term.as_ptr() as usize
    }
}

impl Located for FoundTerm {
    fn field(&self) -> Field {
        self.field
    }
    fn start(&self) -> usize {
        self.start as usize
    }
    fn end(&self) -> usize {
        self.end as usize
    }
    fn role(&self) -> Role {
        self.role
    }
    fn identity(&self) -> usize {
        self.term as usize
    }
}

/// Reading order of fields when choosing where the snippet comes from: the summary says most.
fn field_preference(field: Field) -> u8 {
    match field {
        Field::Summary => 0,
        Field::Content => 1,
        Field::Title => 2,
        Field::Category => 3,
        Field::Author => 4,
        Field::Link => 5,
    }
}

/// The match with the most distinct terms around it (within half a snippet); of equals, the
/// last. `nearby` is a buffer, kept between hits.
///
/// Terms arrive sorted by field and start, so an anchor's neighbours are in its field's run
/// and end before the first term that starts out of reach.
fn best_anchor<'t, T: Located>(terms: &'t [T], nearby: &mut Vec<usize>) -> Option<&'t T> {
    let reach = SNIPPET_CHARS / 2;
    // The snippet shows why the indicator fired: a demoting term anchors it only when
    // nothing else matched.
    let supporting = terms.iter().any(|t| t.role() == Role::Supporting);
    let mut best: Option<((usize, u8, usize), &T)> = None;
    let mut field_from = 0;
    for (i, anchor) in terms.iter().enumerate() {
        if anchor.field() != terms[field_from].field() {
            field_from = i;
        }
        if supporting && anchor.role() != Role::Supporting {
            continue;
        }
        nearby.clear();
        for t in &terms[field_from..] {
            if t.field() != anchor.field() || t.start() > anchor.end() + reach {
                break;
            }
            let identity = t.identity();
            if t.end() + reach >= anchor.start() && !nearby.contains(&identity) {
                nearby.push(identity);
            }
        }
        let key = (
            nearby.len(),
            u8::MAX - field_preference(anchor.field()),
            usize::MAX - anchor.start(),
        );
        if best.is_none_or(|(best_key, _)| key >= best_key) {
            best = Some((key, anchor));
        }
    }
    best.map(|(_, anchor)| anchor)
}

fn snippet<T: Located>(item: &ItemText<'_>, terms: &[T], anchor: &T) -> Snippet {
    let field = anchor.field();
    let text = item.get(field);
    let (start, end) = window(text, anchor.start());
    let mut excerpt = String::with_capacity(end - start + 2 * ELLIPSIS.len());
    if start > 0 {
        excerpt.push_str(ELLIPSIS);
    }
    let shift = excerpt.len();
    excerpt.push_str(&text[start..end]);
    if end < text.len() {
        excerpt.push_str(ELLIPSIS);
    }
    let ranges = |role: Role| {
        let inside =
            |t: &&T| t.role() == role && t.field() == field && t.start() >= start && t.end() <= end;
        // Counted first, so that the ranges take one allocation, or none.
        let mut ranges = Vec::with_capacity(terms.iter().filter(inside).count());
        ranges.extend(
            terms
                .iter()
                .filter(inside)
                .map(|t| (t.start() - start + shift, t.end() - start + shift)),
        );
        ranges
    };
    Snippet {
        field,
        start,
        end,
        text: excerpt,
        highlights: ranges(Role::Supporting),
        demoting: ranges(Role::Demoting),
    }
}

/// A byte range of about [`SNIPPET_CHARS`] characters around `at`, cut at spaces where one is
/// close, never inside a character.
fn window(text: &str, at: usize) -> (usize, usize) {
    // Start LEAD_CHARS characters before the anchor, then take SNIPPET_CHARS characters; if
    // the text ends first, move the start back so the snippet keeps its length.
    let mut start = nth_char_back(text, at, LEAD_CHARS.saturating_sub(1)).unwrap_or(0);
    if at - start < LEAD_CHARS {
        start = 0;
    }
    let mut end = nth_char_on(text, start, SNIPPET_CHARS).unwrap_or(text.len());
    if end == text.len() {
        start = nth_char_back(text, text.len(), SNIPPET_CHARS - 1)
            .unwrap_or(0)
            .min(start);
    }
    // Prefer whole words at both ends when a space is near (within 20 bytes).
    if start > 0
        && let Some(space) = text[start..at].find(' ')
        && space < 20
    {
        start += space + 1;
    }
    let from = at.max(start);
    if end < text.len()
        && let Some(space) = text[from..end].rfind(' ')
        && end - (from + space) < 20
    {
        end = from + space;
    }
    (start, end)
}

/// Whether a byte starts a character: every byte but UTF-8's continuation bytes
/// (`0b10xx_xxxx`), which are the ones below -64 as `i8`.
#[inline]
fn starts_char(byte: u8) -> bool {
    (byte as i8) >= -64
}

/// Bytes counted a block at a time when stepping over characters: a loop over a fixed block
/// that the compiler turns into vector compares.
const CHAR_BLOCK: usize = 32;

/// `text[from..].char_indices().nth(n)`'s offset in `text`: where the character `n` characters
/// after the one at `from` starts. A snippet steps over a few hundred characters for every
/// hit, and counting character starts by blocks costs a fraction of decoding each one.
fn nth_char_on(text: &str, from: usize, n: usize) -> Option<usize> {
    let bytes = &text.as_bytes()[from..];
    // Characters still to pass: the n-th start after `from` is the (n+1)-th start counted
    // from `from` itself.
    let mut left = n + 1;
    let mut offset = 0;
    for block in bytes.chunks_exact(CHAR_BLOCK) {
        let starts = block.iter().filter(|&&b| starts_char(b)).count();
        if starts >= left {
            break;
        }
        left -= starts;
        offset += CHAR_BLOCK;
    }
    for (i, &byte) in bytes[offset..].iter().enumerate() {
        if starts_char(byte) {
            left -= 1;
            if left == 0 {
                return Some(from + offset + i);
            }
        }
    }
    None
}

/// `text[..to].char_indices().rev().nth(n)`'s offset: where the character `n + 1` characters
/// before `to` starts.
fn nth_char_back(text: &str, to: usize, n: usize) -> Option<usize> {
    let bytes = &text.as_bytes()[..to];
    let mut left = n + 1;
    let mut end = bytes.len();
    for block in bytes.rchunks_exact(CHAR_BLOCK) {
        let starts = block.iter().filter(|&&b| starts_char(b)).count();
        if starts >= left {
            break;
        }
        left -= starts;
        end -= CHAR_BLOCK;
    }
    for i in (0..end).rev() {
        if starts_char(bytes[i]) {
            left -= 1;
            if left == 0 {
                return Some(i);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_text_reads_writes_and_shows_as_the_string_it_holds() {
        // Lengths around the inline limit, in one-, two- and three-byte characters.
        let mut texts: Vec<String> = (0..=30).map(|n| "a".repeat(n)).collect();
        texts.extend((0..=15).map(|n| "ё".repeat(n)));
        texts.extend((0..=10).map(|n| "북".repeat(n)));
        texts.push("quote \" \\ and\nline".to_owned());
        for text in &texts {
            for held in [TermText::from(text.as_str()), TermText::from(text.clone())] {
                assert_eq!(held.as_str(), text);
                assert_eq!(held, *text.as_str());
                assert_eq!(format!("{held:?}"), format!("{text:?}"));
                assert_eq!(held.to_string(), *text);
                let json = serde_json::to_string(&held).expect("serialises");
                assert_eq!(json, serde_json::to_string(text).expect("serialises"));
                let back: TermText = serde_json::from_str(&json).expect("reads back");
                assert_eq!(back, held);
                assert_eq!(held.clone(), held);
            }
        }
        assert_eq!(
            std::mem::size_of::<TermText>(),
            std::mem::size_of::<String>()
        );
        assert_eq!(TermText::default().as_str(), "");
        // Stored evidence written when the text was a `String` reads the same.
        let stored = r#"{"term":"@dprk","field":"title","start":0,"end":6,"text":"북한","role":"supporting"}"#;
        let term: MatchedTerm = serde_json::from_str(stored).expect("reads");
        assert_eq!(term.text, "북한");
        assert_eq!(serde_json::to_string(&term).expect("writes"), stored);
    }

    /// The plain definitions the block counting must agree with.
    fn nth_char_on_plain(text: &str, from: usize, n: usize) -> Option<usize> {
        text[from..].char_indices().nth(n).map(|(i, _)| from + i)
    }

    fn nth_char_back_plain(text: &str, to: usize, n: usize) -> Option<usize> {
        text[..to].char_indices().rev().nth(n).map(|(i, _)| i)
    }

    fn check_char_steps(text: &str) {
        let boundaries: Vec<usize> = (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .collect();
        let chars = text.chars().count();
        // Every count on short texts; on long ones, those around the block size and the
        // counts a snippet uses.
        let counts: Vec<usize> = if chars <= 2 * CHAR_BLOCK + 4 {
            (0..=chars + 1).collect()
        } else {
            [0, 1, 2, 31, 32, 33, 63, 64, 65, chars - 1, chars, chars + 1].to_vec()
        };
        for &at in &boundaries {
            for n in
                counts
                    .iter()
                    .copied()
                    .chain([LEAD_CHARS - 1, SNIPPET_CHARS - 1, SNIPPET_CHARS])
            {
                assert_eq!(
                    nth_char_on(text, at, n),
                    nth_char_on_plain(text, at, n),
                    "on from {at}, n {n}, {text:?}"
                );
                assert_eq!(
                    nth_char_back(text, at, n),
                    nth_char_back_plain(text, at, n),
                    "back from {at}, n {n}, {text:?}"
                );
            }
        }
    }

    #[test]
    fn stepping_over_characters_by_blocks_agrees_with_decoding_them() {
        // Every length around the block size, in one-, two-, three- and four-byte characters
        // and their mixtures, so that each block edge falls before, inside and after a
        // character.
        let alphabet = ["a", " ", "é", "ж", "북", "語", "😀", "\u{200f}", "\n"];
        for len in 0..=(2 * CHAR_BLOCK + 3) {
            for shift in 0..alphabet.len() {
                let text: String = (0..len)
                    .map(|i| alphabet[(i * (shift + 1) + shift) % alphabet.len()])
                    .collect();
                check_char_steps(&text);
            }
        }
        // Pseudo-random text of every character width, longer than a snippet.
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..20 {
            let text: String = (0..300)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let pick = alphabet[(state % alphabet.len() as u64) as usize];
                    pick.to_owned()
                })
                .collect();
            check_char_steps(&text);
        }
    }

    /// A xorshift generator: the same hostile layouts on every run.
    struct Random(u64);

    impl Random {
        fn below(&mut self, bound: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % bound as u64) as usize
        }
    }

    /// Five labels, the first two pairs of one text each, as two scopes of one term give.
    fn labels() -> Vec<Arc<str>> {
        [
            "@sat: satellite",
            "@sat: satellite",
            "launch*",
            "launch*",
            "북한*",
        ]
        .into_iter()
        .map(Arc::from)
        .collect()
    }

    /// Found terms crowded onto few places of the title and the summary, so that many are
    /// equal; their ranges on character boundaries of `item`.
    fn crowded(random: &mut Random, len: usize, spread: usize, item: &ItemText) -> Vec<FoundTerm> {
        (0..len)
            .map(|order| {
                let field = [Field::Title, Field::Summary][random.below(2)];
                let text = item.get(field);
                let boundary = |mut at: usize| {
                    while !text.is_char_boundary(at) {
                        at += 1;
                    }
                    at
                };
                let start = boundary(random.below(spread) * 7);
                let end = boundary(start + 1 + random.below(2) * 5);
                FoundTerm {
                    field,
                    role: [Role::Supporting, Role::Demoting][random.below(2)],
                    start: start as u32,
                    end: end as u32,
                    term: random.below(5) as u32,
                    order: order as u32,
                }
            })
            .collect()
    }

    /// The matched terms found terms stand for, each one's text naming its place in the list,
    /// so that a comparison says which of equal copies stayed.
    fn matched(found: &[FoundTerm], labels: &[Arc<str>]) -> Vec<MatchedTerm> {
        found
            .iter()
            .map(|f| MatchedTerm {
                term: labels[f.term as usize].clone(),
                field: f.field,
                start: f.start as usize,
                end: f.end as usize,
                text: f.order.to_string().into(),
                role: f.role,
            })
            .collect()
    }

    #[test]
    fn up_to_the_limit_the_sort_keeps_the_first_of_equal_terms() {
        // The short path of the matcher's evidence relies on this: if the standard library's
        // sort changes, this says so before any evidence does.
        let labels = labels();
        let item = ItemText {
            title: "North Korea launches a satellite",
            summary: "Pyongyang said the satellite reached orbit",
            ..ItemText::default()
        };
        let mut random = Random(0x2545_F491_4F6C_DD1D);
        for len in 1..=FIRST_KEPT_UP_TO {
            for _ in 0..300 {
                let terms = matched(&crowded(&mut random, len, 4, &item), &labels);
                let mut sorted = terms.clone();
                sort_and_dedup(&mut sorted);
                let mut stable = terms;
                stable.sort_by(|a, b| {
                    (a.field, a.start, a.end, &a.term, a.role)
                        .cmp(&(b.field, b.start, b.end, &b.term, b.role))
                });
                stable.dedup_by(|b, a| {
                    (a.field, a.start, a.end, &a.term) == (b.field, b.start, b.end, &b.term)
                });
                assert_eq!(sorted, stable, "{len} terms");
                for (kept, first) in sorted.iter().zip(&stable) {
                    assert!(Arc::ptr_eq(&kept.term, &first.term), "{len} terms");
                }
            }
        }
    }

    /// The anchor as its definition reads, written apart from the matcher's loop: the
    /// supporting match (any match, when none supports) with the most distinct terms within
    /// reach, then in the preferred field, then starting first; `max_by_key` gives the last
    /// of equals, as the definition does.
    fn plain_anchor<T: Located>(terms: &[T]) -> Option<usize> {
        let reach = SNIPPET_CHARS / 2;
        let supporting = terms.iter().any(|t| t.role() == Role::Supporting);
        let distinct_near = |anchor: &T| {
            let mut near: Vec<usize> = terms
                .iter()
                .filter(|t| t.field() == anchor.field())
                .filter(|t| t.start() <= anchor.end() + reach && t.end() + reach >= anchor.start())
                .map(Located::identity)
                .collect();
            near.sort_unstable();
            near.dedup();
            near.len()
        };
        terms
            .iter()
            .enumerate()
            .filter(|(_, anchor)| !supporting || anchor.role() == Role::Supporting)
            .max_by_key(|(_, anchor)| {
                (
                    distinct_near(anchor),
                    u8::MAX - field_preference(anchor.field()),
                    usize::MAX - anchor.start(),
                )
            })
            .map(|(i, _)| i)
    }

    /// An item whose fields hold terms of three scripts over and over, for [`crowded`].
    fn with_crowded_item(test: impl FnOnce(&ItemText<'_>)) {
        let title =
            "North Korea satellite launch window opens as officials watch the pad ".repeat(8);
        let summary = "위성 발사 북한 спутник запуск, and a satellite again. ".repeat(12);
        test(&ItemText {
            title: &title,
            summary: &summary,
            ..ItemText::default()
        });
    }

    #[test]
    fn the_snippet_anchor_is_the_match_with_most_distinct_terms_in_reach() {
        with_crowded_item(anchors_are_chosen_as_defined);
    }

    fn anchors_are_chosen_as_defined(item: &ItemText<'_>) {
        let mut random = Random(0x2545_F491_4F6C_DD1D);
        let mut nearby = Vec::new();
        let mut compared = 0;
        for len in 0..=48 {
            for spread in [1, 3, 8, 30, 70] {
                for _ in 0..10 {
                    let mut found = crowded(&mut random, len, spread, item);
                    // Identities from a wider range than `crowded` gives: up to one a term.
                    for f in &mut found {
                        f.term = random.below(len.max(1) * 2) as u32;
                    }
                    found.sort_unstable_by_key(|f| (f.field, f.start, f.end, f.term, f.role));
                    // The buffer is kept between calls, as between hits.
                    let chosen = best_anchor(&found, &mut nearby)
                        .map(|anchor| std::ptr::from_ref(anchor) as usize);
                    let plain =
                        plain_anchor(&found).map(|i| std::ptr::from_ref(&found[i]) as usize);
                    assert_eq!(chosen, plain, "{len} terms, spread {spread}: {found:?}");
                    compared += 1;
                }
            }
        }
        assert_eq!(compared, 49 * 5 * 10);
    }

    #[test]
    fn found_terms_make_the_evidence_their_matched_terms_make() {
        with_crowded_item(found_terms_make_what_matched_terms_make);
    }

    fn found_terms_make_what_matched_terms_make(item: &ItemText<'_>) {
        let labels = labels();
        let mut random = Random(0x9E37_79B9_7F4A_7C15);
        let mut nearby = Vec::new();
        let (mut short, mut undecided) = (0, 0);
        for len in 0..=(2 * FIRST_KEPT_UP_TO) {
            for spread in [1, 3, 8, 30, 70] {
                for _ in 0..40 {
                    let collected = crowded(&mut random, len, spread, item);
                    let plain = Evidence::new(matched(&collected, &labels), item);
                    let mut found = collected.clone();
                    let first_kept = len <= FIRST_KEPT_UP_TO;
                    let known = sort_found(&mut found, |t| &*labels[t as usize], first_kept);
                    if !known {
                        // Only past the limit, and only when copies of two terms tie.
                        assert!(!first_kept);
                        undecided += 1;
                        continue;
                    }
                    let evidence =
                        Evidence::from_found(&found, |t| &labels[t as usize], item, &mut nearby);
                    // The texts name the copies: the ones that stayed are the same.
                    let named = |e: &Evidence| -> Vec<(Field, usize, usize, Role, usize)> {
                        e.terms
                            .iter()
                            .map(|t| (t.field, t.start, t.end, t.role, t.term.as_ptr() as usize))
                            .collect()
                    };
                    let kept: Vec<String> = found.iter().map(|f| f.order.to_string()).collect();
                    let plain_kept: Vec<&str> =
                        plain.terms.iter().map(|t| t.text.as_str()).collect();
                    // Past the limit, which of two copies of one term stays is the sort's
                    // choice, and the copies are the same but for these names.
                    if first_kept {
                        assert_eq!(
                            kept.iter().map(String::as_str).collect::<Vec<_>>(),
                            plain_kept,
                            "{len}/{spread}"
                        );
                    }
                    assert_eq!(named(&evidence), named(&plain), "{len} / {spread}");
                    assert_eq!(evidence.snippet, plain.snippet, "{len} / {spread}");
                    short += 1;
                }
            }
        }
        assert!(short > 1000 && undecided > 0, "{short} / {undecided}");
    }

    #[test]
    fn evidence_reads_back_as_written_and_in_every_older_shape() {
        let item = ItemText {
            title: "North Korea launches a satellite",
            ..ItemText::default()
        };
        let written = Evidence::new(
            vec![MatchedTerm {
                term: Arc::from("launch*"),
                field: Field::Title,
                start: 12,
                end: 20,
                text: "launches".into(),
                role: Role::Supporting,
            }],
            &item,
        );
        let json = serde_json::to_string(&written).expect("json");
        assert!(json.contains("\"v\":1"), "{json}");
        assert_eq!(Evidence::from_stored(&json).expect("reads"), written);

        // Before versions, roles, demoting ranges and score breakdowns.
        let oldest = r#"{"terms":[{"term":"launch*","field":"title","start":12,"end":20}],
            "snippet":{"field":"title","start":0,"end":32,"text":"North Korea launches a satellite"}}"#;
        let read = Evidence::from_stored(oldest).expect("an old row reads");
        assert_eq!(read.version, 0);
        assert_eq!(read.terms[0].role, Role::Supporting);
        assert!(read.score.is_none());
        assert!(read.snippet.expect("snippet").highlights.is_empty());
    }

    #[test]
    fn unreadable_or_newer_evidence_is_an_error_not_an_empty_reading() {
        for broken in ["", "not json", "{\"terms\": 3}", "[]"] {
            assert!(
                matches!(
                    Evidence::from_stored(broken),
                    Err(EvidenceError::Invalid(_))
                ),
                "{broken:?}"
            );
        }
        let newer = r#"{"v":99,"terms":[],"snippet":null}"#;
        let error = Evidence::from_stored(newer).expect_err("newer");
        assert!(matches!(error, EvidenceError::TooNew(99)), "{error}");
        assert!(
            error.to_string().contains("newer than this watchfloor"),
            "{error}"
        );
    }
}
