//! One feed through the pipeline: fetch, parse, match, store.
//!
//! `poll_feed` reads top to bottom like the stages it runs. The network wait is async; parsing
//! and matching run on the blocking pool; the database is awaited twice through [`Db`]: once
//! (on a read connection, while the document is parsed) to learn which items the feed already
//! delivered, once (on the writer) to write everything the poll learned in a single
//! transaction. A failure at any stage is recorded against this feed alone.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{Feed, Indicators, Settings};
use crate::error::{ErrorKind, error_chain};
use crate::fetch::{FetchError, FetchOutcome, FetchedBody, Fetcher, Validators};
use crate::matcher::ItemText;
use crate::parse::{ParseError, ParsedItem, parse_feed};
use crate::schedule::{self, Outcome, Schedule};
use crate::store::{
    Db, FeedState, HitRecord, HitRoute, ItemRecord, ItemWrite, KnownItem, PollCounts, PollResult,
    PollWrite, StoreError,
};

/// What every poll needs: shared by all polls of a run.
pub struct Context {
    pub fetcher: Fetcher,
    /// Whole polls in flight (fetch through store): bounds the bodies held in memory, since a
    /// fetched body waits here for parsing and the database. Taken inside the fetch, once the
    /// feed's host has a free slot (see [`Fetcher::fetch_holding`]).
    polls: Arc<tokio::sync::Semaphore>,
    pub indicators: Arc<Indicators>,
    pub db: Db,
    pub default_schedule: Schedule,
    /// Who each indicator's new hits alert, by indicator position; worked out once.
    routes: Vec<Option<HitRoute>>,
}

impl Context {
    pub fn new(
        settings: &Settings,
        indicators: Arc<Indicators>,
        db: Db,
    ) -> Result<Self, FetchError> {
        let routes = indicators
            .indicators
            .iter()
            .map(|indicator| crate::alert::route(indicator, &settings.mail))
            .collect();
        Ok(Context {
            routes,
            fetcher: Fetcher::new(&settings.fetch)?,
            polls: Arc::new(tokio::sync::Semaphore::new(settings.fetch.concurrency)),
            indicators,
            db,
            default_schedule: settings.schedule.clone(),
        })
    }

    pub fn schedule_of<'a>(&'a self, feed: &'a Feed) -> &'a Schedule {
        feed.schedule.as_ref().unwrap_or(&self.default_schedule)
    }
}

/// A hit found by a poll, for the terminal and later for alerts.
#[derive(Clone, Debug, PartialEq)]
pub struct FoundHit {
    pub hit_id: i64,
    pub indicator_id: String,
    pub title: String,
    pub link: Option<String>,
}

/// How one poll went.
#[derive(Debug)]
pub struct PollReport {
    pub feed_id: String,
    pub result: Result<PollSuccess, PollError>,
    pub next_check: DateTime<Utc>,
}

/// Why a poll failed. The message is what is recorded on the feed and shown by the log,
/// `poll`, `feeds` and the feeds page; [`PollError::kind`] is what `/metrics` counts it by.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The causes are in the message itself: the feed's recorded error is one line of text.
    #[error("database: {}", error_chain(.0))]
    Store(StoreError),
    /// The task running the poll ended without a report (it panicked or was cancelled).
    #[error("internal error: {0}")]
    Task(String),
    /// The poll failed, and recording that on the feed failed too.
    #[error("{error}; and recording it failed: {}", error_chain(.record))]
    Unrecorded {
        error: Box<PollError>,
        record: StoreError,
    },
}

impl PollError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            PollError::Fetch(error) => error.kind(),
            PollError::Parse(error) => error.kind(),
            PollError::Store(_) => ErrorKind::Store,
            PollError::Task(_) => ErrorKind::Other,
            // What went wrong with the feed, rather than with the database afterwards: a
            // database that fails shows in /healthz already.
            PollError::Unrecorded { error, .. } => error.kind(),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct PollSuccess {
    pub not_modified: bool,
    /// Items in the feed document.
    pub items: usize,
    pub counts: PollCounts,
    pub hits: Vec<FoundHit>,
    /// What the document held that did not become items (`kind: message`), if anything.
    pub warning: Option<String>,
}

/// Polls one feed and records the outcome. Never fails: every error becomes the feed's recorded
/// error, except a database error, which is returned in the report too (and logged by callers).
pub async fn poll_feed(ctx: Arc<Context>, feed: Feed, state: Option<FeedState>) -> PollReport {
    let started = Utc::now();
    let validators = Validators {
        etag: state.as_ref().and_then(|s| s.etag.clone()),
        last_modified: state.as_ref().and_then(|s| s.last_modified.clone()),
    };
    let failures = state.as_ref().map_or(0, |s| s.consecutive_failures);
    // Held to the end: it bounds whole polls in flight, their bodies and parsed items included.
    let (fetched, _permit) = ctx
        .fetcher
        .fetch_holding(&feed.url, &validators, Some(&ctx.polls))
        .await;
    process(&ctx, &feed, fetched, failures, started).await
}

