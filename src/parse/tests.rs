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
    // Read whole, then cut to an item's limit.
    assert_eq!(item.summary.len(), ItemLimits::SUMMARY_BYTES);
    assert!(long.starts_with(&item.summary));

    // 100,000 items.
    let items: String = (0..100_000)
        .map(|n| format!("<item><guid>{n}</guid><title>t{n}</title></item>"))
        .collect();
    let feed = parse(&rss_items(&items)).unwrap();
    assert_eq!(feed.items.len(), repair::MAX_ENTRIES);
    assert_eq!(feed.items[9_999].key, "guid:9999");

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

// Parse fidelity: one regression test per family of losses found against feedparser's suite
// (tests/parse_conformance.rs runs the suite itself).

fn atom_entry(entry: &str) -> String {
    format!(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>W</title><entry>{entry}</entry></feed>"
    )
}

#[test]
fn unescaped_markup_in_titles_and_descriptions_keeps_all_its_text() {
    let item = only_item(&rss_items(
        "<item><title>Breaking: <b>North Korea</b> launches satellite</title>\
         <description><p>Launch from <a href=\"/s\">Sohae</a> &amp; more</p><p>Korea&#146;s second</p></description></item>",
    ));
    assert_eq!(item.title, "Breaking: North Korea launches satellite");
    assert_eq!(item.summary, "Launch from Sohae & more\nKorea’s second");
    let item = only_item(&atom_entry(
        "<id>1</id><title>Example <b>Atom</b></title><summary type=\"html\"><p>Naked</p> html</summary>",
    ));
    assert_eq!(
        (item.title.as_str(), item.summary.as_str()),
        ("Example Atom", "Naked\nhtml")
    );
    // Markup quoted in CDATA is left as it was; a CDATA section inside naked markup is text.
    let item = only_item(&rss_items(
        "<item><title><![CDATA[<i>Quoted</i> title]]></title>\
         <description><p>a <![CDATA[x < y]]></p></description></item>",
    ));
    assert_eq!(
        (item.title.as_str(), item.summary.as_str()),
        ("Quoted title", "a x < y")
    );
}

#[test]
fn one_odd_type_attribute_does_not_refuse_the_feed() {
    let entries = [
        (
            "<title type=\"text/plain\">History of the &lt;blink&gt; tag</title>",
            "History of the <blink> tag",
        ),
        ("<title type=\"\">Empty type</title>", "Empty type"),
        ("<title type=\"TEXT\">Upper case</title>", "Upper case"),
        (
            "<title type=\"application/xhtml+xml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">X<b>html</b></div></title>",
            "Xhtml",
        ),
        (
            "<title type=\"text/html\" mode=\"escaped\">&lt;b&gt;Escaped&lt;/b&gt;</title>",
            "Escaped",
        ),
        (
            "<title type=\"application/octet-stream\">RXhhbXBsZSA8Yj5BdG9tPC9iPg==</title>",
            "Example Atom",
        ),
        (
            "<title mode=\"base64\" type=\"text/html\">RXhhbXBsZSA8Yj5BdG9tPC9iPg</title>",
            "Example Atom",
        ),
        ("<title type=\"image/png\">not base64 at all!</title>", ""),
        (
            "<title type=\"application/xhtml+xml\" mode=\"xml\"><div>Mode <i>xml</i></div></title>",
            "Mode xml",
        ),
    ];
    for (title, expected) in entries {
        let text = format!(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><id>bad</id>{title}</entry>\
             <entry><id>good</id><title>Sibling</title></entry></feed>"
        );
        let feed = parse(&text).unwrap_or_else(|e| panic!("{title}: {e}"));
        assert_eq!(feed.items.len(), 2, "{title}");
        assert_eq!(feed.items[0].title, expected, "{title}");
        assert_eq!(feed.items[1].title, "Sibling", "{title}");
    }
    // Content with an odd type, and base64 content.
    let item = only_item(&atom_entry(
        "<id>1</id><content type=\"application/xhtml+xml\" mode=\"xml\"><div>safe <b>text</b></div></content>",
    ));
    assert_eq!(item.content, "safe text");
}

