//! systemd's notify protocol: `READY=1` once the daemon can do its work, `WATCHDOG=1` while it
//! does, `STATUS=` for `systemctl status`, `RELOADING=1` and `STOPPING=1` around those.
//! Outside systemd (`NOTIFY_SOCKET` unset) every call does nothing.

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::health::Health;
use crate::store::Db;

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        warn!("cannot notify systemd: {e}");
    }
}

pub fn ready() {
    send(&[NotifyState::Ready]);
}

pub fn reloading() {
    // systemd wants the monotonic time with RELOADING=1 (Type=notify-reload); older ones
    // ignore it.
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

pub fn reloaded() {
    send(&[NotifyState::Ready]);
}

pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

pub fn status(line: &str) {
    send(&[NotifyState::Status(line)]);
}

/// Pings the watchdog at half its interval while the process is alive (every watched loop
/// turning: [`super::health::liveness`], what `/livez` answers), and refreshes the status
/// line. Nothing a restart cannot cure withholds a ping: a full disk, a failed reload or the
/// network being down show in the status line, `/healthz` and `/metrics` instead. Runs until
/// `shutdown`.
pub async fn watchdog(health: Arc<Health>, db: Db, shutdown: CancellationToken) {
    let interval = sd_notify::watchdog_enabled()
        .map(|d| d / 2)
        .unwrap_or(Duration::from_secs(30))
        .max(Duration::from_millis(100));
    loop {
        // Decided before the status line reads the database: a slow disk must not delay it.
        let alive = super::health::liveness(&health);
        if alive.is_live() {
            if sd_notify::watchdog_enabled().is_some() {
                send(&[NotifyState::Watchdog]);
            }
        } else {
            warn!("not pinging the watchdog: {}", alive.reasons.join("; "));
        }
        let report = super::http::assess(&health, &db).await;
        let line = format!(
            "{} of {} feeds polled ({} failing), {} hits, {} alerts pending, {} messages waiting{}",
            report.feeds_polled,
            report.feeds,
            report.feeds_failing,
            report.hits,
            report.alerts_pending,
            report.messages_waiting,
            match (report.ready, report.is_ok()) {
                (_, true) => "",
                (true, false) => "; needs a look (see /healthz)",
                (false, false) => "; not ready (see /readyz)",
            }
        );
        debug!("status: {line}");
        status(&line);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
