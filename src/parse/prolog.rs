//! What kind of document this is, read from its first bytes: the XML declaration, the
//! DOCTYPE, the root element. Cheap (it stops at the root's start tag) and linear.

use std::ops::Range;

/// The start of a decoded document.
#[derive(Debug, PartialEq, Eq)]
pub enum Shape<'a> {
    /// Nothing but whitespace.
    Blank,
    /// Starts with `{`.
    Json,
    /// Starts with `<`.
    Markup(Prolog<'a>),
    /// Starts with anything else; the first characters, for the error message.
    Text(&'a str),
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Prolog<'a> {
    /// Where the document's content begins: after leading whitespace and the XML declaration.
    pub content_start: usize,
    /// The DOCTYPE's root name (`html`, `rss`), if there is a DOCTYPE.
    pub doctype: Option<&'a str>,
    /// The root element; `None` when the document ends (or breaks off) before one.
    pub root: Option<Root<'a>>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Root<'a> {
    /// The qualified name as written (`rss`, `rdf:RDF`, `html`).
    pub name: &'a str,
    /// The start tag, `<` to `>` inclusive.
    pub tag: Range<usize>,
}

impl Root<'_> {
    /// The name without its namespace prefix.
    pub fn local_name(&self) -> &str {
        self.name.rsplit(':').next().unwrap_or(self.name)
    }
}

/// Reads the start of `text`.
pub fn shape(text: &str) -> Shape<'_> {
    let b = text.as_bytes();
    let start = skip_blank(text, 0);
    match b.get(start) {
        None => Shape::Blank,
        Some(b'{') => Shape::Json,
        Some(b'<') => Shape::Markup(prolog(text, start)),
        Some(_) => {
            let end = text[start..]
                .char_indices()
                .nth(40)
                .map_or(text.len(), |(i, _)| start + i);
            Shape::Text(&text[start..end])
        }
    }
}

fn prolog(text: &str, start: usize) -> Prolog<'_> {
    let b = text.as_bytes();
    let mut prolog = Prolog {
        content_start: start,
        ..Prolog::default()
    };
    let mut at = start;
    loop {
        at = skip_blank(text, at);
        let rest = &b[at..];
        if rest.is_empty() || rest[0] != b'<' {
            return prolog;
        }
        if rest.starts_with(b"<?") {
            let Some(end) = find(text, at + 2, "?>") else {
                return prolog;
            };
            if at == start && is_declaration(&rest[2..]) {
                prolog.content_start = end + 2;
            }
            at = end + 2;
        } else if rest.starts_with(b"<!--") {
            let Some(end) = find(text, at + 4, "-->") else {
                return prolog;
            };
            at = end + 3;
        } else if rest.starts_with(b"<!") {
            let name_start = skip_blank(text, at + 2 + word_len(&rest[2..]));
            let name_len = word_len(&b[name_start..]);
            if rest[2..].len() >= 7 && rest[2..9].eq_ignore_ascii_case(b"DOCTYPE") {
                prolog.doctype = Some(&text[name_start..name_start + name_len]);
            }
            let Some(end) = declaration_end(b, at + 2) else {
                return prolog;
            };
            at = end + 1;
        } else {
            let name_len = word_len(&rest[1..]);
            if name_len == 0 {
                return prolog;
            }
            let Some(end) = tag_end(b, at + 1) else {
                return prolog;
            };
            prolog.root = Some(Root {
                name: &text[at + 1..at + 1 + name_len],
                tag: at..end + 1,
            });
            return prolog;
        }
    }
}

/// `<?` is followed by `xml` and whitespace (or the end): the XML declaration, not a PI such
/// as `<?xml-stylesheet ...?>`.
pub fn is_declaration(after_open: &[u8]) -> bool {
    after_open.starts_with(b"xml")
        && after_open
            .get(3)
            .is_none_or(|&c| c.is_ascii_whitespace() || c == b'?')
}

/// Skips whitespace and U+FEFF (a byte order mark left in the text).
fn skip_blank(text: &str, mut at: usize) -> usize {
    let b = text.as_bytes();
    loop {
        match b.get(at) {
            Some(c) if c.is_ascii_whitespace() => at += 1,
            Some(0xEF) if b[at..].starts_with("\u{feff}".as_bytes()) => at += 3,
            _ => return at,
        }
    }
}

/// Length of a name: up to whitespace, `/`, `>`, `[` or the end.
fn word_len(b: &[u8]) -> usize {
    b.iter()
        .position(|c| c.is_ascii_whitespace() || matches!(c, b'/' | b'>' | b'[' | b'<'))
        .unwrap_or(b.len())
}

