//! Explanations: why an indicator fired or did not, on one item.
//!
//! Key design decision: an explanation walks the clauses as written (a [`Shape`], the parsed
//! expression with its spans and the compiled term at each leaf), not the compiled trees.
//! Those share subtrees between indicators and are only evaluated for candidates, which is
//! what makes [`Matcher::match_item`] fast, and forget the text an analyst would recognise.
//! Both walks read the same per-item term occurrences and follow the same rules, so they
//! agree on every verdict (a test holds them to it); explaining is slower, and only runs
//! when asked for.
//!
//! The JSON shape of [`Explanation`] is documented in README.md ("Explaining a verdict").

use std::fmt::Write as _;
use std::sync::Arc;

use serde::Serialize;

use super::evidence::{BoostOutcome, ScoreBreakdown};
use super::query::{self, Expr, Span};
use super::{
    ItemText, MAX_OCCURRENCES_PER_TERM, Matcher, Occurrence, Scratch, TermKind, any_within,
    push_near_spans, ready_breaks, spacing,
};
use crate::text::Field;
use crate::text::safe::header_text;

/// The score every indicator starts from when its query is true; boosts add to it.
pub const BASE_SCORE: f64 = 1.0;

/// Scores are sums of a few decimal weights: this much rounding error is not a difference.
pub(super) const SCORE_EPSILON: f64 = 1e-9;

/// A clause as written, with the compiled term of each leaf.
#[derive(Clone, Debug)]
pub(super) struct Shape {
    span: Span,
    kind: ShapeKind,
}

#[derive(Clone, Debug)]
enum ShapeKind {
    Term(u32),
    And(Vec<Shape>),
    Or(Vec<Shape>),
    Not(Box<Shape>),
    Near(u32, Box<Shape>, Box<Shape>),
    Field(Field, Box<Shape>),
}

impl Shape {
    /// `leaves` holds the term of each leaf in the order the compiler visited them, which is
    /// the order of this walk.
    pub(super) fn new(expr: &Expr, leaves: &[u32]) -> Shape {
        let mut next = leaves.iter().copied();
        let shape = Self::build(expr, &mut next);
        debug_assert!(next.next().is_none(), "every leaf has its term");
        shape
    }

    fn build(expr: &Expr, leaves: &mut impl Iterator<Item = u32>) -> Shape {
        let kind = match expr {
            Expr::Term { .. } => ShapeKind::Term(leaves.next().expect("one term per leaf")),
            Expr::And(items) => {
                ShapeKind::And(items.iter().map(|e| Self::build(e, leaves)).collect())
            }
            Expr::Or(items) => {
                ShapeKind::Or(items.iter().map(|e| Self::build(e, leaves)).collect())
            }
            Expr::Not(inner, _) => ShapeKind::Not(Box::new(Self::build(inner, leaves))),
            Expr::Near {
                distance,
                left,
                right,
                ..
            } => {
                let left = Self::build(left, leaves);
                let right = Self::build(right, leaves);
                ShapeKind::Near(*distance, Box::new(left), Box::new(right))
            }
            Expr::Field { field, inner, .. } => {
                ShapeKind::Field(*field, Box::new(Self::build(inner, leaves)))
            }
        };
        Shape {
            span: expr.span(),
            kind,
        }
    }
}

/// One clause of an indicator as written.
#[derive(Clone, Debug)]
pub(super) struct WrittenClause {
    pub(super) text: Arc<str>,
    shape: Shape,
    /// Its grouping parentheses, for the text of each node.
    parens: Vec<(usize, bool)>,
}

impl WrittenClause {
    pub(super) fn new(text: &str, shape: Shape) -> Self {
        WrittenClause {
            text: Arc::from(text),
            shape,
            parens: query::parentheses(text),
        }
    }
}

/// An indicator's clauses as written; weights and `min_score` stay with the compiled form.
#[derive(Clone, Debug)]
pub(super) struct Written {
    pub(super) query: WrittenClause,
    pub(super) boosts: Vec<WrittenClause>,
}

/// What became of an indicator on an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Fired,
    /// The query is false: nothing else matters.
    QueryFalse,
    /// The query is true, but the score with its boosts stays under `min_score`.
    BelowMinScore,
}

/// One occurrence of a term in the item: the term as written (for a list, the entry that
/// matched: `@dprk: 북한*`) and the display text it matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Found {
    pub term: Arc<str>,
    pub field: Field,
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// The operator of a node, as the query language writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Term,
    And,
    Or,
    Not,
    Near,
    Field,
}

