//! The feed list from the command line, on the real binary: `feeds add` against a real HTTP
//! server on 127.0.0.1, `feeds import` and `feeds export` as OPML, `feeds --format json`.
//! Each edit must leave an indicators file that `check` accepts, with the analysts' comments
//! where they were, or leave the file untouched.

mod support;

use std::path::Path;
use std::process::Output;

use support::cli::{args, indicators_with_feeds, rss, stdout, watchfloor};
use support::feed_server::{FeedServer, Response};

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn env() -> Vec<(&'static str, String)> {
    vec![("WATCHFLOOR_CONFIG", "/dev/null".to_owned())]
}

const LAUNCH: &str = "North Korea launches reconnaissance satellite with Russian help";

/// The shipped rules with one feed, and a comment the edits must keep.
fn rules(dir: &Path) -> std::path::PathBuf {
    let path = indicators_with_feeds(dir, &[("wire", "https://wire.example/rss".to_owned())]);
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace("\nfeeds:\n", "\n# Our feeds; keep this comment.\nfeeds:\n");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn feeds_add_previews_the_feed_then_adds_it_keeping_the_file() {
    let server = FeedServer::empty().await;
    let body = rss(&[
        ("1", LAUNCH, "https://news.example.org/launch"),
        (
            "2",
            "Heavy rain is expected in Seoul tomorrow, the weather service said on Sunday",
            "https://news.example.org/rain",
        ),
    ])
    .replace(
        "<title>Wire</title>",
        "<title>Korea Desk: \"Daily\" #1</title>",
    );
    server.set("/desk.xml", Response::ok("application/rss+xml", body));
    server.set("/broken.xml", Response::status(500));
    let dir = tempfile::tempdir().unwrap();
    let indicators = rules(dir.path());
    let db = dir.path().join("w.db");
    let url = server.url("/desk.xml");
    let before = std::fs::read_to_string(&indicators).unwrap();

    // A dry run shows everything and writes nothing.
    let out = watchfloor(
        args(&indicators, &db, &["feeds", "add", &url, "--dry-run"]),
        env(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("title:     Korea Desk: \"Daily\" #1"),
        "{text}"
    );
    assert!(text.contains("items:     2"), "{text}");
    assert!(text.contains("languages: en 100%"), "{text}");
    let launch_row = text
        .lines()
        .find(|l| l.contains(LAUNCH))
        .expect("the launch item is listed");
    assert!(launch_row.contains("satellite_launch"), "{launch_row}");
    let rain_row = text.lines().find(|l| l.contains("Heavy rain")).unwrap();
    assert!(!rain_row.contains("satellite_launch"), "{rain_row}");
    assert!(text.contains("not written"), "{text}");
    assert_eq!(std::fs::read_to_string(&indicators).unwrap(), before);

    // Added for real: the file keeps every byte it had and loads with the new feed.
    let out = watchfloor(
        args(&indicators, &db, &["feeds", "add", &url, "--tag", "korea"]),
        env(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let after = std::fs::read_to_string(&indicators).unwrap();
    assert!(after.starts_with(&before), "the old text is kept whole");
    assert!(after.contains("# Our feeds; keep this comment."));
    assert!(after.ends_with(&format!(
        "  - id: korea-desk-daily-1\n    title: \"Korea Desk: \\\"Daily\\\" #1\"\n    url: \"{url}\"\n    tags: [korea]\n"
    )), "{after}");
    let check = watchfloor(args(&indicators, &db, &["check"]), env()).await;
    assert!(check.status.success(), "{}", stderr(&check));

    // The same feed again, under another spelling of its address: refused, exit 2.
    let again = format!("{url}?utm_source=x#top");
    let out = watchfloor(args(&indicators, &db, &["feeds", "add", &again]), env()).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("already watched as feed 'korea-desk-daily-1'"),
        "{}",
        stderr(&out)
    );
    // A bad or taken id: exit 2, nothing fetched.
    for id in ["Bad Id", "wire"] {
        let out = watchfloor(
            args(
                &indicators,
                &db,
                &["feeds", "add", &server.url("/other.xml"), "--id", id],
            ),
            env(),
        )
        .await;
        assert_eq!(out.status.code(), Some(2), "{id}: {}", stderr(&out));
    }
    assert_eq!(server.hits("/other.xml"), 0);
    // A feed that cannot be fetched is not added, and the error names it.
    let broken = server.url("/broken.xml");
    let out = watchfloor(args(&indicators, &db, &["feeds", "add", &broken]), env()).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(&broken), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&indicators).unwrap(), after);
}

#[tokio::test]
async fn a_file_that_cannot_be_extended_safely_gets_the_yaml_to_paste() {
    let server = FeedServer::empty().await;
    server.set(
        "/a.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[("1", "t", "https://a.example/1")]),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let indicators = rules(dir.path());
    let text = std::fs::read_to_string(&indicators).unwrap();
    let flow = format!(
        "{}feeds: [{{id: wire, url: 'https://wire.example/rss'}}]\n",
        text.split("feeds:\n").next().unwrap()
    );
    std::fs::write(&indicators, &flow).unwrap();
    let url = server.url("/a.xml");
    let out = watchfloor(
        args(
            &indicators,
            &dir.path().join("w.db"),
            &["feeds", "add", &url, "--id", "a"],
        ),
        env(),
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Paste this under `feeds:`"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains(&format!(
            "  - id: a\n    title: \"Wire\"\n    url: \"{url}\"\n"
        )),
        "{}",
        stdout(&out)
    );
    assert_eq!(std::fs::read_to_string(&indicators).unwrap(), flow);
}

