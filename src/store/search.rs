//! Search in the hit log, with the rules' own words.
//!
//! The index (`hit_items_search`, migration 12) holds, for each item that has hits, the
//! normaliser's words of every field the rules read, one FTS5 column per field (`title`,
//! `summary`, `content`, `author`, `category`, `link`) under FTS5's `ascii` tokenizer, which
//! splits on the spaces between normalised words and nothing else: a word of the index is a
//! word the matcher sees. A search is parsed by the rule language's own parser
//! (`matcher::query`), so its words are folded by the same normaliser, and compiled to an FTS5
//! expression made only of quoted normalised words and operators written here: nothing the
//! reviewer types reaches FTS5 as syntax.
//!
//! One widening, for Korean: the normaliser keeps a run of Hangul syllables as one word (so a
//! rule needs `북한*` for 북한은), and a compound (군사정찰위성) would hide its parts from a
//! search. The index therefore cuts every Hangul word into its syllables, as Chinese and
//! Japanese already are, and a search cuts its Korean words the same way: `정찰위성` is the
//! phrase 정 찰 위 성 and finds 군사정찰위성을.

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;

use crate::matcher::query::{self, Expr, QueryError, Span, Term, Word};
use crate::text::Field;
use crate::text::normalize::Analyzed;

/// Longest search accepted, in bytes: a long boolean query fits many times over.
pub const MAX_SEARCH_BYTES: usize = 1000;
/// Most words one search may name, each Chinese or Japanese character and each Hangul syllable
/// counting as one (as the index holds them).
pub const MAX_SEARCH_WORDS: usize = 64;
/// Most word pairs a `NEAR` may weigh once its `OR`s are spread out.
const MAX_NEAR_PAIRS: usize = 64;

/// The SQL function the index's triggers call: display text to the index's words.
pub(super) const INDEX_TEXT_FUNCTION: &str = "watchfloor_search_words";

/// The FTS5 columns an unscoped word is looked for in: the fields an unscoped rule term reads.
const UNSCOPED: &str = "{title summary content category}";

/// A search that cannot be run: what is wrong and, when the parser knows, where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", pointer.as_deref().map(|p| format!("\n{p}")).unwrap_or_default())]
pub struct SearchError {
    pub message: String,
    /// The search's text with a caret line under the bad token.
    pub pointer: Option<String>,
}

impl SearchError {
    fn at(query: &str, span: Span, message: impl Into<String>) -> Self {
        let error = QueryError::new(span, message);
        SearchError {
            pointer: Some(error.pointer(query)),
            message: error.message,
        }
    }

    fn whole(message: impl Into<String>) -> Self {
        SearchError {
            message: message.into(),
            pointer: None,
        }
    }
}

/// Registers the index's SQL function on a connection that writes items or hits: the
/// triggers of migration 12 call it.
pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        INDEX_TEXT_FUNCTION,
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let text: Option<String> = ctx.get(0)?;
            Ok(text.map(|t| index_words(&t)))
        },
    )
}

/// The words of display text as the index holds them: the normaliser's words, one space
/// apart, each Hangul syllable a word of its own.
pub fn index_words(display: &str) -> String {
    let mut analyzed = Analyzed::default();
    analyzed.push_field(Field::Title, display);
    let mut out = String::with_capacity(analyzed.norm.len());
    for token in &analyzed.tokens {
        // The normaliser writes whole characters: the bytes are UTF-8 (`tests/fuzz.rs`).
        let word = String::from_utf8_lossy(
            &analyzed.norm[token.norm_start as usize..token.norm_end as usize],
        );
        for piece in split_hangul(&word) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(piece);
        }
    }
    out
}

fn is_hangul_syllable(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

/// A normalised word cut before and after every Hangul syllable; other letters stay together.
fn split_hangul(word: &str) -> impl Iterator<Item = &str> {
    let mut rest = word;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let len = if is_hangul_syllable(first) {
            first.len_utf8()
        } else {
            rest.find(is_hangul_syllable).unwrap_or(rest.len())
        };
        let (piece, tail) = rest.split_at(len);
        rest = tail;
        Some(piece)
    })
}

