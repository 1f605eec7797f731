use chrono::TimeZone;
use mail_parser::MessageParser;

use super::*;
use crate::text::safe::tests::bad_offsets;

const SCRIPT: &str = "<script>alert(1)</script>";
const ATTRIBUTE_BREAKER: &str = "\"><img src=x onerror=alert(1)>";
const HEADER_INJECTION: &str = "Evil\r\nBcc: victim@example.org";
const RTL_OVERRIDE: &str = "Invoice \u{202E}fdp.exe";

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, hour, 5, 0).unwrap()
}

fn evidence(text: &str, terms: &[&str]) -> String {
    let highlights: Vec<(usize, usize)> = terms
        .iter()
        .map(|term| {
            let start = text.find(term).expect("term is in the text");
            (start, start + term.len())
        })
        .collect();
    serde_json::json!({
        "terms": [],
        "snippet": {"field": "summary", "start": 0, "end": text.len(), "text": text, "highlights": highlights},
    })
    .to_string()
}

fn alert(hit_id: i64, indicator_id: &str, severity: &str, item_title: &str) -> AlertView {
    AlertView {
        alert_id: hit_id + 1000,
        hit_id,
        indicator_id: indicator_id.to_owned(),
        indicator_title: "North Korean satellite launch".to_owned(),
        severity: severity.to_owned(),
        insight: "A successful launch would suggest Russian help with launch vehicles.".to_owned(),
        item_title: item_title.to_owned(),
        link: Some(format!("https://news.example.org/story/{hit_id}")),
        published: Some(at(9)),
        first_seen: at(10),
        sources: vec![SourceView {
            feed_id: "yonhap_en".to_owned(),
            feed_title: Some("Yonhap English".to_owned()),
            link: Some(format!("https://en.yna.example/{hit_id}")),
        }],
        evidence_json: evidence(
            "North Korea launched a reconnaissance satellite on Tuesday.",
            &["North Korea", "satellite"],
        ),
        score: 1.5,
    }
}

fn satellite(hit_id: i64, item_title: &str) -> AlertView {
    alert(hit_id, "satellite_launch", "high", item_title)
}

fn view(kind: MessageKind, alerts: Vec<AlertView>) -> MessageView {
    MessageView {
        kind,
        alerts,
        hit_log_base: None,
        hit_log_local_only: false,
    }
}

fn envelope() -> Envelope {
    Envelope {
        from: "watchfloor <watchfloor@example.org>".parse().unwrap(),
        to: "Analyst <analyst@example.org>".parse().unwrap(),
        message_id: "alert-42.watchfloor@example.org".to_owned(),
        date: at(11),
    }
}

