//! The operations listener: `/healthz` and `/metrics`, and the hit log's pages beside them,
//! on loopback by default.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
use crate::store::Store;

/// How long a check waits for the database before calling it busy.
const DATABASE_WAIT: Duration = Duration::from_secs(2);

/// What the handlers read.
pub struct Shared {
    pub health: Arc<Health>,
    pub store: Arc<Mutex<Store>>,
    /// `None` when another recorder was installed first (tests in one process).
    pub metrics: Option<PrometheusHandle>,
    /// The rules in force, asked at each scrape (a reload swaps them): blind items depend
    /// on them.
    pub rules: Option<crate::web::Rules>,
}

/// Runs `work` with the store if its lock comes free within [`DATABASE_WAIT`] (a poll's write
/// holds it for milliseconds; longer means the database is stuck), on the blocking pool.
pub async fn with_store_within<T: Send + 'static>(
    store: Arc<Mutex<Store>>,
    work: impl FnOnce(Option<&Store>) -> T + Send + 'static,
) -> T {
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + DATABASE_WAIT;
        loop {
            match store.try_lock() {
                Ok(guard) => return work(Some(&guard)),
                Err(std::sync::TryLockError::Poisoned(p)) => return work(Some(&p.into_inner())),
                Err(std::sync::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(std::sync::TryLockError::WouldBlock) => return work(None),
            }
        }
    })
    .await
    .expect("the health check does not panic")
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
    let health = shared.health.clone();
    let report = with_store_within(shared.store.clone(), move |store| {
        health::assess(&health, store, Utc::now())
    })
    .await;
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
    with_store_within(shared.store.clone(), move |store| {
        if let Some(store) = store {
            super::metrics::refresh(store, rules.as_deref());
        }
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
