//! Where a field's sentences and list entries end, so that `NEAR` keeps to one of them.
//!
//! A wire briefing strings unrelated stories together ("Missile test in the North. Russia
//! ships grain to Africa."), and a headline may list several ("… / … / …", "▲… ▲…"): words
//! of two stories are often a few words apart, and a `NEAR` that reached across would join
//! them. The normaliser's stream keeps no punctuation, so a break is read from the display
//! text between two words, and only for the words a `NEAR` found within its distance: most
//! items never need one, and an item's gaps are each read once at most.

use std::cell::Cell;

use super::{Analyzed, Field};

/// The breaks between an item's words, read a gap at a time as `NEAR` asks and kept for the
/// item. Reused between items.
#[derive(Clone, Debug, Default)]
pub struct Breaks {
    /// Per token, whether a break follows it: [`UNREAD`], [`NO_BREAK`] or [`BREAK`]. Cells,
    /// since the answers are filled in while the matcher holds the item's text shared.
    after: Vec<Cell<u8>>,
    /// Whether the title's commas separate a list: [`UNREAD`], [`NO_BREAK`] or [`BREAK`].
    title_list: Cell<u8>,
}

const UNREAD: u8 = 0;
const NO_BREAK: u8 = 1;
const BREAK: u8 = 2;

impl Breaks {
    /// Forgets the previous item's answers, for an item of `tokens` words.
    pub fn reset(&mut self, tokens: usize) {
        self.after.clear();
        self.after.resize(tokens, Cell::new(UNREAD));
        self.title_list.set(UNREAD);
    }

    /// Whether a sentence or list entry ends anywhere between token `last` and token `first`
    /// (`last < first`, both in `field`, whose display text is `text`).
    pub fn between(
        &self,
        analyzed: &Analyzed,
        field: Field,
        text: &str,
        last: u32,
        first: u32,
    ) -> bool {
        (last..first).any(|t| self.after_token(analyzed, field, text, t))
    }

    fn after_token(&self, analyzed: &Analyzed, field: Field, text: &str, t: u32) -> bool {
        let Some(known) = self.after.get(t as usize) else {
            return false;
        };
        match known.get() {
            NO_BREAK => return false,
            BREAK => return true,
            _ => {}
        }
        let (Some(word), Some(next)) = (
            analyzed.tokens.get(t as usize),
            analyzed.tokens.get(t as usize + 1),
        ) else {
            return false;
        };
        let (word_end, next_start) = (word.disp_end as usize, next.disp_start as usize);
        let gap = text.get(word_end..next_start).unwrap_or("");
        // Most gaps are empty (between two Chinese characters), a space, or a comma and a
        // space: a byte no break starts with rules them out without decoding them.
        let breaks = gap.bytes().any(|b| GAP_BYTES[b as usize] != 0) && {
            let word = text.get(word.disp_start as usize..word_end).unwrap_or("");
            ends_segment(word, gap)
                || (field == Field::Title && is_list_comma(gap) && self.title_is_list(text))
        };
        known.set(if breaks { BREAK } else { NO_BREAK });
        breaks
    }

    /// Whether the title `text` lists stories with its commas, read once per item.
    fn title_is_list(&self, text: &str) -> bool {
        if self.title_list.get() == UNREAD {
            let list = list_commas(text) >= 2;
            self.title_list.set(if list { BREAK } else { NO_BREAK });
        }
        self.title_list.get() == BREAK
    }
}

/// The bytes a break between two words can start with: the ASCII breaks, the comma of a
/// headline's list, and any byte of a character outside ASCII (decoded to be told).
const GAP_BYTES: [u8; 256] = {
    let mut table = [0u8; 256];
    let breaks = b".!?;|/\n,";
    let mut i = 0;
    while i < breaks.len() {
        table[breaks[i] as usize] = 1;
        i += 1;
    }
    let mut b = 0x80;
    while b < 256 {
        table[b] = 1;
        b += 1;
    }
    table
};

