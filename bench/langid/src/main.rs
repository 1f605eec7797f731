//! Speed and accuracy of whatlang and lingua on labelled news excerpts.
//!
//! Reads a JSON-lines file with `title`, `summary` and `lang` (ISO 639-1, the truth) at run
//! time, so no excerpt is copied into the repository. Each detector runs on the title alone
//! and on title plus summary; speed is measured by repeating the whole set for at least
//! `--seconds` (default 2) on one thread.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

struct Item {
    lang: String,
    title: String,
    both: String,
}

type Detect<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut path = String::from("../shared/labelled/news_dev.jsonl");
    let mut seconds = 2.0;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .expect("--seconds N")
            }
            _ => path = arg,
        }
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let items: Vec<Item> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON object per line");
            let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
            Item {
                lang: s("lang"),
                both: format!("{}\n{}", s("title"), s("summary")),
                title: s("title"),
            }
        })
        .collect();
    println!("{} items from {path}", items.len());

    let mut detectors: Vec<(&str, Detect)> = Vec::new();
    #[cfg(feature = "whatlang")]
    {
        detectors.push((
            "whatlang",
            Box::new(|t: &str| whatlang::detect(t).map(|i| iso1(i.lang().code()))),
        ));
        detectors.push((
            "whatlang, reliable only",
            Box::new(|t: &str| {
                whatlang::detect(t)
                    .filter(|i| i.is_reliable())
                    .map(|i| iso1(i.lang().code()))
            }),
        ));
        let few = whatlang::Detector::with_allowlist(
            [
                "eng", "deu", "fra", "spa", "ita", "por", "pol", "nld", "tur", "ind", "vie", "ces",
                "rus", "ukr", "cmn", "jpn", "kor", "ara", "hin", "ell",
            ]
            .iter()
            .filter_map(|c| whatlang::Lang::from_code(*c))
            .collect(),
        );
        detectors.push((
            "whatlang, 20 languages",
            Box::new(move |t: &str| few.detect(t).map(|i| iso1(i.lang().code()))),
        ));
    }
    #[cfg(feature = "lingua")]
    {
        use lingua::LanguageDetectorBuilder;
        let t0 = Instant::now();
        let all = LanguageDetectorBuilder::from_all_languages()
            .with_preloaded_language_models()
            .build();
        let _ = all.detect_language_of("warm up");
        println!(
            "lingua: built and first detection in {:.2} s",
            t0.elapsed().as_secs_f64()
        );
        let low = LanguageDetectorBuilder::from_all_languages()
            .with_preloaded_language_models()
            .with_low_accuracy_mode()
            .build();
        detectors.push((
            "lingua, 75 languages",
            Box::new(move |t: &str| {
                all.detect_language_of(t)
                    .map(|l| l.iso_code_639_1().to_string())
            }),
        ));
        detectors.push((
            "lingua, 75 languages, low accuracy",
            Box::new(move |t: &str| {
                low.detect_language_of(t)
                    .map(|l| l.iso_code_639_1().to_string())
            }),
        ));
    }

    println!();
    println!(
        "| detector | text | accuracy | unknown | wrong | items per CPU-second | per-language misses |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, detect) in &detectors {
        for (label, pick) in [("title", 0), ("title+summary", 1)] {
            let texts: Vec<&str> = items
                .iter()
                .map(|i| {
                    if pick == 0 {
                        i.title.as_str()
                    } else {
                        i.both.as_str()
                    }
                })
                .collect();
            let (mut right, mut unknown) = (0, 0);
            let mut misses: BTreeMap<&str, usize> = BTreeMap::new();
            for (item, t) in items.iter().zip(&texts) {
                match detect(t) {
                    Some(l) if same(&l, &item.lang) => right += 1,
                    Some(_) => *misses.entry(&item.lang).or_default() += 1,
                    None => {
                        unknown += 1;
                        *misses.entry(&item.lang).or_default() += 1;
                    }
                }
            }
            let wrong = items.len() - right - unknown;
            let rate = speed(&texts, detect, Duration::from_secs_f64(seconds));
            let misses: Vec<String> = misses.iter().map(|(l, n)| format!("{l} {n}")).collect();
            println!(
                "| {name} | {label} | {:.1}% ({right}/{}) | {unknown} | {wrong} | {rate:.0} | {} |",
                100.0 * right as f64 / items.len() as f64,
                items.len(),
                misses.join(", ")
            );
        }
    }
}

