//! Rewrites, before feed-rs reads a document, the few constructions that make it lose text or
//! refuse a whole feed over one element.
//!
//! - **Unescaped markup** in a text element (`<title>Breaking: <b>North Korea</b> ...`,
//!   `<description><p>...</p></description>`): feed-rs keeps the text before the first child
//!   element and drops the rest. The element's content is escaped instead, so feed-rs reads it
//!   as one string of HTML, which is what the publisher meant.
//! - **Atom `type` and `mode` attributes** feed-rs refuses (`text/plain`,
//!   `application/xhtml+xml`, `""`, Atom 0.3's `mode="xml"`, `mode="escaped"`, MIME types of
//!   base64 content): each becomes `text`, `html` or `xhtml`; base64 content is decoded.
//! - **An Atom link written as content** (`<link rel="alternate">http://...</link>`, no
//!   `href`): the content becomes the `href`.
//! - **RSS 1.0 items without `<link>`**, which feed-rs drops: a placeholder link it keeps (and
//!   the parse stage ignores) is added, and each item's `rdf:about` is recorded in document
//!   order, to serve as its id.
//!
//! One pass: an Aho-Corasick search finds the start tags of interest, CDATA sections and
//! comments (skipped whole, so markup quoted inside them is never touched); each element's end
//! tag is found with the next occurrence of its name, cached per name, so every byte is looked
//! at a bounded number of times whatever the nesting or repetition. Nothing recurses.
//! Documents without anything to repair come back borrowed.

use std::borrow::Cow;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;

use super::extras::Extras;

/// What the root element said the document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Rss,
    Rdf,
    Atom,
}

/// Most entries read from one document. The XML reader builds every entry of a document
/// before the first is converted, at about a kilobyte each: a hundred thousand tiny entries
/// under the body cap took over 120 MB. Real feeds carry tens to a few thousand entries; the
/// first ones are the newest.
pub const MAX_ENTRIES: usize = 10_000;

/// The placeholder link given to an RSS 1.0 item, so that feed-rs keeps it; not a URL the
/// parse stage accepts, so it never becomes an item's link.
pub const RDF_PLACEHOLDER: &str = "urn:x-watchfloor:rdf-item";

/// The document after repair.
pub struct Repaired<'a> {
    pub text: Cow<'a, str>,
    /// Item or entry start tags found outside CDATA and comments: what a reader should find.
    /// At most [`MAX_ENTRIES`]: the text holds no more.
    pub entries: usize,
    /// Entries beyond [`MAX_ENTRIES`], cut out of the text.
    pub cut_entries: usize,
    /// For RSS 1.0, each item's `rdf:about`, in document order.
    pub rdf_about: Vec<Option<String>>,
    /// What each entry (in document order) holds beyond feed-rs's model, read in this same
    /// pass; empty when the document uses a prefix for another namespace than the usual one.
    pub extras: Vec<Extras>,
}

/// Start tags of the elements [`super::extras`] reads, under the prefixes feeds use for
/// their namespaces (the namespaces are checked once per document, see [`NAMESPACES`]).
/// Every pattern starts with `<`, so the search skips from one `<` to the next: a pattern
/// starting with a common byte (`:` is in every URL) made the whole pass three times slower.
/// A document using an unusual prefix for one of these is read without that element.
const EXTRAS: [&str; 17] = [
    "<dc:subject",
    "<media:category",
    "<itunes:category",
    "<dc:title",
    "<media:title",
    "<dc:description",
    "<media:description",
    "<dc:author",
    "<itunes:author",
    "<dcterms:issued",
    "<dcterms:created",
    "<dcterms:modified",
    "<body",
    "<xhtml:body",
    "<fullitem",
    "<guid",
    "<feedburner:origLink",
];
/// The namespace each prefix of [`EXTRAS`] must name (iTunes's also as Apple's examples
/// capitalised it).
const NAMESPACES: [(&str, &str); 6] = [
    ("dc:", "http://purl.org/dc/elements/1.1/"),
    ("media:", "http://search.yahoo.com/mrss"),
    ("itunes:", "http://www.itunes.com/dtds/podcast-1.0.dtd"),
    ("dcterms:", "http://purl.org/dc/terms/"),
    ("xhtml:", "http://www.w3.org/1999/xhtml"),
    ("feedburner:", "http://rssnamespace.org/feedburner/ext/1.0"),
];
const ITUNES_CAPITALISED: &str = "http://www.itunes.com/DTDs/Podcast-1.0.dtd";
/// End tags that close an entry, so that nothing after it is taken as part of it.
const ENTRY_ENDS: [&str; 2] = ["</item>", "</entry>"];
/// Index of the first of [`SIGNS`] among the patterns of [`NEEDLES`].
const FIRST_SIGN: usize = 2 + TEXT_ELEMENTS.len() + ENTRY_ELEMENTS.len() + 1;
/// Index of the first of [`ENTRY_ENDS`].
const FIRST_END: usize = FIRST_SIGN + EXTRAS.len();

