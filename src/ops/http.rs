//! The operations listener: the probes (`/livez`, `/readyz`, `/healthz`) and `/metrics`, and
//! the hit log's pages beside them, on loopback by default.
//!
//! Served connection by connection rather than by `axum::serve`, for three defences that
//! hold for every route, `/healthz` included:
//! - a request must name one of our own hosts ([`AllowedHosts`]), else 421: a page that
//!   rebinds its name to this machine cannot read the hit log;
//! - a client has [`HEADER_TIMEOUT`] to send a request's headers and [`REQUEST_TIMEOUT`] for
//!   its body and our answer;
//! - at most `max_connections` connections are held (each is a file descriptor, which polls,
//!   the database and mail need as much). A connection past the cap takes the place of the
//!   oldest one that is not being answered (waiting for its headers, or idle between
//!   requests), so clients that open connections and send nothing cannot lock out a probe
//!   or a reviewer; if every one is being answered, the newcomer is closed at once.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::health::{self, Health};
use super::hosts::AllowedHosts;
use crate::store::{Db, Store};

/// From a connection's opening, or its previous answer, to the end of its request's headers:
/// a browser sends them at once, so only a client holding the connection on purpose is cut.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// From the end of a request's headers to the end of our answer, reading the body included;
/// a page reads the database for at most a few seconds.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Descriptors kept back from the connection cap for everything else: the database and its
/// WAL, polls in flight, mail, the journal. A cap that would eat into them is lowered.
pub const RESERVED_DESCRIPTORS: u64 = 256;
/// After a failed accept (out of descriptors), before the next: the loop must not spin.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// How long open connections get to finish their answer when the daemon stops.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// How long a check waits for the database before calling it busy.
const DATABASE_WAIT: Duration = Duration::from_secs(2);

/// What the handlers read.
pub struct Shared {
    pub health: Arc<Health>,
    pub db: Db,
    /// `None` when another recorder was installed first (tests in one process).
    pub metrics: Option<PrometheusHandle>,
    /// The rules in force, asked at each scrape (a reload swaps them): blind items depend
    /// on them.
    pub rules: Option<crate::web::Rules>,
}

/// Runs `work` on a read connection, or gives `None` when none answers within
/// [`DATABASE_WAIT`]: reads never wait for a write, so a longer wait means the database (or
/// its disk) is stuck, which a check reports instead of hanging.
pub async fn read_within<T: Send + 'static>(
    db: &Db,
    work: impl FnOnce(&Store) -> T + Send + 'static,
) -> Option<T> {
    let read = db.read(move |store| Ok(work(store)));
    match tokio::time::timeout(DATABASE_WAIT, read).await {
        Ok(Ok(answer)) => Some(answer),
        Ok(Err(e)) => {
            tracing::warn!("database: {}", crate::error::error_chain(&e));
            None
        }
        Err(_) => None,
    }
}

/// Whether the daemon can do its work: asks the database for a read, within
/// [`DATABASE_WAIT`].
pub async fn readiness(health: &Arc<Health>, db: &Db) -> health::Readiness {
    let failing = db.write_failure();
    let answer = read_within(db, |store| match store.ping() {
        Ok(()) => health::DatabaseAnswer::Answered,
        Err(e) => health::DatabaseAnswer::Failed(crate::error::error_chain(&e)),
    })
    .await
    .unwrap_or(health::DatabaseAnswer::Busy);
    health::readiness(health, &answer, failing.as_ref())
}

/// The health report, with what the database says if it answers in time.
pub async fn assess(health: &Arc<Health>, db: &Db) -> health::Report {
    let shared = health.clone();
    let now = Utc::now();
    let failing = db.write_failure();
    let writes = failing.clone();
    match read_within(db, move |store| {
        health::assess(&shared, Some(store), writes, now)
    })
    .await
    {
        Some(report) => report,
        None => health::assess(health, None, failing, now),
    }
}

pub async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(address).await
}

/// How the listener guards itself.
pub struct Guards {
    /// The hosts requests may name.
    pub hosts: AllowedHosts,
    /// Connections held at once, before [`connection_cap`] fits it to the descriptors.
    pub max_connections: usize,
}

/// The connection cap in force: `wanted`, lowered so that [`RESERVED_DESCRIPTORS`] stay free
/// under the process's descriptor limit (`None`: unknown, taken as 1,024). At least one.
pub fn connection_cap(wanted: usize, descriptor_limit: Option<u64>) -> usize {
    let limit = descriptor_limit.unwrap_or(1024);
    let room = limit.saturating_sub(RESERVED_DESCRIPTORS).max(1);
    wanted
        .min(usize::try_from(room).unwrap_or(usize::MAX))
        .max(1)
}

