//! `watchfloor run` and `watchfloor poll`: the daemon, and one round of polls. Both build the
//! daemon with [`App`]; this module loads the files, wires the signals and prints.

use std::sync::Arc;

use clap::Args;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::{EXIT_FINDINGS, EXIT_OK, GlobalArgs, UsageError, load_indicators, load_settings};

use crate::app::App;
use crate::config::{Feed, Indicators, Settings};

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
        // Parsing and matching run on the blocking pool (the database has threads of its
        // own); polls in flight are bounded anyway, so a few threads are enough.
        .max_blocking_threads(4)
        .enable_all()
        .build()?)
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
    let settings = load_settings(global)?;
    let indicators = load_indicators(global)?;
    describe(&settings, &indicators);
    describe_mail(&settings);
    // Before anything opens a descriptor in earnest; the listener's cap fits under the result.
    match crate::ops::limits::raise_descriptor_limit() {
        Ok((before, after)) if after > before => {
            info!("file descriptors: soft limit raised from {before} to {after} (the hard limit)")
        }
        Ok((_, after)) => info!("file descriptors: soft limit {after}, the hard limit"),
        Err(e) => tracing::warn!("file descriptors: cannot raise the soft limit: {e}"),
    }
    let reload_from = global.clone();
    let app = App::build(settings, indicators)?.reload_on_hangup(
        super::indicators_path(global).display().to_string(),
        Arc::new(move || Ok((load_settings(&reload_from)?, load_indicators(&reload_from)?))),
    );
    info!("mail: {}", app.describe_transport());
    let runtime = runtime()?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        app.run(shutdown).await
    })?;
    // Polls abandoned after their grace period may still be parsing on the blocking pool; the
    // process does not wait for them (nothing they would write is written any more).
    runtime.shutdown_background();
    // The last handle on the database: its threads finish and its writer checkpoints.
    drop(app);
    Ok(EXIT_OK)
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
    let settings = load_settings(global)?;
    let indicators = load_indicators(global)?;
    let feeds: Vec<Feed> = match &args.feed {
        Some(id) => {
            let Some(feed) = indicators.feeds.iter().find(|f| &f.id == id) else {
                let ids: Vec<&str> = indicators.feeds.iter().map(|f| f.id.as_str()).collect();
                return Err(
                    UsageError(format!("no feed '{id}' (feeds: {})", ids.join(", "))).into(),
                );
            };
            vec![feed.clone()]
        }
        None => indicators
            .feeds
            .iter()
            .filter(|f| f.enabled)
            .cloned()
            .collect(),
    };
    // One round needs no listener: a daemon beside it may hold the port.
    let settings = Settings {
        http_listen: None,
        ..settings
    };
    let app = App::build(settings, indicators)?;
    let runtime = runtime()?;
    let (reports, delivery) = runtime.block_on(async {
        let reports = app.poll(feeds).await;
        // Run from cron or a timer, there is no later round: send what is due now.
        let delivery = app.dispatcher().round(chrono::Utc::now(), true, None).await;
        (reports, delivery)
    });
    drop(runtime);
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
                    println!(
                        "     HIT {}: {}",
                        hit.indicator_id,
                        super::terminal_text(&hit.title)
                    );
                }
            }
            Err(error) => {
                failed += 1;
                println!(
                    "FAIL {}: {}",
                    report.feed_id,
                    super::terminal_text(&error.to_string())
                );
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
                app.describe_transport()
            );
        }
        Err(e) => println!("alerts: outbox error: {}", crate::error::error_chain(&e)),
    }
    Ok(if failed == 0 { EXIT_OK } else { EXIT_FINDINGS })
}
