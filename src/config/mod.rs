//! The config stage: reading and validating the analysts' `indicators.yaml`.
//!
//! Files are read in two steps, as ripgrep reads its flags: strict raw structs
//! (`deny_unknown_fields`) first, then a validated form in which every query is compiled. Any
//! error names the file, line and column; all problems of a file are reported together.

mod error;
pub mod indicators;

pub use error::{ConfigError, Problem};
pub use indicators::{Example, Indicator, Indicators, Severity};
