//! What a webhook post says, per format, with no IO: from the same [`MessageView`] a mail
//! message is rendered from, to the JSON its receiver reads.
//!
//! Feed text is hostile. Every string is first made one clean, capped line
//! (`text::safe::header_text`: no control or bidi characters), then escaped for the format
//! that shows it: Slack's `&`, `<` and `>` (which would otherwise open a link or a
//! `<!channel>` mention), Markdown's punctuation and `@` mentions for Mattermost, HTML for
//! Matrix's `formatted_body`; a Teams card holds feed text only in plain text runs, which
//! Teams reads as neither Markdown nor HTML. Only http(s) links become links
//! (`text::safe::web_link`). Each post lists a bounded number of hits and the body is held
//! under [`BODY_MAX`], so no message, however large, makes a post a receiver refuses.

use serde_json::{Value, json};

use crate::alert::render::{AlertView, MessageKind, MessageView, headline};
use crate::config::WebhookFormat;
use crate::matcher::Role;
use crate::text::safe::{LINK_MAX, header_text, web_link};

/// Hits a chat post lists; the rest are counted and left to the hit log.
pub const CHAT_HITS_MAX: usize = 20;
/// Hits a `json` document lists; the rest are counted in `omitted_hits`.
pub const JSON_HITS_MAX: usize = 100;
/// The most a body may weigh: under Slack's and Teams' limits (about 40 000 characters of
/// text; 28 KB a card) with room for the JSON around it, the list shortened until it fits.
pub const BODY_MAX: usize = 24 * 1024;
/// Caps on each string of a post.
const TITLE_MAX: usize = 300;
const NAME_MAX: usize = 120;
const TERM_MAX: usize = 80;
const TERMS_MAX: usize = 12;
const INSIGHT_MAX: usize = 600;
/// The version of the `json` document's shape, in its `version` field.
pub const JSON_VERSION: u32 = 1;

/// One hit as every format shows it: cleaned and capped, not yet escaped.
struct HitLine {
    hit_id: i64,
    indicator_id: String,
    indicator_title: String,
    severity: String,
    title: String,
    /// The item's link, when it may be one.
    link: Option<String>,
    /// The hit's page in the hit log, when the hit log has a base URL.
    hit_url: Option<String>,
    terms: Vec<String>,
    score: f64,
    feed: Option<String>,
}

fn hit_line(alert: &AlertView, hit_log_base: Option<&str>) -> HitLine {
    let mut title = header_text(&alert.item_title, TITLE_MAX);
    if title.is_empty() {
        title = "(untitled)".to_owned();
    }
    let mut terms: Vec<String> = Vec::new();
    if let Some(evidence) = crate::ops::metrics::stored_evidence(alert.hit_id, &alert.evidence_json)
    {
        for term in evidence.terms.iter().filter(|t| t.role == Role::Supporting) {
            let text = header_text(
                if term.text.is_empty() {
                    &term.term
                } else {
                    &term.text
                },
                TERM_MAX,
            );
            if !text.is_empty() && !terms.contains(&text) && terms.len() < TERMS_MAX {
                terms.push(text);
            }
        }
    }
    HitLine {
        hit_id: alert.hit_id,
        indicator_id: header_text(&alert.indicator_id, NAME_MAX),
        indicator_title: header_text(&alert.indicator_title, NAME_MAX),
        severity: header_text(&alert.severity, 20),
        title,
        link: alert.link.as_deref().and_then(web_link),
        hit_url: hit_log_base.and_then(|base| {
            web_link(&format!(
                "{}/hits/{}",
                base.trim().trim_end_matches('/'),
                alert.hit_id
            ))
        }),
        terms,
        score: alert.score,
        feed: alert
            .sources
            .first()
            .map(|s| header_text(s.feed_title.as_deref().unwrap_or(&s.feed_id), NAME_MAX)),
    }
}

/// The body for `format`; `key` is the message's idempotency key, which the `json` document
/// carries too.
pub fn render(format: WebhookFormat, view: &MessageView, key: &str) -> Vec<u8> {
    let lines: Vec<HitLine> = view
        .alerts
        .iter()
        .map(|a| hit_line(a, view.hit_log_base.as_deref()))
        .collect();
    let heading = headline(view);
    let most = match format {
        WebhookFormat::Json => JSON_HITS_MAX,
        _ => CHAT_HITS_MAX,
    };
    let mut listed = lines.len().min(most);
    loop {
        let (shown, omitted) = lines.split_at(listed);
        let value = match format {
            WebhookFormat::Slack => json!({ "text": slack(&heading, shown, omitted.len()) }),
            WebhookFormat::Mattermost => {
                json!({ "text": mattermost(&heading, shown, omitted.len()) })
            }
            WebhookFormat::Teams => teams(&heading, shown, omitted.len()),
            WebhookFormat::Matrix => matrix(&heading, shown, omitted.len()),
            WebhookFormat::Json => document(view, &heading, shown, omitted.len(), key),
        };
        let body = serde_json::to_vec(&value).unwrap_or_default();
        if body.len() <= BODY_MAX || listed == 0 {
            return body;
        }
        listed /= 2;
    }
}

