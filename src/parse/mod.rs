//! The parse stage: feed bytes in, normalised items (or one clear error) out. No IO, no async.
//!
//! feed-rs reads the formats (RSS 0.9x, 1.0 and 2.0, Atom 0.3 and 1.0, JSON Feed 1.0 and 1.1).
//! Around it, this module does what feed-rs leaves to its caller or gets wrong on real feeds:
//!
//! - **Encoding** ([`encoding`]): the bytes are decoded once, to UTF-8, choosing the encoding
//!   from the BOM, then the XML declaration, then the HTTP charset, then valid UTF-8, else
//!   detection. The XML declaration is then cut off (with any whitespace before it, which
//!   strict XML rejects), so feed-rs, which would otherwise decode the UTF-8 text again as
//!   the declared encoding, reads UTF-8. A later `<?xml ...?>` outside CDATA and comments is
//!   cut too: feed-rs 3 switches decoders on every declaration it meets and panics when that
//!   happens past the document's first 64 bytes.
//! - **Document kind** ([`prolog`]): an HTML page served at a feed URL (root `<html>`,
//!   `<head>` or `<body>`, or an HTML DOCTYPE) is [`ParseError::NotAFeed`] naming what was
//!   found; so is any other root element feed-rs does not read, or plain text.
//! - **Lenient cases**, each documented where it is handled:
//!   - `<rss>` without a `version`, or with one feed-rs rejects (`0.9`, `0.93`), is read as
//!     RSS 2.0, which is a superset of 0.9x.
//!   - Atom 0.3 (`http://purl.org/atom/ns#`) and RSS 0.90
//!     (`http://my.netscape.com/rdf/simple/0.9/`) are read as Atom 1.0 and RSS 1.0 by renaming
//!     their namespace on the root element (feed-rs ignores every element in a namespace it
//!     does not know); Atom 0.3's `issued` and `modified` become `published` and `updated`.
//!   - An Atom `<feed>` wrapped in an XHTML page (`<html><body><feed>...</feed></body></html>`,
//!     as some blog engines serve it) is parsed leniently when the `<feed>` start tag declares
//!     the Atom 1.0 namespace: the `<feed>` element is cut out and read as the document (if
//!     that fails, the error is the HTML page's `NotAFeed`). The wrapper is a publisher's
//!     mistake that the publisher will not fix, and the entries inside are intact; refusing
//!     it would silence the source.
//!   - Undeclared legacy encodings are detected rather than rejected.
//! - **Repairs** ([`repair`]) before feed-rs: unescaped markup in text elements, Atom `type`
//!   and `mode` values feed-rs refuses, base64 Atom text, Atom links written as content, RSS
//!   1.0 items without a link; RSS 2.0 in UserLand's or Harvard's namespace and the
//!   capitalised iTunes namespace are renamed on the root; items straight under `<rss>` get
//!   their `<channel>`; a document refused for a bare `&` is read again with it escaped.
//! - **Extras** ([`extras`]), read in the repair pass and used after feed-rs: categories from `dc:subject`, Media RSS and
//!   iTunes, DC and Media RSS titles and descriptions, `dc:author`, DC Terms dates,
//!   `<body>`/`<xhtml:body>`/`<fullitem>` content, and the guid as link unless
//!   `isPermaLink="false"`.
//! - **Warnings** ([`ParseWarning`]): entries in the document that did not become items.
//! - **Display text**: title, summary and content go through [`crate::text::html_to_text`]
//!   (titles carry HTML too), Atom `type="text"` through [`crate::text::plain_to_text`]; text
//!   that was UTF-8 encoded twice is undone; authors and categories have their whitespace
//!   collapsed, and an author's `(email)` is dropped.
//! - **Dates** ([`date`]): feed-rs's lenient date reader is replaced by one that takes a date
//!   chrono reads strictly as it is and hands any other to feed-rs's own, with the same
//!   results at a fraction of the cost.
//! - **Identity** ([`ParsedItem::key`]) and [`canonical_link`] ([`link`]).
//!
//! Entity declarations are never expanded: quick-xml, under feed-rs, leaves references to
//! entities other than the five predefined ones as text (`&lol9;`), so a "billion laughs"
//! document costs what its bytes cost. Work and memory are linear in the input. Nesting is
//! bounded by the parsers, not the stack: quick-xml refuses XML nested deeper than 65,535
//! elements and serde_json JSON deeper than 128 (both `Invalid`). Input size is the fetch
//! stage's to cap.
//!
//! Keys and hashes hash each field as its length (8 bytes, little-endian) then its UTF-8
//! bytes, so no two different field lists hash the same bytes.

pub mod date;
pub mod encoding;
pub mod extras;
pub mod json_items;
pub mod link;
pub mod prolog;
pub mod redirect;
pub mod repair;

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use feed_rs::parser::{ParseErrorKind, ParseFeedError};
use sha2::{Digest, Sha256};

use crate::error::ErrorKind;
use crate::text::html_to_text;
pub use link::{canonical_link, canonical_link_against};
use prolog::{Prolog, Shape};
use repair::Format;

/// A feed as the later stages need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedFeed {
    pub title: Option<String>,
    /// RSS `<ttl>` in minutes, when the feed gives one (a floor on the poll interval).
    pub ttl_minutes: Option<u32>,
    pub items: Vec<ParsedItem>,
    /// What the document held that did not become an item: never silent, the store records it
    /// on the feed.
    pub warnings: Vec<ParseWarning>,
}

