//! The pages' data models and templates (`templates/web/`). Every decision is made here in
//! Rust: which links are live, what text is shown, where highlights fall. The templates only
//! lay it out, and escape every value.

use std::collections::BTreeMap;

use askama::Template;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use super::WebState;
use super::chart::{self, Chart};
use crate::config::{Indicator, Indicators};
use crate::languages;
use crate::matcher::Role;
use crate::matcher::explain::demotion_lines;
use crate::store::{
    FeedState, HitDetail, HitFilter, HitRow, SourceRow, TriageFilter, Verdict, VerdictEntry,
};
use crate::text::safe::{
    LINK_MAX, Segment, header_text, highlight_block, highlight_block_roles, web_link,
};

/// Hits on one page of the list.
pub const PAGE_SIZE: usize = 50;
/// The largest `offset` a list accepts.
const MAX_OFFSET: usize = 1_000_000_000;
/// Caps on feed text: generous for real titles, bounded for hostile ones.
const TITLE_MAX: usize = 500;
const NAME_MAX: usize = 200;
const NOTE_MAX: usize = 2000;
const ERROR_MAX: usize = 1000;
const INSIGHT_MAX: usize = 4000;

/// What every page's frame shows.
struct Frame {
    title: String,
    /// Prepended to every link (see `WebState::base_url`).
    prefix: String,
}

fn frame(state: &WebState, title: &str) -> Frame {
    Frame {
        title: header_text(title, TITLE_MAX),
        prefix: state.prefix(),
    }
}

fn when(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A path segment with everything but unreserved characters percent-encoded, so an
/// indicator id cannot change which page a link opens.
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Text that is a link when its target is http or https, else only text.
struct Link {
    text: String,
    href: Option<String>,
}

fn item_link(link: Option<&str>) -> Option<Link> {
    let link = link.map(str::trim).filter(|l| !l.is_empty())?;
    Some(Link {
        text: header_text(link, LINK_MAX),
        href: web_link(link),
    })
}

/// The hit list's query string, as the filter form submits it. Every field is text, so a
/// hand-edited URL gets a page that says what is wrong rather than a bare 400.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ListQuery {
    pub indicator: String,
    pub feed: String,
    /// A date (`2026-11-01`) or an RFC 3339 time; a date means from its start.
    pub since: String,
    /// A date (to its end) or an RFC 3339 time.
    pub until: String,
    /// A search in the rule language (`store::search`).
    pub q: String,
    /// `untriaged`, `relevant`, `false_positive`, `duplicate`; empty: any.
    pub triage: String,
    pub offset: String,
    /// `include` (or `show`): list the hits that repeat another too (judged duplicates,
    /// folded stories), which are left out otherwise.
    pub duplicates: String,
}

/// `duplicates=include` (the Atom feed's word) or `show`: the hits that repeat another are
/// listed and counted too.
pub fn shows_repeats(value: &str) -> bool {
    matches!(value.trim(), "include" | "show")
}

