//! What feed-rs leaves out of an entry, read in a second pass over the same text.
//!
//! feed-rs's model has no place for some elements that carry an item's text in real feeds:
//! Dublin Core `dc:subject`, `dc:title`, `dc:description` and `dc:author` in RSS 2.0, Media RSS
//! and iTunes categories of an item, DC Terms dates (`dcterms:issued`, `dcterms:modified`),
//! `<body>` / `<xhtml:body>` and `<fullitem>` content, and a guid's `isPermaLink`. This module
//! reads them, one [`Extras`] per entry in document order, so the parse stage can fill what
//! feed-rs left empty.
//!
//! The pass runs only when the document has something of the kind (the caller checks with a
//! substring search first), and only after feed-rs read the document, so it never decides
//! whether a document is a feed. quick-xml's streaming reader keeps the depth in a counter:
//! nothing recurses, and work is linear in the text.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// What one entry has beyond feed-rs's model. Texts are the element's raw content (markup
/// and references as written, CDATA unwrapped): the caller makes display text of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extras {
    pub categories: Vec<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub authors: Vec<String>,
    /// DC Terms `issued` / `created`, as written.
    pub published: Option<String>,
    /// DC Terms `modified`, as written.
    pub updated: Option<String>,
    /// The guid's `isPermaLink`, when the item has a guid (RSS 2.0 defaults it to true).
    pub permalink: Option<bool>,
}

const DC: &str = "http://purl.org/dc/elements/1.1/";
const DC_TERMS: &str = "http://purl.org/dc/terms/";
const MEDIA_RSS: &str = "http://search.yahoo.com/mrss/";
const MEDIA_RSS_SLASHLESS: &str = "http://search.yahoo.com/mrss";
const ITUNES: &str = "http://www.itunes.com/dtds/podcast-1.0.dtd";
const XHTML: &str = "http://www.w3.org/1999/xhtml";

/// Namespaces of the entry elements themselves: RSS 1.0 / 2.0 (and UserLand's), Atom.
fn is_feed_namespace(ns: &str) -> bool {
    matches!(
        ns,
        "http://purl.org/rss/1.0/"
            | "http://www.w3.org/2005/Atom"
            | "http://purl.org/atom/ns#"
            | "http://backend.userland.com/rss2"
            | "http://backend.userland.com/rss"
            | "http://blogs.law.harvard.edu/tech/rss"
            | "http://my.netscape.com/rdf/simple/0.9/"
    )
}

