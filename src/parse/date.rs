//! Entry dates, read as feed-rs reads them, without its cost on the dates feeds usually write.
//!
//! feed-rs's own timestamp parser rewrites every date with up to eight regular-expression
//! substitutions, each allocating a new string, before it asks chrono; on the feed corpus that
//! was about a twelfth of the parse stage. Almost every feed writes a date that chrono reads
//! as it stands (RFC 3339 or RFC 2822), and for those feed-rs's rewrites change nothing that
//! alters the instant: they turn `UTC` and `-0000` into `+0000`, drop a weekday (chrono checks
//! a weekday it is given against the date, and succeeds only when it agrees), shorten month
//! names, move a month written before the day, and repair hours (`24:`, one digit) that chrono
//! rejects. So a date chrono reads strictly is taken at once, and any other goes to feed-rs
//! itself, which reads it from a one-element document: the rare odd date gets feed-rs's
//! leniency exactly, at the cost of a small parse. `tests::agrees_with_feed_rs_on_odd_dates`
//! and the corpus test `dates_are_feed_rs_dates` hold the two to the same answers.
//!
//! What neither reads goes to [`lenient`], which knows the other forms feeds write (a space for
//! the `T`, a date without a time, asctime, US and European zone names, Korean portals' forms)
//! and gives none for anything it is not sure of.

use chrono::{DateTime, Utc};

/// The timestamp parser handed to feed-rs.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let trimmed = text.trim();
    DateTime::parse_from_rfc3339(trimmed)
        .or_else(|_| DateTime::parse_from_rfc2822(trimmed))
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| feed_rs_timestamp(trimmed))
        .or_else(|| lenient::parse(trimmed))
}

pub mod lenient;

/// The date as feed-rs's default parser reads it, from an Atom document holding only it.
pub fn feed_rs_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let document = format!(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"><updated>{}</updated></feed>",
        html_escape::encode_text(text)
    );
    feed_rs::parser::parse(document.as_bytes())
        .ok()
        .and_then(|feed| feed.updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_usual_forms_directly() {
        for (text, expected) in [
            ("2026-03-01T09:30:00Z", "2026-03-01T09:30:00+00:00"),
            ("2026-03-01T18:30:00+09:00", "2026-03-01T09:30:00+00:00"),
            (
                "  2026-03-01T09:30:00.250-05:00\n",
                "2026-03-01T14:30:00.250+00:00",
            ),
            ("Sun, 01 Mar 2026 09:30:00 GMT", "2026-03-01T09:30:00+00:00"),
            (
                "Sun, 01 Mar 2026 12:30:00 +0300",
                "2026-03-01T09:30:00+00:00",
            ),
            ("1 Mar 2026 09:30:00 -0000", "2026-03-01T09:30:00+00:00"),
        ] {
            let parsed = parse_timestamp(text).unwrap_or_else(|| panic!("{text:?}"));
            assert_eq!(parsed.to_rfc3339(), expected, "{text:?}");
        }
    }

    /// Dates chrono refuses as they stand, and dates near the edges of what it accepts: each
    /// must come out as feed-rs's default parser has it, or, where it has none, as
    /// [`lenient`] reads it.
    #[test]
    fn agrees_with_feed_rs_on_odd_dates() {
        let odd = [
            "2026-03-01T09:30:00+0900",
            "2026-03-01",
            "2026-03-01 09:30:00",
            "Sunday, 01 Mar 2026 09:30:00 GMT",
            "Mon, 01 Mar 2026 09:30:00 GMT",
            "Sun, 01 March 2026 09:30:00 +0000",
            "Sun, Mar 1 2026 09:30:00 +0000",
            "Sun, 01 Mar 2026 24:30:00 +0000",
            "Sun, 01 Mar 2026 9:30:00 +0000",
            "Sun, 01 Mar 2026 09:30:00 UTC",
            "Sun, 01 Mar 2026 09:30:00 Z",
            "01 Mar 2026 09:30:00 EST",
            "Sun, 01 Mar 2026 09:30 +0000",
            "2026/03/01 09:30",
            "yesterday",
            "",
            "<b>&amp;</b>",
        ];
        for text in odd {
            // Where feed-rs reads nothing, the lenient forms may still.
            let expected = feed_rs_timestamp(text).or_else(|| lenient::parse(text.trim()));
            assert_eq!(parse_timestamp(text), expected, "{text:?}");
        }
        // The fallback is feed-rs's own parser, not a second copy of its rules.
        assert_eq!(
            parse_timestamp("Sun, 01 March 2026 09:30:00 +0000").map(|t| t.to_rfc3339()),
            Some("2026-03-01T09:30:00+00:00".to_owned())
        );
    }
}
