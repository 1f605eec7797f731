//! The store stage: the only module that touches SQLite.
//!
//! One file holds feeds and their polling state, items, the feeds each item was seen in, and
//! hits with their evidence. Everything one feed poll learns is written in one transaction, so
//! a crash leaves either all of a poll or none of it. Readers (the CLI, later the web pages)
//! open the same file; SQLite's WAL mode lets them read while the daemon writes.

mod checkpoint;
mod db;
mod feed_health;
mod hitlog;
mod housekeeping;
mod langs;
mod outbox;
mod schema;
mod search;
mod verdicts;

pub use checkpoint::CheckpointPolicy;
use checkpoint::Checkpointer;
pub use db::Db;
pub use feed_health::{FeedHealthRow, NoticeKind, NoticePhase, NoticeState};
pub use hitlog::{
    Around, HitDetail, HitFilter, HitRow, IndicatorSummary, Retracted, Triage, TriageFilter,
    TriagedItem, Verdict,
};
pub use housekeeping::{BackupReport, PRUNE_BATCH, PruneReport};
pub use langs::NOT_IDENTIFIED;
/// The schema's history, one migration each; tests build old databases from it.
pub use schema::MIGRATIONS;
pub use search::{
    MAX_SEARCH_BYTES, MAX_SEARCH_WORDS, SearchError, fts_query, index_words, search_notes,
};
pub use verdicts::{LOCAL, NewVerdict, Recorded, VerdictEntry};

pub use outbox::{
    AlertRow, AlertStatus, Channel, DeliveryRecord, MessageAlert, MessageKind, MessageStatus,
    OutboxCounts, OutboxMessage, PendingAlert, PlannedMessage, SourceRow, StoryHit,
};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::config::AlertMode;
use crate::text::lang::{self, Lang};

/// How long a writer waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Prepared statements kept per connection: every statement the store caches fits.
const STATEMENT_CACHE: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: cannot open the database", path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "{}: the database is at schema version {found}, newer than this watchfloor knows \
         ({known}); run a newer watchfloor, or restore a backup",
        path.display()
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    /// The file is another application's SQLite database (or holds tables of its own): it is
    /// never migrated in place.
    #[error(
        "{}: not a watchfloor database ({reason}); give --db or `database` a file of its own",
        path.display()
    )]
    Foreign { path: PathBuf, reason: String },
    #[error("{}: migration to schema version {version} failed", path.display())]
    Migrate {
        path: PathBuf,
        version: usize,
        source: rusqlite::Error,
    },
    #[error("cannot start the WAL checkpoint thread")]
    Checkpointer(#[source] std::io::Error),
    #[error("cannot start a database thread")]
    Thread(#[source] std::io::Error),
    #[error("the database threads have stopped")]
    Closed,
    #[error("database error")]
    Sql(#[from] rusqlite::Error),
    /// The hit log's search did not compile: the reviewer's mistake, not the database's.
    #[error("search: {0}")]
    Search(#[from] SearchError),
}

/// A feed as configured: what the store needs to know of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedDef<'a> {
    pub id: &'a str,
    pub url: &'a str,
    pub title: Option<&'a str>,
}

/// A feed's polling state, as stored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FeedState {
    pub id: String,
    pub url: String,
    pub title: Option<String>,
    pub active: bool,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// The kind of what the last document fetched held that did not become items
    /// (`parse::ParseWarning::kind`), with its message; None when it was read whole.
    pub warning_kind: Option<String>,
    pub warning: Option<String>,
    pub consecutive_failures: u32,
    pub next_check: Option<DateTime<Utc>>,
    pub min_interval: Option<Duration>,
    /// Items this feed has delivered.
    pub items: u64,
    /// Hits first seen through this feed.
    pub hits: u64,
}

/// A feed's polling outcome, as [`Store::feed_polling`] reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedPolling {
    pub id: String,
    pub active: bool,
    pub consecutive_failures: u32,
    pub last_success: Option<DateTime<Utc>>,
    pub next_check: Option<DateTime<Utc>>,
    /// See [`FeedState::warning_kind`].
    pub warning_kind: Option<String>,
}

