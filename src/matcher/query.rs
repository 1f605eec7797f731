//! The query language: lexer and parser from query text to an [`Expr`] tree.
//!
//! Grammar (precedence from loosest to tightest: OR, AND, NEAR, NOT):
//!
//! ```text
//! query   = or
//! or      = and ("OR" and)*
//! and     = near (["AND"] near)*          adjacent terms mean AND
//! near    = unary ("NEAR/" n unary)*      both sides within n words, either order
//! unary   = "NOT" unary | primary
//! primary = "(" or ")" | FIELD ":" primary | term
//! term    = word | word* | "phrase with words*" | @list | /regex/
//! ```
//!
//! Every node keeps the byte span of its text so that errors point at the bad token.

use std::fmt;

use crate::text::{Field, normalize_words};

/// A byte range in the query text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A query that failed to parse or compile: what is wrong and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    pub span: Span,
    pub message: String,
}

impl QueryError {
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        QueryError {
            span,
            message: message.into(),
        }
    }

    /// Renders the query's line with a caret line under the bad token. A long line is cut to
    /// a window around the token, marked with `…`: the message of a hostile rule file must not
    /// repeat it whole into the log.
    pub fn pointer(&self, query: &str) -> String {
        let start = floor_boundary(query, self.span.start);
        let line_start = query[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = query[line_start..]
            .find('\n')
            .map_or(query.len(), |i| line_start + i);
        let end = floor_boundary(query, self.span.end.clamp(start, line_end));
        let before: Vec<(usize, char)> = query[line_start..start].char_indices().collect();
        let (shown_start, cut_before) = match before.len().checked_sub(POINTER_CONTEXT) {
            Some(skip) if skip > 0 => (line_start + before[skip].0, true),
            _ => (line_start, false),
        };
        let token: Vec<(usize, char)> = query[start..end].char_indices().collect();
        let (token_end, cut_token) = match token.get(POINTER_CONTEXT) {
            Some(&(at, _)) => (start + at, true),
            None => (end, false),
        };
        let after_end = query[token_end..line_end]
            .char_indices()
            .nth(if cut_token { 0 } else { POINTER_CONTEXT })
            .map_or(line_end, |(at, _)| token_end + at);
        let mut line = String::from(if cut_before { "…" } else { "" });
        line.push_str(&query[shown_start..after_end]);
        if after_end < line_end {
            line.push('…');
        }
        let lead = usize::from(cut_before) + query[shown_start..start].chars().count();
        let width = query[start..token_end].chars().count().max(1);
        format!("  {line}\n  {}{}", " ".repeat(lead), "^".repeat(width))
    }
}

/// Characters of a long query line shown on each side of the bad token, and most of the
/// token shown.
const POINTER_CONTEXT: usize = 60;

/// `at`, or the character boundary before it, within `text`.
fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// One word of a literal term, already normalised; `prefix` when written with a trailing `*`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Word {
    pub text: String,
    pub prefix: bool,
}

/// A leaf of the query.
#[derive(Clone, Debug, PartialEq)]
pub enum Term {
    /// A word, a prefix or a phrase: consecutive normalised words.
    Words(Vec<Word>),
    /// `@name`: any entry of a named list.
    List(String),
    /// `/.../`: a regular expression over the display text.
    Regex(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Term {
        term: Term,
        /// The term as written, for evidence labels.
        source: String,
        span: Span,
    },
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>, Span),
    Near {
        distance: u32,
        left: Box<Expr>,
        right: Box<Expr>,
        span: Span,
    },
    Field {
        field: Field,
        inner: Box<Expr>,
        span: Span,
    },
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::Term { span, .. }
            | Expr::Not(_, span)
            | Expr::Near { span, .. }
            | Expr::Field { span, .. } => *span,
            Expr::And(items) | Expr::Or(items) => items
                .iter()
                .map(Expr::span)
                .reduce(Span::to)
                .unwrap_or(Span::new(0, 0)),
        }
    }
}

/// Deepest nesting accepted, so that hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;
/// Most `NEAR` operators in one chain. Real rules chain two or three; each link multiplies the
/// positions a match must weigh.
const MAX_NEAR_CHAIN: usize = 16;

