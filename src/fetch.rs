//! The fetch stage: one conditional GET per poll, bounded in time, size and concurrency.
//!
//! A feed server is not trusted to behave. Every way a response can go wrong (a status, a
//! redirect loop, a body that never ends, a gzip bomb, a connection cut mid-body) comes back as
//! one [`FetchError`] variant whose message says what happened; nothing a server does can make
//! this module panic or hold more than `max_body` bytes of one body in memory.
//!
//! Limits, from [`FetchSettings`]:
//! - `timeout` covers the whole request, from connecting to the last body byte, but not the
//!   wait for a concurrency permit.
//! - `max_body` is counted on the decompressed bytes as they stream in (reqwest decodes gzip,
//!   brotli and deflate transparently), so both a large body and a small bomb stop at the cap.
//! - `per_host` and `concurrency` bound the fetches in flight to one host and overall.
//!
//! Redirects are followed here, hop by hop, not by reqwest: each hop's connected address is
//! judged, and once a fetch has been answered from a public address no later hop may connect
//! to a non-public one ([`address`]; `fetch.allow_private_redirects` lifts it).
//!
//! TLS is rustls only; reqwest is built without native-tls, so OpenSSL is never linked.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use crate::config::FetchSettings;
use crate::error::ErrorKind;

pub mod address;

use address::{NotPublic, PublicOnly, Publicness};

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 5;

/// Preallocation for a body is capped at this, whatever `Content-Length` claims.
const INITIAL_CAPACITY: usize = 1024 * 1024;

/// What feeds are served as, preferred first; anything else is still accepted.
const ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
                      application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8";

/// Fetches feeds. Cloning is cheap, and clones share the client and the concurrency limits.
#[derive(Clone, Debug)]
pub struct Fetcher {
    client: reqwest::Client,
    /// The same, but resolving names to public addresses only: for the hops after a public one.
    public_client: reqwest::Client,
    publicness: Publicness,
    allow_private_redirects: bool,
    /// Whole-request deadline, started once the permits are held.
    timeout: Duration,
    max_body: u64,
    /// Fetches in flight, all hosts. Taken after the host permit, so a queue of fetches to one
    /// busy host never holds permits that other hosts could use.
    global: Arc<Semaphore>,
    /// Permits per host (`per_host` each), keyed by the host name of the requested URL. Entries
    /// are created on first use and kept: there is one per feed host at most.
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
    per_host: usize,
    /// Bodies over [`LARGE_BODY`] in memory, all fetches: bounds the memory bodies take.
    large: Arc<Semaphore>,
}

/// The validators of a response, sent back on the next poll to make it conditional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validators {
    /// `ETag`, sent back as `If-None-Match`.
    pub etag: Option<String>,
    /// `Last-Modified`, sent back as `If-Modified-Since`.
    pub last_modified: Option<String>,
}

#[derive(Debug)]
pub enum FetchOutcome {
    /// 304: nothing changed. max_age from Cache-Control if given.
    NotModified {
        max_age: Option<Duration>,
    },
    Fetched(FetchedBody),
}

