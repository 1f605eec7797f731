//! `watchfloor hits`, `watchfloor triage` and `watchfloor export-labels`: the hit log on the
//! command line, reviewers' verdicts, and those verdicts as a labelled set for `eval`.

use std::io::Write;
use std::path::PathBuf;

use chrono::Utc;
use clap::{Args, ValueEnum};
use serde::Serialize;

use super::feeds::print_table;
use super::{EXIT_FINDINGS, EXIT_OK, GlobalArgs, UsageError, load_settings, parse_date};
use crate::store::{
    HitFilter, HitRow, LOCAL, NewVerdict, Recorded, Store, TriageFilter, Verdict, fts_query,
    search_notes,
};

#[derive(Debug, Args)]
pub struct HitsArgs {
    /// Only hits of this indicator
    #[arg(long, value_name = "ID")]
    pub indicator: Option<String>,
    /// Only hits whose story this feed reported
    #[arg(long, value_name = "ID")]
    pub feed: Option<String>,
    /// Recorded on or after (2026-11-01 or RFC 3339)
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Recorded before; a bare date includes that whole day
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// A search in the rule language: words (all required), prefix*, "a phrase", AND, OR,
    /// NOT, NEAR/n, title:...; see the README's "Search syntax"
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Only hits with this verdict (or none yet)
    #[arg(long, value_enum, value_name = "VERDICT")]
    pub triage: Option<TriageArg>,
    /// At most this many, newest first
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TriageArg {
    Relevant,
    FalsePositive,
    Duplicate,
    Untriaged,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Jsonl,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum VerdictArg {
    Relevant,
    FalsePositive,
    /// Another report of an earlier hit, named with --of
    Duplicate,
}

#[derive(Debug, Args)]
pub struct TriageArgs {
    /// The hit to judge (see `watchfloor hits`, or `--next`)
    #[arg(required_unless_present = "next")]
    pub hit: Option<i64>,
    /// Print the oldest hit nobody has judged yet (not folded, not retracted) and how many
    /// wait; exit 1 when none is left
    #[arg(long, conflicts_with_all = ["hit", "verdict", "of", "note"])]
    pub next: bool,
    #[arg(long, value_enum, required_unless_present = "next")]
    pub verdict: Option<VerdictArg>,
    /// The earlier hit this one repeats (with --verdict duplicate)
    #[arg(long, value_name = "HIT")]
    pub of: Option<i64>,
    /// Why, for the record (at most 2000 characters)
    #[arg(long)]
    pub note: Option<String>,
}

/// A note longer than this is refused on the command line (the web cuts it): a verdict's
/// reason, not an essay.
pub const NOTE_MAX: usize = 2000;

#[derive(Debug, Args)]
pub struct ExportLabelsArgs {
    /// Where to write the labelled items (JSON lines, as `watchfloor eval` reads them)
    pub file: PathBuf,
}

/// Every field of a hit, for export; its fields in [`CSV_COLUMNS`] order.
#[derive(Serialize)]
struct ExportedHit<'a> {
    hit_id: i64,
    created_at: String,
    indicator: &'a str,
    score: f64,
    title: &'a str,
    /// ISO 639-1, `und` when the text did not say, empty for items stored before languages
    /// were identified.
    lang: &'a str,
    link: &'a str,
    feed: &'a str,
    sources: String,
    published: String,
    first_seen: String,
    alert_status: &'a str,
    triage: &'a str,
    triage_note: &'a str,
    /// Who gave the current verdict.
    triage_by: &'a str,
    /// For a duplicate, the hit it repeats.
    duplicate_of: String,
    /// The story's first report, when story folding joined this hit to it.
    folded_into: String,
    definition_hash: &'a str,
    origin: &'a str,
    /// When a replay found the rules no longer make this hit; empty while it stands.
    retracted_at: String,
    /// The indicator's definition hash that no longer makes it.
    retracted_by: &'a str,
    /// The evidence JSON, as stored.
    evidence: &'a str,
}

fn exported(hit: &HitRow) -> ExportedHit<'_> {
    let time = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    ExportedHit {
        hit_id: hit.hit_id,
        created_at: time(hit.created_at),
        indicator: &hit.indicator_id,
        score: hit.score,
        title: &hit.title,
        lang: hit.lang.as_deref().unwrap_or(""),
        link: hit.link.as_deref().unwrap_or(""),
        feed: &hit.feed_id,
        sources: hit.sources.join(" "),
        published: hit.published.map(time).unwrap_or_default(),
        first_seen: time(hit.first_seen),
        alert_status: hit.alert_status.as_deref().unwrap_or(""),
        triage: hit.triage.as_ref().map_or("", |t| t.verdict.as_str()),
        triage_note: hit.triage.as_ref().map_or("", |t| t.note.as_str()),
        triage_by: hit.triage.as_ref().map_or("", |t| t.by.as_str()),
        duplicate_of: hit
            .triage
            .as_ref()
            .and_then(|t| t.duplicate_of)
            .map(|id| id.to_string())
            .unwrap_or_default(),
        folded_into: hit.folded_into.map(|id| id.to_string()).unwrap_or_default(),
        definition_hash: &hit.definition_hash,
        origin: &hit.origin,
        retracted_at: hit
            .retracted
            .as_ref()
            .map(|r| time(r.at))
            .unwrap_or_default(),
        retracted_by: hit.retracted.as_ref().map_or("", |r| r.by.as_str()),
        evidence: &hit.evidence,
    }
}