fn parse_time(text: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        // The store's `until` is exclusive: a whole day ends where the next one starts.
        let date = if end_of_day { date.succ_opt()? } else { date };
        return Some(date.and_time(NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl ListQuery {
    /// The store's filter, and a sentence for each value that could not be used.
    pub fn filter(&self) -> (HitFilter, Vec<String>) {
        let mut problems = Vec::new();
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let mut time = |name: &str, value: &str, end: bool| {
            let value = text(value)?;
            let parsed = parse_time(&value, end);
            if parsed.is_none() {
                problems.push(format!(
                    "{name}: '{}' is not a date (2026-11-01) or an RFC 3339 time; ignored",
                    header_text(&value, NAME_MAX)
                ));
            }
            parsed
        };
        let since = time("since", &self.since, false);
        let until = time("until", &self.until, true);
        let triage = match self.triage.trim() {
            "" | "any" => TriageFilter::Any,
            "untriaged" => TriageFilter::Untriaged,
            other => match Verdict::parse(other) {
                Some(verdict) => TriageFilter::Verdict(verdict),
                None => {
                    problems.push(format!(
                        "triage: '{}' is not untriaged, relevant, false_positive or \
                         duplicate; ignored",
                        header_text(other, NAME_MAX)
                    ));
                    TriageFilter::Any
                }
            },
        };
        let offset = match self.offset.trim() {
            "" => 0,
            n => match n.parse::<usize>() {
                // Far past any hit log, and small enough that no page arithmetic overflows.
                Ok(offset) if offset <= MAX_OFFSET => offset,
                Ok(_) => {
                    problems.push(format!(
                        "offset: more than {MAX_OFFSET}; showing the first page"
                    ));
                    0
                }
                Err(_) => {
                    problems.push("offset: not a number; showing the first page".to_owned());
                    0
                }
            },
        };
        let filter = HitFilter {
            indicator: text(&self.indicator),
            feed: text(&self.feed),
            since,
            until,
            search: text(&self.q),
            triage,
            // The list and the Atom feed decide this themselves (`shows_repeats`).
            skip_duplicates: false,
            around: None,
            limit: PAGE_SIZE,
            offset,
        };
        (filter, problems)
    }

    /// Whether duplicates and folded repeats are listed (`duplicates=include`, or `show`).
    pub fn shows_repeats(&self) -> bool {
        shows_repeats(&self.duplicates)
    }

    /// The list named by a query string (a verdict form's `return`), with only the fields a
    /// list has: whatever else the string holds is dropped, so it can only lead to the list.
    pub fn from_query_string(text: &str) -> ListQuery {
        let mut query = ListQuery::default();
        for (name, value) in url::form_urlencoded::parse(text.as_bytes()).take(16) {
            let field = match &*name {
                "indicator" => &mut query.indicator,
                "feed" => &mut query.feed,
                "since" => &mut query.since,
                "until" => &mut query.until,
                "q" => &mut query.q,
                "triage" => &mut query.triage,
                "duplicates" => &mut query.duplicates,
                "offset" => &mut query.offset,
                _ => continue,
            };
            *field = value.chars().take(NAME_MAX).collect();
        }
        query
    }

    /// The store's filter for this list as the page shows it: repeats left out unless
    /// `duplicates=include`.
    pub fn list_filter(&self) -> HitFilter {
        let (mut filter, _) = self.filter();
        filter.skip_duplicates = !self.shows_repeats();
        filter
    }

    /// This list's query string, filters and offset kept: where a verdict posted from the
    /// list returns to.
    pub fn query_string(&self) -> String {
        let offset = self.offset.trim().parse::<usize>().unwrap_or(0);
        self.href("", offset)
            .split_once('?')
            .map_or(String::new(), |(_, q)| q.to_owned())
    }

    /// This list with repeats shown or hidden, from its first page.
    fn with_repeats(&self, prefix: &str, show: bool) -> String {
        let toggled = ListQuery {
            duplicates: if show {
                "include".into()
            } else {
                String::new()
            },
            ..self.clone()
        };
        toggled.href(prefix, 0)
    }

    /// This list at another offset, filters kept.
    pub fn href(&self, prefix: &str, offset: usize) -> String {
        let mut query = self.filters();
        if offset > 0 {
            query.append_pair("offset", &offset.to_string());
        }
        let query = query.finish();
        if query.is_empty() {
            format!("{prefix}/hits")
        } else {
            format!("{prefix}/hits?{query}")
        }
    }

    /// The filters as a query string, without the page's offset: what the list and its Atom
    /// feed share.
    pub fn filter_query(&self) -> String {
        self.filters().finish()
    }

    fn filters(&self) -> url::form_urlencoded::Serializer<'static, String> {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("indicator", &self.indicator),
            ("feed", &self.feed),
            ("since", &self.since),
            ("until", &self.until),
            ("q", &self.q),
            ("triage", &self.triage),
            ("duplicates", &self.duplicates),
        ] {
            if !value.trim().is_empty() {
                query.append_pair(name, value.trim());
            }
        }
        query
    }
}

struct Choice {
    value: String,
    label: String,
    selected: bool,
}

fn choices(current: &str, options: impl IntoIterator<Item = (String, String)>) -> Vec<Choice> {
    let current = current.trim();
    options
        .into_iter()
        .map(|(value, label)| Choice {
            selected: value == current,
            value,
            label,
        })
        .collect()
}

/// One hit in a list.
struct Row {
    hit_id: i64,
    href: String,
    /// When the hit was recorded: the time the date filters use.
    time: String,
    first_seen: String,
    published: String,
    /// The indicator's title (its id when it has left the rules), and its id beside.
    indicator: String,
    indicator_id: String,
    indicator_href: String,
    severity: &'static str,
    title: String,
    /// The evidence's excerpt with the matched terms marked; empty when the evidence does
    /// not say, or the excerpt would only repeat the title.
    snippet: Vec<Segment>,
    /// The item's language code, `und`, or `-`.
    lang: String,
    source: String,
    /// How many other feeds reported the story.
    also: usize,
    /// The current verdict, for people ("false positive"); empty before any.
    verdict: &'static str,
    /// The stored word of the verdict, for the row's class.
    verdict_class: &'static str,
    /// The earlier hit this one repeats (a duplicate's original, or the story's first
    /// report), with how: "duplicate of" or "folded into".
    repeats: Option<(&'static str, i64, String)>,
    alert: String,
    /// A replay found the rules no longer make this hit.
    retracted: bool,
}

/// The hit a duplicate or folded hit repeats, as the list and the hit page show it.
fn repeats_of(prefix: &str, hit: &HitRow) -> Option<(&'static str, i64, String)> {
    let how = match (&hit.triage, hit.folded_into) {
        (Some(t), _) if t.duplicate_of.is_some() => "a duplicate of",
        (_, Some(_)) => "folded into",
        _ => return None,
    };
    let original = hit.repeats()?;
    Some((how, original, format!("{prefix}/hits/{original}")))
}

/// The evidence's excerpt for a list row, marked as mail marks it.
fn row_snippet(hit: &HitRow) -> Vec<Segment> {
    crate::matcher::Evidence::from_stored(&hit.evidence)
        .ok()
        .and_then(|e| e.snippet)
        // From the title it would only repeat the line above it.
        .filter(|s| s.field != crate::text::Field::Title)
        .map_or_else(Vec::new, |s| s.segments())
}

fn severity_of(rules: &Indicators, id: &str) -> &'static str {
    rules
        .indicators
        .iter()
        .find(|i| i.id == id)
        .map_or("unknown", |i| i.severity.as_str())
}

fn title_text(title: &str) -> String {
    let title = header_text(title, TITLE_MAX);
    if title.is_empty() {
        "(untitled)".to_owned()
    } else {
        title
    }
}

/// A hit's page, opened from a list (`list`, its query string, may be empty): its j and k
/// then step through that list.
fn hit_in_list(prefix: &str, id: i64, list: &str) -> String {
    if list.is_empty() {
        format!("{prefix}/hits/{id}")
    } else {
        format!(
            "{prefix}/hits/{id}?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("list", list)
                .finish()
        )
    }
}

fn row(prefix: &str, rules: &Indicators, hit: &HitRow, list: &str) -> Row {
    let rule = rules.indicators.iter().find(|i| i.id == hit.indicator_id);
    Row {
        hit_id: hit.hit_id,
        href: hit_in_list(prefix, hit.hit_id, list),
        time: when(hit.created_at),
        first_seen: when(hit.first_seen),
        published: hit.published.map_or_else(|| "unknown".to_owned(), when),
        indicator: header_text(rule.map_or(&hit.indicator_id, |r| &r.title), NAME_MAX),
        indicator_id: header_text(&hit.indicator_id, NAME_MAX),
        indicator_href: format!("{prefix}/indicators/{}", segment(&hit.indicator_id)),
        severity: severity_of(rules, &hit.indicator_id),
        title: title_text(&hit.title),
        snippet: row_snippet(hit),
        lang: header_text(hit.lang_shown(), NAME_MAX),
        source: header_text(&hit.feed_id, NAME_MAX),
        also: hit.sources.iter().filter(|s| **s != hit.feed_id).count(),
        verdict: hit.triage.as_ref().map_or("", |t| t.verdict.label()),
        verdict_class: hit.triage.as_ref().map_or("none", |t| t.verdict.as_str()),
        repeats: repeats_of(prefix, hit),
        alert: hit
            .alert_status
            .as_deref()
            .map_or(String::new(), |s| header_text(s, NAME_MAX)),
        retracted: hit.retracted.is_some(),
    }
}

#[derive(Template)]
#[template(path = "web/hits.html")]
struct HitsPage<'a> {
    page: Frame,
    query: &'a ListQuery,
    indicators: Vec<Choice>,
    feeds: Vec<Choice>,
    triages: Vec<Choice>,
    problems: &'a [String],
    rows: Vec<Row>,
    total: u64,
    first: usize,
    last: usize,
    prev: Option<String>,
    next: Option<String>,
    atom: String,
    desk: Desk,
    /// Repeats (duplicates, folded hits) the filters match but the list leaves out.
    hidden: u64,
    /// The link that shows or hides the repeats, and what it says.
    repeats_toggle: (String, String),
}

