use super::*;

fn item(key: &str, link: Option<&str>, title: &str) -> ItemRecord {
    ItemRecord {
        key: key.to_owned(),
        link: link.map(str::to_owned),
        title: title.to_owned(),
        content_hash: format!("hash-of-{title}"),
        ..ItemRecord::default()
    }
}

fn hit(indicator: &str) -> HitRecord {
    HitRecord {
        indicator_id: indicator.to_owned(),
        score: 1.0,
        evidence: "{}".to_owned(),
        definition_hash: "abc".to_owned(),
        route: None,
        fingerprint: None,
    }
}

fn poll(feed: &str, items: Vec<ItemWrite>) -> PollWrite {
    PollWrite {
        feed_id: feed.to_owned(),
        attempted_at: Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap(),
        result: PollResult::Fetched {
            etag: Some("\"v1\"".into()),
            last_modified: None,
            title: Some("Feed".into()),
            warning: None,
        },
        next_check: Utc.with_ymd_and_hms(2026, 11, 26, 12, 15, 0).unwrap(),
        min_interval: None,
        items,
    }
}

fn open_with_feeds(dir: &tempfile::TempDir) -> Store {
    let mut store = Store::open(&dir.path().join("watchfloor.db")).expect("open");
    store
        .sync_feeds(&[
            FeedDef {
                id: "a",
                url: "http://127.0.0.1/a.xml",
                title: None,
            },
            FeedDef {
                id: "b",
                url: "http://127.0.0.1/b.xml",
                title: None,
            },
        ])
        .expect("sync");
    store
}

/// Regression: each opener read the schema version before its migration's transaction, so
/// two processes opening one database at once (the daemon starting, a reviewer's
/// `watchfloor hits`) both ran the same migration, and one died of "duplicate column".
#[test]
fn openers_racing_on_one_database_each_migration_runs_once() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("watchfloor.db");
        let start = std::sync::Barrier::new(6);
        std::thread::scope(|scope| {
            let openers: Vec<_> = (0..6)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        Store::open(&path).map(drop)
                    })
                })
                .collect();
            for opener in openers {
                if let Err(error) = opener.join().expect("joined") {
                    panic!("{error}: {:?}", std::error::Error::source(&error));
                }
            }
        });
        let conn = Connection::open(&path).expect("raw open");
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(version, schema::MIGRATIONS.len() as i64);
    }
}

#[test]
fn a_new_database_is_migrated_and_a_newer_one_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("watchfloor.db");
    drop(Store::open(&path).expect("open"));
    let conn = Connection::open(&path).expect("raw open");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(version, schema::MIGRATIONS.len() as i64);
    conn.pragma_update(None, "user_version", 999).expect("bump");
    drop(conn);
    let err = Store::open(&path).err().expect("refused");
    assert!(
        err.to_string().contains("schema version 999, newer"),
        "{err}"
    );
}

#[test]
fn a_poll_records_items_sources_hits_and_feed_state_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open_with_feeds(&dir);
    let counts = store
        .write_poll(&poll(
            "a",
            vec![
                ItemWrite::New {
                    item: item("guid:1", Some("https://x.test/1"), "one"),
                    hits: vec![hit("satellite_launch")],
                },
                ItemWrite::New {
                    item: item("guid:2", None, "two"),
                    hits: vec![],
                },
            ],
        ))
        .expect("write");
    assert_eq!(counts.new_items, 2);
    assert_eq!(counts.new_hits, 1);
    let state = store.feed_state("a").expect("query").expect("feed");
    assert_eq!(state.items, 2);
    assert_eq!(state.hits, 1);
    assert_eq!(state.etag.as_deref(), Some("\"v1\""));
    assert_eq!(state.consecutive_failures, 0);
    let known = store.known_items("a").expect("known");
    assert_eq!(known.len(), 2);
    assert_eq!(known["guid:1"].content_hash, "hash-of-one");
}

#[test]
fn the_same_story_in_two_feeds_is_one_item_with_two_sources() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open_with_feeds(&dir);
    let story = |key: &str| ItemWrite::New {
        item: item(key, Some("https://x.test/story"), "story"),
        hits: vec![hit("labor_export")],
    };
    store
        .write_poll(&poll("a", vec![story("guid:a1")]))
        .expect("a");
    let counts = store
        .write_poll(&poll("b", vec![story("guid:b7")]))
        .expect("b");
    assert_eq!(counts.new_items, 0);
    assert_eq!(counts.new_sources, 1);
    assert_eq!(
        counts.new_hits, 0,
        "the hit is unique per indicator and item"
    );
    assert_eq!(store.totals().expect("totals"), (1, 2, 1));
}

