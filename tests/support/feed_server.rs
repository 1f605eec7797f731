//! A hostile HTTP/1.1 feed server for tests.
//!
//! Hand-rolled on tokio's `TcpListener` so that it can misbehave on purpose: trickle a body,
//! never end one, cut the connection mid-body, answer with garbage. It listens on
//! 127.0.0.1 only, on a port the system picks, answers one request per connection
//! (`Connection: close`) and stops when the [`FeedServer`] is dropped.
//!
//! Routes are set per path at runtime with [`FeedServer::set`]; unknown paths get 404.
//! [`FeedServer::start`] installs these:
//!
//! | path            | behaviour                                                              |
//! |-----------------|------------------------------------------------------------------------|
//! | `/feed.xml`     | [`FEED`], `ETag` [`ETAG`], `Last-Modified` [`LAST_MODIFIED`], `max-age=300`; 304 on a match |
//! | `/page.html`    | an HTML page                                                           |
//! | `/gzip.xml`     | [`FEED`], gzip-encoded                                                 |
//! | `/brotli.xml`   | [`FEED`], brotli-encoded                                               |
//! | `/deflate.xml`  | [`FEED`], deflate-encoded (zlib)                                       |
//! | `/status/500`   | 500                                                                    |
//! | `/throttled`    | 429, `Retry-After: 120`                                                |
//! | `/unavailable`  | 503, `Retry-After` an HTTP date 90 s after its `Date`                  |
//! | `/slow`         | 100 bytes announced, one sent every 200 ms                             |
//! | `/endless`      | chunked, never ends                                                    |
//! | `/huge`         | [`HUGE`] bytes, one more than the default 15 MiB cap                   |
//! | `/bomb`         | gzip that expands to 1 GiB of zeros from about 1 MB                    |
//! | `/loop`         | 302 to itself                                                          |
//! | `/to-ftp`       | 302 to an `ftp://` URL                                                 |
//! | `/reset`        | announces 2000 bytes, sends 1000, closes                               |
//! | `/hangup`       | closes without answering                                               |
//! | `/garbage`      | answers with bytes that are not HTTP                                   |
//!
//! Every request is recorded with its headers; [`FeedServer::hits`] counts them per path and
//! [`FeedServer::max_in_flight`] says how many of a path were being answered at once.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// The body of `/feed.xml` and of the encoded variants.
pub const FEED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Test wire</title><link>http://127.0.0.1/</link>
<description>Items for fetch tests</description>
<item><title>Troops mass near the border</title><link>http://127.0.0.1/1</link>
<guid>1</guid><pubDate>Wed, 21 Oct 2015 07:28:00 GMT</pubDate></item>
</channel></rss>
"#;
pub const ETAG: &str = "\"feed-v1\"";
pub const LAST_MODIFIED: &str = "Wed, 21 Oct 2015 07:28:00 GMT";
/// Size of `/huge`: one byte over the default cap.
pub const HUGE: usize = 15 * 1024 * 1024 + 1;
/// What `/bomb` expands to.
pub const BOMB_EXPANDED: u64 = 1 << 30;

/// One request as the server read it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The request target, query included.
    pub target: String,
    /// In the order sent; names as sent.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first header of that name, compared without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with a request for one path.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    /// Sent as given, after the status line; `Content-Length` or `Transfer-Encoding` is added
    /// from the body.
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// Wait this long after reading the request before answering.
    pub delay: Duration,
}

#[derive(Clone, Debug)]
pub enum Body {
    /// Sent whole, with its `Content-Length`.
    Full(Arc<[u8]>),
    /// `Content-Length` of the whole, then `piece` bytes every `every`.
    Trickle {
        data: Arc<[u8]>,
        piece: usize,
        every: Duration,
    },
    /// Chunked, 64 KiB chunks, never ends.
    Endless,
    /// `Content-Length` of the whole, then only the first half; the connection is closed.
    CutOff(Arc<[u8]>),
    /// These bytes instead of a response (status and headers unused), then close. Empty:
    /// close without answering.
    Raw(Arc<[u8]>),
}

