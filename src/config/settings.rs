//! Operator settings: `watchfloor.yaml`, each key overridable by a `WATCHFLOOR_...` environment
//! variable, every key with a default. They live apart from the analysts' `indicators.yaml`.
//!
//! Precedence, highest first: the command line (`--db`), the environment, the file, the
//! default.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::error::{ConfigError, Problem, ProblemKind, yaml_error};
use super::indicators::Indicators;
use super::mail::{self, MailInputs, MailSettings, RawMail, RawSmtp};
use super::values::pick;
use super::web::{self, HostPort, RawWeb, WebAuth};
use super::webhooks::{self, RawWebhooks, Webhooks};
use crate::schedule::Schedule;

/// The settings file read when `--config` is not given, if it exists.
pub const SYSTEM_SETTINGS: &str = "/etc/watchfloor/watchfloor.yaml";

/// The longest settings file read: every setting written out with comments is a few
/// kilobytes.
const MAX_SETTINGS_FILE_BYTES: u64 = 1 << 20;

/// How feeds are fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchSettings {
    /// Whole request, headers and body.
    pub timeout: Duration,
    /// Largest body accepted, counted after decompression.
    pub max_body: u64,
    /// Polls in flight at once, all feeds.
    pub concurrency: usize,
    /// Polls in flight at once to one host.
    pub per_host: usize,
    pub user_agent: String,
    /// Follow a redirect from a public address to a loopback, private or link-local one. Off:
    /// a public feed must not be able to send the fetcher into the operator's own network.
    pub allow_private_redirects: bool,
    /// Addresses judged public although they are not: for tests only, so that a feed server on
    /// 127.0.0.1 can stand for the internet.
    pub test_public_addresses: Vec<std::net::IpAddr>,
}

impl Default for FetchSettings {
    fn default() -> Self {
        FetchSettings {
            timeout: Duration::from_secs(20),
            max_body: 15 * 1024 * 1024,
            concurrency: 16,
            per_host: 2,
            user_agent: format!("watchfloor/{}", env!("CARGO_PKG_VERSION")),
            allow_private_redirects: false,
            test_public_addresses: Vec::new(),
        }
    }
}

/// What is kept, and for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Items first seen longer ago are pruned nightly: their text if they have hits, else the
    /// whole item.
    pub items_days: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings { items_days: 365 }
    }
}

/// Validated settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The file they were read from, if any.
    pub source: Option<PathBuf>,
    pub database: PathBuf,
    /// Schedule of feeds that give none.
    pub schedule: Schedule,
    pub fetch: FetchSettings,
    pub mail: MailSettings,
    /// Where `/healthz` and `/metrics` are served; `None`: nowhere (`http.listen: off`).
    pub http_listen: Option<std::net::SocketAddr>,
    pub retention: RetentionSettings,
    /// How long a feed fails before operators are told (`mail.ops`).
    pub feed_alert_after: Duration,
    /// Who may read the hit log and triage; required when `http_listen` is not loopback.
    pub web_auth: WebAuth,
    /// Hosts the listener answers to besides its own address, `localhost` and the host of
    /// `web.base_url`: a request naming any other is refused, so a page that rebinds its
    /// name to this machine cannot read the hit log.
    pub web_allowed_hosts: Vec<HostPort>,
    /// Connections the listener holds at once: each is a file descriptor, and polls, the
    /// database and mail need theirs whatever the web side does.
    pub http_max_connections: usize,
    /// Named webhooks indicators may alert (`alert.webhook`), beside e-mail.
    pub webhooks: Webhooks,
}

