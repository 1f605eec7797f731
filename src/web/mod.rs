//! The review stage: the hit log as web pages and an Atom feed, on the operations listener.
//!
//! Pages are rendered on the server with askama and need no JavaScript and no asset from
//! anywhere: reviewers open them from a locked-down network, and a page whose policy runs no
//! inline script cannot be made to run a feed's. Every string a feed supplied goes through askama's
//! escaping (nothing is marked safe) after `header_text` has taken out control characters and
//! bidi overrides; only http and https links become `href`s.
//!
//! The pages read through the database's read-only connections ([`Db::read`]), never the
//! daemon's writer, so a slow page cannot hold up a poll, nor a poll a page. The one write is
//! a reviewer's verdict, appended to the hit's history through the store on the daemon's
//! writer, with who gave it: the basic-auth user, `token`, or `local` on a hit log without a
//! login (served only on loopback, to someone at the machine).
//!
//! One script is served, `/static/desk.js`, from the binary: keyboard shortcuts over forms and
//! links that work without it. The policy allows scripts from here alone, never inline.

mod atom;
mod chart;
mod pages;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;

use crate::config::{Indicators, WebAuth};
use crate::store::{Db, NewVerdict, Recorded, Store, StoreError, Verdict};

pub use pages::ListQuery;

/// The Content-Security-Policy of every page: nothing loads or runs but inline style and the
/// hit log's own script file (no inline script, no handler attribute, no eval); forms post
/// only here; no page may be framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The keyboard shortcuts, served as `/static/desk.js`. The pages work without it: every
/// key has a button or link it presses.
const DESK_JS: &str = include_str!("desk.js");

/// Notes longer than this are cut: a verdict's reason, not an essay.
const NOTE_MAX: usize = 2000;

/// The rules in force; the daemon swaps them on SIGHUP, so pages ask each time.
pub type Rules = Arc<dyn Fn() -> Arc<Indicators> + Send + Sync>;

/// What the pages need.
pub struct WebState {
    /// Pages read on its read-only connections; only triage writes.
    pub db: Db,
    pub rules: Rules,
    pub auth: WebAuth,
    /// `web.base_url`, without a trailing slash: the Atom feed's absolute links start with it,
    /// and page links with its path, so pages stay whole behind a proxy that strips that path.
    pub base_url: Option<String>,
    /// The listener's address: the Atom feed's links start with it when `base_url` is unset.
    /// Never the request's `Host`, which whoever sends the request chooses.
    pub listen: Option<std::net::SocketAddr>,
}

impl WebState {
    pub fn new(db: Db, rules: Rules, auth: WebAuth, base_url: Option<String>) -> WebState {
        WebState {
            db,
            rules,
            auth,
            base_url: base_url.map(|b| b.trim_end_matches('/').to_owned()),
            listen: None,
        }
    }

    /// Sets the listener's address, for absolute links when `web.base_url` is unset.
    pub fn served_at(self, listen: std::net::SocketAddr) -> WebState {
        WebState {
            listen: Some(listen),
            ..self
        }
    }

    /// The absolute URL the pages are served under: `web.base_url`, else the listener's
    /// address (loopback for an unspecified one, which no client can reach as such).
    fn absolute_base(&self) -> String {
        if let Some(base) = &self.base_url {
            return base.clone();
        }
        match self.listen {
            Some(mut address) => {
                if address.ip().is_unspecified() {
                    address.set_ip(match address {
                        std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                        std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                    });
                }
                format!("http://{address}")
            }
            None => "http://localhost".to_owned(),
        }
    }

    /// The path prefix of every page link: `web.base_url`'s path, or nothing.
    fn prefix(&self) -> String {
        self.base_url
            .as_deref()
            .and_then(|b| url::Url::parse(b).ok())
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default()
    }

    /// Runs `work` on a read-only connection.
    async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.db.read(work).await
    }
}

