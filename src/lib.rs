//! watchfloor watches news feeds for indications and warnings.
//!
//! Layout, one module per pipeline stage:
//! - [`config`] reads `indicators.yaml`, validates it and compiles every query, naming the
//!   file, line and column of anything wrong.
//! - [`fetch`] makes one conditional GET of a feed, bounded in time, size and concurrency,
//!   and names whatever went wrong.
//! - [`text`] turns HTML into display text and display text into normalised words.
//! - [`matcher`] runs all indicators over an item in one pass and explains each hit with
//!   evidence.
//! - [`eval`] scores the rules against labelled items.
//! - [`cli`] is the command line: each subcommand a function over the stages above.

pub mod cli;
pub mod config;
pub mod eval;
pub mod fetch;
pub mod matcher;
pub mod schedule;
pub mod store;
pub mod text;