#[derive(Debug)]
pub struct FetchedBody {
    /// Decompressed, at most `max_body` bytes.
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    /// After redirects.
    pub final_url: String,
    /// `ETag` / `Last-Modified` of this response.
    pub validators: Validators,
    /// `Cache-Control: max-age`: a floor on the poll interval. `max-age=0` gives `None`.
    pub max_age: Option<Duration>,
    /// Held while a body over [`LARGE_BODY`] bytes is in memory (until the poll that fetched
    /// it is done with it); `None` for small bodies and bodies not fetched.
    pub large: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// A body past this size counts against [`LARGE_BODIES`].
pub const LARGE_BODY: usize = 1024 * 1024;
/// Bodies over [`LARGE_BODY`] in memory at once. Sixteen fetches each holding a body near the
/// 15 MiB cap would need 240 MB before parsing, and parsing one takes several times its size
/// (decoded text, the document tree, items); feeds are rarely over a megabyte, so the few that
/// are (and the endless or bombed bodies that only look like it) take turns.
pub const LARGE_BODIES: usize = 1;

/// Why a fetch failed. Messages are lowercase and name what happened.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The settings cannot make a client (reported by [`Fetcher::new`] only).
    #[error("cannot set up fetching: {0}")]
    Setup(String),
    #[error("invalid url '{url}': {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The feed's own URL is not http or https.
    #[error("unsupported scheme '{0}'")]
    UnsupportedScheme(String),
    /// The whole request, body included, took longer than the timeout.
    #[error("timed out after {}", seconds(*.0))]
    Timeout(Duration),
    /// The host name did not resolve. The three ways a connection fails read alike, and
    /// differ in their kind only.
    #[error("connection failed: {0}")]
    Dns(String),
    /// TCP failed before a request was sent.
    #[error("connection failed: {0}")]
    Connect(String),
    /// The TLS handshake failed.
    #[error("connection failed: {0}")]
    Tls(String),
    /// The server closed the connection, or sent something that is not HTTP, before a
    /// complete response head.
    #[error("no valid response: {0}")]
    Protocol(String),
    /// A non-2xx, non-304 status other than 429 and 503.
    #[error("HTTP {}", status_text(*.status, .reason))]
    Status { status: u16, reason: String },
    /// 429 or 503, with the server's `Retry-After` if it gave one.
    #[error("HTTP {}{}", status_text(*.status, .reason), retry_text(*.retry_after))]
    Throttled {
        status: u16,
        reason: String,
        retry_after: Option<Duration>,
    },
    #[error("too many redirects (more than {0})")]
    TooManyRedirects(usize),
    #[error("redirect to unsupported scheme '{0}'")]
    RedirectScheme(String),
    /// A hop after a public address led to a loopback, private or link-local one.
    #[error(
        "redirect from a public address to the non-public {address} refused ({url}); \
         fetch.allow_private_redirects follows it"
    )]
    PrivateRedirect { address: String, url: String },
    /// The decompressed body would pass the cap; reading stopped there.
    #[error("body larger than {0} bytes")]
    BodyTooLarge(u64),
    /// The connection ended before the body did (short of `Content-Length`, or a chunked body
    /// without its last chunk).
    #[error("connection closed mid-body")]
    ClosedMidBody,
    /// The body is not valid in its `Content-Encoding`.
    #[error("cannot decode the body: {0}")]
    Decode(String),
    /// Anything else reqwest reports.
    #[error("request failed: {0}")]
    Other(String),
}

