//! The daemon as `App` assembles it, in the test's process: built, run, reloaded and stopped
//! through the calls the command line makes, against a real feed server on 127.0.0.1 and a
//! real SQLite file.

mod support;

use std::time::{Duration, Instant};

use support::app::{build_app, feeds, settings, shipped_rules, spawn_app};
use support::cli::rss;
use support::feed_server::{FeedServer, Response};
use watchfloor::app::AppError;
use watchfloor::config::Feed;

const SATELLITE: &str = "North Korea launches reconnaissance satellite with Russian help";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_app_polls_answers_healthz_and_stops_when_told() {
    let server = FeedServer::empty().await;
    server.set(
        "/wire.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[("a1", SATELLITE, "https://news.test/1")]),
        ),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [(
        "WATCHFLOOR_MAIL_DIR",
        dir.path().join("mail").display().to_string(),
    )];
    let wire = Feed::new("wire", &server.url("/wire.xml"));
    let spawned = spawn_app(settings(dir.path(), &env), shipped_rules(), vec![wire]);

    let deadline = Instant::now() + Duration::from_secs(30);
    while spawned
        .app
        .db()
        .read(|store| store.hit_count())
        .await
        .expect("hits")
        == 0
    {
        assert!(Instant::now() < deadline, "the feed's hit never came");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let health = reqwest::get(format!("http://{}/healthz", spawned.addr))
        .await
        .expect("the listener answers");
    assert_eq!(health.status().as_u16(), 200);

    tokio::time::timeout(Duration::from_secs(10), spawned.stop())
        .await
        .expect("stopped within 10 s");
}

/// Regression (issue 14, bug 4): a reload wrote the feeds table (deactivating feeds, resetting
/// validators and backoff) before a step that could still fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_fails_changes_nothing_and_a_good_one_changes_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [(
        "WATCHFLOOR_MAIL_DIR",
        dir.path().join("mail").display().to_string(),
    )];
    let started = settings(dir.path(), &env);
    let app = build_app(started.clone(), shipped_rules(), feeds(&["wire", "agency"]));
    let states = || async {
        app.db()
            .read(|store| store.feed_states())
            .await
            .expect("feed states")
    };
    let before = states().await;

    // New rules drop a feed and move the other; the new settings' mail folder cannot be made
    // (a file stands where a folder of it would go).
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "not a folder").expect("write");
    let mut broken = started.clone();
    broken.mail.dir = blocker.join("mail");
    let mut moved = shipped_rules();
    moved.feeds = vec![Feed::new("wire", "http://127.0.0.1/moved.xml")];
    let failed = app.reload(broken, moved).await;
    assert!(matches!(failed, Err(AppError::Transport(_))), "{failed:?}");
    assert_eq!(states().await, before, "the feeds table is as it was");
    assert_eq!(
        app.context().indicators.feeds.len(),
        2,
        "the old rules stay"
    );

    let mut moved = shipped_rules();
    moved.feeds = vec![Feed::new("wire", "http://127.0.0.1/moved.xml")];
    app.reload(started, moved).await.expect("a good reload");
    let after = states().await;
    let wire = after.iter().find(|f| f.id == "wire").expect("wire");
    let agency = after.iter().find(|f| f.id == "agency").expect("agency");
    assert_eq!(wire.url, "http://127.0.0.1/moved.xml");
    assert!(wire.active && !agency.active, "{after:?}");
    assert_eq!(app.context().indicators.feeds.len(), 1);
}