/// The hit log's routes, each behind the access check and the security headers.
pub fn router(state: Arc<WebState>) -> Router {
    Router::new()
        .route("/", get(hit_list))
        .route("/hits", get(hit_list))
        .route("/hits.atom", get(atom_feed))
        .route("/hits/{id}", get(hit_page))
        .route("/hits/{id}/triage", post(triage))
        .route("/queue", get(queue))
        .route("/static/desk.js", get(desk_js))
        .route("/indicators", get(indicators_page))
        .route("/indicators/{id}", get(indicator_page))
        .route("/feeds", get(feeds_page))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Refuses requests without valid credentials when access is configured, and sets the
/// security headers on every answer, refusals included.
async fn guard(State(state): State<Arc<WebState>>, request: Request, next: Next) -> Response {
    let admitted = !state.auth.is_configured()
        || request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| state.auth.admits(v));
    let mut response = if admitted {
        next.run(request).await
    } else {
        let mut refusal = (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "the hit log needs credentials: basic auth or an Authorization: Bearer token\n",
        )
            .into_response();
        let challenges = refusal.headers_mut();
        if state.auth.basic.is_some() {
            challenges.append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"watchfloor hit log\", charset=\"UTF-8\""),
            );
        }
        if state.auth.token.is_some() {
            challenges.append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"watchfloor hit log\""),
            );
        }
        refusal
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Pages show a moment of a changing log; a cached one would hide new hits and verdicts.
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

fn html(status: StatusCode, body: Result<String, askama::Error>) -> Response {
    match body {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!("web: cannot render a page: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot render the page\n",
            )
                .into_response()
        }
    }
}

fn failure(state: &WebState, e: StoreError) -> Response {
    tracing::error!("web: {}", chain(&e));
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        pages::message_page(
            state,
            "The hit log is unavailable",
            &format!("The database could not be read: {}", chain(&e)),
        ),
    )
}

/// An error with its causes, as `main` prints them.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

fn not_found(state: &WebState, what: &str) -> Response {
    html(
        StatusCode::NOT_FOUND,
        pages::message_page(state, "Not found", what),
    )
}

async fn hit_list(State(state): State<Arc<WebState>>, Query(query): Query<ListQuery>) -> Response {
    let (mut filter, mut problems) = query.filter();
    // Repeats stay out of the list unless asked for (`duplicates=include`).
    filter.skip_duplicates = !query.shows_repeats();
    // A search that does not compile would show every hit as if it matched: the page says
    // what is wrong and lists nothing.
    if let Err(e) = search_of(&filter) {
        problems.push(format!("q: {}", e.message));
        return html(
            StatusCode::BAD_REQUEST,
            pages::hit_list(&state, &query, &filter, &problems, &[], 0, 0),
        );
    }
    if let Some(search) = &filter.search {
        problems.extend(
            crate::store::search_notes(search)
                .into_iter()
                .map(|note| format!("q: {note}")),
        );
    }
    let lookup = filter.clone();
    let found = state
        .read(move |store| {
            let page = store.hits_page(&lookup)?;
            // How many repeats the filters match but the list leaves out, for its toggle.
            let hidden = if lookup.skip_duplicates {
                let (_, with_repeats) = store.hits_page(&crate::store::HitFilter {
                    skip_duplicates: false,
                    limit: 0,
                    offset: 0,
                    ..lookup.clone()
                })?;
                with_repeats.saturating_sub(page.1)
            } else {
                0
            };
            // The known ids are read only to check a filter that names one.
            let with_hits: Vec<String> = match &lookup.indicator {
                Some(_) => store
                    .hits_by_indicator()?
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect(),
                None => Vec::new(),
            };
            let feeds: Vec<String> = match &lookup.feed {
                Some(_) => store.feed_states()?.into_iter().map(|f| f.id).collect(),
                None => Vec::new(),
            };
            Ok((page, with_hits, feeds, hidden))
        })
        .await;
    match found {
        Ok(((rows, total), with_hits, feeds, hidden)) => {
            // An id nothing knows is a typo: say so, as for a bad date, rather than
            // "No hits match", which reads as "nothing happened".
            let rules = (state.rules)();
            if let Some(wanted) = &filter.indicator
                && !with_hits.contains(wanted)
                && !rules.indicators.iter().any(|i| &i.id == wanted)
            {
                let mut known: Vec<&str> = rules.indicators.iter().map(|i| i.id.as_str()).collect();
                known.extend(with_hits.iter().map(String::as_str));
                known.sort_unstable();
                known.dedup();
                problems.push(unknown_id("indicator", wanted, &known));
            }
            if let Some(wanted) = &filter.feed
                && !feeds.contains(wanted)
            {
                let mut known: Vec<&str> = feeds.iter().map(String::as_str).collect();
                known.sort_unstable();
                problems.push(unknown_id("feed", wanted, &known));
            }
            html(
                StatusCode::OK,
                pages::hit_list(&state, &query, &filter, &problems, &rows, total, hidden),
            )
        }
        Err(e) => failure(&state, e),
    }
}

