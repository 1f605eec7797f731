use std::collections::HashSet;
use std::path::Path;

use super::*;

const RULES: &str = "\
# The analysts' rules.
lists:
  dprk: [North Korea]

indicators:
  - id: launch
    title: Launch
    insight: watch
    severity: high
    query: '@dprk AND launch'

# Feeds we poll, by region.
feeds:
  # Korea first.
  - id: yonhap-nk
    title: Yonhap
    url: https://en.yna.co.kr/RSS/nk.xml
    tags: [korea]   # wire

  - id: nknews
    url: https://www.nknews.org/feed/

# Nothing after the feeds but this comment.
";

fn new_feed(id: &str, url: &str, title: Option<&str>) -> NewFeed {
    NewFeed {
        id: id.to_owned(),
        url: url.to_owned(),
        title: title.map(str::to_owned),
        tags: vec!["imported".to_owned()],
    }
}

#[test]
fn a_new_feed_joins_the_list_and_every_other_byte_stays() {
    let added = new_feed(
        "thediplomat",
        "https://thediplomat.com/feed/",
        Some("The Diplomat: \"Asia\" # weekly"),
    );
    let edited = insert_feeds(RULES, std::slice::from_ref(&added)).unwrap();
    let expected_item = "  - id: thediplomat\n    title: \"The Diplomat: \\\"Asia\\\" # weekly\"\n    url: \"https://thediplomat.com/feed/\"\n    tags: [imported]\n";
    let at = RULES.find("\n# Nothing after").unwrap() - 1;
    // After the last feed's line, before the blank line and the trailing comment.
    let want = format!("{}{}{}", &RULES[..at + 1], expected_item, &RULES[at + 1..]);
    assert_eq!(edited, want);
    let loaded = Indicators::parse(&edited, Path::new("indicators.yaml")).unwrap();
    let last = loaded.feeds.last().unwrap();
    assert_eq!(last.id, "thediplomat");
    assert_eq!(
        last.title.as_deref(),
        Some("The Diplomat: \"Asia\" # weekly")
    );
    assert_eq!(last.url, "https://thediplomat.com/feed/");
}

#[test]
fn other_layouts_are_followed_or_refused() {
    // Items at the key's own indentation, and CRLF line ends.
    let flush = RULES
        .replace("\n  - id: yonhap", "\n- id: yonhap")
        .replace("\n  - id: nknews", "\n- id: nknews")
        .replace("\n    ", "\n  ")
        .replace('\n', "\r\n");
    let edited = insert_feeds(&flush, &[new_feed("a", "https://a.example/rss", None)]).unwrap();
    assert!(
        edited.contains("\r\n- id: a\r\n  url: \"https://a.example/rss\"\r\n"),
        "{edited}"
    );
    assert_eq!(edited.matches('\n').count(), edited.matches("\r\n").count());
    // No feeds yet: the list is added at the end.
    let none = "indicators: []\n";
    let edited = insert_feeds(none, &[new_feed("a", "https://a.example/rss", None)]).unwrap();
    assert!(edited.starts_with(none));
    assert!(edited.ends_with(
        "feeds:\n  - id: a\n    url: \"https://a.example/rss\"\n    tags: [imported]\n"
    ));
    // A flow list is not extended.
    assert!(insert_feeds("feeds: []\n", &[new_feed("a", "https://a.example/", None)]).is_err());
}

#[test]
fn the_file_is_replaced_only_when_it_loads_with_exactly_the_new_feeds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("indicators.yaml");
    std::fs::write(&path, RULES).unwrap();
    add_to_file(
        &path,
        &[new_feed(
            "extra",
            "https://extra.example/feed",
            Some("Extra"),
        )],
    )
    .unwrap();
    let loaded = Indicators::load(&path).unwrap();
    assert_eq!(
        loaded
            .feeds
            .iter()
            .map(|f| f.id.as_str())
            .collect::<Vec<_>>(),
        ["yonhap-nk", "nknews", "extra"]
    );
    // An id already in use: the file would not load, so it stays as it was.
    let before = std::fs::read_to_string(&path).unwrap();
    let error =
        add_to_file(&path, &[new_feed("nknews", "https://other.example/", None)]).unwrap_err();
    assert!(error.to_string().contains("duplicate feed id"), "{error}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    // A `feeds:` inside a block scalar is not the list: the list is added after it.
    let tricky = RULES[..RULES.find("\n# Feeds we poll").unwrap() + 1].replace(
        "insight: watch",
        "insight: |\n      feeds:\n      - not a feed",
    );
    std::fs::write(&path, &tricky).unwrap();
    add_to_file(&path, &[new_feed("x", "https://x.example/", None)]).unwrap();
    let loaded = Indicators::load(&path).unwrap();
    assert_eq!(loaded.feeds.len(), 1);
    assert!(std::fs::read_to_string(&path).unwrap().starts_with(&tricky));
    // A list written under an anchor or a tag is not one this extends.
    let tagged = "indicators: []\nfeeds: !!seq\n  - id: a\n    url: https://a.example/\n";
    std::fs::write(&path, tagged).unwrap();
    let error = add_to_file(&path, &[new_feed("x", "https://x.example/", None)]).unwrap_err();
    assert!(error.to_string().contains("block list"), "{error}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), tagged);
    // A rules file past the daemon's limit (here a valid one, padded with comments) is
    // refused as the daemon refuses it, before it is read whole; it stays as it was.
    let padded = format!("{RULES}{}", "# padding\n".repeat((16 << 20) / 10 + 1));
    std::fs::write(&path, &padded).unwrap();
    let error = add_to_file(&path, &[new_feed("x", "https://x.example/", None)]).unwrap_err();
    assert!(error.to_string().contains("longer than 16 MiB"), "{error}");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), padded.len() as u64);
}

