//! The command line. Each subcommand lives in its own module and returns an exit status; this
//! module parses arguments, finds the files, and maps errors to the documented exit codes.

mod alerts;
mod backup;
pub(crate) mod bench;
mod bench_alerts;
mod bench_ingest;
mod bench_langid;
mod check;
mod effective;
mod eval;
mod explain;
mod feed_list;
mod feeds;
mod hits;
mod matching;
mod poll;
mod replay;
mod schedule;
mod shell;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{ConfigError, Indicators};

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: the command ran and found something wrong (a rule example failed, nothing
/// matched).
pub const EXIT_FINDINGS: u8 = 1;
/// Exit status: bad arguments, or an input file named on the command line is unusable.
pub const EXIT_USAGE: u8 = 2;
/// Exit status: a configuration file is invalid (as sysexits' EX_CONFIG).
pub const EXIT_CONFIG: u8 = 78;

const EXIT_CODES: &str = "\
Exit status:
  0   success
  1   findings: a rule example failed, or nothing matched
  2   usage error: bad arguments or an unusable input file
  78  configuration error: indicators.yaml or the settings are invalid";

/// watchfloor: watches news feeds for indications and warnings, matches every item against the
/// analysts' indicators, and explains each hit.
#[derive(Debug, Parser)]
#[command(name = "watchfloor", version, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand accepts.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// The indicators file [default: ./indicators.yaml, else /etc/watchfloor/indicators.yaml]
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "WATCHFLOOR_INDICATORS"
    )]
    pub indicators: Option<PathBuf>,
    /// Operator settings [default: /etc/watchfloor/watchfloor.yaml when present]
    #[arg(long, global = true, value_name = "FILE", env = "WATCHFLOOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// The SQLite database [default: $STATE_DIRECTORY/watchfloor.db under systemd, else
    /// ./watchfloor.db]
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Log level when RUST_LOG is not set: error, warn, info, debug, trace
    #[arg(long, global = true, value_name = "LEVEL", default_value = "info")]
    pub log_level: String,
    /// Log lines on stderr as plain text, or as one JSON object each (for log shippers). Under
    /// systemd, logs go to the journal with their fields either way
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "FORMAT",
        env = "WATCHFLOOR_LOG_FORMAT",
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: poll every enabled feed on its schedule, record hits, until SIGINT or
    /// SIGTERM
    #[command(after_help = EXIT_CODES)]
    Run(poll::RunArgs),
    /// Poll every enabled feed (or one) once, now, and print a summary; exit 1 if any failed
    #[command(after_help = EXIT_CODES)]
    Poll(poll::PollArgs),
    /// Validate indicators.yaml, compile every query and run every example
    #[command(after_help = EXIT_CODES)]
    Check(check::CheckArgs),
    /// Show which indicators fire on a text, and why
    #[command(name = "match", after_help = EXIT_CODES)]
    Match(matching::MatchArgs),
    /// Score the indicators against a labelled JSONL file
    #[command(after_help = EXIT_CODES)]
    Eval(eval::EvalArgs),
    /// Measure throughput and print figures
    #[command(after_help = EXIT_CODES)]
    Bench(bench::BenchArgs),
    /// Show each feed's health (last success, last error, failures, next check, items, hits);
    /// add feeds, import and export OPML
    #[command(after_help = EXIT_CODES)]
    Feeds(feeds::FeedsArgs),
    /// Run the (possibly edited) rules over stored items: show hits that would be added and
    /// removed; --apply records them (replayed hits never alert)
    #[command(after_help = EXIT_CODES)]
    Replay(replay::ReplayArgs),
    /// The hit log, newest first, filtered; as a table, CSV or JSON lines
    #[command(after_help = EXIT_CODES)]
    Hits(hits::HitsArgs),
    /// Record a reviewer's verdict on a hit: relevant or false_positive
    #[command(after_help = EXIT_CODES)]
    Triage(hits::TriageArgs),
    /// Write the triaged items as a labelled JSONL file for `watchfloor eval`
    #[command(name = "export-labels", after_help = EXIT_CODES)]
    ExportLabels(hits::ExportLabelsArgs),
    /// Show the alert outbox: what was sent, what waits, what failed and why
    #[command(after_help = EXIT_CODES)]
    Alerts(alerts::AlertsArgs),
    /// Send a test message through the configured transport and show the server's answer
    #[command(name = "test-email", after_help = EXIT_CODES)]
    TestEmail(alerts::TestEmailArgs),
    /// Post a test message to a configured webhook and show the receiver's answer
    #[command(name = "test-webhook", after_help = EXIT_CODES)]
    TestWebhook(alerts::TestWebhookArgs),
    /// Write a consistent copy of the database (safe while the daemon runs) and check it
    #[command(after_help = EXIT_CODES)]
    Backup(backup::BackupArgs),
    /// Print the next runs of a cron expression, to check a feed's schedule before using it
    #[command(after_help = EXIT_CODES)]
    Schedule(schedule::ScheduleArgs),
    /// Print the settings in force, each with its source (default, file:line, environment);
    /// secrets show only whether they are set
    #[command(after_help = EXIT_CODES)]
    Config(effective::ConfigArgs),
    /// Print the completion script for a shell (bash, zsh, fish, elvish, powershell)
    #[command(after_help = EXIT_CODES)]
    Completions(shell::CompletionsArgs),
    /// Print the manual page (roff), or write one per subcommand into a folder
    #[command(after_help = EXIT_CODES)]
    Man(shell::ManArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.global.log_level, cli.global.log_format);
    let code = match run(&cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("watchfloor: error: {error:#}");
            exit_code_for(&error)
        }
    };
    ExitCode::from(code)
}