/// The extras of every entry, in document order; reading stops at the first XML error (the
/// caller uses the result only when it has one record per entry feed-rs found).
pub fn read(text: &str) -> Vec<Extras> {
    let mut reader = quick_xml::reader::NsReader::from_str(text);
    let mut entries: Vec<Extras> = Vec::new();
    let mut depth: usize = 0;
    // Depth of the open entry's element, if one is open.
    let mut entry_depth: Option<usize> = None;
    while let Ok((ns, event)) = reader.read_resolved_event() {
        let ns = ns.into_owned_namespace();
        match event {
            Event::Eof => break,
            Event::End(_) => {
                if entry_depth == Some(depth) {
                    entry_depth = None;
                }
                depth = depth.saturating_sub(1);
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                let empty = matches!(event, Event::Empty(_));
                let local = start.local_name();
                let local = local.as_ref();
                let Some(current) = entry_depth.and_then(|_| entries.last_mut()) else {
                    if !empty {
                        depth += 1;
                    }
                    if !empty && matches!(local, "item" | "entry") && ns.is_feed() {
                        entries.push(Extras::default());
                        entry_depth = Some(depth);
                    }
                    continue;
                };
                let attribute = |name: &str| {
                    start
                        .attributes()
                        .flatten()
                        .find(|a| a.key.local_name().as_ref() == name)
                        .and_then(|a| {
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .ok()
                                .map(|v| v.into_owned())
                        })
                };
                // Categories held in an attribute (iTunes nests them, so both forms occur).
                if ns.is(ITUNES) && local == "category" {
                    if let Some(text) = attribute("text").filter(|t| !t.trim().is_empty()) {
                        current.categories.push(text);
                    }
                    if !empty {
                        depth += 1;
                    }
                    continue;
                }
                if ns.is_feed() && local == "guid" {
                    current.permalink = Some(
                        attribute("isPermaLink")
                            .is_none_or(|v| !v.trim().eq_ignore_ascii_case("false")),
                    );
                }
                if empty {
                    continue;
                }
                // A media group's children are read one by one, like the item's own.
                let wanted = (ns.is(DC)
                    || ns.is(DC_TERMS)
                    || (ns.is(MEDIA_RSS) && local != "group")
                    || (ns.is(ITUNES) && local == "author")
                    || ns.is(XHTML))
                    || (ns.is_feed() && matches!(local, "body" | "fullitem"));
                if !wanted {
                    depth += 1;
                    continue;
                }
                let end = start.to_end().into_owned();
                let Ok(span) = reader.read_to_end(end.name()) else {
                    break;
                };
                let raw = text
                    .get(span.start as usize..span.end as usize)
                    .unwrap_or("");
                let value = || Some(markup_of(raw)).filter(|v| !v.trim().is_empty());
                if ns.is(DC) {
                    match local {
                        "subject" => current.categories.extend(value()),
                        "title" if current.title.is_none() => current.title = value(),
                        "description" if current.summary.is_none() => current.summary = value(),
                        "author" => current.authors.extend(value()),
                        _ => {}
                    }
                } else if ns.is(DC_TERMS) {
                    match local {
                        "issued" | "created" if current.published.is_none() => {
                            current.published = value();
                        }
                        "modified" if current.updated.is_none() => current.updated = value(),
                        _ => {}
                    }
                } else if ns.is(ITUNES) {
                    current.authors.extend(value());
                } else if ns.is(MEDIA_RSS) {
                    // feed-rs keeps a media title or description only beside media content.
                    match local {
                        "category" => current.categories.extend(value()),
                        "title" if current.title.is_none() => current.title = value(),
                        "description" if current.summary.is_none() => current.summary = value(),
                        _ => {}
                    }
                } else if matches!(local, "body" | "fullitem") && current.content.is_none() {
                    current.content = value();
                }
            }
            _ => {}
        }
    }
    entries
}

/// A resolved namespace, owned so the reader can move on.
enum Ns {
    Unbound,
    Bound(String),
    Unknown,
}

impl Ns {
    fn is(&self, uri: &str) -> bool {
        match self {
            // Apple's own examples capitalised the iTunes namespace (`DTDs/Podcast`).
            Ns::Bound(ns) => {
                ns == uri
                    || (uri == MEDIA_RSS && ns == MEDIA_RSS_SLASHLESS)
                    || (uri == ITUNES && ns.eq_ignore_ascii_case(ITUNES))
            }
            _ => false,
        }
    }

    fn is_feed(&self) -> bool {
        match self {
            Ns::Unbound => true,
            Ns::Bound(ns) => is_feed_namespace(ns),
            Ns::Unknown => false,
        }
    }
}

trait IntoOwnedNamespace {
    fn into_owned_namespace(self) -> Ns;
}

impl IntoOwnedNamespace for ResolveResult<'_> {
    fn into_owned_namespace(self) -> Ns {
        match self {
            ResolveResult::Unbound => Ns::Unbound,
            ResolveResult::Bound(ns) => Ns::Bound(ns.as_ref().to_owned()),
            ResolveResult::Unknown(_) => Ns::Unknown,
        }
    }
}

/// The element's content as the HTML it carries: markup written as child elements is that
/// HTML as it stands; otherwise the text (references decoded, CDATA sections taken literally)
/// is the HTML, as in an RSS `<description>`.
fn markup_of(raw: &str) -> String {
    if super::repair::has_child_elements(raw) {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find("<![CDATA[") {
        out.push_str(&html_escape::decode_html_entities(&rest[..start]));
        let body = &rest[start + 9..];
        let end = body.find("]]>").unwrap_or(body.len());
        out.push_str(&body[..end]);
        rest = body.get(end + 3..).unwrap_or("");
    }
    out.push_str(&html_escape::decode_html_entities(rest));
    out
}