/// Parses query text.
pub fn parse(query: &str) -> Result<Expr, QueryError> {
    let tokens = lex(query)?;
    let mut parser = Parser {
        tokens,
        position: 0,
        depth: 0,
        end: query.len(),
    };
    if parser.tokens.is_empty() {
        return Err(QueryError::new(Span::new(0, query.len()), "query is empty"));
    }
    let expr = parser.or()?;
    if let Some(token) = parser.peek() {
        let what = match token.kind {
            TokenKind::RParen => "unmatched ')'".to_owned(),
            _ => format!("unexpected {}", token.kind.describe()),
        };
        return Err(QueryError::new(token.span, what));
    }
    Ok(expr)
}

/// Parses one list entry: words separated by spaces (a phrase), any of them ending in `*`.
/// Suspicious but valid spellings in a query, as warnings: an operator written in lower or
/// mixed case between two terms (`a and b` searches for the word "and"), which the analyst
/// almost always meant as the operator.
pub fn lint(query: &str) -> Vec<QueryError> {
    let Ok(tokens) = lex(query) else {
        return Vec::new();
    };
    let is_term = |t: Option<&Token>| {
        t.is_some_and(|t| {
            matches!(
                t.kind,
                TokenKind::Term(_) | TokenKind::RParen | TokenKind::LParen
            )
        })
    };
    let mut warnings = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if !matches!(token.kind, TokenKind::Term(Term::Words(_))) || token.source.starts_with('"') {
            continue;
        }
        let lower = token.source.to_lowercase();
        let operator = match lower.as_str() {
            "and" | "or" | "not" | "near" => lower.to_uppercase(),
            near if near.starts_with("near/") => format!("NEAR/{}", &near[5..]),
            _ => continue,
        };
        let between = i > 0 && is_term(tokens.get(i - 1)) && is_term(tokens.get(i + 1));
        let leading_not = operator == "NOT" && is_term(tokens.get(i + 1));
        if between || leading_not {
            warnings.push(QueryError::new(
                token.span,
                format!(
                    "'{}' is searched for as a word; operators are upper case: did you mean {operator}? \
                     (quote it, \"{}\", to search for the word)",
                    token.source, token.source
                ),
            ));
        }
    }
    warnings
}

pub fn parse_list_entry(entry: &str) -> Result<Vec<Word>, QueryError> {
    let trimmed = entry.trim();
    let quoted = trimmed.strip_prefix('"').and_then(|s| s.strip_suffix('"'));
    let unquoted = quoted.unwrap_or(trimmed);
    let start = entry.find(unquoted).unwrap_or(0);
    if quoted.is_none()
        && let Some(name) = unquoted.strip_prefix('@')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
    {
        // Read as a word, '@dprk' would silently search for "dprk" alone.
        return Err(QueryError::new(
            Span::new(start, start + unquoted.len()),
            format!(
                "'{unquoted}' in a list is not a reference: a list cannot include another list; \
                 write its terms here, use {unquoted} in the query, or quote it (\"{unquoted}\") \
                 to search for the word"
            ),
        ));
    }
    literal_words(unquoted, start)
}

