//! `/hits.atom`: the hit log as an Atom 1.0 feed, newest first, so anyone can follow it in a
//! feed reader.
//!
//! Entry ids are `urn:watchfloor:hit:N`, stable for the life of the database. Titles and
//! summaries are escaped `type="text"` constructs; each entry's content is `type="html"`: the
//! evidence's snippet with its matched terms in `<mark>` (demoting terms in `<s>`), split by
//! `text::safe` as mail and pages split it, every run of feed text escaped here, so the only
//! markup a reader renders is ours.

use askama::Template;
use chrono::{DateTime, Utc};

use crate::config::Indicators;
use crate::store::HitRow;
use crate::text::safe::{Segment, header_text, highlight_roles, web_link};

/// Entries in the feed: readers poll often, and the page lists the rest.
pub const ENTRIES: usize = 100;
const TEXT_MAX: usize = 1000;

struct Entry {
    id: String,
    title: String,
    updated: String,
    published: Option<String>,
    page: String,
    item: Option<String>,
    indicator: String,
    indicator_label: String,
    summary: String,
    /// HTML, escaped once more by the template as the element's text.
    content: String,
}

/// What the feed was asked for, for its id and links.
pub struct FeedQuery<'a> {
    pub indicator: Option<&'a str>,
    /// The request's filters as a query string (`ListQuery::filter_query`, with
    /// `duplicates=include` when asked), empty when none.
    pub filters: &'a str,
}

#[derive(Template)]
#[template(path = "web/hits.atom.xml")]
struct Feed {
    id: String,
    title: String,
    updated: String,
    self_href: String,
    list_href: String,
    entries: Vec<Entry>,
}

/// Text XML 1.0 can carry: `header_text` has taken out controls; the two non-characters
/// remain.
fn xml_text(text: &str, max: usize) -> String {
    header_text(text, max)
        .chars()
        .filter(|c| !matches!(c, '\u{FFFE}' | '\u{FFFF}'))
        .collect()
}

/// Escapes text for HTML carried in an XML document: markup characters, and the two
/// non-characters XML cannot hold.
fn html_text(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

/// An entry's content: where it came from, then the snippet with its terms marked.
fn content_html(label: &str, feed: &str, snippet: &[Segment]) -> String {
    let mut html = String::from("<p>");
    html_text(label, &mut html);
    html.push_str(", via ");
    html_text(feed, &mut html);
    html.push_str(".</p>");
    if snippet.iter().any(|s| !s.text.trim().is_empty()) {
        html.push_str("<blockquote>");
        for segment in snippet {
            let (open, close) = match (segment.marked, segment.demoting) {
                (true, _) => ("<mark>", "</mark>"),
                (false, true) => ("<s title=\"demoting term\">", "</s>"),
                (false, false) => ("", ""),
            };
            html.push_str(open);
            html_text(&segment.text, &mut html);
            html.push_str(close);
        }
        html.push_str("</blockquote>");
    }
    html
}

/// The feed of `hits` (newest first); `base` is the absolute URL the pages are served under.
pub fn render(
    base: &str,
    query: FeedQuery<'_>,
    rules: &Indicators,
    hits: &[HitRow],
    now: DateTime<Utc>,
) -> Result<String, askama::Error> {
    let base = base.trim_end_matches('/');
    let rfc3339 = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let indicator = query.indicator;
    let with_query = |path: &str| match query.filters {
        "" => format!("{base}{path}"),
        q => format!("{base}{path}?{q}"),
    };
    let entries = hits
        .iter()
        .map(|hit| {
            let rule = rules.indicators.iter().find(|i| i.id == hit.indicator_id);
            let indicator_label = match rule {
                Some(r) => format!("{} ({})", xml_text(&r.title, TEXT_MAX), r.severity.as_str()),
                None => xml_text(&hit.indicator_id, TEXT_MAX),
            };
            let snippet = crate::ops::metrics::stored_evidence(hit.hit_id, &hit.evidence)
                .and_then(|e| e.snippet);
            let segments = snippet
                .as_ref()
                .map(|s| highlight_roles(&s.text, &s.highlights, &s.demoting))
                .unwrap_or_default();
            let mut summary = format!("{indicator_label}, via {}.", hit.feed_id);
            if let Some(snippet) = snippet.filter(|s| !s.text.trim().is_empty()) {
                summary.push(' ');
                summary.push_str(&snippet.text);
            }
            let content = content_html(
                &indicator_label,
                &xml_text(&hit.feed_id, TEXT_MAX),
                &segments,
            );
            Entry {
                id: format!("urn:watchfloor:hit:{}", hit.hit_id),
                title: {
                    let title = xml_text(&hit.title, TEXT_MAX);
                    if title.is_empty() {
                        "(untitled)".to_owned()
                    } else {
                        title
                    }
                },
                updated: rfc3339(hit.created_at),
                published: hit.published.map(rfc3339),
                page: format!("{base}/hits/{}", hit.hit_id),
                item: hit.link.as_deref().and_then(web_link),
                indicator: xml_text(&hit.indicator_id, TEXT_MAX),
                indicator_label,
                summary: xml_text(&summary, TEXT_MAX),
                content,
            }
        })
        .collect();
    let title = match indicator {
        Some(id) => match rules.indicators.iter().find(|i| i.id == id) {
            Some(rule) => format!("watchfloor hits: {}", xml_text(&rule.title, TEXT_MAX)),
            None => format!("watchfloor hits: {}", xml_text(id, TEXT_MAX)),
        },
        None => "watchfloor hits".to_owned(),
    };
    Feed {
        // A feed of other filters is a feed of its own, so it needs an id of its own; an
        // indicator's alone keeps the id it always had.
        id: match (indicator, query.filters) {
            (_, "") => "urn:watchfloor:hits".to_owned(),
            (Some(id), filters)
                if filters
                    == url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("indicator", id)
                        .finish() =>
            {
                format!(
                    "urn:watchfloor:hits:indicator:{}",
                    url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
                )
            }
            (_, filters) => format!(
                "urn:watchfloor:hits:query:{}",
                url::form_urlencoded::byte_serialize(filters.as_bytes()).collect::<String>()
            ),
        },
        title,
        // Atom wants `updated` even for an empty feed: then it is now.
        updated: rfc3339(hits.iter().map(|h| h.created_at).max().unwrap_or(now)),
        self_href: with_query("/hits.atom"),
        list_href: with_query("/hits"),
        entries,
    }
    .render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_marks_the_terms_and_escapes_every_run_of_feed_text() {
        let text = "<script>x</script> North Korea & \"launch\" \u{FFFE}done";
        let start = text.find("North").expect("term");
        let launch = text.find("launch").expect("term");
        let segments = highlight_roles(text, &[(start, start + 11)], &[(launch, launch + 6)]);
        let html = content_html("Sat <b> (high)", "wire's", &segments);
        assert_eq!(
            html,
            "<p>Sat &lt;b&gt; (high), via wire&#39;s.</p><blockquote>&lt;script&gt;x&lt;/script&gt; \
             <mark>North Korea</mark> &amp; &quot;<s title=\"demoting term\">launch</s>&quot; \
             done</blockquote>"
        );
        assert_eq!(content_html("L", "f", &[]), "<p>L, via f.</p>");
    }
}