/// Serves until `shutdown`; `pages` (the hit log) share the listener. Health and metrics stay
/// outside the hit log's access check: monitoring probes them without credentials, and they
/// show no feed text. The host check covers them too: a probe from this machine names
/// `127.0.0.1:PORT` or `localhost:PORT`, which are admitted.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    pages: Option<Router>,
    guards: Guards,
    shutdown: CancellationToken,
) {
    let health = shared.health.clone();
    let mut app = Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(shared);
    if let Some(pages) = pages {
        app = app.merge(pages);
    }
    let cap = connection_cap(guards.max_connections, super::limits::descriptor_limit());
    if cap < guards.max_connections {
        tracing::warn!(
            "http.max_connections: {} would leave too few file descriptors for polls and mail; \
             holding at most {cap} connections (raise LimitNOFILE= to allow more)",
            guards.max_connections
        );
    }
    let hosts = Arc::new(guards.hosts);
    tracing::debug!("http: answering to {}", hosts.describe());
    let slots = Arc::new(Slots::new(cap));
    health.listener(true);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!("http listener: cannot accept a connection: {e}");
                tokio::time::sleep(ACCEPT_PAUSE).await;
                continue;
            }
        };
        let Some(slot) = slots.admit() else {
            super::metrics::http_connection_shed("full");
            // Dropping the stream closes it: every held connection is being answered.
            continue;
        };
        tokio::spawn(connection(
            stream,
            app.clone(),
            hosts.clone(),
            slot,
            shutdown.clone(),
        ));
    }
}

/// Serves one connection until the client closes it, a timeout cuts it, a newer connection
/// takes its place, or the daemon stops.
async fn connection(
    stream: TcpStream,
    app: Router,
    hosts: Arc<AllowedHosts>,
    slot: Slot,
    shutdown: CancellationToken,
) {
    let answering = slot.answering.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let (app, hosts) = (app.clone(), hosts.clone());
        let busy = Busy::start(&answering);
        async move {
            let response = answer(app, &hosts, request).await;
            drop(busy);
            Ok::<_, Infallible>(response)
        }
    });
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    let mut served = std::pin::pin!(served);
    tokio::select! {
        done = served.as_mut() => if let Err(e) = done {
            // Timeouts and clients that hang up: normal on any listener.
            tracing::debug!("http connection: {e}");
        },
        _ = slot.evicted.cancelled() => {}
        _ = shutdown.cancelled() => {
            served.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(STOP_GRACE, served).await;
        }
    }
}

/// Checks the host the request names, then lets the router answer within
/// [`REQUEST_TIMEOUT`].
async fn answer(mut app: Router, hosts: &AllowedHosts, request: Request<Incoming>) -> Response {
    if !addressed_to_us(hosts, &request) {
        super::metrics::http_request_refused("host");
        let mut refusal = (
            StatusCode::MISDIRECTED_REQUEST,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "this listener does not answer to that host name; operators can add it to \
             web.allowed_hosts\n",
        )
            .into_response();
        let headers = refusal.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        return refusal;
    }
    let routed = tower_service::Service::call(&mut app, request);
    match tokio::time::timeout(REQUEST_TIMEOUT, routed).await {
        Ok(Ok(response)) => response,
        Ok(Err(never)) => match never {},
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            [(header::CONNECTION, "close")],
            "the request took too long\n",
        )
            .into_response(),
    }
}

/// Whether every host the request names (its one `Host`, and the authority of an
/// absolute-form target) is ours. A request without `Host` (HTTP/1.0) is admitted: browsers
/// always send one, and only a browser can be rebound.
fn addressed_to_us(hosts: &AllowedHosts, request: &Request<Incoming>) -> bool {
    let mut named = request.headers().get_all(header::HOST).iter();
    let host_ok = match (named.next(), named.next()) {
        (None, _) => true,
        (Some(host), None) => host.to_str().is_ok_and(|h| hosts.admits(h)),
        // Two hosts: a proxy and we could each believe a different one.
        (Some(_), Some(_)) => false,
    };
    let target_ok = request
        .uri()
        .authority()
        .is_none_or(|authority| hosts.admits(authority.as_str()));
    host_ok && target_ok
}

/// The connections held, oldest first; the longest-held that is not being answered makes
/// room for a newcomer once the cap is reached.
struct Slots {
    cap: usize,
    /// Locked only to add, remove or pick one, never across an await.
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    next: u64,
    by_age: BTreeMap<u64, Held>,
}

struct Held {
    answering: Arc<AtomicUsize>,
    evict: CancellationToken,
}

/// One held connection; dropping it frees the place.
struct Slot {
    id: u64,
    slots: Arc<Slots>,
    /// Requests of this connection being answered; at 0 the connection may be evicted.
    answering: Arc<AtomicUsize>,
    /// Cancelled when a newer connection takes this one's place.
    evicted: CancellationToken,
}

impl Slots {
    fn new(cap: usize) -> Slots {
        Slots {
            cap,
            open: Mutex::default(),
        }
    }

