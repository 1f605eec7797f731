//! Operations: what the daemon tells systemd and monitoring about itself.
//!
//! - [`notify`]: readiness, watchdog pings and status lines for `Type=notify`.
//! - [`health`]: the shared health state and the checks behind `/healthz` and the watchdog.
//! - [`metrics`]: counters and gauges in the Prometheus text format.
//! - [`http`]: the listener serving `/healthz` and `/metrics` (and the hit log), with its
//!   connection cap, timeouts and host check; [`hosts`] decides which hosts it answers to.
//! - [`limits`]: the file descriptor limit, raised at start, that the connection cap fits
//!   under.

pub mod health;
pub mod hosts;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod notify;