/// Elements whose content feed-rs reads as text. Prefixed names are left alone: their
/// namespace is not known here.
const TEXT_ELEMENTS: [&str; 6] = [
    "title",
    "description",
    "summary",
    "content",
    "subtitle",
    "rights",
];
const ENTRY_ELEMENTS: [&str; 2] = ["item", "entry"];
/// Atom 0.3 feeds in the wild write a link's address as its content.
const LINK: &str = "link";

static NEEDLES: LazyLock<AhoCorasick> = LazyLock::new(|| {
    let mut patterns = vec!["<![CDATA[".to_owned(), "<!--".to_owned()];
    for name in TEXT_ELEMENTS.iter().chain(&ENTRY_ELEMENTS).chain(&[LINK]) {
        patterns.push(format!("<{name}"));
    }
    debug_assert_eq!(patterns.len(), FIRST_SIGN);
    patterns.extend(EXTRAS.iter().chain(&ENTRY_ENDS).map(|p| (*p).to_owned()));
    AhoCorasick::builder()
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .match_kind(MatchKind::LeftmostFirst)
        .build(patterns)
        .expect("fixed patterns")
});

/// The next end tag of each element name, cached: searches only move forward, so each name's
/// end tags are searched for once over the whole document.
struct EndTags<'t> {
    text: &'t str,
    /// (name, position searched from, found at or None for "none from there on").
    cache: Vec<(String, usize, Option<usize>)>,
    /// (position searched from, the next `<![CDATA[` from there), once searched.
    cdata: Option<(usize, Option<usize>)>,
}

impl<'t> EndTags<'t> {
    fn new(text: &'t str) -> Self {
        EndTags {
            text,
            cache: Vec::new(),
            cdata: None,
        }
    }

    fn next_cdata(&mut self, from: usize) -> Option<usize> {
        if let Some((searched, found)) = self.cdata
            && from >= searched
            && found.is_none_or(|f| f >= from)
        {
            return found;
        }
        let found =
            memchr::memmem::find(&self.text.as_bytes()[from..], b"<![CDATA[").map(|i| from + i);
        self.cdata = Some((from, found));
        found
    }

    fn next_close(&mut self, name: &str, from: usize) -> Option<usize> {
        if let Some((_, searched, found)) = self.cache.iter().find(|(n, _, _)| n == name)
            && from >= *searched
            && found.is_none_or(|f| f >= from)
        {
            return *found;
        }
        let needle = format!("</{name}>");
        let found = memchr::memmem::find(&self.text.as_bytes()[from..], needle.as_bytes())
            .map(|i| from + i);
        match self.cache.iter_mut().find(|(n, _, _)| n == name) {
            Some(entry) => *entry = (name.to_owned(), from, found),
            None => self.cache.push((name.to_owned(), from, found)),
        }
        found
    }

