//! The fetch stage against a real, hostile HTTP server on 127.0.0.1 (`support::feed_server`).

mod support;

use std::time::{Duration, Instant};

use std::sync::Arc;

use support::feed_server::{
    BOMB_EXPANDED, Body, ETAG, FEED, FeedServer, LAST_MODIFIED, Response, gzip, gzip_bomb,
};
use watchfloor::config::FetchSettings;
use watchfloor::fetch::{FetchError, FetchOutcome, FetchedBody, Fetcher, Validators};

const CAP: u64 = 1024 * 1024;

/// Small limits so that failures come fast: 1 s timeout, 1 MiB cap.
fn settings() -> FetchSettings {
    FetchSettings {
        timeout: Duration::from_secs(1),
        max_body: CAP,
        concurrency: 8,
        per_host: 2,
        user_agent: "watchfloor-test/1.0 (+https://example.org/bot)".to_owned(),
        ..FetchSettings::default()
    }
}

fn fetcher() -> Fetcher {
    Fetcher::new(&settings()).expect("fetcher")
}

async fn fetched(fetcher: &Fetcher, url: &str) -> FetchedBody {
    match fetcher.fetch(url, &Validators::default()).await {
        Ok(FetchOutcome::Fetched(body)) => body,
        other => panic!("{url}: expected a body, got {other:?}"),
    }
}

async fn failure(fetcher: &Fetcher, url: &str) -> FetchError {
    match fetcher.fetch(url, &Validators::default()).await {
        Err(error) => error,
        Ok(outcome) => panic!("{url}: expected an error, got {outcome:?}"),
    }
}

#[tokio::test]
async fn a_feed_comes_back_with_its_type_validators_and_max_age() {
    let server = FeedServer::start().await;
    let body = fetched(&fetcher(), &server.url("/feed.xml")).await;
    assert_eq!(body.body, FEED.as_bytes());
    assert_eq!(
        body.content_type.as_deref(),
        Some("application/rss+xml; charset=utf-8")
    );
    assert_eq!(body.final_url, server.url("/feed.xml"));
    assert_eq!(body.validators.etag.as_deref(), Some(ETAG));
    assert_eq!(
        body.validators.last_modified.as_deref(),
        Some(LAST_MODIFIED)
    );
    assert_eq!(body.max_age, Some(Duration::from_secs(300)));

    let request = &server.requests("/feed.xml")[0];
    assert_eq!(request.method, "GET");
    assert_eq!(
        request.header("user-agent"),
        Some("watchfloor-test/1.0 (+https://example.org/bot)")
    );
    let encodings = request.header("accept-encoding").unwrap_or("");
    for encoding in ["gzip", "br", "deflate"] {
        assert!(encodings.contains(encoding), "{encodings}");
    }
    assert_eq!(request.header("if-none-match"), None);
}

#[tokio::test]
async fn a_conditional_get_sends_both_validators_and_gets_not_modified() {
    let server = FeedServer::start().await;
    let fetcher = fetcher();
    let first = fetched(&fetcher, &server.url("/feed.xml")).await;
    let again = fetcher
        .fetch(&server.url("/feed.xml"), &first.validators)
        .await
        .expect("second fetch");
    assert!(
        matches!(again, FetchOutcome::NotModified { max_age: Some(d) } if d.as_secs() == 300),
        "{again:?}"
    );
    let requests = server.requests("/feed.xml");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].header("if-none-match"), Some(ETAG));
    assert_eq!(requests[1].header("if-modified-since"), Some(LAST_MODIFIED));
}

#[tokio::test]
async fn last_modified_alone_is_enough_for_not_modified() {
    let server = FeedServer::start().await;
    let validators = Validators {
        etag: None,
        last_modified: Some(LAST_MODIFIED.to_owned()),
    };
    let outcome = fetcher()
        .fetch(&server.url("/feed.xml"), &validators)
        .await
        .expect("fetch");
    assert!(
        matches!(outcome, FetchOutcome::NotModified { .. }),
        "{outcome:?}"
    );
    assert_eq!(
        server.requests("/feed.xml")[0].header("if-modified-since"),
        Some(LAST_MODIFIED)
    );
}

