//! `watchfloor eval`: precision, recall and F1 of the indicators on labelled items.

use std::path::PathBuf;

use clap::Args;

use super::{EXIT_OK, GlobalArgs, explain, load_indicators};
use crate::config::Indicator;
use crate::eval::{Mistake, evaluate, read_labeled};
use crate::matcher::{Explanation, ItemText};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// JSONL file, one item a line: {"id", "title", "summary", "labels": [indicator ids]},
    /// optionally "lang" (ISO 639-1; detected when absent)
    #[arg(value_name = "LABELED.jsonl")]
    pub file: PathBuf,
    /// Print one JSON object instead of a table
    #[arg(long)]
    pub json: bool,
    /// List every false positive and false negative
    #[arg(long)]
    pub show_errors: bool,
    /// With --show-errors: explain each error for the indicator concerned (the query tree,
    /// the boosts, the score against min_score)
    #[arg(long, requires = "show_errors")]
    pub explain: bool,
}

pub fn run(global: &GlobalArgs, args: &EvalArgs) -> anyhow::Result<u8> {
    let indicators = load_indicators(global)?;
    let items = read_labeled(&args.file, &indicators)?;
    let report = evaluate(&indicators, &items);
    // The item and indicator of a mistake, explained; only when asked, since it scans again.
    let explain_mistake = |mistake: &Mistake| -> Option<(&Indicator, Explanation)> {
        if !args.explain {
            return None;
        }
        let item = items.iter().find(|i| i.line == mistake.line)?;
        let index = indicators.position(&mistake.indicator)?;
        let text = ItemText {
            title: &item.title,
            summary: &item.summary,
            ..ItemText::default()
        };
        Some((
            &indicators.indicators[index],
            indicators.matcher.explain(&text, index),
        ))
    };
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        if args.show_errors {
            let mut errors = Vec::with_capacity(report.mistakes.len());
            for mistake in &report.mistakes {
                let mut error = serde_json::to_value(mistake)?;
                if let Some((indicator, explanation)) = explain_mistake(mistake) {
                    error["explanation"] = explain::to_json(indicator, &explanation);
                }
                errors.push(error);
            }
            value["errors"] = serde_json::Value::Array(errors);
        }
        println!("{}", serde_json::to_string(&value)?);
        return Ok(EXIT_OK);
    }
    println!("{} items from {}", report.items, args.file.display());
    let width = report
        .indicators
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(5)
        .max(5);
    println!(
        "{:width$}  {:>4} {:>4} {:>4}  {:>9} {:>6} {:>6}",
        "indicator", "tp", "fp", "fn", "precision", "recall", "f1"
    );
    for (id, s) in &report.indicators {
        println!(
            "{id:width$}  {:>4} {:>4} {:>4}  {:>9.3} {:>6.3} {:>6.3}",
            s.tp, s.fp, s.fn_, s.precision, s.recall, s.f1
        );
    }
    let m = report.macro_avg;
    println!(
        "{:width$}  {:>4} {:>4} {:>4}  {:>9.3} {:>6.3} {:>6.3}",
        "macro", "", "", "", m.precision, m.recall, m.f1
    );
    println!();
    println!(
        "by language ({}), every indicator counted together",
        report.languages_from
    );
    println!(
        "{:width$}  {:>5} {:>4} {:>4} {:>4}  {:>9} {:>6} {:>6}",
        "lang", "items", "tp", "fp", "fn", "precision", "recall", "f1"
    );
    for (lang, s) in &report.languages {
        println!(
            "{lang:width$}  {:>5} {:>4} {:>4} {:>4}  {:>9.3} {:>6.3} {:>6.3}",
            s.items,
            s.counts.tp,
            s.counts.fp,
            s.counts.fn_,
            s.counts.precision,
            s.counts.recall,
            s.counts.f1
        );
    }
    if args.show_errors {
        for mistake in &report.mistakes {
            println!(
                "{} {}:{} item {} [{}] {}: {}",
                mistake.kind,
                args.file.display(),
                mistake.line,
                mistake.item,
                mistake.lang,
                mistake.indicator,
                mistake.title
            );
            if let Some((indicator, explanation)) = explain_mistake(mistake) {
                print!("{}", explain::render_text(indicator, &explanation, "    "));
            }
        }
    }
    Ok(EXIT_OK)
}
