//! Backups and retention, run as operators run them: the real binary, real SQLite files in a
//! temporary directory, feeds served by a test server on 127.0.0.1.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use support::cli::{args, indicators_with_feeds, rss, stdout, watchfloor};
use support::feed_server::{FeedServer, Response};
use watchfloor::store::Store;

const SATELLITE: &str = "North Korea launches reconnaissance satellite with Russian help";

fn many_items(prefix: &str, count: usize) -> String {
    let items: Vec<(String, String, String)> = (0..count)
        .map(|i| {
            (
                format!("{prefix}{i}"),
                format!("Market report {prefix} number {i}"),
                format!("https://news.test/{prefix}/{i}"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(g, t, l)| (g.as_str(), t.as_str(), l.as_str()))
        .collect();
    rss(&refs)
}

fn eml_count(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("mail"))
        .map(|entries| entries.filter(|e| e.is_ok()).count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_the_daemon_polls_is_sound_and_holds_the_items() {
    let server = FeedServer::empty().await;
    server.set(
        "/wire.xml",
        Response::ok("application/rss+xml", many_items("w", 300)),
    );
    // Feeds that answer while the backups run, so the daemon writes during the copies.
    let mut feeds = vec![("wire".to_owned(), server.url("/wire.xml"))];
    for i in 0..6 {
        let path = format!("/late{i}.xml");
        server.set(
            &path,
            Response::ok("application/rss+xml", many_items(&format!("l{i}-"), 200))
                .delay(Duration::from_millis(300 * (i + 1))),
        );
        feeds.push((format!("late{i}"), server.url(&path)));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let feed_refs: Vec<(&str, String)> =
        feeds.iter().map(|(i, u)| (i.as_str(), u.clone())).collect();
    let indicators = indicators_with_feeds(dir.path(), &feed_refs);
    let db = dir.path().join("watchfloor.db");
    let child = Command::new(env!("CARGO_BIN_EXE_watchfloor"))
        .args(args(&indicators, &db, &["run"]))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("daemon starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "the daemon never polled");
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(store) = Store::open_read_only(&db)
            && store
                .feed_state("wire")
                .ok()
                .flatten()
                .is_some_and(|s| s.last_success.is_some())
        {
            break;
        }
    }

    let mut copies = Vec::new();
    for n in 0..6 {
        let copy = dir.path().join(format!("backup-{n}.db"));
        let out = watchfloor(
            args(&indicators, &db, &["backup", &copy.display().to_string()]),
            vec![],
        )
        .await;
        let printed = stdout(&out);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{printed}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(printed.contains("integrity_check: ok"), "{printed}");
        assert!(printed.contains("schema version "), "{printed}");
        assert!(printed.contains(" bytes ("), "{printed}");
        copies.push(copy);
    }

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    let exit = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("joined")
        .expect("waited");
    let log = String::from_utf8_lossy(&exit.stderr);
    assert_eq!(exit.status.code(), Some(0), "{log}");
    assert!(
        log.contains("retention:"),
        "housekeeping ran at start: {log}"
    );

    let mut seen_counts = Vec::new();
    for copy in &copies {
        let store = Store::open_read_only(copy).expect("a backup opens");
        assert_eq!(store.integrity_check().expect("check"), "ok");
        let (items, sources, _) = store.totals().expect("totals");
        assert!(items >= 300, "{}: {items} items", copy.display());
        // Each poll commits whole: a copy holds every feed's items or none of them.
        assert_eq!(items % 100, 0, "{}: {items} items", copy.display());
        assert_eq!(sources, items);
        seen_counts.push(items);
    }
    assert!(
        seen_counts.windows(2).all(|w| w[0] <= w[1]),
        "later copies hold no fewer items: {seen_counts:?}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial") || n.starts_with("backup-") && n.contains("-wal"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_refuses_an_existing_target_unless_forced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let indicators = indicators_with_feeds(dir.path(), &[]);
    let db = dir.path().join("watchfloor.db");
    drop(Store::open(&db).expect("create"));
    let target = dir.path().join("backup.db");
    std::fs::write(&target, "precious").expect("write");
    let target_arg = target.display().to_string();

    let refused = watchfloor(args(&indicators, &db, &["backup", &target_arg]), vec![]).await;
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(err.contains("already exists; pass --force"), "{err}");
    assert_eq!(std::fs::read(&target).expect("read"), b"precious");

    let forced = watchfloor(
        args(&indicators, &db, &["backup", "--force", &target_arg]),
        vec![],
    )
    .await;
    assert_eq!(
        forced.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    let store = Store::open_read_only(&target).expect("now a database");
    assert_eq!(store.integrity_check().expect("check"), "ok");

    let nowhere = dir
        .path()
        .join("no/such/dir/backup.db")
        .display()
        .to_string();
    let bad = watchfloor(args(&indicators, &db, &["backup", &nowhere]), vec![]).await;
    assert_eq!(bad.status.code(), Some(2));
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_never_replaces_the_live_database_a_link_a_folder_or_a_device() {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::FileTypeExt;

    let dir = tempfile::tempdir().expect("tempdir");
    let indicators = indicators_with_feeds(dir.path(), &[]);
    let db = dir.path().join("watchfloor.db");
    // Held open, as the daemon holds it: the write-ahead log and its index exist.
    let live = Store::open(&db).expect("create");
    let wal = dir.path().join("watchfloor.db-wal");
    assert!(wal.exists(), "the live database has its WAL");
    let linked = dir.path().join("hard-link.db");
    std::fs::hard_link(&db, &linked).expect("hard link");
    let symlink = dir.path().join("symlink.db");
    std::os::unix::fs::symlink(&db, &symlink).expect("symlink");
    let folder = dir.path().join("folder.db");
    std::fs::create_dir(&folder).expect("folder");
    let fifo = dir.path().join("pipe.db");
    let fifo_name = std::ffi::CString::new(fifo.as_os_str().as_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path, and a mode.
    assert_eq!(
        unsafe { libc::mkfifo(fifo_name.as_ptr(), 0o600) },
        0,
        "mkfifo"
    );

    let cases: [(&Path, &str); 6] = [
        (&db, "is the live database"),
        (&wal, "is the live database"),
        (&linked, "is the live database"),
        (&symlink, "a symbolic link"),
        (&folder, "a directory"),
        (&fifo, "not a regular file"),
    ];
    for (target, want) in cases {
        let target_arg = target.display().to_string();
        let refused = watchfloor(
            args(&indicators, &db, &["backup", "--force", &target_arg]),
            vec![],
        )
        .await;
        let err = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{target_arg}: {err}");
        assert!(err.contains(want), "{target_arg}: want {want:?} in {err}");
    }
    assert_eq!(live.integrity_check().expect("check"), "ok");
    assert!(
        std::fs::symlink_metadata(&symlink)
            .expect("link")
            .file_type()
            .is_symlink()
    );
    assert!(folder.is_dir());
    assert!(
        std::fs::metadata(&fifo)
            .expect("pipe")
            .file_type()
            .is_fifo()
    );
    drop(live);
    assert_eq!(
        Store::open_read_only(&db)
            .expect("still a database")
            .integrity_check()
            .expect("check"),
        "ok"
    );
    // Nothing staged is left behind.
    let staged: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(staged.is_empty(), "{staged:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruned_items_a_feed_still_lists_are_neither_new_again_nor_alerted_again() {
    let server = FeedServer::empty().await;
    let listing = |weather: &str| {
        rss(&[
            ("a1", SATELLITE, "https://news.test/sat"),
            ("a2", weather, "https://news.test/weather"),
        ])
    };
    server.set(
        "/wire.xml",
        Response::ok("application/rss+xml", listing("Weather: sunny in Seoul")),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let indicators = indicators_with_feeds(dir.path(), &[("wire", server.url("/wire.xml"))]);
    let db = dir.path().join("watchfloor.db");

    let first = watchfloor(args(&indicators, &db, &["poll"]), vec![]).await;
    assert!(
        stdout(&first).contains("ok   wire: 2 items, 2 new"),
        "{}",
        stdout(&first)
    );
    let mails = eml_count(dir.path());
    assert_eq!(mails, 1, "the hit alerted once");

    // Both items become older than the retention: one has a hit, one has none.
    let now = Utc::now();
    let mut store = Store::open(&db).expect("open");
    let report = store.prune(now + TimeDelta::hours(1), now).expect("prune");
    assert_eq!(
        (report.items_deleted, report.items_trimmed),
        (1, 1),
        "{report:?}"
    );
    assert_eq!(store.totals().expect("totals"), (1, 1, 1));
    let alert = &store.alerts(None, 10).expect("alerts")[0];
    let message = alert.message.as_ref().expect("sent in a message");
    let shown = &store.message_alerts(message.id).expect("message")[0];
    assert_eq!(shown.item_title, SATELLITE, "the outbox still reads");
    assert_eq!(shown.link.as_deref(), Some("https://news.test/sat"));
    assert!(shown.evidence.contains("satellite"), "{}", shown.evidence);
    drop(store);

    // The feed still lists both, and the deleted one even changed its text.
    server.set(
        "/wire.xml",
        Response::ok("application/rss+xml", listing("Weather: rain in Seoul")),
    );
    let second = watchfloor(args(&indicators, &db, &["poll"]), vec![]).await;
    let out = stdout(&second);
    assert!(
        out.contains("ok   wire: 2 items, 0 new, 0 changed"),
        "{out}"
    );
    assert!(!out.contains("HIT"), "{out}");
    assert_eq!(eml_count(dir.path()), mails, "no second alert");

    let mut store = Store::open(&db).expect("open");
    assert_eq!(store.totals().expect("totals"), (1, 1, 1));
    let again = store
        .prune(now + TimeDelta::hours(1), Utc::now())
        .expect("prune again");
    assert!(again.is_empty(), "idempotent: {again:?}");
    assert_eq!(store.integrity_check().expect("check"), "ok");
}
