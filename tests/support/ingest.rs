//! Hits for tests that need some: a feed document taken through the real pipeline (parse,
//! match, store, alerts queued) as if fetched from `http://127.0.0.1/<feed>.xml` at `now`.

use chrono::{DateTime, Utc};
use watchfloor::config::Feed;
use watchfloor::fetch::{FetchedBody, Validators};
use watchfloor::pipeline::{Context, PollSuccess, ingest};

/// Ingests an RSS document of `feed`; panics with the poll's error if it fails.
pub fn ingest_rss(ctx: &Context, feed: &str, rss: String, now: DateTime<Utc>) -> PollSuccess {
    let fetched = FetchedBody {
        body: rss.into_bytes(),
        content_type: Some("application/rss+xml".into()),
        final_url: format!("http://127.0.0.1/{feed}.xml"),
        validators: Validators::default(),
        max_age: None,
        large: None,
    };
    let report = ingest(ctx, &Feed::new(feed, &fetched.final_url), &fetched, 0, now);
    match report.result {
        Ok(success) => success,
        Err(error) => panic!("ingesting {feed}: {error}"),
    }
}