/// The byte offsets of the grouping parentheses of a query, `true` for an opening one; none
/// when it does not lex. Parentheses inside phrases and regexes are not among them.
pub(super) fn parentheses(query: &str) -> Vec<(usize, bool)> {
    lex(query)
        .unwrap_or_default()
        .iter()
        .filter_map(|token| match token.kind {
            TokenKind::LParen => Some((token.span.start, true)),
            TokenKind::RParen => Some((token.span.start, false)),
            _ => None,
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq)]
enum TokenKind {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Near(u32),
    Field(Field),
    Term(Term),
}

impl TokenKind {
    fn describe(&self) -> String {
        match self {
            TokenKind::LParen => "'('".into(),
            TokenKind::RParen => "')'".into(),
            TokenKind::And => "AND".into(),
            TokenKind::Or => "OR".into(),
            TokenKind::Not => "NOT".into(),
            TokenKind::Near(n) => format!("NEAR/{n}"),
            TokenKind::Field(f) => format!("field '{f}:'"),
            TokenKind::Term(_) => "term".into(),
        }
    }
}

#[derive(Clone, Debug)]
struct Token {
    kind: TokenKind,
    span: Span,
    source: String,
}

fn is_word_stop(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"')
}

fn lex(query: &str) -> Result<Vec<Token>, QueryError> {
    let mut tokens = Vec::new();
    let mut chars = query.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let simple = |kind| Token {
            kind,
            span: Span::new(start, start + 1),
            source: c.to_string(),
        };
        match c {
            '(' => {
                chars.next();
                tokens.push(simple(TokenKind::LParen));
            }
            ')' => {
                chars.next();
                tokens.push(simple(TokenKind::RParen));
            }
            '"' => {
                chars.next();
                let body_start = start + 1;
                let Some(close) = query[body_start..].find('"') else {
                    return Err(QueryError::new(
                        Span::new(start, query.len()),
                        "unterminated phrase: missing closing '\"'",
                    ));
                };
                let body_end = body_start + close;
                let body = &query[body_start..body_end];
                let span = Span::new(start, body_end + 1);
                if body.trim().is_empty() {
                    return Err(QueryError::new(span, "empty phrase"));
                }
                let words = literal_words(body, body_start)?;
                tokens.push(Token {
                    kind: TokenKind::Term(Term::Words(words)),
                    span,
                    source: query[span.start..span.end].to_owned(),
                });
                while chars.peek().is_some_and(|&(i, _)| i <= body_end) {
                    chars.next();
                }
            }
            '/' => {
                chars.next();
                let (pattern, end) = lex_regex(query, start)?;
                let span = Span::new(start, end);
                tokens.push(Token {
                    kind: TokenKind::Term(Term::Regex(pattern)),
                    span,
                    source: query[start..end].to_owned(),
                });
                while chars.peek().is_some_and(|&(i, _)| i < end) {
                    chars.next();
                }
            }
            _ => {
                let mut end = start;
                while let Some(&(i, ch)) = chars.peek() {
                    if is_word_stop(ch) {
                        break;
                    }
                    end = i + ch.len_utf8();
                    chars.next();
                }
                let word = &query[start..end];
                lex_word(word, start, &mut tokens)?;
            }
        }
    }
    Ok(tokens)
}

/// Lexes a regex starting at the `/` at `start`; returns the pattern and the end offset.
/// `\/` inside stands for a slash.
fn lex_regex(query: &str, start: usize) -> Result<(String, usize), QueryError> {
    let mut pattern = String::new();
    let mut escaped = false;
    for (i, c) in query[start + 1..].char_indices() {
        let at = start + 1 + i;
        if escaped {
            if c != '/' {
                pattern.push('\\');
            }
            pattern.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '/' {
            if pattern.is_empty() {
                return Err(QueryError::new(Span::new(start, at + 1), "empty regex"));
            }
            return Ok((pattern, at + 1));
        } else {
            pattern.push(c);
        }
    }
    Err(QueryError::new(
        Span::new(start, query.len()),
        "unterminated regex: missing closing '/'",
    ))
}

/// Lexes a bare word: field prefixes (`title:`), then an operator, a list reference or a
/// literal term. The prefixes are taken in a loop: a word of thousands of them must cost an
/// error from the parser's depth limit, not the stack of whichever thread reads the rules.
fn lex_word(word: &str, start: usize, tokens: &mut Vec<Token>) -> Result<(), QueryError> {
    let (mut word, mut start) = (word, start);
    while let Some(colon) = word.find(':') {
        let name = &word[..colon];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphabetic()) {
            break;
        }
        let Ok(field) = name.parse::<Field>() else {
            let known: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
            return Err(QueryError::new(
                Span::new(start, start + colon),
                format!("unknown field '{name}' (fields: {})", known.join(", ")),
            ));
        };
        tokens.push(Token {
            kind: TokenKind::Field(field),
            span: Span::new(start, start + colon + 1),
            source: word[..=colon].to_owned(),
        });
        word = &word[colon + 1..];
        start += colon + 1;
        if word.is_empty() {
            return Ok(());
        }
    }
    let span = Span::new(start, start + word.len());
    let push = |tokens: &mut Vec<Token>, kind| {
        tokens.push(Token {
            kind,
            span,
            source: word.to_owned(),
        });
        Ok(())
    };
    match word {
        "AND" => return push(tokens, TokenKind::And),
        "OR" => return push(tokens, TokenKind::Or),
        "NOT" => return push(tokens, TokenKind::Not),
        _ => {}
    }
    if let Some(digits) = word.strip_prefix("NEAR")
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(QueryError::new(
            span,
            format!("'{word}' is missing the '/': write NEAR/{digits}"),
        ));
    }
    if word == "NEAR" || word.starts_with("NEAR/") {
        let digits = word.strip_prefix("NEAR/").unwrap_or("");
        return match digits.parse::<u32>() {
            Ok(n) if (1..=1000).contains(&n) => push(tokens, TokenKind::Near(n)),
            _ => Err(QueryError::new(
                span,
                "NEAR needs a distance in words from 1 to 1000, written NEAR/5",
            )),
        };
    }
    if let Some(name) = word.strip_prefix('@') {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(QueryError::new(
                span,
                format!(
                    "invalid list reference '{word}': list names use letters, digits, '_' and '-'"
                ),
            ));
        }
        return push(tokens, TokenKind::Term(Term::List(name.to_owned())));
    }
    let words = literal_words(word, start)?;
    push(tokens, TokenKind::Term(Term::Words(words)))
}

