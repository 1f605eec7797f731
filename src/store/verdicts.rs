//! The reviewer's desk: verdicts as history, and the queue of hits nobody has judged yet.
//!
//! A verdict is appended, never changed: `verdicts` keeps who said what and when, and the
//! `triage` row the hit log joins is the latest of them (a trigger keeps it, see migration
//! 12). The queue is every hit without a verdict that is neither folded into an earlier
//! report nor retracted, oldest first, so the reviewer works through the backlog in the order
//! it came.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::hitlog::{Around, HitFilter, Verdict};
use super::{Store, StoreError, from_unix, to_unix};

/// Who gives a verdict from the command line, or from a hit log without a login: someone
/// at this machine.
pub const LOCAL: &str = "local";

/// A verdict to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewVerdict {
    pub verdict: Verdict,
    /// The hit this one repeats; required for [`Verdict::Duplicate`], refused otherwise.
    pub duplicate_of: Option<i64>,
    pub note: String,
    /// Who gives it: `local`, a basic-auth user name, `token`.
    pub by: String,
}

/// What became of a verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    Recorded,
    /// The hit judged does not exist.
    NoSuchHit,
    /// The hit named as the original does not exist.
    NoSuchOriginal,
    /// A hit named as a duplicate of itself.
    OwnDuplicate,
    /// A duplicate without its original, or another verdict naming one.
    OriginalMismatch,
}

/// One entry of a hit's verdict history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerdictEntry {
    pub verdict: Verdict,
    pub duplicate_of: Option<i64>,
    pub note: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// The untriaged queue: no verdict, not folded, not retracted.
const IN_QUEUE: &str = "h.story_id IS NULL AND h.retracted_at IS NULL
     AND NOT EXISTS (SELECT 1 FROM triage t WHERE t.hit_id = h.id)";

