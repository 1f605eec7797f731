//! Language coverage: on an item written in one language only, can an indicator fire?
//!
//! Terms of every language match items of every language (a Korean outlet quotes "KCNA", a
//! German one names "Sohae"), so the per-language keys of a list do not change what matches.
//! They say which languages the analyst wrote terms for, and from that this module answers
//! the question a blind spot turns on: is there, for language L, a way through the query and
//! enough positive boosts to reach `min_score` using only terms written for L? Plain lists,
//! bare words and regexes count for every language, since nothing says otherwise.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::matcher::query::{Expr, Term};

/// The languages of one list: `None` when it is a plain list (any language).
pub type ListLanguages = Option<Arc<BTreeSet<String>>>;

/// What a clause needs from an item's language, reduced from its query tree.
#[derive(Clone, Debug)]
enum Need {
    /// Satisfiable in every language: a bare word, a plain list, a regex, or a `NOT`.
    Nothing,
    /// A list written per language: satisfiable in the languages it has terms for.
    List {
        name: String,
        languages: Arc<BTreeSet<String>>,
    },
    All(Vec<Need>),
    Any(Vec<Need>),
}

impl Need {
    fn from_expr(expr: &Expr, languages_of: &dyn Fn(&str) -> ListLanguages) -> Need {
        match expr {
            Expr::Term {
                term: Term::List(name),
                ..
            } => match languages_of(name) {
                Some(languages) => Need::List {
                    name: name.clone(),
                    languages,
                },
                None => Need::Nothing,
            },
            Expr::Term { .. } | Expr::Not(..) => Need::Nothing,
            Expr::Field { inner, .. } => Need::from_expr(inner, languages_of),
            Expr::And(items) => Need::All(
                items
                    .iter()
                    .map(|e| Need::from_expr(e, languages_of))
                    .collect(),
            ),
            Expr::Near { left, right, .. } => Need::All(vec![
                Need::from_expr(left, languages_of),
                Need::from_expr(right, languages_of),
            ]),
            Expr::Or(items) => Need::Any(
                items
                    .iter()
                    .map(|e| Need::from_expr(e, languages_of))
                    .collect(),
            ),
        }
    }

    fn holds(&self, language: &str) -> bool {
        match self {
            Need::Nothing => true,
            Need::List { languages, .. } => languages.contains(language),
            Need::All(items) => items.iter().all(|n| n.holds(language)),
            Need::Any(items) => items.iter().any(|n| n.holds(language)),
        }
    }

    /// The lists that leave `language` unsatisfied, each once: for an `All`, every failing
    /// operand; for an `Any`, the lists of every alternative (any one of them would do).
    fn missing(&self, language: &str, out: &mut BTreeSet<String>) {
        if self.holds(language) {
            return;
        }
        match self {
            Need::Nothing => {}
            Need::List { name, .. } => {
                out.insert(format!("@{name}"));
            }
            Need::All(items) | Need::Any(items) => {
                for item in items {
                    item.missing(language, out);
                }
            }
        }
    }
}

/// One indicator's coverage, computed once when the file loads.
#[derive(Clone, Debug)]
pub struct Coverage {
    query: Need,
    boosts: Vec<(Need, f64)>,
    min_score: f64,
}

/// Why an indicator cannot fire on an item written only in one language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gap {
    /// The query needs terms from these lists, which have none in the language.
    Query(Vec<String>),
    /// The query can be satisfied, but the positive boosts that can apply in the language
    /// do not lift the score to `min_score`; these lists would.
    Score {
        reachable: String,
        lists: Vec<String>,
    },
}

impl std::fmt::Display for Gap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Gap::Query(lists) => write!(f, "the query needs {}", lists.join(" or ")),
            Gap::Score { reachable, lists } if lists.is_empty() => {
                write!(f, "the score can reach only {reachable}")
            }
            Gap::Score { reachable, lists } => write!(
                f,
                "the score can reach only {reachable}; boosts on {} would lift it",
                lists.join(", ")
            ),
        }
    }
}

/// Slack for sums of decimal weights such as 0.1 + 0.2.
const EPSILON: f64 = 1e-9;

impl Coverage {
    pub fn new(
        query: &Expr,
        boosts: &[(Expr, f64)],
        min_score: f64,
        languages_of: &dyn Fn(&str) -> ListLanguages,
    ) -> Coverage {
        Coverage {
            query: Need::from_expr(query, languages_of),
            boosts: boosts
                .iter()
                .map(|(expr, weight)| (Need::from_expr(expr, languages_of), *weight))
                .collect(),
            min_score,
        }
    }

    /// The highest score any item can reach: the query plus every positive boost.
    pub fn best_score(&self) -> f64 {
        1.0 + self.boosts.iter().map(|(_, w)| w.max(0.0)).sum::<f64>()
    }

    /// Whether some item can reach `min_score` at all.
    pub fn reachable(&self) -> bool {
        self.best_score() + EPSILON >= self.min_score
    }