/// The operations listener's default address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9477";
/// The listener's default connection cap: far more than reviewers and probes need, and a
/// quarter of the 1,024 descriptors a process gets by default.
pub const DEFAULT_MAX_CONNECTIONS: u64 = 256;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    database: Option<String>,
    schedule: Option<Spanned<String>>,
    #[serde(default)]
    fetch: RawFetch,
    #[serde(default)]
    smtp: RawSmtp,
    #[serde(default)]
    mail: RawMail,
    #[serde(default)]
    web: RawWeb,
    /// Hours, or a number with a unit: `90m`, `6h`, `2d`.
    feed_alert_after: Option<Spanned<String>>,
    #[serde(default)]
    http: RawHttp,
    #[serde(default)]
    retention: RawRetention,
    #[serde(default)]
    webhooks: RawWebhooks,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: Option<Spanned<String>>,
    max_connections: Option<Spanned<u64>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    items_days: Option<Spanned<u64>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFetch {
    /// Seconds.
    timeout: Option<Spanned<u64>>,
    max_body: Option<Spanned<u64>>,
    concurrency: Option<Spanned<u64>>,
    per_host: Option<Spanned<u64>>,
    user_agent: Option<Spanned<String>>,
    allow_private_redirects: Option<bool>,
    test_public_addresses: Option<Vec<Spanned<String>>>,
}

/// Longest `User-Agent` accepted: a header line, not a place for a document.
const MAX_USER_AGENT: usize = 256;

/// Why a `User-Agent` cannot be sent, if it cannot: it goes into every request's header, where
/// a line break would start a header of its own and other control characters make servers
/// refuse the request.
fn user_agent_problem(text: &str) -> Option<String> {
    if text.trim().is_empty() {
        return Some("is empty; leave it out to send the default".into());
    }
    if text.len() > MAX_USER_AGENT {
        return Some(format!(
            "is {} bytes long; at most {MAX_USER_AGENT}",
            text.len()
        ));
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Some(format!(
            "holds the control character {:?}; a header value cannot",
            c
        ));
    }
    if !text.is_ascii() {
        return Some("holds non-ASCII characters; servers may refuse or garble them".into());
    }
    None
}

/// The default schedule: every 15 minutes.
pub const DEFAULT_SCHEDULE: &str = "*/15 * * * *";
/// A feed failing this long is worth an operator's look: long enough for a site's
/// maintenance window or a CDN hiccup to pass unreported.
pub const DEFAULT_FEED_ALERT_AFTER: Duration = Duration::from_secs(6 * 3600);

/// Reads `feed_alert_after`: a plain number is hours (`6`, `1.5`); a number with a unit is
/// seconds, minutes, hours or days (`3600s`, `90m`, `6h`, `2d`).
pub fn parse_alert_after(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let (number, unit) = match trimmed.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => trimmed.split_at(at),
        None => (trimmed, "h"),
    };
    let seconds = match unit.trim() {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => f64::NAN,
    };
    match number.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 && seconds.is_finite() && n * seconds >= 1.0 => {
            Ok(Duration::from_secs((n * seconds).round() as u64))
        }
        _ => Err(format!(
            "'{trimmed}' is not a duration: write hours (6) or a number with a unit \
             (3600s, 90m, 6h, 2d), more than zero"
        )),
    }
}

impl Settings {
    /// The mail settings messages are rendered with: without `web.base_url`, hit log links
    /// go to the listener itself (a wildcard address as loopback), since the daemon knows where
    /// it listens; such links open only on this machine, and messages say so.
    pub fn mail_for_messages(&self) -> MailSettings {
        let mut mail = self.mail.clone();
        if mail.hit_log_base.is_none()
            && let Some(listen) = self.http_listen
        {
            let ip = match listen.ip() {
                std::net::IpAddr::V4(v4) if v4.is_unspecified() => {
                    std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
                }
                std::net::IpAddr::V6(v6) if v6.is_unspecified() => {
                    std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
                }
                ip => ip,
            };
            mail.hit_log_base = Some(format!(
                "http://{}",
                std::net::SocketAddr::new(ip, listen.port())
            ));
            mail.hit_log_local_only = ip.is_loopback();
        }
        mail
    }