/// What the verdict forms of a list's rows need.
struct Desk {
    /// Prepended to each row's `/hits/ID/triage`.
    prefix: String,
    /// The list's query string, where a verdict returns to.
    return_to: String,
}

pub fn hit_list(
    state: &WebState,
    query: &ListQuery,
    filter: &HitFilter,
    problems: &[String],
    hits: &[HitRow],
    total: u64,
    hidden: u64,
) -> Result<String, askama::Error> {
    let rules = (state.rules)();
    let page = frame(state, "Hits");
    let desk = Desk {
        prefix: page.prefix.clone(),
        return_to: query.query_string(),
    };
    let repeats_toggle = if query.shows_repeats() {
        (
            query.with_repeats(&page.prefix, false),
            "Hide duplicates and folded repeats".to_owned(),
        )
    } else {
        (
            query.with_repeats(&page.prefix, true),
            format!("Show {hidden} duplicates and folded repeats"),
        )
    };
    let offset = filter.offset;
    let prev = (offset > 0).then(|| query.href(&page.prefix, offset.saturating_sub(PAGE_SIZE)));
    let next = ((offset + hits.len()) as u64) < total;
    let next = (next && !hits.is_empty()).then(|| query.href(&page.prefix, offset + hits.len()));
    // The feed of what the page shows: every filter.
    let atom = match query.filter_query() {
        filters if filters.is_empty() => format!("{}/hits.atom", page.prefix),
        filters => format!("{}/hits.atom?{filters}", page.prefix),
    };
    HitsPage {
        indicators: choices(
            &query.indicator,
            std::iter::once((String::new(), "any".to_owned())).chain(
                rules
                    .indicators
                    .iter()
                    .map(|i| (i.id.clone(), header_text(&i.title, NAME_MAX))),
            ),
        ),
        feeds: choices(
            &query.feed,
            std::iter::once((String::new(), "any".to_owned())).chain(
                rules
                    .feeds
                    .iter()
                    .map(|f| (f.id.clone(), header_text(&f.id, NAME_MAX))),
            ),
        ),
        triages: choices(
            &query.triage,
            [
                ("", "any"),
                ("untriaged", "untriaged"),
                ("relevant", "relevant"),
                ("false_positive", "false positive"),
                ("duplicate", "duplicate"),
            ]
            .map(|(v, l)| (v.to_owned(), l.to_owned())),
        ),
        rows: hits
            .iter()
            .map(|h| row(&page.prefix, &rules, h, &desk.return_to))
            .collect(),
        total,
        first: if hits.is_empty() { 0 } else { offset + 1 },
        last: offset + hits.len(),
        prev,
        next,
        atom,
        desk,
        hidden,
        repeats_toggle,
        query,
        problems,
        page,
    }
    .render()
}

