//! `watchfloor match`: which indicators fire on a text, and why.

use clap::Args;
use serde_json::json;

use super::{EXIT_FINDINGS, EXIT_OK, GlobalArgs, UsageError, explain, load_indicators};
use crate::matcher::{ItemText, Role};
use crate::text::html_to_text;

#[derive(Debug, Args)]
pub struct MatchArgs {
    /// The text to match (used as the summary); HTML is stripped first
    #[arg(conflicts_with_all = ["title", "summary"])]
    pub text: Option<String>,
    /// The item's title
    #[arg(long)]
    pub title: Option<String>,
    /// The item's summary
    #[arg(long)]
    pub summary: Option<String>,
    /// Print one JSON object instead of text
    #[arg(long)]
    pub json: bool,
    /// Explain every indicator, fired or not: the query tree with each node true or false,
    /// the boosts, the score against min_score, and the verdict's cause
    #[arg(long)]
    pub explain: bool,
}

pub fn run(global: &GlobalArgs, args: &MatchArgs) -> anyhow::Result<u8> {
    if args.text.is_none() && args.title.is_none() && args.summary.is_none() {
        return Err(UsageError("give a TEXT, or --title and/or --summary".into()).into());
    }
    let indicators = load_indicators(global)?;
    let title = html_to_text(args.title.as_deref().unwrap_or(""));
    let summary = html_to_text(
        args.text
            .as_deref()
            .or(args.summary.as_deref())
            .unwrap_or(""),
    );
    let item = ItemText {
        title: &title,
        summary: &summary,
        ..ItemText::default()
    };
    let matcher = &indicators.matcher;
    // As the pipeline matches and identifies it: the language from the title and the summary.
    let (hits, lang) = matcher.match_and_identify(&item, &mut matcher.scratch());
    let lang = crate::text::lang::stored(&lang);
    let explanations = if args.explain {
        matcher.explain_all(&item)
    } else {
        Vec::new()
    };
    if args.json {
        let hits: Vec<_> = hits
            .iter()
            .map(|hit| {
                let indicator = &indicators.indicators[hit.indicator];
                json!({
                    "indicator": indicator.id,
                    "title": indicator.title,
                    "severity": indicator.severity,
                    "score": hit.score,
                    "definition_hash": indicator.definition_hash,
                    "evidence": hit.evidence,
                })
            })
            .collect();
        let mut out = json!({"title": title, "summary": summary, "lang": lang, "hits": hits});
        if args.explain {
            out["explanations"] = explanations
                .iter()
                .map(|e| explain::to_json(&indicators.indicators[e.indicator], e))
                .collect();
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if args.explain {
        println!("language: {lang}");
        for (n, explanation) in explanations.iter().enumerate() {
            if n > 0 {
                println!();
            }
            let indicator = &indicators.indicators[explanation.indicator];
            print!("{}", explain::render_text(indicator, explanation, ""));
        }
    } else if hits.is_empty() {
        println!("language: {lang}");
        println!("no indicator fired");
    } else {
        println!("language: {lang}");
        for hit in &hits {
            let indicator = &indicators.indicators[hit.indicator];
            println!(
                "{} [{}] {} (score {:.2})",
                indicator.id, indicator.severity, indicator.title, hit.score
            );
            if let Some(breakdown) = &hit.evidence.score {
                println!("  score: {}", breakdown.summary());
            }
            for term in &hit.evidence.terms {
                let demoting = if term.role == Role::Demoting {
                    " (demoting)"
                } else {
                    ""
                };
                println!(
                    "  {} → {:?} in {} at {}..{}{demoting}",
                    term.term, term.text, term.field, term.start, term.end
                );
            }
            if let Some(snippet) = &hit.evidence.snippet {
                println!(
                    "  snippet ({}): {}",
                    snippet.field,
                    super::terminal_text(&snippet.text)
                );
            }
        }
    }
    Ok(if hits.is_empty() {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}

/// The hits and the language of a parsed item, its fields given to the matcher as the
/// pipeline gives them (authors and categories one a line), identified in the matcher's pass.
pub fn match_parsed(
    matcher: &crate::matcher::Matcher,
    item: &crate::parse::ParsedItem,
    scratch: &mut crate::matcher::Scratch,
) -> (Vec<crate::matcher::Hit>, Option<crate::text::lang::Lang>) {
    let (authors, categories) = (item.authors.join("\n"), item.categories.join("\n"));
    let text = ItemText {
        title: &item.title,
        summary: &item.summary,
        content: &item.content,
        author: &authors,
        category: &categories,
        link: item.link.as_deref().unwrap_or(""),
    };
    matcher.match_and_identify(&text, scratch)
}