/// Every `href` value in an HTML part, as written (still entity-escaped).
fn hrefs(html: &str) -> Vec<&str> {
    html.split("href=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap_or(rest.len())])
        .collect()
}

#[test]
fn subjects_follow_the_format_of_each_kind() {
    let digest = vec![
        satellite(1, "a"),
        alert(2, "labor_export", "medium", "b"),
        satellite(3, "c"),
    ];
    let cases: Vec<(MessageKind, Vec<AlertView>, &str)> = vec![
        (
            MessageKind::Alert,
            vec![satellite(1, "North Korea launches Malligyong-2")],
            "[watchfloor][high] North Korean satellite launch: North Korea launches Malligyong-2",
        ),
        (
            MessageKind::Alert,
            vec![
                satellite(1, "First story"),
                satellite(2, "Second"),
                satellite(3, "Third"),
            ],
            "[watchfloor][high] North Korean satellite launch: 3 new hits (first: First story)",
        ),
        (
            MessageKind::Alert,
            vec![alert(1, "satellite_launch", "critical", "Launch")],
            "[watchfloor][critical] North Korean satellite launch: Launch",
        ),
        (
            MessageKind::Alert,
            vec![alert(1, "satellite_launch", "LOW ", "Launch")],
            "[watchfloor][low] North Korean satellite launch: Launch",
        ),
        (
            MessageKind::Alert,
            vec![alert(1, "satellite_launch", "dire\r\n", "Launch")],
            "[watchfloor][unknown] North Korean satellite launch: Launch",
        ),
        (
            MessageKind::Digest,
            digest.clone(),
            "[watchfloor] Digest: 3 hits across 2 indicators",
        ),
        (
            MessageKind::Digest,
            vec![satellite(1, "a")],
            "[watchfloor] Digest: 1 hit across 1 indicator",
        ),
        (
            MessageKind::Summary,
            digest,
            "[watchfloor] 3 held alerts (hourly limit reached)",
        ),
        (MessageKind::Test, vec![], "[watchfloor] Test message"),
    ];
    for (kind, alerts, expected) in cases {
        assert_eq!(render(&view(kind, alerts)).subject, expected, "{kind:?}");
    }
}

#[test]
fn the_subject_carries_the_highest_severity_in_the_message() {
    let alerts = vec![
        alert(1, "satellite_launch", "medium", "First"),
        alert(2, "satellite_launch", "critical", "Second"),
        alert(3, "satellite_launch", "low", "Third"),
    ];
    let subject = render(&view(MessageKind::Alert, alerts)).subject;
    assert!(subject.starts_with("[watchfloor][critical] "), "{subject}");
}

#[test]
fn a_long_subject_is_capped_with_an_ellipsis() {
    let title = "북한 정찰위성 발사 ".repeat(40);
    let subject = render(&view(MessageKind::Alert, vec![satellite(1, &title)])).subject;
    assert_eq!(subject.chars().count(), SUBJECT_MAX);
    assert!(subject.ends_with('…'));
    assert!(subject.starts_with("[watchfloor][high] North Korean satellite launch: 북한"));
}

#[test]
fn encoded_words_in_a_title_are_decoded_then_cleaned_for_the_subject() {
    // A title whose encoded word hides a line break and a bidi override: as raw ASCII it would
    // pass every check and be decoded by the mail client alone.
    let title =
        "=?utf-8?q?Launch=0D=0ABcc:_victim=40example.org_=E2=80=AEtxt?= =?utf-8?b?67aB7ZWc?=";
    let rendered = render(&view(MessageKind::Alert, vec![satellite(1, title)]));
    let subject = &rendered.subject;
    assert!(!subject.contains("=?"), "{subject}");
    assert!(!subject.contains(['\r', '\n', '\u{202E}']), "{subject:?}");
    assert!(
        subject.ends_with("Launch Bcc: victim@example.org txt북한"),
        "{subject}"
    );
}

#[test]
fn hostile_item_titles_are_inert_in_subject_text_and_html() {
    for hostile in [SCRIPT, ATTRIBUTE_BREAKER, HEADER_INJECTION, RTL_OVERRIDE] {
        let rendered = render(&view(MessageKind::Alert, vec![satellite(1, hostile)]));
        for (part, output) in [
            ("subject", &rendered.subject),
            ("text", &rendered.text),
            ("html", &rendered.html),
        ] {
            assert!(!output.contains('\r'), "{part} of {hostile:?}");
            assert!(!output.contains('\u{202E}'), "{part} of {hostile:?}");
            assert!(
                !output.lines().any(|line| line.starts_with("Bcc:")),
                "{part} of {hostile:?}"
            );
        }
        assert!(!rendered.subject.contains('\n'));
        assert!(!rendered.html.contains("<script"), "{hostile:?}");
        assert!(!rendered.html.contains("<img"), "{hostile:?}");
    }
    let rendered = render(&view(MessageKind::Alert, vec![satellite(1, SCRIPT)]));
    assert!(
        rendered
            .html
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
    );
    assert!(
        rendered.text.contains(SCRIPT),
        "the text part shows it as text"
    );
    let rendered = render(&view(
        MessageKind::Alert,
        vec![satellite(1, ATTRIBUTE_BREAKER)],
    ));
    assert!(
        rendered
            .html
            .contains("&#34;&#62;&#60;img src=x onerror=alert(1)&#62;")
    );
}

#[test]
fn hostile_feed_text_everywhere_is_escaped_in_html() {
    let mut hostile = satellite(1, "Launch");
    hostile.indicator_title = format!("Indicator {SCRIPT}");
    hostile.insight = format!("Insight {ATTRIBUTE_BREAKER}");
    hostile.sources = vec![
        SourceView {
            feed_id: "feed<b>".to_owned(),
            feed_title: Some(format!("Feed {SCRIPT}")),
            link: Some("https://feed.example.org/?q=\"><script>".to_owned()),
        },
        SourceView {
            feed_id: "other".to_owned(),
            feed_title: Some(ATTRIBUTE_BREAKER.to_owned()),
            link: None,
        },
    ];
    hostile.evidence_json = evidence(
        "North Korea <script>alert(1)</script> satellite \u{202E}gnp.exe",
        &["North Korea", "<script>"],
    );
    let mut message = view(MessageKind::Digest, vec![hostile]);
    message.hit_log_base = Some("https://wf.example.org/\"><script>".to_owned());
    let html = render(&message).html;
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("<b>"), "{html}");
    assert!(!html.contains('\u{202E}'));
    assert!(html.contains("<mark>&#60;script&#62;</mark>"), "{html}");
    for href in hrefs(&html) {
        assert!(!href.contains('<') && !href.contains('>'), "{href}");
    }
}

