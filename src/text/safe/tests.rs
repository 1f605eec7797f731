use proptest::prelude::*;

use super::*;

/// Byte ranges a stored snippet may carry after an edit, a bug or a hostile row, on
/// `"북한 спутник launch"`: mail and pages must show the text whole whatever they say.
pub(crate) fn bad_offsets() -> Vec<Vec<(usize, usize)>> {
    vec![
        vec![(1, 2)],          // inside the first Hangul syllable
        vec![(5, 100)],        // past the end
        vec![(100, 200)],      // wholly past the end
        vec![(9, 3)],          // reversed
        vec![(0, 7), (3, 12)], // overlapping
        vec![(7, 12), (0, 3)], // out of order
        vec![(0, 0), (4, 4)],  // empty
        vec![(usize::MAX, usize::MAX), (0, usize::MAX)],
    ]
}

#[test]
fn header_text_makes_one_clean_line() {
    let cases = [
        ("plain", "plain"),
        ("  padded  ", "padded"),
        (
            "Evil\r\nBcc: victim@example.org",
            "Evil Bcc: victim@example.org",
        ),
        ("a\rb\nc\td", "a b c d"),
        (
            "bell\u{7}null\u{0}del\u{7f}c1\u{85}end",
            "bell null del c1 end",
        ),
        ("many    \n\n   spaces", "many spaces"),
        ("line\u{2028}separator", "line separator"),
        ("Invoice \u{202E}fdp.exe", "Invoice fdp.exe"),
        (
            "\u{202A}\u{202B}\u{202C}\u{202D}\u{2066}\u{2067}\u{2068}\u{2069}\u{200E}\u{200F}\u{61C}x",
            "x",
        ),
        ("Северная Корея", "Северная Корея"),
        ("", ""),
        ("\r\n\t", ""),
    ];
    for (input, expected) in cases {
        assert_eq!(header_text(input, 100), expected, "{input:?}");
    }
}

#[test]
fn header_text_caps_length_on_a_char_boundary() {
    let cases = [
        ("abcdef", 6, "abcdef"),
        ("abcdefg", 6, "abcde…"),
        ("북한이 정찰위성을 발사했다", 5, "북한이…"),
        ("a b c", 3, "a…"),
        ("спутник", 3, "сп…"),
        ("abc", 1, "…"),
        ("abc", 0, ""),
        ("", 0, ""),
    ];
    for (input, max, expected) in cases {
        let capped = header_text(input, max);
        assert_eq!(capped, expected, "{input:?} to {max}");
        assert!(capped.chars().count() <= max);
    }
}

#[test]
fn bad_highlight_offsets_keep_the_text_whole() {
    let text = "북한 спутник launch";
    for highlights in bad_offsets() {
        for lines in [false, true] {
            let segments = if lines {
                highlight_block(text, &highlights)
            } else {
                highlight(text, &highlights)
            };
            let joined: String = segments.iter().map(|s| s.text.as_str()).collect();
            assert_eq!(joined, text, "{highlights:?}");
        }
    }
    assert_eq!(
        highlight(text, &[(1, 2)]),
        vec![
            Segment {
                text: "북".to_owned(),
                marked: true,
                demoting: false,
            },
            Segment {
                text: "한 спутник launch".to_owned(),
                marked: false,
                demoting: false,
            },
        ],
        "a range inside a character widens to the whole character"
    );
}

#[test]
fn only_absolute_web_links_with_a_host_become_links() {
    let cases = [
        (
            "https://news.example.org/a",
            Some("https://news.example.org/a"),
        ),
        (
            "  http://news.example.org/a b ",
            Some("http://news.example.org/a%20b"),
        ),
        ("javascript:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("ftp://news.example.org/a", None),
        ("/relative/path", None),
        ("http://", None),
        ("", None),
    ];
    for (link, expected) in cases {
        assert_eq!(web_link(link).as_deref(), expected, "{link:?}");
    }
    let long = format!("https://news.example.org/{}", "a".repeat(LINK_MAX));
    assert_eq!(web_link(&long), None, "too long to be a link");
}

#[test]
fn block_highlights_keep_line_breaks_and_inline_ones_do_not() {
    let text = "first\nsecond\u{202E}\u{7}";
    let inline: String = highlight(text, &[])
        .iter()
        .map(|s| s.text.as_str())
        .collect();
    let block: String = highlight_block(text, &[])
        .iter()
        .map(|s| s.text.as_str())
        .collect();
    assert_eq!(inline, "first second ");
    assert_eq!(block, "first\nsecond ");
}

#[test]
fn a_highlight_inside_a_demoting_range_stays_a_highlight() {
    let segments = highlight_roles(
        "Satellite imagery of the pad",
        &[(0, 9)],
        &[(0, 17), (25, 28)],
    );
    let runs: Vec<(&str, bool, bool)> = segments
        .iter()
        .map(|s| (s.text.as_str(), s.marked, s.demoting))
        .collect();
    assert_eq!(
        runs,
        [
            ("Satellite", true, false),
            (" imagery", false, true),
            (" of the ", false, false),
            ("pad", false, true),
        ]
    );
}

proptest! {
    #[test]
    fn header_text_is_always_one_short_clean_line(text in "\\PC*|[\\s\\x00-\\x1f\u{202a}-\u{202e}a-zé북]*", max in 0usize..40) {
        let cleaned = header_text(&text, max);
        prop_assert!(cleaned.chars().count() <= max);
        prop_assert!(!cleaned.chars().any(|c| c.is_control() || is_bidi_control(c)));
        prop_assert!(!cleaned.contains("  "));
        prop_assert_eq!(cleaned.trim(), cleaned.as_str());
    }

    #[test]
    fn highlighting_keeps_the_snippet_text_whole(
        text in "[a-z 북한спутник]{0,30}",
        highlights in prop::collection::vec((0usize..80, 0usize..80), 0..6),
    ) {
        let joined: String = highlight(&text, &highlights).iter().map(|s| s.text.as_str()).collect();
        prop_assert_eq!(joined, text);
    }
}