/// One hit as a JSON line, for tools: nested where the data is (evidence an object, sources
/// an array, triage and retraction an object or null), and null for what is absent, where the
/// CSV, which must stay flat, writes an empty cell.
fn json_line(hit: &HitRow) -> serde_json::Value {
    use serde_json::{Value, json};
    let time = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let evidence = match serde_json::from_str::<Value>(&hit.evidence) {
        Ok(evidence) => evidence,
        Err(error) => {
            // The stored text is kept beside the reason, rather than dropped as "no evidence".
            tracing::warn!(hit = hit.hit_id, %error, "stored evidence is not JSON");
            json!({ "unreadable": hit.evidence, "error": error.to_string() })
        }
    };
    json!({
        "hit_id": hit.hit_id,
        "created_at": time(hit.created_at),
        "indicator": hit.indicator_id,
        "score": hit.score,
        "title": hit.title,
        "lang": hit.lang.as_deref().filter(|l| !l.is_empty()),
        "link": hit.link,
        "feed": hit.feed_id,
        "sources": hit.sources,
        "published": hit.published.map(time),
        "first_seen": time(hit.first_seen),
        "alert_status": hit.alert_status,
        "triage": hit.triage.as_ref().map(|t| json!({
            "verdict": t.verdict.as_str(),
            "note": t.note,
            "at": time(t.at),
            "by": t.by,
            "duplicate_of": t.duplicate_of,
        })),
        "folded_into": hit.folded_into,
        "definition_hash": hit.definition_hash,
        "origin": hit.origin,
        "retracted": hit.retracted.as_ref().map(|r| json!({ "at": time(r.at), "by": r.by })),
        "evidence": evidence,
    })
}

impl ExportedHit<'_> {
    /// The row in [`CSV_COLUMNS`] order, each text cell made inert for a spreadsheet.
    fn csv_cells(&self) -> [String; 22] {
        let text = |value: &str| spreadsheet_inert(value).into_owned();
        [
            self.hit_id.to_string(),
            self.created_at.clone(),
            text(self.indicator),
            format!("{:?}", self.score),
            text(self.title),
            text(self.lang),
            text(self.link),
            text(self.feed),
            text(&self.sources),
            self.published.clone(),
            self.first_seen.clone(),
            text(self.alert_status),
            text(self.triage),
            text(self.triage_note),
            text(self.triage_by),
            self.duplicate_of.clone(),
            self.folded_into.clone(),
            text(self.definition_hash),
            text(self.origin),
            self.retracted_at.clone(),
            text(self.retracted_by),
            text(self.evidence),
        ]
    }
}

