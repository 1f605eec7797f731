//! Hostile feeds: the real `watchfloor run` polling 50 endpoints that misbehave on purpose
//! beside 50 good feeds, all served from 127.0.0.1.
//!
//! What it shows: the daemon stays up and answers `/healthz`, its peak resident set
//! (`VmHWM`) stays under 150 MB, every good feed's items are all recorded, and every hostile
//! feed has its own recorded error that names what went wrong. A few documents that look
//! hostile but carry readable entries (entity bombs inside a real feed, invalid UTF-8 in a
//! title) must be read, defused, like good ones. Figures are printed; run with
//! `cargo test --test hostile -- --nocapture` to see them.

#[path = "support/daemon.rs"]
mod daemon;
mod support;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use daemon::{Daemon, get};
use support::cli::{root, rss};
use support::feed_server::{Body, FeedServer, Response, gzip, gzip_bomb};
use watchfloor::parse::parse_feed;
use watchfloor::store::{FeedState, Store};

/// Whole-request timeout given to the daemon: long enough for a loaded debug build to fetch
/// and read a good feed, short enough that the slow endpoints fail within the test.
const TIMEOUT_SECONDS: u64 = 8;
/// The two daemons of this file run one after the other: the large documents' parses would
/// otherwise take the CPU the hostile endpoints' large bodies need to finish in their turn.
static ONE_DAEMON_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
/// The bound the issue sets for a daemon under attack.
const RSS_LIMIT_KB: u64 = 150 * 1000;
const TEN_MB: usize = 10 * 1000 * 1000;
/// The body cap given to the daemon: the default. Memory under attack stays bounded because
/// only one body over a megabyte is in memory at a time (`fetch::LARGE_BODIES`) and large
/// allocations are returned to the system when freed (see `main.rs`); `HOSTILE_MAX_BODY`
/// tries another cap.
const MAX_BODY: u64 = 15 * 1024 * 1024;
const RSS_TYPE: &str = "application/rss+xml";

/// One hostile endpoint and what its recorded error must say (any one of the phrases).
struct Hostile {
    id: String,
    kind: &'static str,
    /// `None`: the URL points at a port nobody listens on.
    route: Option<(String, Response)>,
    expect: &'static [&'static str],
}

/// A feed whose every entry must be recorded.
struct Good {
    id: String,
    path: String,
    content_type: &'static str,
    body: Arc<[u8]>,
}

fn corpus_dir() -> Option<PathBuf> {
    let dir = root().join("../shared/corpus/feeds");
    dir.join("MANIFEST.tsv").is_file().then_some(dir)
}

fn content_type_of(name: &str) -> &'static str {
    if name.ends_with(".json") {
        "application/feed+json"
    } else {
        "application/xml"
    }
}

/// A generated feed of `n` entries, unique to `seed`.
fn generated(seed: usize, n: usize) -> String {
    let items: Vec<(String, String, String)> = (0..n)
        .map(|i| {
            (
                format!("gen-{seed}-{i}"),
                format!("Generated story {i} of feed {seed}: grain prices in the region"),
                format!("https://generated.test/{seed}/{i}"),
            )
        })
        .collect();
    let borrowed: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(g, t, l)| (g.as_str(), t.as_str(), l.as_str()))
        .collect();
    rss(&borrowed)
}