/// The filter's search checked before the database is asked.
fn search_of(filter: &crate::store::HitFilter) -> Result<(), crate::store::SearchError> {
    match &filter.search {
        Some(text) => crate::store::fts_query(text).map(drop),
        None => Ok(()),
    }
}

fn unknown_id(what: &str, wanted: &str, known: &[&str]) -> String {
    format!(
        "{what}: no {what} is called '{}' (known: {})",
        crate::text::safe::header_text(wanted, 80),
        if known.is_empty() {
            "none yet".to_owned()
        } else {
            known.join(", ")
        }
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct HitPageQuery {
    /// `1`: the page is part of the untriaged queue (its j and k walk the queue, and a
    /// verdict opens the next hit of it).
    queue: String,
    /// The query string of the list the page was opened from: its j and k step through
    /// that list.
    list: Option<String>,
}

async fn hit_page(
    State(state): State<Arc<WebState>>,
    Path(id): Path<i64>,
    Query(query): Query<HitPageQuery>,
) -> Response {
    let in_queue = query.queue == "1";
    let list = query
        .list
        .as_deref()
        .filter(|_| !in_queue)
        .map(ListQuery::from_query_string);
    let found = state
        .read(move |store| {
            let Some(detail) = store.hit_detail(id)? else {
                return Ok(None);
            };
            let history = store.verdict_history(id)?;
            let nav = if in_queue {
                let (previous, next) = store.queue_neighbours(id)?;
                let (_, waiting) = store.queue_head()?;
                pages::HitNav {
                    queue: Some(waiting),
                    list: None,
                    previous,
                    next,
                }
            } else if let Some(list) = list {
                let (newer, older) = store.list_neighbours(&list.list_filter(), id)?;
                pages::HitNav {
                    queue: None,
                    list: Some(list.query_string()),
                    previous: newer,
                    next: older,
                }
            } else {
                // The list runs newest first: its next hit is the older one.
                let (older, newer) = store.log_neighbours(id)?;
                pages::HitNav {
                    queue: None,
                    list: None,
                    previous: newer,
                    next: older,
                }
            };
            Ok(Some((detail, history, nav)))
        })
        .await;
    match found {
        Ok(Some((detail, history, nav))) => html(
            StatusCode::OK,
            pages::hit_page(&state, &detail, &history, &nav),
        ),
        Ok(None) => not_found(&state, &format!("There is no hit {id}.")),
        Err(e) => failure(&state, e),
    }
}

/// The untriaged queue: opens its oldest hit in queue mode, or says that none is left.
async fn queue(State(state): State<Arc<WebState>>) -> Response {
    match state.read(|store| store.queue_head()).await {
        Ok((Some(id), _)) => {
            Redirect::to(&format!("{}/hits/{id}?queue=1", state.prefix())).into_response()
        }
        Ok((None, _)) => html(
            StatusCode::OK,
            pages::message_page(
                &state,
                "The queue is empty",
                "Every hit has a verdict, or was folded into an earlier report of its story, \
                 or was retracted. New hits join the queue as they are recorded.",
            ),
        ),
        Err(e) => failure(&state, e),
    }
}

/// The keyboard shortcuts' script: the same bytes until the binary changes, so browsers may
/// keep it a day.
async fn desk_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        DESK_JS,
    )
        .into_response()
}

