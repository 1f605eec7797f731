//! `indicators.yaml`: the analysts' file of named term lists and indicators.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_saphyr::{Location, Spanned};
use sha2::{Digest, Sha256};

use super::coverage::{self, Coverage};
use super::error::{ConfigError, Problem, ProblemKind, yaml_error};
use super::mail::{AlertMode, check_address};
use crate::matcher::query::{self, Expr, QueryError, Term};
use crate::matcher::{Clause, ItemText, ListEntry, Matcher, MatcherBuilder};
use crate::schedule::Schedule;

/// How much an indicator's hit matters; sets the alert's subject tag and ordering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An example item in the file: a string (the title) or a map of fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Example {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub summary: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub content: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub category: String,
    /// Line of the example in the file.
    #[serde(skip)]
    pub line: u64,
}

impl Example {
    pub fn item_text(&self) -> ItemText<'_> {
        ItemText {
            title: &self.title,
            summary: &self.summary,
            content: &self.content,
            category: &self.category,
            ..ItemText::default()
        }
    }

    /// The example in one line, for reports.
    pub fn describe(&self) -> String {
        [&self.title, &self.summary, &self.content]
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

/// A validated, compiled indicator.
#[derive(Clone, Debug)]
pub struct Indicator {
    pub id: String,
    pub title: String,
    pub insight: String,
    pub severity: Severity,
    pub query: String,
    /// Boost clauses as written, with their weights.
    pub boosts: Vec<(String, f64)>,
    pub min_score: f64,
    pub examples_match: Vec<Example>,
    pub examples_no_match: Vec<Example>,
    /// SHA-256 of everything that decides what the indicator matches (query, boosts,
    /// min_score and the lists it uses), in hex. Hits record it, so a reviewer can tell which
    /// version of a rule produced them.
    pub definition_hash: String,
    /// Line of the indicator's `id` in the file.
    pub line: u64,
    /// Who gets its hits and how; empty or unset fields take the settings' defaults.
    pub alert: AlertRoute,
    /// Which languages it can fire in, from the languages of the lists it uses.
    pub coverage: Coverage,
}

impl Indicator {
    /// Whether the indicator can fire on an item written only in `language` (ISO 639-1):
    /// every required branch of its query has a term written for that language (plain lists
    /// count for every language) and its positive boosts there can reach `min_score`.
    pub fn can_fire_in(&self, language: &str) -> bool {
        self.coverage.can_fire_in(language)
    }
}

/// An indicator's own alert routing, from its `alert:` map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertRoute {
    /// Recipients; empty: the settings' `mail.to`, unless `webhooks` names some.
    pub to: Vec<String>,
    /// Webhooks (`alert.webhook`), by name: which exist is the settings' to say
    /// (`Settings::check_alert_targets`).
    pub webhooks: Vec<WebhookName>,
    /// `None`: the settings' `mail.mode`.
    pub mode: Option<AlertMode>,
}

/// A webhook an indicator names, with where it is named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookName {
    pub name: String,
    pub line: u64,
    pub column: u64,
}

/// The validated file: indicators in file order and the matcher compiled from them.
#[derive(Debug)]
pub struct Indicators {
    pub path: PathBuf,
    pub indicators: Vec<Indicator>,
    /// Feeds in file order, enabled or not.
    pub feeds: Vec<Feed>,
    /// Named lists, entries as written (every language together).
    pub lists: BTreeMap<String, Vec<String>>,
    /// The languages of the lists written per language; plain lists are absent.
    pub list_languages: BTreeMap<String, BTreeSet<String>>,
    pub matcher: Matcher,
    /// Problems that do not stop the file from loading (an indicator without examples).
    pub warnings: Vec<Problem>,
}

/// The longest rules file read. The search terms themselves may hold
/// [`crate::matcher::MAX_PATTERN_BYTES`]; the YAML around them (keys, indentation, examples,
/// comments) takes room too, but not three times as much.
const MAX_RULES_FILE_BYTES: u64 = 16 << 20;