#[test]
fn opml_outlines_become_feeds_with_their_folders_as_tags() {
    let opml = r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Subscriptions</title></head>
  <body>
    <outline text="Korea Desk">
      <outline text="Yonhap &amp; co" type="rss" xmlUrl="https://en.yna.co.kr/RSS/nk.xml" category="/Wire/Asia,Daily"/>
      <outline text="Nested">
        <outline title="NK News" text="ignored" xmlUrl="https://www.nknews.org/feed/"/>
      </outline>
    </outline>
    <outline text="북한 뉴스" xmlUrl="https://www.yna.co.kr/rss/northkorea.xml"/>
    <outline text="A folder with no feeds"/>
  </body>
</opml>"#;
    let feeds = read_opml(opml.as_bytes(), Path::new("subs.opml")).unwrap();
    assert_eq!(
        feeds,
        [
            OpmlFeed {
                url: "https://en.yna.co.kr/RSS/nk.xml".to_owned(),
                title: Some("Yonhap & co".to_owned()),
                tags: vec![
                    "korea-desk".into(),
                    "wire".into(),
                    "asia".into(),
                    "daily".into()
                ],
            },
            OpmlFeed {
                url: "https://www.nknews.org/feed/".to_owned(),
                title: Some("NK News".to_owned()),
                tags: vec!["korea-desk".into(), "nested".into()],
            },
            OpmlFeed {
                url: "https://www.yna.co.kr/rss/northkorea.xml".to_owned(),
                title: Some("북한 뉴스".to_owned()),
                tags: vec![],
            },
        ]
    );
}

#[test]
fn hostile_opml_is_refused_with_its_place() {
    let path = Path::new("evil.opml");
    let deep = format!(
        "<opml>{}{}</opml>",
        "<outline text=\"x\">".repeat(100_000),
        "</outline>".repeat(100_000)
    );
    assert!(matches!(
        read_opml(deep.as_bytes(), path),
        Err(FeedListError::TooDeep { .. })
    ));
    let many = format!(
        "<opml><body>{}</body></opml>",
        "<outline xmlUrl=\"https://a.example/\"/>".repeat(MAX_OPML_FEEDS + 1)
    );
    assert!(matches!(
        read_opml(many.as_bytes(), path),
        Err(FeedListError::TooMany { .. })
    ));
    let huge = vec![b' '; MAX_OPML_BYTES + 1];
    assert!(matches!(
        read_opml(&huge, path),
        Err(FeedListError::TooLarge { .. })
    ));
    // An entity defined in a DTD is never expanded: the attribute is an error, not a bomb.
    let bomb = "<!DOCTYPE opml [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>\
                <opml><body><outline text=\"&b;\" xmlUrl=\"https://a.example/\"/></body></opml>";
    let error = read_opml(bomb.as_bytes(), path).unwrap_err().to_string();
    assert!(error.starts_with("evil.opml, byte "), "{error}");
    let broken = "<opml><body><outline xmlUrl=\"https://a.example/\"></body></opml>";
    assert!(
        read_opml(broken.as_bytes(), path)
            .unwrap_err()
            .to_string()
            .starts_with("evil.opml")
    );
    let not_opml = "<rss><channel/></rss>";
    assert!(matches!(
        read_opml(not_opml.as_bytes(), path),
        Err(FeedListError::NotOpml { .. })
    ));
    let latin1 =
        b"<opml><body><outline text=\"caf\xe9\" xmlUrl=\"https://a.example/\"/></body></opml>";
    assert!(matches!(
        read_opml(latin1, path),
        Err(FeedListError::NotOpml { .. })
    ));
}

#[test]
fn ids_come_from_titles_else_addresses_and_never_clash() {
    let taken: HashSet<String> = ["nk-news".to_owned(), "nk-news-2".to_owned()].into();
    assert_eq!(
        feed_id_for(Some("NK News"), "https://www.nknews.org/feed/", &taken),
        "nk-news-3"
    );
    assert_eq!(
        feed_id_for(Some("The Diplomat"), "https://x.example/", &taken),
        "the-diplomat"
    );
    assert_eq!(
        feed_id_for(
            Some("연합뉴스 북한"),
            "https://www.yna.co.kr/rss/northkorea.xml",
            &taken
        ),
        "yna-co-rss-northkorea"
    );
    assert_eq!(
        feed_id_for(None, "https://www.38north.org/feed/", &taken),
        "38north"
    );
    let long = "word ".repeat(40);
    assert!(feed_id_for(Some(&long), "https://x.example/", &taken).len() <= MAX_ID_BYTES);
}

#[test]
fn exported_opml_reads_back_as_the_same_feeds() {
    let loaded = Indicators::parse(RULES, Path::new("indicators.yaml")).unwrap();
    let opml = write_opml(
        &loaded.feeds,
        "watchfloor <feeds> & more",
        chrono::Utc::now(),
    );
    let read = read_opml(opml.as_bytes(), Path::new("out.opml")).unwrap();
    assert_eq!(read.len(), loaded.feeds.len());
    for (feed, back) in loaded.feeds.iter().zip(&read) {
        assert_eq!(back.url, feed.url);
        assert_eq!(
            back.title.as_deref(),
            Some(feed.title.as_deref().unwrap_or(&feed.id))
        );
        assert_eq!(back.tags, feed.tags);
    }
}
