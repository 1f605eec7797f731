//! `watchfloor bench langid`: accuracy and speed of language identification (`text::lang`)
//! on labelled news excerpts, read at run time (the excerpts are not ours to copy).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;

use super::EXIT_OK;
use crate::text::lang::{self, Route};

#[derive(Debug, Args)]
pub struct LangidBench {
    /// JSON lines with "title", "summary" and "lang" (ISO 639-1, the truth)
    #[arg(
        long,
        value_name = "FILE",
        default_value = "../shared/labelled/news_dev.jsonl"
    )]
    pub file: PathBuf,
    /// How long to time each text form, in seconds
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,
    /// Also write each item's answer, one JSON object {"line", "form", "truth", "lang",
    /// "route"} a line (title alone, then title and summary), so that two builds can be
    /// compared item by item
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
}

struct Item {
    /// The item's line in the file, from 1.
    line: usize,
    lang: String,
    title: String,
    summary: String,
}

/// Scripts that languages are grouped by: the fast paths and the models differ by script.
pub fn script_group(lang: &str) -> &'static str {
    match lang {
        "ru" | "uk" | "bg" | "be" | "sr" | "mk" | "kk" => "Cyrillic",
        "zh" | "ja" => "Han/kana",
        "ko" => "Hangul",
        "ar" | "fa" | "ur" => "Arabic",
        "el" => "Greek",
        "hi" | "mr" | "ne" => "Devanagari",
        "he" | "yi" => "Hebrew",
        _ => "Latin",
    }
}

/// Writes every item's answer for `--answers`: the title alone, then title and summary.
fn write_answers(items: &[Item], path: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for (form, with_summary) in [("title", false), ("title+summary", true)] {
        for item in items {
            let body = if with_summary { &item.summary[..] } else { "" };
            let (got, route) = lang::detect_how(&item.title, body);
            let answer = serde_json::json!({
                "line": item.line,
                "form": form,
                "truth": item.lang,
                "lang": lang::stored(&got),
                "route": route.name(),
            });
            writeln!(out, "{answer}")?;
        }
    }
    out.flush()?;
    Ok(())
}

pub fn run(args: &LangidBench) -> anyhow::Result<u8> {
    if cfg!(debug_assertions) {
        eprintln!(
            "watchfloor: warning: this is a debug build; figures mean little (use --release)"
        );
    }
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let mut items = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not JSON", args.file.display(), n + 1))?;
        let field = |k: &str| value[k].as_str().unwrap_or("").to_owned();
        items.push(Item {
            line: n + 1,
            lang: field("lang"),
            title: field("title"),
            summary: field("summary"),
        });
    }
    anyhow::ensure!(!items.is_empty(), "no items in {}", args.file.display());
    println!(
        "language identification: {} items from {}; text looked at: the title and the first {} bytes of the summary",
        items.len(),
        args.file.display(),
        lang::SAMPLE_BYTES
    );
    if let Some(path) = &args.answers {
        write_answers(&items, path).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let budget = Duration::from_secs_f64(args.seconds.max(0.1));
    for (label, with_summary) in [("title", false), ("title+summary", true)] {
        let body = |item: &Item| {
            if with_summary {
                item.summary.clone()
            } else {
                String::new()
            }
        };
        let bodies: Vec<String> = items.iter().map(body).collect();
        // (right, undetermined, wrong) per script group, and items per route.
        let mut groups: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
        let mut routes: BTreeMap<Route, [usize; 3]> = BTreeMap::new();
        let mut wrong = Vec::new();
        for item in &items {
            let (got, route) = lang::detect_how(&item.title, &body(item));
            let slot = match got {
                Some(l) if l.as_str() == item.lang => 0,
                None => 1,
                Some(l) => {
                    wrong.push(format!("{}→{}", item.lang, l));
                    2
                }
            };
            groups.entry(script_group(&item.lang)).or_default()[slot] += 1;
            routes.entry(route).or_default()[slot] += 1;
        }
        let started = Instant::now();
        let cpu = super::bench_alerts::cpu_seconds();
        let mut done = 0usize;
        while started.elapsed() < budget {
            for (item, body) in items.iter().zip(&bodies) {
                std::hint::black_box(lang::detect(&item.title, body));
            }
            done += items.len();
        }
        let cpu = super::bench_alerts::cpu_seconds() - cpu;
        let total: [usize; 3] = groups
            .values()
            .fold([0; 3], |a, g| [a[0] + g[0], a[1] + g[1], a[2] + g[2]]);
        println!();
        println!(
            "{label}: {:.1}% right, {} undetermined, {} wrong; {:.0} items per CPU-second ({:.1} µs an item)",
            100.0 * total[0] as f64 / items.len() as f64,
            total[1],
            total[2],
            done as f64 / cpu,
            cpu * 1e6 / done as f64
        );
        println!(
            "  {:<12} {:>6} {:>7} {:>6} {:>6}",
            "script", "items", "right", "und", "wrong"
        );
        for (group, [right, und, bad]) in &groups {
            let n = right + und + bad;
            println!(
                "  {group:<12} {n:>6} {:>6.1}% {und:>6} {bad:>6}",
                100.0 * *right as f64 / n as f64
            );
        }
        println!(
            "  {:<18} {:>6} {:>7} {:>6} {:>6} {:>12}",
            "decided by", "items", "right", "und", "wrong", "µs an item"
        );
        for (route, [right, und, bad]) in &routes {
            let n = right + und + bad;
            // Each route timed on its own items, so the cost of the models shows apart.
            let own: Vec<(&Item, &String)> = items
                .iter()
                .zip(&bodies)
                .filter(|(item, body)| lang::detect_how(&item.title, body).1 == *route)
                .collect();
            let started = Instant::now();
            let cpu = super::bench_alerts::cpu_seconds();
            let mut done = 0usize;
            while started.elapsed() < budget / 4 {
                for (item, body) in &own {
                    std::hint::black_box(lang::detect(&item.title, body));
                }
                done += own.len();
            }
            let micros = (super::bench_alerts::cpu_seconds() - cpu) * 1e6 / done.max(1) as f64;
            println!(
                "  {:<18} {n:>6} {:>6.1}% {und:>6} {bad:>6} {micros:>12.1}",
                route.name(),
                100.0 * *right as f64 / n as f64
            );
        }
        if !wrong.is_empty() {
            println!("  wrong (truth→detected): {}", wrong.join(", "));
        }
    }
    Ok(EXIT_OK)
}