#[test]
fn only_http_and_https_links_become_hrefs() {
    let hostile_links = [
        "javascript:alert(1)",
        "  JaVaScRiPt:alert(document.cookie)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "https://",
        "//evil.example/relative",
    ];
    for link in hostile_links {
        let mut hit = satellite(1, "Launch");
        hit.link = Some(link.to_owned());
        hit.sources[0].link = Some(link.to_owned());
        let rendered = render(&view(MessageKind::Alert, vec![hit]));
        for href in hrefs(&rendered.html) {
            assert!(
                href.starts_with("https://") || href.starts_with("http://"),
                "{link:?} gave href {href:?}"
            );
        }
        assert!(!rendered.html.to_lowercase().contains("href=\"javascript"));
        assert!(
            rendered.html.contains("not a link"),
            "{link:?} is shown as text"
        );
        assert!(rendered.text.contains("not a link"), "{link:?}");
    }
}

#[test]
fn web_links_become_escaped_hrefs() {
    let mut hit = satellite(1, "Launch");
    hit.link = Some("https://news.example.org/a b?x=1&y=\"2\"".to_owned());
    let rendered = render(&view(MessageKind::Alert, vec![hit]));
    assert!(
        rendered
            .html
            .contains("href=\"https://news.example.org/a%20b?x=1&#38;y=%222%22\""),
        "{}",
        rendered.html
    );
    assert!(
        rendered
            .text
            .contains("<https://news.example.org/a%20b?x=1&y=%222%22>")
    );
}

#[test]
fn highlights_land_on_the_matched_words() {
    let cases = [
        (
            "North Korea launched a reconnaissance satellite on Tuesday.",
            vec!["North Korea", "satellite"],
        ),
        (
            "북한이 정찰위성을 발사했다고 조선중앙통신이 밝혔다.",
            vec!["북한", "정찰위성", "발사"],
        ),
        (
            "…КНДР запустила спутник с помощью России",
            vec!["КНДР", "спутник"],
        ),
    ];
    for (text, terms) in cases {
        let mut hit = satellite(1, "Launch");
        hit.evidence_json = evidence(text, &terms);
        let rendered = render(&view(MessageKind::Alert, vec![hit]));
        for term in &terms {
            assert!(
                rendered.html.contains(&format!("<mark>{term}</mark>")),
                "{term} in {}",
                rendered.html
            );
            assert!(rendered.text.contains(&format!("*{term}*")), "{term}");
        }
        assert_eq!(
            rendered.html.matches("<mark>").count(),
            terms.len(),
            "{text}"
        );
    }
}

/// The splitting itself is tested in `text::safe`; here, that a message carrying such
/// evidence still renders.
#[test]
fn bad_highlight_offsets_do_not_panic() {
    let text = "북한 спутник launch";
    for highlights in bad_offsets() {
        let json = serde_json::json!({"snippet": {"text": text, "highlights": highlights}});
        let mut hit = satellite(1, "Launch");
        hit.evidence_json = json.to_string();
        render(&view(MessageKind::Alert, vec![hit]));
    }
}

