//! Explanations in the terminal and in JSON, shared by `match`, `eval` and `check`.

use std::fmt::Write as _;

use crate::config::Indicator;
use crate::matcher::explain::{Found, NodeExplanation, Op, signed};
use crate::matcher::{Explanation, Verdict};
use crate::text::safe::header_text;

/// Query text is the analysts' and may span lines in YAML; one line reads better in a tree.
const CLAUSE_MAX: usize = 300;
/// Matched text comes from feeds: `{:?}` quotes it with controls escaped, and this caps it.
const MATCH_MAX: usize = 120;
/// Occurrences of one term shown; the JSON has all of them.
const MATCHES_SHOWN: usize = 5;

fn mark(value: bool) -> &'static str {
    if value { "✓" } else { "✗" }
}

/// The explanation as an indented tree, every line starting with `indent`.
pub fn render_text(indicator: &Indicator, explanation: &Explanation, indent: &str) -> String {
    let mut out = String::new();
    let verdict = match explanation.verdict {
        Verdict::Fired => "FIRED",
        Verdict::QueryFalse | Verdict::BelowMinScore => "not fired",
    };
    let _ = writeln!(
        out,
        "{indent}{} [{}] {}: {verdict}",
        indicator.id,
        indicator.severity,
        header_text(&indicator.title, CLAUSE_MAX)
    );
    let _ = writeln!(out, "{indent}  {}", header_text(&explanation.reason, 2000));
    node_lines(
        &explanation.query.tree,
        &format!("{indent}  query "),
        &format!("{indent}    "),
        &mut out,
    );
    if !explanation.boosts.is_empty() {
        let _ = writeln!(out, "{indent}  boosts");
        for boost in &explanation.boosts {
            let applied = if boost.applied {
                "applied"
            } else {
                "not applied"
            };
            node_lines(
                &boost.tree,
                &format!("{indent}    {} {applied}: ", signed(boost.weight)),
                &format!("{indent}      "),
                &mut out,
            );
        }
    }
    if explanation.verdict == Verdict::QueryFalse {
        // Boosts only count on a true query: a sum here would read as a score it never had.
        let _ = writeln!(out, "{indent}  score: none, the query is false");
    } else {
        let breakdown = explanation.score_breakdown();
        let _ = writeln!(
            out,
            "{indent}  score: {}",
            header_text(&breakdown.summary(), 2000)
        );
    }
    out
}

/// A term node on one line with what it matched; other nodes name their operator and text,
/// then their operands beneath, at `indent`. `lead` goes before the node's own line.
fn node_lines(node: &NodeExplanation, lead: &str, indent: &str, out: &mut String) {
    let text = header_text(&node.text, CLAUSE_MAX);
    if node.children.is_empty() {
        let found = if node.matches.is_empty() {
            "found nothing".to_owned()
        } else {
            matches_text(&node.matches)
        };
        let _ = writeln!(out, "{lead}{} {text}: {found}", mark(node.value));
        return;
    }
    // NOT, NEAR and fields show their operator in their text; an AND may be implicit.
    let label = match node.op {
        Op::And => "all of: ",
        Op::Or => "any of: ",
        Op::Term | Op::Not | Op::Near | Op::Field => "",
    };
    let _ = writeln!(out, "{lead}{} {label}{text}", mark(node.value));
    for child in &node.children {
        node_lines(child, indent, &format!("{indent}  "), out);
    }
}

fn matches_text(matches: &[Found]) -> String {
    // Entries of one list that match the same text (`satellite*` and `satellit*`) read as
    // one occurrence; the JSON keeps each.
    let mut distinct: Vec<&Found> = Vec::new();
    for found in matches {
        if !distinct
            .iter()
            .any(|d| (d.field, d.start, d.end) == (found.field, found.start, found.end))
        {
            distinct.push(found);
        }
    }
    let mut shown: Vec<String> = distinct
        .iter()
        .take(MATCHES_SHOWN)
        .map(|m| {
            format!(
                "{:?} [{}] ({} {}..{})",
                header_text(&m.text, MATCH_MAX),
                header_text(&m.term, CLAUSE_MAX),
                m.field,
                m.start,
                m.end
            )
        })
        .collect();
    if distinct.len() > MATCHES_SHOWN {
        shown.push(format!("and {} more", distinct.len() - MATCHES_SHOWN));
    }
    shown.join(", ")
}

/// The explanation as JSON, with the indicator's id in front.
pub fn to_json(indicator: &Indicator, explanation: &Explanation) -> serde_json::Value {
    let mut value = serde_json::json!({ "indicator": indicator.id });
    if let (Some(object), Ok(serde_json::Value::Object(fields))) =
        (value.as_object_mut(), serde_json::to_value(explanation))
    {
        object.extend(fields);
    }
    value
}