#[test]
fn a_changed_item_hits_only_indicators_it_did_not_hit_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open_with_feeds(&dir);
    store
        .write_poll(&poll(
            "a",
            vec![ItemWrite::New {
                item: item("guid:1", None, "v1"),
                hits: vec![hit("satellite_launch")],
            }],
        ))
        .expect("first");
    let item_id = store.known_items("a").expect("known")["guid:1"].item_id;
    let counts = store
        .write_poll(&poll(
            "a",
            vec![ItemWrite::Changed {
                item_id,
                item: item("guid:1", None, "v2"),
                hits: vec![hit("satellite_launch"), hit("energy_food_flows")],
            }],
        ))
        .expect("second");
    assert_eq!(counts.changed_items, 1);
    assert_eq!(counts.new_hits, 1);
    assert_eq!(
        store.known_items("a").expect("known")["guid:1"].content_hash,
        "hash-of-v2"
    );
}

#[test]
fn failures_count_up_and_state_survives_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open_with_feeds(&dir);
    for _ in 0..3 {
        let mut failed = poll("b", vec![]);
        failed.result = PollResult::Failed {
            error: "HTTP 500 Internal Server Error".into(),
        };
        store.write_poll(&failed).expect("write");
    }
    drop(store);
    let store = Store::open(&dir.path().join("watchfloor.db")).expect("reopen");
    let state = store.feed_state("b").expect("query").expect("feed");
    assert_eq!(state.consecutive_failures, 3);
    assert_eq!(
        state.last_error.as_deref(),
        Some("HTTP 500 Internal Server Error")
    );
    assert!(state.next_check.is_some());
    assert_eq!(store.integrity_check().expect("check"), "ok");
}

#[test]
fn feeds_dropped_from_the_config_stay_but_go_inactive_and_a_new_url_resets_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open_with_feeds(&dir);
    store.write_poll(&poll("a", vec![])).expect("write");
    store
        .sync_feeds(&[FeedDef {
            id: "a",
            url: "http://127.0.0.1/moved.xml",
            title: None,
        }])
        .expect("sync");
    let states = store.feed_states().expect("states");
    assert_eq!(states.len(), 2);
    assert!(states[0].active && states[0].id == "a");
    assert_eq!(states[0].etag, None, "validators belong to the old URL");
    assert!(!states[1].active && states[1].id == "b");
}

#[test]
fn a_restart_keeps_the_title_a_poll_learned_unless_the_config_names_one_or_the_url_moves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open_with_feeds(&dir);
    store.write_poll(&poll("a", vec![])).expect("write");
    let title = |store: &Store| store.feed_state("a").expect("query").expect("feed").title;
    let def = |url: &'static str, title: Option<&'static str>| FeedDef {
        id: "a",
        url,
        title,
    };
    // What every start, reload and `watchfloor feeds` does: alert sources and resent
    // messages must not lose the feed's name until the next poll.
    store
        .sync_feeds(&[def("http://127.0.0.1/a.xml", None)])
        .expect("sync");
    assert_eq!(title(&store).as_deref(), Some("Feed"));
    store
        .sync_feeds(&[def("http://127.0.0.1/a.xml", Some("Configured"))])
        .expect("sync");
    assert_eq!(title(&store).as_deref(), Some("Configured"));
    store
        .sync_feeds(&[def("http://127.0.0.1/moved.xml", None)])
        .expect("sync");
    assert_eq!(title(&store), None, "the old title named another resource");
}