/// One node of a clause, evaluated on the item.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeExplanation {
    pub op: Op,
    /// The node's text as written in the clause (`clause[start..end]`, widened to include
    /// the parentheses that group it).
    pub text: String,
    pub start: usize,
    pub end: usize,
    pub value: bool,
    /// The field a `field` node restricts its operand to.
    pub field: Option<Field>,
    /// The word distance of a `near` node.
    pub distance: Option<u32>,
    /// A term node's occurrences (at most 16 per term); empty for other nodes.
    pub matches: Vec<Found>,
    pub children: Vec<NodeExplanation>,
}

impl NodeExplanation {
    /// Whether any term at or under this node occurred.
    fn found_anything(&self) -> bool {
        !self.matches.is_empty() || self.children.iter().any(Self::found_anything)
    }

    fn found_texts(&self, out: &mut Vec<String>) {
        for found in &self.matches {
            if !out.contains(&found.text) {
                out.push(found.text.clone());
            }
        }
        for child in &self.children {
            child.found_texts(out);
        }
    }

    /// Why a false node is false: the branches that failed, deepest first where that names
    /// the cause better than the node itself.
    fn failures(&self, out: &mut Vec<Failure>) {
        let fail = |why: String| Failure {
            text: self.text.clone(),
            start: self.start,
            end: self.end,
            why,
        };
        if self.value {
            return;
        }
        match self.op {
            Op::And => {
                for child in self.children.iter().filter(|c| !c.value) {
                    child.failures(out);
                }
            }
            Op::Not => {
                let mut texts = Vec::new();
                self.found_texts(&mut texts);
                let texts: Vec<String> = texts.iter().take(5).map(|t| format!("{t:?}")).collect();
                out.push(fail(format!("is false: found {}", texts.join(", "))));
            }
            _ if !self.found_anything() => out.push(fail("found nothing".to_owned())),
            Op::Near => {
                let false_children: Vec<&NodeExplanation> =
                    self.children.iter().filter(|c| !c.value).collect();
                if false_children.is_empty() {
                    let (left, right) = (&self.children[0], &self.children[1]);
                    out.push(fail(format!(
                        "is false: '{}' and '{}' both occur, but not within {} words in one \
                         sentence",
                        left.text,
                        right.text,
                        self.distance.unwrap_or(0)
                    )));
                } else {
                    false_children.iter().for_each(|c| c.failures(out));
                }
            }
            // The operand's terms are already restricted to the field.
            Op::Field => self.children[0].failures(out),
            Op::Term => out.push(fail("found nothing".to_owned())),
            Op::Or => {
                let mut inner = Vec::new();
                for child in &self.children {
                    child.failures(&mut inner);
                }
                let inner: Vec<String> = inner.iter().map(Failure::to_string).collect();
                out.push(fail(format!("is false ({})", inner.join("; "))));
            }
        }
    }
}

/// A branch of the query that made it false.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The branch as written, and its place in the query.
    pub text: String,
    pub start: usize,
    pub end: usize,
    /// `found nothing`, or what else made it false.
    pub why: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "'{}' {}", self.text, self.why)
    }
}

/// The query clause, evaluated.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClauseExplanation {
    pub text: Arc<str>,
    pub value: bool,
    pub tree: NodeExplanation,
}

/// A boost clause, evaluated: it applies when its clause is true.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BoostExplanation {
    pub query: Arc<str>,
    pub weight: f64,
    pub applied: bool,
    pub tree: NodeExplanation,
}

/// Why one indicator fired or did not on one item.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// Index of the indicator in the order it was added to the builder.
    #[serde(skip)]
    pub indicator: usize,
    pub verdict: Verdict,
    pub fired: bool,
    /// One sentence: the verdict and its cause.
    pub reason: String,
    pub query: ClauseExplanation,
    /// When the query is false, the branches that made it so; empty otherwise.
    pub failed: Vec<Failure>,
    pub boosts: Vec<BoostExplanation>,
    pub base_score: f64,
    /// The base score plus the weights of the boosts that applied (computed even when the
    /// query is false, though it only counts when the query is true).
    pub score: f64,
    pub min_score: f64,
}

impl Explanation {
    /// The score as the evidence of a hit records it.
    pub fn score_breakdown(&self) -> ScoreBreakdown {
        ScoreBreakdown {
            base: self.base_score,
            boosts: self
                .boosts
                .iter()
                .map(|b| BoostOutcome {
                    query: b.query.clone(),
                    weight: b.weight,
                    applied: b.applied,
                })
                .collect(),
            score: self.score,
            min_score: self.min_score,
        }
    }

