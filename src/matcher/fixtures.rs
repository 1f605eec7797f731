//! Rules and an item shared by the tests of every stage that shows a demoted hit (mail, the
//! hit page): one item, one hit whose score a demoting boost lowered.

use super::{Hit, ItemText};
use crate::config::Indicators;

pub const DEMOTED_TITLE: &str = "Launch pad readied";
pub const DEMOTED_SUMMARY: &str = "Commercial imagery shows the satellite on the pad";

/// The rules, and the one hit they make on [`DEMOTED_TITLE`] and [`DEMOTED_SUMMARY`].
pub fn demoted_hit() -> (Indicators, Hit) {
    let rules = Indicators::parse(
        r#"lists:
  imagery: ["commercial imagery"]
indicators:
  - id: sat
    title: Satellite
    insight: Why.
    severity: high
    query: satellite AND launch*
    boost:
      - query: "title:(launch*)"
        weight: 0.5
      - query: "@imagery"
        weight: -1.0
    min_score: 0.5
"#,
        std::path::Path::new("rules.yaml"),
    )
    .expect("rules");
    let item = ItemText {
        title: DEMOTED_TITLE,
        summary: DEMOTED_SUMMARY,
        ..ItemText::default()
    };
    let mut hits = rules
        .matcher
        .match_item(&item, &mut rules.matcher.scratch());
    assert_eq!(hits.len(), 1, "the example hit fires");
    let hit = hits.pop().expect("one hit");
    (rules, hit)
}