/// One field of the item, with its matched terms marked.
struct FieldText {
    name: &'static str,
    segments: Vec<Segment>,
}

struct Term {
    term: String,
    field: String,
    text: String,
    range: String,
    demoting: bool,
}

struct Source {
    feed: String,
    link: Option<Link>,
}

struct Delivery {
    /// `mail` or `webhook`: a webhook's recipient is its name in the settings.
    transport: &'static str,
    recipient: String,
    status: String,
    queued: String,
    message_id: String,
    attempts: String,
    sent: String,
    last_error: String,
    reply: String,
}

struct TriageView {
    verdict: &'static str,
    note: String,
    at: String,
    by: String,
}

/// One verdict of a hit's history.
struct HistoryEntry {
    verdict: &'static str,
    class: &'static str,
    at: String,
    by: String,
    note: String,
    /// A duplicate's original: its id and page.
    original: Option<(i64, String)>,
}

/// Where the hit page's j and k lead, and whether it is shown as part of the queue.
pub struct HitNav {
    /// In queue mode, how many hits wait in the queue.
    pub queue: Option<u64>,
    /// Opened from a list: its query string (`ListQuery::query_string`), which j, k and a
    /// verdict keep.
    pub list: Option<String>,
    /// The hit k opens: the queue's previous one, or the next newer one of the log.
    pub previous: Option<i64>,
    /// The hit j opens: the queue's next one, or the next older one of the log.
    pub next: Option<i64>,
}