impl FetchError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            FetchError::InvalidUrl { .. } | FetchError::UnsupportedScheme(_) => {
                ErrorKind::InvalidUrl
            }
            FetchError::Timeout(_) => ErrorKind::Timeout,
            FetchError::Dns(_) => ErrorKind::Dns,
            FetchError::Connect(_) => ErrorKind::Connect,
            FetchError::Tls(_) => ErrorKind::Tls,
            FetchError::Protocol(_) => ErrorKind::Protocol,
            FetchError::Status { .. } => ErrorKind::HttpStatus,
            FetchError::Throttled { .. } => ErrorKind::Throttled,
            FetchError::TooManyRedirects(_)
            | FetchError::RedirectScheme(_)
            | FetchError::PrivateRedirect { .. } => ErrorKind::Redirect,
            FetchError::BodyTooLarge(_) => ErrorKind::TooLarge,
            FetchError::ClosedMidBody => ErrorKind::Truncated,
            FetchError::Decode(_) => ErrorKind::Decode,
            FetchError::Setup(_) | FetchError::Other(_) => ErrorKind::Other,
        }
    }

    /// Server-requested wait (429/503 Retry-After, seconds or HTTP date), if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl Fetcher {
    pub fn new(settings: &FetchSettings) -> Result<Fetcher, FetchError> {
        if settings.concurrency == 0 || settings.per_host == 0 {
            return Err(FetchError::Setup(
                "concurrency and per_host must be at least 1".to_owned(),
            ));
        }
        let publicness = Publicness::new(&settings.test_public_addresses);
        // Redirects are followed in `get`, where each hop's address is judged.
        let builder = || {
            reqwest::Client::builder()
                .user_agent(settings.user_agent.as_str())
                .redirect(reqwest::redirect::Policy::none())
                .referer(false)
        };
        let client = builder()
            .build()
            .map_err(|e| FetchError::Setup(describe(&e)))?;
        let public_client = builder()
            .dns_resolver(Arc::new(PublicOnly {
                publicness: publicness.clone(),
            }))
            .build()
            .map_err(|e| FetchError::Setup(describe(&e)))?;
        Ok(Fetcher {
            client,
            public_client,
            publicness,
            allow_private_redirects: settings.allow_private_redirects,
            timeout: settings.timeout,
            max_body: settings.max_body,
            global: Arc::new(Semaphore::new(
                settings.concurrency.min(Semaphore::MAX_PERMITS),
            )),
            hosts: Arc::default(),
            per_host: settings.per_host.min(Semaphore::MAX_PERMITS),
            large: Arc::new(Semaphore::new(LARGE_BODIES)),
        })
    }

    /// One conditional GET, within the global and per-host concurrency limits.
    pub async fn fetch(
        &self,
        url: &str,
        validators: &Validators,
    ) -> Result<FetchOutcome, FetchError> {
        self.fetch_holding(url, validators, None).await.0
    }

    /// [`Fetcher::fetch`], and a permit of `hold` for what comes after it (the pipeline holds
    /// one for as long as the body waits to be parsed and stored). It is taken once this
    /// host's turn has come, never while waiting for it: fetches queued behind one busy host
    /// then hold none of the permits that polls of other hosts need. `None` when the request
    /// never reached that point (a bad URL).
    pub async fn fetch_holding(
        &self,
        url: &str,
        validators: &Validators,
        hold: Option<&Arc<Semaphore>>,
    ) -> (
        Result<FetchOutcome, FetchError>,
        Option<OwnedSemaphorePermit>,
    ) {
        let mut held = None;
        let result = self.fetch_inner(url, validators, hold, &mut held).await;
        (result, held)
    }

    async fn fetch_inner(
        &self,
        url: &str,
        validators: &Validators,
        hold: Option<&Arc<Semaphore>>,
        held: &mut Option<OwnedSemaphorePermit>,
    ) -> Result<FetchOutcome, FetchError> {
        let parsed = Url::parse(url).map_err(|e| FetchError::InvalidUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(FetchError::UnsupportedScheme(parsed.scheme().to_owned()));
        }
        let host = parsed.host_str().ok_or_else(|| FetchError::InvalidUrl {
            url: url.to_owned(),
            reason: "no host".to_owned(),
        })?;
        let shut = |_| FetchError::Other("the fetcher's limits were closed".to_owned());
        let _host_permit = self.host(host).acquire_owned().await.map_err(shut)?;
        if let Some(hold) = hold {
            *held = Some(Arc::clone(hold).acquire_owned().await.map_err(shut)?);
        }
        let _permit = self.global.acquire().await.map_err(shut)?;

        let started = Instant::now();
        let result = tokio::time::timeout(self.timeout, self.get(parsed, validators))
            .await
            .unwrap_or(Err(FetchError::Timeout(self.timeout)));
        match &result {
            Ok(FetchOutcome::Fetched(body)) => tracing::debug!(
                url,
                bytes = body.body.len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "fetched"
            ),
            Ok(FetchOutcome::NotModified { .. }) => tracing::debug!(url, "not modified"),
            Err(error) => tracing::debug!(url, %error, "fetch failed"),
        }
        result
    }

    /// The semaphore of one host, made on first use.
    fn host(&self, host: &str) -> Arc<Semaphore> {
        // A poisoned map is still a valid map: entries are inserted whole.
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(
            hosts
                .entry(host.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host))),
        )
    }

    /// The request itself, without limits or deadline: the redirects are followed here.
    async fn get(&self, url: Url, validators: &Validators) -> Result<FetchOutcome, FetchError> {
        let mut url = url;
        let mut redirects = 0;
        // Whether a hop so far was answered from a public address: from then on, only public
        // addresses may be connected to.
        let mut public_seen = false;
        let mut response = loop {
            let public_only = public_seen && !self.allow_private_redirects;
            if public_only
                && let Some(ip) = literal_ip(&url)
                && !self.publicness.judge(ip)
            {
                return Err(private_redirect(ip, &url));
            }
            let client = if public_only {
                &self.public_client
            } else {
                &self.client
            };
            let response = self
                .request(client, url.clone(), validators)
                .send()
                .await
                .map_err(|e| self.classify(&e, &url))?;
            if let Some(peer) = response.remote_addr() {
                let public = self.publicness.judge(peer.ip());
                if public_only && !public {
                    return Err(private_redirect(peer.ip(), &url));
                }
                public_seen |= public;
            }
            let Some(next) = redirect_target(&response, &url) else {
                break response;
            };
            let next = next?;
            redirects += 1;
            if redirects > MAX_REDIRECTS {
                return Err(FetchError::TooManyRedirects(MAX_REDIRECTS));
            }
            if !matches!(next.scheme(), "http" | "https") {
                return Err(FetchError::RedirectScheme(next.scheme().to_owned()));
            }
            url = next;
        };

        let status = response.status();
        let headers = response.headers();
        let max_age = max_age(headers);
        if status == StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified { max_age });
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            return Err(FetchError::Throttled {
                status: status.as_u16(),
                reason: reason(status),
                retry_after: retry_after(headers, Utc::now()),
            });
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                status: status.as_u16(),
                reason: reason(status),
            });
        }
        let text = |name| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = text(header::CONTENT_TYPE);
        let validators = Validators {
            etag: text(header::ETAG),
            last_modified: text(header::LAST_MODIFIED),
        };
        let final_url = response.url().to_string();

        // reqwest drops Content-Length when it decodes, so a length here is the real one.
        let announced = response.content_length();
        if announced.is_some_and(|n| n > self.max_body) {
            return Err(FetchError::BodyTooLarge(self.max_body));
        }
        let capacity = announced.unwrap_or(0).min(self.max_body) as usize;
        let mut large = None;
        let mut body = Vec::with_capacity(capacity.min(INITIAL_CAPACITY));
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.classify(&e, &url))?
        {
            if (body.len() + chunk.len()) as u64 > self.max_body {
                return Err(FetchError::BodyTooLarge(self.max_body));
            }
            if large.is_none() && body.len() + chunk.len() > LARGE_BODY {
                // The wait counts against this fetch's deadline, like the network's.
                large =
                    Some(self.large.clone().acquire_owned().await.map_err(|_| {
                        FetchError::Other("the fetcher's limits were closed".into())
                    })?);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchOutcome::Fetched(FetchedBody {
            body,
            content_type,
            final_url,
            validators,
            max_age,
            large,
        }))
    }

    /// One GET, conditional on the validators. They come from an earlier response's
    /// headers, so they are valid header values; one that is not is dropped, which only makes
    /// the request unconditional.
    fn request(
        &self,
        client: &reqwest::Client,
        url: Url,
        validators: &Validators,
    ) -> reqwest::RequestBuilder {
        let mut request = client
            .get(url)
            .header(header::ACCEPT, HeaderValue::from_static(ACCEPT));
        if let Some(value) = valid_header(validators.etag.as_deref()) {
            request = request.header(header::IF_NONE_MATCH, value);
        }
        if let Some(value) = valid_header(validators.last_modified.as_deref()) {
            request = request.header(header::IF_MODIFIED_SINCE, value);
        }
        request
    }

    /// Names what went wrong from reqwest's error and the errors beneath it; `url` is the hop
    /// that failed.
    fn classify(&self, error: &reqwest::Error, url: &Url) -> FetchError {
        let causes = causes(error);
        for cause in &causes {
            if let Some(not_public) = cause.downcast_ref::<NotPublic>() {
                return FetchError::PrivateRedirect {
                    address: not_public
                        .first
                        .map_or_else(|| not_public.addresses.clone(), |ip| ip.to_string()),
                    url: url.to_string(),
                };
            }
        }
        if error.is_timeout() {
            return FetchError::Timeout(self.timeout);
        }
        let cut = causes.iter().any(|cause| {
            cause
                .downcast_ref::<hyper::Error>()
                .is_some_and(|e| e.is_incomplete_message())
                || cause.downcast_ref::<std::io::Error>().is_some_and(|e| {
                    use std::io::ErrorKind::*;
                    matches!(
                        e.kind(),
                        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe
                    )
                })
        });
        if error.is_connect() {
            connect_error(&causes, describe(error))
        } else if (error.is_body() || error.is_decode()) && cut {
            FetchError::ClosedMidBody
        } else if error.is_decode() {
            FetchError::Decode(describe(error))
        } else if error.is_request() {
            FetchError::Protocol(describe(error))
        } else {
            FetchError::Other(describe(error))
        }
    }
}

