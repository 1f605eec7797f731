//! HTML to display text.
//!
//! Feed summaries and content arrive as HTML fragments (often escaped twice, often broken).
//! Analysts and reviewers read the *display text*: tags removed, entities decoded, whitespace
//! collapsed. Evidence offsets point into this text, so it is produced once, here, and every
//! later stage works from it.

/// What an element does to the text around it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ElementKind {
    /// Its content is never shown to a reader.
    Hidden,
    /// It ends a line of text: the words on either side must not run together.
    Block,
    /// Text flows through it.
    Inline,
}

/// Feed HTML is dense with tags, so this runs for most of them: the name is lowercased on the
/// stack (no element of interest has a longer name than the buffer) and matched once, rather
/// than allocated and compared against each name in turn.
fn element_kind(name: &str) -> ElementKind {
    let mut buffer = [0u8; 10];
    let Some(lower) = buffer.get_mut(..name.len()) else {
        return ElementKind::Inline;
    };
    for (to, from) in lower.iter_mut().zip(name.bytes()) {
        *to = from.to_ascii_lowercase();
    }
    match &*lower {
        b"script" | b"style" | b"noscript" | b"template" | b"head" | b"iframe" | b"object"
        | b"svg" | b"math" => ElementKind::Hidden,
        b"address" | b"article" | b"aside" | b"blockquote" | b"br" | b"caption" | b"dd"
        | b"div" | b"dl" | b"dt" | b"figcaption" | b"figure" | b"footer" | b"h1" | b"h2"
        | b"h3" | b"h4" | b"h5" | b"h6" | b"header" | b"hr" | b"li" | b"main" | b"nav" | b"ol"
        | b"p" | b"pre" | b"section" | b"table" | b"td" | b"th" | b"tr" | b"ul" => {
            ElementKind::Block
        }
        _ => ElementKind::Inline,
    }
}

/// Converts an HTML fragment (or plain text) to display text.
///
/// Never fails: malformed markup degrades to text. A `<` that does not open a tag stays as
/// text, so "a < b" survives.
pub fn html_to_text(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    html_to_text_into(input, &mut out);
    out
}

/// As [`html_to_text`], reusing the caller's buffer (cleared first).
pub fn html_to_text_into(input: &str, out: &mut String) {
    out.clear();
    // memchr2 rather than `str::contains` with two chars, which decodes every character.
    if memchr::memchr2(b'<', b'&', input.as_bytes()).is_none() {
        collapse_whitespace(input, out);
        return;
    }
    let mut stripped = String::with_capacity(input.len());
    strip_tags(input, &mut stripped, 0);
    let decoded = html_escape::decode_html_entities(&stripped);
    collapse_whitespace(&decoded, out);
}

/// CDATA sections read inside CDATA sections: feeds escape at most twice or so. Deeper ones
/// are dropped as markers, so that a field of a million `<![CDATA[` costs neither a stack frame
/// nor a search to the end of the text for each.
const MAX_CDATA_NESTING: usize = 4;

/// Removes tags, comments and hidden elements; block elements become line breaks. `nesting`
/// is the number of CDATA sections around `input`.
fn strip_tags(input: &str, out: &mut String, nesting: usize) {
    let mut i = 0;
    let mut text_start = 0;
    // Text between tags is skipped with memchr rather than a byte at a time.
    while let Some(offset) = memchr::memchr(b'<', &input.as_bytes()[i..]) {
        i += offset;
        let rest = &input[i..];
        let Some(tag) = classify_tag(rest) else {
            i += 1;
            continue;
        };
        out.push_str(&input[text_start..i]);
        match tag {
            Markup::Comment => {
                i += rest.find("-->").map_or(rest.len(), |end| end + 3);
            }
            Markup::CData if nesting >= MAX_CDATA_NESTING => i += 9,
            Markup::CData => {
                let body = &rest[9..];
                let end = body.find("]]>").unwrap_or(body.len());
                // Feeds wrap escaped HTML in CDATA: its markup is markup, so strip it too.
                strip_tags(&body[..end], out, nesting + 1);
                i += 9 + (end + 3).min(body.len());
            }
            Markup::Declaration => {
                i += rest.find('>').map_or(rest.len(), |end| end + 1);
            }
            Markup::Element { name, closing } => {
                let tag_end = find_tag_end(rest).map_or(rest.len(), |end| end + 1);
                i += tag_end;
                match element_kind(name) {
                    ElementKind::Hidden if !closing => {
                        i += skip_hidden_body(&input[i..], name);
                        out.push(' ');
                    }
                    ElementKind::Block => out.push('\n'),
                    // Inline elements (and closing tags of hidden ones):
                    // "<b>North</b><i>Korea</i>" reads as one word in a browser, so nothing is
                    // inserted.
                    ElementKind::Inline | ElementKind::Hidden => {}
                }
            }
        }
        text_start = i;
    }
    if text_start < input.len() {
        out.push_str(&input[text_start..]);
    }
}