#[test]
fn another_applications_database_is_never_migrated_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Tables of its own and an id of its own, or tables alone: refused, and left as found.
    let cases = [
        (
            "notes.db",
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);",
            0,
        ),
        ("owned.db", "CREATE TABLE feeds (id TEXT);", 0x1234),
        (
            "partial.db",
            "CREATE TABLE feeds (id TEXT); CREATE TABLE hits (id INTEGER);",
            0,
        ),
    ];
    for (name, sql, id) in cases {
        let path = dir.path().join(name);
        {
            let conn = Connection::open(&path).expect("create");
            conn.execute_batch(sql).expect("tables");
            conn.pragma_update(None, "application_id", id).expect("id");
            conn.pragma_update(None, "user_version", 3)
                .expect("version");
        }
        let before = std::fs::read(&path).expect("read");
        for result in [Store::open(&path).err(), Store::open_read_only(&path).err()] {
            let error = result.unwrap_or_else(|| panic!("{name} accepted"));
            assert!(
                matches!(error, StoreError::Foreign { .. }),
                "{name}: {error}"
            );
            assert!(
                error.to_string().contains("not a watchfloor database"),
                "{error}"
            );
        }
        assert!(
            std::fs::read(&path).expect("read") == before,
            "{name} changed"
        );
    }
    // A new file gets the id; a database of ours made before the id existed gets it too.
    let fresh = dir.path().join("fresh.db");
    let store = Store::open(&fresh).expect("fresh");
    let id: i64 = store
        .conn
        .pragma_query_value(None, "application_id", |row| row.get(0))
        .expect("id");
    assert_eq!(id, APPLICATION_ID);
    store
        .conn
        .pragma_update(None, "application_id", 0)
        .expect("clear");
    drop(store);
    let store = Store::open(&fresh).expect("ours, without the id");
    let id: i64 = store
        .conn
        .pragma_query_value(None, "application_id", |row| row.get(0))
        .expect("id");
    assert_eq!(id, APPLICATION_ID);
}

fn item_title(store: &Store, item_id: i64) -> String {
    store
        .conn
        .query_row("SELECT title FROM items WHERE id = ?1", [item_id], |r| {
            r.get(0)
        })
        .expect("item")
}

/// Issue 15, item 1: a hostile feed listed a trusted outlet's link first, then changed its
/// copy, and the change rewrote the row the trusted feed's hit was on.
#[test]
fn another_feeds_text_for_a_link_is_its_own_item_and_its_changes_rewrite_only_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open_with_feeds(&dir);
    let link = Some("https://trusted.test/launch");
    store
        .write_poll(&poll(
            "b",
            vec![ItemWrite::New {
                item: item("guid:b1", link, "Weather in Seoul"),
                hits: vec![],
            }],
        ))
        .expect("hostile first");
    let counts = store
        .write_poll(&poll(
            "a",
            vec![ItemWrite::New {
                item: item("guid:a1", link, "North Korea launches satellite"),
                hits: vec![hit("satellite_launch")],
            }],
        ))
        .expect("trusted");
    assert_eq!(
        (counts.new_items, counts.new_sources, counts.new_hits),
        (1, 0, 1)
    );
    let trusted = store.known_items("a").expect("known")["guid:a1"].item_id;
    let hostile = store.known_items("b").expect("known")["guid:b1"].item_id;
    assert_ne!(trusted, hostile);

    let counts = store
        .write_poll(&poll(
            "b",
            vec![ItemWrite::Changed {
                item_id: hostile,
                item: item("guid:b1", link, "FAKE: launch failed"),
                hits: vec![],
            }],
        ))
        .expect("hostile change");
    assert_eq!(counts.changed_items, 1);
    assert_eq!(
        item_title(&store, trusted),
        "North Korea launches satellite"
    );
    assert_eq!(item_title(&store, hostile), "FAKE: launch failed");
    let hits = store.hits_since(None).expect("hits");
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].item_id, hits[0].feed_id.as_str()), (trusted, "a"));
    assert_eq!(store.totals().expect("totals"), (2, 2, 1));
}