/// Which step of connecting failed, from the errors beneath reqwest's.
fn connect_error(causes: &[&(dyn StdError + 'static)], message: String) -> FetchError {
    if causes
        .iter()
        .any(|c| c.downcast_ref::<rustls::Error>().is_some())
    {
        FetchError::Tls(message)
    // hyper-util's connector names a failed lookup so and no other way; its error type is
    // private.
    } else if causes.iter().any(|c| c.to_string() == "dns error") {
        FetchError::Dns(message)
    } else {
        FetchError::Connect(message)
    }
}

/// The next URL when `response` is a redirect to follow (301, 302, 303, 307, 308 with a
/// `Location`), resolved against the URL it answered; an error when the location is not a URL.
fn redirect_target(response: &reqwest::Response, url: &Url) -> Option<Result<Url, FetchError>> {
    let status = response.status().as_u16();
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = response.headers().get(header::LOCATION)?;
    let text = String::from_utf8_lossy(location.as_bytes());
    Some(url.join(text.trim()).map_err(|e| FetchError::InvalidUrl {
        url: text.chars().take(200).collect(),
        reason: format!("redirect location: {e}"),
    }))
}

/// The host of `url` when it is an IP address rather than a name.
fn literal_ip(url: &Url) -> Option<std::net::IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(ip.into()),
        url::Host::Ipv6(ip) => Some(ip.into()),
        url::Host::Domain(_) => None,
    }
}

