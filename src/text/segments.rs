//! Where a field's sentences and list entries end, so that `NEAR` keeps to one of them.
//!
//! A wire briefing strings unrelated stories together ("Missile test in the North. Russia
//! ships grain to Africa."), and a headline may list several ("… / … / …", "▲… ▲…"): words
//! of two stories are often a few words apart, and a `NEAR` that reached across would join
//! them. The breaks are found only for an item that needs them (a `NEAR` with both sides
//! present), from the display text between consecutive words, since the normaliser's stream
//! keeps no punctuation.

use super::{Analyzed, Field};

/// Appends to `out`, in order, every token of `analyzed` that starts a new sentence or list
/// entry of its field (see [`ends_segment`]; in a title, also each comma of a list of three
/// or more) (a field's first token starts one anyway and is not listed). `display`
/// gives each field's display text, the one its tokens' display offsets refer to.
///
/// Linear in the fields' text: each gap between two words is read once.
pub fn segment_starts<'a>(
    analyzed: &Analyzed,
    display: impl Fn(Field) -> &'a str,
    out: &mut Vec<u32>,
) {
    for run in &analyzed.fields {
        let text = display(run.field);
        // A headline with two commas or more lists stories ("Missile test in the North,
        // wheat for Africa, aid from Seoul"); one comma is most often a clause, or the
        // subject set off as Korean headlines do ("北, 러시아에 …").
        let comma_list = run.field == Field::Title && list_commas(text) >= 2;
        for t in run.first_token + 1..run.end_token {
            let before = &analyzed.tokens[t as usize - 1];
            let after = &analyzed.tokens[t as usize];
            let (word_end, next_start) = (before.disp_end as usize, after.disp_start as usize);
            // Most gaps are one space: nothing to read.
            if next_start == word_end + 1 && text.as_bytes().get(word_end) == Some(&b' ') {
                continue;
            }
            let word = text.get(before.disp_start as usize..word_end).unwrap_or("");
            let gap = text.get(word_end..next_start).unwrap_or("");
            if ends_segment(word, gap) || (comma_list && is_list_comma(gap)) {
                out.push(t);
            }
        }
    }
}

/// Whether the text `gap`, between the word `word` and the next, ends a sentence or a list
/// entry.
///
/// Breaks: `!`, `?`, `;` and their full-width forms, the ideographic full stop, the bars and
/// slashes and bullets that headlines list stories with (`|`, `/`, `▲`, `■`, `•`, …; a slash
/// glued to a number is a date or a ratio, not a list), a blank line, and a full stop
/// followed by a space, unless the word before it is an initial ("N. Korea"), a number of one
/// or two digits (the German ordinal "am 5. Mai") or a common abbreviation ("Gen.", "млн.").
/// A run of full stops is an ellipsis, which joins as often as it separates: no break.
pub fn ends_segment(word: &str, gap: &str) -> bool {
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
                let spaced = rest.starts_with(char::is_whitespace)
                    || rest
                        .trim_start_matches(['"', '\'', '”', '’', '»', ')', ']'])
                        .starts_with(char::is_whitespace);
                if spaced && at == 0 && !abbreviation(word) {
                    return true;
                }
                if spaced && at > 0 {
                    // A full stop after a closing quote or bracket ends the sentence whatever
                    // the word was.
                    return true;
                }
            }
            _ => {}
        }
    }
    false
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
    const ABBREVIATIONS: &[&str] = &[
        // English
        "mr", "mrs", "ms", "dr", "gen", "lt", "col", "maj", "sgt", "capt", "adm", "gov", "sen",
        "rep", "prof", "st", "jr", "sr", "vs", "no", "nos", "co", "corp", "inc", "ltd", "dept",
        "approx", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
        "dec", // German
        "nr", "bzw", "vgl", "ca", "mio", "mrd", "abs", "str", "evtl", "inkl",
        // French, Spanish, Portuguese, Italian
        "mme", "mlle", "ee", "uu", "sra", "srta", "núm", "sig", "dott", "av",
        // Russian and Ukrainian
        "тыс", "млн", "млрд", "руб", "ул", "им", "див", "тис", "грн", "гг", "рр",
    ];
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
    let lower = word.to_lowercase();
    ABBREVIATIONS.contains(&lower.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut starts = Vec::new();
        segment_starts(
            &analyzed,
            |field| {
                if field == Field::Title {
                    title
                } else {
                    summary
                }
            },
            &mut starts,
        );
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
            let mut starts = Vec::new();
            segment_starts(&analyzed, |_| title, &mut starts);
            starts
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
        let mut starts = Vec::new();
        segment_starts(&analyzed, |_| summary, &mut starts);
        assert!(starts.is_empty());
    }
}
