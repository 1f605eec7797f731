//! Attacks from issue 15, each reproduced against the real `watchfloor run` (feeds from a
//! server on 127.0.0.1, a real SQLite file, alerts as `.eml` files, the hit log on the
//! daemon's own listener) with the safe outcome asserted.

#[path = "support/daemon.rs"]
mod daemon;
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use daemon::{Daemon, get};
use support::cli::{indicators_with_feeds, rss};
use support::feed_server::{FeedServer, Response};
use watchfloor::matcher::Evidence;
use watchfloor::store::{HitFilter, Store};

const LAUNCH: &str = "North Korea launches reconnaissance satellite with Russian help";
const INNOCUOUS: &str = "Weather: sunny in Seoul";
const FAKE: &str = "FAKE: launch failed";
/// The trusted outlet's article, which the hostile feed lists as its own.
const TRUSTED_LINK: &str = "https://trusted.test/2026/12/launch";

/// The shipped rules with both feeds polled every two seconds.
fn write_indicators(dir: &Path, feeds: &FeedServer) -> PathBuf {
    let path = indicators_with_feeds(
        dir,
        &[
            ("hostile", feeds.url("/hostile.xml")),
            ("trusted", feeds.url("/trusted.xml")),
        ],
    );
    let text = std::fs::read_to_string(&path).expect("written");
    let fast = text.replace(".xml'}", ".xml', schedule: '*/2 * * * * *'}");
    assert_ne!(text, fast, "the feed lines are as expected:\n{text}");
    std::fs::write(&path, fast).expect("write indicators");
    path
}

/// Serves `items` at `path`, in a channel titled `title`, so that each feed's name shows.
fn serve(feeds: &FeedServer, path: &str, title: &str, items: &[(&str, &str, &str)]) {
    let body = rss(items).replacen("<title>Wire</title>", &format!("<title>{title}</title>"), 1);
    feeds.set(path, Response::ok("application/rss+xml", body));
}

/// Polls the database (read-only, as reviewers do) until `done` gives a value.
fn wait_until<T>(
    db: &Path,
    daemon: &Daemon,
    what: &str,
    mut done: impl FnMut(&Store) -> Option<T>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = Store::open_read_only(db).ok().as_ref().and_then(&mut done) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what} never came:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn mail_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| decoded(&std::fs::read(p).expect("an .eml file")))
        .collect()
}

/// A message's subject and both bodies, decoded from their transfer encodings.
fn decoded(raw: &[u8]) -> String {
    let message = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a parsable message");
    format!(
        "Subject: {}\n\n{}\n\n{}",
        message.subject().unwrap_or_default(),
        message.body_text(0).unwrap_or_default(),
        message.body_html(0).unwrap_or_default()
    )
}