fn private_redirect(ip: std::net::IpAddr, url: &Url) -> FetchError {
    FetchError::PrivateRedirect {
        address: ip.to_string(),
        url: url.to_string(),
    }
}

fn valid_header(value: Option<&str>) -> Option<HeaderValue> {
    value.and_then(|v| HeaderValue::from_str(v).ok())
}

/// The error and its causes, outermost first, looking inside `io::Error` wrappers (whose
/// `source` skips the error they wrap).
fn causes<'a>(error: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        out.push(e);
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
        if out.len() > 32 {
            break;
        }
    }
    out
}

/// The causes beneath reqwest's own message, joined with ": ", repeats dropped. Left out, as
/// they repeat what the caller knows: reqwest's "error sending request for url (...)" and
/// hyper-util's "client error (Connect)" and the like.
fn describe(error: &(dyn StdError + 'static)) -> String {
    let all = causes(error);
    let inner = if all.len() > 1 { &all[1..] } else { &all[..] };
    let mut parts: Vec<String> = Vec::new();
    for cause in inner {
        let text = cause.to_string();
        let wrapper = text.starts_with("client error (") && text.ends_with(')');
        if !text.is_empty() && !wrapper && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    if parts.is_empty() {
        error.to_string()
    } else {
        parts.join(": ")
    }
}

fn reason(status: StatusCode) -> String {
    status.canonical_reason().unwrap_or("").to_owned()
}

fn status_text(status: u16, reason: &str) -> String {
    if reason.is_empty() {
        status.to_string()
    } else {
        format!("{status} {reason}")
    }
}

fn retry_text(retry_after: Option<Duration>) -> String {
    retry_after
        .map(|d| format!(" (retry after {})", seconds(d)))
        .unwrap_or_default()
}

/// "20 s", or "0.5 s" below whole seconds.
fn seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// `Cache-Control: max-age=N` as a duration; `max-age=0` and its absence give `None`.
/// `no-cache` and `no-store` are about caches, not polling, and are ignored.
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|directive| {
            let (name, value) = directive.split_once('=')?;
            if !name.trim().eq_ignore_ascii_case("max-age") {
                return None;
            }
            value.trim().trim_matches('"').parse::<u64>().ok()
        })
        .filter(|&n| n > 0)
        .map(Duration::from_secs)
}

/// `Retry-After` in seconds or as an HTTP date. A date is measured from the response's own
/// `Date` when it has one, so a server whose clock is off still gets the wait it asked for;
/// a date in the past gives zero.
fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(n) = value.parse::<u64>() {
        return Some(Duration::from_secs(n));
    }
    let at = http_date(value)?;
    let base = headers
        .get(header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(http_date)
        .unwrap_or(now);
    Some((at - base).to_std().unwrap_or(Duration::ZERO))
}