impl Response {
    /// 200 with this content type and body.
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response::status(200)
            .header("Content-Type", content_type)
            .body(body)
    }

    /// This status, with its reason as a short text body.
    pub fn status(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Full(Arc::from(reason(status).as_bytes())),
            delay: Duration::ZERO,
        }
    }

    /// A redirect with this status to `location`, as given (relative or absolute).
    pub fn redirect(status: u16, location: &str) -> Response {
        Response::status(status).header("Location", location)
    }

    pub fn header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = Body::Full(Arc::from(body.into()));
        self
    }

    pub fn with_body(mut self, body: Body) -> Response {
        self.body = body;
        self
    }

    pub fn delay(mut self, delay: Duration) -> Response {
        self.delay = delay;
        self
    }
}

/// Per-path counters.
#[derive(Default)]
struct PathStats {
    in_flight: usize,
    max_in_flight: usize,
}

/// What the connection tasks share with the test.
#[derive(Default)]
struct State {
    routes: Mutex<HashMap<String, Arc<Response>>>,
    requests: Mutex<Vec<Request>>,
    stats: Mutex<HashMap<String, PathStats>>,
}

/// A running server. Dropping it stops the listener and every connection.
pub struct FeedServer {
    addr: SocketAddr,
    state: Arc<State>,
    /// Cancelled on drop; the accept loop and every connection task stop on it.
    stop: CancellationToken,
}

impl FeedServer {
    /// Starts a server with the routes of the module table. Must run inside a tokio runtime.
    pub async fn start() -> FeedServer {
        let server = FeedServer::empty().await;
        server.install_defaults();
        server
    }

    /// Starts a server with no routes: every path is 404 until set.
    pub async fn empty() -> FeedServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(State::default());
        let stop = CancellationToken::new();
        tokio::spawn(accept(listener, Arc::clone(&state), stop.clone()));
        FeedServer { addr, state, stop }
    }

    /// `http://127.0.0.1:PORT` + path.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets (or replaces) what `path` answers.
    pub fn set(&self, path: &str, response: Response) {
        lock(&self.state.routes).insert(path.to_owned(), Arc::new(response));
    }

    /// Requests for `path` (query ignored), in arrival order.
    pub fn requests(&self, path: &str) -> Vec<Request> {
        lock(&self.state.requests)
            .iter()
            .filter(|r| path_of(&r.target) == path)
            .cloned()
            .collect()
    }

    /// How many requests for `path` arrived.
    pub fn hits(&self, path: &str) -> usize {
        self.requests(path).len()
    }

    /// The most requests for `path` that were between arrival and the start of their answer
    /// at the same moment.
    pub fn max_in_flight(&self, path: &str) -> usize {
        lock(&self.state.stats)
            .get(path)
            .map_or(0, |s| s.max_in_flight)
    }

    fn install_defaults(&self) {
        let feed = || Response::ok("application/rss+xml; charset=utf-8", FEED);
        self.set(
            "/feed.xml",
            feed()
                .header("ETag", ETAG)
                .header("Last-Modified", LAST_MODIFIED)
                .header("Cache-Control", "public, max-age=300"),
        );
        self.set(
            "/page.html",
            Response::ok(
                "text/html; charset=utf-8",
                "<!doctype html><html><head><title>Not a feed</title></head>\
                 <body><p>Subscribe to our newsletter!</p></body></html>",
            ),
        );
        self.set(
            "/gzip.xml",
            feed()
                .header("Content-Encoding", "gzip")
                .body(gzip(FEED.as_bytes())),
        );
        self.set(
            "/brotli.xml",
            feed()
                .header("Content-Encoding", "br")
                .body(brotli(FEED.as_bytes())),
        );
        self.set(
            "/deflate.xml",
            feed()
                .header("Content-Encoding", "deflate")
                .body(zlib(FEED.as_bytes())),
        );
        self.set("/status/500", Response::status(500));
        self.set(
            "/throttled",
            Response::status(429).header("Retry-After", "120"),
        );
        self.set(
            "/unavailable",
            Response::status(503)
                .header("Date", "Wed, 21 Oct 2015 07:28:00 GMT")
                .header("Retry-After", "Wed, 21 Oct 2015 07:29:30 GMT"),
        );
        self.set(
            "/slow",
            feed().with_body(Body::Trickle {
                data: Arc::from(vec![b'x'; 100]),
                piece: 1,
                every: Duration::from_millis(200),
            }),
        );
        self.set("/endless", feed().with_body(Body::Endless));
        // The two large bodies are made once per test binary and shared by every server.
        static HUGE_BODY: OnceLock<Arc<[u8]>> = OnceLock::new();
        static BOMB: OnceLock<Arc<[u8]>> = OnceLock::new();
        let huge = HUGE_BODY.get_or_init(|| Arc::from(vec![b'x'; HUGE]));
        let bomb = BOMB.get_or_init(|| Arc::from(gzip_bomb(BOMB_EXPANDED)));
        self.set("/huge", feed().with_body(Body::Full(Arc::clone(huge))));
        self.set(
            "/bomb",
            feed()
                .header("Content-Encoding", "gzip")
                .with_body(Body::Full(Arc::clone(bomb))),
        );
        self.set("/loop", Response::redirect(302, "/loop"));
        self.set(
            "/to-ftp",
            Response::redirect(302, &format!("ftp://{}/feed.xml", self.addr)),
        );
        self.set(
            "/reset",
            feed().with_body(Body::CutOff(Arc::from(vec![b'x'; 2000]))),
        );
        self.set(
            "/hangup",
            Response::status(200).with_body(Body::Raw(Arc::from(&b""[..]))),
        );
        self.set(
            "/garbage",
            Response::status(200).with_body(Body::Raw(Arc::from(
                &b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02 not http at all\r\n\r\n"[..],
            ))),
        );
    }
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// gzip at the default level.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

