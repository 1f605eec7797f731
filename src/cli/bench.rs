//! `watchfloor bench`: throughput figures, printed, so that speed claims come with a command.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::json;

use super::{EXIT_OK, GlobalArgs, load_indicators};
use crate::config::Indicators;
use crate::matcher::ItemText;

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub target: BenchTarget,
}

#[derive(Debug, Subcommand)]
pub enum BenchTarget {
    /// Match throughput on one core: the shipped indicators, then generated variants of them
    Match(MatchBench),
    /// Ingest throughput from files: parse, normalise, match and store, on the feed corpus
    Ingest(super::bench_ingest::IngestBench),
    /// Parse throughput on one core: every file of a feed corpus, parsed over and over
    Parse(ParseBench),
    /// Alert delivery: many pending alerts sent through the configured transport
    Alerts(super::bench_alerts::AlertsBench),
    /// Language identification: accuracy and speed on labelled news excerpts
    Langid(super::bench_langid::LangidBench),
}

#[derive(Debug, Args)]
pub struct ParseBench {
    /// Folder of feed files (every file in it is parsed; MANIFEST.tsv and README.md skipped)
    #[arg(long, value_name = "DIR", default_value = "../shared/corpus/feeds")]
    pub corpus: PathBuf,
    /// How long to run each measurement, in seconds
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
}

#[derive(Debug, Args)]
pub struct MatchBench {
    /// Items to match in each run
    #[arg(long, default_value_t = 300_000)]
    pub items: usize,
    /// Size of the generated indicator set for the second run
    #[arg(long, default_value_t = 200)]
    pub generated: usize,
    /// Approximate size of an item (title + summary) in bytes
    #[arg(long, default_value_t = 600)]
    pub item_bytes: usize,
    /// Also write the generated items, one JSON object {"title", "summary"} a line, so that
    /// another matcher (bench/reference.py) can be measured on the very same items
    #[arg(long, value_name = "FILE")]
    pub dump_items: Option<PathBuf>,
    /// Leave language identification out of the loop, to see what it costs
    #[arg(long)]
    pub without_langid: bool,
    /// Measure each rule set this many times and report the median run, with the range, so
    /// that a figure taken on a shared machine says how much it moved
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=99))]
    pub rounds: u32,
    /// Match these items (JSON lines with "title" and "summary", as --dump-items writes them)
    /// instead of generating them, so that two rule files are measured on the same items
    #[arg(long, value_name = "FILE", conflicts_with = "dump_items")]
    pub items_file: Option<PathBuf>,
}

pub fn run(global: &GlobalArgs, args: &BenchArgs) -> anyhow::Result<u8> {
    match &args.target {
        BenchTarget::Match(bench) => match_bench(global, bench),
        BenchTarget::Ingest(bench) => super::bench_ingest::run(global, bench),
        BenchTarget::Parse(bench) => parse_bench(bench),
        BenchTarget::Alerts(bench) => super::bench_alerts::run(global, bench),
        BenchTarget::Langid(bench) => super::bench_langid::run(bench),
    }
}