    /// The boosts with a negative weight that applied.
    pub fn demoted_by(&self) -> impl Iterator<Item = &BoostExplanation> {
        self.boosts.iter().filter(|b| b.applied && b.weight < 0.0)
    }

    fn reason(&self) -> String {
        match self.verdict {
            Verdict::Fired => format!(
                "fired: score {} ≥ min_score {}",
                number(self.score),
                number(self.min_score)
            ),
            Verdict::QueryFalse => {
                let failed: Vec<String> = self.failed.iter().map(Failure::to_string).collect();
                format!("query false: {}", failed.join("; "))
            }
            Verdict::BelowMinScore => {
                let mut reason = format!(
                    "query true but score {} < min_score {}",
                    number(self.score),
                    number(self.min_score)
                );
                let demoting: Vec<String> = self
                    .demoted_by()
                    .map(|b| format!("'{}' ({})", b.query, signed(b.weight)))
                    .collect();
                let missing: Vec<String> = self
                    .boosts
                    .iter()
                    .filter(|b| !b.applied && b.weight > 0.0)
                    .map(|b| format!("'{}' ({})", b.query, signed(b.weight)))
                    .collect();
                match demoting.len() {
                    0 => reason.push_str(": no demoting boost applied"),
                    1 => write!(reason, ": demoted by boost {}", demoting[0]).expect("string"),
                    _ => write!(reason, ": demoted by boosts {}", demoting.join(", "))
                        .expect("string"),
                }
                if !missing.is_empty() {
                    write!(
                        reason,
                        "; boosts that did not apply: {}",
                        missing.join(", ")
                    )
                    .expect("string");
                }
                reason
            }
        }
    }
}

/// A score or weight as people write it: `1.0`, `0.5`, `0.25`, without float noise.
pub fn number(value: f64) -> String {
    let text = format!("{value:.4}");
    let trimmed = text.trim_end_matches('0');
    let trimmed = trimmed
        .strip_suffix('.')
        .map_or(trimmed.to_owned(), |t| format!("{t}.0"));
    if trimmed == "-0.0" {
        "0.0".to_owned()
    } else {
        trimmed
    }
}

/// A weight with its sign: `+0.5`, `-1.0`.
pub fn signed(value: f64) -> String {
    if value < 0.0 {
        number(value)
    } else {
        format!("+{}", number(value))
    }
}

/// Feed and rule text in a demotion line is cut here: a line, not a paragraph.
const DEMOTION_TEXT_MAX: usize = 200;

/// The demoting boosts that applied, then each demoting term (as written, and the text it
/// matched), cleaned for one line; the same for mail and the hit page.
pub fn demotion_lines<'a>(
    score: Option<&ScoreBreakdown>,
    demoting_terms: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<String> {
    let mut lines: Vec<String> = score
        .iter()
        .flat_map(|s| s.demoted_by())
        .map(|b| {
            format!(
                "boost '{}' ({})",
                header_text(&b.query, DEMOTION_TEXT_MAX),
                signed(b.weight)
            )
        })
        .collect();
    for (term, text) in demoting_terms {
        let line = format!(
            "\"{}\" ({})",
            header_text(text, DEMOTION_TEXT_MAX),
            header_text(term, DEMOTION_TEXT_MAX)
        );
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    lines
}

/// The node's span widened over the parentheses that group it: a parsed group's span covers
/// only its operands, so a node that begins or ends with a group (`(a OR b) AND c`,
/// `title:(x)`) would otherwise show one parenthesis of a pair. `parens` are the clause's
/// grouping parentheses ([`query::parentheses`]), so those in phrases and regexes do not count.
fn written_span(clause: &str, parens: &[(usize, bool)], span: Span) -> (usize, usize) {
    let (mut start, mut end) = (span.start.min(clause.len()), span.end.min(clause.len()));
    let (mut depth, mut lowest) = (0isize, 0isize);
    for &(_, open) in parens.iter().filter(|(at, _)| (start..end).contains(at)) {
        depth += if open { 1 } else { -1 };
        lowest = lowest.min(depth);
    }
    let is_paren = |at: usize, open: bool| parens.contains(&(at, open));
    // Closing parentheses inside want their openings just before the span, and openings
    // inside want their closings just after it.
    for _ in 0..-lowest {
        let before = clause[..start].trim_end();
        match before.len().checked_sub(1) {
            Some(at) if is_paren(at, true) => start = at,
            _ => break,
        }
    }
    for _ in 0..depth - lowest {
        let after = &clause[end..];
        let at = end + (after.len() - after.trim_start().len());
        if !is_paren(at, false) {
            break;
        }
        end = at + 1;
    }
    (start, end)
}

/// One item's evaluation of written clauses.
struct Walk<'m, 'i, 's> {
    matcher: &'m Matcher,
    item: &'s ItemText<'i>,
    scratch: &'s mut Scratch,
}

