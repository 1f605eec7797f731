//! The daemon, assembled once: [`App::build`] opens the database and makes every part from
//! the settings and rules, [`App::run`] runs every long-running task until told to stop, and
//! [`App::reload`] swaps the configuration in force.
//!
//! The command line parses arguments, loads files and calls these; benches and tests build
//! through the same calls, so a new task is wired here and nowhere else. `run` receives its
//! stop signal from the caller (a `CancellationToken`), so tests stop it as `main` does on
//! SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::alert::Dispatcher;
use crate::alert::feed_health::{FeedWatch, watch_feeds};
use crate::alert::transport::{Transport, TransportError};
use crate::alert::webhook::{WebhookSetupError, WebhookTransport};
use crate::config::{ConfigError, Feed, Indicators, Settings};
use crate::daemon::Live;
use crate::fetch::FetchError;
use crate::ops::health::{Health, Heartbeat};
use crate::ops::notify;
use crate::pipeline::{Context, PollReport};
use crate::store::{Db, FeedDef, StoreError};

/// How long the dispatcher may take to finish the message in flight once polls have
/// stopped; past it the message is abandoned unacknowledged and resent on the next start,
/// with the same Message-ID.
const MAIL_GRACE: Duration = Duration::from_millis(1500);

/// Why the daemon could not be built, run or reconfigured.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Webhook(#[from] WebhookSetupError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(
        "http.listen: cannot listen on {address}: {source} (set http.listen or \
         WATCHFLOOR_LISTEN to another address, or 'off')"
    )]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the daemon was already run")]
    AlreadyRun,
}

/// What `/healthz` says of a failed reload: where and what kind of problem, never the text of
/// the files (queries, URLs, and a password an operator put where it does not belong), since
/// the listener answers health probes without credentials. The log has the whole message.
fn reload_failure(error: &AppError) -> String {
    let what = match error {
        AppError::Config(e) => e.summary(),
        AppError::Store(_) => "the database did not take the new feed list".to_owned(),
        AppError::Transport(_) => "the mail transport could not be set up".to_owned(),
        AppError::Webhook(_) => "the webhook client could not be set up".to_owned(),
        AppError::Fetch(_) => "the feed fetcher could not be set up".to_owned(),
        AppError::Listen { .. } | AppError::AlreadyRun => {
            "the daemon could not apply it".to_owned()
        }
    };
    format!("{what} (see the log)")
}

/// Reads the settings and rules again, for a reload on SIGHUP: the files are the caller's.
pub type Loader = Arc<dyn Fn() -> Result<(Settings, Indicators), ConfigError> + Send + Sync>;

pub struct App {
    /// What the daemon started with: the database, the listener and the hit log's access
    /// change only at the next start, whatever a reload reads.
    settings: Settings,
    db: Db,
    /// The poll context in force; a poll keeps the one it started with.
    live: Arc<Live>,
    dispatcher: Arc<Dispatcher>,
    /// The feed list the loop polls, replaced by a reload.
    feeds: watch::Sender<Vec<Feed>>,
    /// A reloaded feed health watcher, for the watcher task.
    feed_watch: mpsc::UnboundedSender<FeedWatch>,
    health: Arc<Health>,
    /// What only `run` uses, taken by it: the daemon runs once.
    startup: Mutex<Option<Startup>>,
    local_addr: Option<SocketAddr>,
    /// Set by [`App::reload_on_hangup`]; without it SIGHUP is not listened for.
    loader: Option<(String, Loader)>,
}

struct Startup {
    feeds: watch::Receiver<Vec<Feed>>,
    watch: FeedWatch,
    watches: mpsc::UnboundedReceiver<FeedWatch>,
    /// Bound at build, so that a port taken is an error before anything runs, and a test
    /// that asks for port 0 knows its port at once.
    listener: Option<std::net::TcpListener>,
}

