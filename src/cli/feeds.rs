//! `watchfloor feeds`: the health of every feed, from the database.

use chrono::Utc;
use clap::Args;

use super::{EXIT_OK, GlobalArgs, load_indicators, load_settings};
use crate::app::App;
use crate::config::Settings;
use crate::languages;

#[derive(Debug, Args)]
pub struct FeedsArgs {}

pub fn run(global: &GlobalArgs, _args: &FeedsArgs) -> anyhow::Result<u8> {
    // A daemon may be running: its listener keeps the port.
    let settings = Settings {
        http_listen: None,
        ..load_settings(global)?
    };
    let app = App::build(settings, load_indicators(global)?)?;
    let indicators = app.context().indicators.clone();
    let (states, languages) = app
        .db()
        .read_blocking(|store| Ok((store.feed_states()?, store.feed_languages()?)))?;
    let now = Utc::now();
    let rows: Vec<[String; 8]> = states
        .into_iter()
        .map(|state| {
            let enabled = indicators
                .feeds
                .iter()
                .find(|f| f.id == state.id)
                .is_some_and(|f| f.enabled);
            let status = state.status(enabled);
            let last_success = state.last_success_ago(now);
            let problem = state.problem().unwrap_or_default();
            [
                state.id,
                status.to_owned(),
                last_success,
                state.consecutive_failures.to_string(),
                state
                    .next_check
                    .map_or("-".to_owned(), |t| t.format("%Y-%m-%d %H:%M").to_string()),
                state.items.to_string(),
                state.hits.to_string(),
                problem,
            ]
        })
        .collect();
    print_table(
        &[
            "feed",
            "status",
            "last success",
            "failures",
            "next check",
            "items",
            "hits",
            "last error or warning",
        ],
        &rows,
    );
    // Languages get their own table: the health table is wide already, and a blind spot is
    // a question for the rules' authors, not for whoever keeps the feeds up.
    let rows: Vec<[String; 3]> = languages
        .iter()
        .map(|(feed, langs)| {
            [
                feed.clone(),
                languages::shares(langs),
                languages::blind(langs, &indicators).describe(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        println!();
        print_table(&["feed", "languages", "blind"], &rows);
    }
    Ok(EXIT_OK)
}

/// Prints aligned columns; the last column (free text) is cut to the terminal's width.
pub fn print_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) {
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(120);
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(N - 1) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let used: usize = widths[..N - 1].iter().map(|w| w + 2).sum();
    let last = width.saturating_sub(used).max(12);
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == N - 1 {
                out.extend(cell.chars().take(last));
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}
