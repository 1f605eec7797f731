//! `watchfloor feeds add | import | export`: the feed list, edited from the command line and
//! shared with feed readers as OPML.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::Utc;
use clap::Args;

use super::{
    EXIT_FINDINGS, EXIT_OK, GlobalArgs, UsageError, indicators_path, load_indicators, load_settings,
};
use crate::config::feed_list::{self, NewFeed, OpmlFeed};
use crate::config::{FetchSettings, Indicators};
use crate::fetch::{FetchOutcome, Fetcher, Validators};
use crate::parse::{ParsedFeed, ParsedItem, canonical_link};

/// How many of a new feed's latest items `feeds add` matches and shows.
const PREVIEW_ITEMS: usize = 20;

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The feed's address (RSS, Atom or JSON Feed)
    pub url: String,
    /// Its id in indicators.yaml [default: made from its title, else its address]
    #[arg(long)]
    pub id: Option<String>,
    /// Its title [default: the title the feed gives]
    #[arg(long)]
    pub title: Option<String>,
    /// A tag for it (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Fetch and preview only: do not write indicators.yaml
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// An OPML file, as feed readers export their subscriptions
    pub file: PathBuf,
    /// Show what would be added: do not write indicators.yaml
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file instead of standard output
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Fetches the feed, shows what it holds and what the rules would make of it, then appends it
/// to indicators.yaml.
pub fn add(global: &GlobalArgs, args: &AddArgs) -> anyhow::Result<u8> {
    let path = indicators_path(global);
    let indicators = load_indicators(global)?;
    let url = args.url.trim().to_owned();
    if let Some(existing) = watched_as(&indicators, &url) {
        return Err(UsageError(format!("{url} is already watched as feed '{existing}'")).into());
    }
    let taken: HashSet<String> = indicators.feeds.iter().map(|f| f.id.clone()).collect();
    if let Some(id) = &args.id {
        check_id(id, &taken)?;
    }
    let settings = load_settings(global)?;
    let feed = fetch_and_parse(&settings.fetch, &url)?;
    let title = args
        .title
        .clone()
        .or_else(|| feed.title.clone())
        .filter(|t| !t.trim().is_empty());
    print_preview(&indicators, &url, title.as_deref(), &feed);
    let id = args
        .id
        .clone()
        .unwrap_or_else(|| feed_list::feed_id_for(title.as_deref(), &url, &taken));
    let new = NewFeed {
        id,
        url,
        title,
        tags: args.tags.clone(),
    };
    if feed.items.is_empty() {
        println!(
            "\nThe feed gives no items now: it is added all the same; `watchfloor feeds` will show its state."
        );
    }
    write_or_show(&path, &[new], args.dry_run)
}

/// Adds the OPML file's feeds that are not watched yet.
pub fn import(global: &GlobalArgs, args: &ImportArgs) -> anyhow::Result<u8> {
    let path = indicators_path(global);
    let indicators = load_indicators(global)?;
    let bytes = std::fs::read(&args.file)
        .map_err(|e| UsageError(format!("{}: {e}", args.file.display())))?;
    let outlines =
        feed_list::read_opml(&bytes, &args.file).map_err(|e| UsageError(e.to_string()))?;
    let mut taken: HashSet<String> = indicators.feeds.iter().map(|f| f.id.clone()).collect();
    let mut seen: HashSet<String> = indicators
        .feeds
        .iter()
        .map(|f| canonical_link(&f.url, None).unwrap_or_else(|| f.url.clone()))
        .collect();
    let mut new = Vec::new();
    let mut skipped = 0;
    for OpmlFeed { url, title, tags } in outlines {
        let key = canonical_link(&url, None);
        let Some(key) = key else {
            eprintln!(
                "watchfloor: warning: {}: skipped '{}': not an http or https address",
                args.file.display(),
                super::terminal_text(&url)
            );
            skipped += 1;
            continue;
        };
        if !seen.insert(key) {
            skipped += 1;
            continue;
        }
        let id = feed_list::feed_id_for(title.as_deref(), &url, &taken);
        taken.insert(id.clone());
        new.push(NewFeed {
            id,
            url,
            title,
            tags,
        });
    }
    println!(
        "{}: {} new feed{}, {skipped} skipped (already watched, repeated or unusable)",
        args.file.display(),
        new.len(),
        if new.len() == 1 { "" } else { "s" }
    );
    if new.is_empty() {
        return Ok(EXIT_OK);
    }
    write_or_show(&path, &new, args.dry_run)
}

/// Prints the feed list as OPML 2.0.
pub fn export(global: &GlobalArgs, args: &ExportArgs) -> anyhow::Result<u8> {
    let indicators = load_indicators(global)?;
    let opml = feed_list::write_opml(&indicators.feeds, "watchfloor feeds", Utc::now());
    match &args.output {
        Some(file) => crate::files::write_whole(file, opml.as_bytes(), None)
            .with_context(|| format!("writing {}", file.display()))?,
        None => print!("{opml}"),
    }
    Ok(EXIT_OK)
}