/// The configured feeds, as the store records them.
pub fn feed_defs(feeds: &[Feed]) -> Vec<FeedDef<'_>> {
    feeds
        .iter()
        .map(|f| FeedDef {
            id: &f.id,
            url: &f.url,
            title: f.title.as_deref(),
        })
        .collect()
}

impl App {
    /// Opens (and migrates) the database, records the configured feeds, and builds every
    /// part of the daemon; binds `http.listen` when set. Blocks while the database opens:
    /// call it before the runtime starts, or on the blocking pool.
    pub fn build(settings: Settings, indicators: Indicators) -> Result<App, AppError> {
        settings.check_alert_targets(&indicators)?;
        let indicators = Arc::new(indicators);
        let listener = match settings.http_listen {
            Some(address) => Some(
                std::net::TcpListener::bind(address)
                    .and_then(|l| l.set_nonblocking(true).map(|()| l))
                    .map_err(|source| AppError::Listen { address, source })?,
            ),
            None => None,
        };
        let local_addr = listener.as_ref().and_then(|l| l.local_addr().ok());
        let db = Db::open(&settings.database)?;
        let transport = Transport::new(&settings.mail)?;
        let webhooks = WebhookTransport::new(&settings.webhooks)?;
        let watch = FeedWatch::new(
            db.clone(),
            Transport::new(&settings.mail)?,
            &settings,
            &indicators.feeds,
        );
        let ctx = Context::new(&settings, indicators.clone(), db.clone())?;
        let synced = indicators.clone();
        db.write_blocking(move |store| store.sync_feeds(&feed_defs(&synced.feeds)))?;
        let dispatcher = Arc::new(Dispatcher::new(
            db.clone(),
            transport,
            webhooks,
            settings.mail_for_messages(),
            indicators.clone(),
        ));
        let (feeds, feeds_in) = watch::channel(indicators.feeds.clone());
        let (feed_watch, watches) = mpsc::unbounded_channel();
        let health = Arc::new(Health::default());
        if listener.is_some() {
            health.listener(false);
        }
        Ok(App {
            settings,
            db,
            live: Arc::new(Live::new(Arc::new(ctx))),
            dispatcher,
            feeds,
            feed_watch,
            health,
            startup: Mutex::new(Some(Startup {
                feeds: feeds_in,
                watch,
                watches,
                listener,
            })),
            local_addr,
            loader: None,
        })
    }

    /// Reloads on SIGHUP while running, with what `load` reads (`what` names the files, for
    /// the log).
    pub fn reload_on_hangup(mut self, what: String, load: Loader) -> App {
        self.loader = Some((what, load));
        self
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The poll context in force.
    pub fn context(&self) -> Arc<Context> {
        self.live.current()
    }

    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }

    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    /// The address `http.listen` bound, with the port the system chose for port 0.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// Where alerts go, for logs.
    pub fn describe_transport(&self) -> String {
        self.dispatcher.describe_transport()
    }

    /// Polls `feeds` once each, at the same time, with the context in force.
    pub async fn poll(&self, feeds: Vec<Feed>) -> Vec<PollReport> {
        let ctx = self.context();
        let mut polls = tokio::task::JoinSet::new();
        for feed in feeds {
            polls.spawn(crate::daemon::poll_stored(ctx.clone(), feed));
        }
        let mut reports = Vec::new();
        while let Some(joined) = polls.join_next().await {
            if let Ok(report) = joined {
                reports.push(report);
            }
        }
        reports
    }

