//! What feed health checks read and write: each feed's polling state with the times its
//! recent items arrived, and the operational notices already sent about it.
//!
//! A notice belongs to an episode (a feed failing, a feed gone quiet, most feeds failing at
//! once) that stays open until its recovery notice is sent. Episodes are kept after they
//! close, so the once-a-day limit holds across a feed that flaps and across restarts.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{Store, StoreError, from_unix, to_unix};

/// A feed's state as a health check needs it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FeedHealthRow {
    pub id: String,
    pub url: String,
    pub title: Option<String>,
    pub active: bool,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    pub next_check: Option<DateTime<Utc>>,
    /// When the current failure streak began; `None` while the feed succeeds.
    pub failing_since: Option<DateTime<Utc>>,
    /// The distinct times at which this feed delivered new items, newest first: one entry per
    /// poll that brought something, so a first poll's backlog counts once, not per item.
    pub arrivals: Vec<DateTime<Utc>>,
}

/// What a notice is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    /// The feed has failed every poll for longer than `feed_alert_after`.
    Failing,
    /// The feed answers but has delivered nothing for far longer than its usual cadence.
    Quiet,
    /// Most feeds fail at once: one notice for all of them.
    Network,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Failing => "failing",
            NoticeKind::Quiet => "quiet",
            NoticeKind::Network => "network",
        }
    }

    fn parse(text: &str) -> Option<NoticeKind> {
        match text {
            "failing" => Some(NoticeKind::Failing),
            "quiet" => Some(NoticeKind::Quiet),
            "network" => Some(NoticeKind::Network),
            _ => None,
        }
    }
}

/// Where in its episode a notice stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoticePhase {
    /// The first notice: opens the episode.
    Opened,
    /// The same problem, a day or more after the last notice.
    Reminder,
    /// The problem is over: closes the episode.
    Recovered,
}

impl NoticePhase {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticePhase::Opened => "opened",
            NoticePhase::Reminder => "reminder",
            NoticePhase::Recovered => "recovered",
        }
    }
}

/// The notices already sent about one feed (or `*`) and kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeState {
    pub feed_id: String,
    pub kind: NoticeKind,
    /// The latest notice of any episode, closed ones included.
    pub last_notified: DateTime<Utc>,
    /// When the open episode's first notice went out; `None` when every episode is closed.
    pub open_since: Option<DateTime<Utc>>,
}

impl Store {
    /// Every feed's health state, with the arrival times of its last `history` polls that
    /// brought new items.
    pub fn feed_health(&self, history: usize) -> Result<Vec<FeedHealthRow>, StoreError> {
        let mut feeds = self.conn.prepare_cached(
            "SELECT id, url, title, active, last_attempt, last_success, last_error,
                    consecutive_failures, next_check, failing_since
             FROM feeds ORDER BY id",
        )?;
        let mut rows: Vec<FeedHealthRow> = feeds
            .query_map([], |row| {
                let time = |i| row.get::<_, Option<i64>>(i).map(|t| t.map(from_unix));
                Ok(FeedHealthRow {
                    id: row.get(0)?,
                    url: row.get(1)?,
                    title: row.get(2)?,
                    active: row.get(3)?,
                    last_attempt: time(4)?,
                    last_success: time(5)?,
                    last_error: row.get(6)?,
                    consecutive_failures: row.get(7)?,
                    next_check: time(8)?,
                    failing_since: time(9)?,
                    arrivals: Vec::new(),
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut arrivals = self.conn.prepare_cached(
            "SELECT DISTINCT first_seen FROM item_sources WHERE feed_id = ?1
             ORDER BY first_seen DESC LIMIT ?2",
        )?;
        for row in &mut rows {
            row.arrivals = arrivals
                .query_map(params![row.id, history as i64], |r| {
                    r.get::<_, i64>(0).map(from_unix)
                })?
                .collect::<Result<_, _>>()?;
        }
        Ok(rows)
    }

    /// What has been sent so far, per feed and kind.
    pub fn notice_states(&self) -> Result<Vec<NoticeState>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT feed_id, kind, MAX(notified_at),
                    MAX(CASE WHEN recovered_at IS NULL THEN opened_at END)
             FROM feed_notices GROUP BY feed_id, kind ORDER BY feed_id, kind",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, Option<i64>>(3)?,
            ))
        })?;
        let mut states = Vec::new();
        for row in rows {
            let (feed_id, kind, last, open) = row?;
            // A kind this binary does not know was written by a newer one: not ours to judge.
            if let Some(kind) = NoticeKind::parse(&kind) {
                states.push(NoticeState {
                    feed_id,
                    kind,
                    last_notified: from_unix(last),
                    open_since: open.map(from_unix),
                });
            }
        }
        Ok(states)
    }

    /// Records a notice once it has been sent (or logged): opens, renews or closes the
    /// feed's episode of that kind.
    pub fn record_notice(
        &mut self,
        feed_id: &str,
        kind: NoticeKind,
        phase: NoticePhase,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at = to_unix(at);
        let sql = match phase {
            NoticePhase::Opened => {
                "INSERT INTO feed_notices (feed_id, kind, opened_at, notified_at)
                 VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT(feed_id, kind) WHERE recovered_at IS NULL DO UPDATE SET
                   notified_at = excluded.notified_at, notices = notices + 1"
            }
            NoticePhase::Reminder => {
                "UPDATE feed_notices SET notified_at = ?3, notices = notices + 1
                 WHERE feed_id = ?1 AND kind = ?2 AND recovered_at IS NULL"
            }
            NoticePhase::Recovered => {
                "UPDATE feed_notices SET recovered_at = ?3
                 WHERE feed_id = ?1 AND kind = ?2 AND recovered_at IS NULL"
            }
        };
        self.conn
            .prepare_cached(sql)?
            .execute(params![feed_id, kind.as_str(), at])?;
        Ok(())
    }
}

