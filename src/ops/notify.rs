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

/// Pings the watchdog at half its interval, but only while the scheduler turns and the
/// database answers; also refreshes the status line. Runs until `shutdown`.
pub async fn watchdog(health: Arc<Health>, db: Db, shutdown: CancellationToken) {
    let interval = sd_notify::watchdog_enabled()
        .map(|d| d / 2)
        .unwrap_or(Duration::from_secs(30))
        .max(Duration::from_millis(100));
    loop {
        let report = super::http::assess(&health, &db).await;
        let alive = !report
            .reasons
            .iter()
            .any(|r| r.starts_with("scheduler stalled") || r.starts_with("database"));
        if alive {
            if sd_notify::watchdog_enabled().is_some() {
                send(&[NotifyState::Watchdog]);
            }
        } else {
            warn!("not pinging the watchdog: {}", report.reasons.join("; "));
        }
        let line = format!(
            "{} of {} feeds polled ({} failing), {} hits, {} alerts pending, {} messages waiting{}",
            report.feeds_polled,
            report.feeds,
            report.feeds_failing,
            report.hits,
            report.alerts_pending,
            report.messages_waiting,
            if report.is_ok() { "" } else { "; unhealthy" }
        );
        debug!("status: {line}");
        status(&line);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