#[test]
fn an_rss_guid_is_the_link_unless_it_says_it_is_not_a_permalink() {
    let item = only_item(&rss_items(
        "<item><guid>https://news.example.org/story?utm_source=x</guid></item>",
    ));
    assert_eq!(item.link.as_deref(), Some("https://news.example.org/story"));
    let item = only_item(&rss_items(
        "<item><guid isPermaLink=\"true\">https://news.example.org/a</guid><title>t</title></item>",
    ));
    assert_eq!(item.link.as_deref(), Some("https://news.example.org/a"));
    let item = only_item(&rss_items(
        "<item><guid isPermaLink=\"false\">https://news.example.org/a</guid><title>t</title></item>",
    ));
    assert_eq!(item.link, None);
    // A link, when there is one, wins; a guid that is no URL is no link.
    let item = only_item(&rss_items(
        "<item><guid>https://news.example.org/guid</guid><link>https://news.example.org/link</link></item>",
    ));
    assert_eq!(item.link.as_deref(), Some("https://news.example.org/link"));
    let item = only_item(&rss_items(
        "<item><guid>urn:uuid:1234</guid><title>t</title></item>",
    ));
    assert_eq!(item.link, None);
}

#[test]
fn more_date_forms_are_read_and_none_is_read_wrongly() {
    let item = only_item(&rss_items(
        "<item><title>t</title><pubDate>26 January 2004 16:31:00 ET</pubDate></item>",
    ));
    assert_eq!(
        item.published.map(|t| t.to_rfc3339()).as_deref(),
        Some("2004-01-26T21:31:00+00:00")
    );
    let item = only_item(&rss_items(
        "<item><title>t</title><pubDate>soon</pubDate></item>",
    ));
    assert_eq!(item.published, None);
    let item = only_item(&rss_items(
        "<item xmlns:dcterms=\"http://purl.org/dc/terms/\"><title>t</title>\
         <dcterms:issued>2003-12-31T10:14:55Z</dcterms:issued><dcterms:modified>2004-01-01 10:00:00</dcterms:modified></item>",
    ));
    assert_eq!(item.published.map(|t| t.timestamp()), Some(1_072_865_695));
    assert_eq!(item.updated.map(|t| t.timestamp()), Some(1_072_951_200));
}

#[test]
fn references_128_to_159_are_windows_1252_and_double_encoding_is_undone() {
    let item = only_item(&rss_items(
        "<item><title>Korea&#146;s &#147;launch&#148; &#128;5</title>\
         <description>&amp;#150; dash &#129;</description></item>",
    ));
    assert_eq!(item.title, "Korea’s “launch” €5");
    assert_eq!(item.summary, "– dash");
    // UTF-8 read as windows-1252 and encoded again.
    let item = only_item(&rss_items(
        "<item><title>It\u{e2}\u{20ac}\u{2122}s here \u{e2}\u{20ac}\u{a6}</title></item>",
    ));
    assert_eq!(item.title, "It’s here …");
    // Latin-1 languages are not "repaired".
    let item = only_item(&rss_items(
        "<item><title>Les élèves à l’école — été</title></item>",
    ));
    assert_eq!(item.title, "Les élèves à l’école — été");
}

#[test]
fn categories_come_from_dublin_core_media_rss_and_itunes() {
    let item = only_item(&rss_items(
        "<item xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:media=\"http://search.yahoo.com/mrss/\" \
         xmlns:itunes=\"http://www.itunes.com/DTDs/Podcast-1.0.dtd\">\
         <title>t</title><category>Plain</category><dc:subject>Subject</dc:subject>\
         <media:category scheme=\"x\">Media</media:category>\
         <itunes:category text=\"Technology\"><itunes:category text=\"Gadgets\"/></itunes:category></item>",
    ));
    assert_eq!(
        item.categories,
        ["Plain", "Subject", "Media", "Technology", "Gadgets"]
    );
}

