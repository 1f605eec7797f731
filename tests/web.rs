//! The hit log's pages: hits are ingested through the real pipeline into a real SQLite file,
//! then read over HTTP, from the web router on 127.0.0.1 and from the real daemon, and in
//! Debian's headless Chromium.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use support::cli::{indicators_with_feeds, root};
use watchfloor::app::App;
use watchfloor::config::{BasicCredentials, WebAuth};
use watchfloor::store::{HitFilter, Store};
use watchfloor::web::{CONTENT_SECURITY_POLICY, WebState};

const SATELLITE: &str = "North Korea launches reconnaissance satellite with Russian help";
const SOHAE: &str = "North Korea prepares a new satellite launch at Sohae, imagery shows";
const WORKERS: &str = "North Korean workers sent to Russian construction sites in Primorye";
const SCRIPT: &str = "<script>alert('x')</script> North Korea satellite launch fails";
const BREAKER: &str = "\"><img src=x onerror=alert(1)> North Korea satellite launch delayed";
/// U+202E would show the rest of the title reversed, hiding what it says.
const RTL: &str = "North Korea satellite launch \u{202E}gnp.exe";

/// A database with hits from the shipped rules, recorded through the pipeline.
struct Log {
    _dir: tempfile::TempDir,
    db: PathBuf,
    app: App,
}

fn t0() -> DateTime<Utc> {
    // Recent, so the indicator page's 90-day chart holds these hits.
    Utc::now() - chrono::Duration::days(2)
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A value as askama escapes it in a page.
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

fn log() -> Log {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [
        (
            "WATCHFLOOR_MAIL_TO",
            "reviewers@watch.example.org".to_owned(),
        ),
        (
            "WATCHFLOOR_MAIL_FROM",
            "watchfloor@watch.example.org".to_owned(),
        ),
    ];
    let settings = support::app::settings(dir.path(), &env);
    let db = settings.database.clone();
    let app = support::app::build_app(
        settings,
        support::app::shipped_rules(),
        support::app::feeds(&["wire", "agency"]),
    );
    Log { _dir: dir, db, app }
}

/// Ingests `items` (guid, title, link) as one RSS document of `feed` at `now`.
fn feed_items(log: &Log, feed: &str, items: &[(&str, &str, &str)], now: DateTime<Utc>) {
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Wire</title>",
    );
    for (guid, title, link) in items {
        // Feed titles are HTML: escaped twice, the markup survives as the title's text.
        let title = xml_escape(&xml_escape(title));
        body.push_str(&format!(
            "<item><guid>{guid}</guid><title>{title}</title><link>{}</link>\
             <description>{title}. Officials confirmed the report on Tuesday.</description></item>",
            xml_escape(link)
        ));
    }
    body.push_str("</channel></rss>");
    support::app::ingest_rss(&log.app, feed, body, now);
}

/// The usual log: three stories, one in two feeds, and the hostile titles.
fn usual_log() -> Log {
    let log = log();
    feed_items(
        &log,
        "wire",
        &[
            ("w1", SATELLITE, "https://news.test/sat"),
            ("w2", WORKERS, "https://news.test/workers"),
        ],
        t0(),
    );
    feed_items(
        &log,
        "agency",
        &[
            ("a1", SATELLITE, "https://news.test/sat"),
            ("a2", SOHAE, "https://agency.test/sohae"),
            ("a3", SCRIPT, "https://agency.test/script"),
            ("a4", BREAKER, "javascript:alert(1)"),
            ("a5", RTL, "https://agency.test/rtl"),
        ],
        t0() + chrono::Duration::hours(1),
    );
    log
}

fn hits(log: &Log, filter: HitFilter) -> Vec<watchfloor::store::HitRow> {
    Store::open_read_only(&log.db)
        .expect("read")
        .hits_page(&filter)
        .expect("hits")
        .0
}

fn hit_titled(log: &Log, title: &str) -> i64 {
    hits(log, HitFilter::default())
        .into_iter()
        .find(|h| h.title.contains(title))
        .unwrap_or_else(|| {
            let titles: Vec<String> = hits(log, HitFilter::default())
                .into_iter()
                .map(|h| h.title)
                .collect();
            panic!("no hit titled {title:?} among {titles:?}")
        })
        .hit_id
}

/// Serves the log's pages, as the daemon does, on 127.0.0.1; returns the base URL.
async fn serve(log: &Log, auth: WebAuth) -> String {
    let rules = log.app.context().indicators.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let state = WebState::new(
        log.app.db().clone(),
        Arc::new(move || rules.clone()),
        auth,
        None,
    )
    .served_at(address);
    tokio::spawn(async move {
        axum::serve(listener, watchfloor::web::router(Arc::new(state)))
            .await
            .expect("serve")
    });
    format!("http://{address}")
}