#[test]
fn unreadable_evidence_renders_without_a_snippet() {
    for json in [
        "",
        "not json",
        "{}",
        "{\"snippet\": null}",
        "{\"snippet\": {\"highlights\": [[0, 1]]}}",
        "[1, 2]",
    ] {
        let mut hit = satellite(1, "Launch");
        hit.evidence_json = json.to_owned();
        let rendered = render(&view(MessageKind::Alert, vec![hit]));
        assert!(!rendered.html.contains("<blockquote"), "{json:?}");
        assert!(!rendered.text.contains("  > "), "{json:?}");
        assert!(rendered.html.contains("Launch"));
    }
}

#[test]
fn the_digest_groups_hits_by_indicator_most_severe_first() {
    let labor = |hit_id, title| {
        let mut hit = alert(hit_id, "labor_export", "critical", title);
        hit.indicator_title = "Labour export to Russia".to_owned();
        hit
    };
    let alerts = vec![
        satellite(1, "Satellite one"),
        labor(2, "Workers one"),
        satellite(3, "Satellite two"),
        labor(4, "Workers two"),
    ];
    let rendered = render(&view(MessageKind::Digest, alerts));
    for body in [&rendered.text, &rendered.html] {
        let position = |needle: &str| {
            body.find(needle)
                .unwrap_or_else(|| panic!("{needle} in {body}"))
        };
        let order = [
            position("Labour export to Russia"),
            position("Workers one"),
            position("Workers two"),
            position("North Korean satellite launch"),
            position("Satellite one"),
            position("Satellite two"),
        ];
        assert!(order.is_sorted(), "{order:?} in {body}");
        assert_eq!(body.matches("Labour export to Russia").count(), 1);
    }
    assert_eq!(rendered.html.matches("<h2").count(), 2);
}

#[test]
fn the_summary_lists_held_hits_compactly_by_indicator() {
    let alerts = vec![
        satellite(1, "Satellite one"),
        alert(2, "labor_export", "medium", "Workers one"),
    ];
    let rendered = render(&view(MessageKind::Summary, alerts));
    assert_eq!(rendered.html.matches("<li").count(), 2);
    assert_eq!(rendered.html.matches("<h2").count(), 2);
    assert!(!rendered.html.contains("<mark>"), "no snippets");
    assert!(
        rendered
            .text
            .contains("- Satellite one | Published 2026-11-26 09:05 UTC")
    );
    assert!(rendered.text.contains("hourly alert limit was reached"));
}

#[test]
fn the_hit_log_link_appears_only_when_configured() {
    let alerts = vec![satellite(7, "Launch")];
    let without = render(&view(MessageKind::Alert, alerts.clone()));
    assert!(!without.text.contains("/hits/"));
    assert!(!without.html.contains("/hits/"));
    for base in ["https://wf.example.org", "https://wf.example.org/"] {
        let mut message = view(MessageKind::Alert, alerts.clone());
        message.hit_log_base = Some(base.to_owned());
        let rendered = render(&message);
        assert!(
            rendered
                .text
                .contains("Hit log: https://wf.example.org/hits/7"),
            "{}",
            rendered.text
        );
        assert!(
            rendered
                .html
                .contains("href=\"https://wf.example.org/hits/7\"")
        );
        assert!(!rendered.text.contains("org//hits"));
    }
}

#[test]
fn a_hit_names_its_source_and_the_feeds_that_also_reported_it() {
    let mut hit = satellite(1, "Launch");
    hit.sources.push(SourceView {
        feed_id: "kcna_watch".to_owned(),
        feed_title: None,
        link: None,
    });
    hit.sources.push(SourceView {
        feed_id: "nk_news".to_owned(),
        feed_title: Some("NK News".to_owned()),
        link: Some("https://nknews.example/1".to_owned()),
    });
    let rendered = render(&view(MessageKind::Alert, vec![hit]));
    assert!(rendered.text.contains("Source: Yonhap English (yonhap_en)"));
    assert!(
        rendered
            .text
            .contains("Also reported by: kcna_watch, NK News (nk_news)"),
        "{}",
        rendered.text
    );
    assert!(
        rendered
            .html
            .contains("also reported by kcna_watch, <a href=\"https://nknews.example/1\"")
    );
}