#[test]
fn media_group_descriptions_body_fullitem_and_dc_fields_are_read() {
    let youtube = "<feed xmlns=\"http://www.w3.org/2005/Atom\" xmlns:media=\"http://search.yahoo.com/mrss/\">\
        <entry><id>yt:1</id><title>Video</title><media:group><media:title>Video</media:title>\
        <media:description>What the video shows</media:description></media:group></entry></feed>";
    assert_eq!(only_item(youtube).summary, "What the video shows");
    let item = only_item(&rss_items(
        "<item><title>t</title><body xmlns=\"http://www.w3.org/1999/xhtml\"><p>Body <b>text</b></p></body></item>",
    ));
    assert_eq!(item.content, "Body text");
    let item = only_item(&rss_items(
        "<item><title>t</title><fullitem>&lt;p&gt;Full item&lt;/p&gt;</fullitem></item>",
    ));
    assert_eq!(item.content, "Full item");
    let item = only_item(&rss_items(
        "<item xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>DC title</dc:title>\
         <dc:description>DC <i>description</i></dc:description><dc:author>Ana (ana@example.org)</dc:author></item>",
    ));
    assert_eq!(
        (
            item.title.as_str(),
            item.summary.as_str(),
            item.authors.as_slice()
        ),
        ("DC title", "DC description", &["Ana".to_owned()][..])
    );
}

#[test]
fn userland_rss_and_rdf_items_without_a_link_give_items() {
    for root in [
        "<rss version=\"2.0\" xmlns=\"http://backend.userland.com/rss2\">",
        "<rss version=\"2.0\" xmlns=\"http://blogs.law.harvard.edu/tech/rss\">",
    ] {
        let text = format!(
            "{root}<channel><title>c</title><item><title>In a namespace</title></item></channel></rss>"
        );
        let feed = parse(&text).unwrap();
        assert_eq!(feed.items.len(), 1, "{root}");
        assert!(feed.warnings.is_empty(), "{root}");
    }
    let prefixed = "<r:rss version=\"2.0\" xmlns:r=\"http://backend.userland.com/rss2\"><r:channel>\
        <r:item><r:title>Prefixed</r:title></r:item></r:channel></r:rss>";
    assert_eq!(only_item(prefixed).title, "Prefixed");
    let rdf = "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\">\
        <channel rdf:about=\"https://news.example.org/\"><title>c</title></channel>\
        <item rdf:about=\"https://news.example.org/1\"><title>No link</title></item>\
        <item rdf:about=\"https://news.example.org/2\"><title>Linked</title><link>https://news.example.org/two</link></item>\
        </rdf:RDF>";
    let feed = parse(rdf).unwrap();
    assert_eq!(feed.items.len(), 2);
    assert_eq!(feed.items[0].key, "guid:https://news.example.org/1");
    assert_eq!(
        feed.items[0].link.as_deref(),
        Some("https://news.example.org/1")
    );
    // An item with a link keeps the key it always had.
    assert_eq!(feed.items[1].key, "link:https://news.example.org/two");
    assert!(feed.warnings.is_empty());
    // Items straight under <rss>, with no <channel>.
    assert_eq!(
        only_item("<rss><item><title>No channel</title></item></rss>").title,
        "No channel"
    );
}

#[test]
fn a_document_with_entries_that_gives_no_items_says_so() {
    // RSS in a namespace no reader knows: feed-rs reads no item of it.
    let text = "<rss version=\"2.0\" xmlns=\"http://example.org/not-rss\"><channel><title>c</title>\
        <item><title>a</title></item><item><title>b</title></item></channel></rss>";
    let feed = parse(text).unwrap();
    assert!(feed.items.is_empty());
    assert_eq!(feed.warnings, [ParseWarning::NoItems { found: 2 }]);
    assert_eq!(feed.warnings[0].kind(), "no_items");
    // A feed that is empty today is not a warning.
    assert!(parse(&rss_items("")).unwrap().warnings.is_empty());
    // Item tags quoted in CDATA or in escaped markup are not entries.
    let quoted = rss_items(
        "<item><title>t</title><description><![CDATA[<item>x</item>]]> &lt;item&gt;</description></item>",
    );
    assert!(parse(&quoted).unwrap().warnings.is_empty());
}