    /// Runs the daemon until `shutdown`: the listener (health, metrics, the hit log),
    /// housekeeping, the dispatcher, the watchdog, the feed health watcher, reloads on SIGHUP
    /// (when set) and the polling loop. On stop, polls in flight get their grace period, then
    /// the mail in flight its own.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), AppError> {
        let Startup {
            feeds,
            watch,
            watches,
            listener,
        } = self
            .startup
            .lock()
            .await
            .take()
            .ok_or(AppError::AlreadyRun)?;
        // Liveness watches the loops that run from here on, and the configuration is in
        // force: both before the listener answers a probe.
        self.health
            .watch("scheduler", self.health.heartbeat.clone());
        self.health.watch("writer", self.db.writer_heartbeat());
        self.health.watch("dispatcher", self.dispatcher.heartbeat());
        let housekeeping = Arc::new(Heartbeat::new(crate::housekeeping::LONGEST_GAP));
        self.health.watch("housekeeping", housekeeping.clone());
        let feed_health = Arc::new(Heartbeat::new(crate::alert::feed_health::LONGEST_GAP));
        self.health.watch("feed health", feed_health.clone());
        self.health.started();
        if let Some(listener) = listener {
            self.serve(listener, &shutdown)?;
        }
        // Housekeeping: nightly retention; each batch is one transaction, so it needs no grace.
        tokio::spawn(crate::housekeeping::run_housekeeping(
            self.db.clone(),
            self.settings.retention.items_days,
            housekeeping,
            shutdown.clone(),
        ));
        let mail = self.dispatcher.clone();
        let mail_stop = shutdown.clone();
        let delivering = tokio::spawn(async move { mail.run(mail_stop).await });
        tokio::spawn(notify::watchdog(
            self.health.clone(),
            self.db.clone(),
            shutdown.clone(),
        ));
        let watching = tokio::spawn(watch_feeds(watch, watches, feed_health, shutdown.clone()));
        // The database is open and migrated, the configuration valid, the listener bound.
        notify::ready();
        let polling = crate::daemon::run(
            self.live.clone(),
            feeds,
            &self.health.heartbeat,
            shutdown.clone(),
        );
        tokio::join!(polling, self.serve_hangups(&shutdown));
        notify::stopping();
        // Both at once, so the stop stays within its 10 s whatever each is doing. A notice cut
        // off mid-send is not recorded, so the next start sends it again.
        let (_, delivered) = tokio::join!(
            tokio::time::timeout(MAIL_GRACE, watching),
            tokio::time::timeout(MAIL_GRACE, delivering)
        );
        if delivered.is_err() {
            tracing::warn!("abandoning the message in flight: it is sent again at the next start");
        }
        Ok(())
    }

    fn rules(&self) -> crate::web::Rules {
        let live = self.live.clone();
        Arc::new(move || live.current().indicators.clone())
    }

    fn serve(
        &self,
        listener: std::net::TcpListener,
        shutdown: &CancellationToken,
    ) -> Result<(), AppError> {
        let address = self
            .local_addr
            .unwrap_or_else(|| ([127, 0, 0, 1], 0).into());
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|source| AppError::Listen { address, source })?;
        info!("http: /healthz and /metrics on http://{address}");
        info!("http: probes /livez (liveness) and /readyz (readiness) on http://{address}");
        info!(
            "web: the hit log on http://{address}/hits ({})",
            if self.settings.web_auth.is_configured() {
                "login required; verdicts recorded by user"
            } else {
                "open to this machine; verdicts recorded as local"
            }
        );
        let shared = Arc::new(crate::ops::http::Shared {
            health: self.health.clone(),
            db: self.db.clone(),
            metrics: crate::ops::metrics::install().inspect(|_| {
                crate::ops::metrics::configured(&self.context().indicators);
            }),
            rules: Some(self.rules()),
        });
        let pages = crate::web::router(Arc::new(
            crate::web::WebState::new(
                self.db.clone(),
                self.rules(),
                self.settings.web_auth.clone(),
                self.settings.mail.hit_log_base.clone(),
            )
            .served_at(address),
        ));
        let guards = crate::ops::http::Guards {
            hosts: crate::ops::hosts::AllowedHosts::new(
                address,
                self.settings.mail.hit_log_base.as_deref(),
                &self.settings.web_allowed_hosts,
            ),
            max_connections: self.settings.http_max_connections,
        };
        tokio::spawn(crate::ops::http::serve(
            listener,
            shared,
            Some(pages),
            guards,
            shutdown.clone(),
        ));
        Ok(())
    }

    /// Reloads on each SIGHUP until `shutdown`. A file that does not load leaves the running
    /// configuration in force; the error is logged with its place and shown by `/healthz`.
    async fn serve_hangups(&self, shutdown: &CancellationToken) {
        use tokio::signal::unix::{SignalKind, signal};
        let Some((what, load)) = &self.loader else {
            return;
        };
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("cannot listen for SIGHUP: {e}");
                return;
            }
        };
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                got = hangups.recv() => if got.is_none() { return },
            }
            info!("SIGHUP: reloading {what} and the settings");
            notify::reloading();
            let load = load.clone();
            let outcome = match tokio::task::spawn_blocking(move || load()).await {
                Ok(Ok((settings, indicators))) => self.reload(settings, indicators).await,
                Ok(Err(e)) => Err(AppError::Config(e)),
                // Only a runtime shutting down cancels it (a panic aborts the process).
                Err(_) => return,
            };
            crate::ops::metrics::record_reload(outcome.is_ok());
            match &outcome {
                Ok(summary) => info!("reloaded: {summary}"),
                Err(e) => tracing::error!(
                    "reload failed, the previous configuration stays in force: {}",
                    crate::error::error_chain(e)
                ),
            }
            self.health.reloaded(
                outcome.as_ref().map(|_| ()).map_err(reload_failure),
                chrono::Utc::now(),
            );
            notify::reloaded();
        }
    }

    /// Puts new settings and rules in force: the poll context, the dispatcher's
    /// configuration, the feed list and the feed health watcher. Everything that can fail is
    /// built first and the feeds table written last, so a reload that fails changes nothing.
    /// Returns a summary for the log.
    pub async fn reload(
        &self,
        settings: Settings,
        indicators: Indicators,
    ) -> Result<String, AppError> {
        settings.check_alert_targets(&indicators)?;
        let indicators = Arc::new(indicators);
        let transport = Transport::new(&settings.mail)?;
        let webhooks = WebhookTransport::new(&settings.webhooks)?;
        let watch = FeedWatch::new(
            self.db.clone(),
            Transport::new(&settings.mail)?,
            &settings,
            &indicators.feeds,
        );
        let started_with = &self.settings;
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
            (
                "the hosts the listener answers to (web.allowed_hosts, web.base_url)",
                settings.web_allowed_hosts != started_with.web_allowed_hosts
                    || settings.mail.hit_log_base != started_with.mail.hit_log_base,
            ),
            (
                "http.max_connections",
                settings.http_max_connections != started_with.http_max_connections,
            ),
        ] {
            if changed {
                tracing::warn!("{what} changed: it takes effect at the next start");
            }
        }
        let ctx = Context::new(&settings, indicators.clone(), self.db.clone())?;
        // The last fallible step, and the only one that writes: a reload that fails before it
        // leaves the feeds table (active flags, validators, backoff) as it was.
        let synced = indicators.clone();
        self.db
            .write(move |store| store.sync_feeds(&feed_defs(&synced.feeds)))
            .await?;
        let summary = format!(
            "{} indicators, {} feeds ({} enabled); {}",
            indicators.indicators.len(),
            indicators.feeds.len(),
            indicators.feeds.iter().filter(|f| f.enabled).count(),
            match webhooks.describe() {
                Some(webhooks) => format!("{}; {webhooks}", transport.describe()),
                None => transport.describe(),
            }
        );
        self.live.replace(Arc::new(ctx));
        self.dispatcher.reconfigure(
            transport,
            webhooks,
            settings.mail_for_messages(),
            indicators.clone(),
        );
        let _ = self.feeds.send(indicators.feeds.clone());
        let _ = self.feed_watch.send(watch);
        crate::ops::metrics::configured(&indicators);
        Ok(summary)
    }
}