#[test]
fn a_changed_copy_of_an_item_another_feed_also_lists_moves_to_a_row_of_its_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open_with_feeds(&dir);
    let link = Some("https://x.test/story");
    let story = |key: &str| ItemWrite::New {
        item: item(key, link, "story"),
        hits: vec![hit("satellite_launch")],
    };
    store
        .write_poll(&poll("a", vec![story("guid:a1")]))
        .expect("a");
    store
        .write_poll(&poll("b", vec![story("guid:b1")]))
        .expect("b");
    let shared = store.known_items("a").expect("known")["guid:a1"].item_id;
    assert_eq!(
        store.known_items("b").expect("known")["guid:b1"].item_id,
        shared
    );

    // The feed that stored the row first owns no more of it than the other does.
    let counts = store
        .write_poll(&poll(
            "a",
            vec![ItemWrite::Changed {
                item_id: shared,
                item: item("guid:a1", link, "story, corrected"),
                hits: vec![hit("satellite_launch")],
            }],
        ))
        .expect("a changes");
    assert_eq!(counts.changed_items, 1);
    assert_eq!(counts.new_hits, 1, "the new text's own hit, on its own row");
    let moved = store.known_items("a").expect("known")["guid:a1"].clone();
    assert_ne!(moved.item_id, shared);
    assert_eq!(moved.content_hash, "hash-of-story, corrected");
    assert_eq!(item_title(&store, shared), "story");
    assert_eq!(item_title(&store, moved.item_id), "story, corrected");
    assert_eq!(
        store.first_source(shared).expect("source").as_deref(),
        Some("b")
    );
    let (hits, _) = store
        .hits_page(&HitFilter {
            feed: Some("a".into()),
            ..HitFilter::default()
        })
        .expect("hits");
    let mut items: Vec<i64> = hits.iter().map(|h| h.item_id).collect();
    items.sort_unstable();
    assert_eq!(
        items,
        [shared, moved.item_id],
        "the feed's hit on the text it had is still its own"
    );
    let first = hits.iter().find(|h| h.item_id == shared).expect("the hit");
    assert_eq!(first.sources, ["a", "b"], "the hit's own feed first");

    // Alone on its row now, the feed's next change rewrites it in place.
    let counts = store
        .write_poll(&poll(
            "a",
            vec![ItemWrite::Changed {
                item_id: moved.item_id,
                item: item("guid:a1", link, "story, corrected twice"),
                hits: vec![hit("satellite_launch")],
            }],
        ))
        .expect("a changes again");
    assert_eq!((counts.changed_items, counts.new_hits), (1, 0));
    assert_eq!(
        store.known_items("a").expect("known")["guid:a1"].item_id,
        moved.item_id
    );
    assert_eq!(item_title(&store, moved.item_id), "story, corrected twice");
    assert_eq!(store.totals().expect("totals"), (2, 2, 2));
}

/// Migration 11 rebuilds `items`, which sources, hits and the search index refer to.
#[test]
fn rebuilding_items_keeps_every_item_source_hit_and_search_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("watchfloor.db");
    {
        let conn = Connection::open(&path).expect("raw open");
        for (n, sql) in schema::MIGRATIONS[..10].iter().enumerate() {
            conn.execute_batch(sql).expect("old migration");
            conn.pragma_update(None, "user_version", n as i64 + 1)
                .expect("version");
        }
        conn.execute_batch(
            "INSERT INTO feeds (id, url) VALUES ('a', 'http://127.0.0.1/a.xml');
             INSERT INTO items (id, identity, link, title, summary, content, authors,
               categories, first_seen, content_hash, lang)
             VALUES (7, 'link:https://x.test/s', 'https://x.test/s', 'Satellite launch',
               'Sohae', '', '', '', 1, 'h1', 'en');
             INSERT INTO item_sources VALUES ('a', 'guid:1', 7, 1, 'h1');
             INSERT INTO hits (indicator_id, item_id, feed_id, score, evidence,
               definition_hash, created_at)
             VALUES ('satellite_launch', 7, 'a', 1.0, '{}', 'd', 1);",
        )
        .expect("old rows");
    }
    let mut store = Store::open(&path).expect("migrated");
    assert_eq!(store.totals().expect("totals"), (1, 1, 1));
    assert_eq!(store.known_items("a").expect("known")["guid:1"].item_id, 7);
    let found: i64 = store
        .conn
        .query_row(
            "SELECT rowid FROM hit_items_search WHERE hit_items_search MATCH 'sohae'",
            [],
            |r| r.get(0),
        )
        .expect("still searchable");
    assert_eq!(found, 7);
    let enforced: bool = store
        .conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .expect("pragma");
    assert!(enforced, "foreign keys are enforced again after migrating");
    assert_eq!(store.integrity_check().expect("check"), "ok");

    // The search index still follows the text of an item with hits.
    store
        .write_poll(&poll(
            "a",
            vec![ItemWrite::Changed {
                item_id: 7,
                item: item("guid:1", Some("https://x.test/s"), "Tonghae"),
                hits: vec![],
            }],
        ))
        .expect("change");
    let found: i64 = store
        .conn
        .query_row(
            "SELECT rowid FROM hit_items_search WHERE hit_items_search MATCH 'tonghae'",
            [],
            |r| r.get(0),
        )
        .expect("the new text is searchable");
    assert_eq!(found, 7);
}

