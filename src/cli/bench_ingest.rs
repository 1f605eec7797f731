//! `watchfloor bench ingest`: parse, normalise, match and store from files, on the shared feed
//! corpus replicated to a given size.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::Utc;
use clap::Args;

use super::{EXIT_OK, GlobalArgs, UsageError, load_indicators};
use crate::app::App;
use crate::config::{Feed, Settings};
use crate::fetch::{FetchedBody, Validators};
use crate::parse::parse_feed;
use crate::pipeline::{Context, ingest};

#[derive(Debug, Args)]
pub struct IngestBench {
    /// Folder of feed files [default: ../shared/corpus/feeds]
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
    /// Replicate the corpus to at least this many megabytes
    #[arg(long, default_value_t = 50)]
    pub megabytes: usize,
}

pub fn run(global: &GlobalArgs, args: &IngestBench) -> anyhow::Result<u8> {
    if cfg!(debug_assertions) {
        eprintln!(
            "watchfloor: warning: this is a debug build; figures mean little (use --release)"
        );
    }
    let corpus = args
        .corpus
        .clone()
        .unwrap_or_else(|| PathBuf::from("../shared/corpus/feeds"));
    let files = read_corpus(&corpus)?;
    let corpus_bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    if corpus_bytes == 0 {
        return Err(UsageError(format!("{}: no feed files", corpus.display())).into());
    }
    let copies = (args.megabytes * 1_000_000).div_ceil(corpus_bytes);
    // Each copy gets its own hosts in every URL, so its items are new stories, not second
    // sources of the first copy's.
    let documents: Vec<(String, Vec<u8>)> = (0..copies)
        .flat_map(|k| {
            files
                .iter()
                .map(move |(name, bytes)| (format!("c{k}-{name}"), rehost(bytes, k)))
        })
        .collect();
    let total_bytes: usize = documents.iter().map(|(_, b)| b.len()).sum();

    let dir = tempfile_dir()?;
    let database = dir.join("bench.db");
    let settings = Settings {
        http_listen: None,
        ..Settings::load(None, Some(&database), &|_| None)?
    };
    let mut indicators = load_indicators(global)?;
    let feeds: Vec<Feed> = documents
        .iter()
        .map(|(id, _)| Feed::new(id, &format!("http://127.0.0.1/{id}")))
        .collect();
    indicators.feeds = feeds.clone();
    // As the daemon is built: the database on its threads, checkpoints on their own (the
    // figures' CPU column counts them).
    let app = App::build(settings, indicators)?;
    let ctx = app.context();
    let runtime = super::poll::runtime()?;

    println!(
        "ingest from files: one document at a time (parse and match on the blocking pool, the store on its writer thread, WAL checkpoints on another), {} documents, {:.1} MB ({copies} copies of {})",
        documents.len(),
        total_bytes as f64 / 1e6,
        corpus.display()
    );
    println!(
        "{:>10} {:>9} {:>9} {:>10} {:>8} {:>9} {:>7} {:>8} {:>7}",
        "pass", "seconds", "items", "items/s", "MB/s", "new", "hits", "failed", "CPU s"
    );
    // As fetched: the bodies exist before the clock starts, as they would after the network.
    let bodies: Vec<FetchedBody> = feeds
        .iter()
        .zip(documents)
        .map(|(feed, (_, bytes))| FetchedBody {
            body: bytes,
            content_type: None,
            final_url: feed.url.clone(),
            validators: Validators::default(),
            max_age: None,
            large: None,
        })
        .collect();
    let mut first_pass_seconds = 0.0;
    for pass in ["first", "unchanged"] {
        let started = Instant::now();
        let cpu_started = super::bench_alerts::cpu_seconds();
        let (mut items, mut new, mut hits, mut failed) = (0, 0, 0, 0);
        for (feed, body) in feeds.iter().zip(&bodies) {
            // A copy per pass, as a fetch would give; the copy is a small part of a parse.
            let fetched = FetchedBody {
                body: body.body.clone(),
                content_type: body.content_type.clone(),
                final_url: body.final_url.clone(),
                validators: Validators::default(),
                max_age: None,
                large: None,
            };
            let report = runtime.block_on(ingest(&ctx, feed, fetched, 0, Utc::now()));
            match report.result {
                Ok(success) => {
                    items += success.items;
                    new += success.counts.new_items;
                    hits += success.counts.new_hits;
                }
                Err(_) => failed += 1,
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let cpu = super::bench_alerts::cpu_seconds() - cpu_started;
        if pass == "first" {
            first_pass_seconds = seconds;
        }
        println!(
            "{pass:>10} {seconds:>9.2} {items:>9} {:>10.0} {:>8.1} {new:>9} {hits:>7} {failed:>8} {cpu:>7.2}",
            items as f64 / seconds,
            total_bytes as f64 / seconds / 1e6,
        );
    }
    let (parse, matching) = stage_times(&ctx, &bodies);
    println!(
        "first pass by stage, parse and match timed apart on the same documents: parse {parse:.2} s, \
         match {matching:.2} s, the rest (store) {:.2} s",
        (first_pass_seconds - parse - matching).max(0.0)
    );
    println!(
        "peak RSS: {} MB",
        peak_rss_kb().map_or("?".into(), |kb| (kb / 1024).to_string())
    );
    drop(ctx);
    drop(runtime);
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(EXIT_OK)
}

/// Seconds to parse every document, and to match every item (evidence serialised as the store
/// gets it), each summed over the run: what the first pass spends outside the store. One
/// document at a time, so that the peak memory stays that of the passes.
fn stage_times(ctx: &Context, bodies: &[FetchedBody]) -> (f64, f64) {
    let matcher = &ctx.indicators.matcher;
    let mut scratch = matcher.scratch();
    let (mut parse, mut matching) = (0.0, 0.0);
    let mut evidence_bytes = 0;
    for body in bodies {
        let started = Instant::now();
        let parsed = parse_feed(&body.body, body.content_type.as_deref(), &body.final_url);
        parse += started.elapsed().as_secs_f64();
        let Ok(parsed) = parsed else { continue };
        let started = Instant::now();
        for item in &parsed.items {
            // As the pipeline does: the language is identified in the matcher's pass.
            let (hits, lang) = super::matching::match_parsed(matcher, item, &mut scratch);
            std::hint::black_box(lang);
            for hit in hits {
                evidence_bytes += serde_json::to_string(&hit.evidence).map_or(0, |e| e.len());
            }
        }
        matching += started.elapsed().as_secs_f64();
    }
    std::hint::black_box(evidence_bytes);
    (parse, matching)
}

fn read_corpus(dir: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| UsageError(format!("{}: cannot read the corpus: {e}", dir.display())))?;
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".xml") || name.ends_with(".json") {
            files.push((name.to_owned(), std::fs::read(&path)?));
        }
    }
    files.sort();
    Ok(files)
}

