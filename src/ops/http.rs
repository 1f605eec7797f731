//! The operations listener: `/healthz` and `/metrics`, and the hit log's pages beside them,
//! on loopback by default.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::health::{self, Health};
use crate::store::{Db, Store};

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

/// Serves until `shutdown`; `pages` (the hit log) share the listener. Health and metrics stay
/// outside the hit log's access check: monitoring probes them without credentials, and they
/// show no feed text.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    pages: Option<Router>,
    shutdown: CancellationToken,
) {
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(shared);
    if let Some(pages) = pages {
        app = app.merge(pages);
    }
    let stopped = async move { shutdown.cancelled().await };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stopped)
        .await
    {
        tracing::error!("http listener: {e}");
    }
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
    read_within(&shared.db, move |store| {
        super::metrics::refresh(store, rules.as_deref());
    })
    .await;
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}