/// What a feed already delivered, by the item's key in that feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownItem {
    /// 0 when `forgotten`.
    pub item_id: i64,
    pub content_hash: String,
    /// Deleted by retention: the feed still lists an item too old to keep, which the poll
    /// skips whatever its text, so it is neither stored nor alerted on again.
    pub forgotten: bool,
}

/// An item's text, as the parse stage produced it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ItemRecord {
    pub key: String,
    pub link: Option<String>,
    pub title: String,
    pub summary: String,
    pub content: String,
    /// One per line.
    pub authors: String,
    /// One per line.
    pub categories: String,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub content_hash: String,
    /// The language its text is in (`text::lang::detect`); `None` when the text did not say,
    /// stored as `und`.
    pub lang: Option<Lang>,
}

impl ItemRecord {
    /// The item's link (or, without one, its key in its feed): identical copies of it from
    /// two feeds are one item with two sources; other texts of it are other items.
    pub fn identity(&self, feed_id: &str) -> String {
        match &self.link {
            Some(link) => format!("link:{link}"),
            None => format!("feed:{feed_id}:{}", self.key),
        }
    }
}

/// A hit to record.
#[derive(Clone, Debug, PartialEq)]
pub struct HitRecord {
    pub indicator_id: String,
    pub score: f64,
    /// The evidence, as JSON.
    pub evidence: String,
    pub definition_hash: String,
    /// Who the hit alerts; `None` records it without an alert.
    pub route: Option<HitRoute>,
    /// The item title's story fingerprint (`alert::story::Fingerprint::to_stored`), kept with
    /// the hit so that story folding never reads or normalises earlier titles again.
    pub fingerprint: Option<String>,
}

/// The recipients of a new hit and how they want it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HitRoute {
    /// E-mail addresses.
    pub recipients: Vec<String>,
    /// Names of configured webhooks.
    pub webhooks: Vec<String>,
    pub mode: AlertMode,
}

/// What to do with one item of a poll.
#[derive(Clone, Debug, PartialEq)]
pub enum ItemWrite {
    /// First seen in this feed: store it (or, if an identical copy is stored, add this feed
    /// as its source) and record its hits.
    New {
        item: ItemRecord,
        hits: Vec<HitRecord>,
    },
    /// Seen before in this feed with other text. The row is rewritten only when no other
    /// feed lists it; otherwise the new text gets a row of its own (or joins an identical
    /// copy), and its hits go there. On a rewritten row, hits are added only for indicators
    /// it did not hit yet.
    Changed {
        item_id: i64,
        item: ItemRecord,
        hits: Vec<HitRecord>,
    },
}

/// How a poll ended, for the feed's state.
#[derive(Clone, Debug, PartialEq)]
pub enum PollResult {
    /// The server answered 304: nothing changed.
    NotModified,
    /// The feed was fetched and parsed.
    Fetched {
        etag: Option<String>,
        last_modified: Option<String>,
        title: Option<String>,
        /// What the document held that did not become items: (kind, message).
        warning: Option<(String, String)>,
    },
    Failed {
        error: String,
    },
}

/// Everything one poll of one feed writes.
#[derive(Clone, Debug, PartialEq)]
pub struct PollWrite {
    pub feed_id: String,
    pub attempted_at: DateTime<Utc>,
    pub result: PollResult,
    pub next_check: DateTime<Utc>,
    pub min_interval: Option<Duration>,
    pub items: Vec<ItemWrite>,
}

/// What a poll's write changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollCounts {
    pub new_items: u64,
    pub changed_items: u64,
    /// An identical copy already stored (same link, same text): recorded as a second source.
    pub new_sources: u64,
    pub new_hits: u64,
    /// Alerts queued in the outbox for the new hits (one per hit and recipient).
    pub new_alerts: u64,
    /// The hits this write created (not those an item already had).
    pub hits: Vec<NewHit>,
}

/// A hit created by a poll.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewHit {
    pub hit_id: i64,
    pub indicator_id: String,
    pub item_id: i64,
    /// The key of the item in the polled feed.
    pub key: String,
}

/// A stored item, for replay.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredItem {
    pub id: i64,
    pub title: String,
    pub summary: String,
    pub content: String,
    pub authors: String,
    pub categories: String,
    pub link: Option<String>,
    pub first_seen: DateTime<Utc>,
}