impl ParsedFeed {
    /// Keeps the first item of each key, in document order, and warns
    /// ([`ParseWarning::RepeatedKeys`]) of later ones with other text; a later copy with the
    /// same text goes without a word, since it loses nothing. The parse itself gives every
    /// entry, as the document has them; the pipeline calls this before anything is stored,
    /// because one key is one stored item: were both kept, each poll would find the other
    /// text changed and write it over the row, and the row's hits would point at whichever
    /// text came last. A feed lists its newest version first.
    pub fn keep_first_of_each_key(&mut self) {
        // Decided on borrowed keys first, then applied: no key or hash is copied.
        let mut first_hash: std::collections::HashMap<&str, &str> =
            std::collections::HashMap::with_capacity(self.items.len());
        let mut repeated = 0;
        let keep: Vec<bool> = self
            .items
            .iter()
            .map(|item| match first_hash.get(item.key.as_str()) {
                Some(hash) => {
                    repeated += usize::from(*hash != item.content_hash);
                    false
                }
                None => {
                    first_hash.insert(&item.key, &item.content_hash);
                    true
                }
            })
            .collect();
        let mut keep = keep.into_iter();
        self.items.retain(|_| keep.next().unwrap_or(true));
        if repeated > 0 {
            self.warnings
                .push(ParseWarning::RepeatedKeys { items: repeated });
        }
    }
}

/// A document that parsed, but not whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseWarning {
    /// The document has entries (`found` item or entry elements) and none became an item.
    NoItems { found: usize },
    /// Fewer items than entries in the document.
    EntriesDropped { found: usize, read: usize },
    /// Items with more text, authors or categories than an item may carry: each was cut to
    /// the limits ([`ItemLimits`]) and kept.
    ItemsCut { items: usize },
    /// More entries than a document may give ([`repair::MAX_ENTRIES`]): the first `kept`
    /// were read, `cut` more never were.
    TooManyEntries { kept: usize, cut: usize },
    /// Entries that gave the key of an earlier entry of the document (its id, else its link)
    /// with other text: each was left out for the first, since one key is one stored item
    /// (kept, the two would take turns as its text at every poll).
    RepeatedKeys { items: usize },
}

impl ParseWarning {
    /// Every kind, for gauges that report zero as well.
    pub const KINDS: [&'static str; 5] = [
        "no_items",
        "entries_dropped",
        "items_cut",
        "too_many_entries",
        "repeated_keys",
    ];

    /// A stable name for the kind, as stored and as a metrics label.
    pub fn kind(&self) -> &'static str {
        match self {
            ParseWarning::NoItems { .. } => "no_items",
            ParseWarning::EntriesDropped { .. } => "entries_dropped",
            ParseWarning::ItemsCut { .. } => "items_cut",
            ParseWarning::TooManyEntries { .. } => "too_many_entries",
            ParseWarning::RepeatedKeys { .. } => "repeated_keys",
        }
    }
}

impl std::fmt::Display for ParseWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseWarning::NoItems { found } => write!(
                f,
                "no items read from a document with {found} item or entry elements"
            ),
            ParseWarning::EntriesDropped { found, read } => write!(
                f,
                "{} of {found} item or entry elements dropped",
                found.saturating_sub(*read)
            ),
            ParseWarning::ItemsCut { items } => write!(
                f,
                "{items} item{} cut to the limits of an item (title {} KB, summary {} KB, \
                 content {} KB, {} authors, {} categories)",
                if *items == 1 { "" } else { "s" },
                ItemLimits::TITLE_BYTES / 1024,
                ItemLimits::SUMMARY_BYTES / 1024,
                ItemLimits::CONTENT_BYTES / 1024,
                ItemLimits::AUTHORS,
                ItemLimits::CATEGORIES,
            ),
            ParseWarning::TooManyEntries { kept, cut } => write!(
                f,
                "{} entries in one document: the first {kept} read, {cut} more left out",
                kept + cut
            ),
            ParseWarning::RepeatedKeys { items } => write!(
                f,
                "{items} {} the id (or link) of an earlier entry with other text: the \
                 first of each kept",
                if *items == 1 {
                    "entry gives"
                } else {
                    "entries give"
                }
            ),
        }
    }
}

/// What one item may carry. Every later stage (matching, NEAR positions, evidence, the store,
/// mail) costs in proportion to an item's text and lists, so a hostile entry of megabytes, or
/// of 200,000 categories, is cut here, once, and the cut is reported on the feed. The limits
/// sit far above real news: a long article's full text is some 60 KB.
pub struct ItemLimits;

impl ItemLimits {
    pub const TITLE_BYTES: usize = 2 * 1024;
    pub const SUMMARY_BYTES: usize = 64 * 1024;
    pub const CONTENT_BYTES: usize = 256 * 1024;
    pub const AUTHORS: usize = 16;
    pub const CATEGORIES: usize = 64;
    /// One author's name or one category.
    pub const NAME_BYTES: usize = 256;
    /// An id longer than this keys the item by its hash instead.
    pub const GUID_BYTES: usize = 1024;
}