/// Fifty good feeds: real captured feeds from the shared corpus where it is present (the
/// files are read where they lie, never copied), generated RSS for the rest.
fn good_feeds(url_of: &dyn Fn(&str) -> String) -> Vec<Good> {
    let mut good = Vec::new();
    match corpus_dir() {
        Some(dir) => {
            let mut names: Vec<String> = std::fs::read_dir(&dir)
                .expect("corpus")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    !n.starts_with("MALFORMED") && (n.ends_with(".xml") || n.ends_with(".json"))
                })
                .collect();
            names.sort();
            for name in names {
                let body: Arc<[u8]> = Arc::from(std::fs::read(dir.join(&name)).expect("read"));
                let path = format!("/good/{}", good.len());
                let readable = parse_feed(&body, Some(content_type_of(&name)), &url_of(&path))
                    .is_ok_and(|f| !f.items.is_empty());
                if readable && good.len() < 50 {
                    good.push(Good {
                        id: format!("good_{:02}", good.len()),
                        path,
                        content_type: content_type_of(&name),
                        body,
                    });
                }
            }
        }
        None => eprintln!(
            "the feed corpus is not at ../shared/corpus/feeds beside the repository: \
             all 50 good feeds are generated RSS"
        ),
    }
    while good.len() < 50 {
        let n = good.len();
        good.push(Good {
            id: format!("good_{n:02}"),
            path: format!("/good/{n}"),
            content_type: RSS_TYPE,
            body: Arc::from(generated(n, 5 + n % 20).into_bytes()),
        });
    }
    good
}

/// The classic billion-laughs document, with `root` as its root element.
fn laughs(root: &str, inner: &str) -> String {
    let mut doctype = format!("<!DOCTYPE {root} [<!ENTITY lol \"lol\">");
    for n in 1..=9 {
        let previous = if n == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", n - 1)
        };
        doctype.push_str(&format!(
            "<!ENTITY lol{n} \"{}\">",
            format!("&{previous};").repeat(10)
        ));
    }
    doctype.push_str("]>");
    format!("<?xml version=\"1.0\"?>{doctype}<{root}>{inner}</{root}>")
}

/// An RSS document of `n` entries of about 170 bytes each.
fn many_items(n: usize) -> Vec<u8> {
    let mut body =
        String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Many</title>");
    for i in 0..n {
        body.push_str(&format!(
            "<item><guid>many-{i}</guid><title>Entry {i} of a feed far too long</title>\
             <link>https://many.test/{i}</link><description>Nothing at all.</description></item>"
        ));
    }
    body.push_str("</channel></rss>");
    body.into_bytes()
}