#[test]
fn a_hit_shows_its_published_time_else_when_first_seen() {
    let published = satellite(1, "Launch");
    let mut unpublished = satellite(2, "Launch");
    unpublished.published = None;
    let rendered = render(&view(MessageKind::Alert, vec![published, unpublished]));
    assert!(rendered.text.contains("Published: 2026-11-26 09:05 UTC"));
    assert!(rendered.text.contains("First seen: 2026-11-26 10:05 UTC"));
    assert!(rendered.html.contains("First seen: 2026-11-26 10:05 UTC"));
}

#[test]
fn a_hit_shows_its_insight_and_score() {
    let rendered = render(&view(MessageKind::Alert, vec![satellite(1, "Launch")]));
    for body in [&rendered.text, &rendered.html] {
        assert!(body.contains("A successful launch would suggest Russian help"));
        assert!(body.contains("Score: 1.50 (hit 1)"));
    }
}

#[test]
fn the_test_message_renders_without_hits() {
    let rendered = render(&view(MessageKind::Test, vec![]));
    assert!(rendered.text.contains("test message from watchfloor"));
    assert!(rendered.html.contains("test message from watchfloor"));
    assert!(rendered.hit_ids.is_empty());
}

#[test]
fn list_ids_name_the_indicator_or_the_kind() {
    let mut korean = satellite(1, "Launch");
    korean.indicator_title = "북한 \"위성\" 발사: 2차".to_owned();
    let mut quoted = satellite(1, "Launch");
    quoted.indicator_title = "Say \"launch\" \\ now\r\n".to_owned();
    let cases = [
        (
            view(MessageKind::Alert, vec![satellite(1, "Launch")]),
            "\"North Korean satellite launch\" <satellite_launch.watchfloor>",
        ),
        (
            view(MessageKind::Alert, vec![quoted]),
            "\"Say \\\"launch\\\" \\\\ now\" <satellite_launch.watchfloor>",
        ),
        (
            view(MessageKind::Alert, vec![korean]),
            "북한 위성 발사 2차 <satellite_launch.watchfloor>",
        ),
        (view(MessageKind::Digest, vec![]), "<digest.watchfloor>"),
        (view(MessageKind::Summary, vec![]), "<summary.watchfloor>"),
        (view(MessageKind::Test, vec![]), "<test.watchfloor>"),
    ];
    for (message, expected) in cases {
        assert_eq!(render(&message).list_id, expected);
    }
}

#[test]
fn a_built_message_parses_back_with_both_parts_and_its_headers() {
    let mut first = satellite(41, "북한, 정찰위성 발사");
    first.evidence_json = evidence("북한이 정찰위성을 발사했다.", &["북한", "정찰위성"]);
    let rendered = render(&view(
        MessageKind::Alert,
        vec![first, satellite(42, "Second")],
    ));
    let message = build_message(&envelope(), &rendered).unwrap();
    let bytes = message.formatted();
    let parsed = MessageParser::default().parse(&bytes).unwrap();

    assert_eq!(
        parsed.subject(),
        Some(
            "[watchfloor][high] North Korean satellite launch: 2 new hits (first: 북한, 정찰위성 발사)"
        )
    );
    assert_eq!(parsed.message_id(), Some("alert-42.watchfloor@example.org"));
    assert!(parsed.date().is_some());
    assert_eq!(
        parsed.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-generated")
    );
    assert_eq!(
        parsed.header_raw("List-Id").map(str::trim),
        Some("\"North Korean satellite launch\" <satellite_launch.watchfloor>")
    );
    assert_eq!(
        parsed.header_raw("X-Watchfloor-Hits").map(str::trim),
        Some("41, 42")
    );
    let text = parsed.body_text(0).unwrap();
    let html = parsed.body_html(0).unwrap();
    assert_eq!(
        text.replace("\r\n", "\n").trim_end(),
        rendered.text.trim_end()
    );
    assert!(html.contains("<mark>정찰위성</mark>"), "{html}");
    assert_eq!(parsed.text_body_count(), 1);
    assert_eq!(parsed.html_body_count(), 1);
    let raw = String::from_utf8_lossy(&bytes);
    assert!(raw.contains("multipart/alternative"));
    assert!(raw.contains("text/plain; charset=utf-8"));
    assert!(raw.contains("text/html; charset=utf-8"));
}

