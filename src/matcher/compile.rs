//! Compiling parsed queries into the [`Matcher`]'s automaton, terms and trees.

use std::collections::HashMap;

use regex::{Regex, RegexBuilder};
use regex_syntax::hir::{Class, Hir, HirKind};

use super::explain::{Shape, Written, WrittenClause};
use super::query::{Expr, QueryError, Term, Word};
use super::{
    Boost, CompiledIndicator, LIST_HEAD, Matcher, NO_HEAD, Needle, Node, Pattern, StartFilter,
    TermDef, TermKind, WordTrie,
};
use crate::text::FieldMask;

/// One entry of a named list, already parsed.
#[derive(Clone, Debug)]
pub struct ListEntry {
    /// The entry as written, for evidence labels.
    pub label: String,
    pub words: Vec<Word>,
}

/// A query or boost clause that does not compile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    /// `None` for the main query, `Some(i)` for the i-th boost clause.
    pub boost: Option<usize>,
    pub error: QueryError,
}

/// A regex term may not compile to more than this many bytes: regexes run on every item.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The most search-term text the rules may hold, each distinct term once. The shipped rules
/// hold about 60 KB; building the matcher takes about 160 bytes of memory a byte of terms that
/// share no prefix (4 MiB of them peaked at 650 MB in `check`), and a daemon builds new rules
/// beside the running ones, so the 64 MiB that once bounded this let one mistaken file ask
/// for ten gigabytes before it was refused.
pub(crate) const MAX_PATTERN_BYTES: usize = 4 << 20;

/// The most search-term text compiled, counted at every use: a list is compiled again for
/// each query that names it (in that query's fields), so a short file could ask for endless
/// work; the repeats cost time, not memory, and `bench match`'s 200 indicators over the
/// shipped lists compile about 8 MB.
const MAX_COMPILED_BYTES: usize = 64 << 20;

/// Collects lists and indicators, then builds one [`Matcher`].
#[derive(Debug, Default)]
pub struct MatcherBuilder {
    pattern_ids: HashMap<(String, bool), u32>,
    /// Bytes of search terms compiled so far, repeats included, held under
    /// [`MAX_COMPILED_BYTES`].
    compiled_bytes: usize,
    /// Bytes of the distinct patterns, held under [`MAX_PATTERN_BYTES`].
    pattern_bytes: usize,
    pattern_texts: Vec<String>,
    patterns: Vec<Pattern>,
    regex_ids: HashMap<String, u32>,
    regexes: Vec<Regex>,
    regex_needles: Vec<Option<Needle>>,
    term_ids: HashMap<(String, u8), u32>,
    terms: Vec<TermDef>,
    lists: HashMap<String, Vec<ListEntry>>,
    indicators: Vec<CompiledIndicator>,
    /// Per indicator, the terms of which one must occur for its query to be true: what makes
    /// it a candidate (see [`MatcherBuilder::triggers`]).
    query_terms: Vec<Vec<u32>>,
    /// Per indicator, its clauses as written, for explanations.
    written: Vec<Written>,
}

/// Terms one of which must occur for a tree to be true, and what finding them costs.
struct Trigger {
    cost: u64,
    terms: Vec<u32>,
}

/// A regex among the triggers runs over every item's display text; a trie pattern costs a
/// bit in a table the scan fills anyway.
const REGEX_TRIGGER_COST: u64 = 256;

/// Collecting the spans of both operands, beyond finding them.
const NEAR_COST: u64 = 4;

/// What compiling one clause collects besides its tree.
#[derive(Default)]
struct ClauseTerms {
    all: Vec<u32>,
    positive: Vec<u32>,
    /// The term of each leaf of the expression, in the order `compile` visits them.
    leaves: Vec<u32>,
}

/// A query or boost clause: its text as written and its parsed form, whose spans point into
/// the text.
#[derive(Clone, Copy, Debug)]
pub struct Clause<'a> {
    pub text: &'a str,
    pub expr: &'a Expr,
}

