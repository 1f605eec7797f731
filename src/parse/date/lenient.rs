//! Dates in the forms feeds write that neither chrono nor feed-rs reads.
//!
//! Each form is one anchored pattern; a date that matches none, names a zone not in
//! [`zone_offset`], or names a day that does not exist gives `None`. A date is never guessed:
//! a wrong instant would put an item in the wrong place of every list and digest, which is
//! worse than no date. Only the short strings of dates come here (the caller trims them), and
//! the patterns are linear-time regexes, so no input costs more than its length.

use std::sync::LazyLock;

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday,
};
use regex::Regex;

/// Longer strings are not dates.
const MAX_LEN: usize = 80;

static ISO_SPACE: LazyLock<Regex> = LazyLock::new(|| {
    // 2004-07-08 23:56:58, 2004-07-08 23:56, 2004-07-08T23:56:58 KST, with an optional zone.
    Regex::new(
        r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2}|[A-Za-z]{1,5})?$",
    )
    .expect("fixed pattern")
});
static DAY_MONTH_YEAR: LazyLock<Regex> = LazyLock::new(|| {
    // Thu, 01 Jan 2004; 26 January 2004 16:31:00 ET; Sun, 4 Jan 04 16:29 MEST.
    Regex::new(
        r"^(?:([A-Za-z]{3,9})\.?,?\s+)?(\d{1,2})[\s-]+([A-Za-z]{3,9})\.?[\s-]+(\d{2}|\d{4})(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*(Z|[+-]\d{2}:?\d{2}|[A-Za-z]{1,5})?$",
    )
    .expect("fixed pattern")
});
static MONTH_DAY_YEAR: LazyLock<Regex> = LazyLock::new(|| {
    // asctime: Sun Jan  4 16:29:06 2004, Sun Jan 4 16:29:06 PST 2004.
    Regex::new(
        r"^(?:([A-Za-z]{3,9}),?\s+)?([A-Za-z]{3,9})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+(?:([A-Za-z]{1,5})\s+)?(\d{4})$",
    )
    .expect("fixed pattern")
});
static KOREAN: LazyLock<Regex> = LazyLock::new(|| {
    // 2004-05-25 오후 11:23:17 (Nate), 2004년 05월 28일 01:31:15 (OnBlog): Korean time.
    Regex::new(
        r"^(\d{4})\s*(?:-|\.|년)\s*(\d{1,2})\s*(?:-|\.|월)\s*(\d{1,2})\s*일?\s+(?:(오전|오후)\s*)?(\d{1,2}):(\d{2})(?::(\d{2}))?$",
    )
    .expect("fixed pattern")
});

/// Reads `text` (already trimmed) if it is in one of the known forms.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    if text.len() > MAX_LEN || text.is_empty() {
        return None;
    }
    if let Some(c) = ISO_SPACE.captures(text) {
        let date = ymd(num(&c, 1)?, num(&c, 2)?, num(&c, 3)?)?;
        let time = hms(&c, 4, 5, 6)?;
        return at(date, time, c.get(7).map(|m| m.as_str()));
    }
    if let Some(c) = DAY_MONTH_YEAR.captures(text) {
        if let Some(weekday) = c.get(1)
            && weekday_of(weekday.as_str()).is_none()
        {
            return None;
        }
        let date = ymd(
            year(c.get(4)?.as_str())?,
            month(c.get(3)?.as_str())?,
            num(&c, 2)?,
        )?;
        let time = hms(&c, 5, 6, 7)?;
        return at(date, time, c.get(8).map(|m| m.as_str()));
    }
    if let Some(c) = MONTH_DAY_YEAR.captures(text) {
        if let Some(weekday) = c.get(1)
            && weekday_of(weekday.as_str()).is_none()
        {
            return None;
        }
        let date = ymd(num(&c, 8)?, month(c.get(2)?.as_str())?, num(&c, 3)?)?;
        let time = hms(&c, 4, 5, 6)?;
        return at(date, time, c.get(7).map(|m| m.as_str()));
    }
    if let Some(c) = KOREAN.captures(text) {
        let date = ymd(num(&c, 1)?, num(&c, 2)?, num(&c, 3)?)?;
        let mut hour = num(&c, 5)?;
        match c.get(4).map(|m| m.as_str()) {
            Some("오후") if (1..12).contains(&hour) => hour += 12,
            Some("오전") if hour == 12 => hour = 0,
            Some(_) if hour > 12 => return None,
            _ => {}
        }
        let minute = num(&c, 6)?;
        let second = c.get(7).map_or(Some(0), |m| m.as_str().parse().ok())?;
        let time = NaiveTime::from_hms_opt(hour, minute, second)?;
        return at(date, time, Some("KST"));
    }
    None
}

