//! Links that only pass the reader on to the article: Google Alerts and Google search
//! (`google.com/url?url=…`), Google News (`news.google.com/rss/articles/…`, whose older article
//! ids carry the address inside), Bing News (`bing.com/news/apiclick.aspx?url=…`) and Bing's
//! click tracker (`bing.com/ck/a?u=a1…`).
//!
//! A story reached through one of them and straight from the outlet must get one key, or the
//! store keeps two items and the alert goes out twice. Unwrapping reads the address from the
//! link itself and never follows it over the network: following a redirect would be a fetch
//! per item, to hosts the feed chose. FeedBurner's `feedproxy.google.com` links carry nothing
//! of the article; their entries name it in `feedburner:origLink`, which the parse stage
//! prefers (see [`super::extras`]).

use url::Url;

/// How many redirectors may wrap one another (a Google link to a Bing link to the article)
/// before the link is taken as it stands.
pub const MAX_HOPS: usize = 4;

/// The address `url` passes the reader on to, when it is a known redirector's link that
/// names an `http` or `https` address; `None` for every other link.
pub fn target(url: &Url) -> Option<Url> {
    let host = url.host_str()?.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let path = url.path();
    let found = if host == "news.google.com" {
        match path {
            "/url" | "/news/url" => parameter(url, "url"),
            _ => google_news_article(path),
        }
    } else if is_google(host) && path == "/url" {
        parameter(url, "url").or_else(|| parameter(url, "q"))
    } else if host == "bing.com" && path.eq_ignore_ascii_case("/news/apiclick.aspx") {
        parameter(url, "url")
    } else if host == "bing.com" && path == "/ck/a" {
        parameter(url, "u").and_then(|u| bing_click(&u))
    } else {
        None
    }?;
    let target = Url::parse(found.trim()).ok()?;
    (matches!(target.scheme(), "http" | "https")
        && target.host_str().is_some_and(|h| !h.is_empty()))
    .then_some(target)
}

/// `google.com`, or Google under a country's domain: `google.de`, `google.co.uk`,
/// `google.com.au`.
fn is_google(host: &str) -> bool {
    let Some(suffix) = host.strip_prefix("google.") else {
        return false;
    };
    let labels: Vec<&str> = suffix.split('.').collect();
    (1..=2).contains(&labels.len())
        && labels
            .iter()
            .all(|l| (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_lowercase()))
}

/// The first value of the query parameter `name`, percent-decoded.
fn parameter(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .filter(|value| !value.is_empty())
}

/// Bing's click tracker writes the address as `a1` and the address in URL-safe base64.
fn bing_click(value: &str) -> Option<String> {
    let encoded = value.strip_prefix("a1")?;
    String::from_utf8(url_safe_base64(encoded)?).ok()
}

/// Google News's article links (`/rss/articles/ID`, `/articles/ID`, `/__i/rss/rd/articles/ID`)
/// name the article by an id that is a URL-safe base64 protocol-buffer message. Ids made
/// before mid-2024 hold the address as a length-delimited field; newer ones hold an opaque
/// token that only Google's servers resolve, and those links stay as they are.
fn google_news_article(path: &str) -> Option<String> {
    let id = ["/rss/articles/", "/articles/", "/__i/rss/rd/articles/"]
        .iter()
        .find_map(|prefix| path.strip_prefix(prefix))?;
    let id = id.split('/').next()?;
    let message = url_safe_base64(id)?;
    address_field(&message)
}

/// The first length-delimited field of a protocol-buffer message that reads as an `http`
/// or `https` address. Reads only the top level and stops at anything it cannot read.
fn address_field(mut message: &[u8]) -> Option<String> {
    while !message.is_empty() {
        let key = varint(&mut message)?;
        match key & 7 {
            0 => {
                varint(&mut message)?;
            }
            1 => message = message.get(8..)?,
            5 => message = message.get(4..)?,
            2 => {
                let len = usize::try_from(varint(&mut message)?).ok()?;
                let field = message.get(..len)?;
                message = &message[len..];
                if field.starts_with(b"http://") || field.starts_with(b"https://") {
                    return String::from_utf8(field.to_vec()).ok();
                }
            }
            _ => return None,
        }
    }
    None
}

fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// URL-safe base64 with or without padding; redirectors write both.
fn url_safe_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const ARTICLE: &str =
        "https://www.reuters.com/world/asia-pacific/north-korea-satellite-2026-05-27/";

    fn unwrap(link: &str) -> Option<String> {
        target(&Url::parse(link).unwrap()).map(String::from)
    }

    /// An old-style Google News article id: field 1 a number, field 4 the address, then a
    /// trailing field, as Google wrote them.
    fn news_id(address: &[u8]) -> String {
        let mut message = vec![0x08, 0x13, 0x22];
        let mut len = address.len();
        while len >= 0x80 {
            message.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        message.push(len as u8);
        message.extend_from_slice(address);
        message.extend_from_slice(&[0xd2, 0x01, 0x00]);
        URL_SAFE_NO_PAD.encode(message)
    }

    #[test]
    fn each_redirector_form_gives_the_article() {
        let encoded = "https%3a%2f%2fwww.reuters.com%2fworld%2fasia-pacific%2fnorth-korea-satellite-2026-05-27%2f";
        let cases = [
            // Google Alerts
            format!("https://www.google.com/url?rct=j&sa=t&url={ARTICLE}&ct=ga&cd=CAIy&usg=AFQj"),
            // Google search results, under a country's domain
            format!("https://www.google.co.uk/url?sa=t&q={encoded}&ved=2ah"),
            format!("http://google.de/url?q={ARTICLE}"),
            // Google News: the old redirect, and article ids with the address inside
            format!("https://news.google.com/news/url?sa=t&fd=R&url={encoded}"),
            format!(
                "https://news.google.com/rss/articles/{}?oc=5",
                news_id(ARTICLE.as_bytes())
            ),
            format!(
                "https://news.google.com/articles/{}",
                news_id(ARTICLE.as_bytes())
            ),
            format!(
                "https://news.google.com/__i/rss/rd/articles/{}",
                news_id(ARTICLE.as_bytes())
            ),
            // Bing News, and Bing's click tracker
            format!(
                "http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=1&url={encoded}&c=1&mkt=en-us"
            ),
            format!(
                "https://www.bing.com/ck/a?!&&p=3f&u=a1{}&ntb=1",
                URL_SAFE_NO_PAD.encode(ARTICLE)
            ),
        ];
        for link in &cases {
            assert_eq!(unwrap(link).as_deref(), Some(ARTICLE), "{link}");
        }
    }

    #[test]
    fn links_that_only_look_like_redirects_stay() {
        let long_id = news_id(format!("https://example.com/{}", "a".repeat(300)).as_bytes());
        let kept = [
            // not a redirector
            format!("https://example.com/url?url={ARTICLE}"),
            format!("https://google.example.com/url?url={ARTICLE}"),
            format!("https://notgoogle.com/url?q={ARTICLE}"),
            // a redirector's other pages
            format!("https://www.google.com/search?q={ARTICLE}"),
            "https://news.google.com/topstories".to_owned(),
            // no address, or one that is not a web page
            "https://www.google.com/url?sa=t".to_owned(),
            "https://www.google.com/url?q=javascript:alert(1)".to_owned(),
            "https://www.google.com/url?q=file:///etc/passwd".to_owned(),
            "https://www.google.com/url?q=/relative/path".to_owned(),
            "https://www.bing.com/ck/a?u=b1aGVsbG8".to_owned(),
            "https://www.bing.com/ck/a?u=a1!!!".to_owned(),
            // Google News ids that hold no address: the newer opaque form, and garbage
            format!(
                "https://news.google.com/rss/articles/{}",
                news_id(b"AU_yqLPz4uS5s8r3")
            ),
            "https://news.google.com/rss/articles/CBMi".to_owned(),
            "https://news.google.com/rss/articles/%FF%FE".to_owned(),
            "https://news.google.com/rss/articles/////".to_owned(),
        ];
        for link in &kept {
            assert_eq!(unwrap(link), None, "{link}");
        }
        // A long address inside an id is read whole (its length is a two-byte varint).
        assert_eq!(
            unwrap(&format!("https://news.google.com/rss/articles/{long_id}")).map(|l| l.len()),
            Some("https://example.com/".len() + 300)
        );
    }

    #[test]
    fn hostile_messages_end_without_reading_past_their_end() {
        // A length that runs past the end, a varint that never ends, a group wire type.
        for message in [
            vec![0x22, 0xff, 0xff, 0x03, b'h'],
            vec![
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
            vec![0x0b, 0x00],
            vec![0x09, 0x00],
        ] {
            assert_eq!(address_field(&message), None, "{message:?}");
        }
    }
}