/// Turns literal text (a word, or a phrase's body) into normalised words. A `*` may end any
/// space-separated piece and marks its last word as a prefix.
fn literal_words(text: &str, offset: usize) -> Result<Vec<Word>, QueryError> {
    let mut words = Vec::new();
    let mut piece_start = None;
    let mut pieces = Vec::new();
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), piece_start) {
            (false, None) => piece_start = Some(i),
            (true, Some(s)) => {
                pieces.push((s, i));
                piece_start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = piece_start {
        pieces.push((s, text.len()));
    }
    for (s, e) in pieces {
        let piece = &text[s..e];
        let span = Span::new(offset + s, offset + e);
        let (body, prefix) = match piece.strip_suffix('*') {
            Some(body) => (body, true),
            None => (piece, false),
        };
        if body.contains('*') {
            return Err(QueryError::new(
                span,
                format!("'*' may only end a word, as in launch*: '{piece}'"),
            ));
        }
        let folded = normalize_words(body);
        if folded.is_empty() {
            return Err(QueryError::new(
                span,
                format!("'{piece}' has no letters or digits to search for"),
            ));
        }
        let last = folded.len() - 1;
        words.extend(folded.into_iter().enumerate().map(|(i, text)| Word {
            text,
            prefix: prefix && i == last,
        }));
    }
    Ok(words)
}

struct Parser {
    tokens: Vec<Token>,
    position: usize,
    depth: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.position).cloned();
        self.position += 1;
        token
    }

    fn enter(&mut self, span: Span) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError::new(span, "query nests too deeply"));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut items = vec![self.and()?];
        while matches!(self.peek(), Some(t) if t.kind == TokenKind::Or) {
            let or = self.next().expect("peeked");
            if self.peek().is_none() {
                return Err(QueryError::new(or.span, "OR needs a term after it"));
            }
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut items = vec![self.near()?];
        loop {
            match self.peek().map(|t| &t.kind) {
                Some(TokenKind::And) => {
                    let and = self.next().expect("peeked");
                    if self.peek().is_none() {
                        return Err(QueryError::new(and.span, "AND needs a term after it"));
                    }
                    items.push(self.near()?);
                }
                Some(
                    TokenKind::Term(_) | TokenKind::LParen | TokenKind::Not | TokenKind::Field(_),
                ) => items.push(self.near()?),
                _ => break,
            }
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::And(items)
        })
    }

    fn near(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.unary()?;
        // A chain `a NEAR b NEAR c ...` nests to the left, one level a link: each link counts
        // against the depth limit, so no chain can make evaluation, coverage or compilation
        // recurse (or collect positions) without bound.
        let outer_depth = self.depth;
        while let Some(TokenKind::Near(distance)) = self.peek().map(|t| t.kind.clone()) {
            let near = self.next().expect("peeked");
            if self.depth - outer_depth >= MAX_NEAR_CHAIN {
                return Err(QueryError::new(
                    near.span,
                    format!(
                        "more than {MAX_NEAR_CHAIN} NEAR operators in one chain: split the query"
                    ),
                ));
            }
            self.enter(near.span)?;
            if self.peek().is_none() {
                return Err(QueryError::new(near.span, "NEAR needs a term after it"));
            }
            let right = self.unary()?;
            let span = left.span().to(right.span());
            left = Expr::Near {
                distance,
                left: Box::new(left),
                right: Box::new(right),
                span,
            };
        }
        self.depth = outer_depth;
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        if matches!(self.peek(), Some(t) if t.kind == TokenKind::Not) {
            let not = self.next().expect("peeked");
            self.enter(not.span)?;
            if self.peek().is_none() {
                return Err(QueryError::new(not.span, "NOT needs a term after it"));
            }
            let inner = self.unary()?;
            self.depth -= 1;
            let span = not.span.to(inner.span());
            return Ok(Expr::Not(Box::new(inner), span));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let Some(token) = self.next() else {
            return Err(QueryError::new(
                Span::new(self.end, self.end),
                "query ends where a term was expected",
            ));
        };
        match token.kind {
            TokenKind::LParen => {
                self.enter(token.span)?;
                if matches!(self.peek(), Some(t) if t.kind == TokenKind::RParen) {
                    return Err(QueryError::new(token.span, "empty parentheses"));
                }
                let inner = self.or()?;
                self.depth -= 1;
                match self.next() {
                    Some(close) if close.kind == TokenKind::RParen => Ok(inner),
                    _ => Err(QueryError::new(
                        token.span,
                        "'(' is never closed: missing ')'",
                    )),
                }
            }
            TokenKind::Field(field) => {
                self.enter(token.span)?;
                if self.peek().is_none() {
                    return Err(QueryError::new(
                        token.span,
                        format!("'{field}:' needs a term or a parenthesised query after it"),
                    ));
                }
                let inner = self.primary()?;
                self.depth -= 1;
                let span = token.span.to(inner.span());
                Ok(Expr::Field {
                    field,
                    inner: Box::new(inner),
                    span,
                })
            }
            TokenKind::Term(term) => Ok(Expr::Term {
                term,
                source: token.source,
                span: token.span,
            }),
            other => Err(QueryError::new(
                token.span,
                format!("expected a term, found {}", other.describe()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(spec: &[(&str, bool)]) -> Term {
        Term::Words(
            spec.iter()
                .map(|(text, prefix)| Word {
                    text: (*text).to_owned(),
                    prefix: *prefix,
                })
                .collect(),
        )
    }

    fn term_of(expr: &Expr) -> &Term {
        match expr {
            Expr::Term { term, .. } => term,
            other => panic!("not a term: {other:?}"),
        }
    }

    #[test]
    fn terms_parse_to_normalised_words() {
        let cases: &[(&str, Term)] = &[
            ("ICBM", words(&[("icbm", false)])),
            ("launch*", words(&[("launch", true)])),
            ("북한*", words(&[("북한", true)])),
            ("Jong-un", words(&[("jong", false), ("un", false)])),
            (
                "\"Kim Jong-un\"",
                words(&[("kim", false), ("jong", false), ("un", false)]),
            ),
            (
                "\"Северн* Коре*\"",
                words(&[("северн", true), ("коре", true)]),
            ),
            ("@dprk", Term::List("dprk".into())),
            ("/sat(ellite)?/", Term::Regex("sat(ellite)?".into())),
            ("/a\\/b/", Term::Regex("a/b".into())),
            ("10:30", words(&[("10", false), ("30", false)])),
        ];
        for (query, want) in cases {
            let expr = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
            assert_eq!(term_of(&expr), want, "query {query}");
        }
    }

    fn shape(expr: &Expr) -> String {
        match expr {
            Expr::Term { source, .. } => source.clone(),
            Expr::And(items) => format!(
                "(AND {})",
                items.iter().map(shape).collect::<Vec<_>>().join(" ")
            ),
            Expr::Or(items) => format!(
                "(OR {})",
                items.iter().map(shape).collect::<Vec<_>>().join(" ")
            ),
            Expr::Not(inner, _) => format!("(NOT {})", shape(inner)),
            Expr::Near {
                distance,
                left,
                right,
                ..
            } => format!("(NEAR/{distance} {} {})", shape(left), shape(right)),
            Expr::Field { field, inner, .. } => format!("{field}:{}", shape(inner)),
        }
    }

    #[test]
    fn operators_follow_documented_precedence() {
        let cases: &[(&str, &str)] = &[
            ("a b", "(AND a b)"),
            ("a AND b OR c", "(OR (AND a b) c)"),
            ("a OR b c", "(OR a (AND b c))"),
            ("NOT a b", "(AND (NOT a) b)"),
            ("a NOT b", "(AND a (NOT b))"),
            ("a NEAR/3 b c", "(AND (NEAR/3 a b) c)"),
            ("(a OR b) NEAR/5 c", "(NEAR/5 (OR a b) c)"),
            ("title:(a OR b) c", "(AND title:(OR a b) c)"),
            ("title:a c", "(AND title:a c)"),
            ("NOT NOT a", "(NOT (NOT a))"),
            ("a NEAR/2 b NEAR/3 c", "(NEAR/3 (NEAR/2 a b) c)"),
            ("and or not", "(AND and or not)"),
            ("NEARBY NEAREST", "(AND NEARBY NEAREST)"),
        ];
        for (query, want) in cases {
            let expr = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
            assert_eq!(shape(&expr), *want, "query {query}");
        }
    }

    #[test]
    fn errors_point_at_the_bad_token() {
        let cases: &[(&str, &str, &str)] = &[
            ("a AND", "AND", "AND needs a term"),
            ("(a OR b", "(", "never closed"),
            ("a) b", ")", "unmatched ')'"),
            ("\"open phrase", "\"open phrase", "unterminated phrase"),
            ("x /abc", "/abc", "unterminated regex"),
            ("foo:bar", "foo", "unknown field 'foo'"),
            ("la*nch", "la*nch", "'*' may only end a word"),
            ("a NEAR b", "NEAR", "NEAR needs a distance"),
            ("a NEAR/0 b", "NEAR/0", "NEAR needs a distance"),
            ("a NEAR8 b", "NEAR8", "write NEAR/8"),
            ("@", "@", "invalid list reference"),
            ("---", "---", "no letters or digits"),
            ("()", "(", "empty parentheses"),
            ("a OR OR b", "OR", "expected a term, found OR"),
            ("\"\"", "\"\"", "empty phrase"),
            ("", "", "query is empty"),
        ];
        for (query, token, message) in cases {
            let err = parse(query).expect_err(query);
            assert!(
                err.message.contains(message),
                "{query}: message {:?} lacks {message:?}",
                err.message
            );
            assert_eq!(
                &query[err.span.start..err.span.end],
                *token,
                "{query}: wrong span"
            );
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let query = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        let err = parse(&query).expect_err("too deep");
        assert!(err.message.contains("nests too deeply"));
    }

    /// Runs `f` on a thread with a small stack, as a tokio worker's or smaller: recursion
    /// that grows with the input overflows it and aborts the test binary.
    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(f)
            .expect("thread")
            .join()
            .expect("no panic")
    }

    #[test]
    fn thousands_of_field_prefixes_are_an_error_on_any_thread() {
        for repeat in [65, 10_000, 300_000] {
            let query = format!("{}satellite", "title:".repeat(repeat));
            let err = on_small_stack(move || parse(&query).expect_err("too deep"));
            assert!(err.message.contains("nests too deeply"), "{err:?}");
        }
        // Within the limit, prefixes still parse.
        let query = format!("{}satellite", "title:".repeat(3));
        assert!(parse(&query).is_ok());
        // The lint lexes the query too, and is run on every rule by `check`.
        let lints = on_small_stack(|| lint(&"summary:".repeat(300_000)));
        assert!(lints.is_empty(), "{lints:?}");
    }

    #[test]
    fn long_near_chains_are_refused_with_a_reason() {
        let chain = |links: usize| {
            let mut query = "a".to_owned();
            for _ in 0..links {
                query.push_str(" NEAR/3 a");
            }
            query
        };
        assert!(parse(&chain(MAX_NEAR_CHAIN)).is_ok());
        let err = parse(&chain(MAX_NEAR_CHAIN + 1)).expect_err("too long");
        assert!(
            err.message.contains("NEAR operators in one chain"),
            "{err:?}"
        );
        let query = chain(8_000);
        let err = on_small_stack(move || parse(&query).expect_err("too long"));
        assert!(
            err.message.contains("NEAR operators in one chain"),
            "{err:?}"
        );
        // Nested in parentheses, chains still count against the depth limit.
        let nested = format!("{}a{}", "(a NEAR/2 ".repeat(40), ")".repeat(40));
        let err = parse(&nested).expect_err("too deep");
        assert!(err.message.contains("nests too deeply"), "{err:?}");
    }

    #[test]
    fn pointer_underlines_the_span() {
        let err = parse("satellite AND foo:bar").expect_err("unknown field");
        assert_eq!(
            err.pointer("satellite AND foo:bar"),
            "  satellite AND foo:bar\n                ^^^"
        );
    }

    #[test]
    fn pointer_shows_a_window_of_a_long_line() {
        let query = format!("{} foo:bar {}", "a ".repeat(5_000), "b ".repeat(5_000));
        let err = parse(&query).expect_err("unknown field");
        let pointer = err.pointer(&query);
        let lines: Vec<&str> = pointer.lines().collect();
        assert_eq!(lines.len(), 2, "{pointer}");
        assert!(
            lines[0].starts_with("  …") && lines[0].ends_with('…'),
            "{pointer}"
        );
        assert!(lines[0].contains(" foo:bar "), "{pointer}");
        assert!(
            lines[0].chars().count() < 2 * POINTER_CONTEXT + 20,
            "{pointer}"
        );
        // The carets sit under the field name, counted in characters.
        let caret = lines[1].find('^').expect("caret");
        let name = lines[0]
            .char_indices()
            .position(|(i, _)| lines[0][i..].starts_with("foo:"));
        assert_eq!(Some(caret), name, "{pointer}");
        assert_eq!(lines[1].matches('^').count(), 3);
        // A huge bad token is cut too.
        let query = format!("\"{}", "x".repeat(100_000));
        let pointer = parse(&query).expect_err("unterminated").pointer(&query);
        assert!(pointer.len() < 400, "{}", pointer.len());
    }

    #[test]
    fn list_entries_are_phrases_with_optional_prefixes() {
        assert_eq!(
            parse_list_entry("Северн* Коре*").expect("valid"),
            vec![
                Word {
                    text: "северн".into(),
                    prefix: true
                },
                Word {
                    text: "коре".into(),
                    prefix: true
                }
            ]
        );
        assert_eq!(parse_list_entry("\"North Korea\"").expect("valid").len(), 2);
        let err = parse_list_entry("@dprk").expect_err("a list inside a list");
        assert!(
            err.message.contains("a list cannot include another list"),
            "{err:?}"
        );
        assert_eq!(err.span, Span::new(0, 5));
        assert_eq!(parse_list_entry("\"@dprk\"").expect("quoted").len(), 1);
    }

    #[test]
    fn lower_case_operators_between_terms_are_warned_about() {
        let flagged = |q: &str| -> Vec<String> {
            lint(q)
                .iter()
                .map(|w| q[w.span.start..w.span.end].to_owned())
                .collect()
        };
        assert_eq!(flagged("@dprk and @russia"), vec!["and"]);
        assert_eq!(flagged("(a OR b) or c"), vec!["or"]);
        assert_eq!(flagged("satellite near/5 launch"), vec!["near/5"]);
        assert_eq!(flagged("not satellite"), vec!["not"]);
        assert!(
            lint("@dprk and @russia")[0]
                .message
                .contains("did you mean AND?")
        );
        // A quoted word, an operator at the edge, and plain words are left alone.
        assert!(flagged("\"rock and roll\" OR Orlando").is_empty());
        assert!(flagged("satellite AND launch").is_empty());
        assert!(flagged("launch and").is_empty());
    }
}