    /// The end tag of `name` closing content that starts at `from`, stepping over CDATA
    /// sections (an end tag quoted inside one is text).
    fn end_of(&mut self, name: &str, mut from: usize) -> Option<usize> {
        loop {
            let close = self.next_close(name, from)?;
            match self.next_cdata(from) {
                Some(cdata) if cdata < close => {
                    let end = memchr::memmem::find(&self.text.as_bytes()[cdata..], b"]]>")?;
                    from = cdata + end + 3;
                }
                _ => return Some(close),
            }
        }
    }
}

/// Repairs `text`, a document of `format`.
pub fn repair(text: &str, format: Format) -> Repaired<'_> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut entries = 0;
    let mut cut_entries = 0;
    let mut rdf_about = Vec::new();
    let mut extras: Vec<Extras> = Vec::new();
    let mut in_entry = false;
    // Prefixes of EXTRAS met, whose namespace declarations are checked at the end.
    let mut prefixes = 0u8;
    let mut ends = EndTags::new(text);
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(found) = NEEDLES.find(&text[at..]) {
        let start = at + found.start();
        match found.pattern().as_usize() {
            0 => match memchr::memmem::find(&bytes[start..], b"]]>") {
                Some(end) => {
                    at = start + end + 3;
                    continue;
                }
                None => break,
            },
            1 => match memchr::memmem::find(&bytes[start..], b"-->") {
                Some(end) => {
                    at = start + end + 3;
                    continue;
                }
                None => break,
            },
            index if index >= FIRST_END => {
                in_entry = false;
                at = start + found.len();
                continue;
            }
            index if index >= FIRST_SIGN => {
                let name_end = start + found.len();
                at = name_end;
                let Some(current) = extras.last_mut().filter(|_| in_entry) else {
                    continue;
                };
                if !bytes
                    .get(name_end)
                    .is_some_and(|&b| b == b'>' || b == b'/' || b.is_ascii_whitespace())
                {
                    continue;
                }
                let Some(tag_len) = memchr::memchr(b'>', &bytes[name_end..]) else {
                    break;
                };
                let tag_end = name_end + tag_len + 1;
                at = tag_end;
                let name = &text[start + 1..name_end];
                let attributes = &text[name_end..tag_end - 1];
                if let Some(i) = NAMESPACES.iter().position(|(p, _)| name.starts_with(p)) {
                    prefixes |= 1 << i;
                }
                // A guid's and an iTunes category's content is not read: the one is feed-rs's,
                // the other holds the subcategories, met next.
                let inner =
                    if attributes.ends_with('/') || matches!(name, "guid" | "itunes:category") {
                        None
                    } else {
                        ends.end_of(name, tag_end).map(|close| {
                            at = close;
                            &text[tag_end..close]
                        })
                    };
                super::extras::record(current, name, attributes, inner);
                continue;
            }
            _ => {}
        }
        let name_end = start + found.len();
        // `<title` must be the whole name: `<titles`, `<content:encoded` are other elements.
        if !bytes
            .get(name_end)
            .is_some_and(|&b| b == b'>' || b == b'/' || b.is_ascii_whitespace())
        {
            at = name_end;
            continue;
        }
        let name = &text[start + 1..name_end];
        let Some(tag_len) = memchr::memchr(b'>', &bytes[name_end..]) else {
            break;
        };
        let tag_end = name_end + tag_len + 1;
        let attributes = &text[name_end..tag_end - 1];
        at = tag_end;
        if attributes.ends_with('/') {
            continue;
        }
        if ENTRY_ELEMENTS.contains(&name) {
            if entries == MAX_ENTRIES {
                // Everything from this entry to the end of the last one goes; what follows
                // the last (the closing tags) stays, so the document is still whole. Without
                // an end tag after here, the entries are unclosed and the rest goes.
                let last_end = last_entry_end(text)
                    .filter(|&end| end > start)
                    .unwrap_or(text.len());
                cut_entries = count_entries(&text[start..last_end]);
                let out = out.get_or_insert_with(|| String::with_capacity(text.len() + 256));
                out.push_str(&text[copied..start]);
                copied = last_end;
                at = last_end;
                continue;
            }
            entries += 1;
            extras.push(Extras::default());
            in_entry = true;
            if format == Format::Rdf && name == "item" {
                rdf_about.push(
                    attribute(attributes, "rdf:about")
                        .or_else(|| attribute(attributes, "about"))
                        .map(|v| decode_attribute(v).into_owned()),
                );
                let out = out.get_or_insert_with(|| String::with_capacity(text.len() + 256));
                out.push_str(&text[copied..tag_end]);
                out.push_str("<link>");
                out.push_str(RDF_PLACEHOLDER);
                out.push_str("</link>");
                copied = tag_end;
            }
            continue;
        }
        if name == LINK && format != Format::Atom {
            continue;
        }
        let Some(close) = ends.end_of(name, tag_end) else {
            continue;
        };
        let inner = &text[tag_end..close];
        if name == LINK {
            let href = inner.trim();
            if attribute(attributes, "href").is_some() || href.is_empty() || href.contains('<') {
                continue;
            }
            let out = out.get_or_insert_with(|| String::with_capacity(text.len() + 256));
            out.push_str(&text[copied..tag_end - 1]);
            out.push_str(" href=\"");
            out.push_str(&href.replace('"', "&quot;"));
            out.push_str("\">");
            copied = tag_end;
            at = close;
            continue;
        }
        let Some((new_tag, new_inner)) = fix_element(name, attributes, inner, format) else {
            continue;
        };
        let out = out.get_or_insert_with(|| String::with_capacity(text.len() + 256));
        out.push_str(&text[copied..start]);
        match new_tag {
            Some(tag) => out.push_str(&tag),
            None => out.push_str(&text[start..tag_end]),
        }
        match new_inner {
            Some(inner) => out.push_str(&inner),
            None => out.push_str(inner),
        }
        copied = close;
        at = close;
    }
    let text = match out {
        Some(mut out) => {
            out.push_str(&text[copied..]);
            Cow::Owned(out)
        }
        None => Cow::Borrowed(text),
    };
    let declared = |i: usize| {
        let uri = NAMESPACES[i].1;
        memchr::memmem::find(bytes, uri.as_bytes()).is_some()
            || (i == 2 && memchr::memmem::find(bytes, ITUNES_CAPITALISED.as_bytes()).is_some())
    };
    if (0..NAMESPACES.len()).any(|i| prefixes & (1 << i) != 0 && !declared(i)) {
        extras.clear();
    }
    Repaired {
        text,
        entries,
        cut_entries,
        rdf_about,
        extras,
    }
}

