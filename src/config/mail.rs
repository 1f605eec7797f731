//! The mail part of the operators' settings: the SMTP transport, senders and recipients, and
//! the noise controls (grouping, hourly cap, digest schedule).
//!
//! The SMTP password never comes from the YAML file: it is read from the environment, a file
//! named in the settings, or a systemd credential, and it never prints.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use lettre::Address;
use serde::Deserialize;
use serde_saphyr::Spanned;

pub use super::values::Secret;
use super::values::redact_url_passwords;
use super::values::{Sourced, pick};
use super::web::RawWeb;
use crate::schedule::Schedule;

/// Whether an indicator's hits are mailed as they come or collected for the digest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertMode {
    #[default]
    Immediate,
    Digest,
}

impl AlertMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertMode::Immediate => "immediate",
            AlertMode::Digest => "digest",
        }
    }

    pub fn parse(text: &str) -> Option<AlertMode> {
        match text {
            "immediate" => Some(AlertMode::Immediate),
            "digest" => Some(AlertMode::Digest),
            _ => None,
        }
    }
}

/// Whether the SMTP connection must be encrypted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsMode {
    /// `smtp://`: STARTTLS, refusing a server that does not offer it. `smtps://` is always TLS.
    #[default]
    Required,
    /// Plain SMTP: only for a relay on a loopback address, where nothing crosses a network.
    None,
}

/// An SMTP server to send through. Its `Debug` leaves out the URL's password, which
/// `WATCHFLOOR_SMTP_URL` may carry.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// As configured, in lettre's URL form (`smtp://host:port`, `smtps://user@host`); any
    /// password in it has been refused.
    pub url: url::Url,
    pub tls: TlsMode,
    pub password: Option<Secret>,
    /// Extra trusted root certificate (PEM), for a relay with a private CA.
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("url", &self.display_url())
            .field("tls", &self.tls)
            .field("password", &self.password)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl SmtpSettings {
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or("")
    }

    /// The URL without credentials, for logs.
    pub fn display_url(&self) -> String {
        let mut url = self.url.clone();
        let _ = url.set_password(None);
        url.to_string()
    }
}

/// Where alerts go and how often.
#[derive(Clone, Debug)]
pub struct MailSettings {
    /// `None`: no server configured, messages are written as `.eml` files to `dir`.
    pub smtp: Option<SmtpSettings>,
    /// Folder of `.eml` files when no SMTP server is configured.
    pub dir: PathBuf,
    pub from: String,
    /// Default recipients of indicators that name none.
    pub to: Vec<String>,
    /// Recipients of operational mail (feed health).
    pub ops: Vec<String>,
    /// Default mode of indicators that set none.
    pub mode: AlertMode,
    /// Immediate hits of one indicator within this window go in one message.
    pub group_wait: Duration,
    /// Messages per recipient per hour before the overflow is rolled into one summary.
    pub max_per_hour: u32,
    /// When the digest goes out.
    pub digest: Schedule,
    /// Base URL of the web hit log, for links in messages.
    pub hit_log_base: Option<String>,
    /// Whether `hit_log_base` is the listener on this machine's loopback, which no other
    /// machine reaches: messages say so ([`super::Settings::mail_for_messages`]).
    pub hit_log_local_only: bool,
}

impl MailSettings {
    /// The domain of the sender, for Message-IDs.
    pub fn from_domain(&self) -> &str {
        self.from
            .rsplit_once('@')
            .map(|(_, domain)| domain.trim_end_matches('>'))
            .unwrap_or("localhost")
    }
}

pub const DEFAULT_FROM: &str = "watchfloor@localhost";
pub const DEFAULT_TO: &str = "analysts@localhost";
pub const DEFAULT_DIGEST: &str = "0 7 * * *";

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSmtp {
    url: Option<Spanned<String>>,
    password_file: Option<String>,
    ca_file: Option<String>,
}

/// The longest `group_wait`: alerts held longer than a day are no longer alerts.
pub const MAX_GROUP_WAIT_SECONDS: u64 = 24 * 60 * 60;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMail {
    from: Option<Spanned<String>>,
    to: Option<Vec<Spanned<String>>>,
    ops: Option<Vec<Spanned<String>>>,
    tls: Option<Spanned<String>>,
    mode: Option<AlertMode>,
    /// Seconds.
    group_wait: Option<Spanned<u64>>,
    max_per_hour: Option<Spanned<u64>>,
    digest_schedule: Option<Spanned<String>>,
    dir: Option<String>,
}

/// Checks an e-mail address as lettre will use it.
pub fn check_address(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    Address::from_str(trimmed)
        .map(|_| trimmed.to_owned())
        .map_err(|e| format!("'{trimmed}' is not an e-mail address ({e})"))
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Everything `resolve` needs from the rest of the settings.
pub(super) struct MailInputs<'a> {
    pub smtp: &'a RawSmtp,
    pub mail: &'a RawMail,
    pub web: &'a RawWeb,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Folder holding the database: the `.eml` folder goes beside it by default.
    pub state_dir: &'a Path,
}

