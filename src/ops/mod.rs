//! Operations: what the daemon tells systemd and monitoring about itself.
//!
//! - [`notify`]: readiness, watchdog pings and status lines for `Type=notify`.
//! - [`health`]: heartbeats and the shared health state; liveness (`/livez`, the watchdog),
//!   readiness (`/readyz`) and the full report (`/healthz`).
//! - [`metrics`]: counters, gauges and histograms in the Prometheus text format;
//!   [`process`] the `process_*` series beside them.
//! - [`http`]: the listener serving the probes and `/metrics` (and the hit log), with its
//!   connection cap, timeouts and host check; [`hosts`] decides which hosts it answers to.
//! - [`limits`]: the file descriptor limit, raised at start, that the connection cap fits
//!   under.

pub mod health;
pub mod hosts;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod notify;
pub mod process;