/// What a search that compiles probably did not mean: an operator written in lower case
/// between words (`korea and russia` also requires the word "and"), as `check` warns of it in
/// rules.
pub fn search_notes(text: &str) -> Vec<String> {
    if text.len() > MAX_SEARCH_BYTES {
        return Vec::new();
    }
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    query::lint(&text).into_iter().map(|w| w.message).collect()
}

/// Compiles a reviewer's search into an FTS5 expression over `hit_items_search`; `None` when
/// it holds nothing to search for (empty, or only spaces and control characters).
pub fn fts_query(text: &str) -> Result<Option<String>, SearchError> {
    if text.len() > MAX_SEARCH_BYTES {
        return Err(SearchError::whole(format!(
            "the search is {} bytes long; at most {MAX_SEARCH_BYTES} are accepted",
            text.len()
        )));
    }
    // Control characters (a NUL from a crafted URL, a pasted tab) separate words, as in the
    // text searched; SQLite would end a query string at a NUL.
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.trim().is_empty() {
        return Ok(None);
    }
    let expr = query::parse(&text).map_err(|e| SearchError {
        pointer: Some(e.pointer(&text)),
        message: e.message,
    })?;
    let mut compiler = Compiler {
        query: &text,
        words: 0,
    };
    let mut out = String::new();
    compiler.expr(&expr, None, &mut out)?;
    Ok(Some(out))
}

struct Compiler<'a> {
    query: &'a str,
    /// Index words named so far, against [`MAX_SEARCH_WORDS`].
    words: usize,
}

/// A phrase of index words with its column scope, as FTS5 will read it.
struct Phrase {
    scope: Option<Field>,
    words: Vec<Word>,
}