fn num(c: &regex::Captures<'_>, i: usize) -> Option<u32> {
    c.get(i)?.as_str().parse().ok()
}

fn ymd(year: u32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

/// A two-digit year as RFC 2822 reads it: 00-49 are 2000-2049, 50-99 are 1950-1999.
fn year(text: &str) -> Option<u32> {
    let value: u32 = text.parse().ok()?;
    Some(match text.len() {
        2 if value < 50 => 2000 + value,
        2 => 1900 + value,
        _ => value,
    })
}

/// The time of captures `h`, `m`, `s`; midnight when the date has none.
fn hms(c: &regex::Captures<'_>, h: usize, m: usize, s: usize) -> Option<NaiveTime> {
    match c.get(h) {
        None => Some(NaiveTime::MIN),
        Some(_) => {
            let second = c.get(s).map_or(Some(0), |v| v.as_str().parse().ok())?;
            NaiveTime::from_hms_opt(num(c, h)?, num(c, m)?, second)
        }
    }
}

fn month(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let lower = name.to_ascii_lowercase();
    let index = MONTHS.iter().position(|m| {
        lower == *m || (lower.len() >= 3 && m.starts_with(lower.as_str()))
            // "Sept" is the one four-letter abbreviation in use.
            || (lower == "sept" && *m == "september")
    })?;
    Some(index as u32 + 1)
}

fn weekday_of(name: &str) -> Option<Weekday> {
    let lower = name.to_ascii_lowercase();
    [
        ("monday", Weekday::Mon),
        ("tuesday", Weekday::Tue),
        ("wednesday", Weekday::Wed),
        ("thursday", Weekday::Thu),
        ("friday", Weekday::Fri),
        ("saturday", Weekday::Sat),
        ("sunday", Weekday::Sun),
    ]
    .iter()
    .find(|(full, _)| *full == lower || (lower.len() >= 3 && full.starts_with(lower.as_str())))
    .map(|(_, day)| *day)
}

/// The instant of a local date and time in `zone` (no zone: UTC, as feedparser and feed-rs
/// read a date without one).
fn at(date: NaiveDate, time: NaiveTime, zone: Option<&str>) -> Option<DateTime<Utc>> {
    let local = NaiveDateTime::new(date, time);
    let seconds = match zone {
        None => 0,
        Some(zone) => zone_offset(zone, local)?,
    };
    let offset = FixedOffset::east_opt(seconds)?;
    offset
        .from_local_datetime(&local)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// Seconds east of UTC for a zone name or numeric offset; None for a name not known here
/// (never a guess). US zones without S or D (`ET`) follow US daylight saving at that date.
fn zone_offset(zone: &str, local: NaiveDateTime) -> Option<i32> {
    if let Some(sign) = zone.chars().next().filter(|c| *c == '+' || *c == '-') {
        let digits: String = zone[1..].chars().filter(char::is_ascii_digit).collect();
        if digits.len() != 4 {
            return None;
        }
        let hours: i32 = digits[..2].parse().ok()?;
        let minutes: i32 = digits[2..].parse().ok()?;
        if hours > 23 || minutes > 59 {
            return None;
        }
        let seconds = hours * 3600 + minutes * 60;
        return Some(if sign == '-' { -seconds } else { seconds });
    }
    let hours = match zone.to_ascii_uppercase().as_str() {
        "Z" | "UT" | "UTC" | "GMT" => 0,
        "EST" => -5,
        "EDT" => -4,
        "CST" => -6,
        "CDT" => -5,
        "MST" => -7,
        "MDT" => -6,
        "PST" => -8,
        "PDT" => -7,
        "ET" => us_zone(-5, local),
        "CT" => us_zone(-6, local),
        "MT" => us_zone(-7, local),
        "PT" => us_zone(-8, local),
        "MET" | "CET" => 1,
        "MEST" | "CEST" | "MESZ" => 2,
        "KST" | "JST" => 9,
        _ => return None,
    };
    Some(hours * 3600)
}

/// A US zone's offset at a local time: standard, plus an hour while daylight saving time is in
/// force (from 2007: second Sunday of March to first Sunday of November; before: first Sunday
/// of April to last Sunday of October; both at 02:00 local).
fn us_zone(standard: i32, local: NaiveDateTime) -> i32 {
    let year = local.year();
    let nth_sunday = |month: u32, n: u32| {
        let first = NaiveDate::from_ymd_opt(year, month, 1).expect("a valid month");
        let to_sunday = (7 - first.weekday().num_days_from_sunday()) % 7;
        first + chrono::Days::new(u64::from(to_sunday + 7 * (n - 1)))
    };
    let last_sunday_october = {
        let last = NaiveDate::from_ymd_opt(year, 10, 31).expect("a valid day");
        last - chrono::Days::new(u64::from(last.weekday().num_days_from_sunday()))
    };
    let (start, end) = if year >= 2007 {
        (nth_sunday(3, 2), nth_sunday(11, 1))
    } else {
        (nth_sunday(4, 1), last_sunday_october)
    };
    let two = NaiveTime::from_hms_opt(2, 0, 0).expect("a valid time");
    let daylight = local >= NaiveDateTime::new(start, two) && local < NaiveDateTime::new(end, two);
    standard + i32::from(daylight)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_forms_feeds_write() {
        for (text, expected) in [
            ("2004-07-08 23:56:58", "2004-07-08T23:56:58+00:00"),
            ("2004-07-08 23:56", "2004-07-08T23:56:00+00:00"),
            ("2004-07-08 23:56:58 KST", "2004-07-08T14:56:58+00:00"),
            ("2004-07-08 23:56:58 +0200", "2004-07-08T21:56:58+00:00"),
            ("Thu, 01 Jan 2004", "2004-01-01T00:00:00+00:00"),
            ("01 Jan 2004", "2004-01-01T00:00:00+00:00"),
            ("26 January 2004 16:31:00 ET", "2004-01-26T21:31:00+00:00"),
            ("26 July 2004 16:31:00 ET", "2004-07-26T20:31:00+00:00"),
            ("Sun Jan  4 16:29:06 2004", "2004-01-04T16:29:06+00:00"),
            ("Sun Jan 4 16:29:06 PST 2004", "2004-01-05T00:29:06+00:00"),
            ("Thu, 01 Jan 04 19:48:21 MET", "2004-01-01T18:48:21+00:00"),
            (
                "Thu, 01 Jul 2004 19:48:21 MEST",
                "2004-07-01T17:48:21+00:00",
            ),
            ("2004-05-25 오후 11:23:17", "2004-05-25T14:23:17+00:00"),
            ("2004-05-25 오전 12:23:17", "2004-05-24T15:23:17+00:00"),
            ("2004년 05월 28일 01:31:15", "2004-05-27T16:31:15+00:00"),
            (
                "Tuesday, 4 Sept 2007 10:00 GMT",
                "2007-09-04T10:00:00+00:00",
            ),
        ] {
            let parsed = parse(text).unwrap_or_else(|| panic!("{text:?} not read"));
            assert_eq!(parsed.to_rfc3339(), expected, "{text:?}");
        }
    }

    #[test]
    fn gives_none_rather_than_a_guess() {
        for text in [
            "",
            "yesterday",
            "2004-02-30 10:00:00",
            "2004-07-08 25:00:00",
            "31 Febtember 2004",
            "Thu, 01 Jan 2004 19:48:21 XYZ",
            "Blursday, 01 Jan 2004",
            "2004-07-08 23:56:58 +2400",
            "2004-05-25 오후 13:23:17",
            "Sun Jan 4 16:29:06 NOWHERE 2004",
            &"1".repeat(10_000),
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }
}
