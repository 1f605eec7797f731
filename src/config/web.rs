//! The hit log's access settings: who may read the web pages and triage hits.
//!
//! Two schemes, either or both:
//! - a bearer token (`Authorization: Bearer TOKEN`), for scripts and feed readers, read from
//!   `web.token_file`, `WATCHFLOOR_WEB_TOKEN_FILE` or `WATCHFLOOR_WEB_TOKEN`;
//! - HTTP basic auth, for people with a browser, from `web.basic_auth_file` or
//!   `WATCHFLOOR_WEB_BASIC_AUTH_FILE`, one line `user:password`.
//!
//! Secrets never come from the YAML file itself and never print. With neither configured the
//! pages are open to this machine alone: only allowed on a loopback address, where a verdict
//! is given by someone at the machine (`local`), as on the command line.

use std::path::PathBuf;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::values::{Secret, pick};

/// The `web:` section of the settings file.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWeb {
    /// The hit log's public URL; mail links to it (`config::mail`).
    pub(super) base_url: Option<Spanned<String>>,
    /// A file holding the bearer token for the hit log (see `config::web`).
    pub(super) token_file: Option<Spanned<String>>,
    /// A file holding `user:password` for the hit log's basic auth.
    pub(super) basic_auth_file: Option<Spanned<String>>,
    /// Host names the listener answers to besides its own address, `localhost` and the host
    /// of `base_url` (see `ops::hosts`).
    pub(super) allowed_hosts: Option<Vec<Spanned<String>>>,
}

/// Who may use the hit log. Empty: nobody needs to log in, which only a loopback listener
/// allows; verdicts given there are recorded as `local`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebAuth {
    pub token: Option<Secret>,
    pub basic: Option<BasicCredentials>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BasicCredentials {
    pub user: String,
    pub password: Secret,
}

impl WebAuth {
    pub fn is_configured(&self) -> bool {
        self.token.is_some() || self.basic.is_some()
    }

    /// Who a request that [`admits`](Self::admits) comes from, as verdicts record it: the
    /// basic-auth user, `token` for the bearer token (it names no one), or `local` when no
    /// login is configured (the hit log is then served only on loopback: someone at this
    /// machine, as on the command line).
    pub fn reviewer(&self, authorization: Option<&str>) -> String {
        if !self.is_configured() {
            return "local".to_owned();
        }
        let Some(authorization) = authorization.filter(|a| self.admits(a)) else {
            return "unknown".to_owned();
        };
        let scheme = authorization.trim().split(' ').next().unwrap_or("");
        match &self.basic {
            Some(basic) if scheme.eq_ignore_ascii_case("basic") => basic.user.clone(),
            _ => "token".to_owned(),
        }
    }

    /// Whether an `Authorization` header value grants access.
    pub fn admits(&self, authorization: &str) -> bool {
        let (scheme, value) = authorization
            .trim()
            .split_once(' ')
            .unwrap_or((authorization, ""));
        let value = value.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            return self
                .token
                .as_ref()
                .is_some_and(|t| same(t.expose().as_bytes(), value.as_bytes()));
        }
        if scheme.eq_ignore_ascii_case("basic")
            && let Some(basic) = &self.basic
            && let Some(decoded) = base64_decode(value)
        {
            let expected = format!("{}:{}", basic.user, basic.password.expose());
            return same(expected.as_bytes(), &decoded);
        }
        false
    }
}

/// Compares without stopping at the first difference, so the time taken does not tell an
/// attacker how much of a guess was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Standard base64, as browsers send basic credentials, with or without its padding.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT.decode(text).ok()
}

/// Reads the secrets the settings name; each problem is reported through
/// `problem(key, line, column, message)`.
pub(super) fn resolve(
    web: &RawWeb,
    env: &dyn Fn(&str) -> Option<String>,
    problem: &mut dyn FnMut(&str, u64, u64, String),
) -> WebAuth {
    let mut read = |key: &str, var: &str, raw: &Option<serde_saphyr::Spanned<String>>| {
        let set = pick(env, var, raw)?;
        let (path, line, column, from) = (
            PathBuf::from(&set.value),
            set.line,
            set.column,
            set.origin(var),
        );
        match super::values::read_secret_file(&path) {
            Ok(text) => {
                let secret = text.trim().to_owned();
                if secret.is_empty() {
                    problem(
                        key,
                        line,
                        column,
                        format!("{from}{} is empty", path.display()),
                    );
                    return None;
                }
                Some((secret, line, column, from, path))
            }
            Err(message) => {
                problem(key, line, column, format!("{from}{message}"));
                None
            }
        }
    };
    let token = match env("WATCHFLOOR_WEB_TOKEN").filter(|t| !t.trim().is_empty()) {
        Some(token) => Some(Secret::new(token.trim())),
        None => read(
            "web.token_file",
            "WATCHFLOOR_WEB_TOKEN_FILE",
            &web.token_file,
        )
        .map(|(token, ..)| Secret::new(token)),
    };
    let basic = read(
        "web.basic_auth_file",
        "WATCHFLOOR_WEB_BASIC_AUTH_FILE",
        &web.basic_auth_file,
    )
    .and_then(|(text, line, column, from, path)| {
        match text.split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => {
                Some(BasicCredentials {
                    user: user.to_owned(),
                    password: Secret::new(password),
                })
            }
            // The message names the file, never its content.
            _ => {
                problem(
                    "web.basic_auth_file",
                    line,
                    column,
                    format!(
                        "{from}{} must hold one line 'user:password', both non-empty",
                        path.display()
                    ),
                );
                None
            }
        }
    });
    WebAuth { token, basic }
}