/// Whether the text `gap`, between the word `word` and the next, ends a sentence or a list
/// entry.
///
/// Breaks: `!`, `?`, `;` and their full-width forms, the ideographic full stop, the bars and
/// slashes and bullets that headlines list stories with (`|`, `/`, `▲`, `■`, `•`, …; a slash
/// glued to a number is a date or a ratio, not a list), a blank line, and a full stop
/// followed by a space, unless the word before it is an initial ("N. Korea"), a number of one
/// or two digits (the German ordinal "am 5. Mai") or a common abbreviation ("Gen.", "млн.").
/// A run of full stops is an ellipsis, which joins as often as it separates: no break.
fn ends_segment(word: &str, gap: &str) -> bool {
    let bytes = gap.as_bytes();
    let mut chars = gap.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '!' | '?' | ';' | '|' | '。' | '！' | '？' | '；' | '｜' | '／' | '¦' => {
                return true;
            }
            '▲' | '△' | '▶' | '▷' | '►' | '■' | '□' | '◆' | '◇' | '●' | '•' | '◎' | '☞' =>
            {
                return true;
            }
            // A slash glued to a number is a date or a ratio ("12/06", "24/7").
            '/' if !(ends_with_digit(word) && gap.len() == 1) => return true,
            '\n' if gap[at + 1..].contains('\n') => return true,
            '.' => {
                if chars.peek().is_some_and(|&(_, next)| next == '.')
                    || (at > 0 && bytes[at - 1] == b'.')
                {
                    // An ellipsis.
                    continue;
                }
                let rest = &gap[at + 1..];
                let spaced = rest
                    .trim_start_matches(['"', '\'', '”', '’', '»', ')', ']'])
                    .starts_with(char::is_whitespace);
                // After a closing quote or bracket (`at > 0`) a full stop ends the sentence
                // whatever the word was.
                if spaced && (at > 0 || !abbreviation(word)) {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// Whether the gap `gap` after the word `word`, in the display text `text` of a `field`,
/// ends a sentence or a list entry: what [`Breaks`] decides, without its shortcuts or its
/// memory (the plain reference it is checked against).
#[cfg(test)]
pub(crate) fn gap_ends_segment(field: Field, text: &str, word: &str, gap: &str) -> bool {
    ends_segment(word, gap)
        || (field == Field::Title && list_commas(text) >= 2 && is_list_comma(gap))
}

/// The commas of `text` that can separate entries of a list: followed by a space (not
/// inside a number, "1,000"), or full-width. The Japanese enumeration comma "、" is left
/// out: headlines set their subject off with it and list nouns with it.
fn list_commas(text: &str) -> usize {
    text.matches(", ").count() + text.matches('，').count()
}

fn is_list_comma(gap: &str) -> bool {
    list_commas(gap) > 0
}

fn ends_with_digit(word: &str) -> bool {
    word.as_bytes().last().is_some_and(u8::is_ascii_digit)
}

/// Words that a full stop follows inside a sentence: initials, short numbers and common
/// abbreviations of the languages the rules are written in. Kept short on purpose: a missed
/// abbreviation only narrows a `NEAR` that spans it.
fn abbreviation(word: &str) -> bool {
    let mut chars = word.chars();
    match (chars.next(), chars.next()) {
        (None, _) => return true,
        // An initial.
        (Some(_), None) => return true,
        _ => {}
    }
    if word.len() <= 2 && word.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    // The longest abbreviation is eight bytes ("млрд"): a longer word is none, and is not
    // lowered.
    if word.len() > 8 {
        return false;
    }
    matches!(
        word.to_lowercase().as_str(),
        // English
        "mr" | "mrs" | "ms" | "dr" | "gen" | "lt" | "col" | "maj" | "sgt" | "capt" | "adm"
            | "gov" | "sen" | "rep" | "prof" | "st" | "jr" | "sr" | "vs" | "no" | "nos" | "co"
            | "corp" | "inc" | "ltd" | "dept" | "approx" | "jan" | "feb" | "mar" | "apr"
            | "jun" | "jul" | "aug" | "sep" | "sept" | "oct" | "nov" | "dec"
            // German
            | "nr" | "bzw" | "vgl" | "ca" | "mio" | "mrd" | "abs" | "str" | "evtl" | "inkl"
            // French, Spanish, Portuguese, Italian
            | "mme" | "mlle" | "ee" | "uu" | "sra" | "srta" | "núm" | "sig" | "dott" | "av"
            // Russian and Ukrainian
            | "тыс" | "млн" | "млрд" | "руб" | "ул" | "им" | "див" | "тис" | "грн" | "гг" | "рр"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every token that starts a sentence or list entry after its field's first, as
    /// [`Breaks`] answers gap by gap.
    fn segment_starts<'a>(analyzed: &Analyzed, display: impl Fn(Field) -> &'a str) -> Vec<u32> {
        let mut breaks = Breaks::default();
        breaks.reset(analyzed.tokens.len());
        let mut starts = Vec::new();
        for run in &analyzed.fields {
            for t in run.first_token + 1..run.end_token {
                if breaks.between(analyzed, run.field, display(run.field), t - 1, t) {
                    starts.push(t);
                }
            }
        }
        starts
    }

    #[test]
    fn sentence_ends_and_list_separators_break_and_the_rest_does_not() {
        let cases: &[(&str, &str, bool)] = &[
            ("launched", " ", false),
            ("launched", ", ", false),
            ("launched", ". ", true),
            ("launched", ".\n", true),
            ("launched", ".\" ", true),
            ("launched", "! ", true),
            ("launched", "? ", true),
            ("launched", "; ", true),
            ("发射", "。", true),
            ("発射", "！", true),
            ("참전", "/", true),
            ("参战", "／", true),
            ("도착", " ▲", true),
            ("news", " | ", true),
            ("news", " • ", true),
            ("para", "\n\n", true),
            ("wrapped", "\n", false),
            // Initials, ordinals and abbreviations keep the sentence going.
            ("N", ". ", false),
            ("г", ". ", false),
            ("5", ". ", false),
            ("Gen", ". ", false),
            ("млн", ". ", false),
            // A year ends a sentence as often as any word.
            ("2023", ". ", true),
            // No space after the stop: "U.S", "3.5", "example.com".
            ("U", ".", false),
            ("example", ".", false),
            // A slash between numbers, an ellipsis.
            ("12", "/", false),
            ("12", " / ", true),
            ("Korea", "... ", false),
            ("Korea", "… ", false),
            ("Korea", " - ", false),
            ("Korea", ": ", false),
        ];
        for &(word, gap, expected) in cases {
            assert_eq!(ends_segment(word, gap), expected, "{word:?} then {gap:?}");
        }
    }

    #[test]
    fn segment_starts_lists_the_first_word_of_each_sentence_after_the_first() {
        let mut analyzed = Analyzed::default();
        let title = "Nordkorea testet Rakete, Weizen für Afrika / Hilfe aus Seoul";
        let summary =
            "Pjöngjang feuerte am 5. Mai. Russland liefert Weizen... nach Afrika. Gen. Kim";
        analyzed.push_field(Field::Title, title);
        analyzed.push_field(Field::Summary, summary);
        let starts = segment_starts(&analyzed, |field| match field {
            Field::Title => title,
            _ => summary,
        });
        let words: Vec<&str> = starts
            .iter()
            .map(|&t| {
                let token = &analyzed.tokens[t as usize];
                &analyzed.norm[token.norm_start as usize..token.norm_end as usize]
            })
            .map(|w| std::str::from_utf8(w).expect("utf-8"))
            .collect();
        // The summary's first word starts its field, not a segment of the list. The title's
        // one comma is a clause's.
        assert_eq!(words, ["hilfe", "russland", "gen"]);
    }

    #[test]
    fn a_headline_with_two_commas_lists_stories_and_one_comma_does_not() {
        let starts_of = |title: &str| {
            let mut analyzed = Analyzed::default();
            analyzed.push_field(Field::Title, title);
            segment_starts(&analyzed, |_| title)
        };
        // "briefing: missile test in the North | wheat for Africa | aid from Seoul"
        assert_eq!(
            starts_of("Briefing: missile test in the North, wheat for Africa, aid from Seoul"),
            [6, 9]
        );
        assert_eq!(
            starts_of("【要闻】朝鲜试射导弹，俄罗斯小麦运往埃及，韩国援助"),
            [8, 17]
        );
        assert!(starts_of("北, 러시아에 노동자 파견").is_empty());
        assert!(starts_of("Russia ships 1,000,000 tonnes of oil, report says").is_empty());
        // A summary is prose: its commas are never breaks.
        let mut analyzed = Analyzed::default();
        let summary = "Missiles, wheat, aid and more";
        analyzed.push_field(Field::Summary, summary);
        assert!(segment_starts(&analyzed, |_| summary).is_empty());
    }

    #[test]
    fn hostile_gaps_are_read_once_and_answered() {
        // Long gaps of quotes, stops and newlines between many words: every gap is read at
        // most once per item, and a pair far apart reads only the gaps between its words.
        let gap = format!(".{}\n{}", "'".repeat(10_000), " ".repeat(10_000));
        let title: String = (0..200).map(|i| format!("w{i}{gap}")).collect();
        let mut analyzed = Analyzed::default();
        analyzed.push_field(Field::Title, &title);
        assert_eq!(analyzed.tokens.len(), 200);
        let mut breaks = Breaks::default();
        breaks.reset(analyzed.tokens.len());
        // A stop after quotes, then a space: each is a sentence end.
        for t in 1..200 {
            assert!(breaks.between(&analyzed, Field::Title, &title, t - 1, t));
        }
        assert!(breaks.between(&analyzed, Field::Title, &title, 0, 199));
        let repeated = "word ".repeat(100_000) + &"，".repeat(100_000);
        let mut analyzed = Analyzed::default();
        analyzed.push_field(Field::Title, &repeated);
        breaks.reset(analyzed.tokens.len());
        assert!(!breaks.between(&analyzed, Field::Title, &repeated, 0, 99_999));
    }
}