enum Markup<'a> {
    Comment,
    CData,
    Declaration,
    Element { name: &'a str, closing: bool },
}

fn classify_tag(rest: &str) -> Option<Markup<'_>> {
    let after = &rest[1..];
    if after.starts_with("!--") {
        return Some(Markup::Comment);
    }
    if after.starts_with("![CDATA[") {
        return Some(Markup::CData);
    }
    if after.starts_with('!') || after.starts_with('?') {
        return Some(Markup::Declaration);
    }
    let (closing, name_part) = match after.strip_prefix('/') {
        Some(stripped) => (true, stripped),
        None => (false, after),
    };
    let name_len = name_part
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b':')
        .count();
    if name_len == 0 || !name_part.as_bytes()[0].is_ascii_alphabetic() {
        return None;
    }
    // "<foo" must be followed by something a tag can hold, or "a<b" in prose would vanish.
    match name_part.as_bytes().get(name_len) {
        None | Some(b'>' | b'/' | b' ' | b'\t' | b'\n' | b'\r') => Some(Markup::Element {
            name: &name_part[..name_len],
            closing,
        }),
        _ => None,
    }
}

/// Finds the `>` that ends a tag, skipping `>` inside quoted attribute values.
fn find_tag_end(rest: &str) -> Option<usize> {
    // Attribute values (links, styles) are most of a tag's bytes: jump between the bytes that
    // matter instead of walking them.
    let bytes = rest.as_bytes();
    let mut at = 0;
    loop {
        at += memchr::memchr3(b'>', b'"', b'\'', &bytes[at..])?;
        let quote = bytes[at];
        if quote == b'>' {
            return Some(at);
        }
        at += 1;
        at += memchr::memchr(quote, &bytes[at..])? + 1;
    }
}

/// Length of a hidden element's body up to and including its closing tag; `name` in any case.
fn skip_hidden_body(rest: &str, name: &str) -> usize {
    let bytes = rest.as_bytes();
    let mut i = 0;
    while let Some(offset) = rest[i..].find("</") {
        let start = i + offset + 2;
        let candidate = &bytes[start..];
        if candidate.len() >= name.len()
            && candidate[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        {
            let close = &rest[start..];
            return start + close.find('>').map_or(close.len(), |end| end + 1);
        }
        i = start;
    }
    rest.len()
}

/// The bytes that may start whitespace or a control character: ASCII space and controls, and
/// the lead bytes of the few such characters beyond ASCII (U+0080 to U+00A0 start with 0xC2,
/// U+1680 with 0xE1, U+2000 to U+205F with 0xE2, U+3000 with 0xE3). Every other byte, in
/// Cyrillic or Hangul text as much as in English, is passed over without decoding a character.
static MAY_BREAK: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte <= 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[0x7F] = true;
    table[0xC2] = true;
    table[0xE1] = true;
    table[0xE2] = true;
    table[0xE3] = true;
    table
};

/// What a C1 control character stands for: the windows-1252 character of the same byte. HTML5
/// reads the numeric references `&#128;` to `&#159;` so, and a C1 control in feed text is
/// almost always such a reference, or a windows-1252 byte decoded as Latin-1 (`Korea&#146;s`
/// is "Korea’s"). The five bytes windows-1252 leaves undefined stay controls.
fn windows_1252_c1(c: char) -> Option<char> {
    const TABLE: [char; 32] = [
        '€', '\0', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\0', 'Ž', '\0', '\0',
        '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\0', 'ž', 'Ÿ',
    ];
    let index = (c as u32).checked_sub(0x80).filter(|i| *i < 32)?;
    Some(TABLE[index as usize]).filter(|m| *m != '\0')
}

/// Plain text (Atom `type="text"`) as display text: whitespace collapsed as in
/// [`html_to_text`], and nothing read as markup.
pub fn plain_to_text(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    collapse_whitespace(input, &mut out);
    out
}