async fn process(
    ctx: &Arc<Context>,
    feed: &Feed,
    fetched: Result<FetchOutcome, FetchError>,
    failures: u32,
    now: DateTime<Utc>,
) -> PollReport {
    let schedule = ctx.schedule_of(feed);
    let body = match fetched {
        Err(error) => {
            let retry_after = error.retry_after();
            return record_failure(ctx, feed, error.into(), retry_after, failures, now).await;
        }
        Ok(FetchOutcome::NotModified { max_age }) => {
            let next_check =
                schedule::next_check(schedule, &feed.id, now, Outcome::Success { floor: max_age });
            let write = PollWrite {
                feed_id: feed.id.clone(),
                attempted_at: now,
                result: PollResult::NotModified,
                next_check,
                min_interval: max_age,
                items: Vec::new(),
            };
            let result = ctx
                .db
                .write(move |store| store.write_poll(&write))
                .await
                .map(|counts| PollSuccess {
                    not_modified: true,
                    counts,
                    ..PollSuccess::default()
                })
                .map_err(PollError::Store);
            return PollReport {
                feed_id: feed.id.clone(),
                result,
                next_check,
            };
        }
        Ok(FetchOutcome::Fetched(body)) => body,
    };
    // Counted whatever the document turns out to be: a page that is not a feed cost as much.
    crate::ops::metrics::record_fetched_bytes(&feed.id, body.body.len());
    ingest(ctx, feed, body, failures, now).await
}

/// Runs CPU-bound work (parsing, matching) on the blocking pool, off the async workers.
async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PollError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| PollError::Task(e.to_string()))
}

/// Parses a fetched document, matches what is new or changed, and records the poll: the part
/// of a poll after the network, also used to ingest files.
pub async fn ingest(
    ctx: &Arc<Context>,
    feed: &Feed,
    body: FetchedBody,
    failures: u32,
    now: DateTime<Utc>,
) -> PollReport {
    let schedule = ctx.schedule_of(feed);
    let fail = |error: PollError| record_failure(ctx, feed, error, None, failures, now);
    let FetchedBody {
        body,
        content_type,
        final_url,
        validators,
        max_age,
        // Held until the poll is done with what the body became.
        large: _large,
    } = body;
    let url = final_url.clone();
    let feed_id = feed.id.clone();
    // Which items the feed delivered before does not depend on the document: read while the
    // document is parsed, not after, so a poll waits on one thread at a time less.
    let (parsed, known) = tokio::join!(
        off_the_runtime(move || parse_feed(&body, content_type.as_deref(), &url)),
        ctx.db.read(move |store| store.known_items(&feed_id)),
    );
    let mut parsed = match parsed {
        Ok(Ok(parsed)) => parsed,
        Ok(Err(error)) => return fail(error.into()).await,
        Err(error) => return fail(error).await,
    };
    parsed.keep_first_of_each_key();
    // Never a silent "ok": what the document held that did not become items is logged and
    // recorded on the feed (shown by `feeds`, the feeds page and /metrics).
    let warning = parsed.warnings.first().map(|w| {
        tracing::warn!(feed = %feed.id, url = %final_url, kind = w.kind(), "{w}");
        (w.kind().to_owned(), w.to_string())
    });
    let warning_text = warning
        .as_ref()
        .map(|(kind, message)| format!("{kind}: {message}"));
    let floor = [
        parsed
            .ttl_minutes
            .map(|m| Duration::from_secs(u64::from(m) * 60)),
        max_age,
    ]
    .into_iter()
    .flatten()
    .max();

    let known = match known {
        Ok(known) => known,
        Err(e) => return fail(PollError::Store(e)).await,
    };

    let item_count = parsed.items.len();
    let matching = ctx.clone();
    let writes = match off_the_runtime(move || match_items(&matching, parsed.items, &known)).await {
        Ok(writes) => writes,
        Err(error) => return fail(error).await,
    };

    let next_check = schedule::next_check(schedule, &feed.id, now, Outcome::Success { floor });
    let write = PollWrite {
        feed_id: feed.id.clone(),
        attempted_at: now,
        result: PollResult::Fetched {
            etag: validators.etag,
            last_modified: validators.last_modified,
            // A configured title wins over the feed's own, which may change at any poll.
            title: feed.title.clone().or(parsed.title),
            warning,
        },
        next_check,
        min_interval: floor,
        items: writes,
    };
    let written = ctx
        .db
        .write(move |store| Ok((store.write_poll(&write)?, write)))
        .await;
    match written {
        Ok((counts, write)) => {
            let hits = counts
                .hits
                .iter()
                .filter_map(|new| {
                    let item = write.items.iter().find_map(|w| match w {
                        ItemWrite::New { item, .. } | ItemWrite::Changed { item, .. } => {
                            (item.key == new.key).then_some(item)
                        }
                    })?;
                    Some(FoundHit {
                        hit_id: new.hit_id,
                        indicator_id: new.indicator_id.clone(),
                        title: item.title.clone(),
                        link: item.link.clone(),
                    })
                })
                .collect();
            PollReport {
                feed_id: feed.id.clone(),
                result: Ok(PollSuccess {
                    not_modified: false,
                    items: item_count,
                    counts,
                    hits,
                    warning: warning_text,
                }),
                next_check,
            }
        }
        Err(e) => fail(PollError::Store(e)).await,
    }
}

