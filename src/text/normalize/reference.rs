//! The normaliser's pass written plainly, one character at a time: what the block-at-a-time
//! pass of [`super::Analyzed::push_field_with`] must give, byte for byte, and the tests that
//! hold it to that on real, random and hostile text.

use super::{Analyzed, FieldRun, WordWriter, fold_char, fold_table};
use crate::text::Field;
use crate::text::lang::ScriptTally;

/// [`Analyzed::push_field`] one character at a time; with `census`, the characters that end
/// within its byte limit are counted into its tally as [`Analyzed::push_field_counting`] does.
pub(super) fn push_field(
    out: &mut Analyzed,
    field: Field,
    display: &str,
    mut census: Option<(&mut ScriptTally, usize)>,
) {
    if display.is_empty() {
        return;
    }
    if !out.norm.is_empty() {
        out.norm.push(b'\n');
    }
    let norm_start = out.norm.len() as u32;
    let first_token = out.tokens.len() as u32;
    let mut words = WordWriter {
        out,
        first_token,
        current: None,
    };
    let table = fold_table();
    for (start, c) in display.char_indices() {
        let end = start + c.len_utf8();
        if let Some((tally, limit)) = census.as_mut()
            && end <= *limit
        {
            if c.is_ascii() {
                tally.ascii_counts(
                    u32::from(c.is_ascii_alphabetic()),
                    u32::from(c.is_ascii_uppercase()),
                );
            } else {
                tally.char(c as u32);
            }
        }
        if c.is_ascii_alphanumeric() {
            words.letter(start, end, c.to_ascii_lowercase());
        } else if c.is_ascii() {
            words.separator();
        } else {
            fold_char(c, &mut words, table, start, end);
        }
    }
    words.separator();
    let end_token = out.tokens.len() as u32;
    if end_token == first_token {
        out.norm.truncate(norm_start as usize);
        if out.norm.ends_with(b"\n") {
            out.norm.pop();
        }
        return;
    }
    out.fields.push(FieldRun {
        field,
        first_token,
        end_token,
        norm_start,
        norm_end: out.norm.len() as u32,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::lang::{SAMPLE_BYTES, TITLE_BYTES};

    /// Runs `display` through both passes as the second field of an item (so that the field
    /// separator and offsets past the first field are exercised), counting its first `limit`
    /// bytes, then again uncounted as a third field, and compares everything they produce.
    fn assert_same(display: &str, limit: usize) {
        let lead = "Lead-in ДПРК";
        let mut fast = Analyzed::default();
        let mut fast_tally = ScriptTally::default();
        fast.push_field_counting(Field::Title, lead, &mut fast_tally, TITLE_BYTES);
        fast.push_field_counting(Field::Summary, display, &mut fast_tally, limit);
        fast.push_field(Field::Content, display);

        let mut plain = Analyzed::default();
        let mut plain_tally = ScriptTally::default();
        push_field(
            &mut plain,
            Field::Title,
            lead,
            Some((&mut plain_tally, TITLE_BYTES)),
        );
        push_field(
            &mut plain,
            Field::Summary,
            display,
            Some((&mut plain_tally, limit)),
        );
        push_field(&mut plain, Field::Content, display, None);

        let shown = || {
            let cut = display
                .char_indices()
                .nth(80)
                .map_or(display.len(), |(i, _)| i);
            format!("{:?} (limit {limit})", &display[..cut])
        };
        if fast.norm != plain.norm {
            let at = fast
                .norm
                .iter()
                .zip(&plain.norm)
                .position(|(a, b)| a != b)
                .unwrap_or(fast.norm.len().min(plain.norm.len()));
            panic!(
                "norm differs at byte {at}: {:?} vs {:?} for {}",
                String::from_utf8_lossy(&fast.norm[at.saturating_sub(20)..]),
                String::from_utf8_lossy(&plain.norm[at.saturating_sub(20)..]),
                shown()
            );
        }
        // The fast pass lists its one-character Chinese and Japanese words as it makes them:
        // exactly the tokens that are such a character.
        let unspaced: Vec<u32> = (0..fast.tokens.len() as u32)
            .filter(|&t| {
                let token = fast.tokens[t as usize];
                super::super::is_unspaced_word(
                    &fast.norm[token.norm_start as usize..token.norm_end as usize],
                )
            })
            .collect();
        assert_eq!(
            fast.unspaced_tokens,
            unspaced,
            "unspaced tokens for {}",
            shown()
        );
        if fast.tokens != plain.tokens {
            let at = fast
                .tokens
                .iter()
                .zip(&plain.tokens)
                .position(|(a, b)| a != b);
            panic!(
                "tokens differ at {at:?} ({} vs {} tokens) for {}",
                fast.tokens.len(),
                plain.tokens.len(),
                shown()
            );
        }
        assert_eq!(fast.fields, plain.fields, "field runs for {}", shown());
        assert_eq!(fast_tally, plain_tally, "census for {}", shown());
    }

    /// Every limit the census meets in use, and ones that cut characters apart.
    fn assert_same_at_limits(display: &str) {
        for limit in [
            0,
            1,
            2,
            3,
            63,
            64,
            65,
            TITLE_BYTES,
            SAMPLE_BYTES,
            usize::MAX,
        ] {
            assert_same(display, limit);
        }
    }

    /// xorshift64: reproducible random text without a crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn shared(path: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared")
            .join(path)
    }

    #[test]
    fn the_feed_corpus_normalises_as_the_plain_pass_does() {
        let dir = shared("corpus/feeds");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!("skipped: no feed corpus at {}", dir.display());
            return;
        };
        let mut files = 0;
        for entry in entries {
            let path = entry.expect("corpus entry").path();
            let bytes = std::fs::read(&path).expect("corpus file");
            let text = String::from_utf8_lossy(&bytes);
            // The whole file (markup and all), its display text, and item-sized pieces cut at
            // arbitrary character boundaries.
            assert_same(&text, TITLE_BYTES);
            assert_same(&text, usize::MAX);
            assert_same(&crate::text::html_to_text(&text), SAMPLE_BYTES);
            let mut start = 0;
            let mut rng = Rng(0x5EED ^ bytes.len() as u64);
            while start < text.len() {
                let mut end = (start + 200 + rng.below(600)).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                let limit = [TITLE_BYTES, SAMPLE_BYTES][files % 2];
                assert_same(&text[start..end], limit);
                start = end;
            }
            files += 1;
        }
        assert!(files > 0, "{} holds no files", dir.display());
    }

    #[test]
    fn the_labelled_news_normalises_as_the_plain_pass_does() {
        let path = shared("labelled/news_dev.jsonl");
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("skipped: no labelled set at {}", path.display());
            return;
        };
        let mut items = 0;
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let item: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            for key in ["title", "summary"] {
                if let Some(field) = item.get(key).and_then(|v| v.as_str()) {
                    assert_same_at_limits(field);
                }
            }
            items += 1;
        }
        assert!(items > 300, "{}: only {items} items", path.display());
    }

    #[test]
    fn random_bytes_made_utf8_normalise_as_the_plain_pass_does() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..3000 {
            let len = rng.below(300);
            let bytes: Vec<u8> = (0..len)
                .map(|_| match round % 3 {
                    // Any byte at all: mostly invalid sequences, replaced.
                    0 => rng.next() as u8,
                    // Mostly ASCII, with lead and continuation bytes thrown in.
                    1 => match rng.below(10) {
                        0 => 0x80 | rng.next() as u8,
                        1 => b' ',
                        _ => b'0' + rng.below(0x4F) as u8,
                    },
                    // ASCII alone, every byte value below 0x80.
                    _ => rng.below(0x80) as u8,
                })
                .collect();
            assert_same_at_limits(&String::from_utf8_lossy(&bytes));
        }
    }

    /// Characters that take every path of the pass: ASCII of each kind, table letters that
    /// fold, vanish or separate, Hangul, Han and kana, marks, ignorables, expansions.
    const PALETTE: &[&str] = &[
        "a",
        "Z",
        "0",
        "9",
        " ",
        "-",
        "\n",
        "\0",
        "@",
        "`",
        "{",
        "[",
        "é",
        "É",
        "ß",
        "ẞ",
        "й",
        "Ё",
        "ы",
        "ї",
        "Ω",
        "ά",
        "ł",
        "İ",
        "ı",
        "ǅ",
        "·",
        "×",
        "\u{AD}",
        "\u{300}",
        "\u{301}",
        "\u{308}",
        "\u{483}",
        "\u{5B0}",
        "\u{64B}",
        "ب",
        "א",
        "한",
        "국",
        "\u{D7A3}",
        "\u{D7A4}",
        "\u{1100}",
        "\u{3131}",
        "朝",
        "の",
        "ア",
        "\u{3000}",
        "、",
        "\u{200B}",
        "\u{200D}",
        "\u{2060}",
        "\u{FEFF}",
        "\u{2014}",
        "\u{2019}",
        "…",
        "ﬁ",
        "Ａ",
        "１",
        "²",
        "½",
        "№",
        "™",
        "\u{FDFA}",
        "\u{3300}",
        "\u{1F600}",
        "\u{E000}",
        "\u{FFFD}",
        "\u{FFFF}",
        "\u{10FFFF}",
        "\u{20000}",
        "\u{0E01}",
        "\u{10D0}",
        "\u{0531}",
        "\u{FE0F}",
        "\u{20DD}",
    ];

    #[test]
    fn mixed_scripts_marks_and_odd_characters_normalise_as_the_plain_pass_does() {
        let mut rng = Rng(0xC0FF_EE00_1234_5678);
        for _ in 0..4000 {
            let len = rng.below(90);
            let text: String = (0..len)
                .map(|_| {
                    // Runs of ASCII letters keep words long enough to cross blocks.
                    if rng.below(3) == 0 {
                        "abcdefghIJKLMNOPqrstuvwxyz0123456789"[..rng.below(36)].to_owned()
                    } else {
                        PALETTE[rng.below(PALETTE.len())].to_owned()
                    }
                })
                .collect();
            assert_same_at_limits(&text);
        }
        for text in [
            "abcДефg한국xyz",
            "Pokémon naïve x² ﬁnal Straße",
            "e\u{301}\u{301}\u{301} \u{301}abc a\u{301}\u{302}b Д\u{308}",
            "\u{301}\u{301}",
            "朝鲜ICBM발사КНДР",
            "word\u{AD}break zero\u{200B}width",
            "\u{FDFA}\u{3300}x",
        ] {
            assert_same_at_limits(text);
        }
    }

    #[test]
    fn runs_of_every_length_around_block_boundaries_normalise_as_the_plain_pass_does() {
        // A run of separators, then a word, then what ends it, each of every length across
        // two blocks, after a lead that shifts the block boundaries.
        let ends = [
            "",
            " ",
            "é",
            "한",
            "Д",
            "\u{301}",
            "-",
            "\u{AD}",
            "朝",
            "x\u{2014}y",
        ];
        let leads = ["", "ы", "Kim "];
        let case = |lead: &str, separators: usize, word: usize, end: &str| {
            let mut text = String::from(lead);
            text.extend(std::iter::repeat_n(' ', separators));
            text.extend((0..word).map(|k| (b"aB3z"[k % 4]) as char));
            text.push_str(end);
            text.push_str("tail");
            assert_same(&text, separators + word / 2);
            assert_same(&text, usize::MAX);
        };
        for separators in 0..=66 {
            for word in 0..=130 {
                let pick = separators * 7 + word;
                case(leads[pick % 3], separators, word, ends[pick % ends.len()]);
            }
        }
        for separators in [0, 1, 7, 8, 9, 63, 64, 65] {
            for word in 0..=130 {
                for lead in leads {
                    for end in ends {
                        case(lead, separators, word, end);
                    }
                }
            }
        }
        // Single-byte words and separators alternating at every phase.
        for phase in 0..64 {
            let text: String = (0..200)
                .map(|k| if (k + phase) % 2 == 0 { 'q' } else { '.' })
                .collect();
            assert_same_at_limits(&text);
        }
    }

    #[test]
    fn every_two_byte_character_in_a_run_of_letters_normalises_as_the_plain_pass_does() {
        // The run loop reads its folds and census classes from a table of its own.
        for code in 0x80..0x800u32 {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            for text in [
                format!("д{c}ж"),
                format!("д{c}{c}{c}"),
                format!("{c}д {c}"),
                format!("ab{c}cd"),
            ] {
                assert_same(&text, usize::MAX);
                assert_same(&text, 3);
            }
        }
    }

    #[test]
    fn every_three_byte_character_beside_chinese_and_japanese_normalises_as_the_plain_pass_does() {
        // Runs of Chinese and Japanese characters are taken by a range test on their UTF-8
        // bytes: every character of three bytes, inside such a run, at its edges, after an
        // open word and alone, so that no range is a character too wide or too narrow.
        for code in 0x800..0x10000u32 {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            assert_same(&format!("朝{c}鲜{c}{c}ы{c}x {c}"), usize::MAX);
            assert_same(&format!("の{c}"), 4);
        }
        let run: String = "北朝鮮が衛星を打ち上げ、发射侦察卫星ｶﾀｶﾅ豈更".repeat(30);
        assert_same_at_limits(&run);
        assert_same_at_limits(&format!("ab{run}cd 한국 {run}"));
    }

    #[test]
    fn runs_of_two_byte_letters_of_every_length_normalise_as_the_plain_pass_does() {
        // The run loop gathers its folds in a buffer of its own and empties it when full:
        // runs of every length around that size, of letters whose folds are one, two and
        // more bytes long (é, Д, ǆ), each run ended in several ways.
        let letters = ['Д', 'é', 'ǆ', 'ё', 'Ω', 'ж', 'ß', 'Ǳ', 'ы'];
        for len in 0..=140 {
            for shift in 0..3 {
                let run: String = (0..len)
                    .map(|k| letters[(k + shift) % letters.len()])
                    .collect();
                assert_same_at_limits(&format!("{run} tail"));
                assert_same_at_limits(&format!("x{run}한"));
                assert_same_at_limits(&format!("{run}\u{301}{run}"));
            }
        }
    }

    #[test]
    fn long_words_normalise_as_the_plain_pass_does() {
        for len in [63, 64, 65, 127, 128, 129, 1000, 5000] {
            let word: String = (0..len)
                .map(|k| (b"AbCdEfGhIj0123"[k % 14]) as char)
                .collect();
            assert_same_at_limits(&word);
            assert_same_at_limits(&format!("x {word} y"));
            assert_same_at_limits(&format!("é{word}é"));
            assert_same_at_limits(&format!("{word}\u{301}{word}"));
        }
    }
}