/// The end of the document's last `</item>` or `</entry>`.
fn last_entry_end(text: &str) -> Option<usize> {
    ENTRY_ENDS
        .iter()
        .filter_map(|end| {
            memchr::memmem::rfind(text.as_bytes(), end.as_bytes()).map(|at| at + end.len())
        })
        .max()
}

/// Item and entry start tags in `text`, in one pass.
fn count_entries(text: &str) -> usize {
    let bytes = text.as_bytes();
    ENTRY_ELEMENTS
        .iter()
        .map(|name| {
            let tag = format!("<{name}");
            memchr::memmem::find_iter(bytes, tag.as_bytes())
                .filter(|&at| {
                    bytes
                        .get(at + tag.len())
                        .is_some_and(|&b| b == b'>' || b.is_ascii_whitespace())
                })
                .count()
        })
        .sum()
}

/// `text` with every `&` that starts no reference written `&amp;`, outside CDATA sections and
/// comments; None when there is none. A bare `&` (an address's query string pasted into a
/// `<link>`) is the commonest way a feed stops being XML, and one of them makes the XML
/// reader refuse the whole document. Used only after the reader refused it.
pub fn escape_bare_ampersands(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut at = 0;
    let mut quoted = Quoted::new(bytes);
    while let Some(found) = memchr::memchr(b'&', &bytes[at..]) {
        let amp = at + found;
        if let Some((start, end)) = quoted.next(at)
            && start < amp
        {
            at = end;
            continue;
        }
        at = amp + 1;
        if starts_reference(&bytes[amp + 1..]) {
            continue;
        }
        let out = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
        out.push_str(&text[copied..amp]);
        out.push_str("&amp;");
        copied = amp + 1;
    }
    let mut out = out?;
    out.push_str(&text[copied..]);
    Some(out)
}

