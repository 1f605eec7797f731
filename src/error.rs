//! What every module shares about errors: how one is printed with its causes, and the kinds
//! by which metrics tell failures apart.
//!
//! A leaf: it imports nothing from the crate, so any module can use it without making the
//! dependency graph run backwards (it used to live in `pipeline`, which made `alert` depend
//! on the stage that feeds it).

use std::fmt;

/// An error and its causes on one line, outermost first, joined by `": "`.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Why a poll failed, in a closed vocabulary: the `kind` label of
/// `watchfloor_fetch_errors_total`. The set stays small, since every value is a time series
/// per feed; a new way to fail is mapped onto one of these rather than given its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The feed's URL cannot be fetched as written (malformed, or not http or https).
    InvalidUrl,
    /// The host name did not resolve.
    Dns,
    /// No TCP connection: refused, unreachable, reset before a request went out.
    Connect,
    /// The TLS handshake failed: a certificate, or a server that does not speak TLS.
    Tls,
    /// The whole request, body included, took longer than `fetch.timeout`.
    Timeout,
    /// The server hung up or answered with something that is not HTTP before a response head.
    Protocol,
    /// A status other than 2xx, 304, 429 and 503.
    HttpStatus,
    /// 429 or 503: the server asked to be polled less often.
    Throttled,
    /// Too many redirects, or a redirect to a scheme other than http and https.
    Redirect,
    /// The decompressed body passed `fetch.max_body`.
    TooLarge,
    /// The connection ended before the body did.
    Truncated,
    /// The body is not valid in its `Content-Encoding`.
    Decode,
    /// A response with no body at all.
    Empty,
    /// A document that is not a feed: an HTML page (a login wall, a moved site), other XML.
    NotAFeed,
    /// A feed the parser could not read.
    Parse,
    /// The database failed while the poll was read or recorded.
    Store,
    /// Anything else: the HTTP client's unclassified errors, a poll task that died.
    Other,
}

impl ErrorKind {
    /// Every kind, in the order of the enum: for documentation and tests.
    pub const ALL: [ErrorKind; 17] = [
        ErrorKind::InvalidUrl,
        ErrorKind::Dns,
        ErrorKind::Connect,
        ErrorKind::Tls,
        ErrorKind::Timeout,
        ErrorKind::Protocol,
        ErrorKind::HttpStatus,
        ErrorKind::Throttled,
        ErrorKind::Redirect,
        ErrorKind::TooLarge,
        ErrorKind::Truncated,
        ErrorKind::Decode,
        ErrorKind::Empty,
        ErrorKind::NotAFeed,
        ErrorKind::Parse,
        ErrorKind::Store,
        ErrorKind::Other,
    ];

    /// The label value: lowercase, words joined by `_`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidUrl => "invalid_url",
            ErrorKind::Dns => "dns",
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Protocol => "protocol",
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Redirect => "redirect",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Truncated => "truncated",
            ErrorKind::Decode => "decode",
            ErrorKind::Empty => "empty",
            ErrorKind::NotAFeed => "not_a_feed",
            ErrorKind::Parse => "parse",
            ErrorKind::Store => "store",
            ErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("middle")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn a_chain_prints_every_cause_outermost_first() {
        let error = Outer(Middle(std::io::Error::other("inner")));
        assert_eq!(error_chain(&error), "outer: middle: inner");
        assert_eq!(error_chain(&std::io::Error::other("alone")), "alone");
    }

    #[test]
    fn every_kind_has_its_own_label_value() {
        let labels: std::collections::BTreeSet<&str> =
            ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(labels.len(), ErrorKind::ALL.len());
        for label in labels {
            assert!(
                label.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{label}"
            );
        }
    }
}