/// The id of the feed that already polls `url` (compared as canonical links, so a tracking
/// parameter or a trailing `#` does not make a second copy).
fn watched_as(indicators: &Indicators, url: &str) -> Option<String> {
    let key = canonical_link(url, None)?;
    indicators
        .feeds
        .iter()
        .find(|f| canonical_link(&f.url, None).as_deref() == Some(key.as_str()))
        .map(|f| f.id.clone())
}

fn check_id(id: &str, taken: &HashSet<String>) -> Result<(), UsageError> {
    let valid = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !valid {
        return Err(UsageError(format!(
            "invalid feed id '{id}': feed ids use lowercase letters, digits, '_' and '-'"
        )));
    }
    if taken.contains(id) {
        return Err(UsageError(format!("feed id '{id}' is taken")));
    }
    Ok(())
}

/// One fetch of `url` with the daemon's fetch settings (its limits, user agent and address
/// rules), then the parse stage, as a poll would do it.
fn fetch_and_parse(settings: &FetchSettings, url: &str) -> anyhow::Result<ParsedFeed> {
    let fetcher = Fetcher::new(settings)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcome = runtime
        .block_on(fetcher.fetch(url, &Validators::default()))
        .with_context(|| format!("fetching {url}"))?;
    let FetchOutcome::Fetched(body) = outcome else {
        anyhow::bail!("fetching {url}: the server answered 304 Not Modified to a first request");
    };
    let feed = crate::parse::parse_feed(&body.body, body.content_type.as_deref(), &body.final_url)
        .with_context(|| format!("reading {url}"))?;
    Ok(feed)
}

fn print_preview(indicators: &Indicators, url: &str, title: Option<&str>, feed: &ParsedFeed) {
    let safe = super::terminal_text;
    println!("feed:      {}", safe(url));
    println!("title:     {}", safe(title.unwrap_or("(none)")));
    println!("items:     {}", feed.items.len());
    for warning in &feed.warnings {
        println!("warning:   {}", safe(&warning.to_string()));
    }
    let mut latest: Vec<&ParsedItem> = feed.items.iter().collect();
    latest.sort_by_key(|i| std::cmp::Reverse(i.published.or(i.updated)));
    let mut langs: Vec<(String, u64)> = Vec::new();
    for item in &feed.items {
        let body = if item.summary.is_empty() {
            &item.content
        } else {
            &item.summary
        };
        let lang = crate::text::lang::detect(&item.title, body);
        let lang = crate::text::lang::stored(&lang).to_owned();
        match langs.iter_mut().find(|(l, _)| *l == lang) {
            Some((_, n)) => *n += 1,
            None => langs.push((lang, 1)),
        }
    }
    langs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    println!("languages: {}", crate::languages::shares(&langs));
    let blind = crate::languages::blind(&langs, indicators).describe();
    if blind != "-" {
        println!("blind:     {}", safe(&blind));
    }
    let matcher = &indicators.matcher;
    let mut scratch = matcher.scratch();
    let shown = latest.len().min(PREVIEW_ITEMS);
    println!("\nThe latest {shown} items, and the indicators they would hit:");
    let mut rows = Vec::new();
    for item in latest.into_iter().take(PREVIEW_ITEMS) {
        let hits: Vec<String> = super::matching::match_parsed(matcher, item, &mut scratch)
            .0
            .iter()
            .map(|hit| indicators.indicators[hit.indicator].id.clone())
            .collect();
        rows.push([
            item.published
                .or(item.updated)
                .map_or("-".to_owned(), |t| t.format("%Y-%m-%d").to_string()),
            if hits.is_empty() {
                "-".to_owned()
            } else {
                hits.join(", ")
            },
            item.title.clone(),
        ]);
    }
    super::feeds::print_table(&["date", "hits", "title"], &rows);
}

/// Appends `new` to the indicators file, or prints the YAML to paste when that cannot be
/// done safely (or `dry_run` asks not to).
fn write_or_show(path: &std::path::Path, new: &[NewFeed], dry_run: bool) -> anyhow::Result<u8> {
    let yaml = feed_list::yaml_items(new, "  ", "\n");
    if dry_run {
        println!(
            "\nWould add to {} (--dry-run: not written):\n{yaml}",
            path.display()
        );
        return Ok(EXIT_OK);
    }
    match feed_list::add_to_file(path, new) {
        Ok(()) => {
            let ids: Vec<&str> = new.iter().map(|f| f.id.as_str()).collect();
            println!(
                "\nAdded to {}: {}. A running daemon polls it after a reload (systemctl reload watchfloor, or SIGHUP).",
                path.display(),
                ids.join(", ")
            );
            Ok(EXIT_OK)
        }
        Err(error) => {
            eprintln!("watchfloor: {error}");
            println!(
                "\nNot written. Paste this under `feeds:` in {}:\n{yaml}",
                path.display()
            );
            Ok(EXIT_FINDINGS)
        }
    }
}