/// zlib, which is what `Content-Encoding: deflate` means.
pub fn zlib(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("zlib");
    encoder.finish().expect("zlib")
}

pub fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        encoder.write_all(data).expect("brotli");
    }
    out
}

/// A valid gzip member that expands to `expanded` zero bytes (a multiple of 1 MiB).
///
/// Compressing a gigabyte in a debug build would take most of a minute, so one MiB of zeros is
/// compressed once, ended with a full flush (byte-aligned, no reference to earlier data), and
/// that segment is repeated; the CRC of the whole is combined from the CRC of one MiB.
pub fn gzip_bomb(expanded: u64) -> Vec<u8> {
    const MIB: usize = 1024 * 1024;
    assert!(
        expanded.is_multiple_of(MIB as u64) && expanded <= u32::MAX as u64,
        "bomb size"
    );
    let zeros = vec![0u8; MIB];
    let mut compress = flate2::Compress::new(flate2::Compression::best(), false);
    let mut segment = Vec::with_capacity(64 * 1024);
    compress
        .compress_vec(&zeros, &mut segment, flate2::FlushCompress::Full)
        .expect("deflate");
    assert_eq!(compress.total_in(), MIB as u64, "segment covers the MiB");

    let mut crc = flate2::Crc::new();
    let mut one = flate2::Crc::new();
    one.update(&zeros);
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    for _ in 0..expanded / MIB as u64 {
        out.extend_from_slice(&segment);
        crc.combine(&one);
    }
    // A final, empty block with fixed codes, then the trailer.
    out.extend_from_slice(&[0x03, 0x00]);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(expanded as u32).to_le_bytes());
    out
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn path_of(target: &str) -> &str {
    target.split('?').next().unwrap_or(target)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

async fn accept(listener: TcpListener, state: Arc<State>, stop: CancellationToken) {
    loop {
        let stream = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let state = Arc::clone(&state);
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = serve(stream, &state) => {}
            }
        });
    }
}