/// Cuts `text` to at most `max` bytes, on a character boundary; whether it cut.
fn cut_to(text: &mut String, max: usize) -> bool {
    if text.len() <= max {
        return false;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    true
}

/// One entry of a feed, with display text ready for matching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedItem {
    /// Stable identity within a feed: `"guid:<guid>"` when the entry has an id/guid, else
    /// `"link:<canonical link>"`, else `"hash:<hex sha256 of title and summary display text>"`.
    pub key: String,
    /// Canonical link: absolute (resolved against the feed URL), http/https only, fragment and
    /// tracking parameters (utm_*, fbclid, gclid, mc_cid, mc_eid, ref, cmpid, ocid, ...) removed,
    /// host lowercased. None if the entry has no usable link.
    pub link: Option<String>,
    /// Display text: [`crate::text::html_to_text`] applied.
    pub title: String,
    /// Display text.
    pub summary: String,
    /// Display text.
    pub content: String,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    /// Hex SHA-256 over title, summary, content, authors, categories, link: lets the store see
    /// an updated item (same key, changed text).
    pub content_hash: String,
}

/// Why a document gave no feed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Zero bytes.
    #[error("empty document (zero bytes)")]
    Empty,
    /// A document that is not a feed: an HTML page, another XML vocabulary, plain text.
    /// `found` says what it was, e.g. `an HTML page (<html>)`.
    #[error("{found}, not a feed")]
    NotAFeed { found: String },
    /// A feed the parser could not read: the parser's message, and where, when known (line and
    /// column are 1-based, in the decoded text).
    #[error("invalid feed{}: {message}", location(*.line, *.column))]
    Invalid {
        message: String,
        line: Option<u64>,
        column: Option<u64>,
    },
}

impl ParseError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ParseError::Empty => ErrorKind::Empty,
            ParseError::NotAFeed { .. } => ErrorKind::NotAFeed,
            ParseError::Invalid { .. } => ErrorKind::Parse,
        }
    }
}

fn location(line: Option<u64>, column: Option<u64>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" at line {line}, column {column}"),
        (Some(line), None) => format!(" at line {line}"),
        _ => String::new(),
    }
}

impl ParseError {
    fn not_a_feed(found: impl Into<String>) -> Self {
        ParseError::NotAFeed {
            found: found.into(),
        }
    }
}

/// Parses a feed document. `content_type` is the HTTP Content-Type (for its charset);
/// `feed_url` is where the document came from (relative links resolve against it, and its
/// top-level domain hints encoding detection).
pub fn parse_feed(
    bytes: &[u8],
    content_type: Option<&str>,
    feed_url: &str,
) -> Result<ParsedFeed, ParseError> {
    parse_feed_with(bytes, content_type, feed_url, date::parse_timestamp)
}

/// [`parse_feed`] with another reader of entry dates: lets tests hold [`date::parse_timestamp`]
/// to feed-rs's own on whole feeds.
pub fn parse_feed_with(
    bytes: &[u8],
    content_type: Option<&str>,
    feed_url: &str,
    timestamps: fn(&str) -> Option<DateTime<Utc>>,
) -> Result<ParsedFeed, ParseError> {
    if bytes.is_empty() {
        return Err(ParseError::Empty);
    }
    let base = url::Url::parse(feed_url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    let tld = base.as_ref().and_then(|u| match u.host() {
        Some(url::Host::Domain(domain)) => domain.rsplit('.').next().map(str::to_owned),
        _ => None,
    });
    let decoded = encoding::decode(bytes, content_type, tld.as_deref());
    let document = prepare(&decoded.text)?;

    // feed-rs resolves links against the base itself, and clones the base URL into every
    // element it reads to do so; `canonical_link_against` resolves the links this stage keeps
    // against the same base, with the same result. The base is only needed by feed-rs for a
    // relative `xml:base`, which it resolves against the base.
    let xml_base = memchr::memmem::find(document.text.as_bytes(), b"xml:base").is_some();
    // A parser that failed mid-entry keeps its Media RSS state and panics when used again,
    // so every attempt gets its own.
    let parser = || {
        feed_rs::parser::Builder::new()
            .base_uri(base.as_ref().filter(|_| xml_base).map(url::Url::as_str))
            // An empty id marks an entry without one; the key falls back to its link or hash.
            .id_generator(|_, _, _| String::new())
            .timestamp_parser(timestamps)
            .sanitize_content(false)
            .build()
    };
    let repaired = match document.format {
        Some(format) => repair::repair(&document.text, format),
        None => match json_items::cut_items(&document.text) {
            Some(cut) => repair::Repaired {
                text: Cow::Owned(cut.text),
                entries: cut.kept,
                cut_entries: cut.cut,
                rdf_about: Vec::new(),
                extras: Vec::new(),
            },
            None => repair::Repaired {
                text: Cow::Borrowed(&document.text),
                entries: 0,
                cut_entries: 0,
                rdf_about: Vec::new(),
                extras: Vec::new(),
            },
        },
    };
    let run = |text: &str| {
        contain_panics(|| parser().parse(text.as_bytes())).map_err(|panic| ParseError::Invalid {
            message: format!(
                "the feed parser failed on this document ({})",
                panic_message(&panic)
            ),
            line: None,
            column: None,
        })
    };
    let mut parsed = run(&repaired.text)?;
    let mut read_text: Cow<'_, str> = Cow::Borrowed(&repaired.text);
    if let Err(ParseFeedError::XmlReader(_)) = &parsed
        && let Some(escaped) = repair::escape_bare_ampersands(&repaired.text)
    {
        // One bare `&` refuses the whole document; with it escaped the document may read.
        // The error, if it still does not, is the original one, at its original place.
        if let Ok(Ok(feed)) = run(&escaped) {
            parsed = Ok(feed);
            read_text = Cow::Owned(escaped);
        }
    }
    let feed = parsed.map_err(|e| invalid(e, &document))?;
    let context = Context {
        format: document.format,
        text: &read_text,
        rdf_about: &repaired.rdf_about,
        entries_in_document: repaired.entries,
        cut_entries: repaired.cut_entries,
        extras: &repaired.extras,
    };
    Ok(convert(feed, base.as_ref(), &context))
}

thread_local! {
    /// Set while feed-rs runs on this thread: its panics are contained (see [`contain_panics`]).
    static CONTAINING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs feed-rs, turning a panic into an error. feed-rs panics on some inputs (an e-mail
/// address next to a non-ASCII letter in an author field, for one): that is one feed's broken
/// document, not a reason to stop the daemon. Every other panic still ends the process
/// ([`panics_are_contained`] lets the binary's panic hook tell the two apart).
fn contain_panics<T>(run: impl FnOnce() -> T) -> std::thread::Result<T> {
    CONTAINING.with(|c| c.set(true));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run));
    CONTAINING.with(|c| c.set(false));
    outcome
}

/// Whether a panic on this thread happens inside feed-rs, where the parse stage catches it.
pub fn panics_are_contained() -> bool {
    CONTAINING.with(std::cell::Cell::get)
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("no message")
}

/// The text handed to feed-rs, and how its lines map back to the decoded document.
struct Document<'a> {
    text: Cow<'a, str>,
    /// Line breaks cut from before `text`.
    lines_before: u64,
    /// The HTML root element when `text` is an Atom feed cut out of an HTML page: if feed-rs
    /// cannot read it, the document is reported as the HTML page it is.
    html_root: Option<&'a str>,
    /// The XML format the root element names; None for JSON.
    format: Option<Format>,
}