#[test]
fn a_bare_ampersand_does_not_refuse_the_feed() {
    let item = only_item(&rss_items(
        "<item><title>Q&A: sanctions</title><link>https://news.example.org/?a=1&b=2</link></item>",
    ));
    assert_eq!(item.title, "Q&A: sanctions");
    assert_eq!(
        item.link.as_deref(),
        Some("https://news.example.org/?a=1&b=2")
    );
    // A document broken otherwise keeps its own error and place.
    let error = parse(&rss_items("<item><title>a & b</title></item></broken>")).unwrap_err();
    assert!(
        matches!(error, ParseError::Invalid { line: Some(_), .. }),
        "{error}"
    );
}

#[test]
fn hostile_repairs_stay_linear() {
    let started = Instant::now();
    // Many unclosed text elements: each end tag is searched for once.
    let unclosed = rss_items(&"<item><title>a".repeat(100_000));
    let _ = parse(&unclosed);
    // Many elements with naked markup, and deep naked markup in one.
    let naked: String = (0..50_000)
        .map(|n| format!("<item><guid>{n}</guid><title>a <b>{n}</b></title></item>"))
        .collect();
    let feed = parse(&rss_items(&naked)).unwrap();
    assert_eq!(feed.items.len(), repair::MAX_ENTRIES);
    assert_eq!(feed.items[9_999].title, "a 9999");
    let deep = format!("{}x{}", "<b>".repeat(60_000), "</b>".repeat(60_000));
    assert_eq!(
        only_item(&rss_items(&format!("<item><title>{deep}</title></item>"))).title,
        "x"
    );
    // Base64 of a large body, and many odd types.
    let big = "QUJD".repeat(2_000_000);
    let item = only_item(&atom_entry(&format!(
        "<id>1</id><content type=\"application/octet-stream\">{big}</content>"
    )));
    assert_eq!(item.content.len(), ItemLimits::CONTENT_BYTES);
    assert!(item.content.starts_with("ABCABC"));
    let odd: String = (0..20_000)
        .map(|n| format!("<entry><id>{n}</id><title type=\"text/plain\" mode=\"escaped\">t{n}</title></entry>"))
        .collect();
    let feed = parse(&format!(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\">{odd}</feed>"
    ))
    .unwrap();
    assert_eq!(feed.items.len(), repair::MAX_ENTRIES);
    // Many bare ampersands and CDATA sections in a broken document.
    let ampersands = rss_items(&format!(
        "<item><title>{}</title></item>",
        "&<![CDATA[&]]>".repeat(200_000)
    ));
    let _ = parse(&ampersands);
    // Many extras.
    let extras: String = (0..20_000)
        .map(|n| format!("<item><guid>{n}</guid><dc:subject>s{n}</dc:subject></item>"))
        .collect();
    let text = format!(
        "<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel>{extras}</channel></rss>"
    );
    let feed = parse(&text).unwrap();
    assert_eq!(feed.items[9_999].categories, ["s9999"]);
    // Debug builds are slow; quadratic work on these sizes would take minutes.
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
}

#[test]
fn an_item_is_cut_to_its_limits_and_the_cut_is_reported() {
    // 200,000 categories, half of them repeats, and 1,000 authors: the first distinct ones
    // are kept, up to the limits, and the search for repeats stays within them.
    let mut categories = String::new();
    for n in 0..200_000 {
        categories.push_str(&format!("<category>c{}</category>", n % 100_000));
    }
    let mut authors = String::new();
    for n in 0..1_000 {
        authors.push_str(&format!("<dc:creator>Author {n}</dc:creator>"));
    }
    // Content of about a megabyte, in a script of three-byte characters: the cut falls on a
    // character boundary.
    let content = "北朝鮮 ".repeat(100_000);
    let text = format!(
        "<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>c</title>\
         <item><title>{}</title><guid>{}</guid><description>{content}</description>{categories}{authors}</item>\
         <item><title>small</title><guid>small</guid></item></channel></rss>",
        "Launch ".repeat(1_000),
        "g".repeat(5_000),
    );
    let feed = parse(&text).unwrap();
    assert_eq!(feed.items.len(), 2);
    let item = &feed.items[0];
    assert_eq!(item.categories.len(), ItemLimits::CATEGORIES);
    assert_eq!(item.categories[0], "c0");
    assert_eq!(item.categories[63], "c63");
    assert!(
        item.authors.len() <= ItemLimits::AUTHORS,
        "{}",
        item.authors.len()
    );
    assert!(item.title.len() <= ItemLimits::TITLE_BYTES);
    assert!(item.title.starts_with("Launch Launch"));
    assert!(item.summary.len() <= ItemLimits::SUMMARY_BYTES);
    assert!(item.summary.len() > ItemLimits::SUMMARY_BYTES - 4);
    assert!(item.summary.starts_with("北朝鮮 "));
    // An id of 5,000 bytes keys the item by its hash: the same at every poll.
    assert!(item.key.starts_with("guid-sha256:"), "{}", item.key);
    assert_eq!(parse(&text).unwrap().items[0].key, item.key);
    assert_eq!(feed.items[1].key, "guid:small");
    assert_eq!(feed.warnings, [ParseWarning::ItemsCut { items: 1 }]);
    assert_eq!(feed.warnings[0].kind(), "items_cut");
    assert!(feed.warnings[0].to_string().starts_with("1 item cut"));
    // An item within the limits is not reported.
    assert!(
        parse(&rss_items("<item><title>t</title></item>"))
            .unwrap()
            .warnings
            .is_empty()
    );
}