#[derive(Template)]
#[template(path = "web/hit.html")]
struct HitPage {
    page: Frame,
    hit_id: i64,
    title: String,
    link: Option<Link>,
    indicator: String,
    indicator_title: String,
    indicator_href: String,
    severity: &'static str,
    published: String,
    first_seen: String,
    recorded: String,
    score: String,
    /// How the score was made; empty for hits stored before evidence recorded it.
    score_breakdown: String,
    /// Demoting boosts that applied and demoting terms, listed apart from the evidence.
    demoted_by: Vec<String>,
    origin: String,
    definition_hash: String,
    /// The item's language as stored, with what `und` or its absence means.
    lang: String,
    /// Whether the rule has changed since this hit was recorded.
    rule_changed: bool,
    /// When and by which rule version a replay retracted this hit.
    retracted: Option<(String, String)>,
    fields: Vec<FieldText>,
    /// Matched terms whose offsets no longer fit the stored text.
    misplaced: usize,
    terms: Vec<Term>,
    /// The feed whose text this hit matched: the text shown is that feed's.
    found_through: String,
    sources: Vec<Source>,
    deliveries: Vec<Delivery>,
    triage: Option<TriageView>,
    /// The verdict forms' target.
    triage_action: String,
    /// Every verdict given, oldest first.
    history: Vec<HistoryEntry>,
    /// The earlier hit this one repeats.
    repeats: Option<(&'static str, i64, String)>,
    /// Queue mode: how many wait ("3 untriaged hits wait"), and whether this hit is still
    /// one of them.
    queue: Option<(String, bool)>,
    /// A duplicate's original, for the current verdict's line.
    duplicate_of: Option<(i64, String)>,
    previous: Option<String>,
    next: Option<String>,
    /// The queue's own page, where a verdict given in queue mode goes next.
    queue_href: String,
    /// Opened from a list: its query string, kept by the verdict forms.
    list: Option<String>,
    /// That list's page.
    list_href: Option<String>,
}

pub fn hit_page(
    state: &WebState,
    detail: &HitDetail,
    history: &[VerdictEntry],
    nav: &HitNav,
) -> Result<String, askama::Error> {
    let rules = (state.rules)();
    let hit = &detail.row;
    let page = frame(state, &format!("Hit {}: {}", hit.hit_id, hit.title));
    let rule: Option<&Indicator> = rules.indicators.iter().find(|i| i.id == hit.indicator_id);
    // Unreadable evidence (logged and counted) still leaves a page worth showing, without
    // highlights.
    let evidence = crate::ops::metrics::stored_evidence(hit.hit_id, &hit.evidence);
    let (matched, score): (&[crate::matcher::MatchedTerm], _) = match &evidence {
        Some(evidence) => (&evidence.terms, evidence.score.as_ref()),
        None => (&[], None),
    };
    let link_text = hit.link.clone().unwrap_or_default();
    let texts: [(&'static str, &str); 6] = [
        ("title", &hit.title),
        ("summary", &detail.summary),
        ("content", &detail.content),
        ("author", &detail.authors),
        ("category", &detail.categories),
        ("link", &link_text),
    ];
    let mut misplaced = 0;
    let fields = texts
        .iter()
        .filter(|(_, text)| !text.trim().is_empty())
        .map(|&(name, text)| {
            let (mut supporting, mut demoting) = (Vec::new(), Vec::new());
            for t in matched.iter().filter(|t| t.field.name() == name) {
                // The item may have been updated since the hit, moving its text.
                if !(t.text.is_empty() || text.get(t.start..t.end) == Some(&t.text)) {
                    misplaced += 1;
                    continue;
                }
                match t.role {
                    Role::Supporting => supporting.push((t.start, t.end)),
                    Role::Demoting => demoting.push((t.start, t.end)),
                }
            }
            FieldText {
                name,
                segments: highlight_block_roles(text, &supporting, &demoting),
            }
        })
        .collect();
    let terms = matched
        .iter()
        .map(|t| Term {
            term: header_text(&t.term, NAME_MAX),
            field: t.field.name().to_owned(),
            text: header_text(&t.text, NAME_MAX),
            range: format!("{}..{}", t.start, t.end),
            demoting: t.role == Role::Demoting,
        })
        .collect();
    let demoted_by = demotion_lines(
        score,
        matched
            .iter()
            .filter(|t| t.role == Role::Demoting)
            .map(|t| (&*t.term, t.text.as_str())),
    );
    let score_breakdown = score.map_or(String::new(), |b| header_text(&b.summary(), INSIGHT_MAX));
    let feed_name = |s: &SourceRow| {
        let id = header_text(&s.feed_id, NAME_MAX);
        let title = s
            .feed_title
            .as_deref()
            .map(|t| header_text(t, NAME_MAX))
            .filter(|t| !t.is_empty() && *t != id);
        match title {
            Some(title) => format!("{title} ({id})"),
            None => id,
        }
    };
    let found_through = detail
        .sources
        .iter()
        .find(|s| s.feed_id == hit.feed_id)
        .map_or_else(|| header_text(&hit.feed_id, NAME_MAX), feed_name);
    let sources = detail
        .sources
        .iter()
        .map(|s| Source {
            feed: feed_name(s),
            link: item_link(s.link.as_deref()),
        })
        .collect();
    let deliveries = detail
        .deliveries
        .iter()
        .map(|d| {
            let message = d.message.as_ref();
            Delivery {
                transport: d.channel.as_str(),
                recipient: header_text(&d.recipient, NAME_MAX),
                status: d.status.as_str().to_owned(),
                queued: when(d.created_at),
                message_id: message.map_or(String::new(), |m| {
                    format!("<{}>", header_text(&m.message_id, NAME_MAX))
                }),
                attempts: message.map_or(String::new(), |m| m.attempts.to_string()),
                sent: message.and_then(|m| m.sent_at).map_or(String::new(), when),
                last_error: message
                    .and_then(|m| m.last_error.as_deref())
                    .map_or(String::new(), |e| header_text(e, ERROR_MAX)),
                reply: message
                    .and_then(|m| m.reply.as_deref())
                    .map_or(String::new(), |r| header_text(r, ERROR_MAX)),
            }
        })
        .collect();
    HitPage {
        lang: match hit.lang.as_deref() {
            None => "not identified (stored before watchfloor identified languages)".to_owned(),
            Some(crate::text::lang::UNDETERMINED) => "und (the text did not say)".to_owned(),
            Some(code) => header_text(code, NAME_MAX),
        },
        hit_id: hit.hit_id,
        title: title_text(&hit.title),
        link: item_link(hit.link.as_deref()),
        indicator: header_text(&hit.indicator_id, NAME_MAX),
        indicator_title: rule.map_or_else(
            || "(no longer in the rules)".to_owned(),
            |r| header_text(&r.title, NAME_MAX),
        ),
        indicator_href: format!("{}/indicators/{}", page.prefix, segment(&hit.indicator_id)),
        severity: rule.map_or("unknown", |r| r.severity.as_str()),
        published: hit.published.map_or_else(|| "unknown".to_owned(), when),
        first_seen: when(hit.first_seen),
        recorded: when(hit.created_at),
        score: format!("{:.2}", hit.score),
        score_breakdown,
        demoted_by,
        origin: header_text(&hit.origin, NAME_MAX),
        definition_hash: header_text(&hit.definition_hash, NAME_MAX),
        rule_changed: rule.is_some_and(|r| r.definition_hash != hit.definition_hash),
        retracted: hit
            .retracted
            .as_ref()
            .map(|r| (when(r.at), header_text(&r.by, NAME_MAX))),
        fields,
        misplaced,
        terms,
        found_through,
        sources,
        deliveries,
        triage: hit.triage.as_ref().map(|t| TriageView {
            verdict: t.verdict.label(),
            note: header_text(&t.note, NOTE_MAX),
            at: when(t.at),
            by: header_text(&t.by, NAME_MAX),
        }),
        triage_action: format!("{}/hits/{}/triage", page.prefix, hit.hit_id),
        history: history
            .iter()
            .rev()
            .map(|v| HistoryEntry {
                verdict: v.verdict.label(),
                class: v.verdict.as_str(),
                at: when(v.at),
                by: header_text(&v.by, NAME_MAX),
                note: header_text(&v.note, NOTE_MAX),
                original: v
                    .duplicate_of
                    .map(|id| (id, format!("{}/hits/{id}", page.prefix))),
            })
            .collect(),
        repeats: repeats_of(&page.prefix, hit),
        queue: nav.queue.map(|waiting| {
            let in_queue =
                hit.triage.is_none() && hit.folded_into.is_none() && hit.retracted.is_none();
            let text = match waiting {
                1 => "1 untriaged hit waits".to_owned(),
                n => format!("{n} untriaged hits wait"),
            };
            (text, in_queue)
        }),
        duplicate_of: hit
            .triage
            .as_ref()
            .and_then(|t| t.duplicate_of)
            .map(|id| (id, format!("{}/hits/{id}", page.prefix))),
        previous: nav.previous.map(|id| nav_href(&page.prefix, id, nav)),
        next: nav.next.map(|id| nav_href(&page.prefix, id, nav)),
        list: nav.list.clone(),
        list_href: nav.list.as_deref().map(|list| {
            if list.is_empty() {
                format!("{}/hits", page.prefix)
            } else {
                format!("{}/hits?{list}", page.prefix)
            }
        }),
        queue_href: format!("{}/queue", page.prefix),
        page,
    }
    .render()
}

#[derive(Template)]
#[template(path = "web/indicator.html")]
struct IndicatorPage {
    page: Frame,
    id: String,
    title: String,
    known: bool,
    severity: &'static str,
    insight: String,
    query: String,
    definition_hash: String,
    chart: Chart,
    /// What the chart counts, said under it.
    chart_caption: &'static str,
    rows: Vec<Row>,
    total: u64,
    list: String,
    atom: String,
    desk: Desk,
    /// The link that shows or hides the repeats, and what it says.
    repeats_toggle: (String, String),
}

pub fn indicator_page(
    state: &WebState,
    id: &str,
    indicator: Option<&Indicator>,
    days: &[(NaiveDate, u64)],
    latest: &[HitRow],
    total: u64,
    show_repeats: bool,
) -> Result<String, askama::Error> {
    let rules = (state.rules)();
    let page = frame(
        state,
        &format!("Indicator {}", indicator.map_or(id, |i| i.title.as_str())),
    );
    let query = |name: &str| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair(name, id)
            .finish()
    };
    let list = ListQuery {
        indicator: id.to_owned(),
        duplicates: if show_repeats {
            "include".into()
        } else {
            String::new()
        },
        ..ListQuery::default()
    };
    // Each day links to the list of that day's hits: `since` and `until` as bare dates
    // cover the whole UTC day, as the chart counts it.
    let day_href = |date: &str| {
        ListQuery {
            since: date.to_owned(),
            until: date.to_owned(),
            ..list.clone()
        }
        .href(&page.prefix, 0)
    };
    let mut chart = chart::daily(days);
    for bar in &mut chart.bars {
        bar.href = day_href(&bar.date);
    }
    for day in &mut chart.days {
        day.href = day_href(&day.date);
    }
    let toggle_href = format!(
        "{}/indicators/{}{}",
        page.prefix,
        segment(id),
        if show_repeats {
            ""
        } else {
            "?duplicates=include"
        }
    );
    IndicatorPage {
        chart_caption: if show_repeats {
            "Counted: every hit that stands, duplicates and folded repeats included; hits \
             judged false positives and retracted hits are not. Each bar opens that day's hits."
        } else {
            "Counted: hits that stand and are new: not duplicates, not folded into an earlier \
             report of their story, not judged false positives, not retracted. Each bar opens \
             that day's hits."
        },
        desk: Desk {
            prefix: page.prefix.clone(),
            return_to: list.query_string(),
        },
        repeats_toggle: if show_repeats {
            (toggle_href, "Hide duplicates and folded repeats".to_owned())
        } else {
            (toggle_href, "Show duplicates and folded repeats".to_owned())
        },
        id: header_text(id, NAME_MAX),
        title: indicator.map_or_else(String::new, |i| header_text(&i.title, NAME_MAX)),
        known: indicator.is_some(),
        severity: indicator.map_or("unknown", |i| i.severity.as_str()),
        // The insight and query are the analysts' own text, several lines long.
        insight: indicator.map_or_else(String::new, |i| block_text(&i.insight, INSIGHT_MAX)),
        query: indicator.map_or_else(String::new, |i| block_text(&i.query, INSIGHT_MAX)),
        definition_hash: indicator.map_or_else(String::new, |i| i.definition_hash.clone()),
        chart,
        rows: latest
            .iter()
            .map(|h| row(&page.prefix, &rules, h, &list.query_string()))
            .collect(),
        total,
        list: format!("{}/hits?{}", page.prefix, query("indicator")),
        atom: format!("{}/hits.atom?{}", page.prefix, query("indicator")),
        page,
    }
    .render()
}

/// Another hit's page in the same mode: the queue's, the same list's, or the log's.
fn nav_href(prefix: &str, id: i64, nav: &HitNav) -> String {
    match (&nav.queue, &nav.list) {
        (Some(_), _) => format!("{prefix}/hits/{id}?queue=1"),
        (None, Some(list)) => hit_in_list(prefix, id, list),
        (None, None) => format!("{prefix}/hits/{id}"),
    }
}

/// Multi-line text shown in a `<pre>`-like block: line breaks kept, other controls and bidi
/// overrides out.
fn block_text(text: &str, max: usize) -> String {
    let joined: String = highlight_block(text, &[])
        .into_iter()
        .map(|s| s.text)
        .collect();
    joined.chars().take(max).collect()
}

struct FeedRow {
    id: String,
    title: String,
    status: &'static str,
    last_success: String,
    last_success_at: String,
    failures: u32,
    next_check: String,
    items: u64,
    hits: u64,
    last_error: String,
    hits_href: String,
    /// "en 80%, ko 15%, ru 5%", or "-" before any item's language was identified.
    languages: String,
    /// Items in a language some indicator cannot fire on; "-" for none.
    blind: String,
}

#[derive(Template)]
#[template(path = "web/feeds.html")]
struct FeedsPage {
    page: Frame,
    rows: Vec<FeedRow>,
    /// How many feeds need a look, above the table.
    summary: String,
}

pub fn feeds_page(
    state: &WebState,
    rules: &Indicators,
    feeds: &[FeedState],
    languages: &BTreeMap<String, Vec<(String, u64)>>,
    now: DateTime<Utc>,
) -> Result<String, askama::Error> {
    let page = frame(state, "Feeds");
    let mut rows: Vec<FeedRow> = feeds
        .iter()
        .map(|feed| {
            let enabled = rules
                .feeds
                .iter()
                .find(|f| f.id == feed.id)
                .is_some_and(|f| f.enabled);
            let langs = languages.get(&feed.id).map_or(&[][..], Vec::as_slice);
            FeedRow {
                languages: languages::shares(langs),
                blind: languages::blind(langs, rules).describe(),
                id: header_text(&feed.id, NAME_MAX),
                title: feed
                    .title
                    .as_deref()
                    .map_or(String::new(), |t| header_text(t, NAME_MAX)),
                status: feed.status(enabled),
                last_success: feed.last_success_ago(now),
                last_success_at: feed.last_success.map_or(String::new(), when),
                failures: feed.consecutive_failures,
                next_check: feed.next_check.map_or_else(|| "-".to_owned(), when),
                items: feed.items,
                hits: feed.hits,
                last_error: feed
                    .problem()
                    .as_deref()
                    .map_or(String::new(), |e| header_text(e, ERROR_MAX)),
                hits_href: format!(
                    "{}/hits?{}",
                    page.prefix,
                    url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("feed", &feed.id)
                        .finish()
                ),
            }
        })
        .collect();
    // What needs a look comes first: failing, then read but not whole, then never polled;
    // within each, the longest failing first, then by id.
    let rank = |status: &str| match status {
        "failing" => 0,
        "warning" => 1,
        "never" => 2,
        "ok" => 3,
        "disabled" => 4,
        _ => 5,
    };
    rows.sort_by(|a, b| {
        rank(a.status)
            .cmp(&rank(b.status))
            .then(b.failures.cmp(&a.failures))
            .then(a.id.cmp(&b.id))
    });
    let failing = rows.iter().filter(|r| r.status == "failing").count();
    let warning = rows.iter().filter(|r| r.status == "warning").count();
    let summary = format!(
        "{} feeds: {failing} failing, {warning} read but not whole.",
        rows.len()
    );
    FeedsPage {
        page,
        rows,
        summary,
    }
    .render()
}

#[derive(Template)]
#[template(path = "web/indicators.html")]
struct IndicatorsPage {
    page: Frame,
    rows: Vec<IndicatorRow>,
}

struct IndicatorRow {
    id: String,
    title: String,
    href: String,
    severity: String,
    /// In the hit log, but no longer in the rules in force.
    retired: bool,
    hits_7: u64,
    hits_30: u64,
    hits_90: u64,
    last_hit: String,
    precision: String,
    verdicts: String,
}

/// Every indicator of the rules, and any retired one that still has hits: how often each fires
/// and how often reviewers found it right.
pub fn indicators_page(
    state: &WebState,
    rules: &Indicators,
    summaries: &[crate::store::IndicatorSummary],
) -> Result<String, askama::Error> {
    let page = frame(state, "Indicators");
    let empty = |id: &str| crate::store::IndicatorSummary {
        indicator_id: id.to_owned(),
        hits_7: 0,
        hits_30: 0,
        hits_90: 0,
        last_hit: None,
        relevant: 0,
        false_positive: 0,
    };
    let mut rows: Vec<IndicatorRow> = Vec::new();
    let mut add = |id: &str, title: &str, severity: &str, retired: bool| {
        let summary = summaries
            .iter()
            .find(|s| s.indicator_id == id)
            .cloned()
            .unwrap_or_else(|| empty(id));
        rows.push(IndicatorRow {
            id: header_text(id, NAME_MAX),
            title: header_text(title, TITLE_MAX),
            href: format!("{}/indicators/{}", page.prefix, segment(id)),
            severity: header_text(severity, NAME_MAX),
            retired,
            hits_7: summary.hits_7,
            hits_30: summary.hits_30,
            hits_90: summary.hits_90,
            last_hit: summary.last_hit.map_or_else(|| "never".to_owned(), when),
            precision: summary
                .precision()
                .map_or_else(|| "-".to_owned(), |p| format!("{:.0}%", p * 100.0)),
            verdicts: format!(
                "{} relevant, {} false positive",
                summary.relevant, summary.false_positive
            ),
        });
    };
    for indicator in &rules.indicators {
        add(
            &indicator.id,
            &indicator.title,
            indicator.severity.as_str(),
            false,
        );
    }
    for summary in summaries {
        if !rules
            .indicators
            .iter()
            .any(|i| i.id == summary.indicator_id)
        {
            add(&summary.indicator_id, &summary.indicator_id, "-", true);
        }
    }
    IndicatorsPage { page, rows }.render()
}

#[derive(Template)]
#[template(path = "web/message.html")]
struct MessagePage {
    page: Frame,
    text: String,
}

pub fn message_page(state: &WebState, heading: &str, text: &str) -> Result<String, askama::Error> {
    MessagePage {
        page: frame(state, heading),
        text: header_text(text, ERROR_MAX),
    }
    .render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_href_keeps_the_filters_and_drops_empty_ones() {
        let query = ListQuery {
            indicator: "dprk-launch".into(),
            q: "satellite & \"launch\"".into(),
            triage: "relevant".into(),
            ..Default::default()
        };
        assert_eq!(
            query.href("", 50),
            "/hits?indicator=dprk-launch&q=satellite+%26+%22launch%22&triage=relevant&offset=50"
        );
        assert_eq!(ListQuery::default().href("/wf", 0), "/wf/hits");
    }

    #[test]
    fn dates_cover_whole_days_and_bad_values_are_named_and_ignored() {
        let (filter, problems) = ListQuery {
            since: "2026-11-01".into(),
            until: "2026-11-02".into(),
            triage: "untriaged".into(),
            ..Default::default()
        }
        .filter();
        assert!(problems.is_empty());
        assert_eq!(
            filter.since.unwrap().to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert_eq!(
            filter.until.unwrap().to_rfc3339(),
            "2026-11-03T00:00:00+00:00"
        );
        assert!(matches!(filter.triage, TriageFilter::Untriaged));
        let (filter, problems) = ListQuery {
            since: "yesterday".into(),
            triage: "maybe".into(),
            offset: "x".into(),
            ..Default::default()
        }
        .filter();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(filter.since.is_none() && filter.offset == 0);
        // An offset near the top of the integers would wrap the page arithmetic.
        for huge in ["18446744073709551615", "9223372036854775808", "1000000001"] {
            let (filter, problems) = ListQuery {
                offset: huge.into(),
                ..Default::default()
            }
            .filter();
            assert_eq!(filter.offset, 0, "{huge}");
            assert_eq!(problems.len(), 1, "{huge}: {problems:?}");
        }
    }

    #[test]
    fn the_hit_page_strikes_demoting_terms_and_shows_the_score_breakdown() {
        use crate::matcher::fixtures::{DEMOTED_SUMMARY, DEMOTED_TITLE, demoted_hit};
        let (rules, hit) = demoted_hit();
        let (title, summary) = (DEMOTED_TITLE, DEMOTED_SUMMARY);
        let dir = tempfile::tempdir().expect("tempdir");
        let db = crate::store::Db::open(&dir.path().join("watchfloor.db")).expect("store");
        let rules = std::sync::Arc::new(rules);
        let state = WebState::new(
            db,
            std::sync::Arc::new(move || rules.clone()),
            crate::config::WebAuth::default(),
            None,
        );
        let now = Utc::now();
        let detail = HitDetail {
            row: HitRow {
                hit_id: 3,
                indicator_id: "sat".into(),
                feed_id: "wire".into(),
                item_id: 1,
                title: title.into(),
                link: None,
                published: None,
                first_seen: now,
                created_at: now,
                score: hit.score,
                definition_hash: String::new(),
                origin: "poll".into(),
                evidence: serde_json::to_string(&hit.evidence).expect("json"),
                sources: Vec::new(),
                alert_status: None,
                lang: Some("en".into()),
                triage: None,
                retracted: None,
                folded_into: None,
            },
            summary: summary.into(),
            content: String::new(),
            authors: String::new(),
            categories: String::new(),
            sources: Vec::new(),
            deliveries: Vec::new(),
        };
        let nav = HitNav {
            queue: None,
            list: None,
            previous: None,
            next: None,
        };
        let body = hit_page(&state, &detail, &[], &nav).expect("renders");
        assert!(
            body.contains(
                "<div class=\"text\" id=\"field-summary\"><s class=\"demoting\" \
                 title=\"demoting term\">Commercial imagery</s> shows the <mark>satellite</mark> on \
                 the pad</div>"
            ),
            "{body}"
        );
        assert!(
            body.contains(
                "<span id=\"score-breakdown\">query 1.0 + &#39;title:(launch*)&#39; 0.5 − \
                 &#39;@imagery&#39; 1.0 = 0.5 ≥ min_score 0.5</span>"
            ),
            "{body}"
        );
        assert!(
            body.contains(
                "<li><s class=\"demoting\" title=\"demoting term\">boost &#39;@imagery&#39; \
                 (-1.0)</s></li>"
            ),
            "{body}"
        );
        assert!(
            body.contains("<td><s class=\"demoting\" title=\"demoting term\">demoting</s></td>")
        );
        assert!(!body.contains("<mark>Commercial imagery</mark>"));
    }

    #[test]
    fn path_segments_cannot_escape_their_place() {
        assert_eq!(segment("dprk-launch_2"), "dprk-launch_2");
        assert_eq!(segment("../x?y"), "..%2Fx%3Fy");
    }
}