impl<'a> Document<'a> {
    fn cut(full: &'a str, start: usize, text: Cow<'a, str>) -> Self {
        let lines_before = full.as_bytes()[..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        Document {
            text,
            lines_before,
            html_root: None,
            format: None,
        }
    }
}

/// Decides what the decoded text is and returns what feed-rs should read.
fn prepare(text: &str) -> Result<Document<'_>, ParseError> {
    let prolog = match prolog::shape(text) {
        Shape::Blank => {
            return Err(ParseError::not_a_feed(format!(
                "only whitespace ({} bytes)",
                text.len()
            )));
        }
        Shape::Json => {
            let json =
                text.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\u{feff}');
            let start = text.len() - json.len();
            return Ok(Document::cut(text, start, Cow::Borrowed(json)));
        }
        Shape::Text(start) => {
            return Err(ParseError::not_a_feed(format!("text starting {start:?}")));
        }
        Shape::Markup(prolog) => prolog,
    };
    let Prolog {
        content_start,
        doctype,
        root,
    } = prolog;
    let html_doctype = doctype.is_some_and(|d| d.eq_ignore_ascii_case("html"));
    let Some(root) = root else {
        if html_doctype {
            return Err(ParseError::not_a_feed("an HTML page (<!DOCTYPE html>)"));
        }
        return Err(ParseError::Invalid {
            message: "no root element".into(),
            line: None,
            column: None,
        });
    };
    let local = root.local_name();
    if html_doctype
        || ["html", "head", "body"]
            .iter()
            .any(|h| local.eq_ignore_ascii_case(h))
    {
        if local.eq_ignore_ascii_case("html")
            && let Some(feed) = wrapped_atom_feed(text, root.tag.end)
        {
            let slice = &text[feed.clone()];
            let mut document = Document::cut(text, feed.start, without_declarations(slice));
            document.html_root = Some(root.name);
            document.format = Some(Format::Atom);
            return Ok(document);
        }
        return Err(ParseError::not_a_feed(format!(
            "an HTML page (<{}>)",
            root.name
        )));
    }
    let tag = &text[root.tag.clone()];
    // What feed-rs would misread, and the root start tag that makes it read right.
    let fixed_tag: Option<String> = match local {
        "rss" => {
            let version = prolog::attribute(tag, "version");
            match version.clone().map(|r| &tag[r]) {
                Some("2.0" | "" | "0.91" | "0.92") => None,
                // feed-rs only reads <rss> with version 2.0, 0.91 or 0.92; RSS 2.0 reads the
                // others (0.9, 0.93, 0.94, none at all) as well, being their superset.
                Some(_) => version.map(|v| format!("{}2.0{}", &tag[..v.start], &tag[v.end..])),
                None => {
                    let name_end = 1 + root.name.len();
                    Some(format!(
                        "{} version=\"2.0\"{}",
                        &tag[..name_end],
                        &tag[name_end..]
                    ))
                }
            }
        }
        // Atom 0.3 and RSS 0.90 use namespaces feed-rs does not know; their elements are
        // those of Atom 1.0 and RSS 1.0 (Atom 0.3's dates are renamed below).
        "feed" | "entry" => tag.contains(ATOM_03).then(|| tag.replace(ATOM_03, ATOM_10)),
        "RDF" => tag.contains(RSS_090).then(|| tag.replace(RSS_090, RSS_10)),
        _ => {
            return Err(ParseError::not_a_feed(format!(
                "an XML document whose root element is <{}>",
                root.name
            )));
        }
    };
    let format = match local {
        "rss" => Format::Rss,
        "RDF" => Format::Rdf,
        _ => Format::Atom,
    };
    // RSS 2.0 in UserLand's namespace (or Harvard's) is RSS 2.0; feed-rs reads only elements
    // in no namespace or RSS 1.0's, so the namespace is renamed to RSS 1.0's, whether it is
    // the default one or bound to a prefix.
    let fixed_tag = match RSS_2_NAMESPACES.iter().find(|ns| tag.contains(*ns)) {
        Some(ns) if local == "rss" => Some(fixed_tag.as_deref().unwrap_or(tag).replace(ns, RSS_10)),
        _ => fixed_tag,
    };
    // Apple's own examples spelled the iTunes namespace with capitals; namespaces compare
    // exactly, so feed-rs (and the extras reader) would not see any iTunes element.
    let fixed_tag = if tag.contains(ITUNES_CAPITALISED) {
        Some(
            fixed_tag
                .as_deref()
                .unwrap_or(tag)
                .replace(ITUNES_CAPITALISED, ITUNES),
        )
    } else {
        fixed_tag
    };
    let body = &text[content_start..];
    // Items straight under `<rss>`, without the `<channel>` RSS puts them in: feed-rs finds
    // no channel and refuses the document, items and all.
    let after_root = &text.as_bytes()[root.tag.end..];
    let channel_missing = local == "rss"
        && memchr::memmem::find(after_root, b"<channel").is_none()
        && memchr::memmem::find(after_root, b":channel").is_none();
    let fixed_tag = match fixed_tag {
        None if channel_missing => Some(tag.to_owned()),
        other => other,
    };
    let Some(fixed_tag) = fixed_tag else {
        let mut document = Document::cut(text, content_start, without_declarations(body));
        document.format = Some(format);
        return Ok(document);
    };
    let mut fixed = String::with_capacity(body.len() + 16);
    fixed.push_str(&text[content_start..root.tag.start]);
    fixed.push_str(&fixed_tag);
    let rest = &text[root.tag.end..];
    match rest.rfind("</").filter(|_| channel_missing) {
        Some(end) => {
            fixed.push_str("<channel>");
            fixed.push_str(&rest[..end]);
            fixed.push_str("</channel>");
            fixed.push_str(&rest[end..]);
        }
        None => fixed.push_str(rest),
    }
    if local != "rss" && fixed_tag.contains(ATOM_10) {
        for (old, new) in ATOM_03_DATES {
            fixed = fixed.replace(old, new);
        }
    }
    let fixed = match without_declarations(&fixed) {
        Cow::Borrowed(_) => fixed,
        Cow::Owned(cleaned) => cleaned,
    };
    let mut document = Document::cut(text, content_start, Cow::Owned(fixed));
    document.format = Some(format);
    Ok(document)
}