/// Collapses runs of whitespace: a run holding a line break becomes one `\n`, any other run one
/// space; leading and trailing whitespace goes. Control characters count as whitespace.
///
/// Text between runs is copied a slice at a time; only bytes that may start a break are looked
/// at one by one, since feed text is mostly letters.
fn collapse_whitespace(input: &str, out: &mut String) {
    let bytes = input.as_bytes();
    let mut pending: Option<char> = None;
    let mut run_start = 0;
    let mut i = 0;
    let flush = |out: &mut String, pending: &mut Option<char>, text: &str| {
        if text.is_empty() {
            return;
        }
        if let Some(sep) = pending.take()
            && !out.is_empty()
        {
            out.push(sep);
        }
        out.push_str(text);
    };
    while i < bytes.len() {
        let byte = bytes[i];
        if !MAY_BREAK[byte as usize] {
            i += 1;
            continue;
        }
        let (width, brk) = if byte < 0x80 {
            match byte {
                // A single space between words is kept as it is: only runs and other
                // whitespace need rewriting, and flushing at every word would cost a copy each.
                b' ' if i > run_start
                    && bytes
                        .get(i + 1)
                        .is_some_and(|&next| !MAY_BREAK[next as usize]) =>
                {
                    i += 1;
                    continue;
                }
                b'\n' | b'\r' => (1, Some('\n')),
                b' ' | b'\t' | 0x0B | 0x0C => (1, Some(' ')),
                0..=0x1F | 0x7F => (1, Some(' ')),
                _ => {
                    i += 1;
                    continue;
                }
            }
        } else {
            let c = input[i..].chars().next().expect("a char boundary");
            let width = c.len_utf8();
            if let Some(mapped) = windows_1252_c1(c) {
                flush(out, &mut pending, &input[run_start..i]);
                flush(out, &mut pending, mapped.encode_utf8(&mut [0; 4]));
                i += width;
                run_start = i;
                continue;
            }
            if c.is_whitespace() || c.is_control() {
                let brk = if matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}') {
                    '\n'
                } else {
                    ' '
                };
                (width, Some(brk))
            } else {
                i += width;
                continue;
            }
        };
        flush(out, &mut pending, &input[run_start..i]);
        if let Some(brk) = brk {
            pending = Some(match pending {
                Some('\n') => '\n',
                _ => brk,
            });
        }
        i += width;
        run_start = i;
    }
    flush(out, &mut pending, &input[run_start..]);
}

#[cfg(test)]
mod tests {
    use super::html_to_text;

    #[test]
    fn strips_tags_decodes_entities_and_collapses_whitespace() {
        let cases: &[(&str, &str)] = &[
            ("plain text", "plain text"),
            ("  lots   of\t space  ", "lots of space"),
            ("<p>North Korea</p><p>launches</p>", "North Korea\nlaunches"),
            (
                "<b>Kim</b> Jong&#8209;un &amp; Putin",
                "Kim Jong\u{2011}un & Putin",
            ),
            ("a < b and c > d", "a < b and c > d"),
            ("x<br/>y", "x\ny"),
            ("<script>alert('no')</script>shown", "shown"),
            ("<STYLE>p{}</STYLE>text", "text"),
            ("before<!-- hidden -->after", "beforeafter"),
            ("<![CDATA[raw <b>text</b>]]>", "raw text"),
            ("<a href=\"x>y\" title='z'>link</a>", "link"),
            ("&lt;script&gt;", "<script>"),
            ("북한&nbsp;정찰위성", "북한 정찰위성"),
            ("<p>unclosed", "unclosed"),
            ("<", "<"),
            ("&bogus; &#xZZ;", "&bogus; &#xZZ;"),
            // Single spaces kept in place, beside every kind of neighbour.
            ("Северная Корея и Россия", "Северная Корея и Россия"),
            ("북한 정찰위성 발사", "북한 정찰위성 발사"),
            ("a \u{a0}b a\u{a0} b a \u{3000}b", "a b a b a b"),
            ("a \u{2028}b", "a\nb"),
            // C1 controls are windows-1252 characters (HTML5's reading of &#128;-&#159;).
            ("a \u{85}b c\u{9f}d", "a …b cŸd"),
            ("Korea&#146;s \u{92}x\u{81}y", "Korea’s ’x y"),
            ("a \u{e9}t\u{e9} \u{1680}x", "a \u{e9}t\u{e9} x"),
            (" a b ", "a b"),
            ("a \tb", "a b"),
            ("a \x7fb", "a b"),
            // Quotes in tags, closed and not.
            ("<a title=\"1 > 0\" alt='x>\"y'>in</a>out", "inout"),
            ("x<a title=\"unclosed>text", "x"),
            ("<img src=x>", ""),
            // Element names in any case; names longer than any known element.
            ("<SCRIPT type=x>hidden</script>SHOWN", "SHOWN"),
            ("a<BR>b<Figcaption>c</FIGCAPTION>d", "a\nb\nc\nd"),
            ("a<blockquotes>b</blockquotes>c", "abc"),
            ("a</script>b", "ab"),
        ];
        for (input, want) in cases {
            assert_eq!(html_to_text(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn nested_cdata_costs_no_stack_and_no_rescan() {
        // A section ends at the first `]]>`, however many opened: sections do not nest.
        assert_eq!(
            html_to_text("<![CDATA[<![CDATA[<b>inner</b>]]> outer]]>"),
            "inner outer]]>"
        );
        // A million nested openers on a thread with a small stack: a frame and a search to
        // the end of the text for each would overflow it, or take minutes.
        let hostile = format!("{}payload", "<![CDATA[".repeat(1_000_000));
        let text = std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn(move || html_to_text(&hostile))
            .expect("thread")
            .join()
            .expect("no overflow");
        assert_eq!(text, "payload");
    }
}
