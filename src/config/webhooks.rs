//! The `webhooks:` part of the operators' settings: named HTTP endpoints that alerts are
//! posted to beside (or instead of) e-mail, each with the body format its receiver reads.
//!
//! ```yaml
//! webhooks:
//!   ops-chat: {url: "https://chat.example.org/hooks/x1y2z3", format: mattermost}
//!   siem: {url: "https://siem.internal:8443/watchfloor", format: json, secret_file: /etc/watchfloor/siem-key}
//! ```
//!
//! A webhook's secret never comes from the YAML file: it is read from `secret_file`, else
//! from the systemd credential `webhook-NAME` (`$CREDENTIALS_DIRECTORY/webhook-NAME`), and
//! never prints. A secret file others may read is refused. What the secret is for depends on
//! the format: the key of the `json` format's HMAC signature, the access token of `matrix`;
//! the chat formats carry their secret in the URL itself and take none.
//!
//! Unlike feeds, a webhook may be on a private or loopback address (an operator's own
//! Mattermost often is): its address is the operator's choice, not a feed's. What keeps it
//! from going elsewhere is that redirects are never followed (see `alert::webhook`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::values::Secret;

/// The longest webhook name: it is shown in `watchfloor alerts` and stored in every row.
const NAME_MAX: usize = 64;

/// The body a receiver reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WebhookFormat {
    /// Slack incoming webhook: `{"text": ...}` in Slack's mrkdwn.
    Slack,
    /// Mattermost incoming webhook: `{"text": ...}` in Markdown.
    Mattermost,
    /// Microsoft Teams incoming webhook or Workflows trigger: an Adaptive Card.
    Teams,
    /// A Matrix room: an `m.room.message` event, `PUT` to the room's send endpoint.
    Matrix,
    /// watchfloor's own JSON document, signed with HMAC-SHA256 when a secret is set.
    Json,
}

impl WebhookFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Slack => "slack",
            WebhookFormat::Mattermost => "mattermost",
            WebhookFormat::Teams => "teams",
            WebhookFormat::Matrix => "matrix",
            WebhookFormat::Json => "json",
        }
    }

    pub fn parse(text: &str) -> Option<WebhookFormat> {
        Some(match text {
            "slack" => WebhookFormat::Slack,
            "mattermost" => WebhookFormat::Mattermost,
            "teams" => WebhookFormat::Teams,
            "matrix" => WebhookFormat::Matrix,
            "json" => WebhookFormat::Json,
            _ => return None,
        })
    }

    /// Whether the format uses a secret, and whether it must have one.
    fn secret_use(self) -> SecretUse {
        match self {
            WebhookFormat::Slack | WebhookFormat::Mattermost | WebhookFormat::Teams => {
                SecretUse::None
            }
            WebhookFormat::Matrix => SecretUse::Required,
            WebhookFormat::Json => SecretUse::Optional,
        }
    }
}

enum SecretUse {
    None,
    Optional,
    Required,
}

/// One configured webhook. Its `Debug` leaves out the URL's path and query, where chat
/// services put the token that lets anyone post.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    pub name: String,
    pub url: url::Url,
    pub format: WebhookFormat,
    /// The `json` signing key or the Matrix access token.
    pub secret: Option<Secret>,
}

impl Webhook {
    /// The URL without its path and query, for logs and messages.
    pub fn display_url(&self) -> String {
        let host = self.url.host_str().unwrap_or("");
        match self.url.port() {
            Some(port) => format!("{}://{host}:{port}/…", self.url.scheme()),
            None => format!("{}://{host}/…", self.url.scheme()),
        }
    }
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("name", &self.name)
            .field("url", &self.display_url())
            .field("format", &self.format)
            .field("secret", &self.secret)
            .finish()
    }
}

/// The configured webhooks by name.
pub type Webhooks = BTreeMap<String, Webhook>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhook {
    url: Spanned<String>,
    format: Spanned<String>,
    secret_file: Option<Spanned<String>>,
}

/// The `webhooks:` map as written.
pub(super) type RawWebhooks = HashMap<Spanned<String>, RawWebhook>;

/// Whether `name` may name a webhook: what indicators.yaml writes, and what the outbox
/// stores beside e-mail addresses, which always hold an `@` and so never equal a name.
fn check_name(name: &str) -> Result<(), String> {
    let good = !name.is_empty()
        && name.len() <= NAME_MAX
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if good {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a webhook name: lowercase letters, digits, '-' and '_', starting \
             with a letter, at most {NAME_MAX} characters"
        ))
    }
}

fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Reads a secret file: refused when others may read it, too large, or empty.
fn read_secret(path: &Path) -> Result<Secret, String> {
    let metadata =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode();
        if mode & 0o007 != 0 {
            return Err(format!(
                "{} can be read by every user of this machine (mode {:o}): \
                 chmod o-rwx it, or pass it as a systemd credential",
                path.display(),
                mode & 0o777
            ));
        }
    }
    let text = super::values::read_secret_file(path)?;
    let secret = text.trim_end_matches(['\r', '\n']);
    if secret.trim().is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(Secret::new(secret))
}