const ATOM_03: &str = "http://purl.org/atom/ns#";
const ATOM_10: &str = "http://www.w3.org/2005/Atom";
const RSS_090: &str = "http://my.netscape.com/rdf/simple/0.9/";
const RSS_10: &str = "http://purl.org/rss/1.0/";
const ITUNES: &str = "http://www.itunes.com/dtds/podcast-1.0.dtd";
const ITUNES_CAPITALISED: &str = "http://www.itunes.com/DTDs/Podcast-1.0.dtd";
/// Namespaces RSS 2.0 was published in before it settled on none.
const RSS_2_NAMESPACES: [&str; 3] = [
    "http://backend.userland.com/rss2",
    "http://backend.userland.com/rss",
    "http://blogs.law.harvard.edu/tech/rss",
];
/// Atom 0.3's entry dates under their Atom 1.0 names (`created` is dropped: `issued` is the
/// publication date).
const ATOM_03_DATES: [(&str, &str); 4] = [
    ("<issued>", "<published>"),
    ("</issued>", "</published>"),
    ("<modified>", "<updated>"),
    ("</modified>", "</updated>"),
];

/// The byte range of an Atom `<feed xmlns="http://www.w3.org/2005/Atom">...</feed>` inside an
/// HTML page, from `from` on. The namespace must be declared on the `<feed>` itself, so that a
/// page merely mentioning `<feed>` (in a script, say) stays a page.
fn wrapped_atom_feed(text: &str, from: usize) -> Option<std::ops::Range<usize>> {
    let mut at = from;
    let start = loop {
        let found = at + text.get(at..)?.find("<feed")?;
        let next = text.as_bytes().get(found + 5);
        // No `>` after this `<feed` means none after any later one either.
        let tag = &text[found..found + text[found..].find('>')?];
        if next.is_some_and(|c| c.is_ascii_whitespace()) && tag.contains(ATOM_10) {
            break found;
        }
        // Any `<feed` inside this tag is not a start tag: skip it all, which keeps this linear.
        at = found + tag.len().max(5);
    };
    let end = text.rfind("</feed>")? + "</feed>".len();
    (end > start).then_some(start..end)
}

