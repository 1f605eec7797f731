//! Scoring indicators against labelled items: precision, recall and F1 per indicator.
//!
//! Conventions for empty denominators: an indicator that neither fired nor was expected anywhere
//! scores 1.0 on all three (nothing to find, nothing wrongly found); otherwise an empty
//! denominator gives 0.0.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::config::Indicators;
use crate::matcher::ItemText;
use crate::text::html_to_text;

/// One line of a labelled JSONL file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabeledItem {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub labels: Vec<String>,
    /// 1-based line in the file.
    pub line: usize,
    /// The item's language as labelled (`lang`, ISO 639-1), when the file says.
    pub lang: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{}: cannot read", path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Line {
        path: std::path::PathBuf,
        line: usize,
        message: String,
    },
}

#[derive(serde::Deserialize)]
struct RawLine {
    id: serde_json::Value,
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
    labels: Vec<String>,
    #[serde(default)]
    lang: Option<String>,
}

/// Reads a labelled file; blank lines are skipped. Labels are checked against `known` ids.
pub fn read_labeled(path: &Path, known: &Indicators) -> Result<Vec<LabeledItem>, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut items = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fail = |message: String| EvalError::Line {
            path: path.to_owned(),
            line: index + 1,
            message,
        };
        let raw: RawLine =
            serde_json::from_str(line).map_err(|e| fail(format!("invalid item: {e}")))?;
        let id = match raw.id {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        for label in &raw.labels {
            if known.get(label).is_none() {
                let ids: Vec<&str> = known.indicators.iter().map(|i| i.id.as_str()).collect();
                return Err(fail(format!(
                    "item {id}: label '{label}' names no indicator in {} (indicators: {})",
                    known.path.display(),
                    ids.join(", ")
                )));
            }
        }
        // The same display text a feed item gets in the parse stage, so that a labelled file
        // of raw feed text scores what the daemon would decide.
        items.push(LabeledItem {
            id,
            title: html_to_text(&raw.title),
            summary: html_to_text(&raw.summary),
            labels: raw.labels,
            line: index + 1,
            lang: raw.lang,
        });
    }
    Ok(items)
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Scores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct IndicatorScore {
    pub tp: u64,
    pub fp: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl IndicatorScore {
    fn finish(&mut self) {
        let Scores {
            precision,
            recall,
            f1,
        } = scores(self.tp, self.fp, self.fn_);
        self.precision = precision;
        self.recall = recall;
        self.f1 = f1;
    }
}

/// Precision, recall and F1 from counts, with the conventions in the module documentation.
pub fn scores(tp: u64, fp: u64, fn_: u64) -> Scores {
    if tp + fp + fn_ == 0 {
        return Scores {
            precision: 1.0,
            recall: 1.0,
            f1: 1.0,
        };
    }
    let ratio = |num: u64, den: u64| {
        if den == 0 {
            0.0
        } else {
            num as f64 / den as f64
        }
    };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    Scores {
        precision,
        recall,
        f1,
    }
}

/// A wrong decision, for `--show-errors`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mistake {
    pub item: String,
    pub line: usize,
    pub indicator: String,
    /// `fp` (fired, not labelled) or `fn` (labelled, did not fire).
    pub kind: &'static str,
    pub title: String,
    /// The item's language (labelled, else detected).
    pub lang: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub items: usize,
    pub indicators: BTreeMap<String, IndicatorScore>,
    #[serde(rename = "macro")]
    pub macro_avg: Scores,
    #[serde(skip)]
    pub mistakes: Vec<Mistake>,
    /// Scores per item language, summed over the indicators: where the rules read well and
    /// where they do not.
    pub languages: BTreeMap<String, LanguageScore>,
    /// `labelled` when every item carries a `lang`, else `detected` (for those without).
    pub languages_from: &'static str,
}

/// Decisions on the items of one language, every indicator's counted together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LanguageScore {
    pub items: u64,
    /// The same counts and scores an indicator gets, summed over every indicator.
    #[serde(flatten)]
    pub counts: IndicatorScore,
}