#[test]
fn a_header_injection_in_a_title_adds_no_header() {
    let rendered = render(&view(
        MessageKind::Alert,
        vec![satellite(1, HEADER_INJECTION)],
    ));
    let bytes = build_message(&envelope(), &rendered).unwrap().formatted();
    let parsed = MessageParser::default().parse(&bytes).unwrap();
    assert!(parsed.bcc().is_none());
    assert!(parsed.header_raw("Bcc").is_none());
    assert_eq!(
        parsed.subject(),
        Some("[watchfloor][high] North Korean satellite launch: Evil Bcc: victim@example.org")
    );
}

#[test]
fn build_message_cleans_a_hand_made_subject() {
    let rendered = Rendered {
        subject: "Hand made\r\nBcc: victim@example.org".to_owned(),
        text: "text".to_owned(),
        html: "<p>html</p>".to_owned(),
        list_id: "<test.watchfloor>\r\nBcc: victim@example.org".to_owned(),
        hit_ids: vec![],
    };
    let bytes = build_message(&envelope(), &rendered).unwrap().formatted();
    let parsed = MessageParser::default().parse(&bytes).unwrap();
    assert!(parsed.header_raw("Bcc").is_none());
    assert!(parsed.header_raw("X-Watchfloor-Hits").is_none());
    assert_eq!(parsed.subject(), Some("Hand made Bcc: victim@example.org"));
}

#[test]
fn a_malformed_message_id_is_refused() {
    for id in [
        "",
        "no-at-sign",
        "@example.org",
        "alert-1@",
        "<alert-1@example.org>",
        "alert 1@example.org",
        "alert-1@example.org\r\nBcc: victim@example.org",
        "alert-1@exämple.org",
    ] {
        let mut envelope = envelope();
        envelope.message_id = id.to_owned();
        let rendered = render(&view(MessageKind::Test, vec![]));
        assert!(
            matches!(
                build_message(&envelope, &rendered),
                Err(RenderError::MessageId(_))
            ),
            "{id:?}"
        );
    }
}

/// Evidence as the matcher records it for a hit whose score a demoting boost lowered.
fn demoted_evidence() -> (String, f64) {
    let (_, hit) = crate::matcher::fixtures::demoted_hit();
    (
        serde_json::to_string(&hit.evidence).expect("json"),
        hit.score,
    )
}

#[test]
fn a_demoting_term_is_marked_apart_and_the_score_breakdown_is_shown() {
    let (evidence_json, score) = demoted_evidence();
    let mut hit = satellite(7, "Launch pad readied");
    hit.evidence_json = evidence_json;
    hit.score = score;
    let rendered = render(&view(MessageKind::Alert, vec![hit]));
    let html = &rendered.html;
    // The supporting term is highlighted; the demoting one is struck through, not marked.
    assert!(html.contains("<mark>satellite</mark>"), "{html}");
    assert!(
        html.contains("<s title=\"demoting term\" style=\"color:#777777\">Commercial imagery</s>"),
        "{html}"
    );
    assert!(!html.contains("<mark>Commercial imagery</mark>"), "{html}");
    assert!(
        html.contains(
            "Demoted by: <s title=\"demoting term\">boost &#39;@imagery&#39; (-1.0)</s>; \
             <s title=\"demoting term\">&#34;Commercial imagery&#34; (@imagery: commercial imagery)</s>"
        ),
        "{html}"
    );
    assert!(
        html.contains(
            "Score breakdown: query 1.0 + &#39;title:(launch*)&#39; 0.5 − &#39;@imagery&#39; 1.0 \
             = 0.5 ≥ min_score 0.5"
        ),
        "{html}"
    );
    let text = &rendered.text;
    assert!(
        text.contains("  > ~~Commercial imagery~~ shows the *satellite* on the pad"),
        "{text}"
    );
    assert!(
        text.contains(
            "  Demoted by (~~demoting term~~): boost '@imagery' (-1.0); \
             \"Commercial imagery\" (@imagery: commercial imagery)"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "  Score breakdown: query 1.0 + 'title:(launch*)' 0.5 − '@imagery' 1.0 = 0.5 ≥ \
             min_score 0.5"
        ),
        "{text}"
    );
}

