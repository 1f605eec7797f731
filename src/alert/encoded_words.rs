//! RFC 2047 encoded words (`=?utf-8?b?...?=`) in feed titles. A title that carries them would
//! go into the Subject as ASCII, untouched, and every mail client would decode it there: text
//! the hit log never showed (a line break, a bidi override, another sender's name) would appear
//! only in the inbox. So the subject is built from the decoded text, which then goes through
//! the same control and bidi stripping as any title, and lettre encodes it afresh.

use base64::Engine as _;

/// `text` with each well-formed encoded word replaced by what it encodes (whitespace between
/// two encoded words goes, as RFC 2047 says), and any `=?` left (a malformed word, or one the
/// decoding revealed) broken with a word joiner, so that no client decodes it either.
pub fn decode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, candidate) = rest.split_at(start);
        match parse_word(candidate) {
            Some((decoded, used)) => {
                // Whitespace only between two encoded words is dropped.
                if !(after_word && before.chars().all(char::is_whitespace)) {
                    out.push_str(before);
                }
                out.push_str(&decoded);
                rest = &candidate[used..];
                after_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &candidate[2..];
                after_word = false;
            }
        }
    }
    out.push_str(rest);
    out.replace("=?", "=\u{2060}?")
}

/// The encoded word at the start of `text` (`=?charset?B|Q?payload?=`), decoded, and its
/// length; None when it is not one.
fn parse_word(text: &str) -> Option<(String, usize)> {
    let inner = text.strip_prefix("=?")?;
    let (charset, inner) = inner.split_once('?')?;
    let (letter, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let payload = &inner[..end];
    // An encoded word has no spaces and is at most 75 characters; longer is not one.
    if payload.contains(char::is_whitespace) || charset.is_empty() || payload.len() > 200 {
        return None;
    }
    let bytes = match letter {
        "B" | "b" => base64::engine::general_purpose::STANDARD
            .decode(payload)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(payload))
            .ok()?,
        "Q" | "q" => decode_q(payload)?,
        _ => return None,
    };
    // `charset*language` (RFC 2231) names the language after a star.
    let label = charset.split('*').next().unwrap_or(charset);
    let encoding = encoding_rs::Encoding::for_label(label.as_bytes())?;
    let (decoded, _) = encoding.decode_without_bom_handling(&bytes);
    let used = 2 + charset.len() + 1 + letter.len() + 1 + end + 2;
    Some((decoded.into_owned(), used))
}

fn decode_q(payload: &str) -> Option<Vec<u8>> {
    let bytes = payload.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn encoded_words_are_decoded_and_what_is_left_is_inert() {
        assert_eq!(decode("plain title"), "plain title");
        assert_eq!(
            decode("=?utf-8?b?7KCV7LCw7JyE7ISx?= launch"),
            "정찰위성 launch"
        );
        assert_eq!(decode("=?ISO-8859-1?Q?Caf=E9_au_lait?="), "Café au lait");
        // Two adjacent words join; text around them stays.
        assert_eq!(decode("a =?utf-8?q?b?= =?utf-8?q?c?= d"), "a bc d");
        // A decoded line break is text now, for the subject's own control stripping.
        assert_eq!(decode("=?utf-8?q?x=0D=0ABcc:_victim?="), "x\r\nBcc: victim");
        // Malformed or unknown words are not decoded, and cannot be decoded later either.
        for raw in ["=?utf-8?x?abc?=", "=?nope?b?YQ==?=", "=?utf-8?b?abc", "=?"] {
            let out = decode(raw);
            assert!(!out.contains("=?"), "{raw} -> {out:?}");
        }
        // A word that decodes to another word leaves nothing a client would decode.
        assert!(!decode("=?utf-8?q?=3D=3Futf-8=3Fq=3Fx=3F=3D?=").contains("=?"));
    }
}
