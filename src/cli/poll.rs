//! `watchfloor run` and `watchfloor poll`: the daemon, and one round of polls.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::{
    EXIT_FINDINGS, EXIT_OK, GlobalArgs, UsageError, feed_defs, load_indicators, load_settings,
};
use tokio::sync::watch;

use crate::alert::Dispatcher;
use crate::alert::feed_health::{FeedWatch, watch_feeds};
use crate::alert::transport::Transport;
use crate::config::{Feed, Indicators, Settings};
use crate::daemon::Live;
use crate::ops::health::Health;
use crate::ops::notify;
use crate::pipeline::{Context, poll_feed};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct RunArgs {}

#[derive(Debug, Args)]
pub struct PollArgs {
    /// Poll only this feed
    #[arg(long, value_name = "ID")]
    pub feed: Option<String>,
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // Parsing, matching and the database run on the blocking pool; polls in flight are
        // bounded anyway, so a few threads are enough.
        .max_blocking_threads(4)
        .enable_all()
        .build()?)
}

fn context(global: &GlobalArgs) -> anyhow::Result<(Settings, Arc<Context>)> {
    let settings = load_settings(global)?;
    let indicators = load_indicators(global)?;
    let mut store = Store::open(&settings.database)?;
    if let Err(e) = store.checkpoint_in_background() {
        // Polls still work without the thread: SQLite then checkpoints inside the commits.
        tracing::warn!(
            "{}: WAL checkpoints stay in the polls' commits: {}",
            settings.database.display(),
            crate::error::error_chain(&e)
        );
    }
    store.sync_feeds(&feed_defs(&indicators.feeds))?;
    let ctx = Context::new(&settings, Arc::new(indicators), store)?;
    Ok((settings, Arc::new(ctx)))
}

fn describe(settings: &Settings, indicators: &Indicators) {
    let enabled = indicators.feeds.iter().filter(|f| f.enabled).count();
    info!(
        "watchfloor {}: {} indicators, {} feeds ({} enabled), database {}",
        env!("CARGO_PKG_VERSION"),
        indicators.indicators.len(),
        indicators.feeds.len(),
        enabled,
        settings.database.display()
    );
    if enabled == 0 {
        tracing::warn!(
            "no enabled feeds in {}: nothing to poll",
            indicators.path.display()
        );
    }
}

/// How long the dispatcher may take to finish the message in flight once polls have
/// stopped; past it the message is abandoned unacknowledged and resent on the next start,
/// with the same Message-ID.
const MAIL_GRACE: Duration = Duration::from_millis(1500);

fn dispatcher(settings: &Settings, ctx: &Context) -> anyhow::Result<Dispatcher> {
    let transport = Transport::new(&settings.mail)?;
    Ok(Dispatcher::new(
        ctx.store.clone(),
        transport,
        settings.mail.clone(),
        ctx.indicators.clone(),
    ))
}

fn describe_mail(settings: &Settings) {
    let mail = &settings.mail;
    info!(
        "alerts go to {} by default ({}, grouped within {}s, at most {} messages an hour each); \
         digest on '{}'",
        if mail.to.is_empty() {
            "nobody".to_owned()
        } else {
            mail.to.join(", ")
        },
        mail.mode.as_str(),
        mail.group_wait.as_secs(),
        mail.max_per_hour,
        mail.digest.as_str()
    );
}

