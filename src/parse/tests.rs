//! Tests of the whole stage on small hand-made documents. Real feeds are in
//! `tests/parse_corpus.rs`.

use std::time::Instant;

use proptest::prelude::*;

use super::*;

const URL: &str = "https://news.example.org/world/rss.xml";

fn parse(text: &str) -> Result<ParsedFeed, ParseError> {
    parse_feed(text.as_bytes(), None, URL)
}

fn rss_items(items: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>World</title>{items}</channel></rss>"
    )
}

fn only_item(text: &str) -> ParsedItem {
    let shown: String = text.chars().take(300).collect();
    let mut feed = parse(text).unwrap_or_else(|e| {
        let e: String = e.to_string().chars().take(300).collect();
        panic!("{e}: {shown}")
    });
    assert_eq!(feed.items.len(), 1, "{shown}");
    feed.items.remove(0)
}

fn sha256_hex(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hash_field(&mut hasher, part);
    }
    format!("{:x}", hasher.finalize())
}

#[test]
fn keys_prefer_the_guid_then_the_link_then_a_hash() {
    let hash = format!("hash:{}", sha256_hex(&["Talks resume", "In Geneva."]));
    // (item or entry markup, expected key)
    let cases: &[(&str, &str)] = &[
        (
            "<item><guid isPermaLink=\"false\"> urn:x:1 </guid><link>/a</link><title>T</title></item>",
            "guid:urn:x:1",
        ),
        (
            "<item><guid>https://news.example.org/a#x</guid><title>T</title></item>",
            "guid:https://news.example.org/a#x",
        ),
        (
            "<item><link>/a?utm_source=rss#top</link><title>T</title></item>",
            "link:https://news.example.org/a",
        ),
        (
            "<item><guid>  </guid><link>https://News.Example.org/b</link></item>",
            "link:https://news.example.org/b",
        ),
        (
            "<item><link>mailto:desk@example.org</link><title>Talks resume</title>\
             <description>&lt;p&gt;In &lt;b&gt;Geneva&lt;/b&gt;.&lt;/p&gt;</description></item>",
            &hash,
        ),
        (
            "<item><title>Talks  resume</title><description>In Geneva.</description></item>",
            &hash,
        ),
    ];
    for (item, key) in cases {
        assert_eq!(only_item(&rss_items(item)).key, *key, "{item}");
    }

    let atom = "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>A</title>\
                <entry><id>tag:example.org,2024:1</id><title>T</title>\
                <link rel=\"self\" href=\"https://news.example.org/self\"/>\
                <link rel=\"alternate\" href=\"https://news.example.org/page\"/></entry>\
                <entry><title>T</title><link rel=\"edit\" href=\"/edit/2\"/>\
                <link href=\"/two\"/></entry></feed>";
    let feed = parse(atom).unwrap();
    assert_eq!(feed.items[0].key, "guid:tag:example.org,2024:1");
    assert_eq!(
        feed.items[0].link.as_deref(),
        Some("https://news.example.org/page")
    );
    assert_eq!(feed.items[1].key, "link:https://news.example.org/two");

    let json = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "J",
        "items": [{"id": "42", "url": "https://news.example.org/42", "content_text": "x"},
                  {"url": "/43", "content_html": "<p>y</p>"}]}"#;
    let feed = parse(json).unwrap();
    assert_eq!(feed.items[0].key, "guid:42");
    assert_eq!(feed.items[0].content, "x");
    assert_eq!(feed.items[1].key, "link:https://news.example.org/43");
    assert_eq!(feed.items[1].content, "y");
}

#[test]
fn the_content_hash_follows_every_field_and_the_key_does_not() {
    let item = |title: &str, category: &str| {
        only_item(&rss_items(&format!(
            "<item><guid>g1</guid><title>{title}</title><category>{category}</category></item>"
        )))
    };
    let a = item("Talks resume", "world");
    let same = item("Talks &lt;b&gt;resume&lt;/b&gt;", "world");
    let retitled = item("Talks resume in Geneva", "world");
    let recategorised = item("Talks resume", "europe");
    assert_eq!(a.content_hash, same.content_hash);
    assert_eq!(a.content_hash.len(), 64);
    assert_ne!(a.content_hash, retitled.content_hash);
    assert_ne!(a.content_hash, recategorised.content_hash);
    assert_eq!(a.key, retitled.key);
}