/// Runs every item through the indicators and tallies the decisions.
pub fn evaluate(indicators: &Indicators, items: &[LabeledItem]) -> Report {
    let matcher = &indicators.matcher;
    let mut scratch = matcher.scratch();
    let mut counts: Vec<IndicatorScore> =
        vec![IndicatorScore::default(); indicators.indicators.len()];
    let mut mistakes = Vec::new();
    let mut languages: BTreeMap<String, LanguageScore> = BTreeMap::new();
    for item in items {
        let lang = item.lang.clone().unwrap_or_else(|| {
            crate::text::lang::stored(&crate::text::lang::detect(&item.title, &item.summary))
                .to_owned()
        });
        let language = languages.entry(lang.clone()).or_default();
        language.items += 1;
        let text = ItemText {
            title: &item.title,
            summary: &item.summary,
            ..ItemText::default()
        };
        let fired: Vec<usize> = matcher
            .match_item(&text, &mut scratch)
            .iter()
            .map(|h| h.indicator)
            .collect();
        for (index, indicator) in indicators.indicators.iter().enumerate() {
            let expected = item.labels.contains(&indicator.id);
            let got = fired.contains(&index);
            let kind = match (expected, got) {
                (true, true) => {
                    counts[index].tp += 1;
                    language.counts.tp += 1;
                    continue;
                }
                (false, false) => continue,
                (false, true) => {
                    counts[index].fp += 1;
                    language.counts.fp += 1;
                    "fp"
                }
                (true, false) => {
                    counts[index].fn_ += 1;
                    language.counts.fn_ += 1;
                    "fn"
                }
            };
            mistakes.push(Mistake {
                item: item.id.clone(),
                line: item.line,
                indicator: indicator.id.clone(),
                kind,
                title: item.title.clone(),
                lang: lang.clone(),
            });
        }
    }
    for c in &mut counts {
        c.finish();
    }
    for l in languages.values_mut() {
        l.counts.finish();
    }
    let n = counts.len().max(1) as f64;
    let macro_avg = Scores {
        precision: counts.iter().map(|c| c.precision).sum::<f64>() / n,
        recall: counts.iter().map(|c| c.recall).sum::<f64>() / n,
        f1: counts.iter().map(|c| c.f1).sum::<f64>() / n,
    };
    Report {
        items: items.len(),
        indicators: indicators
            .indicators
            .iter()
            .zip(counts)
            .map(|(i, c)| (i.id.clone(), c))
            .collect(),
        macro_avg,
        mistakes,
        languages,
        languages_from: if items.iter().all(|i| i.lang.is_some()) {
            "labelled"
        } else {
            "detected"
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{evaluate, read_labeled, scores};
    use crate::config::Indicators;

    #[test]
    fn labelled_feed_text_is_read_as_the_parse_stage_reads_it() {
        let rules = Indicators::parse(
            "indicators:\n  - id: sat\n    title: t\n    insight: i\n    severity: low\n    \
             query: '\"North Korea\" AND satellite'\n",
            std::path::Path::new("rules.yaml"),
        )
        .expect("rules load");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("labels.jsonl");
        std::fs::write(
            &path,
            concat!(
                r#"{"id":1,"title":"North<b> Korea</b> launches a satellite","labels":["sat"]}"#,
                "\n",
                r#"{"id":2,"title":"x","summary":"<p>North&nbsp;Korea&#8217;s satellite&lt;/p&gt;</p>","labels":["sat"]}"#,
                "\n",
                r#"{"id":3,"title":"<a title=\"North Korea satellite\">Weather</a>","labels":[]}"#,
                "\n",
            ),
        )
        .expect("write");
        let items = read_labeled(&path, &rules).expect("reads");
        assert_eq!(items[0].title, "North Korea launches a satellite");
        assert_eq!(items[1].summary, "North Korea’s satellite</p>");
        let report = evaluate(&rules, &items);
        let sat = report.indicators["sat"];
        assert_eq!(
            (sat.tp, sat.fp, sat.fn_),
            (2, 0, 0),
            "{:?}",
            report.mistakes
        );
    }

    #[test]
    fn scores_follow_the_documented_conventions() {
        let cases = [
            ((0, 0, 0), (1.0, 1.0, 1.0)),
            ((0, 2, 0), (0.0, 0.0, 0.0)),
            ((0, 0, 3), (0.0, 0.0, 0.0)),
            ((3, 1, 0), (0.75, 1.0, 6.0 / 7.0)),
            ((2, 2, 2), (0.5, 0.5, 0.5)),
            ((1, 0, 3), (1.0, 0.25, 0.4)),
        ];
        for ((tp, fp, fn_), (p, r, f)) in cases {
            let s = scores(tp, fp, fn_);
            assert!((s.precision - p).abs() < 1e-12, "{tp} {fp} {fn_}: {s:?}");
            assert!((s.recall - r).abs() < 1e-12, "{tp} {fp} {fn_}: {s:?}");
            assert!((s.f1 - f).abs() < 1e-12, "{tp} {fp} {fn_}: {s:?}");
        }
    }
}
