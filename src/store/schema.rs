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
    // 3: the outbox. An alert is one hit for one recipient, written in the poll's transaction;
    // a message is one e-mail carrying one or more alerts, created before it is sent so that
    // a resend after a crash is the same message with the same Message-ID.
    r#"
    -- The hit that first reported the same story for the same indicator (near-identical
    -- title within 72 hours); NULL for a story's first report.
    ALTER TABLE hits ADD COLUMN story_id INTEGER REFERENCES hits(id) ON DELETE SET NULL;
    CREATE INDEX hits_indicator_created ON hits(indicator_id, created_at);
    CREATE INDEX hits_story ON hits(story_id) WHERE story_id IS NOT NULL;

    CREATE TABLE messages (
        id           INTEGER PRIMARY KEY,
        recipient    TEXT NOT NULL,
        -- 'alert' | 'digest' | 'summary'
        kind         TEXT NOT NULL,
        -- The Message-ID header, without angle brackets; derived from the first alert's id.
        message_id   TEXT NOT NULL UNIQUE,
        -- 'pending' | 'sent' | 'failed'
        status       TEXT NOT NULL DEFAULT 'pending',
        created_at   INTEGER NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL,
        -- After this time a failing message is given up on (marked failed); a manual retry
        -- moves it a day ahead.
        give_up_at   INTEGER NOT NULL,
        last_attempt INTEGER,
        last_error   TEXT,
        sent_at      INTEGER,
        -- What the server said when it accepted the message.
        reply        TEXT
    );
    CREATE INDEX messages_due ON messages(status, next_attempt);
    CREATE INDEX messages_recipient_created ON messages(recipient, created_at);

    CREATE TABLE alerts (
        id          INTEGER PRIMARY KEY,
        hit_id      INTEGER NOT NULL REFERENCES hits(id) ON DELETE CASCADE,
        recipient   TEXT NOT NULL,
        -- 'immediate' | 'digest'
        mode        TEXT NOT NULL,
        -- 'pending' | 'sent' | 'failed' | 'folded' (a later report of a story already
        -- alerted: recorded, listed as a source, never mailed on its own)
        status      TEXT NOT NULL DEFAULT 'pending',
        created_at  INTEGER NOT NULL,
        -- The message that carries it, once planned.
        message     INTEGER REFERENCES messages(id),
        folded_into INTEGER REFERENCES alerts(id) ON DELETE SET NULL,
        UNIQUE (hit_id, recipient)
    );
    CREATE INDEX alerts_unplanned ON alerts(status) WHERE message IS NULL;
    CREATE INDEX alerts_message ON alerts(message);

    -- Small facts the dispatcher keeps across restarts (when the last digest went out).
    CREATE TABLE dispatch_state (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 4: retention. Old items lose their bulky text (if they have hits) or go entirely (if
    // not); a feed that still lists a removed item must not bring it back as new.
    r#"
    -- When the item's summary, content, authors and categories were removed to save space;
    -- NULL while the item is whole. Replay skips pruned items: their text is gone.
    ALTER TABLE items ADD COLUMN pruned_at INTEGER;
    -- Which items have hits: pruning asks it of every old item.
    CREATE INDEX hits_item ON hits(item_id);

    -- A feed's key for an item deleted by retention, so that the poll still recognises the
    -- item while the feed lists it and does not store, match and alert on it again.
    CREATE TABLE forgotten_sources (
        feed_id      TEXT NOT NULL REFERENCES feeds(id),
        key          TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        forgotten_at INTEGER NOT NULL,
        PRIMARY KEY (feed_id, key)
    ) WITHOUT ROWID;
    CREATE INDEX forgotten_sources_at ON forgotten_sources(forgotten_at);

    -- Small facts housekeeping keeps across restarts (when retention last ran).
    CREATE TABLE housekeeping_state (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 5: feed health. When a feed's current failure streak began (cleared on success), and
    // the operational notices sent about feeds, so a restart neither repeats nor forgets one.
    r#"
    ALTER TABLE feeds ADD COLUMN failing_since INTEGER;
    -- A feed already failing: its last success is the best bound on when the streak began.
    UPDATE feeds SET failing_since = COALESCE(last_success, last_attempt)
     WHERE consecutive_failures > 0;
    -- A feed's cadence is learned from when its items arrived.
    CREATE INDEX item_sources_feed_seen ON item_sources(feed_id, first_seen);

    CREATE TABLE feed_notices (
        id           INTEGER PRIMARY KEY,
        -- The feed, or '*' for the notice that most feeds fail at once.
        feed_id      TEXT NOT NULL,
        -- 'failing' | 'quiet' | 'network'
        kind         TEXT NOT NULL,
        -- When the first notice of this episode was sent.
        opened_at    INTEGER NOT NULL,
        -- When the latest notice (first or daily reminder) was sent.
        notified_at  INTEGER NOT NULL,
        notices      INTEGER NOT NULL DEFAULT 1,
        -- When the recovery notice was sent; NULL while the episode is open.
        recovered_at INTEGER
    );
    CREATE UNIQUE INDEX feed_notices_open ON feed_notices(feed_id, kind)
        WHERE recovered_at IS NULL;
    "#,
    // 6: the hit log. Full-text search over the items that have hits (what reviewers search;
    // indexing every item would tax every poll for text nobody looks for), and reviewers'
    // triage verdicts.
    r#"
    CREATE VIRTUAL TABLE hit_items_fts USING fts5(
        title, summary, content, tokenize = 'unicode61 remove_diacritics 2'
    );
    INSERT INTO hit_items_fts (rowid, title, summary, content)
        SELECT id, title, summary, content FROM items
        WHERE id IN (SELECT item_id FROM hits);
    -- An item enters the index with its first hit, and follows its text afterwards.
    CREATE TRIGGER hit_items_fts_hit AFTER INSERT ON hits
    WHEN NOT EXISTS (SELECT 1 FROM hit_items_fts WHERE rowid = new.item_id)
    BEGIN
        INSERT INTO hit_items_fts (rowid, title, summary, content)
            SELECT id, title, summary, content FROM items WHERE id = new.item_id;
    END;
    CREATE TRIGGER hit_items_fts_text AFTER UPDATE OF title, summary, content ON items
    WHEN EXISTS (SELECT 1 FROM hit_items_fts WHERE rowid = new.id)
    BEGIN
        DELETE FROM hit_items_fts WHERE rowid = new.id;
        INSERT INTO hit_items_fts (rowid, title, summary, content)
            VALUES (new.id, new.title, new.summary, new.content);
    END;
    CREATE TRIGGER hit_items_fts_gone AFTER DELETE ON items
    BEGIN
        DELETE FROM hit_items_fts WHERE rowid = old.id;
    END;

    CREATE TABLE triage (
        hit_id  INTEGER PRIMARY KEY REFERENCES hits(id) ON DELETE CASCADE,
        -- 'relevant' | 'false_positive'
        verdict TEXT NOT NULL,
        note    TEXT NOT NULL,
        at      INTEGER NOT NULL
    );
    CREATE INDEX triage_verdict ON triage(verdict);
    "#,
    // 7: each item's language (ISO 639-1, or 'und' when its text did not say), identified
    // when the item is stored or its text changes. NULL for items stored before: their
    // language was never asked. Items are counted by language at every /metrics scrape.
    r#"
    ALTER TABLE items ADD COLUMN lang TEXT;
    CREATE INDEX items_lang ON items(lang);
    "#,
    // 8: what the last document fetched held that did not become items (no items from a
    // document with entries, entries dropped): its kind (`parse::ParseWarning::kind`) and
    // message; NULL when the document was read whole. Set by every fetch, kept through 304s.
    r#"
    ALTER TABLE feeds ADD COLUMN warning_kind TEXT;
    ALTER TABLE feeds ADD COLUMN warning TEXT;
    "#,
    // 9: a hit the rules in force no longer make, found by `replay --apply`: kept (its
    // alerts, delivery and triage are the record of what was seen and sent), marked with when
    // and by which version of the indicator's definition. NULL while the hit stands.
    r#"
    ALTER TABLE hits ADD COLUMN retracted_at INTEGER;
    ALTER TABLE hits ADD COLUMN retracted_by TEXT;
    "#,
    // 10: story folding leaves the poll's transaction. Each hit keeps its title's fingerprint
    // (`alert::story::Fingerprint`, computed once when the hit is stored, bounded in size),
    // so folding never normalises earlier titles again; NULL for hits stored before, whose
    // titles are read instead. A new hit that alerts waits with `story_pending = 1` until the
    // dispatcher has decided whether it is a later report of a story already alerted; its
    // alerts are not planned before.
    r#"
    ALTER TABLE hits ADD COLUMN fingerprint TEXT;
    ALTER TABLE hits ADD COLUMN story_pending INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX hits_story_pending ON hits(id) WHERE story_pending = 1;
    "#,
    // 11: each source's text is its own. `identity` is no longer unique: a feed that lists a
    // stored link with other text gets an item row of its own, so that no feed's copy can
    // rewrite what another feed published (a hostile feed listing a trusted outlet's link
    // first, then changing its text, rewrote the trusted feed's hit). Identical copies still
    // share a row, found by identity and content hash. SQLite cannot drop a constraint, so
    // the table is rebuilt; `Store::migrate` runs migrations with foreign keys off and checks
    // them before committing, as SQLite's procedure for changing a table asks.
    r#"
    -- Its body names items, which is missing between the drop and the rename.
    DROP TRIGGER hit_items_fts_hit;
    CREATE TABLE items_rebuilt (
        id           INTEGER PRIMARY KEY,
        -- "link:<canonical link>" when the item has a link, else "feed:<feed id>:<key>".
        -- Rows with one identity hold different texts: each is the text some feed published,
        -- and an item_sources row names each feed that published it.
        identity     TEXT NOT NULL,
        link         TEXT,
        title        TEXT NOT NULL,
        summary      TEXT NOT NULL,
        content      TEXT NOT NULL,
        authors      TEXT NOT NULL,
        categories   TEXT NOT NULL,
        published    INTEGER,
        updated      INTEGER,
        first_seen   INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        pruned_at    INTEGER,
        lang         TEXT
    );
    INSERT INTO items_rebuilt (id, identity, link, title, summary, content, authors,
        categories, published, updated, first_seen, content_hash, pruned_at, lang)
        SELECT id, identity, link, title, summary, content, authors, categories, published,
               updated, first_seen, content_hash, pruned_at, lang
        FROM items;
    DROP TABLE items;
    ALTER TABLE items_rebuilt RENAME TO items;
    -- A new copy of a link looks for a row with the same text among the few of its link;
    -- the hash stays out of the index, which every new item writes to.
    CREATE INDEX items_identity ON items(identity);
    CREATE INDEX items_first_seen ON items(first_seen);
    CREATE INDEX items_lang ON items(lang);
    CREATE TRIGGER hit_items_fts_hit AFTER INSERT ON hits
    WHEN NOT EXISTS (SELECT 1 FROM hit_items_fts WHERE rowid = new.item_id)
    BEGIN
        INSERT INTO hit_items_fts (rowid, title, summary, content)
            SELECT id, title, summary, content FROM items WHERE id = new.item_id;
    END;
    CREATE TRIGGER hit_items_fts_text AFTER UPDATE OF title, summary, content ON items
    WHEN EXISTS (SELECT 1 FROM hit_items_fts WHERE rowid = new.id)
    BEGIN
        DELETE FROM hit_items_fts WHERE rowid = new.id;
        INSERT INTO hit_items_fts (rowid, title, summary, content)
            VALUES (new.id, new.title, new.summary, new.content);
    END;
    CREATE TRIGGER hit_items_fts_gone AFTER DELETE ON items
    BEGIN
        DELETE FROM hit_items_fts WHERE rowid = old.id;
    END;
    "#,
    // 12: search with the rules' words. The index holds each hit item's fields as the
    // normaliser folds them (`store::search`), one column per field the rules name, split on
    // spaces alone (FTS5's `ascii` tokenizer: the words hold no ASCII punctuation, and every
    // other character is part of a word), so a search and a rule read the same words. The
    // words come from `watchfloor_search_words`, which `Store::open` registers on every
    // connection that writes. The earlier index (unicode61's own words) goes.
    r#"
    DROP TRIGGER IF EXISTS hit_items_fts_hit;
    DROP TRIGGER IF EXISTS hit_items_fts_text;
    DROP TRIGGER IF EXISTS hit_items_fts_gone;
    DROP TABLE IF EXISTS hit_items_fts;
    CREATE VIRTUAL TABLE hit_items_search USING fts5(
        title, summary, content, author, category, link, tokenize = 'ascii'
    );
    INSERT INTO hit_items_search (rowid, title, summary, content, author, category, link)
        SELECT id, watchfloor_search_words(title), watchfloor_search_words(summary),
               watchfloor_search_words(content), watchfloor_search_words(authors),
               watchfloor_search_words(categories), watchfloor_search_words(COALESCE(link, ''))
        FROM items WHERE id IN (SELECT item_id FROM hits);
    -- An item enters the index with its first hit, and follows its text afterwards (a feed's
    -- rewrite, retention emptying it).
    CREATE TRIGGER hit_items_search_hit AFTER INSERT ON hits
    WHEN NOT EXISTS (SELECT 1 FROM hit_items_search WHERE rowid = new.item_id)
    BEGIN
        INSERT INTO hit_items_search (rowid, title, summary, content, author, category, link)
            SELECT id, watchfloor_search_words(title), watchfloor_search_words(summary),
                   watchfloor_search_words(content), watchfloor_search_words(authors),
                   watchfloor_search_words(categories),
                   watchfloor_search_words(COALESCE(link, ''))
            FROM items WHERE id = new.item_id;
    END;
    CREATE TRIGGER hit_items_search_text
    AFTER UPDATE OF title, summary, content, authors, categories, link ON items
    WHEN EXISTS (SELECT 1 FROM hit_items_search WHERE rowid = new.id)
    BEGIN
        DELETE FROM hit_items_search WHERE rowid = new.id;
        INSERT INTO hit_items_search (rowid, title, summary, content, author, category, link)
            VALUES (new.id, watchfloor_search_words(new.title),
                    watchfloor_search_words(new.summary), watchfloor_search_words(new.content),
                    watchfloor_search_words(new.authors),
                    watchfloor_search_words(new.categories),
                    watchfloor_search_words(COALESCE(new.link, '')));
    END;
    CREATE TRIGGER hit_items_search_gone AFTER DELETE ON items
    BEGIN
        DELETE FROM hit_items_search WHERE rowid = old.id;
    END;
    "#,
    // 13: verdicts keep their history. Every verdict a reviewer gives is a row of `verdicts`,
    // never updated or deleted: who gave it ('local' from the command line or an open hit
    // log, the basic-auth user, 'token' for the bearer token), when, what, the note, and for
    // a duplicate the hit it repeats. `triage` stays the current verdict of each hit, the
    // latest row of its history, kept by a trigger so that no writer can let the two differ
    // and the hit log's queries keep their one-row join. Verdicts given before the history
    // start it, by 'unrecorded'.
    r#"
    CREATE TABLE verdicts (
        id           INTEGER PRIMARY KEY,
        hit_id       INTEGER NOT NULL REFERENCES hits(id),
        -- 'relevant' | 'false_positive' | 'duplicate'
        verdict      TEXT NOT NULL,
        -- The hit this one repeats; set exactly for a duplicate, never the hit itself.
        duplicate_of INTEGER REFERENCES hits(id),
        note         TEXT NOT NULL,
        reviewer     TEXT NOT NULL,
        at           INTEGER NOT NULL,
        CHECK ((verdict = 'duplicate') = (duplicate_of IS NOT NULL)),
        CHECK (duplicate_of IS NULL OR duplicate_of <> hit_id)
    );
    CREATE INDEX verdicts_hit ON verdicts(hit_id, id);
    ALTER TABLE triage ADD COLUMN reviewer TEXT NOT NULL DEFAULT 'unrecorded';
    ALTER TABLE triage ADD COLUMN duplicate_of INTEGER REFERENCES hits(id);
    INSERT INTO verdicts (hit_id, verdict, duplicate_of, note, reviewer, at)
        SELECT hit_id, verdict, NULL, note, 'unrecorded', at FROM triage ORDER BY at, hit_id;
    CREATE TRIGGER verdicts_current AFTER INSERT ON verdicts
    BEGIN
        INSERT INTO triage (hit_id, verdict, note, at, reviewer, duplicate_of)
            VALUES (new.hit_id, new.verdict, new.note, new.at, new.reviewer, new.duplicate_of)
        ON CONFLICT(hit_id) DO UPDATE SET verdict = excluded.verdict, note = excluded.note,
            at = excluded.at, reviewer = excluded.reviewer,
            duplicate_of = excluded.duplicate_of;
    END;
    CREATE TRIGGER verdicts_kept_on_update BEFORE UPDATE ON verdicts
    BEGIN
        SELECT RAISE(ABORT, 'a verdict is history: give a new one instead');
    END;
    CREATE TRIGGER verdicts_kept_on_delete BEFORE DELETE ON verdicts
    BEGIN
        SELECT RAISE(ABORT, 'a verdict is history: it is never deleted');
    END;
    "#,
    // 14: webhooks; the outbox carries two transports. An alert and a message name the transport
    // that delivers them ('mail' for every row before) and, in `recipient`, its target: an
    // e-mail address, or a webhook's name from the settings (names hold no '@', so one hit's
    // alerts to a webhook and to an address never collide). Touches only `alerts` and
    // `messages`, so it applies after any other migration.
    r#"
    ALTER TABLE alerts ADD COLUMN transport TEXT NOT NULL DEFAULT 'mail';
    ALTER TABLE messages ADD COLUMN transport TEXT NOT NULL DEFAULT 'mail';
    "#,
];
