//! `/hits.atom`: the hit log as an Atom 1.0 feed, newest first, so anyone can follow it in a
//! feed reader.
//!
//! Entry ids are `urn:watchfloor:hit:N`, stable for the life of the database; every text is an
//! escaped `type="text"` construct, never HTML, so a reader cannot be made to render a feed's
//! markup.

use askama::Template;
use chrono::{DateTime, Utc};

use crate::config::Indicators;
use crate::store::HitRow;
use crate::text::safe::{header_text, web_link};

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

/// The feed of `hits` (newest first); `base` is the absolute URL the pages are served under.
pub fn render(
    base: &str,
    indicator: Option<&str>,
    rules: &Indicators,
    hits: &[HitRow],
    now: DateTime<Utc>,
) -> Result<String, askama::Error> {
    let base = base.trim_end_matches('/');
    let rfc3339 = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let query = indicator.map(|id| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("indicator", id)
            .finish()
    });
    let with_query = |path: &str| match &query {
        Some(q) => format!("{base}{path}?{q}"),
        None => format!("{base}{path}"),
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
                .and_then(|e| e.snippet)
                .map(|s| s.text)
                .unwrap_or_default();
            let mut summary = format!("{indicator_label}, via {}.", hit.feed_id);
            if !snippet.trim().is_empty() {
                summary.push(' ');
                summary.push_str(&snippet);
            }
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
        id: match indicator {
            // An indicator's feed is a feed of its own, so it needs an id of its own.
            Some(id) => format!(
                "urn:watchfloor:hits:indicator:{}",
                url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
            ),
            None => "urn:watchfloor:hits".to_owned(),
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