/// `text` without XML declarations past its start, outside CDATA sections and comments.
///
/// feed-rs 3 hands every declaration's encoding to quick-xml's decoding reader, which panics
/// (`set_encoding() called after prefix buffer was drained`) for a declaration past the first
/// 64 bytes naming an encoding other than UTF-8. The text is UTF-8 by now, so no declaration
/// has anything left to say.
fn without_declarations(text: &str) -> Cow<'_, str> {
    if !text.contains("<?xml") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while let Some(found) = text[at..].find('<').map(|i| at + i) {
        let rest = &text[found..];
        if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            match cdata.find("]]>") {
                Some(end) => at = found + 9 + end + 3,
                None => break,
            }
        } else if let Some(comment) = rest.strip_prefix("<!--") {
            match comment.find("-->") {
                Some(end) => at = found + 4 + end + 3,
                None => break,
            }
        } else if rest.starts_with("<?") && prolog::is_declaration(&rest.as_bytes()[2..]) {
            let end = rest.find("?>").map_or(text.len(), |end| found + end + 2);
            out.push_str(&text[copied..found]);
            copied = end;
            at = end;
        } else {
            at = found + 1;
        }
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// Maps feed-rs's error to ours, locating XML syntax errors.
fn invalid(error: ParseFeedError, document: &Document<'_>) -> ParseError {
    if let Some(root) = document.html_root {
        return ParseError::not_a_feed(format!("an HTML page (<{root}>)"));
    }
    let (message, position) = match &error {
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => {
            return ParseError::not_a_feed("a document without a feed root element");
        }
        ParseFeedError::JsonUnsupportedVersion(version) => {
            return ParseError::not_a_feed(format!(
                "a JSON document with version {version:?} (JSON Feed wants https://jsonfeed.org/version/1 or /1.1)"
            ));
        }
        ParseFeedError::JsonSerde(e) => {
            return ParseError::Invalid {
                message: lowercase_first(&strip_serde_location(&e.to_string())),
                line: Some(e.line() as u64 + document.lines_before),
                column: Some(e.column() as u64),
            };
        }
        ParseFeedError::XmlReader(_) => match xml_syntax_error(&document.text) {
            Some((message, position)) => (message, Some(position)),
            // Found by feed-rs alone (a document cut short, nesting past quick-xml's limit).
            None => {
                let message = error.to_string();
                let message = message.trim_start_matches("unable to parse XML: ");
                (
                    message.trim_start_matches("Parser error: ").to_owned(),
                    None,
                )
            }
        },
        ParseFeedError::ParseError(kind) => (kind.to_string(), None),
        ParseFeedError::IoError(e) => (e.to_string(), None),
    };
    let (line, column) = match position {
        Some(position) => {
            let (line, column) = line_and_column(&document.text, position);
            (Some(line + document.lines_before), Some(column))
        }
        None => (None, None),
    };
    ParseError::Invalid {
        message: lowercase_first(&message),
        line,
        column,
    }
}

/// Reads `text` again with quick-xml to find where it is ill-formed: feed-rs keeps only the
/// message. Runs on the error path only.
fn xml_syntax_error(text: &str) -> Option<(String, usize)> {
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => return None,
            Ok(_) => {}
            Err(e) => {
                let position = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
                return Some((e.to_string(), position));
            }
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_and_column(text: &str, position: usize) -> (u64, u64) {
    let mut position = position.min(text.len());
    while !text.is_char_boundary(position) {
        position -= 1;
    }
    let before = &text[..position];
    let line = before.bytes().filter(|&b| b == b'\n').count() as u64 + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() as u64 + 1;
    (line, column)
}

fn strip_serde_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Lowercases the first letter, as our messages begin, unless it starts an acronym: serde_json's
/// "EOF while parsing a value" must not become "eOF".
fn lowercase_first(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) if !chars.clone().next().is_some_and(char::is_uppercase) => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => message.to_owned(),
    }
}

/// What the conversion of entries needs to know of the document.
struct Context<'a> {
    format: Option<Format>,
    /// The text feed-rs read.
    text: &'a str,
    rdf_about: &'a [Option<String>],
    entries_in_document: usize,
    /// Entries past [`repair::MAX_ENTRIES`], never read.
    cut_entries: usize,
    /// One record per entry, or none (see [`repair::Repaired::extras`]).
    extras: &'a [extras::Extras],
}

fn convert(
    feed: feed_rs::model::Feed,
    base: Option<&url::Url>,
    context: &Context<'_>,
) -> ParsedFeed {
    let title = feed
        .title
        .map(|t| html_to_text(&t.content))
        .filter(|t| !t.is_empty());
    let extras = (context.extras.len() == feed.entries.len()).then_some(context.extras);
    let rdf_about = (context.format == Some(Format::Rdf)
        && context.rdf_about.len() == feed.entries.len())
    .then_some(context.rdf_about);
    let mut cut = 0;
    let items: Vec<ParsedItem> = feed
        .entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let about = rdf_about.and_then(|a| a[i].as_deref());
            let (item, was_cut) =
                convert_entry(entry, base, context.format, extras.map(|e| &e[i]), about);
            cut += usize::from(was_cut);
            item
        })
        .collect();
    let mut found = context.entries_in_document;
    if items.is_empty() && context.format.is_some() {
        // Entries under a prefix are counted only here, where they decide a warning.
        found += repair::prefixed_entries(context.text);
    }
    let mut warnings = Vec::new();
    if found > 0 && items.is_empty() {
        warnings.push(ParseWarning::NoItems { found });
    } else if found > items.len() {
        warnings.push(ParseWarning::EntriesDropped {
            found,
            read: items.len(),
        });
    }
    if context.cut_entries > 0 {
        warnings.push(ParseWarning::TooManyEntries {
            kept: context.entries_in_document,
            cut: context.cut_entries,
        });
    }
    if cut > 0 {
        warnings.push(ParseWarning::ItemsCut { items: cut });
    }
    ParsedFeed {
        title,
        ttl_minutes: feed.ttl,
        items,
        warnings,
    }
}