    fn best_score_in(&self, language: &str) -> f64 {
        1.0 + self
            .boosts
            .iter()
            .filter(|(need, w)| *w > 0.0 && need.holds(language))
            .map(|(_, w)| w)
            .sum::<f64>()
    }

    /// Whether the indicator can fire on an item written only in `language` (ISO 639-1).
    pub fn can_fire_in(&self, language: &str) -> bool {
        self.gap(language).is_none()
    }

    /// What keeps the indicator from firing in `language`, or `None` when it can.
    pub fn gap(&self, language: &str) -> Option<Gap> {
        if !self.query.holds(language) {
            let mut lists = BTreeSet::new();
            self.query.missing(language, &mut lists);
            return Some(Gap::Query(lists.into_iter().collect()));
        }
        let reachable = self.best_score_in(language);
        if reachable + EPSILON >= self.min_score {
            return None;
        }
        let mut lists = BTreeSet::new();
        for (need, weight) in &self.boosts {
            if *weight > 0.0 {
                need.missing(language, &mut lists);
            }
        }
        Some(Gap::Score {
            reachable: format!("{reachable:.2} < min_score {:.2}", self.min_score),
            lists: lists.into_iter().collect(),
        })
    }
}

/// Whether a list key is an ISO 639-1 code in form: two lowercase ASCII letters.
pub fn is_language_code(key: &str) -> bool {
    key.len() == 2 && key.bytes().all(|b| b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::query;
    use std::collections::HashMap;

    fn coverage(query_text: &str, boosts: &[(&str, f64)], min_score: f64) -> Coverage {
        let lists: HashMap<&str, ListLanguages> = [
            ("dprk", Some(&["en", "ko", "de"][..])),
            ("sat", Some(&["en", "ko"][..])),
            ("launch", Some(&["en", "de"][..])),
            ("title_words", Some(&["ko"][..])),
            ("plain", None),
        ]
        .into_iter()
        .map(|(name, langs)| {
            (
                name,
                langs.map(|l| Arc::new(l.iter().map(|s| s.to_string()).collect())),
            )
        })
        .collect();
        let languages_of = |name: &str| lists.get(name).cloned().flatten();
        let boosts: Vec<(Expr, f64)> = boosts
            .iter()
            .map(|(q, w)| (query::parse(q).unwrap(), *w))
            .collect();
        Coverage::new(
            &query::parse(query_text).unwrap(),
            &boosts,
            min_score,
            &languages_of,
        )
    }

    #[test]
    fn every_required_branch_needs_a_term_in_the_language() {
        let c = coverage("@dprk AND @sat AND (@launch OR @plain)", &[], 1.0);
        assert!(c.can_fire_in("en"));
        assert!(c.can_fire_in("ko"));
        // German has @dprk and, through the plain list, the OR; but no satellite word.
        assert_eq!(c.gap("de"), Some(Gap::Query(vec!["@sat".into()])));
        assert_eq!(
            c.gap("fr"),
            Some(Gap::Query(vec!["@dprk".into(), "@sat".into()]))
        );
    }

    #[test]
    fn an_or_is_satisfied_by_either_side_and_a_not_needs_nothing() {
        let c = coverage("(@sat OR @launch) AND NOT @dprk", &[], 1.0);
        assert!(c.can_fire_in("de"));
        assert!(c.can_fire_in("ko"));
        assert!(!c.can_fire_in("ru"));
        let c = coverage("@dprk NEAR/3 title:(@launch)", &[], 1.0);
        assert!(c.can_fire_in("de"));
        assert!(!c.can_fire_in("ko"));
    }

    #[test]
    fn bare_words_plain_lists_and_regexes_count_for_every_language() {
        let c = coverage("satellite AND @plain AND /\\d+호기/", &[], 1.0);
        assert!(c.can_fire_in("ar"));
        assert!(c.gap("xx").is_none(), "no language is needed at all");
    }

    #[test]
    fn min_score_above_one_needs_positive_boosts_in_the_language() {
        let c = coverage(
            "@dprk",
            &[("@sat", 0.5), ("@launch", 0.5), ("@title_words", -1.0)],
            1.5,
        );
        assert!(c.can_fire_in("en"));
        assert!(c.can_fire_in("ko"), "@sat gives ko its 0.5");
        assert!(c.can_fire_in("de"), "@launch gives de its 0.5");
        let c = coverage("@dprk", &[("@sat", 0.5), ("@launch", 0.5)], 2.0);
        assert!(c.can_fire_in("en"));
        match c.gap("ko") {
            Some(Gap::Score { lists, .. }) => assert_eq!(lists, vec!["@launch".to_string()]),
            other => panic!("expected a score gap, got {other:?}"),
        }
        assert_eq!(c.best_score(), 2.0);
    }

    #[test]
    fn language_codes_are_two_lowercase_letters() {
        assert!(is_language_code("en"));
        assert!(is_language_code("zh"));
        for bad in ["EN", "eng", "e", "zh-TW", "e1", ""] {
            assert!(!is_language_code(bad), "{bad}");
        }
    }
}
