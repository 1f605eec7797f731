//! `watchfloor replay`: what the current rules would add to the hit log, and which of its hits
//! they no longer make. Those are retracted, never deleted: a hit, with its alerts, delivery
//! record and triage, is the reviewers' record of what was seen and sent.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;

use chrono::Utc;
use clap::Args;

use super::{EXIT_OK, GlobalArgs, load_indicators, load_settings, parse_date};
use crate::matcher::ItemText;
use crate::store::{HitRecord, Retraction, Store};

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Only items first seen on or after this date (2026-11-01 or RFC 3339)
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Record the differences: add the new hits (they never alert), mark the hits the rules
    /// no longer make as retracted (never deleted), and let retracted hits the rules make
    /// again stand again
    #[arg(long)]
    pub apply: bool,
}

pub fn run(global: &GlobalArgs, args: &ReplayArgs) -> anyhow::Result<u8> {
    let since = args.since.as_deref().map(parse_date).transpose()?;
    let settings = load_settings(global)?;
    let indicators = load_indicators(global)?;
    let mut store = Store::open(&settings.database)?;
    let items = store.items_since(since)?;
    let stored = store.hits_since(since)?;
    let defined: HashSet<&str> = indicators
        .indicators
        .iter()
        .map(|i| i.id.as_str())
        .collect();
    let mut existing: HashMap<(i64, &str), i64> = HashMap::new();
    let mut orphaned = 0;
    for hit in &stored {
        if defined.contains(hit.indicator_id.as_str()) {
            existing.insert((hit.item_id, hit.indicator_id.as_str()), hit.id);
        } else {
            orphaned += 1;
        }
    }

    let progress = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(items.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} items, {per_sec}, {eta}")
                .expect("valid template"),
        );
        bar
    });
    let matcher = &indicators.matcher;
    let mut scratch = matcher.scratch();
    let mut added = Vec::new();
    let mut kept: HashSet<i64> = HashSet::new();
    let mut titles: HashMap<i64, &str> = HashMap::new();
    for item in &items {
        let text = ItemText {
            title: &item.title,
            summary: &item.summary,
            content: &item.content,
            author: &item.authors,
            category: &item.categories,
            link: item.link.as_deref().unwrap_or(""),
        };
        for hit in matcher.match_item(&text, &mut scratch) {
            let indicator = &indicators.indicators[hit.indicator];
            match existing.get(&(item.id, indicator.id.as_str())) {
                Some(hit_id) => {
                    kept.insert(*hit_id);
                }
                None => {
                    titles.insert(item.id, &item.title);
                    added.push((
                        item.id,
                        HitRecord {
                            indicator_id: indicator.id.clone(),
                            score: hit.score,
                            evidence: serde_json::to_string(&hit.evidence)?,
                            definition_hash: indicator.definition_hash.clone(),
                            // Replayed hits never alert: they are old news.
                            route: None,
                            fingerprint: None,
                        },
                    ));
                }
            }
        }
        if let Some(bar) = &progress {
            bar.inc(1);
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let item_titles: HashMap<i64, &str> = items.iter().map(|i| (i.id, i.title.as_str())).collect();
    let removed: Vec<&crate::store::StoredHit> = stored
        .iter()
        .filter(|h| {
            defined.contains(h.indicator_id.as_str()) && !kept.contains(&h.id) && !h.retracted
        })
        .collect();
    let restored: Vec<&crate::store::StoredHit> = stored
        .iter()
        .filter(|h| h.retracted && kept.contains(&h.id))
        .collect();
    let definition_of: HashMap<&str, &str> = indicators
        .indicators
        .iter()
        .map(|i| (i.id.as_str(), i.definition_hash.as_str()))
        .collect();
    for (item_id, hit) in &added {
        println!(
            "+ {} item {item_id}: {}",
            hit.indicator_id,
            super::terminal_text(titles[item_id])
        );
    }
    for hit in &removed {
        println!(
            "- {} item {} (hit {}): {}",
            hit.indicator_id,
            hit.item_id,
            hit.id,
            super::terminal_text(item_titles.get(&hit.item_id).unwrap_or(&""))
        );
    }
    for hit in &restored {
        println!(
            "= {} item {} (hit {}, retracted): {}",
            hit.indicator_id,
            hit.item_id,
            hit.id,
            super::terminal_text(item_titles.get(&hit.item_id).unwrap_or(&""))
        );
    }
    println!(
        "{} items replayed: {} hits would be added, {} retracted, {} stand again, {} unchanged{}",
        items.len(),
        added.len(),
        removed.len(),
        restored.len(),
        kept.len() - restored.len(),
        if orphaned > 0 {
            format!(", {orphaned} kept from indicators no longer defined")
        } else {
            String::new()
        }
    );
    if args.apply {
        let mut with_feed = Vec::with_capacity(added.len());
        for (item_id, hit) in added {
            let feed = store.first_source(item_id)?.unwrap_or_default();
            with_feed.push((item_id, feed, hit));
        }
        let retractions: Vec<Retraction> = removed
            .iter()
            .map(|h| Retraction {
                hit_id: h.id,
                by: definition_of[h.indicator_id.as_str()].to_owned(),
            })
            .collect();
        let restored_ids: Vec<i64> = restored.iter().map(|h| h.id).collect();
        store.apply_replay(&with_feed, &retractions, &restored_ids, Utc::now())?;
        println!("applied");
    }
    Ok(EXIT_OK)
}