#[test]
fn hostile_boost_text_in_stored_evidence_stays_escaped() {
    let json = serde_json::json!({
        "terms": [{"term": SCRIPT, "field": "summary", "start": 0, "end": 3, "text": ATTRIBUTE_BREAKER, "role": "demoting"}],
        "snippet": {"field": "summary", "start": 0, "end": 10, "text": SCRIPT, "highlights": [], "demoting": [[0, 8]]},
        "score": {"base": 1.0, "boosts": [{"query": SCRIPT, "weight": -1.0, "applied": true}], "score": 0.0, "min_score": 0.0},
    });
    let mut hit = satellite(1, "Launch");
    hit.evidence_json = json.to_string();
    let rendered = render(&view(MessageKind::Alert, vec![hit]));
    assert!(!rendered.html.contains("<script>"), "{}", rendered.html);
    assert!(!rendered.html.contains("<img"), "{}", rendered.html);
    assert!(rendered.html.contains("Demoted by:"));
}

#[test]
fn malformed_evidence_is_counted_and_the_alert_still_goes_out_without_it() {
    let json = serde_json::json!({
        "snippet": {"text": "a satellite", "highlights": [[2, 11]]},
        "score": {"base": "one"},
        "terms": 5,
    });
    let mut hit = satellite(1, "Launch");
    hit.evidence_json = json.to_string();
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let counted = recorder.handle();
    let rendered =
        metrics::with_local_recorder(&recorder, || render(&view(MessageKind::Alert, vec![hit])));
    assert!(rendered.html.contains("Launch"), "{}", rendered.html);
    assert!(!rendered.html.contains("<mark>"), "{}", rendered.html);
    assert!(!rendered.html.contains("Score breakdown"));
    let metrics = counted.render();
    assert!(
        metrics.contains("watchfloor_evidence_unreadable_total 1"),
        "{metrics}"
    );
}

#[test]
fn hits_of_a_message_run_newest_first_and_a_title_snippet_is_not_repeated() {
    let mut older = satellite(7, "Older report");
    older.published = Some(at(6));
    let mut newer = satellite(3, "Newer report");
    newer.published = Some(at(8));
    let mut unpublished = satellite(5, "Seen at ten");
    unpublished.published = None;
    // Written by polls in id order 3, 5, 7; the stories broke 08:05, (seen 10:05), 06:05.
    let rendered = render(&view(MessageKind::Alert, vec![newer, unpublished, older]));
    let at_of = |title: &str| rendered.text.find(title).expect(title);
    assert!(
        at_of("Seen at ten") < at_of("Newer report"),
        "{}",
        rendered.text
    );
    assert!(
        at_of("Newer report") < at_of("Older report"),
        "{}",
        rendered.text
    );

    // A snippet taken from the title is the title again: left out.
    let title = "North Korea launches a reconnaissance satellite";
    let mut from_title = satellite(1, title);
    from_title.evidence_json = serde_json::json!({
        "terms": [],
        "snippet": {"field": "title", "start": 0, "end": title.len(), "text": title, "highlights": [[0, 11]]},
    })
    .to_string();
    let rendered = render(&view(MessageKind::Alert, vec![from_title]));
    assert_eq!(rendered.text.matches(title).count(), 1, "{}", rendered.text);
    let html_body = &rendered.html[rendered.html.find("<body").expect("body")..];
    assert_eq!(
        html_body.matches("reconnaissance satellite").count(),
        1,
        "{html_body}"
    );
}

#[test]
fn links_to_a_loopback_hit_log_say_where_they_open() {
    let mut message = view(MessageKind::Alert, vec![satellite(9, "Launch")]);
    message.hit_log_base = Some("http://127.0.0.1:9477".to_owned());
    message.hit_log_local_only = true;
    let rendered = render(&message);
    for body in [&rendered.text, &rendered.html] {
        assert!(body.contains("http://127.0.0.1:9477/hits/9"), "{body}");
        assert!(
            body.contains("answers on the watchfloor machine only"),
            "{body}"
        );
    }
    message.hit_log_local_only = false;
    assert!(!render(&message).text.contains("machine only"));
}