pub fn run_daemon(global: &GlobalArgs, _args: &RunArgs) -> anyhow::Result<u8> {
    let (settings, ctx) = context(global)?;
    describe(&settings, &ctx.indicators);
    describe_mail(&settings);
    let dispatcher = Arc::new(dispatcher(&settings, &ctx)?);
    info!("mail: {}", dispatcher.describe_transport());
    let feeds = ctx.indicators.feeds.clone();
    let store = ctx.store.clone();
    let live = Arc::new(Live::new(ctx));
    let health = Arc::new(Health::default());
    let global = global.clone();
    let items_days = settings.retention.items_days;
    let feed_watch = FeedWatch::new(
        store.clone(),
        Transport::new(&settings.mail)?,
        &settings,
        &feeds,
    );
    runtime()?.block_on(async move {
        let listener = match settings.http_listen {
            Some(address) => Some(crate::ops::http::bind(address).await.map_err(|e| {
                anyhow::Error::new(UsageError(format!(
                    "http.listen: cannot listen on {address}: {e} (set http.listen or \
                     WATCHFLOOR_LISTEN to another address, or 'off')"
                )))
            })?),
            None => None,
        };
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        let (feeds_out, feeds_in) = watch::channel(feeds);
        let (watches_out, watches_in) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(reload_on_hangup(
            global,
            settings.clone(),
            Reloadable {
                live: live.clone(),
                dispatcher: dispatcher.clone(),
                feeds: feeds_out,
                feed_watch: watches_out,
            },
            health.clone(),
        ));
        if let Some(listener) = listener {
            info!(
                "http: /healthz and /metrics on http://{}",
                listener.local_addr()?
            );
            let rules_of = live.clone();
            let shared = Arc::new(crate::ops::http::Shared {
                health: health.clone(),
                store: store.clone(),
                metrics: crate::ops::metrics::install(),
                rules: Some(Arc::new(move || rules_of.current().indicators.clone())),
            });
            info!(
                "web: the hit log on http://{}/hits ({})",
                listener.local_addr()?,
                if settings.web_auth.is_configured() {
                    "login required; triage enabled"
                } else {
                    "open, read-only"
                }
            );
            let rules_of = live.clone();
            let pages = crate::web::router(Arc::new(crate::web::WebState::new(
                settings.database.clone(),
                store.clone(),
                Arc::new(move || rules_of.current().indicators.clone()),
                settings.web_auth.clone(),
                settings.mail.hit_log_base.clone(),
            )));
            tokio::spawn(crate::ops::http::serve(
                listener,
                shared,
                Some(pages),
                shutdown.clone(),
            ));
        }
        // Housekeeping: nightly retention; each batch is one transaction, so it needs no grace.
        tokio::spawn(crate::housekeeping::run_housekeeping(
            store.clone(),
            items_days,
            shutdown.clone(),
        ));
        let mail_stop = shutdown.clone();
        let mail = dispatcher.clone();
        let delivering = tokio::spawn(async move { mail.run(mail_stop).await });
        tokio::spawn(notify::watchdog(
            health.clone(),
            store.clone(),
            shutdown.clone(),
        ));
        // The database is open and migrated, the configuration valid, the listener bound.
        let watching = tokio::spawn(watch_feeds(feed_watch, watches_in, shutdown.clone()));
        notify::ready();
        crate::daemon::run(live, feeds_in, &health.heartbeat, shutdown).await;
        notify::stopping();
        // A notice cut off mid-send is not recorded, so the next start sends it again.
        let _ = tokio::time::timeout(MAIL_GRACE, watching).await;
        if tokio::time::timeout(MAIL_GRACE, delivering).await.is_err() {
            tracing::warn!("abandoning the message in flight: it is sent again at the next start");
        }
        anyhow::Ok(())
    })?;
    Ok(EXIT_OK)
}

/// Reloads the rules and settings on SIGHUP. A file that does not load leaves the running
/// configuration in force; the error is logged with its place and shown by `/healthz`.
async fn reload_on_hangup(
    global: GlobalArgs,
    started_with: Settings,
    targets: Reloadable,
    health: Arc<Health>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot listen for SIGHUP: {e}");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        info!(
            "SIGHUP: reloading {} and the settings",
            super::indicators_path(&global).display()
        );
        notify::reloading();
        let outcome = reload(&global, &started_with, &targets);
        crate::ops::metrics::record_reload(outcome.is_ok());
        match &outcome {
            Ok(summary) => info!("reloaded: {summary}"),
            Err(e) => {
                tracing::error!("reload failed, the previous configuration stays in force: {e:#}")
            }
        }
        health.reloaded(
            outcome.map(|_| ()).map_err(|e| format!("{e:#}")),
            chrono::Utc::now(),
        );
        notify::reloaded();
    }
}

/// What a reload replaces: every part of the daemon that holds configuration.
struct Reloadable {
    live: Arc<Live>,
    dispatcher: Arc<Dispatcher>,
    feeds: watch::Sender<Vec<Feed>>,
    feed_watch: tokio::sync::mpsc::UnboundedSender<FeedWatch>,
}

