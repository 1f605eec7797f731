//! The daemon as the binary builds it ([`App::build`]), in the test's own process: a database
//! in the test's folder, the rules given, feeds at `http://127.0.0.1/<id>.xml`. Tests that
//! drive the steps themselves (ingest a document, run a dispatcher round at a chosen time)
//! use [`build_app`]; tests that need the running daemon (its listener on a port of its own,
//! its tasks) use [`spawn_app`].

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use watchfloor::app::App;
use watchfloor::config::{Feed, Indicators, Settings};
use watchfloor::fetch::{FetchedBody, Validators};
use watchfloor::pipeline::{PollSuccess, ingest};

/// The shipped rules.
pub fn shipped_rules() -> Indicators {
    Indicators::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("indicators.yaml"))
        .expect("the shipped rules load")
}

/// Feeds by id, each at `http://127.0.0.1/<id>.xml` (nothing polls them: documents are
/// ingested as if fetched from there).
pub fn feeds(ids: &[&str]) -> Vec<Feed> {
    ids.iter()
        .map(|id| Feed::new(id, &format!("http://127.0.0.1/{id}.xml")))
        .collect()
}

/// Settings as the daemon reads them, from these environment variables only, with the
/// database `watchfloor.db` in `dir` and no listener.
pub fn settings(dir: &Path, env: &[(&str, String)]) -> Settings {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let settings = Settings::load(None, Some(&dir.join("watchfloor.db")), &|name| {
        env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
    .expect("valid settings");
    Settings {
        http_listen: None,
        ..settings
    }
}

/// Builds the daemon on `settings` with `rules` and these `feeds` in place of the rules' own.
/// Builds on a thread of its own (opening the database blocks), so it serves sync and async
/// tests alike.
pub fn build_app(settings: Settings, mut rules: Indicators, feeds: Vec<Feed>) -> App {
    rules.feeds = feeds;
    std::thread::scope(|scope| {
        scope
            .spawn(|| App::build(settings, rules).expect("the daemon builds"))
            .join()
            .expect("built")
    })
}

/// A running daemon: its listener on a port the system chose, stopped when dropped.
pub struct Spawned {
    pub app: Arc<App>,
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    running: Option<tokio::task::JoinHandle<()>>,
}

/// Builds the daemon as [`build_app`] does, with its listener on 127.0.0.1 port 0, and runs
/// it on the current runtime.
pub fn spawn_app(settings: Settings, rules: Indicators, feeds: Vec<Feed>) -> Spawned {
    let settings = Settings {
        http_listen: Some(([127, 0, 0, 1], 0).into()),
        ..settings
    };
    let app = Arc::new(build_app(settings, rules, feeds));
    let addr = app.local_addr().expect("the listener is bound");
    let shutdown = CancellationToken::new();
    let (running, stop) = (app.clone(), shutdown.clone());
    let task = tokio::spawn(async move {
        running.run(stop).await.expect("the daemon runs");
    });
    Spawned {
        app,
        addr,
        shutdown,
        running: Some(task),
    }
}

impl Spawned {
    /// Stops the daemon and waits for it, as SIGTERM does.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.running.take() {
            task.await.expect("the daemon stopped");
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Ingests an RSS document of `feed` through the real pipeline (parse, match, store, alerts
/// queued) as if fetched from `http://127.0.0.1/<feed>.xml` at `now`; panics with the poll's
/// error if it fails. Runs on a thread of its own, so it serves sync and async tests alike.
pub fn ingest_rss(app: &App, feed: &str, rss: String, now: DateTime<Utc>) -> PollSuccess {
    let ctx = app.context();
    let fetched = FetchedBody {
        body: rss.into_bytes(),
        content_type: Some("application/rss+xml".into()),
        final_url: format!("http://127.0.0.1/{feed}.xml"),
        validators: Validators::default(),
        max_age: None,
        large: None,
    };
    let feed = Feed::new(feed, &fetched.final_url);
    let report = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
                    .block_on(ingest(&ctx, &feed, fetched, 0, now))
            })
            .join()
            .expect("ingested")
    });
    match report.result {
        Ok(success) => success,
        Err(error) => panic!("ingesting {}: {error}", feed.id),
    }
}