/// The fifty hostile endpoints.
fn hostile_feeds(server_url: &dyn Fn(&str) -> String) -> Vec<Hostile> {
    let feed = || Response::ok(RSS_TYPE, generated(999, 3));
    let bomb: Arc<[u8]> = Arc::from(gzip_bomb(1 << 30));
    let long_line: Arc<[u8]> = Arc::from(vec![b'x'; TEN_MB]);
    let mut list: Vec<Hostile> = Vec::new();
    let mut add = |kind: &'static str, response: Response, expect: &'static [&'static str]| {
        let n = list.iter().filter(|h| h.kind == kind).count();
        let id = format!("h_{}_{n}", kind.replace([' ', '-'], "_"));
        let path = format!("/hostile/{id}");
        list.push(Hostile {
            id,
            kind,
            route: Some((path, response)),
            expect,
        });
    };
    const CAP: &[&str] = &["body larger than"];
    const TIMED_OUT: &[&str] = &["timed out"];
    const REDIRECTS: &[&str] = &["too many redirects", "redirect to unsupported scheme"];
    const NOT_A_FEED: &[&str] = &["not a feed", "invalid feed"];
    // Under the default cap the parser judges them; under a lower one the cap stops them.
    const LONG: &[&str] = &["not a feed", "invalid feed", "body larger than"];
    const CUT: &[&str] = &["connection closed", "no valid response", "request failed"];

    // Endless bodies: a stream that never ends stops at the body cap.
    for content_type in [
        RSS_TYPE,
        "application/atom+xml",
        "application/json",
        "text/plain",
    ] {
        add(
            "endless",
            Response::ok(content_type, "").with_body(Body::Endless),
            CAP,
        );
    }
    // Gzip bombs: 1 GiB of zeros from about a megabyte, stopped at the cap as they inflate.
    for content_type in [
        RSS_TYPE,
        "application/xml",
        "text/html",
        "application/octet-stream",
    ] {
        add(
            "gzip bomb",
            Response::ok(content_type, "")
                .header("Content-Encoding", "gzip")
                .with_body(Body::Full(Arc::clone(&bomb))),
            CAP,
        );
    }
    // Slow drips: a real feed, one byte at a time, far slower than the timeout allows; and
    // servers whose headers never come.
    for (piece, every) in [(1, 50), (1, 200), (10, 500), (100, 900)] {
        add(
            "slow drip",
            feed().with_body(Body::Trickle {
                data: Arc::from(generated(7, 40).into_bytes()),
                piece,
                every: Duration::from_millis(every),
            }),
            TIMED_OUT,
        );
    }
    for _ in 0..2 {
        add(
            "no headers",
            feed().delay(Duration::from_secs(3600)),
            TIMED_OUT,
        );
    }
    // Redirect loops: to itself, between two paths, a chain too long, and off to ftp.
    for n in 0..2 {
        let path = format!("/hostile/h_redirect_loop_{n}");
        add("redirect loop", Response::redirect(302, &path), REDIRECTS);
    }
    add(
        "redirect loop",
        Response::redirect(301, "/ping-pong/b"),
        REDIRECTS,
    );
    add(
        "redirect loop",
        Response::redirect(307, "/chain/1"),
        REDIRECTS,
    );
    add(
        "redirect loop",
        Response::redirect(302, &server_url("/ftp").replacen("http:", "ftp:", 1)),
        REDIRECTS,
    );
    // Ten megabytes of one line: plain text, an unterminated feed, an unknown root, and a
    // feed whose one title never closes.
    add(
        "one line",
        Response::ok("text/plain", "").with_body(Body::Full(Arc::clone(&long_line))),
        LONG,
    );
    let mut unterminated = b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>".to_vec();
    unterminated.extend_from_slice(&long_line);
    add(
        "one line",
        Response::ok(RSS_TYPE, gzip(&unterminated)).header("Content-Encoding", "gzip"),
        LONG,
    );
    let mut unknown_root = b"<data>".to_vec();
    unknown_root.extend_from_slice(&long_line);
    unknown_root.extend_from_slice(b"</data>");
    add(
        "one line",
        Response::ok("application/xml", unknown_root),
        LONG,
    );
    let mut open_title = b"<rss version=\"2.0\"><channel><item><title><![CDATA[".to_vec();
    open_title.extend_from_slice(&long_line);
    add(
        "one line",
        Response::ok(RSS_TYPE, gzip(&open_title)).header("Content-Encoding", "gzip"),
        LONG,
    );
    // 100,000 entries of a real-looking feed: about 17 MB, over the default cap.
    let many: Arc<[u8]> = Arc::from(many_items(100_000));
    assert!(many.len() > 15 * 1024 * 1024, "{} bytes", many.len());
    for encoding in [None, Some("gzip")] {
        let response = match encoding {
            Some(e) => Response::ok(RSS_TYPE, gzip(&many)).header("Content-Encoding", e),
            None => Response::ok(RSS_TYPE, "").with_body(Body::Full(Arc::clone(&many))),
        };
        add("100k items", response, CAP);
    }
    // Invalid UTF-8: bytes that decode to nothing readable in any encoding's hands.
    let noise: Vec<u8> = (0..200_000u32)
        .map(|i| 0x80 | (i.wrapping_mul(2_654_435_761) >> 25) as u8)
        .collect();
    add(
        "invalid utf-8",
        Response::ok("application/xml; charset=utf-8", noise.clone()),
        NOT_A_FEED,
    );
    add("invalid utf-8", Response::ok(RSS_TYPE, noise), NOT_A_FEED);
    add(
        "invalid utf-8",
        Response::ok(RSS_TYPE, b"<?xml version=\"1.0\" encoding=\"utf-8\"?><\xff\xfe\xfd version=\"2.0\"><channel/></\xff\xfe\xfd>".to_vec()),
        NOT_A_FEED,
    );
    add(
        "invalid utf-8",
        Response::ok(RSS_TYPE, b"\xfe\xff\x00<\x00r\x00s\x00s\xd8\x00".to_vec()),
        NOT_A_FEED,
    );
    // Billion laughs: entity declarations are never expanded, so these cost their bytes; their
    // roots are no feed.
    add(
        "billion laughs",
        Response::ok("application/xml", laughs("lolz", "&lol9;")),
        NOT_A_FEED,
    );
    add(
        "billion laughs",
        Response::ok(RSS_TYPE, laughs("lolz", &"&lol9;".repeat(1000))),
        NOT_A_FEED,
    );
    add(
        "billion laughs",
        Response::ok(RSS_TYPE, laughs("svg", "<text>&lol9;</text>")),
        NOT_A_FEED,
    );
    // HTML served as a feed: the corpus's captured pages when present, and a generated one.
    let mut pages: Vec<Vec<u8>> = corpus_dir()
        .map(|dir| {
            let mut names: Vec<String> = std::fs::read_dir(&dir)
                .expect("corpus")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("MALFORMED-html"))
                .collect();
            names.sort();
            names
                .iter()
                .map(|n| std::fs::read(dir.join(n)).expect("read"))
                .collect()
        })
        .unwrap_or_default();
    while pages.len() < 4 {
        pages.push(
            format!(
                "<!doctype html><html><body><h1>Log in {}</h1></body></html>",
                pages.len()
            )
            .into_bytes(),
        );
    }
    for page in pages.into_iter().take(4) {
        add(
            "html",
            Response::ok("text/html; charset=utf-8", page),
            &["HTML page", "not a feed"],
        );
    }
    // Throttling: 429 with Retry-After in seconds, as a date, without one; 503 with one.
    add(
        "429",
        Response::status(429).header("Retry-After", "120"),
        &["HTTP 429"],
    );
    add(
        "429",
        Response::status(429)
            .header("Date", "Wed, 21 Oct 2015 07:28:00 GMT")
            .header("Retry-After", "Wed, 21 Oct 2015 07:30:00 GMT"),
        &["HTTP 429"],
    );
    add("429", Response::status(429), &["HTTP 429"]);
    add(
        "429",
        Response::status(503).header("Retry-After", "300"),
        &["HTTP 503"],
    );
    // Connections cut: mid-body, mid-gzip, before any answer, and answers that are not HTTP.
    add(
        "reset",
        feed().with_body(Body::CutOff(Arc::from(generated(3, 50).into_bytes()))),
        CUT,
    );
    add(
        "reset",
        feed()
            .header("Content-Encoding", "gzip")
            .with_body(Body::CutOff(Arc::from(gzip(generated(4, 500).as_bytes())))),
        CUT,
    );
    add(
        "reset",
        Response::status(200).with_body(Body::Raw(Arc::from(&b""[..]))),
        CUT,
    );
    add(
        "reset",
        Response::status(200).with_body(Body::Raw(Arc::from(
            &b"SSH-2.0-OpenSSH_9.6\r\n\0\x01\x02\r\n\r\n"[..],
        ))),
        CUT,
    );
    // Plain failures a feed server commits every day.
    add("status", Response::status(500), &["HTTP 500"]);
    add("status", Response::status(404), &["HTTP 404"]);
    add(
        "status",
        Response::status(200)
            .header("Content-Type", RSS_TYPE)
            .body(""),
        &["empty document"],
    );
    add(
        "bad encoding",
        Response::ok(RSS_TYPE, generated(5, 2)).header("Content-Encoding", "gzip"),
        &["cannot decode the body", "request failed"],
    );
    add(
        "bad encoding",
        Response::ok(
            "application/feed+json",
            "{\"version\": \"https://jsonfeed.org/version/1.1\", \"items\": [{\"id\": ",
        ),
        NOT_A_FEED,
    );
    list.push(Hostile {
        id: "h_refused_0".to_owned(),
        kind: "refused",
        route: None,
        expect: &["connection failed"],
    });
    list
}