/// Display text of a feed-rs text: Atom's `type="text"` is text as it stands, `<` and all;
/// anything else is HTML (RSS titles carry HTML too).
fn text_of(text: &feed_rs::model::Text, format: Option<Format>) -> String {
    if format == Some(Format::Atom) && is_plain(text) {
        return crate::text::plain_to_text(&text.content);
    }
    html_to_text(&text.content)
}

fn is_plain(text: &feed_rs::model::Text) -> bool {
    text.content_type.ty().as_str() == "text" && text.content_type.subty().as_str() == "plain"
}

fn is_plain_content(content: &feed_rs::model::Content) -> bool {
    content.content_type.ty().as_str() == "text" && content.content_type.subty().as_str() == "plain"
}

fn convert_entry(
    entry: feed_rs::model::Entry,
    base: Option<&url::Url>,
    format: Option<Format>,
    extras: Option<&extras::Extras>,
    rdf_about: Option<&str>,
) -> (ParsedItem, bool) {
    let mut title = entry
        .title
        .as_ref()
        .map_or_else(String::new, |t| text_of(t, format));
    let media_text = |pick: fn(&feed_rs::model::MediaObject) -> Option<&feed_rs::model::Text>| {
        entry
            .media
            .iter()
            .filter_map(pick)
            .map(|t| html_to_text(&t.content))
            .find(|t| !t.is_empty())
    };
    if title.is_empty() {
        title = extras
            .and_then(|e| e.title.as_deref())
            .map(html_to_text)
            .filter(|t| !t.is_empty())
            .or_else(|| media_text(|m| m.title.as_ref()))
            .unwrap_or_default();
    }
    let mut summary = entry
        .summary
        .as_ref()
        .map_or_else(String::new, |t| text_of(t, format));
    if summary.is_empty() {
        // YouTube and podcast feeds describe an entry in its media group (or iTunes summary)
        // only; RSS 2.0 feeds sometimes in `dc:description`.
        summary = extras
            .and_then(|e| e.summary.as_deref())
            .map(html_to_text)
            .filter(|t| !t.is_empty())
            .or_else(|| media_text(|m| m.description.as_ref()))
            .unwrap_or_default();
    }
    let mut content = entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref().map(|body| (body, is_plain_content(c))))
        .map_or_else(String::new, |(body, plain)| {
            if format == Some(Format::Atom) && plain {
                crate::text::plain_to_text(body)
            } else {
                html_to_text(body)
            }
        });
    if content.is_empty()
        && let Some(body) = extras.and_then(|e| e.content.as_deref())
    {
        content = html_to_text(body);
    }
    let mut title = undo_double_encoding(title);
    let mut summary = undo_double_encoding(summary);
    let mut content = undo_double_encoding(content);
    let mut cut = cut_to(&mut title, ItemLimits::TITLE_BYTES);
    cut |= cut_to(&mut summary, ItemLimits::SUMMARY_BYTES);
    cut |= cut_to(&mut content, ItemLimits::CONTENT_BYTES);
    let mut authors = Capped::new(ItemLimits::AUTHORS);
    for person in &entry.authors {
        let name = person.name.as_deref().or(person.email.as_deref());
        authors.push(name.map(author_name));
    }
    if authors.list.is_empty() {
        for name in extras.iter().flat_map(|e| &e.authors) {
            authors.push(Some(author_name(&html_to_text(name))));
        }
        for credit in entry.media.iter().flat_map(|m| &m.credits) {
            authors.push(Some(collapse_whitespace(&credit.entity)));
        }
    }
    let mut categories = Capped::new(ItemLimits::CATEGORIES);
    for category in &entry.categories {
        let name = category
            .label
            .as_deref()
            .filter(|l| !l.trim().is_empty())
            .unwrap_or(&category.term);
        categories.push(Some(collapse_whitespace(name)));
    }
    for name in extras.iter().flat_map(|e| &e.categories) {
        categories.push(Some(html_to_text(name)));
    }
    cut |= authors.cut || categories.cut;
    let (authors, categories) = (authors.list, categories.list);
    // FeedBurner's own link is a redirect that names nothing of the article; its origLink is
    // the article's address, the same one the outlet's own feed gives.
    let mut link = extras
        .and_then(|e| e.original_link.as_deref())
        .and_then(|l| canonical_link_against(l, base))
        .or_else(|| pick_link(&entry.links, base));
    let mut guid = entry.id.trim();
    if guid.is_empty()
        && link.is_none()
        && let Some(about) = rdf_about
    {
        // RSS 1.0 names each item by its rdf:about: an item without a link still has an
        // identity and a page. (Items with a link keep the key they always had.)
        guid = about.trim();
        link = canonical_link_against(guid, base);
    }
    if link.is_none()
        && matches!(format, Some(Format::Rss))
        && !guid.is_empty()
        && extras.and_then(|e| e.permalink) != Some(false)
    {
        // RSS 2.0: a guid is the item's permalink unless isPermaLink="false".
        link = canonical_link_against(guid, base);
    }
    let published = entry.published.or_else(|| {
        extras
            .and_then(|e| e.published.as_deref())
            .and_then(date::parse_timestamp)
    });
    let updated = entry.updated.or_else(|| {
        extras
            .and_then(|e| e.updated.as_deref())
            .and_then(date::parse_timestamp)
    });
    let key = if guid.len() > ItemLimits::GUID_BYTES {
        // Still the same key at every poll, but of a bounded size.
        cut = true;
        format!("guid-sha256:{:x}", Sha256::digest(guid.as_bytes()))
    } else if !guid.is_empty() {
        format!("guid:{guid}")
    } else if let Some(link) = &link {
        format!("link:{link}")
    } else {
        let mut hasher = Sha256::new();
        hash_field(&mut hasher, &title);
        hash_field(&mut hasher, &summary);
        format!("hash:{:x}", hasher.finalize())
    };
    let mut hasher = Sha256::new();
    for field in [&title, &summary, &content] {
        hash_field(&mut hasher, field);
    }
    for list in [&authors, &categories] {
        hasher.update((list.len() as u64).to_le_bytes());
        for value in list {
            hash_field(&mut hasher, value);
        }
    }
    hash_field(&mut hasher, link.as_deref().unwrap_or(""));
    let content_hash = format!("{:x}", hasher.finalize());
    let item = ParsedItem {
        key,
        link,
        title,
        summary,
        content,
        authors,
        categories,
        published,
        updated,
        content_hash,
    };
    (item, cut)
}