/// Issue 15, item 1. Items were keyed on the canonical link, and the first feed to list a link
/// owned the stored row; its later "changed" copy rewrote that row. A hostile feed listed a
/// trusted outlet's link first with innocuous text, the trusted feed's launch story became a
/// hit on that row, and the hostile feed's next copy ("FAKE: launch failed") then stood on
/// the trusted feed's hit, its page and its alert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_feed_listing_a_trusted_link_first_never_rewrites_the_trusted_hit() {
    let feeds = FeedServer::empty().await;
    serve(
        &feeds,
        "/hostile.xml",
        "Hostile Wire",
        &[("h1", INNOCUOUS, TRUSTED_LINK)],
    );
    serve(&feeds, "/trusted.xml", "Trusted Outlet", &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let indicators = write_indicators(dir.path(), &feeds);
    let db = dir.path().join("watchfloor.db");
    let mail = dir.path().join("mail");
    let daemon = Daemon::start(
        &indicators,
        &db,
        &[
            ("WATCHFLOOR_MAIL_TO", "analyst@example.org".to_owned()),
            ("WATCHFLOOR_MAIL_DIR", mail.display().to_string()),
            // The alert is rendered after the hostile change is stored, as a message
            // waiting for its group (or a retry) would be.
            ("WATCHFLOOR_MAIL_GROUP_WAIT", "15".to_owned()),
        ],
    );
    let base = daemon.http_base();

    // 1. The hostile feed is first to list the trusted outlet's link.
    let first_copy = wait_until(&db, &daemon, "the hostile copy", |store| {
        store.known_items("hostile").ok()?.remove("guid:h1")
    });

    // 2. The trusted feed publishes the real story at that link: a hit.
    serve(
        &feeds,
        "/trusted.xml",
        "Trusted Outlet",
        &[("t1", LAUNCH, TRUSTED_LINK)],
    );
    let hit_id = wait_until(&db, &daemon, "the trusted feed's hit", |store| {
        let (hits, _) = store.hits_page(&HitFilter::default()).ok()?;
        hits.into_iter()
            .find(|h| h.feed_id == "trusted")
            .map(|h| h.hit_id)
    });

    // 3. The hostile feed changes its copy of the link.
    serve(
        &feeds,
        "/hostile.xml",
        "Hostile Wire",
        &[("h1", FAKE, TRUSTED_LINK)],
    );
    let changed = wait_until(&db, &daemon, "the hostile change", |store| {
        let known = store.known_items("hostile").ok()?.remove("guid:h1")?;
        (known.content_hash != first_copy.content_hash).then_some(known)
    });
    assert!(
        mail_files(&mail).is_empty(),
        "the alert must be rendered after the hostile change for this test to say anything"
    );

    // The trusted hit, its item and its evidence are the trusted feed's text.
    let store = Store::open_read_only(&db).expect("open");
    let detail = store.hit_detail(hit_id).expect("read").expect("the hit");
    assert_eq!(detail.row.feed_id, "trusted");
    assert_eq!(detail.row.title, LAUNCH);
    assert_eq!(detail.summary, LAUNCH);
    assert_ne!(
        changed.item_id, detail.row.item_id,
        "the hostile copy is an item of its own"
    );
    assert_eq!(
        store.known_items("trusted").expect("known")["guid:t1"].item_id,
        detail.row.item_id
    );
    let evidence = Evidence::from_stored(&detail.row.evidence).expect("evidence");
    assert!(!evidence.terms.is_empty());
    for term in &evidence.terms {
        let field = match term.field.name() {
            "title" => &detail.row.title,
            "summary" => &detail.summary,
            other => panic!("a term in {other}: {term:?}"),
        };
        assert_eq!(field.get(term.start..term.end), Some(term.text.as_str()));
    }
    let snippet = evidence.snippet.expect("a snippet");
    assert!(
        LAUNCH.contains(snippet.text.trim_matches('…')),
        "{snippet:?}"
    );
    assert_eq!(
        detail.sources.first().map(|s| s.feed_id.as_str()),
        Some("trusted")
    );
    assert!(
        detail.sources.iter().all(|s| s.feed_id != "hostile"),
        "{:?}",
        detail.sources
    );
    drop(store);

    // The hit page says the same, and names the trusted feed.
    let (status, page) = get(&format!("{base}/hits/{hit_id}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(LAUNCH), "{page}");
    assert!(
        !page.contains("FAKE") && !page.contains("Weather"),
        "{page}"
    );
    let found_through = page
        .split("id=\"found-through\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the hit page names the feed the hit came through");
    assert_eq!(found_through, "Trusted Outlet (trusted)");

    // The alert, rendered now, too.
    let deadline = Instant::now() + Duration::from_secs(60);
    let messages = loop {
        let messages = mail_files(&mail);
        if !messages.is_empty() {
            break messages;
        }
        assert!(Instant::now() < deadline, "no alert:\n{}", daemon.log());
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert!(
        message.contains("Source: Trusted Outlet"),
        "the alert names the trusted feed:\n{message}"
    );
    assert!(message.contains("reconnaissance satellite"), "{message}");
    assert!(
        !message.contains("FAKE") && !message.contains("Hostile"),
        "{message}"
    );

    // The hostile feed's copy stands as its own, and said nothing that hits.
    let store = Store::open_read_only(&db).expect("open");
    assert_eq!(
        store.totals().expect("totals"),
        (2, 2, 1),
        "items, sources, hits"
    );
    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "{log}");
}
