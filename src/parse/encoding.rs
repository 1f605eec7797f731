//! Bytes to text: which encoding a feed is in, and decoding it to UTF-8 once.
//!
//! The order, first match wins:
//! 1. a byte order mark (UTF-8, UTF-16LE, UTF-16BE), or the BOM-less UTF-16 pattern `<\0?\0`;
//! 2. the XML declaration's `encoding` (the publisher wrote it next to the bytes);
//! 3. the HTTP `charset` of the content type (servers often default it to a wrong value,
//!    which is why it comes after the declaration); for an XML media type (`text/xml`,
//!    `application/xml`, `*+xml`) RFC 7303 gives it precedence, so it replaces a declared
//!    encoding the bytes are not valid in, when they are valid in it;
//! 4. UTF-8, if the bytes are valid UTF-8 (the XML and JSON default);
//! 5. detection with `chardetng`, hinted by the feed URL's top-level domain.
//!
//! A label naming UTF-16 on bytes that are ASCII-compatible (the declaration could be read, so
//! they are) is taken as UTF-8, as browsers do. A label the Encoding Standard maps to its
//! "replacement" encoding (ISO-2022-KR and friends) or does not know is ignored. A declared
//! encoding wins even when the bytes contain sequences invalid in it: those become U+FFFD.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

/// Where the encoding came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Bom,
    XmlDeclaration,
    HttpCharset,
    ValidUtf8,
    Detected,
}

/// A document decoded to UTF-8.
#[derive(Debug)]
pub struct Decoded<'a> {
    /// The text, without byte order mark; borrowed when the input was valid UTF-8 already.
    pub text: Cow<'a, str>,
    pub encoding: &'static Encoding,
    pub source: Source,
    /// Some bytes were not valid in the encoding (they became U+FFFD).
    pub had_errors: bool,
}

/// How far into the document the XML declaration is looked for. A declaration is short; this
/// leaves room for leading blank lines.
const DECLARATION_WINDOW: usize = 1024;

/// Decodes `bytes` to UTF-8. `tld` is the feed URL's top-level domain in lowercase ASCII (a
/// hint for detection only).
pub fn decode<'a>(bytes: &'a [u8], content_type: Option<&str>, tld: Option<&str>) -> Decoded<'a> {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        return with(encoding, &bytes[bom_len..], Source::Bom);
    }
    if bytes.starts_with(b"<\0?\0") {
        return with(UTF_16LE, bytes, Source::Bom);
    }
    if bytes.starts_with(b"\0<\0?") {
        return with(UTF_16BE, bytes, Source::Bom);
    }
    if let Some(encoding) = declared_encoding(bytes).and_then(ascii_compatible) {
        let declared = with(encoding, bytes, Source::XmlDeclaration);
        // RFC 7303 gives an XML media type's charset precedence over the declaration. Servers
        // default that charset wrongly more often than publishers misdeclare, so the
        // declaration is kept while the bytes are valid in it, and the HTTP charset is tried
        // only when they are not (and taken only when they are valid in it).
        if declared.had_errors
            && let Some(http) = content_type
                .filter(|t| is_xml_media_type(t))
                .and_then(http_charset)
                .and_then(Encoding::for_label)
                .and_then(ascii_compatible)
                .filter(|http| *http != encoding)
        {
            let (text, had_errors) = http.decode_without_bom_handling(bytes);
            if !had_errors {
                return Decoded {
                    text,
                    encoding: http,
                    source: Source::HttpCharset,
                    had_errors,
                };
            }
        }
        return declared;
    }
    if let Some(encoding) = content_type
        .and_then(http_charset)
        .and_then(Encoding::for_label)
        .and_then(ascii_compatible)
    {
        return with(encoding, bytes, Source::HttpCharset);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Decoded {
            text: Cow::Borrowed(text),
            encoding: UTF_8,
            source: Source::ValidUtf8,
            had_errors: false,
        };
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let tld = tld.filter(|t| usable_tld(t)).map(str::as_bytes);
    let encoding = detector.guess(tld, chardetng::Utf8Detection::Deny);
    with(encoding, bytes, Source::Detected)
}