#[test]
fn fields_become_display_text() {
    let item = only_item(&rss_items(
        "<item><title>&lt;b&gt;Troops&lt;/b&gt; move &amp;amp; dig in</title>\
         <description><![CDATA[<p>Satellite images <script>x()</script>show\n\n  trenches.</p>]]></description>\
         <content:encoded xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">\
         <![CDATA[<div>Full <em>text</em></div>]]></content:encoded>\
         <author>desk@example.org (World  Desk)</author>\
         <category>Europe</category><category> Europe </category><category>Defence</category>\
         <pubDate>Tue, 10 Jun 2025 08:30:00 +0200</pubDate></item>",
    ));
    assert_eq!(item.title, "Troops move & dig in");
    assert_eq!(item.summary, "Satellite images show\ntrenches.");
    assert_eq!(item.content, "Full text");
    assert_eq!(item.categories, ["Europe", "Defence"]);
    assert_eq!(item.authors.len(), 1);
    assert!(item.authors[0].contains("World Desk"), "{:?}", item.authors);
    assert_eq!(
        item.published.map(|d| d.to_rfc3339()).as_deref(),
        Some("2025-06-10T06:30:00+00:00")
    );
}

#[test]
fn feed_title_and_ttl_are_kept() {
    let feed = parse(
        "<rss version=\"2.0\"><channel><title>World &amp;amp; Europe</title><ttl>30</ttl>\
         </channel></rss>",
    )
    .unwrap();
    assert_eq!(feed.title.as_deref(), Some("World & Europe"));
    assert_eq!(feed.ttl_minutes, Some(30));
    assert!(feed.items.is_empty());
    let feed = parse("<rss version=\"2.0\"><channel><title> </title></channel></rss>").unwrap();
    assert_eq!((feed.title, feed.ttl_minutes), (None, None));
}