impl Indicators {
    /// Reads, validates and compiles a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = Self::read_text(path)?;
        Self::parse(&text, path)
    }

    /// The text of a rules file, read no further than [`MAX_RULES_FILE_BYTES`] and refused
    /// when it is not UTF-8: for whatever reads one, to load it or to edit it.
    pub(super) fn read_text(path: &Path) -> Result<String, ConfigError> {
        super::error::read_text_bounded(
            path,
            MAX_RULES_FILE_BYTES,
            "rule files",
            &format!(
                "their search terms may hold {} MiB",
                crate::matcher::MAX_PATTERN_BYTES >> 20
            ),
        )
    }

    /// Validates and compiles file contents; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        Loader {
            text,
            path,
            problems: Vec::new(),
            warnings: Vec::new(),
        }
        .load()
    }

    pub fn position(&self, id: &str) -> Option<usize> {
        self.indicators.iter().position(|i| i.id == id)
    }

    pub fn get(&self, id: &str) -> Option<&Indicator> {
        self.indicators.iter().find(|i| i.id == id)
    }

    /// Every language some list is written for, English first, then by code.
    pub fn languages(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .list_languages
            .values()
            .flatten()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        all.sort_by_key(|code| (code != "en", code.clone()));
        all
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    lists: HashMap<Spanned<String>, RawList>,
    #[serde(default)]
    indicators: Vec<RawIndicator>,
    #[serde(default)]
    feeds: Vec<RawFeed>,
}

/// A list as written: a sequence of entries (any language), or a map from ISO 639-1 codes to
/// sequences (`dprk: {en: [North Korea], ko: [북한*]}`).
enum RawList {
    Plain(Vec<Spanned<String>>),
    PerLanguage(Vec<(Spanned<String>, Vec<Spanned<String>>)>),
}

impl RawList {
    /// Every entry, in file order, whatever its language.
    fn entries(&self) -> Vec<&Spanned<String>> {
        match self {
            RawList::Plain(entries) => entries.iter().collect(),
            RawList::PerLanguage(languages) => {
                languages.iter().flat_map(|(_, entries)| entries).collect()
            }
        }
    }
}

impl<'de> Deserialize<'de> for RawList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = RawList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a list of terms, or a map from language codes to lists of terms \
                     ({en: [...], ko: [...]})",
                )
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawList, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = seq.next_element()? {
                    entries.push(entry);
                }
                Ok(RawList::Plain(entries))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawList, A::Error> {
                let mut languages = Vec::new();
                while let Some(language) = map.next_key()? {
                    languages.push((language, map.next_value()?));
                }
                Ok(RawList::PerLanguage(languages))
            }
        }
        deserializer.deserialize_any(ListVisitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    id: Spanned<String>,
    url: Spanned<String>,
    title: Option<String>,
    schedule: Option<Spanned<String>>,
    #[serde(default)]
    tags: Vec<String>,
    enabled: Option<bool>,
}