impl Compiler<'_> {
    fn error(&self, span: Span, message: impl Into<String>) -> SearchError {
        SearchError::at(self.query, span, message)
    }

    fn expr(
        &mut self,
        expr: &Expr,
        scope: Option<Field>,
        out: &mut String,
    ) -> Result<(), SearchError> {
        match expr {
            Expr::Term { term, span, .. } => {
                let phrase = self.phrase(term, *span, scope)?;
                write_phrase(&phrase, out);
                Ok(())
            }
            Expr::Field { field, inner, .. } => self.expr(inner, Some(*field), out),
            Expr::And(items) => {
                let mut positive = Vec::new();
                let mut negative = Vec::new();
                for item in items {
                    match negated(item, scope) {
                        Some((inner, inner_scope)) => negative.push((inner, inner_scope)),
                        None => positive.push(item),
                    }
                }
                if positive.is_empty() {
                    return Err(self.error(
                        expr.span(),
                        "NOT needs a term beside it to take from, as in: Sohae NOT SpaceX",
                    ));
                }
                out.push('(');
                for (i, item) in positive.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" AND ");
                    }
                    out.push('(');
                    self.expr(item, scope, out)?;
                    out.push(')');
                }
                out.push(')');
                if !negative.is_empty() {
                    out.push_str(" NOT (");
                    for (i, (item, item_scope)) in negative.iter().enumerate() {
                        if i > 0 {
                            out.push_str(" OR ");
                        }
                        out.push('(');
                        self.expr(item, *item_scope, out)?;
                        out.push(')');
                    }
                    out.push(')');
                }
                Ok(())
            }
            Expr::Or(items) => {
                if let Some(not) = items.iter().find(|i| negated(i, scope).is_some()) {
                    return Err(self.error(
                        not.span(),
                        "NOT cannot be one side of an OR in a search: it would take in every \
                         hit without the word; write it beside a term (Sohae NOT SpaceX)",
                    ));
                }
                out.push('(');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" OR ");
                    }
                    out.push('(');
                    self.expr(item, scope, out)?;
                    out.push(')');
                }
                out.push(')');
                Ok(())
            }
            Expr::Not(_, span) => Err(self.error(
                *span,
                "NOT needs a term beside it to take from, as in: Sohae NOT SpaceX",
            )),
            Expr::Near {
                distance,
                left,
                right,
                span,
            } => {
                let lefts = self.near_side(left, scope)?;
                let rights = self.near_side(right, scope)?;
                if lefts.len() * rights.len() > MAX_NEAR_PAIRS {
                    return Err(self.error(
                        *span,
                        format!(
                            "this NEAR weighs {} pairs of words; at most {MAX_NEAR_PAIRS}",
                            lefts.len() * rights.len()
                        ),
                    ));
                }
                out.push('(');
                let mut first = true;
                for left in &lefts {
                    for right in &rights {
                        if !first {
                            out.push_str(" OR ");
                        }
                        first = false;
                        // Both sides carry the same scope: a NEAR is inside one field.
                        out.push_str(columns(scope));
                        out.push_str(" : NEAR(");
                        write_words(&left.words, out);
                        out.push(' ');
                        write_words(&right.words, out);
                        // The rules count `NEAR/1` as adjacent words; FTS5 counts the words
                        // between.
                        out.push_str(&format!(", {})", distance - 1));
                    }
                }
                out.push(')');
                Ok(())
            }
        }
    }

    /// One side of a `NEAR`: a phrase, or the phrases of an `OR` of phrases.
    fn near_side(&mut self, expr: &Expr, scope: Option<Field>) -> Result<Vec<Phrase>, SearchError> {
        match expr {
            Expr::Term { term, span, .. } => Ok(vec![self.phrase(term, *span, scope)?]),
            Expr::Or(items) => {
                let mut phrases = Vec::new();
                for item in items {
                    phrases.extend(self.near_side(item, scope)?);
                }
                Ok(phrases)
            }
            other => Err(self.error(
                other.span(),
                "in a search, each side of NEAR is a word, a phrase or an OR of them \
                 (no AND, NOT, field or second NEAR inside)",
            )),
        }
    }

    fn phrase(
        &mut self,
        term: &Term,
        span: Span,
        scope: Option<Field>,
    ) -> Result<Phrase, SearchError> {
        let words = match term {
            Term::Words(words) => words,
            Term::List(name) => {
                return Err(self.error(
                    span,
                    format!(
                        "lists (@{name}) belong to the rules, not to a search: write the words \
                         (as in (\"North Korea\" OR DPRK))"
                    ),
                ));
            }
            Term::Regex(_) => {
                return Err(self.error(
                    span,
                    "regular expressions belong to the rules, not to a search: write the \
                     words, or a prefix (launch*)",
                ));
            }
        };
        let mut pieces = Vec::new();
        for word in words {
            let split: Vec<&str> = split_hangul(&word.text).collect();
            let last = split.len().saturating_sub(1);
            for (i, piece) in split.iter().enumerate() {
                // A Hangul syllable is a whole index word: its `*` would add nothing, since a
                // Korean word already matches inside longer ones.
                let hangul = piece.chars().all(is_hangul_syllable);
                pieces.push(Word {
                    text: (*piece).to_owned(),
                    prefix: word.prefix && i == last && !hangul,
                });
            }
        }
        self.words += pieces.len();
        if self.words > MAX_SEARCH_WORDS {
            return Err(self.error(
                span,
                format!(
                    "the search names more than {MAX_SEARCH_WORDS} words (each Chinese or \
                     Japanese character and each Korean syllable counts as one); narrow it"
                ),
            ));
        }
        Ok(Phrase {
            scope,
            words: pieces,
        })
    }
}

/// The negated term of an operand written `NOT x` (or `field:(NOT x)`), with its scope.
fn negated(expr: &Expr, scope: Option<Field>) -> Option<(&Expr, Option<Field>)> {
    match expr {
        Expr::Not(inner, _) => Some((inner, scope)),
        Expr::Field { field, inner, .. } => negated(inner, Some(*field)),
        _ => None,
    }
}

fn columns(scope: Option<Field>) -> &'static str {
    match scope {
        None => UNSCOPED,
        Some(Field::Title) => "{title}",
        Some(Field::Summary) => "{summary}",
        Some(Field::Content) => "{content}",
        Some(Field::Author) => "{author}",
        Some(Field::Category) => "{category}",
        Some(Field::Link) => "{link}",
    }
}