impl super::FeedState {
    /// The one-word health `watchfloor feeds` and the feeds page show; `enabled` is whether the
    /// rules file still polls the feed.
    pub fn status(&self, enabled: bool) -> &'static str {
        if !self.active {
            "removed"
        } else if !enabled {
            "disabled"
        } else if self.last_attempt.is_none() {
            "never"
        } else if self.consecutive_failures > 0 {
            "failing"
        } else if self.warning_kind.is_some() {
            // Read, but not whole: an empty or shortened feed must not look healthy.
            "warning"
        } else {
            "ok"
        }
    }

    /// What is wrong, as both show it: the last error, else the warning with its kind
    /// (`entries_dropped: 2 of 5 item or entry elements dropped`), else nothing.
    pub fn problem(&self) -> Option<String> {
        if self.consecutive_failures > 0
            && let Some(error) = &self.last_error
        {
            return Some(error.clone());
        }
        match (&self.warning_kind, &self.warning) {
            (Some(kind), Some(message)) => Some(format!("{kind}: {message}")),
            (Some(kind), None) => Some(kind.clone()),
            _ => self.last_error.clone(),
        }
    }

    /// When the feed last answered, as both show it: `42s ago`, `3h ago`, `never`.
    pub fn last_success_ago(&self, now: DateTime<Utc>) -> String {
        let Some(time) = self.last_success else {
            return "never".to_owned();
        };
        let seconds = (now - time).num_seconds().max(0);
        match seconds {
            0..60 => format!("{seconds}s ago"),
            60..3600 => format!("{}m ago", seconds / 60),
            3600..86400 => format!("{}h ago", seconds / 3600),
            _ => format!("{}d ago", seconds / 86400),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rusqlite::Connection;

    use super::super::{FeedDef, PollResult, PollWrite, schema};
    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, hour, 0, 0).unwrap()
    }

    fn write(store: &mut Store, hour: u32, failed: bool) {
        let result = if failed {
            PollResult::Failed {
                error: "HTTP 503".into(),
            }
        } else {
            PollResult::NotModified
        };
        store
            .write_poll(&PollWrite {
                feed_id: "a".into(),
                attempted_at: at(hour),
                result,
                next_check: at(hour + 1),
                min_interval: None,
                items: Vec::new(),
            })
            .expect("write");
    }

    fn failing_since(store: &Store) -> Option<DateTime<Utc>> {
        store.feed_health(5).expect("health")[0].failing_since
    }

    fn sync(store: &mut Store, url: &str) {
        store
            .sync_feeds(&[FeedDef {
                id: "a",
                url,
                title: None,
            }])
            .expect("sync");
    }

    #[test]
    fn a_failure_streak_keeps_its_start_until_a_success_or_a_new_url() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&dir.path().join("w.db")).expect("open");
        sync(&mut store, "https://a.example/rss");
        write(&mut store, 1, true);
        write(&mut store, 2, true);
        assert_eq!(failing_since(&store), Some(at(1)));
        write(&mut store, 3, false);
        assert_eq!(failing_since(&store), None);
        write(&mut store, 4, true);
        assert_eq!(failing_since(&store), Some(at(4)));
        sync(&mut store, "https://a.example/rss");
        assert_eq!(failing_since(&store), Some(at(4)), "same URL: same streak");
        sync(&mut store, "https://a.example/feed.xml");
        assert_eq!(failing_since(&store), None, "a new URL starts afresh");
    }

    #[test]
    fn a_feed_failing_before_the_migration_counts_from_its_last_success() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.db");
        let conn = Connection::open(&path).expect("raw");
        // Found by content, not number: migrations are renumbered when branches merge.
        let mine = schema::MIGRATIONS
            .iter()
            .position(|sql| sql.contains("ADD COLUMN failing_since"))
            .expect("the feed health migration");
        for sql in &schema::MIGRATIONS[..mine] {
            conn.execute_batch(sql).expect("old schema");
        }
        conn.pragma_update(None, "user_version", mine as i64)
            .expect("version");
        conn.execute(
            "INSERT INTO feeds (id, url, last_attempt, last_success, consecutive_failures)
             VALUES ('a', 'https://a.example/rss', ?1, ?2, 3)",
            params![to_unix(at(9)), to_unix(at(2))],
        )
        .expect("feed");
        drop(conn);
        let store = Store::open(&path).expect("migrated");
        assert_eq!(failing_since(&store), Some(at(2)));
    }

    #[test]
    fn notices_open_renew_and_close_an_episode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&dir.path().join("w.db")).expect("open");
        store
            .record_notice("a", NoticeKind::Failing, NoticePhase::Opened, at(1))
            .expect("open");
        store
            .record_notice("a", NoticeKind::Failing, NoticePhase::Reminder, at(5))
            .expect("remind");
        let open = NoticeState {
            feed_id: "a".into(),
            kind: NoticeKind::Failing,
            last_notified: at(5),
            open_since: Some(at(1)),
        };
        assert_eq!(
            store.notice_states().expect("states"),
            std::slice::from_ref(&open)
        );
        store
            .record_notice("a", NoticeKind::Failing, NoticePhase::Recovered, at(7))
            .expect("close");
        let closed = NoticeState {
            open_since: None,
            ..open
        };
        assert_eq!(store.notice_states().expect("states"), [closed]);
    }
}
