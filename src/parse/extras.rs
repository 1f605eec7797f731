//! What feed-rs leaves out of an entry, read in the repair pass over the same text.
//!
//! feed-rs's model has no place for some elements that carry an item's text in real feeds:
//! Dublin Core `dc:subject`, `dc:title`, `dc:description` and `dc:author` in RSS 2.0, Media RSS
//! and iTunes categories of an item, DC Terms dates (`dcterms:issued`, `dcterms:modified`),
//! `<body>` / `<xhtml:body>` and `<fullitem>` content, a guid's `isPermaLink`, and FeedBurner's
//! `feedburner:origLink` (the article behind a `feedproxy.google.com` link).
//! [`super::repair`] meets their start tags anyway (it looks at every start tag of interest,
//! in one linear pass) and hands each to [`record`], one [`Extras`] per entry in document
//! order, so the parse stage can fill what feed-rs left empty. A second XML pass for them cost
//! a tenth of the parse stage on the feed corpus; this costs next to nothing.

use super::repair::{attribute, has_child_elements};

/// What one entry has beyond feed-rs's model. Texts are HTML (the caller makes display text
/// of them).
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
    /// FeedBurner's `origLink`: the article's own address, where the entry's link is a
    /// FeedBurner redirect that names nothing of it.
    pub original_link: Option<String>,
}

/// Records one element of an entry: its qualified name, its start tag's attribute text, and
/// its raw content (None for an empty element, or one whose content is not read).
pub fn record(extras: &mut Extras, name: &str, attributes: &str, inner: Option<&str>) {
    let value = || inner.map(markup_of).filter(|v| !v.trim().is_empty());
    match name {
        "guid" => {
            extras.permalink = Some(
                attribute(attributes, "isPermaLink")
                    .is_none_or(|v| !v.trim().eq_ignore_ascii_case("false")),
            );
        }
        "itunes:category" => {
            if let Some(text) = attribute(attributes, "text").filter(|t| !t.trim().is_empty()) {
                extras
                    .categories
                    .push(html_escape::decode_html_entities(text).into_owned());
            }
        }
        "dc:subject" | "media:category" => extras.categories.extend(value()),
        "dc:title" | "media:title" if extras.title.is_none() => extras.title = value(),
        "dc:description" | "media:description" if extras.summary.is_none() => {
            extras.summary = value();
        }
        "dc:author" | "itunes:author" => extras.authors.extend(value()),
        "dcterms:issued" | "dcterms:created" if extras.published.is_none() => {
            extras.published = value();
        }
        "dcterms:modified" if extras.updated.is_none() => extras.updated = value(),
        "feedburner:origLink" if extras.original_link.is_none() => {
            extras.original_link = value();
        }
        "body" | "xhtml:body" | "fullitem" if extras.content.is_none() => {
            extras.content = value();
        }
        _ => {}
    }
}

/// The element's content as the HTML it carries: markup written as child elements is that
/// HTML as it stands; otherwise the text (references decoded, CDATA sections taken literally)
/// is the HTML, as in an RSS `<description>`.
fn markup_of(raw: &str) -> String {
    if has_child_elements(raw) {
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