impl Walk<'_, '_, '_> {
    fn occurs(&mut self, term: u32) -> bool {
        self.matcher.term_occurrences(term, self.item, self.scratch) > 0
    }

    /// The same rules as `Matcher::eval`, over the written shape.
    fn value(&mut self, shape: &Shape) -> bool {
        match &shape.kind {
            ShapeKind::Term(term) => self.occurs(*term),
            ShapeKind::And(items) => items.iter().all(|s| self.value(s)),
            ShapeKind::Or(items) => items.iter().any(|s| self.value(s)),
            ShapeKind::Not(inner) => !self.value(inner),
            ShapeKind::Field(_, inner) => self.value(inner),
            ShapeKind::Near(distance, left, right) => {
                let mut lefts = Vec::new();
                self.spans(left, &mut lefts);
                if lefts.is_empty() {
                    return false;
                }
                let mut rights = Vec::new();
                self.spans(right, &mut rights);
                if rights.is_empty() {
                    return false;
                }
                ready_breaks(self.scratch);
                any_within(&lefts, &rights, *distance, spacing(self.item, self.scratch))
            }
        }
    }

    /// The same rules as `Matcher::spans`.
    fn spans(&mut self, shape: &Shape, out: &mut Vec<Occurrence>) {
        match &shape.kind {
            ShapeKind::Term(term) => {
                if self.occurs(*term) {
                    out.extend_from_slice(&self.scratch.term_occurrences[*term as usize]);
                }
            }
            ShapeKind::Or(items) => items.iter().for_each(|s| self.spans(s, out)),
            ShapeKind::And(items) => {
                if items.iter().all(|s| self.value(s)) {
                    items.iter().for_each(|s| self.spans(s, out));
                }
            }
            ShapeKind::Near(distance, left, right) => {
                let mut lefts = Vec::new();
                let mut rights = Vec::new();
                self.spans(left, &mut lefts);
                self.spans(right, &mut rights);
                if !lefts.is_empty() && !rights.is_empty() {
                    ready_breaks(self.scratch);
                    push_near_spans(
                        &lefts,
                        &rights,
                        *distance,
                        spacing(self.item, self.scratch),
                        out,
                    );
                }
            }
            ShapeKind::Field(_, inner) => self.spans(inner, out),
            ShapeKind::Not(_) => {}
        }
    }

    /// A term's occurrences, a list's under the entries that matched.
    fn found(&mut self, term: u32, out: &mut Vec<Found>) {
        if !self.occurs(term) {
            return;
        }
        let matcher = self.matcher;
        let def = &matcher.terms[term as usize];
        if let TermKind::Any(members) = &def.kind {
            for &member in members {
                self.found(member, out);
            }
            return;
        }
        for o in self.scratch.term_occurrences[term as usize]
            .iter()
            .take(MAX_OCCURRENCES_PER_TERM)
        {
            let (start, end) = (o.disp_start as usize, o.disp_end as usize);
            // A list written per language repeats entries (`satellite*` in English and
            // French): one occurrence is enough.
            if out
                .iter()
                .any(|f| (f.field, f.start, f.end) == (o.field, start, end) && f.term == def.label)
            {
                continue;
            }
            out.push(Found {
                term: def.label.clone(),
                field: o.field,
                start,
                end,
                text: self.item.get(o.field)[start..end].to_owned(),
            });
        }
    }

    fn node(&mut self, shape: &Shape, clause: &WrittenClause) -> NodeExplanation {
        let (start, end) = written_span(&clause.text, &clause.parens, shape.span);
        let mut node = NodeExplanation {
            op: Op::Term,
            text: clause.text[start..end].to_owned(),
            start,
            end,
            value: self.value(shape),
            field: None,
            distance: None,
            matches: Vec::new(),
            children: Vec::new(),
        };
        match &shape.kind {
            ShapeKind::Term(term) => self.found(*term, &mut node.matches),
            ShapeKind::And(items) | ShapeKind::Or(items) => {
                node.op = if matches!(shape.kind, ShapeKind::And(_)) {
                    Op::And
                } else {
                    Op::Or
                };
                node.children = items.iter().map(|s| self.node(s, clause)).collect();
            }
            ShapeKind::Not(inner) => {
                node.op = Op::Not;
                node.children = vec![self.node(inner, clause)];
            }
            ShapeKind::Near(distance, left, right) => {
                node.op = Op::Near;
                node.distance = Some(*distance);
                node.children = vec![self.node(left, clause), self.node(right, clause)];
            }
            ShapeKind::Field(field, inner) => {
                node.op = Op::Field;
                node.field = Some(*field);
                node.children = vec![self.node(inner, clause)];
            }
        }
        node
    }
}