/// An indicator or feed id that nothing knows is a typo, not a filter that matched nothing:
/// "0 of 0" would read as "nothing happened". Known are the ids of the rules in force, and
/// those the database holds (an indicator since retired still has its hits).
fn check_filter_ids(global: &GlobalArgs, store: &Store, filter: &HitFilter) -> anyhow::Result<()> {
    use std::collections::BTreeSet;
    if let Some(wanted) = &filter.indicator {
        let mut known: BTreeSet<String> = store
            .hits_by_indicator()?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        if let Ok(rules) = super::load_indicators(global) {
            known.extend(rules.indicators.iter().map(|i| i.id.clone()));
        }
        if !known.contains(wanted) {
            return Err(UsageError(unknown_id("indicator", wanted, &known)).into());
        }
    }
    if let Some(wanted) = &filter.feed {
        let known: BTreeSet<String> = store.feed_states()?.into_iter().map(|f| f.id).collect();
        if !known.contains(wanted) {
            return Err(UsageError(unknown_id("feed", wanted, &known)).into());
        }
    }
    Ok(())
}

fn unknown_id(what: &str, wanted: &str, known: &std::collections::BTreeSet<String>) -> String {
    let listed: Vec<&str> = known.iter().map(String::as_str).collect();
    format!(
        "unknown {what} '{}' (known: {})",
        super::terminal_text(wanted),
        if listed.is_empty() {
            "none yet".to_owned()
        } else {
            listed.join(", ")
        }
    )
}

/// `value`, with a `'` before it when a spreadsheet would read it as a formula: feed titles
/// are written by strangers, and a title such as `=HYPERLINK(...)` opened from a CSV export
/// must stay text.
fn spreadsheet_inert(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r', '\n']) {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

/// `--until 2026-11-30` means up to the end of that day.
fn until(text: &str) -> Result<chrono::DateTime<Utc>, UsageError> {
    let at = parse_date(text)?;
    let date_only = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok();
    Ok(if date_only {
        at + chrono::Duration::days(1)
    } else {
        at
    })
}

pub fn hits(global: &GlobalArgs, args: &HitsArgs) -> anyhow::Result<u8> {
    let settings = load_settings(global)?;
    let store = Store::open_read_only(&settings.database)?;
    // A search that does not compile is the reviewer's to fix: said with its place, exit 2.
    if let Some(search) = &args.search {
        fts_query(search).map_err(|e| UsageError(format!("--search: {e}")))?;
        for note in search_notes(search) {
            eprintln!("note: --search: {note}");
        }
    }
    let filter = HitFilter {
        indicator: args.indicator.clone(),
        feed: args.feed.clone(),
        since: args.since.as_deref().map(parse_date).transpose()?,
        until: args.until.as_deref().map(until).transpose()?,
        search: args.search.clone(),
        triage: match args.triage {
            None => TriageFilter::Any,
            Some(TriageArg::Untriaged) => TriageFilter::Untriaged,
            Some(TriageArg::Relevant) => TriageFilter::Verdict(Verdict::Relevant),
            Some(TriageArg::FalsePositive) => TriageFilter::Verdict(Verdict::FalsePositive),
            Some(TriageArg::Duplicate) => TriageFilter::Verdict(Verdict::Duplicate),
        },
        skip_duplicates: false,
        around: None,
        limit: args.limit,
        offset: 0,
    };
    check_filter_ids(global, &store, &filter)?;
    let (hits, total) = store.hits_page(&filter)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        Format::Jsonl => {
            for hit in &hits {
                serde_json::to_writer(&mut out, &json_line(hit))?;
                writeln!(out)?;
            }
        }
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            // The header even without rows: it tells a script which columns to expect.
            writer.write_record(CSV_COLUMNS)?;
            for hit in &hits {
                writer.write_record(exported(hit).csv_cells())?;
            }
            writer.flush()?;
        }
        Format::Table => {
            let rows: Vec<[String; 8]> = hits
                .iter()
                .map(|hit| {
                    [
                        hit.hit_id.to_string(),
                        hit.created_at.format("%Y-%m-%d %H:%M").to_string(),
                        hit.indicator_id.clone(),
                        hit.lang_shown().to_owned(),
                        hit.sources.join(","),
                        hit.alert_status.clone().unwrap_or_else(|| "-".into()),
                        match (&hit.triage, hit.folded_into) {
                            (Some(t), _) => match t.duplicate_of {
                                Some(original) => format!("duplicate of {original}"),
                                None => t.verdict.as_str().to_owned(),
                            },
                            (None, Some(first)) => format!("folded into {first}"),
                            (None, None) => "-".to_owned(),
                        },
                        match &hit.retracted {
                            Some(_) => format!("(retracted) {}", hit.title),
                            None => hit.title.clone(),
                        },
                    ]
                })
                .collect();
            print_table(
                &[
                    "hit",
                    "seen",
                    "indicator",
                    "lang",
                    "sources",
                    "alert",
                    "triage",
                    "title",
                ],
                &rows,
            );
            drop(out);
            println!("{} of {total} matching hits", hits.len());
        }
    }
    Ok(EXIT_OK)
}

