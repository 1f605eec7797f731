//! What the feeds deliver, by language, against what the rules can read: the languages of a
//! feed with their shares, and its blind items, those in a language some indicator cannot
//! fire on. Pure: counts from the store and the rules in force in, summaries out.
//!
//! Blind spots are worked out when they are read, never stored: they depend on the rules,
//! which a reload changes without any item changing.

use crate::config::Indicators;
use crate::store::NOT_IDENTIFIED;
use crate::text::lang::UNDETERMINED;

/// Languages shown by name in a share list; the rest are summed as "other".
const SHOWN_LANGUAGES: usize = 4;

/// Items in a language that one or more indicators cannot fire on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Blind {
    /// Blind items in all.
    pub items: u64,
    /// Per language, most items first: the language, its items, the indicators blind to it.
    pub by_language: Vec<BlindLanguage>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlindLanguage {
    pub lang: String,
    pub items: u64,
    pub indicators: Vec<String>,
}

/// Whether a count's language was identified: `und` and items stored before identification
/// say nothing about a rule's reach.
fn known(lang: &str) -> bool {
    lang != UNDETERMINED && lang != NOT_IDENTIFIED
}

/// "en 80%, ko 15%, ru 5%": the languages of items whose language was asked (`und`
/// included, items stored before identification not), most first.
pub fn shares(langs: &[(String, u64)]) -> String {
    let asked: Vec<&(String, u64)> = langs
        .iter()
        .filter(|(lang, n)| lang != NOT_IDENTIFIED && *n > 0)
        .collect();
    let total: u64 = asked.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return "-".to_owned();
    }
    let percent = |n: u64| {
        let p = n as f64 * 100.0 / total as f64;
        if p < 1.0 {
            "<1%".to_owned()
        } else {
            format!("{p:.0}%")
        }
    };
    let mut sorted = asked;
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut parts: Vec<String> = sorted
        .iter()
        .take(SHOWN_LANGUAGES)
        .map(|(lang, n)| format!("{lang} {}", percent(*n)))
        .collect();
    let rest: u64 = sorted.iter().skip(SHOWN_LANGUAGES).map(|(_, n)| n).sum();
    if rest > 0 {
        parts.push(format!("other {}", percent(rest)));
    }
    parts.join(", ")
}

/// The blind items among `langs` (language counts), given which indicators can fire in a
/// language: `can_fire(indicator position, lang)`.
pub fn blind_with(
    langs: &[(String, u64)],
    ids: &[&str],
    can_fire: impl Fn(usize, &str) -> bool,
) -> Blind {
    let mut blind = Blind::default();
    for (lang, n) in langs {
        if !known(lang) || *n == 0 {
            continue;
        }
        let indicators: Vec<String> = ids
            .iter()
            .enumerate()
            .filter(|(i, _)| !can_fire(*i, lang))
            .map(|(_, id)| (*id).to_owned())
            .collect();
        if indicators.is_empty() {
            continue;
        }
        blind.items += n;
        blind.by_language.push(BlindLanguage {
            lang: lang.clone(),
            items: *n,
            indicators,
        });
    }
    blind
        .by_language
        .sort_by(|a, b| b.items.cmp(&a.items).then_with(|| a.lang.cmp(&b.lang)));
    blind
}

/// The blind items among `langs` under the rules in force.
pub fn blind(langs: &[(String, u64)], rules: &Indicators) -> Blind {
    let ids: Vec<&str> = rules.indicators.iter().map(|i| i.id.as_str()).collect();
    blind_with(langs, &ids, |i, lang| rules.indicators[i].can_fire_in(lang))
}

impl Blind {
    /// "12 items (uk: satellite_launch, labor_export; ar: labor_export)", or "-" for none.
    pub fn describe(&self) -> String {
        if self.items == 0 {
            return "-".to_owned();
        }
        let detail: Vec<String> = self
            .by_language
            .iter()
            .map(|b| format!("{} {}: {}", b.lang, b.items, b.indicators.join(", ")))
            .collect();
        let noun = if self.items == 1 { "item" } else { "items" };
        format!("{} {noun} ({})", self.items, detail.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
        pairs.iter().map(|(l, n)| ((*l).to_owned(), *n)).collect()
    }

    #[test]
    fn shares_are_percentages_of_the_items_whose_language_was_asked() {
        assert_eq!(
            shares(&counts(&[("ru", 5), ("en", 80), ("ko", 15), ("none", 900)])),
            "en 80%, ko 15%, ru 5%"
        );
        assert_eq!(shares(&counts(&[("none", 3)])), "-");
        assert_eq!(shares(&[]), "-");
        assert_eq!(
            shares(&counts(&[("en", 996), ("und", 4)])),
            "en 100%, und <1%"
        );
        assert_eq!(
            shares(&counts(&[
                ("en", 50),
                ("de", 20),
                ("fr", 10),
                ("es", 10),
                ("it", 5),
                ("pt", 5)
            ])),
            "en 50%, de 20%, es 10%, fr 10%, other 10%"
        );
    }

    #[test]
    fn blind_items_are_those_in_a_known_language_some_indicator_cannot_read() {
        let ids = ["satellite_launch", "labor_export"];
        // satellite_launch reads en and ko; labor_export reads en, ko and ru.
        let can_fire = |i: usize, lang: &str| match i {
            0 => ["en", "ko"].contains(&lang),
            _ => ["en", "ko", "ru"].contains(&lang),
        };
        let blind = blind_with(
            &counts(&[
                ("en", 100),
                ("ru", 7),
                ("uk", 12),
                ("und", 40),
                ("none", 500),
            ]),
            &ids,
            can_fire,
        );
        assert_eq!(blind.items, 19);
        assert_eq!(
            blind.describe(),
            "19 items (uk 12: satellite_launch, labor_export; ru 7: satellite_launch)"
        );
        let none = blind_with(&counts(&[("en", 3), ("und", 2)]), &ids, can_fire);
        assert_eq!(none, Blind::default());
        assert_eq!(none.describe(), "-");
    }
}
