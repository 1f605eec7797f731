//! watchfloor watches news feeds for indications and warnings.
//!
//! Layout, one module per pipeline stage:
//! - [`config`] reads `indicators.yaml`, validates it and compiles every query, naming the
//!   file, line and column of anything wrong.
//! - [`schedule`] parses cron expressions and decides when each feed is next due.
//! - [`fetch`] makes one conditional GET of a feed, bounded in time, size and concurrency,
//!   and names whatever went wrong.
//! - [`parse`] turns feed bytes (RSS, Atom, JSON Feed, any encoding) into items with display
//!   text, canonical links and stable keys, or says why the document is not a feed.
//! - [`pipeline`] takes one feed through fetch, parse, match and store; [`daemon`] runs it on
//!   every feed's schedule.
//! - [`alert`] turns hits into e-mail: the outbox dispatcher, grouping and noise control,
//!   message rendering, SMTP or `.eml` files.
//! - [`store`] is the only module that touches SQLite: feeds' state, items, sources, hits,
//!   retention pruning and backups; its [`store::Db`] owns the daemon's connections on
//!   threads of their own, awaited from async code.
//! - [`housekeeping`] runs retention pruning nightly beside the daemon's loop.
//! - [`text`] turns HTML into display text and display text into normalised words, tells
//!   the language, and makes feed text safe to show in mail, pages and the terminal.
//! - [`matcher`] runs all indicators over an item in one pass and explains each hit with
//!   evidence.
//! - [`ops`] tells systemd and monitoring how the daemon is: readiness, watchdog, health,
//!   metrics.
//! - [`web`] is the hit log for reviewers: pages, the Atom feed and the triage form, served on
//!   the operations listener from read-only connections.
//! - [`eval`] scores the rules against labelled items.
//! - [`languages`] sets the languages feeds deliver against those the rules can read.
//! - [`error`] prints an error with its causes and names the kinds failures are counted by.
//! - [`app`] assembles the daemon once (database, polls, dispatcher, listener, housekeeping,
//!   watchdog, reloads) for the command line, benches and tests.
//! - [`cli`] is the command line: each subcommand a function over the stages above.

pub mod alert;
pub mod app;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod error;
pub mod eval;
pub mod fetch;
pub mod files;
pub mod housekeeping;
pub mod languages;
pub mod matcher;
pub mod ops;
pub mod parse;
pub mod pipeline;
pub mod schedule;
pub mod store;
pub mod text;
pub mod web;
