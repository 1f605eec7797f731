//! Alert mail: from alerts to a complete `lettre::Message`, with no IO.
//!
//! One data model ([`Body`]) feeds two askama templates, `templates/mail/message.txt` and
//! `templates/mail/message.html`, so the text and HTML parts cannot drift apart: every decision
//! (grouping, which links are live, where highlights fall, what each kind of message says) is
//! made once in Rust, and the templates only lay it out.
//!
//! Everything that came from a feed is hostile until shown otherwise. Control characters and
//! bidi overrides are taken out through `text::safe`, for both parts and for headers; in the
//! HTML part askama escapes every value and nothing is marked safe; only http and https links
//! become `href`s (`text::safe::web_link`).

use std::time::SystemTime;

use askama::Template;
use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

use super::encoded_words;
use crate::matcher::Evidence;
use crate::matcher::explain::demotion_lines;
use crate::text::safe::{LINK_MAX, Segment, header_text, web_link};

#[cfg(test)]
mod tests;

/// One hit carried by a message.
#[derive(Clone, Debug)]
pub struct AlertView {
    pub alert_id: i64,
    pub hit_id: i64,
    pub indicator_id: String,
    pub indicator_title: String,
    /// low | medium | high | critical
    pub severity: String,
    pub insight: String,
    pub item_title: String,
    /// Canonical link of the item.
    pub link: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub first_seen: DateTime<Utc>,
    /// Every feed that reported the story, first the one that produced the hit.
    pub sources: Vec<SourceView>,
    /// The hit's evidence as stored (JSON of matcher::Evidence); unreadable JSON renders without
    /// a snippet, never fails.
    pub evidence_json: String,
    pub score: f64,
}

#[derive(Clone, Debug)]
pub struct SourceView {
    pub feed_id: String,
    pub feed_title: Option<String>,
    /// The item's link in this feed.
    pub link: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// One or more immediate hits of one indicator (grouped within group_wait).
    Alert,
    /// The daily digest: pending digest hits, grouped by indicator.
    Digest,
    /// The overflow when a recipient's hourly cap is reached: every held hit in one message.
    Summary,
    /// `watchfloor test-email`.
    Test,
}

#[derive(Clone, Debug)]
pub struct MessageView {
    pub kind: MessageKind,
    pub alerts: Vec<AlertView>,
    /// Base URL of the web hit log, when configured: each hit links to `{base}/hits/{hit_id}`
    /// (no double slash).
    pub hit_log_base: Option<String>,
    /// The hit log links lead to this machine's loopback listener: the message says so.
    pub hit_log_local_only: bool,
}

#[derive(Clone, Debug)]
pub struct Envelope {
    pub from: Mailbox,
    pub to: Mailbox,
    /// Without angle brackets, e.g. `alert-42.watchfloor@example.org`; the caller derives it
    /// from the alert id.
    pub message_id: String,
    pub date: DateTime<Utc>,
}

/// A message's content, before it is addressed.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The whole `List-Id` value, phrase included: `"Title" <indicator_id.watchfloor>`.
    pub list_id: String,
    /// The hits the message carries, for `X-Watchfloor-Hits`.
    pub hit_ids: Vec<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("message id '{0}' is not of the form left@right in printable ASCII")]
    MessageId(String),
    #[error("cannot build the message")]
    Build(#[from] lettre::error::Error),
}

/// Subjects longer than this are cut; mail clients show far less anyway.
pub const SUBJECT_MAX: usize = 200;
/// Caps on feed text in bodies: generous for real titles, bounded for hostile ones.
const TITLE_MAX: usize = 500;
const NAME_MAX: usize = 200;
const INSIGHT_MAX: usize = 2000;
const SEVERITY_UNKNOWN: &str = "unknown";

/// Renders both parts, the subject and the list id of a message.
pub fn render(view: &MessageView) -> Rendered {
    let groups = group_by_indicator(&view.alerts);
    let subject = subject(view.kind, &view.alerts, groups.len());
    let hit_log_base = view.hit_log_base.as_deref();
    let compact = view.kind == MessageKind::Summary;
    let body = Body {
        subject: subject.clone(),
        intro: intro(view.kind, &view.alerts, groups.len()),
        groups: groups
            .iter()
            .map(|group| group_model(group, hit_log_base, compact))
            .collect(),
        compact,
        hit_log_note: match hit_log_base {
            Some(base) if view.hit_log_local_only && !view.alerts.is_empty() => Some(format!(
                "Hit log links go to {}, which answers on the watchfloor machine only; set \
                 web.base_url for links that open elsewhere.",
                header_text(base, LINK_MAX)
            )),
            _ => None,
        },
    };
    let text = TextBody { mail: &body }
        .render()
        .unwrap_or_else(|e| unrenderable(&e));
    let html = HtmlBody { mail: &body }
        .render()
        .unwrap_or_else(|e| html_escape::encode_text(&unrenderable(&e)).into_owned());
    Rendered {
        subject,
        text,
        html,
        list_id: list_id(view.kind, view.alerts.first()),
        hit_ids: view.alerts.iter().map(|a| a.hit_id).collect(),
    }
}