fn more_line(omitted: usize) -> Option<String> {
    (omitted > 0).then(|| {
        format!(
            "…and {omitted} more {} in the hit log",
            if omitted == 1 { "hit" } else { "hits" }
        )
    })
}

/// Slack's mrkdwn: `&`, `<` and `>` are the only characters it asks to escape, and the only
/// ones that can open a link or a mention.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A link in Slack's `<url|text>`: the URL may hold neither `|` nor `>` (web links are
/// re-serialised, so `>` is already escaped; `|` is escaped here).
fn slack_link(url: &str, text: &str) -> String {
    format!(
        "<{}|{}>",
        url.replace('|', "%7C").replace('>', "%3E"),
        slack_escape(text)
    )
}

fn slack(heading: &str, hits: &[HitLine], omitted: usize) -> String {
    let mut out = format!("*{}*", slack_escape(heading));
    for hit in hits {
        let title = match &hit.link {
            Some(link) => slack_link(link, &hit.title),
            None => slack_escape(&hit.title),
        };
        out.push_str(&format!(
            "\n• [{}] {}: {title}",
            slack_escape(&hit.severity),
            slack_escape(&hit.indicator_title)
        ));
        if !hit.terms.is_empty() {
            out.push_str(&format!(
                " (matched: {})",
                slack_escape(&hit.terms.join(", "))
            ));
        }
        if let Some(url) = &hit.hit_url {
            out.push_str(&format!(" {}", slack_link(url, "hit page")));
        }
    }
    if let Some(more) = more_line(omitted) {
        out.push_str(&format!("\n{more}"));
    }
    out
}

/// Markdown as Mattermost reads it: every punctuation mark that can start
/// formatting, a link or a table is escaped with a backslash, and `@` gets a word joiner
/// after it, so a title can mention no one (`@channel`, `@all`).
fn markdown_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '.'
            | '!' | '|' | '~' | '>' | '<' | '&' | ':' => {
                out.push('\\');
                out.push(c);
            }
            '@' => out.push_str("@\u{2060}"),
            _ => out.push(c),
        }
    }
    out
}

/// A Markdown link whose URL holds nothing that ends it early.
fn markdown_link(url: &str, text: &str) -> String {
    format!("[{}]({})", markdown_escape(text), markdown_url(url))
}

fn markdown_url(url: &str) -> String {
    url.replace('(', "%28")
        .replace(')', "%29")
        .replace(' ', "%20")
}

fn mattermost(heading: &str, hits: &[HitLine], omitted: usize) -> String {
    let mut out = format!("#### {}", markdown_escape(heading));
    for hit in hits {
        out.push('\n');
        out.push_str(&markdown_hit(hit));
    }
    if let Some(more) = more_line(omitted) {
        out.push_str(&format!("\n{}", markdown_escape(&more)));
    }
    out
}

fn markdown_hit(hit: &HitLine) -> String {
    let title = match &hit.link {
        Some(link) => markdown_link(link, &hit.title),
        None => markdown_escape(&hit.title),
    };
    let mut line = format!(
        "- **{}** {}: {title}",
        markdown_escape(&hit.severity),
        markdown_escape(&hit.indicator_title)
    );
    if !hit.terms.is_empty() {
        line.push_str(&format!(
            " (matched: {})",
            markdown_escape(&hit.terms.join(", "))
        ));
    }
    if let Some(url) = &hit.hit_url {
        line.push_str(&format!(" {}", markdown_link(url, "hit page")));
    }
    line
}

/// A run of plain text in an Adaptive Card: a `RichTextBlock`'s `TextRun`, which Teams never
/// reads as Markdown or HTML, so feed text needs no escaping there; a link is the run's
/// `selectAction`, never syntax in the text.
fn text_run(text: &str, link: Option<&str>) -> Value {
    let mut run = json!({ "type": "TextRun", "text": text });
    if let Some(url) = link {
        run["selectAction"] = json!({ "type": "Action.OpenUrl", "url": url });
    }
    run
}