/// An HTTP date in any of the three forms RFC 9110 requires recipients to accept.
fn http_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    // IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT".
    if let Ok(t) = DateTime::parse_from_rfc2822(text) {
        return Some(t.with_timezone(&Utc));
    }
    // RFC 850, "Sunday, 06-Nov-94 08:49:37 GMT", and asctime, "Sun Nov  6 08:49:37 1994".
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Response headers and what is expected of them.
    type Case = (&'static [(&'static str, &'static str)], Option<u64>);

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn max_age_reads_the_directive_and_ignores_the_rest() {
        let cases: &[Case] = &[
            (&[], None),
            (&[("cache-control", "max-age=300")], Some(300)),
            (&[("cache-control", "public, MAX-AGE = 60 ")], Some(60)),
            (&[("cache-control", "no-cache, max-age=120")], Some(120)),
            (&[("cache-control", "no-store")], None),
            (&[("cache-control", "max-age=0")], None),
            (&[("cache-control", "max-age=\"90\"")], Some(90)),
            (&[("cache-control", "max-age=soon")], None),
            (&[("cache-control", "s-maxage=30")], None),
            (
                &[
                    ("cache-control", "private"),
                    ("cache-control", "max-age=45"),
                ],
                Some(45),
            ),
        ];
        for (pairs, want) in cases {
            assert_eq!(
                max_age(&headers(pairs)),
                want.map(Duration::from_secs),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_all_three_date_forms() {
        let now = DateTime::parse_from_rfc3339("1994-11-06T08:49:00Z")
            .expect("date")
            .with_timezone(&Utc);
        let cases: &[Case] = &[
            (&[], None),
            (&[("retry-after", "120")], Some(120)),
            (&[("retry-after", " 0 ")], Some(0)),
            (
                &[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")],
                Some(37),
            ),
            (
                &[("retry-after", "Sunday, 06-Nov-94 08:49:37 GMT")],
                Some(37),
            ),
            (&[("retry-after", "Sun Nov  6 08:49:37 1994")], Some(37)),
            // Measured from the server's Date, not our clock.
            (
                &[
                    ("retry-after", "Sun, 06 Nov 1994 09:00:00 GMT"),
                    ("date", "Sun, 06 Nov 1994 08:59:00 GMT"),
                ],
                Some(60),
            ),
            (&[("retry-after", "Sat, 05 Nov 1994 08:00:00 GMT")], Some(0)),
            (&[("retry-after", "-5")], None),
            (&[("retry-after", "tomorrow")], None),
        ];
        for (pairs, want) in cases {
            assert_eq!(
                retry_after(&headers(pairs), now),
                want.map(Duration::from_secs),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn error_messages_name_what_happened() {
        let cases = [
            (
                FetchError::Timeout(Duration::from_secs(20)),
                "timed out after 20 s",
            ),
            (
                FetchError::Timeout(Duration::from_millis(1500)),
                "timed out after 1.5 s",
            ),
            (
                FetchError::Status {
                    status: 500,
                    reason: "Internal Server Error".to_owned(),
                },
                "HTTP 500 Internal Server Error",
            ),
            (
                FetchError::Status {
                    status: 599,
                    reason: String::new(),
                },
                "HTTP 599",
            ),
            (
                FetchError::Throttled {
                    status: 429,
                    reason: "Too Many Requests".to_owned(),
                    retry_after: Some(Duration::from_secs(120)),
                },
                "HTTP 429 Too Many Requests (retry after 120 s)",
            ),
            (
                FetchError::Throttled {
                    status: 503,
                    reason: "Service Unavailable".to_owned(),
                    retry_after: None,
                },
                "HTTP 503 Service Unavailable",
            ),
            (
                FetchError::BodyTooLarge(15728640),
                "body larger than 15728640 bytes",
            ),
            (
                FetchError::TooManyRedirects(5),
                "too many redirects (more than 5)",
            ),
            (
                FetchError::RedirectScheme("ftp".to_owned()),
                "redirect to unsupported scheme 'ftp'",
            ),
            (FetchError::ClosedMidBody, "connection closed mid-body"),
        ];
        for (error, want) in cases {
            assert_eq!(error.to_string(), want);
        }
    }

    #[test]
    fn settings_without_permits_are_refused() {
        let settings = FetchSettings {
            per_host: 0,
            ..FetchSettings::default()
        };
        assert!(matches!(Fetcher::new(&settings), Err(FetchError::Setup(_))));
    }
}