/// Documents that look hostile but carry entries: they must be read, defused.
fn defused_feeds() -> Vec<Good> {
    let laughs_in_rss = laughs(
        "rss",
        "<channel><title>Laughs</title><item><guid>lol</guid><title>&lol9;</title></item></channel>",
    )
    .replacen("<rss>", "<rss version=\"2.0\">", 1);
    let bad_bytes = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel>\
        <item><guid>bad-1</guid><title>a\xff\xfeb</title></item>\
        <item><guid>bad-2</guid><title>\xc3\x28 broken pair</title></item></channel></rss>"
        .to_vec();
    [laughs_in_rss.into_bytes(), bad_bytes]
        .into_iter()
        .enumerate()
        .map(|(n, body)| Good {
            id: format!("defused_{n}"),
            path: format!("/defused/{n}"),
            content_type: RSS_TYPE,
            body: Arc::from(body),
        })
        .collect()
}

/// Documents under the body cap that once cost far more than their size, each with what must
/// become of it: the items recorded and the warning on the feed.
fn large_documents() -> Vec<(&'static str, Vec<u8>, usize, &'static str)> {
    // 200,000 categories on one item: once quadratic to de-duplicate (23 s of CPU).
    let mut categories = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><item><guid>cats</guid>\
         <title>North Korea grain shipments</title>",
    );
    for n in 0..200_000 {
        categories.push_str(&format!("<category>c{n}</category>"));
    }
    categories.push_str("</item></channel></rss>");
    // Fourteen megabytes of one-letter words in one item, under the body cap: every word a
    // position for the rules' NEAR clauses, once half a gigabyte of memory.
    let letters = "a b c d e f g h i j k l m n o p q r s t u v w x y z ".repeat(270_000);
    let one_letter = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><item><guid>letters</guid>\
         <title>Russia oil North Korea</title><description>{letters}</description></item>\
         </channel></rss>"
    );
    // A hundred thousand small entries, under the body cap.
    let mut many = String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel>");
    for n in 0..100_000 {
        many.push_str(&format!(
            "<item><guid>k{n}</guid><title>Entry {n}</title></item>"
        ));
    }
    many.push_str("</channel></rss>");
    vec![
        ("categories", categories.into_bytes(), 1, "items_cut"),
        ("letters", one_letter.into_bytes(), 1, "items_cut"),
        ("many", many.into_bytes(), 10_000, "too_many_entries"),
    ]
}

