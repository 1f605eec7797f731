//! Housekeeping: retention pruning and backups.
//!
//! Retention keeps the hit log readable forever and lets everything else go. An old item with
//! hits keeps its row, title and link (the hits, their evidence and the outbox point at it)
//! and loses only its bulky text; an old item without hits is deleted with its sources, and
//! each source leaves a tombstone in `forgotten_sources` so that a feed still listing the item
//! does not bring it back as new. Pruning works in small transactions, so a poll waiting for
//! the store waits for one batch at most, never for the whole night's work.
//!
//! Backups use `VACUUM INTO`: it copies from one read transaction, so the copy is a consistent
//! snapshot even while the daemon writes (WAL lets the writer go on meanwhile), and the copy
//! comes out compacted, without the free pages pruning leaves behind. The online backup API
//! would copy pages faster but restarts whenever another connection writes mid-copy, unless
//! done in one step, which is then the same single read transaction without the compaction.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{Store, StoreError, from_unix, to_unix};

/// Rows of each kind one pruning transaction handles at most: small enough that a poll
/// waiting for the store waits milliseconds, large enough that a year's backlog takes minutes.
pub const PRUNE_BATCH: usize = 500;

/// How long a tombstone is kept at least. Feeds seldom list an item for more than a few
/// months; with a short retention the tombstone must still outlive the feed's listing.
const TOMBSTONE_MIN_DAYS: i64 = 90;

/// The `housekeeping_state` key of the last completed prune.
const LAST_PRUNE: &str = "last_prune";

/// What pruning removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Old items without hits, deleted with their sources (each kept as a tombstone).
    pub items_deleted: u64,
    /// Old items with hits that lost their summary, content, authors and categories.
    pub items_trimmed: u64,
    /// Bytes of item text removed, by both.
    pub text_bytes: u64,
    /// Tombstones old enough that no feed should list their item any more.
    pub tombstones_expired: u64,
    /// Transactions it took, the last of which found nothing left.
    pub batches: u64,
}

impl PruneReport {
    /// Whether nothing was removed.
    pub fn is_empty(&self) -> bool {
        self.items_deleted + self.items_trimmed + self.tombstones_expired == 0
    }

    pub fn add(&mut self, other: &PruneReport) {
        self.items_deleted += other.items_deleted;
        self.items_trimmed += other.items_trimmed;
        self.text_bytes += other.text_bytes;
        self.tombstones_expired += other.tombstones_expired;
        self.batches += other.batches;
    }
}

/// A checked copy of the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupReport {
    pub bytes: u64,
    pub schema_version: i64,
    /// `PRAGMA integrity_check` of the copy: "ok", or its first problems.
    pub integrity: String,
}