impl MatcherBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a named list. An entry that another entry of the list already matches wherever it
    /// matches (the same words after folding, or `Kursk` beside `Kursk*`) is dropped: lists
    /// written per language repeat names across languages, and each kept duplicate would cost
    /// a term to evaluate on every item and a repeated line in evidence. Comparing every pair
    /// is quadratic, so a list longer than [`COVER_CHECK_LIMIT`] only loses exact repeats.
    pub fn add_list(&mut self, name: &str, entries: Vec<ListEntry>) {
        let mut kept: Vec<ListEntry> = Vec::with_capacity(entries.len());
        if entries.len() > COVER_CHECK_LIMIT {
            let mut seen = std::collections::HashSet::new();
            kept.extend(entries.into_iter().filter(|e| seen.insert(e.words.clone())));
        } else {
            for entry in entries {
                if kept.iter().any(|k| covers(&k.words, &entry.words)) {
                    continue;
                }
                kept.retain(|k| !covers(&entry.words, &k.words));
                kept.push(entry);
            }
        }
        self.lists.insert(name.to_owned(), kept);
    }

    /// Compiles an indicator's query and boost clauses (each a clause and its weight).
    pub fn add_indicator(
        &mut self,
        query: Clause<'_>,
        boosts: &[(Clause<'_>, f64)],
        min_score: f64,
    ) -> Result<(), CompileError> {
        let mut query_terms = ClauseTerms::default();
        let node = self
            .compile(
                query.expr,
                FieldMask::DEFAULT,
                false,
                true,
                &mut query_terms,
            )
            .map_err(|error| CompileError { boost: None, error })?;
        if static_eval(&node) {
            return Err(CompileError {
                boost: None,
                error: QueryError::new(
                    query.expr.span(),
                    "this query would match items that contain none of its terms; \
                     give it a term that must be present",
                ),
            });
        }
        let mut written = Written {
            query: WrittenClause::new(query.text, Shape::new(query.expr, &query_terms.leaves)),
            boosts: Vec::with_capacity(boosts.len()),
        };
        let mut compiled_boosts = Vec::with_capacity(boosts.len());
        for (index, (clause, weight)) in boosts.iter().enumerate() {
            let mut terms = ClauseTerms::default();
            let node = self
                .compile(clause.expr, FieldMask::DEFAULT, false, true, &mut terms)
                .map_err(|error| CompileError {
                    boost: Some(index),
                    error,
                })?;
            written.boosts.push(WrittenClause::new(
                clause.text,
                Shape::new(clause.expr, &terms.leaves),
            ));
            compiled_boosts.push(Boost {
                node: self.order_children(node),
                weight: *weight,
                evidence_terms: terms.positive,
                text: written.boosts[index].text.clone(),
            });
        }
        dedup(&mut query_terms.positive);
        let mut triggers = match self.triggers(&node) {
            Some(trigger) => trigger.terms,
            // Only a query under NOT says nothing of which term must occur; static_eval has
            // made sure it needs one of them.
            None => query_terms.all,
        };
        self.expand_lists(&mut triggers);
        dedup(&mut triggers);
        let node = self.order_children(node);
        self.indicators.push(CompiledIndicator {
            query: node,
            boosts: compiled_boosts,
            min_score,
            evidence_terms: query_terms.positive,
        });
        self.query_terms.push(triggers);
        self.written.push(written);
        Ok(())
    }

    pub fn build(self) -> Matcher {
        let trie = WordTrie::build(&self.pattern_texts);
        let start_filter = StartFilter::new(
            self.pattern_texts
                .iter()
                .map(|t| t.as_bytes())
                .zip(&self.patterns),
        )
        .map(Box::new);
        let mut pattern_users = vec![Vec::new(); self.patterns.len()];
        let mut regex_users = vec![Vec::new(); self.regexes.len()];
        // The fields some term reads each regex in: a regex only under `title:` (a headline's
        // shape) never runs over a summary or a body.
        let mut regex_fields = vec![FieldMask(0); self.regexes.len()];
        for term in &self.terms {
            if let TermKind::Regex(r) = term.kind {
                regex_fields[r as usize].0 |= term.fields.0;
            }
        }
        for (indicator, terms) in self.query_terms.iter().enumerate() {
            for &term in terms {
                match &self.terms[term as usize].kind {
                    TermKind::Segments(segments) => {
                        pattern_users[segments[0] as usize].push(indicator as u32)
                    }
                    TermKind::Regex(r) => regex_users[*r as usize].push(indicator as u32),
                    // A list's members are in `terms` themselves.
                    TermKind::Any(_) => {}
                }
            }
        }
        for users in pattern_users.iter_mut().chain(regex_users.iter_mut()) {
            dedup(users);
        }
        let term_heads = self
            .terms
            .iter()
            .map(|term| match &term.kind {
                TermKind::Segments(segments) => segments[0],
                TermKind::Any(_) => LIST_HEAD,
                TermKind::Regex(_) => NO_HEAD,
            })
            .collect();
        let mut pattern_members = vec![Vec::new(); self.patterns.len()];
        for (list, term) in self.terms.iter().enumerate() {
            if let TermKind::Any(members) = &term.kind {
                for (position, &member) in members.iter().enumerate() {
                    match &self.terms[member as usize].kind {
                        TermKind::Segments(segments) => pattern_members[segments[0] as usize]
                            .push((list as u32, position as u32)),
                        // List entries are words: `list_terms` makes them with `words_term`.
                        TermKind::Regex(_) | TermKind::Any(_) => {
                            unreachable!("a list entry is words")
                        }
                    }
                }
            }
        }
        let mut indicators = self.indicators;
        let mut counts = HashMap::new();
        for indicator in &indicators {
            count_subtrees(&indicator.query, &mut counts);
            for boost in &indicator.boosts {
                count_subtrees(&boost.node, &mut counts);
            }
        }
        let mut shared = HashMap::new();
        for indicator in &mut indicators {
            share_subtrees(&mut indicator.query, &counts, &mut shared);
            for boost in &mut indicator.boosts {
                share_subtrees(&mut boost.node, &counts, &mut shared);
            }
        }
        Matcher {
            trie,
            start_filter,
            indicators,
            shared_nodes: shared.len(),
            term_heads,
            pattern_members,
            patterns: self.patterns,
            regexes: self.regexes,
            regex_needles: self.regex_needles,
            regex_fields,
            terms: self.terms,
            pattern_users,
            regex_users,
            written: self.written,
        }
    }

    /// Terms of which at least one occurs in every item the tree is true on, chosen to be as
    /// few and as cheap to find as the tree allows; `None` when NOT hides which terms matter.
    ///
    /// An `AND` is true only where each operand is, so the operand with the cheapest triggers
    /// speaks for all; an `OR` needs the triggers of every operand; a `NEAR` is true only where
    /// both operands have spans, which needs what each operand's truth needs. Indicators are
    /// evaluated only on items holding one of their query's triggers: for rules that narrow a
    /// broad query with one more word, that word alone decides which items are looked at.
    fn triggers(&self, node: &Node) -> Option<Trigger> {
        match node {
            Node::Term(term) => Some(Trigger {
                cost: self.trigger_cost(*term),
                terms: vec![*term],
            }),
            Node::And(items) => items
                .iter()
                .filter_map(|item| self.triggers(item))
                .min_by_key(|trigger| trigger.cost),
            Node::Or(items) => {
                let mut all = Trigger {
                    cost: 0,
                    terms: Vec::new(),
                };
                for item in items {
                    let trigger = self.triggers(item)?;
                    all.cost = all.cost.saturating_add(trigger.cost);
                    all.terms.extend(trigger.terms);
                }
                Some(all)
            }
            Node::Near(_, left, right) => [left, right]
                .into_iter()
                .filter_map(|side| self.triggers(side))
                .min_by_key(|trigger| trigger.cost),
            Node::Not(_) => None,
            Node::Shared(_, inner) => self.triggers(inner),
        }
    }

    /// What finding a term costs on every item: a pattern of the trie each, and a regex, which
    /// runs over the display text instead, as much as many patterns.
    fn trigger_cost(&self, term: u32) -> u64 {
        match &self.terms[term as usize].kind {
            TermKind::Segments(_) => 1,
            TermKind::Any(members) => members.len() as u64,
            TermKind::Regex(_) => REGEX_TRIGGER_COST,
        }
    }

    /// A list is found by its members' patterns: they stand for it among the triggers.
    fn expand_lists(&self, terms: &mut Vec<u32>) {
        let lists: Vec<u32> = terms
            .iter()
            .copied()
            .filter(|&t| matches!(self.terms[t as usize].kind, TermKind::Any(_)))
            .collect();
        for list in lists {
            if let TermKind::Any(members) = &self.terms[list as usize].kind {
                terms.extend(members);
            }
        }
    }

    /// The tree with the operands of each `AND` and `OR` in the order that answers soonest:
    /// the cheapest to find first, so that an `AND` whose rare operand is absent stops before
    /// the common ones are asked, and a regex, which runs over the display text, is asked only
    /// when the trie's terms have not answered. Operands have no side effects, so the value is
    /// the same in any order.
    fn order_children(&self, node: Node) -> Node {
        let is_and = matches!(node, Node::And(_));
        match node {
            Node::And(items) | Node::Or(items) => {
                let mut items: Vec<(u64, Node)> = items
                    .into_iter()
                    .map(|item| {
                        let item = self.order_children(item);
                        (self.eval_cost(&item), item)
                    })
                    .collect();
                items.sort_by_key(|(cost, _)| *cost);
                let items = items.into_iter().map(|(_, item)| item).collect();
                if is_and {
                    Node::And(items)
                } else {
                    Node::Or(items)
                }
            }
            Node::Not(inner) => Node::Not(Box::new(self.order_children(*inner))),
            Node::Near(distance, left, right) => Node::Near(
                distance,
                Box::new(self.order_children(*left)),
                Box::new(self.order_children(*right)),
            ),
            other => other,
        }
    }

    /// A rough cost of evaluating a tree: its terms' trigger costs added up.
    fn eval_cost(&self, node: &Node) -> u64 {
        match node {
            Node::Term(term) => self.trigger_cost(*term),
            Node::And(items) | Node::Or(items) => items
                .iter()
                .fold(0, |sum, item| sum.saturating_add(self.eval_cost(item))),
            Node::Not(inner) | Node::Shared(_, inner) => self.eval_cost(inner),
            Node::Near(_, left, right) => self
                .eval_cost(left)
                .saturating_add(self.eval_cost(right))
                .saturating_add(NEAR_COST),
        }
    }

    fn compile(
        &mut self,
        expr: &Expr,
        fields: FieldMask,
        in_near: bool,
        positive: bool,
        terms: &mut ClauseTerms,
    ) -> Result<Node, QueryError> {
        Ok(match expr {
            Expr::Term { term, source, span } => {
                let id = match term {
                    Term::Words(words) => self.words_term(words, fields, source, *span)?,
                    Term::Regex(pattern) => self.regex_term(pattern, fields, source, *span)?,
                    Term::List(name) => {
                        let members = self.list_terms(name, fields, *span)?;
                        terms.all.extend(&members);
                        let key = format!("l{name}");
                        self.term(key, fields, TermKind::Any(members), source)
                    }
                };
                terms.all.push(id);
                terms.leaves.push(id);
                if positive {
                    terms.positive.push(id);
                }
                Node::Term(id)
            }
            Expr::And(items) => Node::And(
                items
                    .iter()
                    .map(|e| self.compile(e, fields, in_near, positive, terms))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Or(items) => Node::Or(
                items
                    .iter()
                    .map(|e| self.compile(e, fields, in_near, positive, terms))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Not(inner, span) => {
                if in_near {
                    return Err(QueryError::new(*span, "NOT cannot be used inside NEAR"));
                }
                Node::Not(Box::new(
                    self.compile(inner, fields, false, !positive, terms)?,
                ))
            }
            Expr::Near {
                distance,
                left,
                right,
                ..
            } => Node::Near(
                *distance,
                Box::new(self.compile(left, fields, true, positive, terms)?),
                Box::new(self.compile(right, fields, true, positive, terms)?),
            ),
            Expr::Field { field, inner, .. } => {
                self.compile(inner, field.bit(), in_near, positive, terms)?
            }
        })
    }

    fn words_term(
        &mut self,
        words: &[Word],
        fields: FieldMask,
        label: &str,
        span: super::query::Span,
    ) -> Result<u32, QueryError> {
        // A wildcard ends a pattern: the next word must start a new one, checked for adjacency
        // when the term is evaluated.
        let mut segments = Vec::new();
        let mut current: Vec<&str> = Vec::new();
        for (i, word) in words.iter().enumerate() {
            current.push(&word.text);
            if word.prefix || i == words.len() - 1 {
                let text = current.join(" ");
                self.compiled_bytes += text.len();
                if self.compiled_bytes > MAX_COMPILED_BYTES {
                    return Err(QueryError::new(
                        span,
                        format!(
                            "the rules' search terms, counted at every use of their lists, pass \
                             {} MiB: shorten the lists or name them in fewer queries",
                            MAX_COMPILED_BYTES >> 20
                        ),
                    ));
                }
                segments.push(self.pattern(&text, word.prefix, current.len()));
                if self.pattern_bytes > MAX_PATTERN_BYTES {
                    return Err(QueryError::new(
                        span,
                        format!(
                            "the rules' search terms pass {} MiB: shorten the lists or split \
                             the indicators",
                            MAX_PATTERN_BYTES >> 20
                        ),
                    ));
                }
                current.clear();
            }
        }
        let key = segments
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        Ok(self.term(
            format!("w{key}"),
            fields,
            TermKind::Segments(segments),
            label,
        ))
    }

    fn pattern(&mut self, text: &str, prefix: bool, words: usize) -> u32 {
        if let Some(&id) = self.pattern_ids.get(&(text.to_owned(), prefix)) {
            return id;
        }
        let id = self.patterns.len() as u32;
        self.pattern_bytes += text.len();
        self.pattern_ids.insert((text.to_owned(), prefix), id);
        self.pattern_texts.push(text.to_owned());
        self.patterns.push(Pattern {
            prefix,
            extra_tokens: words as u32 - 1,
        });
        id
    }

    fn regex_term(
        &mut self,
        pattern: &str,
        fields: FieldMask,
        label: &str,
        span: super::query::Span,
    ) -> Result<u32, QueryError> {
        let id = match self.regex_ids.get(pattern) {
            Some(&id) => id,
            None => {
                let regex = RegexBuilder::new(pattern)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| {
                        QueryError::new(span, format!("invalid regex: {}", flatten(&e)))
                    })?;
                let id = self.regexes.len() as u32;
                self.regexes.push(regex);
                self.regex_needles.push(
                    literal_needle(pattern)
                        .and_then(|(needle, caseless)| Needle::new(&needle, caseless)),
                );
                self.regex_ids.insert(pattern.to_owned(), id);
                id
            }
        };
        Ok(self.term(format!("r{id}"), fields, TermKind::Regex(id), label))
    }

    fn list_terms(
        &mut self,
        name: &str,
        fields: FieldMask,
        span: super::query::Span,
    ) -> Result<Vec<u32>, QueryError> {
        let Some(entries) = self.lists.get(name).cloned() else {
            let hint = match closest_name(name, self.lists.keys().map(String::as_str)) {
                Some(near) => format!("; did you mean '@{near}'?"),
                None if self.lists.is_empty() => "; no lists are defined".to_owned(),
                None => format!("; {} lists are defined under 'lists:'", self.lists.len()),
            };
            return Err(QueryError::new(
                span,
                format!("unknown list '@{name}'{hint}"),
            ));
        };
        entries
            .iter()
            .map(|entry| {
                let label = format!("@{name}: {}", entry.label);
                self.words_term(&entry.words, fields, &label, span)
            })
            .collect()
    }

    fn term(&mut self, key: String, fields: FieldMask, kind: TermKind, label: &str) -> u32 {
        // The label is part of the key: the same words reached through a list and written
        // directly are one pattern but two terms, so evidence names how each was asked for.
        let key = (format!("{key}\u{0}{label}"), fields.0);
        if let Some(&id) = self.term_ids.get(&key) {
            return id;
        }
        let id = self.terms.len() as u32;
        self.terms.push(TermDef {
            kind,
            fields,
            label: std::sync::Arc::from(label),
        });
        self.term_ids.insert(key, id);
        id
    }
}

/// A subtree worth evaluating once per item when it repeats: one that is more than a term
/// or its negation. Its text is its identity, since term ids already say fields and labels.
fn subtree_key(node: &Node) -> Option<String> {
    match node {
        Node::And(_) | Node::Or(_) | Node::Near(..) => Some(format!("{node:?}")),
        Node::Term(_) | Node::Not(_) | Node::Shared(..) => None,
    }
}

fn count_subtrees(node: &Node, counts: &mut HashMap<String, u32>) {
    if let Some(key) = subtree_key(node) {
        *counts.entry(key).or_default() += 1;
    }
    match node {
        Node::And(items) | Node::Or(items) => {
            items.iter().for_each(|n| count_subtrees(n, counts));
        }
        Node::Near(_, left, right) => {
            count_subtrees(left, counts);
            count_subtrees(right, counts);
        }
        Node::Not(inner) | Node::Shared(_, inner) => count_subtrees(inner, counts),
        Node::Term(_) => {}
    }
}

/// Wraps every subtree that occurs more than once in a [`Node::Shared`], one id per distinct
/// subtree.
fn share_subtrees(node: &mut Node, counts: &HashMap<String, u32>, ids: &mut HashMap<String, u32>) {
    // The key is taken before the children are wrapped, as `count_subtrees` saw them.
    let key = subtree_key(node);
    match node {
        Node::And(items) | Node::Or(items) => {
            items
                .iter_mut()
                .for_each(|n| share_subtrees(n, counts, ids));
        }
        Node::Near(_, left, right) => {
            share_subtrees(left, counts, ids);
            share_subtrees(right, counts, ids);
        }
        Node::Not(inner) | Node::Shared(_, inner) => share_subtrees(inner, counts, ids),
        Node::Term(_) => {}
    }
    if let Some(key) = key
        && counts.get(&key).is_some_and(|&count| count > 1)
    {
        let next = ids.len() as u32;
        let id = *ids.entry(key).or_insert(next);
        let inner = std::mem::replace(node, Node::Term(0));
        *node = Node::Shared(id, Box::new(inner));
    }
}

/// The value of a tree when none of its terms occur.
fn static_eval(node: &Node) -> bool {
    match node {
        Node::Term(_) | Node::Near(..) => false,
        Node::And(items) => items.iter().all(static_eval),
        Node::Or(items) => items.iter().any(static_eval),
        Node::Not(inner) => !static_eval(inner),
        Node::Shared(_, inner) => static_eval(inner),
    }
}

/// A search for text that every match of the regex contains, when there is such text: a regex
/// scans the whole field, while a literal is found with memchr, and the regex need not run on
/// a field without it. With it, whether its letters are compared ignoring ASCII case: only
/// when the regex folds case somewhere (`(?i)`, `[Aa]`), since a caseless search costs more.
fn literal_needle(pattern: &str) -> Option<(Vec<u8>, bool)> {
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    Some(required_text(&hir).longest)
        .filter(|needle| !needle.is_empty())
        .map(|needle| (needle, folds_case(&hir)))
}

/// Whether some class of the regex is one ASCII letter in either case, which is how `(?i)`
/// and `[Aa]` write a letter: [`required_text`] then gives that letter small.
fn folds_case(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Class(class) => class_text(class).is_some_and(|text| {
            // A one-character class gives its character as written; a folded pair gives the
            // small letter of an uppercase-lowercase pair.
            let one_char = match class {
                Class::Unicode(class) => class.ranges().len() == 1,
                Class::Bytes(class) => class.ranges().len() == 1,
            };
            !one_char && text.iter().any(u8::is_ascii_alphabetic)
        }),
        HirKind::Capture(capture) => folds_case(&capture.sub),
        HirKind::Repetition(repetition) => folds_case(&repetition.sub),
        HirKind::Concat(items) | HirKind::Alternation(items) => items.iter().any(folds_case),
        HirKind::Empty | HirKind::Literal(_) | HirKind::Look(_) => false,
    }
}

/// What a regex says about the text of its matches.
struct RequiredText {
    /// Every match is exactly this text (up to ASCII case).
    whole: Option<Vec<u8>>,
    /// Text that occurs in every match (up to ASCII case); empty if none is known.
    longest: Vec<u8>,
}

fn required_text(hir: &Hir) -> RequiredText {
    let exact = |bytes: Vec<u8>| RequiredText {
        longest: bytes.clone(),
        whole: Some(bytes),
    };
    let unknown = || RequiredText {
        whole: None,
        longest: Vec::new(),
    };
    match hir.kind() {
        // Zero-width: the text on either side stays adjacent.
        HirKind::Empty | HirKind::Look(_) => exact(Vec::new()),
        HirKind::Literal(literal) => exact(literal.0.to_vec()),
        HirKind::Class(class) => class_text(class).map_or_else(unknown, exact),
        HirKind::Capture(capture) => required_text(&capture.sub),
        HirKind::Repetition(repetition) if repetition.min > 0 => RequiredText {
            whole: None,
            longest: required_text(&repetition.sub).longest,
        },
        HirKind::Repetition(_) | HirKind::Alternation(_) => unknown(),
        HirKind::Concat(items) => {
            let mut run = Vec::new();
            let mut longest = Vec::new();
            let mut whole = true;
            for item in items {
                let found = required_text(item);
                match found.whole {
                    Some(bytes) => run.extend(bytes),
                    None => {
                        whole = false;
                        if run.len() > longest.len() {
                            longest = std::mem::take(&mut run);
                        }
                        run.clear();
                        if found.longest.len() > longest.len() {
                            longest = found.longest;
                        }
                    }
                }
            }
            if run.len() > longest.len() {
                longest = run.clone();
            }
            RequiredText {
                whole: whole.then_some(run),
                longest,
            }
        }
    }
}

/// The text a class matches when it is one character, or one ASCII letter in either case
/// (how `(?i)` writes a letter).
fn class_text(class: &Class) -> Option<Vec<u8>> {
    let (first, second) = match class {
        Class::Unicode(class) => match class.ranges() {
            [one] if one.start() == one.end() => {
                return Some(one.start().to_string().into_bytes());
            }
            [a, b] if a.start() == a.end() && b.start() == b.end() => {
                (u32::from(a.start()), u32::from(b.start()))
            }
            _ => return None,
        },
        Class::Bytes(class) => match class.ranges() {
            [one] if one.start() == one.end() => return Some(vec![one.start()]),
            [a, b] if a.start() == a.end() && b.start() == b.end() => {
                (u32::from(a.start()), u32::from(b.start()))
            }
            _ => return None,
        },
    };
    let upper = u8::try_from(first).ok().filter(u8::is_ascii_uppercase)?;
    (second == u32::from(upper.to_ascii_lowercase())).then(|| vec![upper.to_ascii_lowercase()])
}

/// Past this length (bytes) a mistyped name gets no edit-distance suggestion: a list name is
/// a word or two, and the distance is quadratic.
const MAX_SUGGESTED_NAME: usize = 64;

/// The defined name closest to a mistyped one, if it is close enough to be the one meant:
/// within a third of the name's length in edits (case ignored), or a name that contains it.
fn closest_name<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let wanted_lower = wanted.to_lowercase();
    let limit = (wanted.chars().count() / 3).max(1);
    names
        .filter_map(|name| {
            let lower = name.to_lowercase();
            let related = lower.contains(&wanted_lower) || wanted_lower.contains(&lower);
            // Names whose lengths differ by more than the limit cannot be within it, and a
            // name longer than any real one is not worth a quadratic distance.
            let length_gap = lower.chars().count().abs_diff(wanted_lower.chars().count());
            let distance = if length_gap > limit || wanted_lower.len() > MAX_SUGGESTED_NAME {
                usize::MAX
            } else {
                edit_distance(&wanted_lower, &lower)
            };
            (distance <= limit || related).then_some((distance, name))
        })
        .min()
        .map(|(_, name)| name)
}

