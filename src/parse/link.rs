//! Canonical links: one spelling per article, so that the same story reached through a
//! newsletter, a share button or a relative `href` gets the same key.

use url::Url;

/// Links longer than this are treated as unusable: no article needs one, and the link becomes
/// part of the item's key in the store.
pub const MAX_LINK_LEN: usize = 8192;

/// Query parameters that track the reader rather than name the page. Matched without regard to
/// case; `utm_` is a prefix.
pub const TRACKING_PARAMETERS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "twclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "ref",
    "ref_src",
    "cmpid",
    "ocid",
    "ncid",
    "smid",
    "sr_share",
    "at_medium",
    "at_campaign",
    "wt_mc",
    "wt_zmc",
];

/// The canonical form of `link`, resolved against `base` when it is relative.
///
/// Absolute, `http` or `https` only, host lowercased (IDN hosts in their ASCII `xn--` form, as
/// the URL standard spells them), default port and dot segments removed, fragment removed, and
/// tracking parameters ([`TRACKING_PARAMETERS`], `utm_*`) removed while the other parameters
/// keep their order and spelling. A known redirector's link (Google Alerts, Google News, Bing
/// News: [`super::redirect`]) is first replaced by the address it passes the reader on to.
/// `None` when the link is empty, unparsable, relative without a
/// usable base, of another scheme (`mailto:`, `javascript:`, `ftp:`), or over [`MAX_LINK_LEN`].
pub fn canonical_link(link: &str, base: Option<&str>) -> Option<String> {
    let base = base.and_then(|b| Url::parse(b.trim()).ok());
    canonical_link_against(link, base.as_ref())
}

/// As [`canonical_link`], with the base already parsed: a feed's entries share one base, and
/// parsing it again for every link cost as much as parsing the link.
pub fn canonical_link_against(link: &str, base: Option<&Url>) -> Option<String> {
    let link = link.trim();
    if link.is_empty() || link.len() > MAX_LINK_LEN {
        return None;
    }
    let mut url = match base {
        Some(base) => base.join(link).ok()?,
        None => Url::parse(link).ok()?,
    };
    for _ in 0..super::redirect::MAX_HOPS {
        match super::redirect::target(&url) {
            Some(target) => url = target,
            None => break,
        }
    }
    canonical_url(url)
}

fn canonical_url(mut url: Url) -> Option<String> {
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return None;
    }
    url.set_fragment(None);
    if let Some(query) = url.query() {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| !pair.is_empty() && !is_tracking(pair))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            let kept = kept.join("&");
            url.set_query(Some(&kept));
        }
    }
    let url = String::from(url);
    (url.len() <= MAX_LINK_LEN).then_some(url)
}

fn is_tracking(pair: &str) -> bool {
    let name = pair.split_once('=').map_or(pair, |(name, _)| name);
    let lowercase = name.to_ascii_lowercase();
    lowercase.starts_with("utm_") || TRACKING_PARAMETERS.contains(&lowercase.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_canonicalised() {
        let base = Some("https://news.example.org/feeds/world.xml");
        // (link, base, expected)
        let cases: &[(&str, Option<&str>, Option<&str>)] = &[
            ("https://example.com/a", None, Some("https://example.com/a")),
            (
                "  https://example.com/a\n",
                None,
                Some("https://example.com/a"),
            ),
            // tracking parameters
            (
                "https://example.com/a?utm_source=rss&utm_medium=feed&id=7",
                None,
                Some("https://example.com/a?id=7"),
            ),
            (
                "https://example.com/a?UTM_Campaign=x&fbclid=abc&gclid=1&mc_cid=2&mc_eid=3",
                None,
                Some("https://example.com/a"),
            ),
            (
                "https://example.com/a?b=2&ref=rss&a=1&cmpid=x&ocid=y",
                None,
                Some("https://example.com/a?b=2&a=1"),
            ),
            // kept parameters keep their spelling; empty pairs go
            (
                "https://example.com/s?q=a+b&&x=%C3%A9&utm_term=z",
                None,
                Some("https://example.com/s?q=a+b&x=%C3%A9"),
            ),
            (
                "https://example.com/a?",
                None,
                Some("https://example.com/a"),
            ),
            // a parameter that only starts like a tracking one stays
            (
                "https://example.com/a?referrer=x&utmost=1",
                None,
                Some("https://example.com/a?referrer=x&utmost=1"),
            ),
            // fragments
            (
                "https://example.com/a#comments",
                None,
                Some("https://example.com/a"),
            ),
            (
                "https://example.com/a?id=1&utm_source=x#top",
                None,
                Some("https://example.com/a?id=1"),
            ),
            // host lowercased, default port and dot segments removed
            (
                "HTTP://News.Example.COM:80/a/../b/./c",
                None,
                Some("http://news.example.com/b/c"),
            ),
            (
                "https://example.com:8443/a",
                None,
                Some("https://example.com:8443/a"),
            ),
            // relative links
            ("/story/1", base, Some("https://news.example.org/story/1")),
            (
                "story/1?utm_source=x",
                base,
                Some("https://news.example.org/feeds/story/1"),
            ),
            ("../story/1", base, Some("https://news.example.org/story/1")),
            (
                "//cdn.example.net/x",
                base,
                Some("https://cdn.example.net/x"),
            ),
            (
                "?page=2",
                base,
                Some("https://news.example.org/feeds/world.xml?page=2"),
            ),
            (
                "https://other.example/x",
                base,
                Some("https://other.example/x"),
            ),
            ("/story/1", None, None),
            ("/story/1", Some("not a url"), None),
            // schemes other than http and https
            ("mailto:desk@example.com", None, None),
            ("javascript:alert(1)", base, None),
            ("ftp://example.com/file", None, None),
            ("data:text/html,hi", None, None),
            ("file:///etc/passwd", None, None),
            ("/x", Some("file:///tmp/feed.xml"), None),
            // IDN hosts: the ASCII form
            (
                "https://Bücher.example/книги",
                None,
                Some("https://xn--bcher-kva.example/%D0%BA%D0%BD%D0%B8%D0%B3%D0%B8"),
            ),
            (
                "http://пример.рф/",
                None,
                Some("http://xn--e1afmkfd.xn--p1ai/"),
            ),
            (
                "http://xn--e1afmkfd.xn--p1ai/",
                None,
                Some("http://xn--e1afmkfd.xn--p1ai/"),
            ),
            // unusable
            ("", base, None),
            ("   ", None, None),
            ("http://", None, None),
            ("https://exa mple.com/", None, None),
        ];
        for (link, base, expected) in cases {
            assert_eq!(
                canonical_link(link, *base).as_deref(),
                *expected,
                "{link:?} against {base:?}"
            );
        }
    }

    #[test]
    fn overlong_links_are_unusable() {
        let long = format!("https://example.com/{}", "a".repeat(MAX_LINK_LEN));
        assert_eq!(canonical_link(&long, None), None);
        let fits = format!("https://example.com/{}", "a".repeat(100));
        assert_eq!(canonical_link(&fits, None), Some(fits));
    }
}