/// Validates the webhooks; each problem is reported through `problem(key, line, column,
/// message)`. Returns the valid ones, by name.
pub(super) fn resolve(
    raw: &RawWebhooks,
    env: &dyn Fn(&str) -> Option<String>,
    problem: &mut dyn FnMut(&str, u64, u64, String),
) -> Webhooks {
    let mut entries: Vec<(&Spanned<String>, &RawWebhook)> = raw.iter().collect();
    entries.sort_by_key(|(name, _)| (name.defined.line(), name.defined.column()));
    let mut webhooks = Webhooks::new();
    for (name, hook) in entries {
        let key = format!("webhooks.{}", name.value);
        let mut ok = true;
        let mut report = |line: u64, column: u64, message: String| {
            ok = false;
            problem(&key, line, column, message);
        };
        if let Err(message) = check_name(&name.value) {
            report(name.defined.line(), name.defined.column(), message);
        }
        let (url_line, url_column) = (hook.url.defined.line(), hook.url.defined.column());
        let format = match WebhookFormat::parse(hook.format.value.trim()) {
            Some(format) => Some(format),
            None => {
                report(
                    hook.format.defined.line(),
                    hook.format.defined.column(),
                    format!(
                        "format '{}' is not one of slack, mattermost, teams, matrix, json",
                        hook.format.value.trim()
                    ),
                );
                None
            }
        };
        let url = match url::Url::parse(hook.url.value.trim()) {
            Err(e) => {
                report(
                    url_line,
                    url_column,
                    format!("the url is not a URL ({e}); write https://host/path"),
                );
                None
            }
            Ok(url) => {
                if !matches!(url.scheme(), "http" | "https") {
                    report(
                        url_line,
                        url_column,
                        format!("the url's scheme '{}' is not http or https", url.scheme()),
                    );
                }
                if url.host_str().is_none_or(str::is_empty) {
                    report(url_line, url_column, "the url names no host".into());
                }
                if !url.username().is_empty() || url.password().is_some() {
                    report(
                        url_line,
                        url_column,
                        "the url holds a user or password: put credentials in secret_file".into(),
                    );
                }
                if url.fragment().is_some() {
                    report(
                        url_line,
                        url_column,
                        "the url has a #fragment, which is never sent".into(),
                    );
                }
                Some(url)
            }
        };
        let secret_path = match &hook.secret_file {
            Some(file) => Some((
                PathBuf::from(file.value.trim()),
                file.defined.line(),
                file.defined.column(),
            )),
            None => env("CREDENTIALS_DIRECTORY")
                .map(|dir| PathBuf::from(dir).join(format!("webhook-{}", name.value)))
                .filter(|p| p.exists())
                .map(|p| (p, 0, 0)),
        };
        let secret = match &secret_path {
            None => None,
            Some((path, line, column)) => match read_secret(path) {
                Ok(secret) => Some(secret),
                Err(message) => {
                    report(*line, *column, format!("secret_file: {message}"));
                    None
                }
            },
        };
        if let Some(format) = format {
            let (line, column) = secret_path
                .as_ref()
                .map_or((url_line, url_column), |(_, l, c)| (*l, *c));
            match (format.secret_use(), &secret_path) {
                (SecretUse::None, Some((path, ..))) => report(
                    line,
                    column,
                    format!(
                        "format {} takes no secret (its URL is the secret), but {} is given",
                        format.as_str(),
                        path.display()
                    ),
                ),
                (SecretUse::Required, None) => report(
                    line,
                    column,
                    format!(
                        "format {} needs secret_file (the access token), or the systemd \
                         credential webhook-{}",
                        format.as_str(),
                        name.value
                    ),
                ),
                _ => {}
            }
            // A bearer token must not cross a network in clear; a signature may (it proves
            // the body, and the key never leaves this machine).
            if format == WebhookFormat::Matrix
                && let Some(url) = &url
                && url.scheme() == "http"
                && !is_loopback_host(url)
            {
                report(
                    url_line,
                    url_column,
                    "format matrix sends the access token with every post: use https, or http \
                     only to a loopback address"
                        .into(),
                );
            }
            if format == WebhookFormat::Matrix
                && let Some(url) = &url
                && !url
                    .path()
                    .trim_end_matches('/')
                    .ends_with("/send/m.room.message")
            {
                report(
                    url_line,
                    url_column,
                    "format matrix needs the room's send endpoint: \
                     https://HOST/_matrix/client/v3/rooms/ROOM_ID/send/m.room.message"
                        .into(),
                );
            }
        }
        if ok && let (Some(url), Some(format)) = (url, format) {
            webhooks.insert(
                name.value.clone(),
                Webhook {
                    name: name.value.clone(),
                    url,
                    format,
                    secret,
                },
            );
        }
    }
    webhooks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kebab_or_snake_case_and_never_addresses() {
        for good in ["ops", "ops-chat", "siem_2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Ops", "2ops", "ops@example.org", "a b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_token_in_the_path() {
        let hook = Webhook {
            name: "chat".into(),
            url: url::Url::parse("https://hooks.example.org/services/T0/B0/sekrit").unwrap(),
            format: WebhookFormat::Slack,
            secret: None,
        };
        let shown = format!("{hook:?}");
        assert!(!shown.contains("sekrit"), "{shown}");
        assert!(shown.contains("https://hooks.example.org/…"), "{shown}");
    }
}
