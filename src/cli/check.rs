//! `watchfloor check`: validate, compile, and run every example.

use clap::Args;

use super::{EXIT_FINDINGS, EXIT_OK, GlobalArgs, load_indicators, load_settings};
use crate::config::{Example, Indicators};
use crate::matcher::{Hit, Role};
use crate::text::safe::header_text;

/// A reason names query branches and boosts as written; long ones are cut on one line.
const REASON_MAX: usize = 1000;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print every example, not only the failures
    #[arg(long, short)]
    pub verbose: bool,
    /// Print the indicator × language matrix: can each indicator fire on an item written
    /// only in that language? Languages are the keys of the lists written per language.
    #[arg(long)]
    pub coverage: bool,
}

pub fn run(global: &GlobalArgs, args: &CheckArgs) -> anyhow::Result<u8> {
    let indicators = load_indicators(global)?;
    // The rules name webhooks the settings define: both files are checked together, as the
    // daemon reads them.
    let settings = load_settings(global)?;
    settings.check_alert_targets(&indicators)?;
    let path = indicators.path.display().to_string();
    println!(
        "{path}: {} indicators, {} lists, {} search patterns compiled",
        indicators.indicators.len(),
        indicators.lists.len(),
        indicators.matcher.pattern_count()
    );
    if args.coverage {
        print_coverage(&indicators);
        println!();
    }
    let outcome = run_examples(&indicators);
    for result in &outcome {
        if result.passed && !args.verbose {
            continue;
        }
        let verdict = if result.passed { "ok  " } else { "FAIL" };
        let expectation = if result.should_match {
            "should match"
        } else {
            "should not match"
        };
        println!(
            "{verdict} {path}:{}: {} {expectation}: {}",
            result.example.line,
            result.indicator,
            result.example.describe()
        );
        if !result.passed {
            // The cause, from the same explanation `match --explain` prints.
            let explanation = indicators
                .matcher
                .explain(&result.example.item_text(), result.index);
            println!("       {}", header_text(&explanation.reason, REASON_MAX));
        }
        if let Some(hit) = &result.hit {
            print_hit_evidence(hit);
        }
    }
    let failed = outcome.iter().filter(|r| !r.passed).count();
    println!(
        "{} examples: {} passed, {} failed",
        outcome.len(),
        outcome.len() - failed,
        failed
    );
    Ok(if failed == 0 { EXIT_OK } else { EXIT_FINDINGS })
}

/// The coverage matrix, then one line for each gap saying what is missing.
fn print_coverage(indicators: &Indicators) {
    let languages = indicators.languages();
    if languages.is_empty() {
        println!(
            "coverage: no list is written per language (e.g. `dprk: {{en: [...], ko: [...]}}`), \
             so every indicator counts as able to fire in any language"
        );
        return;
    }
    let width = indicators
        .indicators
        .iter()
        .map(|i| i.id.chars().count())
        .max()
        .unwrap_or(0)
        .max("indicator".len());
    let mut header = format!("{:width$}", "indicator");
    for language in &languages {
        header.push_str(&format!(" {language:>3}"));
    }
    println!("coverage: can the indicator fire on an item written only in that language?");
    println!("{header}  covered");
    let mut gaps = Vec::new();
    for indicator in &indicators.indicators {
        let mut row = format!("{:width$}", indicator.id);
        let mut covered = 0;
        for language in &languages {
            match indicator.coverage.gap(language) {
                None => {
                    covered += 1;
                    row.push_str("   ✓");
                }
                Some(gap) => {
                    row.push_str("   ·");
                    gaps.push(format!("  {} in {language}: {gap}", indicator.id));
                }
            }
        }
        println!("{row}  {covered}/{}", languages.len());
    }
    if gaps.is_empty() {
        println!("every indicator can fire in every language listed");
    } else {
        println!("gaps (✓ can fire, · cannot):");
        for gap in gaps {
            println!("{gap}");
        }
    }
}

/// The result of one example.
pub struct ExampleResult<'a> {
    pub indicator: &'a str,
    /// The indicator's position in the file.
    pub index: usize,
    pub example: &'a Example,
    pub should_match: bool,
    pub passed: bool,
    /// The indicator's hit on the example, when it fired.
    pub hit: Option<Hit>,
}

/// Runs every example of every indicator against the compiled matcher.
pub fn run_examples(indicators: &Indicators) -> Vec<ExampleResult<'_>> {
    let matcher = &indicators.matcher;
    let mut scratch = matcher.scratch();
    let mut results = Vec::new();
    for (index, indicator) in indicators.indicators.iter().enumerate() {
        let cases = indicator
            .examples_match
            .iter()
            .map(|e| (e, true))
            .chain(indicator.examples_no_match.iter().map(|e| (e, false)));
        for (example, should_match) in cases {
            let hit = matcher
                .match_item(&example.item_text(), &mut scratch)
                .into_iter()
                .find(|h| h.indicator == index);
            results.push(ExampleResult {
                indicator: &indicator.id,
                index,
                example,
                should_match,
                passed: hit.is_some() == should_match,
                hit,
            });
        }
    }
    results
}

pub fn print_hit_evidence(hit: &Hit) {
    match &hit.evidence.score {
        Some(breakdown) => println!("       score {}", breakdown.summary()),
        None => println!("       score {:.2}", hit.score),
    }
    for term in &hit.evidence.terms {
        let demoting = if term.role == Role::Demoting {
            " [demoting]"
        } else {
            ""
        };
        println!(
            "       {} → {:?} ({} {}..{}){demoting}",
            term.term, term.text, term.field, term.start, term.end
        );
    }
}
