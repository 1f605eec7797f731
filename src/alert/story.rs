//! Telling that two headlines report the same story.
//!
//! Agencies rewrite each other's headlines a little ("North Korea launches spy satellite" and
//! "North Korea launches spy satellite, Seoul says"), so stories are compared on the set of
//! their title's normalised words: two titles tell the same story when the words they share
//! are most of the words either has. Comparing sets exactly, rather than a hashed sketch such
//! as MinHash, costs nothing here: a hit is compared only with the same indicator's hits of
//! the last 72 hours.
//!
//! Folding happens outside the poll's write: the poll stores each hit with its title's
//! [`Fingerprint`] and its alerts waiting (`story_pending`), in the hit's transaction; the
//! dispatcher then decides, before it plans, which waiting hits are later reports
//! ([`fold_pending`], on a read connection), and records that in a transaction of its own
//! (`Store::record_stories`), which folds their alerts and releases them to planning. So the
//! invariant that an alert is in the outbox with its hit holds, and the outbox row is updated
//! after. One dispatcher decides in hit order, so the result is what deciding each hit as it
//! was stored would give.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::store::{Store, StoreError, StoryHit};
use crate::text::normalize_words;

/// How far back a new hit looks for an earlier report of the same story.
const STORY_WINDOW: chrono::Duration = chrono::Duration::hours(72);
/// Earlier reports compared at most, newest first: a busy indicator's 72 hours. With stored
/// fingerprints a comparison is a merge of two short sorted lists, so a hit costs at most this
/// many of them whatever earlier items held.
const STORY_CANDIDATES: usize = 500;
/// Waiting hits decided per round: bounds one round's work; the rest wait for the next.
pub const FOLD_BATCH: usize = 1000;
/// Bytes of words a fingerprint keeps: normalisation can lengthen text (compatibility forms),
/// so the title cap alone does not bound what is stored.
const FINGERPRINT_BYTES: usize = 1024;

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
        let mut kept = 0;
        let mut words: Vec<String> = normalize_words(&title[..end])
            .into_iter()
            .filter(|w| !FILLER.contains(&w.as_str()))
            .take_while(|w| {
                kept += w.len() + 1;
                kept <= FINGERPRINT_BYTES
            })
            .collect();
        words.sort_unstable();
        words.dedup();
        Fingerprint { words }
    }

    /// The form kept with each hit: the words, space-separated (a normalised word has no
    /// space in it).
    pub fn to_stored(&self) -> String {
        self.words.join(" ")
    }

    pub fn from_stored(stored: &str) -> Fingerprint {
        let mut words: Vec<String> = stored
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        // Sorted and distinct already when this code stored it; made so for any other text.
        words.sort_unstable();
        words.dedup();
        Fingerprint { words }
    }

    fn of_stored_hit(hit: &StoryHit) -> Fingerprint {
        match &hit.fingerprint {
            Some(stored) => Fingerprint::from_stored(stored),
            None => Fingerprint::of(&hit.title),
        }
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

/// A hit as folding decides it.
struct Report {
    hit_id: i64,
    item_id: i64,
    created_at: DateTime<Utc>,
    fingerprint: Fingerprint,
    /// Still the first report of its story (not folded into an earlier one).
    leads: bool,
}

/// Decides the story of each waiting hit (at most [`FOLD_BATCH`], oldest first): `(hit, the
/// first report of its story)` when an earlier report of the same indicator within 72 hours
/// tells the same story, else `(hit, None)`. Reads only stored fingerprints; run on a read
/// connection, then record the answer with `Store::record_stories`.
pub fn fold_pending(store: &Store) -> Result<Vec<(i64, Option<i64>)>, StoreError> {
    let pending = store.story_pending(FOLD_BATCH, TITLE_BYTES)?;
    let mut by_indicator: HashMap<String, Vec<StoryHit>> = HashMap::new();
    for hit in pending {
        by_indicator
            .entry(hit.indicator_id.clone())
            .or_default()
            .push(hit);
    }
    let mut decided = Vec::new();
    for (indicator_id, waiting) in by_indicator {
        let (Some(first), Some(last)) = (waiting.first(), waiting.last()) else {
            continue;
        };
        let earlier = store.story_candidates(
            &indicator_id,
            first.created_at - STORY_WINDOW,
            last.hit_id,
            STORY_CANDIDATES + waiting.len(),
            TITLE_BYTES,
        )?;
        decided.extend(decide(&earlier, &waiting));
    }
    decided.sort_unstable();
    Ok(decided)
}

/// Folding over one indicator's hits: `earlier` are first reports already stored (some may be
/// waiting too), `waiting` the hits to decide, oldest first. Each waiting hit is compared, as
/// when it was stored, with the newest [`STORY_CANDIDATES`] first reports before it within
/// the window, and joins the earliest that tells the same story.
fn decide(earlier: &[StoryHit], waiting: &[StoryHit]) -> Vec<(i64, Option<i64>)> {
    let mut reports: BTreeMap<i64, Report> = BTreeMap::new();
    for hit in earlier.iter().chain(waiting) {
        reports.entry(hit.hit_id).or_insert_with(|| Report {
            hit_id: hit.hit_id,
            item_id: hit.item_id,
            created_at: hit.created_at,
            fingerprint: Fingerprint::of_stored_hit(hit),
            leads: true,
        });
    }
    let mut decided = Vec::with_capacity(waiting.len());
    for hit in waiting {
        let Some(this) = reports.get(&hit.hit_id) else {
            continue;
        };
        let since = this.created_at - STORY_WINDOW;
        let leader = reports
            .range(..hit.hit_id)
            .rev()
            .map(|(_, r)| r)
            .filter(|r| r.leads && r.item_id != this.item_id && r.created_at >= since)
            .take(STORY_CANDIDATES)
            .filter(|r| this.fingerprint.same_story(&r.fingerprint))
            .last()
            .map(|r| r.hit_id);
        if leader.is_some()
            && let Some(this) = reports.get_mut(&hit.hit_id)
        {
            this.leads = false;
        }
        decided.push((hit.hit_id, leader));
    }
    decided
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(hit_id: i64, item_id: i64, minutes: i64, title: &str) -> StoryHit {
        let start = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        StoryHit {
            hit_id,
            indicator_id: "i".into(),
            item_id,
            created_at: start + chrono::Duration::minutes(minutes),
            fingerprint: Some(Fingerprint::of(title).to_stored()),
            title: String::new(),
        }
    }

    #[test]
    fn waiting_hits_join_the_earliest_report_of_their_story() {
        let sat = "North Korea launches spy satellite with Russian help";
        let sat_later = "North Korea launches spy satellite with Russian help, Seoul says";
        let oil = "Russia ships oil to North Korea";
        let earlier = [hit(1, 1, 0, sat), hit(2, 2, 5, oil)];
        let waiting = [
            hit(3, 3, 10, sat_later),
            hit(4, 4, 10, "Russia ships wheat to North Korea"),
            hit(5, 5, 10, oil),
            // Three days later the story is news again.
            hit(6, 6, 72 * 60 + 1, sat),
        ];
        assert_eq!(
            decide(&earlier, &waiting),
            [(3, Some(1)), (4, None), (5, Some(2)), (6, None)]
        );
    }

    #[test]
    fn a_waiting_hit_can_lead_the_hits_after_it() {
        let sat = "North Korea launches spy satellite with Russian help";
        let waiting = [hit(1, 1, 0, sat), hit(2, 2, 0, sat), hit(3, 3, 0, sat)];
        assert_eq!(
            decide(&[], &waiting),
            [(1, None), (2, Some(1)), (3, Some(1))]
        );
    }

    /// Through the store: alerts wait for their story, a hit stored before fingerprints were
    /// (none kept) is compared by its title, and a later report's alert is folded into the
    /// first report's.
    #[test]
    fn waiting_alerts_are_folded_into_the_first_report_and_released() {
        use crate::config::AlertMode;
        use crate::store::{
            AlertStatus, FeedDef, HitRecord, HitRoute, ItemRecord, ItemWrite, PollResult, PollWrite,
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&dir.path().join("w.db")).expect("open");
        store
            .sync_feeds(&[FeedDef {
                id: "wire",
                url: "http://127.0.0.1/wire.xml",
                title: None,
            }])
            .expect("feeds");
        let at = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let first = "North Korea launches spy satellite with Russian help";
        let later = "North Korea launches spy satellite with Russian help, Seoul says";
        let write = |key: &str, title: &str, fingerprint: Option<String>| ItemWrite::New {
            item: ItemRecord {
                key: key.into(),
                link: Some(format!("https://news.test/{key}")),
                title: title.into(),
                content_hash: key.into(),
                ..ItemRecord::default()
            },
            hits: vec![HitRecord {
                indicator_id: "sat".into(),
                score: 1.0,
                evidence: "{}".into(),
                definition_hash: "h".into(),
                route: Some(HitRoute {
                    recipients: vec!["analyst@example.org".into()],
                    webhooks: Vec::new(),
                    mode: AlertMode::Immediate,
                }),
                fingerprint,
            }],
        };
        let counts = store
            .write_poll(&PollWrite {
                feed_id: "wire".into(),
                attempted_at: at,
                result: PollResult::NotModified,
                next_check: at,
                min_interval: None,
                items: vec![
                    // As a hit stored before schema version 10: no fingerprint.
                    write("a", first, None),
                    write("b", later, Some(Fingerprint::of(later).to_stored())),
                ],
            })
            .expect("write");
        assert_eq!(counts.new_alerts, 2);
        assert!(
            store.pending_alerts().expect("pending").is_empty(),
            "waiting"
        );

        let decided = fold_pending(&store).expect("folded");
        let (a, b) = (counts.hits[0].hit_id, counts.hits[1].hit_id);
        assert_eq!(decided, [(a, None), (b, Some(a))]);
        assert_eq!(store.record_stories(&decided).expect("recorded"), 1);
        let pending = store.pending_alerts().expect("pending");
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].hit_id, a);
        let folded = store.alerts(Some(AlertStatus::Folded), 10).expect("folded");
        assert_eq!(folded.len(), 1);
        assert_eq!(folded[0].hit_id, b);
        assert!(fold_pending(&store).expect("nothing waits").is_empty());
    }

    #[test]
    fn a_stored_fingerprint_reads_back_as_it_was() {
        let fingerprint = Fingerprint::of("North Korea launches spy satellite, Seoul says");
        assert_eq!(
            Fingerprint::from_stored(&fingerprint.to_stored()),
            fingerprint
        );
        let hostile = "\u{FDFA}".repeat(10_000);
        assert!(Fingerprint::of(&hostile).to_stored().len() <= FINGERPRINT_BYTES);
    }

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