/// Chinese is one code whatever the script, and Bosnian reads as Croatian or Serbian to
/// both detectors (lingua has Bosnian; whatlang does not), so the three count as one.
fn same(got: &str, truth: &str) -> bool {
    fn fold(c: &str) -> &str {
        match c {
            "bs" | "hr" | "sr" => "sh",
            other => other,
        }
    }
    fold(got) == fold(truth)
}

/// Items per CPU-second of the process (every thread a detector may start), so that other jobs
/// on the machine change the figure less than they change the wall clock. One untimed pass
/// first: lingua loads its models on first use.
fn speed(texts: &[&str], detect: &Detect, at_least: Duration) -> f64 {
    for t in texts {
        std::hint::black_box(detect(t));
    }
    let start = Instant::now();
    let cpu = cpu_seconds();
    let mut n = 0usize;
    while start.elapsed() < at_least {
        for t in texts {
            std::hint::black_box(detect(std::hint::black_box(t)));
        }
        n += texts.len();
    }
    n as f64 / (cpu_seconds() - cpu)
}

fn cpu_seconds() -> f64 {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `time` is a valid timespec to write to; the clock id is a constant.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut time) };
    time.tv_sec as f64 + time.tv_nsec as f64 * 1e-9
}

/// ISO 639-3 (whatlang's codes) to 639-1; Mandarin is `zh`.
#[cfg(feature = "whatlang")]
fn iso1(code: &str) -> String {
    let two = match code {
        "afr" => "af",
        "aka" => "ak",
        "amh" => "am",
        "ara" => "ar",
        "aze" => "az",
        "bel" => "be",
        "ben" => "bn",
        "bul" => "bg",
        "cat" => "ca",
        "ces" => "cs",
        "cmn" => "zh",
        "cym" => "cy",
        "dan" => "da",
        "deu" => "de",
        "ell" => "el",
        "eng" => "en",
        "epo" => "eo",
        "est" => "et",
        "fin" => "fi",
        "fra" => "fr",
        "guj" => "gu",
        "heb" => "he",
        "hin" => "hi",
        "hrv" => "hr",
        "hun" => "hu",
        "hye" => "hy",
        "ind" => "id",
        "ita" => "it",
        "jav" => "jv",
        "jpn" => "ja",
        "kan" => "kn",
        "kat" => "ka",
        "khm" => "km",
        "kor" => "ko",
        "lat" => "la",
        "lav" => "lv",
        "lit" => "lt",
        "mal" => "ml",
        "mar" => "mr",
        "mkd" => "mk",
        "mya" => "my",
        "nep" => "ne",
        "nld" => "nl",
        "nob" => "nb",
        "ori" => "or",
        "pan" => "pa",
        "pes" => "fa",
        "pol" => "pl",
        "por" => "pt",
        "ron" => "ro",
        "rus" => "ru",
        "sin" => "si",
        "slk" => "sk",
        "slv" => "sl",
        "sna" => "sn",
        "spa" => "es",
        "srp" => "sr",
        "swe" => "sv",
        "tam" => "ta",
        "tel" => "te",
        "tgl" => "tl",
        "tha" => "th",
        "tuk" => "tk",
        "tur" => "tr",
        "ukr" => "uk",
        "urd" => "ur",
        "uzb" => "uz",
        "vie" => "vi",
        "yid" => "yi",
        "zul" => "zu",
        other => other,
    };
    two.to_string()
}