const CSV_COLUMNS: [&str; 22] = [
    "hit_id",
    "created_at",
    "indicator",
    "score",
    "title",
    "lang",
    "link",
    "feed",
    "sources",
    "published",
    "first_seen",
    "alert_status",
    "triage",
    "triage_note",
    "triage_by",
    "duplicate_of",
    "folded_into",
    "definition_hash",
    "origin",
    "retracted_at",
    "retracted_by",
    "evidence",
];

pub fn triage(global: &GlobalArgs, args: &TriageArgs) -> anyhow::Result<u8> {
    let settings = load_settings(global)?;
    if args.next {
        let store = Store::open_read_only(&settings.database)?;
        return next_in_queue(global, &store);
    }
    let (Some(hit), Some(verdict)) = (args.hit, args.verdict) else {
        return Err(UsageError("give a hit and --verdict, or --next".to_owned()).into());
    };
    let verdict = match verdict {
        VerdictArg::Relevant => Verdict::Relevant,
        VerdictArg::FalsePositive => Verdict::FalsePositive,
        VerdictArg::Duplicate => Verdict::Duplicate,
    };
    match (verdict, args.of) {
        (Verdict::Duplicate, None) => {
            return Err(UsageError(format!(
                "hit {hit}: --verdict duplicate needs --of HIT, the earlier hit it repeats"
            ))
            .into());
        }
        (Verdict::Relevant | Verdict::FalsePositive, Some(_)) => {
            return Err(UsageError(format!(
                "hit {hit}: --of names the original of a duplicate; use it with --verdict \
                 duplicate"
            ))
            .into());
        }
        _ => {}
    }
    let note = args.note.as_deref().unwrap_or("").trim();
    if note.chars().count() > NOTE_MAX {
        return Err(UsageError(format!(
            "hit {hit}: the note has {} characters; at most {NOTE_MAX}",
            note.chars().count()
        ))
        .into());
    }
    let mut store = Store::open(&settings.database)?;
    let given = NewVerdict {
        verdict,
        duplicate_of: args.of,
        note: note.to_owned(),
        by: LOCAL.to_owned(),
    };
    let refusal = match store.record_verdict(hit, &given, Utc::now())? {
        Recorded::Recorded => None,
        Recorded::NoSuchHit => Some(format!("hit {hit}: no such hit (see `watchfloor hits`)")),
        Recorded::NoSuchOriginal => Some(format!(
            "hit {hit}: --of {}: no such hit (see `watchfloor hits`)",
            args.of.unwrap_or_default()
        )),
        Recorded::OwnDuplicate => Some(format!("hit {hit}: a hit cannot duplicate itself")),
        Recorded::OriginalMismatch => Some(format!(
            "hit {hit}: only a duplicate names an original (--of)"
        )),
    };
    if let Some(refusal) = refusal {
        return Err(UsageError(refusal).into());
    }
    match args.of {
        Some(original) => println!("hit {hit}: duplicate of hit {original}"),
        None => println!("hit {hit}: {}", verdict.as_str()),
    }
    let (_, waiting) = store.queue_head()?;
    println!("{waiting} untriaged hits wait (`watchfloor triage --next`)");
    Ok(EXIT_OK)
}