/// A message's one-line summary, its mail subject: webhooks open their post with it.
pub fn headline(view: &MessageView) -> String {
    subject(
        view.kind,
        &view.alerts,
        group_by_indicator(&view.alerts).len(),
    )
}

/// Our values are plain strings, so askama cannot fail on them; should it ever, a message saying
/// so beats a panic, which aborts the daemon.
fn unrenderable(error: &askama::Error) -> String {
    format!("watchfloor could not render this message: {error}\n")
}

/// Addresses and dates a rendered message; headers are cleaned again, since `Rendered` is public.
pub fn build_message(envelope: &Envelope, rendered: &Rendered) -> Result<Message, RenderError> {
    if !is_message_id(&envelope.message_id) {
        return Err(RenderError::MessageId(envelope.message_id.clone()));
    }
    let hit_ids = rendered
        .hit_ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        // A space after each comma lets lettre fold a long list under the line limit.
        .join(", ");
    let mut builder = Message::builder()
        .from(envelope.from.clone())
        .to(envelope.to.clone())
        .date(SystemTime::from(envelope.date))
        .message_id(Some(format!("<{}>", envelope.message_id)))
        .subject(header_text(&rendered.subject, SUBJECT_MAX))
        .raw_header(raw_header("Auto-Submitted", "auto-generated".to_owned()))
        .raw_header(raw_header("List-Id", header_text(&rendered.list_id, 400)));
    if !hit_ids.is_empty() {
        builder = builder.raw_header(raw_header("X-Watchfloor-Hits", hit_ids));
    }
    let message = builder.multipart(MultiPart::alternative_plain_html(
        rendered.text.clone(),
        rendered.html.clone(),
    ))?;
    Ok(message)
}

fn raw_header(name: &'static str, value: String) -> HeaderValue {
    // HeaderValue::new encodes what is not ASCII (CR and LF included) as RFC 2047 words.
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// `id-left@id-right` of RFC 5322, loosely: printable ASCII with nothing that would end the
/// `<...>` or the header early.
fn is_message_id(id: &str) -> bool {
    let Some((left, right)) = id.split_once('@') else {
        return false;
    };
    let allowed = |c: char| c.is_ascii_graphic() && !"<>()[]\\,;:\"@".contains(c);
    !left.is_empty() && !right.is_empty() && left.chars().chain(right.chars()).all(allowed)
}

/// Severity in a fixed vocabulary, with its rank; anything else ranks below `low`.
fn severity(text: &str) -> (u8, &'static str) {
    match text.trim().to_ascii_lowercase().as_str() {
        "low" => (1, "low"),
        "medium" => (2, "medium"),
        "high" => (3, "high"),
        "critical" => (4, "critical"),
        _ => (0, SEVERITY_UNKNOWN),
    }
}

fn highest_severity<'a>(alerts: impl IntoIterator<Item = &'a AlertView>) -> (u8, &'static str) {
    alerts
        .into_iter()
        .map(|a| severity(&a.severity))
        .max_by_key(|(rank, _)| *rank)
        .unwrap_or((0, SEVERITY_UNKNOWN))
}