/// Levenshtein distance over characters; names are short, so two rows suffice.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// Lists up to this long are checked pair by pair for entries that cover others (at most
/// about two million comparisons); longer ones, which no analyst writes by hand, only for
/// exact repeats.
const COVER_CHECK_LIMIT: usize = 2_000;

/// Whether every text `general` matches is one that `specific` matches: word for word, a
/// prefix word matches any word starting with it, a plain word only itself.
fn covers(general: &[Word], specific: &[Word]) -> bool {
    general.len() == specific.len()
        && general.iter().zip(specific).all(|(g, s)| {
            if g.prefix {
                s.text.starts_with(&g.text)
            } else {
                !s.prefix && g.text == s.text
            }
        })
}

fn dedup(ids: &mut Vec<u32>) {
    ids.sort_unstable();
    ids.dedup();
}

/// The regex crate's messages span several lines with a drawing of the pattern; keep the
/// last line, which says what is wrong.
fn flatten(error: &regex::Error) -> String {
    let text = error.to_string();
    text.lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .map(|l| {
            l.trim_start()
                .trim_start_matches("error:")
                .trim()
                .to_owned()
        })
        .unwrap_or_else(|| text.lines().last().unwrap_or("").trim().to_owned())
}

#[cfg(test)]
mod prefilter_tests {
    use super::*;

