//! Helpers shared by the integration tests. Each test binary uses a part of them.
#![allow(dead_code)]

pub mod app;
pub mod cli;
pub mod e2e;
pub mod feed_server;
pub mod ports;
pub mod smtp_server;