/// A feed to poll, validated.
#[derive(Clone, Debug)]
pub struct Feed {
    pub id: String,
    pub url: String,
    pub title: Option<String>,
    /// `None`: the settings' default schedule.
    pub schedule: Option<Schedule>,
    pub tags: Vec<String>,
    pub enabled: bool,
    /// Line of the feed's `id` in the file.
    pub line: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndicator {
    id: Spanned<String>,
    title: String,
    insight: String,
    severity: Severity,
    query: Spanned<String>,
    #[serde(default)]
    boost: Vec<RawBoost>,
    min_score: Option<f64>,
    #[serde(default)]
    examples: RawExamples,
    alert: Option<RawAlert>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlert {
    #[serde(default)]
    to: Vec<Spanned<String>>,
    /// One webhook name or a list of them.
    webhook: Option<Spanned<RawNames>>,
    mode: Option<AlertMode>,
}

/// One name (`webhook: ops`) or several (`webhook: [ops, siem]`).
enum RawNames {
    One(String),
    Many(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for RawNames {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NamesVisitor;
        impl<'de> Visitor<'de> for NamesVisitor {
            type Value = RawNames;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a webhook name, or a list of them")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawNames, E> {
                Ok(RawNames::One(v.to_owned()))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawNames, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element()? {
                    names.push(name);
                }
                Ok(RawNames::Many(names))
            }
        }
        deserializer.deserialize_any(NamesVisitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBoost {
    query: Spanned<String>,
    weight: f64,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExamples {
    #[serde(default, rename = "match")]
    matches: Vec<Spanned<Example>>,
    #[serde(default)]
    no_match: Vec<Spanned<Example>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExampleFields {
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    category: String,
}

impl<'de> Deserialize<'de> for Example {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ExampleVisitor;
        impl<'de> Visitor<'de> for ExampleVisitor {
            type Value = Example;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a headline, or a map with title, summary, content or category")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Example, E> {
                Ok(Example {
                    title: v.to_owned(),
                    ..Example::default()
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Example, A::Error> {
                let f = ExampleFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Example {
                    title: f.title,
                    summary: f.summary,
                    content: f.content,
                    category: f.category,
                    line: 0,
                })
            }
        }
        deserializer.deserialize_any(ExampleVisitor)
    }
}

/// The lists of a file as the loader keeps them beside the compiled matcher.
#[derive(Default)]
struct ListWords {
    /// Entries as written, every language together.
    entries: HashMap<String, Vec<String>>,
    /// The languages of each list written per language; a plain list is absent.
    languages: HashMap<String, std::sync::Arc<BTreeSet<String>>>,
}

/// What goes into an indicator's definition hash.
#[derive(Serialize)]
struct Definition<'a> {
    query: &'a str,
    boosts: &'a [(String, f64)],
    min_score: f64,
    lists: BTreeMap<&'a str, &'a [String]>,
}

struct Loader<'a> {
    text: &'a str,
    path: &'a Path,
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
}

impl Loader<'_> {
    fn load(mut self) -> Result<Indicators, ConfigError> {
        if self
            .text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            return Err(self.fail_whole("file is empty: it defines no lists and no indicators"));
        }
        let raw: RawFile = match serde_saphyr::from_str(self.text) {
            Ok(raw) => raw,
            Err(e) => return Err(self.yaml_error(&e)),
        };

        let mut builder = MatcherBuilder::new();
        let list_words = self.lists(&raw, &mut builder);
        let mut indicators = Vec::new();
        let mut seen: HashMap<String, u64> = HashMap::new();
        for raw_indicator in &raw.indicators {
            if let Some(indicator) =
                self.indicator(raw_indicator, &mut builder, &list_words, &mut seen)
            {
                indicators.push(indicator);
            }
        }
        let feeds = self.feeds(&raw.feeds);
        if raw.indicators.is_empty() {
            self.warnings.push(self.problem_at(
                None,
                None,
                "no indicators are defined: nothing will ever match".into(),
            ));
        }
        if !self.problems.is_empty() {
            return Err(ConfigError::Invalid {
                problems: self.problems,
            });
        }
        Ok(Indicators {
            path: self.path.to_owned(),
            indicators,
            feeds,
            lists: list_words.entries.into_iter().collect(),
            list_languages: list_words
                .languages
                .into_iter()
                .map(|(name, languages)| (name, (*languages).clone()))
                .collect(),
            matcher: builder.build(),
            warnings: self.warnings,
        })
    }

    /// Parses every list into the builder; returns each list's entries as written and, for a
    /// list written per language, its languages.
    fn lists(&mut self, raw: &RawFile, builder: &mut MatcherBuilder) -> ListWords {
        let mut lists: Vec<_> = raw.lists.iter().collect();
        lists.sort_by_key(|(name, _)| name.defined.line());
        let mut words = ListWords::default();
        for (name, list) in lists {
            let context = Some(format!("list '{}'", name.value));
            let valid_name = !name.value.is_empty()
                && name
                    .value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid_name {
                self.problems.push(self.problem_at(
                    Some(&name.defined),
                    context.clone(),
                    "list names use letters, digits, '_' and '-'".into(),
                ));
                continue;
            }
            let entries = list.entries();
            if let RawList::PerLanguage(languages) = list {
                let mut seen: BTreeSet<String> = BTreeSet::new();
                for (language, terms) in languages {
                    let code = language.value.trim();
                    if !coverage::is_language_code(code) {
                        self.problems.push(self.problem_at(
                            Some(&language.defined),
                            context.clone(),
                            format!(
                                "'{code}' is not a language code: keys of a list are ISO 639-1 \
                                 codes, two lowercase letters such as en, ko, ru, zh"
                            ),
                        ));
                    } else if terms.is_empty() {
                        self.problems.push(self.problem_at(
                            Some(&language.defined),
                            context.clone(),
                            format!("list is empty for language '{code}'"),
                        ));
                    }
                    seen.insert(code.to_owned());
                }
                words
                    .languages
                    .insert(name.value.clone(), std::sync::Arc::new(seen));
            }
            if entries.is_empty() {
                self.problems.push(self.problem_at(
                    Some(&name.defined),
                    context.clone(),
                    "list is empty".into(),
                ));
                continue;
            }
            let mut parsed = Vec::new();
            for entry in &entries {
                match query::parse_list_entry(&entry.value) {
                    Ok(entry_words) => parsed.push(ListEntry {
                        label: entry.value.trim().to_owned(),
                        words: entry_words,
                    }),
                    Err(error) => {
                        let problem = self.query_problem(entry, context.clone(), &error);
                        self.problems.push(problem);
                    }
                }
            }
            words.entries.insert(
                name.value.clone(),
                entries.iter().map(|e| e.value.trim().to_owned()).collect(),
            );
            builder.add_list(&name.value, parsed);
        }
        words
    }

    fn indicator(
        &mut self,
        raw: &RawIndicator,
        builder: &mut MatcherBuilder,
        list_words: &ListWords,
        seen: &mut HashMap<String, u64>,
    ) -> Option<Indicator> {
        let id = raw.id.value.trim().to_owned();
        let context = Some(format!("indicator '{id}'"));
        let at_id = Some(&raw.id.defined);
        let problems_before = self.problems.len();
        let valid_id = id.starts_with(|c: char| c.is_ascii_lowercase())
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_id {
            self.problems.push(
                self.problem_at(
                    at_id,
                    context.clone(),
                    "ids are snake_case: lowercase letters, digits and '_', starting with a letter"
                        .into(),
                ),
            );
        }
        if let Some(first) = seen.insert(id.clone(), raw.id.defined.line()) {
            self.problems.push(self.problem_at(
                at_id,
                context.clone(),
                format!("duplicate id: already defined at line {first}"),
            ));
        }
        for (name, value) in [("title", &raw.title), ("insight", &raw.insight)] {
            if value.trim().is_empty() {
                self.problems.push(self.problem_at(
                    at_id,
                    context.clone(),
                    format!("'{name}' is empty"),
                ));
            }
        }
        let mut alert = AlertRoute {
            to: Vec::new(),
            webhooks: Vec::new(),
            mode: raw.alert.as_ref().and_then(|a| a.mode),
        };
        if let Some(names) = raw.alert.as_ref().and_then(|a| a.webhook.as_ref()) {
            let listed: Vec<(&str, &Location)> = match &names.value {
                RawNames::One(name) => vec![(name.as_str(), &names.defined)],
                RawNames::Many(list) => list
                    .iter()
                    .map(|n| (n.value.as_str(), &n.defined))
                    .collect(),
            };
            for (name, at) in listed {
                let name = name.trim();
                if alert.webhooks.iter().any(|w| w.name == name) {
                    continue;
                }
                alert.webhooks.push(WebhookName {
                    name: name.to_owned(),
                    line: at.line(),
                    column: at.column(),
                });
            }
        }
        for address in raw.alert.iter().flat_map(|a| &a.to) {
            match check_address(&address.value) {
                Ok(address) => alert.to.push(address),
                Err(message) => self.problems.push(self.problem_at(
                    Some(&address.defined),
                    context.clone(),
                    format!("alert.to: {message}"),
                )),
            }
        }
        let min_score = raw.min_score.unwrap_or(1.0);
        let weights = raw.boost.iter().map(|b| b.weight);
        if !min_score.is_finite() || weights.clone().any(|w| !w.is_finite()) {
            self.problems.push(self.problem_at(
                at_id,
                context.clone(),
                "min_score and boost weights must be finite numbers".into(),
            ));
        }

        let query = self.parse_clause(&raw.query, &context);
        let boosts: Vec<Option<Expr>> = raw
            .boost
            .iter()
            .map(|b| self.parse_clause(&b.query, &context))
            .collect();
        // Compile whatever parsed, even after other problems, so that one run reports an
        // unknown list or a bad regex too.
        let query = query?;
        let boosts: Vec<(Expr, f64)> = boosts
            .into_iter()
            .zip(&raw.boost)
            .map(|(expr, b)| Some((expr?, b.weight)))
            .collect::<Option<_>>()?;
        let clauses: Vec<(Clause, f64)> = boosts
            .iter()
            .zip(&raw.boost)
            .map(|((expr, weight), b)| {
                let text = &b.query.value;
                (Clause { text, expr }, *weight)
            })
            .collect();
        let written = Clause {
            text: &raw.query.value,
            expr: &query,
        };
        if let Err(e) = builder.add_indicator(written, &clauses, min_score) {
            let clause = match e.boost {
                None => &raw.query,
                Some(i) => &raw.boost[i].query,
            };
            let problem = self.query_problem(clause, context, &e.error);
            self.problems.push(problem);
            return None;
        }
        if self.problems.len() > problems_before {
            return None;
        }

        let clauses = std::iter::once((&raw.query, &query)).chain(
            raw.boost
                .iter()
                .map(|b| &b.query)
                .zip(boosts.iter().map(|(e, _)| e)),
        );
        for (clause, expr) in clauses {
            for warning in query::lint(&clause.value) {
                let warning = self.query_problem(clause, context.clone(), &warning);
                self.warnings.push(warning);
            }
            let mut patterns = Vec::new();
            collect_regexes(expr, &mut patterns);
            for (pattern, span) in patterns {
                if pattern.contains("\\b") || pattern.contains("\\B") {
                    let error = QueryError::new(
                        span,
                        "regex uses \\b: Unicode word boundaries force a slow engine on Korean \
                         and Russian text; prefer word terms, or [^\\w] around the word",
                    );
                    let warning = self.query_problem(clause, context.clone(), &error);
                    self.warnings.push(warning);
                }
            }
        }

        let examples_match = examples(&raw.examples.matches);
        let examples_no_match = examples(&raw.examples.no_match);
        if examples_match.is_empty() {
            self.warnings.push(self.problem_at(
                at_id,
                context.clone(),
                "no 'match' examples: `watchfloor check` cannot test this indicator".into(),
            ));
        }

        let boosts_written: Vec<(String, f64)> = raw
            .boost
            .iter()
            .map(|b| (b.query.value.clone(), b.weight))
            .collect();
        let mut used_lists = BTreeMap::new();
        collect_lists(&query, &mut used_lists, &list_words.entries);
        for (expr, _) in &boosts {
            collect_lists(expr, &mut used_lists, &list_words.entries);
        }
        let languages_of = |name: &str| list_words.languages.get(name).cloned();
        let coverage = Coverage::new(&query, &boosts, min_score, &languages_of);
        if !coverage.reachable() {
            self.problems.push(self.problem_at(
                at_id,
                context.clone(),
                format!(
                    "min_score {min_score} cannot be reached: the best score an item can get \
                     is {:.2} (1.0 for the query plus every positive boost)",
                    coverage.best_score()
                ),
            ));
            return None;
        }
        let definition = Definition {
            query: &raw.query.value,
            boosts: &boosts_written,
            min_score,
            lists: used_lists,
        };
        let canonical = serde_json::to_vec(&definition).expect("definition serialises");
        let definition_hash = hex(&Sha256::digest(&canonical));

        Some(Indicator {
            id,
            title: raw.title.trim().to_owned(),
            insight: raw.insight.trim().to_owned(),
            severity: raw.severity,
            query: raw.query.value.clone(),
            boosts: boosts_written,
            min_score,
            examples_match,
            examples_no_match,
            definition_hash,
            line: raw.id.defined.line(),
            alert,
            coverage,
        })
    }

    fn feeds(&mut self, raw: &[RawFeed]) -> Vec<Feed> {
        let mut feeds = Vec::new();
        let mut seen: HashMap<&str, u64> = HashMap::new();
        for feed in raw {
            let id = feed.id.value.trim();
            let context = Some(format!("feed '{id}'"));
            let at_id = Some(&feed.id.defined);
            let before = self.problems.len();
            let valid_id = !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
            if !valid_id {
                self.problems.push(self.problem_at(
                    at_id,
                    context.clone(),
                    "feed ids use lowercase letters, digits, '_' and '-'".into(),
                ));
            }
            if let Some(first) = seen.insert(id, feed.id.defined.line()) {
                self.problems.push(self.problem_at(
                    at_id,
                    context.clone(),
                    format!("duplicate feed id: already defined at line {first}"),
                ));
            }
            if let Err(message) = check_feed_url(&feed.url.value) {
                self.problems.push(self.problem_at(
                    Some(&feed.url.defined),
                    context.clone(),
                    message,
                ));
            }
            let schedule =
                feed.schedule
                    .as_ref()
                    .and_then(|written| match Schedule::parse(&written.value) {
                        Ok(schedule) => Some(schedule),
                        Err(e) => {
                            let (line, column) =
                                locate(self.text, &written.defined, &written.value, e.column);
                            self.problems.push(Problem {
                                path: self.path.to_owned(),
                                line,
                                column,
                                context: context.clone(),
                                kind: ProblemKind::Schedule,
                                message: format!("schedule: {}", e.message),
                                detail: Some(format!(
                                    "  {}\n  {}^",
                                    written.value,
                                    " ".repeat(written.value[..e.column].chars().count())
                                )),
                            });
                            None
                        }
                    });
            if self.problems.len() > before {
                continue;
            }
            feeds.push(Feed {
                id: id.to_owned(),
                url: feed.url.value.trim().to_owned(),
                title: feed.title.clone(),
                schedule,
                tags: feed.tags.clone(),
                enabled: feed.enabled.unwrap_or(true),
                line: feed.id.defined.line(),
            });
        }
        feeds
    }

    fn parse_clause(&mut self, clause: &Spanned<String>, context: &Option<String>) -> Option<Expr> {
        match query::parse(&clause.value) {
            Ok(expr) => Some(expr),
            Err(error) => {
                let problem = self.query_problem(clause, context.clone(), &error);
                self.problems.push(problem);
                None
            }
        }
    }

    fn query_problem(
        &self,
        clause: &Spanned<String>,
        context: Option<String>,
        error: &QueryError,
    ) -> Problem {
        let (line, column) = locate(self.text, &clause.defined, &clause.value, error.span.start);
        Problem {
            path: self.path.to_owned(),
            line,
            column,
            context,
            kind: ProblemKind::Query,
            message: error.message.clone(),
            detail: Some(error.pointer(&clause.value)),
        }
    }

    fn problem_at(
        &self,
        location: Option<&Location>,
        context: Option<String>,
        message: String,
    ) -> Problem {
        Problem {
            path: self.path.to_owned(),
            line: location.map_or(0, Location::line),
            column: location.map_or(0, Location::column),
            context,
            kind: ProblemKind::Definition,
            message,
            detail: None,
        }
    }

    fn fail_whole(&self, message: &str) -> ConfigError {
        ConfigError::Invalid {
            problems: vec![self.problem_at(None, None, message.to_owned())],
        }
    }

    fn yaml_error(&self, error: &serde_saphyr::Error) -> ConfigError {
        yaml_error(self.path, error)
    }
}

impl Feed {
    /// An enabled feed on the default schedule, not read from a file.
    pub fn new(id: &str, url: &str) -> Feed {
        Feed {
            id: id.to_owned(),
            url: url.to_owned(),
            title: None,
            schedule: None,
            tags: Vec::new(),
            enabled: true,
            line: 0,
        }
    }
}

/// A feed URL must be absolute http or https with a host.
fn check_feed_url(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text.trim()).map_err(|e| format!("invalid URL '{text}': {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "URL '{text}' uses '{}': only http and https feeds are polled",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("URL '{text}' has no host"));
    }
    Ok(())
}

fn examples(raw: &[Spanned<Example>]) -> Vec<Example> {
    raw.iter()
        .map(|e| Example {
            line: e.defined.line(),
            ..e.value.clone()
        })
        .collect()
}

fn collect_lists<'a>(
    expr: &Expr,
    out: &mut BTreeMap<&'a str, &'a [String]>,
    lists: &'a HashMap<String, Vec<String>>,
) {
    match expr {
        Expr::Term {
            term: Term::List(name),
            ..
        } => {
            if let Some((key, entries)) = lists.get_key_value(name) {
                out.insert(key.as_str(), entries.as_slice());
            }
        }
        Expr::Term { .. } => {}
        Expr::And(items) | Expr::Or(items) => {
            for item in items {
                collect_lists(item, out, lists);
            }
        }
        Expr::Not(inner, _) | Expr::Field { inner, .. } => collect_lists(inner, out, lists),
        Expr::Near { left, right, .. } => {
            collect_lists(left, out, lists);
            collect_lists(right, out, lists);
        }
    }
}

fn collect_regexes<'a>(expr: &'a Expr, out: &mut Vec<(&'a str, query::Span)>) {
    match expr {
        Expr::Term {
            term: Term::Regex(pattern),
            span,
            ..
        } => out.push((pattern, *span)),
        Expr::Term { .. } => {}
        Expr::And(items) | Expr::Or(items) => items.iter().for_each(|e| collect_regexes(e, out)),
        Expr::Not(inner, _) | Expr::Field { inner, .. } => collect_regexes(inner, out),
        Expr::Near { left, right, .. } => {
            collect_regexes(left, out);
            collect_regexes(right, out);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Finds the file line and column of byte `offset` of a scalar's value.
///
/// The value may differ from the file text: quotes, escapes, and in block scalars the line
/// breaks and indentation. Walking both texts side by side, skipping what the value does not
/// hold, lands on the right place for every scalar style.
fn locate(text: &str, scalar: &Location, value: &str, offset: usize) -> (u64, u64) {
    let Some(start) = scalar.span().byte_offset().map(|o| o as usize) else {
        return (scalar.line(), scalar.column() + offset as u64);
    };
    let raw = &text[start.min(text.len())..];
    let mut raw_chars = raw.char_indices().peekable();
    if matches!(raw_chars.peek(), Some((_, '"' | '\''))) {
        raw_chars.next();
    }
    for wanted in value[..offset.min(value.len())].chars() {
        while let Some(&(_, found)) = raw_chars.peek() {
            raw_chars.next();
            if found == wanted {
                break;
            }
        }
    }
    // Land on the token itself, not on whitespace before it.
    while let Some(&(_, found)) = raw_chars.peek() {
        if !found.is_whitespace() {
            break;
        }
        raw_chars.next();
    }
    let at = start + raw_chars.peek().map_or(raw.len(), |&(i, _)| i);
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() as u64 + 1;
    let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count() as u64
        + 1;
    (line, column)
}
