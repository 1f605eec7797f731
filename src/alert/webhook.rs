//! The webhook transport: one HTTP request per planned message, to an endpoint the operator
//! configured (`webhooks:` in the settings), with the body its format asks for
//! ([`body::render`]).
//!
//! Every request carries `Idempotency-Key`: the message's key, fixed when it was planned, so
//! a retry after a timeout or a crash is the same post and a receiver can drop the copy. A
//! Matrix post is a `PUT` whose transaction id is that key, which Matrix itself deduplicates.
//! A `json` post with a secret is signed: `X-Watchfloor-Timestamp` (Unix seconds) and
//! `X-Watchfloor-Signature: sha256=HEX`, the HMAC-SHA256 under the secret of
//! `TIMESTAMP.BODY`, so a receiver can check both the body and its age.
//!
//! Outcomes map onto the outbox's retry policy as SMTP replies do: 2xx sent; 408, 429 and 5xx,
//! a timeout or a refused connection are retried with backoff (429 and 503 no sooner than their
//! `Retry-After`, held to [`RETRY_AFTER_MAX`]); a redirect or any other 4xx is refused for good,
//! with the status and a short, terminal-safe excerpt of the answer.
//!
//! Unlike `fetch`, no address rule applies (an operator's own Mattermost is often on a
//! private address), but redirects are never followed, so a post goes to the configured URL
//! and nowhere else, and a request is bounded in time.

pub mod body;

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::render::MessageView;
use super::transport::SendError;
use crate::config::{Webhook, WebhookFormat, Webhooks};
use crate::text::safe::header_text;

/// The whole request, connection to the last byte of the answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest wait a `Retry-After` can ask for; a longer one is held to it.
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(3600);
/// How much of an error answer is read, and how much of it an error quotes.
const ANSWER_READ_MAX: usize = 4096;
const ANSWER_QUOTE_MAX: usize = 200;

/// The signature and timestamp headers of the `json` format.
pub const SIGNATURE_HEADER: &str = "X-Watchfloor-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Watchfloor-Timestamp";

#[derive(Debug, thiserror::Error)]
#[error("cannot set up the webhook HTTP client")]
pub struct WebhookSetupError(#[source] reqwest::Error);

/// The configured webhooks and one HTTP client for all of them.
pub struct WebhookTransport {
    client: reqwest::Client,
    hooks: Webhooks,
}

impl WebhookTransport {
    pub fn new(hooks: &Webhooks) -> Result<WebhookTransport, WebhookSetupError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(format!("watchfloor/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(WebhookSetupError)?;
        Ok(WebhookTransport {
            client,
            hooks: hooks.clone(),
        })
    }

    /// One line for the startup log.
    pub fn describe(&self) -> Option<String> {
        (!self.hooks.is_empty()).then(|| {
            let names: Vec<String> = self
                .hooks
                .values()
                .map(|h| format!("{} ({}, {})", h.name, h.format.as_str(), h.display_url()))
                .collect();
            format!("webhooks: {}", names.join(", "))
        })
    }

    /// Posts `view` to the webhook `name`; returns what the receiver said.
    pub async fn post(
        &self,
        name: &str,
        view: &MessageView,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<String, SendError> {
        let Some(hook) = self.hooks.get(name) else {
            return Err(SendError::Permanent(format!(
                "webhook '{name}' is not configured (webhooks: in the settings)"
            )));
        };
        let body = body::render(hook.format, view, key);
        let request = self.request(hook, body, key, now);
        let response = request.send().await.map_err(|e| {
            SendError::Temporary(format!(
                "webhook '{name}': {}",
                describe_error(&e.without_url())
            ))
        })?;
        outcome(name, response).await
    }

    fn request(
        &self,
        hook: &Webhook,
        body: Vec<u8>,
        key: &str,
        now: DateTime<Utc>,
    ) -> reqwest::RequestBuilder {
        let request = match hook.format {
            WebhookFormat::Matrix => {
                let mut url = hook.url.clone();
                if let Ok(mut segments) = url.path_segments_mut() {
                    segments.pop_if_empty().push(key);
                }
                self.client.put(url)
            }
            _ => self.client.post(hook.url.clone()),
        };
        let mut request = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", key);
        match (hook.format, &hook.secret) {
            (WebhookFormat::Matrix, Some(token)) => {
                request = request.bearer_auth(token.expose());
            }
            (WebhookFormat::Json, Some(secret)) => {
                let timestamp = now.timestamp().to_string();
                request = request.header(TIMESTAMP_HEADER, &timestamp).header(
                    SIGNATURE_HEADER,
                    signature(secret.expose().as_bytes(), &timestamp, &body),
                );
            }
            _ => {}
        }
        request.body(body)
    }
}

/// `sha256=HEX` of HMAC-SHA256 under `secret` over `TIMESTAMP.BODY`.
pub fn signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(7 + digest.len() * 2);
    hex.push_str("sha256=");
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// What a failed request was, without the URL (which holds a chat service's token).
fn describe_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        format!("no answer within {}s", REQUEST_TIMEOUT.as_secs())
    } else if error.is_connect() {
        format!("cannot connect: {}", crate::error::error_chain(error))
    } else {
        crate::error::error_chain(error)
    }
}

/// The answer's status as an outcome; an error answer is quoted, cleaned and capped.
async fn outcome(name: &str, mut response: reqwest::Response) -> Result<String, SendError> {
    let status = response.status();
    if status.is_success() {
        return Ok(format!("webhook '{name}': HTTP {}", status.as_u16()));
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let mut answer = Vec::new();
    // Only the start of the answer is read: the rest says nothing a log line can hold.
    while answer.len() < ANSWER_READ_MAX {
        match tokio::time::timeout(Duration::from_secs(5), response.chunk()).await {
            Ok(Ok(Some(chunk))) => answer.extend_from_slice(&chunk),
            _ => break,
        }
    }
    answer.truncate(ANSWER_READ_MAX);
    let excerpt = header_text(&String::from_utf8_lossy(&answer), ANSWER_QUOTE_MAX);
    let said = if excerpt.is_empty() {
        String::new()
    } else {
        format!(": {excerpt}")
    };
    let code = status.as_u16();
    let reason = format!("webhook '{name}': HTTP {code}{said}");
    match code {
        429 | 503 if retry_after.is_some() => Err(SendError::Throttled {
            reason,
            retry_after: retry_after.unwrap_or_default().min(RETRY_AFTER_MAX),
        }),
        408 | 429 | 500..=599 => Err(SendError::Temporary(reason)),
        300..=399 => Err(SendError::Permanent(format!(
            "{reason} (redirects are not followed: configure the URL it answers at)"
        ))),
        _ => Err(SendError::Permanent(reason)),
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(text).ok()?.with_timezone(&Utc);
    Some((at - Utc::now()).to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231, test case 7: its data holds one '.', where our timestamp would end.
        let key = [0xaa_u8; 131];
        assert_eq!(
            signature(
                &key,
                "This is a test using a larger than block-size key and a larger than \
                 block-size data",
                b" The key needs to be hashed before being used by the HMAC algorithm."
            ),
            "sha256=9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
    }
}
