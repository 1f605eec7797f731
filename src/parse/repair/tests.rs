use super::*;

fn repaired(text: &str, format: Format) -> String {
    repair(text, format).text.into_owned()
}

#[test]
fn documents_without_anything_to_repair_are_borrowed() {
    let rss = "<rss><channel><item><title>Plain &amp; simple</title>\
               <description><![CDATA[<p>quoted <b>markup</b></p>]]></description></item></channel></rss>";
    let result = repair(rss, Format::Rss);
    assert!(matches!(result.text, Cow::Borrowed(_)));
    assert_eq!(result.entries, 1);
    let atom = "<feed><entry><title type=\"html\">&lt;b&gt;x&lt;/b&gt;</title>\
                <content type=\"xhtml\"><div><p>kept</p></div></content><summary>s</summary></entry></feed>";
    assert!(matches!(repair(atom, Format::Atom).text, Cow::Borrowed(_)));
}

#[test]
fn naked_markup_is_escaped_once_and_quoted_markup_is_left_alone() {
    assert_eq!(
        repaired(
            "<item><title>a <b>b</b> &amp; c</title></item>",
            Format::Rss
        ),
        "<item><title>a &lt;b&gt;b&lt;/b&gt; &amp;amp; c</title></item>"
    );
    // An end tag quoted in CDATA is text, not the element's end.
    let cdata = "<item><description><p>x</p><![CDATA[</description>]]></description></item>";
    assert_eq!(
        repaired(cdata, Format::Rss),
        "<item><description>&lt;p&gt;x&lt;/p&gt;&amp;lt;/description&amp;gt;</description></item>"
    );
    // Start tags inside CDATA sections and comments are not elements.
    let quoted = "<!-- <title>a <b>b</b></title> --><x><![CDATA[<title>a <b>b</b></title>]]></x>";
    assert_eq!(repaired(quoted, Format::Rss), quoted);
    // Longer names that start like a text element's are other elements.
    let other = "<item><titles><b>x</b></titles><content:encoded><p>y</p></content:encoded></item>";
    assert_eq!(repaired(other, Format::Rss), other);
}

#[test]
fn atom_types_become_what_feed_rs_reads() {
    let cases = [
        (
            "<title type=\"text/plain\">a</title>",
            "<title type=\"text\">a</title>",
        ),
        (
            "<title type=\"\">a</title>",
            "<title type=\"text\">a</title>",
        ),
        (
            "<title type='application/xhtml+xml' xml:lang=\"en\"><div>a</div></title>",
            "<title xml:lang=\"en\" type=\"xhtml\"><div>a</div></title>",
        ),
        (
            "<content mode=\"xml\" type=\"text/html\"><div>a</div></content>",
            "<content type=\"xhtml\"><div>a</div></content>",
        ),
        (
            "<summary mode=\"escaped\">&lt;b&gt;</summary>",
            "<summary type=\"text\">&lt;b&gt;</summary>",
        ),
        (
            "<summary type=\"text/html\" mode=\"escaped\">&lt;b&gt;</summary>",
            "<summary type=\"html\">&lt;b&gt;</summary>",
        ),
        (
            "<title mode=\"base64\" type=\"text/html\">PGI+YTwvYj4=</title>",
            "<title type=\"html\">&lt;b&gt;a&lt;/b&gt;</title>",
        ),
        (
            "<title type=\"application/octet-stream\">!!!</title>",
            "<title type=\"html\"></title>",
        ),
        // src content is feed-rs's to read as it is.
        (
            "<content type=\"video/mp4\" src=\"https://x/v.mp4\"/>",
            "<content type=\"video/mp4\" src=\"https://x/v.mp4\"/>",
        ),
        (
            "<link rel=\"alternate\">https://x/a?b=1&amp;c=\"2\"</link>",
            "<link rel=\"alternate\" href=\"https://x/a?b=1&amp;c=&quot;2&quot;\">https://x/a?b=1&amp;c=\"2\"</link>",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(repaired(input, Format::Atom), expected, "{input}");
    }
}

#[test]
fn rdf_items_get_a_placeholder_link_and_their_about() {
    let rdf = "<item rdf:about=\"https://x/1?a=1&amp;b=2\"><title>t</title></item><item/><item about='y'></item>";
    let result = repair(rdf, Format::Rdf);
    assert_eq!(result.entries, 2);
    assert_eq!(
        result.rdf_about,
        [Some("https://x/1?a=1&b=2".to_owned()), Some("y".to_owned())]
    );
    assert_eq!(
        result.text,
        format!(
            "<item rdf:about=\"https://x/1?a=1&amp;b=2\"><link>{RDF_PLACEHOLDER}</link><title>t</title></item>\
             <item/><item about='y'><link>{RDF_PLACEHOLDER}</link></item>"
        )
    );
}

#[test]
fn bare_ampersands_are_escaped_outside_cdata_and_comments_only() {
    assert_eq!(
        escape_bare_ampersands(
            "a & b &amp; &#38; &#x26; &nbsp; &; &#; &x y; <![CDATA[&]]> <!-- & -->"
        )
        .as_deref(),
        Some(
            "a &amp; b &amp; &#38; &#x26; &nbsp; &amp;; &amp;#; &amp;x y; <![CDATA[&]]> <!-- & -->"
        )
    );
    assert_eq!(escape_bare_ampersands("&amp; <![CDATA[& unclosed"), None);
}

#[test]
fn attributes_are_read_with_either_quote_and_any_spacing() {
    let attributes = " a=\"1\"  b = '2' c=\"x > y\" bare d='4'/";
    assert_eq!(attribute(attributes, "a"), Some("1"));
    assert_eq!(attribute(attributes, "b"), Some("2"));
    assert_eq!(attribute(attributes, "c"), Some("x > y"));
    assert_eq!(attribute(attributes, "d"), Some("4"));
    assert_eq!(attribute(attributes, "bare"), None);
    assert_eq!(attribute(" a=unquoted", "a"), None);
    assert_eq!(
        without_attributes(" type=\"x\" lang='en' mode=\"y\"", &["type", "mode"]),
        " lang='en'"
    );
}

#[test]
fn repetition_and_unclosed_elements_cost_linear_time() {
    let started = std::time::Instant::now();
    let unclosed = "<title>a<description>b<content><summary>".repeat(200_000);
    let _ = repair(&unclosed, Format::Atom);
    let cdata = "<title><![CDATA[x]]>".repeat(200_000) + "</title>";
    let _ = repair(&cdata, Format::Rss);
    let items = "<item rdf:about=\"x\">".repeat(200_000);
    let repaired = repair(&items, Format::Rdf);
    assert_eq!(
        (repaired.entries, repaired.cut_entries),
        (MAX_ENTRIES, 200_000 - MAX_ENTRIES)
    );
    let comments = "<!--".repeat(200_000);
    let _ = repair(&comments, Format::Rss);
    let _ = escape_bare_ampersands(&"&<!--".repeat(200_000));
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
}

#[test]
fn prefixed_entries_are_counted() {
    let text = "<r:channel><r:item><r:title>a</r:title></r:item><r:item/><x:items></x:items>\
                <a b:item=\"1\"></a></r:item><atom:entry></atom:entry></r:channel>";
    assert_eq!(prefixed_entries(text), 2);
    assert_eq!(
        prefixed_entries("<![CDATA[<r:item>]]><!-- <a:entry> -->"),
        0
    );
}