/// The search migration indexes the items that already have hits, in the normaliser's words,
/// and leaves out those without. Found by content, not number: migrations are renumbered
/// when branches merge.
#[test]
fn the_search_migration_indexes_the_hit_items_already_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("watchfloor.db");
    let search = schema::MIGRATIONS
        .iter()
        .position(|sql| sql.contains("CREATE VIRTUAL TABLE hit_items_search"))
        .expect("the search migration");
    {
        let conn = Connection::open(&path).expect("raw open");
        for (n, sql) in schema::MIGRATIONS[..search].iter().enumerate() {
            conn.execute_batch(sql).expect("old migration");
            conn.pragma_update(None, "user_version", n as i64 + 1)
                .expect("version");
        }
        conn.execute_batch(
            "INSERT INTO feeds (id, url) VALUES ('a', 'http://127.0.0.1/a.xml');
             INSERT INTO items (id, identity, link, title, summary, content, authors,
               categories, first_seen, content_hash)
             VALUES (1, 'link:https://x.test/1', 'https://x.test/1', '북한, 군사정찰위성을 발사',
               'North Korea LAUNCHES', '', '', '', 1, 'h1'),
                    (2, 'link:https://x.test/2', 'https://x.test/2', '정찰위성 없음',
               'launches', '', '', '', 1, 'h2');
             INSERT INTO hits (indicator_id, item_id, feed_id, score, evidence,
               definition_hash, created_at)
             VALUES ('sat', 1, 'a', 1.0, '{}', 'd', 1);",
        )
        .expect("old rows");
    }
    let store = Store::open(&path).expect("migrated");
    let found = |text: &str| -> Vec<i64> {
        store
            .hits_page(&HitFilter {
                search: Some(text.into()),
                ..HitFilter::default()
            })
            .expect("search")
            .0
            .iter()
            .map(|h| h.item_id)
            .collect()
    };
    assert_eq!(
        found("정찰위성"),
        [1],
        "inside the compound; item 2 has no hit"
    );
    assert_eq!(found("launche*"), [1]);
    assert_eq!(found("launch"), Vec::<i64>::new());
    let old: i64 = store
        .conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'hit_items_fts%'",
            [],
            |r| r.get(0),
        )
        .expect("schema");
    assert_eq!(old, 0, "the old index and its triggers are gone");
}

/// The bundled SQLite compiled `copy_of`'s lookup again at every new binding while it read
/// `ORDER BY id LIMIT 1`: half of every new item's write. Statements compiled once are what
/// the statement cache is for; this holds the lookup to it over many new items.
#[test]
fn looking_for_an_identical_copy_compiles_its_statement_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open_with_feeds(&dir);
    for round in 0..20 {
        let items = (0..5)
            .map(|i| ItemWrite::New {
                item: item(
                    &format!("k{round}-{i}"),
                    Some(&format!("https://news.example/{round}/{i}")),
                    &format!("Story {round} {i}"),
                ),
                hits: Vec::new(),
            })
            .collect();
        store.write_poll(&poll("a", items)).expect("write");
    }
    let statement = store.conn.prepare_cached(COPY_OF_TEXT).expect("cached");
    assert_eq!(
        statement.get_status(rusqlite::StatementStatus::RePrepare),
        0,
        "the lookup was compiled again for new values"
    );
}

/// Writes one poll of `feed` that lists `item` as new, with no hits.
fn write_new(store: &mut Store, feed: &str, item: ItemRecord) {
    let write = poll(
        feed,
        vec![ItemWrite::New {
            item,
            hits: Vec::new(),
        }],
    );
    store.write_poll(&write).expect("write");
}

/// Of identical copies (one text two feeds published under one link, kept apart by a
/// rewrite), a new listing joins the oldest row.
#[test]
fn a_new_listing_of_a_text_joins_its_oldest_identical_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open_with_feeds(&dir);
    let text = item("k1", Some("https://news.example/story"), "Same words");
    write_new(&mut store, "a", text.clone());
    let first_row = |store: &Store, sql: &str| -> i64 {
        store.conn.query_row(sql, [], |row| row.get(0)).expect(sql)
    };
    let oldest = first_row(&store, "SELECT MIN(id) FROM items");
    // A second row with the very same identity and text, newer than the first.
    store
        .conn
        .execute(
            "INSERT INTO items (identity, title, summary, content, authors, categories,
               first_seen, content_hash)
             SELECT identity, title, summary, content, authors, categories, first_seen,
                    content_hash FROM items WHERE id = ?1",
            [oldest],
        )
        .expect("copy");
    let listing = ItemRecord {
        key: "k2".into(),
        ..text
    };
    write_new(&mut store, "b", listing);
    let joined = first_row(
        &store,
        "SELECT item_id FROM item_sources WHERE feed_id = 'b'",
    );
    assert_eq!(joined, oldest);
}