impl Store {
    /// Prunes items first seen before `older_than`, batch after batch until nothing is left,
    /// then records `now` as the last prune. Running it again finds nothing to do.
    pub fn prune(
        &mut self,
        older_than: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<PruneReport, StoreError> {
        let mut total = PruneReport::default();
        loop {
            let step = self.prune_step(older_than, now, PRUNE_BATCH)?;
            total.add(&step);
            if step.is_empty() {
                break;
            }
        }
        self.record_prune(now)?;
        Ok(total)
    }

    /// One pruning transaction: at most `limit` items deleted, `limit` trimmed and `limit`
    /// tombstones expired. An empty report means nothing is left to prune; the caller records
    /// the run with [`Store::record_prune`]. Callers sharing the store release it between
    /// steps, so polls go on while a long backlog is pruned.
    pub fn prune_step(
        &mut self,
        older_than: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<PruneReport, StoreError> {
        let cutoff = to_unix(older_than);
        let at = to_unix(now);
        let tombstone_cutoff = cutoff.min(at - TOMBSTONE_MIN_DAYS * 86_400);
        let limit = limit as i64;
        let mut report = PruneReport {
            batches: 1,
            ..PruneReport::default()
        };
        let tx = self.conn.transaction()?;

        let doomed: Vec<(i64, i64)> = tx
            .prepare_cached(
                "SELECT id, length(CAST(summary AS BLOB)) + length(CAST(content AS BLOB))
                        + length(CAST(authors AS BLOB)) + length(CAST(categories AS BLOB))
                        + length(CAST(title AS BLOB)) + IFNULL(length(CAST(link AS BLOB)), 0)
                 FROM items i
                 WHERE first_seen < ?1 AND NOT EXISTS (SELECT 1 FROM hits h WHERE h.item_id = i.id)
                 ORDER BY first_seen LIMIT ?2",
            )?
            .query_map(params![cutoff, limit], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (item_id, bytes) in doomed {
            tx.prepare_cached(
                "INSERT INTO forgotten_sources (feed_id, key, content_hash, forgotten_at)
                 SELECT feed_id, key, content_hash, ?2 FROM item_sources WHERE item_id = ?1
                 ON CONFLICT(feed_id, key) DO UPDATE SET
                   content_hash = excluded.content_hash, forgotten_at = excluded.forgotten_at",
            )?
            .execute(params![item_id, at])?;
            tx.prepare_cached("DELETE FROM item_sources WHERE item_id = ?1")?
                .execute([item_id])?;
            tx.prepare_cached("DELETE FROM items WHERE id = ?1")?
                .execute([item_id])?;
            report.items_deleted += 1;
            report.text_bytes += bytes.max(0) as u64;
        }

        // Title, link, dates and content hash stay: the hit log and the outbox show the first
        // two, and the sources' hashes let the poll recognise the item unchanged.
        let trimmed: Vec<(i64, i64)> = tx
            .prepare_cached(
                "SELECT id, length(CAST(summary AS BLOB)) + length(CAST(content AS BLOB))
                        + length(CAST(authors AS BLOB)) + length(CAST(categories AS BLOB))
                 FROM items i
                 WHERE first_seen < ?1 AND pruned_at IS NULL
                   AND EXISTS (SELECT 1 FROM hits h WHERE h.item_id = i.id)
                 ORDER BY first_seen LIMIT ?2",
            )?
            .query_map(params![cutoff, limit], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (item_id, bytes) in trimmed {
            tx.prepare_cached(
                "UPDATE items SET summary = '', content = '', authors = '', categories = '',
                   pruned_at = ?2
                 WHERE id = ?1",
            )?
            .execute(params![item_id, at])?;
            report.items_trimmed += 1;
            report.text_bytes += bytes.max(0) as u64;
        }

        report.tombstones_expired = tx
            .prepare_cached(
                "DELETE FROM forgotten_sources WHERE (feed_id, key) IN (
                   SELECT feed_id, key FROM forgotten_sources WHERE forgotten_at < ?1 LIMIT ?2)",
            )?
            .execute(params![tombstone_cutoff, limit])? as u64;
        tx.commit()?;
        Ok(report)
    }

    /// Records that pruning ran to the end at `at`.
    pub fn record_prune(&mut self, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO housekeeping_state (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![LAST_PRUNE, to_unix(at)])?;
        Ok(())
    }

    /// When pruning last ran to the end; `None` if never.
    pub fn last_prune(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM housekeeping_state WHERE key = ?1")?
            .query_row([LAST_PRUNE], |row| row.get::<_, i64>(0))
            .optional()?
            .map(from_unix))
    }

    /// The schema version of this database (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))?)
    }

    /// Writes a consistent, compacted copy of the database to `target`, which must not
    /// exist. Works on a read-only store: the source is only read.
    pub fn vacuum_into(&self, target: &Path) -> Result<(), StoreError> {
        let name = target
            .to_str()
            .ok_or_else(|| rusqlite::Error::InvalidPath(target.to_owned()))?;
        self.conn.execute("VACUUM INTO ?1", [name])?;
        Ok(())
    }

    /// Checks a copy made by [`Store::vacuum_into`] and makes it self-contained: rollback
    /// journal mode, so the copy is one file, with no `-wal` beside it to lose. The copy is not
    /// migrated: it stays exactly what was copied.
    pub fn check_copy(path: &Path) -> Result<BackupReport, StoreError> {
        let open_error = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_error)?;
        conn.pragma_update(None, "journal_mode", "DELETE")?;
        let schema_version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        // The first few problems say enough; a badly broken file could list thousands.
        let problems: Vec<String> = conn
            .prepare("PRAGMA integrity_check(10)")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        conn.close().map_err(|(_, e)| e)?;
        let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        Ok(BackupReport {
            bytes,
            schema_version,
            integrity: problems.join("; "),
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::super::{FeedDef, HitRecord, ItemRecord, ItemWrite, PollResult, PollWrite};
    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap() + chrono::Duration::days(day.into())
    }

    fn item(key: &str, title: &str) -> ItemRecord {
        ItemRecord {
            key: key.to_owned(),
            link: Some(format!("https://news.test/{key}")),
            title: title.to_owned(),
            summary: format!("{title}: the long summary"),
            content: format!("{title}: the very long content"),
            authors: "A. Writer".to_owned(),
            categories: "World".to_owned(),
            content_hash: format!("hash-{key}"),
            ..ItemRecord::default()
        }
    }

    fn hit() -> HitRecord {
        HitRecord {
            indicator_id: "satellite_launch".to_owned(),
            score: 1.0,
            evidence: r#"{"terms":[]}"#.to_owned(),
            definition_hash: "abc".to_owned(),
            route: None,
            fingerprint: None,
        }
    }

    fn poll(day: u32, items: Vec<ItemWrite>) -> PollWrite {
        PollWrite {
            feed_id: "wire".to_owned(),
            attempted_at: at(day),
            result: PollResult::Fetched {
                etag: None,
                last_modified: None,
                title: None,
                warning: None,
            },
            next_check: at(day),
            min_interval: None,
            items,
        }
    }

    /// A store with two items from day 0 (one hit, one not) and one from day 300.
    fn store(dir: &tempfile::TempDir) -> Store {
        let mut store = Store::open(&dir.path().join("watchfloor.db")).expect("open");
        store
            .sync_feeds(&[FeedDef {
                id: "wire",
                url: "http://127.0.0.1/wire.xml",
                title: None,
            }])
            .expect("sync");
        store
            .write_poll(&poll(
                0,
                vec![
                    ItemWrite::New {
                        item: item("old-hit", "Satellite launched"),
                        hits: vec![hit()],
                    },
                    ItemWrite::New {
                        item: item("old-quiet", "Weather"),
                        hits: vec![],
                    },
                ],
            ))
            .expect("day 0");
        store
            .write_poll(&poll(
                300,
                vec![ItemWrite::New {
                    item: item("recent", "Markets"),
                    hits: vec![],
                }],
            ))
            .expect("day 300");
        store
    }

    fn text_of(store: &Store, key: &str) -> Option<(String, String, String, Option<i64>)> {
        store
            .conn
            .query_row(
                "SELECT i.title, i.link, i.summary || i.content || i.authors || i.categories,
                        i.pruned_at
                 FROM items i JOIN item_sources s ON s.item_id = i.id WHERE s.key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .expect("query")
    }

    #[test]
    fn pruning_keeps_hit_items_title_and_link_and_deletes_old_items_without_hits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = store(&dir);
        let report = store
            .prune(at(365) - chrono::Duration::days(100), at(365))
            .expect("prune");
        assert_eq!(report.items_deleted, 1);
        assert_eq!(report.items_trimmed, 1);
        assert!(report.text_bytes > 0);

        let (title, link, text, pruned) = text_of(&store, "old-hit").expect("kept");
        assert_eq!(title, "Satellite launched");
        assert_eq!(link, "https://news.test/old-hit");
        assert_eq!(text, "", "the bulky text is gone");
        assert_eq!(pruned, Some(to_unix(at(365))));
        assert!(text_of(&store, "old-quiet").is_none(), "deleted");
        assert_eq!(text_of(&store, "recent").expect("young").3, None);
        let hits = store.hits_since(None).expect("hits");
        assert!(hits.is_empty(), "replay does not see hits of pruned items");
        let evidence: String = store
            .conn
            .query_row("SELECT evidence FROM hits", [], |r| r.get(0))
            .expect("the hit and its evidence stay");
        assert_eq!(evidence, r#"{"terms":[]}"#);
        assert_eq!(store.last_prune().expect("state"), Some(at(365)));
        assert_eq!(store.integrity_check().expect("check"), "ok");
    }

    #[test]
    fn pruning_twice_removes_nothing_the_second_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = store(&dir);
        let cutoff = at(365) - chrono::Duration::days(100);
        store.prune(cutoff, at(365)).expect("first");
        let totals = store.totals().expect("totals");
        let again = store.prune(cutoff, at(366)).expect("second");
        assert!(again.is_empty(), "{again:?}");
        assert_eq!(again.batches, 1);
        assert_eq!(store.totals().expect("totals"), totals);
        assert_eq!(store.last_prune().expect("state"), Some(at(366)));
    }

    #[test]
    fn a_feed_still_listing_pruned_items_gets_them_recognised_not_new() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = store(&dir);
        store
            .prune(at(365) - chrono::Duration::days(100), at(365))
            .expect("prune");
        let known = store.known_items("wire").expect("known");
        let kept = &known["old-hit"];
        assert!(!kept.forgotten);
        assert_eq!(kept.content_hash, "hash-old-hit");
        let gone = &known["old-quiet"];
        assert!(gone.forgotten);
        assert_eq!(gone.content_hash, "hash-old-quiet");
        assert!(!known["recent"].forgotten);
    }

    #[test]
    fn a_change_to_an_item_deleted_meanwhile_is_dropped_not_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = store(&dir);
        let stale = store.known_items("wire").expect("known")["old-quiet"].item_id;
        store
            .prune(at(365) - chrono::Duration::days(100), at(365))
            .expect("prune");
        let mut changed = item("old-quiet", "Weather, updated");
        changed.content_hash = "hash-new".to_owned();
        let counts = store
            .write_poll(&poll(
                365,
                vec![ItemWrite::Changed {
                    item_id: stale,
                    item: changed,
                    hits: vec![hit()],
                }],
            ))
            .expect("the poll is recorded");
        assert_eq!(counts.changed_items, 0);
        assert_eq!(counts.new_hits, 0);
    }