/// Answers one request. Write errors end the connection: the client has gone.
async fn serve(mut stream: TcpStream, state: &State) -> std::io::Result<()> {
    let Some(request) = read_request(&mut stream).await? else {
        return Ok(());
    };
    let path = path_of(&request.target).to_owned();
    lock(&state.requests).push(request.clone());
    let route = lock(&state.routes).get(&path).cloned();
    let mut response = match route {
        Some(route) => route,
        None => Arc::new(Response::status(404)),
    };
    if not_modified(&response, &request) {
        let headers: Vec<(String, String)> = response
            .headers
            .iter()
            .filter(|(n, _)| {
                ["etag", "last-modified", "cache-control", "date"]
                    .iter()
                    .any(|k| n.eq_ignore_ascii_case(k))
            })
            .cloned()
            .collect();
        response = Arc::new(Response {
            status: 304,
            headers,
            body: Body::Raw(Arc::from(&b""[..])),
            delay: response.delay,
        });
        return answer_head(&mut stream, &response, None).await;
    }

    {
        let mut stats = lock(&state.stats);
        let s = stats.entry(path.clone()).or_default();
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
    }
    tokio::time::sleep(response.delay).await;
    // Counted out before the first byte of the answer, so a client that starts its next
    // request as soon as it has this answer can never be seen overlapping with it.
    if let Some(s) = lock(&state.stats).get_mut(&path) {
        s.in_flight -= 1;
    }

    match &response.body {
        Body::Full(data) => {
            answer_head(&mut stream, &response, Some(data.len())).await?;
            stream.write_all(data).await?;
        }
        Body::Trickle { data, piece, every } => {
            answer_head(&mut stream, &response, Some(data.len())).await?;
            for part in data.chunks((*piece).max(1)) {
                tokio::time::sleep(*every).await;
                stream.write_all(part).await?;
                stream.flush().await?;
            }
        }
        Body::Endless => {
            answer_head(&mut stream, &response, None).await?;
            let chunk = [b'x'; 64 * 1024];
            loop {
                stream
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                stream.write_all(&chunk).await?;
                stream.write_all(b"\r\n").await?;
            }
        }
        Body::CutOff(data) => {
            answer_head(&mut stream, &response, Some(data.len())).await?;
            stream.write_all(&data[..data.len() / 2]).await?;
        }
        Body::Raw(bytes) => stream.write_all(bytes).await?,
    }
    stream.flush().await?;
    stream.shutdown().await
}

/// Whether the request's validators match the response's, as nginx decides: `If-None-Match`
/// first, `If-Modified-Since` only without it. Only 200 responses are made conditional.
fn not_modified(response: &Response, request: &Request) -> bool {
    if response.status != 200 {
        return false;
    }
    let ours = |name: &str| {
        response
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    if let Some(theirs) = request.header("If-None-Match") {
        return ours("ETag").is_some_and(|etag| {
            theirs
                .split(',')
                .any(|t| t.trim() == "*" || t.trim() == etag)
        });
    }
    match (request.header("If-Modified-Since"), ours("Last-Modified")) {
        (Some(theirs), Some(ours)) => theirs == ours,
        _ => false,
    }
}

/// Status line and headers; `Content-Length` when `length` is given, chunked for an endless
/// body, neither for a 304 (whose headers carry their own).
async fn answer_head(
    stream: &mut TcpStream,
    response: &Response,
    length: Option<usize>,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match (&response.body, length) {
        (_, Some(n)) => head.push_str(&format!("Content-Length: {n}\r\n")),
        (Body::Endless, None) => head.push_str("Transfer-Encoding: chunked\r\n"),
        _ => {}
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await
}

/// Reads a request head (no body: tests only GET). `None` if the client closed first or sent
/// something that is not a request.
async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buffer.len() > 64 * 1024 {
            return Ok(None);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..end]);
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(target)) = (first.next(), first.next()) else {
        return Ok(None);
    };
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Some(Request {
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
    }))
}
