//! `watchfloor feeds`: the health of every feed, from the database; `feeds add`, `import` and
//! `export` edit and share the list ([`super::feed_list`]).

use chrono::Utc;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use super::{EXIT_OK, GlobalArgs, feed_list, load_indicators, load_settings};
use crate::app::App;
use crate::config::Settings;
use crate::languages;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct FeedsArgs {
    #[command(subcommand)]
    pub action: Option<FeedsAction>,
    /// Output format of the health report
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for a terminal
    Table,
    /// One JSON document, for scripts
    Json,
}

#[derive(Debug, Subcommand)]
pub enum FeedsAction {
    /// Fetch a feed, preview its items and the hits they would make, and add it to
    /// indicators.yaml (keeping the file's comments and layout)
    Add(feed_list::AddArgs),
    /// Add the feeds of an OPML file (a feed reader's export) that are not watched yet
    Import(feed_list::ImportArgs),
    /// Print the feed list as OPML 2.0, for feed readers
    Export(feed_list::ExportArgs),
}

pub fn run(global: &GlobalArgs, args: &FeedsArgs) -> anyhow::Result<u8> {
    match &args.action {
        Some(FeedsAction::Add(add)) => return feed_list::add(global, add),
        Some(FeedsAction::Import(import)) => return feed_list::import(global, import),
        Some(FeedsAction::Export(export)) => return feed_list::export(global, export),
        None => {}
    }
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
    if args.format == Format::Json {
        let feeds: Vec<serde_json::Value> = states
            .iter()
            .map(|state| {
                let configured = indicators.feeds.iter().find(|f| f.id == state.id);
                let enabled = configured.is_some_and(|f| f.enabled);
                let langs = languages.get(&state.id).map(Vec::as_slice).unwrap_or(&[]);
                let blind = languages::blind(langs, &indicators);
                json!({
                    "id": state.id,
                    "title": configured.and_then(|f| f.title.clone()).or_else(|| state.title.clone()),
                    "url": state.url,
                    "enabled": enabled,
                    "status": state.status(enabled),
                    "last_attempt": state.last_attempt.map(|t| t.to_rfc3339()),
                    "last_success": state.last_success.map(|t| t.to_rfc3339()),
                    "consecutive_failures": state.consecutive_failures,
                    "next_check": state.next_check.map(|t| t.to_rfc3339()),
                    "last_error": state.last_error,
                    "warning": state.warning_kind.as_ref().map(|kind| json!({
                        "kind": kind,
                        "message": state.warning,
                    })),
                    "items": state.items,
                    "hits": state.hits,
                    "languages": langs.iter().map(|(lang, n)| (lang.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
                    "blind": {
                        "items": blind.items,
                        "languages": blind.by_language.iter().map(|b| json!({
                            "lang": b.lang,
                            "items": b.items,
                            "indicators": b.indicators,
                        })).collect::<Vec<_>>(),
                    },
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "feeds": feeds }))?
        );
        return Ok(EXIT_OK);
    }
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

/// Prints rows as aligned columns, the last one cut to the terminal's width. Feed text is
/// written by strangers: a cell's control characters become spaces and bidi controls go, so no
/// title can move the cursor, rewrite the line or reorder what is shown. Widths are display
/// columns (a Hangul or Han character takes two); a cut cell ends with `…`. The width is
/// `$COLUMNS`, else the terminal's; output to a pipe or file is never cut.
pub fn print_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) {
    use std::io::IsTerminal;
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .or_else(|| {
            std::io::stdout()
                .is_terminal()
                .then(terminal_columns)
                .flatten()
        });
    for line in table_lines(header, rows, width) {
        println!("{line}");
    }
}

/// The lines of [`print_table`], the last column cut to fit `width` columns when given.
pub fn table_lines<const N: usize>(
    header: &[&str; N],
    rows: &[[String; N]],
    width: Option<usize>,
) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let clean = |cell: &str| crate::cli::terminal_text(cell);
    let header: Vec<String> = header.iter().map(|h| clean(h)).collect();
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|c| clean(c)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate().take(N - 1) {
            widths[i] = widths[i].max(cell.width());
        }
    }
    let used: usize = widths[..N - 1].iter().map(|w| w + 2).sum();
    let last = width.map(|width| width.saturating_sub(used).max(12));
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == N - 1 {
                match last {
                    Some(last) => out.push_str(&cut_to_width(cell, last)),
                    None => out.push_str(cell),
                }
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(widths[i] - cell.width() + 2));
            }
        }
        out.trim_end().to_owned()
    };
    std::iter::once(line(&header))
        .chain(rows.iter().map(|row| line(row)))
        .collect()
}

/// `text` in at most `columns` display columns, ending with `…` when cut.
fn cut_to_width(text: &str, columns: usize) -> String {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    if text.width() <= columns {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > columns {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// The terminal's width in columns, when stdout is one.
fn terminal_columns() -> Option<usize> {
    // SAFETY: TIOCGWINSZ fills the winsize it is given, and touches nothing else.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0).then_some(usize::from(size.ws_col))
}

#[cfg(test)]
mod table_tests {
    use super::table_lines;

    #[test]
    fn cells_cannot_move_the_cursor_and_wide_text_is_measured_in_columns() {
        let rows = [
            [
                "1".to_owned(),
                "북한 정찰위성 발사 준비 정황이 포착됐다".to_owned(),
            ],
            [
                "2".to_owned(),
                "line one\nline two\r\u{1b}[2Jcleared \u{202e}txt.exe".to_owned(),
            ],
        ];
        let lines = table_lines(&["id", "title"], &rows, Some(20));
        assert_eq!(lines.len(), 3);
        // "id  " takes 4 columns; the title gets the rest of 20... but never under 12.
        let korean = &lines[1];
        assert!(korean.ends_with('…'), "{korean}");
        assert!(
            unicode_width::UnicodeWidthStr::width(korean.as_str()) <= 20,
            "{korean}"
        );
        let hostile = &lines[2];
        assert!(
            !hostile.contains(['\n', '\r', '\u{1b}', '\u{202e}']),
            "{hostile:?}"
        );
        // Uncut when there is no width (a pipe).
        let whole = table_lines(&["id", "title"], &rows, None);
        assert!(whole[1].ends_with("포착됐다"), "{}", whole[1]);
        assert!(whole[2].contains("txt.exe"));
    }
}