/// An Adaptive Card (1.4) in the message envelope that Teams' incoming webhooks and its
/// Workflows ("when a Teams webhook request is received") both take.
fn teams(heading: &str, hits: &[HitLine], omitted: usize) -> Value {
    let color = match hits.iter().map(|h| severity_rank(&h.severity)).max() {
        Some(4 | 3) => "Attention",
        Some(2) => "Warning",
        _ => "Default",
    };
    let mut body = vec![json!({
        "type": "RichTextBlock",
        "inlines": [{
            "type": "TextRun", "text": heading, "weight": "Bolder", "size": "Medium",
            "color": color,
        }],
    })];
    for hit in hits {
        let mut inlines = vec![
            json!({ "type": "TextRun", "text": format!("[{}] ", hit.severity), "weight": "Bolder" }),
            text_run(&format!("{}: ", hit.indicator_title), None),
            text_run(&hit.title, hit.link.as_deref()),
        ];
        if !hit.terms.is_empty() {
            let mut terms = text_run(&format!(" (matched: {})", hit.terms.join(", ")), None);
            terms["isSubtle"] = json!(true);
            inlines.push(terms);
        }
        if let Some(url) = &hit.hit_url {
            inlines.push(text_run(" ", None));
            inlines.push(text_run("hit page", Some(url)));
        }
        body.push(json!({ "type": "RichTextBlock", "inlines": inlines }));
    }
    if let Some(more) = more_line(omitted) {
        body.push(json!({
            "type": "RichTextBlock",
            "inlines": [{ "type": "TextRun", "text": more, "isSubtle": true }],
        }));
    }
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": { "width": "Full" },
        "body": body,
    });
    if let Some(url) = hits.first().and_then(|h| h.hit_url.as_ref()) {
        card["actions"] = json!([{
            "type": "Action.OpenUrl",
            "title": "Open in the hit log",
            "url": url,
        }]);
    }
    json!({
        "type": "message",
        "summary": heading,
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

fn severity_rank(severity: &str) -> u8 {
    match severity {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        _ => 1,
    }
}

fn html(text: &str) -> String {
    html_escape::encode_text(text).into_owned()
}

fn html_link(url: &str, text: &str) -> String {
    format!(
        "<a href=\"{}\">{}</a>",
        html_escape::encode_double_quoted_attribute(url),
        html(text)
    )
}

/// An `m.room.message` event: `body` is plain text (clients show it as is), and
/// `formatted_body` HTML in which every value is escaped.
fn matrix(heading: &str, hits: &[HitLine], omitted: usize) -> Value {
    let mut plain = heading.to_owned();
    let mut formatted = format!("<p><strong>{}</strong></p><ul>", html(heading));
    for hit in hits {
        plain.push_str(&format!(
            "\n- [{}] {}: {}",
            hit.severity, hit.indicator_title, hit.title
        ));
        let title = match &hit.link {
            Some(link) => html_link(link, &hit.title),
            None => html(&hit.title),
        };
        formatted.push_str(&format!(
            "<li><strong>{}</strong> {}: {title}",
            html(&hit.severity),
            html(&hit.indicator_title)
        ));
        if !hit.terms.is_empty() {
            let terms = hit.terms.join(", ");
            plain.push_str(&format!(" (matched: {terms})"));
            formatted.push_str(&format!(" (matched: {})", html(&terms)));
        }
        if let Some(url) = &hit.hit_url {
            plain.push_str(&format!(" {url}"));
            formatted.push_str(&format!(" {}", html_link(url, "hit page")));
        }
        formatted.push_str("</li>");
    }
    formatted.push_str("</ul>");
    if let Some(more) = more_line(omitted) {
        plain.push_str(&format!("\n{more}"));
        formatted.push_str(&format!("<p>{}</p>", html(&more)));
    }
    json!({
        "msgtype": "m.notice",
        "body": plain,
        "format": "org.matrix.custom.html",
        "formatted_body": formatted,
    })
}

fn kind_name(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Alert => "alert",
        MessageKind::Digest => "digest",
        MessageKind::Summary => "summary",
        MessageKind::Test => "test",
    }
}

/// watchfloor's own document (README.md, "Webhooks", documents it field by field).
fn document(
    view: &MessageView,
    heading: &str,
    hits: &[HitLine],
    omitted: usize,
    key: &str,
) -> Value {
    let mut indicators: Vec<Value> = Vec::new();
    for alert in &view.alerts {
        let id = header_text(&alert.indicator_id, NAME_MAX);
        if indicators.iter().any(|i| i["id"] == id.as_str()) {
            continue;
        }
        indicators.push(json!({
            "id": id,
            "title": header_text(&alert.indicator_title, NAME_MAX),
            "severity": header_text(&alert.severity, 20),
            "insight": header_text(&alert.insight, INSIGHT_MAX),
        }));
    }
    let hits: Vec<Value> = hits
        .iter()
        .map(|hit| {
            json!({
                "hit_id": hit.hit_id,
                "indicator_id": hit.indicator_id,
                "title": hit.title,
                "link": hit.link,
                "matched_terms": hit.terms,
                "score": hit.score,
                "feed": hit.feed,
                "hit_url": hit.hit_url,
            })
        })
        .collect();
    json!({
        "version": JSON_VERSION,
        "idempotency_key": key,
        "kind": kind_name(view.kind),
        "summary": heading,
        "indicators": indicators,
        "hits": hits,
        "omitted_hits": omitted,
        "hit_log": view.hit_log_base.as_deref().and_then(web_link).map(|l| header_text(&l, LINK_MAX)),
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::alert::render::SourceView;

    fn alert(id: i64, title: &str, link: &str) -> AlertView {
        AlertView {
            alert_id: id,
            hit_id: id,
            indicator_id: "sat".into(),
            indicator_title: "Satellite launch".into(),
            severity: "high".into(),
            insight: "Launch prep".into(),
            item_title: title.into(),
            link: Some(link.into()),
            published: None,
            first_seen: chrono::Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
            sources: vec![SourceView {
                feed_id: "wire".into(),
                feed_title: Some("Wire".into()),
                link: Some(link.into()),
            }],
            evidence_json: "{}".into(),
            score: 1.5,
        }
    }

    fn view(alerts: Vec<AlertView>) -> MessageView {
        MessageView {
            kind: MessageKind::Alert,
            alerts,
            hit_log_base: Some("https://wf.example.org".into()),
            hit_log_local_only: false,
        }
    }

    fn text_of(format: WebhookFormat, v: &MessageView) -> Value {
        serde_json::from_slice(&render(format, v, "key-1")).expect("JSON")
    }

    #[test]
    fn slack_text_cannot_open_links_or_mentions() {
        let v = view(vec![alert(
            1,
            "<!channel> click <https://evil.example|here> & run",
            "https://news.example/a|b",
        )]);
        let text = text_of(WebhookFormat::Slack, &v)["text"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(!text.contains("<!channel>"), "{text}");
        assert!(text.contains("&lt;!channel&gt;"), "{text}");
        assert!(!text.contains("<https://evil"), "{text}");
        assert!(text.contains("<https://news.example/a%7Cb|"), "{text}");
        assert!(
            text.contains("<https://wf.example.org/hits/1|hit page>"),
            "{text}"
        );
    }

    #[test]
    fn markdown_formats_escape_links_and_mentions() {
        let v = view(vec![alert(
            1,
            "[pwn](javascript:alert(1)) @channel **bold** <b>x</b>",
            "javascript:alert(1)",
        )]);
        let text = text_of(WebhookFormat::Mattermost, &v)["text"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(!text.contains("[pwn]("), "{text}");
        assert!(!text.contains("@channel"), "{text}");
        assert!(!text.contains("](javascript"), "{text}");
        let card = text_of(WebhookFormat::Teams, &v);
        assert_eq!(card["type"], "message");
        let content = &card["attachments"][0]["content"];
        assert_eq!(content["type"], "AdaptiveCard");
        let runs = &content["body"][1]["inlines"];
        // The title is one plain run; its link (javascript:) is dropped, not made an action.
        let title = runs
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["text"].as_str().unwrap().contains("[pwn]"))
            .expect("the title run");
        assert!(title.get("selectAction").is_none(), "{title}");
        assert!(
            content["body"]
                .as_array()
                .unwrap()
                .iter()
                .all(|b| b["type"] == "RichTextBlock")
        );
    }

    #[test]
    fn matrix_html_is_escaped_and_links_only_http() {
        let v = view(vec![alert(
            1,
            "<img src=x onerror=alert(1)>\"'",
            "https://news.example/a\"onmouseover=x",
        )]);
        let event = text_of(WebhookFormat::Matrix, &v);
        let html = event["formatted_body"].as_str().unwrap();
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;img"), "{html}");
        assert!(!html.contains("\"onmouseover"), "{html}");
        assert_eq!(event["msgtype"], "m.notice");
        assert!(event["body"].as_str().unwrap().contains("<img"));
    }

    #[test]
    fn a_huge_message_is_cut_to_fit() {
        let alerts: Vec<AlertView> = (1..=500)
            .map(|i| {
                alert(
                    i,
                    &"long title ".repeat(100),
                    &format!("https://news.example/{}", "p".repeat(1500)),
                )
            })
            .collect();
        let v = view(alerts);
        for format in [
            WebhookFormat::Slack,
            WebhookFormat::Mattermost,
            WebhookFormat::Teams,
            WebhookFormat::Matrix,
            WebhookFormat::Json,
        ] {
            let body = render(format, &v, "k");
            assert!(body.len() <= BODY_MAX, "{format:?}: {}", body.len());
            let value: Value = serde_json::from_slice(&body).expect("JSON");
            assert!(!value.is_null());
        }
        let doc = text_of(WebhookFormat::Json, &v);
        let listed = doc["hits"].as_array().unwrap().len();
        assert!(listed > 0);
        assert_eq!(listed as u64 + doc["omitted_hits"].as_u64().unwrap(), 500);
    }
}