    #[test]
    fn new_text_for_a_trimmed_item_makes_it_whole_until_the_next_prune() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = store(&dir);
        let cutoff = at(365) - chrono::Duration::days(100);
        store.prune(cutoff, at(365)).expect("prune");
        let item_id = store.known_items("wire").expect("known")["old-hit"].item_id;
        let mut changed = item("old-hit", "Satellite launched, more");
        changed.content_hash = "hash-new".to_owned();
        store
            .write_poll(&poll(
                366,
                vec![ItemWrite::Changed {
                    item_id,
                    item: changed,
                    hits: vec![],
                }],
            ))
            .expect("update");
        let (_, _, text, pruned) = text_of(&store, "old-hit").expect("kept");
        assert!(!text.is_empty());
        assert_eq!(pruned, None);
        let again = store.prune(cutoff, at(367)).expect("again");
        assert_eq!(again.items_trimmed, 1);
    }

    #[test]
    fn pruning_a_backlog_takes_bounded_batches() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = store(&dir);
        let many: Vec<ItemWrite> = (0..7)
            .map(|i| ItemWrite::New {
                item: item(&format!("bulk{i}"), "Filler"),
                hits: vec![],
            })
            .collect();
        store.write_poll(&poll(1, many)).expect("bulk");
        let cutoff = at(365) - chrono::Duration::days(100);
        let mut steps = Vec::new();
        loop {
            let step = store.prune_step(cutoff, at(365), 3).expect("step");
            if step.is_empty() {
                break;
            }
            steps.push(step.items_deleted);
        }
        assert_eq!(steps, [3, 3, 2], "8 old items without hits, 3 at a time");
    }

    #[test]
    fn tombstones_outlive_the_retention_and_then_expire() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = store(&dir);
        // A one-day retention: the tombstone still stays 90 days.
        store
            .prune(at(301) - chrono::Duration::days(1), at(301))
            .expect("prune");
        let gone = |store: &Store| {
            store
                .known_items("wire")
                .expect("known")
                .get("old-quiet")
                .is_some_and(|k| k.forgotten)
        };
        assert!(gone(&store));
        store
            .prune(at(380) - chrono::Duration::days(1), at(380))
            .expect("80 days on");
        assert!(gone(&store), "kept for 90 days");
        let report = store
            .prune(at(392) - chrono::Duration::days(1), at(392))
            .expect("92 days on");
        assert!(report.tombstones_expired >= 1, "{report:?}");
        assert!(!gone(&store));
    }

    #[test]
    fn a_backup_copy_is_checked_and_self_contained() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(&dir);
        let target = dir.path().join("copy.db");
        store.vacuum_into(&target).expect("copy");
        assert!(
            store.vacuum_into(&target).is_err(),
            "an existing file is not overwritten"
        );
        let report = Store::check_copy(&target).expect("check");
        assert_eq!(report.integrity, "ok");
        assert_eq!(
            report.schema_version,
            super::super::schema::MIGRATIONS.len() as i64
        );
        assert!(report.bytes > 0);
        assert!(!dir.path().join("copy.db-wal").exists());
        let copy = Store::open_read_only(&target).expect("opens");
        assert_eq!(
            copy.totals().expect("totals"),
            store.totals().expect("totals")
        );
    }
}