fn subject(kind: MessageKind, alerts: &[AlertView], indicators: usize) -> String {
    let subject = match (kind, alerts) {
        (MessageKind::Alert, []) => "[watchfloor] Alert with no hits".to_owned(),
        (MessageKind::Alert, [only]) => format!(
            "[watchfloor][{}] {}: {}",
            highest_severity(alerts).1,
            header_text(&only.indicator_title, SUBJECT_MAX),
            header_text(&encoded_words::decode(&only.item_title), SUBJECT_MAX),
        ),
        (MessageKind::Alert, [first, ..]) => format!(
            "[watchfloor][{}] {}: {} new hits (first: {})",
            highest_severity(alerts).1,
            header_text(&first.indicator_title, SUBJECT_MAX),
            alerts.len(),
            header_text(&encoded_words::decode(&first.item_title), SUBJECT_MAX),
        ),
        (MessageKind::Digest, _) => format!(
            "[watchfloor] Digest: {} across {}",
            count(alerts.len(), "hit", "hits"),
            count(indicators, "indicator", "indicators"),
        ),
        (MessageKind::Summary, _) => format!(
            "[watchfloor] {} (hourly limit reached)",
            count(alerts.len(), "held alert", "held alerts"),
        ),
        (MessageKind::Test, _) => "[watchfloor] Test message".to_owned(),
    };
    header_text(&subject, SUBJECT_MAX)
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The opening sentence, the same in both parts.
fn intro(kind: MessageKind, alerts: &[AlertView], indicators: usize) -> String {
    let hits = count(alerts.len(), "new hit", "new hits");
    match kind {
        MessageKind::Alert => match alerts.first() {
            Some(first) => format!(
                "watchfloor recorded {hits} for the indicator \"{}\".",
                header_text(&first.indicator_title, TITLE_MAX)
            ),
            None => "watchfloor was asked to send an alert with no hits.".to_owned(),
        },
        MessageKind::Digest => format!(
            "Daily digest: {} across {}, most severe first.",
            count(alerts.len(), "hit", "hits"),
            count(indicators, "indicator", "indicators"),
        ),
        MessageKind::Summary => format!(
            "The hourly alert limit was reached, so {} held back and {} together in this \
             message.",
            count(alerts.len(), "alert was", "alerts were"),
            if alerts.len() == 1 {
                "is sent"
            } else {
                "are sent"
            },
        ),
        MessageKind::Test => {
            "This is a test message from watchfloor: if you can read it, alert mail reaches you."
                .to_owned()
        }
    }
}

/// The `List-Id` value, so analysts can filter each indicator's alerts (RFC 2919).
fn list_id(kind: MessageKind, first: Option<&AlertView>) -> String {
    match (kind, first) {
        (MessageKind::Alert, Some(alert)) => {
            let id = format!("<{}.watchfloor>", list_label(&alert.indicator_id));
            match list_phrase(&alert.indicator_title) {
                Some(phrase) => format!("{phrase} {id}"),
                None => id,
            }
        }
        (MessageKind::Alert, None) => "<alert.watchfloor>".to_owned(),
        (MessageKind::Digest, _) => "<digest.watchfloor>".to_owned(),
        (MessageKind::Summary, _) => "<summary.watchfloor>".to_owned(),
        (MessageKind::Test, _) => "<test.watchfloor>".to_owned(),
    }
}

/// An indicator id as a list label (dot-atom text); ids are snake_case already, this only makes
/// sure of it.
fn list_label(id: &str) -> String {
    let label: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if label.is_empty() {
        "alert".to_owned()
    } else {
        label
    }
}

/// The display phrase before the list id. An ASCII title becomes a quoted string; RFC 2047 words
/// are not allowed inside quotes, so a title with other characters keeps only letters, digits,
/// spaces and dashes, which lettre then writes as atoms and encoded words.
fn list_phrase(title: &str) -> Option<String> {
    let title = header_text(title, 100);
    if title.is_empty() {
        return None;
    }
    if title.is_ascii() {
        let mut quoted = String::with_capacity(title.len() + 2);
        quoted.push('"');
        for c in title.chars() {
            if c == '"' || c == '\\' {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        quoted.push('"');
        return Some(quoted);
    }
    let words: String = title
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                ' '
            }
        })
        .collect();
    let words = header_text(&words, 100);
    (!words.is_empty()).then_some(words)
}

/// Hits grouped by indicator: groups in order of severity, most severe first, then of first
/// appearance; hits in the order given.
fn group_by_indicator(alerts: &[AlertView]) -> Vec<Vec<&AlertView>> {
    let mut groups: Vec<Vec<&AlertView>> = Vec::new();
    for alert in alerts {
        match groups
            .iter_mut()
            .find(|g| g[0].indicator_id == alert.indicator_id)
        {
            Some(group) => group.push(alert),
            None => groups.push(vec![alert]),
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(highest_severity(g.iter().copied()).0));
    // Within an indicator, newest story first, as the hit log lists them: alert ids follow
    // the order polls happened to write them, not when the stories broke.
    for group in &mut groups {
        let when = |a: &AlertView| a.published.unwrap_or(a.first_seen);
        group.sort_by(|a, b| when(b).cmp(&when(a)).then(a.hit_id.cmp(&b.hit_id)));
    }
    groups
}

/// What both templates show; every string in it is already cleaned, none is escaped.
struct Body {
    subject: String,
    intro: String,
    groups: Vec<Group>,
    /// The summary lists each hit on one line, without snippet or insight.
    compact: bool,
    /// Said under the hits when their hit log links open only on the daemon's machine.
    hit_log_note: Option<String>,
}

struct Group {
    title: String,
    severity: &'static str,
    hit_count: String,
    /// Empty when the indicator has none.
    insight: String,
    hits: Vec<Hit>,
}

struct Hit {
    hit_id: i64,
    title: String,
    /// The item's link, when it is http or https.
    href: Option<String>,
    /// A link with any other scheme, shown as text so nobody mistakes it for a link.
    unlinked: Option<String>,
    /// The feed that produced the hit.
    source: Option<Link>,
    /// The other feeds that reported the story.
    also: Vec<Link>,
    /// "Published" or "First seen".
    when_label: &'static str,
    when: String,
    snippet: Vec<Segment>,
    score: String,
    /// How the score was made (`query 1.0 + … = 1.5 ≥ min_score 1.0`); empty for hits
    /// stored before evidence recorded it.
    score_breakdown: String,
    /// The demoting boosts that applied and the demoting terms the item holds, listed
    /// apart so nobody reads them as reasons the indicator fired.
    demoted_by: Vec<String>,
    hit_log: Option<Link>,
}

/// Text that is a link when its target is http or https, else only text.
struct Link {
    text: String,
    href: Option<String>,
}

#[derive(Template)]
#[template(path = "mail/message.txt")]
struct TextBody<'a> {
    mail: &'a Body,
}