#[tokio::test]
async fn opml_exports_and_imports_round_trip_and_hostile_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let indicators = rules(dir.path());
    let db = dir.path().join("w.db");
    let opml = dir.path().join("reader.opml");
    std::fs::write(
        &opml,
        r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>Reader</title></head><body>
  <outline text="Korea">
    <outline text="NK News" xmlUrl="https://www.nknews.org/feed/"/>
    <outline text="Wire again" xmlUrl="https://wire.example/rss?utm_medium=rss"/>
    <outline text="Mail" xmlUrl="mailto:desk@example.org"/>
  </outline>
  <outline text="연합뉴스" xmlUrl="https://www.yna.co.kr/rss/northkorea.xml" category="ko"/>
</body></opml>"#,
    )
    .unwrap();
    let out = watchfloor(
        args(
            &indicators,
            &db,
            &["feeds", "import", opml.to_str().unwrap()],
        ),
        env(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("2 new feeds, 2 skipped"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("mailto:desk@example.org"),
        "{}",
        stderr(&out)
    );
    let check = watchfloor(args(&indicators, &db, &["check"]), env()).await;
    assert!(check.status.success(), "{}", stderr(&check));

    // Exported, then imported into a file with no feeds: the same feeds, ids, titles and tags.
    let out = watchfloor(args(&indicators, &db, &["feeds", "export"]), env()).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let exported = dir.path().join("out.opml");
    std::fs::write(&exported, &out.stdout).unwrap();
    let empty_dir = tempfile::tempdir().unwrap();
    let empty = indicators_with_feeds(empty_dir.path(), &[]);
    let text = std::fs::read_to_string(&empty)
        .unwrap()
        .replace("feeds: []\n", "");
    std::fs::write(&empty, text).unwrap();
    let out = watchfloor(
        args(
            &empty,
            &db,
            &["feeds", "import", exported.to_str().unwrap()],
        ),
        env(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let list = |path: &Path| -> Vec<String> {
        let text = std::fs::read_to_string(path).unwrap();
        let feeds = text.split("\nfeeds:\n").nth(1).unwrap().to_owned();
        feeds
            .lines()
            .filter_map(|l| l.split_once("url: ").map(|(_, url)| url))
            .map(|url| url.trim_end_matches('}').replace(['"', '\''], ""))
            .collect()
    };
    assert_eq!(list(&empty), list(&indicators));
    let tags = std::fs::read_to_string(&empty).unwrap();
    assert!(tags.contains("tags: [korea]"), "{tags}");
    assert!(tags.contains("tags: [ko]"), "{tags}");

    // Hostile OPML: refused with the file named, exit 2, the indicators file untouched.
    let before = std::fs::read_to_string(&indicators).unwrap();
    for (name, body) in [
        ("deep.opml", format!("<opml><body>{}</body></opml>", "<outline text=\"x\">".repeat(50_000))),
        ("bomb.opml", "<!DOCTYPE opml [<!ENTITY a \"aaaaaaaa\">]><opml><body><outline text=\"&a;\" xmlUrl=\"https://a.example/\"/></body></opml>".to_owned()),
        ("html.opml", "<html><body>Not found</body></html>".to_owned()),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        let out = watchfloor(args(&indicators, &db, &["feeds", "import", path.to_str().unwrap()]), env()).await;
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(name), "{name}: {}", stderr(&out));
    }
    assert_eq!(std::fs::read_to_string(&indicators).unwrap(), before);
}

#[tokio::test]
async fn feeds_json_reads_back_with_every_feed_and_its_state() {
    let server = FeedServer::empty().await;
    server.set(
        "/ok.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[("1", LAUNCH, "https://news.example.org/l")]),
        ),
    );
    server.set("/down.xml", Response::status(503));
    let dir = tempfile::tempdir().unwrap();
    let indicators = indicators_with_feeds(
        dir.path(),
        &[
            ("ok", server.url("/ok.xml")),
            ("down", server.url("/down.xml")),
        ],
    );
    let db = dir.path().join("w.db");
    let _ = watchfloor(args(&indicators, &db, &["poll"]), env()).await;
    let out = watchfloor(
        args(&indicators, &db, &["feeds", "--format", "json"]),
        env(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let feeds = report["feeds"].as_array().unwrap();
    let by_id = |id: &str| {
        feeds
            .iter()
            .find(|f| f["id"] == id)
            .unwrap_or_else(|| panic!("{id} listed"))
    };
    let ok = by_id("ok");
    assert_eq!(ok["status"], "ok");
    assert_eq!(ok["items"], 1);
    assert_eq!(ok["hits"], 1);
    assert_eq!(ok["languages"]["en"], 1);
    assert!(ok["last_success"].as_str().is_some());
    let down = by_id("down");
    assert_eq!(down["consecutive_failures"], 1);
    assert!(
        down["last_error"].as_str().unwrap().contains("503"),
        "{down}"
    );
    assert!(down["last_success"].is_null());
}
