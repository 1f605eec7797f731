//! Operations: what the daemon tells systemd and monitoring about itself.
//!
//! - [`notify`]: readiness, watchdog pings and status lines for `Type=notify`.
//! - [`health`]: the shared health state and the checks behind `/healthz` and the watchdog.
//! - [`metrics`]: counters and gauges in the Prometheus text format.
//! - [`http`]: the listener serving `/healthz` and `/metrics`.

pub mod health;
pub mod http;
pub mod metrics;
pub mod notify;