    /// Reads the settings. `config` is `--config`; `db` is `--db`; `env` looks up environment
    /// variables (a parameter so tests need not touch the process environment).
    pub fn load(
        config: Option<&Path>,
        db: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let source = match config {
            Some(path) => Some(path.to_owned()),
            None => Some(PathBuf::from(SYSTEM_SETTINGS)).filter(|p| p.exists()),
        };
        let raw = match &source {
            Some(path) => {
                let text = super::error::read_text_bounded(
                    path,
                    MAX_SETTINGS_FILE_BYTES,
                    "settings files",
                    "a full one is a few kilobytes",
                )?;
                if text.trim().is_empty() {
                    RawSettings::default()
                } else {
                    serde_saphyr::from_str(&text).map_err(|e| yaml_error(path, &e))?
                }
            }
            None => RawSettings::default(),
        };
        let file = source
            .clone()
            .unwrap_or_else(|| PathBuf::from("<environment>"));
        let mut problems = Vec::new();
        let problem = |key: &str, line: u64, column: u64, message: String| Problem {
            path: file.clone(),
            line,
            column,
            context: Some(format!("setting '{key}'")),
            kind: ProblemKind::Setting,
            message,
            detail: None,
        };

        let database = db
            .map(Path::to_owned)
            .or_else(|| env("WATCHFLOOR_DB").map(PathBuf::from))
            .or_else(|| raw.database.as_ref().map(PathBuf::from))
            .unwrap_or_else(|| default_database(env));

        let schedule_text = env("WATCHFLOOR_SCHEDULE")
            .map(|s| (s, 0, 0))
            .or_else(|| {
                raw.schedule
                    .as_ref()
                    .map(|s| (s.value.clone(), s.defined.line(), s.defined.column()))
            })
            .unwrap_or_else(|| (DEFAULT_SCHEDULE.to_owned(), 0, 0));
        let schedule = match Schedule::parse(&schedule_text.0) {
            Ok(schedule) => Some(schedule),
            Err(e) => {
                problems.push(problem(
                    "schedule",
                    schedule_text.1,
                    schedule_text.2 + e.column as u64,
                    format!("{e}: '{}'", schedule_text.0),
                ));
                None
            }
        };

        let defaults = FetchSettings::default();
        let allow_private_redirects = match env("WATCHFLOOR_FETCH_ALLOW_PRIVATE_REDIRECTS") {
            Some(text) => match text.trim() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => {
                    problems.push(problem(
                        "fetch.allow_private_redirects",
                        0,
                        0,
                        format!(
                            "WATCHFLOOR_FETCH_ALLOW_PRIVATE_REDIRECTS={text:?} is not true or false"
                        ),
                    ));
                    false
                }
            },
            None => raw
                .fetch
                .allow_private_redirects
                .unwrap_or(defaults.allow_private_redirects),
        };
        let test_public_addresses = {
            let listed: Vec<(String, u64, u64)> =
                match env("WATCHFLOOR_FETCH_TEST_PUBLIC_ADDRESSES") {
                    Some(text) => text
                        .split(',')
                        .filter(|a| !a.trim().is_empty())
                        .map(|a| (a.trim().to_owned(), 0, 0))
                        .collect(),
                    None => raw
                        .fetch
                        .test_public_addresses
                        .iter()
                        .flatten()
                        .map(|a| (a.value.clone(), a.defined.line(), a.defined.column()))
                        .collect(),
                };
            let mut addresses = Vec::new();
            for (text, line, column) in listed {
                match text.parse::<std::net::IpAddr>() {
                    Ok(address) => addresses.push(address),
                    Err(_) => problems.push(problem(
                        "fetch.test_public_addresses",
                        line,
                        column,
                        format!("'{text}' is not an IP address"),
                    )),
                }
            }
            addresses
        };
        let user_agent = match pick(env, "WATCHFLOOR_USER_AGENT", &raw.fetch.user_agent) {
            None => defaults.user_agent.clone(),
            Some(set) => match user_agent_problem(&set.value) {
                None => set.value,
                Some(message) => {
                    problems.push(problem(
                        "fetch.user_agent",
                        set.line,
                        set.column,
                        format!("{}{message}", set.origin("WATCHFLOOR_USER_AGENT")),
                    ));
                    defaults.user_agent.clone()
                }
            },
        };
        let mut number =
            |key: &str, var: &str, file_value: &Option<Spanned<u64>>, default: u64, min: u64| {
                // Where the value came from: a place in the file, or none for the environment.
                let mut place = (0, 0);
                let value = match env(var) {
                    Some(text) => match text.trim().parse::<u64>() {
                        Ok(n) => n,
                        Err(_) => {
                            problems.push(problem(
                                key,
                                0,
                                0,
                                format!("{var}={text:?} is not a number"),
                            ));
                            default
                        }
                    },
                    None => match file_value {
                        Some(s) => {
                            place = (s.defined.line(), s.defined.column());
                            s.value
                        }
                        None => default,
                    },
                };
                if value < min {
                    problems.push(problem(
                        key,
                        place.0,
                        place.1,
                        format!("must be at least {min}, not {value}"),
                    ));
                }
                value
            };
        let fetch = FetchSettings {
            timeout: Duration::from_secs(number(
                "fetch.timeout",
                "WATCHFLOOR_FETCH_TIMEOUT",
                &raw.fetch.timeout,
                defaults.timeout.as_secs(),
                1,
            )),
            max_body: number(
                "fetch.max_body",
                "WATCHFLOOR_FETCH_MAX_BODY",
                &raw.fetch.max_body,
                defaults.max_body,
                1024,
            ),
            concurrency: number(
                "fetch.concurrency",
                "WATCHFLOOR_FETCH_CONCURRENCY",
                &raw.fetch.concurrency,
                defaults.concurrency as u64,
                1,
            ) as usize,
            per_host: number(
                "fetch.per_host",
                "WATCHFLOOR_FETCH_PER_HOST",
                &raw.fetch.per_host,
                defaults.per_host as u64,
                1,
            ) as usize,
            user_agent,
            allow_private_redirects,
            test_public_addresses,
        };
        // Past a century the cutoff date stops meaning anything (and stops fitting a date).
        let items_days = number(
            "retention.items_days",
            "WATCHFLOOR_RETENTION_ITEMS_DAYS",
            &raw.retention.items_days,
            RetentionSettings::default().items_days.into(),
            1,
        )
        .min(36_500) as u32;
        let retention = RetentionSettings { items_days };
        let http_max_connections = number(
            "http.max_connections",
            "WATCHFLOOR_HTTP_MAX_CONNECTIONS",
            &raw.http.max_connections,
            DEFAULT_MAX_CONNECTIONS,
            1,
        )
        .min(u32::MAX.into()) as usize;
        let feed_alert_after = match pick(env, "WATCHFLOOR_FEED_ALERT_AFTER", &raw.feed_alert_after)
        {
            None => DEFAULT_FEED_ALERT_AFTER,
            Some(set) => parse_alert_after(&set.value).unwrap_or_else(|message| {
                problems.push(problem(
                    "feed_alert_after",
                    set.line,
                    set.column,
                    format!("{}{message}", set.origin("WATCHFLOOR_FEED_ALERT_AFTER")),
                ));
                DEFAULT_FEED_ALERT_AFTER
            }),
        };
        let state_dir = database
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_owned();
        let mail = mail::resolve(
            MailInputs {
                smtp: &raw.smtp,
                mail: &raw.mail,
                web: &raw.web,
                env,
                state_dir: &state_dir,
            },
            &mut |key, line, column, message| problems.push(problem(key, line, column, message)),
        );
        let web_auth = web::resolve(&raw.web, env, &mut |key, line, column, message| {
            problems.push(problem(key, line, column, message))
        });
        let webhooks = webhooks::resolve(&raw.webhooks, env, &mut |key, line, column, message| {
            problems.push(problem(key, line, column, message))
        });
        let web_allowed_hosts =
            web::allowed_hosts(&raw.web, env, &mut |key, line, column, message| {
                problems.push(problem(key, line, column, message))
            });
        let (listen_text, line, column) = match pick(env, "WATCHFLOOR_LISTEN", &raw.http.listen) {
            Some(set) => (set.value, set.line, set.column),
            None => (DEFAULT_LISTEN.to_owned(), 0, 0),
        };
        let http_listen = match listen_text.trim() {
            "off" | "none" => None,
            text => match text.parse::<std::net::SocketAddr>() {
                Ok(address) => Some(address),
                Err(_) => {
                    problems.push(problem(
                        "http.listen",
                        line,
                        column,
                        format!(
                            "'{text}' is not an address and port (127.0.0.1:9477, [::1]:9477), \
                             or 'off'"
                        ),
                    ));
                    None
                }
            },
        };
        // The hit log shows every item and lets its users triage: off loopback, only to people
        // who can prove who they are.
        if let Some(address) = http_listen
            && !address.ip().is_loopback()
            && !web_auth.is_configured()
        {
            problems.push(problem(
                "http.listen",
                line,
                column,
                format!(
                    "{address} is not a loopback address, and the hit log would be open to \
                     anyone who can reach it: configure web.token_file or web.basic_auth_file \
                     (WATCHFLOOR_WEB_TOKEN_FILE, WATCHFLOOR_WEB_TOKEN, \
                     WATCHFLOOR_WEB_BASIC_AUTH_FILE), or listen on 127.0.0.1"
                ),
            ));
        }
        match (schedule, mail) {
            (Some(schedule), Some(mail)) if problems.is_empty() => Ok(Settings {
                source,
                database,
                schedule,
                fetch,
                mail,
                http_listen,
                retention,
                feed_alert_after,
                web_auth,
                web_allowed_hosts,
                http_max_connections,
                webhooks,
            }),
            _ => Err(ConfigError::Invalid { problems }),
        }
    }

    /// Checks what the rules ask of the settings: every webhook an indicator's `alert.webhook`
    /// names must be configured. A problem names the indicator and its place in the rules'
    /// file; the daemon refuses to start, or a reload to apply, until it is fixed.
    pub fn check_alert_targets(&self, indicators: &Indicators) -> Result<(), ConfigError> {
        let known = || {
            if self.webhooks.is_empty() {
                "no webhooks are configured in the settings".to_owned()
            } else {
                format!(
                    "the settings configure {}",
                    self.webhooks.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            }
        };
        let problems: Vec<Problem> = indicators
            .indicators
            .iter()
            .flat_map(|indicator| {
                indicator
                    .alert
                    .webhooks
                    .iter()
                    .filter(|w| !self.webhooks.contains_key(&w.name))
                    .map(|w| Problem {
                        path: indicators.path.clone(),
                        line: w.line,
                        column: w.column,
                        context: Some(format!("indicator '{}'", indicator.id)),
                        kind: ProblemKind::Definition,
                        message: format!(
                            "alert.webhook: unknown webhook '{}' ({})",
                            w.name,
                            known()
                        ),
                        detail: None,
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid { problems })
        }
    }

    /// Settings from the process environment.
    pub fn from_process(config: Option<&Path>, db: Option<&Path>) -> Result<Settings, ConfigError> {
        Settings::load(config, db, &|name| std::env::var(name).ok())
    }
}

/// `$STATE_DIRECTORY/watchfloor.db` under systemd, else `./watchfloor.db`.
fn default_database(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    match env("STATE_DIRECTORY") {
        // systemd may pass several directories, colon-separated; the first is ours.
        Some(dirs) if !dirs.is_empty() => {
            PathBuf::from(dirs.split(':').next().unwrap_or(&dirs)).join("watchfloor.db")
        }
        _ => PathBuf::from("watchfloor.db"),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn messages_link_to_the_listener_when_no_base_url_is_set() {
        let mail = load(None, &[]).expect("defaults").mail_for_messages();
        assert_eq!(mail.hit_log_base.as_deref(), Some("http://127.0.0.1:9477"));
        assert!(mail.hit_log_local_only);
        let wildcard = load(None, &[("WATCHFLOOR_LISTEN", "0.0.0.0:9000")]);
        // A wildcard listen needs access configured; only the address matters here.
        if let Ok(settings) = wildcard {
            let mail = settings.mail_for_messages();
            assert_eq!(mail.hit_log_base.as_deref(), Some("http://127.0.0.1:9000"));
        }
        let based = load(
            None,
            &[("WATCHFLOOR_WEB_BASE_URL", "https://wf.example.org/")],
        )
        .expect("base url")
        .mail_for_messages();
        assert_eq!(
            based.hit_log_base.as_deref(),
            Some("https://wf.example.org")
        );
        assert!(!based.hit_log_local_only);
        let off = load(None, &[("WATCHFLOOR_LISTEN", "off")])
            .expect("no listener")
            .mail_for_messages();
        assert_eq!(off.hit_log_base, None);
    }
    use std::collections::HashMap;

    use super::*;

    fn load(file: Option<&str>, vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("watchfloor.yaml");
        if let Some(text) = file {
            std::fs::write(&path, text).expect("write");
        }
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::load(file.map(|_| path.as_path()), None, &|name| {
            vars.get(name).cloned()
        })
    }

    #[test]
    fn defaults_apply_without_a_file() {
        let settings = load(None, &[]).expect("defaults");
        assert_eq!(settings.database, PathBuf::from("watchfloor.db"));
        assert_eq!(settings.schedule.as_str(), DEFAULT_SCHEDULE);
        assert_eq!(settings.fetch, FetchSettings::default());
        assert!(settings.fetch.user_agent.starts_with("watchfloor/"));
        assert_eq!(settings.retention.items_days, 365);
    }

    #[test]
    fn retention_comes_from_the_file_or_the_environment() {
        let file = "retention:\n  items_days: 90\n";
        assert_eq!(
            load(Some(file), &[]).expect("file").retention.items_days,
            90
        );
        let settings = load(Some(file), &[("WATCHFLOOR_RETENTION_ITEMS_DAYS", "30")]).expect("env");
        assert_eq!(settings.retention.items_days, 30);
    }

    #[test]
    fn state_directory_places_the_database_under_systemd() {
        let settings = load(None, &[("STATE_DIRECTORY", "/var/lib/watchfloor")]).expect("ok");
        assert_eq!(
            settings.database,
            PathBuf::from("/var/lib/watchfloor/watchfloor.db")
        );
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let file =
            "database: /srv/a.db\nschedule: '0 * * * *'\nfetch:\n  timeout: 5\n  per_host: 1\n";
        let settings = load(Some(file), &[]).expect("file");
        assert_eq!(settings.database, PathBuf::from("/srv/a.db"));
        assert_eq!(settings.fetch.timeout, Duration::from_secs(5));
        assert_eq!(settings.fetch.per_host, 1);
        let settings = load(
            Some(file),
            &[
                ("WATCHFLOOR_DB", "/tmp/b.db"),
                ("WATCHFLOOR_FETCH_TIMEOUT", "9"),
            ],
        )
        .expect("env");
        assert_eq!(settings.database, PathBuf::from("/tmp/b.db"));
        assert_eq!(settings.fetch.timeout, Duration::from_secs(9));
    }

    #[test]
    fn a_user_agent_is_taken_from_the_file_or_the_environment_and_length_is_capped() {
        let file = "fetch:\n  user_agent: 'watchfloor (ops@example.org)'\n";
        let settings = load(Some(file), &[]).expect("file");
        assert_eq!(settings.fetch.user_agent, "watchfloor (ops@example.org)");
        let settings = load(Some(file), &[("WATCHFLOOR_USER_AGENT", "wf-test/2")]).expect("env");
        assert_eq!(settings.fetch.user_agent, "wf-test/2");
        let long = "a".repeat(MAX_USER_AGENT + 1);
        let err = load(None, &[("WATCHFLOOR_USER_AGENT", &long)])
            .expect_err("too long")
            .to_string();
        assert!(err.contains("257 bytes long; at most 256"), "{err}");
    }

    #[test]
    fn bad_settings_name_the_key_and_place() {
        type Case<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            (Some("databse: x\n"), &[], ":1:1: unknown field `databse`"),
            (Some("schedule: '*/5 * * *'\n"), &[], "setting 'schedule'"),
            (
                Some("fetch:\n  timeout: 0\n"),
                &[],
                "setting 'fetch.timeout': must be at least 1",
            ),
            (
                None,
                &[("WATCHFLOOR_FETCH_CONCURRENCY", "many")],
                "WATCHFLOOR_FETCH_CONCURRENCY=\"many\" is not a number",
            ),
            (
                None,
                &[("WATCHFLOOR_SCHEDULE", "61 * * * *")],
                "invalid minute field '61'",
            ),
            (
                Some("retention:\n  items_days: 0\n"),
                &[],
                ":2:15: setting 'retention.items_days': must be at least 1",
            ),
            (
                Some("retention:\n  item_days: 30\n"),
                &[],
                "unknown field `item_days`",
            ),
            (
                None,
                &[("WATCHFLOOR_RETENTION_ITEMS_DAYS", "a year")],
                "WATCHFLOOR_RETENTION_ITEMS_DAYS=\"a year\" is not a number",
            ), // A User-Agent is a header line: a line break would inject a header of its own.
            (
                Some("fetch:\n  user_agent: \"watchfloor\\r\\nX-Evil: 1\"\n"),
                &[],
                ":2:15: setting 'fetch.user_agent': holds the control character '\\r'",
            ),
            (
                None,
                &[("WATCHFLOOR_USER_AGENT", "wf\u{7f}")],
                "WATCHFLOOR_USER_AGENT: holds the control character '\\u{7f}'",
            ),
            (
                Some("fetch:\n  user_agent: '  '\n"),
                &[],
                "setting 'fetch.user_agent': is empty",
            ),
            (
                Some("fetch:\n  user_agent: 'Wächter/1'\n"),
                &[],
                "setting 'fetch.user_agent': holds non-ASCII characters",
            ),
        ];
        for (file, vars, want) in cases {
            let err = load(*file, vars).expect_err(want).to_string();
            assert!(err.contains(want), "want {want:?} in {err}");
        }
    }

    #[test]
    fn feed_alert_after_reads_hours_or_units_and_names_a_bad_value() {
        let hour = Duration::from_secs(3600);
        assert_eq!(load(None, &[]).expect("ok").feed_alert_after, 6 * hour);
        let cases: &[(&str, Duration)] = &[
            ("6", 6 * hour),
            ("1.5", 90 * 60 * Duration::from_secs(1)),
            ("90m", Duration::from_secs(90 * 60)),
            ("3600s", hour),
            ("2d", 48 * hour),
            (" 12h ", 12 * hour),
        ];
        for (text, want) in cases {
            assert_eq!(parse_alert_after(text), Ok(*want), "{text}");
        }
        for bad in ["", "0", "-3", "six", "6w", "h", "0.1s", "nan"] {
            assert!(parse_alert_after(bad).is_err(), "{bad:?} accepted");
        }
        let file = load(Some("feed_alert_after: 8\n"), &[]).expect("file");
        assert_eq!(file.feed_alert_after, 8 * hour);
        let env = load(
            Some("feed_alert_after: 8\n"),
            &[("WATCHFLOOR_FEED_ALERT_AFTER", "30m")],
        )
        .expect("env");
        assert_eq!(env.feed_alert_after, Duration::from_secs(1800));
        let err = load(Some("database: x.db\nfeed_alert_after: soon\n"), &[])
            .expect_err("bad")
            .to_string();
        assert!(
            err.contains(":2:") && err.contains("setting 'feed_alert_after'"),
            "{err}"
        );
        assert!(err.contains("'soon' is not a duration"), "{err}");
        let err = load(None, &[("WATCHFLOOR_FEED_ALERT_AFTER", "0")])
            .expect_err("zero")
            .to_string();
        assert!(err.contains("WATCHFLOOR_FEED_ALERT_AFTER: '0'"), "{err}");
    }
}
