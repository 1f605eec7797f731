//! Helpers shared by the integration tests. Each test binary uses a part of them.
#![allow(dead_code)]

pub mod app;
pub mod cli;
pub mod e2e;
pub mod feed_server;
pub mod ports;
pub mod smtp_server;

/// How the browser tests start Chromium: headless, and reaching nothing but the loopback.
/// Even without background networking it looks up Google's account and update hosts at
/// start: every name but the loopback's is answered "not found" by Chromium itself, with no
/// query to a nameserver.
pub const CHROMIUM_OFFLINE: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
];
