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

/// Sends without waiting: the calls come from tokio's workers, and a notify socket nobody
/// reads (a broken manager, a test harness) would otherwise block a worker on a full queue
/// and stop the listener answering. A message the queue cannot take is dropped and logged;
/// the watchdog's next ping follows at half its interval.
fn send(states: &[NotifyState<'_>]) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let mut message = String::new();
    for state in states {
        // One state a line: a line break inside a value would be read as another state.
        message.push_str(&state.to_string().replace(['\n', '\r'], " "));
        message.push('\n');
    }
    match send_to(&socket, message.as_bytes()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            debug!("systemd's notify socket is full: a message was dropped");
        }
        Err(e) => warn!("cannot notify systemd: {e}"),
    }
}

/// One datagram to the socket at `path` (`@name`: the abstract namespace), never blocking.
fn send_to(path: &std::ffi::OsStr, message: &[u8]) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let socket = UnixDatagram::unbound()?;
    socket.set_nonblocking(true)?;
    let bytes = path.as_bytes();
    let address = match bytes.strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)?
        }
        None => SocketAddr::from_pathname(std::path::Path::new(path))?,
    };
    let sent = socket.send_to_addr(message, &address)?;
    if sent != message.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::WriteZero,
            "the datagram was cut",
        ));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixDatagram;
    use std::time::{Duration, Instant};

    use super::send_to;

    #[test]
    fn a_socket_nobody_reads_never_blocks_a_sender() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let unread = UnixDatagram::bind(&path).unwrap();
        let started = Instant::now();
        let mut refused = 0;
        for _ in 0..5_000 {
            match send_to(path.as_os_str(), b"WATCHDOG=1\n") {
                Ok(()) => {}
                Err(e) => {
                    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}");
                    refused += 1;
                }
            }
        }
        assert!(
            refused > 0,
            "the queue never filled: the test proves nothing"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        // What the queue took arrives whole.
        let mut buffer = [0u8; 64];
        let n = unread.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..n], b"WATCHDOG=1\n");
    }

    #[test]
    fn abstract_sockets_are_reached_by_their_at_name() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("watchfloor-notify-test-{}", std::process::id());
        let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&address).unwrap();
        send_to(std::ffi::OsStr::new(&format!("@{name}")), b"READY=1\n").unwrap();
        let mut buffer = [0u8; 64];
        let n = listener.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..n], b"READY=1\n");
    }
}