#[test]
fn documents_that_are_not_feeds_say_what_they_are() {
    // (document, message)
    let cases: &[(&[u8], &str)] = &[
        (b"", "empty document (zero bytes)"),
        (b" \r\n ", "only whitespace (4 bytes), not a feed"),
        (
            b"<!DOCTYPE html>\n<html><head><title>Login</title></head></html>",
            "an HTML page (<html>), not a feed",
        ),
        (
            b"\n<head><title>Document Moved</title></head><body>here</body>",
            "an HTML page (<head>), not a feed",
        ),
        (
            b"<HTML><BODY>hi</BODY></HTML>",
            "an HTML page (<HTML>), not a feed",
        ),
        (
            b"<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0//EN\" \"x.dtd\">",
            "an HTML page (<!DOCTYPE html>), not a feed",
        ),
        (
            b"<?xml version=\"1.0\"?><opml version=\"2.0\"><body/></opml>",
            "an XML document whose root element is <opml>, not a feed",
        ),
        (
            b"<?xml version=\"1.0\"?><svg:svg xmlns:svg=\"x\"/>",
            "an XML document whose root element is <svg:svg>, not a feed",
        ),
        (
            b"Service Unavailable",
            "text starting \"Service Unavailable\", not a feed",
        ),
        (
            br#"{"version": "2", "title": "x", "items": []}"#,
            "a JSON document with version \"2\" (JSON Feed wants https://jsonfeed.org/version/1 or /1.1), not a feed",
        ),
    ];
    for (bytes, message) in cases {
        let error = parse_feed(bytes, Some("text/html"), URL).unwrap_err();
        assert_eq!(
            error.to_string(),
            *message,
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    assert!(matches!(parse_feed(b"", None, URL), Err(ParseError::Empty)));
    assert!(matches!(parse("<html/>"), Err(ParseError::NotAFeed { .. })));
}

#[test]
fn broken_feeds_are_invalid_with_a_line() {
    let text = "\n\n<?xml version=\"1.0\"?>\n<rss version=\"2.0\">\n<channel>\n\
                <item><title>a</titel></item>\n</channel></rss>";
    let error = parse(text).unwrap_err();
    let ParseError::Invalid { line, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(*line, Some(6), "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with("invalid feed at line 6, column "),
        "{message}"
    );
    assert!(message.contains("titel"), "{message}");

    let error =
        parse("{\"version\": \"https://jsonfeed.org/version/1\",\n \"items\": [}").unwrap_err();
    assert!(
        matches!(error, ParseError::Invalid { line: Some(2), .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("invalid feed at line 2, column ")
    );

    let error = parse("<?xml version=\"1.0\"?><!-- nothing else -->").unwrap_err();
    assert_eq!(error.to_string(), "invalid feed: no root element");
}

#[test]
fn leading_whitespace_and_versionless_rss_are_accepted() {
    let cases = [
        "\n\n  <?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><item><title>x</title></item></channel></rss>",
        "\u{feff}\r\n<rss version=\"2.0\"><channel><item><title>x</title></item></channel></rss>",
        "<rss><channel><item><title>x</title></item></channel></rss>",
        "<rss version=\"0.9\"><channel><item><title>x</title></item></channel></rss>",
        "<rss version='0.94' xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><item><title>x</title></item></channel></rss>",
        "<?xml version=\"1.0\"?>\n<!DOCTYPE rss PUBLIC \"-//Netscape Communications//DTD RSS 0.91//EN\" \"http://my.netscape.com/publish/formats/rss-0.91.dtd\">\n<rss version=\"0.91\"><channel><item><title>x</title></item></channel></rss>",
        "<?xml version=\"1.0\"?><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\"><channel/><item><title>x</title><link>/x</link></item></rdf:RDF>",
    ];
    for text in cases {
        assert_eq!(only_item(text).title, "x", "{text}");
    }
}

#[test]
fn declared_encodings_are_decoded_once() {
    // Title "Новости" in windows-1251, declared; feed-rs must not decode the UTF-8 again.
    let mut bytes =
        b"<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss version=\"2.0\"><channel><item><title>"
            .to_vec();
    bytes.extend_from_slice(b"\xcd\xee\xe2\xee\xf1\xf2\xe8");
    bytes.extend_from_slice(b"</title></item></channel></rss>");
    let feed = parse_feed(&bytes, Some("text/xml; charset=utf-8"), URL).unwrap();
    assert_eq!(feed.items[0].title, "Новости");

    // Undeclared, served with a charset.
    let bytes = b"<rss version=\"2.0\"><channel><item><title>\xcd\xee\xe2\xee\xf1\xf2\xe8</title></item></channel></rss>";
    let feed = parse_feed(
        bytes,
        Some("application/rss+xml; charset=windows-1251"),
        URL,
    )
    .unwrap();
    assert_eq!(feed.items[0].title, "Новости");

    // UTF-16 with a BOM and a declaration saying so.
    let text = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><rss version=\"2.0\"><channel><item><title>Война</title></item></channel></rss>";
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let feed = parse_feed(&bytes, None, URL).unwrap();
    assert_eq!(feed.items[0].title, "Война");
}

#[test]
fn invalid_utf8_becomes_replacement_characters_not_a_failure() {
    let bytes = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><item><title>a\xff\xfeb</title></item></channel></rss>";
    let feed = parse_feed(bytes, None, URL).unwrap();
    assert_eq!(feed.items[0].title, "a\u{fffd}\u{fffd}b");
}

/// feed-rs 3.0 switches its decoder on every XML declaration; past the first 64 bytes of the
/// document that is a panic. If this test fails, feed-rs has fixed it and
/// `without_declarations` can go.
#[test]
fn feed_rs_alone_panics_on_a_late_declaration() {
    let text = format!(
        "<rss version=\"2.0\"><channel>{}<?xml version=\"1.0\" encoding=\"koi8-r\"?></channel></rss>",
        " ".repeat(100)
    );
    let outcome = std::panic::catch_unwind(|| feed_rs::parser::parse(text.as_bytes()));
    assert!(outcome.is_err(), "feed-rs no longer panics: {outcome:?}");
}

#[test]
fn late_declarations_are_cut_outside_cdata_only() {
    let padding = " ".repeat(100);
    let text = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel>{padding}\
         <?xml version=\"1.0\" encoding=\"koi8-r\"?><item><title>x</title>\
         <description><![CDATA[Write <?xml version=\"1.0\"?> first]]></description></item>\
         <!-- <?xml encoding=\"utf-16\"?> --><?xml encoding=\"shift_jis\"</channel></rss>"
    );
    // The last declaration never closes: everything after it is cut, and the feed is broken.
    assert!(matches!(parse(&text), Err(ParseError::Invalid { .. })));
    let text = text.replace(
        "<?xml encoding=\"shift_jis\"",
        "<?xml encoding=\"shift_jis\"?>",
    );
    let item = only_item(&text);
    assert_eq!(item.title, "x");
    assert_eq!(item.summary, "Write first");
    assert!(
        without_declarations(&text).contains("<![CDATA[Write <?xml version=\"1.0\"?> first]]>")
    );
}

#[test]
fn an_atom_feed_inside_an_xhtml_page_is_read_leniently() {
    let text = "<?xml version=\"1.0\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0//EN\" \"x.dtd\">\n\
                <html xmlns=\"http://www.w3.org/1999/xhtml\"><body>\n\
                <feedback>no</feedback>\
                <feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Blog</title>\
                <entry><id>e1</id><title>One</title></entry></feed></body></html>";
    let feed = parse(text).unwrap();
    assert_eq!(feed.title.as_deref(), Some("Blog"));
    assert_eq!(feed.items[0].key, "guid:e1");
    // A page that only mentions <feed> is still a page.
    let page = "<html><body><script>var t = '<feed >'; var u = '</feed>';</script></body></html>";
    let error = parse(page).unwrap_err();
    assert_eq!(error.to_string(), "an HTML page (<html>), not a feed");
    // A broken feed inside a page: reported as the page.
    let page =
        "<html><body><feed xmlns=\"http://www.w3.org/2005/Atom\"><entry></feed></body></html>";
    let error = parse(page).unwrap_err();
    assert_eq!(error.to_string(), "an HTML page (<html>), not a feed");
    // Without a feed inside, the page is what it is.
    let error = parse(&text.replace("feed", "div")).unwrap_err();
    assert_eq!(error.to_string(), "an HTML page (<html>), not a feed");
}

#[test]
fn entity_declarations_are_not_expanded() {
    let mut doctype = String::from("<!DOCTYPE rss [<!ENTITY lol \"lol\">");
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
    doctype.push_str("<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>");
    let text = format!(
        "<?xml version=\"1.0\"?>{doctype}<rss version=\"2.0\"><channel>\
         <item><title>&lol9;</title><description>&xxe;</description></item></channel></rss>"
    );
    let started = Instant::now();
    let item = only_item(&text);
    assert!(started.elapsed().as_secs() < 5);
    assert!(item.title.len() < 100, "{}", item.title.len());
    assert!(!item.summary.contains("root:"), "{}", item.summary);
}

#[test]
fn hostile_sizes_stay_linear() {
    // A 10 MB single line.
    let word = "intelligence ";
    let long = word.repeat(10_000_000 / word.len());
    let item = only_item(&rss_items(&format!(
        "<item><title>long</title><description>{long}</description></item>"
    )));
    assert_eq!(item.summary.len(), long.trim_end().len());

    // 100,000 items.
    let items: String = (0..100_000)
        .map(|n| format!("<item><guid>{n}</guid><title>t{n}</title></item>"))
        .collect();
    let feed = parse(&rss_items(&items)).unwrap();
    assert_eq!(feed.items.len(), 100_000);
    assert_eq!(feed.items[99_999].key, "guid:99999");

    // Deep nesting, inside an item's content and outside any element feed-rs knows. quick-xml
    // refuses a document nested deeper than 65,535 elements, clearly.
    let too_deep = format!("{}{}", "<div>".repeat(70_000), "</div>".repeat(70_000));
    let error = parse(&rss_items(&format!("<unknown>{too_deep}</unknown>"))).unwrap_err();
    let message: String = error.to_string().chars().take(200).collect();
    assert!(
        message.contains("deeper than the supported limit"),
        "{message}"
    );
    let depth = 60_000;
    let nested = format!("{}deep{}", "<div>".repeat(depth), "</div>".repeat(depth));
    let text = rss_items(&format!(
        "<unknown>{nested}</unknown><item><title>t</title>\
         <content:encoded xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">{nested}</content:encoded>\
         <description>{nested}</description></item>"
    ));
    let item = only_item(&text);
    assert_eq!(item.title, "t");

    let atom = format!(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><id>1</id>\
         <content type=\"xhtml\">{nested}</content><summary type=\"html\">{nested}</summary></entry></feed>"
    );
    assert_eq!(parse(&atom).unwrap().items.len(), 1);

    // Many false starts of a wrapped feed, and of a declaration, in one HTML page.
    let page = format!("<html>{}></html>", "<feed x".repeat(1_000_000));
    assert!(matches!(parse(&page), Err(ParseError::NotAFeed { .. })));
    let page = format!(
        "<rss version=\"2.0\">{}<channel/></rss>",
        "<?xml <![CDATA[ ".repeat(500_000)
    );
    assert!(parse(&page).is_err());

    // Deep JSON is refused by serde_json's recursion limit, not by the stack.
    let json = format!(
        "{{\"version\": \"https://jsonfeed.org/version/1\", \"x\": {}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(matches!(parse(&json), Err(ParseError::Invalid { .. })));
}

#[test]
fn relative_links_resolve_against_the_feed_url() {
    let item = only_item(&rss_items(
        "<item><link>../story/1?ref=rss&amp;id=5&amp;utm_medium=feed</link></item>",
    ));
    assert_eq!(
        item.link.as_deref(),
        Some("https://news.example.org/story/1?id=5")
    );
    // Without a usable feed URL a relative link is no link.
    let feed = parse_feed(
        rss_items("<item><link>/story/1</link></item>").as_bytes(),
        None,
        "",
    )
    .unwrap();
    assert_eq!(feed.items[0].link, None);
}

#[test]
fn a_truncated_json_feed_keeps_the_acronym_in_its_message() {
    let error = parse_feed(
        b"{\"version\": \"https://jsonfeed.org/version/1.1\", \"items\": [",
        None,
        URL,
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("EOF while parsing"), "{error}");
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_feed(&bytes, None, URL);
    }

    #[test]
    fn mangled_feeds_never_panic(
        cut in 0usize..600,
        insert in proptest::collection::vec(any::<u8>(), 0..16),
        charset in proptest::sample::select(vec![None, Some("text/xml; charset=koi8-r"), Some("text/xml; charset=utf-16")]),
    ) {
        let text = rss_items(
            "<item><guid>1</guid><title>Война &amp; мир</title><link>/a?utm_source=x</link>\
             <description><![CDATA[<p>x</p>]]></description></item>",
        );
        let mut bytes = text.into_bytes();
        let cut = cut.min(bytes.len());
        bytes.splice(cut..cut, insert);
        let _ = parse_feed(&bytes, charset, URL);
    }
}

/// feed-rs 3.0 slices a byte before or after an e-mail address it finds in an author field,
/// which panics when that byte is inside a character ("josé.garcia@..."). If this test fails,
/// feed-rs has fixed it.
#[test]
fn feed_rs_alone_panics_on_an_address_next_to_a_non_ascii_letter() {
    let text = rss_items("<item><title>x</title><author>josé.garcia@example.com</author></item>");
    let outcome = std::panic::catch_unwind(|| feed_rs::parser::parse(text.as_bytes()));
    assert!(outcome.is_err(), "feed-rs no longer panics: {outcome:?}");
}

#[test]
fn a_feed_rs_panic_is_this_feed_s_error() {
    let text = rss_items("<item><title>x</title><author>josé.garcia@example.com</author></item>");
    match parse(&text) {
        Err(ParseError::Invalid { message, .. }) => {
            assert!(
                message.starts_with("the feed parser failed on this document ("),
                "{message}"
            );
            assert!(message.contains("char boundary"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}