impl Store {
    /// Appends a verdict to `hit_id`'s history, which makes it the hit's current verdict.
    /// Nothing is written unless the hit and, for a duplicate, its original exist.
    pub fn record_verdict(
        &mut self,
        hit_id: i64,
        verdict: &NewVerdict,
        at: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        let exists = |conn: &rusqlite::Connection, id: i64| -> Result<bool, StoreError> {
            Ok(conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM hits WHERE id = ?1)",
                [id],
                |row| row.get(0),
            )?)
        };
        if (verdict.verdict == Verdict::Duplicate) != verdict.duplicate_of.is_some() {
            return Ok(Recorded::OriginalMismatch);
        }
        if !exists(&self.conn, hit_id)? {
            return Ok(Recorded::NoSuchHit);
        }
        if let Some(original) = verdict.duplicate_of {
            if original == hit_id {
                return Ok(Recorded::OwnDuplicate);
            }
            if !exists(&self.conn, original)? {
                return Ok(Recorded::NoSuchOriginal);
            }
        }
        self.conn.execute(
            "INSERT INTO verdicts (hit_id, verdict, duplicate_of, note, reviewer, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                hit_id,
                verdict.verdict.as_str(),
                verdict.duplicate_of,
                verdict.note,
                verdict.by,
                to_unix(at)
            ],
        )?;
        Ok(Recorded::Recorded)
    }

    /// Records `verdict` on `hit_id` as given on this machine (`local`), for the command line
    /// and tests; `false` when there is no such hit or the verdict needs an original.
    pub fn set_triage(
        &mut self,
        hit_id: i64,
        verdict: Verdict,
        note: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let given = NewVerdict {
            verdict,
            duplicate_of: None,
            note: note.to_owned(),
            by: LOCAL.to_owned(),
        };
        Ok(self.record_verdict(hit_id, &given, at)? == Recorded::Recorded)
    }

    /// Every verdict given on `hit_id`, oldest first; the last is the current one.
    pub fn verdict_history(&self, hit_id: i64) -> Result<Vec<VerdictEntry>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT verdict, duplicate_of, note, reviewer, at FROM verdicts
             WHERE hit_id = ?1 ORDER BY id",
        )?;
        let rows = statement.query_map([hit_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                from_unix(row.get(4)?),
            ))
        })?;
        let mut history = Vec::new();
        for row in rows {
            let (verdict, duplicate_of, note, by, at) = row?;
            // The table's CHECK allows only the three words; an unknown one is skipped
            // rather than shown as something it is not.
            if let Some(verdict) = Verdict::parse(&verdict) {
                history.push(VerdictEntry {
                    verdict,
                    duplicate_of,
                    note,
                    by,
                    at,
                });
            }
        }
        Ok(history)
    }

    /// The oldest hit of the untriaged queue, and how many wait in it.
    pub fn queue_head(&self) -> Result<(Option<i64>, u64), StoreError> {
        let head = self
            .conn
            .query_row(
                &format!(
                    "SELECT h.id FROM hits h WHERE {IN_QUEUE}
                     ORDER BY h.created_at, h.id LIMIT 1"
                ),
                [],
                |row| row.get(0),
            )
            .optional()?;
        let waiting: i64 = self.conn.query_row(
            &format!("SELECT COUNT(*) FROM hits h WHERE {IN_QUEUE}"),
            [],
            |row| row.get(0),
        )?;
        Ok((head, waiting as u64))
    }

    /// The hits of the queue just before and just after `hit_id` in its order (oldest
    /// first), whether or not `hit_id` itself is still in it.
    pub fn queue_neighbours(&self, hit_id: i64) -> Result<(Option<i64>, Option<i64>), StoreError> {
        self.neighbours_where(hit_id, IN_QUEUE)
    }

    /// The hits listed just before and just after `hit_id` in the list `filter` makes
    /// (newest first): (newer, older). Its limit and offset are ignored.
    pub fn list_neighbours(
        &self,
        filter: &HitFilter,
        hit_id: i64,
    ) -> Result<(Option<i64>, Option<i64>), StoreError> {
        let created = self.hit_recorded_at(hit_id)?;
        let Some(created) = created.map(from_unix) else {
            return Ok((None, None));
        };
        let side = |around| HitFilter {
            around: Some(around),
            limit: 1,
            offset: 0,
            ..filter.clone()
        };
        let nearest = |around| -> Result<Option<i64>, StoreError> {
            Ok(self.hits_page(&side(around))?.0.first().map(|h| h.hit_id))
        };
        let older = nearest(Around::OlderThan(created, hit_id))?;
        let newer = nearest(Around::NewerThan(created, hit_id))?;
        Ok((newer, older))
    }

    /// When `hit_id` was recorded (unix seconds); `None` when there is no such hit.
    fn hit_recorded_at(&self, hit_id: i64) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT created_at FROM hits WHERE id = ?1",
                [hit_id],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// The hits recorded just before and just after `hit_id` in the whole log, for paging
    /// hit by hit: (older, newer).
    pub fn log_neighbours(&self, hit_id: i64) -> Result<(Option<i64>, Option<i64>), StoreError> {
        self.neighbours_where(hit_id, "1")
    }

    /// The hits just before and just after `hit_id` in time order (recorded, then id) among
    /// those `condition` (on `hits h`) admits, whether or not it admits `hit_id` itself:
    /// (earlier, later). Nothing for a hit that does not exist.
    fn neighbours_where(
        &self,
        hit_id: i64,
        condition: &str,
    ) -> Result<(Option<i64>, Option<i64>), StoreError> {
        let created = self.hit_recorded_at(hit_id)?;
        let Some(created) = created else {
            return Ok((None, None));
        };
        let nearest = |side: &str, order: &str| {
            self.conn
                .query_row(
                    &format!(
                        "SELECT h.id FROM hits h WHERE ({condition})
                           AND (h.created_at {side} ?1 OR (h.created_at = ?1 AND h.id {side} ?2))
                         ORDER BY h.created_at {order}, h.id {order} LIMIT 1"
                    ),
                    params![created, hit_id],
                    |row| row.get(0),
                )
                .optional()
        };
        let earlier = nearest("<", "DESC")?;
        let later = nearest(">", "ASC")?;
        Ok((earlier, later))
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;
    use crate::store::schema;

    /// A database migrated up to the verdicts' history, not including it (found by its
    /// text, whatever its number), with two hits, one judged before verdicts had a history.
    fn judged_before_history(path: &std::path::Path) {
        let conn = Connection::open(path).expect("raw open");
        // The search index's triggers call this function; `Store::open` registers it.
        crate::store::search::register(&conn).expect("search function");
        let history = schema::MIGRATIONS
            .iter()
            .position(|sql| sql.contains("CREATE TABLE verdicts"))
            .expect("the verdicts migration");
        for (n, sql) in schema::MIGRATIONS[..history].iter().enumerate() {
            conn.execute_batch(sql).expect("old migration");
            conn.pragma_update(None, "user_version", n as i64 + 1)
                .expect("version");
        }
        conn.execute_batch(
            "INSERT INTO feeds (id, url) VALUES ('a', 'http://127.0.0.1/a.xml');
             INSERT INTO items (id, identity, link, title, summary, content, authors,
               categories, first_seen, content_hash)
             VALUES (1, 'link:https://x.test/1', 'https://x.test/1', 'One', '', '', '', '', 1,
               'h1'),
                    (2, 'link:https://x.test/2', 'https://x.test/2', 'Two', '', '', '', '', 2,
               'h2');
             INSERT INTO hits (id, indicator_id, item_id, feed_id, score, evidence,
               definition_hash, created_at)
             VALUES (1, 'sat', 1, 'a', 1.0, '{}', 'd', 10), (2, 'sat', 2, 'a', 1.0, '{}', 'd', 20);
             INSERT INTO triage (hit_id, verdict, note, at)
             VALUES (1, 'false_positive', 'a rehearsal', 100);",
        )
        .expect("old rows");
    }

    #[test]
    fn verdicts_given_before_the_history_start_it_and_history_is_never_rewritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("watchfloor.db");
        judged_before_history(&path);
        let mut store = Store::open(&path).expect("migrated");
        let history = store.verdict_history(1).expect("history");
        assert_eq!(
            history,
            vec![VerdictEntry {
                verdict: Verdict::FalsePositive,
                duplicate_of: None,
                note: "a rehearsal".into(),
                by: "unrecorded".into(),
                at: from_unix(100),
            }]
        );
        assert_eq!(store.queue_head().expect("queue"), (Some(2), 1));

        let duplicate = NewVerdict {
            verdict: Verdict::Duplicate,
            duplicate_of: Some(2),
            note: String::new(),
            by: "reviewer".into(),
        };
        let at = from_unix(200);
        assert_eq!(
            store.record_verdict(1, &duplicate, at).expect("record"),
            Recorded::Recorded
        );
        let (verdict, original, by): (String, Option<i64>, String) = store
            .conn
            .query_row(
                "SELECT verdict, duplicate_of, reviewer FROM triage WHERE hit_id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("current");
        assert_eq!(
            (verdict.as_str(), original, by.as_str()),
            ("duplicate", Some(2), "reviewer")
        );
        assert_eq!(store.verdict_history(1).expect("history").len(), 2);

        // Refused before anything is written.
        let own = NewVerdict {
            duplicate_of: Some(2),
            ..duplicate.clone()
        };
        assert_eq!(
            store.record_verdict(2, &own, at).expect("own"),
            Recorded::OwnDuplicate
        );
        let missing = NewVerdict {
            duplicate_of: Some(99),
            ..duplicate.clone()
        };
        assert_eq!(
            store.record_verdict(2, &missing, at).expect("missing"),
            Recorded::NoSuchOriginal
        );
        let orphan = NewVerdict {
            duplicate_of: None,
            ..duplicate.clone()
        };
        assert_eq!(
            store.record_verdict(2, &orphan, at).expect("orphan"),
            Recorded::OriginalMismatch
        );
        assert_eq!(
            store.record_verdict(99, &duplicate, at).expect("no hit"),
            Recorded::NoSuchHit
        );
        assert!(store.verdict_history(2).expect("history").is_empty());

        // The table itself refuses to rewrite or drop history, and a duplicate of itself.
        for statement in [
            "UPDATE verdicts SET verdict = 'relevant'",
            "DELETE FROM verdicts",
            "INSERT INTO verdicts (hit_id, verdict, duplicate_of, note, reviewer, at)
             VALUES (2, 'duplicate', 2, '', 'x', 1)",
            "INSERT INTO verdicts (hit_id, verdict, duplicate_of, note, reviewer, at)
             VALUES (2, 'relevant', 1, '', 'x', 1)",
        ] {
            assert!(store.conn.execute(statement, []).is_err(), "{statement}");
        }
        assert_eq!(store.verdict_history(1).expect("history").len(), 2);
        assert_eq!(store.integrity_check().expect("check"), "ok");
    }

    /// Stepping through a filtered list hit by hit gives, for every hit, the rows just
    /// before and after it in the list as a whole page shows it, ties of recording time
    /// broken by id, also for a hit the filter itself leaves out.
    #[test]
    fn list_neighbours_agree_with_the_whole_list_for_every_hit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("watchfloor.db")).expect("open");
        store
            .conn
            .execute_batch("INSERT INTO feeds (id, url) VALUES ('a', 'http://127.0.0.1/a.xml')")
            .expect("feed");
        for n in 1..=60_i64 {
            store
                .conn
                .execute(
                    "INSERT INTO items (id, identity, link, title, summary, content, authors,
                       categories, first_seen, content_hash)
                     VALUES (?1, 'k' || ?1, NULL, 'Item', '', '', '', '', 1, 'h' || ?1)",
                    [n],
                )
                .expect("item");
            // Three hits share each second, and ids do not follow time: the order is
            // (recorded, id), not insertion.
            let indicator = if n % 3 == 0 { "labor" } else { "sat" };
            store
                .conn
                .execute(
                    "INSERT INTO hits (id, indicator_id, item_id, feed_id, score, evidence,
                       definition_hash, created_at)
                     VALUES (?1, ?2, ?3, 'a', 1.0, '{}', 'd', ?4)",
                    params![(n * 37) % 61, indicator, n, 1_000 + (n * 7) % 20],
                )
                .expect("hit");
        }
        let filter = HitFilter {
            indicator: Some("sat".into()),
            limit: 1_000,
            ..HitFilter::default()
        };
        let (listed, total) = store.hits_page(&filter).expect("whole list");
        assert_eq!(total, 40);
        let listed: Vec<i64> = listed.iter().map(|h| h.hit_id).collect();
        for (place, &id) in listed.iter().enumerate() {
            let expected = (
                place.checked_sub(1).map(|p| listed[p]),
                listed.get(place + 1).copied(),
            );
            assert_eq!(
                store.list_neighbours(&filter, id).expect("neighbours"),
                expected,
                "hit {id}"
            );
        }
        // A hit outside the list still has its place in time among the listed ones.
        let outside: i64 = store
            .conn
            .query_row(
                "SELECT id FROM hits WHERE indicator_id = 'labor' ORDER BY id LIMIT 1",
                [],
                |r| r.get(0),
            )
            .expect("a labor hit");
        let (newer, older) = store.list_neighbours(&filter, outside).expect("outside");
        let (whole, _) = store
            .hits_page(&HitFilter {
                limit: 1_000,
                ..HitFilter::default()
            })
            .expect("whole log");
        let place = whole
            .iter()
            .position(|h| h.hit_id == outside)
            .expect("listed");
        let expected_newer = whole[..place]
            .iter()
            .rev()
            .find(|h| h.indicator_id == "sat")
            .map(|h| h.hit_id);
        let expected_older = whole[place + 1..]
            .iter()
            .find(|h| h.indicator_id == "sat")
            .map(|h| h.hit_id);
        assert_eq!((newer, older), (expected_newer, expected_older));
        assert_eq!(
            store.list_neighbours(&filter, 9_999).expect("no such hit"),
            (None, None)
        );
    }
}