/// The CDATA sections and comments of a text, found in order. The next opening of each kind
/// is remembered until passed, so the whole text is searched once for each, however many
/// times the caller asks.
struct Quoted<'t> {
    bytes: &'t [u8],
    /// The next `<![CDATA[` and `<!--` at or after where each was last searched from
    /// (None: there is none), once searched.
    cdata: Option<Option<usize>>,
    comment: Option<Option<usize>>,
}

impl<'t> Quoted<'t> {
    fn new(bytes: &'t [u8]) -> Self {
        Quoted {
            bytes,
            cdata: None,
            comment: None,
        }
    }

    fn next_of(
        bytes: &[u8],
        cache: &mut Option<Option<usize>>,
        needle: &[u8],
        from: usize,
    ) -> Option<usize> {
        match *cache {
            Some(None) => return None,
            Some(Some(at)) if at >= from => return Some(at),
            _ => {}
        }
        let found = memchr::memmem::find(&bytes[from..], needle).map(|i| from + i);
        *cache = Some(found);
        found
    }

    /// The first CDATA section or comment starting at or after `from`: (start, end past its
    /// close; the text's end when unclosed).
    fn next(&mut self, from: usize) -> Option<(usize, usize)> {
        let cdata = Self::next_of(self.bytes, &mut self.cdata, b"<![CDATA[", from);
        let comment = Self::next_of(self.bytes, &mut self.comment, b"<!--", from);
        let (start, close): (usize, &[u8]) = match (cdata, comment) {
            (Some(a), Some(b)) if b < a => (b, b"-->"),
            (Some(a), _) => (a, b"]]>"),
            (None, Some(b)) => (b, b"-->"),
            (None, None) => return None,
        };
        let end = memchr::memmem::find(&self.bytes[start..], close)
            .map_or(self.bytes.len(), |i| start + i + close.len());
        Some((start, end))
    }
}

/// Whether the bytes after an `&` make a reference: `#123;`, `#x1F;` or `name;`.
fn starts_reference(rest: &[u8]) -> bool {
    let body_len = rest.iter().take(32).take_while(|&&b| b != b';').count();
    if rest.get(body_len) != Some(&b';') || body_len == 0 {
        return false;
    }
    let body = &rest[..body_len];
    match body {
        [b'#', b'x' | b'X', hex @ ..] => !hex.is_empty() && hex.iter().all(u8::is_ascii_hexdigit),
        [b'#', digits @ ..] => !digits.is_empty() && digits.iter().all(u8::is_ascii_digit),
        [first, rest @ ..] => {
            (first.is_ascii_alphabetic() || *first == b'_')
                && rest
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        }
        [] => false,
    }
}

/// Start tags of entries under a prefix (`<r:item>`, `<atom:entry>`), outside CDATA sections
/// and comments. The repair pass does not look for them (a pattern starting with `:` would
/// slow it down on every URL); the parse stage counts them only when a document gave no
/// items, to say how many it held.
pub fn prefixed_entries(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut quoted = Quoted::new(bytes);
    let mut count = 0;
    let mut at = 0;
    while let Some(found) = memchr::memchr(b':', &bytes[at..]) {
        let colon = at + found;
        if let Some((start, end)) = quoted.next(at)
            && start < colon
        {
            at = end;
            continue;
        }
        at = colon + 1;
        let rest = &bytes[colon + 1..];
        let name_len = ENTRY_ELEMENTS
            .iter()
            .find(|name| rest.starts_with(name.as_bytes()))
            .map(|name| name.len());
        if let Some(len) = name_len
            && rest
                .get(len)
                .is_some_and(|&b| b == b'>' || b.is_ascii_whitespace())
            && is_prefixed_start_tag(bytes, colon)
        {
            count += 1;
        }
    }
    count
}