/// The large documents alone, one daemon polling them together: read to the limits of an item
/// and of a document, reported, and in bounded time and memory. Apart from the fifty hostile
/// endpoints, whose large bodies would wait behind these for the one large-body turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_that_once_cost_far_more_than_their_size_stay_bounded() {
    let _alone = ONE_DAEMON_AT_A_TIME.lock().await;
    let server = FeedServer::empty().await;
    let documents = large_documents();
    let mut feeds = Vec::new();
    for (name, body, _, _) in &documents {
        assert!(
            body.len() < MAX_BODY as usize,
            "{name}: {} bytes",
            body.len()
        );
        let path = format!("/large/{name}");
        server.set(&path, Response::ok(RSS_TYPE, body.clone()));
        feeds.push((format!("large_{name}"), server.url(&path)));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let indicators = dir.path().join("indicators.yaml");
    let db = dir.path().join("watchfloor.db");
    write_indicators(&indicators, &feeds);
    let started = Instant::now();
    let mut daemon = Daemon::start(
        &indicators,
        &db,
        &[
            ("WATCHFLOOR_FETCH_TIMEOUT", "60".to_owned()),
            (
                "WATCHFLOOR_MAIL_DIR",
                dir.path().join("mail").display().to_string(),
            ),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let done = |now: &BTreeMap<String, FeedState>| {
        documents.iter().all(|(name, _, items, _)| {
            now.get(&format!("large_{name}"))
                .is_some_and(|s| s.last_success.is_some() && s.items as usize == *items)
        })
    };
    let settled = loop {
        let now = states(&db);
        if done(&now) || Instant::now() > deadline {
            break now;
        }
        assert!(daemon.alive(), "the daemon died:\n{}", daemon.log());
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let read_in = started.elapsed();
    let peak_kb = daemon.status_kb("VmHWM").expect("VmHWM");
    let (code, log) = daemon.stop();
    println!(
        "large documents read in {:.1} s; peak RSS (VmHWM) {:.1} MB",
        read_in.as_secs_f64(),
        peak_kb as f64 / 1000.0
    );
    for (name, _, items, kind) in &documents {
        let state = settled.get(&format!("large_{name}"));
        assert_eq!(
            state.map(|s| s.items as usize),
            Some(*items),
            "{name}: {state:?}\n{log}"
        );
        let warning = state.and_then(|s| s.warning_kind.clone());
        assert_eq!(warning.as_deref(), Some(*kind), "{name}: {state:?}");
    }
    assert!(peak_kb < RSS_LIMIT_KB, "peak RSS {peak_kb} kB");
    assert_eq!(code, Some(0), "stopped cleanly:\n{log}");
}

fn write_indicators(path: &Path, feeds: &[(String, String)]) {
    let shipped = std::fs::read_to_string(root().join("indicators.yaml")).expect("indicators");
    let rules = shipped.split("\nfeeds:").next().expect("rules part");
    let mut text = format!("{rules}\nfeeds:\n");
    for (id, url) in feeds {
        text.push_str(&format!(
            "  - {{id: {id}, url: '{url}', schedule: '*/2 * * * * *'}}\n"
        ));
    }
    std::fs::write(path, text).expect("write indicators");
}

fn states(db: &Path) -> BTreeMap<String, FeedState> {
    Store::open_read_only(db)
        .and_then(|s| s.feed_states())
        .map(|all| all.into_iter().map(|s| (s.id.clone(), s)).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_hostile_feeds_beside_fifty_good_ones_leave_the_daemon_up_small_and_right() {
    let _alone = ONE_DAEMON_AT_A_TIME.lock().await;
    let server = FeedServer::empty().await;
    let url_of = |path: &str| server.url(path);
    let refused_guard = support::ports::RefusedPort::new();
    let refused = refused_guard.port;
    let good = good_feeds(&url_of);
    let defused = defused_feeds();
    let hostile = hostile_feeds(&url_of);
    assert_eq!(hostile.len(), 50, "fifty hostile endpoints");
    assert_eq!(good.len(), 50, "fifty good feeds");

    server.set(
        "/ping-pong/b",
        Response::redirect(301, "/hostile/h_redirect_loop_2"),
    );
    for hop in 1..=7 {
        server.set(
            &format!("/chain/{hop}"),
            Response::redirect(307, &format!("/chain/{}", hop + 1)),
        );
    }
    server.set("/chain/8", Response::ok(RSS_TYPE, generated(8, 1)));
    let mut feeds: Vec<(String, String)> = Vec::new();
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for g in good.iter().chain(&defused) {
        server.set(
            &g.path,
            Response::ok(g.content_type, "").with_body(Body::Full(Arc::clone(&g.body))),
        );
        let url = server.url(&g.path);
        let parsed = parse_feed(&g.body, Some(g.content_type), &url).expect("a good feed parses");
        let keys: HashSet<&str> = parsed.items.iter().map(|i| i.key.as_str()).collect();
        expected.insert(g.id.clone(), keys.len());
        feeds.push((g.id.clone(), url));
    }
    for h in &hostile {
        let url = match &h.route {
            Some((path, response)) => {
                server.set(path, response.clone());
                server.url(path)
            }
            None => format!("http://127.0.0.1:{refused}/feed.xml"),
        };
        feeds.push((h.id.clone(), url));
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let indicators = dir.path().join("indicators.yaml");
    let db = dir.path().join("watchfloor.db");
    write_indicators(&indicators, &feeds);
    let max_body: u64 = std::env::var("HOSTILE_MAX_BODY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(MAX_BODY);
    let started = Instant::now();
    let mut daemon = Daemon::start(
        &indicators,
        &db,
        &[
            ("WATCHFLOOR_FETCH_TIMEOUT", TIMEOUT_SECONDS.to_string()),
            ("WATCHFLOOR_FETCH_MAX_BODY", max_body.to_string()),
            // Every endpoint is on one loopback host; on the internet they would be many.
            ("WATCHFLOOR_FETCH_PER_HOST", "16".to_owned()),
            (
                "WATCHFLOOR_MAIL_DIR",
                dir.path().join("mail").display().to_string(),
            ),
        ],
    );
    let base = daemon.http_base();

    // Until every feed has been polled and judged: good ones complete, hostile ones failed.
    let deadline = Instant::now() + Duration::from_secs(150);
    let settled = loop {
        let now = states(&db);
        let good_done = expected.iter().all(|(id, n)| {
            now.get(id)
                .is_some_and(|s| s.last_success.is_some() && s.items as usize == *n)
        });
        let hostile_done = hostile
            .iter()
            .all(|h| now.get(&h.id).is_some_and(|s| s.last_error.is_some()));
        if good_done && hostile_done {
            break now;
        }
        assert!(daemon.alive(), "the daemon died:\n{}", daemon.log());
        if Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let judged_in = started.elapsed();
    // A few more rounds: the good feeds are polled again, the hostile ones retried as their
    // backoff allows, and memory must not creep.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(daemon.alive(), "the daemon died:\n{}", daemon.log());
    let (health, health_body) = get(&format!("{base}/healthz")).await;
    let peak_kb = daemon.status_kb("VmHWM").expect("VmHWM");
    let now_kb = daemon.status_kb("VmRSS").expect("VmRSS");
    let last = states(&db);

    let mut per_kind: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut wrong = Vec::new();
    for h in &hostile {
        let error = settled.get(&h.id).and_then(|s| s.last_error.clone());
        match &error {
            Some(e) if h.expect.iter().any(|want| e.contains(want)) => {}
            _ => wrong.push(format!(
                "{} ({}): {error:?}, want one of {:?}",
                h.id, h.kind, h.expect
            )),
        }
        per_kind
            .entry(h.kind)
            .or_default()
            .push(error.unwrap_or_else(|| "no error recorded".into()));
    }
    let mut missing = Vec::new();
    for (id, n) in &expected {
        let got = last.get(id).map_or(0, |s| s.items as usize);
        if got != *n {
            missing.push(format!("{id}: {got} of {n} items"));
        }
    }
    let items: usize = expected.values().sum();

    println!(
        "fetch.max_body {max_body} bytes, fetch.concurrency 16 (default), fetch.timeout {TIMEOUT_SECONDS} s"
    );
    println!(
        "hostile feeds: {} good ({items} items), {} defused, {} hostile",
        good.len(),
        defused.len(),
        hostile.len()
    );
    println!(
        "all judged in {:.1} s; peak RSS (VmHWM) {:.1} MB, now {:.1} MB; /healthz {health}",
        judged_in.as_secs_f64(),
        peak_kb as f64 / 1000.0,
        now_kb as f64 / 1000.0
    );
    for (kind, errors) in &per_kind {
        let distinct: std::collections::BTreeSet<&String> = errors.iter().collect();
        println!(
            "  {kind:>15} x{}: {}",
            errors.len(),
            distinct
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    let throttled = &last["h_429_0"];
    let (code, log) = daemon.stop();

    assert!(
        wrong.is_empty(),
        "hostile feeds without their own error:\n{}",
        wrong.join("\n")
    );
    assert!(
        missing.is_empty(),
        "good feeds not fully recorded:\n{}",
        missing.join("\n")
    );
    assert!(peak_kb < RSS_LIMIT_KB, "peak RSS {peak_kb} kB");
    assert_eq!(health, 200, "{health_body}");
    let attempt = throttled.last_attempt.expect("attempted");
    let next = throttled.next_check.expect("a next check");
    assert!(
        next - attempt >= chrono::Duration::seconds(119),
        "Retry-After honoured: {attempt} → {next}"
    );
    assert_eq!(code, Some(0), "stopped cleanly:\n{log}");
    assert!(!log.contains("panicked"), "{log}");
}