/// Puts copy `k` of a document on hosts of its own: `://host` becomes `://c<k>.host` (also in
/// JSON's escaped form), except in namespace declarations and format identifiers, which name
/// the format rather than a place.
fn rehost(bytes: &[u8], k: usize) -> Vec<u8> {
    let prefix = format!("c{k}.");
    let mut out = Vec::with_capacity(bytes.len() + 64);
    let mut i = 0;
    while i < bytes.len() {
        let separator = if bytes[i..].starts_with(b"://") {
            3
        } else if bytes[i..].starts_with(br":\/\/") {
            5
        } else {
            0
        };
        if separator == 0 {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        out.extend_from_slice(&bytes[i..i + separator]);
        i += separator;
        let before = &bytes[i.saturating_sub(separator + 80)..i - separator];
        let attribute = before
            .iter()
            .rposition(|b| b.is_ascii_whitespace() || *b == b'<' || *b == b'{' || *b == b',')
            .map_or(before, |p| &before[p + 1..]);
        let names_a_format = attribute.starts_with(b"xmlns")
            || attribute.starts_with(b"\"version\"")
            || bytes[i..].starts_with(b"jsonfeed.org/version");
        if !names_a_format {
            out.extend_from_slice(prefix.as_bytes());
        }
    }
    out
}

fn tempfile_dir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("watchfloor-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Peak resident set size of this process, from /proc (Linux).
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