    fn needle(pattern: &str) -> String {
        let hir = regex_syntax::Parser::new().parse(pattern).unwrap();
        String::from_utf8(required_text(&hir).longest).unwrap()
    }

    #[test]
    fn a_needle_is_caseless_only_when_the_regex_folds_case() {
        let cases = [
            (r"(?:^|[^A-Za-z])the North(?:[^A-Za-z]|$)", Some(false)),
            (r"(?i)malligyong", Some(true)),
            (r"[Aa]b", Some(true)),
            (r"\d+호기", Some(false)),
            (r"(?i)ab|cd", None),
            (r"Sohae(?i:x)", Some(true)),
        ];
        for (pattern, want) in cases {
            let got = literal_needle(pattern).map(|(_, caseless)| caseless);
            assert_eq!(got, want, "pattern {pattern}");
        }
    }

    #[test]
    fn required_text_is_what_every_match_contains() {
        let cases = [
            (r"\d+호기", "호기"),
            (r"(?i)(^|[^\w-])lethal([^\w]|$)", "lethal"),
            (r"(?i)k", ""),
            (r"ab(c|d)efg", "efg"),
            (r"x?abc", "abc"),
            (r"(abc)+z", "abc"),
            (r"\bfoo\b bar", "foo bar"),
            (r"a|b", ""),
            (r"[Aa]b", "ab"),
        ];
        for (pattern, want) in cases {
            assert_eq!(needle(pattern), want, "pattern {pattern}");
        }
    }
}
