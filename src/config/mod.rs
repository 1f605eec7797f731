//! The config stage: reading and validating the analysts' `indicators.yaml` (lists,
//! indicators, feeds) and the operators' `watchfloor.yaml` settings.
//!
//! Files are read in two steps, as ripgrep reads its flags: strict raw structs
//! (`deny_unknown_fields`) first, then a validated form in which every query is compiled. Any
//! error names the file, line and column; all problems of a file are reported together.

pub mod coverage;
mod error;
pub mod indicators;
pub mod mail;
pub mod settings;
pub mod web;

pub use coverage::{Coverage, Gap};
pub use error::{ConfigError, Problem};
pub use indicators::{AlertRoute, Example, Feed, Indicator, Indicators, Severity};
pub use mail::{AlertMode, MailSettings, SmtpSettings, TlsMode};
pub use settings::{FetchSettings, RetentionSettings, Settings};
pub use web::{BasicCredentials, WebAuth};