/// Whether the `:` at `colon` follows `<prefix`, a start tag's prefix (not an end tag's, not
/// an attribute's).
fn is_prefixed_start_tag(bytes: &[u8], colon: usize) -> bool {
    let prefix = bytes[..colon]
        .iter()
        .rev()
        .take(64)
        .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        .count();
    prefix > 0 && colon > prefix && bytes[colon - prefix - 1] == b'<'
}

/// How an Atom text construct's content is to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    Html,
    Xhtml,
    Base64 { html: bool },
}

/// The Atom reading of `type` and Atom 0.3's `mode`.
fn atom_kind(kind: Option<&str>, mode: Option<&str>) -> Kind {
    let kind = kind.map(|k| k.trim().to_ascii_lowercase());
    let mode = mode.map(|m| m.trim().to_ascii_lowercase());
    let kind = kind.as_deref();
    let textual = |k: Option<&str>| match k {
        None | Some("" | "text" | "text/plain") => Kind::Text,
        Some("html" | "text/html") => Kind::Html,
        Some("xhtml" | "application/xhtml+xml") => Kind::Xhtml,
        Some(k) if k.ends_with("+xml") || k.ends_with("/xml") => Kind::Xhtml,
        Some(k) if k.starts_with("text/") => Kind::Text,
        // RFC 4287 4.1.3.3: any other media type is carried base64-encoded.
        Some(_) => Kind::Base64 { html: true },
    };
    match mode.as_deref() {
        Some("base64") => Kind::Base64 {
            html: !matches!(textual(kind), Kind::Text),
        },
        Some("escaped") => match textual(kind) {
            Kind::Text => Kind::Text,
            _ => Kind::Html,
        },
        Some("xml") => Kind::Xhtml,
        _ => textual(kind),
    }
}

/// The new start tag and content of one text element, or None to leave it as it is.
#[allow(clippy::type_complexity)]
fn fix_element(
    name: &str,
    attributes: &str,
    inner: &str,
    format: Format,
) -> Option<(Option<String>, Option<String>)> {
    if format != Format::Atom {
        return has_child_elements(inner).then(|| (None, Some(escape_markup(inner))));
    }
    if attribute(attributes, "src").is_some() {
        return None;
    }
    let written = attribute(attributes, "type");
    let mode = attribute(attributes, "mode");
    let kind = atom_kind(written, mode);
    let (kind, inner) = match kind {
        Kind::Base64 { html } => {
            let decoded = decode_base64(inner).unwrap_or_default();
            let kind = if html { "html" } else { "text" };
            (kind, Some(escape_text(&decoded)))
        }
        Kind::Xhtml => ("xhtml", None),
        Kind::Text if has_child_elements(inner) => ("html", Some(escape_markup(inner))),
        Kind::Html if has_child_elements(inner) => ("html", Some(escape_markup(inner))),
        Kind::Text => ("text", None),
        Kind::Html => ("html", None),
    };
    if written == Some(kind) && mode.is_none() && inner.is_none() {
        return None;
    }
    if written.is_none() && mode.is_none() && kind == "text" && inner.is_none() {
        return None;
    }
    let mut tag = String::with_capacity(attributes.len() + name.len() + 16);
    tag.push('<');
    tag.push_str(name);
    tag.push_str(&without_attributes(attributes, &["type", "mode"]));
    tag.push_str(" type=\"");
    tag.push_str(kind);
    tag.push_str("\">");
    Some((Some(tag), inner))
}