fn with<'a>(encoding: &'static Encoding, bytes: &'a [u8], source: Source) -> Decoded<'a> {
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    Decoded {
        text,
        encoding,
        source,
        had_errors,
    }
}

/// `text/xml`, `application/xml` and every `+xml` type: the media types RFC 7303 covers.
fn is_xml_media_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("text/xml")
        || essence.eq_ignore_ascii_case("application/xml")
        || essence
            .get(essence.len().saturating_sub(4)..)
            .is_some_and(|tail| tail.eq_ignore_ascii_case("+xml"))
}

/// The encoding to use for a label found in ASCII-compatible bytes, if any.
fn ascii_compatible(encoding: &'static Encoding) -> Option<&'static Encoding> {
    if encoding == UTF_16LE || encoding == UTF_16BE {
        Some(UTF_8)
    } else if encoding == encoding_rs::REPLACEMENT {
        None
    } else {
        Some(encoding)
    }
}

/// chardetng panics on a TLD with a period, upper case or non-ASCII: pass only a clean label.
fn usable_tld(tld: &str) -> bool {
    !tld.is_empty()
        && tld
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The encoding named by the XML declaration at the start of `bytes` (after any whitespace).
pub fn declared_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let window = &bytes[..bytes.len().min(DECLARATION_WINDOW)];
    let start = window.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &window[start..];
    if !rest.starts_with(b"<?xml") || !rest.get(5).is_some_and(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let end = find(rest, b"?>")?;
    let value = pseudo_attribute(&rest[5..end], b"encoding")?;
    Encoding::for_label(value)
}

/// The value of `name="value"` (or single quotes) in an XML declaration's body.
fn pseudo_attribute<'a>(body: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut at = 0;
    while let Some(found) = find(&body[at..], name) {
        let after = at + found + name.len();
        let preceded_by_space = at + found == 0 || body[at + found - 1].is_ascii_whitespace();
        let rest = trim_start(&body[after..]);
        if preceded_by_space && let Some(rest) = rest.strip_prefix(b"=") {
            let rest = trim_start(rest);
            let quote = *rest.first()?;
            if quote == b'"' || quote == b'\'' {
                let len = rest[1..].iter().position(|&b| b == quote)?;
                return Some(&rest[1..1 + len]);
            }
            return None;
        }
        at = after;
    }
    None
}

/// The `charset` parameter of a content type such as `text/xml; charset="windows-1251"`.
pub fn http_charset(content_type: &str) -> Option<&[u8]> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches(['"', '\'']).trim();
        (!value.is_empty()).then_some(value.as_bytes())
    })
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let skip = bytes.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &bytes[skip..]
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(bytes: &[u8], content_type: Option<&str>) -> (String, &'static str, Source) {
        let d = decode(bytes, content_type, None);
        (d.text.into_owned(), d.encoding.name(), d.source)
    }

    #[test]
    fn encodings_are_chosen_in_documented_order() {
        // (bytes, content type, expected text, encoding, source)
        let koi8_decl =
            b"<?xml version=\"1.0\" encoding=\"koi8-r\"?><t>\xf0\xd2\xc9\xd7\xc5\xd4</t>";
        type Case<'a> = (&'a [u8], Option<&'a str>, &'a str, &'a str, Source);
        let cases: &[Case] = &[
            (
                b"\xef\xbb\xbf<t>\xc3\xa9</t>",
                None,
                "<t>é</t>",
                "UTF-8",
                Source::Bom,
            ),
            (
                b"\xff\xfe<\0t\0>\0\xe9\0<\0/\0t\0>\0",
                None,
                "<t>é</t>",
                "UTF-16LE",
                Source::Bom,
            ),
            (
                b"\xfe\xff\0<\0t\0>\0\xe9",
                Some("text/xml; charset=iso-8859-1"),
                "<t>é",
                "UTF-16BE",
                Source::Bom,
            ),
            (b"<\0?\0x\0m\0l\0", None, "<?xml", "UTF-16LE", Source::Bom),
            // The declaration beats the HTTP charset.
            (
                koi8_decl,
                Some("text/xml; charset=utf-8"),
                "<?xml version=\"1.0\" encoding=\"koi8-r\"?><t>Привет</t>",
                "KOI8-R",
                Source::XmlDeclaration,
            ),
            (
                b"\n\n  <?xml version='1.0' encoding='ISO-8859-1' ?><t>\xe9</t>",
                None,
                "\n\n  <?xml version='1.0' encoding='ISO-8859-1' ?><t>é</t>",
                "windows-1252",
                Source::XmlDeclaration,
            ),
            (
                b"<?xml version=\"1.0\" encoding=\"windows-1251\"?>\xcf\xf0\xe8",
                None,
                "<?xml version=\"1.0\" encoding=\"windows-1251\"?>При",
                "windows-1251",
                Source::XmlDeclaration,
            ),
            (
                b"<?xml version=\"1.0\" encoding=\"EUC-KR\"?>\xb3\xe2",
                None,
                "<?xml version=\"1.0\" encoding=\"EUC-KR\"?>년",
                "EUC-KR",
                Source::XmlDeclaration,
            ),
            (
                b"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>\x93\xfa\x96\x7b",
                None,
                "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>日本",
                "Shift_JIS",
                Source::XmlDeclaration,
            ),
            (
                b"<?xml version=\"1.0\" encoding=\"gb2312\"?>\xd6\xd0\xce\xc4",
                None,
                "<?xml version=\"1.0\" encoding=\"gb2312\"?>中文",
                "GBK",
                Source::XmlDeclaration,
            ),
            // UTF-16 named on ASCII bytes: read as UTF-8.
            (
                b"<?xml version=\"1.0\" encoding=\"utf-16\"?><t>\xc3\xa9</t>",
                None,
                "<?xml version=\"1.0\" encoding=\"utf-16\"?><t>é</t>",
                "UTF-8",
                Source::XmlDeclaration,
            ),
            // An unknown label is ignored; the HTTP charset is next.
            (
                b"<?xml version=\"1.0\" encoding=\"x-bogus\"?><t>\xe9</t>",
                Some("application/rss+xml; charset=\"ISO-8859-1\""),
                "<?xml version=\"1.0\" encoding=\"x-bogus\"?><t>é</t>",
                "windows-1252",
                Source::HttpCharset,
            ),
            (
                b"<t>\xcf\xf0\xe8</t>",
                Some("text/xml;charset=windows-1251"),
                "<t>При</t>",
                "windows-1251",
                Source::HttpCharset,
            ),
            // The replacement encoding would turn the whole feed into one U+FFFD.
            (
                b"<t>\xc3\xa9</t>",
                Some("text/xml; charset=iso-2022-kr"),
                "<t>é</t>",
                "UTF-8",
                Source::ValidUtf8,
            ),
            (
                b"<t>\xc3\xa9</t>",
                None,
                "<t>é</t>",
                "UTF-8",
                Source::ValidUtf8,
            ),
            (
                b"<t>\xc3\xa9</t>",
                Some("text/xml"),
                "<t>é</t>",
                "UTF-8",
                Source::ValidUtf8,
            ),
        ];
        for (bytes, content_type, text, encoding, source) in cases {
            assert_eq!(
                decoded(bytes, *content_type),
                ((*text).to_owned(), *encoding, *source),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn an_xml_media_types_charset_wins_when_the_declaration_is_wrong_for_the_bytes() {
        // Declared UTF-8, written in windows-1251, served as text/xml; charset=windows-1251.
        let bytes = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><t>\xcf\xf0\xe8</t>";
        let (text, encoding, source) =
            decoded(bytes, Some("application/rss+xml; charset=windows-1251"));
        assert_eq!(
            (text.as_str(), encoding, source),
            (
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><t>При</t>",
                "windows-1251",
                Source::HttpCharset
            )
        );
        // Not an XML media type: the declaration stands, bad bytes and all.
        let (_, encoding, source) = decoded(bytes, Some("text/html; charset=windows-1251"));
        assert_eq!((encoding, source), ("UTF-8", Source::XmlDeclaration));
        // Bytes invalid in the HTTP charset too: the declaration stands.
        let bad_both = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><t>\xff\xfe</t>";
        let (_, encoding, source) = decoded(bad_both, Some("text/xml; charset=shift_jis"));
        assert_eq!((encoding, source), ("UTF-8", Source::XmlDeclaration));
    }

    #[test]
    fn undeclared_legacy_encodings_are_detected() {
        let cyrillic = "<rss><channel><item><title>Правительство обсудило меры поддержки \
                        малого бизнеса в регионах</title></item></channel></rss>";
        let korean = "<rss><channel><item><title>정부는 다음 달부터 청년 주거 지원 예산을 \
                      늘리기로 했다고 밝혔다</title></item></channel></rss>";
        let french = "<rss><channel><item><title>Les élèves ont été très attentifs à \
                      la leçon de géographie</title></item></channel></rss>";
        for (text, encoding) in [
            (cyrillic, encoding_rs::WINDOWS_1251),
            (cyrillic, encoding_rs::KOI8_R),
            (korean, encoding_rs::EUC_KR),
            (french, encoding_rs::WINDOWS_1252),
        ] {
            let (bytes, _, unmappable) = encoding.encode(text);
            assert!(!unmappable);
            let d = decode(&bytes, None, None);
            assert_eq!(d.source, Source::Detected, "{}", encoding.name());
            assert_eq!(d.text, text, "{}", encoding.name());
        }
    }

    #[test]
    fn a_bad_tld_hint_is_ignored_not_a_panic() {
        for tld in ["", "RU", "co.uk", "рф", "[::1]"] {
            let d = decode(b"<t>\xcf\xf0\xe8\xe2\xe5\xf2</t>", None, Some(tld));
            assert_eq!(d.source, Source::Detected);
        }
        let d = decode(b"<t>\xcf\xf0\xe8\xe2\xe5\xf2</t>", None, Some("ru"));
        assert_eq!(d.text, "<t>Привет</t>");
    }

    #[test]
    fn charset_parameters_are_read_leniently() {
        let cases: &[(&str, Option<&[u8]>)] = &[
            ("text/xml; charset=utf-8", Some(b"utf-8")),
            ("text/xml;CHARSET = \"KOI8-R\" ", Some(b"KOI8-R")),
            ("application/rss+xml; q=1; charset='gbk'", Some(b"gbk")),
            ("text/xml; charset=", None),
            ("text/xml", None),
            ("charset=utf-8", None),
        ];
        for (content_type, expected) in cases {
            assert_eq!(http_charset(content_type), *expected, "{content_type}");
        }
    }

    #[test]
    fn declarations_are_read_only_where_they_can_be() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (
                b"<?xml version=\"1.0\" encoding=\"koi8-r\"?>",
                Some("KOI8-R"),
            ),
            (b"<?xml encoding = 'koi8-r' ?>", Some("KOI8-R")),
            (b"<?xml version=\"1.0\" myencoding=\"koi8-r\"?>", None),
            (b"<?xml version=\"1.0\"?>", None),
            (b"<?xml-stylesheet encoding=\"koi8-r\"?>", None),
            (b"<?xml version=\"1.0\" encoding=\"koi8-r\"", None),
            (b"<?xml version=\"1.0\" encoding=koi8-r?>", None),
            (b"<rss><?xml version=\"1.0\" encoding=\"koi8-r\"?>", None),
        ];
        for (bytes, expected) in cases {
            assert_eq!(
                declared_encoding(bytes).map(Encoding::name),
                *expected,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}
