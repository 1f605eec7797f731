//! Items counted by language: per feed for `watchfloor feeds` and the feeds page, in all for
//! `/metrics`. What a language means for the rules (blind spots) is worked out by the reader
//! with the rules in force (`crate::languages`), since rules change without the items changing.

use std::collections::BTreeMap;

use super::{Store, StoreError};

/// How items stored before languages were identified are counted (their `lang` is NULL).
pub const NOT_IDENTIFIED: &str = "none";

impl Store {
    /// Items each feed delivered, by language (`und` when the text did not say,
    /// [`NOT_IDENTIFIED`] for items stored before), most frequent first.
    pub fn feed_languages(&self) -> Result<BTreeMap<String, Vec<(String, u64)>>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT s.feed_id, COALESCE(i.lang, ?1), COUNT(*)
             FROM item_sources s JOIN items i ON i.id = s.item_id
             GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2",
        )?;
        let rows = statement.query_map([NOT_IDENTIFIED], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)? as u64,
            ))
        })?;
        let mut feeds: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
        for row in rows {
            let (feed, lang, n) = row?;
            feeds.entry(feed).or_default().push((lang, n));
        }
        Ok(feeds)
    }

    /// Items stored, by language (as in [`Store::feed_languages`]), most frequent first: an
    /// index scan, cheap enough for every scrape.
    pub fn items_by_language(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT COALESCE(lang, ?1), COUNT(*) FROM items GROUP BY lang ORDER BY 2 DESC, 1",
        )?;
        let rows = statement.query_map([NOT_IDENTIFIED], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