fn reload(
    global: &GlobalArgs,
    started_with: &Settings,
    targets: &Reloadable,
) -> anyhow::Result<String> {
    let Reloadable {
        live,
        dispatcher,
        feeds,
        feed_watch,
    } = targets;
    let settings = load_settings(global)?;
    let indicators = Arc::new(load_indicators(global)?);
    let transport = Transport::new(&settings.mail)?;
    let watch = FeedWatch::new(
        live.current().store.clone(),
        Transport::new(&settings.mail)?,
        &settings,
        &indicators.feeds,
    );
    for (what, changed) in [
        ("database", settings.database != started_with.database),
        (
            "http.listen",
            settings.http_listen != started_with.http_listen,
        ),
        (
            "the hit log's access (web.token_file, web.basic_auth_file)",
            settings.web_auth != started_with.web_auth,
        ),
    ] {
        if changed {
            tracing::warn!("{what} changed: it takes effect at the next start");
        }
    }
    let store = live.current().store.clone();
    let ctx = Context::sharing(&settings, indicators.clone(), store.clone())?;
    // The last fallible step, and the only one that writes: a reload that fails before it
    // leaves the feeds table (active flags, validators, backoff) as it was.
    crate::store::lock(&store).sync_feeds(&feed_defs(&indicators.feeds))?;
    let summary = format!(
        "{} indicators, {} feeds ({} enabled); {}",
        indicators.indicators.len(),
        indicators.feeds.len(),
        indicators.feeds.iter().filter(|f| f.enabled).count(),
        transport.describe()
    );
    live.replace(Arc::new(ctx));
    dispatcher.reconfigure(transport, settings.mail.clone(), indicators.clone());
    let _ = feeds.send(indicators.feeds.clone());
    let _ = feed_watch.send(watch);
    Ok(summary)
}

/// Cancels `shutdown` on SIGINT or SIGTERM.
async fn stop_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot listen for SIGTERM: {e}");
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!("SIGINT: stopping"),
        _ = terminate.recv() => info!("SIGTERM: stopping"),
    }
    shutdown.cancel();
}

pub fn poll_once(global: &GlobalArgs, args: &PollArgs) -> anyhow::Result<u8> {
    let (settings, ctx) = context(global)?;
    let dispatcher = dispatcher(&settings, &ctx)?;
    let feeds: Vec<Feed> = match &args.feed {
        Some(id) => {
            let Some(feed) = ctx.indicators.feeds.iter().find(|f| &f.id == id) else {
                let ids: Vec<&str> = ctx.indicators.feeds.iter().map(|f| f.id.as_str()).collect();
                return Err(
                    UsageError(format!("no feed '{id}' (feeds: {})", ids.join(", "))).into(),
                );
            };
            vec![feed.clone()]
        }
        None => ctx
            .indicators
            .feeds
            .iter()
            .filter(|f| f.enabled)
            .cloned()
            .collect(),
    };
    let (reports, delivery) = runtime()?.block_on(async {
        let mut polls = JoinSet::new();
        for feed in feeds {
            let state = ctx
                .store
                .lock()
                .ok()
                .and_then(|store| store.feed_state(&feed.id).ok().flatten());
            polls.spawn(poll_feed(ctx.clone(), feed, state));
        }
        let mut reports = Vec::new();
        while let Some(joined) = polls.join_next().await {
            if let Ok(report) = joined {
                reports.push(report);
            }
        }
        // Run from cron or a timer, there is no later round: send what is due now.
        let delivery = dispatcher.round(chrono::Utc::now(), true, None).await;
        (reports, delivery)
    });
    let mut reports = reports;
    reports.sort_by(|a, b| a.feed_id.cmp(&b.feed_id));
    let (mut failed, mut new_items, mut hits) = (0, 0, 0);
    for report in &reports {
        match &report.result {
            Ok(success) if success.not_modified => {
                println!("ok   {}: not modified", report.feed_id)
            }
            Ok(success) => {
                let c = &success.counts;
                new_items += c.new_items;
                hits += c.new_hits;
                println!(
                    "ok   {}: {} items, {} new, {} changed, {} also in other feeds, {} hits",
                    report.feed_id,
                    success.items,
                    c.new_items,
                    c.changed_items,
                    c.new_sources,
                    c.new_hits
                );
                if let Some(warning) = &success.warning {
                    println!("     WARN {warning}");
                }
                for hit in &success.hits {
                    println!("     HIT {}: {}", hit.indicator_id, hit.title);
                }
            }
            Err(error) => {
                failed += 1;
                println!("FAIL {}: {error}", report.feed_id);
            }
        }
    }
    println!(
        "{} feeds: {} ok, {} failed; {} new items, {} hits",
        reports.len(),
        reports.len() - failed,
        failed,
        new_items,
        hits
    );
    match delivery {
        Ok(d) => {
            for error in &d.errors {
                println!("MAIL {error}");
            }
            println!(
                "alerts: {} messages sent, {} to retry, {} failed ({})",
                d.sent,
                d.retrying,
                d.failed,
                dispatcher.describe_transport()
            );
        }
        Err(e) => println!("alerts: outbox error: {}", crate::error::error_chain(&e)),
    }
    Ok(if failed == 0 { EXIT_OK } else { EXIT_FINDINGS })
}