fn parse_bench(args: &ParseBench) -> anyhow::Result<u8> {
    use anyhow::Context;

    if cfg!(debug_assertions) {
        eprintln!(
            "watchfloor: warning: this is a debug build; figures mean little (use --release)"
        );
    }
    let mut files = Vec::new();
    let entries = std::fs::read_dir(&args.corpus)
        .with_context(|| format!("cannot read the corpus folder {}", args.corpus.display()))?;
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if path.is_file() && name != "MANIFEST.tsv" && name != "README.md" {
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            files.push(bytes);
        }
    }
    anyhow::ensure!(!files.is_empty(), "no files in {}", args.corpus.display());
    let total: usize = files.iter().map(Vec::len).sum();
    let budget = Duration::from_secs_f64(args.seconds.max(0.1));
    println!(
        "parse throughput: 1 thread, {} files, {:.2} MB per pass, {:.1} s per run",
        files.len(),
        total as f64 / 1e6,
        budget.as_secs_f64()
    );
    println!(
        "{:<28} {:>7} {:>9} {:>8} {:>12} {:>7}",
        "run", "passes", "seconds", "MB/s", "entries/s", "errors"
    );
    let stage = |bytes: &[u8]| {
        crate::parse::parse_feed(bytes, None, "https://feeds.example.org/feed.xml")
            .map(|feed| feed.items.len())
            .map_err(drop)
    };
    let feed_rs = |bytes: &[u8]| {
        feed_rs::parser::parse(bytes)
            .map(|feed| feed.entries.len())
            .map_err(drop)
    };
    let runs: [(&str, &ParseFn); 2] = [
        ("parse_feed (watchfloor)", &stage),
        ("feed-rs alone, for scale", &feed_rs),
    ];
    for (name, parse) in runs {
        let figures = measure_parse(&files, parse, budget);
        println!(
            "{:<28} {:>7} {:>9.3} {:>8.1} {:>12.0} {:>7}",
            name,
            figures.passes,
            figures.seconds,
            (figures.passes * total) as f64 / figures.seconds / 1e6,
            figures.entries as f64 / figures.seconds,
            figures.errors,
        );
    }
    Ok(EXIT_OK)
}

/// Parses one document and returns its entry count.
type ParseFn = dyn Fn(&[u8]) -> Result<usize, ()>;

struct ParseFigures {
    passes: usize,
    /// Entries parsed over all passes.
    entries: usize,
    /// Files that gave an error in one pass.
    errors: usize,
    seconds: f64,
}

/// Parses every file once to warm up, then whole passes over the corpus until `budget` is spent.
fn measure_parse(files: &[Vec<u8>], parse: &ParseFn, budget: Duration) -> ParseFigures {
    let pass = || {
        let mut entries = 0;
        let mut errors = 0;
        for bytes in files {
            match parse(bytes) {
                Ok(n) => entries += n,
                Err(()) => errors += 1,
            }
        }
        (entries, errors)
    };
    let (_, errors) = pass();
    let started = Instant::now();
    let mut figures = ParseFigures {
        passes: 0,
        entries: 0,
        errors,
        seconds: 0.0,
    };
    while started.elapsed() < budget {
        figures.entries += pass().0;
        figures.passes += 1;
    }
    figures.seconds = started.elapsed().as_secs_f64();
    figures
}

fn match_bench(global: &GlobalArgs, args: &MatchBench) -> anyhow::Result<u8> {
    if cfg!(debug_assertions) {
        eprintln!(
            "watchfloor: warning: this is a debug build; figures mean little (use --release)"
        );
    }
    let shipped = load_indicators(global)?;
    let items = match &args.items_file {
        Some(path) => read_items(path)?,
        None => generate_items(&shipped, 4096, args.item_bytes),
    };
    if let Some(path) = &args.dump_items {
        dump_items(&items, path)?;
    }
    let average =
        items.iter().map(|(t, s)| t.len() + s.len()).sum::<usize>() as f64 / items.len() as f64;
    let generated = Indicators::parse(
        &generated_indicators(&shipped, args.generated),
        Path::new("<generated>"),
    )?;
    println!(
        "match throughput: 1 thread, normalisation {} included, {} items of {average:.0} bytes on average",
        if args.without_langid {
            "(not language identification)"
        } else {
            "and language identification"
        },
        args.items
    );
    if !args.without_langid {
        // What decides these items' languages: the shortcuts cost little, the models much.
        let mut routes: std::collections::BTreeMap<crate::text::lang::Route, usize> =
            std::collections::BTreeMap::new();
        for (title, summary) in &items {
            let route = crate::text::lang::detect_how(title, summary).1;
            *routes.entry(route).or_default() += 1;
        }
        let shares: Vec<String> = routes
            .iter()
            .map(|(route, n)| {
                format!(
                    "{} {:.0}%",
                    route.name(),
                    100.0 * *n as f64 / items.len() as f64
                )
            })
            .collect();
        println!("languages decided by: {}", shares.join(", "));
    }
    println!(
        "{:>10} {:>9} {:>9} {:>9} {:>12} {:>8} {:>10} {:>7}",
        "indicators", "patterns", "table MB", "seconds", "items/s", "MB/s", "hits/item", "CPU s"
    );
    let mut ranges = Vec::new();
    for set in [&shipped, &generated] {
        let mut runs: Vec<Figures> = (0..args.rounds)
            .map(|_| measure(set, &items, args.items, !args.without_langid))
            .collect();
        runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        let rate = |figures: &Figures| figures.items as f64 / figures.seconds;
        let figures = &runs[runs.len() / 2];
        println!(
            "{:>10} {:>9} {:>9.1} {:>9.3} {:>12.0} {:>8.1} {:>10.3} {:>7.2}",
            set.indicators.len(),
            set.matcher.pattern_count(),
            set.matcher.automaton_bytes() as f64 / 1e6,
            figures.seconds,
            rate(figures),
            figures.bytes as f64 / figures.seconds / 1e6,
            figures.hits as f64 / figures.items as f64,
            figures.cpu_seconds,
        );
        if let (Some(slowest), Some(fastest)) = (runs.last(), runs.first())
            && runs.len() > 1
        {
            ranges.push(format!(
                "{} indicators: {:.0} to {:.0} items/s",
                set.indicators.len(),
                rate(slowest),
                rate(fastest)
            ));
        }
    }
    if !ranges.is_empty() {
        println!(
            "median of {} rounds; range: {}",
            args.rounds,
            ranges.join("; ")
        );
    }
    Ok(EXIT_OK)
}

