//! The database schema, as numbered migrations. `PRAGMA user_version` holds the number of the
//! last migration applied; a database newer than this binary is refused rather than guessed at.

/// Migrations in order; migration `n` (1-based) moves the schema from version `n - 1` to `n`.
pub const MIGRATIONS: &[&str] = &[
    // 1: feeds and their polling state, items and where they were seen, hits.
    r#"
    CREATE TABLE feeds (
        id                   TEXT PRIMARY KEY,
        url                  TEXT NOT NULL,
        title                TEXT,
        -- 0 when the feed is no longer in indicators.yaml: kept, with its history.
        active               INTEGER NOT NULL DEFAULT 1,
        etag                 TEXT,
        last_modified        TEXT,
        last_attempt         INTEGER,
        last_success         INTEGER,
        last_error           TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        next_check           INTEGER,
        -- The feed's own floor on the interval (TTL, max-age), in seconds.
        min_interval         INTEGER
    );

    CREATE TABLE items (
        id           INTEGER PRIMARY KEY,
        -- "link:<canonical link>" when the item has a link, so one story seen in two feeds is
        -- one item; else "feed:<feed id>:<key>".
        identity     TEXT NOT NULL UNIQUE,
        link         TEXT,
        title        TEXT NOT NULL,
        summary      TEXT NOT NULL,
        content      TEXT NOT NULL,
        authors      TEXT NOT NULL,
        categories   TEXT NOT NULL,
        published    INTEGER,
        updated      INTEGER,
        first_seen   INTEGER NOT NULL,
        content_hash TEXT NOT NULL
    );

    CREATE TABLE item_sources (
        feed_id      TEXT NOT NULL REFERENCES feeds(id),
        key          TEXT NOT NULL,
        item_id      INTEGER NOT NULL REFERENCES items(id),
        first_seen   INTEGER NOT NULL,
        -- The text this feed last gave for the item, to tell an update from a repeat.
        content_hash TEXT NOT NULL,
        PRIMARY KEY (feed_id, key)
    ) WITHOUT ROWID;
    CREATE INDEX item_sources_item ON item_sources(item_id);

    CREATE TABLE hits (
        id              INTEGER PRIMARY KEY,
        indicator_id    TEXT NOT NULL,
        item_id         INTEGER NOT NULL REFERENCES items(id),
        feed_id         TEXT NOT NULL REFERENCES feeds(id),
        score           REAL NOT NULL,
        evidence        TEXT NOT NULL,
        definition_hash TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        -- 'poll' or 'replay': replayed hits never alert.
        origin          TEXT NOT NULL DEFAULT 'poll',
        UNIQUE (indicator_id, item_id)
    );
    CREATE INDEX hits_created ON hits(created_at);
    CREATE INDEX items_first_seen ON items(first_seen);
    "#,
    // 2: a feed's hits are counted for every poll's state and the feeds table.
    r#"
    CREATE INDEX hits_feed ON hits(feed_id);
    "#,
];