impl Matcher {
    /// Why indicator `indicator` (its index in the order added) fires or not on `item`,
    /// whether or not it would be a candidate.
    ///
    /// # Panics
    /// When `indicator` is not an index below [`Matcher::indicator_count`].
    pub fn explain(&self, item: &ItemText<'_>, indicator: usize) -> Explanation {
        let mut scratch = self.scratch();
        self.find_occurrences(item, &mut scratch, false);
        self.explain_found(item, indicator, &mut scratch)
    }

    /// Explanations for every indicator, in indicator order; the item is scanned once.
    pub fn explain_all(&self, item: &ItemText<'_>) -> Vec<Explanation> {
        let mut scratch = self.scratch();
        self.find_occurrences(item, &mut scratch, false);
        (0..self.indicators.len())
            .map(|index| self.explain_found(item, index, &mut scratch))
            .collect()
    }

    fn explain_found(
        &self,
        item: &ItemText<'_>,
        indicator: usize,
        scratch: &mut Scratch,
    ) -> Explanation {
        let compiled = &self.indicators[indicator];
        let written = &self.written[indicator];
        let mut walk = Walk {
            matcher: self,
            item,
            scratch,
        };
        let tree = walk.node(&written.query.shape, &written.query);
        let boosts: Vec<BoostExplanation> = written
            .boosts
            .iter()
            .zip(&compiled.boosts)
            .map(|(clause, boost)| {
                let tree = walk.node(&clause.shape, clause);
                BoostExplanation {
                    query: clause.text.clone(),
                    weight: boost.weight,
                    applied: tree.value,
                    tree,
                }
            })
            .collect();
        let score = boosts
            .iter()
            .filter(|b| b.applied)
            .fold(BASE_SCORE, |score, b| score + b.weight);
        let verdict = if !tree.value {
            Verdict::QueryFalse
        } else if score + SCORE_EPSILON < compiled.min_score {
            Verdict::BelowMinScore
        } else {
            Verdict::Fired
        };
        let mut failed = Vec::new();
        tree.failures(&mut failed);
        let mut explanation = Explanation {
            indicator,
            verdict,
            fired: verdict == Verdict::Fired,
            reason: String::new(),
            query: ClauseExplanation {
                text: written.query.text.clone(),
                value: tree.value,
                tree,
            },
            failed,
            boosts,
            base_score: BASE_SCORE,
            score,
            min_score: compiled.min_score,
        };
        explanation.reason = explanation.reason();
        explanation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_written() {
        assert_eq!(number(1.0), "1.0");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(1.0 + 0.1 + 0.2), "1.3");
        assert_eq!(number(-1.0), "-1.0");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(signed(0.5), "+0.5");
        assert_eq!(signed(-1.0), "-1.0");
    }

    #[test]
    fn a_node_is_shown_with_the_parentheses_that_group_it() {
        let cases = [
            // The field's span ends at `b`; the NEAR's right operand is `c d`.
            ("title:(@a OR b) NEAR/3 (c d)", (0, 14), "title:(@a OR b)"),
            ("title:(@a OR b) NEAR/3 (c d)", (24, 27), "c d"),
            (
                "title:(@a OR b) NEAR/3 (c d)",
                (0, 27),
                "title:(@a OR b) NEAR/3 (c d)",
            ),
            // An AND between two groups, one holding a regex with parentheses of its own.
            (
                "(a OR /(x|y)\\)/) AND b AND (c OR (d AND e))",
                (1, 42),
                "(a OR /(x|y)\\)/) AND b AND (c OR (d AND e))",
            ),
            (
                "(a OR /(x|y)\\)/) AND b AND (c OR (d AND e))",
                (28, 42),
                "c OR (d AND e)",
            ),
            ("\"(a)\" b", (0, 7), "\"(a)\" b"),
        ];
        for (clause, (start, end), want) in cases {
            let parens = query::parentheses(clause);
            let (start, end) = written_span(clause, &parens, Span { start, end });
            assert_eq!(&clause[start..end], want, "{clause}");
        }
    }
}