#[derive(Template)]
#[template(path = "mail/message.html")]
struct HtmlBody<'a> {
    mail: &'a Body,
}

fn group_model(alerts: &[&AlertView], hit_log_base: Option<&str>, compact: bool) -> Group {
    let first = alerts[0];
    Group {
        title: header_text(&first.indicator_title, TITLE_MAX),
        severity: highest_severity(alerts.iter().copied()).1,
        hit_count: count(alerts.len(), "hit", "hits"),
        insight: if compact {
            String::new()
        } else {
            header_text(&first.insight, INSIGHT_MAX)
        },
        hits: alerts
            .iter()
            .map(|alert| hit_model(alert, hit_log_base, compact))
            .collect(),
    }
}

fn hit_model(alert: &AlertView, hit_log_base: Option<&str>, compact: bool) -> Hit {
    let link = alert
        .link
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty());
    let href = link.and_then(web_link);
    let unlinked = match (link, &href) {
        (Some(link), None) => Some(header_text(link, LINK_MAX)),
        _ => None,
    };
    let mut sources = alert.sources.iter().map(source_link);
    let (when_label, when) = match alert.published {
        Some(published) => ("Published", published),
        None => ("First seen", alert.first_seen),
    };
    let mut title = header_text(&alert.item_title, TITLE_MAX);
    if title.is_empty() {
        title = "(untitled)".to_owned();
    }
    let evidence = crate::ops::metrics::stored_evidence(alert.hit_id, &alert.evidence_json);
    let score_breakdown = evidence
        .as_ref()
        .and_then(|e| e.score.as_ref())
        .map_or(String::new(), |b| header_text(&b.summary(), INSIGHT_MAX));
    let demoted_by = if compact {
        Vec::new()
    } else {
        evidence.as_ref().map_or_else(Vec::new, demotions)
    };
    Hit {
        hit_id: alert.hit_id,
        title,
        href,
        unlinked,
        source: sources.next(),
        also: sources.collect(),
        when_label,
        when: when.format("%Y-%m-%d %H:%M UTC").to_string(),
        snippet: match (&evidence, compact) {
            // A snippet taken from the title would only repeat the line above it.
            (Some(evidence), false)
                if evidence
                    .snippet
                    .as_ref()
                    .is_none_or(|s| s.field != crate::text::Field::Title) =>
            {
                snippet(evidence)
            }
            _ => Vec::new(),
        },
        score: format!("{:.2}", alert.score),
        score_breakdown,
        demoted_by,
        hit_log: hit_log_base.map(|base| {
            let url = format!(
                "{}/hits/{}",
                base.trim().trim_end_matches('/'),
                alert.hit_id
            );
            Link {
                href: web_link(&url),
                text: header_text(&url, LINK_MAX),
            }
        }),
    }
}

fn source_link(source: &SourceView) -> Link {
    let id = header_text(&source.feed_id, NAME_MAX);
    let title = source
        .feed_title
        .as_deref()
        .map(|t| header_text(t, NAME_MAX))
        .filter(|t| !t.is_empty());
    Link {
        text: match title {
            Some(title) if title != id => format!("{title} ({id})"),
            _ => id,
        },
        href: source.link.as_deref().and_then(web_link),
    }
}

/// The evidence's snippet split into plain, highlighted and demoting runs.
fn snippet(evidence: &Evidence) -> Vec<Segment> {
    match &evidence.snippet {
        Some(snippet) => snippet.segments(),
        None => Vec::new(),
    }
}

fn demotions(evidence: &Evidence) -> Vec<String> {
    demotion_lines(
        evidence.score.as_ref(),
        evidence
            .demoting_terms()
            .map(|t| (&*t.term, t.text.as_str())),
    )
}