#[test]
fn a_document_gives_at_most_its_limit_of_entries_and_says_how_many_it_left() {
    let limit = repair::MAX_ENTRIES;
    let rss: String = (0..limit + 2_500)
        .map(|n| format!("<item><guid>k{n}</guid><title>Entry {n}</title></item>"))
        .collect();
    let atom: String = (0..limit + 7)
        .map(|n| format!("<entry><id>urn:e{n}</id><title>Entry {n}</title></entry>"))
        .collect();
    let rdf: String = (0..limit + 1)
        .map(|n| {
            format!(
                "<item rdf:about=\"https://news.example.org/{n}\"><title>Entry {n}</title></item>"
            )
        })
        .collect();
    let json: Vec<String> = (0..limit + 3)
        .map(|n| format!("{{\"id\": \"k{n}\", \"title\": \"Entry {n}\"}}"))
        .collect();
    let documents = [
        (rss_items(&rss), 2_500),
        (
            format!(
                "{{\"version\": \"https://jsonfeed.org/version/1.1\", \"title\": \"j\", \"items\": [{}]}}",
                json.join(",")
            ),
            3,
        ),
        (
            format!("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>f</title>{atom}</feed>"),
            7,
        ),
        (
            format!(
                "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" \
                 xmlns=\"http://purl.org/rss/1.0/\"><channel><title>c</title></channel>{rdf}</rdf:RDF>"
            ),
            1,
        ),
    ];
    for (text, cut) in documents {
        let feed = parse(&text).unwrap();
        assert_eq!(feed.items.len(), limit);
        assert_eq!(feed.items[0].title, "Entry 0");
        assert_eq!(feed.items[limit - 1].title, format!("Entry {}", limit - 1));
        assert_eq!(
            feed.warnings,
            [ParseWarning::TooManyEntries { kept: limit, cut }]
        );
        assert_eq!(feed.warnings[0].kind(), "too_many_entries");
    }
    // The limit itself is no cut.
    let exact: String = (0..limit)
        .map(|n| format!("<item><guid>k{n}</guid></item>"))
        .collect();
    let feed = parse(&rss_items(&exact)).unwrap();
    assert_eq!(feed.items.len(), limit);
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
}

#[test]
fn feedburner_items_take_their_original_link() {
    let feedburner = "xmlns:feedburner=\"http://rssnamespace.org/feedburner/ext/1.0\"";
    let item = only_item(&format!(
        "<rss version=\"2.0\" {feedburner}><channel><title>W</title><item><title>t</title>\
         <link>http://feedproxy.google.com/~r/World/~3/kTeeGj4FnwU/</link>\
         <feedburner:origLink>https://news.example.org/2026/05/launch?utm_source=feedburner</feedburner:origLink>\
         </item></channel></rss>"
    ));
    assert_eq!(
        item.link.as_deref(),
        Some("https://news.example.org/2026/05/launch")
    );
    // Atom too; and an origLink that is no web address leaves the entry's own link.
    let item = only_item(&format!(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\" {feedburner}><title>W</title><entry><id>1</id>\
         <link href=\"http://feedproxy.google.com/~r/World/~3/x/\"/>\
         <feedburner:origLink>javascript:alert(1)</feedburner:origLink></entry></feed>"
    ));
    assert_eq!(
        item.link.as_deref(),
        Some("http://feedproxy.google.com/~r/World/~3/x/")
    );
    // Under a prefix bound to another namespace, the element is not FeedBurner's.
    let item = only_item(
        "<rss version=\"2.0\" xmlns:feedburner=\"urn:other\"><channel><title>W</title><item>\
         <link>https://news.example.org/a</link>\
         <feedburner:origLink>https://elsewhere.example/b</feedburner:origLink></item></channel></rss>",
    );
    assert_eq!(item.link.as_deref(), Some("https://news.example.org/a"));
}