async fn indicators_page(State(state): State<Arc<WebState>>) -> Response {
    let now = Utc::now();
    match state
        .read(move |store| store.indicator_summaries(now))
        .await
    {
        Ok(summaries) => {
            let rules = (state.rules)();
            html(
                StatusCode::OK,
                pages::indicators_page(&state, &rules, &summaries),
            )
        }
        Err(e) => failure(&state, e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct IndicatorQuery {
    /// `include` (or `show`): count and list duplicates and folded repeats too.
    duplicates: String,
}

async fn indicator_page(
    State(state): State<Arc<WebState>>,
    Path(id): Path<String>,
    Query(query): Query<IndicatorQuery>,
) -> Response {
    let rules = (state.rules)();
    let lookup = id.clone();
    let now = Utc::now();
    let show_repeats = pages::shows_repeats(&query.duplicates);
    let found = state
        .read(move |store| {
            let days = store.hits_per_day(&lookup, chart::DAYS, now, show_repeats)?;
            let latest = store.hits_page(&crate::store::HitFilter {
                indicator: Some(lookup),
                skip_duplicates: !show_repeats,
                limit: 20,
                ..Default::default()
            })?;
            Ok((days, latest))
        })
        .await;
    match found {
        Ok((days, (latest, total))) => {
            let indicator = rules.indicators.iter().find(|i| i.id == id);
            // A rule since removed still has its record.
            if indicator.is_none() && total == 0 {
                return not_found(&state, &format!("There is no indicator '{id}'."));
            }
            html(
                StatusCode::OK,
                pages::indicator_page(&state, &id, indicator, &days, &latest, total, show_repeats),
            )
        }
        Err(e) => failure(&state, e),
    }
}

async fn feeds_page(State(state): State<Arc<WebState>>) -> Response {
    let rules = (state.rules)();
    let read = state
        .read(|store| Ok((store.feed_states()?, store.feed_languages()?)))
        .await;
    match read {
        Ok((feeds, languages)) => html(
            StatusCode::OK,
            pages::feeds_page(&state, &rules, &feeds, &languages, Utc::now()),
        ),
        Err(e) => failure(&state, e),
    }
}

/// The Atom feed of the list: the same filters (indicator, feed, triage, search, dates), so a
/// reader subscribed to `/hits.atom?triage=untriaged&q=Sohae` gets what the list shows, less
/// the hits that repeat another (`duplicates=include` keeps them). A date or triage value that
/// does not read is ignored, as on the list; a search that does not compile is a 400 saying
/// why, since ignoring it would feed the reader every hit.
async fn atom_feed(State(state): State<Arc<WebState>>, Query(query): Query<ListQuery>) -> Response {
    let (mut filter, _) = query.filter();
    if let Err(e) = search_of(&filter) {
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("q: {}\n", e.message),
        )
            .into_response();
    }
    filter.limit = atom::ENTRIES;
    filter.offset = 0;
    filter.skip_duplicates = !query.shows_repeats();
    let indicator = filter.indicator.clone();
    let base = state.absolute_base();
    // The list's filters, `duplicates` among them.
    let filters = query.filter_query();
    match state.read(move |store| store.hits_page(&filter)).await {
        Ok((rows, _)) => {
            let rules = (state.rules)();
            let feed = atom::FeedQuery {
                indicator: indicator.as_deref(),
                filters: &filters,
            };
            match atom::render(&base, feed, &rules, &rows, Utc::now()) {
                Ok(body) => (
                    [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
                    body,
                )
                    .into_response(),
                Err(e) => {
                    tracing::error!("web: cannot render the Atom feed: {e}");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "cannot render the feed\n",
                    )
                        .into_response()
                }
            }
        }
        Err(e) => failure(&state, e),
    }
}

#[derive(Deserialize)]
struct TriageForm {
    #[serde(default)]
    verdict: String,
    #[serde(default)]
    note: String,
    /// A duplicate's original, as typed: a hit id.
    #[serde(default)]
    of: String,
    /// `1` from a page in queue mode: the next hit of the queue opens after the verdict.
    #[serde(default)]
    queue: String,
    /// From a list's row: the list's query string, to return to it.
    #[serde(default, rename = "return")]
    return_to: Option<String>,
    /// From a hit page opened from a list: that list's query string, kept on the page.
    #[serde(default)]
    list: Option<String>,
}

/// A form's answer that is not a page: plain text, with its status.
fn refused(status: StatusCode, text: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// Whether a POST came from one of our own pages. Browsers send credentials to a site
/// whatever page submits the form, so a form on another site could otherwise triage here.
///
/// `Sec-Fetch-Site`, which browsers set and no page can, decides when present: our pages'
/// `no-referrer` policy makes Chromium send `Origin: null` with their own form posts, so the
/// origin alone would refuse them. Without it (older browsers, scripts), the `Origin` must
/// name this host, and `null` is refused.
fn same_origin(headers: &HeaderMap) -> bool {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = value("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    match (value("origin"), value("host")) {
        (None, _) => true,
        (Some(origin), Some(host)) => url::Url::parse(origin).is_ok_and(|o| {
            let port = o.port().map(|p| format!(":{p}")).unwrap_or_default();
            o.host_str()
                .is_some_and(|h| format!("{h}{port}").eq_ignore_ascii_case(host))
        }),
        (Some(_), None) => false,
    }
}

async fn triage(
    State(state): State<Arc<WebState>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<TriageForm>,
) -> Response {
    if !same_origin(&headers) {
        return refused(
            StatusCode::FORBIDDEN,
            "triage is accepted only from the hit log's own pages\n".to_owned(),
        );
    }
    let Some(verdict) = Verdict::parse(form.verdict.trim()) else {
        return refused(
            StatusCode::BAD_REQUEST,
            format!(
                "verdict '{}' is not 'relevant', 'false_positive' or 'duplicate'\n",
                crate::text::safe::header_text(&form.verdict, 40)
            ),
        );
    };
    let of = form.of.trim();
    let duplicate_of = match (verdict, of) {
        (Verdict::Duplicate, "") => {
            return refused(
                StatusCode::BAD_REQUEST,
                format!("hit {id}: a duplicate needs the id of the earlier hit it repeats\n"),
            );
        }
        (Verdict::Duplicate, of) => match of.trim_start_matches('#').parse::<i64>() {
            Ok(original) if original > 0 => Some(original),
            _ => {
                return refused(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "hit {id}: '{}' is not a hit id (a whole number from 1 up)\n",
                        crate::text::safe::header_text(of, 40)
                    ),
                );
            }
        },
        // The duplicate form's id field may come along with another verdict's button.
        _ => None,
    };
    let note: String = form.note.trim().chars().take(NOTE_MAX).collect();
    let given = NewVerdict {
        verdict,
        duplicate_of,
        note,
        by: state.auth.reviewer(
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok()),
        ),
    };
    let recorded = state
        .db
        .write(move |store| store.record_verdict(id, &given, Utc::now()))
        .await;
    let prefix = state.prefix();
    match recorded {
        Ok(Recorded::Recorded) => {
            tracing::info!(hit = id, "web: hit {id} triaged {}", verdict.as_str());
            let next = if form.queue == "1" {
                format!("{prefix}/queue")
            } else if let Some(list) = &form.return_to {
                // Only the list's own fields survive: the answer leads back to the list.
                let list = ListQuery::from_query_string(list);
                let offset = list.offset.trim().parse::<usize>().unwrap_or(0);
                format!("{}#hit-{id}", list.href(&prefix, offset))
            } else if let Some(list) = &form.list {
                let list = ListQuery::from_query_string(list).query_string();
                format!(
                    "{prefix}/hits/{id}?{}",
                    url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("list", &list)
                        .finish()
                )
            } else {
                format!("{prefix}/hits/{id}")
            };
            Redirect::to(&next).into_response()
        }
        Ok(Recorded::NoSuchHit) => not_found(&state, &format!("There is no hit {id}.")),
        Ok(Recorded::NoSuchOriginal) => refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "hit {id}: there is no hit {} to be a duplicate of\n",
                duplicate_of.unwrap_or_default()
            ),
        ),
        Ok(Recorded::OwnDuplicate) => refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("hit {id}: a hit cannot be a duplicate of itself\n"),
        ),
        Ok(Recorded::OriginalMismatch) => refused(
            StatusCode::BAD_REQUEST,
            format!("hit {id}: only a duplicate names an original\n"),
        ),
        Err(e) => failure(&state, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn a_post_from_another_site_is_not_same_origin() {
        assert!(same_origin(&headers(&[("host", "127.0.0.1:9477")])));
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:9477"),
            ("origin", "http://127.0.0.1:9477"),
            ("sec-fetch-site", "same-origin"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:9477"),
            ("origin", "https://evil.example"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:9477"),
            ("sec-fetch-site", "cross-site"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:9477"),
            ("origin", "null"),
        ])));
        // Chromium's own form post under `Referrer-Policy: no-referrer`.
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:9477"),
            ("origin", "null"),
            ("sec-fetch-site", "same-origin"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:9477"),
            ("origin", "http://127.0.0.1:9477"),
            ("sec-fetch-site", "same-site"),
        ])));
    }
}