/// Whether `inner` holds an element (not only text, CDATA sections and comments).
pub(crate) fn has_child_elements(inner: &str) -> bool {
    let bytes = inner.as_bytes();
    let mut at = 0;
    while let Some(found) = memchr::memchr(b'<', &bytes[at..]) {
        let lt = at + found;
        let rest = &bytes[lt + 1..];
        if rest.starts_with(b"![CDATA[") {
            match memchr::memmem::find(rest, b"]]>") {
                Some(end) => at = lt + 1 + end + 3,
                None => return false,
            }
        } else if rest.starts_with(b"!--") {
            match memchr::memmem::find(rest, b"-->") {
                Some(end) => at = lt + 1 + end + 3,
                None => return false,
            }
        } else if rest
            .first()
            .is_some_and(|&b| b.is_ascii_alphabetic() || b == b'/')
        {
            return true;
        } else {
            at = lt + 1;
        }
    }
    false
}

/// Markup as the text of an element: the markup escaped once, so that the element's text is
/// the markup itself. Inside a CDATA section the text is literal, so it is escaped twice
/// (once for the HTML it becomes part of, once for XML).
fn escape_markup(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len() + inner.len() / 8);
    let mut rest = inner;
    while let Some(start) = rest.find("<![CDATA[") {
        escape_into(&rest[..start], &mut out);
        let body = &rest[start + 9..];
        let end = body.find("]]>").unwrap_or(body.len());
        escape_into(&escape_text(&body[..end]), &mut out);
        rest = body.get(end + 3..).unwrap_or("");
    }
    escape_into(rest, &mut out);
    out
}

fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(text, &mut out);
    out
}

/// Base64 content as text: whitespace ignored, padding optional; None unless it decodes to
/// UTF-8.
fn decode_base64(inner: &str) -> Option<String> {
    let inner = inner.trim();
    let inner = inner
        .strip_prefix("<![CDATA[")
        .and_then(|i| i.strip_suffix("]]>"))
        .unwrap_or(inner);
    let compact: Vec<u8> = inner.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine.decode(compact).ok()?;
    String::from_utf8(bytes).ok()
}

/// The value of attribute `name` in a start tag's attribute text, as written (entities not
/// decoded).
pub fn attribute<'a>(attributes: &'a str, name: &str) -> Option<&'a str> {
    attribute_spans(attributes)
        .find(|(n, _, _)| *n == name)
        .map(|(_, value, _)| value)
}

/// (name, value, whole span) of each attribute, in order.
fn attribute_spans(
    attributes: &str,
) -> impl Iterator<Item = (&str, &str, std::ops::Range<usize>)> + '_ {
    let bytes = attributes.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            while at < bytes.len() && bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            if at >= bytes.len() {
                return None;
            }
            let start = at;
            while at < bytes.len() && !bytes[at].is_ascii_whitespace() && bytes[at] != b'=' {
                at += 1;
            }
            let name = &attributes[start..at];
            while at < bytes.len() && bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            if bytes.get(at) != Some(&b'=') {
                // A name without a value (or a stray `/`): not an attribute to read.
                if name.is_empty() {
                    at += 1;
                }
                continue;
            }
            at += 1;
            while at < bytes.len() && bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            let quote = *bytes.get(at)?;
            if quote != b'"' && quote != b'\'' {
                return None;
            }
            let value_start = at + 1;
            let len = memchr::memchr(quote, &bytes[value_start..])?;
            at = value_start + len + 1;
            return Some((name, &attributes[value_start..value_start + len], start..at));
        }
    })
}

/// The attribute text without the named attributes.
fn without_attributes(attributes: &str, names: &[&str]) -> String {
    let mut out = String::with_capacity(attributes.len());
    let mut copied = 0;
    for (name, _, span) in attribute_spans(attributes) {
        if names.contains(&name) {
            // The removed attribute's leading space goes with it.
            out.push_str(attributes[copied..span.start].trim_end());
            copied = span.end;
        }
    }
    out.push_str(&attributes[copied..]);
    out.trim_end().to_owned()
}

/// An attribute value with XML's predefined and numeric references decoded.
fn decode_attribute(value: &str) -> Cow<'_, str> {
    if value.contains('&') {
        html_escape::decode_html_entities(value)
    } else {
        Cow::Borrowed(value)
    }
}

#[cfg(test)]
mod tests;