#[test]
fn a_google_alert_and_the_outlets_own_item_share_one_link() {
    let alert = only_item(&atom_entry(
        "<id>tag:google.com,2013:googlealerts/feed:1</id><title>t</title>\
         <link href=\"https://www.google.com/url?rct=j&amp;sa=t&amp;url=https://news.example.org/launch%3Fid%3D7&amp;ct=ga&amp;usg=AFQ\"/>",
    ));
    let direct = only_item(&rss_items(
        "<item><title>t</title><link>https://news.example.org/launch?id=7&amp;utm_source=rss</link></item>",
    ));
    assert_eq!(
        alert.link.as_deref(),
        Some("https://news.example.org/launch?id=7")
    );
    assert_eq!(alert.link, direct.link);
}

/// One key is one stored item: an entry repeating an earlier entry's id with other text is
/// left out, with a warning; one repeating it word for word is left out without one. A
/// repeated link keys entries without ids the same way; distinct ids sharing a link stay two.
#[test]
fn entries_repeating_an_earlier_key_give_the_first_item_only() {
    let mut feed = parse(&rss_items(
        "<item><guid>g1</guid><title>Satellite launched from Sohae</title></item>\
         <item><guid>g2</guid><title>Talks resume</title></item>\
         <item><guid>g1</guid><title>Weekend weather</title></item>\
         <item><guid>g2</guid><title>Talks resume</title></item>\
         <item><link>https://news.example.org/a</link><title>First words</title></item>\
         <item><link>https://news.example.org/a</link><title>Other words</title></item>\
         <item><guid>g3</guid><link>https://news.example.org/b</link><title>B one</title></item>\
         <item><guid>g4</guid><link>https://news.example.org/b</link><title>B two</title></item>",
    ))
    .expect("parses");
    // The parse gives every entry; one item a key is the pipeline's rule.
    assert_eq!(feed.items.len(), 8);
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
    feed.keep_first_of_each_key();
    let titles: Vec<&str> = feed.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Satellite launched from Sohae",
            "Talks resume",
            "First words",
            "B one",
            "B two"
        ]
    );
    assert_eq!(feed.warnings, [ParseWarning::RepeatedKeys { items: 2 }]);
    assert_eq!(
        feed.warnings[0].to_string(),
        "2 entries give the id (or link) of an earlier entry with other text: the first of \
         each kept"
    );

    // Only word-for-word repeats: nothing lost, nothing to say.
    let mut feed = parse(&rss_items(
        "<item><guid>g1</guid><title>Same</title></item>\
         <item><guid>g1</guid><title>Same</title></item>",
    ))
    .expect("parses");
    feed.keep_first_of_each_key();
    assert_eq!(feed.items.len(), 1);
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
}

/// Ten thousand entries under one id, the most a document gives: the first stays, each
/// other one is counted (a look-up each, in a map of the keys seen).
#[test]
fn a_document_of_one_repeated_key_gives_its_first_entry() {
    let entries: String = (0..10_000)
        .map(|i| format!("<item><guid>same</guid><title>Version {i}</title></item>"))
        .collect();
    let mut feed = parse(&rss_items(&entries)).expect("parses");
    feed.keep_first_of_each_key();
    assert_eq!(feed.items.len(), 1);
    assert_eq!(feed.items[0].title, "Version 0");
    assert_eq!(feed.warnings, [ParseWarning::RepeatedKeys { items: 9_999 }]);
}