/// Reads items written by [`dump_items`].
fn read_items(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    use anyhow::Context;

    #[derive(serde::Deserialize)]
    struct Line {
        #[serde(default)]
        title: String,
        #[serde(default)]
        summary: String,
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut items = Vec::new();
    for (index, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let line: Line = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not an item", path.display(), index + 1))?;
        items.push((line.title, line.summary));
    }
    anyhow::ensure!(!items.is_empty(), "{}: no items", path.display());
    Ok(items)
}

/// Writes the items as JSON lines: `{"title": ..., "summary": ...}`.
fn dump_items(items: &[(String, String)], path: &Path) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;

    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    for (title, summary) in items {
        serde_json::to_writer(&mut out, &json!({"title": title, "summary": summary}))?;
        out.write_all(b"\n")?;
    }
    out.flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

struct Figures {
    items: usize,
    bytes: usize,
    hits: usize,
    seconds: f64,
    /// CPU time of the run: below `seconds` when other jobs share the cores.
    cpu_seconds: f64,
}

fn measure(set: &Indicators, items: &[(String, String)], count: usize, langid: bool) -> Figures {
    let matcher = &set.matcher;
    let mut scratch = matcher.scratch();
    let run = |scratch: &mut _, count: usize| {
        let mut bytes = 0;
        let mut hits = 0;
        for (title, summary) in items.iter().cycle().take(count) {
            let item = ItemText {
                title,
                summary,
                ..ItemText::default()
            };
            // The pipeline identifies every new item's language as it matches it.
            if langid {
                let (found, lang) = matcher.match_and_identify(&item, scratch);
                hits += found.len();
                std::hint::black_box(lang);
            } else {
                hits += matcher.match_item(&item, scratch).len();
            }
            bytes += title.len() + summary.len();
        }
        (bytes, hits)
    };
    run(&mut scratch, items.len());
    let started = Instant::now();
    let cpu_started = super::bench_alerts::cpu_seconds();
    let (bytes, hits) = run(&mut scratch, count);
    Figures {
        items: count,
        bytes,
        hits,
        seconds: started.elapsed().as_secs_f64(),
        cpu_seconds: super::bench_alerts::cpu_seconds() - cpu_started,
    }
}

/// Neutral news sentences in the three languages, so that most items match nothing, as on a
/// real watch floor.
const FILLER: &[&str] = &[
    "The central bank left interest rates unchanged on Thursday, citing stable inflation.",
    "Heavy rain is expected across the southern provinces over the weekend, forecasters said.",
    "The ministry said talks with trade partners would continue next month in Geneva.",
    "Shares in technology companies rose after quarterly earnings beat expectations.",
    "Officials announced a new plan to modernise regional hospitals by 2030.",
    "정부는 다음 달부터 청년 주거 지원 예산을 늘리기로 했다고 밝혔다.",
    "서울 아파트 가격이 3주 연속 보합세를 보였다고 한국부동산원이 발표했다.",
    "기상청은 주말 동안 전국에 비가 내릴 것으로 예보했다.",
    "Правительство обсудило меры поддержки малого бизнеса в регионах.",
    "Центробанк сохранил ключевую ставку без изменений, сообщили в пресс-службе.",
    "В Москве открылась международная выставка современного искусства.",
];

/// Items of about `size` bytes, built from sentences: the file's `match` examples (one sentence
/// in twenty), its `no_match` examples (three in ten: they name the same actors, so indicators
/// are evaluated and must say no), and neutral filler. A watch floor's feeds are like that:
/// on topic, and mostly not a hit.
pub(crate) fn generate_items(set: &Indicators, count: usize, size: usize) -> Vec<(String, String)> {
    let hits: Vec<String> = set
        .indicators
        .iter()
        .flat_map(|i| &i.examples_match)
        .map(|e| e.describe())
        .collect();
    let near_misses: Vec<String> = set
        .indicators
        .iter()
        .flat_map(|i| &i.examples_no_match)
        .map(|e| e.describe())
        .collect();
    let filler: Vec<String> = FILLER.iter().map(|s| (*s).to_owned()).collect();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut pick = move || -> String {
        let roll = rng.below(100);
        let pool = if roll < 5 && !hits.is_empty() {
            &hits
        } else if roll < 35 && !near_misses.is_empty() {
            &near_misses
        } else {
            &filler
        };
        pool[rng.below(pool.len())].clone()
    };
    (0..count)
        .map(|_| {
            let title = pick();
            let mut summary = String::new();
            // Add sentences while that brings the item nearer `size`, so items average `size`
            // bytes rather than always exceeding it.
            loop {
                let next = pick();
                if title.len() + summary.len() + next.len() / 2 > size {
                    break;
                }
                if !summary.is_empty() {
                    summary.push(' ');
                }
                summary.push_str(&next);
            }
            (title, summary)
        })
        .collect()
}

/// Words that narrow a variant, as an analyst narrows a broad rule to one angle of it.
const NARROWING: &[&str] = &[
    "said",
    "officials",
    "week",
    "report*",
    "talks",
    "deal",
    "agency",
    "minister*",
    "sanction*",
    "border",
    "port*",
    "train*",
    "ship*",
    "rocket*",
    "space",
    "engine*",
    "construction",
    "wage*",
    "visa*",
    "aid",
    "shell*",
    "artillery",
    "drone*",
    "fuel",
    "rice",
    "wheat",
    "정부*",
    "발표*",
    "위성*",
    "노동자*",
    "무기*",
    "석유*",
    "제재*",
    "사업*",
    "сообщ*",
    "заяв*",
    "спутник*",
    "рабоч*",
    "оруж*",
    "нефт*",
    "санкц*",
    "поставк*",
];

/// An indicator file with `count` indicators made by varying the given ones: each variant
/// narrows the original query with one more word and adds terms of its own, so the
/// automaton grows and every variant is evaluated on the same on-topic items.
pub(crate) fn generated_indicators(set: &Indicators, count: usize) -> String {
    let originals = &set.indicators;
    let indicators: Vec<_> = (0..count)
        .map(|n| {
            let original = &originals[n % originals.len()];
            let k = n / originals.len();
            json!({
                "id": format!("{}_v{k}", original.id),
                "title": format!("{} (variant {k})", original.title),
                "insight": original.insight,
                "severity": original.severity,
                "query": format!(
                    "(({}) AND {}) OR (marker{k} NEAR/3 signal{k}*)",
                    original.query,
                    NARROWING[n % NARROWING.len()],
                ),
                "boost": original.boosts.iter().map(|(q, w)| json!({"query": q, "weight": w})).collect::<Vec<_>>(),
                "min_score": original.min_score,
            })
        })
        .collect();
    json!({"lists": set.lists, "indicators": indicators}).to_string()
}

/// A small deterministic generator: the same items on every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