fn write_phrase(phrase: &Phrase, out: &mut String) {
    out.push_str(columns(phrase.scope));
    out.push_str(" : ");
    write_words(&phrase.words, out);
}

/// Consecutive words as one FTS5 phrase: `"a" + "b" *`. Each word is a normalised word
/// (letters, digits and marks only), quoted all the same.
fn write_words(words: &[Word], out: &mut String) {
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            out.push_str(" + ");
        }
        out.push('"');
        out.push_str(&word.text.replace('"', "\"\""));
        out.push('"');
        if word.prefix {
            out.push_str(" *");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_words_are_the_normaliser_s_with_hangul_cut_into_syllables() {
        let cases = [
            ("North Korea LAUNCHES", "north korea launches"),
            ("Pokémon Café", "pokemon cafe"),
            ("군사정찰위성을 발사", "군 사 정 찰 위 성 을 발 사"),
            ("ICBM발사", "icbm 발 사"),
            ("朝鲜发射", "朝 鲜 发 射"),
            ("Ёлка «КНДР»", "елка кндр"),
            ("", ""),
        ];
        for (display, want) in cases {
            assert_eq!(index_words(display), want, "{display:?}");
        }
    }

    #[test]
    fn searches_compile_to_quoted_normalised_words_only() {
        let cases = [
            ("launch", "{title summary content category} : \"launch\""),
            ("Launch*", "{title summary content category} : \"launch\" *"),
            (
                "\"Kim Jong-un\"",
                "{title summary content category} : \"kim\" + \"jong\" + \"un\"",
            ),
            (
                "Sohae imagery",
                "(({title summary content category} : \"sohae\") AND \
                 ({title summary content category} : \"imagery\"))",
            ),
            (
                "title:Sohae NOT SpaceX",
                "(({title} : \"sohae\")) NOT (({title summary content category} : \"spacex\"))",
            ),
            (
                "정찰위성*",
                "{title summary content category} : \"정\" + \"찰\" + \"위\" + \"성\"",
            ),
            (
                "oil NEAR/3 (tanker* OR ship)",
                "({title summary content category} : NEAR(\"oil\" \"tanker\" *, 2) OR \
                 {title summary content category} : NEAR(\"oil\" \"ship\", 2))",
            ),
            ("\u{0}\t ", ""),
        ];
        for (search, want) in cases {
            let got = fts_query(search).expect(search).unwrap_or_default();
            assert_eq!(got, want, "{search:?}");
        }
    }

    #[test]
    fn what_a_search_cannot_hold_is_refused_with_its_place() {
        let cases = [
            ("@dprk", "lists (@dprk) belong to the rules"),
            ("/sat.*/", "regular expressions belong to the rules"),
            ("NOT SpaceX", "NOT needs a term beside it"),
            ("a OR NOT b", "NOT cannot be one side of an OR"),
            ("(a b) NEAR/2 c", "each side of NEAR is a word"),
            ("\"unclosed", "unterminated phrase"),
            ("a AND", "AND needs a term after it"),
            ("launch*es", "'*' may only end a word"),
            ("note: x", "unknown field 'note'"),
        ];
        for (search, want) in cases {
            let error = fts_query(search).expect_err(search);
            assert!(error.message.contains(want), "{search:?}: {error}");
            assert!(error.pointer.is_some(), "{search:?} points at the token");
        }
        let long = "a ".repeat(600);
        assert!(
            fts_query(&long)
                .expect_err("long")
                .message
                .contains("at most 1000")
        );
        let many = "w ".repeat(65);
        assert!(
            fts_query(&many)
                .expect_err("many")
                .message
                .contains("more than 64 words")
        );
        let near = format!(
            "({}) NEAR/2 ({})",
            ["a"; 9].join(" OR "),
            ["b"; 9].join(" OR ")
        );
        assert!(
            fts_query(&near)
                .expect_err("near")
                .message
                .contains("81 pairs")
        );
    }
}