    /// A place for a new connection, evicting the oldest idle one if the cap is reached;
    /// `None` when every held connection is being answered.
    fn admit(self: &Arc<Self>) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.by_age.len() >= self.cap {
            let idle = open
                .by_age
                .iter()
                .find(|(_, held)| held.answering.load(Ordering::Acquire) == 0)
                .map(|(id, _)| *id)?;
            if let Some(held) = open.by_age.remove(&idle) {
                held.evict.cancel();
                super::metrics::http_connection_shed("evicted");
            }
        }
        let id = open.next;
        open.next += 1;
        let (answering, evicted) = (Arc::new(AtomicUsize::new(0)), CancellationToken::new());
        open.by_age.insert(
            id,
            Held {
                answering: answering.clone(),
                evict: evicted.clone(),
            },
        );
        Some(Slot {
            id,
            slots: self.clone(),
            answering,
            evicted,
        })
    }

    #[cfg(test)]
    fn held(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_age
            .len()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        open.by_age.remove(&self.id);
    }
}

/// A request being answered: its connection is not evicted meanwhile.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn start(answering: &Arc<AtomicUsize>) -> Busy {
        answering.fetch_add(1, Ordering::AcqRel);
        Busy(answering.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A probe's plain-text answer: 200 and `ok_line`, or 503 and one reason a line. Never
/// cached: a proxy must not answer a probe with an old verdict.
fn probe_answer(ok: bool, ok_line: &str, not_line: &str, lines: &[String]) -> Response {
    let mut body = String::from(if ok { ok_line } else { not_line });
    body.push('\n');
    for line in lines {
        body.push_str(line);
        body.push('\n');
    }
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// Liveness: every watched loop turns. Reads only heartbeats, never the database, so it
/// answers at once however busy the disk is; a full disk or a failed reload never fail it.
async fn livez(State(shared): State<Arc<Shared>>) -> Response {
    let alive = health::liveness(&shared.health);
    let mut lines = alive.reasons.clone();
    lines.extend(alive.loops.iter().map(|beat| {
        format!(
            "{}: turned {:.0}s ago, stalled after {}s",
            beat.name, beat.seconds_since_beat, beat.stalled_after_seconds
        )
    }));
    probe_answer(alive.is_live(), "live", "not live", &lines)
}

/// Readiness: the configuration is in force, the listener accepts, the database answers
/// and takes writes.
async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    let ready = readiness(&shared.health, &shared.db).await;
    probe_answer(ready.is_ready(), "ready", "not ready", &ready.reasons)
}

async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    let report = assess(&shared.health, &shared.db).await;
    let status = if report.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::to_string_pretty(&report).unwrap_or_else(|_| "{}".into());
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let Some(handle) = shared.metrics.clone() else {
        return (
            StatusCode::NOT_FOUND,
            "metrics are not recorded in this process",
        )
            .into_response();
    };
    let rules = shared.rules.as_ref().map(|rules| rules());
    let ready = readiness(&shared.health, &shared.db).await;
    read_within(&shared.db, move |store| {
        super::metrics::refresh(store, rules.as_deref(), Utc::now());
    })
    .await;
    let health = &shared.health;
    super::metrics::refresh_health(
        &health::liveness(health),
        &ready,
        shared.db.write_failure().is_some(),
        &health.reload_state(),
        health.loaded_at(),
    );
    handle.run_upkeep();
    let mut text = handle.render();
    if !text.is_empty() && !text.ends_with("\n\n") {
        text.push('\n');
    }
    super::process::ProcessStats::read().render(&mut text);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_descriptors_for_polls_and_mail() {
        assert_eq!(connection_cap(256, Some(1024)), 256);
        assert_eq!(connection_cap(2000, Some(1024)), 768);
        assert_eq!(connection_cap(256, Some(300)), 44);
        assert_eq!(connection_cap(256, Some(100)), 1);
        assert_eq!(connection_cap(256, None), 256);
        assert_eq!(connection_cap(5000, Some(65536)), 5000);
    }

    #[test]
    fn a_newcomer_past_the_cap_takes_the_place_of_the_oldest_idle_connection() {
        let slots = Arc::new(Slots::new(2));
        let first = slots.admit().expect("room");
        let second = slots.admit().expect("room");
        let answering = Busy::start(&first.answering);
        // The first is being answered, so the second (idle) makes room.
        let third = slots.admit().expect("the idle one makes room");
        assert!(second.evicted.is_cancelled() && !first.evicted.is_cancelled());
        drop(second);
        assert_eq!(slots.held(), 2);
        // Both held ones busy: the newcomer is turned away.
        let _also = Busy::start(&third.answering);
        assert!(slots.admit().is_none());
        drop(answering);
        let fourth = slots.admit().expect("the first is idle again");
        assert!(first.evicted.is_cancelled());
        drop((first, third, fourth));
        assert_eq!(slots.held(), 0);
    }
}