/// The entry's page: the first usable link that is the alternate (or has no relation), else
/// the first usable link that is not the feed itself, an edit link or an attachment.
fn pick_link(links: &[feed_rs::model::Link], base: Option<&url::Url>) -> Option<String> {
    let is_alternate =
        |l: &&feed_rs::model::Link| l.rel.as_deref().is_none_or(|r| r == "alternate");
    let is_other_page = |l: &&feed_rs::model::Link| {
        !matches!(
            l.rel.as_deref(),
            Some("self" | "edit" | "enclosure" | "replies" | "license" | "edit-media")
        )
    };
    links
        .iter()
        .filter(is_alternate)
        .chain(
            links
                .iter()
                .filter(|l| !is_alternate(l) && is_other_page(l)),
        )
        .find_map(|l| canonical_link_against(&l.href, base))
}

/// Length-prefixed, so that no two different field lists hash the same bytes.
fn hash_field(hasher: &mut Sha256, value: &str) {
    hasher.update((value.len() as u64).to_le_bytes());
    hasher.update(value.as_bytes());
}

/// A list of distinct, non-empty names, at most `max` of them, each of at most
/// [`ItemLimits::NAME_BYTES`]: the search for a duplicate never looks at more than `max`.
struct Capped {
    list: Vec<String>,
    max: usize,
    /// Whether a name was dropped or shortened.
    cut: bool,
}

impl Capped {
    fn new(max: usize) -> Capped {
        Capped {
            list: Vec::new(),
            max,
            cut: false,
        }
    }

    fn push(&mut self, value: Option<String>) {
        let Some(mut value) = value.filter(|v| !v.is_empty()) else {
            return;
        };
        self.cut |= cut_to(&mut value, ItemLimits::NAME_BYTES);
        if self.list.contains(&value) {
            return;
        }
        if self.list.len() == self.max {
            self.cut = true;
            return;
        }
        self.list.push(value);
    }
}

/// Text that was UTF-8, read as windows-1252 and encoded again (`â€¦` for `…`), as the
/// UTF-8 it was. Only text that holds such a sequence is tried (a character that would be a
/// UTF-8 lead byte followed by one that would be a continuation byte), and only text whose
/// every character has a windows-1252 byte that together are valid UTF-8 is changed: text in
/// Latin-1 languages (`été`) never qualifies, since its bytes are not UTF-8.
fn undo_double_encoding(text: String) -> String {
    let bytes = text.as_bytes();
    let suspect = memchr::memchr2_iter(0xC3, 0xC2, bytes).any(|at| {
        let lead = text[at..].chars().next().expect("a char boundary");
        ('\u{C2}'..='\u{F4}').contains(&lead)
            && text[at + lead.len_utf8()..]
                .chars()
                .next()
                .is_some_and(is_continuation_like)
    });
    if !suspect {
        return text;
    }
    let (encoded, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
    if unmappable {
        return text;
    }
    match String::from_utf8(encoded.into_owned()) {
        Ok(repaired) if repaired != text => repaired,
        _ => text,
    }
}

/// A character whose windows-1252 byte is a UTF-8 continuation byte (0x80 to 0xBF).
fn is_continuation_like(c: char) -> bool {
    ('\u{A0}'..='\u{BF}').contains(&c) || "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ".contains(c)
}

/// An author's name as written in RSS's `name (email)` or `email (name)` forms, without the
/// address: feed-rs takes the address out of `me@example.com (Name)` and leaves `(Name)`.
fn author_name(text: &str) -> String {
    let name = collapse_whitespace(text);
    let trimmed = name.trim();
    if let Some(inner) = trimmed.strip_prefix('(').and_then(|t| t.strip_suffix(')'))
        && !inner.contains(['(', ')'])
    {
        return inner.trim().to_owned();
    }
    if let Some(open) = trimmed.rfind(" (")
        && trimmed.ends_with(')')
        && trimmed[open..].contains('@')
        && !trimmed[open + 2..trimmed.len() - 1].contains(char::is_whitespace)
    {
        return trimmed[..open].trim().to_owned();
    }
    name
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests;