/// A stored hit.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredHit {
    pub id: i64,
    pub indicator_id: String,
    pub item_id: i64,
    pub feed_id: String,
    pub score: f64,
    pub definition_hash: String,
    pub created_at: DateTime<Utc>,
    /// A replay found that the rules no longer make this hit.
    pub retracted: bool,
}

/// A hit a replay no longer makes: retracted, never deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retraction {
    pub hit_id: i64,
    /// The definition hash of the indicator that no longer matches.
    pub by: String,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Set on the connection that writes polls. Declared after `conn`, so it outlives it:
    /// its connection, the last to close, makes the final checkpoint.
    checkpointer: Option<Checkpointer>,
}

fn to_unix(time: DateTime<Utc>) -> i64 {
    time.timestamp()
}

fn from_unix(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `PRAGMA application_id` of a watchfloor database ("WFLR"): `file` names it, and no other
/// application's database is ever migrated in place.
pub const APPLICATION_ID: i64 = 0x5746_4C52;

impl StoreError {
    /// Whether the storage itself refused: the disk or the file system is full, failing or
    /// read-only. Such a failure stops every later write too, unlike one bad statement.
    pub fn is_storage_failure(&self) -> bool {
        use rusqlite::ErrorCode::{CannotOpen, DiskFull, ReadOnly, SystemIoFailure};
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(error) = source {
            if let Some(rusqlite::Error::SqliteFailure(failure, _)) =
                error.downcast_ref::<rusqlite::Error>()
                && matches!(
                    failure.code,
                    DiskFull | SystemIoFailure | ReadOnly | CannotOpen
                )
            {
                return true;
            }
            source = error.source();
        }
        false
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the database.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        // Before anything is written (the switch to WAL rewrites the header): another
        // application's file is left exactly as it was.
        conn.busy_timeout(BUSY_TIMEOUT)?;
        Self::check_owner(&conn, path)?;
        let mut store = Store {
            conn,
            path: path.to_owned(),
            checkpointer: None,
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing database for reading only (reviewers' tools never write).
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let store = Store {
            conn,
            path: path.to_owned(),
            checkpointer: None,
        };
        store.check_version()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Hands this connection's WAL checkpoints to a thread of their own ([`Checkpointer`]),
    /// so that commits never wait for the disk: for the connection that writes polls.
    pub fn checkpoint_in_background(&mut self) -> Result<(), StoreError> {
        self.checkpoint_with(CheckpointPolicy::default())
    }

    pub fn checkpoint_with(&mut self, policy: CheckpointPolicy) -> Result<(), StoreError> {
        // A reader that holds an old snapshot (a long backup) keeps any checkpoint from
        // copying past it, and the log grows meanwhile; SQLite keeps the file at its largest
        // size unless told a limit, which it applies when the log next starts over. Twice the
        // log limit, so that the log's usual overshoot never has the file cut and regrown.
        self.conn
            .pragma_update(None, "journal_size_limit", 2 * policy.log_bytes())?;
        let checkpointer = Checkpointer::start(&self.path, policy)?;
        checkpointer.attach(&mut self.conn)?;
        self.checkpointer = Some(checkpointer);
        Ok(())
    }

    fn configure(&self) -> Result<(), StoreError> {
        let err = |source| StoreError::Open {
            path: self.path.clone(),
            source,
        };
        self.conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        // The search index's triggers call it on every write of a hit or an item's text.
        search::register(&self.conn).map_err(err)?;
        // A poll alone uses about ten statements, and the daemon's other work as many again;
        // rusqlite keeps 16 by default, so they pushed each other out and were compiled anew.
        self.conn
            .set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // Switching to WAL needs the file to itself, and SQLite answers "locked" at once,
        // without its busy handler, while another opener holds it: wait for it as the busy
        // timeout would.
        let started = std::time::Instant::now();
        loop {
            match self.conn.pragma_update(None, "journal_mode", "WAL") {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy
                        && started.elapsed() < BUSY_TIMEOUT =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other.map_err(err)?,
            }
        }
        // WAL with NORMAL sync loses at most the last transactions on power loss, never
        // consistency; a crash of the process loses nothing committed.
        self.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        self.conn
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        Ok(())
    }

    /// Whether this file is watchfloor's: its `application_id`, or for a database made before
    /// the id was set, watchfloor's own tables; `Ok(true)` when the id should be written (an
    /// empty file, or one of ours without it).
    fn check_owner(conn: &Connection, path: &Path) -> Result<bool, StoreError> {
        let id: i64 = conn.pragma_query_value(None, "application_id", |row| row.get(0))?;
        if id == APPLICATION_ID {
            return Ok(false);
        }
        let foreign = |reason: String| StoreError::Foreign {
            path: path.to_owned(),
            reason,
        };
        if id != 0 {
            return Err(foreign(format!("its application_id is {id:#x}")));
        }
        let tables: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        if tables.is_empty() {
            return Ok(true);
        }
        let ours = ["feeds", "items", "hits"];
        if ours.iter().all(|t| tables.iter().any(|name| name == t)) {
            return Ok(true);
        }
        let shown: Vec<&str> = tables.iter().take(5).map(String::as_str).collect();
        Err(foreign(format!(
            "it holds other tables: {}",
            shown.join(", ")
        )))
    }

    fn check_version(&self) -> Result<i64, StoreError> {
        Self::check_owner(&self.conn, &self.path)?;
        let found: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))?;
        let known = schema::MIGRATIONS.len() as i64;
        if found > known {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
                known,
            });
        }
        Ok(found)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        self.check_version()?;
        // A migration that rebuilds a table drops the one other tables refer to; with foreign
        // keys enforced, that drop would delete through them. SQLite's procedure: enforcement
        // off outside the transaction (it cannot change inside one), the references checked
        // before each commit.
        self.conn.pragma_update(None, "foreign_keys", "OFF")?;
        let migrated = self.run_migrations();
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        migrated
    }

    fn run_migrations(&mut self) -> Result<(), StoreError> {
        loop {
            // Another process (the daemon starting, `watchfloor hits` beside it) may be
            // migrating the same file: the version is read again under the write lock, so each
            // migration runs once, whoever gets there first.
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if Self::check_owner(&tx, &self.path)? {
                tx.pragma_update(None, "application_id", APPLICATION_ID)?;
            }
            let current: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
            let Some(sql) = schema::MIGRATIONS.get(current.max(0) as usize) else {
                tx.commit()?;
                return Ok(());
            };
            let version = current as usize + 1;
            let fail = |source| StoreError::Migrate {
                path: self.path.clone(),
                version,
                source,
            };
            tx.execute_batch(sql).map_err(fail)?;
            let dangling: Option<String> = tx
                .query_row("PRAGMA foreign_key_check", [], |row| row.get(0))
                .optional()
                .map_err(fail)?;
            if let Some(table) = dangling {
                return Err(fail(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                    Some(format!("a row of {table} refers to a row that is gone")),
                )));
            }
            tx.pragma_update(None, "user_version", version as i64)
                .map_err(fail)?;
            tx.commit().map_err(fail)?;
        }
    }

    /// Makes the feeds table agree with the configuration: new feeds are added, known ones
    /// updated, feeds no longer configured kept but marked inactive.
    pub fn sync_feeds(&mut self, feeds: &[FeedDef<'_>]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("UPDATE feeds SET active = 0", [])?;
        {
            let mut upsert = tx.prepare(
                "INSERT INTO feeds (id, url, title, active) VALUES (?1, ?2, ?3, 1)
                 ON CONFLICT(id) DO UPDATE SET
                   active = 1,
                   -- With none configured, the title the last poll read stays until the next
                   -- poll: alert sources, and a resend after a crash, keep the feed's name.
                   title = COALESCE(excluded.title, CASE WHEN url = excluded.url THEN title END),
                   -- A new URL is a new resource: its validators and backoff do not carry over.
                   etag = CASE WHEN url = excluded.url THEN etag END,
                   last_modified = CASE WHEN url = excluded.url THEN last_modified END,
                   consecutive_failures =
                     CASE WHEN url = excluded.url THEN consecutive_failures ELSE 0 END,
                   failing_since = CASE WHEN url = excluded.url THEN failing_since END,
                   next_check = CASE WHEN url = excluded.url THEN next_check END,
                   url = excluded.url",
            )?;
            for feed in feeds {
                upsert.execute(params![feed.id, feed.url, feed.title])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every feed's state, active feeds first, by id.
    pub fn feed_states(&self) -> Result<Vec<FeedState>, StoreError> {
        let mut statement = self
            .conn
            .prepare(&format!("{FEED_STATE_SELECT} ORDER BY f.active DESC, f.id"))?;
        let rows = statement.query_map([], feed_state_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every feed's polling outcome, without the per-feed counts of [`Store::feed_states`]:
    /// what the watchdog, `/healthz` and `/metrics` read every few seconds, and the loop at
    /// start, none of which needs items or hits counted feed by feed.
    pub fn feed_polling(&self) -> Result<Vec<FeedPolling>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT id, active, consecutive_failures, last_success, next_check, warning_kind
             FROM feeds ORDER BY id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(FeedPolling {
                id: row.get(0)?,
                active: row.get(1)?,
                consecutive_failures: row.get(2)?,
                last_success: row.get::<_, Option<i64>>(3)?.map(from_unix),
                next_check: row.get::<_, Option<i64>>(4)?.map(from_unix),
                warning_kind: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Hits recorded.
    pub fn hit_count(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM hits")?
            .query_row([], |row| row.get::<_, i64>(0))? as u64)
    }

    /// One feed's state: what a poll reads before it starts, so one row, by key.
    pub fn feed_state(&self, id: &str) -> Result<Option<FeedState>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!("{FEED_STATE_SELECT} WHERE f.id = ?1"))?
            .query_row([id], feed_state_row)
            .optional()?)
    }

    /// Every item a feed has delivered, by key, including those retention deleted: one query
    /// each, so that a poll of an unchanged feed recognises its items without a lookup each.
    pub fn known_items(&self, feed_id: &str) -> Result<HashMap<String, KnownItem>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT key, item_id, content_hash FROM item_sources WHERE feed_id = ?1",
        )?;
        let rows = statement.query_map([feed_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                KnownItem {
                    item_id: row.get(1)?,
                    content_hash: row.get(2)?,
                    forgotten: false,
                },
            ))
        })?;
        let mut known: HashMap<String, KnownItem> = rows.collect::<Result<_, _>>()?;
        let mut statement = self
            .conn
            .prepare_cached("SELECT key, content_hash FROM forgotten_sources WHERE feed_id = ?1")?;
        let rows = statement.query_map([feed_id], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (key, content_hash) = row?;
            // A stored source wins: the key was delivered again after its tombstone expired.
            known.entry(key).or_insert(KnownItem {
                item_id: 0,
                content_hash,
                forgotten: true,
            });
        }
        Ok(known)
    }

    /// Writes everything one poll learned, in one transaction.
    pub fn write_poll(&mut self, poll: &PollWrite) -> Result<PollCounts, StoreError> {
        let tx = self.conn.transaction()?;
        let mut counts = PollCounts::default();
        let now = to_unix(poll.attempted_at);
        for write in &poll.items {
            match write {
                ItemWrite::New { item, hits } => {
                    let (item_id, stored) = copy_of(&tx, item, &poll.feed_id, now)?;
                    if stored {
                        counts.new_items += 1;
                    } else {
                        counts.new_sources += 1;
                    }
                    tx.prepare_cached(
                        "INSERT INTO item_sources (feed_id, key, item_id, first_seen, content_hash)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT(feed_id, key) DO UPDATE SET content_hash = excluded.content_hash",
                    )?
                    .execute(params![poll.feed_id, item.key, item_id, now, item.content_hash])?;
                    insert_hits(&tx, item_id, item, &poll.feed_id, now, hits, &mut counts)?;
                }
                ItemWrite::Changed {
                    item_id,
                    item,
                    hits,
                } => {
                    let listed = tx
                        .prepare_cached(
                            "SELECT EXISTS (SELECT 1 FROM item_sources
                               WHERE feed_id = ?1 AND key = ?2 AND item_id = ?3)",
                        )?
                        .query_row(params![poll.feed_id, item.key, item_id], |row| {
                            row.get::<_, bool>(0)
                        })?;
                    if !listed {
                        // Retention deleted the item between this poll's reading of its known
                        // items and this write: it is old news, not a change to record.
                        continue;
                    }
                    // Another feed published the text this row holds: rewriting it would put
                    // this feed's words in that feed's mouth (and under its hits). The new
                    // text becomes a row of its own, or joins an identical copy.
                    let shared = tx
                        .prepare_cached(
                            "SELECT EXISTS (SELECT 1 FROM item_sources
                               WHERE item_id = ?1 AND feed_id <> ?2)",
                        )?
                        .query_row(params![item_id, poll.feed_id], |row| row.get::<_, bool>(0))?;
                    let target = if shared {
                        copy_of(&tx, item, &poll.feed_id, now)?.0
                    } else {
                        rewrite(&tx, *item_id, item)?;
                        *item_id
                    };
                    tx.prepare_cached(
                        "UPDATE item_sources SET item_id = ?3, content_hash = ?4
                         WHERE feed_id = ?1 AND key = ?2",
                    )?
                    .execute(params![
                        poll.feed_id,
                        item.key,
                        target,
                        item.content_hash
                    ])?;
                    counts.changed_items += 1;
                    insert_hits(&tx, target, item, &poll.feed_id, now, hits, &mut counts)?;
                }
            }
        }
        let next_check = to_unix(poll.next_check);
        let min_interval = poll.min_interval.map(|d| d.as_secs() as i64);
        match &poll.result {
            PollResult::NotModified => {
                tx.prepare_cached(
                    "UPDATE feeds SET last_attempt = ?2, last_success = ?2, last_error = NULL,
                       consecutive_failures = 0, failing_since = NULL, next_check = ?3,
                       min_interval = COALESCE(?4, min_interval)
                     WHERE id = ?1",
                )?
                .execute(params![poll.feed_id, now, next_check, min_interval])?;
            }
            PollResult::Fetched {
                etag,
                last_modified,
                title,
                warning,
            } => {
                let (warning_kind, warning) = warning.as_ref().map(|(k, m)| (k, m)).unzip();
                tx.prepare_cached(
                    "UPDATE feeds SET last_attempt = ?2, last_success = ?2, last_error = NULL,
                       consecutive_failures = 0, failing_since = NULL, next_check = ?3, min_interval = ?4,
                       etag = ?5, last_modified = ?6, title = COALESCE(?7, title),
                       warning_kind = ?8, warning = ?9
                     WHERE id = ?1",
                )?
                .execute(params![
                        poll.feed_id,
                        now,
                        next_check,
                        min_interval,
                        etag,
                        last_modified,
                        title,
                        warning_kind,
                        warning
                    ])?;
            }
            PollResult::Failed { error } => {
                tx.prepare_cached(
                    "UPDATE feeds SET last_attempt = ?2, last_error = ?3,
                       consecutive_failures = consecutive_failures + 1,
                       failing_since = COALESCE(failing_since, ?2), next_check = ?4,
                       min_interval = COALESCE(?5, min_interval)
                     WHERE id = ?1",
                )?
                .execute(params![
                    poll.feed_id,
                    now,
                    error,
                    next_check,
                    min_interval
                ])?;
            }
        }
        tx.commit()?;
        Ok(counts)
    }

    /// Items first seen at or after `since`, oldest first, except those retention pruned
    /// (their text is gone, so matching them again would say nothing about the rules).
    pub fn items_since(&self, since: Option<DateTime<Utc>>) -> Result<Vec<StoredItem>, StoreError> {
        let mut statement = self.conn.prepare(
            "SELECT id, title, summary, content, authors, categories, link, first_seen
             FROM items WHERE first_seen >= ?1 AND pruned_at IS NULL ORDER BY first_seen, id",
        )?;
        let rows = statement.query_map([since.map_or(i64::MIN, to_unix)], |row| {
            Ok(StoredItem {
                id: row.get(0)?,
                title: row.get(1)?,
                summary: row.get(2)?,
                content: row.get(3)?,
                authors: row.get(4)?,
                categories: row.get(5)?,
                link: row.get(6)?,
                first_seen: from_unix(row.get(7)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Hits on items first seen at or after `since`, except pruned ones (as `items_since`), so
    /// that a replay never removes a hit because retention removed its item's text.
    pub fn hits_since(&self, since: Option<DateTime<Utc>>) -> Result<Vec<StoredHit>, StoreError> {
        let mut statement = self.conn.prepare(
            "SELECT h.id, h.indicator_id, h.item_id, h.feed_id, h.score, h.definition_hash,
                    h.created_at, h.retracted_at IS NOT NULL
             FROM hits h JOIN items i ON i.id = h.item_id
             WHERE i.first_seen >= ?1 AND i.pruned_at IS NULL ORDER BY h.id",
        )?;
        let rows = statement.query_map([since.map_or(i64::MIN, to_unix)], |row| {
            Ok(StoredHit {
                id: row.get(0)?,
                indicator_id: row.get(1)?,
                item_id: row.get(2)?,
                feed_id: row.get(3)?,
                score: row.get(4)?,
                definition_hash: row.get(5)?,
                created_at: from_unix(row.get(6)?),
                retracted: row.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The feed through which an item was first seen.
    pub fn first_source(&self, item_id: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT feed_id FROM item_sources WHERE item_id = ?1 ORDER BY first_seen LIMIT 1",
            )?
            .query_row([item_id], |row| row.get(0))
            .optional()?)
    }

    /// Records a replay's verdicts in one transaction: new hits (marked as replayed, so they
    /// never alert), hits the rules no longer make (retracted: a hit, with its alerts,
    /// delivery record and triage, is the record of what was seen and sent, and is never
    /// deleted), and retracted hits the rules make again (standing again).
    pub fn apply_replay(
        &mut self,
        added: &[(i64, String, HitRecord)],
        retracted: &[Retraction],
        restored: &[i64],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for (item_id, feed_id, hit) in added {
            tx.prepare_cached(
                "INSERT INTO hits (indicator_id, item_id, feed_id, score, evidence,
                   definition_hash, created_at, origin)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'replay')
                 ON CONFLICT(indicator_id, item_id) DO NOTHING",
            )?
            .execute(params![
                hit.indicator_id,
                item_id,
                feed_id,
                hit.score,
                hit.evidence,
                hit.definition_hash,
                to_unix(at)
            ])?;
        }
        for retraction in retracted {
            tx.prepare_cached(
                "UPDATE hits SET retracted_at = ?1, retracted_by = ?2
                 WHERE id = ?3 AND retracted_at IS NULL",
            )?
            .execute(params![to_unix(at), retraction.by, retraction.hit_id])?;
        }
        for hit_id in restored {
            tx.prepare_cached(
                "UPDATE hits SET retracted_at = NULL, retracted_by = NULL WHERE id = ?1",
            )?
            .execute([hit_id])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Counts for summaries: items, sources, hits.
    pub fn totals(&self) -> Result<(u64, u64, u64), StoreError> {
        Ok(self.conn.query_row(
            "SELECT (SELECT COUNT(*) FROM items), (SELECT COUNT(*) FROM item_sources),
                    (SELECT COUNT(*) FROM hits)",
            [],
            |row| {
                let count = |i| row.get::<_, i64>(i).map(|n| n as u64);
                Ok((count(0)?, count(1)?, count(2)?))
            },
        )?)
    }

    /// Whether the database answers a query.
    pub fn ping(&self) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("SELECT 1")?
            .query_row([], |row| row.get::<_, i64>(0))?;
        Ok(())
    }

    /// Hits recorded per indicator.
    pub fn hits_by_indicator(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT indicator_id, COUNT(*) FROM hits GROUP BY indicator_id ORDER BY indicator_id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))?)
    }
}

const FEED_STATE_SELECT: &str = "SELECT f.id, f.url, f.title, f.active, f.etag, f.last_modified,
        f.last_attempt, f.last_success, f.last_error, f.consecutive_failures, f.next_check,
        f.min_interval,
        (SELECT COUNT(*) FROM item_sources s WHERE s.feed_id = f.id),
        (SELECT COUNT(*) FROM hits h WHERE h.feed_id = f.id),
        f.warning_kind, f.warning
     FROM feeds f";

fn feed_state_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<FeedState> {
    Ok(FeedState {
        id: row.get(0)?,
        url: row.get(1)?,
        title: row.get(2)?,
        active: row.get(3)?,
        etag: row.get(4)?,
        last_modified: row.get(5)?,
        last_attempt: row.get::<_, Option<i64>>(6)?.map(from_unix),
        last_success: row.get::<_, Option<i64>>(7)?.map(from_unix),
        last_error: row.get(8)?,
        warning_kind: row.get(14)?,
        warning: row.get(15)?,
        consecutive_failures: row.get(9)?,
        next_check: row.get::<_, Option<i64>>(10)?.map(from_unix),
        min_interval: row
            .get::<_, Option<i64>>(11)?
            .map(|s| Duration::from_secs(s.max(0) as u64)),
        items: row.get::<_, i64>(12)? as u64,
        hits: row.get::<_, i64>(13)? as u64,
    })
}

/// The rows holding exactly a text of an item: its identity and content hash.
const COPY_OF_TEXT: &str = "SELECT id FROM items WHERE identity = ?1 AND content_hash = ?2";

/// The row holding exactly this text of this item: an identical copy already stored (by any
/// feed), or a new row. True when the row is new.
fn copy_of(
    tx: &rusqlite::Transaction<'_>,
    item: &ItemRecord,
    feed_id: &str,
    now: i64,
) -> Result<(i64, bool), StoreError> {
    let identity = item.identity(feed_id);
    // The oldest identical row, chosen here rather than by `ORDER BY id LIMIT 1` (or
    // `MIN(id)`): with either, the bundled SQLite compiled the statement again at every new
    // binding (60,000 instructions, half of a new item's write), as if the values could change
    // its plan. A link has few rows.
    let mut identical: Option<i64> = None;
    let mut statement = tx.prepare_cached(COPY_OF_TEXT)?;
    for id in statement.query_map(params![identity, item.content_hash], |row| row.get(0))? {
        let id: i64 = id?;
        identical = Some(identical.map_or(id, |oldest| oldest.min(id)));
    }
    drop(statement);
    if let Some(id) = identical {
        return Ok((id, false));
    }
    tx.prepare_cached(
        "INSERT INTO items (identity, link, title, summary, content, authors, categories,
           published, updated, first_seen, content_hash, lang)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        identity,
        item.link,
        item.title,
        item.summary,
        item.content,
        item.authors,
        item.categories,
        item.published.map(to_unix),
        item.updated.map(to_unix),
        now,
        item.content_hash,
        lang::stored(&item.lang),
    ])?;
    Ok((tx.last_insert_rowid(), true))
}

/// A feed's new text for a row no other feed published.
fn rewrite(
    tx: &rusqlite::Transaction<'_>,
    item_id: i64,
    item: &ItemRecord,
) -> Result<(), StoreError> {
    // Fresh text makes a pruned item whole again; retention trims it anew.
    tx.prepare_cached(
        "UPDATE items SET title = ?2, summary = ?3, content = ?4, authors = ?5,
           categories = ?6, updated = ?7, content_hash = ?8, pruned_at = NULL, lang = ?9
         WHERE id = ?1",
    )?
    .execute(params![
        item_id,
        item.title,
        item.summary,
        item.content,
        item.authors,
        item.categories,
        item.updated.map(to_unix),
        item.content_hash,
        lang::stored(&item.lang),
    ])?;
    Ok(())
}

fn insert_hits(
    tx: &rusqlite::Transaction<'_>,
    item_id: i64,
    item: &ItemRecord,
    feed_id: &str,
    now: i64,
    hits: &[HitRecord],
    counts: &mut PollCounts,
) -> Result<(), StoreError> {
    // Most items hit nothing; finding the cached statement hashes its whole text.
    if hits.is_empty() {
        return Ok(());
    }
    let mut statement = tx.prepare_cached(
        "INSERT INTO hits (indicator_id, item_id, feed_id, score, evidence, definition_hash,
           created_at, fingerprint)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(indicator_id, item_id) DO NOTHING",
    )?;
    for hit in hits {
        let inserted = statement.execute(params![
            hit.indicator_id,
            item_id,
            feed_id,
            hit.score,
            hit.evidence,
            hit.definition_hash,
            now,
            hit.fingerprint
        ])?;
        if inserted == 1 {
            let hit_id = tx.last_insert_rowid();
            counts.new_hits += 1;
            if let Some(route) = &hit.route {
                counts.new_alerts += outbox::queue_alerts(tx, hit_id, route, now)?;
            }
            counts.hits.push(NewHit {
                hit_id,
                indicator_id: hit.indicator_id.clone(),
                item_id,
                key: item.key.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