/// reqwest is built without its `form` feature; a form body is short enough to make here.
trait FormBody {
    fn form_body(self, pairs: &[(&str, &str)]) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_body(self, pairs: &[(&str, &str)]) -> Self {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }
}

/// Whether the only script a page names is the hit log's own shortcuts file.
fn no_script_but_the_desk(body: &str) -> bool {
    body.replace("<script src=\"/static/desk.js\" defer=\"\"></script>", "")
        .replace("<script src=\"/static/desk.js\" defer></script>", "")
        .find("<script")
        .is_none()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn get(url: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let response = client().get(url).send().await.expect("answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.expect("body"))
}

async fn page(url: &str) -> String {
    let (status, _, body) = get(url).await;
    assert_eq!(status, 200, "{url}: {body}");
    body
}

fn basic_auth() -> WebAuth {
    WebAuth {
        token: Some(watchfloor::config::mail::Secret::new("t0ken-for-tests")),
        basic: Some(BasicCredentials {
            user: "reviewer".into(),
            password: watchfloor::config::mail::Secret::new("correct horse"),
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hit_list_shows_each_hit_with_time_indicator_severity_title_and_source() {
    let log = usual_log();
    let base = serve(&log, WebAuth::default()).await;
    let all = hits(&log, HitFilter::default());
    assert!(all.len() >= 5, "{all:?}");
    for path in ["/", "/hits"] {
        let body = page(&format!("{base}{path}")).await;
        assert!(
            body.contains(&format!("of {}, newest first", all.len())),
            "{body}"
        );
        for hit in &all {
            assert!(body.contains(&format!("href=\"/hits/{}\"", hit.hit_id)));
        }
        assert!(body.contains("href=\"/indicators/satellite_launch\""));
        assert!(body.contains("sev-high"));
        assert!(body.contains("North Korea launches reconnaissance satellite"));
        // The story wire and agency both reported: one hit, its other source counted.
        assert!(
            body.contains("wire <span class=\"muted\">+1</span>"),
            "{body}"
        );
        assert!(body.contains(&all[0].created_at.format("%Y-%m-%d %H:%M UTC").to_string()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_filter_narrows_the_list_and_bad_values_are_named() {
    let log = usual_log();
    let base = serve(&log, WebAuth::default()).await;
    let count = |body: &str| body.matches("class=\"hit-title\"").count();
    let all = count(&page(&format!("{base}/hits")).await);

    let labor = page(&format!("{base}/hits?indicator=labor_export")).await;
    assert_eq!(count(&labor), 1, "{labor}");
    assert!(labor.contains("Primorye"));
    assert!(labor.contains("<option value=\"labor_export\" selected>"));

    let wire = page(&format!("{base}/hits?feed=wire")).await;
    assert_eq!(count(&wire), 2, "{wire}");

    let search = page(&format!("{base}/hits?q=Sohae+imagery")).await;
    assert_eq!(count(&search), 1, "{search}");
    assert!(search.contains("Sohae"));

    let today = Utc::now().date_naive();
    let future = page(&format!(
        "{base}/hits?since={}",
        today + chrono::Days::new(1)
    ))
    .await;
    assert_eq!(count(&future), 0);
    assert!(future.contains("No hits match."));
    let window = page(&format!(
        "{base}/hits?since={}&until={}",
        t0().date_naive(),
        today
    ))
    .await;
    assert_eq!(count(&window), all);
    let before = page(&format!(
        "{base}/hits?until={}",
        t0().date_naive() - chrono::Days::new(1)
    ))
    .await;
    assert_eq!(count(&before), 0);

    let sohae = hit_titled(&log, "Sohae");
    Store::open(&log.db)
        .expect("open")
        .set_triage(
            sohae,
            watchfloor::store::Verdict::FalsePositive,
            "",
            Utc::now(),
        )
        .expect("triage");
    let false_positives = page(&format!("{base}/hits?triage=false_positive")).await;
    assert_eq!(count(&false_positives), 1);
    // A row opened from a filtered list carries the list, for stepping through it.
    assert!(false_positives.contains(&format!("/hits/{sohae}?list=triage%3Dfalse_positive\"")));
    let untriaged = page(&format!("{base}/hits?triage=untriaged")).await;
    assert_eq!(count(&untriaged), all - 1);

    let bad = page(&format!("{base}/hits?since=yesterday&triage=maybe")).await;
    assert!(
        bad.contains("since: &#39;yesterday&#39; is not a date")
            || bad.contains("since: &#x27;yesterday&#x27; is not a date"),
        "{bad}"
    );
    assert_eq!(count(&bad), all);

    // An id nothing knows is named in the warning box, with the known ones, not a quiet
    // "No hits match".
    let typo = page(&format!("{base}/hits?indicator=satelite_launch&feed=wires")).await;
    assert!(typo.contains("class=\"problems\""), "{typo}");
    assert!(typo.contains("no indicator is called"), "{typo}");
    assert!(typo.contains("satellite_launch"), "{typo}");
    assert!(typo.contains("no feed is called"), "{typo}");
    // A rule without hits yet is a known id: no warning.
    let quiet = page(&format!("{base}/hits?indicator=energy_food_flows")).await;
    assert!(!quiet.contains("no indicator is called"), "{quiet}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_moves_by_pages_and_keeps_the_filters() {
    let log = log();
    let items: Vec<(String, String, String)> = (0..55)
        .map(|n| {
            (
                format!("g{n}"),
                format!("North Korea satellite launch report number {n}"),
                format!("https://news.test/sat/{n}"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    feed_items(&log, "wire", &refs, t0());
    let base = serve(&log, WebAuth::default()).await;
    let first = page(&format!("{base}/hits?indicator=satellite_launch&q=report")).await;
    assert!(first.contains("Hits 1–50 of 55"), "{first}");
    let next = "/hits?indicator=satellite_launch&#38;q=report&#38;offset=50";
    assert!(
        first.contains(&format!("rel=\"next\" href=\"{next}\"")),
        "{first}"
    );
    assert!(!first.contains("rel=\"prev\""));
    let second = page(&format!("{base}{}", next.replace("&#38;", "&"))).await;
    assert!(second.contains("Hits 51–55 of 55"), "{second}");
    assert!(second.contains("rel=\"prev\" href=\"/hits?indicator=satellite_launch&#38;q=report\""));
    assert!(!second.contains("rel=\"next\""));
    assert!(second.contains("value=\"report\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crafted_search_and_offset_values_give_a_page_not_an_error() {
    let log = usual_log();
    let base = serve(&log, WebAuth::default()).await;
    for query in [
        "q=%00",
        "q=launch%00%1b",
        "offset=18446744073709551615",
        "offset=9223372036854775807",
        "offset=-1",
    ] {
        for path in ["/hits", "/hits.atom"] {
            let (status, _, body) = get(&format!("{base}{path}?{query}")).await;
            assert_eq!(status, 200, "{path}?{query}: {body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_titles_are_shown_as_text_on_every_page() {
    let log = usual_log();
    let base = serve(&log, WebAuth::default()).await;
    let script = hit_titled(&log, "alert('x')");
    let breaker = hit_titled(&log, "onerror");
    let rtl = hit_titled(&log, "gnp.exe");
    let pages = [
        page(&format!("{base}/hits")).await,
        page(&format!("{base}/hits/{script}")).await,
        page(&format!("{base}/hits/{breaker}")).await,
        page(&format!("{base}/hits/{rtl}")).await,
        page(&format!("{base}/indicators/satellite_launch")).await,
    ];
    for body in &pages {
        assert!(no_script_but_the_desk(body), "{body}");
        assert!(!body.contains("<img"), "{body}");
        assert!(!body.contains('\u{202E}'), "{body}");
        assert!(!body.contains("href=\"javascript:"), "{body}");
    }
    assert!(
        pages[0].contains(&escaped("<script>alert('x')</script>")),
        "{}",
        pages[0]
    );
    assert!(pages[0].contains(&escaped("\"><img src=x onerror=alert(1)>")));
    assert!(pages[0].contains("North Korea satellite launch gnp.exe"));
    // The javascript: link never becomes an href (checked above on every page).
    let atom = page(&format!("{base}/hits.atom")).await;
    assert!(!atom.contains("<script") && !atom.contains("<img") && !atom.contains('\u{202E}'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_content_security_policy_and_the_safety_headers() {
    let log = usual_log();
    let hit = hit_titled(&log, "Sohae");
    for auth in [WebAuth::default(), basic_auth()] {
        let base = serve(&log, auth).await;
        for path in [
            "/".to_owned(),
            "/hits".to_owned(),
            format!("/hits/{hit}"),
            "/hits/999999".to_owned(),
            "/indicators/satellite_launch".to_owned(),
            "/feeds".to_owned(),
            "/hits.atom".to_owned(),
        ] {
            let (_, headers, _) = get(&format!("{base}{path}")).await;
            assert_eq!(
                headers["content-security-policy"], CONTENT_SECURITY_POLICY,
                "{path}"
            );
            assert_eq!(headers["x-content-type-options"], "nosniff");
            assert_eq!(headers["referrer-policy"], "no-referrer");
        }
    }
    assert!(CONTENT_SECURITY_POLICY.starts_with("default-src 'none'"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hit_page_marks_the_terms_and_shows_evidence_sources_delivery_and_rule_version() {
    let log = usual_log();
    let base = serve(&log, WebAuth::default()).await;
    let hit = hit_titled(&log, "reconnaissance");
    let row = hits(&log, HitFilter::default())
        .into_iter()
        .find(|h| h.hit_id == hit)
        .unwrap();
    let body = page(&format!("{base}/hits/{hit}")).await;
    assert!(body.contains("<mark>"), "{body}");
    assert!(body.contains("id=\"field-title\""));
    assert!(body.contains("id=\"field-summary\""));
    assert!(body.contains("<table id=\"terms\">"));
    assert!(body.contains(&row.definition_hash));
    // Both feeds that reported the story, with their links.
    assert!(
        body.contains("<li>Wire (wire): <a href=\"https://news.test/sat\""),
        "{body}"
    );
    assert!(body.contains("<li>Wire (agency): <a href=\"https://news.test/sat\""));
    // The alert waits in the outbox for the reviewers' address.
    assert!(
        body.contains("<td>reviewers@watch.example.org</td><td>pending</td>"),
        "{body}"
    );
    assert!(body.contains("Not triaged yet."));
    // Without a login there is no form.
    assert!(!body.contains("<form class=\"triage\""));
    let (status, _, missing) = get(&format!("{base}/hits/999999")).await;
    assert_eq!(status, 404);
    assert!(missing.contains("There is no hit 999999."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_indicator_page_has_the_insight_the_query_and_a_chart_readable_without_colour() {
    let log = usual_log();
    let base = serve(&log, WebAuth::default()).await;
    let body = page(&format!("{base}/indicators/satellite_launch")).await;
    let rules = log.app.context().indicators.clone();
    let rule = rules
        .indicators
        .iter()
        .find(|i| i.id == "satellite_launch")
        .unwrap();
    assert!(body.contains("id=\"insight\""));
    assert!(body.contains("<pre id=\"query\">"));
    assert!(body.contains(&rule.definition_hash));
    assert!(body.contains("<svg id=\"activity\""));
    let satellite_hits = hits(
        &log,
        HitFilter {
            indicator: Some("satellite_launch".into()),
            ..Default::default()
        },
    )
    .len();
    assert!(satellite_hits >= 3);
    assert!(
        body.contains("<title>") && body.contains(" hits: open that day's hits</title>"),
        "{body}"
    );
    assert!(body.contains("<table id=\"per-day\">"));
    // Every day of the window is in the table, quiet ones too.
    assert!(body.matches("<tr><td>").count() >= 90);
    assert!(
        body.contains(&format!("{satellite_hits} hits in the last 90 days")),
        "{body}"
    );
    assert!(body.contains("Latest hits"));
    let (status, _, _) = get(&format!("{base}/indicators/no-such-rule")).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_indicators_page_lists_every_rule_with_its_counts_and_precision() {
    let log = usual_log();
    let base = serve(&log, WebAuth::default()).await;
    let satellite = hits(
        &log,
        HitFilter {
            indicator: Some("satellite_launch".into()),
            ..HitFilter::default()
        },
    );
    let sohae = hit_titled(&log, "Sohae");
    let mut store = Store::open(&log.db).expect("open");
    store
        .set_triage(sohae, watchfloor::store::Verdict::Relevant, "", Utc::now())
        .expect("triage");
    let other = satellite
        .iter()
        .find(|h| h.hit_id != sohae)
        .expect("another");
    store
        .set_triage(
            other.hit_id,
            watchfloor::store::Verdict::FalsePositive,
            "",
            Utc::now(),
        )
        .expect("triage");
    let (status, _, body) = get(&format!("{base}/indicators")).await;
    assert_eq!(status, 200, "{body}");
    for id in [
        "satellite_launch",
        "labor_export",
        "seoul_ukraine_support",
        "energy_food_flows",
    ] {
        assert!(
            body.contains(&format!("href=\"/indicators/{id}\"")),
            "{id}: {body}"
        );
    }
    let row = |id: &str| {
        let start = body
            .find(&format!("<code class=\"muted\">{id}</code>"))
            .expect(id);
        let end = body[start..]
            .find("</tr>")
            .map_or(body.len(), |e| start + e);
        body[start..end].to_owned()
    };
    let launches = row("satellite_launch");
    assert!(
        launches.contains(&format!("<td class=\"num\">{}</td>", satellite.len())),
        "{launches}"
    );
    assert!(
        launches.contains("50%"),
        "one relevant, one false positive: {launches}"
    );
    let quiet = row("energy_food_flows");
    assert!(
        quiet.contains("never") && quiet.contains(">-</td>"),
        "{quiet}"
    );
    assert!(body.contains("href=\"/indicators\""), "in the navigation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feeds_page_shows_the_health_table() {
    let log = usual_log();
    let base = serve(&log, WebAuth::default()).await;
    let body = page(&format!("{base}/feeds")).await;
    for header in [
        "Feed",
        "Status",
        "Last success",
        "Failures",
        "Next check",
        "Items",
        "Hits",
        "Last error",
    ] {
        assert!(
            body.contains(&format!(">{header}</th>")),
            "{header}: {body}"
        );
    }
    assert!(body.contains("<code>wire</code>") && body.contains("<code>agency</code>"));
    assert!(body.contains("href=\"/hits?feed=wire\""));

    // A failing feed comes first, and the count says how many need a look.
    Store::open(&log.db)
        .expect("open")
        .write_poll(&watchfloor::store::PollWrite {
            feed_id: "wire".into(),
            attempted_at: Utc::now(),
            result: watchfloor::store::PollResult::Failed {
                error: "HTTP 500 Internal Server Error".into(),
            },
            next_check: Utc::now(),
            min_interval: None,
            items: Vec::new(),
        })
        .expect("a failed poll");
    let body = page(&format!("{base}/feeds")).await;
    let wire = body.find("<code>wire</code>").expect("wire");
    let agency = body.find("<code>agency</code>").expect("agency");
    assert!(wire < agency, "the failing feed first: {body}");
    assert!(body.contains("2 feeds: 1 failing"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_atom_feed_parses_with_feed_rs_and_carries_the_hits() {
    let log = usual_log();
    let base = serve(&log, WebAuth::default()).await;
    let (status, headers, body) = get(&format!("{base}/hits.atom")).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/atom+xml")
    );
    let feed = feed_rs::parser::parse(body.as_bytes()).expect("valid Atom");
    assert_eq!(feed.feed_type, feed_rs::model::FeedType::Atom);
    let all = hits(&log, HitFilter::default());
    assert_eq!(feed.entries.len(), all.len());
    let first = &feed.entries[0];
    assert_eq!(first.id, format!("urn:watchfloor:hit:{}", all[0].hit_id));
    assert!(
        first
            .links
            .iter()
            .any(|l| l.href == format!("{base}/hits/{}", all[0].hit_id))
    );
    assert!(feed.links.iter().any(|l| l.rel.as_deref() == Some("self")));
    let script = feed
        .entries
        .iter()
        .find(|e| {
            e.title
                .as_ref()
                .is_some_and(|t| t.content.contains("alert('x')"))
        })
        .expect("the hostile title, as text");
    assert!(script.title.as_ref().unwrap().content.contains("<script>"));

    let labor = get(&format!("{base}/hits.atom?indicator=labor_export"))
        .await
        .2;
    let labor = feed_rs::parser::parse(labor.as_bytes()).expect("valid Atom");
    assert_eq!(labor.entries.len(), 1);
    assert!(labor.id.contains("labor_export"));

    // Every filter of the list narrows the feed as it narrows the list.
    let sohae = hit_titled(&log, "Sohae");
    Store::open(&log.db)
        .expect("open")
        .set_triage(sohae, watchfloor::store::Verdict::Relevant, "", Utc::now())
        .expect("triage");
    let entries = |query: &'static str| {
        let base = base.clone();
        async move {
            let body = get(&format!("{base}/hits.atom?{query}")).await.2;
            let feed = feed_rs::parser::parse(body.as_bytes()).expect("valid Atom");
            feed.entries
                .into_iter()
                .map(|e| e.id)
                .collect::<Vec<String>>()
        }
    };
    let sohae_id = format!("urn:watchfloor:hit:{sohae}");
    assert_eq!(entries("triage=relevant").await, vec![sohae_id.clone()]);
    assert_eq!(entries("q=Sohae+imagery").await, vec![sohae_id.clone()]);
    assert_eq!(entries("triage=untriaged").await.len(), all.len() - 1);
    assert!(!entries("triage=untriaged").await.contains(&sohae_id));
    let wire: Vec<String> = hits(
        &log,
        HitFilter {
            feed: Some("wire".into()),
            ..HitFilter::default()
        },
    )
    .iter()
    .map(|h| format!("urn:watchfloor:hit:{}", h.hit_id))
    .collect();
    assert_eq!(entries("feed=wire").await, wire);
    assert!(entries("since=2999-01-01").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_access_configured_pages_need_credentials_and_a_verdict_is_recorded() {
    let log = usual_log();
    let base = serve(&log, basic_auth()).await;
    let hit = hit_titled(&log, "Sohae");
    let (status, headers, _) = get(&format!("{base}/hits")).await;
    assert_eq!(status, 401);
    let challenges: Vec<_> = headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        challenges.iter().any(|c| c.starts_with("Basic ")),
        "{challenges:?}"
    );
    for path in ["/hits.atom", "/feeds", "/indicators/satellite_launch"] {
        assert_eq!(get(&format!("{base}{path}")).await.0, 401, "{path}");
    }
    let wrong = client()
        .get(format!("{base}/hits"))
        .basic_auth("reviewer", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let bearer = client()
        .get(format!("{base}/hits.atom"))
        .bearer_auth("t0ken-for-tests")
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);

    let detail = client()
        .get(format!("{base}/hits/{hit}"))
        .basic_auth("reviewer", Some("correct horse"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(detail.contains(&format!(
        "<form class=\"verdict-form\" method=\"post\" action=\"/hits/{hit}/triage\">"
    )));

    let unauthenticated = client()
        .post(format!("{base}/hits/{hit}/triage"))
        .form_body(&[("verdict", "relevant")])
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let cross_site = client()
        .post(format!("{base}/hits/{hit}/triage"))
        .basic_auth("reviewer", Some("correct horse"))
        .header("origin", "https://elsewhere.example")
        .form_body(&[("verdict", "relevant")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let bad = client()
        .post(format!("{base}/hits/{hit}/triage"))
        .basic_auth("reviewer", Some("correct horse"))
        .form_body(&[("verdict", "maybe")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let posted = client()
        .post(format!("{base}/hits/{hit}/triage"))
        .basic_auth("reviewer", Some("correct horse"))
        .header("origin", base.clone())
        .form_body(&[
            ("verdict", "false_positive"),
            ("note", "a rehearsal, <b>not</b> a launch"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 303);
    assert_eq!(posted.headers()["location"], format!("/hits/{hit}"));
    let row = hits(&log, HitFilter::default())
        .into_iter()
        .find(|h| h.hit_id == hit)
        .unwrap();
    let triage = row.triage.expect("recorded");
    assert_eq!(triage.verdict, watchfloor::store::Verdict::FalsePositive);
    assert_eq!(triage.note, "a rehearsal, <b>not</b> a launch");
    let detail = client()
        .get(format!("{base}/hits/{hit}"))
        .bearer_auth("t0ken-for-tests")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        detail.contains("Current: <strong class=\"verdict\">false positive</strong>, by reviewer"),
        "{detail}"
    );
    assert!(detail.contains(&escaped("a rehearsal, <b>not</b> a launch")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_access_configured_the_pages_are_open_and_a_verdict_is_given_by_local() {
    // Without a login the listener is loopback only: whoever posts is at this machine, as on
    // the command line, and is recorded as such.
    let log = usual_log();
    let base = serve(&log, WebAuth::default()).await;
    let hit = hit_titled(&log, "Sohae");
    let cross_site = client()
        .post(format!("{base}/hits/{hit}/triage"))
        .header("origin", "https://elsewhere.example")
        .form_body(&[("verdict", "relevant")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let row = hits(&log, HitFilter::default())
        .into_iter()
        .find(|h| h.hit_id == hit)
        .unwrap();
    assert!(row.triage.is_none(), "a cross-site post recorded nothing");
    let posted = client()
        .post(format!("{base}/hits/{hit}/triage"))
        .header("origin", base.clone())
        .form_body(&[("verdict", "relevant")])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 303);
    let row = hits(&log, HitFilter::default())
        .into_iter()
        .find(|h| h.hit_id == hit)
        .unwrap();
    let triage = row.triage.expect("recorded");
    assert_eq!(triage.by, "local");
}

/// A running `watchfloor run` and its collected stderr.
struct Daemon {
    child: std::process::Child,
    log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Daemon {
    fn start(indicators: &Path, db: &Path, env: &[(&str, &str)]) -> Daemon {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_watchfloor"))
            .args(["--indicators", &indicators.display().to_string()])
            .args(["--db", &db.display().to_string()])
            .arg("run")
            .env("WATCHFLOOR_LISTEN", "127.0.0.1:0")
            .env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the daemon starts");
        let log: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let lines = log.clone();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                lines.lock().unwrap().push(line);
            }
        });
        Daemon { child, log }
    }

    fn http_base(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self.log.lock().unwrap().iter().find_map(|l| {
                l.split("http: /healthz and /metrics on ")
                    .nth(1)
                    .map(str::to_owned)
            });
            if let Some(url) = found {
                return url.trim().trim_end_matches('/').to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no listener: {}",
                self.log.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A credential file named by mistake (a device that never ends, a file that is not a
/// secret) is refused with the key and the file, before anything is read past its limit.
#[test]
fn a_credential_file_that_is_no_secret_refuses_to_start_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let indicators = indicators_with_feeds(dir.path(), &[]);
    let db = dir.path().join("watchfloor.db");
    let dump = dir.path().join("dump.log");
    std::fs::write(&dump, "log line\n".repeat(4096)).unwrap();
    let cases = [
        ("/dev/zero".to_owned(), "/dev/zero is not a regular file"),
        (dump.display().to_string(), "is longer than 16384 bytes"),
    ];
    for (file, want) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_watchfloor"))
            .args(["--indicators", &indicators.display().to_string()])
            .args(["--db", &db.display().to_string()])
            .arg("run")
            .env("WATCHFLOOR_LISTEN", "0.0.0.0:0")
            .env("WATCHFLOOR_WEB_TOKEN_FILE", &file)
            .env_remove("RUST_LOG")
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(78), "{file}: {stderr}");
        assert!(
            stderr.contains("web.token_file") && stderr.contains(want),
            "{file}: {stderr}"
        );
    }
}

#[test]
fn a_non_loopback_listen_without_access_configured_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let indicators = indicators_with_feeds(dir.path(), &[]);
    let db = dir.path().join("watchfloor.db");
    let output = Command::new(env!("CARGO_BIN_EXE_watchfloor"))
        .args(["--indicators", &indicators.display().to_string()])
        .args(["--db", &db.display().to_string()])
        .arg("run")
        .env("WATCHFLOOR_LISTEN", "0.0.0.0:0")
        .env_remove("RUST_LOG")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("http.listen"), "{stderr}");
    assert!(stderr.contains("web.token_file") && stderr.contains("web.basic_auth_file"));

    // With a token it starts (and listens on every address).
    let token = dir.path().join("web-token");
    std::fs::write(&token, "t0ken\n").unwrap();
    let daemon = Daemon::start(
        &indicators,
        &db,
        &[
            ("WATCHFLOOR_LISTEN", "0.0.0.0:0"),
            ("WATCHFLOOR_WEB_TOKEN_FILE", token.to_str().unwrap()),
        ],
    );
    let base = daemon.http_base().replace("0.0.0.0", "127.0.0.1");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (open, guarded) = rt.block_on(async {
        let open = get(&format!("{base}/healthz")).await.0;
        let guarded = get(&format!("{base}/hits")).await.0;
        (open, guarded)
    });
    assert_eq!(open, 200, "health stays open to monitoring");
    assert_eq!(guarded, 401);
}

fn chromium(args: &[&str], profile: &Path) -> std::process::Output {
    let binary = "/usr/bin/chromium";
    assert!(
        Path::new(binary).exists(),
        "the browser test needs Debian's chromium: apt-get install -y --no-install-recommends \
         chromium (scripts/test does it as root)"
    );
    Command::new(binary)
        .args(support::CHROMIUM_OFFLINE)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("chromium runs")
}

#[test]
fn chromium_renders_the_hit_list_and_a_hit_page_from_the_running_daemon() {
    let log = usual_log();
    let hit = hit_titled(&log, "reconnaissance");
    let script = hit_titled(&log, "alert('x')");
    let dir = tempfile::tempdir().expect("tempdir");
    let indicators = indicators_with_feeds(dir.path(), &[]);
    let daemon = Daemon::start(&indicators, &log.db, &[]);
    let base = daemon.http_base();

    let profile = tempfile::tempdir().expect("profile");
    let list = chromium(&["--dump-dom", &format!("{base}/hits")], profile.path());
    let dom = String::from_utf8_lossy(&list.stdout);
    assert!(
        dom.contains("<h1>Hits</h1>"),
        "{dom}\n{}",
        String::from_utf8_lossy(&list.stderr)
    );
    assert!(dom.contains("North Korea launches reconnaissance satellite"));
    assert!(dom.contains(&format!("href=\"/hits/{hit}\"")));
    // In the DOM the browser built, the hostile title is text: no element came of it.
    assert!(
        no_script_but_the_desk(&dom) && !dom.contains("<img"),
        "{dom}"
    );
    assert!(
        dom.contains("&lt;script&gt;alert('x')&lt;/script&gt;"),
        "{dom}"
    );

    let detail = chromium(
        &["--dump-dom", &format!("{base}/hits/{hit}")],
        profile.path(),
    );
    let dom = String::from_utf8_lossy(&detail.stdout);
    assert!(dom.contains("<mark>"), "{dom}");
    assert!(dom.contains("id=\"terms\"") && dom.contains("id=\"sources\""));
    assert!(dom.contains("reviewers@watch.example.org"));
    let hostile = chromium(
        &["--dump-dom", &format!("{base}/hits/{script}")],
        profile.path(),
    );
    let dom = String::from_utf8_lossy(&hostile.stdout);
    assert!(
        no_script_but_the_desk(&dom) && dom.contains("id=\"title\""),
        "{dom}"
    );

    let target = root().join("target");
    std::fs::create_dir_all(&target).unwrap();
    for (name, path) in [
        ("web-hits.png", "/hits".to_owned()),
        ("web-hit.png", format!("/hits/{hit}")),
    ] {
        let file = target.join(name);
        let _ = std::fs::remove_file(&file);
        let shot = chromium(
            &[
                &format!("--screenshot={}", file.display()),
                "--window-size=1280,900",
                &format!("{base}{path}"),
            ],
            profile.path(),
        );
        assert!(
            file.exists(),
            "no screenshot: {}",
            String::from_utf8_lossy(&shot.stderr)
        );
    }
}

/// One request over a fresh connection, written by hand so that its `Host` (and target) say
/// whatever a rebinding page's would: the status and the whole answer, headers included.
fn raw_request(address: &str, request: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("the whole answer");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer:?}"));
    (status, answer)
}

fn get_naming(address: &str, path: &str, host: &str) -> (u16, String) {
    raw_request(
        address,
        &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    )
}

#[test]
fn a_request_naming_a_foreign_host_is_refused_and_no_link_is_built_from_host() {
    let log = usual_log();
    let dir = tempfile::tempdir().expect("tempdir");
    let indicators = indicators_with_feeds(dir.path(), &[]);
    let daemon = Daemon::start(
        &indicators,
        &log.db,
        &[
            ("WATCHFLOOR_WEB_BASE_URL", "https://watch.example.org/log"),
            (
                "WATCHFLOOR_WEB_ALLOWED_HOSTS",
                "wf.internal:8000, [fd00::5]",
            ),
        ],
    );
    let base = daemon.http_base();
    let address = base.trim_start_matches("http://").to_owned();
    let port = address.rsplit(':').next().expect("a port").to_owned();

    let foreign = [
        "rebound.example".to_owned(),
        format!("rebound.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        "localhost".to_owned(),
        format!("127.0.0.2:{port}"),
        "wf.internal:8001".to_owned(),
        "watch.example.org.rebound.example".to_owned(),
    ];
    let ours = [
        address.clone(),
        "127.0.0.1".to_owned(),
        format!("localhost:{port}"),
        "watch.example.org".to_owned(),
        "WATCH.example.org:443".to_owned(),
        "wf.internal:8000".to_owned(),
        format!("[fd00::5]:{port}"),
    ];
    for path in ["/hits", "/hits.atom", "/healthz", "/metrics", "/feeds"] {
        for host in &foreign {
            let (status, answer) = get_naming(&address, path, host);
            assert_eq!(status, 421, "{path} naming {host}: {answer}");
            assert!(!answer.contains("North Korea"), "{answer}");
        }
        for host in &ours {
            let (status, answer) = get_naming(&address, path, host);
            assert_eq!(status, 200, "{path} naming {host}: {answer}");
        }
    }
    // An absolute-form target names a host too, and two `Host` lines are one too many.
    let (status, _) = raw_request(
        &address,
        &format!(
            "GET http://rebound.example:{port}/hits HTTP/1.1\r\nHost: {address}\r\n\
             Connection: close\r\n\r\n"
        ),
    );
    assert_eq!(status, 421);
    let (status, _) = raw_request(
        &address,
        &format!(
            "GET /hits HTTP/1.1\r\nHost: {address}\r\nHost: rebound.example\r\n\
             Connection: close\r\n\r\n"
        ),
    );
    assert_eq!(status, 421);

    // Whichever allowed name the request used, the feed's links start with web.base_url.
    for host in &ours {
        let (_, answer) = get_naming(&address, "/hits.atom", host);
        let body = answer.split("\r\n\r\n").nth(1).expect("a body");
        assert!(
            body.contains("https://watch.example.org/log/hits/"),
            "{body}"
        );
        // The items' own links are the feeds' business; every link to our pages is ours.
        for href in body.split("href=\"").skip(1) {
            let href = href.split('"').next().expect("a link");
            assert!(
                !href.contains("/hits") || href.starts_with("https://watch.example.org/log/"),
                "{href} in the feed asked for as {host}: {body}"
            );
        }
    }
}

#[test]
fn without_a_base_url_the_atom_links_use_the_listen_address_whatever_the_host() {
    let log = usual_log();
    let dir = tempfile::tempdir().expect("tempdir");
    let indicators = indicators_with_feeds(dir.path(), &[]);
    let daemon = Daemon::start(&indicators, &log.db, &[]);
    let base = daemon.http_base();
    let address = base.trim_start_matches("http://").to_owned();
    let port = address.rsplit(':').next().expect("a port").to_owned();
    let (status, answer) = get_naming(&address, "/hits.atom", &format!("localhost:{port}"));
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains(&format!("{base}/hits/")), "{answer}");
    assert!(!answer.contains("://localhost"), "{answer}");
}