/// Matches the items that are new or changed against the rules: what the poll will write.
fn match_items(
    ctx: &Context,
    items: Vec<ParsedItem>,
    known: &std::collections::HashMap<String, KnownItem>,
) -> Vec<ItemWrite> {
    let indicators = &ctx.indicators;
    let matcher = &indicators.matcher;
    let mut scratch = matcher.scratch();
    let mut writes = Vec::new();
    // Items move into their records: their text is the bulk of the poll, and copying it cost
    // an allocation and a copy per field.
    for item in items {
        let previous = known.get(&item.key);
        // A forgotten item is one retention deleted as too old to keep: any text it has now
        // is still old news.
        if previous.is_some_and(|p| p.forgotten || p.content_hash == item.content_hash) {
            continue;
        }
        let mut record = item_record(item);
        let text = ItemText {
            title: &record.title,
            summary: &record.summary,
            content: &record.content,
            author: &record.authors,
            category: &record.categories,
            link: record.link.as_deref().unwrap_or(""),
        };
        // The language is identified from the letters the matcher's pass counts.
        let (found, lang) = matcher.match_and_identify(&text, &mut scratch);
        record.lang = lang;
        // Once per item with hits, here rather than in the store's transaction: folding later
        // compares these, never the titles again.
        let fingerprint = (!found.is_empty())
            .then(|| crate::alert::story::Fingerprint::of(&record.title).to_stored());
        let hits: Vec<HitRecord> = found
            .into_iter()
            .map(|hit| {
                let indicator = &indicators.indicators[hit.indicator];
                HitRecord {
                    indicator_id: indicator.id.clone(),
                    score: hit.score,
                    evidence: serde_json::to_string(&hit.evidence)
                        .unwrap_or_else(|_| "{}".to_owned()),
                    definition_hash: indicator.definition_hash.clone(),
                    route: ctx.routes[hit.indicator].clone(),
                    fingerprint: fingerprint.clone(),
                }
            })
            .collect();
        writes.push(match previous {
            Some(previous) => ItemWrite::Changed {
                item_id: previous.item_id,
                item: record,
                hits,
            },
            None => ItemWrite::New { item: record, hits },
        });
    }
    writes
}

/// Records a failed poll: the error, one more failure, and a backed-off next check.
async fn record_failure(
    ctx: &Context,
    feed: &Feed,
    error: PollError,
    retry_after: Option<Duration>,
    failures: u32,
    now: DateTime<Utc>,
) -> PollReport {
    let next_check = schedule::next_check(
        ctx.schedule_of(feed),
        &feed.id,
        now,
        Outcome::Failure {
            failures: failures + 1,
            retry_after,
        },
    );
    let write = PollWrite {
        feed_id: feed.id.clone(),
        attempted_at: now,
        result: PollResult::Failed {
            error: error.to_string(),
        },
        next_check,
        min_interval: None,
        items: Vec::new(),
    };
    let result = match ctx.db.write(move |store| store.write_poll(&write)).await {
        Ok(_) => Err(error),
        Err(record) => Err(PollError::Unrecorded {
            error: Box::new(error),
            record,
        }),
    };
    PollReport {
        feed_id: feed.id.clone(),
        result,
        next_check,
    }
}

/// The record of a parsed item; its language is set when it is matched.
fn item_record(item: ParsedItem) -> ItemRecord {
    ItemRecord {
        lang: None,
        key: item.key,
        link: item.link,
        title: item.title,
        summary: item.summary,
        content: item.content,
        authors: item.authors.join("\n"),
        categories: item.categories.join("\n"),
        published: item.published,
        updated: item.updated,
        content_hash: item.content_hash,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_that_could_not_be_recorded_is_counted_by_its_own_kind() {
        let error = PollError::Unrecorded {
            error: Box::new(FetchError::BodyTooLarge(4096).into()),
            record: StoreError::Checkpointer(std::io::Error::other("disk full")),
        };
        assert_eq!(error.kind(), ErrorKind::TooLarge);
        assert_eq!(
            error.to_string(),
            "body larger than 4096 bytes; and recording it failed: \
             cannot start the WAL checkpoint thread: disk full"
        );
        let store = PollError::Store(StoreError::Checkpointer(std::io::Error::other("x")));
        assert_eq!(store.kind(), ErrorKind::Store);
        assert_eq!(
            store.to_string(),
            "database: cannot start the WAL checkpoint thread: x"
        );
    }
}