/// Prints the oldest untriaged hit with what a reviewer needs to judge it; exit 1 when the
/// queue is empty, so a script can loop until it is.
fn next_in_queue(global: &GlobalArgs, store: &Store) -> anyhow::Result<u8> {
    let (head, waiting) = store.queue_head()?;
    let Some(detail) = head.map(|id| store.hit_detail(id)).transpose()?.flatten() else {
        println!("no untriaged hits: the queue is empty");
        return Ok(EXIT_FINDINGS);
    };
    let hit = &detail.row;
    let rules = super::load_indicators(global).ok();
    let rule = rules
        .as_ref()
        .and_then(|r| r.indicators.iter().find(|i| i.id == hit.indicator_id));
    let text = super::terminal_text;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "hit {}  ({waiting} untriaged, oldest first)",
        hit.hit_id
    )?;
    writeln!(
        out,
        "  indicator  {} · {} · {}",
        text(&hit.indicator_id),
        rule.map_or("(no longer in the rules)".to_owned(), |r| text(&r.title)),
        rule.map_or("unknown", |r| r.severity.as_str()),
    )?;
    writeln!(
        out,
        "  recorded   {}",
        hit.created_at.format("%Y-%m-%d %H:%M UTC")
    )?;
    writeln!(out, "  feed       {}", text(&hit.sources.join(", ")))?;
    writeln!(out, "  language   {}", hit.lang_shown())?;
    writeln!(out, "  title      {}", text(&hit.title))?;
    if let Some(link) = &hit.link {
        writeln!(out, "  link       {}", text(link))?;
    }
    let evidence = crate::matcher::Evidence::from_stored(&hit.evidence).ok();
    if let Some(snippet) = evidence.as_ref().and_then(|e| e.snippet.as_ref()) {
        // Matched terms between [ and ], as the web page marks them.
        let marked: String = snippet
            .segments()
            .iter()
            .map(|s| {
                if s.marked {
                    format!("[{}]", s.text)
                } else {
                    s.text.clone()
                }
            })
            .collect();
        writeln!(out, "  snippet    {}", text(&marked))?;
    }
    writeln!(
        out,
        "judge it: watchfloor triage {id} --verdict relevant|false-positive|duplicate \
         [--of HIT] [--note TEXT]",
        id = hit.hit_id
    )?;
    Ok(EXIT_OK)
}

/// One line of the labelled set, as `eval` reads it.
#[derive(Serialize)]
struct LabelLine<'a> {
    id: String,
    title: &'a str,
    summary: &'a str,
    labels: Vec<&'a str>,
    /// The stored language, so `eval` scores per language without detecting it again;
    /// absent when none was identified.
    #[serde(skip_serializing_if = "Option::is_none")]
    lang: Option<&'a str>,
}

pub fn export_labels(global: &GlobalArgs, args: &ExportLabelsArgs) -> anyhow::Result<u8> {
    let settings = load_settings(global)?;
    let store = Store::open_read_only(&settings.database)?;
    let triaged = store.triaged_items()?;
    // A duplicate judges no rule: its item, left in the set without the indicator's label,
    // would read as a negative for it. Such items stay out whole, since a line's labels
    // speak for every indicator.
    let (repeats, items): (Vec<_>, Vec<_>) = triaged
        .iter()
        .partition(|item| item.verdicts.iter().any(|(_, v)| *v == Verdict::Duplicate));
    let mut text = String::new();
    for item in &items {
        // A false positive is a labelled negative for its indicator: the item stays in the
        // set without that label, so a rule change that fires on it again is caught.
        let labels = item
            .verdicts
            .iter()
            .filter(|(_, v)| *v == Verdict::Relevant)
            .map(|(indicator, _)| indicator.as_str())
            .collect();
        let summary = if item.summary.is_empty() {
            &item.content
        } else {
            &item.summary
        };
        let line = LabelLine {
            id: format!("item-{}", item.item_id),
            title: &item.title,
            summary,
            labels,
            lang: item
                .lang
                .as_deref()
                .filter(|l| *l != crate::text::lang::UNDETERMINED),
        };
        text.push_str(&serde_json::to_string(&line)?);
        text.push('\n');
    }
    std::fs::write(&args.file, text)
        .map_err(|e| UsageError(format!("{}: cannot write: {e}", args.file.display())))?;
    println!(
        "{} triaged items written to {} (check them with `watchfloor eval {}`); {} left out \
         as duplicates or folded repeats",
        items.len(),
        args.file.display(),
        args.file.display(),
        repeats.len()
    );
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::spreadsheet_inert;

    #[test]
    fn cells_a_spreadsheet_would_run_are_made_text() {
        for formula in ["=1+1", "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "\n=1"] {
            assert_eq!(spreadsheet_inert(formula), format!("'{formula}"));
        }
        for text in ["North Korea", "", "1-2", " =1", "'quoted"] {
            assert_eq!(spreadsheet_inert(text), text);
        }
    }
}