#[tokio::test]
async fn a_stale_etag_gets_the_whole_feed_again() {
    let server = FeedServer::start().await;
    let validators = Validators {
        etag: Some("\"feed-v0\"".to_owned()),
        last_modified: Some(LAST_MODIFIED.to_owned()),
    };
    let outcome = fetcher()
        .fetch(&server.url("/feed.xml"), &validators)
        .await
        .expect("fetch");
    match outcome {
        FetchOutcome::Fetched(body) => assert_eq!(body.validators.etag.as_deref(), Some(ETAG)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn gzip_brotli_and_deflate_bodies_are_decoded() {
    let server = FeedServer::start().await;
    let fetcher = fetcher();
    for path in ["/gzip.xml", "/brotli.xml", "/deflate.xml"] {
        let body = fetched(&fetcher, &server.url(path)).await;
        assert_eq!(body.body, FEED.as_bytes(), "{path}");
    }
}

#[tokio::test]
async fn an_html_page_is_returned_with_its_content_type_for_the_parser_to_judge() {
    let server = FeedServer::start().await;
    let body = fetched(&fetcher(), &server.url("/page.html")).await;
    assert_eq!(
        body.content_type.as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert!(body.body.starts_with(b"<!doctype html>"));
}

#[tokio::test]
async fn a_missing_page_is_http_404() {
    let server = FeedServer::start().await;
    let error = failure(&fetcher(), &server.url("/nowhere.xml")).await;
    assert_eq!(error.to_string(), "HTTP 404 Not Found");
    assert_eq!(error.retry_after(), None);
}

#[tokio::test]
async fn a_server_error_is_reported_with_code_and_reason() {
    let server = FeedServer::start().await;
    let error = failure(&fetcher(), &server.url("/status/500")).await;
    assert!(
        matches!(error, FetchError::Status { status: 500, .. }),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "HTTP 500 Internal Server Error");
}

#[tokio::test]
async fn too_many_requests_carries_retry_after_in_seconds() {
    let server = FeedServer::start().await;
    let error = failure(&fetcher(), &server.url("/throttled")).await;
    assert_eq!(error.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(
        error.to_string(),
        "HTTP 429 Too Many Requests (retry after 120 s)"
    );
}

#[tokio::test]
async fn unavailable_carries_retry_after_as_an_http_date_counted_from_the_servers_date() {
    let server = FeedServer::start().await;
    let error = failure(&fetcher(), &server.url("/unavailable")).await;
    assert_eq!(error.retry_after(), Some(Duration::from_secs(90)));
    assert_eq!(
        error.to_string(),
        "HTTP 503 Service Unavailable (retry after 90 s)"
    );
}

#[tokio::test]
async fn unavailable_without_retry_after_has_no_wait() {
    let server = FeedServer::start().await;
    server.set("/down", Response::status(503));
    let error = failure(&fetcher(), &server.url("/down")).await;
    assert_eq!(error.retry_after(), None);
    assert_eq!(error.to_string(), "HTTP 503 Service Unavailable");
}

#[tokio::test]
async fn a_body_trickling_past_the_timeout_times_out() {
    let server = FeedServer::start().await;
    let started = Instant::now();
    let error = failure(&fetcher(), &server.url("/slow")).await;
    assert!(matches!(error, FetchError::Timeout(_)), "{error:?}");
    assert_eq!(error.to_string(), "timed out after 1 s");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn headers_that_never_come_time_out() {
    let server = FeedServer::start().await;
    server.set(
        "/stuck",
        Response::status(200).delay(Duration::from_secs(30)),
    );
    let error = failure(&fetcher(), &server.url("/stuck")).await;
    assert!(matches!(error, FetchError::Timeout(_)), "{error:?}");
}

#[tokio::test]
async fn an_endless_body_stops_at_the_cap() {
    let server = FeedServer::start().await;
    // Within the 1 s timeout: reading stopped at the cap.
    let error = failure(&fetcher(), &server.url("/endless")).await;
    assert!(matches!(error, FetchError::BodyTooLarge(CAP)), "{error:?}");
    assert_eq!(error.to_string(), "body larger than 1048576 bytes");
}

#[tokio::test]
async fn an_endless_body_under_the_cap_stops_at_the_timeout() {
    let server = FeedServer::start().await;
    let settings = FetchSettings {
        max_body: 1 << 40,
        ..settings()
    };
    let fetcher = Fetcher::new(&settings).expect("fetcher");
    let error = failure(&fetcher, &server.url("/slow")).await;
    assert!(matches!(error, FetchError::Timeout(_)), "{error:?}");
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused() {
    let server = FeedServer::start().await;
    let error = failure(&fetcher(), &server.url("/huge")).await;
    assert!(matches!(error, FetchError::BodyTooLarge(CAP)), "{error:?}");
}

#[tokio::test]
async fn the_default_cap_refuses_a_body_one_byte_over_fifteen_mebibytes() {
    let server = FeedServer::start().await;
    let settings = FetchSettings {
        timeout: Duration::from_secs(5),
        ..FetchSettings::default()
    };
    let fetcher = Fetcher::new(&settings).expect("fetcher");
    let error = failure(&fetcher, &server.url("/huge")).await;
    assert_eq!(error.to_string(), "body larger than 15728640 bytes");
}

#[tokio::test]
async fn a_body_of_exactly_the_cap_is_accepted_and_one_byte_more_is_not() {
    let server = FeedServer::start().await;
    // Without Content-Length (gzip) the cap is only found while streaming.
    let exact = vec![b'a'; CAP as usize];
    let over = vec![b'a'; CAP as usize + 1];
    for (path, body) in [("/exact", &exact), ("/over", &over)] {
        server.set(
            path,
            Response::ok("application/rss+xml", gzip(body)).header("Content-Encoding", "gzip"),
        );
    }
    let fetcher = fetcher();
    assert_eq!(fetched(&fetcher, &server.url("/exact")).await.body, exact);
    let error = failure(&fetcher, &server.url("/over")).await;
    assert!(matches!(error, FetchError::BodyTooLarge(CAP)), "{error:?}");
}

#[tokio::test]
async fn a_gzip_bomb_stops_at_the_cap() {
    let server = FeedServer::start().await;
    // Inflating the whole GiB would take longer than the 1 s timeout (and hold a GiB), so
    // this error rather than a timeout shows that decoding stopped at the cap.
    let error = failure(&fetcher(), &server.url("/bomb")).await;
    assert!(matches!(error, FetchError::BodyTooLarge(CAP)), "{error:?}");
    const { assert!(BOMB_EXPANDED > 1000 * CAP) };
}

#[tokio::test]
async fn the_gzip_bomb_is_a_valid_gzip_stream() {
    use std::io::Read;
    let bomb = gzip_bomb(4 * 1024 * 1024);
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&bomb[..])
        .read_to_end(&mut out)
        .expect("valid gzip, CRC and length included");
    assert_eq!(out.len(), 4 * 1024 * 1024);
    assert!(out.iter().all(|&b| b == 0));
    assert!(bomb.len() < 16 * 1024, "{}", bomb.len());
}

#[tokio::test]
async fn five_redirects_are_followed_and_a_sixth_is_refused() {
    let server = FeedServer::start().await;
    for n in 1..5 {
        server.set(
            &format!("/hop{n}"),
            Response::redirect(301, &format!("/hop{}", n + 1)),
        );
    }
    // The last hop is absolute, as many servers send it.
    server.set("/hop5", Response::redirect(307, &server.url("/feed.xml")));
    let fetcher = fetcher();
    let body = fetched(&fetcher, &server.url("/hop1")).await;
    assert_eq!(body.final_url, server.url("/feed.xml"));
    assert_eq!(body.body, FEED.as_bytes());
    // One hop more is one too many.
    server.set("/start", Response::redirect(302, "/hop1"));
    let error = failure(&fetcher, &server.url("/start")).await;
    assert!(
        matches!(error, FetchError::TooManyRedirects(5)),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_redirect_loop_stops_after_five_redirects() {
    let server = FeedServer::start().await;
    let error = failure(&fetcher(), &server.url("/loop")).await;
    assert!(
        matches!(error, FetchError::TooManyRedirects(5)),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "too many redirects (more than 5)");
    // The first request and five redirects.
    assert_eq!(server.hits("/loop"), 6);
}

#[tokio::test]
async fn a_redirect_to_ftp_is_refused() {
    let server = FeedServer::start().await;
    let error = failure(&fetcher(), &server.url("/to-ftp")).await;
    assert_eq!(error.to_string(), "redirect to unsupported scheme 'ftp'");
}

/// The port the test server bound, to address it under another loopback address.
fn port_of(server: &FeedServer) -> String {
    let url = server.url("/");
    let after_host = url.rsplit_once(':').expect("a port").1;
    after_host.trim_end_matches('/').to_owned()
}

/// A fetcher that takes the loopback test server for a public one, as if it were on the
/// internet.
fn fetcher_with_loopback_public(allow_private_redirects: bool) -> Fetcher {
    Fetcher::new(&FetchSettings {
        test_public_addresses: vec!["127.0.0.1".parse().expect("ip")],
        allow_private_redirects,
        ..settings()
    })
    .expect("fetcher")
}

#[tokio::test]
async fn a_public_feed_cannot_redirect_the_fetcher_into_the_local_network() {
    let server = FeedServer::start().await;
    let port = port_of(&server);
    // Each a non-public address the fetcher must never be sent to: other loopback addresses,
    // a cloud's metadata service, private ranges. (Names are judged on what they resolve to,
    // in the resolver's own tests: here 127.0.0.1 stands for the internet, so `localhost`
    // would count as public.)
    let targets = [
        format!("http://127.0.0.2:{port}/feed.xml"),
        format!("http://[::1]:{port}/feed.xml"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        format!("http://10.0.0.1:{port}/feed.xml"),
        format!("http://[::ffff:192.168.1.1]:{port}/feed.xml"),
    ];
    let fetcher = fetcher_with_loopback_public(false);
    for (n, target) in targets.iter().enumerate() {
        let path = format!("/to-private-{n}");
        server.set(&path, Response::redirect(302, target));
        let started = Instant::now();
        let error = failure(&fetcher, &server.url(&path)).await;
        assert!(
            matches!(error, FetchError::PrivateRedirect { .. }),
            "{target}: {error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("redirect from a public address to the non-public"),
            "{error}"
        );
        // Refused before connecting: no timeout waited on an address that does not answer.
        assert!(started.elapsed() < Duration::from_millis(900), "{target}");
    }
    // Two public hops and then a private one: still refused, wherever in the chain.
    server.set("/public-hop", Response::redirect(301, "/to-private-0"));
    let error = failure(&fetcher, &server.url("/public-hop")).await;
    assert!(
        matches!(error, FetchError::PrivateRedirect { .. }),
        "{error:?}"
    );
    assert_eq!(error.kind().as_str(), "redirect");

    // Public to public is followed as ever.
    server.set(
        "/to-public",
        Response::redirect(302, &server.url("/feed.xml")),
    );
    let body = fetched(&fetcher, &server.url("/to-public")).await;
    assert_eq!(body.body, FEED.as_bytes());
}

#[tokio::test]
async fn a_configured_local_feed_may_redirect_locally_and_the_setting_allows_the_rest() {
    let server = FeedServer::start().await;
    let local = server.url("/feed.xml").replace("127.0.0.1", "localhost");
    server.set("/moved", Response::redirect(301, &local));
    // The loopback server is not public here: an analyst's own local feed, moved within the
    // local network, is followed.
    let body = fetched(&fetcher(), &server.url("/moved")).await;
    assert_eq!(body.body, FEED.as_bytes());
    // With the server judged public, a redirect to another loopback address is refused,
    // unless the operator allows it: then it is followed, and fails only because nothing
    // listens there.
    let port = port_of(&server);
    server.set(
        "/elsewhere",
        Response::redirect(301, &format!("http://127.0.0.2:{port}/feed.xml")),
    );
    let error = failure(
        &fetcher_with_loopback_public(false),
        &server.url("/elsewhere"),
    )
    .await;
    assert!(
        matches!(error, FetchError::PrivateRedirect { .. }),
        "{error:?}"
    );
    let error = failure(
        &fetcher_with_loopback_public(true),
        &server.url("/elsewhere"),
    )
    .await;
    assert!(matches!(error, FetchError::Connect(_)), "{error:?}");
}

#[tokio::test]
async fn a_connection_closed_mid_body_is_reported() {
    let server = FeedServer::start().await;
    let error = failure(&fetcher(), &server.url("/reset")).await;
    assert!(matches!(error, FetchError::ClosedMidBody), "{error:?}");
    assert_eq!(error.to_string(), "connection closed mid-body");
}

#[tokio::test]
async fn a_compressed_body_cut_mid_stream_is_a_closed_connection_not_a_decoding_error() {
    let server = FeedServer::start().await;
    server.set(
        "/cut.xml.gz",
        Response::ok("application/rss+xml", "")
            .header("Content-Encoding", "gzip")
            .with_body(Body::CutOff(Arc::from(gzip(FEED.repeat(50).as_bytes())))),
    );
    let error = failure(&fetcher(), &server.url("/cut.xml.gz")).await;
    assert!(matches!(error, FetchError::ClosedMidBody), "{error:?}");
}

#[tokio::test]
async fn a_body_that_is_not_in_its_encoding_is_a_decoding_error() {
    let server = FeedServer::start().await;
    server.set(
        "/fake.xml.gz",
        Response::ok("application/rss+xml", FEED).header("Content-Encoding", "gzip"),
    );
    let error = failure(&fetcher(), &server.url("/fake.xml.gz")).await;
    assert!(matches!(error, FetchError::Decode(_)), "{error:?}");
    assert!(
        error.to_string().starts_with("cannot decode the body: "),
        "{error}"
    );
}

#[tokio::test]
async fn a_server_that_hangs_up_or_talks_nonsense_is_an_error_not_a_panic() {
    let server = FeedServer::start().await;
    let fetcher = fetcher();
    let cases = [
        ("/hangup", "connection closed before message completed"),
        ("/garbage", "invalid HTTP version parsed"),
    ];
    for (path, want) in cases {
        let error = failure(&fetcher, &server.url(path)).await;
        assert!(
            matches!(error, FetchError::Protocol(_)),
            "{path}: {error:?}"
        );
        assert_eq!(error.to_string(), format!("no valid response: {want}"));
    }
}

#[tokio::test]
async fn a_server_that_does_not_speak_tls_is_a_tls_failure() {
    // A plain HTTP server waits for a request the TLS client never sends; this one answers
    // the handshake with plain text at once, as a server on the wrong port does.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let url = format!("https://127.0.0.1:{port}/feed.xml");
    let error = failure(&fetcher(), &url).await;
    assert!(matches!(error, FetchError::Tls(_)), "{error:?}");
    assert_eq!(error.kind().as_str(), "tls");
    assert!(
        error.to_string().starts_with("connection failed: "),
        "{error}"
    );
}

#[tokio::test]
async fn a_name_that_does_not_resolve_is_a_dns_failure() {
    let host = support::ports::unresolvable_host("watchfloor-test");
    let error = failure(&fetcher(), &format!("http://{host}/feed.xml")).await;
    assert!(matches!(error, FetchError::Dns(_)), "{error:?}");
    assert_eq!(error.kind().as_str(), "dns");
    assert!(
        error
            .to_string()
            .starts_with("connection failed: dns error"),
        "{error}"
    );
}

#[tokio::test]
async fn a_refused_connection_says_so() {
    // A port bound by a socket that never listens: every connection is refused.
    let port_guard = support::ports::RefusedPort::new();
    let port = port_guard.port;
    let error = failure(&fetcher(), &format!("http://127.0.0.1:{port}/feed.xml")).await;
    assert!(matches!(error, FetchError::Connect(_)), "{error:?}");
    assert_eq!(error.kind().as_str(), "connect");
    assert!(
        error
            .to_string()
            .starts_with("connection failed: tcp connect error: "),
        "{error}"
    );
}

#[tokio::test]
async fn urls_that_are_not_http_are_refused_before_any_request() {
    let fetcher = fetcher();
    let cases = [
        ("ftp://127.0.0.1/feed.xml", "unsupported scheme 'ftp'"),
        ("file:///etc/passwd", "unsupported scheme 'file'"),
        (
            "not a url",
            "invalid url 'not a url': relative URL without a base",
        ),
    ];
    for (url, want) in cases {
        assert_eq!(failure(&fetcher, url).await.to_string(), want);
    }
}

#[tokio::test]
async fn the_per_host_limit_holds() {
    let server = FeedServer::start().await;
    server.set(
        "/busy.xml",
        Response::ok("application/rss+xml", FEED).delay(Duration::from_millis(300)),
    );
    let fetcher = fetcher(); // per_host 2, concurrency 8
    let url = server.url("/busy.xml");
    let started = Instant::now();
    for outcome in fetch_at_once(&fetcher, &url, 4).await {
        assert!(
            matches!(outcome, Ok(FetchOutcome::Fetched(_))),
            "{outcome:?}"
        );
    }
    assert_eq!(server.max_in_flight("/busy.xml"), 2);
    // Two rounds of 300 ms.
    assert!(started.elapsed() >= Duration::from_millis(600));
}

#[tokio::test]
async fn the_global_limit_holds() {
    let server = FeedServer::start().await;
    server.set(
        "/busy.xml",
        Response::ok("application/rss+xml", FEED).delay(Duration::from_millis(200)),
    );
    let settings = FetchSettings {
        concurrency: 1,
        per_host: 4,
        ..settings()
    };
    let fetcher = Fetcher::new(&settings).expect("fetcher");
    let url = server.url("/busy.xml");
    for outcome in fetch_at_once(&fetcher, &url, 3).await {
        assert!(
            matches!(outcome, Ok(FetchOutcome::Fetched(_))),
            "{outcome:?}"
        );
    }
    assert_eq!(server.max_in_flight("/busy.xml"), 1);
}

#[tokio::test]
async fn a_failing_fetch_does_not_affect_a_concurrent_good_one() {
    let server = FeedServer::start().await;
    let fetcher = fetcher();
    let slow = server.url("/slow");
    let cut = server.url("/reset");
    let good = server.url("/feed.xml");
    let none = Validators::default();
    let started = Instant::now();
    let (slow, cut, good) = tokio::join!(
        fetcher.fetch(&slow, &none),
        fetcher.fetch(&cut, &none),
        async {
            let outcome = fetcher.fetch(&good, &none).await;
            (outcome, started.elapsed())
        },
    );
    assert!(matches!(slow, Err(FetchError::Timeout(_))), "{slow:?}");
    assert!(matches!(cut, Err(FetchError::ClosedMidBody)), "{cut:?}");
    let (good, elapsed) = good;
    match good {
        Ok(FetchOutcome::Fetched(body)) => assert_eq!(body.body, FEED.as_bytes()),
        other => panic!("{other:?}"),
    }
    // The good fetch waits for neither the slow one nor the broken one.
    assert!(elapsed < Duration::from_millis(900), "{elapsed:?}");
}

/// Runs `n` fetches of `url` at once, each on its own task, and returns their outcomes.
async fn fetch_at_once(
    fetcher: &Fetcher,
    url: &str,
    n: usize,
) -> Vec<Result<FetchOutcome, FetchError>> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let fetcher = fetcher.clone();
        let url = url.to_owned();
        tasks.spawn(async move { fetcher.fetch(&url, &Validators::default()).await });
    }
    tasks.join_all().await
}

/// Regression: a poll took its slot among the polls in flight before waiting for its host's
/// turn, so feeds queued behind one slow host held every slot and a feed on another host
/// waited for the slow one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_queued_behind_one_slow_host_leave_other_hosts_free() {
    use watchfloor::config::Feed;
    use watchfloor::pipeline::poll_feed;

    let slow = FeedServer::start().await;
    // Held until the fast feed is done, or long enough to fail the test if it never is.
    slow.set(
        "/slow.xml",
        Response::ok("application/rss+xml", FEED).delay(Duration::from_secs(20)),
    );
    let fast = FeedServer::start().await;
    // Two host names for the one loopback address: the fetcher counts hosts by name.
    let slow_url = slow.url("/slow.xml").replace("127.0.0.1", "localhost");
    let fast_url = fast.url("/feed.xml");

    let dir = tempfile::tempdir().expect("dir");
    let mut settings = support::app::settings(dir.path(), &[]);
    settings.fetch = FetchSettings {
        timeout: Duration::from_secs(30),
        concurrency: 2,
        per_host: 1,
        ..settings.fetch
    };
    let mut feeds: Vec<Feed> = (1..=4)
        .map(|n| Feed::new(&format!("slow{n}"), &slow_url))
        .collect();
    feeds.push(Feed::new("fast", &fast_url));
    let app = support::app::build_app(settings, support::app::shipped_rules(), feeds.clone());
    let ctx = app.context();

    let (done, mut reports) = tokio::sync::mpsc::unbounded_channel();
    let fast_feed = feeds.pop().expect("fast feed");
    for feed in feeds {
        let (ctx, done) = (ctx.clone(), done.clone());
        tokio::spawn(async move { done.send(poll_feed(ctx, feed, None).await.feed_id) });
    }
    // Only once the slow host is busy (and the other slow feeds queue for it) does the fast
    // feed start.
    let waiting = Instant::now();
    while slow.hits("/slow.xml") == 0 {
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "no slow fetch began"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    tokio::spawn(async move { done.send(poll_feed(ctx, fast_feed, None).await.feed_id) });
    let first = reports.recv().await.expect("a report");
    assert_eq!(first, "fast", "the fast feed waited for the slow host");
}
