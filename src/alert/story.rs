//! Telling that two headlines report the same story.
//!
//! Agencies rewrite each other's headlines a little ("North Korea launches spy satellite" and
//! "North Korea launches spy satellite, Seoul says"), so stories are compared on the set of
//! their title's normalised words: two titles tell the same story when the words they share
//! are most of the words either has. Comparing sets exactly, rather than a hashed sketch such
//! as MinHash, costs nothing here: a hit is compared only with the same indicator's hits of
//! the last 72 hours.

use crate::text::normalize_words;

/// Share of common words (Jaccard similarity) from which two titles are one story.
const SAME_STORY: f64 = 0.7;
/// Titles with fewer distinct content words than this must have the same words.
const SHORT_TITLE: usize = 4;

/// Bytes of a title read: a headline is a line, but a feed may put a whole article (or
/// megabytes, on purpose) in the title, and every new hit is compared with hundreds of
/// earlier ones inside the poll's write. Capped, one comparison costs what a headline costs.
pub const TITLE_BYTES: usize = 512;

/// Words too common in headlines to say anything about the story.
const FILLER: &[&str] = &[
    "a", "an", "and", "as", "at", "by", "for", "from", "in", "is", "it", "of", "on", "or", "says",
    "said", "say", "report", "reports", "the", "to", "with",
];

/// A title reduced to what story comparison looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// Distinct normalised content words, sorted.
    words: Vec<String>,
}

impl Fingerprint {
    pub fn of(title: &str) -> Fingerprint {
        let mut end = title.len().min(TITLE_BYTES);
        while !title.is_char_boundary(end) {
            end -= 1;
        }
        let mut words: Vec<String> = normalize_words(&title[..end])
            .into_iter()
            .filter(|w| !FILLER.contains(&w.as_str()))
            .collect();
        words.sort_unstable();
        words.dedup();
        Fingerprint { words }
    }

    /// Whether two titles report the same story.
    pub fn same_story(&self, other: &Fingerprint) -> bool {
        if self.words.is_empty() || other.words.is_empty() {
            return false;
        }
        if self.words.len() < SHORT_TITLE || other.words.len() < SHORT_TITLE {
            return self.words == other.words;
        }
        self.similarity(other) >= SAME_STORY
    }

    /// Jaccard similarity of the two word sets.
    pub fn similarity(&self, other: &Fingerprint) -> f64 {
        let (mut i, mut j, mut shared) = (0, 0, 0usize);
        while i < self.words.len() && j < other.words.len() {
            match self.words[i].cmp(&other.words[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    shared += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        let union = self.words.len() + other.words.len() - shared;
        shared as f64 / union as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_of_any_length_costs_what_its_first_line_costs() {
        let headline = "North Korea launches spy satellite, Seoul says";
        let huge = format!("{headline} {}", "zzz ".repeat(2_000_000));
        let fingerprint = Fingerprint::of(&huge);
        let prefix_end = (0..=TITLE_BYTES)
            .rev()
            .find(|&n| huge.is_char_boundary(n))
            .expect("a boundary");
        assert_eq!(fingerprint, Fingerprint::of(&huge[..prefix_end]));
        assert!(fingerprint.words.len() <= TITLE_BYTES / 2);
        // Cut inside a multi-byte character, it still reads whole characters.
        let korean = "북".repeat(1_000);
        assert_eq!(Fingerprint::of(&korean).words.len(), 1);
    }

    fn same(a: &str, b: &str) -> bool {
        Fingerprint::of(a).same_story(&Fingerprint::of(b))
    }

    #[test]
    fn rewritten_headlines_of_one_story_are_the_same_story() {
        let cases = [
            (
                "North Korea launches spy satellite with Russian help",
                "North Korea launches spy satellite with Russian help, Seoul says",
            ),
            (
                "N. Korea launches reconnaissance satellite into orbit",
                "North Korea launches reconnaissance satellite into orbit",
            ),
            (
                "Russia ships 1 million barrels of oil to North Korea",
                "RUSSIA SHIPS 1 MILLION BARRELS OF OIL TO NORTH KOREA - report",
            ),
            (
                "북한, 정찰위성 발사 성공 주장",
                "북한 정찰위성 발사 성공 주장",
            ),
            (
                "КНДР запустила спутник с помощью России",
                "КНДР запустила спутник с помощью России — источник",
            ),
        ];
        for (a, b) in cases {
            assert!(same(a, b), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn different_stories_of_one_topic_stay_apart() {
        let cases = [
            (
                "North Korea launches spy satellite with Russian help",
                "North Korea prepares new satellite launch at Sohae, imagery shows",
            ),
            (
                "Russia ships oil to North Korea",
                "Russia ships wheat to North Korea",
            ),
            (
                "North Korean workers arrive in Russia's Far East",
                "South Korea weighs sending artillery shells to Ukraine",
            ),
            ("", ""),
        ];
        for (a, b) in cases {
            assert!(!same(a, b), "{a:?} vs {b:?}");
        }
    }
}
