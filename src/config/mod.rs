//! The config stage: reading and validating the analysts' `indicators.yaml` (lists,
//! indicators, feeds) and the operators' `watchfloor.yaml` settings.
//!
//! Files are read in two steps, as ripgrep reads its flags: strict raw structs
//! (`deny_unknown_fields`) first, then a validated form in which every query is compiled. Any
//! error names the file, line and column; all problems of a file are reported together.
//!
//! The files import each other in one direction only (a test in `tests/invariants.rs` holds
//! them to it): `settings` assembles `mail`, `web` and `webhooks`, and checks that the
//! webhooks indicators name exist; `indicators` uses `coverage` and
//! `mail`'s address check; `error` (located problems, and the bounded read that refuses an
//! oversized file with one) and `values` (where a value came from,
//! secrets) are leaves that everything may use.

pub mod coverage;
mod error;
pub mod feed_list;
pub mod indicators;
pub mod mail;
pub mod provenance;
pub mod settings;
mod values;
pub mod web;
pub mod webhooks;

pub use coverage::{Coverage, Gap};
pub use error::{ConfigError, Problem, ProblemKind};
pub use indicators::{AlertRoute, Example, Feed, Indicator, Indicators, Severity, WebhookName};
pub use mail::{AlertMode, MailSettings, SmtpSettings, TlsMode};
pub use settings::{FetchSettings, RetentionSettings, Settings};
pub use values::{Secret, redact_url_passwords};
pub use web::{BasicCredentials, HostPort, WebAuth};
pub use webhooks::{Webhook, WebhookFormat, Webhooks};
