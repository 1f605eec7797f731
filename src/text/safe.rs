//! Feed text made safe to show, for every surface: mail (`alert`), the hit log (`web`) and the
//! terminal (`cli`).
//!
//! Everything that came from a feed is hostile until shown otherwise: a title can carry a CR LF
//! that starts a new mail header, a bidi override that makes a link read as another, offsets
//! that fall inside a character, a `javascript:` link. The defences live here once, so that no
//! surface has its own weaker copy:
//! - [`header_text`]: one clean, capped line (headers, subjects, table cells, page fields);
//! - [`web_link`]: the only way a link becomes an `href`;
//! - [`highlight`] and its variants: a snippet split at its matched terms, tolerant of any
//!   byte ranges, with control and bidi characters taken out of every run.
//!
//! HTML escaping is not here: askama escapes every value in both mail and page templates, and
//! nothing is marked safe.

/// Links longer than this are shown as text, never as links.
pub const LINK_MAX: usize = 2000;

/// A header-safe one-line string: CR, LF, other control characters and Unicode bidi overrides
/// removed or replaced by a space, whitespace collapsed, capped to `max` characters on a char
/// boundary with `…`.
pub fn header_text(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max.saturating_mul(4)));
    let mut chars = 0;
    let mut space_pending = false;
    for c in text.chars() {
        if is_bidi_control(c) {
            continue;
        }
        if c.is_whitespace() || c.is_control() {
            space_pending = !out.is_empty();
            continue;
        }
        if space_pending {
            out.push(' ');
            chars += 1;
            space_pending = false;
        }
        out.push(c);
        chars += 1;
        // One character past the cap is enough to know the text must be cut.
        if chars > max {
            break;
        }
    }
    if chars <= max {
        return out;
    }
    let Some(keep) = max.checked_sub(1) else {
        return String::new();
    };
    let cut = out.char_indices().nth(keep).map_or(out.len(), |(i, _)| i);
    out.truncate(cut);
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// Text from a feed or the database as it may reach a terminal or a log line: control
/// characters (a line break, a carriage return, an escape sequence's ESC) become spaces and
/// bidi controls go, so no title can forge a line, move the cursor or reorder what is shown.
/// Unlike [`header_text`], nothing is collapsed or cut.
pub fn terminal_text(text: &str) -> String {
    text.chars()
        .filter(|&c| !is_bidi_control(c))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Characters that reorder how text around them is displayed: a title could use them to make a
/// subject or a link read as something else.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// The link as it may go in an `href`: absolute http or https with a host, re-serialised so it
/// holds no raw spaces, quotes or control characters.
pub fn web_link(link: &str) -> Option<String> {
    let url = url::Url::parse(link.trim()).ok()?;
    let web =
        matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty());
    (web && url.as_str().len() <= LINK_MAX).then(|| url.into())
}

/// A run of snippet text, highlighted when a matched term.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub text: String,
    /// A term that supports the hit.
    pub marked: bool,
    /// A term that only counted against the hit (a negative boost): shown apart, never as a
    /// highlight.
    pub demoting: bool,
}

/// Splits `text` at the highlight byte ranges. Ranges out of order, overlapping, reversed, past
/// the end or inside a character are tolerated: each is clamped to the text and widened to
/// whole characters, and overlapping ones merge.
pub fn highlight(text: &str, highlights: &[(usize, usize)]) -> Vec<Segment> {
    split_highlights(text, highlights, &[], false)
}

/// As [`highlight`], with the ranges of demoting terms marked apart; where a demoting range
/// overlaps a highlight, the highlight wins.
pub fn highlight_roles(
    text: &str,
    highlights: &[(usize, usize)],
    demoting: &[(usize, usize)],
) -> Vec<Segment> {
    split_highlights(text, highlights, demoting, false)
}

/// As [`highlight`], for a whole field shown as a block (the hit log's item text): line breaks
/// stay, so paragraphs still read as paragraphs.
pub fn highlight_block(text: &str, highlights: &[(usize, usize)]) -> Vec<Segment> {
    split_highlights(text, highlights, &[], true)
}

/// As [`highlight_block`], with demoting terms marked apart as in [`highlight_roles`].
pub fn highlight_block_roles(
    text: &str,
    highlights: &[(usize, usize)],
    demoting: &[(usize, usize)],
) -> Vec<Segment> {
    split_highlights(text, highlights, demoting, true)
}

/// How a run of text is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Mark {
    // Supporting sorts before demoting, so at the same start the highlight is laid first and
    // the demoting range only keeps what lies past it.
    Supporting,
    Demoting,
    Plain,
}

fn split_highlights(
    text: &str,
    highlights: &[(usize, usize)],
    demoting: &[(usize, usize)],
    lines: bool,
) -> Vec<Segment> {
    let clamp = |&(start, end): &(usize, usize)| {
        (
            floor_char_boundary(text, start.min(text.len())),
            ceil_char_boundary(text, end.min(text.len())),
        )
    };
    let mut ranges: Vec<(usize, Mark, usize)> = highlights
        .iter()
        .map(|r| (clamp(r), Mark::Supporting))
        .chain(demoting.iter().map(|r| (clamp(r), Mark::Demoting)))
        .filter(|((start, end), _)| start < end)
        .map(|((start, end), mark)| (start, mark, end))
        .collect();
    ranges.sort_unstable();
    let mut segments = Vec::new();
    let mut at = 0;
    for (index, &(start, mark, end)) in ranges.iter().enumerate() {
        let start = start.max(at);
        // A demoting range gives way to a highlight that starts inside it.
        let end = match mark {
            Mark::Demoting => ranges[index + 1..]
                .iter()
                .filter(|(s, m, _)| *m == Mark::Supporting && *s < end)
                .map(|(s, _, _)| (*s).max(start))
                .min()
                .unwrap_or(end),
            _ => end,
        };
        if end <= start {
            continue;
        }
        push_segment(&mut segments, &text[at..start], Mark::Plain, lines);
        push_segment(&mut segments, &text[start..end], mark, lines);
        at = end;
    }
    push_segment(&mut segments, &text[at..], Mark::Plain, lines);
    segments
}

fn push_segment(segments: &mut Vec<Segment>, text: &str, mark: Mark, lines: bool) {
    if text.is_empty() {
        return;
    }
    let text = inline_text(text, lines);
    let (marked, demoting) = (mark == Mark::Supporting, mark == Mark::Demoting);
    match segments.last_mut() {
        // Two touching highlights read as one term.
        Some(last) if last.marked == marked && last.demoting == demoting => {
            last.text.push_str(&text)
        }
        _ => segments.push(Segment {
            text,
            marked,
            demoting,
        }),
    }
}

/// Snippet text made safe to show without moving anything: controls become spaces (line
/// breaks stay when `lines`) and bidi controls go, but whitespace is not collapsed, since
/// segments join back into one line.
fn inline_text(text: &str, lines: bool) -> String {
    text.chars()
        .filter(|&c| !is_bidi_control(c))
        .map(|c| {
            if c.is_control() && !(lines && c == '\n') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

#[cfg(test)]
pub(crate) mod tests;