/// Validates the mail settings; each problem is reported through `problem(key, line, column,
/// message)`.
pub(super) fn resolve(
    inputs: MailInputs<'_>,
    problem: &mut dyn FnMut(&str, u64, u64, String),
) -> Option<MailSettings> {
    let MailInputs {
        smtp,
        mail,
        web,
        env,
        state_dir,
    } = inputs;
    let mut failed = false;
    let mut report = |key: &str, line: u64, column: u64, message: String| {
        failed = true;
        problem(key, line, column, message);
    };

    let tls_sourced = pick(env, "WATCHFLOOR_MAIL_TLS", &mail.tls);
    // Where `mail.tls` was set, for the message that refuses `none` towards a remote relay.
    let tls_place = tls_sourced.as_ref().map_or((0, 0), |s| (s.line, s.column));
    let tls = match tls_sourced {
        None => TlsMode::Required,
        Some(s) => match s.value.trim() {
            "required" => TlsMode::Required,
            "none" => TlsMode::None,
            other => {
                report(
                    "mail.tls",
                    s.line,
                    s.column,
                    format!("must be 'required' or 'none', not '{other}'"),
                );
                TlsMode::Required
            }
        },
    };

    let password_file = env("WATCHFLOOR_SMTP_PASSWORD_FILE")
        .or_else(|| smtp.password_file.clone())
        .map(PathBuf::from)
        .or_else(|| {
            // systemd's LoadCredential= puts the secret here.
            env("CREDENTIALS_DIRECTORY")
                .map(|dir| PathBuf::from(dir).join("smtp-password"))
                .filter(|p| p.exists())
        });
    let password = match env("WATCHFLOOR_SMTP_PASSWORD") {
        Some(p) if !p.is_empty() => Some(Secret::new(p)),
        _ => match &password_file {
            None => None,
            Some(path) => match super::values::read_secret_file(path) {
                // An empty secret (the unit's fallback credential) means no password: a relay
                // that takes mail without login.
                Ok(text) => Some(text.trim_end_matches(['\r', '\n']).to_owned())
                    .filter(|p| !p.is_empty())
                    .map(Secret::new),
                Err(message) => {
                    report("smtp.password_file", 0, 0, message);
                    None
                }
            },
        },
    };

    let smtp_settings = match pick(env, "WATCHFLOOR_SMTP_URL", &smtp.url) {
        None => None,
        Some(s) if s.value.trim().is_empty() => None,
        Some(s) => match url::Url::parse(s.value.trim()) {
            Err(e) => {
                report(
                    "smtp.url",
                    s.line,
                    s.column,
                    format!(
                        "'{}' is not a URL ({e}); write smtp://host:port or smtps://user@host",
                        redact_url_passwords(&s.value)
                    ),
                );
                None
            }
            Ok(url) => {
                let mut ok = true;
                if url.scheme() != "smtp" && url.scheme() != "smtps" {
                    report(
                        "smtp.url",
                        s.line,
                        s.column,
                        format!("scheme '{}' is not smtp or smtps", url.scheme()),
                    );
                    ok = false;
                }
                if url.host_str().is_none_or(str::is_empty) {
                    report("smtp.url", s.line, s.column, "the URL names no host".into());
                    ok = false;
                }
                if url.password().is_some() && s.from_file {
                    report(
                        "smtp.url",
                        s.line,
                        s.column,
                        "the URL holds a password: put it in smtp.password_file, a systemd \
                         credential or WATCHFLOOR_SMTP_PASSWORD, never in this file"
                            .into(),
                    );
                    ok = false;
                }
                let host = url.host_str().unwrap_or("").to_owned();
                if tls == TlsMode::None && url.scheme() == "smtp" && !is_loopback(&host) {
                    report(
                        "mail.tls",
                        tls_place.0,
                        tls_place.1,
                        format!(
                            "'none' is allowed only for a relay on a loopback address, not \
                             '{host}': mail would cross the network in clear"
                        ),
                    );
                    ok = false;
                }
                let password = password.clone().or_else(|| url.password().map(Secret::new));
                if password.is_some() && url.username().is_empty() {
                    report(
                        "smtp.url",
                        s.line,
                        s.column,
                        "a password is configured but the URL names no user \
                         (smtps://user@host)"
                            .into(),
                    );
                    ok = false;
                }
                ok.then(|| SmtpSettings {
                    url,
                    tls,
                    password,
                    ca_file: env("WATCHFLOOR_SMTP_CA_FILE")
                        .or_else(|| smtp.ca_file.clone())
                        .map(PathBuf::from),
                })
            }
        },
    };
    if let Some(SmtpSettings {
        ca_file: Some(path),
        ..
    }) = &smtp_settings
        && !path.exists()
    {
        report(
            "smtp.ca_file",
            0,
            0,
            format!("{} does not exist", path.display()),
        );
    }

    let from = match pick(env, "WATCHFLOOR_MAIL_FROM", &mail.from) {
        None => DEFAULT_FROM.to_owned(),
        Some(s) => check_address(&s.value).unwrap_or_else(|message| {
            report("mail.from", s.line, s.column, message);
            String::new()
        }),
    };

    let mut addresses =
        |key: &str, var: &str, file: &Option<Vec<Spanned<String>>>, default: &[&str]| {
            let listed: Vec<Sourced> = match env(var) {
                Some(text) => text
                    .split(',')
                    .filter(|a| !a.trim().is_empty())
                    .map(|a| Sourced {
                        value: a.to_owned(),
                        line: 0,
                        column: 0,
                        from_file: false,
                    })
                    .collect(),
                None => match file {
                    Some(list) => list
                        .iter()
                        .map(|s| Sourced {
                            value: s.value.clone(),
                            line: s.defined.line(),
                            column: s.defined.column(),
                            from_file: true,
                        })
                        .collect(),
                    None => {
                        return default.iter().map(|a| (*a).to_owned()).collect();
                    }
                },
            };
            let mut good = Vec::new();
            for s in listed {
                match check_address(&s.value) {
                    Ok(address) => good.push(address),
                    Err(message) => report(key, s.line, s.column, message),
                }
            }
            good
        };
    let to = addresses("mail.to", "WATCHFLOOR_MAIL_TO", &mail.to, &[DEFAULT_TO]);
    let ops = addresses("mail.ops", "WATCHFLOOR_MAIL_OPS", &mail.ops, &[]);

    let mode = match env("WATCHFLOOR_MAIL_MODE") {
        Some(text) => AlertMode::parse(text.trim()).unwrap_or_else(|| {
            report(
                "mail.mode",
                0,
                0,
                format!("WATCHFLOOR_MAIL_MODE={text:?}: use immediate or digest"),
            );
            AlertMode::Immediate
        }),
        None => mail.mode.unwrap_or_default(),
    };

    // A number from the environment or the file, refused above `max` with its place: a value
    // the alert plan cannot hold must not quietly become another one.
    let mut number =
        |key: &str, var: &str, file: &Option<Spanned<u64>>, default: u64, max: u64, unit: &str| {
            let (value, line, column, origin) = match env(var) {
                Some(text) => match text.trim().parse::<u64>() {
                    Ok(value) => (value, 0, 0, format!("{var}={text:?}: ")),
                    Err(_) => {
                        report(key, 0, 0, format!("{var}={text:?} is not a number"));
                        return default;
                    }
                },
                None => match file {
                    Some(set) => (
                        set.value,
                        set.defined.line(),
                        set.defined.column(),
                        String::new(),
                    ),
                    None => return default,
                },
            };
            if value > max {
                report(
                    key,
                    line,
                    column,
                    format!("{origin}{value} is more than the most this can be, {max} {unit}"),
                );
                return default;
            }
            value
        };
    let group_wait = Duration::from_secs(number(
        "mail.group_wait",
        "WATCHFLOOR_MAIL_GROUP_WAIT",
        &mail.group_wait,
        30,
        MAX_GROUP_WAIT_SECONDS,
        "seconds (a day)",
    ));
    let max_per_hour = number(
        "mail.max_per_hour",
        "WATCHFLOOR_MAIL_MAX_PER_HOUR",
        &mail.max_per_hour,
        20,
        u64::from(u32::MAX),
        "messages",
    );
    if max_per_hour == 0 {
        report(
            "mail.max_per_hour",
            0,
            0,
            "must be at least 1: the overflow summary itself needs a message".into(),
        );
    }

    let digest_text = pick(
        env,
        "WATCHFLOOR_MAIL_DIGEST_SCHEDULE",
        &mail.digest_schedule,
    )
    .unwrap_or(Sourced {
        value: DEFAULT_DIGEST.to_owned(),
        line: 0,
        column: 0,
        from_file: false,
    });
    let digest = match Schedule::parse(&digest_text.value) {
        Ok(schedule) => Some(schedule),
        Err(e) => {
            report(
                "mail.digest_schedule",
                digest_text.line,
                digest_text.column + e.column as u64,
                format!("{e}: '{}'", digest_text.value),
            );
            None
        }
    };

    let hit_log_base = match pick(env, "WATCHFLOOR_WEB_BASE_URL", &web.base_url) {
        None => None,
        Some(s) => match url::Url::parse(s.value.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {
                Some(s.value.trim().trim_end_matches('/').to_owned())
            }
            _ => {
                report(
                    "web.base_url",
                    s.line,
                    s.column,
                    format!("'{}' is not an http or https URL", s.value),
                );
                None
            }
        },
    };

    let dir = env("WATCHFLOOR_MAIL_DIR")
        .or_else(|| mail.dir.clone())
        .map(PathBuf::from)
        .unwrap_or_else(|| state_dir.join("mail"));

    if failed {
        return None;
    }
    Some(MailSettings {
        smtp: smtp_settings,
        dir,
        from,
        to,
        ops,
        mode,
        group_wait,
        max_per_hour: max_per_hour.min(u64::from(u32::MAX)) as u32,
        digest: digest?,
        hit_log_base,
        hit_log_local_only: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_recognised() {
        for host in ["localhost", "127.0.0.1", "127.3.4.5", "[::1]", "::1"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["mail.example.org", "10.0.0.1", "192.168.1.1"] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