/// A host as `Host` carries it: a name or an address, and the port if one was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    /// Lowercased, without a trailing dot; an IPv6 address without its brackets.
    pub host: String,
    pub port: Option<u16>,
}

impl HostPort {
    /// `host` or `host:port` (`[v6]:port`); `None` for anything else: a scheme, a path, user
    /// info, a bad port.
    pub fn parse(text: &str) -> Option<HostPort> {
        let text = text.trim();
        if text.is_empty() || text.contains(['/', '\\', '@', '?', '#', ' ']) {
            return None;
        }
        let url = url::Url::parse(&format!("http://{text}")).ok()?;
        let host = match url.host()? {
            url::Host::Domain(name) => name.trim_end_matches('.').to_owned(),
            url::Host::Ipv4(ip) => ip.to_string(),
            url::Host::Ipv6(ip) => ip.to_string(),
        };
        if host.is_empty() {
            return None;
        }
        // `Url` forgets a port that is http's default, and `localhost:80` is not `localhost`
        // to a listener on another port: read it from the text.
        let port = text
            .rsplit_once(':')
            .filter(|(before, _)| !before.contains(':') || before.ends_with(']'))
            .and_then(|(_, port)| port.parse::<u16>().ok());
        Some(HostPort { host, port })
    }
}

impl std::fmt::Display for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.host.contains(':'), self.port) {
            (true, Some(port)) => write!(f, "[{}]:{port}", self.host),
            (true, None) => write!(f, "[{}]", self.host),
            (false, Some(port)) => write!(f, "{}:{port}", self.host),
            (false, None) => f.write_str(&self.host),
        }
    }
}

/// Reads `web.allowed_hosts` (or `WATCHFLOOR_WEB_ALLOWED_HOSTS`, comma-separated).
pub(super) fn allowed_hosts(
    web: &RawWeb,
    env: &dyn Fn(&str) -> Option<String>,
    problem: &mut dyn FnMut(&str, u64, u64, String),
) -> Vec<HostPort> {
    let listed: Vec<(String, u64, u64, &str)> = match env("WATCHFLOOR_WEB_ALLOWED_HOSTS") {
        Some(text) => text
            .split(',')
            .filter(|h| !h.trim().is_empty())
            .map(|h| (h.trim().to_owned(), 0, 0, "WATCHFLOOR_WEB_ALLOWED_HOSTS: "))
            .collect(),
        None => web
            .allowed_hosts
            .iter()
            .flatten()
            .map(|h| {
                let (line, column) = (h.defined.line(), h.defined.column());
                (h.value.trim().to_owned(), line, column, "")
            })
            .collect(),
    };
    let mut hosts = Vec::new();
    for (text, line, column, origin) in listed {
        match HostPort::parse(&text) {
            Some(host) => hosts.push(host),
            None => problem(
                "web.allowed_hosts",
                line,
                column,
                format!(
                    "{origin}'{text}' is not a host name or address with an optional port \
                     (watchfloor.example.org, 10.0.0.5:9477, [fd00::5])"
                ),
            ),
        }
    }
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_read_as_a_browser_writes_them_and_junk_is_refused() {
        for (text, want) in [
            ("Watch.Example.org", "watch.example.org"),
            ("watch.example.org.", "watch.example.org"),
            ("watch.example.org:8443", "watch.example.org:8443"),
            ("localhost:80", "localhost:80"),
            ("10.0.0.5", "10.0.0.5"),
            ("[FD00::5]", "[fd00::5]"),
            ("[fd00::5]:9477", "[fd00::5]:9477"),
        ] {
            let parsed = HostPort::parse(text).map(|h| h.to_string());
            assert_eq!(parsed.as_deref(), Some(want), "{text}");
        }
        for bad in [
            "",
            "http://x.org",
            "x.org/hits",
            "user@x.org",
            "x.org:port",
            "x.org:99999",
            "a b",
            "fd00::5",
        ] {
            assert_eq!(HostPort::parse(bad), None, "{bad:?}");
        }
    }

    fn auth() -> WebAuth {
        WebAuth {
            token: Some(Secret::new("s3cret-token")),
            basic: Some(BasicCredentials {
                user: "reviewer".into(),
                password: Secret::new("pass:word"),
            }),
        }
    }

    #[test]
    fn a_bearer_token_and_basic_credentials_are_admitted_and_near_misses_are_not() {
        let auth = auth();
        assert!(auth.admits("Bearer s3cret-token"));
        assert!(auth.admits("bearer s3cret-token"));
        assert!(!auth.admits("Bearer s3cret-toke"));
        assert!(!auth.admits("Bearer "));
        // "reviewer:pass:word": the password may hold a colon.
        assert!(auth.admits("Basic cmV2aWV3ZXI6cGFzczp3b3Jk"));
        assert!(!auth.admits("Basic cmV2aWV3ZXI6cGFzcw=="));
        assert!(!auth.admits("Basic !!!"));
        assert!(!auth.admits("Digest whatever"));
        assert!(!WebAuth::default().admits("Bearer s3cret-token"));
    }

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI").unwrap(), b"ab");
        assert_eq!(base64_decode("YWJj").unwrap(), b"abc");
        assert!(base64_decode("Y").is_none());
    }

    #[test]
    fn secrets_do_not_print() {
        let shown = format!("{:?}", auth());
        assert!(!shown.contains("s3cret") && !shown.contains("pass:word"));
    }
}
