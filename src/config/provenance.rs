//! The settings in force and where each came from, for `watchfloor config`: an operator who
//! asks "why does it send to that address?" gets the value and its source (the default, a
//! line of the settings file, an environment variable, the command line) in one table.
//!
//! Values are read from the validated [`Settings`], so the table shows what the daemon would
//! run with, not what a file says; secrets show only whether they are set.

use std::path::{Path, PathBuf};

use super::settings::Settings;
use super::values::redact_url_passwords;

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Default,
    /// The settings file, at this line and column (1-based).
    File {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    Environment(&'static str),
    CommandLine(&'static str),
    /// A systemd credential (`$CREDENTIALS_DIRECTORY/NAME`).
    Credential(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File { path, line, column } => {
                write!(f, "{}:{line}:{column}", path.display())
            }
            Source::Environment(var) => write!(f, "environment {var}"),
            Source::CommandLine(flag) => write!(f, "command line {flag}"),
            Source::Credential(path) => write!(f, "credential {path}"),
        }
    }
}

/// One setting in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    /// As written in the settings file: `mail.to`.
    pub key: &'static str,
    pub value: String,
    pub source: Source,
}

/// Every setting, its value in force, and its source. `file_text` is the settings file that
/// was read (its path is `settings.source`); `db_flag` says whether `--db` was given.
pub fn effective(
    settings: &Settings,
    file_text: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    db_flag: bool,
) -> Vec<Effective> {
    let list = |items: &[String]| {
        if items.is_empty() {
            "(none)".to_owned()
        } else {
            items.join(", ")
        }
    };
    let set = |secret: bool| if secret { "(set)" } else { "(not set)" }.to_owned();
    let optional_path = |p: &Option<PathBuf>| {
        p.as_ref()
            .map_or("(none)".to_owned(), |p| p.display().to_string())
    };
    let fetch = &settings.fetch;
    let mail = &settings.mail;
    let smtp = mail.smtp.as_ref();
    let values: Vec<(&'static str, &'static str, String)> = vec![
        (
            "database",
            "WATCHFLOOR_DB",
            settings.database.display().to_string(),
        ),
        (
            "schedule",
            "WATCHFLOOR_SCHEDULE",
            settings.schedule.to_string(),
        ),
        (
            "fetch.timeout",
            "WATCHFLOOR_FETCH_TIMEOUT",
            format!("{}s", fetch.timeout.as_secs()),
        ),
        (
            "fetch.max_body",
            "WATCHFLOOR_FETCH_MAX_BODY",
            fetch.max_body.to_string(),
        ),
        (
            "fetch.concurrency",
            "WATCHFLOOR_FETCH_CONCURRENCY",
            fetch.concurrency.to_string(),
        ),
        (
            "fetch.per_host",
            "WATCHFLOOR_FETCH_PER_HOST",
            fetch.per_host.to_string(),
        ),
        (
            "fetch.user_agent",
            "WATCHFLOOR_USER_AGENT",
            fetch.user_agent.clone(),
        ),
        (
            "fetch.allow_private_redirects",
            "WATCHFLOOR_FETCH_ALLOW_PRIVATE_REDIRECTS",
            fetch.allow_private_redirects.to_string(),
        ),
        (
            "fetch.test_public_addresses",
            "WATCHFLOOR_FETCH_TEST_PUBLIC_ADDRESSES",
            list(
                &fetch
                    .test_public_addresses
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "smtp.url",
            "WATCHFLOOR_SMTP_URL",
            smtp.map_or(
                "(none: messages are written as .eml files)".to_owned(),
                |s| redact_url_passwords(s.url.as_str()),
            ),
        ),
        (
            "smtp.password",
            "WATCHFLOOR_SMTP_PASSWORD",
            set(smtp.is_some_and(|s| s.password.is_some())),
        ),
        (
            "smtp.password_file",
            "WATCHFLOOR_SMTP_PASSWORD_FILE",
            optional_path(&password_file(file_text, env)),
        ),
        (
            "smtp.ca_file",
            "WATCHFLOOR_SMTP_CA_FILE",
            optional_path(&smtp.and_then(|s| s.ca_file.clone())),
        ),
        (
            "mail.tls",
            "WATCHFLOOR_MAIL_TLS",
            smtp.map_or("-".to_owned(), |s| format!("{:?}", s.tls).to_lowercase()),
        ),
        ("mail.from", "WATCHFLOOR_MAIL_FROM", mail.from.clone()),
        ("mail.to", "WATCHFLOOR_MAIL_TO", list(&mail.to)),
        ("mail.ops", "WATCHFLOOR_MAIL_OPS", list(&mail.ops)),
        (
            "mail.mode",
            "WATCHFLOOR_MAIL_MODE",
            mail.mode.as_str().to_owned(),
        ),
        (
            "mail.group_wait",
            "WATCHFLOOR_MAIL_GROUP_WAIT",
            format!("{}s", mail.group_wait.as_secs()),
        ),
        (
            "mail.max_per_hour",
            "WATCHFLOOR_MAIL_MAX_PER_HOUR",
            mail.max_per_hour.to_string(),
        ),
        (
            "mail.digest_schedule",
            "WATCHFLOOR_MAIL_DIGEST_SCHEDULE",
            mail.digest.to_string(),
        ),
        (
            "mail.dir",
            "WATCHFLOOR_MAIL_DIR",
            mail.dir.display().to_string(),
        ),
        (
            "web.base_url",
            "WATCHFLOOR_WEB_BASE_URL",
            mail.hit_log_base
                .clone()
                .unwrap_or_else(|| "(none: links use http.listen)".to_owned()),
        ),
        (
            "web.token",
            "WATCHFLOOR_WEB_TOKEN",
            set(settings.web_auth.token.is_some()),
        ),
        (
            "web.basic_auth_file",
            "WATCHFLOOR_WEB_BASIC_AUTH_FILE",
            settings
                .web_auth
                .basic
                .as_ref()
                .map_or("(not set)".to_owned(), |b| {
                    format!("(set: user {})", b.user)
                }),
        ),
        (
            "web.allowed_hosts",
            "WATCHFLOOR_WEB_ALLOWED_HOSTS",
            list(
                &settings
                    .web_allowed_hosts
                    .iter()
                    .map(|h| h.to_string())
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "http.listen",
            "WATCHFLOOR_LISTEN",
            settings
                .http_listen
                .map_or("off".to_owned(), |a| a.to_string()),
        ),
        (
            "http.max_connections",
            "WATCHFLOOR_HTTP_MAX_CONNECTIONS",
            settings.http_max_connections.to_string(),
        ),
        (
            "retention.items_days",
            "WATCHFLOOR_RETENTION_ITEMS_DAYS",
            settings.retention.items_days.to_string(),
        ),
        (
            "feed_alert_after",
            "WATCHFLOOR_FEED_ALERT_AFTER",
            format!("{}s", settings.feed_alert_after.as_secs()),
        ),
    ];
    let path = settings.source.clone().unwrap_or_default();
    values
        .into_iter()
        .map(|(key, var, value)| {
            let source = if key == "database" && db_flag {
                Source::CommandLine("--db")
            } else if env(var).is_some() {
                Source::Environment(var)
            } else if let Some((line, column)) = file_text.and_then(|t| locate_key(t, key)) {
                Source::File {
                    path: path.clone(),
                    line,
                    column,
                }
            } else if key == "smtp.password_file" || key == "smtp.password" {
                credential(env).map_or(Source::Default, Source::Credential)
            } else if key == "database" && env("STATE_DIRECTORY").is_some() {
                Source::Environment("STATE_DIRECTORY")
            } else {
                Source::Default
            };
            Effective { key, value, source }
        })
        .collect()
}

/// The SMTP password file in use, as `mail::resolve` picks it.
fn password_file(file_text: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("WATCHFLOOR_SMTP_PASSWORD_FILE")
        .or_else(|| file_text.and_then(|t| value_of(t, "smtp.password_file")))
        .map(PathBuf::from)
        .or_else(|| credential(env).map(PathBuf::from))
}

fn credential(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    env("CREDENTIALS_DIRECTORY")
        .map(|dir| Path::new(&dir).join("smtp-password"))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
}

/// The line and column (1-based) where `key` (`mail.to`) is written in a settings file: as a
/// block mapping (`mail:` then an indented `to:`) or in a flow mapping on the parent's line
/// (`mail: {to: [...]}`). Comments and quoted text are not keys.
pub fn locate_key(text: &str, key: &str) -> Option<(usize, usize)> {
    let parts: Vec<&str> = key.split('.').collect();
    // The open mapping keys by indentation: (indent, name).
    let mut open: Vec<(usize, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let content = line.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') || content.starts_with("---") {
            continue;
        }
        let indent = line.len() - content.len();
        while open.last().is_some_and(|(i, _)| *i >= indent) {
            open.pop();
        }
        let Some((name, rest)) = content.split_once(':') else {
            continue;
        };
        let name = name.trim().trim_matches(['"', '\'']);
        // List items and text that only looks like a key are not keys.
        if name.is_empty() || content.starts_with("- ") || name.contains([' ', '{', '[']) {
            continue;
        }
        let mut path: Vec<&str> = open.iter().map(|(_, k)| k.as_str()).collect();
        path.push(name);
        if path == parts {
            return Some((n + 1, indent + 1));
        }
        // A flow mapping on this line: `mail: {from: a, to: [b]}`.
        if parts.len() == path.len() + 1 && parts[..path.len()] == path[..] {
            let rest = rest.split(" #").next().unwrap_or(rest);
            if let Some(brace) = rest.find('{') {
                let last = parts[parts.len() - 1];
                let flow = &rest[brace..];
                let found = [
                    format!("{{{last}:"),
                    format!(" {last}:"),
                    format!(",{last}:"),
                ]
                .iter()
                .filter_map(|needle| {
                    flow.find(needle.as_str())
                        .map(|at| at + needle.len() - last.len() - 1)
                })
                .min();
                if let Some(at) = found {
                    let column = line.len() - rest.len() + brace + at + 1;
                    return Some((n + 1, column));
                }
            }
        }
        open.push((indent, name.to_owned()));
    }
    None
}

/// The plain value written for `key` in the file, when it is a scalar on the key's line.
fn value_of(text: &str, key: &str) -> Option<String> {
    let (line, column) = locate_key(text, key)?;
    let line = text.lines().nth(line - 1)?;
    let after = &line[column - 1..];
    let value = after.split_once(':')?.1;
    let value = value.split(" #").next().unwrap_or(value).trim();
    let value = value
        .trim_end_matches(['}', ','])
        .trim()
        .trim_matches(['"', '\'']);
    (!value.is_empty() && !value.starts_with(['{', '['])).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# Operator settings.
database: /srv/wf.db
fetch:
  timeout: 30        # seconds
  user_agent: 'watchfloor (ops@example.org)'
mail: {from: wf@example.org, to: [desk@example.org]}
smtp:
  url: smtps://wf@mail.example.org
  password_file: /etc/watchfloor/pw
http:
  # listen: 0.0.0.0:9477
  max_connections: 64
";

    #[test]
    fn keys_are_found_in_block_and_flow_mappings_and_not_in_comments() {
        assert_eq!(locate_key(FILE, "database"), Some((2, 1)));
        assert_eq!(locate_key(FILE, "fetch.timeout"), Some((4, 3)));
        assert_eq!(locate_key(FILE, "fetch.user_agent"), Some((5, 3)));
        assert_eq!(locate_key(FILE, "mail.from"), Some((6, 8)));
        assert_eq!(locate_key(FILE, "mail.to"), Some((6, 30)));
        assert_eq!(locate_key(FILE, "smtp.url"), Some((8, 3)));
        assert_eq!(locate_key(FILE, "http.max_connections"), Some((12, 3)));
        assert_eq!(locate_key(FILE, "http.listen"), None);
        assert_eq!(locate_key(FILE, "timeout"), None);
        assert_eq!(locate_key(FILE, "mail.ops"), None);
        assert_eq!(
            value_of(FILE, "smtp.password_file").as_deref(),
            Some("/etc/watchfloor/pw")
        );
    }

    #[test]
    fn each_value_names_its_source_and_secrets_never_show() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("watchfloor.yaml");
        std::fs::write(&path, FILE).unwrap();
        std::fs::write(dir.path().join("pw"), "unused").unwrap();
        let env = |name: &str| match name {
            "WATCHFLOOR_MAIL_OPS" => Some("ops@example.org".to_owned()),
            "WATCHFLOOR_SMTP_PASSWORD" => Some("s3cret-value".to_owned()),
            _ => None,
        };
        let settings = Settings::load(Some(&path), None, &env).unwrap();
        let table = effective(&settings, Some(FILE), &env, false);
        let row = |key: &str| table.iter().find(|e| e.key == key).unwrap().clone();
        let at = |line, column| Source::File {
            path: path.clone(),
            line,
            column,
        };
        assert_eq!(row("database").source, at(2, 1));
        assert_eq!(row("database").value, "/srv/wf.db");
        assert_eq!(row("fetch.timeout").value, "30s");
        assert_eq!(row("fetch.timeout").source, at(4, 3));
        assert_eq!(row("fetch.concurrency").source, Source::Default);
        assert_eq!(row("mail.to").value, "desk@example.org");
        assert_eq!(row("mail.to").source, at(6, 30));
        assert_eq!(row("mail.ops").value, "ops@example.org");
        assert_eq!(
            row("mail.ops").source,
            Source::Environment("WATCHFLOOR_MAIL_OPS")
        );
        assert_eq!(row("smtp.password").value, "(set)");
        assert_eq!(row("http.max_connections").value, "64");
        let everything = format!("{table:?}");
        assert!(!everything.contains("s3cret-value"), "{everything}");
        assert_eq!(row("smtp.url").value, "smtps://wf@mail.example.org");
        assert_eq!(row("smtp.url").source, at(8, 3));

        // --db wins over everything, and says so.
        let table = effective(&settings, Some(FILE), &env, true);
        assert_eq!(
            table.iter().find(|e| e.key == "database").unwrap().source,
            Source::CommandLine("--db")
        );
    }
}