/// The `>` closing a start tag, skipping quoted attribute values.
fn tag_end(b: &[u8], mut at: usize) -> Option<usize> {
    let mut quote = None;
    while let Some(&c) = b.get(at) {
        match (quote, c) {
            (None, b'"' | b'\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, b'>') => return Some(at),
            _ => {}
        }
        at += 1;
    }
    None
}

/// The `>` closing a `<!DOCTYPE ...>`, skipping quoted strings and an internal subset.
fn declaration_end(b: &[u8], mut at: usize) -> Option<usize> {
    let mut quote = None;
    let mut depth = 0usize;
    while let Some(&c) = b.get(at) {
        match (quote, c) {
            (None, b'"' | b'\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, b'[') => depth += 1,
            (None, b']') => depth = depth.saturating_sub(1),
            (None, b'>') if depth == 0 => return Some(at),
            _ => {}
        }
        at += 1;
    }
    None
}

fn find(text: &str, from: usize, needle: &str) -> Option<usize> {
    text.get(from..)?.find(needle).map(|i| from + i)
}

/// The value range of attribute `name` in a start tag (`<rss version="2.0">`).
pub fn attribute(tag: &str, name: &str) -> Option<Range<usize>> {
    let b = tag.as_bytes();
    let mut at = 1 + word_len(&b[1..]);
    loop {
        while b.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        let name_start = at;
        while b
            .get(at)
            .is_some_and(|&c| !c.is_ascii_whitespace() && !matches!(c, b'=' | b'>' | b'/'))
        {
            at += 1;
        }
        if at == name_start {
            return None;
        }
        let attr_name = &tag[name_start..at];
        while b.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        if b.get(at) != Some(&b'=') {
            continue;
        }
        at += 1;
        while b.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        let value = match b.get(at) {
            Some(&q @ (b'"' | b'\'')) => {
                let len = b[at + 1..].iter().position(|&c| c == q)?;
                let value = at + 1..at + 1 + len;
                at += len + 2;
                value
            }
            _ => {
                let start = at;
                while b
                    .get(at)
                    .is_some_and(|&c| !c.is_ascii_whitespace() && c != b'>')
                {
                    at += 1;
                }
                start..at
            }
        };
        if attr_name == name {
            return Some(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_and_doctype(text: &str) -> (Option<&str>, Option<&str>, usize) {
        match shape(text) {
            Shape::Markup(p) => (p.root.map(|r| r.name), p.doctype, p.content_start),
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn the_root_element_is_found_past_the_prolog() {
        // (text, root, doctype, where content starts)
        let cases: &[(&str, Option<&str>, Option<&str>, usize)] = &[
            ("<rss version=\"2.0\">", Some("rss"), None, 0),
            (
                "\n\n<?xml version=\"1.0\"?>\n<feed>",
                Some("feed"),
                None,
                23,
            ),
            (
                "\u{feff}<?xml version='1.0'?><rdf:RDF>",
                Some("rdf:RDF"),
                None,
                24,
            ),
            (
                "<?xml version=\"1.0\"?><?xml-stylesheet href=\"a.xsl\"?><!-- <html> --><rss>",
                Some("rss"),
                None,
                21,
            ),
            (
                "<!DOCTYPE rss PUBLIC \"-//Netscape//DTD RSS 0.91//EN\" \"x.dtd\"><rss>",
                Some("rss"),
                Some("rss"),
                0,
            ),
            (
                "<!DOCTYPE x [<!ENTITY a \"]>\"><!ENTITY b '>'>]><x a='>'>",
                Some("x"),
                Some("x"),
                0,
            ),
            (
                "\r\n\r\n<!DOCTYPE html PUBLIC \"-//W3C\">\r\n<html xmlns=\"x\" >",
                Some("html"),
                Some("html"),
                4,
            ),
            ("<!doctype html><HTML>", Some("HTML"), Some("html"), 0),
            (
                "<head><title>Document Moved</title></head>",
                Some("head"),
                None,
                0,
            ),
            // truncated or rootless
            ("<?xml version=\"1.0\"", None, None, 0),
            ("<!-- only a comment -->", None, None, 0),
            ("<!DOCTYPE html", None, Some("html"), 0),
            ("<rss version=\"2.0", None, None, 0),
            ("< rss>", None, None, 0),
        ];
        for (text, root, doctype, content_start) in cases {
            assert_eq!(
                root_and_doctype(text),
                (*root, *doctype, *content_start),
                "{text:?}"
            );
        }
    }

    #[test]
    fn other_shapes() {
        assert_eq!(shape(""), Shape::Blank);
        assert_eq!(shape(" \r\n\t\u{feff}"), Shape::Blank);
        assert_eq!(shape("\n {\"version\": 1}"), Shape::Json);
        assert_eq!(shape("Not Found"), Shape::Text("Not Found"));
        let long = "é".repeat(100);
        assert_eq!(shape(&long), Shape::Text(&long[..80]));
    }

    #[test]
    fn attributes_are_read_from_a_start_tag() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("<rss version=\"2.0\">", "version", Some("2.0")),
            (
                "<rss xmlns:a='x' version = '0.91' >",
                "version",
                Some("0.91"),
            ),
            ("<rss version=2.0>", "version", Some("2.0")),
            ("<rss version=\"\">", "version", Some("")),
            ("<rss xml:version=\"2.0\">", "version", None),
            ("<rss a=\"version=1\">", "version", None),
            ("<rss checked version=\"2.0\">", "version", Some("2.0")),
            ("<rss>", "version", None),
            ("<rss version=\"2.0>", "version", None),
        ];
        for (tag, name, expected) in cases {
            assert_eq!(attribute(tag, name).map(|r| &tag[r]), *expected, "{tag:?}");
        }
    }
}