fn run(cli: &Cli) -> anyhow::Result<u8> {
    if matches!(
        cli.command,
        Command::Check(_)
            | Command::Match(_)
            | Command::Eval(_)
            | Command::Feeds(_)
            | Command::Alerts(_)
            | Command::Hits(_)
            | Command::Schedule(_)
            | Command::Completions(_)
            | Command::Man(_)
            | Command::Config(_)
    ) {
        end_quietly_on_closed_pipe();
    }
    match &cli.command {
        Command::Check(args) => check::run(&cli.global, args),
        Command::Match(args) => matching::run(&cli.global, args),
        Command::Eval(args) => eval::run(&cli.global, args),
        Command::Bench(args) => bench::run(&cli.global, args),
        Command::Feeds(args) => feeds::run(&cli.global, args),
        Command::Run(args) => poll::run_daemon(&cli.global, args),
        Command::Poll(args) => poll::poll_once(&cli.global, args),
        Command::Replay(args) => replay::run(&cli.global, args),
        Command::Alerts(args) => alerts::run(&cli.global, args),
        Command::Hits(args) => hits::hits(&cli.global, args),
        Command::Triage(args) => hits::triage(&cli.global, args),
        Command::ExportLabels(args) => hits::export_labels(&cli.global, args),
        Command::TestEmail(args) => alerts::test_email(&cli.global, args),
        Command::TestWebhook(args) => alerts::test_webhook(&cli.global, args),
        Command::Backup(args) => backup::run(&cli.global, args),
        Command::Schedule(args) => schedule::run(args),
        Command::Config(args) => effective::run(&cli.global, args),
        Command::Completions(args) => shell::completions(args),
        Command::Man(args) => shell::man(args),
    }
}

/// Commands that only print should end like other Unix tools when their reader goes away
/// (`watchfloor hits | head`), not report a broken pipe as a crash. Only those: the daemon and
/// the commands that talk to servers must see a closed socket as an error, not die of it.
fn end_quietly_on_closed_pipe() {
    // SAFETY: restores the default disposition of one signal; no handler is involved.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Logs go to the journal, with their fields, when systemd runs us (`JOURNAL_STREAM` names
/// the journal's stream); otherwise to stderr, one plain line each, or one JSON object each
/// with `--log-format json`. `RUST_LOG` overrides `--log-level`.
fn init_logging(level: &str, format: LogFormat) {
    use std::io::IsTerminal;

    use tracing_subscriber::prelude::*;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    if std::env::var_os("JOURNAL_STREAM").is_some()
        && let Ok(journal) = tracing_journald::layer()
    {
        let _ = tracing_subscriber::registry()
            .with(journal.with_syslog_identifier("watchfloor".into()))
            .with(filter())
            .try_init();
        return;
    }
    if format == LogFormat::Json {
        // Feed text reaches log fields; JSON escapes every control character in it.
        let _ = tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .flatten_event(true)
            .with_current_span(false)
            .with_target(false)
            .try_init();
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Settings from `--config`, `--db` and the environment.
pub use crate::text::safe::terminal_text;

pub fn load_settings(global: &GlobalArgs) -> Result<crate::config::Settings, ConfigError> {
    crate::config::Settings::from_process(global.config.as_deref(), global.db.as_deref())
}

/// A date on the command line: `2026-11-01`, or RFC 3339 (`2026-11-01T07:00:00Z`).
pub fn parse_date(text: &str) -> Result<chrono::DateTime<chrono::Utc>, UsageError> {
    use chrono::{NaiveDate, TimeZone, Utc};
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Utc.from_utc_datetime(&t))
        .ok_or_else(|| UsageError(format!("invalid date '{text}': use 2026-11-01 or RFC 3339")))
}

/// A command-line input that cannot be used: exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn exit_code_for(error: &anyhow::Error) -> u8 {
    use crate::app::AppError;
    if let Some(app) = error.downcast_ref::<AppError>() {
        return match app {
            AppError::Config(_) | AppError::Transport(_) | AppError::Webhook(_) => EXIT_CONFIG,
            AppError::Store(_) | AppError::Listen { .. } => EXIT_USAGE,
            AppError::Fetch(_) | AppError::AlreadyRun => EXIT_FINDINGS,
        };
    }
    // A transport that cannot be set up (an unreadable CA file) is a configuration error too.
    if error.downcast_ref::<ConfigError>().is_some()
        || error
            .downcast_ref::<crate::alert::transport::TransportError>()
            .is_some()
    {
        EXIT_CONFIG
    } else if error.downcast_ref::<UsageError>().is_some()
        || error.downcast_ref::<crate::store::StoreError>().is_some()
        || error.downcast_ref::<crate::eval::EvalError>().is_some()
    {
        EXIT_USAGE
    } else {
        EXIT_FINDINGS
    }
}

/// The indicators file: the one named, else `./indicators.yaml`, else the system one.
pub fn indicators_path(global: &GlobalArgs) -> PathBuf {
    if let Some(path) = &global.indicators {
        return path.clone();
    }
    let local = Path::new("indicators.yaml");
    let system = Path::new("/etc/watchfloor/indicators.yaml");
    if !local.exists() && system.exists() {
        system.to_owned()
    } else {
        local.to_owned()
    }
}

pub fn load_indicators(global: &GlobalArgs) -> Result<Indicators, ConfigError> {
    let indicators = Indicators::load(&indicators_path(global))?;
    for warning in &indicators.warnings {
        eprintln!("watchfloor: warning: {warning}");
    }
    Ok(indicators)
}
